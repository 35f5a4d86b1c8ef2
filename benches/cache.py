#!/usr/bin/env python3
"""Cache throughput: tollgate's CACHE.GET/CACHE.SET against redis-server's GET/SET ... EX, same run.

Per value size, a fresh release tollgate and a fresh redis-server (no persistence on either)
are each filled with --keys entries (pipelined, from this script), then, alternating the two
servers run by run for --rounds rounds, `redis-benchmark -c 50 -r <keys>` at -P 1 and -P 16:

    tollgate:  CACHE.GET user:__rand_int__ content k             (every GET a hit)
               CACHE.SET user:__rand_int__ content k <value>     (type default TTL, 60m)
    redis:     GET cache:user:__rand_int__:content:k
               SET cache:user:__rand_int__:content:k <value> EX 3600

and prints a Markdown table of the median requests/s, p50/p99, the ratio tollgate/redis and
each server's CPU time per request (/proc), with the date and the machine.

    cargo build --release
    python3 benches/cache.py [--keys 100000] [--size 32 --size 1024 --size 8192] [--rounds 3]

The tollgate binary is `--bin`, else `$CARGO_TARGET_DIR/release/tollgate`, else
`target/release/tollgate`; the script does not build it. Loopback only; bounded in size and time.
"""
import argparse
import csv
import datetime
import io
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile

from ports import free_port
from quota import RUNNING, cli, info, cpu_seconds, default_bin, machine, median_run, spawn, stop, version

CLIENTS = 50
PIPELINES = (1, 16)
SIZES = (32, 1024, 8192)
# -n per (pipeline): ~5 s per run on a shared 2-core VM.
DEFAULT_REQUESTS = {1: 200_000, 16: 1_000_000}


def bench(port, args, pipeline, requests, keys):
    """One redis-benchmark run: (requests/s, p50 ms, p99 ms), as benches/quota.py parses it."""
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(CLIENTS), "-n", str(requests),
           "-r", str(keys), "-P", str(pipeline), "--csv", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    rows = [(float(r["rps"]), float(r["p50_latency_ms"]), float(r["p99_latency_ms"]))
            for r in csv.DictReader(io.StringIO(out.stdout))]
    if not rows:
        sys.exit(f"redis-benchmark printed nothing for {' '.join(cmd[:14])} ...: {out.stderr.strip()}")
    return rows[0]


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def fill(port, commands):
    """Sends the commands pipelined in ~4 MB batches and reads one line per reply (all simple)."""
    sock = socket.create_connection(("127.0.0.1", port))
    f = sock.makefile("rb")
    batch, size = [], 0

    def flush():
        sock.sendall(b"".join(batch))
        for _ in batch:
            line = f.readline()
            if line not in (b":1\r\n", b"+OK\r\n"):
                sys.exit(f"fill: unexpected reply {line!r}")

    for c in commands:
        batch.append(c)
        size += len(c)
        if size >= 4 << 20:
            flush()
            batch, size = [], 0
    if batch:
        flush()
    sock.close()


def start(server, binary, data_dir):
    port = free_port()
    if server == "tollgate":
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--loglevel", "warning", "--save", "",
                "--dir", data_dir, "--appendfsync", "no"]
    else:
        args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", data_dir,
                "--appendonly", "no", "--save", "", "--loglevel", "warning"]
    return spawn(args, port, data_dir + ".log"), port


def subject(n):
    # redis-benchmark's __rand_int__ is 12 digits, zero-padded.
    return f"user:{n:012d}"


def commands(server, size):
    value = "x" * size
    if server == "tollgate":
        return {"GET": ["CACHE.GET", "user:__rand_int__", "content", "k"],
                "SET": ["CACHE.SET", "user:__rand_int__", "content", "k", value]}
    return {"GET": ["GET", "cache:user:__rand_int__:content:k"],
            "SET": ["SET", "cache:user:__rand_int__:content:k", value, "EX", "3600"]}


def fill_commands(server, size, keys):
    value = b"x" * size
    for n in range(keys):
        if server == "tollgate":
            yield encode("CACHE.SET", subject(n), "content", "k", value)
        else:
            yield encode("SET", f"cache:{subject(n)}:content:k", value, "EX", "3600")


def run_size(size, a, parent, results, notes):
    procs = {}
    try:
        for server in ("tollgate", "redis"):
            proc, port = start(server, a.bin, tempfile.mkdtemp(prefix=f"{server}-{size}-", dir=parent))
            procs[server] = (proc, port)
            fill(port, fill_commands(server, size, a.keys))
        probe = cli(procs["tollgate"][1], "CACHE.GET", subject(0), "content", "k")
        if probe != "x" * size:
            sys.exit(f"tollgate did not keep the fill: CACHE.GET answered {probe[:80]!r}")
        for rnd in range(a.rounds):
            for op in ("GET", "SET"):
                for p in a.pipeline or PIPELINES:
                    n = a.requests or DEFAULT_REQUESTS[p]
                    row = results.setdefault((size, op, p), {"tollgate": [], "redis": []})
                    order = ["tollgate", "redis"] if rnd % 2 == 0 else ["redis", "tollgate"]
                    for server in order:
                        proc, port = procs[server]
                        cpu = cpu_seconds(proc.pid)
                        r = bench(port, commands(server, size)[op], p, n, a.keys)
                        r = (*r, (cpu_seconds(proc.pid) - cpu) * 1e6 / n)
                        row[server].append(r)
                        print(f"  {size} B {op} -P {p} round {rnd + 1}: {server} {r[0]:,.0f} rps, "
                              f"p50 {r[1]:.3f} p99 {r[2]:.3f} ms, CPU {r[3]:.1f} us/request", file=sys.stderr, flush=True)
        # Every GET should have been a hit (the fill covers every __rand_int__).
        stats = cli(procs["tollgate"][1], "CACHE.STATS").split("\n")
        tg_misses = stats[stats.index("misses") + 1] if "misses" in stats else "?"
        rd_misses = info(procs["redis"][1], "stats").get("keyspace_misses", "?")
        notes.append(f"{size} B: misses tollgate {tg_misses}, redis {rd_misses}")
        print(f"  {notes[-1]}", file=sys.stderr, flush=True)
    finally:
        for proc, _ in procs.values():
            stop(proc)


def report(a, parent, results, notes):
    model, _ = machine(parent)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"Cache throughput, {now}, {platform.node()}: {os.cpu_count()} CPUs ({model}); "
          f"{version(['redis-server', '--version']).split(' sha')[0]}; {version([a.bin, '--version'])}")
    print(f"\nredis-benchmark -c {CLIENTS} -r {a.keys:,} after filling {a.keys:,} entries; median of {a.rounds} rounds "
          "alternating the two servers; tollgate `CACHE.GET user:__rand_int__ content k` / "
          "`CACHE.SET user:__rand_int__ content k <value>`, redis-server `GET cache:user:__rand_int__:content:k` / "
          "`SET cache:user:__rand_int__:content:k <value> EX 3600`; no persistence on either.\n")
    print("| value | command | pipeline | -n | tollgate rps | redis rps | ratio | tollgate p50/p99 ms | redis p50/p99 ms "
          "| server CPU µs/request, tollgate / redis |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (size, op, p), row in results.items():
        tg = median_run(row["tollgate"]) if row["tollgate"] else None
        rd = median_run(row["redis"]) if row["redis"] else None
        ratio = f"**{tg[0] / rd[0]:.2f}**" if tg and rd and rd[0] else "-"
        cpu = " / ".join(f"{statistics.median(r[3] for r in row[s]):.1f}" if row[s] else "-"
                         for s in ("tollgate", "redis"))
        n = a.requests or DEFAULT_REQUESTS[p]
        fmt = lambda r: f"{r[1]:.3f} / {r[2]:.3f}" if r else "-"  # noqa: E731
        print(f"| {size:,} B | {op} | {p} | {n:,} | {tg[0]:,.0f} | {rd[0]:,.0f} | {ratio} | {fmt(tg)} | {fmt(rd)} | {cpu} |")
    if notes:
        print("\nAfter each size's runs: " + " | ".join(notes))
    sys.stdout.flush()


def on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=default_bin(), help="tollgate binary (default: %(default)s)")
    ap.add_argument("--keys", type=int, default=100_000, help="entries filled, and redis-benchmark -r")
    ap.add_argument("--size", action="append", type=int, help="value sizes (default: 32 1024 8192)")
    ap.add_argument("--requests", type=int, help="redis-benchmark -n for every row (default: per -P, ~5 s each)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating runs per server and row; the median is shown")
    ap.add_argument("--pipeline", action="append", type=int, choices=PIPELINES, help="only these -P depths")
    a = ap.parse_args()
    missing = [t for t in ("redis-benchmark", "redis-cli", "redis-server") if not shutil.which(t)]
    if missing:
        sys.exit(f"cache.py needs {', '.join(missing)} on PATH")
    a.bin = os.path.abspath(a.bin)
    if not os.access(a.bin, os.X_OK):
        sys.exit(f"no tollgate binary at {a.bin}: run `cargo build --release` or pass --bin PATH")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_sigterm)
    parent = tempfile.mkdtemp(prefix="tollgate-cache-bench-")
    results, notes = {}, []
    try:
        for size in a.size or SIZES:
            run_size(size, a, parent, results, notes)
        report(a, parent, results, notes)
    except KeyboardInterrupt:
        print("interrupted: servers stopped", file=sys.stderr)
        sys.exit(130)
    finally:
        for proc in list(RUNNING):
            stop(proc)
        shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()
