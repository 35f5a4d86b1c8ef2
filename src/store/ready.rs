//! Keys that blocked clients may now be served from (Redis's `signalKeyAsReady`): a key of a
//! kind clients block on (a list) that was created or replaced while any client waits. The
//! shard notes it here, on the thread that ran the command; the command layer takes the
//! notes after each top-level command (a whole MULTI/EXEC or script counts as one) and serves
//! the waiters. Nothing is noted while no client waits: the write paths pay one relaxed
//! atomic load.

use std::cell::RefCell;

thread_local! {
    static READY: RefCell<Vec<(usize, Box<[u8]>)>> = const { RefCell::new(Vec::new()) };
}

/// Notes that `key` of database `db` may have become servable.
pub fn note(db: usize, key: &[u8]) {
    READY.with(|r| {
        let mut r = r.borrow_mut();
        if !r.iter().any(|(d, k)| *d == db && &k[..] == key) {
            r.push((db, key.into()));
        }
    });
}

/// The keys noted on this thread since the last call, in the order they were noted.
pub fn take() -> Vec<(usize, Box<[u8]>)> {
    READY.with(|r| std::mem::take(&mut *r.borrow_mut()))
}

/// Whether anything was noted on this thread (cheap: no allocation).
pub fn any() -> bool {
    READY.with(|r| !r.borrow().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_taken_once_in_order_without_repeats() {
        note(0, b"a");
        note(1, b"a");
        note(0, b"a");
        assert!(any());
        let got = take();
        assert_eq!(
            got,
            vec![(0, Box::from(&b"a"[..])), (1, Box::from(&b"a"[..]))]
        );
        assert!(!any());
        assert!(take().is_empty());
    }
}
