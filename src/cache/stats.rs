//! The cache's books: per subject and type, the generation its entries are stored under
//! and its counters; per type, the same counters over every subject. A subject's books live
//! while it holds entries; its purge (CACHE.DEL of a subject or a type) moves the generation
//! and zeroes its counts in O(1), leaving the old entries to the reclaimer.

use std::collections::HashMap;

use foldhash::fast::FixedState;
use parking_lot::Mutex;
use smallvec::SmallVec;
use std::hash::BuildHasher;

/// Counters of one (subject, type), one type, or everything.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counters {
    pub entries: u64,
    pub bytes: u64,
    pub hits: u64,
    pub misses: u64,
    pub tokens_saved: u64,
    /// Billionths of a dollar.
    pub cost_saved_nanos: u64,
    pub evictions: u64,
    pub expired: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.entries += o.entries;
        self.bytes += o.bytes;
        self.hits += o.hits;
        self.misses += o.misses;
        self.tokens_saved += o.tokens_saved;
        self.cost_saved_nanos = self.cost_saved_nanos.saturating_add(o.cost_saved_nanos);
        self.evictions += o.evictions;
        self.expired += o.expired;
    }

    /// `cost_saved_nanos` in dollars.
    pub fn cost_saved_usd(&self) -> f64 {
        self.cost_saved_nanos as f64 / 1e9
    }

    /// Hits over lookups, 0 with none.
    pub fn hit_rate(&self) -> f64 {
        let n = self.hits + self.misses;
        if n == 0 {
            0.0
        } else {
            self.hits as f64 / n as f64
        }
    }
}

/// One change to the books.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// An entry of `bytes` stored, replacing one of `replaced` bytes if any.
    Stored {
        bytes: u64,
        replaced: Option<u64>,
    },
    /// An entry of `bytes` deleted by CACHE.DEL of its key.
    Deleted {
        bytes: u64,
    },
    Expired {
        bytes: u64,
    },
    Evicted {
        bytes: u64,
    },
    Hit {
        tokens: u64,
        cost_nanos: u64,
    },
    Miss,
}

impl Event {
    /// The event takes an entry away.
    fn removes(self) -> bool {
        matches!(
            self,
            Event::Deleted { .. } | Event::Expired { .. } | Event::Evicted { .. }
        )
    }

    fn apply(self, c: &mut Counters) {
        let gone = |c: &mut Counters, bytes: u64| {
            c.entries = c.entries.saturating_sub(1);
            c.bytes = c.bytes.saturating_sub(bytes);
        };
        match self {
            Event::Stored { bytes, replaced } => {
                if let Some(old) = replaced {
                    gone(c, old);
                }
                c.entries += 1;
                c.bytes += bytes;
            }
            Event::Deleted { bytes } => gone(c, bytes),
            Event::Expired { bytes } => {
                gone(c, bytes);
                c.expired += 1;
            }
            Event::Evicted { bytes } => {
                gone(c, bytes);
                c.evictions += 1;
            }
            Event::Hit { tokens, cost_nanos } => {
                c.hits += 1;
                c.tokens_saved = c.tokens_saved.saturating_add(tokens);
                c.cost_saved_nanos = c.cost_saved_nanos.saturating_add(cost_nanos);
            }
            Event::Miss => c.misses += 1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct TypeBooks {
    type_id: u16,
    generation: u64,
    counters: Counters,
}

/// One subject's books: the types it has entries of (a few: a small inline list).
#[derive(Debug, Default)]
struct SubjectBooks {
    types: SmallVec<[TypeBooks; 2]>,
}

impl SubjectBooks {
    fn entries(&self) -> u64 {
        self.types.iter().map(|t| t.counters.entries).sum()
    }
}

type Shard = Mutex<HashMap<Box<[u8]>, SubjectBooks, FixedState>>;

/// Every subject's books, in shards by subject, and the per-type totals.
pub struct Books {
    shards: Box<[Shard]>,
    hasher: FixedState,
    types: Box<[Mutex<Counters>]>,
    next_generation: std::sync::atomic::AtomicU64,
    /// Entries made unreachable by a purge and not yet deleted.
    stale: std::sync::atomic::AtomicU64,
    /// Purges so far (the reclaimer's check that a pass saw every purged entry).
    purges: std::sync::atomic::AtomicU64,
}

const SHARDS: usize = 64;

impl Books {
    pub fn new(types: usize) -> Books {
        let hasher = FixedState::with_seed(rand::random());
        Books {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(hasher)))
                .collect(),
            hasher,
            types: (0..types).map(|_| Mutex::default()).collect(),
            next_generation: 1.into(),
            stale: 0.into(),
            purges: 0.into(),
        }
    }

    fn shard(&self, subject: &[u8]) -> &Shard {
        &self.shards[(self.hasher.hash_one(subject) as usize) % SHARDS]
    }

    fn fresh_generation(&self) -> u64 {
        self.next_generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// The generation a lookup of (subject, type) must use, or `None` when the subject has
    /// no entry of the type (a miss without a lookup).
    pub fn generation(&self, subject: &[u8], type_id: u16) -> Option<u64> {
        let map = self.shard(subject).lock();
        let books = map.get(subject)?;
        books
            .types
            .iter()
            .find(|t| t.type_id == type_id)
            .map(|t| t.generation)
    }

    /// The generation a new entry of (subject, type) is stored under (books made if needed).
    pub fn generation_for_write(&self, subject: &[u8], type_id: u16) -> u64 {
        let mut map = self.shard(subject).lock();
        let books = map.entry(subject.into()).or_default();
        if let Some(t) = books.types.iter().find(|t| t.type_id == type_id) {
            return t.generation;
        }
        let generation = self.fresh_generation();
        books.types.push(TypeBooks {
            type_id,
            generation,
            counters: Counters::default(),
        });
        generation
    }

    /// Whether an entry stored under `generation` is still reachable.
    pub fn is_live(&self, subject: &[u8], type_id: u16, generation: u64) -> bool {
        self.generation(subject, type_id) == Some(generation)
    }

    /// Books `event` for (subject, type) if `generation` is current, and in the type's
    /// totals. An entry of a generation no longer current (a purge came between a SET's
    /// choice of generation and its store, or the entry was written off by a purge and
    /// now expires or is evicted) only moves the stale count, which the reclaimer follows.
    /// A subject whose last entry went loses its books (its hit counts too).
    pub fn record(&self, subject: &[u8], type_id: u16, generation: Option<u64>, event: Event) {
        let live = {
            let mut map = self.shard(subject).lock();
            // A miss of a subject that has books, on a type it has no entry of, opens the
            // type's books (so its STATS counts it); a subject without books gets none
            // (misses alone must not grow memory).
            if let (Event::Miss, Some(books)) = (event, map.get_mut(subject)) {
                if !books.types.iter().any(|t| t.type_id == type_id) {
                    books.types.push(TypeBooks {
                        type_id,
                        generation: self.fresh_generation(),
                        counters: Counters::default(),
                    });
                }
            }
            let slot = map.get_mut(subject).and_then(|books| {
                books
                    .types
                    .iter_mut()
                    .find(|t| t.type_id == type_id && generation.is_none_or(|g| g == t.generation))
                    .map(|t| event.apply(&mut t.counters))
                    .map(|()| books.entries() == 0)
            });
            match slot {
                Some(empty) => {
                    if empty && event.removes() {
                        map.remove(subject);
                    }
                    true
                }
                None => false,
            }
        };
        if !live {
            match event {
                Event::Stored { replaced: None, .. } => self.stale_add(1),
                Event::Stored { .. } | Event::Hit { .. } => {}
                Event::Deleted { .. } | Event::Expired { .. } | Event::Evicted { .. } => {
                    self.reclaimed_stale();
                    return;
                }
                // A miss of a subject without books still counts for its type.
                Event::Miss => {}
            }
            if !matches!(event, Event::Miss) {
                return;
            }
        }
        if let Some(t) = self.types.get(usize::from(type_id)) {
            event.apply(&mut t.lock());
        }
    }

    fn stale_add(&self, n: u64) {
        self.stale
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// CACHE.DEL of a subject: every entry of it becomes unreachable; returns how many.
    pub fn purge_subject(&self, subject: &[u8]) -> u64 {
        let books = self.shard(subject).lock().remove(subject);
        let Some(books) = books else {
            return 0;
        };
        let mut n = 0;
        for t in &books.types {
            self.write_off(t);
            n += t.counters.entries;
        }
        n
    }

    /// CACHE.DEL of a subject's type: its entries of the type become unreachable.
    pub fn purge_type(&self, subject: &[u8], type_id: u16) -> u64 {
        let mut map = self.shard(subject).lock();
        let Some(books) = map.get_mut(subject) else {
            return 0;
        };
        let Some(i) = books.types.iter().position(|t| t.type_id == type_id) else {
            return 0;
        };
        let t = books.types.swap_remove(i);
        if books.types.is_empty() {
            map.remove(subject);
        }
        drop(map);
        self.write_off(&t);
        t.counters.entries
    }

    fn write_off(&self, t: &TypeBooks) {
        self.purges
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.stale_add(t.counters.entries);
        if let Some(totals) = self.types.get(usize::from(t.type_id)) {
            let mut c = totals.lock();
            c.entries = c.entries.saturating_sub(t.counters.entries);
            c.bytes = c.bytes.saturating_sub(t.counters.bytes);
        }
    }

    /// A stale entry deleted by the reclaimer.
    pub fn reclaimed_stale(&self) {
        let _ = self.stale.fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |n| Some(n.saturating_sub(1)),
        );
    }

    /// Purges so far.
    pub fn purges(&self) -> u64 {
        self.purges.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A pass of the reclaimer over every entry, during which no purge happened, found no
    /// stale entry left: the count is set right (it can only be off by a race of a SET with
    /// a purge, but a count that never reached 0 would keep the reclaimer walking forever).
    pub fn settle_stale(&self) {
        self.stale.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    /// Entries purged and not yet deleted.
    pub fn stale(&self) -> u64 {
        self.stale.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A subject's counters per type it has entries of, in type order.
    pub fn subject(&self, subject: &[u8]) -> Vec<(u16, Counters)> {
        let map = self.shard(subject).lock();
        let mut out: Vec<(u16, Counters)> = map
            .get(subject)
            .map(|b| b.types.iter().map(|t| (t.type_id, t.counters)).collect())
            .unwrap_or_default();
        out.sort_by_key(|(id, _)| *id);
        out
    }

    /// Every type's totals, in type order.
    pub fn totals(&self) -> Vec<Counters> {
        self.types.iter().map(|t| *t.lock()).collect()
    }

    /// Subjects with books (for INFO); the shared types' owner (the empty name) is none.
    pub fn subjects(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let map = s.lock();
                map.len() - usize::from(map.contains_key(&b""[..]))
            })
            .sum()
    }

    /// FLUSHALL: the cache's database was cleared; the books go with it (hit counts too).
    pub fn clear(&self) {
        for s in self.shards.iter() {
            s.lock().clear();
        }
        for t in self.types.iter() {
            *t.lock() = Counters::default();
        }
        self.stale.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    /// CONFIG RESETSTAT: the hit, miss, saving, eviction and expiry counts restart; what
    /// is held (entries, bytes) stays.
    pub fn reset_stats(&self) {
        let keep = |c: &mut Counters| {
            *c = Counters {
                entries: c.entries,
                bytes: c.bytes,
                ..Counters::default()
            }
        };
        for s in self.shards.iter() {
            for b in s.lock().values_mut() {
                for t in b.types.iter_mut() {
                    keep(&mut t.counters);
                }
            }
        }
        for t in self.types.iter() {
            keep(&mut t.lock());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(bytes: u64) -> Event {
        Event::Stored {
            bytes,
            replaced: None,
        }
    }

    #[test]
    fn a_subject_is_booked_per_type_and_in_the_totals() {
        let b = Books::new(3);
        assert_eq!(b.generation(b"u1", 0), None);
        let g = b.generation_for_write(b"u1", 0);
        assert_eq!(b.generation_for_write(b"u1", 0), g, "stable until a purge");
        b.record(b"u1", 0, Some(g), stored(100));
        b.record(
            b"u1",
            0,
            Some(g),
            Event::Stored {
                bytes: 80,
                replaced: Some(100),
            },
        );
        b.record(
            b"u1",
            0,
            Some(g),
            Event::Hit {
                tokens: 10,
                cost_nanos: 500_000_000,
            },
        );
        b.record(b"u1", 0, Some(g), Event::Miss);
        let s = b.subject(b"u1");
        assert_eq!(s.len(), 1);
        let c = s[0].1;
        assert_eq!(
            (c.entries, c.bytes, c.hits, c.misses, c.tokens_saved),
            (1, 80, 1, 1, 10)
        );
        assert_eq!(c.hit_rate(), 0.5);
        assert_eq!(b.totals()[0], c);
        assert_eq!(b.totals()[1], Counters::default());
    }

    #[test]
    fn a_purge_moves_the_generation_and_writes_the_entries_off() {
        let b = Books::new(2);
        let g0 = b.generation_for_write(b"u", 0);
        let g1 = b.generation_for_write(b"u", 1);
        for _ in 0..3 {
            b.record(b"u", 0, Some(g0), stored(10));
        }
        b.record(b"u", 1, Some(g1), stored(10));
        assert_eq!(b.purge_type(b"u", 0), 3);
        assert_eq!(b.stale(), 3);
        assert!(!b.is_live(b"u", 0, g0));
        assert!(b.is_live(b"u", 1, g1));
        assert_ne!(
            b.generation_for_write(b"u", 0),
            g0,
            "a new generation after a purge"
        );
        // An old entry expiring lowers the stale count, not the new books.
        b.record(b"u", 0, Some(g0), Event::Expired { bytes: 10 });
        assert_eq!(b.stale(), 2);
        assert_eq!(b.totals()[0].expired, 0);
        assert_eq!(b.purge_subject(b"u"), 1);
        assert_eq!(b.stale(), 3);
        assert_eq!(b.subjects(), 0);
        assert_eq!(b.totals()[0].entries + b.totals()[1].entries, 0);
    }

    #[test]
    fn the_last_entry_going_drops_the_books() {
        let b = Books::new(1);
        let g = b.generation_for_write(b"u", 0);
        b.record(b"u", 0, Some(g), stored(5));
        b.record(b"u", 0, Some(g), Event::Evicted { bytes: 5 });
        assert_eq!(b.subjects(), 0);
        assert_eq!(b.totals()[0].evictions, 1);
        assert_eq!(b.totals()[0].entries, 0);
    }
}
