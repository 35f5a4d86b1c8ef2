//! Server commands: INFO, CONFIG, DBSIZE, FLUSHDB/FLUSHALL, TIME, SWAPDB, FUNCTION FLUSH,
//! SAVE/BGSAVE/LASTSAVE, SHUTDOWN. `parse` turns arguments into requests; the functions here act and reply.

pub mod monitor;
pub mod parse;
pub mod slowlog;

use super::flag::*;
use super::{cmd, help, tips, CmdError, CmdResult, Ctx, Spec};
use crate::config;
use crate::persist::{self, AtExit, Mode, SaveError};
use crate::protocol::args;
use crate::store::glob;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

#[rustfmt::skip]
pub static CONFIG_SUBCOMMANDS: &[Spec] = &[
    cmd!("config|get", -3, ADMIN | NOSCRIPT | LOADING | STALE, "server", "admin slow dangerous", parse::config_get => config_get),
    cmd!("config|set", -4, ADMIN | NOSCRIPT | LOADING | STALE, "server", "admin slow dangerous", parse::config_set => config_set, tips: &["request_policy:all_nodes", "response_policy:all_succeeded"]),
    cmd!("config|resetstat", 2, ADMIN | NOSCRIPT | LOADING | STALE, "server", "admin slow dangerous", args::no_sub_args => config_resetstat),
    cmd!("config|help", 2, LOADING | STALE, "server", "slow", args::no_sub_args => config_help),
];

#[rustfmt::skip]
pub static FUNCTION_SUBCOMMANDS: &[Spec] = &[
    cmd!("function|flush", -2, WRITE | NOSCRIPT, "scripting", "write slow scripting", parse::function_flush => function_flush, tips: tips::ALL_SHARDS_SUCCEEDED),
    cmd!("function|help", 2, LOADING | STALE, "scripting", "slow scripting", args::no_sub_args => function_help),
];

fn config_get(ctx: &mut Ctx, patterns: &[&[u8]]) -> CmdResult {
    let pairs = {
        let cfg = ctx.state.config.read();
        config::config_get(&cfg, patterns, |p, n| glob::matches(p, n, true))
    };
    ctx.out.map(pairs.len());
    for (k, v) in pairs {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    Ok(())
}

fn config_set(ctx: &mut Ctx, flat: &[&[u8]]) -> CmdResult {
    let pairs: Vec<(&[u8], &[u8])> = flat.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    config::config_set(&mut ctx.state.config.write(), &pairs).map_err(CmdError::Other)?;
    ctx.state.config_changed();
    ctx.out.ok();
    Ok(())
}

fn config_resetstat(ctx: &mut Ctx, (): ()) -> CmdResult {
    ctx.state.keyspace.reset_stats();
    ctx.state.cache.books.reset_stats();
    // Earlier commands of this pipeline are in the connection's tally: reset them too.
    ctx.client.flush_stats(ctx.state);
    ctx.state.commands.reset();
    ctx.state.ratelimit.reset();
    ctx.state.quota_stats.reset();
    let s = &ctx.state.stats;
    for c in [
        &s.connections_received,
        &s.rejected_connections,
        &s.error_replies,
        &s.expire_cycle_us,
        &s.expire_time_cap_reached,
        &s.expired_stale_perc_bits,
    ] {
        c.store(0, Ordering::Relaxed);
    }
    ctx.state.clients.reset_traffic();
    ctx.out.ok();
    Ok(())
}

fn config_help(ctx: &mut Ctx, (): ()) -> CmdResult {
    help(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
        ],
    )
}

fn function_flush(ctx: &mut Ctx, (): ()) -> CmdResult {
    // tollgate has no scripting: there is never a library to flush.
    ctx.out.ok();
    Ok(())
}

fn function_help(ctx: &mut Ctx, (): ()) -> CmdResult {
    help(
        ctx,
        "FUNCTION",
        &[
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries (tollgate has none).",
        ],
    )
}

pub fn dbsize(ctx: &mut Ctx, (): ()) -> CmdResult {
    let n = ctx.state.keyspace.dbsize(ctx.client.db);
    ctx.out.int(n as i64);
    Ok(())
}

pub fn flushdb(ctx: &mut Ctx, (): ()) -> CmdResult {
    ctx.state.keyspace.flush_db(ctx.client.db, ctx.now);
    ctx.out.ok();
    Ok(())
}

pub fn flushall(ctx: &mut Ctx, (): ()) -> CmdResult {
    for db in 0..ctx.state.keyspace.databases() {
        ctx.state.keyspace.flush_db(db, ctx.now);
    }
    // The cache goes too (app test suites flush between tests; a cache outliving FLUSHALL
    // would answer with values of a world that was wiped).
    ctx.state
        .keyspace
        .flush_db(ctx.state.keyspace.cache_db(), ctx.now);
    ctx.state.cache.clear();
    ctx.out.ok();
    Ok(())
}

pub fn time(ctx: &mut Ctx, (): ()) -> CmdResult {
    let now = std::time::Duration::from_nanos(ctx.now_ns());
    ctx.out.array(2);
    ctx.out.bulk_int(now.as_secs() as i64);
    ctx.out.bulk_int(now.subsec_micros() as i64);
    Ok(())
}

pub fn swapdb(ctx: &mut Ctx, (a, b): (i64, i64)) -> CmdResult {
    let n = ctx.state.keyspace.databases();
    let index = |i: i64| usize::try_from(i).ok().filter(|&i| i < n);
    let (Some(a), Some(b)) = (index(a), index(b)) else {
        return Err(CmdError::DbIndex);
    };
    ctx.state.keyspace.swap_db(a, b, ctx.now);
    ctx.out.ok();
    Ok(())
}

/// SAVE: writes the snapshot now, holding the keyspace (the command runs with the world lock
/// exclusively, as Redis's SAVE blocks its event loop); `-ERR` when it cannot be written, as
/// Redis replies.
pub fn save(ctx: &mut Ctx, (): ()) -> CmdResult {
    let st = ctx.state;
    if st.persist.bgsave_in_progress() {
        return Err(CmdError::other("ERR Background save already in progress"));
    }
    let path = st.config.read().persist.path();
    match persist::save_now(
        &st.keyspace,
        &st.persist,
        &st.clock,
        &path,
        Mode::Foreground,
    ) {
        Ok(_) => {
            ctx.out.ok();
            Ok(())
        }
        Err(SaveError::Busy) => Err(CmdError::other("ERR Background save already in progress")),
        Err(SaveError::Io(_)) => Err(CmdError::other("ERR")),
    }
}

/// BGSAVE [SCHEDULE]: the saver thread writes the snapshot while clients are served (shard
/// by shard; see `persist`). With nothing else that could delay it (Redis's SCHEDULE waits
/// for an AOF rewrite, which tollgate does not have), SCHEDULE starts it at once too. Inside
/// EXEC it is "scheduled", as in Redis: the saver starts once EXEC releases the keyspace.
pub fn bgsave(ctx: &mut Ctx, _schedule: bool) -> CmdResult {
    let st = ctx.state;
    if !st.persist.begin_bgsave(ctx.now) {
        return Err(CmdError::other("ERR Background save already in progress"));
    }
    st.persist.request_bgsave();
    ctx.out.simple(if ctx.client.in_exec {
        "Background saving scheduled"
    } else {
        "Background saving started"
    });
    Ok(())
}

/// BGREWRITEAOF: compacts the quota log, which a snapshot does (see `persist::journal`): a
/// background save, or one more after the running one.
pub fn bgrewriteaof(ctx: &mut Ctx, (): ()) -> CmdResult {
    let st = ctx.state;
    // When a save is running, the saver thread takes the request once it is over.
    let started = st.persist.begin_bgsave(ctx.now);
    st.persist.request_bgsave();
    ctx.out.simple(if started && !ctx.client.in_exec {
        "Background append only file rewriting started"
    } else {
        "Background append only file rewriting scheduled"
    });
    Ok(())
}

/// WAIT: the number of replicas that acknowledged this client's writes, which is 0 at once:
/// tollgate has no replicas. Redis without replicas replies the same 0, but only after the
/// timeout when more than 0 replicas are asked for (forever with timeout 0); answering at
/// once tells the caller the same thing without holding it (README, "Differences").
pub fn wait(ctx: &mut Ctx, _replicas: i64) -> CmdResult {
    ctx.out.int(0);
    Ok(())
}

/// LASTSAVE: unix seconds of the last successful save (the start time before the first).
pub fn lastsave(ctx: &mut Ctx, (): ()) -> CmdResult {
    ctx.out.int(ctx.state.persist.last_save_secs() as i64);
    Ok(())
}

/// SHUTDOWN: stops the server gracefully, as SIGTERM does (no new connections; every
/// connection finishes the batch it is executing and writes its replies), and closes this
/// connection without a reply, as Redis does when it exits.
///
/// It saves first when there are save points (or with SAVE; never with NOSAVE). When that
/// save fails the server keeps running and the client gets Redis's error, unless FORCE. The
/// server saves again at exit only if something changed in between (a batch other clients
/// were executing). When a BGSAVE is running the save is left to the exit, after it. NOW
/// changes nothing (there are no replicas to wait for). There is never a shutdown in
/// progress to ABORT: the stop begins at once.
pub fn shutdown(ctx: &mut Ctx, req: parse::Shutdown) -> CmdResult {
    if req.abort {
        return Err(CmdError::other("ERR No shutdown in progress."));
    }
    let st = ctx.state;
    let running = &st.scripting.running;
    if running.active() {
        // Beside a busy script (SHUTDOWN is `allow-busy`): only NOSAVE, which stops the
        // script whatever it wrote and saves nothing, as Redis does.
        if !req.nosave {
            return Err(CmdError::other(crate::scripting::busy::BUSY_ERR));
        }
        running.abort();
        st.persist.set_at_exit(AtExit::NoSave);
        tracing::warn!(
            client = ctx.client.id,
            "SHUTDOWN NOSAVE beside a busy script"
        );
        st.request_shutdown();
        ctx.client.close_after_reply = true;
        return Ok(());
    }
    let (points, path) = {
        let c = st.config.read();
        (!c.persist.save.is_empty(), c.persist.path())
    };
    if req.save || (points && !req.nosave) {
        let saved = persist::save_now(
            &st.keyspace,
            &st.persist,
            &st.clock,
            &path,
            Mode::Foreground,
        );
        match saved {
            Ok(_) => st.persist.set_at_exit(AtExit::Saved),
            Err(SaveError::Busy) => st.persist.set_at_exit(AtExit::Force),
            Err(SaveError::Io(e)) if !req.force => {
                tracing::warn!(error = %e, "Error trying to save the DB, can't exit.");
                return Err(CmdError::other(
                    "ERR Errors trying to SHUTDOWN. Check logs.",
                ));
            }
            Err(SaveError::Io(_)) => st.persist.set_at_exit(AtExit::NoSave),
        }
    } else {
        st.persist.set_at_exit(AtExit::NoSave);
    }
    tracing::info!(client = ctx.client.id, "SHUTDOWN requested by a client");
    st.request_shutdown();
    ctx.client.close_after_reply = true;
    Ok(())
}

/// Every section, in Redis's order.
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
    "tollgate",
    "quota",
    "cache",
];

/// What `INFO` and `INFO default` show: all but the per-command sections, as in Redis.
fn is_default(section: &str) -> bool {
    section != "commandstats" && section != "latencystats"
}

pub fn info(ctx: &mut Ctx, sections: &[&[u8]]) -> CmdResult {
    // Show the commands before this one in the same pipeline, as Redis does.
    ctx.client.flush_stats(ctx.state);
    let wanted: Vec<String> = sections
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let all = wanted.iter().any(|w| w == "all" || w == "everything");
    let default = wanted.is_empty() || wanted.iter().any(|w| w == "default");
    let mut text = String::new();
    for section in ALL_SECTIONS
        .iter()
        .filter(|s| all || (default && is_default(s)) || wanted.iter().any(|w| w == *s))
    {
        let body = section_text(ctx, section);
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        text.push_str(&body);
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{}B", n as u64)
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2}K", n / 1024.0)
    } else if n < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", n / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", n / (1024.0 * 1024.0 * 1024.0))
    }
}

/// Resident set size from /proc (0 where it cannot be read).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// Physical memory of the machine, from /proc/meminfo (0 where unknown, as Redis shows).
fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// User and system CPU seconds from /proc/self/stat.
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (ticks(11), ticks(12))
}

fn section_text(ctx: &Ctx, section: &str) -> String {
    let st = ctx.state;
    let mut s = String::new();
    let cfg = st.config.read();
    match section {
        "server" => {
            let now = std::time::Duration::from_nanos(st.clock.now_ns());
            let up = st.uptime_secs();
            let _ = write!(
                s,
                "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nexecutable:tollgate\r\nconfig_file:\r\ntollgate_version:{}\r\n",
                super::connection::REDIS_VERSION,
                std::env::consts::OS,
                std::env::consts::ARCH,
                std::process::id(),
                st.run_id,
                st.port.load(Ordering::Relaxed),
                now.as_micros(),
                up,
                up / 86400,
                cfg.store.hz,
                cfg.store.hz,
                env!("CARGO_PKG_VERSION"),
            );
        }
        "clients" => {
            let (input, output) = st.clients.largest_buffers();
            let _ = write!(
                s,
                "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:{input}\r\nclient_recent_max_output_buffer:{output}\r\nblocked_clients:{}\r\ntracking_clients:0\r\nclients_in_timeout_table:{}\r\n",
                st.clients.len(),
                cfg.server.maxclients,
                st.stats.blocked_clients.load(std::sync::atomic::Ordering::Relaxed),
                // Redis lists a blocked client with a timeout here; every blocked FETCH has one.
                st.stats.blocked_clients.load(std::sync::atomic::Ordering::Relaxed),
            );
        }
        "memory" => {
            let used = st.keyspace.used_memory() as u64;
            let peak = st.note_memory_peak(used);
            let rss = rss_bytes();
            let max = cfg.store.maxmemory.0;
            let total = total_system_memory();
            let a = crate::alloc::usage().unwrap_or_default();
            // Redis's ratios: each layer over the one inside it; 0 bytes counts as 1. Redis's
            // used_memory counts every allocation, so its mem_fragmentation_ratio is RSS
            // over what the allocator handed out; ours counts data only (what maxmemory
            // compares), so the allocator's count stands in for it there.
            let allocated = if a.allocated > 0 { a.allocated } else { used };
            let ratio = |outer: u64, inner: u64| outer as f64 / inner.max(1) as f64;
            let diff = |outer: u64, inner: u64| outer as i64 - inner as i64;
            let _ = write!(
                s,
                "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_dataset:{used}\r\nallocator_allocated:{}\r\nallocator_active:{}\r\nallocator_resident:{}\r\ntotal_system_memory:{total}\r\ntotal_system_memory_human:{}\r\nmaxmemory:{max}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nallocator_frag_ratio:{:.2}\r\nallocator_frag_bytes:{}\r\nallocator_rss_ratio:{:.2}\r\nallocator_rss_bytes:{}\r\nrss_overhead_ratio:{:.2}\r\nrss_overhead_bytes:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_allocator:{}\r\n",
                human_bytes(used),
                human_bytes(rss),
                human_bytes(peak),
                used as f64 * 100.0 / peak.max(1) as f64,
                a.allocated,
                a.active,
                a.resident,
                human_bytes(total),
                human_bytes(max),
                cfg.store.maxmemory_policy.as_str(),
                ratio(a.active, a.allocated),
                diff(a.active, a.allocated),
                ratio(a.resident, a.active),
                diff(a.resident, a.active),
                ratio(rss, a.resident),
                diff(rss, a.resident),
                ratio(rss, allocated),
                diff(rss, allocated),
                crate::alloc::name(),
            );
        }
        "persistence" => {
            s.push_str(&st.persist.info(st.keyspace.changes(), ctx.now));
        }
        "stats" => {
            let ks = st.keyspace.stats();
            let c = &st.stats;
            let (commands, net_in, net_out) = st.traffic();
            let [ops, in_bps, out_bps] = st.rates.lock().current();
            let _ = write!(
                s,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ninstantaneous_input_kbps:{:.2}\r\ninstantaneous_output_kbps:{:.2}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nexpired_stale_perc:{:.2}\r\nexpired_time_cap_reached_count:{}\r\nexpire_cycle_cpu_milliseconds:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\ntotal_error_replies:{}\r\n",
                c.connections_received.load(Ordering::Relaxed),
                commands,
                ops as u64,
                net_in,
                net_out,
                in_bps / 1024.0,
                out_bps / 1024.0,
                c.rejected_connections.load(Ordering::Relaxed),
                ks.expired,
                f64::from_bits(c.expired_stale_perc_bits.load(Ordering::Relaxed)),
                c.expire_time_cap_reached.load(Ordering::Relaxed),
                c.expire_cycle_us.load(Ordering::Relaxed) / 1000,
                ks.evicted,
                ks.hits,
                ks.misses,
                st.pubsub.channel_count(),
                st.pubsub.numpat(),
                c.error_replies.load(Ordering::Relaxed),
            );
        }
        "replication" => {
            let _ = write!(s, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_replid:{}\r\nmaster_repl_offset:0\r\n", st.run_id);
        }
        "cpu" => {
            let (user, sys) = cpu_seconds();
            let _ = write!(
                s,
                "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n"
            );
        }
        "modules" => s.push_str("# Modules\r\n"),
        "commandstats" => {
            s.push_str("# Commandstats\r\n");
            st.commands.write_commandstats(&mut s);
        }
        "errorstats" => {
            s.push_str("# Errorstats\r\n");
            st.commands.write_errorstats(&mut s);
        }
        "latencystats" => {
            s.push_str("# Latencystats\r\n");
            st.commands.write_latencystats(&mut s);
        }
        "cluster" => s.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
        "keyspace" => {
            s.push_str("# Keyspace\r\n");
            for db in 0..st.keyspace.databases() {
                let (keys, expires) = st.keyspace.db_counts(db);
                if keys > 0 {
                    let avg = st.keyspace.avg_ttl(db, ctx.now);
                    let _ = write!(s, "db{db}:keys={keys},expires={expires},avg_ttl={avg}\r\n");
                }
            }
        }
        "tollgate" => {
            let _ = write!(
                s,
                "# Tollgate\r\ntollgate_version:{}\r\nshards_per_db:{}\r\n",
                env!("CARGO_PKG_VERSION"),
                st.keyspace.shard_count(),
            );
            let (denied, allowed, oom) = st.ratelimit.full_memory.counts();
            let _ = write!(
                s,
                "full_memory_denied:{denied}\r\nfull_memory_allowed:{allowed}\r\nfull_memory_oom:{oom}\r\n",
            );
            for (name, allowed, denied) in st.ratelimit.snapshot() {
                let _ = write!(s, "rl_{name}:allowed={allowed},denied={denied}\r\n");
            }
        }
        "quota" => {
            // The calendar and plans the quota windows follow, so an operator can check what
            // the server runs with (the QUOTA.* counters join this section with the commands).
            let q = &cfg.quota;
            let _ = write!(
                s,
                "# Quota\r\ntimezone:{}\r\nweek_start:{}\r\ndefault_plan:{}\r\nidempotency_ttl_ms:{}\r\nhold_ttl_ms:{}\r\nplans:{}\r\nmax_ids_per_subject:{}\r\nledger_entries_per_subject:{}\r\n",
                q.timezone,
                q.week_start,
                q.default_plan,
                q.idempotency_ttl.0,
                q.hold_ttl.0,
                q.plans.keys().map(String::as_str).collect::<Vec<_>>().join(","),
                crate::quota::DEFAULT_MAX_IDS,
                crate::quota::DEFAULT_LEDGER_LEN,
            );
            // Per plan and metric, what the commands did: charges (and units charged),
            // refusals, replays of an id, holds opened, settled, canceled, expired, open now,
            // refunds.
            for (plan, metric, l) in st.quota_stats.snapshot() {
                let _ = write!(
                    s,
                    "quota_{plan}_{metric}:charges={},charged={},denied={},replayed={},reserved={},settled={},canceled={},expired={},holds_open={},refunds={}\r\n",
                    l.charges,
                    l.charged,
                    l.denied,
                    l.replayed,
                    l.reserved,
                    l.settled,
                    l.canceled,
                    l.expired,
                    l.holds_open,
                    l.refunds,
                );
            }
        }
        "cache" => {
            // The cache's entries live in a database no client selects: this is where
            // they show (`# Keyspace` and DBSIZE count only the databases clients see).
            let cache = &st.cache;
            let ks = &st.keyspace;
            let (entries, volatile) = ks.db_counts(ks.cache_db());
            let _ = write!(
                s,
                "# Cache\r\ncache_entries:{entries}\r\ncache_entries_with_ttl:{volatile}\r\ncache_subjects:{}\r\ncache_purged_pending:{}\r\ncache_fills_in_flight:{}\r\n",
                cache.books.subjects(),
                cache.books.stale(),
                cache.flights.len(),
            );
            // Per type, what CACHE.STATS says of it.
            for ((_, name), c) in cache.catalog.types().zip(cache.books.totals()) {
                let _ = write!(
                    s,
                    "cache_{name}:entries={},bytes={},hits={},misses={},hit_rate={:.4},tokens_saved={},cost_saved_usd={},evictions={},expired={}\r\n",
                    c.entries,
                    c.bytes,
                    c.hits,
                    c.misses,
                    c.hit_rate(),
                    c.tokens_saved,
                    c.cost_saved_usd(),
                    c.evictions,
                    c.expired,
                );
            }
        }
        _ => {}
    }
    s
}
