"""The notes app's enrichment limits as its users see them, against a real tollgate started
with examples/notes/tollgate.toml: the seed's test plan (50 a day then DAILY_QUOTA_EXCEEDED;
3 processing then CONCURRENCY_LIMIT_EXCEEDED; the same request twice charged once).

Usage: python3 examples/notes/test_notes.py <port>   (run by tests/examples.rs)
Prints OK and exits 0 when every check passes. Subjects carry a run-unique prefix.
"""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import testclock  # noqa: E402
import app as notes_app  # noqa: E402


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class FakeEnricher:
    """Deterministic tags; fails on texts containing 'boom'; counts calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, text):
        self.calls += 1
        if "boom" in text:
            raise RuntimeError("model error")
        return sorted(set(text.lower().split()))[:3]


def expect_refused(notes, user, item_id, code):
    try:
        notes.create_item(user, item_id, "text")
    except notes_app.QuotaError as e:
        check(e.code == code, f"{item_id}: {e.code}, expected {code}")
        return e
    raise AssertionError(f"creating {item_id} must be refused with {code}")


def main(port):
    enrich = FakeEnricher()
    notes = notes_app.Notes(notes_app.connect(port), enrich, prefix=f"t{uuid.uuid4().hex[:8]}")
    u = "ann"

    # Three items processing (the worker has not picked them up).
    for i in (1, 2, 3):
        item, h = notes.create_item(u, f"a{i}", f"note {i}" + (" boom" if i == 2 else ""))
        check(item["status"] == "ENRICHING", f"a{i}: {item}")
        check(h == {"X-AI-Quota-Limit": "50", "X-AI-Quota-Used": str(i),
                    "X-AI-Quota-Remaining": str(50 - i), "X-AI-Quota-Processing": str(i)},
              f"headers after a{i}: {h}")

    # The 4th is refused while 3 are processing; retrying after the hold's TTL at most.
    e = expect_refused(notes, u, "a4", "CONCURRENCY_LIMIT_EXCEEDED")
    check(0 < e.retry_after_ms <= 600_000, f"retry_after_ms {e.retry_after_ms}")

    # The client retries a1's create (a double-click): the same item, nothing charged.
    item, h = notes.create_item(u, "a1", "note 1")
    check(item is notes.items[(u, "a1")] and h["X-AI-Quota-Used"] == "3"
          and h["X-AI-Quota-Processing"] == "3", f"a1 replayed: {item} {h}")

    # The worker finishes a1: its slot frees, a4 goes in.
    done = notes.run_enrichment(u, "a1")
    check(done["status"] == "READY" and done["tags"] == ["1", "note"], f"a1 enriched: {done}")
    item, h = notes.create_item(u, "a4", "note 4")
    check(h["X-AI-Quota-Processing"] == "3" and h["X-AI-Quota-Used"] == "4", f"a4: {h}")

    # a2's enrichment fails: it is not charged.
    check(notes.run_enrichment(u, "a2")["status"] == "FAILED", "a2 failed")
    h = notes.quota_headers(u)
    check(h["X-AI-Quota-Used"] == "3" and h["X-AI-Quota-Processing"] == "2", f"after a2: {h}")
    ops = lambda item: [e["op"] for e in notes.ledger(u) if e["id"] == item]  # noqa: E731
    check(ops("a2") == ["cancel", "reserve"], f"a2 reserved then canceled: {ops('a2')}")
    check(ops("a1") == ["settle", "reserve"], f"a1 reserved once, settled once: {ops('a1')}")
    notes.run_enrichment(u, "a3")
    notes.run_enrichment(u, "a4")

    # Up to 50 a day: 3 so far (a1, a3, a4), 47 more.
    for i in range(47):
        notes.create_item(u, f"b{i}", f"bulk {i}")
        notes.run_enrichment(u, f"b{i}")
    h = notes.quota_headers(u)
    check(h == {"X-AI-Quota-Limit": "50", "X-AI-Quota-Used": "50", "X-AI-Quota-Remaining": "0",
                "X-AI-Quota-Processing": "0"}, f"50 used: {h}")
    calls = enrich.calls
    e = expect_refused(notes, u, "c1", "DAILY_QUOTA_EXCEEDED")
    now_ms = int(time.time() * 1000)
    check(0 < e.retry_after_ms <= 86_400_000 - now_ms % 86_400_000 + 5000,
          f"retry when the day (UTC) resets: {e.retry_after_ms}")
    check(enrich.calls == calls, "no model call when refused")

    # A retried create of an item enriched earlier still answers it, charging nothing.
    item, h = notes.create_item(u, "b5", "bulk 5")
    check(item["status"] == "READY" and h["X-AI-Quota-Used"] == "50", f"retry of b5: {item} {h}")

    # Other users have their own day and slots.
    item, h = notes.create_item("bob", "a1", "bob's note")
    check(h["X-AI-Quota-Used"] == "1", f"bob: {h}")

    # The ledger: each item once. Newest first, the last 100 entries (the server keeps 100).
    ledger = notes.ledger(u)
    settled = [e["id"] for e in ledger if e["op"] == "settle"]
    check(len(settled) == len(set(settled)) and len(settled) >= 47, f"settled once each: {settled}")
    check(ledger[0]["op"] == "settle" and ledger[0]["id"] == "b46", f"newest entry: {ledger[0]}")

    # Workers that die: their holds expire after HOLD_TTL and give the slots back, uncharged.
    for i in range(3):
        notes.create_item("cat", f"d{i}", "lost")
    expect_refused(notes, "cat", "d3", "CONCURRENCY_LIMIT_EXCEEDED")
    if not testclock.advance(10 * 60_000 + 1000):
        testclock.skipped("expired holds, the next day")
        print("OK")
        return
    item, h = notes.create_item("cat", "d3", "found")
    check(h["X-AI-Quota-Used"] == "1" and h["X-AI-Quota-Processing"] == "1",
          f"expired holds freed their slots and cost nothing: {h}")

    # The next day: ann's retry_after_ms was honest.
    e = expect_refused(notes, u, "c1", "DAILY_QUOTA_EXCEEDED")
    testclock.advance(e.retry_after_ms)
    item, h = notes.create_item(u, "c1", "a new day")
    check(item["status"] == "ENRICHING" and h["X-AI-Quota-Used"] == "1", f"next day: {h}")

    print("OK")


if __name__ == "__main__":
    main(int(sys.argv[1]))
