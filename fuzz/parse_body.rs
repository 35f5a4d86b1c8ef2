// The body of the `parse` fuzz target, shared with `tests/parser_fuzz_smoke.rs` through
// `include!` so stable CI runs the same checks over deterministic inputs.
//
// Turns arbitrary bytes into an argument vector for one line of the command table (a command
// or a container's subcommand, picked by the first byte), then checks, for the dispatcher's
// path (`resolve`: lookup, subcommand, arity, then the parser) and for the parser called
// directly whatever the arity: no panic, and every error a Redis-style text that starts with
// an upper-case code (`ERR ...`, `NOPROTO ...`). CL.THROTTLE keeps redis-cell's texts
// (`Cell error: ...`), the one documented exception.

use tollgate::commands::{resolve, CmdError, Spec, COMMANDS};

/// Every line of the table, subcommands included, in table order.
pub fn specs() -> Vec<&'static Spec> {
    COMMANDS
        .iter()
        .flat_map(|s| std::iter::once(s).chain(s.subcommands.iter()))
        .collect()
}

/// Arguments that steer parsers into their branches: every keyword some command takes,
/// numbers at the edges of i32/i64/u64, durations, and awkward bytes.
#[rustfmt::skip]
pub const TOKENS: &[&[u8]] = &[
    b"NX", b"XX", b"GT", b"LT", b"EX", b"PX", b"EXAT", b"PXAT", b"KEEPTTL", b"GET",
    b"PERSIST", b"COUNT", b"MATCH", b"TYPE", b"DB", b"REPLACE", b"POLICY", b"BURST", b"COST",
    b"ALGO", b"PEEK", b"ID", b"AUTH", b"SETNAME", b"LIB-NAME", b"LIB-VER", b"ADDR", b"LADDR",
    b"SKIPME", b"YES", b"NO", b"MAXAGE", b"USER", b"default", b"NORMAL", b"pubsub", b"master",
    b"FILTERBY", b"ACLCAT", b"PATTERN", b"MODULE", b"SYNC", b"ASYNC", b"NOSAVE", b"SAVE",
    b"NOW", b"FORCE", b"ABORT", b"gcra", b"token-bucket", b"sliding-window", b"fixed-window",
    b"WITHVALUES", b"NOVALUES",
    b"string", b"0", b"1", b"-1", b"2", b"3", b"16", b"+1", b"01", b"2147483647",
    b"2147483648", b"-2147483649", b"9223372036854775", b"9223372036854775807",
    b"9223372036854775808", b"-9223372036854775808", b"18446744073709551615",
    b"18446744073709551616", b"1.5", b"inf", b"nan", b"1ms", b"10m", b"1d", b"0ms",
    b"9223372036854775807ms", b"106751991167301d", b"", b" ", b"\0", b"a b", b"k", b"*",
    b"\r\n", b"\xff\xfe", b"get", b"set",
    b"LEASE", b"WAIT", b"TTL", b"PLAN", b"TOKENS", b"content", b"system", b"freemium",
    b"0.0036", b"-0.5", b"1e9", b"1000000001",
];

/// An argv from fuzz bytes: byte 0 picks the table line (its name, or container and
/// subcommand names, in a case byte 1 scrambles); each later byte is a token, a small
/// number in decimal (the bytes after the tokens, up to 0xBF), or (from 0xC0) a raw
/// argument of up to 31 bytes that follow it. At most 40 arguments.
pub fn argv_from(data: &[u8]) -> (&'static Spec, Vec<Vec<u8>>) {
    let all = specs();
    let spec = all[usize::from(data.first().copied().unwrap_or(0)) % all.len()];
    let case = data.get(1).copied().unwrap_or(0);
    let mut argv: Vec<Vec<u8>> = spec
        .name
        .split('|')
        .enumerate()
        .map(|(i, part)| {
            part.bytes()
                .enumerate()
                .map(|(j, b)| {
                    if (case >> ((i + j) % 8)) & 1 == 1 {
                        b.to_ascii_uppercase()
                    } else {
                        b
                    }
                })
                .collect()
        })
        .collect();
    let mut rest = data.get(2..).unwrap_or_default();
    while let Some((&b, tail)) = rest.split_first() {
        if argv.len() >= 40 {
            break;
        }
        rest = tail;
        if usize::from(b) < TOKENS.len() {
            argv.push(TOKENS[usize::from(b)].to_vec());
        } else if b >= 0xC0 {
            let n = usize::from(b & 0x1F).min(rest.len());
            argv.push(rest[..n].to_vec());
            rest = &rest[n..];
        } else {
            argv.push((usize::from(b) - TOKENS.len()).to_string().into_bytes());
        }
    }
    (spec, argv)
}

/// Whether an error reply reads as Redis's do: a code in upper case, a space, a message.
pub fn check_error(spec: &Spec, e: &CmdError) {
    let text = e.to_string();
    if spec.name == "cl.throttle" && text.starts_with("Cell error: ") {
        return;
    }
    let code = text.split(' ').next().unwrap_or_default();
    assert!(
        !code.is_empty()
            && text.len() > code.len() + 1
            && code.bytes().all(|b| b.is_ascii_uppercase()),
        "{}: error without an upper-case code: {text:?}",
        spec.name
    );
}

/// Parses one argv as the dispatcher would and as a direct call would.
pub fn check_args(spec: &'static Spec, argv: &[Vec<u8>]) {
    let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    match resolve(&args) {
        Ok(found) => {
            if let Err(e) = (found.parse)(&args) {
                check_error(found, &e);
            }
        }
        Err(e) => check_error(spec, &e),
    }
    if let Err(e) = (spec.parse)(&args) {
        check_error(spec, &e);
    }
}

pub fn check_parse(data: &[u8]) {
    let (spec, argv) = argv_from(data);
    check_args(spec, &argv);
}
