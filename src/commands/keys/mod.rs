//! Generic key commands: existence, deletion, renaming, TTLs, iteration and OBJECT. Replies
//! and errors follow Redis 7.0's `db.c`, `expire.c` and `object.c`; `parse` turns arguments
//! into requests, the functions here lock, change and reply.

pub mod parse;

use super::{cmd, tips, CmdError, CmdResult, Ctx, Handlers, Spec};
use crate::protocol::args;
use crate::store::{access, glob};
use parse::{Copy, Expire, Rename, Scan, EXPIRE_GT, EXPIRE_LT, EXPIRE_NX, EXPIRE_XX};

pub fn del(ctx: &mut Ctx, keys: &[&[u8]]) -> CmdResult {
    let mut locked = ctx.state.keyspace.lock_keys(ctx.client.db, keys.iter());
    let n = keys
        .iter()
        .filter(|k| locked.get(k).remove(k, ctx.now).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

pub fn exists(ctx: &mut Ctx, keys: &[&[u8]]) -> CmdResult {
    let mut locked = ctx.state.keyspace.lock_keys(ctx.client.db, keys.iter());
    let n = keys
        .iter()
        .filter(|k| locked.get(k).read_notouch(k, ctx.now).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

pub fn touch(ctx: &mut Ctx, keys: &[&[u8]]) -> CmdResult {
    let mut locked = ctx.state.keyspace.lock_keys(ctx.client.db, keys.iter());
    let n = keys
        .iter()
        .filter(|k| locked.get(k).read(k, ctx.now).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

pub fn type_(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let mut s = ctx.shard(key);
    let name = s
        .read_notouch(key, ctx.now)
        .map_or("none", |e| e.type_name());
    ctx.out.simple(name);
    Ok(())
}

/// RENAME/RENAMENX; `Ok(false)` when NX found the destination taken.
fn rename_generic(ctx: &mut Ctx, req: Rename, nx: bool) -> Result<bool, CmdError> {
    let Rename { from, to } = req;
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

pub fn rename(ctx: &mut Ctx, req: Rename) -> CmdResult {
    rename_generic(ctx, req, false)?;
    ctx.out.ok();
    Ok(())
}

pub fn renamenx(ctx: &mut Ctx, req: Rename) -> CmdResult {
    let done = rename_generic(ctx, req, true)?;
    ctx.out.int(done as i64);
    Ok(())
}

/// COPY's parser needs the server's database count, so its handlers are written out.
pub const COPY: Handlers = Handlers {
    run: |ctx, argv| {
        let req = parse::copy(argv, ctx.state.keyspace.databases())?;
        copy(ctx, req)
    },
    // The fuzz target and tests parse against the default of 16 databases.
    parse: |argv| parse::copy(argv, 16).map(drop),
};

pub fn copy(ctx: &mut Ctx, req: Copy) -> CmdResult {
    let Copy {
        from,
        to,
        db,
        replace,
    } = req;
    let src_db = ctx.client.db;
    let dst_db = db.unwrap_or(src_db);
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

pub fn keys(ctx: &mut Ctx, pattern: &[u8]) -> CmdResult {
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

pub fn scan(ctx: &mut Ctx, req: Scan) -> CmdResult {
    let Scan {
        cursor,
        count,
        pattern,
        type_filter,
    } = req;
    let ks = &ctx.state.keyspace;
    let shards = ks.shards(ctx.client.db);
    let bits = ks.shard_count().trailing_zeros();
    let mask = ks.shard_count().saturating_sub(1) as u64;
    // Cursor = (positions left in the shard + 1) << bits | shard; 0 in the high part
    // means "the shard's top". See store::table for why positions run downwards. Any u64
    // the client sends is a cursor: an out-of-range part ends or clamps the scan.
    let mut shard = usize::try_from(cursor & mask).unwrap_or(usize::MAX);
    let mut left = cursor >> bits;
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut visited: i64 = 0;
    let next = loop {
        if shard >= shards.len() {
            break 0;
        }
        {
            let s = shards[shard].lock();
            let mut pos = match left.checked_sub(1) {
                None => s.len(),
                Some(p) => usize::try_from(p).map_or(s.len(), |p| p.min(s.len())),
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

pub fn randomkey(ctx: &mut Ctx, (): ()) -> CmdResult {
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

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT.
pub fn expire(ctx: &mut Ctx, req: Expire) -> CmdResult {
    let when = req.deadline(ctx.now)?;
    let (key, flags) = (req.key, req.cond);
    let mut s = ctx.shard(key);
    if !s.contains(key, ctx.now) {
        ctx.out.int(0);
        return Ok(());
    }
    if flags != 0 {
        let current = s.expire_of(key, ctx.now).map(ms_i64);
        let refused = (flags & EXPIRE_NX != 0 && current.is_some())
            || (flags & EXPIRE_XX != 0 && current.is_none())
            || (flags & EXPIRE_GT != 0 && current.is_none_or(|c| when <= c))
            || (flags & EXPIRE_LT != 0 && current.is_some_and(|c| when >= c));
        if refused {
            ctx.out.int(0);
            return Ok(());
        }
    }
    // A deadline not after now deletes the key, as Redis does (it may be negative).
    match u64::try_from(when) {
        Ok(at) if at > ctx.now => {
            s.set_expire(key, at, ctx.now);
        }
        _ => {
            s.remove(key, ctx.now);
        }
    }
    ctx.out.int(1);
    Ok(())
}

/// A stored deadline (unix ms) as Redis's signed milliseconds. Deadlines come from checked
/// client times, so they fit; a larger one would read as the end of time, not wrap.
fn ms_i64(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Milliseconds (never negative here) to seconds, rounded half up as Redis's `(t+500)/1000`,
/// without its overflow for a deadline within 500 ms of `i64::MAX` (Redis's compiler gives
/// the mathematical result there, which this reproduces).
fn round_to_secs(ms: i64) -> i64 {
    ms / 1000 + i64::from(ms % 1000 >= 500)
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
                ms_i64(at)
            } else {
                ms_i64(at.saturating_sub(ctx.now))
            };
            if ms {
                t
            } else {
                round_to_secs(t)
            }
        }
    };
    ctx.out.int(reply);
    Ok(())
}

pub fn ttl(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    ttl_generic(ctx, key, false, false)
}

pub fn pttl(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    ttl_generic(ctx, key, true, false)
}

pub fn expiretime(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    ttl_generic(ctx, key, false, true)
}

pub fn pexpiretime(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    ttl_generic(ctx, key, true, true)
}

pub fn persist(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let mut s = ctx.shard(key);
    let done = s.persist(key, ctx.now);
    ctx.out.int(done as i64);
    Ok(())
}

#[rustfmt::skip]
pub static OBJECT_SUBCOMMANDS: &[Spec] = &[
    cmd!("object|encoding", 3, super::flag::READONLY, "generic", "keyspace read slow", parse::object_key => object_encoding, keys: (2, 2, 1, "RO"), tips: tips::NONDETERMINISTIC),
    cmd!("object|freq", 3, super::flag::READONLY, "generic", "keyspace read slow", parse::object_key => object_freq, keys: (2, 2, 1, "RO"), tips: tips::NONDETERMINISTIC),
    cmd!("object|idletime", 3, super::flag::READONLY, "generic", "keyspace read slow", parse::object_key => object_idletime, keys: (2, 2, 1, "RO"), tips: tips::NONDETERMINISTIC),
    cmd!("object|refcount", 3, super::flag::READONLY, "generic", "keyspace read slow", parse::object_key => object_refcount, keys: (2, 2, 1, "RO"), tips: tips::NONDETERMINISTIC),
    cmd!("object|help", 2, super::flag::LOADING | super::flag::STALE, "generic", "keyspace slow", args::no_sub_args => object_help),
];

#[rustfmt::skip]
pub static MEMORY_SUBCOMMANDS: &[Spec] = &[
    cmd!("memory|usage", -3, super::flag::READONLY, "server", "read slow", parse::memory_usage => memory_usage, keys: (2, 2, 1, "RO")),
    cmd!("memory|purge", 2, 0, "server", "slow", args::no_sub_args => memory_purge, tips: &["request_policy:all_shards", "response_policy:all_succeeded"]),
    cmd!("memory|help", 2, super::flag::LOADING | super::flag::STALE, "server", "slow", args::no_sub_args => memory_help),
];

/// MEMORY USAGE: the bytes the key and its value take as tollgate counts them for
/// `used_memory` (its allocations at the allocator's size classes, plus its table slot and
/// index, plus its TTL bookkeeping): not Redis's numbers, the same idea.
fn memory_usage(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    if let Some(n) = object_lookup(ctx, key, |e| {
        let slot = std::mem::size_of::<crate::store::Entry>() + 8;
        let ttl = if e.is_volatile() {
            crate::alloc::block_size(e.key().len() + 8) + 48
        } else {
            0
        };
        e.mem_size() + slot + ttl
    }) {
        ctx.out.int(n as i64);
    }
    Ok(())
}

/// MEMORY PURGE: freed pages go back to the system by jemalloc's background thread; there is
/// nothing to ask for, as Redis answers OK where its allocator has nothing to purge.
fn memory_purge(ctx: &mut Ctx, (): ()) -> CmdResult {
    ctx.out.ok();
    Ok(())
}

fn memory_help(ctx: &mut Ctx, (): ()) -> CmdResult {
    super::help(
        ctx,
        "MEMORY",
        &[
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    )
}

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

fn object_encoding(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    if let Some(enc) = object_lookup(ctx, key, |e| e.encoding()) {
        ctx.out.bulk(enc.as_bytes());
    }
    Ok(())
}

fn object_freq(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    if let Some(field) = object_lookup(ctx, key, |e| e.access()) {
        if !ctx.state.keyspace.is_lfu() {
            return Err(CmdError::other("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        ctx.out.int(access::lfu_decayed(field, ctx.now) as i64);
    }
    Ok(())
}

fn object_idletime(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    if let Some(field) = object_lookup(ctx, key, |e| e.access()) {
        if ctx.state.keyspace.is_lfu() {
            return Err(CmdError::other("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        ctx.out.int(access::idle_seconds(field, ctx.now) as i64);
    }
    Ok(())
}

fn object_refcount(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
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
    if let Some(is_shared) = object_lookup(ctx, key, shared) {
        ctx.out.int(if is_shared { i32::MAX as i64 } else { 1 });
    }
    Ok(())
}

fn object_help(ctx: &mut Ctx, (): ()) -> CmdResult {
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

#[cfg(test)]
mod tests {
    use super::round_to_secs;
    use crate::commands::test_support::Server;

    #[test]
    fn seconds_round_half_up() {
        for (ms, secs) in [
            (0, 0),
            (499, 0),
            (500, 1),
            (1_499, 1),
            (1_500, 2),
            (i64::MAX - 1_308, 9_223_372_036_854_774),
            (i64::MAX - 1_307, 9_223_372_036_854_775),
            (i64::MAX - 308, 9_223_372_036_854_775),
            (i64::MAX - 307, 9_223_372_036_854_776),
            (i64::MAX, 9_223_372_036_854_776),
        ] {
            assert_eq!(round_to_secs(ms), secs, "{ms}");
        }
    }

    /// The last millisecond Redis can hold as a deadline: TTL and EXPIRETIME round it to
    /// seconds without overflowing (it used to panic in debug builds: `t + 500`).
    #[test]
    fn ttls_at_the_end_of_time() {
        let mut s = Server::new();
        assert_eq!(s.run("SET k v"), "+OK\r\n");
        assert_eq!(s.run("PEXPIREAT k 9223372036854775807"), ":1\r\n");
        assert_eq!(s.run("PEXPIRETIME k"), ":9223372036854775807\r\n");
        assert_eq!(s.run("EXPIRETIME k"), ":9223372036854776\r\n");
        let left = 9_223_372_036_854_775_807 - 1_700_000_000_000_i64;
        assert_eq!(s.run("PTTL k"), format!(":{left}\r\n"));
        assert_eq!(s.run("TTL k"), format!(":{}\r\n", (left + 500) / 1000));
    }

    /// Client-supplied extremes through every key command that does arithmetic on them:
    /// replies, never an overflow (a debug build panics on one).
    #[test]
    fn extreme_numbers_reply_instead_of_overflowing() {
        let mut s = Server::new();
        for line in [
            "SET k v",
            "SCAN 18446744073709551615 COUNT 9223372036854775807",
            "SCAN 9223372036854775808 COUNT 1",
            "SCAN -1 MATCH * COUNT 9223372036854775807 TYPE string",
            "EXPIRE k 9223372036854775",
            "EXPIRE k -9223372036854775",
            "SET k v",
            "PEXPIRE k 9223372036854775807",
            "PEXPIRE k -9223372036854775808",
            "SET k v",
            "EXPIREAT k 9223372036854775 GT",
            "TTL k",
            "PTTL k",
            "PEXPIREAT k 9223372036854775807 LT",
            "EXPIREAT k -9223372036854775",
            "COPY k j DB 2147483647",
            "COPY k j DB -2147483648",
        ] {
            let reply = s.run(line);
            assert!(!reply.is_empty(), "{line}");
        }
    }
}
