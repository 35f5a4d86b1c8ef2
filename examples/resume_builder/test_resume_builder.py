"""The resume builder API as its users see it (Flask's test client), against a real tollgate
started with examples/resume_builder/tollgate.toml.

Usage: python3 examples/resume_builder/test_resume_builder.py <port>   (run by tests/examples.rs)
Prints OK and exits 0 when every check passes. Keys carry a run-unique prefix, so it can run
again against the same server.
"""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import testclock  # noqa: E402
import app as resume  # noqa: E402
import redis  # noqa: E402


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class CountingClaude:
    def __init__(self):
        self.calls = 0

    def __call__(self, task, payload):
        self.calls += 1
        return resume.fake_claude(task, payload)


def main(port):
    r = redis.Redis(host="127.0.0.1", port=port, protocol=3, decode_responses=True)
    claude = CountingClaude()
    prefix = f"t{uuid.uuid4().hex[:8]}"
    app = resume.create_app(r, claude=claude, prefix=prefix)
    web = app.test_client()

    def call(method, path, ip="10.0.0.1", token=None, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return web.open(path, method=method, headers=headers,
                        environ_base={"REMOTE_ADDR": ip}, **kw)

    def reset_header_ok(resp, window_s=60):
        # A sliding window is whole again once this request stops weighing: at most the end
        # of the next window.
        now = int(time.time())
        reset = int(resp.headers["X-RateLimit-Reset"])
        return now < reset <= now + 2 * window_s + 1

    def retry_ok(resp, limit, window_s=60):
        # A sliding window admits again once the window's count, weighted by its overlap
        # from the next window on, drops one request: at most a window plus window/limit.
        return 1 <= int(resp.headers["Retry-After"]) <= window_s + window_s // limit + 1

    # --- login: 5 a minute per IP --------------------------------------------------------------
    for i in range(5):
        resp = call("POST", "/api/auth/login", json={"email": "free@example.com", "password": "no"})
        check(resp.status_code == 401, f"wrong password {i}: {resp.status_code}")
        check(resp.headers["X-RateLimit-Limit"] == "5"
              and resp.headers["X-RateLimit-Remaining"] == str(4 - i), f"headers {i}: {resp.headers}")
        check(reset_header_ok(resp), f"X-RateLimit-Reset is a timestamp within two windows: {resp.headers}")
    resp = call("POST", "/api/auth/login", json={"email": "free@example.com", "password": "pw"})
    check(resp.status_code == 429, f"6th login from the IP is refused, even with the right password: {resp.status_code}")
    retry_login = resp.headers["Retry-After"]
    check(retry_ok(resp, 5) and resp.headers["X-RateLimit-Remaining"] == "0", f"429 headers: {resp.headers}")
    check(resp.get_json()["policy"] == "auth", f"body: {resp.get_json()}")
    # Another IP logs in.
    tokens = {}
    for tier, ip in [("free", "10.0.0.2"), ("starter", "10.0.0.3"), ("pro", "10.0.0.4")]:
        resp = call("POST", "/api/auth/login", ip=ip,
                    json={"email": f"{tier}@example.com", "password": "pw"})
        check(resp.status_code == 200 and resp.get_json()["tier"] == tier, f"login {tier}: {resp.status_code}")
        check(resp.headers["X-RateLimit-Remaining"] == "4", "another IP has its own limit")
        tokens[tier] = resp.get_json()["token"]

    # --- public: 30 a minute per IP ----------------------------------------------------------
    for i in range(30):
        resp = call("GET", "/api/pricing", ip="10.0.1.1")
        check(resp.status_code == 200 and resp.headers["X-RateLimit-Limit"] == "30"
              and resp.headers["X-RateLimit-Remaining"] == str(29 - i), f"public {i}: {resp.headers}")
    resp = call("GET", "/api/pricing", ip="10.0.1.1")
    check(resp.status_code == 429 and retry_ok(resp, 30), f"31st public call: {resp.headers}")

    # --- AI: 10 a minute per user, also counted in the user's 60 a minute --------------------
    free = tokens["free"]
    for i in range(10):
        resp = call("POST", "/api/ai/extract-keywords", token=free, json={"job_title": f"job {i}"})
        check(resp.status_code == 200 and resp.get_json()["cached"] is False, f"AI call {i}: {resp.status_code}")
        check(resp.headers["X-RateLimit-Limit"] == "10"
              and resp.headers["X-RateLimit-Remaining"] == str(9 - i), f"AI headers {i}: {resp.headers}")
        check(resp.headers["X-AI-Assist-Limit"] == "10"
              and resp.headers["X-AI-Assist-Remaining"] == str(9 - i), f"AI-assist {i}: {resp.headers}")
    check(claude.calls == 10, "ten model calls")
    resp = call("POST", "/api/ai/extract-keywords", token=free, json={"job_title": "job 10"})
    check(resp.status_code == 429 and resp.get_json()["policy"] == "ai", f"11th AI call: {resp.get_json()}")
    check(retry_ok(resp, 10) and resp.headers["X-RateLimit-Limit"] == "10",
          f"AI 429 headers: {resp.headers}")
    # The user's other endpoints still answer; the 10 AI calls counted there, the refused one not.
    resp = call("GET", "/api/resumes", token=free)
    check(resp.status_code == 200 and resp.headers["X-RateLimit-Limit"] == "60"
          and resp.headers["X-RateLimit-Remaining"] == str(60 - 10 - 1), f"authenticated: {resp.headers}")
    check(call("GET", "/api/resumes").status_code == 401, "anonymous is 401")

    # --- the daily AI-assist quota per tier --------------------------------------------------
    # A minute later the rate limit is whole again (RL.RESET stands in for waiting); the free
    # tier's 10 AI-assists of the day are spent.
    r.execute_command("RL.RESET", f"{prefix}:rl:user:1")
    resp = call("POST", "/api/ai/extract-keywords", token=free, json={"job_title": "job 10"})
    body = resp.get_json()
    check(resp.status_code == 429 and body["tier"] == "free" and body["limit"] == 10, f"quota: {body}")
    check(resp.headers["X-AI-Assist-Remaining"] == "0", f"quota headers: {resp.headers}")
    now_ms = int(time.time() * 1000)
    to_midnight = (86_400_000 - now_ms % 86_400_000) // 1000 + 5
    check(1 <= int(resp.headers["Retry-After"]) <= to_midnight, f"until the day resets: {resp.headers}")
    check(claude.calls == 10, "no model call when over quota")

    # --- AI responses are cached an hour, for everyone, and a cached answer is free ----------
    # job 3 was asked by the free user: a starter user asking the same gets it from the cache.
    starter = tokens["starter"]
    resp = call("POST", "/api/ai/extract-keywords", token=starter, json={"job_title": "job 3"})
    check(resp.status_code == 200 and resp.get_json()["cached"] is True, f"cached: {resp.get_json()}")
    check(claude.calls == 10, "a cached answer calls no model")
    # Even the free user, out of AI-assists, gets cached answers (still under the AI rate limit).
    resp = call("POST", "/api/ai/extract-keywords", token=free, json={"job_title": "job 3"})
    check(resp.status_code == 200 and resp.get_json()["cached"] is True, "cached answers cost no quota")
    resp = call("POST", "/api/ai/generate-cover-letter", token=starter, json={"job_title": "job 3"})
    check(resp.get_json()["cached"] is False and claude.calls == 11, "another endpoint is its own entry")
    check(resp.headers["X-AI-Assist-Limit"] == "50" and resp.headers["X-AI-Assist-Remaining"] == "49",
          f"starter tier: {resp.headers}")
    resp = call("POST", "/api/ai/generate-cover-letter", token=tokens["pro"], json={"job_title": "pro"})
    check(resp.headers["X-AI-Assist-Limit"] == "999", f"pro tier: {resp.headers}")

    # A retried request with the same Idempotency-Key is counted once.
    for _ in range(2):
        resp = call("POST", "/api/ai/generate-cover-letter", token=starter,
                    headers={"Idempotency-Key": f"{prefix}-k1"}, json={"job_title": "retry"})
        r.execute_command("CACHE.DEL", "ai", "ai_response")  # the retry must not hit the cache
        check(resp.headers["X-AI-Assist-Remaining"] == "48", f"charged once: {resp.headers}")

    # The login limit's Retry-After is honest: the first IP logs in once it passed.
    if not testclock.advance(int(retry_login) * 1000):
        testclock.skipped("Retry-After of the login limit, the AI cache's hour")
        print("OK")
        return
    resp = call("POST", "/api/auth/login", json={"email": "free@example.com", "password": "pw"})
    check(resp.status_code == 200, f"login after Retry-After: {resp.status_code}")

    # AI responses are kept an hour.
    ask = lambda: call("POST", "/api/ai/extract-keywords", token=starter,  # noqa: E731
                       json={"job_title": "kept an hour"}).get_json()
    calls = claude.calls
    check(ask()["cached"] is False, "computed")
    testclock.advance(59 * 60_000)
    check(ask()["cached"] is True and claude.calls == calls + 1, "still cached at 59 min")
    testclock.advance(2 * 60_000)
    check(ask()["cached"] is False and claude.calls == calls + 2, "computed again at 61 min")

    print("OK")


if __name__ == "__main__":
    main(int(sys.argv[1]))
