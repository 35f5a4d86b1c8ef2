//! `redis-benchmark` with no `-t` runs every one of its default tests against tollgate, as it
//! does against redis-server: the same tests, each with a result (a command tollgate lacked
//! would stop the run or report errors). A compatibility check, not a speed one: the load is
//! tiny and nothing is compared but the test names.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::process::Command;

/// The tests redis-benchmark ran against `port`, in its order, with their requests/s.
fn default_tests(port: u16) -> Vec<(String, f64)> {
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-n", "300", "-c", "4", "-r", "1000", "--csv"])
        .output()
        .expect("redis-benchmark is needed (Debian package redis-tools)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "redis-benchmark failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .skip(1)
        .map(|l| {
            let cols: Vec<&str> = l.split(',').map(|c| c.trim_matches('"')).collect();
            (cols[0].to_string(), cols[1].parse().unwrap_or(0.0))
        })
        .collect()
}

#[test]
fn every_default_test_runs_as_against_redis() {
    let tg = common::Tollgate::start();
    let redis = common::RedisServer::start(&[]);
    let ours = default_tests(tg.addr.port());
    let theirs = default_tests(redis.addr.port());
    let names = |v: &[(String, f64)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert!(
        theirs.len() >= 20,
        "redis-server ran only {:?}",
        names(&theirs)
    );
    assert_eq!(names(&ours), names(&theirs));
    for (name, rps) in &ours {
        assert!(*rps > 0.0, "{name} reported no throughput");
    }
}
