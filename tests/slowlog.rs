//! SLOWLOG and LATENCY against a real `redis-server` 7.0: argument errors, LEN, RESET, HELP,
//! the settings through CONFIG GET/SET, byte for byte in both protocols; the shape of the
//! entries with `slowlog-log-slower-than 0` (ids, time, duration, arguments cut at 32 and 128
//! bytes, client address and name); a long script as a LATENCY event.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::diff::{elements, Compare, Servers};

#[test]
fn errors_and_counts_match_redis() {
    let mut s = Servers::start();
    for resp3 in [false, true] {
        let mut c = s.fresh(resp3);
        s.run(
            &mut c,
            &[
                "CONFIG SET slowlog-log-slower-than -1",
                "SLOWLOG RESET",
                "SLOWLOG LEN",
                "SLOWLOG GET",
                "SLOWLOG GET 0",
                "SLOWLOG GET -1",
                "SLOWLOG GET -2",
                "SLOWLOG GET x",
                "SLOWLOG GET 1.5",
                "SLOWLOG GET 1 2",
                "SLOWLOG LEN x",
                "SLOWLOG RESET x",
                "SLOWLOG",
                "SLOWLOG FOO",
                "SLOWLOG HELP",
                "SLOWLOG HELP x",
                "CONFIG SET slowlog-log-slower-than -2",
                "CONFIG SET slowlog-log-slower-than abc",
                "CONFIG SET slowlog-max-len -1",
                "CONFIG SET slowlog-max-len 5",
                "CONFIG GET slowlog-max-len",
                "CONFIG SET latency-monitor-threshold -1",
                "CONFIG SET latency-tracking maybe",
                "CONFIG SET latency-tracking-info-percentiles 101",
                "CONFIG SET latency-tracking-info-percentiles abc",
                "CONFIG SET latency-tracking-info-percentiles 50",
                "CONFIG GET latency-tracking-info-percentiles",
                "LATENCY LATEST",
                "LATENCY LATEST x",
                "LATENCY HISTORY command",
                "LATENCY HISTORY",
                "LATENCY RESET",
                "LATENCY RESET command nope",
                "LATENCY DOCTOR",
                "LATENCY GRAPH command",
                "LATENCY FOO",
                "LATENCY",
                "CONFIG SET latency-monitor-threshold 100",
                "LATENCY DOCTOR",
                "CONFIG SET latency-monitor-threshold 0",
                "CONFIG SET slowlog-log-slower-than 10000",
                "CONFIG SET slowlog-max-len 128",
                "CONFIG SET latency-tracking-info-percentiles 50 99 99.9",
            ],
        );
        // Redis lists several matches in its dictionary's order.
        s.run_as(&mut c, "CONFIG GET slowlog-*", Compare::Pairs);
        s.run_as(&mut c, "CONFIG GET latency-*", Compare::Pairs);
        s.run_args(
            &mut c,
            &[
                b"CONFIG",
                b"SET",
                b"latency-tracking-info-percentiles",
                b"50.0 99 99.90",
            ],
            Compare::Exact,
        );
        s.run(&mut c, &["CONFIG GET latency-tracking-info-percentiles"]);
        s.run_args(
            &mut c,
            &[
                b"CONFIG",
                b"SET",
                b"latency-tracking-info-percentiles",
                b"50 99 99.9",
            ],
            Compare::Exact,
        );
    }
    s.finish();
}

/// Integer elements of a reply.
fn int(e: &[u8]) -> i64 {
    std::str::from_utf8(&e[1..e.len() - 2])
        .unwrap()
        .parse()
        .unwrap()
}

/// The bulk strings of an array reply.
fn bulks(reply: &[u8]) -> Vec<Vec<u8>> {
    elements(reply)
        .iter()
        .map(|e| {
            let body = e.splitn(2, |b| *b == b'\n').nth(1).unwrap();
            body[..body.len() - 2].to_vec()
        })
        .collect()
}

#[test]
fn entries_have_redis_shape_and_cut_arguments() {
    let mut s = Servers::start();
    let mut c = s.fresh(false);
    let long = vec![b'v'; 200];
    let many: Vec<Vec<u8>> = (0..40).map(|i| format!("key{i}").into_bytes()).collect();
    let mut del: Vec<&[u8]> = vec![b"DEL"];
    del.extend(many.iter().map(Vec::as_slice));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut sent: Vec<Vec<Vec<u8>>> = Vec::new();
    for raw in [&mut c.ours, &mut c.theirs] {
        raw.cmd_str("CONFIG SET slowlog-log-slower-than 0");
        raw.cmd_str("SLOWLOG RESET");
        raw.cmd_str("CLIENT SETNAME probe");
        raw.cmd(&[b"SET", b"k", &long]);
        raw.cmd(&del);
        raw.cmd_str("GET k");
        raw.cmd_str("AUTH secret");
        raw.cmd_str("AUTH someone secret");
        raw.cmd_str("HELLO 2 AUTH default secret");
        let reply = raw.cmd_str("SLOWLOG GET -1");
        sent.push(elements(&reply));
    }
    let (ours, theirs) = (&sent[0], &sent[1]);
    assert_eq!(ours.len(), theirs.len(), "entries");
    assert_eq!(
        ours.len(),
        8,
        "RESET, SETNAME, SET, DEL, GET, AUTH, AUTH, HELLO"
    );
    for (o, t) in ours.iter().zip(theirs) {
        let (o, t) = (elements(o), elements(t));
        assert_eq!(o.len(), 6);
        assert_eq!(t.len(), 6);
        assert_eq!(bulks(&o[3]), bulks(&t[3]), "arguments");
        assert_eq!(o[5], t[5], "client name");
        let addr =
            |e: &[u8]| String::from_utf8_lossy(&bulks(&[b"*1\r\n", e].concat())[0]).into_owned();
        assert!(addr(&o[4]).starts_with("127.0.0.1:"), "{}", addr(&o[4]));
        assert!(addr(&t[4]).starts_with("127.0.0.1:"));
        assert!((int(&o[1]) - now).abs() < 60, "time");
        assert!(int(&o[2]) >= 0, "duration");
    }
    // Newest first, ids counting up from the RESET's.
    let ids: Vec<i64> = ours.iter().map(|e| int(&elements(e)[0])).collect();
    let first = ids[7];
    assert_eq!(ids, (first..first + 8).rev().collect::<Vec<_>>());
    assert_eq!(
        bulks(&elements(&ours[2])[3])[1],
        b"(redacted)",
        "AUTH's password"
    );
    let set_args = bulks(&elements(&ours[5])[3]);
    assert_eq!(
        set_args[2],
        [vec![b'v'; 128], b"... (72 more bytes)".to_vec()].concat()
    );
    let del_args = bulks(&elements(&ours[4])[3]);
    assert_eq!(del_args.len(), 32);
    assert_eq!(del_args[31], b"... (10 more arguments)");
    for raw in [&mut c.ours, &mut c.theirs] {
        raw.cmd_str("CONFIG SET slowlog-max-len 2");
    }
    s.run(&mut c, &["SLOWLOG LEN", "SLOWLOG RESET"]);
    s.finish();
}

/// A script that loops for milliseconds is the `command` event on both servers.
#[test]
fn a_long_script_is_a_latency_event() {
    let mut s = Servers::start();
    let mut c = s.fresh(false);
    let script: &[&[u8]] = &[
        b"EVAL",
        b"local x = 0 for i = 1, 3000000 do x = x + i end return 1",
        b"0",
    ];
    s.run(&mut c, &["CONFIG SET latency-monitor-threshold 1"]);
    s.run_args(&mut c, script, Compare::Exact);
    s.run_as(&mut c, "LATENCY LATEST", Compare::Shape);
    s.run_as(&mut c, "LATENCY HISTORY command", Compare::Shape);
    let latest = c.ours.cmd_str("LATENCY LATEST");
    let event = elements(&elements(&latest)[0]);
    assert_eq!(event[0], b"$7\r\ncommand\r\n");
    assert!(int(&event[2]) >= 1 && int(&event[3]) >= int(&event[2]));
    s.run(
        &mut c,
        &[
            "LATENCY RESET command",
            "LATENCY LATEST",
            "CONFIG SET latency-monitor-threshold 0",
        ],
    );
    s.finish();
}

/// LATENCY HISTOGRAM: the same commands with the same call counts and power-of-two buckets
/// (the counts per bucket are each server's timing).
#[test]
fn latency_histogram_has_redis_shape() {
    let mut s = Servers::start();
    for resp3 in [false, true] {
        let mut c = s.fresh(resp3);
        s.run(&mut c, &["CONFIG RESETSTAT"]);
        for _ in 0..5 {
            s.run(&mut c, &["SET k v", "CONFIG GET hz"]);
        }
        for line in [
            "LATENCY HISTOGRAM set",
            "LATENCY HISTOGRAM config",
            "LATENCY HISTOGRAM config|get nosuch",
            "LATENCY HISTOGRAM nosuch",
            "LATENCY HISTOGRAM get",
        ] {
            let (o, t) = (c.ours.cmd_str(line), c.theirs.cmd_str(line));
            // Commands in each server's own order: compared by name.
            let by_name = |r: &[u8]| {
                let e = elements(r);
                e.chunks(2)
                    .map(|p| (p[0].clone(), elements(&p[1])))
                    .collect::<std::collections::BTreeMap<_, _>>()
            };
            let (o, t) = (by_name(&o), by_name(&t));
            assert_eq!(
                o.keys().collect::<Vec<_>>(),
                t.keys().collect::<Vec<_>>(),
                "{line}: commands"
            );
            for (name, a) in &o {
                let b = &t[name];
                assert_eq!(a[..2], b[..2], "{line}: calls");
                for bucket in elements(&a[3]).iter().step_by(2) {
                    let us = int(bucket);
                    assert!(
                        us.count_ones() == 1
                            || [0, 33, 66, 132, 264, 528].contains(&us)
                            || us > 1000,
                        "{line}: bucket {us}"
                    );
                }
            }
        }
        s.run(&mut c, &["LATENCY HELP"]);
    }
    s.finish();
}
