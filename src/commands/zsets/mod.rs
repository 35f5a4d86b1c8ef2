//! Sorted-set commands: ZADD and its relatives, ranges by rank, score and lex (and their
//! STORE and REMRANGE forms), pops, ZRANDMEMBER, ZSCAN, and the set operations. Replies and
//! errors follow Redis 7.0's `t_zset.c`, in its order; the value lives in `store::zset`. A
//! write that empties a zset deletes its key, as in Redis. The blocking pops (BZPOPMIN,
//! BZPOPMAX, BZMPOP) are not built; ZUNIONSTORE and friends do not take plain sets as inputs
//! yet (tollgate has no sets on this branch): a set key is WRONGTYPE.

pub mod parse;

use super::{CmdError, CmdResult, Ctx};
use crate::protocol::reply::format_double;
use crate::protocol::Out;
use crate::store::entry::Object;
use crate::store::glob;
use crate::store::zset::ZSet;
use crate::store::{Entry, NotObject, Shard, ValueRef};
use parse::{Add, Aggregate, By, MPop, Op, RandMember, Range, ScoreRange, SetOp};
use rand::Rng;

/// The zset stored in `e`, or WRONGTYPE.
fn zset_of(e: &Entry) -> Result<&ZSet, CmdError> {
    match e.value() {
        ValueRef::Obj(Object::ZSet(z)) => Ok(z),
        _ => Err(CmdError::WrongType),
    }
}

/// Runs `f` on the zset at `key` in `shard` with one lookup, as `hashes::write_hash` does:
/// `f` returns its result and whether it changed the zset (WATCH, save points). A missing
/// key is an empty zset when `create` (stored if `f` leaves members in it), else `f` does
/// not run and the result is `None`. A zset left empty is deleted.
fn write_zset_in<R>(
    shard: &mut Shard,
    key: &[u8],
    now: u64,
    create: bool,
    f: impl FnOnce(&mut ZSet) -> Result<(R, bool), CmdError>,
) -> Result<Option<R>, CmdError> {
    shard.write(key, now, |slot| match slot.object_mut() {
        Ok(Some(Object::ZSet(z))) => {
            let (r, written) = f(z)?;
            if z.is_empty() {
                slot.delete();
            } else if written {
                slot.mark_written();
            }
            Ok(Some(r))
        }
        Ok(None) if create => {
            let mut z = ZSet::new();
            let (r, _) = f(&mut z)?;
            if !z.is_empty() {
                slot.put_object(Object::ZSet(z), None);
            }
            Ok(Some(r))
        }
        Ok(None) => Ok(None),
        Ok(Some(_)) | Err(NotObject) => Err(CmdError::WrongType),
    })
}

fn write_zset<R>(
    ctx: &Ctx,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut ZSet) -> Result<(R, bool), CmdError>,
) -> Result<Option<R>, CmdError> {
    write_zset_in(&mut ctx.shard(key), key, ctx.now, create, f)
}

/// Members, with their scores when asked: RESP2 flattens each pair into the array, RESP3
/// nests it as [member, double], as Redis's range replies do.
fn emit<M: AsRef<[u8]>>(out: &mut Out, items: &[(M, f64)], withscores: bool) {
    let resp3 = out.resp3;
    out.array(if withscores && !resp3 {
        items.len() * 2
    } else {
        items.len()
    });
    for (m, s) in items {
        if withscores && resp3 {
            out.array(2);
        }
        out.bulk(m.as_ref());
        if withscores {
            out.double(*s);
        }
    }
}

pub fn zadd(ctx: &mut Ctx, req: Add) -> CmdResult {
    let limits = ctx.state.keyspace.zset_limits();
    let Add {
        key,
        nx,
        xx,
        gt,
        lt,
        ch,
        incr,
        scores,
        members,
    } = req;
    let done = write_zset(ctx, key, !xx, |z| {
        let (mut added, mut updated, mut processed) = (0i64, 0i64, 0);
        let mut last = 0.0;
        for (&score, &m) in scores.iter().zip(members.iter()) {
            match z.score(m) {
                Some(cur) => {
                    if nx {
                        continue;
                    }
                    let mut new = score;
                    if incr {
                        new += cur;
                        if new.is_nan() {
                            return Err(CmdError::other(
                                "ERR resulting score is not a number (NaN)",
                            ));
                        }
                    }
                    if (lt && new >= cur) || (gt && new <= cur) {
                        continue;
                    }
                    processed += 1;
                    last = new;
                    if new != cur {
                        z.add(m, new, limits);
                        updated += 1;
                    }
                }
                None if xx => {}
                None => {
                    processed += 1;
                    last = score;
                    z.add(m, score, limits);
                    added += 1;
                }
            }
        }
        Ok(((added, updated, processed, last), added + updated > 0))
    })?;
    let (added, updated, processed, last) = done.unwrap_or((0, 0, 0, 0.0));
    if incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
    Ok(())
}

pub fn zincrby(ctx: &mut Ctx, req: Add) -> CmdResult {
    zadd(ctx, req)
}

pub fn zrem(ctx: &mut Ctx, (key, members): (&[u8], &[&[u8]])) -> CmdResult {
    let n = write_zset(ctx, key, false, |z| {
        let mut n = 0i64;
        for m in members {
            if z.remove(m).is_some() {
                n += 1;
            }
            // Redis stops at an emptied zset: the key is gone.
            if z.is_empty() {
                break;
            }
        }
        Ok((n, n > 0))
    })?;
    ctx.out.int(n.unwrap_or(0));
    Ok(())
}

/// Runs `f` on the zset at `key` for reading; `None` when the key is missing.
fn read<R>(
    ctx: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(&ZSet, &mut Out) -> R,
) -> Result<Option<R>, CmdError> {
    let mut s = ctx.shard(key);
    match s.read(key, ctx.now) {
        None => Ok(None),
        Some(e) => Ok(Some(f(zset_of(e)?, ctx.out))),
    }
}

pub fn zcard(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let n = read(ctx, key, |z, _| z.len())?;
    ctx.out.int(n.unwrap_or(0) as i64);
    Ok(())
}

pub fn zscore(ctx: &mut Ctx, (key, member): (&[u8], &[u8])) -> CmdResult {
    match read(ctx, key, |z, _| z.score(member))?.flatten() {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn zmscore(ctx: &mut Ctx, (key, members): (&[u8], &[&[u8]])) -> CmdResult {
    let scores: Vec<Option<f64>> = read(ctx, key, |z, _| {
        members.iter().map(|m| z.score(m)).collect()
    })?
    .unwrap_or_else(|| vec![None; members.len()]);
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn rank(ctx: &mut Ctx, key: &[u8], member: &[u8], rev: bool) -> CmdResult {
    let r = read(ctx, key, |z, _| {
        z.rank(member)
            .map(|(r, _)| if rev { z.len() - 1 - r } else { r })
    })?;
    match r.flatten() {
        Some(r) => ctx.out.int(r as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn zrank(ctx: &mut Ctx, (key, member): (&[u8], &[u8])) -> CmdResult {
    rank(ctx, key, member, false)
}

pub fn zrevrank(ctx: &mut Ctx, (key, member): (&[u8], &[u8])) -> CmdResult {
    rank(ctx, key, member, true)
}

/// The ranks `[lo, hi)` a score or lex interval covers (empty when lo >= hi).
fn bounds(z: &ZSet, by: &By) -> (usize, usize) {
    match by {
        By::Score(r) => (
            z.count_while(|s, _| r.below(s)),
            z.count_while(|s, _| r.within_max(s)),
        ),
        By::Lex(r) => (
            z.count_while(|_, m| r.below(m)),
            z.count_while(|_, m| r.within_max(m)),
        ),
        By::Rank(start, end) => match rank_range(*start, *end, z.len()) {
            Some((a, b)) => (a, b + 1),
            None => (0, 0),
        },
    }
}

/// Redis's clamping of `start..=end` (negative from the end) to ranks.
fn rank_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    crate::store::list::clamp_range(start, end, len)
}

pub fn zcount(ctx: &mut Ctx, (key, range): (&[u8], ScoreRange)) -> CmdResult {
    let n = read(ctx, key, |z, _| {
        let (lo, hi) = bounds(z, &By::Score(range));
        hi.saturating_sub(lo)
    })?;
    ctx.out.int(n.unwrap_or(0) as i64);
    Ok(())
}

pub fn zlexcount(ctx: &mut Ctx, (key, range): (&[u8], parse::LexRange)) -> CmdResult {
    let n = read(ctx, key, |z, _| {
        let (lo, hi) = bounds(z, &By::Lex(range));
        hi.saturating_sub(lo)
    })?;
    ctx.out.int(n.unwrap_or(0) as i64);
    Ok(())
}

/// The ranks a range request selects, and whether they are walked downwards:
/// `(start, end)` with `end` exclusive. O(log n).
fn select(z: &ZSet, req: &Range) -> (usize, usize) {
    let len = z.len();
    match req.by {
        By::Rank(start, end) => match rank_range(start, end, len) {
            // A reversed rank range counts from the highest.
            Some((a, b)) if req.rev => (len - 1 - b, len - a),
            Some((a, b)) => (a, b + 1),
            None => (0, 0),
        },
        _ => {
            let (offset, count) = req.limit.unwrap_or((0, -1));
            if offset > 0 && offset as u64 >= len as u64 {
                return (0, 0);
            }
            let (lo, hi) = bounds(z, &req.by);
            // A negative offset skips everything, as Redis's `while (ln && offset--)` does.
            if lo >= hi || offset < 0 {
                return (0, 0);
            }
            let offset = offset as usize;
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            if offset >= hi - lo {
                return (0, 0);
            }
            if req.rev {
                let end = hi - offset;
                (end.saturating_sub(count).max(lo), end)
            } else {
                let start = lo + offset;
                (start, start.saturating_add(count).min(hi))
            }
        }
    }
}

pub fn zrange(ctx: &mut Ctx, req: Range) -> CmdResult {
    if req.dst.is_some() {
        return zrangestore(ctx, req);
    }
    let mut s = ctx.shard(req.key);
    let Some(e) = s.read(req.key, ctx.now) else {
        ctx.out.array(0);
        return Ok(());
    };
    let z = zset_of(e)?;
    let (start, end) = select(z, &req);
    let items = z.range(start, end, req.rev);
    emit(ctx.out, &items, req.withscores);
    Ok(())
}

/// ZRANGESTORE: the selected members into `dst` (any type it held is replaced, its TTL
/// dropped); an empty selection deletes `dst`.
fn zrangestore(ctx: &mut Ctx, req: Range) -> CmdResult {
    let Some(dst) = req.dst else {
        return Ok(());
    };
    let limits = ctx.state.keyspace.zset_limits();
    let now = ctx.now;
    let mut locked = ctx
        .state
        .keyspace
        .lock_keys(ctx.client.db, [dst, req.key].into_iter());
    let items: Vec<(Box<[u8]>, f64)> = match locked.get(req.key).read(req.key, now) {
        None => Vec::new(),
        Some(e) => {
            let z = zset_of(e)?;
            let (start, end) = select(z, &req);
            z.range(start, end, req.rev)
                .into_iter()
                .map(|(m, s)| (Box::from(m), s))
                .collect()
        }
    };
    let n = items.len();
    let hint = match req.by {
        By::Rank(..) => n,
        _ => 0,
    };
    store(locked.get(dst), dst, now, items, |z, items| {
        let mut z2 = ZSet::with_hint(hint, 0, limits);
        for (m, s) in items {
            z2.add(&m, s, limits);
        }
        *z = z2;
    });
    ctx.out.int(n as i64);
    Ok(())
}

/// Stores a zset built by `build` from `items` at `dst`, or deletes `dst` when there are
/// none (Redis's `setKey` / `dbDelete` of the STORE commands).
fn store(
    shard: &mut Shard,
    dst: &[u8],
    now: u64,
    items: Vec<(Box<[u8]>, f64)>,
    build: impl FnOnce(&mut ZSet, Vec<(Box<[u8]>, f64)>),
) {
    shard.write(dst, now, |slot| {
        if items.is_empty() {
            slot.delete();
        } else {
            let mut z = ZSet::new();
            build(&mut z, items);
            slot.put_object(Object::ZSet(z), None);
        }
    });
}

/// ZREMRANGEBYRANK, BYSCORE, BYLEX.
pub fn zremrange(ctx: &mut Ctx, (key, by): (&[u8], By)) -> CmdResult {
    let n = write_zset(ctx, key, false, |z| {
        let (lo, hi) = bounds(z, &by);
        let n = z.remove_range(lo, hi).len();
        Ok((n, n > 0))
    })?;
    ctx.out.int(n.unwrap_or(0) as i64);
    Ok(())
}

/// Takes up to `n` members from the low or high end.
fn take(z: &mut ZSet, n: usize, max: bool) -> Vec<(Box<[u8]>, f64)> {
    let len = z.len();
    let n = n.min(len);
    if max {
        let mut v = z.remove_range(len - n, len);
        v.reverse();
        v
    } else {
        z.remove_range(0, n)
    }
}

fn pop(ctx: &mut Ctx, (key, count): (&[u8], Option<u64>), max: bool) -> CmdResult {
    if count == Some(0) {
        // The type is still checked: WRONGTYPE, or an empty array.
        read(ctx, key, |_, _| ())?;
        ctx.out.array(0);
        return Ok(());
    }
    let n = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    let popped = write_zset(ctx, key, false, |z| {
        let v = take(z, n, max);
        Ok((v, true))
    })?
    .unwrap_or_default();
    let resp3 = ctx.out.resp3;
    if resp3 && count.is_some() {
        emit(ctx.out, &popped, true);
    } else {
        // One flat array of member, score pairs (RESP3 too without a count).
        ctx.out.array(popped.len() * 2);
        for (m, s) in &popped {
            ctx.out.bulk(m);
            ctx.out.double(*s);
        }
    }
    Ok(())
}

pub fn zpopmin(ctx: &mut Ctx, req: (&[u8], Option<u64>)) -> CmdResult {
    pop(ctx, req, false)
}

pub fn zpopmax(ctx: &mut Ctx, req: (&[u8], Option<u64>)) -> CmdResult {
    pop(ctx, req, true)
}

pub fn zmpop(ctx: &mut Ctx, req: MPop) -> CmdResult {
    let now = ctx.now;
    let mut locked = ctx.state.keyspace.lock_keys(ctx.client.db, req.keys.iter());
    for &key in req.keys {
        if pop_reply(locked.get(key), key, req.max, Some(req.count), now, ctx.out)? {
            return Ok(());
        }
    }
    ctx.out.null_array();
    Ok(())
}

/// Pops from the sorted set at `key`, if there is one, and writes the reply of the blocking
/// pops: one member (`count` none, BZPOPMIN's `[key, member, score]`) or up to `count` (ZMPOP's
/// and BZMPOP's `[key, [[member, score], ...]]`). `Ok(false)`: no sorted set there.
pub fn pop_reply(
    shard: &mut crate::store::Shard,
    key: &[u8],
    max: bool,
    count: Option<u64>,
    now: u64,
    out: &mut Out,
) -> Result<bool, CmdError> {
    let n = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    let popped = write_zset_in(shard, key, now, false, |z| Ok((take(z, n, max), true)))?;
    let Some(v) = popped.filter(|v| !v.is_empty()) else {
        return Ok(false);
    };
    match (count, v.first()) {
        (None, Some((member, score))) => {
            out.array(3);
            out.bulk(key);
            out.bulk(member);
            out.double(*score);
        }
        _ => {
            out.array(2);
            out.bulk(key);
            emit_nested(out, &v);
        }
    }
    Ok(true)
}

/// Pairs as nested [member, score] arrays in both protocols (ZMPOP's shape).
fn emit_nested(out: &mut Out, items: &[(Box<[u8]>, f64)]) {
    out.array(items.len());
    for (m, s) in items {
        out.array(2);
        out.bulk(m);
        out.double(*s);
    }
}

pub fn zrandmember(ctx: &mut Ctx, req: RandMember) -> CmdResult {
    let RandMember {
        key,
        count,
        withscores,
    } = req;
    let mut s = ctx.shard(key);
    let e = s.read(key, ctx.now);
    let mut rng = rand::rng();
    let Some(count) = count else {
        match e {
            None => ctx.out.null(),
            Some(e) => {
                let z = zset_of(e)?;
                match z.get(rng.random_range(0..z.len().max(1))) {
                    Some((m, _)) => ctx.out.bulk(m),
                    None => ctx.out.null(),
                }
            }
        }
        return Ok(());
    };
    let Some(e) = e else {
        ctx.out.array(0);
        return Ok(());
    };
    let z = zset_of(e)?;
    let picks = super::random::picks(z.len(), count, super::random::Whole::Reversed)?;
    // A packed zset is walked once; a skiplist answers a rank in O(log n).
    let all = match z {
        ZSet::Packed(_) => z.iter(),
        ZSet::Skip(_) => Vec::new(),
    };
    let items: Vec<(&[u8], f64)> = picks
        .into_iter()
        .filter_map(|i| all.get(i).copied().or_else(|| z.get(i)))
        .collect();
    emit(ctx.out, &items, withscores);
    Ok(())
}

pub fn zscan(ctx: &mut Ctx, req: super::hashes::parse::Scan) -> CmdResult {
    let mut s = ctx.shard(req.key);
    let Some(e) = s.read(req.key, ctx.now) else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let z = zset_of(e)?;
    let opts = req.options?;
    let mut found: Vec<(&[u8], f64)> = Vec::new();
    let next = z.scan(req.cursor, opts.count, |m, sc| {
        if opts.pattern.is_none_or(|p| glob::matches(p, m, false)) {
            found.push((m, sc));
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len() * 2);
    for (m, sc) in found {
        ctx.out.bulk(m);
        // Redis's d2string, the same text as its %.17g replies.
        ctx.out.bulk(format_double(sc).as_bytes());
    }
    Ok(())
}

/// Redis's `zunionInterAggregate`: a sum that is NaN (inf + -inf) is 0.
fn aggregate(acc: &mut f64, v: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *acc += v;
            if acc.is_nan() {
                *acc = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *acc {
                *acc = v;
            }
        }
        Aggregate::Max => {
            if v > *acc {
                *acc = v;
            }
        }
    }
}

/// A weighted score; NaN (0 × inf) is 0, as in Redis.
fn weighted(w: f64, s: f64) -> f64 {
    let v = w * s;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// ZUNION, ZINTER, ZDIFF, ZINTERCARD and the STORE forms (Redis's
/// `zunionInterDiffGenericCommand`): the keys' types are checked in order before the
/// options; inputs are taken smallest first (for the union and intersection, as Redis's
/// stable sort by cardinality orders them), and the result ordered as a zset.
/// An input of ZUNION and friends: a sorted set, or a plain set whose members all score 1,
/// as Redis reads one.
fn input_of(e: &Entry, limits: crate::store::hash::Limits) -> Result<ZSet, CmdError> {
    if let ValueRef::Obj(Object::Set(set)) = e.value() {
        let mut pairs = Vec::with_capacity(set.len());
        for m in set.iter() {
            m.with_bytes(|b| pairs.push((Box::<[u8]>::from(b), 1.0)));
        }
        // A set has no member twice.
        return ZSet::from_pairs(pairs.into_iter(), limits).map_err(|_| CmdError::WrongType);
    }
    Ok(zset_of(e)?.clone())
}

pub fn set_op(ctx: &mut Ctx, req: SetOp) -> CmdResult {
    let now = ctx.now;
    let limits = ctx.state.keyspace.zset_limits();
    let all = req.dst.into_iter().chain(req.keys.iter().copied());
    let mut locked = ctx.state.keyspace.lock_keys(ctx.client.db, all);
    let mut srcs: Vec<Option<ZSet>> = Vec::with_capacity(req.keys.len());
    for &k in req.keys {
        srcs.push(match locked.get(k).read(k, now) {
            None => None,
            Some(e) => Some(input_of(e, limits)?),
        });
    }
    let opts = req.options?;
    let len = |z: &Option<ZSet>| z.as_ref().map_or(0, ZSet::len);
    let mut order: Vec<usize> = (0..srcs.len()).collect();
    if req.op != Op::Diff {
        order.sort_by_key(|&i| len(&srcs[i]));
    }
    let first = order[0];
    let mut result: Vec<(Box<[u8]>, f64)> = Vec::new();
    let mut card = 0u64;
    match req.op {
        Op::Inter => {
            if let Some(z0) = &srcs[first] {
                for (m, s) in z0.iter() {
                    let mut score = weighted(opts.weights[first], s);
                    let mut all_in = true;
                    for &j in &order[1..] {
                        match srcs[j].as_ref().and_then(|z| z.score(m)) {
                            // Only the first input's weighted score has NaN made 0,
                            // as in Redis: a NaN here makes a sum 0 and is no min or max.
                            Some(v) => aggregate(&mut score, opts.weights[j] * v, opts.aggregate),
                            None => {
                                all_in = false;
                                break;
                            }
                        }
                    }
                    if !all_in {
                        continue;
                    }
                    if req.card {
                        card += 1;
                        if opts.limit > 0 && card >= opts.limit {
                            break;
                        }
                    } else {
                        result.push((Box::from(m), score));
                    }
                }
            }
        }
        Op::Union => {
            let mut acc: std::collections::HashMap<&[u8], f64> = std::collections::HashMap::new();
            for &i in &order {
                let Some(z) = &srcs[i] else { continue };
                for (m, s) in z.iter() {
                    let v = weighted(opts.weights[i], s);
                    acc.entry(m)
                        .and_modify(|a| aggregate(a, v, opts.aggregate))
                        .or_insert(v);
                }
            }
            result = acc.into_iter().map(|(m, s)| (Box::from(m), s)).collect();
        }
        Op::Diff => {
            if let Some(z0) = &srcs[first] {
                for (m, s) in z0.iter() {
                    let elsewhere = srcs[1..]
                        .iter()
                        .any(|z| z.as_ref().is_some_and(|z| z.score(m).is_some()));
                    if !elsewhere {
                        result.push((Box::from(m), s));
                    }
                }
            }
        }
    }
    if req.card {
        ctx.out.int(card as i64);
        return Ok(());
    }
    result.sort_by(|a, b| crate::store::zset::cmp((a.1, &a.0), (b.1, &b.0)));
    match req.dst {
        Some(dst) => {
            let n = result.len();
            store(locked.get(dst), dst, now, result, |z, items| {
                // Built as a skiplist, packed when it fits (Redis's
                // `zsetConvertToListpackIfNeeded`); no member is there twice.
                if let Ok(z2) = ZSet::from_pairs(items.into_iter(), limits) {
                    *z = z2;
                }
            });
            ctx.out.int(n as i64);
        }
        None => emit(ctx.out, &result, opts.withscores),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::test_support::Server;

    #[test]
    fn an_emptied_zset_is_deleted_and_its_memory_given_back() {
        let mut s = Server::new();
        s.run("SET z x");
        s.run("DEL z");
        let base = s.state.keyspace.used_memory();
        s.run("ZADD z 1 a 2 b");
        s.run("EXPIRE z 100");
        assert!(s.state.keyspace.used_memory() > base);
        assert_eq!(s.run("ZREM z a b c"), ":2\r\n");
        assert_eq!(s.run("EXISTS z"), ":0\r\n");
        assert_eq!(s.state.keyspace.used_memory(), base);
        // A big zset's books stay exact through pops and range removals.
        for i in 0..300 {
            s.run(&format!("ZADD z {i} m{i}"));
        }
        assert_eq!(s.run("OBJECT ENCODING z"), "$8\r\nskiplist\r\n");
        s.run("ZPOPMIN z 100");
        s.run("ZREMRANGEBYSCORE z 150 (250");
        assert_eq!(s.run("ZCARD z"), ":100\r\n");
        s.run("ZREMRANGEBYRANK z 0 -1");
        assert_eq!(s.state.keyspace.used_memory(), base);
    }
}
