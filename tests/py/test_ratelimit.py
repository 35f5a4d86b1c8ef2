"""redis-py against tollgate's rate limiting, as an app uses it: RL.CHECK inline and with the
config's policies (all or nothing), the reply mapped onto HTTP headers, PEEK, RL.RESET, state
under the key (TYPE, WRONGTYPE, DEL), leases, CL.THROTTLE, and 20 threads on one key admitting
exactly the limit. Both protocols: a RESP3 map comes back as a dict, a RESP2 one as a flat list.

Usage: python3 tests/py/test_ratelimit.py <port>   (run by tests/redis_py.rs)
Prints OK and exits 0 when every check passes.
"""

import threading
import time

from harness import check, main, redis


def as_map(reply):
    """A map reply (dict under RESP3, flat list under RESP2) as a dict with str keys."""
    if isinstance(reply, list):
        reply = dict(zip(reply[::2], reply[1::2]))
    out = {}
    for k, v in reply.items():
        k = k.decode() if isinstance(k, bytes) else k
        if k == "policies":
            v = [as_map(p) for p in v]
        elif isinstance(v, bytes):
            v = v.decode()
        out[k] = v
    return out


def headers(d, now_s):
    """What the seeds' middlewares send, from one RL.CHECK reply (see the README)."""
    reset_s = -(-d["reset_ms"] // 1000)
    h = {
        "RateLimit-Limit": str(d["limit"]),
        "RateLimit-Remaining": str(d["remaining"]),
        "RateLimit-Reset": str(reset_s),
        "X-RateLimit-Limit": str(d["limit"]),
        "X-RateLimit-Remaining": str(d["remaining"]),
        "X-RateLimit-Reset": str(now_s + reset_s),
    }
    if not d["allowed"] and d["retry_after_ms"] >= 0:
        h["Retry-After"] = str(-(-d["retry_after_ms"] // 1000))
    return h


def run(port, protocol):
    r = redis.Redis(host="127.0.0.1", port=port, protocol=protocol)
    p = f"py{protocol}:"
    rl = lambda *a: as_map(r.execute_command("RL.CHECK", *a))

    # Inline: 2 per 10 s counts down, then denies with a Retry-After within the period.
    first = rl(p + "inline", 2, "10s")
    check(first == {"allowed": 1, "limit": 2, "remaining": 1, "reset_ms": first["reset_ms"],
                    "retry_after_ms": 0, "policy": None}, f"first inline check: {first}")
    check(0 < first["reset_ms"] <= 5000, f"reset_ms after one of two: {first}")
    check(rl(p + "inline", 2, "10s")["remaining"] == 0, "second inline check")
    denied = rl(p + "inline", 2, "10s")
    check(denied["allowed"] == 0 and 0 < denied["retry_after_ms"] <= 5000, f"denied: {denied}")
    h = headers(denied, int(time.time()))
    check(h["RateLimit-Remaining"] == "0" and 1 <= int(h["Retry-After"]) <= 5, f"headers: {h}")
    # A denial consumed nothing, and PEEK never consumes.
    check(rl(p + "inline", 2, "10s", "PEEK")["allowed"] == 0, "PEEK while denied")

    # Named policies from the default config: auth is 5/min.
    for i in range(5):
        d = rl(p + "ip:1", "POLICY", "auth")
        check(d["allowed"] == 1 and d["remaining"] == 4 - i and d["policy"] == "auth", f"auth {i}: {d}")
    d = rl(p + "ip:1", "POLICY", "auth")
    check(d["allowed"] == 0 and d["policy"] == "auth" and d["retry_after_ms"] > 0, f"auth 6: {d}")
    try:
        r.execute_command("RL.CHECK", p + "x", "POLICY", "nope")
        raise AssertionError("an unknown policy must fail")
    except redis.ResponseError as e:
        check(str(e) == "NOPOLICY no such policy 'nope'", f"NOPOLICY text: {e}")

    # All or nothing: ai (10/min) and auth (5/min) on one key; the sixth is denied by auth and
    # ai is not charged for it.
    for _ in range(5):
        check(rl(p + "user:7", "POLICY", "ai", "POLICY", "auth")["allowed"] == 1, "ai+auth")
    d = rl(p + "user:7", "POLICY", "ai", "POLICY", "auth")
    check(d["allowed"] == 0 and d["policy"] == "auth", f"ai+auth denied: {d}")
    check([x["policy"] for x in d["policies"]] == ["ai", "auth"], f"policies: {d['policies']}")
    check([x["allowed"] for x in d["policies"]] == [1, 0], f"per-policy verdicts: {d['policies']}")
    check(rl(p + "user:7", "POLICY", "ai", "PEEK")["remaining"] == 5, "ai not charged on denial")

    # COST, BURST and a cost that can never fit.
    d = rl(p + "tokens", 100, "1m", "BURST", 10, "COST", 7)
    check(d["allowed"] == 1 and d["limit"] == 10 and d["remaining"] == 3, f"COST 7 of 10: {d}")
    d = rl(p + "tokens", 100, "1m", "BURST", 10, "COST", 11)
    check(d["allowed"] == 0 and d["retry_after_ms"] == -1, f"COST above BURST: {d}")

    # The state lives under the key.
    check(r.type(p + "ip:1") == b"ratelimit", "TYPE")
    # auth is a sliding window: whole again once the previous window no longer weighs in,
    # and the key's TTL says exactly that.
    reset = rl(p + "ip:1", "POLICY", "auth", "PEEK")["reset_ms"]
    check(0 < reset <= 120000 and abs(r.pttl(p + "ip:1") - reset) <= 50,
          f"the key expires once whole again: pttl {r.pttl(p + 'ip:1')}, reset_ms {reset}")
    try:
        r.get(p + "ip:1")
        raise AssertionError("GET on rate-limit state must fail")
    except redis.ResponseError as e:
        check(str(e).startswith("WRONGTYPE"), f"WRONGTYPE: {e}")
    check(r.execute_command("RL.RESET", p + "ip:1") == 1, "RL.RESET")
    check(rl(p + "ip:1", "POLICY", "auth")["remaining"] == 4, "fresh after RL.RESET")
    check(r.delete(p + "ip:1") == 1, "DEL resets")
    check(rl(p + "ip:1", "POLICY", "auth")["remaining"] == 4, "fresh after DEL")

    # A transactional pipeline of checks, as an app batching several limits would send.
    with r.pipeline() as pipe:
        for _ in range(3):
            pipe.execute_command("RL.CHECK", p + "pipe", 2, "1h")
        res = [as_map(x) for x in pipe.execute()]
    check([x["allowed"] for x in res] == [1, 1, 0], f"MULTI/EXEC of RL.CHECK: {res}")

    # Leases: at most 2 at once; idempotent acquire by ID; release frees the slot; expiry too.
    acq = lambda *a: as_map(r.execute_command("RL.ACQUIRE", *a))
    a = acq(p + "jobs", 2, "30s", "ID", "job-1")
    check(a == {"acquired": 1, "lease": "job-1", "in_use": 1, "max": 2, "retry_after_ms": 0}, f"acquire: {a}")
    check(acq(p + "jobs", 2, "30s", "ID", "job-1")["in_use"] == 1, "acquire by the same ID is idempotent")
    b = acq(p + "jobs", 2, "300ms")
    check(b["acquired"] == 1 and b["lease"] and b["in_use"] == 2, f"second lease: {b}")
    c = acq(p + "jobs", 2, "30s")
    check(c["acquired"] == 0 and c["lease"] is None and 0 < c["retry_after_ms"] <= 300, f"full: {c}")
    check(r.execute_command("RL.RENEW", p + "jobs", "job-1", "1m") == 1, "RL.RENEW")
    check(r.execute_command("RL.RELEASE", p + "jobs", "job-1") == 1, "RL.RELEASE")
    check(r.execute_command("RL.RELEASE", p + "jobs", "job-1") == 0, "a second RL.RELEASE")
    time.sleep(0.4)  # the 300 ms lease expires on the server's clock
    check(acq(p + "jobs", 2, "30s")["in_use"] == 1, "the expired lease freed its slot")

    # CL.THROTTLE as redis-cell users call it.
    check(r.execute_command("CL.THROTTLE", p + "user123", 15, 30, 60) == [0, 16, 15, -1, 2], "CL.THROTTLE")
    try:
        r.execute_command("CL.THROTTLE", p + "user123", 15, 0, 60)
        raise AssertionError("a zero rate must fail")
    except redis.ResponseError as e:
        check(str(e) == "Cell error: Zero rates are not supported", f"zero rate: {e}")

    # 20 threads, one connection pool, one key: exactly the burst is admitted (1000/day
    # refills one request every 86 s, longer than the test).
    pool = redis.ConnectionPool(host="127.0.0.1", port=port, protocol=protocol)
    admitted = []

    def hammer():
        c = redis.Redis(connection_pool=pool)
        n = 0
        for _ in range(25):
            n += as_map(c.execute_command("RL.CHECK", p + "hot", 1000, "1d", "BURST", 150))["allowed"]
        admitted.append(n)

    threads = [threading.Thread(target=hammer) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(sum(admitted) == 150, f"20 threads admitted {sum(admitted)} of a burst of 150")
    pool.disconnect()
    r.close()


if __name__ == "__main__":
    main(run)
