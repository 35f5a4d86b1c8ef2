"""An AI job-application backend on tollgate (seed: the job-application write-ups).

What the seed built by hand on Postgres, done with tollgate's commands through redis-py:

- token quotas per plan (tokens per day and month, calls per hour; the plans `freemium`,
  `pay_as_you_go`, `pro_monthly`, `pro_annual` ship in tollgate's default config): a pre-flight
  QUOTA.RESERVE of the task's estimate before the LLM runs, then QUOTA.SETTLE with the tokens
  it actually used (more than the estimate is charged, never refused);
- CV drafts, cover letters and job extractions cached per user and job with the TTL of the
  user's plan (CACHE.* types `content` and `extraction`; freemium and pay-as-you-go do not
  cache them, as in the seed); a cache hit costs no quota;
- quota status with the warning level (`ok`, `warn` at 80 %, `critical` at 95 %, `exceeded`);
- system prompts warmed at start into the shared type `system` (never expires, one entry for
  all users);
- the cache purged on logout, and an admin reset of a user's quota.

It is a plain module: the functions are what the seed's HTTP handlers called. A denied call
raises QuotaExceeded, which a web layer turns into a 429 with Retry-After.

Run a short demo against a local tollgate: `python3 examples/jobapp/app.py [port]`.
"""

import hashlib
import json
import uuid

import redis

# Pre-flight estimates per task, in tokens (the seed's numbers).
ESTIMATES = {"extraction": 1024, "cv_draft": 2048, "cover_letter": 1536}
# What a cache hit saves in dollars per 1000 tokens (for CACHE.STATS' cost_saved_usd).
USD_PER_1K_TOKENS = 0.002


class QuotaExceeded(Exception):
    """The user's plan does not allow the call now: HTTP 429, Retry-After from retry_after_ms."""

    def __init__(self, outcome):
        self.denied_by = outcome["denied_by"]  # e.g. "tokens/day" or "calls/hour"
        self.retry_after_ms = outcome["retry_after_ms"]
        self.level = outcome["level"]
        super().__init__(f"quota exceeded: {self.denied_by}, retry in {self.retry_after_ms} ms")

    @property
    def retry_after(self):
        """Whole seconds for a Retry-After header."""
        return -(-self.retry_after_ms // 1000)


def connect(port=6379, host="127.0.0.1"):
    # RESP3: tollgate's map replies arrive as dicts.
    return redis.Redis(host=host, port=port, protocol=3, decode_responses=True)


class JobApp:
    """The backend's services. `llm(task, prompt)` returns (text, tokens_used); `prefix`
    namespaces the subjects (a deployment's name, or a test run's)."""

    def __init__(self, r, llm, prefix="jobapp"):
        self.r = r
        self.llm = llm
        self.prefix = prefix

    def subject(self, user_id):
        # One name for the user's quota (a key of type quota) and cache entries (which live
        # apart from the keyspace): CACHE.* finds the plan QUOTA.PLAN stored under it.
        return f"{self.prefix}:user:{user_id}"

    # --- plans and quota -------------------------------------------------------------------

    def set_plan(self, user_id, plan):
        self.r.execute_command("QUOTA.PLAN", self.subject(user_id), plan)

    def quota_status(self, user_id):
        """The seed's GET /quota/status: {plan, warning_level, daily, monthly, hourly_calls}."""
        st = self.r.execute_command("QUOTA.STATUS", self.subject(user_id))
        by_name = {f"{w['metric']}/{w['window']}": w for w in st["windows"]}

        def view(name):
            w = by_name[name]
            return {
                "used": w["used"],
                "reserved": w["reserved"],
                "limit": w["limit"],
                "remaining": w["remaining"],
                "percentage": w["percent"],
                "resets_at_ms": w["resets_at"],
            }

        return {
            "plan": st["plan"],
            "warning_level": st["level"],
            "daily": view("tokens/day"),
            "monthly": view("tokens/month"),
            "hourly_calls": view("calls/hour"),
            "in_flight": len(st["holds"]),
        }

    def admin_reset_quota(self, user_id):
        """The seed's POST /admin/quota/reset/{user_id}: usage back to zero (in the ledger)."""
        self.r.execute_command("QUOTA.RESET", self.subject(user_id))

    def usage_history(self, user_id, count=10):
        return self.r.execute_command("QUOTA.LEDGER", self.subject(user_id), "COUNT", count)

    # --- generation ------------------------------------------------------------------------

    def _generate(self, user_id, task, request_id, prompt):
        """Pre-flight with the estimate, run the LLM, settle with the actual usage. The
        request id makes a retried request (same id) charge once: it returns None."""
        s = self.subject(user_id)
        held = self.r.execute_command(
            "QUOTA.RESERVE", s, "tokens", ESTIMATES[task], "calls", 1,
            "ID", request_id, "TTL", "10m",
        )
        if not held["allowed"]:
            raise QuotaExceeded(held)
        if held["replayed"]:
            # A retry of a request already taken (the client did not see our answer): it was
            # charged once; do not run the LLM again.
            return None
        system = self.system_prompt(user_id, task) or ""
        try:
            text, used = self.llm(task, f"{system}\n{prompt}".strip())
        except Exception:
            # Nothing was produced: give the estimate back.
            self.r.execute_command("QUOTA.CANCEL", s, "ID", request_id)
            raise
        settled = self.r.execute_command("QUOTA.SETTLE", s, "ID", request_id, "tokens", used)
        return text, used, settled["level"]

    def _cached(self, user_id, ctype, key, task, request_id, prompt):
        s = self.subject(user_id)
        hit = self.r.execute_command("CACHE.GET", s, ctype, key)
        if hit is not None:
            return {"text": hit, "cached": True, "tokens": 0}
        done = self._generate(user_id, task, request_id, prompt)
        if done is None:
            return {"duplicate": True}
        text, used, level = done
        # TTL from the user's plan (stored by QUOTA.PLAN); replies 0 where the plan does not
        # cache this type.
        self.r.execute_command(
            "CACHE.SET", s, ctype, key, text,
            "TOKENS", used, "COST", f"{used * USD_PER_1K_TOKENS / 1000:.6f}",
        )
        return {"text": text, "cached": False, "tokens": used, "warning_level": level}

    def extract_job(self, user_id, url, request_id):
        key = "job:" + hashlib.sha256(url.encode()).hexdigest()
        return self._cached(user_id, "extraction", key, "extraction", request_id, f"Extract: {url}")

    def draft_cv(self, user_id, job_id, request_id):
        return self._cached(user_id, "content", f"cv:{job_id}", "cv_draft", request_id,
                            f"Draft a CV for job {job_id}")

    def cover_letter(self, user_id, job_id, tone, request_id):
        # Each tone is its own entry.
        return self._cached(user_id, "content", f"letter:{job_id}:{tone}", "cover_letter",
                            request_id, f"Cover letter for job {job_id}, {tone}")

    # --- cache -----------------------------------------------------------------------------

    def warm_system_prompts(self, prompts):
        """The seed's startup warm-up (and POST /admin/cache/warmup): system prompts in the
        shared type `system`, one entry for every user, never expiring."""
        for name, text in prompts.items():
            self.r.execute_command(
                "CACHE.SET", f"{self.prefix}:app", "system", f"{self.prefix}:{name}", text
            )

    def system_prompt(self, user_id, task):
        # Any subject reads the shared entry; a user's logout does not purge it.
        return self.r.execute_command(
            "CACHE.GET", self.subject(user_id), "system", f"{self.prefix}:{task}"
        )


    def cache_stats(self, user_id):
        """The seed's GET /cache/stats for one user."""
        st = self.r.execute_command("CACHE.STATS", self.subject(user_id))
        return {
            "total_entries": st["entries"],
            "total_hits": st["hits"],
            "tokens_saved": st["tokens_saved"],
            "cost_saved_usd": float(st["cost_saved_usd"]),
        }

    def logout(self, user_id):
        """Purges every cache entry of the user (their drafts are private); replies how many."""
        return self.r.execute_command("CACHE.DEL", self.subject(user_id))


def demo(port):
    def llm(task, prompt):
        return json.dumps({"task": task, "text": f"[draft for {prompt}]"}), 1800

    app = JobApp(connect(port), llm, prefix="demo")
    app.set_plan(1, "pro_annual")
    req = uuid.uuid4().hex  # request ids are unique per request
    print(app.draft_cv(1, "job-7", f"{req}-1"))
    print(app.draft_cv(1, "job-7", f"{req}-2"))  # cached: no LLM call, no quota
    print(app.quota_status(1))
    print("purged on logout:", app.logout(1))


if __name__ == "__main__":
    import sys

    demo(int(sys.argv[1]) if len(sys.argv) > 1 else 6379)
