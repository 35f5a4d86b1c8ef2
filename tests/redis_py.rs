//! redis-py against the embedded server: runs `tests/py/test_clients.py <port>`, which uses
//! redis-py's default handshake (HELLO 3 and CLIENT SETINFO under protocol=3) in both
//! protocols. Needs `python3` and `pip install redis`.

mod common;

use std::process::Command;

#[test]
fn redis_py_clients() {
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
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/test_clients.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(tg.addr.port().to_string())
        .output()
        .expect("running python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("OK"),
        "redis-py {} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        String::from_utf8_lossy(&probe.stdout).trim(),
        out.status
    );
}
