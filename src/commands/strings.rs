//! String commands: GET/SET and their relatives, counters, ranges. Replies and errors follow
//! Redis 7.0's `t_string.c`.

use super::{CmdError, CmdResult, Ctx};
use crate::protocol::args::{self, is};
use crate::protocol::parse::parse_i64;
use crate::store::{Encoding, Entry, Shard};

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

pub fn get(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut s = ctx.shard(args[1]);
    match s.read(args[1], ctx.now) {
        None => ctx.out.null(),
        Some(e) => ctx.out.bulk(str_of(e)?),
    }
    Ok(())
}

// SET option flags, as Redis's OBJ_* bits.
const NX: u32 = 1;
const XX: u32 = 1 << 1;
const EX: u32 = 1 << 2;
const PX: u32 = 1 << 3;
const KEEPTTL: u32 = 1 << 4;
const GET: u32 = 1 << 5;
const EXAT: u32 = 1 << 6;
const PXAT: u32 = 1 << 7;
const PERSIST: u32 = 1 << 8;
const ANY_EXPIRE: u32 = EX | PX | EXAT | PXAT;

/// Which command's option grammar applies (`parseExtendedStringArgumentsOrReply`).
#[derive(PartialEq, Clone, Copy)]
enum Grammar {
    Set,
    GetEx,
}

/// Parses SET/GETEX options: (flags, the expire argument if any). The expire value itself is
/// checked by [`deadline`], which SET calls at once and GETEX only after finding the key, as
/// Redis does.
fn parse_ext<'a>(
    args: &[&'a [u8]],
    from: usize,
    g: Grammar,
) -> Result<(u32, Option<&'a [u8]>), CmdError> {
    let mut flags = 0u32;
    let mut expire: Option<&[u8]> = None;
    let mut j = from;
    while j < args.len() {
        let opt = args[j];
        let next = args.get(j + 1).copied();
        if is(opt, "NX") && flags & XX == 0 && g == Grammar::Set {
            flags |= NX;
        } else if is(opt, "XX") && flags & NX == 0 && g == Grammar::Set {
            flags |= XX;
        } else if is(opt, "GET") && g == Grammar::Set {
            flags |= GET;
        } else if is(opt, "KEEPTTL") && flags & (PERSIST | ANY_EXPIRE) == 0 && g == Grammar::Set {
            flags |= KEEPTTL;
        } else if is(opt, "PERSIST") && g == Grammar::GetEx && flags & (ANY_EXPIRE | KEEPTTL) == 0 {
            flags |= PERSIST;
        } else if let (true, Some(n)) = (
            is(opt, "EX") && flags & (KEEPTTL | PERSIST | EXAT | PX | PXAT) == 0,
            next,
        ) {
            flags |= EX;
            expire = Some(n);
            j += 1;
        } else if let (true, Some(n)) = (
            is(opt, "PX") && flags & (KEEPTTL | PERSIST | EX | EXAT | PXAT) == 0,
            next,
        ) {
            flags |= PX;
            expire = Some(n);
            j += 1;
        } else if let (true, Some(n)) = (
            is(opt, "EXAT") && flags & (KEEPTTL | PERSIST | EX | PX | PXAT) == 0,
            next,
        ) {
            flags |= EXAT;
            expire = Some(n);
            j += 1;
        } else if let (true, Some(n)) = (
            is(opt, "PXAT") && flags & (KEEPTTL | PERSIST | EX | EXAT | PX) == 0,
            next,
        ) {
            flags |= PXAT;
            expire = Some(n);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok((flags, expire))
}

/// The absolute deadline (ms) an EX/PX/EXAT/PXAT argument names.
fn deadline(
    flags: u32,
    expire: Option<&[u8]>,
    now: u64,
    cmd: &str,
) -> Result<Option<u64>, CmdError> {
    expire
        .map(|raw| {
            expire_ms(
                raw,
                flags & (EX | EXAT) != 0,
                flags & (EX | PX) != 0,
                now,
                cmd,
            )
        })
        .transpose()
}

/// Redis's `getExpireMillisecondsOrReply`: a positive amount, relative or absolute.
fn expire_ms(
    raw: &[u8],
    seconds: bool,
    relative: bool,
    now: u64,
    cmd: &str,
) -> Result<u64, CmdError> {
    let mut ms = args::int(raw)?;
    let invalid = || CmdError::InvalidExpire(cmd.to_string());
    if ms <= 0 || (seconds && ms > i64::MAX / 1000) {
        return Err(invalid());
    }
    if seconds {
        ms *= 1000;
    }
    if relative {
        ms = ms.wrapping_add(now as i64);
    }
    if ms <= 0 {
        return Err(invalid());
    }
    Ok(ms as u64)
}

pub fn set(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (flags, expire) = parse_ext(args, 3, Grammar::Set)?;
    let at = deadline(flags, expire, ctx.now, "set")?;
    let (key, value) = (args[1], args[2]);
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

pub fn setnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut s = ctx.shard(args[1]);
    if s.contains(args[1], ctx.now) {
        ctx.out.int(0);
    } else {
        put_str(
            &mut s,
            args[1],
            args[2],
            Encoding::for_value(args[2]),
            false,
            ctx.now,
        );
        ctx.out.int(1);
    }
    Ok(())
}

fn setex_generic(ctx: &mut Ctx, args: &[&[u8]], seconds: bool, cmd: &str) -> CmdResult {
    let at = expire_ms(args[2], seconds, true, ctx.now, cmd)?;
    let mut s = ctx.shard(args[1]);
    put_str_expiring(&mut s, args[1], args[3], Some(at), ctx.now);
    ctx.out.ok();
    Ok(())
}

pub fn setex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setex_generic(ctx, args, true, "setex")
}

pub fn psetex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setex_generic(ctx, args, false, "psetex")
}

pub fn getset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut s = ctx.shard(args[1]);
    match s.get(args[1], ctx.now) {
        None => ctx.out.null(),
        Some(e) => ctx.out.bulk(str_of(e)?),
    }
    put_str(
        &mut s,
        args[1],
        args[2],
        Encoding::for_value(args[2]),
        false,
        ctx.now,
    );
    Ok(())
}

pub fn getdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut s = ctx.shard(args[1]);
    match s.read(args[1], ctx.now) {
        None => ctx.out.null(),
        Some(e) => {
            ctx.out.bulk(str_of(e)?);
            s.remove(args[1], ctx.now);
        }
    }
    Ok(())
}

pub fn getex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (flags, expire) = parse_ext(args, 2, Grammar::GetEx)?;
    let key = args[1];
    let mut s = ctx.shard(key);
    // A missing key or a wrong type wins over a bad expire value, as in Redis's getexCommand.
    let at = match s.read(key, ctx.now) {
        None => {
            ctx.out.null();
            return Ok(());
        }
        Some(e) => {
            let value = str_of(e)?;
            let at = deadline(flags, expire, ctx.now, "getex")?;
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

pub fn mget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let keys = &args[1..];
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

fn mset_generic(ctx: &mut Ctx, args: &[&[u8]], nx: bool, name: &str) -> Result<bool, CmdError> {
    if args.len() % 2 == 0 {
        return Err(CmdError::WrongArgs(name.to_string()));
    }
    let pairs = args[1..].chunks(2);
    let mut locked = ctx
        .state
        .keyspace
        .lock_keys(ctx.client.db, args[1..].iter().step_by(2));
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

pub fn mset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    mset_generic(ctx, args, false, "mset")?;
    ctx.out.ok();
    Ok(())
}

pub fn msetnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let done = mset_generic(ctx, args, true, "msetnx")?;
    ctx.out.int(done as i64);
    Ok(())
}

fn incr_generic(ctx: &mut Ctx, key: &[u8], by: i64) -> CmdResult {
    let mut s = ctx.shard(key);
    let old = match s.get(key, ctx.now) {
        None => 0,
        Some(e) => parse_i64(str_of(e)?).ok_or(CmdError::NotInt)?,
    };
    let new = old.checked_add(by).ok_or(CmdError::Overflow)?;
    let mut b = itoa::Buffer::new();
    let text = b.format(new).as_bytes();
    // INCR keeps the key's TTL (Redis replaces the value in place).
    put_str(&mut s, key, text, Encoding::Int, true, ctx.now);
    ctx.out.int(new);
    Ok(())
}

pub fn incr(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    incr_generic(ctx, args[1], 1)
}

pub fn decr(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    incr_generic(ctx, args[1], -1)
}

pub fn incrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let by = args::int(args[2])?;
    incr_generic(ctx, args[1], by)
}

pub fn decrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let by = args::int(args[2])?;
    if by == i64::MIN {
        return Err(CmdError::other("ERR decrement would overflow"));
    }
    incr_generic(ctx, args[1], -by)
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

pub fn incrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let mut s = ctx.shard(key);
    let new = match s.get(key, ctx.now) {
        None => add_long_double(None, args[2])?,
        Some(e) => add_long_double(Some(str_of(e)?), args[2])?,
    };
    put_str(
        &mut s,
        key,
        &new,
        Encoding::for_len(new.len()),
        true,
        ctx.now,
    );
    ctx.out.bulk(&new);
    Ok(())
}

fn check_len(ctx: &Ctx, total: Option<u64>) -> CmdResult {
    let max = ctx.state.proto_max_bulk_len();
    match total {
        Some(t) if t <= max => Ok(()),
        _ => Err(CmdError::other(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        )),
    }
}

pub fn append(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, tail) = (args[1], args[2]);
    let mut s = ctx.shard(key);
    let new = match s.get(key, ctx.now) {
        None => None,
        Some(e) => {
            let cur = str_of(e)?;
            check_len(ctx, (cur.len() as u64).checked_add(tail.len() as u64))?;
            Some([cur, tail].concat())
        }
    };
    let len = match new {
        None => {
            put_str(&mut s, key, tail, Encoding::for_value(tail), false, ctx.now);
            tail.len()
        }
        Some(v) => {
            put_str(&mut s, key, &v, Encoding::Raw, true, ctx.now);
            v.len()
        }
    };
    ctx.out.int(len as i64);
    Ok(())
}

pub fn strlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut s = ctx.shard(args[1]);
    let n = match s.read_notouch(args[1], ctx.now) {
        None => 0,
        Some(e) => str_of(e)?.len(),
    };
    ctx.out.int(n as i64);
    Ok(())
}

pub fn getrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut start = args::int(args[2])?;
    let mut end = args::int(args[3])?;
    let mut s = ctx.shard(args[1]);
    let Some(e) = s.read(args[1], ctx.now) else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let v = str_of(e)?;
    let len = v.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        ctx.out.bulk(b"");
    } else {
        ctx.out.bulk(&v[start as usize..=end as usize]);
    }
    Ok(())
}

pub fn setrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let offset = args::int(args[2])?;
    if offset < 0 {
        return Err(CmdError::other("ERR offset is out of range"));
    }
    let (key, value) = (args[1], args[3]);
    let offset = offset as u64;
    let mut s = ctx.shard(key);
    let cur: Option<Vec<u8>> = match s.get(key, ctx.now) {
        None => None,
        Some(e) => Some(str_of(e)?.to_vec()),
    };
    if value.is_empty() {
        ctx.out.int(cur.map_or(0, |c| c.len() as i64));
        return Ok(());
    }
    check_len(ctx, offset.checked_add(value.len() as u64))?;
    let keep_ttl = cur.is_some();
    let mut buf = cur.unwrap_or_default();
    let end = offset as usize + value.len();
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[offset as usize..end].copy_from_slice(value);
    put_str(&mut s, key, &buf, Encoding::Raw, keep_ttl, ctx.now);
    ctx.out.int(buf.len() as i64);
    Ok(())
}
