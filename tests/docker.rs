//! docker/ without a Docker engine (none runs on the project's machines): the Dockerfile's
//! stages, user, ports, volume and .dockerignore checked as text; its ENTRYPOINT run with its
//! ENV as the container would (paths mapped to this checkout, loopback instead of every
//! interface), and its HEALTHCHECK command run against it: failing before the server is up,
//! passing while it serves, failing after it stopped. docker/compose.yml is linted by
//! tests/py/lint_compose.py (needs python3 with PyYAML: scripts/test installs it).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The Dockerfile's instructions (continuation lines joined, comments dropped), in order.
fn instructions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("docker/Dockerfile")).unwrap();
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                let (op, rest) = current.split_once(' ').unwrap_or((&current, ""));
                out.push((op.to_ascii_uppercase(), rest.trim().to_string()));
                current.clear();
            }
        }
    }
    out
}

/// The instructions of the last stage (what the image is).
fn final_stage(all: &[(String, String)]) -> Vec<(String, String)> {
    let from = all.iter().rposition(|(op, _)| op == "FROM").unwrap();
    all[from..].to_vec()
}

fn json_array(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not an exec-form array: {s}: {e}"))
}

/// `ENV K=V` lines of the image.
fn env(stage: &[(String, String)]) -> BTreeMap<String, String> {
    stage
        .iter()
        .filter(|(op, _)| op == "ENV")
        .map(|(_, kv)| {
            let (k, v) = kv.split_once('=').expect("ENV K=V");
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn the_image_is_multi_stage_non_root_with_ports_volume_and_a_small_context() {
    let all = instructions();
    assert!(
        all.iter().filter(|(op, _)| op == "FROM").count() >= 2,
        "multi-stage"
    );
    let image = final_stage(&all);
    let user = image
        .iter()
        .rfind(|(op, _)| op == "USER")
        .map(|(_, u)| u.clone());
    assert!(
        user.as_deref().is_some_and(|u| u != "root" && u != "0"),
        "runs as a non-root user: {user:?}"
    );
    let expose: Vec<u16> = image
        .iter()
        .filter(|(op, _)| op == "EXPOSE")
        .flat_map(|(_, p)| p.split_whitespace().map(|p| p.parse().unwrap()))
        .collect();
    let defaults = tollgate::config::Config::default();
    assert!(expose.contains(&defaults.server.port), "{expose:?}");
    assert!(expose.contains(&defaults.server.metrics_port), "{expose:?}");
    let volumes: Vec<String> = image
        .iter()
        .filter(|(op, _)| op == "VOLUME")
        .flat_map(|(_, v)| json_array(v))
        .collect();
    let env = env(&image);
    assert!(
        volumes.contains(&env["TOLLGATE_DIR"]),
        "the data dir is a volume"
    );
    assert!(
        image.iter().any(|(op, _)| op == "HEALTHCHECK"),
        "a HEALTHCHECK"
    );
    // The build context leaves out target/ and everything the build does not copy.
    let ignore = std::fs::read_to_string(Path::new(ROOT).join(".dockerignore")).unwrap();
    let ignored: Vec<&str> = ignore
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert!(ignored.contains(&"target/"), "{ignored:?}");
    for (op, args) in &all {
        if op != "COPY" || args.starts_with("--from") {
            continue;
        }
        let words: Vec<&str> = args.split_whitespace().collect();
        for src in &words[..words.len() - 1] {
            let top = src.split('/').next().unwrap();
            assert!(
                !ignored
                    .iter()
                    .any(|i| i.trim_end_matches('/') == top || *i == *src),
                "COPY {src} is excluded by .dockerignore"
            );
            assert!(
                Path::new(ROOT).join(src).exists(),
                "COPY {src}: no such file"
            );
        }
    }
}

/// The container's environment on this machine: the image's ENV with its paths mapped to
/// this checkout (the config COPY's source, a temporary data dir), loopback for every
/// interface, and free ports (as a compose file's `environment:` would set them).
fn container_env(data: &Path, port: u16, mport: u16) -> BTreeMap<String, String> {
    let all = instructions();
    let image = final_stage(&all);
    let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (op, args) in &image {
        let words: Vec<&str> = args.split_whitespace().collect();
        if op == "COPY" && !args.starts_with("--from") {
            files.insert(words[1].to_string(), Path::new(ROOT).join(words[0]));
        }
    }
    let mut env = env(&image);
    for (k, v) in env.iter_mut() {
        if let Some(path) = files.get(v.as_str()) {
            *v = path.display().to_string();
        } else if k == "TOLLGATE_DIR" {
            *v = data.display().to_string();
        } else if k == "TOLLGATE_BIND" {
            assert_eq!(v, "0.0.0.0", "the container listens on every interface");
            *v = "127.0.0.1".into();
        }
    }
    env.insert("TOLLGATE_PORT".into(), port.to_string());
    env.insert("TOLLGATE_METRICS_PORT".into(), mport.to_string());
    env
}

/// An instruction's exec-form command as a `Command` in the container's environment (the
/// binary's path in the image mapped to the one cargo built).
fn command(exec: &[String], env: &BTreeMap<String, String>) -> Command {
    assert_eq!(
        exec[0], "/usr/local/bin/tollgate",
        "the binary where the image copies it"
    );
    let mut c = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    c.args(&exec[1..]).env_clear().envs(env);
    if let Ok(path) = std::env::var("PATH") {
        c.env("PATH", path);
    }
    c
}

#[test]
fn entrypoint_and_healthcheck_run_as_the_image_runs_them() {
    let all = instructions();
    let image = final_stage(&all);
    let copy_dest = image
        .iter()
        .find(|(op, a)| op == "COPY" && a.starts_with("--from"))
        .map(|(_, a)| a.split_whitespace().last().unwrap().to_string())
        .unwrap();
    let entrypoint = json_array(&image.iter().find(|(op, _)| op == "ENTRYPOINT").unwrap().1);
    assert_eq!(entrypoint[0], copy_dest);
    let health = &image.iter().find(|(op, _)| op == "HEALTHCHECK").unwrap().1;
    let health = json_array(
        health
            .split_once("CMD")
            .expect("HEALTHCHECK ... CMD [..]")
            .1
            .trim(),
    );
    assert_eq!(health[0], copy_dest);

    let data = common::temp_dir("docker-data");
    let (port, mport) = (common::free_port(), common::free_port());
    let env = container_env(&data, port, mport);
    let healthy = || {
        command(&health, &env)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    assert!(!healthy(), "unhealthy before the server runs");
    let server = command(&entrypoint, &env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let up = common::wait_for(Duration::from_secs(30), healthy);
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let out = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(up, "the HEALTHCHECK never passed:\n{log}");
    assert!(out.status.success(), "{}\n{log}", out.status);
    assert!(log.contains(&format!("addr=127.0.0.1:{port}")), "{log}");
    assert!(
        data.join("tollgate.log").exists(),
        "the quota log in the data dir"
    );
    assert!(!healthy(), "unhealthy once stopped");
    let _ = std::fs::remove_dir_all(data);
}

#[test]
fn compose_file_lints() {
    let probe = Command::new("python3")
        .args(["-c", "import yaml"])
        .output()
        .expect("python3 is needed");
    assert!(
        probe.status.success(),
        "PyYAML missing (scripts/test installs it): {}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let out = Command::new("python3")
        .args([&format!("{ROOT}/tests/py/lint_compose.py"), ROOT])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("OK"),
        "lint_compose.py: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
