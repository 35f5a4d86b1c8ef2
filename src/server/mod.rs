//! The network side: the listener (connection limit, protected mode, accept backoff), one
//! task per connection, the active-expiry thread, and graceful shutdown.

pub mod connection;
mod exposition;
pub mod http;
pub mod snapshots;

use crate::state::State;
use crate::store::expire;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

const PROTECTED_MODE_TEXT: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Serves `listener` until `shutdown` completes, then stops accepting, lets every connection
/// finish the batch it is executing and write its replies (for at most `shutdown_grace`),
/// and returns.
pub async fn run(listener: TcpListener, state: Arc<State>, shutdown: impl Future) {
    run_many(vec![listener], state, shutdown).await
}

/// `run` over several listeners (one per `bind` address).
pub async fn run_many(listeners: Vec<TcpListener>, state: Arc<State>, shutdown: impl Future) {
    let (conn_tx, mut conns) =
        tokio::sync::mpsc::channel::<std::io::Result<(TcpStream, SocketAddr)>>(64);
    let mut acceptors = JoinSet::new();
    for listener in listeners {
        if let Ok(addr) = listener.local_addr() {
            state.port.store(u64::from(addr.port()), Ordering::Relaxed);
            tracing::info!(%addr, "tollgate ready to accept connections");
        }
        let tx = conn_tx.clone();
        acceptors.spawn(async move {
            loop {
                let accepted = listener.accept().await;
                let failed = accepted.is_err();
                if tx.send(accepted).await.is_err() {
                    return;
                }
                if failed {
                    // Out of file descriptors or a transient error: back off, do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        });
    }
    drop(conn_tx);
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_expiry = Arc::new(AtomicBool::new(false));
    let expiry = match spawn_expiry(state.clone(), stop_expiry.clone()) {
        Ok(t) => t,
        Err(e) => {
            // Without active expiry keys that are never read would pile up: refuse to serve.
            tracing::error!(error = %e, "cannot start the expiry thread");
            acceptors.abort_all();
            return;
        }
    };
    let saver = match snapshots::Saver::spawn(state.clone()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the saver thread: no BGSAVE, no save points");
            None
        }
    };
    let mut tasks = JoinSet::new();
    state.set_phase(crate::state::Phase::Serving);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = state.shutdown_signal() => break,
            accepted = conns.recv() => match accepted {
                None => break,
                Some(Ok((stream, addr))) => {
                    // An IPv4 client of a dual-stack (`::`) listener arrives as
                    // `::ffff:a.b.c.d`: it is that IPv4 address, for protected mode's
                    // loopback rule and for CLIENT LIST, as Redis (one socket per family) sees it.
                    let addr = canonical(addr);
                    if let Some(stream) = admit(&state, stream, addr).await {
                        let laddr = stream.local_addr().map_or(addr, canonical);
                        let registration =
                            state.clients.register(addr, laddr, raw_fd(&stream), state.clock.now_ms());
                        state.stats.connections_received.fetch_add(1, Ordering::Relaxed);
                        tasks.spawn(connection::serve(stream, state.clone(), registration, stop_rx.clone()));
                    }
                }
                Some(Err(e)) => tracing::warn!(error = %e, "accept failed"),
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    tracing::info!("shutting down: no new connections, finishing in-flight replies");
    // `/health` answers 503 from here on, until the process exits after its final snapshot.
    state.set_phase(crate::state::Phase::Stopping);
    acceptors.abort_all();
    let _ = stop_tx.send(true);
    // A connection whose client does not read would hold its write open for as long as the
    // client likes: after the grace period the rest are dropped (aborted, their sockets closed).
    let grace = state.config.read().server.shutdown_grace.as_duration();
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drain).await.is_err() {
        tracing::warn!(
            connections = tasks.len(),
            ?grace,
            "connections still writing after the shutdown grace period; dropping them"
        );
        tasks.shutdown().await;
    }
    stop_expiry.store(true, Ordering::Release);
    // Wakes it from its pause between cycles (up to a second at hz 1).
    expiry.thread().unpark();
    let _ = tokio::task::spawn_blocking(move || expiry.join()).await;
    if let Some(saver) = saver {
        // A background save in progress is finished, not abandoned.
        let st = state.clone();
        let _ = tokio::task::spawn_blocking(move || saver.stop(&st)).await;
    }
}

/// The socket's descriptor, for CLIENT LIST.
fn raw_fd(stream: &TcpStream) -> i64 {
    #[cfg(unix)]
    {
        i64::from(std::os::fd::AsRawFd::as_raw_fd(stream))
    }
    #[cfg(not(unix))]
    {
        let _ = stream;
        -1
    }
}

fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Applies the connection limit and protected mode; `None` when the client was refused.
async fn admit(state: &State, mut stream: TcpStream, addr: SocketAddr) -> Option<TcpStream> {
    let _ = stream.set_nodelay(true);
    let (maxclients, protected, keepalive) = {
        let c = state.config.read();
        (
            c.server.maxclients as usize,
            c.server.protected_mode && c.server.requirepass.is_empty(),
            c.server.tcp_keepalive,
        )
    };
    set_keepalive(&stream, keepalive);
    if protected && !addr.ip().is_loopback() {
        let _ = stream.write_all(PROTECTED_MODE_TEXT.as_bytes()).await;
        state
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        return None;
    }
    if state.clients.len() >= maxclients {
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        state
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        return None;
    }
    Some(stream)
}

/// Redis's `tcp-keepalive` (anetKeepAlive): after `secs` idle, probe every `secs / 3`
/// (at least 1 s) and give up after 3 unanswered probes; 0 leaves keepalive off. It finds
/// peers that vanished without a FIN, and keeps NAT and load-balancer mappings alive.
fn set_keepalive(stream: &TcpStream, secs: u32) {
    if secs == 0 {
        return;
    }
    let idle = Duration::from_secs(u64::from(secs));
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval(Duration::from_secs(u64::from(secs / 3).max(1)))
        .with_retries(3);
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!(error = %e, "cannot set TCP keepalive");
    }
}

/// The active-expiry thread: `hz` cycles a second, each within a budget of CPU time
/// (`tollgate-active-expire-cpu` percent of the period, plus 2 points per
/// `active-expire-effort` step above 1, as Redis raises its budget), resuming where the last
/// one stopped (see `store::expire`). The budget counts the thread's own CPU time: on a busy
/// machine a preempted sweep would otherwise spend its budget waiting for a core. A cycle
/// that reaches its budget with keys still due is followed by another after a pause as long
/// as it ran, not a whole period: behind, the sweep may take half a core, as Redis adds fast
/// cycles when its slow one hits its limit. It also samples the instantaneous rates (at
/// most every 100 ms, whatever `hz` is), as Redis's serverCron does.
fn spawn_expiry(
    state: Arc<State>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("tollgate-expiry".into())
        .spawn(move || {
            let mut sweeper = expire::Sweeper::default();
            let mut next = std::time::Instant::now();
            while !stop.load(Ordering::Acquire) {
                let now = std::time::Instant::now();
                if next > now {
                    // Parked, not asleep: the shutdown unparks it. A spurious wake-up only
                    // runs a cycle early.
                    std::thread::park_timeout(next - now);
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                }
                let started = std::time::Instant::now();
                // Read after the sleep: a CONFIG SET made during it applies to this cycle.
                let (hz, percent) = {
                    let c = state.config.read();
                    let effort = c.store.active_expire_effort.clamp(1, 10);
                    let percent = (c.store.active_expire_cpu + 2 * (effort - 1)).min(100);
                    (c.store.hz.clamp(1, 500), percent)
                };
                let period = Duration::from_millis(1000 / u64::from(hz));
                state.sample_rates();
                state.note_memory_peak(state.keyspace.used_fast());
                let budget = period * percent / 100;
                let cpu0 = thread_cpu_time();
                let cycle =
                    expire::cycle(&state.keyspace, &mut sweeper, state.clock.now_ms(), || {
                        thread_cpu_time().saturating_sub(cpu0) > budget
                    });
                crate::commands::quota::release_due(&state, state.clock.now_ms());
                // Entries a CACHE.DEL purge made unreachable: deleted here, a bounded
                // number per step, within what is left of the budget; then flights whose
                // filler vanished with nobody waiting.
                let now = state.clock.now_ms();
                while state.cache.books.stale() > 0
                    && thread_cpu_time().saturating_sub(cpu0) <= budget
                {
                    state.cache.reclaim_step(&state.keyspace, now, RECLAIM_STEP);
                }
                state.cache.flights.sweep(now);
                let cpu = thread_cpu_time().saturating_sub(cpu0);
                record_cycle(&state, &cycle, cpu);
                // Cycles start on a fixed beat, however long the last one took; sooner when
                // it was cut short with keys still due.
                next = if cycle.timed_out {
                    std::time::Instant::now() + (started.elapsed() / 8).min(period)
                } else {
                    (next + period).max(started)
                };
            }
        })
}

/// Cache entries the reclaimer of purged entries walks under one shard lock.
const RECLAIM_STEP: usize = 256;

/// CPU time the calling thread has used (wall time where the platform cannot say).
fn thread_cpu_time() -> Duration {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
        }
    }
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// INFO's expiry statistics.
fn record_cycle(state: &State, cycle: &expire::CycleStats, took: Duration) {
    let s = &state.stats;
    s.expire_cycle_us
        .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    if cycle.timed_out {
        s.expire_time_cap_reached.fetch_add(1, Ordering::Relaxed);
    }
    // Redis's estimate: the share of keys with a TTL that had expired when the sweep met
    // them, smoothed over cycles (5% weight for the newest).
    let seen = cycle.expired + cycle.remaining;
    if seen > 0 {
        let current = cycle.expired as f64 * 100.0 / seen as f64;
        let old = f64::from_bits(s.expired_stale_perc_bits.load(Ordering::Relaxed));
        s.expired_stale_perc_bits
            .store((current * 0.05 + old * 0.95).to_bits(), Ordering::Relaxed);
    }
}
