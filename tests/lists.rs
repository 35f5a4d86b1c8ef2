//! Lists against a real `redis-server` 7.0: every list command, its errors and edge cases,
//! in RESP2 and RESP3, replies compared byte for byte; the keyspace commands on lists
//! (TYPE, OBJECT ENCODING, TTL, RENAME, COPY, SCAN TYPE, WATCH); a seeded random sequence
//! of list commands; COMMAND INFO; a list through a snapshot; memory accounting.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::diff::{Compare, Servers};
use common::{Rng, Tollgate};

/// Every list command, its errors and its edge cases, in both protocols.
#[test]
fn every_command_and_error_matches_redis() {
    let mut s = Servers::start();
    for resp3 in [false, true] {
        let mut c = s.fresh(resp3);
        s.run(
            &mut c,
            &[
                // Pushes.
                "LPUSH l c b a",
                "RPUSH l d e",
                "RPUSH l ''",
                "LPUSH l",
                "RPUSH l",
                "LPUSHX nokey a",
                "RPUSHX nokey a",
                "EXISTS nokey",
                "LPUSHX l x0",
                "RPUSHX l x9 x10",
                "LPUSHX l",
                "LRANGE l 0 -1",
                "LLEN l",
                "LLEN nokey",
                "LLEN",
                // Ranges.
                "LRANGE l 1 3",
                "LRANGE l -3 -1",
                "LRANGE l -100 100",
                "LRANGE l 5 2",
                "LRANGE l 100 200",
                "LRANGE l -1 -100",
                "LRANGE l 0 0",
                "LRANGE l -9223372036854775808 9223372036854775807",
                "LRANGE l x 1",
                "LRANGE l 0 y",
                "LRANGE l 1.5 2",
                "LRANGE nokey 0 -1",
                "LRANGE nokey x 1",
                "LRANGE l 0",
                // Indexes.
                "LINDEX l 0",
                "LINDEX l -1",
                "LINDEX l 100",
                "LINDEX l -100",
                "LINDEX l x",
                "LINDEX nokey x",
                "LINDEX nokey 0",
                "LSET l 0 A",
                "LSET l -1 Z",
                "LSET l 100 v",
                "LSET l -100 v",
                "LSET l x v",
                "LSET nokey 0 v",
                "LSET nokey x v",
                "LRANGE l 0 -1",
                // Pops.
                "LPOP l",
                "RPOP l",
                "LPOP l 2",
                "RPOP l 2",
                "LPOP l 0",
                "RPOP l 0",
                "LPOP l -1",
                "LPOP l x",
                "LPOP l 1 2",
                "RPOP l 1 2",
                "LPOP nokey",
                "RPOP nokey",
                "LPOP nokey 0",
                "LPOP nokey 3",
                "RPOP nokey 3",
                "LPOP nokey -1",
                "LRANGE l 0 -1",
                "RPOP l 9223372036854775807",
                "RPUSH l again",
                "LPOP l 100",
                "EXISTS l",
                "RPUSH p a b",
                "RPOP p",
                "RPOP p",
                "RPOP p",
                "EXISTS p",
                // LTRIM.
                "RPUSH t 0 1 2 3 4 5 6 7 8 9",
                "LTRIM t 1 -2",
                "LRANGE t 0 -1",
                "LTRIM t -3 100",
                "LRANGE t 0 -1",
                "LTRIM t x 1",
                "LTRIM nokey 0 1",
                "LTRIM nokey x 1",
                "LTRIM t 2 1",
                "EXISTS t",
                // LREM.
                "RPUSH r a b a c a b a",
                "LREM r 2 a",
                "LRANGE r 0 -1",
                "LREM r -1 b",
                "LRANGE r 0 -1",
                "LREM r 0 a",
                "LRANGE r 0 -1",
                "LREM r 0 nosuch",
                "LREM r x a",
                "LREM nokey 1 a",
                "LREM nokey x a",
                "LREM r 0 b",
                "LREM r 0 c",
                "EXISTS r",
                // LINSERT.
                "RPUSH i a b c b",
                "LINSERT i BEFORE b X",
                "LINSERT i after b Y",
                "LINSERT i before nosuch Z",
                "LINSERT i middle b Z",
                "LINSERT nokey before a b",
                "LINSERT nokey middle a b",
                "LRANGE i 0 -1",
                // LPOS.
                "RPUSH q a b c a b c a",
                "LPOS q a",
                "LPOS q c",
                "LPOS q nosuch",
                "LPOS q a RANK 2",
                "LPOS q a RANK -1",
                "LPOS q a RANK -3",
                "LPOS q a RANK 4",
                "LPOS q a COUNT 0",
                "LPOS q a COUNT 2",
                "LPOS q a COUNT 2 RANK 2",
                "LPOS q a COUNT 0 RANK -1",
                "LPOS q a COUNT 5 RANK -2",
                "LPOS q nosuch COUNT 2",
                "LPOS q a MAXLEN 1",
                "LPOS q a MAXLEN 3 COUNT 0",
                "LPOS q a MAXLEN 3 RANK 2",
                "LPOS q a RANK -1 MAXLEN 2 COUNT 0",
                "LPOS q a RANK 0",
                "LPOS q a RANK x",
                "LPOS q a COUNT -1",
                "LPOS q a COUNT x",
                "LPOS q a MAXLEN -1",
                "LPOS q a MAXLEN",
                "LPOS q a FOO 1",
                "LPOS q a RANK -9223372036854775808",
                "LPOS q a RANK 9223372036854775807",
                // Redis negates the rank in a C long: the lowest stays negative.
                "LPOS q a RANK -9223372036854775808 COUNT 2",
                "LPOS q a RANK -9223372036854775808 COUNT 2 MAXLEN 6",
                "LPOS nokey a",
                "LPOS nokey a COUNT 1",
                "LPOS nokey a RANK 0",
                "LPOS q",
                // LMOVE and RPOPLPUSH.
                "RPUSH m1 a b c",
                "LMOVE m1 m2 LEFT RIGHT",
                "LMOVE m1 m2 right left",
                "LRANGE m1 0 -1",
                "LRANGE m2 0 -1",
                "LMOVE m1 m1 LEFT RIGHT",
                "RPUSH m1 d",
                "LMOVE m1 m1 LEFT RIGHT",
                "LRANGE m1 0 -1",
                "LMOVE m1 m2 UP LEFT",
                "LMOVE nokey m2 UP LEFT",
                "LMOVE nokey m2 LEFT LEFT",
                "EXISTS m2",
                "RPOPLPUSH m2 m1",
                "RPOPLPUSH m2 m1",
                "RPOPLPUSH m2 m1",
                "EXISTS m2",
                "LRANGE m1 0 -1",
                "RPOPLPUSH nokey m1",
                "RPOPLPUSH m1",
                "LMOVE m1 m2 LEFT",
                // WRONGTYPE both ways.
                "SET s v",
                "LPUSH s a",
                "RPUSH s a",
                "LPUSHX s a",
                "RPUSHX s a",
                "LPOP s",
                "RPOP s 2",
                "LPOP s 0",
                "LPOP s x",
                "LLEN s",
                "LRANGE s 0 -1",
                "LRANGE s x 1",
                "LINDEX s 0",
                "LINDEX s x",
                "LSET s 0 v",
                "LSET s x v",
                "LTRIM s 0 1",
                "LREM s 0 a",
                "LINSERT s before a b",
                "LPOS s a",
                "LPOS s a COUNT x",
                "LMOVE s m1 LEFT LEFT",
                "LMOVE m1 s LEFT LEFT",
                "LMOVE nokey s LEFT LEFT",
                "RPOPLPUSH m1 s",
                "LRANGE m1 0 -1",
                "GET m1",
                "SET m1 x",
                "HSET h f v",
                "LPUSH h a",
                "LLEN h",
            ],
        );
    }
    s.finish();
}

#[test]
fn keyspace_commands_on_lists() {
    let mut s = Servers::start();
    let mut c = s.fresh(false);
    s.run(
        &mut c,
        &[
            "RPUSH l a b c",
            "SET s v",
            "TYPE l",
            "OBJECT ENCODING l",
            "EXPIRE l 100",
            "TTL l",
            "RPUSH l d",
            "LPOP l",
            "LSET l 0 B",
            "LMOVE l l RIGHT LEFT",
            "TTL l",
            "PERSIST l",
            "TTL l",
            "RENAME l l2",
            "LRANGE l2 0 -1",
            "EXISTS l",
            "COPY l2 l3",
            "LRANGE l3 0 -1",
            "OBJECT ENCODING l3",
            "RPUSH l3 z",
            "LRANGE l2 0 -1",
            "COPY l2 s",
            "COPY l2 s REPLACE",
            "TYPE s",
            "DEL l2 l3",
            "EXISTS l2 l3",
            "RPUSH l a",
            "EXPIRE l 100",
            "LPOP l",
            "TTL l",
            "RPUSH l a",
            "TTL l",
            "DBSIZE",
            "FLUSHDB",
            "DBSIZE",
        ],
    );
    // Redis 7.0 encodes every list as a quicklist, however small or large.
    let big: Vec<String> = ["RPUSH".to_string(), "big".into()]
        .into_iter()
        .chain((0..2000).map(|i| format!("element:{i}")))
        .collect();
    let a: Vec<&[u8]> = big.iter().map(|x| x.as_bytes()).collect();
    s.run_args(&mut c, &a, Compare::Exact);
    s.run(&mut c, &["OBJECT ENCODING big", "LRANGE big 990 1010"]);
    // SCAN TYPE list finds lists only (compared as sets: key order is per server).
    s.run(&mut c, &["RPUSH a v", "RPUSH b v", "SET c v", "HSET d f v"]);
    s.run_as(&mut c, "SCAN 0 TYPE list COUNT 1000", Compare::ScanKeys);
    // An expired list is gone for every command.
    s.run(&mut c, &["RPUSH e v", "PEXPIRE e 1"]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    s.run(
        &mut c,
        &[
            "LLEN e",
            "LRANGE e 0 -1",
            "EXISTS e",
            "LPUSHX e w",
            "RPOPLPUSH e e",
            "TTL e",
        ],
    );
    // WATCH: a write to the list aborts the transaction; a no-op write does not.
    for change in [
        "RPUSH w x",
        "LPUSHX w x",
        "LPOP w",
        "LPOP w 0",
        "LSET w 0 v",
        "LTRIM w 0 -1",
        "LREM w 0 nosuch",
        "LREM w 0 a",
        "LINSERT w before nosuch x",
        "LINSERT w before a x",
        "LMOVE w other LEFT LEFT",
        "LMOVE other w LEFT LEFT",
        "RPOPLPUSH w w",
        "LRANGE w 0 -1",
        "LPOS w a",
    ] {
        let mut other = s.conn();
        s.run(&mut c, &["DEL w other", "RPUSH w a b", "WATCH w"]);
        s.run(&mut other, &[change]);
        s.run(&mut c, &["MULTI", "LRANGE w 0 -1", "EXEC"]);
    }
    s.finish();
}

/// A seeded random sequence of list commands, every reply compared exactly.
#[test]
fn random_list_sequences_match_redis() {
    let mut s = Servers::start();
    const KEYS: &[&str] = &["l0", "l1", "l2", "s0"];
    const VALUES: &[&str] = &["a", "b", "c", "", "1", "-2", "abc"];
    const INDEXES: &[&str] = &["0", "1", "-1", "-2", "3", "7", "-8", "100", "x"];
    // TOLLGATE_LIST_SEEDS=1,2,3 runs other seeds (5000 steps each) to hunt for new cases.
    let (seeds, steps): (Vec<u64>, usize) = match std::env::var("TOLLGATE_LIST_SEEDS") {
        Ok(list) => (
            list.split(',')
                .filter_map(|x| x.trim().parse().ok())
                .collect(),
            5000,
        ),
        Err(_) => (
            vec![0x1157_0001, 0x1157_0002, 0x1157_0003, 0x1157_0004],
            1200,
        ),
    };
    for (run, seed) in seeds.into_iter().enumerate() {
        let mut r = Rng(seed | 1);
        let mut c = s.fresh(run % 2 == 1);
        s.run(&mut c, &["SET s0 str"]);
        for step in 0..steps {
            let k = r.pick(KEYS).to_string();
            let v = |r: &mut Rng| r.pick(VALUES).to_string();
            let ix = |r: &mut Rng| r.pick(INDEXES).to_string();
            let side = |r: &mut Rng| ["LEFT", "RIGHT"][r.below(2)].to_string();
            let cmd: Vec<String> = match r.below(20) {
                0..=2 => {
                    let name = ["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"][r.below(4)];
                    let mut cmd = vec![name.to_string(), k.clone()];
                    for _ in 0..1 + r.below(4) {
                        cmd.push(v(&mut r));
                    }
                    cmd
                }
                3 | 4 => {
                    let name = ["LPOP", "RPOP"][r.below(2)];
                    let mut cmd = vec![name.to_string(), k.clone()];
                    if r.chance(2) {
                        cmd.push(["0", "1", "2", "5", "-1"][r.below(5)].into());
                    }
                    cmd
                }
                5 => vec!["LLEN".into(), k.clone()],
                6 | 7 => vec!["LRANGE".into(), k.clone(), ix(&mut r), ix(&mut r)],
                8 => vec!["LINDEX".into(), k.clone(), ix(&mut r)],
                9 => vec!["LSET".into(), k.clone(), ix(&mut r), v(&mut r)],
                10 => vec!["LTRIM".into(), k.clone(), ix(&mut r), ix(&mut r)],
                11 => {
                    let n = ["0", "1", "-1", "2", "-2"][r.below(5)];
                    vec!["LREM".into(), k.clone(), n.into(), v(&mut r)]
                }
                12 => {
                    let place = ["BEFORE", "AFTER"][r.below(2)];
                    vec![
                        "LINSERT".into(),
                        k.clone(),
                        place.into(),
                        v(&mut r),
                        v(&mut r),
                    ]
                }
                13 | 14 => {
                    let mut cmd = vec!["LPOS".into(), k.clone(), v(&mut r)];
                    if r.chance(2) {
                        cmd.extend(["RANK".into(), ["1", "2", "-1", "-3"][r.below(4)].into()]);
                    }
                    if r.chance(2) {
                        cmd.extend(["COUNT".into(), ["0", "1", "2"][r.below(3)].into()]);
                    }
                    if r.chance(3) {
                        cmd.extend(["MAXLEN".into(), ["0", "1", "3"][r.below(3)].into()]);
                    }
                    cmd
                }
                15 | 16 => {
                    let dst = r.pick(KEYS).to_string();
                    vec!["LMOVE".into(), k.clone(), dst, side(&mut r), side(&mut r)]
                }
                17 => vec!["RPOPLPUSH".into(), k.clone(), r.pick(KEYS).to_string()],
                18 => vec!["TYPE".into(), k.clone()],
                _ => vec!["EXISTS".into(), k.clone()],
            };
            let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
            let (ours, theirs) = (c.ours.cmd(&args), c.theirs.cmd(&args));
            s.compare(
                &format!("seed {seed:#x} step {step}: {}", cmd.join(" ")),
                &ours,
                &theirs,
                Compare::Exact,
            );
        }
        for k in KEYS {
            s.run(&mut c, &[&format!("LRANGE {k} 0 -1")]);
        }
    }
    s.finish();
}

/// COMMAND INFO of every list command equals Redis 7.0's, element for element.
#[test]
fn command_info_matches_redis() {
    let mut s = Servers::start();
    let mut c = s.fresh(false);
    for name in [
        "lpush",
        "rpush",
        "lpushx",
        "rpushx",
        "lpop",
        "rpop",
        "llen",
        "lrange",
        "lindex",
        "lset",
        "ltrim",
        "lrem",
        "linsert",
        "lpos",
        "lmove",
        "rpoplpush",
    ] {
        s.run(&mut c, &[&format!("COMMAND INFO {name}")]);
    }
    s.run(
        &mut c,
        &[
            "COMMAND GETKEYS LMOVE a b LEFT RIGHT",
            "COMMAND GETKEYS RPOPLPUSH a b",
        ],
    );
    s.finish();
}

/// A list survives a restart through the snapshot: elements in order (empty and binary
/// ones too) and its TTL.
#[test]
fn a_list_survives_a_snapshot() {
    let dir = common::temp_dir("lists-snapshot");
    let mut cfg = tollgate::config::Config::default();
    cfg.persist.dir = dir.display().to_string();
    cfg.persist.save = Default::default();
    let before = {
        let tg = Tollgate::start_with(cfg.clone());
        let mut r = tg.raw();
        r.cmd_str("RPUSH small a '' c");
        r.cmd(&[b"LPUSH", b"small", b"\x00\xff\r\n"]);
        r.cmd_str("EXPIRE small 1000");
        let mut big: Vec<String> = vec!["RPUSH".into(), "big".into()];
        for i in 0..3000 {
            big.push(format!("element:{i}"));
        }
        let a: Vec<&[u8]> = big.iter().map(|x| x.as_bytes()).collect();
        assert_eq!(r.cmd(&a), b":3000\r\n");
        assert_eq!(r.cmd_str("SAVE"), b"+OK\r\n");
        (r.cmd_str("LRANGE small 0 -1"), r.cmd_str("LRANGE big 0 -1"))
    };
    let tg = Tollgate::start_with(cfg);
    let mut r = tg.raw();
    assert_eq!(r.cmd_str("LRANGE small 0 -1"), before.0);
    assert_eq!(r.cmd_str("LRANGE big 0 -1"), before.1);
    let ttl = String::from_utf8(r.cmd_str("TTL small")).unwrap();
    let ttl: i64 = ttl.trim_start_matches(':').trim().parse().unwrap();
    assert!((990..=1000).contains(&ttl), "{ttl}");
    assert_eq!(r.cmd_str("TYPE big"), b"+list\r\n");
    assert_eq!(r.cmd_str("OBJECT ENCODING small"), b"$9\r\nquicklist\r\n");
    drop(tg);
    let _ = std::fs::remove_dir_all(dir);
}

/// Memory accounting follows lists: growing one raises used_memory, popping it empty gives
/// back exactly what it took.
#[test]
fn memory_accounting_follows_lists() {
    let tg = Tollgate::start();
    let mut r = tg.raw();
    let used = || tg.state.keyspace.used_memory();
    // The key table's own growth is not the list's: measure after one key came and went.
    r.cmd_str("RPUSH l v");
    r.cmd_str("DEL l");
    let base = used();
    r.cmd_str("RPUSH l v");
    let one = used();
    assert!(one > base);
    for i in 0..2000 {
        r.cmd_str(&format!("RPUSH l element:{i}"));
    }
    let big = used();
    assert!(big > one + 2000 * 16, "{big} vs {one}");
    r.cmd_str("LTRIM l 0 9");
    assert!(used() < big);
    r.cmd_str("LPOP l 100");
    assert_eq!(r.cmd_str("EXISTS l"), b":0\r\n");
    assert_eq!(used(), base);
}
