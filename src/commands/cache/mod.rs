//! Cache commands: CACHE.SET, GET, FETCH, DEL and STATS. The engine is `crate::cache`;
//! `parse` turns arguments into requests; the functions here resolve the type and the
//! plan, lock the entry's shard in the cache's database, keep the books and reply.
//!
//! A CACHE.FETCH that misses while another client fills does not wait in its handler (a
//! handler runs under the world lock for its whole batch): it leaves a [`Wait`] in the
//! client, the batch ends there, and the connection awaits [`resume`] outside every lock
//! before it reads the rest of the pipeline. That is the blocking mechanism for any later
//! blocking command.

pub mod parse;

use super::{CmdError, CmdResult, Ctx};
use crate::cache::catalog::{Ttl, TypeId};
use crate::cache::flight::Turn;
use crate::cache::key::{self, Savings};
use crate::cache::{Cache, Event, Wait};
use crate::protocol::Out;
use crate::state::State;
use crate::store::{Encoding, Entry, ValueRef};
use parse::{Del, Fetch, Get, Set};

fn no_type(name: &[u8]) -> CmdError {
    CmdError::other(format!(
        "NOTYPE no such cache type '{}'",
        super::trunc(name, 128)
    ))
}

fn type_id(cache: &Cache, name: &[u8]) -> Result<TypeId, CmdError> {
    cache.catalog.type_id(name).ok_or_else(|| no_type(name))
}

/// The plan a subject's entries are stored under: the PLAN argument (a plan of `[quota]`),
/// else the plan QUOTA.PLAN stored for the subject (in the client's database), else none
/// (the types' own TTLs).
fn plan_of(
    ctx: &mut Ctx,
    subject: &[u8],
    argument: Option<&[u8]>,
) -> Result<Option<String>, CmdError> {
    if let Some(p) = argument {
        let name = std::str::from_utf8(p)
            .ok()
            .filter(|n| ctx.state.quota.plans.contains_key(*n));
        return match name {
            Some(n) => Ok(Some(n.to_string())),
            None => Err(CmdError::other(format!(
                "NOPLAN no such plan '{}'",
                super::trunc(p, 128)
            ))),
        };
    }
    let mut s = ctx.shard(subject);
    // No hit or miss counted, no access stamp: the app did not read this key.
    Ok(s.peek(subject, ctx.now).and_then(|e| match e.value() {
        ValueRef::Obj(crate::store::entry::Object::Quota(q)) => q.state.plan().map(str::to_owned),
        _ => None,
    }))
}

pub fn cache_set(ctx: &mut Ctx, req: Set) -> CmdResult {
    let cache = &*ctx.state.cache;
    let tid = type_id(cache, req.type_name)?;
    let plan = plan_of(ctx, req.subject, req.plan)?;
    let ttl = cache.catalog.ttl(tid, plan.as_deref(), req.ttl_ms);
    let deadline = match ttl {
        Ttl::Off => {
            ctx.out.int(0);
            return Ok(());
        }
        Ttl::Never => None,
        Ttl::Ms(ms) => Some(ctx.now.saturating_add(ms)),
    };
    let owner = cache.owner(tid, req.subject);
    let value = key::encode_value(
        Savings {
            tokens: req.tokens,
            cost_nanos: req.cost_nanos,
        },
        req.value,
    );
    let ks = &ctx.state.keyspace;
    // Twice at most: looking the old entry up may expire it, and if it was the subject's
    // last, its books (and generation) go with it: the value is then stored under the
    // fresh generation, not under one no lookup will use.
    let mut attempts = 0;
    let stored = loop {
        attempts += 1;
        let generation = cache.books.generation_for_write(owner, tid.0);
        let stored_key = key::encode(tid.0, generation, owner, req.key);
        let mut s = ks.shard(ks.cache_db(), &stored_key);
        let replaced = s.peek(&stored_key, ctx.now).map(|e| e.mem_size() as u64);
        if attempts < 3 && cache.books.generation(owner, tid.0) != Some(generation) {
            continue;
        }
        if req.nx && replaced.is_some() {
            break false;
        } else {
            let entry = match deadline {
                Some(at) => Entry::new_str_expiring(&stored_key, &value, Encoding::Raw, at),
                None => Entry::new_str(&stored_key, &value, Encoding::Raw, 0),
            };
            let bytes = entry.mem_size() as u64;
            s.put(entry, false, ctx.now);
            cache.books.record(
                owner,
                tid.0,
                Some(generation),
                Event::Stored { bytes, replaced },
            );
            break true;
        }
    };
    if stored {
        // Its waiters look again and find it.
        cache.flights.land(&flight_key(tid, owner, req.key));
    }
    ctx.out.int(i64::from(stored));
    Ok(())
}

/// The flight of an entry: its key without a generation, so that a purge during a fill
/// does not strand the waiters.
fn flight_key(tid: TypeId, owner: &[u8], key: &[u8]) -> Vec<u8> {
    key::encode(tid.0, 0, owner, key)
}

/// Looks an entry up; on a hit writes it with `write` (under the shard lock: the value is
/// copied once, into the reply) and books the hit. A miss is not booked here.
fn lookup<R>(
    state: &State,
    tid: TypeId,
    owner: &[u8],
    k: &[u8],
    now: u64,
    write: impl FnOnce(&[u8]) -> R,
) -> Option<R> {
    let cache = &*state.cache;
    let generation = cache.books.generation(owner, tid.0)?;
    let stored_key = key::encode(tid.0, generation, owner, k);
    let ks = &state.keyspace;
    let mut s = ks.shard(ks.cache_db(), &stored_key);
    let e = s.get(&stored_key, now)?;
    let (savings, value) = key::decode_value(e.str()?)?;
    let r = write(value);
    drop(s);
    cache.books.record(
        owner,
        tid.0,
        Some(generation),
        Event::Hit {
            tokens: savings.tokens,
            cost_nanos: savings.cost_nanos,
        },
    );
    Some(r)
}

fn book_miss(cache: &Cache, tid: TypeId, owner: &[u8]) {
    let generation = cache.books.generation(owner, tid.0);
    cache.books.record(owner, tid.0, generation, Event::Miss);
}

pub fn cache_get(ctx: &mut Ctx, req: Get) -> CmdResult {
    let tid = type_id(&ctx.state.cache, req.type_name)?;
    let owner = ctx.state.cache.owner(tid, req.subject);
    let out = &mut *ctx.out;
    if lookup(ctx.state, tid, owner, req.key, ctx.now, |v| out.bulk(v)).is_none() {
        book_miss(&ctx.state.cache, tid, owner);
        ctx.out.null();
    }
    Ok(())
}

fn fetch_reply(out: &mut Out, status: &str, value: Option<&[u8]>) {
    out.map(2);
    out.bulk(b"status");
    out.bulk(status.as_bytes());
    out.bulk(b"value");
    match value {
        Some(v) => out.bulk(v),
        None => out.null(),
    }
}

pub fn cache_fetch(ctx: &mut Ctx, req: Fetch) -> CmdResult {
    let cache = ctx.state.cache.clone();
    let get = req.get;
    let tid = type_id(&cache, get.type_name)?;
    let owner = cache.owner(tid, get.subject);
    let out = &mut *ctx.out;
    let hit = lookup(ctx.state, tid, owner, get.key, ctx.now, |v| {
        fetch_reply(out, "hit", Some(v));
    });
    if hit.is_some() {
        return Ok(());
    }
    book_miss(&cache, tid, owner);
    // A type the subject's plan does not cache: no flight (nothing would land); every
    // caller computes.
    let plan = plan_of(ctx, get.subject, None)?;
    if cache.catalog.ttl(tid, plan.as_deref(), None) == Ttl::Off {
        fetch_reply(ctx.out, "fill", None);
        return Ok(());
    }
    let lease_ms = req.lease_ms.min(ctx.state.cache_max_lease_ms());
    let wait_ms = req.wait_ms.min(ctx.state.cache_max_wait_ms());
    match claim(ctx.state, tid, owner, get.key, ctx.now, lease_ms, ctx.out) {
        Claim::Answered => {}
        // Inside MULTI (or with no WAIT) a fetch cannot block, as Redis's blocking
        // commands do not in a transaction.
        Claim::Wait(_) if wait_ms == 0 || !ctx.client.may_block() => {
            fetch_reply(ctx.out, "timeout", None);
        }
        Claim::Wait(turn) => {
            ctx.client.blocked = Some(crate::session::Blocked::Cache(Wait {
                subject: get.subject.into(),
                type_id: tid,
                key: get.key.into(),
                lease_ms,
                wait_until: ctx.now.saturating_add(wait_ms),
                turn,
            }));
        }
    }
    Ok(())
}

/// What a miss's claim on the fill came to.
enum Claim {
    /// The reply is written: `fill`, or `hit` (the value landed in between).
    Answered,
    /// Another client fills: wait on this turn.
    Wait(Turn),
}

/// After a miss: takes the fill (or waits for another's). A SET may land between the miss
/// and the claim (its flight gone, the value there): a new flight then looks once more, so
/// the late asker gets the value, not a second fill.
fn claim(
    state: &State,
    tid: TypeId,
    owner: &[u8],
    k: &[u8],
    now: u64,
    lease_ms: u64,
    out: &mut Out,
) -> Claim {
    let cache = &*state.cache;
    let fkey = flight_key(tid, owner, k);
    match cache.flights.miss(&fkey, now, lease_ms) {
        Turn::Fill => {
            let hit = lookup(state, tid, owner, k, now, |v| {
                fetch_reply(out, "hit", Some(v))
            });
            if hit.is_some() {
                cache.flights.land(&fkey);
            } else {
                fetch_reply(out, "fill", None);
            }
            Claim::Answered
        }
        turn @ Turn::Wait { .. } => Claim::Wait(turn),
    }
}

/// Waits out a blocked CACHE.FETCH (see the module documentation): looks again each time
/// the flight ends or its lease runs out, until a hit, a turn to fill, or the WAIT is over,
/// and writes the reply to `out` (a hit's value copied once, from the entry under its
/// shard's lock). Holds no lock while it waits. Its miss was booked when it first looked.
pub async fn resume(state: &State, client_id: u64, w: Wait, out: &mut Out) {
    let cache = &*state.cache;
    let owner = cache.owner(w.type_id, &w.subject).to_vec();
    let mut turn = w.turn;
    loop {
        if let Turn::Wait {
            mut signal,
            lease_until,
        } = turn
        {
            let now = state.clock.now_ms();
            let until = w.wait_until.min(lease_until).max(now);
            let pause = std::time::Duration::from_millis(until - now);
            tokio::select! {
                _ = signal.changed() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
        let now = state.clock.now_ms();
        let hit = {
            let _world = state.keyspace.world.read(client_id);
            lookup(state, w.type_id, &owner, &w.key, now, |v| {
                fetch_reply(out, "hit", Some(v));
            })
        };
        if hit.is_some() {
            return;
        }
        match claim(state, w.type_id, &owner, &w.key, now, w.lease_ms, out) {
            Claim::Answered => return,
            Claim::Wait(_) if now >= w.wait_until => return fetch_reply(out, "timeout", None),
            Claim::Wait(t) => turn = t,
        }
    }
}

pub fn cache_del(ctx: &mut Ctx, req: Del) -> CmdResult {
    let cache = &*ctx.state.cache;
    let Some(type_name) = req.type_name else {
        let n = cache.books.purge_subject(req.subject);
        ctx.out.int(i64::try_from(n).unwrap_or(i64::MAX));
        return Ok(());
    };
    let tid = type_id(cache, type_name)?;
    let owner = cache.owner(tid, req.subject);
    let Some(k) = req.key else {
        let n = cache.books.purge_type(owner, tid.0);
        ctx.out.int(i64::try_from(n).unwrap_or(i64::MAX));
        return Ok(());
    };
    let Some(generation) = cache.books.generation(owner, tid.0) else {
        ctx.out.int(0);
        return Ok(());
    };
    let stored_key = key::encode(tid.0, generation, owner, k);
    let ks = &ctx.state.keyspace;
    let removed = ks
        .shard(ks.cache_db(), &stored_key)
        .remove(&stored_key, ctx.now)
        .map(|e| e.mem_size() as u64);
    if let Some(bytes) = removed {
        cache
            .books
            .record(owner, tid.0, Some(generation), Event::Deleted { bytes });
    }
    ctx.out.int(i64::from(removed.is_some()));
    Ok(())
}

fn write_counters(out: &mut Out, c: &crate::cache::Counters) {
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    out.bulk(b"entries");
    out.int(int(c.entries));
    out.bulk(b"bytes");
    out.int(int(c.bytes));
    out.bulk(b"hits");
    out.int(int(c.hits));
    out.bulk(b"misses");
    out.int(int(c.misses));
    out.bulk(b"hit_rate");
    out.double_short(c.hit_rate());
    out.bulk(b"tokens_saved");
    out.int(int(c.tokens_saved));
    out.bulk(b"cost_saved_usd");
    out.double_short(c.cost_saved_usd());
    out.bulk(b"evictions");
    out.int(int(c.evictions));
    out.bulk(b"expired");
    out.int(int(c.expired));
}

/// The fields of one set of counters, `types` excluded.
const COUNTER_FIELDS: usize = 9;

pub fn cache_stats(ctx: &mut Ctx, subject: Option<&[u8]>) -> CmdResult {
    let cache = &*ctx.state.cache;
    let per_type: Vec<crate::cache::Counters> = match subject {
        Some(s) => {
            let mut v = vec![crate::cache::Counters::default(); cache.catalog.len()];
            for (id, c) in cache.books.subject(s) {
                if let Some(slot) = v.get_mut(usize::from(id)) {
                    *slot = c;
                }
            }
            v
        }
        None => cache.books.totals(),
    };
    let mut total = crate::cache::Counters::default();
    for c in &per_type {
        total.add(c);
    }
    let out = &mut *ctx.out;
    out.map(COUNTER_FIELDS + 1);
    write_counters(out, &total);
    out.bulk(b"types");
    out.map(per_type.len());
    for ((_, name), c) in cache.catalog.types().zip(&per_type) {
        out.bulk(name.as_bytes());
        out.map(COUNTER_FIELDS);
        write_counters(out, c);
    }
    Ok(())
}
