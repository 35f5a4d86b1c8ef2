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
}
