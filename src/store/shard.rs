//! One shard of one database: its keys, their deadlines, the WATCHes on them and its
//! counters. Every mutation goes through here, so TTL bookkeeping, memory accounting and
//! WATCH invalidation cannot be forgotten by a command.

use super::access;
use super::entry::Entry;
use super::evict::Pick;
use super::table::KeyTable;
use super::volatile::{Due, Volatile};
use foldhash::fast::FixedState;
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

mod slot;
pub use slot::Slot;

/// A WATCH made by one client: set when a watched key is modified.
pub type WatchFlag = Arc<AtomicBool>;

#[derive(Debug, Default, Clone, Copy)]
pub struct ShardStats {
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
}

/// State of one keyspace that all its shards read or update. Per server, never per process:
/// two servers in one process (the tests) must not see each other's settings.
#[derive(Default)]
pub struct Shared {
    /// Data bytes across all shards (see `Shard::account`).
    pub used: AtomicI64,
    /// Whether keys track LFU counters instead of LRU stamps (an LFU `maxmemory-policy`).
    pub lfu: AtomicBool,
    /// Told about keyspace-level changes to journaled values (set once at start).
    pub journal: OnceLock<Arc<dyn Journal>>,
    /// Told about the keys of one database (the cache's) that expire or are evicted.
    pub reclaimed: OnceLock<(usize, Arc<dyn Reclaimed>)>,
    /// Clients waiting on keys (see `super::ready`).
    pub waiters: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("used", &self.used)
            .field("lfu", &self.lfu)
            .finish_non_exhaustive()
    }
}

/// Where keyspace-level changes to values of a journaled kind (quota state: durable between
/// snapshots) go: DEL, UNLINK, FLUSHDB, an overwrite by SET, RENAME, MOVE, COPY, SWAPDB,
/// RESTORE, a TTL given or taken and its expiry. Called under the shard's lock, so what it
/// records is in the order of the changes; `epoch` is the shard's (see [`Shard::epoch`]).
/// The commands that own the kind change it through [`Shard::write_owned`] and record their
/// operations themselves.
pub trait Journal: Send + Sync {
    /// The key no longer holds a journaled value.
    fn dropped(&self, db: usize, epoch: u64, key: &[u8]);
    /// The key now holds this journaled entry (a new value, or a new TTL).
    fn stored(&self, db: usize, epoch: u64, entry: &Entry);
}

/// Why a key went without a command deleting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reclaim {
    Expired,
    Evicted,
}

/// Where the expirations and evictions of one database's keys go (the cache keeps its
/// per-subject and per-type counts with it). Called under the shard's lock, with the entry
/// just removed.
pub trait Reclaimed: Send + Sync {
    fn reclaimed(&self, entry: &Entry, why: Reclaim);
}

#[derive(Debug)]
pub struct Shard {
    table: KeyTable,
    /// The keys with a TTL, for the expiry sweep and volatile eviction. The deadline itself
    /// lives in the entry (see `entry`); this keeps a lower bound of it, so only gaining or
    /// losing a TTL, or a deadline moved earlier, touches it.
    volatile: Volatile,
    /// Keys that eviction may take (not rate-limit state), all and those with a TTL: lets
    /// eviction skip a shard that has none, and search harder in one where they are rare.
    evictable: Candidates,
    watched: HashMap<Box<[u8]>, Vec<WatchFlag>>,
    /// Bytes of data: the entries' allocations and the table's own (`table_mem`).
    mem: usize,
    /// The table's slots and index at their capacity, as last counted into `mem`.
    table_mem: usize,
    /// What every shard of the keyspace shares: the data size, which this shard updates in
    /// steps of `FLUSH_BYTES` so that the maxmemory check costs no lock and no per-write
    /// shared atomic, and the access-tracking mode.
    shared: Arc<Shared>,
    unflushed: i64,
    pub stats: ShardStats,
    /// Keys written (every change that flags WATCHes), for save points and
    /// `rdb_changes_since_last_save`. Only this shard's lock holder writes it; atomic only
    /// because the WATCH hook that counts takes `&self`.
    changes: AtomicU64,
    /// This shard's database (for the journal).
    db: usize,
    /// The snapshot generation this shard's state belongs to: a snapshot raises it as it
    /// copies the shard, under the shard's lock, so a journal record tagged with it says
    /// whether the snapshot already holds its effect (see `crate::persist::journal`).
    pub epoch: u64,
    /// Set while the owning commands write (`write_owned`): they journal their operations
    /// themselves.
    owned: bool,
    /// Keys whose value has work due at a time (quota holds to release), by (when, key).
    /// Entries may be stale (the key changed or went): `due_timers`' caller checks.
    timers: BTreeSet<(u64, Box<[u8]>)>,
}

/// Counts of the keys eviction may take.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Candidates {
    all: usize,
    /// Those with a TTL (the `volatile-*` policies' candidates).
    volatile: usize,
}

impl Candidates {
    fn add(&mut self, e: &Entry) {
        if e.evictable() {
            self.all += 1;
            self.volatile += usize::from(e.is_volatile());
        }
    }

    fn remove(&mut self, e: &Entry) {
        if e.evictable() {
            self.all -= 1;
            self.volatile -= usize::from(e.is_volatile());
        }
    }
}

/// What one step of the expiry sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// Blocks of keys with a TTL visited.
    pub blocks: usize,
    /// Keys looked up because their deadline bound had passed.
    pub checked: usize,
    pub expired: usize,
    /// The shard's pass over all its keys with a TTL is complete.
    pub pass_done: bool,
    /// Keys with a TTL in the shard after the step.
    pub remaining: usize,
}

/// The key holds a string where a structured value was expected (WRONGTYPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotObject;

/// A key that `probe` did not find live.
#[derive(Clone, Copy)]
enum Gone {
    /// Past its deadline, not yet reclaimed: its slot is at this position.
    Expired(usize),
    Absent,
}

/// How far a shard's own count may drift from the keyspace-wide one.
const FLUSH_BYTES: i64 = 1024;

impl Shard {
    pub fn new(hasher: FixedState, shared: Arc<Shared>) -> Self {
        Shard {
            table: KeyTable::new(hasher),
            volatile: Volatile::new(hasher),
            evictable: Candidates::default(),
            watched: HashMap::new(),
            mem: 0,
            table_mem: 0,
            shared,
            unflushed: 0,
            stats: ShardStats::default(),
            changes: AtomicU64::new(0),
            db: 0,
            epoch: 0,
            owned: false,
            timers: BTreeSet::new(),
        }
    }

    /// The shard of database `db`.
    pub fn in_db(mut self, db: usize) -> Self {
        self.db = db;
        self
    }

    pub fn db(&self) -> usize {
        self.db
    }

    /// `write` for the commands that own a journaled kind and record their own operations:
    /// what they store or change is not told to the journal.
    pub fn write_owned<R>(
        &mut self,
        key: &[u8],
        now: u64,
        f: impl FnOnce(&mut Slot<'_>) -> R,
    ) -> R {
        self.owned = true;
        let r = self.write(key, now, f);
        self.owned = false;
        r
    }

    fn journal(&self) -> Option<&Arc<dyn Journal>> {
        if self.owned {
            return None;
        }
        self.shared.journal.get()
    }

    /// Tells the hook of this shard's database, if it has one, that `entry` went.
    fn tell_reclaimed(&self, entry: &Entry, why: Reclaim) {
        if let Some((db, hook)) = self.shared.reclaimed.get() {
            if *db == self.db {
                hook.reclaimed(entry, why);
            }
        }
    }

    /// Tells the journal that `old` (if journaled) was dropped and `new` (if journaled) stored;
    /// and, while clients wait on keys, notes a new value they may wait for (`ready`).
    fn journal_change(&self, old: Option<&Entry>, new: Option<&Entry>) {
        if let Some(n) = new {
            if self.shared.waiters.load(Ordering::Relaxed) > 0 && n.kind().blockable() {
                super::ready::note(self.db, n.key());
            }
        }
        fn journaled(e: Option<&Entry>) -> Option<&Entry> {
            e.filter(|e| e.kind().journaled)
        }
        let (old, new) = (journaled(old), journaled(new));
        if old.is_none() && new.is_none() {
            return;
        }
        let Some(j) = self.journal() else {
            return;
        };
        match (old, new) {
            (_, Some(n)) => j.stored(self.db, self.epoch, n),
            (Some(o), None) => j.dropped(self.db, self.epoch, o.key()),
            (None, None) => {}
        }
    }

    /// Asks for `key` to be handed out by `due_timers` at `at` (unix ms).
    pub fn schedule(&mut self, key: &[u8], at: u64) {
        self.timers.insert((at, key.into()));
    }

    /// Cancels a `schedule`.
    pub fn unschedule(&mut self, key: &[u8], at: u64) {
        self.timers.remove(&(at, Box::<[u8]>::from(key)));
    }

    /// Moves `key`'s timer from `old` to `new` (either may be none).
    pub fn reschedule(&mut self, key: &[u8], old: Option<u64>, new: Option<u64>) {
        if old == new {
            return;
        }
        if let Some(t) = old {
            self.unschedule(key, t);
        }
        if let Some(t) = new {
            self.schedule(key, t);
        }
    }

    /// Takes up to `max` keys whose scheduled time is at or before `now`.
    pub fn due_timers(&mut self, now: u64, max: usize) -> Vec<(u64, Box<[u8]>)> {
        let mut out = Vec::new();
        while out.len() < max {
            match self.timers.first() {
                Some((at, _)) if *at <= now => {}
                _ => break,
            }
            if let Some(t) = self.timers.pop_first() {
                out.push(t);
            }
        }
        out
    }

    /// Scheduled timers (INFO, tests).
    pub fn timers_len(&self) -> usize {
        self.timers.len()
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn volatile_len(&self) -> usize {
        self.volatile.len()
    }

    /// Adds `delta` bytes to this shard's data size.
    fn account(&mut self, delta: i64) {
        self.mem = (self.mem as i64 + delta).max(0) as usize;
        self.unflushed += delta;
        if self.unflushed.abs() >= FLUSH_BYTES {
            self.shared
                .used
                .fetch_add(self.unflushed, Ordering::Relaxed);
            self.unflushed = 0;
        }
    }

    /// Estimated bytes held by this shard's data, its table included.
    pub fn mem(&self) -> usize {
        self.mem
    }

    /// Counts a change of the table's capacity (it grew or shrank with a key added or
    /// removed) into `mem`, so that `maxmemory` sees the table as INFO does: a million small
    /// keys cost their slots and index too (leaving them out let RSS pass the limit by a
    /// third).
    fn sync_table_mem(&mut self) {
        let now = self.table.overhead();
        if now != self.table_mem {
            let delta = now as i64 - self.table_mem as i64;
            self.table_mem = now;
            self.account(delta);
        }
    }

    /// Position of a live key; an expired key is deleted on the way (lazy expiry).
    fn locate(&mut self, key: &[u8], now: u64) -> Option<usize> {
        let hash = self.table.hash(key);
        match self.probe(hash, key, now) {
            Ok(pos) => Some(pos),
            Err(gone) => {
                self.settle_gone(gone, hash, key, None, now);
                None
            }
        }
    }

    /// A read lookup: counts a hit or a miss and updates the key's access time, as Redis's
    /// `lookupKeyRead` does.
    pub fn read(&mut self, key: &[u8], now: u64) -> Option<&mut Entry> {
        match self.locate(key, now) {
            Some(pos) => {
                self.stats.hits += 1;
                let e = self.table.at_mut(pos);
                access::touch(e, now, self.shared.lfu.load(Ordering::Relaxed));
                Some(e)
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// A read lookup that leaves the access time alone (`TYPE`, `TTL`, `OBJECT`, `EXISTS`).
    pub fn read_notouch(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        match self.locate(key, now) {
            Some(pos) => {
                self.stats.hits += 1;
                Some(self.table.at(pos))
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// A lookup for writing: no hit/miss counting. Callers that change the value must use
    /// `put`/`remove`, so that WATCH and memory accounting see it.
    pub fn get(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        let pos = self.locate(key, now)?;
        let e = self.table.at_mut(pos);
        access::touch(e, now, self.shared.lfu.load(Ordering::Relaxed));
        Some(e)
    }

    /// A live key's entry, without touching counters or access time (a lookup the client
    /// did not ask for, such as the cache reading a subject's quota plan).
    pub fn peek(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        let pos = self.locate(key, now)?;
        Some(self.table.at(pos))
    }

    /// A live key's entry through a shared borrow: no counters, no access time, no lazy
    /// expiry (an expired key reads as absent and stays for the sweep). For commands that
    /// hold several values at once (SINTER), after a `read` or `get` of each did the books.
    pub fn live(&self, key: &[u8], now: u64) -> Option<&Entry> {
        self.probe(self.table.hash(key), key, now)
            .ok()
            .map(|pos| self.table.at(pos))
    }

    /// Whether a live key exists, without touching counters or access time.
    pub fn contains(&mut self, key: &[u8], now: u64) -> bool {
        self.locate(key, now).is_some()
    }

    /// Stores `entry` under its key, finding it once. The key's TTL is kept when `keep_ttl`;
    /// else the key gets the entry's own deadline (`Entry::new_str_expiring`), or none.
    pub fn put(&mut self, mut entry: Entry, keep_ttl: bool, now: u64) {
        access::init(&mut entry, now, self.shared.lfu.load(Ordering::Relaxed));
        self.store(entry, keep_ttl);
    }

    fn store(&mut self, mut entry: Entry, keep_ttl: bool) {
        let hash = self.table.hash(entry.key());
        self.touch_watch(entry.key());
        match self.table.find(hash, entry.key()) {
            Some(pos) => {
                if keep_ttl && self.table.at(pos).is_volatile() {
                    entry.set_deadline(self.table.at(pos).deadline());
                }
                self.replace_at(pos, entry);
            }
            None => self.push_new(hash, entry),
        }
    }

    /// Puts `entry` (which carries its own deadline, or none) in place of the entry at `pos`,
    /// for the same key; `volatile` and the byte count follow.
    fn replace_at(&mut self, pos: usize, entry: Entry) -> Entry {
        match (self.table.at(pos).deadline(), entry.deadline()) {
            (Some(_), None) => self.remove_expire(entry.key()),
            (None, Some(at)) => self.add_volatile(entry.key().into(), at),
            (Some(was), Some(at)) if at < was => self.volatile.lower(entry.key(), at),
            _ => {}
        }
        self.account(entry.mem_size() as i64);
        self.evictable.add(&entry);
        let old = self.table.replace(pos, entry);
        self.evictable.remove(&old);
        self.account(-(old.mem_size() as i64));
        self.journal_change(Some(&old), Some(self.table.at(pos)));
        self.schedule_value(pos);
        old
    }

    /// A value stored with a timer of its own (a quota subject renamed, copied, moved or
    /// loaded) is scheduled under its key here. Only journaled kinds have timers: a string
    /// costs one comparison.
    fn schedule_value(&mut self, pos: usize) {
        let e = self.table.at(pos);
        if !e.kind().journaled {
            return;
        }
        if let super::ValueRef::Obj(super::entry::Object::Quota(q)) = e.value() {
            if let Some(at) = q.timer {
                self.timers.insert((at, e.key().into()));
            }
        }
    }

    /// Adds `entry` for a key known to be absent.
    fn push_new(&mut self, hash: u64, entry: Entry) {
        if let Some(at) = entry.deadline() {
            self.add_volatile(entry.key().into(), at);
        }
        self.account(entry.mem_size() as i64);
        self.evictable.add(&entry);
        let pos = self.table.push(hash, entry);
        self.sync_table_mem();
        self.journal_change(None, Some(self.table.at(pos)));
        self.schedule_value(pos);
    }

    /// Finds a key and says whether it is live, expired (not yet reclaimed) or absent,
    /// changing nothing: `locate` then reclaims an expired key, while the write paths reuse
    /// its slot (rate-limit keys expire and come back all the time).
    fn probe(&self, hash: u64, key: &[u8], now: u64) -> Result<usize, Gone> {
        match self.table.find(hash, key) {
            None => Err(Gone::Absent),
            Some(pos) => match self.table.at(pos).deadline() {
                Some(at) if at <= now => Err(Gone::Expired(pos)),
                _ => Ok(pos),
            },
        }
    }

    /// Finishes a write to a key that `probe` found absent or expired: `Some(entry)` is
    /// stored (in an expired key's slot when there is one), `None` leaves the key absent
    /// (reclaiming an expired one: lazy expiry).
    fn settle_gone(&mut self, gone: Gone, hash: u64, key: &[u8], entry: Option<Entry>, now: u64) {
        if let Gone::Expired(_) = gone {
            self.stats.expired += 1;
        }
        match (gone, entry) {
            (Gone::Expired(pos), None) => {
                let entry = self.delete_at(pos);
                self.tell_reclaimed(&entry, Reclaim::Expired);
            }
            (Gone::Absent, None) => {}
            (gone, Some(mut entry)) => {
                debug_assert_eq!(entry.key(), key);
                access::init(&mut entry, now, self.shared.lfu.load(Ordering::Relaxed));
                self.touch_watch(key);
                match gone {
                    Gone::Expired(pos) => {
                        let old = self.replace_at(pos, entry);
                        self.tell_reclaimed(&old, Reclaim::Expired);
                    }
                    Gone::Absent => self.push_new(hash, entry),
                }
            }
        }
    }

    /// Gives the entry at `pos` a deadline (unix ms), or none, keeping `volatile` in step.
    fn set_deadline(&mut self, pos: usize, deadline: Option<u64>) {
        let e = self.table.at_mut(pos);
        let was = e.deadline();
        let before = e.mem_size();
        // Only gaining or losing a TTL moves a key between the candidate counts; a deadline
        // that merely moves (every rate-limit check) costs nothing here.
        if was.is_some() != deadline.is_some() {
            self.evictable.remove(e);
            e.set_deadline(deadline);
            self.evictable.add(e);
        } else {
            e.set_deadline(deadline);
        }
        let after = e.mem_size();
        self.account(after as i64 - before as i64);
        // Disjoint fields: the key is borrowed from the table, not copied.
        let key = self.table.at(pos).key();
        match (was, deadline) {
            (None, Some(at)) => {
                let key: Box<[u8]> = key.into();
                self.add_volatile(key, at);
            }
            (Some(_), None) => {
                if let Some(k) = self.volatile.remove(key) {
                    self.account(-(expire_mem(&k) as i64));
                }
            }
            (Some(was), Some(at)) if at < was => self.volatile.lower(key, at),
            _ => {}
        }
        let e = self.table.at(pos);
        self.journal_change(None, Some(e));
    }

    fn add_volatile(&mut self, key: Box<[u8]>, deadline: u64) {
        self.account(expire_mem(&key) as i64);
        self.volatile.insert(key, deadline);
    }

    /// Removes a live key; returns its entry (and drops its TTL).
    pub fn remove(&mut self, key: &[u8], now: u64) -> Option<Entry> {
        let pos = self.locate(key, now)?;
        Some(self.delete_at(pos))
    }

    fn delete_at(&mut self, pos: usize) -> Entry {
        let entry = self.table.swap_remove(pos);
        self.sync_table_mem();
        self.evictable.remove(&entry);
        if entry.is_volatile() {
            self.remove_expire(entry.key());
        }
        self.touch_watch(entry.key());
        self.account(-(entry.mem_size() as i64));
        self.journal_change(Some(&entry), None);
        entry
    }

    fn remove_expire(&mut self, key: &[u8]) {
        if let Some(k) = self.volatile.remove(key) {
            self.account(-(expire_mem(&k) as i64));
        }
    }

    /// The deadline of a live key, if it has one.
    pub fn expire_of(&mut self, key: &[u8], now: u64) -> Option<u64> {
        let pos = self.locate(key, now)?;
        self.table.at(pos).deadline()
    }

    /// Sets the deadline of an existing live key; false when the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], at: u64, now: u64) -> bool {
        let Some(pos) = self.locate(key, now) else {
            return false;
        };
        self.set_deadline(pos, Some(at));
        self.touch_watch(key);
        true
    }

    /// Removes the TTL of a live key; true when it had one.
    pub fn persist(&mut self, key: &[u8], now: u64) -> bool {
        let Some(pos) = self.locate(key, now) else {
            return false;
        };
        if !self.table.at(pos).is_volatile() {
            return false;
        }
        self.set_deadline(pos, None);
        self.touch_watch(key);
        true
    }

    /// A step of the active-expiry sweep: visits up to `max_blocks` blocks of keys with a
    /// TTL (see [`Volatile`]), resuming where the last step stopped, and deletes the keys
    /// past their deadline; stops early once `max_checked` keys were looked up, so that one
    /// step holds the shard lock for a bounded time.
    pub fn expire_sweep(&mut self, now: u64, max_blocks: usize, max_checked: usize) -> Sweep {
        let mut step = Sweep::default();
        while step.blocks < max_blocks && step.checked < max_checked {
            let b = match self.volatile.next_due(now) {
                Due::PassDone => {
                    step.pass_done = true;
                    break;
                }
                Due::Skip => {
                    step.blocks += 1;
                    continue;
                }
                Due::Block(b) => b,
            };
            step.blocks += 1;
            for i in self.volatile.positions(b) {
                // Deletions in this block move keys from the end into it; positions past
                // the end are gone.
                let Some((key, bound)) = self.volatile.at(i) else {
                    continue;
                };
                if bound > now {
                    continue;
                }
                step.checked += 1;
                let deadline = self
                    .table
                    .find(self.table.hash(key), key)
                    .map(|pos| (pos, self.table.at(pos).deadline()));
                match deadline {
                    Some((pos, Some(at))) if at <= now => {
                        // Its place in `volatile` is known: no second lookup there.
                        if let Some(k) = self.volatile.remove_at(i) {
                            self.account(-(expire_mem(&k) as i64));
                        }
                        let entry = self.table.swap_remove(pos);
                        self.sync_table_mem();
                        self.evictable.remove(&entry);
                        self.touch_watch(entry.key());
                        self.account(-(entry.mem_size() as i64));
                        self.journal_change(Some(&entry), None);
                        self.tell_reclaimed(&entry, Reclaim::Expired);
                        self.stats.expired += 1;
                        step.expired += 1;
                    }
                    Some((_, Some(at))) => self.volatile.set_bound(i, at),
                    // Unreachable while `volatile` follows the table; repair rather than loop.
                    _ => {
                        if let Some(k) = self.volatile.remove_at(i) {
                            self.account(-(expire_mem(&k) as i64));
                        }
                    }
                }
            }
            self.volatile.refresh(b);
        }
        step.remaining = self.volatile.len();
        step
    }

    /// Evicts one key chosen among `samples` random candidates by `pick` (from keys with a
    /// TTL only, when `volatile`). Rate-limit state is never a candidate: where it makes up
    /// most of the shard, more keys are drawn to find `samples` candidates (up to 64 times as
    /// many), and a shard whose few candidates all escaped the draws is walked to find one,
    /// so a full memory never leaves evictable keys behind.
    /// Returns the bytes freed, or `None` when the shard has no candidate.
    pub fn evict_one(
        &mut self,
        pick: Pick,
        volatile: bool,
        samples: usize,
        now: u64,
        rng: &mut impl FnMut() -> u64,
    ) -> Option<usize> {
        let pool = if volatile {
            self.volatile.len()
        } else {
            self.table.len()
        };
        let candidates = if volatile {
            self.evictable.volatile
        } else {
            self.evictable.all
        };
        if candidates == 0 || pool == 0 {
            return None;
        }
        let samples = samples.max(1);
        let rarity = (pool / candidates).clamp(1, 64);
        let mut best: Option<(usize, u64)> = None;
        let mut seen = 0;
        for _ in 0..samples.saturating_mul(rarity) {
            if seen == samples {
                break;
            }
            let pos = if volatile {
                let i = (rng() % pool as u64) as usize;
                let key = self.volatile.key_at(i)?;
                self.table.find(self.table.hash(key), key)?
            } else {
                (rng() % pool as u64) as usize
            };
            let e = self.table.at(pos);
            if !e.evictable() {
                continue;
            }
            seen += 1;
            // Higher score = better to evict.
            let score = match pick {
                Pick::Random => 0,
                Pick::Lru => access::idle_seconds(e.access(), now),
                Pick::Lfu => 255 - u64::from(access::lfu_decayed(e.access(), now)),
                Pick::Ttl => u64::MAX - e.deadline().unwrap_or(u64::MAX),
            };
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((pos, score));
            }
        }
        if best.is_none() {
            // The counts say a candidate exists; each walk evicts one, and only happens when
            // candidates are rare.
            let table = &self.table;
            best = if volatile {
                self.volatile
                    .keys()
                    .filter_map(|k| table.find(table.hash(k), k))
                    .find(|&p| table.at(p).evictable())
            } else {
                table.iter().position(Entry::evictable)
            }
            .map(|p| (p, 0));
        }
        let (pos, _) = best?;
        let entry = self.delete_at(pos);
        self.tell_reclaimed(&entry, Reclaim::Evicted);
        let freed = entry.mem_size();
        self.stats.evicted += 1;
        // The eviction loop reads the shared count to know when to stop.
        self.shared
            .used
            .fetch_add(std::mem::take(&mut self.unflushed), Ordering::Relaxed);
        Some(freed)
    }

    /// Walks up to `max` entries downwards from position `from` (clamped to the table),
    /// deleting those `pick` chooses (a key past its deadline counts as expired instead).
    /// Returns how many `pick` deleted and where to resume, `None` once the walk reached the
    /// start. Downwards because a deletion moves the last entry into the hole, and that one
    /// was already visited, so a walk misses only entries added after it began.
    pub fn delete_where(
        &mut self,
        from: usize,
        max: usize,
        now: u64,
        mut pick: impl FnMut(&Entry) -> bool,
    ) -> (usize, Option<usize>) {
        let mut pos = from.min(self.table.len());
        let (mut seen, mut deleted) = (0, 0);
        while pos > 0 && seen < max {
            pos -= 1;
            seen += 1;
            let e = self.table.at(pos);
            if self.expired_at(pos, now) || !pick(e) {
                continue;
            }
            self.delete_at(pos);
            deleted += 1;
        }
        (deleted, (pos > 0).then_some(pos))
    }

    /// A random live key (for RANDOMKEY and eviction sampling).
    pub fn random_key(&mut self, now: u64, rng: &mut impl FnMut() -> u64) -> Option<Vec<u8>> {
        // Expired keys met on the way are deleted; give up after a bounded number of tries
        // so a shard full of expired keys cannot stall the caller.
        for _ in 0..100 {
            let len = self.table.len();
            if len == 0 {
                return None;
            }
            let pos = (rng() % len as u64) as usize;
            let key = self.table.at(pos).key().to_vec();
            if self.locate(&key, now).is_some() {
                return Some(key);
            }
        }
        None
    }

    /// Entry at a dense position (SCAN, sampling); may be logically expired.
    pub fn at(&self, pos: usize) -> &Entry {
        self.table.at(pos)
    }

    /// (sum of remaining TTLs, count) over up to `n` keys with a TTL.
    pub fn ttl_sample(&self, now: u64, n: usize) -> (u64, u64) {
        self.volatile
            .keys()
            .take(n)
            .filter_map(|k| self.table.find(self.table.hash(k), k))
            .filter_map(|pos| self.table.at(pos).deadline())
            .fold((0, 0), |(s, c), at| (s + at.saturating_sub(now), c + 1))
    }

    /// Whether `key` exists but is past its deadline (not yet reclaimed).
    pub fn is_expired(&self, key: &[u8], now: u64) -> bool {
        self.table
            .find(self.table.hash(key), key)
            .and_then(|pos| self.table.at(pos).deadline())
            .is_some_and(|at| at <= now)
    }

    /// Stores an entry moved from another key (RENAME): its access time is kept.
    pub fn put_renamed(&mut self, entry: Entry) {
        self.store(entry, false);
    }

    /// Whether the entry at `pos` is past its deadline.
    pub fn expired_at(&self, pos: usize, now: u64) -> bool {
        self.table.at(pos).deadline().is_some_and(|at| at <= now)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.table.iter()
    }

    /// Deletes everything; watched keys that existed are flagged, as FLUSHDB does in Redis.
    pub fn clear(&mut self, now: u64) {
        self.count_changes(self.table.len());
        self.touch_existing_watches(now);
        for e in self.table.iter() {
            self.journal_change(Some(e), None);
        }
        self.timers.clear();
        self.table.clear();
        self.volatile.clear();
        self.evictable = Candidates::default();
        // The emptied table holds no allocation: mem goes to 0 with it.
        self.table_mem = 0;
        self.account(-(self.mem as i64));
    }

    /// Swaps contents with another shard (SWAPDB); WATCHes stay with their database.
    pub fn swap_data(&mut self, other: &mut Shard) {
        self.count_changes(self.table.len() + other.table.len());
        // Both shards are the same index of two databases, copied by a snapshot together:
        // one epoch. Drops first, so a key in both databases ends stored.
        for e in self.table.iter() {
            self.journal_change(Some(e), None);
        }
        for e in other.table.iter() {
            other.journal_change(Some(e), None);
        }
        for e in other.table.iter() {
            self.journal_change(None, Some(e));
        }
        for e in self.table.iter() {
            other.journal_change(None, Some(e));
        }
        std::mem::swap(&mut self.timers, &mut other.timers);
        std::mem::swap(&mut self.table, &mut other.table);
        std::mem::swap(&mut self.volatile, &mut other.volatile);
        std::mem::swap(&mut self.evictable, &mut other.evictable);
        std::mem::swap(&mut self.table_mem, &mut other.table_mem);
        let (mine, theirs) = (self.mem as i64, other.mem as i64);
        self.account(theirs - mine);
        other.account(mine - theirs);
    }

    pub fn watch(&mut self, key: &[u8], flag: &WatchFlag) {
        self.watched
            .entry(key.into())
            .or_default()
            .push(flag.clone());
    }

    pub fn unwatch(&mut self, key: &[u8], flag: &WatchFlag) {
        if let Some(v) = self.watched.get_mut(key) {
            v.retain(|f| !Arc::ptr_eq(f, flag));
            if v.is_empty() {
                self.watched.remove(key);
            }
        }
    }

    /// Counts `n` keys written, for the save points: a load and a store, not an atomic add,
    /// since every writer holds the shard lock and the saver only reads.
    #[inline]
    fn count_changes(&self, n: usize) {
        self.changes.store(
            self.changes.load(Ordering::Relaxed) + n as u64,
            Ordering::Relaxed,
        );
    }

    /// Keys written since the shard was made (see `changes`).
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    #[inline]
    fn touch_watch(&self, key: &[u8]) {
        // Every change to a key passes here: count it.
        self.count_changes(1);
        if !self.watched.is_empty() {
            if let Some(v) = self.watched.get(key) {
                for f in v {
                    f.store(true, Ordering::Release);
                }
            }
        }
    }

    /// Flags the watchers of every watched key that currently exists.
    pub fn touch_existing_watches(&mut self, now: u64) {
        if self.watched.is_empty() {
            return;
        }
        let keys: Vec<Box<[u8]>> = self.watched.keys().cloned().collect();
        for k in keys {
            if self.contains(&k, now) {
                self.touch_watch(&k);
            }
        }
    }

    /// Flags the watchers of `key` whether or not it exists (SWAPDB's rule for keys that
    /// exist in the other database).
    pub fn touch_key(&self, key: &[u8]) {
        self.touch_watch(key);
    }

    pub fn watched_keys(&self) -> Vec<Box<[u8]>> {
        self.watched.keys().cloned().collect()
    }
}

/// Bytes a key with a TTL costs in `volatile`: its copy, the map's slot and index entry,
/// and its share of the block minimums.
fn expire_mem(key: &[u8]) -> usize {
    crate::alloc::block_size(key.len() + 8) + 48
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::lease::Leases;
    use crate::store::entry::Object;
    use crate::store::Encoding;

    fn shard() -> Shard {
        Shard::new(FixedState::with_seed(3), Arc::default())
    }

    fn leases(n: u64) -> Object {
        let mut l = Leases::new();
        for i in 0..n {
            l.acquire(10, 1_000, None, 0, || format!("lease-{i}").into_bytes());
        }
        Object::Leases(l)
    }

    /// Through `write`: replaces the structured value under `key` in place (or creates it)
    /// with `deadline`, or deletes the key for `None`. Returns the deadline it had.
    fn put_obj(
        s: &mut Shard,
        key: &[u8],
        obj: Option<Object>,
        deadline: Option<u64>,
        now: u64,
    ) -> Option<u64> {
        s.write(key, now, |slot| {
            let had = slot.deadline();
            match (obj, slot.object_mut()) {
                (None, _) => {
                    slot.delete();
                }
                (Some(v), Ok(Some(o))) => {
                    *o = v;
                    slot.set_deadline(deadline);
                }
                (Some(v), _) => slot.put_object(v, deadline),
            }
            had
        })
    }

    fn write(s: &mut Shard, key: &[u8], obj: Option<Object>, deadline: Option<u64>) {
        put_obj(s, key, obj, deadline, 0);
    }

    #[test]
    fn write_creates_changes_and_deletes_with_its_deadline() {
        let mut s = shard();
        // Nothing written on an absent key creates nothing.
        let seen = s.write(b"k", 0, |slot| (slot.entry().is_some(), slot.deadline()));
        assert_eq!(seen, (false, None));
        assert!(s.is_empty() && s.mem() == s.table.overhead());

        write(&mut s, b"k", Some(leases(1)), Some(500));
        assert_eq!(s.expire_of(b"k", 0), Some(500));
        assert_eq!(s.volatile_len(), 1);
        let one = s.mem - s.table_mem;

        // The closure sees the value and deadline; a new deadline replaces the old in place.
        let at = put_obj(&mut s, b"k", Some(leases(3)), Some(900), 0);
        assert_eq!(at, Some(500));
        assert_eq!(s.expire_of(b"k", 0), Some(900));
        assert_eq!(s.volatile_len(), 1);
        assert!((s.mem - s.table_mem) > one, "a bigger value is accounted");

        // No deadline: the key persists.
        write(&mut s, b"k", Some(leases(1)), None);
        assert_eq!(s.expire_of(b"k", 0), None);
        assert_eq!(s.volatile_len(), 0);
        assert_eq!((s.mem - s.table_mem), one - expire_mem(b"k"));

        // None deletes, and every byte is given back.
        write(&mut s, b"k", Some(leases(2)), Some(100));
        write(&mut s, b"k", None, Some(100));
        assert!(s.is_empty());
        assert_eq!(((s.mem - s.table_mem), s.volatile_len()), (0, 0));
    }

    #[test]
    fn write_sees_expired_keys_as_absent_and_refuses_strings_as_objects() {
        let mut s = shard();
        write(&mut s, b"k", Some(leases(1)), Some(100));
        let existed = s.write(b"k", 100, |slot| (slot.entry().is_some(), slot.deadline()));
        assert_eq!(existed, (false, None), "past its deadline the key is gone");
        assert_eq!((s.len(), (s.mem - s.table_mem), s.stats.expired), (0, 0, 1));

        s.put(Entry::new_str(b"str", b"v", Encoding::Embstr, 0), false, 0);
        let r = s.write(b"str", 0, |slot| slot.object_mut().map(|_| ()));
        assert_eq!(r, Err(NotObject));
        assert_eq!(s.get(b"str", 0).and_then(|e| e.str()), Some(&b"v"[..]));
    }

    #[test]
    fn write_fires_watches_only_on_writes() {
        let mut s = shard();
        let flag: WatchFlag = Arc::new(AtomicBool::new(false));
        s.watch(b"k", &flag);
        s.write(b"k", 0, |slot| slot.entry().is_some());
        assert!(!flag.load(Ordering::Acquire));
        write(&mut s, b"k", Some(leases(1)), Some(100));
        assert!(flag.load(Ordering::Acquire));
        flag.store(false, Ordering::Release);
        s.write(b"k", 0, |slot| slot.object_mut().is_ok());
        assert!(!flag.load(Ordering::Acquire));
    }

    #[test]
    fn put_with_a_deadline_sets_or_replaces_it() {
        let mut s = shard();
        let e = |v: &[u8], at| Entry::new_str_expiring(b"k", v, Encoding::Embstr, at);
        s.put(e(b"1", 100), false, 0);
        assert_eq!(s.expire_of(b"k", 0), Some(100));
        let one = s.mem - s.table_mem;
        s.put(e(b"2", 200), false, 0);
        assert_eq!(s.expire_of(b"k", 0), Some(200));
        assert_eq!((s.volatile_len(), (s.mem - s.table_mem)), (1, one));
        // Over a key without a TTL.
        s.put(Entry::new_str(b"k", b"3", Encoding::Embstr, 0), false, 0);
        assert_eq!((s.expire_of(b"k", 0), s.volatile_len()), (None, 0));
        s.put(e(b"4", 300), false, 0);
        assert_eq!(s.expire_of(b"k", 0), Some(300));
        assert_eq!(s.get(b"k", 0).and_then(|e| e.str()), Some(&b"4"[..]));
        assert_eq!((s.mem - s.table_mem), one);
        s.remove(b"k", 0);
        assert_eq!(((s.mem - s.table_mem), s.volatile_len()), (0, 0));
    }

    /// Among many keys eviction may not take, the one it may is found whatever the draws:
    /// every call evicts it, under both scopes, with a single sample.
    #[test]
    fn eviction_finds_a_rare_candidate() {
        for volatile in [false, true] {
            let mut rng = {
                let mut x: u64 = 0x2545_f491_4f6c_dd1d;
                move || {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x
                }
            };
            for round in 0..20 {
                let mut s = shard();
                for i in 0..2000 {
                    put_obj(
                        &mut s,
                        format!("rl{i}").as_bytes(),
                        Some(leases(1)),
                        Some(9_000),
                        0,
                    );
                }
                s.put(
                    Entry::new_str_expiring(b"cache", b"v", Encoding::Raw, 9_000),
                    false,
                    0,
                );
                assert!(
                    s.evict_one(Pick::Lru, volatile, 1, 0, &mut rng).is_some(),
                    "round {round}, volatile {volatile}"
                );
                assert!(!s.contains(b"cache", 0));
                assert_eq!(s.evict_one(Pick::Lru, volatile, 1, 0, &mut rng), None);
                assert_eq!(s.len(), 2000);
            }
        }
    }

    /// `volatile` holds exactly the keys whose entry has a deadline, with bounds no later than
    /// their deadlines, and the byte count is exactly what the entries and that set hold, after any sequence of mutations (keys
    /// expire as the clock moves, so the write paths also meet expired keys).
    #[test]
    fn expires_and_memory_follow_the_entries_under_random_mutations() {
        let mut s = shard();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rng = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for step in 0..20_000u64 {
            let r = rng();
            let key = format!("k{}", r % 40).into_bytes();
            let now = step / 4;
            let at = now + (r >> 8) % 50;
            let value = vec![b'v'; ((r >> 16) % 30) as usize];
            let str_entry = || Entry::new_str(&key, &value, Encoding::for_value(&value), 0);
            match (r >> 24) % 10 {
                9 => {
                    let was_live = s
                        .table
                        .find(s.table.hash(&key), &key)
                        .is_some_and(|p| s.table.at(p).deadline().is_none_or(|at| at > now));
                    let live = s.write(&key, now, |slot| {
                        let live = slot.entry().is_some();
                        match (r >> 40) % 4 {
                            0 => {}
                            1 => {
                                slot.delete();
                            }
                            2 => slot.put(str_entry()),
                            _ => slot.put(Entry::new_str_expiring(&key, &value, Encoding::Raw, at)),
                        }
                        live
                    });
                    assert_eq!(live, was_live, "step {step}");
                }
                0 => s.put(str_entry(), (r >> 32) % 2 == 0, now),
                1 => s.put(
                    Entry::new_str_expiring(&key, &value, Encoding::for_value(&value), at),
                    false,
                    now,
                ),
                2 => {
                    s.set_expire(&key, at, now);
                }
                3 => {
                    s.persist(&key, now);
                }
                4 => {
                    s.remove(&key, now);
                }
                5 => {
                    let n = (r >> 40) % 3;
                    put_obj(
                        &mut s,
                        &key,
                        (n > 0).then(|| leases(n)),
                        (n == 2).then_some(at),
                        now,
                    );
                }
                6 => {
                    s.expire_sweep(now, 1 + (r >> 40) as usize % 3, 1 + (r >> 44) as usize % 8);
                }
                7 => {
                    s.get(&key, now);
                }
                _ => {
                    // An in-place change of a structured value (leases grow or shrink).
                    s.write(&key, now, |slot| {
                        if let Ok(Some(Object::Leases(l))) = slot.object_mut() {
                            l.acquire(10, 1_000, None, now, || format!("x{step}").into_bytes());
                        }
                    });
                }
            }
            let volatile: std::collections::BTreeSet<Vec<u8>> = s
                .iter()
                .filter(|e| e.deadline().is_some())
                .map(|e| e.key().to_vec())
                .collect();
            let listed: std::collections::BTreeSet<Vec<u8>> =
                s.volatile.keys().map(|k| k.to_vec()).collect();
            assert_eq!(volatile, listed, "step {step}");
            let bytes: usize = s.iter().map(Entry::mem_size).sum::<usize>()
                + s.volatile.keys().map(expire_mem).sum::<usize>();
            assert_eq!((s.mem - s.table_mem), bytes, "step {step}");
            let candidates: Vec<&Entry> = s.iter().filter(|e| e.evictable()).collect();
            assert_eq!(
                (s.evictable.all, s.evictable.volatile),
                (
                    candidates.len(),
                    candidates.iter().filter(|e| e.is_volatile()).count()
                ),
                "step {step}"
            );
            let table = &s.table;
            let deadline = |k: &[u8]| {
                table
                    .find(table.hash(k), k)
                    .and_then(|p| table.at(p).deadline())
            };
            if let Err(e) = s.volatile.check(deadline) {
                panic!("step {step}: {e}");
            }
            if step % 500 == 0 {
                // A pass begun at `now` leaves no expired key behind (finish the one under
                // way first: its visited blocks were swept at an earlier time).
                while !s.expire_sweep(now, 2, 3).pass_done {}
                while !s.expire_sweep(now, 2, 3).pass_done {}
                assert!(
                    s.iter().all(|e| e.deadline().is_none_or(|at| at > now)),
                    "step {step}: an expired key survived a full pass"
                );
            }
        }
    }
}
