//! Criterion benches of the protocol code: request decoding (ours, and the redis-protocol
//! crate's general RESP decoder on the same bytes, which is why the request path has its own
//! decoder) and reply encoding.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tollgate::protocol::{Decoded, Decoder, Limits, Out};

/// A pipeline of 16 `SET key:NNNNNNNNNNNN <32 bytes>` commands, as redis-benchmark sends.
fn pipeline() -> Vec<u8> {
    let mut buf = Vec::new();
    for i in 0..16 {
        let key = format!("key:{i:012}");
        let val = "x".repeat(32);
        buf.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{val}\r\n",
                key.len(),
                val.len()
            )
            .as_bytes(),
        );
    }
    buf
}

fn decode(c: &mut Criterion) {
    let buf = pipeline();
    let mut g = c.benchmark_group("decode_16_sets");
    g.throughput(Throughput::Elements(16));
    g.bench_function("tollgate::Decoder", |b| {
        let mut d = Decoder::default();
        let limits = Limits::default();
        b.iter(|| {
            let mut pos = 0;
            let mut n = 0;
            while let Decoded::Command { consumed } = d.decode(&buf[pos..], &limits) {
                n += d.args().len();
                pos += consumed;
            }
            black_box(n)
        })
    });
    g.bench_function("redis_protocol::resp2::decode_range", |b| {
        b.iter(|| {
            let mut pos = 0;
            let mut n = 0;
            while let Ok(Some((frame, consumed))) =
                redis_protocol::resp2::decode::decode_range(&buf[pos..])
            {
                n += match frame {
                    redis_protocol::resp2::types::RangeFrame::Array(v) => v.len(),
                    _ => 0,
                };
                pos += consumed;
            }
            black_box(n)
        })
    });
    g.finish();
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(16));
    g.bench_function("16 bulk replies", |b| {
        let mut out = Out::new(false);
        let val = [b'x'; 32];
        b.iter(|| {
            out.buf.clear();
            for _ in 0..16 {
                out.bulk(&val);
            }
            black_box(out.len())
        })
    });
    g.bench_function("rl.check map reply (resp3)", |b| {
        let mut out = Out::new(true);
        b.iter(|| {
            out.buf.clear();
            out.map(6);
            for (k, v) in [
                ("allowed", 1),
                ("limit", 100),
                ("remaining", 99),
                ("reset_ms", 600),
                ("retry_after_ms", 0),
            ] {
                out.bulk(k.as_bytes());
                out.int(v);
            }
            out.bulk(b"policy");
            out.null();
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
