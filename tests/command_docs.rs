//! COMMAND DOCS against a real `redis-server` 7.0: for every Redis command and subcommand in
//! tollgate's table, the docs (summary, since, group, complexity, doc flags, deprecation,
//! history and the argument tree) byte for byte, in RESP2 and RESP3; `redis-cli HELP` shows
//! the same syntax against both; tollgate's own commands are documented in their groups.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::diff::{elements, find, Conn, Servers};
use std::process::Command;

/// The names COMMAND LIST gives (tollgate's), commands and subcommands.
fn names(c: &mut Conn) -> Vec<String> {
    let list = c.ours.cmd_str("COMMAND LIST");
    let mut names: Vec<String> = elements(&list)
        .iter()
        .map(|e| {
            let e = String::from_utf8_lossy(e);
            e.split("\r\n").nth(1).unwrap().to_string()
        })
        .collect();
    names.sort();
    names
}

/// One command's docs map out of a `COMMAND DOCS name` reply, its fields in pairs; empty
/// when the server does not know the command.
fn doc_fields(reply: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let outer = elements(reply);
    if outer.len() < 2 {
        return Vec::new();
    }
    elements(&outer[1])
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect()
}

/// Every Redis command in the table, in both protocols, byte for byte. A container (CLIENT,
/// CONFIG...) lists only the subcommands tollgate has, in its own order (Redis's is its hash
/// table's): its fields are compared without `subcommands`, and each subcommand on its own.
/// Commands redis-server 7.0 does not have (tollgate's own, CLIENT SETINFO of Redis 7.2) are
/// left to `own_commands_are_documented`.
#[test]
fn docs_match_redis_for_every_command() {
    let mut s = Servers::start();
    let mut compared = 0;
    for resp3 in [false, true] {
        let mut c = s.fresh(resp3);
        for name in names(&mut c) {
            let line = format!("COMMAND DOCS {name}");
            let (ours, theirs) = (c.ours.cmd_str(&line), c.theirs.cmd_str(&line));
            let theirs_fields = doc_fields(&theirs);
            if theirs_fields.is_empty() {
                continue;
            }
            compared += 1;
            let container = doc_fields(&ours)
                .iter()
                .any(|(k, _)| find(k, b"subcommands").is_some());
            if !container {
                s.compare(&line, &ours, &theirs, common::diff::Compare::Exact);
                continue;
            }
            let without = |f: Vec<(Vec<u8>, Vec<u8>)>| -> Vec<(Vec<u8>, Vec<u8>)> {
                f.into_iter()
                    .filter(|(k, _)| find(k, b"subcommands").is_none())
                    .collect()
            };
            let (o, t) = (without(doc_fields(&ours)), without(theirs_fields));
            if o != t {
                s.failures.push(format!(
                    "{line} (without subcommands)\n    tollgate: {o:?}\n    redis:    {t:?}"
                ));
            }
        }
        s.run(
            &mut c,
            &[
                "COMMAND DOCS get set",
                "COMMAND DOCS nosuch",
                "COMMAND DOCS get nosuch SET",
                "COMMAND DOCS CONFIG|GET",
                "COMMAND DOCS client|nosuch",
            ],
        );
    }
    assert!(compared > 200, "only {compared} commands compared");
    s.finish();
}

/// What `redis-cli -p <port> HELP <name>` prints (redis-cli builds its help from the
/// server's COMMAND DOCS).
fn cli_help(port: u16, name: &str) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "HELP", name])
        .output()
        .expect("redis-cli is installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `redis-cli HELP` shows the same syntax, summary, since and group for every Redis command
/// of the table against tollgate as against redis-server. A container's HELP lists its
/// subcommands, and tollgate has fewer: containers are left out, their subcommands are not.
#[test]
fn redis_cli_help_matches() {
    let s = Servers::start();
    let mut c = s.conn();
    let (ours, theirs) = (s.tollgate.addr.port(), s.redis.addr.port());
    let mut failures = Vec::new();
    let mut shown = 0;
    let all = names(&mut c);
    for name in &all {
        if all.iter().any(|n| n.starts_with(&format!("{name}|"))) {
            continue;
        }
        let name = name.replace('|', " ");
        let theirs = cli_help(theirs, &name);
        if theirs.trim().is_empty() {
            continue;
        }
        shown += 1;
        let ours = cli_help(ours, &name);
        if ours != theirs {
            failures.push(format!(
                "HELP {name}\n  tollgate: {ours:?}\n  redis:    {theirs:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(shown > 100, "only {shown} commands have help");
    let set = cli_help(ours, "SET");
    assert!(
        set.contains("key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"),
        "{set}"
    );
}

/// Tollgate's own commands: documented with their arguments, in groups ratelimit, quota and
/// cache, and `redis-cli HELP` shows their syntax.
#[test]
fn own_commands_are_documented() {
    let s = Servers::start();
    let mut c = s.conn();
    let mut own = 0;
    for name in names(&mut c) {
        if !name.contains('.') {
            continue;
        }
        own += 1;
        let fields = doc_fields(&c.ours.cmd_str(&format!("COMMAND DOCS {name}")));
        let keys: Vec<String> = fields
            .iter()
            .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
            .collect();
        assert!(
            keys.iter().any(|k| k.contains("arguments")),
            "{name}: {keys:?}"
        );
        let group = fields
            .iter()
            .find(|(k, _)| find(k, b"group").is_some())
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .unwrap();
        let family = name.split('.').next().unwrap();
        let want = match family {
            "rl" | "cl" => "ratelimit",
            other => other,
        };
        assert!(group.contains(want), "{name}: {group}");
    }
    assert!(own >= 20, "{own}");
    let port = s.tollgate.addr.port();
    let help = cli_help(port, "RL.CHECK");
    assert!(
        help.contains("key limit period [BURST burst] [ALGO GCRA|TOKEN-BUCKET|SLIDING-WINDOW|FIXED-WINDOW]|POLICY policy [POLICY policy ...] [COST cost] [PEEK]"),
        "{help}"
    );
    let help = cli_help(port, "QUOTA.CHARGE");
    assert!(
        help.contains("subject metric amount [metric amount ...] [PLAN plan] [ID id] [DRYRUN]"),
        "{help}"
    );
    assert!(cli_help(port, "CACHE.FETCH").contains("subject type key LEASE lease [WAIT wait]"));
}
