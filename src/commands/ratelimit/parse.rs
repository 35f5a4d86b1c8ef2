//! Parsing of the rate-limit commands (RL.*, CL.THROTTLE): argv to typed requests. Pure: no
//! state, no locks, no replies. Named policies are only named here; `apply` looks them up in
//! the config, so a syntax error is reported before an unknown policy.

use crate::error::CmdError;
use crate::protocol::args::{is, Args};
use crate::ratelimit::{self, cell, Algo, Limit};
use smallvec::SmallVec;

/// What RL.CHECK checks: one inline limit, or named policies (at least one, each once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limits<'a> {
    Inline(Limit),
    Policies(SmallVec<[&'a [u8]; ratelimit::INLINE_LIMITS]>),
}

/// RL.CHECK `key limit period [BURST n] [COST n] [ALGO a] [PEEK]` or
/// RL.CHECK `key POLICY name [POLICY name ...] [COST n] [PEEK]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check<'a> {
    pub key: &'a [u8],
    pub limits: Limits<'a>,
    pub cost: u64,
    pub peek: bool,
}

fn algo_error() -> CmdError {
    CmdError::other("ERR ALGO must be one of gcra, token-bucket, sliding-window, fixed-window")
}

/// The longest rate-limit period or lease, 100 years: the algorithms count in nanoseconds,
/// and a longer one would have to be silently capped to fit.
pub const MAX_PERIOD_MS: u64 = 36_500 * 86_400_000;

/// A duration argument in nanoseconds; zero, and anything above [`MAX_PERIOD_MS`], is refused.
fn duration_ns(a: &mut Args, what: &str) -> Result<u64, CmdError> {
    match a.next_positive_duration_ms(what)? {
        ms if ms > MAX_PERIOD_MS => Err(CmdError::other(format!(
            "ERR {what} must be at most 36500d (100 years)"
        ))),
        ms => Ok(ms * 1_000_000),
    }
}

pub fn check<'a>(argv: &'a [&'a [u8]]) -> Result<Check<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let mut cost = 1;
    let mut peek = false;
    // The inline form's limit, period, burst and algorithm; None for the policy form.
    let mut inline = if a.peek_keyword("POLICY") {
        None
    } else {
        let limit = a.next_u64()?;
        let period = duration_ns(&mut a, "period")?;
        Some((limit, period, None, Algo::Gcra))
    };
    let mut policies: SmallVec<[&[u8]; ratelimit::INLINE_LIMITS]> = SmallVec::new();
    // An option takes its value only when one follows; otherwise it is a syntax error.
    while let Some(opt) = a.next() {
        let has_value = !a.is_empty();
        match inline.as_mut() {
            None if is(opt, "POLICY") && has_value => {
                let name = a.next_bytes()?;
                if policies.contains(&name) {
                    return Err(CmdError::other(format!(
                        "ERR policy '{}' given twice",
                        String::from_utf8_lossy(name)
                    )));
                }
                policies.push(name);
            }
            Some(inl) if is(opt, "BURST") && has_value => inl.2 = Some(a.next_u64()?),
            Some(inl) if is(opt, "ALGO") && has_value => {
                inl.3 = Algo::parse(a.next_bytes()?).ok_or_else(algo_error)?;
            }
            _ if is(opt, "COST") && has_value => cost = a.next_u64()?,
            _ if is(opt, "PEEK") => peek = true,
            _ => return Err(CmdError::Syntax),
        }
    }
    let limits = match inline {
        Some((limit, period, burst, algo)) => Limits::Inline(
            Limit::new(limit, period, burst, algo)
                .map_err(|e| CmdError::other(format!("ERR {e}")))?,
        ),
        None => Limits::Policies(policies),
    };
    Ok(Check {
        key,
        limits,
        cost,
        peek,
    })
}

/// RL.RESET `key [POLICY name]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reset<'a> {
    pub key: &'a [u8],
    pub policy: Option<&'a [u8]>,
}

pub fn reset<'a>(argv: &'a [&'a [u8]]) -> Result<Reset<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let policy = if a.is_empty() {
        None
    } else if a.eat_keyword("POLICY") {
        Some(a.next_bytes()?)
    } else {
        return Err(CmdError::Syntax);
    };
    a.finish()?;
    Ok(Reset { key, policy })
}

/// RL.ACQUIRE `key max lease [ID id]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acquire<'a> {
    pub key: &'a [u8],
    pub max: u64,
    pub lease_ns: u64,
    pub id: Option<&'a [u8]>,
}

pub fn acquire<'a>(argv: &'a [&'a [u8]]) -> Result<Acquire<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let max = a.next_u64()?;
    let lease_ns = duration_ns(&mut a, "lease")?;
    let id = if a.is_empty() {
        None
    } else if a.eat_keyword("ID") {
        Some(a.next_bytes()?)
    } else {
        return Err(CmdError::Syntax);
    };
    a.finish()?;
    Ok(Acquire {
        key,
        max,
        lease_ns,
        id,
    })
}

/// RL.RELEASE `key id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release<'a> {
    pub key: &'a [u8],
    pub id: &'a [u8],
}

pub fn release<'a>(argv: &'a [&'a [u8]]) -> Result<Release<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let id = a.next_bytes()?;
    a.finish()?;
    Ok(Release { key, id })
}

/// RL.RENEW `key id lease`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renew<'a> {
    pub key: &'a [u8],
    pub id: &'a [u8],
    pub lease_ns: u64,
}

pub fn renew<'a>(argv: &'a [&'a [u8]]) -> Result<Renew<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let id = a.next_bytes()?;
    let lease_ns = duration_ns(&mut a, "lease")?;
    a.finish()?;
    Ok(Renew { key, id, lease_ns })
}

/// CL.THROTTLE `key max_burst count period [quantity]`, with redis-cell's texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle<'a> {
    pub key: &'a [u8],
    pub max_burst: i64,
    pub count: i64,
    pub period: i64,
    pub quantity: i64,
}

pub fn cell_error(e: cell::CellError) -> CmdError {
    CmdError::other(e.to_string())
}

/// redis-cell checks the argument count itself (the table's arity is -1), then each integer
/// in order; the rates are checked when the command runs, after the key's value.
pub fn throttle<'a>(argv: &'a [&'a [u8]]) -> Result<Throttle<'a>, CmdError> {
    if argv.len() != 5 && argv.len() != 6 {
        return Err(cell_error(cell::CellError::Usage));
    }
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let mut int = || a.next_with(|v| cell::parse_arg(v).map_err(cell_error));
    let max_burst = int()?;
    let count = int()?;
    let period = int()?;
    let quantity = if argv.len() == 6 { int()? } else { 1 };
    Ok(Throttle {
        key,
        max_burst,
        count,
        period,
        quantity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_support::check as check_cases;

    const NOT_INT: &str = "ERR value is not an integer or out of range";
    const SYNTAX: &str = "ERR syntax error";
    const S: u64 = 1_000_000_000;

    fn inline(
        limit: u64,
        period_ns: u64,
        burst: Option<u64>,
        algo: Algo,
        cost: u64,
        peek: bool,
    ) -> Check<'static> {
        Check {
            key: b"k",
            limits: Limits::Inline(Limit::new(limit, period_ns, burst, algo).unwrap()),
            cost,
            peek,
        }
    }

    fn policies(names: &[&'static [u8]], cost: u64, peek: bool) -> Check<'static> {
        Check {
            key: b"k",
            limits: Limits::Policies(names.iter().copied().collect()),
            cost,
            peek,
        }
    }

    #[test]
    fn rl_check_forms() {
        check_cases(
            check,
            &[
                (
                    "RL.CHECK k 10 60",
                    Ok(inline(10, 60 * S, None, Algo::Gcra, 1, false)),
                ),
                (
                    "RL.CHECK k 10 1500ms BURST 3 COST 2 ALGO token-bucket PEEK",
                    Ok(inline(
                        10,
                        1_500_000_000,
                        Some(3),
                        Algo::TokenBucket,
                        2,
                        true,
                    )),
                ),
                (
                    "RL.CHECK k 10 1m peek cost 0 algo FIXED-WINDOW",
                    Ok(inline(10, 60 * S, None, Algo::FixedWindow, 0, true)),
                ),
                ("RL.CHECK k POLICY a", Ok(policies(&[b"a"], 1, false))),
                (
                    "rl.check k policy a POLICY b COST 3 PEEK",
                    Ok(policies(&[b"a", b"b"], 3, true)),
                ),
                ("RL.CHECK k x 60", Err(NOT_INT)),
                ("RL.CHECK k -1 60", Err(NOT_INT)),
                (
                    "RL.CHECK k 10 0",
                    Err("ERR period must be a positive duration such as 60, 500ms, 10m, 1h or 1d"),
                ),
                (
                    "RL.CHECK k 10 1w",
                    Err("ERR period must be a positive duration such as 60, 500ms, 10m, 1h or 1d"),
                ),
                // Was capped silently to what nanoseconds hold (issue 8's list).
                (
                    "RL.CHECK k 1 106751991167d",
                    Err("ERR period must be at most 36500d (100 years)"),
                ),
                (
                    "RL.CHECK k 1 36501d",
                    Err("ERR period must be at most 36500d (100 years)"),
                ),
                (
                    "RL.CHECK k 1 36500d",
                    Ok(inline(1, 36_500 * 86_400 * S, None, Algo::Gcra, 1, false)),
                ),
                ("RL.CHECK k 0 60", Err("ERR limit must be at least 1")),
                (
                    "RL.CHECK k 10 60 BURST 0",
                    Err("ERR burst must be at least 1"),
                ),
                ("RL.CHECK k 10 60 BURST", Err(SYNTAX)),
                ("RL.CHECK k 10 60 BURST x", Err(NOT_INT)),
                (
                    "RL.CHECK k 10 60 ALGO x",
                    Err("ERR ALGO must be one of gcra, token-bucket, sliding-window, fixed-window"),
                ),
                ("RL.CHECK k 10 60 FOO 1", Err(SYNTAX)),
                ("RL.CHECK k 10 60 POLICY a", Err(SYNTAX)),
                ("RL.CHECK k POLICY a BURST 3", Err(SYNTAX)),
                ("RL.CHECK k POLICY a ALGO gcra", Err(SYNTAX)),
                ("RL.CHECK k POLICY a POLICY", Err(SYNTAX)),
                (
                    "RL.CHECK k POLICY a POLICY a",
                    Err("ERR policy 'a' given twice"),
                ),
                ("RL.CHECK k POLICY a COST -1", Err(NOT_INT)),
            ],
        );
    }

    #[test]
    fn rl_reset_and_leases() {
        check_cases(
            reset,
            &[
                (
                    "RL.RESET k",
                    Ok(Reset {
                        key: b"k",
                        policy: None,
                    }),
                ),
                (
                    "RL.RESET k policy p",
                    Ok(Reset {
                        key: b"k",
                        policy: Some(b"p"),
                    }),
                ),
                ("RL.RESET k POLICY", Err(SYNTAX)),
                ("RL.RESET k FOO", Err(SYNTAX)),
                ("RL.RESET k POLICY p x", Err(SYNTAX)),
            ],
        );
        let acq = |id| Acquire {
            key: b"k",
            max: 3,
            lease_ns: 30 * S,
            id,
        };
        check_cases(
            acquire,
            &[
                ("RL.ACQUIRE k 3 30s", Ok(acq(None))),
                ("RL.ACQUIRE k 3 30 id x", Ok(acq(Some(b"x")))),
                ("RL.ACQUIRE k x 30 FOO", Err(NOT_INT)),
                (
                    "RL.ACQUIRE k 3 0",
                    Err("ERR lease must be a positive duration such as 60, 500ms, 10m, 1h or 1d"),
                ),
                (
                    "RL.ACQUIRE k 3 36501d",
                    Err("ERR lease must be at most 36500d (100 years)"),
                ),
                ("RL.ACQUIRE k 3 30 ID", Err(SYNTAX)),
                ("RL.ACQUIRE k 3 30 FOO x", Err(SYNTAX)),
                ("RL.ACQUIRE k 3 30 ID x y", Err(SYNTAX)),
            ],
        );
        check_cases(
            release,
            &[
                (
                    "RL.RELEASE k id",
                    Ok(Release {
                        key: b"k",
                        id: b"id",
                    }),
                ),
                ("RL.RELEASE k id x", Err(SYNTAX)),
            ],
        );
        check_cases(
            renew,
            &[
                (
                    "RL.RENEW k id 1m",
                    Ok(Renew {
                        key: b"k",
                        id: b"id",
                        lease_ns: 60 * S,
                    }),
                ),
                (
                    "RL.RENEW k id x",
                    Err("ERR lease must be a positive duration such as 60, 500ms, 10m, 1h or 1d"),
                ),
                ("RL.RENEW k id 1m x", Err(SYNTAX)),
            ],
        );
        // A lease too long for nanoseconds is refused (it used to saturate silently).
        let far = acquire(crate::commands::test_support::argv(
            "RL.ACQUIRE k 1 9223372036854775807ms",
        ));
        assert_eq!(
            far.unwrap_err().to_string(),
            "ERR lease must be at most 36500d (100 years)"
        );
        let renew_far = renew(crate::commands::test_support::argv("RL.RENEW k id 36501d"));
        assert!(renew_far.is_err());
    }

    #[test]
    fn cl_throttle_speaks_redis_cell() {
        let usage = "Cell error: Usage: cl.throttle <key> <max_burst> <count per period> <period> [<quantity>]";
        let req = |quantity| Throttle {
            key: b"k",
            max_burst: 15,
            count: 30,
            period: 60,
            quantity,
        };
        check_cases(
            throttle,
            &[
                ("CL.THROTTLE k 15 30 60", Ok(req(1))),
                ("CL.THROTTLE k 15 30 60 5", Ok(req(5))),
                ("CL.THROTTLE", Err(usage)),
                ("CL.THROTTLE k 1", Err(usage)),
                ("CL.THROTTLE k 15 30 60 1 1", Err(usage)),
                (
                    "CL.THROTTLE k x 1 60",
                    Err("Cell error: Couldn't parse as integer: x"),
                ),
                (
                    "CL.THROTTLE k 1 2 y z",
                    Err("Cell error: Couldn't parse as integer: y"),
                ),
            ],
        );
    }
}
