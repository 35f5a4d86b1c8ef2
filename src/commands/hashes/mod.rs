//! Hash commands: HSET and its relatives, counters, HSCAN, HRANDFIELD. Replies and errors
//! follow Redis 7.0's `t_hash.c`; the value lives in `store::hash`. A write that empties a
//! hash deletes its key, as in Redis.

pub mod parse;

use super::{CmdError, CmdResult, Ctx};
use crate::protocol::parse::parse_i64;
use crate::store::entry::Object;
use crate::store::glob;
use crate::store::hash::Hash;
use crate::store::{Entry, NotObject, ValueRef};
use parse::{RandField, Scan};
use rand::Rng;

/// The hash stored at `key`, or WRONGTYPE.
fn hash_of(e: &Entry) -> Result<&Hash, CmdError> {
    match e.value() {
        ValueRef::Obj(Object::Hash(h)) => Ok(h),
        _ => Err(CmdError::WrongType),
    }
}

/// Runs `f` on the hash at `key` with one lookup. `f` returns its result and whether it
/// changed the hash (then WATCHes fire and the save points count it). A missing key is an
/// empty hash when `create`, stored if `f` leaves fields in it; else `f` does not run and the
/// result is `None`. A hash left empty is deleted. WRONGTYPE for any other value.
fn write_hash<R>(
    ctx: &Ctx,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut Hash) -> Result<(R, bool), CmdError>,
) -> Result<Option<R>, CmdError> {
    ctx.shard(key)
        .write(key, ctx.now, |slot| match slot.object_mut() {
            Ok(Some(Object::Hash(h))) => {
                let (r, written) = f(h)?;
                if h.is_empty() {
                    slot.delete();
                } else if written {
                    slot.mark_written();
                }
                Ok(Some(r))
            }
            Ok(None) if create => {
                let mut h = Hash::new();
                let (r, _) = f(&mut h)?;
                if !h.is_empty() {
                    slot.put_object(Object::Hash(h), None);
                }
                Ok(Some(r))
            }
            Ok(None) => Ok(None),
            Ok(Some(_)) | Err(NotObject) => Err(CmdError::WrongType),
        })
}

/// HSET and HMSET: sets every pair in order; the number of new fields.
fn set_pairs(ctx: &Ctx, key: &[u8], pairs: &[&[u8]]) -> Result<i64, CmdError> {
    let limits = ctx.state.keyspace.hash_limits();
    let added = write_hash(ctx, key, true, |h| {
        let added = pairs
            .chunks_exact(2)
            .filter(|p| h.set(p[0], p[1], limits))
            .count();
        Ok((added as i64, true))
    })?;
    Ok(added.unwrap_or(0))
}

pub fn hset(ctx: &mut Ctx, (key, pairs): (&[u8], &[&[u8]])) -> CmdResult {
    let added = set_pairs(ctx, key, pairs)?;
    ctx.out.int(added);
    Ok(())
}

pub fn hmset(ctx: &mut Ctx, (key, pairs): (&[u8], &[&[u8]])) -> CmdResult {
    set_pairs(ctx, key, pairs)?;
    ctx.out.ok();
    Ok(())
}

pub fn hsetnx(ctx: &mut Ctx, (key, field, value): (&[u8], &[u8], &[u8])) -> CmdResult {
    let limits = ctx.state.keyspace.hash_limits();
    let set = write_hash(ctx, key, true, |h| {
        if h.contains(field) {
            return Ok((false, false));
        }
        h.set(field, value, limits);
        Ok((true, true))
    })?;
    ctx.out.int(i64::from(set == Some(true)));
    Ok(())
}

pub fn hget(ctx: &mut Ctx, (key, field): (&[u8], &[u8])) -> CmdResult {
    let mut s = ctx.shard(key);
    match s.read(key, ctx.now) {
        None => ctx.out.null(),
        Some(e) => match hash_of(e)?.get(field) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

pub fn hmget(ctx: &mut Ctx, (key, fields): (&[u8], &[&[u8]])) -> CmdResult {
    let mut s = ctx.shard(key);
    let h = match s.read(key, ctx.now) {
        None => None,
        Some(e) => Some(hash_of(e)?),
    };
    ctx.out.array(fields.len());
    for f in fields {
        match h.and_then(|h| h.get(f)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// What HGETALL, HKEYS and HVALS list.
#[derive(Clone, Copy, PartialEq)]
enum Listing {
    All,
    Keys,
    Values,
}

fn list(ctx: &mut Ctx, key: &[u8], what: Listing) -> CmdResult {
    let mut s = ctx.shard(key);
    let Some(e) = s.read(key, ctx.now) else {
        // Redis's empty map (HGETALL) or empty array.
        match what {
            Listing::All => ctx.out.map(0),
            _ => ctx.out.array(0),
        }
        return Ok(());
    };
    let h = hash_of(e)?;
    match what {
        Listing::All => ctx.out.map(h.len()),
        _ => ctx.out.array(h.len()),
    }
    for (f, v) in h.iter() {
        if what != Listing::Values {
            ctx.out.bulk(f);
        }
        if what != Listing::Keys {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

pub fn hgetall(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    list(ctx, key, Listing::All)
}

pub fn hkeys(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    list(ctx, key, Listing::Keys)
}

pub fn hvals(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    list(ctx, key, Listing::Values)
}

pub fn hdel(ctx: &mut Ctx, (key, fields): (&[u8], &[&[u8]])) -> CmdResult {
    let deleted = write_hash(ctx, key, false, |h| {
        let mut n = 0;
        for f in fields {
            if h.remove(f) {
                n += 1;
                // Redis stops at the last field: the key is gone.
                if h.is_empty() {
                    break;
                }
            }
        }
        Ok((n, n > 0))
    })?;
    ctx.out.int(deleted.unwrap_or(0));
    Ok(())
}

/// HLEN, HEXISTS, HSTRLEN: a number read from the hash (0 when the key is missing), without
/// touching its access time's hit counters differently from Redis (`lookupKeyRead`).
fn count_of(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&Hash) -> usize) -> CmdResult {
    let mut s = ctx.shard(key);
    let n = match s.read(key, ctx.now) {
        None => 0,
        Some(e) => f(hash_of(e)?),
    };
    ctx.out.int(n as i64);
    Ok(())
}

pub fn hlen(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    count_of(ctx, key, Hash::len)
}

pub fn hexists(ctx: &mut Ctx, (key, field): (&[u8], &[u8])) -> CmdResult {
    count_of(ctx, key, |h| usize::from(h.contains(field)))
}

pub fn hstrlen(ctx: &mut Ctx, (key, field): (&[u8], &[u8])) -> CmdResult {
    count_of(ctx, key, |h| h.get(field).map_or(0, <[u8]>::len))
}

pub fn hincrby(ctx: &mut Ctx, (key, field, by): (&[u8], &[u8], i64)) -> CmdResult {
    let limits = ctx.state.keyspace.hash_limits();
    let new = write_hash(ctx, key, true, |h| {
        let old = match h.get(field) {
            None => 0,
            Some(v) => {
                parse_i64(v).ok_or_else(|| CmdError::other("ERR hash value is not an integer"))?
            }
        };
        let new = old.checked_add(by).ok_or(CmdError::Overflow)?;
        h.set(field, itoa::Buffer::new().format(new).as_bytes(), limits);
        Ok((new, true))
    })?;
    ctx.out.int(new.unwrap_or(0));
    Ok(())
}

pub fn hincrbyfloat(ctx: &mut Ctx, (key, field, incr): (&[u8], &[u8], &[u8])) -> CmdResult {
    // The increment is checked before the key is looked up, as in Redis: not a float, then
    // NaN or infinite (0 + incr is neither exactly when incr is neither).
    match crate::commands::strings::add_long_double(None, incr) {
        Err(CmdError::NotFloat) => return Err(CmdError::NotFloat),
        Err(_) => return Err(CmdError::other("ERR value is NaN or Infinity")),
        Ok(_) => {}
    }
    let limits = ctx.state.keyspace.hash_limits();
    let new = write_hash(ctx, key, true, |h| {
        let new = match crate::commands::strings::add_long_double(h.get(field), incr) {
            // The increment parsed above: the stored value is what does not.
            Err(CmdError::NotFloat) => {
                return Err(CmdError::other("ERR hash value is not a float"));
            }
            other => other?,
        };
        h.set(field, &new, limits);
        Ok((new, true))
    })?;
    ctx.out.bulk(&new.unwrap_or_default());
    Ok(())
}

pub fn hscan(ctx: &mut Ctx, req: Scan) -> CmdResult {
    let mut s = ctx.shard(req.key);
    let Some(e) = s.read(req.key, ctx.now) else {
        // Redis's empty scan, whatever the options.
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let h = hash_of(e)?;
    let opts = req.options?;
    let mut found: Vec<(&[u8], &[u8])> = Vec::new();
    let next = h.scan(req.cursor, opts.count, |f, v| {
        if opts.pattern.is_none_or(|p| glob::matches(p, f, false)) {
            found.push((f, v));
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len() * 2);
    for (f, v) in found {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
    Ok(())
}

pub fn hrandfield(ctx: &mut Ctx, req: RandField) -> CmdResult {
    let RandField {
        key,
        count,
        with_values,
    } = req;
    let mut s = ctx.shard(key);
    let e = s.read(key, ctx.now);
    let mut rng = rand::rng();
    let Some(count) = count else {
        match e {
            None => ctx.out.null(),
            Some(e) => {
                let h = hash_of(e)?;
                match h.nth(rng.random_range(0..h.len().max(1))) {
                    Some((f, _)) => ctx.out.bulk(f),
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
    let h = hash_of(e)?;
    let picks = super::random::picks(h.len(), count, super::random::Whole::InOrder)?;
    // A packed hash is walked once into positions; a table's pairs are at hand.
    let packed: Vec<(&[u8], &[u8])> = match h {
        Hash::Packed(_) => h.iter().collect(),
        Hash::Table(_) => Vec::new(),
    };
    let pair = |i: usize| match packed.get(i) {
        Some(&p) => Some(p),
        None => h.nth(i),
    };
    let resp3 = ctx.out.resp3;
    // Redis's shapes: RESP2 flattens field and value into one array; RESP3 nests each pair.
    let header = |out: &mut crate::protocol::Out, n: usize| {
        out.array(if with_values && !resp3 { n * 2 } else { n })
    };
    let emit = |out: &mut crate::protocol::Out, (f, v): (&[u8], &[u8])| {
        if with_values && resp3 {
            out.array(2);
        }
        out.bulk(f);
        if with_values {
            out.bulk(v);
        }
    };
    header(ctx.out, picks.len());
    for i in picks {
        if let Some(p) = pair(i) {
            emit(ctx.out, p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::test_support::Server;

    /// The bulk strings of a RESP2 array reply, in order.
    fn bulks(reply: &str) -> Vec<String> {
        reply
            .split("\r\n")
            .skip(1)
            .collect::<Vec<_>>()
            .chunks(2)
            .filter(|c| c.len() == 2 && c[0].starts_with('$'))
            .map(|c| c[1].to_string())
            .collect()
    }

    #[test]
    fn hrandfield_picks_distinct_fields_or_repeats_as_asked() {
        let mut s = Server::new();
        s.run("HSET h a 1 b 2 c 3 d 4 e 5");
        for _ in 0..50 {
            let mut got = bulks(&s.run("HRANDFIELD h 3"));
            assert_eq!(got.len(), 3);
            got.dedup();
            let mut unique = got.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), 3, "{got:?}");
            let picks = bulks(&s.run("HRANDFIELD h -20 WITHVALUES"));
            assert_eq!(picks.len(), 40);
            for p in picks.chunks(2) {
                let want = (p[0].as_bytes()[0] - b'a' + b'1') as char;
                assert_eq!(p[1], want.to_string());
            }
        }
        assert_eq!(bulks(&s.run("HRANDFIELD h 10")), ["a", "b", "c", "d", "e"]);
        let one = bulks(&s.run("HRANDFIELD h"));
        assert!(one.is_empty(), "a bulk reply, not an array");
        assert!(s.run("HRANDFIELD h").starts_with('$'));
        // Beyond the cap on repeats: refused for a hash, an empty array for no key.
        assert_eq!(
            s.run("HRANDFIELD h -16777217"),
            "-ERR value is out of range\r\n"
        );
        assert_eq!(s.run("HRANDFIELD nokey -16777217"), "*0\r\n");
    }

    #[test]
    fn an_emptied_hash_is_deleted_and_its_memory_given_back() {
        let mut s = Server::new();
        // The key table's own growth (its shard's index) is not the hash's.
        s.run("SET h x");
        s.run("DEL h");
        let base = s.state.keyspace.used_memory();
        s.run("HSET h a 1 b 2");
        s.run("EXPIRE h 100");
        assert!(s.state.keyspace.used_memory() > base);
        assert_eq!(s.run("HDEL h a b c"), ":2\r\n");
        assert_eq!(s.run("EXISTS h"), ":0\r\n");
        assert_eq!(s.run("TTL h"), ":-2\r\n");
        assert_eq!(s.state.keyspace.used_memory(), base);
        // HINCRBY's error leaves no key behind; HSETNX on a new key creates it.
        s.run("HSET t f abc");
        assert_eq!(
            s.run("HINCRBY t f 1"),
            "-ERR hash value is not an integer\r\n"
        );
        assert_eq!(s.run("HSETNX n f v"), ":1\r\n");
        assert_eq!(s.run("TYPE n"), "+hash\r\n");
    }
}
