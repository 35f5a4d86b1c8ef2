"""Libraries that need Lua scripting, against tollgate: redis-py's `register_script` (EVALSHA,
falling back to EVAL on NOSCRIPT) and `lock()` (its acquire, extend and release are scripts),
and the `limits` library (Flask-Limiter, slowapi) with its Redis storage, whose strategies
all `SCRIPT LOAD` and `EVALSHA`: the fixed window, the sliding window counter and the moving
window (its hits kept in a list: LPUSH, LINDEX, LTRIM from the script) admit exactly the limit.

Usage: python3 tests/py/test_scripting.py <port>   (run by tests/scripting.rs)
Prints OK and exits 0 when every check passes.
"""

import sys
import uuid

from harness import check, main, redis


def run(port, protocol):
    r = redis.Redis(port=port, protocol=protocol)
    r.flushall()
    r.script_flush()

    # register_script: the first call meets NOSCRIPT and falls back to EVAL.
    incr_by = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    check(incr_by(keys=["n"], args=[5]) == 5, "register_script first call")
    check(incr_by(keys=["n"], args=[2]) == 7, "register_script through EVALSHA")
    check(r.script_exists(incr_by.sha) == [True], "SCRIPT EXISTS after the call")

    # lock(): acquire, a second acquire fails, extend, release, release again fails.
    lock = r.lock("resource", timeout=10)
    check(lock.acquire(blocking=False), "lock acquired")
    other = r.lock("resource", timeout=10)
    check(not other.acquire(blocking=False), "a held lock is not acquired twice")
    check(lock.extend(5), "lock extended")
    check(r.pttl("resource") > 10_000, "extend added to the TTL")
    lock.release()
    check(r.get("resource") is None, "released")
    try:
        lock.release()
        check(False, "releasing an unlocked lock raises")
    except redis.exceptions.LockError:
        pass

    # The limits library, in the protocol redis-py is told to use.
    try:
        import limits
        from limits.storage import RedisStorage
        from limits.strategies import (
            FixedWindowRateLimiter,
            MovingWindowRateLimiter,
            SlidingWindowCounterRateLimiter,
        )
    except ImportError:
        print("the limits library is not installed: pip install limits", file=sys.stderr)
        sys.exit(2)
    storage = RedisStorage(f"redis://127.0.0.1:{port}", protocol=protocol)
    check(storage.check(), "limits storage check")
    for strategy in (FixedWindowRateLimiter, SlidingWindowCounterRateLimiter, MovingWindowRateLimiter):
        limiter = strategy(storage)
        item = limits.parse("5/minute")
        who = str(uuid.uuid4())
        got = [limiter.hit(item, who) for _ in range(8)]
        check(got == [True] * 5 + [False] * 3, f"{strategy.__name__}: {got}")
        check(not limiter.test(item, who), f"{strategy.__name__}: test at the limit")
        stats = limiter.get_window_stats(item, who)
        check(stats.remaining == 0, f"{strategy.__name__}: remaining {stats.remaining}")
        other = str(uuid.uuid4())
        check(limiter.hit(item, other), f"{strategy.__name__}: another key is apart")
        limiter.clear(item, who)
        check(limiter.hit(item, who), f"{strategy.__name__}: allowed after clear")
    r.close()


if __name__ == "__main__":
    main(run)
