//! Token bucket (`ALGO token-bucket`): a bucket of `burst` tokens that refills continuously at
//! `limit` tokens per `period`; a request of weight `c` takes `c` tokens or is denied.
//!
//! The level is kept in fixed point, in units of `1/period` of a token: then one nanosecond
//! of refill adds exactly `limit` units and a token is exactly `period` units, so refill is
//! exact integer arithmetic however the rate divides (u128 for the products).

use super::{div_ceil_sat, sat_u64, Decision, Limit};

/// `tokens + frac/period` tokens in the bucket as of `last` (unix ns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BucketState {
    pub tokens: u64,
    pub frac: u64,
    pub last: u64,
}

impl BucketState {
    /// Once the bucket has refilled to `burst` it is the same as a fresh (full) bucket.
    pub fn expires_at(&self, limit: &Limit) -> u64 {
        let missing = capacity_units(limit).saturating_sub(self.units(limit));
        self.last
            .saturating_add(div_ceil_sat(missing, u128::from(limit.limit)))
    }

    fn units(&self, limit: &Limit) -> u128 {
        let period = u128::from(limit.period_ns);
        u128::from(self.tokens) * period + u128::from(self.frac).min(period - 1)
    }
}

fn capacity_units(limit: &Limit) -> u128 {
    u128::from(limit.burst) * u128::from(limit.period_ns)
}

/// See the module docs; `limit` must be valid (checked by the caller).
pub fn check(
    state: Option<&BucketState>,
    limit: &Limit,
    cost: u64,
    now: u64,
) -> (Decision, Option<BucketState>) {
    let period = u128::from(limit.period_ns);
    let rate = u128::from(limit.limit);
    let cap = capacity_units(limit);
    let (level, last) = match state {
        None => (cap, now),
        Some(s) => {
            // A clock that steps back refills nothing and keeps `last`, so no refill is
            // ever counted twice.
            let refill = u128::from(now.saturating_sub(s.last)) * rate;
            (
                s.units(limit).saturating_add(refill).min(cap),
                s.last.max(now),
            )
        }
    };
    let need = u128::from(cost) * period;
    let decision = |allowed: bool, level: u128, retry: Option<u64>| Decision {
        allowed,
        limit: limit.burst,
        remaining: sat_u64(level / period),
        reset_ns: div_ceil_sat(cap - level, rate),
        retry_after_ns: retry,
    };
    if level >= need {
        let after = level - need;
        let new = (cost > 0).then(|| BucketState {
            tokens: sat_u64(after / period),
            frac: (after % period) as u64,
            last,
        });
        (decision(true, after, Some(0)), new)
    } else if cost > limit.burst {
        (decision(false, level, None), None)
    } else {
        let retry = div_ceil_sat(need - level, rate);
        (decision(false, level, Some(retry)), None)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::replay as run;
    use super::super::{check as dispatch, Algo, Limit};

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    fn lim(limit: u64, period_ns: u64, burst: u64) -> Limit {
        Limit::new(limit, period_ns, Some(burst), Algo::TokenBucket).unwrap()
    }

    #[test]
    fn burst_steady_and_idle_refill() {
        // 100 per minute (the chat policy), capacity 100: one token per 600ms.
        let l = lim(100, 60 * S, 100);
        run(
            &l,
            &[
                (0, 100, true, 0, 60 * S, Some(0)),
                (0, 1, false, 0, 60 * S, Some(600 * MS)),
                (599 * MS, 1, false, 0, 60 * S - 599 * MS, Some(MS)),
                (600 * MS, 1, true, 0, 60 * S, Some(0)),
                // 30s idle: 50 tokens back.
                (30_600 * MS, 0, true, 50, 30 * S, Some(0)),
                (30_600 * MS, 51, false, 50, 30 * S, Some(600 * MS)),
                (30_600 * MS, 50, true, 0, 60 * S, Some(0)),
                // Refill stops at the capacity.
                (1_000 * S, 0, true, 100, 0, Some(0)),
                (1_000 * S, 101, false, 100, 0, None),
            ],
        );
    }

    #[test]
    fn capacity_differs_from_rate() {
        // 1 per second, capacity 3: three at once, then one a second.
        let l = lim(1, S, 3);
        run(
            &l,
            &[
                (0, 1, true, 2, S, Some(0)),
                (0, 2, true, 0, 3 * S, Some(0)),
                (0, 1, false, 0, 3 * S, Some(S)),
                (S, 1, true, 0, 3 * S, Some(0)),
                (10 * S, 3, true, 0, 3 * S, Some(0)),
            ],
        );
    }

    #[test]
    fn sub_second_period_fractional_refill() {
        // 3 per 500ms: a token every 166.67ms, kept exact.
        let l = lim(3, 500 * MS, 3);
        run(
            &l,
            &[
                (0, 3, true, 0, 500 * MS, Some(0)),
                (0, 1, false, 0, 500 * MS, Some(166_666_667)),
                (166_666_666, 1, false, 0, 333_333_334, Some(1)),
                (166_666_667, 1, true, 0, 500 * MS, Some(0)),
            ],
        );
    }

    #[test]
    fn clock_stepping_back_refills_nothing() {
        let l = lim(1, S, 1);
        let (_, st) = dispatch(None, &l, 1, 10 * S, false);
        let (d, _) = dispatch(st.as_ref(), &l, 1, 5 * S, false);
        assert!(!d.allowed);
        let (d, _) = dispatch(st.as_ref(), &l, 1, 11 * S, false);
        assert!(d.allowed);
    }

    #[test]
    fn expires_when_full_again() {
        let l = lim(3, S, 3);
        let st = dispatch(None, &l, 2, 7 * S, false).1.unwrap();
        assert_eq!(st.expires_at(&l), 7 * S + 666_666_667);
        let at = st.expires_at(&l);
        assert_eq!(
            dispatch(Some(&st), &l, 3, at, true),
            dispatch(None, &l, 3, at, true)
        );
    }

    #[test]
    fn huge_values_do_not_panic() {
        for &(limit, period, burst) in &[
            (1, u64::MAX, 1),
            (u64::MAX, 1, u64::MAX),
            (u64::MAX, u64::MAX, u64::MAX),
        ] {
            let l = lim(limit, period, burst);
            let mut st = None;
            for &(at, cost) in &[(0, 1), (u64::MAX, u64::MAX), (1, 1), (0, u64::MAX)] {
                let (_, n) = dispatch(st.as_ref(), &l, cost, at, false);
                if n.is_some() {
                    st = n;
                }
                if let Some(s) = &st {
                    let _ = s.expires_at(&l);
                }
            }
        }
    }
}
