//! The HTTP endpoint of the binary (`metrics_port`): `/metrics` scraped while redis-py clients
//! put load on the server, parsed by the `prometheus-client` package's OpenMetrics parser and
//! linted for Prometheus's naming conventions (`tests/py/check_metrics.py`); `/health` 200
//! while serving, 503 while the snapshot loads and while the server shuts down; and
//! `tollgate --check-health`, the container health check, against both.
//! Needs `python3` with `redis` and `prometheus-client` (scripts/test installs them).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{free_port, wait_for, Binary};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

/// GET `path` on 127.0.0.1:`port`: (status code, body), or None when nothing answers. The
/// test's side only reads a status line; the server's HTTP is hyper's.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Some((code, body))
}

/// `tollgate --check-health --metrics-port <port>`: whether it exited 0.
fn check_health(port: u16) -> bool {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["--check-health", "--metrics-port", &port.to_string()])
        .output()
        .unwrap()
        .status
        .success()
}

fn spawn(args: &[&str]) -> (Binary, SocketAddr) {
    let b = Binary::spawn(args).unwrap();
    let addr = b.ready(Duration::from_secs(60));
    let addr = addr.unwrap_or_else(|| panic!("did not start: {}", b.log()));
    (b, addr)
}

#[test]
fn metrics_scraped_under_load_parse_and_follow_the_conventions() {
    let probe = Command::new("python3")
        .args(["-c", "import redis, prometheus_client"])
        .output()
        .expect("python3 is needed");
    assert!(
        probe.status.success(),
        "redis-py or prometheus-client missing (scripts/test installs them): {}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let mport = free_port();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config/tollgate.toml");
    let (_b, addr) = spawn(&[
        "--config",
        config,
        "--port",
        "0",
        "--metrics-port",
        &mport.to_string(),
    ]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/check_metrics.py");
    let out = Command::new("python3")
        .args([script, &addr.port().to_string(), &mport.to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("OK"),
        "check_metrics.py failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `n` keys of 100 bytes through one pipelined connection.
fn fill(addr: SocketAddr, n: usize) {
    let mut w = TcpStream::connect(addr).unwrap();
    let mut r = w.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let v = "x".repeat(100);
        let mut buf = Vec::new();
        for i in 0..n {
            let k = format!("key:{i}");
            buf.extend_from_slice(
                format!("*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n$100\r\n{v}\r\n", k.len()).as_bytes(),
            );
            if buf.len() > 1 << 20 {
                w.write_all(&buf).unwrap();
                buf.clear();
            }
        }
        w.write_all(&buf).unwrap();
    });
    let want = n * b"+OK\r\n".len();
    let mut got = 0;
    let mut chunk = vec![0u8; 1 << 16];
    while got < want {
        let k = r.read(&mut chunk).unwrap();
        assert!(k > 0, "closed after {got} of {want} bytes");
        got += k;
    }
    writer.join().unwrap();
}

#[test]
fn health_is_503_while_the_snapshot_loads() {
    let dir = common::temp_dir("metrics-loading");
    let d = dir.display().to_string();
    {
        let (mut b, addr) = spawn(&["--port", "0", "--dir", &d, "--save", ""]);
        // About a second to load in a debug build: long enough to be seen loading.
        fill(addr, 200_000);
        let mut c = common::Raw::connect(addr);
        assert_eq!(c.cmd_str("SAVE"), b"+OK\r\n");
        b.terminate();
        assert!(b.wait(Duration::from_secs(30)).is_some());
    }
    let mport = free_port();
    let b = Binary::spawn(&[
        "--port",
        "0",
        "--dir",
        &d,
        "--save",
        "",
        "--metrics-port",
        &mport.to_string(),
    ])
    .unwrap();
    // Every answer from the first one on, until the server serves.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some((code, body)) = get(mport, "/health") {
            let status = serde_json::from_str::<serde_json::Value>(&body).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_string();
            if seen.last() != Some(&(code, status.clone())) {
                seen.push((code, status.clone()));
                if code == 503 {
                    assert!(!check_health(mport), "--check-health fails while loading");
                }
            }
            if code == 200 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        seen,
        vec![(503, "loading".to_string()), (200, "ok".to_string())],
        "{}",
        b.log()
    );
    assert!(b.log().contains("DB loaded from disk"), "{}", b.log());
    assert!(check_health(mport), "--check-health passes once serving");
    drop(b);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn health_is_503_while_shutting_down() {
    let mport = free_port();
    let (mut b, addr) = spawn(&[
        "--port",
        "0",
        "--metrics-port",
        &mport.to_string(),
        "--shutdown-grace",
        "3s",
    ]);
    let (code, body) = get(mport, "/health").unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""status":"ok""#), "{body}");
    assert!(check_health(mport));
    // A client that does not read its replies holds the shutdown for the grace period.
    let mut stalled = common::Raw::connect(addr);
    let big = vec![b'x'; 4 << 20];
    assert_eq!(stalled.cmd(&[b"SET", b"big", &big]), b"+OK\r\n");
    for _ in 0..20 {
        stalled.send_bytes(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n");
    }
    std::thread::sleep(Duration::from_millis(200));
    b.terminate();
    let mut answer = None;
    assert!(
        wait_for(Duration::from_secs(3), || {
            answer = get(mport, "/health");
            answer.as_ref().is_some_and(|(code, _)| *code == 503)
        }),
        "last answer {answer:?}; {}",
        b.log()
    );
    let (_, body) = answer.unwrap();
    assert!(body.contains(r#""status":"shutting_down""#), "{body}");
    assert!(
        !check_health(mport),
        "--check-health fails while shutting down"
    );
    assert!(b.wait(Duration::from_secs(30)).is_some(), "{}", b.log());
    drop(stalled);
    assert!(
        get(mport, "/health").is_none(),
        "the endpoint ends with the process"
    );
}

/// `/metrics` and `/health` answer only GET and HEAD; other paths are 404.
#[test]
fn other_methods_and_paths_are_refused() {
    let mport = free_port();
    let (_b, _) = spawn(&["--port", "0", "--metrics-port", &mport.to_string()]);
    assert_eq!(get(mport, "/").unwrap().0, 404);
    let mut s = TcpStream::connect(("127.0.0.1", mport)).unwrap();
    s.write_all(
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 405"), "{text}");
    let mut s = TcpStream::connect(("127.0.0.1", mport)).unwrap();
    s.write_all(b"this is not http\r\n\r\n").unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 400"),
        "{text}"
    );
}
