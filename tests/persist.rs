//! Keyspace snapshots end to end: a restart (SHUTDOWN, drop, SIGTERM) keeps rate-limit state,
//! leases and TTLs; a damaged snapshot stops the start with a message naming the file and
//! leaves it as it was; SAVE, BGSAVE and LASTSAVE answer as Redis does; BGSAVE runs while
//! clients write; save points save; a SHUTDOWN whose save fails is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{show, temp_dir, wait_for, Binary, RedisServer, Tollgate};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tollgate::config::Config;

fn config_in(dir: &Path) -> Config {
    let mut cfg = Config::default();
    cfg.persist.dir = dir.display().to_string();
    cfg
}

fn snapshot_of(dir: &Path) -> PathBuf {
    dir.join("tollgate.snapshot")
}

/// Whether an RL.CHECK reply (RESP2 flat map) says allowed.
fn allowed(reply: &[u8]) -> bool {
    let text = show(reply);
    assert!(text.contains("allowed"), "not an RL.CHECK reply: {text}");
    text.contains("allowed\\r\\n:1\\r\\n")
}

fn info_field(c: &mut common::Raw, field: &str) -> String {
    let info = String::from_utf8_lossy(&c.cmd_str("INFO persistence")).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .trim()
        .to_string()
}

/// Fills a server with a denied limit, a key with a TTL, a plain key and a lease.
fn fill(tg: &Tollgate) {
    let mut c = tg.raw();
    for _ in 0..5 {
        assert!(allowed(&c.cmd_str("RL.CHECK user:42 5 1h")));
    }
    assert!(
        !allowed(&c.cmd_str("RL.CHECK user:42 5 1h")),
        "the sixth is denied"
    );
    assert_eq!(c.cmd_str("SET plain v"), b"+OK\r\n");
    assert_eq!(c.cmd_str("SET ttl v PX 100000"), b"+OK\r\n");
    assert_eq!(c.cmd_str("SELECT 3"), b"+OK\r\n");
    assert_eq!(c.cmd_str("SET in3 x"), b"+OK\r\n");
    let lease = show(&c.cmd_str("RL.ACQUIRE jobs 1 1h ID w1"));
    assert!(lease.contains("w1"), "{lease}");
}

/// What `fill` left must all be back, the limit still denied and the TTL still counting.
fn check_filled(tg: &Tollgate) {
    let mut c = tg.raw();
    assert!(
        !allowed(&c.cmd_str("RL.CHECK user:42 5 1h")),
        "a denied limit stays denied across the restart"
    );
    assert_eq!(c.cmd_str("GET plain"), b"$1\r\nv\r\n");
    let pttl = String::from_utf8_lossy(&c.cmd_str("PTTL ttl")).into_owned();
    let ms: i64 = pttl.trim().trim_start_matches(':').parse().unwrap();
    assert!(ms > 90_000 && ms <= 100_000, "PTTL after the restart: {ms}");
    assert_eq!(c.cmd_str("DBSIZE"), b":3\r\n");
    assert_eq!(c.cmd_str("SELECT 3"), b"+OK\r\n");
    assert_eq!(c.cmd_str("GET in3"), b"$1\r\nx\r\n");
    let second = show(&c.cmd_str("RL.ACQUIRE jobs 1 1h"));
    assert!(
        second.contains("acquired\\r\\n:0"),
        "the lease is still held: {second}"
    );
}

#[test]
fn shutdown_then_restart_keeps_limits_leases_and_ttls() {
    let dir = temp_dir("shutdown");
    let tg = Tollgate::start_with(config_in(&dir));
    fill(&tg);
    let mut c = tg.raw();
    c.send_bytes(b"SHUTDOWN\r\n");
    assert_eq!(c.read_reply(), None, "SHUTDOWN closes without a reply");
    assert!(tg.stopped_within(Duration::from_secs(15)));
    drop(tg);
    assert!(snapshot_of(&dir).exists());
    let tg = Tollgate::start_with(config_in(&dir));
    let mut c = tg.raw();
    assert_eq!(info_field(&mut c, "rdb_last_load_keys_loaded"), "5");
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    drop(c);
    check_filled(&tg);
    drop(tg);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_stop_without_shutdown_saves_too_unless_there_are_no_save_points() {
    let dir = temp_dir("drop");
    let tg = Tollgate::start_with(config_in(&dir));
    fill(&tg);
    drop(tg); // as SIGTERM: run returns, then the final save
    let tg = Tollgate::start_with(config_in(&dir));
    check_filled(&tg);
    drop(tg);

    // No save points: nothing is saved at exit, and SHUTDOWN NOSAVE never saves.
    let empty = temp_dir("nosave");
    let mut cfg = config_in(&empty);
    cfg.persist.save = Default::default();
    let tg = Tollgate::start_with(cfg.clone());
    tg.raw().cmd_str("SET k v");
    drop(tg);
    assert!(!snapshot_of(&empty).exists());
    let tg = Tollgate::start_with(config_in(&empty));
    let mut c = tg.raw();
    c.cmd_str("SET k v");
    c.send_bytes(b"SHUTDOWN NOSAVE\r\n");
    assert_eq!(c.read_reply(), None);
    assert!(tg.stopped_within(Duration::from_secs(15)));
    drop(tg);
    assert!(!snapshot_of(&empty).exists());
    // SHUTDOWN SAVE saves even without save points.
    let tg = Tollgate::start_with(cfg);
    let mut c = tg.raw();
    c.cmd_str("SET k v");
    c.send_bytes(b"SHUTDOWN SAVE\r\n");
    assert_eq!(c.read_reply(), None);
    assert!(tg.stopped_within(Duration::from_secs(15)));
    drop(tg);
    assert!(snapshot_of(&empty).exists());
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(empty);
}

#[test]
fn expired_keys_are_neither_saved_nor_loaded() {
    let dir = temp_dir("expired");
    let tg = Tollgate::start_manual(config_in(&dir));
    let mut c = tg.raw();
    c.cmd_str("SET soon v PX 500");
    c.cmd_str("SET later v PX 5000");
    c.cmd_str("SET never v");
    assert_eq!(c.cmd_str("SAVE"), b"+OK\r\n");
    tg.advance(Duration::from_secs(1));
    assert_eq!(c.cmd_str("SAVE"), b"+OK\r\n");
    drop(c);
    drop(tg);
    let bytes = std::fs::read(snapshot_of(&dir)).unwrap();
    assert!(
        !bytes.windows(4).any(|w| w == b"soon"),
        "an expired key is not saved"
    );
    let tg = Tollgate::start_with(config_in(&dir));
    let mut c = tg.raw();
    // `later`'s deadline (manual clock, rounded to the second) is a few seconds away at most.
    assert_eq!(c.cmd_str("EXISTS soon later never"), b":2\r\n");
    drop(c);
    drop(tg);
    let _ = std::fs::remove_dir_all(dir);
}

// ---------------------------------------------------------------------------------------------
// The binary: SIGTERM, and refusing a damaged snapshot
// ---------------------------------------------------------------------------------------------

fn spawn_in(dir: &Path) -> Binary {
    Binary::spawn(&[
        "--port".as_ref(),
        "0".as_ref(),
        "--dir".as_ref(),
        dir.as_os_str(),
    ])
    .unwrap()
}

fn addr(b: &Binary) -> SocketAddr {
    b.ready(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("not ready: {}", b.log()))
}

#[test]
fn sigterm_saves_and_the_next_start_loads() {
    let dir = temp_dir("sigterm");
    let mut first = spawn_in(&dir);
    let mut c = common::Raw::connect(addr(&first));
    for _ in 0..5 {
        assert!(allowed(&c.cmd_str("RL.CHECK user:42 5 1h")));
    }
    assert!(!allowed(&c.cmd_str("RL.CHECK user:42 5 1h")));
    assert_eq!(c.cmd_str("SET ttl v EX 100"), b"+OK\r\n");
    drop(c);
    first.terminate();
    let status = first
        .wait(Duration::from_secs(20))
        .expect("exits on SIGTERM");
    assert!(status.success(), "{status:?}: {}", first.log());
    assert!(first.log().contains("DB saved on disk"), "{}", first.log());

    let second = spawn_in(&dir);
    let mut c = common::Raw::connect(addr(&second));
    assert!(
        !allowed(&c.cmd_str("RL.CHECK user:42 5 1h")),
        "denied after the restart"
    );
    let ttl = String::from_utf8_lossy(&c.cmd_str("TTL ttl")).into_owned();
    let secs: i64 = ttl.trim().trim_start_matches(':').parse().unwrap();
    assert!(secs > 80 && secs <= 100, "TTL {secs}");
    assert!(
        second.log().contains("DB loaded from disk"),
        "{}",
        second.log()
    );
    drop(c);
    drop(second);
    let _ = std::fs::remove_dir_all(dir);
}

/// SIGTERM whose final save fails: the error is logged and the process exits non-zero (a
/// signal cannot be refused as SHUTDOWN is).
#[test]
fn sigterm_with_a_failing_save_logs_and_exits_non_zero() {
    let dir = temp_dir("sigterm-fail");
    let mut b = spawn_in(&dir);
    let mut c = common::Raw::connect(addr(&b));
    assert_eq!(c.cmd_str("SET k v"), b"+OK\r\n");
    drop(c);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();
    b.terminate();
    let status = b.wait(Duration::from_secs(20)).expect("exits on SIGTERM");
    let log = b.log();
    assert!(!status.success(), "{status:?}: {log}");
    assert!(log.contains("snapshot failed"), "{log}");
    assert!(log.contains("exiting without the final snapshot"), "{log}");
    let _ = std::fs::remove_file(dir);
}

/// A good snapshot's bytes, written by a server.
fn good_snapshot() -> Vec<u8> {
    let dir = temp_dir("good");
    let tg = Tollgate::start_with(config_in(&dir));
    fill(&tg);
    assert_eq!(tg.raw().cmd_str("SAVE"), b"+OK\r\n");
    let bytes = std::fs::read(snapshot_of(&dir)).unwrap();
    drop(tg);
    let _ = std::fs::remove_dir_all(dir);
    bytes
}

#[test]
fn a_damaged_snapshot_stops_the_start_and_stays_as_it_was() {
    let good = good_snapshot();
    let mut flipped = good.clone();
    let mid = good.len() / 2;
    flipped[mid] ^= 0x20;
    let mut v3 = good.clone();
    v3[8] = 3;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated",
            good[..good.len() - 7].to_vec(),
            "checksum mismatch",
        ),
        ("truncated header", good[..12].to_vec(), "truncated"),
        ("flipped byte", flipped, "checksum mismatch"),
        ("version 3", v3, "unsupported snapshot version 3"),
        (
            "not a snapshot",
            b"REDIS0011".to_vec(),
            "not a tollgate snapshot",
        ),
    ];
    for (what, bytes, reason) in cases {
        let dir = temp_dir("damaged");
        let path = snapshot_of(&dir);
        std::fs::write(&path, &bytes).unwrap();
        let mut b = spawn_in(&dir);
        let status = b.wait(Duration::from_secs(20)).expect("exits");
        let log = b.log();
        assert!(!status.success(), "{what}: started anyway: {log}");
        assert!(
            log.contains(&path.display().to_string()) && log.contains(reason),
            "{what}: the message names the file and the reason: {log}"
        );
        assert!(log.contains("left as it is"), "{what}: {log}");
        assert!(!log.contains("ready to accept"), "{what}: {log}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{what}: file unchanged"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

#[test]
fn save_bgsave_lastsave_answer_as_redis_does() {
    let dir = temp_dir("redis-dir");
    let redis = RedisServer::start(&["--dir", &dir.display().to_string()]);
    let own = temp_dir("cmds");
    let tg = Tollgate::start_with(config_in(&own));
    let (mut r, mut t) = (redis.raw(), tg.raw());
    let lines: &[&[&str]] = &[
        &["SAVE"],
        &["SAVE", "x"],
        &["LASTSAVE", "x"],
        &["BGSAVE", "foo"],
        &["BGSAVE", "SCHEDULE", "x"],
        &["CONFIG", "SET", "dir", "/tmp"],
        &["CONFIG", "SET", "dbfilename", "x.rdb"],
        &["CONFIG", "SET", "save", "60"],
        &["CONFIG", "SET", "save", "0 1"],
        &["CONFIG", "SET", "save", "60 -1"],
        &["CONFIG", "SET", "save", "100 0"],
        &["CONFIG", "GET", "save"],
        &["CONFIG", "SET", "save", "+100 0  7 8"],
        &["CONFIG", "SET", "save", "+100 0 7 "],
        &["CONFIG", "GET", "save"],
        &["CONFIG", "SET", "save", ""],
        &["CONFIG", "GET", "save"],
        &["CONFIG", "GET", "appendonly"],
        &["MULTI"],
        &["SAVE"],
        &["LASTSAVE"],
        &["DISCARD"],
    ];
    for line in lines {
        let args: Vec<&[u8]> = line.iter().map(|a| a.as_bytes()).collect();
        assert_eq!(show(&t.cmd(&args)), show(&r.cmd(&args)), "{line:?}");
    }
    // INFO persistence has Redis's fields, in Redis's order.
    let names = |c: &mut common::Raw| -> Vec<String> {
        String::from_utf8_lossy(&c.cmd_str("INFO persistence"))
            .lines()
            .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
            .collect()
    };
    // tollgate's quota log is an append-only file of quota state only (`aof_enabled` stays
    // 0): at the end it shows the fields Redis adds with its AOF on, in Redis's order, then
    // its own `quota_log_*`; the rest is as Redis without an AOF.
    let (ours, tail): (Vec<String>, Vec<String>) = names(&mut t).into_iter().partition(|n| {
        !n.starts_with("quota_log_")
            && ![
                "aof_current_size",
                "aof_base_size",
                "aof_pending_rewrite",
                "aof_buffer_length",
                "aof_pending_bio_fsync",
                "aof_delayed_fsync",
            ]
            .contains(&n.as_str())
    });
    assert_eq!(ours, names(&mut r));
    assert_eq!(
        tail[..6],
        [
            "aof_current_size",
            "aof_base_size",
            "aof_pending_rewrite",
            "aof_buffer_length",
            "aof_pending_bio_fsync",
            "aof_delayed_fsync"
        ]
    );
    let int = |b: Vec<u8>| -> u64 {
        String::from_utf8_lossy(&b)
            .trim()
            .trim_start_matches(':')
            .parse()
            .unwrap()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (tl, rl) = (int(t.cmd_str("LASTSAVE")), int(r.cmd_str("LASTSAVE")));
    assert!(
        tl.abs_diff(rl) <= 2 && tl.abs_diff(now) <= 2,
        "{tl} {rl} {now}"
    );
    for line in ["BGSAVE", "BGSAVE SCHEDULE", "MULTI\r\nBGSAVE\r\nEXEC"] {
        // Wait for the previous one on both sides, then compare.
        for c in [&mut t, &mut r] {
            assert!(wait_for(Duration::from_secs(10), || info_field(
                c,
                "rdb_bgsave_in_progress"
            ) == "0"));
        }
        let replies = |c: &mut common::Raw| {
            c.send_bytes(format!("{line}\r\n").as_bytes());
            (0..line.split("\r\n").count())
                .map(|_| show(&c.read_reply().unwrap()))
                .collect::<Vec<_>>()
        };
        assert_eq!(replies(&mut t), replies(&mut r), "{line}");
    }
    assert!(wait_for(Duration::from_secs(10), || info_field(
        &mut t,
        "rdb_bgsave_in_progress"
    ) == "0"));
    assert_eq!(info_field(&mut t, "rdb_last_bgsave_status"), "ok");
    assert!(snapshot_of(&own).exists());
    drop((t, r));
    drop(tg);
    drop(redis);
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(own);
}

#[test]
fn info_persistence_counts_changes_and_saves() {
    let dir = temp_dir("info");
    let mut cfg = config_in(&dir);
    cfg.persist.save = Default::default();
    let tg = Tollgate::start_with(cfg);
    let mut c = tg.raw();
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    assert_eq!(info_field(&mut c, "rdb_saves"), "0");
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_time_sec"), "-1");
    c.cmd_str("SET a 1");
    c.cmd_str("SET b 1");
    c.cmd_str("GET a");
    c.cmd_str("RL.CHECK r 1 1h");
    c.cmd_str("RL.CHECK r 1 1h"); // denied: no change
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "3");
    assert_eq!(c.cmd_str("SAVE"), b"+OK\r\n");
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    assert_eq!(info_field(&mut c, "rdb_saves"), "1");
    assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), "0");
    assert_eq!(info_field(&mut c, "loading"), "0");
    // A flush changes every key it removes: the save points see it (else a restart would
    // bring the flushed keys back from the last snapshot).
    assert_eq!(c.cmd_str("FLUSHALL"), b"+OK\r\n");
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "3");
    drop(c);
    drop(tg);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bgsave_runs_while_clients_write() {
    const KEYS: usize = 20_000;
    let dir = temp_dir("bgsave");
    let tg = Tollgate::start_with(config_in(&dir));
    let mut c = tg.raw();
    let mut batch = Vec::new();
    for i in 0..KEYS {
        batch.extend(common::Raw::encode(&[
            b"SET",
            format!("k{i}").as_bytes(),
            format!("{i}").as_bytes(),
        ]));
    }
    c.send_bytes(&batch);
    for _ in 0..KEYS {
        assert_eq!(c.read_reply().as_deref(), Some(&b"+OK\r\n"[..]));
    }
    assert_eq!(c.cmd_str("BGSAVE"), b"+Background saving started\r\n");
    // Writes go on, and are answered, while the save runs.
    let mut w = tg.raw();
    for i in 0..2_000 {
        assert_eq!(
            w.cmd(&[b"INCR", format!("counter{}", i % 7).as_bytes()])[0],
            b':'
        );
    }
    assert!(wait_for(Duration::from_secs(30), || info_field(
        &mut c,
        "rdb_bgsave_in_progress"
    ) == "0"));
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(&mut c, "rdb_saves"), "1");
    drop((c, w));
    drop(tg); // saves again at exit: the counters too
    let tg = Tollgate::start_with(config_in(&dir));
    let mut c = tg.raw();
    assert_eq!(show(&c.cmd_str("DBSIZE")), format!(":{}\\r\\n", KEYS + 7));
    assert_eq!(c.cmd_str("GET k12345"), b"$5\r\n12345\r\n");
    drop(c);
    drop(tg);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_save_point_saves_in_the_background() {
    let dir = temp_dir("savepoint");
    let tg = Tollgate::start_with(config_in(&dir));
    let mut c = tg.raw();
    assert_eq!(c.cmd(&[b"CONFIG", b"SET", b"save", b"1 1"]), b"+OK\r\n");
    c.cmd_str("SET k v");
    // Due once more than a second has passed since the start (the last "save").
    assert!(
        wait_for(Duration::from_secs(10), || info_field(&mut c, "rdb_saves")
            == "1"),
        "no save within 10 s"
    );
    assert!(wait_for(Duration::from_secs(5), || info_field(
        &mut c,
        "rdb_changes_since_last_save"
    ) == "0"));
    assert!(snapshot_of(&dir).exists());
    drop(c);
    drop(tg);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_shutdown_whose_save_fails_is_refused() {
    let dir = temp_dir("failing");
    let tg = Tollgate::start_with(config_in(&dir));
    let mut c = tg.raw();
    c.cmd_str("SET k v");
    // The directory becomes a file: nothing can be written there any more.
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();
    assert_eq!(
        show(&c.cmd_str("SHUTDOWN")),
        "-ERR Errors trying to SHUTDOWN. Check logs.\\r\\n"
    );
    assert_eq!(show(&c.cmd_str("SAVE")), "-ERR\\r\\n");
    assert_eq!(c.cmd_str("PING"), b"+PONG\r\n", "still serving");
    assert_eq!(c.cmd_str("BGSAVE"), b"+Background saving started\r\n");
    assert!(wait_for(Duration::from_secs(10), || info_field(
        &mut c,
        "rdb_last_bgsave_status"
    ) == "err"));
    // FORCE stops anyway.
    c.send_bytes(b"SHUTDOWN FORCE\r\n");
    assert_eq!(c.read_reply(), None);
    assert!(tg.stopped_within(Duration::from_secs(15)));
    drop(tg);
    let _ = std::fs::remove_file(dir);
}
