//! Every declared setting must change something a client can observe. For each setting of
//! `tollgate::config::settings()` the suite looks up its probe in [`probes`] (a setting without
//! one fails, by name), starts a server with the probe's value and observes the effect over TCP
//! (or, for what only the binary applies, on the `tollgate` process). It also requires the
//! effect to be absent at the default, so a probe cannot pass by observing nothing in
//! particular, and, for settings CONFIG SET may change, the same effect after a CONFIG SET.
//!
//! Exemptions, each for one part of a probe, never for a whole setting:
//! - `server.port` has no run at its default: 6379 may belong to another server on this
//!   machine (a redis-server), which a start there would neither prove anything about nor
//!   leave alone.
//!
//! `ratelimit.policies` and `quota.plans` are named tables, not declared settings; their own
//! tests are below.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ready_addr, show, wait_for, Binary, Raw};
use tollgate::config::{self, Cli, Config, Setting};
use tollgate::state::State;

// ---------------------------------------------------------------------------------------------
// The probes
// ---------------------------------------------------------------------------------------------

/// How a probe's observation came out.
enum Miss {
    /// The effect is not there; says what was seen instead.
    Absent(String),
    /// The machine was too slow for this run to tell; it is run again.
    Unsure(String),
}

type Outcome = Result<(), Miss>;

fn absent(what: impl Into<String>) -> Outcome {
    Err(Miss::Absent(what.into()))
}

/// One setting's observable effect.
struct Probe {
    /// `section.key` of the setting.
    setting: &'static str,
    /// A value other than the default, as its flag (and CONFIG SET) takes it.
    value: fn() -> String,
    /// Other settings the observation needs, as (`section.key`, value), in every run.
    with: &'static [(&'static str, &'static str)],
    /// Run the `tollgate` binary instead of an in-process server.
    binary: bool,
    /// Also listen on a non-loopback address of this machine.
    remote: bool,
    /// Whether the default is run too (see the module documentation for the one exemption).
    default_run: bool,
    /// Observes the effect of `value` on a running server.
    check: fn(&Server, &str) -> Outcome,
}

fn probe(
    setting: &'static str,
    value: fn() -> String,
    check: fn(&Server, &str) -> Outcome,
) -> Probe {
    Probe {
        setting,
        value,
        with: &[],
        binary: false,
        remote: false,
        default_run: true,
        check,
    }
}

impl Probe {
    fn with(mut self, with: &'static [(&'static str, &'static str)]) -> Self {
        self.with = with;
        self
    }

    fn binary(mut self) -> Self {
        self.binary = true;
        self
    }

    fn remote(mut self) -> Self {
        self.remote = true;
        self
    }

    fn no_default_run(mut self) -> Self {
        self.default_run = false;
        self
    }
}

macro_rules! value {
    ($v:literal) => {
        || $v.to_string()
    };
}

/// The probe of each declared setting. A new setting needs a line here.
#[rustfmt::skip]
fn probes() -> Vec<Probe> {
    vec![
        // [server]
        probe("server.bind", value!("127.0.0.2"), listens_only_on_bind).binary(),
        probe("server.port", || free_port().to_string(), listens_on_port).binary().no_default_run(),
        // No default run, as for the port: 9121 may be taken on this machine.
        probe("server.metrics_port", || free_port().to_string(), health_on_metrics_port)
            .binary()
            .no_default_run(),
        probe("server.databases", value!("2"), select_out_of_range),
        probe("server.maxclients", value!("1"), second_client_refused),
        probe("server.timeout", value!("1"), idle_client_closed),
        probe("server.requirepass", value!("s3cret"), auth_required),
        probe("server.protected_mode", value!("no"), remote_client_served).remote(),
        probe("server.tcp_keepalive", value!("7"), keepalive_on_accepted_socket),
        probe("server.shutdown_grace", value!("1m"), shutdown_waits_for_a_stalled_client),
        probe("server.shards", value!("1"), eviction_in_ttl_order)
            .with(&[("store.maxmemory_policy", "volatile-ttl"), ("store.maxmemory_samples", "1000")]),
        probe("server.threads", || (cores() + 1).to_string(), worker_thread_count).binary(),
        // [limits]
        probe("limits.proto_max_bulk_len", value!("1mb"), big_bulk_refused),
        probe("limits.client_query_buffer_limit", value!("1mb"), big_query_closes),
        probe("limits.client_output_buffer_limit", value!("normal 4mb 0 0"), big_reply_closes),
        probe("limits.inline_max", value!("100"), long_inline_refused),
        probe("limits.max_multibulk_len", value!("3"), long_multibulk_refused),
        probe("limits.unauth_max_multibulk", value!("2"), unauth_multibulk_refused)
            .with(&[("server.requirepass", "pw")]),
        probe("limits.unauth_max_bulk", value!("100"), unauth_bulk_refused)
            .with(&[("server.requirepass", "pw")]),
        probe("limits.busy_reply_threshold", value!("100"), busy_script_refuses_others),
        // [store]
        probe("store.maxmemory", value!("1mb"), writes_hit_oom),
        probe("store.maxmemory_policy", value!("allkeys-random"), writes_evict)
            .with(&[("store.maxmemory", "1mb")]),
        probe("store.maxmemory_samples", value!("1000"), eviction_in_ttl_order)
            .with(&[("server.shards", "1"), ("store.maxmemory_policy", "volatile-ttl")]),
        probe("store.hash_max_listpack_entries", value!("2"), three_fields_are_a_hashtable),
        probe("store.hash_max_listpack_value", value!("4"), five_bytes_are_a_hashtable),
        probe("store.set_max_intset_entries", value!("2"), three_integers_are_a_hashtable),
        probe("store.zset_max_listpack_entries", value!("2"), three_members_are_a_skiplist),
        probe("store.zset_max_listpack_value", value!("4"), five_bytes_are_a_skiplist),
        probe("store.hz", value!("1"), expiry_once_a_second),
        probe("store.active_expire_effort", value!("10"), backlog_within_budget)
            .with(&[("store.hz", "1"), ("store.active_expire_cpu", "1")]),
        probe("store.active_expire_cpu", value!("1"), backlog_beyond_budget)
            .with(&[("store.hz", "1")]),
        // [log]
        probe("log.level", value!("debug"), debug_lines_logged).binary(),
        probe("log.format", value!("json"), json_lines_logged).binary(),
        probe("log.slowlog_log_slower_than", value!("0"), ping_is_slowlogged),
        probe("log.slowlog_max_len", value!("1"), slowlog_keeps_one)
            .with(&[("log.slowlog_log_slower_than", "0")]),
        probe("log.latency_monitor_threshold", value!("1"), long_script_is_a_latency_event),
        probe("log.latency_tracking", value!("no"), no_latency_percentiles),
        probe("log.latency_tracking_info_percentiles", value!("90"), p90_in_latencystats),
        // [ratelimit]
        probe("ratelimit.on_full_memory", value!("oom"), new_rate_limit_key_gets_oom)
            .with(&[("store.maxmemory", "1mb")]),
        probe("ratelimit.max_leases", value!("5"), acquire_above_cap_refused),
        // [persist]
        probe("persist.dir", || seeded_dir("tollgate.snapshot"), snapshot_loaded).binary(),
        probe("persist.dbfilename", value!("probe.snapshot"), snapshot_loaded)
            .binary()
            .with(leak(vec![("persist.dir", leak_str(seeded_dir("probe.snapshot")))])),
        probe("persist.save", value!("1 1"), save_point_saves)
            .with(leak(vec![("persist.dir", leak_str(empty_dir()))])),
        probe("persist.appendfsync", value!("everysec"), quota_charges_share_fsyncs).binary(),
        probe("persist.appendfilename", value!("probe.log"), quota_log_named).binary(),
        probe("persist.auto_aof_rewrite_min_size", value!("1kb"), log_compacts_itself).binary(),
        probe("persist.auto_aof_rewrite_percentage", value!("0"), log_not_compacted)
            .binary()
            .with(&[("persist.auto_aof_rewrite_min_size", "1kb")]),
        // At the default the binary refuses to start on this log (tests/quota_durability.rs).
        probe("persist.truncate_corrupt_log", value!("yes"), corrupt_log_truncated)
            .binary()
            .no_default_run()
            .with(leak(vec![("persist.dir", leak_str(corrupt_log_dir()))])),
        // [quota]: no QUOTA.* command reads these yet; INFO quota reports what the windows
        // and plans run with.
        probe("quota.timezone", value!("America/New_York"), quota_timezone_in_info),
        probe("quota.week_start", value!("sunday"), quota_week_start_in_info),
        probe("quota.default_plan", value!("pro_annual"), quota_default_plan_in_info),
        probe("quota.idempotency_ttl", value!("1h"), quota_idempotency_ttl_in_info),
        probe("quota.hold_ttl", value!("2m"), quota_hold_ttl_in_info),
        // [cache]
        probe("cache.max_wait", value!("1s"), fetch_wait_capped),
        probe("cache.max_lease", value!("1s"), fetch_lease_capped),
    ]
}

/// A CACHE.FETCH asking to wait 20 s behind another client's fill gives up (`timeout`)
/// within the read timeout (1.5 s): the cap shortened its wait.
fn fetch_wait_capped(s: &Server, _: &str) -> Outcome {
    let key = format!("w{}", rand_suffix());
    let mut filler = s.client();
    let r = filler.cmd_str(&format!("CACHE.FETCH probe query {key} LEASE 1m"));
    if !show(&r).contains("fill") {
        return absent(format!("the first FETCH replied {}", show(&r)));
    }
    let mut waiter = s.client();
    waiter.send_bytes(&Raw::encode(&[
        b"CACHE.FETCH",
        b"probe",
        b"query",
        key.as_bytes(),
        b"LEASE",
        b"1m",
        b"WAIT",
        b"20s",
    ]));
    match waiter.read_reply() {
        Some(r) if show(&r).contains("timeout") => Ok(()),
        Some(r) => absent(format!("the waiter got {}", show(&r))),
        None => absent("the waiter still waits after 1.5 s"),
    }
}

/// A filler's LEASE of an hour runs out after the cap: a second FETCH, 1.2 s later, is
/// handed the fill instead of being told to wait.
fn fetch_lease_capped(s: &Server, _: &str) -> Outcome {
    let key = format!("l{}", rand_suffix());
    let mut c = s.client();
    let r = c.cmd_str(&format!("CACHE.FETCH probe query {key} LEASE 1h"));
    if !show(&r).contains("fill") {
        return absent(format!("the first FETCH replied {}", show(&r)));
    }
    std::thread::sleep(Duration::from_millis(1200));
    let r = c.cmd_str(&format!("CACHE.FETCH probe query {key} LEASE 1h"));
    match show(&r).contains("fill") {
        true => Ok(()),
        false => absent(format!("after 1.2 s the second FETCH replied {}", show(&r))),
    }
}

/// OBJECT ENCODING of a new hash holding `pairs`.
fn hash_encoding(s: &Server, pairs: &str) -> Vec<u8> {
    let key = format!("hash{}", rand_suffix());
    let mut c = s.client();
    c.cmd_str(&format!("HSET {key} {pairs}"));
    c.cmd_str(&format!("OBJECT ENCODING {key}"))
}

/// Three small fields make a hashtable (at the default 512 they stay a listpack).
fn three_fields_are_a_hashtable(s: &Server, _: &str) -> Outcome {
    match hash_encoding(s, "a 1 b 2 c 3") {
        r if r == b"$9\r\nhashtable\r\n" => Ok(()),
        r => absent(format!("a hash of 3 fields is {}", show(&r))),
    }
}

/// A 5-byte value makes a hashtable (at the default 64 it stays a listpack).
fn five_bytes_are_a_hashtable(s: &Server, _: &str) -> Outcome {
    match hash_encoding(s, "f 12345") {
        r if r == b"$9\r\nhashtable\r\n" => Ok(()),
        r => absent(format!("a hash with a 5-byte value is {}", show(&r))),
    }
}

/// Three integers make a set a hashtable (at the default 512 it stays an intset).
fn three_integers_are_a_hashtable(s: &Server, _: &str) -> Outcome {
    let key = format!("set{}", rand_suffix());
    let mut c = s.client();
    c.cmd_str(&format!("SADD {key} 1 2 3"));
    match c.cmd_str(&format!("OBJECT ENCODING {key}")) {
        r if r == b"$9\r\nhashtable\r\n" => Ok(()),
        r => absent(format!("a set of 3 integers is {}", show(&r))),
    }
}

/// OBJECT ENCODING of a fresh zset after `ZADD key <pairs>`.
fn zset_encoding(s: &Server, pairs: &str) -> Vec<u8> {
    let mut c = s.client();
    let key = format!("z{}", rand_suffix());
    c.cmd_str(&format!("ZADD {key} {pairs}"));
    c.cmd_str(&format!("OBJECT ENCODING {key}"))
}

/// Three members make a skiplist (at the default 128 they stay a listpack).
fn three_members_are_a_skiplist(s: &Server, _: &str) -> Outcome {
    match zset_encoding(s, "1 a 2 b 3 c") {
        r if r == b"$8\r\nskiplist\r\n" => Ok(()),
        r => absent(format!("a zset of 3 members is {}", show(&r))),
    }
}

/// A 5-byte member makes a skiplist (at the default 64 it stays a listpack).
fn five_bytes_are_a_skiplist(s: &Server, _: &str) -> Outcome {
    match zset_encoding(s, "1 12345") {
        r if r == b"$8\r\nskiplist\r\n" => Ok(()),
        r => absent(format!("a zset with a 5-byte member is {}", show(&r))),
    }
}

/// A key suffix no other run of a probe on the same server uses.
fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `INFO quota` has `field:want`.
fn quota_info(s: &Server, field: &str, want: &str) -> Outcome {
    let mut c = s.client();
    let info = String::from_utf8_lossy(&c.cmd_str("INFO quota")).into_owned();
    let line = format!("{field}:{want}");
    match info.lines().any(|l| l == line) {
        true => Ok(()),
        false => absent(format!("no {line:?} in INFO quota: {info:?}")),
    }
}

fn ms_of(value: &str) -> String {
    value
        .parse::<tollgate::duration::DurationMs>()
        .unwrap()
        .0
        .to_string()
}

fn quota_timezone_in_info(s: &Server, value: &str) -> Outcome {
    quota_info(s, "timezone", value)
}

fn quota_week_start_in_info(s: &Server, value: &str) -> Outcome {
    quota_info(s, "week_start", value)
}

fn quota_default_plan_in_info(s: &Server, value: &str) -> Outcome {
    quota_info(s, "default_plan", value)
}

fn quota_idempotency_ttl_in_info(s: &Server, value: &str) -> Outcome {
    quota_info(s, "idempotency_ttl_ms", &ms_of(value))
}

fn quota_hold_ttl_in_info(s: &Server, value: &str) -> Outcome {
    quota_info(s, "hold_ttl_ms", &ms_of(value))
}

fn leak<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

fn leak_str(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A fresh directory of this test run.
fn empty_dir() -> String {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tollgate-config-effect-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.display().to_string()
}

/// A fresh directory holding a snapshot named `file` with the key `probe`.
fn seeded_dir(file: &str) -> String {
    let dir = empty_dir();
    let ks = tollgate::store::Keyspace::new(1, 1);
    ks.shard(0, b"probe").put(
        tollgate::store::Entry::new_str(b"probe", b"loaded", tollgate::store::Encoding::Raw, 0),
        false,
        0,
    );
    tollgate::persist::save(&ks, 0, &std::path::Path::new(&dir).join(file), false, 1).unwrap();
    dir
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// Sends `bytes` and requires `want` as the reply.
fn expect_reply(s: &Server, bytes: &[u8], want: &str) -> Outcome {
    let mut c = s.client();
    if c.stream.write_all(bytes).is_err() {
        return absent("the server closed the connection before the request was sent");
    }
    match c.read_reply() {
        Some(r) if show(&r) == show(want.as_bytes()) => Ok(()),
        Some(r) => absent(format!("replied {}", show(&r))),
        None => absent("no reply"),
    }
}

fn listens_only_on_bind(s: &Server, value: &str) -> Outcome {
    let ip: IpAddr = value
        .parse()
        .map_err(|_| Miss::Absent(format!("{value}?")))?;
    let port = s.addr.port();
    if ping(SocketAddr::new(ip, port)).is_none() {
        return absent(format!("nothing answers on {ip}:{port}"));
    }
    if ping(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)).is_some() {
        return absent(format!("127.0.0.1:{port} answers too"));
    }
    Ok(())
}

fn listens_on_port(_: &Server, value: &str) -> Outcome {
    let port: u16 = value
        .parse()
        .map_err(|_| Miss::Absent(format!("{value}?")))?;
    match ping(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)) {
        Some(r) if r == b"+PONG\r\n" => Ok(()),
        other => absent(format!("port {port} answered {other:?}")),
    }
}

fn int_reply(r: &[u8]) -> Option<i64> {
    std::str::from_utf8(r.strip_prefix(b":")?)
        .ok()?
        .trim_end()
        .parse()
        .ok()
}

/// A PING (microseconds) is in SLOWLOG.
fn ping_is_slowlogged(s: &Server, _: &str) -> Outcome {
    let mut c = s.client();
    c.cmd_str("SLOWLOG RESET");
    c.cmd_str("PING");
    match int_reply(&c.cmd_str("SLOWLOG LEN")) {
        Some(n) if n >= 2 => Ok(()),
        n => absent(format!("SLOWLOG LEN {n:?} after RESET and PING")),
    }
}

/// Three commands leave one entry.
fn slowlog_keeps_one(s: &Server, _: &str) -> Outcome {
    let mut c = s.client();
    for _ in 0..3 {
        c.cmd_str("PING");
    }
    match int_reply(&c.cmd_str("SLOWLOG LEN")) {
        Some(1) => Ok(()),
        n => absent(format!("SLOWLOG LEN {n:?} after 3 commands")),
    }
}

/// A script that loops for milliseconds is LATENCY's `command` event.
fn long_script_is_a_latency_event(s: &Server, _: &str) -> Outcome {
    let mut c = s.client();
    c.cmd(&[
        b"EVAL",
        b"local x = 0 for i = 1, 3000000 do x = x + i end return 1",
        b"0",
    ]);
    let r = c.cmd_str("LATENCY LATEST");
    if show(&r).contains("command") {
        return Ok(());
    }
    absent(format!("LATENCY LATEST {}", show(&r)))
}

fn latencystats(s: &Server) -> String {
    let mut c = s.client();
    c.cmd_str("GET k");
    String::from_utf8_lossy(&c.cmd_str("INFO latencystats")).into_owned()
}

fn no_latency_percentiles(s: &Server, _: &str) -> Outcome {
    let info = latencystats(s);
    if info.contains("latency_percentiles_usec_get") {
        return absent(format!("INFO latencystats {info:?}"));
    }
    Ok(())
}

fn p90_in_latencystats(s: &Server, _: &str) -> Outcome {
    let info = latencystats(s);
    if info.contains("latency_percentiles_usec_get:p90=") {
        return Ok(());
    }
    absent(format!("INFO latencystats {info:?}"))
}

/// `tollgate --check-health` finds the endpoint on that port (GET /health answers 200).
fn health_on_metrics_port(_: &Server, value: &str) -> Outcome {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["--check-health", "--metrics-port", value])
        .output()
        .map_err(|e| Miss::Absent(e.to_string()))?;
    if out.status.success() {
        return Ok(());
    }
    absent(format!(
        "--check-health on port {value}: {} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn select_out_of_range(s: &Server, _: &str) -> Outcome {
    expect_reply(
        s,
        &Raw::encode(&[b"SELECT", b"2"]),
        "-ERR DB index is out of range\r\n",
    )
}

fn second_client_refused(s: &Server, _: &str) -> Outcome {
    // The harness's CONFIG SET connection may not be gone yet: wait until one client fits.
    let deadline = Instant::now() + Duration::from_secs(5);
    let _first = loop {
        let mut c = s.client();
        if c.cmd_str("PING") == b"+PONG\r\n" {
            break c;
        }
        if Instant::now() > deadline {
            return absent("not even one client is served");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    expect_reply(
        s,
        &Raw::encode(&[b"PING"]),
        "-ERR max number of clients reached\r\n",
    )
}

fn idle_client_closed(s: &Server, _: &str) -> Outcome {
    let mut c = s.client();
    if c.cmd_str("PING") != b"+PONG\r\n" {
        return absent("PING failed");
    }
    // Closed after 1 s idle; the margin is for a busy machine.
    match read_until_closed(&mut c.stream, Duration::from_secs(4)) {
        true => Ok(()),
        false => absent("an idle client is still connected after 4 s"),
    }
}

fn auth_required(s: &Server, value: &str) -> Outcome {
    let mut c = s.client();
    let r = c.cmd_str("GET k");
    if r != b"-NOAUTH Authentication required.\r\n" {
        return absent(format!("GET without AUTH replied {}", show(&r)));
    }
    match c.cmd(&[b"AUTH", value.as_bytes()]) {
        r if r == b"+OK\r\n" => Ok(()),
        r => absent(format!("AUTH {value} replied {}", show(&r))),
    }
}

fn remote_client_served(s: &Server, _: &str) -> Outcome {
    let Some(remote) = s.remote else {
        return absent("the server has no non-loopback address");
    };
    match ping(remote) {
        Some(r) if r == b"+PONG\r\n" => Ok(()),
        Some(r) => absent(format!("a client from {} got {}", remote.ip(), show(&r))),
        None => absent(format!("no reply to a client from {}", remote.ip())),
    }
}

/// Reads the kernel's timer of the server's end of a connection from `/proc/net/tcp`: the
/// keepalive timer (`tr` 2) is pending and due within the configured seconds (at the default
/// it would be 300 s away; with keepalive off no timer is pending).
fn keepalive_on_accepted_socket(s: &Server, value: &str) -> Outcome {
    let mut c = s.client();
    if c.cmd_str("PING") != b"+PONG\r\n" {
        return absent("PING failed");
    }
    let client_port = c
        .stream
        .local_addr()
        .map_err(|e| Miss::Absent(e.to_string()))?
        .port();
    let (timer, ticks) = tcp_timer(s.addr.port(), client_port)
        .ok_or_else(|| Miss::Absent("the connection is not in /proc/net/tcp".into()))?;
    // /proc reports the time left in USER_HZ ticks (100 a second on Linux).
    let want_at_most = value.parse::<u64>().unwrap_or(0) * 100;
    if timer == 2 && ticks <= want_at_most {
        Ok(())
    } else {
        absent(format!(
            "timer {timer} due in {ticks} ticks (keepalive is timer 2, due within {want_at_most})"
        ))
    }
}

/// 64 keys of 4 KiB with increasing TTLs under volatile-ttl, then room made for about six
/// fewer: exact TTL order needs one shard (eviction picks a shard, then samples it) and enough
/// samples (1000 draws over 64 keys all but surely include the nearest to expiring).
fn eviction_in_ttl_order(s: &Server, _: &str) -> Outcome {
    const KEYS: usize = 64;
    let mut c = s.client();
    let value = vec![b'v'; 4096];
    let mut batch = Vec::new();
    for i in 0..KEYS {
        let ttl = (100_000 + i).to_string();
        batch.extend(Raw::encode(&[
            b"SET",
            format!("e:{i}").as_bytes(),
            &value,
            b"EX",
            ttl.as_bytes(),
        ]));
    }
    c.send_bytes(&batch);
    for _ in 0..KEYS {
        if c.read_reply().as_deref() != Some(b"+OK\r\n") {
            return absent("a SET failed");
        }
    }
    let used = info_u64(&mut c, "used_memory");
    let max = used.saturating_sub(6 * 4096).to_string();
    if c.cmd(&[b"CONFIG", b"SET", b"maxmemory", max.as_bytes()]) != b"+OK\r\n" {
        return absent("CONFIG SET maxmemory failed");
    }
    let mut gone = Vec::new();
    for i in 0..KEYS {
        if c.cmd(&[b"EXISTS", format!("e:{i}").as_bytes()]) == b":0\r\n" {
            gone.push(i);
        }
    }
    let prefix: Vec<usize> = (0..gone.len()).collect();
    if gone.len() >= 3 && gone == prefix {
        Ok(())
    } else {
        absent(format!(
            "evicted {gone:?}, not the {} nearest to expiring",
            gone.len()
        ))
    }
}

fn worker_thread_count(s: &Server, value: &str) -> Outcome {
    let Some(pid) = s.pid() else {
        return absent("not a process");
    };
    let names = || -> Vec<String> {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|tasks| {
                tasks
                    .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    // Tokio's threads; the others are main and tollgate-expiry, and no blocking-pool thread
    // exists while the server just listens. A thread takes its name once it first runs, which
    // on a busy machine can be after the server says it is ready.
    let workers = || names().iter().filter(|n| n.starts_with("tokio")).count();
    if wait_for(Duration::from_secs(2), || workers().to_string() == value) {
        Ok(())
    } else {
        absent(format!("{} runtime threads: {:?}", workers(), names()))
    }
}

fn big_bulk_refused(s: &Server, _: &str) -> Outcome {
    expect_reply(
        s,
        b"*2\r\n$3\r\nGET\r\n$2000000\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    )
}

fn big_query_closes(s: &Server, _: &str) -> Outcome {
    let mut c = s.client();
    let mut bytes = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n".to_vec();
    bytes.resize(bytes.len() + 2_000_000, b'x');
    // A write that fails is the server having closed already.
    if c.stream.write_all(&bytes).is_err() {
        return Ok(());
    }
    match read_until_closed(&mut c.stream, Duration::from_secs(3)) {
        true => Ok(()),
        false => absent("a client with 2 MB unparsed is still connected"),
    }
}

/// A reply of 6 MB: over a 4 MB hard limit the client is closed instead.
fn big_reply_closes(s: &Server, _: &str) -> Outcome {
    let mut c = s.client();
    c.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| Miss::Absent(e.to_string()))?;
    if c.cmd_str("SETRANGE big 6291455 x") != b":6291456\r\n" {
        return absent("SETRANGE failed");
    }
    c.send_bytes(&Raw::encode(&[b"GET", b"big"]));
    match c.read_reply() {
        None => Ok(()),
        Some(r) => absent(format!("a 6 MB reply arrived ({} bytes)", r.len())),
    }
}

/// A client that reads nothing has its reply pending when the server is asked to stop: with
/// a grace period of a minute the server still waits for it 5 s later; at the default
/// (500 ms) it has long stopped. The client's end closes the connection afterwards.
fn shutdown_waits_for_a_stalled_client(s: &Server, _: &str) -> Outcome {
    let mut admin = s.client();
    if admin.cmd_str("SETRANGE big 16777215 x") != b":16777216\r\n" {
        return absent("SETRANGE failed");
    }
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
        .map_err(|e| Miss::Absent(e.to_string()))?;
    let _ = socket.set_recv_buffer_size(4096);
    socket
        .connect(&s.addr.into())
        .map_err(|e| Miss::Absent(e.to_string()))?;
    let mut stuck: TcpStream = socket.into();
    let _ = stuck.write_all(&Raw::encode(&[b"GET", b"big"]).repeat(2));
    let stalled = wait_for(Duration::from_secs(10), || {
        let list = String::from_utf8_lossy(&admin.cmd_str("CLIENT LIST")).into_owned();
        list.contains(" events=rw ")
    });
    if !stalled {
        return absent("the client's reply never stalled");
    }
    admin.send_bytes(&Raw::encode(&[b"SHUTDOWN"]));
    let Kind::InProcess { thread, .. } = &s.kind else {
        return absent("not in process");
    };
    let stopped = wait_for(Duration::from_secs(5), || {
        thread.as_ref().is_none_or(|t| t.is_finished())
    });
    drop(stuck);
    match stopped {
        true => absent("the server stopped within 5 s"),
        false => Ok(()),
    }
}

fn long_inline_refused(s: &Server, _: &str) -> Outcome {
    // No newline yet: the server is waiting for the end of the line.
    let mut line = b"PING ".to_vec();
    line.resize(200, b'a');
    expect_reply(s, &line, "-ERR Protocol error: too big inline request\r\n")
}

fn long_multibulk_refused(s: &Server, _: &str) -> Outcome {
    expect_reply(
        s,
        &Raw::encode(&[b"MSET", b"a", b"b", b"c"]),
        "-ERR Protocol error: invalid multibulk length\r\n",
    )
}

fn unauth_multibulk_refused(s: &Server, _: &str) -> Outcome {
    expect_reply(
        s,
        &Raw::encode(&[b"SET", b"a", b"b"]),
        "-ERR Protocol error: unauthenticated multibulk length\r\n",
    )
}

fn unauth_bulk_refused(s: &Server, _: &str) -> Outcome {
    expect_reply(
        s,
        &Raw::encode(&[b"AUTH", &[b'p'; 200]]),
        "-ERR Protocol error: unauthenticated bulk length\r\n",
    )
}

/// A script spins for 600 ms; a PING sent 300 ms in is answered -BUSY (the script is past
/// the threshold), not PONG once it ended (at the default, 5 s).
fn busy_script_refuses_others(s: &Server, _: &str) -> Outcome {
    let script =
        "local function us() local t = redis.call('time') return t[1] * 1000000 + t[2] end \
                  local start = us() repeat until us() - start > 600000 return 1";
    let mut a = s.client();
    a.send_bytes(&Raw::encode(&[b"EVAL", script.as_bytes(), b"0"]));
    std::thread::sleep(Duration::from_millis(300));
    let mut b = s.client();
    let r = b.cmd(&[b"PING"]);
    let _ = a.read_reply();
    match r.starts_with(b"-BUSY ") {
        true => Ok(()),
        false => absent(format!("PING answered {}", show(&r))),
    }
}

/// Writes 2 MB in 1 KiB values; the replies.
fn write_2mb(s: &Server) -> (Raw, Vec<Vec<u8>>) {
    const KEYS: usize = 2000;
    let mut c = s.client();
    let value = vec![b'v'; 1024];
    let mut batch = Vec::new();
    for i in 0..KEYS {
        batch.extend(Raw::encode(&[b"SET", format!("m:{i}").as_bytes(), &value]));
    }
    c.send_bytes(&batch);
    let replies = (0..KEYS).map_while(|_| c.read_reply()).collect();
    (c, replies)
}

fn writes_hit_oom(s: &Server, _: &str) -> Outcome {
    let (_, replies) = write_2mb(s);
    match replies.iter().find(|r| r.starts_with(b"-OOM")) {
        Some(_) => Ok(()),
        None => absent("2 MB of writes all succeeded"),
    }
}

fn writes_evict(s: &Server, _: &str) -> Outcome {
    let (mut c, replies) = write_2mb(s);
    if let Some(r) = replies.iter().find(|r| r.as_slice() != b"+OK\r\n") {
        return absent(format!("a write replied {}", show(r)));
    }
    match info_u64(&mut c, "evicted_keys") {
        0 => absent("nothing was evicted"),
        _ => Ok(()),
    }
}

/// With memory full of strings, a check on a new rate-limit key gets -OOM (the default
/// denies it).
fn new_rate_limit_key_gets_oom(s: &Server, _: &str) -> Outcome {
    let (mut c, replies) = write_2mb(s);
    if !replies.iter().any(|r| r.starts_with(b"-OOM")) {
        return absent("2 MB of writes all succeeded");
    }
    let r = c.cmd_str("RL.CHECK fresh 10 1h");
    match r.starts_with(b"-OOM") {
        true => Ok(()),
        false => absent(format!("RL.CHECK on a new key replied {}", show(&r))),
    }
}

/// RL.ACQUIRE with a `max` one above the cap is an argument error.
fn acquire_above_cap_refused(s: &Server, value: &str) -> Outcome {
    let cap: u64 = value.parse().unwrap();
    let mut c = s.client();
    let r = c.cmd_str(&format!("RL.ACQUIRE k {} 1h", cap + 1));
    let want = format!("-ERR max must be at most {cap} (tollgate-rl-max-leases)\r\n");
    match show(&r) == show(want.as_bytes()) {
        true => Ok(()),
        false => absent(format!("RL.ACQUIRE above the cap replied {}", show(&r))),
    }
}

/// The snapshot the setting points at was loaded at start.
fn snapshot_loaded(s: &Server, _: &str) -> Outcome {
    expect_reply(s, &Raw::encode(&[b"GET", b"probe"]), "$6\r\nloaded\r\n")
}

/// Under `everysec` twenty sequential quota charges are acknowledged without an fsync each
/// (at most one a second); under `always` each waits for one.
fn quota_charges_share_fsyncs(s: &Server, _: &str) -> Outcome {
    let mut c = s.client();
    let before = info_u64(&mut c, "quota_log_fsyncs");
    for _ in 0..20 {
        if c.cmd_str("QUOTA.CHARGE probe tokens 1").first() != Some(&b'*') {
            return absent("QUOTA.CHARGE failed");
        }
    }
    match info_u64(&mut c, "quota_log_fsyncs") - before {
        n if n < 10 => Ok(()),
        n => absent(format!("{n} fsyncs for 20 sequential charges")),
    }
}

/// Forty charges grow the quota log past 1 KB: it is compacted within a few seconds.
fn log_compacts_itself(s: &Server, _: &str) -> Outcome {
    let mut c = s.client();
    for i in 0..40 {
        if c.cmd_str(&format!("QUOTA.CHARGE probe:{i} tokens 1"))
            .first()
            != Some(&b'*')
        {
            return absent("QUOTA.CHARGE failed");
        }
    }
    match wait_for(Duration::from_secs(4), || {
        info_u64(&mut c, "aof_rewrites") > 0
    }) {
        true => Ok(()),
        false => absent("the log was not compacted within 4 s"),
    }
}

/// The opposite of `log_compacts_itself`: with percentage 0 the log grows uncompacted.
fn log_not_compacted(s: &Server, value: &str) -> Outcome {
    match log_compacts_itself(s, value) {
        Ok(()) => absent("the log was compacted"),
        Err(_) => Ok(()),
    }
}

/// The quota log is written under the configured name in the data directory.
fn quota_log_named(s: &Server, value: &str) -> Outcome {
    let mut c = s.client();
    if c.cmd_str("QUOTA.CHARGE probe tokens 1").first() != Some(&b'*') {
        return absent("QUOTA.CHARGE failed");
    }
    let info = String::from_utf8_lossy(&c.cmd_str("INFO persistence")).into_owned();
    let path = info
        .lines()
        .find_map(|l| l.strip_prefix("quota_log_path:"))
        .unwrap_or_default()
        .trim()
        .to_string();
    match std::path::Path::new(&path).file_name() {
        Some(f) if f == value => Ok(()),
        _ => absent(format!("the log is {path:?}")),
    }
}

/// A directory whose quota log holds three charges of 7 tokens to `probe`, the second with a
/// flipped byte.
fn corrupt_log_dir() -> String {
    use tollgate::quota::mutation::{encode_op, Head};
    let dir = empty_dir();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let head = Head {
        epoch: 0,
        db: 0,
        key: b"probe",
    };
    let op = tollgate::quota::Mutation::Charge {
        items: vec![("tokens".into(), 7)],
        id: None,
        dry_run: false,
    };
    let record = encode_op(&head, now, "freemium", &op);
    let path = std::path::Path::new(&dir);
    let (log, _) =
        tollgate::persist::log::open(path, "tollgate.log", Default::default(), &mut |_| Ok(()))
            .unwrap();
    log.append([&record, &record, &record]).wait().unwrap();
    log.close().unwrap();
    let file = path.join("tollgate.log");
    let mut bytes = std::fs::read(&file).unwrap();
    let second = tollgate::persist::log::HEADER_LEN
        + 2 * tollgate::persist::log::RECORD_HEADER_LEN
        + record.len()
        + 4;
    bytes[second] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    dir
}

/// The server started on the corrupted log, with the charge before the corruption.
fn corrupt_log_truncated(s: &Server, _: &str) -> Outcome {
    let reply = s.client().cmd_str("QUOTA.STATUS probe");
    match String::from_utf8_lossy(&reply).contains("$4\r\nused\r\n:7\r\n") {
        true => Ok(()),
        false => absent(format!("QUOTA.STATUS replied {}", show(&reply))),
    }
}

/// With save point "1 1", one write is saved in the background within a few seconds (more
/// than a second after the start or the CONFIG SET); with Redis's default points it is not.
fn save_point_saves(s: &Server, _: &str) -> Outcome {
    let mut c = s.client();
    if c.cmd_str("SET k v") != b"+OK\r\n" {
        return absent("SET failed");
    }
    match wait_for(Duration::from_secs(4), || info_u64(&mut c, "rdb_saves") > 0) {
        true => Ok(()),
        false => absent("no save within 4 s of a write"),
    }
}

/// With hz 1 the expiry thread wakes once a second, so keys that expire are not reclaimed
/// within 300 ms (at the default 10 they are), but are within a few seconds.
fn expiry_once_a_second(s: &Server, _: &str) -> Outcome {
    let mut c = s.client();
    // After a CONFIG SET the thread may first finish one sleep of the old period.
    std::thread::sleep(Duration::from_millis(150));
    let before = info_u64(&mut c, "expired_keys");
    let mut batch = Vec::new();
    for i in 0..20 {
        batch.extend(Raw::encode(&[
            b"SET",
            format!("hz:{i}").as_bytes(),
            b"v",
            b"PX",
            b"1",
        ]));
    }
    c.send_bytes(&batch);
    for _ in 0..20 {
        c.read_reply();
    }
    std::thread::sleep(Duration::from_millis(300));
    let soon = info_u64(&mut c, "expired_keys").saturating_sub(before);
    if s.applied.elapsed() > Duration::from_millis(900) {
        return Err(Miss::Unsure(
            "too slow to tell a 1 s period from a 100 ms one".into(),
        ));
    }
    if soon > 0 {
        return absent(format!("{soon} keys reclaimed within 300 ms"));
    }
    let reclaimed = wait_for(Duration::from_secs(5), || {
        info_u64(&mut c, "expired_keys").saturating_sub(before) >= 20
    });
    match reclaimed {
        true => Ok(()),
        false => absent("the keys were never reclaimed"),
    }
}

/// Whether reclaiming a backlog of `BACKLOG` keys that expire at once made an expiry cycle
/// stop at its budget (INFO `expired_time_cap_reached_count`). With hz 1 a cycle's budget is
/// its share of a second (`tollgate-active-expire-cpu` percent, plus 2 points per
/// `active-expire-effort` step): 10 ms at 1% is far too little for 25k deletions in a debug
/// build (about 75 ms there: 3 µs a key); 190 ms (1% and effort 10) or 250 ms (the
/// default 25%) is plenty.
const BACKLOG: u64 = 25_000;

fn backlog_hit_the_cap(s: &Server) -> Result<bool, Miss> {
    let mut c = s.client();
    // TIME's reply, raw: *2 $10 <seconds> $6 <microseconds>.
    let time = c.cmd(&[b"TIME"]);
    let now_ms = String::from_utf8_lossy(&time)
        .split("\r\n")
        .find_map(|line| {
            line.parse::<u64>()
                .ok()
                .filter(|&secs| secs > 1_000_000_000)
        })
        .map(|secs| secs * 1000)
        .ok_or_else(|| Miss::Absent("TIME did not answer".into()))?;
    // All the keys expire together, after loading is surely done.
    let at = (now_ms + 4_000).to_string();
    let loading = Instant::now();
    let mut batch = Vec::new();
    for i in 0..BACKLOG {
        let key = format!("backlog:{i}");
        batch.extend(Raw::encode(&[
            b"SET",
            key.as_bytes(),
            b"v",
            b"PXAT",
            at.as_bytes(),
        ]));
        if batch.len() > 1 << 20 {
            c.send_bytes(&batch);
            batch.clear();
        }
    }
    c.send_bytes(&batch);
    for _ in 0..BACKLOG {
        c.read_reply();
    }
    if loading.elapsed() > Duration::from_millis(2_800) {
        return Err(Miss::Unsure("loading took until the keys' deadline".into()));
    }
    let before = info_u64(&mut c, "expired_time_cap_reached_count");
    if !wait_for(Duration::from_secs(15), || {
        info_u64(&mut c, "expired_keys") >= BACKLOG
    }) {
        return Err(Miss::Absent("the backlog was never reclaimed".into()));
    }
    Ok(info_u64(&mut c, "expired_time_cap_reached_count") > before)
}

fn backlog_within_budget(s: &Server, _: &str) -> Outcome {
    match backlog_hit_the_cap(s)? {
        false => Ok(()),
        true => absent(format!(
            "a cycle stopped at its budget ({} ms of expiry for {BACKLOG} keys)",
            info_u64(&mut s.client(), "expire_cycle_cpu_milliseconds")
        )),
    }
}

fn backlog_beyond_budget(s: &Server, _: &str) -> Outcome {
    match backlog_hit_the_cap(s)? {
        true => Ok(()),
        false => absent("every cycle finished within its budget"),
    }
}

fn debug_lines_logged(s: &Server, _: &str) -> Outcome {
    let mut c = s.client();
    c.send_bytes(b"*x\r\n");
    c.read_reply();
    // Protocol errors are logged at debug.
    match wait_for(Duration::from_secs(2), || {
        s.log().contains("protocol error")
    }) {
        true => Ok(()),
        false => absent("no debug line after a protocol error"),
    }
}

fn json_lines_logged(s: &Server, _: &str) -> Outcome {
    let log = s.log();
    let first = log.lines().next().unwrap_or_default();
    if first.starts_with('{') && first.contains(r#""level":"INFO""#) {
        Ok(())
    } else {
        absent(format!("the first log line is {first:?}"))
    }
}

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

/// A server under test, in-process or the `tollgate` binary, stopped on drop.
struct Server {
    /// Where clients connect (loopback, or the bind address).
    addr: SocketAddr,
    /// A non-loopback address of the same server, when the probe asked for one.
    remote: Option<SocketAddr>,
    /// When the probed value took effect: the start, or the CONFIG SET.
    applied: Instant,
    kind: Kind,
    /// A snapshot directory of its own (see `own_snapshot_dir`), removed on drop.
    own_dir: Option<std::path::PathBuf>,
}

/// Unless the probe is about persistence (it sets `persist.dir`), a server snapshots into a
/// directory of its own with no save points, as the other suites' servers do: not into the
/// crate's `./data`, shared by every probe, and a SHUTDOWN does not wait for a 16 MB save to
/// reach a loaded disk (that made the shutdown probe's default run take over 5 s in CI).
fn own_snapshot_dir(cfg: &mut Config) -> Option<std::path::PathBuf> {
    if cfg.persist.dir != Config::default().persist.dir {
        return None;
    }
    let dir = common::temp_dir("probe");
    cfg.persist.dir = dir.display().to_string();
    cfg.persist.save = Default::default();
    Some(dir)
}

enum Kind {
    InProcess {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
    Binary(Binary),
}

impl Server {
    /// The server built from these flags (the path a command line takes), on 127.0.0.1 and,
    /// if asked, on a non-loopback address too.
    fn in_process(flags: &[(String, String)], remote: bool) -> Result<Server, String> {
        let mut argv = vec!["tollgate".to_string()];
        for (flag, value) in flags {
            argv.push(format!("--{flag}"));
            argv.push(value.clone());
        }
        let cli = <Cli as clap::Parser>::try_parse_from(&argv).map_err(|e| e.to_string())?;
        let cfg: Config = config::load(&cli).map_err(|e| e.to_string())?;
        let remote_ip = match remote {
            true => Some(non_loopback_ipv4().ok_or("this machine has no non-loopback address")?),
            false => None,
        };
        Ok(Server::from_config(cfg, remote_ip))
    }

    /// An in-process server with `cfg` as it is, on 127.0.0.1 and on `remote_ip` if given.
    fn from_config(mut cfg: Config, remote_ip: Option<Ipv4Addr>) -> Server {
        let own_dir = own_snapshot_dir(&mut cfg);
        let applied = Instant::now();
        let state = Arc::new(State::new(cfg, tollgate::commands::all_names()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut listeners =
                    vec![tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()];
                if let Some(ip) = remote_ip {
                    listeners.push(tokio::net::TcpListener::bind((ip, 0)).await.unwrap());
                }
                let addrs: Vec<SocketAddr> =
                    listeners.iter().map(|l| l.local_addr().unwrap()).collect();
                addr_tx.send(addrs).unwrap();
                tollgate::server::run_many(listeners, state, async {
                    let _ = stop_rx.await;
                })
                .await;
            });
        });
        let addrs = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the server did not start");
        Server {
            addr: addrs[0],
            remote: addrs.get(1).copied(),
            applied,
            kind: Kind::InProcess {
                stop: Some(stop_tx),
                thread: Some(thread),
            },
            own_dir,
        }
    }

    /// The `tollgate` binary with these flags (on port 0 unless one is given), its stderr
    /// collected; its address is read from its "ready" log line.
    fn binary(flags: &[(String, String)]) -> Result<Server, String> {
        let mut args: Vec<String> = Vec::new();
        if !flags.iter().any(|(f, _)| f == "port") {
            args.extend(["--port".into(), "0".into()]);
        }
        for (flag, value) in flags {
            args.extend([format!("--{flag}"), value.clone()]);
        }
        // Without a `dir` flag, the binary snapshots into a directory of its own (see Binary).
        let applied = Instant::now();
        let binary = Binary::spawn(&args).map_err(|e| e.to_string())?;
        let mut server = Server {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            remote: None,
            applied,
            kind: Kind::Binary(binary),
            own_dir: None,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(addr) = ready_addr(&server.log()) {
                server.addr = addr;
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!("the binary did not start: {:?}", server.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn client(&self) -> Raw {
        let c = Raw::connect(self.addr);
        c.stream
            .set_read_timeout(Some(Duration::from_millis(1500)))
            .unwrap();
        c
    }

    fn pid(&self) -> Option<u32> {
        match &self.kind {
            Kind::Binary(b) => Some(b.child.id()),
            Kind::InProcess { .. } => None,
        }
    }

    /// What the binary has logged so far.
    fn log(&self) -> String {
        match &self.kind {
            Kind::Binary(b) => b.log(),
            Kind::InProcess { .. } => String::new(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.kind {
            Kind::InProcess { stop, thread } => {
                if let Some(s) = stop.take() {
                    let _ = s.send(());
                }
                if let Some(t) = thread.take() {
                    let _ = t.join();
                }
            }
            Kind::Binary(_) => {} // killed by its own drop
        }
        if let Some(dir) = self.own_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// PING over a fresh connection; None when nothing answers.
fn ping(addr: SocketAddr) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(&Raw::encode(&[b"PING"])).ok()?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while common::reply_len(&reply).is_none() {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
        }
    }
    Some(reply)
}

/// Whether the peer closes `stream` within `limit` (EOF or reset), discarding what it sends.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let _ = stream.set_read_timeout(Some(deadline - Instant::now() + Duration::from_millis(1)));
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
    false
}

/// A numeric field of INFO.
fn info_u64(c: &mut Raw, field: &str) -> u64 {
    let info = String::from_utf8_lossy(&c.cmd_str("INFO")).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO"))
}

/// (timer, ticks left) of the connection from `local_port` to `remote_port` in
/// `/proc/net/tcp`, the server's end when `local_port` is the server's.
fn tcp_timer(local_port: u16, remote_port: u16) -> Option<(u32, u64)> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let port = |field: &str| {
        field
            .rsplit(':')
            .next()
            .and_then(|p| u16::from_str_radix(p, 16).ok())
    };
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if port(f.get(1)?)? != local_port || port(f.get(2)?)? != remote_port {
            return None;
        }
        let (timer, when) = f.get(5)?.split_once(':')?;
        Some((
            u32::from_str_radix(timer, 16).ok()?,
            u64::from_str_radix(when, 16).ok()?,
        ))
    })
}

/// An IPv4 address of this machine that is not loopback, from the kernel's local routes.
fn non_loopback_ipv4() -> Option<Ipv4Addr> {
    let trie = std::fs::read_to_string("/proc/net/fib_trie").ok()?;
    let lines: Vec<&str> = trie.lines().collect();
    lines.windows(2).find_map(|w| {
        if w[1].trim() != "/32 host LOCAL" {
            return None;
        }
        let ip: Ipv4Addr = w[0].trim().trim_start_matches("|-- ").parse().ok()?;
        (!ip.is_loopback()).then_some(ip)
    })
}

fn free_port() -> u16 {
    common::free_port()
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

/// Which value a run applies, and how.
#[derive(Clone, Copy, Debug)]
enum Run {
    /// The probe's value, given at start.
    Start,
    /// The default (the value not given at all).
    Default,
    /// The default at start, then the probe's value by CONFIG SET.
    ConfigSet,
}

/// One run of a probe: the observation, or why the server could not be set up.
fn run_once(p: &Probe, s: &Setting, value: &str, run: Run) -> Result<Outcome, String> {
    let flag_of = |path: &str| {
        config::settings()
            .find(|s| s.path() == path)
            .map(|s| s.flag())
            .ok_or_else(|| format!("`with` names {path}, which is not a declared setting"))
    };
    let mut flags = Vec::new();
    for (path, v) in p.with {
        flags.push((flag_of(path)?, v.to_string()));
    }
    if let Run::Start = run {
        flags.push((s.flag(), value.to_string()));
    }
    let mut server = match p.binary {
        true => Server::binary(&flags)?,
        false => Server::in_process(&flags, p.remote)?,
    };
    if let Run::ConfigSet = run {
        let mut c = server.client();
        // A password among the other settings: the admin connection logs in first.
        if let Some((_, pw)) = p.with.iter().find(|(k, _)| *k == "server.requirepass") {
            c.cmd(&[b"AUTH", pw.as_bytes()]);
        }
        let r = c.cmd(&[
            b"CONFIG",
            b"SET",
            s.config_name.as_bytes(),
            value.as_bytes(),
        ]);
        if r != b"+OK\r\n" {
            return Err(format!(
                "CONFIG SET {} {value} replied {}",
                s.config_name,
                show(&r)
            ));
        }
        server.applied = Instant::now();
    }
    Ok((p.check)(&server, value))
}

/// Runs `run`, again when it could not tell (a slow machine), up to three times.
fn run(p: &Probe, s: &Setting, value: &str, run: Run) -> Result<Outcome, String> {
    let mut last = None;
    for _ in 0..3 {
        match run_once(p, s, value, run)? {
            Err(Miss::Unsure(why)) => last = Some(why),
            decided => return Ok(decided),
        }
    }
    Ok(Err(Miss::Unsure(last.unwrap_or_default())))
}

/// Every failure of one setting's probe, as lines naming the setting.
fn check_setting(s: &Setting, p: &Probe) -> Vec<String> {
    let mut failures = Vec::new();
    let value = (p.value)();
    let name = s.path();
    let mut runs = vec![Run::Start];
    if p.default_run {
        runs.push(Run::Default);
    }
    if s.runtime {
        runs.push(Run::ConfigSet);
    }
    for r in runs {
        let expect_effect = !matches!(r, Run::Default);
        match run(p, s, &value, r) {
            Err(setup) => failures.push(format!("{name} ({r:?}): {setup}")),
            Ok(Ok(())) if !expect_effect => failures.push(format!(
                "{name}: the default shows the effect too, so the probe tells nothing"
            )),
            Ok(Err(Miss::Absent(seen))) if expect_effect => {
                failures.push(format!("{name} = {value} ({r:?}) has no effect: {seen}"))
            }
            Ok(Err(Miss::Unsure(why))) => failures.push(format!(
                "{name} ({r:?}): could not tell in three tries: {why}"
            )),
            Ok(_) => {}
        }
    }
    failures
}

#[test]
fn every_declared_setting_has_an_observable_effect() {
    let probes = probes();
    let mut failures = Vec::new();
    for p in &probes {
        if config::settings().all(|s| s.path() != p.setting) {
            failures.push(format!(
                "{}: a probe for a setting that is not declared",
                p.setting
            ));
        }
    }
    let mut work = Vec::new();
    for s in config::settings() {
        match probes.iter().find(|p| p.setting == s.path()) {
            Some(p) => work.push((s, p)),
            None => failures.push(format!(
                "{}: declared but has no probe; add one to probes() in tests/config_effect.rs",
                s.path()
            )),
        }
    }
    // A few at a time: most runs wait on a timeout, but the expiry probes need the CPU.
    let next = AtomicUsize::new(0);
    let found = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((s, p)) = work.get(i) else { break };
                let f = check_setting(s, p);
                found.lock().unwrap().extend(f);
            });
        }
    });
    failures.extend(found.into_inner().unwrap());
    assert!(failures.is_empty(), "\n{}\n", failures.join("\n"));
}

/// `[ratelimit.policies.*]` is a named table rather than a declared setting: a policy from
/// the file limits RL.CHECK ... POLICY, and without it the name is unknown.
#[test]
fn a_configured_rate_limit_policy_takes_effect() {
    let check = |cfg: Config| {
        let s = Server::from_config(cfg, None);
        let mut c = s.client();
        (0..3)
            .map(|_| show(&c.cmd_str("RL.CHECK k POLICY probe")))
            .collect::<Vec<_>>()
    };
    let cfg =
        Config::from_toml_str("[ratelimit.policies.probe]\nlimit = 2\nperiod = \"1m\"\n").unwrap();
    let replies = check(cfg);
    assert!(replies[1].contains("allowed\\r\\n:1"), "{replies:?}");
    assert!(replies[2].contains("allowed\\r\\n:0"), "{replies:?}");
    let replies = check(Config::default());
    assert!(
        replies[0].starts_with("-NOPOLICY no such policy 'probe'"),
        "{replies:?}"
    );
}

/// `[quota.plans.*]` is a named table rather than a declared setting: a plan from the file is
/// listed by INFO quota beside the seeds' and can be the default plan.
#[test]
fn a_configured_quota_plan_is_listed() {
    let cfg = Config::from_toml_str(
        "[quota]\ndefault_plan = \"probe\"\n[quota.plans.probe.calls]\nminute = 2\n",
    )
    .unwrap();
    cfg.validate().unwrap();
    let s = Server::from_config(cfg, None);
    let info = String::from_utf8_lossy(&s.client().cmd_str("INFO quota")).into_owned();
    assert!(
        info.contains("plans:freemium,pay_as_you_go,pro_annual,pro_monthly,probe\r\n"),
        "{info:?}"
    );
    assert!(info.contains("default_plan:probe\r\n"), "{info:?}");
    let s = Server::from_config(Config::default(), None);
    let info = String::from_utf8_lossy(&s.client().cmd_str("INFO quota")).into_owned();
    assert!(
        info.contains("plans:freemium,pay_as_you_go,pro_annual,pro_monthly\r\n"),
        "{info:?}"
    );
}

/// Logs written to a pipe carry no terminal colour codes.
#[test]
fn logs_on_a_pipe_have_no_colour_codes() {
    let s = Server::binary(&[]).unwrap();
    let log = s.log();
    assert!(log.contains("ready to accept connections"), "{log:?}");
    assert!(!log.contains('\u{1b}'), "{log:?}");
}
