//! Conversions between RESP and Lua values with Redis 7.0's rules: a command's reply (the
//! bytes a command wrote) into what `redis.call` returns, and a script's result into its reply.

use crate::protocol::Out;
use mlua::{Lua, Table, Value};

/// Nesting deeper than this is refused rather than followed (a self-referencing table would
/// otherwise recurse forever; Redis stops at the C stack's limit).
const MAX_DEPTH: usize = 1000;

/// A reply's bytes as the Lua value `redis.call` returns, and whether the reply is an error
/// (then the value is `{err=...}`).
pub fn reply_to_lua(lua: &Lua, buf: &[u8]) -> mlua::Result<(Value, bool)> {
    let mut pos = 0;
    let is_error = buf.first() == Some(&b'-');
    let v = parse(lua, buf, &mut pos, 0)?;
    Ok((v, is_error))
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> mlua::Result<&'a [u8]> {
    let start = *pos;
    let rest = buf.get(start..).unwrap_or_default();
    let end = rest
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or_else(|| bad("truncated reply"))?;
    *pos = start + end + 2;
    Ok(&rest[..end])
}

fn int(text: &[u8]) -> mlua::Result<i64> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad length"))
}

fn bad(what: &str) -> mlua::Error {
    mlua::Error::RuntimeError(format!("ERR internal: {what} in a command's reply"))
}

fn with_field(lua: &Lua, name: &str, v: impl mlua::IntoLua) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(name, v)?;
    Ok(Value::Table(t))
}

fn parse(lua: &Lua, buf: &[u8], pos: &mut usize, depth: usize) -> mlua::Result<Value> {
    if depth > MAX_DEPTH {
        return Err(bad("nesting"));
    }
    let kind = *buf.get(*pos).ok_or_else(|| bad("empty reply"))?;
    *pos += 1;
    let head = line(buf, pos)?;
    Ok(match kind {
        b'+' => with_field(lua, "ok", lua.create_string(head)?)?,
        b'-' => with_field(lua, "err", lua.create_string(head)?)?,
        b':' => Value::Number(int(head)? as f64),
        b'$' | b'=' => {
            let n = int(head)?;
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let n = n as usize;
            let data = buf.get(*pos..*pos + n).ok_or_else(|| bad("short bulk"))?;
            *pos += n + 2;
            if kind == b'=' {
                // Verbatim text: {verbatim_string={format='txt', string=...}}.
                let t = lua.create_table()?;
                t.raw_set(
                    "format",
                    lua.create_string(data.get(..3).unwrap_or_default())?,
                )?;
                t.raw_set(
                    "string",
                    lua.create_string(data.get(4..).unwrap_or_default())?,
                )?;
                return with_field(lua, "verbatim_string", t);
            }
            Value::String(lua.create_string(data)?)
        }
        b'*' | b'>' | b'~' => {
            let n = int(head)?;
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table()?;
            for i in 0..n {
                let v = parse(lua, buf, pos, depth + 1)?;
                if kind == b'~' {
                    t.raw_set(v, true)?;
                } else {
                    t.raw_set(i + 1, v)?;
                }
            }
            if kind == b'~' {
                with_field(lua, "set", t)?
            } else {
                Value::Table(t)
            }
        }
        b'%' => {
            let n = int(head)?;
            let t = lua.create_table()?;
            for _ in 0..n.max(0) {
                let k = parse(lua, buf, pos, depth + 1)?;
                let v = parse(lua, buf, pos, depth + 1)?;
                t.raw_set(k, v)?;
            }
            with_field(lua, "map", t)?
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(head == b"t"),
        b',' => {
            let d: f64 = std::str::from_utf8(head)
                .ok()
                .and_then(|s| match s {
                    "inf" => Some(f64::INFINITY),
                    "-inf" => Some(f64::NEG_INFINITY),
                    s => s.parse().ok(),
                })
                .ok_or_else(|| bad("bad double"))?;
            with_field(lua, "double", d)?
        }
        b'(' => with_field(lua, "big_number", lua.create_string(head)?)?,
        _ => return Err(bad("unknown type")),
    })
}

/// A Lua number as Redis replies it: truncated to an integer, as C's cast does on x86-64
/// (out of range and NaN give the minimum, as `cvttsd2si` does).
pub fn lua_number_to_int(n: f64) -> i64 {
    if n.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// Writes a script's result as its reply (Redis 7.0's `luaReplyToRedisReply`). `resp3` is the
/// protocol the script chose with `redis.setresp`: booleans and the RESP3 types follow it.
/// Returns the error text when the reply is an error (for the error statistics).
pub fn lua_to_reply(out: &mut Out, v: &Value, resp3: bool) -> Option<String> {
    let mut err = None;
    write(out, v, resp3, 0, &mut err);
    err
}

fn write(out: &mut Out, v: &Value, resp3: bool, depth: usize, err: &mut Option<String>) {
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if resp3 {
                out.boolean(*b);
            } else if *b {
                out.int(1);
            } else {
                out.null();
            }
        }
        Value::Integer(n) => out.int(*n),
        Value::Number(n) => out.int(lua_number_to_int(*n)),
        Value::Table(t) if depth < MAX_DEPTH => write_table(out, t, resp3, depth, err),
        _ => out.null(),
    }
}

fn write_table(out: &mut Out, t: &Table, resp3: bool, depth: usize, err: &mut Option<String>) {
    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
        let msg = e.to_string_lossy();
        if depth == 0 {
            *err = Some(msg.clone());
        }
        out.error(&msg);
        return;
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        out.simple(&s.to_string_lossy().replace(['\r', '\n'], " "));
        return;
    }
    if resp3 {
        // An integral double (a zset score of 2) comes back from Lua as an integer value.
        match t.raw_get::<Value>("double") {
            Ok(Value::Number(d)) => {
                out.double(d);
                return;
            }
            Ok(Value::Integer(i)) => {
                out.double(i as f64);
                return;
            }
            _ => {}
        }
        if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
            let pairs: Vec<(Value, Value)> = m.pairs().filter_map(Result::ok).collect();
            out.map(pairs.len());
            for (k, v) in &pairs {
                write(out, k, resp3, depth + 1, err);
                write(out, v, resp3, depth + 1, err);
            }
            return;
        }
        if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
            let items: Vec<Value> = s
                .pairs::<Value, Value>()
                .filter_map(Result::ok)
                .map(|(k, _)| k)
                .collect();
            out.set(items.len());
            for k in &items {
                write(out, k, resp3, depth + 1, err);
            }
            return;
        }
    }
    // An array: 1, 2, ... up to the first nil.
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    out.array(items.len());
    for v in &items {
        write(out, v, resp3, depth + 1, err);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_truncate_as_redis_does() {
        assert_eq!(lua_number_to_int(3.99), 3);
        assert_eq!(lua_number_to_int(-3.99), -3);
        assert_eq!(lua_number_to_int(1e20), i64::MIN);
        assert_eq!(lua_number_to_int(f64::NAN), i64::MIN);
    }

    #[test]
    fn replies_round_trip() {
        let lua = Lua::new();
        let (v, e) = reply_to_lua(&lua, b"*3\r\n:1\r\n$-1\r\n+OK\r\n").unwrap();
        assert!(!e);
        let mut out = Out::new(false);
        lua_to_reply(&mut out, &v, false);
        // The nil bulk became false, which ends nothing (false is not nil) and replies nil.
        assert_eq!(out.buf, b"*3\r\n:1\r\n$-1\r\n+OK\r\n");
        let (_, e) = reply_to_lua(&lua, b"-ERR x\r\n").unwrap();
        assert!(e);
    }
}
