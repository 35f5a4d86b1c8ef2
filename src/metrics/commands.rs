//! Per-command statistics as Redis 7 keeps them: calls, time spent, calls rejected before
//! running (arity, NOAUTH, OOM, not allowed in MULTI) and calls that replied an error
//! (`INFO commandstats`); latency percentiles from an HDR histogram per command (`INFO
//! latencystats`); error replies by their first word (`INFO errorstats`).
//!
//! A connection tallies into its own `Tally` and folds it in once per batch of commands,
//! into the stripe of the thread it runs on, so threads do not write the same cache lines
//! (a first version with one shared set of counters, a SipHash map and two std clock reads per
//! command cost measurable throughput: README, *Measured design choices*); INFO adds the
//! stripes up.

use foldhash::fast::FixedState;
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Histogram range in nanoseconds, with Redis's precision (2 significant figures).
const LATENCY_MAX_NS: u64 = 1_000_000_000;
/// Redis stops adding error codes to errorstats past this many (a client sending made-up
/// codes must not grow the table without bound).
const MAX_ERROR_CODES: usize = 128;

#[derive(Debug, Default)]
struct Slot {
    calls: AtomicU64,
    ns: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    /// Created on the first call; 2 significant figures over 1 ns..1 s is about 23 KB.
    latency: Mutex<Option<Histogram<u64>>>,
}

/// A cheap clock for timing commands: the CPU's time-stamp counter where it is usable (a few
/// ns to read; `std::time::Instant` is a vDSO call, which showed in profiles of SET: README,
/// *Measured design choices*), the OS clock elsewhere. Readings are ticks, turned into ns by
/// `elapsed_ns`. It times commands only; what the server decides on reads `crate::clock`.
fn clock() -> &'static quanta::Clock {
    static CLOCK: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// A reading of the command clock.
#[inline]
pub fn ticks() -> u64 {
    clock().raw()
}

/// Nanoseconds between two readings of `ticks`.
pub fn elapsed_ns(start: u64, end: u64) -> u64 {
    if end <= start {
        return 0;
    }
    clock().delta_as_nanos(start, end)
}

/// Stripes of counters; threads beyond this many share stripes (still correct, only slower).
const STRIPES: usize = 8;

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: usize = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
}

/// One command's totals, as [`CommandStats::lines`] reports them.
#[derive(Debug, Default)]
pub struct CommandLine {
    pub name: &'static str,
    pub calls: u64,
    /// Time spent in the command, in nanoseconds.
    pub ns: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Each call's time in nanoseconds (2 significant figures).
    pub latency: Option<Histogram<u64>>,
}

/// Server-wide statistics of every command in the table, by name.
#[derive(Debug)]
pub struct CommandStats {
    names: Vec<&'static str>,
    ids: HashMap<&'static str, usize, FixedState>,
    /// `stripes[s][id]`.
    stripes: Box<[Box<[Slot]>]>,
    errors: Mutex<BTreeMap<String, u64>>,
    /// `latency-tracking`: off, no histogram is fed and none is reported.
    tracking: AtomicBool,
    /// `latency-tracking-info-percentiles`, what INFO latencystats reports.
    percentiles: Mutex<Vec<f64>>,
}

/// One connection's statistics since its last fold.
#[derive(Debug, Default)]
pub struct Tally {
    seen: Vec<Local>,
}

#[derive(Debug)]
struct Local {
    name: &'static str,
    /// Nanoseconds of each call: their count is the calls, their sum the time.
    samples: Vec<u64>,
    rejected: u64,
    failed: u64,
}

impl Tally {
    /// Connections use few distinct commands: a short list beats a map.
    fn local(&mut self, name: &'static str) -> &mut Local {
        let i = match self.seen.iter().position(|l| l.name == name) {
            Some(i) => i,
            None => {
                self.seen.push(Local {
                    name,
                    samples: Vec::new(),
                    rejected: 0,
                    failed: 0,
                });
                self.seen.len() - 1
            }
        };
        &mut self.seen[i]
    }

    /// A command that ran for `ns` nanoseconds, and whether it replied an error.
    pub fn call(&mut self, name: &'static str, ns: u64, failed: bool) {
        let l = self.local(name);
        l.failed += u64::from(failed);
        l.samples.push(ns);
    }

    /// A command refused before it ran.
    pub fn reject(&mut self, name: &'static str) {
        self.local(name).rejected += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.seen
            .iter()
            .all(|l| l.samples.is_empty() && l.rejected == 0)
    }
}

impl CommandStats {
    pub fn new(names: impl IntoIterator<Item = &'static str>) -> Self {
        let names: Vec<&'static str> = names.into_iter().collect();
        let ids = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let stripes = (0..STRIPES)
            .map(|_| names.iter().map(|_| Slot::default()).collect())
            .collect();
        CommandStats {
            names,
            ids,
            stripes,
            errors: Mutex::new(BTreeMap::new()),
            tracking: AtomicBool::new(true),
            percentiles: Mutex::new(vec![50.0, 99.0, 99.9]),
        }
    }

    /// The `latency-tracking` settings, applied at start and by CONFIG SET.
    pub fn set_tracking(&self, on: bool, percentiles: Vec<f64>) {
        self.tracking.store(on, Ordering::Relaxed);
        *self.percentiles.lock() = percentiles;
    }

    /// Folds a connection's tally in and empties it (keeping its buffers for reuse). Returns
    /// the calls it held (Redis's `total_commands_processed` counts the same calls).
    pub fn absorb(&self, tally: &mut Tally) -> u64 {
        let stripe = &self.stripes[STRIPE.with(|s| *s)];
        let tracking = self.tracking.load(Ordering::Relaxed);
        let mut total = 0;
        for l in &mut tally.seen {
            if l.samples.is_empty() && l.rejected == 0 {
                continue;
            }
            let calls = l.samples.len() as u64;
            total += calls;
            if let Some(slot) = self.ids.get(l.name).map(|&i| &stripe[i]) {
                slot.calls.fetch_add(calls, Ordering::Relaxed);
                slot.ns.fetch_add(l.samples.iter().sum(), Ordering::Relaxed);
                slot.rejected.fetch_add(l.rejected, Ordering::Relaxed);
                slot.failed.fetch_add(l.failed, Ordering::Relaxed);
                if tracking && !l.samples.is_empty() {
                    let mut h = slot.latency.lock();
                    if h.is_none() {
                        *h = new_histogram();
                    }
                    if let Some(h) = h.as_mut() {
                        for &ns in &l.samples {
                            h.saturating_record(ns.max(1));
                        }
                    }
                }
            }
            l.rejected = 0;
            l.failed = 0;
            l.samples.clear();
        }
        total
    }

    /// Counts an error reply under its code, the text before the first space.
    pub fn error(&self, msg: &str) {
        let code = msg.split(' ').next().unwrap_or(msg);
        let mut errors = self.errors.lock();
        if let Some(n) = errors.get_mut(code) {
            *n += 1;
        } else if errors.len() < MAX_ERROR_CODES {
            errors.insert(code.to_string(), 1);
        }
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for s in self.stripes.iter().flat_map(|s| s.iter()) {
            for c in [&s.calls, &s.ns, &s.rejected, &s.failed] {
                c.store(0, Ordering::Relaxed);
            }
            *s.latency.lock() = None;
        }
        self.errors.lock().clear();
    }

    /// `cmdstat_<name>:calls=..,usec=..,usec_per_call=..,rejected_calls=..,failed_calls=..`
    /// for every command called or refused since the last reset.
    pub fn write_commandstats(&self, s: &mut String) {
        for (id, name) in self.names.iter().enumerate() {
            let [mut calls, mut ns, mut rejected, mut failed] = [0u64; 4];
            for slot in self.stripes.iter().map(|s| &s[id]) {
                calls += slot.calls.load(Ordering::Relaxed);
                ns += slot.ns.load(Ordering::Relaxed);
                rejected += slot.rejected.load(Ordering::Relaxed);
                failed += slot.failed.load(Ordering::Relaxed);
            }
            if calls == 0 && rejected == 0 && failed == 0 {
                continue;
            }
            let usec = ns / 1000;
            let per_call = if calls == 0 {
                0.0
            } else {
                usec as f64 / calls as f64
            };
            let _ = write!(
                s,
                "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n"
            );
        }
    }

    /// The latency histogram of command `id`, its stripes added up; `None` before a call.
    fn merged_latency(&self, id: usize) -> Option<Histogram<u64>> {
        if !self.tracking.load(Ordering::Relaxed) {
            return None;
        }
        let mut merged: Option<Histogram<u64>> = None;
        for slot in self.stripes.iter().map(|s| &s[id]) {
            if let Some(h) = slot.latency.lock().as_ref() {
                match merged.as_mut() {
                    // Same bounds on every stripe: adding cannot fail.
                    Some(m) => {
                        let _ = m.add(h);
                    }
                    None => merged = Some(h.clone()),
                }
            }
        }
        merged.filter(|h| !h.is_empty())
    }

    /// Every command called or refused since the last reset, with its totals and latency
    /// histogram (nanoseconds), for the Prometheus endpoint. Built at scrape time from the
    /// same counters INFO reads: the command path pays nothing for it.
    pub fn lines(&self) -> Vec<CommandLine> {
        let mut out = Vec::new();
        for (id, name) in self.names.iter().enumerate() {
            let mut line = CommandLine {
                name,
                ..CommandLine::default()
            };
            for slot in self.stripes.iter().map(|s| &s[id]) {
                line.calls += slot.calls.load(Ordering::Relaxed);
                line.ns += slot.ns.load(Ordering::Relaxed);
                line.rejected += slot.rejected.load(Ordering::Relaxed);
                line.failed += slot.failed.load(Ordering::Relaxed);
            }
            if line.calls == 0 && line.rejected == 0 && line.failed == 0 {
                continue;
            }
            line.latency = self.merged_latency(id);
            out.push(line);
        }
        out
    }

    /// The latency histogram of the command named `name` (`config|get`), if it ran since the
    /// last reset and latency tracking is on (LATENCY HISTOGRAM).
    pub fn histogram(&self, name: &str) -> Option<Histogram<u64>> {
        self.ids.get(name).and_then(|&id| self.merged_latency(id))
    }

    /// Error replies by code (`errorstats`), in code order.
    pub fn error_counts(&self) -> Vec<(String, u64)> {
        self.errors
            .lock()
            .iter()
            .map(|(c, n)| (c.clone(), *n))
            .collect()
    }

    /// `latency_percentiles_usec_<name>:p50=..,p99=..,p99.9=..` for every command run.
    pub fn write_latencystats(&self, s: &mut String) {
        for (id, name) in self.names.iter().enumerate() {
            let Some(h) = self.merged_latency(id) else {
                continue;
            };
            let percentiles = self.percentiles.lock();
            let _ = write!(s, "latency_percentiles_usec_{name}:");
            for (i, p) in percentiles.iter().enumerate() {
                let usec = h.value_at_percentile(*p) as f64 / 1000.0;
                let sep = if i + 1 < percentiles.len() { "," } else { "" };
                let _ = write!(s, "p{p}={usec:.3}{sep}");
            }
            s.push_str("\r\n");
        }
    }

    /// `errorstat_<CODE>:count=..`, by code.
    pub fn write_errorstats(&self, s: &mut String) {
        for (code, n) in self.errors.lock().iter() {
            let _ = write!(s, "errorstat_{code}:count={n}\r\n");
        }
    }
}

/// `None` only if the constant bounds were invalid (they are not).
fn new_histogram() -> Option<Histogram<u64>> {
    Histogram::new_with_bounds(1, LATENCY_MAX_NS, 2).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> CommandStats {
        CommandStats::new(["get", "set", "config|get"])
    }

    #[test]
    fn tallies_fold_into_redis_lines() {
        let st = stats();
        let mut t = Tally::default();
        t.call("get", 2_000, false);
        t.call("get", 4_000, true);
        t.reject("set");
        t.call("config|get", 10_500, false);
        assert!(!t.is_empty());
        assert_eq!(st.absorb(&mut t), 3, "calls, not refusals");
        assert!(t.is_empty());
        assert_eq!(
            st.absorb(&mut t),
            0,
            "folding an empty tally changes nothing"
        );
        let mut s = String::new();
        st.write_commandstats(&mut s);
        assert_eq!(
            s,
            "cmdstat_get:calls=2,usec=6,usec_per_call=3.00,rejected_calls=0,failed_calls=1\r\n\
             cmdstat_set:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n\
             cmdstat_config|get:calls=1,usec=10,usec_per_call=10.00,rejected_calls=0,failed_calls=0\r\n"
        );
        let mut s = String::new();
        st.write_latencystats(&mut s);
        // HDR reports the top of a value's bucket, as Redis's does (2.007 for 2 us).
        assert_eq!(
            s,
            "latency_percentiles_usec_get:p50=2.007,p99=4.015,p99.9=4.015\r\n\
             latency_percentiles_usec_config|get:p50=10.559,p99=10.559,p99.9=10.559\r\n"
        );
        st.reset();
        let mut s = String::new();
        st.write_commandstats(&mut s);
        st.write_latencystats(&mut s);
        assert_eq!(s, "");
    }

    #[test]
    fn errors_by_code_with_a_cap() {
        let st = stats();
        st.error("ERR wrong number of arguments for 'get' command");
        st.error("WRONGTYPE Operation against a key holding the wrong kind of value");
        st.error("ERR syntax error");
        st.error("NOSPACE");
        let mut s = String::new();
        st.write_errorstats(&mut s);
        assert_eq!(
            s,
            "errorstat_ERR:count=2\r\nerrorstat_NOSPACE:count=1\r\nerrorstat_WRONGTYPE:count=1\r\n"
        );
        for i in 0..200 {
            st.error(&format!("E{i} x"));
        }
        assert_eq!(st.errors.lock().len(), MAX_ERROR_CODES);
        st.error("ERR again");
        assert_eq!(st.errors.lock()["ERR"], 3, "known codes still count");
    }
}
