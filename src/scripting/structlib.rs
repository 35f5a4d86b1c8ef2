//! The `struct` library Redis 7.0 gives scripts (Roberto Ierusalimschy's lua_struct, as
//! Redis bundles it): `pack`, `unpack` and `size` of binary records described by a format
//! string. Behaviour follows that C code on a 64-bit little-endian machine, where it is
//! defined (its `long` is 64 bits: integers wider than 8 bytes keep 8 significant ones),
//! with its error texts.
//!
//! Formats: `>` `<` byte order, `![n]` alignment, `x` padding, `b/B h/H l/L T i[n]/I[n]`
//! integers, `c[n]` chars (`c0`: the whole string / the previous number), `s` a
//! zero-terminated string, `f` `d` floats, spaces ignored.

use super::lua_error_at;
use mlua::{Lua, Table, Value, Variadic};

/// Widest integer, in bytes.
const MAXINTSIZE: usize = 32;
/// `!` without a number: the alignment of a double.
const MAXALIGN: usize = 8;

/// Byte order and alignment, as the format sets them.
struct Header {
    little: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            little: true,
            align: 1,
        }
    }
}

/// A format being read: its bytes up to the first NUL (the C code reads a C string).
struct Fmt<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Fmt<'_> {
    fn next(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    /// The number after an option, or `default`.
    fn num(&mut self, lua: &Lua, default: usize) -> mlua::Result<usize> {
        if !self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut a: usize = 0;
        while let Some(d) = self.bytes.get(self.at).filter(|b| b.is_ascii_digit()) {
            let d = usize::from(d - b'0');
            let max = i32::MAX as usize;
            if a > max / 10 || a * 10 > max - d {
                return lua_error_at(lua, "integral size overflow");
            }
            a = a * 10 + d;
            self.at += 1;
        }
        Ok(a)
    }
}

/// The size of option `opt` (reading its number), 0 for options without one.
fn optsize(lua: &Lua, opt: u8, fmt: &mut Fmt) -> mlua::Result<usize> {
    Ok(match opt {
        b'B' | b'b' | b'x' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'c' => fmt.num(lua, 1)?,
        b'i' | b'I' => {
            let sz = fmt.num(lua, 4)?;
            if sz > MAXINTSIZE {
                return lua_error_at(
                    lua,
                    &format!("integral size {sz} is larger than limit of {MAXINTSIZE}"),
                );
            }
            sz
        }
        _ => 0,
    })
}

/// Padding before an item of `size` at `len` (the C arithmetic, sizes not powers of two
/// included).
fn toalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    size.wrapping_sub(len & size.wrapping_sub(1)) & size.wrapping_sub(1)
}

/// `luaL_argerror`'s text, at the script's position.
fn arg_error<T>(lua: &Lua, n: usize, func: &str, msg: &str) -> mlua::Result<T> {
    lua_error_at(lua, &format!("bad argument #{n} to '{func}' ({msg})"))
}

/// `>`, `<`, `!n`, ` `; anything else is an invalid option.
fn control(lua: &Lua, opt: u8, fmt: &mut Fmt, h: &mut Header, func: &str) -> mlua::Result<()> {
    match opt {
        b' ' => {}
        b'>' => h.little = false,
        b'<' => h.little = true,
        b'!' => {
            let a = fmt.num(lua, MAXALIGN)?;
            if !a.is_power_of_two() {
                return lua_error_at(lua, &format!("alignment {a} is not a power of 2"));
            }
            h.align = a;
        }
        other => {
            let c = char::from(other);
            return arg_error(lua, 1, func, &format!("invalid format option '{c}'"));
        }
    }
    Ok(())
}

/// Argument `i` (1-based) as `luaL_checklstring` takes it: strings, and numbers as text.
fn check_string(lua: &Lua, args: &[Value], i: usize, func: &str) -> mlua::Result<Vec<u8>> {
    let v = args.get(i - 1).cloned().unwrap_or(Value::Nil);
    let got = if args.len() < i {
        "no value"
    } else {
        v.type_name()
    };
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Integer(_) | Value::Number(_) => match lua.coerce_string(v)? {
            Some(s) => Ok(s.as_bytes().to_vec()),
            None => arg_error(lua, i, func, "string expected, got number"),
        },
        _ => arg_error(lua, i, func, &format!("string expected, got {got}")),
    }
}

/// Argument `i` (1-based) as `luaL_checknumber` takes it: numbers, and numeric strings.
fn check_number(lua: &Lua, args: &[Value], i: usize, func: &str) -> mlua::Result<f64> {
    let v = args.get(i - 1).cloned().unwrap_or(Value::Nil);
    let got = if args.len() < i {
        "no value"
    } else {
        v.type_name()
    };
    match lua.coerce_number(v)? {
        Some(n) => Ok(n),
        None => arg_error(lua, i, func, &format!("number expected, got {got}")),
    }
}

fn format_arg(lua: &Lua, args: &[Value], func: &str) -> mlua::Result<Vec<u8>> {
    let mut f = check_string(lua, args, 1, func)?;
    if let Some(nul) = f.iter().position(|&b| b == 0) {
        f.truncate(nul);
    }
    Ok(f)
}

fn pack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<mlua::String> {
    let bytes = format_arg(lua, &args, "pack")?;
    // The C code then pushes a nil after its arguments: a missing first value is "got nil".
    let mut args: Vec<Value> = args.into_iter().collect();
    args.push(Value::Nil);
    let mut fmt = Fmt {
        bytes: &bytes,
        at: 0,
    };
    let mut h = Header::default();
    let mut arg = 2;
    let mut out: Vec<u8> = Vec::new();
    while let Some(opt) = fmt.next() {
        let mut size = optsize(lua, opt, &mut fmt)?;
        let pad = toalign(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(lua, &args, arg, "pack")?;
                arg += 1;
                // As C converts: negative through the signed type (saturating here where C
                // is undefined).
                let mut value = if n < 0.0 { n as i64 as u64 } else { n as u64 };
                let mut buf = [0u8; MAXINTSIZE];
                for b in buf.iter_mut().take(size) {
                    *b = value as u8;
                    value = value.checked_shr(8).unwrap_or(0);
                }
                let buf = &mut buf[..size];
                if !h.little {
                    buf.reverse();
                }
                out.extend_from_slice(buf);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = check_number(lua, &args, arg, "pack")? as f32;
                arg += 1;
                out.extend_from_slice(&if h.little {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                });
            }
            b'd' => {
                let d = check_number(lua, &args, arg, "pack")?;
                arg += 1;
                out.extend_from_slice(&if h.little {
                    d.to_le_bytes()
                } else {
                    d.to_be_bytes()
                });
            }
            b'c' | b's' => {
                let s = check_string(lua, &args, arg, "pack")?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // The C code names the argument after this one.
                    return arg_error(lua, arg, "pack", "string too short");
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => control(lua, opt, &mut fmt, &mut h, "pack")?,
        }
    }
    lua.create_string(&out)
}

/// An integer of `size` bytes as the C code reads it into its 64-bit `long`.
fn get_integer(bytes: &[u8], little: bool, signed: bool) -> f64 {
    let mut l: u64 = 0;
    let mut push = |b: &u8| l = (l << 8) | u64::from(*b);
    if little {
        bytes.iter().rev().for_each(&mut push);
    } else {
        bytes.iter().for_each(&mut push);
    }
    if !signed {
        return l as f64;
    }
    // x86 masks the shift count: a 16-byte integer's sign bit is bit 63.
    let shift = (bytes.len() * 8).wrapping_sub(1) & 63;
    let mask = u64::MAX << shift;
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn unpack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<Variadic<Value>> {
    let bytes = format_arg(lua, &args, "unpack")?;
    let data = check_string(lua, &args, 2, "unpack")?;
    let ld = data.len();
    // `luaL_optinteger`: absent or nil is 1; a size_t in C, so a negative one is huge.
    let pos = match args.get(2) {
        None | Some(Value::Nil) => 1,
        Some(_) => check_number(lua, &args, 3, "unpack")? as i64 as u64 as usize,
    };
    if pos == 0 {
        return arg_error(lua, 3, "unpack", "offset must be 1 or greater");
    }
    let mut pos = pos - 1;
    let mut fmt = Fmt {
        bytes: &bytes,
        at: 0,
    };
    let mut h = Header::default();
    let mut out: Vec<Value> = Vec::new();
    let too_short = |pos: usize, size: usize| !(size <= ld && pos <= ld - size);
    while let Some(opt) = fmt.next() {
        let mut size = optsize(lua, opt, &mut fmt)?;
        pos = pos.wrapping_add(toalign(pos, &h, opt, size));
        if too_short(pos, size) {
            return arg_error(lua, 2, "unpack", "data string too short");
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                out.push(Value::Number(get_integer(
                    &data[pos..pos + size],
                    h.little,
                    signed,
                )));
            }
            b'x' => {}
            b'f' => {
                let mut b = [0u8; 4];
                b.copy_from_slice(&data[pos..pos + 4]);
                let f = if h.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                out.push(Value::Number(f64::from(f)));
            }
            b'd' => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&data[pos..pos + 8]);
                let d = if h.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                out.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    let prev = match out.last() {
                        Some(v) => lua.coerce_number(v.clone())?,
                        None => None,
                    };
                    let Some(n) = prev else {
                        return lua_error_at(lua, "format 'c0' needs a previous size");
                    };
                    size = n as i64 as u64 as usize;
                    out.pop();
                    if too_short(pos, size) {
                        return arg_error(lua, 2, "unpack", "data string too short");
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&b| b == 0) else {
                    return lua_error_at(lua, "unfinished string in data");
                };
                out.push(Value::String(lua.create_string(&data[pos..pos + len])?));
                size = len + 1;
            }
            _ => control(lua, opt, &mut fmt, &mut h, "unpack")?,
        }
        pos = pos.wrapping_add(size);
    }
    out.push(Value::Number(pos.wrapping_add(1) as i64 as f64));
    Ok(Variadic::from_iter(out))
}

fn size(lua: &Lua, args: Variadic<Value>) -> mlua::Result<f64> {
    let bytes = format_arg(lua, &args, "size")?;
    let mut fmt = Fmt {
        bytes: &bytes,
        at: 0,
    };
    let mut h = Header::default();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next() {
        let size = optsize(lua, opt, &mut fmt)?;
        pos = pos.wrapping_add(toalign(pos, &h, opt, size));
        if opt == b's' {
            return arg_error(lua, 1, "size", "option 's' has no fixed size");
        }
        if opt == b'c' && size == 0 {
            return arg_error(lua, 1, "size", "option 'c0' has no fixed size");
        }
        // Letters and digits are sizes (unknown ones count 0); the rest are controls.
        if !opt.is_ascii_alphanumeric() {
            control(lua, opt, &mut fmt, &mut h, "size")?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(pos as f64)
}

/// The `struct` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set("unpack", lua.create_function(unpack)?)?;
    t.raw_set("size", lua.create_function(size)?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_as_the_c_code_reads_them() {
        assert_eq!(get_integer(&[0xff, 0xff], true, true), -1.0);
        assert_eq!(get_integer(&[0xff, 0xff], true, false), 65535.0);
        assert_eq!(get_integer(&[0x01, 0x00], false, true), 256.0);
        assert_eq!(get_integer(&[0x80, 0, 0, 0], false, true), -2_147_483_648.0);
    }

    #[test]
    fn alignment_as_the_c_code_computes_it() {
        let h = Header {
            little: true,
            align: 8,
        };
        assert_eq!(toalign(1, &h, b'i', 4), 3);
        assert_eq!(toalign(1, &h, b'd', 8), 7);
        assert_eq!(toalign(3, &h, b'c', 8), 0);
        assert_eq!(toalign(3, &Header::default(), b'i', 4), 0);
    }
}
