//! The state every connection shares: the keyspace, the configuration, the client registry
//! and the server-wide counters.

use crate::config::Config;
use crate::server::client::ClientHandle;
use crate::store::{access, Keyspace};
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Per-connection traffic counters. Each connection counts into its own (no cache line
/// shared between cores on the hot path); INFO adds up the live ones and `Stats::closed`.
#[derive(Debug, Default)]
pub struct Traffic {
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
}

impl Traffic {
    fn add(&self, other: &Traffic) {
        for (a, b) in self.fields().into_iter().zip(other.fields()) {
            a.fetch_add(b.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    fn fields(&self) -> [&AtomicU64; 3] {
        [
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
        ]
    }

    pub fn reset(&self) {
        for f in self.fields() {
            f.store(0, Ordering::Relaxed);
        }
    }

    pub fn get(&self) -> (u64, u64, u64) {
        let [c, i, o] = self.fields().map(|f| f.load(Ordering::Relaxed));
        (c, i, o)
    }
}

/// Server-wide counters for INFO.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub error_replies: AtomicU64,
    /// Traffic of connections that have closed.
    pub closed: Traffic,
}

impl Stats {
    /// Folds a closing connection's traffic into the totals.
    pub fn absorb(&self, t: &Traffic) {
        self.closed.add(t);
    }
}

pub struct State {
    pub keyspace: Keyspace,
    pub config: RwLock<Config>,
    /// Connected clients by id (CLIENT LIST/KILL, INFO clients).
    pub clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    pub next_client_id: AtomicU64,
    pub stats: Stats,
    pub ratelimit: crate::metrics::RateLimitMetrics,
    /// INFO commandstats, latencystats and errorstats.
    pub commands: crate::metrics::commands::CommandStats,
    /// Commands, bytes in and bytes out per second (INFO stats), sampled by the cron thread.
    pub rates: Mutex<crate::metrics::rates::Rates<3>>,
    pub started: Instant,
    pub run_id: String,
    /// The port actually bound (differs from the config's when it asked for 0).
    pub port: AtomicU64,
    // Hot-path copies of settings that CONFIG SET can change.
    proto_max_bulk_len: AtomicU64,
    maxmemory: AtomicU64,
    idle_timeout_secs: AtomicU64,
    query_buffer_limit: AtomicU64,
    auth_required: AtomicBool,
    inline_max: AtomicU64,
    max_multibulk_len: AtomicU64,
    unauth_max_multibulk: AtomicU64,
    unauth_max_bulk: AtomicU64,
}

impl State {
    pub fn new(config: Config) -> Self {
        let keyspace = Keyspace::new(
            config.server.databases as usize,
            config.server.shards as usize,
        );
        let run_id = (0..40)
            .map(|_| char::from(b"0123456789abcdef"[rand::random_range(0..16)]))
            .collect();
        let state = State {
            keyspace,
            config: RwLock::new(config),
            clients: Mutex::new(BTreeMap::new()),
            next_client_id: AtomicU64::new(1),
            stats: Stats::default(),
            ratelimit: Default::default(),
            commands: crate::metrics::commands::CommandStats::new(crate::commands::all_names()),
            rates: Default::default(),
            started: Instant::now(),
            run_id,
            port: AtomicU64::new(0),
            proto_max_bulk_len: AtomicU64::new(0),
            maxmemory: AtomicU64::new(0),
            idle_timeout_secs: AtomicU64::new(0),
            query_buffer_limit: AtomicU64::new(u64::MAX),
            auth_required: AtomicBool::new(false),
            inline_max: AtomicU64::new(0),
            max_multibulk_len: AtomicU64::new(0),
            unauth_max_multibulk: AtomicU64::new(0),
            unauth_max_bulk: AtomicU64::new(0),
        };
        state.config_changed();
        state
    }

    /// Refreshes the hot-path copies after the configuration changed.
    pub fn config_changed(&self) {
        let c = self.config.read();
        self.proto_max_bulk_len
            .store(c.limits.proto_max_bulk_len.0, Ordering::Relaxed);
        self.maxmemory.store(c.store.maxmemory.0, Ordering::Relaxed);
        self.idle_timeout_secs
            .store(u64::from(c.server.timeout), Ordering::Relaxed);
        self.query_buffer_limit
            .store(c.limits.client_query_buffer_limit.0, Ordering::Relaxed);
        self.auth_required
            .store(!c.server.requirepass.is_empty(), Ordering::Relaxed);
        self.inline_max
            .store(c.limits.inline_max.0, Ordering::Relaxed);
        self.max_multibulk_len
            .store(c.limits.max_multibulk_len, Ordering::Relaxed);
        self.unauth_max_multibulk
            .store(c.limits.unauth_max_multibulk, Ordering::Relaxed);
        self.unauth_max_bulk
            .store(c.limits.unauth_max_bulk, Ordering::Relaxed);
        access::set_lfu(c.store.maxmemory_policy.as_str().contains("lfu"));
        crate::config::log::level_changed(c.log.level);
    }

    pub fn proto_max_bulk_len(&self) -> u64 {
        self.proto_max_bulk_len.load(Ordering::Relaxed)
    }

    /// How long a client may stay idle (`timeout`), if limited.
    pub fn idle_timeout(&self) -> Option<std::time::Duration> {
        match self.idle_timeout_secs.load(Ordering::Relaxed) {
            0 => None,
            s => Some(std::time::Duration::from_secs(s)),
        }
    }

    pub fn query_buffer_limit(&self) -> u64 {
        self.query_buffer_limit.load(Ordering::Relaxed)
    }

    /// `limits.inline_max`.
    pub fn inline_max(&self) -> u64 {
        self.inline_max.load(Ordering::Relaxed)
    }

    /// `limits.max_multibulk_len`.
    pub fn max_multibulk_len(&self) -> u64 {
        self.max_multibulk_len.load(Ordering::Relaxed)
    }

    /// `limits.unauth_max_multibulk`.
    pub fn unauth_max_multibulk(&self) -> u64 {
        self.unauth_max_multibulk.load(Ordering::Relaxed)
    }

    /// `limits.unauth_max_bulk`.
    pub fn unauth_max_bulk(&self) -> u64 {
        self.unauth_max_bulk.load(Ordering::Relaxed)
    }

    /// Commands, input bytes and output bytes since start (or CONFIG RESETSTAT).
    pub fn traffic(&self) -> (u64, u64, u64) {
        let (mut c, mut i, mut o) = self.stats.closed.get();
        for h in self.clients.lock().values() {
            let (hc, hi, ho) = h.stats.get();
            c += hc;
            i += hi;
            o += ho;
        }
        (c, i, o)
    }

    /// Takes a sample of the instantaneous rates (called by the cron thread at `hz`, up to
    /// 500 times a second: the client list is only walked when a sample is due).
    pub fn sample_rates(&self) {
        let now = Instant::now();
        if !self.rates.lock().due(now) {
            return;
        }
        let (c, i, o) = self.traffic();
        self.rates.lock().sample(now, [c, i, o]);
    }

    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Ordering::Relaxed)
    }

    pub fn auth_required(&self) -> bool {
        self.auth_required.load(Ordering::Relaxed)
    }

    /// Whether `password` is the configured one (compared in constant time).
    pub fn check_password(&self, password: &[u8]) -> bool {
        let c = self.config.read();
        let want = c.server.requirepass.as_bytes();
        if c.server.requirepass.is_empty() {
            return true;
        }
        want.len() == password.len()
            && want
                .iter()
                .zip(password)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}
