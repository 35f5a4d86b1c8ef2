//! Lua scripting (EVAL, EVALSHA, EVAL_RO, SCRIPT): differential tests against a real
//! `redis-server` 7.0 — conversions both ways, error texts, the script cache, the sandbox,
//! KEYS/ARGV, RESP3, a token bucket — and tollgate's own: its commands called from scripts,
//! and a script's atomicity under concurrent clients.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{show, Raw, RedisServer, Tollgate};

/// A connection to each server; every mismatch is collected, the test fails at the end with
/// the whole list.
struct Both {
    ours: Raw,
    theirs: Raw,
    failures: Vec<String>,
}

impl Both {
    fn new(tg: &Tollgate, redis: &RedisServer) -> Both {
        let mut b = Both {
            ours: tg.raw(),
            theirs: redis.raw(),
            failures: Vec::new(),
        };
        b.run(&["FLUSHALL"]);
        b.run(&["SCRIPT", "FLUSH"]);
        b
    }

    /// Sends one command to both and compares the replies byte for byte.
    fn run(&mut self, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let ours = self.ours.cmd(&args);
        let theirs = self.theirs.cmd(&args);
        if ours != theirs {
            self.failures.push(format!(
                "{:?}\n    tollgate: {}\n    redis:    {}",
                args.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>(),
                show(&ours),
                show(&theirs)
            ));
        }
        ours
    }

    /// Sends one command to both without comparing (replies that differ by nature: ids).
    fn quiet(&mut self, args: &[&str]) {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.ours.cmd(&args);
        self.theirs.cmd(&args);
    }

    /// `EVAL script 0`.
    fn eval(&mut self, script: &str) -> Vec<u8> {
        self.run(&["EVAL", script, "0"])
    }

    fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{} mismatches between tollgate and redis-server:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

fn servers() -> (Tollgate, RedisServer) {
    (Tollgate::start(), RedisServer::start(&[]))
}

#[test]
fn lua_values_become_replies_as_in_redis() {
    let (tg, redis) = servers();
    let mut b = Both::new(&tg, &redis);
    for script in [
        "return 1",
        "return 3.99",
        "return -3.99",
        "return 1e20",
        "return -1e20",
        "return 0/0",
        "return 'text'",
        "return 'a\\0b'",
        "return ''",
        "return true",
        "return false",
        "return nil",
        "return",
        "return {}",
        "return {1,2,3.5,'x',true,false}",
        "return {1,2,{3,'x',{4}},nil,5}",
        "local t = {} t[1]=1 t[3]=3 return t",
        "return {a=1,b=2}",
        "return {err='boo'}",
        "return {err='My Err'}",
        "return {ok='fine'}",
        "return {ok='fine', err='bad'}",
        "return {1, {err='inner'}, {ok='OK'}}",
        "return redis.error_reply('My Err')",
        "return redis.error_reply('-My Err')",
        "return redis.error_reply('x')",
        "return redis.status_reply('FINE')",
        "return redis.sha1hex('')",
        "return redis.sha1hex('hello world')",
        "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
        "return redis.log(redis.LOG_WARNING, 'from a test')",
        "return tostring(0.1) .. ' ' .. tostring(1e15) .. ' ' .. tostring(2^53)",
        "return string.format('%d %s %5.2f', 5, 'x', 3.14159) .. math.floor(2.5) .. table.concat({'a','b'}, ',')",
        "return loadstring('return 1 + 1')()",
        "return loadstring('return type(redis)')()",
        "return {loadstring(string.dump(function() return 1 end))}",
        "return loadstring('x = 1')()",
        "return loadstring('return nosuch')()",
        "local f = loadstring('error(\"in loaded\")') f()",
        "return loadstring('syntax error')",
        "return {loadstring('syntax error')}",
        "return select('#', 1, 2, 3)",
        "return unpack({1, 2, 3})",
        "return coroutine.wrap(function() coroutine.yield(7) end)()",
        "return _VERSION",
        "return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM, redis.REPL_ALL, redis.REPL_NONE}",
        "return {redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA}",
        "return tostring(redis.replicate_commands())",
        "return redis.set_repl(redis.REPL_ALL)",
        "local x = redis.set_repl(99) return x",
    ] {
        b.eval(script);
    }
    b.finish();
}

#[test]
fn cjson_as_in_redis() {
    let (tg, redis) = servers();
    let mut b = Both::new(&tg, &redis);
    for script in [
        "return cjson.encode({1,2,3})",
        "return cjson.encode({a=1})",
        "return cjson.encode({})",
        "return cjson.encode('a/b\"c\\n\\1\\127')",
        "return cjson.encode(0.1)",
        "return cjson.encode(1/3)",
        "return cjson.encode({1,nil,3})",
        "return cjson.encode({[1]=1,[5]=2})",
        "return cjson.encode({[1]=1,[20]=2})",
        "return cjson.encode(true)",
        "return cjson.encode(nil)",
        "return cjson.encode(cjson.null)",
        "return cjson.encode({[1.5]=1})",
        "return cjson.encode(1e20)",
        "return cjson.encode(0/0)",
        "return cjson.encode(function() end)",
        "return cjson.encode({{{}}})",
        "return cjson.encode({a={1,2,{b=false}}})",
        "return pcall(cjson.encode, function() end)",
        "local ok, e = pcall(cjson.encode, function() end) return e",
        "local t = cjson.decode('{\"a\":[1,2,{\"b\":null}],\"c\":\"x\"}') return {t.a[1], t.a[2], t.c, type(t.a[3].b), t.a[3].b == cjson.null}",
        "return cjson.decode('1.5')",
        "return cjson.decode('\"s\"')",
        "return cjson.decode('[true,false]')[1]",
        "return cjson.encode(cjson.decode('{\"k\":[1,2.5,\"x\"]}'))",
        "cjson.x = 1",
        "return cjson.encode()",
    ] {
        b.eval(script);
    }
    b.finish();
    // A decode error has lua-cjson's position; its words are serde_json's.
    let mut c = tg.raw();
    let r = c.cmd(&[b"EVAL", b"return cjson.decode('[1,2')", b"0"]);
    assert!(r.starts_with(b"-ERR user_script:1: "), "{}", show(&r));
}

#[test]
fn bit_as_in_redis() {
    let (tg, redis) = servers();
    let mut b = Both::new(&tg, &redis);
    for script in [
        "return {bit.band(0xff, 0x0f), bit.bor(1, 2), bit.bxor(3, 1), bit.bnot(0), bit.band(1.7, 3)}",
        "return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.lshift(1, 33)}",
        "return {bit.rol(1, 33), bit.ror(1, 1), bit.tobit(2^32 + 5), bit.tobit(-1), bit.bswap(0x12345678)}",
        "return {bit.tohex(255), bit.tohex(-1, -4), bit.tohex(255, 2), bit.tohex(0x1234, 9)}",
        "return {bit.band(), 1}",
        "return bit.band('x')",
        "return bit.band('12', 10)",
        "return bit.bor(1, 2, 4, 8)",
        "return bit.lshift(1)",
        "bit.x = 1",
    ] {
        b.eval(script);
    }
    b.finish();
}

#[test]
fn replies_become_lua_values_as_in_redis() {
    let (tg, redis) = servers();
    let mut b = Both::new(&tg, &redis);
    b.run(&["SET", "s", "abc"]);
    b.run(&["SET", "n", "10"]);
    for script in [
        // integer → number, bulk → string, nil bulk → false, status → {ok=}, array → table
        "return redis.call('incr', 'n')",
        "return type(redis.call('incr', 'n'))",
        "return redis.call('get', 's')",
        "return type(redis.call('get', 's'))",
        "return redis.call('get', 'missing')",
        "return type(redis.call('get', 'missing'))",
        "return redis.call('get', 'missing') == false",
        "return redis.call('set', 'k', 'v')",
        "return redis.call('set', 'k', 'v').ok",
        "return type(redis.call('ping'))",
        "return redis.call('mget', 's', 'missing', 'n')",
        "local r = redis.call('mget', 's', 'missing', 'n') return #r",
        "return redis.call('mget', 's', 'missing', 'n')[2] == false",
        "return redis.call('exists', 's', 'n', 'missing')",
        // error → {err=} (pcall returns it, call raises it)
        "return redis.pcall('incr', 's')",
        "return redis.pcall('incr', 's').err",
        "return type(redis.pcall('incr', 's'))",
        // arguments: numbers as %.17g, integers, strings
        "return redis.call('set', 'f', 0.1)",
        "return redis.call('get', 'f')",
        "redis.call('set', 'f', 100000000000000) return redis.call('get', 'f')",
        "redis.call('set', 'f', 1.5) return redis.call('get', 'f')",
        "redis.call('set', 'f', -0.5e-10) return redis.call('get', 'f')",
        "return redis.call('incrby', 'n', 2.9)",
        // TTLs and expiry from a script
        "redis.call('set', 'e', '1', 'EX', 100) return redis.call('ttl', 'e')",
        "return redis.call('del', 'e', 'f', 'nothing')",
        // a SELECT in a script is the script's own
        "redis.call('select', '1') redis.call('set', 'only-in-1', 'x') return redis.call('dbsize')",
    ] {
        b.eval(script);
    }
    b.run(&["EXISTS", "only-in-1"]);
    b.run(&["SELECT", "1"]);
    b.run(&["GET", "only-in-1"]);
    b.finish();
}

#[test]
fn script_errors_as_redis_words_them() {
    let (tg, redis) = servers();
    let mut b = Both::new(&tg, &redis);
    b.run(&["SET", "s", "abc"]);
    for script in [
        "x = 1",
        "return x",
        "return os",
        "return io",
        "return require",
        "return dofile",
        "return loadfile",
        "return debug",
        "return print",
        "return setfenv",
        "string.x = 1 return 1",
        "redis.call = nil",
        "_G.x = 1",
        "error('boom')",
        "error('boom', 0)",
        "error('ERR already coded')",
        "error({err='X boom'})",
        "local function f() error('deep') end f()",
        "\n\nerror('line three')",
        "return 1 + {}",
        "return nosuch()",
        "syntax error here",
        "return 'unfinished",
        "return redis.call('nosuch')",
        "return redis.call('config', 'bogus')",
        "\n\nreturn redis.call('nosuch')",
        "local x = redis.call('nosuch')\nreturn x",
        "local function f() return redis.call('nosuch') end\nreturn f()",
        "return redis.call('incr', 's')",
        "return redis.call('incr')",
        "return redis.call('get', 'a', 'b')",
        "return redis.pcall('nosuch')",
        "return redis.pcall('get', 'a', 'b')",
        "return redis.call()",
        "return redis.call({})",
        "return redis.call('get', {})",
        "return redis.call('get', nil)",
        "return redis.call('subscribe', 'a')",
        "return redis.call('multi')",
        "return redis.call('exec')",
        "return redis.call('eval', 'return 1', '0')",
        "return redis.call('script', 'load', 'return 1')",
        "return redis.call('auth', 'x')",
        "return pcall(redis.call, 'nosuch')",
        "local ok, e = pcall(redis.call, 'nosuch') return e",
        "local ok, e = pcall(redis.call, 'nosuch') error(e)",
        "local ok, e = pcall(redis.call, 'incr', 's') return {tostring(ok), e}",
        "local ok, e = pcall(error, {err='x'}) return e",
        "local ok, e = pcall(redis.setresp, 4) return e",
        "return redis.setresp(4)",
        "return redis.setresp()",
        "return redis.log()",
        "return redis.log(redis.LOG_WARNING)",
        "return redis.error_reply()",
        "return redis.status_reply(1)",
        "return redis.sha1hex()",
        "return redis.sha1hex('a', 'b')",
        "return redis.sha1hex(1)",
        "return redis.sha1hex({})",
    ] {
        b.eval(script);
    }
    // numkeys and arity
    b.run(&["EVAL", "return 1", "-1"]);
    b.run(&["EVAL", "return 1", "3", "a"]);
    b.run(&["EVAL", "return 1", "abc"]);
    b.run(&["EVAL", "return 1"]);
    b.run(&["EVAL"]);
    b.run(&["EVALSHA", "x"]);
    b.run(&["EVAL_RO", "return 1", "-1"]);
    b.run(&["EVALSHA_RO", "abc", "2", "k"]);
    b.run(&["EVALSHA", "abc", "x"]);
    b.run(&[
        "EVALSHA",
        "e0e1f9fabfc9d4800c877a703b823ac0578ff8dc",
        "2",
        "k",
    ]);
    b.run(&["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8dc", "x"]);
    b.finish();
}

#[test]
fn keys_and_argv() {
    let (tg, redis) = servers();
    let mut b = Both::new(&tg, &redis);
    b.run(&["EVAL", "return {KEYS, ARGV}", "0"]);
    b.run(&["EVAL", "return KEYS", "2", "k1", "k2", "a1", "a2", "a3"]);
    b.run(&["EVAL", "return ARGV", "2", "k1", "k2", "a1", "a2", "a3"]);
    b.run(&["EVAL", "return #KEYS .. ' ' .. #ARGV", "1", "k", "", "x"]);
    b.run(&[
        "EVAL",
        "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])",
        "1",
        "key",
        "v\r\nwith\0bytes",
    ]);
    b.run(&["EVAL", "KEYS[1] = 'x' return KEYS[1]", "1", "k"]);
    b.run(&["EVAL", "return KEYS[1]", "0"]);
    b.finish();
}

#[test]
fn script_cache_load_exists_flush_evalsha() {
    let (tg, redis) = servers();
    let mut b = Both::new(&tg, &redis);
    let one = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db";
    b.run(&["SCRIPT", "EXISTS", one]);
    b.run(&["EVALSHA", one, "0"]);
    b.run(&["SCRIPT", "LOAD", "return 1"]);
    b.run(&["SCRIPT", "EXISTS", one, "ffff", &one.to_uppercase()]);
    b.run(&["EVALSHA", one, "0"]);
    b.run(&["EVALSHA", &one.to_uppercase(), "0"]);
    b.run(&["EVALSHA_RO", one, "0"]);
    // EVAL caches what it runs.
    b.run(&["EVAL", "return 2", "0"]);
    b.run(&["EVALSHA", "7f923f79fe76194c868d7e1d0820de36700eb649", "0"]);
    b.run(&["SCRIPT", "LOAD", "bad syntax"]);
    b.run(&["SCRIPT", "LOAD", "return KEYS[1]"]);
    b.run(&["SCRIPT", "LOAD"]);
    b.run(&["SCRIPT", "LOAD", "a", "b"]);
    b.run(&["SCRIPT", "EXISTS"]);
    b.run(&["SCRIPT", "FLUSH", "x"]);
    b.run(&["SCRIPT", "FLUSH", "SYNC", "SYNC"]);
    b.run(&["SCRIPT", "FLUSH", "ASYNC"]);
    b.run(&["SCRIPT", "EXISTS", one]);
    b.run(&["EVALSHA", one, "0"]);
    b.run(&["SCRIPT", "LOAD", "return 1"]);
    b.run(&["SCRIPT", "FLUSH"]);
    b.run(&["EVALSHA", one, "0"]);
    b.run(&["SCRIPT", "BOGUS"]);
    b.run(&["EVALSHA", "short", "0"]);
    // EVAL's keys follow numkeys (COMMAND GETKEYS; COMMAND INFO's key spec is checked with
    // every command's in tests/differential.rs).
    b.run(&["COMMAND", "GETKEYS", "EVAL", "return 1", "2", "a", "b", "c"]);
    b.run(&["COMMAND", "GETKEYS", "EVAL", "return 1", "0"]);
    b.run(&["COMMAND", "GETKEYS", "EVAL", "return 1", "5", "a"]);
    b.run(&["COMMAND", "GETKEYS", "EVAL", "return 1", "x", "a"]);
    b.run(&["COMMAND", "GETKEYS", "EVALSHA_RO", "abc", "1", "a", "b"]);
    b.finish();
}

#[test]
fn read_only_scripts_refuse_writes() {
    let (tg, redis) = servers();
    let mut b = Both::new(&tg, &redis);
    b.run(&["SET", "a", "1"]);
    b.run(&["EVAL_RO", "return redis.call('get', 'a')", "0"]);
    b.run(&["EVAL_RO", "return redis.call('set', 'a', '2')", "0"]);
    b.run(&["EVAL_RO", "return redis.pcall('incr', 'a')", "0"]);
    b.run(&[
        "EVAL",
        "#!lua flags=no-writes\nreturn redis.call('set','a','1')",
        "0",
    ]);
    b.run(&[
        "EVAL",
        "#!lua flags=no-writes\nreturn redis.call('get','a')",
        "0",
    ]);
    b.run(&["EVAL", "#!lua\nreturn redis.call('incr','a')", "0"]);
    b.run(&["EVAL", "#!lua flags=allow-oom,no-writes\nreturn 1", "0"]);
    b.run(&["GET", "a"]);
    b.finish();
}

#[test]
fn resp3_conversions() {
    let (tg, redis) = servers();
    let mut b = Both::new(&tg, &redis);
    b.quiet(&["HELLO", "3"]);
    b.run(&["SET", "a", "1"]);
    for script in [
        "return nil",
        "return true",
        "return false",
        "return {1, 'x'}",
        "redis.setresp(3) return true",
        "redis.setresp(3) return false",
        "redis.setresp(3) return {double=1.5}",
        "redis.setresp(3) return {map={a=1}}",
        "redis.setresp(3) return {set={x=true}}",
        "redis.setresp(3) return redis.call('get', 'missing')",
        "redis.setresp(3) return type(redis.call('get', 'missing'))",
        "redis.setresp(3) return redis.call('get', 'a')",
        "redis.setresp(3) return redis.call('incr', 'a')",
        "return redis.call('get', 'missing')",
        "return type(redis.call('get', 'missing'))",
    ] {
        b.eval(script);
    }
    b.quiet(&["HELLO", "2"]);
    b.eval("redis.setresp(3) return true");
    b.eval("redis.setresp(3) return false");
    b.eval("redis.setresp(3) return {double=1.5}");
    b.finish();
}

#[test]
fn scripts_inside_multi() {
    let (tg, redis) = servers();
    let mut b = Both::new(&tg, &redis);
    b.run(&["MULTI"]);
    b.run(&["EVAL", "return redis.call('incr', KEYS[1])", "1", "c"]);
    b.run(&["EVAL", "return redis.call('incr', KEYS[1])", "1", "c"]);
    b.run(&["EXEC"]);
    b.finish();
}

/// A token bucket in the shape of `benches/load.py`'s (tollgate has no hashes, so its state
/// is one string `tokens:ts`; the time comes in as ARGV[3] so both servers see the same).
const TOKEN_BUCKET: &str = r#"
local key = KEYS[1]
local rate = tonumber(ARGV[1]) / tonumber(ARGV[2])
local burst = tonumber(ARGV[1])
local t = tonumber(ARGV[3])
local b = redis.call('GET', key)
local tokens, ts = burst, t
if b then
  local sep = string.find(b, ':', 1, true)
  tokens = tonumber(string.sub(b, 1, sep - 1))
  ts = tonumber(string.sub(b, sep + 1))
end
tokens = math.min(burst, tokens + (t - ts) * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1 allowed = 1 end
redis.call('SET', key, tokens .. ':' .. t, 'EX', math.ceil(burst / rate))
return {allowed, tostring(tokens)}
"#;

#[test]
fn token_bucket_runs_identically() {
    let (tg, redis) = servers();
    let mut b = Both::new(&tg, &redis);
    let sha = b.run(&["SCRIPT", "LOAD", TOKEN_BUCKET]);
    let sha = String::from_utf8_lossy(&sha[5..45]).into_owned();
    // 5 tokens per 10 seconds; 40 requests 0.7 s apart, across two keys.
    for i in 0..40 {
        let now = format!("{}", 1_700_000_000.0 + f64::from(i) * 0.7);
        let key = if i % 3 == 0 { "bucket:a" } else { "bucket:b" };
        b.run(&["EVALSHA", &sha, "1", key, "5", "10", &now]);
    }
    b.run(&["GET", "bucket:a"]);
    b.run(&["TTL", "bucket:b"]);
    b.finish();
}

#[test]
fn tollgate_commands_from_scripts() {
    let tg = Tollgate::start();
    let mut c = tg.raw();
    // RL.CHECK and QUOTA from a script reply as they do outside one.
    let direct = c.cmd_str("RL.CHECK direct 2 60");
    let scripted = c.cmd(&[
        b"EVAL",
        b"return redis.call('RL.CHECK', KEYS[1], '2', '60')",
        b"1",
        b"scripted",
    ]);
    assert_eq!(direct, scripted, "{}", show(&scripted));
    // A script that decides on two limits at once: both or neither.
    // (RL.CHECK's reply is a flat map in RESP2: `allowed` is its second element.)
    let both = b"local a = redis.call('RL.CHECK', KEYS[1], '1', '60') \
        if a[2] == 0 then return 'first' end \
        local b = redis.call('RL.CHECK', KEYS[2], '5', '60') \
        return b[2] == 1 and 'allowed' or 'second'";
    let r = c.cmd(&[b"EVAL", both, b"2", b"l1", b"l2"]);
    assert_eq!(r, b"$7\r\nallowed\r\n", "{}", show(&r));
    let r = c.cmd(&[b"EVAL", both, b"2", b"l1", b"l2"]);
    assert_eq!(r, b"$5\r\nfirst\r\n", "{}", show(&r));
    // CACHE.FETCH may wait for another client: refused in scripts.
    let r = c.cmd(&[
        b"EVAL",
        b"return redis.pcall('CACHE.FETCH', 'k', 'a', 'b', 'c', 'd')",
        b"0",
    ]);
    assert_eq!(r, b"-ERR This Redis command is not allowed from script\r\n");
    // The commands a script runs count in INFO commandstats, as in Redis.
    let info = c.cmd_str("INFO commandstats");
    let info = String::from_utf8_lossy(&info);
    assert!(info.contains("cmdstat_rl.check:calls=5"), "{info}");
    assert!(info.contains("cmdstat_eval:calls=4"), "{info}");
}

/// Libraries built on scripts (redis-py's `register_script` and `lock()`, the `limits`
/// library's Redis storage) work against tollgate: `tests/py/test_scripting.py`, in both
/// protocols. Needs `python3` with redis-py and limits (`scripts/test` installs them).
#[test]
fn python_libraries_on_scripts() {
    use std::process::Command;
    let probe = Command::new("python3")
        .args(["-c", "import redis, limits"])
        .output()
        .expect("python3 is needed for the scripting library test");
    assert!(
        probe.status.success(),
        "redis-py and limits are needed (scripts/test installs them): {}",
        String::from_utf8_lossy(&probe.stderr).trim()
    );
    let tg = Tollgate::start();
    let path = format!("{}/tests/py/test_scripting.py", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(&path)
        .arg(tg.addr.port().to_string())
        .output()
        .expect("running python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("OK"),
        "test_scripting.py failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Scripts run with the keyspace to themselves: read-modify-write scripts from several
/// clients at once lose no update.
#[test]
fn scripts_are_atomic() {
    let tg = Tollgate::start();
    let script = "local v = tonumber(redis.call('get', KEYS[1]) or '0') \
        for i = 1, 50 do redis.call('set', KEYS[2], i) end \
        redis.call('set', KEYS[1], v + 1) return v + 1";
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let mut c = tg.raw();
            let script = script.to_string();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    let r = c.cmd(&[b"EVAL", script.as_bytes(), b"2", b"counter", b"scratch"]);
                    assert_eq!(r[0], b':', "{}", show(&r));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = tg.raw();
    assert_eq!(c.cmd_str("GET counter"), b"$3\r\n400\r\n");
}
