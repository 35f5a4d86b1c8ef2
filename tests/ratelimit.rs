//! RL.* and CL.THROTTLE over TCP with the `redis` crate: replies, state under the key,
//! all-or-nothing policies, concurrency against a single-threaded model, leases.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::Tollgate;
use redis::Value;
use std::collections::HashMap;
use std::time::Duration;
use tollgate::config::Config;

fn con(tg: &Tollgate) -> redis::Connection {
    redis::Client::open(tg.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Runs a command whose reply is a map (a flat array under RESP2) into name → value.
fn map(con: &mut redis::Connection, args: &[&str]) -> HashMap<String, Value> {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    let v: Value = c.query(con).unwrap();
    let items = match v {
        Value::Array(items) => items,
        Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        other => panic!("not a map: {other:?}"),
    };
    items
        .chunks(2)
        .map(|p| match &p[0] {
            Value::BulkString(k) => (String::from_utf8(k.clone()).unwrap(), p[1].clone()),
            other => panic!("field name {other:?}"),
        })
        .collect()
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("not an int: {other:?}"),
    }
}

#[test]
fn inline_check_counts_down_and_denies_without_consuming() {
    let tg = Tollgate::start_manual(Config::default());
    let mut c = con(&tg);
    for want in (0..3).rev() {
        let r = map(&mut c, &["RL.CHECK", "u:1", "3", "1h"]);
        assert_eq!(int(&r["allowed"]), 1);
        assert_eq!(int(&r["limit"]), 3);
        assert_eq!(int(&r["remaining"]), want);
        assert_eq!(int(&r["retry_after_ms"]), 0);
        assert_eq!(r["policy"], Value::Nil);
    }
    let denied = map(&mut c, &["RL.CHECK", "u:1", "3", "1h"]);
    assert_eq!(int(&denied["allowed"]), 0);
    let retry = int(&denied["retry_after_ms"]);
    assert!(retry > 0 && retry <= 20 * 60 * 1000, "retry {retry}");
    assert!(int(&denied["reset_ms"]) <= 3600 * 1000);
    // The reply's field order is part of the contract.
    let v: Vec<Value> = redis::cmd("RL.CHECK")
        .arg("u:1")
        .arg(3)
        .arg("1h")
        .arg("PEEK")
        .query(&mut c)
        .unwrap();
    let names: Vec<String> = v
        .iter()
        .step_by(2)
        .map(|x| redis::from_redis_value(x.clone()).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "allowed",
            "limit",
            "remaining",
            "reset_ms",
            "retry_after_ms",
            "policy"
        ]
    );
}

#[test]
fn peek_and_cost_zero_do_not_consume() {
    let tg = Tollgate::start_manual(Config::default());
    let mut c = con(&tg);
    for _ in 0..5 {
        let r = map(&mut c, &["RL.CHECK", "p", "2", "1h", "PEEK"]);
        assert_eq!((int(&r["allowed"]), int(&r["remaining"])), (1, 2));
        let r = map(&mut c, &["RL.CHECK", "p", "2", "1h", "COST", "0"]);
        assert_eq!(int(&r["allowed"]), 1);
    }
    let r = map(&mut c, &["RL.CHECK", "p", "2", "1h", "COST", "2"]);
    assert_eq!((int(&r["allowed"]), int(&r["remaining"])), (1, 0));
    let r = map(&mut c, &["RL.CHECK", "big", "2", "1h", "COST", "3"]);
    assert_eq!((int(&r["allowed"]), int(&r["retry_after_ms"])), (0, -1));
}

/// PEEK and COST 0 both decide without consuming, and both report the state as it is: 3
/// remaining after 2 of 5 were used, not the 2 a real request would leave.
#[test]
fn peek_reports_the_state_as_it_is() {
    let tg = Tollgate::start_manual(Config::default());
    let mut c = con(&tg);
    for _ in 0..2 {
        map(&mut c, &["RL.CHECK", "k", "5", "1h"]);
    }
    let peek = map(&mut c, &["RL.CHECK", "k", "5", "1h", "PEEK"]);
    let zero = map(&mut c, &["RL.CHECK", "k", "5", "1h", "COST", "0"]);
    for r in [&peek, &zero] {
        assert_eq!(
            (
                int(&r["allowed"]),
                int(&r["remaining"]),
                int(&r["retry_after_ms"])
            ),
            (1, 3, 0)
        );
    }
    assert_eq!(peek["reset_ms"], zero["reset_ms"]);
    // A peek of a cost that does not fit is denied, with the wait for that cost, and still
    // shows what is left.
    let big = map(&mut c, &["RL.CHECK", "k", "5", "1h", "COST", "4", "PEEK"]);
    assert_eq!((int(&big["allowed"]), int(&big["remaining"])), (0, 3));
    assert!(int(&big["retry_after_ms"]) > 0);
    let real = map(&mut c, &["RL.CHECK", "k", "5", "1h", "COST", "3"]);
    assert_eq!((int(&real["allowed"]), int(&real["remaining"])), (1, 0));
}

#[test]
fn state_lives_under_the_key_and_expires_when_whole() {
    let tg = Tollgate::start_manual(Config::default());
    let mut c = con(&tg);
    map(&mut c, &["RL.CHECK", "k", "10", "500ms"]);
    let t: String = redis::cmd("TYPE").arg("k").query(&mut c).unwrap();
    assert_eq!(t, "ratelimit");
    let pttl: i64 = redis::cmd("PTTL").arg("k").query(&mut c).unwrap();
    assert!(pttl > 0 && pttl <= 500, "pttl {pttl}");
    let err = redis::cmd("GET")
        .arg("k")
        .query::<Option<String>>(&mut c)
        .unwrap_err();
    assert!(err.to_string().contains("WRONGTYPE"), "{err}");
    // Whole again after 500 ms (one of ten used), and gone then, not before.
    tg.advance(Duration::from_millis(pttl as u64 - 1));
    let n: i64 = redis::cmd("EXISTS").arg("k").query(&mut c).unwrap();
    assert_eq!(n, 1, "still there 1 ms before it is whole");
    tg.advance(Duration::from_millis(1));
    let n: i64 = redis::cmd("EXISTS").arg("k").query(&mut c).unwrap();
    assert_eq!(n, 0, "a rate-limit key expires once whole");
    map(&mut c, &["RL.CHECK", "k", "1", "1h"]);
    let r = map(&mut c, &["RL.CHECK", "k", "1", "1h"]);
    assert_eq!(int(&r["allowed"]), 0);
    let n: i64 = redis::cmd("DEL").arg("k").query(&mut c).unwrap();
    assert_eq!(n, 1);
    let r = map(&mut c, &["RL.CHECK", "k", "1", "1h"]);
    assert_eq!(int(&r["allowed"]), 1);
    let n: i64 = redis::cmd("RL.RESET").arg("k").query(&mut c).unwrap();
    assert_eq!(n, 1);
    let r = map(&mut c, &["RL.CHECK", "k", "1", "1h"]);
    assert_eq!(int(&r["allowed"]), 1);
}

#[test]
fn several_policies_are_all_or_nothing() {
    let tg = Tollgate::start_manual(Config::default());
    let mut c = con(&tg);
    // auth: 5/min, ai: 10/min (config defaults).
    for _ in 0..5 {
        let r = map(
            &mut c,
            &["RL.CHECK", "user:7", "POLICY", "ai", "POLICY", "auth"],
        );
        assert_eq!(int(&r["allowed"]), 1);
    }
    let r = map(
        &mut c,
        &["RL.CHECK", "user:7", "POLICY", "ai", "POLICY", "auth"],
    );
    assert_eq!(int(&r["allowed"]), 0);
    assert_eq!(r["policy"], Value::BulkString(b"auth".to_vec()));
    // ai was not charged for the denied request: 10 - 5 left.
    let ai = map(&mut c, &["RL.CHECK", "user:7", "POLICY", "ai", "PEEK"]);
    assert_eq!(int(&ai["remaining"]), 5, "ai remaining, as it is");
    let policies = match &r["policies"] {
        Value::Array(v) => v.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!(policies, 2, "one map per policy: {:?}", r["policies"]);
    let err = redis::cmd("RL.CHECK")
        .arg("x")
        .arg("POLICY")
        .arg("nope")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(err.to_string().contains("NOPOLICY"), "{err}");
}

#[test]
fn argument_errors_are_redis_style() {
    let tg = Tollgate::start_manual(Config::default());
    let mut raw = tg.raw();
    let cases: &[(&str, &str)] = &[
        ("RL.CHECK k", "-ERR wrong number of arguments for 'rl.check' command\r\n"),
        ("RL.CHECK k x 60", "-ERR value is not an integer or out of range\r\n"),
        ("RL.CHECK k 10 60 BURST", "-ERR syntax error\r\n"),
        ("RL.CHECK k 10 60 FOO 1", "-ERR syntax error\r\n"),
        ("RL.CHECK k 0 60", "-ERR limit must be at least 1\r\n"),
        ("CL.THROTTLE k 1", "-Cell error: Usage: cl.throttle <key> <max_burst> <count per period> <period> [<quantity>]\r\n"),
        ("CL.THROTTLE k 1 0 60", "-Cell error: Zero rates are not supported\r\n"),
        ("CL.THROTTLE k x 1 60", "-Cell error: Couldn't parse as integer: x\r\n"),
    ];
    for (cmd, want) in cases {
        assert_eq!(
            common::show(&raw.cmd_str(cmd)),
            common::show(want.as_bytes()),
            "{cmd}"
        );
    }
}

#[test]
fn cl_throttle_matches_redis_cell_on_a_fresh_key() {
    let tg = Tollgate::start_manual(Config::default());
    let mut c = con(&tg);
    let r: Vec<i64> = redis::cmd("CL.THROTTLE")
        .arg("user123")
        .arg(15)
        .arg(30)
        .arg(60)
        .query(&mut c)
        .unwrap();
    assert_eq!(r, [0, 16, 15, -1, 2]);
    let r: Vec<i64> = redis::cmd("CL.THROTTLE")
        .arg("user123")
        .arg(15)
        .arg(30)
        .arg(60)
        .arg(20)
        .query(&mut c)
        .unwrap();
    assert_eq!(r[0], 1, "a quantity above the burst is limited");
}

#[test]
fn fifty_clients_on_one_key_admit_exactly_the_model() {
    let tg = Tollgate::start_manual(Config::default());
    let url = tg.url();
    // 1000 per day refills one request every 86 s: within the test, exactly the burst fits.
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                let mut admitted = 0;
                for _ in 0..40 {
                    let v: Vec<Value> = redis::cmd("RL.CHECK")
                        .arg("hot")
                        .arg(1000)
                        .arg("1d")
                        .arg("BURST")
                        .arg(300)
                        .query(&mut c)
                        .unwrap();
                    admitted += int(&v[1]);
                }
                admitted
            })
        })
        .collect();
    let total: i64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(total, 300);
}

#[test]
fn leases_cap_concurrency_and_expire_on_the_server_clock() {
    let tg = Tollgate::start_manual(Config::default());
    let mut c = con(&tg);
    let a = map(&mut c, &["RL.ACQUIRE", "jobs:u1", "2", "300ms"]);
    assert_eq!(int(&a["acquired"]), 1);
    let b = map(
        &mut c,
        &["RL.ACQUIRE", "jobs:u1", "2", "10s", "ID", "job-b"],
    );
    assert_eq!((int(&b["acquired"]), int(&b["in_use"])), (1, 2));
    assert_eq!(b["lease"], Value::BulkString(b"job-b".to_vec()));
    let again = map(
        &mut c,
        &["RL.ACQUIRE", "jobs:u1", "2", "10s", "ID", "job-b"],
    );
    assert_eq!(
        int(&again["acquired"]),
        1,
        "acquiring with the same ID is idempotent"
    );
    let full = map(&mut c, &["RL.ACQUIRE", "jobs:u1", "2", "10s"]);
    assert_eq!(
        (int(&full["acquired"]), full["lease"].clone()),
        (0, Value::Nil)
    );
    let retry = int(&full["retry_after_ms"]);
    assert!(retry > 0 && retry <= 300, "retry {retry}");
    // The first lease was never released: its slot frees itself.
    tg.advance(Duration::from_millis(retry as u64 - 1));
    let r = map(
        &mut c,
        &["RL.ACQUIRE", "jobs:u1", "2", "10s", "ID", "job-c"],
    );
    assert_eq!(int(&r["acquired"]), 0, "1 ms before the lease expires");
    tg.advance(Duration::from_millis(1));
    let r = map(
        &mut c,
        &["RL.ACQUIRE", "jobs:u1", "2", "10s", "ID", "job-c"],
    );
    assert_eq!(int(&r["acquired"]), 1, "an expired lease frees its slot");
    let released: i64 = redis::cmd("RL.RELEASE")
        .arg("jobs:u1")
        .arg("job-b")
        .query(&mut c)
        .unwrap();
    assert_eq!(released, 1);
    let released: i64 = redis::cmd("RL.RELEASE")
        .arg("jobs:u1")
        .arg("job-b")
        .query(&mut c)
        .unwrap();
    assert_eq!(released, 0);
    let renewed: i64 = redis::cmd("RL.RENEW")
        .arg("jobs:u1")
        .arg("job-c")
        .arg("20s")
        .query(&mut c)
        .unwrap();
    assert_eq!(renewed, 1);
    let renewed: i64 = redis::cmd("RL.RENEW")
        .arg("jobs:u1")
        .arg("nope")
        .arg("20s")
        .query(&mut c)
        .unwrap();
    assert_eq!(renewed, 0);
    let pttl: i64 = redis::cmd("PTTL").arg("jobs:u1").query(&mut c).unwrap();
    assert!(
        pttl > 10_000,
        "the key lives as long as its last lease: {pttl}"
    );
}

#[test]
fn decisions_are_counted_in_info() {
    let tg = Tollgate::start_manual(Config::default());
    let mut c = con(&tg);
    map(&mut c, &["RL.CHECK", "m", "1", "1h"]);
    map(&mut c, &["RL.CHECK", "m", "1", "1h"]);
    map(&mut c, &["RL.CHECK", "n", "POLICY", "chat"]);
    let info: String = redis::cmd("INFO").arg("tollgate").query(&mut c).unwrap();
    assert!(info.contains("rl_inline:allowed=1,denied=1"), "{info}");
    assert!(info.contains("rl_chat:allowed=1,denied=0"), "{info}");
    // CONFIG RESETSTAT clears them with the rest of INFO's statistics.
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    let info: String = redis::cmd("INFO").arg("tollgate").query(&mut c).unwrap();
    assert!(!info.contains("rl_inline:allowed=1"), "{info}");
    assert!(!info.contains("rl_chat:"), "{info}");
}

/// Regressions found in review of the one-lookup write paths: RL.RESET deletes lease state
/// (TYPE says `ratelimit` for it), a failed RL.RELEASE/RL.RENEW leaves the key alone, and a
/// CL.THROTTLE that writes nothing still counts as an access (LRU/LFU eviction reads it).
#[test]
fn reset_release_and_throttle_keep_redis_key_semantics() {
    let tg = Tollgate::start_manual(Config::default());
    let mut c = con(&tg);
    let q = |c: &mut redis::Connection, args: &[&str]| -> Value {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(c).unwrap()
    };
    map(&mut c, &["RL.ACQUIRE", "L", "3", "30s", "ID", "a"]);
    assert_eq!(
        q(&mut c, &["TYPE", "L"]),
        Value::SimpleString("ratelimit".into())
    );
    assert_eq!(q(&mut c, &["RL.RESET", "L"]), Value::Int(1));
    assert_eq!(q(&mut c, &["EXISTS", "L"]), Value::Int(0));

    map(&mut c, &["RL.ACQUIRE", "LL", "2", "100ms", "ID", "a"]);
    assert_eq!(q(&mut c, &["PERSIST", "LL"]), Value::Int(1));
    tg.advance(Duration::from_millis(250));
    assert_eq!(q(&mut c, &["RL.RELEASE", "LL", "nosuch"]), Value::Int(0));
    assert_eq!(
        q(&mut c, &["RL.RENEW", "LL", "nosuch", "1s"]),
        Value::Int(0)
    );
    assert_eq!(
        q(&mut c, &["EXISTS", "LL"]),
        Value::Int(1),
        "a failed release changes nothing"
    );

    assert_eq!(
        int(&q(&mut c, &["CL.THROTTLE", "ck", "0", "1", "60", "1"])
            .as_sequence()
            .unwrap()[0]),
        0
    );
    tg.advance(Duration::from_millis(2100));
    assert_eq!(
        int(&q(&mut c, &["OBJECT", "IDLETIME", "ck"])),
        2,
        "untouched for 2.1 s"
    );
    assert_eq!(
        int(&q(&mut c, &["CL.THROTTLE", "ck", "0", "1", "60", "1"])
            .as_sequence()
            .unwrap()[0]),
        1
    );
    let idle = int(&q(&mut c, &["OBJECT", "IDLETIME", "ck"]));
    assert_eq!(idle, 0, "a limited call is an access");
}

/// COMMAND DOCS files the rate-limit commands under their own group, not `server`.
#[test]
fn command_docs_puts_rate_limits_in_their_group() {
    let tg = Tollgate::start();
    let mut raw = tg.raw();
    for name in [
        "rl.check",
        "rl.reset",
        "rl.acquire",
        "rl.release",
        "rl.renew",
        "cl.throttle",
    ] {
        let reply = common::show(&raw.cmd_str(&format!("COMMAND DOCS {name}")));
        assert!(
            reply.contains("$5\\r\\ngroup\\r\\n$9\\r\\nratelimit\\r\\n"),
            "{name}: {reply}"
        );
    }
}
