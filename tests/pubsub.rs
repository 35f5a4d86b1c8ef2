//! Pub/Sub over TCP: the same sequences sent to tollgate and to a real redis-server 7.0 with
//! replies and delivered messages compared byte for byte (RESP2 subscribed-mode rules, RESP3
//! pushes, patterns, PUBSUB introspection), and a subscriber that stops reading closed by
//! `client-output-buffer-limit pubsub` rather than buffered without end.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{show, Raw, RedisServer, Tollgate};
use std::time::Duration;

/// One subscriber and one publisher connection to a server.
struct Side {
    sub: Raw,
    publ: Raw,
}

impl Side {
    fn new(connect: impl Fn() -> Raw) -> Side {
        Side {
            sub: connect(),
            publ: connect(),
        }
    }
}

/// A step: a line sent by the subscriber (reading `replies` replies) or by the publisher
/// (one reply), or a wait for `n` messages on the subscriber.
enum Step {
    Sub(&'static str, usize),
    Pub(&'static str),
    Messages(usize),
}

fn play(side: &mut Side, steps: &[Step]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for step in steps {
        match step {
            Step::Sub(line, n) => {
                side.sub.send_bytes(format!("{line}\r\n").as_bytes());
                for _ in 0..*n {
                    let r = side.sub.read_reply().expect("a reply");
                    out.push((line.to_string(), show(&r)));
                }
            }
            Step::Pub(line) => {
                let r = side.publ.cmd_str(line);
                out.push((line.to_string(), show(&r)));
            }
            Step::Messages(n) => {
                for _ in 0..*n {
                    let r = side.sub.read_reply().expect("a message");
                    out.push(("<message>".to_string(), show(&r)));
                }
            }
        }
    }
    out
}

#[test]
fn pubsub_matches_redis() {
    use Step::*;
    let steps = [
        Sub("SUBSCRIBE a", 1),
        Sub("GET x", 1),
        Sub("PING", 1),
        Sub("PING hi", 1),
        Sub("CLIENT ID", 1),
        Sub("UNSUBSCRIBE a", 1),
        Sub("UNSUBSCRIBE", 1),
        Sub("PUNSUBSCRIBE", 1),
        Sub("PSUBSCRIBE h* a", 2),
        Sub("SUBSCRIBE h*", 1),
        Sub("UNSUBSCRIBE x", 1),
        Pub("PUBLISH h1 m1"),
        Pub("PUBLISH a m2"),
        Pub("PUBLISH zz m3"),
        Messages(2),
        Pub("PUBLISH h* m4"),
        Messages(2),
        Pub("PUBSUB NUMPAT"),
        Pub("PUBSUB NUMSUB h* a zz"),
        Pub("PUBSUB CHANNELS"),
        Pub("PUBSUB CHANNELS h?"),
        Pub("PUBSUB CHANNELS nomatch*"),
        Pub("PUBSUB SHARDCHANNELS"),
        Pub("PUBSUB SHARDNUMSUB x"),
        Pub("PUBSUB NUMPAT x"),
        Pub("PUBSUB"),
        Pub("PUBSUB FOO"),
        Pub("PUBSUB HELP"),
        Pub("PUBLISH onlyone"),
        Sub("PUNSUBSCRIBE h*", 1),
        Sub("PUNSUBSCRIBE", 1),
        Sub("UNSUBSCRIBE", 1),
        Sub("GET x", 1),
        Sub("MULTI", 1),
        Sub("SUBSCRIBE z", 1),
        Sub("EXEC", 1),
        Sub("HELLO 2", 1),
        Sub("RESET", 1),
        Sub("SUBSCRIBE", 1),
    ];
    let redis = RedisServer::start(&[]);
    let tollgate = Tollgate::start();
    let theirs = play(&mut Side::new(|| redis.raw()), &steps);
    let ours = play(&mut Side::new(|| tollgate.raw()), &steps);
    let diffs: Vec<String> = ours
        .iter()
        .zip(&theirs)
        .filter(|(o, t)| o != t)
        .map(|(o, t)| format!("{}\n    tollgate: {}\n    redis:    {}", o.0, o.1, t.1))
        .collect();
    assert_eq!(ours.len(), theirs.len());
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );

    // RESP3 (HELLO's reply carries the client id: read and dropped on both).
    let resp3 = [
        Sub("HELLO 3", 1),
        Sub("SUBSCRIBE q", 1),
        Sub("PSUBSCRIBE q*", 1),
        Sub("GET x", 1),
        Sub("PING", 1),
        Sub("PUBSUB NUMSUB q x", 1),
        Sub("PUBSUB SHARDNUMSUB q", 1),
        Pub("PUBLISH q hello"),
        Messages(2),
        Sub("UNSUBSCRIBE", 1),
        Sub("PUNSUBSCRIBE", 1),
        Sub("UNSUBSCRIBE", 1),
    ];
    let theirs = play(&mut Side::new(|| redis.raw()), &resp3);
    let ours = play(&mut Side::new(|| tollgate.raw()), &resp3);
    for (o, t) in ours.iter().zip(&theirs).skip(1) {
        assert_eq!(o, t);
    }
}

/// INFO, CLIENT LIST and the end of a connection keep the books of subscriptions.
#[test]
fn subscriptions_are_counted_and_dropped_with_the_connection() {
    let tg = Tollgate::start();
    let mut s = tg.raw();
    s.send_bytes(b"SUBSCRIBE a b\r\nPSUBSCRIBE p*\r\n");
    for _ in 0..3 {
        s.read_reply().unwrap();
    }
    let mut c = tg.raw();
    let info = show(&c.cmd_str("INFO stats"));
    assert!(
        info.contains("pubsub_channels:2") && info.contains("pubsub_patterns:1"),
        "{info}"
    );
    let list = show(&c.cmd_str("CLIENT LIST"));
    assert!(list.contains("flags=P db=0 sub=2 psub=1"), "{list}");
    drop(s);
    let gone = common::wait_for(Duration::from_secs(5), || {
        let info = show(&c.cmd_str("INFO stats"));
        info.contains("pubsub_channels:0") && info.contains("pubsub_patterns:0")
    });
    assert!(gone, "the subscriptions went with the connection");
    assert_eq!(show(&c.cmd_str("PUBLISH a m")), ":0\\r\\n");
}

/// A subscriber that never reads is closed once its queued messages pass the pubsub hard
/// limit (here 1 MB), and the publisher is never blocked: 32 MB published in total.
#[test]
fn a_subscriber_that_does_not_read_is_closed_at_its_limit() {
    let tg = Tollgate::start();
    let mut c = tg.raw();
    assert_eq!(
        show(&c.cmd(&[
            b"CONFIG",
            b"SET",
            b"client-output-buffer-limit",
            b"pubsub 1mb 512kb 60"
        ])),
        "+OK\\r\\n"
    );
    let mut s = tg.raw();
    // A tiny receive window: the kernel's buffers fill fast and the rest queues in tollgate.
    s.send_bytes(b"SUBSCRIBE big\r\n");
    s.read_reply().unwrap();
    let payload = vec![b'x'; 64 * 1024];
    let mut receivers = Vec::new();
    for _ in 0..512 {
        let r = c.cmd(&[b"PUBLISH", b"big", &payload]);
        receivers.push(show(&r));
    }
    assert_eq!(receivers[0], ":1\\r\\n");
    assert_eq!(
        receivers.last().unwrap(),
        ":0\\r\\n",
        "closed, then unsubscribed"
    );
    let gone = common::wait_for(Duration::from_secs(5), || {
        !show(&c.cmd_str("CLIENT LIST")).contains("sub=1")
    });
    assert!(gone, "{}", show(&c.cmd_str("CLIENT LIST")));
    // Its socket was closed: the subscriber sees the end after what the kernel held.
    s.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut got = 0;
    while s.read_reply().is_some() {
        got += 1;
    }
    assert!(got < 512, "{got} messages: it was cut off");
}
