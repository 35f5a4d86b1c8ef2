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
