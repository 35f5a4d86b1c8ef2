//! The hash table of one shard: entries in a dense vector, found through an index of `u32`
//! positions. Dense positions give O(1) random sampling (expiry, eviction, RANDOMKEY) and a
//! SCAN cursor that walks positions downwards: removal moves the last entry into the hole, and
//! the last entry has always been visited already, so a full scan never misses a key that
//! was present throughout (it may return one twice, as Redis allows).

use super::entry::Entry;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

#[derive(Debug)]
pub struct KeyTable {
    entries: Vec<Entry>,
    index: HashTable<u32>,
    hasher: FixedState,
}

impl KeyTable {
    pub fn new(hasher: FixedState) -> Self {
        KeyTable {
            entries: Vec::new(),
            index: HashTable::new(),
            hasher,
        }
    }

    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(hash, |&i| entries[i as usize].key() == key)
            .map(|&i| i as usize)
    }

    pub fn at(&self, pos: usize) -> &Entry {
        &self.entries[pos]
    }

    pub fn at_mut(&mut self, pos: usize) -> &mut Entry {
        &mut self.entries[pos]
    }

    /// Replaces the entry at `pos` with one for the same key.
    pub fn replace(&mut self, pos: usize, entry: Entry) -> Entry {
        std::mem::replace(&mut self.entries[pos], entry)
    }

    /// Adds an entry whose key is known to be absent; returns its position.
    pub fn push(&mut self, hash: u64, entry: Entry) -> usize {
        let pos = self.entries.len();
        self.entries.push(entry);
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index.insert_unique(hash, pos as u32, |&i| {
            hasher.hash_one(entries[i as usize].key())
        });
        pos
    }

    /// Removes the entry at `pos`; the last entry takes its place.
    pub fn swap_remove(&mut self, pos: usize) -> Entry {
        let hash = self.hash(self.entries[pos].key());
        if let Ok(slot) = self.index.find_entry(hash, |&i| i as usize == pos) {
            slot.remove();
        }
        let last = self.entries.len() - 1;
        if pos != last {
            let moved = self.hash(self.entries[last].key());
            if let Some(slot) = self.index.find_mut(moved, |&i| i as usize == last) {
                *slot = pos as u32;
            }
        }
        let removed = self.entries.swap_remove(pos);
        self.maybe_shrink();
        removed
    }

    /// Gives memory back once the table is mostly empty (Redis shrinks below 10% fill).
    fn maybe_shrink(&mut self) {
        let cap = self.entries.capacity();
        if cap > 64 && self.entries.len() < cap / 8 {
            let want = self.entries.len() * 2;
            self.entries.shrink_to(want);
            let (entries, hasher) = (&self.entries, &self.hasher);
            self.index
                .shrink_to(want, |&i| hasher.hash_one(entries[i as usize].key()));
        }
    }

    pub fn clear(&mut self) {
        self.entries = Vec::new();
        self.index = HashTable::new();
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// Bytes of the table itself (slots and index), for memory accounting.
    pub fn overhead(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>() + self.index.capacity() * 5
    }
}

#[cfg(test)]
mod tests {
    use super::super::entry::Encoding;
    use super::*;
    use std::collections::BTreeMap;

    fn entry(k: &[u8]) -> Entry {
        Entry::new_str(k, k, Encoding::Raw, 0)
    }

    #[test]
    fn matches_a_btreemap_under_inserts_and_removals() {
        let mut t = KeyTable::new(FixedState::with_seed(1));
        let mut model = BTreeMap::new();
        let mut x: u64 = 7;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let k = format!("k{}", (x >> 33) % 500).into_bytes();
            let h = t.hash(&k);
            if (x >> 20) % 3 == 0 {
                if let Some(p) = t.find(h, &k) {
                    t.swap_remove(p);
                }
                model.remove(&k);
            } else if t.find(h, &k).is_none() {
                t.push(h, entry(&k));
                model.insert(k, ());
            }
            assert_eq!(t.len(), model.len());
        }
        for k in model.keys() {
            assert!(t.find(t.hash(k), k).is_some());
        }
        let mut keys: Vec<_> = t.iter().map(|e| e.key().to_vec()).collect();
        keys.sort();
        assert_eq!(keys, model.keys().cloned().collect::<Vec<_>>());
    }
}
