//! The world lock: held shared by every command batch and exclusively by operations that
//! must see or change the whole keyspace at once (EXEC, FLUSHALL, SWAPDB, KEYS).
//!
//! It is striped: a reader locks one stripe (chosen by its connection), a writer locks them
//! all. Readers on different stripes touch different cache lines, so the shared path costs no
//! cross-core traffic; the rare writer pays for all stripes.

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

const STRIPES: usize = 16;
/// How long a waiter waits before asking again whether to give up.
const PATIENCE: std::time::Duration = std::time::Duration::from_millis(1);

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

/// The world lock as a batch of commands holds it: shared, switched to exclusive for a
/// command that needs the whole keyspace and back (see [`Held::ensure`]).
pub struct Held<'a> {
    world: &'a World,
    who: u64,
    guard: Guard<'a>,
}

enum Guard<'a> {
    Shared(#[allow(dead_code)] Shared<'a>),
    Exclusive(#[allow(dead_code)] Exclusive<'a>),
    /// Between two modes: nothing held.
    Released,
}

impl<'a> Held<'a> {
    /// Shared access for the connection `who`.
    pub fn shared(world: &'a World, who: u64) -> Self {
        Held {
            world,
            who,
            guard: Guard::Shared(world.read(who)),
        }
    }

    /// Nothing held yet: the first [`Held::ensure`] takes the lock.
    pub fn released(world: &'a World, who: u64) -> Self {
        Held {
            world,
            who,
            guard: Guard::Released,
        }
    }

    /// Holds the lock in the mode the next command needs. A switch releases the lock
    /// before taking it in the other mode (other batches may run in between).
    pub fn ensure(&mut self, exclusive: bool) {
        self.ensure_unless(exclusive, || false);
    }

    /// [`Held::ensure`], giving up (false, nothing held) when `give_up` says so while the
    /// lock is not to be had: a connection must not park its thread for the length of a
    /// script that holds the lock (it waits for it asynchronously instead). `give_up` is
    /// asked every millisecond of waiting, never when the lock is free.
    pub fn ensure_unless(&mut self, exclusive: bool, give_up: impl Fn() -> bool) -> bool {
        match (&self.guard, exclusive) {
            (Guard::Shared(_), false) | (Guard::Exclusive(_), true) => return true,
            _ => self.guard = Guard::Released,
        }
        let guard = if exclusive {
            self.world.write_unless(&give_up).map(Guard::Exclusive)
        } else {
            self.world
                .read_unless(self.who, &give_up)
                .map(Guard::Shared)
        };
        match guard {
            Some(g) => {
                self.guard = g;
                true
            }
            None => false,
        }
    }

    /// Lets go of the lock (a command that runs beside a busy script holds none).
    pub fn release(&mut self) {
        self.guard = Guard::Released;
    }

    pub fn is_exclusive(&self) -> bool {
        matches!(self.guard, Guard::Exclusive(_))
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

    /// `read`, unless `give_up` says so while waiting.
    fn read_unless(&self, who: u64, give_up: &impl Fn() -> bool) -> Option<Shared<'_>> {
        let stripe = &self.stripes[who as usize % STRIPES].0;
        if let Some(g) = stripe.try_read() {
            return Some(Shared(g));
        }
        loop {
            if give_up() {
                return None;
            }
            if let Some(g) = stripe.try_read_for(PATIENCE) {
                return Some(Shared(g));
            }
        }
    }

    /// `write`, unless `give_up` says so while waiting (what it took so far is let go).
    fn write_unless(&self, give_up: &impl Fn() -> bool) -> Option<Exclusive<'_>> {
        let mut held = Vec::with_capacity(STRIPES);
        for s in self.stripes.iter() {
            let g = match s.0.try_write() {
                Some(g) => g,
                None => loop {
                    if give_up() {
                        return None;
                    }
                    if let Some(g) = s.0.try_write_for(PATIENCE) {
                        break g;
                    }
                },
            };
            held.push(g);
        }
        Some(Exclusive(held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn held_switches_modes_and_releases_in_between() {
        let w = World::default();
        let stripe = |i: usize| &w.stripes[i].0;
        let mut h = Held::shared(&w, 3);
        assert!(!h.is_exclusive() && stripe(3).try_write().is_none());
        h.ensure(true);
        assert!(h.is_exclusive());
        assert!(
            (0..STRIPES).all(|i| stripe(i).try_read().is_none()),
            "every stripe"
        );
        h.ensure(true);
        h.ensure(false);
        assert!(!h.is_exclusive());
        assert!(stripe(3).try_read().is_some() && stripe(3).try_write().is_none());
        assert!(stripe(4).try_write().is_some(), "only its own stripe");
        drop(h);
        assert!(stripe(3).try_write().is_some());
    }

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
