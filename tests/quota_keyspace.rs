//! Quota subjects as keys: what the keyspace commands (RENAME, COPY, MOVE, SWAPDB, DEL) do to
//! a subject's state and to the active release of its holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{wait_for, Raw, Tollgate};
use std::time::Duration;
use tollgate::config::Config;

fn info_quota(c: &mut Raw) -> String {
    String::from_utf8_lossy(&c.cmd_str("INFO quota")).into_owned()
}

/// The `expired` count of freemium/tokens in INFO quota.
fn holds_expired(c: &mut Raw) -> u64 {
    let info = info_quota(c);
    info.lines()
        .find_map(|l| l.strip_prefix("quota_freemium_tokens:"))
        .and_then(|l| l.split(',').find_map(|f| f.strip_prefix("expired=")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_hold_of_a_renamed_or_copied_subject_is_still_released_on_time() {
    let tg = Tollgate::start_manual(Config::default());
    let mut c = Raw::connect(tg.addr);
    let r = c.cmd_str("QUOTA.RESERVE a tokens 10 ID h TTL 5s");
    assert!(
        r.starts_with(b"*12\r\n$7\r\nallowed\r\n:1\r\n"),
        "{}",
        String::from_utf8_lossy(&r)
    );
    assert_eq!(c.cmd_str("RENAME a b"), b"+OK\r\n");
    assert_eq!(c.cmd_str("COPY b c"), b":1\r\n");
    assert_eq!(c.cmd_str("TYPE c"), b"+quota\r\n");
    tg.advance(Duration::from_millis(4_999));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(holds_expired(&mut c), 0, "released early");
    tg.advance(Duration::from_millis(1));
    // The expiry thread's next cycles release both holds without the subjects being touched.
    assert!(
        wait_for(Duration::from_secs(5), || holds_expired(&mut c) == 2),
        "{}",
        info_quota(&mut c)
    );
}

#[test]
fn subjects_swap_databases_and_are_deleted_like_keys() {
    let tg = Tollgate::start();
    let mut c = Raw::connect(tg.addr);
    assert!(c.cmd_str("QUOTA.CHARGE s tokens 7").starts_with(b"*12\r\n"));
    assert_eq!(c.cmd_str("SWAPDB 0 1"), b"+OK\r\n");
    assert_eq!(c.cmd_str("EXISTS s"), b":0\r\n");
    assert_eq!(c.cmd_str("SELECT 1"), b"+OK\r\n");
    let status = c.cmd_str("QUOTA.STATUS s");
    assert!(
        String::from_utf8_lossy(&status).contains("$4\r\nused\r\n:7\r\n"),
        "{}",
        String::from_utf8_lossy(&status)
    );
    assert_eq!(
        c.cmd_str("SCAN 0 TYPE quota"),
        b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\ns\r\n"
    );
    assert_eq!(c.cmd_str("DEL s"), b":1\r\n");
    assert_eq!(c.cmd_str("QUOTA.LEDGER s"), b"*0\r\n");
    assert_eq!(c.cmd_str("SET k v"), b"+OK\r\n");
    assert!(c
        .cmd_str("QUOTA.CHARGE k tokens 1")
        .starts_with(b"-WRONGTYPE"));
}
