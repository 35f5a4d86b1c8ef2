//! Fuzz target: arbitrary bytes through the quota journal's record decoder (what the replay
//! reads from the log at start) and the catalog decoder. Neither panics; an op record that
//! decodes encodes back to the same bytes, and its mutation applies to a fresh state under the
//! default plans without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::quota::mutation::{decode_record, encode_op, Record};

fuzz_target!(|data: &[u8]| {
    match decode_record(data) {
        Ok(Record::Op {
            head,
            now,
            plan,
            mutation,
        }) => {
            assert_eq!(encode_op(&head, now, &plan, &mutation), data);
            let catalog =
                tollgate::quota::Catalog::from_config(&tollgate::config::QuotaConfig::default());
            if let Ok((_, p)) = catalog.resolve(Some(&plan), None) {
                let mut state = tollgate::quota::SubjectState::new();
                let _ = mutation.apply(&mut state, &catalog.params(p), now);
            }
        }
        Ok(Record::Catalog(bytes)) => {
            let _ = tollgate::quota::Catalog::decode(bytes);
        }
        Ok(Record::Store { state, .. }) => {
            let _ = tollgate::quota::decode(state);
        }
        _ => {}
    }
});
