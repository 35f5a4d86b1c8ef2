//! CACHE.* over TCP with the raw client: every command's reply shape and field order in RESP2
//! and RESP3 and the error texts; binary-safe values; the TTL an entry gets by type and plan
//! (PLAN argument or stored QUOTA.PLAN), explicit TTLs, TTL 0 and the shared `system` type;
//! expiry and CONFIG RESETSTAT in the counters; a seeded model of SET/GET/DEL/STATS and moves
//! of the clock by two subjects on overlapping names (replies, STATS arithmetic, isolation);
//! O(1) purges and their reclaimer; single flight under real concurrency (one filler among a
//! hundred, a lease that runs out, waiters that disconnect, purges and FLUSHALL during a
//! fill, MULTI, pipelines); isolation from the keyspace (compared with a real redis-server
//! where Redis has an answer); maxmemory under `noeviction`, `allkeys-lru` and
//! `volatile-lru`; and redis-py (`tests/py/test_cache.py`). Tests marked `ignore` show bugs
//! (the reason names each).
//!
//! Time-dependent tests run on a manual clock at a fixed instant, `T0`; the purge reclaimer
//! and single flight run on the real clock (they are about the expiry thread and blocking).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{show, wait_for, Raw, RedisServer, Rng, Tollgate};
use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use tollgate::clock::Clock;
use tollgate::config::{ByteSize, Config, MaxmemoryPolicy};

/// Saturday 2026-03-14 12:00:00 UTC.
const T0: u64 = 1_773_489_600_000;
const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

/// The seed types, in name order (the order of `types` in CACHE.STATS).
const TYPES: [&str; 6] = [
    "content",
    "embedding",
    "extraction",
    "query",
    "session",
    "system",
];

const OOM: &str = "-OOM command not allowed when used memory > 'maxmemory'.\\r\\n";

fn server(cfg: Config) -> Tollgate {
    Tollgate::start_on(cfg, Clock::manual(T0))
}

fn now(tg: &Tollgate) -> u64 {
    tg.state.clock.now_ms()
}

// -- RESP values --------------------------------------------------------------------------

/// One reply, with RESP3's map and double kept apart from an array and a string.
#[derive(Debug, Clone, PartialEq, Eq)]
enum V {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// A RESP3 double, or in RESP2 its bulk string; the text as written.
    Double(String),
    Nil,
    Arr(Vec<V>),
    Map(Vec<(V, V)>),
}

fn bulk(s: &str) -> V {
    V::Bulk(s.as_bytes().to_vec())
}

/// Parses one whole reply; returns it and the bytes it took.
fn parse(b: &[u8]) -> (V, usize) {
    let end = b
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or_else(|| panic!("no line end in {}", show(b)));
    let line = std::str::from_utf8(&b[1..end]).unwrap();
    let after = end + 2;
    let num = || line.parse::<i64>().unwrap();
    match b[0] {
        b'+' => (V::Simple(line.to_string()), after),
        b'-' => (V::Err(line.to_string()), after),
        b':' => (V::Int(num()), after),
        b',' => (V::Double(line.to_string()), after),
        b'_' => (V::Nil, after),
        b'$' if num() < 0 => (V::Nil, after),
        b'$' | b'=' => {
            let n = num() as usize;
            assert_eq!(&b[after + n..after + n + 2], b"\r\n");
            (V::Bulk(b[after..after + n].to_vec()), after + n + 2)
        }
        b'*' if num() < 0 => (V::Nil, after),
        b'*' | b'%' => {
            let n = num() as usize;
            let count = if b[0] == b'%' { 2 * n } else { n };
            let mut pos = after;
            let mut items = Vec::new();
            for _ in 0..count {
                let (v, used) = parse(&b[pos..]);
                items.push(v);
                pos += used;
            }
            let v = if b[0] == b'%' {
                let mut it = items.into_iter();
                let mut pairs = Vec::new();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                V::Map(pairs)
            } else {
                V::Arr(items)
            };
            (v, pos)
        }
        other => panic!("unexpected reply type {:?} in {}", other as char, show(b)),
    }
}

/// The bytes of `v` as tollgate (and Redis) write it: in RESP2 a map is a flat array of
/// alternating names and values, a double a bulk string and a null a null bulk string.
fn encode(v: &V, resp3: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let put_bulk = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
        out.extend_from_slice(b);
        out.extend_from_slice(b"\r\n");
    };
    match v {
        V::Simple(s) => out.extend_from_slice(format!("+{s}\r\n").as_bytes()),
        V::Err(s) => out.extend_from_slice(format!("-{s}\r\n").as_bytes()),
        V::Int(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
        V::Bulk(b) => put_bulk(&mut out, b),
        V::Double(s) if resp3 => out.extend_from_slice(format!(",{s}\r\n").as_bytes()),
        V::Double(s) => put_bulk(&mut out, s.as_bytes()),
        V::Nil if resp3 => out.extend_from_slice(b"_\r\n"),
        V::Nil => out.extend_from_slice(b"$-1\r\n"),
        V::Arr(items) => {
            out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
            for i in items {
                out.extend(encode(i, resp3));
            }
        }
        V::Map(pairs) => {
            let head = match resp3 {
                true => format!("%{}\r\n", pairs.len()),
                false => format!("*{}\r\n", 2 * pairs.len()),
            };
            out.extend_from_slice(head.as_bytes());
            for (k, v) in pairs {
                out.extend(encode(k, resp3));
                out.extend(encode(v, resp3));
            }
        }
    }
    out
}

fn text(v: &V) -> String {
    match v {
        V::Bulk(b) => String::from_utf8(b.clone()).unwrap(),
        V::Simple(s) | V::Double(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

fn int(v: &V) -> i64 {
    match v {
        V::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

/// A connection in RESP2 or RESP3 (after HELLO 3).
struct Client {
    raw: Raw,
    resp3: bool,
}

impl Client {
    fn new(tg: &Tollgate, resp3: bool) -> Client {
        let mut raw = tg.raw();
        if resp3 {
            let hello = raw.cmd_str("HELLO 3");
            assert_eq!(hello[0], b'%', "{}", show(&hello));
        }
        Client { raw, resp3 }
    }

    fn both(tg: &Tollgate) -> [Client; 2] {
        [Client::new(tg, false), Client::new(tg, true)]
    }

    fn call(&mut self, line: &str) -> V {
        let b = self.raw.cmd_str(line);
        let (v, n) = parse(&b);
        assert_eq!(n, b.len(), "{line}: trailing bytes in {}", show(&b));
        v
    }

    fn call_args(&mut self, args: &[&[u8]]) -> V {
        let b = self.raw.cmd(args);
        let (v, n) = parse(&b);
        assert_eq!(n, b.len(), "trailing bytes in {}", show(&b));
        v
    }

    fn err(&mut self, line: &str) -> String {
        match self.call(line) {
            V::Err(e) => e,
            other => panic!("{line}: expected an error, got {other:?}"),
        }
    }

    fn ok(&mut self, line: &str) {
        assert_eq!(self.call(line), V::Simple("OK".into()), "{line}");
    }

    fn int(&mut self, line: &str) -> i64 {
        int(&self.call(line))
    }

    fn stats(&mut self, subject: Option<&str>) -> Stats {
        let line = match subject {
            Some(s) => format!("CACHE.STATS {s}"),
            None => "CACHE.STATS".to_string(),
        };
        let b = self.raw.cmd_str(&line);
        Stats::from_reply(&b, self.resp3)
    }
}

/// The fields of a map reply, in order; the map is a RESP3 map or, in RESP2, a flat array of
/// alternating names and values (nothing else passes).
fn fields(v: V, resp3: bool) -> Vec<(String, V)> {
    match (v, resp3) {
        (V::Map(pairs), true) => pairs.into_iter().map(|(k, v)| (text(&k), v)).collect(),
        (V::Arr(items), false) => {
            assert!(items.len() % 2 == 0, "odd flat map {items:?}");
            let mut it = items.into_iter();
            let mut out = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((text(&k), v));
            }
            out
        }
        (other, resp3) => panic!("not a map in RESP{}: {other:?}", 2 + u8::from(resp3)),
    }
}

/// CACHE.FETCH's reply: `status` and `value`, in this order.
fn fetched(b: &[u8], resp3: bool) -> (String, Option<Vec<u8>>) {
    let (v, n) = parse(b);
    assert_eq!(n, b.len(), "trailing bytes in {}", show(b));
    let f = fields(v, resp3);
    let names: Vec<&str> = f.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["status", "value"], "{}", show(b));
    let value = match &f[1].1 {
        V::Nil => None,
        V::Bulk(b) => Some(b.clone()),
        other => panic!("value {other:?}"),
    };
    (text(&f[0].1), value)
}

/// The exact bytes of a FETCH reply.
fn fetch_reply(status: &str, value: Option<&[u8]>, resp3: bool) -> Vec<u8> {
    let value = value.map_or(V::Nil, |v| V::Bulk(v.to_vec()));
    encode(
        &V::Map(vec![(bulk("status"), bulk(status)), (bulk("value"), value)]),
        resp3,
    )
}

// -- CACHE.STATS as values ------------------------------------------------------------------

/// One set of counters of CACHE.STATS, `bytes` aside (memory, not modelled).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct C {
    entries: u64,
    hits: u64,
    misses: u64,
    tokens: u64,
    cost_nanos: u64,
    evictions: u64,
    expired: u64,
}

impl C {
    fn add(&mut self, o: &C) {
        self.entries += o.entries;
        self.hits += o.hits;
        self.misses += o.misses;
        self.tokens += o.tokens;
        self.cost_nanos += o.cost_nanos;
        self.evictions += o.evictions;
        self.expired += o.expired;
    }

    /// The fields as the server writes them, with `bytes` given; doubles in Rust's shortest
    /// form (`0.5`, `1`, `0.04`).
    fn fields(&self, bytes: i64) -> Vec<(V, V)> {
        let lookups = self.hits + self.misses;
        let rate = if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        };
        vec![
            (bulk("entries"), V::Int(self.entries as i64)),
            (bulk("bytes"), V::Int(bytes)),
            (bulk("hits"), V::Int(self.hits as i64)),
            (bulk("misses"), V::Int(self.misses as i64)),
            (bulk("hit_rate"), V::Double(rate.to_string())),
            (bulk("tokens_saved"), V::Int(self.tokens as i64)),
            (
                bulk("cost_saved_usd"),
                V::Double((self.cost_nanos as f64 / 1e9).to_string()),
            ),
            (bulk("evictions"), V::Int(self.evictions as i64)),
            (bulk("expired"), V::Int(self.expired as i64)),
        ]
    }
}

/// A CACHE.STATS reply read back: the totals and each type's counters and bytes.
#[derive(Debug, Clone)]
struct Stats {
    raw: Vec<u8>,
    resp3: bool,
    total: C,
    total_bytes: i64,
    types: Vec<(String, C, i64)>,
}

const COUNTER_NAMES: [&str; 9] = [
    "entries",
    "bytes",
    "hits",
    "misses",
    "hit_rate",
    "tokens_saved",
    "cost_saved_usd",
    "evictions",
    "expired",
];

fn counters(f: &[(String, V)]) -> (C, i64) {
    let names: Vec<&str> = f.iter().take(9).map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, COUNTER_NAMES, "field names and order");
    let n = |i: usize| int(&f[i].1) as u64;
    (
        C {
            entries: n(0),
            hits: n(2),
            misses: n(3),
            tokens: n(5),
            cost_nanos: (text(&f[6].1).parse::<f64>().unwrap() * 1e9).round() as u64,
            evictions: n(7),
            expired: n(8),
        },
        n(1) as i64,
    )
}

impl Stats {
    fn from_reply(b: &[u8], resp3: bool) -> Stats {
        let (v, n) = parse(b);
        assert_eq!(n, b.len(), "trailing bytes in {}", show(b));
        let f = fields(v, resp3);
        assert_eq!(f.len(), 10, "{}", show(b));
        assert_eq!(f[9].0, "types");
        let (total, total_bytes) = counters(&f);
        let types = fields(f[9].1.clone(), resp3)
            .into_iter()
            .map(|(name, v)| {
                let tf = fields(v, resp3);
                assert_eq!(tf.len(), 9, "{name}: {}", show(b));
                let (c, bytes) = counters(&tf);
                (name, c, bytes)
            })
            .collect();
        Stats {
            raw: b.to_vec(),
            resp3,
            total,
            total_bytes,
            types,
        }
    }

    fn of(&self, ty: &str) -> C {
        self.types.iter().find(|(n, _, _)| n == ty).unwrap().1
    }

    fn bytes_of(&self, ty: &str) -> i64 {
        self.types.iter().find(|(n, _, _)| n == ty).unwrap().2
    }

    /// Checks the reply byte for byte against `per_type` (each seed type's counters, in name
    /// order), with the totals their sum and `bytes` as the reply has them (the totals'
    /// `bytes` must be the sum of the types'; a type's `bytes` is 0 exactly when it holds no
    /// entry).
    fn expect(&self, per_type: &BTreeMap<&str, C>, what: &str) {
        let mut total = C::default();
        for t in TYPES {
            total.add(&per_type.get(t).copied().unwrap_or_default());
        }
        let mut type_pairs = Vec::new();
        let mut sum_bytes = 0;
        for t in TYPES {
            let c = per_type.get(t).copied().unwrap_or_default();
            let bytes = self.bytes_of(t);
            assert_eq!(
                bytes == 0,
                c.entries == 0,
                "{what}: {t} bytes {bytes} with {} entries",
                c.entries
            );
            sum_bytes += bytes;
            type_pairs.push((bulk(t), V::Map(c.fields(bytes))));
        }
        assert_eq!(self.total_bytes, sum_bytes, "{what}: total bytes");
        let mut top = total.fields(sum_bytes);
        top.push((bulk("types"), V::Map(type_pairs)));
        let want = encode(&V::Map(top), self.resp3);
        assert_eq!(
            show(&self.raw),
            show(&want),
            "{what}: CACHE.STATS (RESP{})",
            2 + u8::from(self.resp3)
        );
    }
}

fn info_field(raw: &mut Raw, section: &str, name: &str) -> Option<String> {
    let info = String::from_utf8_lossy(&raw.cmd_str(&format!("INFO {section}"))).into_owned();
    info.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(str::to_string)
}

fn info_u64(raw: &mut Raw, section: &str, name: &str) -> u64 {
    info_field(raw, section, name)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
}

/// Sends every command in one write and reads their replies.
fn pipeline(raw: &mut Raw, cmds: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
    let mut bytes = Vec::new();
    for c in cmds {
        let args: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
        bytes.extend(Raw::encode(&args));
    }
    raw.send_bytes(&bytes);
    cmds.iter().map(|_| raw.read_reply().unwrap()).collect()
}

fn args(line: &str) -> Vec<Vec<u8>> {
    line.split(' ').map(|a| a.as_bytes().to_vec()).collect()
}

// -- 1. reply shapes, errors, binary values -------------------------------------------------

/// Every CACHE.* command's reply, byte for byte, in RESP2 and RESP3: SET's integer, GET's
/// bulk or null, FETCH's map (status, value) for hit, fill and timeout, DEL's counts, and
/// STATS's map of the nine counters then `types` (every type in name order), with its
/// doubles in the shortest form (`0.5714285714285714`, `0.06`).
#[test]
fn replies_are_shaped_as_documented_in_both_protocols() {
    let tg = server(Config::default());
    for mut c in Client::both(&tg) {
        let r3 = c.resp3;
        let s = if r3 { "s3" } else { "s2" };
        let raw = |c: &mut Client, line: &str| show(&c.raw.cmd_str(line));
        assert_eq!(
            raw(
                &mut c,
                &format!("CACHE.SET {s} content k hello COST 0.02 TOKENS 1200")
            ),
            ":1\\r\\n"
        );
        assert_eq!(
            raw(&mut c, &format!("CACHE.SET {s} content k other NX")),
            ":0\\r\\n",
            "NX and present"
        );
        assert_eq!(
            raw(&mut c, &format!("CACHE.GET {s} content k")),
            "$5\\r\\nhello\\r\\n"
        );
        let nil = if r3 { "_\\r\\n" } else { "$-1\\r\\n" };
        assert_eq!(raw(&mut c, &format!("CACHE.GET {s} content nope")), nil);
        // Command names are case-insensitive; type names are not.
        assert_eq!(
            raw(&mut c, &format!("cache.get {s} content k")),
            "$5\\r\\nhello\\r\\n"
        );
        let fetch = |c: &mut Client, line: &str| c.raw.cmd_str(line);
        assert_eq!(
            show(&fetch(
                &mut c,
                &format!("CACHE.FETCH {s} content k LEASE 10s")
            )),
            show(&fetch_reply("hit", Some(b"hello"), r3))
        );
        let head = if r3 { "%2" } else { "*4" };
        assert_eq!(
            show(&fetch(
                &mut c,
                &format!("CACHE.FETCH {s} content k2 LEASE 10s")
            )),
            format!("{head}\\r\\n$6\\r\\nstatus\\r\\n$4\\r\\nfill\\r\\n$5\\r\\nvalue\\r\\n{nil}")
        );
        assert_eq!(
            show(&fetch(
                &mut c,
                &format!("CACHE.FETCH {s} content k2 WAIT 0 LEASE 10s")
            )),
            show(&fetch_reply("timeout", None, r3)),
            "someone (this very client) fills: WAIT 0 gives up at once"
        );
        assert_eq!(
            raw(&mut c, &format!("CACHE.SET {s} content k2 v2")),
            ":1\\r\\n"
        );
        assert_eq!(
            show(&fetch(
                &mut c,
                &format!("CACHE.FETCH {s} content k2 LEASE 10s")
            )),
            show(&fetch_reply("hit", Some(b"v2"), r3))
        );
        // k: 3 hits (GET, the lowercase GET, FETCH) of 1200 tokens and $0.02 each; `nope`: a
        // miss; k2: 2 misses (the FETCH that fills, the one that times out) and a hit.
        let st = c.stats(Some(s));
        let mut want = BTreeMap::new();
        want.insert(
            "content",
            C {
                entries: 2,
                hits: 4,
                misses: 3,
                tokens: 3600,
                cost_nanos: 60_000_000,
                ..C::default()
            },
        );
        st.expect(&want, "STATS s");
        let hit_rate = if r3 {
            "$8\\r\\nhit_rate\\r\\n,0.5714285714285714\\r\\n"
        } else {
            "$8\\r\\nhit_rate\\r\\n$18\\r\\n0.5714285714285714\\r\\n"
        };
        assert!(show(&st.raw).contains(hit_rate), "{}", show(&st.raw));
        let cost = if r3 {
            "$14\\r\\ncost_saved_usd\\r\\n,0.06\\r\\n"
        } else {
            "$14\\r\\ncost_saved_usd\\r\\n$4\\r\\n0.06\\r\\n"
        };
        assert!(show(&st.raw).contains(cost), "{}", show(&st.raw));
        // The types map names every type in name order, each a 9-field map.
        assert_eq!(
            st.types.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(),
            TYPES
        );
        // DEL: key (1, then 0), type, subject.
        assert_eq!(
            raw(&mut c, &format!("CACHE.DEL {s} content k2")),
            ":1\\r\\n"
        );
        assert_eq!(
            raw(&mut c, &format!("CACHE.DEL {s} content k2")),
            ":0\\r\\n"
        );
        c.call(&format!("CACHE.SET {s} query q v"));
        c.call(&format!("CACHE.SET {s} query q2 v"));
        assert_eq!(raw(&mut c, &format!("CACHE.DEL {s} query")), ":2\\r\\n");
        assert_eq!(raw(&mut c, &format!("CACHE.DEL {s} query")), ":0\\r\\n");
        c.call(&format!("CACHE.SET {s} embedding e v"));
        assert_eq!(raw(&mut c, &format!("CACHE.DEL {s}")), ":2\\r\\n");
        assert_eq!(raw(&mut c, &format!("CACHE.DEL {s}")), ":0\\r\\n");
        // A subject with nothing: zeros everywhere.
        c.stats(Some(s)).expect(&BTreeMap::new(), "after DEL s");
        c.stats(Some("nobody"))
            .expect(&BTreeMap::new(), "unknown subject");
    }
    // Without a subject: every subject (both protocols' subjects were purged; their lookups
    // stay in the totals).
    let mut c = Client::new(&tg, true);
    let st = c.stats(None);
    let content = st.of("content");
    assert_eq!(
        (
            content.entries,
            content.hits,
            content.misses,
            content.tokens
        ),
        (0, 8, 6, 7200),
        "{}",
        show(&st.raw)
    );
}

/// Every error text: arity as Redis words it, syntax, NOTYPE, NOPLAN, COST, TOKENS and the
/// durations; a syntax error is reported before an unknown type; no error stores anything.
#[test]
fn errors_are_worded_as_documented() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, false);
    let arity = |cmd: &str| format!("ERR wrong number of arguments for '{cmd}' command");
    let syntax = "ERR syntax error".to_string();
    let not_int = "ERR value is not an integer or out of range".to_string();
    let cost = "ERR COST must be a number of dollars between 0 and 1000000000".to_string();
    let cases: Vec<(&str, String)> = vec![
        ("CACHE.GET", arity("cache.get")),
        ("CACHE.GET u content", arity("cache.get")),
        ("CACHE.GET u content k extra", arity("cache.get")),
        ("cache.get u", arity("cache.get")),
        ("CACHE.SET u content k", arity("cache.set")),
        ("CACHE.SET", arity("cache.set")),
        ("CACHE.FETCH u content k LEASE", arity("cache.fetch")),
        ("CACHE.FETCH u content k", arity("cache.fetch")),
        ("CACHE.DEL", arity("cache.del")),
        ("CACHE.SET u content k v NX NX", syntax.clone()),
        ("CACHE.SET u content k v TTL", syntax.clone()),
        ("CACHE.SET u content k v TTL 1 TTL 2", syntax.clone()),
        ("CACHE.SET u content k v EX 10", syntax.clone()),
        ("CACHE.SET u content k v PLAN", syntax.clone()),
        ("CACHE.SET u content k v COST 1 COST 2", syntax.clone()),
        ("CACHE.SET u content k v TOKENS 1 TOKENS 2", syntax.clone()),
        ("CACHE.SET u nope k v EX 10", syntax.clone()),
        ("CACHE.FETCH u content k LEASE 1s LEASE 2s", syntax.clone()),
        ("CACHE.FETCH u content k LEASE 1s WAIT", syntax.clone()),
        ("CACHE.FETCH u content k LEASE 1s BLOCK 1", syntax.clone()),
        ("CACHE.DEL u content k extra", syntax.clone()),
        ("CACHE.STATS u extra", syntax.clone()),
        (
            "CACHE.FETCH u content k WAIT 1s",
            "ERR LEASE is required".into(),
        ),
        (
            "CACHE.FETCH u content k LEASE 0",
            "ERR LEASE must be a positive duration such as 60, 500ms, 10m, 1h or 1d".into(),
        ),
        (
            "CACHE.FETCH u content k LEASE 1s WAIT -1",
            "ERR WAIT must be a duration such as 60, 500ms, 10m, 1h or 1d".into(),
        ),
        (
            "CACHE.SET u content k v TTL 5x",
            "ERR TTL must be a duration such as 60, 500ms, 10m, 1h or 1d".into(),
        ),
        (
            "CACHE.SET u content k v TTL -5",
            "ERR TTL must be a duration such as 60, 500ms, 10m, 1h or 1d".into(),
        ),
        ("CACHE.SET u content k v COST -1", cost.clone()),
        ("CACHE.SET u content k v COST 1000000001", cost.clone()),
        ("CACHE.SET u content k v COST inf", cost.clone()),
        (
            "CACHE.SET u content k v COST abc",
            "ERR value is not a valid float".into(),
        ),
        ("CACHE.SET u content k v TOKENS -1", not_int.clone()),
        ("CACHE.SET u content k v TOKENS 1.5", not_int.clone()),
        ("CACHE.SET u content k v TOKENS x", not_int.clone()),
        (
            "CACHE.SET u content k v TOKENS 99999999999999999999",
            not_int.clone(),
        ),
        (
            "CACHE.SET u nope k v",
            "NOTYPE no such cache type 'nope'".into(),
        ),
        (
            "CACHE.SET u Content k v",
            "NOTYPE no such cache type 'Content'".into(),
        ),
        (
            "CACHE.GET u nope k",
            "NOTYPE no such cache type 'nope'".into(),
        ),
        (
            "CACHE.FETCH u nope k LEASE 1s",
            "NOTYPE no such cache type 'nope'".into(),
        ),
        (
            "CACHE.DEL u nope",
            "NOTYPE no such cache type 'nope'".into(),
        ),
        (
            "CACHE.DEL u nope k",
            "NOTYPE no such cache type 'nope'".into(),
        ),
        (
            "CACHE.SET u content k v PLAN gold",
            "NOPLAN no such plan 'gold'".into(),
        ),
        (
            "CACHE.SET u content k v PLAN Freemium",
            "NOPLAN no such plan 'Freemium'".into(),
        ),
    ];
    for (line, want) in &cases {
        assert_eq!(&c.err(line), want, "{line}");
    }
    // COST's bounds are inclusive.
    assert_eq!(c.int("CACHE.SET u content a v COST 0"), 1);
    assert_eq!(c.int("CACHE.SET u content b v COST 1000000000"), 1);
    assert_eq!(c.int("CACHE.DEL u"), 2);
    // None of the errors stored or counted anything but the lookups.
    let st = c.stats(None);
    assert_eq!(st.total.entries, 0, "{}", show(&st.raw));
    assert_eq!(
        info_u64(&mut c.raw, "cache", "cache_subjects"),
        0,
        "no books left by errors"
    );
}

/// Values, keys and subjects are binary-safe: NUL bytes, CR LF, invalid UTF-8; a 100 KB
/// value round-trips through SET, GET and FETCH; subjects that share a prefix or would
/// concatenate alike with a key stay apart.
#[test]
fn values_keys_and_subjects_are_binary_safe() {
    let tg = server(Config::default());
    for resp3 in [false, true] {
        let mut c = Client::new(&tg, resp3);
        let subject: &[u8] = if resp3 { b"s\x003\r\n" } else { b"s\x002\xff" };
        let key: &[u8] = b"k\x00\r\n\xfe";
        let value: &[u8] = b"\x00\x01\r\n$-1\r\n\xff\x00";
        assert_eq!(
            c.call_args(&[b"CACHE.SET", subject, b"content", key, value]),
            V::Int(1)
        );
        assert_eq!(
            c.call_args(&[b"CACHE.GET", subject, b"content", key]),
            V::Bulk(value.to_vec())
        );
        let big: Vec<u8> = (0..100 * 1024).map(|i| (i * 7 % 256) as u8).collect();
        assert_eq!(
            c.call_args(&[b"CACHE.SET", subject, b"query", b"big", &big]),
            V::Int(1)
        );
        assert_eq!(
            c.call_args(&[b"CACHE.GET", subject, b"query", b"big"]),
            V::Bulk(big.clone())
        );
        let f = c
            .raw
            .cmd(&[b"CACHE.FETCH", subject, b"query", b"big", b"LEASE", b"1s"]);
        assert_eq!(f, fetch_reply("hit", Some(&big), resp3));
        // An empty value is a value.
        assert_eq!(
            c.call_args(&[b"CACHE.SET", subject, b"query", b"empty", b""]),
            V::Int(1)
        );
        assert_eq!(
            c.call_args(&[b"CACHE.GET", subject, b"query", b"empty"]),
            V::Bulk(Vec::new())
        );
        assert_eq!(
            c.call_args(&[b"CACHE.DEL", subject]),
            V::Int(3),
            "content k, query big, query empty"
        );
    }
    // Subjects and keys that a naive join would confuse.
    let mut c = Client::new(&tg, false);
    let pairs: [(&[u8], &[u8]); 5] = [
        (b"a", b":b"),
        (b"a:", b"b"),
        (b"a:b", b""),
        (b"\x00", b"a:b"),
        (b"a\x00", b"b"),
    ];
    for (i, (s, k)) in pairs.iter().enumerate() {
        let v = format!("v{i}");
        assert_eq!(
            c.call_args(&[b"CACHE.SET", s, b"content", k, v.as_bytes()]),
            V::Int(1),
            "{i}"
        );
    }
    for (i, (s, k)) in pairs.iter().enumerate() {
        assert_eq!(
            c.call_args(&[b"CACHE.GET", s, b"content", k]),
            bulk(&format!("v{i}")),
            "pair {i} reads its own entry"
        );
        let st = Stats::from_reply(&c.raw.cmd(&[b"CACHE.STATS", s]), false);
        assert_eq!(st.total.entries, 1, "pair {i}: one entry each");
    }
}

// -- 2. TTL by type and plan ---------------------------------------------------------------

/// How long an entry lives: None = off (not stored), Some(None) = never, Some(Some(ms)).
type Lives = Option<Option<u64>>;

/// What a seed type gives a subject on `plan` with no TTL argument.
fn seed_ttl(ty: &str, plan: Option<&str>) -> Lives {
    let paid_only = |default: u64, annual: u64| match plan {
        Some("freemium" | "pay_as_you_go") => None,
        Some("pro_annual") => Some(Some(annual * MIN)),
        _ => Some(Some(default * MIN)),
    };
    match ty {
        "system" => Some(None),
        "session" => paid_only(30, 60),
        "content" => paid_only(60, 120),
        "extraction" => paid_only(45, 90),
        "query" => Some(Some(HOUR)),
        "embedding" => Some(Some(DAY)),
        other => panic!("{other}"),
    }
}

/// One entry of the TTL table: how it is stored and what it should live.
struct TtlCase {
    subject: String,
    ty: &'static str,
    key: String,
    /// The PLAN argument, if any.
    plan_arg: Option<&'static str>,
    /// A plan stored with QUOTA.PLAN first, if any.
    stored_plan: Option<&'static str>,
    ttl_arg: Option<&'static str>,
    want: Lives,
}

/// For every seed type and plan (none, freemium, pay_as_you_go, pro_monthly, pro_annual),
/// given by PLAN and by a stored QUOTA.PLAN, and for explicit TTLs (a plan's "off" wins;
/// TTL 0 = never): SET answers 0 when the plan disables the type, else the entry is there
/// 1 ms before its TTL and gone at it; `never` entries are there a year later.
#[test]
fn ttl_follows_type_and_plan() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, false);
    let plans = [
        None,
        Some("freemium"),
        Some("pay_as_you_go"),
        Some("pro_monthly"),
        Some("pro_annual"),
    ];
    let mut cases = Vec::new();
    for ty in TYPES {
        for plan in plans {
            for stored in [false, true] {
                if stored && plan.is_none() {
                    continue;
                }
                let subject = format!("{ty}-{}-{}", plan.unwrap_or("none"), u8::from(stored));
                cases.push(TtlCase {
                    key: subject.clone(),
                    subject,
                    ty,
                    plan_arg: plan.filter(|_| !stored),
                    stored_plan: plan.filter(|_| stored),
                    ttl_arg: None,
                    want: seed_ttl(ty, plan),
                });
            }
        }
    }
    // Explicit TTLs: (type, plans as "PLAN/stored", TTL, what it lives).
    let explicit: [(&str, &str, &str, Lives); 9] = [
        ("query", "/", "5s", Some(Some(5000))),
        ("query", "/", "1500ms", Some(Some(1500))),
        ("embedding", "/", "90m", Some(Some(90 * MIN))),
        ("content", "pro_annual/", "5s", Some(Some(5000))),
        ("content", "/pro_annual", "7s", Some(Some(7000))),
        ("content", "freemium/", "5s", None),
        ("session", "/pay_as_you_go", "0", None),
        ("content", "/", "0", Some(None)),
        ("query", "pro_annual/", "0", Some(None)),
    ];
    for (i, (ty, plans, ttl, want)) in explicit.into_iter().enumerate() {
        let (plan_arg, stored_plan) = plans.split_once('/').unwrap();
        cases.push(TtlCase {
            subject: format!("explicit-{i}"),
            ty,
            key: format!("x{i}"),
            plan_arg: Some(plan_arg).filter(|p| !p.is_empty()),
            stored_plan: Some(stored_plan).filter(|p| !p.is_empty()),
            ttl_arg: Some(ttl),
            want,
        });
    }
    // The PLAN argument wins over the stored plan, both ways.
    cases.push(TtlCase {
        subject: "override-up".into(),
        ty: "content",
        key: "o1".into(),
        plan_arg: Some("pro_annual"),
        stored_plan: Some("freemium"),
        ttl_arg: None,
        want: Some(Some(120 * MIN)),
    });
    cases.push(TtlCase {
        subject: "override-down".into(),
        ty: "content",
        key: "o2".into(),
        plan_arg: Some("freemium"),
        stored_plan: Some("pro_annual"),
        ttl_arg: None,
        want: None,
    });
    for case in &cases {
        if let Some(p) = case.stored_plan {
            c.ok(&format!("QUOTA.PLAN {} {p}", case.subject));
        }
        let mut line = format!("CACHE.SET {} {} {} v", case.subject, case.ty, case.key);
        if let Some(p) = case.plan_arg {
            line += &format!(" PLAN {p}");
        }
        if let Some(t) = case.ttl_arg {
            line += &format!(" TTL {t}");
        }
        let stored = c.int(&line);
        assert_eq!(stored, i64::from(case.want.is_some()), "{line}");
    }
    // The instants to look at: 1 ms before and at every finite TTL, then a year on.
    let mut marks: Vec<u64> = cases
        .iter()
        .filter_map(|c| c.want.flatten())
        .flat_map(|ms| [ms - 1, ms])
        .collect();
    marks.push(365 * DAY);
    marks.sort_unstable();
    marks.dedup();
    for mark in marks {
        let at = T0 + mark;
        tg.advance(Duration::from_millis(at - now(&tg)));
        for case in &cases {
            let present = match case.want {
                None => false,
                Some(None) => true,
                Some(Some(ms)) => mark < ms,
            };
            let got = c.call(&format!(
                "CACHE.GET {} {} {}",
                case.subject, case.ty, case.key
            ));
            assert_eq!(
                got != V::Nil,
                present,
                "{} {} (PLAN {:?}, stored {:?}, TTL {:?}) at T0+{mark} ms",
                case.subject,
                case.ty,
                case.plan_arg,
                case.stored_plan,
                case.ttl_arg
            );
        }
    }
}

/// `system` is one entry for every subject: any subject reads it, one SET replaces it for
/// all, DEL of a subject leaves it, DEL of the type by any subject purges all of it.
#[test]
fn the_system_type_is_shared_across_subjects() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, false);
    assert_eq!(c.int("CACHE.SET alice system prompt p1"), 1);
    assert_eq!(c.call("CACHE.GET bob system prompt"), bulk("p1"));
    assert_eq!(c.int("CACHE.SET bob system prompt p2 NX"), 0);
    assert_eq!(c.int("CACHE.SET bob system prompt p2"), 1);
    assert_eq!(c.call("CACHE.GET alice system prompt"), bulk("p2"));
    assert_eq!(c.int("CACHE.SET carol system other o"), 1);
    // A subject's own purge does not reach the shared entries.
    assert_eq!(c.int("CACHE.SET alice query q v"), 1);
    assert_eq!(c.int("CACHE.DEL alice"), 1);
    assert_eq!(c.call("CACHE.GET alice system prompt"), bulk("p2"));
    // Nor is it counted in a subject's STATS.
    assert_eq!(c.stats(Some("bob")).total.entries, 0);
    assert_eq!(c.stats(None).of("system").entries, 2);
    // The shared type's purge is everyone's.
    assert_eq!(c.int("CACHE.DEL dave system"), 2);
    assert_eq!(c.call("CACHE.GET alice system prompt"), V::Nil);
    assert_eq!(c.call("CACHE.GET carol system other"), V::Nil);
    assert_eq!(c.int("CACHE.SET x system k v"), 1);
    assert_eq!(c.int("CACHE.DEL y system k"), 1);
    // A plan does not turn system off, and it never expires.
    c.ok("QUOTA.PLAN poor freemium");
    assert_eq!(c.int("CACHE.SET poor system k v PLAN freemium"), 1);
    tg.advance(Duration::from_millis(1000 * DAY));
    assert_eq!(c.call("CACHE.GET rich system k"), bulk("v"));
}

/// Expiry is counted: an expired entry is absent to NX, counts in `expired` (per subject
/// while it holds entries, and in the totals and INFO), a replaced entry takes the new TTL
/// (TTL 0 = never); CONFIG RESETSTAT zeroes the counts but keeps entries and bytes.
#[test]
fn expiry_is_counted_and_resetstat_keeps_what_is_held() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, false);
    assert_eq!(c.int("CACHE.SET u query k v TOKENS 5"), 1);
    assert_eq!(c.int("CACHE.SET u embedding e v"), 1);
    assert_eq!(c.int("CACHE.SET u query k2 v TTL 10s"), 1);
    assert_eq!(c.int("CACHE.SET u query r v TTL 10s"), 1);
    assert_eq!(c.int("CACHE.SET u query r v2 TTL 0"), 1);
    assert_eq!(c.call("CACHE.GET u query k"), bulk("v"));
    tg.advance(Duration::from_secs(10));
    assert_eq!(
        c.int("CACHE.SET u query k2 new NX"),
        1,
        "an expired entry is absent"
    );
    let mut want = BTreeMap::new();
    let query = |entries, hits, misses, expired| C {
        entries,
        hits,
        misses,
        tokens: 5,
        expired,
        ..C::default()
    };
    want.insert("query", query(3, 1, 0, 1));
    want.insert(
        "embedding",
        C {
            entries: 1,
            ..C::default()
        },
    );
    c.stats(Some("u"))
        .expect(&want, "after k2 expired and was set again");
    tg.advance(Duration::from_secs(3600));
    assert_eq!(c.call("CACHE.GET u query k"), V::Nil);
    assert_eq!(c.call("CACHE.GET u query k2"), V::Nil);
    assert_eq!(
        c.call("CACHE.GET u query r"),
        bulk("v2"),
        "TTL 0 replaced 10s"
    );
    want.insert("query", query(1, 2, 2, 3));
    let before = c.stats(Some("u"));
    before.expect(&want, "after k and k2 expired");
    c.stats(None).expect(&want, "totals");
    assert!(info_u64(&mut c.raw, "stats", "expired_keys") >= 3);
    let line = info_field(&mut c.raw, "cache", "cache_query").unwrap();
    assert_eq!(
        line,
        format!(
            "entries=1,bytes={},hits=2,misses=2,hit_rate=0.5000,tokens_saved=5,cost_saved_usd=0,evictions=0,expired=3",
            before.bytes_of("query")
        )
    );
    c.ok("CONFIG RESETSTAT");
    let held = |entries| C {
        entries,
        ..C::default()
    };
    want.insert("query", held(1));
    want.insert("embedding", held(1));
    let after = c.stats(Some("u"));
    after.expect(&want, "after RESETSTAT");
    assert_eq!(after.total_bytes, before.total_bytes);
    c.stats(None).expect(&want, "totals after RESETSTAT");
}

/// A CACHE.SET of a key whose entry has expired but is still in the store (no read and no
/// active expiry reached it yet), when that entry was the subject's last one: the SET
/// replies 1, so the new value must be there and counted.
#[test]
fn a_set_over_an_expired_last_entry_is_kept() {
    let mut cfg = Config::default();
    // Active expiry as rarely as it goes, so that the SET meets the expired entry first.
    cfg.store.hz = 1;
    let tg = server(cfg);
    let mut c = Client::new(&tg, false);
    for i in 0..5 {
        let s = format!("solo{i}");
        assert_eq!(c.int(&format!("CACHE.SET {s} query k v TTL 10s")), 1);
        tg.advance(Duration::from_secs(10));
        assert_eq!(c.int(&format!("CACHE.SET {s} query k v2")), 1);
        assert_eq!(
            c.call(&format!("CACHE.GET {s} query k")),
            bulk("v2"),
            "{s}: the value just stored"
        );
        let st = c.stats(Some(&s));
        assert_eq!(
            (st.of("query").entries, st.of("query").hits),
            (1, 1),
            "{s}: {}",
            show(&st.raw)
        );
    }
    assert_eq!(info_u64(&mut c.raw, "cache", "cache_purged_pending"), 0);
    assert_eq!(info_u64(&mut c.raw, "cache", "cache_entries"), 5);
}

/// The empty subject is refused: it would name the shared types' books (their entries are
/// filed under no subject), so `CACHE.DEL ""` would purge every subject's system entries.
#[test]
fn the_empty_subject_is_refused() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, false);
    assert_eq!(c.int("CACHE.SET alice system prompt p"), 1);
    let refused = b"-ERR the subject must not be empty\r\n".to_vec();
    for args in [
        &[&b"CACHE.SET"[..], b"", b"content", b"k", b"v"][..],
        &[b"CACHE.GET", b"", b"system", b"prompt"],
        &[b"CACHE.FETCH", b"", b"system", b"prompt", b"LEASE", b"1s"],
        &[b"CACHE.DEL", b""],
        &[b"CACHE.DEL", b"", b"system"],
        &[b"CACHE.STATS", b""],
    ] {
        assert_eq!(show(&c.raw.cmd(args)), show(&refused), "{args:?}");
    }
    assert_eq!(c.call("CACHE.GET alice system prompt"), bulk("p"));
    assert_eq!(
        info_u64(&mut c.raw, "cache", "cache_subjects"),
        0,
        "the shared owner is no subject"
    );
}

/// The stored plan is the QUOTA.PLAN of the subject's quota key in the client's selected
/// database (a plain key of that name is no plan); the entries themselves are one cache for
/// every database.
#[test]
fn the_stored_plan_is_read_from_the_selected_database() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, false);
    c.ok("SELECT 1");
    c.ok("QUOTA.PLAN u freemium");
    assert_eq!(c.int("CACHE.SET u content k v"), 0, "freemium in db 1");
    c.ok("SELECT 0");
    assert_eq!(c.int("CACHE.SET u content k v"), 1, "no plan in db 0");
    c.ok("SELECT 1");
    assert_eq!(c.call("CACHE.GET u content k"), bulk("v"), "one cache");
    c.ok("SELECT 2");
    c.ok("SET u hello");
    assert_eq!(c.int("CACHE.SET u session s v"), 1, "a string is no plan");
    assert_eq!(c.int("DEL u"), 1);
    c.ok("QUOTA.PLAN u pro_annual");
    assert_eq!(c.int("CACHE.SET u session s2 v"), 1);
    tg.advance(Duration::from_millis(60 * MIN - 1));
    assert_eq!(c.call("CACHE.GET u session s2"), bulk("v"));
    assert_eq!(
        c.call("CACHE.GET u session s"),
        V::Nil,
        "30 minutes without a plan"
    );
    tg.advance(Duration::from_millis(1));
    assert_eq!(c.call("CACHE.GET u session s2"), V::Nil);
}

// -- 3. the model -------------------------------------------------------------------------

/// (owner, type, key).
type EntryId = (String, &'static str, Vec<u8>);
/// (value, tokens, nano-dollars).
type Held = (Vec<u8>, u64, u64);

/// What the cache should hold and count, as SPEC and cache-semantics describe it.
#[derive(Default)]
struct Model {
    /// (owner, type, key) -> (value, tokens, cost in nano-dollars). A shared type's owner
    /// is "".
    entries: BTreeMap<EntryId, Held>,
    /// owner -> type -> counters, while the owner holds books (it lost them when its last
    /// entry went; a purge of a type drops that type's books).
    books: BTreeMap<String, BTreeMap<&'static str, C>>,
    totals: BTreeMap<&'static str, C>,
    /// When the entries that expire do (ms after T0).
    deadlines: BTreeMap<EntryId, u64>,
    /// ms after T0.
    now: u64,
}

fn owner(subject: &str, ty: &str) -> String {
    if ty == "system" {
        String::new()
    } else {
        subject.to_string()
    }
}

impl Model {
    /// `savings`: tokens and nano-dollars; `ttl`: the TTL argument in ms.
    fn set(
        &mut self,
        s: &str,
        ty: &'static str,
        kv: (&[u8], &[u8]),
        nx: bool,
        savings: (u64, u64),
        ttl: Option<u64>,
    ) -> i64 {
        let (k, v) = kv;
        let o = owner(s, ty);
        let id = (o.clone(), ty, k.to_vec());
        let present = self.entries.contains_key(&id);
        if nx && present {
            return 0;
        }
        let added = u64::from(!present);
        self.books
            .entry(o)
            .or_default()
            .entry(ty)
            .or_default()
            .entries += added;
        self.totals.entry(ty).or_default().entries += added;
        let ttl = ttl.unwrap_or(match ty {
            "content" => HOUR,
            "query" => HOUR,
            "session" => 30 * MIN,
            _ => 0,
        });
        match ttl {
            0 => self.deadlines.remove(&id),
            ms => self.deadlines.insert(id.clone(), self.now + ms),
        };
        self.entries.insert(id, (v.to_vec(), savings.0, savings.1));
        1
    }

    fn get(&mut self, s: &str, ty: &'static str, k: &[u8]) -> Option<Vec<u8>> {
        let o = owner(s, ty);
        let total = self.totals.entry(ty).or_default();
        match self.entries.get(&(o.clone(), ty, k.to_vec())) {
            Some((v, tok, cost)) => {
                for c in [total, self.books.get_mut(&o).unwrap().get_mut(ty).unwrap()] {
                    c.hits += 1;
                    c.tokens += tok;
                    c.cost_nanos += cost;
                }
                Some(v.clone())
            }
            None => {
                total.misses += 1;
                // A subject with books (of any type) opens the type's on a miss and counts
                // it; one without books counts only in the totals.
                if let Some(b) = self.books.get_mut(&o) {
                    b.entry(ty).or_default().misses += 1;
                }
                None
            }
        }
    }

    /// The clock moved to `now`: every entry due expires (in any order: a subject's books go
    /// when its last entry does, whichever that is).
    fn advance(&mut self, now: u64) {
        self.now = now;
        let due: Vec<EntryId> = self
            .deadlines
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.deadlines.remove(&id);
            self.entries.remove(&id).unwrap();
            let (o, ty, _) = &id;
            let books = self.books.get_mut(o).unwrap();
            for c in [books.get_mut(ty).unwrap(), self.totals.get_mut(ty).unwrap()] {
                c.entries -= 1;
                c.expired += 1;
            }
            if books.values().all(|c| c.entries == 0) {
                self.books.remove(o);
            }
        }
    }

    /// Deadlines of entries no longer held go.
    fn forget(&mut self) {
        let entries = &self.entries;
        self.deadlines.retain(|id, _| entries.contains_key(id));
    }

    fn del_key(&mut self, s: &str, ty: &'static str, k: &[u8]) -> i64 {
        let o = owner(s, ty);
        if self.entries.remove(&(o.clone(), ty, k.to_vec())).is_none() {
            return 0;
        }
        self.forget();
        let books = self.books.get_mut(&o).unwrap();
        books.get_mut(ty).unwrap().entries -= 1;
        self.totals.get_mut(ty).unwrap().entries -= 1;
        if books.values().all(|c| c.entries == 0) {
            self.books.remove(&o);
        }
        1
    }

    fn del_type(&mut self, s: &str, ty: &'static str) -> i64 {
        let o = owner(s, ty);
        let Some(books) = self.books.get_mut(&o) else {
            return 0;
        };
        let Some(c) = books.remove(ty) else {
            return 0;
        };
        if books.is_empty() {
            self.books.remove(&o);
        }
        self.totals.get_mut(ty).unwrap().entries -= c.entries;
        self.entries
            .retain(|(eo, et, _), _| !(eo == &o && *et == ty));
        self.forget();
        c.entries as i64
    }

    fn del_subject(&mut self, s: &str) -> i64 {
        let Some(books) = self.books.remove(s) else {
            return 0;
        };
        let mut n = 0;
        for (ty, c) in books {
            self.totals.get_mut(ty).unwrap().entries -= c.entries;
            n += c.entries;
        }
        self.entries.retain(|(eo, _, _), _| eo != s);
        self.forget();
        n as i64
    }
}

/// COST arguments and the nano-dollars they are kept as.
const COSTS: [(&str, u64); 6] = [
    ("0", 0),
    ("0.01", 10_000_000),
    ("0.02", 20_000_000),
    ("0.005", 5_000_000),
    ("1.25", 1_250_000_000),
    ("0.000000001", 1),
];

/// TTL arguments of the random SETs (none: the type's).
const TTLS: [(&str, Option<u64>); 5] = [
    ("", None),
    ("", None),
    ("1s", Some(1000)),
    ("2500ms", Some(2500)),
    ("0", Some(0)),
];

fn run_model(seed: u64, ops: usize, resp3: bool) {
    let mut cfg = Config::default();
    // Expired entries are reclaimed within milliseconds of a move of the clock, which the
    // model waits for: the next command never meets an expired entry (that is
    // `a_set_over_an_expired_last_entry_is_kept`'s case).
    cfg.store.hz = 500;
    let tg = server(cfg);
    let mut c = Client::new(&tg, resp3);
    let mut rng = Rng(seed);
    let mut m = Model::default();
    let subjects = ["A", "B"];
    let types: [&'static str; 4] = ["content", "query", "session", "system"];
    let keys: [&[u8]; 4] = [b"k0", b"k1", b"A", b"k\x00B"];
    for op in 0..ops {
        let s = rng.pick(&subjects);
        let ty = types[rng.below(types.len())];
        let k = keys[rng.below(keys.len())];
        let what = format!("seed {seed} op {op}");
        match rng.below(100) {
            0..=34 => {
                let v = format!("{s}{op}\x00{}", rng.below(1000)).into_bytes();
                let nx = rng.chance(4);
                let tokens = if rng.chance(2) {
                    rng.below(5000) as u64
                } else {
                    0
                };
                let (cost, nanos) = COSTS[rng.below(COSTS.len())];
                let tok = tokens.to_string();
                let mut a: Vec<&[u8]> = vec![b"CACHE.SET", s.as_bytes(), ty.as_bytes(), k, &v];
                if tokens > 0 || rng.chance(3) {
                    a.extend([&b"TOKENS"[..], tok.as_bytes()]);
                }
                if nanos > 0 || rng.chance(3) {
                    a.extend([&b"COST"[..], cost.as_bytes()]);
                }
                if nx {
                    a.push(b"NX");
                }
                let (ttl_arg, ttl) = TTLS[rng.below(TTLS.len())];
                if !ttl_arg.is_empty() {
                    a.extend([&b"TTL"[..], ttl_arg.as_bytes()]);
                }
                let want = m.set(s, ty, (k, &v), nx, (tokens, nanos), ttl);
                assert_eq!(c.call_args(&a), V::Int(want), "{what}: SET");
            }
            35..=69 => {
                let want = m.get(s, ty, k).map_or(V::Nil, V::Bulk);
                assert_eq!(
                    c.call_args(&[b"CACHE.GET", s.as_bytes(), ty.as_bytes(), k]),
                    want,
                    "{what}: GET {s} {ty} {}",
                    String::from_utf8_lossy(k)
                );
            }
            70..=79 => {
                let want = m.del_key(s, ty, k);
                assert_eq!(
                    c.call_args(&[b"CACHE.DEL", s.as_bytes(), ty.as_bytes(), k]),
                    V::Int(want),
                    "{what}: DEL key"
                );
            }
            80..=84 => {
                let want = m.del_type(s, ty);
                assert_eq!(
                    c.call_args(&[b"CACHE.DEL", s.as_bytes(), ty.as_bytes()]),
                    V::Int(want),
                    "{what}: DEL {s} {ty}"
                );
            }
            85..=87 => {
                let want = m.del_subject(s);
                assert_eq!(
                    c.call_args(&[b"CACHE.DEL", s.as_bytes()]),
                    V::Int(want),
                    "{what}: DEL {s}"
                );
            }
            88..=91 => {
                let by = 500 * (rng.below(6) as u64 + 1);
                tg.advance(Duration::from_millis(by));
                m.advance(m.now + by);
                let settled = wait_for(Duration::from_secs(5), || {
                    info_u64(&mut c.raw, "cache", "cache_purged_pending") == 0
                        && info_u64(&mut c.raw, "cache", "cache_entries") == m.entries.len() as u64
                });
                assert!(
                    settled,
                    "{what}: the model holds {} entries, INFO cache {}",
                    m.entries.len(),
                    text(&c.call("INFO cache"))
                );
            }
            _ => check_stats(&mut c, &m, &what),
        }
    }
    check_stats(&mut c, &m, &format!("seed {seed} end"));
    // Every entry the model holds reads back for its subject (and, for a shared type, for
    // either).
    let held: Vec<_> = m.entries.keys().cloned().collect();
    for (o, ty, k) in held {
        for s in subjects {
            if !o.is_empty() && o != s {
                continue;
            }
            let want = m.get(s, ty, &k).map(V::Bulk).unwrap();
            assert_eq!(
                c.call_args(&[b"CACHE.GET", s.as_bytes(), ty.as_bytes(), &k]),
                want
            );
        }
    }
    check_stats(&mut c, &m, &format!("seed {seed} after reading all"));
}

/// STATS of A, of B and of everything against the model, byte for byte; the bytes of each
/// non-shared type add up: the totals' are A's plus B's.
fn check_stats(c: &mut Client, m: &Model, what: &str) {
    let mut per_subject = Vec::new();
    for s in ["A", "B"] {
        let st = c.stats(Some(s));
        let want: BTreeMap<&str, C> = m.books.get(s).cloned().unwrap_or_default();
        st.expect(&want, &format!("{what}: STATS {s}"));
        per_subject.push(st);
    }
    let all = c.stats(None);
    all.expect(&m.totals, &format!("{what}: STATS"));
    for ty in ["content", "query", "session"] {
        assert_eq!(
            all.bytes_of(ty),
            per_subject[0].bytes_of(ty) + per_subject[1].bytes_of(ty),
            "{what}: {ty} bytes of A and B make the total"
        );
    }
}

/// Random SET (NX, TOKENS, COST, TTL) / GET / DEL of a key, a type or a subject / STATS /
/// moves of the clock (entries expire) by two subjects on the same key names and types:
/// after every command the reply is the model's,
/// so no command of A reads, counts or deletes B's entries (the shared `system` aside), and
/// STATS's arithmetic (entries, hits, misses, hit_rate, tokens_saved, cost_saved_usd) is
/// the model's to the byte.
#[test]
fn random_operations_match_the_model() {
    for (i, seed) in [0x5eed_u64, 0xca_c4e, 7, 0x1234_5678_9abc, 42]
        .into_iter()
        .enumerate()
    {
        run_model(seed, 400, i % 2 == 1);
    }
}

// -- 4. purges ----------------------------------------------------------------------------

/// DEL of a subject with 1,000 entries answers 1000 at once; each of them then misses; the
/// reclaimer deletes them in the background (`cache_purged_pending` back to 0,
/// `cache_entries` down by 1000) without touching another subject's; a SET after the purge
/// starts fresh books.
#[test]
fn a_purge_is_immediate_and_reclaimed_in_the_background() {
    let tg = Tollgate::start();
    let mut c = Client::new(&tg, false);
    let sets: Vec<Vec<Vec<u8>>> = (0..1000)
        .map(|i| {
            let ty = if i % 2 == 0 { "query" } else { "embedding" };
            args(&format!("CACHE.SET P {ty} k{i} value{i} TOKENS 3"))
        })
        .collect();
    for r in pipeline(&mut c.raw, &sets) {
        assert_eq!(r, b":1\r\n");
    }
    for i in 0..10 {
        assert_eq!(c.int(&format!("CACHE.SET Q query k{i} q{i}")), 1);
    }
    assert_eq!(info_u64(&mut c.raw, "cache", "cache_entries"), 1010);
    assert_eq!(c.stats(Some("P")).total.entries, 1000);
    assert_eq!(c.int("CACHE.DEL P"), 1000);
    assert_eq!(c.stats(Some("P")).total.entries, 0);
    let gets: Vec<Vec<Vec<u8>>> = (0..1000)
        .map(|i| {
            let ty = if i % 2 == 0 { "query" } else { "embedding" };
            args(&format!("CACHE.GET P {ty} k{i}"))
        })
        .collect();
    for (i, r) in pipeline(&mut c.raw, &gets).into_iter().enumerate() {
        assert_eq!(show(&r), "$-1\\r\\n", "P k{i} after the purge");
    }
    let reclaimed = wait_for(Duration::from_secs(10), || {
        info_u64(&mut c.raw, "cache", "cache_purged_pending") == 0
            && info_u64(&mut c.raw, "cache", "cache_entries") == 10
    });
    assert!(
        reclaimed,
        "pending {} entries {}",
        info_u64(&mut c.raw, "cache", "cache_purged_pending"),
        info_u64(&mut c.raw, "cache", "cache_entries")
    );
    for i in 0..10 {
        assert_eq!(
            c.call(&format!("CACHE.GET Q query k{i}")),
            bulk(&format!("q{i}"))
        );
    }
    // Fresh books: the purge's misses (P had no books) and old hits are not P's.
    assert_eq!(c.int("CACHE.SET P query k0 new"), 1);
    let mut want = BTreeMap::new();
    want.insert(
        "query",
        C {
            entries: 1,
            ..C::default()
        },
    );
    c.stats(Some("P")).expect(&want, "P after a new SET");
    assert_eq!(c.call("CACHE.GET P query k0"), bulk("new"));
    assert_eq!(c.call("CACHE.GET P query k2"), V::Nil);
    want.insert(
        "query",
        C {
            entries: 1,
            hits: 1,
            misses: 1,
            tokens: 0,
            ..C::default()
        },
    );
    c.stats(Some("P")).expect(&want, "P counted fresh");
    assert_eq!(info_u64(&mut c.raw, "cache", "cache_entries"), 11);
    // A purge of one type.
    let sets: Vec<Vec<Vec<u8>>> = (0..300)
        .map(|i| args(&format!("CACHE.SET P content c{i} v")))
        .collect();
    pipeline(&mut c.raw, &sets);
    assert_eq!(c.int("CACHE.DEL P content"), 300);
    assert_eq!(c.call("CACHE.GET P query k0"), bulk("new"));
    assert!(wait_for(Duration::from_secs(10), || {
        info_u64(&mut c.raw, "cache", "cache_purged_pending") == 0
            && info_u64(&mut c.raw, "cache", "cache_entries") == 11
    }));
}

// -- 5. single flight ---------------------------------------------------------------------

/// `n` clients, each on its own connection (odd ones in RESP3), FETCH the missing entry
/// `k` of `subject` (which holds nothing yet) at once (`LEASE 10s WAIT 5s`); whoever is told
/// to fill SETs `computed`. The replies, in client order.
fn concurrent_fetches(tg: &Tollgate, n: usize, subject: &str) -> Vec<(String, Option<Vec<u8>>)> {
    let addr = tg.addr;
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            let fetch = format!("CACHE.FETCH {subject} content k LEASE 10s WAIT 5s");
            let set = format!("CACHE.SET {subject} content k computed");
            std::thread::spawn(move || {
                let mut raw = Raw::connect(addr);
                let resp3 = i % 2 == 1;
                if resp3 {
                    raw.cmd_str("HELLO 3");
                }
                barrier.wait();
                let (status, value) = fetched(&raw.cmd_str(&fetch), resp3);
                if status == "fill" {
                    assert_eq!(raw.cmd_str(&set), b":1\r\n");
                }
                (status, value)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// 100 clients, each on its own connection, FETCH one missing key at once: one is told to
/// fill; it SETs; the others get the value as a hit; none times out and no flight is left.
#[test]
fn one_of_a_hundred_concurrent_fetches_fills() {
    let tg = Tollgate::start();
    let results = concurrent_fetches(&tg, 100, "s");
    let fills = results.iter().filter(|(s, _)| s == "fill").count();
    let hits: Vec<_> = results.iter().filter(|(s, _)| s == "hit").collect();
    assert_eq!(fills, 1, "{results:?}");
    assert_eq!(hits.len() + fills, 100, "{results:?}");
    assert!(hits
        .iter()
        .all(|(_, v)| v.as_deref() == Some(&b"computed"[..])));
    assert!(results.iter().all(|(s, v)| s == "hit" || v.is_none()));
    let mut c = tg.raw();
    assert_eq!(info_u64(&mut c, "cache", "cache_fills_in_flight"), 0);
}

/// Exactly one of many concurrent FETCHes of a missing key fills, round after round.
#[test]
fn exactly_one_of_many_concurrent_fetches_fills() {
    let tg = Tollgate::start();
    for round in 0..20 {
        let results = concurrent_fetches(&tg, 100, &format!("s{round}"));
        let fills = results.iter().filter(|(s, _)| s == "fill").count();
        assert_eq!(fills, 1, "round {round}: {results:?}");
    }
}

/// A filler that never SETs: when its lease (1 s) runs out exactly one of ten waiters is
/// handed `fill`, not before; once it SETs, the other nine get the value.
#[test]
fn an_expired_lease_hands_the_fill_to_exactly_one_waiter() {
    let tg = Tollgate::start();
    let addr = tg.addr;
    let start = Instant::now();
    let mut filler = tg.raw();
    let (status, _) = fetched(&filler.cmd_str("CACHE.FETCH s content k LEASE 1s"), false);
    assert_eq!(status, "fill");
    let threads: Vec<_> = (0..10)
        .map(|_| {
            std::thread::spawn(move || {
                let mut raw = Raw::connect(addr);
                let r = raw.cmd_str("CACHE.FETCH s content k LEASE 1s WAIT 5s");
                let (status, value) = fetched(&r, false);
                let at = start.elapsed();
                if status == "fill" {
                    assert_eq!(raw.cmd_str("CACHE.SET s content k late"), b":1\r\n");
                }
                (status, value, at)
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let fills: Vec<_> = results.iter().filter(|r| r.0 == "fill").collect();
    assert_eq!(fills.len(), 1, "{results:?}");
    assert!(
        // Whole milliseconds: the lease began at its millisecond, rounded down.
        fills[0].2 >= Duration::from_millis(999),
        "handed over before the lease ended: {results:?}"
    );
    assert_eq!(
        results
            .iter()
            .filter(|r| r.0 == "hit" && r.1.as_deref() == Some(&b"late"[..]))
            .count(),
        9,
        "{results:?}"
    );
    // The original filler's late SET is just a SET.
    assert_eq!(filler.cmd_str("CACHE.SET s content k original"), b":1\r\n");
}

/// Waiters that disconnect leave nothing: CLIENT LIST shows only the live clients long
/// before their WAIT would end, and once the lease is over no flight is left.
#[test]
fn disconnected_waiters_leave_nothing_behind() {
    let tg = Tollgate::start();
    let mut obs = tg.raw();
    let mut filler = tg.raw();
    let (status, _) = fetched(&filler.cmd_str("CACHE.FETCH s content k LEASE 1s"), false);
    assert_eq!(status, "fill");
    let mut waiters: Vec<Raw> = (0..20).map(|_| tg.raw()).collect();
    for w in &mut waiters {
        w.send_bytes(&Raw::encode(&[
            b"CACHE.FETCH",
            b"s",
            b"content",
            b"k",
            b"LEASE",
            b"1s",
            b"WAIT",
            b"20s",
        ]));
    }
    // All 21 lookups missed (each booked when it first looked): all are waiting.
    assert!(wait_for(Duration::from_secs(5), || {
        Stats::from_reply(&obs.cmd_str("CACHE.STATS"), false)
            .total
            .misses
            == 21
    }));
    assert_eq!(info_u64(&mut obs, "cache", "cache_fills_in_flight"), 1);
    let clients = |obs: &mut Raw| {
        let (v, _) = parse(&obs.cmd_str("CLIENT LIST"));
        text(&v).lines().count()
    };
    assert_eq!(clients(&mut obs), 22);
    drop(waiters);
    assert!(
        wait_for(Duration::from_secs(3), || clients(&mut obs) == 2),
        "CLIENT LIST still has {} clients",
        clients(&mut obs)
    );
    assert!(
        wait_for(Duration::from_secs(5), || info_u64(
            &mut obs,
            "cache",
            "cache_fills_in_flight"
        ) == 0),
        "a flight is left after its lease"
    );
    // And the key can be filled anew.
    let (status, _) = fetched(&obs.cmd_str("CACHE.FETCH s content k LEASE 1s"), false);
    assert_eq!(status, "fill");
    drop(filler);
}

/// Inside MULTI/EXEC a FETCH that would wait answers `timeout` at once; WAIT 0 (or none) too.
#[test]
fn fetch_does_not_block_in_a_transaction_or_with_wait_0() {
    let tg = Tollgate::start();
    let mut filler = Client::new(&tg, false);
    let (status, _) = fetched(
        &filler.raw.cmd_str("CACHE.FETCH s content k LEASE 10s"),
        false,
    );
    assert_eq!(status, "fill");
    for resp3 in [false, true] {
        let mut c = Client::new(&tg, resp3);
        c.ok("MULTI");
        assert_eq!(
            c.call("CACHE.FETCH s content k LEASE 10s WAIT 5s"),
            V::Simple("QUEUED".into())
        );
        assert_eq!(c.call("PING"), V::Simple("QUEUED".into()));
        let began = Instant::now();
        let exec = c.raw.cmd_str("EXEC");
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "EXEC waited out the WAIT"
        );
        let mut want = b"*2\r\n".to_vec();
        want.extend(fetch_reply("timeout", None, resp3));
        want.extend(b"+PONG\r\n");
        assert_eq!(show(&exec), show(&want));
        for line in [
            "CACHE.FETCH s content k LEASE 10s",
            "CACHE.FETCH s content k LEASE 10s WAIT 0",
        ] {
            let began = Instant::now();
            assert_eq!(
                show(&c.raw.cmd_str(line)),
                show(&fetch_reply("timeout", None, resp3)),
                "{line}"
            );
            assert!(began.elapsed() < Duration::from_secs(5));
        }
    }
    // A type the subject's plan does not cache: every asker fills, and no flight is made.
    let mut c = Client::new(&tg, false);
    c.ok("QUOTA.PLAN poor freemium");
    for _ in 0..3 {
        let (status, _) = fetched(
            &c.raw
                .cmd_str("CACHE.FETCH poor content k LEASE 10s WAIT 5s"),
            false,
        );
        assert_eq!(status, "fill");
    }
    assert_eq!(info_u64(&mut c.raw, "cache", "cache_fills_in_flight"), 1);
    drop(filler);
}

/// Pipelined commands after a FETCH that blocks run after it, in order: nothing is answered
/// until the fill lands, then the FETCH's hit, PONG and the GET's value.
#[test]
fn pipelined_commands_wait_behind_a_blocked_fetch() {
    let tg = Tollgate::start();
    for resp3 in [false, true] {
        let key = if resp3 { "k3" } else { "k2" };
        let mut filler = tg.raw();
        let (status, _) = fetched(
            &filler.cmd_str(&format!("CACHE.FETCH s content {key} LEASE 10s")),
            false,
        );
        assert_eq!(status, "fill");
        let mut c = Client::new(&tg, resp3);
        let mut bytes = Raw::encode(&[
            b"CACHE.FETCH",
            b"s",
            b"content",
            key.as_bytes(),
            b"LEASE",
            b"10s",
            b"WAIT",
            b"5s",
        ]);
        bytes.extend(Raw::encode(&[b"PING"]));
        bytes.extend(Raw::encode(&[
            b"CACHE.GET",
            b"s",
            b"content",
            key.as_bytes(),
        ]));
        c.raw.send_bytes(&bytes);
        c.raw
            .stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut one = [0u8; 1];
        assert!(
            c.raw.stream.peek(&mut one).is_err(),
            "a reply came before the fill landed"
        );
        c.raw
            .stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        assert_eq!(
            filler.cmd_str(&format!("CACHE.SET s content {key} landed")),
            b":1\r\n"
        );
        let mut want = fetch_reply("hit", Some(b"landed"), resp3);
        want.extend(b"+PONG\r\n$6\r\nlanded\r\n");
        let mut got = Vec::new();
        for _ in 0..3 {
            got.extend(c.raw.read_reply().unwrap());
        }
        assert_eq!(show(&got), show(&want));
        assert_eq!(c.call("PING"), V::Simple("PONG".into()));
    }
}

/// A purge while a fill is under way does not strand the waiter (the flight is keyed
/// without the generation): the filler's SET wakes it with the value. FLUSHALL ends every
/// flight: of two waiters exactly one is told to fill at once (long before the lease ends),
/// and the other gets its value. A WAIT shorter than the lease ends in `timeout`, not before.
#[test]
fn purges_and_flushall_during_a_fill() {
    let tg = Tollgate::start();
    let addr = tg.addr;
    let mut filler = tg.raw();
    let fetch = "CACHE.FETCH s content k LEASE 20s WAIT 10s";
    assert_eq!(fetched(&filler.cmd_str(fetch), false).0, "fill");
    let mut other = tg.raw();
    assert_eq!(other.cmd_str("CACHE.SET s query q v"), b":1\r\n");
    let waiter = std::thread::spawn(move || fetched(&Raw::connect(addr).cmd_str(fetch), false));
    let mut obs = tg.raw();
    assert!(wait_for(Duration::from_secs(5), || {
        Stats::from_reply(&obs.cmd_str("CACHE.STATS"), false)
            .total
            .misses
            == 2
    }));
    assert_eq!(other.cmd_str("CACHE.DEL s"), b":1\r\n");
    assert_eq!(filler.cmd_str("CACHE.SET s content k v"), b":1\r\n");
    assert_eq!(waiter.join().unwrap(), ("hit".into(), Some(b"v".to_vec())));

    // Two misses so far (the first filler's and its waiter's), a third and the two waiters'
    // to come.
    let fetch = "CACHE.FETCH s content k2 LEASE 20s WAIT 10s";
    assert_eq!(fetched(&filler.cmd_str(fetch), false).0, "fill");
    let began = Instant::now();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let mut raw = Raw::connect(addr);
                let got = fetched(&raw.cmd_str(fetch), false);
                if got.0 == "fill" {
                    assert_eq!(raw.cmd_str("CACHE.SET s content k2 again"), b":1\r\n");
                }
                (got, began.elapsed())
            })
        })
        .collect();
    assert!(wait_for(Duration::from_secs(5), || {
        Stats::from_reply(&obs.cmd_str("CACHE.STATS"), false)
            .total
            .misses
            == 5
    }));
    assert_eq!(obs.cmd_str("FLUSHALL"), b"+OK\r\n");
    let results: Vec<_> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
    let fills: Vec<_> = results.iter().filter(|r| r.0 .0 == "fill").collect();
    assert_eq!(fills.len(), 1, "{results:?}");
    assert!(fills[0].1 < Duration::from_secs(20), "{results:?}");
    assert!(
        results
            .iter()
            .any(|r| r.0 == ("hit".to_string(), Some(b"again".to_vec()))),
        "{results:?}"
    );

    // WAIT shorter than the lease: `timeout` once the WAIT is over.
    assert_eq!(
        fetched(&filler.cmd_str("CACHE.FETCH s content k3 LEASE 20s"), false).0,
        "fill"
    );
    let began = Instant::now();
    let got = fetched(
        &obs.cmd_str("CACHE.FETCH s content k3 LEASE 20s WAIT 300ms"),
        false,
    );
    assert_eq!(got, ("timeout".into(), None));
    // Times are whole milliseconds (a WAIT starts at the batch's millisecond, rounded down).
    let waited = began.elapsed();
    assert!(waited >= Duration::from_millis(299), "{waited:?}");
}

// -- 6. isolation from the keyspace ---------------------------------------------------------

/// The cache's entries are in no database a client can reach: DBSIZE, KEYS, SCAN, INFO
/// keyspace and RANDOMKEY see nothing; SELECT, SWAPDB and COPY to the database after
/// the last are refused as Redis refuses them; FLUSHDB keeps the cache, FLUSHALL clears it.
#[test]
fn the_cache_is_not_in_the_keyspace() {
    let tg = server(Config::default());
    let redis = RedisServer::start(&[]);
    for resp3 in [false, true] {
        let mut c = Client::new(&tg, resp3);
        for (i, ty) in TYPES.iter().enumerate() {
            assert_eq!(c.int(&format!("CACHE.SET u {ty} k{i} v TTL 1h")), 1);
            assert_eq!(c.int(&format!("CACHE.SET u {ty} n{i} v TTL 0")), 1);
        }
        assert_eq!(c.int("DBSIZE"), 0);
        assert_eq!(c.call("KEYS *"), V::Arr(vec![]));
        assert_eq!(
            c.call("SCAN 0 COUNT 1000"),
            V::Arr(vec![bulk("0"), V::Arr(vec![])])
        );
        assert_eq!(c.call("RANDOMKEY"), V::Nil);
        for k in ["k0", "u", "content"] {
            assert_eq!(c.int(&format!("EXISTS {k}")), 0);
        }
        // A WATCH of the subject's name is not touched by its cache entries.
        let mut other = tg.raw();
        c.ok("WATCH u");
        other.cmd_str("CACHE.SET u query w v");
        other.cmd_str("CACHE.DEL u query w");
        c.ok("MULTI");
        c.call("PING");
        assert_eq!(c.call("EXEC"), V::Arr(vec![V::Simple("PONG".into())]));
        let keyspace = text(&c.call("INFO keyspace"));
        assert!(!keyspace.contains("db"), "{keyspace:?}");
        let cache = text(&c.call("INFO cache"));
        assert!(cache.contains("cache_entries:12\r\n"), "{cache}");
        assert!(cache.contains("cache_entries_with_ttl:6\r\n"), "{cache}");
        // Every numbered database is empty too.
        for db in 0..16 {
            c.ok(&format!("SELECT {db}"));
            assert_eq!(c.int("DBSIZE"), 0, "db {db}");
        }
        c.ok("SELECT 0");
        c.call("DEL u");
        c.call("FLUSHALL");
    }
    let mut r = redis.raw();
    let mut t = tg.raw();
    r.cmd_str("SET k v");
    t.cmd_str("SET k v");
    for line in [
        "SELECT 16",
        "SELECT 17",
        "SELECT -1",
        "SELECT 2147483647",
        "SWAPDB 0 16",
        "SWAPDB 16 0",
        "COPY k k2 DB 16",
    ] {
        let want = r.cmd_str(line);
        assert_eq!(show(&t.cmd_str(line)), show(&want), "{line}");
    }
    assert_eq!(
        show(&t.cmd_str("SELECT 16")),
        "-ERR DB index is out of range\\r\\n"
    );
    // FLUSHDB (of any database) keeps the cache; FLUSHALL clears it and its counters.
    let mut c = Client::new(&tg, false);
    assert_eq!(c.int("CACHE.SET u query k v"), 1);
    assert_eq!(c.int("CACHE.SET u system k v"), 1);
    c.call("CACHE.GET u query k");
    c.ok("FLUSHDB");
    c.ok("SELECT 15");
    c.ok("FLUSHDB");
    c.ok("SELECT 0");
    assert_eq!(c.call("CACHE.GET u query k"), bulk("v"));
    assert_eq!(c.call("CACHE.GET u system k"), bulk("v"));
    c.ok("FLUSHALL");
    assert_eq!(info_u64(&mut c.raw, "cache", "cache_entries"), 0);
    c.stats(None).expect(&BTreeMap::new(), "after FLUSHALL");
    assert_eq!(c.call("CACHE.GET u query k"), V::Nil);
    assert_eq!(c.call("CACHE.GET u system k"), V::Nil);
    assert_eq!(c.int("CACHE.SET u query k v2"), 1);
    assert_eq!(c.call("CACHE.GET u query k"), bulk("v2"));
}

// -- 7. maxmemory -------------------------------------------------------------------------

/// Under `noeviction` at full memory, CACHE.SET is refused with Redis's -OOM (byte for
/// byte) while CACHE.GET, FETCH of a hit, STATS and DEL still answer.
#[test]
fn noeviction_refuses_cache_sets_at_full_memory() {
    let mut cfg = Config::default();
    cfg.store.maxmemory = ByteSize(1 << 20);
    cfg.store.maxmemory_policy = MaxmemoryPolicy::Noeviction;
    let tg = server(cfg);
    let mut c = Client::new(&tg, false);
    assert_eq!(c.int("CACHE.SET m content k v"), 1);
    let value = "v".repeat(1000);
    let mut refused = None;
    'fill: for batch in 0..400 {
        let cmds: Vec<_> = (0..100)
            .map(|i| args(&format!("SET fill:{batch}:{i} {value}")))
            .collect();
        for r in pipeline(&mut c.raw, &cmds) {
            if r != b"+OK\r\n" {
                refused = Some(r);
                break 'fill;
            }
        }
    }
    let refused = refused.expect("memory never filled");
    assert_eq!(show(&refused), OOM);
    assert_eq!(show(&c.raw.cmd_str("CACHE.SET m content k2 v")), OOM);
    assert_eq!(show(&c.raw.cmd_str("CACHE.SET m query k v TTL 0")), OOM);
    assert_eq!(c.call("CACHE.GET m content k"), bulk("v"));
    assert_eq!(
        show(&c.raw.cmd_str("CACHE.FETCH m content k LEASE 1s")),
        show(&fetch_reply("hit", Some(b"v"), false))
    );
    assert_eq!(c.call("CACHE.GET m content k2"), V::Nil);
    assert_eq!(c.stats(Some("m")).total.entries, 1);
    assert_eq!(c.int("CACHE.DEL m content k"), 1);
}

/// Under `allkeys-lru`, writing five times maxmemory of cache entries keeps memory near the
/// limit by evicting cache entries (CACHE.STATS evictions; every entry stored is held,
/// evicted or expired), while rate-limit and quota state written before stays intact.
#[test]
fn allkeys_lru_evicts_cache_entries_but_never_limits_or_quotas() {
    let max = 2u64 << 20;
    let mut cfg = Config::default();
    cfg.store.maxmemory = ByteSize(max);
    cfg.store.maxmemory_policy = MaxmemoryPolicy::AllkeysLru;
    let tg = server(cfg);
    let mut c = Client::new(&tg, false);
    let rl = c.raw.cmd_str("RL.CHECK rl 10 1h");
    assert!(rl.starts_with(b"*"), "{}", show(&rl));
    let charge = c.raw.cmd_str("QUOTA.CHARGE q tokens 7");
    assert!(charge.starts_with(b"*"), "{}", show(&charge));
    let status = c.raw.cmd_str("QUOTA.STATUS q");
    let value = "x".repeat(1000);
    let n = 5 * max as usize / 1000;
    for batch in 0..n / 500 {
        let cmds: Vec<_> = (0..500)
            .map(|i| args(&format!("CACHE.SET u{} query k{batch}:{i} {value}", i % 7)))
            .collect();
        for r in pipeline(&mut c.raw, &cmds) {
            assert_eq!(r, b":1\r\n");
        }
    }
    let used = info_u64(&mut c.raw, "memory", "used_memory");
    assert!(used <= max + max / 2, "used_memory {used} over {max}");
    let st = c.stats(None);
    let q = st.of("query");
    assert!(q.evictions > 0, "{}", show(&st.raw));
    assert_eq!(
        q.entries + q.evictions + q.expired,
        (n / 500 * 500) as u64,
        "{}",
        show(&st.raw)
    );
    assert_eq!(
        info_u64(&mut c.raw, "cache", "cache_entries"),
        q.entries,
        "INFO and STATS agree"
    );
    assert!(info_u64(&mut c.raw, "stats", "evicted_keys") >= q.evictions);
    // The per-subject books add up to the totals.
    let mut held = 0;
    let mut evicted = 0;
    for s in 0..7 {
        let sub = c.stats(Some(&format!("u{s}"))).of("query");
        held += sub.entries;
        evicted += sub.evictions;
    }
    assert_eq!((held, evicted), (q.entries, q.evictions));
    // A purge under eviction: the stale entries are reclaimed (or evicted) and the books
    // agree with the database again.
    assert!(c.int("CACHE.DEL u0") > 0);
    let cmds: Vec<_> = (0..1000)
        .map(|i| args(&format!("CACHE.SET u1 query more{i} {value}")))
        .collect();
    pipeline(&mut c.raw, &cmds);
    assert!(
        wait_for(Duration::from_secs(10), || info_u64(
            &mut c.raw,
            "cache",
            "cache_purged_pending"
        ) == 0),
        "purged entries left pending"
    );
    assert!(wait_for(Duration::from_secs(5), || {
        info_u64(&mut c.raw, "cache", "cache_entries") == c.stats(None).total.entries
    }));
    assert_eq!(c.int("EXISTS rl"), 1);
    assert_eq!(c.call("TYPE q"), V::Simple("quota".into()));
    assert_eq!(show(&c.raw.cmd_str("QUOTA.STATUS q")), show(&status));
}

/// Under `volatile-lru` only entries with a TTL are evicted: entries stored with TTL 0
/// (never) all stay while five times maxmemory of expiring entries is written.
#[test]
fn volatile_lru_evicts_only_entries_with_a_ttl() {
    let max = 2u64 << 20;
    let mut cfg = Config::default();
    cfg.store.maxmemory = ByteSize(max);
    cfg.store.maxmemory_policy = MaxmemoryPolicy::VolatileLru;
    let tg = server(cfg);
    let mut c = Client::new(&tg, false);
    let value = "x".repeat(1000);
    let keep: Vec<_> = (0..200)
        .map(|i| args(&format!("CACHE.SET keep query k{i} {value} TTL 0")))
        .collect();
    for r in pipeline(&mut c.raw, &keep) {
        assert_eq!(r, b":1\r\n");
    }
    let n = 5 * max as usize / 1000 / 500 * 500;
    for batch in 0..n / 500 {
        let cmds: Vec<_> = (0..500)
            .map(|i| args(&format!("CACHE.SET churn query k{batch}:{i} {value}")))
            .collect();
        for r in pipeline(&mut c.raw, &cmds) {
            assert_eq!(r, b":1\r\n");
        }
    }
    let churn = c.stats(Some("churn")).of("query");
    assert!(churn.evictions > 0, "{churn:?}");
    assert_eq!(churn.entries + churn.evictions, n as u64);
    let kept = c.stats(Some("keep")).of("query");
    assert_eq!((kept.entries, kept.evictions), (200, 0));
    let gets: Vec<_> = (0..200)
        .map(|i| args(&format!("CACHE.GET keep query k{i}")))
        .collect();
    for r in pipeline(&mut c.raw, &gets) {
        assert!(
            r == format!("$1000\r\n{value}\r\n").as_bytes(),
            "{}",
            show(&r[..20])
        );
    }
}

// -- redis-py ------------------------------------------------------------------------------

/// `tests/py/test_cache.py` with redis-py against a fresh server (see tests/redis_py.rs).
#[test]
fn redis_py_cache() {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import redis; print(redis.__version__)"])
        .output()
        .expect("python3 is needed for the redis-py test");
    assert!(
        probe.status.success(),
        "redis-py is not installed; run `pip install redis` (import redis failed: {})",
        String::from_utf8_lossy(&probe.stderr).trim()
    );
    let tg = Tollgate::start();
    let path = format!("{}/tests/py/test_cache.py", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("python3")
        .arg(&path)
        .arg(tg.addr.port().to_string())
        .output()
        .expect("running python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("OK"),
        "test_cache.py failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
}
