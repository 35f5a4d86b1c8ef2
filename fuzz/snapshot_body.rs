// The body of the `snapshot` fuzz target, shared with `tests/snapshot_fuzz_smoke.rs` through
// `include!` so stable CI runs the same checks over deterministic inputs.
//
// Checks, for arbitrary bytes: the snapshot decoder never panics, as records alone and as a
// whole file (the bytes wrapped in a valid header and checksum, so the record parser is
// reached through the checksum too, and the bytes taken as a file); every record it accepts
// becomes a store entry without panicking; and what it accepts, encoded again, decodes to
// the same records.

use tollgate::persist::format::{self, Record};

/// Owned copy of a decoded record, for comparing two decodes.
fn owned(r: &Record<'_>) -> (usize, Vec<u8>, Option<u64>, String) {
    (r.db, r.key.to_vec(), r.deadline, format!("{:?}", r.value))
}

fn check_snapshot(data: &[u8]) {
    // As a whole file: never a panic, whatever the answer.
    let _ = format::decode(data, |_| Ok(()));

    // As records behind a valid header and checksum.
    let mut file = format::header(1, 0);
    file.extend_from_slice(data);
    let crc = crc32fast_hash(&file);
    file.extend_from_slice(&format::trailer(crc));
    let mut first = Vec::new();
    let ks = tollgate::store::Keyspace::new(4, 2);
    let whole = format::decode(&file, |r| {
        let e = r.to_entry();
        assert_eq!(e.key(), r.key);
        assert_eq!(e.deadline(), r.deadline);
        if r.db < ks.databases() {
            ks.shard(r.db, r.key).put(e, false, 0);
        }
        first.push(owned(&r));
        Ok(())
    });
    let direct = format::decode_records(data, format::HEADER_LEN, |_| Ok(()));
    assert_eq!(whole.is_ok(), direct.is_ok(), "the checksum path and the direct path agree");
    if let Err(e) = &direct {
        assert!(e.offset >= format::HEADER_LEN && e.offset <= format::HEADER_LEN + data.len(), "{e}");
        return;
    }

    // Accepted: encode the records again; they decode the same.
    let mut again = Vec::new();
    let mut last_db = None;
    let mut n = 0u64;
    format::decode_records(data, 0, |r| {
        if last_db != Some(r.db) {
            format::put_db(&mut again, r.db);
            last_db = Some(r.db);
        }
        format::put_entry(&mut again, &r.to_entry());
        n += 1;
        Ok(())
    })
    .unwrap();
    format::put_end(&mut again, n);
    let mut second = Vec::new();
    format::decode_records(&again, 0, |r| {
        second.push(owned(&r));
        Ok(())
    })
    .unwrap();
    assert_eq!(first, second);
}

/// crc32 as the snapshot writer computes it (the fuzz crate does not depend on crc32fast).
fn crc32fast_hash(b: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in b {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
