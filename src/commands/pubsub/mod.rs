//! Pub/Sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and PUBSUB
//! CHANNELS|NUMSUB|NUMPAT|HELP, as Redis 7.0 answers them. The hub is `crate::pubsub`; the
//! connection writes a listener's messages between batches (`server::connection`).
//!
//! Under RESP2 a connection with a subscription takes only (P)SUBSCRIBE, (P)UNSUBSCRIBE,
//! PING, QUIT and RESET (`commands::execute` refuses the rest, with Redis's words); under
//! RESP3 it takes anything, and messages arrive as push frames.

use super::{CmdResult, Ctx};
use crate::protocol::args::Args;
use crate::pubsub::{Inbox, Scope};
use crate::session::Subscriptions;
use bytes::Bytes;

/// The commands a RESP2 connection with a subscription may run.
pub const ALLOWED_WHILE_SUBSCRIBED: &[&str] = &[
    "subscribe",
    "unsubscribe",
    "psubscribe",
    "punsubscribe",
    "ssubscribe",
    "sunsubscribe",
    "ping",
    "quit",
    "reset",
];

/// The channel or pattern names of (P)(UN)SUBSCRIBE.
pub fn names<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [&'a [u8]], super::CmdError> {
    let mut a = Args::command(argv);
    Ok(a.rest())
}

fn push_header(ctx: &mut Ctx, n: usize) {
    if ctx.client.resp3 {
        ctx.out.push(n);
    } else {
        ctx.out.array(n);
    }
}

/// `[kind, name, count]` for each name: what (un)subscribing replies.
fn confirm(ctx: &mut Ctx, kind: &str, name: Option<&[u8]>) {
    let count = ctx.client.subscriptions();
    push_header(ctx, 3);
    ctx.out.bulk(kind.as_bytes());
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    ctx.out.int(count as i64);
}

/// This connection's inbox and subscriptions, made at its first SUBSCRIBE (or MONITOR).
pub fn subscriptions<'a>(ctx: &'a mut Ctx) -> &'a mut Subscriptions {
    let handle = ctx.client.handle.clone();
    let resp3 = ctx.client.resp3;
    ctx.client.pubsub.get_or_insert_with(|| {
        let (inbox, rx) = Inbox::new(handle, resp3);
        Box::new(Subscriptions {
            inbox,
            rx,
            channels: Default::default(),
            patterns: Default::default(),
        })
    })
}

fn subscribe_to(ctx: &mut Ctx, scope: Scope, names: &[&[u8]]) -> CmdResult {
    let kind = match scope {
        Scope::Channel => "subscribe",
        Scope::Pattern => "psubscribe",
    };
    for &name in names {
        let subs = subscriptions(ctx);
        let name = Bytes::copy_from_slice(name);
        let set = match scope {
            Scope::Channel => &mut subs.channels,
            Scope::Pattern => &mut subs.patterns,
        };
        if set.insert(name.clone()) {
            let inbox = subs.inbox.clone();
            ctx.state.pubsub.subscribe(scope, &name, &inbox);
        }
        sync_counts(ctx);
        confirm(ctx, kind, Some(&name));
    }
    Ok(())
}

fn unsubscribe_from(ctx: &mut Ctx, scope: Scope, names: &[&[u8]]) -> CmdResult {
    let kind = match scope {
        Scope::Channel => "unsubscribe",
        Scope::Pattern => "punsubscribe",
    };
    // With no names: every one, in subscription order; with none to leave, one reply with
    // a nil name.
    let all: Vec<Bytes> = match (&ctx.client.pubsub, names.is_empty()) {
        (Some(p), true) => match scope {
            Scope::Channel => p.channels.iter().cloned().collect(),
            Scope::Pattern => p.patterns.iter().cloned().collect(),
        },
        _ => names.iter().map(|n| Bytes::copy_from_slice(n)).collect(),
    };
    if all.is_empty() {
        confirm(ctx, kind, None);
        return Ok(());
    }
    for name in &all {
        if let Some(p) = ctx.client.pubsub.as_mut() {
            let set = match scope {
                Scope::Channel => &mut p.channels,
                Scope::Pattern => &mut p.patterns,
            };
            if set.shift_remove(name) {
                ctx.state.pubsub.unsubscribe(scope, name, ctx.client.id);
            }
        }
        sync_counts(ctx);
        confirm(ctx, kind, Some(name));
    }
    Ok(())
}

fn sync_counts(ctx: &Ctx) {
    let (sub, psub) = ctx
        .client
        .pubsub
        .as_ref()
        .map_or((0, 0), |p| (p.channels.len(), p.patterns.len()));
    ctx.client.handle.set_subscriptions(sub, psub);
}

pub fn subscribe(ctx: &mut Ctx, names: &[&[u8]]) -> CmdResult {
    subscribe_to(ctx, Scope::Channel, names)
}

pub fn psubscribe(ctx: &mut Ctx, names: &[&[u8]]) -> CmdResult {
    subscribe_to(ctx, Scope::Pattern, names)
}

pub fn unsubscribe(ctx: &mut Ctx, names: &[&[u8]]) -> CmdResult {
    unsubscribe_from(ctx, Scope::Channel, names)
}

pub fn punsubscribe(ctx: &mut Ctx, names: &[&[u8]]) -> CmdResult {
    unsubscribe_from(ctx, Scope::Pattern, names)
}

pub fn publish(ctx: &mut Ctx, (channel, message): (&[u8], &[u8])) -> CmdResult {
    let limit = ctx.state.output_limit(crate::config::ClientClass::Pubsub);
    let n = ctx.state.pubsub.publish(channel, message, limit, ctx.now);
    ctx.out.int(n as i64);
    Ok(())
}

/// PUBSUB CHANNELS `[pattern]`.
pub fn pubsub_channels(ctx: &mut Ctx, pattern: Option<&[u8]>) -> CmdResult {
    let channels = ctx.state.pubsub.channels(pattern);
    ctx.out.array(channels.len());
    for c in &channels {
        ctx.out.bulk(c);
    }
    Ok(())
}

/// PUBSUB NUMSUB `[channel ...]`: a flat array of channel, count, in RESP3 too (as Redis
/// 7.0, and what redis-py's RESP3 parser expects).
pub fn pubsub_numsub(ctx: &mut Ctx, channels: &[&[u8]]) -> CmdResult {
    ctx.out.array(2 * channels.len());
    for &c in channels {
        ctx.out.bulk(c);
        ctx.out.int(ctx.state.pubsub.numsub(c) as i64);
    }
    Ok(())
}

pub fn pubsub_numpat(ctx: &mut Ctx, (): ()) -> CmdResult {
    ctx.out.int(ctx.state.pubsub.numpat() as i64);
    Ok(())
}

/// PUBSUB CHANNELS's optional pattern.
pub fn optional_pattern<'a>(argv: &'a [&'a [u8]]) -> Result<Option<&'a [u8]>, super::CmdError> {
    let mut a = Args::subcommand(argv);
    let p = (!a.is_empty()).then(|| a.next_bytes()).transpose()?;
    a.finish()?;
    Ok(p)
}

/// PUBSUB NUMSUB's channels.
pub fn channel_list<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [&'a [u8]], super::CmdError> {
    let mut a = Args::subcommand(argv);
    Ok(a.rest())
}

/// PUBSUB SHARDCHANNELS `[pattern]`: tollgate has no shard channels (no SSUBSCRIBE).
pub fn pubsub_shardchannels(ctx: &mut Ctx, _pattern: Option<&[u8]>) -> CmdResult {
    ctx.out.array(0);
    Ok(())
}

/// PUBSUB SHARDNUMSUB `[channel ...]`: 0 each (no shard channels).
pub fn pubsub_shardnumsub(ctx: &mut Ctx, channels: &[&[u8]]) -> CmdResult {
    ctx.out.array(2 * channels.len());
    for &c in channels {
        ctx.out.bulk(c);
        ctx.out.int(0);
    }
    Ok(())
}

fn pubsub_help(ctx: &mut Ctx, (): ()) -> CmdResult {
    super::help(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    )
}

use super::flag::{LOADING, PUBSUB, STALE};
use super::{args, cmd, Spec};

#[rustfmt::skip]
pub static PUBSUB_SUBCOMMANDS: &[Spec] = &[
    cmd!("pubsub|channels", -2, PUBSUB | LOADING | STALE, "pubsub", "pubsub slow", optional_pattern => pubsub_channels),
    cmd!("pubsub|numsub", -2, PUBSUB | LOADING | STALE, "pubsub", "pubsub slow", channel_list => pubsub_numsub),
    cmd!("pubsub|numpat", 2, PUBSUB | LOADING | STALE, "pubsub", "pubsub slow", args::no_sub_args => pubsub_numpat),
    cmd!("pubsub|shardchannels", -2, PUBSUB | LOADING | STALE, "pubsub", "pubsub slow", optional_pattern => pubsub_shardchannels),
    cmd!("pubsub|shardnumsub", -2, PUBSUB | LOADING | STALE, "pubsub", "pubsub slow", channel_list => pubsub_shardnumsub),
    cmd!("pubsub|help", 2, LOADING | STALE, "pubsub", "slow", args::no_sub_args => pubsub_help),
];
