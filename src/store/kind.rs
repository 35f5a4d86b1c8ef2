//! The facts the keyspace needs about each kind of value, in one place: the name `TYPE`
//! and `SCAN TYPE` use, the `OBJECT ENCODING`, whether `maxmemory` may evict it and whether
//! a snapshot must keep it. A new value type (quota state, a cache entry, a hash) is one
//! constant here, a variant of `entry::Object` and its size there.

/// One kind of value.
#[derive(Debug, PartialEq, Eq)]
pub struct Kind {
    /// What `TYPE` replies.
    pub type_name: &'static str,
    /// What `OBJECT ENCODING` replies; strings choose per value (`Encoding`).
    pub encoding: &'static str,
    /// Whether `maxmemory` eviction may remove it. Rate-limit and quota state never goes:
    /// evicting it would hand a client a fresh limit.
    pub evictable: bool,
    /// Whether a snapshot of the keyspace must keep it.
    pub persisted: bool,
    /// Whether every keyspace-level change to it (deleted, replaced, renamed, given a TTL,
    /// flushed) is told to the shard's [`Journal`](super::shard::Journal), because it is
    /// durable between snapshots (quota state).
    pub journaled: bool,
}

impl Kind {
    /// Whether clients block waiting for a value of this kind (BLPOP on lists, BZPOPMIN on
    /// sorted sets).
    pub fn blockable(&self) -> bool {
        matches!(self.type_name, "list" | "zset")
    }
}

/// Plain Redis strings.
pub const STRING: Kind = Kind {
    type_name: "string",
    encoding: "raw",
    evictable: true,
    persisted: true,
    journaled: false,
};

/// RL.CHECK and CL.THROTTLE state: one state per policy under a key.
pub const RATELIMIT: Kind = Kind {
    type_name: "ratelimit",
    encoding: "ratelimit",
    evictable: false,
    persisted: true,
    journaled: false,
};

/// RL.ACQUIRE's concurrency leases; `TYPE` calls them rate-limit state too.
pub const LEASES: Kind = Kind {
    type_name: "ratelimit",
    encoding: "leases",
    evictable: false,
    persisted: true,
    journaled: false,
};

/// QUOTA.* state: one subject's usage, holds, ids and ledger.
pub const QUOTA: Kind = Kind {
    type_name: "quota",
    encoding: "quota",
    evictable: false,
    persisted: true,
    journaled: true,
};

/// HSET and friends: a field → value map (`store::hash`). `OBJECT ENCODING` is per value
/// (`listpack` or `hashtable`, see `Hash::encoding`); this is a new hash's.
pub const HASH: Kind = Kind {
    type_name: "hash",
    encoding: "listpack",
    evictable: true,
    persisted: true,
    journaled: false,
};

/// LPUSH and friends: a list of elements (`store::list`). Redis 7.0 encodes every list as a
/// quicklist.
pub const LIST: Kind = Kind {
    type_name: "list",
    encoding: "quicklist",
    evictable: true,
    persisted: true,
    journaled: false,
};

/// SADD and friends: a set of members (`store::set`). `OBJECT ENCODING` is per value
/// (`intset` or `hashtable`, see `Set::encoding`); this is a new integer set's.
pub const SET: Kind = Kind {
    type_name: "set",
    encoding: "intset",
    evictable: true,
    persisted: true,
    journaled: false,
};

/// ZADD and friends: members ordered by score (`store::zset`). `OBJECT ENCODING` is per value
/// (`listpack` or `skiplist`, see `ZSet::encoding`); this is a new zset's.
pub const ZSET: Kind = Kind {
    type_name: "zset",
    encoding: "listpack",
    evictable: true,
    persisted: true,
    journaled: false,
};
