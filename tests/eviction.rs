//! maxmemory over TCP: eviction per policy, -OOM under noeviction, rate-limit state never
//! evicted.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::Tollgate;
use tollgate::config::{ByteSize, Config, MaxmemoryPolicy};

fn config(max: u64, policy: MaxmemoryPolicy) -> Config {
    let mut cfg = Config::default();
    cfg.store.maxmemory = ByteSize(max);
    cfg.store.maxmemory_policy = policy;
    cfg
}

fn server(max: u64, policy: MaxmemoryPolicy) -> Tollgate {
    Tollgate::start_with(config(max, policy))
}

fn info_field(con: &mut redis::Connection, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO"))
}

#[test]
fn allkeys_lru_keeps_memory_under_the_limit() {
    let tg = server(1 << 20, MaxmemoryPolicy::AllkeysLru);
    let mut c = redis::Client::open(tg.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let value = vec![b'x'; 1000];
    for i in 0..5000 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(&value)
            .query(&mut c)
            .unwrap();
    }
    let n: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert!(n < 5000 && n > 100, "dbsize {n}");
    assert!(info_field(&mut c, "evicted_keys") >= 5000 - n);
    assert!(info_field(&mut c, "used_memory") < 2 << 20);
}

#[test]
fn noeviction_refuses_writes_with_redis_text_but_serves_reads() {
    let tg = server(64 << 10, MaxmemoryPolicy::Noeviction);
    let mut raw = tg.raw();
    let value = "x".repeat(1000);
    let mut refused = None;
    for i in 0..500 {
        let r = raw.cmd(&[b"SET", format!("k{i}").as_bytes(), value.as_bytes()]);
        if r != b"+OK\r\n" {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.expect("writes never refused");
    assert_eq!(
        common::show(&refused),
        "-OOM command not allowed when used memory > 'maxmemory'.\\r\\n"
    );
    assert_eq!(
        raw.cmd_str("GET k0"),
        format!("$1000\r\n{value}\r\n").into_bytes()
    );
    assert_eq!(raw.cmd_str("DEL k0"), b":1\r\n", "DEL is not denied");
}

#[test]
fn rate_limit_state_is_never_evicted() {
    let tg = server(256 << 10, MaxmemoryPolicy::AllkeysRandom);
    let mut c = redis::Client::open(tg.url())
        .unwrap()
        .get_connection()
        .unwrap();
    for i in 0..200 {
        let _: redis::Value = redis::cmd("RL.CHECK")
            .arg(format!("rl:{i}"))
            .arg(10)
            .arg("1h")
            .query(&mut c)
            .unwrap();
    }
    let value = vec![b'x'; 1000];
    for i in 0..2000 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(&value)
            .query(&mut c)
            .unwrap();
    }
    for i in 0..200 {
        let t: String = redis::cmd("TYPE")
            .arg(format!("rl:{i}"))
            .query(&mut c)
            .unwrap();
        assert_eq!(t, "ratelimit", "rl:{i} was evicted");
    }
}

/// The access-tracking mode belongs to one server: a second server in the same process with
/// an LFU policy must not switch the first one to LFU counters (it was a process-wide static).
#[test]
fn lfu_mode_is_per_server() {
    // Manual clocks: the LRU stamp counts whole seconds, and none may pass here.
    let lru = Tollgate::start_manual(config(0, MaxmemoryPolicy::AllkeysLru));
    let lfu = Tollgate::start_manual(config(0, MaxmemoryPolicy::AllkeysLfu));
    let mut a = redis::Client::open(lru.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let mut b = redis::Client::open(lfu.url())
        .unwrap()
        .get_connection()
        .unwrap();
    for c in [&mut a, &mut b] {
        let _: () = redis::cmd("SET").arg("k").arg("v").query(c).unwrap();
    }
    let on_lru: redis::RedisResult<i64> = redis::cmd("OBJECT").arg("FREQ").arg("k").query(&mut a);
    assert!(
        on_lru
            .unwrap_err()
            .to_string()
            .contains("An LFU maxmemory policy is not selected"),
        "OBJECT FREQ on the LRU server"
    );
    let freq: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("k")
        .query(&mut b)
        .unwrap();
    assert!(freq >= 1, "an LFU counter starts at 5 and decays: {freq}");
    let idle: redis::RedisResult<i64> = redis::cmd("OBJECT").arg("IDLETIME").arg("k").query(&mut b);
    assert!(idle.is_err(), "IDLETIME is refused under an LFU policy");
    let idle: i64 = redis::cmd("OBJECT")
        .arg("IDLETIME")
        .arg("k")
        .query(&mut a)
        .unwrap();
    assert_eq!(idle, 0);
}
