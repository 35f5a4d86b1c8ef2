"""A resume builder web API on tollgate (seed: the resume builder's "Phase 10").

What the seed built on Redis with a hand-written sliding window, done with tollgate through
redis-py, in Flask:

- per-endpoint rate limits with the seed's numbers, the shipped policies: `auth` 5/min per IP
  (login), `ai` 10/min per user, `authenticated` 60/min per user, `public` 30/min per IP; an AI
  call counts against both `ai` and `authenticated` in one all-or-nothing RL.CHECK. Every
  answer carries X-RateLimit-Limit/Remaining/Reset; a 429 carries Retry-After;
- AI responses cached an hour (cache type `ai_response` of this example's tollgate.toml, shared
  by all users: the key is a hash of the request), so a repeated request does not call Claude
  and costs no AI-assist;
- a daily AI-assist quota per tier (`free` 10, `starter` 50, `pro` 999 calls a day: plans of
  this example's tollgate.toml), with X-AI-Assist-Limit/Remaining headers.

Run it against a local tollgate (see README.md):
    REDIS_URL=redis://127.0.0.1:6379/0 python3 examples/resume_builder/app.py
"""

import hashlib
import json
import os
import time

import redis
from flask import Flask, g, jsonify, request

# Demo accounts; an app would have a user table.
DEMO_USERS = [
    {"email": "free@example.com", "password": "pw", "id": 1, "tier": "free"},
    {"email": "starter@example.com", "password": "pw", "id": 2, "tier": "starter"},
    {"email": "pro@example.com", "password": "pw", "id": 3, "tier": "pro"},
]


def fake_claude(task, payload):
    """Stands in for the Claude API: deterministic, no network."""
    return f"{task} for {payload.get('job_title', 'a job')}: " + ", ".join(
        sorted(str(v) for v in payload.values())
    )


def seconds(ms):
    return -(-ms // 1000)


def create_app(r, users=DEMO_USERS, claude=fake_claude, prefix="rb"):
    """`r`: a redis-py client on tollgate with protocol=3 and decode_responses=True.
    `prefix` namespaces the keys (a deployment's name, or a test run's)."""
    app = Flask(__name__)
    by_email = {u["email"]: u for u in users}
    by_token = {}
    for u in users:
        # The tier is the user's quota plan: QUOTA.CHARGE finds it under the subject.
        r.execute_command("QUOTA.PLAN", f"{prefix}:quota:user:{u['id']}", u["tier"])

    def current_user():
        auth = request.headers.get("Authorization", "")
        return by_token.get(auth.removeprefix("Bearer ").strip())

    def limits_for(endpoint):
        """(key, policies) of a request, or None: the seed's endpoint classes."""
        kind = getattr(app.view_functions.get(endpoint), "limit_class", "public")
        user = current_user()
        if kind == "auth":
            return f"{prefix}:rl:ip:{request.remote_addr}", ["auth"]
        if kind in ("ai", "authenticated") and user is not None:
            policies = ["authenticated", "ai"] if kind == "ai" else ["authenticated"]
            return f"{prefix}:rl:user:{user['id']}", policies
        # Public endpoints, and anonymous calls to the others (answered 401), by IP.
        return f"{prefix}:rl:ip:{request.remote_addr}", ["public"]

    @app.before_request
    def rate_limit():
        key, policies = limits_for(request.endpoint)
        args = ["RL.CHECK", key]
        for p in policies:
            args += ["POLICY", p]
        d = r.execute_command(*args)
        # The top-level fields are the binding policy's: the denying one, else the tightest.
        g.rl_headers = {
            "X-RateLimit-Limit": str(d["limit"]),
            "X-RateLimit-Remaining": str(d["remaining"]),
            "X-RateLimit-Reset": str(int(time.time()) + seconds(d["reset_ms"])),
        }
        if not d["allowed"]:
            resp = jsonify(detail="Rate limit exceeded. Too many requests.", policy=d["policy"])
            resp.status_code = 429
            if d["retry_after_ms"] >= 0:  # -1: the request can never fit
                resp.headers["Retry-After"] = str(seconds(d["retry_after_ms"]))
            return resp
        return None

    @app.after_request
    def add_headers(resp):
        for k, v in getattr(g, "rl_headers", {}).items():
            resp.headers.setdefault(k, v)
        return resp

    def limit_class(kind):
        def mark(f):
            f.limit_class = kind
            return f

        return mark

    @app.post("/api/auth/login")
    @limit_class("auth")
    def login():
        body = request.get_json(silent=True) or {}
        u = by_email.get(body.get("email"))
        if u is None or u["password"] != body.get("password"):
            return jsonify(detail="Invalid credentials"), 401
        token = hashlib.sha256(f"{prefix}:{u['id']}:{time.time_ns()}".encode()).hexdigest()
        by_token[token] = u
        return jsonify(token=token, tier=u["tier"])

    @app.get("/api/pricing")
    @limit_class("public")
    def pricing():
        return jsonify(free=0, starter=9, pro=29)

    @app.get("/api/resumes")
    @limit_class("authenticated")
    def resumes():
        u = current_user()
        if u is None:
            return jsonify(detail="Not authenticated"), 401
        return jsonify(resumes=[{"id": 1, "owner": u["id"], "title": "My resume"}])

    def ai_endpoint(task):
        u = current_user()
        if u is None:
            return jsonify(detail="Not authenticated"), 401
        payload = request.get_json(silent=True) or {}
        key = hashlib.sha256(json.dumps([task, payload], sort_keys=True).encode()).hexdigest()
        hit = r.execute_command("CACHE.GET", "ai", "ai_response", key)
        if hit is not None:
            # A cached answer calls no model: it costs no AI-assist.
            return jsonify(result=hit, cached=True)
        subject = f"{prefix}:quota:user:{u['id']}"
        args = ["QUOTA.CHARGE", subject, "ai_assist", 1]
        if request.headers.get("Idempotency-Key"):
            args += ["ID", request.headers["Idempotency-Key"]]
        q = r.execute_command(*args)
        day = q["windows"][0]
        quota_headers = {
            "X-AI-Assist-Limit": str(day["limit"]),
            "X-AI-Assist-Remaining": str(day["remaining"]),
        }
        if not q["allowed"]:
            resp = jsonify(detail="Daily AI-assist limit reached for your plan.",
                           tier=u["tier"], limit=day["limit"])
            resp.status_code = 429
            resp.headers.update(quota_headers)
            resp.headers["Retry-After"] = str(seconds(q["retry_after_ms"]))
            return resp
        result = claude(task, payload)
        r.execute_command("CACHE.SET", "ai", "ai_response", key, result)
        resp = jsonify(result=result, cached=False)
        resp.headers.update(quota_headers)
        return resp

    @app.post("/api/ai/generate-cover-letter")
    @limit_class("ai")
    def cover_letter():
        return ai_endpoint("cover_letter")

    @app.post("/api/ai/extract-keywords")
    @limit_class("ai")
    def extract_keywords():
        return ai_endpoint("keywords")

    return app


if __name__ == "__main__":
    client = redis.Redis.from_url(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), protocol=3, decode_responses=True
    )
    create_app(client).run(host=os.environ.get("HOST", "127.0.0.1"),
                           port=int(os.environ.get("PORT", "8000")))
