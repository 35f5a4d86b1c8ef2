//! Unit tests of the log: format, recovery, group commit, policies, failures, the lock and
//! the rewrite.

use super::*;
use std::sync::atomic::AtomicUsize;

static DIRS: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory on the real disk (fsync means something there).
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tollgate-log-unit-{}-{name}-{}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn opts(policy: FsyncPolicy) -> Options {
    Options {
        policy,
        recovery: Recovery::Strict,
    }
}

fn payload(i: usize) -> Vec<u8> {
    format!("record-{i:05}-{}", "x".repeat(i % 7)).into_bytes()
}

/// A closed log in a new directory with `n` records; returns the directory, the file path
/// and the offset where each record starts.
fn log_with(name: &str, n: usize) -> (PathBuf, PathBuf, Vec<usize>) {
    let dir = temp_dir(name);
    let (log, rec) = open(&dir, "quota.log", Options::default()).unwrap();
    assert!(rec.is_empty());
    log.append((0..n).map(payload)).wait().unwrap();
    let path = log.path().to_path_buf();
    log.close().unwrap();
    let mut starts = Vec::new();
    let mut at = HEADER_LEN;
    for i in 0..n {
        starts.push(at);
        at += RECORD_HEADER_LEN + payload(i).len();
    }
    assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, at);
    (dir, path, starts)
}

fn reopen(dir: &Path, recovery: Recovery) -> Result<(Log, Recovered), LogError> {
    open(
        dir,
        "quota.log",
        Options {
            policy: FsyncPolicy::Always,
            recovery,
        },
    )
}

#[test]
fn records_round_trip_in_order_across_batches() {
    let dir = temp_dir("roundtrip");
    let (log, rec) = open(&dir, "quota.log", Options::default()).unwrap();
    assert!(rec.is_empty() && rec.truncated.is_none());
    let mut want = Vec::new();
    for b in 0..10 {
        let batch: Vec<Vec<u8>> = (0..b).map(|i| payload(b * 100 + i)).collect();
        want.extend(batch.clone());
        log.append(&batch).wait().unwrap();
    }
    // Empty payloads and an empty batch are fine.
    log.append([b""]).wait().unwrap();
    want.push(Vec::new());
    log.append(Vec::<Vec<u8>>::new()).wait().unwrap();
    let st = log.stats();
    assert_eq!(st.records, want.len() as u64);
    assert_eq!(st.bytes, std::fs::metadata(log.path()).unwrap().len());
    assert_eq!(st.pending_records, 0);
    assert!(!st.failed);
    drop(log);
    let (log, rec) = open(&dir, "quota.log", Options::default()).unwrap();
    assert_eq!(rec.to_vecs(), want);
    assert_eq!(log.stats().records, want.len() as u64);
    drop(log);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn too_large_a_record_is_refused_and_nothing_of_its_batch_is_written() {
    let dir = temp_dir("large");
    let (log, _) = open(&dir, "l", Options::default()).unwrap();
    let big = vec![0u8; MAX_RECORD + 1];
    let r = log.append([&b"ok"[..], &big[..]]).wait();
    assert!(matches!(r, Err(LogError::TooLarge { .. })), "{r:?}");
    log.append([b"after"]).wait().unwrap();
    drop(log);
    let (_log, rec) = open(&dir, "l", Options::default()).unwrap();
    assert_eq!(rec.to_vecs(), vec![b"after".to_vec()]);
}

#[test]
fn group_commit_shares_fsyncs_and_tickets_complete_after_the_data_is_written() {
    let dir = temp_dir("group");
    let (log, _) = open(&dir, "quota.log", Options::default()).unwrap();
    let log = Arc::new(log);
    const THREADS: usize = 16;
    const EACH: usize = 100;
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..EACH {
                    let p = payload(t * 1000 + i);
                    log.append([&p]).wait().unwrap();
                    if i % 25 == 0 {
                        // Completed means written: a fresh read of the file has it.
                        let bytes = std::fs::read(log.path()).unwrap();
                        let s = scan(&bytes, HEADER_LEN);
                        assert!(s.records.iter().any(|r| bytes[r.clone()] == p[..]));
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let st = log.stats();
    let records = (THREADS * EACH) as u64;
    assert_eq!(st.records, records);
    assert!(st.fsyncs <= st.writes && st.fsyncs >= 1);
    assert!(st.fsyncs < records, "{st:?}");
    eprintln!("16 threads: {records} records, {} fsyncs", st.fsyncs);

    // Pipelined from one thread (tickets taken before any is waited on): the writer drains
    // what is pending at each pass, so far fewer syncs than records.
    let before = log.stats().fsyncs;
    let tickets: Vec<Ticket> = (0..1000)
        .map(|i| log.append([payload(100_000 + i)]))
        .collect();
    for t in tickets {
        t.wait().unwrap();
    }
    let syncs = log.stats().fsyncs - before;
    assert!(syncs < 500, "{syncs} fsyncs for 1000 pipelined records");
    drop(log);
    let (_log, rec) = open(&dir, "quota.log", Options::default()).unwrap();
    assert_eq!(rec.len(), THREADS * EACH + 1000);
    let mut all = rec.to_vecs();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), THREADS * EACH + 1000, "no duplicates");
}

#[test]
fn tickets_are_awaitable_from_tokio_tasks() {
    let dir = temp_dir("async");
    let (log, _) = open(&dir, "quota.log", Options::default()).unwrap();
    let log = Arc::new(log);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let log = log.clone();
                tokio::spawn(async move { log.append([payload(i)]).durable().await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    });
    assert_eq!(log.stats().records, 64);
}

#[test]
fn every_truncation_of_the_last_record_is_dropped_and_the_rest_kept() {
    let (dir, path, starts) = log_with("torn", 5);
    let whole = std::fs::read(&path).unwrap();
    let last = starts[4];
    for cut in last + 1..whole.len() {
        std::fs::write(&path, &whole[..cut]).unwrap();
        let (log, rec) = reopen(&dir, Recovery::Strict).unwrap();
        assert_eq!(
            rec.to_vecs(),
            (0..4).map(payload).collect::<Vec<_>>(),
            "cut {cut}"
        );
        let t = rec.truncated.clone().unwrap();
        assert_eq!((t.offset, t.corrupt), (last as u64, false), "cut {cut}");
        assert_eq!(t.bytes_dropped, (cut - last) as u64);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), last as u64);
        // The log goes on from there.
        log.append([payload(4)]).wait().unwrap();
        drop(log);
        assert_eq!(std::fs::read(&path).unwrap(), whole, "cut {cut}");
    }
    // A bad checksum on the last record, a zero-filled tail, and a tail of less than a
    // record header: each dropped.
    let mut bad_last = whole.clone();
    *bad_last.last_mut().unwrap() ^= 0x40;
    let mut zeros = whole.clone();
    zeros.extend_from_slice(&[0u8; 4096]);
    let mut short = whole.clone();
    short.extend_from_slice(&[1, 0, 0]);
    for (name, bytes, keep) in [
        ("bad crc", bad_last, 4),
        ("zeros", zeros, 5),
        ("short", short, 5),
    ] {
        std::fs::write(&path, &bytes).unwrap();
        let (_log, rec) = reopen(&dir, Recovery::Strict).unwrap();
        assert_eq!(rec.len(), keep, "{name}");
        assert!(rec.truncated.is_some(), "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_record_before_the_last_is_refused_with_its_offset() {
    let (dir, path, starts) = log_with("flip", 40);
    let whole = std::fs::read(&path).unwrap();
    let (mid, next) = (starts[20], starts[21]);
    for at in mid..next {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = whole.clone();
            bad[at] ^= flip;
            std::fs::write(&path, &bad).unwrap();
            let e = reopen(&dir, Recovery::Strict).unwrap_err();
            match &e {
                LogError::Corrupt {
                    path: p, offset, ..
                } => {
                    assert_eq!(
                        (p, *offset),
                        (&path, mid as u64),
                        "byte {at} ^ {flip:#x}: {e}"
                    );
                }
                other => panic!("byte {at} ^ {flip:#x}: {other}"),
            }
            let msg = e.to_string();
            assert!(
                msg.contains(&path.display().to_string()) && msg.contains(&format!("byte {mid}")),
                "{msg}"
            );
            // Refused means untouched.
            assert_eq!(std::fs::read(&path).unwrap(), bad);
        }
    }
    // The deliberate way out: truncate there.
    let mut bad = whole.clone();
    bad[mid + 9] ^= 0x01;
    std::fs::write(&path, &bad).unwrap();
    let (log, rec) = reopen(&dir, Recovery::TruncateCorrupt).unwrap();
    assert_eq!(rec.to_vecs(), (0..20).map(payload).collect::<Vec<_>>());
    let t = rec.truncated.clone().unwrap();
    assert!(t.corrupt && t.offset == mid as u64);
    assert_eq!(t.bytes_dropped, (whole.len() - mid) as u64);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), mid as u64);
    log.append([b"next"]).wait().unwrap();
    drop(log);
    let (_log, rec) = reopen(&dir, Recovery::Strict).unwrap();
    assert_eq!(rec.len(), 21);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn headers_bad_torn_and_foreign() {
    let dir = temp_dir("header");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("quota.log");
    // A header cut short while the file was being created: started afresh.
    for cut in 0..HEADER_LEN {
        std::fs::write(&path, &header()[..cut]).unwrap();
        let (log, rec) = reopen(&dir, Recovery::Strict).unwrap();
        assert!(rec.is_empty());
        drop(log);
        assert_eq!(std::fs::read(&path).unwrap(), header());
    }
    // Anything else that is not our header is refused and left alone.
    let mut v2 = header().to_vec();
    v2[8] = 2;
    for bytes in [
        b"*3\r\n$3\r\nSET\r\n".to_vec(),
        b"TGAPPLOG\x02".to_vec(),
        v2,
    ] {
        std::fs::write(&path, &bytes).unwrap();
        let e = reopen(&dir, Recovery::TruncateCorrupt).unwrap_err();
        assert!(matches!(e, LogError::BadHeader { .. }), "{e}");
        assert!(e.to_string().contains("quota.log"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_data_directory_is_locked_while_a_log_is_open() {
    let dir = temp_dir("lock").join("data");
    let (log, _) = open(&dir, "a.log", Options::default()).unwrap();
    assert!(dir.join(LOCK_FILE).exists());
    // Another log (another file) in the same directory: refused, naming the directory.
    let e = open(&dir, "b.log", Options::default()).unwrap_err();
    assert!(
        matches!(&e, LogError::Locked { dir: d } if *d == dir),
        "{e}"
    );
    assert!(e.to_string().contains(&dir.display().to_string()), "{e}");
    drop(log);
    let (_log, _) = open(&dir, "a.log", Options::default()).unwrap();
}

#[test]
fn everysec_and_no_complete_after_the_write_and_sync_later_or_never() {
    let dir = temp_dir("policies");
    let (log, _) = open(&dir, "quota.log", opts(FsyncPolicy::No)).unwrap();
    for i in 0..50 {
        log.append([payload(i)]).wait().unwrap();
    }
    let st = log.stats();
    assert_eq!((st.records, st.fsyncs, st.policy), (50, 0, FsyncPolicy::No));

    let started = Instant::now();
    log.set_policy(FsyncPolicy::EverySec);
    for i in 0..50 {
        log.append([payload(i)]).wait().unwrap();
    }
    // Dirty data gets synced within about a second without any further append.
    let mut waited = 0;
    while log.stats().fsyncs == 0 && waited < 100 {
        std::thread::sleep(Duration::from_millis(50));
        waited += 1;
    }
    let st = log.stats();
    assert!(st.fsyncs >= 1, "{st:?}");
    // At most one sync per second (plus the first).
    assert!(st.fsyncs <= 2 + started.elapsed().as_secs(), "{st:?}");

    log.set_policy(FsyncPolicy::Always);
    let before = log.stats().fsyncs;
    log.append([b"now"]).wait().unwrap();
    assert_eq!(log.stats().fsyncs, before + 1);
    drop(log);
    let (_log, rec) = open(&dir, "quota.log", Options::default()).unwrap();
    assert_eq!(rec.len(), 101);
}

#[test]
fn a_failed_write_fails_its_tickets_and_every_later_append() {
    let dir = temp_dir("fail");
    let (log, _) = open(&dir, "quota.log", Options::default()).unwrap();
    log.append([b"one", b"two"]).wait().unwrap();
    log.fail_next_write();
    let e = log.append([b"lost"]).wait().unwrap_err();
    assert!(
        matches!(&e, LogError::Failed { reason, .. } if reason.contains("injected")),
        "{e}"
    );
    assert!(e.to_string().contains("quota.log"), "{e}");
    let st = log.stats();
    assert!(st.failed && st.records == 2, "{st:?}");
    // No write after a failure, even if the disk is fine again.
    let t = log.append([b"later"]);
    assert!(matches!(t.poll(), Some(Err(LogError::Failed { .. }))));
    assert!(log.close().is_err());
    let (_log, rec) = open(&dir, "quota.log", Options::default()).unwrap();
    assert_eq!(rec.to_vecs(), vec![b"one".to_vec(), b"two".to_vec()]);
}

#[test]
fn a_waiting_async_ticket_gets_the_failure() {
    let dir = temp_dir("fail-async");
    let (log, _) = open(&dir, "quota.log", Options::default()).unwrap();
    log.fail_next_write();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let r = rt.block_on(log.append([b"x"]).durable());
    assert!(matches!(r, Err(LogError::Failed { .. })), "{r:?}");
}

#[test]
fn a_rewrite_replaces_the_log_with_the_snapshot_and_what_came_after() {
    let dir = temp_dir("rewrite");
    let (log, _) = open(&dir, "quota.log", Options::default()).unwrap();
    log.append((0..10).map(payload)).wait().unwrap();
    let rw = log.begin_rewrite().unwrap();
    assert!(matches!(
        log.begin_rewrite(),
        Err(LogError::RewriteInProgress)
    ));
    assert!(log.stats().rewrite_in_progress);
    log.append([b"during-1"]).wait().unwrap();
    log.append([b"during-2", b"during-3"]).wait().unwrap();
    let st = rw.commit([b"snapshot-a", b"snapshot-b"]).unwrap();
    assert_eq!((st.snapshot_records, st.tail_records), (2, 3));
    log.append([b"after"]).wait().unwrap();
    let stats = log.stats();
    assert_eq!((stats.records, stats.rewrites), (6, 1));
    assert!(!stats.rewrite_in_progress);
    assert_eq!(stats.bytes, std::fs::metadata(log.path()).unwrap().len());
    drop(log);
    // No temporary file left behind.
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["quota.log", LOCK_FILE]);
    let (log, rec) = open(&dir, "quota.log", Options::default()).unwrap();
    let want: Vec<&[u8]> = vec![
        b"snapshot-a",
        b"snapshot-b",
        b"during-1",
        b"during-2",
        b"during-3",
        b"after",
    ];
    assert_eq!(rec.iter().collect::<Vec<_>>(), want);

    // Abandoned: the log goes on as it was.
    let rw = log.begin_rewrite().unwrap();
    log.append([b"x"]).wait().unwrap();
    drop(rw);
    assert!(!log.stats().rewrite_in_progress);
    log.append([b"y"]).wait().unwrap();
    drop(log);
    let (_log, rec) = open(&dir, "quota.log", Options::default()).unwrap();
    assert_eq!(rec.len(), 8);
}

#[test]
fn appends_racing_a_rewrite_all_land_in_the_new_log() {
    let dir = temp_dir("rewrite-race");
    let (log, _) = open(&dir, "quota.log", Options::default()).unwrap();
    let log = Arc::new(log);
    log.append([b"old"]).wait().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (log, stop) = (log.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) && i < 100_000 {
                    let p = format!("t{t}-{i}").into_bytes();
                    log.append([&p]).wait().unwrap();
                    acked.push(p);
                    i += 1;
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(30));
    let rw = log.begin_rewrite().unwrap();
    std::thread::sleep(Duration::from_millis(30));
    rw.commit([b"snap"]).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<Vec<Vec<u8>>> = writers.into_iter().map(|h| h.join().unwrap()).collect();
    let log = Arc::into_inner(log).unwrap();
    drop(log);
    let (_log, rec) = open(&dir, "quota.log", Options::default()).unwrap();
    let got = rec.to_vecs();
    assert_eq!(got[0], b"snap");
    let mut seen = std::collections::HashSet::new();
    for p in &got[1..] {
        assert!(
            seen.insert(p.clone()),
            "duplicate {:?}",
            String::from_utf8_lossy(p)
        );
    }
    // Per thread, what was appended before `begin_rewrite` is covered by the snapshot (here:
    // gone) and everything after it is in the new log: missing ones are a prefix.
    let mut after_cut = 0;
    for acked in &acked {
        let first = acked
            .iter()
            .position(|p| seen.contains(p))
            .unwrap_or(acked.len());
        assert!(acked[first..].iter().all(|p| seen.contains(p)));
        after_cut += acked.len() - first;
    }
    assert_eq!(after_cut, got.len() - 1);
    assert!(after_cut > 0);
}

#[test]
fn scan_never_reads_past_the_end_on_hostile_lengths() {
    let mut f = header().to_vec();
    f.extend_from_slice(&u32::MAX.to_le_bytes());
    f.extend_from_slice(&[1, 2, 3, 4, 5]);
    assert!(matches!(scan(&f, HEADER_LEN).tail, Tail::Corrupt { .. }));
    let mut f = header().to_vec();
    f.extend_from_slice(&1000u32.to_le_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 9]);
    assert_eq!(
        scan(&f, HEADER_LEN).tail,
        Tail::Torn {
            offset: HEADER_LEN,
            reason: "the file ends inside a record"
        }
    );
    assert_eq!(scan(&[], 100).tail, Tail::Clean);
}

#[test]
fn a_rewrite_committed_after_the_log_closed_fails_instead_of_hanging() {
    let dir = temp_dir("rewrite-closed");
    let (log, _) = open(&dir, "quota.log", Options::default()).unwrap();
    log.append([b"kept"]).wait().unwrap();
    let rw = log.begin_rewrite().unwrap();
    drop(log);
    assert!(matches!(rw.commit([b"snap"]), Err(LogError::Closed)));
    let (_log, rec) = open(&dir, "quota.log", Options::default()).unwrap();
    assert_eq!(rec.to_vecs(), vec![b"kept".to_vec()]);
    assert!(!dir.join("quota.log.rewrite.tmp").exists());
}
