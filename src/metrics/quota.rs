//! Counters of quota operations per plan and metric, for INFO's `# Quota` section (and the
//! Prometheus endpoint later). Plans and metrics come from the config, so the map stays small.

use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// What happened to one metric of one plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A charge debited `amount`.
    Charged(u64),
    /// A charge or reserve was refused.
    Denied,
    /// A repeated id got its first outcome back.
    Replayed,
    /// A hold was opened.
    Reserved,
    Settled,
    Canceled,
    /// A hold was released by its TTL.
    Expired,
    /// A charge was refunded (all or part of it).
    Refunded,
}

#[derive(Debug, Default)]
pub struct Counters {
    pub charges: AtomicU64,
    pub charged: AtomicU64,
    pub denied: AtomicU64,
    pub replayed: AtomicU64,
    pub reserved: AtomicU64,
    pub settled: AtomicU64,
    pub canceled: AtomicU64,
    pub expired: AtomicU64,
    pub refunds: AtomicU64,
}

/// One line of INFO: every counter, and the holds open (opened minus closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Line {
    pub charges: u64,
    pub charged: u64,
    pub denied: u64,
    pub replayed: u64,
    pub reserved: u64,
    pub settled: u64,
    pub canceled: u64,
    pub expired: u64,
    pub refunds: u64,
    pub holds_open: u64,
}

#[derive(Debug, Default)]
pub struct QuotaMetrics {
    /// Plan → metric → counters: looked up by borrowed names, no allocation per event.
    by: RwLock<BTreeMap<String, BTreeMap<String, Counters>>>,
}

impl QuotaMetrics {
    pub fn record(&self, plan: &str, metric: &str, event: Event) {
        let apply = |c: &Counters| {
            let add = |a: &AtomicU64, n: u64| {
                a.fetch_add(n, Ordering::Relaxed);
            };
            match event {
                Event::Charged(n) => {
                    add(&c.charges, 1);
                    add(&c.charged, n);
                }
                Event::Denied => add(&c.denied, 1),
                Event::Replayed => add(&c.replayed, 1),
                Event::Reserved => add(&c.reserved, 1),
                Event::Settled => add(&c.settled, 1),
                Event::Canceled => add(&c.canceled, 1),
                Event::Expired => add(&c.expired, 1),
                Event::Refunded => add(&c.refunds, 1),
            }
        };
        if let Some(c) = self.by.read().get(plan).and_then(|m| m.get(metric)) {
            return apply(c);
        }
        apply(
            self.by
                .write()
                .entry(plan.to_string())
                .or_default()
                .entry(metric.to_string())
                .or_default(),
        );
    }

    /// Every (plan, metric) seen, in order.
    pub fn snapshot(&self) -> Vec<(String, String, Line)> {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        self.by
            .read()
            .iter()
            .flat_map(|(p, metrics)| metrics.iter().map(move |(m, c)| ((p, m), c)))
            .map(|((p, m), c)| {
                let closed = get(&c.settled) + get(&c.canceled) + get(&c.expired);
                let line = Line {
                    charges: get(&c.charges),
                    charged: get(&c.charged),
                    denied: get(&c.denied),
                    replayed: get(&c.replayed),
                    reserved: get(&c.reserved),
                    settled: get(&c.settled),
                    canceled: get(&c.canceled),
                    expired: get(&c.expired),
                    refunds: get(&c.refunds),
                    holds_open: get(&c.reserved).saturating_sub(closed),
                };
                (p.clone(), m.clone(), line)
            })
            .collect()
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        self.by.write().clear();
    }
}
