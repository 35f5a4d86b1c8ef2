//! `[cache]`: how long a CACHE.FETCH may wait and lease, and the cache types (a named table,
//! like the quota plans, so types have no flags or CONFIG names): each type's default TTL,
//! whether its entries are shared by all subjects, and the plans whose TTL differs or that
//! may not use it. The resolved form the commands use is `crate::cache::Catalog`.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use super::declare::settings;
use super::quota::QuotaConfig;
use super::{invalid, ConfigError};
use crate::duration::DurationMs;

settings! {
    /// `[cache]`: the caps on waits and leases, and the cache types.
    pub struct CacheConfig in cache;

    /// Longest WAIT a CACHE.FETCH may ask for; a longer one is clamped to this. 0 = a FETCH
    /// never waits for another client's computation.
    max_wait: DurationMs = DurationMs::from_secs(30), config "tollgate-cache-max-wait", runtime,
        range(0, MAX_WAIT_MS), flag "cache-max-wait";
    /// Longest LEASE a CACHE.FETCH may take to compute a missing value; a longer one is
    /// clamped to this.
    max_lease: DurationMs = DurationMs::from_mins(5), config "tollgate-cache-max-lease", runtime,
        range(1, MAX_LEASE_MS), flag "cache-max-lease";

    tables;
    /// `[cache.types.<name>]`. Default: the seeds' `system`, `session`, `content`,
    /// `extraction`, `query` and `embedding` (see [`default_types`]).
    types: BTreeMap<String, CacheType> = default_types();
}

/// The highest `max_wait`, a day: a waiting FETCH holds its connection, and a wait longer
/// than any computation worth caching only hides a lease that was never released.
pub const MAX_WAIT_MS: u64 = 86_400_000;
/// The highest `max_lease`, a day, for the same reason.
pub const MAX_LEASE_MS: u64 = 86_400_000;
/// The longest TTL of a type or plan, 100 years (as the longest rate-limit period): an
/// entry's expiry is the clock plus its TTL in unix ms, which must fit the store's signed
/// deadlines with room to spare.
pub const MAX_TTL_MS: u64 = 36_500 * 86_400_000;
/// Most types: ids are dense `u16`s, and a thousand types is far beyond any app's needs.
pub const MAX_TYPES: usize = 1024;
/// Longest type name, in bytes.
pub const MAX_TYPE_NAME: usize = 64;

/// `[cache.types.<name>]`: a kind of cached result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheType {
    /// TTL of an entry when neither the TTL argument nor the subject's plan says otherwise
    /// (`"30m"`, or seconds); `0` = never expires. Required.
    pub ttl: DurationMs,
    /// Entries are shared by all subjects (one entry per key, not one per subject).
    /// Default false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub shared: bool,
    /// Plans whose TTL differs from `ttl`, or (`"off"`) that may not use the type. A plan
    /// not listed uses `ttl`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub plans: BTreeMap<String, PlanTtl>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a plan does with a cache type: its own TTL (`0` = never expires), or `"off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanTtl {
    /// The plan may not cache entries of this type.
    Off,
    /// The plan's TTL for this type.
    Ttl(DurationMs),
}

/// `"off"`, as the file writes it.
const OFF: &str = "off";

impl Serialize for PlanTtl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PlanTtl::Off => s.serialize_str(OFF),
            PlanTtl::Ttl(d) => d.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for PlanTtl {
    // Through a TOML value so that `"off"` and every form of duration (seconds, `"90m"`)
    // are read by one rule, and a mistake gets an error that names both.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) if s == OFF => Ok(PlanTtl::Off),
            v => DurationMs::deserialize(v).map(PlanTtl::Ttl).map_err(|e| {
                de::Error::custom(format!(
                    "a plan's TTL is a duration or \"off\": {}",
                    e.message()
                ))
            }),
        }
    }
}

/// The seeds' cache types (SPEC, "Cache"): `system` never expires and is shared; the paid
/// annual plan keeps sessions, content and extractions longer; freemium and pay-as-you-go
/// may not cache them at all.
pub fn default_types() -> BTreeMap<String, CacheType> {
    let mins = DurationMs::from_mins;
    let kind = |ttl, plans: &[(&str, PlanTtl)]| CacheType {
        ttl,
        shared: false,
        plans: plans
            .iter()
            .map(|(plan, ttl)| (plan.to_string(), *ttl))
            .collect(),
    };
    let paid_only = |default, pro_annual| {
        kind(
            mins(default),
            &[
                ("pro_annual", PlanTtl::Ttl(mins(pro_annual))),
                ("freemium", PlanTtl::Off),
                ("pay_as_you_go", PlanTtl::Off),
            ],
        )
    };
    [
        (
            "system",
            CacheType {
                shared: true,
                ..kind(DurationMs(0), &[])
            },
        ),
        ("session", paid_only(30, 60)),
        ("content", paid_only(60, 120)),
        ("extraction", paid_only(45, 90)),
        ("query", kind(DurationMs::from_hours(1), &[])),
        ("embedding", kind(DurationMs::from_hours(24), &[])),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_string(), t))
    .collect()
}

impl CacheConfig {
    /// The type called `name`.
    pub fn cache_type(&self, name: &str) -> Option<&CacheType> {
        self.types.get(name)
    }

    /// Adds the built-in types that a file did not name.
    pub(super) fn merge_builtin(&mut self) {
        for (name, t) in default_types() {
            self.types.entry(name).or_insert(t);
        }
    }

    /// Checks the number of types, their names and TTLs, and that every plan a type names
    /// is one of `quota`'s; the error names the type and plan.
    pub(super) fn validate(&self, quota: &QuotaConfig) -> Result<(), ConfigError> {
        if self.types.len() > MAX_TYPES {
            return Err(invalid(
                "cache.types",
                format!(
                    "at most {MAX_TYPES} types may be defined, got {}",
                    self.types.len()
                ),
            ));
        }
        for (name, t) in &self.types {
            let base = format!("cache.types.{name}");
            check_type_name(&base, name)?;
            check_ttl(&format!("{base}.ttl"), t.ttl)?;
            for (plan, ttl) in &t.plans {
                let field = format!("{base}.plans.{plan}");
                if quota.plan(plan).is_none() {
                    return Err(invalid(
                        field,
                        format!(
                            "plan '{plan}' is not defined in [quota.plans]; defined plans: {}",
                            quota.plans.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                if let PlanTtl::Ttl(d) = ttl {
                    check_ttl(&field, *d)?;
                }
            }
        }
        Ok(())
    }
}

/// A type name is a command argument and part of the keys the cache builds, so it is short
/// and plain: 1 to 64 bytes of letters, digits, `_`, `.`, `:` and `-`.
fn check_type_name(field: &str, name: &str) -> Result<(), ConfigError> {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-');
    if name.is_empty() || name.len() > MAX_TYPE_NAME || !name.bytes().all(|b| plain(&b)) {
        return Err(invalid(
            field,
            format!(
                "name '{}' must be 1 to {MAX_TYPE_NAME} bytes of letters, digits, '_', '.', ':' \
                 or '-'",
                name.escape_debug()
            ),
        ));
    }
    Ok(())
}

/// At most [`MAX_TTL_MS`]; 0 (never expires) is allowed.
fn check_ttl(field: &str, ttl: DurationMs) -> Result<(), ConfigError> {
    if ttl.0 > MAX_TTL_MS {
        return Err(invalid(
            field,
            format!(
                "must be at most {} (100 years), got {ttl}",
                DurationMs(MAX_TTL_MS)
            ),
        ));
    }
    Ok(())
}
