//! One key and its value, packed for memory: a string key lives in a single allocation with
//! its value, so a small `SET` costs one heap block plus a 16-byte slot in the table.
//!
//! String blob layout: `[flags][access: 3 bytes][deadline: 8 bytes, only with a TTL]
//! [key length: varint][key][value]`. The access bytes hold the LRU clock (seconds) or the LFU
//! counter, as Redis's 24-bit field. A key's deadline lives in its entry, so reading or moving
//! it costs nothing beyond finding the key; the shard's `volatile` list of keys with a TTL
//! only keeps a lower bound of it, for the expiry sweep.

/// How a string value is encoded, as `OBJECT ENCODING` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Int,
    Embstr,
    Raw,
}

impl Encoding {
    /// What Redis's `tryObjectEncoding` picks for a freshly written string.
    pub fn for_value(v: &[u8]) -> Encoding {
        if v.len() <= 20 && crate::protocol::parse::parse_i64(v).is_some() {
            Encoding::Int
        } else {
            Encoding::for_len(v.len())
        }
    }

    /// The encoding of a string Redis builds without trying integers (`INCRBYFLOAT`).
    pub fn for_len(len: usize) -> Encoding {
        if len <= 44 {
            Encoding::Embstr
        } else {
            Encoding::Raw
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Encoding::Int => "int",
            Encoding::Embstr => "embstr",
            Encoding::Raw => "raw",
        }
    }
}

use super::kind::{self, Kind};
use super::varint;
use smallvec::SmallVec;

const ENC_MASK: u8 = 0b11;
const VOLATILE: u8 = 0b100;

/// A key with its value. Strings are one packed allocation; every other type lives in an
/// [`ObjEntry`] (still 16 bytes in the table).
#[derive(Debug)]
pub enum Entry {
    Str(Box<[u8]>),
    Obj(Box<ObjEntry>),
}

/// A key holding a structured value, in one allocation when the key is short and the value
/// small (one rate limit): finding the key then costs one cache miss, not three.
#[derive(Debug)]
pub struct ObjEntry {
    flags: u8,
    access: u32,
    /// Unix ms; meaningful only with the VOLATILE flag.
    deadline: u64,
    key: ObjKey,
    pub value: Object,
}

/// A structured value's key: inline up to 24 bytes (`ip:`, `user:` and session keys), else
/// on the heap.
type ObjKey = SmallVec<[u8; 24]>;

/// One rate-limit state per policy under a key (`""` names the inline form).
pub type RateSlot = (Box<[u8]>, crate::ratelimit::State);

/// The rate-limit states of a key; the common single one is stored inline.
pub type RateSlots = SmallVec<[RateSlot; 1]>;

/// The structured value types. New types (hashes, lists, quotas, cache entries) add a
/// variant here, its `Kind` (in `kind`) and its size in `heap_size`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// Rate-limit states under one key, one per policy (`""` for the inline form).
    RateLimit(RateSlots),
    /// Concurrency leases (RL.ACQUIRE).
    Leases(crate::ratelimit::lease::Leases),
    /// One subject's quota state (QUOTA.*).
    Quota(Box<QuotaValue>),
    /// A Redis hash (HSET and friends).
    Hash(super::hash::Hash),
    /// A Redis list (LPUSH and friends).
    List(super::list::List),
    /// A Redis set (SADD and friends).
    Set(super::set::Set),
    /// A Redis sorted set (ZADD and friends).
    ZSet(super::zset::ZSet),
}

/// A quota subject's state and the hold-expiry timer the shard has for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaValue {
    pub state: crate::quota::SubjectState,
    /// The deadline this key is scheduled at in its shard's timers (`Shard::schedule`).
    pub timer: Option<u64>,
}

impl Object {
    /// The facts of this kind of value.
    pub fn kind(&self) -> &'static Kind {
        match self {
            Object::RateLimit(_) => &kind::RATELIMIT,
            Object::Leases(_) => &kind::LEASES,
            Object::Quota(_) => &kind::QUOTA,
            Object::Hash(_) => &kind::HASH,
            Object::List(_) => &kind::LIST,
            Object::Set(_) => &kind::SET,
            Object::ZSet(_) => &kind::ZSET,
        }
    }

    /// What `OBJECT ENCODING` replies: the kind's, or a hash's current one.
    pub fn encoding(&self) -> &'static str {
        match self {
            Object::Hash(h) => h.encoding(),
            Object::List(l) => l.encoding(),
            Object::Set(s) => s.encoding(),
            Object::ZSet(z) => z.encoding(),
            _ => self.kind().encoding,
        }
    }

    /// Heap bytes beyond the `ObjEntry` itself, rounded as the allocator does.
    fn heap_size(&self) -> usize {
        let alloc = crate::alloc::block_size;
        match self {
            Object::RateLimit(v) => {
                let spilled = if v.spilled() {
                    alloc(v.capacity() * std::mem::size_of::<RateSlot>())
                } else {
                    0
                };
                spilled + v.iter().map(|(n, _)| alloc(n.len())).sum::<usize>()
            }
            Object::Leases(l) => {
                alloc(l.len() * std::mem::size_of::<crate::ratelimit::lease::Lease>())
                    + l.iter().map(|x| alloc(x.id.len())).sum::<usize>()
            }
            Object::Quota(q) => q.state.approx_bytes(),
            Object::Hash(h) => h.heap_size(),
            Object::List(l) => l.heap_size(),
            Object::Set(s) => s.heap_size(),
            Object::ZSet(z) => z.heap_size(),
        }
    }
}

/// A borrowed view of a value, for commands to match on.
pub enum ValueRef<'a> {
    Str(&'a [u8]),
    Obj(&'a Object),
}

impl Entry {
    pub fn new_str(key: &[u8], value: &[u8], enc: Encoding, access: u32) -> Entry {
        Self::build_str(key, value, enc, access, None)
    }

    /// A string with a TTL, packed with its deadline (unix ms) in one allocation.
    pub fn new_str_expiring(key: &[u8], value: &[u8], enc: Encoding, deadline: u64) -> Entry {
        Self::build_str(key, value, enc, 0, Some(deadline))
    }

    fn build_str(
        key: &[u8],
        value: &[u8],
        enc: Encoding,
        access: u32,
        deadline: Option<u64>,
    ) -> Entry {
        let extra = if deadline.is_some() { 8 } else { 0 };
        let mut blob =
            Vec::with_capacity(4 + extra + varint::len(key.len()) + key.len() + value.len());
        blob.push(enc as u8 | if deadline.is_some() { VOLATILE } else { 0 });
        blob.extend_from_slice(&access.to_le_bytes()[..3]);
        if let Some(at) = deadline {
            blob.extend_from_slice(&at.to_le_bytes());
        }
        varint::put(&mut blob, key.len());
        blob.extend_from_slice(key);
        blob.extend_from_slice(value);
        Entry::Str(blob.into_boxed_slice())
    }

    pub fn new_obj(key: &[u8], value: Object) -> Entry {
        Entry::Obj(Box::new(ObjEntry {
            flags: 0,
            access: 0,
            deadline: 0,
            key: SmallVec::from_slice(key),
            value,
        }))
    }

    /// The structured value, or `None` for strings.
    pub fn object_mut(&mut self) -> Option<&mut Object> {
        match self {
            Entry::Str(_) => None,
            Entry::Obj(o) => Some(&mut o.value),
        }
    }

    /// A string's bytes, to change in place at the same length (SETBIT); `None` for other
    /// types. The string becomes `raw` (if `int` or `embstr`), changed or not, as Redis's
    /// `dbUnshareStringValue` makes it; its size does not depend on the encoding.
    pub fn raw_str_mut(&mut self) -> Option<&mut [u8]> {
        match self {
            Entry::Str(b) => {
                b[0] = (b[0] & !ENC_MASK) | Encoding::Raw as u8;
                let (_, e) = Self::key_range(b);
                Some(&mut b[e..])
            }
            Entry::Obj(_) => None,
        }
    }

    /// The same value and access field under another key (RENAME, COPY); no TTL.
    pub fn with_key(&self, key: &[u8]) -> Entry {
        match self {
            Entry::Str(b) => {
                let (_, e) = Self::key_range(b);
                let mut blob =
                    Vec::with_capacity(4 + varint::len(key.len()) + key.len() + b.len() - e);
                // The copy has no TTL: no deadline bytes.
                blob.push(b[0] & !VOLATILE);
                blob.extend_from_slice(&b[1..4]);
                varint::put(&mut blob, key.len());
                blob.extend_from_slice(key);
                blob.extend_from_slice(&b[e..]);
                Entry::Str(blob.into_boxed_slice())
            }
            Entry::Obj(o) => Entry::Obj(Box::new(ObjEntry {
                flags: o.flags & !VOLATILE,
                access: o.access,
                deadline: 0,
                key: SmallVec::from_slice(key),
                value: o.value.clone(),
            })),
        }
    }

    fn key_range(blob: &[u8]) -> (usize, usize) {
        let at = Self::varint_at(blob[0]);
        let (len, n) = varint::get(&blob[at..]);
        (at + n, at + n + len)
    }

    /// Where a string blob's key length starts: after the deadline when there is one.
    fn varint_at(flags: u8) -> usize {
        if flags & VOLATILE != 0 {
            12
        } else {
            4
        }
    }

    pub fn key(&self) -> &[u8] {
        match self {
            Entry::Str(b) => {
                let (s, e) = Self::key_range(b);
                &b[s..e]
            }
            Entry::Obj(o) => &o.key,
        }
    }

    pub fn value(&self) -> ValueRef<'_> {
        match self {
            Entry::Str(b) => {
                let (_, e) = Self::key_range(b);
                ValueRef::Str(&b[e..])
            }
            Entry::Obj(o) => ValueRef::Obj(&o.value),
        }
    }

    /// The string value, or `None` for other types.
    pub fn str(&self) -> Option<&[u8]> {
        match self.value() {
            ValueRef::Str(s) => Some(s),
            ValueRef::Obj(_) => None,
        }
    }

    /// What kind of value the key holds (see `kind`).
    pub fn kind(&self) -> &'static Kind {
        match self {
            Entry::Str(_) => &kind::STRING,
            Entry::Obj(o) => o.value.kind(),
        }
    }

    /// Whether maxmemory may evict this key: quota and rate-limit state never goes.
    pub fn evictable(&self) -> bool {
        self.kind().evictable
    }

    pub fn type_name(&self) -> &'static str {
        self.kind().type_name
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Entry::Str(b) => match b[0] & ENC_MASK {
                0 => "int",
                1 => "embstr",
                _ => "raw",
            },
            Entry::Obj(o) => o.value.encoding(),
        }
    }

    fn flags(&self) -> u8 {
        match self {
            Entry::Str(b) => b[0],
            Entry::Obj(o) => o.flags,
        }
    }

    /// Whether the key has a TTL (then the shard's `volatile` lists it).
    pub fn is_volatile(&self) -> bool {
        self.flags() & VOLATILE != 0
    }

    /// The key's deadline (unix ms), if it has a TTL.
    pub fn deadline(&self) -> Option<u64> {
        if !self.is_volatile() {
            return None;
        }
        Some(match self {
            Entry::Str(b) => u64::from_le_bytes(b[4..12].try_into().unwrap_or_default()),
            Entry::Obj(o) => o.deadline,
        })
    }

    /// Gives the key a deadline (unix ms) or takes it away. A string gaining or losing its
    /// TTL is re-packed with or without the deadline bytes; changing a deadline is in place.
    pub fn set_deadline(&mut self, at: Option<u64>) {
        match self {
            Entry::Obj(o) => {
                o.deadline = at.unwrap_or(0);
                if at.is_some() {
                    o.flags |= VOLATILE;
                } else {
                    o.flags &= !VOLATILE;
                }
            }
            Entry::Str(b) => match (b[0] & VOLATILE != 0, at) {
                (true, Some(at)) => b[4..12].copy_from_slice(&at.to_le_bytes()),
                (false, Some(at)) => {
                    let mut blob = Vec::with_capacity(b.len() + 8);
                    blob.push(b[0] | VOLATILE);
                    blob.extend_from_slice(&b[1..4]);
                    blob.extend_from_slice(&at.to_le_bytes());
                    blob.extend_from_slice(&b[4..]);
                    *b = blob.into_boxed_slice();
                }
                (true, None) => {
                    let mut blob = Vec::with_capacity(b.len() - 8);
                    blob.push(b[0] & !VOLATILE);
                    blob.extend_from_slice(&b[1..4]);
                    blob.extend_from_slice(&b[12..]);
                    *b = blob.into_boxed_slice();
                }
                (false, None) => {}
            },
        }
    }

    /// The 24-bit access field (LRU clock or LFU counter).
    pub fn access(&self) -> u32 {
        match self {
            Entry::Str(b) => u32::from_le_bytes([b[1], b[2], b[3], 0]),
            Entry::Obj(o) => o.access,
        }
    }

    pub fn set_access(&mut self, v: u32) {
        match self {
            Entry::Str(b) => b[1..4].copy_from_slice(&v.to_le_bytes()[..3]),
            Entry::Obj(o) => o.access = v & 0xff_ffff,
        }
    }

    /// Bytes this entry's allocations take, as the allocator's size classes hold them
    /// (`alloc::block_size`), for `used_memory` and eviction. Its slot in the table and the
    /// index are the table's, counted with the table's capacity (`Shard::sync_table_mem`).
    pub fn mem_size(&self) -> usize {
        match self {
            Entry::Str(b) => crate::alloc::block_size(b.len() + 8),
            Entry::Obj(o) => {
                let key = if o.key.spilled() {
                    crate::alloc::block_size(o.key.len())
                } else {
                    0
                };
                crate::alloc::block_size(std::mem::size_of::<ObjEntry>())
                    + key
                    + o.value.heap_size()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_answers_its_facts() {
        let s = Entry::new_str(b"k", b"12", Encoding::Int, 0);
        let rl = Entry::new_obj(b"k", Object::RateLimit(Default::default()));
        let leases = Entry::new_obj(b"k", Object::Leases(Default::default()));
        let facts = |e: &Entry| {
            (
                e.type_name(),
                e.encoding(),
                e.evictable(),
                e.kind().persisted,
            )
        };
        assert_eq!(facts(&s), ("string", "int", true, true));
        assert_eq!(facts(&rl), ("ratelimit", "ratelimit", false, true));
        assert_eq!(facts(&leases), ("ratelimit", "leases", false, true));
    }

    #[test]
    fn blob_round_trips_key_value_and_flags() {
        for klen in [0usize, 1, 127, 128, 300, 20000] {
            let key = vec![b'k'; klen];
            let mut e = Entry::new_str(&key, b"value", Encoding::Raw, 0xabcdef);
            assert_eq!(e.key(), &key[..]);
            assert_eq!(e.str(), Some(&b"value"[..]));
            assert_eq!(e.access(), 0xabcdef);
            assert_eq!(e.encoding(), "raw");
            e.set_deadline(Some(u64::MAX - 1));
            assert!(e.is_volatile());
            assert_eq!(e.deadline(), Some(u64::MAX - 1));
            e.set_access(7);
            assert_eq!(e.access(), 7);
            assert_eq!(e.key(), &key[..]);
            assert_eq!(e.str(), Some(&b"value"[..]));
            e.set_deadline(Some(5));
            assert_eq!(e.deadline(), Some(5));
            let built = Entry::new_str_expiring(&key, b"value", Encoding::Raw, 5);
            assert_eq!((built.key(), built.str()), (&key[..], Some(&b"value"[..])));
            assert_eq!((built.deadline(), built.encoding()), (Some(5), "raw"));
            let copy = e.with_key(b"other");
            assert_eq!(
                (copy.key(), copy.str(), copy.deadline()),
                (&b"other"[..], Some(&b"value"[..]), None)
            );
            e.set_deadline(None);
            assert_eq!((e.is_volatile(), e.deadline()), (false, None));
            assert_eq!(e.key(), &key[..]);
            assert_eq!(e.str(), Some(&b"value"[..]));
            assert_eq!(e.access(), 7);
        }
    }

    #[test]
    fn encoding_follows_redis_rules() {
        assert_eq!(Encoding::for_value(b"123"), Encoding::Int);
        assert_eq!(Encoding::for_value(b"-9223372036854775808"), Encoding::Int);
        assert_eq!(Encoding::for_value(b"0123"), Encoding::Embstr);
        assert_eq!(Encoding::for_value(&[b'a'; 44]), Encoding::Embstr);
        assert_eq!(Encoding::for_value(&[b'a'; 45]), Encoding::Raw);
        assert_eq!(std::mem::size_of::<Entry>(), 16);
        // One allocation holds a short key and one rate limit.
        assert!(
            std::mem::size_of::<ObjEntry>() <= 112,
            "{}",
            std::mem::size_of::<ObjEntry>()
        );
    }
}
