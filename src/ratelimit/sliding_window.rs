//! Sliding window (`ALGO sliding-window`, Cloudflare's approximation): the count of the
//! previous fixed window, weighted by how much of it the sliding window `(now − period, now]`
//! still overlaps, plus the current window's count. A request of weight `c` is admitted iff
//! `prev × (period − elapsed) / period + curr + c ≤ limit`, `elapsed` being the time since
//! the current window began. Windows align to multiples of `period` since the epoch, as in
//! the fixed window. `burst` is ignored (the capacity is `limit`).
//!
//! The test is done multiplied through by `period` (u128), so the weighting is exact.

use super::{sat_u64, Decision, Limit};

/// Counts of window number `window` (`curr`) and of the one before it (`prev`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlidingState {
    pub window: u64,
    pub prev: u64,
    pub curr: u64,
}

impl SlidingState {
    /// Fresh again once both counts have slid out: the end of the next window if `curr` is
    /// non-zero, else the end of this one.
    pub fn expires_at(&self, limit: &Limit) -> u64 {
        let windows = if self.curr > 0 {
            2
        } else if self.prev > 0 {
            1
        } else {
            return 0;
        };
        sat_u64((u128::from(self.window) + windows) * u128::from(limit.period_ns))
    }
}

/// See the module docs; `limit` must be valid (checked by the caller).
pub fn check(
    state: Option<&SlidingState>,
    limit: &Limit,
    cost: u64,
    now: u64,
) -> (Decision, Option<SlidingState>) {
    let p = u128::from(limit.period_ns);
    let current = now / limit.period_ns;
    let (window, prev, curr) = match state {
        // A later stored window (the clock stepped back) stays current.
        Some(s) if s.window >= current => (s.window, s.prev, s.curr),
        Some(s) if s.window + 1 == current => (current, s.curr, 0),
        _ => (current, 0, 0),
    };
    let start = u128::from(window) * p;
    let now128 = u128::from(now);
    // What is left of the previous window's weight; the whole of it before the window starts.
    let weight = p - now128.saturating_sub(start).min(p);
    let cap = u128::from(limit.limit) * p;
    let used = |curr: u64| (u128::from(prev) * weight).saturating_add(u128::from(curr) * p);
    let until = |t: u128| sat_u64(t.saturating_sub(now128));
    let decision = |allowed: bool, curr: u64, retry: Option<u64>| Decision {
        allowed,
        limit: limit.limit,
        remaining: sat_u64(cap.saturating_sub(used(curr)) / p),
        // Whole again when nothing weighs: `curr` slides out at the end of the next window.
        reset_ns: if curr > 0 {
            until(start + 2 * p)
        } else if prev > 0 && weight > 0 {
            until(start + p)
        } else {
            0
        },
        retry_after_ns: retry,
    };
    match curr.checked_add(cost) {
        Some(after) if used(after) <= cap => {
            let new = (cost > 0).then_some(SlidingState {
                window,
                prev,
                curr: after,
            });
            (decision(true, after, Some(0)), new)
        }
        _ if cost > limit.limit => (decision(false, curr, None), None),
        _ => {
            let lim = u128::from(limit.limit);
            let (c, k) = (u128::from(curr), u128::from(cost));
            let at = if c + k <= lim {
                // Only the previous window's weight is in the way (so `prev > 0`): wait until
                // prev × (p − e) ≤ (limit − curr − cost) × p.
                start + p - ((lim - c - k) * p / u128::from(prev.max(1))).min(p)
            } else {
                // Wait for the next window, where `curr` becomes the weighted previous count
                // (nothing weighs then if `curr` is 0).
                match ((lim - k) * p).checked_div(c) {
                    Some(fits) => start + 2 * p - fits.min(p),
                    None => start + p,
                }
            };
            (decision(false, curr, Some(until(at))), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::replay as run;
    use super::super::{check as dispatch, Algo, Limit};

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    fn lim(limit: u64, period_ns: u64) -> Limit {
        Limit::new(limit, period_ns, None, Algo::SlidingWindow).unwrap()
    }

    #[test]
    fn previous_window_weighs_by_overlap() {
        // 10 per 10s (the resume builder's public policy shape).
        let l = lim(10, 10 * S);
        run(
            &l,
            &[
                (5 * S, 10, true, 0, 15 * S, Some(0)),
                (9 * S, 1, false, 0, 11 * S, Some(2 * S)),
                // 2s into the next window the previous 10 weigh 8: two fit.
                (12 * S, 0, true, 2, 8 * S, Some(0)),
                (12 * S, 3, false, 2, 8 * S, Some(S)),
                (12 * S, 2, true, 0, 18 * S, Some(0)),
                // curr 2 blocks until prev × (10 − e)/10 + 2 + 1 ≤ 10: e ≥ 3s.
                (12 * S, 1, false, 0, 18 * S, Some(S)),
                (13 * S, 1, true, 0, 17 * S, Some(0)),
                // Two windows later everything has slid out.
                (30 * S, 0, true, 10, 0, Some(0)),
                (30 * S, 11, false, 10, 0, None),
            ],
        );
    }

    #[test]
    fn cost_that_needs_the_next_window() {
        let l = lim(10, 10 * S);
        run(
            &l,
            &[
                (0, 6, true, 4, 20 * S, Some(0)),
                // 6 + 5 > 10 in this window; next window: 6 × (10 − e)/10 + 5 ≤ 10 at e ≥ 1.67s.
                (S, 5, false, 4, 19 * S, Some(9 * S + 1_666_666_667)),
                (10 * S + 1_666_666_666, 5, false, 4, 8_333_333_334, Some(1)),
                (10 * S + 1_666_666_667, 5, true, 0, 18_333_333_333, Some(0)),
            ],
        );
    }

    #[test]
    fn sub_second_windows() {
        let l = lim(4, 500 * MS);
        run(
            &l,
            &[
                (250 * MS, 4, true, 0, 750 * MS, Some(0)),
                (500 * MS, 1, false, 0, 500 * MS, Some(125 * MS)),
                (625 * MS, 1, true, 0, 875 * MS, Some(0)),
            ],
        );
    }

    #[test]
    fn expires_when_both_windows_slid_out() {
        let l = lim(5, 10 * S);
        let st = dispatch(None, &l, 1, 12 * S, false).1.unwrap();
        assert_eq!(st.expires_at(&l), 30 * S);
        for at in [20 * S, 29 * S, 30 * S] {
            let fresh = dispatch(None, &l, 5, at, true);
            assert_eq!(dispatch(Some(&st), &l, 5, at, true) == fresh, at == 30 * S);
        }
    }

    #[test]
    fn huge_values_do_not_panic() {
        for &(limit, period) in &[(1, u64::MAX), (u64::MAX, 1), (u64::MAX, u64::MAX)] {
            let l = lim(limit, period);
            let mut st = None;
            for &(at, cost) in &[(0, 1), (u64::MAX, u64::MAX), (1, 1), (u64::MAX, 1)] {
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
