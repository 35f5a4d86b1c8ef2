"""A notes app's AI enrichment on tollgate (seed: the notes app's rate-limiting plan).

The seed planned two tables and three checks inside its "create item" transaction: count the
items ENRICHING (at most 3), increment the day's counter (at most 50), insert a ledger row
(idempotent per item). Here one QUOTA.RESERVE does all three, on the plan `notes_free` of this
example's tollgate.toml (`enrichments` 50 a day, `concurrent` 3):

- creating an item reserves one enrichment under the item's id: refused with
  CONCURRENCY_LIMIT_EXCEEDED while 3 are processing (`denied_by` `concurrent`), with
  DAILY_QUOTA_EXCEEDED once 50 were used today (`denied_by` `enrichments/day`);
- the worker settles the reservation when the enrichment is done (it counts), or cancels it
  when the enrichment failed (it does not); a worker that dies leaves a hold that expires;
- the id makes a retried create (a double-click, a client retry) charge nothing: tollgate
  replays the first outcome, and QUOTA.LEDGER lists each item once.

A plain module: `create_item` is what the POST handler calls, `run_enrichment` what the worker
calls. Run a short demo against a local tollgate started with this directory's config:
`python3 examples/notes/app.py [port]`.
"""

import uuid

import redis

HOLD_TTL = "10m"  # a worker that dies gives its slot back after this long


class QuotaError(Exception):
    """HTTP 429 with `code` for the frontend's message and Retry-After."""

    def __init__(self, code, outcome):
        self.code = code
        self.retry_after_ms = outcome["retry_after_ms"]
        super().__init__(f"{code}: retry in {self.retry_after_ms} ms")


def connect(port=6379, host="127.0.0.1"):
    return redis.Redis(host=host, port=port, protocol=3, decode_responses=True)


class Notes:
    """`enrich(text)` returns tags (the AI call) or raises. `prefix` namespaces the subjects."""

    def __init__(self, r, enrich, prefix="notes"):
        self.r = r
        self.enrich = enrich
        self.prefix = prefix
        self.items = {}  # (user, item id) -> item: the app's own table

    def subject(self, user):
        return f"{self.prefix}:ai:user:{user}"

    def create_item(self, user, item_id, text):
        """Stores the item and queues its enrichment; returns (item, quota headers)."""
        q = self.r.execute_command(
            "QUOTA.RESERVE", self.subject(user), "enrichments", 1, "ID", item_id, "TTL", HOLD_TTL
        )
        if not q["allowed"]:
            code = ("CONCURRENCY_LIMIT_EXCEEDED" if q["denied_by"] == "concurrent"
                    else "DAILY_QUOTA_EXCEEDED")
            raise QuotaError(code, q)
        if q["replayed"]:
            # The same create again: the item exists and was charged once.
            return self.items[(user, item_id)], self.quota_headers(user)
        item = {"id": item_id, "text": text, "status": "ENRICHING", "tags": None}
        self.items[(user, item_id)] = item
        return item, self.quota_headers(user)

    def run_enrichment(self, user, item_id):
        """The worker: enrich, then settle (charged) or cancel (not charged)."""
        item = self.items[(user, item_id)]
        try:
            item["tags"] = self.enrich(item["text"])
        except Exception:
            item["status"] = "FAILED"
            self.r.execute_command("QUOTA.CANCEL", self.subject(user), "ID", item_id)
            return item
        self.r.execute_command("QUOTA.SETTLE", self.subject(user), "ID", item_id)
        item["status"] = "READY"
        return item

    def quota_headers(self, user):
        """The seed's X-AI-Quota-* headers: the day's limit, used (with those processing),
        remaining, and how many are processing."""
        st = self.r.execute_command("QUOTA.STATUS", self.subject(user))
        day = next(w for w in st["windows"] if w["metric"] == "enrichments")
        return {
            "X-AI-Quota-Limit": str(day["limit"]),
            "X-AI-Quota-Used": str(day["used"] + day["reserved"]),
            "X-AI-Quota-Remaining": str(day["remaining"]),
            "X-AI-Quota-Processing": str(len(st["holds"])),
        }

    def ledger(self, user, count=100):
        return self.r.execute_command("QUOTA.LEDGER", self.subject(user), "COUNT", count)


def demo(port):
    notes = Notes(connect(port), lambda text: sorted(set(text.lower().split()))[:3], prefix="demo")
    note = f"note-{uuid.uuid4().hex[:8]}"
    item, headers = notes.create_item("ann", note, "Buy milk and eggs")
    print(item, headers)
    print(notes.run_enrichment("ann", note), notes.quota_headers("ann"))


if __name__ == "__main__":
    import sys

    demo(int(sys.argv[1]) if len(sys.argv) > 1 else 6379)
