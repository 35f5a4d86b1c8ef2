"""The job-application backend as its users see it, against a real tollgate.

Usage: python3 examples/jobapp/test_jobapp.py <port>   (run by tests/examples.rs)
Prints OK and exits 0 when every check passes. Subjects carry a run-unique prefix, so it can
run again against the same server.
"""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import testclock  # noqa: E402
import app as jobapp  # noqa: E402


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class FakeLLM:
    """Deterministic: returns a text naming the prompt and `tokens` as the usage; counts calls."""

    def __init__(self):
        self.calls = 0
        self.tokens = 1000
        self.fail = False

    def __call__(self, task, prompt):
        if self.fail:
            raise RuntimeError("LLM provider down")
        self.calls += 1
        return f"{task}: {prompt}", self.tokens


def expect_denied(fn, *args):
    try:
        fn(*args)
    except jobapp.QuotaExceeded as e:
        return e
    raise AssertionError(f"{fn.__name__}{args} must be denied")


def ms_to_next_utc_midnight():
    now_ms = int(time.time() * 1000)
    return 86_400_000 - now_ms % 86_400_000


def main(port):
    llm = FakeLLM()
    app = jobapp.JobApp(jobapp.connect(port), llm, prefix=f"t{uuid.uuid4().hex[:8]}")

    # System prompts: warmed once, read by every user, whatever their plan.
    app.warm_system_prompts({"cv_draft": "You draft CVs.", "cover_letter": "You write letters."})
    check(app.system_prompt("zed", "cv_draft") == "You draft CVs.", "system prompt shared")

    # --- a freemium user: 10K tokens a day; drafts are not cached on this plan ---------------
    app.set_plan("ann", "freemium")
    llm.tokens = 1500
    d = app.draft_cv("ann", "job-1", "r1")
    check(d["cached"] is False and d["tokens"] == 1500 and llm.calls == 1, f"first draft: {d}")
    check(d["text"].startswith("cv_draft: You draft CVs.\n"), f"the system prompt is used: {d}")
    st = app.quota_status("ann")
    check(st["plan"] == "freemium" and st["warning_level"] == "ok", f"status: {st}")
    check(st["daily"] == dict(st["daily"], used=1500, reserved=0, limit=10000, remaining=8500,
                              percentage=15), f"daily: {st['daily']}")
    check((st["monthly"]["used"], st["monthly"]["limit"]) == (1500, 100000), f"monthly: {st}")
    check((st["hourly_calls"]["used"], st["hourly_calls"]["limit"]) == (1, 100), f"calls: {st}")
    check(st["daily"]["resets_at_ms"] - int(time.time() * 1000) <= ms_to_next_utc_midnight() + 5000,
          f"tokens/day resets at the next midnight (UTC): {st['daily']}")

    # The LLM fails: the estimate is given back, nothing charged.
    llm.fail = True
    try:
        app.extract_job("ann", "https://jobs.example/1", "r5")
        raise AssertionError("the LLM failure reaches the caller")
    except RuntimeError:
        pass
    llm.fail = False
    st = app.quota_status("ann")
    check(st["daily"]["used"] == 1500 and st["daily"]["reserved"] == 0 and st["in_flight"] == 0,
          f"a failed call costs nothing: {st}")

    d = app.draft_cv("ann", "job-1", "r2")
    check(d["cached"] is False and llm.calls == 2, f"freemium does not cache drafts: {d}")
    check(app.cache_stats("ann")["total_entries"] == 0, "nothing cached for freemium")

    # Settle charges the actual usage, above the 1536-token estimate: 3000 + 5000 = 8000 (80 %).
    llm.tokens = 5000
    c = app.cover_letter("ann", "job-1", "formal", "r3")
    check(c["warning_level"] == "warn", f"80 % of the day is a warning: {c}")
    st = app.quota_status("ann")
    check(st["daily"]["used"] == 8000 and st["warning_level"] == "warn", f"status: {st}")
    ledger = app.usage_history("ann", 3)
    check([(e["op"], e["id"], e["amount"]) for e in ledger if e["metric"] == "tokens"]
          == [("overage", "r3", 5000 - 1536), ("settle", "r3", 5000)], f"ledger: {ledger}")

    llm.tokens = 1600  # 9600: 96 %
    c = app.cover_letter("ann", "job-1", "friendly", "r4")
    check(c["warning_level"] == "critical", f"95 % is critical: {c}")
    check(app.quota_status("ann")["warning_level"] == "critical", "status says critical")

    # A client retrying a request it already made (same request id) is charged once; the
    # backend recognises the retry before calling the LLM.
    calls = llm.calls
    check(app.cover_letter("ann", "job-1", "friendly", "r4") == {"duplicate": True},
          "the retry is recognised")
    check(llm.calls == calls and app.quota_status("ann")["daily"]["used"] == 9600,
          "a retried request is not charged twice")

    # Pre-flight: the 2048-token estimate does not fit in the 400 left. Denied before the LLM.
    e = expect_denied(app.draft_cv, "ann", "job-2", "r6")
    check(e.denied_by == "tokens/day" and e.level == "exceeded", f"denied: {e}")
    check(0 < e.retry_after_ms <= ms_to_next_utc_midnight() + 5000,
          f"retry after the day resets: {e.retry_after_ms}")
    check(e.retry_after >= 1, "a Retry-After in whole seconds")
    check(llm.calls == calls, "no LLM call when denied")

    # Admin reset: the day starts over (and the ledger says so).
    app.admin_reset_quota("ann")
    st = app.quota_status("ann")
    check(st["daily"]["used"] == 0 and st["warning_level"] == "ok", f"after reset: {st}")
    check(app.usage_history("ann", 1)[0]["op"] == "reset", "the reset is in the ledger")
    check(app.draft_cv("ann", "job-2", "r7")["cached"] is False, "allowed again after the reset")

    # --- a pro_annual user: drafts and letters are cached per user and job -------------------
    app.set_plan("bob", "pro_annual")
    llm.tokens = 1800
    calls = llm.calls
    first = app.draft_cv("bob", "job-7", "p1")
    again = app.draft_cv("bob", "job-7", "p2")
    check(first["cached"] is False and again["cached"] is True and again["text"] == first["text"],
          f"second draft from the cache: {first} / {again}")
    check(llm.calls == calls + 1, "the LLM ran once")
    st = app.quota_status("bob")
    check(st["plan"] == "pro_annual" and st["daily"]["used"] == 1800
          and st["daily"]["limit"] == 2_000_000 and st["hourly_calls"]["used"] == 1,
          f"a cache hit costs no quota: {st}")

    llm.tokens = 900
    app.cover_letter("bob", "job-7", "formal", "p3")
    app.cover_letter("bob", "job-7", "friendly", "p4")
    check(app.cover_letter("bob", "job-7", "formal", "p5")["cached"] is True, "formal cached")
    check(llm.calls == calls + 3, "each tone generated once")
    stats = app.cache_stats("bob")
    check(stats["total_entries"] == 3 and stats["total_hits"] == 2
          and stats["tokens_saved"] == 1800 + 900, f"stats: {stats}")
    check(abs(stats["cost_saved_usd"] - 2700 * jobapp.USD_PER_1K_TOKENS / 1000) < 1e-9,
          f"cost saved: {stats}")

    # Another user's drafts are theirs: no hit on bob's entry.
    app.set_plan("cat", "pro_annual")
    check(app.draft_cv("cat", "job-7", "c1")["cached"] is False, "caches are per user")

    # Logout purges bob's entries, not cat's.
    check(app.logout("bob") == 3, "three entries purged")
    check(app.draft_cv("bob", "job-7", "p6")["cached"] is False, "regenerated after logout")
    check(app.draft_cv("cat", "job-7", "c2")["cached"] is True, "cat's entry stays")
    check(app.system_prompt("bob", "cover_letter") == "You write letters.",
          "logout leaves the shared system prompts")

    # --- calls per hour: freemium allows 100 ------------------------------------------------
    llm.tokens = 10
    for i in range(100):
        app.extract_job("dan", f"https://jobs.example/{i}", f"x{i}")
    e = expect_denied(app.extract_job, "dan", "https://jobs.example/100", "x100")
    check(e.denied_by == "calls/hour" and 0 < e.retry_after_ms <= 3_600_000, f"calls/hour: {e}")
    st = app.quota_status("dan")
    check(st["hourly_calls"]["used"] == 100 and st["daily"]["used"] == 1000, f"dan: {st}")

    if not testclock.advance(e.retry_after_ms):
        testclock.skipped("retry after the hour, the drafts' TTL by plan")
        print("OK")
        return
    # retry_after_ms is honest: then the call goes through.
    check(app.extract_job("dan", "https://jobs.example/100", "x101")["cached"] is False,
          "allowed once retry_after_ms passed")

    # --- TTL by plan: pro_annual keeps drafts 120 minutes, pro_monthly 60 -------------------
    app.set_plan("eve", "pro_monthly")
    llm.tokens = 1000
    app.draft_cv("bob", "job-9", "p7")
    app.draft_cv("eve", "job-9", "e1")
    testclock.advance(61 * 60_000)
    check(app.draft_cv("bob", "job-9", "p8")["cached"] is True, "pro_annual: cached at 61 min")
    check(app.draft_cv("eve", "job-9", "e2")["cached"] is False, "pro_monthly: gone at 61 min")
    testclock.advance(60 * 60_000)
    check(app.draft_cv("bob", "job-9", "p9")["cached"] is False, "pro_annual: gone at 121 min")
    check(app.system_prompt("bob", "cv_draft") == "You draft CVs.", "system prompts never expire")

    print("OK")


if __name__ == "__main__":
    main(int(sys.argv[1]))
