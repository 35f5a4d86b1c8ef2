//! Quota commands: QUOTA.CHARGE, RESERVE, SETTLE, CANCEL, REFUND, RESET, PLAN (the
//! mutations), STATUS and LEDGER. The arithmetic is `crate::quota`'s; `parse` turns arguments
//! into requests; the functions here find the subject, apply, journal and reply.
//!
//! A subject is a key of type `quota` in the client's database. A mutation that changed it
//! appends its record to the quota journal while the shard is locked (so records of one key
//! are in the order of the changes); the connection waits for the journal to make them
//! durable before it writes the replies of the batch (`server::connection`). A subject is
//! created by its first change: a STATUS, a dry run or a refused charge of an unknown
//! subject stores nothing.
//!
//! Over `maxmemory` (after eviction made what room it could) the commands decide for
//! themselves (`flag::OWN_OOM`), as the rate-limit ones do: a subject that exists is
//! answered as always, its state growing within its bounds (a SETTLE refused would let the
//! hold expire and the work go uncharged); reads and dry runs answer; a change that would
//! create a subject is `-OOM` and stores nothing.

pub mod parse;

use super::{CmdError, CmdResult, Ctx};
use crate::metrics::quota::Event;
use crate::persist::journal::quota_object;
use crate::protocol::Out;
use crate::quota::mutation::{encode_op, Head};
use crate::quota::state::{Outcome, QuotaError, WindowStatus};
use crate::quota::{Applied, Mutation, SubjectState};
use crate::store::entry::Object;
use crate::store::{NotObject, ValueRef};
use parse::{Ledger, Mutate, PlanReq, Status};

fn quota_error(e: QuotaError) -> CmdError {
    match e {
        QuotaError::NoPlan(_) => CmdError::other(format!("NOPLAN {e}")),
        QuotaError::NoHold(_) => CmdError::other(format!("NOHOLD {e}")),
        QuotaError::UnknownMetric(_) | QuotaError::NoMetrics | QuotaError::OutOfRange => {
            CmdError::other(format!("ERR {e}"))
        }
    }
}

/// The error of a mutation once the log has failed: nothing more can be made durable.
fn log_failed() -> CmdError {
    CmdError::other(
        "MISCONF Errors writing to the quota log: quota changes are refused until the disk \
         is fixed and the server restarted (see the server log)",
    )
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// What a mutation did, for the reply and the counters.
struct Done<'a> {
    applied: Applied,
    plan: &'a str,
    timer: Option<(Option<u64>, Option<u64>)>,
}

/// CHARGE, RESERVE, SETTLE, CANCEL, REFUND, RESET and PLAN with a name.
fn mutate<'a>(ctx: &mut Ctx<'a>, req: &Mutate) -> Result<Done<'a>, CmdError> {
    let st = ctx.state;
    let journal = st.persist.journal.get();
    if journal.is_some_and(|j| j.failed()) {
        return Err(log_failed());
    }
    let catalog = &st.quota;
    let now = ctx.now;
    let key = req.key;
    let full = st.memory_full();
    let mut s = ctx.shard(key);
    let (epoch, db) = (s.epoch, s.db());
    let done = s.write_owned(key, now, |slot| {
        let creating = slot.entry().is_none();
        let mut fresh: Option<SubjectState> = None;
        let (state, timer) = match slot.object_mut() {
            Ok(Some(Object::Quota(q))) => (&mut q.state, Some(&mut q.timer)),
            Ok(None) => (fresh.insert(SubjectState::new()), None),
            Ok(Some(_)) | Err(NotObject) => return Err(CmdError::WrongType),
        };
        let (plan_name, plan) = catalog
            .resolve(req.plan.as_deref(), state.plan())
            .map_err(quota_error)?;
        let applied = req
            .mutation
            .apply(state, &catalog.params(plan), now)
            .map_err(quota_error)?;
        let changed = req.mutation.changed(&applied);
        if changed && full && creating {
            return Err(CmdError::oom());
        }
        let next = state.next_deadline();
        // The timer moves with the state: the shard is told below, without a second lookup.
        let timer = timer.map(|t| (std::mem::replace(t, next), next));
        if changed {
            if let Some(j) = journal {
                let head = Head { epoch, db, key };
                j.append(&encode_op(&head, now, plan_name, &req.mutation));
            }
        }
        match fresh {
            // Stored with its timer, which the shard schedules as it stores it.
            Some(state) if changed => slot.put_object(quota_object(state, next), None),
            Some(_) => {}
            None if changed => slot.mark_written(),
            None => {}
        }
        Ok(Done {
            applied,
            plan: plan_name,
            timer,
        })
    })?;
    if let Some((old, next)) = done.timer {
        s.reschedule(key, old, next);
    }
    drop(s);
    record(ctx, &req.mutation, &done);
    Ok(done)
}

fn record(ctx: &Ctx, m: &Mutation, done: &Done) {
    let Applied::Outcome(o) = &done.applied else {
        return;
    };
    let metrics = &ctx.state.quota_stats;
    let plan = &done.plan;
    let each = |items: &[(String, u64)], event: &dyn Fn(u64) -> Event| {
        for (metric, amount) in items {
            metrics.record(plan, metric, event(*amount));
        }
    };
    let named: std::borrow::Cow<'_, [(String, u64)]> = match m {
        Mutation::Charge { items, .. } | Mutation::Reserve { items, .. } => items.into(),
        _ => o
            .windows
            .iter()
            .map(|w| (w.metric.clone(), 0))
            .collect::<Vec<_>>()
            .into(),
    };
    if o.replayed {
        return each(&named, &|_| Event::Replayed);
    }
    if !o.allowed {
        return each(&named, &|_| Event::Denied);
    }
    match m {
        Mutation::Charge { dry_run: true, .. } => {}
        Mutation::Charge { items, .. } => each(items, &Event::Charged),
        Mutation::Reserve { items, .. } => each(items, &|_| Event::Reserved),
        Mutation::Settle { .. } => each(&dedup(&named), &|_| Event::Settled),
        Mutation::Cancel { .. } => each(&dedup(&named), &|_| Event::Canceled),
        Mutation::Refund { .. } => each(&dedup(&named), &|_| Event::Refunded),
        Mutation::Reset(_) | Mutation::SetPlan(_) => {}
    }
}

/// One entry per metric of a list of windows.
fn dedup(items: &[(String, u64)]) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for (m, a) in items {
        if !out.iter().any(|(o, _)| o == m) {
            out.push((m.clone(), *a));
        }
    }
    out
}

pub fn quota_mutate(ctx: &mut Ctx, req: Mutate) -> CmdResult {
    let done = mutate(ctx, &req)?;
    match &done.applied {
        Applied::Outcome(o) => write_outcome(ctx.out, o),
        Applied::Done => ctx.out.ok(),
    }
    Ok(())
}

pub fn quota_plan(ctx: &mut Ctx, req: PlanReq) -> CmdResult {
    match req.plan {
        Some(name) => {
            let m = Mutate {
                key: req.key,
                plan: Some(name.clone()),
                mutation: Mutation::SetPlan(Some(name)),
            };
            mutate(ctx, &m)?;
            ctx.out.ok();
        }
        None => {
            let stored = read(ctx, req.key, |s| s.plan().map(str::to_owned))?.flatten();
            let name = stored.unwrap_or_else(|| ctx.state.quota.default_plan.clone());
            ctx.out.bulk(name.as_bytes());
        }
    }
    Ok(())
}

/// Reads the subject's state, if it exists.
fn read<R>(
    ctx: &Ctx,
    key: &[u8],
    f: impl FnOnce(&SubjectState) -> R,
) -> Result<Option<R>, CmdError> {
    let mut s = ctx.shard(key);
    match s.read_notouch(key, ctx.now).map(|e| e.value()) {
        None => Ok(None),
        Some(ValueRef::Obj(Object::Quota(q))) => Ok(Some(f(&q.state))),
        Some(_) => Err(CmdError::WrongType),
    }
}

pub fn quota_status(ctx: &mut Ctx, req: Status) -> CmdResult {
    let catalog = &ctx.state.quota;
    let now = ctx.now;
    let mut s = ctx.shard(req.key);
    // Releasing expired holds is a change by time alone: not journaled (a replay releases
    // them the same way).
    let (plan_name, status) = s.write_owned(req.key, now, |slot| {
        let mut fresh = SubjectState::new();
        let state = match slot.object_mut() {
            Ok(Some(Object::Quota(q))) => &mut q.state,
            Ok(None) => &mut fresh,
            Ok(Some(_)) | Err(NotObject) => return Err(CmdError::WrongType),
        };
        let stored = state.plan().map(str::to_owned);
        let (name, plan) = catalog
            .resolve(req.plan.as_deref(), stored.as_deref())
            .map_err(quota_error)?;
        let status = state
            .status(&catalog.params(plan), now)
            .map_err(quota_error)?;
        Ok((name.to_string(), status))
    })?;
    drop(s);
    let out = &mut *ctx.out;
    out.map(4);
    out.bulk(b"plan");
    out.bulk(plan_name.as_bytes());
    out.bulk(b"level");
    out.bulk(status.level.as_str().as_bytes());
    out.bulk(b"windows");
    write_windows(out, &status.windows);
    out.bulk(b"holds");
    out.array(status.holds.len());
    for h in &status.holds {
        out.map(3);
        out.bulk(b"id");
        out.bulk(h.id.as_bytes());
        out.bulk(b"amounts");
        out.map(h.amounts.len());
        for (m, a) in &h.amounts {
            out.bulk(m.as_bytes());
            out.int(int(*a));
        }
        out.bulk(b"expires_at");
        out.int(int(h.expires_at));
    }
    Ok(())
}

pub fn quota_ledger(ctx: &mut Ctx, req: Ledger) -> CmdResult {
    let entries = read(ctx, req.key, |s| {
        s.ledger(req.count).cloned().collect::<Vec<_>>()
    })?
    .unwrap_or_default();
    let out = &mut *ctx.out;
    out.array(entries.len());
    for e in &entries {
        out.map(5);
        out.bulk(b"id");
        if e.id.is_empty() {
            out.null();
        } else {
            out.bulk(e.id.as_bytes());
        }
        out.bulk(b"ts");
        out.int(int(e.ts));
        out.bulk(b"op");
        out.bulk(e.op.as_str().as_bytes());
        out.bulk(b"metric");
        out.bulk(e.metric.as_bytes());
        out.bulk(b"amount");
        out.int(int(e.amount));
    }
    Ok(())
}

/// SPEC's reply of CHARGE, RESERVE, SETTLE (and CANCEL, REFUND), in its field order.
fn write_outcome(out: &mut Out, o: &Outcome) {
    out.map(6);
    out.bulk(b"allowed");
    out.int(i64::from(o.allowed));
    out.bulk(b"replayed");
    out.int(i64::from(o.replayed));
    out.bulk(b"denied_by");
    match &o.denied_by {
        Some(d) => out.bulk(d.as_bytes()),
        None => out.null(),
    }
    out.bulk(b"retry_after_ms");
    out.int(int(o.retry_after_ms));
    out.bulk(b"level");
    out.bulk(o.level.as_str().as_bytes());
    out.bulk(b"windows");
    write_windows(out, &o.windows);
}

fn write_windows(out: &mut Out, windows: &[WindowStatus]) {
    out.array(windows.len());
    for w in windows {
        out.map(8);
        out.bulk(b"metric");
        out.bulk(w.metric.as_bytes());
        out.bulk(b"window");
        out.bulk(w.window.as_str().as_bytes());
        for (name, v) in [
            (&b"used"[..], w.used),
            (b"reserved", w.reserved),
            (b"limit", w.limit),
            (b"remaining", w.remaining),
            (b"percent", w.percent),
            (b"resets_at", w.resets_at),
        ] {
            out.bulk(name);
            out.int(int(v));
        }
    }
}

/// Most subjects one shard hands the expiry thread per cycle: its lock is held for a bounded
/// time, and what is left is due in the next cycle.
const TIMERS_PER_SHARD: usize = 256;

/// Releases the holds whose TTL passed and forgets expired ids, for the subjects whose timer
/// is due (the expiry thread calls it every cycle): a hold is released on the server's
/// clock, not only when its subject is next touched. Not journaled: every later operation
/// releases them first, the same way, so a replay reaches the same state. Returns the holds
/// released.
pub fn release_due(state: &crate::state::State, now: u64) -> usize {
    let ks = &state.keyspace;
    let catalog = &state.quota;
    let mut released = 0;
    for db in 0..ks.databases() {
        for shard in ks.shards(db) {
            let mut s = shard.lock();
            for (at, key) in s.due_timers(now, TIMERS_PER_SHARD) {
                let done = s.write_owned(&key, now, |slot| {
                    let Ok(Some(Object::Quota(q))) = slot.object_mut() else {
                        return None;
                    };
                    // A stale timer (the subject was rescheduled, replaced or deleted).
                    if q.timer != Some(at) {
                        return None;
                    }
                    let (plan_name, plan) = catalog.resolve(q.state.plan(), None).ok()?;
                    let metrics = q.state.due_hold_metrics(now);
                    let n = q.state.expire(&catalog.params(plan), now);
                    q.timer = q.state.next_deadline();
                    Some((plan_name, metrics, n, q.timer))
                });
                let Some((plan, metrics, n, next)) = done else {
                    continue;
                };
                released += n;
                for m in &metrics {
                    state.quota_stats.record(plan, m, Event::Expired);
                }
                // The due entry was taken by `due_timers`: only the next one to add.
                s.reschedule(&key, None, next);
            }
        }
    }
    released
}
