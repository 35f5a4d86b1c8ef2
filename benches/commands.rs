//! Criterion benches of the command path in process: argv → lookup → parse → apply → reply
//! bytes, through `commands::execute` on a `State` with a manual clock, no network. The hot
//! commands (GET, SET, INCR, MGET, MSET, RL.CHECK, CL.THROTTLE) on a warm keyspace; compare
//! two commits by running this file on both.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use tollgate::clients::ClientHandle;
use tollgate::clock::Clock;
use tollgate::commands::{execute, lookup, Ctx};
use tollgate::config::Config;
use tollgate::protocol::Out;
use tollgate::session::Client;
use tollgate::state::State;
use tollgate::store::world::Held;

struct Server {
    state: State,
    client: Client,
    out: Out,
}

impl Server {
    fn new() -> Self {
        let state = State::with_clock(
            Config::default(),
            tollgate::commands::all_names(),
            Clock::manual(1_700_000_000_000),
        );
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 1));
        let handle = Arc::new(ClientHandle::new(1, addr, addr, state.clock.now_ms()));
        Server {
            state,
            client: Client::new(handle, true),
            out: Out::new(false),
        }
    }

    fn run(&mut self, args: &[&[u8]]) {
        let mut ctx = Ctx {
            state: &self.state,
            client: &mut self.client,
            out: &mut self.out,
            now: 1_700_000_000_000,
        };
        // A connection holds the world lock for a whole batch; here each command is a batch.
        let mut world = Held::shared(&self.state.keyspace.world, 1);
        execute(&mut ctx, &mut world, lookup(args[0]), black_box(args));
        self.out.buf.clear();
    }
}

fn commands(c: &mut Criterion) {
    let mut s = Server::new();
    let value = [b'x'; 32];
    s.run(&[b"SET", b"key:000000000001", &value]);
    s.run(&[b"SET", b"counter", b"0"]);
    let cases: &[(&str, &[&[u8]])] = &[
        ("GET", &[b"GET", b"key:000000000001"]),
        ("SET", &[b"SET", b"key:000000000002", &value]),
        (
            "SET EX",
            &[b"SET", b"key:000000000003", &value, b"EX", b"100"],
        ),
        ("INCR", &[b"INCR", b"counter"]),
        (
            "MGET 4",
            &[
                b"MGET",
                b"key:000000000001",
                b"key:000000000002",
                b"key:000000000003",
                b"key:000000000004",
            ],
        ),
        (
            "MSET 4",
            &[
                b"MSET", b"m:1", &value, b"m:2", &value, b"m:3", &value, b"m:4", &value,
            ],
        ),
        ("RL.CHECK", &[b"RL.CHECK", b"rl:1", b"1000000000", b"60"]),
        (
            "CL.THROTTLE",
            &[
                b"CL.THROTTLE",
                b"cl:1",
                b"1000000000",
                b"1000000000",
                b"60",
                b"1",
            ],
        ),
    ];
    let mut g = c.benchmark_group("execute");
    for (name, args) in cases {
        g.bench_function(*name, |b| b.iter(|| s.run(args)));
    }
    g.finish();
}

criterion_group!(benches, commands);
criterion_main!(benches);
