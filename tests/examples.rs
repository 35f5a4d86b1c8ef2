//! The example apps of `examples/` against a real tollgate: each `examples/<app>/test_<app>.py`
//! drives its app as the app's users would (Flask's test client for the web APIs) and asserts
//! what they see. The server gets the app's own `examples/<app>/tollgate.toml` when it has one
//! (loaded as `tollgate --config` loads it), else the defaults, on a manual clock that the
//! script moves forward to check TTLs of an hour or a day (`examples/testclock.py`).
//! Needs `python3` with redis-py and Flask (`./scripts/test` installs them in a venv).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use tollgate::config::Config;

/// Starts a server with the app's config on a manual clock and runs its test script; it must
/// exit 0 and print OK last. The script moves the clock by printing `ADVANCE <ms>` (see
/// `examples/testclock.py`), so TTLs of an hour or a day are checked without waiting; time
/// stands still otherwise, which makes windows and buckets exact.
fn run_example(app: &str) {
    let probe = Command::new("python3")
        .args(["-c", "import redis, flask"])
        .output()
        .expect("python3 is needed for the example apps");
    assert!(
        probe.status.success(),
        "redis-py and Flask are needed: run ./scripts/test, or pip install redis flask ({})",
        String::from_utf8_lossy(&probe.stderr).trim()
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(app);
    let config_path = dir.join("tollgate.toml");
    let config = if config_path.exists() {
        let config = Config::from_file(&config_path).unwrap();
        config.validate().unwrap();
        config
    } else {
        Config::default()
    };
    let tg = common::Tollgate::start_manual(config);
    let script = dir.join(format!("test_{app}.py"));
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(tg.addr.port().to_string())
        .env("TOLLGATE_MANUAL_CLOCK", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running python3");
    let mut stdin = child.stdin.take().unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    // Read stderr aside, so a script writing much there cannot block on a full pipe.
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let mut stdout = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(ms) = line.strip_prefix("ADVANCE ") {
            tg.advance(Duration::from_millis(ms.parse().unwrap()));
            // The script may have died meanwhile: its error is in stderr.
            let _ = stdin.write_all(b"ADVANCED\n").and_then(|()| stdin.flush());
        } else {
            stdout.push_str(&line);
            stdout.push('\n');
        }
    }
    let status = child.wait().unwrap();
    let stderr = stderr.join().unwrap();
    assert!(
        status.success() && stdout.trim_end().ends_with("OK"),
        "{} failed ({status}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        script.display()
    );
}

#[test]
fn example_job_application_backend() {
    run_example("jobapp");
}

#[test]
fn example_resume_builder() {
    run_example("resume_builder");
}

#[test]
fn example_notes() {
    run_example("notes");
}

#[test]
fn example_rag_chatbot() {
    run_example("rag_chatbot");
}
