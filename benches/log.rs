//! Appends per second through the log (`tollgate::persist::log`) with 1, 16 and 256
//! concurrent submitters, each appending one 64-byte record and waiting for its ticket
//! before the next (a client waiting for its reply), under `always` (and `everysec` and `no`
//! for comparison). Prints a table; asserts nothing. Run with `cargo bench --bench log`; the
//! directory is `$TOLLGATE_BENCH_DIR` or the system temporary directory (put it on the disk
//! you want measured: a tmpfs makes fsync free).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failure is a crash

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollgate::persist::log::{self, FsyncPolicy, Options, Recovery};

fn run(policy: FsyncPolicy, submitters: usize, secs: f64) {
    let base = std::env::var_os("TOLLGATE_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("tollgate-log-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = Options {
        policy,
        recovery: Recovery::Strict,
    };
    let (log, _) = log::open(&dir, "bench.log", opts, &mut |_| Ok(())).unwrap();
    let log = Arc::new(log);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..submitters)
        .map(|t| {
            let (log, stop, done) = (log.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || {
                let mut p = [b'x'; 64];
                p[..8].copy_from_slice(&(t as u64).to_le_bytes());
                while !stop.load(Ordering::Relaxed) {
                    log.append([&p]).wait().unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let st = log.stats();
    let n = done.load(Ordering::Relaxed);
    println!(
        "{:<9} {:>10} {:>12.0} {:>10} {:>14.1} {:>16}",
        format!("{policy:?}"),
        submitters,
        n as f64 / elapsed,
        st.fsyncs,
        n as f64 / st.fsyncs.max(1) as f64,
        st.last_fsync_us
    );
    drop(log);
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    // `cargo bench` passes `--bench`; a filter-free run is all there is.
    let secs = std::env::var("TOLLGATE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    println!(
        "{:<9} {:>10} {:>12} {:>10} {:>14} {:>16}",
        "policy", "submitters", "appends/s", "fsyncs", "records/fsync", "last fsync (us)"
    );
    for policy in [FsyncPolicy::Always, FsyncPolicy::EverySec, FsyncPolicy::No] {
        for submitters in [1, 16, 256] {
            run(policy, submitters, secs);
        }
    }
}
