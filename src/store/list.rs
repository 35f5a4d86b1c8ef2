//! List values (LPUSH and friends): a deque of elements, each its own allocation, with the
//! heap bytes they hold kept as they come and go, so memory accounting costs O(1) per write.
//! Redis 7.0 encodes every list as a `quicklist` (7.2 added `listpack` for small ones), so
//! this one representation reports that name.

use std::collections::VecDeque;

/// A list value. Never empty once stored: the commands delete a list they empty.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct List {
    items: VecDeque<Box<[u8]>>,
    /// Heap bytes of the elements' allocations.
    bytes: usize,
}

fn alloc(n: usize) -> usize {
    crate::alloc::block_size(n)
}

/// Redis's index convention: negative counts from the end. The position, if inside `len`.
pub fn resolve(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if index < 0 { len + index } else { index };
    (0..len).contains(&i).then_some(i as usize)
}

/// LRANGE/LTRIM's clamping of `start..=stop` (negative from the end) to positions; `None`
/// when the range is empty.
pub fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 {
        len.saturating_add(start)
    } else {
        start
    };
    let mut stop = if stop < 0 {
        len.saturating_add(stop)
    } else {
        stop
    };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize))
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// What `OBJECT ENCODING` replies (Redis 7.0's only list encoding).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Room for `n` more elements, growing as pushes would (amortized doubling), but exactly
    /// `n` for a new list: `RPUSH k a b c d e` holds 5 slots, not the 8 single pushes reach.
    pub fn reserve(&mut self, n: usize) {
        self.items.reserve(n);
    }

    pub fn push_front(&mut self, v: &[u8]) {
        self.bytes += alloc(v.len());
        self.items.push_front(v.into());
    }

    pub fn push_back(&mut self, v: &[u8]) {
        self.bytes += alloc(v.len());
        self.items.push_back(v.into());
    }

    fn took(&mut self, v: Option<Box<[u8]>>) -> Option<Box<[u8]>> {
        if let Some(v) = &v {
            self.bytes -= alloc(v.len());
        }
        self.shrink();
        v
    }

    pub fn pop_front(&mut self) -> Option<Box<[u8]>> {
        let v = self.items.pop_front();
        self.took(v)
    }

    pub fn pop_back(&mut self) -> Option<Box<[u8]>> {
        let v = self.items.pop_back();
        self.took(v)
    }

    /// Gives back the deque's slack once it is mostly empty (a list that grew and was
    /// popped must not keep its peak memory); amortized O(1).
    fn shrink(&mut self) {
        let cap = self.items.capacity();
        if cap > 16 && self.items.len() < cap / 4 {
            self.items.shrink_to(cap / 2);
        }
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.items.get(i).map(|b| &b[..])
    }

    /// Replaces the element at `i` (< len).
    pub fn set(&mut self, i: usize, v: &[u8]) {
        if let Some(slot) = self.items.get_mut(i) {
            self.bytes += alloc(v.len());
            self.bytes -= alloc(slot.len());
            *slot = v.into();
        }
    }

    /// Inserts `v` at position `i` (<= len).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        self.bytes += alloc(v.len());
        self.items.insert(i, v.into());
    }

    pub fn remove(&mut self, i: usize) -> Option<Box<[u8]>> {
        let v = self.items.remove(i);
        self.took(v)
    }

    /// Keeps only positions `start..=stop`; `None` empties the list.
    pub fn trim(&mut self, keep: Option<(usize, usize)>) {
        match keep {
            None => {
                self.items.clear();
                self.bytes = 0;
            }
            Some((start, stop)) => {
                for v in self.items.drain(stop + 1..) {
                    self.bytes -= alloc(v.len());
                }
                for v in self.items.drain(..start) {
                    self.bytes -= alloc(v.len());
                }
            }
        }
        self.shrink();
    }

    /// Removes elements equal to `v`: all when `count` is 0, the first `count` from the head
    /// when positive, from the tail when negative. How many went.
    pub fn remove_eq(&mut self, v: &[u8], count: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
        };
        let mut removed = 0;
        let mut freed = 0;
        if count >= 0 {
            self.items.retain(|x| {
                if removed < limit && &x[..] == v {
                    removed += 1;
                    freed += alloc(x.len());
                    false
                } else {
                    true
                }
            });
        } else {
            let mut i = self.items.len();
            while i > 0 && removed < limit {
                i -= 1;
                if &self.items[i][..] == v {
                    if let Some(x) = self.items.remove(i) {
                        freed += alloc(x.len());
                        removed += 1;
                    }
                }
            }
        }
        self.bytes -= freed;
        self.shrink();
        removed
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator + '_ {
        self.items.iter().map(|b| &b[..])
    }

    /// Heap bytes held beyond the struct itself, rounded as the allocator does; O(1).
    pub fn heap_size(&self) -> usize {
        self.bytes + alloc(self.items.capacity() * std::mem::size_of::<Box<[u8]>>())
    }
}

impl std::fmt::Debug for List {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(l: &List) -> Vec<&[u8]> {
        l.iter().collect()
    }

    fn books(l: &List) -> usize {
        l.iter().map(|v| alloc(v.len())).sum()
    }

    #[test]
    fn books_follow_every_change() {
        let mut l = List::new();
        for i in 0..200u32 {
            let v = format!("value-{i}").repeat((i % 7) as usize);
            if i % 2 == 0 {
                l.push_back(v.as_bytes());
            } else {
                l.push_front(v.as_bytes());
            }
            assert_eq!(l.bytes, books(&l));
        }
        l.set(3, b"x");
        l.insert(5, b"value-0value-0");
        l.remove(7);
        assert_eq!(l.bytes, books(&l));
        l.remove_eq(b"", 0);
        l.remove_eq(b"x", -1);
        assert_eq!(l.bytes, books(&l));
        l.trim(clamp_range(10, -10, l.len()));
        assert_eq!(l.bytes, books(&l));
        while l.pop_front().is_some() {
            assert_eq!(l.bytes, books(&l));
        }
        assert!(l.heap_size() <= alloc(16 * 16), "{}", l.heap_size());
    }

    #[test]
    fn remove_eq_counts_from_either_end() {
        let mut l = List::new();
        for v in [b"a", b"b", b"a", b"c", b"a"] {
            l.push_back(v);
        }
        assert_eq!(l.remove_eq(b"a", -2), 2);
        assert_eq!(items(&l), [&b"a"[..], b"b", b"c"]);
        assert_eq!(l.remove_eq(b"a", 5), 1);
        assert_eq!(items(&l), [&b"b"[..], b"c"]);
    }

    #[test]
    fn indexes_and_ranges_as_redis() {
        assert_eq!(resolve(-1, 3), Some(2));
        assert_eq!(resolve(-4, 3), None);
        assert_eq!(resolve(3, 3), None);
        assert_eq!(clamp_range(0, -1, 3), Some((0, 2)));
        assert_eq!(clamp_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(clamp_range(2, 1, 3), None);
        assert_eq!(clamp_range(5, 10, 3), None);
        assert_eq!(clamp_range(i64::MIN, i64::MIN, 3), None);
        assert_eq!(clamp_range(0, 0, 0), None);
    }
}
