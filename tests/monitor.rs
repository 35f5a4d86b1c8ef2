//! MONITOR against a real `redis-server` 7.0: the lines a monitor receives for a client's
//! commands (quoting, AUTH/HELLO redaction, a script's commands as `lua`, MULTI/EXEC, the
//! database after SELECT, admin commands hidden), and what a monitoring connection may still
//! do; timestamps and client ports are masked, everything else compared byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::diff::Servers;
use common::{show, Raw};

/// Masks `+<secs>.<micros> [<db> <ip>:<port>]` into `+T [<db> ADDR]`.
fn mask(line: &str) -> String {
    let Some(rest) = line.strip_prefix('+') else {
        return line.to_string();
    };
    let Some((_, rest)) = rest.split_once(' ') else {
        return line.to_string();
    };
    let Some((who, args)) = rest.split_once("] ") else {
        return line.to_string();
    };
    let (db, addr) = who.trim_start_matches('[').split_once(' ').unwrap();
    let addr = if addr == "lua" { "lua" } else { "ADDR" };
    format!("+T [{db} {addr}] {args}")
}

/// Reads what arrives on `m` until `lines` lines came or a second passes with nothing.
fn read_lines(m: &mut Raw, lines: usize) -> Vec<String> {
    m.stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while buf.split(|&b| b == b'\n').count() <= lines && Instant::now() < deadline {
        let mut chunk = [0u8; 65536];
        match m.stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&buf)
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(mask)
        .collect()
}

fn session(connect: &dyn Fn() -> Raw) -> Vec<String> {
    let mut m = connect();
    let mut c = connect();
    c.cmd_str("FLUSHALL");
    let mut out = vec![show(&m.cmd_str("MONITOR"))];
    let args: &[&[&[u8]]] = &[
        &[b"SET", b"k", b"v x\n\"\x01\\\xff"],
        &[b"GET", b"k"],
        &[b"AUTH", b"secret"],
        &[b"HELLO", b"2", b"AUTH", b"user", b"pw"],
        &[b"CONFIG", b"GET", b"maxmemory"],
        &[
            b"EVAL",
            b"redis.call('set','a',1) return redis.call('get','a')",
            b"0",
        ],
        &[b"MULTI"],
        &[b"INCR", b"n"],
        &[b"EXEC"],
        &[b"SELECT", b"3"],
        &[b"PING"],
        &[b"NOSUCHCOMMAND"],
        &[b"GET"],
        &[b"CLIENT", b"ID"],
        &[b"CLIENT", b"KILL", b"ID", b"999999"],
        &[b"DBSIZE"],
    ];
    for a in args {
        c.cmd(a);
    }
    out.extend(read_lines(&mut m, 14));
    // The monitoring connection itself: no keyspace, but PING; MONITOR again says nothing.
    for line in ["GET k", "SET a b", "PING", "MONITOR", "ECHO hi"] {
        m.send_bytes(&Raw::encode(
            &line.split(' ').map(str::as_bytes).collect::<Vec<_>>(),
        ));
    }
    out.extend(read_lines(&mut m, 6));
    // RESET ends it: nothing more arrives.
    out.push(show(&m.cmd_str("RESET")));
    c.cmd_str("PING");
    out.extend(read_lines(&mut m, 1));
    out
}

#[test]
fn a_monitor_sees_what_redis_shows() {
    let mut s = Servers::start();
    let ours = session(&|| s.tollgate.raw());
    let theirs = session(&|| s.redis.raw());
    assert!(ours.len() > 20, "too few lines: {ours:#?}");
    assert_eq!(
        ours, theirs,
        "tollgate (left) and redis-server (right) differ"
    );
    // And in a transaction, MONITOR is refused as Redis refuses it.
    let mut c = s.conn();
    s.run(
        &mut c,
        &["MULTI", "MONITOR", "EXEC", "COMMAND INFO monitor"],
    );
    s.finish();
}
