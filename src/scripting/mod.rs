//! Lua scripting's engine: the one sandboxed Lua 5.1 interpreter (as Redis 7.0 sets it up),
//! the script cache by SHA1, and the conversions between RESP replies and Lua values both
//! ways. It knows nothing of commands: `commands::scripting` runs EVAL with it and gives
//! `redis.call` a way to run commands (`Vm::run`'s `call` argument).
//!
//! One interpreter for the server, behind a mutex, as Redis has one: a script runs with the
//! keyspace to itself (EVAL is an `EXCLUSIVE` command), so two scripts never run at once and
//! more interpreters would only compile every script once per interpreter and cost memory per
//! connection. The mutex is only ever taken under the world lock, never across an `.await`.

mod bit;
pub mod busy;
mod cjson;
mod cmsgpack;
pub mod convert;
mod structlib;

use busy::{Running, Verdict};
use mlua::{
    ChunkMode, Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, Variadic,
    VmState,
};
use parking_lot::{Mutex, MutexGuard};
use std::collections::HashMap;
use std::sync::Arc;

/// The chunk name Redis 7.0 gives scripts: errors read `user_script:1: ...`.
const CHUNK: &str = "@user_script";

/// Globals Redis 7.0 leaves to scripts from Lua's base library (everything else of it, and
/// `os`, `io`, `debug`, `package`, is gone: no file, process or module access).
const BASE_KEPT: &[&str] = &[
    "assert",
    "collectgarbage",
    "error",
    "gcinfo",
    "getmetatable",
    "ipairs",
    "load",
    "loadstring",
    "next",
    "pairs",
    "pcall",
    "rawequal",
    "rawget",
    "rawset",
    "select",
    "setmetatable",
    "tonumber",
    "tostring",
    "type",
    "unpack",
    "xpcall",
    "_VERSION",
    "string",
    "table",
    "math",
    "coroutine",
];

/// The `redis` library's parts written in Lua (`call`, `pcall`, `setresp` and `log` are Rust
/// functions: a Lua function called in tail position leaves no frame of the script, and
/// Redis's errors name the script's line), and `pcall` as Redis 7.0 has it: an error table
/// caught comes back as its `err` text, and so does an error of `redis.call` (raised from
/// Rust, a userdata whose text is the message).
const REDIS_LIB: &str = r#"
local redis, real, rawtype, rawget, errtext, err, rawpcall, sel, stop, rawxpcall = ...
redis.error_reply = function(...)
  local e = ...
  if sel('#', ...) ~= 1 or rawtype(e) ~= 'string' then
    err({err='ERR wrong number or type of arguments'})
  end
  if e:sub(1, 1) == '-' then e = e:sub(2) end
  if not e:find(' ', 1, true) then e = 'ERR ' .. e end
  return {err=e}
end
redis.status_reply = function(...)
  local s = ...
  if sel('#', ...) ~= 1 or rawtype(s) ~= 'string' then
    err({err='ERR wrong number or type of arguments'})
  end
  return {ok=s}
end
redis.LOG_DEBUG = 0
redis.LOG_VERBOSE = 1
redis.LOG_NOTICE = 2
redis.LOG_WARNING = 3
redis.REDIS_VERSION = '7.0.15'
redis.REDIS_VERSION_NUM = 458767
redis.REPL_NONE = 0
redis.REPL_AOF = 1
redis.REPL_SLAVE = 2
redis.REPL_REPLICA = 2
redis.REPL_ALL = 3
-- Effects replication is all Redis 7.0 has; tollgate has no replicas: both only answer.
redis.replicate_commands = function() return true end
redis.set_repl = function(...)
  local f = ...
  if sel('#', ...) ~= 1 then err({err='ERR redis.set_repl() requires one argument.'}) end
  if rawtype(f) ~= 'number' or f < 0 or f > 3 then
    err({err='ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.'})
  end
end
local function caught(ok, ...)
  if ok then return ok, ... end
  stop()
  local e = ...
  if rawtype(e) == 'table' and rawtype(rawget(e, 'err')) == 'string' then
    e = rawget(e, 'err')
  elseif rawtype(e) == 'userdata' then
    e = errtext(e)
  end
  return false, e
end
real.pcall = function(...) return caught(rawpcall(...)) end
-- A script being stopped (SCRIPT KILL, SHUTDOWN NOSAVE) cannot catch that for good: every
-- catcher raises it again (Redis gets there with a hook on every line).
local function stopped(ok, ...)
  if not ok then stop() end
  return ok, ...
end
real.xpcall = function(f, h) return stopped(rawxpcall(f, h)) end
"#;

/// An error `redis.call` (and `setresp`, `log`) raises: its text is the reply's, as the
/// error table `{err=...}` Redis raises carries it.
#[derive(Debug)]
struct Raised(String);

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Raised {}

/// An error a library raises as Lua's own would be (a message with the script's position,
/// `ERR ` added in the reply): `cjson`'s.
#[derive(Debug)]
struct LuaError(String);

impl std::fmt::Display for LuaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LuaError {}

/// The text of an error raised from Rust: what `pcall` returns, and with `ERR ` what the
/// reply says.
fn raised_text(e: &mlua::Error) -> Option<(String, bool)> {
    match e {
        mlua::Error::CallbackError { cause, .. } => raised_text(cause),
        other => other
            .downcast_ref::<Raised>()
            .map(|r| (r.0.clone(), true))
            .or_else(|| {
                other
                    .downcast_ref::<LuaError>()
                    .map(|r| (r.0.clone(), false))
            }),
    }
}

/// Raises `msg` at the calling script's position (`user_script:1: ...`), as a Lua library's
/// `luaL_error` does (`cjson`, `bit`).
fn lua_error_at<T>(lua: &Lua, msg: &str) -> mlua::Result<T> {
    let at = lua
        .inspect_stack(1, |d| {
            let src = d.source();
            let short = src.short_src.as_deref().unwrap_or_default().to_string();
            d.current_line().map(|l| format!("{short}:{l}: "))
        })
        .flatten()
        .unwrap_or_default();
    Err(mlua::Error::external(LuaError(format!("{at}{msg}"))))
}

fn raise<T>(msg: impl Into<String>) -> mlua::Result<T> {
    Err(mlua::Error::external(Raised(msg.into())))
}

/// The read-only globals: reading a missing name or writing any is an error, as in Redis 7.0
/// (`Script attempted to access nonexistent global variable 'x'`, `Attempt to modify a
/// readonly table`), at the script's line (level 2).
const PROTECT: &str = r#"
local real, err, rawget, tostring, setmetatable, ipairs, rawloadstring, setfenv, rawtype, concat = ...
local proxy = {}
setmetatable(proxy, {
  __index = function(_, k)
    local v = rawget(real, k)
    if v == nil then
      err("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = function() err("Attempt to modify a readonly table", 2) end,
  __metatable = false,
})
-- The libraries are read-only too: a proxy whose reads go to the library.
local function readonly(lib)
  return setmetatable({}, {
    __index = lib,
    __newindex = function() err("Attempt to modify a readonly table", 2) end,
    __metatable = false,
  })
end
for _, name in ipairs({'string', 'table', 'math', 'coroutine', 'redis', 'cjson', 'bit', 'struct', 'cmsgpack'}) do
  real[name] = readonly(real[name])
end
-- Chunks a script loads see the script's globals, and are text: precompiled bytecode can
-- break the interpreter's safety (Redis refuses it too).
local function text_only(s, name)
  if rawtype(s) == 'string' and s:byte(1) == 27 then
    return nil, 'attempt to load a binary chunk'
  end
  local f, e = rawloadstring(s, name)
  if f then setfenv(f, proxy) end
  return f, e
end
real.loadstring = text_only
real.load = function(source, name)
  if rawtype(source) == 'string' then return text_only(source, name) end
  local parts = {}
  while true do
    local piece = source()
    if piece == nil or piece == '' then break end
    if rawtype(piece) ~= 'string' then return nil, 'reader function must return a string' end
    parts[#parts + 1] = piece
  end
  return text_only(concat(parts), name)
end
return proxy
"#;

/// `redis.call`'s way to the commands: the protocol the script chose (2 or 3) and the
/// arguments in; the reply's value and whether it is an error out.
pub type Bridge<'a> = dyn Fn(&Lua, u8, Variadic<Value>) -> mlua::Result<(Value, bool)> + 'a;

/// A compiled script and what its shebang (`#!lua flags=...`) declared.
pub struct Script {
    pub func: Function,
    pub flags: ScriptFlags,
}

/// The flags of a `#!lua` shebang. A script without one may write (`EVAL`); `no-writes`
/// refuses write commands, as `EVAL_RO` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    pub no_writes: bool,
    pub shebang: bool,
}

/// What a script's failure carries: the error text and where in the script it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub msg: String,
    pub at: Option<(String, i64)>,
}

/// The server's scripting engine: the interpreter, made on first use, and the running
/// script as other connections see it.
#[derive(Default)]
pub struct Engine {
    vm: Mutex<Option<Vm>>,
    /// Read without the world lock (the script holds it): see `busy`.
    pub running: Arc<Running>,
}

impl Engine {
    /// The interpreter, made now if this is the first script. Taken under the world lock.
    pub fn lock(&self) -> Result<MutexGuard<'_, Option<Vm>>, String> {
        let mut guard = self.vm.lock();
        if guard.is_none() {
            let vm =
                Vm::new(self.running.clone()).map_err(|e| format!("ERR cannot start Lua: {e}"))?;
            *guard = Some(vm);
        }
        Ok(guard)
    }

    /// SCRIPT FLUSH: forget every script, with a new interpreter (the old one's memory goes).
    pub fn flush(&self) {
        *self.vm.lock() = None;
    }
}

/// The interpreter and what was built in it once.
pub struct Vm {
    pub lua: Lua,
    /// By SHA1: foldhash, not SipHash (the key is a hash already; EVALSHA looks it up per call).
    scripts: HashMap<String, Script, foldhash::fast::RandomState>,
    /// The globals scripts see (read-only) and the table behind it (KEYS and ARGV go there).
    env: Table,
    real: Table,
    /// `bridge.f` is the command bridge during a script, `bridge.resp` its protocol.
    bridge: Table,
    xpcall: Function,
    handler: Function,
}

/// Installs the hook that watches the running script every `HOOK_EVERY` instructions. A
/// script to stop gets the error at every check, and from every `pcall` and `xpcall` that
/// catches it (`REDIS_LIB`): it cannot catch it for good. (A coroutine's error stays in
/// `coroutine.resume`'s result, as in Redis; the script's own next check raises it.)
fn set_hook(lua: &Lua, running: Arc<Running>) -> mlua::Result<()> {
    let triggers = HookTriggers::new().every_nth_instruction(busy::HOOK_EVERY);
    lua.set_global_hook(triggers, move |_, _| match running.check() {
        Verdict::Continue => Ok(VmState::Continue),
        Verdict::TimedOut => {
            hand_off();
            Ok(VmState::Continue)
        }
        Verdict::Stop(msg) => raise(msg),
    })
}

/// The script runs on a runtime worker, and past its threshold runs on for long: that
/// worker's share of the runtime (its queued connections, and the I/O driver it may be the
/// one to poll: then no other worker reads any socket) moves to a new thread:
/// `block_in_place` starts one to take the worker over, and the pause lets it (when the
/// closure ends before it did, this thread keeps the worker). Once per busy script.
fn hand_off() {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread) {
        tokio::task::block_in_place(|| std::thread::sleep(std::time::Duration::from_millis(20)));
    }
}

impl Vm {
    fn new(running: Arc<Running>) -> mlua::Result<Vm> {
        let lua = Lua::new_with(
            // `coroutine` comes with the base library in 5.1.
            StdLib::STRING | StdLib::TABLE | StdLib::MATH,
            LuaOptions::default(),
        )?;
        let g = lua.globals();
        let xpcall: Function = g.get("xpcall")?;
        let err: Function = g.get("error")?;
        let rawget: Function = g.get("rawget")?;
        let tostring: Function = g.get("tostring")?;
        let setmetatable: Function = g.get("setmetatable")?;
        let rawtype: Function = g.get("type")?;
        let select: Function = g.get("select")?;

        // The table scripts' globals come from: only what Redis keeps.
        let real = lua.create_table()?;
        for name in BASE_KEPT {
            let v: Value = g.raw_get(*name)?;
            if !v.is_nil() {
                real.raw_set(*name, v)?;
            }
        }
        let redis = lua.create_table()?;
        let bridge = lua.create_table()?;
        bridge.raw_set("resp", 2)?;
        redis.raw_set(
            "sha1hex",
            lua.create_function(|lua, args: Variadic<Value>| {
                if args.len() != 1 {
                    return raise("ERR wrong number of arguments");
                }
                // As C's lua_tolstring: numbers as Lua writes them, anything else as "".
                Ok(match lua.coerce_string(args[0].clone()).ok().flatten() {
                    Some(s) => sha1_hex(&s.as_bytes()),
                    None => sha1_hex(b""),
                })
            })?,
        )?;
        let b = bridge.clone();
        redis.raw_set(
            "call",
            lua.create_function(move |_, args: MultiValue| {
                let (v, failed) = call_bridge(&b, args)?;
                if failed {
                    let msg = match &v {
                        Value::Table(t) => t.raw_get::<Option<String>>("err")?.unwrap_or_default(),
                        _ => String::new(),
                    };
                    return raise(msg);
                }
                Ok(v)
            })?,
        )?;
        let b = bridge.clone();
        redis.raw_set(
            "pcall",
            lua.create_function(move |_, args: MultiValue| Ok(call_bridge(&b, args)?.0))?,
        )?;
        let b = bridge.clone();
        redis.raw_set(
            "setresp",
            lua.create_function(move |_, args: Variadic<Value>| {
                if args.len() != 1 {
                    return raise("ERR redis.setresp() requires one argument.");
                }
                let v = match args[0] {
                    Value::Integer(n) => n as f64,
                    Value::Number(n) => n,
                    _ => 0.0,
                };
                if v != 2.0 && v != 3.0 {
                    return raise("ERR RESP version must be 2 or 3.");
                }
                b.raw_set("resp", v as i64)
            })?,
        )?;
        redis.raw_set("log", lua.create_function(log)?)?;
        lua.load(REDIS_LIB).set_name("=redis").call::<()>((
            &redis,
            &real,
            rawtype,
            &rawget,
            lua.create_function(|_, e: Value| {
                Ok(match e {
                    Value::Error(e) => match raised_text(&e) {
                        Some((text, _)) => text,
                        None => e.to_string(),
                    },
                    other => other.to_string()?,
                })
            })?,
            &err,
            g.get::<Function>("pcall")?,
            select,
            {
                let r = running.clone();
                lua.create_function(move |_, ()| match r.stop_error() {
                    Some(msg) => raise(msg),
                    None => Ok(()),
                })?
            },
            &xpcall,
        ))?;
        real.raw_set("redis", &redis)?;
        real.raw_set("cjson", cjson::library(&lua)?)?;
        real.raw_set("bit", bit::library(&lua)?)?;
        real.raw_set("struct", structlib::library(&lua)?)?;
        real.raw_set("cmsgpack", cmsgpack::library(&lua)?)?;
        let env: Table = lua.load(PROTECT).set_name("=sandbox").call((
            &real,
            &err,
            &rawget,
            &tostring,
            setmetatable,
            g.get::<Function>("ipairs")?,
            g.get::<Function>("loadstring")?,
            g.get::<Function>("setfenv")?,
            g.get::<Function>("type")?,
            g.get::<Table>("table")?.get::<Function>("concat")?,
        ))?;
        real.raw_set("_G", &env)?;
        // The chunks above keep what they need as upvalues; the interpreter's own globals
        // are emptied so that nothing reaches the removed libraries.
        for pair in g.clone().pairs::<Value, Value>() {
            let (k, _) = pair?;
            g.raw_set(k, Value::Nil)?;
        }
        let handler = lua.create_function(error_handler)?;
        set_hook(&lua, running.clone())?;
        Ok(Vm {
            lua,
            scripts: HashMap::default(),
            env,
            real,
            bridge,
            xpcall,
            handler,
        })
    }

    /// Compiles `body` and caches it under its SHA1 (lowercase hex), unless it is there.
    /// The error is Redis's `Error compiling script` reply.
    pub fn load(&mut self, body: &[u8]) -> Result<String, String> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, code) = shebang(body)?;
        let func = self
            .lua
            .load(code)
            .set_name(CHUNK)
            .set_mode(ChunkMode::Text)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| {
                let msg = match e {
                    mlua::Error::SyntaxError { message, .. } => message,
                    other => other.to_string(),
                };
                format!("ERR Error compiling script (new function): {msg}")
            })?;
        self.scripts.insert(sha.clone(), Script { func, flags });
        Ok(sha)
    }

    pub fn get(&self, sha: &str) -> Option<&Script> {
        self.scripts.get(sha)
    }

    pub fn exists(&self, sha: &[u8]) -> bool {
        std::str::from_utf8(sha).is_ok_and(|s| self.scripts.contains_key(&s.to_ascii_lowercase()))
    }

    /// Runs a cached script with its KEYS and ARGV. `call` is `redis.call`'s way to the
    /// commands: it gets the protocol the script chose (2 or 3) and the arguments, and returns
    /// the reply's value and whether it is an error. Returns the script's value (converted by
    /// `reply` while the interpreter is still in hand) or its failure.
    pub fn run<R>(
        &self,
        func: &Function,
        keys: &[&[u8]],
        argv: &[&[u8]],
        call: &Bridge,
        reply: impl FnOnce(&Value, bool) -> R,
    ) -> Result<R, Failure> {
        let run = || -> mlua::Result<Result<R, Failure>> {
            self.real.raw_set("KEYS", sequence(&self.lua, keys)?)?;
            self.real.raw_set("ARGV", sequence(&self.lua, argv)?)?;
            self.bridge.raw_set("resp", 2)?;
            self.lua.scope(|scope| {
                let f = scope.create_function(|lua, (resp, args): (u8, Variadic<Value>)| {
                    call(lua, resp, args)
                })?;
                self.bridge.raw_set("f", f)?;
                let mut out = self
                    .xpcall
                    .call::<MultiValue>((func, &self.handler))?
                    .into_iter();
                self.bridge.raw_set("f", Value::Nil)?;
                let ok = matches!(out.next(), Some(Value::Boolean(true)));
                let value = out.next().unwrap_or(Value::Nil);
                if ok {
                    let resp3 = self.bridge.raw_get::<i64>("resp")? == 3;
                    return Ok(Ok(reply(&value, resp3)));
                }
                Ok(Err(failure(&value)))
            })
        };
        match run() {
            Ok(result) => result,
            Err(e) => Err(Failure {
                msg: format!("ERR {e}"),
                at: None,
            }),
        }
    }
}

/// Hands `redis.call`'s arguments to the bridge of the running script, with the protocol
/// it chose.
fn call_bridge(bridge: &Table, args: MultiValue) -> mlua::Result<(Value, bool)> {
    let f: Function = match bridge.raw_get::<Value>("f")? {
        Value::Function(f) => f,
        _ => return raise("ERR redis.call() is only available while a script runs"),
    };
    let resp: u8 = bridge.raw_get("resp")?;
    let mut all = MultiValue::with_capacity(args.len() + 1);
    all.push_back(Value::Integer(resp.into()));
    all.extend(args);
    f.call(all)
}

/// `redis.log(level, message...)`: to tracing, under the `tollgate::script` target.
fn log(_: &Lua, args: Variadic<Value>) -> mlua::Result<()> {
    if args.len() < 2 {
        return raise("ERR redis.log() requires two arguments or more.");
    }
    let level = match args[0] {
        Value::Integer(n) => n as f64,
        Value::Number(n) => n,
        _ => -1.0,
    };
    let text: Vec<String> = args[1..]
        .iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.to_string_lossy()),
            Value::Integer(n) => Some(n.to_string()),
            Value::Number(n) => Some(crate::protocol::reply::format_g17(*n)),
            _ => None,
        })
        .collect();
    let text = text.join(" ");
    match level {
        0.0 | 1.0 => tracing::debug!(target: "tollgate::script", "{text}"),
        2.0 => tracing::info!(target: "tollgate::script", "{text}"),
        3.0 => tracing::warn!(target: "tollgate::script", "{text}"),
        _ => return raise("ERR Invalid debug level."),
    }
    Ok(())
}

/// KEYS or ARGV: a table of the strings, sized once.
fn sequence(lua: &Lua, items: &[&[u8]]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, b) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(b)?)?;
    }
    Ok(t)
}

/// The error value of a failed script, as Redis 7.0's error handler leaves it: a table with
/// `err` (and `source`, `line`), or anything else (then its text).
fn failure(v: &Value) -> Failure {
    if let Value::Table(t) = v {
        let msg = match t.raw_get::<Value>("err") {
            Ok(Value::String(s)) => s.to_string_lossy(),
            Ok(Value::Integer(n)) => n.to_string(),
            Ok(Value::Number(n)) => n.to_string(),
            _ => "ERR unknown error".to_string(),
        };
        let source = t.raw_get::<Option<String>>("source").ok().flatten();
        let line = t.raw_get::<Option<i64>>("line").ok().flatten();
        return Failure {
            msg,
            at: source.zip(line),
        };
    }
    Failure {
        msg: format!("ERR {}", v.to_string().unwrap_or_default()),
        at: None,
    }
}

/// The message handler scripts run under (Redis 7.0's `__redis__err__handler`): a string error
/// becomes `{err='ERR ' .. msg}`, and the error gets the line of the script it happened on
/// (the innermost frame of script code, the user's chunk or one it loaded: below it are
/// `error`, `redis.call` or the sandbox's metamethods).
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Table> {
    let t = match err {
        Value::Table(t) => t,
        other => {
            let t = lua.create_table()?;
            let text = match &other {
                Value::String(s) => s.to_string_lossy(),
                Value::Error(e) => match raised_text(e) {
                    Some((text, true)) => text,
                    Some((text, false)) => format!("ERR {text}"),
                    None => format!("ERR {e}"),
                },
                v => format!("ERR {}", v.to_string().unwrap_or_default()),
            };
            let text = match &other {
                Value::String(_) => format!("ERR {text}"),
                _ => text,
            };
            t.raw_set("err", text)?;
            t
        }
    };
    for level in 1..64 {
        let Some(found) = lua.inspect_stack(level, |d| {
            let src = d.source();
            let source = src.source.as_deref().unwrap_or_default();
            // The first frame of script code: not C (`error`, `redis.call`), not tollgate's
            // own Lua (the sandbox's metamethods, the `redis` helpers), not a tail call's.
            let ours = matches!(source, "=redis" | "=sandbox" | "=(tail call)");
            (src.what != "C" && src.what != "tail" && !ours)
                .then(|| (source.to_string(), d.current_line().unwrap_or(0)))
        }) else {
            break;
        };
        if let Some((source, line)) = found {
            t.raw_set("source", source)?;
            t.raw_set("line", line)?;
            break;
        }
    }
    Ok(t)
}

/// Splits a `#!lua flags=a,b` first line off the body (its newline stays, so line numbers
/// hold) and reads its flags, with Redis 7.0's errors.
fn shebang(body: &[u8]) -> Result<(ScriptFlags, &[u8]), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::default(), body));
    }
    let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[2..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = ScriptFlags {
        shebang: true,
        ..Default::default()
    };
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            match f {
                "no-writes" => flags.no_writes = true,
                "allow-oom" | "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => return Err(format!("ERR Unexpected flag in script shebang: {other}")),
            }
        }
    }
    Ok((flags, &body[end..]))
}

/// SHA1 in lowercase hex, as scripts are named.
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_of_empty_is_redis_s() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    #[test]
    fn shebang_flags() {
        assert_eq!(
            shebang(b"return 1").map(|r| r.0),
            Ok(ScriptFlags::default())
        );
        let (flags, rest) = shebang(b"#!lua flags=no-writes\nreturn 1").unwrap();
        assert!(flags.no_writes && flags.shebang);
        assert_eq!(rest, b"\nreturn 1");
        assert!(shebang(b"#!python\n").is_err());
        assert!(shebang(b"#!lua flags=bogus\n").is_err());
    }
}
