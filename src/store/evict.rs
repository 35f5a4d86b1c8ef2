//! Eviction under `maxmemory`: Redis's approximated policies. Each round picks a random
//! shard, samples `maxmemory-samples` keys there and evicts the best candidate, until enough
//! bytes are freed. Only plain keys (strings) are candidates: rate-limit and quota state is
//! never evicted.

use super::Keyspace;

/// Which key of a sample goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Idle longest.
    Lru,
    /// Least frequently used.
    Lfu,
    Random,
    /// Nearest to expiring.
    Ttl,
}

/// A `maxmemory-policy`, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    /// Among all keys (`allkeys-*`) or only keys with a TTL (`volatile-*`).
    Evict {
        pick: Pick,
        volatile: bool,
    },
}

impl Policy {
    pub fn from_name(name: &str) -> Policy {
        let (scope, how) = name.split_once('-').unwrap_or(("", ""));
        let pick = match how {
            "lru" => Pick::Lru,
            "lfu" => Pick::Lfu,
            "random" => Pick::Random,
            "ttl" => Pick::Ttl,
            _ => return Policy::NoEviction,
        };
        match scope {
            "allkeys" => Policy::Evict {
                pick,
                volatile: false,
            },
            "volatile" => Policy::Evict {
                pick,
                volatile: true,
            },
            _ => Policy::NoEviction,
        }
    }
}

/// Frees at least `need` bytes if it can; returns the bytes freed.
pub fn evict(ks: &Keyspace, policy: Policy, samples: usize, need: u64, now: u64) -> u64 {
    let Policy::Evict { pick, volatile } = policy else {
        return 0;
    };
    let mut rng = {
        let mut x: u64 = rand::random::<u64>() | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    };
    let shards_per_db = ks.shard_count();
    let total = ks.all_databases() * shards_per_db;
    let mut freed = 0u64;
    'rounds: while freed < need {
        // From a random shard onwards, the first shard with a candidate gives one key; a
        // full pass that finds none means nothing is left to evict.
        let start = (rng() % total as u64) as usize;
        for j in 0..total {
            let i = (start + j) % total;
            let shard = &ks.shards(i / shards_per_db)[i % shards_per_db];
            if let Some(bytes) = shard
                .lock()
                .evict_one(pick, volatile, samples, now, &mut rng)
            {
                freed += bytes as u64;
                continue 'rounds;
            }
        }
        break;
    }
    freed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Encoding, Entry};

    fn fill(ks: &Keyspace, n: usize, ttl_every: usize) {
        for i in 0..n {
            let key = format!("k{i}");
            let mut s = ks.shard(0, key.as_bytes());
            s.put(
                Entry::new_str(key.as_bytes(), &[b'v'; 64], Encoding::Raw, 0),
                false,
                0,
            );
            if ttl_every > 0 && i % ttl_every == 0 {
                s.set_expire(key.as_bytes(), 1_000_000 + i as u64, 0);
            }
        }
    }

    #[test]
    fn policies_parse_from_redis_names() {
        assert_eq!(Policy::from_name("noeviction"), Policy::NoEviction);
        assert_eq!(
            Policy::from_name("allkeys-lru"),
            Policy::Evict {
                pick: Pick::Lru,
                volatile: false
            }
        );
        assert_eq!(
            Policy::from_name("volatile-ttl"),
            Policy::Evict {
                pick: Pick::Ttl,
                volatile: true
            }
        );
    }

    #[test]
    fn allkeys_frees_what_is_needed_and_counts_evictions() {
        let ks = Keyspace::new(1, 4);
        fill(&ks, 1000, 0);
        let before = ks.used_fast();
        let freed = evict(&ks, Policy::from_name("allkeys-random"), 5, 10_000, 0);
        assert!(freed >= 10_000);
        assert!(ks.used_fast() < before);
        assert_eq!(ks.stats().evicted as usize, 1000 - ks.dbsize(0));
    }

    #[test]
    fn volatile_policies_only_take_keys_with_a_ttl() {
        let ks = Keyspace::new(1, 4);
        fill(&ks, 100, 10);
        let freed = evict(&ks, Policy::from_name("volatile-lru"), 5, u64::MAX, 0);
        assert!(freed > 0);
        assert_eq!(ks.dbsize(0), 90, "only the ten keys with a TTL can go");
        assert_eq!(
            evict(&ks, Policy::from_name("noeviction"), 5, u64::MAX, 0),
            0
        );
    }
}
