#!/usr/bin/env python3
"""Active expiry under churn: tollgate against redis-server on the same machine, in one run.

Two workloads, each run on both servers in turn (same client, same machine, same load):

  churn  redis-benchmark floods db 0 with `SET key:<random> v PX 50` for --seconds, while
         200k distinct keys with PX 1000 sit in db 5 (loaded just before). Reports the SET
         rate, the peak number of keys in db 0 (and that peak divided by the rate: how long
         a key lingers on average), when db 5 reached 0 keys (seconds after its load; its keys
         expire after 1 s), the peak RSS, and the server's CPU time.
  bulk   1M distinct keys with PX 2000 written as fast as possible, then left alone. Reports
         the time from the last write to DBSIZE 0, and the CPU time spent meanwhile (nearly
         all of it is expiry: only the DBSIZE polls are commands).

Both servers report the CPU time of their expiry cycles (INFO `expire_cycle_cpu_milliseconds`;
Redis counts wall time of its cycles, tollgate the sweep thread's CPU time).

    cargo build --release
    python3 benches/churn.py target/release/tollgate            # both workloads
    python3 benches/churn.py target/release/tollgate -w bulk --b-args "--hz 50"

Prints one table per workload with tollgate/redis ratios. Needs redis-server and
redis-benchmark on PATH. Loopback only; every load is bounded in count and time.
"""
import argparse
import os
import shlex
import socket
import subprocess
import sys
import time

from ports import free_port, wait_port

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def start(cmd):
    port = free_port()
    proc = subprocess.Popen([*cmd, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, port


def redis_cmd():
    return ["redis-server", "--save", "", "--appendonly", "no", "--loglevel", "warning"]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """A minimal pipelining RESP client: enough for SELECT, SET and INFO."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(1 << 16)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if line[:1] == b"-":
            raise RuntimeError(line.decode())
        return line[1:]

    def call(self, *args):
        self.sock.sendall(encode(*args))
        return self.reply()

    def pipeline(self, commands, batch=5000):
        for i in range(0, len(commands), batch):
            part = commands[i:i + batch]
            self.sock.sendall(b"".join(part))
            for _ in part:
                self.reply()

    def info_int(self, field):
        info = self.call("INFO", "stats").decode()
        for line in info.splitlines():
            if line.startswith(field + ":"):
                return int(line.split(":")[1])
        return 0

    def keys(self, db):
        info = self.call("INFO", "keyspace").decode()
        for line in info.splitlines():
            if line.startswith(f"db{db}:"):
                return int(line.split("keys=")[1].split(",")[0])
        return 0


def load(port, db, count, px, prefix):
    c = Conn(port)
    c.call("SELECT", db)
    c.pipeline([encode("SET", f"{prefix}{i}", "v", "PX", px) for i in range(count)])
    c.sock.close()


def churn(cmd, seconds):
    proc, port = start(cmd)
    try:
        mon = Conn(port)
        load(port, 5, 200_000, 1000, "db5:")
        loaded = time.time()
        cpu0 = cpu_seconds(proc.pid)
        exp0 = mon.info_int("expire_cycle_cpu_milliseconds")
        bench = subprocess.Popen(
            ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-P", "16", "-r", "100000000",
             "-n", "100000000", "-q", "SET", "key:__rand_int__", "v", "PX", "50"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak_keys = peak_rss = 0
        db5_empty = None
        end = time.time() + seconds
        stats0 = int(mon.call("INFO", "stats").split(b"total_commands_processed:")[1].split(b"\r\n")[0])
        t0 = time.time()
        while time.time() < end:
            peak_keys = max(peak_keys, mon.keys(0))
            peak_rss = max(peak_rss, rss_mb(proc.pid))
            if db5_empty is None and mon.keys(5) == 0:
                db5_empty = time.time() - loaded
            time.sleep(0.05)
        stats1 = int(mon.call("INFO", "stats").split(b"total_commands_processed:")[1].split(b"\r\n")[0])
        rate = (stats1 - stats0) / (time.time() - t0)
        bench.kill()
        bench.wait()
        cpu = cpu_seconds(proc.pid) - cpu0
        exp = (mon.info_int("expire_cycle_cpu_milliseconds") - exp0) / 1000
        return {"SET/s": rate, "peak keys db0": peak_keys, "lingering (s)": peak_keys / rate,
                "db5 empty after (s)": db5_empty if db5_empty is not None else float("inf"),
                "peak RSS (MB)": peak_rss, "CPU (s)": cpu, "of which expiry (s)": exp}
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def bulk(cmd, count, limit):
    proc, port = start(cmd)
    try:
        mon = Conn(port)
        load(port, 0, count, 2000, "bulk:")
        last = time.time()
        cpu0 = cpu_seconds(proc.pid)
        exp0 = mon.info_int("expire_cycle_cpu_milliseconds")
        peak_rss = rss_mb(proc.pid)
        empty = None
        while time.time() < last + limit:
            if mon.keys(0) == 0:
                empty = time.time() - last
                break
            time.sleep(0.02)
        cpu = cpu_seconds(proc.pid) - cpu0
        exp = (mon.info_int("expire_cycle_cpu_milliseconds") - exp0) / 1000
        time.sleep(1)
        return {"to DBSIZE 0 (s)": empty if empty is not None else float("inf"),
                "CPU until then (s)": cpu, "of which expiry (s)": exp, "RSS at load (MB)": peak_rss,
                "RSS 1s after (MB)": rss_mb(proc.pid)}
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def table(name, results):
    print(f"\n{name}")
    names = list(results)
    print(f"| metric | {' | '.join(names)} | {names[1]}/{names[0]} |")
    print("|---|" + "---|" * (len(names) + 1))
    for metric in results[names[0]]:
        vals = [results[n][metric] for n in names]
        ratio = vals[1] / vals[0] if vals[0] else float("inf")
        print(f"| {metric} | {' | '.join(f'{v:,.2f}' for v in vals)} | {ratio:.2f} |")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tollgate", help="the tollgate binary")
    ap.add_argument("--b-args", default="", help="extra flags for tollgate")
    ap.add_argument("-w", "--workload", action="append", choices=["churn", "bulk"])
    ap.add_argument("--seconds", type=float, default=15, help="length of the churn")
    ap.add_argument("--keys", type=int, default=1_000_000, help="keys of the bulk workload")
    a = ap.parse_args()
    servers = {"redis": redis_cmd(), "tollgate": [a.tollgate, "--loglevel", "warning", *shlex.split(a.b_args)]}
    for w in a.workload or ["churn", "bulk"]:
        if w == "churn":
            table(f"churn: SET PX 50 for {a.seconds:.0f} s in db 0, 200k PX 1000 keys in db 5",
                  {n: churn(c, a.seconds) for n, c in servers.items()})
        else:
            table(f"bulk: {a.keys:,} keys PX 2000, then idle",
                  {n: bulk(c, a.keys, 60) for n, c in servers.items()})


if __name__ == "__main__":
    main()
