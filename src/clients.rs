//! The client registry: the part of each connection that other connections and INFO read
//! (CLIENT LIST/KILL, `connected_clients`), its traffic counters, and the totals of the
//! connections that have closed. A connection's own state is `crate::session`.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// Per-connection traffic counters. Each connection counts into its own (no cache line
/// shared between cores on the hot path); INFO adds up the live ones and the closed ones.
#[derive(Debug, Default)]
pub struct Traffic {
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
}

impl Traffic {
    fn add(&self, other: &Traffic) {
        for (a, b) in self.fields().into_iter().zip(other.fields()) {
            a.fetch_add(b.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    fn fields(&self) -> [&AtomicU64; 3] {
        [
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
        ]
    }

    pub fn reset(&self) {
        for f in self.fields() {
            f.store(0, Ordering::Relaxed);
        }
    }

    pub fn get(&self) -> (u64, u64, u64) {
        let [c, i, o] = self.fields().map(|f| f.load(Ordering::Relaxed));
        (c, i, o)
    }
}

/// Connected clients by id, and the traffic of those that have closed.
#[derive(Default)]
pub struct Registry {
    live: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
    /// Traffic of connections that have closed.
    closed: Traffic,
}

impl Registry {
    /// Registers a new connection. It stays listed until the returned guard is dropped,
    /// which happens however its task ends, a panic included.
    /// `fd` is the connection's socket descriptor (CLIENT LIST); `now_ms` the server clock.
    pub fn register(
        self: &Arc<Self>,
        addr: SocketAddr,
        laddr: SocketAddr,
        fd: i64,
        now_ms: u64,
    ) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = Arc::new(ClientHandle {
            fd,
            ..ClientHandle::new(id, addr, laddr, now_ms)
        });
        self.live.lock().insert(id, handle.clone());
        Registration {
            registry: self.clone(),
            handle,
        }
    }

    pub fn len(&self) -> usize {
        self.live.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The connected clients, by id.
    pub fn list(&self) -> Vec<Arc<ClientHandle>> {
        self.live.lock().values().cloned().collect()
    }

    /// Commands, input bytes and output bytes since start (or `reset_traffic`).
    pub fn traffic(&self) -> (u64, u64, u64) {
        let (mut c, mut i, mut o) = self.closed.get();
        for h in self.live.lock().values() {
            let (hc, hi, ho) = h.stats.get();
            c += hc;
            i += hi;
            o += ho;
        }
        (c, i, o)
    }

    /// Zeroes every traffic counter (CONFIG RESETSTAT).
    /// The largest read buffer and the most pending output among the connected clients
    /// (INFO's `client_recent_max_input_buffer` and `client_recent_max_output_buffer`).
    pub fn largest_buffers(&self) -> (u64, u64) {
        self.list().iter().fold((0, 0), |(i, o), c| {
            let (rbs, pending) = c.buffers();
            (i.max(rbs), o.max(pending))
        })
    }

    pub fn reset_traffic(&self) {
        self.closed.reset();
        for h in self.live.lock().values() {
            h.stats.reset();
        }
    }

    fn remove(&self, id: u64) {
        if let Some(h) = self.live.lock().remove(&id) {
            self.closed.add(&h.stats);
        }
    }
}

/// A connection's place in the registry; dropping it unlists the connection and folds its
/// traffic into the closed totals.
pub struct Registration {
    registry: Arc<Registry>,
    pub handle: Arc<ClientHandle>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.remove(self.handle.id);
    }
}

/// What CLIENT LIST shows about a connection; written by its own task, read by others.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub name: Vec<u8>,
    pub lib_name: Vec<u8>,
    pub lib_ver: Vec<u8>,
    pub db: usize,
    pub resp: u8,
    pub last_cmd: String,
    /// Server clock, unix ms.
    pub last_active_ms: u64,
    pub multi: i64,
    pub watching: usize,
    /// Bytes read but not yet executed (an incomplete request).
    pub qbuf: usize,
    /// The read buffer's size, and its largest size since it was last shrunk.
    pub rbs: usize,
    pub rbp: usize,
    /// Pub/Sub channels and patterns listened to (CLIENT LIST `sub`, `psub`, flag `P`).
    pub sub: usize,
    pub psub: usize,
    /// In MONITOR mode (CLIENT LIST flag `O`).
    pub monitor: bool,
}

/// Redis's fixed reply buffer per client (PROTO_REPLY_CHUNK_BYTES). Redis counts output
/// beyond it, in its reply list, as the client's output buffer memory (`omem`, and what
/// `client-output-buffer-limit` bounds); the first 16 KiB show as `obl`.
pub const OUTPUT_STATIC_BYTES: u64 = 16 * 1024;

/// The registry's view of one connection.
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    /// The socket's descriptor; -1 for a client without one (in-process tests), as Redis
    /// shows its fake clients.
    pub fd: i64,
    /// Server clock, unix ms.
    pub created_ms: u64,
    pub info: Mutex<ClientInfo>,
    pub stats: Traffic,
    /// Reply bytes produced but not yet taken by the socket, while a write waits for the
    /// client to read (0 otherwise): CLIENT LIST's obl, oll and omem.
    pub out_pending: AtomicU64,
    killed: AtomicBool,
    wake: Notify,
}

impl ClientHandle {
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr, now_ms: u64) -> Self {
        ClientHandle {
            id,
            addr,
            laddr,
            fd: -1,
            created_ms: now_ms,
            info: Mutex::new(ClientInfo {
                name: Vec::new(),
                lib_name: Vec::new(),
                lib_ver: Vec::new(),
                db: 0,
                resp: 2,
                last_cmd: "NULL".into(),
                last_active_ms: now_ms,
                multi: -1,
                watching: 0,
                qbuf: 0,
                rbs: 0,
                rbp: 0,
                sub: 0,
                psub: 0,
                monitor: false,
            }),
            out_pending: AtomicU64::new(0),
            stats: Default::default(),
            killed: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Asks the connection to close (CLIENT KILL, shutdown).
    /// Records how many channels and patterns the connection listens to.
    pub fn set_subscriptions(&self, sub: usize, psub: usize) {
        let mut i = self.info.lock();
        i.sub = sub;
        i.psub = psub;
    }

    /// Records that the connection monitors (MONITOR) or stopped (RESET).
    pub fn set_monitor(&self, on: bool) {
        self.info.lock().monitor = on;
    }

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
    /// The read buffer's allocation and the output not yet taken by the socket, in bytes.
    pub fn buffers(&self) -> (u64, u64) {
        let rbs = self.info.lock().rbs as u64;
        (rbs, self.out_pending.load(Ordering::Relaxed))
    }

    /// Seconds since the connection was accepted.
    pub fn age_secs(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.created_ms) / 1000
    }

    pub fn describe(&self, own: bool, now_ms: u64) -> String {
        let i = self.info.lock();
        let age = self.age_secs(now_ms);
        let idle = now_ms.saturating_sub(i.last_active_ms) / 1000;
        let flags = if i.monitor {
            "O"
        } else if i.multi >= 0 {
            "x"
        } else if i.sub + i.psub > 0 {
            "P"
        } else {
            "N"
        };
        let (obl, oll, omem) = output_fields(self.out_pending.load(Ordering::Relaxed));
        // Redis watches a client for writability while it has output pending.
        let events = if obl > 0 { "rw" } else { "r" };
        let cmd = if own {
            "client|info".to_string()
        } else {
            i.last_cmd.clone()
        };
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events={} cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            String::from_utf8_lossy(&i.name),
            age,
            idle,
            flags,
            i.db,
            i.sub,
            i.psub,
            i.multi,
            i.qbuf,
            i.rbs.saturating_sub(i.qbuf),
            i.rbs,
            i.rbp,
            obl,
            oll,
            omem,
            // Its buffers: the read buffer's allocation and the output pending.
            i.rbs as u64 + self.out_pending.load(Ordering::Relaxed),
            events,
            cmd,
            i.resp,
            String::from_utf8_lossy(&i.lib_name),
            String::from_utf8_lossy(&i.lib_ver),
        )
    }
}

/// CLIENT LIST's `obl`, `oll` and `omem` for `pending` bytes of output, laid out as Redis
/// would hold them: the first 16 KiB in the client's fixed buffer (obl), the rest in reply
/// blocks of 16 KiB (oll of them, omem bytes). tollgate keeps the bytes in one buffer.
pub fn output_fields(pending: u64) -> (u64, u64, u64) {
    let obl = pending.min(OUTPUT_STATIC_BYTES);
    let omem = pending - obl;
    (obl, omem.div_ceil(OUTPUT_STATIC_BYTES), omem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 1))
    }

    #[test]
    fn a_panicking_connection_is_unlisted_and_its_traffic_kept() {
        let reg = Arc::new(Registry::default());
        let r = reg.clone();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let me = r.register(addr(), addr(), -1, 0);
            me.handle
                .stats
                .net_input_bytes
                .fetch_add(7, Ordering::Relaxed);
            assert_eq!(r.len(), 1);
            panic!("a bug in a command");
        }));
        assert!(outcome.is_err());
        assert_eq!(reg.len(), 0);
        assert_eq!(reg.traffic(), (0, 7, 0));
    }

    #[test]
    fn pending_output_shows_as_redis_lays_it_out() {
        assert_eq!(output_fields(0), (0, 0, 0));
        assert_eq!(output_fields(10), (10, 0, 0));
        assert_eq!(output_fields(16 * 1024), (16 * 1024, 0, 0));
        assert_eq!(output_fields(16 * 1024 + 1), (16 * 1024, 1, 1));
        assert_eq!(
            output_fields(1 << 20),
            (16 * 1024, 63, (1 << 20) - 16 * 1024)
        );
        let reg = Arc::new(Registry::default());
        let me = reg.register(addr(), addr(), -1, 0);
        me.handle.out_pending.store(40_000, Ordering::Relaxed);
        let line = me.handle.describe(false, 0);
        assert!(
            line.contains(" obl=16384 oll=2 omem=23616 ") && line.contains(" events=rw "),
            "{line}"
        );
    }

    #[test]
    fn ids_start_at_one_and_grow() {
        let reg = Arc::new(Registry::default());
        let a = reg.register(addr(), addr(), -1, 0);
        let b = reg.register(addr(), addr(), -1, 0);
        assert_eq!((a.handle.id, b.handle.id), (1, 2));
        drop(a);
        assert_eq!(reg.list().iter().map(|h| h.id).collect::<Vec<_>>(), vec![2]);
    }
}
