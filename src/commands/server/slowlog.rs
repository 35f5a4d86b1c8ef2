//! SLOWLOG and LATENCY: what a slow command leaves behind (`record`, called by
//! `commands::run` when `State::is_slow` says so) and the commands that read it, with Redis
//! 7.0's replies.

use super::parse;
use crate::commands::{cmd, flag::*, help, Ctx, Spec};
use crate::error::CmdResult;
use crate::protocol::args;

#[rustfmt::skip]
pub static SLOWLOG_SUBCOMMANDS: &[Spec] = &[
    cmd!("slowlog|get", -2, ADMIN | LOADING | STALE, "server", "admin slow dangerous", parse::slowlog_get => slowlog_get, tips: &["request_policy:all_nodes", "nondeterministic_output"]),
    cmd!("slowlog|len", 2, ADMIN | LOADING | STALE, "server", "admin slow dangerous", args::no_sub_args => slowlog_len, tips: &["request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"]),
    cmd!("slowlog|reset", 2, ADMIN | LOADING | STALE, "server", "admin slow dangerous", args::no_sub_args => slowlog_reset, tips: &["request_policy:all_nodes", "response_policy:all_succeeded"]),
    cmd!("slowlog|help", 2, LOADING | STALE, "server", "slow", args::no_sub_args => slowlog_help),
];

const LATENCY_TIPS: &[&str] = &[
    "nondeterministic_output",
    "request_policy:all_nodes",
    "response_policy:special",
];

#[rustfmt::skip]
pub static LATENCY_SUBCOMMANDS: &[Spec] = &[
    cmd!("latency|latest", 2, ADMIN | NOSCRIPT | LOADING | STALE, "server", "admin slow dangerous", args::no_sub_args => latency_latest, tips: LATENCY_TIPS),
    cmd!("latency|history", 3, ADMIN | NOSCRIPT | LOADING | STALE, "server", "admin slow dangerous", parse::one_sub_arg => latency_history, tips: LATENCY_TIPS),
    cmd!("latency|reset", -2, ADMIN | NOSCRIPT | LOADING | STALE, "server", "admin slow dangerous", parse::sub_rest => latency_reset, tips: &["request_policy:all_nodes", "response_policy:all_succeeded"]),
    cmd!("latency|doctor", 2, ADMIN | NOSCRIPT | LOADING | STALE, "server", "admin slow dangerous", args::no_sub_args => latency_doctor, tips: LATENCY_TIPS),
    cmd!("latency|histogram", -2, ADMIN | NOSCRIPT | LOADING | STALE, "server", "admin slow dangerous", parse::sub_rest => latency_histogram, tips: LATENCY_TIPS),
    cmd!("latency|graph", 3, ADMIN | NOSCRIPT | LOADING | STALE, "server", "admin slow dangerous", parse::one_sub_arg => latency_graph, tips: LATENCY_TIPS),
    cmd!("latency|help", 2, LOADING | STALE, "server", "slow", args::no_sub_args => latency_help),
];

/// Logs a command that took `us` microseconds where the settings ask: SLOWLOG at
/// `slowlog-log-slower-than`, the LATENCY events `command` / `fast-command` at
/// `latency-monitor-threshold` ms. Commands flagged `skip_slowlog` (EXEC, whose commands are
/// logged one by one) are not, as in Redis; passwords are `(redacted)` as Redis 7.0 does.
pub fn record(ctx: &Ctx, spec: &'static Spec, args: &[&[u8]], us: u64) {
    if spec.has(SKIP_SLOWLOG) {
        return;
    }
    let st = ctx.state;
    let (slower_than, latency_ms) = st.slow_thresholds();
    let now_secs = ctx.now / 1000;
    if slower_than >= 0 && us >= slower_than as u64 {
        let h = &ctx.client.handle;
        let name = h.info.lock().name.clone();
        let redacted = redact(spec, args);
        st.slowlog.push(
            st.slowlog_max_len(),
            now_secs,
            us,
            &redacted,
            h.addr.to_string(),
            name,
        );
    }
    if latency_ms > 0 && us / 1000 >= latency_ms {
        let event = if spec.has(FAST) {
            "fast-command"
        } else {
            "command"
        };
        st.latency.add(event, now_secs, us / 1000);
    }
}

/// Redis 7.0's `redactClientCommandArgument` for the slow log and MONITOR: AUTH's password
/// (and user), HELLO's after its AUTH.
pub fn redact<'a>(spec: &Spec, args: &[&'a [u8]]) -> Vec<&'a [u8]> {
    const REDACTED: &[u8] = b"(redacted)";
    let mut out = args.to_vec();
    match spec.name {
        "auth" if args.len() <= 3 => out.iter_mut().skip(1).for_each(|a| *a = REDACTED),
        "hello" => {
            if let Some(i) = args.iter().position(|a| a.eq_ignore_ascii_case(b"AUTH")) {
                out.iter_mut()
                    .skip(i + 1)
                    .take(2)
                    .for_each(|a| *a = REDACTED);
            }
        }
        _ => {}
    }
    out
}

/// SLOWLOG GET `[count]`: the newest `count` (10; -1 = all), each `[id, time, duration,
/// [args], addr, name]`.
fn slowlog_get(ctx: &mut Ctx, count: Option<i64>) -> CmdResult {
    let count = match count {
        None => 10,
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    let entries = ctx.state.slowlog.get(count);
    ctx.out.array(entries.len());
    for e in entries {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time as i64);
        ctx.out.int(e.duration_us as i64);
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk(e.addr.as_bytes());
        ctx.out.bulk(&e.name);
    }
    Ok(())
}

fn slowlog_len(ctx: &mut Ctx, (): ()) -> CmdResult {
    ctx.out.int(ctx.state.slowlog.len() as i64);
    Ok(())
}

fn slowlog_reset(ctx: &mut Ctx, (): ()) -> CmdResult {
    ctx.state.slowlog.reset();
    ctx.out.simple("OK");
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx, (): ()) -> CmdResult {
    help(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    )
}

/// LATENCY LATEST: `[event, time of the latest sample, its latency, the highest]` per event.
fn latency_latest(ctx: &mut Ctx, (): ()) -> CmdResult {
    let events = ctx.state.latency.events();
    ctx.out.array(events.len());
    for (name, s) in events {
        let (time, ms) = s.samples.back().copied().unwrap_or_default();
        ctx.out.array(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(time as i64);
        ctx.out.int(ms as i64);
        ctx.out.int(s.max as i64);
    }
    Ok(())
}

/// LATENCY HISTORY `event`: `[time, latency]` per second that had a sample, oldest first.
fn latency_history(ctx: &mut Ctx, event: &[u8]) -> CmdResult {
    let event = String::from_utf8_lossy(event);
    let samples = ctx
        .state
        .latency
        .history(&event)
        .map(|s| s.samples)
        .unwrap_or_default();
    ctx.out.array(samples.len());
    for (time, ms) in samples {
        ctx.out.array(2);
        ctx.out.int(time as i64);
        ctx.out.int(ms as i64);
    }
    Ok(())
}

fn latency_reset(ctx: &mut Ctx, events: &[&[u8]]) -> CmdResult {
    let n = ctx.state.latency.reset(events);
    ctx.out.int(n as i64);
    Ok(())
}

/// LATENCY DOCTOR: Redis's words when there is nothing to analyse; otherwise a short list of
/// the events (Redis's analysis and advice are not reproduced).
fn latency_doctor(ctx: &mut Ctx, (): ()) -> CmdResult {
    let events = ctx.state.latency.events();
    let (_, threshold) = ctx.state.slow_thresholds();
    let report = if events.is_empty() && threshold == 0 {
        "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_string()
    } else if events.is_empty() {
        "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".to_string()
    } else {
        let mut r =
            String::from("Latency events seen (tollgate gives the numbers, not advice):\n\n");
        for (i, (name, s)) in events.iter().enumerate() {
            let n = s.samples.len().max(1) as u64;
            let avg = s.samples.iter().map(|(_, ms)| ms).sum::<u64>() / n;
            r.push_str(&format!(
                "{}. {name}: {} latency spikes (average {avg}ms, worst {}ms).\n",
                i + 1,
                s.samples.len(),
                s.max
            ));
        }
        r
    };
    ctx.out.verbatim(report.as_bytes());
    Ok(())
}

/// LATENCY GRAPH `event`: Redis's error when there are no samples; tollgate draws no graphs.
fn latency_graph(ctx: &mut Ctx, event: &[u8]) -> CmdResult {
    let name = String::from_utf8_lossy(event);
    let error = match ctx.state.latency.history(&name) {
        None => format!("ERR No samples available for event '{name}'"),
        Some(_) => "ERR LATENCY GRAPH is not supported by tollgate: use LATENCY HISTORY".into(),
    };
    Err(crate::error::CmdError::other(error))
}

/// LATENCY HISTOGRAM `[command ...]`: per command run since the last reset (all, or those
/// named, a container with its subcommands; unknown names skipped), `{calls, histogram_usec:
/// {bucket: cumulative count}}` over power-of-two buckets from 1 us, as Redis 7.0 builds it
/// from its HDR histogram (`fillCommandCDF`: the log iterator from 1024 ns, base 2; only
/// buckets where the count grows; each bucket's top value in whole microseconds).
fn latency_histogram(ctx: &mut Ctx, names: &[&[u8]]) -> CmdResult {
    let mut specs: Vec<&'static Spec> = Vec::new();
    let with_subs = |spec: &'static Spec, out: &mut Vec<&'static Spec>| {
        out.push(spec);
        out.extend(spec.subcommands.iter());
    };
    if names.is_empty() {
        for spec in crate::commands::COMMANDS {
            with_subs(spec, &mut specs);
        }
    } else {
        for name in names {
            let found = match name.iter().position(|b| *b == b'|') {
                Some(bar) => crate::commands::lookup(&name[..bar])
                    .and_then(|p| crate::commands::lookup_sub(p, &name[bar + 1..])),
                None => crate::commands::lookup(name),
            };
            if let Some(spec) = found {
                with_subs(spec, &mut specs);
            }
        }
    }
    let with_data: Vec<_> = specs
        .into_iter()
        .filter_map(|spec| {
            ctx.state
                .commands
                .histogram(spec.name)
                .map(|h| (spec.name, h))
        })
        .collect();
    ctx.out.map(with_data.len());
    for (name, h) in with_data {
        ctx.out.bulk(name.as_bytes());
        ctx.out.map(2);
        ctx.out.bulk(b"calls");
        ctx.out.int(h.len() as i64);
        ctx.out.bulk(b"histogram_usec");
        let mut buckets = Vec::new();
        let mut cumulative = 0;
        for v in h.iter_log(1024, 2.0) {
            let before = cumulative;
            cumulative += v.count_since_last_iteration();
            if cumulative > before {
                // The Rust iterator's step ends just below the next power of two; C's
                // reports the top of the power of two's own bucket (1031 ns, ..., 33023 ns).
                let micros = h.highest_equivalent(v.value_iterated_to() + 1) / 1000;
                buckets.push((micros, cumulative));
            }
        }
        ctx.out.map(buckets.len());
        for (micros, count) in buckets {
            ctx.out.int(micros as i64);
            ctx.out.int(count as i64);
        }
    }
    Ok(())
}

fn latency_help(ctx: &mut Ctx, (): ()) -> CmdResult {
    help(
        ctx,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    )
}
