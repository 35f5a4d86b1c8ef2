//! Fuzz target: random argument vectors through every command's parser, by way of the
//! command table (see `../parse_body.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../parse_body.rs");

fuzz_target!(|data: &[u8]| {
    check_parse(data);
});
