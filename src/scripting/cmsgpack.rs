//! The `cmsgpack` library Redis 7.0 gives scripts (lua-cmsgpack 0.4.0): `pack`, `unpack`,
//! `unpack_one`, `unpack_limit`. Encodings, the choice between array and map, the nesting
//! limit (a table 16 deep packs as nil) and the errors are that C library's, on a 64-bit
//! machine with Lua 5.1 (every number a double).

use super::{lua_error_at, LuaError};
use mlua::{Lua, Table, Value, Variadic};

/// Tables nested deeper pack as nil (the C library's guard against cycles).
const MAX_NESTING: usize = 16;
/// Nesting the decoder follows before calling the input malformed (the C library recurses
/// without a bound, on the C stack).
const MAX_DECODE_DEPTH: usize = 1000;

fn put_uint(out: &mut Vec<u8>, tag: u8, n: u64, bytes: usize) {
    out.push(tag);
    out.extend_from_slice(&n.to_be_bytes()[8 - bytes..]);
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        let u = n as u64;
        match u {
            0..=127 => out.push(u as u8),
            128..=0xff => put_uint(out, 0xcc, u, 1),
            0x100..=0xffff => put_uint(out, 0xcd, u, 2),
            0x1_0000..=0xffff_ffff => put_uint(out, 0xce, u, 4),
            _ => put_uint(out, 0xcf, u, 8),
        }
    } else {
        let u = n as u64;
        match n {
            -32..=-1 => out.push(n as u8),
            -128..=-33 => put_uint(out, 0xd0, u, 1),
            -32768..=-129 => put_uint(out, 0xd1, u, 2),
            -2_147_483_648..=-32769 => put_uint(out, 0xd2, u, 4),
            _ => put_uint(out, 0xd3, u, 8),
        }
    }
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    // The C test `(int64_t)n == n`: what converts back exactly is an integer.
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        let i = n as i64;
        if i as f64 == n {
            return encode_int(out, i);
        }
    }
    let f = n as f32;
    if f64::from(f) == n {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_header(out: &mut Vec<u8>, n: usize, fix: u8, fix_max: usize, tag16: u8) {
    if n <= fix_max {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        put_uint(out, tag16, n as u64, 2);
    } else {
        put_uint(out, tag16 + 1, n as u64, 4);
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= 0xff {
        put_uint(out, 0xd9, n as u64, 1);
    } else if n <= 0xffff {
        put_uint(out, 0xda, n as u64, 2);
    } else {
        // Lengths past 32 bits keep their low 32, as the C code writes them.
        put_uint(out, 0xdb, n as u64 & 0xffff_ffff, 4);
    }
    out.extend_from_slice(s);
}

/// Whether the table's keys are exactly 1..=N (numbers that are whole C `int`s).
fn is_array(t: &Table) -> mlua::Result<bool> {
    let (mut count, mut max) = (0i64, 0i64);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(false),
        };
        if n <= 0.0 || n > f64::from(i32::MAX) || n.fract() != 0.0 {
            return Ok(false);
        }
        max = max.max(n as i64);
        count += 1;
    }
    Ok(max == count)
}

fn encode(out: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    match v {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_number(out, *i as f64),
        Value::Number(n) => encode_number(out, *n),
        Value::Table(t) if level < MAX_NESTING => {
            if is_array(t)? {
                let len = t.raw_len();
                encode_header(out, len, 0x90, 15, 0xdc);
                for j in 1..=len {
                    encode(out, &t.get::<Value>(j)?, level + 1)?;
                }
            } else {
                let len = t.clone().pairs::<Value, Value>().count();
                encode_header(out, len, 0x80, 15, 0xde);
                for pair in t.clone().pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    encode(out, &k, level + 1)?;
                    encode(out, &v, level + 1)?;
                }
            }
        }
        // nil, functions, userdata, threads, and tables too deep.
        _ => out.push(0xc0),
    }
    Ok(())
}

fn pack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<mlua::String> {
    if args.is_empty() {
        return lua_error_at(
            lua,
            "bad argument #0 to 'pack' (MessagePack pack needs input.)",
        );
    }
    let mut out = Vec::new();
    for a in args.iter() {
        encode(&mut out, a, 0)?;
    }
    lua.create_string(&out)
}

/// Why decoding stopped.
enum Stop {
    Eof,
    BadFormat,
    Lua(mlua::Error),
}

impl From<mlua::Error> for Stop {
    fn from(e: mlua::Error) -> Self {
        Stop::Lua(e)
    }
}

struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Stop> {
        let end = self.at.checked_add(n).ok_or(Stop::Eof)?;
        let s = self.data.get(self.at..end).ok_or(Stop::Eof)?;
        self.at = end;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> Result<u64, Stop> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn left(&self) -> usize {
        self.data.len() - self.at
    }
}

fn decode(lua: &Lua, c: &mut Cursor, depth: usize) -> Result<Value, Stop> {
    if depth > MAX_DECODE_DEPTH {
        return Err(Stop::BadFormat);
    }
    let tag = c.take(1)?[0];
    let num = |n: f64| Ok(Value::Number(n));
    match tag {
        0x00..=0x7f => num(f64::from(tag)),
        0xe0..=0xff => num(f64::from(tag as i8)),
        0xcc => num(c.uint(1)? as f64),
        0xcd => num(c.uint(2)? as f64),
        0xce => num(c.uint(4)? as f64),
        // Through the signed `lua_Integer`, as the C code pushes it.
        0xcf => num(c.uint(8)? as i64 as f64),
        0xd0 => num(f64::from(c.uint(1)? as u8 as i8)),
        0xd1 => num(f64::from(c.uint(2)? as u16 as i16)),
        0xd2 => num(f64::from(c.uint(4)? as u32 as i32)),
        0xd3 => num(c.uint(8)? as i64 as f64),
        0xc0 => Ok(Value::Nil),
        0xc2 => Ok(Value::Boolean(false)),
        0xc3 => Ok(Value::Boolean(true)),
        0xca => num(f64::from(f32::from_bits(c.uint(4)? as u32))),
        0xcb => num(f64::from_bits(c.uint(8)?)),
        0xa0..=0xbf => string(lua, c, usize::from(tag & 0x1f)),
        0xd9 => {
            let n = c.uint(1)? as usize;
            string(lua, c, n)
        }
        0xda => {
            let n = c.uint(2)? as usize;
            string(lua, c, n)
        }
        0xdb => {
            let n = c.uint(4)? as usize;
            string(lua, c, n)
        }
        0x90..=0x9f => array(lua, c, usize::from(tag & 0xf), depth),
        0xdc => {
            let n = c.uint(2)? as usize;
            array(lua, c, n, depth)
        }
        0xdd => {
            let n = c.uint(4)? as usize;
            array(lua, c, n, depth)
        }
        0x80..=0x8f => map(lua, c, usize::from(tag & 0xf), depth),
        0xde => {
            let n = c.uint(2)? as usize;
            map(lua, c, n, depth)
        }
        0xdf => {
            let n = c.uint(4)? as usize;
            map(lua, c, n, depth)
        }
        _ => Err(Stop::BadFormat),
    }
}

fn string(lua: &Lua, c: &mut Cursor, n: usize) -> Result<Value, Stop> {
    Ok(Value::String(lua.create_string(c.take(n)?)?))
}

fn array(lua: &Lua, c: &mut Cursor, n: usize, depth: usize) -> Result<Value, Stop> {
    // Not sized by the header: it may claim more than the input holds.
    let t = lua.create_table()?;
    for i in 1..=n {
        let v = decode(lua, c, depth + 1)?;
        t.raw_set(i, v)?;
    }
    Ok(Value::Table(t))
}

fn map(lua: &Lua, c: &mut Cursor, n: usize, depth: usize) -> Result<Value, Stop> {
    let t = lua.create_table()?;
    for _ in 0..n {
        let k = decode(lua, c, depth + 1)?;
        let v = decode(lua, c, depth + 1)?;
        let bad = match &k {
            Value::Nil => Some("table index is nil"),
            Value::Number(n) if n.is_nan() => Some("table index is NaN"),
            _ => None,
        };
        if let Some(msg) = bad {
            // Lua's own error from the C function's `lua_settable`: no position.
            return Err(Stop::Lua(mlua::Error::external(LuaError(msg.into()))));
        }
        t.raw_set(k, v)?;
    }
    Ok(Value::Table(t))
}

/// `luaL_optinteger`/`luaL_checkinteger` for argument `i` (1-based) of `func`.
fn integer_arg(
    lua: &Lua,
    args: &[Value],
    i: usize,
    func: &str,
    default: Option<i64>,
) -> mlua::Result<i64> {
    let v = args.get(i - 1).cloned().unwrap_or(Value::Nil);
    if let (Value::Nil, Some(d)) = (&v, default) {
        return Ok(d);
    }
    let got = if args.len() < i {
        "no value"
    } else {
        v.type_name()
    };
    match lua.coerce_number(v)? {
        Some(n) => Ok(n as i64),
        None => lua_error_at(
            lua,
            &format!("bad argument #{i} to '{func}' (number expected, got {got})"),
        ),
    }
}

/// The C library's `mp_unpack_full`: values from `offset`, at most `limit` of them (0 and 0:
/// all, and no offset returned); else the next offset first (-1 at the end).
fn unpack_full(
    lua: &Lua,
    args: &[Value],
    func: &str,
    limit: i64,
    offset: i64,
) -> mlua::Result<Variadic<Value>> {
    let data = match args.first() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        Some(v @ (Value::Integer(_) | Value::Number(_))) => lua
            .coerce_string(v.clone())?
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default(),
        other => {
            let got = other.map_or("no value", Value::type_name);
            return lua_error_at(
                lua,
                &format!("bad argument #1 to '{func}' (string expected, got {got})"),
            );
        }
    };
    let len = data.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        // The C text prints the input's length where it says limit.
        return lua_error_at(
            lua,
            &format!(
                "Invalid request to unpack with offset of {} and limit of {}.",
                offset as i32, len as i32
            ),
        );
    }
    if offset as u64 > len as u64 {
        return lua_error_at(
            lua,
            &format!(
                "Start offset {} greater than input length {}.",
                offset as i32, len as i32
            ),
        );
    }
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut c = Cursor {
        data: &data,
        at: offset as usize,
    };
    let mut out: Vec<Value> = Vec::new();
    let mut count = 0;
    while c.left() > 0 && count < limit {
        match decode(lua, &mut c, 0) {
            Ok(v) => out.push(v),
            Err(Stop::Eof) => return lua_error_at(lua, "Missing bytes in input."),
            Err(Stop::BadFormat) => return lua_error_at(lua, "Bad data format in input."),
            Err(Stop::Lua(e)) => return Err(e),
        }
        count += 1;
    }
    if !decode_all {
        let next = if c.left() == 0 { -1 } else { c.at as i64 };
        out.insert(0, Value::Number(next as f64));
    }
    Ok(Variadic::from_iter(out))
}

/// The `cmsgpack` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, args: Variadic<Value>| unpack_full(lua, &args, "unpack", 0, 0))?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, args: Variadic<Value>| {
            let offset = integer_arg(lua, &args, 2, "unpack_one", Some(0))?;
            unpack_full(lua, &args, "unpack_one", 1, offset)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(|lua, args: Variadic<Value>| {
            let limit = integer_arg(lua, &args, 2, "unpack_limit", None)?;
            let offset = integer_arg(lua, &args, 3, "unpack_limit", Some(0))?;
            unpack_full(lua, &args, "unpack_limit", limit, offset)
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(n: i64) -> Vec<u8> {
        let mut v = Vec::new();
        encode_int(&mut v, n);
        v
    }

    #[test]
    fn integers_take_the_smallest_form() {
        assert_eq!(int(5), [5]);
        assert_eq!(int(200), [0xcc, 200]);
        assert_eq!(int(-1), [0xff]);
        assert_eq!(int(-33), [0xd0, 0xdf]);
        assert_eq!(int(70000), [0xce, 0, 1, 0x11, 0x70]);
        assert_eq!(int(i64::MIN)[0], 0xd3);
    }

    #[test]
    fn numbers_as_float_when_exact() {
        let mut v = Vec::new();
        encode_number(&mut v, 1.5);
        assert_eq!(v, [0xca, 0x3f, 0xc0, 0, 0]);
        v.clear();
        encode_number(&mut v, 0.1);
        assert_eq!(v[0], 0xcb);
    }
}
