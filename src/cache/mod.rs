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
    /// Where the reclaimer of purged entries resumes: shard, position; and its pass so far
    /// (the purge count when it began, entries it deleted).
    reclaim_shard: AtomicUsize,
    reclaim_pos: AtomicUsize,
    reclaim_pass: parking_lot::Mutex<(u64, usize)>,
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
            reclaim_pass: parking_lot::Mutex::new((0, 0)),
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
        let mut pass = self.reclaim_pass.lock();
        pass.1 += deleted;
        match next {
            Some(pos) => self.reclaim_pos.store(pos, Ordering::Relaxed),
            None => {
                let next_shard = (i + 1) % shards.len();
                self.reclaim_shard.store(next_shard, Ordering::Relaxed);
                self.reclaim_pos.store(usize::MAX, Ordering::Relaxed);
                if next_shard == 0 {
                    // A whole pass: if it deleted nothing and no purge came during it,
                    // nothing stale is left, whatever the count says.
                    let purges = self.books.purges();
                    if pass.1 == 0 && pass.0 == purges {
                        self.books.settle_stale();
                    }
                    *pass = (purges, 0);
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Encoding;

    #[test]
    fn the_reclaimer_deletes_purged_entries_and_settles_its_count() {
        let ks = Keyspace::new(1, 4);
        let cache = std::sync::Arc::new(Cache::new(Catalog::from_config(
            &crate::config::Config::default().cache,
        )));
        ks.set_reclaimed(cache.clone());
        let content = cache.catalog.type_id(b"content").unwrap().0;
        for subject in [&b"a"[..], b"b"] {
            let g = cache.books.generation_for_write(subject, content);
            for i in 0..300 {
                let k = key::encode(content, g, subject, format!("k{i}").as_bytes());
                let e = Entry::new_str(&k, b"value", Encoding::Raw, 0);
                let bytes = e.mem_size() as u64;
                ks.shard(ks.cache_db(), &k).put(e, false, 0);
                cache.books.record(
                    subject,
                    content,
                    Some(g),
                    Event::Stored {
                        bytes,
                        replaced: None,
                    },
                );
            }
        }
        assert_eq!(cache.books.purge_subject(b"a"), 300);
        assert_eq!(cache.books.stale(), 300);
        let mut steps = 0;
        while cache.books.stale() > 0 && steps < 1000 {
            cache.reclaim_step(&ks, 0, 64);
            steps += 1;
        }
        assert_eq!(cache.books.stale(), 0);
        assert_eq!(ks.db_counts(ks.cache_db()).0, 300, "b's entries stay");
        assert_eq!(cache.books.subject(b"b")[0].1.entries, 300);
        // A count off by a lost race settles after a clean pass.
        cache.books.record(
            b"a",
            content,
            Some(1),
            Event::Stored {
                bytes: 1,
                replaced: None,
            },
        );
        assert_eq!(cache.books.stale(), 1);
        for _ in 0..100 {
            cache.reclaim_step(&ks, 0, 1000);
        }
        assert_eq!(cache.books.stale(), 0);
    }
}
