//! Parsing of the string commands: argv to typed requests, with the errors Redis 7.0's
//! `t_string.c` chooses, in its order. Pure: no state, no locks, no replies. The requests
//! borrow the arguments and live on the stack: GET, SET, INCR, MGET and MSET allocate nothing.

use crate::error::CmdError;
use crate::protocol::args::{self, is, Args};

// SET/GETEX option flags, as Redis's OBJ_* bits.
pub const NX: u32 = 1;
pub const XX: u32 = 1 << 1;
pub const EX: u32 = 1 << 2;
pub const PX: u32 = 1 << 3;
pub const KEEPTTL: u32 = 1 << 4;
pub const GET: u32 = 1 << 5;
pub const EXAT: u32 = 1 << 6;
pub const PXAT: u32 = 1 << 7;
pub const PERSIST: u32 = 1 << 8;
const ANY_EXPIRE: u32 = EX | PX | EXAT | PXAT;

/// An expire argument of SET, SETEX, PSETEX or GETEX, as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpireArg<'a> {
    pub raw: &'a [u8],
    pub seconds: bool,
    /// From now (EX, PX, SETEX, PSETEX) rather than since the epoch (EXAT, PXAT).
    pub relative: bool,
}

/// A checked expire time: positive milliseconds, from now or since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    pub ms: i64,
    pub relative: bool,
}

impl ExpireArg<'_> {
    /// Redis's `getExpireMillisecondsOrReply` up to the addition of the time now: an integer,
    /// positive, that fits in milliseconds.
    pub fn check(&self, command: &str) -> Result<Expiry, CmdError> {
        let n = args::int(self.raw)?;
        let ms = if self.seconds {
            n.checked_mul(1000)
        } else {
            Some(n)
        };
        match ms {
            Some(ms) if n > 0 => Ok(Expiry {
                ms,
                relative: self.relative,
            }),
            _ => Err(CmdError::InvalidExpire(command.to_string())),
        }
    }
}

impl Expiry {
    /// The deadline in unix ms. Past the end of time Redis's addition wraps negative and
    /// it replies its error; here the addition is checked, with the same error.
    pub fn deadline(&self, now_ms: u64, command: &str) -> Result<u64, CmdError> {
        let at = if self.relative {
            i64::try_from(now_ms)
                .ok()
                .and_then(|now| self.ms.checked_add(now))
        } else {
            Some(self.ms)
        };
        at.and_then(|at| u64::try_from(at).ok())
            .ok_or_else(|| CmdError::InvalidExpire(command.to_string()))
    }
}

/// Which command's option grammar applies (`parseExtendedStringArgumentsOrReply`).
#[derive(PartialEq, Clone, Copy)]
enum Grammar {
    Set,
    GetEx,
}

/// The expire options: keyword, flag, unit in seconds, relative.
const EXPIRE_OPTIONS: [(&str, u32, bool, bool); 4] = [
    ("EX", EX, true, true),
    ("PX", PX, false, true),
    ("EXAT", EXAT, true, false),
    ("PXAT", PXAT, false, false),
];

/// SET/GETEX options: the flags and the expire argument, if any. An option is refused
/// (syntax error) when it conflicts with one before it, as in Redis; an expire option
/// without a value after it is refused too.
fn options<'a>(a: &mut Args<'a>, g: Grammar) -> Result<(u32, Option<ExpireArg<'a>>), CmdError> {
    let set = g == Grammar::Set;
    let mut flags = 0u32;
    let mut expire = None;
    'next: while let Some(opt) = a.next() {
        if is(opt, "NX") && flags & XX == 0 && set {
            flags |= NX;
        } else if is(opt, "XX") && flags & NX == 0 && set {
            flags |= XX;
        } else if is(opt, "GET") && set {
            flags |= GET;
        } else if is(opt, "KEEPTTL") && flags & (PERSIST | ANY_EXPIRE) == 0 && set {
            flags |= KEEPTTL;
        } else if is(opt, "PERSIST") && !set && flags & (ANY_EXPIRE | KEEPTTL) == 0 {
            flags |= PERSIST;
        } else {
            for (name, flag, seconds, relative) in EXPIRE_OPTIONS {
                // The same option twice is allowed (the last wins); another expire is not.
                let conflicts = KEEPTTL | PERSIST | (ANY_EXPIRE & !flag);
                if is(opt, name) && flags & conflicts == 0 && !a.is_empty() {
                    flags |= flag;
                    expire = Some(ExpireArg {
                        raw: a.next_bytes()?,
                        seconds,
                        relative,
                    });
                    continue 'next;
                }
            }
            return Err(CmdError::Syntax);
        }
    }
    Ok((flags, expire))
}

/// SET `key value [NX|XX] [GET] [EX|PX|EXAT|PXAT t|KEEPTTL]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Set<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    /// NX, XX, GET, KEEPTTL (and the expire option's bit).
    pub flags: u32,
    pub expire: Option<Expiry>,
}

/// SET checks its expire value as soon as its options parse, before it looks at the key.
pub fn set<'a>(argv: &'a [&'a [u8]]) -> Result<Set<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let value = a.next_bytes()?;
    // Plain SET, the common case, needs no option parsing (measurably cheaper: it skips a call).
    if a.is_empty() {
        return Ok(Set {
            key,
            value,
            flags: 0,
            expire: None,
        });
    }
    let (flags, expire) = options(&mut a, Grammar::Set)?;
    let expire = match expire {
        Some(e) => Some(e.check("set")?),
        None => None,
    };
    Ok(Set {
        key,
        value,
        flags,
        expire,
    })
}

/// GETEX `key [EX|PX|EXAT|PXAT t|PERSIST]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetEx<'a> {
    pub key: &'a [u8],
    /// PERSIST (and the expire option's bit).
    pub flags: u32,
    /// Checked only once the key is found to hold a string, as in Redis's `getexCommand`.
    pub expire: Option<ExpireArg<'a>>,
}

pub fn getex<'a>(argv: &'a [&'a [u8]]) -> Result<GetEx<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let (flags, expire) = options(&mut a, Grammar::GetEx)?;
    Ok(GetEx { key, flags, expire })
}

/// SETEX/PSETEX `key time value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetEx<'a> {
    pub key: &'a [u8],
    pub expire: Expiry,
    pub value: &'a [u8],
}

fn setex_generic<'a>(
    argv: &'a [&'a [u8]],
    seconds: bool,
    command: &str,
) -> Result<SetEx<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let raw = a.next_bytes()?;
    let value = a.next_bytes()?;
    a.finish()?;
    let expire = ExpireArg {
        raw,
        seconds,
        relative: true,
    }
    .check(command)?;
    Ok(SetEx { key, expire, value })
}

pub fn setex<'a>(argv: &'a [&'a [u8]]) -> Result<SetEx<'a>, CmdError> {
    setex_generic(argv, true, "setex")
}

pub fn psetex<'a>(argv: &'a [&'a [u8]]) -> Result<SetEx<'a>, CmdError> {
    setex_generic(argv, false, "psetex")
}

/// MSET/MSETNX `key value [key value ...]`: the pairs, flat.
fn pairs<'a>(argv: &'a [&'a [u8]], command: &str) -> Result<&'a [&'a [u8]], CmdError> {
    let pairs = Args::command(argv).rest();
    if pairs.is_empty() || pairs.len() % 2 != 0 {
        return Err(CmdError::WrongArgs(command.to_string()));
    }
    Ok(pairs)
}

pub fn mset<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [&'a [u8]], CmdError> {
    pairs(argv, "mset")
}

pub fn msetnx<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [&'a [u8]], CmdError> {
    pairs(argv, "msetnx")
}

/// INCR, DECR, INCRBY, DECRBY: the key and what to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incr<'a> {
    pub key: &'a [u8],
    pub by: i64,
}

pub fn incr<'a>(argv: &'a [&'a [u8]]) -> Result<Incr<'a>, CmdError> {
    let key = args::one_key(argv)?;
    Ok(Incr { key, by: 1 })
}

pub fn decr<'a>(argv: &'a [&'a [u8]]) -> Result<Incr<'a>, CmdError> {
    let key = args::one_key(argv)?;
    Ok(Incr { key, by: -1 })
}

pub fn incrby<'a>(argv: &'a [&'a [u8]]) -> Result<Incr<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let by = a.next_i64()?;
    a.finish()?;
    Ok(Incr { key, by })
}

pub fn decrby<'a>(argv: &'a [&'a [u8]]) -> Result<Incr<'a>, CmdError> {
    let Incr { key, by } = incrby(argv)?;
    // Negating i64::MIN overflows; Redis says so in its own words.
    let by = by
        .checked_neg()
        .ok_or_else(|| CmdError::other("ERR decrement would overflow"))?;
    Ok(Incr { key, by })
}

/// GETRANGE/SUBSTR `key start end`, both parsed before the key is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetRange<'a> {
    pub key: &'a [u8],
    pub start: i64,
    pub end: i64,
}

pub fn getrange<'a>(argv: &'a [&'a [u8]]) -> Result<GetRange<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let start = a.next_i64()?;
    let end = a.next_i64()?;
    a.finish()?;
    Ok(GetRange { key, start, end })
}

/// SETRANGE `key offset value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetRange<'a> {
    pub key: &'a [u8],
    pub offset: u64,
    pub value: &'a [u8],
}

pub fn setrange<'a>(argv: &'a [&'a [u8]]) -> Result<SetRange<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let offset = a.next_i64()?;
    let offset =
        u64::try_from(offset).map_err(|_| CmdError::other("ERR offset is out of range"))?;
    let value = a.next_bytes()?;
    a.finish()?;
    Ok(SetRange { key, offset, value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_support::check;

    const NOT_INT: &str = "ERR value is not an integer or out of range";
    const SYNTAX: &str = "ERR syntax error";
    const SET_EXPIRE: &str = "ERR invalid expire time in 'set' command";

    fn set_req(flags: u32, expire: Option<Expiry>) -> Set<'static> {
        Set {
            key: b"k",
            value: b"v",
            flags,
            expire,
        }
    }

    fn ms(ms: i64, relative: bool) -> Option<Expiry> {
        Some(Expiry { ms, relative })
    }

    #[test]
    fn set_options() {
        check(
            set,
            &[
                ("SET k v", Ok(set_req(0, None))),
                ("SET k v nx get", Ok(set_req(NX | GET, None))),
                ("SET k v XX KEEPTTL", Ok(set_req(XX | KEEPTTL, None))),
                ("SET k v EX 10", Ok(set_req(EX, ms(10_000, true)))),
                ("SET k v px 10", Ok(set_req(PX, ms(10, true)))),
                ("SET k v EXAT 10", Ok(set_req(EXAT, ms(10_000, false)))),
                (
                    "SET k v PXAT 10 GET",
                    Ok(set_req(PXAT | GET, ms(10, false))),
                ),
                ("SET k v EX 10 EX 20", Ok(set_req(EX, ms(20_000, true)))),
                ("SET k v GET GET", Ok(set_req(GET, None))),
                (
                    "SET k v EX 9223372036854775",
                    Ok(set_req(EX, ms(9_223_372_036_854_775_000, true))),
                ),
                ("SET k v NX XX", Err(SYNTAX)),
                ("SET k v XX NX", Err(SYNTAX)),
                ("SET k v EX 10 PX 10", Err(SYNTAX)),
                ("SET k v KEEPTTL EX 10", Err(SYNTAX)),
                ("SET k v EX 10 KEEPTTL", Err(SYNTAX)),
                ("SET k v EX", Err(SYNTAX)),
                ("SET k v PERSIST", Err(SYNTAX)),
                ("SET k v FOO", Err(SYNTAX)),
                // Every option parses before the expire value is looked at.
                ("SET k v EX abc FOO", Err(SYNTAX)),
                ("SET k v EX abc", Err(NOT_INT)),
                ("SET k v EX 0", Err(SET_EXPIRE)),
                ("SET k v PX -1", Err(SET_EXPIRE)),
                ("SET k v EX 9223372036854776", Err(SET_EXPIRE)),
                ("SET k v EXAT 9223372036854775807", Err(SET_EXPIRE)),
                (
                    "SET k v PXAT 9223372036854775807",
                    Ok(set_req(PXAT, ms(i64::MAX, false))),
                ),
            ],
        );
    }

    #[test]
    fn set_deadlines_check_the_addition() {
        let e = Expiry {
            ms: i64::MAX - 5,
            relative: true,
        };
        assert_eq!(e.deadline(5, "set"), Ok(i64::MAX as u64));
        assert_eq!(e.deadline(6, "set").unwrap_err().to_string(), SET_EXPIRE);
        let abs = Expiry {
            ms: 7,
            relative: false,
        };
        assert_eq!(abs.deadline(1_000, "set"), Ok(7));
    }

    #[test]
    fn getex_options() {
        let req = |flags, expire| GetEx {
            key: b"k",
            flags,
            expire,
        };
        let arg = |raw, seconds, relative| {
            Some(ExpireArg {
                raw,
                seconds,
                relative,
            })
        };
        check(
            getex,
            &[
                ("GETEX k", Ok(req(0, None))),
                ("GETEX k PERSIST", Ok(req(PERSIST, None))),
                ("GETEX k EX abc", Ok(req(EX, arg(b"abc", true, true)))),
                ("GETEX k PXAT 5", Ok(req(PXAT, arg(b"5", false, false)))),
                ("GETEX k PERSIST EX 1", Err(SYNTAX)),
                ("GETEX k EX 1 PERSIST", Err(SYNTAX)),
                ("GETEX k PERSIST PERSIST", Ok(req(PERSIST, None))),
                ("GETEX k KEEPTTL", Err(SYNTAX)),
                ("GETEX k NX", Err(SYNTAX)),
                ("GETEX k GET", Err(SYNTAX)),
                ("GETEX k EX", Err(SYNTAX)),
            ],
        );
        let raw = ExpireArg {
            raw: b"0",
            seconds: true,
            relative: true,
        };
        assert_eq!(
            raw.check("getex").unwrap_err().to_string(),
            "ERR invalid expire time in 'getex' command"
        );
    }

    #[test]
    fn setex_and_psetex() {
        let req = |ms| SetEx {
            key: b"k",
            expire: Expiry { ms, relative: true },
            value: b"v",
        };
        check(
            setex,
            &[
                ("SETEX k 10 v", Ok(req(10_000))),
                (
                    "SETEX k 0 v",
                    Err("ERR invalid expire time in 'setex' command"),
                ),
                ("SETEX k abc v", Err(NOT_INT)),
                (
                    "SETEX k 9223372036854775807 v",
                    Err("ERR invalid expire time in 'setex' command"),
                ),
                ("SETEX k 10 v x", Err(SYNTAX)),
            ],
        );
        check(
            psetex,
            &[
                ("PSETEX k 10 v", Ok(req(10))),
                (
                    "PSETEX k -5 v",
                    Err("ERR invalid expire time in 'psetex' command"),
                ),
            ],
        );
    }

    #[test]
    fn counters_pairs_and_ranges() {
        check(
            incr,
            &[
                ("INCR k", Ok(Incr { key: b"k", by: 1 })),
                ("INCR k x", Err(SYNTAX)),
            ],
        );
        check(decr, &[("DECR k", Ok(Incr { key: b"k", by: -1 }))]);
        check(
            incrby,
            &[
                (
                    "INCRBY k -9223372036854775808",
                    Ok(Incr {
                        key: b"k",
                        by: i64::MIN,
                    }),
                ),
                ("INCRBY k 1.5", Err(NOT_INT)),
                ("INCRBY k 1 2", Err(SYNTAX)),
            ],
        );
        check(
            decrby,
            &[
                ("DECRBY k 5", Ok(Incr { key: b"k", by: -5 })),
                (
                    "DECRBY k -9223372036854775808",
                    Err("ERR decrement would overflow"),
                ),
                ("DECRBY k x", Err(NOT_INT)),
            ],
        );
        check(
            mset,
            &[
                (
                    "MSET a 1 b 2",
                    Ok(crate::commands::test_support::argv("a 1 b 2")),
                ),
                (
                    "MSET a 1 b",
                    Err("ERR wrong number of arguments for 'mset' command"),
                ),
            ],
        );
        check(
            msetnx,
            &[(
                "MSETNX a",
                Err("ERR wrong number of arguments for 'msetnx' command"),
            )],
        );
        check(
            getrange,
            &[
                (
                    "GETRANGE k 0 -1",
                    Ok(GetRange {
                        key: b"k",
                        start: 0,
                        end: -1,
                    }),
                ),
                ("GETRANGE k x 1", Err(NOT_INT)),
                ("GETRANGE k 1 x", Err(NOT_INT)),
                ("GETRANGE k 1 2 3", Err(SYNTAX)),
            ],
        );
        check(
            setrange,
            &[
                (
                    "SETRANGE k 5 v",
                    Ok(SetRange {
                        key: b"k",
                        offset: 5,
                        value: b"v",
                    }),
                ),
                ("SETRANGE k -1 v", Err("ERR offset is out of range")),
                ("SETRANGE k x v", Err(NOT_INT)),
                ("SETRANGE k 1 v x", Err(SYNTAX)),
            ],
        );
    }
}
