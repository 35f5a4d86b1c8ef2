//! Parsing of the set commands: argv to typed requests, with the errors Redis 7.0's
//! `t_set.c` chooses, in its order (counts and options before the keys are looked up).
//! Pure: no state, no locks, no replies. SSCAN's shape is HSCAN's
//! (`hashes::parse::hscan`).

use crate::error::CmdError;
use crate::protocol::args::{self, is, Args};

/// A key and its members (SADD, SREM, SMISMEMBER; the arity guarantees one member).
pub fn key_members<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], &'a [&'a [u8]]), CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    match a.rest() {
        [] => Err(CmdError::Syntax),
        members => Ok((key, members)),
    }
}

/// SPOP `key [count]`: `None` without a count (one member or nil).
pub fn spop<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], Option<u64>), CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let Some(count) = a.next() else {
        return Ok((key, None));
    };
    // More than a count is a syntax error before the count is read; a count that is not a
    // non-negative integer has one message, whatever is wrong with it.
    if !a.is_empty() {
        return Err(CmdError::Syntax);
    }
    let count = args::int(count)
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| CmdError::other("ERR value is out of range, must be positive"))?;
    Ok((key, Some(count)))
}

/// SRANDMEMBER `key [count]`: a negative count allows repeats.
pub fn srandmember<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], Option<i64>), CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let Some(count) = a.next() else {
        return Ok((key, None));
    };
    if !a.is_empty() {
        return Err(CmdError::Syntax);
    }
    // getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX), as Redis 7.0 reads it.
    let count = args::int(count)?;
    if count == i64::MIN {
        return Err(CmdError::other(format!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    Ok((key, Some(count)))
}

/// SMOVE `source destination member`.
pub type Move<'a> = (&'a [u8], &'a [u8], &'a [u8]);

pub fn smove<'a>(argv: &'a [&'a [u8]]) -> Result<Move<'a>, CmdError> {
    let mut a = Args::command(argv);
    let src = a.next_key()?;
    let dst = a.next_key()?;
    let member = a.next_bytes()?;
    a.finish()?;
    Ok((src, dst, member))
}

/// SINTERSTORE, SUNIONSTORE, SDIFFSTORE `destination key [key ...]`.
pub fn store<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], &'a [&'a [u8]]), CmdError> {
    let mut a = Args::command(argv);
    let dst = a.next_key()?;
    match a.rest() {
        [] => Err(CmdError::Syntax),
        keys => Ok((dst, keys)),
    }
}

/// SINTERCARD `numkeys key [key ...] [LIMIT limit]`: the keys and the limit (0: none).
pub fn sintercard<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [&'a [u8]], u64), CmdError> {
    let mut a = Args::command(argv);
    let numkeys = a
        .next()
        .and_then(|n| args::int(n).ok())
        .filter(|&n| n >= 1)
        .ok_or_else(|| CmdError::other("ERR numkeys should be greater than 0"))?;
    let rest = a.rest();
    let n = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if n > rest.len() {
        return Err(CmdError::other(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let (keys, options) = rest.split_at(n);
    let mut limit = 0;
    let mut o = Args::new(options);
    // LIMIT takes its value only when one follows; a later LIMIT wins.
    while let Some(opt) = o.next() {
        if is(opt, "LIMIT") && !o.is_empty() {
            limit = o
                .next()
                .and_then(|l| args::int(l).ok())
                .and_then(|l| u64::try_from(l).ok())
                .ok_or_else(|| CmdError::other("ERR LIMIT can't be negative"))?;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok((keys, limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_support::check;

    #[test]
    fn spop_reads_its_count_as_redis_7_0() {
        let positive = "ERR value is out of range, must be positive";
        check(
            spop,
            &[
                ("SPOP k", Ok((&b"k"[..], None))),
                ("SPOP k 0", Ok((&b"k"[..], Some(0)))),
                (
                    "SPOP k 9223372036854775807",
                    Ok((&b"k"[..], Some(i64::MAX as u64))),
                ),
                ("SPOP k -1", Err(positive)),
                ("SPOP k x", Err(positive)),
                ("SPOP k 1.5", Err(positive)),
                ("SPOP k 1 2", Err("ERR syntax error")),
                ("SPOP k x 2", Err("ERR syntax error")),
            ],
        );
    }

    #[test]
    fn srandmember_reads_its_count_as_redis_7_0() {
        check(
            srandmember,
            &[
                ("SRANDMEMBER k", Ok((&b"k"[..], None))),
                ("SRANDMEMBER k -5", Ok((&b"k"[..], Some(-5)))),
                ("SRANDMEMBER k x", Err("ERR value is not an integer or out of range")),
                ("SRANDMEMBER k 1 2", Err("ERR syntax error")),
                (
                    "SRANDMEMBER k -9223372036854775808",
                    Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
                ),
            ],
        );
    }

    #[test]
    fn sintercard_checks_in_redis_7_0_order() {
        let ok = |keys: &'static [&'static [u8]], limit| Ok((keys, limit));
        check(
            sintercard,
            &[
                ("SINTERCARD 1 a", ok(&[b"a"], 0)),
                ("SINTERCARD 2 a b LIMIT 3", ok(&[b"a", b"b"], 3)),
                ("SINTERCARD 1 a limit 1 LIMIT 0", ok(&[b"a"], 0)),
                ("SINTERCARD 2 a limit", ok(&[b"a", b"limit"], 0)),
                (
                    "SINTERCARD 0 a",
                    Err("ERR numkeys should be greater than 0"),
                ),
                (
                    "SINTERCARD x a",
                    Err("ERR numkeys should be greater than 0"),
                ),
                (
                    "SINTERCARD -1 a",
                    Err("ERR numkeys should be greater than 0"),
                ),
                (
                    "SINTERCARD 3 a b",
                    Err("ERR Number of keys can't be greater than number of args"),
                ),
                (
                    "SINTERCARD 1 a LIMIT -1",
                    Err("ERR LIMIT can't be negative"),
                ),
                ("SINTERCARD 1 a LIMIT x", Err("ERR LIMIT can't be negative")),
                ("SINTERCARD 1 a LIMIT", Err("ERR syntax error")),
                ("SINTERCARD 1 a FOO 1", Err("ERR syntax error")),
            ],
        );
    }

    #[test]
    fn keys_and_members() {
        check(
            store,
            &[(
                "SUNIONSTORE d a b",
                Ok((&b"d"[..], &[&b"a"[..], &b"b"[..]][..])),
            )],
        );
        check(
            key_members,
            &[("SADD k a b", Ok((&b"k"[..], &[&b"a"[..], &b"b"[..]][..])))],
        );
        check(
            smove,
            &[
                ("SMOVE a b m", Ok((&b"a"[..], &b"b"[..], &b"m"[..]))),
                ("SMOVE a b m x", Err("ERR syntax error")),
            ],
        );
    }
}
