//! ioredis (Node) against tollgate and against a real `redis-server` side by side:
//! `tests/node/compat.js` runs the same steps on both (a `defineCommand` token bucket through
//! EVALSHA/EVAL, pipelines and MULTI over hashes and lists, BLPOP, pub/sub with patterns,
//! SCAN, SET NX PX) and compares every result. Needs `node` and `tests/node/node_modules`
//! (`./scripts/test` runs `npm ci` there).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::process::Command;

#[test]
fn ioredis_matches_redis_server() {
    let dir = format!("{}/tests/node", env!("CARGO_MANIFEST_DIR"));
    assert!(
        std::path::Path::new(&format!("{dir}/node_modules/ioredis")).exists(),
        "ioredis is not installed: run ./scripts/test (npm ci in tests/node)"
    );
    let tg = common::Tollgate::start();
    let redis = common::RedisServer::start(&[]);
    let out = Command::new("node")
        .arg(format!("{dir}/compat.js"))
        .arg(tg.addr.port().to_string())
        .arg(redis.addr.port().to_string())
        .output()
        .expect("node is needed for the ioredis test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("OK"),
        "ioredis compat failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
}
