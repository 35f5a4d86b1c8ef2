//! List commands: pushes and pops at either end, ranges, indexes, LREM, LINSERT, LPOS and
//! LMOVE. Replies and errors follow Redis 7.0's `t_list.c`, in its order; the value lives in
//! `store::list`. A write that empties a list deletes its key, as in Redis. The blocking forms
//! and LMPOP are in `commands::blocking`.

pub mod parse;

use super::{CmdError, CmdResult, Ctx};
use crate::protocol::args;
use crate::store::entry::Object;
use crate::store::list::{clamp_range, resolve, List};
use crate::store::{Entry, NotObject, Shard, ValueRef};
use parse::{Insert, Move, Pop, Pos};

/// The list stored in `e`, or WRONGTYPE.
fn list_of(e: &Entry) -> Result<&List, CmdError> {
    match e.value() {
        ValueRef::Obj(Object::List(l)) => Ok(l),
        _ => Err(CmdError::WrongType),
    }
}

/// Runs `f` on the list at `key` in `shard` with one lookup, as `hashes::write_hash` does:
/// `f` returns its result and whether it changed the list (WATCH, save points). A missing
/// key is an empty list when `create` (stored if `f` leaves elements in it), else `f` does
/// not run and the result is `None`. A list left empty is deleted.
pub(super) fn write_list_in<R>(
    shard: &mut Shard,
    key: &[u8],
    now: u64,
    create: bool,
    f: impl FnOnce(&mut List) -> Result<(R, bool), CmdError>,
) -> Result<Option<R>, CmdError> {
    shard.write(key, now, |slot| match slot.object_mut() {
        Ok(Some(Object::List(l))) => {
            let (r, written) = f(l)?;
            if l.is_empty() {
                slot.delete();
            } else if written {
                slot.mark_written();
            }
            Ok(Some(r))
        }
        Ok(None) if create => {
            let mut l = List::new();
            let (r, _) = f(&mut l)?;
            if !l.is_empty() {
                slot.put_object(Object::List(l), None);
            }
            Ok(Some(r))
        }
        Ok(None) => Ok(None),
        Ok(Some(_)) | Err(NotObject) => Err(CmdError::WrongType),
    })
}

fn write_list<R>(
    ctx: &Ctx,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut List) -> Result<(R, bool), CmdError>,
) -> Result<Option<R>, CmdError> {
    write_list_in(&mut ctx.shard(key), key, ctx.now, create, f)
}

/// LPUSH/RPUSH and their X forms: the list's length after, 0 when X found no key.
fn push(ctx: &mut Ctx, key: &[u8], values: &[&[u8]], left: bool, create: bool) -> CmdResult {
    let len = write_list(ctx, key, create, |l| {
        l.reserve(values.len());
        for v in values {
            if left {
                l.push_front(v);
            } else {
                l.push_back(v);
            }
        }
        Ok((l.len(), true))
    })?;
    ctx.out.int(len.unwrap_or(0) as i64);
    Ok(())
}

pub fn lpush(ctx: &mut Ctx, (key, values): (&[u8], &[&[u8]])) -> CmdResult {
    push(ctx, key, values, true, true)
}

pub fn rpush(ctx: &mut Ctx, (key, values): (&[u8], &[&[u8]])) -> CmdResult {
    push(ctx, key, values, false, true)
}

pub fn lpushx(ctx: &mut Ctx, (key, values): (&[u8], &[&[u8]])) -> CmdResult {
    push(ctx, key, values, true, false)
}

pub fn rpushx(ctx: &mut Ctx, (key, values): (&[u8], &[&[u8]])) -> CmdResult {
    push(ctx, key, values, false, false)
}

/// Pops up to `n` elements from one end (LPOP/RPOP with a count, LMPOP, BLMPOP).
pub(super) fn take_n(l: &mut List, n: u64, left: bool) -> Vec<Box<[u8]>> {
    let n = usize::try_from(n).unwrap_or(usize::MAX).min(l.len());
    (0..n)
        .filter_map(|_| if left { l.pop_front() } else { l.pop_back() })
        .collect()
}

/// LPOP/RPOP. Without a count: one element or nil. With one: a missing key is the null
/// array (`*-1`, RESP3 `_`), a count of 0 on a list an empty array, else up to `count`
/// elements.
fn pop(ctx: &mut Ctx, (key, count): Pop, left: bool) -> CmdResult {
    let take = |l: &mut List| if left { l.pop_front() } else { l.pop_back() };
    let Some(n) = count else {
        match write_list(ctx, key, false, |l| Ok((take(l), true)))?.flatten() {
            Some(v) => ctx.out.bulk(&v),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let popped = write_list(ctx, key, false, |l| {
        let v = take_n(l, n, left);
        let written = !v.is_empty();
        Ok((v, written))
    })?;
    match popped {
        None => ctx.out.null_array(),
        Some(v) => {
            ctx.out.array(v.len());
            for x in &v {
                ctx.out.bulk(x);
            }
        }
    }
    Ok(())
}

pub fn lpop(ctx: &mut Ctx, req: Pop) -> CmdResult {
    pop(ctx, req, true)
}

pub fn rpop(ctx: &mut Ctx, req: Pop) -> CmdResult {
    pop(ctx, req, false)
}

pub fn llen(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let mut s = ctx.shard(key);
    let n = match s.read(key, ctx.now) {
        None => 0,
        Some(e) => list_of(e)?.len(),
    };
    ctx.out.int(n as i64);
    Ok(())
}

pub fn lrange(ctx: &mut Ctx, (key, start, stop): (&[u8], i64, i64)) -> CmdResult {
    let mut s = ctx.shard(key);
    let Some(e) = s.read(key, ctx.now) else {
        ctx.out.array(0);
        return Ok(());
    };
    let l = list_of(e)?;
    match clamp_range(start, stop, l.len()) {
        None => ctx.out.array(0),
        Some((a, b)) => {
            ctx.out.array(b - a + 1);
            for v in l.iter().skip(a).take(b - a + 1) {
                ctx.out.bulk(v);
            }
        }
    }
    Ok(())
}

pub fn lindex(ctx: &mut Ctx, (key, index): (&[u8], &[u8])) -> CmdResult {
    let mut s = ctx.shard(key);
    let Some(e) = s.read(key, ctx.now) else {
        ctx.out.null();
        return Ok(());
    };
    let l = list_of(e)?;
    let index = args::int(index)?;
    match resolve(index, l.len()).and_then(|i| l.get(i)) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn lset(ctx: &mut Ctx, (key, index, value): (&[u8], &[u8], &[u8])) -> CmdResult {
    let done = write_list(ctx, key, false, |l| {
        let index = args::int(index)?;
        let i = resolve(index, l.len()).ok_or_else(|| CmdError::other("ERR index out of range"))?;
        l.set(i, value);
        Ok(((), true))
    })?;
    done.ok_or(CmdError::NoSuchKey)?;
    ctx.out.ok();
    Ok(())
}

pub fn ltrim(ctx: &mut Ctx, (key, start, stop): (&[u8], i64, i64)) -> CmdResult {
    write_list(ctx, key, false, |l| {
        l.trim(clamp_range(start, stop, l.len()));
        // Redis signals the key as modified whatever the range.
        Ok(((), true))
    })?;
    ctx.out.ok();
    Ok(())
}

pub fn lrem(ctx: &mut Ctx, (key, count, value): (&[u8], i64, &[u8])) -> CmdResult {
    let removed = write_list(ctx, key, false, |l| {
        let n = l.remove_eq(value, count);
        Ok((n, n > 0))
    })?;
    ctx.out.int(removed.unwrap_or(0) as i64);
    Ok(())
}

pub fn linsert(ctx: &mut Ctx, req: Insert) -> CmdResult {
    let Insert {
        key,
        after,
        pivot,
        value,
    } = req;
    let len = write_list(ctx, key, false, |l| {
        let at = l.iter().position(|v| v == pivot);
        match at {
            Some(i) => {
                l.insert(if after { i + 1 } else { i }, value);
                Ok((l.len() as i64, true))
            }
            None => Ok((-1, false)),
        }
    })?;
    ctx.out.int(len.unwrap_or(0));
    Ok(())
}

pub fn lpos(ctx: &mut Ctx, req: Pos) -> CmdResult {
    let mut s = ctx.shard(req.key);
    let Some(e) = s.read(req.key, ctx.now) else {
        match req.count {
            Some(_) => ctx.out.array(0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let l = list_of(e)?;
    let from_tail = req.rank < 0;
    // Redis negates the rank in a C long: i64::MIN stays negative, so every match counts
    // from the first and COUNT never stops the walk.
    let (rank, count) = if req.rank == i64::MIN {
        (1, req.count.map(|_| 0))
    } else {
        (req.rank.unsigned_abs(), req.count)
    };
    let len = l.len();
    let limit = match req.maxlen {
        0 => len,
        m => usize::try_from(m).unwrap_or(usize::MAX).min(len),
    };
    let mut found = Vec::new();
    let mut matches = 0u64;
    for step in 0..limit {
        let i = if from_tail { len - 1 - step } else { step };
        if l.get(i) != Some(req.element) {
            continue;
        }
        matches += 1;
        if matches >= rank {
            found.push(i);
            match count {
                None => break,
                Some(c) if c > 0 && matches - rank + 1 >= c => break,
                Some(_) => {}
            }
        }
    }
    match count {
        Some(_) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.int(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => ctx.out.int(i as i64),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

/// The kind of list `key` holds: `Ok(false)` when missing, WRONGTYPE when not a list.
pub(super) fn is_list(shard: &mut Shard, key: &[u8], now: u64) -> Result<bool, CmdError> {
    shard.write(key, now, |slot| match slot.entry() {
        None => Ok(false),
        Some(e) => list_of(e).map(|_| true),
    })
}

/// LMOVE and RPOPLPUSH: pops from the source, pushes to the destination, replies the
/// element (nil when the source is missing). Both types are checked before anything moves.
fn move_generic(ctx: &mut Ctx, req: Move) -> CmdResult {
    match move_in(ctx.state, ctx.client.db, ctx.now, req, false)? {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// The move itself, in database `db`: the element moved, or `None` when the source holds
/// no list (missing; or, for a blocked client being served (`only_lists`), of another type,
/// which it keeps waiting through).
pub(super) fn move_in(
    state: &crate::state::State,
    db: usize,
    now: u64,
    (src, dst, from_left, to_left): Move,
    only_lists: bool,
) -> Result<Option<Box<[u8]>>, CmdError> {
    let mut pair = state.keyspace.lock_pair((db, src), (db, dst));
    let (a, b) = pair.split();
    match is_list(a, src, now) {
        Ok(true) => {}
        Ok(false) | Err(_) if only_lists => return Ok(None),
        Ok(false) => return Ok(None),
        Err(e) => return Err(e),
    }
    let pop = |l: &mut List| {
        if from_left {
            l.pop_front()
        } else {
            l.pop_back()
        }
    };
    let push = |l: &mut List, v: &[u8]| {
        if to_left {
            l.push_front(v);
        } else {
            l.push_back(v);
        }
    };
    if src == dst {
        // One list: the element goes round without the key ever being empty (its TTL stays).
        let v = write_list_in(a, src, now, false, |l| {
            let v = pop(l);
            if let Some(v) = &v {
                push(l, v);
            }
            Ok((v, true))
        })?;
        return Ok(v.flatten());
    }
    let d = match b {
        Some(b) => b,
        None => &mut *a,
    };
    is_list(d, dst, now)?;
    let (a, b) = pair.split();
    let v = write_list_in(a, src, now, false, |l| Ok((pop(l), true)))?.flatten();
    if let Some(v) = &v {
        let d = b.unwrap_or(a);
        write_list_in(d, dst, now, true, |l| {
            push(l, v);
            Ok(((), true))
        })?;
    }
    Ok(v)
}

pub fn lmove(ctx: &mut Ctx, req: Move) -> CmdResult {
    move_generic(ctx, req)
}

pub fn rpoplpush(ctx: &mut Ctx, req: Move) -> CmdResult {
    move_generic(ctx, req)
}
