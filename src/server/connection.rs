//! One client connection: read what is available, execute every complete command in it,
//! answer with one write. Protocol errors reply and close this connection only.
//!
//! Slow clients. A batch's replies are written before more input is read, so a client that
//! does not read its replies is not served further: tollgate applies backpressure where
//! Redis keeps reading and executing and lets the client's reply list grow (unbounded for
//! the `normal` class by default). What a client has pending is thus at most one batch
//! (`FLUSH_AT` of replies, or one larger reply). Its write is bounded as Redis bounds a client
//! that does not read:
//! - `timeout` (when not 0): a write that makes no progress for that long closes the client,
//!   as Redis's `lastinteraction` only moves when a read or a write makes progress;
//! - `client-output-buffer-limit` of the client's class, checked against its pending bytes
//!   beyond Redis's fixed 16 KiB reply buffer (what Redis counts, and CLIENT LIST's `omem`)
//!   when the batch's replies are produced and while they drain: reaching the hard limit
//!   closes the client before anything is written (a batch stops executing commands once its
//!   replies reach it, as Redis stops once the client is flagged to close); staying at or
//!   above the soft limit for longer than its seconds closes it, checked by a timer while the
//!   write waits (Redis's clientsCron checks every client about once a second); a waiting
//!   write also looks at both settings again every second, so a CONFIG SET reaches it;
//! - CLIENT KILL closes it at once. A shutdown does not: the server gives every connection
//!   `shutdown_grace` to finish its write, then drops what is left (`server::run_many`).

use crate::clients::{Registration, OUTPUT_STATIC_BYTES};
use crate::commands::{self, transactions, Ctx};
use crate::protocol::{Decoded, Decoder, Limits, Out};
use crate::session::Client;
use crate::state::State;
use crate::store::world::Held;
use bytes::{Buf, Bytes, BytesMut};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// Replies are flushed once they pass this size even mid-pipeline, so a pipeline of large
/// GETs does not build an unbounded buffer.
const FLUSH_AT: usize = 64 * 1024;
/// How often a write waiting on a client looks at the settings again, so that a CONFIG SET of
/// `timeout` or `client-output-buffer-limit` reaches clients already waiting (Redis's
/// clientsCron visits every client about once a second).
const RECHECK: Duration = Duration::from_secs(1);
/// Read buffer growth step.
const READ_CHUNK: usize = 16 * 1024;
/// A request argument at least this long gets a read buffer sized for it exactly, announced
/// by its bulk header (Redis's `PROTO_MBULK_BIG_ARG`); a read buffer that grew past it is
/// given back once the request is consumed.
const BIG_ARG: usize = 32 * 1024;

pub async fn serve(
    mut stream: TcpStream,
    state: Arc<State>,
    registration: Registration,
    mut shutdown: watch::Receiver<bool>,
) {
    // Held to the end of this task, however it ends: dropping it unlists the client.
    let handle = registration.handle.clone();
    let mut client = Client::new(handle.clone(), !state.auth_required());
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Out::new(false);
    let mut decoder = Decoder::default();
    let mut pending_parse = false;
    // Bytes the request at the front of `rbuf` still needs, when its decoder knows.
    let mut needed = 0;
    // The read buffer's allocation, and its largest since it last shrank (CLIENT LIST
    // `rbs`, `rbp`).
    let mut rbs = rbuf.capacity();
    let mut rbp = rbs;
    // Long-lived futures, polled again on every read instead of re-created: registering
    // a waiter costs a lock each time.
    let stop = async {
        tokio::select! {
            _ = handle.killed() => {}
            _ = shutdown.changed() => {}
        }
    };
    tokio::pin!(stop);
    let idle = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(idle);
    loop {
        if !pending_parse {
            let before = rbs;
            size_read_buffer(&mut rbuf, needed, &mut rbs);
            rbp = if rbs < before { rbs } else { rbp.max(rbs) };
            let timeout = state.idle_timeout();
            if let Some(t) = timeout {
                idle.as_mut().reset(tokio::time::Instant::now() + t);
            }
            // A subscribed client is never idle (Redis exempts it from `timeout`): it waits
            // for messages.
            let subscribed = client.subscriptions() > 0;
            let woke = tokio::select! {
                r = stream.read_buf(&mut rbuf) => Woke::Read(r.unwrap_or_default()),
                m = next_message(&mut client.pubsub) => Woke::Message(m),
                _ = &mut stop => break,
                _ = &mut idle, if timeout.is_some() && !subscribed => {
                    tracing::debug!(client = client.id, "closing idle client");
                    break;
                }
            };
            let n = match woke {
                Woke::Read(n) => n,
                Woke::Message(m) => {
                    take_messages(&mut client, m, &mut out);
                    if !flush(&mut stream, &state, &client, &mut out).await {
                        break;
                    }
                    continue;
                }
            };
            if n == 0 {
                break;
            }
            handle
                .stats
                .net_input_bytes
                .fetch_add(n as u64, Ordering::Relaxed);
            if rbuf.len() as u64 > state.query_buffer_limit() {
                tracing::warn!(
                    client = client.id,
                    qbuf = rbuf.len(),
                    "closing client that reached max query buffer length"
                );
                break;
            }
        }
        let (consumed, more, hint) = process(
            &state,
            &mut client,
            &mut decoder,
            &rbuf,
            &mut out,
            (rbs, rbp),
        );
        pending_parse = more;
        needed = hint;
        rbuf.advance(consumed);
        // Quota changes of this batch are acknowledged only once durable (per appendfsync);
        // the log commits every connection's records with one write and one fsync.
        if crate::persist::journal::take_appended() {
            if let Some(j) = state.persist.journal.get() {
                // Let the other connections of this worker run their batches first: one
                // write (or one fsync) then carries all of their records.
                tokio::task::yield_now().await;
                if let Err(e) = j.barrier().durable().await {
                    // The outcome is unknown to the client either way: closing without the
                    // replies tells it so (an id makes the retry safe).
                    tracing::error!(client = client.id, error = %e, "quota log write failed: closing the client without its replies");
                    break;
                }
            }
        }
        if std::mem::take(&mut client.script_wait) {
            // The replies before it go out now; then the command waits for the script.
            if !flush(&mut stream, &state, &client, &mut out).await {
                break;
            }
            tokio::select! {
                () = state.scripting.running.settled() => {}
                _ = &mut stop => break,
            }
            continue;
        }
        if let Some(wait) = client.blocked.take() {
            // The replies before it go out now, as Redis writes a blocked client's.
            if !flush(&mut stream, &state, &client, &mut out).await {
                break;
            }
            let _blocked = Blocked::count(&state.stats.blocked_clients);
            let resumed = commands::resume_blocked(&state, client.id, wait, &mut out);
            tokio::pin!(resumed);
            let answered = loop {
                tokio::select! {
                    () = &mut resumed => break true,
                    _ = &mut stop => break false,
                    // Read on while waiting, to see the client leave (its later requests
                    // wait in the buffer, as a pipeline's do).
                    r = stream.read_buf(&mut rbuf) => match r {
                        Ok(n) if n > 0 && (rbuf.len() as u64) <= state.query_buffer_limit() => {
                            pending_parse = true;
                        }
                        _ => break false,
                    },
                }
            };
            if !answered {
                break;
            }
        }
        if !flush(&mut stream, &state, &client, &mut out).await {
            break;
        }
        if client.close_after_reply {
            break;
        }
    }
    transactions::end_transaction(&state, &mut client);
    client.unsubscribe_all(&state.pubsub);
    drop(registration);
}

/// What woke a connection waiting for its client.
enum Woke {
    Read(usize),
    Message(Bytes),
}

/// The next Pub/Sub message for this connection; never, without subscriptions.
async fn next_message(pubsub: &mut Option<Box<crate::session::Subscriptions>>) -> Bytes {
    match pubsub {
        Some(p) => match p.rx.recv().await {
            Some(m) => m,
            // The hub holds a sender while the connection has an inbox: not reached.
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// Moves `first` and whatever else is queued (up to a batch's worth) into the replies.
fn take_messages(client: &mut Client, first: Bytes, out: &mut Out) {
    let Some(p) = client.pubsub.as_mut() else {
        return;
    };
    let mut taken = first.len();
    out.raw(&first);
    while taken < FLUSH_AT {
        let Ok(m) = p.rx.try_recv() else {
            break;
        };
        taken += m.len();
        out.raw(&m);
    }
    p.inbox.taken(taken);
}

/// A connection counted in INFO `blocked_clients` while this lives.
struct Blocked<'a>(&'a std::sync::atomic::AtomicU64);

impl<'a> Blocked<'a> {
    fn count(n: &'a std::sync::atomic::AtomicU64) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        Blocked(n)
    }
}

impl Drop for Blocked<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Writes the replies in `out` (if any) and empties it; false when the connection must
/// close (see [`send`]).
async fn flush(stream: &mut TcpStream, state: &State, client: &Client, out: &mut Out) -> bool {
    if out.is_empty() {
        return true;
    }
    let (written, sent) = send(stream, state, client, &out.buf).await;
    client
        .handle
        .stats
        .net_output_bytes
        .fetch_add(written as u64, Ordering::Relaxed);
    if let Err(why) = sent {
        why.log(client);
        return false;
    }
    out.buf.clear();
    if out.buf.capacity() > 4 * FLUSH_AT {
        out.buf.shrink_to(FLUSH_AT);
    }
    true
}

/// Why a batch's replies were not all delivered: the connection closes.
enum Undelivered {
    /// The peer is gone, or CLIENT KILL.
    Closed,
    /// No progress for `timeout`.
    Stalled,
    /// `client-output-buffer-limit` reached, with this many bytes counted.
    OverLimit(u64),
}

impl Undelivered {
    fn log(&self, client: &Client) {
        match self {
            Undelivered::Closed => {}
            Undelivered::Stalled => {
                tracing::debug!(client = client.id, "closing client that stopped reading");
            }
            Undelivered::OverLimit(omem) => tracing::warn!(
                client = client.id,
                omem,
                "client closed for overcoming of output buffer limits"
            ),
        }
    }
}

/// Writes `buf` to the client within the bounds the module documentation describes. Returns
/// the bytes the socket took, and whether that was all of them.
async fn send(
    stream: &mut TcpStream,
    state: &State,
    client: &Client,
    buf: &[u8],
) -> (usize, Result<(), Undelivered>) {
    let handle = &client.handle;
    let class = client.output_class();
    let mut written = 0;
    // When the socket last refused more after taking some (read lazily: the usual write
    // takes everything at once and reads no clock).
    let mut stalled_since: Option<tokio::time::Instant> = None;
    let mut published = false;
    // Since when the pending output has been at or above the soft limit.
    let mut soft_since: Option<tokio::time::Instant> = None;
    let sent = loop {
        let pending = (buf.len() - written) as u64;
        let counted = pending.saturating_sub(OUTPUT_STATIC_BYTES);
        let limit = if counted > 0 {
            state.output_limit(class)
        } else {
            Default::default()
        };
        if limit.hard > 0 && counted >= limit.hard {
            break Err(Undelivered::OverLimit(counted));
        }
        let soft_for = Duration::from_secs(u64::from(limit.soft_seconds));
        if limit.soft > 0 && counted >= limit.soft {
            let since = *soft_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() > soft_for {
                break Err(Undelivered::OverLimit(counted));
            }
        } else {
            soft_since = None;
        }
        if pending == 0 {
            break Ok(());
        }
        match stream.try_write(&buf[written..]) {
            Ok(0) => break Err(Undelivered::Closed),
            Ok(n) => {
                written += n;
                stalled_since = None;
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break Err(Undelivered::Closed),
        }
        // The socket is full: the client is not reading (or not yet). Wait for room, with
        // the deadlines that close a client which does not make room.
        handle.out_pending.store(pending, Ordering::Relaxed);
        published = true;
        let timeout = state.idle_timeout();
        let stall = *stalled_since.get_or_insert_with(tokio::time::Instant::now)
            + timeout.unwrap_or_default();
        // Just past the soft period, so that the check above sees it exceeded.
        let soft_due = soft_since.map(|t| t + soft_for + Duration::from_millis(1));
        tokio::select! {
            r = stream.writable() => if r.is_err() {
                break Err(Undelivered::Closed);
            },
            _ = tokio::time::sleep_until(stall), if timeout.is_some() => {
                break Err(Undelivered::Stalled);
            }
            _ = tokio::time::sleep_until(soft_due.unwrap_or(stall)), if soft_due.is_some() => {}
            _ = tokio::time::sleep(RECHECK) => {}
            _ = handle.killed() => break Err(Undelivered::Closed),
        }
    };
    if published {
        handle.out_pending.store(0, Ordering::Relaxed);
    }
    (written, sent)
}

/// Makes room in the read buffer for the next read. A big argument on its way gets a buffer
/// of exactly its size, allocated once: doubling towards 500 MB would copy the bytes read so
/// far at each step and could leave twice the value's size allocated (the value is then
/// copied once, into its key). A buffer that grew big is given back once emptied (Redis
/// shrinks its query buffers too), so an idle connection that once sent a large value holds
/// 16 KB, not the value's size.
fn size_read_buffer(rbuf: &mut BytesMut, needed: usize, allocated: &mut usize) {
    let spare = rbuf.capacity() - rbuf.len();
    if needed >= BIG_ARG && spare < needed {
        let mut exact = BytesMut::with_capacity(rbuf.len() + needed);
        exact.extend_from_slice(rbuf);
        *rbuf = exact;
    } else if *allocated > BIG_ARG && rbuf.len() < READ_CHUNK && needed < BIG_ARG {
        let mut small = BytesMut::with_capacity(READ_CHUNK);
        small.extend_from_slice(rbuf);
        *rbuf = small;
    } else if spare < 1024 {
        rbuf.reserve(READ_CHUNK);
    } else {
        return;
    }
    // `capacity` counts from the unread start, which the branches above just moved to the
    // front of the allocation: here it is the allocation's size. (After `advance` it is not:
    // hence this count.)
    *allocated = rbuf.capacity();
}

/// Executes the complete commands at the front of `buf`. Returns the bytes consumed, whether
/// complete commands remain (the output filled up first), and how many more bytes the
/// incomplete request after them needs at least (0 when unknown).
fn process(
    state: &State,
    client: &mut Client,
    decoder: &mut Decoder,
    buf: &[u8],
    out: &mut Out,
    (rbs, rbp): (usize, usize),
) -> (usize, bool, usize) {
    let mut consumed = 0;
    // Taken by the first command (unless a script holds it: see `Client::script_wait`).
    let mut world = Held::released(&state.keyspace.world, client.id);
    let now = state.clock.now_ms();
    client.clock = crate::metrics::commands::ticks();
    let mut last_cmd: Option<&'static str> = None;
    let mut needed = 0;
    // Replies are flushed at FLUSH_AT, or sooner at the hard output limit: no command runs
    // after the reply that reached it (the write closes the client).
    let hard = state.output_limit(client.output_class()).hard;
    let flush_at = match hard {
        0 => FLUSH_AT,
        h => usize::try_from(h.saturating_add(OUTPUT_STATIC_BYTES))
            .map_or(FLUSH_AT, |h| h.min(FLUSH_AT)),
    };
    let more = loop {
        // The settings are validated to fit: sizes up to LONG_MAX, counts up to INT_MAX.
        let limits = Limits {
            max_bulk_len: state.proto_max_bulk_len() as i64,
            inline_max: state.inline_max() as usize,
            max_multibulk_len: state.max_multibulk_len() as i64,
            unauth_max_multibulk: state.unauth_max_multibulk() as i64,
            unauth_max_bulk: state.unauth_max_bulk() as i64,
            unauthenticated: state.auth_required() && !client.authenticated,
        };
        let window = &buf[consumed..];
        match decoder.decode(window, &limits) {
            Decoded::Command { consumed: n } => {
                let base = decoder.base(window);
                let ranges = decoder.args();
                let mut stack: [&[u8]; 8] = [&[]; 8];
                let heap: Vec<&[u8]>;
                let args: &[&[u8]] = if ranges.len() <= stack.len() {
                    for (slot, r) in stack.iter_mut().zip(ranges) {
                        *slot = &base[r.clone()];
                    }
                    &stack[..ranges.len()]
                } else {
                    heap = ranges.iter().map(|r| &base[r.clone()]).collect();
                    &heap
                };
                let base = commands::lookup(args[0]);
                let mut ctx = Ctx {
                    state,
                    client,
                    out,
                    now,
                };
                last_cmd = commands::execute(&mut ctx, &mut world, base, args).or(last_cmd);
                if client.script_wait {
                    // Not run: it runs again once the script ends or times out.
                    break true;
                }
                consumed += n;
                if client.close_after_reply {
                    break false;
                }
                if client.blocked.is_some() {
                    // The connection waits for it outside the locks; the rest of the
                    // pipeline runs after its reply.
                    break consumed < buf.len();
                }
                if out.len() >= flush_at {
                    break consumed < buf.len();
                }
            }
            Decoded::Empty { consumed: n } => consumed += n,
            Decoded::Incomplete { hint } => {
                needed = hint;
                break false;
            }
            Decoded::Error(msg) => {
                tracing::debug!(client = client.id, error = %msg, "protocol error");
                let msg = format!("ERR {msg}");
                commands::count_error(state, &msg);
                out.error(&msg);
                client.close_after_reply = true;
                break false;
            }
        }
    };
    drop(world);
    client.flush_stats(state);
    let mut info = client.handle.info.lock();
    info.last_active_ms = now;
    info.db = client.db;
    info.multi = client.multi.as_ref().map_or(-1, |q| q.len() as i64);
    info.watching = client.watched.len();
    info.qbuf = buf.len() - consumed;
    info.rbs = rbs;
    info.rbp = rbp;
    if let Some(name) = last_cmd {
        if info.last_cmd != name {
            info.last_cmd = name.to_string();
        }
    }
    (consumed, more, needed)
}
