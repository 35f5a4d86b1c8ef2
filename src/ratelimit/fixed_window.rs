//! Fixed window (`ALGO fixed-window`): at most `limit` per window, windows aligned to
//! multiples of `period` since the unix epoch (so every key shares boundaries, and a burst at
//! the end of one window plus one at the start of the next can admit `2 × limit` within one
//! period: that is the algorithm, not a bug). `burst` is ignored; the capacity is `limit`.

use super::{sat_u64, Decision, Limit};

/// `count` admitted in window number `window` (window `w` is `[w×period, (w+1)×period)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowState {
    pub window: u64,
    pub count: u64,
}

impl WindowState {
    /// The count resets when the window ends.
    pub fn expires_at(&self, limit: &Limit) -> u64 {
        if self.count == 0 {
            return 0;
        }
        window_end(self.window, limit.period_ns)
    }
}

fn window_end(window: u64, period: u64) -> u64 {
    sat_u64((u128::from(window) + 1) * u128::from(period))
}

/// See the module docs; `limit` must be valid (checked by the caller).
pub fn check(
    state: Option<&WindowState>,
    limit: &Limit,
    cost: u64,
    now: u64,
) -> (Decision, Option<WindowState>) {
    let current = now / limit.period_ns;
    // A stored window later than now's (the clock stepped back) stays current rather than
    // forgetting what it admitted.
    let (window, count) = match state {
        Some(s) if s.window >= current => (s.window, s.count),
        _ => (current, 0),
    };
    let until_end = window_end(window, limit.period_ns).saturating_sub(now);
    let decision = |allowed: bool, count: u64, retry: Option<u64>| Decision {
        allowed,
        limit: limit.limit,
        remaining: limit.limit.saturating_sub(count),
        reset_ns: if count > 0 { until_end } else { 0 },
        retry_after_ns: retry,
    };
    match count.checked_add(cost) {
        Some(after) if after <= limit.limit => {
            let new = (cost > 0).then_some(WindowState {
                window,
                count: after,
            });
            (decision(true, after, Some(0)), new)
        }
        _ if cost > limit.limit => (decision(false, count, None), None),
        _ => (decision(false, count, Some(until_end)), None),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::replay as run;
    use super::super::{check as dispatch, Algo, Limit};

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    fn lim(limit: u64, period_ns: u64) -> Limit {
        Limit::new(limit, period_ns, None, Algo::FixedWindow).unwrap()
    }

    #[test]
    fn burst_boundary_and_idle() {
        // 3 per 10s; windows [0,10s), [10s,20s), ...
        let l = lim(3, 10 * S);
        run(
            &l,
            &[
                (4 * S, 1, true, 2, 6 * S, Some(0)),
                (9 * S, 2, true, 0, S, Some(0)),
                (9 * S, 1, false, 0, S, Some(S)),
                (10 * S - 1, 0, true, 0, 1, Some(0)),
                // The boundary: a whole new window, 2 × limit within 1s.
                (10 * S, 3, true, 0, 10 * S, Some(0)),
                (19 * S, 1, false, 0, S, Some(S)),
                (35 * S, 0, true, 3, 0, Some(0)),
                (35 * S, 4, false, 3, 0, None),
            ],
        );
    }

    #[test]
    fn sub_second_windows() {
        let l = lim(2, 500 * MS);
        run(
            &l,
            &[
                (1_200 * MS, 2, true, 0, 300 * MS, Some(0)),
                (1_499 * MS, 1, false, 0, MS, Some(MS)),
                (1_500 * MS, 1, true, 1, 500 * MS, Some(0)),
            ],
        );
    }

    #[test]
    fn expires_at_window_end() {
        let l = lim(3, 10 * S);
        let st = dispatch(None, &l, 1, 12 * S, false).1.unwrap();
        assert_eq!(st.expires_at(&l), 20 * S);
        assert_eq!(
            dispatch(Some(&st), &l, 3, 20 * S, true),
            dispatch(None, &l, 3, 20 * S, true)
        );
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
