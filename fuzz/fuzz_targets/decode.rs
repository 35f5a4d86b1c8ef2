//! Fuzz target: arbitrary bytes through the request decoder (see `../decode_body.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../decode_body.rs");

fuzz_target!(|data: &[u8]| {
    check_decode(data);
});
