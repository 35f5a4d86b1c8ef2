//! `[persist]`: keyspace snapshots — where the file lives and when it is written (Redis's
//! `dir`, `dbfilename` and `save`). The snapshot format and the saving itself are in
//! `crate::persist`.

use super::declare::settings;
use super::values::{named_enum, ByteSize, SavePoints};

settings! {
    /// `[persist]`: keyspace snapshots (SAVE, BGSAVE, save points, shutdown).
    pub struct PersistConfig in persist;

    /// Directory of the snapshot file, created at start if missing.
    dir: String = "./data".to_string(), config "dir", fixed, check(non_empty);
    /// Name of the snapshot file in `dir` (a name, not a path).
    dbfilename: String = "tollgate.snapshot".to_string(), config "dbfilename", fixed,
        check(file_name);
    /// Save points, "<seconds> <changes>" pairs: snapshot in the background once more than
    /// <seconds> passed since the last save and at least <changes> keys changed; "" = none.
    /// With save points, SIGTERM and SHUTDOWN save before exiting.
    save: SavePoints = SavePoints::redis_default(), config "save", runtime;
    /// When the quota log is synced to disk: "always" (before the reply: an acknowledged
    /// change survives a machine crash; one fsync is shared by every connection's changes),
    /// "everysec" (written before the reply, synced once a second: a process crash loses
    /// nothing, a machine crash up to a second) or "no" (the OS decides).
    appendfsync: FsyncPolicy = FsyncPolicy::Always, config "appendfsync", runtime;
    /// Name of the quota log in `dir` (a name, not a path).
    appendfilename: String = "tollgate.log".to_string(), config "appendfilename", fixed,
        check(file_name);
    /// At start, a log corrupted before its end (not a torn last record, which is always
    /// dropped) stops the start naming the file and the offset; "yes" truncates it there
    /// instead, losing every record from that offset.
    truncate_corrupt_log: bool = false, config "tollgate-truncate-corrupt-log", fixed;
    /// Compact the quota log (by writing a snapshot) once it has grown by this percentage
    /// since the last compaction; 0 = never by size (SAVE, BGSAVE, BGREWRITEAOF and the save
    /// points still compact it).
    auto_aof_rewrite_percentage: u32 = 100, config "auto-aof-rewrite-percentage", runtime,
        range(0, INT_MAX);
    /// ... and is at least this big.
    auto_aof_rewrite_min_size: ByteSize = ByteSize(64 << 20), config "auto-aof-rewrite-min-size",
        runtime, range(0, u64::MAX);
}

const INT_MAX: u64 = i32::MAX as u64;

named_enum! {
    /// `persist.appendfsync`, Redis's `appendfsync`.
    #[derive(Default)]
    pub enum FsyncPolicy {
        // Redis's order, which its error message lists.
        EverySec = "everysec",
        #[default]
        Always = "always",
        No = "no",
    }
}

fn non_empty(dir: &str) -> Result<(), String> {
    if dir.is_empty() {
        return Err("must name a directory, e.g. \"./data\"".to_string());
    }
    Ok(())
}

/// Redis refuses a path in `dbfilename` ("dbfilename can't be a path, just a filename").
fn file_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!("must be a file name, not a path, got {name:?}"));
    }
    Ok(())
}

impl PersistConfig {
    /// Where the snapshot is read and written.
    pub fn path(&self) -> std::path::PathBuf {
        std::path::Path::new(&self.dir).join(&self.dbfilename)
    }
}
