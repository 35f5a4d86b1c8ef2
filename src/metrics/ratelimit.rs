//! Counters of decisions, per rate-limit policy, for INFO's `# Tollgate` section.

use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

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
/// `leases`). Names come from the config, so the map stays small. The three built-in forms
/// have their own counters: they are hit on every request of those commands, and a map
/// behind a lock would be a shared cache line written twice per request.
#[derive(Debug, Default)]
pub struct RateLimitMetrics {
    inline: Decisions,
    cell: Decisions,
    leases: Decisions,
    by_policy: RwLock<BTreeMap<String, Decisions>>,
}

const INLINE: &str = "inline";
const CELL: &str = "cl.throttle";
const LEASES: &str = "leases";

impl RateLimitMetrics {
    /// Counts one decision of the policy `name`.
    pub fn record(&self, name: &str, allowed: bool) {
        match name {
            INLINE => self.inline.record(allowed),
            CELL => self.cell.record(allowed),
            LEASES => self.leases.record(allowed),
            _ => {
                if let Some(d) = self.by_policy.read().get(name) {
                    return d.record(allowed);
                }
                self.by_policy
                    .write()
                    .entry(name.to_string())
                    .or_default()
                    .record(allowed);
            }
        }
    }

    /// (name, allowed, denied) for every policy seen so far, by name.
    pub fn snapshot(&self) -> Vec<(String, u64, u64)> {
        let count = |d: &Decisions| {
            (
                d.allowed.load(Ordering::Relaxed),
                d.denied.load(Ordering::Relaxed),
            )
        };
        let mut out: Vec<(String, u64, u64)> = self
            .by_policy
            .read()
            .iter()
            .map(|(n, d)| {
                let (a, b) = count(d);
                (n.clone(), a, b)
            })
            .collect();
        for (name, d) in [
            (INLINE, &self.inline),
            (CELL, &self.cell),
            (LEASES, &self.leases),
        ] {
            let (a, b) = count(d);
            if a + b > 0 {
                out.push((name.to_string(), a, b));
            }
        }
        out.sort();
        out
    }

    pub fn reset(&self) {
        self.by_policy.write().clear();
        for d in [&self.inline, &self.cell, &self.leases] {
            d.allowed.store(0, Ordering::Relaxed);
            d.denied.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_policy() {
        let m = RateLimitMetrics::default();
        m.record("ai", true);
        m.record("ai", false);
        m.record("auth", false);
        m.record("inline", true);
        m.record("cl.throttle", false);
        assert_eq!(
            m.snapshot(),
            vec![
                ("ai".into(), 1, 1),
                ("auth".into(), 0, 1),
                ("cl.throttle".into(), 0, 1),
                ("inline".into(), 1, 0)
            ]
        );
        m.reset();
        assert_eq!(m.snapshot(), vec![]);
    }
}
