//! The append-only log (the durability engine): its file format and the reader that checks
//! every byte, recovery at open (torn tail dropped, corruption refused), the data-directory
//! lock, the writer thread that commits the records of every caller with one write and one
//! `fsync`, and the rewrite that replaces the log with a snapshot plus what came after.
//!
//! ```text
//! header   "TGAPPLOG" (8 bytes) | version u16 LE = 1 | reserved u16 = 0
//! records  len:u32 LE | crc32 (IEEE) u32 LE of the 4 len bytes then the payload | payload
//! ```
//!
//! Payloads are opaque bytes here: the module that appends them (quotas first) defines them.
//! The checksum covers the length too, so a zero-filled tail (a crash after the file grew but
//! before its data reached the disk) never reads as empty records.
//!
//! # The durability contract
//!
//! [`Log::append`] hands a batch of payloads to the writer thread and returns a [`Ticket`].
//! The writer takes everything pending from every caller, writes it with one `write`, and,
//! under [`FsyncPolicy::Always`], calls `fdatasync` once for the whole group before it
//! completes the tickets of that group: a completed ticket means the records are on disk and
//! survive a crash of the process or of the machine. Under `EverySec` and `No` nothing needs
//! the writer thread before a reply, so appends do not wake it: the caller that waits on a
//! ticket (or calls [`Log::flush`]) writes every pending record itself, one `write` for all
//! callers' records, and the writer thread syncs once a second on a second handle of the file
//! (and writes, within a second, what no caller flushed). Under `EverySec` a ticket completes
//! after the write (the records survive a crash of the process; the writer syncs once a
//! second, so a machine crash loses up to about a second); under `No` the operating system
//! decides when to sync. Records of one batch are contiguous and in order; batches are in
//! the order their `append` calls took the pending lock.
//!
//! A failed write or sync puts the log in a failed state for good: the tickets of that group
//! and of every later append get the error, and nothing more is written, so the file never
//! has a gap after an acknowledged record (the writer truncates back to the last whole group,
//! best effort). A failed group's records may still be found at the next open if they reached
//! the file: a caller that got an error does not know the outcome (idempotency ids make the
//! retry safe). Reopening is the way out of the failed state.
//!
//! # Recovery
//!
//! [`open`] reads the file front to back in reads of [`RECOVERY_CHUNK`] bytes and hands the
//! payload of each good record to the caller's callback as soon as it is read, so recovery
//! holds one chunk plus the record being checked (at most [`MAX_RECORD`]), never the file,
//! and replay starts with the first record. A torn last record (the file ends inside its
//! header or its payload and no good record starts anywhere after it, its checksum fails and
//! nothing follows it, or only zero bytes follow) is dropped with a warning and the file
//! truncated there. A bad record with more non-zero bytes after it
//! is corruption: [`open`] refuses with [`LogError::Corrupt`] naming the file and the byte
//! offset, unless the options say [`Recovery::TruncateCorrupt`], which truncates at that
//! offset deliberately (losing every record from there) with a warning.
//!
//! Telling the two apart needs what follows the bad record, so on a bad record the reader
//! reads on: the rest of the file, chunk by chunk, until a non-zero byte; or, for a record
//! the end of the file cuts, the rest (shorter than that record's length, so at most
//! [`MAX_RECORD`] bytes) to look for a good record in it. The verdicts are exactly those of
//! [`scan`], the whole-file reader, which the tests and the `log` fuzz target check the
//! streaming reader ([`read_records`]) against at every chunk size down to one byte.
//!
//! Records are handed over before anything after them is read: when corruption is found,
//! every record before it has already been given to the callback. Under
//! [`Recovery::TruncateCorrupt`] those are exactly the records kept; under
//! [`Recovery::Strict`] `open` fails, and whatever the caller built from them must be thrown
//! away with the log (a server refuses to start). A callback that returns an error stops
//! recovery at once: [`open`] fails with [`LogError::Replay`], naming the file and the
//! offset of the record refused, and truncates nothing.
//!
//! # Rewrite (compaction)
//!
//! [`Log::begin_rewrite`] starts copying every record appended from then on into a side
//! buffer while appends go on to the old file as usual. The caller builds its snapshot (its
//! state as of some moment after `begin_rewrite`) and calls [`Rewrite::commit`] with the
//! snapshot's payloads: they go to a temporary file with the side buffer so far, outside any
//! lock; then the writer thread, between two groups, appends the rest of the side buffer,
//! syncs, renames the temporary file over the log and syncs the directory. A crash at any
//! point leaves either the whole old log or the whole new one. Appends are not blocked; the
//! tickets of the group written during the switch wait for its last write and syncs
//! (milliseconds). A record appended after `begin_rewrite` may be reflected in the snapshot
//! and also follow it in the new file: payloads must be safe to replay over a state that
//! already includes them (absolute values, or an id the state remembers).

use parking_lot::{Condvar, Mutex};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const MAGIC: &[u8; 8] = b"TGAPPLOG";
pub const VERSION: u16 = 1;
/// Magic, version, reserved.
pub const HEADER_LEN: usize = 8 + 2 + 2;
/// Length and checksum before each payload.
pub const RECORD_HEADER_LEN: usize = 8;
/// The largest payload the log writes, and so the largest length the reader believes.
pub const MAX_RECORD: usize = 64 << 20;
/// The lock file in the data directory, held (flock) while a log is open.
pub const LOCK_FILE: &str = "tollgate.lock";

// ---------------------------------------------------------------------------------------
// Format

/// The file header.
pub fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..10].copy_from_slice(&VERSION.to_le_bytes());
    h
}

fn record_crc(len: [u8; 4], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len);
    h.update(payload);
    h.finalize()
}

/// Appends one record; payloads longer than [`MAX_RECORD`] are refused by [`Log::append`]
/// before this is reached.
pub fn put_record(out: &mut Vec<u8>, payload: &[u8]) {
    let len = (payload.len() as u32).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&record_crc(len, payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Checks the header of a whole file: `Err((offset, reason))`.
pub fn check_header(file: &[u8]) -> Result<(), (usize, String)> {
    if file.len() < MAGIC.len() || &file[..MAGIC.len()] != MAGIC {
        return Err((
            0,
            "not a tollgate log (no TGAPPLOG magic at the start)".into(),
        ));
    }
    if file.len() < HEADER_LEN {
        return Err((file.len(), "the file ends inside the header".into()));
    }
    let version = u16::from_le_bytes([file[8], file[9]]);
    if version != VERSION {
        return Err((
            8,
            format!("unsupported log version {version} (this tollgate reads version {VERSION})"),
        ));
    }
    Ok(())
}

/// How the records of a file end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// The last record ends at the end of the file.
    Clean,
    /// The last record is incomplete or fails its checksum with nothing (or only zeros) after
    /// it: what a crash during a write leaves. Safe to drop.
    Torn { offset: usize, reason: &'static str },
    /// A bad record with more bytes after it: not what a crash leaves.
    Corrupt { offset: usize, reason: String },
}

/// What [`scan`] found: the payload ranges of the good records (in file offsets), where
/// they end, and how the file ends after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub records: Vec<Range<usize>>,
    /// The offset just after the last good record.
    pub end: usize,
    pub tail: Tail,
}

/// Reads the records of `file` from `start` (after the header). Never panics, whatever the
/// bytes; every length is checked against the bytes left and against [`MAX_RECORD`]; it
/// allocates one range per good record (each at least 8 bytes of input). Recovery does not
/// use it (it streams with [`read_records`]): this is the whole-file reader that says what
/// the verdicts are, kept as the reference the streaming one is tested and fuzzed against.
pub fn scan(file: &[u8], start: usize) -> Scan {
    let mut records = Vec::new();
    let mut at = start.min(file.len());
    let done = |records, at, tail| Scan {
        records,
        end: at,
        tail,
    };
    loop {
        let left = file.len() - at;
        if left == 0 {
            return done(records, at, Tail::Clean);
        }
        let rest = &file[at..];
        let zeros = rest.iter().all(|&b| b == 0);
        if left < RECORD_HEADER_LEN {
            let reason = "the file ends inside a record header";
            return done(records, at, Tail::Torn { offset: at, reason });
        }
        let len_bytes = [rest[0], rest[1], rest[2], rest[3]];
        let len = u32::from_le_bytes(len_bytes) as usize;
        let stored = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if len > MAX_RECORD {
            if zeros {
                let reason = "zero bytes after the last record";
                return done(records, at, Tail::Torn { offset: at, reason });
            }
            let reason = format!("record length {len} is over the maximum {MAX_RECORD}");
            return done(records, at, Tail::Corrupt { offset: at, reason });
        }
        if len > left - RECORD_HEADER_LEN {
            // What a crash leaves, unless the length itself was damaged: then a good record
            // follows somewhere after this one, which a torn write cannot produce.
            if let Some(found) = record_after(file, at + 1) {
                let reason = if found < file.len() {
                    format!(
                        "record length {len} runs past the end of the file, yet a good record \
                         starts at byte {found}"
                    )
                } else {
                    format!(
                        "record length {len} runs past the end of the file, and too many bytes \
                         follow it to tell whether a good record is among them"
                    )
                };
                return done(records, at, Tail::Corrupt { offset: at, reason });
            }
            let reason = "the file ends inside a record";
            return done(records, at, Tail::Torn { offset: at, reason });
        }
        let next = at + RECORD_HEADER_LEN + len;
        let payload = &file[at + RECORD_HEADER_LEN..next];
        let computed = record_crc(len_bytes, payload);
        if computed != stored {
            // Only zeros after it: a group cut short by a crash (the file grew, part of its
            // data never reached the disk), not a damaged record in the middle.
            if next == file.len() || file[next..].iter().all(|&b| b == 0) {
                let reason = "the last record's checksum does not match";
                return done(records, at, Tail::Torn { offset: at, reason });
            }
            let reason = format!(
                "checksum mismatch (stored {stored:08x}, computed {computed:08x}) on a record \
                 followed by {} more bytes",
                file.len() - next
            );
            return done(records, at, Tail::Corrupt { offset: at, reason });
        }
        records.push(at + RECORD_HEADER_LEN..next);
        at = next;
    }
}

/// Bytes [`record_after`] may checksum before it gives up: bounds the search on hostile
/// input (a torn tail is at most one group, far smaller).
const RESYNC_BUDGET: usize = 64 << 20;

/// The offset of the first good record (whole, checksum right) starting at `from` or later,
/// if one can be found within [`RESYNC_BUDGET`]; when the budget runs out the answer is
/// "maybe", reported as found at the end of the file, so the caller refuses rather than drops.
fn record_after(file: &[u8], from: usize) -> Option<usize> {
    let mut budget = RESYNC_BUDGET;
    let mut at = from;
    while at + RECORD_HEADER_LEN <= file.len() {
        let r = &file[at..];
        let len_bytes = [r[0], r[1], r[2], r[3]];
        let len = u32::from_le_bytes(len_bytes) as usize;
        if len <= MAX_RECORD && len <= r.len() - RECORD_HEADER_LEN {
            if budget < len {
                return Some(file.len());
            }
            budget -= len;
            let stored = u32::from_le_bytes([r[4], r[5], r[6], r[7]]);
            if record_crc(len_bytes, &r[RECORD_HEADER_LEN..RECORD_HEADER_LEN + len]) == stored {
                return Some(at);
            }
        }
        at += 1;
    }
    None
}

/// The size of recovery's reads: large enough that a read costs little next to checking
/// what it brings, small next to [`MAX_RECORD`] (which bounds recovery's memory anyway).
pub const RECOVERY_CHUNK: usize = 4 << 20;

/// What [`read_records`] found: how many good records it handed over, the offset just after
/// the last of them, and how the file ends after them (as [`scan`] says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    pub records: u64,
    pub end: u64,
    pub tail: Tail,
}

/// Why [`read_records`] stopped before the end.
#[derive(Debug)]
pub enum StreamError {
    Io(io::Error),
    /// The callback refused the record that starts at `offset` (its header's first byte).
    Replay {
        offset: u64,
        reason: String,
    },
}

impl From<io::Error> for StreamError {
    fn from(e: io::Error) -> StreamError {
        StreamError::Io(e)
    }
}

/// Reads the records of a log of `len` bytes from `start` (after the header), `src` being
/// positioned at `start`, in reads of `chunk` bytes (at least one), and hands each good
/// record's payload to `on_record` in order. The records, `end` and tail are exactly what
/// [`scan`] reports for the same bytes; memory is one chunk plus the largest record looked
/// at (bounded by [`MAX_RECORD`]). Never panics, whatever the bytes.
pub fn read_records(
    src: &mut dyn Read,
    len: u64,
    start: u64,
    chunk: usize,
    on_record: &mut dyn FnMut(&[u8]) -> Result<(), String>,
) -> Result<Streamed, StreamError> {
    let mut at = start.min(len);
    let mut w = Window {
        src,
        buf: Vec::new(),
        base: at,
        len,
        chunk: chunk.max(1),
    };
    let mut records = 0u64;
    let done = |records, end, tail| Ok(Streamed { records, end, tail });
    loop {
        let left = len - at;
        let offset = offset_usize(at);
        if left == 0 {
            return done(records, at, Tail::Clean);
        }
        if left < RECORD_HEADER_LEN as u64 {
            let reason = "the file ends inside a record header";
            return done(records, at, Tail::Torn { offset, reason });
        }
        let h = w.get(at, RECORD_HEADER_LEN)?;
        let len_bytes = [h[0], h[1], h[2], h[3]];
        let rec_len = u32::from_le_bytes(len_bytes) as usize;
        let stored = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        if rec_len > MAX_RECORD {
            if w.zeros_from(at)? {
                let reason = "zero bytes after the last record";
                return done(records, at, Tail::Torn { offset, reason });
            }
            let reason = format!("record length {rec_len} is over the maximum {MAX_RECORD}");
            return done(records, at, Tail::Corrupt { offset, reason });
        }
        if rec_len as u64 > left - RECORD_HEADER_LEN as u64 {
            // The rest of the file is shorter than this record, so at most MAX_RECORD + 8
            // bytes: look for a good record in it as `scan` does, with the same budget.
            let rest = w.get(at, offset_usize(left))?;
            if let Some(found) = record_after(rest, 1) {
                let found = at + found as u64;
                let reason = if found < len {
                    format!(
                        "record length {rec_len} runs past the end of the file, yet a good \
                         record starts at byte {found}"
                    )
                } else {
                    format!(
                        "record length {rec_len} runs past the end of the file, and too many \
                         bytes follow it to tell whether a good record is among them"
                    )
                };
                return done(records, at, Tail::Corrupt { offset, reason });
            }
            let reason = "the file ends inside a record";
            return done(records, at, Tail::Torn { offset, reason });
        }
        let next = at + (RECORD_HEADER_LEN + rec_len) as u64;
        let payload = &w.get(at, RECORD_HEADER_LEN + rec_len)?[RECORD_HEADER_LEN..];
        let computed = record_crc(len_bytes, payload);
        if computed != stored {
            if next == len || w.zeros_from(next)? {
                let reason = "the last record's checksum does not match";
                return done(records, at, Tail::Torn { offset, reason });
            }
            let reason = format!(
                "checksum mismatch (stored {stored:08x}, computed {computed:08x}) on a record \
                 followed by {} more bytes",
                len - next
            );
            return done(records, at, Tail::Corrupt { offset, reason });
        }
        if let Err(reason) = on_record(payload) {
            return Err(StreamError::Replay { offset: at, reason });
        }
        records += 1;
        at = next;
    }
}

/// A file offset as [`Tail`] holds it (exact on the 64-bit targets tollgate runs on).
fn offset_usize(at: u64) -> usize {
    usize::try_from(at).unwrap_or(usize::MAX)
}

/// A window sliding front to back over a file read in `chunk`-sized reads: it holds the
/// bytes from the record being looked at to the end of the last read, so its memory is one
/// record plus one chunk, whatever the file's size.
struct Window<'a> {
    src: &'a mut dyn Read,
    buf: Vec<u8>,
    /// The file offset of `buf[0]`.
    base: u64,
    /// The file's length: nothing past it is read.
    len: u64,
    chunk: usize,
}

impl Window<'_> {
    /// Bytes `at..at + n` of the file, reading what is missing; the bytes before `at` are
    /// let go, so offsets asked for must not go backwards.
    fn get(&mut self, at: u64, n: usize) -> io::Result<&[u8]> {
        let want = at.saturating_add(n as u64);
        if at < self.base || want > self.len {
            return Err(io::Error::other(format!(
                "the log reader asked for bytes {at}..{want} outside {}..{}",
                self.base, self.len
            )));
        }
        if want > self.base + self.buf.len() as u64 {
            let consumed = offset_usize(at - self.base).min(self.buf.len());
            self.buf.drain(..consumed);
            self.base += consumed as u64;
            let need = offset_usize(want - self.base);
            // Room for what is needed and one more read (no more than the file has left, so
            // a small log gets a small buffer), allocated once; a buffer grown for a big
            // record is given back when the records are small again.
            let ahead = offset_usize(self.len - want).min(self.chunk);
            let room = need.saturating_add(ahead);
            if self.buf.capacity() < room {
                self.buf.reserve_exact(room - self.buf.len());
            } else if self.buf.capacity() / 2 > room {
                self.buf.shrink_to(room);
            }
            while self.buf.len() < need {
                let filled = self.base + self.buf.len() as u64;
                let step = self.chunk.min(offset_usize(self.len - filled));
                let old = self.buf.len();
                self.buf.resize(old + step, 0);
                let got = loop {
                    match self.src.read(&mut self.buf[old..]) {
                        Ok(got) => break got,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            self.buf.truncate(old);
                            return Err(e);
                        }
                    }
                };
                self.buf.truncate(old + got);
                if got == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the file ended at byte {filled}, before the {} bytes it had when \
                             recovery began",
                            self.len
                        ),
                    ));
                }
            }
        }
        let from = offset_usize(at - self.base);
        self.buf
            .get(from..from.saturating_add(n))
            .ok_or_else(|| io::Error::other("the log reader's window is short"))
    }

    /// Whether every byte from `at` to the end of the file is zero; reads on chunk by chunk,
    /// stopping at the first byte that is not.
    fn zeros_from(&mut self, at: u64) -> io::Result<bool> {
        let mut pos = at;
        while pos < self.len {
            let buffered = (self.base + self.buf.len() as u64).saturating_sub(pos);
            let n = offset_usize(buffered.max(self.chunk as u64).min(self.len - pos));
            if self.get(pos, n)?.iter().any(|&b| b != 0) {
                return Ok(false);
            }
            pos += n as u64;
        }
        Ok(true)
    }
}

// ---------------------------------------------------------------------------------------
// Errors, options, stats

/// Why the log cannot open, or why a record is not durable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogError {
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: Arc<io::Error>,
    },
    #[error(
        "the data directory {} is in use by another tollgate process (it holds the lock {}): \
         two servers must not share a data directory",
        dir.display(),
        dir.join(LOCK_FILE).display()
    )]
    Locked { dir: PathBuf },
    #[error("the log {} cannot be read: {reason}", path.display())]
    BadHeader { path: PathBuf, reason: String },
    #[error(
        "the log {} is corrupted at byte {offset}: {reason}. The file is left as it is: restore \
         a good copy, or truncate it at byte {offset} deliberately (losing every record from \
         there)",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error(
        "replaying the log {} stopped at the record at byte {offset}: {reason}. The file is \
         left as it is",
        path.display()
    )]
    Replay {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("the log {} stopped after a failed write: {reason}", path.display())]
    Failed { path: PathBuf, reason: Arc<str> },
    #[error("a record of {len} bytes is over the log's maximum of {MAX_RECORD}")]
    TooLarge { len: usize },
    #[error("a rewrite of the log is already in progress")]
    RewriteInProgress,
    #[error("the log is closed")]
    Closed,
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> LogError {
    let path = path.to_path_buf();
    move |e| LogError::Io {
        op,
        path,
        source: Arc::new(e),
    }
}

/// When the writer syncs (Redis's `appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// One `fdatasync` per group, before its tickets complete.
    Always = 0,
    /// Tickets complete after the write; the writer syncs once a second.
    EverySec = 1,
    /// Tickets complete after the write; the operating system syncs when it likes.
    No = 2,
}

impl FsyncPolicy {
    fn from_u8(v: u8) -> FsyncPolicy {
        match v {
            1 => FsyncPolicy::EverySec,
            2 => FsyncPolicy::No,
            _ => FsyncPolicy::Always,
        }
    }
}

/// What [`open`] does about a corrupted record before the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Recovery {
    /// Refuse with [`LogError::Corrupt`] (the default: an operator decides).
    #[default]
    Strict,
    /// Truncate the file at the corrupted record, losing it and everything after it (the
    /// server flag to ask for this comes with the wiring).
    TruncateCorrupt,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub policy: FsyncPolicy,
    pub recovery: Recovery,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            policy: FsyncPolicy::Always,
            recovery: Recovery::Strict,
        }
    }
}

/// Counters for INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogStats {
    /// The size of the log file.
    pub bytes: u64,
    /// Records in the log file (recovered, appended, and written by rewrites).
    pub records: u64,
    /// Groups written (one `write` each).
    pub writes: u64,
    pub fsyncs: u64,
    /// How long the last `fdatasync` took, in microseconds.
    pub last_fsync_us: u64,
    /// Records appended and not written yet.
    pub pending_records: u64,
    pub pending_bytes: u64,
    pub rewrites: u64,
    pub rewrite_in_progress: bool,
    /// A write or sync failed: the log takes no more records.
    pub failed: bool,
    pub policy: FsyncPolicy,
}

/// What recovery dropped at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    pub offset: u64,
    pub bytes_dropped: u64,
    /// Corruption truncated on request ([`Recovery::TruncateCorrupt`]), not a torn tail.
    pub corrupt: bool,
    pub reason: String,
}

/// What [`open`] recovered (the records themselves went to its callback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Good records handed to the callback.
    pub records: u64,
    /// The log's length after recovery (its header and its good records): where appends go
    /// on.
    pub bytes: u64,
    pub truncated: Option<Truncation>,
    /// How long recovery took: reading, checking, the callback, truncating.
    pub elapsed: Duration,
}

// ---------------------------------------------------------------------------------------
// The data directory lock

/// An exclusive `flock` on the lock file of a data directory, released when dropped (and by
/// the kernel when the process dies, so a crash leaves no stale lock).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Creates `dir` if missing and locks it; [`LogError::Locked`] if another open file
    /// description (another process, or another log in this one) holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, LogError> {
        std::fs::create_dir_all(dir).map_err(io_err("cannot create the data directory", dir))?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err("cannot open the lock file", &path))?;
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is open for the whole call (owned by `file`); flock only
        // changes the lock state of the open file description.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(LogError::Locked {
                    dir: dir.to_path_buf(),
                });
            }
            return Err(io_err("cannot lock", &path)(e));
        }
        // The pid, for an operator wondering who holds it (advisory; the flock is the lock).
        let _ = file
            .set_len(0)
            .and_then(|()| writeln!(file, "{}", std::process::id()));
        Ok(DirLock { _file: file })
    }
}

// ---------------------------------------------------------------------------------------
// Opening

/// Opens (or creates) the log `file` in `dir`, locking `dir` against a second server (see
/// [`DirLock`]), recovering its records (see the module documentation: each good record's
/// payload goes to `on_record`, in order, as it is read), and starts its writer thread.
pub fn open(
    dir: &Path,
    file: &str,
    opts: Options,
    on_record: &mut dyn FnMut(&[u8]) -> Result<(), String>,
) -> Result<(Log, RecoveryReport), LogError> {
    open_chunked(dir, file, opts, RECOVERY_CHUNK, on_record)
}

/// [`open`] with recovery reading `chunk` bytes at a time (tests use tiny chunks).
fn open_chunked(
    dir: &Path,
    file: &str,
    opts: Options,
    chunk: usize,
    on_record: &mut dyn FnMut(&[u8]) -> Result<(), String>,
) -> Result<(Log, RecoveryReport), LogError> {
    let lock = DirLock::acquire(dir)?;
    let path = dir.join(file);
    let report = recover(dir, &path, opts.recovery, chunk, on_record)?;
    let handle = OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(io_err("cannot open the log", &path))?;
    let shared = Arc::new(Shared {
        path: path.clone(),
        dir: dir.to_path_buf(),
        file_name: file.to_string(),
        pending: Mutex::new(Pending::default()),
        wake: Condvar::new(),
        done: Mutex::new(Done::default()),
        done_cv: Condvar::new(),
        policy: AtomicU8::new(opts.policy as u8),
        bytes: AtomicU64::new(report.bytes),
        records: AtomicU64::new(report.records),
        writes: AtomicU64::new(0),
        fsyncs: AtomicU64::new(0),
        last_fsync_us: AtomicU64::new(0),
        pending_records: AtomicU64::new(0),
        pending_bytes: AtomicU64::new(0),
        rewrites: AtomicU64::new(0),
        failed: AtomicBool::new(false),
        io: Mutex::new(Io::new(handle, report.bytes)),
        #[cfg(test)]
        inject_write_error: AtomicBool::new(false),
    });
    let writer = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("tollgate-log".into())
            .spawn(move || run_writer(&shared))
            .map_err(io_err("cannot start the log writer thread for", &path))?
    };
    let log = Log {
        shared,
        writer: Some(writer),
        _lock: lock,
    };
    Ok((log, report))
}

/// Reads and checks the file as a stream, handing the good records to `on_record`,
/// truncating a torn tail (or corruption, when asked); creates the file when missing.
fn recover(
    dir: &Path,
    path: &Path,
    recovery: Recovery,
    chunk: usize,
    on_record: &mut dyn FnMut(&[u8]) -> Result<(), String>,
) -> Result<RecoveryReport, LogError> {
    let started = Instant::now();
    let report = |records, bytes, truncated| RecoveryReport {
        records,
        bytes,
        truncated,
        elapsed: started.elapsed(),
    };
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create_fresh(dir, path)?;
            return Ok(report(0, HEADER_LEN as u64, None));
        }
        Err(e) => return Err(io_err("cannot read the log", path)(e)),
    };
    let len = f
        .metadata()
        .map_err(io_err("cannot read the log", path))?
        .len();
    let mut head = [0u8; HEADER_LEN];
    let head_len = HEADER_LEN.min(offset_usize(len));
    f.read_exact(&mut head[..head_len])
        .map_err(io_err("cannot read the log", path))?;
    let head = &head[..head_len];
    // A file shorter than the header whose bytes are the header's start (or nothing) was
    // being created when the process died: start it afresh.
    if head_len < HEADER_LEN && header()[..head_len] == *head {
        if head_len > 0 {
            tracing::warn!(path = %path.display(), bytes = head_len, "log header torn: starting the log afresh");
        }
        drop(f);
        create_fresh(dir, path)?;
        return Ok(report(0, HEADER_LEN as u64, None));
    }
    // The header is all `check_header` looks at (with the length when it is short).
    check_header(head).map_err(|(offset, reason)| LogError::BadHeader {
        path: path.to_path_buf(),
        reason: format!("at byte {offset}: {reason}"),
    })?;
    let mut src = ReadAhead {
        file: f,
        pos: HEADER_LEN as u64,
        ahead: chunk.saturating_mul(2) as u64,
    };
    let streamed =
        read_records(&mut src, len, HEADER_LEN as u64, chunk, on_record).map_err(|e| match e {
            StreamError::Io(e) => io_err("cannot read the log", path)(e),
            StreamError::Replay { offset, reason } => LogError::Replay {
                path: path.to_path_buf(),
                offset,
                reason,
            },
        })?;
    drop(src);
    let (offset, reason, corrupt) = match streamed.tail {
        Tail::Clean => return Ok(report(streamed.records, streamed.end, None)),
        Tail::Torn { offset, reason } => (offset as u64, reason.to_string(), false),
        Tail::Corrupt { offset, reason } => {
            if recovery == Recovery::Strict {
                return Err(LogError::Corrupt {
                    path: path.to_path_buf(),
                    offset: offset as u64,
                    reason,
                });
            }
            (offset as u64, reason, true)
        }
    };
    let dropped = len - offset;
    if corrupt {
        tracing::warn!(path = %path.display(), offset, dropped, %reason, "log corrupted: truncating there as asked, losing every record from that offset");
    } else {
        tracing::warn!(path = %path.display(), offset, dropped, %reason, "log tail torn (a crash during a write): dropping the incomplete last record");
    }
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err("cannot open the log to truncate it", path))?;
    f.set_len(offset)
        .and_then(|()| f.sync_all())
        .map_err(io_err("cannot truncate the log", path))?;
    let truncated = Truncation {
        offset,
        bytes_dropped: dropped,
        corrupt,
        reason,
    };
    Ok(report(streamed.records, streamed.end, Some(truncated)))
}

/// The log file read front to back, asking the kernel after each read to start reading the
/// next `ahead` bytes (`POSIX_FADV_WILLNEED`): the disk brings the next chunk while the
/// current one is checked and replayed, instead of waiting for each read in turn (a 1 GiB
/// log read from the disk: 4.8 s without it, 1.6-1.9 s with it; see the README).
struct ReadAhead {
    file: File,
    pos: u64,
    ahead: u64,
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.pos += n as u64;
        use std::os::fd::AsRawFd;
        let off = libc::off_t::try_from(self.pos).unwrap_or(libc::off_t::MAX);
        let len = libc::off_t::try_from(self.ahead).unwrap_or(0);
        // SAFETY: the descriptor is open for the call (owned by `self.file`); the advice only
        // starts reads into the page cache. A failure costs speed, not correctness: ignored.
        let _ = unsafe {
            libc::posix_fadvise(self.file.as_raw_fd(), off, len, libc::POSIX_FADV_WILLNEED)
        };
        Ok(n)
    }
}

/// Writes a log with only its header through a temporary file, so a crash never leaves a
/// half-written header behind a name.
fn create_fresh(dir: &Path, path: &Path) -> Result<(), LogError> {
    let tmp = temp_path(path, "new");
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(&header())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io_err("cannot create the log", path))
}

fn temp_path(path: &Path, what: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{what}.tmp"));
    path.with_file_name(name)
}

// ---------------------------------------------------------------------------------------
// The log and its writer

#[derive(Default)]
struct Pending {
    /// Encoded records not yet taken by the writer.
    buf: Vec<u8>,
    records: u64,
    /// The sequence number of the last batch in `buf` (batches are numbered from 1).
    last_seq: u64,
    /// Set by the writer when a write failed: appends fail at once.
    failed: Option<Arc<str>>,
    /// Records appended since `begin_rewrite`, for the new file.
    side: Option<Side>,
    switch: Option<Switch>,
    stop: bool,
    /// The writer is waiting for records: an append must wake it. While it writes or syncs
    /// it is not, and appends skip the wake-up (a futex call each).
    writer_waiting: bool,
}

#[derive(Default)]
struct Side {
    buf: Vec<u8>,
    records: u64,
}

struct Switch {
    tmp: File,
    tmp_path: PathBuf,
    /// Bytes already in `tmp`.
    bytes: u64,
    snapshot_records: u64,
    /// Appended records already copied to `tmp`.
    tail_records: u64,
    reply: mpsc::Sender<Result<RewriteStats, LogError>>,
}

#[derive(Default)]
struct Done {
    /// Every batch up to this sequence number is durable (per the policy).
    durable: u64,
    /// Batches after `durable` fail with this.
    failed: Option<Arc<str>>,
    /// Tasks waiting on tickets (`Ticket::durable`), with their batch: a completion wakes
    /// only those it makes durable, not every waiting connection.
    waiters: Vec<(u64, std::task::Waker)>,
}

struct Shared {
    path: PathBuf,
    dir: PathBuf,
    file_name: String,
    pending: Mutex<Pending>,
    /// Wakes the writer.
    wake: Condvar,
    done: Mutex<Done>,
    /// Wakes threads waiting on tickets.
    done_cv: Condvar,
    policy: AtomicU8,
    bytes: AtomicU64,
    records: AtomicU64,
    writes: AtomicU64,
    fsyncs: AtomicU64,
    last_fsync_us: AtomicU64,
    pending_records: AtomicU64,
    pending_bytes: AtomicU64,
    rewrites: AtomicU64,
    failed: AtomicBool,
    /// The file and what is known of it. Held while writing, syncing or switching files,
    /// by the writer thread and by callers of [`Log::flush`]; taken before `pending`.
    io: Mutex<Io>,
    /// The unit tests' seam for a failing disk: the next write fails.
    #[cfg(test)]
    inject_write_error: AtomicBool,
}

impl Shared {
    /// Books `n` records just put in the pending buffer from byte `start` as one batch
    /// (copied to a rewrite's side buffer, counted, numbered), releases the lock and wakes
    /// the writer if it needs to be. Returns the batch's sequence number.
    fn enqueued(&self, mut p: parking_lot::MutexGuard<'_, Pending>, start: usize, n: u64) -> u64 {
        let Pending { buf, side, .. } = &mut *p;
        let added = buf.len() - start;
        if let Some(side) = side {
            side.buf.extend_from_slice(&buf[start..]);
            side.records += n;
        }
        // Counted under the lock, so the writer's reset (also under it) never comes between.
        self.pending_records.fetch_add(n, Ordering::Relaxed);
        self.pending_bytes
            .fetch_add(added as u64, Ordering::Relaxed);
        p.records += n;
        p.last_seq += 1;
        let seq = p.last_seq;
        // Under `everysec` and `no` the callers write their records themselves
        // (`Log::flush`); the writer takes what none flushed within its second.
        let wake = p.writer_waiting && policy(self) == FsyncPolicy::Always;
        drop(p);
        if wake {
            self.wake.notify_one();
        }
        seq
    }

    /// Under `everysec` and `no`: writes every pending record now, on the calling thread
    /// (see [`Log::flush`]), unless the writer thread must (a rewrite switching files, a
    /// stop, a failure). Returns the sequence number of the last batch appended.
    fn write_through(&self) -> u64 {
        // Waits for the file a moment only: callers are connection tasks, which must not
        // block their thread while the writer switches files (a rewrite syncs under `io`).
        // Another caller's write is that short: waiting for it beats handing the records to
        // the writer thread (a wake-up, its gathering pause, a wake-up back), which at
        // `-P 1` put a third of the charges on that slow path. Past the bound the writer
        // writes what is pending (woken here).
        let Some(mut io) = self.io.try_lock_for(WRITE_THROUGH_WAIT) else {
            let p = self.pending.lock();
            let seq = p.last_seq;
            let wake = p.writer_waiting && !p.buf.is_empty();
            drop(p);
            if wake {
                self.wake.notify_one();
            }
            return seq;
        };
        let mut p = self.pending.lock();
        if p.buf.is_empty() || p.switch.is_some() || p.stop || p.failed.is_some() {
            let seq = p.last_seq;
            let wake = p.writer_waiting && !p.buf.is_empty();
            drop(p);
            drop(io);
            if wake {
                self.wake.notify_one();
            }
            return seq;
        }
        let buf = std::mem::take(&mut p.buf);
        let records = std::mem::take(&mut p.records);
        let seq = p.last_seq;
        self.pending_records.store(0, Ordering::Relaxed);
        self.pending_bytes.store(0, Ordering::Relaxed);
        drop(p);
        io.write_group(self, &buf, seq, records);
        seq
    }

    fn outcome(&self, seq: u64) -> Option<Result<(), LogError>> {
        let d = self.done.lock();
        if seq <= d.durable {
            return Some(Ok(()));
        }
        d.failed.as_ref().map(|reason| {
            Err(LogError::Failed {
                path: self.path.clone(),
                reason: reason.clone(),
            })
        })
    }

    fn complete(&self, seq: u64, failed: Option<Arc<str>>) {
        let mut wake = Vec::new();
        {
            let mut d = self.done.lock();
            d.durable = d.durable.max(seq);
            if failed.is_some() {
                d.failed = failed;
            }
            let (durable, all) = (d.durable, d.failed.is_some());
            let mut i = 0;
            while i < d.waiters.len() {
                if all || d.waiters[i].0 <= durable {
                    wake.push(d.waiters.swap_remove(i).1);
                } else {
                    i += 1;
                }
            }
        }
        self.done_cv.notify_all();
        for w in wake {
            w.wake();
        }
    }
}

/// The durability engine: see the module documentation. Dropping it writes what is
/// pending, syncs, stops the writer thread and releases the directory lock.
pub struct Log {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
    _lock: DirLock,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

/// A claim on the durability of one batch: complete once its records are written (and
/// synced, under `always`), or failed with the write's error.
#[derive(Debug)]
pub struct Ticket {
    seq: u64,
    state: TicketState,
}

#[derive(Debug)]
enum TicketState {
    Waiting(SharedRef),
    Ready(Result<(), LogError>),
}

/// `Shared` behind a Debug-able name (tickets are Debug; the log's innards need not be).
struct SharedRef(Arc<Shared>);

impl std::fmt::Debug for SharedRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Log")
    }
}

impl Ticket {
    /// The batch's sequence number (batches of one log are numbered from 1 in append order).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The outcome if it is known, without waiting.
    pub fn poll(&self) -> Option<Result<(), LogError>> {
        match &self.state {
            TicketState::Ready(r) => Some(r.clone()),
            TicketState::Waiting(s) => s.0.outcome(self.seq),
        }
    }

    /// Blocks the calling thread until the outcome is known (not for async tasks: use
    /// [`Ticket::durable`]).
    pub fn wait(self) -> Result<(), LogError> {
        let shared = match self.state {
            TicketState::Ready(r) => return r,
            TicketState::Waiting(s) => s,
        };
        let s = &shared.0;
        // Under `everysec` and `no` appends do not wake the writer: write them now.
        if policy(s) != FsyncPolicy::Always && s.outcome(self.seq).is_none() {
            s.write_through();
        }
        let mut d = s.done.lock();
        loop {
            if self.seq <= d.durable {
                return Ok(());
            }
            if let Some(reason) = &d.failed {
                return Err(LogError::Failed {
                    path: s.path.clone(),
                    reason: reason.clone(),
                });
            }
            s.done_cv.wait(&mut d);
        }
    }

    /// Waits for the outcome without blocking the runtime.
    pub async fn durable(self) -> Result<(), LogError> {
        let shared = match self.state {
            TicketState::Ready(r) => return r,
            TicketState::Waiting(s) => s,
        };
        let seq = self.seq;
        // Under `everysec` and `no` appends do not wake the writer: write them now.
        if policy(&shared.0) != FsyncPolicy::Always && shared.0.outcome(seq).is_none() {
            shared.0.write_through();
        }
        std::future::poll_fn(move |cx| {
            let s = &shared.0;
            let mut d = s.done.lock();
            if seq <= d.durable {
                return std::task::Poll::Ready(Ok(()));
            }
            if let Some(reason) = &d.failed {
                return std::task::Poll::Ready(Err(LogError::Failed {
                    path: s.path.clone(),
                    reason: reason.clone(),
                }));
            }
            // Registered under the lock `complete` takes: no completion slips between the
            // check and the registration. A task polled again replaces its waker.
            let waker = cx.waker();
            match d.waiters.iter_mut().find(|(_, w)| w.will_wake(waker)) {
                Some(entry) => *entry = (seq, waker.clone()),
                None => d.waiters.push((seq, waker.clone())),
            }
            std::task::Poll::Pending
        })
        .await
    }
}

impl Log {
    /// Hands a batch of payloads to the writer; they are written together, in order.
    pub fn append<I, P>(&self, batch: I) -> Ticket
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let s = &self.shared;
        // Encoded (and checksummed) outside the lock: callers contend only for the copy.
        let mut encoded = Vec::new();
        let mut n = 0u64;
        for payload in batch {
            let payload = payload.as_ref();
            if payload.len() > MAX_RECORD {
                let err = LogError::TooLarge { len: payload.len() };
                return Ticket {
                    seq: 0,
                    state: TicketState::Ready(Err(err)),
                };
            }
            put_record(&mut encoded, payload);
            n += 1;
        }
        let mut p = s.pending.lock();
        if let Some(reason) = &p.failed {
            let err = LogError::Failed {
                path: s.path.clone(),
                reason: reason.clone(),
            };
            return Ticket {
                seq: 0,
                state: TicketState::Ready(Err(err)),
            };
        }
        if p.stop {
            return Ticket {
                seq: 0,
                state: TicketState::Ready(Err(LogError::Closed)),
            };
        }
        if n == 0 {
            // Nothing to write: durable when everything before it is.
            let seq = p.last_seq;
            drop(p);
            return Ticket {
                seq,
                state: TicketState::Waiting(SharedRef(s.clone())),
            };
        }
        let start = p.buf.len();
        if start == 0 {
            p.buf = encoded;
        } else {
            p.buf.extend_from_slice(&encoded);
        }
        let seq = s.enqueued(p, start, n);
        Ticket {
            seq,
            state: TicketState::Waiting(SharedRef(s.clone())),
        }
    }

    /// `append` of one payload without a ticket, for a caller that waits with
    /// [`Log::flush`] later (the quota journal, under its shard's lock): no allocation beyond
    /// the copy into the pending buffer. A failed or closed log drops it (the flush's ticket
    /// reports the failure).
    pub fn append_detached(&self, payload: &[u8]) {
        if payload.len() > MAX_RECORD {
            return;
        }
        let s = &self.shared;
        let mut p = s.pending.lock();
        if p.failed.is_some() || p.stop {
            return;
        }
        // Encoded straight into the pending buffer: one small record, no copy of it.
        let start = p.buf.len();
        put_record(&mut p.buf, payload);
        s.enqueued(p, start, 1);
    }

    /// A ticket for everything appended so far. Under `everysec` and `no` the caller writes
    /// what is pending itself, at once (one `write`, no fsync), and gets a completed ticket:
    /// no hand-off to the writer thread and no wake-up from it, which is most of the cost
    /// of a durable change when each is a few bytes. Under `always` the writer thread syncs
    /// the group of every caller: the ticket waits for it (as `append` of nothing does).
    pub fn flush(&self) -> Ticket {
        let s = &self.shared;
        if policy(s) == FsyncPolicy::Always {
            return self.append(std::iter::empty::<&[u8]>());
        }
        let seq = s.write_through();
        let state = match s.outcome(seq) {
            Some(r) => TicketState::Ready(r),
            None => TicketState::Waiting(SharedRef(s.clone())),
        };
        Ticket { seq, state }
    }

    /// Changes the sync policy from the next group on (CONFIG SET).
    pub fn set_policy(&self, policy: FsyncPolicy) {
        self.shared.policy.store(policy as u8, Ordering::Relaxed);
        self.shared.wake.notify_one();
    }

    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Whether a write or sync failed: the log takes no more records.
    pub fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> LogStats {
        let s = &self.shared;
        let rewrite_in_progress = s.pending.lock().side.is_some();
        LogStats {
            bytes: s.bytes.load(Ordering::Relaxed),
            records: s.records.load(Ordering::Relaxed),
            writes: s.writes.load(Ordering::Relaxed),
            fsyncs: s.fsyncs.load(Ordering::Relaxed),
            last_fsync_us: s.last_fsync_us.load(Ordering::Relaxed),
            pending_records: s.pending_records.load(Ordering::Relaxed),
            pending_bytes: s.pending_bytes.load(Ordering::Relaxed),
            rewrites: s.rewrites.load(Ordering::Relaxed),
            rewrite_in_progress,
            failed: s.failed.load(Ordering::Relaxed),
            policy: FsyncPolicy::from_u8(s.policy.load(Ordering::Relaxed)),
        }
    }

    /// Starts a rewrite: see the module documentation.
    pub fn begin_rewrite(&self) -> Result<Rewrite, LogError> {
        let mut p = self.shared.pending.lock();
        if p.side.is_some() {
            return Err(LogError::RewriteInProgress);
        }
        p.side = Some(Side::default());
        Ok(Rewrite {
            shared: self.shared.clone(),
            active: true,
        })
    }

    /// Writes what is pending, syncs, and stops the writer (as dropping does), reporting a
    /// failed state.
    pub fn close(mut self) -> Result<(), LogError> {
        self.stop();
        match self.shared.pending.lock().failed.clone() {
            Some(reason) => Err(LogError::Failed {
                path: self.shared.path.clone(),
                reason,
            }),
            None => Ok(()),
        }
    }

    fn stop(&mut self) {
        self.shared.pending.lock().stop = true;
        self.shared.wake.notify_one();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }

    #[cfg(test)]
    fn fail_next_write(&self) {
        self.shared
            .inject_write_error
            .store(true, Ordering::Relaxed);
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a rewrite wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RewriteStats {
    /// Records from the snapshot.
    pub snapshot_records: u64,
    /// Records appended during the rewrite, copied after the snapshot.
    pub tail_records: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// A rewrite begun by [`Log::begin_rewrite`]; dropping it without [`Rewrite::commit`]
/// abandons it (the log goes on unchanged).
pub struct Rewrite {
    shared: Arc<Shared>,
    active: bool,
}

impl Rewrite {
    /// Writes `snapshot` then the records appended since `begin_rewrite` to a new file and
    /// switches the log to it atomically. On an error the old log goes on unchanged.
    pub fn commit<I, P>(mut self, snapshot: I) -> Result<RewriteStats, LogError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let started = Instant::now();
        let s = self.shared.clone();
        let tmp_path = temp_path(&s.path, "rewrite");
        let written = (|| -> io::Result<(File, u64, u64, u64)> {
            let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp_path)?);
            w.write_all(&header())?;
            let mut bytes = HEADER_LEN as u64;
            let mut records = 0u64;
            let mut buf = Vec::new();
            for payload in snapshot {
                let payload = payload.as_ref();
                if payload.len() > MAX_RECORD {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        LogError::TooLarge { len: payload.len() }.to_string(),
                    ));
                }
                buf.clear();
                put_record(&mut buf, payload);
                w.write_all(&buf)?;
                bytes += buf.len() as u64;
                records += 1;
            }
            // The appends so far, so the switch has little left to copy.
            let side = {
                let mut p = s.pending.lock();
                p.side.as_mut().map(std::mem::take).unwrap_or_default()
            };
            w.write_all(&side.buf)?;
            bytes += side.buf.len() as u64;
            let file = w.into_inner().map_err(|e| e.into_error())?;
            file.sync_data()?;
            Ok((file, bytes, records, side.records))
        })();
        let (tmp, bytes, snapshot_records, tail_records) = match written {
            Ok(x) => x,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp_path);
                return Err(io_err("cannot write the rewritten log", &tmp_path)(e));
            }
        };
        let (reply, answer) = mpsc::channel();
        {
            let mut p = s.pending.lock();
            if p.stop {
                // The writer is gone (or going): nobody would answer.
                let _ = std::fs::remove_file(&tmp_path);
                return Err(LogError::Closed);
            }
            p.switch = Some(Switch {
                tmp,
                tmp_path,
                bytes,
                snapshot_records,
                tail_records,
                reply,
            });
        }
        s.wake.notify_one();
        // The writer took the side buffer with the switch; nothing to abandon any more.
        self.active = false;
        let mut stats = answer.recv().map_err(|_| LogError::Closed)??;
        stats.elapsed = started.elapsed();
        Ok(stats)
    }
}

impl Drop for Rewrite {
    fn drop(&mut self) {
        if self.active {
            self.shared.pending.lock().side = None;
        }
    }
}

/// The writer thread's state: it alone touches the log file after open.
/// The log file and what is known of it (see `Shared::io`).
struct Io {
    file: File,
    /// The length of the file after the last whole group.
    len: u64,
    /// Written and not yet synced (`everysec`, `no`).
    dirty: bool,
    last_sync: Instant,
    failed: bool,
    /// Groups written, to tell whether a sync begun after one covers the next.
    writes: u64,
}

const EVERY_SEC: Duration = Duration::from_secs(1);

/// How long a caller writing through (`everysec`, `no`) waits for another's write before it
/// leaves its records to the writer thread.
const WRITE_THROUGH_WAIT: Duration = Duration::from_micros(200);

/// How long the writer waits for more records before a write under `everysec` and `no`.
const GATHER: Duration = Duration::from_micros(50);
/// A group this big is written at once.
const GATHER_BYTES: usize = 64 << 10;

fn policy(s: &Shared) -> FsyncPolicy {
    FsyncPolicy::from_u8(s.policy.load(Ordering::Relaxed))
}

/// The writer thread: waits for records, then writes (and under `always` syncs) every
/// pending record of every caller as one group; syncs once a second under `everysec`;
/// switches files for a rewrite; on stop, writes and syncs what is left.
fn run_writer(s: &Shared) {
    let mut buf = Vec::new();
    loop {
        {
            let mut p = s.pending.lock();
            loop {
                if !p.buf.is_empty() || p.stop || p.switch.is_some() {
                    break;
                }
                p.writer_waiting = true;
                let timed = match policy(s) {
                    FsyncPolicy::EverySec => {
                        // `try_lock`: a caller writing through holds `io` for a moment only.
                        let io = s.io.try_lock();
                        io.filter(|io| io.dirty)
                            .map(|io| EVERY_SEC.saturating_sub(io.last_sync.elapsed()))
                    }
                    _ => None,
                };
                match timed {
                    Some(left) if left.is_zero() => {
                        p.writer_waiting = false;
                        break;
                    }
                    Some(left) => {
                        s.wake.wait_for(&mut p, left);
                    }
                    // Look again within a second: appends do not wake it under `everysec`
                    // and `no` (see `Log::append`).
                    None if policy(s) != FsyncPolicy::Always => {
                        s.wake.wait_for(&mut p, EVERY_SEC);
                    }
                    None => s.wake.wait(&mut p),
                }
                p.writer_waiting = false;
            }
            // Without a sync to wait for, a group written the moment its first record
            // arrives is a record or two, and each costs a write and a wake-up: wait a
            // moment for the others of the same burst. (Under `always` the previous fsync
            // did the gathering.)
            if policy(s) != FsyncPolicy::Always
                && !p.buf.is_empty()
                && p.buf.len() < GATHER_BYTES
                && !p.stop
                && p.switch.is_none()
            {
                parking_lot::MutexGuard::unlocked(&mut p, || std::thread::sleep(GATHER));
            }
        }
        // `io` before `pending`, as `Log::flush` takes them: the group and the switch are
        // taken with the file held, so no caller writes a record to the old file after the
        // switch took the side buffer.
        let mut io = s.io.lock();
        let (seq, records, stop, switch) = {
            let mut p = s.pending.lock();
            std::mem::swap(&mut p.buf, &mut buf);
            let records = std::mem::take(&mut p.records);
            // The switch takes the rest of the side buffer in the same critical section as
            // this group, so every record is either in the side buffer copied so far or in
            // this group or after the switch.
            let switch = p
                .switch
                .take()
                .map(|sw| (sw, p.side.take().unwrap_or_default()));
            s.pending_records.store(0, Ordering::Relaxed);
            s.pending_bytes.store(0, Ordering::Relaxed);
            (p.last_seq, records, p.stop, switch)
        };
        if !buf.is_empty() {
            io.write_group(s, &buf, seq, records);
            buf.clear();
            if buf.capacity() > 4 << 20 {
                buf = Vec::new();
            }
        }
        if io.dirty
            && !io.failed
            && policy(s) == FsyncPolicy::EverySec
            && io.last_sync.elapsed() >= EVERY_SEC
        {
            // The once-a-second sync runs on a second handle of the file, without `io`:
            // callers writing through (`Log::flush`) must not wait for a disk's fsync.
            let (dup, writes) = (io.file.try_clone(), io.writes);
            drop(io);
            let started = Instant::now();
            let synced = dup.and_then(|f| f.sync_data());
            io = s.io.lock();
            match synced {
                Ok(()) => {
                    s.fsyncs.fetch_add(1, Ordering::Relaxed);
                    s.last_fsync_us
                        .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                    // What was written during the sync may not be in it.
                    if io.writes == writes {
                        io.dirty = false;
                    }
                    io.last_sync = started;
                }
                Err(e) => io.fail(s, &e),
            }
        }
        if let Some((sw, side)) = switch {
            let reply = sw.reply.clone();
            let _ = reply.send(io.switch(s, sw, side));
        }
        if stop {
            if io.dirty && !io.failed {
                if let Err(e) = io.sync(s) {
                    io.fail(s, &e);
                }
            }
            return;
        }
    }
}

impl Io {
    fn new(file: File, len: u64) -> Io {
        Io {
            file,
            len,
            dirty: false,
            last_sync: Instant::now(),
            failed: false,
            writes: 0,
        }
    }

    fn write_group(&mut self, s: &Shared, buf: &[u8], seq: u64, records: u64) {
        if self.failed {
            return;
        }
        let policy = policy(s);
        let result = (|| {
            #[cfg(test)]
            if s.inject_write_error.swap(false, Ordering::Relaxed) {
                return Err(io::Error::other("injected write failure"));
            }
            self.file.write_all(buf)?;
            self.dirty = true;
            self.writes += 1;
            if policy == FsyncPolicy::Always {
                self.sync(s)?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                self.len += buf.len() as u64;
                s.bytes.store(self.len, Ordering::Relaxed);
                s.records.fetch_add(records, Ordering::Relaxed);
                s.writes.fetch_add(1, Ordering::Relaxed);
                s.complete(seq, None);
            }
            Err(e) => {
                // No gap after an acknowledged record: cut the partial group off (best
                // effort; at the next open a partial record is a torn tail anyway).
                let _ = self.file.set_len(self.len);
                // The group before was complete: its tickets are durable unless a sync
                // failed, which `fail` covers by failing everything after `durable`.
                self.fail(s, &e);
            }
        }
    }

    fn sync(&mut self, s: &Shared) -> io::Result<()> {
        let t = Instant::now();
        self.file.sync_data()?;
        s.fsyncs.fetch_add(1, Ordering::Relaxed);
        s.last_fsync_us
            .store(t.elapsed().as_micros() as u64, Ordering::Relaxed);
        self.dirty = false;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Enters the failed state: every batch not durable yet, and any later append, fails
    /// with `e`.
    fn fail(&mut self, s: &Shared, e: &io::Error) {
        self.failed = true;
        // Nothing more is synced or written: no retry loop logging the same error.
        self.dirty = false;
        let reason: Arc<str> = Arc::from(e.to_string());
        tracing::error!(path = %s.path.display(), error = %e, "log write failed: the log takes no more records");
        s.failed.store(true, Ordering::Relaxed);
        s.pending.lock().failed = Some(reason.clone());
        // `durable` stays where it is: tickets after it get the error.
        let durable = s.done.lock().durable;
        s.complete(durable, Some(reason));
    }

    /// Finishes a rewrite: the side buffer's rest into the new file, sync, rename over the
    /// log, sync the directory, and write to the new file from now on.
    fn switch(&mut self, s: &Shared, mut sw: Switch, side: Side) -> Result<RewriteStats, LogError> {
        let path = s.path.clone();
        if self.failed {
            let _ = std::fs::remove_file(&sw.tmp_path);
            let reason = s.pending.lock().failed.clone();
            return Err(LogError::Failed {
                path,
                reason: reason.unwrap_or_else(|| Arc::from("failed")),
            });
        }
        let result = (|| {
            sw.tmp.write_all(&side.buf)?;
            sw.tmp.sync_data()?;
            std::fs::rename(&sw.tmp_path, &path)?;
            File::open(&s.dir)?.sync_all()
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&sw.tmp_path);
            return Err(io_err("cannot switch to the rewritten log", &path)(e));
        }
        // Anything written to the old file and not synced is in the new file, synced.
        self.file = sw.tmp;
        self.dirty = false;
        self.len = sw.bytes + side.buf.len() as u64;
        let tail_records = sw.tail_records + side.records;
        let records = sw.snapshot_records + tail_records;
        s.bytes.store(self.len, Ordering::Relaxed);
        s.records.store(records, Ordering::Relaxed);
        s.rewrites.fetch_add(1, Ordering::Relaxed);
        tracing::info!(path = %path.display(), file = %s.file_name, records, bytes = self.len, "log rewritten");
        Ok(RewriteStats {
            snapshot_records: sw.snapshot_records,
            tail_records,
            bytes: self.len,
            elapsed: Duration::ZERO,
        })
    }
}

#[cfg(test)]
mod tests;
