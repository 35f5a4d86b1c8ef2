//! The `snapshot` fuzz target's body (`fuzz/snapshot_body.rs`) over deterministic inputs:
//! pieces of real records spliced with random bytes and hostile lengths, so stable CI
//! exercises the snapshot decoder without nightly and cargo-fuzz.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::Rng;

include!("../fuzz/snapshot_body.rs");

/// Record pieces: markers, kinds, deadlines, lengths (small, large, hostile varints), and
/// whole valid records of each kind.
fn tokens() -> Vec<Vec<u8>> {
    let mut t: Vec<Vec<u8>> = vec![
        vec![0xfe, 0x00],
        vec![0xfe, 0x03],
        vec![0xfe, 0xff, 0xff, 0xff, 0xff, 0x0f],
        vec![0xff, 0x00],
        vec![0xff, 0x01],
        vec![0x00],
        vec![0x01],
        vec![0x02],
        vec![0x03],
        vec![0u8; 8],
        vec![0xff; 8],
        1_900_000_000_000u64.to_le_bytes().to_vec(),
        vec![0x01, b'k'],
        vec![0x00],
        vec![0x7f],
        vec![0x80, 0x01],
        vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        vec![0x80; 11],
    ];
    use tollgate::ratelimit::{gcra, State};
    use tollgate::store::entry::Object;
    let mut rl = tollgate::store::Entry::new_obj(
        b"rl",
        Object::RateLimit(
            [(
                Box::from(&b""[..]),
                State::Gcra(gcra::GcraState { tat_ns: 5, frac: 1 }),
            )]
            .into_iter()
            .collect(),
        ),
    );
    rl.set_deadline(Some(7));
    let leases = tollgate::store::Entry::new_obj(
        b"l",
        Object::Leases(tollgate::ratelimit::lease::Leases::from_leases(vec![
            tollgate::ratelimit::lease::Lease {
                id: b"id".to_vec(),
                expires_at: 9,
            },
        ])),
    );
    let s = tollgate::store::Entry::new_str(b"s", b"12", tollgate::store::Encoding::Int, 0);
    for e in [rl, leases, s] {
        let mut rec = Vec::new();
        format::put_entry(&mut rec, &e);
        t.push(rec);
    }
    t
}

fn input(rng: &mut Rng, tokens: &[Vec<u8>]) -> Vec<u8> {
    if rng.below(2) == 0 {
        return near_valid(rng, tokens);
    }
    let mut out = Vec::new();
    if rng.below(4) != 0 {
        out.extend_from_slice(&[0xfe, 0x00]);
    }
    for _ in 0..1 + rng.below(12) {
        if rng.below(5) == 0 {
            let n = 1 + rng.below(8);
            out.extend((0..n).map(|_| rng.next() as u8));
        } else {
            out.extend_from_slice(&tokens[rng.below(tokens.len())]);
        }
    }
    if rng.below(3) == 0 {
        out.extend_from_slice(&[0xff, rng.below(4) as u8]);
    }
    out
}

/// Whole records under database markers with the right end count, then (half the time) one
/// byte changed: inputs on and next to the accepting paths.
fn near_valid(rng: &mut Rng, tokens: &[Vec<u8>]) -> Vec<u8> {
    let records = &tokens[tokens.len() - 3..];
    let mut out = Vec::new();
    let mut n = 0u8;
    for _ in 0..rng.below(6) {
        if rng.below(3) == 0 || out.is_empty() {
            out.extend_from_slice(&[0xfe, rng.below(5) as u8]);
        }
        out.extend_from_slice(&records[rng.below(records.len())]);
        n += 1;
    }
    out.extend_from_slice(&[0xff, n]);
    if rng.below(2) == 0 {
        let at = rng.below(out.len());
        out[at] = rng.next() as u8;
    }
    out
}

#[test]
fn snapshot_decoder_survives_100k_pseudo_random_inputs() {
    let tokens = tokens();
    let mut rng = Rng(0x005e_ed0f_5af3_d00d);
    let mut accepted = 0;
    for i in 0..100_000 {
        let data = input(&mut rng, &tokens);
        let r = std::panic::catch_unwind(|| check_snapshot(&data));
        if r.is_err() {
            panic!("input #{i} failed: {data:02x?}");
        }
        if format::decode_records(&data, 0, |_| Ok(())).is_ok() {
            accepted += 1;
        }
    }
    // The inputs reach the accepting paths too, not only the errors.
    assert!(accepted > 20_000, "only {accepted} accepted");
}
