#!/usr/bin/env python3
"""A/B of two tollgate binaries (or one binary with two sets of flags) on the same machine.

On a shared, noisy machine one run of redis-benchmark says little: the same command varies by
15-20% between runs. This script alternates the two servers run by run and reports, per
workload, the median requests/s and the median CPU time the server spent per request (user +
system, read from /proc/<pid>/stat), which drifts much less than throughput.

    # the working tree against a saved binary of the previous commit
    cp target/release/tollgate /tmp/tollgate-before      # (before the change)
    cargo build --release
    python3 benches/ab.py /tmp/tollgate-before target/release/tollgate

    # one binary, two settings
    python3 benches/ab.py target/release/tollgate target/release/tollgate \\
        --b-args="--shards 256" -w "-t mset" -w "-t set"

    # own workloads: redis-benchmark arguments after -w (default: RL.CHECK, CL.THROTTLE, GET)
    python3 benches/ab.py A B -w "RL.CHECK rl:__rand_int__ 100 60" -P 16 --rounds 6

Prints one line per workload: B/A for CPU per request (lower is better) and for requests/s.
"""
import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile

from ports import free_port, wait_port

DEFAULT_WORKLOADS = [
    "RL.CHECK rl:__rand_int__ 100 60",
    "CL.THROTTLE cl:__rand_int__ 100 1000 60 1",
    "-t get",
]
TICKS = os.sysconf("SC_CLK_TCK")


def start(binary, extra):
    port = free_port()
    # In a fresh working directory: a binary with snapshots neither loads another run's
    # keys from ./data nor leaves its own there (flags would not suit an older binary).
    proc = subprocess.Popen([os.path.abspath(binary), "--port", str(port), "--loglevel", "warning", *shlex.split(extra)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=tempfile.mkdtemp(prefix="tollgate-ab-"))
    wait_port(port, proc)
    return proc, port


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def run(port, pid, workload, pipeline, requests):
    before = cpu_seconds(pid)
    out = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-n", str(requests),
                          "-r", "100000", "-P", str(pipeline), "--csv", *shlex.split(workload)],
                         capture_output=True, text=True, timeout=600)
    spent = cpu_seconds(pid) - before
    lines = [l for l in out.stdout.splitlines() if l and not l.startswith('"test"')]
    if not lines:
        sys.exit(f"redis-benchmark printed nothing for {workload}: {out.stderr.strip()}")
    rps = float(lines[0].split(",")[1].strip('"'))
    return spent * 1e9 / requests, rps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a", help="binary A (the baseline)")
    ap.add_argument("b", help="binary B")
    ap.add_argument("--a-args", default="", help="extra flags for A")
    ap.add_argument("--b-args", default="", help="extra flags for B")
    ap.add_argument("-w", "--workload", action="append", help="redis-benchmark arguments (repeatable)")
    ap.add_argument("-P", "--pipeline", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=4, help="alternating runs per server and workload")
    ap.add_argument("--requests", type=int, default=300000)
    a = ap.parse_args()
    servers = [start(a.a, a.a_args), start(a.b, a.b_args)]
    try:
        for workload in a.workload or DEFAULT_WORKLOADS:
            results = ([], [])
            for _ in range(a.rounds):
                for i, (proc, port) in enumerate(servers):
                    results[i].append(run(port, proc.pid, workload, a.pipeline, a.requests))
            (ca, ra), (cb, rb) = [(statistics.median(c for c, _ in r), statistics.median(x for _, x in r))
                                  for r in results]
            print(f"-P {a.pipeline} {workload}: CPU ns/request A {ca:.0f} B {cb:.0f} (B/A {cb / ca:.2f}); "
                  f"requests/s A {ra:,.0f} B {rb:,.0f} (B/A {rb / ra:.2f})", flush=True)
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait(timeout=15)


if __name__ == "__main__":
    main()
