//! `[ratelimit]`: what rate-limit commands do at a full memory, the cap on one key's leases,
//! and the named policies of `RL.CHECK ... POLICY <name>` (a named table rather than scalar
//! settings, so the policies have no flags or CONFIG names).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::declare::settings;
use super::values::named_enum;
use super::{invalid, ConfigError};
use crate::duration::DurationMs;

settings! {
    /// `[ratelimit]`: behaviour at a full memory, the lease cap, named policies.
    pub struct RateLimitConfig in ratelimit;

    /// What a rate-limit command that would store new state (a new key, a policy's first
    /// state in a key, a new lease) answers while memory is over maxmemory and nothing is left
    /// to evict: deny (a normal denial, retry after 1 s: fails closed), allow (the algorithm's
    /// answer, not stored: fails open) or oom (Redis's -OOM error). State that exists is
    /// always answered.
    on_full_memory: FullMemory = FullMemory::Deny, config "tollgate-rl-on-full-memory", runtime,
        flag "rl-on-full-memory";
    /// Most leases one key may hold: an RL.ACQUIRE whose max is above it is an argument error
    /// (an acquire costs time in proportion to the key's leases, under its shard's lock).
    max_leases: u64 = 10_000, config "tollgate-rl-max-leases", runtime, range(1, MAX_LEASES),
        flag "rl-max-leases";

    tables;
    /// `[ratelimit.policies.<name>]`. Default: the seeds' `auth`, `ai`, `authenticated`,
    /// `public` and `chat` (see [`default_policies`]).
    policies: BTreeMap<String, Policy> = default_policies();
}

/// The highest `max_leases`: at a million leases one acquire would hold its shard's lock for
/// milliseconds, which no concurrency limit needs.
const MAX_LEASES: u64 = 1_000_000;

named_enum! {
    /// `ratelimit.on_full_memory`: the answer to a rate-limit command that would store new
    /// state while memory is full.
    #[derive(Default)]
    pub enum FullMemory {
        /// A denial (`allowed` 0, `retry_after_ms` 1000): abuse protection fails closed.
        #[default]
        Deny = "deny",
        /// The algorithm's answer for fresh state, which is not stored: fails open.
        Allow = "allow",
        /// Redis's `-OOM command not allowed when used memory > 'maxmemory'.`
        Oom = "oom",
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

/// The seeds' policies. The resume builder (seed 002) enforced `auth` 5/min, `ai` 10/min,
/// `authenticated` 60/min and `public` 30/min all with one Redis sliding window, so all four
/// keep `sliding-window` (same admissions its users saw); the RAG chatbot (seed 004) ran a
/// token bucket of 100/min per session, which is `chat`.
fn default_policies() -> BTreeMap<String, Policy> {
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
    policies
        .into_iter()
        .map(|(n, p)| (n.to_string(), p))
        .collect()
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

impl RateLimitConfig {
    /// Adds the built-in policies that a file did not name.
    pub(super) fn merge_builtin(&mut self) {
        for (name, policy) in default_policies() {
            self.policies.entry(name).or_insert(policy);
        }
    }

    /// Checks every policy; the error names the offending field.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (name, p) in &self.policies {
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

/// Names travel as command arguments (`POLICY auth`), so they must be typeable: non-empty, no
/// whitespace or control characters.
fn check_name(field: &str, name: &str) -> Result<(), ConfigError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            field,
            format!("name '{name}' must be non-empty without spaces or control characters"),
        ));
    }
    Ok(())
}
