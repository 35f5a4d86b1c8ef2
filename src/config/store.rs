//! `[store]`: the memory limit, eviction and active expiry.

use super::declare::{settings, INT_MAX, LONG_MAX};
use super::redis_get_set::{out_of_range, redis_int};
use super::{ByteSize, MaxmemoryPolicy};

settings! {
    /// `[store]`: memory limit, eviction and active expiry.
    pub struct StoreConfig in store;

    /// Memory limit (bytes, or "100mb", "1gb"); 0 = no limit. Reaching it applies
    /// maxmemory_policy to plain keys; rate-limit state is never evicted.
    maxmemory: ByteSize = ByteSize(0), config "maxmemory", runtime, range(0, u64::MAX);
    /// What gives way at the limit; noeviction makes writes fail with -OOM instead.
    maxmemory_policy: MaxmemoryPolicy = MaxmemoryPolicy::Noeviction,
        config "maxmemory-policy", runtime;
    /// Keys sampled per eviction decision: more is closer to true LRU/LFU/TTL and costs more CPU.
    maxmemory_samples: u32 = 5, config "maxmemory-samples", runtime, range(1, INT_MAX);
    /// Background task frequency per second (active expiry), 1 to 500.
    // Redis silently clamps hz into 1..=500; a file that asks for more is a mistake worth
    // reporting, while CONFIG SET keeps Redis's clamping for compatibility.
    hz: u32 = 10, config "hz", runtime, range(HZ_MIN, HZ_MAX), set_with(hz_from_redis);
    /// How much CPU the active expiry sweep may spend reclaiming expired keys, 1 to 10 as in
    /// Redis: raises the budget below by 2 points per step.
    active_expire_effort: u32 = 1, config "active-expire-effort", runtime, range(1, 10);
    /// Share of each expiry cycle's period (1000/hz ms) the sweep may spend, in percent; each
    /// active_expire_effort step above 1 adds 2 points, as in Redis. A cycle that reaches it
    /// stops and the next one resumes where it stopped (INFO expired_time_cap_reached_count).
    active_expire_cpu: u32 = 25, config "tollgate-active-expire-cpu", runtime, range(1, 100);
    /// A hash keeps the compact listpack form (OBJECT ENCODING listpack) up to this many
    /// fields; one more converts it to a hashtable, for good. Redis 7.0's name and default
    /// (alias hash-max-ziplist-entries).
    hash_max_listpack_entries: u64 = 512, config "hash-max-listpack-entries", runtime,
        range(0, LONG_MAX);
    /// A field or value longer than this many bytes converts its hash to a hashtable. Redis
    /// 7.0's name and default (alias hash-max-ziplist-value).
    hash_max_listpack_value: ByteSize = ByteSize(64), config "hash-max-listpack-value", runtime,
        range(0, LONG_MAX);
    /// A set whose members are all integers keeps the compact intset form (OBJECT ENCODING
    /// intset) up to this many members; one more, or a member that is not an integer,
    /// converts it to a hashtable, for good. Redis 7.0's name and default.
    set_max_intset_entries: u64 = 512, config "set-max-intset-entries", runtime,
        range(0, LONG_MAX);
    /// A sorted set keeps the compact listpack form (OBJECT ENCODING listpack) up to this
    /// many members; one more converts it to a skiplist. Redis 7.0's name and default (alias
    /// zset-max-ziplist-entries).
    zset_max_listpack_entries: u64 = 128, config "zset-max-listpack-entries", runtime,
        range(0, LONG_MAX);
    /// A member longer than this many bytes converts its sorted set to a skiplist. Redis
    /// 7.0's name and default (alias zset-max-ziplist-value).
    zset_max_listpack_value: ByteSize = ByteSize(64), config "zset-max-listpack-value", runtime,
        range(0, LONG_MAX);
}

const HZ_MIN: u64 = 1;
const HZ_MAX: u64 = 500;

/// CONFIG SET hz: Redis accepts 0..=INT_MAX and then clamps into 1..=500 (CONFIG GET shows
/// the clamped value).
fn hz_from_redis(s: &str) -> Result<u32, String> {
    let hz = redis_int(s)?;
    if !(0..=INT_MAX as i64).contains(&hz) {
        return Err(out_of_range(0, INT_MAX));
    }
    // Clamped into 1..=500, so the cast is exact.
    Ok(hz.clamp(HZ_MIN as i64, HZ_MAX as i64) as u32)
}
