//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET and CLIENT. `parse`
//! turns arguments into requests; the functions here act on the connection and reply.

pub mod parse;

use super::flag::*;
use super::transactions::end_transaction;
use super::{cmd, help, tips, CmdError, CmdResult, Ctx, Spec};
use crate::protocol::args;
use parse::{Auth, ClientKill, ClientList, Hello, HelloOption, LibAttr};

/// The version tollgate reports where clients read Redis's (HELLO, INFO).
pub const REDIS_VERSION: &str = "7.0.15";

pub fn ping(ctx: &mut Ctx, message: Option<&[u8]>) -> CmdResult {
    // A RESP2 connection with a subscription reads replies as Pub/Sub frames: Redis answers
    // ["pong", message or ""].
    if !ctx.client.resp3 && ctx.client.subscriptions() > 0 {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(message.unwrap_or_default());
        return Ok(());
    }
    match message {
        None => ctx.out.simple("PONG"),
        Some(m) => ctx.out.bulk(m),
    }
    Ok(())
}

pub fn echo(ctx: &mut Ctx, message: &[u8]) -> CmdResult {
    ctx.out.bulk(message);
    Ok(())
}

fn wrongpass() -> CmdError {
    CmdError::other("WRONGPASS invalid username-password pair or user is disabled.")
}

/// Checks a username/password pair against the single `default` user.
fn authenticate(ctx: &mut Ctx, user: &[u8], pass: &[u8]) -> CmdResult {
    if user == b"default" && ctx.state.check_password(pass) {
        ctx.client.authenticated = true;
        Ok(())
    } else {
        Err(wrongpass())
    }
}

/// HELLO: each option acts in turn (an AUTH or a name before a refused option stays done,
/// as in Redis 7.0), then the protocol switches and the connection is described.
pub fn hello(ctx: &mut Ctx, req: Hello) -> CmdResult {
    for opt in req.options {
        match opt {
            HelloOption::Auth { user, pass } => authenticate(ctx, user, pass)?,
            HelloOption::SetName(name) => set_name(ctx, parse::hello_name(name)?),
        }
    }
    if let Some(opt) = req.refused {
        return Err(parse::hello_option_error(opt));
    }
    if ctx.state.auth_required() && !ctx.client.authenticated {
        return Err(CmdError::other("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(ver) = req.protover {
        ctx.client.resp3 = ver == 3;
        ctx.out.resp3 = ver == 3;
        if let Some(p) = &ctx.client.pubsub {
            p.inbox.set_resp3(ver == 3);
        }
        ctx.client.handle.info.lock().resp = ver;
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if ctx.client.resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

pub fn auth(ctx: &mut Ctx, req: Auth) -> CmdResult {
    match req.user {
        None => {
            if !ctx.state.auth_required() {
                return Err(CmdError::other("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
            }
            authenticate(ctx, b"default", req.pass)?;
        }
        Some(user) => authenticate(ctx, user, req.pass)?,
    }
    ctx.out.ok();
    Ok(())
}

pub fn select(ctx: &mut Ctx, index: i64) -> CmdResult {
    let db = usize::try_from(index)
        .ok()
        .filter(|&db| db < ctx.state.keyspace.databases())
        .ok_or(CmdError::DbIndex)?;
    ctx.client.db = db;
    ctx.out.ok();
    Ok(())
}

pub fn quit(ctx: &mut Ctx, (): ()) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.out.ok();
    Ok(())
}

pub fn reset(ctx: &mut Ctx, (): ()) -> CmdResult {
    end_transaction(ctx.state, ctx.client);
    ctx.client.unsubscribe_all(&ctx.state.pubsub);
    ctx.client.db = 0;
    ctx.client.resp3 = false;
    ctx.out.resp3 = false;
    ctx.client.authenticated = !ctx.state.auth_required();
    {
        let mut info = ctx.client.handle.info.lock();
        info.name.clear();
        info.resp = 2;
    }
    ctx.out.simple("RESET");
    Ok(())
}

#[rustfmt::skip]
pub static CLIENT_SUBCOMMANDS: &[Spec] = &[
    cmd!("client|id", 2, NOSCRIPT | LOADING | STALE, "connection", "slow connection", args::no_sub_args => client_id),
    cmd!("client|setname", 3, NOSCRIPT | LOADING | STALE, "connection", "slow connection", parse::client_setname => client_setname),
    cmd!("client|getname", 2, NOSCRIPT | LOADING | STALE, "connection", "slow connection", args::no_sub_args => client_getname),
    cmd!("client|setinfo", 4, NOSCRIPT | LOADING | STALE, "connection", "slow connection", parse::client_setinfo => client_setinfo),
    cmd!("client|list", -2, ADMIN | NOSCRIPT | LOADING | STALE, "connection", "admin slow dangerous connection", parse::client_list => client_list, tips: tips::NONDETERMINISTIC),
    cmd!("client|info", 2, NOSCRIPT | LOADING | STALE, "connection", "slow connection", args::no_sub_args => client_info, tips: tips::NONDETERMINISTIC),
    cmd!("client|kill", -3, ADMIN | NOSCRIPT | LOADING | STALE, "connection", "admin slow dangerous connection", parse::client_kill => client_kill),
    cmd!("client|unblock", -3, ADMIN | NOSCRIPT | LOADING | STALE, "connection", "admin slow dangerous connection", parse::client_unblock => client_unblock),
    cmd!("client|help", 2, LOADING | STALE, "connection", "slow connection", args::no_sub_args => client_help),
];

/// Ends another client's wait on keys (BLPOP and friends), as a timeout or with an error:
/// 1 if it was blocked. A CACHE.FETCH waiting for a fill is not unblocked (0).
fn client_unblock(ctx: &mut Ctx, (id, error): (i64, bool)) -> CmdResult {
    let done = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.state.blocking.of_client(id))
        .is_some_and(|w| w.unblock(error));
    ctx.out.int(i64::from(done));
    Ok(())
}

fn client_id(ctx: &mut Ctx, (): ()) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

/// Names the connection (a name checked by `parse`; empty clears it).
fn set_name(ctx: &mut Ctx, name: &[u8]) {
    ctx.client.handle.info.lock().name = name.to_vec();
}

fn client_setname(ctx: &mut Ctx, name: &[u8]) -> CmdResult {
    set_name(ctx, name);
    ctx.out.ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx, (): ()) -> CmdResult {
    let name = ctx.client.handle.info.lock().name.clone();
    if name.is_empty() {
        ctx.out.null();
    } else {
        ctx.out.bulk(&name);
    }
    Ok(())
}

/// CLIENT SETINFO LIB-NAME|LIB-VER (Redis 7.2; stock clients send it at connect).
fn client_setinfo(ctx: &mut Ctx, (attr, value): (LibAttr, &[u8])) -> CmdResult {
    let mut info = ctx.client.handle.info.lock();
    match attr {
        LibAttr::Name => info.lib_name = value.to_vec(),
        LibAttr::Version => info.lib_ver = value.to_vec(),
    }
    drop(info);
    ctx.out.ok();
    Ok(())
}

/// CLIENT LIST: every client, none, or the clients of the ids given, in their order (an id
/// given twice lists its client twice, as Redis does).
fn client_list(ctx: &mut Ctx, req: ClientList) -> CmdResult {
    let handles = ctx.state.clients.list();
    let mut text = String::new();
    let mut describe = |h: &crate::clients::ClientHandle| {
        text.push_str(&h.describe(false, ctx.now));
        text.push('\n');
    };
    match req {
        ClientList::All => handles.iter().for_each(|h| describe(h)),
        ClientList::Nobody => {}
        ClientList::Ids(ids) => {
            for id in ids {
                if let Some(h) = handles.iter().find(|h| i64::try_from(h.id) == Ok(id)) {
                    describe(h);
                }
            }
        }
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn client_info(ctx: &mut Ctx, (): ()) -> CmdResult {
    let mut line = ctx.client.handle.describe(true, ctx.now);
    line.push('\n');
    ctx.out.verbatim(line.as_bytes());
    Ok(())
}

fn client_kill(ctx: &mut Ctx, req: ClientKill) -> CmdResult {
    let handles = ctx.state.clients.list();
    let me = ctx.client.id;
    let f = match req {
        ClientKill::Addr(addr) => {
            // The old form may kill the caller too.
            let addr = String::from_utf8_lossy(addr);
            let Some(h) = handles.iter().find(|h| h.addr.to_string() == addr) else {
                return Err(CmdError::other("ERR No such client"));
            };
            kill(ctx, h, me);
            ctx.out.ok();
            return Ok(());
        }
        ClientKill::Filters(f) => f,
    };
    let addr = f.addr.map(String::from_utf8_lossy);
    let laddr = f.laddr.map(String::from_utf8_lossy);
    let mut killed = 0;
    for h in &handles {
        let matched = f.id.is_none_or(|i| h.id == i)
            && addr.as_ref().is_none_or(|a| h.addr.to_string() == *a)
            && laddr.as_ref().is_none_or(|a| h.laddr.to_string() == *a)
            && f.maxage.is_none_or(|m| h.age_secs(ctx.now) >= m)
            && !(f.skipme && h.id == me)
            && !f.nobody;
        if matched {
            kill(ctx, h, me);
            killed += 1;
        }
    }
    ctx.out.int(killed);
    Ok(())
}

fn kill(ctx: &mut Ctx, h: &crate::clients::ClientHandle, me: u64) {
    if h.id == me {
        ctx.client.close_after_reply = true;
    } else {
        h.kill();
    }
}

fn client_help(ctx: &mut Ctx, (): ()) -> CmdResult {
    help(
        ctx,
        "CLIENT",
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "    * MAXAGE <maxage>",
            "      Kill connections older than the specified age.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
        ],
    )
}
