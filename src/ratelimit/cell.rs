//! `CL.THROTTLE`: a port of the algorithm of brandur/redis-cell 0.5, so redis-cell users get the
//! same five integers, the same rounding and the same `Cell error: ...` texts; and a clear
//! error, not a crashed server, on the inputs where redis-cell panics or misbehaves.
//!
//! redis-cell's GCRA, restated: emission interval `T = period × 1e9 / count` ns, computed in
//! f64 and truncated (reproduced as is: it decides `T`), `limit = max_burst + 1`, delay
//! variation tolerance `τ = T × limit`, increment `T × quantity`. `new_tat = max(tat, now) +
//! increment`; limited iff `now < new_tat − τ`. Limited: `retry_after = new_tat − τ − now`
//! (−1s when `increment > τ`, it can never fit), `ttl = tat − now`. Allowed: `ttl = new_tat −
//! now` and the key is set to `new_tat` with that TTL. `remaining = (τ − ttl) / T` in whole
//! microseconds, divided in f64 and truncated (0 unless `τ − ttl > −T`). Seconds in the reply
//! are whole seconds rounded up when a whole millisecond is left over (a few hundred
//! nanoseconds over do not round up), `retry_after` −1 when allowed.
//!
//! Where redis-cell goes wrong instead (negative arguments, products that overflow i64, which
//! a release build wraps and the time crate panics on, and rates over one per microsecond,
//! where it divides by zero microseconds) this returns an error.

use std::fmt;

const NS_PER_S: i64 = 1_000_000_000;

/// redis-cell's reply to a bad argument count (the server checks the arity).
pub const USAGE: &str =
    "Usage: cl.throttle <key> <max_burst> <count per period> <period> [<quantity>]";

/// The five integers of a `CL.THROTTLE` reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellReply {
    pub limited: bool,
    pub limit: i64,
    pub remaining: i64,
    pub retry_after_s: i64,
    pub reset_after_s: i64,
}

impl CellReply {
    /// In reply order: limited (0/1), limit, remaining, retry_after, reset_after.
    pub fn to_array(&self) -> [i64; 5] {
        [
            i64::from(self.limited),
            self.limit,
            self.remaining,
            self.retry_after_s,
            self.reset_after_s,
        ]
    }
}

/// Every error `CL.THROTTLE` can reply; `Display` gives the full error text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CellError {
    /// Wrong number of arguments.
    Usage,
    /// An argument that is not an i64 (the argument, lossily decoded).
    NotInteger(String),
    /// `count` or `period` is zero, or `count` exceeds `period` in nanoseconds.
    ZeroRate,
    /// The key holds something that is not an integer (std's parse error text, which is what
    /// redis-cell 0.3 replied; later versions abort the server).
    StoredValue(String),
    /// The key holds `-1`, which redis-cell mistakes for "no key" and then fails to update.
    UpdateFailed,
    /// tollgate only: a negative argument (redis-cell computes nonsense from them).
    Negative,
    /// tollgate only: a product or instant beyond i64 nanoseconds (redis-cell wraps or panics).
    OutOfRange,
    /// tollgate only: more than one per microsecond (redis-cell divides by zero microseconds).
    TooFast,
}

impl fmt::Display for CellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cell error: ")?;
        match self {
            CellError::Usage => f.write_str(USAGE),
            CellError::NotInteger(arg) => write!(f, "Couldn't parse as integer: {arg}"),
            CellError::ZeroRate => f.write_str("Zero rates are not supported"),
            CellError::StoredValue(why) => f.write_str(why),
            CellError::UpdateFailed => f.write_str("Failed to update rate limit after 5 attempts"),
            CellError::Negative => f.write_str("Negative values are not supported"),
            CellError::OutOfRange => f.write_str("Values are out of range"),
            CellError::TooFast => {
                f.write_str("Rates faster than one per microsecond are not supported")
            }
        }
    }
}

impl std::error::Error for CellError {}

/// Parses an argument as redis-cell does (Rust's `i64` syntax: optional sign, digits only).
pub fn parse_arg(arg: &[u8]) -> Result<i64, CellError> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| CellError::NotInteger(String::from_utf8_lossy(arg).into_owned()))
}

/// Parses the TAT stored under the key (a decimal string of unix nanoseconds).
pub fn parse_stored_tat(value: &[u8]) -> Result<i64, CellError> {
    let s = std::str::from_utf8(value).map_err(|e| CellError::StoredValue(e.to_string()))?;
    s.parse()
        .map_err(|e: std::num::ParseIntError| CellError::StoredValue(e.to_string()))
}

/// Whole seconds of a nanosecond duration as redis-cell replies them: truncated toward zero,
/// plus one when at least a millisecond is left over.
fn reply_seconds(ns: i64) -> i64 {
    ns / NS_PER_S + i64::from((ns % NS_PER_S) / 1_000_000 > 0)
}

/// One `CL.THROTTLE` at `now_ns` against the stored TAT (`None`: no key).
///
/// On success returns the reply and, when the key must be written, `(new_tat_ns, ttl_ns)`:
/// store `new_tat_ns` as a decimal string with a TTL of `ttl_ns / 1_000_000` whole
/// milliseconds (redis-cell truncates; 0 means the key is gone at once). A limited request
/// writes nothing. Quantity 0 peeks but, as in redis-cell, still rewrites the key.
pub fn throttle(
    tat: Option<i64>,
    max_burst: i64,
    count: i64,
    period_s: i64,
    quantity: i64,
    now_ns: i64,
) -> Result<(CellReply, Option<(i64, i64)>), CellError> {
    use CellError::{Negative, OutOfRange, TooFast, UpdateFailed, ZeroRate};
    if count == 0 || period_s == 0 {
        return Err(ZeroRate);
    }
    if max_burst < 0 || count < 0 || period_s < 0 || quantity < 0 {
        return Err(Negative);
    }
    let limit = max_burst.checked_add(1).ok_or(OutOfRange)?;
    let period_ns = period_s.checked_mul(NS_PER_S).ok_or(OutOfRange)?;
    // f64 and truncation are redis-cell's; both operands are positive here.
    let emission = (period_ns as f64 / count as f64) as i64;
    if emission == 0 {
        return Err(ZeroRate);
    }
    if emission < 1_000 {
        return Err(TooFast);
    }
    let tolerance = emission.checked_mul(limit).ok_or(OutOfRange)?;
    let increment = emission.checked_mul(quantity).ok_or(OutOfRange)?;
    // redis-cell reads a stored -1 as "no key".
    let tat_ns = match tat {
        None | Some(-1) => now_ns,
        Some(t) => t,
    };
    let new_tat = tat_ns
        .max(now_ns)
        .checked_add(increment)
        .ok_or(OutOfRange)?;
    let allow_at = new_tat.checked_sub(tolerance).ok_or(OutOfRange)?;
    let diff = now_ns.checked_sub(allow_at).ok_or(OutOfRange)?;
    let limited = diff < 0;
    let (retry_ns, ttl) = if limited {
        let retry = if increment <= tolerance {
            diff.checked_neg().ok_or(OutOfRange)?
        } else {
            -NS_PER_S
        };
        (retry, tat_ns.checked_sub(now_ns).ok_or(OutOfRange)?)
    } else {
        if tat == Some(-1) {
            // Its compare-and-swap expects "no key", finds "-1", and gives up.
            return Err(UpdateFailed);
        }
        (-NS_PER_S, new_tat.checked_sub(now_ns).ok_or(OutOfRange)?)
    };
    let next = tolerance.checked_sub(ttl).ok_or(OutOfRange)?;
    let remaining = if next > -emission {
        ((next / 1_000) as f64 / (emission / 1_000) as f64) as i64
    } else {
        0
    };
    let reply = CellReply {
        limited,
        limit,
        remaining,
        retry_after_s: reply_seconds(retry_ns),
        reset_after_s: reply_seconds(ttl),
    };
    Ok((reply, (!limited).then_some((new_tat, ttl))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The injected clock of the comparison runs (2023-11-14T22:13:20Z).
    const T0: i64 = 1_700_000_000_000_000_000;

    type Row = (
        i64,
        i64,
        i64,
        i64,
        i64,
        Result<[i64; 5], &'static str>,
        Option<i64>,
    );

    /// Recorded from redis-cell loaded into redis-server 7.0.15 with its clock injected:
    /// per scenario the value stored under the key beforehand, then rows of
    /// (now − T0 ns, max_burst, count, period, quantity, reply, value stored afterwards).
    /// The key never expired within a run, so each row sees the previous row's value.
    #[rustfmt::skip]
    const ORACLE: &[(&str, Option<i64>, &[Row])] = &[
        ("readme", None, &[
            (0, 15, 30, 60, 1, Ok([0, 16, 15, -1, 2]), Some(T0 + 2000000000)),
        ]),
        ("burst_then_refill", None, &[
            (0, 4, 1, 1, 6, Ok([1, 5, 5, -1, 0]), None),
            (0, 4, 1, 1, 1, Ok([0, 5, 4, -1, 1]), Some(T0 + 1000000000)),
            (0, 4, 1, 1, 1, Ok([0, 5, 3, -1, 2]), Some(T0 + 2000000000)),
            (0, 4, 1, 1, 1, Ok([0, 5, 2, -1, 3]), Some(T0 + 3000000000)),
            (0, 4, 1, 1, 1, Ok([0, 5, 1, -1, 4]), Some(T0 + 4000000000)),
            (0, 4, 1, 1, 1, Ok([0, 5, 0, -1, 5]), Some(T0 + 5000000000)),
            (0, 4, 1, 1, 1, Ok([1, 5, 0, 1, 5]), Some(T0 + 5000000000)),
            (3000000000, 4, 1, 1, 1, Ok([0, 5, 2, -1, 3]), Some(T0 + 6000000000)),
            (3100000000, 4, 1, 1, 1, Ok([0, 5, 1, -1, 4]), Some(T0 + 7000000000)),
            (4000000000, 4, 1, 1, 1, Ok([0, 5, 1, -1, 4]), Some(T0 + 8000000000)),
            (8000000000, 4, 1, 1, 1, Ok([0, 5, 4, -1, 1]), Some(T0 + 9000000000)),
            (9500000000, 4, 1, 1, 1, Ok([0, 5, 4, -1, 1]), Some(T0 + 10500000000)),
            (9500000000, 4, 1, 1, 0, Ok([0, 5, 4, -1, 1]), Some(T0 + 10500000000)),
            (9500000000, 4, 1, 1, 2, Ok([0, 5, 2, -1, 3]), Some(T0 + 12500000000)),
            (9500000000, 4, 1, 1, 5, Ok([1, 5, 2, 3, 3]), Some(T0 + 12500000000)),
        ]),
        ("qty_over_burst_fresh", None, &[
            (0, 4, 1, 1, 6, Ok([1, 5, 5, -1, 0]), None),
            (0, 4, 1, 1, 5, Ok([0, 5, 0, -1, 5]), Some(T0 + 5000000000)),
            (0, 4, 1, 1, 6, Ok([1, 5, 0, -1, 5]), Some(T0 + 5000000000)),
        ]),
        ("qty_zero", None, &[
            (0, 15, 30, 60, 1, Ok([0, 16, 15, -1, 2]), Some(T0 + 2000000000)),
            (0, 15, 30, 60, 0, Ok([0, 16, 15, -1, 2]), Some(T0 + 2000000000)),
            (5000000000, 15, 30, 60, 0, Ok([0, 16, 16, -1, 0]), Some(T0 + 5000000000)),
        ]),
        ("fractional_interval", None, &[
            (0, 2, 3, 1, 1, Ok([0, 3, 2, -1, 1]), Some(T0 + 333333333)),
            (1000000, 2, 3, 1, 1, Ok([0, 3, 1, -1, 1]), Some(T0 + 666666666)),
            (2000000, 2, 3, 1, 1, Ok([0, 3, 0, -1, 1]), Some(T0 + 999999999)),
            (3000000, 2, 3, 1, 1, Ok([1, 3, 0, 1, 1]), Some(T0 + 999999999)),
            (333000000, 2, 3, 1, 1, Ok([1, 3, 0, 0, 1]), Some(T0 + 999999999)),
            (334000000, 2, 3, 1, 1, Ok([0, 3, 0, -1, 1]), Some(T0 + 1333333332)),
            (999000000, 2, 3, 1, 1, Ok([0, 3, 0, -1, 1]), Some(T0 + 1666666665)),
            (1500000000, 2, 3, 1, 2, Ok([0, 3, 0, -1, 1]), Some(T0 + 2333333331)),
        ]),
        ("no_burst", None, &[
            (0, 0, 1, 2, 1, Ok([0, 1, 0, -1, 2]), Some(T0 + 2000000000)),
            (1, 0, 1, 2, 1, Ok([1, 1, 0, 2, 2]), Some(T0 + 2000000000)),
            (1999999999, 0, 1, 2, 1, Ok([1, 1, 0, 0, 0]), Some(T0 + 2000000000)),
            (2000000000, 0, 1, 2, 1, Ok([0, 1, 0, -1, 2]), Some(T0 + 4000000000)),
        ]),
        ("sub_ms_not_rounded", None, &[
            (0, 1, 1, 2, 1, Ok([0, 2, 1, -1, 2]), Some(T0 + 2000000000)),
            (1999999600, 1, 1, 2, 1, Ok([0, 2, 0, -1, 2]), Some(T0 + 4000000000)),
            (1999999700, 1, 1, 2, 1, Ok([1, 2, 0, 0, 2]), Some(T0 + 4000000000)),
        ]),
        ("big_burst", None, &[
            (0, 1000, 1000, 60, 1, Ok([0, 1001, 1000, -1, 1]), Some(T0 + 60000000)),
            (0, 1000, 1000, 60, 1, Ok([0, 1001, 999, -1, 1]), Some(T0 + 120000000)),
            (0, 1000, 1000, 60, 500, Ok([0, 1001, 499, -1, 31]), Some(T0 + 30120000000)),
            (0, 1000, 1000, 60, 502, Ok([1, 1001, 499, 1, 31]), Some(T0 + 30120000000)),
        ]),
        ("uneven_count", None, &[
            (0, 10, 7, 60, 3, Ok([0, 11, 8, -1, 26]), Some(T0 + 25714285713)),
            (500000000, 10, 7, 60, 3, Ok([0, 11, 5, -1, 51]), Some(T0 + 51428571426)),
            (8571000000, 10, 7, 60, 3, Ok([0, 11, 2, -1, 69]), Some(T0 + 77142857139)),
            (9000000000, 10, 7, 60, 6, Ok([1, 11, 3, 26, 69]), Some(T0 + 77142857139)),
            (9000000000, 10, 7, 60, 12, Ok([1, 11, 3, -1, 69]), Some(T0 + 77142857139)),
        ]),
        ("one_per_us", None, &[
            (0, 100, 1000000, 1, 1, Ok([0, 101, 100, -1, 0]), Some(T0 + 1000)),
            (0, 100, 1000000, 1, 50, Ok([0, 101, 50, -1, 0]), Some(T0 + 51000)),
            (1000, 100, 1000000, 1, 51, Ok([0, 101, 0, -1, 0]), Some(T0 + 102000)),
        ]),
        ("long_period", None, &[
            (0, 5, 1, 86400, 1, Ok([0, 6, 5, -1, 86400]), Some(T0 + 86400000000000)),
            (0, 5, 1, 86400, 5, Ok([0, 6, 0, -1, 518400]), Some(T0 + 518400000000000)),
            (3600000000000, 5, 1, 86400, 1, Ok([1, 6, 0, 82800, 514800]), Some(T0 + 518400000000000)),
        ]),
        ("stale_tat", Some(T0 + (-5000000000)), &[
            (0, 4, 1, 1, 6, Ok([1, 5, 10, -1, -5]), Some(T0 + -5000000000)),
            (0, 4, 1, 1, 1, Ok([0, 5, 4, -1, 1]), Some(T0 + 1000000000)),
        ]),
        ("future_tat", Some(T0 + (10000000000)), &[
            (0, 4, 1, 1, 1, Ok([1, 5, 0, 6, 10]), Some(T0 + 10000000000)),
            (0, 20, 1, 1, 1, Ok([0, 21, 10, -1, 11]), Some(T0 + 11000000000)),
            (0, 20, 1, 1, 0, Ok([0, 21, 10, -1, 11]), Some(T0 + 11000000000)),
        ]),
        ("stored_minus_one", Some(-1), &[
            (0, 5, 10, 60, 100, Ok([1, 6, 6, -1, 0]), Some(-1)),
            (0, 5, 10, 60, 1, Err("Cell error: Failed to update rate limit after 5 attempts"), Some(-1)),
        ]),
        ("zero_rate", None, &[
            (0, 10, 0, 60, 1, Err("Cell error: Zero rates are not supported"), None),
            (0, 10, 5, 0, 1, Err("Cell error: Zero rates are not supported"), None),
        ]),
        ("negative_zero_rate", None, &[
            (0, -1, 0, 60, 1, Err("Cell error: Zero rates are not supported"), None),
        ]),
        ("count_over_period_ns", None, &[
            (0, 1, 2000000000, 1, 1, Err("Cell error: Zero rates are not supported"), None),
        ]),
    ];

    #[test]
    fn matches_redis_cell() {
        for &(name, pre, rows) in ORACLE {
            let mut stored = pre;
            for (i, &(dt, max_burst, count, period, qty, want, want_stored)) in
                rows.iter().enumerate()
            {
                let got = throttle(stored, max_burst, count, period, qty, T0 + dt);
                let got_reply = got
                    .as_ref()
                    .map(|(r, _)| r.to_array())
                    .map_err(|e| e.to_string());
                assert_eq!(got_reply, want.map_err(str::to_string), "{name} row {i}");
                if let Ok((_, Some((tat, ttl)))) = got {
                    assert_eq!(ttl, tat - (T0 + dt), "{name} row {i}");
                    stored = Some(tat);
                }
                assert_eq!(stored, want_stored, "{name} row {i} stored");
            }
        }
    }

    #[test]
    fn argument_parsing_matches_redis_cell() {
        assert_eq!(parse_arg(b"+5"), Ok(5));
        assert_eq!(parse_arg(b"-7"), Ok(-7));
        for bad in [&b"x"[..], b"1.5", b" 60", b"", b"99999999999999999999"] {
            let text = format!(
                "Cell error: Couldn't parse as integer: {}",
                String::from_utf8_lossy(bad)
            );
            assert_eq!(parse_arg(bad).unwrap_err().to_string(), text);
        }
        // Non-UTF-8 crashed redis-cell's argument decoding; here it is just not an integer.
        assert!(matches!(parse_arg(b"\xff1"), Err(CellError::NotInteger(_))));
        // `CL.THROTTLE k +5 +10 +60 +1` replied 0 6 5 -1 6 on a fresh key.
        let (r, _) = throttle(None, 5, 10, 60, 1, T0).unwrap();
        assert_eq!(r.to_array(), [0, 6, 5, -1, 6]);
        assert_eq!(
            CellError::Usage.to_string(),
            "Cell error: Usage: cl.throttle <key> <max_burst> <count per period> <period> [<quantity>]"
        );
    }

    #[test]
    fn stored_values_that_are_not_integers() {
        // redis-cell 0.3 replied std's parse error text; the build used for the comparison
        // (a new rustc) said "description() is deprecated", and later releases abort.
        let cases: [(&[u8], &str); 4] = [
            (b"abc", "Cell error: invalid digit found in string"),
            (b"", "Cell error: cannot parse integer from empty string"),
            (b"1.5", "Cell error: invalid digit found in string"),
            (
                b"\xff",
                "Cell error: invalid utf-8 sequence of 1 bytes from index 0",
            ),
        ];
        for (value, text) in cases {
            assert_eq!(parse_stored_tat(value).unwrap_err().to_string(), text);
        }
        assert_eq!(
            parse_stored_tat(b"1700000002000000000"),
            Ok(1_700_000_002_000_000_000)
        );
    }

    #[test]
    fn errors_where_redis_cell_misbehaves() {
        // (args, what redis-cell 0.5 did)
        // 2_000_000 per second: T = 500ns is 0µs; the key's TTL rounds to 0ms, so nothing is
        // ever limited; it replied 0 1 0 -1 0 forever.
        assert_eq!(
            throttle(None, 0, 2_000_000, 1, 1, T0),
            Err(CellError::TooFast)
        );
        // Negative quantity refunded the TAT, then failed to set a negative TTL.
        assert_eq!(
            throttle(Some(T0), 5, 10, 60, -3, T0),
            Err(CellError::Negative)
        );
        // Negative max_burst replied a limit of -1.
        assert_eq!(throttle(None, -2, 10, 60, 1, T0), Err(CellError::Negative));
        assert_eq!(throttle(None, 5, -10, -60, 1, T0), Err(CellError::Negative));
        // τ = 86400s × 1e9 wrapped around i64 and limited a fresh key (1 1000000001 0 -1 0).
        assert_eq!(
            throttle(None, 1_000_000_000, 1, 86_400, 1, T0),
            Err(CellError::OutOfRange)
        );
        // Periods past i64 nanoseconds and instants past year 2262 panicked in the time crate.
        assert_eq!(
            throttle(None, 1, 1, i64::MAX, 1, T0),
            Err(CellError::OutOfRange)
        );
        assert_eq!(
            throttle(None, i64::MAX, 1, 1, 1, T0),
            Err(CellError::OutOfRange)
        );
        assert_eq!(
            throttle(Some(i64::MAX - 1), 5, 1, 1, 1, T0),
            Err(CellError::OutOfRange)
        );
        assert_eq!(
            throttle(None, 5, 1, 1, i64::MAX, T0),
            Err(CellError::OutOfRange)
        );
    }

    #[test]
    fn extreme_inputs_never_panic() {
        let vals = [
            i64::MIN,
            -1_000_000_000,
            -1,
            0,
            1,
            2,
            999,
            1_000_000_000,
            i64::MAX,
        ];
        for &a in &vals {
            for &b in &vals {
                for &c in &vals {
                    for &now in &[i64::MIN, 0, T0, i64::MAX] {
                        let _ = throttle(Some(a), b, c, 1, 1, now);
                        let _ = throttle(None, a, b, c, 1, now);
                        let _ = throttle(Some(now), 1, a, b, c, now);
                    }
                }
            }
        }
    }
}
