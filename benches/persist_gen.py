"""Writes the 1,000,000-key data set of the README's persistence numbers as RESP commands:
900,000 SETs of 10-16 byte values (a fifth with EX 86400) and 100,000 RL.CHECKs.
Usage: python3 benches/persist_gen.py OUT.resp (then `redis-cli --pipe < OUT.resp`)."""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from churn import encode as cmd  # noqa: E402  (the RESP encoder the bench scripts share)

random.seed(7)
with open(sys.argv[1], "wb") as f:
    buf = []
    for i in range(900_000):
        v = "v%0*d" % (random.randint(9, 15), i)
        if i % 5 == 0:
            buf.append(cmd("SET", "key:%d" % i, v, "EX", 86400))
        else:
            buf.append(cmd("SET", "key:%d" % i, v))
        if len(buf) > 10000:
            f.write(b"".join(buf)); buf = []
    for i in range(100_000):
        buf.append(cmd("RL.CHECK", "rl:%d" % i, 100, "1h"))
        if len(buf) > 10000:
            f.write(b"".join(buf)); buf = []
    f.write(b"".join(buf))
