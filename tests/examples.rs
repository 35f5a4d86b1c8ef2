//! The example apps of `examples/` against a real tollgate: each `examples/<app>/test_<app>.py`
//! drives its app as the app's users would (Flask's test client for the web APIs) and asserts
//! what they see. The server gets the app's own `examples/<app>/tollgate.toml` when it has one
//! (loaded as `tollgate --config` loads it), else the defaults.
//! Needs `python3` with redis-py and Flask (`./scripts/test` installs them in a venv).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::path::Path;
use std::process::Command;
use tollgate::config::Config;

/// Starts a server with the app's config and runs its test script; it must exit 0 and print
/// OK last.
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
    let tg = common::Tollgate::start_with(config);
    let script = dir.join(format!("test_{app}.py"));
    let out = Command::new("python3")
        .arg(&script)
        .arg(tg.addr.port().to_string())
        .output()
        .expect("running python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("OK"),
        "{} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        script.display(),
        out.status
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
