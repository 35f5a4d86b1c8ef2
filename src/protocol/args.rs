//! Command arguments: the number formats Redis accepts, case-insensitive keyword matching, and
//! [`Args`], the cursor every command parser walks its arguments with.
//!
//! The cursor replaces index arithmetic (`args[j + 1]`, `args.len() - j - 1`): a parser takes
//! what it needs in order and ends with [`Args::finish`], the one place extra arguments become
//! Redis's `ERR syntax error`. Nothing here allocates on the success path, so the hot commands
//! parse into stack values and borrowed slices.

use crate::duration::parse_duration_ms;
use crate::error::CmdError;

/// Parses a Redis integer argument (`string2ll` rules), with Redis's error text.
pub fn int(arg: &[u8]) -> Result<i64, CmdError> {
    super::parse::parse_i64(arg).ok_or(CmdError::NotInt)
}

/// An integer that must fit a C `int` (database numbers), with the range error of Redis's
/// `getIntFromObjectOrReply`.
pub fn int32(arg: &[u8]) -> Result<i64, CmdError> {
    let n = int(arg)?;
    if n < i32::MIN as i64 || n > i32::MAX as i64 {
        return Err(CmdError::other(format!(
            "ERR value is out of range, value must between {} and {}",
            i32::MIN,
            i32::MAX
        )));
    }
    Ok(n)
}

/// A non-negative integer argument (COUNT, database numbers, lengths).
pub fn uint(arg: &[u8]) -> Result<u64, CmdError> {
    match int(arg)? {
        n if n >= 0 => Ok(n as u64),
        _ => Err(CmdError::NotInt),
    }
}

/// Parses a float the way Redis's `string2d` does: `strtod` on the whole argument, no
/// leading space, no NaN.
pub fn float(arg: &[u8]) -> Result<f64, CmdError> {
    parse_f64(arg).ok_or(CmdError::NotFloat)
}

pub fn parse_f64(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let v = match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => s.parse::<f64>().ok()?,
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

/// ASCII case-insensitive comparison of an argument with a keyword written in upper case.
#[inline]
pub fn is(arg: &[u8], upper: &str) -> bool {
    arg.eq_ignore_ascii_case(upper.as_bytes())
}

/// The text of a duration error: what tollgate accepts, in one place.
fn duration_error(what: &str, positive: bool) -> CmdError {
    let kind = if positive {
        "a positive duration"
    } else {
        "a duration"
    };
    CmdError::other(format!(
        "ERR {what} must be {kind} such as 60, 500ms, 10m, 1h or 1d"
    ))
}

/// A cursor over a command's arguments.
///
/// Required arguments are taken with the `next_*` methods; an option loop takes keywords
/// with `next()` (it is an iterator over the raw arguments) or `eat_keyword`, and their values
/// with `next_*`. A missing value is `ERR syntax error`, as in Redis's option loops (the
/// command table's arity check has already guaranteed the positional ones). `finish` rejects
/// whatever is left.
#[derive(Debug, Clone, Copy)]
pub struct Args<'a> {
    rest: &'a [&'a [u8]],
}

impl<'a> Args<'a> {
    /// A cursor over `args` as given.
    #[inline]
    pub fn new(args: &'a [&'a [u8]]) -> Self {
        Args { rest: args }
    }

    /// A cursor over a command's arguments after its name (`argv[1..]`).
    #[inline]
    pub fn command(argv: &'a [&'a [u8]]) -> Self {
        Self::new(argv.get(1..).unwrap_or_default())
    }

    /// A cursor over a subcommand's arguments after `CONTAINER SUB` (`argv[2..]`).
    #[inline]
    pub fn subcommand(argv: &'a [&'a [u8]]) -> Self {
        Self::new(argv.get(2..).unwrap_or_default())
    }

    /// How many arguments are left.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next argument, not consumed.
    #[inline]
    pub fn peek(&self) -> Option<&'a [u8]> {
        self.rest.first().copied()
    }

    /// Whether the next argument is `upper` (ASCII case-insensitive), without consuming it.
    #[inline]
    pub fn peek_keyword(&self, upper: &str) -> bool {
        self.peek().is_some_and(|a| is(a, upper))
    }

    /// Consumes the next argument if it is `upper`; says whether it did.
    #[inline]
    pub fn eat_keyword(&mut self, upper: &str) -> bool {
        let found = self.peek_keyword(upper);
        if found {
            self.rest = &self.rest[1..];
        }
        found
    }

    /// The next argument as bytes; `ERR syntax error` when there is none.
    #[inline]
    pub fn next_bytes(&mut self) -> Result<&'a [u8], CmdError> {
        self.next().ok_or(CmdError::Syntax)
    }

    /// The next argument, which names a key (the same as `next_bytes`; says what it is).
    #[inline]
    pub fn next_key(&mut self) -> Result<&'a [u8], CmdError> {
        self.next_bytes()
    }

    /// The next argument through `parse`, which chooses its own error.
    #[inline]
    pub fn next_with<T>(
        &mut self,
        parse: impl FnOnce(&'a [u8]) -> Result<T, CmdError>,
    ) -> Result<T, CmdError> {
        parse(self.next_bytes()?)
    }

    /// The next argument as a Redis integer (`ERR value is not an integer or out of range`).
    #[inline]
    pub fn next_i64(&mut self) -> Result<i64, CmdError> {
        self.next_with(int)
    }

    /// The next argument as a non-negative integer (the same error for a negative one).
    #[inline]
    pub fn next_u64(&mut self) -> Result<u64, CmdError> {
        self.next_with(uint)
    }

    /// The next argument as an integer that fits a C `int`, with Redis's range error.
    #[inline]
    pub fn next_i32(&mut self) -> Result<i64, CmdError> {
        self.next_with(int32)
    }

    /// The next argument as a float (`ERR value is not a valid float`).
    #[inline]
    pub fn next_f64(&mut self) -> Result<f64, CmdError> {
        self.next_with(float)
    }

    /// The next argument as a tollgate duration (`60`, `1500ms`, `10m`; see `crate::duration`)
    /// in milliseconds; 0 is allowed (where a TTL is allowed it means "never expires"). `what`
    /// names the argument in the error.
    #[inline]
    pub fn next_duration_ms(&mut self, what: &str) -> Result<u64, CmdError> {
        let arg = self.next_bytes()?;
        parse_duration_ms(arg).ok_or_else(|| duration_error(what, false))
    }

    /// `next_duration_ms` for a duration that must not be zero (a period, a lease).
    #[inline]
    pub fn next_positive_duration_ms(&mut self, what: &str) -> Result<u64, CmdError> {
        let arg = self.next_bytes()?;
        match parse_duration_ms(arg) {
            Some(ms) if ms > 0 => Ok(ms),
            _ => Err(duration_error(what, true)),
        }
    }

    /// Everything left, consumed (the keys of DEL, the pairs of MSET).
    #[inline]
    pub fn rest(&mut self) -> &'a [&'a [u8]] {
        std::mem::take(&mut self.rest)
    }

    /// Ends parsing: `ERR syntax error` if any argument is left over.
    #[inline]
    pub fn finish(self) -> Result<(), CmdError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(CmdError::Syntax)
        }
    }
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];

    /// The next raw argument (an option keyword, usually).
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let (first, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(first)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.rest.len(), Some(self.rest.len()))
    }
}

/// The argument shape of commands that take nothing after their name.
pub fn no_args(argv: &[&[u8]]) -> Result<(), CmdError> {
    Args::command(argv).finish()
}

/// The argument shape of subcommands that take nothing after `CONTAINER SUB`.
pub fn no_sub_args(argv: &[&[u8]]) -> Result<(), CmdError> {
    Args::subcommand(argv).finish()
}

/// `COMMAND key` and nothing else.
pub fn one_key<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [u8], CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    a.finish()?;
    Ok(key)
}

/// `COMMAND key [key ...]`: every argument after the name is a key (at least one).
pub fn all_keys<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [&'a [u8]], CmdError> {
    let mut a = Args::command(argv);
    match a.rest() {
        [] => Err(CmdError::Syntax),
        keys => Ok(keys),
    }
}

/// `COMMAND key value` and nothing else.
pub fn key_value<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [u8], &'a [u8]), CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let value = a.next_bytes()?;
    a.finish()?;
    Ok((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<&[u8]> {
        line.split(' ').map(str::as_bytes).collect()
    }

    #[test]
    fn takes_arguments_in_order_and_finishes() {
        let v = argv("SET k 12 -3 1.5 10m EX 0");
        let mut a = Args::command(&v);
        assert_eq!(a.remaining(), 7);
        assert_eq!(a.next_key(), Ok(&b"k"[..]));
        assert_eq!(a.next_u64(), Ok(12));
        assert_eq!(a.next_i64(), Ok(-3));
        assert_eq!(a.next_f64(), Ok(1.5));
        assert_eq!(a.next_duration_ms("ttl"), Ok(600_000));
        assert!(!a.peek_keyword("PX"));
        assert!(a.peek_keyword("ex"));
        assert!(a.eat_keyword("EX"));
        assert_eq!(a.next_duration_ms("ttl"), Ok(0));
        assert!(a.is_empty());
        assert_eq!(a.next_bytes(), Err(CmdError::Syntax));
        assert_eq!(a.finish(), Ok(()));
    }

    #[test]
    fn errors_are_redis_texts() {
        type Take = fn(&mut Args) -> Result<(), CmdError>;
        let cases: &[(&str, Take, &str)] = &[
            (
                "x",
                |a| a.next_i64().map(drop),
                "ERR value is not an integer or out of range",
            ),
            (
                "-1",
                |a| a.next_u64().map(drop),
                "ERR value is not an integer or out of range",
            ),
            (
                "9223372036854775808",
                |a| a.next_i64().map(drop),
                "ERR value is not an integer or out of range",
            ),
            (
                "2147483648",
                |a| a.next_i32().map(drop),
                "ERR value is out of range, value must between -2147483648 and 2147483647",
            ),
            (
                "nan",
                |a| a.next_f64().map(drop),
                "ERR value is not a valid float",
            ),
            (
                "1w",
                |a| a.next_duration_ms("ttl").map(drop),
                "ERR ttl must be a duration such as 60, 500ms, 10m, 1h or 1d",
            ),
            (
                "0",
                |a| a.next_positive_duration_ms("period").map(drop),
                "ERR period must be a positive duration such as 60, 500ms, 10m, 1h or 1d",
            ),
            (
                "",
                |a| a.next_key().and(a.next_bytes()).map(drop),
                "ERR syntax error",
            ),
            ("extra", |a| a.finish(), "ERR syntax error"),
        ];
        for (arg, take, want) in cases {
            let v = [arg.as_bytes()];
            let mut a = Args::new(&v);
            assert_eq!(take(&mut a).unwrap_err().to_string(), *want, "{arg:?}");
        }
    }

    #[test]
    fn starts_after_the_name_or_the_subcommand_even_when_short() {
        let empty: [&[u8]; 0] = [];
        assert!(Args::command(&empty).is_empty());
        assert!(Args::subcommand(&argv("CLIENT")).is_empty());
        assert_eq!(Args::subcommand(&argv("CLIENT KILL ID 3")).remaining(), 2);
    }

    #[test]
    fn iterates_and_takes_the_rest() {
        let v = argv("DEL a b c");
        let mut a = Args::command(&v);
        assert_eq!(a.next(), Some(&b"a"[..]));
        assert_eq!(a.remaining(), 2);
        assert_eq!(a.rest(), &v[2..]);
        assert_eq!(a.next(), None);
        assert_eq!(a.finish(), Ok(()));
    }

    #[test]
    fn shapes() {
        assert_eq!(one_key(&argv("GET k")), Ok(&b"k"[..]));
        assert_eq!(one_key(&argv("GET k x")), Err(CmdError::Syntax));
        assert_eq!(one_key(&argv("GET")), Err(CmdError::Syntax));
        assert_eq!(all_keys(&argv("DEL a b")).map(<[_]>::len), Ok(2));
        assert_eq!(all_keys(&argv("DEL")), Err(CmdError::Syntax));
        assert_eq!(key_value(&argv("SETNX k v")), Ok((&b"k"[..], &b"v"[..])));
        assert_eq!(key_value(&argv("SETNX k v x")), Err(CmdError::Syntax));
        assert_eq!(no_args(&argv("DBSIZE")), Ok(()));
        assert_eq!(no_args(&argv("DBSIZE x")), Err(CmdError::Syntax));
        assert_eq!(no_sub_args(&argv("CLIENT ID")), Ok(()));
        assert_eq!(no_sub_args(&argv("CLIENT ID x")), Err(CmdError::Syntax));
    }
}
