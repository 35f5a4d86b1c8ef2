//! tollgate: a Redis-protocol server for rate limiting, usage quotas and caching of expensive
//! results, that stock Redis clients and tools talk to as they talk to Redis 7.
//!
//! ```text
//!                    ┌──────────────────────── tokio runtime (N worker threads) ──────────┐
//!  TCP clients ──▶   │ listener ── accept ─▶ connection task (one per client)             │
//!                    │               │        read → decode all complete commands          │
//!                    │               │        → execute each under the world lock (shared, │
//!                    │               │          or exclusive for EXEC/FLUSH*/SWAPDB/KEYS)   │
//!                    │               │        → one write of all replies                   │
//!                    │               │        (per-command stats folded in once per batch, │
//!                    │               │          into the worker thread's stripe: `metrics`)│
//!  HTTP scrapers ──▶ │ metrics_port ─▶ hyper task per connection: /metrics reads the       │
//!                    │               │  counters at scrape time; /health reads State::phase │
//!                    └───────────────┼──────────────────────────────────────────────────────┘
//!                                    ▼
//!                    keyspace: databases × shards, each a Mutex<Shard> (table, TTLs, WATCHes)
//!                                    ▲
//!  tollgate-expiry thread ───────────┘ hz times a second: sample keys with a TTL, reclaim the
//!                                      expired ones, within a CPU budget (Redis's active expiry);
//!                                      every 100 ms a sample of the instantaneous rates
//! ```
//!
//! Module map (lowest layer last; `tests/layers.rs` checks that modules only use lower ones,
//! and ARCHITECTURE.md walks a request through them): `server` (network, connections,
//! the expiry and saver threads, the HTTP endpoint), `commands` (the command table and families; the only
//! module that joins the protocol to the domain), `session` (one connection's state),
//! `state` (what connections share), `clients` (the client registry), `metrics` (counters
//! and latency histograms for INFO and /metrics, SLOWLOG, LATENCY), `persist` (keyspace snapshots: the file format, save
//! and load), `cache` (cache types and their TTL rules; the engine later), `store` (the
//! keyspace), `ratelimit` and `quota` (pure algorithms: limiters;
//! plans' calendar windows, charges, holds, ledger), `config`, `protocol`
//! (wire format, argument cursor), `clock` (the server's one clock), `duration`, `error`,
//! `alloc` (the memory allocator and its statistics).

pub mod alloc;
pub mod blocking;
pub mod cache;
pub mod clients;
pub mod clock;
pub mod commands;
pub mod config;
pub mod duration;
pub mod error;
pub mod metrics;
pub mod persist;
pub mod protocol;
pub mod pubsub;
pub mod quota;
pub mod ratelimit;
pub mod scripting;
pub mod server;
pub mod session;
pub mod state;
pub mod store;
