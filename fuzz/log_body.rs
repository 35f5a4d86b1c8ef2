// The body of the `log` fuzz target, shared with `tests/log_fuzz_smoke.rs` through `include!`
// so stable CI runs the same checks over deterministic inputs.
//
// Checks, for arbitrary bytes: the log reader never panics, as a whole file and as records
// behind a valid header; the good records it reports lie inside the input, in order, each
// exactly one record (header, checksum right, payload); encoded again they are the same bytes
// as the input up to `end`; a clean tail means `end` is the input's length; a torn or corrupt
// tail is reported at `end`; the streaming reader (`log::read_records`, what recovery runs)
// hands over the same payloads and reports the same end and tail at chunk sizes of 1, 7, one
// picked from the input and the default, so chunk boundaries fall everywhere; and a callback
// that refuses a record stops it at that record's offset.

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
    check_stream(file, start, &s);
    check_stream(file, s.end, &rest);
}

fn check_stream(file: &[u8], start: usize, s: &log::Scan) {
    let want: Vec<&[u8]> = s.records.iter().map(|r| &file[r.clone()]).collect();
    let picked = 1 + file.len() % 61;
    for chunk in [1, 7, picked, log::RECOVERY_CHUNK] {
        let mut got: Vec<Vec<u8>> = Vec::new();
        let streamed = log::read_records(
            &mut &file[start..],
            file.len() as u64,
            start as u64,
            chunk,
            &mut |p| {
                got.push(p.to_vec());
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("chunk {chunk}: {e:?}"));
        assert_eq!(got, want, "chunk {chunk}");
        assert_eq!(streamed.records, want.len() as u64, "chunk {chunk}");
        assert_eq!(streamed.end, s.end as u64, "chunk {chunk}");
        assert_eq!(streamed.tail, s.tail, "chunk {chunk}");
    }
    // Refusing the last good record stops there, after the ones before it.
    if let Some(last) = s.records.last() {
        let mut seen = 0;
        let r = log::read_records(
            &mut &file[start..],
            file.len() as u64,
            start as u64,
            picked,
            &mut |_| {
                seen += 1;
                if seen == want.len() {
                    Err("refused".into())
                } else {
                    Ok(())
                }
            },
        );
        match r {
            Err(log::StreamError::Replay { offset, reason }) => {
                assert_eq!(offset, (last.start - log::RECORD_HEADER_LEN) as u64);
                assert_eq!(reason, "refused");
            }
            other => panic!("refusing the last record: {other:?}"),
        }
    }
}
