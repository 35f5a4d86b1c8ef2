//! Parsing of the connection commands (PING, ECHO, HELLO, AUTH, SELECT, CLIENT ...): argv to
//! typed requests, with the errors Redis 7.0's `networking.c` and `acl.c` choose, in their
//! order. Pure: no state, no locks, no replies.

use crate::error::CmdError;
use crate::protocol::args::{self, is, Args};

/// PING `[message]`: Redis checks the count itself (its arity is -1).
pub fn ping<'a>(argv: &'a [&'a [u8]]) -> Result<Option<&'a [u8]>, CmdError> {
    let mut a = Args::command(argv);
    if a.remaining() > 1 {
        return Err(CmdError::WrongArgs("ping".into()));
    }
    Ok(a.next())
}

/// ECHO `message`.
pub fn echo<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [u8], CmdError> {
    let mut a = Args::command(argv);
    let message = a.next_bytes()?;
    a.finish()?;
    Ok(message)
}

/// QUIT takes (and ignores) any arguments, as in Redis 7.0.
pub fn quit(_argv: &[&[u8]]) -> Result<(), CmdError> {
    Ok(())
}

/// Whether a client or library name is printable ASCII without spaces: CLIENT LIST splits
/// on spaces, so Redis refuses anything else.
fn printable(name: &[u8]) -> bool {
    name.iter().all(|c| (b'!'..=b'~').contains(c))
}

/// A client name, checked as Redis's `clientSetNameOrReply` checks it (empty clears it).
fn client_name(name: &[u8]) -> Result<&[u8], CmdError> {
    if printable(name) {
        Ok(name)
    } else {
        Err(CmdError::other(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ))
    }
}

/// One HELLO option, in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelloOption<'a> {
    Auth { user: &'a [u8], pass: &'a [u8] },
    SetName(&'a [u8]),
}

/// HELLO `[protover [AUTH user pass] [SETNAME name]]`.
///
/// Redis 7.0 acts on each option inside its parsing loop: an AUTH or SETNAME before a bad
/// option has taken effect (and can fail) by the time the bad option is refused. So the
/// options that parsed are kept in order, with the first refused option after them; `apply`
/// runs them, then refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello<'a> {
    /// 2 or 3; `None` keeps the connection's protocol.
    pub protover: Option<u8>,
    pub options: Vec<HelloOption<'a>>,
    pub refused: Option<&'a [u8]>,
}

pub fn hello<'a>(argv: &'a [&'a [u8]]) -> Result<Hello<'a>, CmdError> {
    let mut a = Args::command(argv);
    let protover = match a.next() {
        None => None,
        Some(v) => {
            let v = crate::protocol::parse::parse_i64(v).ok_or_else(|| {
                CmdError::other("ERR Protocol version is not an integer or out of range")
            })?;
            match v {
                2 => Some(2),
                3 => Some(3),
                _ => return Err(CmdError::other("NOPROTO unsupported protocol version")),
            }
        }
    };
    let mut req = Hello {
        protover,
        options: Vec::new(),
        refused: None,
    };
    while let Some(opt) = a.next() {
        if is(opt, "AUTH") && a.remaining() >= 2 {
            let user = a.next_bytes()?;
            let pass = a.next_bytes()?;
            req.options.push(HelloOption::Auth { user, pass });
        } else if is(opt, "SETNAME") && !a.is_empty() {
            req.options.push(HelloOption::SetName(a.next_bytes()?));
        } else {
            req.refused = Some(opt);
            break;
        }
    }
    Ok(req)
}

/// The error for HELLO's refused option.
pub fn hello_option_error(opt: &[u8]) -> CmdError {
    CmdError::other(format!(
        "ERR Syntax error in HELLO option '{}'",
        String::from_utf8_lossy(opt)
    ))
}

/// HELLO's check of a name, at its turn among the options.
pub fn hello_name(name: &[u8]) -> Result<&[u8], CmdError> {
    client_name(name)
}

/// AUTH `[user] pass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Auth<'a> {
    /// `None` for the one-argument form (the `default` user).
    pub user: Option<&'a [u8]>,
    pub pass: &'a [u8],
}

pub fn auth<'a>(argv: &'a [&'a [u8]]) -> Result<Auth<'a>, CmdError> {
    let mut a = Args::command(argv);
    match a.remaining() {
        1 => Ok(Auth {
            user: None,
            pass: a.next_bytes()?,
        }),
        2 => Ok(Auth {
            user: Some(a.next_bytes()?),
            pass: a.next_bytes()?,
        }),
        // Too many is Redis's syntax error; too few cannot pass the arity check.
        _ => Err(CmdError::Syntax),
    }
}

/// SELECT `index`: a C `int`; the range is checked against the server's databases.
pub fn select(argv: &[&[u8]]) -> Result<i64, CmdError> {
    let mut a = Args::command(argv);
    let index = a.next_i32()?;
    a.finish()?;
    Ok(index)
}

/// CLIENT SETNAME `name`.
pub fn client_setname<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [u8], CmdError> {
    let mut a = Args::subcommand(argv);
    let name = a.next_with(client_name)?;
    a.finish()?;
    Ok(name)
}

/// Which library attribute CLIENT SETINFO sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibAttr {
    Name,
    Version,
}

/// CLIENT SETINFO `LIB-NAME|LIB-VER value` (Redis 7.2; stock clients send it at connect).
pub fn client_setinfo<'a>(argv: &'a [&'a [u8]]) -> Result<(LibAttr, &'a [u8]), CmdError> {
    let mut a = Args::subcommand(argv);
    let attr = a.next_bytes()?;
    let (which, field) = if is(attr, "LIB-NAME") {
        (LibAttr::Name, "lib-name")
    } else if is(attr, "LIB-VER") {
        (LibAttr::Version, "lib-ver")
    } else {
        return Err(CmdError::other(format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(attr)
        )));
    };
    let value = a.next_bytes()?;
    if !printable(value) {
        return Err(CmdError::other(format!(
            "ERR {field} cannot contain spaces, newlines or special characters."
        )));
    }
    a.finish()?;
    Ok((which, value))
}

/// A client type name, as Redis's `getClientTypeByName` reads it: whether it is `normal`
/// (every tollgate client is; the others match nobody), or Redis's error.
fn is_normal_type(name: &[u8]) -> Result<bool, CmdError> {
    if is(name, "NORMAL") {
        Ok(true)
    } else if ["MASTER", "REPLICA", "SLAVE", "PUBSUB"]
        .iter()
        .any(|t| is(name, t))
    {
        Ok(false)
    } else {
        Err(CmdError::other(format!(
            "ERR Unknown client type '{}'",
            String::from_utf8_lossy(name)
        )))
    }
}

/// CLIENT LIST `[TYPE type | ID id [id ...]]`, in Redis 7.0's forms (one of the two, not both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientList {
    All,
    /// TYPE other than normal: nobody.
    Nobody,
    /// The clients with these ids, in this order, repeats included (ids that match nobody,
    /// zero and negative ones among them, are skipped, as in Redis).
    Ids(Vec<i64>),
}

pub fn client_list(argv: &[&[u8]]) -> Result<ClientList, CmdError> {
    let mut a = Args::subcommand(argv);
    if a.is_empty() {
        return Ok(ClientList::All);
    }
    if a.remaining() == 2 && a.eat_keyword("TYPE") {
        return Ok(match a.next_with(is_normal_type)? {
            true => ClientList::All,
            false => ClientList::Nobody,
        });
    }
    if a.remaining() >= 2 && a.eat_keyword("ID") {
        let ids = a
            .map(|id| args::int(id).map_err(|_| CmdError::other("ERR Invalid client ID")))
            .collect::<Result<_, _>>()?;
        return Ok(ClientList::Ids(ids));
    }
    Err(CmdError::Syntax)
}

/// CLIENT KILL's filters (the new form); every one given must match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KillFilters<'a> {
    pub id: Option<u64>,
    pub addr: Option<&'a [u8]>,
    pub laddr: Option<&'a [u8]>,
    /// Older than this many seconds (tollgate accepts Redis 7.4's MAXAGE).
    pub maxage: Option<u64>,
    /// TYPE master, replica or pubsub: no tollgate client is one.
    pub nobody: bool,
    pub skipme: bool,
}

/// CLIENT KILL `addr` (the old form: may kill the caller) or CLIENT KILL `filter value ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKill<'a> {
    Addr(&'a [u8]),
    Filters(KillFilters<'a>),
}

/// Each filter is checked in order as Redis's `clientKillCommand` does; every filter takes a
/// value, and a filter without one is a syntax error.
pub fn client_kill<'a>(argv: &'a [&'a [u8]]) -> Result<ClientKill<'a>, CmdError> {
    let mut a = Args::subcommand(argv);
    if a.remaining() == 1 {
        return Ok(ClientKill::Addr(a.next_bytes()?));
    }
    if a.is_empty() {
        return Err(CmdError::Syntax);
    }
    let mut f = KillFilters {
        skipme: true,
        ..KillFilters::default()
    };
    while let Some(opt) = a.next() {
        let value = a.next_bytes()?;
        if is(opt, "ID") {
            f.id = match args::int(value) {
                Ok(n) if n > 0 => Some(n.unsigned_abs()),
                _ => return Err(CmdError::other("ERR client-id should be greater than 0")),
            };
        } else if is(opt, "TYPE") {
            f.nobody = !is_normal_type(value)?;
        } else if is(opt, "ADDR") {
            f.addr = Some(value);
        } else if is(opt, "LADDR") {
            f.laddr = Some(value);
        } else if is(opt, "USER") {
            // One user, `default`: any other name is unknown.
            if value != b"default" {
                return Err(CmdError::other(format!(
                    "ERR No such user '{}'",
                    String::from_utf8_lossy(value)
                )));
            }
        } else if is(opt, "SKIPME") {
            f.skipme = if is(value, "YES") {
                true
            } else if is(value, "NO") {
                false
            } else {
                return Err(CmdError::Syntax);
            };
        } else if is(opt, "MAXAGE") {
            f.maxage = Some(args::uint(value)?);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(ClientKill::Filters(f))
}

/// CLIENT UNBLOCK `client-id [TIMEOUT|ERROR]`: the reason is read before the id, as in
/// Redis; `true` answers the unblocked client with an error.
pub fn client_unblock<'a>(argv: &'a [&'a [u8]]) -> Result<(i64, bool), CmdError> {
    if argv.len() > 4 {
        return Err(crate::commands::subcommand_syntax_error(argv));
    }
    let error = match argv.get(3) {
        None => false,
        Some(r) if is(r, "TIMEOUT") => false,
        Some(r) if is(r, "ERROR") => true,
        Some(_) => {
            return Err(CmdError::other(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    Ok((args::int(argv.get(2).copied().unwrap_or_default())?, error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_support::check;

    const SYNTAX: &str = "ERR syntax error";
    const NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

    #[test]
    fn ping_echo_auth_select() {
        check(
            ping,
            &[
                ("PING", Ok(None)),
                ("PING hi", Ok(Some(&b"hi"[..]))),
                (
                    "PING a b",
                    Err("ERR wrong number of arguments for 'ping' command"),
                ),
            ],
        );
        check(
            echo,
            &[("ECHO x", Ok(&b"x"[..])), ("ECHO a b", Err(SYNTAX))],
        );
        check(
            auth,
            &[
                (
                    "AUTH p",
                    Ok(Auth {
                        user: None,
                        pass: b"p",
                    }),
                ),
                (
                    "AUTH u p",
                    Ok(Auth {
                        user: Some(b"u"),
                        pass: b"p",
                    }),
                ),
                ("AUTH a b c", Err(SYNTAX)),
            ],
        );
        check(
            select,
            &[
                ("SELECT 15", Ok(15)),
                ("SELECT -1", Ok(-1)),
                (
                    "SELECT x",
                    Err("ERR value is not an integer or out of range"),
                ),
                (
                    "SELECT 2147483648",
                    Err("ERR value is out of range, value must between -2147483648 and 2147483647"),
                ),
            ],
        );
    }

    #[test]
    fn hello_keeps_options_in_order_up_to_a_refused_one() {
        use HelloOption::*;
        let req = |protover, options: &[HelloOption<'static>], refused| Hello {
            protover,
            options: options.to_vec(),
            refused,
        };
        check(
            hello,
            &[
                ("HELLO", Ok(req(None, &[], None))),
                ("HELLO 3", Ok(req(Some(3), &[], None))),
                (
                    "HELLO 2 setname n auth u p",
                    Ok(req(
                        Some(2),
                        &[
                            SetName(b"n"),
                            Auth {
                                user: b"u",
                                pass: b"p",
                            },
                        ],
                        None,
                    )),
                ),
                (
                    "HELLO 3 SETNAME a FOO SETNAME b",
                    Ok(req(Some(3), &[SetName(b"a")], Some(b"FOO"))),
                ),
                ("HELLO 3 AUTH u", Ok(req(Some(3), &[], Some(b"AUTH")))),
                ("HELLO 3 SETNAME", Ok(req(Some(3), &[], Some(b"SETNAME")))),
                ("HELLO 4 FOO", Err("NOPROTO unsupported protocol version")),
                ("HELLO 1", Err("NOPROTO unsupported protocol version")),
                (
                    "HELLO 3.0",
                    Err("ERR Protocol version is not an integer or out of range"),
                ),
                (
                    "HELLO abc SETNAME x",
                    Err("ERR Protocol version is not an integer or out of range"),
                ),
            ],
        );
        assert_eq!(
            hello_option_error(b"FOO").to_string(),
            "ERR Syntax error in HELLO option 'FOO'"
        );
        assert_eq!(hello_name(b"a b").unwrap_err().to_string(), NAME);
    }

    #[test]
    fn client_names_and_info() {
        check(
            client_setname,
            &[
                ("CLIENT SETNAME x", Ok(&b"x"[..])),
                ("CLIENT SETNAME ''", Ok(&b""[..])),
                ("CLIENT SETNAME a\nb", Err(NAME)),
                ("CLIENT SETNAME a b", Err(SYNTAX)),
            ],
        );
        check(
            client_setinfo,
            &[
                (
                    "CLIENT SETINFO lib-name redis-py",
                    Ok((LibAttr::Name, &b"redis-py"[..])),
                ),
                (
                    "CLIENT SETINFO LIB-VER 5.0",
                    Ok((LibAttr::Version, &b"5.0"[..])),
                ),
                ("CLIENT SETINFO FOO x", Err("ERR Unrecognized option 'FOO'")),
                (
                    "CLIENT SETINFO LIB-VER a\tb",
                    Err("ERR lib-ver cannot contain spaces, newlines or special characters."),
                ),
            ],
        );
    }

    #[test]
    fn client_list_forms() {
        check(
            client_list,
            &[
                ("CLIENT LIST", Ok(ClientList::All)),
                ("CLIENT LIST type NORMAL", Ok(ClientList::All)),
                ("CLIENT LIST TYPE pubsub", Ok(ClientList::Nobody)),
                (
                    "CLIENT LIST ID 3 0 -1 3",
                    Ok(ClientList::Ids(vec![3, 0, -1, 3])),
                ),
                ("CLIENT LIST TYPE foo", Err("ERR Unknown client type 'foo'")),
                ("CLIENT LIST ID 1 x", Err("ERR Invalid client ID")),
                ("CLIENT LIST TYPE", Err(SYNTAX)),
                ("CLIENT LIST ID", Err(SYNTAX)),
                ("CLIENT LIST TYPE normal ID 1", Err(SYNTAX)),
                ("CLIENT LIST FOO", Err(SYNTAX)),
            ],
        );
    }

    #[test]
    fn client_kill_forms() {
        let filters = |f: KillFilters<'static>| Ok(ClientKill::Filters(f));
        let yes = KillFilters {
            skipme: true,
            ..KillFilters::default()
        };
        check(
            client_kill,
            &[
                ("CLIENT KILL 1.2.3.4:5", Ok(ClientKill::Addr(b"1.2.3.4:5"))),
                (
                    "CLIENT KILL ID 7",
                    filters(KillFilters {
                        id: Some(7),
                        ..yes.clone()
                    }),
                ),
                (
                    "CLIENT KILL addr a laddr b skipme no",
                    filters(KillFilters {
                        addr: Some(b"a"),
                        laddr: Some(b"b"),
                        skipme: false,
                        ..yes.clone()
                    }),
                ),
                (
                    "CLIENT KILL TYPE replica USER default MAXAGE 10",
                    filters(KillFilters {
                        nobody: true,
                        maxage: Some(10),
                        ..yes.clone()
                    }),
                ),
                ("CLIENT KILL TYPE normal", filters(yes.clone())),
                (
                    "CLIENT KILL ID 0",
                    Err("ERR client-id should be greater than 0"),
                ),
                (
                    "CLIENT KILL ID x",
                    Err("ERR client-id should be greater than 0"),
                ),
                ("CLIENT KILL TYPE foo", Err("ERR Unknown client type 'foo'")),
                ("CLIENT KILL USER bob", Err("ERR No such user 'bob'")),
                ("CLIENT KILL SKIPME maybe", Err(SYNTAX)),
                (
                    "CLIENT KILL MAXAGE -1",
                    Err("ERR value is not an integer or out of range"),
                ),
                ("CLIENT KILL FOO bar", Err(SYNTAX)),
                ("CLIENT KILL ID 1 TYPE", Err(SYNTAX)),
                ("CLIENT KILL", Err(SYNTAX)),
                // Filters are checked in order: the first bad one decides.
                (
                    "CLIENT KILL ID 0 TYPE foo",
                    Err("ERR client-id should be greater than 0"),
                ),
                (
                    "CLIENT KILL TYPE foo ID 0",
                    Err("ERR Unknown client type 'foo'"),
                ),
            ],
        );
    }
}
