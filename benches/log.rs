//! Appends per second through the log (`tollgate::persist::log`) with 1, 16 and 256
//! concurrent submitters, each appending one 64-byte record and waiting for its ticket
//! before the next (a client waiting for its reply), under `always` (and `everysec` and `no`
//! for comparison). Prints a table; asserts nothing. Run with `cargo bench --bench log`; the
//! directory is `$TOLLGATE_BENCH_DIR` or the system temporary directory (put it on the disk
//! you want measured: a tmpfs makes fsync free).
//!
//! `cargo bench --bench log -- --recovery` measures recovery instead: it writes a log of
//! about 100-byte records (1 GiB, or 256 MiB when the directory's file system has less than
//! 4 GiB free) and times `log::open` with a callback that does nothing, with the file out of
//! the page cache (its pages dropped with `posix_fadvise`) and in it, printing seconds, MB/s
//! and the peak resident memory during the open (`VmHWM`, reset before each through
//! `/proc/self/clear_refs`); then, for comparison, what recovery did before it streamed (the
//! whole file read into memory, then scanned). The log is deleted afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failure is a crash

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollgate::persist::log::{self, FsyncPolicy, Options, Recovery};

fn run(policy: FsyncPolicy, submitters: usize, secs: f64) {
    let dir = bench_base().join(format!("tollgate-log-bench-{}", std::process::id()));
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

fn bench_base() -> std::path::PathBuf {
    std::env::var_os("TOLLGATE_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// Bytes free for an unprivileged user on the file system of `dir`.
fn free_bytes(dir: &Path) -> u64 {
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs for the call.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        assert_eq!(libc::statvfs(c.as_ptr(), &mut st), 0, "statvfs {dir:?}");
        st.f_bavail as u64 * st.f_frsize as u64
    }
}

/// A field of /proc/self/status in kB.
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Resets the peak resident memory (VmHWM) to the current resident memory.
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

/// Drops the file's pages from the page cache (clean after a sync), so the next read goes to
/// the disk.
fn evict(path: &Path) {
    let f = File::open(path).unwrap();
    // SAFETY: the descriptor is open for the call; the advice only affects the page cache.
    let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(rc, 0, "posix_fadvise");
}

/// Writes a log of `target` bytes of records of 80-120 bytes shaped like encoded quota
/// state (a key, then counters and times); returns the records and the file's length.
fn write_log(path: &Path, target: u64) -> (u64, u64) {
    let mut w = BufWriter::with_capacity(8 << 20, File::create(path).unwrap());
    w.write_all(&log::header()).unwrap();
    let (mut bytes, mut records) = (log::HEADER_LEN as u64, 0u64);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut buf = Vec::new();
    let mut payload = Vec::new();
    while bytes < target {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        payload.clear();
        payload.extend_from_slice(format!("q:tenant-{}:api-calls:", rng % 100_000).as_bytes());
        for k in 0..8 {
            payload.extend_from_slice(&rng.rotate_left(k * 8).to_le_bytes());
        }
        payload.resize(80 + (rng % 41) as usize, b'.');
        buf.clear();
        log::put_record(&mut buf, &payload);
        w.write_all(&buf).unwrap();
        bytes += buf.len() as u64;
        records += 1;
    }
    let f = w.into_inner().unwrap();
    f.sync_all().unwrap();
    (records, bytes)
}

fn recovery() {
    let base = bench_base();
    let dir = base.join(format!("tollgate-log-recovery-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let free = free_bytes(&dir);
    let target: u64 = if free >= 4 << 30 { 1 << 30 } else { 256 << 20 };
    let path = dir.join("bench.log");
    let t = Instant::now();
    let (records, bytes) = write_log(&path, target);
    println!(
        "wrote {records} records, {bytes} bytes ({:.0} MiB, {:.1} GiB free before) in {:.1} s to {}",
        bytes as f64 / (1 << 20) as f64,
        free as f64 / (1u64 << 30) as f64,
        t.elapsed().as_secs_f64(),
        path.display()
    );
    println!(
        "{:<36} {:>8} {:>8} {:>14} {:>15}",
        "recovery", "seconds", "MB/s", "peak RSS (MB)", "RSS before (MB)"
    );
    let row = |what: &str, secs: f64, before_kb: u64| {
        println!(
            "{:<36} {:>8.2} {:>8.0} {:>14.1} {:>15.1}",
            what,
            secs,
            bytes as f64 / 1e6 / secs,
            status_kb("VmHWM:") as f64 / 1024.0,
            before_kb as f64 / 1024.0
        );
    };
    let opts = Options {
        policy: FsyncPolicy::Always,
        recovery: Recovery::Strict,
    };
    // Streamed and whole-file alternate, twice, so neither always gets the disk (or a host
    // cache under a virtual disk) second.
    for (round, cold) in [(1, true), (1, false), (2, true)] {
        if cold {
            evict(&path);
        }
        reset_peak_rss();
        let before = status_kb("VmRSS:");
        let t = Instant::now();
        let mut seen = 0u64;
        let (l, report) = log::open(&dir, "bench.log", opts, &mut |_| {
            seen += 1;
            Ok(())
        })
        .unwrap();
        let secs = t.elapsed().as_secs_f64();
        let cache = if cold { "cold" } else { "warm" };
        row(
            &format!("{round}: streamed open, {cache} cache"),
            secs,
            before,
        );
        assert_eq!(
            (report.records, report.bytes, seen),
            (records, bytes, records)
        );
        assert!(report.truncated.is_none());
        drop(l);
        if cold {
            // Before: the whole file in memory, then scanned.
            evict(&path);
            reset_peak_rss();
            let before = status_kb("VmRSS:");
            let t = Instant::now();
            let data = std::fs::read(&path).unwrap();
            let s = log::scan(&data, log::HEADER_LEN);
            let n = s.records.iter().filter(|r| r.end > r.start).count();
            let secs = t.elapsed().as_secs_f64();
            row(
                &format!("{round}: whole file + scan, cold cache"),
                secs,
                before,
            );
            assert_eq!(n as u64, records);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn main() {
    if std::env::args().any(|a| a == "--recovery") {
        recovery();
        return;
    }
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
