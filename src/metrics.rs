//! Counters of decisions, per rate-limit policy, for INFO's `# Tollgate` section (and the
//! Prometheus endpoint once it exists).

use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct Decisions {
    pub allowed: AtomicU64,
    pub denied: AtomicU64,
}

impl Decisions {
    pub fn record(&self, allowed: bool) {
        let c = if allowed { &self.allowed } else { &self.denied };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Decisions by policy name (`inline` for RL.CHECK with explicit numbers, `cl.throttle`,
/// `leases`). Names come from the config, so the map stays small.
#[derive(Debug, Default)]
pub struct RateLimitMetrics {
    by_policy: RwLock<BTreeMap<String, Arc<Decisions>>>,
}

impl RateLimitMetrics {
    pub fn policy(&self, name: &str) -> Arc<Decisions> {
        if let Some(d) = self.by_policy.read().get(name) {
            return d.clone();
        }
        self.by_policy
            .write()
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// (name, allowed, denied) for every policy seen so far.
    pub fn snapshot(&self) -> Vec<(String, u64, u64)> {
        self.by_policy
            .read()
            .iter()
            .map(|(n, d)| {
                (
                    n.clone(),
                    d.allowed.load(Ordering::Relaxed),
                    d.denied.load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    pub fn reset(&self) {
        self.by_policy.write().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_policy() {
        let m = RateLimitMetrics::default();
        m.policy("ai").record(true);
        m.policy("ai").record(false);
        m.policy("auth").record(false);
        assert_eq!(
            m.snapshot(),
            vec![("ai".into(), 1, 1), ("auth".into(), 0, 1)]
        );
    }
}
