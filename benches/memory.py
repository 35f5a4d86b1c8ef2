#!/usr/bin/env python3
"""Memory that comes back: tollgate against redis-server on the same machine, in one run.

Four measurements per server (RSS from /proc/<pid>/statm):

  per key     RSS per key for 1M small keys (`SET key:<n> <16 bytes>`) over the empty server.
  expired     RSS left 15 s after 1M keys with PX 1000 expired (the allocator must give the
              pages of freed keys back to the system).
  idle conns  RSS of three idle connections that each sent a 100 MB value (then deleted):
              a read buffer that grew for a big request must shrink after it.
  big SET     peak RSS while one 500 MB value is sent (copies of a big argument on its way in).

    cargo build --release
    python3 benches/memory.py target/release/tollgate
    python3 benches/memory.py target/release/tollgate --other /tmp/tollgate-libc   # A/B two builds

Prints a table with ratios to the first server. Loopback only; bounded in size and time.
"""
import argparse
import os
import socket
import subprocess
import threading
import time

from churn import Conn, encode, redis_cmd, rss_mb, start


def settle(pid, seconds):
    """RSS after `seconds`, polled so that a shrink shows as soon as it happens."""
    end = time.time() + seconds
    while time.time() < end:
        time.sleep(0.5)
    return rss_mb(pid)


def per_key(cmd):
    proc, port = start(cmd)
    try:
        base = rss_mb(proc.pid)
        c = Conn(port)
        c.pipeline([encode("SET", f"key:{i}", "v" * 16) for i in range(1_000_000)])
        return (rss_mb(proc.pid) - base) * 2**20 / 1_000_000
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def expired(cmd):
    proc, port = start(cmd)
    try:
        c = Conn(port)
        c.pipeline([encode("SET", f"key:{i}", "v" * 16, "PX", 1000) for i in range(1_000_000)])
        loaded = rss_mb(proc.pid)
        end = time.time() + 30
        while c.call("DBSIZE") != b"0" and time.time() < end:
            time.sleep(0.1)
        return loaded, settle(proc.pid, 15)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def send_value(port, key, size, chunk=1 << 20):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n" % (len(key), key, size))
    block = b"x" * chunk
    left = size
    while left:
        n = min(left, chunk)
        s.sendall(block[:n])
        left -= n
    s.sendall(b"\r\n")
    assert s.recv(64).startswith(b"+OK")
    return s


def idle_conns(cmd):
    proc, port = start(cmd)
    try:
        base = rss_mb(proc.pid)
        socks = []
        for i in range(3):
            s = send_value(port, b"big%d" % i, 100 * 2**20)
            s.sendall(encode("DEL", f"big{i}"))
            s.recv(64)
            socks.append(s)
        after = settle(proc.pid, 15)
        for s in socks:
            s.close()
        return base, after
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def big_set(cmd):
    proc, port = start(cmd)
    try:
        peak = [rss_mb(proc.pid)]
        done = threading.Event()

        def watch():
            while not done.is_set():
                peak[0] = max(peak[0], rss_mb(proc.pid))
                time.sleep(0.01)

        t = threading.Thread(target=watch)
        t.start()
        send_value(port, b"huge", 500 * 2**20).close()
        time.sleep(0.3)
        done.set()
        t.join()
        return peak[0]
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tollgate", help="the tollgate binary")
    ap.add_argument("--other", help="a second tollgate binary to compare (e.g. another allocator)")
    a = ap.parse_args()
    servers = {"redis": redis_cmd(), "tollgate": [a.tollgate, "--loglevel", "warning"]}
    if a.other:
        servers["other"] = [a.other, "--loglevel", "warning"]
    rows = {}
    for name, cmd in servers.items():
        r = {}
        r["RSS per key (bytes)"] = per_key(cmd)
        loaded, left = expired(cmd)
        r["1M PX keys loaded (MB)"] = loaded
        r["15 s after they expired (MB)"] = left
        base, after = idle_conns(cmd)
        r["3 idle conns after 100 MB each (MB)"] = after
        r["  baseline (MB)"] = base
        r["peak during a 500 MB SET (MB)"] = big_set(cmd)
        rows[name] = r
        print(name, r, flush=True)
    names = list(rows)
    print(f"\n| metric | {' | '.join(names)} | " + " | ".join(f"{n}/redis" for n in names[1:]) + " |")
    print("|---|" + "---|" * (2 * len(names) - 1))
    for metric in rows["redis"]:
        vals = [rows[n][metric] for n in names]
        ratios = [v / vals[0] if vals[0] else float("inf") for v in vals[1:]]
        print(f"| {metric} | {' | '.join(f'{v:,.1f}' for v in vals)} | "
              + " | ".join(f"{x:.2f}" for x in ratios) + " |")


if __name__ == "__main__":
    main()
