//! The bitmap commands on string values: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, as Redis
//! 7.0's `bitops.c`. Bit 0 is the most significant bit of the first byte.
//!
//! SETBIT changes a string in place (`Slot::raw_str_mut`, which makes it `raw` as Redis's
//! `dbUnshareStringValue` does); a string it grows, or a new one, is written anew.

pub mod parse;

use self::parse::{BitOp, BitRange, Count, GetBit, Op, Pos, SetBit};
use super::{CmdError, CmdResult, Ctx};
use crate::store::{Encoding, Entry};

fn str_of(e: &Entry) -> Result<&[u8], CmdError> {
    e.str().ok_or(CmdError::WrongType)
}

fn bit_at(v: &[u8], offset: u64) -> bool {
    let byte = usize::try_from(offset >> 3).ok().and_then(|i| v.get(i));
    byte.is_some_and(|b| b & (0x80 >> (offset & 7)) != 0)
}

pub fn setbit(ctx: &mut Ctx, req: SetBit) -> CmdResult {
    let offset = parse::offset(req.offset, ctx.state.proto_max_bulk_len())?;
    let on = parse::bit_value(req.value)?;
    let key = req.key;
    // Below proto-max-bulk-len (checked above), so the byte index fits in memory's indexes.
    let byte = usize::try_from(offset >> 3)
        .map_err(|_| CmdError::other("ERR bit offset is not an integer or out of range"))?;
    let mask = 0x80u8 >> (offset & 7);
    let flip = |b: &mut u8| {
        if on {
            *b |= mask;
        } else {
            *b &= !mask;
        }
    };
    let old = ctx.shard(key).write(key, ctx.now, |slot| {
        let (old, grows) = {
            let cur = slot.entry().map(str_of).transpose()?;
            let old = cur.is_some_and(|v| bit_at(v, offset));
            (old, cur.is_none_or(|v| v.len() <= byte))
        };
        // A string long enough changes in place, O(1), as in Redis; it becomes `raw` even
        // when the bit is unchanged, which is no write (WATCH does not fire).
        if !grows {
            if let Some(b) = slot.raw_str_mut().and_then(|v| v.get_mut(byte)) {
                if old != on {
                    flip(b);
                    slot.mark_written();
                }
                return Ok::<_, CmdError>(old);
            }
        }
        let cur = slot.entry().map(str_of).transpose()?;
        let existed = cur.is_some();
        let cur = cur.unwrap_or_default();
        let mut buf = vec![0u8; cur.len().max(byte + 1)];
        buf[..cur.len()].copy_from_slice(cur);
        flip(&mut buf[byte]);
        let entry = Entry::new_str(key, &buf, Encoding::Raw, 0);
        match existed {
            true => slot.put_keep_ttl(entry),
            false => slot.put(entry),
        }
        Ok(old)
    })?;
    ctx.out.int(i64::from(old));
    Ok(())
}

pub fn getbit(ctx: &mut Ctx, req: GetBit) -> CmdResult {
    let offset = parse::offset(req.offset, ctx.state.proto_max_bulk_len())?;
    let mut s = ctx.shard(req.key);
    let bit = match s.read(req.key, ctx.now) {
        None => false,
        Some(e) => bit_at(str_of(e)?, offset),
    };
    ctx.out.int(i64::from(bit));
    Ok(())
}

/// The set bits of `v` in `r`.
fn count(v: &[u8], r: BitRange) -> u64 {
    let (first, last) = (byte_index(r.first), byte_index(r.last));
    let Some(bytes) = v.get(first..=last) else {
        return 0;
    };
    let mut n: u64 = bytes.iter().map(|b| u64::from(b.count_ones())).sum();
    // The bits of the edge bytes outside the range.
    n -= u64::from((bytes[0] & !(0xFFu8 >> (r.first & 7))).count_ones());
    n -= u64::from((bytes[bytes.len() - 1] & (0x7Fu8 >> (r.last & 7))).count_ones());
    n
}

fn byte_index(bit: u64) -> usize {
    usize::try_from(bit >> 3).unwrap_or(usize::MAX)
}

pub fn bitcount(ctx: &mut Ctx, req: Count) -> CmdResult {
    let mut s = ctx.shard(req.key);
    let n = match s.read(req.key, ctx.now) {
        None => 0,
        Some(e) => {
            let v = str_of(e)?;
            parse::count_range(req.range, v.len())?.map_or(0, |r| count(v, r))
        }
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// The first bit equal to `bit` in `r`, if any.
fn find(v: &[u8], bit: bool, r: BitRange) -> Option<u64> {
    let first = byte_index(r.first);
    let last = byte_index(r.last);
    let skip = if bit { 0x00 } else { 0xFF };
    let end = last.min(v.len().checked_sub(1)?);
    for (i, &byte) in v.iter().enumerate().take(end + 1).skip(first) {
        // Bits outside the range read as the opposite of what is looked for.
        let mut b = byte;
        let mut outside = 0u8;
        if i == first {
            outside |= !(0xFFu8 >> (r.first & 7));
        }
        if i == last {
            outside |= 0x7Fu8 >> (r.last & 7);
        }
        if bit {
            b &= !outside;
        } else {
            b |= outside;
        }
        if b == skip {
            continue;
        }
        let within = if bit { b } else { !b }.leading_zeros();
        return Some(i as u64 * 8 + u64::from(within));
    }
    None
}

pub fn bitpos(ctx: &mut Ctx, req: Pos) -> CmdResult {
    let mut s = ctx.shard(req.key);
    let pos = match s.read(req.key, ctx.now) {
        // A missing key is an endless run of 0 bits.
        None => i64::from(!req.bit) - 1,
        Some(e) => {
            let v = str_of(e)?;
            match parse::pos_range(req.range, v.len())? {
                (None, _) => -1,
                (Some(r), end_given) => match find(v, req.bit, r) {
                    Some(p) => p as i64,
                    // Looking for a 0 past a string with no end given: the first bit
                    // after the last byte (a string is zero-padded on the right).
                    None if !req.bit && !end_given => (byte_index(r.last) as i64 + 1) * 8,
                    None => -1,
                },
            }
        }
    };
    ctx.out.int(pos);
    Ok(())
}

pub fn bitop(ctx: &mut Ctx, req: BitOp) -> CmdResult {
    let BitOp { op, dest, keys } = req;
    let mut locked = ctx
        .state
        .keyspace
        .lock_keys(ctx.client.db, keys.iter().chain(std::iter::once(&dest)));
    let mut sources: Vec<Vec<u8>> = Vec::with_capacity(keys.len());
    for k in keys {
        match locked.get(k).read(k, ctx.now) {
            None => sources.push(Vec::new()),
            Some(e) => sources.push(str_of(e)?.to_vec()),
        }
    }
    let len = sources.iter().map(Vec::len).max().unwrap_or(0);
    let byte = |s: &Vec<u8>, i: usize| s.get(i).copied().unwrap_or(0);
    let mut out = vec![0u8; len];
    for (i, o) in out.iter_mut().enumerate() {
        let mut acc = sources.first().map_or(0, |s| byte(s, i));
        if op == Op::Not {
            acc = !acc;
        }
        for s in sources.iter().skip(1) {
            match op {
                Op::And => acc &= byte(s, i),
                Op::Or => acc |= byte(s, i),
                Op::Xor => acc ^= byte(s, i),
                Op::Not => {}
            }
        }
        *o = acc;
    }
    let shard = locked.get(dest);
    if len > 0 {
        shard.put(Entry::new_str(dest, &out, Encoding::Raw, 0), false, ctx.now);
    } else {
        shard.remove(dest, ctx.now);
    }
    ctx.out.int(len as i64);
    Ok(())
}
