//! Keyspace snapshots: writing the whole keyspace (rate-limit state, leases, plain keys with
//! their TTLs) to one file and loading it at start, and the books `INFO persistence`,
//! `LASTSAVE` and the save points read. The byte format is in [`format`].
//!
//! A save never stops the server: it walks the keyspace shard by shard, holding one shard
//! index (across every database, under the world lock shared) only while that shard's keys
//! are copied into a buffer, and writes outside the locks. There is no fork, so a snapshot is
//! consistent per shard, not a point in time across shards: a write to a shard already
//! copied is in the next snapshot, not this one. The file is written to a temporary name in
//! the same directory, synced, renamed over the old one and the directory synced, so a crash
//! during a save leaves the previous snapshot whole.

pub mod format;
pub mod journal;
pub mod log;

use crate::clock::Clock;
use crate::store::Keyspace;
use parking_lot::{Condvar, Mutex};
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// What a save wrote.
#[derive(Debug, Clone, Copy)]
pub struct SaveStats {
    pub keys: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// What a load read.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadStats {
    pub loaded: u64,
    /// Keys whose deadline passed while the server was down: not loaded.
    pub expired: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    /// The journal generation the snapshot holds.
    pub epoch: u64,
}

/// What the server does about saving when it stops (decided by `SHUTDOWN`, if it ran).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtExit {
    /// No `SHUTDOWN` (a signal): save when there are save points.
    Default = 0,
    /// `SHUTDOWN NOSAVE`, or no save points: do not save.
    NoSave = 1,
    /// `SHUTDOWN` saved already: save again only what changed since.
    Saved = 2,
    /// `SHUTDOWN` found a background save running: save once it is over, whatever the
    /// save points say.
    Force = 3,
}

/// The persistence books shared by the commands, the saver thread and shutdown.
#[derive(Debug)]
pub struct Status {
    /// One save writes at a time (SAVE, BGSAVE, save points, shutdown).
    writing: Mutex<()>,
    bgsave_in_progress: AtomicBool,
    /// A BGSAVE the saver thread has not started yet.
    requested: Mutex<bool>,
    wake: Condvar,
    /// Unix seconds of the last successful save (the start time until the first), LASTSAVE.
    last_save_secs: AtomicU64,
    last_bgsave_ok: AtomicBool,
    /// Seconds the last background save took; -1 before the first.
    last_bgsave_secs: AtomicI64,
    /// Unix ms the running background save started.
    bgsave_started_ms: AtomicU64,
    /// When a failed background save was last tried (unix ms), to retry no sooner than
    /// Redis does (5 s).
    last_try_ms: AtomicU64,
    saves: AtomicU64,
    /// `Keyspace::changes` when the last successful save began.
    changes_saved: AtomicU64,
    at_exit: AtomicU8,
    last_load_loaded: AtomicU64,
    last_load_expired: AtomicU64,
    /// The quota journal, once opened at start (none in servers built without a start, as
    /// some tests do: quota state is then in memory only).
    pub journal: std::sync::OnceLock<std::sync::Arc<journal::QuotaJournal>>,
}

/// Redis's `CONFIG_BGSAVE_RETRY_DELAY`: after a failed background save, save points wait
/// this long before trying again.
pub const RETRY_DELAY_MS: u64 = 5_000;

impl Status {
    pub fn new(now_ms: u64) -> Status {
        Status {
            writing: Mutex::new(()),
            bgsave_in_progress: AtomicBool::new(false),
            requested: Mutex::new(false),
            wake: Condvar::new(),
            last_save_secs: AtomicU64::new(now_ms / 1000),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_secs: AtomicI64::new(-1),
            bgsave_started_ms: AtomicU64::new(0),
            last_try_ms: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            changes_saved: AtomicU64::new(0),
            at_exit: AtomicU8::new(AtExit::Default as u8),
            last_load_loaded: AtomicU64::new(0),
            last_load_expired: AtomicU64::new(0),
            journal: Default::default(),
        }
    }

    /// Marks a background save as started; false when one already is.
    pub fn begin_bgsave(&self, now_ms: u64) -> bool {
        let began = self
            .bgsave_in_progress
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if began {
            self.bgsave_started_ms.store(now_ms, Ordering::Relaxed);
        }
        began
    }

    /// Hands a begun background save to the saver thread.
    pub fn request_bgsave(&self) {
        *self.requested.lock() = true;
        self.wake.notify_all();
    }

    /// Waits up to `timeout` for a BGSAVE request; true (and the request taken) if there is one.
    pub fn wait_request(&self, timeout: Duration) -> bool {
        let mut r = self.requested.lock();
        if !*r {
            let _ = self.wake.wait_for(&mut r, timeout);
        }
        std::mem::take(&mut *r)
    }

    /// Wakes the saver thread without a request (to stop it promptly).
    pub fn nudge(&self) {
        self.wake.notify_all();
    }

    pub fn bgsave_in_progress(&self) -> bool {
        self.bgsave_in_progress.load(Ordering::Acquire)
    }

    /// LASTSAVE: unix seconds of the last successful save.
    pub fn last_save_secs(&self) -> u64 {
        self.last_save_secs.load(Ordering::Relaxed)
    }

    pub fn last_bgsave_ok(&self) -> bool {
        self.last_bgsave_ok.load(Ordering::Relaxed)
    }

    pub fn last_try_ms(&self) -> u64 {
        self.last_try_ms.load(Ordering::Relaxed)
    }

    /// Writes since the last successful save began, given `Keyspace::changes`.
    pub fn changes_since_save(&self, changes_now: u64) -> u64 {
        changes_now.saturating_sub(self.changes_saved.load(Ordering::Relaxed))
    }

    /// After a load: what is in memory is what is on disk.
    pub fn loaded(&self, changes_now: u64, stats: &LoadStats) {
        self.changes_saved.store(changes_now, Ordering::Relaxed);
        self.last_load_loaded.store(stats.loaded, Ordering::Relaxed);
        self.last_load_expired
            .store(stats.expired, Ordering::Relaxed);
    }

    pub fn set_at_exit(&self, what: AtExit) {
        self.at_exit.store(what as u8, Ordering::Release);
    }

    pub fn at_exit(&self) -> AtExit {
        match self.at_exit.load(Ordering::Acquire) {
            1 => AtExit::NoSave,
            2 => AtExit::Saved,
            3 => AtExit::Force,
            _ => AtExit::Default,
        }
    }

    /// The `# Persistence` section of INFO, with Redis 7.0's field names (the fork and
    /// copy-on-write fields are 0: there is no fork).
    pub fn info(&self, changes_now: u64, now_ms: u64) -> String {
        let in_progress = self.bgsave_in_progress();
        let current = if in_progress {
            (now_ms.saturating_sub(self.bgsave_started_ms.load(Ordering::Relaxed)) / 1000) as i64
        } else {
            -1
        };
        format!(
            "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{current}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\naof_enabled:0\r\n{}aof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n{}",
            self.changes_since_save(changes_now),
            u8::from(in_progress),
            self.last_save_secs(),
            if self.last_bgsave_ok() { "ok" } else { "err" },
            self.last_bgsave_secs.load(Ordering::Relaxed),
            self.saves.load(Ordering::Relaxed),
            self.last_load_expired.load(Ordering::Relaxed),
            self.last_load_loaded.load(Ordering::Relaxed),
            self.journal.get().map_or_else(
                || "aof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\naof_rewrites_consecutive_failures:0\r\naof_last_write_status:ok\r\n".to_string(),
                |j| j.info()
            ),
            self.journal.get().map_or_else(String::new, |j| j.info_tail()),
        )
    }
}

/// How a save is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// SAVE and SHUTDOWN: the caller holds the world lock exclusively already.
    Foreground,
    /// BGSAVE, save points, the save at exit: take the world lock shared per shard.
    Background,
}

/// Why [`save_now`] did not save.
#[derive(Debug)]
pub enum SaveError {
    /// A foreground save found a background save writing (it cannot wait for it: the
    /// background save needs the world lock the foreground caller holds).
    Busy,
    Io(io::Error),
}

impl fmt::Display for SaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaveError::Busy => f.write_str("a background save is in progress"),
            SaveError::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SaveError {}

/// Saves the keyspace to `path` and keeps the books. A background save ends the
/// `bgsave_in_progress` begun by [`Status::begin_bgsave`] (when there was one).
pub fn save_now(
    ks: &Keyspace,
    status: &Status,
    clock: &Clock,
    path: &Path,
    mode: Mode,
) -> Result<SaveStats, SaveError> {
    let _writing = match mode {
        Mode::Background => status.writing.lock(),
        Mode::Foreground => status.writing.try_lock().ok_or(SaveError::Busy)?,
    };
    status.saves.fetch_add(1, Ordering::Relaxed);
    let changes_before = ks.changes();
    let now_ms = clock.now_ms();
    status.last_try_ms.store(now_ms, Ordering::Relaxed);
    // The quota journal is compacted by every snapshot: its rewrite begins before the
    // snapshot's generation, so every record tagged with the new one is in the new log.
    let journal = status.journal.get();
    let rewrite = journal.and_then(|j| match j.begin_rewrite() {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(error = %e, "the quota log is not compacted by this snapshot");
            None
        }
    });
    let epoch = ks.next_epoch();
    let result = save(ks, now_ms, path, mode == Mode::Background, epoch).map_err(SaveError::Io);
    if let (Ok(_), Some(j), Some(rw)) = (&result, journal, rewrite) {
        // A failed rewrite leaves the whole old log, which the new snapshot reads correctly.
        match j.commit_rewrite(rw) {
            Ok(st) => tracing::info!(
                records = st.tail_records,
                bytes = st.bytes,
                ms = st.elapsed.as_millis() as u64,
                "quota log compacted into the snapshot"
            ),
            Err(e) => tracing::warn!(error = %e, "the quota log could not be compacted"),
        }
    }
    match &result {
        Ok(stats) => {
            status
                .changes_saved
                .store(changes_before, Ordering::Relaxed);
            status
                .last_save_secs
                .store(clock.now_ms() / 1000, Ordering::Relaxed);
            status.last_bgsave_ok.store(true, Ordering::Relaxed);
            tracing::info!(
                path = %path.display(),
                keys = stats.keys,
                bytes = stats.bytes,
                ms = stats.elapsed.as_millis() as u64,
                "DB saved on disk"
            );
        }
        Err(e) => {
            if mode == Mode::Background {
                status.last_bgsave_ok.store(false, Ordering::Relaxed);
            }
            tracing::error!(path = %path.display(), error = %e, "snapshot failed");
        }
    }
    if mode == Mode::Background && status.bgsave_in_progress() {
        let secs = clock
            .now_ms()
            .saturating_sub(status.bgsave_started_ms.load(Ordering::Relaxed))
            / 1000;
        status
            .last_bgsave_secs
            .store(secs as i64, Ordering::Relaxed);
        status.bgsave_in_progress.store(false, Ordering::Release);
    }
    result
}

static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Writes a snapshot of `ks` as of `now_ms` (expired keys left out) to `path`, through a
/// temporary file in the same directory (created if missing); see the module documentation.
pub fn save(
    ks: &Keyspace,
    now_ms: u64,
    path: &Path,
    lock_world: bool,
    epoch: u64,
) -> io::Result<SaveStats> {
    let started = Instant::now();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!(
        "temp-{}-{}.snapshot",
        std::process::id(),
        TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let written = write_file(ks, now_ms, &tmp, lock_world, epoch)
        .and_then(|(keys, bytes)| std::fs::rename(&tmp, path).map(|()| (keys, bytes)));
    let (keys, bytes) = match written {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    // The rename is durable once the directory is synced.
    File::open(&dir)?.sync_all()?;
    Ok(SaveStats {
        keys,
        bytes,
        elapsed: started.elapsed(),
    })
}

fn write_file(
    ks: &Keyspace,
    now_ms: u64,
    tmp: &Path,
    lock_world: bool,
    epoch: u64,
) -> io::Result<(u64, u64)> {
    let file = File::create(tmp)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut crc = crc32fast::Hasher::new();
    let mut bytes = 0u64;
    let mut emit = |w: &mut BufWriter<File>, b: &[u8]| -> io::Result<()> {
        crc.update(b);
        bytes += b.len() as u64;
        w.write_all(b)
    };
    emit(&mut w, &format::header(now_ms, epoch))?;
    let mut keys = 0u64;
    let mut buf = Vec::new();
    for i in 0..ks.shard_count() {
        buf.clear();
        {
            // Shard `i` of every database under one shared world lock: SWAPDB (exclusive)
            // cannot move a key between two databases' copies of this shard mid-way.
            let _world = lock_world.then(|| ks.world.read(i as u64));
            for db in 0..ks.databases() {
                let mut shard = ks.shards(db)[i].lock();
                // From here on this shard's journal records are not in this snapshot.
                shard.epoch = epoch;
                let mut marked = false;
                for e in shard.iter() {
                    if e.deadline().is_some_and(|at| at <= now_ms) || !e.kind().persisted {
                        continue;
                    }
                    if !marked {
                        format::put_db(&mut buf, db);
                        marked = true;
                    }
                    format::put_entry(&mut buf, e);
                    keys += 1;
                }
            }
        }
        emit(&mut w, &buf)?;
    }
    buf.clear();
    format::put_end(&mut buf, keys);
    emit(&mut w, &buf)?;
    let trailer = format::trailer(crc.finalize());
    w.write_all(&trailer)?;
    bytes += trailer.len() as u64;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok((keys, bytes))
}

/// Why the snapshot could not be loaded. The file is never changed by a failed load.
#[derive(Debug)]
pub struct LoadError {
    pub path: PathBuf,
    pub reason: String,
    /// The quota log failed, not the snapshot: its error says what to do.
    pub log: bool,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.log {
            // `LogError`'s texts name the file and say what to do (and a log is never to be
            // moved away lightly: it holds acknowledged quota changes).
            return write!(f, "cannot open the quota log: {}", self.reason);
        }
        write!(
            f,
            "cannot load the snapshot {}: {}. The file is left as it is: restore a good copy, \
             or move it away to start with an empty keyspace",
            self.path.display(),
            self.reason
        )
    }
}

impl std::error::Error for LoadError {}

/// Loads the snapshot at `path` into `ks` (which should be empty): `Ok(None)` when there is
/// no file. Keys whose deadline is at or before `now_ms` are skipped. A damaged, truncated or
/// unknown-version file, a key of a database the server does not have or a key twice is an
/// error and the keyspace is left partly loaded: the caller refuses to start.
pub fn load(ks: &Keyspace, now_ms: u64, path: &Path) -> Result<Option<LoadStats>, LoadError> {
    let started = Instant::now();
    let fail = |reason: String| LoadError {
        path: path.to_path_buf(),
        reason,
        log: false,
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(e.to_string())),
    };
    let mut stats = LoadStats {
        bytes: bytes.len() as u64,
        ..LoadStats::default()
    };
    let databases = ks.databases();
    let hash_limits = ks.hash_limits();
    let max_intset = ks.max_intset();
    let zset_limits = ks.zset_limits();
    // A big snapshot takes a while: say how far the load is every few seconds.
    let mut next_report = Instant::now() + std::time::Duration::from_secs(2);
    let header = format::decode(&bytes, |r| {
        if stats.loaded % 65_536 == 0 && Instant::now() >= next_report {
            next_report = Instant::now() + std::time::Duration::from_secs(2);
            tracing::info!(keys = stats.loaded, "loading the snapshot");
        }
        if r.db >= databases {
            return Err(format!(
                "a key of database {} but the server has {databases} databases (raise `databases`)",
                r.db
            ));
        }
        if r.deadline.is_some_and(|at| at <= now_ms) {
            stats.expired += 1;
            return Ok(());
        }
        let mut shard = ks.shard(r.db, r.key);
        if shard.contains(r.key, now_ms) {
            return Err(format!(
                "key {:?} appears twice in database {}",
                String::from_utf8_lossy(r.key),
                r.db
            ));
        }
        let mut entry = r.into_entry();
        // A hash, a set or a sorted set takes the encoding the current thresholds give it,
        // as Redis's loader does.
        match entry.object_mut() {
            Some(crate::store::entry::Object::Hash(h)) => h.fit(hash_limits),
            Some(crate::store::entry::Object::Set(s)) => s.fit(max_intset),
            Some(crate::store::entry::Object::ZSet(z)) => z.fit(zset_limits),
            _ => {}
        }
        shard.put(entry, false, now_ms);
        stats.loaded += 1;
        Ok(())
    })
    .map_err(|e| fail(e.to_string()))?;
    ks.set_epoch(header.epoch);
    stats.epoch = header.epoch;
    stats.elapsed = started.elapsed();
    Ok(Some(stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::lease::Leases;
    use crate::store::entry::Object;
    use crate::store::{Encoding, Entry};

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "tollgate-persist-unit-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn save_then_load_keeps_live_keys_and_drops_expired_ones() {
        let dir = temp_dir("roundtrip");
        let path = dir.join("sub").join("snap");
        let ks = Keyspace::new(4, 4);
        let now = 1_800_000_000_000;
        for i in 0..100u32 {
            let k = format!("k{i}").into_bytes();
            ks.shard(i as usize % 4, &k).put(
                Entry::new_str(&k, &i.to_be_bytes(), Encoding::Raw, 0),
                false,
                now,
            );
        }
        ks.shard(1, b"ttl").put(
            Entry::new_str_expiring(b"ttl", b"v", Encoding::Embstr, now + 5000),
            false,
            now,
        );
        ks.shard(1, b"gone").put(
            Entry::new_str_expiring(b"gone", b"v", Encoding::Embstr, now + 10),
            false,
            now,
        );
        let mut leases = Leases::new();
        leases.acquire(3, 1_000_000_000, Some(b"w1"), now * 1_000_000, Vec::new);
        let mut e = Entry::new_obj(b"lease", Object::Leases(leases.clone()));
        e.set_deadline(Some(now + 1000));
        ks.shard(2, b"lease").put(e, false, now);
        let stats = save(&ks, now, &path, true, 1).unwrap();
        assert_eq!(stats.keys, 103);
        assert_eq!(stats.bytes, std::fs::metadata(&path).unwrap().len());
        // No temporary file is left behind.
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );

        let back = Keyspace::new(4, 2);
        let loaded = load(&back, now + 20, &path).unwrap().unwrap();
        assert_eq!((loaded.loaded, loaded.expired), (102, 1));
        assert_eq!(back.dbsize(1), 26);
        assert_eq!(
            back.shard(3, b"k3")
                .get(b"k3", now)
                .and_then(|e| e.str().map(<[u8]>::to_vec)),
            Some(3u32.to_be_bytes().to_vec())
        );
        assert_eq!(
            back.shard(1, b"ttl").expire_of(b"ttl", now),
            Some(now + 5000)
        );
        assert!(!back.shard(1, b"gone").contains(b"gone", now));
        let mut s = back.shard(2, b"lease");
        let got = s.get(b"lease", now).unwrap();
        assert_eq!(got.deadline(), Some(now + 1000));
        assert!(
            matches!(got.value(), crate::store::ValueRef::Obj(Object::Leases(l)) if *l == leases)
        );
        drop(s);
        // Too few databases for the file: refused, naming the database.
        let small = Keyspace::new(2, 1);
        let e = load(&small, now, &path).unwrap_err().to_string();
        assert!(
            e.contains("database 2") && e.contains("left as it is"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_file_is_an_empty_start() {
        let ks = Keyspace::new(1, 1);
        assert!(load(&ks, 0, &temp_dir("missing").join("nope"))
            .unwrap()
            .is_none());
    }

    #[test]
    fn books_follow_saves_and_changes() {
        let dir = temp_dir("books");
        let ks = Keyspace::new(1, 2);
        let clock = Clock::manual(1_800_000_000_000);
        let st = Status::new(clock.now_ms());
        ks.shard(0, b"a")
            .put(Entry::new_str(b"a", b"1", Encoding::Int, 0), false, 0);
        assert_eq!(st.changes_since_save(ks.changes()), 1);
        assert!(st.begin_bgsave(clock.now_ms()));
        assert!(!st.begin_bgsave(clock.now_ms()), "one at a time");
        clock.advance(Duration::from_secs(2));
        save_now(&ks, &st, &clock, &dir.join("s"), Mode::Background).unwrap();
        assert!(!st.bgsave_in_progress());
        assert_eq!(st.changes_since_save(ks.changes()), 0);
        assert_eq!(st.last_save_secs(), 1_800_000_002);
        assert!(st
            .info(ks.changes(), clock.now_ms())
            .contains("rdb_last_bgsave_time_sec:2\r\n"));
        // A save that cannot write: the status says so, the old books stay.
        std::fs::write(dir.join("file"), b"x").unwrap();
        assert!(st.begin_bgsave(clock.now_ms()));
        assert!(save_now(
            &ks,
            &st,
            &clock,
            &dir.join("file").join("s"),
            Mode::Background
        )
        .is_err());
        assert!(!st.last_bgsave_ok() && !st.bgsave_in_progress());
        assert!(st.info(0, 0).contains("rdb_last_bgsave_status:err\r\n"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
