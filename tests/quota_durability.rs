//! Durability of quota state over TCP against the real binary (`persist::journal` over the
//! append-only log): SIGKILL at random moments while clients charge, with and without a
//! BGSAVE compacting the log; a torn tail; a corrupted middle; restarts after SAVE, after
//! keyspace commands on quota keys, with a lowered plan; a hold that expires while the
//! server is down; and the data-directory lock.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{reply_len, temp_dir, Binary, Rng};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// A RESP2 client that reports a dead connection instead of panicking
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum V {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Arr(Vec<V>),
}

impl V {
    /// The value of `field` in a map (a flat array of pairs in RESP2).
    fn get(&self, field: &str) -> &V {
        let V::Arr(items) = self else {
            panic!("not a map: {self:?}");
        };
        items
            .chunks(2)
            .find(|kv| kv[0] == V::Bulk(field.as_bytes().to_vec()))
            .map(|kv| &kv[1])
            .unwrap_or_else(|| panic!("no {field:?} in {self:?}"))
    }

    fn int(&self, field: &str) -> i64 {
        match self.get(field) {
            V::Int(n) => *n,
            other => panic!("{field} is {other:?} in {self:?}"),
        }
    }

    fn items(&self) -> &[V] {
        match self {
            V::Arr(items) => items,
            other => panic!("not an array: {other:?}"),
        }
    }

    fn text(&self) -> String {
        match self {
            V::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            V::Simple(s) | V::Err(s) => s.clone(),
            other => panic!("not a string: {other:?}"),
        }
    }
}

/// Parses one complete RESP2 reply (`reply_len` found it whole).
fn parse(b: &[u8]) -> (V, usize) {
    let end = b.windows(2).position(|w| w == b"\r\n").unwrap();
    let line = String::from_utf8_lossy(&b[1..end]).into_owned();
    let after = end + 2;
    match b[0] {
        b'+' => (V::Simple(line), after),
        b'-' => (V::Err(line), after),
        b':' => (V::Int(line.parse().unwrap()), after),
        b'$' => {
            let n: i64 = line.parse().unwrap();
            if n < 0 {
                return (V::Nil, after);
            }
            let n = n as usize;
            (V::Bulk(b[after..after + n].to_vec()), after + n + 2)
        }
        b'*' => {
            let n: i64 = line.parse().unwrap();
            if n < 0 {
                return (V::Nil, after);
            }
            let mut at = after;
            let mut items = Vec::new();
            for _ in 0..n {
                let (v, used) = parse(&b[at..]);
                items.push(v);
                at += used;
            }
            (V::Arr(items), at)
        }
        other => panic!("unexpected reply type {:?}", other as char),
    }
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn connect(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        // A guard against a hang, not a speed check.
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
        })
    }

    fn send(&mut self, commands: &[Vec<String>]) -> std::io::Result<()> {
        let mut out = Vec::new();
        for c in commands {
            let args: Vec<&[u8]> = c.iter().map(|a| a.as_bytes()).collect();
            out.extend_from_slice(&common::Raw::encode(&args));
        }
        self.stream.write_all(&out)
    }

    /// The next reply; None once the connection is gone.
    fn read(&mut self) -> Option<V> {
        loop {
            if let Some(n) = reply_len(&self.buf) {
                let (v, used) = parse(&self.buf[..n]);
                assert_eq!(used, n);
                self.buf.drain(..n);
                return Some(v);
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// One command, which must be answered.
    fn cmd(&mut self, line: &str) -> V {
        let args = line.split(' ').map(str::to_string).collect();
        self.send(&[args]).unwrap();
        self.read().expect("the connection closed before a reply")
    }

    /// Many commands, pipelined, every one answered.
    fn pipeline(&mut self, commands: &[Vec<String>]) -> Vec<V> {
        let mut replies = Vec::with_capacity(commands.len());
        for chunk in commands.chunks(256) {
            self.send(chunk).unwrap();
            for _ in chunk {
                replies.push(self.read().expect("the connection closed before a reply"));
            }
        }
        replies
    }
}

// ---------------------------------------------------------------------------------------------
// The binary on a data directory
// ---------------------------------------------------------------------------------------------

struct Server {
    bin: Binary,
    addr: SocketAddr,
}

/// Spawns the binary on `dir` (no save points: the tests say when to save) and waits for it.
fn start(dir: &Path, extra: &[&str]) -> Server {
    let bin = spawn(dir, extra);
    let addr = bin
        .ready(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("not ready: {}", bin.log()));
    Server { bin, addr }
}

fn spawn(dir: &Path, extra: &[&str]) -> Binary {
    let dir = dir.display().to_string();
    let mut args = vec!["--port", "0", "--dir", &dir, "--save", ""];
    args.extend_from_slice(extra);
    Binary::spawn(&args).unwrap()
}

impl Server {
    fn conn(&self) -> Conn {
        Conn::connect(self.addr).unwrap()
    }

    /// SIGKILL, and wait for it to be gone (its stderr is then all in the log).
    fn kill(&mut self) {
        self.bin.child.kill().unwrap();
        self.bin.wait(Duration::from_secs(20)).expect("gone");
    }
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("tollgate.log")
}

/// `used` of `metric/window` in a STATUS or mutation reply.
fn used(reply: &V, metric: &str, window: &str) -> i64 {
    reply
        .get("windows")
        .items()
        .iter()
        .find(|w| w.get("metric").text() == metric && w.get("window").text() == window)
        .unwrap_or_else(|| panic!("no {metric}/{window} in {reply:?}"))
        .int("used")
}

fn status(c: &mut Conn, subject: &str, plan: &str) -> V {
    let r = c.cmd(&format!("QUOTA.STATUS {subject} PLAN {plan}"));
    assert!(matches!(r, V::Arr(_)), "STATUS {subject}: {r:?}");
    r
}

/// `tokens` used today by `subject` under pro_annual.
fn tokens_used(c: &mut Conn, subject: &str) -> i64 {
    used(&status(c, subject, "pro_annual"), "tokens", "day")
}

fn charge_args(subject: &str, amount: u64, id: &str) -> Vec<String> {
    format!("QUOTA.CHARGE {subject} tokens {amount} ID {id} PLAN pro_annual")
        .split(' ')
        .map(str::to_string)
        .collect()
}

/// A charge that must be allowed; returns whether it was a replay.
fn charged(reply: &V, what: &str) -> bool {
    assert!(matches!(reply, V::Arr(_)), "{what}: {reply:?}");
    assert_eq!(reply.int("allowed"), 1, "{what}: {reply:?}");
    reply.int("replayed") == 1
}

// ---------------------------------------------------------------------------------------------
// 1. Crash test: SIGKILL at random moments under load, 20+ times on the same directory
// ---------------------------------------------------------------------------------------------

const SUBJECTS: usize = 16;
const THREADS: usize = 4;

/// One charge a client sent: its subject, amount and whether a reply acknowledged it.
#[derive(Debug, Clone)]
struct Sent {
    id: String,
    subject: usize,
    amount: u64,
    acked: bool,
}

/// A client: batches of one to three pipelined charges with fresh ids until the connection
/// dies (the kill) or `stop`.
fn client(
    addr: SocketAddr,
    round: usize,
    thread: usize,
    seed: u64,
    stop: &AtomicBool,
) -> Vec<Sent> {
    let mut rng = Rng(seed | 1);
    let mut sent = Vec::new();
    let Ok(mut c) = Conn::connect(addr) else {
        return sent;
    };
    // Bounded (the kill usually comes first): at most 900 ids per thread and round keeps a
    // subject's ids well under the number it remembers (`DEFAULT_MAX_IDS`), so that a
    // retry at the end is a replay however fast the machine.
    for n in 0..300 {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let k = 1 + rng.below(3);
        let first = sent.len();
        let mut batch = Vec::new();
        for j in 0..k {
            let s = Sent {
                id: format!("r{round}t{thread}n{n}j{j}"),
                subject: rng.below(SUBJECTS),
                amount: 1 + rng.below(100) as u64,
                acked: false,
            };
            batch.push(charge_args(&format!("sub:{}", s.subject), s.amount, &s.id));
            sent.push(s);
        }
        if c.send(&batch).is_err() {
            break;
        }
        let mut alive = true;
        for s in &mut sent[first..] {
            match c.read() {
                Some(reply) => {
                    let replayed = charged(&reply, &s.id);
                    assert!(!replayed, "a fresh id {} was replayed: {reply:?}", s.id);
                    s.acked = true;
                }
                None => {
                    alive = false;
                    break;
                }
            }
        }
        if !alive {
            break;
        }
    }
    sent
}

/// Sends BGSAVE every few milliseconds until the connection dies; returns how many started.
fn bgsaver(addr: SocketAddr, stop: &AtomicBool, started: &AtomicU64) {
    let Ok(mut c) = Conn::connect(addr) else {
        return;
    };
    for _ in 0..100_000 {
        if stop.load(Ordering::Relaxed) || c.send(&[vec!["BGSAVE".into()]]).is_err() {
            return;
        }
        match c.read() {
            Some(V::Simple(s)) if s.starts_with("Background saving started") => {
                started.fetch_add(1, Ordering::Relaxed);
            }
            // One already running.
            Some(V::Err(e)) if e.contains("already in progress") => {}
            Some(other) => panic!("BGSAVE: {other:?}"),
            None => return,
        }
        std::thread::sleep(Duration::from_millis(3));
    }
}

/// Files a save or a log rewrite leaves behind when killed in the middle.
fn leftovers(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("temp-") || name.ends_with(".rewrite.tmp")
        })
        .count()
}

/// The books of every charge ever sent, and their checks after a restart.
#[derive(Default)]
struct Books {
    /// Every id sent, with its subject and amount.
    all: HashMap<String, (usize, u64)>,
    /// Ids known applied (acknowledged, or resolved by a retry after a restart).
    applied: HashSet<String>,
    /// Ids sent whose outcome is unknown (the connection died before the reply).
    unknown: Vec<String>,
    /// Ids acknowledged in the last round (the most at risk).
    last_acked: Vec<String>,
    /// How many replies acknowledged a charge before a kill.
    acked: usize,
}

impl Books {
    fn record(&mut self, sent: Vec<Sent>) {
        for s in sent {
            assert!(self
                .all
                .insert(s.id.clone(), (s.subject, s.amount))
                .is_none());
            if s.acked {
                self.acked += 1;
                self.applied.insert(s.id.clone());
                self.last_acked.push(s.id);
            } else {
                self.unknown.push(s.id);
            }
        }
    }

    fn sum(&self, subject: usize, ids: impl Iterator<Item = String>) -> i64 {
        ids.filter_map(|id| self.all.get(&id).copied())
            .filter(|&(s, _)| s == subject)
            .map(|(_, a)| a as i64)
            .sum()
    }

    fn retry(&self, c: &mut Conn, ids: &[String]) -> Vec<V> {
        let cmds: Vec<Vec<String>> = ids
            .iter()
            .map(|id| {
                let (s, a) = self.all[id];
                charge_args(&format!("sub:{s}"), a, id)
            })
            .collect();
        c.pipeline(&cmds)
    }

    /// After a restart: every acknowledged charge is there; an unknown one, retried, applies
    /// at most once; then `used` is exactly the sum of every charge sent.
    fn check(&mut self, c: &mut Conn, rng: &mut Rng, when: &str) {
        for s in 0..SUBJECTS {
            let used = tokens_used(c, &format!("sub:{s}"));
            let acked = self.sum(s, self.applied.iter().cloned());
            let sent = self.sum(s, self.all.keys().cloned());
            assert!(
                used >= acked && used <= sent,
                "{when}: sub:{s} used {used}, acknowledged {acked}, sent {sent}"
            );
        }
        // Every charge acknowledged in the round just killed, and a sample of older ones,
        // retried with its id: a replay of the first outcome.
        let mut probe: Vec<String> = std::mem::take(&mut self.last_acked);
        let older: Vec<&String> = self.applied.iter().collect();
        for _ in 0..50.min(older.len()) {
            probe.push(older[rng.below(older.len())].clone());
        }
        for (id, r) in probe.iter().zip(self.retry(c, &probe)) {
            assert!(
                charged(&r, id),
                "{when}: acknowledged {id} not remembered: {r:?}"
            );
        }
        // The unknown ones: a retry applies each at most once, a second retry replays it.
        let unknown = std::mem::take(&mut self.unknown);
        let first = self.retry(c, &unknown);
        for (id, r) in unknown.iter().zip(&first) {
            charged(r, id);
        }
        for (id, r) in unknown.iter().zip(self.retry(c, &unknown)) {
            assert!(
                charged(&r, id),
                "{when}: retried {id} not remembered: {r:?}"
            );
        }
        self.applied.extend(unknown);
        for s in 0..SUBJECTS {
            let used = tokens_used(c, &format!("sub:{s}"));
            let sent = self.sum(s, self.all.keys().cloned());
            assert_eq!(used, sent, "{when}: sub:{s} is not the sum of its charges");
        }
    }
}

fn crash_test(appendfsync: &str, rounds: usize, seed: u64) {
    let started = Instant::now();
    let dir = temp_dir(&format!("quota-crash-{appendfsync}"));
    let mut rng = Rng(seed ^ u64::from(std::process::id()));
    let mut books = Books::default();
    let (mut bgsave_rounds, mut saves_started, mut killed_mid_save) = (0, 0, 0);
    for round in 0..rounds {
        let before = leftovers(&dir);
        let mut server = start(&dir, &["--appendfsync", appendfsync]);
        books.check(&mut server.conn(), &mut rng, &format!("round {round}"));
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..THREADS)
            .map(|t| {
                let (addr, stop, seed) = (server.addr, stop.clone(), rng.next());
                std::thread::spawn(move || client(addr, round, t, seed, &stop))
            })
            .collect();
        // Every third round, BGSAVEs back to back, so kills land in the middle of saves and
        // log compactions.
        let saving = round % 3 == 1;
        let saves = Arc::new(AtomicU64::new(0));
        let saver = saving.then(|| {
            let (addr, stop, saves) = (server.addr, stop.clone(), saves.clone());
            std::thread::spawn(move || bgsaver(addr, &stop, &saves))
        });
        std::thread::sleep(Duration::from_millis(50 + rng.below(400) as u64));
        if saving {
            // Kill a few milliseconds after a save started, often in the middle of it.
            let seen = saves.load(Ordering::Relaxed);
            common::wait_for(Duration::from_secs(10), || {
                saves.load(Ordering::Relaxed) > seen
            });
            std::thread::sleep(Duration::from_millis(rng.below(8) as u64));
        }
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            books.record(c.join().unwrap());
        }
        if let Some(s) = saver {
            s.join().unwrap();
            bgsave_rounds += 1;
            saves_started += saves.load(Ordering::Relaxed);
        }
        if leftovers(&dir) > before {
            killed_mid_save += 1;
        }
    }
    // The last restart: every id retried once more is a replay, and `used` is the sum of
    // every charge, each counted once.
    let mut server = start(&dir, &["--appendfsync", appendfsync]);
    let mut c = server.conn();
    books.check(&mut c, &mut rng, "the last restart");
    let ids: Vec<String> = books.all.keys().cloned().collect();
    for (id, r) in ids.iter().zip(books.retry(&mut c, &ids)) {
        assert!(charged(&r, id), "at the end, {id} is not remembered: {r:?}");
    }
    for s in 0..SUBJECTS {
        let used = tokens_used(&mut c, &format!("sub:{s}"));
        assert_eq!(
            used,
            books.sum(s, ids.iter().cloned()),
            "sub:{s} at the end"
        );
    }
    let acked = books.acked;
    assert!(
        books.all.len() > rounds * THREADS,
        "the clients charged almost nothing: {}",
        books.all.len()
    );
    server.kill();
    eprintln!(
        "appendfsync {appendfsync}: {rounds} SIGKILLs, {} charges ({acked} acknowledged, the others \
         resolved by a retry), {bgsave_rounds} rounds under BGSAVE ({saves_started} saves started, \
         {killed_mid_save} kills left a save or rewrite half done), {:?}",
        books.all.len(),
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn acknowledged_charges_survive_sigkill_appendfsync_always() {
    crash_test("always", 21, 0x005e_eda1_ba5e);
}

#[test]
fn acknowledged_charges_survive_sigkill_appendfsync_everysec() {
    crash_test("everysec", 21, 0x0e5e_c0de_f00d);
}

// ---------------------------------------------------------------------------------------------
// 2, 3. A torn tail is dropped; a corrupted middle stops the start
// ---------------------------------------------------------------------------------------------

/// `count` charges of `amount` tokens to `subject` with ids `<prefix><i>`, each acknowledged.
fn charge_n(c: &mut Conn, subject: &str, prefix: &str, count: usize, amount: u64) {
    for i in 0..count {
        let r = c.cmd(&format!(
            "QUOTA.CHARGE {subject} tokens {amount} ID {prefix}{i}"
        ));
        assert!(!charged(&r, "charge_n"), "{r:?}");
    }
}

/// `used` of tokens/day under the subject's own plan.
fn day_used(c: &mut Conn, subject: &str) -> i64 {
    let r = c.cmd(&format!("QUOTA.STATUS {subject}"));
    used(&r, "tokens", "day")
}

/// The log's records: (offset, payload length).
fn records(bytes: &[u8]) -> Vec<(usize, usize)> {
    use tollgate::persist::log::{HEADER_LEN, RECORD_HEADER_LEN};
    let mut at = HEADER_LEN;
    let mut out = Vec::new();
    while at + RECORD_HEADER_LEN <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        assert!(at + RECORD_HEADER_LEN + len <= bytes.len(), "a whole log");
        out.push((at, len));
        at += RECORD_HEADER_LEN + len;
    }
    assert_eq!(at, bytes.len());
    out
}

#[test]
fn a_torn_tail_is_dropped_with_a_warning_and_the_charges_before_it_stay() {
    for case in ["last record cut short", "a partial record appended"] {
        let dir = temp_dir("quota-torn");
        let mut server = start(&dir, &[]);
        let mut c = server.conn();
        charge_n(&mut c, "torn", "c", 5, 10);
        server.kill();
        let path = log_path(&dir);
        let mut bytes = std::fs::read(&path).unwrap();
        let want = if case == "last record cut short" {
            // The last record is the fifth charge.
            bytes.truncate(bytes.len() - 3);
            40
        } else {
            bytes.extend_from_slice(&200u32.to_le_bytes());
            bytes.extend_from_slice(&[0xab; 4]);
            bytes.extend_from_slice(&[b'x'; 50]);
            50
        };
        std::fs::write(&path, &bytes).unwrap();

        let mut server = start(&dir, &[]);
        let log = server.bin.log();
        assert!(log.contains("torn"), "{case}: no warning: {log}");
        let mut c = server.conn();
        assert_eq!(day_used(&mut c, "torn"), want, "{case}");
        for i in 0..4 {
            let r = c.cmd(&format!("QUOTA.CHARGE torn tokens 10 ID c{i}"));
            assert!(charged(&r, case), "{case}: c{i} is not remembered: {r:?}");
        }
        // The log goes on after the cut: a new charge survives the next kill.
        charge_n(&mut c, "torn", "after", 1, 1);
        server.kill();
        let server = start(&dir, &[]);
        assert_eq!(day_used(&mut server.conn(), "torn"), want + 1, "{case}");
        drop(server);
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_corrupted_middle_stops_the_start_and_leaves_the_file_unless_asked_to_truncate() {
    use tollgate::quota::mutation::{decode_record, Record};
    let dir = temp_dir("quota-corrupt");
    let mut server = start(&dir, &[]);
    let mut c = server.conn();
    charge_n(&mut c, "corrupt", "c", 10, 10);
    server.kill();
    let path = log_path(&dir);
    let mut bytes = std::fs::read(&path).unwrap();
    let ops: Vec<(usize, usize)> = records(&bytes)
        .into_iter()
        .filter(|&(at, len)| {
            let payload = &bytes[at + 8..at + 8 + len];
            matches!(decode_record(payload), Ok(Record::Op { .. }))
        })
        .collect();
    assert_eq!(ops.len(), 10, "one record per charge");
    // A byte in the middle of the sixth charge's payload.
    let (offset, len) = ops[5];
    bytes[offset + 8 + len / 2] ^= 0x41;
    std::fs::write(&path, &bytes).unwrap();

    let mut refused = spawn(&dir, &[]);
    let status = refused.wait(Duration::from_secs(30)).expect("exits");
    let log = refused.log();
    assert!(!status.success(), "started anyway: {log}");
    assert!(!log.contains("ready to accept"), "{log}");
    assert!(
        log.contains(&path.display().to_string()) && log.contains(&format!("byte {offset}")),
        "the message names the file and the offset {offset}: {log}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the file is unchanged"
    );

    let server = start(&dir, &["--truncate-corrupt-log", "yes"]);
    let log = server.bin.log();
    assert!(log.contains("corrupted"), "a warning: {log}");
    let mut c = server.conn();
    assert_eq!(
        day_used(&mut c, "corrupt"),
        50,
        "the five charges before it"
    );
    for i in 0..5 {
        let r = c.cmd(&format!("QUOTA.CHARGE corrupt tokens 10 ID c{i}"));
        assert!(charged(&r, "before"), "c{i} is not remembered: {r:?}");
    }
    drop(c);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

// ---------------------------------------------------------------------------------------------
// 4. Restarts: after a SAVE, after keyspace commands, on a locked directory, with new plans
// ---------------------------------------------------------------------------------------------

#[test]
fn charges_before_and_after_a_save_are_each_applied_once() {
    let dir = temp_dir("quota-save");
    let mut server = start(&dir, &[]);
    let mut c = server.conn();
    charge_n(&mut c, "a", "before", 3, 10);
    charge_n(&mut c, "b", "before", 1, 7);
    assert_eq!(c.cmd("SAVE"), V::Simple("OK".into()));
    charge_n(&mut c, "a", "after", 2, 100);
    charge_n(&mut c, "c", "after", 1, 5);
    server.kill();
    // Twice: a restart appends to the log the next one replays again.
    for restart in 0..2 {
        let mut server = start(&dir, &[]);
        let mut c = server.conn();
        assert_eq!(day_used(&mut c, "a"), 230, "restart {restart}");
        assert_eq!(day_used(&mut c, "b"), 7, "restart {restart}");
        assert_eq!(day_used(&mut c, "c"), 5, "restart {restart}");
        let r = c.cmd("QUOTA.CHARGE a tokens 10 ID before0");
        assert!(charged(&r, "before0"), "{r:?}");
        let r = c.cmd("QUOTA.CHARGE a tokens 100 ID after1");
        assert!(charged(&r, "after1"), "{r:?}");
        let ledger = c.cmd("QUOTA.LEDGER a COUNT 100");
        assert_eq!(ledger.items().len(), 5, "one entry per charge: {ledger:?}");
        server.kill();
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A save that failed after tagging shards with its generation leaves records of that
/// generation in the log while the snapshot on disk is older. After a restart, the next
/// snapshot must get a generation above them: were it given the same one, and its compaction
/// of the log did not happen (failed, or a crash between the two renames), the replay would
/// apply those records again on a snapshot that holds them. Charges without ids are not
/// idempotent: applied twice, they count twice.
#[test]
fn records_of_a_failed_save_are_not_applied_twice_after_a_later_save() {
    let dir = temp_dir("quota-failed-save");
    let mut server = start(&dir, &[]);
    let mut c = server.conn();
    assert!(!charged(&c.cmd("QUOTA.CHARGE f tokens 10"), "first"));
    // The snapshot cannot replace a non-empty directory: the save fails after copying.
    let blocker = dir.join("tollgate.snapshot");
    std::fs::create_dir_all(blocker.join("x")).unwrap();
    assert!(matches!(c.cmd("SAVE"), V::Err(_)));
    assert!(!charged(&c.cmd("QUOTA.CHARGE f tokens 100"), "second"));
    std::fs::remove_dir_all(&blocker).unwrap();
    server.kill();

    let mut server = start(&dir, &[]);
    let mut c = server.conn();
    assert_eq!(day_used(&mut c, "f"), 110);
    // The snapshot is written, the log is not compacted (its temporary file cannot be
    // created): the whole old log stays beside the new snapshot.
    let blocker = dir.join("tollgate.log.rewrite.tmp");
    std::fs::create_dir_all(blocker.join("x")).unwrap();
    assert_eq!(c.cmd("SAVE"), V::Simple("OK".into()));
    server.kill();
    std::fs::remove_dir_all(&blocker).unwrap();

    for restart in 0..2 {
        let mut server = start(&dir, &[]);
        assert_eq!(day_used(&mut server.conn(), "f"), 110, "restart {restart}");
        server.kill();
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Every quota key of databases 0..8 with its tokens used today and whether it has a TTL.
fn quota_view(c: &mut Conn) -> Vec<(usize, String, i64, bool)> {
    let mut view = Vec::new();
    for db in 0..8 {
        assert_eq!(c.cmd(&format!("SELECT {db}")), V::Simple("OK".into()));
        let mut keys: Vec<String> = c.cmd("KEYS *").items().iter().map(V::text).collect();
        keys.sort();
        for k in keys {
            if c.cmd(&format!("TYPE {k}")) != V::Simple("quota".into()) {
                continue;
            }
            let used = day_used(c, &k);
            let ttl = matches!(c.cmd(&format!("PTTL {k}")), V::Int(t) if t >= 0);
            view.push((db, k, used, ttl));
        }
    }
    assert_eq!(c.cmd("SELECT 0"), V::Simple("OK".into()));
    view
}

#[test]
fn keyspace_commands_on_quota_keys_survive_sigkill() {
    let dir = temp_dir("quota-keyspace");
    let mut server = start(&dir, &[]);
    let mut c = server.conn();
    let ok = V::Simple("OK".into());
    // FLUSHALL first: it takes every database.
    charge_n(&mut c, "q:flushed", "x", 1, 10);
    assert_eq!(c.cmd("SELECT 1"), ok);
    charge_n(&mut c, "q:flushed1", "x", 1, 10);
    assert_eq!(c.cmd("FLUSHALL"), ok);
    assert_eq!(c.cmd("SELECT 0"), ok);
    // A snapshot in the middle: some drops are of keys it holds.
    for k in [
        "q:del", "q:a", "q:over1", "q:over2", "q:exp", "q:exp2", "q:ttl", "q:per",
    ] {
        charge_n(&mut c, k, "x", 1, 10);
    }
    charge_n(&mut c, "q:c", "x", 1, 12);
    charge_n(&mut c, "q:r1", "x", 1, 10);
    charge_n(&mut c, "q:r2", "x", 1, 20);
    assert_eq!(c.cmd("SET q:over2 plain"), ok);
    assert_eq!(c.cmd("SAVE"), ok);
    assert_eq!(c.cmd("DEL q:del"), V::Int(1));
    assert_eq!(c.cmd("RENAME q:a q:b"), ok);
    charge_n(&mut c, "q:b", "y", 1, 5);
    assert_eq!(c.cmd("SET q:over1 plain"), ok);
    assert_eq!(c.cmd("EXPIRE q:exp 1"), V::Int(1));
    assert_eq!(c.cmd("EXPIRE q:exp2 3"), V::Int(1));
    assert_eq!(c.cmd("EXPIRE q:ttl 1000"), V::Int(1));
    assert_eq!(c.cmd("EXPIRE q:per 1"), V::Int(1));
    assert_eq!(c.cmd("PERSIST q:per"), V::Int(1));
    assert_eq!(c.cmd("COPY q:c q:c2"), V::Int(1));
    assert_eq!(c.cmd("COPY q:c q:c3 DB 3"), V::Int(1));
    // Onto an existing subject: it is replaced.
    assert_eq!(c.cmd("RENAME q:r1 q:r2"), ok);
    charge_n(&mut c, "q:past", "x", 1, 10);
    assert_eq!(c.cmd("EXPIRE q:past -1"), V::Int(1));
    charge_n(&mut c, "q:c2", "y", 1, 1);
    assert_eq!(c.cmd("SELECT 4"), ok);
    charge_n(&mut c, "q:sw", "x", 1, 13);
    assert_eq!(c.cmd("SWAPDB 4 5"), ok);
    assert_eq!(c.cmd("SELECT 6"), ok);
    charge_n(&mut c, "q:f6", "x", 1, 10);
    assert_eq!(c.cmd("FLUSHDB"), ok);
    assert_eq!(c.cmd("SELECT 7"), ok);
    charge_n(&mut c, "q:keep", "x", 1, 9);
    assert_eq!(c.cmd("SELECT 0"), ok);
    // q:exp expires while the server runs (the sweep or a lookup drops it).
    assert!(common::wait_for(Duration::from_secs(10), || {
        c.cmd("EXISTS q:exp") == V::Int(0)
    }));
    let before = quota_view(&mut c);
    let keys: Vec<(usize, &str, i64, bool)> = before
        .iter()
        .map(|(db, k, u, t)| (*db, k.as_str(), *u, *t))
        .collect();
    assert_eq!(
        keys,
        [
            (0, "q:b", 15, false),
            (0, "q:c", 12, false),
            (0, "q:c2", 13, false),
            (0, "q:exp2", 10, true),
            (0, "q:per", 10, false),
            (0, "q:r2", 10, false),
            (0, "q:ttl", 10, true),
            (3, "q:c3", 12, false),
            (5, "q:sw", 13, false),
            (7, "q:keep", 9, false),
        ]
    );
    server.kill();

    let mut server = start(&dir, &[]);
    let mut c = server.conn();
    assert_eq!(quota_view(&mut c), before, "the quota keys after SIGKILL");
    let ttl = match c.cmd("TTL q:ttl") {
        V::Int(t) => t,
        other => panic!("{other:?}"),
    };
    assert!(ttl > 900 && ttl <= 1000, "TTL {ttl}");
    // Plain values are durable only in snapshots: the one saved is there, the one set after
    // the save is not, and in neither case does the quota state come back.
    assert_eq!(c.cmd("GET q:over2"), V::Bulk(b"plain".to_vec()));
    assert_eq!(c.cmd("TYPE q:over1"), V::Simple("none".into()));
    // q:exp2's TTL runs out while the server is down or just after it restarted.
    assert!(common::wait_for(Duration::from_secs(10), || {
        c.cmd("EXISTS q:exp2") == V::Int(0)
    }));
    server.kill();
    let mut server = start(&dir, &[]);
    let mut c = server.conn();
    let after: Vec<_> = before
        .into_iter()
        .filter(|(_, k, _, _)| k != "q:exp2")
        .collect();
    assert_eq!(quota_view(&mut c), after, "after the second SIGKILL");
    server.kill();
    let _ = std::fs::remove_dir_all(dir);
}

/// A quota command that finds its key's TTL passed drops the old subject itself (lazy
/// expiry) and starts a fresh one: the replay must do the same, not apply the charge on top
/// of the expired state and keep its deadline (which would then drop the new charge too).
#[test]
fn a_charge_after_the_key_expired_starts_afresh_after_a_restart_too() {
    let dir = temp_dir("quota-lazy");
    // Active expiry once a second: most of the charges right after the TTL find their key
    // expired themselves.
    let mut server = start(&dir, &["--hz", "1"]);
    let mut c = server.conn();
    for i in 0..5 {
        let k = format!("lazy:{i}");
        charge_n(&mut c, &k, "old", 1, 100);
        assert_eq!(c.cmd(&format!("PEXPIRE {k} 50")), V::Int(1));
    }
    std::thread::sleep(Duration::from_millis(120));
    for i in 0..5 {
        charge_n(&mut c, &format!("lazy:{i}"), "new", 1, 7);
    }
    let before = quota_view(&mut c);
    let want: Vec<(usize, String, i64, bool)> =
        (0..5).map(|i| (0, format!("lazy:{i}"), 7, false)).collect();
    assert_eq!(before, want);
    server.kill();
    for restart in 0..2 {
        let mut server = start(&dir, &[]);
        let mut c = server.conn();
        assert_eq!(quota_view(&mut c), want, "restart {restart}");
        server.kill();
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_second_server_on_the_same_directory_refuses_to_start() {
    let dir = temp_dir("quota-lock");
    let server = start(&dir, &[]);
    let mut second = spawn(&dir, &[]);
    let status = second.wait(Duration::from_secs(30)).expect("exits");
    let log = second.log();
    assert!(!status.success(), "started anyway: {log}");
    assert!(
        log.contains("in use by another tollgate process")
            && log.contains(&dir.display().to_string()),
        "{log}"
    );
    assert!(!log.contains("ready to accept"), "{log}");
    // The first goes on, and its log is intact.
    let mut c = server.conn();
    charge_n(&mut c, "locked", "x", 1, 10);
    assert_eq!(day_used(&mut c, "locked"), 10);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_restart_with_a_lowered_plan_keeps_every_charge() {
    let dir = temp_dir("quota-plans");
    let config = dir.join("tollgate.toml");
    let plan = |day: u64| format!("[quota.plans.tiny]\n\n[quota.plans.tiny.tokens]\nday = {day}\n");
    std::fs::write(&config, plan(1000)).unwrap();
    let config_arg = config.display().to_string();
    let args = ["--config", config_arg.as_str()];
    let mut server = start(&dir, &args);
    let mut c = server.conn();
    for i in 0..10 {
        let r = c.cmd(&format!("QUOTA.CHARGE p tokens 80 ID c{i} PLAN tiny"));
        assert!(!charged(&r, "tiny"), "{r:?}");
    }
    let r = c.cmd("QUOTA.CHARGE p tokens 300 ID denied PLAN tiny");
    assert_eq!(r.int("allowed"), 0, "over 1000: {r:?}");
    server.kill();

    std::fs::write(&config, plan(100)).unwrap();
    for restart in 0..2 {
        let mut server = start(&dir, &args);
        let mut c = server.conn();
        let r = status(&mut c, "p", "tiny");
        let day = r.get("windows").items()[0].clone();
        assert_eq!(
            (day.int("used"), day.int("limit")),
            (800, 100),
            "restart {restart}: {r:?}"
        );
        for i in 0..10 {
            let r = c.cmd(&format!("QUOTA.CHARGE p tokens 80 ID c{i} PLAN tiny"));
            assert!(charged(&r, "tiny"), "restart {restart}: c{i}: {r:?}");
        }
        let r = c.cmd("QUOTA.CHARGE p tokens 300 ID denied PLAN tiny");
        assert_eq!(
            (r.int("allowed"), r.int("replayed")),
            (0, 1),
            "restart {restart}: {r:?}"
        );
        let r = c.cmd("QUOTA.CHARGE p tokens 1 ID new PLAN tiny");
        assert_eq!(
            r.int("allowed"),
            0,
            "restart {restart}: over the new limit: {r:?}"
        );
        server.kill();
    }
    let _ = std::fs::remove_dir_all(dir);
}

// ---------------------------------------------------------------------------------------------
// 5. A hold whose TTL runs out while the server is down
// ---------------------------------------------------------------------------------------------

fn holds(c: &mut Conn, subject: &str) -> (usize, i64) {
    let r = c.cmd(&format!("QUOTA.STATUS {subject}"));
    let reserved = r
        .get("windows")
        .items()
        .iter()
        .find(|w| w.get("metric").text() == "tokens" && w.get("window").text() == "day")
        .unwrap()
        .int("reserved");
    (r.get("holds").items().len(), reserved)
}

fn ledger_ops(c: &mut Conn, subject: &str) -> Vec<String> {
    let r = c.cmd(&format!("QUOTA.LEDGER {subject} COUNT 100"));
    let mut ops: Vec<String> = r.items().iter().map(|e| e.get("op").text()).collect();
    ops.reverse();
    ops
}

#[test]
fn a_hold_that_expires_while_the_server_is_down_is_released_after_the_restart() {
    let dir = temp_dir("quota-hold");
    let mut server = start(&dir, &[]);
    let mut c = server.conn();
    let reserved_at = Instant::now();
    let r = c.cmd("QUOTA.RESERVE h tokens 100 ID h1 TTL 1s");
    assert_eq!(r.int("allowed"), 1, "{r:?}");
    // A second hold that expires once the server is back.
    let r = c.cmd("QUOTA.RESERVE h2 tokens 50 ID h2 TTL 4s");
    assert_eq!(r.int("allowed"), 1, "{r:?}");
    assert_eq!(holds(&mut c, "h"), (1, 100));
    server.kill();
    let wait = Duration::from_millis(1300).saturating_sub(reserved_at.elapsed());
    std::thread::sleep(wait);

    let mut server = start(&dir, &[]);
    let mut c = server.conn();
    assert_eq!(holds(&mut c, "h"), (0, 0), "released");
    assert_eq!(ledger_ops(&mut c, "h"), ["reserve", "expire"]);
    assert_eq!(day_used(&mut c, "h"), 0);
    assert_eq!(holds(&mut c, "h2"), (1, 50), "not yet expired");
    let wait = Duration::from_millis(4300).saturating_sub(reserved_at.elapsed());
    std::thread::sleep(wait);
    assert_eq!(holds(&mut c, "h2"), (0, 0), "released");
    assert_eq!(ledger_ops(&mut c, "h2"), ["reserve", "expire"]);
    server.kill();
    // Once more: the releases (by time alone, not logged) are the same after the replay.
    let mut server = start(&dir, &[]);
    let mut c = server.conn();
    for s in ["h", "h2"] {
        assert_eq!(holds(&mut c, s), (0, 0), "{s}");
        assert_eq!(ledger_ops(&mut c, s), ["reserve", "expire"], "{s}");
    }
    server.kill();
    let _ = std::fs::remove_dir_all(dir);
}
