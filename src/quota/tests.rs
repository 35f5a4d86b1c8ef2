//! Tests of the quota state: one table per operation, then a property test of random
//! interleavings against a model.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::config::{MetricLimits, Plan, Window};

/// Wednesday 2026-03-04 10:00:00 UTC.
const T0: u64 = 1_772_618_400_000;
const HOUR: u64 = 3_600_000;
/// 2026-03-05 00:00:00 UTC, when T0's day window resets.
const NEXT_DAY: u64 = T0 + 14 * HOUR;
/// 2026-04-01 00:00:00 UTC, when T0's month window resets.
const MONTH_END: u64 = 1_775_001_600_000;

/// tokens: 100 a day, 1000 a month; calls: 10 an hour; at most 2 holds.
fn plan() -> Plan {
    Plan {
        concurrent: Some(2),
        warn_at: vec![80, 95],
        metrics: BTreeMap::from([
            (
                "tokens".to_string(),
                MetricLimits {
                    day: Some(100),
                    month: Some(1000),
                    ..MetricLimits::default()
                },
            ),
            (
                "calls".to_string(),
                MetricLimits {
                    hour: Some(10),
                    ..MetricLimits::default()
                },
            ),
        ]),
    }
}

fn params<'a>(plan: &'a Plan, cal: &'a Calendar) -> Params<'a> {
    Params {
        plan,
        calendar: cal,
        idempotency_ttl_ms: 24 * HOUR,
        hold_ttl_ms: 60_000,
        max_ids: 1000,
        ledger_len: 50,
    }
}

fn items(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(m, a)| (m.to_string(), *a)).collect()
}

fn used(s: &mut SubjectState, p: &Params<'_>, name: &str, now: u64) -> (u64, u64) {
    let st = s.status(p, now).unwrap();
    let (metric, window) = name.split_once('/').unwrap();
    let w = st
        .windows
        .iter()
        .find(|w| w.metric == metric && w.window.as_str() == window)
        .unwrap();
    (w.used, w.reserved)
}

#[test]
fn charge_table() {
    // (charges before, this charge, allowed, denied_by, retry_after_ms, level)
    type Case = (
        &'static [(&'static str, u64)],
        &'static [(&'static str, u64)],
        bool,
        Option<&'static str>,
        u64,
        Level,
    );
    let cases: &[Case] = &[
        (&[], &[("tokens", 10)], true, None, 0, Level::Ok),
        (&[], &[("tokens", 100)], true, None, 0, Level::Critical),
        (&[], &[("tokens", 80)], true, None, 0, Level::Warn),
        (
            &[],
            &[("tokens", 101)],
            false,
            Some("tokens/day"),
            14 * HOUR,
            Level::Exceeded,
        ),
        (
            &[("tokens", 60)],
            &[("tokens", 41)],
            false,
            Some("tokens/day"),
            14 * HOUR,
            Level::Exceeded,
        ),
        (
            &[("tokens", 60)],
            &[("tokens", 40)],
            true,
            None,
            0,
            Level::Critical,
        ),
        // All or none: calls fit, tokens do not, so calls are not charged either.
        (
            &[("tokens", 95)],
            &[("calls", 1), ("tokens", 10)],
            false,
            Some("tokens/day"),
            14 * HOUR,
            Level::Exceeded,
        ),
        (
            &[("calls", 10)],
            &[("calls", 1)],
            false,
            Some("calls/hour"),
            HOUR,
            Level::Exceeded,
        ),
        // A metric named twice counts once with the sum.
        (
            &[],
            &[("tokens", 60), ("tokens", 50)],
            false,
            Some("tokens/day"),
            14 * HOUR,
            Level::Exceeded,
        ),
        (&[], &[("tokens", 0)], true, None, 0, Level::Ok),
        // Over both windows: the refusal names the one that frees last.
        (
            &[],
            &[("tokens", u64::MAX)],
            false,
            Some("tokens/month"),
            MONTH_END - T0,
            Level::Exceeded,
        ),
    ];
    let (plan, cal) = (plan(), Calendar::utc());
    let p = params(&plan, &cal);
    for (i, (before, charge, allowed, denied_by, retry, level)) in cases.iter().enumerate() {
        let mut s = SubjectState::new();
        for b in *before {
            assert!(
                s.charge(&p, &items(&[*b]), None, false, T0)
                    .unwrap()
                    .allowed
            );
        }
        let tokens_before = used(&mut s, &p, "tokens/day", T0).0;
        let calls_before = used(&mut s, &p, "calls/hour", T0).0;
        let o = s.charge(&p, &items(charge), None, false, T0).unwrap();
        assert_eq!(o.allowed, *allowed, "case {i}");
        assert_eq!(o.denied_by.as_deref(), *denied_by, "case {i}");
        assert_eq!(o.retry_after_ms, *retry, "case {i}");
        assert_eq!(o.level, *level, "case {i}");
        assert!(!o.replayed);
        if !allowed {
            assert_eq!(
                used(&mut s, &p, "tokens/day", T0).0,
                tokens_before,
                "case {i}"
            );
            assert_eq!(
                used(&mut s, &p, "calls/hour", T0).0,
                calls_before,
                "case {i}"
            );
        }
    }
}

#[test]
fn charge_reply_windows_and_dry_run() {
    let (plan, cal) = (plan(), Calendar::utc());
    let p = params(&plan, &cal);
    let mut s = SubjectState::new();
    let o = s
        .charge(&p, &items(&[("tokens", 30)]), None, false, T0)
        .unwrap();
    let day = &o.windows[0];
    assert_eq!(
        (
            day.metric.as_str(),
            day.window,
            day.used,
            day.reserved,
            day.limit,
            day.remaining
        ),
        ("tokens", Window::Day, 30, 0, 100, 70)
    );
    assert_eq!((day.percent, day.resets_at), (30, NEXT_DAY));
    let month = &o.windows[1];
    assert_eq!(
        (month.window, month.used, month.limit),
        (Window::Month, 30, 1000)
    );
    assert_eq!(month.resets_at, MONTH_END);
    // DRYRUN checks and debits nothing, even with an id, which it does not remember.
    let dry = s
        .charge(&p, &items(&[("tokens", 70)]), Some("d"), true, T0)
        .unwrap();
    assert!(dry.allowed && !dry.replayed);
    let dry = s
        .charge(&p, &items(&[("tokens", 71)]), Some("d"), true, T0)
        .unwrap();
    assert_eq!(dry.denied_by.as_deref(), Some("tokens/day"));
    assert_eq!(used(&mut s, &p, "tokens/day", T0), (30, 0));
    let real = s
        .charge(&p, &items(&[("tokens", 70)]), Some("d"), false, T0)
        .unwrap();
    assert!(real.allowed && !real.replayed);
    // The next day the day window is empty, the month keeps counting.
    assert_eq!(used(&mut s, &p, "tokens/day", NEXT_DAY), (0, 0));
    assert_eq!(used(&mut s, &p, "tokens/month", NEXT_DAY), (100, 0));
    assert_eq!(used(&mut s, &p, "tokens/day", NEXT_DAY - 1), (100, 0));
}

/// The shipped config gives the calendar and lifetimes; freemium charges 10K tokens a day.
#[test]
fn params_from_the_shipped_config() {
    let q = crate::config::Config::default().quota;
    let cal = Calendar::from_config(&q);
    let (name, plan) = resolve_plan(&q.plans, None, None, &q.default_plan).unwrap();
    let p = Params::new(&q, plan, &cal);
    assert_eq!(
        (name, p.idempotency_ttl_ms, p.hold_ttl_ms),
        ("freemium", 24 * HOUR, 900_000)
    );
    let mut s = SubjectState::new();
    assert!(
        s.charge(&p, &items(&[("tokens", 10_000)]), None, false, T0)
            .unwrap()
            .allowed
    );
    let o = s
        .charge(&p, &items(&[("tokens", 1)]), None, false, T0)
        .unwrap();
    assert_eq!(
        (o.denied_by.as_deref(), o.retry_after_ms),
        (Some("tokens/day"), 14 * HOUR)
    );
}

#[test]
fn errors_are_typed() {
    let (plan, cal) = (plan(), Calendar::utc());
    let p = params(&plan, &cal);
    let mut s = SubjectState::new();
    let cases: Vec<(Result<Outcome, QuotaError>, QuotaError)> = vec![
        (
            s.clone()
                .charge(&p, &items(&[("images", 1)]), None, false, T0),
            QuotaError::UnknownMetric("images".into()),
        ),
        (
            s.clone().charge(&p, &[], None, false, T0),
            QuotaError::NoMetrics,
        ),
        (
            s.clone().settle(&p, "h", &[], T0),
            QuotaError::NoHold("h".into()),
        ),
        (
            s.clone().cancel(&p, "h", T0),
            QuotaError::NoHold("h".into()),
        ),
        (
            s.clone().refund(&p, "h", &[], T0),
            QuotaError::NoHold("h".into()),
        ),
        (
            s.clone()
                .charge(&p, &items(&[("tokens", 1)]), None, false, u64::MAX),
            QuotaError::OutOfRange,
        ),
    ];
    for (i, (got, want)) in cases.into_iter().enumerate() {
        assert_eq!(got, Err(want), "case {i}");
    }
    // A refused operation changed nothing.
    assert_eq!(s.status(&p, T0).unwrap().windows[0].used, 0);
    let plans = BTreeMap::from([("free".to_string(), plan.clone())]);
    assert_eq!(resolve_plan(&plans, None, None, "free").unwrap().0, "free");
    assert_eq!(
        resolve_plan(&plans, Some("gold"), Some("free"), "free").unwrap_err(),
        QuotaError::NoPlan("gold".into())
    );
    assert_eq!(
        resolve_plan(&plans, None, Some("x"), "free").unwrap_err(),
        QuotaError::NoPlan("x".into())
    );
}

#[test]
fn idempotent_ids_replay_the_first_outcome() {
    let (plan, cal) = (plan(), Calendar::utc());
    let p = params(&plan, &cal);
    let mut s = SubjectState::new();
    let first = s
        .charge(&p, &items(&[("tokens", 40)]), Some("a"), false, T0)
        .unwrap();
    let again = s
        .charge(&p, &items(&[("tokens", 40)]), Some("a"), false, T0 + 1000)
        .unwrap();
    assert!(again.replayed && !first.replayed);
    assert_eq!(
        Outcome {
            replayed: false,
            ..again
        },
        first
    );
    assert_eq!(used(&mut s, &p, "tokens/day", T0 + 1000).0, 40);
    // A refusal changed nothing and is not remembered: once there is room, the retry with the
    // same id is a new attempt, and that one is remembered.
    let denied = s
        .charge(&p, &items(&[("tokens", 70)]), Some("b"), false, T0)
        .unwrap();
    assert!(!denied.allowed);
    let denied_again = s
        .charge(&p, &items(&[("tokens", 70)]), Some("b"), false, T0)
        .unwrap();
    assert!(!denied_again.allowed && !denied_again.replayed);
    s.reset(&p, &ResetScope::All, T0).unwrap();
    let retry = s
        .charge(&p, &items(&[("tokens", 70)]), Some("b"), false, T0)
        .unwrap();
    assert!(retry.allowed && !retry.replayed);
    let replay = s
        .charge(&p, &items(&[("tokens", 70)]), Some("b"), false, T0)
        .unwrap();
    assert!(replay.replayed && replay.allowed);
    s.reset(&p, &ResetScope::All, T0).unwrap();
    // After idempotency_ttl the id is new again.
    let later = T0 + 24 * HOUR;
    let fresh = s
        .charge(&p, &items(&[("tokens", 40)]), Some("a"), false, later)
        .unwrap();
    assert!(fresh.allowed && !fresh.replayed);
    assert_eq!(used(&mut s, &p, "tokens/day", later).0, 40);
}

#[test]
fn remembered_ids_are_bounded_and_counted() {
    let (plan, cal) = (plan(), Calendar::utc());
    let p = Params {
        max_ids: 3,
        ..params(&plan, &cal)
    };
    let mut s = SubjectState::new();
    for i in 0..5u64 {
        s.charge(
            &p,
            &items(&[("tokens", 1)]),
            Some(&format!("id{i}")),
            false,
            T0 + i,
        )
        .unwrap();
    }
    assert_eq!((s.remembered_ids(), s.ids_evicted()), (3, 2));
    // Refundable charges share the bound, and the deadline index follows both maps.
    assert_eq!(s.refundable.len(), 3);
    assert_eq!((s.id_deadlines.len(), s.refund_deadlines.len()), (3, 3));
    // The oldest were forgotten: id0 charges again, id4 replays.
    assert!(
        !s.charge(&p, &items(&[("tokens", 1)]), Some("id0"), false, T0 + 9)
            .unwrap()
            .replayed
    );
    assert!(
        s.charge(&p, &items(&[("tokens", 1)]), Some("id4"), false, T0 + 9)
            .unwrap()
            .replayed
    );
    assert!(s.approx_bytes() > 0);
}

/// At the default bound a subject's remembered ids stop growing; its reported memory with
/// them is a few MB.
#[test]
fn default_id_bound_holds() {
    let q = crate::config::Config::default().quota;
    let cal = Calendar::from_config(&q);
    let plan = q.plan("pro_annual").unwrap();
    let p = Params::new(&q, plan, &cal);
    let mut s = SubjectState::new();
    let n = DEFAULT_MAX_IDS as u64 + 10;
    for i in 0..n {
        let id = format!("request-{i:08}");
        s.charge(
            &p,
            &items(&[("tokens", 1), ("calls", 1)]),
            Some(&id),
            false,
            // A second apart: within the plan's calls per hour, so all are allowed (a refusal
            // is not remembered).
            T0 + i * 1000,
        )
        .unwrap();
    }
    assert_eq!((s.remembered_ids(), s.ids_evicted()), (DEFAULT_MAX_IDS, 10));
    assert_eq!(s.refundable.len(), DEFAULT_MAX_IDS);
    let bytes = s.approx_bytes();
    assert!((1 << 20..8 << 20).contains(&bytes), "{bytes}");
    assert_eq!(s.ledger(usize::MAX).count(), DEFAULT_LEDGER_LEN);
}

#[test]
fn holds_reserve_settle_cancel_expire() {
    let (plan, cal) = (plan(), Calendar::utc());
    let p = params(&plan, &cal);
    let mut s = SubjectState::new();
    let o = s
        .reserve(&p, &items(&[("tokens", 50)]), "h1", None, T0)
        .unwrap();
    assert!(o.allowed);
    assert_eq!(
        (
            o.windows[0].used,
            o.windows[0].reserved,
            o.windows[0].remaining
        ),
        (0, 50, 50)
    );
    // A hold counts as used: 51 more do not fit.
    let o = s
        .charge(&p, &items(&[("tokens", 51)]), None, false, T0)
        .unwrap();
    assert_eq!(o.denied_by.as_deref(), Some("tokens/day"));
    // The concurrent limit is 2.
    assert!(
        s.reserve(&p, &items(&[("calls", 1)]), "h2", Some(5000), T0)
            .unwrap()
            .allowed
    );
    let o = s
        .reserve(&p, &items(&[("calls", 1)]), "h3", None, T0 + 1000)
        .unwrap();
    assert_eq!(
        (o.allowed, o.denied_by.as_deref()),
        (false, Some("concurrent"))
    );
    assert_eq!(o.retry_after_ms, 4000, "until h2 expires");
    // h2 expires at its TTL and frees the slot.
    assert_eq!(s.expire(&p, T0 + 5000), 1);
    assert_eq!(s.open_holds(), 1);
    assert!(
        s.reserve(&p, &items(&[("calls", 1)]), "h4", None, T0 + 5000)
            .unwrap()
            .allowed
    );
    assert_eq!(
        s.cancel(&p, "h4", T0 + 5001).unwrap().windows[0].reserved,
        0
    );
    // Settle above the estimate: charged, never refused, overage in the ledger.
    let o = s
        .settle(&p, "h1", &items(&[("tokens", 120)]), T0 + 6000)
        .unwrap();
    assert!(o.allowed);
    assert_eq!(
        (o.windows[0].used, o.windows[0].reserved, o.level),
        (120, 0, Level::Exceeded)
    );
    let newest: Vec<_> = s.ledger(2).map(|e| (e.op, e.amount)).collect();
    assert_eq!(newest, [(Op::Overage, 70), (Op::Settle, 120)]);
    // Settle again replays; cancel of a settled hold is NOHOLD.
    assert!(s.settle(&p, "h1", &[], T0 + 7000).unwrap().replayed);
    assert_eq!(
        s.cancel(&p, "h1", T0 + 7000),
        Err(QuotaError::NoHold("h1".into()))
    );
    // A settle without amounts charges the estimate.
    s.reset(&p, &ResetScope::All, T0 + 8000).unwrap();
    s.reserve(
        &p,
        &items(&[("tokens", 7), ("calls", 1)]),
        "h5",
        None,
        T0 + 8000,
    )
    .unwrap();
    let o = s.settle(&p, "h5", &[], T0 + 8001).unwrap();
    let used: Vec<_> = o.windows.iter().map(|w| w.used).collect();
    assert_eq!(used, [7, 7, 1]);
    let status = s.status(&p, T0 + 8001).unwrap();
    assert!(status.holds.is_empty());
    // The first remembered id (h1's RESERVE) is the next thing to expire.
    assert_eq!(s.next_deadline(), Some(T0 + 24 * HOUR));
}

#[test]
fn refund_all_part_once() {
    let (plan, cal) = (plan(), Calendar::utc());
    let p = params(&plan, &cal);
    // (charged, refund asked, tokens/day after)
    type Case = (u64, &'static [(&'static str, u64)], u64);
    let cases: &[Case] = &[
        (60, &[], 0),
        (60, &[("tokens", 20)], 40),
        (60, &[("tokens", 90)], 0),
        (60, &[("calls", 5)], 60),
    ];
    for (i, (charged, ask, after)) in cases.iter().enumerate() {
        let mut s = SubjectState::new();
        s.charge(&p, &items(&[("tokens", *charged)]), Some("c"), false, T0)
            .unwrap();
        let o = s.refund(&p, "c", &items(ask), T0 + 1).unwrap();
        assert!(!o.replayed);
        assert_eq!(used(&mut s, &p, "tokens/day", T0 + 1).0, *after, "case {i}");
        let again = s.refund(&p, "c", &items(ask), T0 + 2).unwrap();
        assert!(again.replayed);
        assert_eq!(used(&mut s, &p, "tokens/day", T0 + 2).0, *after, "case {i}");
    }
    // A refund after the day rolled takes nothing from the new day, but does from the month.
    let mut s = SubjectState::new();
    s.charge(&p, &items(&[("tokens", 60)]), Some("c"), false, T0)
        .unwrap();
    s.charge(&p, &items(&[("tokens", 5)]), None, false, NEXT_DAY)
        .unwrap();
    s.refund(&p, "c", &[], NEXT_DAY + 1).unwrap();
    assert_eq!(used(&mut s, &p, "tokens/day", NEXT_DAY + 1).0, 5);
    assert_eq!(used(&mut s, &p, "tokens/month", NEXT_DAY + 1).0, 5);
}

#[test]
fn reset_scopes_and_ledger() {
    let (plan, cal) = (plan(), Calendar::utc());
    let p = Params {
        ledger_len: 4,
        ..params(&plan, &cal)
    };
    let cases: &[(ResetScope, [u64; 3])] = &[
        (ResetScope::All, [0, 0, 0]),
        (ResetScope::Metric("tokens".into()), [0, 0, 3]),
        (ResetScope::Window("tokens".into(), Window::Day), [0, 30, 3]),
        (ResetScope::Metric("nope".into()), [30, 30, 3]),
    ];
    for (scope, want) in cases {
        let mut s = SubjectState::new();
        s.charge(
            &p,
            &items(&[("tokens", 30), ("calls", 3)]),
            Some("x"),
            false,
            T0,
        )
        .unwrap();
        s.reset(&p, scope, T0 + 1).unwrap();
        let got = [
            used(&mut s, &p, "tokens/day", T0 + 1).0,
            used(&mut s, &p, "tokens/month", T0 + 1).0,
            used(&mut s, &p, "calls/hour", T0 + 1).0,
        ];
        assert_eq!(got, *want, "{scope:?}");
        let newest = s.ledger(1).next().unwrap();
        assert_eq!(
            (newest.op, newest.ts, newest.amount),
            (Op::Reset, T0 + 1, 0)
        );
    }
    // The ledger keeps the newest ledger_len entries, newest first.
    let mut s = SubjectState::new();
    for i in 0..6u64 {
        s.charge(
            &p,
            &items(&[("calls", 1)]),
            Some(&format!("i{i}")),
            false,
            T0 + i,
        )
        .unwrap();
    }
    let ids: Vec<_> = s.ledger(10).map(|e| e.id.clone()).collect();
    assert_eq!(ids, ["i5", "i4", "i3", "i2"]);
    let e = s.ledger(1).next().unwrap();
    assert_eq!(
        (e.ts, e.op.as_str(), e.metric.as_str(), e.amount),
        (T0 + 5, "charge", "calls", 1)
    );
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// A state with something in every part: a plan, counters, an open hold, refundable
/// charges, remembered ids (allowed and denied), ledger entries, an evicted id.
fn busy_state() -> SubjectState {
    let (plan, cal) = (plan(), Calendar::utc());
    let p = Params {
        max_ids: 4,
        ..params(&plan, &cal)
    };
    let mut s = SubjectState::new();
    s.set_plan(Some("pro_annual".into()));
    s.charge(
        &p,
        &items(&[("tokens", 30), ("calls", 1)]),
        Some("c1"),
        false,
        T0,
    )
    .unwrap();
    s.charge(&p, &items(&[("tokens", 300)]), Some("c2"), false, T0 + 1)
        .unwrap();
    s.reserve(&p, &items(&[("tokens", 5)]), "h1", None, T0 + 2)
        .unwrap();
    s.reserve(&p, &items(&[("calls", 2)]), "h2", Some(10), T0 + 3)
        .unwrap();
    s.settle(&p, "h2", &items(&[("calls", 4)]), T0 + 4).unwrap();
    s.refund(&p, "c1", &items(&[("tokens", 10)]), T0 + 5)
        .unwrap();
    s.reset(
        &p,
        &ResetScope::Window("calls".into(), Window::Hour),
        T0 + 6,
    )
    .unwrap();
    s
}

#[test]
fn encoding_round_trips() {
    let cases = [SubjectState::new(), busy_state()];
    for s in cases {
        let bytes = encode(&s);
        assert_eq!(decode(&bytes).unwrap(), s);
        assert_eq!(&bytes[..4], b"TQS\x01");
    }
    assert!(busy_state().ids_evicted() > 0);
}

#[test]
fn damaged_encodings_are_errors() {
    let bytes = encode(&busy_state());
    // Every truncation.
    for n in 0..bytes.len() {
        assert!(decode(&bytes[..n]).is_err(), "prefix of {n} bytes");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(decode(&longer), Err(DecodeError::Trailing { extra: 1 }));
    let mut v2 = bytes.clone();
    v2[3] = 2;
    assert_eq!(decode(&v2), Err(DecodeError::Version(2)));
    assert_eq!(decode(b"XYZ\x01"), Err(DecodeError::BadMagic));
    // A huge count is refused before anything is allocated.
    let mut huge = b"TQS\x01\x00".to_vec();
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(decode(&huge), Err(DecodeError::Truncated { at: 5 }));
}

/// Fuzz smoke: random bytes, and valid encodings with random bytes flipped, never panic,
/// and whatever decodes encodes back to the same bytes.
#[test]
fn random_bytes_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(9);
    let valid = encode(&busy_state());
    let mut decoded = 0;
    for i in 0..20_000 {
        let bytes: Vec<u8> = if i % 2 == 0 {
            let n = rng.random_range(0..200);
            let mut b: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            if i % 4 == 0 && b.len() >= 4 {
                b[..4].copy_from_slice(b"TQS\x01");
            }
            b
        } else {
            let mut b = valid.clone();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..b.len());
                b[at] = rng.random();
            }
            b
        };
        if let Ok(s) = decode(&bytes) {
            decoded += 1;
            assert_eq!(encode(&s), bytes);
        }
    }
    assert!(decoded > 0, "some flips land in values and still decode");
}

// ---------------------------------------------------------------------------------------------
// Property: random interleavings against a model
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Step {
    Charge(Vec<(u8, u64)>, Option<u8>, bool),
    Reserve(Vec<(u8, u64)>, u8, u64),
    Settle(u8, Vec<(u8, u64)>),
    Cancel(u8),
    Refund(bool, u8, Vec<(u8, u64)>),
    Reset(Option<(u8, Option<u8>)>),
}

const METRICS: [&str; 2] = ["tokens", "calls"];

fn metric_amounts() -> impl Strategy<Value = Vec<(u8, u64)>> {
    prop::collection::vec((0u8..2, 0u64..40), 1..3)
}

fn step() -> impl Strategy<Value = (Step, u64)> {
    let s = prop_oneof![
        (metric_amounts(), prop::option::of(0u8..4), any::<bool>())
            .prop_map(|(a, id, dry)| Step::Charge(a, id, dry)),
        (metric_amounts(), 0u8..4, 1u64..3000).prop_map(|(a, id, ttl)| Step::Reserve(a, id, ttl)),
        (0u8..4, prop::collection::vec((0u8..2, 0u64..60), 0..2))
            .prop_map(|(id, a)| Step::Settle(id, a)),
        (0u8..4).prop_map(Step::Cancel),
        (
            any::<bool>(),
            0u8..4,
            prop::collection::vec((0u8..2, 0u64..60), 0..2)
        )
            .prop_map(|(hold, id, a)| Step::Refund(hold, id, a)),
        prop::option::of((0u8..2, prop::option::of(0u8..2))).prop_map(Step::Reset),
    ];
    // Mostly steps of under a second; now and then a jump of up to 30 hours, which rolls hour
    // and day windows and expires holds and (past 24 h) remembered ids.
    let dt = prop_oneof![12 => 0u64..800, 1 => 0u64..30 * HOUR];
    (s, dt)
}

/// The model: used per (metric, window) with the start of the window it counts, holds,
/// remembered ids and refundable charges with their deadlines; ids come from two pools (`c*`
/// for charges, `h*` for holds) so they never collide.
#[derive(Default, Debug)]
struct Model {
    used: BTreeMap<(String, Window), (u64, u64)>,
    holds: BTreeMap<String, (Vec<(String, u64)>, u64)>,
    seen: BTreeMap<(Op, String), u64>,
    refundable: BTreeMap<String, ModelCharge>,
}

/// A refundable charge of the model: amounts, the window starts it went into, its deadline.
type ModelCharge = (Vec<(String, u64)>, Vec<(String, Window, u64)>, u64);

const ID_TTL: u64 = 24 * HOUR;

impl Model {
    fn expire(&mut self, now: u64) {
        self.holds.retain(|_, (_, exp)| *exp > now);
        self.seen.retain(|_, exp| *exp > now);
        self.refundable.retain(|_, (_, _, exp)| *exp > now);
    }

    fn seen(&self, op: Op, id: &str) -> bool {
        self.seen.contains_key(&(op, id.to_string()))
    }

    fn see(&mut self, op: Op, id: &str, now: u64) {
        self.seen.insert((op, id.to_string()), now + ID_TTL);
    }

    fn current(&self, m: &str, w: Window, now: u64) -> u64 {
        let start = Calendar::utc().bounds(w, now).unwrap().start;
        match self.used.get(&(m.to_string(), w)) {
            Some((s, u)) if *s == start => *u,
            _ => 0,
        }
    }

    fn reserved(&self, metric: &str) -> u64 {
        self.holds
            .values()
            .flat_map(|(a, _)| a.iter())
            .filter(|(m, _)| m == metric)
            .map(|(_, a)| a)
            .sum()
    }

    fn fits(&self, plan: &Plan, items: &[(String, u64)], now: u64) -> bool {
        items.iter().all(|(m, a)| {
            plan.metric(m)
                .unwrap()
                .windows()
                .all(|(w, limit)| self.current(m, w, now) + self.reserved(m) + a <= limit)
        })
    }

    fn add(
        &mut self,
        plan: &Plan,
        items: &[(String, u64)],
        now: u64,
    ) -> Vec<(String, Window, u64)> {
        let mut starts = Vec::new();
        for (m, a) in items {
            for (w, _) in plan.metric(m).unwrap().windows() {
                let start = Calendar::utc().bounds(w, now).unwrap().start;
                let cur = self.current(m, w, now);
                self.used.insert((m.clone(), w), (start, cur + a));
                starts.push((m.clone(), w, start));
            }
        }
        starts
    }
}

fn named(list: &[(u8, u64)]) -> Vec<(String, u64)> {
    list.iter()
        .map(|(m, a)| (METRICS[usize::from(*m)].to_string(), *a))
        .collect()
}

fn summed(list: &[(String, u64)]) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for (m, a) in list {
        match out.iter_mut().find(|(o, _)| o == m) {
            Some((_, s)) => *s += a,
            None => out.push((m.clone(), *a)),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Through CHARGE and RESERVE no window goes over its limit, replays change nothing, and
    /// every window's used and reserved equal the model's sums of distinct successful
    /// operations.
    #[test]
    fn interleavings_match_the_model(steps in prop::collection::vec(step(), 1..60)) {
        let plan = Plan { concurrent: Some(3), ..plan() };
        let cal = Calendar::utc();
        let p = params(&plan, &cal);
        let mut s = SubjectState::new();
        let mut m = Model::default();
        let mut now = T0;
        for (step, dt) in steps {
            now += dt;
            m.expire(now);
            match step {
                Step::Charge(a, id, dry) => {
                    let items = named(&a);
                    let id = id.map(|i| format!("c{i}"));
                    let o = s.charge(&p, &items, id.as_deref(), dry, now).unwrap();
                    if id.as_ref().is_some_and(|i| m.seen(Op::Charge, i)) {
                        prop_assert!(o.replayed, "{id:?}");
                    } else {
                        let items = summed(&items);
                        let fits = m.fits(&plan, &items, now);
                        prop_assert_eq!(o.allowed, fits);
                        prop_assert!(!o.replayed);
                        if fits && !dry {
                            let starts = m.add(&plan, &items, now);
                            if let Some(i) = &id {
                                m.refundable.insert(i.clone(), (items.clone(), starts, now + ID_TTL));
                            }
                        }
                        if let (Some(i), false, true) = (&id, dry, fits) {
                            m.see(Op::Charge, i, now);
                        }
                        if o.allowed {
                            for w in &o.windows {
                                prop_assert!(w.used + w.reserved <= w.limit, "{w:?}");
                            }
                        }
                    }
                }
                Step::Reserve(a, id, ttl) => {
                    let items = named(&a);
                    let id = format!("h{id}");
                    let o = s.reserve(&p, &items, &id, Some(ttl), now).unwrap();
                    if m.seen(Op::Reserve, &id) {
                        prop_assert!(o.replayed);
                    } else {
                        let items = summed(&items);
                        let fits = m.fits(&plan, &items, now) && m.holds.len() < 3;
                        prop_assert_eq!(o.allowed, fits);
                        if fits {
                            m.holds.insert(id.clone(), (items, now + ttl));
                            for w in &o.windows {
                                prop_assert!(w.used + w.reserved <= w.limit, "{w:?}");
                            }
                            m.see(Op::Reserve, &id, now);
                        }
                    }
                }
                Step::Settle(id, a) => {
                    let id = format!("h{id}");
                    let actual = summed(&named(&a));
                    let r = s.settle(&p, &id, &actual, now);
                    if m.seen(Op::Settle, &id) {
                        prop_assert!(r.unwrap().replayed);
                    } else if let Some((est, _)) = m.holds.remove(&id) {
                        prop_assert!(r.is_ok());
                        let mut charged: Vec<(String, u64)> = est
                            .iter()
                            .map(|(mm, e)| {
                                let a = actual.iter().find(|(g, _)| g == mm).map_or(*e, |(_, a)| *a);
                                (mm.clone(), a)
                            })
                            .collect();
                        for (g, a) in &actual {
                            if !charged.iter().any(|(c, _)| c == g) {
                                charged.push((g.clone(), *a));
                            }
                        }
                        let starts = m.add(&plan, &charged, now);
                        m.refundable.insert(id.clone(), (charged, starts, now + ID_TTL));
                        m.see(Op::Settle, &id, now);
                    } else {
                        prop_assert_eq!(r, Err(QuotaError::NoHold(id)));
                    }
                }
                Step::Cancel(id) => {
                    let id = format!("h{id}");
                    let r = s.cancel(&p, &id, now);
                    if m.seen(Op::Cancel, &id) {
                        prop_assert!(r.unwrap().replayed);
                    } else if m.holds.remove(&id).is_some() {
                        prop_assert!(r.is_ok());
                        m.see(Op::Cancel, &id, now);
                    } else {
                        prop_assert_eq!(r, Err(QuotaError::NoHold(id)));
                    }
                }
                Step::Refund(hold, id, a) => {
                    let id = format!("{}{id}", if hold { 'h' } else { 'c' });
                    let ask = named(&a);
                    let r = s.refund(&p, &id, &ask, now);
                    if m.seen(Op::Refund, &id) {
                        prop_assert!(r.unwrap().replayed);
                    } else if let Some((charged, starts, _)) = m.refundable.remove(&id) {
                        prop_assert!(r.is_ok());
                        for (mm, c) in &charged {
                            let back = if ask.is_empty() {
                                *c
                            } else if ask.iter().any(|(x, _)| x == mm) {
                                ask.iter().filter(|(x, _)| x == mm).map(|(_, n)| n).sum::<u64>().min(*c)
                            } else {
                                0
                            };
                            // Only from a window that has not rolled since the charge.
                            for (sm, w, start) in starts.iter().filter(|(sm, _, _)| sm == mm) {
                                if let Some((s, u)) = m.used.get_mut(&(sm.clone(), *w)) {
                                    if s == start {
                                        *u = u.saturating_sub(back);
                                    }
                                }
                            }
                        }
                        m.see(Op::Refund, &id, now);
                    } else {
                        prop_assert_eq!(r, Err(QuotaError::NoHold(id)));
                    }
                }
                Step::Reset(scope) => {
                    let scope = match scope {
                        None => ResetScope::All,
                        Some((mm, None)) => ResetScope::Metric(METRICS[usize::from(mm)].into()),
                        Some((mm, Some(w))) => {
                            ResetScope::Window(METRICS[usize::from(mm)].into(), [Window::Day, Window::Hour][usize::from(w)])
                        }
                    };
                    s.reset(&p, &scope, now).unwrap();
                    m.used.retain(|(mm, w), _| match &scope {
                        ResetScope::All => false,
                        ResetScope::Metric(x) => mm != x,
                        ResetScope::Window(x, xw) => !(mm == x && w == xw),
                    });
                }
            }
            // Every window equals the model.
            let st = s.status(&p, now).unwrap();
            for w in &st.windows {
                let want = m.current(&w.metric, w.window, now);
                prop_assert_eq!(w.used, want, "{}/{}", w.metric, w.window);
                prop_assert_eq!(w.reserved, m.reserved(&w.metric), "{}", w.metric);
            }
            prop_assert_eq!(st.holds.len(), m.holds.len());
        }
    }
}

/// The size the README and `Remembered` give for a remembered outcome: 133 bytes for one
/// metric with two windows.
#[test]
fn a_remembered_outcome_of_one_metric_and_two_windows_is_133_bytes() {
    let (plan, cal) = (plan(), Calendar::utc());
    let p = params(&plan, &cal);
    let mut s = SubjectState::new();
    let o = s
        .charge(&p, &items(&[("tokens", 5)]), Some("a"), false, T0)
        .unwrap();
    assert_eq!(o.windows.len(), 2);
    assert_eq!(super::codec::encode_outcome(&o).len(), 133);
}
