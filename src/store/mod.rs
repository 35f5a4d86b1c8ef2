//! The keyspace: `databases` databases, each split into shards by key hash, each shard a
//! mutex-guarded table. Commands on one key lock one shard; multi-key commands lock their
//! shards in a fixed order; whole-keyspace operations (EXEC, FLUSHALL, SWAPDB, KEYS) take the
//! `world` lock exclusively while ordinary batches hold it shared.

pub mod access;
pub mod entry;
pub mod evict;
pub mod expire;
pub mod glob;
pub mod hash;
pub mod kind;
pub mod list;
pub mod ready;
pub mod set;
pub mod shard;
pub mod table;
pub mod varint;
pub mod volatile;
pub mod world;
pub mod zset;

pub use entry::{Encoding, Entry, ValueRef};
pub use shard::{Journal, NotObject, Reclaim, Reclaimed, Shard, ShardStats, Slot, WatchFlag};

use foldhash::fast::FixedState;
use parking_lot::{Mutex, MutexGuard};
use std::hash::BuildHasher;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub struct Keyspace {
    dbs: Box<[Box<[Mutex<Shard>]>]>,
    hasher: FixedState,
    shard_bits: u32,
    /// Held shared by every command batch and exclusively by operations that must see or
    /// change the whole keyspace at once (see `world`).
    pub world: world::World,
    /// Data bytes across all shards, kept within a few KB per shard (see `Shard::account`),
    /// and the access-tracking mode.
    shared: Arc<shard::Shared>,
    /// The last snapshot generation begun (see `Shard::epoch`).
    epoch: std::sync::atomic::AtomicU64,
    /// `hash-max-listpack-entries` and `-value`, for the hash commands and the loader.
    hash_limits: hash::LimitCell,
    /// `set-max-intset-entries`, for the set commands and the loader.
    max_intset: std::sync::atomic::AtomicU64,
    /// `zset-max-listpack-entries` and `-value`, for the sorted-set commands and the loader.
    zset_limits: hash::LimitCell,
}

impl Keyspace {
    /// `shards` is rounded up to a power of two (at most 256). Besides the `databases` that
    /// clients SELECT, the keyspace has one more, after them, that no client can name: the
    /// cache's (see `crate::cache`). It shares the memory accounting, the expiry sweep and
    /// eviction with the others; `databases()` does not count it, the snapshot does not hold
    /// it.
    pub fn new(databases: usize, shards: usize) -> Self {
        let shards = shards.clamp(1, 256).next_power_of_two();
        // A random seed per process: keys an attacker chooses cannot be aimed at one bucket.
        let hasher = FixedState::with_seed(rand::random());
        let shared = Arc::new(shard::Shared::default());
        let dbs = (0..databases.max(1) + 1)
            .map(|db| {
                (0..shards)
                    .map(|_| Mutex::new(Shard::new(hasher, shared.clone()).in_db(db)))
                    .collect()
            })
            .collect();
        Keyspace {
            dbs,
            hasher,
            shard_bits: shards.trailing_zeros(),
            world: world::World::default(),
            shared,
            epoch: Default::default(),
            hash_limits: Default::default(),
            max_intset: std::sync::atomic::AtomicU64::new(512),
            zset_limits: hash::LimitCell::new(zset::DEFAULT_LIMITS),
        }
    }

    /// Follows `hash-max-listpack-entries` and `hash-max-listpack-value`.
    pub fn set_hash_limits(&self, limits: hash::Limits) {
        self.hash_limits.set(limits);
    }

    /// When a hash stops being packed (see `hash::Hash::set`).
    pub fn hash_limits(&self) -> hash::Limits {
        self.hash_limits.get()
    }

    /// How many clients wait on keys (BLPOP and friends): while any do, the shards note the
    /// keys of a kind they wait for that are created or replaced (`ready`).
    pub fn set_waiters(&self, n: usize) {
        self.shared.waiters.store(n, Ordering::Relaxed);
    }

    /// Follows `set-max-intset-entries`.
    pub fn set_max_intset(&self, n: u64) {
        self.max_intset.store(n, Ordering::Relaxed);
    }

    /// How many members an intset may hold (see `set::Set::add`).
    pub fn max_intset(&self) -> u64 {
        self.max_intset.load(Ordering::Relaxed)
    }

    /// Follows `zset-max-listpack-entries` and `zset-max-listpack-value`.
    pub fn set_zset_limits(&self, limits: hash::Limits) {
        self.zset_limits.set(limits);
    }

    /// When a sorted set stops being packed (see `zset::ZSet::add`).
    pub fn zset_limits(&self) -> hash::Limits {
        self.zset_limits.get()
    }

    /// Sends keyspace-level changes of journaled values to `journal` from now on (once).
    pub fn set_journal(&self, journal: Arc<dyn Journal>) -> bool {
        self.shared.journal.set(journal).is_ok()
    }

    /// The generation of the snapshot loaded at start, for every shard and the counter.
    pub fn set_epoch(&self, epoch: u64) {
        self.epoch.store(epoch, Ordering::SeqCst);
        for db in self.dbs.iter() {
            for s in db.iter() {
                s.lock().epoch = epoch;
            }
        }
    }

    /// Begins a snapshot generation: the snapshot tags each shard with it as it copies it.
    pub fn next_epoch(&self) -> u64 {
        self.epoch.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Switches keys between LRU stamps and LFU counters (follows `maxmemory-policy`).
    pub fn set_lfu(&self, on: bool) {
        self.shared.lfu.store(on, Ordering::Relaxed);
    }

    pub fn is_lfu(&self) -> bool {
        self.shared.lfu.load(Ordering::Relaxed)
    }

    /// The databases clients can SELECT.
    pub fn databases(&self) -> usize {
        self.dbs.len() - 1
    }

    /// Every database, the cache's (the last) included: for the expiry sweep and eviction.
    pub fn all_databases(&self) -> usize {
        self.dbs.len()
    }

    /// The cache's database: no client can SELECT it, so no key command reaches its keys.
    pub fn cache_db(&self) -> usize {
        self.dbs.len() - 1
    }

    /// Sends expirations and evictions of the cache database's keys to `hook` (once).
    pub fn set_reclaimed(&self, hook: Arc<dyn Reclaimed>) -> bool {
        self.shared.reclaimed.set((self.cache_db(), hook)).is_ok()
    }

    pub fn shard_count(&self) -> usize {
        1 << self.shard_bits
    }

    /// Shard number of a key (the same in every database).
    pub fn shard_of(&self, key: &[u8]) -> usize {
        if self.shard_bits == 0 {
            return 0;
        }
        // Middle bits: hashbrown uses the low bits for the bucket and the top 7 for its tag
        // byte, and keys of one shard must still differ in both.
        ((self.hasher.hash_one(key) >> 32) as usize) & ((1 << self.shard_bits) - 1)
    }

    pub fn shard(&self, db: usize, key: &[u8]) -> MutexGuard<'_, Shard> {
        self.dbs[db][self.shard_of(key)].lock()
    }

    pub fn shards(&self, db: usize) -> &[Mutex<Shard>] {
        &self.dbs[db]
    }

    /// Locks the shards of all `keys` (in shard order, so two callers cannot deadlock) and
    /// returns a view that hands out the right shard per key.
    pub fn lock_keys<'a, K: AsRef<[u8]>>(
        &'a self,
        db: usize,
        keys: impl Iterator<Item = K>,
    ) -> Locked<'a> {
        let mut idx: Vec<usize> = keys.map(|k| self.shard_of(k.as_ref())).collect();
        idx.sort_unstable();
        idx.dedup();
        let guards = idx.iter().map(|&i| (i, self.dbs[db][i].lock())).collect();
        Locked { ks: self, guards }
    }

    /// Locks the shards of two keys in two databases, in a global order.
    pub fn lock_pair(&self, a: (usize, &[u8]), b: (usize, &[u8])) -> Pair<'_> {
        let ia = (a.0, self.shard_of(a.1));
        let ib = (b.0, self.shard_of(b.1));
        if ia == ib {
            return Pair::Same(self.dbs[ia.0][ia.1].lock());
        }
        if ia < ib {
            let ga = self.dbs[ia.0][ia.1].lock();
            let gb = self.dbs[ib.0][ib.1].lock();
            Pair::Two(ga, gb)
        } else {
            let gb = self.dbs[ib.0][ib.1].lock();
            let ga = self.dbs[ia.0][ia.1].lock();
            Pair::Two(ga, gb)
        }
    }

    /// Keys in a database (callers hold the world lock exclusively for an exact count).
    pub fn dbsize(&self, db: usize) -> usize {
        self.dbs[db].iter().map(|s| s.lock().len()).sum()
    }

    /// (keys, keys with a TTL) per database.
    pub fn db_counts(&self, db: usize) -> (usize, usize) {
        self.dbs[db].iter().fold((0, 0), |(k, v), s| {
            let s = s.lock();
            (k + s.len(), v + s.volatile_len())
        })
    }

    /// Average remaining TTL in ms of a database's volatile keys, estimated from a sample
    /// of each shard as Redis does.
    pub fn avg_ttl(&self, db: usize, now: u64) -> u64 {
        let (mut sum, mut n) = (0u64, 0u64);
        for s in self.dbs[db].iter() {
            let (a, b) = s.lock().ttl_sample(now, 16);
            sum += a;
            n += b;
        }
        sum.checked_div(n).unwrap_or(0)
    }

    /// Keys written since start (locks each shard briefly): what save points and
    /// `rdb_changes_since_last_save` count from.
    pub fn changes(&self) -> u64 {
        // The cache's writes are not saved, so they do not bring a save point closer.
        self.dbs[..self.databases()]
            .iter()
            .flat_map(|d| d.iter())
            .map(|s| s.lock().changes())
            .sum()
    }

    /// Data bytes held, without locking anything (may lag by a few KB per shard).
    pub fn used_fast(&self) -> u64 {
        self.shared.used.load(Ordering::Relaxed).max(0) as u64
    }

    /// Estimated bytes of data held.
    pub fn used_memory(&self) -> usize {
        self.dbs
            .iter()
            .flat_map(|d| d.iter())
            .map(|s| s.lock().mem())
            .sum()
    }

    pub fn stats(&self) -> ShardStats {
        let mut t = ShardStats::default();
        for s in self.dbs.iter().flat_map(|d| d.iter()) {
            let s = s.lock().stats;
            t.hits += s.hits;
            t.misses += s.misses;
            t.expired += s.expired;
            t.evicted += s.evicted;
        }
        t
    }

    pub fn reset_stats(&self) {
        for s in self.dbs.iter().flat_map(|d| d.iter()) {
            s.lock().stats = ShardStats::default();
        }
    }

    pub fn flush_db(&self, db: usize, now: u64) {
        for s in self.dbs[db].iter() {
            s.lock().clear(now);
        }
    }

    /// Swaps the contents of two databases. The caller holds the world lock exclusively.
    pub fn swap_db(&self, a: usize, b: usize, now: u64) {
        if a == b {
            return;
        }
        for (sa, sb) in self.dbs[a].iter().zip(self.dbs[b].iter()) {
            let (mut sa, mut sb) = (sa.lock(), sb.lock());
            // Redis flags a watched key when it exists in either database.
            for k in sa.watched_keys() {
                if sa.contains(&k, now) || sb.contains(&k, now) {
                    sa.touch_key(&k);
                }
            }
            for k in sb.watched_keys() {
                if sa.contains(&k, now) || sb.contains(&k, now) {
                    sb.touch_key(&k);
                }
            }
            sa.swap_data(&mut sb);
        }
    }
}

/// Shards locked for a multi-key command.
pub struct Locked<'a> {
    ks: &'a Keyspace,
    guards: Vec<(usize, MutexGuard<'a, Shard>)>,
}

impl Locked<'_> {
    /// Where in `guards` the shard of `key` is, which must be one of the keys given to
    /// `lock_keys`.
    ///
    /// Any other key is a caller's bug, never a client's input: its shard is not held, so
    /// there is no right shard to hand out, and handing out another one would silently
    /// write a key where no lookup finds it. It panics instead: the connection's task ends
    /// (its registration guard unlists it; shard locks are released on unwind) and other
    /// clients are unaffected.
    fn position(&self, key: &[u8]) -> usize {
        let i = self.ks.shard_of(key);
        match self.guards.iter().position(|(j, _)| *j == i) {
            Some(pos) => pos,
            None => panic!("Locked: the shard of a key not given to lock_keys ({i})"),
        }
    }

    /// The locked shard of `key` (see `position` for the contract).
    pub fn get(&mut self, key: &[u8]) -> &mut Shard {
        let pos = self.position(key);
        &mut self.guards[pos].1
    }

    /// The locked shard of `key` through a shared borrow, so that several keys' values can
    /// be read at once (see `Shard::live`).
    pub fn shard(&self, key: &[u8]) -> &Shard {
        &self.guards[self.position(key)].1
    }
}

/// The shards of two keys: one shard when both keys live in it.
pub enum Pair<'a> {
    Same(MutexGuard<'a, Shard>),
    Two(MutexGuard<'a, Shard>, MutexGuard<'a, Shard>),
}

impl Pair<'_> {
    /// (shard of the first key, shard of the second key or None when it is the same).
    pub fn split(&mut self) -> (&mut Shard, Option<&mut Shard>) {
        match self {
            Pair::Same(a) => (a, None),
            Pair::Two(a, b) => (a, Some(b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_hands_out_the_shard_of_each_locked_key() {
        let ks = Keyspace::new(1, 16);
        let keys: Vec<Vec<u8>> = (0..64).map(|i| format!("k{i}").into_bytes()).collect();
        let mut locked = ks.lock_keys(0, keys.iter());
        for k in &keys {
            locked
                .get(k)
                .put(Entry::new_str(k, b"v", Encoding::Embstr, 0), false, 0);
        }
        drop(locked);
        for k in &keys {
            assert!(ks.shard(0, k).contains(k, 0), "{k:?} is in its own shard");
        }
    }

    #[test]
    #[should_panic(expected = "not given to lock_keys")]
    fn locked_refuses_a_key_it_did_not_lock() {
        let ks = Keyspace::new(1, 16);
        let a = b"a".to_vec();
        // A key of another shard than `a`'s.
        let other = (0..)
            .map(|i| format!("b{i}").into_bytes())
            .find(|k| ks.shard_of(k) != ks.shard_of(&a))
            .unwrap();
        let mut locked = ks.lock_keys(0, std::iter::once(&a));
        locked.get(&other);
    }
}
