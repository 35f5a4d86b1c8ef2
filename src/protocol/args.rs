//! Argument helpers: the number formats Redis accepts, and case-insensitive keyword matching.

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
