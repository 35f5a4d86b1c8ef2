//! Parsing of the server commands: argv to typed requests, with Redis 7.0's errors. Pure: no
//! state, no locks, no replies.

use crate::error::CmdError;
use crate::protocol::args::{self, is, Args};

/// INFO `[section ...]`: the sections as given (matched case-insensitively when applied).
pub fn info<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [&'a [u8]], CmdError> {
    Ok(Args::command(argv).rest())
}

/// CONFIG GET `pattern [pattern ...]`.
pub fn config_get<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [&'a [u8]], CmdError> {
    match Args::subcommand(argv).rest() {
        [] => Err(CmdError::WrongArgs("config|get".into())),
        patterns => Ok(patterns),
    }
}

/// CONFIG SET `name value [name value ...]`: the pairs, flat. Past the arity check (one
/// pair at least), an odd count is Redis's syntax error.
pub fn config_set<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [&'a [u8]], CmdError> {
    match Args::subcommand(argv).rest() {
        pairs if pairs.len() < 2 => Err(CmdError::WrongArgs("config|set".into())),
        pairs if pairs.len() % 2 != 0 => Err(CmdError::Syntax),
        pairs => Ok(pairs),
    }
}

/// FUNCTION FLUSH `[ASYNC|SYNC]` (both flush at once: there is nothing to flush).
pub fn function_flush(argv: &[&[u8]]) -> Result<(), CmdError> {
    let mut a = Args::subcommand(argv);
    if a.remaining() > 1 {
        return Err(crate::commands::subcommand_syntax_error(argv));
    }
    match a.next() {
        Some(mode) if !is(mode, "SYNC") && !is(mode, "ASYNC") => Err(CmdError::other(
            "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
        )),
        _ => Ok(()),
    }
}

/// FLUSHDB/FLUSHALL `[ASYNC|SYNC]` (both flush at once).
pub fn flush(argv: &[&[u8]]) -> Result<(), CmdError> {
    let mut a = Args::command(argv);
    if !a.eat_keyword("SYNC") {
        a.eat_keyword("ASYNC");
    }
    a.finish()
}

/// BGSAVE `[SCHEDULE]`: whether SCHEDULE was given (anything else is a syntax error).
pub fn bgsave(argv: &[&[u8]]) -> Result<bool, CmdError> {
    let mut a = Args::command(argv);
    let schedule = a.eat_keyword("SCHEDULE");
    a.finish().map_err(|_| CmdError::Syntax)?;
    Ok(schedule)
}

/// SWAPDB `index index`: each must be a C `int`, with Redis's per-argument texts; the
/// range is checked against the server's databases when applied.
pub fn swapdb(argv: &[&[u8]]) -> Result<(i64, i64), CmdError> {
    let mut a = Args::command(argv);
    let mut index = |what: &str| {
        a.next_with(|arg| match args::int(arg) {
            Ok(n) if i32::try_from(n).is_ok() => Ok(n),
            _ => Err(CmdError::other(format!("ERR invalid {what} DB index"))),
        })
    };
    let first = index("first")?;
    let second = index("second")?;
    a.finish()?;
    Ok((first, second))
}

/// SHUTDOWN `[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shutdown {
    pub nosave: bool,
    pub save: bool,
    pub now: bool,
    pub force: bool,
    pub abort: bool,
}

/// Any order, any repeats; ABORT with any other flag, or SAVE with NOSAVE, is Redis's
/// syntax error (checked once every argument is known, as `shutdownCommand` does).
pub fn shutdown(argv: &[&[u8]]) -> Result<Shutdown, CmdError> {
    let mut req = Shutdown::default();
    for opt in Args::command(argv) {
        let flag = if is(opt, "NOSAVE") {
            &mut req.nosave
        } else if is(opt, "SAVE") {
            &mut req.save
        } else if is(opt, "NOW") {
            &mut req.now
        } else if is(opt, "FORCE") {
            &mut req.force
        } else if is(opt, "ABORT") {
            &mut req.abort
        } else {
            return Err(CmdError::Syntax);
        };
        *flag = true;
    }
    let flags = req.nosave || req.save || req.now || req.force;
    if (req.abort && flags) || (req.nosave && req.save) {
        return Err(CmdError::Syntax);
    }
    Ok(req)
}

/// SLOWLOG GET `[count]`: -1 or more (-1 = all), with Redis's texts; more arguments are the
/// subcommand syntax error.
pub fn slowlog_get(argv: &[&[u8]]) -> Result<Option<i64>, CmdError> {
    let mut a = Args::subcommand(argv);
    if a.remaining() > 1 {
        return Err(crate::commands::subcommand_syntax_error(argv));
    }
    let Some(arg) = a.next() else {
        return Ok(None);
    };
    // Redis's getRangeLongFromObjectOrReply: one text for a non-number and a number < -1.
    match args::int(arg) {
        Ok(n) if n >= -1 => Ok(Some(n)),
        _ => Err(CmdError::other(
            "ERR count should be greater than or equal to -1",
        )),
    }
}

/// `CONTAINER SUB arg`: the one argument (the table's arity makes sure it is there).
pub fn one_sub_arg<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [u8], CmdError> {
    let mut a = Args::subcommand(argv);
    let arg = a.next_bytes()?;
    a.finish()?;
    Ok(arg)
}

/// `CONTAINER SUB [arg ...]`: the arguments.
pub fn sub_rest<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [&'a [u8]], CmdError> {
    Ok(Args::subcommand(argv).rest())
}

/// WAIT `numreplicas timeout`: the replica count (checked before the timeout, as Redis does).
/// The timeout is only checked: with no replicas, nothing waits on it.
pub fn wait(argv: &[&[u8]]) -> Result<i64, CmdError> {
    let mut a = Args::command(argv);
    let replicas = args::int(a.next_bytes()?)?;
    let timeout = a.next_bytes()?;
    a.finish()?;
    match args::int(timeout) {
        Err(_) => Err(CmdError::other(
            "ERR timeout is not an integer or out of range",
        )),
        Ok(t) if t < 0 => Err(CmdError::other("ERR timeout is negative")),
        Ok(_) => Ok(replicas),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_support::{argv, check};

    const SYNTAX: &str = "ERR syntax error";

    #[test]
    fn wait_arguments() {
        check(
            wait,
            &[
                ("WAIT 1 0", Ok(1)),
                ("WAIT -1 100", Ok(-1)),
                (
                    "WAIT x -1",
                    Err("ERR value is not an integer or out of range"),
                ),
                (
                    "WAIT 1 1.5",
                    Err("ERR timeout is not an integer or out of range"),
                ),
                ("WAIT 0 -1", Err("ERR timeout is negative")),
            ],
        );
    }

    #[test]
    fn config() {
        check(
            config_get,
            &[
                ("CONFIG GET a b", Ok(argv("a b"))),
                (
                    "CONFIG GET",
                    Err("ERR wrong number of arguments for 'config|get' command"),
                ),
            ],
        );
        check(
            config_set,
            &[
                ("CONFIG SET a 1 b 2", Ok(argv("a 1 b 2"))),
                ("CONFIG SET a 1 b", Err(SYNTAX)),
                (
                    "CONFIG SET a",
                    Err("ERR wrong number of arguments for 'config|set' command"),
                ),
                (
                    "CONFIG SET",
                    Err("ERR wrong number of arguments for 'config|set' command"),
                ),
            ],
        );
    }

    #[test]
    fn flushes() {
        check(
            flush,
            &[
                ("FLUSHALL", Ok(())),
                ("FLUSHALL sync", Ok(())),
                ("FLUSHDB ASYNC", Ok(())),
                ("FLUSHDB SYNC ASYNC", Err(SYNTAX)),
                ("FLUSHDB ASYNC SYNC", Err(SYNTAX)),
                ("FLUSHDB FOO", Err(SYNTAX)),
            ],
        );
        check(
            function_flush,
            &[
                ("FUNCTION FLUSH", Ok(())),
                ("FUNCTION FLUSH async", Ok(())),
                (
                    "FUNCTION FLUSH FOO",
                    Err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
                ),
                (
                    "function flush SYNC SYNC",
                    Err("ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP."),
                ),
            ],
        );
    }

    #[test]
    fn swapdb_indexes() {
        check(
            swapdb,
            &[
                ("SWAPDB 0 1", Ok((0, 1))),
                ("SWAPDB -1 99", Ok((-1, 99))),
                ("SWAPDB x 1", Err("ERR invalid first DB index")),
                ("SWAPDB 0 2147483648", Err("ERR invalid second DB index")),
                ("SWAPDB x y", Err("ERR invalid first DB index")),
                ("SWAPDB 0 1 2", Err(SYNTAX)),
            ],
        );
        assert_eq!(info(argv("INFO a B")), Ok(argv("a B")));
    }

    #[test]
    fn bgsave_schedule() {
        check(
            bgsave,
            &[
                ("BGSAVE", Ok(false)),
                ("BGSAVE schedule", Ok(true)),
                ("BGSAVE foo", Err(SYNTAX)),
                ("BGSAVE SCHEDULE SCHEDULE", Err(SYNTAX)),
            ],
        );
    }

    #[test]
    fn shutdown_flags() {
        let req = |nosave, save, now, force, abort| Shutdown {
            nosave,
            save,
            now,
            force,
            abort,
        };
        check(
            shutdown,
            &[
                ("SHUTDOWN", Ok(req(false, false, false, false, false))),
                (
                    "SHUTDOWN nosave NOW force",
                    Ok(req(true, false, true, true, false)),
                ),
                (
                    "SHUTDOWN SAVE SAVE",
                    Ok(req(false, true, false, false, false)),
                ),
                (
                    "SHUTDOWN NOW NOW",
                    Ok(req(false, false, true, false, false)),
                ),
                ("SHUTDOWN ABORT", Ok(req(false, false, false, false, true))),
                (
                    "SHUTDOWN abort ABORT",
                    Ok(req(false, false, false, false, true)),
                ),
                ("SHUTDOWN NOSAVE SAVE", Err(SYNTAX)),
                ("SHUTDOWN SAVE NOW NOSAVE", Err(SYNTAX)),
                ("SHUTDOWN ABORT NOSAVE", Err(SYNTAX)),
                ("SHUTDOWN NOW ABORT", Err(SYNTAX)),
                ("SHUTDOWN ABORT FORCE", Err(SYNTAX)),
                ("SHUTDOWN FOO", Err(SYNTAX)),
                ("SHUTDOWN NOSAVE FOO", Err(SYNTAX)),
            ],
        );
    }

    #[test]
    fn slowlog_get_counts() {
        assert_eq!(slowlog_get(&[b"SLOWLOG", b"GET"]).unwrap(), None);
        assert_eq!(slowlog_get(&[b"SLOWLOG", b"GET", b"-1"]).unwrap(), Some(-1));
        assert_eq!(
            slowlog_get(&[b"SLOWLOG", b"GET", b"-2"])
                .unwrap_err()
                .to_string(),
            "ERR count should be greater than or equal to -1"
        );
        assert_eq!(
            slowlog_get(&[b"SLOWLOG", b"get", b"1", b"2"])
                .unwrap_err()
                .to_string(),
            "ERR unknown subcommand or wrong number of arguments for 'get'. Try SLOWLOG HELP."
        );
    }
}
