//! Memory that comes back: a connection's read buffer is sized for a big argument once and
//! given back after it, and INFO memory reports what the allocator holds.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{show, Raw, Tollgate};

/// A field of a CLIENT LIST / CLIENT INFO line.
fn client_field(line: &[u8], name: &str) -> usize {
    let line = String::from_utf8_lossy(line);
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        .parse()
        .unwrap()
}

fn info_field(c: &mut Raw, name: &str) -> String {
    let info = String::from_utf8_lossy(&c.cmd(&[b"INFO", b"memory"])).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
        .to_string()
}

fn info_clients(c: &mut Raw, name: &str) -> usize {
    let info = String::from_utf8_lossy(&c.cmd(&[b"INFO", b"clients"])).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
        .parse()
        .unwrap()
}

/// The CLIENT LIST line of the connection named `name`, seen from another connection.
fn line_of(c: &mut Raw, name: &str) -> Vec<u8> {
    let list = c.cmd(&[b"CLIENT", b"LIST"]);
    list.split(|&b| b == b'\n')
        .find(|l| {
            l.windows(name.len() + 6)
                .any(|w| w == format!(" name={name}").as_bytes())
        })
        .unwrap_or_else(|| panic!("{name} not in {}", show(&list)))
        .to_vec()
}

#[test]
fn a_big_argument_gets_an_exact_buffer_that_is_given_back() {
    let tg = Tollgate::start();
    let mut big = tg.raw();
    let mut watcher = tg.raw();
    assert_eq!(big.cmd(&[b"CLIENT", b"SETNAME", b"big"]), b"+OK\r\n");
    let value = vec![b'x'; 3_000_000];
    let request = Raw::encode(&[b"SET", b"k", &value]);
    // Half the request: the server knows the bulk's length and waits for the rest.
    big.send_bytes(&request[..request.len() / 2]);
    let mut seen = 0;
    for _ in 0..200 {
        seen = client_field(&line_of(&mut watcher, "big"), "rbs");
        if seen >= value.len() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        (value.len()..value.len() + 64 * 1024).contains(&seen),
        "the read buffer is sized for the 3 MB value once, not doubled past it: rbs={seen}"
    );
    let line = line_of(&mut watcher, "big");
    assert!(
        client_field(&line, "tot-mem") >= value.len(),
        "{}",
        show(&line)
    );
    assert!(info_clients(&mut watcher, "client_recent_max_input_buffer") >= value.len());
    big.send_bytes(&request[request.len() / 2..]);
    assert_eq!(big.read_reply().unwrap(), b"+OK\r\n");
    // The next request finds the buffer given back.
    assert_eq!(big.cmd(&[b"PING"]), b"+PONG\r\n");
    let line = line_of(&mut watcher, "big");
    assert!(
        client_field(&line, "rbs") <= 16 * 1024,
        "an idle connection keeps a small read buffer: {}",
        show(&line)
    );
    assert_eq!(client_field(&line, "qbuf"), 0);
    assert!(info_clients(&mut watcher, "client_recent_max_input_buffer") <= 64 * 1024);
    assert_eq!(watcher.cmd(&[b"STRLEN", b"k"]), b":3000000\r\n");
}

#[test]
fn a_pipeline_of_small_commands_keeps_a_small_buffer() {
    let tg = Tollgate::start();
    let mut c = tg.raw();
    assert_eq!(c.cmd(&[b"CLIENT", b"SETNAME", b"small"]), b"+OK\r\n");
    let mut batch = Vec::new();
    for i in 0..2000 {
        batch.extend(Raw::encode(&[b"SET", format!("k{i}").as_bytes(), b"v"]));
    }
    c.send_bytes(&batch);
    for _ in 0..2000 {
        assert_eq!(c.read_reply().unwrap(), b"+OK\r\n");
    }
    let mut watcher = tg.raw();
    let rbs = client_field(&line_of(&mut watcher, "small"), "rbs");
    assert!(rbs <= 64 * 1024, "rbs={rbs}");
}

#[test]
fn info_memory_reports_the_allocator() {
    let tg = Tollgate::start();
    let mut c = tg.raw();
    let value = vec![b'v'; 1000];
    for i in 0..1000 {
        c.cmd(&[b"SET", format!("k{i}").as_bytes(), &value]);
    }
    let allocated: u64 = info_field(&mut c, "allocator_allocated").parse().unwrap();
    let resident: u64 = info_field(&mut c, "allocator_resident").parse().unwrap();
    let rss: u64 = info_field(&mut c, "used_memory_rss").parse().unwrap();
    assert!(
        allocated >= 1_000_000,
        "a MB of values is allocated: {allocated}"
    );
    assert!(
        resident >= allocated,
        "resident {resident} < allocated {allocated}"
    );
    assert!(rss >= resident / 2, "rss {rss}");
    let ratio: f64 = info_field(&mut c, "mem_fragmentation_ratio")
        .parse()
        .unwrap();
    assert!(ratio > 0.0, "mem_fragmentation_ratio {ratio}");
    assert!(info_field(&mut c, "mem_allocator").starts_with("jemalloc"));
}
