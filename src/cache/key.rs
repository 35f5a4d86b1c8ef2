//! How a cache entry is stored in the cache's database: its key joins the type, the
//! generation of (subject, type) and the subject to the app's key, so two subjects' entries
//! can never share a key, and a purge that moves the generation makes every old entry
//! unreachable at once. Its value carries what a hit saves in front of the app's bytes.

/// The fixed part of a stored key: type id, generation, subject length.
const HEAD: usize = 2 + 8 + 4;

/// What a stored key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts<'a> {
    pub type_id: u16,
    pub generation: u64,
    pub subject: &'a [u8],
    pub key: &'a [u8],
}

/// `[type id: u16 BE][generation: u64 BE][subject length: u32 BE][subject][key]`.
pub fn encode(type_id: u16, generation: u64, subject: &[u8], key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD + subject.len() + key.len());
    out.extend_from_slice(&type_id.to_be_bytes());
    out.extend_from_slice(&generation.to_be_bytes());
    // Subjects are request arguments, bounded by proto-max-bulk-len (at most 4 GiB - 1 in
    // practice); a longer one cannot reach here, but saturate rather than wrap.
    let len = u32::try_from(subject.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(subject);
    out.extend_from_slice(key);
    out
}

/// The parts of a stored key, or `None` for bytes `encode` did not make.
pub fn decode(stored: &[u8]) -> Option<Parts<'_>> {
    let head = stored.get(..HEAD)?;
    let type_id = u16::from_be_bytes([head[0], head[1]]);
    let generation = u64::from_be_bytes(head[2..10].try_into().ok()?);
    let len = u32::from_be_bytes(head[10..14].try_into().ok()?) as usize;
    let rest = &stored[HEAD..];
    if rest.len() < len {
        return None;
    }
    let (subject, key) = rest.split_at(len);
    Some(Parts {
        type_id,
        generation,
        subject,
        key,
    })
}

/// Bytes in front of the app's value: tokens (u64 LE) and cost in nano-USD (u64 LE).
pub const VALUE_HEAD: usize = 16;

/// What a hit on an entry saves (the `TOKENS` and `COST` of its `CACHE.SET`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Savings {
    pub tokens: u64,
    /// In billionths of a dollar: sums stay exact (a float total of 0.1 + 0.2 would not).
    pub cost_nanos: u64,
}

pub fn encode_value(savings: Savings, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(VALUE_HEAD + value.len());
    out.extend_from_slice(&savings.tokens.to_le_bytes());
    out.extend_from_slice(&savings.cost_nanos.to_le_bytes());
    out.extend_from_slice(value);
    out
}

/// The savings and the app's value of a stored value (`None` for bytes `encode_value` did
/// not make).
pub fn decode_value(stored: &[u8]) -> Option<(Savings, &[u8])> {
    let head = stored.get(..VALUE_HEAD)?;
    let tokens = u64::from_le_bytes(head[..8].try_into().ok()?);
    let cost_nanos = u64::from_le_bytes(head[8..16].try_into().ok()?);
    Some((Savings { tokens, cost_nanos }, &stored[VALUE_HEAD..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_never_collide_across_subjects() {
        let k = encode(3, 7, b"user:1", b"job:9");
        assert_eq!(
            decode(&k),
            Some(Parts {
                type_id: 3,
                generation: 7,
                subject: b"user:1",
                key: b"job:9"
            })
        );
        // The subject's length is in the key: "ab"+"c" and "a"+"bc" differ.
        assert_ne!(encode(0, 0, b"ab", b"c"), encode(0, 0, b"a", b"bc"));
        assert_ne!(encode(0, 1, b"a", b"k"), encode(0, 2, b"a", b"k"));
        assert_ne!(encode(1, 0, b"a", b"k"), encode(2, 0, b"a", b"k"));
        let empty = encode(0, 0, b"", b"");
        assert_eq!(
            decode(&empty).map(|p| (p.subject, p.key)),
            Some((&b""[..], &b""[..]))
        );
    }

    #[test]
    fn foreign_bytes_do_not_decode() {
        assert_eq!(decode(b""), None);
        assert_eq!(decode(&[0; 13]), None);
        let mut k = encode(0, 0, b"abc", b"");
        k.truncate(k.len() - 1);
        assert_eq!(decode(&k), None);
        assert_eq!(decode_value(&[0; 15]), None);
    }

    #[test]
    fn values_carry_their_savings() {
        let s = Savings {
            tokens: 1200,
            cost_nanos: 4_200_000,
        };
        let v = encode_value(s, b"\x00binary\xff");
        assert_eq!(decode_value(&v), Some((s, &b"\x00binary\xff"[..])));
    }
}
