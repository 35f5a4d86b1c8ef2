"""redis-py's Pub/Sub against tollgate, as an app uses it for cache invalidation between
instances: `pubsub()` with `subscribe`/`psubscribe`, `get_message`, `publish`, a handler
thread (`run_in_thread`), `pubsub_channels`/`pubsub_numsub`/`pubsub_numpat`, unsubscribing.

Usage: python3 tests/py/test_pubsub.py <port>   (run by tests/redis_py.rs)
Prints OK and exits 0 when every check passes.
"""

import threading
import time

from harness import check, main, redis


def next_message(p, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        m = p.get_message(timeout=0.2)
        if m is not None:
            return m
    raise AssertionError("no message within the timeout")


def run(port, protocol):
    r = redis.Redis(port=port, protocol=protocol)
    p = r.pubsub()
    p.subscribe("invalidate")
    check(next_message(p)["type"] == "subscribe", "subscribe confirmation")
    p.psubscribe("cache:*")
    check(next_message(p)["type"] == "psubscribe", "psubscribe confirmation")
    check(r.publish("invalidate", "user:42") == 1, "one receiver")
    m = next_message(p)
    check((m["type"], m["channel"], m["data"]) == ("message", b"invalidate", b"user:42"), repr(m))
    check(r.publish("cache:content", b"\x00bin") == 1, "pattern receiver")
    m = next_message(p)
    check((m["type"], m["pattern"], m["channel"], m["data"]) ==
          ("pmessage", b"cache:*", b"cache:content", b"\x00bin"), repr(m))
    check(r.pubsub_channels() == [b"invalidate"], repr(r.pubsub_channels()))
    check(r.pubsub_numsub("invalidate", "x") == [(b"invalidate", 1), (b"x", 0)],
          repr(r.pubsub_numsub("invalidate", "x")))
    check(r.pubsub_numpat() == 1, "numpat")

    # A handler thread, as apps run it.
    got = []
    done = threading.Event()

    def handler(message):
        got.append(message["data"])
        if len(got) == 3:
            done.set()

    p2 = r.pubsub()
    p2.subscribe(**{"events": handler})
    worker = p2.run_in_thread(sleep_time=0.05, daemon=True)
    deadline = time.time() + 5
    while r.pubsub_numsub("events")[0][1] == 0 and time.time() < deadline:
        time.sleep(0.02)
    for i in range(3):
        r.publish("events", f"e{i}")
    check(done.wait(5), f"handler got {got}")
    check(got == [b"e0", b"e1", b"e2"], repr(got))
    worker.stop()
    worker.join(timeout=5)
    p2.close()

    p.unsubscribe()
    p.punsubscribe()
    kinds = {next_message(p)["type"], next_message(p)["type"]}
    check(kinds == {"unsubscribe", "punsubscribe"}, repr(kinds))
    p.close()
    deadline = time.time() + 5
    while r.pubsub_numpat() != 0 and time.time() < deadline:
        time.sleep(0.02)
    check(r.publish("invalidate", "x") == 0, "nobody listens any more")
    r.close()


if __name__ == "__main__":
    main(run)
