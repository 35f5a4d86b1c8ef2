//! Parsing of EVAL/EVALSHA/EVAL_RO/EVALSHA_RO (`script|sha numkeys key... arg...`) and of
//! SCRIPT's subcommands' arguments. Pure: no state, no locks, no replies.

use crate::error::CmdError;
use crate::protocol::args::{self, is};

/// An EVAL-family request: the script (body or SHA1), its keys and its arguments.
#[derive(Debug, PartialEq, Eq)]
pub struct Eval<'a> {
    pub script: &'a [u8],
    pub keys: &'a [&'a [u8]],
    pub argv: &'a [&'a [u8]],
}

/// `script numkeys key... arg...` (the table's arity has checked there are three at least),
/// with Redis 7.0's numkeys errors.
pub fn eval<'a>(argv: &'a [&'a [u8]]) -> Result<Eval<'a>, CmdError> {
    let numkeys = args::int(argv[2])?;
    let rest = &argv[3..];
    if numkeys < 0 {
        return Err(CmdError::other("ERR Number of keys can't be negative"));
    }
    if numkeys as u64 > rest.len() as u64 {
        return Err(CmdError::other(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let (keys, rest) = rest.split_at(numkeys as usize);
    Ok(Eval {
        script: argv[1],
        keys,
        argv: rest,
    })
}

/// EVALSHA's: as EVAL's, but a name that cannot be a SHA1 (not 40 characters) is unknown
/// before numkeys is read, as in Redis 7.0.
pub fn evalsha<'a>(argv: &'a [&'a [u8]]) -> Result<Eval<'a>, CmdError> {
    if argv[1].len() != 40 {
        return Err(CmdError::other(
            "NOSCRIPT No matching script. Please use EVAL.",
        ));
    }
    eval(argv)
}

/// SCRIPT LOAD `script`.
pub fn load<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [u8], CmdError> {
    Ok(argv[2])
}

/// SCRIPT EXISTS `sha1 [sha1 ...]`.
pub fn exists<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [&'a [u8]], CmdError> {
    Ok(&argv[2..])
}

/// SCRIPT FLUSH `[ASYNC|SYNC]` (both flush at once: the interpreter is dropped either way).
pub fn flush(argv: &[&[u8]]) -> Result<(), CmdError> {
    match &argv[2..] {
        [] => Ok(()),
        [mode] if is(mode, "SYNC") || is(mode, "ASYNC") => Ok(()),
        _ => Err(CmdError::other(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_support::{argv, check};

    #[test]
    fn numkeys_rules() {
        check(
            eval,
            &[
                (
                    "EVAL s 1 k a",
                    Ok(Eval {
                        script: b"s",
                        keys: argv("k"),
                        argv: argv("a"),
                    }),
                ),
                (
                    "EVAL s 0",
                    Ok(Eval {
                        script: b"s",
                        keys: &[],
                        argv: &[],
                    }),
                ),
                ("EVAL s -1", Err("ERR Number of keys can't be negative")),
                (
                    "EVAL s 2 k",
                    Err("ERR Number of keys can't be greater than number of args"),
                ),
                (
                    "EVAL s x",
                    Err("ERR value is not an integer or out of range"),
                ),
            ],
        );
        check(
            flush,
            &[
                ("SCRIPT FLUSH", Ok(())),
                ("SCRIPT FLUSH async", Ok(())),
                (
                    "SCRIPT FLUSH x",
                    Err("ERR SCRIPT FLUSH only support SYNC|ASYNC option"),
                ),
                (
                    "SCRIPT FLUSH sync sync",
                    Err("ERR SCRIPT FLUSH only support SYNC|ASYNC option"),
                ),
            ],
        );
    }
}
