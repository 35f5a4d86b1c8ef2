//! Parsing of the generic key commands: argv to typed requests, with the errors Redis 7.0's
//! `db.c` and `expire.c` choose, in their order. Pure: no state, no locks, no replies.

use crate::error::CmdError;
use crate::protocol::args::{self, is, Args};

/// RENAME/RENAMENX `from to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rename<'a> {
    pub from: &'a [u8],
    pub to: &'a [u8],
}

pub fn rename<'a>(argv: &'a [&'a [u8]]) -> Result<Rename<'a>, CmdError> {
    let mut a = Args::command(argv);
    let from = a.next_key()?;
    let to = a.next_key()?;
    a.finish()?;
    Ok(Rename { from, to })
}

/// COPY `from to [DB n] [REPLACE]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copy<'a> {
    pub from: &'a [u8],
    pub to: &'a [u8],
    /// The destination database, when DB names one.
    pub db: Option<usize>,
    pub replace: bool,
}

/// COPY's options. Redis range-checks a DB index inside its option loop (an index out of
/// range wins over a syntax error after it), so the parser takes the server's database
/// count: the one fact of the server it needs.
pub fn copy<'a>(argv: &'a [&'a [u8]], databases: usize) -> Result<Copy<'a>, CmdError> {
    let mut a = Args::command(argv);
    let from = a.next_key()?;
    let to = a.next_key()?;
    let mut req = Copy {
        from,
        to,
        db: None,
        replace: false,
    };
    while let Some(opt) = a.next() {
        if is(opt, "REPLACE") {
            req.replace = true;
        } else if is(opt, "DB") && !a.is_empty() {
            let n = a.next_i32()?;
            req.db = match usize::try_from(n) {
                Ok(n) if n < databases => Some(n),
                _ => return Err(CmdError::other("ERR DB index is out of range")),
            };
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(req)
}

/// KEYS `pattern`.
pub fn pattern<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [u8], CmdError> {
    let mut a = Args::command(argv);
    let pattern = a.next_bytes()?;
    a.finish()?;
    Ok(pattern)
}

/// SCAN `cursor [MATCH pattern] [COUNT n] [TYPE type]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan<'a> {
    pub cursor: u64,
    /// At least 1.
    pub count: i64,
    /// `None` for no pattern, or `*` (which matches everything).
    pub pattern: Option<&'a [u8]>,
    pub type_filter: Option<&'a [u8]>,
}

/// `strtoul` as Redis's SCAN cursor parser uses it: optional sign, decimal digits.
pub(crate) fn cursor(arg: &[u8]) -> Option<u64> {
    let (neg, digits) = match arg.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
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

pub fn scan<'a>(argv: &'a [&'a [u8]]) -> Result<Scan<'a>, CmdError> {
    let mut a = Args::command(argv);
    let cursor = a.next_with(|c| cursor(c).ok_or_else(|| CmdError::other("ERR invalid cursor")))?;
    let mut req = Scan {
        cursor,
        count: 10,
        pattern: None,
        type_filter: None,
    };
    // An option takes its value only when one follows; otherwise it is a syntax error.
    while let Some(opt) = a.next() {
        if is(opt, "COUNT") && !a.is_empty() {
            req.count = a.next_i64()?;
            if req.count < 1 {
                return Err(CmdError::Syntax);
            }
        } else if is(opt, "MATCH") && !a.is_empty() {
            let p = a.next_bytes()?;
            req.pattern = (p != b"*").then_some(p);
        } else if is(opt, "TYPE") && !a.is_empty() {
            req.type_filter = Some(a.next_bytes()?);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(req)
}

/// EXPIRE's conditions, as bits (NX, XX, GT, LT).
pub const EXPIRE_NX: u8 = 1;
pub const EXPIRE_XX: u8 = 2;
pub const EXPIRE_GT: u8 = 4;
pub const EXPIRE_LT: u8 = 8;

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT `key time [NX|XX|GT|LT]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expire<'a> {
    pub key: &'a [u8],
    /// Milliseconds: from now when `relative`, else since the epoch. May be negative.
    pub ms: i64,
    pub relative: bool,
    /// `EXPIRE_*` bits.
    pub cond: u8,
    /// The command's name, for its `invalid expire time` error.
    pub command: &'static str,
}

impl Expire<'_> {
    /// The deadline in unix ms, given the time now; Redis's overflow check of
    /// `when + basetime` gives its error.
    pub fn deadline(&self, now_ms: u64) -> Result<i64, CmdError> {
        let base = if self.relative {
            i64::try_from(now_ms).map_err(|_| self.invalid())?
        } else {
            0
        };
        self.ms.checked_add(base).ok_or_else(|| self.invalid())
    }

    fn invalid(&self) -> CmdError {
        CmdError::InvalidExpire(self.command.to_string())
    }
}

/// Options first, then the time, as Redis's `expireGenericCommand` checks them.
fn expire_generic<'a>(
    argv: &'a [&'a [u8]],
    seconds: bool,
    relative: bool,
    command: &'static str,
) -> Result<Expire<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let time = a.next_bytes()?;
    let mut cond = 0u8;
    for opt in a {
        cond |= if is(opt, "NX") {
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
    if cond & EXPIRE_NX != 0 && cond & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT) != 0 {
        return Err(CmdError::other(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if cond & EXPIRE_GT != 0 && cond & EXPIRE_LT != 0 {
        return Err(CmdError::other(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let mut ms = args::int(time)?;
    if seconds {
        ms = ms
            .checked_mul(1000)
            .ok_or_else(|| CmdError::InvalidExpire(command.to_string()))?;
    }
    Ok(Expire {
        key,
        ms,
        relative,
        cond,
        command,
    })
}

pub fn expire<'a>(argv: &'a [&'a [u8]]) -> Result<Expire<'a>, CmdError> {
    expire_generic(argv, true, true, "expire")
}

pub fn pexpire<'a>(argv: &'a [&'a [u8]]) -> Result<Expire<'a>, CmdError> {
    expire_generic(argv, false, true, "pexpire")
}

pub fn expireat<'a>(argv: &'a [&'a [u8]]) -> Result<Expire<'a>, CmdError> {
    expire_generic(argv, true, false, "expireat")
}

pub fn pexpireat<'a>(argv: &'a [&'a [u8]]) -> Result<Expire<'a>, CmdError> {
    expire_generic(argv, false, false, "pexpireat")
}

/// OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT `key`.
pub fn object_key<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [u8], CmdError> {
    let mut a = Args::subcommand(argv);
    let key = a.next_key()?;
    a.finish()?;
    Ok(key)
}

/// MEMORY USAGE `key [SAMPLES count]`: the key (samples change nothing here: a value's
/// size is kept, not sampled). Redis's order: options first, then the lookup.
pub fn memory_usage<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [u8], CmdError> {
    let mut a = Args::subcommand(argv);
    let key = a.next_key()?;
    while !a.is_empty() {
        if a.remaining() >= 2 && a.eat_keyword("SAMPLES") {
            if a.next_i64()? < 0 {
                return Err(CmdError::Syntax);
            }
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_support::check;

    const NOT_INT: &str = "ERR value is not an integer or out of range";
    const SYNTAX: &str = "ERR syntax error";

    #[test]
    fn rename_takes_two_keys() {
        check(
            rename,
            &[
                (
                    "RENAME a b",
                    Ok(Rename {
                        from: b"a",
                        to: b"b",
                    }),
                ),
                (
                    "RENAMENX a a",
                    Ok(Rename {
                        from: b"a",
                        to: b"a",
                    }),
                ),
                ("RENAME a b c", Err(SYNTAX)),
                ("RENAME a", Err(SYNTAX)),
            ],
        );
    }

    #[test]
    fn copy_options_in_redis_order() {
        let copy16 = |argv| copy(argv, 16);
        let req = |db, replace| Copy {
            from: b"a",
            to: b"b",
            db,
            replace,
        };
        check(
            copy16,
            &[
                ("COPY a b", Ok(req(None, false))),
                ("COPY a b REPLACE", Ok(req(None, true))),
                ("COPY a b db 3 replace", Ok(req(Some(3), true))),
                ("COPY a b DB 1 DB 15", Ok(req(Some(15), false))),
                ("COPY a b DB 16", Err("ERR DB index is out of range")),
                ("COPY a b DB -1", Err("ERR DB index is out of range")),
                // Redis range-checks inside the loop: before a later syntax error.
                ("COPY a b DB 99 FOO", Err("ERR DB index is out of range")),
                ("COPY a b DB 99 DB 1", Err("ERR DB index is out of range")),
                ("COPY a b DB abc", Err(NOT_INT)),
                (
                    "COPY a b DB 2147483648",
                    Err("ERR value is out of range, value must between -2147483648 and 2147483647"),
                ),
                ("COPY a b DB", Err(SYNTAX)),
                ("COPY a b REPLACE FOO", Err(SYNTAX)),
                ("COPY a b FOO DB 99", Err(SYNTAX)),
            ],
        );
    }

    #[test]
    fn scan_options() {
        let req = |cursor, count, pattern, type_filter| Scan {
            cursor,
            count,
            pattern,
            type_filter,
        };
        check(
            scan,
            &[
                ("SCAN 0", Ok(req(0, 10, None, None))),
                ("SCAN ''", Ok(req(0, 10, None, None))),
                ("SCAN +7", Ok(req(7, 10, None, None))),
                ("SCAN -1", Ok(req(u64::MAX, 10, None, None))),
                (
                    "SCAN 18446744073709551615",
                    Ok(req(u64::MAX, 10, None, None)),
                ),
                ("SCAN 18446744073709551616", Err("ERR invalid cursor")),
                ("SCAN 1x", Err("ERR invalid cursor")),
                ("SCAN -", Err("ERR invalid cursor")),
                (
                    "SCAN 0 MATCH a* COUNT 5 TYPE string",
                    Ok(req(0, 5, Some(b"a*"), Some(b"string"))),
                ),
                (
                    "SCAN 0 match * count 9223372036854775807",
                    Ok(req(0, i64::MAX, None, None)),
                ),
                ("SCAN 0 COUNT 0", Err(SYNTAX)),
                ("SCAN 0 COUNT -1", Err(SYNTAX)),
                ("SCAN 0 COUNT x", Err(NOT_INT)),
                ("SCAN 0 COUNT", Err(SYNTAX)),
                ("SCAN 0 TYPE", Err(SYNTAX)),
                ("SCAN 0 FOO bar", Err(SYNTAX)),
                // The cursor is checked before the options.
                ("SCAN x FOO", Err("ERR invalid cursor")),
            ],
        );
    }

    #[test]
    fn expire_family() {
        let req = |ms, relative, cond, command| Expire {
            key: b"k",
            ms,
            relative,
            cond,
            command,
        };
        check(
            expire,
            &[
                ("EXPIRE k 10", Ok(req(10_000, true, 0, "expire"))),
                (
                    "EXPIRE k -10 xx gt",
                    Ok(req(-10_000, true, EXPIRE_XX | EXPIRE_GT, "expire")),
                ),
                (
                    "EXPIRE k 9223372036854775",
                    Ok(req(9_223_372_036_854_775_000, true, 0, "expire")),
                ),
                (
                    "EXPIRE k 9223372036854776",
                    Err("ERR invalid expire time in 'expire' command"),
                ),
                (
                    "EXPIRE k 9223372036854775807",
                    Err("ERR invalid expire time in 'expire' command"),
                ),
                (
                    "EXPIRE k -9223372036854776",
                    Err("ERR invalid expire time in 'expire' command"),
                ),
                ("EXPIRE k x", Err(NOT_INT)),
                // Options are checked before the time.
                ("EXPIRE k x FOO", Err("ERR Unsupported option FOO")),
                (
                    "EXPIRE k 1 NX XX",
                    Err("ERR NX and XX, GT or LT options at the same time are not compatible"),
                ),
                (
                    "EXPIRE k 1 GT LT",
                    Err("ERR GT and LT options at the same time are not compatible"),
                ),
                (
                    "EXPIRE k 1 NX GT LT",
                    Err("ERR NX and XX, GT or LT options at the same time are not compatible"),
                ),
            ],
        );
        check(
            pexpire,
            &[(
                "PEXPIRE k 9223372036854775807",
                Ok(req(i64::MAX, true, 0, "pexpire")),
            )],
        );
        check(
            expireat,
            &[(
                "EXPIREAT k 5 NX",
                Ok(req(5_000, false, EXPIRE_NX, "expireat")),
            )],
        );
        check(
            pexpireat,
            &[
                (
                    "PEXPIREAT k 9223372036854775807",
                    Ok(req(i64::MAX, false, 0, "pexpireat")),
                ),
                ("PEXPIREAT k 9223372036854775808", Err(NOT_INT)),
            ],
        );
    }

    #[test]
    fn expire_deadlines_check_the_addition() {
        let at = |line| {
            expire_generic(
                crate::commands::test_support::argv(line),
                true,
                true,
                "expire",
            )
        };
        assert_eq!(at("EXPIRE k 10").unwrap().deadline(1_000), Ok(11_000));
        assert_eq!(at("EXPIRE k -10").unwrap().deadline(1_000), Ok(-9_000));
        let far = at("EXPIRE k 9223372036854775").unwrap();
        assert_eq!(far.deadline(807), Ok(i64::MAX));
        assert_eq!(
            far.deadline(808).unwrap_err().to_string(),
            "ERR invalid expire time in 'expire' command"
        );
        let abs = pexpireat(crate::commands::test_support::argv(
            "PEXPIREAT k 9223372036854775807",
        ))
        .unwrap();
        assert_eq!(abs.deadline(u64::MAX), Ok(i64::MAX));
    }

    #[test]
    fn keys_and_object_keys() {
        check(
            pattern,
            &[("KEYS *", Ok(&b"*"[..])), ("KEYS a b", Err(SYNTAX))],
        );
        check(
            object_key,
            &[
                ("OBJECT ENCODING k", Ok(&b"k"[..])),
                ("OBJECT ENCODING k x", Err(SYNTAX)),
                ("OBJECT ENCODING", Err(SYNTAX)),
            ],
        );
    }
}
