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
    let [_, script, numkeys, rest @ ..] = argv else {
        return Err(wrong_args(argv));
    };
    let numkeys = args::int(numkeys)?;
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
        script,
        keys,
        argv: rest,
    })
}

/// The arity error, for a parser reached without the table's check (tests, the fuzz target).
fn wrong_args(argv: &[&[u8]]) -> CmdError {
    let name = argv.first().copied().unwrap_or_default();
    CmdError::WrongArgs(String::from_utf8_lossy(name).to_ascii_lowercase())
}

/// EVALSHA's: as EVAL's, but a name that cannot be a SHA1 (not 40 characters) is unknown
/// before numkeys is read, as in Redis 7.0.
pub fn evalsha<'a>(argv: &'a [&'a [u8]]) -> Result<Eval<'a>, CmdError> {
    if argv.len() >= 3 && argv[1].len() != 40 {
        return Err(CmdError::other(
            "NOSCRIPT No matching script. Please use EVAL.",
        ));
    }
    eval(argv)
}

/// SCRIPT LOAD `script`.
pub fn load<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [u8], CmdError> {
    match argv {
        [_, _, script] => Ok(script),
        _ => Err(CmdError::WrongArgs("script|load".into())),
    }
}

/// SCRIPT EXISTS `sha1 [sha1 ...]`.
pub fn exists<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [&'a [u8]], CmdError> {
    match argv {
        [_, _, shas @ ..] if !shas.is_empty() => Ok(shas),
        _ => Err(CmdError::WrongArgs("script|exists".into())),
    }
}

/// SCRIPT FLUSH `[ASYNC|SYNC]` (both flush at once: the interpreter is dropped either way).
pub fn flush(argv: &[&[u8]]) -> Result<(), CmdError> {
    match argv.get(2..).unwrap_or_default() {
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
    fn short_argvs_are_refused_not_panicked_on() {
        // The fuzz target calls parsers without the table's arity check.
        for line in [
            "EVALSHA",
            "EVALSHA x",
            "SCRIPT",
            "SCRIPT LOAD",
            "SCRIPT EXISTS",
        ] {
            let a = argv(line);
            assert!(evalsha(a).is_err(), "{line}");
            assert!(load(a).is_err(), "{line}");
            assert!(exists(a).is_err(), "{line}");
        }
        assert!(flush(argv("SCRIPT")).is_ok());
    }

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
