//! tollgate's configuration: one small file per TOML section, each setting declared once.
//!
//! A setting is one line of a section's `settings!` block ([`declare`]), which generates its
//! serde field and default, its flag and `TOLLGATE_*` variable ([`cli`]), its CONFIG GET/SET
//! entry ([`redis_get_set`]) and its validation; [`settings`] lists them all. The named
//! policies of `[ratelimit]`, the plans of `[quota]` and the types of `[cache]` are tables
//! rather than settings, declared beside their sections' settings ([`ratelimit`], [`quota`],
//! [`cache`]).
//!
//! Layers, later wins: the built-in defaults ([`Config::default`], identical to the shipped
//! `config/tollgate.toml`, which a test checks), then the file given with `--config`, then
//! `TOLLGATE_*` environment variables, then flags. Clap resolves the last two into [`Cli`]
//! (a flag beats its variable); [`load`] applies the rest and validates once at the end, so a
//! bad value is reported with its field name whichever layer it came from.
//!
//! Named tables (`[ratelimit.policies.*]`, `[quota.plans.*]`, `[cache.types.*]`) merge with
//! the built-in ones by name: an entry in the file replaces the built-in entry of the same name
//! and the built-ins it does not mention stay, so a short file that adds one policy does not
//! silently drop the seeds' policies.
//!
//! Only settings of features that exist are accepted: a section this version does not know
//! (such as one written for a later version) is an error that names it.
//!
//! Redis names: every setting answers `CONFIG GET` under its Redis name (or a `tollgate-*`
//! name where Redis has none), with Redis's formatting and, for `CONFIG SET`, Redis 7.0's
//! error texts (checked against `redis-server` 7.0.15).

pub mod cache;
pub mod cli;
pub mod declare;
pub mod limits;
pub mod log;
pub mod output_limits;
pub mod persist;
pub mod quota;
pub mod ratelimit;
pub mod redis_get_set;
pub mod server;
pub mod store;
pub mod values;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use cache::{CacheConfig, CacheType, PlanTtl};
pub use cli::Cli;
pub use declare::Setting;
pub use limits::LimitsConfig;
pub use log::LogConfig;
pub use output_limits::{BufferLimit, ClientClass, OutputBufferLimits};
pub use persist::{FsyncPolicy, PersistConfig};
pub use quota::{MetricLimits, Plan, QuotaConfig, Weekday, Window};
pub use ratelimit::{Algo, FullMemory, Policy, RateLimitConfig};
pub use redis_get_set::{
    config_get, config_set, config_set_error, config_set_unknown_error, find_param, params, Param,
    Setter, IMMUTABLE_CONFIG,
};
pub use server::ServerConfig;
pub use store::StoreConfig;
pub use values::{parse_memory, ByteSize, LogFormat, LogLevel, MaxmemoryPolicy, SavePoints};

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
    /// `[persist]`: keyspace snapshots.
    pub persist: PersistConfig,
    /// `[ratelimit]`: behaviour at a full memory, the lease cap, and named policies for
    /// `RL.CHECK ... POLICY <name>`.
    pub ratelimit: RateLimitConfig,
    /// `[quota]`: the calendar of quota windows, the default plan, id and hold lifetimes, and
    /// the named plans.
    pub quota: QuotaConfig,
    /// `[cache]`: the caps on CACHE.FETCH waits and leases, and the cache types with their
    /// TTLs per plan.
    pub cache: CacheConfig,
}

/// The top-level tables a config file may have, in [`Config`]'s order.
const SECTIONS: &[&str] = &[
    "server",
    "limits",
    "store",
    "log",
    "persist",
    "ratelimit",
    "quota",
    "cache",
];

/// Every declared setting, section by section in declaration order.
pub fn settings() -> impl Iterator<Item = &'static Setting> {
    [
        server::SETTINGS,
        limits::SETTINGS,
        store::SETTINGS,
        log::SETTINGS,
        ratelimit::SETTINGS,
        persist::SETTINGS,
        quota::SETTINGS,
        cache::SETTINGS,
    ]
    .into_iter()
    .flatten()
}

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

/// A [`ConfigError::Invalid`] for `field`.
pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

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
        cfg.ratelimit.merge_builtin();
        cfg.quota.merge_builtin();
        cfg.cache.merge_builtin();
        Ok(cfg)
    }

    /// Checks every setting's range and constraints, then the policies, plans and cache
    /// types (whose plans must be the quota plans); the error names the offending field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for s in settings() {
            (s.validate)(self).map_err(|message| invalid(s.path(), message))?;
        }
        self.ratelimit.validate()?;
        self.quota.validate()?;
        self.cache.validate(&self.quota)
    }
}

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

/// Builds the configuration: defaults, then `cli.config` if given, then the environment and
/// flags (already merged by clap into `cli`), then [`Config::validate`].
pub fn load(cli: &Cli) -> Result<Config, ConfigError> {
    let mut cfg = match &cli.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    cli.apply_to(&mut cfg)?;
    cfg.validate()?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::DurationMs;

    const SHIPPED: &str = include_str!("../../config/tollgate.toml");

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

    /// The seeds' plans with SPEC's numbers, freemium the default.
    #[test]
    fn seed_plans_are_in_the_defaults() {
        let q = Config::default().quota;
        assert_eq!(q.default_plan, "freemium");
        assert_eq!(
            (q.timezone.as_str(), q.week_start),
            ("UTC", Weekday::Monday)
        );
        assert_eq!(
            (q.idempotency_ttl, q.hold_ttl),
            (DurationMs::from_hours(24), DurationMs::from_mins(15))
        );
        let cases = [
            ("freemium", 10_000, 100_000, 100),
            ("pay_as_you_go", 50_000, 500_000, 500),
            ("pro_monthly", 1_000_000, 30_000_000, 5_000),
            ("pro_annual", 2_000_000, 60_000_000, 10_000),
        ];
        assert_eq!(q.plans.len(), cases.len());
        for (name, day, month, hour) in cases {
            let p = q.plan(name).unwrap();
            let tokens: Vec<_> = p.metric("tokens").unwrap().windows().collect();
            assert_eq!(
                tokens,
                [(Window::Day, day), (Window::Month, month)],
                "{name}"
            );
            let calls: Vec<_> = p.metric("calls").unwrap().windows().collect();
            assert_eq!(calls, [(Window::Hour, hour)], "{name}");
            assert_eq!((p.concurrent, p.warn_at.as_slice()), (None, &[80, 95][..]));
        }
    }

    /// A plan from a file sits beside the seeds'; its metrics and options are read.
    #[test]
    fn quota_plans_merge_with_the_seeds() {
        let c = Config::from_toml_str(
            "[quota]\ntimezone = \"America/New_York\"\nweek_start = \"sunday\"\n\
             default_plan = \"team\"\n\n[quota.plans.team]\nconcurrent = 4\nwarn_at = [50]\n\n\
             [quota.plans.team.images]\nminute = 2\nweek = 70\n",
        )
        .unwrap();
        c.validate().unwrap();
        let team = c.quota.plan("team").unwrap();
        assert_eq!(
            (team.concurrent, team.warn_at.as_slice()),
            (Some(4), &[50][..])
        );
        let images: Vec<_> = team.metric("images").unwrap().windows().collect();
        assert_eq!(images, [(Window::Minute, 2), (Window::Week, 70)]);
        assert!(c.quota.plan("freemium").is_some());
        assert_eq!(c.quota.week_start, Weekday::Sunday);
        assert_eq!(c.quota.time_zone().iana_name(), Some("America/New_York"));
    }

    /// The seeds' cache types with SPEC's TTLs; pro_monthly has no override.
    #[test]
    fn seed_cache_types_are_in_the_defaults() {
        let c = Config::default().cache;
        assert_eq!(
            (c.max_wait, c.max_lease),
            (DurationMs::from_secs(30), DurationMs::from_mins(5))
        );
        let names: Vec<&str> = c.types.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "content",
                "embedding",
                "extraction",
                "query",
                "session",
                "system"
            ]
        );
        let system = c.cache_type("system").unwrap();
        assert_eq!((system.ttl, system.shared), (DurationMs(0), true));
        assert!(system.plans.is_empty());
        for (name, ttl, pro_annual) in [
            ("session", 30, 60),
            ("content", 60, 120),
            ("extraction", 45, 90),
        ] {
            let t = c.cache_type(name).unwrap();
            assert_eq!(
                (t.ttl, t.shared),
                (DurationMs::from_mins(ttl), false),
                "{name}"
            );
            let plans: Vec<_> = t.plans.iter().map(|(p, v)| (p.as_str(), *v)).collect();
            assert_eq!(
                plans,
                [
                    ("freemium", PlanTtl::Off),
                    ("pay_as_you_go", PlanTtl::Off),
                    (
                        "pro_annual",
                        PlanTtl::Ttl(DurationMs::from_mins(pro_annual))
                    ),
                ],
                "{name}"
            );
        }
        for (name, hours) in [("query", 1), ("embedding", 24)] {
            let t = c.cache_type(name).unwrap();
            assert_eq!(
                (t.ttl, t.shared),
                (DurationMs::from_hours(hours), false),
                "{name}"
            );
            assert!(t.plans.is_empty(), "{name}");
        }
    }

    /// A type from a file sits beside the seeds'; one of the same name replaces the seed's
    /// whole (its plans too); its plans may be the file's own quota plans.
    #[test]
    fn cache_types_merge_with_the_seeds() {
        let c = Config::from_toml_str(
            "[cache]\nmax_wait = \"2s\"\n\n[cache.types.\"pdf:v2\"]\nttl = 90\nshared = true\n\
             plans = { team = \"off\", pro_annual = 0 }\n\n[cache.types.session]\nttl = \"10m\"\n\n\
             [quota.plans.team.calls]\nhour = 1\n",
        )
        .unwrap();
        c.validate().unwrap();
        let pdf = c.cache.cache_type("pdf:v2").unwrap();
        assert_eq!((pdf.ttl, pdf.shared), (DurationMs::from_secs(90), true));
        assert_eq!(pdf.plans["team"], PlanTtl::Off);
        assert_eq!(pdf.plans["pro_annual"], PlanTtl::Ttl(DurationMs(0)));
        let session = c.cache.cache_type("session").unwrap();
        assert_eq!(session.ttl, DurationMs::from_mins(10));
        assert!(
            session.plans.is_empty(),
            "replaced whole, as a plan or policy is"
        );
        assert_eq!(c.cache.types.len(), 7);
        assert_eq!(c.cache.max_wait, DurationMs::from_secs(2));
        assert_eq!(c.cache.max_lease, DurationMs::from_mins(5));
    }

    /// Type names: every allowed byte, and the length bounds.
    #[test]
    fn cache_type_names() {
        let ok = |name: &str| {
            let mut c = Config::default();
            let t = c.cache.cache_type("query").unwrap().clone();
            c.cache.types.insert(name.to_string(), t);
            c.validate().is_ok()
        };
        assert!(ok("aZ09_.:-"));
        assert!(ok(&"x".repeat(64)));
        assert!(!ok(&"x".repeat(65)));
        for bad in ["", " ", "a\tb", "a\nb", "a\"b", "é", "a*", "a{b}", "a\u{0}"] {
            assert!(!ok(bad), "{bad:?}");
        }
    }

    /// At most 1024 types, seeds included.
    #[test]
    fn cache_type_count_is_bounded() {
        let file = |n: usize| {
            (0..n)
                .map(|i| format!("[cache.types.t{i}]\nttl = 1\n"))
                .collect::<String>()
        };
        let seeds = Config::default().cache.types.len();
        let c = Config::from_toml_str(&file(1024 - seeds)).unwrap();
        c.validate().unwrap();
        let c = Config::from_toml_str(&file(1025 - seeds)).unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("`cache.types`") && err.contains("at most 1024"),
            "{err}"
        );
    }

    /// `[ratelimit]` holds settings beside its named table; a file may set either alone.
    #[test]
    fn ratelimit_settings_sit_beside_the_policies() {
        let c = Config::from_toml_str(
            "[ratelimit]\non_full_memory = \"allow\"\nmax_leases = 50\n\n\
             [ratelimit.policies.login]\nlimit = 3\nperiod = 60",
        )
        .unwrap();
        assert_eq!(c.ratelimit.on_full_memory, FullMemory::Allow);
        assert_eq!(c.ratelimit.max_leases, 50);
        assert!(c.ratelimit.policy("login").is_some() && c.ratelimit.policy("auth").is_some());
        c.validate().unwrap();
        let d = Config::default().ratelimit;
        assert_eq!((d.on_full_memory, d.max_leases), (FullMemory::Deny, 10_000));
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
    fn a_partial_output_buffer_limit_keeps_the_other_classes() {
        let c = Config::from_toml_str(
            "[limits]\nclient_output_buffer_limit = \"normal 1mb 512kb 10\"\n",
        )
        .unwrap();
        let limits = c.limits.client_output_buffer_limit;
        assert_eq!(limits.normal, BufferLimit::new(1 << 20, 512 << 10, 10));
        assert_eq!(
            limits.pubsub,
            OutputBufferLimits::default().pubsub,
            "pubsub keeps Redis's default"
        );
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let cases: &[(&str, &str)] = &[
            ("[server]\nprot = 1", "prot"),
            ("[nosuch]\na = 1", "section [nosuch] is not supported"),
            (
                "[nosuch]\na = 1",
                "[server], [limits], [store], [log], [persist], [ratelimit], [quota], [cache]",
            ),
            // Sections of features this version does not have: one error naming the section.
            (
                "[metrics]\nhttp_port = 9121",
                "section [metrics] is not supported",
            ),
            ("[persist]\nenabled = true", "enabled"),
            ("[persist]\nsave = \"60\"", "pairs"),
            ("[quota]\nweek_start = \"mon\"", "expected one of: monday"),
            ("[quota.plans.x]\nconcurent = 3", "`concurent` is neither"),
            ("[quota.plans.x.tokens]\nyear = 3", "metric `tokens`"),
            ("[quota.plans.x]\nwarn_at = 80", "warn_at"),
            (
                "[cache.types.x]\nttl = 1\nshare = true",
                "unknown field `share`",
            ),
            ("[cache.types.x]\nshared = true", "missing field `ttl`"),
            (
                "[cache.types.x]\nttl = 1\nplans = { freemium = \"of\" }",
                "a plan's TTL is a duration or \"off\"",
            ),
            (
                "[cache.types.x]\nttl = 1\nplans = { freemium = -1 }",
                "a plan's TTL is a duration or \"off\"",
            ),
            ("[cache.types.x]\nttl = \"1w\"", "invalid duration"),
            ("[cache]\nmax_wait = \"1.5s\"", "invalid duration"),
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
            (
                "[limits]\nclient_output_buffer_limit = \"master 0 0 0\"",
                "Invalid client class",
            ),
            ("[server]\nshutdown_grace = \"1.5s\"", "invalid duration"),
            (
                "[ratelimit]\non_full_memory = \"drop\"",
                "expected one of: deny, allow, oom",
            ),
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
            ("[server]\nshutdown_grace = \"2h\"", "server.shutdown_grace"),
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
            ("[ratelimit]\nmax_leases = 0", "ratelimit.max_leases"),
            ("[ratelimit]\nmax_leases = 1000001", "ratelimit.max_leases"),
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
            ("[quota]\ntimezone = \"Mars/Olympus\"", "quota.timezone"),
            ("[quota]\ndefault_plan = \"gold\"", "quota.default_plan"),
            ("[quota]\nidempotency_ttl = 0", "quota.idempotency_ttl"),
            ("[quota]\nhold_ttl = 0", "quota.hold_ttl"),
            ("[quota.plans.x]\nconcurrent = 1", "quota.plans.x"),
            (
                "[quota.plans.x]\nconcurrent = 0\n[quota.plans.x.calls]\nhour = 1",
                "quota.plans.x.concurrent",
            ),
            (
                "[quota.plans.x]\nwarn_at = [95, 80]\n[quota.plans.x.calls]\nhour = 1",
                "quota.plans.x.warn_at",
            ),
            (
                "[quota.plans.x]\nwarn_at = [50, 80, 90]\n[quota.plans.x.calls]\nhour = 1",
                "quota.plans.x.warn_at",
            ),
            (
                "[quota.plans.x]\nwarn_at = [0]\n[quota.plans.x.calls]\nhour = 1",
                "quota.plans.x.warn_at",
            ),
            ("[quota.plans.x.calls]\n", "quota.plans.x.calls"),
            ("[quota.plans.x.calls]\nday = 0", "quota.plans.x.calls.day"),
            ("[quota.plans.x.\"a/b\"]\nday = 1", "quota.plans.x.a/b"),
            ("[quota.plans.\"p q\".calls]\nday = 1", "quota.plans.p q"),
            ("[cache]\nmax_wait = \"2d\"", "cache.max_wait"),
            ("[cache]\nmax_lease = 0", "cache.max_lease"),
            ("[cache]\nmax_lease = \"25h\"", "cache.max_lease"),
            ("[cache.types.\"a b\"]\nttl = 1", "cache.types.a b"),
            ("[cache.types.\"\"]\nttl = 1", "cache.types."),
            ("[cache.types.\"a/b\"]\nttl = 1", "cache.types.a/b"),
            ("[cache.types.\"é\"]\nttl = 1", "cache.types.é"),
            ("[cache.types.x]\nttl = \"36501d\"", "cache.types.x.ttl"),
            (
                "[cache.types.x]\nttl = 1\nplans = { gold = \"1m\" }",
                "cache.types.x.plans.gold",
            ),
            (
                "[cache.types.x]\nttl = 1\nplans = { freemium = \"36501d\" }",
                "cache.types.x.plans.freemium",
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

    /// `SECTIONS` (for the unknown-section error) and `settings()` cannot miss a section, and
    /// no scalar key can exist outside a declaration.
    #[test]
    fn every_key_of_the_file_format_is_a_declared_setting() {
        let table = toml::Table::try_from(Config::default()).unwrap();
        // toml's tables are sorted, so compare sorted lists.
        let mut known = SECTIONS.to_vec();
        known.sort_unstable();
        let sections: Vec<&str> = table.keys().map(String::as_str).collect();
        assert_eq!(sections, known);
        let mut keys: Vec<String> = Vec::new();
        for (section, value) in &table {
            for (key, value) in value.as_table().unwrap() {
                if !value.is_table() {
                    keys.push(format!("{section}.{key}"));
                }
            }
        }
        let mut declared: Vec<String> = settings().map(|s| s.path()).collect();
        declared.sort_unstable();
        keys.sort_unstable();
        assert_eq!(keys, declared);
    }

    /// Every declared setting is in the shipped file, with a comment that gives its CONFIG name
    /// and says whether CONFIG SET may change it.
    #[test]
    fn shipped_file_documents_every_setting() {
        let lines: Vec<&str> = SHIPPED.lines().collect();
        for s in settings() {
            let header = format!("[{}]", s.section);
            let start = lines
                .iter()
                .position(|l| *l == header)
                .unwrap_or_else(|| panic!("no {header} in config/tollgate.toml"));
            let at = lines[start..]
                .iter()
                .position(|l| l.starts_with(&format!("{} = ", s.key)))
                .map(|i| start + i)
                .unwrap_or_else(|| panic!("{} is missing from config/tollgate.toml", s.path()));
            let comment: String = lines[..at]
                .iter()
                .rev()
                .take_while(|l| l.starts_with('#'))
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            let runtime = if s.runtime { ", runtime]" } else { "]" };
            let want = format!("[{}{runtime}", s.config_name);
            assert!(
                comment.contains(&want),
                "the comment above {} in config/tollgate.toml should say {want}: {comment:?}",
                s.path()
            );
        }
    }
}
