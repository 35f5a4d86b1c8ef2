"""redis-py against tollgate: the default handshake (HELLO 3 and CLIENT SETINFO under
protocol=3), both protocols, transactional pipelines, strings, expiry and SCAN iteration.

Usage: python3 tests/py/test_clients.py <port>   (run by tests/redis_py.rs)
Prints OK and exits 0 when every check passes.
"""


from harness import check, main, redis


def run(port, protocol):
    r = redis.Redis(host="127.0.0.1", port=port, protocol=protocol)
    p = f"py{protocol}:"
    check(r.ping() is True, "PING")

    # The handshake redis-py sent is visible on the server: protocol and library name.
    info = r.client_info()
    check(int(info["resp"]) == protocol, f"resp in CLIENT INFO: {info}")
    check(info.get("lib-name") == "redis-py", f"lib-name in CLIENT INFO: {info}")
    check(info.get("lib-ver") == redis.__version__, f"lib-ver in CLIENT INFO: {info}")
    hello = r.execute_command("HELLO")
    if not isinstance(hello, dict):
        hello = dict(zip(hello[::2], hello[1::2]))
    hello = {(k.decode() if isinstance(k, bytes) else k): v for k, v in hello.items()}
    check(hello["proto"] == protocol, f"HELLO proto: {hello}")

    # Strings.
    check(r.set(p + "k", "v") is True, "SET")
    check(r.get(p + "k") == b"v", "GET")
    check(r.get(p + "missing") is None, "GET missing")
    check(r.set(p + "k", "w", nx=True) is None, "SET NX on an existing key")
    check(r.set(p + "k", "w", xx=True, get=True) == b"v", "SET XX GET")
    check(r.incr(p + "n") == 1 and r.incr(p + "n", 41) == 42, "INCR")
    check(r.incrbyfloat(p + "f", 1.5) == 1.5, "INCRBYFLOAT")
    check(r.mset({p + "a": "1", p + "b": "2"}) is True, "MSET")
    check(r.mget([p + "a", p + "b", p + "missing"]) == [b"1", b"2", None], "MGET")
    try:
        r.incr(p + "k")
        raise AssertionError("INCR on a non-integer must fail")
    except redis.ResponseError as e:
        check(str(e) == "value is not an integer or out of range", f"INCR error: {e}")

    # Expiry.
    check(r.ttl(p + "k") == -1, "TTL without expiry")
    check(r.ttl(p + "missing") == -2, "TTL of a missing key")
    check(r.expire(p + "k", 100) is True, "EXPIRE")
    check(98 <= r.ttl(p + "k") <= 100, "TTL after EXPIRE")
    check(r.expire(p + "k", 50, gt=True) is False, "EXPIRE GT refuses a smaller TTL")
    check(0 < r.pttl(p + "k") <= 100000, "PTTL")
    check(r.persist(p + "k") is True and r.ttl(p + "k") == -1, "PERSIST")
    check(r.set(p + "e", "x", ex=1000) and r.ttl(p + "e") > 0, "SET EX")

    # A pipeline with transaction=True (the default): MULTI ... EXEC.
    with r.pipeline() as pipe:
        pipe.set(p + "t", 1).incr(p + "t").get(p + "t").expire(p + "t", 60).ttl(p + "t")
        res = pipe.execute()
    check(res[:4] == [True, 2, b"2", True] and 59 <= res[4] <= 60, f"MULTI/EXEC pipeline: {res}")
    # Optimistic locking with WATCH through the pipeline helper.
    def double(pipe):
        cur = int(pipe.get(p + "t"))
        pipe.multi()
        pipe.set(p + "t", cur * 2)
    r.transaction(double, p + "t")
    check(r.get(p + "t") == b"4", "transaction with WATCH")
    # A non-transactional pipeline of many commands.
    with r.pipeline(transaction=False) as pipe:
        for i in range(1000):
            pipe.incr(p + "pipe")
        res = pipe.execute()
    check(res == list(range(1, 1001)), "plain pipeline")

    # SCAN iteration finds every key, once each (duplicates are allowed by SCAN's contract).
    keys = [f"{p}scan:{i}" for i in range(5000)]
    with r.pipeline(transaction=False) as pipe:
        for k in keys:
            pipe.set(k, "1")
        pipe.execute()
    found = set(r.scan_iter(match=p + "scan:*", count=100))
    check(found == {k.encode() for k in keys}, f"scan_iter found {len(found)} of 5000")
    found = set(r.scan_iter(match=p + "scan:1*", count=1000, _type="string"))
    check(found == {k.encode() for k in keys if k.startswith(p + "scan:1")}, "scan_iter MATCH TYPE")
    check(r.dbsize() >= 5000, "DBSIZE")
    check(r.delete(*keys) == 5000, "DEL of 5000 keys")

    # Under RESP3 a map comes back as a dict directly.
    cfg = r.config_get("maxclients")
    check(cfg == {"maxclients": "10000"}, f"CONFIG GET: {cfg}")
    r.close()


if __name__ == "__main__":
    main(run)
