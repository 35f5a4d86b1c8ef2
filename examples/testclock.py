"""Moving the server's clock from an example's test, so TTLs of an hour or a day are checked
without waiting: tests/examples.rs runs tollgate on a manual clock and sets
TOLLGATE_MANUAL_CLOCK=1; a script prints `ADVANCE <ms>` and reads `ADVANCED` back. Against a
server on the real clock (a script run by hand), `advance` returns False and the script skips
what needs it.
"""

import os
import sys


def advance(ms):
    if os.environ.get("TOLLGATE_MANUAL_CLOCK") != "1":
        return False
    print(f"ADVANCE {int(ms)}", flush=True)
    line = sys.stdin.readline().strip()
    if line != "ADVANCED":
        raise AssertionError(f"the test harness answered {line!r} to ADVANCE")
    return True


def skipped(what):
    print(f"skipped (the server's clock is real): {what}", file=sys.stderr)
