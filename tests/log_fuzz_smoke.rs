//! The `log` fuzz target's body (`fuzz/log_body.rs`) over deterministic inputs: whole
//! records, pieces of records, hostile lengths, zero runs and random bytes, with a byte
//! changed now and then, so stable CI exercises the log reader without nightly and
//! cargo-fuzz.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::Rng;

include!("../fuzz/log_body.rs");

fn record(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    log::put_record(&mut out, payload);
    out
}

fn input(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(10) {
        match rng.below(8) {
            0..=3 => {
                let n = rng.below(40);
                let p: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                out.extend(record(&p));
            }
            4 => {
                // A cut record.
                let r = record(b"a payload that gets cut");
                out.extend_from_slice(&r[..rng.below(r.len())]);
            }
            5 => out.extend(std::iter::repeat_n(0u8, rng.below(20))),
            6 => {
                // A hostile length with whatever after it.
                let len = [u32::MAX, 1 << 26, (1 << 26) + 1, 5000, 8][rng.below(5)];
                out.extend_from_slice(&len.to_le_bytes());
                out.extend((0..rng.below(12)).map(|_| rng.next() as u8));
            }
            _ => out.extend((0..rng.below(16)).map(|_| rng.next() as u8)),
        }
    }
    if !out.is_empty() && rng.below(3) == 0 {
        let at = rng.below(out.len());
        out[at] ^= 1 << rng.below(8);
    }
    if rng.below(10) == 0 {
        let mut file = log::header().to_vec();
        file.extend(out);
        return file;
    }
    out
}

#[test]
fn log_reader_survives_100k_pseudo_random_inputs() {
    let mut rng = Rng(0x0106_f00d_5eed_cafe);
    let (mut clean, mut torn, mut corrupt) = (0, 0, 0);
    for i in 0..100_000 {
        let data = input(&mut rng);
        if std::panic::catch_unwind(|| check_log(&data)).is_err() {
            panic!("input #{i} failed: {data:02x?}");
        }
        let mut file = log::header().to_vec();
        file.extend_from_slice(&data);
        match log::scan(&file, log::HEADER_LEN).tail {
            Tail::Clean => clean += 1,
            Tail::Torn { .. } => torn += 1,
            Tail::Corrupt { .. } => corrupt += 1,
        }
    }
    // Every path is reached.
    assert!(
        clean > 10_000 && torn > 10_000 && corrupt > 10_000,
        "{clean} {torn} {corrupt}"
    );
}
