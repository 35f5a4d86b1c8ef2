//! Parsing of the transaction commands: MULTI, EXEC, DISCARD and UNWATCH take nothing (the
//! table's arity has checked it: `protocol::args::no_args`); WATCH takes keys. Pure.

use crate::error::CmdError;
use crate::protocol::args;

/// WATCH `key [key ...]`.
pub fn watch<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [&'a [u8]], CmdError> {
    args::all_keys(argv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_support::{argv, check};

    #[test]
    fn watch_takes_keys() {
        check(
            watch,
            &[
                ("WATCH a", Ok(argv("a"))),
                ("WATCH a b a", Ok(argv("a b a"))),
                ("WATCH", Err("ERR syntax error")),
            ],
        );
        check(
            args::no_args,
            &[("MULTI", Ok(())), ("EXEC x", Err("ERR syntax error"))],
        );
    }
}
