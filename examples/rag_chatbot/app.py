"""A RAG chatbot API on tollgate (seed: the RAG chatbot's "Phase 4").

What the seed built on Redis by hand, done with tollgate through redis-py, in Flask:

- a token bucket of 100 requests a minute per chat session (the shipped policy `chat`): every
  answer carries X-RateLimit-Limit/Remaining/Reset, a 429 carries Retry-After;
- query results cached an hour per session (the shipped cache type `query`, keyed by a hash of
  the question and the page context), so the same question again calls neither the embedding
  model nor the LLM; read with CACHE.FETCH, so the same question asked twice at once is
  computed once (the second request waits for the first's answer);
- embeddings cached a day (the shipped type `embedding`) under one subject for the whole
  service, so the same text asked in any session is embedded once;
- GET /api/v1/cache/stats: hits, misses and hit rate per cache type, from CACHE.STATS;
- GET /health: 200 while tollgate answers (for a container's health check), else 503.

Run it against a local tollgate (see README.md):
    REDIS_URL=redis://127.0.0.1:6379/0 python3 examples/rag_chatbot/app.py
"""

import hashlib
import json
import os
import time

import redis
from flask import Flask, jsonify, request

# The "vector store": a few passages with fixed embeddings.
DOCUMENTS = [
    ("Machine learning lets computers learn patterns from data.", "ml"),
    ("Neural networks are layers of weighted sums and nonlinearities.", "nn"),
    ("Retrieval-augmented generation grounds answers in retrieved passages.", "rag"),
]
EMBED_SUBJECT = "rag:embeddings"  # one subject: embeddings are the same for every session


def fake_embed(text):
    """A deterministic 8-dimensional embedding of the text (no network)."""
    digest = hashlib.sha256(text.lower().encode()).digest()
    return [b / 255 for b in digest[:8]]


def fake_llm(question, passages):
    """A deterministic answer quoting the passages it was given."""
    return f"Q: {question} | context: " + " / ".join(passages)


def md5(*parts):
    return hashlib.md5("\x00".join(parts).encode()).hexdigest()


def create_app(r, embed=fake_embed, llm=fake_llm, prefix="rag"):
    """`r`: a redis-py client on tollgate with protocol=3 and decode_responses=True.
    `prefix` namespaces the keys (a deployment's name, or a test run's)."""
    app = Flask(__name__)
    doc_vectors = [(text, embed(text)) for text, _ in DOCUMENTS]
    embed_subject = f"{prefix}:{EMBED_SUBJECT}"

    def embedding(text):
        key = md5(text)
        hit = r.execute_command("CACHE.GET", embed_subject, "embedding", key)
        if hit is not None:
            return json.loads(hit)
        vec = embed(text)
        r.execute_command("CACHE.SET", embed_subject, "embedding", key, json.dumps(vec))
        return vec

    def retrieve(vec, k=2):
        scored = sorted(doc_vectors, key=lambda d: -sum(a * b for a, b in zip(vec, d[1])))
        return [text for text, _ in scored[:k]]

    @app.post("/api/v1/chat/query")
    def query():
        body = request.get_json(silent=True) or {}
        question = str(body.get("question", ""))
        session = str(body.get("session_id", ""))
        context = str(body.get("page_context", ""))
        if not question or not session:
            return jsonify(detail="question and session_id are required"), 422

        d = r.execute_command("RL.CHECK", f"{prefix}:rl:session:{session}", "POLICY", "chat")
        headers = {
            "X-RateLimit-Limit": str(d["limit"]),
            "X-RateLimit-Remaining": str(d["remaining"]),
            "X-RateLimit-Reset": str(int(time.time()) + -(-d["reset_ms"] // 1000)),
        }
        if not d["allowed"]:
            headers["Retry-After"] = str(-(-d["retry_after_ms"] // 1000))
            return jsonify(detail="Rate limit exceeded. Too many requests.",
                           status="rate_limited"), 429, headers

        subject = f"{prefix}:session:{session}"
        key = md5(question, context)
        # Single flight: of several requests for the same missing answer (a user clicking
        # twice, two tabs), the first computes it ("fill") while the others wait for it.
        f = r.execute_command("CACHE.FETCH", subject, "query", key, "LEASE", "30s", "WAIT", "10s")
        if f["status"] == "hit":
            return jsonify({**json.loads(f["value"]), "cached": True}), 200, headers
        # "fill", or "timeout" (the filler took too long): compute it here.
        passages = retrieve(embedding(question))
        answer = {"answer": llm(question, passages), "sources": passages}
        r.execute_command("CACHE.SET", subject, "query", key, json.dumps(answer))
        return jsonify({**answer, "cached": False}), 200, headers

    @app.get("/health")
    def health():
        # For a container's health check: 200 while tollgate answers, 503 otherwise.
        try:
            r.ping()
        except redis.RedisError as e:
            return jsonify(status="unhealthy", tollgate=str(e)), 503
        return jsonify(status="healthy", tollgate="healthy")

    @app.get("/api/v1/cache/stats")
    def cache_stats():
        st = r.execute_command("CACHE.STATS")
        types = st["types"]
        return jsonify({
            name: {
                "hits": types[name]["hits"],
                "misses": types[name]["misses"],
                "hit_rate": float(types[name]["hit_rate"]),
            }
            for name in ("query", "embedding")
        })

    return app


if __name__ == "__main__":
    client = redis.Redis.from_url(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), protocol=3, decode_responses=True
    )
    create_app(client).run(host=os.environ.get("HOST", "127.0.0.1"),
                           port=int(os.environ.get("PORT", "8000")))
