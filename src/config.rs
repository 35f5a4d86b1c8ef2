//! tollgate's configuration: one serde struct per TOML section, the command line, and CONFIG GET/SET.
//!
//! Layers, later wins: the built-in defaults ([`Config::default`], identical to the shipped
//! `config/tollgate.toml`, which a test checks), then the file given with `--config`, then
//! `TOLLGATE_*` environment variables, then flags. Clap resolves the last two into [`Cli`]
//! (a flag beats its variable); [`load`] applies the rest and validates once at the end, so a
//! bad value is reported with its field name whichever layer it came from.
//!
//! Named tables (`[ratelimit.policies.*]`) merge with the built-in ones by name: an entry in the
//! file replaces the built-in entry of the same name and the built-ins it does not mention stay,
//! so a short file that adds one policy does not silently drop the seeds' policies.
//!
//! Only settings of features that exist are accepted: a section this version does not know
//! (such as one written for a later version) is an error that names it.
//!
//! Redis names: every scalar setting answers `CONFIG GET` under its Redis name (or a
//! `tollgate-*` name where Redis has none), with Redis's formatting and, for `CONFIG SET`,
//! Redis 7.0's error texts (checked against `redis-server` 7.0.15).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::duration::DurationMs;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The `--config` file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the schema (unknown key, wrong type).
    /// toml's message carries the line, the column and the offending key.
    #[error("invalid config {origin}: {source}")]
    Parse {
        origin: String,
        #[source]
        source: Box<toml::de::Error>,
    },
    /// The file has a section this version of tollgate does not know, e.g. one written for a
    /// later version. Checked before the schema so the message names the section plainly.
    #[error(
        "invalid config {origin}: section [{section}] is not supported by this version of tollgate \
         (its sections are {known})"
    )]
    UnsupportedSection {
        origin: String,
        section: String,
        known: String,
    },
    /// A value has the right type but is out of range or inconsistent with another setting.
    #[error("invalid value for `{field}`: {message}")]
    Invalid { field: String, message: String },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Small value types
// ---------------------------------------------------------------------------------------------

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
                Err(unknown_name(s, Self::NAMES))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(de::Error::custom)
            }
        }
    };
}

fn unknown_name(got: &str, names: &[&str]) -> String {
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

named_enum! {
    /// Rate-limit algorithm of a policy (the `ALGO` argument of `RL.CHECK`).
    #[derive(Default)]
    pub enum Algo {
        #[default]
        Gcra = "gcra",
        TokenBucket = "token-bucket",
        SlidingWindow = "sliding-window",
        FixedWindow = "fixed-window",
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

// ---------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------

/// The whole configuration. `Config::default()` is exactly what `config/tollgate.toml` says.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[server]`: listener, clients, authentication, threads.
    pub server: ServerConfig,
    /// `[limits]`: protocol limits, as Redis enforces them.
    pub limits: LimitsConfig,
    /// `[store]`: memory limit, eviction and active expiry.
    pub store: StoreConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// `[ratelimit]`: named policies for `RL.CHECK ... POLICY <name>`.
    pub ratelimit: RateLimitConfig,
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Addresses to listen on, space-separated IPs. Default `"127.0.0.1"`. [bind]
    pub bind: String,
    /// TCP port. Default 6379; 0 lets the OS pick one (tests). [port]
    pub port: u16,
    /// Number of databases for `SELECT`. Default 16. [databases]
    pub databases: u32,
    /// Maximum simultaneous clients; more get `-ERR max number of clients reached`.
    /// Default 10000. [maxclients]
    pub maxclients: u32,
    /// Close a client idle for this many seconds; 0 = never. Default 0. [timeout]
    pub timeout: u32,
    /// Password for `AUTH`; empty = no password. Default `""`. [requirepass]
    pub requirepass: String,
    /// Redis's protected mode: while on and no password is set, connections from non-loopback
    /// addresses are refused with `-DENIED`. Default true. [protected-mode]
    pub protected_mode: bool,
    /// TCP keepalive interval in seconds; 0 = off. Default 300. [tcp-keepalive]
    pub tcp_keepalive: u32,
    /// Keyspace shards per database, a power of two (keys map to shards by hash mask).
    /// Default 16. [tollgate-shards]
    pub shards: u32,
    /// Worker threads; 0 = one per CPU core. Default 0. [tollgate-threads]
    pub threads: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1".to_string(),
            port: 6379,
            databases: 16,
            maxclients: 10_000,
            timeout: 0,
            requirepass: String::new(),
            protected_mode: true,
            tcp_keepalive: 300,
            shards: 16,
            threads: 0,
        }
    }
}

impl ServerConfig {
    /// The `bind` addresses, parsed. Invalid entries are skipped; [`Config::validate`] rejects them first.
    pub fn bind_addrs(&self) -> Vec<IpAddr> {
        self.bind
            .split_whitespace()
            .filter_map(|a| a.parse().ok())
            .collect()
    }

    /// Whether connections from non-loopback addresses must be refused (Redis 7.0's
    /// `protected_mode && default user has no password`; the bind address plays no part).
    pub fn refuses_remote_clients(&self) -> bool {
        self.protected_mode && self.requirepass.is_empty()
    }

    /// Worker threads to start: `threads`, or the number of cores when 0.
    pub fn effective_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n as usize,
        }
    }
}

/// `[limits]`: the protocol limits Redis has, with Redis's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest bulk string a client may send. Default 512 MiB. [proto-max-bulk-len]
    pub proto_max_bulk_len: ByteSize,
    /// Largest unparsed input buffered for one client before it is closed.
    /// Default 1 GiB. [client-query-buffer-limit]
    pub client_query_buffer_limit: ByteSize,
    /// Longest inline command line (`PING` typed in telnet); Redis hard-codes 64 KiB
    /// (`PROTO_INLINE_MAX_SIZE`). Default 64 KiB. [tollgate-inline-max]
    pub inline_max: ByteSize,
    /// Most elements in one multibulk request; Redis hard-codes `INT_MAX`.
    /// Default 2147483647. [tollgate-max-multibulk-len]
    pub max_multibulk_len: u64,
    /// Most elements in a multibulk request before `AUTH` when a password is set; Redis
    /// hard-codes 10 (`Protocol error: unauthenticated multibulk length`).
    /// Default 10. [tollgate-unauth-max-multibulk]
    pub unauth_max_multibulk: u64,
    /// Largest bulk string before `AUTH` when a password is set; Redis hard-codes 16384
    /// (`Protocol error: unauthenticated bulk length`). Default 16384. [tollgate-unauth-max-bulk]
    pub unauth_max_bulk: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            proto_max_bulk_len: ByteSize::mib(512),
            client_query_buffer_limit: ByteSize::gib(1),
            inline_max: ByteSize::kib(64),
            max_multibulk_len: i32::MAX as u64,
            unauth_max_multibulk: 10,
            unauth_max_bulk: 16_384,
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Memory limit in bytes (or `"100mb"`, `"1gb"`); 0 = no limit. Default 0. [maxmemory]
    pub maxmemory: ByteSize,
    /// What gives way at the limit. Default `"noeviction"`. [maxmemory-policy]
    pub maxmemory_policy: MaxmemoryPolicy,
    /// Keys sampled per eviction (approximated LRU/LFU/TTL). Default 5. [maxmemory-samples]
    pub maxmemory_samples: u32,
    /// Background task frequency per second (active expiry), 1..=500. Default 10. [hz]
    pub hz: u32,
    /// How hard the active expiry sweep works, 1..=10, as in Redis. Default 1. [active-expire-effort]
    pub active_expire_effort: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            maxmemory: ByteSize(0),
            maxmemory_policy: MaxmemoryPolicy::Noeviction,
            maxmemory_samples: 5,
            hz: 10,
            active_expire_effort: 1,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Verbosity: `trace|debug|info|warn|error` or Redis's `debug|verbose|notice|warning`.
    /// Default `"info"`. [loglevel]
    pub level: LogLevel,
    /// `"text"` or `"json"`. Default `"text"`. [tollgate-log-format]
    pub format: LogFormat,
}

/// `[ratelimit]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// `[ratelimit.policies.<name>]`. Default: the seeds' `auth`, `ai`, `authenticated`,
    /// `public` and `chat` (see [`RateLimitConfig::default`]).
    pub policies: BTreeMap<String, Policy>,
}

impl Default for RateLimitConfig {
    /// The seeds' policies. The resume builder (seed 002) enforced `auth` 5/min, `ai` 10/min,
    /// `authenticated` 60/min and `public` 30/min all with one Redis sliding window, so all four
    /// keep `sliding-window` (same admissions its users saw); the RAG chatbot (seed 004) ran a
    /// token bucket of 100/min per session, which is `chat`.
    fn default() -> Self {
        let minute = DurationMs::from_mins(1);
        let policy = |limit, algo| Policy {
            limit,
            period: minute,
            burst: None,
            algo,
        };
        let policies = [
            ("auth", policy(5, Algo::SlidingWindow)),
            ("ai", policy(10, Algo::SlidingWindow)),
            ("authenticated", policy(60, Algo::SlidingWindow)),
            ("public", policy(30, Algo::SlidingWindow)),
            ("chat", policy(100, Algo::TokenBucket)),
        ];
        RateLimitConfig {
            policies: policies
                .into_iter()
                .map(|(n, p)| (n.to_string(), p))
                .collect(),
        }
    }
}

impl RateLimitConfig {
    /// The policy called `name`.
    pub fn policy(&self, name: &str) -> Option<&Policy> {
        self.policies.get(name)
    }
}

/// `[ratelimit.policies.<name>]`: `limit` requests per `period`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Requests admitted per `period`, at least 1. Required.
    pub limit: u64,
    /// Length of the period (`"1m"`, or seconds), more than 0. Required.
    pub period: DurationMs,
    /// How many may arrive at once. Default: `limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u64>,
    /// Algorithm. Default `"gcra"`.
    #[serde(default)]
    pub algo: Algo,
}

impl Policy {
    /// `burst`, defaulting to `limit`.
    pub fn burst(&self) -> u64 {
        self.burst.unwrap_or(self.limit)
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing, merging, validation
// ---------------------------------------------------------------------------------------------

impl Config {
    /// Parses a TOML document over the defaults (missing keys keep their default; named tables
    /// merge by name). Does not validate: call [`Config::validate`] after the last layer.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        Self::parse(text, "<string>")
    }

    /// Reads and parses a TOML file, as [`Config::from_toml_str`].
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            unsupported_section(text, origin).unwrap_or_else(|| ConfigError::Parse {
                origin: origin.to_string(),
                source: Box::new(e),
            })
        })?;
        cfg.merge_builtin_tables();
        Ok(cfg)
    }

    /// Adds the built-in policies that the file did not name.
    fn merge_builtin_tables(&mut self) {
        for (name, policy) in RateLimitConfig::default().policies {
            self.ratelimit.policies.entry(name).or_insert(policy);
        }
    }

    /// Checks ranges and cross-references; the error names the offending field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_server()?;
        self.validate_limits()?;
        self.validate_store()?;
        self.validate_ratelimit()
    }

    fn validate_server(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        if s.bind.split_whitespace().next().is_none() {
            return Err(invalid(
                "server.bind",
                "must name at least one address, e.g. \"127.0.0.1\"",
            ));
        }
        for addr in s.bind.split_whitespace() {
            if addr.parse::<IpAddr>().is_err() {
                return Err(invalid(
                    "server.bind",
                    format!("'{addr}' is not an IP address (space-separate several)"),
                ));
            }
        }
        in_range("server.databases", s.databases.into(), 1, INT_MAX)?;
        in_range("server.maxclients", s.maxclients.into(), 1, UINT_MAX)?;
        in_range("server.timeout", s.timeout.into(), 0, INT_MAX)?;
        in_range("server.tcp_keepalive", s.tcp_keepalive.into(), 0, INT_MAX)?;
        if !s.shards.is_power_of_two() || s.shards > MAX_SHARDS {
            return Err(invalid(
                "server.shards",
                format!(
                    "must be a power of two from 1 to {MAX_SHARDS} (keys pick a shard by hash mask), got {}",
                    s.shards
                ),
            ));
        }
        in_range("server.threads", s.threads.into(), 0, MAX_THREADS)
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        in_range(
            "limits.proto_max_bulk_len",
            l.proto_max_bulk_len.0,
            MIB,
            LONG_MAX,
        )?;
        in_range(
            "limits.client_query_buffer_limit",
            l.client_query_buffer_limit.0,
            MIB,
            LONG_MAX,
        )?;
        in_range("limits.inline_max", l.inline_max.0, 1, LONG_MAX)?;
        in_range("limits.max_multibulk_len", l.max_multibulk_len, 1, INT_MAX)?;
        in_range(
            "limits.unauth_max_multibulk",
            l.unauth_max_multibulk,
            1,
            INT_MAX,
        )?;
        in_range("limits.unauth_max_bulk", l.unauth_max_bulk, 1, LONG_MAX)
    }

    fn validate_store(&self) -> Result<(), ConfigError> {
        let s = &self.store;
        in_range(
            "store.maxmemory_samples",
            s.maxmemory_samples.into(),
            1,
            INT_MAX,
        )?;
        // Redis silently clamps hz into 1..=500; a file that asks for more is a mistake worth
        // reporting. CONFIG SET keeps Redis's clamping for compatibility.
        in_range("store.hz", s.hz.into(), HZ_MIN, HZ_MAX)?;
        in_range(
            "store.active_expire_effort",
            s.active_expire_effort.into(),
            1,
            10,
        )
    }

    fn validate_ratelimit(&self) -> Result<(), ConfigError> {
        for (name, p) in &self.ratelimit.policies {
            let field = |f: &str| format!("ratelimit.policies.{name}.{f}");
            check_name(&format!("ratelimit.policies.{name}"), name)?;
            if p.limit == 0 {
                return Err(invalid(field("limit"), "must be at least 1"));
            }
            if p.period.is_zero() {
                return Err(invalid(field("period"), "must be longer than 0"));
            }
            if p.burst == Some(0) {
                return Err(invalid(
                    field("burst"),
                    "must be at least 1 (leave it out to use limit)",
                ));
            }
        }
        Ok(())
    }
}

/// The top-level tables a config file may have.
const SECTIONS: &[&str] = &["server", "limits", "store", "log", "ratelimit"];

/// The error for the first top-level table of `text` that is not a section of this version, if
/// any. Only consulted once parsing failed, so a valid file is parsed once.
fn unsupported_section(text: &str, origin: &str) -> Option<ConfigError> {
    let table: toml::Table = toml::from_str(text).ok()?;
    let (section, _) = table
        .iter()
        .find(|(key, value)| value.is_table() && !SECTIONS.contains(&key.as_str()))?;
    Some(ConfigError::UnsupportedSection {
        origin: origin.to_string(),
        section: section.clone(),
        known: SECTIONS
            .iter()
            .map(|s| format!("[{s}]"))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

const INT_MAX: u64 = i32::MAX as u64;
const UINT_MAX: u64 = u32::MAX as u64;
const LONG_MAX: u64 = i64::MAX as u64;
const MIB: u64 = 1024 * 1024;
const HZ_MIN: u64 = 1;
const HZ_MAX: u64 = 500;
const MAX_SHARDS: u32 = 65_536;
const MAX_THREADS: u64 = 4_096;

fn in_range(field: &str, value: u64, lo: u64, hi: u64) -> Result<(), ConfigError> {
    if value < lo || value > hi {
        return Err(invalid(
            field,
            format!("must be between {lo} and {hi}, got {value}"),
        ));
    }
    Ok(())
}

/// Names travel as command arguments (`POLICY auth`, `PLAN pro_annual`), so they must be
/// typeable: non-empty, no whitespace or control characters.
fn check_name(field: &str, name: &str) -> Result<(), ConfigError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            field,
            format!("name '{name}' must be non-empty without spaces or control characters"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Command line and environment
// ---------------------------------------------------------------------------------------------

/// Command line of `tollgate`. Every option also reads `TOLLGATE_<NAME>` (e.g. `--maxmemory-policy`
/// ↔ `TOLLGATE_MAXMEMORY_POLICY`); a flag beats its variable, and both beat the file.
/// All are optional so that only what was given overrides.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "A Redis-protocol server for rate limiting"
)]
pub struct Cli {
    /// TOML config file; without it tollgate runs on the embedded defaults.
    #[arg(long, env = "TOLLGATE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    // [server]
    /// Addresses to listen on, space-separated [server.bind].
    #[arg(long, env = "TOLLGATE_BIND", value_name = "ADDRS")]
    pub bind: Option<String>,
    /// TCP port, 0 = any free port [server.port].
    #[arg(long, env = "TOLLGATE_PORT")]
    pub port: Option<u16>,
    /// Number of databases [server.databases].
    #[arg(long, env = "TOLLGATE_DATABASES")]
    pub databases: Option<u32>,
    /// Maximum simultaneous clients [server.maxclients].
    #[arg(long, env = "TOLLGATE_MAXCLIENTS")]
    pub maxclients: Option<u32>,
    /// Idle client timeout in seconds, 0 = never [server.timeout].
    #[arg(long, env = "TOLLGATE_TIMEOUT", value_name = "SECONDS")]
    pub timeout: Option<u32>,
    /// Password for AUTH; prefer the variable, flags show in `ps` [server.requirepass].
    #[arg(long, env = "TOLLGATE_REQUIREPASS", hide_env_values = true)]
    pub requirepass: Option<String>,
    /// Refuse non-loopback clients while no password is set [server.protected_mode].
    #[arg(long, env = "TOLLGATE_PROTECTED_MODE", value_name = "yes|no", value_parser = parse_yes_no)]
    pub protected_mode: Option<bool>,
    /// TCP keepalive in seconds, 0 = off [server.tcp_keepalive].
    #[arg(long, env = "TOLLGATE_TCP_KEEPALIVE", value_name = "SECONDS")]
    pub tcp_keepalive: Option<u32>,
    /// Keyspace shards per database, a power of two [server.shards].
    #[arg(long, env = "TOLLGATE_SHARDS")]
    pub shards: Option<u32>,
    /// Worker threads, 0 = one per core [server.threads].
    #[arg(long, env = "TOLLGATE_THREADS")]
    pub threads: Option<u32>,

    // [limits]
    /// Largest bulk string, e.g. 512mb [limits.proto_max_bulk_len].
    #[arg(long, env = "TOLLGATE_PROTO_MAX_BULK_LEN", value_name = "BYTES", value_parser = parse_bytes_arg)]
    pub proto_max_bulk_len: Option<ByteSize>,
    /// Per-client query buffer limit, e.g. 1gb [limits.client_query_buffer_limit].
    #[arg(long, env = "TOLLGATE_CLIENT_QUERY_BUFFER_LIMIT", value_name = "BYTES", value_parser = parse_bytes_arg)]
    pub client_query_buffer_limit: Option<ByteSize>,
    /// Longest inline command, e.g. 64kb [limits.inline_max].
    #[arg(long, env = "TOLLGATE_INLINE_MAX", value_name = "BYTES", value_parser = parse_bytes_arg)]
    pub inline_max: Option<ByteSize>,
    /// Most elements in one multibulk request [limits.max_multibulk_len].
    #[arg(long, env = "TOLLGATE_MAX_MULTIBULK_LEN")]
    pub max_multibulk_len: Option<u64>,
    /// Most elements in a request before AUTH [limits.unauth_max_multibulk].
    #[arg(long, env = "TOLLGATE_UNAUTH_MAX_MULTIBULK")]
    pub unauth_max_multibulk: Option<u64>,
    /// Largest bulk string before AUTH [limits.unauth_max_bulk].
    #[arg(long, env = "TOLLGATE_UNAUTH_MAX_BULK")]
    pub unauth_max_bulk: Option<u64>,

    // [store]
    /// Memory limit, e.g. 100mb, 0 = none [store.maxmemory].
    #[arg(long, env = "TOLLGATE_MAXMEMORY", value_name = "BYTES", value_parser = parse_bytes_arg)]
    pub maxmemory: Option<ByteSize>,
    /// Eviction policy, e.g. allkeys-lru [store.maxmemory_policy].
    #[arg(long, env = "TOLLGATE_MAXMEMORY_POLICY", value_name = "POLICY")]
    pub maxmemory_policy: Option<MaxmemoryPolicy>,
    /// Keys sampled per eviction [store.maxmemory_samples].
    #[arg(long, env = "TOLLGATE_MAXMEMORY_SAMPLES")]
    pub maxmemory_samples: Option<u32>,
    /// Background task frequency, 1..=500 [store.hz].
    #[arg(long, env = "TOLLGATE_HZ")]
    pub hz: Option<u32>,
    /// Active expiry effort, 1..=10 [store.active_expire_effort].
    #[arg(long, env = "TOLLGATE_ACTIVE_EXPIRE_EFFORT")]
    pub active_expire_effort: Option<u32>,

    // [log]
    /// trace|debug|info|warn|error, or Redis's debug|verbose|notice|warning [log.level].
    #[arg(long, env = "TOLLGATE_LOGLEVEL", value_name = "LEVEL")]
    pub loglevel: Option<LogLevel>,
    /// text|json [log.format].
    #[arg(long, env = "TOLLGATE_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
}

fn parse_yes_no(s: &str) -> Result<bool, String> {
    // yes/no as in redis.conf; true/false too, since env files and compose files use them.
    match s.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(format!("expected yes or no, got '{s}'")),
    }
}

fn parse_bytes_arg(s: &str) -> Result<ByteSize, String> {
    s.parse()
}

impl Cli {
    /// Writes every given option over `cfg`.
    pub fn apply_to(&self, cfg: &mut Config) {
        fn set<T: Clone>(slot: &mut T, value: &Option<T>) {
            if let Some(v) = value {
                *slot = v.clone();
            }
        }
        let s = &mut cfg.server;
        set(&mut s.bind, &self.bind);
        set(&mut s.port, &self.port);
        set(&mut s.databases, &self.databases);
        set(&mut s.maxclients, &self.maxclients);
        set(&mut s.timeout, &self.timeout);
        set(&mut s.requirepass, &self.requirepass);
        set(&mut s.protected_mode, &self.protected_mode);
        set(&mut s.tcp_keepalive, &self.tcp_keepalive);
        set(&mut s.shards, &self.shards);
        set(&mut s.threads, &self.threads);
        let l = &mut cfg.limits;
        set(&mut l.proto_max_bulk_len, &self.proto_max_bulk_len);
        set(
            &mut l.client_query_buffer_limit,
            &self.client_query_buffer_limit,
        );
        set(&mut l.inline_max, &self.inline_max);
        set(&mut l.max_multibulk_len, &self.max_multibulk_len);
        set(&mut l.unauth_max_multibulk, &self.unauth_max_multibulk);
        set(&mut l.unauth_max_bulk, &self.unauth_max_bulk);
        let st = &mut cfg.store;
        set(&mut st.maxmemory, &self.maxmemory);
        set(&mut st.maxmemory_policy, &self.maxmemory_policy);
        set(&mut st.maxmemory_samples, &self.maxmemory_samples);
        set(&mut st.hz, &self.hz);
        set(&mut st.active_expire_effort, &self.active_expire_effort);
        set(&mut cfg.log.level, &self.loglevel);
        set(&mut cfg.log.format, &self.log_format);
    }
}

/// Builds the configuration: defaults, then `cli.config` if given, then the environment and
/// flags (already merged by clap into `cli`), then [`Config::validate`].
pub fn load(cli: &Cli) -> Result<Config, ConfigError> {
    let mut cfg = match &cli.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    cli.apply_to(&mut cfg);
    cfg.validate()?;
    Ok(cfg)
}

// ---------------------------------------------------------------------------------------------
// CONFIG GET / CONFIG SET
// ---------------------------------------------------------------------------------------------

/// One `CONFIG GET`/`CONFIG SET` parameter.
pub struct Param {
    /// The name `CONFIG GET` answers (Redis's name, or `tollgate-*`), lower case.
    pub name: &'static str,
    /// The value as Redis prints it: `yes`/`no`, decimal integers, bytes for sizes.
    pub get: fn(&Config) -> String,
    /// `None` for parameters fixed at start-up (`can't set immutable config`). The setter
    /// validates and returns the Redis error fragment that follows `- ` in the reply.
    pub set: Option<Setter>,
}

/// A `CONFIG SET` handler: parses and validates `value`, writes it into the config, or returns
/// the Redis error fragment (see [`config_set_error`]).
pub type Setter = fn(&mut Config, &str) -> Result<(), String>;

impl fmt::Debug for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Param")
            .field("name", &self.name)
            .field("settable", &self.set.is_some())
            .finish()
    }
}

/// Redis's text for a parameter that cannot change at run time.
pub const IMMUTABLE_CONFIG: &str = "can't set immutable config";

/// The full error line for a failed `CONFIG SET`, without the leading `-`, worded as Redis 7.0
/// (`ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be ...`).
pub fn config_set_error(name: &str, msg: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {msg}")
}

/// Redis's text for an unknown parameter in `CONFIG SET`.
pub fn config_set_unknown_error(name: &str) -> String {
    format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
}

/// Every parameter, in a stable order.
pub fn params() -> &'static [Param] {
    PARAMS
}

/// The parameter called `name`, ignoring case as Redis does.
pub fn find_param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// `CONFIG GET <pattern>...`: the matching `(name, value)` pairs, each parameter once.
///
/// As in Redis, an argument without glob characters (`*?[`) is looked up exactly, ignoring
/// case, and answered under the name as the client spelt it; an argument with them is matched
/// against every canonical name with `glob(pattern, name)`, which the caller supplies so that
/// `CONFIG GET` and `KEYS` share one matcher (Redis matches config names case-insensitively).
pub fn config_get(
    cfg: &Config,
    patterns: &[&[u8]],
    glob: impl Fn(&[u8], &[u8]) -> bool,
) -> Vec<(String, String)> {
    let mut seen = vec![false; PARAMS.len()];
    let mut out = Vec::new();
    for pattern in patterns {
        if pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            for (i, p) in PARAMS.iter().enumerate() {
                if !seen[i] && glob(pattern, p.name.as_bytes()) {
                    seen[i] = true;
                    out.push((p.name.to_string(), (p.get)(cfg)));
                }
            }
        } else if let Some(i) = PARAMS
            .iter()
            .position(|p| p.name.as_bytes().eq_ignore_ascii_case(pattern))
        {
            if !seen[i] {
                seen[i] = true;
                out.push((
                    String::from_utf8_lossy(pattern).into_owned(),
                    (PARAMS[i].get)(cfg),
                ));
            }
        }
    }
    out
}

/// `CONFIG SET <name> <value> [<name> <value> ...]`, all or nothing, as Redis 7.0 does it:
/// the first unknown, immutable or duplicate name fails the whole command before anything is
/// set; then the values are applied in order to a copy, and the first invalid one fails it.
/// On success `cfg` holds the new values (compare with a clone to see what changed). The error
/// is the full reply line without the leading `-`.
pub fn config_set(cfg: &mut Config, pairs: &[(&[u8], &[u8])]) -> Result<(), String> {
    let mut chosen: Vec<(&'static Param, &[u8])> = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        let shown = String::from_utf8_lossy(name);
        let Some(param) = std::str::from_utf8(name).ok().and_then(find_param) else {
            return Err(config_set_unknown_error(&shown));
        };
        if param.set.is_none() {
            return Err(config_set_error(&shown, IMMUTABLE_CONFIG));
        }
        if chosen.iter().any(|(p, _)| std::ptr::eq(*p, param)) {
            return Err(config_set_error(&shown, "duplicate parameter"));
        }
        chosen.push((param, value));
    }
    let mut next = cfg.clone();
    for (param, value) in chosen {
        let Some(set) = param.set else { continue };
        let value = std::str::from_utf8(value)
            .map_err(|_| config_set_error(param.name, "argument must be valid UTF-8"))?;
        set(&mut next, value).map_err(|msg| config_set_error(param.name, &msg))?;
    }
    *cfg = next;
    Ok(())
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// Redis's `string2ll`: optional `-`, no `+`, no leading zeros, no spaces, must fit an i64.
fn redis_int(s: &str) -> Result<i64, String> {
    const NOT_INT: &str = "argument couldn't be parsed into an integer";
    let b = s.as_bytes();
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let canonical = match digits {
        [] => false,
        [b'0'] => digits.len() == b.len(), // "0" yes, "-0" no
        [first, rest @ ..] => (b'1'..=b'9').contains(first) && rest.iter().all(u8::is_ascii_digit),
    };
    if !canonical {
        return Err(NOT_INT.to_string());
    }
    s.parse::<i64>().map_err(|_| NOT_INT.to_string())
}

fn bounded(s: &str, lo: i64, hi: i64) -> Result<i64, String> {
    let v = redis_int(s)?;
    if v < lo || v > hi {
        return Err(format!("argument must be between {lo} and {hi} inclusive"));
    }
    Ok(v)
}

fn bounded_u32(s: &str, lo: i64, hi: i64) -> Result<u32, String> {
    let v = bounded(s, lo, hi)?;
    u32::try_from(v).map_err(|_| format!("argument must be between {lo} and {hi} inclusive"))
}

fn memory(s: &str, lo: u64, hi: u64) -> Result<ByteSize, String> {
    let v =
        parse_memory(s.as_bytes()).ok_or_else(|| "argument must be a memory value".to_string())?;
    if v < lo || v > hi {
        return Err(format!("argument must be between {lo} and {hi} inclusive"));
    }
    Ok(ByteSize(v))
}

fn redis_bool(s: &str) -> Result<bool, String> {
    if s.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if s.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err("argument must be 'yes' or 'no'".to_string())
    }
}

fn one_of<T: std::str::FromStr>(s: &str, names: &[&str]) -> Result<T, String> {
    s.parse().map_err(|_| {
        format!(
            "argument(s) must be one of the following: {}",
            names.join(", ")
        )
    })
}

const I32_MAX: i64 = i32::MAX as i64;
const U32_MAX: i64 = u32::MAX as i64;

static PARAMS: &[Param] = &[
    // [server]
    Param {
        name: "bind",
        get: |c| c.server.bind.clone(),
        set: None,
    },
    Param {
        name: "port",
        get: |c| c.server.port.to_string(),
        set: None,
    },
    Param {
        name: "databases",
        get: |c| c.server.databases.to_string(),
        set: None,
    },
    Param {
        name: "maxclients",
        get: |c| c.server.maxclients.to_string(),
        set: Some(|c, v| {
            c.server.maxclients = bounded_u32(v, 1, U32_MAX)?;
            Ok(())
        }),
    },
    Param {
        name: "timeout",
        get: |c| c.server.timeout.to_string(),
        set: Some(|c, v| {
            c.server.timeout = bounded_u32(v, 0, I32_MAX)?;
            Ok(())
        }),
    },
    Param {
        name: "requirepass",
        get: |c| c.server.requirepass.clone(),
        set: Some(|c, v| {
            c.server.requirepass = v.to_string();
            Ok(())
        }),
    },
    Param {
        name: "protected-mode",
        get: |c| yes_no(c.server.protected_mode),
        set: Some(|c, v| {
            c.server.protected_mode = redis_bool(v)?;
            Ok(())
        }),
    },
    Param {
        name: "tcp-keepalive",
        get: |c| c.server.tcp_keepalive.to_string(),
        set: None,
    },
    Param {
        name: "tollgate-shards",
        get: |c| c.server.shards.to_string(),
        set: None,
    },
    Param {
        name: "tollgate-threads",
        get: |c| c.server.threads.to_string(),
        set: None,
    },
    // [limits]
    Param {
        name: "proto-max-bulk-len",
        get: |c| c.limits.proto_max_bulk_len.0.to_string(),
        set: Some(|c, v| {
            c.limits.proto_max_bulk_len = memory(v, MIB, LONG_MAX)?;
            Ok(())
        }),
    },
    Param {
        name: "client-query-buffer-limit",
        get: |c| c.limits.client_query_buffer_limit.0.to_string(),
        set: Some(|c, v| {
            c.limits.client_query_buffer_limit = memory(v, MIB, LONG_MAX)?;
            Ok(())
        }),
    },
    Param {
        name: "tollgate-inline-max",
        get: |c| c.limits.inline_max.0.to_string(),
        set: None,
    },
    Param {
        name: "tollgate-max-multibulk-len",
        get: |c| c.limits.max_multibulk_len.to_string(),
        set: None,
    },
    Param {
        name: "tollgate-unauth-max-multibulk",
        get: |c| c.limits.unauth_max_multibulk.to_string(),
        set: None,
    },
    Param {
        name: "tollgate-unauth-max-bulk",
        get: |c| c.limits.unauth_max_bulk.to_string(),
        set: None,
    },
    // [store]
    Param {
        name: "maxmemory",
        get: |c| c.store.maxmemory.0.to_string(),
        set: Some(|c, v| {
            c.store.maxmemory = memory(v, 0, u64::MAX)?;
            Ok(())
        }),
    },
    Param {
        name: "maxmemory-policy",
        get: |c| c.store.maxmemory_policy.as_str().to_string(),
        set: Some(|c, v| {
            c.store.maxmemory_policy = one_of(v, MaxmemoryPolicy::NAMES)?;
            Ok(())
        }),
    },
    Param {
        name: "maxmemory-samples",
        get: |c| c.store.maxmemory_samples.to_string(),
        set: Some(|c, v| {
            c.store.maxmemory_samples = bounded_u32(v, 1, I32_MAX)?;
            Ok(())
        }),
    },
    Param {
        name: "hz",
        get: |c| c.store.hz.to_string(),
        set: Some(|c, v| {
            // Redis accepts 0..=INT_MAX and then clamps into 1..=500 (CONFIG GET shows the clamp).
            let hz = bounded(v, 0, I32_MAX)?;
            c.store.hz = hz.clamp(HZ_MIN as i64, HZ_MAX as i64) as u32;
            Ok(())
        }),
    },
    Param {
        name: "active-expire-effort",
        get: |c| c.store.active_expire_effort.to_string(),
        set: Some(|c, v| {
            c.store.active_expire_effort = bounded_u32(v, 1, 10)?;
            Ok(())
        }),
    },
    // [log]
    Param {
        name: "loglevel",
        get: |c| c.log.level.as_str().to_string(),
        set: Some(|c, v| {
            c.log.level = one_of(v, LogLevel::NAMES)?;
            Ok(())
        }),
    },
    Param {
        name: "tollgate-log-format",
        get: |c| c.log.format.as_str().to_string(),
        set: None,
    },
    // Redis names that clients, redis-benchmark and test harnesses read, answered with what
    // tollgate does: no RDB snapshots, no Redis AOF, one I/O thread as Redis counts it.
    Param {
        name: "save",
        get: |_| String::new(),
        // Harnesses often send `CONFIG SET save ""` to turn snapshots off: already off, so accept it.
        set: Some(|_, v| {
            if v.is_empty() {
                Ok(())
            } else {
                Err("tollgate takes no RDB snapshots; only \"\" is accepted".to_string())
            }
        }),
    },
    Param {
        name: "appendonly",
        get: |_| "no".to_string(),
        // Likewise `CONFIG SET appendonly no`.
        set: Some(|_, v| {
            if redis_bool(v)? {
                Err("tollgate has no Redis AOF".to_string())
            } else {
                Ok(())
            }
        }),
    },
    Param {
        name: "dbfilename",
        get: |_| "dump.rdb".to_string(),
        set: None,
    },
    Param {
        name: "io-threads",
        get: |_| "1".to_string(),
        set: None,
    },
    Param {
        name: "maxmemory-clients",
        get: |_| "0".to_string(),
        set: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../config/tollgate.toml");

    /// The shipped file and the code cannot drift: the file parses to exactly the defaults.
    #[test]
    fn shipped_file_is_the_defaults() {
        let parsed = Config::from_toml_str(SHIPPED).unwrap();
        // Compare without the merge too, so the file alone must carry every built-in entry.
        let raw: Config = toml::from_str(SHIPPED).unwrap();
        assert_eq!(raw, Config::default());
        assert_eq!(parsed, Config::default());
        Config::default().validate().unwrap();
    }

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
    }

    #[test]
    fn defaults_round_trip_through_toml() {
        let text = toml::to_string(&Config::default()).unwrap();
        assert_eq!(Config::from_toml_str(&text).unwrap(), Config::default());
    }

    #[test]
    fn seeds_are_in_the_defaults() {
        let c = Config::default();
        let auth = c.ratelimit.policy("auth").unwrap();
        assert_eq!(
            (auth.limit, auth.period, auth.burst()),
            (5, DurationMs(60_000), 5)
        );
        assert_eq!(auth.algo, Algo::SlidingWindow);
        assert_eq!(c.ratelimit.policy("chat").unwrap().algo, Algo::TokenBucket);
        assert_eq!(c.ratelimit.policy("public").unwrap().limit, 30);
    }

    #[test]
    fn named_tables_merge_by_name() {
        let c = Config::from_toml_str(
            r#"
            [ratelimit.policies.login]
            limit = 3
            period = "10m"

            [ratelimit.policies.auth]
            limit = 7
            period = 60
            algo = "gcra"
            "#,
        )
        .unwrap();
        assert_eq!(
            c.ratelimit.policy("login").unwrap().period,
            DurationMs(600_000)
        );
        assert_eq!(c.ratelimit.policy("auth").unwrap().limit, 7);
        assert_eq!(c.ratelimit.policy("auth").unwrap().algo, Algo::Gcra);
        assert_eq!(c.ratelimit.policy("chat").unwrap().limit, 100);
        c.validate().unwrap();
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let cases: &[(&str, &str)] = &[
            ("[server]\nprot = 1", "prot"),
            ("[nosuch]\na = 1", "section [nosuch] is not supported"),
            (
                "[nosuch]\na = 1",
                "[server], [limits], [store], [log], [ratelimit]",
            ),
            // Sections of features this version does not have: one error naming the section.
            (
                "[metrics]\nhttp_port = 9121",
                "section [metrics] is not supported",
            ),
            (
                "[persist]\nenabled = true",
                "section [persist] is not supported",
            ),
            (
                "[quota]\ndefault_plan = \"freemium\"",
                "section [quota] is not supported",
            ),
            (
                "[quota.plans.x.tokens]\nday = 3",
                "section [quota] is not supported",
            ),
            (
                "[cache.types.x]\nttl = 1",
                "section [cache] is not supported",
            ),
            ("[server]\nport = 70000", "port"),
            ("[server]\nport = \"6379\"", "port"),
            ("[store]\nmaxmemory_policy = \"lru\"", "expected one of"),
            ("[store]\nmaxmemory = \"1tb\"", "invalid size"),
            ("[store]\nmaxmemory = -1", "negative"),
            ("[ratelimit.policies.x]\nlimit = 1", "period"),
            (
                "[ratelimit.policies.x]\nlimit = 1\nperiod = 1\nalgo = \"leaky\"",
                "gcra",
            ),
            ("[log]\nlevel = \"loud\"", "notice"),
        ];
        for (text, needle) in cases {
            let err = Config::from_toml_str(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn validation_errors_name_the_field() {
        let cases: &[(&str, &str)] = &[
            ("[server]\nbind = \"localhost\"", "server.bind"),
            ("[server]\nbind = \"  \"", "server.bind"),
            ("[server]\ndatabases = 0", "server.databases"),
            ("[server]\nmaxclients = 0", "server.maxclients"),
            ("[server]\ntimeout = 2147483648", "server.timeout"),
            ("[server]\nshards = 12", "server.shards"),
            ("[server]\nshards = 0", "server.shards"),
            (
                "[limits]\nproto_max_bulk_len = \"1kb\"",
                "limits.proto_max_bulk_len",
            ),
            (
                "[limits]\nclient_query_buffer_limit = 0",
                "limits.client_query_buffer_limit",
            ),
            (
                "[limits]\nunauth_max_multibulk = 0",
                "limits.unauth_max_multibulk",
            ),
            ("[store]\nhz = 0", "store.hz"),
            ("[store]\nhz = 501", "store.hz"),
            (
                "[store]\nactive_expire_effort = 11",
                "store.active_expire_effort",
            ),
            ("[store]\nmaxmemory_samples = 0", "store.maxmemory_samples"),
            (
                "[ratelimit.policies.x]\nlimit = 0\nperiod = 1",
                "ratelimit.policies.x.limit",
            ),
            (
                "[ratelimit.policies.x]\nlimit = 1\nperiod = 0",
                "ratelimit.policies.x.period",
            ),
            (
                "[ratelimit.policies.x]\nlimit = 1\nperiod = 1\nburst = 0",
                "ratelimit.policies.x.burst",
            ),
            (
                "[ratelimit.policies.\"a b\"]\nlimit = 1\nperiod = 1",
                "ratelimit.policies.a b",
            ),
        ];
        for (text, field) in cases {
            let cfg = Config::from_toml_str(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            let err = cfg.validate().unwrap_err();
            match &err {
                ConfigError::Invalid { field: f, .. } => assert_eq!(f, field, "{text:?}: {err}"),
                other => panic!("{text:?}: unexpected {other}"),
            }
            assert!(err.to_string().contains(field));
        }
    }

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

    // ---- command line ----

    fn cli(args: &[&str]) -> Cli {
        let mut argv = vec!["tollgate"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap()
    }

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "tollgate-config-test-{}-{name}.toml",
            std::process::id()
        ));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn no_arguments_gives_the_defaults() {
        // Guard against a TOLLGATE_* variable in the test environment changing the answer.
        if std::env::vars().any(|(k, _)| k.starts_with("TOLLGATE_")) {
            return;
        }
        assert_eq!(load(&cli(&[])).unwrap(), Config::default());
    }

    #[test]
    fn precedence_default_file_flag() {
        let path = temp_file(
            "precedence",
            "[server]\nport = 7000\nmaxclients = 50\n[store]\nmaxmemory = \"100mb\"\n",
        );
        let p = path.to_str().unwrap();
        let from_file = load(&cli(&["--config", p])).unwrap();
        assert_eq!(from_file.server.port, 7000);
        assert_eq!(from_file.server.maxclients, 50);
        assert_eq!(from_file.store.maxmemory, ByteSize(100 * 1024 * 1024));
        assert_eq!(
            from_file.server.databases, 16,
            "untouched keys keep their default"
        );

        let flagged = load(&cli(&[
            "--config",
            p,
            "--port",
            "7001",
            "--maxmemory",
            "1gb",
            "--protected-mode",
            "no",
            "--maxmemory-policy",
            "ALLKEYS-LRU",
            "--loglevel",
            "warning",
        ]))
        .unwrap();
        assert_eq!(flagged.server.port, 7001);
        assert_eq!(flagged.server.maxclients, 50, "the file still applies");
        assert_eq!(flagged.store.maxmemory, ByteSize::gib(1));
        assert!(!flagged.server.protected_mode);
        assert_eq!(flagged.store.maxmemory_policy, MaxmemoryPolicy::AllkeysLru);
        assert_eq!(flagged.log.level, LogLevel::Warn);
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn flags_are_validated_like_the_file() {
        let err = load(&cli(&["--shards", "3"])).unwrap_err();
        assert!(err.to_string().contains("server.shards"), "{err}");
        assert!(Cli::try_parse_from(["tollgate", "--protected-mode", "maybe"]).is_err());
        assert!(Cli::try_parse_from(["tollgate", "--maxmemory", "lots"]).is_err());
        assert!(Cli::try_parse_from(["tollgate", "--port", "65536"]).is_err());
    }

    #[test]
    fn missing_or_broken_file_is_reported() {
        let err = load(&cli(&["--config", "/nonexistent/tollgate.toml"])).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
        let path = temp_file("broken", "[server\nport = 1");
        let err = load(&cli(&["--config", path.to_str().unwrap()])).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
        assert!(err.to_string().contains(path.to_str().unwrap()), "{err}");
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn every_option_declares_its_tollgate_env_var() {
        use clap::CommandFactory;
        for arg in Cli::command().get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let want = format!("TOLLGATE_{}", long.to_uppercase().replace('-', "_"));
            assert_eq!(
                arg.get_env().and_then(|e| e.to_str()),
                Some(want.as_str()),
                "--{long}"
            );
        }
    }

    #[test]
    fn env_applies_and_the_flag_wins() {
        use clap::{CommandFactory, FromArgMatches};
        // The real variable names are shared by the whole test process, so point the argument
        // at a name no other test reads; clap's env handling is the same for every name.
        const VAR: &str = "TOLLGATE_TEST_ONLY_TCP_KEEPALIVE";
        std::env::set_var(VAR, "42");
        let parse = |args: &[&str]| {
            let cmd = Cli::command().mut_arg("tcp_keepalive", |a| a.env(VAR));
            let matches = cmd.try_get_matches_from(args).unwrap();
            Cli::from_arg_matches(&matches).unwrap()
        };
        let from_env = parse(&["tollgate"]);
        let from_flag = parse(&["tollgate", "--tcp-keepalive", "7"]);
        std::env::remove_var(VAR);
        assert_eq!(load(&from_env).unwrap().server.tcp_keepalive, 42);
        assert_eq!(load(&from_flag).unwrap().server.tcp_keepalive, 7);
    }

    // ---- CONFIG GET / SET ----

    /// `*` and `?` only, enough to exercise config_get; the server passes its real matcher.
    fn simple_glob(p: &[u8], s: &[u8]) -> bool {
        match (p.split_first(), s.split_first()) {
            (None, None) => true,
            (Some((b'*', rest)), _) => {
                simple_glob(rest, s) || (!s.is_empty() && simple_glob(p, &s[1..]))
            }
            (Some((b'?', rest)), Some((_, srest))) => simple_glob(rest, srest),
            (Some((a, rest)), Some((b, srest))) => {
                a.eq_ignore_ascii_case(b) && simple_glob(rest, srest)
            }
            _ => false,
        }
    }

    fn get(c: &Config, name: &str) -> String {
        (find_param(name).unwrap().get)(c)
    }

    fn set(c: &mut Config, pairs: &[(&str, &str)]) -> Result<(), String> {
        let pairs: Vec<(&[u8], &[u8])> = pairs
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        config_set(c, &pairs)
    }

    #[test]
    fn param_names_are_unique_and_lower_case() {
        let mut names: Vec<_> = params().iter().map(|p| p.name).collect();
        assert!(names.iter().all(|n| *n == n.to_ascii_lowercase()));
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    #[test]
    fn config_get_formats_like_redis() {
        let c = Config::default();
        let cases: &[(&str, &str)] = &[
            ("bind", "127.0.0.1"),
            ("port", "6379"),
            ("databases", "16"),
            ("maxclients", "10000"),
            ("timeout", "0"),
            ("requirepass", ""),
            ("protected-mode", "yes"),
            ("tcp-keepalive", "300"),
            ("tollgate-shards", "16"),
            ("tollgate-threads", "0"),
            ("proto-max-bulk-len", "536870912"),
            ("client-query-buffer-limit", "1073741824"),
            ("tollgate-inline-max", "65536"),
            ("tollgate-max-multibulk-len", "2147483647"),
            ("tollgate-unauth-max-multibulk", "10"),
            ("tollgate-unauth-max-bulk", "16384"),
            ("maxmemory", "0"),
            ("maxmemory-policy", "noeviction"),
            ("maxmemory-samples", "5"),
            ("hz", "10"),
            ("active-expire-effort", "1"),
            ("loglevel", "info"),
            ("tollgate-log-format", "text"),
            ("save", ""),
            ("appendonly", "no"),
            ("dbfilename", "dump.rdb"),
            ("io-threads", "1"),
            ("maxmemory-clients", "0"),
        ];
        assert_eq!(
            cases.len(),
            params().len(),
            "a parameter is missing from this table"
        );
        for (name, want) in cases {
            assert_eq!(get(&c, name), *want, "{name}");
        }
    }

    #[test]
    fn config_get_patterns() {
        let c = Config::default();
        let names = |patterns: &[&str]| -> Vec<String> {
            let p: Vec<&[u8]> = patterns.iter().map(|s| s.as_bytes()).collect();
            config_get(&c, &p, simple_glob)
                .into_iter()
                .map(|(n, _)| n)
                .collect()
        };
        assert_eq!(names(&["MAXMEMORY"]), vec!["MAXMEMORY"]);
        assert_eq!(names(&["maxmemory", "MAXMEMORY"]), vec!["maxmemory"]);
        assert_eq!(names(&["nosuch"]), Vec::<String>::new());
        assert_eq!(
            names(&["MAXMEM*"]),
            vec![
                "maxmemory",
                "maxmemory-policy",
                "maxmemory-samples",
                "maxmemory-clients"
            ]
        );
        assert_eq!(names(&["*"]).len(), params().len());
        assert_eq!(names(&["save", "appendonly"]), vec!["save", "appendonly"]);
    }

    #[test]
    fn config_set_errors_match_redis_7_0() {
        // Each expected line was produced by redis-server 7.0.15.
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("maxmemory-policy", "foo")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"),
            (&[("protected-mode", "maybe")], "ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'"),
            (&[("maxclients", "0")], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"),
            (&[("maxclients", "-1")], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"),
            (&[("maxclients", "4294967296")], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"),
            (&[("maxclients", "abc")], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer"),
            (&[("timeout", "-1")], "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive"),
            (&[("timeout", "2147483648")], "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive"),
            (&[("timeout", "0x10")], "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"),
            (&[("timeout", "+5")], "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"),
            (&[("timeout", "05")], "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"),
            (&[("timeout", "-0")], "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"),
            (&[("maxmemory", "10x")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
            (&[("maxmemory", "-1")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
            (&[("maxmemory", "1.5mb")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
            (&[("hz", "-1")], "ERR CONFIG SET failed (possibly related to argument 'hz') - argument must be between 0 and 2147483647 inclusive"),
            (&[("active-expire-effort", "11")], "ERR CONFIG SET failed (possibly related to argument 'active-expire-effort') - argument must be between 1 and 10 inclusive"),
            (&[("maxmemory-samples", "0")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 2147483647 inclusive"),
            (&[("proto-max-bulk-len", "10")], "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive"),
            (&[("client-query-buffer-limit", "1")], "ERR CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - argument must be between 1048576 and 9223372036854775807 inclusive"),
            (&[("databases", "4")], "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"),
            (&[("io-threads", "2")], "ERR CONFIG SET failed (possibly related to argument 'io-threads') - can't set immutable config"),
            (&[("nosuch", "1")], "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"),
            (&[("maxmemory", "1"), ("maxmemory", "2")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter"),
            (&[("databases", "1"), ("nosuch", "2")], "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"),
            (&[("nosuch", "2"), ("databases", "1")], "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"),
            (&[("hz", "5"), ("maxclients", "0")], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"),
        ];
        for (pairs, want) in cases {
            let mut c = Config::default();
            assert_eq!(set(&mut c, pairs), Err(want.to_string()), "{pairs:?}");
            assert_eq!(
                c,
                Config::default(),
                "{pairs:?}: a failed CONFIG SET changes nothing"
            );
        }
    }

    #[test]
    fn config_set_applies_like_redis() {
        let mut c = Config::default();
        set(
            &mut c,
            &[
                ("MAXMEMORY", "100mb"),
                ("maxmemory-policy", "ALLKEYS-LRU"),
                ("protected-mode", "NO"),
                ("loglevel", "WARNING"),
                ("requirepass", "s3cret"),
                ("timeout", "30"),
                ("maxclients", "4294967295"),
                ("active-expire-effort", "10"),
                ("maxmemory-samples", "10"),
                ("proto-max-bulk-len", "2mb"),
                ("client-query-buffer-limit", "1gb"),
                ("save", ""),
                ("appendonly", "no"),
            ],
        )
        .unwrap();
        let cases: &[(&str, &str)] = &[
            ("maxmemory", "104857600"),
            ("maxmemory-policy", "allkeys-lru"),
            ("protected-mode", "no"),
            ("loglevel", "warn"),
            ("requirepass", "s3cret"),
            ("timeout", "30"),
            ("maxclients", "4294967295"),
            ("active-expire-effort", "10"),
            ("maxmemory-samples", "10"),
            ("proto-max-bulk-len", "2097152"),
            ("client-query-buffer-limit", "1073741824"),
        ];
        for (name, want) in cases {
            assert_eq!(get(&c, name), *want, "{name}");
        }
        // Redis clamps hz into 1..=500 after accepting 0..=INT_MAX.
        set(&mut c, &[("hz", "1000")]).unwrap();
        assert_eq!(get(&c, "hz"), "500");
        set(&mut c, &[("hz", "0")]).unwrap();
        assert_eq!(get(&c, "hz"), "1");
        // Memory values: k = 1000, kb = 1024; "" is 0, as memtoull reads it.
        set(&mut c, &[("maxmemory", "1K")]).unwrap();
        assert_eq!(get(&c, "maxmemory"), "1000");
        set(&mut c, &[("maxmemory", "")]).unwrap();
        assert_eq!(get(&c, "maxmemory"), "0");
        assert!(set(&mut c, &[("save", "900 1")]).is_err());
        assert!(set(&mut c, &[("appendonly", "yes")]).is_err());
        c.validate().unwrap();
    }

    #[test]
    fn every_settable_param_round_trips_its_own_value() {
        // CONFIG SET x (CONFIG GET x) must be accepted and change nothing.
        let mut c = Config::default();
        c.store.maxmemory = ByteSize::mib(3);
        c.server.requirepass = "pw".to_string();
        for p in params() {
            let Some(setter) = p.set else { continue };
            let before = c.clone();
            setter(&mut c, &(p.get)(&before)).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert_eq!(c, before, "{}", p.name);
        }
    }

    #[test]
    fn runtime_settable_set_is_exactly_the_documented_one() {
        let mut settable: Vec<_> = params()
            .iter()
            .filter(|p| p.set.is_some())
            .map(|p| p.name)
            .collect();
        settable.sort_unstable();
        assert_eq!(
            settable,
            vec![
                "active-expire-effort",
                "appendonly",
                "client-query-buffer-limit",
                "hz",
                "loglevel",
                "maxclients",
                "maxmemory",
                "maxmemory-policy",
                "maxmemory-samples",
                "protected-mode",
                "proto-max-bulk-len",
                "requirepass",
                "save",
                "timeout",
            ]
        );
    }
}
