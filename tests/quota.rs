//! QUOTA.* over TCP with the raw client: every command's reply shape and field order in RESP2
//! and RESP3, the error texts, all-or-none charges, dry runs, idempotent replays, holds
//! (settle with overage, cancel, release by TTL, the concurrent limit), refunds, resets and
//! the ledger, calendar windows rolling exactly at `resets_at`, quota keys in the keyspace
//! (TYPE, OBJECT ENCODING, SCAN TYPE, never evicted), and exactness of one subject charged by
//! fifty connections at once.
//!
//! Every server runs on a manual clock that starts at a fixed instant, `T0` (what
//! `Tollgate::start_manual` does, with a known start instead of today), so that every
//! `resets_at` is a constant and time moves only by `advance`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{show, Raw, Rng, Tollgate};
use std::collections::BTreeMap;
use std::time::Duration;
use tollgate::clock::Clock;
use tollgate::config::{ByteSize, Config, MaxmemoryPolicy};
use tollgate::duration::DurationMs;

/// Saturday 2026-03-14 12:00:00 UTC.
const T0: u64 = 1_773_489_600_000;
/// 13:00 that day: the end of T0's hour window.
const HOUR_END: u64 = 1_773_493_200_000;
/// 2026-03-15 00:00 UTC: the end of T0's day window.
const DAY_END: u64 = 1_773_532_800_000;
/// 2026-04-01 00:00 UTC: the end of T0's month window.
const MONTH_END: u64 = 1_775_001_600_000;
const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;

fn server(cfg: Config) -> Tollgate {
    Tollgate::start_on(cfg, Clock::manual(T0))
}

/// A server whose config adds `toml` (plans under `[quota.plans.*]`) to the defaults.
fn server_toml(toml: &str) -> Tollgate {
    let cfg = Config::from_toml_str(toml).unwrap();
    cfg.validate().unwrap();
    server(cfg)
}

fn advance_ms(tg: &Tollgate, ms: u64) {
    tg.advance(Duration::from_millis(ms));
}

fn now(tg: &Tollgate) -> u64 {
    tg.state.clock.now_ms()
}

// -- RESP values --------------------------------------------------------------------------

/// One reply, with RESP3's map kept apart from an array.
#[derive(Debug, Clone, PartialEq, Eq)]
enum V {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Vec<u8>),
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
        b'_' => (V::Nil, after),
        b'$' if num() < 0 => (V::Nil, after),
        b'$' => {
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
/// alternating names and values and a null a null bulk string.
fn encode(v: &V, resp3: bool) -> Vec<u8> {
    let mut out = Vec::new();
    match v {
        V::Simple(s) => out.extend_from_slice(format!("+{s}\r\n").as_bytes()),
        V::Err(s) => out.extend_from_slice(format!("-{s}\r\n").as_bytes()),
        V::Int(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
        V::Bulk(b) => {
            out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
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
        V::Simple(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

fn int(v: &V) -> i64 {
    match v {
        V::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

fn opt_text(v: &V) -> Option<String> {
    match v {
        V::Nil => None,
        v => Some(text(v)),
    }
}

// -- the replies as values ------------------------------------------------------------------

/// One entry of `windows`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct W {
    metric: String,
    window: String,
    used: i64,
    reserved: i64,
    limit: i64,
    remaining: i64,
    percent: i64,
    resets_at: i64,
}

/// A window as SPEC defines its derived fields.
fn w(metric: &str, window: &str, used: u64, reserved: u64, limit: u64, resets_at: u64) -> W {
    let total = used + reserved;
    W {
        metric: metric.into(),
        window: window.into(),
        used: used as i64,
        reserved: reserved as i64,
        limit: limit as i64,
        remaining: limit.saturating_sub(total) as i64,
        percent: (total * 100 / limit) as i64,
        resets_at: resets_at as i64,
    }
}

/// The reply of CHARGE, RESERVE, SETTLE, CANCEL and REFUND.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    allowed: bool,
    replayed: bool,
    denied_by: Option<String>,
    retry_after_ms: i64,
    level: String,
    windows: Vec<W>,
}

fn allowed(level: &str, windows: Vec<W>) -> Outcome {
    Outcome {
        allowed: true,
        replayed: false,
        denied_by: None,
        retry_after_ms: 0,
        level: level.into(),
        windows,
    }
}

fn replayed(o: &Outcome) -> Outcome {
    Outcome {
        replayed: true,
        ..o.clone()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Hold {
    id: String,
    amounts: Vec<(String, i64)>,
    expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Status {
    plan: String,
    level: String,
    windows: Vec<W>,
    holds: Vec<Hold>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    id: Option<String>,
    ts: i64,
    op: String,
    metric: String,
    amount: i64,
}

fn entry(id: Option<&str>, ts: u64, op: &str, metric: &str, amount: i64) -> Entry {
    Entry {
        id: id.map(str::to_string),
        ts: ts as i64,
        op: op.into(),
        metric: metric.into(),
        amount,
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

    /// The fields of a map reply, in order; the map is a RESP3 map or, in RESP2, a flat
    /// array of alternating names and values (nothing else passes).
    fn fields(&self, v: V) -> Vec<(String, V)> {
        match (v, self.resp3) {
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

    /// The values of a map whose field names must be `names`, in this order.
    fn record(&self, v: V, names: &[&str]) -> Vec<V> {
        let fields = self.fields(v);
        let got: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(got, names, "field names and order");
        fields.into_iter().map(|(_, v)| v).collect()
    }

    fn windows(&self, v: V) -> Vec<W> {
        let V::Arr(items) = v else {
            panic!("windows is not an array: {v:?}")
        };
        items
            .into_iter()
            .map(|w| {
                let f = self.record(
                    w,
                    &[
                        "metric",
                        "window",
                        "used",
                        "reserved",
                        "limit",
                        "remaining",
                        "percent",
                        "resets_at",
                    ],
                );
                W {
                    metric: text(&f[0]),
                    window: text(&f[1]),
                    used: int(&f[2]),
                    reserved: int(&f[3]),
                    limit: int(&f[4]),
                    remaining: int(&f[5]),
                    percent: int(&f[6]),
                    resets_at: int(&f[7]),
                }
            })
            .collect()
    }

    fn outcome_of(&self, v: V) -> Outcome {
        let f = self.record(
            v,
            &[
                "allowed",
                "replayed",
                "denied_by",
                "retry_after_ms",
                "level",
                "windows",
            ],
        );
        let flag = |v: &V| match int(v) {
            0 => false,
            1 => true,
            n => panic!("flag {n}"),
        };
        Outcome {
            allowed: flag(&f[0]),
            replayed: flag(&f[1]),
            denied_by: opt_text(&f[2]),
            retry_after_ms: int(&f[3]),
            level: text(&f[4]),
            windows: self.windows(f[5].clone()),
        }
    }

    fn outcome(&mut self, line: &str) -> Outcome {
        let v = self.call(line);
        self.outcome_of(v)
    }

    fn status(&mut self, line: &str) -> Status {
        let v = self.call(line);
        let f = self.record(v, &["plan", "level", "windows", "holds"]);
        let V::Arr(holds) = f[3].clone() else {
            panic!("holds is not an array: {:?}", f[3])
        };
        let holds = holds
            .into_iter()
            .map(|h| {
                let h = self.record(h, &["id", "amounts", "expires_at"]);
                Hold {
                    id: text(&h[0]),
                    amounts: self
                        .fields(h[1].clone())
                        .into_iter()
                        .map(|(m, a)| (m, int(&a)))
                        .collect(),
                    expires_at: int(&h[2]),
                }
            })
            .collect();
        Status {
            plan: text(&f[0]),
            level: text(&f[1]),
            windows: self.windows(f[2].clone()),
            holds,
        }
    }

    fn ledger(&mut self, line: &str) -> Vec<Entry> {
        let V::Arr(items) = self.call(line) else {
            panic!("{line}: not an array")
        };
        items
            .into_iter()
            .map(|e| {
                let f = self.record(e, &["id", "ts", "op", "metric", "amount"]);
                Entry {
                    id: opt_text(&f[0]),
                    ts: int(&f[1]),
                    op: text(&f[2]),
                    metric: text(&f[3]),
                    amount: int(&f[4]),
                }
            })
            .collect()
    }

    /// `used` of one window in STATUS.
    fn used(&mut self, subject: &str, metric_window: &str) -> i64 {
        let s = self.status(&format!("QUOTA.STATUS {subject}"));
        s.windows
            .iter()
            .find(|w| format!("{}/{}", w.metric, w.window) == metric_window)
            .unwrap_or_else(|| panic!("no {metric_window} in {s:?}"))
            .used
    }
}

/// The freemium windows of STATUS (plan metrics in name order, windows shortest first).
fn freemium(calls: u64, tokens_day: u64, tokens_month: u64) -> Vec<W> {
    vec![
        w("calls", "hour", calls, 0, 100, HOUR_END),
        w("tokens", "day", tokens_day, 0, 10_000, DAY_END),
        w("tokens", "month", tokens_month, 0, 100_000, MONTH_END),
    ]
}

fn tokens(day: u64, month: u64, reserved: u64) -> Vec<W> {
    vec![
        w("tokens", "day", day, reserved, 10_000, DAY_END),
        w("tokens", "month", month, reserved, 100_000, MONTH_END),
    ]
}

// -- reply shapes -------------------------------------------------------------------------

/// The reply of a charge is SPEC's map, byte for byte: a RESP3 map, or in RESP2 the same
/// names and values as a flat array, with a null `denied_by` as `_` or `$-1`.
#[test]
fn charge_reply_is_specs_map_in_both_protocols() {
    let tg = server(Config::default());
    let window = |metric: &str, window: &str, used: i64, limit: i64, resets_at: u64| {
        V::Map(vec![
            (bulk("metric"), bulk(metric)),
            (bulk("window"), bulk(window)),
            (bulk("used"), V::Int(used)),
            (bulk("reserved"), V::Int(0)),
            (bulk("limit"), V::Int(limit)),
            (bulk("remaining"), V::Int((limit - used).max(0))),
            (bulk("percent"), V::Int(used * 100 / limit)),
            (bulk("resets_at"), V::Int(resets_at as i64)),
        ])
    };
    let reply = |allowed: i64, denied_by: V, retry: i64, level: &str, windows: Vec<V>| {
        V::Map(vec![
            (bulk("allowed"), V::Int(allowed)),
            (bulk("replayed"), V::Int(0)),
            (bulk("denied_by"), denied_by),
            (bulk("retry_after_ms"), V::Int(retry)),
            (bulk("level"), bulk(level)),
            (bulk("windows"), V::Arr(windows)),
        ])
    };
    for mut c in Client::both(&tg) {
        let r3 = c.resp3;
        let s = if r3 { "r3" } else { "r2" };
        let got = c
            .raw
            .cmd_str(&format!("QUOTA.CHARGE {s} tokens 8100 calls 1"));
        let want = reply(
            1,
            V::Nil,
            0,
            "warn",
            vec![
                window("tokens", "day", 8100, 10_000, DAY_END),
                window("tokens", "month", 8100, 100_000, MONTH_END),
                window("calls", "hour", 1, 100, HOUR_END),
            ],
        );
        assert_eq!(show(&got), show(&encode(&want, r3)));
        let head: &[u8] = match r3 {
            true => {
                b"%6\r\n$7\r\nallowed\r\n:1\r\n$8\r\nreplayed\r\n:0\r\n$9\r\ndenied_by\r\n_\r\n"
            }
            false => {
                b"*12\r\n$7\r\nallowed\r\n:1\r\n$8\r\nreplayed\r\n:0\r\n$9\r\ndenied_by\r\n$-1\r\n"
            }
        };
        assert!(got.starts_with(head), "{}", show(&got));
        // Refused: denied_by names the window, retry_after_ms runs until it resets.
        let got = c.raw.cmd_str(&format!("QUOTA.CHARGE {s} tokens 2000"));
        let want = reply(
            0,
            bulk("tokens/day"),
            (DAY_END - T0) as i64,
            "exceeded",
            vec![
                window("tokens", "day", 8100, 10_000, DAY_END),
                window("tokens", "month", 8100, 100_000, MONTH_END),
            ],
        );
        assert_eq!(show(&got), show(&encode(&want, r3)));
    }
}

/// STATUS: plan, level, every window of the plan, and the open holds with their amounts
/// (a map) and deadline; an unknown subject reads as empty and is not created.
#[test]
fn status_reply_shape_in_both_protocols() {
    let tg = server(Config::default());
    for mut c in Client::both(&tg) {
        let s = if c.resp3 { "r3" } else { "r2" };
        let st = c.status(&format!("QUOTA.STATUS {s}"));
        assert_eq!(
            st,
            Status {
                plan: "freemium".into(),
                level: "ok".into(),
                windows: freemium(0, 0, 0),
                holds: vec![],
            }
        );
        assert_eq!(c.int(&format!("EXISTS {s}")), 0, "STATUS created {s}");
        c.outcome(&format!(
            "QUOTA.RESERVE {s} tokens 9500 calls 2 ID job TTL 1m"
        ));
        let st = c.status(&format!("QUOTA.STATUS {s}"));
        assert_eq!(
            st,
            Status {
                plan: "freemium".into(),
                level: "critical".into(),
                windows: vec![
                    w("calls", "hour", 0, 2, 100, HOUR_END),
                    w("tokens", "day", 0, 9500, 10_000, DAY_END),
                    w("tokens", "month", 0, 9500, 100_000, MONTH_END),
                ],
                holds: vec![Hold {
                    id: "job".into(),
                    amounts: vec![("tokens".into(), 9500), ("calls".into(), 2)],
                    expires_at: (T0 + 60_000) as i64,
                }],
            }
        );
        // STATUS ... PLAN reads under another plan without storing it.
        let st = c.status(&format!("QUOTA.STATUS {s} PLAN pro_monthly"));
        assert_eq!(st.plan, "pro_monthly");
        assert_eq!(
            st.windows[1],
            w("tokens", "day", 0, 9500, 1_000_000, DAY_END)
        );
        assert_eq!(st.level, "ok");
        assert_eq!(
            c.call(&format!("QUOTA.PLAN {s}")),
            bulk("freemium"),
            "STATUS PLAN stored nothing"
        );
    }
}

/// LEDGER: newest first, `id ts op metric amount` maps (a charge without ID has a null id),
/// 10 entries by default, COUNT n of them; an unknown subject has an empty ledger.
#[test]
fn ledger_lists_newest_first_with_count() {
    let tg = server(Config::default());
    for mut c in Client::both(&tg) {
        let s = if c.resp3 { "r3" } else { "r2" };
        assert_eq!(c.call(&format!("QUOTA.LEDGER {s}")), V::Arr(vec![]));
        c.outcome(&format!("QUOTA.CHARGE {s} tokens 5 calls 1"));
        advance_ms(&tg, 1);
        let t1 = now(&tg);
        c.outcome(&format!("QUOTA.CHARGE {s} tokens 7 ID a"));
        assert_eq!(
            c.ledger(&format!("QUOTA.LEDGER {s}")),
            vec![
                entry(Some("a"), t1, "charge", "tokens", 7),
                entry(None, t1 - 1, "charge", "calls", 1),
                entry(None, t1 - 1, "charge", "tokens", 5),
            ]
        );
        for i in 0..10 {
            c.outcome(&format!("QUOTA.CHARGE {s} tokens {i}"));
        }
        let all = c.ledger(&format!("QUOTA.LEDGER {s} COUNT 100"));
        assert_eq!(all.len(), 13);
        let amounts: Vec<i64> = all.iter().map(|e| e.amount).collect();
        assert_eq!(amounts, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 7, 1, 5]);
        assert_eq!(c.ledger(&format!("QUOTA.LEDGER {s}")), all[..10].to_vec());
        assert_eq!(
            c.ledger(&format!("QUOTA.LEDGER {s} count 2")),
            all[..2].to_vec()
        );
        assert_eq!(c.ledger(&format!("QUOTA.LEDGER {s} COUNT 0")), vec![]);
        // The wire form of one entry: a null id is `_` in RESP3 and `$-1` in RESP2.
        let one = c.raw.cmd_str(&format!("QUOTA.LEDGER {s} COUNT 1"));
        let want = V::Arr(vec![V::Map(vec![
            (bulk("id"), V::Nil),
            (bulk("ts"), V::Int(t1 as i64)),
            (bulk("op"), bulk("charge")),
            (bulk("metric"), bulk("tokens")),
            (bulk("amount"), V::Int(9)),
        ])]);
        assert_eq!(show(&one), show(&encode(&want, c.resp3)));
    }
}

/// QUOTA.PLAN reads the subject's plan (the default until one is stored) and stores one;
/// PLAN arguments choose the plan of one command; an unknown plan is NOPLAN.
#[test]
fn plan_get_set_and_unknown() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, true);
    assert_eq!(c.call("QUOTA.PLAN u"), bulk("freemium"));
    assert_eq!(c.int("EXISTS u"), 0, "reading the plan created the subject");
    c.ok("QUOTA.PLAN u pro_monthly");
    assert_eq!(c.int("EXISTS u"), 1, "storing a plan is a change");
    assert_eq!(c.call("QUOTA.PLAN u"), bulk("pro_monthly"));
    let o = c.outcome("QUOTA.CHARGE u tokens 20000");
    assert!(o.allowed, "pro_monthly allows 1M a day: {o:?}");
    assert_eq!(o.windows[0].limit, 1_000_000);
    // A PLAN argument wins over the stored plan, for that command only.
    let o = c.outcome("QUOTA.CHARGE u tokens 1 PLAN freemium");
    assert_eq!(
        (o.allowed, o.denied_by.as_deref()),
        (false, Some("tokens/day"))
    );
    assert_eq!(c.status("QUOTA.STATUS u").plan, "pro_monthly");
    assert_eq!(c.err("QUOTA.PLAN u gold"), "NOPLAN no such plan 'gold'");
    assert_eq!(c.call("QUOTA.PLAN u"), bulk("pro_monthly"));
    assert_eq!(
        c.err("QUOTA.CHARGE u tokens 1 PLAN gold"),
        "NOPLAN no such plan 'gold'"
    );
    assert_eq!(
        c.err("QUOTA.RESERVE u tokens 1 ID r PLAN gold"),
        "NOPLAN no such plan 'gold'"
    );
    assert_eq!(
        c.err("QUOTA.STATUS u PLAN gold"),
        "NOPLAN no such plan 'gold'"
    );
    assert_eq!(
        c.err("QUOTA.STATUS v PLAN gold"),
        "NOPLAN no such plan 'gold'"
    );
    assert_eq!(c.int("EXISTS v"), 0);
    // The configured default plan.
    let mut cfg = Config::default();
    cfg.quota.default_plan = "pro_annual".into();
    let tg = server(cfg);
    let mut c = Client::new(&tg, false);
    assert_eq!(c.call("QUOTA.PLAN u"), bulk("pro_annual"));
    assert_eq!(c.status("QUOTA.STATUS u").windows[0].limit, 10_000);
    assert_eq!(c.status("QUOTA.STATUS u").windows[1].limit, 2_000_000);
}

// -- errors -------------------------------------------------------------------------------

/// Every error text, as Redis words its generic ones; none of them creates the subject.
#[test]
fn errors_are_worded_as_redis_words_them() {
    let tg = server(Config::default());
    let arity = |cmd: &str| format!("ERR wrong number of arguments for '{cmd}' command");
    let syntax = "ERR syntax error".to_string();
    let not_int = "ERR value is not an integer or out of range".to_string();
    let cases: Vec<(&str, String)> = vec![
        ("QUOTA.CHARGE", arity("quota.charge")),
        ("QUOTA.CHARGE u", arity("quota.charge")),
        ("QUOTA.CHARGE u tokens", arity("quota.charge")),
        ("quota.charge u tokens", arity("quota.charge")),
        ("QUOTA.RESERVE u tokens 1 ID", arity("quota.reserve")),
        ("QUOTA.SETTLE u ID", arity("quota.settle")),
        ("QUOTA.CANCEL u ID", arity("quota.cancel")),
        ("QUOTA.CANCEL u ID x tokens", arity("quota.cancel")),
        ("QUOTA.REFUND u ID", arity("quota.refund")),
        ("QUOTA.RESET", arity("quota.reset")),
        ("QUOTA.PLAN", arity("quota.plan")),
        ("QUOTA.STATUS", arity("quota.status")),
        ("QUOTA.LEDGER", arity("quota.ledger")),
        ("QUOTA.CHARGE u tokens 1 calls", syntax.clone()),
        ("QUOTA.CHARGE u tokens 1 BOGUS", syntax.clone()),
        ("QUOTA.CHARGE u tokens 1 ID", syntax.clone()),
        ("QUOTA.CHARGE u tokens 1 PLAN", syntax.clone()),
        ("QUOTA.CHARGE u tokens 1 ID a ID b", syntax.clone()),
        ("QUOTA.CHARGE u tokens 1 DRYRUN DRYRUN", syntax.clone()),
        ("QUOTA.CHARGE u tokens 1 TTL 5", syntax.clone()),
        ("QUOTA.CHARGE u tokens 1 DRYRUN calls 1", syntax.clone()),
        // A metric may not be named like an option: it would be read as one.
        ("QUOTA.CHARGE u PLAN 5", syntax.clone()),
        ("QUOTA.CHARGE u DRYRUN 5", syntax.clone()),
        ("QUOTA.RESERVE u tokens 1 ID r DRYRUN", syntax.clone()),
        ("QUOTA.RESERVE u tokens 1 ID r TTL", syntax.clone()),
        ("QUOTA.SETTLE u IDX r", syntax.clone()),
        ("QUOTA.SETTLE u ID r tokens", syntax.clone()),
        ("QUOTA.SETTLE u ID r PLAN p", syntax.clone()),
        ("QUOTA.CANCEL u XX r", syntax.clone()),
        ("QUOTA.RESET u METRIC", syntax.clone()),
        ("QUOTA.RESET u WINDOW day", syntax.clone()),
        ("QUOTA.RESET u METRIC tokens day", syntax.clone()),
        (
            "QUOTA.RESET u METRIC tokens WINDOW day extra",
            syntax.clone(),
        ),
        ("QUOTA.PLAN u freemium extra", syntax.clone()),
        ("QUOTA.STATUS u PLAN", syntax.clone()),
        ("QUOTA.STATUS u DRYRUN", syntax.clone()),
        ("QUOTA.LEDGER u COUNT", syntax.clone()),
        ("QUOTA.LEDGER u 5", syntax.clone()),
        ("QUOTA.LEDGER u COUNT 1 COUNT 2", syntax.clone()),
        ("QUOTA.CHARGE u tokens abc", not_int.clone()),
        ("QUOTA.CHARGE u tokens -1", not_int.clone()),
        ("QUOTA.CHARGE u tokens 1.5", not_int.clone()),
        (
            "QUOTA.CHARGE u tokens 99999999999999999999",
            not_int.clone(),
        ),
        ("QUOTA.SETTLE u ID r tokens x", not_int.clone()),
        ("QUOTA.REFUND u ID r tokens -5", not_int.clone()),
        ("QUOTA.LEDGER u COUNT -1", not_int.clone()),
        ("QUOTA.LEDGER u COUNT ten", not_int.clone()),
        ("QUOTA.RESERVE u tokens 1", arity("quota.reserve")),
        (
            "QUOTA.RESERVE u tokens 1 TTL 5",
            "ERR ID is required".into(),
        ),
        (
            "QUOTA.RESERVE u tokens 1 ID r TTL 0",
            "ERR TTL must be a positive duration such as 60, 500ms, 10m, 1h or 1d".into(),
        ),
        (
            "QUOTA.RESERVE u tokens 1 ID r TTL soon",
            "ERR TTL must be a positive duration such as 60, 500ms, 10m, 1h or 1d".into(),
        ),
        (
            "QUOTA.RESET u METRIC tokens WINDOW year",
            "ERR WINDOW must be one of minute, hour, day, week, month".into(),
        ),
        (
            "QUOTA.CHARGE u widgets 1",
            "ERR metric 'widgets' is not in the subject's plan".into(),
        ),
        (
            "QUOTA.CHARGE u tokens 1 widgets 1",
            "ERR metric 'widgets' is not in the subject's plan".into(),
        ),
        (
            "QUOTA.RESERVE u widgets 1 ID r",
            "ERR metric 'widgets' is not in the subject's plan".into(),
        ),
        (
            "QUOTA.SETTLE u ID r",
            "NOHOLD no hold or charge with id 'r'".into(),
        ),
        (
            "QUOTA.CANCEL u ID r",
            "NOHOLD no hold or charge with id 'r'".into(),
        ),
        (
            "QUOTA.REFUND u ID r",
            "NOHOLD no hold or charge with id 'r'".into(),
        ),
        (
            "QUOTA.REFUND u ID r tokens 5",
            "NOHOLD no hold or charge with id 'r'".into(),
        ),
        ("QUOTA.PLAN u gold", "NOPLAN no such plan 'gold'".into()),
    ];
    for mut c in Client::both(&tg) {
        for (line, want) in &cases {
            assert_eq!(&c.err(line), want, "{line}");
        }
        // Text arguments must be UTF-8.
        let utf8 = |c: &mut Client, args: &[&[u8]]| {
            let (v, _) = parse(&c.raw.cmd(args));
            v
        };
        assert_eq!(
            utf8(&mut c, &[b"QUOTA.CHARGE", b"u", b"tok\xffens", b"1"]),
            V::Err("ERR a metric name must be valid UTF-8".into())
        );
        assert_eq!(
            utf8(
                &mut c,
                &[b"QUOTA.CHARGE", b"u", b"tokens", b"1", b"ID", b"\xfe"]
            ),
            V::Err("ERR ID must be valid UTF-8".into())
        );
        assert_eq!(
            utf8(&mut c, &[b"QUOTA.PLAN", b"u", b"\xfe"]),
            V::Err("ERR a plan name must be valid UTF-8".into())
        );
        assert_eq!(c.int("EXISTS u"), 0, "an error created the subject");
        assert_eq!(c.int("DBSIZE"), 0);
    }
}

/// A key of another type is WRONGTYPE for every QUOTA.* command (and changes nothing), and a
/// quota subject is WRONGTYPE for the commands of other types.
#[test]
fn other_types_are_wrongtype() {
    let tg = server(Config::default());
    let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
    for mut c in Client::both(&tg) {
        c.ok("SET s v");
        assert!(matches!(c.call("RL.CHECK rl 10 1h"), V::Arr(_) | V::Map(_)));
        for key in ["s", "rl"] {
            for cmd in [
                "QUOTA.CHARGE {} tokens 1",
                "QUOTA.CHARGE {} tokens 1 DRYRUN",
                "QUOTA.RESERVE {} tokens 1 ID r",
                "QUOTA.SETTLE {} ID r",
                "QUOTA.CANCEL {} ID r",
                "QUOTA.REFUND {} ID r",
                "QUOTA.RESET {}",
                "QUOTA.PLAN {}",
                "QUOTA.PLAN {} freemium",
                "QUOTA.STATUS {}",
                "QUOTA.LEDGER {}",
            ] {
                let line = cmd.replace("{}", key);
                assert_eq!(c.err(&line), wrongtype, "{line}");
            }
        }
        assert_eq!(c.call("GET s"), bulk("v"));
        assert_eq!(c.call("TYPE rl"), V::Simple("ratelimit".into()));
        c.outcome("QUOTA.CHARGE q tokens 1");
        for line in ["GET q", "INCR q", "APPEND q x", "RL.CHECK q 10 1h"] {
            assert_eq!(c.err(line), wrongtype, "{line}");
        }
        assert_eq!(c.used("q", "tokens/day"), 1);
        c.ok("FLUSHALL");
    }
}

// -- charges ------------------------------------------------------------------------------

/// A charge of several metrics debits all of them or none: calls is full, so a charge of
/// tokens and calls debits no tokens; the refusal names the window that frees last.
#[test]
fn charges_are_all_or_none_across_metrics() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, true);
    let o = c.outcome("QUOTA.CHARGE u calls 100");
    // Exactly at the limit is allowed (level critical: `exceeded` is above the limit).
    assert_eq!(
        o,
        allowed("critical", vec![w("calls", "hour", 100, 0, 100, HOUR_END)])
    );
    let o = c.outcome("QUOTA.CHARGE u tokens 10 calls 1");
    assert_eq!(
        o,
        Outcome {
            allowed: false,
            replayed: false,
            denied_by: Some("calls/hour".into()),
            retry_after_ms: (HOUR_END - T0) as i64,
            level: "exceeded".into(),
            windows: vec![
                w("tokens", "day", 0, 0, 10_000, DAY_END),
                w("tokens", "month", 0, 0, 100_000, MONTH_END),
                w("calls", "hour", 100, 0, 100, HOUR_END),
            ],
        }
    );
    assert_eq!(
        c.status("QUOTA.STATUS u").windows,
        freemium(100, 0, 0),
        "the refused charge debited tokens"
    );
    // Over the day but not the month: the day refuses; over both: the month, which frees
    // last.
    let o = c.outcome("QUOTA.CHARGE u tokens 10001");
    assert_eq!(o.denied_by.as_deref(), Some("tokens/day"));
    assert_eq!(o.retry_after_ms, (DAY_END - T0) as i64);
    let o = c.outcome("QUOTA.CHARGE u tokens 100001");
    assert_eq!(o.denied_by.as_deref(), Some("tokens/month"));
    assert_eq!(o.retry_after_ms, (MONTH_END - T0) as i64);
    // A metric named twice is added up (and refused as a whole).
    let o = c.outcome("QUOTA.CHARGE u tokens 6000 tokens 4001");
    assert_eq!(o.denied_by.as_deref(), Some("tokens/day"));
    let o = c.outcome("QUOTA.CHARGE u tokens 6000 tokens 4000");
    assert_eq!(o, allowed("critical", tokens(10_000, 10_000, 0)));
    // Exactly at the limit is allowed; one more is not.
    assert!(!c.outcome("QUOTA.CHARGE u tokens 1").allowed);
    assert!(c.outcome("QUOTA.CHARGE u tokens 0").allowed);
    assert_eq!(
        c.status("QUOTA.STATUS u").windows,
        freemium(100, 10_000, 10_000)
    );
    let ops: Vec<(String, i64)> = c
        .ledger("QUOTA.LEDGER u")
        .into_iter()
        .map(|e| (e.metric, e.amount))
        .collect();
    assert_eq!(
        ops,
        [
            ("tokens".to_string(), 0),
            ("tokens".to_string(), 10_000),
            ("calls".to_string(), 100)
        ],
        "refused charges are not in the ledger"
    );
    // A refused charge without ID of an unknown subject stores nothing.
    assert!(!c.outcome("QUOTA.CHARGE new tokens 10001").allowed);
    assert_eq!(c.int("EXISTS new"), 0);
}

/// The level follows the fullest window and the plan's warn_at (80 and 95 %).
#[test]
fn levels_follow_warn_at() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, false);
    for (amount, level) in [(7999, "ok"), (1, "warn"), (1499, "warn"), (1, "critical")] {
        let o = c.outcome(&format!("QUOTA.CHARGE u tokens {amount}"));
        assert_eq!(o.level, level, "after {amount}: {o:?}");
    }
    assert_eq!(c.status("QUOTA.STATUS u").level, "critical");
    assert_eq!(c.outcome("QUOTA.CHARGE u tokens 500").level, "critical");
    // Above the limit only by an overage.
    c.outcome("QUOTA.RESERVE u tokens 0 ID h");
    assert_eq!(c.outcome("QUOTA.SETTLE u ID h tokens 1").level, "exceeded");
    assert_eq!(c.status("QUOTA.STATUS u").level, "exceeded");
}

/// DRYRUN answers whether the charge fits and changes nothing: no subject created, no usage,
/// no ledger entry, no id remembered.
#[test]
fn dry_run_changes_nothing() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, true);
    let o = c.outcome("QUOTA.CHARGE u tokens 100 DRYRUN");
    assert_eq!(o, allowed("ok", tokens(0, 0, 0)));
    assert_eq!(c.int("EXISTS u"), 0, "a dry run created the subject");
    c.outcome("QUOTA.CHARGE u tokens 9000");
    let ledger = c.ledger("QUOTA.LEDGER u");
    let o = c.outcome("QUOTA.CHARGE u tokens 1000 calls 1 ID d DRYRUN");
    assert!(o.allowed && !o.replayed, "{o:?}");
    let o = c.outcome("QUOTA.CHARGE u tokens 1001 DRYRUN");
    assert_eq!(
        (o.allowed, o.denied_by.as_deref(), o.retry_after_ms),
        (false, Some("tokens/day"), (DAY_END - T0) as i64)
    );
    assert_eq!(c.status("QUOTA.STATUS u").windows, freemium(0, 9000, 9000));
    assert_eq!(c.ledger("QUOTA.LEDGER u"), ledger);
    // The id of a dry run is not remembered: the real charge with it is applied.
    let o = c.outcome("QUOTA.CHARGE u tokens 1000 ID d");
    assert!(o.allowed && !o.replayed, "{o:?}");
    assert_eq!(c.used("u", "tokens/day"), 10_000);
}

/// A repeated ID returns the first outcome with replayed 1 and changes nothing, for every
/// mutation; the amounts of the retry are not looked at.
#[test]
fn replays_return_the_first_outcome_and_change_nothing() {
    let tg = server(Config::default());
    for mut c in Client::both(&tg) {
        let s = if c.resp3 { "r3" } else { "r2" };
        let q = |cmd: &str| cmd.replace('@', s);
        let first = c.outcome(&q("QUOTA.CHARGE @ tokens 40 calls 1 ID c"));
        assert!(first.allowed && !first.replayed);
        advance_ms(&tg, 1000);
        let ledger = c.ledger(&q("QUOTA.LEDGER @ COUNT 100"));
        for retry in [
            "QUOTA.CHARGE @ tokens 40 calls 1 ID c",
            "QUOTA.CHARGE @ tokens 9999 ID c",
            "QUOTA.CHARGE @ tokens 40 calls 1 ID c PLAN pro_monthly",
        ] {
            assert_eq!(c.outcome(&q(retry)), replayed(&first), "{retry}");
        }
        assert_eq!(c.ledger(&q("QUOTA.LEDGER @ COUNT 100")), ledger);
        // A DRYRUN with the id of a done charge is a retry of it too.
        assert_eq!(
            c.outcome(&q("QUOTA.CHARGE @ tokens 40 calls 1 ID c DRYRUN")),
            replayed(&first)
        );

        let reserve = c.outcome(&q("QUOTA.RESERVE @ tokens 100 ID h"));
        assert_eq!(reserve, allowed("ok", tokens(40, 40, 100)));
        assert_eq!(
            c.outcome(&q("QUOTA.RESERVE @ tokens 100 ID h")),
            replayed(&reserve)
        );
        assert_eq!(c.status(&q("QUOTA.STATUS @")).holds.len(), 1);
        let settle = c.outcome(&q("QUOTA.SETTLE @ ID h tokens 60"));
        assert_eq!(settle, allowed("ok", tokens(100, 100, 0)));
        assert_eq!(
            c.outcome(&q("QUOTA.SETTLE @ ID h tokens 90")),
            replayed(&settle)
        );
        assert_eq!(c.outcome(&q("QUOTA.SETTLE @ ID h")), replayed(&settle));
        assert_eq!(c.used(s, "tokens/day"), 100);

        c.outcome(&q("QUOTA.RESERVE @ tokens 100 ID k"));
        let cancel = c.outcome(&q("QUOTA.CANCEL @ ID k"));
        assert_eq!(cancel, allowed("ok", tokens(100, 100, 0)));
        assert_eq!(c.outcome(&q("QUOTA.CANCEL @ ID k")), replayed(&cancel));

        let refund = c.outcome(&q("QUOTA.REFUND @ ID c"));
        assert_eq!(
            refund,
            allowed(
                "ok",
                vec![
                    w("tokens", "day", 60, 0, 10_000, DAY_END),
                    w("tokens", "month", 60, 0, 100_000, MONTH_END),
                    w("calls", "hour", 0, 0, 100, HOUR_END),
                ]
            )
        );
        assert_eq!(c.outcome(&q("QUOTA.REFUND @ ID c")), replayed(&refund));
        assert_eq!(
            c.outcome(&q("QUOTA.REFUND @ ID c tokens 5")),
            replayed(&refund)
        );
        assert_eq!(c.status(&q("QUOTA.STATUS @")).windows, freemium(0, 60, 60));
        // The charge's own retry still replays its first outcome after the refund.
        assert_eq!(
            c.outcome(&q("QUOTA.CHARGE @ tokens 40 calls 1 ID c")),
            replayed(&first)
        );
        assert_eq!(c.used(s, "tokens/day"), 60);

        // A refused charge with an ID is an outcome too: its retry is refused again (with
        // the first retry_after_ms) even after room was made, until idempotency_ttl.
        let denied = c.outcome(&q("QUOTA.CHARGE @ tokens 20000 ID big"));
        assert!(!denied.allowed);
        assert_eq!(c.int(&q("EXISTS @")), 1);
        c.ok(&q("QUOTA.RESET @"));
        assert_eq!(
            c.outcome(&q("QUOTA.CHARGE @ tokens 20000 ID big")),
            replayed(&denied)
        );
    }
}

/// An id is remembered for idempotency_ttl: its retry 1 ms before is replayed, at the TTL
/// it is a new charge; the charge is refundable as long.
#[test]
fn ids_are_forgotten_after_idempotency_ttl() {
    let mut cfg = Config::default();
    cfg.quota.idempotency_ttl = DurationMs::from_hours(1);
    let tg = server(cfg);
    let mut c = Client::new(&tg, false);
    let first = c.outcome("QUOTA.CHARGE u tokens 10 ID a");
    c.outcome("QUOTA.CHARGE u tokens 20 ID b");
    advance_ms(&tg, HOUR - 1);
    assert_eq!(c.outcome("QUOTA.CHARGE u tokens 10 ID a"), replayed(&first));
    assert_eq!(c.used("u", "tokens/day"), 30);
    advance_ms(&tg, 1);
    let again = c.outcome("QUOTA.CHARGE u tokens 10 ID a");
    assert!(again.allowed && !again.replayed, "{again:?}");
    assert_eq!(c.used("u", "tokens/day"), 40);
    assert_eq!(
        c.err("QUOTA.REFUND u ID b"),
        "NOHOLD no hold or charge with id 'b'"
    );
    // The new charge of `a` is the refundable one now.
    c.outcome("QUOTA.REFUND u ID a");
    assert_eq!(c.used("u", "tokens/day"), 30);
}

/// A window rolls exactly at its resets_at: 1 ms before, the full window refuses with
/// retry_after_ms 1; at resets_at, it counts from 0 with the next resets_at. The longer
/// windows keep counting.
#[test]
fn windows_roll_exactly_at_resets_at() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, true);
    c.outcome("QUOTA.CHARGE u calls 100 tokens 10000");
    advance_ms(&tg, HOUR_END - 1 - T0);
    let o = c.outcome("QUOTA.CHARGE u calls 1");
    assert_eq!((o.allowed, o.retry_after_ms), (false, 1), "{o:?}");
    assert_eq!(o.denied_by.as_deref(), Some("calls/hour"));
    advance_ms(&tg, 1);
    let o = c.outcome("QUOTA.CHARGE u calls 1");
    assert_eq!(
        o,
        allowed("ok", vec![w("calls", "hour", 1, 0, 100, HOUR_END + HOUR)])
    );
    advance_ms(&tg, DAY_END - 1 - now(&tg));
    let o = c.outcome("QUOTA.CHARGE u tokens 1");
    assert_eq!((o.allowed, o.retry_after_ms), (false, 1), "{o:?}");
    assert_eq!(o.denied_by.as_deref(), Some("tokens/day"));
    advance_ms(&tg, 1);
    let o = c.outcome("QUOTA.CHARGE u tokens 1");
    assert_eq!(
        o,
        allowed(
            "ok",
            vec![
                w("tokens", "day", 1, 0, 10_000, DAY_END + DAY),
                w("tokens", "month", 10_001, 0, 100_000, MONTH_END),
            ]
        )
    );
    // The month: 1 ms before its end the used carries on; at the end it starts from 0 (April
    // has 30 days).
    advance_ms(&tg, MONTH_END - 1 - now(&tg));
    let st = c.status("QUOTA.STATUS u");
    assert_eq!(
        st.windows[2],
        w("tokens", "month", 10_001, 0, 100_000, MONTH_END)
    );
    assert_eq!(st.windows[1].resets_at, MONTH_END as i64);
    advance_ms(&tg, 1);
    let st = c.status("QUOTA.STATUS u");
    assert_eq!(
        st.windows,
        vec![
            w("calls", "hour", 0, 0, 100, MONTH_END + HOUR),
            w("tokens", "day", 0, 0, 10_000, MONTH_END + DAY),
            w("tokens", "month", 0, 0, 100_000, MONTH_END + 30 * DAY),
        ]
    );
}

// -- holds --------------------------------------------------------------------------------

/// RESERVE holds the estimate as `reserved`; SETTLE swaps it for the actual amounts (metrics
/// not given keep their estimate), above the estimate and above the limit too: the overage
/// is in the ledger, never refused.
#[test]
fn reserve_then_settle_records_overage() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, true);
    let o = c.outcome("QUOTA.RESERVE u tokens 100 calls 1 ID job");
    assert_eq!(
        o,
        allowed(
            "ok",
            vec![
                w("tokens", "day", 0, 100, 10_000, DAY_END),
                w("tokens", "month", 0, 100, 100_000, MONTH_END),
                w("calls", "hour", 0, 1, 100, HOUR_END),
            ]
        )
    );
    assert_eq!(
        c.status("QUOTA.STATUS u").holds,
        vec![Hold {
            id: "job".into(),
            amounts: vec![("tokens".into(), 100), ("calls".into(), 1)],
            expires_at: (T0 + 15 * 60_000) as i64,
        }]
    );
    // The hold counts as used for a charge.
    let o = c.outcome("QUOTA.CHARGE u tokens 9901");
    assert_eq!(o.denied_by.as_deref(), Some("tokens/day"));
    advance_ms(&tg, 1000);
    let o = c.outcome("QUOTA.SETTLE u ID job tokens 150");
    assert_eq!(
        o,
        allowed(
            "ok",
            vec![
                w("tokens", "day", 150, 0, 10_000, DAY_END),
                w("tokens", "month", 150, 0, 100_000, MONTH_END),
                w("calls", "hour", 1, 0, 100, HOUR_END),
            ]
        )
    );
    assert_eq!(c.status("QUOTA.STATUS u").holds, vec![]);
    let t = T0 + 1000;
    assert_eq!(
        c.ledger("QUOTA.LEDGER u"),
        vec![
            entry(Some("job"), t, "settle", "calls", 1),
            entry(Some("job"), t, "overage", "tokens", 50),
            entry(Some("job"), t, "settle", "tokens", 150),
            entry(Some("job"), T0, "reserve", "calls", 1),
            entry(Some("job"), T0, "reserve", "tokens", 100),
        ]
    );
    // Over the limit: charged all the same, level exceeded, and the next charge refused.
    c.outcome("QUOTA.RESERVE u tokens 9000 ID big");
    let o = c.outcome("QUOTA.SETTLE u ID big tokens 12000");
    assert_eq!(o, allowed("exceeded", tokens(12_150, 12_150, 0)));
    assert_eq!(o.windows[0].remaining, 0);
    assert_eq!(o.windows[0].percent, 121);
    assert_eq!(
        c.ledger("QUOTA.LEDGER u COUNT 1"),
        vec![entry(Some("big"), t, "overage", "tokens", 3000)]
    );
    assert_eq!(
        c.outcome("QUOTA.CHARGE u tokens 1").denied_by.as_deref(),
        Some("tokens/day")
    );
    // Below the estimate: no overage; a metric not in the hold is charged as given, all of
    // it overage (its estimate was 0).
    c.ok("QUOTA.RESET u");
    c.outcome("QUOTA.RESERVE u tokens 500 ID small");
    let o = c.outcome("QUOTA.SETTLE u ID small tokens 200 calls 3");
    assert_eq!(o.windows[0], w("tokens", "day", 200, 0, 10_000, DAY_END));
    assert_eq!(o.windows[2], w("calls", "hour", 3, 0, 100, HOUR_END));
    assert_eq!(
        c.ledger("QUOTA.LEDGER u COUNT 3"),
        vec![
            entry(Some("small"), t, "overage", "calls", 3),
            entry(Some("small"), t, "settle", "calls", 3),
            entry(Some("small"), t, "settle", "tokens", 200),
        ]
    );
}

/// CANCEL drops the hold and charges nothing; a cancelled hold cannot be settled.
#[test]
fn reserve_then_cancel_releases_the_hold() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, false);
    c.outcome("QUOTA.CHARGE u tokens 1000");
    let o = c.outcome("QUOTA.RESERVE u tokens 9000 ID h");
    assert_eq!(o, allowed("critical", tokens(1000, 1000, 9000)));
    assert!(!c.outcome("QUOTA.CHARGE u tokens 1").allowed);
    let o = c.outcome("QUOTA.CANCEL u ID h");
    assert_eq!(o, allowed("ok", tokens(1000, 1000, 0)));
    assert_eq!(c.status("QUOTA.STATUS u").holds, vec![]);
    assert_eq!(
        c.ledger("QUOTA.LEDGER u COUNT 1"),
        vec![entry(Some("h"), T0, "cancel", "tokens", 9000)]
    );
    assert_eq!(
        c.err("QUOTA.SETTLE u ID h"),
        "NOHOLD no hold or charge with id 'h'"
    );
    assert_eq!(
        c.err("QUOTA.REFUND u ID h"),
        "NOHOLD no hold or charge with id 'h'"
    );
    assert!(c.outcome("QUOTA.CHARGE u tokens 9000").allowed);
}

/// A hold is released by its TTL: still held 1 ms before, gone at expires_at (reserved back
/// to 0, an `expire` ledger entry at the deadline); SETTLE after that is NOHOLD. Without TTL
/// the hold lives hold_ttl.
#[test]
fn holds_are_released_by_their_ttl() {
    let mut cfg = Config::default();
    cfg.quota.hold_ttl = DurationMs::from_mins(2);
    let tg = server(cfg);
    let mut c = Client::new(&tg, true);
    c.outcome("QUOTA.RESERVE u tokens 300 ID h TTL 10s");
    c.outcome("QUOTA.RESERVE u tokens 200 ID d");
    let st = c.status("QUOTA.STATUS u");
    let deadlines: Vec<(String, i64)> = st
        .holds
        .iter()
        .map(|h| (h.id.clone(), h.expires_at))
        .collect();
    assert_eq!(
        deadlines,
        [
            ("d".to_string(), (T0 + 120_000) as i64),
            ("h".to_string(), (T0 + 10_000) as i64)
        ]
    );
    advance_ms(&tg, 9_999);
    let st = c.status("QUOTA.STATUS u");
    assert_eq!(st.holds.len(), 2);
    assert_eq!(st.windows[1], w("tokens", "day", 0, 500, 10_000, DAY_END));
    advance_ms(&tg, 1);
    let st = c.status("QUOTA.STATUS u");
    assert_eq!(st.holds.len(), 1, "{st:?}");
    assert_eq!(st.holds[0].id, "d");
    assert_eq!(st.windows[1], w("tokens", "day", 0, 200, 10_000, DAY_END));
    assert_eq!(
        c.ledger("QUOTA.LEDGER u COUNT 1"),
        vec![entry(Some("h"), T0 + 10_000, "expire", "tokens", 300)]
    );
    assert_eq!(
        c.err("QUOTA.SETTLE u ID h"),
        "NOHOLD no hold or charge with id 'h'"
    );
    // The default TTL, released by the next charge (which sees the room it leaves).
    advance_ms(&tg, 110_000);
    c.outcome("QUOTA.CHARGE u tokens 9800");
    let o = c.outcome("QUOTA.CHARGE u tokens 200");
    assert_eq!(o, allowed("critical", tokens(10_000, 10_000, 0)));
    assert_eq!(
        c.ledger("QUOTA.LEDGER u COUNT 3")[2],
        entry(Some("d"), T0 + 120_000, "expire", "tokens", 200)
    );
    // A settle that comes too late does not charge: NOHOLD, and nothing else changes.
    assert_eq!(
        c.err("QUOTA.SETTLE u ID d tokens 5"),
        "NOHOLD no hold or charge with id 'd'"
    );
    assert_eq!(c.used("u", "tokens/day"), 10_000);
}

/// A plan's `concurrent` caps the open holds: the next RESERVE is refused by `concurrent`
/// with retry_after_ms until the first hold expires; settle, cancel and expiry free a slot.
#[test]
fn concurrent_limit_counts_open_holds() {
    let tg = server_toml("[quota.plans.x]\nconcurrent = 2\n[quota.plans.x.tokens]\nday = 1000\n");
    let mut c = Client::new(&tg, true);
    c.ok("QUOTA.PLAN u x");
    assert!(c.outcome("QUOTA.RESERVE u tokens 10 ID a TTL 1m").allowed);
    assert!(c.outcome("QUOTA.RESERVE u tokens 10 ID b TTL 2m").allowed);
    let o = c.outcome("QUOTA.RESERVE u tokens 10 ID c TTL 1m");
    assert_eq!(
        (
            o.allowed,
            o.denied_by.as_deref(),
            o.retry_after_ms,
            o.level.as_str()
        ),
        (false, Some("concurrent"), 60_000, "exceeded"),
        "{o:?}"
    );
    assert_eq!(
        o.windows[0].reserved, 20,
        "the refused hold reserved nothing"
    );
    // Charges do not take a slot.
    assert!(c.outcome("QUOTA.CHARGE u tokens 5").allowed);
    c.outcome("QUOTA.CANCEL u ID a");
    assert!(c.outcome("QUOTA.RESERVE u tokens 10 ID d TTL 1m").allowed);
    assert!(!c.outcome("QUOTA.RESERVE u tokens 10 ID e").allowed);
    c.outcome("QUOTA.SETTLE u ID b");
    assert!(c.outcome("QUOTA.RESERVE u tokens 10 ID f TTL 5m").allowed);
    let o = c.outcome("QUOTA.RESERVE u tokens 10 ID g");
    assert_eq!(o.retry_after_ms, 60_000, "d expires first: {o:?}");
    advance_ms(&tg, 60_000);
    assert!(
        c.outcome("QUOTA.RESERVE u tokens 10 ID h").allowed,
        "d expired"
    );
    let holds: Vec<String> = c
        .status("QUOTA.STATUS u")
        .holds
        .into_iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(holds, ["f", "h"]);
    // A plan without `concurrent` has no cap.
    for i in 0..20 {
        assert!(
            c.outcome(&format!("QUOTA.RESERVE v tokens 1 ID r{i}"))
                .allowed
        );
    }
}

/// REFUND gives back a charge made with an ID (or a settle): the amounts given (at most what
/// was charged, other metrics untouched) or all of it; a second refund changes nothing.
#[test]
fn refunds_partial_full_and_twice() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, false);
    c.outcome("QUOTA.CHARGE u tokens 100 calls 2 ID p");
    let o = c.outcome("QUOTA.REFUND u ID p tokens 30");
    assert_eq!(
        o,
        allowed(
            "ok",
            vec![
                w("tokens", "day", 70, 0, 10_000, DAY_END),
                w("tokens", "month", 70, 0, 100_000, MONTH_END),
                w("calls", "hour", 2, 0, 100, HOUR_END),
            ]
        )
    );
    assert_eq!(
        c.ledger("QUOTA.LEDGER u COUNT 1"),
        vec![entry(Some("p"), T0, "refund", "tokens", 30)]
    );
    // Twice: replayed, nothing more given back, not even what the first left.
    assert!(c.outcome("QUOTA.REFUND u ID p").replayed);
    assert!(c.outcome("QUOTA.REFUND u ID p calls 2").replayed);
    assert_eq!(c.status("QUOTA.STATUS u").windows, freemium(2, 70, 70));
    // Full.
    c.outcome("QUOTA.CHARGE u tokens 50 calls 1 ID f");
    c.outcome("QUOTA.REFUND u ID f");
    assert_eq!(c.status("QUOTA.STATUS u").windows, freemium(2, 70, 70));
    let refunds: Vec<(String, i64)> = c
        .ledger("QUOTA.LEDGER u COUNT 2")
        .into_iter()
        .map(|e| (e.metric, e.amount))
        .collect();
    assert_eq!(
        refunds,
        [("calls".to_string(), 1), ("tokens".to_string(), 50)]
    );
    // More than was charged gives back what was charged.
    c.outcome("QUOTA.CHARGE u tokens 40 ID g");
    c.outcome("QUOTA.REFUND u ID g tokens 500");
    assert_eq!(c.used("u", "tokens/day"), 70);
    // A settled hold is refundable; an open one is not.
    c.outcome("QUOTA.RESERVE u tokens 80 ID s");
    assert_eq!(
        c.err("QUOTA.REFUND u ID s"),
        "NOHOLD no hold or charge with id 's'"
    );
    c.outcome("QUOTA.SETTLE u ID s tokens 90");
    assert_eq!(c.used("u", "tokens/day"), 160);
    c.outcome("QUOTA.REFUND u ID s");
    assert_eq!(c.used("u", "tokens/day"), 70);
    // A refund after the window rolled takes nothing from the new window.
    c.outcome("QUOTA.CHARGE u tokens 30 ID late");
    advance_ms(&tg, DAY_END - T0);
    c.outcome("QUOTA.CHARGE u tokens 5");
    c.outcome("QUOTA.REFUND u ID late");
    assert_eq!(c.used("u", "tokens/day"), 5);
    assert_eq!(c.used("u", "tokens/month"), 75);
}

/// RESET clears the whole subject, one metric, or one window of a metric; holds stay; each
/// is one ledger entry (`*`, `<metric>`, `<metric>/<window>`, amount 0, no id).
#[test]
fn reset_scopes_write_ledger_entries() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, true);
    c.outcome("QUOTA.CHARGE u tokens 100 calls 5");
    c.outcome("QUOTA.RESERVE u tokens 50 ID h");
    advance_ms(&tg, 1);
    c.ok("QUOTA.RESET u METRIC tokens WINDOW day");
    let st = c.status("QUOTA.STATUS u");
    assert_eq!(
        st.windows,
        vec![
            w("calls", "hour", 5, 0, 100, HOUR_END),
            w("tokens", "day", 0, 50, 10_000, DAY_END),
            w("tokens", "month", 100, 50, 100_000, MONTH_END),
        ]
    );
    c.ok("QUOTA.RESET u metric calls");
    assert_eq!(c.used("u", "calls/hour"), 0);
    assert_eq!(c.used("u", "tokens/month"), 100);
    c.ok("QUOTA.RESET u");
    let st = c.status("QUOTA.STATUS u");
    assert_eq!(
        st.windows,
        vec![
            w("calls", "hour", 0, 0, 100, HOUR_END),
            w("tokens", "day", 0, 50, 10_000, DAY_END),
            w("tokens", "month", 0, 50, 100_000, MONTH_END),
        ],
        "RESET keeps the holds"
    );
    assert_eq!(st.holds.len(), 1);
    let t = T0 + 1;
    assert_eq!(
        c.ledger("QUOTA.LEDGER u COUNT 3"),
        vec![
            entry(None, t, "reset", "*", 0),
            entry(None, t, "reset", "calls", 0),
            entry(None, t, "reset", "tokens/day", 0),
        ]
    );
    c.ok("QUOTA.RESET u METRIC tokens WINDOW Month");
    assert_eq!(
        c.ledger("QUOTA.LEDGER u COUNT 1"),
        vec![entry(None, t, "reset", "tokens/month", 0)]
    );
    // The hold still settles after the resets.
    c.outcome("QUOTA.SETTLE u ID h");
    assert_eq!(c.used("u", "tokens/day"), 50);
}

// -- the keyspace -------------------------------------------------------------------------

/// A subject is a key of type `quota`: TYPE, OBJECT ENCODING, EXISTS, DBSIZE, SCAN TYPE, DEL
/// (which deletes its state), FLUSHALL, per database.
#[test]
fn subjects_are_quota_keys() {
    let tg = server(Config::default());
    for mut c in Client::both(&tg) {
        c.outcome("QUOTA.CHARGE a tokens 10");
        c.outcome("QUOTA.RESERVE b tokens 10 ID r");
        c.ok("QUOTA.PLAN p pro_monthly");
        c.ok("SET s v");
        assert_eq!(c.call("TYPE a"), V::Simple("quota".into()));
        assert_eq!(c.call("TYPE p"), V::Simple("quota".into()));
        assert_eq!(c.call("OBJECT ENCODING a"), bulk("quota"));
        assert_eq!(c.int("EXISTS a b p s nope"), 4);
        assert_eq!(c.int("DBSIZE"), 4);
        assert_eq!(c.int("TTL a"), -1);
        let scan = |c: &mut Client, line: &str| -> Vec<String> {
            let V::Arr(parts) = c.call(line) else {
                panic!("{line}")
            };
            assert_eq!(parts[0], bulk("0"));
            let V::Arr(keys) = &parts[1] else {
                panic!("{line}")
            };
            let mut keys: Vec<String> = keys.iter().map(text).collect();
            keys.sort();
            keys
        };
        assert_eq!(scan(&mut c, "SCAN 0 TYPE quota COUNT 100"), ["a", "b", "p"]);
        assert_eq!(scan(&mut c, "SCAN 0 TYPE string COUNT 100"), ["s"]);
        assert_eq!(c.int("DEL a"), 1);
        assert_eq!(c.status("QUOTA.STATUS a").windows, freemium(0, 0, 0));
        assert_eq!(c.ledger("QUOTA.LEDGER a"), vec![]);
        // Another database has its own subjects.
        c.ok("SELECT 1");
        assert_eq!(c.status("QUOTA.STATUS b").holds, vec![]);
        c.outcome("QUOTA.CHARGE b tokens 3");
        c.ok("SELECT 0");
        assert_eq!(c.status("QUOTA.STATUS b").holds.len(), 1);
        assert_eq!(c.used("b", "tokens/day"), 0);
        c.ok("FLUSHALL");
        assert_eq!(c.int("DBSIZE"), 0);
        assert_eq!(c.call("QUOTA.PLAN p"), bulk("freemium"));
    }
}

/// `rdb_changes_since_last_save` of INFO persistence.
fn changes(c: &mut Client) -> u64 {
    let info = String::from_utf8_lossy(&c.raw.cmd_str("INFO persistence")).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no rdb_changes_since_last_save in {info}"))
}

/// QUOTA.* in MULTI/EXEC answers in the EXEC array; a change to a WATCHed subject by another
/// client aborts the transaction (as any write to a key does in Redis), and counts as a
/// change for the save points; a read or a dry run does neither.
#[test]
fn transactions_and_watch() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, true);
    let mut other = Client::new(&tg, false);
    c.ok("MULTI");
    assert_eq!(
        c.call("QUOTA.CHARGE u tokens 5"),
        V::Simple("QUEUED".into())
    );
    assert_eq!(
        c.call("QUOTA.CHARGE u tokens 6 ID x"),
        V::Simple("QUEUED".into())
    );
    assert_eq!(c.call("QUOTA.STATUS u"), V::Simple("QUEUED".into()));
    let V::Arr(replies) = c.call("EXEC") else {
        panic!("EXEC")
    };
    assert_eq!(replies.len(), 3);
    assert_eq!(c.outcome_of(replies[1].clone()).windows[0].used, 11);
    let before = changes(&mut c);
    c.ok("WATCH u");
    other.outcome("QUOTA.CHARGE u tokens 1");
    assert!(
        changes(&mut c) > before,
        "a charge of an existing subject is a change"
    );
    c.ok("MULTI");
    c.call("QUOTA.CHARGE u tokens 100");
    assert_eq!(
        c.call("EXEC"),
        V::Nil,
        "a charge by another client left WATCH alone"
    );
    assert_eq!(c.used("u", "tokens/day"), 12);
    for change in [
        "QUOTA.RESERVE u tokens 1 ID h",
        "QUOTA.SETTLE u ID h",
        "QUOTA.REFUND u ID h",
        "QUOTA.RESERVE u tokens 1 ID k",
        "QUOTA.CANCEL u ID k",
        "QUOTA.RESET u METRIC tokens",
        "QUOTA.PLAN u pro_monthly",
        "QUOTA.PLAN u freemium",
    ] {
        c.ok("WATCH u");
        other.call(change);
        c.ok("MULTI");
        c.call("QUOTA.CHARGE u tokens 100");
        assert_eq!(c.call("EXEC"), V::Nil, "{change} left WATCH alone");
    }
    c.outcome("QUOTA.CHARGE u tokens 12");
    // A read that changes nothing does not touch WATCH.
    c.ok("WATCH u");
    other.status("QUOTA.STATUS u");
    other.ledger("QUOTA.LEDGER u");
    other.outcome("QUOTA.CHARGE u tokens 1 DRYRUN");
    other.call("QUOTA.PLAN u");
    c.ok("MULTI");
    c.call("QUOTA.CHARGE u tokens 100");
    assert!(matches!(c.call("EXEC"), V::Arr(_)));
    assert_eq!(c.used("u", "tokens/day"), 112);
}

/// With allkeys-lru at maxmemory, a flood of plain SETs evicts plain keys only: every quota
/// subject keeps its state.
#[test]
fn subjects_are_never_evicted() {
    let mut cfg = Config::default();
    cfg.store.maxmemory = ByteSize(1 << 20);
    cfg.store.maxmemory_policy = MaxmemoryPolicy::AllkeysLru;
    let tg = server(cfg);
    let mut c = Client::new(&tg, false);
    for i in 0..100 {
        assert!(
            c.outcome(&format!("QUOTA.CHARGE q{i} tokens 7 ID x"))
                .allowed
        );
    }
    let value = "x".repeat(1000);
    for i in 0..3000 {
        c.ok(&format!("SET k{i} {value}"));
    }
    let info = String::from_utf8_lossy(&c.raw.cmd_str("INFO stats")).into_owned();
    let evicted: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("evicted_keys:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(evicted > 0, "nothing was evicted: {info}");
    for i in 0..100 {
        assert_eq!(
            c.call(&format!("TYPE q{i}")),
            V::Simple("quota".into()),
            "q{i}"
        );
        assert_eq!(c.used(&format!("q{i}"), "tokens/day"), 7, "q{i}");
    }
    // Quota commands still work at the limit (room is made by evicting plain keys).
    assert!(c.outcome("QUOTA.CHARGE q0 tokens 1").allowed);
    assert!(c.outcome("QUOTA.CHARGE fresh tokens 1").allowed);
}

/// COMMAND INFO: the subject is the key (first, last, step 1, 1, 1), with the table's arity.
#[test]
fn command_info_names_the_subject_key() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, false);
    for (name, arity) in [
        ("quota.charge", -4),
        ("quota.reserve", -6),
        ("quota.settle", -4),
        ("quota.cancel", 4),
        ("quota.refund", -4),
        ("quota.status", -2),
        ("quota.plan", -2),
        ("quota.reset", -2),
        ("quota.ledger", -2),
    ] {
        let V::Arr(info) = c.call(&format!("COMMAND INFO {name}")) else {
            panic!("COMMAND INFO {name}")
        };
        let V::Arr(doc) = &info[0] else {
            panic!("COMMAND INFO {name}: {info:?}")
        };
        assert_eq!(doc[0], bulk(name));
        assert_eq!(
            (int(&doc[1]), int(&doc[3]), int(&doc[4]), int(&doc[5])),
            (arity, 1, 1, 1),
            "{name}"
        );
    }
    assert_eq!(
        c.call("COMMAND GETKEYS QUOTA.CHARGE user:1 tokens 5 ID x"),
        V::Arr(vec![bulk("user:1")])
    );
}

// -- exactness under concurrency ----------------------------------------------------------

/// What one thread saw of one charge.
struct Seen {
    id: Option<String>,
    tokens: i64,
    outcome: Outcome,
}

/// Fifty connections charge one subject at once, some charges without ID, some with their
/// own ids, some retrying them, some racing on ids shared by all threads (always with the
/// same amounts, as a retry is): no reply shows a window over its limit, every id has
/// exactly one first outcome (its other replies are replays of it), and the final usage is
/// the sum of the distinct allowed charges.
#[test]
fn fifty_connections_charge_one_subject_exactly() {
    const LIMIT_TOKENS: i64 = 3000;
    const LIMIT_CALLS: i64 = 400;
    let tg = server_toml(&format!(
        "[quota.plans.tight.tokens]\nday = {LIMIT_TOKENS}\n\
         [quota.plans.tight.calls]\nhour = {LIMIT_CALLS}\n"
    ));
    Client::new(&tg, false).ok("QUOTA.PLAN shared tight");
    let addr = tg.addr;
    let threads: Vec<_> = (0..50u64)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Client {
                    raw: Raw::connect(addr),
                    resp3: t % 2 == 1,
                };
                if c.resp3 {
                    c.raw.cmd_str("HELLO 3");
                }
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t + 1));
                let mut own: Vec<(String, i64)> = Vec::new();
                let mut seen = Vec::new();
                for i in 0..24 {
                    let (id, amount) = match rng.below(10) {
                        0..=3 => (None, 1 + rng.below(12) as i64),
                        4..=6 => {
                            let id = format!("t{t}-{i}");
                            let amount = 1 + rng.below(12) as i64;
                            own.push((id.clone(), amount));
                            (Some(id), amount)
                        }
                        7 | 8 if !own.is_empty() => {
                            let (id, amount) = own[rng.below(own.len())].clone();
                            (Some(id), amount)
                        }
                        _ => {
                            let k = rng.below(30) as i64;
                            (Some(format!("shared-{k}")), 1 + k % 12)
                        }
                    };
                    let line = match &id {
                        Some(id) => format!("QUOTA.CHARGE shared tokens {amount} calls 1 ID {id}"),
                        None => format!("QUOTA.CHARGE shared tokens {amount} calls 1"),
                    };
                    let outcome = c.outcome(&line);
                    seen.push(Seen {
                        id,
                        tokens: amount,
                        outcome,
                    });
                }
                seen
            })
        })
        .collect();
    let seen: Vec<Seen> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let mut firsts: BTreeMap<String, (i64, Outcome)> = BTreeMap::new();
    let (mut tokens_total, mut calls_total, mut denied) = (0i64, 0i64, 0);
    for s in &seen {
        for w in &s.outcome.windows {
            assert!(
                w.used + w.reserved <= w.limit,
                "a reply shows {}/{} over its limit: {:?}",
                w.metric,
                w.window,
                s.outcome
            );
        }
        if !s.outcome.replayed {
            if s.outcome.allowed {
                tokens_total += s.tokens;
                calls_total += 1;
            } else {
                denied += 1;
            }
            if let Some(id) = &s.id {
                let dup = firsts.insert(id.clone(), (s.tokens, s.outcome.clone()));
                assert!(dup.is_none(), "id {id} was applied twice");
            }
        }
    }
    for s in seen.iter().filter(|s| s.outcome.replayed) {
        let id = s.id.as_ref().expect("a charge without ID was replayed");
        let (_, first) = &firsts[id];
        assert_eq!(s.outcome, replayed(first), "replay of {id}");
    }
    assert!(
        denied > 0,
        "the limit was never reached: the test proves little"
    );
    let mut c = Client::new(&tg, true);
    let st = c.status("QUOTA.STATUS shared");
    let used = |name: &str| {
        st.windows
            .iter()
            .find(|w| format!("{}/{}", w.metric, w.window) == name)
            .unwrap()
            .used
    };
    assert_eq!(used("tokens/day"), tokens_total);
    assert_eq!(used("calls/hour"), calls_total);
    assert!(tokens_total <= LIMIT_TOKENS && calls_total <= LIMIT_CALLS);
}

/// A pipeline of charges in one write is answered in order, each reply seeing the ones before
/// it (the replies of a batch wait for the journal together); the ledger keeps the newest 100
/// entries.
#[test]
fn pipelined_charges_answer_in_order() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, true);
    let mut batch = Vec::new();
    for _ in 0..150 {
        batch.extend(Raw::encode(&[b"QUOTA.CHARGE", b"u", b"tokens", b"2"]));
    }
    c.raw.send_bytes(&batch);
    for i in 1..=150 {
        let reply = c.raw.read_reply().unwrap();
        let o = c.outcome_of(parse(&reply).0);
        assert_eq!(o.windows[0].used, 2 * i, "reply {i}");
    }
    let ledger = c.ledger("QUOTA.LEDGER u COUNT 1000");
    assert_eq!(ledger.len(), 100, "the ledger keeps the newest 100");
    assert!(ledger.iter().all(|e| e.op == "charge" && e.amount == 2));
}

/// Amounts are at most i64::MAX (as Redis's integers), and sums of them neither wrap nor
/// panic: a charge that cannot fit is refused, a settle of any size is recorded, and a used
/// above i64::MAX is replied clamped.
#[test]
fn huge_amounts_saturate() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, false);
    let max = i64::MAX;
    assert_eq!(
        c.err(&format!("QUOTA.CHARGE u tokens {}", u64::MAX)),
        "ERR value is not an integer or out of range"
    );
    let o = c.outcome(&format!("QUOTA.CHARGE u tokens {max}"));
    assert_eq!(o.denied_by.as_deref(), Some("tokens/month"));
    c.outcome("QUOTA.CHARGE u tokens 10");
    c.outcome("QUOTA.RESERVE u tokens 5 ID h TTL 3650d");
    let o = c.outcome(&format!("QUOTA.SETTLE u ID h tokens {max}"));
    assert!(o.allowed);
    assert_eq!(o.level, "exceeded");
    assert_eq!(o.windows[0].used, i64::MAX, "10 + i64::MAX, clamped");
    assert_eq!(o.windows[0].remaining, 0);
    assert!(o.windows[0].percent > 100);
    let e = &c.ledger("QUOTA.LEDGER u COUNT 1")[0];
    assert_eq!((e.op.as_str(), e.amount), ("overage", max - 5));
    assert!(!c.outcome("QUOTA.CHARGE u tokens 1").allowed);
    c.outcome("QUOTA.REFUND u ID h");
    assert_eq!(c.used("u", "tokens/day"), 10);
}

/// RENAME and COPY carry a subject's whole state (usage, holds, plan) to the new name.
#[test]
fn rename_and_copy_carry_the_state() {
    let tg = server(Config::default());
    let mut c = Client::new(&tg, true);
    c.ok("QUOTA.PLAN a pro_monthly");
    c.outcome("QUOTA.CHARGE a tokens 40 ID x");
    c.outcome("QUOTA.RESERVE a tokens 5 ID h");
    c.ok("RENAME a b");
    assert_eq!(c.int("EXISTS a"), 0);
    let st = c.status("QUOTA.STATUS b");
    assert_eq!((st.plan.as_str(), st.holds.len()), ("pro_monthly", 1));
    assert_eq!(st.windows[1].used, 40);
    assert_eq!(c.int("COPY b c"), 1);
    assert_eq!(c.call("TYPE c"), V::Simple("quota".into()));
    // The copy is independent, and remembers the ids of the original.
    c.outcome("QUOTA.SETTLE c ID h tokens 10");
    assert_eq!(c.used("c", "tokens/day"), 50);
    assert_eq!(c.used("b", "tokens/day"), 40);
    assert!(c.outcome("QUOTA.CHARGE c tokens 40 ID x").replayed);
    // The hold of the original still expires on its own.
    advance_ms(&tg, 15 * 60_000);
    assert_eq!(c.status("QUOTA.STATUS b").holds, vec![]);
}

/// The windows follow `quota.timezone` and `quota.week_start`: in New York a day ends at
/// local midnight, the week starts on Sunday, and the day daylight-saving time starts (8
/// March 2026) has 23 hours.
#[test]
fn windows_follow_the_configured_calendar() {
    const S0: u64 = 1_772_884_800_000; // Saturday 2026-03-07 12:00 UTC, 07:00 EST
    const MIDNIGHT_EST: u64 = 1_772_946_000_000; // 2026-03-08 00:00 EST = 05:00 UTC
    const MIDNIGHT_EDT: u64 = 1_773_028_800_000; // 2026-03-09 00:00 EDT = 04:00 UTC
    const NEXT_SUNDAY: u64 = 1_773_547_200_000; // 2026-03-15 00:00 EDT
    const APRIL: u64 = 1_775_016_000_000; // 2026-04-01 00:00 EDT
    let mut cfg = Config::from_toml_str(
        "[quota]\ntimezone = \"America/New_York\"\nweek_start = \"sunday\"\n\
         [quota.plans.cal.tokens]\nminute = 10\nday = 1000\nweek = 5000\nmonth = 100000\n",
    )
    .unwrap();
    cfg.validate().unwrap();
    cfg.quota.default_plan = "cal".into();
    let tg = Tollgate::start_on(cfg, Clock::manual(S0));
    let mut c = Client::new(&tg, true);
    let resets = |o: &Outcome| -> Vec<(String, u64)> {
        o.windows
            .iter()
            .map(|w| (w.window.clone(), w.resets_at as u64))
            .collect()
    };
    let o = c.outcome("QUOTA.CHARGE u tokens 10");
    assert_eq!(
        resets(&o),
        [
            ("minute".to_string(), S0 + 60_000),
            ("day".to_string(), MIDNIGHT_EST),
            ("week".to_string(), MIDNIGHT_EST),
            ("month".to_string(), APRIL),
        ]
    );
    let o = c.outcome("QUOTA.CHARGE u tokens 1");
    assert_eq!(
        (o.denied_by.as_deref(), o.retry_after_ms),
        (Some("tokens/minute"), 60_000)
    );
    advance_ms(&tg, MIDNIGHT_EST - S0);
    let o = c.outcome("QUOTA.CHARGE u tokens 1");
    assert_eq!(
        resets(&o),
        [
            ("minute".to_string(), MIDNIGHT_EST + 60_000),
            ("day".to_string(), MIDNIGHT_EDT),
            ("week".to_string(), NEXT_SUNDAY),
            ("month".to_string(), APRIL),
        ]
    );
    assert_eq!(MIDNIGHT_EDT - MIDNIGHT_EST, 23 * HOUR);
    let used: Vec<i64> = o.windows.iter().map(|w| w.used).collect();
    assert_eq!(
        used,
        [1, 1, 1, 11],
        "a new day and week; the month carries on"
    );
}

/// At maxmemory under noeviction, a subject that exists is answered as always (a SETTLE
/// refused would let the hold expire and the work go uncharged), a dry run and PLAN's read
/// are reads, and a new subject is refused with -OOM, storing nothing: the rate-limit rule.
#[test]
fn full_memory_answers_existing_subjects() {
    let mut cfg = Config::default();
    cfg.store.maxmemory = ByteSize(256 << 10);
    cfg.store.maxmemory_policy = MaxmemoryPolicy::Noeviction;
    let tg = server(cfg);
    let mut c = Client::new(&tg, false);
    c.outcome("QUOTA.CHARGE u tokens 5 ID c");
    c.outcome("QUOTA.RESERVE u tokens 5 ID h");
    c.outcome("QUOTA.RESERVE u tokens 5 ID k");
    let value = "x".repeat(1000);
    let oom = "OOM command not allowed when used memory > 'maxmemory'.";
    let full = (0..1000).any(|i| c.call(&format!("SET k{i} {value}")) == V::Err(oom.into()));
    assert!(full, "memory never filled");
    let o = c.outcome("QUOTA.SETTLE u ID h tokens 7");
    assert_eq!(o.windows[0].used, 12);
    assert!(c.outcome("QUOTA.CHARGE u tokens 1").allowed);
    assert!(c.outcome("QUOTA.CHARGE u tokens 1 DRYRUN").allowed);
    assert!(c.outcome("QUOTA.RESERVE u tokens 1 ID r").allowed);
    c.outcome("QUOTA.CANCEL u ID k");
    c.outcome("QUOTA.REFUND u ID c");
    c.ok("QUOTA.RESET u METRIC calls");
    c.ok("QUOTA.PLAN u pro_monthly");
    assert_eq!(c.call("QUOTA.PLAN u"), bulk("pro_monthly"));
    assert_eq!(c.status("QUOTA.STATUS u").windows[1].used, 8);
    // A new subject: reads answer, changes are refused.
    assert_eq!(c.call("QUOTA.PLAN new"), bulk("freemium"));
    assert!(c.outcome("QUOTA.CHARGE new tokens 1 DRYRUN").allowed);
    assert_eq!(c.status("QUOTA.STATUS new").holds, vec![]);
    for line in [
        "QUOTA.CHARGE new tokens 1",
        "QUOTA.CHARGE new tokens 1 ID x",
        "QUOTA.CHARGE new tokens 99999 ID y",
        "QUOTA.RESERVE new tokens 1 ID r",
        "QUOTA.PLAN new pro_monthly",
        "QUOTA.RESET new",
    ] {
        assert_eq!(c.err(line), oom, "{line}");
    }
    assert_eq!(c.int("EXISTS new"), 0);
    // Room made: the new subject is served.
    c.int("DEL k0 k1 k2 k3 k4 k5 k6 k7 k8 k9");
    assert!(c.outcome("QUOTA.CHARGE new tokens 1").allowed);
}

/// Twenty connections mix charges with holds on one subject (reserve, then settle at most
/// the estimate or cancel): no reply shows a window over its limit (a hold counts as used
/// until it closes), and in the end nothing is reserved and the usage is the sum of the
/// allowed charges and the settled amounts.
#[test]
fn holds_and_charges_from_twenty_connections_add_up() {
    let tg = server_toml("[quota.plans.mix.tokens]\nday = 2000\n");
    Client::new(&tg, false).ok("QUOTA.PLAN s mix");
    let addr = tg.addr;
    let threads: Vec<_> = (0..20u64)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Client {
                    raw: Raw::connect(addr),
                    resp3: t % 2 == 0,
                };
                if c.resp3 {
                    c.raw.cmd_str("HELLO 3");
                }
                let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ (t + 7));
                let (mut charged, mut denied) = (0i64, 0);
                let check = |o: &Outcome| {
                    for w in &o.windows {
                        assert!(w.used + w.reserved <= w.limit, "over the limit: {o:?}");
                    }
                };
                for i in 0..15 {
                    if rng.chance(2) {
                        let a = 1 + rng.below(20) as i64;
                        let o = c.outcome(&format!("QUOTA.CHARGE s tokens {a}"));
                        check(&o);
                        if o.allowed {
                            charged += a;
                        } else {
                            denied += 1;
                        }
                        continue;
                    }
                    let estimate = 1 + rng.below(30) as i64;
                    let id = format!("t{t}-{i}");
                    let o = c.outcome(&format!("QUOTA.RESERVE s tokens {estimate} ID {id} TTL 1h"));
                    check(&o);
                    if !o.allowed {
                        denied += 1;
                        continue;
                    }
                    if rng.chance(2) {
                        let actual = rng.below(estimate as usize + 1) as i64;
                        let o = c.outcome(&format!("QUOTA.SETTLE s ID {id} tokens {actual}"));
                        check(&o);
                        charged += actual;
                    } else {
                        check(&c.outcome(&format!("QUOTA.CANCEL s ID {id}")));
                    }
                }
                (charged, denied)
            })
        })
        .collect();
    let (mut charged, mut denied) = (0, 0);
    for t in threads {
        let (c, d) = t.join().unwrap();
        charged += c;
        denied += d;
    }
    let st = Client::new(&tg, true).status("QUOTA.STATUS s");
    assert_eq!(st.holds, vec![]);
    assert_eq!(st.windows[0].reserved, 0);
    assert_eq!(st.windows[0].used, charged);
    assert!(charged <= 2000, "{charged}");
    assert!(
        denied > 0 || charged > 1500,
        "the limit was never approached"
    );
}
