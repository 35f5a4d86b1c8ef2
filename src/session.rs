//! A connection's own state, owned by its task: what the client selected and negotiated
//! (database, protocol, authentication, transaction, WATCHes) and its statistics tally.

use crate::clients::ClientHandle;
use crate::store::WatchFlag;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// A key this client WATCHes.
pub struct Watched {
    pub db: usize,
    pub key: Vec<u8>,
    /// Whether the key was already logically expired when watched (Redis then ignores
    /// its expiry at EXEC).
    pub expired: bool,
}

/// The connection's own state, owned by its task.
pub struct Client {
    pub id: u64,
    pub db: usize,
    pub resp3: bool,
    pub authenticated: bool,
    /// Commands queued since MULTI; `None` outside a transaction.
    pub multi: Option<Vec<Vec<Vec<u8>>>>,
    /// A command failed to queue: EXEC must abort.
    pub multi_dirty: bool,
    /// EXEC is running the queued commands (Redis's `server.in_exec`: BGSAVE is scheduled).
    pub in_exec: bool,
    /// A command that must wait (a CACHE.FETCH behind another client's fill): the batch
    /// stops after it and the connection awaits it outside every lock.
    pub blocked: Option<crate::cache::Wait>,
    pub watched: Vec<Watched>,
    pub watch_flag: WatchFlag,
    /// Reply, then close (QUIT, protocol errors, CLIENT KILL of oneself).
    pub close_after_reply: bool,
    /// Per-command statistics since the last `flush_stats` (batched: folded once per read,
    /// not per command).
    pub tally: crate::metrics::commands::Tally,
    /// When the previous command ended (or the current batch began): a command's start.
    pub clock: u64,
    pub handle: Arc<ClientHandle>,
}

impl Client {
    /// Which `client-output-buffer-limit` class applies: normal, until pub/sub exists (a
    /// subscribed client will be `Pubsub`; tollgate has no replicas).
    pub fn output_class(&self) -> crate::config::ClientClass {
        crate::config::ClientClass::Normal
    }

    /// Folds the commands run since the last call into the server's statistics: per command
    /// (INFO commandstats/latencystats) and in this connection's `total_commands_processed`.
    pub fn flush_stats(&mut self, state: &crate::state::State) {
        if self.tally.is_empty() {
            return;
        }
        let calls = state.commands.absorb(&mut self.tally);
        self.handle
            .stats
            .commands_processed
            .fetch_add(calls, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Self {
        Client {
            id: handle.id,
            db: 0,
            resp3: false,
            authenticated,
            multi: None,
            multi_dirty: false,
            in_exec: false,
            blocked: None,
            watched: Vec::new(),
            watch_flag: Arc::new(AtomicBool::new(false)),
            close_after_reply: false,
            tally: Default::default(),
            clock: crate::metrics::commands::ticks(),
            handle,
        }
    }
}
