//! Parsing of the list commands: argv to typed requests, with the errors Redis 7.0's
//! `t_list.c` chooses, in its order. Pure: no state, no locks, no replies. Arguments Redis
//! reads only after finding the key (LINDEX's and LSET's index) travel unparsed.

use crate::error::CmdError;
use crate::protocol::args::{self, is, Args};

/// `key element [element ...]` (LPUSH, RPUSH, LPUSHX, RPUSHX; the arity is the table's).
pub fn push<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], &'a [&'a [u8]]), CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    Ok((key, a.rest()))
}

/// LPOP/RPOP `key [count]`: the count, when given, is checked before the key is looked up.
pub type Pop<'a> = (&'a [u8], Option<u64>);

fn pop<'a>(argv: &'a [&'a [u8]], name: &str) -> Result<Pop<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    if a.remaining() > 1 {
        return Err(CmdError::WrongArgs(name.to_string()));
    }
    let count = match a.next() {
        None => None,
        Some(c) => Some(positive(c, "ERR value is out of range, must be positive")?),
    };
    Ok((key, count))
}

pub fn lpop<'a>(argv: &'a [&'a [u8]]) -> Result<Pop<'a>, CmdError> {
    pop(argv, "lpop")
}

pub fn rpop<'a>(argv: &'a [&'a [u8]]) -> Result<Pop<'a>, CmdError> {
    pop(argv, "rpop")
}

/// Redis's `getPositiveLongFromObjectOrReply` with a message: one error for a non-integer
/// and a negative number alike.
fn positive(arg: &[u8], msg: &str) -> Result<u64, CmdError> {
    args::int(arg)
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| CmdError::other(msg))
}

/// `key start stop` (LRANGE, LTRIM): both integers, checked before the key is looked up.
pub fn range<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], i64, i64), CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let start = a.next_i64()?;
    let stop = a.next_i64()?;
    a.finish()?;
    Ok((key, start, stop))
}

/// A key, LSET's unparsed index and an element.
pub type KeyIndexValue<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// LSET `key index element`; the index is parsed after the key is found.
pub fn lset<'a>(argv: &'a [&'a [u8]]) -> Result<KeyIndexValue<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let index = a.next_bytes()?;
    let value = a.next_bytes()?;
    a.finish()?;
    Ok((key, index, value))
}

/// LREM `key count element`: the count is checked before the key is looked up.
pub fn lrem<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], i64, &'a [u8]), CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let count = a.next_i64()?;
    let value = a.next_bytes()?;
    a.finish()?;
    Ok((key, count, value))
}

/// LINSERT `key BEFORE|AFTER pivot element`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insert<'a> {
    pub key: &'a [u8],
    pub after: bool,
    pub pivot: &'a [u8],
    pub value: &'a [u8],
}

pub fn linsert<'a>(argv: &'a [&'a [u8]]) -> Result<Insert<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let place = a.next_bytes()?;
    let after = if is(place, "AFTER") {
        true
    } else if is(place, "BEFORE") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let pivot = a.next_bytes()?;
    let value = a.next_bytes()?;
    a.finish()?;
    Ok(Insert {
        key,
        after,
        pivot,
        value,
    })
}

/// LPOS `key element [RANK rank] [COUNT num-matches] [MAXLEN len]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos<'a> {
    pub key: &'a [u8],
    pub element: &'a [u8],
    /// Non-zero; negative searches from the tail.
    pub rank: i64,
    /// `None` without COUNT (one index or nil); 0 = every match.
    pub count: Option<u64>,
    /// 0 = the whole list.
    pub maxlen: u64,
}

pub fn lpos<'a>(argv: &'a [&'a [u8]]) -> Result<Pos<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let element = a.next_bytes()?;
    let mut p = Pos {
        key,
        element,
        rank: 1,
        count: None,
        maxlen: 0,
    };
    // An option takes its value only when one follows, as Redis's `moreargs`.
    while let Some(opt) = a.next() {
        if is(opt, "RANK") && !a.is_empty() {
            p.rank = a.next_i64()?;
            if p.rank == 0 {
                return Err(CmdError::other(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                ));
            }
        } else if is(opt, "COUNT") && !a.is_empty() {
            let c = a.next_bytes()?;
            p.count = Some(positive(c, "ERR COUNT can't be negative")?);
        } else if is(opt, "MAXLEN") && !a.is_empty() {
            let m = a.next_bytes()?;
            p.maxlen = positive(m, "ERR MAXLEN can't be negative")?;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(p)
}

/// LMOVE `source destination LEFT|RIGHT LEFT|RIGHT`: (source, destination, pop from the
/// left, push to the left). RPOPLPUSH is RIGHT LEFT.
pub type Move<'a> = (&'a [u8], &'a [u8], bool, bool);

fn side(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "LEFT") {
        Ok(true)
    } else if is(arg, "RIGHT") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

pub fn lmove<'a>(argv: &'a [&'a [u8]]) -> Result<Move<'a>, CmdError> {
    let mut a = Args::command(argv);
    let src = a.next_key()?;
    let dst = a.next_key()?;
    let from = side(a.next_bytes()?)?;
    let to = side(a.next_bytes()?)?;
    a.finish()?;
    Ok((src, dst, from, to))
}

pub fn rpoplpush<'a>(argv: &'a [&'a [u8]]) -> Result<Move<'a>, CmdError> {
    let mut a = Args::command(argv);
    let src = a.next_key()?;
    let dst = a.next_key()?;
    a.finish()?;
    Ok((src, dst, false, true))
}

/// A blocking command's timeout in seconds (a float), as Redis's
/// `getTimeoutFromObjectOrReply` reads it: rounded up to whole milliseconds; 0 waits
/// forever. Redis converts to a signed 64-bit count, where infinities and values past its
/// range come out negative: they are "negative" here too.
pub fn timeout(arg: &[u8]) -> Result<u64, CmdError> {
    let secs = args::parse_f64(arg)
        .ok_or_else(|| CmdError::other("ERR timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).ceil();
    if !(0.0..9.2e18).contains(&ms) {
        return Err(CmdError::other("ERR timeout is negative"));
    }
    Ok(ms as u64)
}

/// BLPOP/BRPOP `key [key ...] timeout`.
pub type BlockPop<'a> = (&'a [&'a [u8]], u64);

pub fn blpop<'a>(argv: &'a [&'a [u8]]) -> Result<BlockPop<'a>, CmdError> {
    let (last, keys) = argv
        .get(1..)
        .unwrap_or_default()
        .split_last()
        .ok_or_else(|| CmdError::WrongArgs("blpop".into()))?;
    Ok((keys, timeout(last)?))
}

/// BLMOVE `source destination LEFT|RIGHT LEFT|RIGHT timeout`: the sides, then the timeout.
pub fn blmove<'a>(argv: &'a [&'a [u8]]) -> Result<(Move<'a>, u64), CmdError> {
    let mut a = Args::command(argv);
    let src = a.next_key()?;
    let dst = a.next_key()?;
    let from = side(a.next_bytes()?)?;
    let to = side(a.next_bytes()?)?;
    let t = timeout(a.next_bytes()?)?;
    a.finish()?;
    Ok(((src, dst, from, to), t))
}

/// BRPOPLPUSH `source destination timeout`.
pub fn brpoplpush<'a>(argv: &'a [&'a [u8]]) -> Result<(Move<'a>, u64), CmdError> {
    let mut a = Args::command(argv);
    let src = a.next_key()?;
    let dst = a.next_key()?;
    let t = timeout(a.next_bytes()?)?;
    a.finish()?;
    Ok(((src, dst, false, true), t))
}

/// LMPOP/BLMPOP after their timeout: `numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
pub struct MultiPop<'a> {
    pub keys: &'a [&'a [u8]],
    pub left: bool,
    pub count: u64,
}

fn multi_pop<'a>(rest: &'a [&'a [u8]]) -> Result<MultiPop<'a>, CmdError> {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    // The table's arity guarantees the count and one more; parsers must not trust it.
    let first = rest.first().ok_or(CmdError::Syntax)?;
    let numkeys = args::int(first)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| CmdError::other(NUMKEYS))?;
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    // The keys, then the side: both must be there.
    if numkeys >= rest.len().saturating_sub(1) {
        return Err(CmdError::Syntax);
    }
    let keys = &rest[1..=numkeys];
    let left = side(rest[numkeys + 1])?;
    let mut count = None;
    let mut opts = rest[numkeys + 2..].iter();
    while let Some(opt) = opts.next() {
        match opts.as_slice().first() {
            Some(n) if count.is_none() && is(opt, "COUNT") => {
                opts.next();
                let n = args::int(n)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| CmdError::other("ERR count should be greater than 0"))?;
                count = Some(n as u64);
            }
            _ => return Err(CmdError::Syntax),
        }
    }
    Ok(MultiPop {
        keys,
        left,
        count: count.unwrap_or(1),
    })
}

/// LMPOP `numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
pub fn lmpop<'a>(argv: &'a [&'a [u8]]) -> Result<MultiPop<'a>, CmdError> {
    multi_pop(argv.get(1..).unwrap_or_default())
}

/// BLMPOP `timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`: the timeout is read
/// last, as Redis does.
pub fn blmpop<'a>(argv: &'a [&'a [u8]]) -> Result<(MultiPop<'a>, u64), CmdError> {
    let req = multi_pop(argv.get(2..).unwrap_or_default())?;
    Ok((req, timeout(argv.get(1).copied().unwrap_or_default())?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_support::check;

    #[test]
    fn pop_counts_as_redis() {
        check(
            lpop,
            &[
                ("LPOP k", Ok((&b"k"[..], None))),
                ("LPOP k 0", Ok((&b"k"[..], Some(0)))),
                (
                    "LPOP k -1",
                    Err("ERR value is out of range, must be positive"),
                ),
                (
                    "LPOP k x",
                    Err("ERR value is out of range, must be positive"),
                ),
                (
                    "LPOP k 1 2",
                    Err("ERR wrong number of arguments for 'lpop' command"),
                ),
            ],
        );
        check(
            rpop,
            &[(
                "RPOP k 1 2",
                Err("ERR wrong number of arguments for 'rpop' command"),
            )],
        );
    }

    #[test]
    fn lpos_options() {
        let pos = |rank, count, maxlen| Pos {
            key: b"k",
            element: b"e",
            rank,
            count,
            maxlen,
        };
        check(
            lpos,
            &[
                ("LPOS k e", Ok(pos(1, None, 0))),
                ("LPOS k e rank -2 count 0 maxlen 9", Ok(pos(-2, Some(0), 9))),
                ("LPOS k e rank 0", Err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")),
                ("LPOS k e rank x", Err("ERR value is not an integer or out of range")),
                ("LPOS k e count -1", Err("ERR COUNT can't be negative")),
                ("LPOS k e maxlen x", Err("ERR MAXLEN can't be negative")),
                ("LPOS k e maxlen", Err("ERR syntax error")),
                ("LPOS k e foo 1", Err("ERR syntax error")),
            ],
        );
    }

    #[test]
    fn sides_and_places_are_keywords() {
        check(
            lmove,
            &[
                (
                    "LMOVE a b left RIGHT",
                    Ok((&b"a"[..], &b"b"[..], true, false)),
                ),
                ("LMOVE a b up left", Err("ERR syntax error")),
            ],
        );
        check(
            linsert,
            &[("LINSERT k middle p v", Err("ERR syntax error"))],
        );
    }

    #[test]
    fn timeouts_round_up_to_milliseconds_as_redis_does() {
        assert_eq!(timeout(b"0").unwrap(), 0);
        assert_eq!(timeout(b"1.5").unwrap(), 1500);
        assert_eq!(timeout(b"1e-9").unwrap(), 1);
        for negative in [&b"-1"[..], b"inf", b"-inf", b"1e400", b"99999999999999999"] {
            assert_eq!(
                timeout(negative).unwrap_err().to_string(),
                "ERR timeout is negative"
            );
        }
        for bad in [&b"x"[..], b"nan", b"", b" 1"] {
            assert_eq!(
                timeout(bad).unwrap_err().to_string(),
                "ERR timeout is not a float or out of range"
            );
        }
    }

    #[test]
    fn multi_pop_reads_count_side_and_count_option() {
        let argv: Vec<&[u8]> = vec![b"LMPOP", b"2", b"a", b"b", b"RIGHT", b"COUNT", b"3"];
        let req = lmpop(&argv).unwrap();
        assert_eq!((req.keys.len(), req.left, req.count), (2, false, 3));
        let argv: Vec<&[u8]> = vec![b"BLMPOP", b"0.5", b"1", b"a", b"LEFT"];
        let (req, t) = blmpop(&argv).unwrap();
        assert_eq!(
            (req.keys, req.left, req.count, t),
            (&[&b"a"[..]][..], true, 1, 500)
        );
        // Shorter than the table allows: an error, not a panic.
        assert!(blmpop(&[b"BLMPOP"]).is_err());
        assert!(lmpop(&[]).is_err());
    }
}
