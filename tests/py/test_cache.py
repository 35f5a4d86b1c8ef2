"""redis-py against tollgate's cache, as an app calls it with `execute_command`: CACHE.SET (with
TTL, PLAN, COST, TOKENS, NX), GET, FETCH (a dict in RESP3, a flat list in RESP2: status, value),
DEL of a key, a type and a subject, STATS (the nine counters then `types`, with hit_rate and
cost_saved_usd as floats in RESP3 and strings in RESP2), binary values, the error classes
(NOTYPE, NOPLAN) and a two-thread single flight: one client fills, the other waits and gets
the value once it is set.

Usage: python3 tests/py/test_cache.py <port>   (run by tests/cache.rs)
Prints OK and exits 0 when every check passes.
"""

import threading
import time

from harness import check, main, redis

COUNTERS = ["entries", "bytes", "hits", "misses", "hit_rate", "tokens_saved", "cost_saved_usd",
            "evictions", "expired"]
TYPES = ["content", "embedding", "extraction", "query", "session", "system"]


def as_map(reply, protocol, names=None):
    """A map reply as a dict with str keys (values left as redis-py gives them), checking its
    shape for the protocol (a dict under RESP3, a flat list under RESP2) and, with `names`,
    its field names in order."""
    if protocol == 3:
        check(isinstance(reply, dict), f"RESP3 map reply is a dict: {reply!r}")
        pairs = list(reply.items())
    else:
        check(isinstance(reply, list) and len(reply) % 2 == 0, f"RESP2 flat list: {reply!r}")
        pairs = list(zip(reply[::2], reply[1::2]))
    out = {(k.decode() if isinstance(k, bytes) else k): v for k, v in pairs}
    if names is not None:
        check(list(out) == names, f"field names and order: {list(out)}")
    return out


def num(v):
    """A double as redis-py gives it: a float in RESP3, bytes in RESP2."""
    return float(v.decode()) if isinstance(v, bytes) else float(v)


def stats(r, protocol, *subject):
    s = as_map(r.execute_command("CACHE.STATS", *subject), protocol, COUNTERS + ["types"])
    types = as_map(s.pop("types"), protocol, TYPES)
    for name in TYPES:
        types[name] = as_map(types[name], protocol, COUNTERS)
    s["types"] = types
    return s


def fetch(r, protocol, *args):
    f = as_map(r.execute_command("CACHE.FETCH", *args), protocol, ["status", "value"])
    return f["status"].decode(), f["value"]


def single_flight(port, protocol, s):
    """Two clients FETCH one missing key: the first fills, the second waits (WAIT 5s) and gets
    the value the first sets."""
    a = redis.Redis(host="127.0.0.1", port=port, protocol=protocol)
    b = redis.Redis(host="127.0.0.1", port=port, protocol=protocol)
    check(fetch(a, protocol, s, "content", "sf", "LEASE", "10s") == ("fill", None), "a fills")
    got = {}

    def waiter():
        got["b"] = fetch(b, protocol, s, "content", "sf", "LEASE", "10s", "WAIT", "5s")

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.3)
    check(t.is_alive(), "b waits while a fills")
    check(a.execute_command("CACHE.SET", s, "content", "sf", b"computed") == 1, "a sets")
    t.join(10)
    check(not t.is_alive(), "b woke up")
    check(got.get("b") == ("hit", b"computed"), f"b's fetch: {got}")
    # With no WAIT, a second asker while someone fills gives up at once.
    check(fetch(a, protocol, s, "content", "sf2", "LEASE", "10s") == ("fill", None), "fill 2")
    check(fetch(b, protocol, s, "content", "sf2", "LEASE", "10s") == ("timeout", None), "timeout")


def run(port, protocol):
    r = redis.Redis(host="127.0.0.1", port=port, protocol=protocol)
    s = f"py{protocol}:user"

    check(r.execute_command("CACHE.SET", s, "content", "doc", "text", "COST", "0.02",
                            "TOKENS", 1200, "TTL", "10m") == 1, "set")
    check(r.execute_command("CACHE.SET", s, "content", "doc", "other", "NX") == 0, "set NX")
    check(r.execute_command("CACHE.GET", s, "content", "doc") == b"text", "get")
    check(r.execute_command("CACHE.GET", s, "content", "nope") is None, "get miss")
    check(fetch(r, protocol, s, "content", "doc", "LEASE", "5s") == ("hit", b"text"), "fetch hit")

    # Binary values round-trip; so does a 100 KB one.
    blob = bytes(range(256)) * 400
    for key, value in [(b"\x00k\r\n", b"\x00\xff\r\n$-1\r\n"), (b"big", blob)]:
        check(r.execute_command("CACHE.SET", s, "query", key, value) == 1, "binary set")
        check(r.execute_command("CACHE.GET", s, "query", key) == value, "binary get")

    st = stats(r, protocol, s)
    content = st["types"]["content"]
    check((content["entries"], content["hits"], content["misses"], content["tokens_saved"])
          == (1, 2, 1, 2400), f"content: {content}")
    check(abs(num(content["hit_rate"]) - 2 / 3) < 1e-12, f"hit_rate {content['hit_rate']!r}")
    check(num(content["cost_saved_usd"]) == 0.04, f"cost {content['cost_saved_usd']!r}")
    if protocol == 3:
        check(isinstance(content["hit_rate"], float), "a RESP3 double is a float")
    else:
        check(content["cost_saved_usd"] == b"0.04", "a RESP2 double is a string")
    check(st["entries"] == 3 and st["bytes"] > len(blob), f"totals: {st}")
    check(stats(r, protocol)["entries"] >= 3, "stats of everyone")

    # Errors.
    for args, message in [
        (("CACHE.SET", s, "nope", "k", "v"), "NOTYPE no such cache type 'nope'"),
        (("CACHE.SET", s, "content", "k", "v", "PLAN", "gold"), "NOPLAN no such plan 'gold'"),
        (("CACHE.GET", s, "content"), "wrong number of arguments for 'cache.get' command"),
    ]:
        try:
            r.execute_command(*args)
            check(False, f"{args} should fail")
        except redis.ResponseError as e:
            check(str(e) == message, f"{args}: {e}")

    # A plan that disables the type: not stored.
    check(r.execute_command("CACHE.SET", s, "session", "k", "v", "PLAN", "freemium") == 0, "off")

    single_flight(port, protocol, s)

    check(r.execute_command("CACHE.DEL", s, "query", b"big") == 1, "del key")
    check(r.execute_command("CACHE.DEL", s, "query") == 1, "del type")
    check(r.execute_command("CACHE.DEL", s) == 2, "del subject: doc and sf")


if __name__ == "__main__":
    main(run)
