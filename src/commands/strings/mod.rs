//! String commands: GET/SET and their relatives, counters, ranges. Replies and errors follow
//! Redis 7.0's `t_string.c`; `parse` turns arguments into requests, the functions here lock,
//! change and reply.

pub mod parse;

use super::{CmdError, CmdResult, Ctx};
use crate::protocol::parse::parse_i64;
use crate::store::{Encoding, Entry, Shard};
use parse::{GetEx, GetRange, Incr, Set, SetEx, SetRange, GET, KEEPTTL, NX, PERSIST, XX};

/// The string stored at `key`, or WRONGTYPE.
fn str_of(e: &Entry) -> Result<&[u8], CmdError> {
    e.str().ok_or(CmdError::WrongType)
}

fn put_str(shard: &mut Shard, key: &[u8], value: &[u8], enc: Encoding, keep_ttl: bool, now: u64) {
    shard.put(Entry::new_str(key, value, enc, 0), keep_ttl, now);
}

/// Stores a string with a deadline (unix ms) packed in, or without one.
fn put_str_expiring(shard: &mut Shard, key: &[u8], value: &[u8], at: Option<u64>, now: u64) {
    let enc = Encoding::for_value(value);
    match at {
        Some(at) => shard.put(Entry::new_str_expiring(key, value, enc, at), false, now),
        None => put_str(shard, key, value, enc, false, now),
    }
}

pub fn get(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let mut s = ctx.shard(key);
    match s.read(key, ctx.now) {
        None => ctx.out.null(),
        Some(e) => ctx.out.bulk(str_of(e)?),
    }
    Ok(())
}

pub fn set(ctx: &mut Ctx, req: Set) -> CmdResult {
    let Set {
        key,
        value,
        flags,
        expire,
    } = req;
    let at = match expire {
        Some(e) => Some(e.deadline(ctx.now, "set")?),
        None => None,
    };
    let mut s = ctx.shard(key);
    if flags & GET != 0 {
        match s.get(key, ctx.now) {
            None => ctx.out.null(),
            Some(e) => ctx.out.bulk(str_of(e)?),
        }
    }
    let found = s.contains(key, ctx.now);
    if (flags & NX != 0 && found) || (flags & XX != 0 && !found) {
        if flags & GET == 0 {
            ctx.out.null();
        }
        return Ok(());
    }
    if flags & KEEPTTL != 0 {
        put_str(
            &mut s,
            key,
            value,
            Encoding::for_value(value),
            true,
            ctx.now,
        );
    } else {
        put_str_expiring(&mut s, key, value, at, ctx.now);
    }
    if flags & GET == 0 {
        ctx.out.ok();
    }
    Ok(())
}

pub fn setnx(ctx: &mut Ctx, (key, value): (&[u8], &[u8])) -> CmdResult {
    let mut s = ctx.shard(key);
    if s.contains(key, ctx.now) {
        ctx.out.int(0);
    } else {
        put_str_expiring(&mut s, key, value, None, ctx.now);
        ctx.out.int(1);
    }
    Ok(())
}

fn setex_generic(ctx: &mut Ctx, req: SetEx, cmd: &str) -> CmdResult {
    let at = req.expire.deadline(ctx.now, cmd)?;
    let mut s = ctx.shard(req.key);
    put_str_expiring(&mut s, req.key, req.value, Some(at), ctx.now);
    ctx.out.ok();
    Ok(())
}

pub fn setex(ctx: &mut Ctx, req: SetEx) -> CmdResult {
    setex_generic(ctx, req, "setex")
}

pub fn psetex(ctx: &mut Ctx, req: SetEx) -> CmdResult {
    setex_generic(ctx, req, "psetex")
}

pub fn getset(ctx: &mut Ctx, (key, value): (&[u8], &[u8])) -> CmdResult {
    let mut s = ctx.shard(key);
    match s.get(key, ctx.now) {
        None => ctx.out.null(),
        Some(e) => ctx.out.bulk(str_of(e)?),
    }
    put_str_expiring(&mut s, key, value, None, ctx.now);
    Ok(())
}

pub fn getdel(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let mut s = ctx.shard(key);
    match s.read(key, ctx.now) {
        None => ctx.out.null(),
        Some(e) => {
            ctx.out.bulk(str_of(e)?);
            s.remove(key, ctx.now);
        }
    }
    Ok(())
}

pub fn getex(ctx: &mut Ctx, req: GetEx) -> CmdResult {
    let GetEx { key, flags, expire } = req;
    let mut s = ctx.shard(key);
    // A missing key or a wrong type wins over a bad expire value, as in Redis's getexCommand.
    let at = match s.read(key, ctx.now) {
        None => {
            ctx.out.null();
            return Ok(());
        }
        Some(e) => {
            let value = str_of(e)?;
            let at = match expire {
                Some(e) => Some(e.check("getex")?.deadline(ctx.now, "getex")?),
                None => None,
            };
            ctx.out.bulk(value);
            at
        }
    };
    if let Some(at) = at {
        // A deadline already past deletes the key, as Redis does.
        if at <= ctx.now {
            s.remove(key, ctx.now);
        } else {
            s.set_expire(key, at, ctx.now);
        }
    } else if flags & PERSIST != 0 {
        s.persist(key, ctx.now);
    }
    Ok(())
}

pub fn mget(ctx: &mut Ctx, keys: &[&[u8]]) -> CmdResult {
    let mut locked = ctx.state.keyspace.lock_keys(ctx.client.db, keys.iter());
    ctx.out.array(keys.len());
    for k in keys {
        match locked.get(k).read(k, ctx.now).and_then(|e| e.str()) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// MSET/MSETNX over `pairs` (key, value, key, value...: an even number, as parsed).
fn mset_generic(ctx: &mut Ctx, pairs: &[&[u8]], nx: bool) -> Result<bool, CmdError> {
    let mut locked = ctx
        .state
        .keyspace
        .lock_keys(ctx.client.db, pairs.iter().step_by(2));
    let pairs = pairs.chunks_exact(2);
    if nx
        && pairs
            .clone()
            .any(|p| locked.get(p[0]).contains(p[0], ctx.now))
    {
        return Ok(false);
    }
    for p in pairs {
        put_str(
            locked.get(p[0]),
            p[0],
            p[1],
            Encoding::for_value(p[1]),
            false,
            ctx.now,
        );
    }
    Ok(true)
}

pub fn mset(ctx: &mut Ctx, pairs: &[&[u8]]) -> CmdResult {
    mset_generic(ctx, pairs, false)?;
    ctx.out.ok();
    Ok(())
}

pub fn msetnx(ctx: &mut Ctx, pairs: &[&[u8]]) -> CmdResult {
    let done = mset_generic(ctx, pairs, true)?;
    ctx.out.int(done as i64);
    Ok(())
}

/// INCR, DECR, INCRBY, DECRBY.
pub fn incr(ctx: &mut Ctx, req: Incr) -> CmdResult {
    let Incr { key, by } = req;
    let new = ctx.shard(key).write(key, ctx.now, |slot| {
        let old = match slot.entry() {
            None => 0,
            Some(e) => parse_i64(str_of(e)?).ok_or(CmdError::NotInt)?,
        };
        let new = old.checked_add(by).ok_or(CmdError::Overflow)?;
        let mut b = itoa::Buffer::new();
        let text = b.format(new).as_bytes();
        // INCR keeps the key's TTL (Redis replaces the value in place).
        slot.put_keep_ttl(Entry::new_str(key, text, Encoding::Int, 0));
        Ok(new)
    })?;
    ctx.out.int(new);
    Ok(())
}

extern "C" {
    fn tollgate_incrbyfloat(
        cur: *const u8,
        curlen: usize,
        incr: *const u8,
        incrlen: usize,
        out: *mut u8,
        outlen: usize,
    ) -> std::os::raw::c_long;
}

/// `value + incr` in long double, formatted as Redis does; see src/ld.c.
pub fn add_long_double(cur: Option<&[u8]>, incr: &[u8]) -> Result<Vec<u8>, CmdError> {
    // Redis's string2ld rejects a string that strtold does not consume to its full length,
    // so a NUL inside it (where C's parse would stop) makes it not a float.
    if cur.is_some_and(|c| c.contains(&0)) || incr.contains(&0) {
        return Err(CmdError::NotFloat);
    }
    let mut out = vec![0u8; 5 * 1024 + 32];
    let (cp, cl) = match cur {
        Some(c) => (c.as_ptr(), c.len()),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: the pointers and lengths describe live slices; the C side writes at most
    // `out.len()` bytes and reads at most the given lengths.
    let n = unsafe {
        tollgate_incrbyfloat(
            cp,
            cl,
            incr.as_ptr(),
            incr.len(),
            out.as_mut_ptr(),
            out.len(),
        )
    };
    match n {
        -1 => Err(CmdError::NotFloat),
        -2 => Err(CmdError::other(
            "ERR increment would produce NaN or Infinity",
        )),
        n => {
            out.truncate(n.max(0) as usize);
            Ok(out)
        }
    }
}

pub fn incrbyfloat(ctx: &mut Ctx, (key, incr): (&[u8], &[u8])) -> CmdResult {
    let new = ctx.shard(key).write(key, ctx.now, |slot| {
        let cur = slot.entry().map(str_of).transpose()?;
        let new = add_long_double(cur, incr)?;
        let enc = Encoding::for_len(new.len());
        slot.put_keep_ttl(Entry::new_str(key, &new, enc, 0));
        Ok::<_, CmdError>(new)
    })?;
    ctx.out.bulk(&new);
    Ok(())
}

/// Whether a string of `total` bytes fits `proto-max-bulk-len` (`max`).
fn check_len(max: u64, total: Option<u64>) -> CmdResult {
    match total {
        Some(t) if t <= max => Ok(()),
        _ => Err(CmdError::other(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        )),
    }
}

pub fn append(ctx: &mut Ctx, (key, tail): (&[u8], &[u8])) -> CmdResult {
    let max = ctx.state.proto_max_bulk_len();
    let len = ctx.shard(key).write(key, ctx.now, |slot| {
        let Some(e) = slot.entry() else {
            slot.put(Entry::new_str(key, tail, Encoding::for_value(tail), 0));
            return Ok(tail.len());
        };
        let cur = str_of(e)?;
        check_len(max, (cur.len() as u64).checked_add(tail.len() as u64))?;
        let v = [cur, tail].concat();
        slot.put_keep_ttl(Entry::new_str(key, &v, Encoding::Raw, 0));
        Ok::<_, CmdError>(v.len())
    })?;
    ctx.out.int(len as i64);
    Ok(())
}

pub fn strlen(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let mut s = ctx.shard(key);
    let n = match s.read_notouch(key, ctx.now) {
        None => 0,
        Some(e) => str_of(e)?.len(),
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// The bytes GETRANGE `start end` selects from a string of `len` bytes, by Redis's rules
/// (negative indexes count from the end; the range is clamped to the string), or `None` for
/// an empty reply. Any two i64s are valid: no index arithmetic can overflow.
fn byte_range(len: usize, start: i64, end: i64) -> Option<std::ops::RangeInclusive<usize>> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len_i = i64::try_from(len).ok()?;
    let from_end = |i: i64| if i < 0 { i.saturating_add(len_i) } else { i };
    let start = usize::try_from(from_end(start).max(0)).ok()?;
    let end = usize::try_from(from_end(end).max(0)).ok()?;
    let end = end.min(len.checked_sub(1)?);
    (start <= end).then_some(start..=end)
}

pub fn getrange(ctx: &mut Ctx, req: GetRange) -> CmdResult {
    let GetRange { key, start, end } = req;
    let mut s = ctx.shard(key);
    let Some(e) = s.read(key, ctx.now) else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let v = str_of(e)?;
    match byte_range(v.len(), start, end) {
        Some(r) => ctx.out.bulk(&v[r]),
        None => ctx.out.bulk(b""),
    }
    Ok(())
}

pub fn setrange(ctx: &mut Ctx, req: SetRange) -> CmdResult {
    let SetRange { key, offset, value } = req;
    let max = ctx.state.proto_max_bulk_len();
    let len = ctx.shard(key).write(key, ctx.now, |slot| {
        let cur = slot.entry().map(str_of).transpose()?;
        if value.is_empty() {
            return Ok(cur.map_or(0, <[u8]>::len));
        }
        let end = offset.checked_add(value.len() as u64);
        check_len(max, end)?;
        // Within proto-max-bulk-len now, so both ends fit in memory's indexes.
        let range = end
            .and_then(|end| usize::try_from(end).ok())
            .and_then(|end| Some(end.checked_sub(value.len())?..end))
            .ok_or_else(|| {
                CmdError::other("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
            })?;
        let existed = cur.is_some();
        let cur = cur.unwrap_or_default();
        // Zeroed by the allocator (fresh pages for a large one), not byte by byte: a 512 MB
        // SETRANGE took 9 s in a debug build with `resize`.
        let mut buf = vec![0u8; cur.len().max(range.end)];
        buf[..cur.len()].copy_from_slice(cur);
        buf[range].copy_from_slice(value);
        let entry = Entry::new_str(key, &buf, Encoding::Raw, 0);
        match existed {
            true => slot.put_keep_ttl(entry),
            false => slot.put(entry),
        }
        Ok::<_, CmdError>(buf.len())
    })?;
    ctx.out.int(len as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::byte_range;
    use crate::commands::test_support::Server;

    #[test]
    fn getrange_indexes() {
        const MIN: i64 = i64::MIN;
        const MAX: i64 = i64::MAX;
        for (len, start, end, want) in [
            (10, 0, 4, Some(0..=4)),
            (10, -5, -1, Some(5..=9)),
            (10, 0, -1, Some(0..=9)),
            (10, -1, -5, None),
            (10, 5, 3, None),
            (10, 100, 200, None),
            (10, -100, 100, Some(0..=9)),
            (10, 9, 100, Some(9..=9)),
            (10, 0, -100, Some(0..=0)),
            (0, 0, -1, None),
            (10, MIN, MIN, Some(0..=0)),
            (10, MIN, MAX, Some(0..=9)),
            (10, MAX, MIN, None),
            (10, MAX, MAX, None),
        ] {
            assert_eq!(byte_range(len, start, end), want, "{len} {start} {end}");
        }
    }

    /// Client-supplied extremes through every string command that does arithmetic on them.
    #[test]
    fn extreme_numbers_reply_instead_of_overflowing() {
        let mut s = Server::new();
        let cases = [
            (
                "SET k v EX 9223372036854775",
                "-ERR invalid expire time in 'set' command\r\n",
            ),
            (
                "SET k v PX 9223372036854775807",
                "-ERR invalid expire time in 'set' command\r\n",
            ),
            ("SET k v PXAT 9223372036854775807", "+OK\r\n"),
            (
                "SETEX k 9223372036854775 v",
                "-ERR invalid expire time in 'setex' command\r\n",
            ),
            (
                "PSETEX k 9223372036854775807 v",
                "-ERR invalid expire time in 'psetex' command\r\n",
            ),
            ("SET k v", "+OK\r\n"),
            (
                "GETEX k PX 9223372036854775807",
                "-ERR invalid expire time in 'getex' command\r\n",
            ),
            ("GETEX k EXAT 9223372036854775", "$1\r\nv\r\n"),
            (
                "GETRANGE k -9223372036854775808 -9223372036854775808",
                "$1\r\nv\r\n",
            ),
            (
                "GETRANGE k -9223372036854775808 9223372036854775807",
                "$1\r\nv\r\n",
            ),
            (
                "GETRANGE k 9223372036854775807 -9223372036854775808",
                "$0\r\n\r\n",
            ),
            (
                "SETRANGE k 9223372036854775807 x",
                "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
            ),
            ("SETRANGE k 536870911 ''", ":1\r\n"),
            ("SET n 9223372036854775807", "+OK\r\n"),
            ("INCR n", "-ERR increment or decrement would overflow\r\n"),
            (
                "INCRBY n 1",
                "-ERR increment or decrement would overflow\r\n",
            ),
            (
                "DECRBY n -1",
                "-ERR increment or decrement would overflow\r\n",
            ),
            ("SET n -9223372036854775808", "+OK\r\n"),
            ("DECR n", "-ERR increment or decrement would overflow\r\n"),
            (
                "INCRBY n -1",
                "-ERR increment or decrement would overflow\r\n",
            ),
            (
                "DECRBY n -9223372036854775808",
                "-ERR decrement would overflow\r\n",
            ),
        ];
        for (line, want) in cases {
            assert_eq!(s.run(line), want, "{line}");
        }
    }
}
