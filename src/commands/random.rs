//! The picks of HRANDFIELD, SRANDMEMBER and ZRANDMEMBER with a count, as Redis 7.0 makes
//! them: positions into a collection of `size` elements.

use super::CmdError;
use rand::Rng;

/// The most picks a negative count may ask of an existing collection. Redis 7.0 would build
/// any reply asked (up to `LONG_MAX` items, until memory runs out); tollgate refuses more
/// than this with Redis's range error instead (a missing key still answers an empty array).
pub const MAX_REPEATS: u64 = 1 << 24;

/// How a whole collection is listed when the count covers it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Whole {
    /// In the collection's order (hashes, sets).
    InOrder,
    /// Last first: Redis 7.0's zset iterator walks from the tail.
    Reversed,
}

/// Positions for `count`: repeats allowed when it is negative (or 1); the whole collection
/// when it covers it; else distinct positions in the collection's order. A count of 0 picks
/// nothing; a negative one past [`MAX_REPEATS`] is `ERR value is out of range`.
pub fn picks(size: usize, count: i64, whole: Whole) -> Result<Vec<usize>, CmdError> {
    if count < 0 && count.unsigned_abs() > MAX_REPEATS {
        return Err(CmdError::other("ERR value is out of range"));
    }
    if count == 0 || size == 0 {
        return Ok(Vec::new());
    }
    let mut rng = rand::rng();
    Ok(if count < 0 || count == 1 {
        (0..count.unsigned_abs())
            .map(|_| rng.random_range(0..size))
            .collect()
    } else if count as u64 >= size as u64 {
        match whole {
            Whole::InOrder => (0..size).collect(),
            Whole::Reversed => (0..size).rev().collect(),
        }
    } else {
        let mut v = rand::seq::index::sample(&mut rng, size, count as usize).into_vec();
        v.sort_unstable();
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_follow_redis_cases() {
        assert!(picks(5, 0, Whole::InOrder).unwrap().is_empty());
        assert_eq!(picks(3, 10, Whole::InOrder).unwrap(), vec![0, 1, 2]);
        assert_eq!(picks(3, 10, Whole::Reversed).unwrap(), vec![2, 1, 0]);
        let r = picks(2, -7, Whole::InOrder).unwrap();
        assert!(r.len() == 7 && r.iter().all(|&i| i < 2));
        let d = picks(100, 10, Whole::InOrder).unwrap();
        assert!(d.len() == 10 && d.windows(2).all(|w| w[0] < w[1]));
        assert!(picks(5, -(1 << 25), Whole::InOrder).is_err());
    }
}
