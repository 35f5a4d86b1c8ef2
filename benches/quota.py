#!/usr/bin/env python3
"""Durable quota charges: tollgate's QUOTA.CHARGE against redis-server with an AOF, same run.

Per fsync policy (`always`, `everysec`), starts a release tollgate (`--appendfsync <policy>`)
and a redis-server (`--appendonly yes --appendfsync <policy>`), each in a fresh data
directory, both under one `tempfile.mkdtemp()` parent in /tmp (same filesystem, so the
fsyncs cost the same), no snapshot save points on either. Then, alternating the two servers
run by run for `--rounds` rounds, `redis-benchmark -c 50 -r 1000000` at `-P 1` and `-P 16`:

    tollgate:  QUOTA.CHARGE user:__rand_int__ tokens 100
    redis:     EVALSHA <sha> 1 user:__rand_int__ 100 86400   (INCRBY, and EXPIRE on the first)

and prints a Markdown table of the median requests/s, p50/p99 and the ratio tollgate/redis
per row, with the date, the machine and the data directory's filesystem; also each server's
CPU time per request (/proc, as benches/ab.py reads it: steadier than requests/s on a shared
machine) and, from tollgate's `INFO persistence` (quota_log_writes, quota_log_fsyncs), the
charges per log write and per fsync: how many charges, across connections, one fsync carried.

    cargo build --release
    python3 benches/quota.py                      # both servers
    python3 benches/quota.py --only redis         # the redis half alone
    python3 benches/quota.py --bin /path/to/tollgate --rounds 5 --requests 100000

`--requests` sets -n for every row; by default each row has its own -n (the always rows are
an order of magnitude slower than the everysec ones), sized for ~5 s per run on a 2-core VM.
The tollgate binary is `--bin`, else `$CARGO_TARGET_DIR/release/tollgate`, else
`target/release/tollgate`; the script does not build it.
"""
import argparse
import csv
import datetime
import io
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

from ports import free_port, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The usual Redis quota counter: one atomic script, the TTL set by the charge that creates
# the key (a day window).
LUA_CHARGE = ("local v = redis.call('INCRBY', KEYS[1], ARGV[1]) "
              "if v == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end return v")

POLICIES = ("always", "everysec")
PIPELINES = (1, 16)
CLIENTS = 50
RAND = 1_000_000
# -n per (policy, pipeline): ~5 s per run of redis-server on the shared 2-core VM of the
# README's tables (it answered 32-41k/s at always -P 1, 80-140k/s at always -P 16, 40-70k/s
# at everysec -P 1, 100-115k/s at everysec -P 16).
DEFAULT_REQUESTS = {
    ("always", 1): 150_000,
    ("always", 16): 400_000,
    ("everysec", 1): 250_000,
    ("everysec", 16): 500_000,
}

# Every server this script started, killed in main()'s finally (also on Ctrl-C or SIGTERM).
RUNNING = []


def default_bin():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    return os.path.join(target, "release", "tollgate")


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
                         capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


def info(port, section):
    """`INFO <section>` as a dict of its fields."""
    fields = {}
    for line in cli(port, "INFO", section).splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            fields[k] = v.strip()
    return fields


# tollgate's INFO persistence counters of the quota log (each absent from a binary without them).
# (quota_log_records is not one: it counts the records of the current file, and a rewrite
# starts it again.)
LOG_COUNTERS = ("quota_log_writes", "quota_log_fsyncs")


def log_counters(port):
    fields = info(port, "persistence")
    return {k: int(fields[k]) for k in LOG_COUNTERS if re.fullmatch(r"\d+", fields.get(k, ""))}


def bench(port, args, pipeline, requests):
    """One redis-benchmark run: (requests/s, p50 ms, p99 ms), as benches/load.py parses it."""
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(CLIENTS), "-n", str(requests),
           "-r", str(RAND), "-P", str(pipeline), "--csv", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    rows = [(float(r["rps"]), float(r["p50_latency_ms"]), float(r["p99_latency_ms"]))
            for r in csv.DictReader(io.StringIO(out.stdout))]
    if not rows:
        sys.exit(f"redis-benchmark printed nothing for {' '.join(cmd)}: {out.stderr.strip()}")
    return rows[0]


def spawn(args, port, log_path):
    """Starts a server, its output to a file (a pipe nobody reads could fill and stall it)."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    RUNNING.append(proc)
    try:
        wait_port(port, proc)
    except SystemExit as e:
        with open(log_path) as f:
            sys.exit(f"{e}: {shlex.join(args)}\n{f.read().strip()}")
    return proc


def start_tollgate(binary, policy, data_dir):
    port = free_port()
    proc = spawn([binary, "--port", str(port), "--bind", "127.0.0.1", "--loglevel", "warning", "--save", "",
                  "--dir", data_dir, "--appendfsync", policy], port, data_dir + ".log")
    reply = cli(port, "QUOTA.CHARGE", "user:probe", "tokens", "100")
    if not reply or "ERR" in reply or "unknown" in reply.lower():
        sys.exit(f"tollgate ({binary}) does not answer QUOTA.CHARGE: {reply!r}")
    got = cli(port, "CONFIG", "GET", "appendfsync").split()
    if got[-1:] != [policy]:
        sys.exit(f"tollgate reports appendfsync {got!r}, expected {policy}")
    return proc, port


def start_redis(policy, data_dir):
    port = free_port()
    proc = spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", data_dir,
                  "--appendonly", "yes", "--appendfsync", policy, "--save", "", "--loglevel", "warning"], port, data_dir + ".log")
    sha = cli(port, "SCRIPT", "LOAD", LUA_CHARGE)
    if not re.fullmatch(r"[0-9a-f]{40}", sha):
        sys.exit(f"redis-server did not load the script: {sha!r}")
    return proc, port, sha


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in RUNNING:
        RUNNING.remove(proc)


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time of a process so far (as benches/ab.py reads it)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def median_run(runs):
    """The run with the median requests/s (its latencies come with it)."""
    return sorted(runs, key=lambda r: r[0])[len(runs) // 2]


def machine(data_parent):
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    df = subprocess.run(["df", "-T", data_parent], capture_output=True, text=True).stdout.splitlines()
    fs = "?"
    if len(df) > 1:
        cols = df[1].split()
        fs = f"{cols[1]} on {cols[0]} (mounted at {cols[-1]})"
    return model, fs


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return "?"


def run_policy(policy, a, parent, results, fsyncs, notes):
    tg = rd = None
    tg_port = rd_port = sha = None
    try:
        if a.only in (None, "tollgate"):
            tg, tg_port = start_tollgate(a.bin, policy, tempfile.mkdtemp(prefix=f"tollgate-{policy}-", dir=parent))
        if a.only in (None, "redis"):
            rd, rd_port, sha = start_redis(policy, tempfile.mkdtemp(prefix=f"redis-{policy}-", dir=parent))
        tg_args = ["QUOTA.CHARGE", "user:__rand_int__", "tokens", "100"]
        rd_args = ["EVALSHA", sha or "", "1", "user:__rand_int__", "100", "86400"]
        for rnd in range(a.rounds):
            for p in a.pipeline or PIPELINES:
                n = a.requests or DEFAULT_REQUESTS[(policy, p)]
                row = results.setdefault((policy, p), {"tollgate": [], "redis": []})
                # Alternate which server goes first, so a drift within the round hits both.
                order = [("tollgate", tg, tg_port, tg_args), ("redis", rd, rd_port, rd_args)]
                if rnd % 2:
                    order.reverse()
                for name, proc, port, args in order:
                    if port is None:
                        continue
                    before = log_counters(port) if name == "tollgate" else {}
                    cpu = cpu_seconds(proc.pid)
                    r = bench(port, args, p, n)
                    r = (*r, (cpu_seconds(proc.pid) - cpu) * 1e6 / n)
                    row[name].append(r)
                    grown = ""
                    if name == "tollgate":
                        after = log_counters(port)
                        delta = {k: after[k] - before.get(k, 0) for k in after}
                        fsyncs.setdefault((policy, p), []).append((n, delta))
                        grown = "; " + ", ".join(f"{k} +{v:,}" for k, v in delta.items())
                    print(f"  {policy} -P {p} round {rnd + 1}: {name} {r[0]:,.0f} rps, "
                          f"p50 {r[1]:.3f} p99 {r[2]:.3f} ms, CPU {r[3]:.1f} us/request (-n {n}){grown}", file=sys.stderr, flush=True)
        # What else the servers did meanwhile: log/AOF rewrites (both rewrite at 100% growth
        # over 64 MB by default), and charges tollgate denied (the freemium plan's 10,000
        # tokens a day is 100 charges of one subject; -r 1000000 repeats few).
        said = []
        if tg_port is not None:
            said.append(f"tollgate aof_rewrites {info(tg_port, 'persistence').get('aof_rewrites', '?')}")
            said += [f"{k} {v}" for k, v in info(tg_port, "quota").items() if k.startswith("quota_") and "charges=" in v]
        if rd_port is not None:
            said.append(f"redis aof_rewrites {info(rd_port, 'persistence').get('aof_rewrites', '?')}")
        notes.append(f"{policy}: " + "; ".join(said))
        print(f"  {notes[-1]}", file=sys.stderr, flush=True)
    finally:
        for proc in (tg, rd):
            if proc is not None:
                stop(proc)


def cpu_per_request(runs):
    return f"{statistics.median(r[3] for r in runs):.1f}" if runs else "-"


def fmt(r):
    return f"{r[1]:.3f} / {r[2]:.3f}" if r else "-"


def report(a, parent, results, fsyncs, notes):
    model, fs = machine(parent)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"QUOTA.CHARGE durability benchmark, {now}, {platform.node()}: {os.cpu_count()} CPUs ({model}); "
          f"data dirs under {parent} ({fs}); {version(['redis-server', '--version']).split(' sha')[0]}"
          + (f"; {version([a.bin, '--version'])}" if a.only != "redis" else ""))
    print(f"\nredis-benchmark -c {CLIENTS} -r {RAND:,}; median of {a.rounds} rounds alternating the two servers; "
          "tollgate `QUOTA.CHARGE user:__rand_int__ tokens 100`, redis-server `--appendonly yes` "
          "`EVALSHA <INCRBY + EXPIRE> 1 user:__rand_int__ 100 86400`; no snapshot save points on either.\n")
    have_fsync = any(d.get("quota_log_writes") for runs in fsyncs.values() for _, d in runs)
    head = ("| appendfsync | pipeline | -n | tollgate rps | redis rps | ratio | tollgate p50/p99 ms | redis p50/p99 ms "
            "| server CPU µs/request, tollgate / redis |")
    sep = "|---|---|---|---|---|---|---|---|---|"
    if have_fsync:
        head += " tollgate charges per log write / per fsync |"
        sep += "---|"
    print(head)
    print(sep)
    for (policy, p), row in results.items():
        tg = median_run(row["tollgate"]) if row["tollgate"] else None
        rd = median_run(row["redis"]) if row["redis"] else None
        ratio = f"**{tg[0] / rd[0]:.2f}**" if tg and rd and rd[0] else "-"
        n = a.requests or DEFAULT_REQUESTS[(policy, p)]
        line = (f"| {policy} | {p} | {n:,} | {f'{tg[0]:,.0f}' if tg else '-'} | {f'{rd[0]:,.0f}' if rd else '-'} "
                f"| {ratio} | {fmt(tg)} | {fmt(rd)} | {cpu_per_request(row['tollgate'])} / {cpu_per_request(row['redis'])} |")
        if have_fsync:
            runs = [(req, d) for req, d in fsyncs.get((policy, p), []) if d.get("quota_log_writes")]
            per_write = [req / d["quota_log_writes"] for req, d in runs]
            per_fsync = [req / d["quota_log_fsyncs"] for req, d in runs if d.get("quota_log_fsyncs")]
            line += (f" {statistics.median(per_write):,.1f} / " if per_write else " - / ") + \
                (f"{statistics.median(per_fsync):,.0f} |" if per_fsync else "- |")
        print(line)
    if have_fsync:
        print("\nCharges per log write / per fsync: -n over the growth of quota_log_writes and quota_log_fsyncs "
              "(INFO persistence) during the run, medians over the rounds (every charge appends one record while none "
              "is denied: see `denied=` below); under `always` every write is synced, so charges per fsync is how many "
              "charges, across connections, one fsync carried. Server CPU: user + system time of the server process "
              "during the run (/proc/<pid>/stat) over -n, median over the rounds; it drifts less than requests/s on a "
              "shared machine.")
    if notes:
        print("\nAt the end of each policy's runs: " + " | ".join(notes))
    sys.stdout.flush()


def on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["redis", "tollgate"], help="run one half (redis: before QUOTA.CHARGE exists)")
    ap.add_argument("--bin", default=default_bin(), help="tollgate binary (default: %(default)s)")
    ap.add_argument("--requests", type=int, help="redis-benchmark -n for every row (default: per row, ~5 s each)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating runs per server and row; the median is shown")
    ap.add_argument("--policy", action="append", choices=POLICIES, help="only these appendfsync policies")
    ap.add_argument("--pipeline", action="append", type=int, choices=PIPELINES, help="only these -P depths")
    a = ap.parse_args()
    need = ["redis-benchmark", "redis-cli"] + (["redis-server"] if a.only != "tollgate" else [])
    missing = [t for t in need if not shutil.which(t)]
    if missing:
        sys.exit(f"quota.py needs {', '.join(missing)} on PATH (Debian/Ubuntu: apt-get install redis-server redis-tools)")
    if a.only != "redis":
        a.bin = os.path.abspath(a.bin)
        if not os.access(a.bin, os.X_OK):
            sys.exit(f"no tollgate binary at {a.bin}: run `cargo build --release` or pass --bin PATH "
                     "(or --only redis for the redis half)")
    # Ctrl-C and SIGTERM unwind through the finally below (a shell that started this in the
    # background may have left SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_sigterm)
    parent = tempfile.mkdtemp(prefix="tollgate-quota-bench-")
    results, fsyncs, notes = {}, {}, []
    try:
        for policy in a.policy or POLICIES:
            run_policy(policy, a, parent, results, fsyncs, notes)
        report(a, parent, results, fsyncs, notes)
    except KeyboardInterrupt:
        print("interrupted: servers stopped", file=sys.stderr)
        sys.exit(130)
    finally:
        for proc in list(RUNNING):
            stop(proc)
        shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()
