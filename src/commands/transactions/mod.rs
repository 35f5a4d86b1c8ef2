//! MULTI/EXEC/DISCARD/WATCH/UNWATCH. EXEC runs with the keyspace to itself (the connection
//! holds the world lock exclusively), so a transaction is atomic as in Redis. `parse` reads
//! WATCH's keys; the functions here change the connection's transaction state and reply.

pub mod parse;

use super::{CmdError, CmdResult, Ctx};
use crate::session::{Client, Watched};
use crate::state::State;
use std::sync::atomic::Ordering;

pub fn multi(ctx: &mut Ctx, (): ()) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::other("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_dirty = false;
    ctx.out.ok();
    Ok(())
}

pub fn discard(ctx: &mut Ctx, (): ()) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err(CmdError::other("ERR DISCARD without MULTI"));
    }
    end_transaction(ctx.state, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// Leaves MULTI state and drops every WATCH.
pub fn end_transaction(state: &State, client: &mut Client) {
    client.multi = None;
    client.multi_dirty = false;
    unwatch_all(state, client);
}

pub fn unwatch_all(state: &State, client: &mut Client) {
    for w in client.watched.drain(..) {
        state
            .keyspace
            .shard(w.db, &w.key)
            .unwatch(&w.key, &client.watch_flag);
    }
    client.watch_flag.store(false, Ordering::Release);
}

pub fn exec(ctx: &mut Ctx, (): ()) -> CmdResult {
    let Some(queue) = ctx.client.multi.take() else {
        return Err(CmdError::other("ERR EXEC without MULTI"));
    };
    if ctx.client.multi_dirty {
        end_transaction(ctx.state, ctx.client);
        return Err(CmdError::other(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    if watch_broken(ctx) {
        end_transaction(ctx.state, ctx.client);
        ctx.out.null_array();
        return Ok(());
    }
    // Unwatch first, as Redis does: commands in the transaction do not abort it.
    unwatch_all(ctx.state, ctx.client);
    ctx.out.array(queue.len());
    ctx.client.in_exec = true;
    for cmd in &queue {
        let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_slice()).collect();
        match super::resolve(&args) {
            Ok(spec) => super::run(ctx, spec, &args),
            Err(e) => super::reply_error(ctx, &e),
        }
    }
    ctx.client.in_exec = false;
    ctx.client.multi_dirty = false;
    Ok(())
}

/// Whether a watched key changed, or expired since it was watched.
fn watch_broken(ctx: &mut Ctx) -> bool {
    if ctx.client.watch_flag.load(Ordering::Acquire) {
        return true;
    }
    ctx.client.watched.iter().any(|w| {
        !w.expired
            && ctx
                .state
                .keyspace
                .shard(w.db, &w.key)
                .is_expired(&w.key, ctx.now)
    })
}

pub fn watch(ctx: &mut Ctx, keys: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::other("ERR WATCH inside MULTI is not allowed"));
    }
    let db = ctx.client.db;
    for key in keys {
        if ctx
            .client
            .watched
            .iter()
            .any(|w| w.db == db && w.key == *key)
        {
            continue;
        }
        let mut s = ctx.state.keyspace.shard(db, key);
        let expired = s.is_expired(key, ctx.now);
        s.watch(key, &ctx.client.watch_flag);
        ctx.client.watched.push(Watched {
            db,
            key: key.to_vec(),
            expired,
        });
    }
    ctx.out.ok();
    Ok(())
}

pub fn unwatch(ctx: &mut Ctx, (): ()) -> CmdResult {
    unwatch_all(ctx.state, ctx.client);
    ctx.out.ok();
    Ok(())
}
