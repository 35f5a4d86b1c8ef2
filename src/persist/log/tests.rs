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

/// What a test's open recovered: the payloads the callback got, and the report.
#[derive(Debug)]
struct Recovered {
    payloads: Vec<Vec<u8>>,
    truncated: Option<Truncation>,
    report: RecoveryReport,
}

impl Recovered {
    fn len(&self) -> usize {
        self.payloads.len()
    }

    fn is_empty(&self) -> bool {
        self.payloads.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.payloads.iter().map(Vec::as_slice)
    }

    fn to_vecs(&self) -> Vec<Vec<u8>> {
        self.payloads.clone()
    }
}

/// The log's `open` with a callback that collects the payloads (shadows `super::open` here).
fn open(dir: &Path, file: &str, opts: Options) -> Result<(Log, Recovered), LogError> {
    open_with_chunk(dir, file, opts, RECOVERY_CHUNK)
}

fn open_with_chunk(
    dir: &Path,
    file: &str,
    opts: Options,
    chunk: usize,
) -> Result<(Log, Recovered), LogError> {
    let mut payloads = Vec::new();
    let (log, report) = open_chunked(dir, file, opts, chunk, &mut |p| {
        payloads.push(p.to_vec());
        Ok(())
    })?;
    assert_eq!(report.records, payloads.len() as u64);
    let rec = Recovered {
        payloads,
        truncated: report.truncated.clone(),
        report,
    };
    Ok((log, rec))
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
    // A group cut short by a power loss: its first record's header reached the disk, the
    // end of its payload and the records after it did not (the file grew; zeros remain).
    let mut cut_group = whole[..starts[3]].to_vec();
    let rec3 = &whole[starts[3]..starts[4]];
    cut_group.extend_from_slice(&rec3[..RECORD_HEADER_LEN + 1]);
    cut_group.resize(whole.len() + 4096, 0);
    for (name, bytes, keep) in [
        ("bad crc", bad_last, 4),
        ("zeros", zeros, 5),
        ("short", short, 5),
        ("group cut short", cut_group, 3),
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

// ---------------------------------------------------------------------------------------
// The streaming reader against `scan`, at every chunk size

/// The chunk sizes recovery is checked at: one byte, an odd size smaller than a record
/// header, a page (records straddle it), and the default.
const CHUNKS: [usize; 4] = [1, 7, 4096, RECOVERY_CHUNK];

/// `read_records` over bytes in memory: the payloads it handed over and what it returned.
fn stream(file: &[u8], start: usize, chunk: usize) -> (Vec<Vec<u8>>, Result<Streamed, String>) {
    let mut got = Vec::new();
    let r = read_records(
        &mut &file[start.min(file.len())..],
        file.len() as u64,
        start as u64,
        chunk,
        &mut |p| {
            got.push(p.to_vec());
            Ok(())
        },
    )
    .map_err(|e| format!("{e:?}"));
    (got, r)
}

/// What `scan` says, in the streaming reader's terms.
fn reference(file: &[u8], start: usize) -> (Vec<Vec<u8>>, Streamed) {
    let s = scan(file, start);
    let payloads = s.records.iter().map(|r| file[r.clone()].to_vec()).collect();
    let streamed = Streamed {
        records: s.records.len() as u64,
        end: s.end as u64,
        tail: s.tail,
    };
    (payloads, streamed)
}

/// A log file of `payloads`, then damaged: `damage` picks how (nothing, cut, a flipped bit,
/// zeros, garbage, a cut after a flip, zeros before a non-zero byte, a bad last record
/// before zeros), `pos` where, `bit` which.
fn damaged_file(payloads: &[Vec<u8>], damage: u8, pos: u64, bit: u8, extra: &[u8]) -> Vec<u8> {
    let mut file = header().to_vec();
    for p in payloads {
        put_record(&mut file, p);
    }
    let body = file.len() - HEADER_LEN;
    let at = HEADER_LEN
        + if body == 0 {
            0
        } else {
            (pos % body as u64) as usize
        };
    match damage {
        1 => file.truncate(at.max(HEADER_LEN)),
        2 if at < file.len() => file[at] ^= 1 << (bit % 8),
        3 => file.extend(std::iter::repeat_n(0u8, extra.len())),
        4 => file.extend_from_slice(extra),
        5 if at < file.len() => {
            file[at] ^= 1 << (bit % 8);
            let cut = file.len() - (pos % 13) as usize;
            file.truncate(cut.max(HEADER_LEN));
        }
        // Zeros, then one byte that is not: the zero run reads as a record whose checksum
        // fails, followed by more than zeros.
        6 => {
            file.extend(std::iter::repeat_n(0u8, extra.len()));
            file.push(1 + bit % 255);
        }
        // A bad checksum on the last record, then zeros.
        7 if file.len() > HEADER_LEN => {
            *file.last_mut().unwrap() ^= 1 << (bit % 8);
            file.extend(std::iter::repeat_n(0u8, extra.len()));
        }
        _ => {}
    }
    file
}

fn arb_log() -> impl Strategy<Value = Vec<u8>> {
    let payload = prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..40),
        4 => proptest::collection::vec(any::<u8>(), 40..300),
        1 => proptest::collection::vec(any::<u8>(), 4000..9000),
    ];
    (
        proptest::collection::vec(payload, 0..16),
        0u8..8,
        any::<u64>(),
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..30),
    )
        .prop_map(|(payloads, damage, pos, bit, extra)| {
            damaged_file(&payloads, damage, pos, bit, &extra)
        })
}

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The streaming reader hands over exactly the records `scan` finds, ends where it ends
    /// and reads the tail the same way, whatever the chunk size; a callback's refusal stops
    /// it at that record's offset.
    #[test]
    fn streaming_matches_scan_at_every_chunk_size(file in arb_log(), refuse in any::<usize>()) {
        let (want, want_streamed) = reference(&file, HEADER_LEN);
        for chunk in CHUNKS {
            let (got, r) = stream(&file, HEADER_LEN, chunk);
            prop_assert_eq!(&got, &want, "chunk {}", chunk);
            prop_assert_eq!(r, Ok(want_streamed.clone()), "chunk {}", chunk);
        }
        // Refusing the k-th good record: stopped there, at its offset, after k records.
        if !want.is_empty() {
            let k = refuse % want.len();
            let starts = scan(&file, HEADER_LEN).records;
            for chunk in CHUNKS {
                let mut seen = 0;
                let r = read_records(&mut &file[HEADER_LEN..], file.len() as u64, HEADER_LEN as u64, chunk, &mut |_| {
                    if seen == k {
                        return Err(format!("no to record {k}"));
                    }
                    seen += 1;
                    Ok(())
                });
                match r {
                    Err(StreamError::Replay { offset, reason }) => {
                        prop_assert_eq!(offset as usize, starts[k].start - RECORD_HEADER_LEN);
                        prop_assert_eq!(reason, format!("no to record {k}"));
                        prop_assert_eq!(seen, k);
                    }
                    other => prop_assert!(false, "chunk {chunk}: {other:?}"),
                }
            }
        }
    }
}

/// What an `open` did, comparable across chunk sizes: the records, the truncation and the
/// log's length, or the error.
type Outcome = Result<(Vec<Vec<u8>>, Option<Truncation>, u64), String>;

/// Opens a log of `bytes`: what it did, and the file's bytes afterwards.
fn open_outcome(dir: &Path, bytes: &[u8], recovery: Recovery, chunk: usize) -> (Outcome, Vec<u8>) {
    let path = dir.join("quota.log");
    std::fs::write(&path, bytes).unwrap();
    let opts = Options {
        policy: FsyncPolicy::Always,
        recovery,
    };
    let r = open_with_chunk(dir, "quota.log", opts, chunk).map(|(log, rec)| {
        assert_eq!(log.stats().bytes, rec.report.bytes);
        assert_eq!(log.stats().records, rec.report.records);
        (rec.payloads, rec.truncated, rec.report.bytes)
    });
    let r = r.map_err(|e| e.to_string());
    (r, std::fs::read(&path).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Through `open` on a real file: the same records, truncation or refusal (and the same
    /// file afterwards) at every chunk size, in both recovery modes, and what `scan` says.
    #[test]
    fn open_gives_the_same_verdict_at_every_chunk_size(file in arb_log()) {
        let dir = temp_dir("prop-open");
        std::fs::create_dir_all(&dir).unwrap();
        let (want, s) = reference(&file, HEADER_LEN);
        for recovery in [Recovery::Strict, Recovery::TruncateCorrupt] {
            let first = open_outcome(&dir, &file, recovery, RECOVERY_CHUNK);
            match (&first.0, &s.tail) {
                (Ok((got, None, bytes)), Tail::Clean) => {
                    prop_assert_eq!(got, &want);
                    prop_assert_eq!(*bytes, file.len() as u64);
                }
                (Ok((got, Some(t), bytes)), Tail::Torn { offset, .. } | Tail::Corrupt { offset, .. }) => {
                    prop_assert_eq!(got, &want);
                    prop_assert_eq!(t.offset, *offset as u64);
                    prop_assert_eq!(*bytes, *offset as u64);
                    prop_assert_eq!(t.corrupt, matches!(s.tail, Tail::Corrupt { .. }));
                    prop_assert_eq!(&first.1[..], &file[..*offset]);
                }
                (Err(e), Tail::Corrupt { offset, reason }) => {
                    prop_assert_eq!(recovery, Recovery::Strict);
                    prop_assert!(e.contains(&format!("at byte {offset}: {reason}")), "{}", e);
                    prop_assert_eq!(&first.1, &file);
                }
                other => prop_assert!(false, "{other:?} for {:?}", s.tail),
            }
            for chunk in [1, 7, 4096] {
                prop_assert_eq!(&open_outcome(&dir, &file, recovery, chunk), &first, "chunk {}", chunk);
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_record_the_callback_refuses_stops_recovery_naming_the_file_and_offset() {
    let (dir, path, starts) = log_with("replay", 10);
    let mut bytes = std::fs::read(&path).unwrap();
    // A torn tail after it too: refusing comes first, and nothing is truncated.
    bytes.extend_from_slice(&[5, 0, 0, 0, 1, 2]);
    for chunk in CHUNKS {
        std::fs::write(&path, &bytes).unwrap();
        let mut calls = Vec::new();
        let r = open_chunked(&dir, "quota.log", Options::default(), chunk, &mut |p| {
            calls.push(p.to_vec());
            if calls.len() == 4 {
                return Err("the payload does not decode".into());
            }
            Ok(())
        });
        let e = r.unwrap_err();
        match &e {
            LogError::Replay {
                path: p,
                offset,
                reason,
            } => {
                assert_eq!((p, *offset), (&path, starts[3] as u64), "chunk {chunk}");
                assert_eq!(reason, "the payload does not decode");
            }
            other => panic!("chunk {chunk}: {other}"),
        }
        let msg = e.to_string();
        assert!(
            msg.contains(&path.display().to_string())
                && msg.contains(&format!("byte {}", starts[3]))
                && msg.contains("the payload does not decode"),
            "{msg}"
        );
        assert_eq!(calls, (0..4).map(payload).collect::<Vec<_>>());
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "left as it was");
    }
    // The lock was released: accepting every record, it opens (and drops the torn tail).
    let (_log, rec) = reopen(&dir, Recovery::Strict).unwrap();
    assert_eq!(rec.len(), 10);
    assert!(rec.truncated.is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_report_counts_records_bytes_and_time() {
    let (dir, path, _) = log_with("report", 25);
    let (log, rec) = reopen(&dir, Recovery::Strict).unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    assert_eq!((rec.report.records, rec.report.bytes), (25, len));
    assert!(rec.report.truncated.is_none());
    assert_eq!(log.stats().bytes, len);
    drop(log);
    // A missing file is created: the header only.
    let dir2 = temp_dir("report-new");
    let (_log, rec) = open(&dir2, "quota.log", Options::default()).unwrap();
    assert_eq!(
        (rec.report.records, rec.report.bytes),
        (0, HEADER_LEN as u64)
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&dir2);
}

#[test]
fn a_record_far_larger_than_the_chunk_is_read_whole() {
    let dir = temp_dir("big");
    let (log, _) = open(&dir, "quota.log", Options::default()).unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    log.append([&b"small"[..], &big[..], &b"after"[..]])
        .wait()
        .unwrap();
    drop(log);
    for chunk in [1000, 4096, RECOVERY_CHUNK] {
        let (log, rec) = open_with_chunk(&dir, "quota.log", Options::default(), chunk).unwrap();
        assert_eq!(
            rec.to_vecs(),
            vec![b"small".to_vec(), big.clone(), b"after".to_vec()]
        );
        drop(log);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flush_under_everysec_and_no_writes_on_the_callers_thread() {
    for policy in [FsyncPolicy::EverySec, FsyncPolicy::No] {
        let dir = temp_dir("flush");
        let (log, _) = open(&dir, "quota.log", opts(policy)).unwrap();
        // Nothing pending: the ticket is for what was appended before (nothing).
        assert!(log.flush().wait().is_ok());
        drop(log.append([payload(0), payload(1)]));
        let t = log.flush();
        // Written by the call itself: known at once, no writer involved.
        assert!(matches!(t.poll(), Some(Ok(()))), "{policy:?}");
        let st = log.stats();
        assert_eq!((st.records, st.pending_records), (2, 0), "{policy:?}");
        let len = std::fs::metadata(log.path()).unwrap().len() as usize;
        assert_eq!(
            len,
            HEADER_LEN + 2 * RECORD_HEADER_LEN + payload(0).len() + payload(1).len()
        );
        // Appends and flushes from many threads: every record once, in a valid file.
        std::thread::scope(|sc| {
            for t in 0..4 {
                let log = &log;
                sc.spawn(move || {
                    for i in 0..200 {
                        drop(log.append([payload(t * 1000 + i)]));
                        log.flush().wait().unwrap();
                    }
                });
            }
        });
        log.close().unwrap();
        let (_log, rec) = reopen(&dir, Recovery::Strict).unwrap();
        assert_eq!(rec.len(), 802, "{policy:?}");
        assert!(rec.truncated.is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn detached_appends_are_written_by_the_next_flush_and_kept_by_a_rewrite() {
    for policy in [FsyncPolicy::Always, FsyncPolicy::EverySec] {
        let dir = temp_dir("detached");
        let (log, _) = open(&dir, "quota.log", opts(policy)).unwrap();
        log.append_detached(&payload(0));
        log.flush().wait().unwrap();
        assert_eq!(log.stats().records, 1, "{policy:?}");
        // Appended while a rewrite runs: in the new file after the snapshot.
        let rw = log.begin_rewrite().unwrap();
        log.append_detached(&payload(1));
        log.flush().wait().unwrap();
        rw.commit([b"snapshot"]).unwrap();
        log.append_detached(&payload(2));
        log.flush().wait().unwrap();
        log.close().unwrap();
        let (_log, rec) = reopen(&dir, Recovery::Strict).unwrap();
        assert_eq!(
            rec.to_vecs(),
            vec![b"snapshot".to_vec(), payload(1), payload(2)],
            "{policy:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
