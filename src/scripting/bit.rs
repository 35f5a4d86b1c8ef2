//! The `bit` library Redis 7.0 gives scripts (Lua BitOp 1.0): 32-bit operations on numbers,
//! results as signed 32-bit integers, arguments normalized as BitOp does (rounded, modulo 2^32).

use super::lua_error_at;
use mlua::{Lua, Table, Value, Variadic};

/// BitOp's `tobit`: the number rounded to an integer, modulo 2^32, as a signed 32-bit value
/// (adding 2^52 + 2^51 leaves that integer in the low bits of the double).
fn tobit(n: f64) -> i32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32 as i32
}

/// Argument `i` (0-based) of `name` as BitOp reads it, with Lua's argument error.
fn arg(lua: &Lua, args: &[Value], i: usize, name: &str) -> mlua::Result<i32> {
    let v = args.get(i).cloned().unwrap_or(Value::Nil);
    let got = if args.len() <= i {
        "no value"
    } else {
        v.type_name()
    };
    match lua.coerce_number(v)? {
        Some(n) => Ok(tobit(n)),
        None => lua_error_at(
            lua,
            &format!(
                "bad argument #{} to '{name}' (number expected, got {got})",
                i + 1
            ),
        ),
    }
}

type Unary = fn(i32) -> i32;
type Binary = fn(i32, i32) -> i32;
type Shift = fn(i32, u32) -> i32;

/// The `bit` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let unary: [(&'static str, Unary); 3] = [
        ("tobit", |x| x),
        ("bnot", |x| !x),
        ("bswap", |x| x.swap_bytes()),
    ];
    for (name, f) in unary {
        t.raw_set(
            name,
            lua.create_function(move |lua, args: Variadic<Value>| {
                Ok(f64::from(f(arg(lua, &args, 0, name)?)))
            })?,
        )?;
    }
    let folds: [(&'static str, Binary); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, f) in folds {
        t.raw_set(
            name,
            lua.create_function(move |lua, args: Variadic<Value>| {
                let mut acc = arg(lua, &args, 0, name)?;
                for i in 1..args.len() {
                    acc = f(acc, arg(lua, &args, i, name)?);
                }
                Ok(f64::from(acc))
            })?,
        )?;
    }
    let shifts: [(&'static str, Shift); 5] = [
        ("lshift", |x, n| ((x as u32) << n) as i32),
        ("rshift", |x, n| ((x as u32) >> n) as i32),
        ("arshift", |x, n| x >> n),
        ("rol", |x, n| (x as u32).rotate_left(n) as i32),
        ("ror", |x, n| (x as u32).rotate_right(n) as i32),
    ];
    for (name, f) in shifts {
        t.raw_set(
            name,
            lua.create_function(move |lua, args: Variadic<Value>| {
                let x = arg(lua, &args, 0, name)?;
                let n = arg(lua, &args, 1, name)? as u32 & 31;
                Ok(f64::from(f(x, n)))
            })?,
        )?;
    }
    t.raw_set(
        "tohex",
        lua.create_function(|lua, args: Variadic<Value>| {
            let x = arg(lua, &args, 0, "tohex")? as u32;
            let n = if args.len() > 1 {
                arg(lua, &args, 1, "tohex")?
            } else {
                8
            };
            let digits = n.unsigned_abs().min(8) as usize;
            let text = if n < 0 {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            lua.create_string(&text[8 - digits..])
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::tobit;

    #[test]
    fn tobit_rounds_and_wraps_as_bitop() {
        assert_eq!(tobit(5.0), 5);
        assert_eq!(tobit(4_294_967_301.0), 5);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2_147_483_648.0), i32::MIN);
        assert_eq!(tobit(1.7), 2);
    }
}
