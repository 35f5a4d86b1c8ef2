"""redis-py against tollgate's quotas, as an app calls them with `execute_command`: under
protocol 3 a QUOTA.* reply is parsed into a dict (the windows and holds too), under protocol 2
into a flat list of alternating names and values, with the same names in the same order.
CHARGE, a DRYRUN, a replayed ID, RESERVE/SETTLE with overage, STATUS, LEDGER, PLAN, the error
classes (NOPLAN, NOHOLD, WRONGTYPE) and a MULTI/EXEC pipeline.

Usage: python3 tests/py/test_quota.py <port>   (run by tests/redis_py.rs)
Prints OK and exits 0 when every check passes.
"""

from harness import check, main, redis

OUTCOME = ["allowed", "replayed", "denied_by", "retry_after_ms", "level", "windows"]
WINDOW = ["metric", "window", "used", "reserved", "limit", "remaining", "percent", "resets_at"]


def as_map(reply, protocol, names=None):
    """A map reply as a dict with str keys, checking its shape for the protocol (a dict under
    RESP3, a flat list under RESP2) and, with `names`, its field names in order."""
    if protocol == 3:
        check(isinstance(reply, dict), f"RESP3 map reply is a dict: {reply!r}")
        pairs = list(reply.items())
    else:
        check(isinstance(reply, list) and len(reply) % 2 == 0, f"RESP2 flat list: {reply!r}")
        pairs = list(zip(reply[::2], reply[1::2]))
    out = {}
    for k, v in pairs:
        k = k.decode() if isinstance(k, bytes) else k
        out[k] = v.decode() if isinstance(v, bytes) else v
    if names is not None:
        check(list(out) == names, f"field names and order: {list(out)}")
    return out


def outcome(reply, protocol):
    o = as_map(reply, protocol, OUTCOME)
    o["windows"] = [as_map(w, protocol, WINDOW) for w in o["windows"]]
    return o


def run(port, protocol):
    r = redis.Redis(host="127.0.0.1", port=port, protocol=protocol)
    s = f"py{protocol}:user"
    q = lambda *a: outcome(r.execute_command(*a), protocol)

    raw = r.execute_command("QUOTA.CHARGE", s, "tokens", 100, "calls", 1)
    check(isinstance(raw, dict) if protocol == 3 else isinstance(raw, list), f"reply type {raw!r}")
    o = outcome(raw, protocol)
    check(o["allowed"] == 1 and o["replayed"] == 0 and o["denied_by"] is None
          and o["retry_after_ms"] == 0 and o["level"] == "ok", f"charge: {o}")
    check([(w["metric"], w["window"], w["used"], w["limit"], w["remaining"]) for w in o["windows"]]
          == [("tokens", "day", 100, 10000, 9900), ("tokens", "month", 100, 100000, 99900),
              ("calls", "hour", 1, 100, 99)], f"windows: {o['windows']}")

    # DRYRUN: would 9901 more fit? No, and nothing changes.
    d = q("QUOTA.CHARGE", s, "tokens", 9901, "DRYRUN")
    check(d["allowed"] == 0 and d["denied_by"] == "tokens/day" and d["retry_after_ms"] > 0
          and d["level"] == "exceeded", f"dry run: {d}")

    # An ID makes the charge idempotent.
    first = q("QUOTA.CHARGE", s, "tokens", 50, "ID", "req-1")
    again = q("QUOTA.CHARGE", s, "tokens", 50, "ID", "req-1")
    check(again == dict(first, replayed=1), f"replay: {first} / {again}")
    check(first["windows"][0]["used"] == 150, f"charged once: {first}")

    # A hold, settled above its estimate.
    h = q("QUOTA.RESERVE", s, "tokens", 500, "ID", "job-1", "TTL", "5m")
    check(h["allowed"] == 1 and h["windows"][0]["reserved"] == 500, f"reserve: {h}")
    st = as_map(r.execute_command("QUOTA.STATUS", s), protocol, ["plan", "level", "windows", "holds"])
    check(st["plan"] == "freemium" and len(st["holds"]) == 1, f"status: {st}")
    hold = as_map(st["holds"][0], protocol, ["id", "amounts", "expires_at"])
    check(hold["id"] == "job-1" and as_map(hold["amounts"], protocol) == {"tokens": 500}, f"hold: {hold}")
    done = q("QUOTA.SETTLE", s, "ID", "job-1", "tokens", 700)
    check(done["windows"][0]["used"] == 850 and done["windows"][0]["reserved"] == 0, f"settle: {done}")
    ledger = [as_map(e, protocol, ["id", "ts", "op", "metric", "amount"])
              for e in r.execute_command("QUOTA.LEDGER", s, "COUNT", 2)]
    check([(e["op"], e["amount"], e["id"]) for e in ledger]
          == [("overage", 200, "job-1"), ("settle", 700, "job-1")], f"ledger: {ledger}")
    r2 = q("QUOTA.REFUND", s, "ID", "job-1", "tokens", 200)
    check(r2["windows"][0]["used"] == 650, f"refund: {r2}")

    # Plans and errors.
    check(r.execute_command("QUOTA.PLAN", s) == b"freemium", "default plan")
    check(r.execute_command("QUOTA.PLAN", s, "pro_monthly") in (b"OK", "OK", True), "set plan")
    check(q("QUOTA.CHARGE", s, "tokens", 20000)["allowed"] == 1, "pro_monthly allows 20000")
    for args, prefix in [
        (("QUOTA.PLAN", s, "gold"), "NOPLAN no such plan 'gold'"),
        (("QUOTA.CANCEL", s, "ID", "nope"), "NOHOLD no hold or charge with id 'nope'"),
        (("QUOTA.CHARGE", s, "tokens", "many"), "value is not an integer or out of range"),
    ]:
        try:
            r.execute_command(*args)
            raise AssertionError(f"{args} must fail")
        except redis.ResponseError as e:
            check(str(e) == prefix, f"{args}: {e}")
    r.set(f"py{protocol}:string", "v")
    try:
        r.execute_command("QUOTA.CHARGE", f"py{protocol}:string", "tokens", 1)
        raise AssertionError("QUOTA.CHARGE on a string must fail")
    except redis.ResponseError as e:
        check(str(e).startswith("WRONGTYPE"), f"WRONGTYPE: {e}")
    check(r.type(s) == b"quota", f"TYPE {r.type(s)}")

    # MULTI/EXEC: each reply is parsed like a single command's.
    with r.pipeline() as pipe:
        for i in range(3):
            pipe.execute_command("QUOTA.CHARGE", f"py{protocol}:pipe", "calls", 40, "ID", f"p{i}")
        res = [outcome(x, protocol) for x in pipe.execute()]
    check([x["allowed"] for x in res] == [1, 1, 0], f"MULTI/EXEC of QUOTA.CHARGE: {res}")
    check(res[2]["denied_by"] == "calls/hour", f"denied by calls: {res[2]}")


if __name__ == "__main__":
    main(run)
