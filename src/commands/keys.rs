//! Generic key commands: existence, deletion, renaming, TTLs, iteration and OBJECT. Replies
//! and errors follow Redis 7.0's `db.c`, `expire.c` and `object.c`.

use super::{cmd, legacy, tips, CmdError, CmdResult, Ctx, Spec};
use crate::protocol::args::{self, is};
use crate::store::{access, glob};

pub fn del(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let keys = &args[1..];
    let mut locked = ctx.state.keyspace.lock_keys(ctx.client.db, keys.iter());
    let n = keys
        .iter()
        .filter(|k| locked.get(k).remove(k, ctx.now).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

pub fn exists(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let keys = &args[1..];
    let mut locked = ctx.state.keyspace.lock_keys(ctx.client.db, keys.iter());
    let n = keys
        .iter()
        .filter(|k| locked.get(k).read_notouch(k, ctx.now).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

pub fn touch(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let keys = &args[1..];
    let mut locked = ctx.state.keyspace.lock_keys(ctx.client.db, keys.iter());
    let n = keys
        .iter()
        .filter(|k| locked.get(k).read(k, ctx.now).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

pub fn type_(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut s = ctx.shard(args[1]);
    let name = s
        .read_notouch(args[1], ctx.now)
        .map_or("none", |e| e.type_name());
    ctx.out.simple(name);
    Ok(())
}

/// RENAME/RENAMENX; `Ok(None)` when NX found the destination taken.
fn rename_generic(ctx: &mut Ctx, args: &[&[u8]], nx: bool) -> Result<bool, CmdError> {
    let (from, to) = (args[1], args[2]);
    let db = ctx.client.db;
    let now = ctx.now;
    let mut pair = ctx.state.keyspace.lock_pair((db, from), (db, to));
    let (a, b) = pair.split();
    if !a.contains(from, now) {
        return Err(CmdError::NoSuchKey);
    }
    if from == to {
        return Ok(!nx);
    }
    let expire = a.expire_of(from, now);
    let dst = match b {
        Some(b) => b,
        None => a,
    };
    if dst.contains(to, now) {
        if nx {
            return Ok(false);
        }
        dst.remove(to, now);
    }
    // Re-borrow: the source and destination may be the same shard.
    let (a, b) = pair.split();
    let Some(entry) = a.remove(from, now) else {
        return Err(CmdError::NoSuchKey);
    };
    let dst = b.unwrap_or(a);
    dst.put_renamed(entry.with_key(to));
    if let Some(at) = expire {
        dst.set_expire(to, at, 0);
    }
    Ok(true)
}

pub fn rename(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, args, false)?;
    ctx.out.ok();
    Ok(())
}

pub fn renamenx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let done = rename_generic(ctx, args, true)?;
    ctx.out.int(done as i64);
    Ok(())
}

pub fn copy(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (from, to) = (args[1], args[2]);
    let src_db = ctx.client.db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut j = 3;
    while j < args.len() {
        if is(args[j], "REPLACE") {
            replace = true;
        } else if is(args[j], "DB") && j < args.len() - 1 {
            let n = args::int32(args[j + 1])?;
            if n < 0 || n as usize >= ctx.state.keyspace.databases() {
                return Err(CmdError::other("ERR DB index is out of range"));
            }
            dst_db = n as usize;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if src_db == dst_db && from == to {
        return Err(CmdError::other(
            "ERR source and destination objects are the same",
        ));
    }
    let now = ctx.now;
    let mut pair = ctx.state.keyspace.lock_pair((src_db, from), (dst_db, to));
    let (a, b) = pair.split();
    let Some(entry) = a.read(from, now).map(|e| e.with_key(to)) else {
        ctx.out.int(0);
        return Ok(());
    };
    let expire = a.expire_of(from, now);
    let dst = match b {
        Some(b) => b,
        None => a,
    };
    if dst.contains(to, now) {
        if !replace {
            ctx.out.int(0);
            return Ok(());
        }
        dst.remove(to, now);
    }
    dst.put(entry, false, now);
    if let Some(at) = expire {
        dst.set_expire(to, at, 0);
    }
    ctx.out.int(1);
    Ok(())
}

pub fn keys(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let pattern = args[1];
    let all = pattern == b"*";
    let mut found: Vec<Vec<u8>> = Vec::new();
    for shard in ctx.state.keyspace.shards(ctx.client.db) {
        let s = shard.lock();
        for pos in 0..s.len() {
            let k = s.at(pos).key();
            if (all || glob::matches(pattern, k, false)) && !s.expired_at(pos, ctx.now) {
                found.push(k.to_vec());
            }
        }
    }
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Ok(())
}

/// `strtoul` as Redis's SCAN cursor parser uses it: optional sign, decimal digits.
fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let (neg, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        // strtoul parses nothing and leaves the end pointer at the start: an empty argument
        // is cursor 0, a bare sign is rejected.
        return if arg.is_empty() { Some(0) } else { None };
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

pub fn scan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cursor = parse_cursor(args[1]).ok_or_else(|| CmdError::other("ERR invalid cursor"))?;
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut type_filter: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let remaining = args.len() - i;
        if is(args[i], "COUNT") && remaining >= 2 {
            count = args::int(args[i + 1])?;
            if count < 1 {
                return Err(CmdError::Syntax);
            }
        } else if is(args[i], "MATCH") && remaining >= 2 {
            pattern = if args[i + 1] == b"*" {
                None
            } else {
                Some(args[i + 1])
            };
        } else if is(args[i], "TYPE") && remaining >= 2 {
            type_filter = Some(args[i + 1]);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let ks = &ctx.state.keyspace;
    let shards = ks.shards(ctx.client.db);
    let bits = ks.shard_count().trailing_zeros();
    let mask = (ks.shard_count() - 1) as u64;
    // Cursor = (positions left in the shard + 1) << bits | shard; 0 in the high part
    // means "the shard's top". See store::table for why positions run downwards.
    let mut shard = (cursor & mask) as usize;
    let mut left = cursor >> bits;
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut visited: i64 = 0;
    let next = loop {
        if shard >= shards.len() {
            break 0;
        }
        {
            let s = shards[shard].lock();
            let mut pos = if left == 0 {
                s.len()
            } else {
                (left as usize - 1).min(s.len())
            };
            while pos > 0 && visited < count {
                pos -= 1;
                visited += 1;
                let e = s.at(pos);
                if s.expired_at(pos, ctx.now) {
                    continue;
                }
                if pattern.is_some_and(|p| !glob::matches(p, e.key(), false)) {
                    continue;
                }
                if type_filter.is_some_and(|t| !t.eq_ignore_ascii_case(e.type_name().as_bytes())) {
                    continue;
                }
                keys.push(e.key().to_vec());
            }
            if pos > 0 {
                break ((pos as u64 + 1) << bits) | shard as u64;
            }
        }
        shard += 1;
        left = 0;
        if visited >= count {
            break if shard >= shards.len() {
                0
            } else {
                shard as u64
            };
        }
    };
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(keys.len());
    for k in &keys {
        ctx.out.bulk(k);
    }
    Ok(())
}

pub fn randomkey(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let shards = ctx.state.keyspace.shards(ctx.client.db);
    let mut rng = || rand::random::<u64>();
    let start = (rng() % shards.len() as u64) as usize;
    for i in 0..shards.len() {
        let mut s = shards[(start + i) % shards.len()].lock();
        if let Some(k) = s.random_key(ctx.now, &mut rng) {
            drop(s);
            ctx.out.bulk(&k);
            return Ok(());
        }
    }
    ctx.out.null();
    Ok(())
}

const EXPIRE_NX: u8 = 1;
const EXPIRE_XX: u8 = 2;
const EXPIRE_GT: u8 = 4;
const EXPIRE_LT: u8 = 8;

fn expire_generic(
    ctx: &mut Ctx,
    args: &[&[u8]],
    base: i64,
    seconds: bool,
    name: &str,
) -> CmdResult {
    let mut flags = 0u8;
    for opt in &args[3..] {
        flags |= if is(opt, "NX") {
            EXPIRE_NX
        } else if is(opt, "XX") {
            EXPIRE_XX
        } else if is(opt, "GT") {
            EXPIRE_GT
        } else if is(opt, "LT") {
            EXPIRE_LT
        } else {
            return Err(CmdError::other(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            )));
        };
    }
    if flags & EXPIRE_NX != 0 && flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT) != 0 {
        return Err(CmdError::other(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if flags & EXPIRE_GT != 0 && flags & EXPIRE_LT != 0 {
        return Err(CmdError::other(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let mut when = args::int(args[2])?;
    let invalid = || CmdError::InvalidExpire(name.to_string());
    if seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    when = when
        .checked_add(base)
        .filter(|_| when <= i64::MAX - base)
        .ok_or_else(invalid)?;
    let key = args[1];
    let mut s = ctx.shard(key);
    if !s.contains(key, ctx.now) {
        ctx.out.int(0);
        return Ok(());
    }
    if flags != 0 {
        let current = s.expire_of(key, ctx.now).map(|t| t as i64);
        let refused = (flags & EXPIRE_NX != 0 && current.is_some())
            || (flags & EXPIRE_XX != 0 && current.is_none())
            || (flags & EXPIRE_GT != 0 && current.is_none_or(|c| when <= c))
            || (flags & EXPIRE_LT != 0 && current.is_some_and(|c| when >= c));
        if refused {
            ctx.out.int(0);
            return Ok(());
        }
    }
    if when <= ctx.now as i64 {
        s.remove(key, ctx.now);
    } else {
        s.set_expire(key, when as u64, ctx.now);
    }
    ctx.out.int(1);
    Ok(())
}

pub fn expire(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now as i64;
    expire_generic(ctx, args, now, true, "expire")
}

pub fn pexpire(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now as i64;
    expire_generic(ctx, args, now, false, "pexpire")
}

pub fn expireat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, 0, true, "expireat")
}

pub fn pexpireat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, 0, false, "pexpireat")
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME.
fn ttl_generic(ctx: &mut Ctx, key: &[u8], ms: bool, absolute: bool) -> CmdResult {
    let mut s = ctx.shard(key);
    if s.read_notouch(key, ctx.now).is_none() {
        ctx.out.int(-2);
        return Ok(());
    }
    let reply = match s.expire_of(key, ctx.now) {
        None => -1,
        Some(at) => {
            let t = if absolute {
                at as i64
            } else {
                (at as i64 - ctx.now as i64).max(0)
            };
            if ms {
                t
            } else {
                (t + 500) / 1000
            }
        }
    };
    ctx.out.int(reply);
    Ok(())
}

pub fn ttl(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], false, false)
}

pub fn pttl(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], true, false)
}

pub fn expiretime(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], false, true)
}

pub fn pexpiretime(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], true, true)
}

pub fn persist(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut s = ctx.shard(args[1]);
    let done = s.persist(args[1], ctx.now);
    ctx.out.int(done as i64);
    Ok(())
}

#[rustfmt::skip]
pub static OBJECT_SUBCOMMANDS: &[Spec] = &[
    cmd!("object|encoding", 3, super::flag::READONLY, "generic", "keyspace read slow", legacy(object_encoding), keys: (2, 2, 1, "RO"), tips: tips::NONDETERMINISTIC),
    cmd!("object|freq", 3, super::flag::READONLY, "generic", "keyspace read slow", legacy(object_freq), keys: (2, 2, 1, "RO"), tips: tips::NONDETERMINISTIC),
    cmd!("object|idletime", 3, super::flag::READONLY, "generic", "keyspace read slow", legacy(object_idletime), keys: (2, 2, 1, "RO"), tips: tips::NONDETERMINISTIC),
    cmd!("object|refcount", 3, super::flag::READONLY, "generic", "keyspace read slow", legacy(object_refcount), keys: (2, 2, 1, "RO"), tips: tips::NONDETERMINISTIC),
    cmd!("object|help", 2, super::flag::LOADING | super::flag::STALE, "generic", "keyspace slow", legacy(object_help)),
];

/// Looks the key up without touching it; `None` after replying null.
fn object_lookup<T>(
    ctx: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(&crate::store::Entry) -> T,
) -> Option<T> {
    let mut s = ctx.shard(key);
    match s.read_notouch(key, ctx.now) {
        Some(e) => Some(f(e)),
        None => {
            drop(s);
            ctx.out.null();
            None
        }
    }
}

fn object_encoding(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if let Some(enc) = object_lookup(ctx, args[2], |e| e.encoding()) {
        ctx.out.bulk(enc.as_bytes());
    }
    Ok(())
}

fn object_freq(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if let Some(field) = object_lookup(ctx, args[2], |e| e.access()) {
        if !access::is_lfu() {
            return Err(CmdError::other("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        ctx.out.int(access::lfu_decayed(field, ctx.now) as i64);
    }
    Ok(())
}

fn object_idletime(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if let Some(field) = object_lookup(ctx, args[2], |e| e.access()) {
        if access::is_lfu() {
            return Err(CmdError::other("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        ctx.out.int(access::idle_seconds(field, ctx.now) as i64);
    }
    Ok(())
}

fn object_refcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    // Redis shares the objects of the integers 0..9999 (refcount INT_MAX) when no
    // maxmemory is set; every other value is referenced once.
    let maxmemory = ctx.state.maxmemory();
    let shared = move |e: &crate::store::Entry| {
        maxmemory == 0
            && e.encoding() == "int"
            && e.str()
                .and_then(crate::protocol::parse::parse_i64)
                .is_some_and(|n| (0..10000).contains(&n))
    };
    if let Some(is_shared) = object_lookup(ctx, args[2], shared) {
        ctx.out.int(if is_shared { i32::MAX as i64 } else { 1 });
    }
    Ok(())
}

fn object_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    super::help(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    )
}
