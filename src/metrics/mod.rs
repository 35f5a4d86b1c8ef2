//! Counters and latency histograms, for INFO and the Prometheus endpoint (`/metrics`):
//! rate-limit decisions per policy, per-command calls, time, failures and latency, error
//! replies by code, the instantaneous rates Redis samples ten times a second, SLOWLOG and the
//! LATENCY monitor.

pub mod commands;
pub mod latency;
pub mod quota;
mod ratelimit;
pub mod rates;
pub mod slowlog;

pub use ratelimit::{Decisions, RateLimitMetrics};
