//! Parsing of the sorted-set commands: argv to typed requests, with the errors Redis 7.0's
//! `t_zset.c` chooses, in its order. Pure: no state, no locks, no replies. Errors Redis
//! reports only after looking the keys up (ZUNION's options) travel in the request.

use crate::error::CmdError;
use crate::protocol::args::{self, is, Args};

/// C's `strtod` on `arg` up to its first NUL: the value, how many bytes it read, and whether
/// it set ERANGE. The same function Redis parses scores and range bounds with (hex floats,
/// `inf`, `infinity`, leading spaces included).
fn strtod(arg: &[u8]) -> (f64, usize, bool) {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    let Ok(c) = std::ffi::CString::new(&arg[..end]) else {
        return (0.0, 0, false);
    };
    let mut eptr: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `c` is a live NUL-terminated string; strtod reads up to its NUL and stores in
    // `eptr` a pointer into it; errno is this thread's.
    let (v, erange) = unsafe {
        *libc::__errno_location() = 0;
        let v = libc::strtod(c.as_ptr(), &mut eptr);
        (v, *libc::__errno_location() == libc::ERANGE)
    };
    let read = if eptr.is_null() {
        0
    } else {
        (eptr as usize).saturating_sub(c.as_ptr() as usize)
    };
    (v, read, erange)
}

/// A score or weight as Redis's `getDoubleFromObject` reads it: the whole argument, no
/// leading space, no overflow or underflow to zero, no NaN.
pub fn score(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || arg[0].is_ascii_whitespace() || arg[0] == b'\x0b' || arg[0] == b'\x0c' {
        return None;
    }
    let (v, read, erange) = strtod(arg);
    if read != arg.len() || v.is_nan() || (erange && (v.is_infinite() || v == 0.0)) {
        return None;
    }
    Some(v)
}

fn next_score(a: &mut Args) -> Result<f64, CmdError> {
    a.next_with(|s| score(s).ok_or(CmdError::NotFloat))
}

/// A score interval (`zrangespec`): `(` makes a bound exclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    /// Whether a score lies before the interval (the members the range starts after).
    pub fn below(&self, s: f64) -> bool {
        if self.minex {
            s <= self.min
        } else {
            s < self.min
        }
    }

    /// Whether a score is not past the interval's end.
    pub fn within_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

/// One bound as `zslParseRange` reads it: strtod to the end of the argument (up to a NUL),
/// no NaN; no check of leading spaces or overflow, and an empty bound is 0, as in Redis.
fn score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (body, ex) = match arg.first() {
        Some(b'(') => (&arg[1..], true),
        _ => (arg, false),
    };
    let end = body.iter().position(|&b| b == 0).unwrap_or(body.len());
    let (v, read, _) = strtod(body);
    (read == end && !v.is_nan()).then_some((v, ex))
}

pub fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    match (score_bound(min), score_bound(max)) {
        (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange {
            min,
            max,
            minex,
            maxex,
        }),
        _ => Err(CmdError::other("ERR min or max is not a float")),
    }
}

/// A lex bound: `-` and `+` are the ends, `[` inclusive, `(` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lex<'a> {
    Min,
    Max,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

/// A lex interval (`zlexrangespec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LexRange<'a> {
    pub min: Lex<'a>,
    pub max: Lex<'a>,
}

impl LexRange<'_> {
    /// Whether a member lies before the interval.
    pub fn below(&self, m: &[u8]) -> bool {
        match self.min {
            Lex::Min => false,
            Lex::Max => true,
            Lex::Incl(v) => m < v,
            Lex::Excl(v) => m <= v,
        }
    }

    /// Whether a member is not past the interval's end.
    pub fn within_max(&self, m: &[u8]) -> bool {
        match self.max {
            Lex::Min => false,
            Lex::Max => true,
            Lex::Incl(v) => m <= v,
            Lex::Excl(v) => m < v,
        }
    }
}

fn lex_bound(arg: &[u8]) -> Option<Lex<'_>> {
    match arg {
        b"+" => Some(Lex::Max),
        b"-" => Some(Lex::Min),
        [b'(', rest @ ..] => Some(Lex::Excl(rest)),
        [b'[', rest @ ..] => Some(Lex::Incl(rest)),
        _ => None,
    }
}

pub fn lex_range<'a>(min: &'a [u8], max: &'a [u8]) -> Result<LexRange<'a>, CmdError> {
    match (lex_bound(min), lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(CmdError::other(
            "ERR min or max not valid string range item",
        )),
    }
}

/// ZADD (and ZINCRBY, which is ZADD INCR of one pair).
#[derive(Debug, Clone, PartialEq)]
pub struct Add<'a> {
    pub key: &'a [u8],
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub ch: bool,
    pub incr: bool,
    pub scores: Vec<f64>,
    pub members: Vec<&'a [u8]>,
}

/// ZADD `key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`.
pub fn zadd<'a>(argv: &'a [&'a [u8]]) -> Result<Add<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let mut r = Add {
        key,
        nx: false,
        xx: false,
        gt: false,
        lt: false,
        ch: false,
        incr: false,
        scores: Vec::new(),
        members: Vec::new(),
    };
    while let Some(opt) = a.peek() {
        let flag = if is(opt, "NX") {
            &mut r.nx
        } else if is(opt, "XX") {
            &mut r.xx
        } else if is(opt, "CH") {
            &mut r.ch
        } else if is(opt, "INCR") {
            &mut r.incr
        } else if is(opt, "GT") {
            &mut r.gt
        } else if is(opt, "LT") {
            &mut r.lt
        } else {
            break;
        };
        *flag = true;
        a.next();
    }
    let rest = a.rest();
    if rest.is_empty() || rest.len() % 2 != 0 {
        return Err(CmdError::Syntax);
    }
    if r.nx && r.xx {
        return Err(CmdError::other(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (r.gt || r.lt) && (r.nx || (r.gt && r.lt)) {
        return Err(CmdError::other(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if r.incr && rest.len() > 2 {
        return Err(CmdError::other(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    r.scores.reserve(rest.len() / 2);
    r.members.reserve(rest.len() / 2);
    for p in rest.chunks_exact(2) {
        r.scores.push(score(p[0]).ok_or(CmdError::NotFloat)?);
        r.members.push(p[1]);
    }
    Ok(r)
}

/// ZINCRBY `key increment member`.
pub fn zincrby<'a>(argv: &'a [&'a [u8]]) -> Result<Add<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let by = next_score(&mut a)?;
    let member = a.next_bytes()?;
    a.finish()?;
    Ok(Add {
        key,
        nx: false,
        xx: false,
        gt: false,
        lt: false,
        ch: false,
        incr: true,
        scores: vec![by],
        members: vec![member],
    })
}

/// What a range selects.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum By<'a> {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange<'a>),
}

/// ZRANGE and its relatives, ZRANGESTORE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range<'a> {
    /// ZRANGESTORE's destination.
    pub dst: Option<&'a [u8]>,
    pub key: &'a [u8],
    pub by: By<'a>,
    pub rev: bool,
    pub withscores: bool,
    /// LIMIT offset count (a negative count: no limit).
    pub limit: Option<(i64, i64)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Redis's `zrangeGenericCommand`: options in order (LIMIT's numbers read as met), then
/// the combinations refused, then the bounds.
fn range_generic<'a>(
    argv: &'a [&'a [u8]],
    store: bool,
    mut kind: Kind,
    mut rev: Option<bool>,
) -> Result<Range<'a>, CmdError> {
    let mut a = Args::command(argv);
    let dst = if store { Some(a.next_key()?) } else { None };
    let key = a.next_key()?;
    let first = a.next_bytes()?;
    let second = a.next_bytes()?;
    let mut withscores = false;
    let mut limit = None;
    while let Some(opt) = a.next() {
        if !store && is(opt, "WITHSCORES") {
            withscores = true;
        } else if is(opt, "LIMIT") && a.remaining() >= 2 {
            let offset = a.next_i64()?;
            let count = a.next_i64()?;
            limit = Some((offset, count));
        } else if rev.is_none() && is(opt, "REV") {
            rev = Some(true);
        } else if kind == Kind::Auto && is(opt, "BYLEX") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && is(opt, "BYSCORE") {
            kind = Kind::Score;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let rev = rev.unwrap_or(false);
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit.is_some() && kind == Kind::Rank {
        return Err(CmdError::other(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && kind == Kind::Lex {
        return Err(CmdError::other(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // Reversed score and lex ranges give the maximum first.
    let (min, max) = if rev && kind != Kind::Rank {
        (second, first)
    } else {
        (first, second)
    };
    let by = match kind {
        Kind::Score => By::Score(score_range(min, max)?),
        Kind::Lex => By::Lex(lex_range(min, max)?),
        _ => By::Rank(args::int(min)?, args::int(max)?),
    };
    Ok(Range {
        dst,
        key,
        by,
        rev,
        withscores,
        limit,
    })
}

pub fn zrange<'a>(argv: &'a [&'a [u8]]) -> Result<Range<'a>, CmdError> {
    range_generic(argv, false, Kind::Auto, None)
}

pub fn zrangestore<'a>(argv: &'a [&'a [u8]]) -> Result<Range<'a>, CmdError> {
    range_generic(argv, true, Kind::Auto, None)
}

pub fn zrevrange<'a>(argv: &'a [&'a [u8]]) -> Result<Range<'a>, CmdError> {
    range_generic(argv, false, Kind::Rank, Some(true))
}

pub fn zrangebyscore<'a>(argv: &'a [&'a [u8]]) -> Result<Range<'a>, CmdError> {
    range_generic(argv, false, Kind::Score, Some(false))
}

pub fn zrevrangebyscore<'a>(argv: &'a [&'a [u8]]) -> Result<Range<'a>, CmdError> {
    range_generic(argv, false, Kind::Score, Some(true))
}

pub fn zrangebylex<'a>(argv: &'a [&'a [u8]]) -> Result<Range<'a>, CmdError> {
    range_generic(argv, false, Kind::Lex, Some(false))
}

pub fn zrevrangebylex<'a>(argv: &'a [&'a [u8]]) -> Result<Range<'a>, CmdError> {
    range_generic(argv, false, Kind::Lex, Some(true))
}

/// ZCOUNT `key min max`.
pub fn zcount<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], ScoreRange), CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let (min, max) = (a.next_bytes()?, a.next_bytes()?);
    a.finish()?;
    Ok((key, score_range(min, max)?))
}

/// ZLEXCOUNT `key min max`.
pub fn zlexcount<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], LexRange<'a>), CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let (min, max) = (a.next_bytes()?, a.next_bytes()?);
    a.finish()?;
    Ok((key, lex_range(min, max)?))
}

/// ZREMRANGEBYRANK `key start stop`.
pub fn zremrangebyrank<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], By<'a>), CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let start = a.next_i64()?;
    let stop = a.next_i64()?;
    a.finish()?;
    Ok((key, By::Rank(start, stop)))
}

/// ZREMRANGEBYSCORE `key min max`.
pub fn zremrangebyscore<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], By<'a>), CmdError> {
    zcount(argv).map(|(k, r)| (k, By::Score(r)))
}

/// ZREMRANGEBYLEX `key min max`.
pub fn zremrangebylex<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], By<'a>), CmdError> {
    zlexcount(argv).map(|(k, r)| (k, By::Lex(r)))
}

/// ZPOPMIN/ZPOPMAX `key [count]`: `None` without a count (a flat reply of one member).
pub fn zpop<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], Option<u64>), CmdError> {
    if argv.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let count = match a.next() {
        None => None,
        Some(c) => Some(positive(c)?),
    };
    Ok((key, count))
}

/// Redis's `getPositiveLongFromObjectOrReply` without a message: not a number and
/// negative are the same error.
fn positive(arg: &[u8]) -> Result<u64, CmdError> {
    args::int(arg)
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| CmdError::other("ERR value is out of range, must be positive"))
}

/// ZRANDMEMBER `key [count [WITHSCORES]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandMember<'a> {
    pub key: &'a [u8],
    pub count: Option<i64>,
    pub withscores: bool,
}

pub fn zrandmember<'a>(argv: &'a [&'a [u8]]) -> Result<RandMember<'a>, CmdError> {
    // The same checks, in the same order, as HRANDFIELD's in Redis 7.0.15.
    let r = super::super::hashes::parse::hrandfield_with(argv, "WITHSCORES")?;
    Ok(RandMember {
        key: r.key,
        count: r.count,
        withscores: r.with_values,
    })
}

/// ZMSCORE/ZREM `key member [member ...]`.
pub fn key_members<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], &'a [&'a [u8]]), CmdError> {
    super::super::hashes::parse::key_fields(argv)
}

/// The set operation of ZUNION, ZINTER, ZDIFF and their STORE forms, ZINTERCARD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Union,
    Inter,
    Diff,
}

/// How ZUNION and ZINTER combine the scores of one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Sum,
    Min,
    Max,
}

/// The options after the keys, judged after the keys' types as in Redis.
#[derive(Debug, Clone, PartialEq)]
pub struct SetOptions {
    /// One per key (1 unless WEIGHTS).
    pub weights: Vec<f64>,
    pub aggregate: Aggregate,
    pub withscores: bool,
    /// ZINTERCARD's LIMIT (0: none).
    pub limit: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SetOp<'a> {
    pub op: Op,
    pub dst: Option<&'a [u8]>,
    pub keys: &'a [&'a [u8]],
    /// ZINTERCARD: only the count.
    pub card: bool,
    pub options: Result<SetOptions, CmdError>,
}

fn set_op<'a>(
    argv: &'a [&'a [u8]],
    op: Op,
    store: bool,
    card: bool,
) -> Result<SetOp<'a>, CmdError> {
    let name = String::from_utf8_lossy(argv[0]).to_lowercase();
    let mut a = Args::command(argv);
    let dst = if store { Some(a.next_key()?) } else { None };
    let n = a.next_i64()?;
    if n < 1 {
        return Err(CmdError::other(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    let rest = a.rest();
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n > rest.len() {
        return Err(CmdError::Syntax);
    }
    let (keys, opts) = rest.split_at(n);
    Ok(SetOp {
        op,
        dst,
        keys,
        card,
        options: set_options(opts, n, op, store, card),
    })
}

fn set_options(
    opts: &[&[u8]],
    n: usize,
    op: Op,
    store: bool,
    card: bool,
) -> Result<SetOptions, CmdError> {
    let mut o = SetOptions {
        weights: vec![1.0; n],
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let mut a = Args::new(opts);
    while let Some(opt) = a.next() {
        let combine = op != Op::Diff && !card;
        if combine && a.remaining() >= n && is(opt, "WEIGHTS") {
            for w in o.weights.iter_mut() {
                *w = a.next_with(|s| {
                    score(s).ok_or_else(|| CmdError::other("ERR weight value is not a float"))
                })?;
            }
        } else if combine && a.remaining() >= 1 && is(opt, "AGGREGATE") {
            let v = a.next_bytes()?;
            o.aggregate = if is(v, "SUM") {
                Aggregate::Sum
            } else if is(v, "MIN") {
                Aggregate::Min
            } else if is(v, "MAX") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
        } else if !store && !card && is(opt, "WITHSCORES") {
            o.withscores = true;
        } else if card && a.remaining() >= 1 && is(opt, "LIMIT") {
            let v = a.next_bytes()?;
            // Not a number and negative are the same error, as Redis reads it.
            o.limit = args::int(v)
                .ok()
                .and_then(|l| u64::try_from(l).ok())
                .ok_or_else(|| CmdError::other("ERR LIMIT can't be negative"))?;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(o)
}

pub fn zunion<'a>(argv: &'a [&'a [u8]]) -> Result<SetOp<'a>, CmdError> {
    set_op(argv, Op::Union, false, false)
}

pub fn zinter<'a>(argv: &'a [&'a [u8]]) -> Result<SetOp<'a>, CmdError> {
    set_op(argv, Op::Inter, false, false)
}

pub fn zdiff<'a>(argv: &'a [&'a [u8]]) -> Result<SetOp<'a>, CmdError> {
    set_op(argv, Op::Diff, false, false)
}

pub fn zintercard<'a>(argv: &'a [&'a [u8]]) -> Result<SetOp<'a>, CmdError> {
    set_op(argv, Op::Inter, false, true)
}

pub fn zunionstore<'a>(argv: &'a [&'a [u8]]) -> Result<SetOp<'a>, CmdError> {
    set_op(argv, Op::Union, true, false)
}

pub fn zinterstore<'a>(argv: &'a [&'a [u8]]) -> Result<SetOp<'a>, CmdError> {
    set_op(argv, Op::Inter, true, false)
}

pub fn zdiffstore<'a>(argv: &'a [&'a [u8]]) -> Result<SetOp<'a>, CmdError> {
    set_op(argv, Op::Diff, true, false)
}

/// ZMPOP `numkeys key [key ...] MIN|MAX [COUNT count]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MPop<'a> {
    pub keys: &'a [&'a [u8]],
    pub max: bool,
    pub count: u64,
}

pub fn zmpop<'a>(argv: &'a [&'a [u8]]) -> Result<MPop<'a>, CmdError> {
    let mut a = Args::command(argv);
    let numkeys_err = || CmdError::other("ERR numkeys should be greater than 0");
    let n = a.next_with(|s| args::int(s).map_err(|_| numkeys_err()))?;
    if n < 1 {
        return Err(numkeys_err());
    }
    let rest = a.rest();
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n >= rest.len() {
        return Err(CmdError::Syntax);
    }
    let (keys, tail) = rest.split_at(n);
    let mut a = Args::new(tail);
    let dir = a.next_bytes()?;
    let max = if is(dir, "MIN") {
        false
    } else if is(dir, "MAX") {
        true
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = None;
    while let Some(opt) = a.next() {
        if count.is_none() && is(opt, "COUNT") && !a.is_empty() {
            let err = || CmdError::other("ERR count should be greater than 0");
            let c = a.next_with(|s| args::int(s).map_err(|_| err()))?;
            if c < 1 {
                return Err(err());
            }
            count = Some(c as u64);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(MPop {
        keys,
        max,
        count: count.unwrap_or(1),
    })
}

/// BZMPOP `timeout numkeys key [key ...] MIN|MAX [COUNT count]`: the timeout is read last,
/// as Redis does.
pub fn bzmpop<'a>(argv: &'a [&'a [u8]]) -> Result<(MPop<'a>, u64), CmdError> {
    // ZMPOP's parser skips its first argument (the name): here, the timeout.
    let req = zmpop(argv.get(1..).unwrap_or_default())?;
    let timeout = crate::commands::lists::parse::timeout(argv.get(1).copied().unwrap_or_default())?;
    Ok((req, timeout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_support::{argv, check};

    #[test]
    fn scores_parse_as_redis_reads_doubles() {
        for (s, want) in [
            ("1.5", Some(1.5)),
            ("-inf", Some(f64::NEG_INFINITY)),
            ("+inf", Some(f64::INFINITY)),
            ("inf", Some(f64::INFINITY)),
            ("0x10", Some(16.0)),
            ("1e3", Some(1000.0)),
            ("nan", None),
            ("", None),
            (" 1", None),
            ("1 ", None),
            ("1e400", None),
            ("1e-400", None),
            ("abc", None),
        ] {
            assert_eq!(score(s.as_bytes()), want, "{s:?}");
        }
        assert_eq!(score(b"1\x002"), None);
        let r = score_range(b"(1", b"+inf").unwrap();
        assert!(r.minex && !r.maxex && r.max == f64::INFINITY);
        // Range bounds: no space or overflow check; an empty bound is 0; a NUL ends one.
        assert_eq!(score_range(b"", b"(").unwrap().max, 0.0);
        assert_eq!(score_range(b" 1", b"1e400").unwrap().max, f64::INFINITY);
        assert_eq!(score_range(b"1\x00x", b"2").unwrap().min, 1.0);
        assert!(score_range(b"nan", b"1").is_err());
        assert!(score_range(b"1", b"(x").is_err());
        assert!(lex_range(b"[a", b"(b").is_ok());
        assert!(lex_range(b"a", b"+").is_err());
        assert!(lex_range(b"-", b"++").is_err());
        assert!(lex_range(b"", b"+").is_err());
    }

    #[test]
    fn zadd_checks_options_in_redis_order() {
        check(
            |a| zadd(a).map(|r| (r.nx, r.xx, r.gt, r.ch, r.incr, r.scores, r.members.len())),
            &[
                (
                    "ZADD k 1 a 2 b",
                    Ok((false, false, false, false, false, vec![1.0, 2.0], 2)),
                ),
                (
                    "ZADD k nx ch 1 a",
                    Ok((true, false, false, true, false, vec![1.0], 1)),
                ),
                (
                    "ZADD k gt incr 1 a",
                    Ok((false, false, true, false, true, vec![1.0], 1)),
                ),
                ("ZADD k 1", Err("ERR syntax error")),
                ("ZADD k nx", Err("ERR syntax error")),
                (
                    "ZADD k nx xx 1 a",
                    Err("ERR XX and NX options at the same time are not compatible"),
                ),
                (
                    "ZADD k nx gt 1 a",
                    Err("ERR GT, LT, and/or NX options at the same time are not compatible"),
                ),
                (
                    "ZADD k gt lt 1 a",
                    Err("ERR GT, LT, and/or NX options at the same time are not compatible"),
                ),
                (
                    "ZADD k incr 1 a 2 b",
                    Err("ERR INCR option supports a single increment-element pair"),
                ),
                ("ZADD k 1 a x b", Err("ERR value is not a valid float")),
                ("ZADD k nan a", Err("ERR value is not a valid float")),
            ],
        );
    }

    #[test]
    fn ranges_check_options_then_combinations_then_bounds() {
        let r = zrange(argv("ZRANGE k (5 1 BYSCORE REV LIMIT 1 2 WITHSCORES")).unwrap();
        assert!(r.rev && r.withscores);
        assert_eq!(r.limit, Some((1, 2)));
        match r.by {
            By::Score(s) => assert!(s.min == 1.0 && s.max == 5.0 && !s.minex && s.maxex),
            _ => panic!("{r:?}"),
        }
        let err = |line: &'static str| zrange(argv(line)).unwrap_err().to_string();
        assert_eq!(
            err("ZRANGE k 0 1 LIMIT 0 1"),
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        );
        assert_eq!(
            err("ZRANGE k - + BYLEX WITHSCORES"),
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
        );
        assert_eq!(
            err("ZRANGE k 0 1 LIMIT x 1"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(err("ZRANGE k 0 1 LIMIT 1"), "ERR syntax error");
        assert_eq!(err("ZRANGE k 0 1 BYSCORE BYLEX"), "ERR syntax error");
        assert_eq!(
            err("ZRANGE k a 1"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(err("ZRANGE k a 1 BYSCORE"), "ERR min or max is not a float");
        assert_eq!(
            err("ZRANGE k a 1 BYLEX"),
            "ERR min or max not valid string range item"
        );
        let e = zrangebyscore(argv("ZRANGEBYSCORE k 0 1 REV")).unwrap_err();
        assert_eq!(e, CmdError::Syntax);
        let e = zrangestore(argv("ZRANGESTORE d k 0 1 WITHSCORES")).unwrap_err();
        assert_eq!(e, CmdError::Syntax);
        let r = zrevrangebylex(argv("ZREVRANGEBYLEX k + [a")).unwrap();
        assert_eq!(
            r.by,
            By::Lex(LexRange {
                min: Lex::Incl(b"a"),
                max: Lex::Max
            })
        );
    }

    #[test]
    fn set_ops_defer_option_errors() {
        let r = zunion(argv("ZUNION 2 a b WEIGHTS 1 x")).unwrap();
        assert_eq!(
            r.options,
            Err(CmdError::other("ERR weight value is not a float"))
        );
        let r = zinterstore(argv("ZINTERSTORE d 2 a b AGGREGATE max")).unwrap();
        assert_eq!(r.options.unwrap().aggregate, Aggregate::Max);
        let r = zdiffstore(argv("ZDIFFSTORE d 1 a WITHSCORES")).unwrap();
        assert_eq!(r.options, Err(CmdError::Syntax));
        let r = zintercard(argv("ZINTERCARD 1 a LIMIT -1")).unwrap();
        assert_eq!(
            r.options,
            Err(CmdError::other("ERR LIMIT can't be negative"))
        );
        let e = zunion(argv("ZUNION 0 a")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ERR at least 1 input key is needed for 'zunion' command"
        );
        assert_eq!(zunion(argv("ZUNION 3 a b")).unwrap_err(), CmdError::Syntax);
        assert_eq!(zunion(argv("ZUNION x a")).unwrap_err(), CmdError::NotInt);
    }

    #[test]
    fn zmpop_and_zpop_check_counts() {
        let r = zmpop(argv("ZMPOP 2 a b max count 3")).unwrap();
        assert_eq!((r.keys.len(), r.max, r.count), (2, true, 3));
        let err = |line: &'static str| zmpop(argv(line)).unwrap_err().to_string();
        assert_eq!(err("ZMPOP 0 a MIN"), "ERR numkeys should be greater than 0");
        assert_eq!(err("ZMPOP x a MIN"), "ERR numkeys should be greater than 0");
        assert_eq!(err("ZMPOP 2 a MIN"), "ERR syntax error");
        assert_eq!(err("ZMPOP 1 a MID"), "ERR syntax error");
        assert_eq!(
            err("ZMPOP 1 a MIN COUNT 0"),
            "ERR count should be greater than 0"
        );
        assert_eq!(err("ZMPOP 1 a MIN COUNT 1 COUNT 1"), "ERR syntax error");
        assert_eq!(zpop(argv("ZPOPMIN k 2")).unwrap(), (&b"k"[..], Some(2)));
        assert_eq!(
            zpop(argv("ZPOPMIN k -1")).unwrap_err().to_string(),
            "ERR value is out of range, must be positive"
        );
        assert_eq!(zpop(argv("ZPOPMIN k 1 2")).unwrap_err(), CmdError::Syntax);
    }
}
