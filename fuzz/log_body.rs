// The body of the `log` fuzz target, shared with `tests/log_fuzz_smoke.rs` through `include!`
// so stable CI runs the same checks over deterministic inputs.
//
// Checks, for arbitrary bytes: the log reader never panics, as a whole file and as records
// behind a valid header; the good records it reports lie inside the input, in order, each
// exactly one record (header, checksum right, payload); encoded again they are the same bytes
// as the input up to `end`; a clean tail means `end` is the input's length; a torn or corrupt
// tail is reported at `end`.

use tollgate::persist::log::{self, Tail};

fn check_log(data: &[u8]) {
    // As a whole file.
    if log::check_header(data).is_ok() {
        check_scan(data, log::HEADER_LEN);
    }
    // As records behind a valid header.
    let mut file = log::header().to_vec();
    file.extend_from_slice(data);
    assert!(log::check_header(&file).is_ok());
    check_scan(&file, log::HEADER_LEN);
}

fn check_scan(file: &[u8], start: usize) {
    let s = log::scan(file, start);
    assert!(s.end >= start && s.end <= file.len());
    let mut again = file[..start].to_vec();
    for r in &s.records {
        assert!(r.start >= start + log::RECORD_HEADER_LEN && r.end <= s.end && r.start <= r.end);
        log::put_record(&mut again, &file[r.clone()]);
    }
    assert_eq!(&again[..], &file[..s.end], "the good records are the bytes up to end");
    match &s.tail {
        Tail::Clean => assert_eq!(s.end, file.len()),
        Tail::Torn { offset, .. } | Tail::Corrupt { offset, .. } => {
            assert_eq!(*offset, s.end);
            assert!(s.end < file.len());
        }
    }
    // Scanning again from the end of the good records finds no good record first.
    let rest = log::scan(file, s.end);
    assert!(rest.records.is_empty());
    assert_eq!(rest.tail, s.tail);
}
