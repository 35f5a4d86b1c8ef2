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
            if rbuf.capacity() - rbuf.len() < 1024 {
                rbuf.reserve(READ_CHUNK);
            }
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
        let (consumed, more) = process(&state, &mut client, &mut decoder, &rbuf, &mut out);
        pending_parse = more;
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

/// Executes the complete commands at the front of `buf`. Returns the bytes consumed and
/// whether complete commands remain (the output filled up first).
fn process(
    state: &State,
    client: &mut Client,
    decoder: &mut Decoder,
    buf: &[u8],
    out: &mut Out,
) -> (usize, bool) {
    let mut consumed = 0;
    let mut world = Held::shared(&state.keyspace.world, client.id);
    let now = state.clock.now_ms();
    client.clock = crate::metrics::commands::ticks();
    let mut last_cmd: Option<&'static str> = None;
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
            Decoded::Incomplete { .. } => break false,
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
    if let Some(name) = last_cmd {
        if info.last_cmd != name {
            info.last_cmd = name.to_string();
        }
    }
    (consumed, more)
}
