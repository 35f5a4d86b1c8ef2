//! The cache under a 10x overload of `maxmemory`, on the binary: the process's RSS stays
//! within the limit plus 10% plus a fixed allowance while quota and rate-limit state stay
//! intact (allkeys-lru evicts cache entries, never them), and under `noeviction` CACHE.SET is
//! refused with `-OOM` once memory is full and RSS stays bounded the same way.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{show, Binary, Raw};
use std::net::SocketAddr;
use std::time::Duration;

const MB: u64 = 1 << 20;
/// The limit under test; 10x that is written. 640 MB through a debug build takes a few
/// seconds on loopback (memcpy, mostly).
const MAXMEMORY: u64 = 64 * MB;
/// An embedding-sized value whose stored entry (cache key ~30 B + savings 16 B + entry
/// header) still fits jemalloc's 8 KiB size class, so that what `maxmemory` counts is what
/// the allocator hands out.
const FITS_8K: usize = 8000;
/// Exactly 8 KiB: the stored entry is a few dozen bytes over 8 KiB and lands in jemalloc's
/// next size class, 10 KiB, which `Entry::mem_size` (16-byte granularity) does not see.
const EXACT_8K: usize = 8192;
/// Commands per pipelined batch: 64 x 8 KB = 512 KB in flight.
const BATCH: usize = 64;
const SUBJECTS: usize = 1000;
const QUOTA_CHARGE: &str = "1234";

/// What RSS may hold beyond base + `maxmemory` x 1.10, whatever the amount written.
/// Measured first: with values that fit their size class, the peak RSS growth for the 64 MB
/// limit was +67.3 MB (allkeys-lru) and +65.8 MB (noeviction) on the debug binary, +68.3 MB
/// on the release one, the same after 1x and after 10x the limit written: 2-4 MB of fixed
/// slack over the limit, which is
/// - the allocator's: jemalloc keeps freed pages for a decay period of seconds before it
///   returns them, and each arena (4 per CPU) keeps partly used slabs of the classes the
///   load touched;
/// - the connections' buffers: the 512 KB batch in flight, read and parsed;
/// - uncounted bookkeeping: the hash tables' slot arrays beyond the 24 B per entry
///   `mem_size` charges, the expiry index of entries with a TTL, the cache's per-subject
///   books.
///
/// 8 MB leaves room for a busier machine (the decay is time-based) without hiding a leak
/// that grows with the amount written (that would show as 10x).
const ALLOWANCE: u64 = 8 * MB;

fn spawn(policy: &str) -> (Binary, SocketAddr) {
    let binary = Binary::spawn(&[
        "--port",
        "0",
        "--maxmemory",
        "64mb",
        "--maxmemory-policy",
        policy,
        "--appendfsync",
        "no",
    ])
    .unwrap();
    let addr = binary
        .ready(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("the binary did not start: {}", binary.log()));
    (binary, addr)
}

/// A field of /proc/<pid>/status in bytes (VmRSS: now; VmHWM: the peak so far).
fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {status}"));
    kb * 1024
}

fn info_field(c: &mut Raw, section: &str, name: &str) -> u64 {
    let info = String::from_utf8_lossy(&c.cmd(&[b"INFO", section.as_bytes()])).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {info}"))
}

/// The integer after the first bulk `name` in a flat RESP2 reply (CACHE.STATS's totals come
/// before its per-type maps).
fn reply_int(reply: &[u8], name: &str) -> i64 {
    let text = String::from_utf8_lossy(reply);
    let at = format!("${}\r\n{name}\r\n:", name.len());
    let start = text
        .find(&at)
        .unwrap_or_else(|| panic!("no {name} in {}", show(reply)))
        + at.len();
    text[start..].split("\r\n").next().unwrap().parse().unwrap()
}

/// Quota state for SUBJECTS subjects and rate-limit state for SUBJECTS keys, pipelined.
fn write_state(c: &mut Raw) {
    let mut out = Vec::new();
    for i in 0..SUBJECTS {
        let subject = format!("quota:user:{i}");
        out.extend(Raw::encode(&[
            b"QUOTA.CHARGE",
            subject.as_bytes(),
            b"tokens",
            QUOTA_CHARGE.as_bytes(),
        ]));
        let key = format!("rl:user:{i}");
        out.extend(Raw::encode(&[b"RL.CHECK", key.as_bytes(), b"100", b"1h"]));
    }
    c.send_bytes(&out);
    for _ in 0..2 * SUBJECTS {
        let r = c.read_reply().unwrap();
        assert!(r.starts_with(b"*"), "{}", show(&r));
    }
}

/// Every subject's QUOTA.STATUS shows its charge; every rate-limit key exists and still
/// counts its one request (a PEEK consumes nothing).
fn check_state(c: &mut Raw) {
    let used = format!("$4\r\nused\r\n:{QUOTA_CHARGE}\r\n");
    for i in 0..SUBJECTS {
        let status = c.cmd(&[b"QUOTA.STATUS", format!("quota:user:{i}").as_bytes()]);
        assert!(
            String::from_utf8_lossy(&status).contains(&used),
            "quota:user:{i} lost its charge: {}",
            show(&status)
        );
        assert_eq!(
            c.cmd(&[b"EXISTS", format!("rl:user:{i}").as_bytes()]),
            b":1\r\n",
            "rl:user:{i} is gone"
        );
        let peek = c.cmd(&[
            b"RL.CHECK",
            format!("rl:user:{i}").as_bytes(),
            b"100",
            b"1h",
            b"PEEK",
        ]);
        assert_eq!(reply_int(&peek, "remaining"), 99, "{}", show(&peek));
    }
}

/// Writes `total` bytes of `size`-byte cache entries in pipelined batches, PINGing from `ping`
/// between batches; returns the replies counted as (stored, refused with -OOM).
fn overload(c: &mut Raw, ping: &mut Raw, total: u64, size: usize) -> (usize, usize) {
    let entries = (total / size as u64) as usize;
    let mut value = vec![b'v'; size];
    let (mut stored, mut refused) = (0, 0);
    for batch in 0..entries.div_ceil(BATCH) {
        let mut out = Vec::with_capacity(BATCH * (size + 100));
        let first = batch * BATCH;
        let last = (first + BATCH).min(entries);
        for n in first..last {
            // Distinct values: nothing can share them.
            let head = n.to_string();
            value[..head.len()].copy_from_slice(head.as_bytes());
            let subject = format!("user:{}", n % SUBJECTS);
            let key = format!("job:{n}");
            out.extend(Raw::encode(&[
                b"CACHE.SET",
                subject.as_bytes(),
                b"content",
                key.as_bytes(),
                &value,
            ]));
        }
        c.send_bytes(&out);
        for _ in first..last {
            let r = c.read_reply().expect("the server closed the connection");
            match r.as_slice() {
                b":1\r\n" => stored += 1,
                r if r.starts_with(b"-OOM ") => refused += 1,
                other => panic!("CACHE.SET answered {}", show(other)),
            }
        }
        if batch % 16 == 0 {
            assert_eq!(
                ping.cmd(&[b"PING"]),
                b"+PONG\r\n",
                "no PONG at batch {batch}"
            );
        }
    }
    (stored, refused)
}

/// The peak RSS against the bound, with everything the reader of a failure needs.
fn check_rss(binary: &Binary, base: u64, what: &str) -> u64 {
    let pid = binary.child.id();
    let (rss, peak) = (proc_status(pid, "VmRSS"), proc_status(pid, "VmHWM"));
    let bound = base + MAXMEMORY * 11 / 10 + ALLOWANCE;
    eprintln!(
        "{what}: base {:.1} MB, RSS now {:.1} MB (+{:.1}), peak {:.1} MB (+{:.1}), bound {:.1} MB",
        base as f64 / MB as f64,
        rss as f64 / MB as f64,
        rss.saturating_sub(base) as f64 / MB as f64,
        peak as f64 / MB as f64,
        peak.saturating_sub(base) as f64 / MB as f64,
        bound as f64 / MB as f64,
    );
    assert!(
        peak <= bound,
        "{what}: peak RSS {peak} > base {base} + 64 MB x 1.10 + {ALLOWANCE}"
    );
    peak
}

/// allkeys-lru: 10x the limit written, cache entries are evicted and nothing else is.
fn evicting_overload(size: usize) {
    let (binary, addr) = spawn("allkeys-lru");
    let mut c = Raw::connect(addr);
    let mut ping = Raw::connect(addr);
    write_state(&mut c);
    check_state(&mut c);
    let base = proc_status(binary.child.id(), "VmRSS");

    let (stored, refused) = overload(&mut c, &mut ping, 10 * MAXMEMORY, size);
    assert_eq!(refused, 0, "allkeys-lru refused no CACHE.SET");
    assert_eq!(stored as u64, 10 * MAXMEMORY / size as u64);

    let stats = c.cmd(&[b"CACHE.STATS"]);
    let (entries, evictions) = (reply_int(&stats, "entries"), reply_int(&stats, "evictions"));
    eprintln!(
        "allkeys-lru, {size} B values: {stored} stored, {entries} left, {evictions} evicted, \
         used_memory {:.1} MB",
        info_field(&mut c, "memory", "used_memory") as f64 / MB as f64
    );
    check_rss(&binary, base, &format!("allkeys-lru, {size} B values"));
    assert!(evictions > 0, "{}", show(&stats));
    assert!(
        entries > 0 && (entries as usize) < stored,
        "{}",
        show(&stats)
    );
    assert!(info_field(&mut c, "stats", "evicted_keys") >= evictions as u64);
    check_state(&mut c);
    assert_eq!(ping.cmd(&[b"PING"]), b"+PONG\r\n");
}

/// noeviction: once full, CACHE.SET answers -OOM; what is stored stays served and existing
/// quota and rate-limit state keeps working.
fn refusing_overload(size: usize) {
    let (binary, addr) = spawn("noeviction");
    let mut c = Raw::connect(addr);
    let mut ping = Raw::connect(addr);
    write_state(&mut c);
    let base = proc_status(binary.child.id(), "VmRSS");

    let (stored, refused) = overload(&mut c, &mut ping, 10 * MAXMEMORY, size);
    eprintln!("noeviction, {size} B values: {stored} stored, {refused} refused");
    assert!(stored > 0 && refused > 0);
    // At most the limit's worth of values was stored (each entry is more than its value).
    assert!(
        (stored as u64) <= MAXMEMORY / size as u64,
        "{stored} entries"
    );
    check_rss(&binary, base, &format!("noeviction, {size} B values"));
    let stats = c.cmd(&[b"CACHE.STATS"]);
    assert_eq!(
        reply_int(&stats, "entries"),
        stored as i64,
        "{}",
        show(&stats)
    );
    assert_eq!(reply_int(&stats, "evictions"), 0, "{}", show(&stats));
    assert_eq!(info_field(&mut c, "stats", "evicted_keys"), 0);
    let first = c.cmd_str("CACHE.GET user:0 content job:0");
    assert!(
        first.starts_with(format!("${size}\r\n0vvv").as_bytes()),
        "{}",
        show(&first[..first.len().min(40)])
    );
    check_state(&mut c);
    let charge = c.cmd_str("QUOTA.CHARGE quota:user:0 tokens 1");
    assert_eq!(reply_int(&charge, "allowed"), 1, "{}", show(&charge));
    let check = c.cmd_str("RL.CHECK rl:user:0 100 1h");
    assert_eq!(reply_int(&check, "remaining"), 98, "{}", show(&check));
    assert_eq!(ping.cmd(&[b"PING"]), b"+PONG\r\n");
}

#[test]
fn a_tenfold_overload_with_cache_writes_keeps_rss_bounded_and_quota_and_rate_limits_intact() {
    evicting_overload(FITS_8K);
}

#[test]
fn under_noeviction_a_full_cache_answers_oom_and_rss_stays_bounded() {
    refusing_overload(FITS_8K);
}

/// The case, 8 KiB values: RSS grows ~81 MB for the 64 MB limit (allocator_allocated
/// 80.9 MB, used_memory 64.2 MB), over the 78.4 MB bound. Plain SET does the same.
#[test]
fn a_tenfold_overload_with_8k_values_keeps_rss_bounded() {
    evicting_overload(EXACT_8K);
}

#[test]
fn under_noeviction_8k_values_keep_rss_bounded() {
    refusing_overload(EXACT_8K);
}
