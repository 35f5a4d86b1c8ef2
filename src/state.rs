//! The state every connection shares: the keyspace, the configuration, the client registry,
//! the server-wide counters and the request to shut down.

use crate::clients::Registry;
use crate::clock::Clock;
use crate::config::FullMemory;
use crate::config::{BufferLimit, ClientClass, Config, OutputBufferLimits};
use crate::store::{evict, Keyspace};
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

/// The classes of `client-output-buffer-limit`, in `State::output_limits` order.
const CLASSES: [ClientClass; 3] = [
    ClientClass::Normal,
    ClientClass::Replica,
    ClientClass::Pubsub,
];

/// Server-wide counters for INFO.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub error_replies: AtomicU64,
    /// Wall time spent in active-expiry cycles (INFO `expire_cycle_cpu_milliseconds`).
    pub expire_cycle_us: AtomicU64,
    /// Cycles that stopped at their time budget (`expired_time_cap_reached_count`).
    pub expire_time_cap_reached: AtomicU64,
    /// Smoothed share of keys with a TTL found expired by the sweep, as an f64's bits
    /// (`expired_stale_perc`).
    pub expired_stale_perc_bits: AtomicU64,
    /// The most `used_memory` seen (INFO `used_memory_peak`), sampled by the cron thread
    /// and by INFO.
    pub used_memory_peak: AtomicU64,
    /// Connections waiting in a blocking command (INFO `blocked_clients`).
    pub blocked_clients: AtomicU64,
}

/// Where the server is in its life, for `/health`: 503 unless `Serving`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Reading the snapshot and the log at start; no client is served yet.
    Loading = 0,
    Serving = 1,
    /// Shutdown began: no new clients, in-flight replies and the final snapshot.
    Stopping = 2,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Loading => "loading",
            Phase::Serving => "ok",
            Phase::Stopping => "shutting_down",
        }
    }
}

/// A shutdown request: a flag for those who poll, a notification for those who wait.
#[derive(Default)]
struct Shutdown {
    requested: AtomicBool,
    wake: tokio::sync::Notify,
}

pub struct State {
    /// The one clock every time decision reads (system, or manual in tests).
    pub clock: Clock,
    pub keyspace: Keyspace,
    pub config: RwLock<Config>,
    /// Connected clients (CLIENT LIST/KILL, INFO clients).
    pub clients: Arc<Registry>,
    /// Set by SHUTDOWN; the server stops as it does on SIGTERM.
    shutdown: Shutdown,
    pub stats: Stats,
    pub ratelimit: crate::metrics::RateLimitMetrics,
    /// INFO commandstats, latencystats and errorstats.
    pub commands: crate::metrics::commands::CommandStats,
    /// SLOWLOG entries.
    pub slowlog: crate::metrics::slowlog::SlowLog,
    /// LATENCY events.
    pub latency: crate::metrics::latency::LatencyMonitor,
    /// Commands, bytes in and bytes out per second (INFO stats), sampled by the cron thread.
    pub rates: Mutex<crate::metrics::rates::Rates<3>>,
    /// Snapshot books: last save, BGSAVE in progress, changes since (`persist`), and the
    /// quota journal.
    pub persist: crate::persist::Status,
    /// `[quota]` ready for the operations (fixed settings: built once).
    pub quota: crate::quota::Catalog,
    /// INFO quota counters.
    pub quota_stats: crate::metrics::quota::QuotaMetrics,
    /// The cache engine (`[cache]`'s types, the books, the flights); told by the keyspace
    /// about its entries' expirations and evictions.
    pub cache: Arc<crate::cache::Cache>,
    /// Pub/Sub channels and patterns with their listeners.
    pub pubsub: crate::pubsub::Hub,
    /// The Lua interpreter and the script cache (EVAL, SCRIPT).
    pub scripting: crate::scripting::Engine,
    /// Clients blocked on keys (BLPOP and friends).
    pub blocking: crate::blocking::Registry,
    /// When the server started, unix ms on `clock`.
    pub started_ms: u64,
    pub run_id: String,
    /// The port actually bound (differs from the config's when it asked for 0).
    pub port: AtomicU64,
    /// A `Phase`: set by the start (`main.rs`) and by `server::run` when it begins and ends.
    phase: AtomicU8,
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
    /// `client-output-buffer-limit`: hard, soft, soft seconds of normal, replica, pubsub.
    output_limits: [[AtomicU64; 3]; 3],
    rl_max_leases: AtomicU64,
    rl_on_full_memory: AtomicU8,
    /// `slowlog-log-slower-than` (us; negative: off), `slowlog-max-len`,
    /// `latency-monitor-threshold` (ms; 0: off).
    slowlog_slower_than: AtomicI64,
    slowlog_max_len: AtomicU64,
    latency_threshold_ms: AtomicU64,
}

impl State {
    /// `commands` names every command and subcommand the server answers (for the per-command
    /// statistics); the server layer hands them in, as the state knows no command table.
    pub fn new(config: Config, commands: impl Iterator<Item = &'static str>) -> Self {
        Self::with_clock(config, commands, Clock::system())
    }

    /// `new` on a given clock (a manual one in tests).
    pub fn with_clock(
        config: Config,
        commands: impl Iterator<Item = &'static str>,
        clock: Clock,
    ) -> Self {
        let keyspace = Keyspace::new(
            config.server.databases as usize,
            config.server.shards as usize,
        );
        let run_id = (0..40)
            .map(|_| char::from(b"0123456789abcdef"[rand::random_range(0..16)]))
            .collect();
        let started_ms = clock.now_ms();
        let quota = crate::quota::Catalog::from_config(&config.quota);
        let cache = Arc::new(crate::cache::Cache::new(
            crate::cache::Catalog::from_config(&config.cache),
        ));
        keyspace.set_reclaimed(cache.clone());
        let state = State {
            clock,
            keyspace,
            config: RwLock::new(config),
            clients: Arc::default(),
            shutdown: Shutdown::default(),
            stats: Stats::default(),
            ratelimit: Default::default(),
            commands: crate::metrics::commands::CommandStats::new(commands),
            rates: Default::default(),
            persist: crate::persist::Status::new(started_ms),
            quota,
            quota_stats: Default::default(),
            cache,
            pubsub: Default::default(),
            scripting: Default::default(),
            blocking: Default::default(),
            started_ms,
            run_id,
            port: AtomicU64::new(0),
            phase: AtomicU8::new(Phase::Loading as u8),
            proto_max_bulk_len: AtomicU64::new(0),
            maxmemory: AtomicU64::new(0),
            idle_timeout_secs: AtomicU64::new(0),
            query_buffer_limit: AtomicU64::new(u64::MAX),
            auth_required: AtomicBool::new(false),
            inline_max: AtomicU64::new(0),
            max_multibulk_len: AtomicU64::new(0),
            unauth_max_multibulk: AtomicU64::new(0),
            unauth_max_bulk: AtomicU64::new(0),
            output_limits: Default::default(),
            rl_max_leases: AtomicU64::new(0),
            rl_on_full_memory: AtomicU8::new(0),
            slowlog: Default::default(),
            latency: Default::default(),
            slowlog_slower_than: AtomicI64::new(-1),
            slowlog_max_len: AtomicU64::new(0),
            latency_threshold_ms: AtomicU64::new(0),
        };
        state.config_changed();
        state
    }

    /// Whether a command that took `us` microseconds goes to SLOWLOG or LATENCY: the one
    /// check the command path pays for them.
    #[inline]
    pub fn is_slow(&self, us: u64) -> bool {
        let slower_than = self.slowlog_slower_than.load(Ordering::Relaxed);
        let latency_ms = self.latency_threshold_ms.load(Ordering::Relaxed);
        (slower_than >= 0 && us >= slower_than as u64)
            || (latency_ms > 0 && us / 1000 >= latency_ms)
    }

    /// (`slowlog-log-slower-than`, `latency-monitor-threshold`).
    pub fn slow_thresholds(&self) -> (i64, u64) {
        (
            self.slowlog_slower_than.load(Ordering::Relaxed),
            self.latency_threshold_ms.load(Ordering::Relaxed),
        )
    }

    pub fn slowlog_max_len(&self) -> usize {
        usize::try_from(self.slowlog_max_len.load(Ordering::Relaxed)).unwrap_or(usize::MAX)
    }

    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Loading,
            1 => Phase::Serving,
            _ => Phase::Stopping,
        }
    }

    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
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
        let limits: &OutputBufferLimits = &c.limits.client_output_buffer_limit;
        for (slot, class) in self.output_limits.iter().zip(CLASSES) {
            let l = limits.of(class);
            for (a, v) in slot.iter().zip([l.hard, l.soft, u64::from(l.soft_seconds)]) {
                a.store(v, Ordering::Relaxed);
            }
        }
        self.scripting
            .running
            .set_threshold_ms(c.limits.busy_reply_threshold);
        self.scripting
            .running
            .set_threshold_ms(c.limits.busy_reply_threshold);
        self.rl_max_leases
            .store(c.ratelimit.max_leases, Ordering::Relaxed);
        self.rl_on_full_memory
            .store(c.ratelimit.on_full_memory as u8, Ordering::Relaxed);
        self.keyspace
            .set_lfu(c.store.maxmemory_policy.as_str().contains("lfu"));
        self.keyspace.set_hash_limits(crate::store::hash::Limits {
            entries: c.store.hash_max_listpack_entries,
            value: c.store.hash_max_listpack_value.0,
        });
        self.keyspace.set_max_intset(c.store.set_max_intset_entries);
        self.keyspace.set_zset_limits(crate::store::hash::Limits {
            entries: c.store.zset_max_listpack_entries,
            value: c.store.zset_max_listpack_value.0,
        });
        if let Some(j) = self.persist.journal.get() {
            j.set_policy(crate::persist::journal::policy(c.persist.appendfsync));
        }
        crate::config::log::level_changed(c.log.level);
        self.slowlog_slower_than
            .store(c.log.slowlog_log_slower_than, Ordering::Relaxed);
        self.slowlog_max_len
            .store(c.log.slowlog_max_len, Ordering::Relaxed);
        self.slowlog.trim(self.slowlog_max_len());
        self.latency_threshold_ms
            .store(c.log.latency_monitor_threshold, Ordering::Relaxed);
        self.commands.set_tracking(
            c.log.latency_tracking,
            crate::config::log::percentiles(&c.log.latency_tracking_info_percentiles)
                .unwrap_or_default(),
        );
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

    /// The `client-output-buffer-limit` of `class`.
    pub fn output_limit(&self, class: ClientClass) -> BufferLimit {
        let i = CLASSES.iter().position(|c| *c == class).unwrap_or(0);
        let [hard, soft, secs] = self.output_limits[i]
            .each_ref()
            .map(|a| a.load(Ordering::Relaxed));
        // Stored from a u32.
        BufferLimit::new(hard, soft, u32::try_from(secs).unwrap_or(u32::MAX))
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
        self.clients.traffic()
    }

    /// Asks the server to stop as on SIGTERM (SHUTDOWN): no new connections, in-flight
    /// replies written, then `server::run` returns.
    pub fn request_shutdown(&self) {
        self.shutdown.requested.store(true, Ordering::Release);
        self.shutdown.wake.notify_waiters();
    }

    pub fn shutdown_requested(&self) -> bool {
        self.shutdown.requested.load(Ordering::Acquire)
    }

    /// Completes once `request_shutdown` has been called.
    pub async fn shutdown_signal(&self) {
        loop {
            // Registered before the flag is read, so a request between the two is not lost.
            let woken = self.shutdown.wake.notified();
            if self.shutdown_requested() {
                return;
            }
            woken.await;
        }
    }

    /// Takes a sample of the instantaneous rates (called by the cron thread at `hz`, up to
    /// 500 times a second: the client list is only walked when a sample is due).
    /// Records `used` bytes towards the peak; returns the peak.
    pub fn note_memory_peak(&self, used: u64) -> u64 {
        self.stats
            .used_memory_peak
            .fetch_max(used, Ordering::Relaxed)
            .max(used)
    }

    pub fn sample_rates(&self) {
        let now = self.clock.now_ms();
        if !self.rates.lock().due(now) {
            return;
        }
        let (c, i, o) = self.traffic();
        self.rates.lock().sample(now, [c, i, o]);
    }

    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Ordering::Relaxed)
    }

    /// Over `maxmemory`, evicts keys per the configured policy. Returns whether memory is
    /// within the limit afterwards (always, without a limit).
    pub fn make_room(&self, now_ms: u64) -> bool {
        let max = self.maxmemory();
        let ks = &self.keyspace;
        if max == 0 || ks.used_fast() <= max {
            return true;
        }
        let (policy, samples) = {
            let c = self.config.read();
            (
                evict::Policy::from_name(c.store.maxmemory_policy.as_str()),
                c.store.maxmemory_samples as usize,
            )
        };
        // Evicting from a shard also adds its writes not yet counted (shards report in steps,
        // see `Keyspace::used_fast`), so the count can still be over once the bytes it asked
        // for are gone: evict again until it is within the limit or nothing is left. Each
        // round evicts a key or ends the loop.
        loop {
            let used = ks.used_fast();
            if used <= max {
                return true;
            }
            if evict::evict(ks, policy, samples, used - max, now_ms) == 0 {
                return false;
            }
        }
    }

    /// Whether memory is over `maxmemory` (after `make_room` evicted what it could): a
    /// command must not store new state. One relaxed load without a limit.
    pub fn memory_full(&self) -> bool {
        let max = self.maxmemory();
        max != 0 && self.keyspace.used_fast() > max
    }

    /// `cache.max_wait`, ms: the longest WAIT of a CACHE.FETCH.
    pub fn cache_max_wait_ms(&self) -> u64 {
        self.config.read().cache.max_wait.0
    }

    /// `cache.max_lease`, ms: the longest LEASE of a CACHE.FETCH.
    pub fn cache_max_lease_ms(&self) -> u64 {
        self.config.read().cache.max_lease.0
    }

    /// `ratelimit.max_leases`.
    pub fn rl_max_leases(&self) -> u64 {
        self.rl_max_leases.load(Ordering::Relaxed)
    }

    /// `ratelimit.on_full_memory`.
    pub fn rl_on_full_memory(&self) -> FullMemory {
        match self.rl_on_full_memory.load(Ordering::Relaxed) {
            x if x == FullMemory::Allow as u8 => FullMemory::Allow,
            x if x == FullMemory::Oom as u8 => FullMemory::Oom,
            _ => FullMemory::Deny,
        }
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
        self.clock.now_ms().saturating_sub(self.started_ms) / 1000
    }
}
