//! MONITOR, as Redis 7.0's `replicationFeedMonitors`: after each command runs (whatever its
//! outcome), every monitor receives `+<unix seconds.micros> [<db> <ip:port>] "arg" ...`, the
//! arguments quoted and escaped as `sdscatrepr` does. Commands flagged `admin` or
//! `skip_monitor` are not shown; EVAL and friends show themselves before their script runs,
//! and the script's commands follow as `[<db> lua]`. AUTH's and HELLO AUTH's secrets are
//! `(redacted)`. A monitor's connection is fed through its Pub/Sub inbox, so a monitor that
//! does not read is bounded by its output buffer limit like a subscriber.

use bytes::Bytes;

use crate::commands::flag::{ADMIN, SKIP_MONITOR};
use crate::commands::{CmdError, CmdResult, Ctx, Spec};

pub fn monitor(ctx: &mut Ctx, (): ()) -> CmdResult {
    if !ctx.client.may_block() {
        return Err(CmdError::other(
            "ERR MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    // Already monitoring: Redis ignores it, without a reply.
    if ctx.client.monitor {
        return Ok(());
    }
    let inbox = crate::commands::pubsub::subscriptions(ctx).inbox.clone();
    ctx.state.pubsub.monitor(&inbox);
    ctx.client.monitor = true;
    ctx.client.handle.set_monitor(true);
    ctx.out.ok();
    Ok(())
}

/// Whether `spec` is shown to monitors after it runs (EVAL's family shows itself first).
pub fn shown_after(spec: &Spec) -> bool {
    spec.flags & (ADMIN | SKIP_MONITOR) == 0
}

/// Whether `spec` is shown to monitors before it runs: the scripts' commands, so that the
/// commands they call come after them.
pub fn shown_before(spec: &Spec) -> bool {
    spec.name.starts_with("eval")
}

/// Sends the line for `args`, run by this client (or its script), to every monitor. A
/// monitor's own commands show in its replies, right after each reply, as in Redis.
pub fn feed(ctx: &mut Ctx, spec: &Spec, args: &[&[u8]]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut line = format!(
        "+{}.{:06} [{} ",
        now.as_secs(),
        now.subsec_micros(),
        ctx.client.db
    )
    .into_bytes();
    if ctx.client.in_script {
        line.extend_from_slice(b"lua");
    } else {
        line.extend_from_slice(ctx.client.handle.addr.to_string().as_bytes());
    }
    line.extend_from_slice(b"]");
    for a in super::slowlog::redact(spec, args) {
        line.push(b' ');
        repr(&mut line, a);
    }
    line.extend_from_slice(b"\r\n");
    let limit = ctx.state.output_limit(crate::config::ClientClass::Normal);
    if ctx.client.monitor {
        ctx.out.raw(&line);
    }
    ctx.state
        .pubsub
        .feed_monitors(Bytes::from(line), ctx.client.id, limit, ctx.now);
}

/// Redis's `sdscatrepr`: a quoted string, `\\`, `"`, `\n`, `\r`, `\t`, `\a`, `\b` escaped,
/// other bytes outside printable ASCII as `\xhh`.
pub fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_as_sdscatrepr_does() {
        let mut out = Vec::new();
        repr(&mut out, b"v x\n\"\x01\\\x07\x08\t\r\xff");
        assert_eq!(out, br#""v x\n\"\x01\\\a\b\t\r\xff""#.to_vec());
    }
}
