//! LEB128 lengths, as the packed values of the store write them (a string entry's key
//! length, a small hash's field and value lengths). The buffers are only ever built by the
//! store itself, so reading trusts them: a truncated varint reads as what is there.

pub fn len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

pub fn put(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// (value, bytes read).
pub fn get(b: &[u8]) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    for (i, &byte) in b.iter().enumerate() {
        n |= ((byte & 0x7f) as usize) << shift;
        if byte < 0x80 {
            return (n, i + 1);
        }
        shift += 7;
    }
    (n, b.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips() {
        for n in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            usize::from(u32::MAX as u16),
            1 << 40,
        ] {
            let mut b = Vec::new();
            super::put(&mut b, n);
            assert_eq!(b.len(), super::len(n));
            assert_eq!(super::get(&b), (n, b.len()));
        }
    }
}
