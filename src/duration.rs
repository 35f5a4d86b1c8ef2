//! Durations as tollgate spells them everywhere: an integer with an optional unit (`1500ms`, `60`, `10m`, `1d`).
//!
//! One parser serves command arguments (`RL.CHECK ... 1m`, `TTL 30m`), the config file and the
//! command line, so `10m` means the same thing wherever a user types it.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The largest duration we accept, in milliseconds. Capped at `i64::MAX` so every duration also
/// fits the signed millisecond clocks that Redis-style expiry arithmetic uses.
pub const MAX_DURATION_MS: u64 = i64::MAX as u64;

const MS_PER_SECOND: u64 = 1_000;
const MS_PER_MINUTE: u64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: u64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: u64 = 24 * MS_PER_HOUR;

/// Parses `<digits>[ms|s|m|h|d]` (unit case-insensitive; no unit = seconds) into milliseconds.
///
/// Rejects empty input, signs, spaces, fractions, unknown units and anything that overflows
/// (or exceeds [`MAX_DURATION_MS`]). `0` is allowed: where a TTL is allowed it means "never".
pub fn parse_duration_ms(s: &[u8]) -> Option<u64> {
    let digits_end = s
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    if digits_end == 0 {
        return None;
    }
    let (digits, unit) = s.split_at(digits_end);
    let multiplier = match unit.to_ascii_lowercase().as_slice() {
        b"" | b"s" => MS_PER_SECOND,
        b"ms" => 1,
        b"m" => MS_PER_MINUTE,
        b"h" => MS_PER_HOUR,
        b"d" => MS_PER_DAY,
        _ => return None,
    };
    let mut value: u64 = 0;
    for &d in digits {
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    let ms = value.checked_mul(multiplier)?;
    (ms <= MAX_DURATION_MS).then_some(ms)
}

/// Formats milliseconds in the shortest exact form that [`parse_duration_ms`] reads back:
/// the largest unit that divides the value (`1500ms`, `60000` → `1m`, `86400000` → `1d`), `0` for zero.
pub fn format_duration_ms(ms: u64) -> String {
    if ms == 0 {
        return "0".to_string();
    }
    const UNITS: [(u64, &str); 5] = [
        (MS_PER_DAY, "d"),
        (MS_PER_HOUR, "h"),
        (MS_PER_MINUTE, "m"),
        (MS_PER_SECOND, "s"),
        (1, "ms"),
    ];
    for (size, unit) in UNITS {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    // Unreachable: every value is a multiple of 1ms. Kept total so no panic path exists.
    format!("{ms}ms")
}

/// A duration in milliseconds as written in config files.
///
/// Deserializes from a TOML integer (seconds, as in Redis configs) or a string with a unit
/// (`"10m"`); serializes as the shortest string form so a dumped config reads like the shipped one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DurationMs(pub u64);

impl DurationMs {
    /// From whole seconds; saturates at [`MAX_DURATION_MS`] so constants cannot overflow.
    pub const fn from_secs(secs: u64) -> Self {
        let ms = secs.saturating_mul(MS_PER_SECOND);
        DurationMs(if ms > MAX_DURATION_MS {
            MAX_DURATION_MS
        } else {
            ms
        })
    }

    /// From whole minutes (used by the built-in defaults).
    pub const fn from_mins(mins: u64) -> Self {
        Self::from_secs(mins.saturating_mul(60))
    }

    /// From whole hours (used by the built-in defaults).
    pub const fn from_hours(hours: u64) -> Self {
        Self::from_secs(hours.saturating_mul(3_600))
    }

    /// Milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// As a `std::time::Duration`.
    pub const fn as_duration(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }

    /// `0`, which means "never expires" wherever a TTL is allowed.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for DurationMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration_ms(self.0))
    }
}

impl std::str::FromStr for DurationMs {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration_ms(s.as_bytes()).map(DurationMs).ok_or_else(|| {
            format!("invalid duration '{s}': expected an integer with an optional unit ms, s, m, h or d (e.g. 1500ms, 60, 10m, 1d)")
        })
    }
}

impl Serialize for DurationMs {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration_ms(self.0))
    }
}

impl<'de> Deserialize<'de> for DurationMs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

impl DurationVisitor {
    fn from_secs<E: de::Error>(secs: u64) -> Result<DurationMs, E> {
        secs.checked_mul(MS_PER_SECOND)
            .filter(|ms| *ms <= MAX_DURATION_MS)
            .map(DurationMs)
            .ok_or_else(|| E::custom(format!("duration of {secs} seconds is too large")))
    }
}

impl Visitor<'_> for DurationVisitor {
    type Value = DurationMs;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration: an integer number of seconds or a string such as \"1500ms\", \"60s\", \"10m\", \"24h\", \"1d\"")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationMs, E> {
        Self::from_secs(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationMs, E> {
        let secs = u64::try_from(v)
            .map_err(|_| E::custom(format!("duration must not be negative, got {v}")))?;
        Self::from_secs(secs)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationMs, E> {
        v.parse().map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let cases: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("60", Some(60_000)),
            ("1500ms", Some(1_500)),
            ("1500MS", Some(1_500)),
            ("1500Ms", Some(1_500)),
            ("60s", Some(60_000)),
            ("60S", Some(60_000)),
            ("10m", Some(600_000)),
            ("10M", Some(600_000)),
            ("2h", Some(7_200_000)),
            ("1d", Some(86_400_000)),
            ("1D", Some(86_400_000)),
            ("0ms", Some(0)),
            ("007", Some(7_000)),
            ("9223372036854775807ms", Some(i64::MAX as u64)),
            // rejected
            ("", None),
            ("ms", None),
            ("s", None),
            ("-1", None),
            ("+1", None),
            (" 1", None),
            ("1 ", None),
            ("1 s", None),
            ("1.5", None),
            ("1.5s", None),
            ("1e3", None),
            ("10sec", None),
            ("1w", None),
            ("1mss", None),
            ("9223372036854775808ms", None),
            ("18446744073709551616ms", None),
            ("18446744073709551615", None),
            ("106751991167301d", None),
            ("99999999999999999999999999", None),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_duration_ms(input.as_bytes()),
                *want,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn format_table() {
        let cases: &[(u64, &str)] = &[
            (0, "0"),
            (1, "1ms"),
            (1_500, "1500ms"),
            (1_000, "1s"),
            (59_000, "59s"),
            (60_000, "1m"),
            (90_000, "90s"),
            (3_600_000, "1h"),
            (5_400_000, "90m"),
            (86_400_000, "1d"),
            (172_800_000, "2d"),
            (90_000_000, "25h"),
        ];
        for (ms, want) in cases {
            assert_eq!(format_duration_ms(*ms), *want, "ms {ms}");
        }
    }

    #[test]
    fn format_round_trips() {
        for ms in [
            0,
            1,
            999,
            1_000,
            61_000,
            3_599_999,
            86_400_000,
            i64::MAX as u64,
        ] {
            assert_eq!(
                parse_duration_ms(format_duration_ms(ms).as_bytes()),
                Some(ms)
            );
        }
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Holder {
        d: DurationMs,
    }

    #[test]
    fn serde_table() {
        let cases: &[(&str, Option<u64>)] = &[
            ("d = 60", Some(60_000)),
            ("d = 0", Some(0)),
            ("d = \"60\"", Some(60_000)),
            ("d = \"10m\"", Some(600_000)),
            ("d = \"1500ms\"", Some(1_500)),
            ("d = -1", None),
            ("d = 1.5", None),
            ("d = \"1.5s\"", None),
            ("d = true", None),
            ("d = 9223372036854775807", None),
        ];
        for (input, want) in cases {
            let got = toml::from_str::<Holder>(input).ok().map(|h| h.d.0);
            assert_eq!(got, *want, "input {input:?}");
        }
    }

    #[test]
    fn serializes_as_shortest_string() {
        let text = toml::to_string(&Holder {
            d: DurationMs(600_000),
        })
        .unwrap();
        assert_eq!(text.trim(), "d = \"10m\"");
        let back: Holder = toml::from_str(&text).unwrap();
        assert_eq!(back.d, DurationMs(600_000));
    }

    #[test]
    fn const_constructors() {
        assert_eq!(DurationMs::from_secs(1), DurationMs(1_000));
        assert_eq!(DurationMs::from_mins(10), DurationMs(600_000));
        assert_eq!(DurationMs::from_hours(24), DurationMs(86_400_000));
        assert_eq!(DurationMs::from_secs(u64::MAX), DurationMs(MAX_DURATION_MS));
        assert_eq!(DurationMs(1_500).to_string(), "1500ms");
        assert_eq!("1d".parse::<DurationMs>(), Ok(DurationMs(86_400_000)));
        assert!("x".parse::<DurationMs>().is_err());
    }
}
