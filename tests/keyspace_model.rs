//! Property test: random sequences of string and key commands over a small key space, run
//! through the server on one connection and against a `BTreeMap` model; every reply must be
//! byte-for-byte what the model predicts (RESP2).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{show, Tollgate};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::cell::RefCell;
use std::collections::BTreeMap;

const KEYS: [&[u8]; 5] = [b"a", b"b", b"c", b"d\x00d", b"{e}"];

#[derive(Debug, Clone)]
enum Op {
    Set(usize, Vec<u8>),
    Get(usize),
    Del(Vec<usize>),
    Append(usize, Vec<u8>),
    Incr(usize),
    Exists(Vec<usize>),
    Rename(usize, usize),
    Copy(usize, usize, bool),
    Mset(Vec<(usize, Vec<u8>)>),
    Strlen(usize),
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Integers INCR accepts, and near-misses it must refuse.
        (-5i64..20).prop_map(|n| n.to_string().into_bytes()),
        Just(b"9223372036854775806".to_vec()),
        Just(b"9223372036854775807".to_vec()),
        Just(b"-9223372036854775808".to_vec()),
        Just(b"9223372036854775808".to_vec()),
        Just(b"007".to_vec()),
        Just(b"+1".to_vec()),
        Just(b"-0".to_vec()),
        Just(b" 1".to_vec()),
        Just(b"1.5".to_vec()),
        Just(Vec::new()),
        proptest::collection::vec(any::<u8>(), 0..6),
        "[a-z0-9]{1,4}".prop_map(|s| s.into_bytes()),
    ]
}

fn key() -> impl Strategy<Value = usize> {
    0..KEYS.len()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (key(), value()).prop_map(|(k, v)| Op::Set(k, v)),
        3 => key().prop_map(Op::Get),
        1 => proptest::collection::vec(key(), 1..4).prop_map(Op::Del),
        2 => (key(), value()).prop_map(|(k, v)| Op::Append(k, v)),
        3 => key().prop_map(Op::Incr),
        1 => proptest::collection::vec(key(), 1..4).prop_map(Op::Exists),
        1 => (key(), key()).prop_map(|(a, b)| Op::Rename(a, b)),
        1 => (key(), key(), any::<bool>()).prop_map(|(a, b, r)| Op::Copy(a, b, r)),
        1 => proptest::collection::vec((key(), value()), 1..4).prop_map(Op::Mset),
        1 => key().prop_map(Op::Strlen),
    ]
}

/// Redis's `string2ll`, written out independently of the server's own.
fn redis_int(v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?;
    let digits = s.strip_prefix('-').unwrap_or(s);
    let canonical = digits == "0" && !s.starts_with('-')
        || (!digits.is_empty()
            && digits.as_bytes()[0] != b'0'
            && digits.bytes().all(|c| c.is_ascii_digit()));
    if !canonical {
        return None;
    }
    s.parse().ok()
}

fn bulk(v: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", v.len()).into_bytes();
    out.extend_from_slice(v);
    out.extend_from_slice(b"\r\n");
    out
}

fn int(n: i64) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}

const OK: &[u8] = b"+OK\r\n";
const NIL: &[u8] = b"$-1\r\n";

/// Applies `op` to the model and returns the reply Redis gives, and the command to send.
fn apply(m: &mut BTreeMap<Vec<u8>, Vec<u8>>, op: &Op) -> (Vec<Vec<u8>>, Vec<u8>) {
    let k = |i: &usize| KEYS[*i].to_vec();
    match op {
        Op::Set(i, v) => {
            m.insert(k(i), v.clone());
            (vec![b"SET".to_vec(), k(i), v.clone()], OK.to_vec())
        }
        Op::Get(i) => {
            let r = m.get(&k(i)).map_or(NIL.to_vec(), |v| bulk(v));
            (vec![b"GET".to_vec(), k(i)], r)
        }
        Op::Del(is) => {
            let n = is
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .filter(|i| m.remove(&k(i)).is_some())
                .count();
            let mut cmd = vec![b"DEL".to_vec()];
            cmd.extend(is.iter().map(k));
            (cmd, int(n as i64))
        }
        Op::Append(i, v) => {
            let e = m.entry(k(i)).or_default();
            e.extend_from_slice(v);
            let n = e.len();
            (vec![b"APPEND".to_vec(), k(i), v.clone()], int(n as i64))
        }
        Op::Incr(i) => {
            let cmd = vec![b"INCR".to_vec(), k(i)];
            let cur = match m.get(&k(i)) {
                None => Some(0),
                Some(v) => redis_int(v),
            };
            let r = match cur {
                None => b"-ERR value is not an integer or out of range\r\n".to_vec(),
                Some(n) => match n.checked_add(1) {
                    None => b"-ERR increment or decrement would overflow\r\n".to_vec(),
                    Some(n) => {
                        m.insert(k(i), n.to_string().into_bytes());
                        int(n)
                    }
                },
            };
            (cmd, r)
        }
        Op::Exists(is) => {
            let n = is.iter().filter(|i| m.contains_key(&k(i))).count();
            let mut cmd = vec![b"EXISTS".to_vec()];
            cmd.extend(is.iter().map(k));
            (cmd, int(n as i64))
        }
        Op::Rename(a, b) => {
            let cmd = vec![b"RENAME".to_vec(), k(a), k(b)];
            let r = match m.remove(&k(a)) {
                None => b"-ERR no such key\r\n".to_vec(),
                Some(v) => {
                    m.insert(k(b), v);
                    OK.to_vec()
                }
            };
            (cmd, r)
        }
        Op::Copy(a, b, replace) => {
            let mut cmd = vec![b"COPY".to_vec(), k(a), k(b)];
            if *replace {
                cmd.push(b"REPLACE".to_vec());
            }
            let r = if a == b {
                b"-ERR source and destination objects are the same\r\n".to_vec()
            } else {
                match m.get(&k(a)).cloned() {
                    None => int(0),
                    Some(_) if m.contains_key(&k(b)) && !replace => int(0),
                    Some(v) => {
                        m.insert(k(b), v);
                        int(1)
                    }
                }
            };
            (cmd, r)
        }
        Op::Mset(pairs) => {
            let mut cmd = vec![b"MSET".to_vec()];
            for (i, v) in pairs {
                m.insert(k(i), v.clone());
                cmd.push(k(i));
                cmd.push(v.clone());
            }
            (cmd, OK.to_vec())
        }
        Op::Strlen(i) => {
            let n = m.get(&k(i)).map_or(0, |v| v.len());
            (vec![b"STRLEN".to_vec(), k(i)], int(n as i64))
        }
    }
}

#[test]
fn keyspace_matches_a_btreemap_model() {
    let tg = Tollgate::start();
    let conn = RefCell::new(tg.raw());
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let ops = proptest::collection::vec(op(), 1..200);
    let result = runner.run(&ops, |ops| {
        let mut c = conn.borrow_mut();
        if c.cmd_str("FLUSHDB") != OK {
            // A previous case may have left the connection broken; start a new one.
            *c = tg.raw();
            prop_assert_eq!(c.cmd_str("FLUSHDB"), OK.to_vec());
        }
        let mut model = BTreeMap::new();
        for (n, op) in ops.iter().enumerate() {
            let (cmd, want) = apply(&mut model, op);
            let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_slice()).collect();
            let got = c.cmd(&args);
            if got != want {
                return Err(TestCaseError::fail(format!(
                    "op {n} {op:?}: server {} model {}",
                    show(&got),
                    show(&want)
                )));
            }
        }
        // The final state agrees key by key, and nothing else exists.
        let dbsize = c.cmd_str("DBSIZE");
        prop_assert_eq!(show(&dbsize), show(&int(model.len() as i64)));
        for key in KEYS {
            let want = model.get(key).map_or(NIL.to_vec(), |v| bulk(v));
            prop_assert_eq!(show(&c.cmd(&[b"GET", key])), show(&want));
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Model sanity: the integer rule matches Redis's on the edge cases.
#[test]
fn model_integer_rule() {
    for (s, want) in [
        ("0", Some(0)),
        ("-0", None),
        ("007", None),
        ("+1", None),
        (" 1", None),
        ("-9223372036854775808", Some(i64::MIN)),
        ("9223372036854775808", None),
        ("", None),
        ("-", None),
        ("12", Some(12)),
    ] {
        assert_eq!(redis_int(s.as_bytes()), want, "{s:?}");
    }
}
