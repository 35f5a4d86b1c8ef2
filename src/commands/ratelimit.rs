//! Rate-limit commands: RL.CHECK (inline or named policies, all or nothing), RL.RESET,
//! concurrency leases (RL.ACQUIRE/RELEASE/RENEW) and CL.THROTTLE for redis-cell users. The
//! decisions are `crate::ratelimit`'s pure functions; this file parses, stores and replies.

use super::{CmdError, CmdResult, Ctx};
use crate::duration::parse_duration_ms;
use crate::protocol::args::{self, is};
use crate::ratelimit::{self, cell, lease::Leases, Algo, Decision, Limit};
use crate::store::entry::{Object, RateSlot, RateSlots};
use crate::store::{Encoding, Entry, NotObject, Shard, Update, Write};
use smallvec::SmallVec;

/// Nanoseconds to whole milliseconds, rounded up (a client waiting this long is admitted).
fn ceil_ms(ns: u64) -> i64 {
    ns.div_ceil(1_000_000) as i64
}

/// A duration argument (`60`, `500ms`, `10m`) in nanoseconds; zero is refused.
fn duration_ns(arg: &[u8], what: &str) -> Result<u64, CmdError> {
    match parse_duration_ms(arg) {
        Some(ms) if ms > 0 => Ok(ms.saturating_mul(1_000_000)),
        _ => Err(CmdError::other(format!(
            "ERR {what} must be a positive duration such as 60, 500ms, 10m, 1h or 1d"
        ))),
    }
}

/// What one RL.CHECK asks for: the limits to check and, in parallel, their policy names
/// (`None` for the inline form).
struct Request {
    names: SmallVec<[Option<String>; ratelimit::INLINE_LIMITS]>,
    limits: SmallVec<[Limit; ratelimit::INLINE_LIMITS]>,
    cost: u64,
    peek: bool,
}

fn policy_limit(ctx: &Ctx, name: &[u8]) -> Result<Limit, CmdError> {
    let cfg = ctx.state.config.read();
    let name_s = String::from_utf8_lossy(name);
    let Some(p) = cfg.ratelimit.policy(&name_s) else {
        return Err(CmdError::other(format!(
            "NOPOLICY no such policy '{name_s}'"
        )));
    };
    let algo = Algo::parse(p.algo.as_str().as_bytes()).unwrap_or_default();
    Limit::new(
        p.limit,
        p.period.0.saturating_mul(1_000_000),
        Some(p.burst()),
        algo,
    )
    .map_err(|e| CmdError::other(format!("ERR policy '{name_s}': {e}")))
}

fn parse_check(ctx: &Ctx, args: &[&[u8]]) -> Result<Request, CmdError> {
    let mut req = Request {
        names: SmallVec::new(),
        limits: SmallVec::new(),
        cost: 1,
        peek: false,
    };
    let mut i;
    let mut inline: Option<(u64, u64, Option<u64>, Algo)> = None;
    if is(args[2], "POLICY") {
        i = 2;
    } else {
        if args.len() < 4 {
            return Err(CmdError::WrongArgs("rl.check".into()));
        }
        let limit = args::uint(args[2])?;
        let period = duration_ns(args[3], "period")?;
        inline = Some((limit, period, None, Algo::Gcra));
        i = 4;
    }
    while i < args.len() {
        let opt = args[i];
        let val = args.get(i + 1).copied();
        match (inline.as_mut(), val) {
            (None, Some(name)) if is(opt, "POLICY") => {
                let name_s = String::from_utf8_lossy(name).into_owned();
                if req.names.iter().any(|n| n.as_deref() == Some(&name_s)) {
                    return Err(CmdError::other(format!(
                        "ERR policy '{name_s}' given twice"
                    )));
                }
                req.limits.push(policy_limit(ctx, name)?);
                req.names.push(Some(name_s));
                i += 2;
                continue;
            }
            (Some(inl), Some(v)) if is(opt, "BURST") => inl.2 = Some(args::uint(v)?),
            (Some(inl), Some(v)) if is(opt, "ALGO") => {
                inl.3 = Algo::parse(v).ok_or_else(|| {
                    CmdError::other(
                        "ERR ALGO must be one of gcra, token-bucket, sliding-window, fixed-window",
                    )
                })?
            }
            (_, Some(v)) if is(opt, "COST") => req.cost = args::uint(v)?,
            _ if is(opt, "PEEK") => {
                req.peek = true;
                i += 1;
                continue;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 2;
    }
    if let Some((limit, period, burst, algo)) = inline {
        let l = Limit::new(limit, period, burst, algo)
            .map_err(|e| CmdError::other(format!("ERR {e}")))?;
        req.limits.push(l);
        req.names.push(None);
    }
    Ok(req)
}

/// The rate-limit slots in a key's value: empty for an absent key, `None` for another type.
fn slots_of(obj: &Option<Object>) -> Option<&[RateSlot]> {
    match obj {
        None => Some(&[]),
        Some(Object::RateLimit(v)) => Some(v),
        Some(_) => None,
    }
}

/// The name a limit's state is stored under: its policy's, or `""` for the inline form.
fn slot_name(policy: &Option<String>) -> &[u8] {
    policy.as_deref().unwrap_or("").as_bytes()
}

/// The key's deadline (unix ms) for rate-limit state that is whole again at `whole_ns`: never
/// earlier than the key's current one (other policies' slots may need it longer), and in
/// the future.
fn slots_deadline(whole_ns: u64, current_ms: Option<u64>, now_ms: u64) -> u64 {
    whole_ns
        .div_ceil(1_000_000)
        .max(current_ms.unwrap_or(0))
        .max(now_ms + 1)
}

fn write_decision(ctx: &mut Ctx, d: &Decision, policy: Option<&str>, extra: usize) {
    let out = &mut *ctx.out;
    out.map(6 + extra);
    out.bulk(b"allowed");
    out.int(d.allowed as i64);
    out.bulk(b"limit");
    out.int(d.limit as i64);
    out.bulk(b"remaining");
    out.int(d.remaining as i64);
    out.bulk(b"reset_ms");
    out.int(ceil_ms(d.reset_ns));
    out.bulk(b"retry_after_ms");
    out.int(d.retry_after_ns.map_or(-1, ceil_ms));
    out.bulk(b"policy");
    match policy {
        Some(p) => out.bulk(p.as_bytes()),
        None => out.null(),
    }
}

/// Which decision speaks for the request: the denying one that asks to wait longest, else
/// the tightest admitting one (fewest remaining), so headers show the binding limit.
fn deciding(decisions: &[Decision]) -> usize {
    let wait = |d: &Decision| d.retry_after_ns.unwrap_or(u64::MAX);
    let denied = decisions
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.allowed)
        .max_by_key(|(_, d)| wait(d));
    match denied {
        Some((i, _)) => i,
        None => decisions
            .iter()
            .enumerate()
            .min_by_key(|(_, d)| d.remaining)
            .map_or(0, |(i, _)| i),
    }
}

pub fn rl_check(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let req = parse_check(ctx, args)?;
    let key = args[1];
    let now = ctx.now_ns();
    let now_ms = ctx.now;
    let mut s = ctx.shard(key);
    let decisions = s
        .update_obj(key, now_ms, |obj, current| {
            let Some(slots) = slots_of(obj) else {
                return (Err(CmdError::WrongType), Update::Unchanged);
            };
            let states: SmallVec<[Option<ratelimit::State>; ratelimit::INLINE_LIMITS]> = req
                .names
                .iter()
                .map(|n| {
                    let n = slot_name(n);
                    slots.iter().find(|(sn, _)| &**sn == n).map(|(_, st)| *st)
                })
                .collect();
            let (decisions, new_states) =
                ratelimit::check_all(&states, &req.limits, req.cost, now, req.peek);
            let Some(new_states) = new_states else {
                return (Ok(decisions), Update::Unchanged);
            };
            let mut slots = match obj.take() {
                Some(Object::RateLimit(v)) => v,
                _ => RateSlots::new(),
            };
            for ((name, st), limit) in req.names.iter().zip(new_states).zip(&req.limits) {
                let name = slot_name(name);
                if st.expires_at(limit) <= now {
                    slots.retain(|(n, _)| &**n != name);
                } else if let Some(slot) = slots.iter_mut().find(|(n, _)| &**n == name) {
                    slot.1 = st;
                } else {
                    slots.push((name.into(), st));
                }
            }
            // The key lives until the last of its limits is whole again.
            let whole = decisions
                .iter()
                .map(|d| now.saturating_add(d.reset_ns))
                .max()
                .unwrap_or(now);
            let deadline = slots_deadline(whole, current, now_ms);
            if !slots.is_empty() {
                *obj = Some(Object::RateLimit(slots));
            }
            (
                Ok(decisions),
                Update::Write {
                    deadline: Some(deadline),
                },
            )
        })
        .map_err(|NotObject| CmdError::WrongType)??;
    drop(s);
    let allowed = decisions.iter().all(|d| d.allowed);
    for (name, d) in req.names.iter().zip(&decisions) {
        ctx.state
            .ratelimit
            .record(name.as_deref().unwrap_or("inline"), allowed && d.allowed);
    }
    let i = deciding(&decisions);
    let top = Decision {
        allowed,
        ..decisions[i]
    };
    let multi = req.limits.len() > 1;
    write_decision(ctx, &top, req.names[i].as_deref(), multi as usize);
    if multi {
        ctx.out.bulk(b"policies");
        ctx.out.array(decisions.len());
        for (name, d) in req.names.iter().zip(&decisions) {
            write_decision(ctx, d, name.as_deref(), 0);
        }
    }
    Ok(())
}

pub fn rl_reset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let policy: Option<&[u8]> = match args.len() {
        2 => None,
        4 if is(args[2], "POLICY") => Some(args[3]),
        _ => return Err(CmdError::Syntax),
    };
    let mut s = ctx.shard(key);
    let removed = s
        .update_obj(key, ctx.now, |obj, current| match obj {
            None => (Ok(false), Update::Unchanged),
            Some(Object::RateLimit(slots)) => {
                let before = slots.len();
                match policy {
                    None => slots.clear(),
                    Some(name) => slots.retain(|(n, _)| &**n != name),
                }
                if slots.len() == before {
                    return (Ok(false), Update::Unchanged);
                }
                if slots.is_empty() {
                    *obj = None;
                }
                (Ok(true), Update::Write { deadline: current })
            }
            // Leases are rate-limit state too (TYPE says so): the whole key resets; they
            // have no policies to pick from.
            Some(Object::Leases(_)) if policy.is_none() => {
                *obj = None;
                (Ok(true), Update::Write { deadline: None })
            }
            Some(_) => (Err(CmdError::WrongType), Update::Unchanged),
        })
        .map_err(|NotObject| CmdError::WrongType)??;
    ctx.out.int(removed as i64);
    Ok(())
}

/// Runs `f` on the leases under `key` (none when absent) with one lookup; the key is
/// rewritten when `f` says it changed them, with a TTL at the last lease's expiry, and
/// deleted once no lease is left. WRONGTYPE for anything but leases.
fn with_leases<R>(
    s: &mut Shard,
    key: &[u8],
    now_ms: u64,
    f: impl FnOnce(&mut Leases) -> (R, bool),
) -> Result<R, CmdError> {
    s.update_obj(key, now_ms, |obj, _| {
        let mut leases = match obj.take() {
            None => Leases::new(),
            Some(Object::Leases(l)) => l,
            Some(other) => {
                *obj = Some(other);
                return (Err(CmdError::WrongType), Update::Unchanged);
            }
        };
        let (r, changed) = f(&mut leases);
        if !changed {
            // Left as found (only leases already over may have been dropped): a failed
            // release or renew neither deletes the key nor fires a WATCH.
            *obj = Some(Object::Leases(leases));
            return (Ok(r), Update::Unchanged);
        }
        let last = leases.last_expiry();
        if last.is_some() {
            *obj = Some(Object::Leases(leases));
        }
        let deadline = last.map(|at| at.div_ceil(1_000_000).max(now_ms + 1));
        (Ok(r), Update::Write { deadline })
    })
    .map_err(|NotObject| CmdError::WrongType)?
}

fn lease_id() -> Vec<u8> {
    format!("{:016x}", rand::random::<u64>()).into_bytes()
}

pub fn rl_acquire(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let max = args::uint(args[2])?;
    let lease = duration_ns(args[3], "lease")?;
    let id = match args.len() {
        4 => None,
        6 if is(args[4], "ID") => Some(args[5]),
        _ => return Err(CmdError::Syntax),
    };
    let now = ctx.now_ns();
    let mut s = ctx.shard(key);
    let outcome = with_leases(&mut s, key, ctx.now, |l| {
        (l.acquire(max, lease, id, now, lease_id), true)
    })?;
    drop(s);
    ctx.state.ratelimit.record("leases", outcome.acquired);
    let out = &mut *ctx.out;
    out.map(5);
    out.bulk(b"acquired");
    out.int(outcome.acquired as i64);
    out.bulk(b"lease");
    match &outcome.lease {
        Some(l) => out.bulk(l),
        None => out.null(),
    }
    out.bulk(b"in_use");
    out.int(outcome.in_use as i64);
    out.bulk(b"max");
    out.int(outcome.max as i64);
    out.bulk(b"retry_after_ms");
    out.int(outcome.retry_after_ns.map_or(-1, ceil_ms));
    Ok(())
}

pub fn rl_release(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let now = ctx.now_ns();
    let mut s = ctx.shard(key);
    let done = with_leases(&mut s, key, ctx.now, |l| {
        let done = l.release(args[2], now);
        (done, done)
    })?;
    ctx.out.int(done as i64);
    Ok(())
}

pub fn rl_renew(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let lease = duration_ns(args[3], "lease")?;
    let now = ctx.now_ns();
    let mut s = ctx.shard(key);
    let done = with_leases(&mut s, key, ctx.now, |l| {
        let done = l.renew(args[2], lease, now);
        (done, done)
    })?;
    ctx.out.int(done as i64);
    Ok(())
}

pub fn cl_throttle(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cell_err = |e: cell::CellError| CmdError::other(e.to_string());
    if args.len() != 5 && args.len() != 6 {
        return Err(cell_err(cell::CellError::Usage));
    }
    let key = args[1];
    let max_burst = cell::parse_arg(args[2]).map_err(cell_err)?;
    let count = cell::parse_arg(args[3]).map_err(cell_err)?;
    let period = cell::parse_arg(args[4]).map_err(cell_err)?;
    let quantity = match args.get(5) {
        Some(q) => cell::parse_arg(q).map_err(cell_err)?,
        None => 1,
    };
    let now = ctx.now_ns() as i64;
    let now_ms = ctx.now;
    let mut s = ctx.shard(key);
    let reply = s.upsert(key, now_ms, |e| {
        let tat = match e.map(|e| e.str().map(cell::parse_stored_tat)) {
            None => None,
            Some(None) => return (Err(CmdError::WrongType), Write::Keep),
            Some(Some(Err(err))) => return (Err(cell_err(err)), Write::Keep),
            Some(Some(Ok(tat))) => Some(tat),
        };
        let (reply, write) = match cell::throttle(tat, max_burst, count, period, quantity, now) {
            Ok(r) => r,
            Err(err) => return (Err(cell_err(err)), Write::Keep),
        };
        let write = match write {
            None => Write::Keep,
            // redis-cell sets a TTL in whole milliseconds; under one, the key is gone.
            Some((_, ttl_ns)) if ttl_ns / 1_000_000 <= 0 => Write::Delete,
            Some((new_tat, ttl_ns)) => {
                let mut b = itoa::Buffer::new();
                let text = b.format(new_tat).as_bytes();
                let deadline = now_ms + (ttl_ns / 1_000_000) as u64;
                let enc = Encoding::for_value(text);
                Write::Put(Entry::new_str_expiring(key, text, enc, deadline))
            }
        };
        (Ok(reply), write)
    })?;
    drop(s);
    ctx.state.ratelimit.record("cl.throttle", !reply.limited);
    ctx.out.array(5);
    for v in reply.to_array() {
        ctx.out.int(v);
    }
    Ok(())
}
