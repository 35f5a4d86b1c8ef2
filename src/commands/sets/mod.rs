//! Set commands: SADD and its relatives, random picks, SMOVE, the algebra (SINTER, SUNION,
//! SDIFF, their STORE forms, SINTERCARD) and SSCAN. Replies and errors follow Redis 7.0's
//! `t_set.c`, in its order; the value lives in `store::set`. A write that empties a set
//! deletes its key; a STORE command replaces whatever its destination held (its TTL too)
//! and deletes it when the result is empty, as in Redis.

pub mod parse;

use super::{CmdError, CmdResult, Ctx};
use crate::protocol::Out;
use crate::store::entry::Object;
use crate::store::set::{Member, Set};
use crate::store::{glob, Entry, Locked, NotObject, Shard, ValueRef};
use rand::Rng;

/// The set stored in `e`, or WRONGTYPE.
fn set_of(e: &Entry) -> Result<&Set, CmdError> {
    match e.value() {
        ValueRef::Obj(Object::Set(s)) => Ok(s),
        _ => Err(CmdError::WrongType),
    }
}

fn member(out: &mut Out, m: Member<'_>) {
    match m {
        Member::Int(i) => out.bulk_int(i),
        Member::Bytes(b) => out.bulk(b),
    }
}

/// Runs `f` on the set at `key` in `shard` with one lookup, as `hashes::write_hash` does:
/// `f` returns its result and whether it changed the set (WATCH, save points). A missing
/// key is a new set able to hold `create`'s member when given (stored if `f` leaves
/// members in it), else `f` does not run and the result is `None`. A set left empty is
/// deleted.
fn write_set_in<R>(
    shard: &mut Shard,
    key: &[u8],
    now: u64,
    create: Option<&[u8]>,
    f: impl FnOnce(&mut Set) -> Result<(R, bool), CmdError>,
) -> Result<Option<R>, CmdError> {
    shard.write(key, now, |slot| match slot.object_mut() {
        Ok(Some(Object::Set(s))) => {
            let (r, written) = f(s)?;
            if s.is_empty() {
                slot.delete();
            } else if written {
                slot.mark_written();
            }
            Ok(Some(r))
        }
        Ok(None) => match create {
            Some(first) => {
                let mut s = Set::for_member(first);
                let (r, _) = f(&mut s)?;
                if !s.is_empty() {
                    slot.put_object(Object::Set(s), None);
                }
                Ok(Some(r))
            }
            None => Ok(None),
        },
        Ok(Some(_)) | Err(NotObject) => Err(CmdError::WrongType),
    })
}

fn write_set<R>(
    ctx: &Ctx,
    key: &[u8],
    create: Option<&[u8]>,
    f: impl FnOnce(&mut Set) -> Result<(R, bool), CmdError>,
) -> Result<Option<R>, CmdError> {
    write_set_in(&mut ctx.shard(key), key, ctx.now, create, f)
}

pub fn sadd(ctx: &mut Ctx, (key, members): (&[u8], &[&[u8]])) -> CmdResult {
    let max = ctx.state.keyspace.max_intset();
    let added = write_set(ctx, key, members.first().copied(), |s| {
        let n = members.iter().filter(|m| s.add(m, max)).count();
        Ok((n, n > 0))
    })?;
    ctx.out.int(added.unwrap_or(0) as i64);
    Ok(())
}

pub fn srem(ctx: &mut Ctx, (key, members): (&[u8], &[&[u8]])) -> CmdResult {
    let removed = write_set(ctx, key, None, |s| {
        let mut n = 0;
        for m in members {
            if s.remove(m) {
                n += 1;
                // Redis stops at the last member: the key is gone.
                if s.is_empty() {
                    break;
                }
            }
        }
        Ok((n, n > 0))
    })?;
    ctx.out.int(removed.unwrap_or(0));
    Ok(())
}

pub fn smembers(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let mut s = ctx.shard(key);
    let Some(e) = s.read(key, ctx.now) else {
        ctx.out.set(0);
        return Ok(());
    };
    let set = set_of(e)?;
    ctx.out.set(set.len());
    for m in set.iter() {
        member(ctx.out, m);
    }
    Ok(())
}

/// SISMEMBER, SCARD: a number read from the set (0 when the key is missing).
fn count_of(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&Set) -> usize) -> CmdResult {
    let mut s = ctx.shard(key);
    let n = match s.read(key, ctx.now) {
        None => 0,
        Some(e) => f(set_of(e)?),
    };
    ctx.out.int(n as i64);
    Ok(())
}

pub fn sismember(ctx: &mut Ctx, (key, m): (&[u8], &[u8])) -> CmdResult {
    count_of(ctx, key, |s| usize::from(s.contains(m)))
}

pub fn scard(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    count_of(ctx, key, Set::len)
}

pub fn smismember(ctx: &mut Ctx, (key, members): (&[u8], &[&[u8]])) -> CmdResult {
    let mut s = ctx.shard(key);
    let set = match s.read(key, ctx.now) {
        None => None,
        Some(e) => Some(set_of(e)?),
    };
    ctx.out.array(members.len());
    for m in members {
        ctx.out.int(i64::from(set.is_some_and(|s| s.contains(m))));
    }
    Ok(())
}

pub fn spop(ctx: &mut Ctx, (key, count): (&[u8], Option<u64>)) -> CmdResult {
    let Some(count) = count else {
        let popped = write_set(ctx, key, None, |s| {
            let i = rand::rng().random_range(0..s.len().max(1));
            Ok((s.take_nth(i), true))
        })?;
        match popped.flatten() {
            Some(m) => ctx.out.bulk(&m),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let popped = write_set(ctx, key, None, |s| {
        let size = s.len();
        if count == 0 {
            return Ok((Vec::new(), false));
        }
        if count >= size as u64 {
            // The whole set, in its order; emptying it deletes the key.
            let all: Vec<Vec<u8>> = s.iter().map(Member::to_vec).collect();
            while s.take_nth(s.len().saturating_sub(1)).is_some() {}
            return Ok((all, true));
        }
        Ok((s.pop_random(count as usize, &mut rand::rng()), true))
    })?;
    let popped = popped.unwrap_or_default();
    ctx.out.set(popped.len());
    for m in &popped {
        ctx.out.bulk(m);
    }
    Ok(())
}

pub fn srandmember(ctx: &mut Ctx, (key, count): (&[u8], Option<i64>)) -> CmdResult {
    let mut s = ctx.shard(key);
    let e = s.read(key, ctx.now);
    let mut rng = rand::rng();
    let Some(count) = count else {
        match e {
            None => ctx.out.null(),
            Some(e) => {
                let set = set_of(e)?;
                match set.nth(rng.random_range(0..set.len().max(1))) {
                    Some(m) => member(ctx.out, m),
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
    let set = set_of(e)?;
    let picks = super::random::picks(set.len(), count, super::random::Whole::InOrder)?;
    ctx.out.array(picks.len());
    for i in picks {
        if let Some(m) = set.nth(i) {
            member(ctx.out, m);
        }
    }
    Ok(())
}

/// Whether `key` holds a set (`Ok(false)` when missing), as a write lookup sees it.
fn is_set(shard: &mut Shard, key: &[u8], now: u64) -> Result<bool, CmdError> {
    shard.write(key, now, |slot| match slot.entry() {
        None => Ok(false),
        Some(e) => set_of(e).map(|_| true),
    })
}

pub fn smove(ctx: &mut Ctx, (src, dst, m): parse::Move) -> CmdResult {
    let now = ctx.now;
    let db = ctx.client.db;
    let max = ctx.state.keyspace.max_intset();
    let mut pair = ctx.state.keyspace.lock_pair((db, src), (db, dst));
    let (a, b) = pair.split();
    // A missing source answers 0 before the destination's type is looked at.
    if !is_set(a, src, now)? {
        ctx.out.int(0);
        return Ok(());
    }
    let d = match b {
        Some(b) => b,
        None => &mut *a,
    };
    is_set(d, dst, now)?;
    let (a, b) = pair.split();
    if src == dst {
        let there = a
            .live(src, now)
            .and_then(|e| set_of(e).ok())
            .is_some_and(|s| s.contains(m));
        ctx.out.int(i64::from(there));
        return Ok(());
    }
    let removed = write_set_in(a, src, now, None, |s| {
        let r = s.remove(m);
        Ok((r, r))
    })?;
    if removed != Some(true) {
        ctx.out.int(0);
        return Ok(());
    }
    let d = match b {
        Some(b) => b,
        None => a,
    };
    write_set_in(d, dst, now, Some(m), |s| {
        s.add(m, max);
        Ok(((), true))
    })?;
    ctx.out.int(1);
    Ok(())
}

/// Looks each key up as Redis does (a read lookup, or a write lookup for the STORE
/// commands: counters, access time, lazy expiry) and checks it is a set, stopping at the
/// first that is not; then borrows them all at once (`None`: missing).
fn sets_of<'a>(
    locked: &'a mut Locked<'_>,
    keys: &[&[u8]],
    now: u64,
    write: bool,
) -> Result<Vec<Option<&'a Set>>, CmdError> {
    for k in keys {
        let shard = locked.get(k);
        let e = if write {
            shard.get(k, now)
        } else {
            shard.read(k, now).map(|e| &*e)
        };
        if let Some(e) = e {
            set_of(e)?;
        }
    }
    let locked = &*locked;
    Ok(keys
        .iter()
        .map(|k| locked.shard(k).live(k, now).and_then(|e| set_of(e).ok()))
        .collect())
}

/// The members every set holds, in the order of the smallest set (Redis sorts the sets by
/// size and walks the first), up to `limit` (0: all). Empty when any set is missing.
fn intersection<'a>(sets: &[Option<&'a Set>], limit: u64) -> Vec<Member<'a>> {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&Set>>>() else {
        return Vec::new();
    };
    sets.sort_by_key(|s| s.len());
    let Some((first, rest)) = sets.split_first() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for m in first.iter() {
        if rest
            .iter()
            .all(|s| std::ptr::eq(*s, *first) || s.contains_member(m))
        {
            found.push(m);
            if limit > 0 && found.len() as u64 >= limit {
                break;
            }
        }
    }
    found
}

/// What SUNION/SDIFF compute.
#[derive(Clone, Copy, PartialEq)]
enum Algebra {
    Inter,
    Union,
    Diff,
}

/// The result as a new set built member by member, as Redis builds it (an intset while
/// every member is an integer and the set small enough, so its order is Redis's).
fn combine(sets: &[Option<&Set>], op: Algebra, max: u64) -> Set {
    let mut out = Set::new();
    match op {
        Algebra::Inter => {
            for m in intersection(sets, 0) {
                m.with_bytes(|b| out.add(b, max));
            }
        }
        Algebra::Union => {
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    m.with_bytes(|b| out.add(b, max));
                }
            }
        }
        Algebra::Diff => {
            let Some(Some(first)) = sets.first() else {
                return out;
            };
            for m in first.iter() {
                if !sets[1..].iter().flatten().any(|s| s.contains_member(m)) {
                    m.with_bytes(|b| out.add(b, max));
                }
            }
        }
    }
    out
}

fn algebra(ctx: &mut Ctx, keys: &[&[u8]], op: Algebra) -> CmdResult {
    let now = ctx.now;
    let max = ctx.state.keyspace.max_intset();
    let mut locked = ctx.state.keyspace.lock_keys(ctx.client.db, keys.iter());
    let sets = sets_of(&mut locked, keys, now, false)?;
    if op == Algebra::Inter {
        // Replied as found, in the smallest set's order.
        let found = intersection(&sets, 0);
        ctx.out.set(found.len());
        for m in found {
            member(ctx.out, m);
        }
        return Ok(());
    }
    let result = combine(&sets, op, max);
    ctx.out.set(result.len());
    for m in result.iter() {
        member(ctx.out, m);
    }
    Ok(())
}

pub fn sinter(ctx: &mut Ctx, keys: &[&[u8]]) -> CmdResult {
    algebra(ctx, keys, Algebra::Inter)
}

pub fn sunion(ctx: &mut Ctx, keys: &[&[u8]]) -> CmdResult {
    algebra(ctx, keys, Algebra::Union)
}

pub fn sdiff(ctx: &mut Ctx, keys: &[&[u8]]) -> CmdResult {
    algebra(ctx, keys, Algebra::Diff)
}

pub fn sintercard(ctx: &mut Ctx, (keys, limit): (&[&[u8]], u64)) -> CmdResult {
    let now = ctx.now;
    let mut locked = ctx.state.keyspace.lock_keys(ctx.client.db, keys.iter());
    let sets = sets_of(&mut locked, keys, now, false)?;
    let n = intersection(&sets, limit).len();
    ctx.out.int(n as i64);
    Ok(())
}

/// The STORE forms: the result replaces the destination (any type, its TTL with it), or
/// deletes it when empty; the reply is the result's size.
fn store(ctx: &mut Ctx, (dst, keys): (&[u8], &[&[u8]]), op: Algebra) -> CmdResult {
    let now = ctx.now;
    let max = ctx.state.keyspace.max_intset();
    let mut locked = ctx.state.keyspace.lock_keys(
        ctx.client.db,
        std::iter::once(dst).chain(keys.iter().copied()),
    );
    let result = {
        let sets = sets_of(&mut locked, keys, now, true)?;
        combine(&sets, op, max)
    };
    let n = result.len();
    // An empty result deletes the destination; nothing there, nothing signalled (WATCH).
    locked.get(dst).write(dst, now, |slot| {
        if n > 0 {
            slot.put_object(Object::Set(result), None);
        } else {
            slot.delete();
        }
    });
    ctx.out.int(n as i64);
    Ok(())
}

pub fn sinterstore(ctx: &mut Ctx, req: (&[u8], &[&[u8]])) -> CmdResult {
    store(ctx, req, Algebra::Inter)
}

pub fn sunionstore(ctx: &mut Ctx, req: (&[u8], &[&[u8]])) -> CmdResult {
    store(ctx, req, Algebra::Union)
}

pub fn sdiffstore(ctx: &mut Ctx, req: (&[u8], &[&[u8]])) -> CmdResult {
    store(ctx, req, Algebra::Diff)
}

pub fn sscan(ctx: &mut Ctx, req: super::hashes::parse::Scan) -> CmdResult {
    let mut s = ctx.shard(req.key);
    let Some(e) = s.read(req.key, ctx.now) else {
        // Redis's empty scan, whatever the options.
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let set = set_of(e)?;
    let opts = req.options?;
    let mut found: Vec<Member<'_>> = Vec::new();
    let next = set.scan(req.cursor, opts.count, |m| {
        if opts
            .pattern
            .is_none_or(|p| m.with_bytes(|b| glob::matches(p, b, false)))
        {
            found.push(m);
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len());
    for m in found {
        member(ctx.out, m);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::test_support::Server;

    #[test]
    fn an_emptied_set_is_deleted_and_its_memory_given_back() {
        let mut s = Server::new();
        // The key table's own growth (its shard's index) is not the set's.
        s.run("SET k x");
        s.run("DEL k");
        let base = s.state.keyspace.used_memory();
        s.run("SADD k a b 1");
        s.run("EXPIRE k 100");
        assert!(s.state.keyspace.used_memory() > base);
        assert_eq!(s.run("SREM k a b 1 c"), ":3\r\n");
        assert_eq!(s.run("EXISTS k"), ":0\r\n");
        assert_eq!(s.run("TTL k"), ":-2\r\n");
        assert_eq!(s.state.keyspace.used_memory(), base);
    }

    #[test]
    fn spop_and_srandmember_pick_distinct_members_or_repeats_as_asked() {
        let mut s = Server::new();
        s.run("SADD k a b c d e");
        for _ in 0..30 {
            let r = s.run("SRANDMEMBER k 3");
            assert!(r.starts_with("*3\r\n"), "{r}");
            let mut got: Vec<&str> = r.split("\r\n").skip(2).step_by(2).collect();
            got.retain(|x| !x.is_empty());
            got.sort();
            got.dedup();
            assert_eq!(got.len(), 3, "{r}");
            assert!(s.run("SRANDMEMBER k -20").starts_with("*20\r\n"));
        }
        assert_eq!(
            s.run("SRANDMEMBER k -16777217"),
            "-ERR value is out of range\r\n"
        );
        assert_eq!(s.run("SRANDMEMBER nokey -16777217"), "*0\r\n");
        assert!(s.run("SPOP k 2").starts_with("*2\r\n"));
        assert_eq!(s.run("SCARD k"), ":3\r\n");
        assert!(s.run("SPOP k 10").starts_with("*3\r\n"));
        assert_eq!(s.run("EXISTS k"), ":0\r\n");
    }
}
