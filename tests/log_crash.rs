//! Crash test of the append-only log (`tollgate::persist::log`): a child process (this test
//! binary run again, with an environment variable) appends records with unique ids from
//! several threads and prints each id once its ticket completes; the parent kills it with
//! SIGKILL at a random moment, reopens the log, and checks that every acknowledged id is
//! there, once, intact. Twenty-five rounds on the same log, so recovery from one crash is
//! followed by appends and another crash.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::Rng;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tollgate::persist::log::{self, FsyncPolicy, Options, Recovery};

const CHILD_DIR: &str = "TOLLGATE_LOG_CRASH_DIR";
const CHILD_ROUND: &str = "TOLLGATE_LOG_CRASH_ROUND";
const FILE: &str = "crash.log";

/// A payload that names its id and checks itself: `id:<round>:<thread>:<n>:<filler>`, the
/// filler's length depending on the id so records vary in size (some large enough for a
/// write to be cut in the middle).
fn payload(round: u64, thread: u64, n: u64) -> Vec<u8> {
    let id = format!("id:{round}:{thread}:{n}:");
    let fill = ((round * 31 + thread * 7 + n * 13) % 3000) as usize;
    let mut p = id.into_bytes();
    p.extend(std::iter::repeat_n(b'a' + (n % 26) as u8, fill));
    p
}

/// The id of a payload, if it is one `payload` made.
fn parse(p: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(p).ok()?;
    let mut parts = s.splitn(5, ':');
    let (_, round, thread, n, _) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let (round, thread, n) = (round.parse().ok()?, thread.parse().ok()?, n.parse().ok()?);
    (payload(round, thread, n) == p).then(|| format!("{round}:{thread}:{n}"))
}

/// The child: runs only when the parent sets the environment variable (otherwise this test
/// passes at once). Appends until killed, printing `ACK <id>` per completed record.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let round: u64 = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
    let opts = Options {
        policy: FsyncPolicy::Always,
        recovery: Recovery::Strict,
    };
    let (log, _) = log::open(Path::new(&dir), FILE, opts, &mut |_| Ok(())).unwrap();
    let log = Arc::new(log);
    let out = Arc::new(Mutex::new(std::io::stdout()));
    println!("READY");
    std::io::stdout().flush().unwrap();
    let threads: Vec<_> = (0..6u64)
        .map(|t| {
            let (log, out) = (log.clone(), out.clone());
            std::thread::spawn(move || {
                // Bounded: the parent kills the child long before this ends.
                for n in 0..1_000_000u64 {
                    // Batches of one to three records, acknowledged together.
                    let k = 1 + n % 3;
                    let ids: Vec<u64> = (0..k).map(|j| n * 3 + j).collect();
                    let batch: Vec<Vec<u8>> = ids.iter().map(|&i| payload(round, t, i)).collect();
                    log.append(&batch).wait().unwrap();
                    let mut o = out.lock().unwrap();
                    for i in ids {
                        writeln!(o, "ACK {round}:{t}:{i}").unwrap();
                    }
                    o.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn every_acknowledged_record_survives_sigkill() {
    let started = Instant::now();
    let dir: PathBuf =
        std::env::temp_dir().join(format!("tollgate-log-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng(0x00c0_ffee_dead_beef ^ u64::from(std::process::id()));
    let mut acked_all: HashSet<String> = HashSet::new();
    let mut torn = 0;
    const ROUNDS: u64 = 25;
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, &dir)
            .env(CHILD_ROUND, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut ready = Some(ready_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.ends_with("READY") {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                } else if let Some(id) = line.strip_prefix("ACK ") {
                    acked.push(id.to_string());
                }
            }
            acked
        });
        // Wait for the child to have opened the log (bounded), then let it run a random
        // while and kill it mid-flight.
        ready_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the child never opened the log");
        std::thread::sleep(Duration::from_millis(5 + rng.below(120) as u64));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Only whole lines count: a line cut by the kill was never fully acknowledged.
        let acked = reader.join().unwrap();

        let mut records: Vec<Vec<u8>> = Vec::new();
        let (log, rec) = log::open(&dir, FILE, Options::default(), &mut |p| {
            records.push(p.to_vec());
            Ok(())
        })
        .unwrap_or_else(|e| panic!("round {round}: the log does not open after SIGKILL: {e}"));
        if rec.truncated.is_some() {
            torn += 1;
        }
        assert_eq!(rec.records, records.len() as u64);
        let mut present = HashSet::new();
        for (i, p) in records.iter().enumerate() {
            let id = parse(p).unwrap_or_else(|| {
                panic!(
                    "round {round}: record {i} is garbled: {:?}",
                    String::from_utf8_lossy(&p[..p.len().min(40)])
                )
            });
            assert!(present.insert(id.clone()), "round {round}: {id} twice");
        }
        acked_all.extend(acked.iter().cloned());
        for id in &acked_all {
            assert!(
                present.contains(id),
                "round {round}: acknowledged {id} is missing"
            );
        }
        drop(log);
    }
    eprintln!(
        "{ROUNDS} SIGKILLs, {} acknowledged records all present, {torn} torn tails dropped",
        acked_all.len()
    );
    eprintln!("took {:?}", started.elapsed());
    assert!(
        acked_all.len() > ROUNDS as usize,
        "the children acknowledged almost nothing"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
