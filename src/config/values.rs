//! The value types of settings: sizes with Redis's units, log levels in both tracing's and
//! Redis's words, and closed sets of names (eviction policies, log formats).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Defines a closed set of names with case-insensitive parsing (as Redis treats enum configs),
/// string (de)serialization and the list of names in Redis's error-message order.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $( $(#[$vmeta])* $variant, )+ }

        impl $name {
            /// Every accepted name, in the order error messages list them.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The canonical (lower-case) name.
            pub const fn as_str(self) -> &'static str {
                match self { $( Self::$variant => $text, )+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                $( if s.eq_ignore_ascii_case($text) { return Ok(Self::$variant); } )+
                Err($crate::config::values::unknown_name(s, Self::NAMES))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(super) use named_enum;

pub(crate) fn unknown_name(got: &str, names: &[&str]) -> String {
    format!(
        "unknown value '{got}', expected one of: {}",
        names.join(", ")
    )
}

named_enum! {
    /// What to do when `maxmemory` is reached: Redis's eight policies, same names, same meaning.
    /// Rate-limit state is never evicted whatever the policy.
    #[derive(Default)]
    pub enum MaxmemoryPolicy {
        VolatileLru = "volatile-lru",
        VolatileLfu = "volatile-lfu",
        VolatileRandom = "volatile-random",
        VolatileTtl = "volatile-ttl",
        AllkeysLru = "allkeys-lru",
        AllkeysLfu = "allkeys-lfu",
        AllkeysRandom = "allkeys-random",
        #[default]
        Noeviction = "noeviction",
    }
}

named_enum! {
    /// Log line format.
    #[derive(Default)]
    pub enum LogFormat {
        #[default]
        Text = "text",
        Json = "json",
    }
}

/// Log verbosity, as a `tracing` level.
///
/// Both vocabularies are accepted because operators arrive from both sides: tracing's
/// `trace|debug|info|warn|error` and Redis's `debug|verbose|notice|warning`. `debug` is spelled
/// the same in both and means tracing's DEBUG; `verbose` maps to DEBUG, `notice` to INFO and
/// `warning` to WARN. The canonical name (what `CONFIG GET loglevel` answers) is tracing's,
/// and it is what `tracing_subscriber::EnvFilter` and `tracing::Level::from_str` accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum LogLevel {
    Trace,
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

impl LogLevel {
    /// Every accepted spelling, tracing's first.
    pub const NAMES: &'static [&'static str] = &[
        "trace", "debug", "verbose", "info", "notice", "warn", "warning", "error",
    ];

    /// The tracing name (`"info"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl std::str::FromStr for LogLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let level = match s.to_ascii_lowercase().as_str() {
            "trace" => LogLevel::Trace,
            "debug" | "verbose" => LogLevel::Debug,
            "info" | "notice" => LogLevel::Info,
            "warn" | "warning" => LogLevel::Warn,
            "error" => LogLevel::Error,
            _ => return Err(unknown_name(s, Self::NAMES)),
        };
        Ok(level)
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for LogLevel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(de::Error::custom)
    }
}

/// Parses a Redis memory value: digits with an optional unit `b`, `k` (1000), `kb` (1024),
/// `m`, `mb`, `g`, `gb`, case-insensitive, exactly like Redis's `memtoull` (so `""` and a bare
/// unit are 0), except that values beyond `u64::MAX` are refused where Redis saturates.
pub fn parse_memory(s: &[u8]) -> Option<u64> {
    let digits_end = s
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    let (digits, unit) = s.split_at(digits_end);
    let multiplier: u64 = match unit.to_ascii_lowercase().as_slice() {
        b"" | b"b" => 1,
        b"k" => 1_000,
        b"kb" => 1_024,
        b"m" => 1_000_000,
        b"mb" => 1_024 * 1_024,
        b"g" => 1_000_000_000,
        b"gb" => 1_024 * 1_024 * 1_024,
        _ => return None,
    };
    let mut value: u64 = 0;
    for &d in digits {
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    value.checked_mul(multiplier)
}

/// A size in bytes. In the file: an integer (bytes) or a Redis memory string (`"512mb"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// `n` KiB.
    pub const fn kib(n: u64) -> Self {
        ByteSize(n * 1024)
    }
    /// `n` MiB.
    pub const fn mib(n: u64) -> Self {
        ByteSize(n * 1024 * 1024)
    }
    /// `n` GiB.
    pub const fn gib(n: u64) -> Self {
        ByteSize(n * 1024 * 1024 * 1024)
    }
}

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_memory(s.as_bytes()).map(ByteSize).ok_or_else(|| {
            format!("invalid size '{s}': expected bytes with an optional unit b, k, kb, m, mb, g, gb (e.g. 100mb)")
        })
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // TOML integers are i64; larger sizes (only maxmemory can be) go out as a string.
        match i64::try_from(self.0) {
            Ok(n) => s.serialize_i64(n),
            Err(_) => s.serialize_str(&self.0.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a size: an integer number of bytes or a string such as \"100mb\" or \"1gb\"",
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("size must not be negative, got {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Redis's `save` points: snapshot when at least `changes` writes happened within `secs`
/// seconds of the last save. Empty: no automatic snapshots (and no save at shutdown unless
/// `SHUTDOWN SAVE` asks). Written as Redis writes it: `"3600 1 300 100 60 10000"`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SavePoints(pub Vec<(u64, u64)>);

/// Redis's text for a `save` value it cannot parse.
pub const INVALID_SAVE: &str = "Invalid save parameters";

impl SavePoints {
    /// Redis's default: after an hour with one change, 5 minutes with 100, a minute with 10000.
    pub fn redis_default() -> SavePoints {
        SavePoints(vec![(3600, 1), (300, 100), (60, 10_000)])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses as Redis 7.0's `CONFIG SET save`: pairs of integers separated by single spaces
    /// (each read by strtoll: optional leading whitespace and sign, digits, saturating on
    /// overflow; an empty one is 0), seconds at least 1, changes at least 0; `""` turns
    /// snapshots off.
    pub fn parse(s: &str) -> Result<SavePoints, String> {
        if s.is_empty() {
            return Ok(SavePoints::default());
        }
        let words: Vec<&str> = s.split(' ').collect();
        if words.len() % 2 != 0 {
            return Err(INVALID_SAVE.to_string());
        }
        let mut points = Vec::with_capacity(words.len() / 2);
        for pair in words.chunks_exact(2) {
            match (strtoll(pair[0]), strtoll(pair[1])) {
                (Some(secs), Some(changes)) if secs >= 1 && changes >= 0 => {
                    points.push((secs as u64, changes as u64))
                }
                _ => return Err(INVALID_SAVE.to_string()),
            }
        }
        Ok(SavePoints(points))
    }
}

/// C's `strtoll` over a whole word: `None` unless it converts to the end (the empty word is
/// 0, as Redis's check `*eptr == '\0'` lets it through).
fn strtoll(w: &str) -> Option<i64> {
    if w.is_empty() {
        return Some(0);
    }
    let t = w.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Saturates as strtoll does (ERANGE is not checked by Redis).
    let v = digits.bytes().fold(0i64, |acc, d| {
        acc.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    Some(if neg { v.saturating_neg() } else { v })
}

impl fmt::Display for SavePoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (secs, changes)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{secs} {changes}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for SavePoints {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        SavePoints::parse(s).map_err(|_| {
            format!(
                "'{s}' is not a list of \"<seconds> <changes>\" pairs (seconds at least 1), \
                 e.g. \"3600 1 300 100 60 10000\", or \"\" for none"
            )
        })
    }
}

impl Serialize for SavePoints {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for SavePoints {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_values_like_redis() {
        let cases: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("100", Some(100)),
            ("5b", Some(5)),
            ("1k", Some(1_000)),
            ("1K", Some(1_000)),
            ("1kb", Some(1_024)),
            ("1KB", Some(1_024)),
            ("100mb", Some(100 * 1024 * 1024)),
            ("100m", Some(100_000_000)),
            ("1gb", Some(1 << 30)),
            ("2g", Some(2_000_000_000)),
            ("010", Some(10)),
            ("", Some(0)),
            ("kb", Some(0)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("18446744073709551615kb", None),
            ("-1", None),
            ("+1", None),
            ("1.5mb", None),
            ("1 mb", None),
            ("1tb", None),
            ("10x", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_memory(input.as_bytes()), *want, "input {input:?}");
        }
    }

    #[test]
    fn log_levels_accept_both_vocabularies() {
        let cases: &[(&str, LogLevel)] = &[
            ("trace", LogLevel::Trace),
            ("debug", LogLevel::Debug),
            ("verbose", LogLevel::Debug),
            ("info", LogLevel::Info),
            ("notice", LogLevel::Info),
            ("NOTICE", LogLevel::Info),
            ("warn", LogLevel::Warn),
            ("warning", LogLevel::Warn),
            ("error", LogLevel::Error),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<LogLevel>(), Ok(*want), "{input}");
        }
        assert!("loud".parse::<LogLevel>().is_err());
    }
}
