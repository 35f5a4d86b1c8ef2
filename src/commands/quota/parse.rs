//! Parsing of the QUOTA.* commands: argv to typed requests. Pure: no state, no locks, no
//! replies. Plans are only named here; the handlers look them up, so a syntax error is
//! reported before an unknown plan.
//!
//! Metric names, ids and plan names are text (UTF-8); a metric may not be named like an
//! option of its command (`PLAN`, `ID`, `DRYRUN`, `TTL`), which would be read as the option.

use crate::config::Window;
use crate::error::CmdError;
use crate::protocol::args::{is, Args};
use crate::quota::state::ResetScope;
use crate::quota::Mutation;

/// A QUOTA.* mutation with the subject and the PLAN argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutate<'a> {
    pub key: &'a [u8],
    pub plan: Option<String>,
    pub mutation: Mutation,
}

fn text(arg: &[u8], what: &str) -> Result<String, CmdError> {
    String::from_utf8(arg.to_vec())
        .map_err(|_| CmdError::other(format!("ERR {what} must be valid UTF-8")))
}

fn is_option(arg: &[u8]) -> bool {
    ["PLAN", "ID", "DRYRUN", "TTL"].iter().any(|o| is(arg, o))
}

/// `<metric> <amount>` pairs up to the first option.
fn items(a: &mut Args<'_>) -> Result<Vec<(String, u64)>, CmdError> {
    let mut out = Vec::new();
    while let Some(m) = a.peek() {
        if is_option(m) {
            break;
        }
        a.next_bytes()?;
        if a.is_empty() {
            return Err(CmdError::Syntax);
        }
        out.push((text(m, "a metric name")?, a.next_u64()?));
    }
    Ok(out)
}

/// The options after the pairs: each once, only those `allowed`.
#[derive(Default)]
struct Options {
    plan: Option<String>,
    id: Option<String>,
    ttl_ms: Option<u64>,
    dry_run: bool,
}

fn options(a: &mut Args<'_>, allowed: &[&str]) -> Result<Options, CmdError> {
    let mut o = Options::default();
    while let Some(opt) = a.next() {
        let allowed = |name: &str| is(opt, name) && allowed.contains(&name);
        let has_value = !a.is_empty();
        if allowed("PLAN") && has_value && o.plan.is_none() {
            o.plan = Some(text(a.next_bytes()?, "a plan name")?);
        } else if allowed("ID") && has_value && o.id.is_none() {
            o.id = Some(text(a.next_bytes()?, "ID")?);
        } else if allowed("TTL") && has_value && o.ttl_ms.is_none() {
            o.ttl_ms = Some(a.next_positive_duration_ms("TTL")?);
        } else if allowed("DRYRUN") && !o.dry_run {
            o.dry_run = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(o)
}

fn id_required(id: Option<String>) -> Result<String, CmdError> {
    id.ok_or_else(|| CmdError::other("ERR ID is required"))
}

/// QUOTA.CHARGE `subject metric amount [metric amount ...] [PLAN p] [ID id] [DRYRUN]`.
pub fn charge<'a>(argv: &'a [&'a [u8]]) -> Result<Mutate<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let items = items(&mut a)?;
    if items.is_empty() {
        return Err(CmdError::Syntax);
    }
    let o = options(&mut a, &["PLAN", "ID", "DRYRUN"])?;
    Ok(Mutate {
        key,
        plan: o.plan,
        mutation: Mutation::Charge {
            items,
            id: o.id,
            dry_run: o.dry_run,
        },
    })
}

/// QUOTA.RESERVE `subject metric amount [metric amount ...] ID id [TTL d] [PLAN p]`.
pub fn reserve<'a>(argv: &'a [&'a [u8]]) -> Result<Mutate<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let items = items(&mut a)?;
    if items.is_empty() {
        return Err(CmdError::Syntax);
    }
    let o = options(&mut a, &["PLAN", "ID", "TTL"])?;
    Ok(Mutate {
        key,
        plan: o.plan,
        mutation: Mutation::Reserve {
            items,
            id: id_required(o.id)?,
            ttl_ms: o.ttl_ms,
        },
    })
}

/// The subject, the id and the amounts of SETTLE, CANCEL and REFUND.
type ById<'a> = (&'a [u8], String, Vec<(String, u64)>);

/// `subject ID id [metric amount ...]` (SETTLE, REFUND) or `subject ID id` (CANCEL).
fn by_id<'a>(argv: &'a [&'a [u8]], amounts: bool) -> Result<ById<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    if !a.eat_keyword("ID") || a.is_empty() {
        return Err(CmdError::Syntax);
    }
    let id = text(a.next_bytes()?, "ID")?;
    let items = if amounts { items(&mut a)? } else { Vec::new() };
    a.finish()?;
    Ok((key, id, items))
}

/// QUOTA.SETTLE `subject ID id [metric actual ...]`.
pub fn settle<'a>(argv: &'a [&'a [u8]]) -> Result<Mutate<'a>, CmdError> {
    let (key, id, items) = by_id(argv, true)?;
    Ok(Mutate {
        key,
        plan: None,
        mutation: Mutation::Settle { id, items },
    })
}

/// QUOTA.CANCEL `subject ID id`.
pub fn cancel<'a>(argv: &'a [&'a [u8]]) -> Result<Mutate<'a>, CmdError> {
    let (key, id, _) = by_id(argv, false)?;
    Ok(Mutate {
        key,
        plan: None,
        mutation: Mutation::Cancel { id },
    })
}

/// QUOTA.REFUND `subject ID id [metric amount ...]`.
pub fn refund<'a>(argv: &'a [&'a [u8]]) -> Result<Mutate<'a>, CmdError> {
    let (key, id, items) = by_id(argv, true)?;
    Ok(Mutate {
        key,
        plan: None,
        mutation: Mutation::Refund { id, items },
    })
}

/// QUOTA.RESET `subject [METRIC m [WINDOW w]]`.
pub fn reset<'a>(argv: &'a [&'a [u8]]) -> Result<Mutate<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let scope = if a.is_empty() {
        ResetScope::All
    } else if a.eat_keyword("METRIC") && !a.is_empty() {
        let metric = text(a.next_bytes()?, "a metric name")?;
        if a.is_empty() {
            ResetScope::Metric(metric)
        } else if a.eat_keyword("WINDOW") && !a.is_empty() {
            let w = a.next_bytes()?;
            let w: Window = std::str::from_utf8(w)
                .ok()
                .and_then(|w| w.to_ascii_lowercase().parse().ok())
                .ok_or_else(|| {
                    CmdError::other("ERR WINDOW must be one of minute, hour, day, week, month")
                })?;
            ResetScope::Window(metric, w)
        } else {
            return Err(CmdError::Syntax);
        }
    } else {
        return Err(CmdError::Syntax);
    };
    a.finish()?;
    Ok(Mutate {
        key,
        plan: None,
        mutation: Mutation::Reset(scope),
    })
}

/// QUOTA.STATUS `subject [PLAN p]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status<'a> {
    pub key: &'a [u8],
    pub plan: Option<String>,
}

pub fn status<'a>(argv: &'a [&'a [u8]]) -> Result<Status<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let o = options(&mut a, &["PLAN"])?;
    Ok(Status { key, plan: o.plan })
}

/// QUOTA.PLAN `subject [plan]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanReq<'a> {
    pub key: &'a [u8],
    pub plan: Option<String>,
}

pub fn plan<'a>(argv: &'a [&'a [u8]]) -> Result<PlanReq<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let plan = match a.next() {
        Some(p) => Some(text(p, "a plan name")?),
        None => None,
    };
    a.finish()?;
    Ok(PlanReq { key, plan })
}

/// QUOTA.LEDGER `subject [COUNT n]` (default 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ledger<'a> {
    pub key: &'a [u8],
    pub count: usize,
}

/// Entries a LEDGER lists without COUNT.
pub const LEDGER_DEFAULT: usize = 10;

pub fn ledger<'a>(argv: &'a [&'a [u8]]) -> Result<Ledger<'a>, CmdError> {
    let mut a = Args::command(argv);
    let key = a.next_key()?;
    let count = if a.is_empty() {
        LEDGER_DEFAULT
    } else if a.eat_keyword("COUNT") && !a.is_empty() {
        usize::try_from(a.next_u64()?).unwrap_or(usize::MAX)
    } else {
        return Err(CmdError::Syntax);
    };
    a.finish()?;
    Ok(Ledger { key, count })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<&[u8]> {
        s.split(' ').map(str::as_bytes).collect()
    }

    #[test]
    fn charge_reads_pairs_then_options() {
        let a = argv("quota.charge u tokens 100 calls 1 plan pro_monthly id x dryrun");
        let m = charge(&a).unwrap();
        assert_eq!(m.key, b"u");
        assert_eq!(m.plan.as_deref(), Some("pro_monthly"));
        assert_eq!(
            m.mutation,
            Mutation::Charge {
                items: vec![("tokens".into(), 100), ("calls".into(), 1)],
                id: Some("x".into()),
                dry_run: true
            }
        );
    }

    #[test]
    fn errors_as_redis_words_them() {
        let err =
            |s: &str, f: fn(&[&[u8]]) -> Result<(), CmdError>| f(&argv(s)).unwrap_err().to_string();
        let charge_ = |a: &[&[u8]]| charge(a).map(drop);
        let reserve_ = |a: &[&[u8]]| reserve(a).map(drop);
        assert_eq!(err("quota.charge u tokens", charge_), "ERR syntax error");
        assert_eq!(err("quota.charge u ID x", charge_), "ERR syntax error");
        assert_eq!(
            err("quota.charge u tokens -1", charge_),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            err("quota.charge u tokens 1 ID a ID b", charge_),
            "ERR syntax error"
        );
        assert_eq!(
            err("quota.charge u tokens 1 TTL 5", charge_),
            "ERR syntax error"
        );
        assert_eq!(
            err("quota.reserve u tokens 1", reserve_),
            "ERR ID is required"
        );
        assert_eq!(
            err("quota.reserve u tokens 1 ID r TTL 0", reserve_),
            "ERR TTL must be a positive duration such as 60, 500ms, 10m, 1h or 1d"
        );
        let a = argv("quota.reserve u tokens 5 ID r TTL 10m");
        let ok = reserve(&a).unwrap();
        assert!(matches!(
            ok.mutation,
            Mutation::Reserve {
                ttl_ms: Some(600_000),
                ..
            }
        ));
        assert!(settle(&argv("quota.settle u id r tokens 7")).is_ok());
        assert!(settle(&argv("quota.settle u tokens 7")).is_err());
        assert!(cancel(&argv("quota.cancel u ID r extra")).is_err());
        assert!(reset(&argv("quota.reset u METRIC tokens WINDOW Day")).is_ok());
        assert!(reset(&argv("quota.reset u METRIC tokens WINDOW year")).is_err());
        assert!(reset(&argv("quota.reset u WINDOW day")).is_err());
        assert_eq!(ledger(&argv("quota.ledger u COUNT 3")).unwrap().count, 3);
        assert!(ledger(&argv("quota.ledger u COUNT")).is_err());
        assert!(plan(&argv("quota.plan u a b")).is_err());
        let bad: Vec<&[u8]> = vec![b"quota.charge", b"u", b"\xff", b"1"];
        assert_eq!(
            charge(&bad).unwrap_err().to_string(),
            "ERR a metric name must be valid UTF-8"
        );
    }
}
