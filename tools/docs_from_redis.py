#!/usr/bin/env python3
"""Writes COMMAND DOCS entries (src/commands/docs/redis.txt's format) for Redis commands, from
a running redis-server 7.0's own COMMAND DOCS, so that tollgate's docs match it byte for byte.

    redis-server --port 7999 --save '' --daemonize yes
    python3 tools/docs_from_redis.py 7999 zadd zrange 'client|unblock' >> src/commands/docs/redis.txt

Names are lower case; subcommands are `container|sub`. The argument notation is the one
src/commands/docs/argspec.rs parses; an argument shape it cannot write stops the script.
No dependencies: a small RESP3 reader is below.
"""
import socket
import sys


class Resp3:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.f = self.sock.makefile("rb")

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.read()

    def read(self):
        line = self.f.readline()[:-2]
        t, rest = line[:1], line[1:]
        if t in (b"+", b"-"):
            return rest.decode()
        if t == b":":
            return int(rest)
        if t == b"$":
            return self.f.read(int(rest) + 2)[:-2].decode()
        if t in (b"*", b"~"):
            return [self.read() for _ in range(int(rest))]
        if t == b"%":
            return {self.read(): self.read() for _ in range(int(rest))}
        if t == b"_":
            return None
        raise ValueError(line)


def suffix(a):
    flags = a.get("flags", [])
    s = ""
    if "multiple" in flags:
        s += "..."
    if "multiple_token" in flags:
        s += "&"
    if "since" in a:
        s += "@" + a["since"]
    if "deprecated_since" in a:
        s += "!" + a["deprecated_since"]
    return s, "optional" in flags


def simple(a):
    t = a["type"]
    if t == "pure-token":
        tok = a["token"]
        assert tok and tok == tok.upper() and not any(c in tok for c in "[]()|:=@!&. "), tok
        return tok if a["name"] == tok.lower() else a["name"] + "=" + tok
    n = a["name"]
    assert n and not any(c in n for c in "[]()|=@!& ") and n != n.upper() and not n.endswith(":"), n
    if t == "key":
        return n + ":key" + (str(a["key_spec_index"]) if a["key_spec_index"] else "")
    return n if t == "string" else n + ":" + t


def bare_token(a):
    return (a["type"] == "pure-token" and not a.get("flags") and "since" not in a
            and "deprecated_since" not in a and a["name"] == a["token"].lower())


def arg(a, in_oneof=False):
    s, opt = suffix(a)
    t = a["type"]
    o, c = ("[", "]") if opt else ("(", ")")
    if t == "oneof":
        tok = a["token"] + ": " if "token" in a else ""
        return o + a["name"] + ": " + tok + " | ".join(arg(k, True) for k in a["arguments"]) + c + s
    if t == "block":
        kids = a["arguments"]
        tok = a.get("token")
        parts = []
        for i, k in enumerate(kids):
            e = arg(k)
            if i == 0 and not tok and bare_token(k):
                e = "(" + e + ")"
            parts.append(e)
        label = "" if tok and a["name"] == tok.lower() and len(kids) >= 2 else a["name"] + ": "
        return o + label + (tok + " " if tok else "") + " ".join(parts) + c + s
    core = simple(a)
    if t != "pure-token" and "token" in a:
        inner = a["token"] + " " + core
        if opt:
            return "[" + inner + "]" + s
        return inner + s if in_oneof else "(" + inner + ")" + s
    return ("[" + core + "]" + s) if opt else core + s


def entry(name, doc):
    out = [name]
    for f in ("summary", "since", "group", "complexity", "deprecated_since", "replaced_by"):
        if f in doc:
            assert "\n" not in doc[f]
            out.append("  %s: %s" % (f, doc[f]))
    if "doc_flags" in doc:
        out.append("  doc_flags: " + " ".join(doc["doc_flags"]))
    for version, change in doc.get("history", []):
        out.append("  history: %s: %s" % (version, change))
    if doc.get("arguments"):
        out.append("  args: " + " ".join(arg(a) for a in doc["arguments"]))
    return "\n".join(out) + "\n"


def main():
    port, names = int(sys.argv[1]), sys.argv[2:]
    r = Resp3(port)
    r.cmd("HELLO", "3")
    for name in names:
        docs = r.cmd("COMMAND", "DOCS", name)
        if name not in docs:
            sys.exit("redis-server does not know " + name)
        print(entry(name, docs[name]))


if __name__ == "__main__":
    main()
