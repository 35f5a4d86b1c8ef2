//! Fuzz target: arbitrary config files and CONFIG SET requests (see `../config_body.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../config_body.rs");

fuzz_target!(|data: &[u8]| {
    check_config(data);
});
