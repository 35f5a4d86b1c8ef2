//! The quota journal: quota state made durable between snapshots through the append-only
//! log ([`super::log`]), and rebuilt at start from the snapshot plus the log.
//!
//! What is recorded (formats in `crate::quota::mutation`): every QUOTA.* mutation that
//! changed a subject, as the operation itself with the server time it ran at and the plan it
//! ran under (a replay runs the same code on the same inputs); every keyspace-level change of
//! a quota key (DEL, FLUSHDB, an overwrite, RENAME, a TTL, …) as a drop or a whole stored
//! state, told by the keyspace (`store::Journal`); and the plans (the catalog), at the start
//! of each process's records and of each compacted log, so that a replay runs on the plans
//! the operations ran on even if the config file changed before the restart.
//!
//! Records are appended under the lock of the subject's shard, so for one key they are in the
//! order of the changes. A snapshot tags each shard with a new generation (epoch) as it copies
//! it, under the same lock: a record tagged with an older generation than the snapshot's is
//! already in it, and the replay skips it; the others are applied on top. Every snapshot
//! compacts the log: the rewrite starts before the generation changes, so the new log holds
//! every record of the new generation (see `persist::save_now`). A crash at any point of a
//! save leaves an old snapshot with a log holding everything after it, or the new one with
//! a log holding everything after it. After the replay the generation is raised to the
//! newest a record has (a failed save leaves records newer than the snapshot on disk), so
//! the next snapshot is newer than every record in the log.
//!
//! Durability: a connection whose batch appended records waits for the log to make them
//! durable (per `appendfsync`) before its replies are written ([`take_appended`],
//! [`QuotaJournal::barrier`]), so an acknowledged quota mutation survives `kill -9`; the log
//! commits the records of every connection together (one write, one fsync).

use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use super::log::{
    self, FsyncPolicy, Log, LogError, LogStats, Options, Rewrite, RewriteStats, Ticket,
};
use crate::quota::mutation::{self, Head, Record};
use crate::quota::{Catalog, SubjectState};
use crate::store::entry::{Object, QuotaValue, ValueRef};
use crate::store::{Entry, Keyspace, Shard};

/// The log's options from `[persist]`.
pub fn options(cfg: &crate::config::PersistConfig) -> Options {
    Options {
        policy: policy(cfg.appendfsync),
        recovery: if cfg.truncate_corrupt_log {
            log::Recovery::TruncateCorrupt
        } else {
            log::Recovery::Strict
        },
    }
}

/// The log's policy for `appendfsync`.
pub fn policy(p: crate::config::FsyncPolicy) -> FsyncPolicy {
    match p {
        crate::config::FsyncPolicy::Always => FsyncPolicy::Always,
        crate::config::FsyncPolicy::EverySec => FsyncPolicy::EverySec,
        crate::config::FsyncPolicy::No => FsyncPolicy::No,
    }
}

/// How often a long replay logs its progress.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

thread_local! {
    /// Set when this thread appended a record since the last [`take_appended`].
    static APPENDED: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread appended journal records since the last call (a connection asks after
/// executing a batch, which runs on one thread without yielding).
pub fn take_appended() -> bool {
    APPENDED.with(|a| a.replace(false))
}

/// The journal of one server: the log and the catalog record of this process.
pub struct QuotaJournal {
    log: Log,
    catalog_record: Vec<u8>,
    /// How the last compaction went (INFO `aof_last_bgrewrite_status`, ...).
    rewrite_ok: AtomicBool,
    rewrite_failures: AtomicU64,
    /// Seconds the last compaction took, -1 before the first.
    last_rewrite_secs: AtomicI64,
    /// The log's size after the last compaction (or at start): INFO `aof_base_size`.
    base_size: AtomicU64,
}

impl std::fmt::Debug for QuotaJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotaJournal")
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

/// What the replay at start did.
#[derive(Debug, Clone, Default)]
pub struct Replayed {
    pub records: u64,
    /// Records already in the snapshot (an older generation).
    pub skipped: u64,
    /// Operations that failed on replay (logged; the state goes on without them).
    pub failed: u64,
    pub bytes: u64,
    pub truncated: Option<log::Truncation>,
    pub elapsed_ms: u64,
}

impl QuotaJournal {
    /// Opens the log `file` in `dir` (locking the directory), replays it into `ks` (whose
    /// snapshot, of generation `snapshot_epoch`, is loaded already) and records `catalog`.
    pub fn open(
        dir: &Path,
        file: &str,
        opts: Options,
        ks: &Keyspace,
        snapshot_epoch: u64,
        catalog: &Catalog,
    ) -> Result<(QuotaJournal, Replayed), LogError> {
        let started = Instant::now();
        let mut replayer = Replayer {
            ks,
            snapshot_epoch,
            max_epoch: 0,
            catalog: None,
            current: catalog,
            stats: Replayed::default(),
        };
        // Records are applied as the log streams them; a record that cannot be applied stops
        // the start (`LogError::Replay`, naming the file and its offset).
        // A big log takes a while: say how far the replay is every few seconds.
        let mut next_report = Instant::now() + PROGRESS_EVERY;
        let (log, report) = log::open(dir, file, opts, &mut |payload| {
            replayer.apply(payload)?;
            replayer.stats.bytes += payload.len() as u64;
            if replayer.stats.records % 4096 == 0 && Instant::now() >= next_report {
                next_report = Instant::now() + PROGRESS_EVERY;
                tracing::info!(
                    records = replayer.stats.records,
                    mb = replayer.stats.bytes >> 20,
                    seconds = started.elapsed().as_secs(),
                    "replaying the quota log"
                );
            }
            Ok(())
        })?;
        // The next snapshot's generation must be above every record's in the log. A save
        // that failed after tagging shards leaves records of a generation newer than the
        // snapshot on disk: were the next snapshot given that same generation, and the log
        // not compacted by it (a failed rewrite, a crash between the two renames), they
        // would be replayed again on a snapshot that holds them.
        if replayer.max_epoch > snapshot_epoch {
            ks.set_epoch(replayer.max_epoch);
        }
        let mut stats = replayer.stats;
        stats.truncated = report.truncated;
        schedule_all(ks);
        let catalog_bytes = catalog.encode().map_err(|reason| LogError::Replay {
            path: log.path().to_path_buf(),
            offset: report.bytes,
            reason,
        })?;
        let catalog_record = mutation::encode_catalog(&catalog_bytes);
        let base = log.stats().bytes;
        let journal = QuotaJournal {
            log,
            catalog_record,
            rewrite_ok: AtomicBool::new(true),
            rewrite_failures: AtomicU64::new(0),
            last_rewrite_secs: AtomicI64::new(-1),
            base_size: AtomicU64::new(base),
        };
        // The plans the records after it run on.
        let _ = journal.log.append([&journal.catalog_record]);
        stats.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok((journal, stats))
    }

    /// Appends one record (under the lock of its key's shard).
    pub fn append(&self, record: &[u8]) {
        // No ticket: the connection waits on a barrier after its batch.
        self.log.append_detached(record);
        APPENDED.with(|a| a.set(true));
    }

    /// A ticket that completes once everything appended so far is durable (under
    /// `everysec` and `no`, written by the caller at once: see `Log::flush`).
    pub fn barrier(&self) -> Ticket {
        self.log.flush()
    }

    /// Why the log takes no more records, if it failed.
    pub fn failed(&self) -> bool {
        // One atomic load: every quota mutation asks (`stats` would take the pending lock).
        self.log.failed()
    }

    pub fn stats(&self) -> LogStats {
        self.log.stats()
    }

    pub fn path(&self) -> &Path {
        self.log.path()
    }

    /// (current size, size after the last compaction or at start), bytes.
    pub fn sizes(&self) -> (u64, u64) {
        (
            self.log.stats().bytes,
            self.base_size.load(Ordering::Relaxed),
        )
    }

    pub fn set_policy(&self, policy: FsyncPolicy) {
        self.log.set_policy(policy);
    }

    pub fn begin_rewrite(&self) -> Result<Rewrite, LogError> {
        self.log.begin_rewrite()
    }

    /// Finishes a compaction: the new log starts with the catalog, then what was appended
    /// since `begin_rewrite`.
    pub fn commit_rewrite(&self, rw: Rewrite) -> Result<RewriteStats, LogError> {
        let result = rw.commit([&self.catalog_record]);
        match &result {
            Ok(st) => {
                self.rewrite_ok.store(true, Ordering::Relaxed);
                self.rewrite_failures.store(0, Ordering::Relaxed);
                self.last_rewrite_secs
                    .store(st.elapsed.as_secs() as i64, Ordering::Relaxed);
                self.base_size.store(st.bytes, Ordering::Relaxed);
            }
            Err(_) => {
                self.rewrite_ok.store(false, Ordering::Relaxed);
                self.rewrite_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        result
    }

    /// The fields at the end of INFO persistence: those Redis adds when its AOF is on, where
    /// they apply, then tollgate's own.
    pub fn info_tail(&self) -> String {
        let st = self.log.stats();
        let policy = match st.policy {
            FsyncPolicy::Always => "always",
            FsyncPolicy::EverySec => "everysec",
            FsyncPolicy::No => "no",
        };
        format!(
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:0\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\nquota_log_path:{}\r\nquota_log_fsync:{policy}\r\nquota_log_records:{}\r\nquota_log_writes:{}\r\nquota_log_fsyncs:{}\r\nquota_log_last_fsync_us:{}\r\n",
            st.bytes,
            self.base_size.load(Ordering::Relaxed),
            st.pending_bytes,
            self.log.path().display(),
            st.records,
            st.writes,
            st.fsyncs,
            st.last_fsync_us,
        )
    }

    /// The `aof_*` fields of INFO persistence that describe the log, in Redis's place for
    /// them (the quota log is tollgate's append-only file; `aof_enabled` stays 0 as plain
    /// keys are not in it).
    pub fn info(&self) -> String {
        let st = self.log.stats();
        format!(
            "aof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\n",
            u8::from(st.rewrite_in_progress),
            self.last_rewrite_secs.load(Ordering::Relaxed),
            if self.rewrite_ok.load(Ordering::Relaxed) { "ok" } else { "err" },
            st.rewrites,
            self.rewrite_failures.load(Ordering::Relaxed),
            if st.failed { "err" } else { "ok" },
        )
    }
}

impl crate::store::Journal for QuotaJournal {
    fn dropped(&self, db: usize, epoch: u64, key: &[u8]) {
        self.append(&mutation::encode_drop(&Head { epoch, db, key }));
    }

    fn stored(&self, db: usize, epoch: u64, entry: &Entry) {
        if let ValueRef::Obj(Object::Quota(q)) = entry.value() {
            let head = Head {
                epoch,
                db,
                key: entry.key(),
            };
            self.append(&mutation::encode_store(&head, entry.deadline(), &q.state));
        }
    }
}

struct Replayer<'a> {
    ks: &'a Keyspace,
    snapshot_epoch: u64,
    /// The newest generation a record is tagged with.
    max_epoch: u64,
    /// The catalog of the records being replayed (from the last catalog record).
    catalog: Option<Catalog>,
    /// This process's, for records before any catalog record.
    current: &'a Catalog,
    stats: Replayed,
}

impl Replayer<'_> {
    fn apply(&mut self, payload: &[u8]) -> Result<(), String> {
        self.stats.records += 1;
        let record = mutation::decode_record(payload).map_err(|e| format!("bad record: {e}"))?;
        let head = match &record {
            Record::Catalog(bytes) => {
                self.catalog = Some(Catalog::decode(bytes)?);
                return Ok(());
            }
            Record::Op { head, .. } | Record::Drop(head) | Record::Store { head, .. } => *head,
        };
        self.max_epoch = self.max_epoch.max(head.epoch);
        if head.epoch < self.snapshot_epoch {
            self.stats.skipped += 1;
            return Ok(());
        }
        if head.db >= self.ks.databases() {
            return Err(format!(
                "a quota record of database {} but the server has {} databases (raise \
                 `databases`)",
                head.db,
                self.ks.databases()
            ));
        }
        let mut shard = self.ks.shard(head.db, head.key);
        match record {
            Record::Catalog(_) => {}
            Record::Drop(h) => {
                shard.write_owned(h.key, 0, |slot| {
                    if matches!(slot.object_mut(), Ok(Some(Object::Quota(_)))) {
                        slot.delete();
                    }
                });
            }
            Record::Store {
                head: h,
                deadline,
                state,
            } => {
                let state = crate::quota::decode(state).map_err(|e| format!("bad state: {e}"))?;
                put_quota(&mut shard, h.key, state, deadline);
            }
            Record::Op {
                head: h,
                now,
                plan,
                mutation,
            } => {
                let catalog = self.catalog.as_ref().unwrap_or(self.current);
                // Looked up at the operation's own time: a key whose TTL had passed was
                // dropped by the command's lookup (lazy expiry, not journaled as the command
                // owns the write) and the operation ran on a fresh subject; so does the
                // replay. At time 0 it would run on the expired state and keep its deadline.
                let failed = shard.write_owned(h.key, now, |slot| {
                    let mut fresh = None;
                    let state = match slot.object_mut() {
                        Ok(Some(Object::Quota(q))) => &mut q.state,
                        // The log is newer than the snapshot: a plain value the snapshot
                        // holds under this key was replaced since.
                        _ => fresh.insert(SubjectState::new()),
                    };
                    let result = catalog
                        .resolve(Some(&plan), None)
                        .and_then(|(_, p)| mutation.apply(state, &catalog.params(p), now));
                    if let Some(state) = fresh {
                        slot.put_object(quota_object(state, None), None);
                    }
                    result.err()
                });
                if let Some(e) = failed {
                    self.stats.failed += 1;
                    if self.stats.failed <= 10 {
                        tracing::warn!(key = %String::from_utf8_lossy(h.key), error = %e, "a quota operation failed on replay");
                    }
                }
            }
        }
        Ok(())
    }
}

/// A quota value for `state` whose next deadline is `timer` (the shard schedules it as the
/// value is stored).
pub fn quota_object(state: SubjectState, timer: Option<u64>) -> Object {
    Object::Quota(Box::new(QuotaValue { state, timer }))
}

fn put_quota(shard: &mut Shard, key: &[u8], state: SubjectState, deadline: Option<u64>) {
    shard.write_owned(key, 0, |slot| {
        slot.put_object(quota_object(state, None), deadline);
    });
}

/// Schedules every quota subject's next deadline (after a load and a replay).
fn schedule_all(ks: &Keyspace) {
    for db in 0..ks.databases() {
        for shard in ks.shards(db) {
            let mut s = shard.lock();
            let due: Vec<(Box<[u8]>, u64)> = s
                .iter()
                .filter_map(|e| match e.value() {
                    ValueRef::Obj(Object::Quota(q)) => {
                        q.state.next_deadline().map(|at| (e.key().into(), at))
                    }
                    _ => None,
                })
                .collect();
            for (key, at) in due {
                set_timer(&mut s, &key, Some(at), 0);
            }
        }
    }
}

/// Points the shard's timer for quota `key` at `at` (or none), recording it in the value.
fn set_timer(s: &mut Shard, key: &[u8], at: Option<u64>, now: u64) {
    let old = s.write_owned(key, now, |slot| match slot.object_mut() {
        Ok(Some(Object::Quota(q))) => Some(std::mem::replace(&mut q.timer, at)),
        _ => None,
    });
    if let Some(old) = old {
        s.reschedule(key, old, at);
    }
}
