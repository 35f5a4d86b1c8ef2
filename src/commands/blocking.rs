//! The blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP on lists; BZPOPMIN,
//! BZPOPMAX, BZMPOP on sorted sets) and LMPOP, as Redis 7.0's `t_list.c`, `t_zset.c` and
//! `blocked.c` have them.
//!
//! A blocking command that finds an element acts at once, as its plain form does. Finding
//! none, it registers a `blocking::Waiter` while it holds its keys' shard locks and leaves
//! it in `Client::blocked`: the batch ends there and the connection awaits [`resume`]
//! outside every lock. Whoever creates a list while clients wait has the shard note the key
//! (`store::ready`); after that client's command (a whole MULTI/EXEC or script counts as
//! one), `commands::execute` calls [`serve_ready`], which pops for the waiters of each noted
//! key in the order they blocked and hands each its reply. Inside MULTI/EXEC or a script
//! nothing blocks: an empty key answers as a timeout would (BLMOVE there answers a nil
//! bulk, as Redis does).

use std::sync::Arc;

use super::lists::parse::{BlockPop, Move, MultiPop};
use super::lists::{is_list, move_in, take_n, write_list_in};
use super::zsets::parse::MPop;
use crate::blocking::{Op, Outcome, Waiter};
use crate::commands::{CmdError, CmdResult, Ctx};
use crate::protocol::reply::Out;
use crate::state::State;
use crate::store::Shard;

/// Pops up to `count` elements (one, replied as a bare element, when `count` is none) from
/// the list at `key` and writes `[key, element(s)]`. `Ok(false)`: no list there.
fn pop_reply(
    shard: &mut Shard,
    key: &[u8],
    left: bool,
    count: Option<u64>,
    now: u64,
    out: &mut Out,
) -> Result<bool, CmdError> {
    let popped = write_list_in(shard, key, now, false, |l| {
        let v = take_n(l, count.unwrap_or(1), left);
        let written = !v.is_empty();
        Ok((v, written))
    })?;
    let Some(v) = popped.filter(|v| !v.is_empty()) else {
        return Ok(false);
    };
    out.array(2);
    out.bulk(key);
    match (count, v.first()) {
        (None, Some(first)) => out.bulk(first),
        _ => {
            out.array(v.len());
            for x in &v {
                out.bulk(x);
            }
        }
    }
    Ok(true)
}

/// Pops for `op` from the value at `key` if it holds something for it, writing the reply;
/// `Ok(false)`: nothing there (the key is missing). A value of another type is WRONGTYPE.
fn pop_for(
    op: &Op,
    shard: &mut Shard,
    key: &[u8],
    now: u64,
    out: &mut Out,
) -> Result<bool, CmdError> {
    match op {
        Op::Pop { left, count } => pop_reply(shard, key, *left, *count, now, out),
        Op::ZPop { max, count } => super::zsets::pop_reply(shard, key, *max, *count, now, out),
        // Moves are served by `move_in`, under both keys' locks.
        Op::Move { .. } => Ok(false),
    }
}

/// The first of `keys` that holds a value pops for `op`; none: the client waits (or, where
/// nothing may block or with no timeout, gets the null array). Keys are looked at in order,
/// and a key of another type answers WRONGTYPE when reached.
fn pop_first(ctx: &mut Ctx, keys: &[&[u8]], op: Op, timeout: Option<u64>) -> CmdResult {
    let state = ctx.state;
    let db = ctx.client.db;
    let mut locked = state.keyspace.lock_keys(db, keys.iter());
    for key in keys {
        if pop_for(&op, locked.get(key), key, ctx.now, ctx.out)? {
            return Ok(());
        }
    }
    match timeout {
        Some(t) if ctx.client.may_block() => block(ctx, keys, op, t),
        _ => ctx.out.null_array(),
    }
    drop(locked);
    Ok(())
}

/// Registers the client as waiting on `keys` (the caller holds their shards' locks).
fn block(ctx: &mut Ctx, keys: &[&[u8]], op: Op, timeout_ms: u64) {
    let deadline = match timeout_ms {
        0 => 0,
        t => ctx.now.saturating_add(t),
    };
    let keys = keys.iter().map(|k| Box::from(*k)).collect();
    let w = Waiter::new(
        ctx.client.id,
        ctx.client.db,
        ctx.client.resp3,
        keys,
        op,
        deadline,
    );
    ctx.state.blocking.add(&ctx.state.keyspace, w.clone());
    ctx.client.blocked = Some(crate::session::Blocked::Keys(w));
}

pub fn blpop(ctx: &mut Ctx, (keys, timeout): BlockPop) -> CmdResult {
    let op = Op::Pop {
        left: true,
        count: None,
    };
    pop_first(ctx, keys, op, Some(timeout))
}

pub fn brpop(ctx: &mut Ctx, (keys, timeout): BlockPop) -> CmdResult {
    let op = Op::Pop {
        left: false,
        count: None,
    };
    pop_first(ctx, keys, op, Some(timeout))
}

pub fn lmpop(ctx: &mut Ctx, req: MultiPop) -> CmdResult {
    let op = Op::Pop {
        left: req.left,
        count: Some(req.count),
    };
    pop_first(ctx, req.keys, op, None)
}

pub fn blmpop(ctx: &mut Ctx, (req, timeout): (MultiPop, u64)) -> CmdResult {
    let op = Op::Pop {
        left: req.left,
        count: Some(req.count),
    };
    pop_first(ctx, req.keys, op, Some(timeout))
}

pub fn bzpopmin(ctx: &mut Ctx, (keys, timeout): BlockPop) -> CmdResult {
    let op = Op::ZPop {
        max: false,
        count: None,
    };
    pop_first(ctx, keys, op, Some(timeout))
}

pub fn bzpopmax(ctx: &mut Ctx, (keys, timeout): BlockPop) -> CmdResult {
    let op = Op::ZPop {
        max: true,
        count: None,
    };
    pop_first(ctx, keys, op, Some(timeout))
}

pub fn bzmpop(ctx: &mut Ctx, (req, timeout): (MPop, u64)) -> CmdResult {
    let op = Op::ZPop {
        max: req.max,
        count: Some(req.count),
    };
    pop_first(ctx, req.keys, op, Some(timeout))
}

/// BLMOVE and BRPOPLPUSH: LMOVE when the source holds a list, else a wait (or, where
/// nothing may block, a nil).
fn block_move(ctx: &mut Ctx, (req, timeout): (Move, u64)) -> CmdResult {
    let (src, dst, from_left, to_left) = req;
    let state = ctx.state;
    loop {
        {
            let mut shard = state.keyspace.shard(ctx.client.db, src);
            if !is_list(&mut shard, src, ctx.now)? {
                if ctx.client.may_block() {
                    let op = Op::Move {
                        dst: dst.into(),
                        from_left,
                        to_left,
                    };
                    block(ctx, &[src], op, timeout);
                } else {
                    ctx.out.null();
                }
                return Ok(());
            }
        }
        // The source's lock was let go to take both keys' in order: another client may
        // have emptied it meanwhile, then this looks again.
        if let Some(v) = move_in(state, ctx.client.db, ctx.now, req, true)? {
            ctx.out.bulk(&v);
            return Ok(());
        }
    }
}

pub fn blmove(ctx: &mut Ctx, req: (Move, u64)) -> CmdResult {
    block_move(ctx, req)
}

pub fn brpoplpush(ctx: &mut Ctx, req: (Move, u64)) -> CmdResult {
    block_move(ctx, req)
}

/// Serves the clients waiting on the keys this thread's last command made ready, in the
/// order they blocked, until each key runs out or has no more waiters; a BLMOVE's push may
/// make another key ready, which is served in turn (Redis's `handleClientsBlockedOnKeys`).
pub fn serve_ready(state: &State, now: u64) {
    loop {
        let ready = crate::store::ready::take();
        if ready.is_empty() {
            return;
        }
        for (db, key) in ready {
            while let Some(w) = state.blocking.first(db, &key) {
                if !w.serve(|w| serve_one(state, w, &key, now)) {
                    // The first waiter finds nothing: neither would the others.
                    break;
                }
                state.blocking.remove(&state.keyspace, &w);
            }
        }
    }
}

/// The reply for `w` from the value at `key`, or `None` when there is nothing for it there
/// (any more). A BLMOVE whose destination holds another type gets WRONGTYPE and stops waiting,
/// as in Redis; nothing moves.
fn serve_one(state: &State, w: &Waiter, key: &[u8], now: u64) -> Option<Vec<u8>> {
    let mut out = Out {
        buf: Vec::new(),
        resp3: w.resp3,
    };
    match &w.op {
        Op::Move {
            dst,
            from_left,
            to_left,
        } => match move_in(state, w.db, now, (key, dst, *from_left, *to_left), true) {
            Ok(Some(v)) => {
                out.bulk(&v);
                Some(out.buf)
            }
            Ok(None) => None,
            Err(e) => {
                let msg = e.to_string();
                crate::commands::count_error(state, &msg);
                out.error(&msg);
                Some(out.buf)
            }
        },
        op => {
            let mut shard = state.keyspace.shard(w.db, key);
            match pop_for(op, &mut shard, key, now, &mut out) {
                Ok(true) => Some(out.buf),
                // Nothing there, or (replaced meanwhile) another type: it keeps waiting.
                _ => None,
            }
        }
    }
}

/// Waits for a blocked client's outcome, outside every lock, and writes its reply: the
/// element(s) served, or at the deadline (or `CLIENT UNBLOCK`) the null array a timed-out
/// list command answers. Dropped early (the client left, the server stops), the waiter
/// is given up and unregistered, so nothing is popped for it afterwards.
pub async fn resume(state: &State, w: Arc<Waiter>, out: &mut Out) {
    struct Leave<'a>(&'a State, &'a Arc<Waiter>);
    impl Drop for Leave<'_> {
        fn drop(&mut self) {
            self.1.outcome(true);
            self.0.blocking.remove(&self.0.keyspace, self.1);
        }
    }
    let _leave = Leave(state, &w);
    let outcome = loop {
        let now = state.clock.now_ms();
        let due = w.deadline != 0 && now >= w.deadline;
        if let Some(o) = w.outcome(due) {
            break o;
        }
        if w.deadline == 0 {
            w.changed().await;
        } else {
            let pause = std::time::Duration::from_millis(w.deadline - now);
            tokio::select! {
                () = w.changed() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    };
    match outcome {
        Outcome::Served(reply) => out.raw(&reply),
        Outcome::Unblocked { error: true } => {
            let msg = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
            crate::commands::count_error(state, msg);
            out.error(msg);
        }
        Outcome::Waiting | Outcome::Gone | Outcome::Unblocked { error: false } => {
            out.null_array();
        }
    }
}
