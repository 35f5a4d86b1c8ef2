//! The snapshot file format, version 2: encoding of keys into records and a decoder that
//! never panics and never allocates more than the input holds, whatever the bytes.
//!
//! ```text
//! header   "TOLLGATE" (8 bytes) | version u16 LE = 2 | reserved u16 = 0 | written at, unix ms u64
//!          | epoch u64 (the journal generation the snapshot holds; version 1 has no epoch: 0)
//! records  0xFE db:varint                         the database of the records that follow
//!          kind:u8 deadline:u64 key:bytes value   one key; deadline 0 = no TTL (unix ms)
//!            kind 0 string      value = bytes
//!            kind 1 rate limit  value = count:varint, count × (policy:bytes algo:u8 u64 fields)
//!                                 algo 0 gcra (tat_ns, frac), 1 token bucket (tokens, frac,
//!                                 last), 2 sliding window (window, prev, curr), 3 fixed
//!                                 window (window, count); times are unix ns
//!            kind 2 leases      value = count:varint, count × (id:bytes expires_at_ns:u64)
//!            kind 3 quota       value = bytes: the subject's state (`crate::quota::codec`)
//!            kind 4 hash        value = count:varint (at least 1), count × (field:bytes
//!                                 value:bytes), no field twice; the encoding is chosen
//!                                 afresh on load (`Hash::fit`), as Redis does
//!            kind 5 list        value = count:varint (at least 1), count × element:bytes,
//!                                 head first
//!            kind 6 set         value = count:varint (at least 1), count × member:bytes
//!                                 (an intset's integers in decimal), no member twice; the
//!                                 encoding is chosen afresh on load (`Set::fit`)
//!            kind 7 zset        value = count:varint (at least 1), count × (member:bytes
//!                                 score:f64 LE), lowest first, no member twice, no NaN;
//!                                 the encoding is chosen afresh on load (`ZSet::fit`)
//!          0xFF keys:varint                       the end, with the number of key records
//! trailer  crc32 (IEEE) u32 LE of every byte before it
//! bytes = length:varint then the bytes; integers are little-endian; varints are LEB128.
//! ```
//!
//! Times are absolute (unix ms for key deadlines, unix ns inside rate-limit state and
//! leases, both on the server's clock), so a snapshot stays right across a restart: a key
//! whose deadline passed while the server was down is simply not loaded.

use crate::ratelimit::lease::{Lease, Leases};
use crate::ratelimit::{fixed_window, gcra, sliding_window, token_bucket, State};
use crate::store::entry::{Object, QuotaValue, RateSlots, ValueRef};
use crate::store::hash::Hash;
use crate::store::list::List;
use crate::store::set::Set;
use crate::store::zset::ZSet;
use crate::store::Entry;
use std::fmt;

pub const MAGIC: &[u8; 8] = b"TOLLGATE";
pub const VERSION: u16 = 2;
/// Magic, version, reserved, timestamp, epoch.
pub const HEADER_LEN: usize = 8 + 2 + 2 + 8 + 8;
/// Version 1's header: no epoch.
const HEADER_LEN_V1: usize = 8 + 2 + 2 + 8;
const TRAILER_LEN: usize = 4;

const OP_DB: u8 = 0xFE;
const OP_END: u8 = 0xFF;
const KIND_STRING: u8 = 0;
const KIND_RATELIMIT: u8 = 1;
const KIND_LEASES: u8 = 2;
const KIND_QUOTA: u8 = 3;
/// Added without a version bump: a file without hashes reads as before, and an older
/// tollgate refuses one with hashes as an unknown record type.
const KIND_HASH: u8 = 4;
/// Lists, added the same way.
const KIND_LIST: u8 = 5;
/// Sets, added the same way (7 is the sorted sets').
const KIND_SET: u8 = 6;
/// Sorted sets, added the same way (6 is the sets').
const KIND_ZSET: u8 = 7;

/// The header of a new snapshot written at `now_ms` holding journal generation `epoch`.
pub fn header(now_ms: u64, epoch: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&now_ms.to_le_bytes());
    out.extend_from_slice(&epoch.to_le_bytes());
    out
}

/// The database marker for the records that follow.
pub fn put_db(out: &mut Vec<u8>, db: usize) {
    out.push(OP_DB);
    put_varint(out, db as u64);
}

/// The end marker with the number of key records written.
pub fn put_end(out: &mut Vec<u8>, keys: u64) {
    out.push(OP_END);
    put_varint(out, keys);
}

/// Appends one key record.
pub fn put_entry(out: &mut Vec<u8>, e: &Entry) {
    let deadline = e.deadline().unwrap_or(0);
    match e.value() {
        ValueRef::Str(v) => {
            put_head(out, KIND_STRING, deadline, e.key());
            put_bytes(out, v);
        }
        ValueRef::Obj(Object::RateLimit(slots)) => {
            put_head(out, KIND_RATELIMIT, deadline, e.key());
            put_varint(out, slots.len() as u64);
            for (name, state) in slots {
                put_bytes(out, name);
                let (algo, fields): (u8, &[u64]) = match state {
                    State::Gcra(s) => (0, &[s.tat_ns, s.frac]),
                    State::TokenBucket(s) => (1, &[s.tokens, s.frac, s.last]),
                    State::SlidingWindow(s) => (2, &[s.window, s.prev, s.curr]),
                    State::FixedWindow(s) => (3, &[s.window, s.count]),
                };
                out.push(algo);
                for f in fields {
                    out.extend_from_slice(&f.to_le_bytes());
                }
            }
        }
        ValueRef::Obj(Object::Leases(leases)) => {
            put_head(out, KIND_LEASES, deadline, e.key());
            put_varint(out, leases.len() as u64);
            for l in leases.iter() {
                put_bytes(out, &l.id);
                out.extend_from_slice(&l.expires_at.to_le_bytes());
            }
        }
        ValueRef::Obj(Object::Quota(q)) => {
            put_head(out, KIND_QUOTA, deadline, e.key());
            put_bytes(out, &crate::quota::encode(&q.state));
        }
        ValueRef::Obj(Object::Hash(h)) => {
            put_head(out, KIND_HASH, deadline, e.key());
            put_varint(out, h.len() as u64);
            for (f, v) in h.iter() {
                put_bytes(out, f);
                put_bytes(out, v);
            }
        }
        ValueRef::Obj(Object::List(l)) => {
            put_head(out, KIND_LIST, deadline, e.key());
            put_varint(out, l.len() as u64);
            for v in l.iter() {
                put_bytes(out, v);
            }
        }
        ValueRef::Obj(Object::Set(set)) => {
            put_head(out, KIND_SET, deadline, e.key());
            put_varint(out, set.len() as u64);
            for m in set.iter() {
                m.with_bytes(|b| put_bytes(out, b));
            }
        }
        ValueRef::Obj(Object::ZSet(z)) => {
            put_head(out, KIND_ZSET, deadline, e.key());
            put_varint(out, z.len() as u64);
            for (m, s) in z.iter() {
                put_bytes(out, m);
                out.extend_from_slice(&s.to_le_bytes());
            }
        }
    }
}

fn put_head(out: &mut Vec<u8>, kind: u8, deadline: u64, key: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&deadline.to_le_bytes());
    put_bytes(out, key);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The crc32 trailer of everything written before it.
pub fn trailer(crc: u32) -> [u8; 4] {
    crc.to_le_bytes()
}

/// Why a snapshot cannot be read: where (byte offset in the file) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub reason: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for DecodeError {}

fn err<T>(offset: usize, reason: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError {
        offset,
        reason: reason.into(),
    })
}

/// A value as decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Str(&'a [u8]),
    Obj(Object),
}

/// One key as decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub db: usize,
    pub key: &'a [u8],
    /// Unix ms, if the key has a TTL.
    pub deadline: Option<u64>,
    pub value: Value<'a>,
}

impl Record<'_> {
    /// The store entry for this record (the string's encoding is chosen afresh, as Redis
    /// does when it loads a string).
    pub fn to_entry(&self) -> Entry {
        self.clone().into_entry()
    }

    /// [`Record::to_entry`] without copying a rate-limit state or leases.
    pub fn into_entry(self) -> Entry {
        let enc = crate::store::Encoding::for_value;
        match (self.value, self.deadline) {
            // One allocation with the deadline packed in, as SET ... PX builds it.
            (Value::Str(v), Some(at)) => Entry::new_str_expiring(self.key, v, enc(v), at),
            (Value::Str(v), None) => Entry::new_str(self.key, v, enc(v), 0),
            (Value::Obj(o), deadline) => {
                let mut e = Entry::new_obj(self.key, o);
                e.set_deadline(deadline);
                e
            }
        }
    }
}

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u16,
    pub written_ms: u64,
    /// The journal generation the snapshot holds (0 for version 1).
    pub epoch: u64,
}

/// Checks the header and the checksum of a whole file, then decodes its records in order,
/// handing each to `sink` (whose error stops decoding, reported at the record's offset).
pub fn decode(
    file: &[u8],
    sink: impl FnMut(Record<'_>) -> Result<(), String>,
) -> Result<Header, DecodeError> {
    let header = check(file)?;
    let start = header_len(header.version);
    decode_records(&file[start..file.len() - TRAILER_LEN], start, sink)?;
    Ok(header)
}

/// The header and checksum checks of [`decode`], without the records.
pub fn check(file: &[u8]) -> Result<Header, DecodeError> {
    if file.len() < MAGIC.len() || &file[..MAGIC.len()] != MAGIC {
        return err(
            0,
            "not a tollgate snapshot (no TOLLGATE magic at the start)",
        );
    }
    if file.len() < 10 {
        return err(file.len(), "truncated: the file ends inside the header");
    }
    let version = u16::from_le_bytes([file[8], file[9]]);
    if version != VERSION && version != 1 {
        return err(
            8,
            format!(
                "unsupported snapshot version {version} (this tollgate reads versions 1 and \
                 {VERSION})"
            ),
        );
    }
    if file.len() < header_len(version) + TRAILER_LEN {
        return err(file.len(), "truncated: the file ends inside the header");
    }
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&file[12..20]);
    let mut epoch = [0u8; 8];
    if version >= 2 {
        epoch.copy_from_slice(&file[20..28]);
    }
    let body_end = file.len() - TRAILER_LEN;
    let mut want = [0u8; 4];
    want.copy_from_slice(&file[body_end..]);
    let want = u32::from_le_bytes(want);
    let got = crc32fast::hash(&file[..body_end]);
    if want != got {
        return err(
            body_end,
            format!(
                "checksum mismatch (stored {want:08x}, computed {got:08x}): the file is \
                 truncated or corrupted"
            ),
        );
    }
    Ok(Header {
        version,
        written_ms: u64::from_le_bytes(ts),
        epoch: u64::from_le_bytes(epoch),
    })
}

fn header_len(version: u16) -> usize {
    if version == 1 {
        HEADER_LEN_V1
    } else {
        HEADER_LEN
    }
}

/// Decodes the records of `body` (the bytes after the header and before the trailer, found
/// at `base` in the file, for offsets in errors). Needs no checksum: the fuzz target feeds it
/// arbitrary bytes. Every length is checked against the bytes left before anything is
/// allocated, so a hostile length cannot make it allocate more than the input's size.
pub fn decode_records(
    body: &[u8],
    base: usize,
    mut sink: impl FnMut(Record<'_>) -> Result<(), String>,
) -> Result<(), DecodeError> {
    let mut r = Reader {
        b: body,
        at: base,
        pos: 0,
    };
    let mut db: Option<usize> = None;
    let mut keys = 0u64;
    loop {
        let start = r.offset();
        let op = r.u8()?;
        match op {
            OP_DB => {
                let n = r.varint()?;
                db = Some(usize::try_from(n).or_else(|_| err(start, "database number too large"))?);
            }
            OP_END => {
                let n = r.varint()?;
                if n != keys {
                    return err(
                        start,
                        format!("the end marker counts {n} keys, the file has {keys}"),
                    );
                }
                if r.pos != r.b.len() {
                    return err(r.offset(), "bytes after the end marker");
                }
                return Ok(());
            }
            KIND_STRING | KIND_RATELIMIT | KIND_LEASES | KIND_QUOTA | KIND_HASH | KIND_LIST
            | KIND_SET | KIND_ZSET => {
                let Some(db) = db else {
                    return err(start, "a key before any database marker");
                };
                let deadline = match r.u64()? {
                    0 => None,
                    at => Some(at),
                };
                let key = r.bytes()?;
                let value = match op {
                    KIND_STRING => Value::Str(r.bytes()?),
                    KIND_RATELIMIT => Value::Obj(Object::RateLimit(r.rate_slots()?)),
                    KIND_LEASES => Value::Obj(Object::Leases(r.leases()?)),
                    KIND_HASH => Value::Obj(Object::Hash(r.hash()?)),
                    KIND_LIST => Value::Obj(Object::List(r.list()?)),
                    KIND_SET => Value::Obj(Object::Set(r.set()?)),
                    KIND_ZSET => Value::Obj(Object::ZSet(r.zset()?)),
                    _ => {
                        let at = r.offset();
                        let state = crate::quota::decode(r.bytes()?)
                            .or_else(|e| err(at, format!("quota state: {e}")))?;
                        Value::Obj(Object::Quota(Box::new(QuotaValue { state, timer: None })))
                    }
                };
                keys += 1;
                sink(Record {
                    db,
                    key,
                    deadline,
                    value,
                })
                .or_else(|reason| err(start, reason))?;
            }
            other => return err(start, format!("unknown record type {other:#04x}")),
        }
    }
}

struct Reader<'a> {
    b: &'a [u8],
    /// File offset of `b[0]`.
    at: usize,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn offset(&self) -> usize {
        self.at + self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.b.len() - self.pos < n {
            return err(
                self.offset(),
                format!(
                    "truncated: {n} bytes needed, {} left",
                    self.b.len() - self.pos
                ),
            );
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let start = self.offset();
        let mut n = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = self.u8()?;
            if shift == 63 && byte > 1 {
                return err(start, "varint overflows 64 bits");
            }
            n |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(n);
            }
        }
        err(start, "varint longer than 10 bytes")
    }

    /// A length, checked against the bytes left.
    fn len(&mut self) -> Result<usize, DecodeError> {
        let start = self.offset();
        let n = self.varint()?;
        let left = self.b.len() - self.pos;
        match usize::try_from(n) {
            Ok(n) if n <= left => Ok(n),
            _ => err(start, format!("length {n} exceeds the {left} bytes left")),
        }
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.len()?;
        self.take(n)
    }

    fn rate_slots(&mut self) -> Result<RateSlots, DecodeError> {
        // Each slot takes at least 1 (name length) + 1 (algo) + 16 bytes: a count beyond what
        // is left is refused before anything is allocated.
        let count = self.count(18)?;
        let mut slots = RateSlots::new();
        for _ in 0..count {
            let name: Box<[u8]> = self.bytes()?.into();
            let at = self.offset();
            let state = match self.u8()? {
                0 => State::Gcra(gcra::GcraState {
                    tat_ns: self.u64()?,
                    frac: self.u64()?,
                }),
                1 => State::TokenBucket(token_bucket::BucketState {
                    tokens: self.u64()?,
                    frac: self.u64()?,
                    last: self.u64()?,
                }),
                2 => State::SlidingWindow(sliding_window::SlidingState {
                    window: self.u64()?,
                    prev: self.u64()?,
                    curr: self.u64()?,
                }),
                3 => State::FixedWindow(fixed_window::WindowState {
                    window: self.u64()?,
                    count: self.u64()?,
                }),
                a => return err(at, format!("unknown rate-limit algorithm {a}")),
            };
            slots.push((name, state));
        }
        Ok(slots)
    }

    fn leases(&mut self) -> Result<Leases, DecodeError> {
        let count = self.count(9)?;
        let mut v = Vec::with_capacity(count);
        for _ in 0..count {
            let id = self.bytes()?.to_vec();
            let expires_at = self.u64()?;
            v.push(Lease { id, expires_at });
        }
        Ok(Leases::from_leases(v))
    }

    fn hash(&mut self) -> Result<Hash, DecodeError> {
        let start = self.offset();
        // Each pair takes at least its two length bytes.
        let count = self.count(2)?;
        if count == 0 {
            return err(start, "an empty hash");
        }
        let mut pairs = Vec::with_capacity(count);
        for _ in 0..count {
            pairs.push((self.bytes()?, self.bytes()?));
        }
        Hash::from_pairs(pairs.into_iter()).or_else(|f| {
            err(
                start,
                format!("field {:?} twice in a hash", String::from_utf8_lossy(f)),
            )
        })
    }

    fn list(&mut self) -> Result<List, DecodeError> {
        let start = self.offset();
        // Each element takes at least its length byte.
        let count = self.count(1)?;
        if count == 0 {
            return err(start, "an empty list");
        }
        let mut l = List::new();
        for _ in 0..count {
            l.push_back(self.bytes()?);
        }
        Ok(l)
    }

    fn set(&mut self) -> Result<Set, DecodeError> {
        let start = self.offset();
        // Each member takes at least its length byte.
        let count = self.count(1)?;
        if count == 0 {
            return err(start, "an empty set");
        }
        let mut members = Vec::with_capacity(count);
        for _ in 0..count {
            members.push(self.bytes()?);
        }
        Set::from_members(members.into_iter()).or_else(|m| {
            err(
                start,
                format!("member {:?} twice in a set", String::from_utf8_lossy(m)),
            )
        })
    }

    fn zset(&mut self) -> Result<ZSet, DecodeError> {
        let start = self.offset();
        // Each member takes at least its length byte and its 8-byte score.
        let count = self.count(9)?;
        if count == 0 {
            return err(start, "an empty zset");
        }
        let mut pairs = Vec::with_capacity(count);
        for _ in 0..count {
            let m = self.bytes()?;
            let at = self.offset();
            let s = f64::from_bits(self.u64()?);
            if s.is_nan() {
                return err(at, "a NaN score in a zset");
            }
            pairs.push((Box::from(m), s));
        }
        // Packed or not is decided by the loader (`ZSet::fit` with the current limits).
        ZSet::from_pairs(pairs.into_iter(), crate::store::zset::DEFAULT_LIMITS).or_else(|m| {
            err(
                start,
                format!("member {:?} twice in a zset", String::from_utf8_lossy(&m)),
            )
        })
    }

    /// A count of items of at least `min_size` bytes each, checked against the bytes left.
    fn count(&mut self, min_size: usize) -> Result<usize, DecodeError> {
        let start = self.offset();
        let n = self.varint()?;
        let fits = (self.b.len() - self.pos) / min_size;
        match usize::try_from(n) {
            Ok(n) if n <= fits => Ok(n),
            _ => err(
                start,
                format!("count {n} exceeds what the bytes left can hold"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Encoding;

    fn file_of(entries: &[(usize, Entry)]) -> Vec<u8> {
        let mut out = header(42, 9);
        let mut last_db = None;
        for (db, e) in entries {
            if last_db != Some(*db) {
                put_db(&mut out, *db);
                last_db = Some(*db);
            }
            put_entry(&mut out, e);
        }
        put_end(&mut out, entries.len() as u64);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&trailer(crc));
        out
    }

    fn sample() -> Vec<(usize, Entry)> {
        let mut slots = RateSlots::new();
        slots.push((
            Box::from(&b""[..]),
            State::Gcra(gcra::GcraState {
                tat_ns: 1 << 60,
                frac: 3,
            }),
        ));
        slots.push((
            Box::from(&b"tb"[..]),
            State::TokenBucket(token_bucket::BucketState {
                tokens: 4,
                frac: 5,
                last: 6,
            }),
        ));
        slots.push((
            Box::from(&b"sw"[..]),
            State::SlidingWindow(sliding_window::SlidingState {
                window: 7,
                prev: 8,
                curr: 9,
            }),
        ));
        slots.push((
            Box::from(&b"fw"[..]),
            State::FixedWindow(fixed_window::WindowState {
                window: 10,
                count: 11,
            }),
        ));
        let mut rl = Entry::new_obj(b"rl", Object::RateLimit(slots));
        rl.set_deadline(Some(1_900_000_000_000));
        let leases = Entry::new_obj(
            b"leases",
            Object::Leases(Leases::from_leases(vec![
                Lease {
                    id: b"a".to_vec(),
                    expires_at: u64::MAX,
                },
                Lease {
                    id: vec![],
                    expires_at: 1,
                },
            ])),
        );
        vec![
            (0, Entry::new_str(b"plain", b"v", Encoding::Embstr, 0)),
            (
                0,
                Entry::new_str_expiring(b"ttl", &[0xff; 300], Encoding::Raw, 1_900_000_000_123),
            ),
            (0, rl),
            (3, leases),
            (3, Entry::new_str(b"", b"", Encoding::Embstr, 0)),
            (3, quota_entry()),
            (1, hash_entry(3, 5)),
            (1, hash_entry(600, 0)),
            (2, list_entry()),
            (2, set_entry(&["3", "-1", "20"])),
            (1, set_entry(&["a", "1", ""])),
            (2, zset_entry(3)),
            (2, zset_entry(300)),
        ]
    }

    /// A hash of `n` fields (packed when small, a table past 512), with a TTL when `ttl`.
    fn hash_entry(n: usize, ttl: u64) -> Entry {
        let mut h = crate::store::hash::Hash::new();
        for i in 0..n {
            let f = format!("f{i}");
            h.set(f.as_bytes(), &vec![b'v'; i % 100], Default::default());
        }
        let mut e = Entry::new_obj(format!("h{n}").as_bytes(), Object::Hash(h));
        if ttl > 0 {
            e.set_deadline(Some(1_900_000_000_000 + ttl));
        }
        e
    }

    /// A list with an empty and a long element, and a TTL.
    fn list_entry() -> Entry {
        let mut l = crate::store::list::List::new();
        for v in [&b"a"[..], b"", &[0xfe; 200], b"a"] {
            l.push_back(v);
        }
        let mut e = Entry::new_obj(b"list", Object::List(l));
        e.set_deadline(Some(1_900_000_000_007));
        e
    }

    /// A set of `members` (table form, as loaded), with a TTL.
    fn set_entry(members: &[&str]) -> Entry {
        let s = crate::store::set::Set::from_members(members.iter().map(|m| m.as_bytes())).unwrap();
        let mut e = Entry::new_obj(format!("set{}", members.len()).as_bytes(), Object::Set(s));
        e.set_deadline(Some(1_900_000_000_009));
        e
    }

    /// A zset of `n` members (packed when small, a skiplist past 128) with odd scores.
    fn zset_entry(n: usize) -> Entry {
        let mut z = ZSet::new();
        for i in 0..n {
            let s = [f64::NEG_INFINITY, -0.0, 1.5, f64::INFINITY][i % 4] + i as f64;
            z.add(
                format!("m{i}").as_bytes(),
                s,
                crate::store::zset::DEFAULT_LIMITS,
            );
        }
        Entry::new_obj(format!("z{n}").as_bytes(), Object::ZSet(z))
    }

    fn quota_entry() -> Entry {
        let cfg = crate::config::QuotaConfig::default();
        let catalog = crate::quota::Catalog::from_config(&cfg);
        let mut state = crate::quota::SubjectState::new();
        let plan = &catalog.plans["freemium"];
        let items = [("tokens".to_string(), 5)];
        state
            .charge(&catalog.params(plan), &items, Some("a"), false, 1_000)
            .unwrap();
        state
            .reserve(&catalog.params(plan), &items, "h", None, 1_000)
            .unwrap();
        Entry::new_obj(
            b"user:1",
            Object::Quota(Box::new(QuotaValue { state, timer: None })),
        )
    }

    #[test]
    fn a_version_1_file_still_loads_with_epoch_0() {
        let v2 = file_of(&sample()[..5]);
        // Version 1: the same without the epoch bytes of the header.
        let mut v1 = v2[..HEADER_LEN_V1].to_vec();
        v1[8..10].copy_from_slice(&1u16.to_le_bytes());
        v1.extend_from_slice(&v2[HEADER_LEN..v2.len() - TRAILER_LEN]);
        let crc = crc32fast::hash(&v1);
        v1.extend_from_slice(&trailer(crc));
        let mut n = 0;
        let h = decode(&v1, |_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!((h.version, h.epoch, n), (1, 0, 5));
    }

    /// Decodes a whole file; the number of records.
    fn decode_all(file: &[u8]) -> Result<usize, DecodeError> {
        let mut n = 0;
        decode(file, |_| {
            n += 1;
            Ok(())
        })?;
        Ok(n)
    }

    #[test]
    fn every_kind_round_trips_with_its_deadline() {
        let entries = sample();
        let file = file_of(&entries);
        let mut got = Vec::new();
        let h = decode(&file, |r| {
            got.push((r.db, r.to_entry()));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            h,
            Header {
                version: 2,
                written_ms: 42,
                epoch: 9,
            }
        );
        assert_eq!(got.len(), entries.len());
        for ((db_a, a), (db_b, b)) in entries.iter().zip(&got) {
            assert_eq!(db_a, db_b);
            assert_eq!(a.key(), b.key());
            assert_eq!(a.deadline(), b.deadline());
            match (a.value(), b.value()) {
                (ValueRef::Str(x), ValueRef::Str(y)) => assert_eq!(x, y),
                (ValueRef::Obj(x), ValueRef::Obj(y)) => assert_eq!(x, y),
                _ => panic!("kind changed for {:?}", a.key()),
            }
        }
        // A string's encoding is chosen afresh, as Redis does on load.
        assert_eq!(
            Record {
                db: 0,
                key: b"n",
                deadline: None,
                value: Value::Str(b"12")
            }
            .to_entry()
            .encoding(),
            "int"
        );
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_refused() {
        let file = file_of(&sample());
        for len in 0..file.len() {
            let e = decode_all(&file[..len]).unwrap_err();
            assert!(
                e.reason.contains("truncated")
                    || e.reason.contains("magic")
                    || e.reason.contains("checksum"),
                "{len}: {e}"
            );
        }
        for i in 0..file.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = file.clone();
                bad[i] ^= bit;
                assert!(
                    decode_all(&bad).is_err(),
                    "flipped bit {bit:#x} of byte {i}"
                );
            }
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let file = file_of(&sample());
        let mut v3 = file.clone();
        v3[8] = 3;
        let e = decode_all(&v3).unwrap_err();
        assert_eq!(e.offset, 8);
        assert!(e.reason.contains("unsupported snapshot version 3"), "{e}");
        let e = decode_all(b"REDIS0011\xfe\x00").unwrap_err();
        assert!(e.reason.contains("not a tollgate snapshot"), "{e}");
        let mut bad = file.clone();
        let at = bad.len() - 10;
        bad[at] ^= 1;
        let e = decode_all(&bad).unwrap_err();
        assert!(e.reason.contains("checksum mismatch"), "{e}");
        assert_eq!(e.offset, file.len() - 4);
    }

    #[test]
    fn hostile_lengths_are_refused_before_allocating() {
        let base = HEADER_LEN;
        let cases: &[(&[u8], &str)] = &[
            (b"", "truncated"),
            (b"\x00", "before any database"),
            (b"\xfe\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", "overflows"),
            (b"\xfe\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", "overflows"),
            (b"\xfe\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\x0f", "exceeds"),
            (b"\xfe\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01k\xff\xff\xff\xff\x0f", "count"),
            (b"\xfe\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01k\xff\xff\xff\xff\x0f", "count"),
            (b"\xfe\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01k\x01\x00\x09xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "algorithm"),
            (b"\xfe\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x01h\x00", "empty hash"),
            (b"\xfe\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x01h\x05\x01f\x00", "count"),
            (b"\xfe\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x01h\x02\x01f\x00\x01f\x01v", "twice"),
            (b"\xfe\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x01l\x00", "empty list"),
            (b"\xfe\x00\x06\x00\x00\x00\x00\x00\x00\x00\x00\x01s\x00", "empty set"),
            (b"\xfe\x00\x06\x00\x00\x00\x00\x00\x00\x00\x00\x01s\x02\x01a\x01a", "twice in a set"),
            (b"\xfe\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x01l\x05\x01a", "count"),
            (b"\xfe\x00\x07\x00\x00\x00\x00\x00\x00\x00\x00\x01z\x00", "empty zset"),
            (b"\xfe\x00\x07\x00\x00\x00\x00\x00\x00\x00\x00\x01z\x01\x01a\x00\x00\x00\x00\x00\x00\xf8\x7f", "NaN"),
            (b"\xfe\x00\x07\x00\x00\x00\x00\x00\x00\x00\x00\x01z\x02\x01a\x00\x00\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x00\x00\x00\x00\x00\x00", "twice"),
            (b"\x08", "unknown record type 0x08"),
            (b"\xff\x01", "counts 1 keys"),
            (b"\xff\x00x", "after the end"),
        ];
        for (body, want) in cases {
            let e = decode_records(body, base, |_| Ok(())).unwrap_err();
            assert!(e.reason.contains(want), "{body:?}: {e}");
            assert!(e.offset >= base && e.offset <= base + body.len(), "{e}");
        }
        assert_eq!(decode_records(b"\xff\x00", base, |_| Ok(())), Ok(()));
    }
}
