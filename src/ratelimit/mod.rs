//! Rate-limit algorithms as pure functions of (state, limit, cost, now): the shared types,
//! the dispatch over algorithms and the all-or-nothing multi-limit check.
//!
//! Nothing here knows about sockets, replies or clocks: the server passes `now` (unix-epoch
//! nanoseconds), stores the returned [`State`] under the key and lets the key expire at
//! [`State::expires_at`]. All arithmetic is integer (u128 where products of two u64 appear)
//! and saturating, so no combination of inputs panics; times past `u64::MAX` ns (year 2554)
//! saturate.

pub mod cell;
pub mod fixed_window;
pub mod gcra;
pub mod lease;
pub mod sliding_window;
pub mod token_bucket;

use smallvec::SmallVec;
use std::fmt;

/// Which algorithm a [`Limit`] uses. `RL.CHECK ... ALGO <name>`; GCRA when absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Algo {
    #[default]
    Gcra,
    TokenBucket,
    SlidingWindow,
    FixedWindow,
}

impl Algo {
    /// Parses the names SPEC uses, case-insensitively as Redis treats keywords.
    pub fn parse(name: &[u8]) -> Option<Algo> {
        const NAMES: [(&[u8], Algo); 4] = [
            (b"gcra", Algo::Gcra),
            (b"token-bucket", Algo::TokenBucket),
            (b"sliding-window", Algo::SlidingWindow),
            (b"fixed-window", Algo::FixedWindow),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, a)| a)
    }

    /// The canonical name, as accepted by [`Algo::parse`].
    pub fn name(self) -> &'static str {
        match self {
            Algo::Gcra => "gcra",
            Algo::TokenBucket => "token-bucket",
            Algo::SlidingWindow => "sliding-window",
            Algo::FixedWindow => "fixed-window",
        }
    }
}

/// `limit` per `period_ns`, with up to `burst` at once (GCRA and token bucket; the window
/// algorithms count per window and ignore `burst`, i.e. their burst is `limit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limit {
    pub limit: u64,
    pub period_ns: u64,
    pub burst: u64,
    pub algo: Algo,
}

/// Why a [`Limit`] was rejected; the server maps these to `-ERR` texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitError {
    ZeroLimit,
    ZeroPeriod,
    ZeroBurst,
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitError::ZeroLimit => "limit must be at least 1",
            LimitError::ZeroPeriod => "period must be at least 1ns",
            LimitError::ZeroBurst => "burst must be at least 1",
        })
    }
}

impl std::error::Error for LimitError {}

impl Limit {
    /// A validated limit; `burst` defaults to `limit` as SPEC says.
    pub fn new(
        limit: u64,
        period_ns: u64,
        burst: Option<u64>,
        algo: Algo,
    ) -> Result<Limit, LimitError> {
        let l = Limit {
            limit,
            period_ns,
            burst: burst.unwrap_or(limit),
            algo,
        };
        l.validate().map(|()| l)
    }

    pub fn validate(&self) -> Result<(), LimitError> {
        if self.limit == 0 {
            Err(LimitError::ZeroLimit)
        } else if self.period_ns == 0 {
            Err(LimitError::ZeroPeriod)
        } else if self.burst == 0 {
            Err(LimitError::ZeroBurst)
        } else {
            Ok(())
        }
    }

    /// How much can be admitted at once: what `Decision::limit` reports and what a `cost`
    /// must not exceed to ever fit.
    pub fn capacity(&self) -> u64 {
        match self.algo {
            Algo::Gcra | Algo::TokenBucket => self.burst,
            Algo::SlidingWindow | Algo::FixedWindow => self.limit,
        }
    }
}

/// The outcome of one check, in the units the reply needs (nanoseconds; the server rounds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The capacity ([`Limit::capacity`]), so `remaining <= limit` always holds.
    pub limit: u64,
    /// What could still be admitted right now, after this request if it was admitted.
    pub remaining: u64,
    /// Until the limit is whole again (`remaining == limit`); 0 when it already is.
    pub reset_ns: u64,
    /// `Some(0)` when allowed; `None` when the cost can never fit (shown as -1).
    pub retry_after_ns: Option<u64>,
}

impl Decision {
    /// What an invalid limit or an impossible cost gets: denied, and waiting will not help.
    fn never(limit: u64, remaining: u64, reset_ns: u64) -> Decision {
        Decision {
            allowed: false,
            limit,
            remaining,
            reset_ns,
            retry_after_ns: None,
        }
    }
}

/// What is stored under a rate-limit key; one small `Copy` value per algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Gcra(gcra::GcraState),
    TokenBucket(token_bucket::BucketState),
    SlidingWindow(sliding_window::SlidingState),
    FixedWindow(fixed_window::WindowState),
}

impl State {
    /// The instant from which this state decides exactly as a fresh key does, so the server
    /// can expire the key then. 0 means "already fresh".
    pub fn expires_at(&self, limit: &Limit) -> u64 {
        match self {
            State::Gcra(s) => s.expires_at(limit),
            State::TokenBucket(s) => s.expires_at(limit),
            State::SlidingWindow(s) => s.expires_at(limit),
            State::FixedWindow(s) => s.expires_at(limit),
        }
    }
}

/// Decides one request of weight `cost` at `now` against `limit`.
///
/// Returns the decision and the state to store: `Some` only when the request was admitted,
/// `cost > 0` and not `peek`; otherwise the stored state must stay as it is (a denied request
/// never changes state). A `peek` decides as the real call would (same `allowed` and
/// `retry_after_ns`) but charges nothing, so it reports the state as it is (`remaining` and
/// `reset_ns` as cost 0 reports them). Cost 0 is always allowed and reports the current
/// numbers. A state of another algorithm (the policy changed) counts as
/// a fresh key; an invalid `limit` denies everything with `retry_after_ns: None`.
pub fn check(
    state: Option<&State>,
    limit: &Limit,
    cost: u64,
    now: u64,
    peek: bool,
) -> (Decision, Option<State>) {
    if limit.validate().is_err() {
        return (Decision::never(limit.capacity(), 0, 0), None);
    }
    let (decision, new) = decide(state, limit, cost, now);
    if peek && cost > 0 {
        // Nothing is charged, so the numbers are those of the state as it is.
        let (now_view, _) = decide(state, limit, 0, now);
        let d = Decision {
            remaining: now_view.remaining,
            reset_ns: now_view.reset_ns,
            ..decision
        };
        return (d, None);
    }
    let store = decision.allowed && cost > 0;
    (decision, if store { new } else { None })
}

/// The algorithm's decision and the state it would leave, charging `cost`.
fn decide(state: Option<&State>, limit: &Limit, cost: u64, now: u64) -> (Decision, Option<State>) {
    match limit.algo {
        Algo::Gcra => {
            let s = match state {
                Some(State::Gcra(s)) => Some(s),
                _ => None,
            };
            let (d, n) = gcra::check(s, limit, cost, now);
            (d, n.map(State::Gcra))
        }
        Algo::TokenBucket => {
            let s = match state {
                Some(State::TokenBucket(s)) => Some(s),
                _ => None,
            };
            let (d, n) = token_bucket::check(s, limit, cost, now);
            (d, n.map(State::TokenBucket))
        }
        Algo::SlidingWindow => {
            let s = match state {
                Some(State::SlidingWindow(s)) => Some(s),
                _ => None,
            };
            let (d, n) = sliding_window::check(s, limit, cost, now);
            (d, n.map(State::SlidingWindow))
        }
        Algo::FixedWindow => {
            let s = match state {
                Some(State::FixedWindow(s)) => Some(s),
                _ => None,
            };
            let (d, n) = fixed_window::check(s, limit, cost, now);
            (d, n.map(State::FixedWindow))
        }
    }
}

/// How many limits one request checks without a heap allocation: one (the inline form, or a
/// single policy). Room for three measured slower: the inline arrays get large, and they are
/// moved on every return, where several policies spill to the heap instead.
pub const INLINE_LIMITS: usize = 1;

/// One decision per limit, in order.
pub type Decisions = SmallVec<[Decision; INLINE_LIMITS]>;

/// One new state per limit, in order.
pub type States = SmallVec<[State; INLINE_LIMITS]>;

/// Checks one request against several limits, all or nothing.
///
/// When every limit admits (and it is neither a peek nor cost 0) the result carries one new
/// state per limit, in order; otherwise `None` and nothing may be stored. When the set is
/// denied, the limits that would have admitted report their current, uncharged view (as a
/// cost-0 check: `allowed` true, `retry_after_ns` `Some(0)`), because nothing was charged;
/// the denying ones report their denial. A missing entry in `states` is a fresh key.
pub fn check_all(
    states: &[Option<State>],
    limits: &[Limit],
    cost: u64,
    now: u64,
    peek: bool,
) -> (Decisions, Option<States>) {
    let state_at = |i: usize| states.get(i).and_then(|s| s.as_ref());
    let results: SmallVec<[(Decision, Option<State>); INLINE_LIMITS]> = limits
        .iter()
        .enumerate()
        .map(|(i, l)| check(state_at(i), l, cost, now, peek))
        .collect();
    if results.iter().all(|(d, _)| d.allowed) {
        let decisions = results.iter().map(|(d, _)| *d).collect();
        // Every allowed, charged check returns a state, so this is `None` exactly for a
        // peek, cost 0, or an empty list.
        let new: Option<States> = results.into_iter().map(|(_, s)| s).collect();
        return (decisions, new.filter(|v| !v.is_empty()));
    }
    let decisions = results
        .iter()
        .enumerate()
        .map(|(i, (d, _))| {
            if d.allowed {
                check(state_at(i), &limits[i], 0, now, true).0
            } else {
                *d
            }
        })
        .collect();
    (decisions, None)
}

/// `ceil(a / b)` for the tick-to-nanosecond conversions, saturated to u64.
fn div_ceil_sat(a: u128, b: u128) -> u64 {
    u64::try_from(a.div_ceil(b)).unwrap_or(u64::MAX)
}

/// Saturating u128 → u64 for quantities that are bounded by a u64 in all sane inputs.
fn sat_u64(x: u128) -> u64 {
    u64::try_from(x).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: u64 = 1_000_000_000;
    const ALGOS: [Algo; 4] = [
        Algo::Gcra,
        Algo::TokenBucket,
        Algo::SlidingWindow,
        Algo::FixedWindow,
    ];

    /// One request replayed on a key: `(at, cost, allowed, remaining, reset_ns, retry_after_ns)`.
    pub(super) type Row = (u64, u64, bool, u64, u64, Option<u64>);

    /// Replays rows on one key with a manual clock, storing what each admitted request leaves.
    pub(super) fn replay(l: &Limit, rows: &[Row]) {
        let mut st: Option<State> = None;
        for (i, &(at, cost, allowed, remaining, reset, retry)) in rows.iter().enumerate() {
            let (d, new) = check(st.as_ref(), l, cost, at, false);
            let got = (d.allowed, d.remaining, d.reset_ns, d.retry_after_ns);
            assert_eq!(got, (allowed, remaining, reset, retry), "row {i} at {at}");
            if let Some(n) = new {
                st = Some(n);
            }
        }
    }

    #[test]
    fn algo_names() {
        for a in ALGOS {
            assert_eq!(Algo::parse(a.name().as_bytes()), Some(a));
            assert_eq!(Algo::parse(a.name().to_uppercase().as_bytes()), Some(a));
        }
        assert_eq!(Algo::parse(b"Token-Bucket"), Some(Algo::TokenBucket));
        assert_eq!(Algo::parse(b"token_bucket"), None);
        assert_eq!(Algo::default(), Algo::Gcra);
    }

    #[test]
    fn limit_validation() {
        assert_eq!(
            Limit::new(0, S, None, Algo::Gcra),
            Err(LimitError::ZeroLimit)
        );
        assert_eq!(
            Limit::new(1, 0, None, Algo::Gcra),
            Err(LimitError::ZeroPeriod)
        );
        assert_eq!(
            Limit::new(1, S, Some(0), Algo::Gcra),
            Err(LimitError::ZeroBurst)
        );
        assert_eq!(Limit::new(5, S, None, Algo::Gcra).unwrap().burst, 5);
        // An invalid limit built by hand denies without panicking or storing.
        let bad = Limit {
            limit: 0,
            period_ns: 0,
            burst: 0,
            algo: Algo::Gcra,
        };
        let (d, st) = check(None, &bad, 1, 0, false);
        assert!(!d.allowed && d.retry_after_ns.is_none() && st.is_none());
    }

    #[test]
    fn cost_zero_and_peek_store_nothing() {
        for algo in ALGOS {
            let l = Limit::new(3, 10 * S, None, algo).unwrap();
            let (d, st) = check(None, &l, 0, 0, false);
            assert_eq!((d.allowed, d.remaining, d.reset_ns, st), (true, 3, 0, None));
            let (peeked, st) = check(None, &l, 2, 0, true);
            assert_eq!(st, None);
            let (real, st) = check(None, &l, 2, 0, false);
            assert!(st.is_some());
            // Same verdict as the real call, the numbers of the state as it is.
            assert_eq!(
                (
                    peeked.allowed,
                    peeked.retry_after_ns,
                    peeked.remaining,
                    peeked.reset_ns
                ),
                (real.allowed, real.retry_after_ns, d.remaining, d.reset_ns),
                "{algo:?}"
            );
            assert_eq!(real.remaining, 1, "{algo:?}");
            let (too_big, _) = check(st.as_ref(), &l, 2, 0, true);
            assert!(
                !too_big.allowed && too_big.retry_after_ns > Some(0),
                "{algo:?}"
            );
            assert_eq!(too_big.remaining, 1, "{algo:?}");
        }
    }

    #[test]
    fn state_of_another_algorithm_is_a_fresh_key() {
        let g = Limit::new(1, S, None, Algo::Gcra).unwrap();
        let st = check(None, &g, 1, 0, false).1.unwrap();
        let f = Limit {
            algo: Algo::FixedWindow,
            ..g
        };
        assert!(check(Some(&st), &f, 1, 0, false).0.allowed);
    }

    #[test]
    fn check_all_charges_all_or_none() {
        let per_min = Limit::new(10, 60 * S, None, Algo::Gcra).unwrap();
        let per_sec = Limit::new(2, S, None, Algo::FixedWindow).unwrap();
        let limits = [per_min, per_sec];
        let mut states = vec![None, None];
        for _ in 0..2 {
            let (ds, new) = check_all(&states, &limits, 1, 0, false);
            assert!(ds.iter().all(|d| d.allowed));
            states = new.unwrap().into_iter().map(Some).collect();
        }
        // The per-second limit denies the third; the per-minute one is not charged and
        // reports its current view.
        let (ds, new) = check_all(&states, &limits, 1, 0, false);
        assert!(new.is_none());
        assert!(ds[0].allowed && !ds[1].allowed);
        assert_eq!((ds[0].remaining, ds[1].retry_after_ns), (8, Some(S)));
        // Peek and cost 0 never return states; missing states are fresh keys.
        assert!(check_all(&states, &limits, 1, S, true).1.is_none());
        assert!(check_all(&states, &limits, 0, S, false).1.is_none());
        assert_eq!(
            check_all(&[], &limits, 1, S, false).1.map(|v| v.len()),
            Some(2)
        );
        assert_eq!(check_all(&[], &[], 1, S, false), (Decisions::new(), None));
    }

    fn arb_limit() -> impl Strategy<Value = Limit> {
        let period = prop_oneof![
            Just(1u64),
            Just(7),
            Just(500_000_000),
            Just(S),
            Just(60 * S),
            1u64..20 * S
        ];
        (0usize..4, 1u64..20, period, 1u64..30).prop_map(|(a, limit, period_ns, burst)| Limit {
            limit,
            period_ns,
            burst,
            algo: ALGOS[a],
        })
    }

    /// A limit and arrivals `(gap, cost, peek)` with gaps scaled to its period.
    fn arb_run() -> impl Strategy<Value = (Limit, u64, Vec<(u64, u64, bool)>)> {
        arb_limit().prop_flat_map(|l| {
            let max_gap = l.period_ns.saturating_mul(2).max(2);
            let gap = prop_oneof![Just(0u64), 0..max_gap, 0..l.period_ns / 10 + 1];
            let cost = 0..l.capacity() + 3;
            let event = (gap, cost, proptest::bool::weighted(0.1));
            (
                Just(l),
                0u64..4_000_000_000_000_000_000,
                proptest::collection::vec(event, 1..80),
            )
        })
    }

    /// The most any interval `[a, b]` may admit, per algorithm's own definition.
    fn bound(l: &Limit, a: u64, b: u64) -> u128 {
        let (lim, p, len) = (
            u128::from(l.limit),
            u128::from(l.period_ns),
            u128::from(b - a),
        );
        let windows = u128::from(b / l.period_ns - a / l.period_ns + 1);
        match l.algo {
            // burst + rate × elapsed.
            Algo::Gcra | Algo::TokenBucket => u128::from(l.burst) + len * lim / p,
            // Each window admits at most `limit`; a boundary inside the interval doubles it.
            Algo::FixedWindow => lim * windows,
            // Within one period the weighting holds it to limit + limit × len / period.
            Algo::SlidingWindow if len <= p => lim + len * lim / p,
            Algo::SlidingWindow => lim * windows,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn limiter_properties((l, start, events) in arb_run()) {
            let mut st: Option<State> = None;
            let mut now = start;
            let mut admitted: Vec<(u64, u64)> = vec![];
            for &(gap, cost, peek) in &events {
                now += gap;
                let (d, new) = check(st.as_ref(), &l, cost, now, peek);
                prop_assert!(d.remaining <= d.limit && d.limit == l.capacity());
                // Denied, peeked and cost-0 requests never change state.
                prop_assert_eq!(new.is_some(), d.allowed && cost > 0 && !peek);
                prop_assert_eq!(d.allowed, d.retry_after_ns == Some(0));
                if cost == 0 {
                    prop_assert!(d.allowed);
                }
                if !d.allowed {
                    prop_assert_eq!(d.retry_after_ns.is_none(), cost > l.capacity());
                }
                // Retry-after is exact: allowed then, not a nanosecond earlier.
                if let Some(r) = d.retry_after_ns.filter(|&r| r > 0) {
                    prop_assert!(check(st.as_ref(), &l, cost, now + r, true).0.allowed);
                    prop_assert!(!check(st.as_ref(), &l, cost, now + r - 1, true).0.allowed);
                }
                // Remaining is exact: that much fits now, one more does not. A peek reports the
                // state as it is; a real request the state it left.
                let view = if peek { st } else { check(st.as_ref(), &l, cost, now, false).1.or(st) };
                let v = check(view.as_ref(), &l, 0, now, true).0;
                prop_assert_eq!((v.remaining, v.reset_ns), (d.remaining, d.reset_ns));
                prop_assert!(check(view.as_ref(), &l, v.remaining, now, true).0.allowed);
                prop_assert!(!check(view.as_ref(), &l, v.remaining + 1, now, true).0.allowed);
                if let Some(n) = new {
                    admitted.push((now, cost));
                    // The key may expire when the limit is whole again, and not before.
                    let exp = n.expires_at(&l);
                    prop_assert_eq!(d.reset_ns, exp.saturating_sub(now));
                    let cap = l.capacity();
                    for c in [1, cap] {
                        let at = exp.max(now);
                        prop_assert_eq!(check(Some(&n), &l, c, at, true), check(None, &l, c, at, true));
                    }
                    if exp > now {
                        prop_assert!(!check(Some(&n), &l, cap, exp - 1, true).0.allowed);
                    }
                    st = Some(n);
                }
            }
            for (i, &(a, _)) in admitted.iter().enumerate() {
                let mut sum = 0u128;
                for &(b, c) in &admitted[i..] {
                    sum += u128::from(c);
                    prop_assert!(sum <= bound(&l, a, b), "{} admitted in [{}, {}]", sum, a, b);
                }
            }
        }

        #[test]
        fn check_all_is_all_or_nothing(
            limits in proptest::collection::vec(arb_limit(), 1..4),
            events in proptest::collection::vec((0u64..3 * S, 0u64..6, proptest::bool::weighted(0.1)), 1..40),
        ) {
            let mut states: Vec<Option<State>> = vec![None; limits.len()];
            let mut now = 1_700_000_000 * S;
            for &(gap, cost, peek) in &events {
                now += gap;
                let (ds, new) = check_all(&states, &limits, cost, now, peek);
                let singles: Vec<_> = limits
                    .iter()
                    .zip(&states)
                    .map(|(l, s)| check(s.as_ref(), l, cost, now, peek))
                    .collect();
                let all = singles.iter().all(|(d, _)| d.allowed);
                prop_assert_eq!(new.is_some(), all && cost > 0 && !peek);
                for (i, (d, s)) in singles.iter().enumerate() {
                    if all {
                        prop_assert_eq!(ds[i], *d);
                    } else if d.allowed {
                        prop_assert_eq!(ds[i], check(states[i].as_ref(), &limits[i], 0, now, true).0);
                    } else {
                        prop_assert_eq!(ds[i], *d);
                    }
                    if let Some(v) = &new {
                        prop_assert_eq!(Some(v[i]), *s);
                    }
                }
                if let Some(v) = new {
                    states = v.into_iter().map(Some).collect();
                }
            }
        }

        #[test]
        fn arbitrary_u64_inputs_never_panic(
            a in 0usize..4,
            limit in any::<u64>(), period in any::<u64>(), burst in any::<u64>(),
            steps in proptest::collection::vec((any::<u64>(), any::<u64>(), any::<bool>()), 1..8),
        ) {
            let l = Limit { limit, period_ns: period, burst, algo: ALGOS[a] };
            let mut st = None;
            for (now, cost, peek) in steps {
                let (_, new) = check(st.as_ref(), &l, cost, now, peek);
                if let Some(n) = new {
                    let _ = n.expires_at(&l);
                    st = Some(n);
                }
            }
        }
    }
}
