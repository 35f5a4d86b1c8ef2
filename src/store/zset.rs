//! Sorted-set values (ZADD and friends): members ordered by (score, member) in Redis 7.0's
//! two encodings. A small zset is `Packed`, one buffer of (score, member) entries kept in
//! order and searched linearly (Redis's listpack); past `zset-max-listpack-entries` members
//! or a member longer than `zset-max-listpack-value` bytes it becomes a `Skip` list (Redis's
//! skiplist + dict), for good, as in Redis. The skiplist keeps Redis's spans, so rank
//! lookups, ranges by rank, score or lex, and range deletions cost O(log n + m); its
//! member → node index gives ZSCORE in O(1). Both keep their heap size at hand, so memory
//! accounting costs O(1) per write.
//!
//! Order: scores compare as doubles (no NaN is ever stored; -0 equals 0), ties by member
//! bytes (memcmp, then length), as Redis's `zslInsert` and `zzlInsert` order them.

use super::hash::Limits;
use super::varint;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use smallvec::SmallVec;
use std::cmp::Ordering;
use std::hash::BuildHasher;

/// Redis 7.0's defaults for `zset-max-listpack-entries` and `-value`.
pub const DEFAULT_LIMITS: Limits = Limits {
    entries: 128,
    value: 64,
};

fn alloc(n: usize) -> usize {
    crate::alloc::block_size(n)
}

/// (score, member) order, as Redis sorts a zset.
#[inline]
pub fn cmp(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    match a.0.partial_cmp(&b.0) {
        Some(Ordering::Equal) | None => a.1.cmp(b.1),
        Some(o) => o,
    }
}

/// A sorted-set value. Never empty once stored: the commands delete a zset they empty.
#[derive(Clone)]
pub enum ZSet {
    Packed(Packed),
    Skip(Box<SkipList>),
}

/// Entries in order in one buffer: `[score][member len: varint][member]` each, the score as
/// `put_score` writes it (an integer score, the usual timestamp or count, in a varint, as a
/// listpack stores it as an integer).
#[derive(Clone, Default)]
pub struct Packed {
    buf: Vec<u8>,
    len: u32,
}

/// One entry of a packed buffer.
#[derive(Clone, Copy)]
struct At<'a> {
    start: usize,
    end: usize,
    score: f64,
    member: &'a [u8],
}

impl Packed {
    fn at(&self, start: usize) -> At<'_> {
        let b = &self.buf;
        let (score, read) = get_score(&b[start..]);
        let (mlen, n) = varint::get(&b[start + read..]);
        let m = start + read + n;
        At {
            start,
            end: m + mlen,
            score,
            member: &b[m..m + mlen],
        }
    }

    fn entries(&self) -> PackedIter<'_> {
        PackedIter { p: self, pos: 0 }
    }

    fn find(&self, member: &[u8]) -> Option<At<'_>> {
        self.entries().find(|a| a.member == member)
    }

    /// Inserts a member known to be absent at its place in the order. A listpack keeps -0
    /// as the integer 0, so a packed zset stores 0 (a skiplist keeps -0, as Redis's does).
    fn insert(&mut self, member: &[u8], score: f64) {
        let pos = self
            .entries()
            .find(|a| cmp((a.score, a.member), (score, member)) == Ordering::Greater)
            .map_or(self.buf.len(), |a| a.start);
        let mut e = Vec::with_capacity(9 + varint::len(member.len()) + member.len());
        put_score(&mut e, score);
        varint::put(&mut e, member.len());
        e.extend_from_slice(member);
        // Grown to the exact size, as a listpack reallocates: a small zset holds no slack.
        self.buf.reserve_exact(e.len());
        self.buf.splice(pos..pos, e);
        self.len += 1;
    }

    fn remove_span(&mut self, start: usize, end: usize, n: u32) {
        self.buf.drain(start..end);
        self.len -= n;
        if self.buf.capacity() > self.buf.len() * 2 + 64 {
            self.buf.shrink_to_fit();
        }
    }

    /// Where the entry of rank `r` starts (`buf.len()` past the end).
    fn offset_of(&self, r: usize) -> usize {
        self.entries().nth(r).map_or(self.buf.len(), |a| a.start)
    }
}

/// Integers of at most this magnitude are exact in a double and stored as integers.
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// A packed score: an integral one as the varint `zigzag(n) << 1`, any other as the
/// varint 1 then its 8 bytes (LE). -0 is stored as 0, as a listpack stores it.
fn put_score(out: &mut Vec<u8>, s: f64) {
    if s.fract() == 0.0 && s.abs() <= EXACT_INT {
        let n = s as i64;
        let zigzag = ((n << 1) ^ (n >> 63)) as u64;
        varint::put(out, (zigzag << 1) as usize);
    } else {
        out.push(1);
        out.extend_from_slice(&s.to_le_bytes());
    }
}

/// A score written by `put_score`, and the bytes it took.
fn get_score(b: &[u8]) -> (f64, usize) {
    let (v, n) = varint::get(b);
    if v & 1 == 0 {
        let z = (v >> 1) as u64;
        let i = ((z >> 1) as i64) ^ -((z & 1) as i64);
        (i as f64, n)
    } else {
        let mut s = [0u8; 8];
        s.copy_from_slice(&b[1..9]);
        (f64::from_le_bytes(s), 9)
    }
}

fn score_len(s: f64) -> usize {
    let mut v = Vec::with_capacity(9);
    put_score(&mut v, s);
    v.len()
}

struct PackedIter<'a> {
    p: &'a Packed,
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = At<'a>;

    fn next(&mut self) -> Option<At<'a>> {
        if self.pos >= self.p.buf.len() {
            return None;
        }
        let a = self.p.at(self.pos);
        self.pos = a.end;
        Some(a)
    }
}

const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;
const MAX_LEVEL: usize = 32;

#[derive(Clone, Copy)]
struct Level {
    forward: u32,
    /// Elements crossed by following `forward` (Redis's span): ranks come from their sums.
    span: u32,
}

#[derive(Clone)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    backward: u32,
    /// Three in four nodes have one level, and fifteen in sixteen at most two: inline.
    levels: SmallVec<[Level; 2]>,
}

/// Redis's skiplist (with spans) in an arena of nodes addressed by index, the header at 0,
/// plus an index member → node. A removed node's slot is filled by the last node (its
/// neighbours' links repointed, O(log n)), so the arena stays dense and ZSCAN walks it by
/// position, as HSCAN walks a hash table.
#[derive(Clone)]
pub struct SkipList {
    nodes: Vec<Node>,
    tail: u32,
    level: usize,
    index: HashTable<u32>,
    /// Seeded per zset: members an attacker chooses cannot be aimed at one bucket.
    hasher: FixedState,
    /// Heap bytes of the members and of spilled level arrays, kept as they come and go.
    bytes: usize,
    /// The level generator's state (xorshift).
    rng: u64,
}

impl SkipList {
    fn new(capacity: usize) -> SkipList {
        let head = Node {
            member: Box::default(),
            score: 0.0,
            backward: NIL,
            levels: SmallVec::from_elem(
                Level {
                    forward: NIL,
                    span: 0,
                },
                MAX_LEVEL,
            ),
        };
        let mut nodes = Vec::with_capacity(capacity + 1);
        nodes.push(head);
        SkipList {
            nodes,
            tail: NIL,
            level: 1,
            index: HashTable::with_capacity(capacity),
            hasher: FixedState::with_seed(rand::random()),
            bytes: 0,
            rng: rand::random::<u64>() | 1,
        }
    }

    fn len(&self) -> usize {
        self.nodes.len() - 1
    }

    fn key(&self, i: u32) -> (f64, &[u8]) {
        let n = &self.nodes[i as usize];
        (n.score, &n.member)
    }

    fn fwd(&self, i: u32, l: usize) -> Level {
        self.nodes[i as usize].levels[l]
    }

    fn lvl(&mut self, i: u32, l: usize) -> &mut Level {
        &mut self.nodes[i as usize].levels[l]
    }

    /// Redis's `zslRandomLevel`: each further level with probability 1/4.
    fn random_level(&mut self) -> usize {
        let mut level = 1;
        loop {
            let mut x = self.rng;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.rng = x;
            if level < MAX_LEVEL && x & 3 == 0 {
                level += 1;
            } else {
                return level;
            }
        }
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(member);
        self.index
            .find(hash, |&i| &*self.nodes[i as usize].member == member)
            .copied()
    }

    fn node_bytes(member: &[u8], levels: usize) -> usize {
        let spilled = if levels > 2 {
            alloc(levels * std::mem::size_of::<Level>())
        } else {
            0
        };
        alloc(member.len()) + spilled
    }

    /// Inserts a member known to be absent (Redis's `zslInsert`).
    fn insert(&mut self, member: Box<[u8]>, score: f64) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let f = self.fwd(x, i);
                if f.forward == NIL || cmp(self.key(f.forward), (score, &member)) != Ordering::Less
                {
                    break;
                }
                rank[i] += f.span;
                x = f.forward;
            }
            update[i] = x;
        }
        let level = self.random_level();
        let len = self.len() as u32;
        if level > self.level {
            for i in self.level..level {
                rank[i] = 0;
                update[i] = HEAD;
                self.lvl(HEAD, i).span = len;
            }
            self.level = level;
        }
        let new = self.nodes.len() as u32;
        self.bytes += Self::node_bytes(&member, level);
        let hash = self.hasher.hash_one(&member[..]);
        let mut levels: SmallVec<[Level; 2]> = SmallVec::with_capacity(level);
        for i in 0..level {
            let u = self.fwd(update[i], i);
            levels.push(Level {
                forward: u.forward,
                span: u.span - (rank[0] - rank[i]),
            });
            *self.lvl(update[i], i) = Level {
                forward: new,
                span: (rank[0] - rank[i]) + 1,
            };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(level) {
            self.lvl(u, i).span += 1;
        }
        let backward = if update[0] == HEAD { NIL } else { update[0] };
        let next = levels[0].forward;
        self.nodes.push(Node {
            member,
            score,
            backward,
            levels,
        });
        if next != NIL {
            self.nodes[next as usize].backward = new;
        } else {
            self.tail = new;
        }
        let nodes = &self.nodes;
        let hasher = &self.hasher;
        self.index.insert_unique(hash, new, |&i| {
            hasher.hash_one(&nodes[i as usize].member[..])
        });
    }

    /// The predecessors of the node with `key` at every level (Redis's `update` array).
    fn predecessors(&self, key: (f64, &[u8])) -> [u32; MAX_LEVEL] {
        let mut update = [HEAD; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i).forward;
                if f == NIL || cmp(self.key(f), key) != Ordering::Less {
                    break;
                }
                x = f;
            }
            update[i] = x;
        }
        update
    }

    /// Unlinks node `x` given its predecessors, drops it from the index and the arena
    /// (the last node moves into its slot; `update` and the returned index follow the
    /// move), and returns its member and score (Redis's `zslDeleteNode`).
    fn delete_node(
        &mut self,
        x: u32,
        update: &mut [u32; MAX_LEVEL],
        follow: u32,
    ) -> (Box<[u8]>, f64, u32) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let ul = self.fwd(u, i);
            if ul.forward == x {
                let xl = self.fwd(x, i);
                *self.lvl(u, i) = Level {
                    forward: xl.forward,
                    span: ul.span + xl.span - 1,
                };
            } else {
                self.lvl(u, i).span -= 1;
            }
        }
        let next = self.fwd(x, 0).forward;
        let back = self.nodes[x as usize].backward;
        if next != NIL {
            self.nodes[next as usize].backward = back;
        } else {
            self.tail = back;
        }
        while self.level > 1 && self.fwd(HEAD, self.level - 1).forward == NIL {
            self.level -= 1;
        }
        let hash = self.hasher.hash_one(&self.nodes[x as usize].member[..]);
        if let Ok(e) = self.index.find_entry(hash, |&i| i == x) {
            e.remove();
        }
        let last = (self.nodes.len() - 1) as u32;
        let mut follow = follow;
        if x != last {
            self.relocate(last, x);
            for u in update.iter_mut() {
                if *u == last {
                    *u = x;
                }
            }
            if follow == last {
                follow = x;
            }
        }
        let node = self.nodes.swap_remove(x as usize);
        self.bytes -= Self::node_bytes(&node.member, node.levels.len());
        let cap = self.nodes.capacity();
        if cap > 16 && self.nodes.len() < cap / 4 {
            self.nodes.shrink_to(cap / 2);
        }
        (node.member, node.score, follow)
    }

    /// Repoints every link to node `from` at `to`, where `from` is about to move.
    fn relocate(&mut self, from: u32, to: u32) {
        let key = self.key(from);
        let (score, member) = (key.0, key.1.to_vec());
        let update = self.predecessors((score, &member));
        let levels = self.nodes[from as usize].levels.len();
        for (i, &u) in update.iter().enumerate().take(levels) {
            if self.fwd(u, i).forward == from {
                self.lvl(u, i).forward = to;
            }
        }
        let next = self.fwd(from, 0).forward;
        if next != NIL {
            self.nodes[next as usize].backward = to;
        }
        if self.tail == from {
            self.tail = to;
        }
        let hash = self.hasher.hash_one(&member[..]);
        if let Some(slot) = self.index.find_mut(hash, |&i| i == from) {
            *slot = to;
        }
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let x = self.find(member)?;
        let mut update = self.predecessors(self.key(x));
        let (_, score, _) = self.delete_node(x, &mut update, NIL);
        Some(score)
    }

    /// How many leading elements satisfy `pred` (true on a prefix of the order).
    fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut x = HEAD;
        let mut rank = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f.forward == NIL {
                    break;
                }
                let (s, m) = self.key(f.forward);
                if !pred(s, m) {
                    break;
                }
                rank += f.span as usize;
                x = f.forward;
            }
        }
        rank
    }

    /// The node of 0-based rank `r` (< len).
    fn by_rank(&self, r: usize) -> u32 {
        let target = r + 1;
        let mut x = HEAD;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f.forward == NIL || traversed + f.span as usize > target {
                    break;
                }
                traversed += f.span as usize;
                x = f.forward;
            }
            if traversed == target {
                return x;
            }
        }
        NIL
    }

    /// Predecessors of rank `r` (0-based) at every level.
    fn predecessors_of_rank(&self, r: usize) -> [u32; MAX_LEVEL] {
        let mut update = [HEAD; MAX_LEVEL];
        let mut x = HEAD;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f.forward == NIL || traversed + f.span as usize > r {
                    break;
                }
                traversed += f.span as usize;
                x = f.forward;
            }
            update[i] = x;
        }
        update
    }

    fn heap_size(&self) -> usize {
        let buckets = (self.index.capacity() * 8 / 7).next_power_of_two();
        self.bytes
            + alloc(self.nodes.capacity() * std::mem::size_of::<Node>())
            + alloc(MAX_LEVEL * std::mem::size_of::<Level>())
            + alloc(buckets * 5 + 16)
    }
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Packed(Packed::default())
    }
}

/// What `ZSet::add` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    New,
    Updated,
    Same,
}

impl ZSet {
    /// An empty zset, as Redis creates one: packed.
    pub fn new() -> ZSet {
        ZSet::default()
    }

    /// An empty zset in the encoding Redis's `zsetTypeCreate` picks for `size` members
    /// whose longest is `longest` bytes.
    pub fn with_hint(size: usize, longest: usize, limits: Limits) -> ZSet {
        if limits.entries == 0 || size as u64 > limits.entries || longest as u64 > limits.value {
            // The hint sizes the arena, within reason (it may be a client's count).
            ZSet::Skip(Box::new(SkipList::new(size.min(1 << 16))))
        } else {
            ZSet::new()
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Packed(p) => p.len as usize,
            ZSet::Skip(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What `OBJECT ENCODING` replies, with Redis 7.0's names.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Packed(_) => "listpack",
            ZSet::Skip(_) => "skiplist",
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Packed(p) => p.find(member).map(|a| a.score),
            ZSet::Skip(s) => s.find(member).map(|i| s.nodes[i as usize].score),
        }
    }

    /// Sets `member`'s score (never NaN), converting a packed zset that outgrows `limits`
    /// (Redis's `zsetAdd` without its flags: the commands decide first).
    pub fn add(&mut self, member: &[u8], score: f64, limits: Limits) -> Added {
        if let ZSet::Packed(p) = self {
            if let Some(a) = p.find(member) {
                if a.score == score {
                    return Added::Same;
                }
                let (start, end) = (a.start, a.end);
                p.remove_span(start, end, 1);
                p.insert(member, score);
                return Added::Updated;
            }
            if (p.len as u64) < limits.entries && member.len() as u64 <= limits.value {
                p.insert(member, score);
                return Added::New;
            }
            self.convert();
        }
        let ZSet::Skip(s) = self else {
            return Added::Same;
        };
        match s.find(member) {
            Some(i) => {
                if s.nodes[i as usize].score == score {
                    return Added::Same;
                }
                let mut update = s.predecessors(s.key(i));
                let (m, _, _) = s.delete_node(i, &mut update, NIL);
                s.insert(m, score);
                Added::Updated
            }
            None => {
                s.insert(member.into(), score);
                Added::New
            }
        }
    }

    /// Removes `member`; its score when it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Packed(p) => {
                let a = p.find(member)?;
                let (start, end, score) = (a.start, a.end, a.score);
                p.remove_span(start, end, 1);
                Some(score)
            }
            ZSet::Skip(s) => s.remove(member),
        }
    }

    /// `member`'s 0-based rank from the lowest, and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSet::Packed(p) => p
                .entries()
                .enumerate()
                .find(|(_, a)| a.member == member)
                .map(|(i, a)| (i, a.score)),
            ZSet::Skip(s) => {
                let i = s.find(member)?;
                let key = s.key(i);
                let r = s.count_while(|sc, m| cmp((sc, m), key) == Ordering::Less);
                Some((r, key.0))
            }
        }
    }

    /// How many leading members (in order) satisfy `pred`, which must hold on a prefix:
    /// the rank where a score or lex range starts or ends. O(log n) on a skiplist.
    pub fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSet::Packed(p) => p.entries().take_while(|a| pred(a.score, a.member)).count(),
            ZSet::Skip(s) => s.count_while(pred),
        }
    }

    /// The member of 0-based rank `r`.
    pub fn get(&self, r: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Packed(p) => p.entries().nth(r).map(|a| (a.member, a.score)),
            ZSet::Skip(s) => {
                if r >= s.len() {
                    return None;
                }
                let (sc, m) = s.key(s.by_rank(r));
                Some((m, sc))
            }
        }
    }

    /// Ranks `start..end` (0-based, `end` exclusive, within the length), lowest first, or
    /// from `end - 1` down when `rev`. O(log n + m) on a skiplist.
    pub fn range(&self, start: usize, end: usize, rev: bool) -> Vec<(&[u8], f64)> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        let mut v = Vec::with_capacity(end - start);
        match self {
            ZSet::Packed(p) => {
                v.extend(
                    p.entries()
                        .skip(start)
                        .take(end - start)
                        .map(|a| (a.member, a.score)),
                );
                if rev {
                    v.reverse();
                }
            }
            ZSet::Skip(s) => {
                let mut x = s.by_rank(if rev { end - 1 } else { start });
                for _ in start..end {
                    if x == NIL {
                        break;
                    }
                    let (sc, m) = s.key(x);
                    v.push((m, sc));
                    x = if rev {
                        s.nodes[x as usize].backward
                    } else {
                        s.fwd(x, 0).forward
                    };
                }
            }
        }
        v
    }

    /// Every member with its score, in order.
    pub fn iter(&self) -> Vec<(&[u8], f64)> {
        self.range(0, self.len(), false)
    }

    /// Removes ranks `start..end` (0-based, `end` exclusive) and returns them in order.
    /// O(log n + m) on a skiplist (Redis's `zslDeleteRangeByRank`).
    pub fn remove_range(&mut self, start: usize, end: usize) -> Vec<(Box<[u8]>, f64)> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        match self {
            ZSet::Packed(p) => {
                let a = p.offset_of(start);
                let b = p.offset_of(end);
                let out: Vec<(Box<[u8]>, f64)> = p
                    .entries()
                    .skip(start)
                    .take(end - start)
                    .map(|a| (Box::from(a.member), a.score))
                    .collect();
                p.remove_span(a, b, (end - start) as u32);
                out
            }
            ZSet::Skip(s) => {
                let mut update = s.predecessors_of_rank(start);
                let mut x = s.fwd(update[0], 0).forward;
                let mut out = Vec::with_capacity(end - start);
                for _ in start..end {
                    if x == NIL {
                        break;
                    }
                    let next = s.fwd(x, 0).forward;
                    let (m, sc, next) = s.delete_node(x, &mut update, next);
                    out.push((m, sc));
                    x = next;
                }
                out
            }
        }
    }

    /// ZSCAN's walk: a packed zset whole (cursor 0), a skiplist `count` nodes at a time by
    /// arena position, downwards (removal fills holes from the end, so a scan still sees
    /// every member present from start to end).
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a [u8], f64)) -> u64 {
        match self {
            ZSet::Packed(p) => {
                for a in p.entries() {
                    f(a.member, a.score);
                }
                0
            }
            ZSet::Skip(s) => {
                let len = s.len();
                let mut pos = match cursor {
                    0 => len,
                    c => usize::try_from(c).map_or(len, |c| c.min(len)),
                };
                let mut visited = 0;
                while pos > 0 && visited < count {
                    let n = &s.nodes[pos];
                    f(&n.member, n.score);
                    pos -= 1;
                    visited += 1;
                }
                pos as u64
            }
        }
    }

    fn convert(&mut self) {
        if let ZSet::Packed(p) = self {
            let mut s = SkipList::new(p.len as usize + 1);
            for a in p.entries() {
                s.insert(a.member.into(), a.score);
            }
            *self = ZSet::Skip(Box::new(s));
        }
    }

    /// Packs a skiplist that fits `limits` (Redis's `zsetConvertToListpackIfNeeded`, for
    /// the STORE commands and the loader); a packed zset past them becomes a skiplist.
    pub fn fit(&mut self, limits: Limits) {
        let small = self.len() as u64 <= limits.entries
            && self
                .iter()
                .iter()
                .all(|(m, _)| m.len() as u64 <= limits.value);
        match self {
            ZSet::Skip(s) if small => {
                let mut p = Packed::default();
                let size: usize = s.nodes[1..]
                    .iter()
                    .map(|n| score_len(n.score) + varint::len(n.member.len()) + n.member.len())
                    .sum();
                p.buf.reserve_exact(size);
                let mut x = s.fwd(HEAD, 0).forward;
                while x != NIL {
                    let n = &s.nodes[x as usize];
                    put_score(&mut p.buf, n.score);
                    varint::put(&mut p.buf, n.member.len());
                    p.buf.extend_from_slice(&n.member);
                    p.len += 1;
                    x = n.levels[0].forward;
                }
                *self = ZSet::Packed(p);
            }
            ZSet::Packed(_) if !small => self.convert(),
            _ => {}
        }
    }

    /// A zset of `pairs` (no member twice, no NaN), in the encoding `limits` give it; the
    /// first repeated member is the error.
    pub fn from_pairs(
        pairs: impl Iterator<Item = (Box<[u8]>, f64)>,
        limits: Limits,
    ) -> Result<ZSet, Box<[u8]>> {
        let mut s = SkipList::new(0);
        for (m, sc) in pairs {
            if s.find(&m).is_some() {
                return Err(m);
            }
            s.insert(m, sc);
        }
        let mut z = ZSet::Skip(Box::new(s));
        z.fit(limits);
        Ok(z)
    }

    /// Heap bytes held beyond the enum itself, rounded as the allocator does; O(1).
    pub fn heap_size(&self) -> usize {
        match self {
            ZSet::Packed(p) => alloc(p.buf.capacity()),
            ZSet::Skip(s) => alloc(std::mem::size_of::<SkipList>()) + s.heap_size(),
        }
    }
}

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.iter() == other.iter()
    }
}

impl Eq for ZSet {}

impl std::fmt::Debug for ZSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .into_iter()
                    .map(|(m, s)| (String::from_utf8_lossy(m), s)),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    const BIG: Limits = Limits {
        entries: 0,
        value: 0,
    };

    fn check(z: &ZSet, model: &std::collections::BTreeMap<Vec<u8>, f64>) {
        let mut want: Vec<(&[u8], f64)> = model.iter().map(|(m, s)| (&m[..], *s)).collect();
        want.sort_by(|a, b| cmp((a.1, a.0), (b.1, b.0)));
        let got: Vec<(&[u8], f64)> = z.iter();
        assert_eq!(got, want);
        assert_eq!(z.len(), want.len());
        for (r, (m, s)) in want.iter().enumerate() {
            assert_eq!(z.rank(m), Some((r, *s)));
            assert_eq!(z.get(r), Some((*m, *s)));
            assert_eq!(z.score(m), Some(*s));
        }
        if let ZSet::Skip(s) = z {
            let books: usize = s.nodes[1..]
                .iter()
                .map(|n| SkipList::node_bytes(&n.member, n.levels.len()))
                .sum();
            assert_eq!(s.bytes, books);
            assert_eq!(s.index.len(), s.len());
            let rev: Vec<(&[u8], f64)> = z.range(0, z.len(), true);
            let mut fwd = got.clone();
            fwd.reverse();
            assert_eq!(rev, fwd);
        }
    }

    #[test]
    fn both_encodings_follow_a_model_through_random_changes() {
        for limits in [DEFAULT_LIMITS, BIG] {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
            let mut z = ZSet::new();
            let mut model = std::collections::BTreeMap::new();
            for step in 0..4000 {
                let m = format!("m{}", rng.random_range(0..300)).into_bytes();
                match rng.random_range(0..10) {
                    0..=5 => {
                        let s = f64::from(rng.random_range(-20..20)) / 2.0;
                        z.add(&m, s, limits);
                        model.insert(m, s);
                    }
                    6 | 7 => {
                        assert_eq!(z.remove(&m), model.remove(&m));
                    }
                    _ => {
                        let len = z.len();
                        let a = rng.random_range(0..=len);
                        let b = rng.random_range(a..=len.min(a + 5));
                        let want: Vec<(Vec<u8>, f64)> = z
                            .range(a, b, false)
                            .iter()
                            .map(|(m, s)| (m.to_vec(), *s))
                            .collect();
                        let got = z.remove_range(a, b);
                        for (m, _) in &got {
                            model.remove(&m[..]);
                        }
                        let got: Vec<(Vec<u8>, f64)> =
                            got.into_iter().map(|(m, s)| (m.to_vec(), s)).collect();
                        assert_eq!(got, want);
                    }
                }
                if step % 97 == 0 {
                    check(&z, &model);
                }
            }
            check(&z, &model);
        }
    }

    #[test]
    fn packed_scores_round_trip() {
        for s in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            1.5,
            1e20,
            -1e300,
            1_700_000_000_000.0,
            9_007_199_254_740_992.0,
            -9_007_199_254_740_992.0,
            9_007_199_254_740_994.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
        ] {
            let mut b = Vec::new();
            put_score(&mut b, s);
            let (got, n) = get_score(&b);
            assert_eq!((got, n), (if s == 0.0 { 0.0 } else { s }, b.len()), "{s}");
            assert!(got.to_bits() == s.to_bits() || s == 0.0, "{s}");
            assert_eq!(score_len(s), b.len());
        }
        let mut b = Vec::new();
        put_score(&mut b, 3.0);
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn counts_give_range_bounds_and_the_encoding_converts() {
        let mut z = ZSet::new();
        for (i, m) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            z.add(*m, i as f64, DEFAULT_LIMITS);
        }
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(z.count_while(|s, _| s < 2.0), 2);
        z.add(&[b'x'; 65], 9.0, DEFAULT_LIMITS);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.count_while(|s, _| s < 2.0), 2);
        assert_eq!(z.count_while(|s, _| s <= 100.0), 5);
        z.remove(&[b'x'; 65]);
        z.fit(DEFAULT_LIMITS);
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(z.add(b"a", 0.0, DEFAULT_LIMITS), Added::Same);
        assert_eq!(z.add(b"a", -0.0, DEFAULT_LIMITS), Added::Same);
        assert_eq!(z.add(b"a", 7.0, DEFAULT_LIMITS), Added::Updated);
        assert_eq!(z.get(3), Some((&b"a"[..], 7.0)));
        let twice = ZSet::from_pairs(
            [(Box::from(&b"a"[..]), 1.0), (Box::from(&b"a"[..]), 2.0)].into_iter(),
            DEFAULT_LIMITS,
        );
        assert!(twice.is_err());
    }
}
