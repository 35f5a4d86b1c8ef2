//! The command table and dispatch: one line per command (name, arity, flags, group, ACL
//! categories, parser and handler, key spec, tips) generates lookup, arity errors and
//! `COMMAND` output. This is the only place that joins the protocol to the domain modules.
//!
//! Each family is a folder: `<family>/parse.rs` turns an argv into a typed request (pure: no
//! state, no locks, no replies; unit-tested in process) and `<family>/mod.rs` applies it
//! (locks, changes, replies) and holds its subcommand lines. A new family is a folder plus
//! its lines in [`COMMANDS`]. `docs.rs` renders the table for `COMMAND`.

pub mod bits;
pub mod blocking;
pub mod cache;
pub mod connection;
pub mod docs;
pub mod hashes;
pub mod keys;
pub mod lists;
pub mod pubsub;
pub mod quota;
pub mod random;
pub mod ratelimit;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod strings;
pub mod transactions;
pub mod zsets;

pub use crate::error::{CmdError, CmdResult};

use crate::protocol::{args, Out};
use crate::session::Client;
use crate::state::State;
use crate::store::world::Held;
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

/// Runs a command from its argv (name first): its parser, then its apply function.
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
    pub const NO_MANDATORY_KEYS: u32 = 1 << 18;
    /// Keys found by reading arguments (EVAL's numkeys); Redis computes it, the table says it.
    pub const MOVABLEKEYS: u32 = 1 << 19;
    pub const BLOCKING: u32 = 1 << 20;
    /// Not refused by the `denyoom` check at a full memory: the handler decides, because
    /// it can answer for state that exists without storing anything (the rate-limit
    /// commands; tollgate-internal, not shown by COMMAND, which still shows `denyoom`).
    pub const OWN_OOM: u32 = 1 << 28;
    /// Runs at once inside MULTI instead of being queued, as Redis's `processCommand` lets
    /// EXEC, DISCARD, MULTI, WATCH, QUIT and RESET do (tollgate-internal, not shown by COMMAND).
    pub const NO_QUEUE: u32 = 1 << 29;
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
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (SENTINEL, "sentinel"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLEKEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
        (NOPROPAGATE, "nopropagate"),
    ];
}

/// Command tips (`COMMAND INFO`'s eighth element) that several commands share, as Redis 7.0's
/// command JSON files give them; cluster clients read the request/response policies.
pub mod tips {
    pub const NONDETERMINISTIC: &[&str] = &["nondeterministic_output"];
    pub const ORDER: &[&str] = &["nondeterministic_output_order"];
    pub const ALL_SHARDS_SUCCEEDED: &[&str] =
        &["request_policy:all_shards", "response_policy:all_succeeded"];
    pub const MULTI_SHARD_SUM: &[&str] = &["request_policy:multi_shard", "response_policy:agg_sum"];
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

/// What runs a command: `run` parses and applies it (the dispatcher calls it); `parse` only
/// parses and drops the request, so tests and the fuzz target reach every command's parser
/// through the table without a server.
#[derive(Clone, Copy)]
pub struct Handlers {
    pub run: Handler,
    pub parse: Parser,
}

impl Handlers {
    /// A container's handlers: `resolve` always picks one of its subcommands instead.
    pub const CONTAINER: Handlers = Handlers {
        run: container,
        parse: |_| Ok(()),
    };
}

/// Parses a command's arguments (the whole argv, name first) and drops the request.
pub type Parser = fn(&[&[u8]]) -> CmdResult;

/// A command's line in the table: everything tollgate knows about it, for dispatch, for
/// `COMMAND INFO`/`DOCS`/`GETKEYS` and for the statistics. Written with `cmd!`.
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
    /// The group `COMMAND DOCS` shows: Redis's for Redis's commands, the family's for
    /// tollgate's own (`ratelimit`).
    pub group: &'static str,
    /// Command tips, as Redis 7.0's command JSON files give them.
    pub tips: &'static [&'static str],
    /// The notes Redis attaches to the first key spec.
    pub key_notes: Option<&'static str>,
    /// Commands Redis describes with a source and a destination key spec (the table gives
    /// them one range): the destination's flags. The first spec then covers the first key only.
    pub dest_key_flags: Option<&'static str>,
    /// Commands whose first key is a destination and the rest sources (SUNIONSTORE): the
    /// sources' flags; the first spec (`key_flags`) then covers the destination only.
    pub source_key_flags: Option<&'static str>,
    /// Keys after a count (ZUNION's `numkeys`, LMPOP's): the count's index and the key spec's
    /// flags, after the range spec of `keys` when there is one (ZUNIONSTORE's destination).
    /// EVAL's family (`MOVABLEKEYS` with `keys` flags and no `keynum`) counts at index 2.
    pub keynum: Option<(i32, &'static str)>,
    pub run: Handler,
    pub parse: Parser,
    pub subcommands: &'static [Spec],
}

impl Spec {
    /// The required columns of a line; `cmd!` adds the optional ones with the builders below.
    pub const fn new(
        name: &'static str,
        arity: i32,
        flags: u32,
        group: &'static str,
        acl: &'static str,
        handlers: Handlers,
    ) -> Spec {
        Spec {
            name,
            arity,
            flags,
            keys: NO_KEYS,
            acl,
            key_flags: "",
            group,
            tips: &[],
            key_notes: None,
            dest_key_flags: None,
            source_key_flags: None,
            keynum: None,
            run: handlers.run,
            parse: handlers.parse,
            subcommands: &[],
        }
    }

    /// `keys: (first, last, step, "key-spec flags")`.
    pub const fn keys(mut self, (first, last, step, flags): (i32, i32, i32, &'static str)) -> Spec {
        self.keys = Keys { first, last, step };
        self.key_flags = flags;
        self
    }

    /// `tips: &["nondeterministic_output"]`.
    pub const fn tips(mut self, tips: &'static [&'static str]) -> Spec {
        self.tips = tips;
        self
    }

    /// `notes: "..."`: the first key spec's notes.
    pub const fn notes(mut self, notes: &'static str) -> Spec {
        self.key_notes = Some(notes);
        self
    }

    /// `dest: "OW update"`: a second key spec for the destination key.
    pub const fn dest(mut self, flags: &'static str) -> Spec {
        self.dest_key_flags = Some(flags);
        self
    }

    /// `sources: "RO access"`: the first key is a destination, the others sources.
    pub const fn sources(mut self, flags: &'static str) -> Spec {
        self.source_key_flags = Some(flags);
        self
    }

    /// `keynum: (index, "RO access")`: keys follow a count at `index`.
    pub const fn keynum(mut self, keynum: (i32, &'static str)) -> Spec {
        self.keynum = Some(keynum);
        self
    }

    /// `subs: FAMILY_SUBCOMMANDS`: a container's subcommand lines.
    pub const fn subs(mut self, subcommands: &'static [Spec]) -> Spec {
        self.subcommands = subcommands;
        self
    }

    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        // More arguments than an i32 holds cannot arrive (the decoder caps the count), and
        // would be "at least" anything anyway.
        let argc = i32::try_from(argc).unwrap_or(i32::MAX);
        (self.arity > 0 && argc == self.arity) || (self.arity < 0 && argc >= -self.arity)
    }

    /// Positions of the keys in `args`, following first/last/step.
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        let k = self.keys;
        let (Ok(first), Ok(step)) = (usize::try_from(k.first), usize::try_from(k.step)) else {
            return Vec::new();
        };
        if first == 0 || step == 0 {
            return Vec::new();
        }
        // `last` counts from the end when negative (-1: the last argument).
        let last = match usize::try_from(k.last) {
            Ok(last) => last,
            Err(_) => argc.saturating_sub(k.last.unsigned_abs() as usize),
        };
        (first..=last.min(argc.saturating_sub(1)))
            .step_by(step)
            .collect()
    }
}

use flag::*;

/// One line of the command table:
///
/// ```text
/// cmd!(name, arity, flags, group, acl categories, parse => apply, optional: value, ...)
/// ```
///
/// `parse` turns the argv into the command's request (no state, no locks, no replies) and
/// `apply(ctx, request)` locks, mutates and replies; a `Handlers` value may stand in for the
/// pair. The optional named columns are `keys: (first, last, step, "key-spec flags")`,
/// `tips: &[..]`, `notes: ".."` (the key spec's), `dest: "flags"` (a destination key spec),
/// `sources: "flags"` (a destination first, then source keys), `keynum: (index, "flags")`
/// (keys after a count, ZUNION's) and `subs: SUBCOMMANDS`.
macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, $group:literal, $acl:literal, $parse:path => $apply:path $(, $field:ident : $value:expr)* $(,)?) => {
        $crate::commands::cmd!($name, $arity, $flags, $group, $acl, $crate::commands::Handlers {
            run: |ctx, argv| $apply(ctx, $parse(argv)?),
            parse: |argv| $parse(argv).map(drop),
        } $(, $field: $value)*)
    };
    ($name:literal, $arity:expr, $flags:expr, $group:literal, $acl:literal, $handlers:expr $(, $field:ident : $value:expr)* $(,)?) => {
        $crate::commands::Spec::new($name, $arity, $flags, $group, $acl, $handlers)$(.$field($value))*
    };
}
pub(crate) use cmd;

/// The command table. One line per command; subcommand tables live in their family files.
#[rustfmt::skip]
pub static COMMANDS: &[Spec] = &[
    // connection
    cmd!("ping", -1, FAST | SENTINEL, "connection", "fast connection", connection::parse::ping => connection::ping, tips: tips::ALL_SHARDS_SUCCEEDED),
    cmd!("echo", 2, LOADING | STALE | FAST, "connection", "fast connection", connection::parse::echo => connection::echo),
    cmd!("hello", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY, "connection", "fast connection", connection::parse::hello => connection::hello),
    cmd!("auth", -2, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY, "connection", "fast connection", connection::parse::auth => connection::auth),
    cmd!("select", 2, LOADING | STALE | FAST, "connection", "fast connection", connection::parse::select => connection::select),
    cmd!("quit", -1, ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | NO_QUEUE, "connection", "fast connection", connection::parse::quit => connection::quit),
    cmd!("reset", 1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | NO_QUEUE, "connection", "fast connection", args::no_args => connection::reset),
    cmd!("client", -2, SENTINEL, "connection", "slow", Handlers::CONTAINER, subs: connection::CLIENT_SUBCOMMANDS),
    // server
    cmd!("info", -1, LOADING | STALE | SENTINEL, "server", "slow dangerous", server::parse::info => server::info, tips: &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]),
    cmd!("config", -2, 0, "server", "slow", Handlers::CONTAINER, subs: server::CONFIG_SUBCOMMANDS),
    cmd!("command", -1, LOADING | STALE | SENTINEL, "server", "slow connection", args::no_args => docs::command, tips: tips::ORDER, subs: docs::COMMAND_SUBCOMMANDS),
    cmd!("dbsize", 1, READONLY | FAST | EXCLUSIVE, "server", "keyspace read fast", args::no_args => server::dbsize, tips: &["request_policy:all_shards", "response_policy:agg_sum"]),
    cmd!("flushdb", -1, WRITE | EXCLUSIVE, "server", "keyspace write slow dangerous", server::parse::flush => server::flushdb, tips: tips::ALL_SHARDS_SUCCEEDED),
    cmd!("flushall", -1, WRITE | EXCLUSIVE, "server", "keyspace write slow dangerous", server::parse::flush => server::flushall, tips: tips::ALL_SHARDS_SUCCEEDED),
    cmd!("time", 1, LOADING | STALE | FAST, "server", "fast", args::no_args => server::time, tips: tips::NONDETERMINISTIC),
    cmd!("swapdb", 3, WRITE | FAST | EXCLUSIVE, "server", "keyspace write fast dangerous", server::parse::swapdb => server::swapdb),
    cmd!("function", -2, 0, "scripting", "slow", Handlers::CONTAINER, subs: server::FUNCTION_SUBCOMMANDS),
    cmd!("shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | SENTINEL | ALLOW_BUSY | EXCLUSIVE, "server", "admin slow dangerous", server::parse::shutdown => server::shutdown),
    cmd!("save", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI | EXCLUSIVE, "server", "admin slow dangerous", args::no_args => server::save),
    cmd!("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE, "server", "admin slow dangerous", args::no_args => server::monitor::monitor),
    cmd!("bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, "server", "admin slow dangerous", server::parse::bgsave => server::bgsave),
    cmd!("bgrewriteaof", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, "server", "admin slow dangerous", args::no_args => server::bgrewriteaof),
    cmd!("slowlog", -2, 0, "server", "slow", Handlers::CONTAINER, subs: server::slowlog::SLOWLOG_SUBCOMMANDS),
    cmd!("latency", -2, 0, "server", "slow", Handlers::CONTAINER, subs: server::slowlog::LATENCY_SUBCOMMANDS),
    cmd!("wait", 3, NOSCRIPT, "generic", "slow connection", server::parse::wait => server::wait, tips: &["request_policy:all_shards", "response_policy:agg_min"]),
    cmd!("lastsave", 1, LOADING | STALE | FAST, "server", "admin fast dangerous", args::no_args => server::lastsave, tips: tips::NONDETERMINISTIC),
    // keys
    cmd!("del", -2, WRITE, "generic", "keyspace write slow", args::all_keys => keys::del, keys: (1, -1, 1, "RM delete"), tips: tips::MULTI_SHARD_SUM),
    cmd!("unlink", -2, WRITE | FAST, "generic", "keyspace write fast", args::all_keys => keys::del, keys: (1, -1, 1, "RM delete"), tips: tips::MULTI_SHARD_SUM),
    cmd!("exists", -2, READONLY | FAST, "generic", "keyspace read fast", args::all_keys => keys::exists, keys: (1, -1, 1, "RO"), tips: tips::MULTI_SHARD_SUM),
    cmd!("touch", -2, READONLY | FAST, "generic", "keyspace read fast", args::all_keys => keys::touch, keys: (1, -1, 1, "RO"), tips: tips::MULTI_SHARD_SUM),
    cmd!("type", 2, READONLY | FAST, "generic", "keyspace read fast", args::one_key => keys::type_, keys: (1, 1, 1, "RO")),
    cmd!("rename", 3, WRITE, "generic", "keyspace write slow", keys::parse::rename => keys::rename, keys: (1, 2, 1, "RW access delete"), dest: "OW update"),
    cmd!("renamenx", 3, WRITE | FAST, "generic", "keyspace write fast", keys::parse::rename => keys::renamenx, keys: (1, 2, 1, "RW access delete"), dest: "OW insert"),
    cmd!("copy", -3, WRITE | DENYOOM, "generic", "keyspace write slow", keys::COPY, keys: (1, 2, 1, "RO access"), dest: "OW update"),
    cmd!("keys", 2, READONLY | EXCLUSIVE, "generic", "keyspace read slow dangerous", keys::parse::pattern => keys::keys, tips: &["request_policy:all_shards", "nondeterministic_output_order"]),
    cmd!("scan", -2, READONLY, "generic", "keyspace read slow", keys::parse::scan => keys::scan, tips: &["nondeterministic_output", "request_policy:special"]),
    cmd!("randomkey", 1, READONLY, "generic", "keyspace read slow", args::no_args => keys::randomkey, tips: &["request_policy:all_shards", "nondeterministic_output"]),
    cmd!("expire", -3, WRITE | FAST, "generic", "keyspace write fast", keys::parse::expire => keys::expire, keys: (1, 1, 1, "RW update")),
    cmd!("pexpire", -3, WRITE | FAST, "generic", "keyspace write fast", keys::parse::pexpire => keys::expire, keys: (1, 1, 1, "RW update")),
    cmd!("expireat", -3, WRITE | FAST, "generic", "keyspace write fast", keys::parse::expireat => keys::expire, keys: (1, 1, 1, "RW update")),
    cmd!("pexpireat", -3, WRITE | FAST, "generic", "keyspace write fast", keys::parse::pexpireat => keys::expire, keys: (1, 1, 1, "RW update")),
    cmd!("expiretime", 2, READONLY | FAST, "generic", "keyspace read fast", args::one_key => keys::expiretime, keys: (1, 1, 1, "RO access")),
    cmd!("pexpiretime", 2, READONLY | FAST, "generic", "keyspace read fast", args::one_key => keys::pexpiretime, keys: (1, 1, 1, "RO access")),
    cmd!("ttl", 2, READONLY | FAST, "generic", "keyspace read fast", args::one_key => keys::ttl, keys: (1, 1, 1, "RO access"), tips: tips::NONDETERMINISTIC),
    cmd!("pttl", 2, READONLY | FAST, "generic", "keyspace read fast", args::one_key => keys::pttl, keys: (1, 1, 1, "RO access"), tips: tips::NONDETERMINISTIC),
    cmd!("persist", 2, WRITE | FAST, "generic", "keyspace write fast", args::one_key => keys::persist, keys: (1, 1, 1, "RW update")),
    cmd!("object", -2, 0, "generic", "slow", Handlers::CONTAINER, subs: keys::OBJECT_SUBCOMMANDS),
    cmd!("memory", -2, 0, "server", "slow", Handlers::CONTAINER, subs: keys::MEMORY_SUBCOMMANDS),
    // strings
    cmd!("get", 2, READONLY | FAST, "string", "read string fast", args::one_key => strings::get, keys: (1, 1, 1, "RO access")),
    cmd!("set", -3, WRITE | DENYOOM, "string", "write string slow", strings::parse::set => strings::set, keys: (1, 1, 1, "RW access update variable_flags"), notes: "RW and ACCESS due to the optional `GET` argument"),
    cmd!("setnx", 3, WRITE | DENYOOM | FAST, "string", "write string fast", args::key_value => strings::setnx, keys: (1, 1, 1, "OW insert")),
    cmd!("setex", 4, WRITE | DENYOOM, "string", "write string slow", strings::parse::setex => strings::setex, keys: (1, 1, 1, "OW update")),
    cmd!("psetex", 4, WRITE | DENYOOM, "string", "write string slow", strings::parse::psetex => strings::psetex, keys: (1, 1, 1, "OW update")),
    cmd!("getset", 3, WRITE | DENYOOM | FAST, "string", "write string fast", args::key_value => strings::getset, keys: (1, 1, 1, "RW access update")),
    cmd!("getdel", 2, WRITE | FAST, "string", "write string fast", args::one_key => strings::getdel, keys: (1, 1, 1, "RW access delete")),
    cmd!("getex", -2, WRITE | FAST, "string", "write string fast", strings::parse::getex => strings::getex, keys: (1, 1, 1, "RW access update"), notes: "RW and UPDATE because it changes the TTL"),
    cmd!("mget", -2, READONLY | FAST, "string", "read string fast", args::all_keys => strings::mget, keys: (1, -1, 1, "RO access"), tips: &["request_policy:multi_shard"]),
    cmd!("mset", -3, WRITE | DENYOOM, "string", "write string slow", strings::parse::mset => strings::mset, keys: (1, -1, 2, "OW update"), tips: &["request_policy:multi_shard", "response_policy:all_succeeded"]),
    cmd!("msetnx", -3, WRITE | DENYOOM, "string", "write string slow", strings::parse::msetnx => strings::msetnx, keys: (1, -1, 2, "OW insert"), tips: &["request_policy:multi_shard", "response_policy:agg_min"]),
    cmd!("incr", 2, WRITE | DENYOOM | FAST, "string", "write string fast", strings::parse::incr => strings::incr, keys: (1, 1, 1, "RW access update")),
    cmd!("decr", 2, WRITE | DENYOOM | FAST, "string", "write string fast", strings::parse::decr => strings::incr, keys: (1, 1, 1, "RW access update")),
    cmd!("incrby", 3, WRITE | DENYOOM | FAST, "string", "write string fast", strings::parse::incrby => strings::incr, keys: (1, 1, 1, "RW access update")),
    cmd!("decrby", 3, WRITE | DENYOOM | FAST, "string", "write string fast", strings::parse::decrby => strings::incr, keys: (1, 1, 1, "RW access update")),
    cmd!("incrbyfloat", 3, WRITE | DENYOOM | FAST, "string", "write string fast", args::key_value => strings::incrbyfloat, keys: (1, 1, 1, "RW access update")),
    cmd!("append", 3, WRITE | DENYOOM | FAST, "string", "write string fast", args::key_value => strings::append, keys: (1, 1, 1, "RW insert")),
    cmd!("strlen", 2, READONLY | FAST, "string", "read string fast", args::one_key => strings::strlen, keys: (1, 1, 1, "RO")),
    cmd!("getrange", 4, READONLY, "string", "read string slow", strings::parse::getrange => strings::getrange, keys: (1, 1, 1, "RO access")),
    cmd!("substr", 4, READONLY, "string", "read string slow", strings::parse::getrange => strings::getrange, keys: (1, 1, 1, "RO access")),
    cmd!("setrange", 4, WRITE | DENYOOM, "string", "write string slow", strings::parse::setrange => strings::setrange, keys: (1, 1, 1, "RW update")),
    // bitmaps
    cmd!("setbit", 4, WRITE | DENYOOM, "bitmap", "write bitmap slow", bits::parse::setbit => bits::setbit, keys: (1, 1, 1, "RW access update")),
    cmd!("getbit", 3, READONLY | FAST, "bitmap", "read bitmap fast", bits::parse::getbit => bits::getbit, keys: (1, 1, 1, "RO access")),
    cmd!("bitcount", -2, READONLY, "bitmap", "read bitmap slow", bits::parse::bitcount => bits::bitcount, keys: (1, 1, 1, "RO access")),
    cmd!("bitpos", -3, READONLY, "bitmap", "read bitmap slow", bits::parse::bitpos => bits::bitpos, keys: (1, 1, 1, "RO access")),
    cmd!("bitop", -4, WRITE | DENYOOM, "bitmap", "write bitmap slow", bits::parse::bitop => bits::bitop, keys: (2, -1, 1, "OW update"), sources: "RO access"),
    // hashes
    cmd!("hset", -4, WRITE | DENYOOM | FAST, "hash", "write hash fast", hashes::parse::hset => hashes::hset, keys: (1, 1, 1, "RW update")),
    cmd!("hsetnx", 4, WRITE | DENYOOM | FAST, "hash", "write hash fast", hashes::parse::key_field_value => hashes::hsetnx, keys: (1, 1, 1, "RW insert")),
    cmd!("hget", 3, READONLY | FAST, "hash", "read hash fast", args::key_value => hashes::hget, keys: (1, 1, 1, "RO access")),
    cmd!("hmget", -3, READONLY | FAST, "hash", "read hash fast", hashes::parse::key_fields => hashes::hmget, keys: (1, 1, 1, "RO access")),
    cmd!("hmset", -4, WRITE | DENYOOM | FAST, "hash", "write hash fast", hashes::parse::hmset => hashes::hmset, keys: (1, 1, 1, "RW update")),
    cmd!("hgetall", 2, READONLY, "hash", "read hash slow", args::one_key => hashes::hgetall, keys: (1, 1, 1, "RO access"), tips: tips::ORDER),
    cmd!("hdel", -3, WRITE | FAST, "hash", "write hash fast", hashes::parse::key_fields => hashes::hdel, keys: (1, 1, 1, "RW delete")),
    cmd!("hlen", 2, READONLY | FAST, "hash", "read hash fast", args::one_key => hashes::hlen, keys: (1, 1, 1, "RO")),
    cmd!("hexists", 3, READONLY | FAST, "hash", "read hash fast", args::key_value => hashes::hexists, keys: (1, 1, 1, "RO")),
    cmd!("hincrby", 4, WRITE | DENYOOM | FAST, "hash", "write hash fast", hashes::parse::hincrby => hashes::hincrby, keys: (1, 1, 1, "RW access update")),
    cmd!("hincrbyfloat", 4, WRITE | DENYOOM | FAST, "hash", "write hash fast", hashes::parse::key_field_value => hashes::hincrbyfloat, keys: (1, 1, 1, "RW access update")),
    cmd!("hkeys", 2, READONLY, "hash", "read hash slow", args::one_key => hashes::hkeys, keys: (1, 1, 1, "RO access"), tips: tips::ORDER),
    cmd!("hvals", 2, READONLY, "hash", "read hash slow", args::one_key => hashes::hvals, keys: (1, 1, 1, "RO access"), tips: tips::ORDER),
    cmd!("hstrlen", 3, READONLY | FAST, "hash", "read hash fast", args::key_value => hashes::hstrlen, keys: (1, 1, 1, "RO")),
    cmd!("hscan", -3, READONLY, "hash", "read hash slow", hashes::parse::hscan => hashes::hscan, keys: (1, 1, 1, "RO access"), tips: tips::NONDETERMINISTIC),
    cmd!("hrandfield", -2, READONLY, "hash", "read hash slow", hashes::parse::hrandfield => hashes::hrandfield, keys: (1, 1, 1, "RO access"), tips: tips::NONDETERMINISTIC),
    // lists
    cmd!("lpush", -3, WRITE | DENYOOM | FAST, "list", "write list fast", lists::parse::push => lists::lpush, keys: (1, 1, 1, "RW insert")),
    cmd!("rpush", -3, WRITE | DENYOOM | FAST, "list", "write list fast", lists::parse::push => lists::rpush, keys: (1, 1, 1, "RW insert")),
    cmd!("lpushx", -3, WRITE | DENYOOM | FAST, "list", "write list fast", lists::parse::push => lists::lpushx, keys: (1, 1, 1, "RW insert")),
    cmd!("rpushx", -3, WRITE | DENYOOM | FAST, "list", "write list fast", lists::parse::push => lists::rpushx, keys: (1, 1, 1, "RW insert")),
    cmd!("lpop", -2, WRITE | FAST, "list", "write list fast", lists::parse::lpop => lists::lpop, keys: (1, 1, 1, "RW access delete")),
    cmd!("rpop", -2, WRITE | FAST, "list", "write list fast", lists::parse::rpop => lists::rpop, keys: (1, 1, 1, "RW access delete")),
    cmd!("llen", 2, READONLY | FAST, "list", "read list fast", args::one_key => lists::llen, keys: (1, 1, 1, "RO")),
    cmd!("lrange", 4, READONLY, "list", "read list slow", lists::parse::range => lists::lrange, keys: (1, 1, 1, "RO access")),
    cmd!("lindex", 3, READONLY, "list", "read list slow", args::key_value => lists::lindex, keys: (1, 1, 1, "RO access")),
    cmd!("lset", 4, WRITE | DENYOOM, "list", "write list slow", lists::parse::lset => lists::lset, keys: (1, 1, 1, "RW update")),
    cmd!("ltrim", 4, WRITE, "list", "write list slow", lists::parse::range => lists::ltrim, keys: (1, 1, 1, "RW delete")),
    cmd!("lrem", 4, WRITE, "list", "write list slow", lists::parse::lrem => lists::lrem, keys: (1, 1, 1, "RW delete")),
    cmd!("linsert", 5, WRITE | DENYOOM, "list", "write list slow", lists::parse::linsert => lists::linsert, keys: (1, 1, 1, "RW insert")),
    cmd!("lpos", -3, READONLY, "list", "read list slow", lists::parse::lpos => lists::lpos, keys: (1, 1, 1, "RO access")),
    cmd!("lmove", 5, WRITE | DENYOOM, "list", "write list slow", lists::parse::lmove => lists::lmove, keys: (1, 2, 1, "RW access delete"), dest: "RW insert"),
    cmd!("blpop", -3, WRITE | NOSCRIPT | BLOCKING, "list", "write list slow blocking", lists::parse::blpop => blocking::blpop, keys: (1, -2, 1, "RW access delete")),
    cmd!("brpop", -3, WRITE | NOSCRIPT | BLOCKING, "list", "write list slow blocking", lists::parse::blpop => blocking::brpop, keys: (1, -2, 1, "RW access delete")),
    cmd!("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, "list", "write list slow blocking", lists::parse::blmove => blocking::blmove, keys: (1, 2, 1, "RW access delete"), dest: "RW insert"),
    cmd!("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, "list", "write list slow blocking", lists::parse::brpoplpush => blocking::brpoplpush, keys: (1, 2, 1, "RW access delete"), dest: "RW insert"),
    cmd!("lmpop", -4, WRITE | MOVABLEKEYS, "list", "write list slow", lists::parse::lmpop => blocking::lmpop, keynum: (1, "RW access delete")),
    cmd!("blmpop", -5, WRITE | BLOCKING | MOVABLEKEYS, "list", "write list slow blocking", lists::parse::blmpop => blocking::blmpop, keynum: (2, "RW access delete")),
    cmd!("rpoplpush", 3, WRITE | DENYOOM, "list", "write list slow", lists::parse::rpoplpush => lists::rpoplpush, keys: (1, 2, 1, "RW access delete"), dest: "RW insert"),
    // sets
    cmd!("sadd", -3, WRITE | DENYOOM | FAST, "set", "write set fast", sets::parse::key_members => sets::sadd, keys: (1, 1, 1, "RW insert")),
    cmd!("srem", -3, WRITE | FAST, "set", "write set fast", sets::parse::key_members => sets::srem, keys: (1, 1, 1, "RW delete")),
    cmd!("smembers", 2, READONLY, "set", "read set slow", args::one_key => sets::smembers, keys: (1, 1, 1, "RO access"), tips: tips::ORDER),
    cmd!("sismember", 3, READONLY | FAST, "set", "read set fast", args::key_value => sets::sismember, keys: (1, 1, 1, "RO")),
    cmd!("smismember", -3, READONLY | FAST, "set", "read set fast", sets::parse::key_members => sets::smismember, keys: (1, 1, 1, "RO access")),
    cmd!("scard", 2, READONLY | FAST, "set", "read set fast", args::one_key => sets::scard, keys: (1, 1, 1, "RO")),
    cmd!("spop", -2, WRITE | FAST, "set", "write set fast", sets::parse::spop => sets::spop, keys: (1, 1, 1, "RW access delete"), tips: tips::NONDETERMINISTIC),
    cmd!("srandmember", -2, READONLY, "set", "read set slow", sets::parse::srandmember => sets::srandmember, keys: (1, 1, 1, "RO access"), tips: tips::NONDETERMINISTIC),
    cmd!("smove", 4, WRITE | FAST, "set", "write set fast", sets::parse::smove => sets::smove, keys: (1, 2, 1, "RW access delete"), dest: "RW insert"),
    cmd!("sinter", -2, READONLY, "set", "read set slow", args::all_keys => sets::sinter, keys: (1, -1, 1, "RO access"), tips: tips::ORDER),
    cmd!("sintercard", -3, READONLY | MOVABLEKEYS, "set", "read set slow", sets::parse::sintercard => sets::sintercard, keynum: (1, "RO access")),
    cmd!("sinterstore", -3, WRITE | DENYOOM, "set", "write set slow", sets::parse::store => sets::sinterstore, keys: (1, -1, 1, "RW update"), sources: "RO access"),
    cmd!("sunion", -2, READONLY, "set", "read set slow", args::all_keys => sets::sunion, keys: (1, -1, 1, "RO access"), tips: tips::ORDER),
    cmd!("sunionstore", -3, WRITE | DENYOOM, "set", "write set slow", sets::parse::store => sets::sunionstore, keys: (1, -1, 1, "OW update"), sources: "RO access"),
    cmd!("sdiff", -2, READONLY, "set", "read set slow", args::all_keys => sets::sdiff, keys: (1, -1, 1, "RO access"), tips: tips::ORDER),
    cmd!("sdiffstore", -3, WRITE | DENYOOM, "set", "write set slow", sets::parse::store => sets::sdiffstore, keys: (1, -1, 1, "OW update"), sources: "RO access"),
    cmd!("sscan", -3, READONLY, "set", "read set slow", hashes::parse::hscan => sets::sscan, keys: (1, 1, 1, "RO access"), tips: tips::NONDETERMINISTIC),
    // sorted sets
    cmd!("zadd", -4, WRITE | DENYOOM | FAST, "sorted-set", "write sortedset fast", zsets::parse::zadd => zsets::zadd, keys: (1, 1, 1, "RW update")),
    cmd!("zincrby", 4, WRITE | DENYOOM | FAST, "sorted-set", "write sortedset fast", zsets::parse::zincrby => zsets::zincrby, keys: (1, 1, 1, "RW access update")),
    cmd!("zrem", -3, WRITE | FAST, "sorted-set", "write sortedset fast", zsets::parse::key_members => zsets::zrem, keys: (1, 1, 1, "RW delete")),
    cmd!("zcard", 2, READONLY | FAST, "sorted-set", "read sortedset fast", args::one_key => zsets::zcard, keys: (1, 1, 1, "RO")),
    cmd!("zscore", 3, READONLY | FAST, "sorted-set", "read sortedset fast", args::key_value => zsets::zscore, keys: (1, 1, 1, "RO access")),
    cmd!("zmscore", -3, READONLY | FAST, "sorted-set", "read sortedset fast", zsets::parse::key_members => zsets::zmscore, keys: (1, 1, 1, "RO access")),
    cmd!("zrank", 3, READONLY | FAST, "sorted-set", "read sortedset fast", args::key_value => zsets::zrank, keys: (1, 1, 1, "RO access")),
    cmd!("zrevrank", 3, READONLY | FAST, "sorted-set", "read sortedset fast", args::key_value => zsets::zrevrank, keys: (1, 1, 1, "RO access")),
    cmd!("zcount", 4, READONLY | FAST, "sorted-set", "read sortedset fast", zsets::parse::zcount => zsets::zcount, keys: (1, 1, 1, "RO access")),
    cmd!("zlexcount", 4, READONLY | FAST, "sorted-set", "read sortedset fast", zsets::parse::zlexcount => zsets::zlexcount, keys: (1, 1, 1, "RO access")),
    cmd!("zrange", -4, READONLY, "sorted-set", "read sortedset slow", zsets::parse::zrange => zsets::zrange, keys: (1, 1, 1, "RO access")),
    cmd!("zrangestore", -5, WRITE | DENYOOM, "sorted-set", "write sortedset slow", zsets::parse::zrangestore => zsets::zrange, keys: (1, 2, 1, "OW update"), dest: "RO access"),
    cmd!("zrevrange", -4, READONLY, "sorted-set", "read sortedset slow", zsets::parse::zrevrange => zsets::zrange, keys: (1, 1, 1, "RO access")),
    cmd!("zrangebyscore", -4, READONLY, "sorted-set", "read sortedset slow", zsets::parse::zrangebyscore => zsets::zrange, keys: (1, 1, 1, "RO access")),
    cmd!("zrevrangebyscore", -4, READONLY, "sorted-set", "read sortedset slow", zsets::parse::zrevrangebyscore => zsets::zrange, keys: (1, 1, 1, "RO access")),
    cmd!("zrangebylex", -4, READONLY, "sorted-set", "read sortedset slow", zsets::parse::zrangebylex => zsets::zrange, keys: (1, 1, 1, "RO access")),
    cmd!("zrevrangebylex", -4, READONLY, "sorted-set", "read sortedset slow", zsets::parse::zrevrangebylex => zsets::zrange, keys: (1, 1, 1, "RO access")),
    cmd!("zpopmin", -2, WRITE | FAST, "sorted-set", "write sortedset fast", zsets::parse::zpop => zsets::zpopmin, keys: (1, 1, 1, "RW access delete")),
    cmd!("zpopmax", -2, WRITE | FAST, "sorted-set", "write sortedset fast", zsets::parse::zpop => zsets::zpopmax, keys: (1, 1, 1, "RW access delete")),
    cmd!("zremrangebyrank", 4, WRITE, "sorted-set", "write sortedset slow", zsets::parse::zremrangebyrank => zsets::zremrange, keys: (1, 1, 1, "RW delete")),
    cmd!("zremrangebyscore", 4, WRITE, "sorted-set", "write sortedset slow", zsets::parse::zremrangebyscore => zsets::zremrange, keys: (1, 1, 1, "RW delete")),
    cmd!("zremrangebylex", 4, WRITE, "sorted-set", "write sortedset slow", zsets::parse::zremrangebylex => zsets::zremrange, keys: (1, 1, 1, "RW delete")),
    cmd!("zrandmember", -2, READONLY, "sorted-set", "read sortedset slow", zsets::parse::zrandmember => zsets::zrandmember, keys: (1, 1, 1, "RO access"), tips: tips::NONDETERMINISTIC),
    cmd!("zscan", -3, READONLY, "sorted-set", "read sortedset slow", hashes::parse::hscan => zsets::zscan, keys: (1, 1, 1, "RO access"), tips: tips::NONDETERMINISTIC),
    cmd!("zunion", -3, READONLY | MOVABLEKEYS, "sorted-set", "read sortedset slow", zsets::parse::zunion => zsets::set_op, keynum: (1, "RO access")),
    cmd!("zinter", -3, READONLY | MOVABLEKEYS, "sorted-set", "read sortedset slow", zsets::parse::zinter => zsets::set_op, keynum: (1, "RO access")),
    cmd!("zdiff", -3, READONLY | MOVABLEKEYS, "sorted-set", "read sortedset slow", zsets::parse::zdiff => zsets::set_op, keynum: (1, "RO access")),
    cmd!("zunionstore", -4, WRITE | DENYOOM | MOVABLEKEYS, "sorted-set", "write sortedset slow", zsets::parse::zunionstore => zsets::set_op, keys: (1, 1, 1, "OW update"), keynum: (2, "RO access")),
    cmd!("zinterstore", -4, WRITE | DENYOOM | MOVABLEKEYS, "sorted-set", "write sortedset slow", zsets::parse::zinterstore => zsets::set_op, keys: (1, 1, 1, "OW update"), keynum: (2, "RO access")),
    cmd!("zdiffstore", -4, WRITE | DENYOOM | MOVABLEKEYS, "sorted-set", "write sortedset slow", zsets::parse::zdiffstore => zsets::set_op, keys: (1, 1, 1, "OW update"), keynum: (2, "RO access")),
    cmd!("zintercard", -3, READONLY | MOVABLEKEYS, "sorted-set", "read sortedset slow", zsets::parse::zintercard => zsets::set_op, keynum: (1, "RO access")),
    cmd!("zmpop", -4, WRITE | MOVABLEKEYS, "sorted-set", "write sortedset slow", zsets::parse::zmpop => zsets::zmpop, keynum: (1, "RW access delete")),
    cmd!("bzpopmin", -3, WRITE | NOSCRIPT | FAST | BLOCKING, "sorted-set", "write sortedset fast blocking", lists::parse::blpop => blocking::bzpopmin, keys: (1, -2, 1, "RW access delete")),
    cmd!("bzpopmax", -3, WRITE | NOSCRIPT | FAST | BLOCKING, "sorted-set", "write sortedset fast blocking", lists::parse::blpop => blocking::bzpopmax, keys: (1, -2, 1, "RW access delete")),
    cmd!("bzmpop", -5, WRITE | BLOCKING | MOVABLEKEYS, "sorted-set", "write sortedset slow blocking", zsets::parse::bzmpop => blocking::bzmpop, keynum: (2, "RW access delete")),
    // rate limits
    cmd!("rl.check", -4, WRITE | DENYOOM | FAST | OWN_OOM, "ratelimit", "write fast", ratelimit::parse::check => ratelimit::rl_check, keys: (1, 1, 1, "RW access update")),
    cmd!("rl.reset", -2, WRITE | FAST, "ratelimit", "write fast", ratelimit::parse::reset => ratelimit::rl_reset, keys: (1, 1, 1, "RW delete")),
    cmd!("rl.acquire", -4, WRITE | DENYOOM | FAST | OWN_OOM, "ratelimit", "write fast", ratelimit::parse::acquire => ratelimit::rl_acquire, keys: (1, 1, 1, "RW access update")),
    cmd!("rl.release", 3, WRITE | FAST, "ratelimit", "write fast", ratelimit::parse::release => ratelimit::rl_release, keys: (1, 1, 1, "RW update")),
    cmd!("rl.renew", 4, WRITE | FAST, "ratelimit", "write fast", ratelimit::parse::renew => ratelimit::rl_renew, keys: (1, 1, 1, "RW update")),
    cmd!("cl.throttle", -1, WRITE | DENYOOM | FAST | OWN_OOM, "ratelimit", "write fast", ratelimit::parse::throttle => ratelimit::cl_throttle, keys: (1, 1, 1, "RW access update")),
    // quotas
    cmd!("quota.charge", -4, WRITE | DENYOOM | FAST | OWN_OOM, "quota", "write fast", quota::parse::charge => quota::quota_mutate, keys: (1, 1, 1, "RW access update")),
    cmd!("quota.reserve", -6, WRITE | DENYOOM | FAST | OWN_OOM, "quota", "write fast", quota::parse::reserve => quota::quota_mutate, keys: (1, 1, 1, "RW access update")),
    cmd!("quota.settle", -4, WRITE | DENYOOM | FAST | OWN_OOM, "quota", "write fast", quota::parse::settle => quota::quota_mutate, keys: (1, 1, 1, "RW access update")),
    cmd!("quota.cancel", 4, WRITE | FAST, "quota", "write fast", quota::parse::cancel => quota::quota_mutate, keys: (1, 1, 1, "RW update")),
    cmd!("quota.refund", -4, WRITE | FAST, "quota", "write fast", quota::parse::refund => quota::quota_mutate, keys: (1, 1, 1, "RW update")),
    cmd!("quota.reset", -2, WRITE | FAST, "quota", "write fast", quota::parse::reset => quota::quota_mutate, keys: (1, 1, 1, "RW update")),
    cmd!("quota.plan", -2, WRITE | DENYOOM | FAST | OWN_OOM, "quota", "write fast", quota::parse::plan => quota::quota_plan, keys: (1, 1, 1, "RW update")),
    cmd!("quota.status", -2, WRITE | FAST, "quota", "write fast", quota::parse::status => quota::quota_status, keys: (1, 1, 1, "RW access")),
    cmd!("quota.ledger", -2, READONLY | FAST, "quota", "read fast", quota::parse::ledger => quota::quota_ledger, keys: (1, 1, 1, "RO access")),
    // pub/sub
    cmd!("subscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, "pubsub", "pubsub slow", pubsub::names => pubsub::subscribe),
    cmd!("unsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, "pubsub", "pubsub slow", pubsub::names => pubsub::unsubscribe),
    cmd!("psubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, "pubsub", "pubsub slow", pubsub::names => pubsub::psubscribe),
    cmd!("punsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, "pubsub", "pubsub slow", pubsub::names => pubsub::punsubscribe),
    cmd!("publish", 3, PUBSUB | LOADING | STALE | FAST, "pubsub", "pubsub fast", args::key_value => pubsub::publish),
    cmd!("pubsub", -2, 0, "pubsub", "slow", Handlers::CONTAINER, subs: pubsub::PUBSUB_SUBCOMMANDS),
    // cache
    cmd!("cache.set", -5, WRITE | DENYOOM | FAST, "cache", "write fast", cache::parse::set => cache::cache_set, keys: (1, 1, 1, "RW update")),
    cmd!("cache.get", 4, READONLY | FAST, "cache", "read fast", cache::parse::get => cache::cache_get, keys: (1, 1, 1, "RO access")),
    cmd!("cache.fetch", -6, READONLY, "cache", "read", cache::parse::fetch => cache::cache_fetch, keys: (1, 1, 1, "RO access")),
    cmd!("cache.del", -2, WRITE | FAST, "cache", "write fast", cache::parse::del => cache::cache_del, keys: (1, 1, 1, "RW delete")),
    cmd!("cache.stats", -1, READONLY, "cache", "read", cache::parse::stats => cache::cache_stats),
    // scripting
    cmd!("eval", -3, scripting::EVAL_FLAGS, "scripting", "slow scripting", scripting::parse::eval => scripting::eval, keys: (0, 0, 0, "RW access update"), notes: "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE"),
    cmd!("evalsha", -3, scripting::EVAL_FLAGS, "scripting", "slow scripting", scripting::parse::evalsha => scripting::evalsha, keys: (0, 0, 0, "RW access update")),
    cmd!("eval_ro", -3, READONLY | scripting::EVAL_FLAGS, "scripting", "slow scripting", scripting::parse::eval => scripting::eval_ro, keys: (0, 0, 0, "RO access"), notes: "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"),
    cmd!("evalsha_ro", -3, READONLY | scripting::EVAL_FLAGS, "scripting", "slow scripting", scripting::parse::evalsha => scripting::evalsha_ro, keys: (0, 0, 0, "RO access")),
    cmd!("script", -2, 0, "scripting", "slow", Handlers::CONTAINER, subs: scripting::SCRIPT_SUBCOMMANDS),
    // transactions
    cmd!("multi", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NO_QUEUE, "transactions", "fast transaction", args::no_args => transactions::multi),
    cmd!("exec", 1, NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG | EXCLUSIVE | NO_QUEUE, "transactions", "slow transaction", args::no_args => transactions::exec),
    cmd!("discard", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NO_QUEUE, "transactions", "fast transaction", args::no_args => transactions::discard),
    cmd!("watch", -2, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NO_QUEUE, "transactions", "fast transaction", transactions::parse::watch => transactions::watch, keys: (1, -1, 1, "RO")),
    cmd!("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, "transactions", "fast transaction", args::no_args => transactions::unwatch),
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

/// Whether the command `base` (looked up from the request's name) must run with the
/// keyspace to itself (EXEC always; FLUSHALL, SWAPDB, KEYS... unless queued in MULTI).
fn needs_exclusive(base: Option<&Spec>, client: &Client) -> bool {
    match base {
        Some(spec) if spec.has(flag::EXCLUSIVE) => client.multi.is_none() || spec.name == "exec",
        _ => false,
    }
}

/// Runs one client request: checks, MULTI queueing, then the handler. Errors become error
/// replies; nothing here closes the connection except through `client.close_after_reply`.
///
/// Returns the full name of the command it resolved to (`client|setname`), for CLIENT LIST.
///
/// `world` is the batch's hold on the world lock: switched here to exclusive for the commands
/// that need the whole keyspace (their table flag), and back to shared for the others.
pub fn execute(
    ctx: &mut Ctx,
    world: &mut Held<'_>,
    base: Option<&'static Spec>,
    args: &[&[u8]],
) -> Option<&'static str> {
    // Another connection's script holds the world lock. Within its threshold the command
    // waits for the lock on this thread, as every Redis client waits for a script (a short
    // script's end then hands the lock on in order; waiting asynchronously instead woke every
    // waiting connection at each script's end, which cost EVALSHA-heavy loads two thirds of
    // their throughput). Past the threshold it stops waiting (asynchronously then, as
    // `script_wait` says), and the command runs beside the script without the lock if Redis
    // allows it (`allow-busy`: SCRIPT KILL, SHUTDOWN NOSAVE...) or is refused. No script:
    // the one atomic load the hot path pays.
    let running = &*ctx.state.scripting.running;
    let busy = if running.active() && running.timed_out() {
        world.release();
        true
    } else {
        let past_threshold = || running.active() && running.timed_out();
        if !world.ensure_unless(needs_exclusive(base, ctx.client), past_threshold) {
            ctx.client.script_wait = true;
            return None;
        }
        false
    };
    let checked = resolve_from(base, args).and_then(|spec| {
        if ctx.state.auth_required() && !ctx.client.authenticated && !spec.has(flag::NO_AUTH) {
            return Err(CmdError::NoAuth);
        }
        if ctx.client.multi.is_some() && spec.has(flag::NO_MULTI) {
            return Err(CmdError::other(
                "ERR Command not allowed inside a transaction",
            ));
        }
        // Redis does not evict beside a busy script.
        if !busy && !make_room(ctx) && refused_at_full_memory(ctx, spec) {
            return Err(CmdError::oom());
        }
        // A monitor is a replica to Redis: it may not read or write keys.
        if ctx.client.monitor && spec.has(READONLY | WRITE | MAY_REPLICATE) {
            return Err(CmdError::other(
                "ERR Replica can't interact with the keyspace",
            ));
        }
        // RESP2 has no room for messages between replies: a subscribed connection only
        // (un)subscribes, pings, quits or resets (Redis's words, with the command's name).
        if !ctx.client.resp3
            && ctx.client.subscriptions() > 0
            && !pubsub::ALLOWED_WHILE_SUBSCRIBED.contains(&spec.name)
        {
            return Err(CmdError::other(format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            )));
        }
        if busy && !spec.has(flag::ALLOW_BUSY) {
            return Err(CmdError::other(crate::scripting::busy::BUSY_ERR));
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
        if !spec.has(flag::NO_QUEUE) {
            queue.push(args.iter().map(|a| a.to_vec()).collect());
            ctx.out.simple("QUEUED");
            return Some(spec.name);
        }
    }
    run(ctx, spec, args);
    // Clients blocked on keys this command (or this EXEC, or this script) filled.
    if crate::store::ready::any() {
        blocking::serve_ready(ctx.state, ctx.now);
    }
    Some(spec.name)
}

/// Awaits a blocked command's outcome (outside every lock) and writes its reply.
pub async fn resume_blocked(
    state: &State,
    client_id: u64,
    blocked: crate::session::Blocked,
    out: &mut Out,
) {
    match blocked {
        crate::session::Blocked::Cache(w) => cache::resume(state, client_id, w, out).await,
        crate::session::Blocked::Keys(w) => blocking::resume(state, w, out).await,
    }
}

/// Over `maxmemory`, evicts per the policy before a command runs, as Redis does (the store
/// does the work). Returns whether memory is within the limit afterwards.
/// Redis's rule at a full memory (processCommand): a command that may allocate is refused
/// (rate-limit commands decide for themselves: `OWN_OOM`); inside MULTI every command but
/// EXEC, DISCARD, QUIT and RESET is, as queuing takes memory; and EXEC is when its queue
/// holds a command that may allocate.
fn refused_at_full_memory(ctx: &Ctx, spec: &Spec) -> bool {
    let allocates = |s: &Spec| s.has(flag::DENYOOM) && !s.has(flag::OWN_OOM);
    if allocates(spec) {
        return true;
    }
    let Some(queue) = ctx.client.multi.as_ref() else {
        return false;
    };
    match spec.name {
        "exec" => queue.iter().any(|cmd| {
            let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
            args.first()
                .and_then(|name| named(lookup(name), &args))
                .is_some_and(allocates)
        }),
        "discard" | "quit" | "reset" => false,
        _ => true,
    }
}

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
    let monitored = ctx.state.pubsub.monitoring();
    if monitored && server::monitor::shown_before(spec) {
        server::monitor::feed(ctx, spec, args);
    }
    let result = (spec.run)(ctx, args);
    let ended = crate::metrics::commands::ticks();
    ctx.client.clock = ended;
    let ns = crate::metrics::commands::elapsed_ns(started, ended);
    ctx.client.tally.call(spec.name, ns, result.is_err());
    if ctx.state.is_slow(ns / 1000) {
        server::slowlog::record(ctx, spec, args, ns / 1000);
    }
    if let Err(e) = result {
        reply_error(ctx, &e);
    }
    if monitored && server::monitor::shown_after(spec) {
        server::monitor::feed(ctx, spec, args);
    }
}

/// Redis's `addReplySubcommandSyntaxError`: the subcommand as typed, the container in
/// upper case.
pub fn subcommand_syntax_error(argv: &[&[u8]]) -> CmdError {
    let arg = |i: usize| argv.get(i).copied().unwrap_or_default();
    CmdError::other(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        trunc(arg(1), 128),
        String::from_utf8_lossy(arg(0)).to_ascii_uppercase()
    ))
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
    // The header, the lines, and HELP with its line.
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
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
///
/// Redis formats these with `%.128s`, as C strings: a NUL byte ends the text.
pub fn trunc(arg: &[u8], max: usize) -> String {
    let arg = arg.split(|&b| b == 0).next().unwrap_or_default();
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

/// Helpers for the parsers' table-driven unit tests, and a server in a struct for the apply
/// functions' tests: commands run through `execute` in process, no network, a manual clock.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{execute, lookup, CmdError, Ctx};
    use crate::clients::ClientHandle;
    use crate::clock::Clock;
    use crate::config::Config;
    use crate::protocol::Out;
    use crate::session::Client;
    use crate::state::State;
    use std::fmt::Debug;
    use std::sync::Arc;

    /// One client of an in-process server.
    pub struct Server {
        pub state: State,
        pub client: Client,
        out: Out,
    }

    impl Server {
        /// A default-config server whose clock stands still at 2023-11-14 22:13:20 UTC.
        pub fn new() -> Self {
            let clock = Clock::manual(1_700_000_000_000);
            let state = State::with_clock(Config::default(), super::all_names(), clock);
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 1));
            let handle = Arc::new(ClientHandle::new(1, addr, addr, state.clock.now_ms()));
            Server {
                state,
                client: Client::new(handle, true),
                out: Out::new(false),
            }
        }

        /// Runs one command (split on spaces; `''` is an empty argument) and returns its
        /// reply as text.
        pub fn run(&mut self, line: &str) -> String {
            let args: Vec<&[u8]> = line
                .split(' ')
                .map(|a| if a == "''" { &b""[..] } else { a.as_bytes() })
                .collect();
            let mut ctx = Ctx {
                state: &self.state,
                client: &mut self.client,
                out: &mut self.out,
                now: self.state.clock.now_ms(),
            };
            let mut world = super::Held::shared(&self.state.keyspace.world, 1);
            execute(&mut ctx, &mut world, lookup(args[0]), &args);
            let reply = String::from_utf8_lossy(&self.out.buf).into_owned();
            self.out.buf.clear();
            reply
        }
    }

    /// An argv from a line split on spaces (`''` is an empty argument), leaked so requests
    /// that borrow it can be compared with expected values written as literals.
    pub fn argv(line: &'static str) -> &'static [&'static [u8]] {
        let args: Vec<&[u8]> = line
            .split(' ')
            .map(|a| if a == "''" { &b""[..] } else { a.as_bytes() })
            .collect();
        args.leak()
    }

    /// Runs `parse` over `(line, expected)` cases: the request, or the error's text.
    #[track_caller]
    pub fn check<T: PartialEq + Debug>(
        parse: fn(&'static [&'static [u8]]) -> Result<T, CmdError>,
        cases: &[(&'static str, Result<T, &str>)],
    ) {
        for (line, want) in cases {
            match (parse(argv(line)), want) {
                (Ok(got), Ok(want)) => assert_eq!(&got, want, "{line}"),
                (Err(got), Err(want)) => assert_eq!(got.to_string(), *want, "{line}"),
                (got, want) => panic!("{line}: got {got:?}, want {want:?}"),
            }
        }
    }
}
