#!/usr/bin/env python3
"""Memory per cache entry: tollgate's CACHE.SET against redis-server's SET ... EX, same run.

For each value size (32 B, 1 KB, 8 KB: an embedding is a few KB), a fresh release tollgate and
a fresh redis-server (no persistence on either) each store --entries entries:

    tollgate:  CACHE.SET user:<n % 1000> content job:<n> <value>          (type default TTL, 60m)
    redis:     SET cache:user:<n % 1000>:content:job:<n> <value> EX 3600

Every value is distinct (it starts with its entry number). Reported per entry: RSS growth
(/proc/<pid>/statm, after the load minus before it), that minus the value size (the overhead
of an entry: key, bookkeeping, allocator rounding and slack), and used_memory growth (INFO
memory; what maxmemory compares against). For tollgate also CACHE.STATS `bytes` per entry.

    cargo build --release
    python3 benches/cache_memory.py [--entries 200000] [--bin $CARGO_TARGET_DIR/release/tollgate]

Loopback only; bounded in size (entries x value size per server, one server at a time) and time.
"""
import argparse
import datetime
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from ports import free_port, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.sysconf("SC_PAGE_SIZE")
SIZES = (32, 1024, 8192)
SUBJECTS = 1000
BATCH_BYTES = 4 << 20


def default_bin():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    return os.path.join(target, "release", "tollgate")


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def read_reply(f):
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind in (b"*", b"%"):
        n = int(rest) * (2 if kind == b"%" else 1)
        return [read_reply(f) for _ in range(max(n, 0))]
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        return f.read(n + 2)[:-2]
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if not kind:
        raise RuntimeError("connection closed")
    return rest


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.f = self.sock.makefile("rb")

    def cmd(self, *args):
        self.sock.sendall(encode(*args))
        return read_reply(self.f)

    def used_memory(self):
        info = self.cmd("INFO", "memory").decode()
        return int(info.split("used_memory:")[1].split("\r\n")[0])

    def load(self, commands):
        """Sends the commands pipelined in batches of ~4 MB; every reply must be 1 or OK."""
        batch, size = [], 0
        for c in commands:
            batch.append(c)
            size += len(c)
            if size >= BATCH_BYTES:
                self._flush(batch)
                batch, size = [], 0
        if batch:
            self._flush(batch)

    def _flush(self, batch):
        self.sock.sendall(b"".join(batch))
        for _ in batch:
            r = read_reply(self.f)
            if r not in (b"1", b"OK"):
                raise RuntimeError(f"unexpected reply {r!r}")


def value(n, size, pad):
    head = b"%d:" % n
    return (head + pad)[:size]


def start(cmd, port):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stats_bytes(conn):
    """CACHE.STATS `bytes` (a flat field/value array in RESP2)."""
    r = conn.cmd("CACHE.STATS")
    return int(r[r.index(b"bytes") + 1])


def measure(server, binary, entries, size, data_dir):
    port = free_port()
    if server == "tollgate":
        cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", data_dir, "--save", "",
               "--appendfsync", "no", "--loglevel", "warning"]
    else:
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", data_dir, "--save", "",
               "--appendonly", "no", "--loglevel", "warning"]
    proc = start(cmd, port)
    try:
        c = Conn(port)
        base_rss, base_used = rss_bytes(proc.pid), c.used_memory()
        pad = bytes((97 + i % 26) for i in range(size))
        if server == "tollgate":
            cmds = (encode("CACHE.SET", f"user:{n % SUBJECTS}", "content", f"job:{n}", value(n, size, pad))
                    for n in range(entries))
        else:
            cmds = (encode("SET", f"cache:user:{n % SUBJECTS}:content:job:{n}", value(n, size, pad), "EX", "3600")
                    for n in range(entries))
        t = time.time()
        c.load(cmds)
        secs = time.time() - t
        # Let a background allocator thread settle (it returns freed pages, not live ones).
        time.sleep(1)
        rss = (rss_bytes(proc.pid) - base_rss) / entries
        used = (c.used_memory() - base_used) / entries
        stats = stats_bytes(c) / entries if server == "tollgate" else None
        return {"rss": rss, "used": used, "stats": stats, "secs": secs}
    finally:
        stop(proc)


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return model


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=default_bin(), help="tollgate binary (default: %(default)s)")
    ap.add_argument("--entries", type=int, default=200_000)
    ap.add_argument("--size", action="append", type=int, help="only these value sizes (default: 32 1024 8192)")
    a = ap.parse_args()
    if not shutil.which("redis-server"):
        sys.exit("cache_memory.py needs redis-server on PATH")
    a.bin = os.path.abspath(a.bin)
    if not os.access(a.bin, os.X_OK):
        sys.exit(f"no tollgate binary at {a.bin}: run `cargo build --release` or pass --bin PATH")
    parent = tempfile.mkdtemp(prefix="tollgate-cmem-")
    rows = []
    try:
        for size in a.size or SIZES:
            got = {}
            for server in ("tollgate", "redis"):
                d = tempfile.mkdtemp(prefix=f"{server}-", dir=parent)
                got[server] = measure(server, a.bin, a.entries, size, d)
                g = got[server]
                print(f"  {size} B {server}: RSS {g['rss']:,.0f} B/entry, used_memory {g['used']:,.0f} B/entry, "
                      f"load {g['secs']:.1f} s", file=sys.stderr, flush=True)
            rows.append((size, got))
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"Memory per cache entry, {now}, {platform.node()}: {os.cpu_count()} CPUs ({machine()}); "
          f"{version(['redis-server', '--version']).split(' sha')[0]}; {version([a.bin, '--version'])}")
    print(f"\n{a.entries:,} entries per row on a fresh server each, {SUBJECTS} subjects; tollgate "
          "`CACHE.SET user:<s> content job:<n> <value>`, redis-server `SET cache:user:<s>:content:job:<n> <value> EX 3600`. "
          "Bytes per entry; overhead = RSS per entry minus the value size.\n")
    print("| value | tollgate RSS | tollgate overhead | tollgate used_memory | tollgate CACHE.STATS bytes "
          "| redis RSS | redis overhead | redis used_memory | RSS tollgate/redis | overhead tollgate/redis |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size, got in rows:
        tg, rd = got["tollgate"], got["redis"]
        to, ro = tg["rss"] - size, rd["rss"] - size
        print(f"| {size:,} B | {tg['rss']:,.0f} | {to:,.0f} | {tg['used']:,.0f} | {tg['stats']:,.0f} "
              f"| {rd['rss']:,.0f} | {ro:,.0f} | {rd['used']:,.0f} | {tg['rss'] / rd['rss']:.2f} "
              f"| {to / ro if ro > 0 else float('nan'):.2f} |")


if __name__ == "__main__":
    main()
