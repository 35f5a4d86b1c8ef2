//! The request decoder: turns bytes from a client into argument lists, as Redis's
//! `processMultibulkBuffer` and `processInlineBuffer` do, with the same limits and error texts.
//!
//! Redis only accepts two request shapes from clients (arrays of bulk strings, and inline
//! lines), so this is a narrow state machine rather than a general RESP decoder: it keeps its
//! progress between reads, so a 500 MB argument arriving in 16 KB pieces is scanned once.

use std::ops::Range;

/// Largest inline request, and largest count line, Redis accepts (`PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX: usize = 64 * 1024;

/// Limits applied while decoding; they change with `CONFIG SET` and authentication.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bulk_len: i64,
    pub inline_max: usize,
    /// Most elements in one request (Redis: `INT_MAX`).
    pub max_multibulk_len: i64,
    /// Most elements, and largest bulk, while `unauthenticated` (Redis: 10 and 16384).
    pub unauth_max_multibulk: i64,
    pub unauth_max_bulk: i64,
    /// Whether the client has yet to AUTH, so that the `unauth_*` caps apply.
    pub unauthenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            inline_max: INLINE_MAX,
            max_multibulk_len: i32::MAX as i64,
            unauth_max_multibulk: 10,
            unauth_max_bulk: 16384,
            unauthenticated: false,
        }
    }
}

/// What one call to [`Decoder::decode`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A command whose arguments are `Decoder::args()`; it ends `consumed` bytes into the buffer.
    Command { consumed: usize },
    /// An empty request (blank inline line or `*0`): nothing to run.
    Empty { consumed: usize },
    /// More bytes are needed; `hint` is how many at least, when known (to size the buffer).
    Incomplete { hint: usize },
    /// A protocol error: reply `-ERR <text>` and close the connection after the reply.
    Error(String),
}

/// Incremental decoder state. Offsets are relative to the start of the request being decoded,
/// which the caller keeps at the front of the buffer it passes in.
#[derive(Debug, Default)]
pub struct Decoder {
    args: Vec<Range<usize>>,
    /// Bytes of the current request already decoded.
    pos: usize,
    /// Arguments still expected in the current multibulk request (0 = not inside one).
    pending: usize,
    /// Length of the bulk being waited for, once its `$` line has been read.
    bulk: Option<usize>,
    /// Unescaped inline arguments, and whether the last command came from an inline line.
    scratch: Vec<u8>,
    inline: bool,
}

impl Decoder {
    /// The arguments of the command last reported as [`Decoded::Command`], as ranges into the
    /// buffer that was passed to `decode`.
    pub fn args(&self) -> &[Range<usize>] {
        &self.args
    }

    /// Decodes the request at the start of `buf`. After `Command`/`Empty`, the caller drops
    /// `consumed` bytes (or moves its window) before calling again.
    pub fn decode(&mut self, buf: &[u8], limits: &Limits) -> Decoded {
        if self.pending == 0 && self.pos == 0 {
            self.args.clear();
            self.inline = false;
            match buf.first() {
                None => return Decoded::Incomplete { hint: 1 },
                Some(b'*') => {}
                Some(_) => return self.inline(buf, limits),
            }
            match self.multibulk_header(buf, limits) {
                Ok(Some(d)) => return d,
                Ok(None) => {}
                Err(e) => return Decoded::Error(e),
            }
        }
        self.multibulk_args(buf, limits)
    }

    fn finish(&mut self, decoded: Decoded) -> Decoded {
        self.pos = 0;
        self.pending = 0;
        self.bulk = None;
        decoded
    }

    /// Reads `*<count>\r\n`. `Ok(Some)` when the request is complete (empty) or incomplete.
    fn multibulk_header(&mut self, buf: &[u8], limits: &Limits) -> Result<Option<Decoded>, String> {
        let Some(cr) = strchr(b'\r', buf) else {
            if buf.len() > limits.inline_max {
                return Err("Protocol error: too big mbulk count string".into());
            }
            return Ok(Some(Decoded::Incomplete { hint: 1 }));
        };
        if cr + 1 >= buf.len() {
            return Ok(Some(Decoded::Incomplete { hint: 1 }));
        }
        let count = match parse_i64(&buf[1..cr]) {
            Some(n) if n <= limits.max_multibulk_len => n,
            _ => return Err("Protocol error: invalid multibulk length".into()),
        };
        if count > limits.unauth_max_multibulk && limits.unauthenticated {
            return Err("Protocol error: unauthenticated multibulk length".into());
        }
        let consumed = cr + 2;
        if count <= 0 {
            return Ok(Some(self.finish(Decoded::Empty { consumed })));
        }
        self.pos = consumed;
        self.pending = count as usize;
        // Reserve modestly: a hostile count must not allocate gigabytes up front.
        self.args.reserve(self.pending.min(1024));
        Ok(None)
    }

    fn multibulk_args(&mut self, buf: &[u8], limits: &Limits) -> Decoded {
        while self.pending > 0 {
            let len = match self.bulk {
                Some(len) => len,
                None => {
                    let rest = &buf[self.pos..];
                    let Some(cr) = strchr(b'\r', rest) else {
                        if rest.len() > limits.inline_max {
                            return self.fail("Protocol error: too big bulk count string".into());
                        }
                        return Decoded::Incomplete { hint: 1 };
                    };
                    if cr + 1 >= rest.len() {
                        return Decoded::Incomplete { hint: 1 };
                    }
                    if rest[0] != b'$' {
                        let got = char::from(rest[0]);
                        return self.fail(format!("Protocol error: expected '$', got '{got}'"));
                    }
                    let len = match parse_i64(&rest[1..cr]) {
                        Some(n) if n >= 0 && n <= limits.max_bulk_len => n as usize,
                        _ => return self.fail("Protocol error: invalid bulk length".into()),
                    };
                    if len as i64 > limits.unauth_max_bulk && limits.unauthenticated {
                        return self.fail("Protocol error: unauthenticated bulk length".into());
                    }
                    self.pos += cr + 2;
                    self.bulk = Some(len);
                    len
                }
            };
            // Like Redis, the two bytes after the payload are skipped without being checked.
            let need = self.pos + len + 2;
            if buf.len() < need {
                return Decoded::Incomplete {
                    hint: need - buf.len(),
                };
            }
            self.args.push(self.pos..self.pos + len);
            self.pos = need;
            self.bulk = None;
            self.pending -= 1;
        }
        let consumed = self.pos;
        self.finish(Decoded::Command { consumed })
    }

    fn fail(&mut self, msg: String) -> Decoded {
        self.finish(Decoded::Error(msg))
    }

    /// An inline request: one line split on spaces, with Redis's quoting rules. Quoted
    /// arguments may contain escapes, so inline arguments are unescaped into `scratch` and
    /// the ranges point there (see [`Decoder::base`]).
    fn inline(&mut self, buf: &[u8], limits: &Limits) -> Decoded {
        let Some(nl) = strchr(b'\n', buf) else {
            if buf.len() > limits.inline_max {
                return Decoded::Error("Protocol error: too big inline request".into());
            }
            return Decoded::Incomplete { hint: 1 };
        };
        let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        // Redis reads 16 KB at a time and refuses a line once more than `inline_max` is
        // buffered without its end; a longer line that arrives whole is refused here too,
        // whatever size the reads had.
        if line_end > limits.inline_max {
            return Decoded::Error("Protocol error: too big inline request".into());
        }
        self.scratch.clear();
        match split_args(&buf[..line_end], &mut self.scratch, &mut self.args) {
            Ok(()) if self.args.is_empty() => Decoded::Empty { consumed: nl + 1 },
            Ok(()) => {
                self.inline = true;
                Decoded::Command { consumed: nl + 1 }
            }
            Err(()) => Decoded::Error("Protocol error: unbalanced quotes in request".into()),
        }
    }

    /// The bytes the ranges of [`Decoder::args`] point into: the request buffer, or the
    /// decoder's own scratch space for an inline request.
    pub fn base<'a>(&'a self, buf: &'a [u8]) -> &'a [u8] {
        if self.inline {
            &self.scratch
        } else {
            buf
        }
    }
}

/// Finds the first `needle` byte as C's `strchr` does on Redis's NUL-terminated query
/// buffer: a NUL before it hides it, so Redis keeps waiting for the line (and then fails
/// with "too big ... request"); doing the same keeps our replies identical.
fn strchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter()
        .position(|&b| b == needle || b == 0)
        .filter(|&i| hay[i] == needle)
}

/// Redis's `string2ll`: optional `-`, digits, no leading zeros, no `+`, no spaces, fits i64.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    if digits == b"0" {
        return if neg { None } else { Some(0) };
    }
    if digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Splits an inline line the way `sdssplitargs` does: arguments are separated by blanks,
/// `"..."` takes `\\n`-style and `\\xHH` escapes, `'...'` takes `\\'`, and a closing quote
/// must be followed by a blank or the end of the line.
fn split_args(line: &[u8], scratch: &mut Vec<u8>, args: &mut Vec<Range<usize>>) -> Result<(), ()> {
    args.clear();
    let n = line.len();
    let mut i = 0;
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Ok(());
        }
        let start = scratch.len();
        let mut inq = false; // inside "double quotes"
        let mut insq = false; // inside 'single quotes'
        loop {
            if inq {
                if i >= n {
                    return Err(());
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    scratch.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    scratch.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return Err(());
                    }
                    i += 1;
                    break;
                } else {
                    scratch.push(c);
                }
            } else if insq {
                if i >= n {
                    return Err(());
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    scratch.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return Err(());
                    }
                    i += 1;
                    break;
                } else {
                    scratch.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => scratch.push(c),
                }
            }
            i += 1;
        }
        args.push(start..scratch.len());
    }
}

fn is_space(c: u8) -> bool {
    // C's isspace: space, \t, \n, \v, \f, \r.
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}
