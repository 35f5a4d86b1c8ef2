//! Parsing of the CACHE.* commands: argv to typed requests. Pure: no state, no locks, no
//! replies. Types and plans are only named here; the handlers look them up, so a syntax
//! error is reported before an unknown type.

use crate::error::CmdError;
use crate::protocol::args::Args;

/// CACHE.SET `subject type key value [TTL d] [PLAN p] [COST usd] [TOKENS n] [NX]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Set<'a> {
    pub subject: &'a [u8],
    pub type_name: &'a [u8],
    pub key: &'a [u8],
    pub value: &'a [u8],
    /// ms; 0 = never expires.
    pub ttl_ms: Option<u64>,
    pub plan: Option<&'a [u8]>,
    /// `COST`, in billionths of a dollar.
    pub cost_nanos: u64,
    pub tokens: u64,
    pub nx: bool,
}

/// CACHE.GET `subject type key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Get<'a> {
    pub subject: &'a [u8],
    pub type_name: &'a [u8],
    pub key: &'a [u8],
}

/// CACHE.FETCH `subject type key LEASE d [WAIT d]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fetch<'a> {
    pub get: Get<'a>,
    pub lease_ms: u64,
    /// 0 (the default): a miss while another client fills answers `timeout` at once.
    pub wait_ms: u64,
}

/// CACHE.DEL `subject [type [key]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Del<'a> {
    pub subject: &'a [u8],
    pub type_name: Option<&'a [u8]>,
    pub key: Option<&'a [u8]>,
}

/// A subject: any bytes but none (the empty name files the shared types' entries, and a
/// subject must never reach them as its own).
fn subject<'a>(a: &mut Args<'a>) -> Result<&'a [u8], CmdError> {
    match a.next_key()? {
        b"" => Err(CmdError::other("ERR the subject must not be empty")),
        s => Ok(s),
    }
}

fn get_args<'a>(a: &mut Args<'a>) -> Result<Get<'a>, CmdError> {
    Ok(Get {
        subject: subject(a)?,
        type_name: a.next_bytes()?,
        key: a.next_bytes()?,
    })
}

pub fn set<'a>(argv: &'a [&'a [u8]]) -> Result<Set<'a>, CmdError> {
    let mut a = Args::command(argv);
    let Get {
        subject,
        type_name,
        key,
    } = get_args(&mut a)?;
    let value = a.next_bytes()?;
    let mut req = Set {
        subject,
        type_name,
        key,
        value,
        ttl_ms: None,
        plan: None,
        cost_nanos: 0,
        tokens: 0,
        nx: false,
    };
    let (mut cost, mut tokens) = (false, false);
    while !a.is_empty() {
        if !req.nx && a.eat_keyword("NX") {
            req.nx = true;
            continue;
        }
        let has_value = a.remaining() >= 2;
        if has_value && req.ttl_ms.is_none() && a.eat_keyword("TTL") {
            req.ttl_ms = Some(a.next_duration_ms("TTL")?);
        } else if has_value && req.plan.is_none() && a.eat_keyword("PLAN") {
            req.plan = Some(a.next_bytes()?);
        } else if has_value && !cost && a.eat_keyword("COST") {
            cost = true;
            let c = a.next_f64()?;
            // Up to a billion dollars, to the billionth.
            if !(0.0..=1e9).contains(&c) {
                return Err(CmdError::other(
                    "ERR COST must be a number of dollars between 0 and 1000000000",
                ));
            }
            req.cost_nanos = (c * 1e9).round() as u64;
        } else if has_value && !tokens && a.eat_keyword("TOKENS") {
            tokens = true;
            req.tokens = a.next_u64()?;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(req)
}

pub fn get<'a>(argv: &'a [&'a [u8]]) -> Result<Get<'a>, CmdError> {
    let mut a = Args::command(argv);
    let g = get_args(&mut a)?;
    a.finish()?;
    Ok(g)
}

pub fn fetch<'a>(argv: &'a [&'a [u8]]) -> Result<Fetch<'a>, CmdError> {
    let mut a = Args::command(argv);
    let get = get_args(&mut a)?;
    let (mut lease_ms, mut wait_ms) = (None, None);
    while !a.is_empty() {
        let has_value = a.remaining() >= 2;
        if has_value && lease_ms.is_none() && a.eat_keyword("LEASE") {
            lease_ms = Some(a.next_positive_duration_ms("LEASE")?);
        } else if has_value && wait_ms.is_none() && a.eat_keyword("WAIT") {
            wait_ms = Some(a.next_duration_ms("WAIT")?);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let lease_ms = lease_ms.ok_or_else(|| CmdError::other("ERR LEASE is required"))?;
    Ok(Fetch {
        get,
        lease_ms,
        wait_ms: wait_ms.unwrap_or(0),
    })
}

pub fn del<'a>(argv: &'a [&'a [u8]]) -> Result<Del<'a>, CmdError> {
    let mut a = Args::command(argv);
    let subject = subject(&mut a)?;
    let type_name = (!a.is_empty()).then(|| a.next_bytes()).transpose()?;
    let key = (!a.is_empty()).then(|| a.next_bytes()).transpose()?;
    a.finish()?;
    Ok(Del {
        subject,
        type_name,
        key,
    })
}

/// CACHE.STATS `[subject]`.
pub fn stats<'a>(argv: &'a [&'a [u8]]) -> Result<Option<&'a [u8]>, CmdError> {
    let mut a = Args::command(argv);
    let subject = (!a.is_empty()).then(|| subject(&mut a)).transpose()?;
    a.finish()?;
    Ok(subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<&[u8]> {
        s.split(' ').map(str::as_bytes).collect()
    }

    #[test]
    fn set_reads_options_in_any_order_once_each() {
        let v = argv("CACHE.SET u content k v nx tokens 1200 COST 0.02 TTL 10m PLAN pro_annual");
        let r = set(&v).unwrap();
        assert_eq!(
            (r.subject, r.type_name, r.key, r.value),
            (&b"u"[..], &b"content"[..], &b"k"[..], &b"v"[..])
        );
        assert_eq!(
            (r.ttl_ms, r.plan, r.tokens, r.nx),
            (Some(600_000), Some(&b"pro_annual"[..]), 1200, true)
        );
        assert_eq!(r.cost_nanos, 20_000_000);
        assert_eq!(
            set(&argv("CACHE.SET u t k v TTL 0")).unwrap().ttl_ms,
            Some(0)
        );
        for bad in [
            "CACHE.SET u t k v NX NX",
            "CACHE.SET u t k v TTL",
            "CACHE.SET u t k v TTL 1 TTL 2",
            "CACHE.SET u t k v EX 10",
        ] {
            assert_eq!(set(&argv(bad)), Err(CmdError::Syntax), "{bad}");
        }
        assert_eq!(
            set(&argv("CACHE.SET u t k v TOKENS -1")),
            Err(CmdError::NotInt)
        );
        assert_eq!(
            set(&argv("CACHE.SET u t k v COST abc")),
            Err(CmdError::NotFloat)
        );
        assert!(set(&argv("CACHE.SET u t k v COST -1")).is_err());
        assert!(set(&argv("CACHE.SET u t k v TTL -5")).is_err());
    }

    #[test]
    fn fetch_needs_a_positive_lease() {
        let v = argv("CACHE.FETCH u t k WAIT 2s LEASE 30s");
        let r = fetch(&v).unwrap();
        assert_eq!((r.lease_ms, r.wait_ms), (30_000, 2_000));
        assert_eq!(
            fetch(&argv("CACHE.FETCH u t k LEASE 1")).unwrap().wait_ms,
            0
        );
        assert!(fetch(&argv("CACHE.FETCH u t k")).is_err());
        assert!(fetch(&argv("CACHE.FETCH u t k LEASE 0")).is_err());
        assert_eq!(
            fetch(&argv("CACHE.FETCH u t k LEASE 1 LEASE 2")),
            Err(CmdError::Syntax)
        );
    }

    #[test]
    fn del_and_stats_take_optional_scopes() {
        assert_eq!(del(&argv("CACHE.DEL u")).unwrap().type_name, None);
        let v = argv("CACHE.DEL u t k");
        let d = del(&v).unwrap();
        assert_eq!((d.type_name, d.key), (Some(&b"t"[..]), Some(&b"k"[..])));
        assert_eq!(del(&argv("CACHE.DEL u t k x")), Err(CmdError::Syntax));
        assert_eq!(stats(&argv("CACHE.STATS")).unwrap(), None);
        assert_eq!(stats(&argv("CACHE.STATS u")).unwrap(), Some(&b"u"[..]));
        assert_eq!(stats(&argv("CACHE.STATS u v")), Err(CmdError::Syntax));
        let empty = CmdError::other("ERR the subject must not be empty");
        for bad in [
            &[&b"CACHE.GET"[..], b"", b"t", b"k"][..],
            &[b"CACHE.DEL", b""],
            &[b"CACHE.STATS", b""],
        ] {
            let r = match bad[0] {
                b"CACHE.GET" => get(bad).map(|_| ()),
                b"CACHE.DEL" => del(bad).map(|_| ()),
                _ => stats(bad).map(|_| ()),
            };
            assert_eq!(r, Err(empty.clone()));
        }
    }
}
