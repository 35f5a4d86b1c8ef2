//! The command table and dispatch: one line per command (name, arity, flags, key positions,
//! handler) generates lookup, arity errors and `COMMAND` output. This is the only place that
//! joins the protocol to the domain modules.

pub mod connection;
pub mod docs;
pub mod keys;
pub mod ratelimit;
pub mod server;
pub mod strings;
pub mod transactions;

pub use crate::error::{CmdError, CmdResult};

use crate::protocol::Out;
use crate::session::Client;
use crate::state::State;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Everything a handler may touch.
pub struct Ctx<'a> {
    pub state: &'a State,
    pub client: &'a mut Client,
    pub out: &'a mut Out,
    /// The server clock for this command, unix ms.
    pub now: u64,
}

pub type Handler = fn(&mut Ctx, &[&[u8]]) -> CmdResult;

/// Command flags, as `COMMAND` names them.
pub mod flag {
    pub const WRITE: u32 = 1;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const NOSCRIPT: u32 = 1 << 4;
    pub const LOADING: u32 = 1 << 5;
    pub const STALE: u32 = 1 << 6;
    pub const FAST: u32 = 1 << 7;
    pub const NO_AUTH: u32 = 1 << 8;
    pub const NO_MULTI: u32 = 1 << 9;
    pub const ALLOW_BUSY: u32 = 1 << 10;
    pub const PUBSUB: u32 = 1 << 11;
    pub const SKIP_SLOWLOG: u32 = 1 << 12;
    pub const NOPROPAGATE: u32 = 1 << 13;
    pub const SENTINEL: u32 = 1 << 14;
    pub const SKIP_MONITOR: u32 = 1 << 15;
    pub const NO_ASYNC_LOADING: u32 = 1 << 16;
    pub const MAY_REPLICATE: u32 = 1 << 17;
    /// Runs with the whole keyspace to itself (tollgate-internal, not shown by COMMAND).
    pub const EXCLUSIVE: u32 = 1 << 30;

    /// Names in the order Redis lists them.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (SENTINEL, "sentinel"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
        (NOPROPAGATE, "nopropagate"),
    ];
}

/// How a command's keys are found, for `COMMAND` and `COMMAND GETKEYS`.
#[derive(Debug, Clone, Copy)]
pub struct Keys {
    pub first: i32,
    pub last: i32,
    pub step: i32,
}

pub const NO_KEYS: Keys = Keys {
    first: 0,
    last: 0,
    step: 0,
};

pub struct Spec {
    /// Lower-case name; subcommands are `container|sub`.
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub keys: Keys,
    /// ACL categories without the `@`.
    pub acl: &'static str,
    /// Key-spec flags for the first key spec (`RW access update`), empty when keyless.
    pub key_flags: &'static str,
    pub run: Handler,
    pub subcommands: &'static [Spec],
}

impl Spec {
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        (self.arity > 0 && argc == self.arity) || (self.arity < 0 && argc >= -self.arity)
    }

    /// Positions of the keys in `args`, following first/last/step.
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        let k = self.keys;
        if k.first <= 0 || k.step <= 0 {
            return Vec::new();
        }
        let last = if k.last < 0 {
            argc as i32 + k.last
        } else {
            k.last
        };
        (k.first..=last.min(argc as i32 - 1))
            .step_by(k.step as usize)
            .map(|i| i as usize)
            .collect()
    }
}

use flag::*;

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, ($f:expr, $l:expr, $s:expr), $acl:literal, $kf:literal, $run:expr) => {
        $crate::commands::Spec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: $crate::commands::Keys {
                first: $f,
                last: $l,
                step: $s,
            },
            acl: $acl,
            key_flags: $kf,
            run: $run,
            subcommands: &[],
        }
    };
    ($name:literal, $arity:expr, $flags:expr, $acl:literal, $subs:expr) => {
        $crate::commands::Spec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: $crate::commands::NO_KEYS,
            acl: $acl,
            key_flags: "",
            run: $crate::commands::container,
            subcommands: $subs,
        }
    };
}
pub(crate) use cmd;

/// The command table. One line per command; subcommand tables live in their family files.
#[rustfmt::skip]
pub static COMMANDS: &[Spec] = &[
    // connection
    cmd!("ping", -1, FAST | SENTINEL, (0, 0, 0), "fast connection", "", connection::ping),
    cmd!("echo", 2, LOADING | STALE | FAST, (0, 0, 0), "fast connection", "", connection::echo),
    cmd!("hello", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY, (0, 0, 0), "fast connection", "", connection::hello),
    cmd!("auth", -2, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY, (0, 0, 0), "fast connection", "", connection::auth),
    cmd!("select", 2, LOADING | STALE | FAST, (0, 0, 0), "fast connection", "", connection::select),
    cmd!("quit", -1, ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH, (0, 0, 0), "fast connection", "", connection::quit),
    cmd!("reset", 1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, (0, 0, 0), "fast connection", "", connection::reset),
    cmd!("client", -2, SENTINEL, "slow", connection::CLIENT_SUBCOMMANDS),
    // server
    cmd!("info", -1, LOADING | STALE | SENTINEL, (0, 0, 0), "slow dangerous", "", server::info),
    cmd!("config", -2, 0, "slow", server::CONFIG_SUBCOMMANDS),
    Spec {
        name: "command",
        arity: -1,
        flags: LOADING | STALE | SENTINEL,
        keys: NO_KEYS,
        acl: "slow connection",
        key_flags: "",
        run: docs::command,
        subcommands: docs::COMMAND_SUBCOMMANDS,
    },
    cmd!("dbsize", 1, READONLY | FAST | EXCLUSIVE, (0, 0, 0), "keyspace read fast", "", server::dbsize),
    cmd!("flushdb", -1, WRITE | EXCLUSIVE, (0, 0, 0), "keyspace write slow dangerous", "", server::flushdb),
    cmd!("flushall", -1, WRITE | EXCLUSIVE, (0, 0, 0), "keyspace write slow dangerous", "", server::flushall),
    cmd!("time", 1, LOADING | STALE | FAST, (0, 0, 0), "fast", "", server::time),
    cmd!("swapdb", 3, WRITE | FAST | EXCLUSIVE, (0, 0, 0), "keyspace write fast dangerous", "", server::swapdb),
    cmd!("function", -2, 0, "slow", server::FUNCTION_SUBCOMMANDS),
    // keys
    cmd!("del", -2, WRITE, (1, -1, 1), "keyspace write slow", "RM delete", keys::del),
    cmd!("unlink", -2, WRITE | FAST, (1, -1, 1), "keyspace write fast", "RM delete", keys::del),
    cmd!("exists", -2, READONLY | FAST, (1, -1, 1), "keyspace read fast", "RO", keys::exists),
    cmd!("touch", -2, READONLY | FAST, (1, -1, 1), "keyspace read fast", "RO", keys::touch),
    cmd!("type", 2, READONLY | FAST, (1, 1, 1), "keyspace read fast", "RO", keys::type_),
    cmd!("rename", 3, WRITE, (1, 2, 1), "keyspace write slow", "RW access delete", keys::rename),
    cmd!("renamenx", 3, WRITE | FAST, (1, 2, 1), "keyspace write fast", "RW access delete", keys::renamenx),
    cmd!("copy", -3, WRITE | DENYOOM, (1, 2, 1), "keyspace write slow", "RO access", keys::copy),
    cmd!("keys", 2, READONLY | EXCLUSIVE, (0, 0, 0), "keyspace read slow dangerous", "", keys::keys),
    cmd!("scan", -2, READONLY, (0, 0, 0), "keyspace read slow", "", keys::scan),
    cmd!("randomkey", 1, READONLY, (0, 0, 0), "keyspace read slow", "", keys::randomkey),
    cmd!("expire", -3, WRITE | FAST, (1, 1, 1), "keyspace write fast", "RW update", keys::expire),
    cmd!("pexpire", -3, WRITE | FAST, (1, 1, 1), "keyspace write fast", "RW update", keys::pexpire),
    cmd!("expireat", -3, WRITE | FAST, (1, 1, 1), "keyspace write fast", "RW update", keys::expireat),
    cmd!("pexpireat", -3, WRITE | FAST, (1, 1, 1), "keyspace write fast", "RW update", keys::pexpireat),
    cmd!("expiretime", 2, READONLY | FAST, (1, 1, 1), "keyspace read fast", "RO access", keys::expiretime),
    cmd!("pexpiretime", 2, READONLY | FAST, (1, 1, 1), "keyspace read fast", "RO access", keys::pexpiretime),
    cmd!("ttl", 2, READONLY | FAST, (1, 1, 1), "keyspace read fast", "RO access", keys::ttl),
    cmd!("pttl", 2, READONLY | FAST, (1, 1, 1), "keyspace read fast", "RO access", keys::pttl),
    cmd!("persist", 2, WRITE | FAST, (1, 1, 1), "keyspace write fast", "RW update", keys::persist),
    cmd!("object", -2, 0, "slow", keys::OBJECT_SUBCOMMANDS),
    // strings
    cmd!("get", 2, READONLY | FAST, (1, 1, 1), "read string fast", "RO access", strings::get),
    cmd!("set", -3, WRITE | DENYOOM, (1, 1, 1), "write string slow", "RW access update variable_flags", strings::set),
    cmd!("setnx", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "write string fast", "OW insert", strings::setnx),
    cmd!("setex", 4, WRITE | DENYOOM, (1, 1, 1), "write string slow", "OW update", strings::setex),
    cmd!("psetex", 4, WRITE | DENYOOM, (1, 1, 1), "write string slow", "OW update", strings::psetex),
    cmd!("getset", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "write string fast", "RW access update", strings::getset),
    cmd!("getdel", 2, WRITE | FAST, (1, 1, 1), "write string fast", "RW access delete", strings::getdel),
    cmd!("getex", -2, WRITE | FAST, (1, 1, 1), "write string fast", "RW access update", strings::getex),
    cmd!("mget", -2, READONLY | FAST, (1, -1, 1), "read string fast", "RO access", strings::mget),
    cmd!("mset", -3, WRITE | DENYOOM, (1, -1, 2), "write string slow", "OW update", strings::mset),
    cmd!("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), "write string slow", "OW insert", strings::msetnx),
    cmd!("incr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), "write string fast", "RW access update", strings::incr),
    cmd!("decr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), "write string fast", "RW access update", strings::decr),
    cmd!("incrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "write string fast", "RW access update", strings::incrby),
    cmd!("decrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "write string fast", "RW access update", strings::decrby),
    cmd!("incrbyfloat", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "write string fast", "RW access update", strings::incrbyfloat),
    cmd!("append", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "write string fast", "RW insert", strings::append),
    cmd!("strlen", 2, READONLY | FAST, (1, 1, 1), "read string fast", "RO", strings::strlen),
    cmd!("getrange", 4, READONLY, (1, 1, 1), "read string slow", "RO access", strings::getrange),
    cmd!("substr", 4, READONLY, (1, 1, 1), "read string slow", "RO access", strings::getrange),
    cmd!("setrange", 4, WRITE | DENYOOM, (1, 1, 1), "write string slow", "RW update", strings::setrange),
    // rate limits
    cmd!("rl.check", -4, WRITE | DENYOOM | FAST, (1, 1, 1), "write fast", "RW access update", ratelimit::rl_check),
    cmd!("rl.reset", -2, WRITE | FAST, (1, 1, 1), "write fast", "RW delete", ratelimit::rl_reset),
    cmd!("rl.acquire", -4, WRITE | DENYOOM | FAST, (1, 1, 1), "write fast", "RW access update", ratelimit::rl_acquire),
    cmd!("rl.release", 3, WRITE | FAST, (1, 1, 1), "write fast", "RW update", ratelimit::rl_release),
    cmd!("rl.renew", 4, WRITE | FAST, (1, 1, 1), "write fast", "RW update", ratelimit::rl_renew),
    cmd!("cl.throttle", -1, WRITE | DENYOOM | FAST, (1, 1, 1), "write fast", "RW access update", ratelimit::cl_throttle),
    // transactions
    cmd!("multi", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, (0, 0, 0), "fast transaction", "", transactions::multi),
    cmd!("exec", 1, NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG | EXCLUSIVE, (0, 0, 0), "slow transaction", "", transactions::exec),
    cmd!("discard", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, (0, 0, 0), "fast transaction", "", transactions::discard),
    cmd!("watch", -2, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, (1, -1, 1), "fast transaction", "RO", transactions::watch),
    cmd!("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, (0, 0, 0), "fast transaction", "", transactions::unwatch),
];

type Index = HashMap<&'static [u8], &'static Spec, foldhash::fast::FixedState>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| COMMANDS.iter().map(|s| (s.name.as_bytes(), s)).collect())
}

/// The names of every command and subcommand in the table (`config|get`), for statistics.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    COMMANDS
        .iter()
        .flat_map(|s| std::iter::once(s.name).chain(s.subcommands.iter().map(|c| c.name)))
}

/// Finds a command by name, case-insensitively, without allocating for short names.
pub fn lookup(name: &[u8]) -> Option<&'static Spec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    index().get(&*lower).copied()
}

/// Finds a subcommand of a container command.
pub fn lookup_sub(parent: &'static Spec, name: &[u8]) -> Option<&'static Spec> {
    let prefix = parent.name.len() + 1;
    parent
        .subcommands
        .iter()
        .find(|s| s.name.as_bytes()[prefix..].eq_ignore_ascii_case(name))
}

/// Finds the command (or container subcommand) that `args` names and checks its arity, with
/// Redis 7.0's errors for unknown commands, unknown subcommands and wrong argument counts.
pub fn resolve(args: &[&[u8]]) -> Result<&'static Spec, CmdError> {
    resolve_from(lookup(args[0]), args)
}

/// `resolve` for a command already looked up by name (`base` is `lookup(args[0])`).
pub fn resolve_from(
    base: Option<&'static Spec>,
    args: &[&[u8]],
) -> Result<&'static Spec, CmdError> {
    let Some(spec) = base else {
        return Err(unknown_command(args));
    };
    let spec = if !spec.subcommands.is_empty() && args.len() >= 2 {
        lookup_sub(spec, args[1]).ok_or_else(|| {
            CmdError::other(format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                trunc(args[1], 128),
                String::from_utf8_lossy(args[0]).to_ascii_uppercase()
            ))
        })?
    } else {
        spec
    };
    if !spec.arity_ok(args.len()) {
        return Err(CmdError::WrongArgs(spec.name.to_string()));
    }
    Ok(spec)
}

/// Commands that run at once inside MULTI instead of being queued.
fn runs_inside_multi(spec: &Spec) -> bool {
    matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Whether the command `base` (looked up from the request's name) must run with the
/// keyspace to itself; decided before `execute` so the connection can take the world lock
/// in the right mode.
pub fn needs_exclusive(base: Option<&Spec>, client: &Client) -> bool {
    match base {
        Some(spec) if spec.has(flag::EXCLUSIVE) => client.multi.is_none() || spec.name == "exec",
        _ => false,
    }
}

/// Runs one client request: checks, MULTI queueing, then the handler. Errors become error
/// replies; nothing here closes the connection except through `client.close_after_reply`.
///
/// Returns the full name of the command it resolved to (`client|setname`), for CLIENT LIST.
pub fn execute(ctx: &mut Ctx, base: Option<&'static Spec>, args: &[&[u8]]) -> Option<&'static str> {
    let checked = resolve_from(base, args).and_then(|spec| {
        if ctx.state.auth_required() && !ctx.client.authenticated && !spec.has(flag::NO_AUTH) {
            return Err(CmdError::NoAuth);
        }
        if ctx.client.multi.is_some() && spec.has(flag::NO_MULTI) {
            return Err(CmdError::other(
                "ERR Command not allowed inside a transaction",
            ));
        }
        if !make_room(ctx) && spec.has(flag::DENYOOM) {
            return Err(CmdError::other(
                "OOM command not allowed when used memory > 'maxmemory'.",
            ));
        }
        Ok(spec)
    });
    let spec = match checked {
        Ok(spec) => spec,
        Err(e) => {
            // Redis counts a refusal against the command it named, when it names one.
            if let Some(named) = named(base, args) {
                ctx.client.tally.reject(named.name);
            }
            // A rejected EXEC discards the transaction, and says so (Redis's rejectCommand).
            if base.is_some_and(|b| b.name == "exec") {
                transactions::end_transaction(ctx.state, ctx.client);
                let msg = e.to_string();
                let msg = msg.strip_prefix("ERR ").unwrap_or(&msg);
                reply_error(
                    ctx,
                    &CmdError::other(format!("EXECABORT Transaction discarded because of: {msg}")),
                );
                return base.map(|b| b.name);
            }
            if ctx.client.multi.is_some() {
                ctx.client.multi_dirty = true;
            }
            reply_error(ctx, &e);
            return base.map(|b| b.name);
        }
    };
    if let Some(queue) = ctx.client.multi.as_mut() {
        if !runs_inside_multi(spec) {
            queue.push(args.iter().map(|a| a.to_vec()).collect());
            ctx.out.simple("QUEUED");
            return Some(spec.name);
        }
    }
    run(ctx, spec, args);
    Some(spec.name)
}

/// Over `maxmemory`, evicts per the policy before a command runs, as Redis does (the store
/// does the work). Returns whether memory is within the limit afterwards.
fn make_room(ctx: &Ctx) -> bool {
    ctx.state.make_room(ctx.now)
}

/// The command or subcommand `args` names, known or not to pass its arity check.
fn named(base: Option<&'static Spec>, args: &[&[u8]]) -> Option<&'static Spec> {
    let spec = base?;
    match (spec.subcommands.is_empty(), args.get(1)) {
        (false, Some(sub)) => lookup_sub(spec, sub),
        _ => Some(spec),
    }
}

/// Runs a resolved command and replies its error, if any. Its time and outcome go to the
/// connection's tally (INFO commandstats/latencystats); the time of EXEC includes the
/// commands it runs, as in Redis.
pub fn run(ctx: &mut Ctx, spec: &'static Spec, args: &[&[u8]]) {
    // One clock read per command: a command starts when the one before it ended (or its
    // batch began), and for EXEC's queued commands when the one before them ended.
    let started = ctx.client.clock;
    let result = (spec.run)(ctx, args);
    let ended = crate::metrics::commands::ticks();
    ctx.client.clock = ended;
    let ns = crate::metrics::commands::elapsed_ns(started, ended);
    ctx.client.tally.call(spec.name, ns, result.is_err());
    if let Err(e) = result {
        reply_error(ctx, &e);
    }
}

/// Replies an error and counts it (INFO stats and errorstats).
pub fn reply_error(ctx: &mut Ctx, e: &CmdError) {
    let msg = e.to_string();
    count_error(ctx.state, &msg);
    ctx.out.error(&msg);
}

/// Counts an error reply in `total_error_replies` and under its code.
pub fn count_error(state: &State, msg: &str) {
    state
        .stats
        .error_replies
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    state.commands.error(msg);
}

/// The reply of a container's HELP subcommand, in Redis's format.
pub fn help(ctx: &mut Ctx, name: &str, lines: &[&str]) -> CmdResult {
    ctx.out.array(lines.len() + 4);
    ctx.out.simple(&format!(
        "{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Print this help.");
    Ok(())
}

/// Stands in for the handler of a container command, which `resolve` never returns once a
/// subcommand is named.
pub fn container(_ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    Err(CmdError::WrongArgs(
        String::from_utf8_lossy(args[0]).to_ascii_lowercase(),
    ))
}

impl<'a> Ctx<'a> {
    /// The server clock in unix nanoseconds, read now (rate limits decide on it).
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.state.clock.now_ns()
    }

    /// Locks the shard of `key` in the client's database.
    pub fn shard(&self, key: &[u8]) -> parking_lot::MutexGuard<'a, crate::store::Shard> {
        self.state.keyspace.shard(self.client.db, key)
    }
}

/// Lossy text of an argument, at most `max` bytes, for error messages.
pub fn trunc(arg: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&arg[..arg.len().min(max)]).into_owned()
}

/// The error for a command name not in the table (Redis 7.0's wording).
pub fn unknown_command(args: &[&[u8]]) -> CmdError {
    let mut rest = String::new();
    for a in &args[1..] {
        if rest.len() >= 128 {
            break;
        }
        let room = 128 - rest.len();
        rest.push('\'');
        rest.push_str(&trunc(a, room));
        rest.push_str("' ");
    }
    CmdError::other(format!(
        "ERR unknown command '{}', with args beginning with: {}",
        trunc(args[0], 128),
        rest
    ))
}
