//! GCRA (generic cell rate algorithm), the default `RL.CHECK` algorithm: one theoretical
//! arrival time (TAT) per key.
//!
//! Definitions, with `T = period / limit` (the emission interval) and `τ = burst × T`:
//! a request of weight `c` at `now` sets `tat' = max(tat, now) + c×T` and is admitted iff
//! `tat' − now ≤ τ`. On a fresh key exactly `burst` unit requests are admitted at one instant
//! (`burst × T ≤ τ`), then one every `T`. This is redis-cell's GCRA with its `max_burst + 1`
//! written as `burst` (redis-cell's τ = T × (max_burst + 1)).
//!
//! `T` is rarely a whole number of nanoseconds, so times are kept in *ticks* of `1/limit` ns:
//! then `T = period` ticks and `τ = burst × period` ticks exactly, and the stored TAT is a whole
//! nanosecond plus `frac/limit`. No rounding drift accumulates over a steady stream.

use super::{div_ceil_sat, sat_u64, Decision, Limit};

/// The TAT as `tat_ns + frac / limit` nanoseconds (`frac < limit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GcraState {
    pub tat_ns: u64,
    pub frac: u64,
}

impl GcraState {
    /// At or after the TAT the state decides as a fresh key (`max(tat, now) = now`).
    pub fn expires_at(&self, _limit: &Limit) -> u64 {
        self.tat_ns.saturating_add(u64::from(self.frac > 0))
    }

    /// The TAT in ticks; a `frac` left over from a larger `limit` is clamped, costing < 1 ns.
    fn ticks(&self, limit: u64) -> u128 {
        u128::from(self.tat_ns) * u128::from(limit) + u128::from(self.frac.min(limit - 1))
    }
}

/// See the module docs; `limit` must be valid (checked by the caller).
pub fn check(
    state: Option<&GcraState>,
    limit: &Limit,
    cost: u64,
    now: u64,
) -> (Decision, Option<GcraState>) {
    let lim = u128::from(limit.limit);
    let period = u128::from(limit.period_ns);
    let tau = u128::from(limit.burst) * period;
    let now_ticks = u128::from(now) * lim;
    // How far the TAT runs ahead of now; everything below is relative to now, so nothing
    // overflows even at u64::MAX instants.
    let backlog = state.map_or(0, |s| s.ticks(limit.limit).saturating_sub(now_ticks));
    let inc = u128::from(cost) * period;
    let decision = |allowed: bool, backlog: u128, retry: Option<u64>| Decision {
        allowed,
        limit: limit.burst,
        remaining: sat_u64(tau.saturating_sub(backlog) / period),
        reset_ns: div_ceil_sat(backlog, lim),
        retry_after_ns: retry,
    };
    match backlog.checked_add(inc) {
        Some(after) if after <= tau => {
            let new = (cost > 0).then(|| GcraState {
                tat_ns: now.saturating_add(sat_u64(after / lim)),
                frac: (after % lim) as u64,
            });
            (decision(true, after, Some(0)), new)
        }
        _ if cost > limit.burst => (decision(false, backlog, None), None),
        // inc ≤ τ here, so the wait (backlog + inc − τ) cannot overflow.
        _ => {
            let wait = backlog - (tau - inc);
            (
                decision(false, backlog, Some(div_ceil_sat(wait, lim))),
                None,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::replay as run;
    use super::super::{check as dispatch, Algo, Limit};

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    fn lim(limit: u64, period_ns: u64, burst: u64) -> Limit {
        Limit::new(limit, period_ns, Some(burst), Algo::Gcra).unwrap()
    }

    #[test]
    fn burst_at_zero_then_steady_rate() {
        // 5 per 5s (T = 1s), burst 5.
        let l = lim(5, 5 * S, 5);
        run(
            &l,
            &[
                (0, 1, true, 4, S, Some(0)),
                (0, 1, true, 3, 2 * S, Some(0)),
                (0, 1, true, 2, 3 * S, Some(0)),
                (0, 1, true, 1, 4 * S, Some(0)),
                (0, 1, true, 0, 5 * S, Some(0)),
                (0, 1, false, 0, 5 * S, Some(S)),
                (S, 1, true, 0, 5 * S, Some(0)),
                (S + 1, 1, false, 0, 5 * S - 1, Some(S - 1)),
                (2 * S, 1, true, 0, 5 * S, Some(0)),
            ],
        );
    }

    #[test]
    fn idle_refill_and_cost() {
        let l = lim(5, 5 * S, 5);
        run(
            &l,
            &[
                (0, 5, true, 0, 5 * S, Some(0)),
                // 3s later three units are back.
                (3 * S, 0, true, 3, 2 * S, Some(0)),
                (3 * S, 4, false, 3, 2 * S, Some(S)),
                (3 * S, 3, true, 0, 5 * S, Some(0)),
                // Long idle: whole again, never more than the burst.
                (100 * S, 0, true, 5, 0, Some(0)),
                (100 * S, 6, false, 5, 0, None),
            ],
        );
    }

    #[test]
    fn cost_above_burst_never_fits_and_changes_nothing() {
        let l = lim(10, 60 * S, 3);
        let (d, new) = dispatch(None, &l, 4, 0, false);
        assert!(!d.allowed && d.retry_after_ns.is_none() && new.is_none());
        assert_eq!((d.limit, d.remaining, d.reset_ns), (3, 3, 0));
    }

    #[test]
    fn burst_smaller_and_larger_than_limit() {
        // burst 1: strictly one per T, never two at once.
        let l = lim(10, S, 1);
        run(
            &l,
            &[
                (0, 1, true, 0, 100 * MS, Some(0)),
                (0, 1, false, 0, 100 * MS, Some(100 * MS)),
                (100 * MS, 1, true, 0, 100 * MS, Some(0)),
            ],
        );
        // burst 20 > limit 10: twenty at once.
        let l = lim(10, S, 20);
        let mut st = None;
        for i in 0..20 {
            let (d, n) = dispatch(st.as_ref(), &l, 1, 0, false);
            assert!(d.allowed, "request {i}");
            st = n;
        }
        assert!(!dispatch(st.as_ref(), &l, 1, 0, false).0.allowed);
    }

    #[test]
    fn sub_second_period_and_fractional_interval() {
        // 3 per 500ms: T = 166_666_666.67ns, kept exact in ticks.
        let l = lim(3, 500 * MS, 3);
        let mut st = None;
        for _ in 0..3 {
            st = dispatch(st.as_ref(), &l, 1, 0, false).1;
        }
        let (d, _) = dispatch(st.as_ref(), &l, 1, 0, false);
        assert_eq!(d.retry_after_ns, Some(166_666_667));
        assert!(!dispatch(st.as_ref(), &l, 1, 166_666_666, false).0.allowed);
        assert!(dispatch(st.as_ref(), &l, 1, 166_666_667, false).0.allowed);
        // Exactly the rate, forever: three unit requests every 500ms for 1000 periods. Rounding
        // T up to whole nanoseconds would leave 1ns of backlog per period and deny the third.
        let mut st = None;
        for k in 0..1000u64 {
            for j in 0..3 {
                let (d, n) = dispatch(st.as_ref(), &l, 1, k * 500 * MS, false);
                assert!(d.allowed, "period {k} request {j}");
                st = n;
            }
        }
    }

    #[test]
    fn expires_at_is_the_tat() {
        let l = lim(3, S, 3);
        let (_, st) = dispatch(None, &l, 2, 10 * S, false);
        let st = st.unwrap();
        assert_eq!(st.expires_at(&l), 10 * S + 666_666_667);
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
            (1, u64::MAX, u64::MAX),
        ] {
            let l = lim(limit, period, burst);
            let mut st = None;
            for &(at, cost) in &[
                (0, 1),
                (u64::MAX, u64::MAX),
                (u64::MAX - 1, 1),
                (0, u64::MAX),
            ] {
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
