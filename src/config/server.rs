//! `[server]`: the listener, clients, authentication and threads.

use std::net::IpAddr;

use super::declare::{settings, INT_MAX, UINT_MAX};
use crate::duration::DurationMs;

settings! {
    /// `[server]`: listener, clients, authentication, threads.
    pub struct ServerConfig in server;

    /// Addresses to listen on, space-separated IPs ("0.0.0.0 ::" for every interface).
    bind: String = "127.0.0.1".to_string(), config "bind", fixed, check(ip_list);
    /// TCP port; 0 lets the OS pick a free one.
    port: u16 = 6379, config "port", fixed;
    /// HTTP port of `/metrics` (Prometheus) and `/health`, on the `bind` addresses; 0 = off.
    metrics_port: u16 = 9121, config "tollgate-metrics-port", fixed;
    /// Number of databases for SELECT.
    databases: u32 = 16, config "databases", fixed, range(1, INT_MAX);
    /// Maximum simultaneous clients; more get "-ERR max number of clients reached".
    maxclients: u32 = 10_000, config "maxclients", runtime, range(1, UINT_MAX);
    /// Close a client idle for this many seconds, or whose replies make no progress (it does
    /// not read them) for as long; 0 = never.
    timeout: u32 = 0, config "timeout", runtime, range(0, INT_MAX);
    /// Password for AUTH; "" = none. Prefer the variable to the flag: flags show in `ps`.
    requirepass: String = String::new(), config "requirepass", runtime;
    /// Redis's protected mode: while on and no password is set, clients from non-loopback
    /// addresses are refused with -DENIED.
    protected_mode: bool = true, config "protected-mode", runtime;
    /// TCP keepalive of client connections: probe after this many idle seconds; 0 = off.
    /// CONFIG SET applies to connections accepted afterwards, as in Redis.
    tcp_keepalive: u32 = 300, config "tcp-keepalive", runtime, range(0, INT_MAX);
    /// On shutdown, how long connections get to finish the commands they are executing and
    /// write their replies before they are dropped (a client that does not read holds none up
    /// for longer).
    shutdown_grace: DurationMs = DurationMs(500), config "tollgate-shutdown-grace", runtime,
        range(0, MAX_SHUTDOWN_GRACE_MS);
    /// Keyspace shards per database, a power of two: more shards, less lock contention.
    shards: u32 = 16, config "tollgate-shards", fixed, check(shard_count);
    /// Worker threads; 0 = one per CPU core.
    threads: u32 = 0, config "tollgate-threads", fixed, range(0, MAX_THREADS);
}

/// Longest shutdown grace period: an hour.
const MAX_SHUTDOWN_GRACE_MS: u64 = 3_600_000;
/// Most keyspace shards per database.
const MAX_SHARDS: u32 = 65_536;
/// Most worker threads.
const MAX_THREADS: u64 = 4_096;

/// `bind` must name at least one address, and only IP addresses (no name resolution at start).
fn ip_list(bind: &str) -> Result<(), String> {
    if bind.split_whitespace().next().is_none() {
        return Err("must name at least one address, e.g. \"127.0.0.1\"".to_string());
    }
    match bind
        .split_whitespace()
        .find(|addr| addr.parse::<IpAddr>().is_err())
    {
        Some(addr) => Err(format!(
            "'{addr}' is not an IP address (space-separate several)"
        )),
        None => Ok(()),
    }
}

/// Keys pick a shard by hash mask, so the count is a power of two.
fn shard_count(shards: &u32) -> Result<(), String> {
    if shards.is_power_of_two() && *shards <= MAX_SHARDS {
        return Ok(());
    }
    Err(format!(
        "must be a power of two from 1 to {MAX_SHARDS} (keys pick a shard by hash mask), got {shards}"
    ))
}

impl ServerConfig {
    /// The `bind` addresses, parsed. Invalid entries are skipped; validation rejects them first.
    pub fn bind_addrs(&self) -> Vec<IpAddr> {
        self.bind
            .split_whitespace()
            .filter_map(|a| a.parse().ok())
            .collect()
    }

    /// Whether connections from non-loopback addresses must be refused (Redis 7.0's
    /// `protected_mode && default user has no password`; the bind address plays no part).
    pub fn refuses_remote_clients(&self) -> bool {
        self.protected_mode && self.requirepass.is_empty()
    }

    /// Where `tollgate --check-health` finds the HTTP endpoint: loopback when the server
    /// listens on it or on every interface, else the first `bind` address; `None` when
    /// `metrics_port` is 0.
    pub fn local_metrics_addr(&self) -> Option<std::net::SocketAddr> {
        use std::net::{Ipv4Addr, Ipv6Addr};
        if self.metrics_port == 0 {
            return None;
        }
        let addrs = self.bind_addrs();
        let ip = match addrs
            .iter()
            .find(|ip| ip.is_loopback() || ip.is_unspecified())
        {
            Some(IpAddr::V4(_)) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some(IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            None => addrs
                .first()
                .copied()
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        };
        Some(std::net::SocketAddr::new(ip, self.metrics_port))
    }

    /// Worker threads to start: `threads`, or the number of cores when 0.
    pub fn effective_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_health_goes_to_loopback_when_it_can() {
        let mut s = ServerConfig::default();
        let addr = |s: &ServerConfig| s.local_metrics_addr().map(|a| a.to_string());
        assert_eq!(addr(&s).as_deref(), Some("127.0.0.1:9121"));
        s.bind = "0.0.0.0".into();
        assert_eq!(addr(&s).as_deref(), Some("127.0.0.1:9121"));
        s.bind = "::".into();
        assert_eq!(addr(&s).as_deref(), Some("[::1]:9121"));
        s.bind = "10.1.2.3".into();
        s.metrics_port = 9000;
        assert_eq!(addr(&s).as_deref(), Some("10.1.2.3:9000"));
        s.metrics_port = 0;
        assert_eq!(addr(&s), None);
    }
}
