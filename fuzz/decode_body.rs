// The body of the `decode` fuzz target, shared with `tests/decoder_fuzz_smoke.rs` through
// `include!` so stable CI runs the same checks over deterministic inputs.
//
// Checks, for arbitrary bytes: no panic; every `consumed` is non-zero and within the buffer;
// every argument range lies inside the bytes `Decoder::base` returns (and, for multibulk
// requests, inside the consumed request); and decoding the same bytes fed in pieces gives the
// same commands and the same final outcome as decoding them whole.

use tollgate::protocol::{Decoded, Decoder, Limits};

/// How a run over the whole input ended after its commands.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Incomplete,
    Error(String),
}

/// Decodes `input` delivered in pieces of `piece` bytes (the whole at once when `piece` is
/// at least its length), consuming after each command; returns the commands and the end.
fn decode_in_pieces(input: &[u8], piece: usize) -> (Vec<Vec<Vec<u8>>>, End) {
    let limits = Limits::default();
    let mut dec = Decoder::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut commands = Vec::new();
    loop {
        match dec.decode(&buf, &limits) {
            Decoded::Command { consumed } => {
                assert!(consumed > 0, "a command consumed nothing");
                assert!(
                    consumed <= buf.len(),
                    "consumed {consumed} of {}",
                    buf.len()
                );
                let base = dec.base(&buf);
                assert!(!dec.args().is_empty(), "a command without arguments");
                let mut args = Vec::new();
                for r in dec.args() {
                    assert!(
                        r.start <= r.end && r.end <= base.len(),
                        "range {r:?} of {}",
                        base.len()
                    );
                    if base.as_ptr() == buf.as_ptr() {
                        assert!(r.end <= consumed, "range {r:?} beyond consumed {consumed}");
                    }
                    args.push(base[r.clone()].to_vec());
                }
                commands.push(args);
                buf.drain(..consumed);
            }
            Decoded::Empty { consumed } => {
                assert!(consumed > 0, "an empty request consumed nothing");
                assert!(
                    consumed <= buf.len(),
                    "consumed {consumed} of {}",
                    buf.len()
                );
                buf.drain(..consumed);
            }
            Decoded::Incomplete { .. } => {
                if fed >= input.len() {
                    return (commands, End::Incomplete);
                }
                let end = (fed + piece.max(1)).min(input.len());
                buf.extend_from_slice(&input[fed..end]);
                fed = end;
            }
            Decoded::Error(e) => {
                assert!(e.starts_with("Protocol error: "), "error text {e:?}");
                return (commands, End::Error(e));
            }
        }
    }
}

pub fn check_decode(data: &[u8]) {
    let whole = decode_in_pieces(data, data.len());
    // Lines longer than the inline limit end differently depending on how much arrived
    // (as in Redis); below it, pieces must not matter.
    if data.len() <= tollgate::protocol::parse::INLINE_MAX {
        let piece = 1 + usize::from(data.first().copied().unwrap_or(0) % 8);
        let split = decode_in_pieces(data, piece);
        assert_eq!(whole, split, "whole vs pieces of {piece}");
    }
}
