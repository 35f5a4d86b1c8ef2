"""What every redis-py script in tests/py shares: the import of redis-py with a clear message
when it is missing, and `check`."""

import sys

try:
    import redis  # noqa: F401  (re-exported for the scripts)
except ImportError:
    print("redis-py is not installed: pip install redis", file=sys.stderr)
    sys.exit(2)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main(run):
    """Runs `run(port, protocol)` in RESP2 and RESP3 against the port in argv; prints OK."""
    port = int(sys.argv[1])
    for protocol in (2, 3):
        run(port, protocol)
    print("OK")
