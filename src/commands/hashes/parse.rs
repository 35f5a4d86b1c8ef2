//! Parsing of the hash commands: argv to typed requests, with the errors Redis 7.0's
//! `t_hash.c` chooses, in its order. Pure: no state, no locks, no replies. Errors Redis
//! reports only after finding the key (HSCAN's options) travel in the request.

use crate::error::CmdError;
use crate::protocol::args::{self, is, Args};

/// `key field value [field value ...]`; an odd count of the rest is Redis's arity error for
/// `name`.
fn pairs<'a>(argv: &'a [&'a [u8]], name: &str) -> Result<(&'a [u8], &'a [&'a [u8]]), CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let rest = a.rest();
    if rest.is_empty() || rest.len() % 2 != 0 {
        return Err(CmdError::WrongArgs(name.to_string()));
    }
    Ok((key, rest))
}

/// HSET `key field value [field value ...]`.
pub fn hset<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], &'a [&'a [u8]]), CmdError> {
    pairs(argv, "hset")
}

/// HMSET `key field value [field value ...]`.
pub fn hmset<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], &'a [&'a [u8]]), CmdError> {
    pairs(argv, "hmset")
}

/// `key field [field ...]` (HMGET, HDEL).
pub fn key_fields<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], &'a [&'a [u8]]), CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    match a.rest() {
        [] => Err(CmdError::Syntax),
        fields => Ok((key, fields)),
    }
}

/// A key, a field and a value (or an increment).
pub type KeyFieldValue<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// `key field value` (HSETNX, HINCRBYFLOAT).
pub fn key_field_value<'a>(argv: &'a [&'a [u8]]) -> Result<KeyFieldValue<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let field = a.next_bytes()?;
    let value = a.next_bytes()?;
    a.finish()?;
    Ok((key, field, value))
}

/// HINCRBY `key field increment`: the increment is checked before the key is looked up.
pub fn hincrby<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], &'a [u8], i64), CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let field = a.next_bytes()?;
    let by = a.next_i64()?;
    a.finish()?;
    Ok((key, field, by))
}

/// HSCAN's options, as Redis's `scanGenericCommand` parses them (after the key's type is
/// checked: a missing key answers an empty scan whatever they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions<'a> {
    /// At least 1.
    pub count: usize,
    /// `None` for no pattern, or `*`.
    pub pattern: Option<&'a [u8]>,
}

/// HSCAN `key cursor [MATCH pattern] [COUNT count]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan<'a> {
    pub key: &'a [u8],
    pub cursor: u64,
    pub options: Result<ScanOptions<'a>, CmdError>,
}

pub fn hscan<'a>(argv: &'a [&'a [u8]]) -> Result<Scan<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let cursor = a.next_with(|c| {
        crate::commands::keys::parse::cursor(c).ok_or_else(|| CmdError::other("ERR invalid cursor"))
    })?;
    Ok(Scan {
        key,
        cursor,
        options: scan_options(a),
    })
}

fn scan_options<'a>(mut a: Args<'a>) -> Result<ScanOptions<'a>, CmdError> {
    let mut o = ScanOptions {
        count: 10,
        pattern: None,
    };
    // An option takes its value only when one follows; TYPE is SCAN's alone.
    while let Some(opt) = a.next() {
        if is(opt, "COUNT") && !a.is_empty() {
            let n = a.next_i64()?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(opt, "MATCH") && !a.is_empty() {
            let p = a.next_bytes()?;
            o.pattern = (p != b"*").then_some(p);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(o)
}

/// HRANDFIELD `key [count [WITHVALUES]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandField<'a> {
    pub key: &'a [u8],
    /// `None` without a count: one field or nil.
    pub count: Option<i64>,
    pub with_values: bool,
}

pub fn hrandfield<'a>(argv: &'a [&'a [u8]]) -> Result<RandField<'a>, CmdError> {
    hrandfield_with(argv, "WITHVALUES")
}

/// HRANDFIELD's checks with its option named `with` (ZRANDMEMBER's are the same with
/// WITHSCORES).
pub fn hrandfield_with<'a>(argv: &'a [&'a [u8]], with: &str) -> Result<RandField<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let Some(count) = a.next() else {
        return Ok(RandField {
            key,
            count: None,
            with_values: false,
        });
    };
    // getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX), then the syntax, then the bound
    // WITHVALUES adds (l < -LONG_MAX/2 || l > LONG_MAX/2), as Redis 7.0.15 checks them.
    let count = args::int(count)?;
    if count == i64::MIN {
        return Err(CmdError::other(format!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    let with_values = match (a.next(), a.remaining()) {
        (None, _) => false,
        (Some(w), 0) if is(w, with) => true,
        _ => return Err(CmdError::Syntax),
    };
    let out_of_range = || CmdError::other("ERR value is out of range");
    if with_values && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
        return Err(out_of_range());
    }
    Ok(RandField {
        key,
        count: Some(count),
        with_values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_support::check;

    #[test]
    fn pairs_must_pair_up() {
        check(
            hset,
            &[
                ("HSET k f v", Ok((&b"k"[..], &[&b"f"[..], &b"v"[..]][..]))),
                (
                    "HSET k f v g",
                    Err("ERR wrong number of arguments for 'hset' command"),
                ),
                (
                    "HSET k f",
                    Err("ERR wrong number of arguments for 'hset' command"),
                ),
            ],
        );
        check(
            hmset,
            &[(
                "HMSET k f v g",
                Err("ERR wrong number of arguments for 'hmset' command"),
            )],
        );
    }

    #[test]
    fn hincrby_checks_its_increment() {
        check(
            hincrby,
            &[
                ("HINCRBY k f -3", Ok((&b"k"[..], &b"f"[..], -3))),
                (
                    "HINCRBY k f x",
                    Err("ERR value is not an integer or out of range"),
                ),
                (
                    "HINCRBY k f 1.5",
                    Err("ERR value is not an integer or out of range"),
                ),
            ],
        );
    }

    #[test]
    fn hrandfield_checks_as_redis_7_0_15() {
        let req = |count, with_values| RandField {
            key: b"k",
            count,
            with_values,
        };
        check(
            hrandfield,
            &[
                ("HRANDFIELD k", Ok(req(None, false))),
                ("HRANDFIELD k -5", Ok(req(Some(-5), false))),
                ("HRANDFIELD k 3 withvalues", Ok(req(Some(3), true))),
                ("HRANDFIELD k x", Err("ERR value is not an integer or out of range")),
                ("HRANDFIELD k x y", Err("ERR value is not an integer or out of range")),
                ("HRANDFIELD k 1 withvaluesx", Err("ERR syntax error")),
                ("HRANDFIELD k 1 withvalues x", Err("ERR syntax error")),
                (
                    "HRANDFIELD k -9223372036854775808",
                    Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
                ),
                ("HRANDFIELD k -9223372036854775807 withvalues", Err("ERR value is out of range")),
                ("HRANDFIELD k 9223372036854775807 withvalues", Err("ERR value is out of range")),
                ("HRANDFIELD k 9223372036854775807", Ok(req(Some(i64::MAX), false))),
                ("HRANDFIELD k -16777217", Ok(req(Some(-16_777_217), false))),
            ],
        );
    }

    #[test]
    fn hscan_defers_option_errors() {
        let r = hscan(crate::commands::test_support::argv("HSCAN k 0 COUNT 0")).unwrap();
        assert_eq!(r.options, Err(CmdError::Syntax));
        let r = hscan(crate::commands::test_support::argv(
            "HSCAN k 7 MATCH a* COUNT 3",
        ))
        .unwrap();
        assert_eq!(r.cursor, 7);
        assert_eq!(
            r.options,
            Ok(ScanOptions {
                count: 3,
                pattern: Some(b"a*")
            })
        );
        for bad in [
            "HSCAN k 0 TYPE string",
            "HSCAN k 0 NOVALUES",
            "HSCAN k 0 COUNT",
        ] {
            let r = hscan(crate::commands::test_support::argv(bad)).unwrap();
            assert_eq!(r.options, Err(CmdError::Syntax), "{bad}");
        }
        let r = hscan(crate::commands::test_support::argv("HSCAN k 0 COUNT x")).unwrap();
        assert_eq!(r.options, Err(CmdError::NotInt));
        assert_eq!(
            hscan(crate::commands::test_support::argv("HSCAN k x"))
                .unwrap_err()
                .to_string(),
            "ERR invalid cursor"
        );
    }
}
