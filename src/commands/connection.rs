//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET and CLIENT.

use super::flag::*;
use super::transactions::end_transaction;
use super::{cmd, help, legacy, tips, CmdError, CmdResult, Ctx, Spec};
use crate::protocol::args::{self, is};

/// The version tollgate reports where clients read Redis's (HELLO, INFO).
pub const REDIS_VERSION: &str = "7.0.15";

pub fn ping(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 2 {
        return Err(CmdError::WrongArgs("ping".into()));
    }
    match args.get(1) {
        None => ctx.out.simple("PONG"),
        Some(m) => ctx.out.bulk(m),
    }
    Ok(())
}

pub fn echo(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.out.bulk(args[1]);
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

pub fn hello(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut ver = 0;
    let mut next = 1;
    if args.len() >= 2 {
        ver = crate::protocol::parse::parse_i64(args[1]).ok_or_else(|| {
            CmdError::other("ERR Protocol version is not an integer or out of range")
        })?;
        next = 2;
        if !(2..=3).contains(&ver) {
            return Err(CmdError::other("NOPROTO unsupported protocol version"));
        }
    }
    let mut auth: Option<(&[u8], &[u8])> = None;
    let mut name: Option<&[u8]> = None;
    let mut j = next;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(args[j], "AUTH") && more >= 2 {
            auth = Some((args[j + 1], args[j + 2]));
            j += 2;
        } else if is(args[j], "SETNAME") && more >= 1 {
            name = Some(args[j + 1]);
            j += 1;
        } else {
            return Err(CmdError::other(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(args[j])
            )));
        }
        j += 1;
    }
    if let Some((user, pass)) = auth {
        authenticate(ctx, user, pass)?;
    }
    if ctx.state.auth_required() && !ctx.client.authenticated {
        return Err(CmdError::other("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(n) = name {
        set_name(ctx, n)?;
    }
    if ver != 0 {
        ctx.client.resp3 = ver == 3;
        ctx.out.resp3 = ver == 3;
        ctx.client.handle.info.lock().resp = ver as u8;
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

pub fn auth(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    if args.len() == 2 {
        if !ctx.state.auth_required() {
            return Err(CmdError::other("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
        }
        authenticate(ctx, b"default", args[1])?;
    } else {
        authenticate(ctx, args[1], args[2])?;
    }
    ctx.out.ok();
    Ok(())
}

pub fn select(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let id = args::int32(args[1])?;
    if id < 0 || id as usize >= ctx.state.keyspace.databases() {
        return Err(CmdError::DbIndex);
    }
    ctx.client.db = id as usize;
    ctx.out.ok();
    Ok(())
}

pub fn quit(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.out.ok();
    Ok(())
}

pub fn reset(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    end_transaction(ctx.state, ctx.client);
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
    cmd!("client|id", 2, NOSCRIPT | LOADING | STALE, "connection", "slow connection", legacy(client_id)),
    cmd!("client|setname", 3, NOSCRIPT | LOADING | STALE, "connection", "slow connection", legacy(client_setname)),
    cmd!("client|getname", 2, NOSCRIPT | LOADING | STALE, "connection", "slow connection", legacy(client_getname)),
    cmd!("client|setinfo", 4, NOSCRIPT | LOADING | STALE, "connection", "slow connection", legacy(client_setinfo)),
    cmd!("client|list", -2, ADMIN | NOSCRIPT | LOADING | STALE, "connection", "admin slow dangerous connection", legacy(client_list), tips: tips::NONDETERMINISTIC),
    cmd!("client|info", 2, NOSCRIPT | LOADING | STALE, "connection", "slow connection", legacy(client_info), tips: tips::NONDETERMINISTIC),
    cmd!("client|kill", -3, ADMIN | NOSCRIPT | LOADING | STALE, "connection", "admin slow dangerous connection", legacy(client_kill)),
    cmd!("client|help", 2, LOADING | STALE, "connection", "slow connection", legacy(client_help)),
];

fn client_id(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

/// Names may not contain spaces or control characters (they would break CLIENT LIST).
fn set_name(ctx: &mut Ctx, name: &[u8]) -> CmdResult {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(CmdError::other(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    ctx.client.handle.info.lock().name = name.to_vec();
    Ok(())
}

fn client_setname(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    set_name(ctx, args[2])?;
    ctx.out.ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let name = ctx.client.handle.info.lock().name.clone();
    if name.is_empty() {
        ctx.out.null();
    } else {
        ctx.out.bulk(&name);
    }
    Ok(())
}

/// CLIENT SETINFO LIB-NAME|LIB-VER (Redis 7.2; stock clients send it at connect).
fn client_setinfo(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (attr, value) = (args[2], args[3]);
    let field = if is(attr, "LIB-NAME") {
        "lib-name"
    } else if is(attr, "LIB-VER") {
        "lib-ver"
    } else {
        return Err(CmdError::other(format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(attr)
        )));
    };
    if value.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(CmdError::other(format!(
            "ERR {field} cannot contain spaces, newlines or special characters."
        )));
    }
    let mut info = ctx.client.handle.info.lock();
    if field == "lib-name" {
        info.lib_name = value.to_vec();
    } else {
        info.lib_ver = value.to_vec();
    }
    drop(info);
    ctx.out.ok();
    Ok(())
}

fn client_list(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut j = 2;
    while j < args.len() {
        if is(args[j], "TYPE") && j + 1 < args.len() {
            let t = args[j + 1];
            if !["normal", "master", "replica", "slave", "pubsub"]
                .iter()
                .any(|n| is(t, &n.to_uppercase()))
            {
                return Err(CmdError::other(format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(t)
                )));
            }
            if !is(t, "NORMAL") {
                ids = Some(Vec::new());
            }
            j += 2;
        } else if is(args[j], "ID") && j + 1 < args.len() {
            let mut v = Vec::new();
            for a in &args[j + 1..] {
                match args::int(a) {
                    Ok(n) if n > 0 => v.push(n as u64),
                    _ => return Err(CmdError::other("ERR Invalid client ID")),
                }
            }
            ids = Some(v);
            j = args.len();
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let handles = ctx.state.clients.list();
    let mut text = String::new();
    for h in handles
        .iter()
        .filter(|h| ids.as_ref().is_none_or(|ids| ids.contains(&h.id)))
    {
        text.push_str(&h.describe(false, ctx.now));
        text.push('\n');
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn client_info(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let mut line = ctx.client.handle.describe(true, ctx.now);
    line.push('\n');
    ctx.out.verbatim(line.as_bytes());
    Ok(())
}

fn client_kill(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let handles = ctx.state.clients.list();
    let me = ctx.client.id;
    if args.len() == 3 {
        // Old form: CLIENT KILL addr:port.
        let addr = String::from_utf8_lossy(args[2]);
        let Some(h) = handles.iter().find(|h| h.addr.to_string() == addr) else {
            return Err(CmdError::other("ERR No such client"));
        };
        kill(ctx, h, me);
        ctx.out.ok();
        return Ok(());
    }
    let mut id: Option<u64> = None;
    let mut addr: Option<String> = None;
    let mut laddr: Option<String> = None;
    let mut skipme = true;
    let mut maxage: Option<u64> = None;
    let mut nobody = false;
    let mut j = 2;
    while j < args.len() {
        if j + 1 >= args.len() {
            return Err(CmdError::Syntax);
        }
        let v = args[j + 1];
        if is(args[j], "ID") {
            match args::int(v) {
                Ok(n) if n > 0 => id = Some(n as u64),
                _ => return Err(CmdError::other("ERR client-id should be greater than 0")),
            }
        } else if is(args[j], "ADDR") {
            addr = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(args[j], "LADDR") {
            laddr = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(args[j], "SKIPME") {
            skipme = if is(v, "YES") {
                true
            } else if is(v, "NO") {
                false
            } else {
                return Err(CmdError::Syntax);
            };
        } else if is(args[j], "MAXAGE") {
            maxage = Some(args::uint(v)?);
        } else if is(args[j], "TYPE") {
            // Every tollgate client is a normal one: other types match nobody.
            if is(v, "NORMAL") {
            } else if ["MASTER", "REPLICA", "SLAVE", "PUBSUB"]
                .iter()
                .any(|t| is(v, t))
            {
                nobody = true;
            } else {
                return Err(CmdError::other(format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(v)
                )));
            }
        } else if is(args[j], "USER") {
            // One user, `default`: any other name is unknown.
            if v != b"default" {
                return Err(CmdError::other(format!(
                    "ERR No such user '{}'",
                    String::from_utf8_lossy(v)
                )));
            }
        } else {
            return Err(CmdError::Syntax);
        }
        j += 2;
    }
    let mut killed = 0;
    for h in &handles {
        let matched = id.is_none_or(|i| h.id == i)
            && addr.as_ref().is_none_or(|a| h.addr.to_string() == *a)
            && laddr.as_ref().is_none_or(|a| h.laddr.to_string() == *a)
            && maxage.is_none_or(|m| h.age_secs(ctx.now) >= m)
            && !(skipme && h.id == me)
            && !nobody;
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

fn client_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
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
        ],
    )
}
