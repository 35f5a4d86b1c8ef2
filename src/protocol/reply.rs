//! Reply encoding into a connection's output buffer, in RESP2 or RESP3.
//!
//! Commands write straight into the buffer; the shapes that differ between the two protocol
//! versions (null, map, set, double, boolean, verbatim text) are decided here and nowhere else.

/// The output buffer of one connection, and the protocol version its client asked for.
#[derive(Debug, Default)]
pub struct Out {
    pub buf: Vec<u8>,
    pub resp3: bool,
}

impl Out {
    pub fn new(resp3: bool) -> Self {
        Out {
            buf: Vec::with_capacity(16 * 1024),
            resp3,
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn line(&mut self, prefix: u8, n: i64) {
        self.buf.push(prefix);
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A status reply; `s` must not contain CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply. `msg` starts with its code (`ERR ...`, `WRONGTYPE ...`). Newlines are
    /// replaced by spaces, as Redis does, so a reply can never break the framing.
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        self.buf.extend(
            msg.bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.line(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.line(b'$', data.len() as i64);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An integer sent as a bulk string (e.g. `INCRBYFLOAT`, `CONFIG GET`).
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// The null reply: `_` in RESP3, the null bulk `$-1` in RESP2.
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// The null reply where Redis uses a null array in RESP2 (`*-1`), e.g. an aborted EXEC.
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    /// A RESP3 push of `n` items (Pub/Sub messages and confirmations).
    pub fn push(&mut self, n: usize) {
        self.line(b'>', n as i64);
    }

    pub fn array(&mut self, n: usize) {
        self.line(b'*', n as i64);
    }

    /// A map of `n` pairs: `%n` in RESP3, a flat array of `2n` items in RESP2.
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.line(b'%', n as i64);
        } else {
            self.line(b'*', 2 * n as i64);
        }
    }

    /// A set of `n` items: `~n` in RESP3, an array in RESP2.
    pub fn set(&mut self, n: usize) {
        self.line(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// A double: `,` in RESP3, a bulk string in RESP2, formatted as Redis's `%.17g`.
    pub fn double(&mut self, d: f64) {
        self.double_text(&format_double(d));
    }

    /// A double already formatted: `,` in RESP3, a bulk string in RESP2.
    fn double_text(&mut self, s: &str) {
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A double of tollgate's own replies: the shortest text that reads back as the same
    /// number (`0.04`, not `%.17g`'s `0.040000000000000001`), `,` in RESP3, a bulk in RESP2.
    pub fn double_short(&mut self, d: f64) {
        let s = if d.is_finite() {
            d.to_string()
        } else {
            format_double(d)
        };
        self.double_text(&s);
    }

    /// Text for humans (INFO, CLIENT LIST): a verbatim string in RESP3, a bulk in RESP2.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.line(b'=', text.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}

/// Formats a double the way Redis replies it (`%.17g`, with `inf`/`-inf`/`nan`).
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    format_g17(d)
}

/// C's `%.17g`: 17 significant digits, exponent form outside [1e-4, 1e17), trailing zeros
/// removed.
pub fn format_g17(d: f64) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{:.16e}", d); // d.ddddddddddddddddde±x
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..17).contains(&exp) {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    let decimals = (16 - exp).max(0) as usize;
    let fixed = format!("{:.*}", decimals, d);
    trim_zeros(&fixed).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}
