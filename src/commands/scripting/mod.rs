//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT: runs Lua scripts with the engine of
//! `crate::scripting`, and is `redis.call`'s way into the command table (`bridge`): a command
//! called from a script runs through `commands::run`, as EXEC's queued commands do, into a
//! scratch reply buffer whose bytes become the Lua value the script gets.
//!
//! Atomicity: the EVAL commands are `EXCLUSIVE`, so `execute` holds the world lock
//! exclusively while a script runs and no other connection sees its keys half-written.

pub mod parse;

use super::{cmd, flag::*, CmdError, CmdResult, Ctx, Spec};
use crate::protocol::reply::format_g17;
use crate::protocol::{args, Out};
use crate::scripting::convert::{lua_to_reply, reply_to_lua};
use crate::scripting::Failure;
use mlua::{Lua, Value, Variadic};
use parse::Eval;
use std::cell::RefCell;

#[rustfmt::skip]
pub static SCRIPT_SUBCOMMANDS: &[Spec] = &[
    cmd!("script|exists", -3, NOSCRIPT, "scripting", "slow scripting", parse::exists => script_exists, tips: &["request_policy:all_shards", "response_policy:agg_logical_and"]),
    cmd!("script|flush", -2, NOSCRIPT, "scripting", "slow scripting", parse::flush => script_flush, tips: &["request_policy:all_nodes", "response_policy:all_succeeded"]),
    cmd!("script|help", 2, LOADING | STALE, "scripting", "slow scripting", args::no_sub_args => script_help),
    cmd!("script|kill", 2, NOSCRIPT | ALLOW_BUSY, "scripting", "slow scripting", args::no_sub_args => script_kill, tips: &["request_policy:all_shards", "response_policy:one_succeeded"]),
    cmd!("script|load", 3, NOSCRIPT | STALE, "scripting", "slow scripting", parse::load => script_load, tips: &["request_policy:all_nodes", "response_policy:all_succeeded"]),
];

/// The flags of the EVAL family's lines (Redis 7.0's, plus `EXCLUSIVE`: a script has the
/// keyspace to itself).
pub const EVAL_FLAGS: u32 =
    NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | MOVABLEKEYS | EXCLUSIVE;

const NOSCRIPT_ERR: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// How a script was named and whether it may write.
#[derive(Clone, Copy)]
enum Mode {
    Eval,
    EvalSha,
    EvalRo,
    EvalShaRo,
}

pub fn eval(ctx: &mut Ctx, req: Eval) -> CmdResult {
    run_script(ctx, req, Mode::Eval)
}

pub fn evalsha(ctx: &mut Ctx, req: Eval) -> CmdResult {
    run_script(ctx, req, Mode::EvalSha)
}

pub fn eval_ro(ctx: &mut Ctx, req: Eval) -> CmdResult {
    run_script(ctx, req, Mode::EvalRo)
}

pub fn evalsha_ro(ctx: &mut Ctx, req: Eval) -> CmdResult {
    run_script(ctx, req, Mode::EvalShaRo)
}

fn run_script(ctx: &mut Ctx, req: Eval, mode: Mode) -> CmdResult {
    let state = ctx.state;
    let mut guard = state.scripting.lock().map_err(CmdError::other)?;
    let Some(vm) = guard.as_mut() else {
        return Err(CmdError::other("ERR scripting is not available"));
    };
    let loaded: String;
    let mut lower = [0u8; 40];
    let sha: &str = match mode {
        Mode::Eval | Mode::EvalRo => {
            loaded = vm.load(req.script).map_err(CmdError::other)?;
            &loaded
        }
        Mode::EvalSha | Mode::EvalShaRo => {
            // A SHA1 is 40 characters; anything else cannot name a script. Lowercased on
            // the stack: EVALSHA is the hot path of scripting.
            if req.script.len() != 40 {
                return Err(CmdError::other(NOSCRIPT_ERR));
            }
            lower.copy_from_slice(req.script);
            lower.make_ascii_lowercase();
            std::str::from_utf8(&lower).map_err(|_| CmdError::other(NOSCRIPT_ERR))?
        }
    };
    let vm = &*vm;
    let Some(script) = vm.get(sha) else {
        return Err(CmdError::other(NOSCRIPT_ERR));
    };
    let func = &script.func;
    let no_writes = matches!(mode, Mode::EvalRo | Mode::EvalShaRo) || script.flags.no_writes;

    // A script's SELECT is its own (Redis 7.0): the caller's database comes back after it.
    let caller_db = ctx.client.db;
    ctx.client.in_script = true;
    // Other connections see it run from here (`scripting::busy`), until the guard drops.
    let running = state.scripting.running.start();
    let cell = RefCell::new(&mut *ctx);
    // The replies of the script's commands, one at a time: one buffer for the script's
    // length, not one (of a connection's 16 KB) per `redis.call`.
    let scratch = RefCell::new(Out::default());
    let call = |lua: &Lua, resp: u8, args: Variadic<Value>| -> mlua::Result<(Value, bool)> {
        let recursive = |_| mlua::Error::RuntimeError("ERR recursive call".into());
        let mut ctx = cell.try_borrow_mut().map_err(recursive)?;
        let mut out = scratch.try_borrow_mut().map_err(recursive)?;
        bridge(lua, &mut ctx, &mut out, resp, args, no_writes)
    };
    let result = vm.run(func, req.keys, req.argv, &call, |v, resp3| {
        cell.try_borrow_mut()
            .map(|mut ctx| lua_to_reply(ctx.out, v, resp3))
            .ok()
            .flatten()
    });
    drop(running);
    drop(guard);
    ctx.client.db = caller_db;
    ctx.client.in_script = false;
    match result {
        Ok(None) => Ok(()),
        // The script returned an error table: its reply is written; count it.
        Ok(Some(err)) => {
            super::count_error(ctx.state, &err);
            Ok(())
        }
        Err(Failure { msg, at }) => Err(CmdError::other(match at {
            Some((source, line)) => format!("{msg} script: {sha}, on {source}:{line}."),
            None => msg,
        })),
    }
}

/// `redis.call`/`redis.pcall`: runs one command for a script and gives back its reply as a
/// Lua value, and whether it is an error (`call` raises it). The checks and their errors are
/// Redis 7.0's.
fn bridge(
    lua: &Lua,
    ctx: &mut Ctx,
    out: &mut Out,
    resp: u8,
    args: Variadic<Value>,
    no_writes: bool,
) -> mlua::Result<(Value, bool)> {
    let fail = |msg: &str| -> mlua::Result<(Value, bool)> {
        let t = lua.create_table()?;
        t.raw_set("err", msg)?;
        Ok((Value::Table(t), true))
    };
    if args.is_empty() {
        return fail("ERR Please specify at least one argument for this redis lib call");
    }
    // Numbers as Redis 7.0 writes them: `%.17g` (0.1 is "0.10000000000000001"); strings
    // are read where they are, not copied.
    let mut numbers: Vec<String> = Vec::new();
    for a in args.iter() {
        match a {
            Value::String(_) => {}
            Value::Integer(n) => numbers.push(n.to_string()),
            Value::Number(n) => numbers.push(format_g17(*n)),
            _ => return fail("ERR Lua redis lib command arguments must be strings or integers"),
        }
    }
    let strings: Vec<mlua::BorrowedBytes> = args
        .iter()
        .filter_map(|a| match a {
            Value::String(s) => Some(s.as_bytes()),
            _ => None,
        })
        .collect();
    let (mut next_string, mut next_number) = (strings.iter(), numbers.iter());
    let argv: Vec<&[u8]> = args
        .iter()
        .filter_map(|a| match a {
            Value::String(_) => next_string.next().map(|b| &b[..]),
            _ => next_number.next().map(|n| n.as_bytes()),
        })
        .collect();
    let base = super::lookup(argv[0]);
    let spec = match super::resolve_from(base, &argv) {
        Ok(spec) => spec,
        Err(CmdError::WrongArgs(_)) => {
            return fail("ERR Wrong number of args calling Redis command from script")
        }
        // An unknown command or subcommand.
        Err(_) => return fail("ERR Unknown Redis command called from script"),
    };
    // CACHE.FETCH may wait for another client's fill, which a script (holding the whole
    // keyspace) must not: refused as Redis refuses commands that cannot run in scripts.
    if spec.has(NOSCRIPT) || base.is_some_and(|b| b.has(NOSCRIPT)) || spec.name == "cache.fetch" {
        return fail("ERR This Redis command is not allowed from script");
    }
    if no_writes && spec.has(WRITE) {
        return fail("ERR Write commands are not allowed from read-only scripts.");
    }
    if spec.has(DENYOOM) && !spec.has(OWN_OOM) && !ctx.state.make_room(ctx.now) {
        return fail(&CmdError::oom().to_string());
    }
    if spec.has(WRITE) {
        // From now on SCRIPT KILL cannot stop it (UNKILLABLE), as in Redis.
        ctx.state.scripting.running.wrote();
    }
    let resp3 = resp == 3;
    out.buf.clear();
    out.resp3 = resp3;
    let caller_resp3 = std::mem::replace(&mut ctx.client.resp3, resp3);
    {
        let mut sub = Ctx {
            state: ctx.state,
            client: &mut *ctx.client,
            out: &mut *out,
            now: ctx.now,
        };
        super::run(&mut sub, spec, &argv);
    }
    ctx.client.resp3 = caller_resp3;
    reply_to_lua(lua, &out.buf)
}

fn script_load(ctx: &mut Ctx, body: &[u8]) -> CmdResult {
    let mut guard = ctx.state.scripting.lock().map_err(CmdError::other)?;
    let Some(vm) = guard.as_mut() else {
        return Err(CmdError::other("ERR scripting is not available"));
    };
    let sha = vm.load(body).map_err(CmdError::other)?;
    drop(guard);
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

fn script_exists(ctx: &mut Ctx, shas: &[&[u8]]) -> CmdResult {
    let guard = ctx.state.scripting.lock().map_err(CmdError::other)?;
    let found: Vec<bool> = shas
        .iter()
        .map(|s| guard.as_ref().is_some_and(|vm| vm.exists(s)))
        .collect();
    drop(guard);
    ctx.out.array(found.len());
    for f in found {
        ctx.out.int(f as i64);
    }
    Ok(())
}

/// SCRIPT KILL: runs beside the busy script (`ALLOW_BUSY`), without the world lock; the
/// script's hook sees the request.
fn script_kill(ctx: &mut Ctx, (): ()) -> CmdResult {
    ctx.state
        .scripting
        .running
        .kill()
        .map_err(CmdError::other)?;
    ctx.out.ok();
    Ok(())
}

fn script_flush(ctx: &mut Ctx, (): ()) -> CmdResult {
    ctx.state.scripting.flush();
    ctx.out.ok();
    Ok(())
}

fn script_help(ctx: &mut Ctx, (): ()) -> CmdResult {
    super::help(
        ctx,
        "SCRIPT",
        &[
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    )
}
