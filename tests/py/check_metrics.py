"""Scrapes tollgate's /metrics while redis-py clients put load on it, parses every scrape with
the `prometheus-client` package's OpenMetrics parser, and lints the names against
Prometheus's conventions (promtool's `check metrics` is not installable here; these are its
rules that apply, and a few of the naming guide's). Then checks that what the load did shows.

    python3 check_metrics.py <redis port> <metrics port>

Prints OK last."""

import json
import re
import sys
import threading
import time
import urllib.error
import urllib.request

from harness import check, redis

try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError:
    print("prometheus-client is not installed: pip install prometheus-client", file=sys.stderr)
    sys.exit(2)

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Units Prometheus asks not to use: base units only (seconds, bytes), no prefixes.
BAD_UNITS = re.compile(r"_(ms|msec|millis|milliseconds|us|usec|micros|microseconds|ns|"
                       r"nanoseconds|minutes|hours|days|kb|mb|gb|kilobytes|megabytes|bits)(_|$)")


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def lint(text):
    """The families of one scrape, after checking the exposition's conventions."""
    check(text.endswith("# EOF\n"), "the exposition ends with # EOF")
    helps, types = set(), {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split(" ")[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            check(name not in types, f"{name}: one TYPE line")
            types[name] = kind
    families = list(text_string_to_metric_families(text))
    check(families, "some metrics")
    for f in families:
        n = f.name
        check(NAME.match(n), f"{n}: a valid metric name")
        check(n.startswith("tollgate_"), f"{n}: the tollgate_ prefix")
        check(n in helps and f.documentation.strip(), f"{n}: HELP present")
        check(n in types and f.type != "unknown", f"{n}: TYPE present")
        check(not BAD_UNITS.search(n), f"{n}: base units only")
        check(not n.endswith("_total"), f"{n}: _total belongs to the samples, not the family")
        if f.unit:
            check(n.endswith("_" + f.unit), f"{n}: its unit {f.unit} is its suffix")
        for word in ("seconds", "bytes"):
            if word in n.split("_"):
                check(n.endswith("_" + word) and f.unit == word,
                      f"{n}: {word} is a declared unit and the suffix")
        if f.type in ("gauge", "info"):
            check(not n.endswith(("_count", "_sum", "_bucket")), f"{n}: no reserved suffix")
        seen = set()
        for s in f.samples:
            for label in s.labels:
                check(LABEL.match(label) and not label.startswith("__"),
                      f"{n}: label name {label!r}")
            key = (s.name, tuple(sorted(s.labels.items())))
            check(key not in seen, f"{s.name}{s.labels}: one sample per label set")
            seen.add(key)
            if f.type == "counter":
                check(s.name in (n + "_total", n + "_created"), f"{s.name}: a counter's _total")
                check(s.value >= 0, f"{s.name}: a counter is not negative")
        if f.type == "histogram":
            by = {}
            for s in f.samples:
                labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                by.setdefault(labels, {}).setdefault(s.name, []).append(s)
            for labels, parts in by.items():
                buckets = parts[n + "_bucket"]
                check(buckets[-1].labels["le"] == "+Inf", f"{n}{labels}: a +Inf bucket")
                counts = [b.value for b in buckets]
                check(counts == sorted(counts), f"{n}{labels}: cumulative buckets")
                check(parts[n + "_count"][0].value == counts[-1], f"{n}{labels}: count = +Inf")
    return {f.name: f for f in families}


def value(families, name, **labels):
    f = families.get(name)
    check(f is not None, f"{name} is exported")
    total = 0.0
    found = False
    for s in f.samples:
        if s.name in (name + "_total", name, name + "_count") and all(s.labels.get(k) == v for k, v in labels.items()):
            total += s.value
            found = True
    check(found, f"{name}{labels} has a sample")
    return total


def load(port, stop, counts):
    r = redis.Redis(port=port, protocol=3)
    i = 0
    while not stop.is_set():
        p = r.pipeline(transaction=False)
        for _ in range(20):
            i += 1
            p.set(f"k{i % 500}", "v" * 50)
            p.get(f"k{i % 700}")
            p.execute_command("RL.CHECK", f"user:{i % 5}", "POLICY", "auth")
            p.execute_command("QUOTA.CHARGE", f"sub:{i % 3}", "calls", 1)
            p.execute_command("CACHE.SET", f"u{i % 4}", "content", f"doc{i % 9}", "text",
                              "TOKENS", 10, "COST", "0.01")
            p.execute_command("CACHE.GET", f"u{i % 4}", "content", f"doc{i % 13}")
        p.execute_command("NOSUCHCOMMAND")
        p.execute(raise_on_error=False)
        counts["batches"] += 1


def main():
    port, mport = int(sys.argv[1]), int(sys.argv[2])
    status, ctype, body = get(mport, "/health")
    check(status == 200, f"/health while serving: {status} {body}")
    check(ctype.startswith("application/json"), f"/health is JSON: {ctype}")
    check(json.loads(body)["status"] == "ok", body)
    check(get(mport, "/nope")[0] == 404, "an unknown path is 404")

    stop, counts = threading.Event(), {"batches": 0}
    workers = [threading.Thread(target=load, args=(port, stop, counts)) for _ in range(3)]
    for w in workers:
        w.start()
    scrapes = 0
    deadline = time.monotonic() + 3
    try:
        while time.monotonic() < deadline:
            status, ctype, text = get(mport, "/metrics")
            check(status == 200, f"/metrics: {status}")
            check(ctype.startswith("application/openmetrics-text"), ctype)
            lint(text)
            scrapes += 1
            time.sleep(0.05)
    finally:
        stop.set()
        for w in workers:
            w.join()
    check(counts["batches"] > 0 and scrapes > 3, f"load ran ({counts}) and was scraped ({scrapes})")

    m = lint(get(mport, "/metrics")[2])
    check(value(m, "tollgate_commands", cmd="set") >= counts["batches"] * 20, "SETs counted")
    check(value(m, "tollgate_command_duration_seconds", cmd="get") > 0, "GET latency histogram")
    check(value(m, "tollgate_commands_rejected") >= 0, "rejections exported")
    check(value(m, "tollgate_error_replies", code="ERR") >= counts["batches"], "errors by code")
    check(value(m, "tollgate_keys", db="0") == 500 + 5 + 3, "keys of db 0: strings, limits, quota subjects")
    check(value(m, "tollgate_used_memory_bytes") > 0, "used memory")
    check(value(m, "tollgate_connected_clients") >= 1, "clients")
    check(value(m, "tollgate_ratelimit_decisions", policy="auth", result="denied") > 0,
          "rate-limit denials per policy")
    check(value(m, "tollgate_ratelimit_decisions", policy="auth", result="allowed") > 0,
          "rate-limit admissions per policy")
    check(value(m, "tollgate_quota_charges", metric="calls") > 0, "quota charges per metric")
    check(value(m, "tollgate_cache_hits", type="content") > 0, "cache hits per type")
    check(value(m, "tollgate_cache_misses", type="content") > 0, "cache misses per type")
    check(value(m, "tollgate_cache_tokens_saved", type="content") > 0, "tokens saved")
    check(value(m, "tollgate_cache_cost_saved_usd", type="content") > 0, "cost saved")
    check(value(m, "tollgate_log_size_bytes") > 0, "quota log size")
    check(value(m, "tollgate_last_save_time_seconds") > 1.7e9, "last save time")
    check("tollgate_expired_keys" in m and "tollgate_evicted_keys" in m, "expiry and eviction")
    print(f"{scrapes} scrapes under load, {len(m)} families")
    print("OK")


if __name__ == "__main__":
    main()
