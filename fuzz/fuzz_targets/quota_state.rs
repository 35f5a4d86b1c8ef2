//! Fuzz target: arbitrary bytes through the quota state decoder. It never panics, and what it
//! accepts encodes back to the same bytes (the encoding is canonical). Stable CI runs the same
//! check over random and bit-flipped inputs in `src/quota/tests.rs`
//! (`random_bytes_never_panic`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(state) = tollgate::quota::decode(data) {
        assert_eq!(tollgate::quota::encode(&state), data);
    }
});
