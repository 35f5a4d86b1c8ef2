"""The RAG chatbot API as its users see it (Flask's test client), against a real tollgate on
its default config (the `chat` policy and the `query`/`embedding` cache types ship in it).

Usage: python3 examples/rag_chatbot/test_rag_chatbot.py <port>   (run by tests/examples.rs)
Prints OK and exits 0 when every check passes. Keys carry a run-unique prefix; cache counters
are compared before and after, so it can run again against the same server.
"""

import os
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import testclock  # noqa: E402
import app as rag  # noqa: E402
import redis  # noqa: E402


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class Counting:
    def __init__(self, fn):
        self.fn = fn
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1
        return self.fn(*args)


def main(port):
    r = redis.Redis(host="127.0.0.1", port=port, protocol=3, decode_responses=True)
    embed, llm = Counting(rag.fake_embed), Counting(rag.fake_llm)
    prefix = f"t{uuid.uuid4().hex[:8]}"
    flask_app = rag.create_app(r, embed=embed, llm=llm, prefix=prefix)
    rag_client = flask_app.test_client  # one client per thread below
    web = rag_client()
    embed.calls = 0  # the documents' embeddings, computed at start

    def ask(question, session, context="ML textbook"):
        return web.post("/api/v1/chat/query",
                        json={"question": question, "session_id": session, "page_context": context})

    h = web.get("/health")
    check(h.status_code == 200 and h.get_json() == {"status": "healthy", "tollgate": "healthy"},
          f"health: {h.get_json()}")
    down = rag.create_app(redis.Redis(host="127.0.0.1", port=1, protocol=3), prefix=prefix)
    check(down.test_client().get("/health").status_code == 503, "503 without tollgate")

    before = web.get("/api/v1/cache/stats").get_json()

    # 1. First question: everything computed.
    a = ask("What is AI?", "s1")
    body = a.get_json()
    check(a.status_code == 200 and body["cached"] is False and len(body["sources"]) == 2, f"first: {body}")
    check((embed.calls, llm.calls) == (1, 1), f"one embedding, one LLM call: {embed.calls}, {llm.calls}")
    check(a.headers["X-RateLimit-Limit"] == "100" and a.headers["X-RateLimit-Remaining"] == "99",
          f"headers: {a.headers}")
    now = int(time.time())
    check(now <= int(a.headers["X-RateLimit-Reset"]) <= now + 2,
          f"one token refills within a second: {a.headers}")

    # 2. The same question in the same session: from the query cache, no model called.
    b = ask("What is AI?", "s1")
    check(b.get_json() == dict(body, cached=True), f"cached answer: {b.get_json()}")
    check((embed.calls, llm.calls) == (1, 1), "no model call on a cache hit")

    # 3. The same question in another session: its own query cache, but the embedding is shared.
    c = ask("What is AI?", "s2")
    check(c.get_json()["cached"] is False and c.get_json()["answer"] == body["answer"], "s2")
    check((embed.calls, llm.calls) == (1, 2), f"embedding from the cache: {embed.calls}, {llm.calls}")

    # 4. Another page context is another query; another question another embedding.
    check(ask("What is AI?", "s1", "NN book").get_json()["cached"] is False, "context is in the key")
    ask("Explain neural networks", "s1")
    check((embed.calls, llm.calls) == (2, 4), f"{embed.calls}, {llm.calls}")

    after = web.get("/api/v1/cache/stats").get_json()
    delta = {t: {k: after[t][k] - before[t][k] for k in ("hits", "misses")} for t in after}
    check(delta == {"query": {"hits": 1, "misses": 4}, "embedding": {"hits": 2, "misses": 2}},
          f"cache stats: {delta}")
    check(0 < after["query"]["hit_rate"] <= 1, f"hit rate: {after}")

    check(web.post("/api/v1/chat/query", json={"question": "x"}).status_code == 422, "no session")

    # The same new question twice at once (a double click): computed once, the second request
    # waits for the first's answer (CACHE.FETCH) instead of calling the models again.
    slow = threading.Event()

    def slow_llm(question, passages):
        slow.wait(0.3)  # a model takes a while
        return rag.fake_llm(question, passages)

    llm.fn = slow_llm
    answers = [None, None]

    def worker(i):
        answers[i] = rag_client().post("/api/v1/chat/query", json={
            "question": "What is RAG?", "session_id": "s3", "page_context": "ML textbook"}).get_json()

    calls = llm.calls
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(llm.calls == calls + 1, f"one LLM call for two simultaneous requests: {llm.calls - calls}")
    check(sorted(a["cached"] for a in answers) == [False, True]
          and answers[0]["answer"] == answers[1]["answer"], f"both answered: {answers}")
    llm.fn = rag.fake_llm

    # 5. 100 requests a minute per session, refilled continuously (one token every 600 ms).
    session = f"{prefix}-burst"
    start = time.monotonic()
    allowed = 0
    for _ in range(200):
        resp = ask("What is AI?", session)
        if resp.status_code != 200:
            break
        allowed += 1
    elapsed = time.monotonic() - start
    check(resp.status_code == 429, f"limited: {resp.status_code}")
    check(100 <= allowed <= 100 + int(elapsed * 100 / 60) + 1,
          f"{allowed} allowed in {elapsed:.2f} s")
    check(resp.get_json() == {"detail": "Rate limit exceeded. Too many requests.", "status": "rate_limited"},
          f"429 body: {resp.get_json()}")
    check(resp.headers["Retry-After"] == "1" and resp.headers["X-RateLimit-Remaining"] == "0",
          f"429 headers: {resp.headers}")
    check(ask("What is AI?", f"{prefix}-other").status_code == 200, "other sessions are not limited")
    if not testclock.advance(600):
        time.sleep(0.7)
    check(ask("What is AI?", session).status_code == 200, "a token refilled after 600 ms")

    # The query cache keeps an answer an hour, the embedding cache a day.
    if not testclock.advance(3_600_000):
        testclock.skipped("the caches' TTLs")
        print("OK")
        return
    calls = (embed.calls, llm.calls)
    check(ask("What is AI?", "s1").get_json()["cached"] is False, "the answer expired after an hour")
    check((embed.calls, llm.calls) == (calls[0], calls[1] + 1), "the embedding is still cached")
    testclock.advance(23 * 3_600_000)
    check(ask("What is AI?", "s1").get_json()["cached"] is False, "expired again")
    check((embed.calls, llm.calls) == (calls[0] + 1, calls[1] + 2), "the embedding expired after a day")

    print("OK")


if __name__ == "__main__":
    main(int(sys.argv[1]))
