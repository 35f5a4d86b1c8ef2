//! The world lock: held shared by every command batch and exclusively by operations that
//! must see or change the whole keyspace at once (EXEC, FLUSHALL, SWAPDB, KEYS).
//!
//! It is striped: a reader locks one stripe (chosen by its connection), a writer locks them
//! all. Readers on different stripes touch different cache lines, so the shared path costs no
//! cross-core traffic; the rare writer pays for all stripes.

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

const STRIPES: usize = 16;

/// One stripe per cache line (128 bytes covers adjacent-line prefetching).
#[repr(align(128))]
struct Stripe(RwLock<()>);

pub struct World {
    stripes: Box<[Stripe]>,
}

/// Shared access through one stripe.
pub struct Shared<'a>(#[allow(dead_code)] RwLockReadGuard<'a, ()>);

/// Exclusive access: every stripe.
pub struct Exclusive<'a>(#[allow(dead_code)] Vec<RwLockWriteGuard<'a, ()>>);

impl Default for World {
    fn default() -> Self {
        World {
            stripes: (0..STRIPES).map(|_| Stripe(RwLock::new(()))).collect(),
        }
    }
}

impl World {
    /// Shared access; `who` picks the stripe (a connection id spreads connections out).
    pub fn read(&self, who: u64) -> Shared<'_> {
        Shared(self.stripes[who as usize % STRIPES].0.read())
    }

    /// Exclusive access; stripes are taken in order, so two writers cannot deadlock.
    pub fn write(&self) -> Exclusive<'_> {
        Exclusive(self.stripes.iter().map(|s| s.0.write()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn a_writer_excludes_readers_of_every_stripe() {
        let w = Arc::new(World::default());
        let inside = Arc::new(AtomicBool::new(false));
        let guard = w.write();
        let handles: Vec<_> = (0..STRIPES as u64)
            .map(|i| {
                let (w, inside) = (w.clone(), inside.clone());
                std::thread::spawn(move || {
                    let _r = w.read(i);
                    inside.load(Ordering::SeqCst)
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(50));
        inside.store(true, Ordering::SeqCst);
        drop(guard);
        // Every reader got in only after the writer left.
        assert!(handles.into_iter().all(|h| h.join().unwrap()));
    }
}
