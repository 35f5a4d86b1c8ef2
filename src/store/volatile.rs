//! The keys of one shard that have a TTL, for the expiry sweep and volatile eviction.
//!
//! Each key is kept with a *lower bound* of its deadline, and the keys are grouped by position
//! in blocks of 64 whose minimum bound is kept too. A sweep then skips a block that cannot
//! hold an expired key with one comparison, and reads the bounds of a block it must check
//! sequentially; only a key whose bound has passed costs a lookup in the key table.
//!
//! Why a bound and not the deadline: a rate-limit key's deadline moves on every check, and
//! writing it here too would cost every check a second hash lookup. A later deadline leaves
//! the bound valid (it is still a lower bound); the sweep finds the key not yet expired and
//! raises its bound then. Only a deadline moved *earlier* (rare: `PEXPIRE` to a sooner time)
//! must lower the bound, through [`Volatile::lower`].
//!
//! Positions are dense (removal moves the last key into the hole), so the sweep walks them
//! downwards as SCAN does: a key moved into a visited hole came from the end, visited already
//! or added since the pass began.

use foldhash::fast::FixedState;
use indexmap::IndexMap;

/// Keys per block: small enough that a block's bounds fit in a few cache lines, large enough
/// that the block minimums of a million keys are 128 KB.
const BLOCK: usize = 64;

#[derive(Debug)]
pub struct Volatile {
    /// Key → lower bound of its deadline (unix ms).
    keys: IndexMap<Box<[u8]>, u64, FixedState>,
    /// Per block of `BLOCK` positions: at most every bound in the block.
    mins: Vec<u64>,
    /// Blocks left to visit in the current pass; the next one is `cursor - 1`.
    cursor: usize,
    in_pass: bool,
}

/// What one [`Volatile::next_due`] call found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// A block whose bounds say some key may have expired.
    Block(usize),
    /// A block that cannot hold an expired key.
    Skip,
    /// The pass over every block is complete; the next call starts another.
    PassDone,
}

impl Volatile {
    pub fn new(hasher: FixedState) -> Self {
        Volatile {
            keys: IndexMap::with_hasher(hasher),
            mins: Vec::new(),
            cursor: 0,
            in_pass: false,
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key at a dense position (random sampling for eviction).
    pub fn key_at(&self, i: usize) -> Option<&[u8]> {
        self.keys.get_index(i).map(|(k, _)| &**k)
    }

    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.keys.keys().map(|k| &**k)
    }

    /// Adds a key that has no TTL yet, with its deadline.
    pub fn insert(&mut self, key: Box<[u8]>, deadline: u64) {
        let (i, _) = self.keys.insert_full(key, deadline);
        let b = i / BLOCK;
        if b >= self.mins.len() {
            self.mins.resize(b + 1, u64::MAX);
        }
        self.mins[b] = self.mins[b].min(deadline);
    }

    /// Removes a key; returns it (for memory accounting) when it was present.
    pub fn remove(&mut self, key: &[u8]) -> Option<Box<[u8]>> {
        let (i, k, _) = self.keys.swap_remove_full(key)?;
        self.moved_into(i);
        Some(k)
    }

    /// Removes the key at position `i`.
    pub fn remove_at(&mut self, i: usize) -> Option<Box<[u8]>> {
        let (k, _) = self.keys.swap_remove_index(i)?;
        self.moved_into(i);
        Some(k)
    }

    /// After a swap-removal at `i`: the last key now sits at `i` (its bound joins that
    /// block's minimum) and the block count follows the length.
    fn moved_into(&mut self, i: usize) {
        if let Some((_, &bound)) = self.keys.get_index(i) {
            let b = i / BLOCK;
            self.mins[b] = self.mins[b].min(bound);
        }
        self.mins.truncate(self.keys.len().div_ceil(BLOCK));
        // Give memory back once mostly empty, as the key table does: after a million keys
        // expire, their slots here would otherwise stay resident (40 MB in the benchmark).
        let cap = self.keys.capacity();
        if cap > 64 && self.keys.len() < cap / 8 {
            self.keys.shrink_to(self.keys.len() * 2);
            self.mins.shrink_to(self.mins.len() * 2);
        }
    }

    /// The key's deadline moved to `deadline`, possibly earlier than its bound.
    pub fn lower(&mut self, key: &[u8], deadline: u64) {
        if let Some((i, _, bound)) = self.keys.get_full_mut(key) {
            if deadline < *bound {
                *bound = deadline;
                let b = i / BLOCK;
                self.mins[b] = self.mins[b].min(deadline);
            }
        }
    }

    /// The next block of the current pass (walking down), and whether it may hold a key
    /// due at `now`.
    pub fn next_due(&mut self, now: u64) -> Due {
        if !self.in_pass {
            self.cursor = self.mins.len();
            self.in_pass = true;
        }
        // Removals may have shrunk the table under the cursor.
        self.cursor = self.cursor.min(self.mins.len());
        if self.cursor == 0 {
            self.in_pass = false;
            return Due::PassDone;
        }
        self.cursor -= 1;
        if self.mins[self.cursor] <= now {
            Due::Block(self.cursor)
        } else {
            Due::Skip
        }
    }

    /// Positions of block `b`, highest first (the order a sweep must visit them in).
    pub fn positions(&self, b: usize) -> impl Iterator<Item = usize> {
        let start = b * BLOCK;
        (start..(start + BLOCK).min(self.keys.len())).rev()
    }

    /// The key and bound at position `i`, if the table still reaches it.
    pub fn at(&self, i: usize) -> Option<(&[u8], u64)> {
        self.keys.get_index(i).map(|(k, &b)| (&**k, b))
    }

    /// Raises the bound at `i` to the key's actual deadline (found not yet expired).
    pub fn set_bound(&mut self, i: usize, deadline: u64) {
        if let Some((_, bound)) = self.keys.get_index_mut(i) {
            *bound = deadline;
        }
    }

    /// Recomputes block `b`'s minimum from its bounds, after a sweep raised some of them.
    pub fn refresh(&mut self, b: usize) {
        if b >= self.mins.len() {
            return;
        }
        let start = b * BLOCK;
        let end = (start + BLOCK).min(self.keys.len());
        self.mins[b] = (start..end)
            .filter_map(|i| self.keys.get_index(i).map(|(_, &v)| v))
            .min()
            .unwrap_or(u64::MAX);
    }

    pub fn clear(&mut self) {
        self.keys = IndexMap::with_hasher(*self.keys.hasher());
        self.mins = Vec::new();
        self.cursor = 0;
        self.in_pass = false;
    }

    /// Checks the invariants against the keys' actual deadlines: every bound is at most its
    /// key's deadline, every block minimum at most its bounds, one block per 64 keys.
    #[cfg(test)]
    pub fn check(&self, deadline: impl Fn(&[u8]) -> Option<u64>) -> Result<(), String> {
        if self.mins.len() != self.keys.len().div_ceil(BLOCK) {
            return Err(format!(
                "{} blocks for {} keys",
                self.mins.len(),
                self.keys.len()
            ));
        }
        for (i, (k, &bound)) in self.keys.iter().enumerate() {
            match deadline(k) {
                Some(at) if bound <= at => {}
                other => return Err(format!("key {k:?}: bound {bound}, deadline {other:?}")),
            }
            if self.mins[i / BLOCK] > bound {
                return Err(format!(
                    "block {} minimum above the bound of {k:?}",
                    i / BLOCK
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_comes_back_after_most_keys_go() {
        let mut v = Volatile::new(FixedState::with_seed(3));
        for i in 0..10_000u64 {
            v.insert(format!("k{i}").into_bytes().into(), i);
        }
        let full = v.keys.capacity();
        for i in 10..10_000u64 {
            v.remove(format!("k{i}").as_bytes());
        }
        assert!(
            v.keys.capacity() < full / 100,
            "capacity {}",
            v.keys.capacity()
        );
        assert_eq!(v.mins.len(), 1);
        v.check(|k| {
            let i: u64 = std::str::from_utf8(&k[1..]).ok()?.parse().ok()?;
            Some(i)
        })
        .unwrap();
    }

    #[test]
    fn a_pass_visits_every_block_once_then_reports_done() {
        let mut v = Volatile::new(FixedState::with_seed(3));
        for i in 0..200u64 {
            // Blocks 0 and 2 hold a due key; 1 and 3 do not.
            let at = if i == 5 || i == 130 { 10 } else { 1_000 };
            v.insert(format!("k{i}").into_bytes().into(), at);
        }
        let seen: Vec<Due> = std::iter::from_fn(|| Some(v.next_due(100)))
            .take_while(|d| *d != Due::PassDone)
            .collect();
        assert_eq!(seen, [Due::Skip, Due::Block(2), Due::Skip, Due::Block(0)]);
        assert_eq!(v.next_due(100), Due::Skip, "a new pass starts at the top");
    }
}
