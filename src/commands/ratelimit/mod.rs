//! Rate-limit commands: RL.CHECK (inline or named policies, all or nothing), RL.RESET,
//! concurrency leases (RL.ACQUIRE/RELEASE/RENEW) and CL.THROTTLE for redis-cell users. The
//! decisions are `crate::ratelimit`'s pure functions; `parse` turns arguments into requests,
//! the functions here look policies up, store state and reply.
//!
//! At a full memory (over `maxmemory` after eviction; the dispatcher leaves these commands to
//! decide, `flag::OWN_OOM`), state that exists is updated in place and answered as always;
//! a command that would store new state (a new key, a policy's first state in a key, a new
//! lease) answers what `ratelimit.on_full_memory` says instead, and stores nothing.

pub mod parse;

use super::{CmdError, CmdResult, Ctx};
use crate::config::FullMemory;
use crate::ratelimit::lease::{AcquireOutcome, Leases};
use crate::ratelimit::{self, cell, Algo, Decision, Limit};
use crate::store::entry::{Object, RateSlots};
use crate::store::{Encoding, Entry, NotObject, Shard, Slot};
use parse::{cell_error, Acquire, Check, Limits, Release, Renew, Reset, Throttle};
use smallvec::SmallVec;

/// Nanoseconds to whole milliseconds, rounded up (a client waiting this long is admitted).
fn ceil_ms(ns: u64) -> i64 {
    int(ns.div_ceil(1_000_000))
}

/// A count for a reply. Limits, costs and leases come from clients as non-negative i64s, so
/// they fit; anything larger would show as `i64::MAX` rather than wrap negative.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The limits an RL.CHECK checks and, in parallel, their policy names (`None` for the inline
/// form): the inline limit as parsed, or each named policy from the config.
type Resolved<'a> = (
    SmallVec<[Option<&'a [u8]>; ratelimit::INLINE_LIMITS]>,
    SmallVec<[Limit; ratelimit::INLINE_LIMITS]>,
);

fn resolve_limits<'a>(ctx: &Ctx, limits: &Limits<'a>) -> Result<Resolved<'a>, CmdError> {
    let mut out: Resolved = (SmallVec::new(), SmallVec::new());
    match limits {
        Limits::Inline(l) => {
            out.0.push(None);
            out.1.push(*l);
        }
        Limits::Policies(names) => {
            let cfg = ctx.state.config.read();
            for &name in names {
                let name_s = String::from_utf8_lossy(name);
                let Some(p) = cfg.ratelimit.policy(&name_s) else {
                    return Err(CmdError::other(format!(
                        "NOPOLICY no such policy '{name_s}'"
                    )));
                };
                let algo = Algo::parse(p.algo.as_str().as_bytes()).unwrap_or_default();
                let limit = Limit::new(
                    p.limit,
                    p.period.0.saturating_mul(1_000_000),
                    Some(p.burst()),
                    algo,
                )
                .map_err(|e| CmdError::other(format!("ERR policy '{name_s}': {e}")))?;
                out.0.push(Some(name));
                out.1.push(limit);
            }
        }
    }
    Ok(out)
}

/// The name a limit's state is stored under: its policy's, or `""` for the inline form.
fn slot_name<'a>(policy: &Option<&'a [u8]>) -> &'a [u8] {
    policy.unwrap_or_default()
}

/// The name a decision is counted under in INFO: its policy's, or `inline`.
fn stat_name<'a>(policy: &Option<&'a [u8]>) -> std::borrow::Cow<'a, str> {
    policy.map_or("inline".into(), String::from_utf8_lossy)
}

/// The key's deadline (unix ms) for rate-limit state that is whole again at `whole_ns`: never
/// earlier than the key's current one (other policies' slots may need it longer), and in
/// the future.
fn slots_deadline(whole_ns: u64, current_ms: Option<u64>, now_ms: u64) -> u64 {
    whole_ns
        .div_ceil(1_000_000)
        .max(current_ms.unwrap_or(0))
        .max(now_ms.saturating_add(1))
}

/// How long a request denied at a full memory is asked to wait: memory frees up as keys
/// expire (the expiry cycle runs 10 times a second by default) or when an operator acts,
/// and a second is the least an HTTP `Retry-After` can say.
const FULL_MEMORY_RETRY_NS: u64 = 1_000_000_000;

/// What `on_full_memory` applies to this command: `None` while memory is within the limit
/// (the common case: one or two relaxed loads).
fn full_memory(ctx: &Ctx) -> Option<FullMemory> {
    ctx.state
        .memory_full()
        .then(|| ctx.state.rl_on_full_memory())
}

/// Counts an answer given at a full memory and, at most once a minute on the server clock,
/// logs a warning; `-OOM` for the `oom` behaviour.
fn answered_at_full_memory(ctx: &Ctx, how: FullMemory) -> CmdResult {
    let st = ctx.state;
    if let Some(count) = st.ratelimit.full_memory.record(how, ctx.now) {
        tracing::warn!(
            used_memory = st.keyspace.used_fast(),
            maxmemory = st.maxmemory(),
            on_full_memory = how.as_str(),
            count,
            "memory is full: new rate-limit state is not stored, {count} request(s) answered \
             as tollgate-rl-on-full-memory says since the last warning (at most one a minute); \
             state that exists is still answered"
        );
    }
    match how {
        FullMemory::Oom => Err(CmdError::oom()),
        FullMemory::Deny | FullMemory::Allow => Ok(()),
    }
}

/// The denial of a limit whose state could not be stored at a full memory.
fn full_memory_denial(limit: &Limit) -> Decision {
    Decision {
        allowed: false,
        limit: limit.capacity(),
        remaining: 0,
        reset_ns: FULL_MEMORY_RETRY_NS,
        retry_after_ns: Some(FULL_MEMORY_RETRY_NS),
    }
}

fn write_decision(ctx: &mut Ctx, d: &Decision, policy: Option<&[u8]>, extra: usize) {
    let out = &mut *ctx.out;
    out.map(6 + extra);
    out.bulk(b"allowed");
    out.int(d.allowed as i64);
    out.bulk(b"limit");
    out.int(int(d.limit));
    out.bulk(b"remaining");
    out.int(int(d.remaining));
    out.bulk(b"reset_ms");
    out.int(ceil_ms(d.reset_ns));
    out.bulk(b"retry_after_ms");
    out.int(d.retry_after_ns.map_or(-1, ceil_ms));
    out.bulk(b"policy");
    match policy {
        Some(p) => out.bulk(p),
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

pub fn rl_check(ctx: &mut Ctx, req: Check) -> CmdResult {
    let (names, limits) = resolve_limits(ctx, &req.limits)?;
    let key = req.key;
    let now = ctx.now_ns();
    let now_ms = ctx.now;
    let full = full_memory(ctx);
    let mut s = ctx.shard(key);
    let (decisions, full) = s.write(key, now_ms, |slot| {
        let current = slot.deadline();
        let mut slots = match slot.object_mut() {
            Ok(None) => None,
            Ok(Some(Object::RateLimit(v))) => Some(v),
            Ok(Some(_)) | Err(NotObject) => return Err(CmdError::WrongType),
        };
        let states: SmallVec<[Option<ratelimit::State>; ratelimit::INLINE_LIMITS]> = names
            .iter()
            .map(|n| {
                let n = slot_name(n);
                let found = slots.as_ref()?.iter().find(|(sn, _)| &**sn == n);
                found.map(|(_, st)| *st)
            })
            .collect();
        let (mut decisions, new_states) =
            ratelimit::check_all(&states, &limits, req.cost, now, req.peek);
        let Some(new_states) = new_states else {
            return Ok((decisions, None));
        };
        // Only a limit without state yet grows the key; at a full memory its state is not
        // stored, and `on_full_memory` says what the request gets.
        let full = full.filter(|_| states.iter().any(Option::is_none));
        match full {
            Some(FullMemory::Oom) => return Ok((decisions, full)),
            Some(FullMemory::Deny) => {
                // Nothing is charged: the limits with state report it as it is, as when
                // another limit of the set denies.
                for ((d, st), limit) in decisions.iter_mut().zip(&states).zip(&limits) {
                    *d = match st {
                        None => full_memory_denial(limit),
                        Some(st) => ratelimit::check(Some(st), limit, 0, now, true).0,
                    };
                }
                return Ok((decisions, full));
            }
            Some(FullMemory::Allow) | None => {}
        }
        // The key lives until the last of its limits is whole again.
        let whole = decisions
            .iter()
            .map(|d| now.saturating_add(d.reset_ns))
            .max()
            .unwrap_or(now);
        let deadline = Some(slots_deadline(whole, current, now_ms));
        let mut fresh = RateSlots::new();
        let v = slots.as_deref_mut().unwrap_or(&mut fresh);
        for (((name, st), limit), old) in names.iter().zip(new_states).zip(&limits).zip(&states) {
            let name = slot_name(name);
            if full.is_some() && old.is_none() {
                // `allow` at a full memory: admitted as a fresh key, not stored.
                continue;
            }
            if st.expires_at(limit) <= now {
                v.retain(|(n, _)| &**n != name);
            } else if let Some(slot) = v.iter_mut().find(|(n, _)| &**n == name) {
                slot.1 = st;
            } else {
                v.push((name.into(), st));
            }
        }
        let empty = v.is_empty();
        match (slots.is_some(), empty) {
            (true, true) => {
                slot.delete();
            }
            (true, false) => slot.set_deadline(deadline),
            (false, false) => slot.put_object(Object::RateLimit(fresh), deadline),
            (false, true) => {}
        }
        Ok((decisions, full))
    })?;
    drop(s);
    if let Some(how) = full {
        answered_at_full_memory(ctx, how)?;
    }
    let allowed = decisions.iter().all(|d| d.allowed);
    for (name, d) in names.iter().zip(&decisions) {
        ctx.state
            .ratelimit
            .record(&stat_name(name), allowed && d.allowed);
    }
    let i = deciding(&decisions);
    let top = Decision {
        allowed,
        ..decisions[i]
    };
    let multi = limits.len() > 1;
    write_decision(ctx, &top, names[i], multi as usize);
    if multi {
        ctx.out.bulk(b"policies");
        ctx.out.array(decisions.len());
        for (name, d) in names.iter().zip(&decisions) {
            write_decision(ctx, d, *name, 0);
        }
    }
    Ok(())
}

pub fn rl_reset(ctx: &mut Ctx, req: Reset) -> CmdResult {
    let Reset { key, policy } = req;
    let mut s = ctx.shard(key);
    let removed = s.write(key, ctx.now, |slot| {
        let emptied = match slot.object_mut() {
            Ok(None) => return Ok(false),
            Ok(Some(Object::RateLimit(slots))) => {
                let before = slots.len();
                match policy {
                    None => slots.clear(),
                    Some(name) => slots.retain(|(n, _)| &**n != name),
                }
                if slots.len() == before {
                    return Ok(false);
                }
                slots.is_empty()
            }
            // Leases are rate-limit state too (TYPE says so): the whole key resets; they
            // have no policies to pick from.
            Ok(Some(Object::Leases(_))) if policy.is_none() => true,
            Ok(Some(_)) | Err(NotObject) => return Err(CmdError::WrongType),
        };
        if emptied {
            slot.delete();
        } else {
            slot.mark_written();
        }
        Ok(true)
    })?;
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
    s.write(key, now_ms, |slot| {
        let mut fresh = Leases::new();
        let existed = match slot.object_mut() {
            Ok(None) => false,
            Ok(Some(Object::Leases(l))) => {
                std::mem::swap(l, &mut fresh);
                true
            }
            Ok(Some(_)) | Err(NotObject) => return Err(CmdError::WrongType),
        };
        // `fresh` now holds the key's leases (or none); they go back below.
        let mut leases = fresh;
        let (r, changed) = f(&mut leases);
        let last = leases.last_expiry();
        let deadline = last.map(|at| at.div_ceil(1_000_000).max(now_ms.saturating_add(1)));
        match (existed, changed, last.is_some()) {
            // Left as found (only leases already over may have been dropped): a failed
            // release or renew neither deletes the key nor fires a WATCH.
            (true, false, _) => put_back(slot, leases),
            (false, false, _) | (false, true, false) => {}
            (true, true, false) => {
                slot.delete();
            }
            (true, true, true) => {
                put_back(slot, leases);
                slot.set_deadline(deadline);
            }
            (false, true, true) => slot.put_object(Object::Leases(leases), deadline),
        }
        Ok(r)
    })
}

/// Returns leases taken out of a live leases key by `with_leases`.
fn put_back(slot: &mut Slot<'_>, leases: Leases) {
    if let Ok(Some(Object::Leases(l))) = slot.object_mut() {
        *l = leases;
    }
}

fn lease_id() -> Vec<u8> {
    format!("{:016x}", rand::random::<u64>()).into_bytes()
}

pub fn rl_acquire(ctx: &mut Ctx, req: Acquire) -> CmdResult {
    let Acquire {
        key,
        max,
        lease_ns: lease,
        id,
    } = req;
    let cap = ctx.state.rl_max_leases();
    if max > cap {
        return Err(CmdError::other(format!(
            "ERR max must be at most {cap} (tollgate-rl-max-leases)"
        )));
    }
    let now = ctx.now_ns();
    let full = full_memory(ctx);
    let mut s = ctx.shard(key);
    let (outcome, full) = with_leases(&mut s, key, ctx.now, |l| {
        // Only a new lease grows the key; at a full memory it is not stored.
        match full.filter(|_| l.would_add(max, id, now)) {
            None => ((l.acquire(max, lease, id, now, lease_id), None), true),
            Some(how) => (
                (lease_at_full_memory(l, how, max, id, now), Some(how)),
                false,
            ),
        }
    })?;
    drop(s);
    if let Some(how) = full {
        answered_at_full_memory(ctx, how)?;
    }
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
    out.int(int(outcome.in_use));
    out.bulk(b"max");
    out.int(int(outcome.max));
    out.bulk(b"retry_after_ms");
    out.int(outcome.retry_after_ns.map_or(-1, ceil_ms));
    Ok(())
}

/// RL.ACQUIRE's answer when a new lease cannot be stored: a denial (retry in a second), or
/// for `allow` the grant it would have been (its id is not stored: RL.RELEASE of it
/// replies 0). The `oom` answer is an error; this one is not sent.
fn lease_at_full_memory(
    l: &Leases,
    how: FullMemory,
    max: u64,
    id: Option<&[u8]>,
    now: u64,
) -> AcquireOutcome {
    let in_use = l.live(now).count() as u64;
    match how {
        FullMemory::Allow => AcquireOutcome {
            acquired: true,
            lease: Some(id.map_or_else(lease_id, <[u8]>::to_vec)),
            in_use: in_use + 1,
            max,
            retry_after_ns: Some(0),
        },
        FullMemory::Deny | FullMemory::Oom => AcquireOutcome {
            acquired: false,
            lease: None,
            in_use,
            max,
            retry_after_ns: Some(FULL_MEMORY_RETRY_NS),
        },
    }
}

pub fn rl_release(ctx: &mut Ctx, req: Release) -> CmdResult {
    let Release { key, id } = req;
    let now = ctx.now_ns();
    let mut s = ctx.shard(key);
    let done = with_leases(&mut s, key, ctx.now, |l| {
        let done = l.release(id, now);
        (done, done)
    })?;
    ctx.out.int(done as i64);
    Ok(())
}

pub fn rl_renew(ctx: &mut Ctx, req: Renew) -> CmdResult {
    let Renew { key, id, lease_ns } = req;
    let now = ctx.now_ns();
    let mut s = ctx.shard(key);
    let done = with_leases(&mut s, key, ctx.now, |l| {
        let done = l.renew(id, lease_ns, now);
        (done, done)
    })?;
    ctx.out.int(done as i64);
    Ok(())
}

pub fn cl_throttle(ctx: &mut Ctx, req: Throttle) -> CmdResult {
    let Throttle {
        key,
        max_burst,
        count,
        period,
        quantity,
    } = req;
    let now = int(ctx.now_ns());
    let now_ms = ctx.now;
    let full = full_memory(ctx);
    let mut s = ctx.shard(key);
    let (reply, full) = s.write(key, now_ms, |slot| {
        let tat = match slot.entry().map(|e| e.str().map(cell::parse_stored_tat)) {
            None => None,
            Some(None) => return Err(CmdError::WrongType),
            Some(Some(Err(err))) => return Err(cell_error(err)),
            Some(Some(Ok(tat))) => Some(tat),
        };
        let (reply, write) =
            cell::throttle(tat, max_burst, count, period, quantity, now).map_err(cell_error)?;
        // A key that exists is rewritten in place; a new one is not stored at a full memory.
        if let Some(how) = full.filter(|_| write.is_some() && tat.is_none()) {
            let reply = match how {
                FullMemory::Allow => reply,
                FullMemory::Deny | FullMemory::Oom => cell::CellReply {
                    limited: true,
                    remaining: 0,
                    retry_after_s: int(FULL_MEMORY_RETRY_NS / 1_000_000_000),
                    reset_after_s: int(FULL_MEMORY_RETRY_NS / 1_000_000_000),
                    ..reply
                },
            };
            return Ok((reply, Some(how)));
        }
        if let Some((new_tat, ttl_ns)) = write {
            // redis-cell sets a TTL in whole milliseconds; under one, the key is gone.
            match u64::try_from(ttl_ns / 1_000_000).ok().filter(|&ms| ms > 0) {
                None => {
                    slot.delete();
                }
                Some(ttl_ms) => {
                    let mut b = itoa::Buffer::new();
                    let text = b.format(new_tat).as_bytes();
                    let deadline = now_ms.saturating_add(ttl_ms);
                    let enc = Encoding::for_value(text);
                    slot.put(Entry::new_str_expiring(key, text, enc, deadline));
                }
            }
        }
        Ok((reply, None))
    })?;
    drop(s);
    if let Some(how) = full {
        answered_at_full_memory(ctx, how)?;
    }
    ctx.state.ratelimit.record("cl.throttle", !reply.limited);
    ctx.out.array(5);
    for v in reply.to_array() {
        ctx.out.int(v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::test_support::Server;
    use std::time::Duration;

    /// Where one test's log lines go.
    #[derive(Clone, Default)]
    struct Lines(std::sync::Arc<parking_lot::Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lines {
        type Writer = Lines;

        fn make_writer(&'a self) -> Lines {
            self.clone()
        }
    }

    /// At a full memory the warning is logged at the first answer and then at most once a
    /// minute on the server clock, saying how many answers it covers; never per request.
    #[test]
    fn full_memory_is_logged_once_a_minute_on_the_server_clock() {
        let mut s = Server::new();
        s.run("RL.CHECK old 10 1h");
        // Shards report their size in steps of a kilobyte: this one is sure to show.
        s.run(&format!("SET big {}", "v".repeat(4096)));
        assert_eq!(s.run("CONFIG SET maxmemory 1"), "+OK\r\n");
        let lines = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(lines.clone())
            .with_ansi(false)
            .finish();
        let denied = "allowed\r\n:0\r\n";
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..5 {
                assert!(s.run(&format!("RL.CHECK new:{i} 10 1h")).contains(denied));
            }
            assert!(s.run("RL.CHECK old 10 1h").contains("allowed\r\n:1\r\n"));
            s.state.clock.advance(Duration::from_secs(59));
            assert!(s.run("RL.CHECK new:x 10 1h").contains(denied));
            s.state.clock.advance(Duration::from_secs(1));
            assert!(s.run("RL.CHECK new:y 10 1h").contains(denied));
        });
        let text = String::from_utf8(lines.0.lock().clone()).unwrap();
        let warnings: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("memory is full"))
            .collect();
        assert_eq!(warnings.len(), 2, "{text}");
        assert!(warnings[0].contains("count=1"), "{}", warnings[0]);
        assert!(warnings[1].contains("count=6"), "{}", warnings[1]);
        assert!(warnings[1].contains("WARN"), "{}", warnings[1]);
        assert_eq!(s.state.ratelimit.full_memory.counts(), (7, 0, 0));
    }

    /// The lease cap is checked before the key is touched, against the value CONFIG SET
    /// gives it.
    #[test]
    fn lease_cap_is_an_argument_error() {
        let mut s = Server::new();
        assert!(s.run("RL.ACQUIRE k 10000 1h").contains("acquired\r\n:1"));
        let err = "-ERR max must be at most 10000 (tollgate-rl-max-leases)\r\n";
        assert_eq!(s.run("RL.ACQUIRE k 10001 1h"), err);
        assert_eq!(s.run("RL.ACQUIRE k 9223372036854775807 1h"), err);
        s.run("SET str v");
        assert_eq!(s.run("RL.ACQUIRE str 10001 1h"), err, "before WRONGTYPE");
        assert_eq!(s.run("CONFIG SET tollgate-rl-max-leases 2"), "+OK\r\n");
        assert!(s.run("RL.ACQUIRE k 2 1h").contains("acquired\r\n:1"));
        assert_eq!(
            s.run("RL.ACQUIRE k 3 1h"),
            "-ERR max must be at most 2 (tollgate-rl-max-leases)\r\n"
        );
    }

    /// Client-supplied extremes through every rate-limit command: replies (decisions or
    /// errors), never an overflow (a debug build panics on one).
    #[test]
    fn extreme_numbers_reply_instead_of_overflowing() {
        const MAX: &str = "9223372036854775807";
        let mut s = Server::new();
        let lines = [
            format!("RL.CHECK a {MAX} {MAX}ms BURST {MAX} COST {MAX}"),
            format!("RL.CHECK a {MAX} 1ms BURST 1 COST {MAX}"),
            format!("RL.CHECK b 1 {MAX}ms COST 1"),
            format!("RL.CHECK b 1 {MAX}ms COST 1"),
            format!("RL.CHECK c {MAX} 106751991167300d ALGO token-bucket COST {MAX}"),
            format!("RL.CHECK d {MAX} {MAX}ms ALGO sliding-window COST {MAX}"),
            format!("RL.CHECK d {MAX} {MAX}ms ALGO sliding-window COST {MAX}"),
            format!("RL.CHECK e {MAX} {MAX}ms ALGO fixed-window COST {MAX}"),
            format!("RL.CHECK e 1 1ms ALGO fixed-window COST {MAX} PEEK"),
            format!("RL.ACQUIRE f {MAX} {MAX}ms"),
            format!("RL.ACQUIRE f {MAX} {MAX}ms ID x"),
            format!("RL.RENEW f x {MAX}ms"),
            format!("CL.THROTTLE g {MAX} {MAX} {MAX} {MAX}"),
            format!("CL.THROTTLE g {MAX} 1 {MAX}"),
            format!("CL.THROTTLE g 0 1 {MAX} {MAX}"),
            format!("CL.THROTTLE h {MAX} {MAX} 1"),
            format!("CL.THROTTLE h {MAX} {MAX} 1 {MAX}"),
            "CL.THROTTLE i 0 1 1 1".to_string(),
            "CL.THROTTLE i -9223372036854775808 1 1 -9223372036854775808".to_string(),
        ];
        for line in &lines {
            let reply = s.run(line);
            assert!(!reply.is_empty(), "{line}");
        }
    }
}
