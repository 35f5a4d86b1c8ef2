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
    /// A command that must wait (a CACHE.FETCH behind another client's fill, a BLPOP on
    /// empty lists): the batch stops after it and the connection awaits it outside every lock.
    pub blocked: Option<Blocked>,
    /// A script is running (its commands never block, as in Redis).
    pub in_script: bool,
    /// MONITOR: this connection's inbox receives every command run (`pubsub` holds it).
    pub monitor: bool,
    /// The last command was not run: another connection's script runs within its
    /// `busy-reply-threshold`. The batch stops before it; the connection waits for the
    /// script to end or time out, then runs it (Redis reads nothing from others meanwhile).
    pub script_wait: bool,
    /// Pub/Sub: this connection's inbox and subscriptions, once it subscribed.
    pub pubsub: Option<Box<Subscriptions>>,
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

/// What a blocked command waits for.
pub enum Blocked {
    /// A CACHE.FETCH behind another client's fill.
    Cache(crate::cache::Wait),
    /// BLPOP and friends on empty keys.
    Keys(Arc<crate::blocking::Waiter>),
}

impl Client {
    /// Whether a command may block here: not inside MULTI/EXEC or a script, where Redis
    /// answers as if the wait timed out at once.
    pub fn may_block(&self) -> bool {
        !self.in_exec && !self.in_script
    }

    /// Which `client-output-buffer-limit` class applies: normal, until pub/sub exists (a
    /// subscribed client will be `Pubsub`; tollgate has no replicas).
    pub fn output_class(&self) -> crate::config::ClientClass {
        if self.subscriptions() > 0 {
            crate::config::ClientClass::Pubsub
        } else {
            crate::config::ClientClass::Normal
        }
    }

    /// Channels and patterns this connection listens to.
    pub fn subscriptions(&self) -> usize {
        self.pubsub
            .as_ref()
            .map_or(0, |p| p.channels.len() + p.patterns.len())
    }

    /// Leaves every channel and pattern, and the MONITOR feed (RESET, the connection's end).
    pub fn unsubscribe_all(&mut self, hub: &crate::pubsub::Hub) {
        if std::mem::take(&mut self.monitor) {
            hub.unmonitor(self.id);
            self.handle.set_monitor(false);
        }
        if let Some(p) = self.pubsub.take() {
            for c in &p.channels {
                hub.unsubscribe(crate::pubsub::Scope::Channel, c, self.id);
            }
            for c in &p.patterns {
                hub.unsubscribe(crate::pubsub::Scope::Pattern, c, self.id);
            }
            self.handle.set_subscriptions(0, 0);
        }
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
            in_script: false,
            monitor: false,
            script_wait: false,
            pubsub: None,
            watched: Vec::new(),
            watch_flag: Arc::new(AtomicBool::new(false)),
            close_after_reply: false,
            tally: Default::default(),
            clock: crate::metrics::commands::ticks(),
            handle,
        }
    }
}

/// One connection's Pub/Sub side: the inbox publishers queue into, its receiving end, and
/// the channels and patterns it listens to (in subscription order).
pub struct Subscriptions {
    pub inbox: std::sync::Arc<crate::pubsub::Inbox>,
    pub rx: tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes>,
    pub channels: indexmap::IndexSet<bytes::Bytes>,
    pub patterns: indexmap::IndexSet<bytes::Bytes>,
}
