//! redis-py against the embedded server: runs the scripts in `tests/py/` with the server's
//! port. `test_clients.py` uses redis-py's default handshake (HELLO 3 and CLIENT SETINFO under
//! protocol=3) in both protocols; `test_ratelimit.py` uses RL.* and CL.THROTTLE as an app does;
//! `test_quota.py` calls QUOTA.* with `execute_command` (a dict in RESP3, a flat list in RESP2);
//! `test_shutdown.py` stops the server with redis-py's `shutdown()`; `test_pubsub.py` uses
//! `pubsub()` as an app does for cache invalidation.
//! Needs `python3` and `pip install redis`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::process::Command;

/// Runs `tests/py/<script>` against a fresh server; it must exit 0 and print OK last.
/// Returns the server, for checks after the script.
fn run_script(script: &str) -> common::Tollgate {
    let probe = Command::new("python3")
        .args(["-c", "import redis; print(redis.__version__)"])
        .output()
        .expect("python3 is needed for the redis-py test");
    assert!(
        probe.status.success(),
        "redis-py is not installed; run `pip install redis` (import redis failed: {})",
        String::from_utf8_lossy(&probe.stderr).trim()
    );
    let tg = common::Tollgate::start();
    let path = format!("{}/tests/py/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(&path)
        .arg(tg.addr.port().to_string())
        .output()
        .expect("running python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("OK"),
        "{script} with redis-py {} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        String::from_utf8_lossy(&probe.stdout).trim(),
        out.status
    );
    tg
}

#[test]
fn redis_py_clients() {
    run_script("test_clients.py");
}

#[test]
fn redis_py_rate_limits() {
    run_script("test_ratelimit.py");
}

#[test]
fn redis_py_quotas() {
    run_script("test_quota.py");
}

#[test]
fn redis_py_shutdown() {
    let tg = run_script("test_shutdown.py");
    assert!(
        tg.stopped_within(std::time::Duration::from_secs(15)),
        "server::run returns after redis-py's SHUTDOWN"
    );
}

#[test]
fn redis_py_pubsub() {
    run_script("test_pubsub.py");
}
