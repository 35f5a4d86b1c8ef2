//! Hash values (HSET and friends): field → value maps in Redis 7.0's two encodings. A small
//! hash is `Packed`, one buffer of length-prefixed pairs searched linearly (Redis's listpack:
//! one allocation, insertion order); past `hash-max-listpack-entries` fields or a field or
//! value longer than `hash-max-listpack-value` bytes it becomes a `Table` (Redis's
//! hashtable), for good, as in Redis. Both keep their heap size at hand, so memory
//! accounting costs O(1) per write.

use super::varint;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// The listpack thresholds (`hash-max-listpack-entries`, `hash-max-listpack-value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub entries: u64,
    pub value: u64,
}

impl Default for Limits {
    /// Redis 7.0's defaults.
    fn default() -> Self {
        Limits {
            entries: 512,
            value: 64,
        }
    }
}

/// The thresholds as the keyspace holds them: CONFIG SET changes them while commands run.
#[derive(Debug)]
pub struct LimitCell {
    entries: AtomicU64,
    value: AtomicU64,
}

impl Default for LimitCell {
    fn default() -> Self {
        let d = Limits::default();
        LimitCell {
            entries: AtomicU64::new(d.entries),
            value: AtomicU64::new(d.value),
        }
    }
}

impl LimitCell {
    pub fn new(l: Limits) -> LimitCell {
        LimitCell {
            entries: AtomicU64::new(l.entries),
            value: AtomicU64::new(l.value),
        }
    }

    pub fn set(&self, l: Limits) {
        self.entries.store(l.entries, Ordering::Relaxed);
        self.value.store(l.value, Ordering::Relaxed);
    }

    pub fn get(&self) -> Limits {
        Limits {
            entries: self.entries.load(Ordering::Relaxed),
            value: self.value.load(Ordering::Relaxed),
        }
    }
}

/// A hash value.
#[derive(Clone)]
pub enum Hash {
    Packed(Packed),
    Table(Box<Table>),
}

/// Pairs in one buffer, in insertion order: `[field len: varint][value len: varint][field]
/// [value]` each. Deleting or replacing keeps the order, as a listpack does, so replies list
/// fields in the order Redis does.
#[derive(Clone, Default)]
pub struct Packed {
    buf: Vec<u8>,
    len: u32,
}

/// Pairs in a dense vector (each pair one allocation: `[field len: varint][field][value]`),
/// found through an index of positions; removal moves the last pair into the hole, so HSCAN
/// walks positions downwards, as the keyspace's SCAN does (see `store::table`).
#[derive(Clone)]
pub struct Table {
    pairs: Vec<Box<[u8]>>,
    index: HashTable<u32>,
    /// Seeded per table: fields an attacker chooses cannot be aimed at one bucket.
    hasher: FixedState,
    /// Heap bytes of the pairs' allocations, kept as they come and go.
    bytes: usize,
}

/// The allocator's granularity, as `entry::heap_size` rounds.
fn alloc(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        n.next_multiple_of(16)
    }
}

/// One pair of a packed buffer: where it starts and ends, and its field and value.
struct At<'a> {
    start: usize,
    end: usize,
    field: &'a [u8],
    value: &'a [u8],
}

impl Packed {
    fn pair_at(&self, start: usize) -> At<'_> {
        let b = &self.buf;
        let (flen, n1) = varint::get(&b[start..]);
        let (vlen, n2) = varint::get(&b[start + n1..]);
        let f = start + n1 + n2;
        let v = f + flen;
        At {
            start,
            end: v + vlen,
            field: &b[f..v],
            value: &b[v..v + vlen],
        }
    }

    fn iter(&self) -> PackedIter<'_> {
        PackedIter { p: self, pos: 0 }
    }

    fn find(&self, field: &[u8]) -> Option<At<'_>> {
        let mut pos = 0;
        while pos < self.buf.len() {
            let at = self.pair_at(pos);
            if at.field == field {
                return Some(at);
            }
            pos = at.end;
        }
        None
    }

    fn encode(out: &mut Vec<u8>, field: &[u8], value: &[u8]) {
        varint::put(out, field.len());
        varint::put(out, value.len());
        out.extend_from_slice(field);
        out.extend_from_slice(value);
    }

    /// Sets a field; true when it is new. The buffer grows to the exact size (as a listpack
    /// reallocates), so a small hash holds no slack.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let mut pair = Vec::with_capacity(
            varint::len(field.len()) + varint::len(value.len()) + field.len() + value.len(),
        );
        Self::encode(&mut pair, field, value);
        match self.find(field).map(|a| (a.start, a.end)) {
            Some((start, end)) => {
                if pair.len() > end - start {
                    self.buf.reserve_exact(pair.len() - (end - start));
                }
                self.buf.splice(start..end, pair);
                false
            }
            None => {
                self.buf.reserve_exact(pair.len());
                self.buf.extend_from_slice(&pair);
                self.len += 1;
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(field).map(|a| (a.start, a.end)) {
            Some((start, end)) => {
                self.buf.drain(start..end);
                self.len -= 1;
                true
            }
            None => false,
        }
    }
}

pub struct PackedIter<'a> {
    p: &'a Packed,
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.p.buf.len() {
            return None;
        }
        let at = self.p.pair_at(self.pos);
        self.pos = at.end;
        Some((at.field, at.value))
    }
}

/// A table pair's field and value.
fn split_pair(p: &[u8]) -> (&[u8], &[u8]) {
    let (flen, n) = varint::get(p);
    (&p[n..n + flen], &p[n + flen..])
}

fn make_pair(field: &[u8], value: &[u8]) -> Box<[u8]> {
    let mut v = Vec::with_capacity(varint::len(field.len()) + field.len() + value.len());
    varint::put(&mut v, field.len());
    v.extend_from_slice(field);
    v.extend_from_slice(value);
    v.into_boxed_slice()
}

impl Table {
    fn with_capacity(n: usize) -> Table {
        Table {
            pairs: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
            hasher: FixedState::with_seed(rand::random()),
            bytes: 0,
        }
    }

    fn find(&self, field: &[u8]) -> Option<usize> {
        let hash = self.hasher.hash_one(field);
        let pairs = &self.pairs;
        self.index
            .find(hash, |&i| split_pair(&pairs[i as usize]).0 == field)
            .map(|&i| i as usize)
    }

    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let pair = make_pair(field, value);
        self.bytes += alloc(pair.len());
        match self.find(field) {
            Some(pos) => {
                let old = std::mem::replace(&mut self.pairs[pos], pair);
                self.bytes -= alloc(old.len());
                false
            }
            None => {
                self.push_new(pair);
                true
            }
        }
    }

    /// Adds a pair whose field is known to be absent.
    fn push_new(&mut self, pair: Box<[u8]>) {
        let pos = self.pairs.len() as u32;
        let hash = self.hasher.hash_one(split_pair(&pair).0);
        self.pairs.push(pair);
        let (pairs, hasher) = (&self.pairs, &self.hasher);
        self.index.insert_unique(hash, pos, |&i| {
            hasher.hash_one(split_pair(&pairs[i as usize]).0)
        });
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        let Some(pos) = self.find(field) else {
            return false;
        };
        let hash = self.hasher.hash_one(field);
        if let Ok(slot) = self.index.find_entry(hash, |&i| i as usize == pos) {
            slot.remove();
        }
        let last = self.pairs.len() - 1;
        if pos != last {
            let moved = self.hasher.hash_one(split_pair(&self.pairs[last]).0);
            if let Some(slot) = self.index.find_mut(moved, |&i| i as usize == last) {
                *slot = pos as u32;
            }
        }
        let gone = self.pairs.swap_remove(pos);
        self.bytes -= alloc(gone.len());
        true
    }

    /// Bytes beyond the `Table` itself: the pairs, their vector and the index (hashbrown's
    /// buckets: 4 bytes of position and 1 control byte each, at most 7/8 full).
    fn heap_size(&self) -> usize {
        let buckets = (self.index.capacity() * 8 / 7).next_power_of_two();
        self.bytes + alloc(self.pairs.capacity() * 16) + alloc(buckets * 5 + 16)
    }
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Packed(Packed::default())
    }
}

impl Hash {
    /// An empty hash, as Redis creates one: packed.
    pub fn new() -> Hash {
        Hash::default()
    }

    /// A hash of `pairs` in table form (the snapshot loader's; `fit` packs it when small),
    /// or the first field that appears twice.
    pub fn from_pairs<'a>(
        pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Result<Hash, &'a [u8]> {
        let mut t = Table::with_capacity(0);
        for (f, v) in pairs {
            if t.find(f).is_some() {
                return Err(f);
            }
            let pair = make_pair(f, v);
            t.bytes += alloc(pair.len());
            t.push_new(pair);
        }
        Ok(Hash::Table(Box::new(t)))
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Packed(p) => p.len as usize,
            Hash::Table(t) => t.pairs.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What `OBJECT ENCODING` replies.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Packed(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Packed(p) => p.find(field).map(|a| a.value),
            Hash::Table(t) => t.find(field).map(|i| split_pair(&t.pairs[i]).1),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value`; true when the field is new. Converts to a table first when
    /// either is longer than `limits.value`, and after when the hash has more than
    /// `limits.entries` fields (Redis's `hashTypeTryConversion` and `hashTypeSet`).
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: Limits) -> bool {
        let long = |b: &[u8]| b.len() as u64 > limits.value;
        if matches!(self, Hash::Packed(_)) && (long(field) || long(value)) {
            self.convert();
        }
        let new = match self {
            Hash::Packed(p) => p.set(field, value),
            Hash::Table(t) => t.set(field, value),
        };
        if matches!(self, Hash::Packed(_)) && self.len() as u64 > limits.entries {
            self.convert();
        }
        new
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Packed(p) => p.remove(field),
            Hash::Table(t) => t.remove(field),
        }
    }

    /// The pairs: a packed hash's in insertion order, a table's in position order.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Hash::Packed(p) => Iter::Packed(p.iter()),
            Hash::Table(t) => Iter::Table(t.pairs.iter()),
        }
    }

    /// The pair at position `i` (< len): O(1) for a table, a walk for a packed hash.
    pub fn nth(&self, i: usize) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Packed(p) => p.iter().nth(i),
            Hash::Table(t) => t.pairs.get(i).map(|p| split_pair(p)),
        }
    }

    /// One HSCAN step from `cursor`: a packed hash hands every pair and ends (cursor 0), as
    /// Redis does for a listpack; a table visits up to `count` positions downwards from the
    /// cursor (0 = the top) and returns where to resume, or 0 when done.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut f: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        match self {
            Hash::Packed(p) => {
                for (k, v) in p.iter() {
                    f(k, v);
                }
                0
            }
            Hash::Table(t) => {
                let len = t.pairs.len();
                let mut pos = match cursor {
                    0 => len,
                    c => usize::try_from(c).map_or(len, |c| c.min(len)),
                };
                let mut visited = 0;
                while pos > 0 && visited < count {
                    pos -= 1;
                    visited += 1;
                    let (k, v) = split_pair(&t.pairs[pos]);
                    f(k, v);
                }
                pos as u64
            }
        }
    }

    /// Converts a packed hash to a table (one way, as Redis's `hashTypeConvert`).
    fn convert(&mut self) {
        if let Hash::Packed(p) = self {
            let mut t = Table::with_capacity(p.len as usize);
            for (f, v) in p.iter() {
                let pair = make_pair(f, v);
                t.bytes += alloc(pair.len());
                t.push_new(pair);
            }
            *self = Hash::Table(Box::new(t));
        }
    }

    /// A table that `limits` allow packed becomes packed (loading a snapshot, as Redis
    /// chooses the encoding of a hash it loads); anything else stays as it is.
    pub fn fit(&mut self, limits: Limits) {
        let Hash::Table(t) = self else {
            return;
        };
        let small = t.pairs.len() as u64 <= limits.entries
            && t.pairs.iter().all(|p| {
                let (f, v) = split_pair(p);
                f.len() as u64 <= limits.value && v.len() as u64 <= limits.value
            });
        if !small {
            return;
        }
        let mut p = Packed::default();
        let size: usize = t
            .pairs
            .iter()
            .map(|pair| {
                let (f, v) = split_pair(pair);
                varint::len(f.len()) + varint::len(v.len()) + f.len() + v.len()
            })
            .sum();
        p.buf.reserve_exact(size);
        for pair in &t.pairs {
            let (f, v) = split_pair(pair);
            Packed::encode(&mut p.buf, f, v);
        }
        p.len = t.pairs.len() as u32;
        *self = Hash::Packed(p);
    }

    /// Heap bytes held beyond the enum itself, rounded as the allocator does; O(1).
    pub fn heap_size(&self) -> usize {
        match self {
            Hash::Packed(p) => alloc(p.buf.capacity()),
            Hash::Table(t) => alloc(std::mem::size_of::<Table>()) + t.heap_size(),
        }
    }
}

/// The pairs of a hash (see [`Hash::iter`]).
pub enum Iter<'a> {
    Packed(PackedIter<'a>),
    Table(std::slice::Iter<'a, Box<[u8]>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Packed(i) => i.next(),
            Iter::Table(i) => i.next().map(|p| split_pair(p)),
        }
    }
}

/// Two hashes are equal when they hold the same pairs, whatever their encoding and order.
impl PartialEq for Hash {
    fn eq(&self, other: &Hash) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl Eq for Hash {}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lossy = String::from_utf8_lossy;
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (lossy(k), lossy(v))))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        entries: 4,
        value: 8,
    };

    fn pairs(h: &Hash) -> Vec<(Vec<u8>, Vec<u8>)> {
        h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()
    }

    #[test]
    fn packed_keeps_insertion_order_through_updates_and_deletes() {
        let mut h = Hash::new();
        assert!(h.set(b"a", b"1", L));
        assert!(h.set(b"b", b"2", L));
        assert!(h.set(b"c", b"3", L));
        assert!(!h.set(b"a", b"1111", L));
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(
            pairs(&h),
            vec![
                (b"a".to_vec(), b"1111".to_vec()),
                (b"c".to_vec(), b"3".to_vec())
            ]
        );
        assert_eq!(
            (h.len(), h.get(b"c"), h.get(b"b")),
            (2, Some(&b"3"[..]), None)
        );
        assert_eq!(h.heap_size(), 16, "exact-size buffer: {}", h.heap_size());
    }

    #[test]
    fn converts_one_way_at_either_threshold() {
        let mut h = Hash::new();
        for i in 0..4u8 {
            h.set(&[b'f', i], b"v", L);
        }
        assert_eq!(h.encoding(), "listpack");
        h.set(b"f5", b"v", L);
        assert_eq!((h.encoding(), h.len()), ("hashtable", 5));
        for i in 0..4u8 {
            assert!(h.remove(&[b'f', i]));
        }
        assert_eq!((h.encoding(), h.len()), ("hashtable", 1));
        let mut long = Hash::new();
        long.set(b"k", b"123456789", L);
        assert_eq!(long.encoding(), "hashtable");
        let mut long_field = Hash::new();
        long_field.set(b"123456789", b"v", L);
        assert_eq!(long_field.encoding(), "hashtable");
        // Loading: small enough tables are packed again.
        h.fit(L);
        assert_eq!(
            (h.encoding(), pairs(&h)),
            ("listpack", vec![(b"f5".to_vec(), b"v".to_vec())])
        );
        long.fit(L);
        assert_eq!(long.encoding(), "hashtable");
    }

    #[test]
    fn table_books_and_lookups_follow_every_change() {
        let mut h = Hash::new();
        let big = Limits {
            entries: 0,
            value: 64,
        };
        let mut model = std::collections::HashMap::new();
        for i in 0..2000u32 {
            let f = format!("field:{}", i % 700).into_bytes();
            if i % 3 == 0 {
                assert_eq!(h.remove(&f), model.remove(&f).is_some());
            } else {
                let v = format!("value-{i}").into_bytes();
                assert_eq!(h.set(&f, &v, big), model.insert(f, v).is_none());
            }
        }
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), model.len());
        for (f, v) in &model {
            assert_eq!(h.get(f), Some(&v[..]));
        }
        let Hash::Table(t) = &h else { panic!() };
        let bytes: usize = t.pairs.iter().map(|p| alloc(p.len())).sum();
        assert_eq!(t.bytes, bytes);
        // A full scan in steps sees every field.
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = h.scan(cursor, 7, |f, _| {
                seen.insert(f.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), model.len());
    }

    #[test]
    fn duplicates_are_refused_when_loading() {
        let ok = Hash::from_pairs([(&b"a"[..], &b"1"[..]), (b"b", b"2")].into_iter()).unwrap();
        assert_eq!(ok.len(), 2);
        let dup = Hash::from_pairs([(&b"a"[..], &b"1"[..]), (b"a", b"2")].into_iter());
        assert_eq!(dup.err(), Some(&b"a"[..]));
    }

    #[test]
    fn equality_ignores_encoding() {
        let mut a = Hash::new();
        a.set(b"x", b"1", L);
        a.set(b"y", b"2", L);
        let b = Hash::from_pairs([(&b"y"[..], &b"2"[..]), (b"x", b"1")].into_iter()).unwrap();
        assert_eq!(a, b);
        assert_eq!(format!("{a:?}"), r#"{"x": "1", "y": "2"}"#);
    }
}
