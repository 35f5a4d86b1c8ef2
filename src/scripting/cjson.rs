//! The `cjson` library Redis 7.0 gives scripts (lua-cjson 2.1's defaults): `cjson.encode`,
//! `cjson.decode` (parsed by serde_json) and `cjson.null`. Errors carry the script's position, as
//! lua-cjson's do.

use super::lua_error_at as fail;
use mlua::{LightUserData, Lua, Table, Value, Variadic};

/// lua-cjson's nesting limit, both ways.
const MAX_DEPTH: usize = 1000;

pub fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// The `cjson` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.len() != 1 {
                return fail(lua, "bad argument #1 to 'encode' (expected 1 argument)");
            }
            let mut out = Vec::new();
            if let Err(msg) = encode(lua, &args[0], 0, &mut out) {
                return fail(lua, &msg);
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, args: Variadic<Value>| {
            let Some(Value::String(s)) = args.first() else {
                return fail(lua, "bad argument #1 to 'decode' (string expected)");
            };
            let v: serde_json::Value = match serde_json::from_slice(&s.as_bytes()) {
                Ok(v) => v,
                // The position is lua-cjson's; the words after it are serde_json's.
                Err(e) => return fail(lua, &e.to_string()),
            };
            to_lua(lua, &v)
        })?,
    )?;
    t.raw_set("null", null())?;
    Ok(t)
}

fn encode(lua: &Lua, v: &Value, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err("Cannot serialise number: must not be NaN or Inf".into());
            }
            out.extend_from_slice(number_text(lua, *n).as_bytes());
        }
        Value::String(s) => string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                return Err(format!(
                    "Cannot serialise, excessive nesting ({})",
                    depth + 1
                ));
            }
            table(lua, t, depth, out)?;
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ))
        }
    }
    Ok(())
}

/// A number as Lua writes it (`%.14g`), as lua-cjson does.
fn number_text(lua: &Lua, n: f64) -> String {
    lua.coerce_string(Value::Number(n))
        .ok()
        .flatten()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default()
}

fn string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// A table: an array when every key is a positive integer (holes as null, unless excessively
/// sparse), else an object with string or number keys; `{}` when empty.
fn table(lua: &Lua, t: &Table, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let pairs: Vec<(Value, Value)> = t.pairs().filter_map(Result::ok).collect();
    let mut max = 0usize;
    let mut array = !pairs.is_empty();
    for (k, _) in &pairs {
        let n = match k {
            Value::Integer(n) => *n as f64,
            Value::Number(n) => *n,
            _ => -1.0,
        };
        if n >= 1.0 && n.fract() == 0.0 && n <= 1e15 {
            max = max.max(n as usize);
        } else {
            array = false;
            break;
        }
    }
    if array && max > pairs.len() * 2 && max > 10 {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    if array {
        out.push(b'[');
        for i in 1..=max {
            if i > 1 {
                out.push(b',');
            }
            let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
            encode(lua, &v, depth + 1, out)?;
        }
        out.push(b']');
        return Ok(());
    }
    out.push(b'{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match k {
            Value::String(s) => string(&s.as_bytes(), out),
            Value::Integer(n) => string(n.to_string().as_bytes(), out),
            Value::Number(n) => string(number_text(lua, *n).as_bytes(), out),
            _ => return Err("Cannot serialise table: table key must be a number or string".into()),
        }
        out.push(b':');
        encode(lua, v, depth + 1, out)?;
    }
    out.push(b'}');
    Ok(())
}

fn to_lua(lua: &Lua, v: &serde_json::Value) -> mlua::Result<Value> {
    Ok(match v {
        serde_json::Value::Null => null(),
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(lua.create_string(s)?),
        serde_json::Value::Array(items) => {
            let t = lua.create_table()?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
        serde_json::Value::Object(map) => {
            let t = lua.create_table()?;
            for (k, item) in map {
                t.raw_set(lua.create_string(k)?, to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
    })
}
