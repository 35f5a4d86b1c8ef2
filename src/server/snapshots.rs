//! Snapshots around the server's life: the load before clients are served, the saver thread
//! (BGSAVE requests and Redis's save points), and the save when the server stops. The format
//! and the writing are `crate::persist`; this is when.

use crate::persist::journal::{self, QuotaJournal};
use crate::persist::{self, AtExit, LoadError, Mode};
use crate::state::State;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Creates the snapshot directory if missing and loads the snapshot if there is one, before
/// any client is served. An error means the server must not start (the file is untouched).
pub fn load_at_start(state: &State) -> Result<(), LoadError> {
    let path = state.config.read().persist.path();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| LoadError {
            path: path.clone(),
            reason: format!("cannot create the directory {}: {e}", dir.display()),
            log: false,
        })?;
    }
    let ks = &state.keyspace;
    let mut epoch = 0;
    match persist::load(ks, state.clock.now_ms(), &path)? {
        None => tracing::info!(path = %path.display(), "no snapshot: starting empty"),
        Some(stats) => {
            epoch = stats.epoch;
            state.persist.loaded(ks.changes(), &stats);
            tracing::info!(
                path = %path.display(),
                keys = stats.loaded,
                expired = stats.expired,
                bytes = stats.bytes,
                ms = stats.elapsed.as_millis() as u64,
                "DB loaded from disk"
            );
        }
    }
    open_journal(state, epoch)
}

/// Opens the quota log in the data directory (locking it against a second server) and
/// replays it over the snapshot of generation `epoch`.
fn open_journal(state: &State, epoch: u64) -> Result<(), LoadError> {
    let (dir, file, opts) = {
        let c = state.config.read();
        (
            std::path::PathBuf::from(&c.persist.dir),
            c.persist.appendfilename.clone(),
            journal::options(&c.persist),
        )
    };
    let ks = &state.keyspace;
    let opened = QuotaJournal::open(&dir, &file, opts, ks, epoch, &state.quota);
    let (journal, replayed) = opened.map_err(|e| LoadError {
        path: dir.join(&file),
        reason: e.to_string(),
        log: true,
    })?;
    tracing::info!(
        path = %journal.path().display(),
        records = replayed.records,
        in_snapshot = replayed.skipped,
        failed = replayed.failed,
        bytes = replayed.bytes,
        ms = replayed.elapsed_ms,
        "quota log replayed"
    );
    let journal = Arc::new(journal);
    ks.set_journal(journal.clone());
    let _ = state.persist.journal.set(journal);
    Ok(())
}

/// Saves as the stopping server should: per `SHUTDOWN`'s choice, or, after a signal, when
/// there are save points. Call it once the connections are drained and `server::run` has
/// returned. The error is logged already.
pub fn save_at_exit(state: &State) -> Result<(), persist::SaveError> {
    let (points, path) = {
        let c = state.config.read();
        (!c.persist.save.is_empty(), c.persist.path())
    };
    let ks = &state.keyspace;
    let wanted = match state.persist.at_exit() {
        AtExit::Default => points,
        AtExit::NoSave => false,
        AtExit::Saved => state.persist.changes_since_save(ks.changes()) > 0,
        AtExit::Force => true,
    };
    if !wanted {
        return Ok(());
    }
    tracing::info!("saving the final snapshot before exiting");
    persist::save_now(ks, &state.persist, &state.clock, &path, Mode::Background).map(drop)
}

/// The thread that runs background saves: BGSAVE requests at once, and Redis's save points
/// (checked once a second, as serverCron does).
pub struct Saver {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Saver {
    pub fn spawn(state: Arc<State>) -> std::io::Result<Saver> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("tollgate-saver".into())
            .spawn(move || saver_loop(&state, &stopping))?;
        Ok(Saver {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread once a save it is running (or was asked for) is written.
    pub fn stop(mut self, state: &State) {
        self.stop.store(true, Ordering::Release);
        state.persist.nudge();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn saver_loop(state: &State, stop: &AtomicBool) {
    let mut last_check_ms = 0u64;
    loop {
        let requested = state.persist.wait_request(Duration::from_millis(100));
        if requested {
            background_save(state);
        }
        if stop.load(Ordering::Acquire) {
            return;
        }
        let now_ms = state.clock.now_ms();
        if now_ms.saturating_sub(last_check_ms) < 1000 {
            continue;
        }
        last_check_ms = now_ms;
        if let Some(why) = save_point_due(state, now_ms).or_else(|| log_compaction_due(state)) {
            if state.persist.begin_bgsave(now_ms) {
                tracing::info!("{why}. Saving...");
                background_save(state);
            }
        }
    }
}

/// Redis's `auto-aof-rewrite-percentage` and `-min-size`, for the quota log: a snapshot
/// compacts it.
fn log_compaction_due(state: &State) -> Option<String> {
    let (percent, min) = {
        let c = state.config.read();
        (
            u64::from(c.persist.auto_aof_rewrite_percentage),
            c.persist.auto_aof_rewrite_min_size.0,
        )
    };
    let journal = state.persist.journal.get()?;
    let (size, base) = journal.sizes();
    let grown = size.saturating_sub(base).saturating_mul(100) / base.max(1);
    (percent > 0 && size >= min && grown >= percent).then(|| {
        format!("the quota log grew by {grown}% since its last compaction (to {size} bytes)")
    })
}

fn background_save(state: &State) {
    let path = state.config.read().persist.path();
    // Logged and recorded in the books by save_now.
    let _ = persist::save_now(
        &state.keyspace,
        &state.persist,
        &state.clock,
        &path,
        Mode::Background,
    );
}

/// Redis's rule: a point `<secs> <changes>` is due when at least `changes` writes happened
/// and more than `secs` seconds passed since the last save (after a failed save, not before
/// the retry delay). Returns Redis's log line for it.
fn save_point_due(state: &State, now_ms: u64) -> Option<String> {
    let points = state.config.read().persist.save.clone();
    if points.is_empty() || state.persist.bgsave_in_progress() {
        return None;
    }
    let st = &state.persist;
    if !st.last_bgsave_ok() && now_ms.saturating_sub(st.last_try_ms()) <= persist::RETRY_DELAY_MS {
        return None;
    }
    let changes = st.changes_since_save(state.keyspace.changes());
    let elapsed = (now_ms / 1000).saturating_sub(st.last_save_secs());
    points
        .0
        .iter()
        .find(|&&(secs, min)| changes >= min && elapsed > secs)
        .map(|&(secs, _)| format!("{changes} changes in {secs} seconds"))
}
