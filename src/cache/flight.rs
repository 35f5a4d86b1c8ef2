//! Single flight for CACHE.FETCH: per missing entry, at most one client computes it (the
//! filler, until its lease runs out) while the others wait, without polling, for the
//! CACHE.SET that ends the flight. A waiter holds only a receiver of the flight's signal, so
//! one that goes away leaves nothing behind; a flight whose filler vanished and that nobody
//! waits on is dropped by `sweep` once its lease is over.

use std::collections::HashMap;

use foldhash::fast::FixedState;
use parking_lot::Mutex;
use std::hash::BuildHasher;
use tokio::sync::watch;

struct Flight {
    /// Unix ms after which the filler's claim is void and the next asker fills.
    lease_until: u64,
    /// Dropped (or sent on) when the flight ends: every waiter wakes and looks again.
    signal: watch::Sender<()>,
}

/// What an asker that missed is to do.
#[derive(Debug)]
pub enum Turn {
    /// Compute the value and CACHE.SET it.
    Fill,
    /// Someone else fills until `lease_until`: wait on the signal.
    Wait {
        signal: watch::Receiver<()>,
        lease_until: u64,
    },
}

type Shard = Mutex<HashMap<Box<[u8]>, Flight, FixedState>>;

pub struct Flights {
    shards: Box<[Shard]>,
    hasher: FixedState,
}

const SHARDS: usize = 16;

impl Default for Flights {
    fn default() -> Self {
        let hasher = FixedState::with_seed(rand::random());
        Flights {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(hasher)))
                .collect(),
            hasher,
        }
    }
}

impl Flights {
    fn shard(&self, key: &[u8]) -> &Shard {
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    /// An asker missed `key` at `now`: it fills (a new flight, or one whose filler's lease
    /// ran out: exactly one asker takes it over), or waits.
    pub fn miss(&self, key: &[u8], now: u64, lease_ms: u64) -> Turn {
        let mut map = self.shard(key).lock();
        let lease_until = now.saturating_add(lease_ms);
        match map.get_mut(key) {
            Some(f) if f.lease_until > now => Turn::Wait {
                signal: f.signal.subscribe(),
                lease_until: f.lease_until,
            },
            // The filler's lease is over: this asker takes over; the waiters stay attached.
            Some(f) => {
                f.lease_until = lease_until;
                Turn::Fill
            }
            None => {
                map.insert(
                    key.into(),
                    Flight {
                        lease_until,
                        signal: watch::channel(()).0,
                    },
                );
                Turn::Fill
            }
        }
    }

    /// The entry was stored (or deleted): the flight ends and its waiters look again.
    pub fn land(&self, key: &[u8]) {
        let flight = self.shard(key).lock().remove(key);
        // Dropping the sender wakes every receiver (outside the lock).
        drop(flight);
    }

    /// Drops the flights whose lease is over and that nobody waits on; returns how many
    /// are left.
    pub fn sweep(&self, now: u64) -> usize {
        let mut left = 0;
        for s in self.shards.iter() {
            let mut map = s.lock();
            map.retain(|_, f| f.lease_until > now || f.signal.receiver_count() > 0);
            left += map.len();
        }
        left
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// FLUSHALL: every flight ends (their waiters look again and find nothing).
    pub fn clear(&self) {
        for s in self.shards.iter() {
            let drained: Vec<Flight> = s.lock().drain().map(|(_, f)| f).collect();
            drop(drained);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_filler_then_waiters_then_a_takeover_after_the_lease() {
        let f = Flights::default();
        assert!(matches!(f.miss(b"k", 0, 100), Turn::Fill));
        let Turn::Wait { lease_until, .. } = f.miss(b"k", 50, 100) else {
            panic!("a second asker waits");
        };
        assert_eq!(lease_until, 100);
        assert!(matches!(f.miss(b"k", 100, 100), Turn::Fill), "lease over");
        assert!(
            matches!(f.miss(b"k", 150, 100), Turn::Wait { .. }),
            "exactly one takes over"
        );
        f.land(b"k");
        assert!(f.is_empty());
        assert!(matches!(f.miss(b"k", 150, 100), Turn::Fill));
    }

    #[tokio::test]
    async fn landing_wakes_every_waiter() {
        let f = Flights::default();
        let _ = f.miss(b"k", 0, 1000);
        let mut waiters = Vec::new();
        for _ in 0..3 {
            let Turn::Wait { mut signal, .. } = f.miss(b"k", 1, 1000) else {
                panic!("waits");
            };
            waiters.push(tokio::spawn(async move { signal.changed().await.is_err() }));
        }
        f.land(b"k");
        for w in waiters {
            assert!(w.await.unwrap(), "the sender went: woken");
        }
    }

    #[test]
    fn sweep_drops_only_abandoned_flights() {
        let f = Flights::default();
        let _ = f.miss(b"gone", 0, 10);
        let _ = f.miss(b"live", 0, 1000);
        let _ = f.miss(b"waited", 0, 10);
        let Turn::Wait { signal, .. } = f.miss(b"waited", 5, 10) else {
            panic!("waits");
        };
        assert_eq!(f.sweep(20), 2, "the waited-on and the leased one stay");
        drop(signal);
        assert_eq!(f.sweep(20), 1);
        assert_eq!(f.sweep(2000), 0);
    }
}
