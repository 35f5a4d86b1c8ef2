//! Integration tests: tollgate embedded on port 0 and driven by the `redis` crate over TCP,
//! in RESP2 and RESP3, sync and async, pipelined and not. Byte-for-byte comparisons with
//! `redis-server` live in `differential.rs`; these check what a real client sees.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{show, Raw, Tollgate};
use redis::{Commands, Value};
use std::io::Read;
use std::time::{Duration, Instant};
use tollgate::config::Config;

/// Polls `f` until it returns true; panics with `what` after `limit`.
fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// An async connection without the client's default 500 ms response timeout: these tests
/// check replies, not speed, and a busy machine (CI, a parallel build) is slower than that.
async fn async_con(c: &redis::Client) -> redis::aio::MultiplexedConnection {
    let config = redis::AsyncConnectionConfig::new()
        .set_response_timeout(None)
        .set_connection_timeout(None);
    c.get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap()
}

fn client(url: &str, resp3: bool) -> redis::Client {
    let url = if resp3 {
        format!("{url}?protocol=resp3")
    } else {
        url.to_string()
    };
    redis::Client::open(url).unwrap()
}

fn server_error(e: &redis::RedisError) -> String {
    format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""))
}

/// The `field` of a CONFIG GET / HELLO reply, which is a map in RESP3 and a flat array in RESP2.
fn field(reply: &Value, name: &str) -> Option<Value> {
    let pairs: Vec<(Value, Value)> = match reply {
        Value::Map(m) => m.clone(),
        Value::Array(a) => a.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect(),
        other => panic!("not a map: {other:?}"),
    };
    pairs.into_iter().find_map(|(k, v)| {
        let k: String = redis::from_redis_value(k).ok()?;
        (k == name).then_some(v)
    })
}

#[test]
fn sync_commands_in_resp2_and_resp3() {
    let tg = Tollgate::start();
    for resp3 in [false, true] {
        let mut con = client(&tg.url(), resp3).get_connection().unwrap();
        let k = format!("sync:{resp3}");
        let () = con.set(&k, "v1").unwrap();
        let v: String = con.get(&k).unwrap();
        assert_eq!(v, "v1");
        let missing: Option<String> = con.get("sync:missing").unwrap();
        assert_eq!(missing, None);
        let n: i64 = con.incr(format!("{k}:n"), 5).unwrap();
        assert_eq!(n, 5);
        let n: i64 = con.append(&k, "+").unwrap();
        assert_eq!(n, 3);
        let vals: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&k)
            .arg("sync:missing")
            .query(&mut con)
            .unwrap();
        assert_eq!(vals, vec![Some("v1+".to_string()), None]);
        let e = redis::cmd("INCR")
            .arg(&k)
            .query::<i64>(&mut con)
            .unwrap_err();
        assert_eq!(
            server_error(&e),
            "ERR value is not an integer or out of range"
        );
        // The connection is still usable after a command error.
        let pong: String = redis::cmd("PING").query(&mut con).unwrap();
        assert_eq!(pong, "PONG");

        // The reply shape follows the protocol: a map in RESP3, a flat array in RESP2.
        let cfg: Value = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxclients")
            .query(&mut con)
            .unwrap();
        assert_eq!(matches!(cfg, Value::Map(_)), resp3, "{cfg:?}");
        assert_eq!(
            field(&cfg, "maxclients"),
            Some(Value::BulkString(b"10000".to_vec()))
        );
        let hello: Value = redis::cmd("HELLO").query(&mut con).unwrap();
        let proto = field(&hello, "proto").unwrap();
        assert_eq!(proto, Value::Int(if resp3 { 3 } else { 2 }));
        // Null, double and boolean types where RESP3 has them.
        let null: Value = redis::cmd("GET")
            .arg("sync:missing")
            .query(&mut con)
            .unwrap();
        assert_eq!(null, Value::Nil);
        let f: Value = redis::cmd("INCRBYFLOAT")
            .arg(format!("{k}:f"))
            .arg("1.5")
            .query(&mut con)
            .unwrap();
        assert_eq!(f, Value::BulkString(b"1.5".to_vec()));
        let del: i64 = con.del(&k).unwrap();
        assert_eq!(del, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_commands_in_resp2_and_resp3() {
    let tg = Tollgate::start();
    for resp3 in [false, true] {
        let mut con = async_con(&client(&tg.url(), resp3)).await;
        let k = format!("async:{resp3}");
        let () = redis::cmd("SET")
            .arg(&k)
            .arg(b"bin\x00ary\r\n")
            .query_async(&mut con)
            .await
            .unwrap();
        let v: Vec<u8> = redis::cmd("GET")
            .arg(&k)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(v, b"bin\x00ary\r\n");
        let ttl: i64 = redis::cmd("TTL")
            .arg(&k)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(ttl, -1);
        let ok: bool = redis::cmd("EXPIRE")
            .arg(&k)
            .arg(100)
            .query_async(&mut con)
            .await
            .unwrap();
        assert!(ok);
        let ttl: i64 = redis::cmd("TTL")
            .arg(&k)
            .query_async(&mut con)
            .await
            .unwrap();
        assert!((99..=100).contains(&ttl), "{ttl}");
        // Concurrent requests on one multiplexed connection come back in order.
        let futs = (0..100).map(|i| {
            let mut c = con.clone();
            let key = format!("{k}:{i}");
            async move {
                redis::cmd("INCRBY")
                    .arg(&key)
                    .arg(i)
                    .query_async::<i64>(&mut c)
                    .await
                    .unwrap()
            }
        });
        let got: Vec<i64> = futures_join_all(futs).await;
        assert_eq!(got, (0..100).collect::<Vec<i64>>());
    }
}

/// `futures::future::join_all` without the dependency: spawn and await in order.
async fn futures_join_all<F, T>(futs: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

fn big_pipeline(prefix: &str) -> redis::Pipeline {
    let mut p = redis::pipe();
    for i in 0..1000 {
        match i % 4 {
            0 => p.cmd("SET").arg(format!("{prefix}:{i}")).arg(i),
            1 => p.cmd("GET").arg(format!("{prefix}:{}", i - 1)),
            2 => p.cmd("INCR").arg(format!("{prefix}:ctr")),
            _ => p.cmd("ECHO").arg(i.to_string()),
        };
    }
    p
}

fn check_big_pipeline(replies: &[Value]) {
    assert_eq!(replies.len(), 1000);
    for (i, r) in replies.iter().enumerate() {
        let want = match i % 4 {
            0 => Value::Okay,
            1 => Value::BulkString((i - 1).to_string().into_bytes()),
            2 => Value::Int((i / 4 + 1) as i64),
            _ => Value::BulkString(i.to_string().into_bytes()),
        };
        // RESP3 and RESP2 both send +OK for SET.
        let same = match (r, &want) {
            (Value::SimpleString(s), Value::Okay) => s == "OK",
            _ => r == &want,
        };
        assert!(same, "reply {i}: {r:?}, want {want:?}");
    }
}

#[test]
fn sync_pipeline_of_1000_commands() {
    let tg = Tollgate::start();
    for resp3 in [false, true] {
        let mut con = client(&tg.url(), resp3).get_connection().unwrap();
        let replies: Vec<Value> = big_pipeline(&format!("sp{resp3}")).query(&mut con).unwrap();
        check_big_pipeline(&replies);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_pipeline_of_1000_commands() {
    let tg = Tollgate::start();
    for resp3 in [false, true] {
        let mut con = async_con(&client(&tg.url(), resp3)).await;
        let replies: Vec<Value> = big_pipeline(&format!("ap{resp3}"))
            .query_async(&mut con)
            .await
            .unwrap();
        check_big_pipeline(&replies);
    }
}

#[test]
fn atomic_pipelines_run_as_multi_exec() {
    let tg = Tollgate::start();
    for resp3 in [false, true] {
        let mut con = client(&tg.url(), resp3).get_connection().unwrap();
        let k = format!("tx{resp3}");
        let (a, b, c): (i64, i64, String) = redis::pipe()
            .atomic()
            .cmd("INCRBY")
            .arg(&k)
            .arg(10)
            .cmd("DECR")
            .arg(&k)
            .cmd("GET")
            .arg(&k)
            .query(&mut con)
            .unwrap();
        assert_eq!((a, b, c.as_str()), (10, 9, "9"));
        // A command error inside EXEC is that command's reply; the others still run.
        let mut p = redis::pipe();
        p.atomic()
            .cmd("SET")
            .arg(format!("{k}:s"))
            .arg("x")
            .cmd("INCR")
            .arg(format!("{k}:s"))
            .cmd("SET")
            .arg(format!("{k}:t"))
            .arg("y");
        let r = p.query::<Value>(&mut con);
        let err = r.expect_err("the INCR error is returned");
        assert!(
            err.to_string()
                .contains("value is not an integer or out of range"),
            "{err}"
        );
        let t: String = con.get(format!("{k}:t")).unwrap();
        assert_eq!(t, "y");
        // A syntax error while queueing aborts the whole transaction.
        let mut p = redis::pipe();
        p.atomic()
            .cmd("SET")
            .arg(format!("{k}:u"))
            .arg("1")
            .cmd("SET")
            .arg(format!("{k}:u"));
        let err = p.query::<Value>(&mut con).unwrap_err();
        assert!(
            err.to_string().contains("EXECABORT")
                || err.to_string().contains("wrong number of arguments"),
            "{err}"
        );
        let u: Option<String> = con.get(format!("{k}:u")).unwrap();
        assert_eq!(u, None);
        // The connection is out of MULTI afterwards.
        let pong: String = redis::cmd("PING").query(&mut con).unwrap();
        assert_eq!(pong, "PONG");
    }
}

#[test]
fn watch_conflict_between_two_connections() {
    let tg = Tollgate::start();
    let c = client(&tg.url(), false);
    let mut a = c.get_connection().unwrap();
    let mut b = c.get_connection().unwrap();
    let () = a.set("w", 1).unwrap();

    // Unchanged watched key: EXEC runs.
    let () = redis::cmd("WATCH").arg("w").query(&mut a).unwrap();
    let r: Option<(i64,)> = redis::pipe().atomic().incr("w", 1).query(&mut a).unwrap();
    assert_eq!(r, Some((2,)));

    // Another connection touches the key between WATCH and EXEC: EXEC replies nil.
    let () = redis::cmd("WATCH").arg("w").query(&mut a).unwrap();
    let () = b.set("w", 100).unwrap();
    let r: Option<(i64,)> = redis::pipe().atomic().incr("w", 1).query(&mut a).unwrap();
    assert_eq!(r, None);
    let w: i64 = a.get("w").unwrap();
    assert_eq!(w, 100);

    // Expiry of a watched key and deletion count as changes too.
    let () = redis::cmd("WATCH").arg("w").query(&mut a).unwrap();
    let _: i64 = b.del("w").unwrap();
    let r: Option<(String,)> = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("w")
        .arg("mine")
        .query(&mut a)
        .unwrap();
    assert_eq!(r, None);

    // UNWATCH forgets: a later change does not abort.
    let () = redis::cmd("WATCH").arg("w").query(&mut a).unwrap();
    let () = redis::cmd("UNWATCH").query(&mut a).unwrap();
    let () = b.set("w", 7).unwrap();
    let r: Option<(i64,)> = redis::pipe().atomic().incr("w", 1).query(&mut a).unwrap();
    assert_eq!(r, Some((8,)));

    // redis::transaction retries until no conflict.
    let mut tries = 0;
    let v: (i64,) = redis::transaction(&mut a, &["w"], |con, pipe| {
        tries += 1;
        if tries == 1 {
            let () = b.set("w", 50).unwrap();
        }
        let cur: i64 = con.get("w")?;
        pipe.set("w", cur * 2).ignore().get("w").query(con)
    })
    .unwrap();
    assert_eq!(v, (100,));
    assert_eq!(tries, 2);
}

#[test]
fn select_isolates_databases() {
    let tg = Tollgate::start();
    let mut db0 = client(&tg.url(), false).get_connection().unwrap();
    let url3 = format!("redis://{}/3", tg.addr);
    let mut db3 = redis::Client::open(url3).unwrap().get_connection().unwrap();
    let () = db0.set("k", "zero").unwrap();
    let () = db3.set("k", "three").unwrap();
    let () = db3.set("only3", "x").unwrap();
    let v0: String = db0.get("k").unwrap();
    let v3: String = db3.get("k").unwrap();
    assert_eq!((v0.as_str(), v3.as_str()), ("zero", "three"));
    let e0: bool = db0.exists("only3").unwrap();
    assert!(!e0);
    let n0: i64 = redis::cmd("DBSIZE").query(&mut db0).unwrap();
    let n3: i64 = redis::cmd("DBSIZE").query(&mut db3).unwrap();
    assert_eq!((n0, n3), (1, 2));
    // SELECT on the same connection switches; FLUSHDB clears only the selected one.
    let () = redis::cmd("SELECT").arg(3).query(&mut db0).unwrap();
    let v: String = db0.get("only3").unwrap();
    assert_eq!(v, "x");
    let () = redis::cmd("FLUSHDB").query(&mut db0).unwrap();
    let () = redis::cmd("SELECT").arg(0).query(&mut db0).unwrap();
    let v: String = db0.get("k").unwrap();
    assert_eq!(v, "zero");
    let n3: i64 = redis::cmd("DBSIZE").query(&mut db3).unwrap();
    assert_eq!(n3, 0);
    let e = redis::cmd("SELECT")
        .arg(16)
        .query::<()>(&mut db0)
        .unwrap_err();
    assert_eq!(server_error(&e), "ERR DB index is out of range");
    // MOVE is not needed; COPY ... DB moves a value across.
    let n: i64 = redis::cmd("COPY")
        .arg("k")
        .arg("k")
        .arg("DB")
        .arg(3)
        .query(&mut db0)
        .unwrap();
    assert_eq!(n, 1);
    let v3: String = db3.get("k").unwrap();
    assert_eq!(v3, "zero");
}

#[test]
fn key_expiry_is_observed() {
    let tg = Tollgate::start_manual(Config::default());
    let mut con = client(&tg.url(), false).get_connection().unwrap();
    let () = redis::cmd("SET")
        .arg("e")
        .arg("v")
        .arg("PX")
        .arg(50)
        .query(&mut con)
        .unwrap();
    let pttl: i64 = redis::cmd("PTTL").arg("e").query(&mut con).unwrap();
    assert!((0..=50).contains(&pttl), "{pttl}");
    tg.advance(Duration::from_millis(49));
    let v: Option<String> = con.get("e").unwrap();
    assert_eq!(v.as_deref(), Some("v"), "1 ms before its deadline");
    tg.advance(Duration::from_millis(1));
    let v: Option<String> = con.get("e").unwrap();
    assert_eq!(v, None, "expired at its deadline");
    let ttl: i64 = redis::cmd("PTTL").arg("e").query(&mut con).unwrap();
    assert_eq!(ttl, -2);
    let exists: i64 = redis::cmd("EXISTS").arg("e").query(&mut con).unwrap();
    assert_eq!(exists, 0);
}

#[test]
fn active_expiry_reclaims_keys_never_read() {
    let tg = Tollgate::start_manual(Config::default());
    let mut con = client(&tg.url(), false).get_connection().unwrap();
    let mut p = redis::pipe();
    for i in 0..1000 {
        p.cmd("SET")
            .arg(format!("ae:{i}"))
            .arg(i)
            .arg("PX")
            .arg(100)
            .ignore();
    }
    p.cmd("SET").arg("keeper").arg("v").ignore();
    let () = p.query(&mut con).unwrap();
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 1001, "nothing expires while the clock stands still");
    tg.advance(Duration::from_millis(100));
    // DBSIZE counts keys not yet reclaimed; only active expiry can bring it down, since no
    // key is ever read. The expiry thread runs on real time; its deadlines are on the clock.
    wait_until(Duration::from_secs(10), "DBSIZE reaches 1", || {
        let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
        n == 1
    });
    let info: String = redis::cmd("INFO").arg("stats").query(&mut con).unwrap();
    let expired: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("expired_keys:"))
        .expect("INFO stats has expired_keys")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(expired, 1000, "{info}");
}

fn client_list(con: &mut redis::Connection) -> String {
    let v: Value = redis::cmd("CLIENT").arg("LIST").query(con).unwrap();
    match v {
        Value::BulkString(b) => String::from_utf8(b).unwrap(),
        Value::VerbatimString { text, .. } => text,
        other => panic!("CLIENT LIST: {other:?}"),
    }
}

#[test]
fn client_setname_getname_id_list_kill() {
    let tg = Tollgate::start();
    for resp3 in [false, true] {
        let c = client(&tg.url(), resp3);
        let mut me = c.get_connection().unwrap();
        let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut me).unwrap();
        assert_eq!(name, None);
        let () = redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg("boss")
            .query(&mut me)
            .unwrap();
        let name: String = redis::cmd("CLIENT").arg("GETNAME").query(&mut me).unwrap();
        assert_eq!(name, "boss");
        let e = redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg("two words")
            .query::<()>(&mut me)
            .unwrap_err();
        assert_eq!(
            server_error(&e),
            "ERR Client names cannot contain spaces, newlines or special characters."
        );
        let my_id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut me).unwrap();

        let mut victim = tg.raw();
        let vid = victim.cmd_str("CLIENT ID");
        let vid: i64 = show(&vid)
            .trim_start_matches(':')
            .trim_end_matches("\\r\\n")
            .parse()
            .unwrap();
        assert_ne!(vid, my_id);
        assert_eq!(victim.cmd_str("CLIENT SETNAME victim"), b"+OK\r\n");

        let list = client_list(&mut me);
        let mine = list
            .lines()
            .find(|l| l.starts_with(&format!("id={my_id} ")))
            .unwrap_or_else(|| panic!("own id in CLIENT LIST:\n{list}"));
        assert!(mine.contains(" name=boss "), "{mine}");
        assert!(
            mine.contains(&format!(" resp={} ", if resp3 { 3 } else { 2 })),
            "{mine}"
        );
        let theirs = list
            .lines()
            .find(|l| l.starts_with(&format!("id={vid} ")))
            .unwrap_or_else(|| panic!("victim in CLIENT LIST:\n{list}"));
        assert!(theirs.contains(" name=victim "), "{theirs}");

        // Filters that match nobody kill nobody.
        let n: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(999_999)
            .query(&mut me)
            .unwrap();
        assert_eq!(n, 0);
        let e = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("1.2.3.4:5")
            .query::<()>(&mut me)
            .unwrap_err();
        assert_eq!(server_error(&e), "ERR No such client");

        let n: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(vid)
            .query(&mut me)
            .unwrap();
        assert_eq!(n, 1);
        assert!(victim.is_closed(), "the killed connection is closed");
        wait_until(
            Duration::from_secs(5),
            "the victim leaves CLIENT LIST",
            || !client_list(&mut me).contains(&format!("id={vid} ")),
        );
        // The old form, by address.
        let mut victim2 = tg.raw();
        let addr = victim2.stream.local_addr().unwrap().to_string();
        assert_eq!(victim2.cmd_str("PING"), b"+PONG\r\n");
        let () = redis::cmd("CLIENT")
            .arg("KILL")
            .arg(&addr)
            .query(&mut me)
            .unwrap();
        assert!(victim2.is_closed());
        // The killer is unaffected.
        let pong: String = redis::cmd("PING").query(&mut me).unwrap();
        assert_eq!(pong, "PONG");
    }
}

/// Redis 7.0 names the last command of a client as `container|subcommand` in CLIENT LIST.
#[test]
fn client_list_names_the_last_subcommand() {
    let tg = Tollgate::start();
    let mut me = client(&tg.url(), false).get_connection().unwrap();
    let mut other = tg.raw();
    assert_eq!(other.cmd_str("CLIENT SETNAME other"), b"+OK\r\n");
    let list = client_list(&mut me);
    let line = list
        .lines()
        .find(|l| l.contains(" name=other "))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(line.contains(" cmd=client|setname "), "{line}");
    assert_eq!(other.cmd_str("CONFIG GET maxclients")[0], b'*');
    let list = client_list(&mut me);
    let line = list.lines().find(|l| l.contains(" name=other ")).unwrap();
    assert!(line.contains(" cmd=config|get "), "{line}");
}

/// Redis kills only clients of the given type; tollgate has only normal clients, so
/// `CLIENT KILL TYPE master|replica|pubsub` must match nobody.
#[test]
fn client_kill_by_other_type_kills_nobody() {
    let tg = Tollgate::start();
    let mut me = client(&tg.url(), false).get_connection().unwrap();
    let mut bystander = tg.raw();
    assert_eq!(bystander.cmd_str("PING"), b"+PONG\r\n");
    for t in ["master", "replica", "pubsub"] {
        let n: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg(t)
            .query(&mut me)
            .unwrap();
        assert_eq!(n, 0, "CLIENT KILL TYPE {t}");
    }
    assert_eq!(bystander.cmd_str("PING"), b"+PONG\r\n");
    let e = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("bogus")
        .query::<i64>(&mut me)
        .unwrap_err();
    assert_eq!(server_error(&e), "ERR Unknown client type 'bogus'");
    let n: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .query(&mut me)
        .unwrap();
    assert_eq!(n, 1);
    assert!(bystander.is_closed());
}

#[test]
fn config_get_set_and_maxclients() {
    let mut cfg = Config::default();
    cfg.server.maxclients = 3;
    let tg = Tollgate::start_with(cfg);
    let mut admin = client(&tg.url(), false).get_connection().unwrap();
    let all: Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("*")
        .query(&mut admin)
        .unwrap();
    for name in [
        "maxclients",
        "timeout",
        "requirepass",
        "databases",
        "proto-max-bulk-len",
    ] {
        assert!(field(&all, name).is_some(), "CONFIG GET * has {name}");
    }
    assert_eq!(
        field(&all, "maxclients"),
        Some(Value::BulkString(b"3".to_vec()))
    );
    let mut b = tg.raw();
    let mut c = tg.raw();
    assert_eq!(b.cmd_str("PING"), b"+PONG\r\n");
    assert_eq!(c.cmd_str("PING"), b"+PONG\r\n");
    // The fourth client is refused with Redis's text, then closed.
    let mut d = tg.raw();
    assert_eq!(
        d.read_reply().map(|r| show(&r)),
        Some("-ERR max number of clients reached\\r\\n".to_string())
    );
    assert!(d.is_closed());
    // Raising the limit at runtime admits it.
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg(4)
        .query(&mut admin)
        .unwrap();
    let got: Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut admin)
        .unwrap();
    assert_eq!(
        field(&got, "maxclients"),
        Some(Value::BulkString(b"4".to_vec()))
    );
    let mut d = tg.raw();
    assert_eq!(d.cmd_str("PING"), b"+PONG\r\n");
    let mut e = tg.raw();
    assert_eq!(
        e.read_reply().map(|r| show(&r)),
        Some("-ERR max number of clients reached\\r\\n".to_string())
    );
    // A slot freed by a client leaving is reusable.
    drop(d);
    wait_until(Duration::from_secs(5), "a slot is free again", || {
        let mut f = tg.raw();
        f.send_bytes(b"PING\r\n");
        f.read_reply().as_deref() == Some(b"+PONG\r\n")
    });
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg("zero")
        .query::<()>(&mut admin)
        .unwrap_err();
    assert!(
        server_error(&err)
            .starts_with("ERR CONFIG SET failed (possibly related to argument 'maxclients')"),
        "{}",
        server_error(&err)
    );
}

#[test]
fn requirepass_auth_and_hello() {
    let mut cfg = Config::default();
    cfg.server.requirepass = "s3cret".to_string();
    let tg = Tollgate::start_with(cfg);
    let mut r = tg.raw();
    assert_eq!(
        show(&r.cmd_str("GET k")),
        "-NOAUTH Authentication required.\\r\\n"
    );
    assert_eq!(
        show(&r.cmd_str("AUTH wrong")),
        "-WRONGPASS invalid username-password pair or user is disabled.\\r\\n"
    );
    assert_eq!(
        show(&r.cmd_str("AUTH default wrong")),
        "-WRONGPASS invalid username-password pair or user is disabled.\\r\\n"
    );
    assert_eq!(
        show(&r.cmd_str("GET k")),
        "-NOAUTH Authentication required.\\r\\n"
    );
    assert_eq!(r.cmd_str("AUTH s3cret"), b"+OK\r\n");
    assert_eq!(r.cmd_str("GET k"), b"$-1\r\n");

    // HELLO 3 AUTH on a fresh connection authenticates and switches protocol at once.
    let mut h = tg.raw();
    assert!(show(&h.cmd_str("HELLO 3")).starts_with("-NOAUTH HELLO must be called"));
    let reply = h.cmd_str("HELLO 3 AUTH default s3cret");
    assert_eq!(reply[0], b'%', "a RESP3 map: {}", show(&reply));
    assert_eq!(h.cmd_str("GET k"), b"_\r\n");

    // The redis crate authenticates from the URL, in both protocols.
    for resp3 in [false, true] {
        let url = format!("redis://:s3cret@{}/", tg.addr);
        let mut con = client(&url, resp3).get_connection().unwrap();
        let () = con.set("authed", resp3.to_string()).unwrap();
        let v: String = con.get("authed").unwrap();
        assert_eq!(v, resp3.to_string());
        let url = format!("redis://:nope@{}/", tg.addr);
        let err = client(&url, resp3)
            .get_connection()
            .err()
            .expect("bad password refused");
        assert!(
            err.kind() == redis::ErrorKind::AuthenticationFailed
                || err.to_string().contains("WRONGPASS"),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_incr_one_key() {
    let tg = Tollgate::start();
    let url = tg.url();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = client(&url, i % 2 == 1);
        tasks.push(tokio::spawn(async move {
            let mut con = async_con(&c).await;
            let mut last = 0;
            for j in 0..200 {
                if j % 10 == 0 {
                    // Some pipelined, some one by one.
                    let (a, b): (i64, i64) = redis::pipe()
                        .incr("shared", 1)
                        .incr("shared", 1)
                        .query_async(&mut con)
                        .await
                        .unwrap();
                    // Other clients may run between the two: not atomic, but ordered.
                    assert!(a > last && b > a, "{last} {a} {b}");
                    last = b;
                } else {
                    let n: i64 = redis::cmd("INCR")
                        .arg("shared")
                        .query_async(&mut con)
                        .await
                        .unwrap();
                    assert!(n > last, "INCR went backwards for one client");
                    last = n;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut con = async_con(&client(&url, false)).await;
    let total: i64 = redis::cmd("GET")
        .arg("shared")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(total, 50 * (180 + 2 * 20));
}

/// Dropping the server while a client has a big pipeline in flight: every reply the client
/// gets is complete and in order, the connection then closes, and the server thread joins.
#[test]
fn graceful_shutdown_completes_in_flight_replies() {
    let tg = Tollgate::start();
    let mut raw = tg.raw();
    let mut pipeline = Vec::new();
    let n = 20_000;
    for _ in 0..n {
        pipeline.extend_from_slice(&Raw::encode(&[b"INCR", b"ctr"]));
    }
    raw.send_bytes(&pipeline);
    // Wait until the server has started on the pipeline, then shut down while it runs.
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while got.len() < 4 {
        let k = raw.stream.read(&mut chunk).unwrap();
        assert!(k > 0, "closed before the first reply");
        got.extend_from_slice(&chunk[..k]);
    }
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let stopper = std::thread::spawn(move || {
        drop(tg);
        done_tx.send(()).unwrap();
    });
    // Read to the end: the server closes the connection after its last reply (a reset, when
    // it leaves part of the pipeline unread).
    raw.stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    loop {
        match raw.stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(k) => got.extend_from_slice(&chunk[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server closes the connection: {e}"),
        }
    }
    let mut pos = 0;
    let mut expected = 1;
    while pos < got.len() {
        let len = common::reply_len(&got[pos..])
            .unwrap_or_else(|| panic!("partial reply at the end: {}", show(&got[pos..])));
        assert_eq!(
            show(&got[pos..pos + len]),
            format!(":{expected}\\r\\n"),
            "replies are whole and in order"
        );
        pos += len;
        expected += 1;
    }
    assert!(expected > 1 && expected <= n + 1);
    done_rx
        .recv_timeout(Duration::from_secs(15))
        .expect("the server thread joins after shutdown");
    stopper.join().unwrap();
}

/// SHUTDOWN stops the server as SIGTERM does: the caller gets no reply and its connection
/// closes after the replies before it in its pipeline, other clients are disconnected, and
/// `server::run` returns. Its refusals leave the server running.
#[test]
fn shutdown_stops_the_server() {
    for form in ["SHUTDOWN", "SHUTDOWN NOSAVE NOW FORCE", "shutdown save"] {
        let tg = Tollgate::start();
        let mut other = tg.raw();
        assert_eq!(other.cmd_str("PING"), b"+PONG\r\n");
        let mut me = tg.raw();
        for (refused, want) in [
            ("SHUTDOWN ABORT", "-ERR No shutdown in progress.\\r\\n"),
            ("SHUTDOWN NOSAVE SAVE", "-ERR syntax error\\r\\n"),
            ("SHUTDOWN ABORT NOW", "-ERR syntax error\\r\\n"),
        ] {
            assert_eq!(show(&me.cmd_str(refused)), want, "{refused}");
        }
        assert_eq!(me.cmd_str("MULTI"), b"+OK\r\n");
        assert_eq!(
            show(&me.cmd_str("SHUTDOWN")),
            "-ERR Command not allowed inside a transaction\\r\\n"
        );
        assert_eq!(me.cmd_str("DISCARD"), b"+OK\r\n");
        assert_eq!(other.cmd_str("PING"), b"+PONG\r\n", "still serving");

        let pipeline = format!("SET before 1\r\n{form}\r\nSET after 1\r\n");
        me.send_bytes(pipeline.as_bytes());
        assert_eq!(me.read_reply().as_deref(), Some(&b"+OK\r\n"[..]), "{form}");
        assert_eq!(
            me.read_reply(),
            None,
            "{form}: no reply, then the connection closes"
        );
        assert!(other.is_closed(), "{form}: other clients are disconnected");
        assert!(
            tg.stopped_within(Duration::from_secs(15)),
            "{form}: server::run returns"
        );
        assert!(
            std::net::TcpStream::connect(tg.addr).is_err(),
            "{form}: no new connections"
        );
    }
}

/// SHUTDOWN is refused to a client that has not authenticated, as any command is.
#[test]
fn shutdown_needs_authentication() {
    let mut cfg = Config::default();
    cfg.server.requirepass = "s3cret".to_string();
    let tg = Tollgate::start_with(cfg);
    let mut r = tg.raw();
    assert_eq!(
        show(&r.cmd_str("SHUTDOWN NOSAVE")),
        "-NOAUTH Authentication required.\\r\\n"
    );
    assert_eq!(r.cmd_str("AUTH s3cret"), b"+OK\r\n");
    assert_eq!(r.cmd_str("PING"), b"+PONG\r\n");
    assert!(!tg.stopped_within(Duration::from_millis(100)));
}

/// Listening on `::` (dual stack), a local IPv4 client arrives as `::ffff:127.0.0.1`: it is
/// loopback, and protected mode must serve it as Redis does.
#[test]
fn protected_mode_serves_ipv4_loopback_on_a_dual_stack_listener() {
    let state = std::sync::Arc::new(tollgate::state::State::new(
        Config::default(),
        tollgate::commands::all_names(),
    ));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = match tokio::net::TcpListener::bind("[::]:0").await {
                Ok(l) => l,
                // No IPv6 on this machine: nothing to check.
                Err(_) => return addr_tx.send(None).unwrap(),
            };
            addr_tx
                .send(Some(listener.local_addr().unwrap().port()))
                .unwrap();
            tollgate::server::run(listener, state, async {
                let _ = stop_rx.await;
            })
            .await;
        });
    });
    if let Some(port) = addr_rx.recv().unwrap() {
        let mut c = Raw::connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
        c.send_bytes(b"PING\r\n");
        let reply = c.read_reply().map(|r| show(&r));
        assert_eq!(reply.as_deref(), Some("+PONG\\r\\n"));
    }
    let _ = stop_tx.send(());
    thread.join().unwrap();
}

/// CLIENT LIST shows each connection's real socket descriptor, as Redis does (it showed
/// `fd=0` for every client).
#[test]
fn client_list_shows_real_file_descriptors() {
    let tg = Tollgate::start();
    let mut a = client(&tg.url(), false).get_connection().unwrap();
    let _b = client(&tg.url(), false).get_connection().unwrap();
    let list = client_list(&mut a);
    let fds: Vec<i64> = list
        .lines()
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("fd=")))
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(fds.len(), 2, "{list}");
    assert!(fds.iter().all(|&fd| fd > 2), "{list}");
    assert_ne!(fds[0], fds[1], "{list}");
}
