//! One subject's quota state and the operations on it: charge (all or none, or a dry run),
//! reserve / settle / cancel of holds, refund, reset, status and ledger, with idempotent
//! mutation ids. Pure: every operation takes `now` (unix ms) and [`Params`] (the plan and the
//! calendar); holds expire when an operation or [`SubjectState::expire`] sees their deadline.
//!
//! Usage counters are kept per (metric, window) together with the start of the window they
//! count, so a counter whose window has rolled reads as 0 and is replaced on the next write:
//! no timer resets counters. A hold counts as used in the windows current when they are read,
//! and settling charges the actual amounts into the windows current at settle time.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::config::{Plan, Window};

use super::window::Calendar;

/// What an operation needs besides the state: the subject's plan, the calendar, and the
/// lifetimes and bounds from `[quota]`.
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    pub plan: &'a Plan,
    pub calendar: &'a Calendar,
    /// How long a mutation id's first outcome is replayed.
    pub idempotency_ttl_ms: u64,
    /// TTL of a hold reserved without one.
    pub hold_ttl_ms: u64,
    /// Most ids remembered per subject; past it the oldest is forgotten (and counted).
    pub max_ids: usize,
    /// Ledger entries kept per subject (the newest).
    pub ledger_len: usize,
}

/// Most mutation ids a subject remembers (and charges it keeps refundable) by default: a
/// first bound, about 6 MB per subject at the most (`approx_bytes` with 10,000 ids of two
/// metrics); a subject sending more ids than this within `idempotency_ttl` loses the oldest
/// (counted in `ids_evicted`).
pub const DEFAULT_MAX_IDS: usize = 10_000;
/// Ledger entries a subject keeps by default (`QUOTA.LEDGER` shows the newest).
pub const DEFAULT_LEDGER_LEN: usize = 100;

impl<'a> Params<'a> {
    /// The parameters `[quota]` gives for `plan`, with the default bounds.
    pub fn new(q: &crate::config::QuotaConfig, plan: &'a Plan, calendar: &'a Calendar) -> Self {
        Params {
            plan,
            calendar,
            idempotency_ttl_ms: q.idempotency_ttl.0,
            hold_ttl_ms: q.hold_ttl.0,
            max_ids: DEFAULT_MAX_IDS,
            ledger_len: DEFAULT_LEDGER_LEN,
        }
    }
}

/// Why an operation was refused (nothing changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    /// SETTLE, CANCEL or REFUND of an id with no open hold or refundable charge.
    #[error("no hold or charge with id '{0}'")]
    NoHold(String),
    /// A plan name that the configuration does not define.
    #[error("no such plan '{0}'")]
    NoPlan(String),
    /// A metric the subject's plan does not limit.
    #[error("metric '{0}' is not in the subject's plan")]
    UnknownMetric(String),
    /// An operation that needs at least one metric and amount got none.
    #[error("at least one metric and amount is required")]
    NoMetrics,
    /// `now` is outside the calendar's range (years before 1970 or after 9999).
    #[error("time is outside the calendar's range")]
    OutOfRange,
}

/// The usage level of a reply, from the plan's `warn_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Ok,
    Warn,
    Critical,
    Exceeded,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Critical => "critical",
            Level::Exceeded => "exceeded",
        }
    }
}

/// One window of one metric as a reply shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowStatus {
    pub metric: String,
    pub window: Window,
    pub used: u64,
    pub reserved: u64,
    pub limit: u64,
    /// `limit - used - reserved`, 0 when over.
    pub remaining: u64,
    /// `(used + reserved) * 100 / limit`, rounded down.
    pub percent: u64,
    /// Unix ms at which the window rolls.
    pub resets_at: u64,
}

/// What CHARGE, RESERVE, SETTLE, CANCEL and REFUND reply (SPEC's fields, in its order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub allowed: bool,
    /// This is the first outcome of the same id, returned again; nothing changed.
    pub replayed: bool,
    /// `<metric>/<window>` that refused, or `concurrent` for the hold limit.
    pub denied_by: Option<String>,
    /// Until the refusing window resets (or the first hold expires), 0 when allowed.
    pub retry_after_ms: u64,
    pub level: Level,
    pub windows: Vec<WindowStatus>,
}

/// What STATUS replies, besides the plan name the caller knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub level: Level,
    pub windows: Vec<WindowStatus>,
    pub holds: Vec<HoldInfo>,
}

/// An open hold, as STATUS lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldInfo {
    pub id: String,
    pub amounts: Vec<(String, u64)>,
    pub expires_at: u64,
}

/// A mutation, as the ledger and the id memory name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Charge,
    Reserve,
    Settle,
    /// The part of a settle above its hold's estimate (recorded, never refused).
    Overage,
    Cancel,
    /// A hold released by its TTL.
    Expire,
    Refund,
    Reset,
}

impl Op {
    pub const ALL: [Op; 8] = [
        Op::Charge,
        Op::Reserve,
        Op::Settle,
        Op::Overage,
        Op::Cancel,
        Op::Expire,
        Op::Refund,
        Op::Reset,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Charge => "charge",
            Op::Reserve => "reserve",
            Op::Settle => "settle",
            Op::Overage => "overage",
            Op::Cancel => "cancel",
            Op::Expire => "expire",
            Op::Refund => "refund",
            Op::Reset => "reset",
        }
    }
}

/// One ledger line: `id` (empty without one), `ts`, `op`, `metric` (`*` for a whole reset,
/// `<metric>/<window>` for a one-window reset), `amount` (0 for a reset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub id: String,
    pub ts: u64,
    pub op: Op,
    pub metric: String,
    pub amount: u64,
}

/// What `QUOTA.RESET` clears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetScope {
    All,
    Metric(String),
    Window(String, Window),
}

/// A usage counter and the start of the window it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Counter {
    pub start: u64,
    pub used: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Hold {
    pub amounts: Vec<(String, u64)>,
    pub expires_at: u64,
}

/// A charge that REFUND may reverse: what each (metric, window) got, in the window starting
/// when, so a refund after the window rolled takes nothing from the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refundable {
    pub amounts: Vec<(String, u64)>,
    pub starts: Vec<(String, Window, u64)>,
    pub expires_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Remembered {
    /// The first outcome, encoded (`codec::encode_outcome`, 133 bytes for one metric's two
    /// windows) rather than decoded (a `Vec` of windows, each with its metric `String`): RSS
    /// per remembered id went from about 1.2 KB to 1.1 KB (`benches/quota_memory.py`).
    pub outcome: Box<[u8]>,
    pub expires_at: u64,
}

/// One subject's quota state. Everything is bounded: counters by the plan's metrics and
/// windows, ids by `max_ids` and their TTL, refundable charges by the same TTL, the ledger by
/// `ledger_len`, holds by the plan's limits (and `concurrent`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubjectState {
    /// The plan stored by `QUOTA.PLAN`, if any.
    pub(super) plan: Option<String>,
    pub(super) usage: BTreeMap<(String, Window), Counter>,
    pub(super) holds: BTreeMap<String, Hold>,
    pub(super) refundable: BTreeMap<String, Refundable>,
    pub(super) ids: BTreeMap<(Op, String), Remembered>,
    /// `ids` and `refundable` by deadline, so expiry and the bound cost a look at the
    /// oldest, not a scan (rebuilt from the maps when decoded, so not encoded).
    pub(super) id_deadlines: BTreeSet<(u64, Op, String)>,
    pub(super) refund_deadlines: BTreeSet<(u64, String)>,
    pub(super) ledger: VecDeque<LedgerEntry>,
    /// Ids forgotten before their TTL because `max_ids` was reached.
    pub(super) ids_evicted: u64,
}

impl SubjectState {
    pub fn new() -> SubjectState {
        SubjectState::default()
    }

    /// The plan stored by `QUOTA.PLAN`.
    pub fn plan(&self) -> Option<&str> {
        self.plan.as_deref()
    }

    /// Stores (or with `None` clears) the subject's plan; the caller checks the name exists.
    pub fn set_plan(&mut self, plan: Option<String>) {
        self.plan = plan;
    }

    /// Mutation ids remembered now.
    pub fn remembered_ids(&self) -> usize {
        self.ids.len()
    }

    /// Ids forgotten before their TTL because the bound was reached.
    pub fn ids_evicted(&self) -> u64 {
        self.ids_evicted
    }

    /// Open holds.
    pub fn open_holds(&self) -> usize {
        self.holds.len()
    }

    /// The earliest deadline of an open hold or a remembered id (for an active expiry).
    pub fn next_deadline(&self) -> Option<u64> {
        let holds = self.holds.values().map(|h| h.expires_at);
        let ids = self.id_deadlines.first().map(|(t, _, _)| *t);
        let refunds = self.refund_deadlines.first().map(|(t, _)| *t);
        holds.chain(ids).chain(refunds).min()
    }

    /// The metrics of the holds whose TTL passed at `now` (one per hold and metric): what
    /// [`SubjectState::expire`] will release, for the counters.
    pub fn due_hold_metrics(&self, now: u64) -> Vec<String> {
        self.holds
            .values()
            .filter(|h| h.expires_at <= now)
            .flat_map(|h| h.amounts.iter().map(|(m, _)| m.clone()))
            .collect()
    }

    /// Approximate bytes held, for memory accounting. Constant time (it runs before and after
    /// every operation): per-element estimates of a map node with its key and value, strings
    /// of a typical length (ids of a UUID's, metric names of a few bytes).
    pub fn approx_bytes(&self) -> usize {
        const COUNTER: usize = 80;
        const HOLD: usize = 160;
        const REFUNDABLE: usize = 240;
        const ID_BASE: usize = 176;
        const ID_WINDOW: usize = 64;
        const LEDGER: usize = 112;
        // A remembered outcome lists the windows of the metrics it named: about as many as
        // the subject has counters, a few at most.
        let windows = self.usage.len().clamp(1, 4);
        std::mem::size_of::<Self>()
            + self.usage.len() * COUNTER
            + self.holds.len() * HOLD
            + self.refundable.len() * REFUNDABLE
            + self.ids.len() * (ID_BASE + windows * ID_WINDOW)
            + self.ledger.len() * LEDGER
            + self
                .plan
                .as_ref()
                .map_or(0, |p| p.len().next_multiple_of(16))
    }

    /// Releases holds whose TTL passed (each a ledger entry) and forgets expired ids and
    /// refundable charges. Every operation calls it first; returns the holds released.
    pub fn expire(&mut self, p: &Params<'_>, now: u64) -> usize {
        // In deadline order, so that releasing them later (at the next operation after a
        // restart, where the expiry sweep had released them one by one) writes the same
        // ledger.
        let mut expired: Vec<(u64, String)> = self
            .holds
            .iter()
            .filter(|(_, h)| h.expires_at <= now)
            .map(|(id, h)| (h.expires_at, id.clone()))
            .collect();
        expired.sort_unstable();
        let expired: Vec<String> = expired.into_iter().map(|(_, id)| id).collect();
        for id in &expired {
            if let Some(hold) = self.holds.remove(id) {
                for (metric, amount) in hold.amounts {
                    self.log(p, id, hold.expires_at, Op::Expire, &metric, amount);
                }
            }
        }
        while let Some((t, op, id)) = self.id_deadlines.first().cloned() {
            if t > now {
                break;
            }
            self.id_deadlines.pop_first();
            self.ids.remove(&(op, id));
        }
        while let Some((t, id)) = self.refund_deadlines.first().cloned() {
            if t > now {
                break;
            }
            self.refund_deadlines.pop_first();
            self.refundable.remove(&id);
        }
        expired.len()
    }

    /// `QUOTA.CHARGE`: debits every window of every named metric, or none if any would go over
    /// its limit. `dry_run` checks without debiting (and without remembering the id).
    pub fn charge(
        &mut self,
        p: &Params<'_>,
        items: &[(String, u64)],
        id: Option<&str>,
        dry_run: bool,
        now: u64,
    ) -> Result<Outcome, QuotaError> {
        if let Some(replay) = self.begin(p, Op::Charge, id, now) {
            return Ok(replay);
        }
        let items = merge(p.plan, items)?;
        let mut outcome = self.check(p, &items, now)?;
        if outcome.allowed && !dry_run {
            let starts = self.debit(p, &items, now)?;
            let id_text = id.unwrap_or("");
            for (metric, amount) in &items {
                self.log(p, id_text, now, Op::Charge, metric, *amount);
            }
            if let Some(id) = id {
                self.keep_refundable(p, id, items.clone(), starts, now);
            }
            outcome.windows = self.windows(p, &items, now)?;
            outcome.level = level(p.plan, &outcome.windows);
        }
        // A refusal changed nothing and is not remembered: a retry with the same id after
        // `retry_after_ms` is a new attempt (a remembered refusal would be replayed for a
        // day to a client that did as it was told).
        if let (Some(id), false, true) = (id, dry_run, outcome.allowed) {
            self.remember(p, Op::Charge, id, &outcome, now);
        }
        Ok(outcome)
    }

    /// `QUOTA.RESERVE`: holds the estimate (it counts as used and takes a `concurrent` slot)
    /// until SETTLE, CANCEL or `ttl_ms` (default `hold_ttl`).
    pub fn reserve(
        &mut self,
        p: &Params<'_>,
        items: &[(String, u64)],
        id: &str,
        ttl_ms: Option<u64>,
        now: u64,
    ) -> Result<Outcome, QuotaError> {
        if let Some(replay) = self.begin(p, Op::Reserve, Some(id), now) {
            return Ok(replay);
        }
        let items = merge(p.plan, items)?;
        let mut outcome = self.check(p, &items, now)?;
        if outcome.allowed {
            if let Some(max) = p.plan.concurrent {
                if self.holds.len() as u64 >= max {
                    let first = self
                        .holds
                        .values()
                        .map(|h| h.expires_at)
                        .min()
                        .unwrap_or(now);
                    outcome.allowed = false;
                    outcome.denied_by = Some("concurrent".to_string());
                    outcome.retry_after_ms = first.saturating_sub(now);
                    outcome.level = Level::Exceeded;
                }
            }
        }
        // A second RESERVE of an id whose hold is open (its first outcome forgotten) adds
        // nothing: the hold stands.
        if outcome.allowed && !self.holds.contains_key(id) {
            let ttl = ttl_ms.unwrap_or(p.hold_ttl_ms).max(1);
            self.holds.insert(
                id.to_string(),
                Hold {
                    amounts: items.clone(),
                    expires_at: now.saturating_add(ttl),
                },
            );
            for (metric, amount) in &items {
                self.log(p, id, now, Op::Reserve, metric, *amount);
            }
            outcome.windows = self.windows(p, &items, now)?;
            outcome.level = level(p.plan, &outcome.windows);
        }
        // As in `charge`: a refusal is not remembered.
        if outcome.allowed {
            self.remember(p, Op::Reserve, id, &outcome, now);
        }
        Ok(outcome)
    }

    /// `QUOTA.SETTLE`: swaps the hold for the actual amounts (metrics not given keep their
    /// estimate). Never refused: an actual above the estimate, or above the limit, is
    /// charged and recorded as overage.
    pub fn settle(
        &mut self,
        p: &Params<'_>,
        id: &str,
        actuals: &[(String, u64)],
        now: u64,
    ) -> Result<Outcome, QuotaError> {
        if let Some(replay) = self.begin(p, Op::Settle, Some(id), now) {
            return Ok(replay);
        }
        let Some(hold) = self.holds.get(id) else {
            return Err(QuotaError::NoHold(id.to_string()));
        };
        let given = merge(p.plan, actuals).or_else(|e| match e {
            QuotaError::NoMetrics => Ok(Vec::new()),
            e => Err(e),
        })?;
        let mut items: Vec<(String, u64)> = hold
            .amounts
            .iter()
            .map(|(m, est)| {
                let actual = given.iter().find(|(g, _)| g == m).map_or(*est, |(_, a)| *a);
                (m.clone(), actual)
            })
            .collect();
        for (m, a) in &given {
            if !items.iter().any(|(i, _)| i == m) {
                items.push((m.clone(), *a));
            }
        }
        let estimates = hold.amounts.clone();
        // Check the calendar before the hold goes, so an error changes nothing.
        self.windows(p, &items, now)?;
        self.holds.remove(id);
        let starts = self.debit(p, &items, now)?;
        for (metric, actual) in &items {
            self.log(p, id, now, Op::Settle, metric, *actual);
            let estimate = estimates
                .iter()
                .find(|(m, _)| m == metric)
                .map_or(0, |(_, e)| *e);
            if *actual > estimate {
                self.log(p, id, now, Op::Overage, metric, actual - estimate);
            }
        }
        self.keep_refundable(p, id, items.clone(), starts, now);
        let windows = self.windows(p, &items, now)?;
        let outcome = Outcome {
            allowed: true,
            replayed: false,
            denied_by: None,
            retry_after_ms: 0,
            level: level(p.plan, &windows),
            windows,
        };
        self.remember(p, Op::Settle, id, &outcome, now);
        Ok(outcome)
    }

    /// `QUOTA.CANCEL`: drops the hold, charging nothing.
    pub fn cancel(&mut self, p: &Params<'_>, id: &str, now: u64) -> Result<Outcome, QuotaError> {
        if let Some(replay) = self.begin(p, Op::Cancel, Some(id), now) {
            return Ok(replay);
        }
        let Some(hold) = self.holds.remove(id) else {
            return Err(QuotaError::NoHold(id.to_string()));
        };
        for (metric, amount) in &hold.amounts {
            self.log(p, id, now, Op::Cancel, metric, *amount);
        }
        let outcome = self.ok_outcome(p, &hold.amounts, now)?;
        self.remember(p, Op::Cancel, id, &outcome, now);
        Ok(outcome)
    }

    /// `QUOTA.REFUND`: gives back a charge made with this id (CHARGE ... ID or SETTLE), all
    /// of it or the amounts given (at most what was charged). A second refund of the id
    /// replays the first and changes nothing. Windows that rolled since the charge lose
    /// nothing.
    pub fn refund(
        &mut self,
        p: &Params<'_>,
        id: &str,
        amounts: &[(String, u64)],
        now: u64,
    ) -> Result<Outcome, QuotaError> {
        if let Some(replay) = self.begin(p, Op::Refund, Some(id), now) {
            return Ok(replay);
        }
        let Some(charge) = self.refundable.remove(id) else {
            return Err(QuotaError::NoHold(id.to_string()));
        };
        self.refund_deadlines
            .remove(&(charge.expires_at, id.to_string()));
        let back: Vec<(String, u64)> = charge
            .amounts
            .iter()
            .filter_map(|(m, charged)| match amounts.is_empty() {
                true => Some((m.clone(), *charged)),
                false => {
                    let asked: u64 = amounts
                        .iter()
                        .filter(|(a, _)| a == m)
                        .fold(0u64, |s, (_, n)| s.saturating_add(*n));
                    amounts
                        .iter()
                        .any(|(a, _)| a == m)
                        .then(|| (m.clone(), asked.min(*charged)))
                }
            })
            .collect();
        for (metric, amount) in &back {
            for (m, window, start) in &charge.starts {
                if m != metric {
                    continue;
                }
                if let Some(c) = self.usage.get_mut(&(m.clone(), *window)) {
                    if c.start == *start {
                        c.used = c.used.saturating_sub(*amount);
                    }
                }
            }
            self.log(p, id, now, Op::Refund, metric, *amount);
        }
        let outcome = self.ok_outcome(p, &charge.amounts, now)?;
        self.remember(p, Op::Refund, id, &outcome, now);
        Ok(outcome)
    }

    /// `QUOTA.RESET`: the admin reset of usage counters (holds stay: they are work in
    /// flight). One ledger entry.
    pub fn reset(
        &mut self,
        p: &Params<'_>,
        scope: &ResetScope,
        now: u64,
    ) -> Result<(), QuotaError> {
        self.expire(p, now);
        let metric = match scope {
            ResetScope::All => {
                self.usage.clear();
                "*".to_string()
            }
            ResetScope::Metric(m) => {
                self.usage.retain(|(um, _), _| um != m);
                m.clone()
            }
            ResetScope::Window(m, w) => {
                self.usage.remove(&(m.clone(), *w));
                format!("{m}/{w}")
            }
        };
        self.log(p, "", now, Op::Reset, &metric, 0);
        Ok(())
    }

    /// `QUOTA.STATUS`: every window of every metric of the plan, and the open holds.
    pub fn status(&mut self, p: &Params<'_>, now: u64) -> Result<Status, QuotaError> {
        self.expire(p, now);
        let metrics: Vec<(String, u64)> = p.plan.metrics.keys().map(|m| (m.clone(), 0)).collect();
        let windows = self.windows(p, &metrics, now)?;
        let holds = self
            .holds
            .iter()
            .map(|(id, h)| HoldInfo {
                id: id.clone(),
                amounts: h.amounts.clone(),
                expires_at: h.expires_at,
            })
            .collect();
        Ok(Status {
            level: level(p.plan, &windows),
            windows,
            holds,
        })
    }

    /// `QUOTA.LEDGER`: the newest `count` entries, newest first.
    pub fn ledger(&self, count: usize) -> impl Iterator<Item = &LedgerEntry> {
        self.ledger.iter().rev().take(count)
    }

    // -- internals ---------------------------------------------------------------------------

    /// How every mutation starts: holds past their TTL are released, then a repeated `id`
    /// gets its first outcome back (`replayed` 1), and the caller changes nothing.
    fn begin(&mut self, p: &Params<'_>, op: Op, id: Option<&str>, now: u64) -> Option<Outcome> {
        self.expire(p, now);
        id.and_then(|id| self.replay(op, id))
    }

    fn replay(&self, op: Op, id: &str) -> Option<Outcome> {
        // Expired entries were dropped by `expire`, which every operation runs first.
        let r = self.ids.get(&(op, id.to_string()))?;
        let outcome = super::codec::decode_outcome(&r.outcome)?;
        Some(Outcome {
            replayed: true,
            ..outcome
        })
    }

    fn remember(&mut self, p: &Params<'_>, op: Op, id: &str, outcome: &Outcome, now: u64) {
        if p.max_ids == 0 {
            return;
        }
        let key = (op, id.to_string());
        if let Some(old) = self.ids.remove(&key) {
            self.id_deadlines
                .remove(&(old.expires_at, op, id.to_string()));
        }
        // The bound: the soonest to expire (all share one TTL: the oldest) goes first.
        while self.ids.len() >= p.max_ids {
            let Some((_, op, id)) = self.id_deadlines.pop_first() else {
                break;
            };
            self.ids.remove(&(op, id));
            self.ids_evicted += 1;
        }
        let expires_at = now.saturating_add(p.idempotency_ttl_ms);
        self.id_deadlines.insert((expires_at, op, id.to_string()));
        self.ids.insert(
            key,
            Remembered {
                outcome: super::codec::encode_outcome(outcome).into_boxed_slice(),
                expires_at,
            },
        );
    }

    /// Keeps a charge made with an id for REFUND, as long as its id is remembered and under
    /// the same bound.
    fn keep_refundable(
        &mut self,
        p: &Params<'_>,
        id: &str,
        amounts: Vec<(String, u64)>,
        starts: Vec<(String, Window, u64)>,
        now: u64,
    ) {
        if p.max_ids == 0 {
            return;
        }
        if let Some(old) = self.refundable.remove(id) {
            self.refund_deadlines
                .remove(&(old.expires_at, id.to_string()));
        }
        while self.refundable.len() >= p.max_ids {
            let Some((_, old)) = self.refund_deadlines.pop_first() else {
                break;
            };
            self.refundable.remove(&old);
        }
        let expires_at = now.saturating_add(p.idempotency_ttl_ms);
        self.refund_deadlines.insert((expires_at, id.to_string()));
        self.refundable.insert(
            id.to_string(),
            Refundable {
                amounts,
                starts,
                expires_at,
            },
        );
    }

    /// Rebuilds the deadline indexes from the maps (after decoding).
    pub(super) fn index_deadlines(&mut self) {
        self.id_deadlines = self
            .ids
            .iter()
            .map(|((op, id), r)| (r.expires_at, *op, id.clone()))
            .collect();
        self.refund_deadlines = self
            .refundable
            .iter()
            .map(|(id, r)| (r.expires_at, id.clone()))
            .collect();
    }

    fn log(&mut self, p: &Params<'_>, id: &str, ts: u64, op: Op, metric: &str, amount: u64) {
        if p.ledger_len == 0 {
            return;
        }
        while self.ledger.len() >= p.ledger_len {
            self.ledger.pop_front();
        }
        self.ledger.push_back(LedgerEntry {
            id: id.to_string(),
            ts,
            op,
            metric: metric.to_string(),
            amount,
        });
    }

    /// Current used of a (metric, window) whose window starts at `start`.
    fn used(&self, metric: &str, window: Window, start: u64) -> u64 {
        self.usage
            .get(&(metric.to_string(), window))
            .filter(|c| c.start == start)
            .map_or(0, |c| c.used)
    }

    fn reserved(&self, metric: &str) -> u64 {
        self.holds
            .values()
            .flat_map(|h| h.amounts.iter())
            .filter(|(m, _)| m == metric)
            .fold(0u64, |s, (_, a)| s.saturating_add(*a))
    }

    /// The windows of `items`' metrics as they stand, in the order named, shortest first.
    fn windows(
        &self,
        p: &Params<'_>,
        items: &[(String, u64)],
        now: u64,
    ) -> Result<Vec<WindowStatus>, QuotaError> {
        let mut out = Vec::new();
        for (metric, _) in items {
            let Some(limits) = p.plan.metric(metric) else {
                continue;
            };
            let reserved = self.reserved(metric);
            for (window, limit) in limits.windows() {
                let b = p
                    .calendar
                    .bounds(window, now)
                    .ok_or(QuotaError::OutOfRange)?;
                let used = self.used(metric, window, b.start);
                let total = used.saturating_add(reserved);
                out.push(WindowStatus {
                    metric: metric.clone(),
                    window,
                    used,
                    reserved,
                    limit,
                    remaining: limit.saturating_sub(total),
                    percent: percent(total, limit),
                    resets_at: b.end,
                });
            }
        }
        Ok(out)
    }

    /// Whether `items` fit every window; the refusal names the window that frees last.
    fn check(
        &self,
        p: &Params<'_>,
        items: &[(String, u64)],
        now: u64,
    ) -> Result<Outcome, QuotaError> {
        let windows = self.windows(p, items, now)?;
        let mut denied: Option<&WindowStatus> = None;
        for w in &windows {
            let amount = items
                .iter()
                .find(|(m, _)| *m == w.metric)
                .map_or(0, |(_, a)| *a);
            let after = w.used.saturating_add(w.reserved).checked_add(amount);
            let fits = after.is_some_and(|t| t <= w.limit);
            if !fits && denied.is_none_or(|d| w.resets_at > d.resets_at) {
                denied = Some(w);
            }
        }
        let outcome = match denied {
            Some(d) => Outcome {
                allowed: false,
                replayed: false,
                denied_by: Some(format!("{}/{}", d.metric, d.window)),
                retry_after_ms: d.resets_at.saturating_sub(now),
                level: Level::Exceeded,
                windows: windows.clone(),
            },
            None => Outcome {
                allowed: true,
                replayed: false,
                denied_by: None,
                retry_after_ms: 0,
                level: level(p.plan, &windows),
                windows,
            },
        };
        Ok(outcome)
    }

    /// Adds `items` to every window of their metrics; returns the window starts written.
    fn debit(
        &mut self,
        p: &Params<'_>,
        items: &[(String, u64)],
        now: u64,
    ) -> Result<Vec<(String, Window, u64)>, QuotaError> {
        let mut starts = Vec::new();
        for (metric, amount) in items {
            let Some(limits) = p.plan.metric(metric) else {
                continue;
            };
            for (window, _) in limits.windows() {
                let b = p
                    .calendar
                    .bounds(window, now)
                    .ok_or(QuotaError::OutOfRange)?;
                let c = self.usage.entry((metric.clone(), window)).or_default();
                if c.start != b.start {
                    *c = Counter {
                        start: b.start,
                        used: 0,
                    };
                }
                c.used = c.used.saturating_add(*amount);
                starts.push((metric.clone(), window, b.start));
            }
        }
        Ok(starts)
    }

    fn ok_outcome(
        &self,
        p: &Params<'_>,
        items: &[(String, u64)],
        now: u64,
    ) -> Result<Outcome, QuotaError> {
        let windows = self.windows(p, items, now)?;
        Ok(Outcome {
            allowed: true,
            replayed: false,
            denied_by: None,
            retry_after_ms: 0,
            level: level(p.plan, &windows),
            windows,
        })
    }
}

/// Checks every metric is in the plan and adds up a metric named twice, keeping the order
/// of first mention.
fn merge(plan: &Plan, items: &[(String, u64)]) -> Result<Vec<(String, u64)>, QuotaError> {
    if items.is_empty() {
        return Err(QuotaError::NoMetrics);
    }
    let mut out: Vec<(String, u64)> = Vec::with_capacity(items.len());
    for (metric, amount) in items {
        if plan.metric(metric).is_none() {
            return Err(QuotaError::UnknownMetric(metric.clone()));
        }
        match out.iter_mut().find(|(m, _)| m == metric) {
            Some((_, a)) => *a = a.saturating_add(*amount),
            None => out.push((metric.clone(), *amount)),
        }
    }
    Ok(out)
}

fn percent(total: u64, limit: u64) -> u64 {
    if limit == 0 {
        return if total == 0 { 0 } else { 100 };
    }
    u64::try_from(u128::from(total) * 100 / u128::from(limit)).unwrap_or(u64::MAX)
}

/// The level of the fullest window: `exceeded` above its limit, else from the plan's
/// `warn_at` (`[warn, critical]` percentages).
fn level(plan: &Plan, windows: &[WindowStatus]) -> Level {
    let mut level = Level::Ok;
    for w in windows {
        let total = u128::from(w.used) + u128::from(w.reserved);
        let limit = u128::from(w.limit);
        let at = |pct: u32| total * 100 >= limit * u128::from(pct);
        let this = if total > limit {
            Level::Exceeded
        } else if plan.warn_at.get(1).is_some_and(|c| at(*c)) {
            Level::Critical
        } else if plan.warn_at.first().is_some_and(|c| at(*c)) {
            Level::Warn
        } else {
            Level::Ok
        };
        level = level.max(this);
    }
    level
}

/// Resolves the plan of an operation: the `PLAN` argument, else the subject's stored plan,
/// else the default; an unknown name is [`QuotaError::NoPlan`].
/// The name returned is the plans' own key: it outlives the arguments (a caller may then
/// change the subject whose stored plan it resolved).
pub fn resolve_plan<'a>(
    plans: &'a BTreeMap<String, Plan>,
    argument: Option<&str>,
    stored: Option<&str>,
    default: &str,
) -> Result<(&'a str, &'a Plan), QuotaError> {
    let name = argument.or(stored).unwrap_or(default);
    plans
        .get_key_value(name)
        .map(|(k, p)| (k.as_str(), p))
        .ok_or_else(|| QuotaError::NoPlan(name.to_string()))
}
