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

/// One client's view of a busy script (`busy-reply-threshold`, SCRIPT KILL, UNKILLABLE,
/// SHUTDOWN NOSAVE), as a transcript of (step, reply) to compare between the servers. Ends
/// with SHUTDOWN NOSAVE: the server must be a dedicated one. `None` for a connection closed.
///
/// `started` returns once the script just sent runs. Past that, the steps wait for the
/// script to be busy by asking a third connection (PING: -BUSY once it is), not by sleeping.
fn busy_script_transcript(
    connect: &dyn Fn() -> Raw,
    started: &dyn Fn(),
) -> Vec<(String, Option<Vec<u8>>)> {
    use std::time::{Duration, Instant};
    let mut t: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    let (mut runner, mut other, mut probe) = (connect(), connect(), connect());
    let mut busy = || {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !probe.cmd(&[b"PING"]).starts_with(b"-BUSY") {
            assert!(Instant::now() < deadline, "the script never got busy");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let step = |t: &mut Vec<(String, Option<Vec<u8>>)>, what: &str, c: &mut Raw, line: &[&str]| {
        let args: Vec<&[u8]> = line.iter().map(|a| a.as_bytes()).collect();
        c.send_bytes(&Raw::encode(&args));
        t.push((what.to_string(), c.read_reply()));
    };
    step(
        &mut t,
        "set threshold",
        &mut other,
        &["CONFIG", "SET", "lua-time-limit", "100"],
    );
    step(
        &mut t,
        "get threshold",
        &mut other,
        &["CONFIG", "GET", "busy-reply-threshold"],
    );
    step(&mut t, "kill, none runs", &mut other, &["SCRIPT", "KILL"]);
    // A script that never ends and writes nothing: killable.
    let spin = "local n = 0\nwhile true do n = n + 1 end";
    runner.send_bytes(&Raw::encode(&[b"EVAL", spin.as_bytes(), b"0"]));
    started();
    // Sent within the threshold: answered once it passed.
    step(&mut t, "within the threshold", &mut other, &["GET", "x"]);
    busy();
    step(&mut t, "busy", &mut other, &["SET", "x", "1"]);
    step(&mut t, "unknown command first", &mut other, &["NOPE"]);
    step(&mut t, "arity first", &mut other, &["GET"]);
    step(&mut t, "multi is allowed", &mut other, &["MULTI"]);
    step(&mut t, "queued refused", &mut other, &["GET", "x"]);
    step(&mut t, "exec aborts", &mut other, &["EXEC"]);
    step(&mut t, "auth is allowed", &mut other, &["AUTH", "pw"]);
    step(&mut t, "shutdown needs nosave", &mut other, &["SHUTDOWN"]);
    step(
        &mut t,
        "script load refused",
        &mut other,
        &["SCRIPT", "LOAD", "return 1"],
    );
    step(&mut t, "kill", &mut other, &["SCRIPT", "KILL"]);
    t.push(("the killed script's reply".into(), runner.read_reply()));
    step(&mut t, "free again", &mut other, &["GET", "x"]);
    step(
        &mut t,
        "kill, none runs again",
        &mut other,
        &["SCRIPT", "KILL"],
    );
    // A pcall around the loop catches the kill once, not for good; a coroutine's loop is
    // killed inside it (resume returns false and the script goes on).
    for (what, script) in [
        ("pcall", "while true do pcall(function() while true do end end) end"),
        ("coroutine", "local co = coroutine.create(function() while true do end end) coroutine.resume(co) return 1"),
    ] {
        runner.send_bytes(&Raw::encode(&[b"EVAL", script.as_bytes(), b"0"]));
        busy();
        step(&mut t, &format!("kill in {what}"), &mut other, &["SCRIPT", "KILL"]);
        t.push((format!("the script with a {what}"), runner.read_reply()));
    }
    // A script that wrote cannot be killed; SHUTDOWN NOSAVE stops the server.
    let writer = "redis.call('set', 'k', 'v')\nwhile true do end";
    runner.send_bytes(&Raw::encode(&[b"EVAL", writer.as_bytes(), b"0"]));
    busy();
    step(&mut t, "unkillable", &mut other, &["SCRIPT", "KILL"]);
    step(
        &mut t,
        "shutdown nosave",
        &mut other,
        &["SHUTDOWN", "NOSAVE"],
    );
    t
}

#[test]
fn busy_scripts_as_in_redis() {
    use std::time::Duration;
    let (tg, redis) = servers();
    let (ta, ra) = (tg.addr, redis.addr);
    let state = tg.state.clone();
    let ours = busy_script_transcript(&|| Raw::connect(ta), &|| {
        let running = &state.scripting.running;
        assert!(common::wait_for(Duration::from_secs(20), || running.active()));
    });
    // Whatever happened, no script may keep tollgate's runtime from stopping.
    tg.state.scripting.running.abort();
    let theirs = busy_script_transcript(&|| Raw::connect(ra), &|| {
        std::thread::sleep(Duration::from_millis(20))
    });
    let text = |r: &Option<Vec<u8>>| r.as_deref().map_or("(closed)".to_string(), show);
    let mut diffs = Vec::new();
    for ((step, o), (_, r)) in ours.iter().zip(&theirs) {
        // Redis's own text has the script's SHA; both name the same script.
        if o != r {
            diffs.push(format!(
                "{step}:\n  tollgate: {}\n  redis:    {}",
                text(o),
                text(r)
            ));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert!(
        tg.stopped_within(Duration::from_secs(10)),
        "SHUTDOWN NOSAVE stops tollgate"
    );
    assert!(
        common::wait_for(Duration::from_secs(5), || std::net::TcpStream::connect(ra)
            .is_err()),
        "and redis-server"
    );
}

/// `return S(...)`: every value as Lua's `tostring` writes it (numbers keep their fraction,
/// nils show), so results compare exactly.
const S: &str = "local function S(...) local t = {} for i = 1, select('#', ...) do \
                 t[i] = tostring((select(i, ...))) end return t end ";

#[test]
fn struct_as_in_redis() {
    let (tg, redis) = servers();
    let mut b = Both::new(&tg, &redis);
    for body in [
        "return struct.pack('>i4', 1)",
        "return struct.pack('<i4', -2)",
        "return struct.pack('bBhHlLT', -1, 255, -300, 65535, -5, 7, 9)",
        "return struct.pack('i16', -1)",
        "return struct.pack('>I3', 70000)",
        "return struct.pack('!4 b i4 b d', 1, 2, 3, 4.5)",
        "return struct.pack('! b d', 1, 2)",
        "return struct.pack('xxb', 1)",
        "return struct.pack('c3c0s', 'abcdef', 'xy', 'z\\0w')",
        "return struct.pack('f d', 1.5, 0.1)",
        "return struct.pack('>f >d', -2.25, 1e300)",
        "return struct.pack('i', 4294967296)",
        "return struct.pack('b', 300)",
        "return struct.pack('c2', 12345)",
        "return S(struct.unpack('>i4', struct.pack('>i4', -123456)))",
        "return S(struct.unpack('bBhHlL', struct.pack('bBhHlL', -1, 255, -300, 65535, -5, 7)))",
        "return S(struct.unpack('f d', struct.pack('f d', 1.5, 0.1)))",
        "return S(struct.unpack('<I8', struct.pack('<I8', 2^53)))",
        "return S(struct.unpack('i16', struct.pack('i16', -7)))",
        "return S(struct.unpack('c0', struct.pack('b c0', 3, 'abc')))",
        "return S(struct.unpack('b c0', struct.pack('b c0', 3, 'abc')))",
        "return S(struct.unpack('s s', 'ab\\0cd\\0'))",
        "return S(struct.unpack('i2', 'abcd', 3))",
        "return S(struct.unpack('!4 b i4', struct.pack('!4 b i4', 1, 2)))",
        "return S(struct.unpack('', 'xyz'))",
        "return S(struct.unpack('b', 'xyz', 3))",
        "return S(struct.size('i4 d b !8 d'), struct.size('c10'), struct.size(''), struct.size('zb'))",
        // Errors.
        "return struct.pack('y', 1)",
        "return struct.pack('i33', 1)",
        "return struct.pack('i99999999999', 1)",
        "return struct.pack('!3', 1)",
        "return struct.pack('i4')",
        "return struct.pack('i4', 'x')",
        "return struct.pack('c5', 'ab')",
        "return struct.pack('s', {})",
        "return struct.pack()",
        "return struct.unpack('i4', 'ab')",
        "return struct.unpack('i4', 'abcd', 0)",
        "return struct.unpack('i4', 'abcd', -1)",
        "return struct.unpack('c0', 'abc')",
        "return struct.unpack('b c0', '\\9ab')",
        "return struct.unpack('s', 'abc')",
        "return struct.unpack('i4')",
        "return struct.size('s')",
        "return struct.size('c0')",
        "return struct.size('i4 %')",
        "return pcall(struct.pack, 'y')",
        "struct.x = 1",
    ] {
        b.eval(&format!("{S}{body}"));
    }
    b.finish();
}

#[test]
fn cmsgpack_as_in_redis() {
    let (tg, redis) = servers();
    let mut b = Both::new(&tg, &redis);
    for body in [
        "return cmsgpack.pack(1, -1, 127, 128, 255, 256, 65535, 65536, 2^32, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31 - 1, 2^53, -2^53)",
        "return cmsgpack.pack(1.5, 0.1, -2.25, 1e300, 1/0, -1/0, 2^63, -2^63, 2^64)",
        "return cmsgpack.pack('', 'abc', string.rep('x', 31), string.rep('y', 32), string.rep('z', 256), string.rep('w', 70000))",
        "return cmsgpack.pack('a\\0b', true, false, nil)",
        "return cmsgpack.pack({1, 2, 3}, {}, {a = 1}, {[1] = 1, [3] = 3}, {1, nil, 3})",
        "return cmsgpack.pack({a = {b = {c = {1, 2, {d = 'x'}}}}})",
        "local t = {} for i = 1, 20 do t[i] = i end return cmsgpack.pack(t)",
        "local t = {} for i = 1, 20 do t['k' .. i] = i end return cmsgpack.pack(t)",
        "local t = {} for i = 1, 70000 do t[i] = i % 7 end return cmsgpack.pack(t)",
        "local t = {} t.self = t return cmsgpack.pack(t)",
        "local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end return cmsgpack.pack(t)",
        "return cmsgpack.pack(function() end, {[1.5] = 1, [-1] = 2, [0] = 3})",
        "return S(cmsgpack.unpack(cmsgpack.pack(1, -1, 1.5, 0.1, 'x', true, false, 2^40, -2^40)))",
        "return S(cmsgpack.unpack(cmsgpack.pack(nil, 1)))",
        "local t = cmsgpack.unpack(cmsgpack.pack({1, {2, {3, 'a\\0b'}}, k = 'v'})) return {t[1], t[2][1], t[2][2][1], t[2][2][2], t.k}",
        "return cmsgpack.pack(cmsgpack.unpack(cmsgpack.pack({x = {1, 2}, y = {z = true}})))",
        "return S(cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255'))",
        "return S(cmsgpack.unpack('\\211\\128\\0\\0\\0\\0\\0\\0\\0'))",
        "return S(cmsgpack.unpack('\\208\\128\\209\\128\\0\\210\\128\\0\\0\\0\\204\\255\\205\\255\\255\\206\\255\\255\\255\\255'))",
        "return S(cmsgpack.unpack('\\202\\127\\192\\0\\0'))",
        "return S(cmsgpack.unpack(''))",
        "return S(cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3)))",
        "return S(cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1))",
        "return S(cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2))",
        "return S(cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 3))",
        "return S(cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2))",
        "return S(cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1))",
        "return S(cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0))",
        "return S(cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 1))",
        "return S(cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 10))",
        "return S(cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION)",
        // Errors.
        "return cmsgpack.pack()",
        "return cmsgpack.unpack()",
        "return cmsgpack.unpack({})",
        "return cmsgpack.unpack('\\193')",
        "return cmsgpack.unpack('\\205\\1')",
        "return cmsgpack.unpack('\\146\\1')",
        "return cmsgpack.unpack('\\129\\192\\1')",
        "return cmsgpack.unpack_one('\\1', -1)",
        "return cmsgpack.unpack_one('\\1', 5)",
        "return cmsgpack.unpack_one('\\1', 'x')",
        "return cmsgpack.unpack_limit('\\1')",
        "return cmsgpack.unpack_limit('\\1', -1)",
        "return pcall(cmsgpack.unpack, '\\193')",
        "cmsgpack.x = 1",
    ] {
        b.eval(&format!("{S}{body}"));
    }
    b.finish();
}
