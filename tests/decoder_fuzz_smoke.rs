//! The `decode` fuzz target's body (`fuzz/decode_body.rs`) over 100,000 deterministic
//! pseudo-random inputs, so stable CI exercises it without nightly and cargo-fuzz.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::Rng;

include!("../fuzz/decode_body.rs");

/// Pieces that steer inputs into the decoder's interesting paths.
const TOKENS: &[&[u8]] = &[
    b"*",
    b"$",
    b"\r\n",
    b"\r",
    b"\n",
    b"\0",
    b" ",
    b"\t",
    b"\"",
    b"'",
    b"\\",
    b"\\x",
    b"0",
    b"1",
    b"2",
    b"3",
    b"-1",
    b"-",
    b"+",
    b"10",
    b"11",
    b"2147483647",
    b"2147483648",
    b"536870912",
    b"536870913",
    b"99999999999999999999",
    b"PING",
    b"SET",
    b"k",
    b"v",
    b"*1\r\n",
    b"*2\r\n",
    b"*3\r\n",
    b"$0\r\n\r\n",
    b"$1\r\nx\r\n",
    b"$3\r\nGET\r\n",
    b"$4\r\nPING\r\n",
    b"*0\r\n",
    b"*-1\r\n",
    b"ECHO \"a\\x41\" 'b\\'c'\r\n",
    b"a",
];

fn input(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    let parts = 1 + rng.below(24);
    for _ in 0..parts {
        if rng.below(4) == 0 {
            let n = 1 + rng.below(6);
            out.extend((0..n).map(|_| rng.next() as u8));
        } else {
            out.extend_from_slice(TOKENS[rng.below(TOKENS.len())]);
        }
    }
    out
}

#[test]
fn decoder_survives_100k_pseudo_random_inputs() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..100_000 {
        let data = input(&mut rng);
        let r = std::panic::catch_unwind(|| check_decode(&data));
        if r.is_err() {
            panic!("input #{i} failed: {:?}", String::from_utf8_lossy(&data));
        }
    }
}

#[test]
fn decoder_survives_long_lines() {
    // Around the 64 KB inline limit. A line is rescanned on every piece (as Redis does with
    // strchr), so pieces here are 4 KB rather than check_decode's few bytes.
    for len in [65_533, 65_534, 65_535, 65_536, 65_537, 70_000] {
        for head in [&b"*"[..], b"*1\r\n$", b"PING ", b"\"", b"*1\r\n$4\r\n"] {
            let mut data = head.to_vec();
            data.resize(len, b'7');
            for data in [data.clone(), [&data[..], b"\r\n"].concat()] {
                let whole = decode_in_pieces(&data, data.len());
                if data.len() <= tollgate::protocol::parse::INLINE_MAX {
                    assert_eq!(whole, decode_in_pieces(&data, 4096), "{len} {head:?}");
                }
            }
        }
    }
}
