//! Counters of decisions, per rate-limit policy, and of the answers given at a full memory,
//! for INFO's `# Tollgate` section; and when to warn about a full memory in the log.

use crate::config::FullMemory;
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
    /// Answers to commands that would have stored new state at a full memory.
    pub full_memory: FullMemoryStats,
}

/// How often, at most, a full memory is logged: often enough to be seen, rarely enough that a
/// flood of requests at a full memory does not become a flood of log lines.
pub const FULL_MEMORY_WARNING_MS: u64 = 60_000;

/// The answers `ratelimit.on_full_memory` gave, by behaviour, and the state of the
/// once-a-minute warning. Lock-free: at a full memory every new key comes through here.
#[derive(Debug, Default)]
pub struct FullMemoryStats {
    denied: AtomicU64,
    allowed: AtomicU64,
    oom: AtomicU64,
    /// Server-clock ms before which no warning is due (0: none given yet).
    next_warning_ms: AtomicU64,
    /// Answers since the last warning, which the next one reports.
    unwarned: AtomicU64,
}

impl FullMemoryStats {
    /// Counts one answer given as `how` at `now_ms` (server clock). Returns `Some(n)` when a
    /// warning is due, at most once per [`FULL_MEMORY_WARNING_MS`]: `n` answers were given
    /// since the last one, this one included.
    pub fn record(&self, how: FullMemory, now_ms: u64) -> Option<u64> {
        let counter = match how {
            FullMemory::Deny => &self.denied,
            FullMemory::Allow => &self.allowed,
            FullMemory::Oom => &self.oom,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.unwarned.fetch_add(1, Ordering::Relaxed);
        let next = self.next_warning_ms.load(Ordering::Relaxed);
        if now_ms < next {
            return None;
        }
        // Of the threads that find a warning due, one moves the next one a minute on and warns.
        let later = now_ms.saturating_add(FULL_MEMORY_WARNING_MS);
        self.next_warning_ms
            .compare_exchange(next, later, Ordering::Relaxed, Ordering::Relaxed)
            .ok()?;
        Some(self.unwarned.swap(0, Ordering::Relaxed))
    }

    /// (denied, allowed, oom) since start or the last reset.
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.denied.load(Ordering::Relaxed),
            self.allowed.load(Ordering::Relaxed),
            self.oom.load(Ordering::Relaxed),
        )
    }
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
        let f = &self.full_memory;
        for c in [&f.denied, &f.allowed, &f.oom] {
            c.store(0, Ordering::Relaxed);
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

    /// A warning at the first answer, then at most one a minute on the server clock, each
    /// reporting the answers since the one before.
    #[test]
    fn full_memory_warns_once_a_minute() {
        let f = FullMemoryStats::default();
        let t = 1_700_000_000_000;
        assert_eq!(f.record(FullMemory::Deny, t), Some(1));
        assert_eq!(f.record(FullMemory::Deny, t), None);
        assert_eq!(f.record(FullMemory::Allow, t + 30_000), None);
        assert_eq!(
            f.record(FullMemory::Oom, t + FULL_MEMORY_WARNING_MS - 1),
            None
        );
        assert_eq!(
            f.record(FullMemory::Deny, t + FULL_MEMORY_WARNING_MS),
            Some(4)
        );
        assert_eq!(
            f.record(FullMemory::Deny, t + FULL_MEMORY_WARNING_MS + 1),
            None
        );
        // A quiet hour, then the next answer warns at once.
        assert_eq!(f.record(FullMemory::Deny, t + 3_600_000), Some(2));
        assert_eq!(f.counts(), (5, 1, 1));
        let m = RateLimitMetrics::default();
        m.full_memory.record(FullMemory::Oom, t);
        m.reset();
        assert_eq!(m.full_memory.counts(), (0, 0, 0));
    }
}
