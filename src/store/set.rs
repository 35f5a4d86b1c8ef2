//! Set values (SADD and friends) in Redis 7.0's two encodings. A set whose members are all
//! integers (as Redis's `string2ll` reads them) is `Ints`, a sorted array of integers at the
//! narrowest of 2, 4 or 8 bytes that holds them (Redis's intset: SMEMBERS answers in
//! ascending order, as Redis's does), up to
//! `set-max-intset-entries` members; a member that is not an integer, or one member too
//! many, makes it a `Table` (Redis's hashtable), for good, as in Redis. Both keep their
//! heap size at hand, so memory accounting costs O(1) per write.

use crate::protocol::parse::parse_i64;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// A set value. Never empty once stored: the commands delete a set they empty.
#[derive(Clone)]
pub enum Set {
    Ints(Ints),
    Table(Box<Table>),
}

/// Integer members, ascending, each in the narrowest width that holds them all (2, 4 or 8
/// bytes, little-endian: Redis's intset, which widens on demand and never narrows), without
/// slack beyond what the allocator rounds to (an intset is reallocated to its exact size on
/// every change).
#[derive(Clone)]
pub struct Ints {
    buf: Vec<u8>,
    width: u8,
}

impl Default for Ints {
    fn default() -> Self {
        Ints {
            buf: Vec::new(),
            width: 2,
        }
    }
}

/// The narrowest intset width that holds `i`.
fn width_of(i: i64) -> u8 {
    if i16::try_from(i).is_ok() {
        2
    } else if i32::try_from(i).is_ok() {
        4
    } else {
        8
    }
}

/// Members in a dense vector (each its own allocation) found through an index of
/// positions; removal moves the last member into the hole, so SSCAN walks positions
/// downwards, as the hashes' table does (see `store::hash`).
#[derive(Clone)]
pub struct Table {
    members: Vec<Box<[u8]>>,
    index: HashTable<u32>,
    /// Seeded per table: members an attacker chooses cannot be aimed at one bucket.
    hasher: FixedState,
    /// Heap bytes of the members' allocations, kept as they come and go.
    bytes: usize,
}

fn alloc(n: usize) -> usize {
    crate::alloc::block_size(n)
}

/// One member as a set holds it: an intset's integer or a table's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// The member's bytes (an integer in decimal), for replies and other sets.
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(i) => f(itoa::Buffer::new().format(i).as_bytes()),
            Member::Bytes(b) => f(b),
        }
    }

    pub fn to_vec(self) -> Vec<u8> {
        self.with_bytes(<[u8]>::to_vec)
    }
}

impl Ints {
    fn len(&self) -> usize {
        self.buf.len() / usize::from(self.width)
    }

    fn get(&self, i: usize) -> i64 {
        let w = usize::from(self.width);
        let b = &self.buf[i * w..i * w + w];
        match b.len() {
            2 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            4 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                i64::from_le_bytes(a)
            }
        }
    }

    fn put(out: &mut Vec<u8>, width: u8, i: i64) {
        out.extend_from_slice(&i.to_le_bytes()[..usize::from(width)]);
    }

    /// The position of `i`, or where it would go.
    fn find(&self, i: i64) -> Result<usize, usize> {
        if width_of(i) > self.width {
            // Beyond every member of this width: below them all or above them all.
            return Err(if i < 0 { 0 } else { self.len() });
        }
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).cmp(&i) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Members given ascending, at the narrowest width, in an exact-size buffer.
    fn from_sorted(v: &[i64]) -> Ints {
        let width = v.iter().map(|&i| width_of(i)).max().unwrap_or(2);
        let mut buf = Vec::with_capacity(v.len() * usize::from(width));
        for &i in v {
            Self::put(&mut buf, width, i);
        }
        Ints { buf, width }
    }

    fn insert(&mut self, i: i64) -> bool {
        let at = match self.find(i) {
            Ok(_) => return false,
            Err(at) => at,
        };
        if width_of(i) > self.width {
            // Widen every member first (Redis's intsetUpgradeAndAdd).
            let width = width_of(i);
            let mut buf = Vec::with_capacity((self.len() + 1) * usize::from(width));
            for x in self.iter() {
                Self::put(&mut buf, width, x);
            }
            *self = Ints { buf, width };
        }
        let w = usize::from(self.width);
        self.buf.reserve_exact(w);
        let mut bytes = Vec::with_capacity(w);
        Self::put(&mut bytes, self.width, i);
        self.buf.splice(at * w..at * w, bytes);
        true
    }

    fn remove_at(&mut self, at: usize) -> i64 {
        let i = self.get(at);
        let w = usize::from(self.width);
        self.buf.drain(at * w..at * w + w);
        self.shrink();
        i
    }

    /// Removes the members at `picked` (ascending positions) in one pass.
    fn remove_positions(&mut self, picked: &[usize]) {
        let w = usize::from(self.width);
        let mut next = picked.iter().peekable();
        let mut pos = 0;
        let mut kept = 0;
        while pos < self.len() {
            if next.peek() == Some(&&pos) {
                next.next();
            } else {
                self.buf.copy_within(pos * w..pos * w + w, kept * w);
                kept += 1;
            }
            pos += 1;
        }
        self.buf.truncate(kept * w);
        self.shrink();
    }

    fn shrink(&mut self) {
        if self.buf.capacity() > 16 && self.buf.len() < self.buf.capacity() / 2 {
            self.buf.shrink_to_fit();
        }
    }
}

impl Table {
    fn with_capacity(n: usize) -> Table {
        Table {
            members: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
            hasher: FixedState::with_seed(rand::random()),
            bytes: 0,
        }
    }

    fn find(&self, m: &[u8]) -> Option<usize> {
        let hash = self.hasher.hash_one(m);
        let members = &self.members;
        self.index
            .find(hash, |&i| &members[i as usize][..] == m)
            .map(|&i| i as usize)
    }

    /// Adds `m`; false when it was there.
    fn insert(&mut self, m: &[u8]) -> bool {
        if self.find(m).is_some() {
            return false;
        }
        self.push_new(m.into());
        true
    }

    /// Adds a member known to be absent.
    fn push_new(&mut self, m: Box<[u8]>) {
        let pos = self.members.len() as u32;
        let hash = self.hasher.hash_one(&m[..]);
        self.bytes += alloc(m.len());
        self.members.push(m);
        let (members, hasher) = (&self.members, &self.hasher);
        self.index
            .insert_unique(hash, pos, |&i| hasher.hash_one(&members[i as usize][..]));
    }

    fn remove(&mut self, m: &[u8]) -> bool {
        match self.find(m) {
            Some(pos) => {
                self.remove_at(pos);
                true
            }
            None => false,
        }
    }

    /// Removes the member at `pos` (< len), moving the last one into its place.
    fn remove_at(&mut self, pos: usize) -> Box<[u8]> {
        let hash = self.hasher.hash_one(&self.members[pos][..]);
        if let Ok(slot) = self.index.find_entry(hash, |&i| i as usize == pos) {
            slot.remove();
        }
        let last = self.members.len() - 1;
        if pos != last {
            let moved = self.hasher.hash_one(&self.members[last][..]);
            if let Some(slot) = self.index.find_mut(moved, |&i| i as usize == last) {
                *slot = pos as u32;
            }
        }
        let gone = self.members.swap_remove(pos);
        self.bytes -= alloc(gone.len());
        self.shrink();
        gone
    }

    /// Gives back slack once the table is mostly empty (a set that grew and was popped
    /// must not keep its peak memory, as Redis's dict resizes); amortized O(1).
    fn shrink(&mut self) {
        let cap = self.members.capacity();
        let len = self.members.len();
        if cap > 16 && len < cap / 4 {
            self.members.shrink_to(cap / 2);
            let (members, hasher) = (&self.members, &self.hasher);
            self.index
                .shrink_to(cap / 2, |&i| hasher.hash_one(&members[i as usize][..]));
        }
    }

    /// Bytes beyond the `Table` itself: the members, their vector and the index
    /// (hashbrown's buckets: 4 bytes of position and 1 control byte each, at most 7/8 full).
    fn heap_size(&self) -> usize {
        let buckets = (self.index.capacity() * 8 / 7).next_power_of_two();
        self.bytes
            + alloc(self.members.capacity() * std::mem::size_of::<Box<[u8]>>())
            + alloc(buckets * 5 + 16)
    }
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(Ints::default())
    }
}

impl Set {
    /// An empty set as Redis's `createIntsetObject` makes one (the STORE commands' result).
    pub fn new() -> Set {
        Set::default()
    }

    /// An empty set that can hold `first` (Redis's `setTypeCreate`): an intset when it is an
    /// integer, else a table.
    pub fn for_member(first: &[u8]) -> Set {
        match parse_i64(first) {
            Some(_) => Set::new(),
            None => Set::Table(Box::new(Table::with_capacity(0))),
        }
    }

    /// A set of `members` in table form (the snapshot loader's; `fit` makes it an intset
    /// when it can be one), or the first member that appears twice.
    pub fn from_members<'a>(members: impl Iterator<Item = &'a [u8]>) -> Result<Set, &'a [u8]> {
        let mut t = Table::with_capacity(0);
        for m in members {
            if t.find(m).is_some() {
                return Err(m);
            }
            t.push_new(m.into());
        }
        Ok(Set::Table(Box::new(t)))
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(i) => i.len(),
            Set::Table(t) => t.members.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What `OBJECT ENCODING` replies.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    /// Adds `m`; true when it is new. A non-integer member converts an intset to a table
    /// first, more than `max_ints` members after (Redis's `setTypeAdd`).
    pub fn add(&mut self, m: &[u8], max_ints: u64) -> bool {
        if let Set::Ints(ints) = self {
            let Some(i) = parse_i64(m) else {
                self.convert();
                return self.add(m, max_ints);
            };
            if !ints.insert(i) {
                return false;
            }
            if ints.len() as u64 > max_ints {
                self.convert();
            }
            return true;
        }
        match self {
            Set::Table(t) => t.insert(m),
            Set::Ints(_) => false,
        }
    }

    /// Removes `m`; true when it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(ints) => match parse_i64(m).map(|i| ints.find(i)) {
                Some(Ok(at)) => {
                    ints.remove_at(at);
                    true
                }
                _ => false,
            },
            Set::Table(t) => t.remove(m),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(ints) => parse_i64(m).is_some_and(|i| ints.find(i).is_ok()),
            Set::Table(t) => t.find(m).is_some(),
        }
    }

    /// Whether another set's member is here, without formatting an integer against an
    /// intset.
    pub fn contains_member(&self, m: Member<'_>) -> bool {
        match (self, m) {
            (Set::Ints(ints), Member::Int(i)) => ints.find(i).is_ok(),
            _ => m.with_bytes(|b| self.contains(b)),
        }
    }

    /// The member at position `i` (< len): O(1) in both encodings (an intset's positions
    /// are ascending; a table's are its vector's).
    pub fn nth(&self, i: usize) -> Option<Member<'_>> {
        match self {
            Set::Ints(ints) => (i < ints.len()).then(|| Member::Int(ints.get(i))),
            Set::Table(t) => t.members.get(i).map(|b| Member::Bytes(b)),
        }
    }

    /// Removes and returns the member at position `i` (< len).
    pub fn take_nth(&mut self, i: usize) -> Option<Vec<u8>> {
        if i >= self.len() {
            return None;
        }
        Some(match self {
            Set::Ints(ints) => Member::Int(ints.remove_at(i)).to_vec(),
            Set::Table(t) => t.remove_at(i).into_vec(),
        })
    }

    /// Removes `count` (< len) members picked at random, returned in no particular order.
    pub fn pop_random(&mut self, count: usize, rng: &mut impl rand::Rng) -> Vec<Vec<u8>> {
        match self {
            Set::Ints(ints) => {
                // One pass: an intset's removal moves its tail, so many single removals
                // would be quadratic.
                let mut picked = rand::seq::index::sample(rng, ints.len(), count).into_vec();
                picked.sort_unstable();
                let out = picked
                    .iter()
                    .map(|&i| Member::Int(ints.get(i)).to_vec())
                    .collect();
                ints.remove_positions(&picked);
                out
            }
            Set::Table(t) => (0..count)
                .filter_map(|_| {
                    let len = t.members.len();
                    (len > 0).then(|| t.remove_at(rng.random_range(0..len)).into_vec())
                })
                .collect(),
        }
    }

    /// The members: an intset's ascending, a table's in position order.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Set::Ints(ints) => Iter::Ints(ints, 0),
            Set::Table(t) => Iter::Table(t.members.iter()),
        }
    }

    /// One SSCAN step from `cursor`: an intset hands every member and ends (cursor 0), as
    /// Redis does; a table visits up to `count` positions downwards from the cursor (0 = the
    /// top) and returns where to resume, or 0 when done.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(Member<'a>)) -> u64 {
        match self {
            Set::Ints(ints) => {
                for i in ints.iter() {
                    f(Member::Int(i));
                }
                0
            }
            Set::Table(t) => {
                let len = t.members.len();
                let mut pos = match cursor {
                    0 => len,
                    c => usize::try_from(c).map_or(len, |c| c.min(len)),
                };
                let mut visited = 0;
                while pos > 0 && visited < count {
                    pos -= 1;
                    visited += 1;
                    f(Member::Bytes(&t.members[pos]));
                }
                pos as u64
            }
        }
    }

    /// Converts an intset to a table (one way, as Redis's `setTypeConvert`).
    fn convert(&mut self) {
        if let Set::Ints(ints) = self {
            let mut t = Table::with_capacity(ints.len());
            for i in ints.iter() {
                t.push_new(itoa::Buffer::new().format(i).as_bytes().into());
            }
            *self = Set::Table(Box::new(t));
        }
    }

    /// A table that could be an intset under `max_ints` becomes one (loading a snapshot, as
    /// Redis chooses the encoding of a set it loads); anything else stays as it is.
    pub fn fit(&mut self, max_ints: u64) {
        let Set::Table(t) = self else {
            return;
        };
        if t.members.len() as u64 > max_ints {
            return;
        }
        let ints: Option<Vec<i64>> = t.members.iter().map(|m| parse_i64(m)).collect();
        if let Some(mut v) = ints {
            v.sort_unstable();
            *self = Set::Ints(Ints::from_sorted(&v));
        }
    }

    /// Heap bytes held beyond the enum itself, rounded as the allocator does; O(1).
    pub fn heap_size(&self) -> usize {
        match self {
            Set::Ints(ints) => alloc(ints.buf.capacity()),
            Set::Table(t) => alloc(std::mem::size_of::<Table>()) + t.heap_size(),
        }
    }
}

/// The members of a set (see [`Set::iter`]).
pub enum Iter<'a> {
    /// An intset and the next position.
    Ints(&'a Ints, usize),
    Table(std::slice::Iter<'a, Box<[u8]>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Ints(ints, pos) => {
                let i = *pos;
                *pos += 1;
                (i < ints.len()).then(|| Member::Int(ints.get(i)))
            }
            Iter::Table(i) => i.next().map(|b| Member::Bytes(b)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Ints(ints, pos) => {
                let n = ints.len().saturating_sub(*pos);
                (n, Some(n))
            }
            Iter::Table(i) => i.size_hint(),
        }
    }
}

/// Two sets are equal when they hold the same members, whatever their encoding and order.
impl PartialEq for Set {
    fn eq(&self, other: &Set) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains_member(m))
    }
}

impl Eq for Set {}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(
                self.iter()
                    .map(|m| String::from_utf8_lossy(&m.to_vec()).into_owned()),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(s: &Set) -> Vec<Vec<u8>> {
        s.iter().map(Member::to_vec).collect()
    }

    fn books(s: &Set) -> usize {
        match s {
            Set::Table(t) => t.members.iter().map(|m| alloc(m.len())).sum(),
            Set::Ints(_) => 0,
        }
    }

    #[test]
    fn intset_is_sorted_and_converts_one_way() {
        let mut s = Set::for_member(b"5");
        for m in ["5", "-3", "100", "5", "0"] {
            s.add(m.as_bytes(), 4);
        }
        assert_eq!(s.encoding(), "intset");
        assert_eq!(members(&s), [&b"-3"[..], b"0", b"5", b"100"]);
        assert!(s.contains(b"100") && !s.contains(b"0100") && !s.contains(b"x"));
        // Not integers as Redis reads them: a leading zero, a plus, -0.
        for m in ["007", "+1", "-0", "1 "] {
            let mut t = Set::for_member(b"1");
            t.add(m.as_bytes(), 512);
            assert_eq!(t.encoding(), "hashtable", "{m}");
        }
        assert!(s.add(b"7", 4));
        assert_eq!((s.encoding(), s.len()), ("hashtable", 5));
        assert!(s.remove(b"7") && s.remove(b"100") && !s.remove(b"100"));
        assert_eq!(s.encoding(), "hashtable");
        s.fit(4);
        assert_eq!(s.encoding(), "intset");
        assert_eq!(members(&s), [&b"-3"[..], b"0", b"5"]);
        assert_eq!(Set::for_member(b"a").encoding(), "hashtable");
    }

    #[test]
    fn intset_widens_to_the_widest_member_and_keeps_its_order() {
        let mut s = Set::new();
        let values = [
            5,
            -3,
            40_000,
            i64::MAX,
            -3_000_000_000,
            i64::MIN,
            0,
            -40_000,
            i64::from(i16::MIN),
            i64::from(i32::MAX),
        ];
        let mut want: Vec<i64> = Vec::new();
        for (n, &v) in values.iter().enumerate() {
            assert!(s.add(v.to_string().as_bytes(), 512));
            want.push(v);
            want.sort_unstable();
            let Set::Ints(ints) = &s else { panic!() };
            assert_eq!(ints.iter().collect::<Vec<_>>(), want, "after {n}");
            for &w in &want {
                assert!(s.contains(w.to_string().as_bytes()), "{w}");
            }
            assert!(!s.contains(b"41000"));
        }
        let Set::Ints(ints) = &s else { panic!() };
        assert_eq!(ints.width, 8);
        assert_eq!(s.heap_size(), crate::alloc::block_size(80));
        // Small members take two bytes each: five of them one 16-byte block.
        let mut small = Set::new();
        for v in 1..=5 {
            small.add(v.to_string().as_bytes(), 512);
        }
        assert_eq!(small.heap_size(), 16);
        // Popping picks from every width and leaves the rest in order.
        let popped = s.pop_random(4, &mut rand::rng());
        assert_eq!(popped.len(), 4);
        let Set::Ints(ints) = &s else { panic!() };
        let left: Vec<i64> = ints.iter().collect();
        assert_eq!(left.len(), 6);
        assert!(left.windows(2).all(|w| w[0] < w[1]));
        s.take_nth(0);
        assert_eq!(s.len(), 5);
    }

    #[test]
    fn limit_zero_makes_every_set_a_table() {
        let mut s = Set::for_member(b"1");
        s.add(b"1", 0);
        assert_eq!(s.encoding(), "hashtable");
    }

    #[test]
    fn table_books_and_lookups_follow_every_change() {
        let mut s = Set::for_member(b"a");
        let mut model = std::collections::HashSet::new();
        for i in 0..3000u32 {
            let m = format!("member:{}", i % 700).into_bytes();
            if i % 3 == 0 {
                assert_eq!(s.remove(&m), model.remove(&m));
            } else {
                assert_eq!(s.add(&m, 512), model.insert(m));
            }
            assert_eq!(
                books(&s),
                match &s {
                    Set::Table(t) => t.bytes,
                    Set::Ints(_) => 0,
                }
            );
        }
        assert_eq!(s.len(), model.len());
        for m in &model {
            assert!(s.contains(m));
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = s.scan(cursor, 7, |m| {
                seen.insert(m.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, model);
        // Popping everything gives the slack back.
        while !s.is_empty() {
            s.take_nth(s.len() / 2);
        }
        assert!(s.heap_size() <= 640, "{}", s.heap_size());
    }

    #[test]
    fn loading_refuses_duplicates_and_equality_ignores_encoding() {
        let a = Set::from_members([&b"1"[..], b"2"].into_iter()).unwrap();
        let mut b = Set::new();
        b.add(b"2", 512);
        b.add(b"1", 512);
        assert_eq!(a, b);
        assert_eq!(
            Set::from_members([&b"x"[..], b"x"].into_iter()).err(),
            Some(&b"x"[..])
        );
        assert_eq!(format!("{b:?}"), r#"{"1", "2"}"#);
    }
}
