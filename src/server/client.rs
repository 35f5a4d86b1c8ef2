//! Per-connection state: what a client selected and negotiated (database, protocol, name,
//! authentication, transaction), and the part of it other clients may read (CLIENT LIST).

use crate::store::WatchFlag;
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// What CLIENT LIST shows about a connection; written by its own task, read by others.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub name: Vec<u8>,
    pub lib_name: Vec<u8>,
    pub lib_ver: Vec<u8>,
    pub db: usize,
    pub resp: u8,
    pub last_cmd: String,
    pub last_active: Instant,
    pub multi: i64,
    pub watching: usize,
    pub qbuf: usize,
    pub obuf: usize,
}

/// The registry's view of one connection.
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created: Instant,
    pub info: Mutex<ClientInfo>,
    pub stats: crate::state::Traffic,
    killed: AtomicBool,
    wake: Notify,
}

impl ClientHandle {
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr) -> Self {
        let now = Instant::now();
        ClientHandle {
            id,
            addr,
            laddr,
            created: now,
            info: Mutex::new(ClientInfo {
                name: Vec::new(),
                lib_name: Vec::new(),
                lib_ver: Vec::new(),
                db: 0,
                resp: 2,
                last_cmd: "NULL".into(),
                last_active: now,
                multi: -1,
                watching: 0,
                qbuf: 0,
                obuf: 0,
            }),
            stats: Default::default(),
            killed: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Asks the connection to close (CLIENT KILL, shutdown).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    pub async fn killed(&self) {
        while !self.is_killed() {
            self.wake.notified().await;
        }
    }

    /// One line of CLIENT LIST / CLIENT INFO, with Redis's field names and order.
    pub fn describe(&self, own: bool) -> String {
        let i = self.info.lock();
        let age = self.created.elapsed().as_secs();
        let idle = i.last_active.elapsed().as_secs();
        let flags = if i.multi >= 0 { "x" } else { "N" };
        let cmd = if own {
            "client|info".to_string()
        } else {
            i.last_cmd.clone()
        };
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem={} tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            String::from_utf8_lossy(&i.name),
            age,
            idle,
            flags,
            i.db,
            i.multi,
            i.qbuf,
            i.obuf,
            cmd,
            i.resp,
            String::from_utf8_lossy(&i.lib_name),
            String::from_utf8_lossy(&i.lib_ver),
        )
    }
}

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
            watched: Vec::new(),
            watch_flag: Arc::new(AtomicBool::new(false)),
            close_after_reply: false,
            tally: Default::default(),
            clock: crate::metrics::commands::ticks(),
            handle,
        }
    }
}
