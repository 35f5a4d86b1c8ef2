//! Clients that stop reading their replies: `timeout` and `client-output-buffer-limit` close
//! them, CLIENT LIST shows their pending output, and a shutdown does not wait on them longer
//! than `shutdown_grace` (the SIGTERM test runs the binary). CONFIG GET/SET of
//! `client-output-buffer-limit` is compared with redis-server.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{show, wait_for, Binary, Raw, RedisServer, Tollgate};
use tollgate::config::Config;

/// The size of the value the stalled clients ask for: far more than loopback socket buffers
/// hold (the server's send buffer grows to 4 MB at most, `net.ipv4.tcp_wmem`), so most of a
/// reply stays pending in the server.
const BIG: usize = 16 << 20;

/// Stores a `BIG`-byte string under `big`.
fn store_big(c: &mut Raw) {
    let last = (BIG - 1).to_string();
    assert_eq!(
        show(&c.cmd(&[b"SETRANGE", b"big", last.as_bytes(), b"x"])),
        format!(":{BIG}\\r\\n")
    );
}

/// A client with a small receive buffer that asks for `gets` copies of `big` and reads none.
fn non_reading_client(addr: SocketAddr, gets: usize) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    let mut pipeline = Vec::new();
    for _ in 0..gets {
        pipeline.extend(Raw::encode(&[b"GET", b"big"]));
    }
    stream.write_all(&pipeline).unwrap();
    stream
}

/// The `omem` of every client CLIENT LIST shows, by id.
fn omems(c: &mut Raw) -> Vec<(u64, u64)> {
    let list = String::from_utf8_lossy(&c.cmd_str("CLIENT LIST")).into_owned();
    list.lines()
        .filter_map(|l| {
            let field = |name: &str| {
                l.split(' ')
                    .find_map(|f| f.strip_prefix(name))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            Some((field("id=")?, field("omem=")?))
        })
        .collect()
}

/// Waits until a client other than `admin` has output pending; its id.
fn wait_for_a_stalled_client(admin: &mut Raw) -> u64 {
    let mut stalled = None;
    let found = wait_for(Duration::from_secs(20), || {
        stalled = omems(admin)
            .into_iter()
            .find(|(_, omem)| *omem > 0)
            .map(|(id, _)| id);
        stalled.is_some()
    });
    assert!(found, "no client with output pending: {:?}", omems(admin));
    stalled.unwrap()
}

fn connected(admin: &mut Raw, id: u64) -> bool {
    omems(admin).iter().any(|(i, _)| *i == id)
}

/// Redis's `timeout` closes a client whose replies make no progress, as it closes an idle
/// one; a client stuck in a write used to be held open for ever.
#[test]
fn a_client_that_stops_reading_is_closed_by_timeout() {
    let mut cfg = Config::default();
    cfg.server.timeout = 1;
    let tg = Tollgate::start_with(cfg);
    let mut admin = tg.raw();
    store_big(&mut admin);
    let _stuck = non_reading_client(tg.addr, 2);
    // The admin connection is idle between its commands for far less than a second.
    let id = wait_for_a_stalled_client(&mut admin);
    assert!(
        wait_for(Duration::from_secs(20), || !connected(&mut admin, id)),
        "a client that reads nothing for more than `timeout` is still connected"
    );
}

/// Limits set while a client is already waiting on its write reach it, and CLIENT KILL
/// closes it at once.
#[test]
fn config_set_and_client_kill_reach_a_client_already_waiting() {
    let tg = Tollgate::start();
    let mut admin = tg.raw();
    store_big(&mut admin);
    for how in [
        "CONFIG SET timeout 1",
        "CLIENT KILL ID",
        "CONFIG SET client-output-buffer-limit",
    ] {
        let _stuck = non_reading_client(tg.addr, 2);
        let id = wait_for_a_stalled_client(&mut admin);
        let r = match how {
            "CLIENT KILL ID" => admin.cmd_str(&format!("{how} {id}")),
            "CONFIG SET client-output-buffer-limit" => admin.cmd(&[
                b"CONFIG",
                b"SET",
                b"client-output-buffer-limit",
                b"normal 0 1mb 1",
            ]),
            _ => admin.cmd_str(how),
        };
        assert!(r == b"+OK\r\n" || r == b":1\r\n", "{how}: {}", show(&r));
        assert!(
            wait_for(Duration::from_secs(20), || !connected(&mut admin, id)),
            "{how}: the waiting client is still connected"
        );
        admin.cmd_str("CONFIG SET timeout 0");
        admin.cmd(&[
            b"CONFIG",
            b"SET",
            b"client-output-buffer-limit",
            b"normal 0 0 0",
        ]);
    }
}

/// Without `timeout`, a client that does not read stays, and CLIENT LIST shows what it has
/// pending (omem beyond Redis's 16 KiB fixed buffer, obl within it, events=rw); once it
/// reads, it gets every byte and its pending output is gone.
#[test]
fn client_list_shows_pending_output_until_the_client_reads() {
    let tg = Tollgate::start();
    let mut admin = tg.raw();
    store_big(&mut admin);
    let mut stuck = non_reading_client(tg.addr, 1);
    let id = wait_for_a_stalled_client(&mut admin);
    let list = String::from_utf8_lossy(&admin.cmd_str("CLIENT LIST")).into_owned();
    let line = list
        .lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .unwrap();
    assert!(
        line.contains(" obl=16384 ") && line.contains(" events=rw "),
        "{line}"
    );
    let (_, omem) = omems(&mut admin)
        .into_iter()
        .find(|(i, _)| *i == id)
        .unwrap();
    assert!(omem > (1 << 20) && omem < BIG as u64, "omem={omem}");
    // Read the whole reply: `$16777216\r\n`, the bytes, `\r\n`.
    let want = format!("${BIG}\r\n").len() + BIG + 2;
    stuck
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut got = 0;
    let mut buf = vec![0u8; 1 << 16];
    while got < want {
        match stuck.read(&mut buf).unwrap() {
            0 => panic!("closed after {got} of {want} bytes"),
            n => got += n,
        }
    }
    assert_eq!(got, want);
    let idle = wait_for(Duration::from_secs(10), || {
        omems(&mut admin).iter().all(|(_, omem)| *omem == 0)
    });
    assert!(idle, "{:?}", omems(&mut admin));
}

/// Over the soft limit for longer than its seconds: closed, as in Redis. A client that reads
/// its reply under the same limits gets it.
#[test]
fn a_client_that_stops_reading_is_closed_by_the_soft_output_limit() {
    let tg = Tollgate::start();
    let mut admin = tg.raw();
    store_big(&mut admin);
    let limit = admin.cmd(&[
        b"CONFIG",
        b"SET",
        b"client-output-buffer-limit",
        b"normal 0 1mb 1",
    ]);
    assert_eq!(show(&limit), "+OK\\r\\n");
    let mut reader = tg.raw();
    let reply = reader.cmd_str("GET big");
    assert_eq!(reply.len(), format!("${BIG}\r\n").len() + BIG + 2);

    let _stuck = non_reading_client(tg.addr, 2);
    let id = wait_for_a_stalled_client(&mut admin);
    assert!(
        wait_for(Duration::from_secs(20), || !connected(&mut admin, id)),
        "a client over the soft limit for more than a second is still connected"
    );
    assert_eq!(reader.cmd_str("PING"), b"+PONG\r\n", "the reader stays");
}

/// Reaching the hard limit closes the client before any of the reply is sent, reading or
/// not, and no command after the one that reached it runs; under it, replies are sent.
#[test]
fn the_hard_output_limit_closes_at_once() {
    let tg = Tollgate::start();
    let mut admin = tg.raw();
    store_big(&mut admin);
    admin.cmd_str("SET small v");
    let r = admin.cmd(&[
        b"CONFIG",
        b"SET",
        b"client-output-buffer-limit",
        b"normal 4mb 0 0",
    ]);
    assert_eq!(show(&r), "+OK\\r\\n");
    let mut c = tg.raw();
    assert_eq!(c.cmd_str("GET small"), b"$1\r\nv\r\n");
    c.send_bytes(b"GET big\r\nSET after 1\r\n");
    assert_eq!(c.read_reply(), None, "closed, with no reply");
    assert_eq!(admin.cmd_str("EXISTS after"), b":0\r\n");
    // The non-reading case: closed the same way, whatever its socket takes.
    let mut stuck = non_reading_client(tg.addr, 1);
    stuck
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut b = [0u8; 1];
    assert!(matches!(stuck.read(&mut b), Ok(0) | Err(_)));
}

/// The default limits, CONFIG SET of some classes (units, `replica`, case) and Redis's
/// errors: the same replies as redis-server, and the same CONFIG GET afterwards.
#[test]
fn config_get_and_set_of_output_buffer_limits_match_redis() {
    let tg = Tollgate::start();
    let redis = RedisServer::start(&[]);
    let (mut t, mut r) = (tg.raw(), redis.raw());
    let get: &[&[u8]] = &[b"CONFIG", b"GET", b"client-output-buffer-limit"];
    let mut steps: Vec<Vec<&[u8]>> = vec![get.to_vec()];
    for value in [
        "normal 1mb 2mb 3",
        "pubsub 32MB 8mb 61 replica 1 2 3",
        "NORMAL 1k 1K 0",
        "",
        "normal 0 0",
        "master 0 0 0",
        "normal 0 0 -1",
        "normal x 0 0",
        "normal  0 0 0",
        "normal 0 0 05",
        "normal 0 0 9999999999",
        "normal 18446744073709551615kb 0 0",
        "normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60",
    ] {
        steps.push(vec![
            b"CONFIG",
            b"SET",
            b"client-output-buffer-limit",
            value.as_bytes(),
        ]);
        steps.push(get.to_vec());
    }
    for step in &steps {
        let (ours, theirs) = (t.cmd(step), r.cmd(step));
        assert_eq!(
            show(&ours),
            show(&theirs),
            "{:?}",
            step.iter()
                .map(|a| String::from_utf8_lossy(a))
                .collect::<Vec<_>>()
        );
    }
}

/// SIGTERM with a client that reads nothing: the binary exits once `shutdown_grace` (200 ms
/// here) has passed, where it used to wait 10 s. The bound is generous: a debug build on a
/// busy machine.
#[test]
fn sigterm_with_a_non_reading_client_exits_within_the_grace_period() {
    let mut binary = Binary::spawn(&["--port", "0", "--shutdown-grace", "200ms"]).unwrap();
    let addr = binary
        .ready(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("the binary did not start: {}", binary.log()));
    let mut admin = Raw::connect(addr);
    store_big(&mut admin);
    let _stuck = non_reading_client(addr, 2);
    wait_for_a_stalled_client(&mut admin);

    let signalled = Instant::now();
    binary.terminate();
    let status = binary.wait(Duration::from_secs(20));
    let took = signalled.elapsed();
    assert!(
        status.is_some_and(|s| s.success()),
        "no clean exit within 20 s: {status:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "took {took:?} with a 200 ms grace period"
    );
    let log = binary.log();
    assert!(log.contains("shutdown grace period"), "{log}");
}
