//! `[log]`: verbosity and line format, and the hook through which CONFIG SET loglevel
//! reaches the running log filter.

use std::sync::OnceLock;

use parking_lot::Mutex;

use super::declare::settings;
use super::{LogFormat, LogLevel};

settings! {
    /// `[log]`.
    pub struct LogConfig in log;

    /// trace, debug, info, warn, error; Redis's names work too: debug, verbose (= debug),
    /// notice (= info), warning (= warn).
    level: LogLevel = LogLevel::Info, config "loglevel", runtime, flag "loglevel";
    /// "text" for people, "json" for log collectors.
    format: LogFormat = LogFormat::Text, config "tollgate-log-format", fixed, flag "log-format";
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
