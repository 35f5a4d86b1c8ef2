//! The cache: types and their TTL rules (`catalog`), entries stored in the keyspace's
//! hidden cache database under keys no client can name (`key`), the books per subject and
//! type (`stats`), single-flight fills (`flight`), and the engine joining them ([`Cache`]).
//!
//! Why a hidden database: an entry is then an ordinary key to the store, so active expiry,
//! `maxmemory` eviction (by the same policy as plain keys), memory accounting and LRU/LFU
//! stamps apply to it unchanged, while no `GET`, `KEYS`, `SCAN`, `DBSIZE` or `SELECT` can
//! reach it (see `store::Keyspace::cache_db`). Isolation is by construction: a subject's
//! name is part of every key of its entries, with its length, so no subject's request can
//! form another subject's key.

pub mod catalog;
pub mod flight;
pub mod key;
pub mod stats;

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::store::{Entry, Keyspace, Reclaim, Reclaimed};

pub use catalog::{Catalog, Ttl, TypeId};
pub use stats::{Counters, Event};

/// The cache engine: shared by every connection (in `State`), told by the store about the
/// expirations and evictions of its entries.
pub struct Cache {
    pub catalog: Catalog,
    pub books: stats::Books,
    pub flights: flight::Flights,
    /// Where the reclaimer of purged entries resumes: shard, position.
    reclaim_shard: AtomicUsize,
    reclaim_pos: AtomicUsize,
}

impl Cache {
    pub fn new(catalog: Catalog) -> Cache {
        let types = catalog.len();
        Cache {
            catalog,
            books: stats::Books::new(types),
            flights: flight::Flights::default(),
            reclaim_shard: AtomicUsize::new(0),
            reclaim_pos: AtomicUsize::new(usize::MAX),
        }
    }

    /// The subject an entry of `type_id` is filed under: its own, or nobody's for a shared
    /// type (one entry for every subject).
    pub fn owner<'a>(&self, type_id: catalog::TypeId, subject: &'a [u8]) -> &'a [u8] {
        if self.catalog.is_shared(type_id) {
            b""
        } else {
            subject
        }
    }

    /// One step of deleting purged entries (a purge only moves a generation): walks at most
    /// `max` entries of the cache database, resuming where the last step stopped. Does
    /// nothing while no purge left entries behind. Returns the entries deleted.
    pub fn reclaim_step(&self, ks: &Keyspace, now: u64, max: usize) -> usize {
        if self.books.stale() == 0 {
            return 0;
        }
        let db = ks.cache_db();
        let shards = ks.shards(db);
        let i = self.reclaim_shard.load(Ordering::Relaxed) % shards.len();
        let from = self.reclaim_pos.load(Ordering::Relaxed);
        let (deleted, next) = {
            let _world = ks.world.read(i as u64);
            shards[i].lock().delete_where(from, max, now, |e| {
                key::decode(e.key())
                    .is_none_or(|p| !self.books.is_live(p.subject, p.type_id, p.generation))
            })
        };
        for _ in 0..deleted {
            self.books.reclaimed_stale();
        }
        match next {
            Some(pos) => self.reclaim_pos.store(pos, Ordering::Relaxed),
            None => {
                self.reclaim_shard
                    .store((i + 1) % shards.len(), Ordering::Relaxed);
                self.reclaim_pos.store(usize::MAX, Ordering::Relaxed);
            }
        }
        deleted
    }

    /// FLUSHALL: the cache's database is cleared (by the caller); the books and flights go.
    pub fn clear(&self) {
        self.books.clear();
        self.flights.clear();
    }
}

impl Reclaimed for Cache {
    fn reclaimed(&self, entry: &Entry, why: Reclaim) {
        let Some(p) = key::decode(entry.key()) else {
            return;
        };
        let bytes = entry.mem_size() as u64;
        let event = match why {
            Reclaim::Expired => Event::Expired { bytes },
            Reclaim::Evicted => Event::Evicted { bytes },
        };
        self.books
            .record(p.subject, p.type_id, Some(p.generation), event);
    }
}

/// A CACHE.FETCH that must wait for another client's fill: the handler leaves it in the
/// client (`Client::blocked`) and the connection awaits it after the batch, outside every
/// lock (see `commands::cache::resume`).
#[derive(Debug)]
pub struct Wait {
    pub subject: Box<[u8]>,
    pub type_id: catalog::TypeId,
    pub key: Box<[u8]>,
    pub lease_ms: u64,
    /// Unix ms: the waiter gives up then (`timeout`).
    pub wait_until: u64,
    pub turn: flight::Turn,
}
