//! Counters and latency histograms, for INFO (and the Prometheus endpoint once it exists):
//! rate-limit decisions per policy, per-command calls, time, failures and latency, error
//! replies by code, and the instantaneous rates Redis samples ten times a second.

pub mod commands;
pub mod quota;
mod ratelimit;
pub mod rates;

pub use ratelimit::{Decisions, RateLimitMetrics};
