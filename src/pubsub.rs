//! Pub/Sub: who listens to which channel or pattern, and delivery. `PUBLISH` encodes a
//! message once per protocol and queues it in each listener's inbox (never waiting on a
//! socket); the listener's connection writes its inbox between batches. A listener that
//! does not read is bounded as Redis bounds it, by `client-output-buffer-limit pubsub`:
//! past the hard limit, or over the soft one for longer than its seconds, it is closed and
//! its queue dropped, never buffered without end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::clients::ClientHandle;
use crate::config::BufferLimit;
use crate::store::glob;

/// One listening connection, as publishers see it.
pub struct Inbox {
    tx: mpsc::UnboundedSender<Bytes>,
    /// Bytes queued and not yet taken by the connection.
    pending: AtomicU64,
    /// Unix ms since which `pending` is over the soft limit (0: it is not).
    over_soft_since: AtomicU64,
    resp3: AtomicBool,
    handle: Arc<ClientHandle>,
}

impl Inbox {
    /// A new inbox and the receiving end the connection keeps.
    pub fn new(
        handle: Arc<ClientHandle>,
        resp3: bool,
    ) -> (Arc<Inbox>, mpsc::UnboundedReceiver<Bytes>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let inbox = Inbox {
            tx,
            pending: AtomicU64::new(0),
            over_soft_since: AtomicU64::new(0),
            resp3: AtomicBool::new(resp3),
            handle,
        };
        (Arc::new(inbox), rx)
    }

    pub fn id(&self) -> u64 {
        self.handle.id
    }

    /// The connection switched protocols (HELLO): later messages are framed for it.
    pub fn set_resp3(&self, on: bool) {
        self.resp3.store(on, Ordering::Relaxed);
    }

    /// The connection took `n` bytes of messages from its queue.
    pub fn taken(&self, n: usize) {
        let _ = self
            .pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some(p.saturating_sub(n as u64))
            });
    }

    /// Bytes waiting (CLIENT LIST's `omem` counts them with the rest of the output).
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Queues a frame unless the limits say the listener is too slow: then it is closed.
    /// Returns whether the listener counts as a receiver (a closed one, on its way out,
    /// does not: Redis has freed it by the next command).
    fn deliver(&self, frame: Bytes, limit: BufferLimit, now_ms: u64) -> bool {
        if self.handle.is_killed() {
            return false;
        }
        let queued = self.pending.load(Ordering::Relaxed) + frame.len() as u64;
        if limit.hard > 0 && queued >= limit.hard {
            self.too_slow(queued);
            return true;
        }
        if limit.soft > 0 && queued >= limit.soft {
            let since = self.over_soft_since.load(Ordering::Relaxed);
            if since == 0 {
                self.over_soft_since.store(now_ms.max(1), Ordering::Relaxed);
            } else if now_ms.saturating_sub(since) > u64::from(limit.soft_seconds) * 1000 {
                self.too_slow(queued);
                return true;
            }
        } else {
            self.over_soft_since.store(0, Ordering::Relaxed);
        }
        self.pending
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
        // A closed receiver: the connection is ending and unsubscribes.
        let _ = self.tx.send(frame);
        true
    }

    fn too_slow(&self, queued: u64) {
        tracing::warn!(
            client = self.handle.id,
            omem = queued,
            "client closed for overcoming of output buffer limits"
        );
        self.handle.kill();
    }
}

type Listeners = HashMap<Bytes, HashMap<u64, Arc<Inbox>>>;

/// Every channel and pattern with its listeners.
#[derive(Default)]
pub struct Hub {
    channels: Mutex<Listeners>,
    patterns: Mutex<Listeners>,
    /// MONITOR clients, by id; `monitoring` mirrors whether there is any, for the command
    /// path's one relaxed load.
    monitors: Mutex<HashMap<u64, Arc<Inbox>>>,
    monitoring: AtomicBool,
}

/// Whether a subscription is to a channel or to a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Channel,
    Pattern,
}

impl Hub {
    fn map(&self, scope: Scope) -> &Mutex<Listeners> {
        match scope {
            Scope::Channel => &self.channels,
            Scope::Pattern => &self.patterns,
        }
    }

    pub fn subscribe(&self, scope: Scope, name: &Bytes, inbox: &Arc<Inbox>) {
        self.map(scope)
            .lock()
            .entry(name.clone())
            .or_default()
            .insert(inbox.id(), inbox.clone());
    }

    pub fn unsubscribe(&self, scope: Scope, name: &[u8], id: u64) {
        let mut map = self.map(scope).lock();
        if let Some(l) = map.get_mut(name) {
            l.remove(&id);
            if l.is_empty() {
                map.remove(name);
            }
        }
    }

    /// PUBLISH: queues the message for every listener of the channel and of every pattern
    /// it matches; returns how many receive it.
    pub fn publish(
        &self,
        channel: &[u8],
        message: &[u8],
        limit: BufferLimit,
        now_ms: u64,
    ) -> usize {
        let mut n = 0;
        let mut frames: [Option<Bytes>; 2] = [None, None];
        {
            let map = self.channels.lock();
            if let Some(listeners) = map.get(channel) {
                for inbox in listeners.values() {
                    let resp3 = inbox.resp3.load(Ordering::Relaxed);
                    let frame = frames[usize::from(resp3)]
                        .get_or_insert_with(|| frame(resp3, &[b"message", channel, message]))
                        .clone();
                    n += usize::from(inbox.deliver(frame, limit, now_ms));
                }
            }
        }
        let map = self.patterns.lock();
        for (pattern, listeners) in map.iter() {
            if !glob::matches(pattern, channel, false) {
                continue;
            }
            let mut frames: [Option<Bytes>; 2] = [None, None];
            for inbox in listeners.values() {
                let resp3 = inbox.resp3.load(Ordering::Relaxed);
                let frame = frames[usize::from(resp3)]
                    .get_or_insert_with(|| frame(resp3, &[b"pmessage", pattern, channel, message]))
                    .clone();
                n += usize::from(inbox.deliver(frame, limit, now_ms));
            }
        }
        n
    }

    /// PUBSUB CHANNELS: the channels with a listener, matching `pattern` if given.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.channels
            .lock()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob::matches(p, c, false)))
            .cloned()
            .collect()
    }

    /// PUBSUB NUMSUB: listeners of a channel (patterns not counted, as in Redis).
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.channels.lock().get(channel).map_or(0, HashMap::len)
    }

    /// PUBSUB NUMPAT: patterns with a listener.
    pub fn numpat(&self) -> usize {
        self.patterns.lock().len()
    }

    /// MONITOR: `inbox` receives every command executed from now on.
    pub fn monitor(&self, inbox: &Arc<Inbox>) {
        let mut m = self.monitors.lock();
        m.insert(inbox.id(), inbox.clone());
        self.monitoring.store(true, Ordering::Relaxed);
    }

    /// Stops feeding the monitor `id` (RESET, or its connection's end).
    pub fn unmonitor(&self, id: u64) {
        let mut m = self.monitors.lock();
        if m.remove(&id).is_some() {
            self.monitoring.store(!m.is_empty(), Ordering::Relaxed);
        }
    }

    /// Whether any client monitors (cheap: read on every command).
    pub fn monitoring(&self) -> bool {
        self.monitoring.load(Ordering::Relaxed)
    }

    /// Sends one MONITOR line (a whole `+...\r\n` frame, the same in both protocols) to
    /// every monitor but `except` (the running client, which writes it among its replies),
    /// within its output limit.
    pub fn feed_monitors(&self, line: Bytes, except: u64, limit: BufferLimit, now_ms: u64) {
        for (id, inbox) in self.monitors.lock().iter() {
            if *id != except {
                inbox.deliver(line.clone(), limit, now_ms);
            }
        }
    }

    /// INFO's pubsub_channels.
    pub fn channel_count(&self) -> usize {
        self.channels.lock().len()
    }
}

/// A push (RESP3) or array (RESP2) of bulk strings.
fn frame(resp3: bool, parts: &[&[u8]]) -> Bytes {
    let mut out = Vec::with_capacity(16 + parts.iter().map(|p| p.len() + 16).sum::<usize>());
    out.push(if resp3 { b'>' } else { b'*' });
    out.extend_from_slice(parts.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for p in parts {
        out.push(b'$');
        out.extend_from_slice(p.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    Bytes::from(out)
}
