//! Active expiry: a background cycle that reclaims keys past their TTL without a client
//! touching them, bounded like Redis's `activeExpireCycle`: sample keys with a TTL, repeat
//! while more than a tenth of a sample was expired, stop at a time budget.

use super::Keyspace;
use std::time::{Duration, Instant};

/// Keys sampled per shard per round, at effort 1 (Redis: 20, plus 25% per effort step).
const SAMPLES: usize = 20;
/// Keep sampling a shard while more than this percentage of a sample had expired.
const STALE_PERCENT: usize = 10;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CycleStats {
    pub sampled: usize,
    pub expired: usize,
    pub timed_out: bool,
}

/// One cycle over every shard of every database. `budget` bounds the CPU time spent;
/// `effort` is Redis's `active-expire-effort` (1..=10).
pub fn cycle(ks: &Keyspace, now_ms: u64, budget: Duration, effort: u32) -> CycleStats {
    let started = Instant::now();
    let effort = effort.clamp(1, 10) as usize;
    let samples = SAMPLES + SAMPLES / 4 * (effort - 1);
    let stale = STALE_PERCENT.saturating_sub(effort - 1).max(1);
    let mut stats = CycleStats::default();
    let mut rng = {
        let mut x: u64 = rand::random::<u64>() | 1;
        move || {
            // xorshift: cheap, and only spreads samples over the table.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    };
    for db in 0..ks.databases() {
        for shard in ks.shards(db) {
            loop {
                let (sampled, expired) = {
                    let mut s = shard.lock();
                    if s.volatile_len() == 0 {
                        break;
                    }
                    s.expire_sample(samples, now_ms, &mut rng)
                };
                stats.sampled += sampled;
                stats.expired += expired;
                if started.elapsed() > budget {
                    stats.timed_out = true;
                    return stats;
                }
                if sampled == 0 || expired * 100 <= sampled * stale {
                    break;
                }
            }
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Encoding, Entry};

    #[test]
    fn reclaims_expired_keys_without_reads() {
        let ks = Keyspace::new(2, 4);
        for i in 0..1000u32 {
            let key = format!("k{i}");
            let mut s = ks.shard(1, key.as_bytes());
            s.put(
                Entry::new_str(key.as_bytes(), b"v", Encoding::Embstr, 0),
                false,
                0,
            );
            let at = if i % 2 == 0 { 100 } else { 10_000 };
            s.set_expire(key.as_bytes(), at, 0);
        }
        assert_eq!(ks.db_counts(1), (1000, 1000));
        let mut total = 0;
        for _ in 0..200 {
            total += cycle(&ks, 5_000, Duration::from_secs(1), 1).expired;
        }
        assert_eq!(total, 500);
        assert_eq!(ks.db_counts(1), (500, 500));
        assert_eq!(ks.stats().expired, 500);
    }
}
