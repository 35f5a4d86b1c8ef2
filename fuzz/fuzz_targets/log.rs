//! Fuzz target: arbitrary bytes through the append-only log's reader (see `../log_body.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../log_body.rs");

fuzz_target!(|data: &[u8]| {
    check_log(data);
});
