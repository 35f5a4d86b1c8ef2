//! `[log]`: verbosity and line format, and the hook through which CONFIG SET loglevel
//! reaches the running log filter.

use std::sync::OnceLock;

use parking_lot::Mutex;

use super::declare::{settings, LONG_MAX};
use super::{LogFormat, LogLevel};

settings! {
    /// `[log]`.
    pub struct LogConfig in log;

    /// trace, debug, info, warn, error; Redis's names work too: debug, verbose (= debug),
    /// notice (= info), warning (= warn).
    level: LogLevel = LogLevel::Info, config "loglevel", runtime, flag "loglevel";
    /// "text" for people, "json" for log collectors.
    format: LogFormat = LogFormat::Text, config "tollgate-log-format", fixed, flag "log-format";
    /// SLOWLOG: log commands that took at least this many microseconds; 0 logs every
    /// command, a negative number none.
    slowlog_log_slower_than: i64 = 10_000, config "slowlog-log-slower-than", runtime,
        check(at_least_minus_one), set_with(slowlog_threshold);
    /// SLOWLOG: entries kept (the oldest go first).
    slowlog_max_len: u64 = 128, config "slowlog-max-len", runtime, range(0, LONG_MAX);
    /// LATENCY: record commands that took at least this many milliseconds; 0 = off.
    latency_monitor_threshold: u64 = 0, config "latency-monitor-threshold", runtime,
        range(0, LONG_MAX);
    /// Keep a latency histogram per command (INFO latencystats, the /metrics histograms).
    latency_tracking: bool = true, config "latency-tracking", runtime;
    /// The percentiles INFO latencystats reports, space-separated, each 0 to 100.
    latency_tracking_info_percentiles: String = "50 99 99.9".to_string(),
        config "latency-tracking-info-percentiles", runtime, check(percentile_list),
        set_with(percentiles_from_redis);
}

fn at_least_minus_one(v: &i64) -> Result<(), String> {
    if *v >= -1 {
        return Ok(());
    }
    Err(format!("must be -1 or more, got {v}"))
}

/// CONFIG SET slowlog-log-slower-than, with Redis's range (-1 to LLONG_MAX) and texts.
fn slowlog_threshold(s: &str) -> Result<i64, String> {
    let v = super::redis_get_set::redis_int(s)?;
    if v < -1 {
        return Err(format!(
            "argument must be between -1 and {} inclusive",
            i64::MAX
        ));
    }
    Ok(v)
}

/// The percentiles of `latency_tracking_info_percentiles`, as numbers (the setting is
/// checked: `None` never happens past validation).
pub fn percentiles(s: &str) -> Option<Vec<f64>> {
    s.split_whitespace()
        .map(|w| w.parse::<f64>().ok().filter(|p| (0.0..=100.0).contains(p)))
        .collect()
}

fn percentile_list(s: &String) -> Result<(), String> {
    match percentiles(s) {
        Some(_) => Ok(()),
        None => Err(format!(
            "'{s}' is not a list of percentiles from 0 to 100, e.g. \"50 99 99.9\""
        )),
    }
}

/// CONFIG SET latency-tracking-info-percentiles: Redis's text for a bad list; the value
/// stored as Redis prints it back (`%f` trimmed: "50 99 99.9").
fn percentiles_from_redis(s: &str) -> Result<String, String> {
    let numbers: Option<Vec<f64>> = s.split_whitespace().map(|w| w.parse().ok()).collect();
    let list = numbers
        .ok_or_else(|| "Invalid latency-tracking-info-percentiles parameters".to_string())?;
    if list.iter().any(|p| !(0.0..=100.0).contains(p)) {
        return Err(
            "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into(),
        );
    }
    Ok(list
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(" "))
}

/// The binary's way to change the running log filter. The tracing subscriber is global to the
/// process, so this is too; without it (tests, embedders) a new level shows in CONFIG GET only.
static RELOADER: OnceLock<Reloader> = OnceLock::new();

struct Reloader {
    /// The level last applied, so that unrelated CONFIG SETs leave a `TOLLGATE_LOG` filter be.
    applied: Mutex<LogLevel>,
    apply: Box<dyn Fn(LogLevel) + Send + Sync>,
}

/// Installs `apply`, to be called with the new level whenever `log.level` changes from
/// `current`, the level the filter was built from. Only the first call installs anything.
pub fn on_level_change(current: LogLevel, apply: impl Fn(LogLevel) + Send + Sync + 'static) {
    let _ = RELOADER.set(Reloader {
        applied: Mutex::new(current),
        apply: Box::new(apply),
    });
}

/// Applies `level` to the running filter if it differs from the last one applied (called
/// whenever the configuration changed, e.g. by CONFIG SET loglevel).
pub fn level_changed(level: LogLevel) {
    let Some(r) = RELOADER.get() else { return };
    let mut applied = r.applied.lock();
    if *applied != level {
        *applied = level;
        (r.apply)(level);
    }
}
