//! One client connection: read what is available, execute every complete command in it,
//! answer with one write. Protocol errors reply and close this connection only.

use crate::clients::Registration;
use crate::commands::{self, transactions, Ctx};
use crate::protocol::{Decoded, Decoder, Limits, Out};
use crate::session::Client;
use crate::state::State;
use crate::store::world::Held;
use bytes::{Buf, BytesMut};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// Replies are flushed once they pass this size even mid-pipeline, so a pipeline of large
/// GETs does not build an unbounded buffer.
const FLUSH_AT: usize = 64 * 1024;
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
    let mut rbp = 0;
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
            size_read_buffer(&mut rbuf, needed, &mut rbs);
            let timeout = state.idle_timeout();
            if let Some(t) = timeout {
                idle.as_mut().reset(tokio::time::Instant::now() + t);
            }
            let n = tokio::select! {
                r = stream.read_buf(&mut rbuf) => r.unwrap_or_default(),
                _ = &mut stop => break,
                _ = &mut idle, if timeout.is_some() => {
                    tracing::debug!(client = client.id, "closing idle client");
                    break;
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
            (rbs, &mut rbp),
        );
        pending_parse = more;
        needed = hint;
        rbuf.advance(consumed);
        if !out.is_empty() {
            if stream.write_all(&out.buf).await.is_err() {
                break;
            }
            handle
                .stats
                .net_output_bytes
                .fetch_add(out.len() as u64, Ordering::Relaxed);
            out.buf.clear();
            if out.buf.capacity() > 4 * FLUSH_AT {
                out.buf.shrink_to(FLUSH_AT);
            }
        }
        if client.close_after_reply {
            break;
        }
    }
    transactions::end_transaction(&state, &mut client);
    drop(registration);
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
    (rbs, rbp): (usize, &mut usize),
) -> (usize, bool, usize) {
    let mut consumed = 0;
    let mut world = Held::shared(&state.keyspace.world, client.id);
    let now = state.clock.now_ms();
    client.clock = crate::metrics::commands::ticks();
    let mut last_cmd: Option<&'static str> = None;
    let mut needed = 0;
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
                consumed += n;
                if client.close_after_reply {
                    break false;
                }
                if out.len() >= FLUSH_AT {
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
    if rbs < info.rbs {
        *rbp = 0;
    }
    *rbp = (*rbp).max(rbs);
    info.rbs = rbs;
    info.rbp = *rbp;
    if let Some(name) = last_cmd {
        if info.last_cmd != name {
            info.last_cmd = name.to_string();
        }
    }
    (consumed, more, needed)
}
