//! `[log]`: verbosity and line format.

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
