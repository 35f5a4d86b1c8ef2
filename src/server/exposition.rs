//! `/metrics`: the server's state in the Prometheus (OpenMetrics) text format, read at scrape
//! time from the counters INFO reads. Nothing here runs on the command path; a scrape costs
//! one pass over the counters, the shards' key counts and the per-command histograms.
//!
//! Names follow Prometheus's conventions: the `tollgate_` prefix; counters are families whose
//! samples end in `_total` (the encoder adds it); base units (`_seconds`, `_bytes`) declared as
//! the family's unit, which the encoder appends to the name.

use crate::state::State;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The content type of what [`render`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the command latency buckets, in seconds: 10 us to 1 s (most commands
/// take a few microseconds; scripts and KEYS can take far longer).
const LATENCY_BOUNDS: [f64; 16] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0,
];

/// The exposition of `state`, ending with `# EOF`.
pub fn render(state: &Arc<State>) -> Result<String, fmt::Error> {
    let mut registry = Registry::with_prefix("tollgate");
    registry.register_collector(Box::new(Scrape(state.clone())));
    let mut out = String::with_capacity(16 * 1024);
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

/// Reads the state when the registry encodes it.
struct Scrape(Arc<State>);

impl fmt::Debug for Scrape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scrape")
    }
}

type Labels = Vec<(&'static str, String)>;

/// Writes one family: its descriptor, then a sample per row (a row with no labels is
/// written bare).
fn family<V>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    kind: MetricType,
    rows: impl IntoIterator<Item = (Labels, V)>,
    mut write: impl FnMut(&mut prometheus_client::encoding::MetricEncoder, &V) -> fmt::Result,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, unit.as_ref(), kind)?;
    for (labels, v) in rows {
        if labels.is_empty() {
            write(&mut m, &v)?;
        } else {
            write(&mut m.encode_family(&labels)?, &v)?;
        }
    }
    Ok(())
}

fn counter<V: prometheus_client::encoding::EncodeCounterValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    rows: impl IntoIterator<Item = (Labels, V)>,
) -> fmt::Result {
    family(enc, name, help, unit, MetricType::Counter, rows, |m, v| {
        m.encode_counter::<NoLabelSet, V, u64>(v, None)
    })
}

fn gauge<V: prometheus_client::encoding::EncodeGaugeValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    rows: impl IntoIterator<Item = (Labels, V)>,
) -> fmt::Result {
    family(enc, name, help, unit, MetricType::Gauge, rows, |m, v| {
        m.encode_gauge(v)
    })
}

/// One unlabelled sample.
fn one<V>(v: V) -> [(Labels, V); 1] {
    [(Vec::new(), v)]
}

fn label(name: &'static str, value: impl Into<String>) -> Labels {
    vec![(name, value.into())]
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let st = &*self.0;
        server(st, &mut enc)?;
        commands(st, &mut enc)?;
        keyspace(st, &mut enc)?;
        ratelimit(st, &mut enc)?;
        quota(st, &mut enc)?;
        cache(st, &mut enc)?;
        persistence(st, &mut enc)
    }
}

fn server(st: &State, enc: &mut DescriptorEncoder) -> fmt::Result {
    let build = [("version", env!("CARGO_PKG_VERSION").to_string())];
    let mut m = enc.encode_descriptor("build", "tollgate's version", None, MetricType::Info)?;
    m.encode_info(&build)?;
    gauge(
        enc,
        "start_time",
        "When the server started, unix time",
        Some(Unit::Seconds),
        one(st.started_ms as f64 / 1000.0),
    )?;
    gauge(
        enc,
        "connected_clients",
        "Client connections open",
        None,
        one(st.clients.len() as u64),
    )?;
    gauge(
        enc,
        "blocked_clients",
        "Clients waiting in a blocking command",
        None,
        one(st.stats.blocked_clients.load(Ordering::Relaxed)),
    )?;
    let s = &st.stats;
    counter(
        enc,
        "connections_received",
        "Connections accepted",
        None,
        one(s.connections_received.load(Ordering::Relaxed)),
    )?;
    counter(
        enc,
        "connections_rejected",
        "Connections refused (maxclients, protected mode)",
        None,
        one(s.rejected_connections.load(Ordering::Relaxed)),
    )?;
    let (_, net_in, net_out) = st.traffic();
    counter(
        enc,
        "net_input",
        "Bytes read from clients",
        Some(Unit::Bytes),
        one(net_in),
    )?;
    counter(
        enc,
        "net_output",
        "Bytes written to clients",
        Some(Unit::Bytes),
        one(net_out),
    )?;
    let used = st.keyspace.used_memory() as u64;
    gauge(
        enc,
        "used_memory",
        "Memory held by keys and values (what maxmemory compares; INFO used_memory)",
        Some(Unit::Bytes),
        one(used),
    )?;
    gauge(
        enc,
        "resident_memory",
        "Resident set size of the process",
        Some(Unit::Bytes),
        one(crate::commands::server::rss_bytes()),
    )?;
    let max = st.config.read().store.maxmemory.0;
    gauge(
        enc,
        "maxmemory",
        "The maxmemory setting; 0 = no limit",
        Some(Unit::Bytes),
        one(max),
    )
}

fn commands(st: &State, enc: &mut DescriptorEncoder) -> fmt::Result {
    let lines = st.commands.lines();
    let by_cmd = |f: fn(&crate::metrics::commands::CommandLine) -> u64| {
        lines
            .iter()
            .map(move |l| (label("cmd", l.name), f(l)))
            .collect::<Vec<_>>()
    };
    counter(
        enc,
        "commands",
        "Commands run, by command (INFO commandstats calls)",
        None,
        by_cmd(|l| l.calls),
    )?;
    counter(
        enc,
        "command_errors",
        "Commands that replied an error, by command (failed_calls)",
        None,
        by_cmd(|l| l.failed),
    )?;
    counter(
        enc,
        "commands_rejected",
        "Commands refused before running (arity, NOAUTH, OOM...), by command",
        None,
        by_cmd(|l| l.rejected),
    )?;
    let mut m = enc.encode_descriptor(
        "command_duration",
        "Time each command took, by command",
        Some(&Unit::Seconds),
        MetricType::Histogram,
    )?;
    for l in &lines {
        let Some(h) = &l.latency else { continue };
        let mut buckets: Vec<(f64, u64)> = LATENCY_BOUNDS.iter().map(|b| (*b, 0)).collect();
        buckets.push((f64::MAX, 0));
        for v in h.iter_recorded() {
            let secs = v.value_iterated_to() as f64 / 1e9;
            let i = LATENCY_BOUNDS
                .iter()
                .position(|b| secs <= *b)
                .unwrap_or(LATENCY_BOUNDS.len());
            buckets[i].1 += v.count_at_value();
        }
        // The histogram's own count and the summed time: the counters and the histogram
        // are folded in one after the other, so a scrape between the two would otherwise
        // show a count the buckets do not add up to.
        let labels = label("cmd", l.name);
        m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
            l.ns as f64 / 1e9,
            h.len(),
            &buckets,
            None,
        )?;
    }
    counter(
        enc,
        "error_replies",
        "Error replies, by their first word (INFO errorstats)",
        None,
        st.commands
            .error_counts()
            .into_iter()
            .map(|(code, n)| (label("code", code), n)),
    )
}

fn keyspace(st: &State, enc: &mut DescriptorEncoder) -> fmt::Result {
    let ks = &st.keyspace;
    let counts: Vec<(usize, (usize, usize))> = (0..ks.databases())
        .map(|db| (db, ks.db_counts(db)))
        .filter(|(_, (keys, _))| *keys > 0)
        .collect();
    gauge(
        enc,
        "keys",
        "Keys per database",
        None,
        counts
            .iter()
            .map(|(db, (keys, _))| (label("db", db.to_string()), *keys as u64)),
    )?;
    gauge(
        enc,
        "keys_with_expiry",
        "Keys with a TTL per database",
        None,
        counts
            .iter()
            .map(|(db, (_, volatile))| (label("db", db.to_string()), *volatile as u64)),
    )?;
    let s = ks.stats();
    counter(
        enc,
        "expired_keys",
        "Keys deleted at their TTL",
        None,
        one(s.expired),
    )?;
    counter(
        enc,
        "evicted_keys",
        "Keys evicted by maxmemory",
        None,
        one(s.evicted),
    )?;
    counter(
        enc,
        "keyspace_hits",
        "Key lookups that found the key",
        None,
        one(s.hits),
    )?;
    counter(
        enc,
        "keyspace_misses",
        "Key lookups that did not",
        None,
        one(s.misses),
    )
}

fn ratelimit(st: &State, enc: &mut DescriptorEncoder) -> fmt::Result {
    let decisions = st.ratelimit.snapshot();
    counter(
        enc,
        "ratelimit_decisions",
        "Rate-limit decisions, by policy (inline, cl.throttle, leases for the built-in forms) and result",
        None,
        decisions.iter().flat_map(|(policy, allowed, denied)| {
            [("allowed", *allowed), ("denied", *denied)].map(|(result, n)| {
                (
                    vec![("policy", policy.clone()), ("result", result.to_string())],
                    n,
                )
            })
        }),
    )?;
    let (denied, allowed, oom) = st.ratelimit.full_memory.counts();
    counter(
        enc,
        "ratelimit_full_memory_answers",
        "Answers ratelimit.on_full_memory gave to requests that would store new state",
        None,
        [("deny", denied), ("allow", allowed), ("oom", oom)].map(|(a, n)| (label("answer", a), n)),
    )
}

fn quota(st: &State, enc: &mut DescriptorEncoder) -> fmt::Result {
    let lines = st.quota_stats.snapshot();
    let rows = |f: fn(&crate::metrics::quota::Line) -> u64| {
        lines
            .iter()
            .map(move |(plan, metric, l)| {
                (
                    vec![("plan", plan.clone()), ("metric", metric.clone())],
                    f(l),
                )
            })
            .collect::<Vec<_>>()
    };
    type Field = fn(&crate::metrics::quota::Line) -> u64;
    let counters: [(&str, &str, Field); 5] = [
        ("quota_charges", "Quota charges that debited", |l| l.charges),
        (
            "quota_charged_units",
            "Units debited by quota charges",
            |l| l.charged,
        ),
        ("quota_denials", "Quota charges and reserves refused", |l| {
            l.denied
        }),
        (
            "quota_replays",
            "Repeated idempotency ids answered with their first outcome",
            |l| l.replayed,
        ),
        ("quota_refunds", "Quota charges refunded", |l| l.refunds),
    ];
    for (name, help, f) in counters {
        counter(enc, name, help, None, rows(f))?;
    }
    counter(
        enc,
        "quota_holds",
        "Quota holds by what happened to them: opened, settled, canceled, expired",
        None,
        lines.iter().flat_map(|(plan, metric, l)| {
            [
                ("opened", l.reserved),
                ("settled", l.settled),
                ("canceled", l.canceled),
                ("expired", l.expired),
            ]
            .map(|(event, n)| {
                (
                    vec![
                        ("plan", plan.clone()),
                        ("metric", metric.clone()),
                        ("event", event.to_string()),
                    ],
                    n,
                )
            })
        }),
    )?;
    gauge(
        enc,
        "quota_holds_open",
        "Quota holds open now",
        None,
        rows(|l| l.holds_open),
    )
}

fn cache(st: &State, enc: &mut DescriptorEncoder) -> fmt::Result {
    let c = &st.cache;
    let types: Vec<(String, crate::cache::stats::Counters)> = c
        .catalog
        .types()
        .map(|(_, name)| name.to_string())
        .zip(c.books.totals())
        .collect();
    let rows = |f: fn(&crate::cache::stats::Counters) -> u64| {
        types
            .iter()
            .map(move |(t, c)| (label("type", t.clone()), f(c)))
            .collect::<Vec<_>>()
    };
    gauge(
        enc,
        "cache_entries",
        "Cache entries held",
        None,
        rows(|c| c.entries),
    )?;
    gauge(
        enc,
        "cache_size",
        "Bytes of the cached values held",
        Some(Unit::Bytes),
        rows(|c| c.bytes),
    )?;
    counter(
        enc,
        "cache_hits",
        "Cache lookups answered",
        None,
        rows(|c| c.hits),
    )?;
    counter(
        enc,
        "cache_misses",
        "Cache lookups not answered",
        None,
        rows(|c| c.misses),
    )?;
    counter(
        enc,
        "cache_tokens_saved",
        "Tokens the hits saved (as stored with the entries)",
        None,
        rows(|c| c.tokens_saved),
    )?;
    counter(
        enc,
        "cache_cost_saved_usd",
        "Cost the hits saved, in US dollars",
        None,
        types
            .iter()
            .map(|(t, c)| (label("type", t.clone()), c.cost_saved_usd())),
    )?;
    counter(
        enc,
        "cache_evictions",
        "Cache entries evicted by maxmemory",
        None,
        rows(|c| c.evictions),
    )?;
    counter(
        enc,
        "cache_expired",
        "Cache entries deleted at their TTL",
        None,
        rows(|c| c.expired),
    )
}

fn persistence(st: &State, enc: &mut DescriptorEncoder) -> fmt::Result {
    let p = &st.persist;
    gauge(
        enc,
        "last_save_time",
        "When the last snapshot was saved (the start until the first), unix time",
        Some(Unit::Seconds),
        one(p.last_save_secs()),
    )?;
    gauge(
        enc,
        "last_save_ok",
        "1 if the last background save succeeded, else 0",
        None,
        one(u64::from(p.last_bgsave_ok())),
    )?;
    gauge(
        enc,
        "changes_since_last_save",
        "Writes since the last snapshot",
        None,
        one(p.changes_since_save(st.keyspace.changes())),
    )?;
    let Some(log) = p.journal.get().map(|j| j.stats()) else {
        return Ok(());
    };
    gauge(
        enc,
        "log_size",
        "Size of the append-only log file",
        Some(Unit::Bytes),
        one(log.bytes),
    )?;
    counter(
        enc,
        "log_fsyncs",
        "fdatasync calls on the log",
        None,
        one(log.fsyncs),
    )?;
    gauge(
        enc,
        "log_last_fsync_duration",
        "How long the last fdatasync of the log took",
        Some(Unit::Seconds),
        one(log.last_fsync_us as f64 / 1e6),
    )?;
    counter(
        enc,
        "log_rewrites",
        "Compactions of the log",
        None,
        one(log.rewrites),
    )?;
    gauge(
        enc,
        "log_failed",
        "1 if a write or sync of the log failed (the log takes no more records), else 0",
        None,
        one(u64::from(log.failed)),
    )
}
