//! The value of `client-output-buffer-limit`: a hard limit, a soft limit and its seconds for
//! each of Redis's client classes, read and printed exactly as Redis 7.0 does.
//!
//! A value names any of the classes (`pubsub 32mb 8mb 60`) and changes only those: CONFIG SET,
//! the flag, the variable and the file all update the current limits, as Redis's
//! `updateClientOutputBufferLimit` does for CONFIG SET and each `client-output-buffer-limit`
//! line of redis.conf. The replica class is stored and reported for compatibility; tollgate
//! has no replicas.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::declare::SettingValue;

/// Redis's texts for a value that does not parse (what follows `- ` in the CONFIG SET error).
const WRONG_COUNT: &str = "Wrong number of arguments in buffer limit configuration.";
const BAD_CLASS: &str = "Invalid client class specified in buffer limit configuration.";
const BAD_NUMBER: &str =
    "Error in hard, soft or soft_seconds setting in buffer limit configuration.";

/// Which limits apply to a client (Redis's `getClientType`, masters excepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientClass {
    Normal,
    Replica,
    Pubsub,
}

impl ClientClass {
    /// Redis's name of the class, as CONFIG GET prints it.
    pub const fn name(self) -> &'static str {
        match self {
            ClientClass::Normal => "normal",
            ClientClass::Replica => "slave",
            ClientClass::Pubsub => "pubsub",
        }
    }

    /// `getClientTypeByName`, less `master`, which CONFIG SET refuses.
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "normal" => Some(ClientClass::Normal),
            "slave" | "replica" => Some(ClientClass::Replica),
            "pubsub" => Some(ClientClass::Pubsub),
            _ => None,
        }
    }
}

/// One class's limits on the output a client has pending (produced, not yet taken by its
/// socket). 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BufferLimit {
    /// Reaching it closes the client at once.
    pub hard: u64,
    /// Staying at or above it for more than `soft_seconds` closes the client.
    pub soft: u64,
    pub soft_seconds: u32,
}

impl BufferLimit {
    pub const fn new(hard: u64, soft: u64, soft_seconds: u32) -> Self {
        BufferLimit {
            hard,
            soft,
            soft_seconds,
        }
    }
}

/// `client-output-buffer-limit`: the limits of every class, Redis's defaults by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBufferLimits {
    pub normal: BufferLimit,
    pub replica: BufferLimit,
    pub pubsub: BufferLimit,
}

impl Default for OutputBufferLimits {
    /// Redis's: `normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60`.
    fn default() -> Self {
        const MB: u64 = 1024 * 1024;
        OutputBufferLimits {
            normal: BufferLimit::new(0, 0, 0),
            replica: BufferLimit::new(256 * MB, 64 * MB, 60),
            pubsub: BufferLimit::new(32 * MB, 8 * MB, 60),
        }
    }
}

impl OutputBufferLimits {
    const CLASSES: [ClientClass; 3] = [
        ClientClass::Normal,
        ClientClass::Replica,
        ClientClass::Pubsub,
    ];

    /// The limits of `class`.
    pub fn of(&self, class: ClientClass) -> BufferLimit {
        match class {
            ClientClass::Normal => self.normal,
            ClientClass::Replica => self.replica,
            ClientClass::Pubsub => self.pubsub,
        }
    }

    fn of_mut(&mut self, class: ClientClass) -> &mut BufferLimit {
        match class {
            ClientClass::Normal => &mut self.normal,
            ClientClass::Replica => &mut self.replica,
            ClientClass::Pubsub => &mut self.pubsub,
        }
    }

    /// These limits with the classes `value` names changed, or Redis's error text. `value`
    /// splits on single spaces, as CONFIG SET splits it (two spaces make an empty argument,
    /// hence a wrong count); "" changes nothing. All or nothing: one bad class, nothing is set.
    pub fn updated(&self, value: &str) -> Result<Self, String> {
        let args: Vec<&str> = if value.is_empty() {
            Vec::new()
        } else {
            value.split(' ').collect()
        };
        if args.len() % 4 != 0 {
            return Err(WRONG_COUNT.to_string());
        }
        let mut next = *self;
        for group in args.chunks_exact(4) {
            let class = ClientClass::parse(group[0]).ok_or_else(|| BAD_CLASS.to_string())?;
            let hard = memtoull(group[1]);
            let soft = memtoull(group[2]);
            let secs = soft_seconds(group[3]);
            let (Some(hard), Some(soft), Some(soft_seconds)) = (hard, soft, secs) else {
                return Err(BAD_NUMBER.to_string());
            };
            *next.of_mut(class) = BufferLimit::new(hard, soft, soft_seconds);
        }
        Ok(next)
    }

    /// The value with sizes in their largest whole unit (`slave 256mb 64mb 60`), for the
    /// file and `--help`.
    fn to_units(self) -> String {
        self.join(|n| super::ByteSize(n).to_help())
    }

    fn join(self, size: impl Fn(u64) -> String) -> String {
        Self::CLASSES
            .iter()
            .map(|&c| {
                let l = self.of(c);
                format!(
                    "{} {} {} {}",
                    c.name(),
                    size(l.hard),
                    size(l.soft),
                    l.soft_seconds
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for OutputBufferLimits {
    /// CONFIG GET's text: every class, sizes in bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.join(|n| n.to_string()))
    }
}

/// Redis 7.0's `memtoull`: digits (at least none: "" is 0) and an optional unit `b`, `k`,
/// `kb`, `m`, `mb`, `g`, `gb`, any case. Like Redis, the digits saturate at `u64::MAX` and the
/// unit's multiplication wraps, so that CONFIG GET answers what Redis answers for any value.
fn memtoull(s: &str) -> Option<u64> {
    let end = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    let (digits, unit) = s.split_at(end);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1_000,
        "kb" => 1_024,
        "m" => 1_000_000,
        "mb" => 1_024 * 1_024,
        "g" => 1_000_000_000,
        "gb" => 1_024 * 1_024 * 1_024,
        _ => return None,
    };
    let n = digits.bytes().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some(n.wrapping_mul(mul))
}

/// Redis's reading of the soft seconds: `strtoll` (leading white space, a sign, decimal
/// digits, saturating) into a C `int` (which keeps the low 32 bits), then refused if negative.
/// So `05`, `+5` and `-0` are accepted, and 4294967296 is 0, as in Redis.
fn soft_seconds(s: &str) -> Option<u32> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // strtoll reads nothing from a sign without digits, leaving the sign unparsed.
    if digits.is_empty() && digits.len() != t.len() {
        return None;
    }
    let magnitude = digits.bytes().fold(0i128, |n, d| {
        (n * 10 + i128::from(d - b'0')).min(i128::from(i64::MAX) + 1)
    });
    let signed = if negative { -magnitude } else { magnitude };
    // strtoll saturates at LLONG_MIN and LLONG_MAX.
    let value = signed.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    // The assignment to an int: the low 32 bits, as two's complement.
    let as_int = value as i32;
    u32::try_from(as_int).ok()
}

impl SettingValue for OutputBufferLimits {
    const VALUE_NAME: &'static str = "LIMITS";

    /// A flag or variable on its own: the named classes over Redis's defaults.
    fn from_flag(s: &str) -> Result<Self, String> {
        Self::default().updated(s)
    }

    fn to_redis(&self) -> String {
        self.to_string()
    }

    fn from_redis(s: &str, _: Option<(u64, u64)>) -> Result<Self, String> {
        Self::default().updated(s)
    }

    /// CONFIG SET changes the classes it names and keeps the others.
    fn update_from_redis(&self, s: &str, _: Option<(u64, u64)>) -> Result<Self, String> {
        self.updated(s)
    }

    /// So does a flag over the file's value.
    fn update_from_flag(&self, s: &str) -> Result<Self, String> {
        self.updated(s)
    }

    fn to_help(&self) -> String {
        format!("\"{}\"", self.to_units())
    }
}

impl Serialize for OutputBufferLimits {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_units())
    }
}

impl<'de> Deserialize<'de> for OutputBufferLimits {
    /// A string naming some classes; the others keep Redis's defaults.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::default()
            .updated(&text)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(from: &OutputBufferLimits, value: &str) -> Result<String, String> {
        from.updated(value).map(|l| l.to_string())
    }

    #[test]
    fn default_prints_as_redis() {
        assert_eq!(
            OutputBufferLimits::default().to_string(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        assert_eq!(
            OutputBufferLimits::default().to_help(),
            "\"normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60\""
        );
    }

    /// Each line was produced by redis-server 7.0.15 from the defaults (CONFIG SET, then
    /// CONFIG GET; a `-` value is the error text).
    #[test]
    fn config_set_reads_values_as_redis_7_0() {
        let d = OutputBufferLimits::default();
        let tail = "slave 268435456 67108864 60 pubsub 33554432 8388608 60";
        let cases: &[(&str, Result<String, &str>)] = &[
            (
                "normal 1mb 2mb 3",
                Ok(format!("normal 1048576 2097152 3 {tail}")),
            ),
            ("", Ok(d.to_string())),
            (
                "pubsub 32MB 8mb 61 replica 1 2 3",
                Ok("normal 0 0 0 slave 1 2 3 pubsub 33554432 8388608 61".into()),
            ),
            ("NORMAL 1k 1K 0", Ok(format!("normal 1000 1000 0 {tail}"))),
            (
                "normal 1gb 1g 0",
                Ok(format!("normal 1073741824 1000000000 0 {tail}")),
            ),
            ("normal 5B 0 0", Ok(format!("normal 5 0 0 {tail}"))),
            ("normal 0 0 +5", Ok(format!("normal 0 0 5 {tail}"))),
            ("normal 0 0 05", Ok(format!("normal 0 0 5 {tail}"))),
            ("normal 0 0 -0", Ok(format!("normal 0 0 0 {tail}"))),
            ("normal 0 0 ", Ok(format!("normal 0 0 0 {tail}"))),
            ("normal  0 0", Ok(format!("normal 0 0 0 {tail}"))),
            (
                "normal 0 0 2147483647",
                Ok(format!("normal 0 0 2147483647 {tail}")),
            ),
            ("normal 0 0 4294967296", Ok(format!("normal 0 0 0 {tail}"))),
            (
                "normal 0 0 9999999999",
                Ok(format!("normal 0 0 1410065407 {tail}")),
            ),
            ("normal 0 0 -4294967296", Ok(format!("normal 0 0 0 {tail}"))),
            (
                "normal 18446744073709551615 0 0",
                Ok(format!("normal 18446744073709551615 0 0 {tail}")),
            ),
            (
                "normal 18446744073709551616 0 0",
                Ok(format!("normal 18446744073709551615 0 0 {tail}")),
            ),
            (
                "normal 18446744073709551615kb 0 0",
                Ok(format!("normal 18446744073709550592 0 0 {tail}")),
            ),
            (
                "normal 0 0 0 normal 1 1 1",
                Ok(format!("normal 1 1 1 {tail}")),
            ),
            ("master 0 0 0", Err(BAD_CLASS)),
            ("foo 0 0 0", Err(BAD_CLASS)),
            ("normal 0 0", Err(WRONG_COUNT)),
            ("normal  0 0 0", Err(WRONG_COUNT)),
            (" normal 0 0 0", Err(WRONG_COUNT)),
            ("normal 0 0 -1", Err(BAD_NUMBER)),
            ("normal 0 0 1x", Err(BAD_NUMBER)),
            ("normal 0 0 0x10", Err(BAD_NUMBER)),
            ("normal 0 0 2147483648", Err(BAD_NUMBER)),
            ("normal 0 0 -2147483648", Err(BAD_NUMBER)),
            ("normal 0 0 6442450944", Err(BAD_NUMBER)),
            ("normal x 0 0", Err(BAD_NUMBER)),
            ("normal +5 0 0", Err(BAD_NUMBER)),
            ("normal -1 0 0", Err(BAD_NUMBER)),
            ("normal 0 0 0 foo 0 0 0", Err(BAD_CLASS)),
        ];
        for (value, want) in cases {
            let want = want.clone().map_err(str::to_string);
            assert_eq!(set(&d, value), want, "{value:?}");
        }
    }

    #[test]
    fn updates_keep_the_classes_not_named() {
        let a = OutputBufferLimits::default()
            .updated("normal 1mb 0 0")
            .unwrap();
        let b = a.updated("pubsub 1 2 3").unwrap();
        assert_eq!(b.normal, BufferLimit::new(1 << 20, 0, 0));
        assert_eq!(b.pubsub, BufferLimit::new(1, 2, 3));
        assert_eq!(b.replica, OutputBufferLimits::default().replica);
        // A failure changes nothing, whatever came before the bad class.
        assert!(b.updated("normal 5 5 5 master 0 0 0").is_err());
    }

    #[test]
    fn the_file_form_reads_back() {
        let odd = OutputBufferLimits::default()
            .updated("normal 18446744073709551615kb 1500 7")
            .unwrap();
        for l in [OutputBufferLimits::default(), odd] {
            assert_eq!(OutputBufferLimits::default().updated(&l.to_units()), Ok(l));
            assert_eq!(OutputBufferLimits::default().updated(&l.to_string()), Ok(l));
        }
    }
}
