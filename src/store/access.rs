//! The 24-bit access field of every key, as Redis keeps it: the LRU clock in seconds, or
//! with an LFU eviction policy a decaying logarithmic access counter and the minute of the
//! last decrement. Pure functions of (field, now).

use super::entry::Entry;

const LRU_MAX: u32 = (1 << 24) - 1;
const LFU_INIT: u32 = 5;
const LFU_LOG_FACTOR: f64 = 10.0;
/// Minutes per decrement of the counter (Redis's `lfu-decay-time` default).
const LFU_DECAY_MINUTES: u32 = 1;

fn lru_clock(now_ms: u64) -> u32 {
    ((now_ms / 1000) as u32) & LRU_MAX
}

fn minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) as u32) & 0xffff
}

/// The field of a key that has just been created; `lfu` follows the keyspace's
/// `maxmemory-policy` (see `Keyspace::set_lfu`).
pub fn init(e: &mut Entry, now_ms: u64, lfu: bool) {
    let v = if lfu {
        (minutes(now_ms) << 8) | LFU_INIT
    } else {
        lru_clock(now_ms)
    };
    e.set_access(v);
}

/// Records an access.
pub fn touch(e: &mut Entry, now_ms: u64, lfu: bool) {
    if lfu {
        let counter = lfu_log_incr(lfu_decayed(e.access(), now_ms), rand::random::<f64>());
        e.set_access((minutes(now_ms) << 8) | counter);
    } else {
        e.set_access(lru_clock(now_ms));
    }
}

/// Seconds since the last access (`OBJECT IDLETIME`).
pub fn idle_seconds(field: u32, now_ms: u64) -> u64 {
    let clock = lru_clock(now_ms);
    let field = field & LRU_MAX;
    if clock >= field {
        u64::from(clock - field)
    } else {
        u64::from(clock + (LRU_MAX - field))
    }
}

/// The access counter after decay (`OBJECT FREQ`).
pub fn lfu_decayed(field: u32, now_ms: u64) -> u32 {
    let ldt = field >> 8;
    let counter = field & 0xff;
    let now = minutes(now_ms);
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    };
    let periods = elapsed / LFU_DECAY_MINUTES;
    counter.saturating_sub(periods)
}

/// Redis's `LFULogIncr`: the counter grows with probability 1/((counter-5)*factor+1).
pub fn lfu_log_incr(counter: u32, r: f64) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT) as f64;
    let p = 1.0 / (base * LFU_LOG_FACTOR + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_time_wraps_like_redis() {
        assert_eq!(idle_seconds(lru_clock(10_000), 15_000), 5);
        assert_eq!(idle_seconds(LRU_MAX - 1, 2_000), 3);
    }

    #[test]
    fn lfu_counter_grows_slowly_and_decays() {
        assert_eq!(lfu_log_incr(5, 0.99), 6);
        assert_eq!(lfu_log_incr(15, 0.5), 15);
        assert_eq!(lfu_log_incr(255, 0.0), 255);
        let field = (minutes(0) << 8) | 10;
        assert_eq!(lfu_decayed(field, 3 * 60_000), 7);
        assert_eq!(lfu_decayed(field, 100 * 60_000), 0);
    }
}
