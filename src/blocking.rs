//! Clients blocked on keys (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP), as Redis's
//! `blocked.c` keeps them: per (database, key) the waiters in the order they blocked.
//!
//! A client that finds every key empty registers a [`Waiter`] while it still holds the
//! locks of the keys' shards, so a push cannot slip between its look and its registration
//! (the shard notes a created key only while `Keyspace::set_waiters` says someone waits, see
//! `store::ready`). After each top-level command, the connection that ran it serves the
//! waiters of the keys it made ready, first come first served, and hands each its reply
//! through the waiter ([`Waiter::serve`]); the blocked connection awaits it outside every lock.
//! A waiter's outcome is decided once, under its own mutex: served, timed out, unblocked or
//! gone (its client left), so an element is never popped for a client that stopped waiting.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::store::Keyspace;

/// What a blocked command does once its key has elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// BLPOP/BRPOP (`count` none: one element, replied with its key) and BLMPOP (up to
    /// `count` elements).
    Pop { left: bool, count: Option<u64> },
    /// BZPOPMIN/BZPOPMAX (`count` none: one member, replied with its key and score) and
    /// BZMPOP (up to `count` members).
    ZPop { max: bool, count: Option<u64> },
    /// BLMOVE/BRPOPLPUSH: pop from the key, push to `dst`, reply the element.
    Move {
        dst: Box<[u8]>,
        from_left: bool,
        to_left: bool,
    },
}

/// How a wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Waiting,
    /// The encoded reply, in the waiter's protocol.
    Served(Vec<u8>),
    /// `CLIENT UNBLOCK`: answer as a timeout, or with the UNBLOCKED error.
    Unblocked {
        error: bool,
    },
    /// Timed out, or the client left: nothing more may be served to it.
    Gone,
}

/// One blocked client.
pub struct Waiter {
    pub client_id: u64,
    pub db: usize,
    pub resp3: bool,
    /// The keys it waits on, in the order given (served from whichever is ready first).
    pub keys: Vec<Box<[u8]>>,
    pub op: Op,
    /// Unix ms when it gives up; 0: never.
    pub deadline: u64,
    outcome: Mutex<Outcome>,
    wake: tokio::sync::Notify,
}

impl Waiter {
    pub fn new(
        client_id: u64,
        db: usize,
        resp3: bool,
        keys: Vec<Box<[u8]>>,
        op: Op,
        deadline: u64,
    ) -> Arc<Waiter> {
        Arc::new(Waiter {
            client_id,
            db,
            resp3,
            keys,
            op,
            deadline,
            outcome: Mutex::new(Outcome::Waiting),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// Runs `serve` for this waiter if it still waits, holding its outcome meanwhile (so it
    /// cannot time out halfway): `serve` returns the reply, or `None` when the key has nothing
    /// for it after all (the waiter keeps waiting). Returns whether the waiter is done with
    /// (served now, or no longer waiting).
    pub fn serve(&self, serve: impl FnOnce(&Waiter) -> Option<Vec<u8>>) -> bool {
        let mut outcome = self.outcome.lock();
        if *outcome != Outcome::Waiting {
            return true;
        }
        match serve(self) {
            Some(reply) => {
                *outcome = Outcome::Served(reply);
                drop(outcome);
                self.wake.notify_one();
                true
            }
            None => false,
        }
    }

    /// Ends the wait from outside (`CLIENT UNBLOCK`); false when it was already over.
    pub fn unblock(&self, error: bool) -> bool {
        let mut outcome = self.outcome.lock();
        if *outcome != Outcome::Waiting {
            return false;
        }
        *outcome = Outcome::Unblocked { error };
        drop(outcome);
        self.wake.notify_one();
        true
    }

    /// The outcome once decided, else `None`. `give_up` decides it as `Gone` (a timeout, or
    /// the client leaving) when nothing else did first.
    pub fn outcome(&self, give_up: bool) -> Option<Outcome> {
        let mut outcome = self.outcome.lock();
        match &*outcome {
            Outcome::Waiting if give_up => {
                *outcome = Outcome::Gone;
                Some(Outcome::Gone)
            }
            Outcome::Waiting => None,
            done => Some(done.clone()),
        }
    }

    /// Resolves when the outcome may have changed.
    pub async fn changed(&self) {
        self.wake.notified().await;
    }
}

/// Every blocked client, by key and by client id.
#[derive(Default)]
pub struct Registry {
    inner: Mutex<Inner>,
}

/// A key of one database.
type DbKey = (usize, Box<[u8]>);

#[derive(Default)]
struct Inner {
    by_key: HashMap<DbKey, VecDeque<Arc<Waiter>>>,
    by_client: HashMap<u64, Arc<Waiter>>,
}

impl Registry {
    /// Registers `w` on each of its keys. The caller holds the locks of the keys' shards:
    /// from here on, a push to any of them is noted for serving.
    pub fn add(&self, ks: &Keyspace, w: Arc<Waiter>) {
        let mut inner = self.inner.lock();
        for k in &w.keys {
            inner
                .by_key
                .entry((w.db, k.clone()))
                .or_default()
                .push_back(w.clone());
        }
        inner.by_client.insert(w.client_id, w);
        ks.set_waiters(inner.by_client.len());
    }

    /// Forgets `w` (served, timed out, unblocked or gone).
    pub fn remove(&self, ks: &Keyspace, w: &Arc<Waiter>) {
        let mut inner = self.inner.lock();
        for k in &w.keys {
            let slot = (w.db, k.clone());
            if let Some(q) = inner.by_key.get_mut(&slot) {
                q.retain(|x| !Arc::ptr_eq(x, w));
                if q.is_empty() {
                    inner.by_key.remove(&slot);
                }
            }
        }
        if inner
            .by_client
            .get(&w.client_id)
            .is_some_and(|x| Arc::ptr_eq(x, w))
        {
            inner.by_client.remove(&w.client_id);
        }
        ks.set_waiters(inner.by_client.len());
    }

    /// The first waiter on `key` of `db`, if any.
    pub fn first(&self, db: usize, key: &[u8]) -> Option<Arc<Waiter>> {
        let inner = self.inner.lock();
        inner
            .by_key
            .get(&(db, Box::from(key)))
            .and_then(|q| q.front().cloned())
    }

    /// The waiter of a client, if it is blocked on keys.
    pub fn of_client(&self, client_id: u64) -> Option<Arc<Waiter>> {
        self.inner.lock().by_client.get(&client_id).cloned()
    }

    /// Clients blocked on keys (INFO `blocked_clients` counts them with the cache's).
    pub fn len(&self) -> usize {
        self.inner.lock().by_client.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(id: u64, keys: &[&str]) -> Arc<Waiter> {
        let keys = keys.iter().map(|k| Box::from(k.as_bytes())).collect();
        Waiter::new(
            id,
            0,
            false,
            keys,
            Op::Pop {
                left: true,
                count: None,
            },
            0,
        )
    }

    #[test]
    fn waiters_are_first_come_first_served_per_key() {
        let ks = Keyspace::new(1, 1);
        let r = Registry::default();
        let (a, b) = (waiter(1, &["k", "j"]), waiter(2, &["k"]));
        r.add(&ks, a.clone());
        r.add(&ks, b.clone());
        assert_eq!(r.len(), 2);
        assert_eq!(r.first(0, b"k").unwrap().client_id, 1);
        assert_eq!(r.first(0, b"j").unwrap().client_id, 1);
        assert!(a.serve(|_| Some(b"*-1\r\n".to_vec())));
        r.remove(&ks, &a);
        assert_eq!(r.first(0, b"k").unwrap().client_id, 2);
        assert!(r.first(0, b"j").is_none());
        assert_eq!(a.outcome(true), Some(Outcome::Served(b"*-1\r\n".to_vec())));
    }

    #[test]
    fn an_outcome_is_decided_once() {
        let w = waiter(1, &["k"]);
        // Nothing to serve: still waiting.
        assert!(!w.serve(|_| None));
        assert_eq!(w.outcome(false), None);
        // Timed out: a later serve does not run, an unblock does nothing.
        assert_eq!(w.outcome(true), Some(Outcome::Gone));
        assert!(w.serve(|_| panic!("served after giving up")));
        assert!(!w.unblock(true));
        let u = waiter(2, &["k"]);
        assert!(u.unblock(false));
        assert_eq!(u.outcome(true), Some(Outcome::Unblocked { error: false }));
    }
}
