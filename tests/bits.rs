//! Bitmaps against a real `redis-server` 7.0: SETBIT, GETBIT, BITCOUNT, BITPOS and BITOP,
//! their errors and edge cases (offset limits, ranges in bytes and bits, missing keys, wrong
//! types, integer-encoded strings), in RESP2 and RESP3, replies compared byte for byte; a
//! seeded random sequence of bit commands; WAIT, alone and in MULTI.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::diff::{Compare, Servers};
use common::Rng;

#[test]
fn every_command_and_error_matches_redis() {
    let mut s = Servers::start();
    for resp3 in [false, true] {
        let mut c = s.fresh(resp3);
        // An empty string (a key that exists with no bits).
        s.run_args(&mut c, &[b"SET", b"e", b""], Compare::Exact);
        s.run(
            &mut c,
            &[
                // SETBIT / GETBIT.
                "SETBIT b 7 1",
                "GET b",
                "SETBIT b 7 1",
                "SETBIT b 7 0",
                "SETBIT b 100 1",
                "STRLEN b",
                "GETBIT b 100",
                "GETBIT b 99",
                "GETBIT b 1000000",
                "GETBIT nokey 5",
                "EXISTS nokey",
                "SETBIT z 0 0",
                "GET z",
                "OBJECT ENCODING z",
                "SETBIT b -1 1",
                "SETBIT b x 1",
                "SETBIT b 1.5 1",
                "SETBIT b 4294967295 0",
                "SETBIT b 4294967296 1",
                "SETBIT b 4294967296 5",
                "SETBIT b 1 2",
                "SETBIT b 1 -1",
                "SETBIT b 1 x",
                "SETBIT b 1",
                "GETBIT b -1",
                "GETBIT b 4294967296",
                "GETBIT b",
                "DEL b",
                // Integer-encoded strings: their digits' bits.
                "SET n 12345",
                "GETBIT n 2",
                "GETBIT n 3",
                "BITCOUNT n",
                "BITPOS n 0",
                "SETBIT n 0 1",
                "GET n",
                "OBJECT ENCODING n",
                // In place (a raw string): WATCH sees the change, and no change is no write.
                "SET w abc",
                "SETBIT w 100 1",
                "OBJECT ENCODING w",
                "WATCH w",
                "SETBIT w 3 1",
                "MULTI",
                "GET w",
                "EXEC",
                "WATCH w",
                "SETBIT w 3 1",
                "MULTI",
                "GET w",
                "EXEC",
                "SET w2 abc",
                "WATCH w2",
                "SETBIT w2 3 0",
                "MULTI",
                "GET w2",
                "EXEC",
                "OBJECT ENCODING w2",
                // TTL kept by SETBIT.
                "SET t abc EX 100",
                "SETBIT t 3 1",
                "TTL t",
                // Wrong types, after the arguments are checked.
                "RPUSH l a",
                "SETBIT l 1 1",
                "SETBIT l -1 1",
                "SETBIT l 1 2",
                "GETBIT l 1",
                "BITCOUNT l",
                "BITCOUNT l x y",
                "BITPOS l 1",
                "BITPOS l 2",
                "BITOP AND d l",
                "BITOP NOT d l",
                // BITCOUNT.
                "SET s foobar",
                "BITCOUNT s",
                "BITCOUNT s 0 0",
                "BITCOUNT s 1 1",
                "BITCOUNT s 1 1 BYTE",
                "BITCOUNT s 5 30 BIT",
                "BITCOUNT s 5 30 bit",
                "BITCOUNT s -1 -1",
                "BITCOUNT s -2 -1 BIT",
                "BITCOUNT s -100 100",
                "BITCOUNT s 100 200",
                "BITCOUNT s 3 1",
                "BITCOUNT s -1 -3",
                "BITCOUNT s -1 -3 FOO",
                "BITCOUNT s 0 -1 FOO",
                "BITCOUNT s 0",
                "BITCOUNT s 0 1 BIT x",
                "BITCOUNT s x 1",
                "BITCOUNT s 1 x",
                "BITCOUNT s 0 9223372036854775807 BIT",
                "BITCOUNT s -9223372036854775808 -1 BIT",
                "BITCOUNT nokey",
                "BITCOUNT nokey 0",
                "BITCOUNT nokey x y z",
                "BITCOUNT",
                "BITCOUNT e",
                "BITCOUNT e 0 -1 BIT",
                // BITPOS.
                "SET p \u{ff}\u{f0}\u{00}",
                "BITPOS p 0",
                "BITPOS p 1",
                "BITPOS p 0 1",
                "BITPOS p 1 2",
                "BITPOS p 0 2 -1",
                "BITPOS p 1 2 -1",
                "BITPOS p 0 0 0",
                "BITPOS p 0 3 5 BIT",
                "BITPOS p 1 3 5 BIT",
                "BITPOS p 0 7 12 bit",
                "BITPOS p 0 12 BIT",
                "BITPOS p 0 -5 -1 BIT",
                "BITPOS p 1 -5 -1 BIT",
                "BITPOS p 1 100",
                "BITPOS p 0 100",
                "BITPOS p 0 2 1",
                "BITPOS p 1 0 -1 FOO",
                "BITPOS p 1 0 x",
                "BITPOS p 1 x",
                "BITPOS p 1 0 1 BIT x",
                "BITPOS p 2",
                "BITPOS p -1",
                "BITPOS p x",
                "SET ones \u{7f}\u{ff}",
                "BITPOS ones 0",
                "BITPOS ones 0 1",
                "BITPOS ones 0 1 -1",
                "BITPOS ones 0 8 15 BIT",
                "BITPOS ones 0 8 BIT",
                "BITPOS ones 1 0 0 BIT",
                "BITPOS nokey 0",
                "BITPOS nokey 1",
                "BITPOS nokey 1 x y z w",
                "BITPOS e 0",
                "BITPOS e 1",
                "BITPOS e 0 0 -1 BIT",
                "BITPOS",
                "BITPOS p",
                // BITOP.
                "SET a1 \u{0f}\u{ff}",
                "SET a2 \u{f0}",
                "BITOP AND d a1 a2",
                "GET d",
                "BITOP OR d a1 a2",
                "GET d",
                "BITOP XOR d a1 a2 a1",
                "GET d",
                "BITOP NOT d a1",
                "GET d",
                "BITOP not d a2",
                "GET d",
                "BITOP AND d a1 nokey",
                "GET d",
                "BITOP OR d nokey nokey2",
                "EXISTS d",
                "SET d x EX 100",
                "BITOP OR d a1",
                "TTL d",
                "OBJECT ENCODING d",
                "BITOP NOT d nokey",
                "EXISTS d",
                "BITOP NOT d a1 a2",
                "BITOP NAND d a1",
                "BITOP AND d",
                "BITOP",
                "RPUSH dl x",
                "BITOP AND dl a1",
                "TYPE dl",
                "SET n2 12345",
                "BITOP AND d n2 a1",
                "GET d",
            ],
        );
    }
    s.finish();
}

/// WAIT with no replicas: 0, and Redis's errors; in MULTI too.
#[test]
fn wait_answers_zero() {
    let mut s = Servers::start();
    for resp3 in [false, true] {
        let mut c = s.fresh(resp3);
        s.run(
            &mut c,
            &[
                "WAIT 0 0",
                "WAIT -1 0",
                "WAIT 0 100",
                "WAIT x 0",
                "WAIT 1 x",
                "WAIT 1 -1",
                "WAIT 0 -1",
                "WAIT 0 1.5",
                "WAIT x -1",
                "WAIT 1",
                "WAIT 1 2 3",
                "MULTI",
                "WAIT 1 0",
                "WAIT 0 0",
                "EXEC",
            ],
        );
    }
    s.finish();
}

/// A seeded random sequence of bit commands on a few keys, every reply compared.
#[test]
fn random_sequence_matches_redis() {
    let mut s = Servers::start();
    let mut c = s.fresh(false);
    let mut rng = Rng(0x5eed_b175);
    let keys = ["k1", "k2", "k3", "nokey"];
    for _ in 0..3000 {
        let k = rng.pick(&keys);
        let off = |rng: &mut Rng| {
            if rng.chance(20) {
                -(rng.below(5) as i64)
            } else {
                rng.below(200) as i64
            }
        };
        let idx = |rng: &mut Rng| rng.below(60) as i64 - 30;
        let unit = |rng: &mut Rng| match rng.below(4) {
            0 => "",
            1 => " BYTE",
            2 => " BIT",
            _ => " bit",
        };
        let line = match rng.below(9) {
            0..=2 => format!("SETBIT {k} {} {}", off(&mut rng), rng.below(2)),
            3 => format!("GETBIT {k} {}", off(&mut rng)),
            4 => match rng.below(3) {
                0 => format!("BITCOUNT {k}"),
                _ => format!(
                    "BITCOUNT {k} {} {}{}",
                    idx(&mut rng),
                    idx(&mut rng),
                    unit(&mut rng)
                ),
            },
            5 | 6 => match rng.below(4) {
                0 => format!("BITPOS {k} {}", rng.below(2)),
                1 => format!("BITPOS {k} {} {}", rng.below(2), idx(&mut rng)),
                _ => format!(
                    "BITPOS {k} {} {} {}{}",
                    rng.below(2),
                    idx(&mut rng),
                    idx(&mut rng),
                    unit(&mut rng)
                ),
            },
            7 => {
                let op = rng.pick(&["AND", "OR", "XOR", "NOT"]);
                let dest = rng.pick(&keys[..3]);
                if op == "NOT" {
                    format!("BITOP NOT {dest} {}", rng.pick(&keys))
                } else {
                    format!("BITOP {op} {dest} {} {}", rng.pick(&keys), rng.pick(&keys))
                }
            }
            _ => match rng.below(4) {
                0 => format!("DEL {k}"),
                1 => format!("SET {k} {}", rng.below(100000)),
                2 => format!("APPEND {k} xyz"),
                _ => format!("GET {k}"),
            },
        };
        s.run_as(&mut c, &line, Compare::Exact);
    }
    for k in keys {
        s.run_as(&mut c, &format!("GET {k}"), Compare::Exact);
    }
    s.finish();
}

/// SETBIT and BITOP are accounted as other string writes: `used_memory` grows with the
/// bitmap and comes back when it is deleted.
#[test]
fn memory_follows_bitmaps() {
    let s = Servers::start();
    let mut c = s.conn();
    let used = |c: &mut common::diff::Conn| -> i64 {
        let info = String::from_utf8_lossy(&c.ours.cmd_str("INFO memory")).into_owned();
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let before = used(&mut c);
    c.ours.cmd_str("SETBIT big 8000000 1");
    c.ours.cmd_str("BITOP NOT big2 big");
    let during = used(&mut c);
    assert!(during - before >= 2_000_000, "{before} -> {during}");
    c.ours.cmd_str("DEL big big2");
    let after = used(&mut c);
    assert!(after - before < 100_000, "{before} -> {after}");
}
