//! Parsing of the bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP), with Redis 7.0's
//! `bitops.c` errors. Pure: no state, no locks, no replies.
//!
//! Redis reads some arguments only after it looked the key up (BITCOUNT's and BITPOS's range,
//! so a missing key answers 0 whatever follows), and checks a bit offset against
//! `proto-max-bulk-len`, a setting: so the requests keep those arguments as given and the
//! checks below are called by the apply functions, at the point Redis makes them.

use crate::error::CmdError;
use crate::protocol::args::{self, is, Args};

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_BIT: &str = "ERR bit is not an integer or out of range";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetBit<'a> {
    pub key: &'a [u8],
    pub offset: &'a [u8],
    pub value: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetBit<'a> {
    pub key: &'a [u8],
    pub offset: &'a [u8],
}

/// BITCOUNT `key [start end [BYTE|BIT]]` and BITPOS `key bit [start [end [BYTE|BIT]]]`: the
/// range arguments, read once the key is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count<'a> {
    pub key: &'a [u8],
    pub range: &'a [&'a [u8]],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos<'a> {
    pub key: &'a [u8],
    pub bit: bool,
    pub range: &'a [&'a [u8]],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    And,
    Or,
    Xor,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitOp<'a> {
    pub op: Op,
    pub dest: &'a [u8],
    pub keys: &'a [&'a [u8]],
}

pub fn setbit<'a>(argv: &'a [&'a [u8]]) -> Result<SetBit<'a>, CmdError> {
    let mut a = Args::command(argv);
    let req = SetBit {
        key: a.next_key()?,
        offset: a.next_bytes()?,
        value: a.next_bytes()?,
    };
    a.finish()?;
    Ok(req)
}

pub fn getbit<'a>(argv: &'a [&'a [u8]]) -> Result<GetBit<'a>, CmdError> {
    let mut a = Args::command(argv);
    let req = GetBit {
        key: a.next_key()?,
        offset: a.next_bytes()?,
    };
    a.finish()?;
    Ok(req)
}

pub fn bitcount<'a>(argv: &'a [&'a [u8]]) -> Result<Count<'a>, CmdError> {
    let mut a = Args::command(argv);
    Ok(Count {
        key: a.next_key()?,
        range: a.rest(),
    })
}

/// BITPOS checks the bit before it looks the key up.
pub fn bitpos<'a>(argv: &'a [&'a [u8]]) -> Result<Pos<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let bit = match args::int(a.next_bytes()?)? {
        0 => false,
        1 => true,
        _ => return Err(CmdError::other("ERR The bit argument must be 1 or 0.")),
    };
    Ok(Pos {
        key,
        bit,
        range: a.rest(),
    })
}

pub fn bitop<'a>(argv: &'a [&'a [u8]]) -> Result<BitOp<'a>, CmdError> {
    let mut a = Args::command(argv);
    let name = a.next_bytes()?;
    let op = if is(name, "AND") {
        Op::And
    } else if is(name, "OR") {
        Op::Or
    } else if is(name, "XOR") {
        Op::Xor
    } else if is(name, "NOT") {
        Op::Not
    } else {
        return Err(CmdError::Syntax);
    };
    if op == Op::Not && argv.len() != 4 {
        return Err(CmdError::other(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    Ok(BitOp {
        op,
        dest: a.next_key()?,
        keys: a.rest(),
    })
}

/// A bit offset (Redis's `getBitOffsetFromArgument`): an integer from 0 whose byte is below
/// `proto-max-bulk-len`.
pub fn offset(arg: &[u8], max_bulk: u64) -> Result<u64, CmdError> {
    match args::int(arg).ok().and_then(|n| u64::try_from(n).ok()) {
        Some(n) if (n >> 3) < max_bulk => Ok(n),
        _ => Err(CmdError::other(BAD_OFFSET)),
    }
}

/// SETBIT's value: 0 or 1.
pub fn bit_value(arg: &[u8]) -> Result<bool, CmdError> {
    match args::int(arg) {
        Ok(0) => Ok(false),
        Ok(1) => Ok(true),
        _ => Err(CmdError::other(BAD_BIT)),
    }
}

/// A range of a string, in bits, both ends included, already clamped to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitRange {
    pub first: u64,
    pub last: u64,
}

/// Clamps `start`/`end` (negative: from the end) to a string of `total` units, as
/// BITCOUNT and BITPOS do; `None` when nothing is left.
fn clamp(total: i64, start: i64, end: i64) -> Option<(i64, i64)> {
    // `total` is at most 2^32 * 8 here (proto-max-bulk-len), so these sums cannot overflow.
    let start = if start < 0 { total + start } else { start }.max(0);
    let end = if end < 0 { total + end } else { end }
        .max(0)
        .min(total - 1);
    (start <= end).then_some((start, end))
}

/// In bits: `(start, end)` in bytes, or in bits when `bits`.
fn to_bits(len: usize, start: i64, end: i64, bits: bool) -> Option<BitRange> {
    let len = i64::try_from(len).ok()?;
    let total = if bits { len.checked_mul(8)? } else { len };
    let (start, end) = clamp(total, start, end)?;
    let (first, last) = if bits {
        (start, end)
    } else {
        (start * 8, end * 8 + 7)
    };
    Some(BitRange {
        first: u64::try_from(first).ok()?,
        last: u64::try_from(last).ok()?,
    })
}

fn unit(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "BIT") {
        Ok(true)
    } else if is(arg, "BYTE") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// BITCOUNT's range over a string of `len` bytes, in Redis's order of checks; `Ok(None)` is
/// an empty range (the count is 0).
pub fn count_range(range: &[&[u8]], len: usize) -> Result<Option<BitRange>, CmdError> {
    match range {
        [] => Ok(to_bits(len, 0, -1, false)),
        [start, end, unit_arg @ ..] if unit_arg.len() <= 1 => {
            let start = args::int(start)?;
            let end = args::int(end)?;
            if start < 0 && end < 0 && start > end {
                return Ok(None);
            }
            let bits = match unit_arg {
                [u] => unit(u)?,
                _ => false,
            };
            Ok(to_bits(len, start, end, bits))
        }
        _ => Err(CmdError::Syntax),
    }
}

/// BITPOS's range over a string of `len` bytes: the range, and whether an end was given
/// (then a 0 bit is not looked for past it).
pub fn pos_range(range: &[&[u8]], len: usize) -> Result<(Option<BitRange>, bool), CmdError> {
    match range {
        [] => Ok((to_bits(len, 0, -1, false), false)),
        [start, rest @ ..] if rest.len() <= 2 => {
            let start = args::int(start)?;
            let bits = match rest {
                [_, u] => unit(u)?,
                _ => false,
            };
            let end = match rest.first() {
                Some(end) => Some(args::int(end)?),
                None => None,
            };
            Ok((to_bits(len, start, end.unwrap_or(-1), bits), end.is_some()))
        }
        _ => Err(CmdError::Syntax),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_support::{argv, check};

    #[test]
    fn requests() {
        check(
            bitpos,
            &[
                (
                    "BITPOS k 1",
                    Ok(Pos {
                        key: b"k",
                        bit: true,
                        range: &[],
                    }),
                ),
                ("BITPOS k 2", Err("ERR The bit argument must be 1 or 0.")),
                (
                    "BITPOS k x",
                    Err("ERR value is not an integer or out of range"),
                ),
            ],
        );
        check(
            bitop,
            &[
                (
                    "BITOP and d a b",
                    Ok(BitOp {
                        op: Op::And,
                        dest: b"d",
                        keys: argv("a b"),
                    }),
                ),
                (
                    "BITOP NOT d a b",
                    Err("ERR BITOP NOT must be called with a single source key."),
                ),
                ("BITOP nand d a", Err("ERR syntax error")),
            ],
        );
    }

    #[test]
    fn offsets_and_bits() {
        let max = 512 * 1024 * 1024;
        assert_eq!(offset(b"0", max).unwrap(), 0);
        assert_eq!(offset(b"4294967295", max).unwrap(), 4294967295);
        for bad in ["4294967296", "-1", "x", "1.5", ""] {
            assert_eq!(
                offset(bad.as_bytes(), max).unwrap_err().to_string(),
                BAD_OFFSET
            );
        }
        assert!(bit_value(b"1").unwrap());
        assert!(!bit_value(b"0").unwrap());
        for bad in ["2", "-1", "x"] {
            assert_eq!(bit_value(bad.as_bytes()).unwrap_err().to_string(), BAD_BIT);
        }
    }

    #[test]
    fn ranges() {
        let r = |first, last| Some(BitRange { first, last });
        let a = |line: &'static str| argv(line);
        assert_eq!(count_range(&[], 3).unwrap(), r(0, 23));
        assert_eq!(count_range(&[], 0).unwrap(), None);
        assert_eq!(count_range(a("1 -1"), 3).unwrap(), r(8, 23));
        assert_eq!(count_range(a("-1 -2"), 3).unwrap(), None);
        assert_eq!(count_range(a("5 100 BIT"), 3).unwrap(), r(5, 23));
        assert_eq!(count_range(a("-100 -20 bit"), 3).unwrap(), r(0, 4));
        assert_eq!(count_range(a("-1 -2 FOO"), 3).unwrap(), None);
        assert!(count_range(a("0 1 FOO"), 3).is_err());
        assert!(count_range(a("0"), 3).is_err());
        assert!(count_range(a("0 1 BIT x"), 3).is_err());
        assert_eq!(pos_range(a("1"), 3).unwrap(), (r(8, 23), false));
        assert_eq!(pos_range(a("1 1"), 3).unwrap(), (r(8, 15), true));
        assert_eq!(pos_range(a("9 10 BIT"), 3).unwrap(), (r(9, 10), true));
        assert_eq!(
            pos_range(a(&*format!("{} {} BIT", i64::MIN, i64::MAX).leak()), 3).unwrap(),
            (r(0, 23), true)
        );
    }
}
