//! `[ratelimit]`: the named policies of `RL.CHECK ... POLICY <name>`, a named table rather
//! than scalar settings, so it has no flags or CONFIG names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::values::named_enum;
use super::{invalid, ConfigError};
use crate::duration::DurationMs;

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

impl RateLimitConfig {
    /// Adds the built-in policies that a file did not name.
    pub(super) fn merge_builtin(&mut self) {
        for (name, policy) in RateLimitConfig::default().policies {
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
