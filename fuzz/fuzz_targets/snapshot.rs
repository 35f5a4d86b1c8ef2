//! Fuzz target: arbitrary bytes through the snapshot decoder (see `../snapshot_body.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../snapshot_body.rs");

fuzz_target!(|data: &[u8]| {
    check_snapshot(data);
});
