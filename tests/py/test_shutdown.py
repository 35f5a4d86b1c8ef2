"""redis-py's SHUTDOWN against tollgate: the refusals are errors redis-py raises, and
`shutdown(nosave=True)` succeeds (redis-py expects the connection to drop, with no reply);
afterwards nothing answers on the port. Runs once (the server does not come back).

Usage: python3 tests/py/test_shutdown.py <port>   (run by tests/redis_py.rs)
Prints OK and exits 0 when every check passes.
"""

import sys

from harness import check, redis
from redis.backoff import NoBackoff  # after harness: it explains a missing redis-py
from redis.retry import Retry


def refused(call, text):
    try:
        call()
    except redis.ResponseError as e:
        check(str(e) == text, f"error text: {e!r}")
        return
    raise AssertionError(f"not refused: {text}")


def main():
    port = int(sys.argv[1])
    # No retries: redis-py would reconnect, with backoff, to a server that is gone.
    once = Retry(NoBackoff(), 0)
    r = redis.Redis(host="127.0.0.1", port=port, protocol=3, retry=once)
    other = redis.Redis(host="127.0.0.1", port=port, protocol=2)
    check(r.ping() is True and other.ping() is True, "PING")
    refused(lambda: r.shutdown(abort=True), "No shutdown in progress.")
    refused(lambda: r.execute_command("SHUTDOWN", "NOW", "ABORT"), "syntax error")
    check(r.ping() is True, "still serving after the refusals")
    r.shutdown(nosave=True)
    try:
        redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=2, retry=once).ping()
        raise AssertionError("the server still answers after SHUTDOWN")
    except redis.ConnectionError:
        pass
    print("OK")


main()
