//! The blocking list commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP), LMPOP and
//! CLIENT UNBLOCK against a real `redis-server` 7.0: their immediate forms and errors, and
//! scenarios of several connections (who is served first, chains of BLMOVE, MULTI, SWAPDB,
//! RENAME, timeouts, a client that leaves while blocked), every reply compared byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::diff::{Compare, Servers};
use common::{show, wait_for, Raw};

/// One step of a scenario, on connection number `.0`.
#[derive(Clone, Copy)]
enum Step {
    /// Sends a command and reads its reply.
    Cmd(usize, &'static str),
    /// Sends a command and reads its reply without keeping it (HELLO's names the client id).
    Quiet(usize, &'static str),
    /// Sends a command without reading (it blocks).
    Send(usize, &'static str),
    /// Reads the reply of an earlier `Send`.
    Read(usize),
    /// Waits until the server counts this many blocked clients.
    Blocked(usize),
    /// Closes the connection.
    Close(usize),
    /// Notes connection `.0`'s id (CLIENT ID), before it blocks.
    Id(usize),
    /// Sends CLIENT UNBLOCK for connection `.0`'s noted id from connection `.1`, reading the
    /// reply.
    Unblock(usize, usize, &'static str),
}

use Step::*;

fn blocked_clients(admin: &mut Raw) -> usize {
    let info = String::from_utf8(admin.cmd_str("INFO clients")).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

/// Plays `steps` against one server, returning every reply read, in order.
fn play(connect: &dyn Fn() -> Raw, steps: &[Step]) -> Vec<String> {
    let mut conns: Vec<Option<Raw>> = Vec::new();
    let mut admin = connect();
    admin.cmd_str("FLUSHALL");
    let mut replies = Vec::new();
    let mut ids = std::collections::HashMap::new();
    let conn = |conns: &mut Vec<Option<Raw>>, i: usize| {
        while conns.len() <= i {
            conns.push(Some(connect()));
        }
    };
    for step in steps {
        match *step {
            Cmd(i, line) => {
                conn(&mut conns, i);
                let r = conns[i].as_mut().unwrap().cmd_str(line);
                replies.push(format!("{i}> {line}: {}", show(&r)));
            }
            Quiet(i, line) => {
                conn(&mut conns, i);
                conns[i].as_mut().unwrap().cmd_str(line);
            }
            Send(i, line) => {
                conn(&mut conns, i);
                let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
                conns[i].as_mut().unwrap().send_bytes(&Raw::encode(&args));
            }
            Read(i) => {
                let r = conns[i].as_mut().unwrap().read_reply();
                let r = r.map_or("<closed>".to_string(), |r| show(&r));
                replies.push(format!("{i}< {r}"));
            }
            Blocked(n) => {
                let ok = wait_for(Duration::from_secs(5), || blocked_clients(&mut admin) == n);
                assert!(ok, "never saw {n} blocked clients");
            }
            Close(i) => conns[i] = None,
            Id(i) => {
                conn(&mut conns, i);
                let id =
                    String::from_utf8(conns[i].as_mut().unwrap().cmd_str("CLIENT ID")).unwrap();
                ids.insert(i, id.trim().trim_start_matches(':').to_string());
            }
            Unblock(target, from, how) => {
                conn(&mut conns, from);
                let id = &ids[&target];
                let line = format!("CLIENT UNBLOCK {id}{how}");
                let r = conns[from].as_mut().unwrap().cmd_str(&line);
                replies.push(format!(
                    "{from}> CLIENT UNBLOCK <{target}>{how}: {}",
                    show(&r)
                ));
            }
        }
    }
    replies
}

fn compare(s: &mut Servers, what: &str, steps: &[Step]) {
    let ours = play(&|| s.tollgate.raw(), steps);
    let theirs = play(&|| s.redis.raw(), steps);
    if ours != theirs {
        s.failures.push(format!(
            "{what}\n    tollgate: {ours:#?}\n    redis:    {theirs:#?}"
        ));
    }
}

/// The forms that answer at once, and every argument error, in both protocols.
#[test]
fn immediate_forms_and_errors_match_redis() {
    let mut s = Servers::start();
    for resp3 in [false, true] {
        let mut c = s.fresh(resp3);
        s.run(
            &mut c,
            &[
                "RPUSH L a b c d e",
                "RPUSH M x",
                "SET s str",
                "BLPOP L 0",
                "BRPOP L 0",
                "BLPOP nokey L 0",
                "BRPOP nokey M 1",
                "EXISTS M",
                "BLPOP s L 0",
                "BLPOP L s 0",
                "BLPOP nokey 0.01",
                "BRPOP nokey 0.001",
                "BLPOP L",
                "BLPOP L x",
                "BLPOP L -1",
                "BLPOP L inf",
                "BLPOP L -inf",
                "BLPOP L nan",
                "BLPOP L 1e400",
                "BLPOP L 99999999999999999",
                "BLPOP L ''",
                "BLPOP L 1e-9",
                // Moves.
                "RPUSH L a b c",
                "BLMOVE L D LEFT RIGHT 0",
                "BLMOVE L D RIGHT LEFT 0",
                "LRANGE D 0 -1",
                "BRPOPLPUSH L D 0",
                "LRANGE D 0 -1",
                "RPUSH L q",
                "BLMOVE L s LEFT LEFT 0",
                "BLMOVE s L LEFT LEFT 0",
                "BLMOVE L D UP LEFT 0",
                "BLMOVE L D LEFT DOWN 0",
                "BLMOVE L D LEFT LEFT x",
                "BLMOVE L D LEFT LEFT -1",
                "BLMOVE nokey D LEFT LEFT 0.01",
                "BRPOPLPUSH nokey D 0.01",
                "BRPOPLPUSH L D -1",
                "BRPOPLPUSH L D",
                "BLMOVE D D LEFT RIGHT 0",
                "LRANGE D 0 -1",
                // LMPOP / BLMPOP.
                "RPUSH P 1 2 3 4 5",
                "LMPOP 1 P LEFT",
                "LMPOP 2 nokey P RIGHT COUNT 2",
                "LMPOP 1 P LEFT COUNT 100",
                "EXISTS P",
                "LMPOP 1 P LEFT",
                "LMPOP 1 s LEFT",
                "LMPOP 2 nokey s LEFT",
                "LMPOP 0 P LEFT",
                "LMPOP -1 P LEFT",
                "LMPOP x P LEFT",
                "LMPOP 2 P LEFT",
                "LMPOP 1 P",
                "LMPOP 1 P MIDDLE",
                "LMPOP 1 P LEFT COUNT 0",
                "LMPOP 1 P LEFT COUNT -1",
                "LMPOP 1 P LEFT COUNT x",
                "LMPOP 1 P LEFT COUNT 1 COUNT 2",
                "LMPOP 1 P LEFT FOO",
                "LMPOP 1 P LEFT COUNT",
                "RPUSH P 1 2 3",
                "BLMPOP 0 1 P RIGHT COUNT 2",
                "BLMPOP 0 2 nokey P LEFT",
                "BLMPOP 0.01 1 nokey LEFT",
                "BLMPOP 0.01 1 nokey LEFT COUNT 5",
                "BLMPOP x 1 P LEFT",
                "BLMPOP x 0 P LEFT",
                "BLMPOP -1 1 P LEFT",
                "BLMPOP 0 0 P LEFT",
                "BLMPOP 0 1 P",
                // Sorted sets.
                "ZADD z 1 a 2 b 3 c 4 d",
                "BZPOPMIN z 0",
                "BZPOPMAX z nokey 0",
                "BZPOPMIN nokey z 0",
                "BZMPOP 0 2 nokey z MIN COUNT 5",
                "EXISTS z",
                "BZPOPMIN nokey 0.01",
                "BZMPOP 0.01 1 nokey MAX",
                "BZPOPMIN s 0",
                "BZPOPMIN nokey s 0",
                "BZPOPMIN z x",
                "BZPOPMIN z -1",
                "BZMPOP x 1 z MIN",
                "BZMPOP x 0 z MIN",
                "BZMPOP 0 0 z MIN",
                "BZMPOP 0 1 z",
                "BZMPOP 0 1 z MIDDLE",
                "BZMPOP 0 1 z MIN COUNT 0",
                "ZADD z 1.5 a",
                "BZMPOP 0 1 z MAX COUNT 1",
                "COMMAND INFO bzpopmin bzpopmax bzmpop",
                "COMMAND GETKEYS BZMPOP 0 2 a b MIN",
                "COMMAND GETKEYS BZPOPMIN a b 0",
                // CLIENT UNBLOCK of nobody.
                "CLIENT UNBLOCK 999999",
                "CLIENT UNBLOCK 999999 TIMEOUT",
                "CLIENT UNBLOCK 999999 ERROR",
                "CLIENT UNBLOCK x",
                "CLIENT UNBLOCK 1 FOO",
                "CLIENT UNBLOCK x FOO",
                "CLIENT UNBLOCK 1 2 3",
                "CLIENT UNBLOCK",
                // Nothing blocks in a transaction.
                "MULTI",
                "BLPOP nokey 0",
                "BRPOP nokey 0",
                "BLMOVE nokey D LEFT LEFT 0",
                "BRPOPLPUSH nokey D 0",
                "BLMPOP 0 1 nokey LEFT",
                "BZPOPMIN nokey 0",
                "BZMPOP 0 1 nokey MIN",
                "RPUSH T v",
                "BLPOP T 0",
                "EXEC",
                // What COMMAND says about them.
                "COMMAND INFO blpop brpop blmove brpoplpush lmpop blmpop client|unblock",
                "COMMAND GETKEYS BLPOP a b c 0",
                "COMMAND GETKEYS BLMOVE a b LEFT LEFT 0",
                "COMMAND GETKEYS LMPOP 2 a b LEFT",
                "COMMAND GETKEYS BLMPOP 0 3 a b c LEFT COUNT 2",
                "COMMAND GETKEYS LMPOP 5 a LEFT",
            ],
        );
        // Nor in a script; the noscript ones are refused there.
        for script in [
            "return redis.call('BLMPOP',0,1,'nokey','LEFT')",
            "return redis.call('BLPOP','nokey',0)",
            "return redis.call('BLMOVE','a','b','LEFT','LEFT',0)",
            "redis.call('RPUSH','S','v'); return redis.call('BLMPOP',0,1,'S','LEFT')",
        ] {
            let args: [&[u8]; 3] = [b"EVAL", script.as_bytes(), b"0"];
            s.run_args(&mut c, &args, Compare::Exact);
        }
    }
    s.finish();
}

/// Several connections: who is served, in which order, with what.
#[test]
fn blocked_clients_are_served_as_redis_serves_them() {
    let mut s = Servers::start();
    let scenarios: &[(&str, &[Step])] = &[
        (
            "first come, first served; the rest stays",
            &[
                Send(0, "BLPOP k 0"),
                Blocked(1),
                Send(1, "BRPOP k 0"),
                Blocked(2),
                Cmd(2, "RPUSH k x y z"),
                Read(0),
                Read(1),
                Cmd(2, "LRANGE k 0 -1"),
            ],
        ),
        (
            "the first ready key of several",
            &[
                Send(0, "BLPOP k1 k2 k3 0"),
                Blocked(1),
                Cmd(2, "RPUSH k3 c"),
                Read(0),
                Cmd(2, "EXISTS k3"),
            ],
        ),
        (
            "a pushing pipeline: the blocked client is served between its commands",
            &[
                Send(0, "BLPOP k 0"),
                Blocked(1),
                Send(2, "RPUSH k a"),
                Send(2, "LPOP k"),
                Read(2),
                Read(2),
                Read(0),
            ],
        ),
        (
            "BLMOVE feeds a BLPOP on its destination",
            &[
                Send(0, "BLMOVE src dst RIGHT LEFT 0"),
                Blocked(1),
                Send(1, "BLPOP dst 0"),
                Blocked(2),
                Cmd(2, "LPUSH src e1 e2"),
                Read(0),
                Read(1),
                Cmd(2, "LRANGE src 0 -1"),
                Cmd(2, "EXISTS dst"),
            ],
        ),
        (
            "BRPOPLPUSH onto itself",
            &[
                Send(0, "BRPOPLPUSH k k 0"),
                Blocked(1),
                Cmd(2, "RPUSH k a b"),
                Read(0),
                Cmd(2, "LRANGE k 0 -1"),
            ],
        ),
        (
            "BLMOVE to a key of another type: WRONGTYPE, nothing moves",
            &[
                Cmd(2, "SET dst str"),
                Send(0, "BLMOVE src dst LEFT LEFT 0"),
                Blocked(1),
                Cmd(2, "RPUSH src a"),
                Read(0),
                Cmd(2, "LRANGE src 0 -1"),
                Cmd(2, "GET dst"),
            ],
        ),
        (
            "BLMPOP with a count",
            &[
                Send(0, "BLMPOP 0 2 k1 k2 RIGHT COUNT 2"),
                Blocked(1),
                Cmd(2, "RPUSH k2 a b c"),
                Read(0),
                Cmd(2, "LRANGE k2 0 -1"),
            ],
        ),
        (
            "a transaction that pushes and pops keeps its element",
            &[
                Send(0, "BLPOP k 0"),
                Blocked(1),
                Cmd(2, "MULTI"),
                Cmd(2, "RPUSH k a"),
                Cmd(2, "LPOP k"),
                Cmd(2, "EXEC"),
                Cmd(2, "RPUSH k b c"),
                Read(0),
                Cmd(2, "LRANGE k 0 -1"),
            ],
        ),
        (
            "a key of another type is waited through",
            &[
                Send(0, "BLPOP k 0"),
                Blocked(1),
                Cmd(2, "SET k str"),
                Cmd(2, "DEL k"),
                Cmd(2, "RPUSH k v"),
                Read(0),
            ],
        ),
        (
            "RENAME makes the key",
            &[
                Send(0, "BLPOP k 0"),
                Blocked(1),
                Cmd(2, "RPUSH tmp v w"),
                Cmd(2, "RENAME tmp k"),
                Read(0),
                Cmd(2, "LRANGE k 0 -1"),
            ],
        ),
        (
            "COPY makes the key",
            &[
                Send(0, "BLPOP k 0"),
                Blocked(1),
                Cmd(2, "RPUSH src v"),
                Cmd(2, "COPY src k"),
                Read(0),
                Cmd(2, "LRANGE src 0 -1"),
            ],
        ),
        (
            "SWAPDB brings the key",
            &[
                Send(0, "BLPOP k 0"),
                Blocked(1),
                Cmd(2, "SELECT 1"),
                Cmd(2, "RPUSH k v"),
                Cmd(2, "SWAPDB 0 1"),
                Read(0),
                Cmd(2, "EXISTS k"),
            ],
        ),
        (
            "each database its own waiters",
            &[
                Cmd(0, "SELECT 1"),
                Send(0, "BLPOP k 0"),
                Blocked(1),
                Cmd(2, "RPUSH k in0"),
                Cmd(2, "SELECT 1"),
                Cmd(2, "RPUSH k in1"),
                Read(0),
                Cmd(2, "SELECT 0"),
                Cmd(2, "LRANGE k 0 -1"),
            ],
        ),
        (
            "sorted sets: BZPOPMIN and BZPOPMAX served by ZADD, in order",
            &[
                Send(0, "BZPOPMIN z 0"),
                Blocked(1),
                Send(1, "BZPOPMAX z 0"),
                Blocked(2),
                Cmd(2, "ZADD z 1 a 2 b 3 c"),
                Read(0),
                Read(1),
                Cmd(2, "ZRANGE z 0 -1 WITHSCORES"),
            ],
        ),
        (
            "sorted sets: BZMPOP with a count, in RESP3",
            &[
                Quiet(0, "HELLO 3"),
                Send(0, "BZMPOP 0 2 z1 z2 MAX COUNT 2"),
                Blocked(1),
                Cmd(2, "ZADD z2 1.5 a 2.5 b 3.5 c"),
                Read(0),
                Send(0, "BZPOPMIN z9 0.1"),
                Read(0),
            ],
        ),
        (
            "a ZUNIONSTORE serves a BZPOPMIN on its destination",
            &[
                Send(0, "BZPOPMIN dst 0"),
                Blocked(1),
                Cmd(2, "ZADD src 5 m"),
                Cmd(2, "ZUNIONSTORE dst 1 src"),
                Read(0),
            ],
        ),
        (
            "a timeout",
            &[
                Send(0, "BLPOP k 0.2"),
                Blocked(1),
                Read(0),
                Blocked(0),
                Cmd(2, "RPUSH k v"),
                Cmd(2, "LLEN k"),
            ],
        ),
        (
            "a timeout in RESP3",
            &[
                Quiet(0, "HELLO 3"),
                Send(0, "BLMOVE a b LEFT LEFT 0.1"),
                Read(0),
                Send(0, "BLMPOP 0.1 1 a LEFT"),
                Read(0),
                Send(0, "BLPOP k 0"),
                Blocked(1),
                Cmd(2, "RPUSH k v"),
                Read(0),
            ],
        ),
        (
            "CLIENT UNBLOCK, as a timeout and as an error",
            &[
                Id(0),
                Send(0, "BLPOP k 0"),
                Blocked(1),
                Unblock(0, 2, ""),
                Read(0),
                Blocked(0),
                Send(0, "BLMOVE k d LEFT LEFT 0"),
                Blocked(1),
                Unblock(0, 2, " ERROR"),
                Read(0),
                Unblock(0, 2, " TIMEOUT"),
                Cmd(2, "RPUSH k v"),
                Cmd(2, "LLEN k"),
            ],
        ),
        (
            "a client that leaves while blocked loses nothing",
            &[
                Send(0, "BLPOP k 0"),
                Blocked(1),
                Close(0),
                Blocked(0),
                Cmd(2, "RPUSH k v"),
                Cmd(2, "LRANGE k 0 -1"),
            ],
        ),
        (
            "the commands after a blocked one wait for its reply",
            &[
                Send(0, "BLPOP k 0"),
                Send(0, "PING"),
                Blocked(1),
                Cmd(2, "RPUSH k v"),
                Read(0),
                Read(0),
            ],
        ),
    ];
    for (what, steps) in scenarios {
        compare(&mut s, what, steps);
    }
    s.finish();
}

/// Producers push unique elements while consumers pop them with BLPOP/BRPOP/BLMOVE (and
/// some leave halfway): every element ends up with exactly one consumer or still in a list.
#[test]
fn no_element_is_lost_or_served_twice_under_concurrency() {
    let tg = common::Tollgate::start();
    const PRODUCERS: usize = 4;
    const PER_PRODUCER: usize = 500;
    const CONSUMERS: usize = 12;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| {
            let mut conn = tg.raw();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut round = 0usize;
                loop {
                    round += 1;
                    // A few consumers leave with a wait pending (on a key nobody fills, so
                    // nothing is served to a closing socket), and a new one takes over.
                    if c % 4 == 0 && round % 97 == 0 {
                        conn.send_bytes(&Raw::encode(&[b"BLPOP", b"never", b"0"]));
                        conn = Raw::connect(conn.stream.peer_addr().unwrap());
                    }
                    let reply = match c % 3 {
                        0 => conn.cmd(&[b"BLPOP", b"q", b"q2", b"0.05"]),
                        1 => conn.cmd(&[b"BRPOP", b"q2", b"q", b"0.05"]),
                        _ => conn.cmd(&[b"BLMOVE", b"q", b"mine", b"LEFT", b"RIGHT", b"0.05"]),
                    };
                    let text = String::from_utf8_lossy(&reply).to_string();
                    let items: Vec<String> = text
                        .split("\r\n")
                        .filter(|l| l.starts_with('e'))
                        .map(str::to_string)
                        .collect();
                    if items.is_empty() && done.load(std::sync::atomic::Ordering::SeqCst) {
                        return got;
                    }
                    got.extend(items);
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let mut conn = tg.raw();
            std::thread::spawn(move || {
                for i in 0..PER_PRODUCER {
                    let e = format!("e{p}-{i}");
                    let key: &[u8] = if i % 2 == 0 { b"q" } else { b"q2" };
                    conn.cmd(&[b"RPUSH", key, e.as_bytes()]);
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut seen: Vec<String> = consumers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    // What BLMOVE moved is both in a consumer's hands and in `mine`: count it once.
    let mut admin = tg.raw();
    for key in ["q", "q2"] {
        let rest = String::from_utf8(admin.cmd(&[b"LRANGE", key.as_bytes(), b"0", b"-1"])).unwrap();
        seen.extend(
            rest.split("\r\n")
                .filter(|l| l.starts_with('e'))
                .map(str::to_string),
        );
    }
    let total = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(total, seen.len(), "an element was served twice");
    assert_eq!(seen.len(), PRODUCERS * PER_PRODUCER, "an element was lost");
    let moved = String::from_utf8(admin.cmd(&[b"LLEN", b"mine"])).unwrap();
    assert!(moved.starts_with(':'));
}
