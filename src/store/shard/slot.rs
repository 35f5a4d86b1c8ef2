//! The shard's one read-modify-write entry point: `Shard::write` finds a key once and hands
//! the caller a `Slot` to read it, change it in place, replace it, give it a deadline or
//! delete it. Whatever the caller does, the slot keeps the shard's books: memory accounting,
//! the set of keys with a TTL, WATCH flags, access stamps and lazy expiry.

use super::{Gone, Shard};
use crate::store::entry::{Entry, Object};
use crate::store::{access, NotObject};
use std::sync::atomic::Ordering;

/// Where the key stands while the slot is open.
#[derive(Clone, Copy)]
enum At {
    /// Live, at this table position.
    Live(usize),
    /// Absent, or expired and not yet reclaimed.
    Gone(Gone),
}

/// One key of a locked shard, found once (see [`Shard::write`]).
pub struct Slot<'s> {
    shard: &'s mut Shard,
    key: &'s [u8],
    hash: u64,
    now: u64,
    at: At,
    /// The entry's size when it was lent out for an in-place change; accounted at the end.
    lent: Option<usize>,
}

impl Shard {
    /// Finds `key` once and lets `f` read and change it through a [`Slot`]. An expired key
    /// counts as absent: a write reuses its table slot, otherwise it is reclaimed (lazy
    /// expiry). A live key is touched (LRU/LFU) even when `f` changes nothing: a rate-limit
    /// check that is denied still counts as a use for eviction.
    #[inline]
    pub fn write<R>(&mut self, key: &[u8], now: u64, f: impl FnOnce(&mut Slot<'_>) -> R) -> R {
        let hash = self.table.hash(key);
        let at = match self.probe(hash, key, now) {
            Ok(pos) => {
                let lfu = self.shared.lfu.load(Ordering::Relaxed);
                access::touch(self.table.at_mut(pos), now, lfu);
                At::Live(pos)
            }
            Err(gone) => At::Gone(gone),
        };
        let mut slot = Slot {
            shard: self,
            key,
            hash,
            now,
            at,
            lent: None,
        };
        let r = f(&mut slot);
        slot.close();
        r
    }
}

impl Slot<'_> {
    /// The live entry, if any.
    #[inline]
    pub fn entry(&self) -> Option<&Entry> {
        match self.at {
            At::Live(pos) => Some(self.shard.table.at(pos)),
            At::Gone(_) => None,
        }
    }

    /// The live key's deadline (unix ms), if it has a TTL.
    #[inline]
    pub fn deadline(&self) -> Option<u64> {
        self.entry().and_then(Entry::deadline)
    }

    /// The live structured value, to change in place (`Ok(None)` when the key is absent; a
    /// string is `Err(NotObject)`). Memory accounting follows the change; call
    /// [`Slot::set_deadline`] to record it as a write (WATCH, TTL).
    #[inline]
    pub fn object_mut(&mut self) -> Result<Option<&mut Object>, NotObject> {
        let At::Live(pos) = self.at else {
            return Ok(None);
        };
        let e = self.shard.table.at_mut(pos);
        if self.lent.is_none() {
            self.lent = Some(e.mem_size());
        }
        e.object_mut().map(Some).ok_or(NotObject)
    }

    /// The live key's string, made `raw`, to change in place at the same length (SETBIT);
    /// `None` when absent or not a string. Call [`Slot::mark_written`] after a change.
    #[inline]
    pub fn raw_str_mut(&mut self) -> Option<&mut [u8]> {
        let At::Live(pos) = self.at else {
            return None;
        };
        self.shard.table.at_mut(pos).raw_str_mut()
    }

    /// Stores `entry` (which must be for this key and carries its own deadline, or none) in
    /// place of whatever the key held.
    pub fn put(&mut self, mut entry: Entry) {
        debug_assert_eq!(entry.key(), self.key);
        self.settle_lent();
        let lfu = self.shard.shared.lfu.load(Ordering::Relaxed);
        access::init(&mut entry, self.now, lfu);
        self.shard.touch_watch(self.key);
        match self.at {
            At::Live(pos) | At::Gone(Gone::Expired(pos)) => {
                if let At::Gone(_) = self.at {
                    self.shard.stats.expired += 1;
                }
                self.shard.replace_at(pos, entry);
                self.at = At::Live(pos);
            }
            At::Gone(Gone::Absent) => {
                let pos = self.shard.table.len();
                self.shard.push_new(self.hash, entry);
                self.at = At::Live(pos);
            }
        }
    }

    /// Stores `entry` in place of the key's value, keeping the key's TTL if it has one (INCR,
    /// APPEND: Redis changes the value, not the key).
    pub fn put_keep_ttl(&mut self, mut entry: Entry) {
        if let Some(at) = self.deadline() {
            entry.set_deadline(Some(at));
        }
        self.put(entry);
    }

    /// Stores a new structured value with `deadline` (unix ms, or none).
    pub fn put_object(&mut self, value: Object, deadline: Option<u64>) {
        let mut entry = Entry::new_obj(self.key, value);
        entry.set_deadline(deadline);
        self.put(entry);
    }

    /// Gives the live key a deadline or takes it away, and records the key as written
    /// (WATCH). No effect on an absent key.
    pub fn set_deadline(&mut self, deadline: Option<u64>) {
        let At::Live(pos) = self.at else {
            return;
        };
        self.settle_lent();
        self.shard.set_deadline(pos, deadline);
        self.shard.touch_watch(self.key);
    }

    /// Records an in-place change made through `object_mut` as a write: WATCHes of the key
    /// fire and the save points count it (the shard's books do not see inside a value).
    pub fn mark_written(&mut self) {
        if let At::Live(_) = self.at {
            self.settle_lent();
            self.shard.touch_watch(self.key);
        }
    }

    /// Deletes the key; returns its entry when it was live.
    pub fn delete(&mut self) -> Option<Entry> {
        let At::Live(pos) = self.at else {
            return None;
        };
        self.settle_lent();
        let e = self.shard.delete_at(pos);
        self.at = At::Gone(Gone::Absent);
        Some(e)
    }

    /// Accounts an in-place change made through `object_mut`.
    fn settle_lent(&mut self) {
        if let (Some(before), At::Live(pos)) = (self.lent.take(), self.at) {
            let after = self.shard.table.at(pos).mem_size();
            self.shard.account(after as i64 - before as i64);
        }
    }

    /// Ends the write: accounts in-place changes and reclaims an expired key nobody wrote.
    fn close(&mut self) {
        self.settle_lent();
        if let At::Gone(gone @ Gone::Expired(_)) = self.at {
            self.shard
                .settle_gone(gone, self.hash, self.key, None, self.now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::lease::Leases;
    use crate::store::entry::Encoding;
    use foldhash::fast::FixedState;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    fn shard() -> Shard {
        Shard::new(FixedState::with_seed(7), Arc::default())
    }

    fn leases(n: u64) -> Object {
        let mut l = Leases::new();
        for i in 0..n {
            l.acquire(100, 1_000, None, 0, || format!("lease-{i}").into_bytes());
        }
        Object::Leases(l)
    }

    /// The shard's byte count equals the sum of its entries' sizes plus the TTL set's.
    fn books_balance(s: &Shard) -> bool {
        let entries: usize = s.iter().map(Entry::mem_size).sum();
        let ttl: usize = s.volatile.keys().map(super::super::expire_mem).sum();
        s.mem == entries + ttl + s.table_mem && s.table_mem == s.table.overhead()
    }

    #[test]
    fn put_creates_then_replaces_with_one_lookup() {
        let mut s = shard();
        let existed = s.write(b"k", 0, |slot| {
            let existed = slot.entry().is_some();
            slot.put(Entry::new_str(b"k", b"v1", Encoding::Embstr, 0));
            existed
        });
        assert!(!existed);
        s.write(b"k", 0, |slot| {
            assert_eq!(slot.entry().and_then(Entry::str), Some(&b"v1"[..]));
            slot.put(Entry::new_str_expiring(b"k", b"v2", Encoding::Embstr, 50));
        });
        assert_eq!((s.len(), s.volatile_len()), (1, 1));
        assert_eq!(s.write(b"k", 0, |slot| slot.deadline()), Some(50));
        assert!(books_balance(&s));
    }

    #[test]
    fn an_expired_key_is_reclaimed_or_its_slot_reused() {
        let mut s = shard();
        s.put(
            Entry::new_str_expiring(b"a", b"1", Encoding::Int, 10),
            false,
            0,
        );
        s.put(
            Entry::new_str_expiring(b"b", b"1", Encoding::Int, 10),
            false,
            0,
        );
        // Read only, after the deadline: gone, and reclaimed.
        assert!(s.write(b"a", 10, |slot| slot.entry().is_none()));
        assert_eq!((s.len(), s.stats.expired), (1, 1));
        // Written after the deadline: the slot is reused for the new value, without a TTL.
        s.write(b"b", 10, |slot| {
            assert!(slot.entry().is_none());
            slot.put(Entry::new_str(b"b", b"2", Encoding::Int, 0));
        });
        assert_eq!((s.len(), s.volatile_len(), s.stats.expired), (1, 0, 2));
        assert!(books_balance(&s));
    }

    #[test]
    fn in_place_changes_are_accounted_and_deadlines_fire_watches() {
        let mut s = shard();
        let flag = Arc::new(AtomicBool::new(false));
        s.watch(b"L", &flag);
        s.write(b"L", 0, |slot| {
            assert!(matches!(slot.object_mut(), Ok(None)));
            slot.put_object(leases(1), Some(1_000));
        });
        assert!(flag.swap(false, Ordering::SeqCst), "creating is a write");
        s.write(b"L", 0, |slot| {
            let Ok(Some(Object::Leases(l))) = slot.object_mut() else {
                panic!("leases expected");
            };
            for i in 0..20 {
                l.acquire(100, 1_000, None, 0, || format!("more-{i}").into_bytes());
            }
        });
        assert!(books_balance(&s), "growth in place is accounted");
        assert!(
            !flag.load(Ordering::SeqCst),
            "an in-place change alone is no write"
        );
        s.write(b"L", 0, |slot| slot.set_deadline(Some(2_000)));
        assert!(flag.swap(false, Ordering::SeqCst));
        let gone = s.write(b"L", 0, |slot| {
            let _ = slot.object_mut();
            slot.delete()
        });
        assert!(gone.is_some() && flag.load(Ordering::SeqCst));
        assert_eq!((s.len(), s.volatile_len(), s.mem - s.table_mem), (0, 0, 0));
    }

    #[test]
    fn put_keep_ttl_keeps_the_keys_deadline() {
        let mut s = shard();
        s.put(
            Entry::new_str_expiring(b"k", b"1", Encoding::Int, 500),
            false,
            0,
        );
        s.write(b"k", 0, |slot| {
            slot.put_keep_ttl(Entry::new_str(b"k", b"2", Encoding::Int, 0));
        });
        assert_eq!(s.write(b"k", 0, |slot| slot.deadline()), Some(500));
        s.write(b"n", 0, |slot| {
            slot.put_keep_ttl(Entry::new_str(b"n", b"1", Encoding::Int, 0));
        });
        assert_eq!(s.write(b"n", 0, |slot| slot.deadline()), None);
        assert_eq!((s.len(), s.volatile_len()), (2, 1));
        assert!(books_balance(&s));
    }

    #[test]
    fn a_string_is_not_an_object() {
        let mut s = shard();
        s.put(Entry::new_str(b"k", b"v", Encoding::Embstr, 0), false, 0);
        let r = s.write(b"k", 0, |slot| slot.object_mut().map(|o| o.is_some()));
        assert_eq!(r, Err(NotObject));
        assert_eq!(s.len(), 1);
        assert!(books_balance(&s));
    }
}
