//! Malformed requests: a table of bad frames with the exact replies Redis 7.0 gives, where
//! the connection is closed (or left waiting), and a check after every case that another
//! client on the same server is unharmed. The same table runs against `redis-server` to
//! confirm the expectations. Plus: an abandoned 600 MB bulk, and a 10,000-command pipeline
//! fed in 1..7-byte pieces.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{show, Raw, Tollgate};
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tollgate::protocol::{Decoded, Decoder, Limits};

/// What the connection does after the expected replies.
#[derive(Debug, Clone, Copy, PartialEq)]
enum After {
    /// Closed by the server (protocol error).
    Closed,
    /// Still serving: a following PING gets +PONG.
    Open,
    /// Waiting for the rest of a request: no reply, but still connected.
    Waiting,
}
use After::*;

struct Case {
    name: &'static str,
    send: Vec<u8>,
    reply: Vec<u8>,
    after: After,
}

fn case(name: &'static str, send: impl AsRef<[u8]>, reply: impl AsRef<[u8]>, after: After) -> Case {
    Case {
        name,
        send: send.as_ref().to_vec(),
        reply: reply.as_ref().to_vec(),
        after,
    }
}

fn err(text: &str) -> Vec<u8> {
    format!("-ERR Protocol error: {text}\r\n").into_bytes()
}

fn cases() -> Vec<Case> {
    let too_big_inline = [&b"ECHO a\x00b"[..], &[b'a'; 70 * 1024]].concat();
    // Redis reads 16 KB at a time and refuses an inline line once 64 KB are buffered without
    // its end, so a 100 KB line is refused even when it arrives whole with its newline.
    let long_inline_line = [&b"PING "[..], &[b'x'; 100 * 1024], b"\r\n"].concat();
    vec![
        // Multibulk counts.
        case("count not a number", "*abc\r\n", err("invalid multibulk length"), Closed),
        case("count with a plus sign", "*+1\r\n", err("invalid multibulk length"), Closed),
        case("count with a leading zero", "*01\r\n", err("invalid multibulk length"), Closed),
        case("count with a space", "* 1\r\n", err("invalid multibulk length"), Closed),
        case("count 2^31", "*2147483648\r\n", err("invalid multibulk length"), Closed),
        case("count beyond i64", "*99999999999999999999\r\n", err("invalid multibulk length"), Closed),
        case("count i32::MAX then nothing", "*2147483647\r\n", "", Waiting),
        case("count 1048577 then nothing", "*1048577\r\n", "", Waiting),
        case("count 1048577, one bulk, then nothing", "*1048577\r\n$4\r\nPING\r\n", "", Waiting),
        case("*0 is skipped", "*0\r\nPING\r\n", "+PONG\r\n", Open),
        case("*-1 is skipped", "*-1\r\nPING\r\n", "+PONG\r\n", Open),
        case("*-5 is skipped", "*-5\r\nPING\r\n", "+PONG\r\n", Open),
        case("LF-only count line waits for CR", "*1\n$4\nPING\n", "", Waiting),
        // `$` expected.
        case("$ expected, got +", "*1\r\n+PING\r\n", err("expected '$', got '+'"), Closed),
        case("$ expected, got :", "*2\r\n$3\r\nGET\r\n:1\r\n", err("expected '$', got ':'"), Closed),
        case("$ expected, got a space", "*1\r\n PING\r\n", err("expected '$', got ' '"), Closed),
        case("$ expected, got *", "*1\r\n*1\r\n", err("expected '$', got '*'"), Closed),
        // Bulk lengths.
        case("negative bulk length -1", "*1\r\n$-1\r\n", err("invalid bulk length"), Closed),
        case("negative bulk length -5", "*1\r\n$-5\r\n", err("invalid bulk length"), Closed),
        case("bulk length not a number", "*1\r\n$x\r\n", err("invalid bulk length"), Closed),
        case("bulk length with a plus sign", "*1\r\n$+4\r\nPING\r\n", err("invalid bulk length"), Closed),
        case("bulk length empty", "*1\r\n$\r\n", err("invalid bulk length"), Closed),
        case("bulk length over proto-max-bulk-len", "*1\r\n$536870913\r\n", err("invalid bulk length"), Closed),
        case("bulk length beyond i64", "*1\r\n$99999999999999999999\r\n", err("invalid bulk length"), Closed),
        case("bulk length 1 MB then nothing", "*1\r\n$1048576\r\n", "", Waiting),
        case("bulk shorter than declared data waits", "*1\r\n$5\r\nPING\r\n", "", Waiting),
        // The two bytes after a bulk are skipped unchecked, as Redis does.
        case("bulk whose CRLF is missing", "*1\r\n$4\r\nPINGxx", "+PONG\r\n", Open),
        case(
            "bulk whose CRLF is missing, next command glued on",
            "*2\r\n$4\r\nECHO\r\n$2\r\nhiXY*1\r\n$4\r\nPING\r\n",
            "$2\r\nhi\r\n+PONG\r\n",
            Open,
        ),
        case("bulk and CRLF not yet complete", "*1\r\n$4\r\nPING", "", Waiting),
        case(
            "bulk longer than its declared length",
            "*1\r\n$3\r\nPING\r\n",
            "-ERR unknown command 'PIN', with args beginning with: \r\n",
            Open,
        ),
        // Zero-length bulks.
        case("0-length argument", "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", "$0\r\n\r\n", Open),
        case(
            "0-length command name",
            "*1\r\n$0\r\n\r\n",
            "-ERR unknown command '', with args beginning with: \r\n",
            Open,
        ),
        case(
            "0-length key and value",
            "*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n*2\r\n$3\r\nGET\r\n$0\r\n\r\n*2\r\n$3\r\nDEL\r\n$0\r\n\r\n",
            "+OK\r\n$0\r\n\r\n:1\r\n",
            Open,
        ),
        // NUL bytes.
        case(
            "NUL bytes inside bulk strings",
            "*3\r\n$3\r\nSET\r\n$3\r\nn\x00l\r\n$3\r\nv\x00v\r\n*2\r\n$3\r\nGET\r\n$3\r\nn\x00l\r\n*2\r\n$3\r\nDEL\r\n$3\r\nn\x00l\r\n",
            "+OK\r\n$3\r\nv\x00v\r\n:1\r\n",
            Open,
        ),
        case("NUL in a bulk length line hides its CR", "*1\r\n$4\x00\r\nPING\r\n", "", Waiting),
        case("NUL in a count line hides its CR", "*1\x00\r\n$4\r\nPING\r\n", "", Waiting),
        case("NUL inside an inline line hides its LF", "ECHO a\x00b\r\n", "", Waiting),
        case("NUL first on an inline line", "\x00PING\r\n", "", Waiting),
        case("NUL in an inline line, 70 KB", too_big_inline, err("too big inline request"), Closed),
        case("a 100 KB inline line with its newline", long_inline_line, err("too big inline request"), Closed),
        // Redis formats names and arguments in errors as C strings: a NUL ends them.
        case("NUL in an unknown command's name", "*2\r\n$7\r\nfo\x00obar\r\n$3\r\na\x00b\r\n", "-ERR unknown command 'fo', with args beginning with: 'a' \r\n", Open),
        case("NUL in an unknown subcommand", "*2\r\n$6\r\nCLIENT\r\n$4\r\nx\x00yz\r\n", "-ERR unknown subcommand 'x'. Try CLIENT HELP.\r\n", Open),
        case("escaped NUL in a quoted inline argument", "ECHO \"a\\x00b\"\r\n", "$3\r\na\x00b\r\n", Open),
        // Inline quoting.
        case("unbalanced double quotes", "SET \"a b\r\n", err("unbalanced quotes in request"), Closed),
        case("unbalanced single quotes", "SET 'a b\r\n", err("unbalanced quotes in request"), Closed),
        case("closing quote followed by a letter", "ECHO \"a\"b\r\n", err("unbalanced quotes in request"), Closed),
        case("closing single quote followed by a quote", "ECHO 'it''s'\r\n", err("unbalanced quotes in request"), Closed),
        case("quote escapes", "ECHO \"a\\\"b\" 'c\\'d'\r\n", "-ERR wrong number of arguments for 'echo' command\r\n", Open),
        // Empty requests.
        case("empty inline lines", "\r\n\n   \r\n\t\r\nPING\r\n", "+PONG\r\n", Open),
        case("empty quoted inline argument", "ECHO \"\"\r\n", "$0\r\n\r\n", Open),
        // A protocol error mid-pipeline answers what came before, then closes.
        case(
            "good commands, then a bad frame, then more",
            "PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$-2\r\nPING\r\nPING\r\n",
            [&b"+PONG\r\n+PONG\r\n"[..], &err("invalid bulk length")].concat(),
            Closed,
        ),
    ]
}

/// A second client that must see the server unharmed after every case.
struct Observer {
    raw: Raw,
    incrs: u64,
}

impl Observer {
    fn new(addr: SocketAddr) -> Self {
        let mut raw = Raw::connect(addr);
        assert_eq!(raw.cmd_str("SET observer:key intact"), b"+OK\r\n");
        assert_eq!(raw.cmd_str("DEL observer:n"), b":0\r\n");
        Observer { raw, incrs: 0 }
    }

    fn check(&mut self, after: &str) {
        assert_eq!(
            self.raw.cmd_str("PING"),
            b"+PONG\r\n",
            "observer PING after {after}"
        );
        assert_eq!(
            show(&self.raw.cmd_str("GET observer:key")),
            "$6\\r\\nintact\\r\\n",
            "observer key after {after}"
        );
        self.incrs += 1;
        assert_eq!(
            show(&self.raw.cmd_str("INCR observer:n")),
            format!(":{}\\r\\n", self.incrs),
            "observer INCR after {after}"
        );
    }

    /// Whether a client with this address is in CLIENT LIST.
    fn sees(&mut self, addr: SocketAddr) -> bool {
        let list = show(&self.raw.cmd_str("CLIENT LIST"));
        list.contains(&format!("addr={addr} "))
    }
}

/// Reads exactly `n` bytes, or what came before the connection closed.
fn read_n(stream: &mut std::net::TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    let mut have = 0;
    while have < n {
        match stream.read(&mut got[have..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => have += k,
        }
    }
    got.truncate(have);
    got
}

/// No byte arrives within a short while (used only where a reply would be wrong).
fn silent(stream: &mut std::net::TcpStream) -> Result<(), String> {
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 64];
    let r = match stream.read(&mut b) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(()),
        Ok(0) => Err("closed".to_string()),
        Ok(k) => Err(format!("unexpected reply {}", show(&b[..k]))),
        Err(e) => Err(e.to_string()),
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    r
}

/// Runs the whole table against `addr`; returns every mismatch.
fn run_table(addr: SocketAddr) -> Vec<String> {
    let mut failures = Vec::new();
    let mut observer = Observer::new(addr);
    for c in cases() {
        let mut raw = Raw::connect(addr);
        let me = raw.stream.local_addr().unwrap();
        raw.send_bytes(&c.send);
        let got = read_n(&mut raw.stream, c.reply.len());
        if got != c.reply {
            failures.push(format!(
                "{}: reply {} (want {})",
                c.name,
                show(&got),
                show(&c.reply)
            ));
        }
        match c.after {
            Closed => {
                if !raw.is_closed() {
                    failures.push(format!("{}: connection left open", c.name));
                }
            }
            Open => {
                raw.send_bytes(b"*1\r\n$4\r\nPING\r\n");
                let r = read_n(&mut raw.stream, 7);
                if r != b"+PONG\r\n" {
                    failures.push(format!("{}: PING after it got {}", c.name, show(&r)));
                }
            }
            Waiting => {
                if let Err(e) = silent(&mut raw.stream) {
                    failures.push(format!("{}: expected to wait, {e}", c.name));
                }
                if !observer.sees(me) {
                    failures.push(format!("{}: waiting client not in CLIENT LIST", c.name));
                }
            }
        }
        drop(raw);
        observer.check(c.name);
    }
    failures
}

/// The table's expectations are Redis 7.0's own behaviour.
#[test]
fn malformed_frames_on_redis_server() {
    let redis = common::RedisServer::start(&[]);
    let failures = run_table(redis.addr);
    assert!(
        failures.is_empty(),
        "redis-server differs from the table:\n{}",
        failures.join("\n")
    );
}

#[test]
fn malformed_frames_on_tollgate() {
    let tg = Tollgate::start();
    let failures = run_table(tg.addr);
    assert!(
        failures.is_empty(),
        "tollgate differs from Redis:\n{}",
        failures.join("\n")
    );
}

/// A 600 MB bulk header over the limit is refused; under a raised limit, a client that
/// starts such a bulk and disconnects leaves nothing behind.
#[test]
fn abandoned_600mb_bulk_does_not_harm_others() {
    let tg = Tollgate::start();
    let mut observer = Observer::new(tg.addr);
    let mut c = tg.raw();
    c.send_bytes(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$629145600\r\n");
    assert_eq!(
        c.read_reply().map(|r| show(&r)),
        Some(show(&err("invalid bulk length")))
    );
    assert!(c.is_closed());
    observer.check("a refused 600 MB bulk");

    assert_eq!(
        observer.raw.cmd_str("CONFIG SET proto-max-bulk-len 1gb"),
        b"+OK\r\n"
    );
    for _ in 0..3 {
        let mut c = tg.raw();
        let me = c.stream.local_addr().unwrap();
        c.send_bytes(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$629145600\r\n");
        c.send_bytes(&vec![b'x'; 1 << 20]);
        assert!(silent(&mut c.stream).is_ok(), "no reply to a partial bulk");
        assert!(observer.sees(me));
        drop(c);
        observer.check("an abandoned 600 MB bulk");
        let deadline = Instant::now() + Duration::from_secs(5);
        while observer.sees(me) {
            assert!(Instant::now() < deadline, "the abandoned client is gone");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    assert_eq!(observer.raw.cmd_str("EXISTS big"), b":0\r\n");
    // The query buffer was not preallocated or kept: memory stays far below 600 MB.
    let info = show(&observer.raw.cmd_str("INFO memory"));
    let used: u64 = info
        .split("\\r\\n")
        .find_map(|l| l.strip_prefix("used_memory:"))
        .expect("used_memory in INFO")
        .parse()
        .unwrap();
    assert!(used < 200 << 20, "used_memory {used} after abandoned bulks");
    // A big value that does arrive in full still works.
    let mut c = tg.raw();
    let value = vec![b'v'; 3 << 20];
    let reply = c.cmd(&[b"SET", b"big", &value]);
    assert_eq!(reply, b"+OK\r\n");
    assert_eq!(c.cmd_str("STRLEN big"), b":3145728\r\n");
    observer.check("a 3 MB SET");
}

/// A deterministic pipeline of 10,000 requests, multibulk and inline, with binary, empty and
/// quoted arguments; every reply depends only on the requests before it.
fn pipeline_10k() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..10_000u32 {
        let k = format!("p:{}", i % 97);
        let v = format!("v{i}\x00\r\n");
        match i % 10 {
            0 => out.extend(Raw::encode(&[b"SET", k.as_bytes(), v.as_bytes()])),
            1 => out.extend(Raw::encode(&[b"GET", k.as_bytes()])),
            2 => out.extend(Raw::encode(&[b"INCR", b"p:ctr"])),
            3 => out.extend(format!("APPEND {k}:a \"x\\x00y\"\r\n").into_bytes()),
            4 => out.extend(Raw::encode(&[b"ECHO", b""])),
            5 => out.extend(b"PING\r\n"),
            6 => out.extend(Raw::encode(&[b"STRLEN", format!("{k}:a").as_bytes()])),
            7 => out.extend(format!("MSET 'a b' {i} \"c\\td\" '{i}'\r\n").into_bytes()),
            8 => out.extend(b"\r\n*0\r\nMGET 'a b' \"c\\td\" missing\r\n"),
            _ => out.extend(Raw::encode(&[
                b"DEL",
                format!("p:{}", (i * 7) % 97).as_bytes(),
            ])),
        }
    }
    out.extend(Raw::encode(&[b"ECHO", b"the end"]));
    out
}

/// Sends `bytes` in pieces of the given sizes (cycled), collecting `want_len` reply bytes.
fn send_in_pieces(addr: SocketAddr, bytes: &[u8], sizes: &[usize], want_len: usize) -> Vec<u8> {
    let mut raw = Raw::connect(addr);
    let mut reader = raw.stream.try_clone().unwrap();
    reader
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let collector = std::thread::spawn(move || read_n(&mut reader, want_len));
    let mut pos = 0;
    for &n in sizes.iter().cycle() {
        if pos >= bytes.len() {
            break;
        }
        let end = (pos + n).min(bytes.len());
        raw.stream.write_all(&bytes[pos..end]).unwrap();
        pos = end;
    }
    collector.join().unwrap()
}

#[test]
fn pipeline_split_into_small_pieces_gives_the_same_replies() {
    let bytes = pipeline_10k();
    let whole = {
        let tg = Tollgate::start();
        let mut raw = tg.raw();
        let mut reader = raw.stream.try_clone().unwrap();
        let collector = std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = reader.read_to_end(&mut all);
            all
        });
        raw.send_bytes(&bytes);
        raw.send_bytes(b"QUIT\r\n");
        let mut all = collector.join().unwrap();
        assert!(
            all.ends_with(b"$7\r\nthe end\r\n+OK\r\n"),
            "{}",
            show(&all[all.len().saturating_sub(60)..])
        );
        all.truncate(all.len() - 5);
        all
    };
    // Sanity: as many replies as requests that are not empty lines or *0.
    let mut n = 0;
    let mut pos = 0;
    while pos < whole.len() {
        pos += common::reply_len(&whole[pos..]).expect("whole replies");
        n += 1;
    }
    assert_eq!(n, 10_001);
    let tg = Tollgate::start();
    let split = send_in_pieces(tg.addr, &bytes, &[1, 2, 3, 4, 5, 6, 7], whole.len());
    if split != whole {
        let at = split
            .iter()
            .zip(&whole)
            .position(|(a, b)| a != b)
            .unwrap_or(split.len().min(whole.len()));
        panic!(
            "replies differ at byte {at}: split {} vs whole {}",
            show(&split[at.saturating_sub(40)..(at + 40).min(split.len())]),
            show(&whole[at.saturating_sub(40)..(at + 40).min(whole.len())])
        );
    }
}

/// The decoder on the same pipeline, fed byte-exact pieces of every size 1..=7 (so with
/// size 1 every byte boundary is a split): the same argument lists as decoding it whole.
#[test]
fn decoder_split_at_every_boundary_gives_the_same_commands() {
    fn decode_all(bytes: &[u8], piece: usize) -> Vec<Vec<Vec<u8>>> {
        let limits = Limits::default();
        let mut dec = Decoder::default();
        let mut commands = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut fed = 0;
        loop {
            match dec.decode(&buf, &limits) {
                Decoded::Command { consumed } => {
                    let base = dec.base(&buf);
                    commands.push(
                        dec.args()
                            .iter()
                            .map(|r| base[r.clone()].to_vec())
                            .collect(),
                    );
                    buf.drain(..consumed);
                }
                Decoded::Empty { consumed } => {
                    buf.drain(..consumed);
                }
                Decoded::Incomplete { .. } => {
                    if fed >= bytes.len() {
                        break;
                    }
                    let end = (fed + piece).min(bytes.len());
                    buf.extend_from_slice(&bytes[fed..end]);
                    fed = end;
                }
                Decoded::Error(e) => panic!("decode error: {e}"),
            }
        }
        assert!(buf.is_empty(), "left over: {}", show(&buf));
        commands
    }
    let bytes = pipeline_10k();
    let whole = decode_all(&bytes, bytes.len());
    assert_eq!(whole.len(), 10_001);
    assert_eq!(
        whole[3],
        vec![b"APPEND".to_vec(), b"p:3:a".to_vec(), b"x\x00y".to_vec()]
    );
    for piece in 1..=7 {
        assert!(
            decode_all(&bytes, piece) == whole,
            "pieces of {piece} bytes"
        );
    }
}
