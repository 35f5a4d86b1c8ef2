#!/usr/bin/env python3
"""Load comparison: tollgate against redis-server on the same machine, in the same run.

Starts a release tollgate and a redis-server on free loopback ports, runs redis-benchmark
against each (interleaved, so drift on a shared machine hits both alike), and prints a
Markdown table of requests/s, p50, p99 and the ratio tollgate/redis. Also measures RSS per
key for 2M SET keys (16-byte keys, 32-byte values).

    python3 benches/load.py                 # everything
    python3 benches/load.py --only redis    # the Redis-command rows
    python3 benches/load.py --only types       # lists, sets, hashes, zsets, EVALSHA
    python3 benches/load.py --only ratelimit
    python3 benches/load.py --only memory

redis-cell rows need the module: set REDIS_CELL_SO=/path/libredis_cell.so (build it from the
crates.io crate `redis-cell` with cargo); without it those rows are skipped.
"""
import argparse
import csv
import datetime
import io
import os
import platform
import subprocess
import sys
import tempfile

from ports import free_port, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "tollgate")

LUA_TOKEN_BUCKET = """
local key = KEYS[1]
local rate = tonumber(ARGV[1]) / tonumber(ARGV[2])
local burst = tonumber(ARGV[1])
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local b = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or t
tokens = math.min(burst, tokens + (t - ts) * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1 allowed = 1 end
redis.call('HSET', key, 'tokens', tokens, 'ts', t)
redis.call('EXPIRE', key, math.ceil(burst / rate))
return allowed
"""


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


def bench(port, args, clients=50, requests=300000, pipeline=1, rand=100000, extra=()):
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients), "-n", str(requests),
           "-r", str(rand), "-P", str(pipeline), "--csv", *extra, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    rows = {}
    for r in csv.DictReader(io.StringIO(out.stdout)):
        rows[r["test"]] = (float(r["rps"]), float(r["p50_latency_ms"]), float(r["p99_latency_ms"]))
    if not rows:
        sys.exit(f"redis-benchmark printed nothing for {' '.join(cmd)}: {out.stderr}")
    return rows


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def table(title, rows):
    print(f"\n### {title}\n")
    print("| test | pipeline | tollgate rps | redis rps | ratio | tollgate p50/p99 ms | redis p50/p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for name, p, tg, rd in rows:
        ratio = tg[0] / rd[0] if rd[0] else float("nan")
        print(f"| {name} | {p} | {tg[0]:,.0f} | {rd[0]:,.0f} | **{ratio:.2f}** | {tg[1]:.3f} / {tg[2]:.3f} | {rd[1]:.3f} / {rd[2]:.3f} |")
    sys.stdout.flush()


def start(cell_so):
    tg_port, rd_port = free_port(), free_port()
    # No snapshots, as redis-server below runs: a fresh directory and no save points, so a
    # run neither loads the last run's keys nor spends time saving its own.
    tg = subprocess.Popen([BIN, "--port", str(tg_port), "--loglevel", "warning", "--save", "", "--dir", tempfile.mkdtemp(prefix="tollgate-bench-")],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rd_args = ["redis-server", "--port", str(rd_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"]
    if cell_so:
        rd_args += ["--loadmodule", cell_so]
    rd = subprocess.Popen(rd_args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(tg_port, tg)
    wait_port(rd_port, rd)
    return tg, tg_port, rd, rd_port


def median_runs(runs):
    """Per test, the run with the median requests/s."""
    out = {}
    for name in runs[0]:
        vals = sorted((r[name] for r in runs if name in r), key=lambda v: v[0])
        out[name] = vals[len(vals) // 2]
    return out


def paired(tg_port, rd_port, tg_args, rd_args, pipeline, requests, repeat):
    """Alternates tollgate and redis runs `repeat` times; medians of each."""
    tg_runs, rd_runs = [], []
    for _ in range(repeat):
        tg_runs.append(bench(tg_port, tg_args, pipeline=pipeline, requests=requests))
        rd_runs.append(bench(rd_port, rd_args, pipeline=pipeline, requests=requests))
    return median_runs(tg_runs), median_runs(rd_runs)


def run_redis_rows(tg_port, rd_port, requests, repeat):
    rows = []
    for p in (1, 16):
        t = ["-t", "ping,set,get,incr,mset"]
        tg, rd = paired(tg_port, rd_port, t, t, p, requests, repeat)
        for name in tg:
            if name in rd:
                rows.append((name, p, tg[name], rd[name]))
    table("Redis commands (redis-benchmark -c 50 -n %d -r 100000, median of %d alternating runs)" % (requests, repeat), rows)


def run_type_rows(tg_port, rd_port, requests, repeat):
    """The data types and scripting apps bring (issue: drop-in compatibility): the
    redis-benchmark tests of lists, sets, hashes and sorted sets, and a Lua token bucket through
    EVALSHA on both servers (the same script, the same keys)."""
    rows = []
    t = ["-t", "lpush,lpop,sadd,hset,zadd,lrange_100"]
    shas = [cli(port, "SCRIPT", "LOAD", LUA_TOKEN_BUCKET) for port in (tg_port, rd_port)]
    assert shas[0] == shas[1], f"the script's SHA1 differs: {shas}"
    lua = ["EVALSHA", shas[0], "1", "lua:__rand_int__", "1000", "60"]
    one = lambda r: list(r.values())[0]
    for p in (1, 16):
        tg, rd = paired(tg_port, rd_port, t, t, p, requests, repeat)
        for name in tg:
            if name in rd:
                rows.append((name, p, tg[name], rd[name]))
        tg_lua, rd_lua = map(one, paired(tg_port, rd_port, lua, lua, p, requests, repeat))
        rows.append(("EVALSHA token bucket (the same script on both)", p, tg_lua, rd_lua))
    table("Data types and scripting (redis-benchmark -c 50 -n %d -r 100000, median of %d alternating runs)" % (requests, repeat), rows)


def run_ratelimit_rows(tg_port, rd_port, requests, have_cell, repeat):
    sha = cli(rd_port, "SCRIPT", "LOAD", LUA_TOKEN_BUCKET)
    # Each command family gets its own keys: a key written by one (a Lua hash, tollgate's
    # rate-limit state) is the wrong type for the next, which would then bench error replies.
    rl_args = ["RL.CHECK", "rl:__rand_int__", "100", "60"]
    cl_args = ["CL.THROTTLE", "cl:__rand_int__", "100", "1000", "60", "1"]
    lua_args = ["EVALSHA", sha, "1", "lua:__rand_int__", "1000", "60"]
    one = lambda rows: list(rows.values())[0]
    rows = []
    for p in (1, 16):
        tg_rl, rd_lua = map(one, paired(tg_port, rd_port, rl_args, lua_args, p, requests, repeat))
        rows.append(("RL.CHECK vs Lua token bucket (EVALSHA)", p, tg_rl, rd_lua))
        tg_cl, rd_lua2 = map(one, paired(tg_port, rd_port, cl_args, lua_args, p, requests, repeat))
        rows.append(("CL.THROTTLE vs Lua token bucket (EVALSHA)", p, tg_cl, rd_lua2))
        if have_cell:
            tg_rl2, rd_cell = map(one, paired(tg_port, rd_port, rl_args, cl_args, p, requests, repeat))
            rows.append(("RL.CHECK vs redis-cell CL.THROTTLE", p, tg_rl2, rd_cell))
            tg_cl2, rd_cell2 = map(one, paired(tg_port, rd_port, cl_args, cl_args, p, requests, repeat))
            rows.append(("CL.THROTTLE vs redis-cell CL.THROTTLE", p, tg_cl2, rd_cell2))
    table("Rate limiting (tollgate native vs Redis + Lua / redis-cell, -c 50 -n %d -r 100000)" % requests, rows)


def run_memory(keys):
    """RSS growth per key, on a fresh pair of servers: memory freed by earlier rows and kept
    by the allocator would otherwise hide part of the growth."""
    tg, tg_port, rd, rd_port = start(None)
    try:
        memory_rows(tg, tg_port, rd, rd_port, keys)
    finally:
        stop(tg, rd)


def memory_rows(tg, tg_port, rd, rd_port, keys):
    print(f"\n### Memory: {keys:,} SET keys (16-byte keys, 32-byte values), fresh servers\n")
    print("| server | keys | RSS growth | bytes/key | ratio |")
    print("|---|---|---|---|---|")
    results = []
    for name, proc, port in (("tollgate", tg, tg_port), ("redis", rd, rd_port)):
        cli(port, "FLUSHALL")
        before = rss_kb(proc.pid)
        # key:<12 digits> is 16 bytes; a large -r keeps almost every key distinct.
        bench(port, ["-t", "set"], requests=keys, pipeline=64, rand=1_000_000_000, extra=("-d", "32"))
        n = int(cli(port, "DBSIZE") or 0)
        grown = (rss_kb(proc.pid) - before) * 1024
        results.append((name, n, grown))
    base = results[1][2] / max(results[1][1], 1)
    for name, n, grown in results:
        per = grown / max(n, 1)
        print(f"| {name} | {n:,} | {grown / 1048576:.1f} MiB | {per:.1f} | **{per / base:.2f}** |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["redis", "types", "ratelimit", "memory"])
    ap.add_argument("--requests", type=int, default=300000)
    ap.add_argument("--keys", type=int, default=2_000_000)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="alternating runs per row; the median is shown")
    a = ap.parse_args()
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    cell_so = os.environ.get("REDIS_CELL_SO")
    print(f"tollgate load comparison, {datetime.date.today()}, {platform.node()}, {os.cpu_count()} cores, "
          f"{subprocess.run(['redis-server', '--version'], capture_output=True, text=True).stdout.split()[2]}")
    if a.only in (None, "redis", "types", "ratelimit"):
        tg, tg_port, rd, rd_port = start(cell_so)
        try:
            if a.only in (None, "redis"):
                run_redis_rows(tg_port, rd_port, a.requests, a.repeat)
            if a.only in (None, "types"):
                run_type_rows(tg_port, rd_port, a.requests, a.repeat)
            if a.only in (None, "ratelimit"):
                run_ratelimit_rows(tg_port, rd_port, a.requests, bool(cell_so), a.repeat)
        finally:
            stop(tg, rd)
    if a.only in (None, "memory"):
        run_memory(a.keys)


def stop(*procs):
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


if __name__ == "__main__":
    main()
