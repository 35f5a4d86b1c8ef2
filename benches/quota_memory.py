#!/usr/bin/env python3
"""Memory per quota subject: RSS and used_memory per subject of the default (freemium) plan.

Three shapes of subject, each on a fresh server (release build, its own data directory, fsync
`no` so that the load runs at memory speed; what is measured is memory, not the disk):

  1 charge       one QUOTA.CHARGE without ID (counters and one ledger entry)
  10 with ids    ten charges with distinct IDs (ids remembered 24 h, refundable)
  100 with ids   a hundred: the ledger full (100 entries) and 100 ids remembered

    cargo build --release
    python3 benches/quota_memory.py [--subjects 20000] [--bin target/release/tollgate]

Loopback only; bounded in size and time.
"""
import argparse
import os
import subprocess
import tempfile

from churn import encode, rss_mb
from ports import free_port, wait_port
import socket

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"-":
        raise RuntimeError(rest.decode())
    return rest


def run(binary, subjects, charges, with_ids):
    port = free_port()
    d = tempfile.mkdtemp(prefix="tollgate-qmem-")
    proc = subprocess.Popen([binary, "--port", str(port), "--dir", d, "--save", "", "--appendfsync", "no",
                             "--loglevel", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        sock = socket.create_connection(("127.0.0.1", port))
        f = sock.makefile("rb")

        def used_memory():
            sock.sendall(encode("INFO", "memory"))
            info = read_reply(f).decode()
            return int(info.split("used_memory:")[1].split("\r\n")[0])

        base_rss, base_used = rss_mb(proc.pid), used_memory()
        batch = []
        for s in range(subjects):
            for c in range(charges):
                args = ["QUOTA.CHARGE", f"user:{s}", "tokens", 3]
                if with_ids:
                    args += ["ID", f"req-{s}-{c:04d}-0123456789abcdef"]
                batch.append(encode(*args))
            if len(batch) >= 2000 or s == subjects - 1:
                sock.sendall(b"".join(batch))
                for _ in batch:
                    read_reply(f)
                batch = []
        rss = (rss_mb(proc.pid) - base_rss) * 2**20 / subjects
        used = (used_memory() - base_used) / subjects
        return rss, used
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "tollgate"))
    ap.add_argument("--subjects", type=int, default=20000)
    args = ap.parse_args()
    print("| subject | RSS bytes per subject | used_memory bytes per subject |")
    print("|---|---|---|")
    for name, charges, ids, n in [("1 charge", 1, False, args.subjects),
                                  ("10 charges with ids", 10, True, args.subjects),
                                  ("100 charges with ids", 100, True, max(args.subjects // 10, 100))]:
        rss, used = run(args.bin, n, charges, ids)
        print(f"| {name} ({n} subjects) | {rss:,.0f} | {used:,.0f} |")


if __name__ == "__main__":
    main()
