//! Concurrency leases (`RL.ACQUIRE` / `RL.RELEASE` / `RL.RENEW`): at most `max` live leases
//! per key, each expiring on its own unless renewed, so a crashed worker never leaks a slot.
//!
//! A lease is live while `now < expires_at`. Every operation first forgets expired leases, so
//! the answer never depends on whether the server's sweeper has run yet. The set is a plain
//! `Vec`: it holds at most `max` entries (a handful per key in practice), and linear scans over
//! a few entries beat any map. An operation costs a few passes over the key's leases, which
//! is why `max` is capped (`ratelimit.max_leases`; the README has the cost at the cap).

/// One held slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub id: Vec<u8>,
    pub expires_at: u64,
}

/// The leases under one key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leases {
    leases: Vec<Lease>,
}

/// The reply of `RL.ACQUIRE`, in nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcquireOutcome {
    pub acquired: bool,
    /// The lease id when acquired (the caller's `ID`, or a generated one).
    pub lease: Option<Vec<u8>>,
    /// Live leases after this call.
    pub in_use: u64,
    pub max: u64,
    /// 0 when acquired; until the earliest lease expires when denied; `None` when no slot can
    /// ever free up (`max` is 0).
    pub retry_after_ns: Option<u64>,
}

impl Leases {
    pub fn new() -> Leases {
        Leases::default()
    }

    /// The leases as a snapshot stored them (expired ones are forgotten by the next operation).
    pub fn from_leases(leases: Vec<Lease>) -> Leases {
        Leases { leases }
    }

    /// Takes a slot for `lease_ns`. With an `id` that already holds a live lease this renews it
    /// and succeeds even if `max` has since been lowered: the caller already holds the slot, so
    /// a retried `RL.ACQUIRE` is idempotent. `gen_id` is called only when a new lease without
    /// an `id` is granted and must return an id not in use.
    pub fn acquire(
        &mut self,
        max: u64,
        lease_ns: u64,
        id: Option<&[u8]>,
        now: u64,
        gen_id: impl FnOnce() -> Vec<u8>,
    ) -> AcquireOutcome {
        self.purge(now);
        let expires_at = now.saturating_add(lease_ns);
        let existing = id.and_then(|id| self.leases.iter_mut().find(|l| l.id == id));
        let granted = if let Some(lease) = existing {
            lease.expires_at = expires_at;
            Some(lease.id.clone())
        } else if (self.leases.len() as u64) < max {
            let id = id.map_or_else(gen_id, <[u8]>::to_vec);
            self.leases.push(Lease {
                id: id.clone(),
                expires_at,
            });
            Some(id)
        } else {
            None
        };
        // A zero-length lease is granted but already over; drop it so it holds nothing.
        // Each pass over the leases counts at the cap (`ratelimit.max_leases`), so the
        // second purge and the earliest expiry are only computed when they can matter.
        if expires_at <= now {
            self.purge(now);
        }
        let retry_after_ns = match &granted {
            Some(_) => Some(0),
            // Nothing to wait for: no expiry makes room under a zero max.
            None if max == 0 => None,
            None => self.next_expiry().map(|at| at - now),
        };
        AcquireOutcome {
            acquired: granted.is_some(),
            lease: granted,
            in_use: self.leases.len() as u64,
            max,
            retry_after_ns,
        }
    }

    /// Whether `acquire(max, _, id, now, _)` would add a lease, the one way it grows the key
    /// (renewing the caller's live lease or refusing does not). Changes nothing.
    pub fn would_add(&self, max: u64, id: Option<&[u8]>, now: u64) -> bool {
        let held = id.is_some_and(|id| self.live(now).any(|l| l.id == id));
        !held && (self.live(now).count() as u64) < max
    }

    /// The leases live at `now` (some stored ones may have expired since the last operation).
    pub fn live(&self, now: u64) -> impl Iterator<Item = &Lease> {
        self.leases.iter().filter(move |l| l.expires_at > now)
    }

    /// Frees the slot; false when the lease is unknown or already expired.
    pub fn release(&mut self, id: &[u8], now: u64) -> bool {
        self.purge(now);
        let before = self.leases.len();
        self.leases.retain(|l| l.id != id);
        self.leases.len() != before
    }

    /// Extends a live lease to `now + lease_ns`; false when unknown or already expired.
    pub fn renew(&mut self, id: &[u8], lease_ns: u64, now: u64) -> bool {
        self.purge(now);
        match self.leases.iter_mut().find(|l| l.id == id) {
            Some(l) => {
                l.expires_at = now.saturating_add(lease_ns);
                true
            }
            None => false,
        }
    }

    /// Forgets every lease expired at `now`; returns how many.
    pub fn purge(&mut self, now: u64) -> usize {
        let before = self.leases.len();
        self.leases.retain(|l| l.expires_at > now);
        before - self.leases.len()
    }

    /// When the sweeper should look at this key again (and `PTTL` of the key).
    pub fn next_expiry(&self) -> Option<u64> {
        self.leases.iter().map(|l| l.expires_at).min()
    }

    /// The latest expiry: once past it the key holds nothing and can go.
    pub fn last_expiry(&self) -> Option<u64> {
        self.leases.iter().map(|l| l.expires_at).max()
    }

    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }

    /// Leases as stored (some may have expired since the last operation).
    pub fn len(&self) -> usize {
        self.leases.len()
    }

    /// For persistence and introspection.
    pub fn iter(&self) -> impl Iterator<Item = &Lease> {
        self.leases.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn ids() -> impl FnMut() -> Vec<u8> {
        let mut n = 0;
        move || {
            n += 1;
            format!("L{n}").into_bytes()
        }
    }

    #[test]
    fn slots_fill_then_free_on_expiry() {
        let mut ls = Leases::new();
        let mut gen = ids();
        let a = ls.acquire(2, 10 * S, None, 0, &mut gen);
        let b = ls.acquire(2, 10 * S, None, S, &mut gen);
        let c = ls.acquire(2, 10 * S, None, 2 * S, &mut gen);
        assert_eq!(
            (a.acquired, a.lease.as_deref(), a.in_use),
            (true, Some(&b"L1"[..]), 1)
        );
        assert_eq!((b.acquired, b.in_use), (true, 2));
        assert_eq!(
            c,
            AcquireOutcome {
                acquired: false,
                lease: None,
                in_use: 2,
                max: 2,
                retry_after_ns: Some(8 * S),
            }
        );
        assert_eq!(ls.next_expiry(), Some(10 * S));
        // Expired exactly at expires_at: the slot is free on time.
        let d = ls.acquire(2, 10 * S, None, 10 * S, &mut gen);
        assert_eq!(
            (d.acquired, d.lease.as_deref(), d.in_use),
            (true, Some(&b"L3"[..]), 2)
        );
        assert!(!ls.release(b"L1", 10 * S), "L1 expired");
        assert!(ls.release(b"L2", 10 * S));
        assert!(!ls.release(b"L2", 10 * S), "released twice");
    }

    #[test]
    fn same_id_is_idempotent_and_renews() {
        let mut ls = Leases::new();
        let never = || -> Vec<u8> { panic!("no id should be generated") };
        let a = ls.acquire(1, 5 * S, Some(b"job-7"), 0, never);
        let b = ls.acquire(1, 5 * S, Some(b"job-7"), 3 * S, never);
        assert!(a.acquired && b.acquired);
        assert_eq!((b.in_use, ls.next_expiry()), (1, Some(8 * S)));
        // Another id is refused while job-7 holds the only slot.
        let c = ls.acquire(1, 5 * S, Some(b"job-8"), 3 * S, never);
        assert_eq!((c.acquired, c.retry_after_ns), (false, Some(5 * S)));
        // Lowering max does not evict a holder retrying its acquire.
        assert!(ls.acquire(0, 5 * S, Some(b"job-7"), 4 * S, never).acquired);
    }

    #[test]
    fn renew_and_release_unknown_or_expired() {
        let mut ls = Leases::new();
        ls.acquire(3, 5 * S, Some(b"a"), 0, Vec::new);
        assert!(ls.renew(b"a", 5 * S, 4 * S));
        assert_eq!(ls.next_expiry(), Some(9 * S));
        assert!(!ls.renew(b"b", 5 * S, 4 * S));
        assert!(!ls.renew(b"a", 5 * S, 9 * S), "expired at 9s");
        assert!(ls.is_empty());
        assert!(!ls.release(b"a", 9 * S));
    }

    #[test]
    fn would_add_is_acquire_without_the_change() {
        let mut ls = Leases::new();
        ls.acquire(2, 5 * S, Some(b"a"), 0, Vec::new);
        let before = ls.clone();
        assert!(ls.would_add(2, Some(b"b"), S));
        assert!(ls.would_add(2, None, S));
        assert!(!ls.would_add(2, Some(b"a"), S), "a renewal adds nothing");
        assert!(!ls.would_add(1, Some(b"b"), S), "refused: no room");
        assert!(!ls.would_add(0, None, S));
        // Once `a` is over, its id is free and its slot too.
        assert!(ls.would_add(1, Some(b"a"), 5 * S));
        assert_eq!(ls, before);
        assert_eq!(ls.live(S).count(), 1);
        assert_eq!(ls.live(5 * S).count(), 0);
    }

    #[test]
    fn zero_max_and_zero_lease() {
        let mut ls = Leases::new();
        let o = ls.acquire(0, S, None, 0, Vec::new);
        assert_eq!((o.acquired, o.retry_after_ns), (false, None));
        let o = ls.acquire(1, 0, Some(b"x"), 0, Vec::new);
        assert!(o.acquired);
        assert_eq!((o.in_use, ls.is_empty()), (0, true));
        let o = ls.acquire(1, u64::MAX, Some(b"y"), u64::MAX - 1, Vec::new);
        assert_eq!((o.acquired, ls.next_expiry()), (true, Some(u64::MAX)));
    }

    /// With `max` 0 no lease can ever be taken, even once the held ones expire (they were
    /// taken under a larger max): there is nothing to wait for (`retry_after_ms` -1).
    #[test]
    fn zero_max_with_leases_held_never_fits() {
        let mut ls = Leases::new();
        assert!(ls.acquire(2, 10 * S, None, 0, ids()).acquired);
        let o = ls.acquire(0, S, None, S, ids());
        assert_eq!((o.acquired, o.in_use, o.retry_after_ns), (false, 1, None));
    }
}
