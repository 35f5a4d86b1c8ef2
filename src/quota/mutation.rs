//! The quota mutations as values: what QUOTA.CHARGE, RESERVE, SETTLE, CANCEL, REFUND, RESET
//! and PLAN ask of a subject, one function that applies one to a state (used by the commands
//! and by the journal's replay alike, so a replay is the same code on the same inputs), and
//! the journal's record encoding.
//!
//! ```text
//! record   tag:u8, then
//!   1 catalog   TOML text (`Catalog::encode`): the plans the op records after it ran on
//!   2 op        epoch:u64 db:u32 key:bytes now:u64 plan:str mutation
//!   3 drop      epoch:u64 db:u32 key:bytes
//!   4 store     epoch:u64 db:u32 key:bytes deadline:u64 (0 none) state:bytes (`codec`)
//! mutation tag:u8, then
//!   0 charge    items id:opt-str        1 reserve  items id:str ttl:opt-u64
//!   2 settle    id:str items            3 cancel   id:str
//!   4 refund    id:str items            5 reset    scope:u8 (0 all, 1 metric, 2 window) [metric:str [window:u8]]
//!   6 plan      plan:opt-str
//! items = count:u32, count × (metric:str amount:u64); str/bytes = len:u32 then bytes;
//! opt = 0, or 1 then the value; integers little-endian.
//! ```

use super::codec::{window_tag, DecodeError, Reader, Writer};
use super::state::{Outcome, Params, QuotaError, ResetScope, SubjectState};

/// One mutation of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    Charge {
        items: Vec<(String, u64)>,
        id: Option<String>,
        dry_run: bool,
    },
    Reserve {
        items: Vec<(String, u64)>,
        id: String,
        ttl_ms: Option<u64>,
    },
    Settle {
        id: String,
        items: Vec<(String, u64)>,
    },
    Cancel {
        id: String,
    },
    Refund {
        id: String,
        items: Vec<(String, u64)>,
    },
    Reset(ResetScope),
    /// QUOTA.PLAN with a name (`None` is never sent by the command: it stores a name).
    SetPlan(Option<String>),
}

/// What applying a mutation answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Outcome(Outcome),
    Done,
}

impl Mutation {
    /// Applies `self` to `state` at `now` under `p`.
    pub fn apply(
        &self,
        state: &mut SubjectState,
        p: &Params<'_>,
        now: u64,
    ) -> Result<Applied, QuotaError> {
        let o = match self {
            Mutation::Charge { items, id, dry_run } => {
                state.charge(p, items, id.as_deref(), *dry_run, now)?
            }
            Mutation::Reserve { items, id, ttl_ms } => state.reserve(p, items, id, *ttl_ms, now)?,
            Mutation::Settle { id, items } => state.settle(p, id, items, now)?,
            Mutation::Cancel { id } => state.cancel(p, id, now)?,
            Mutation::Refund { id, items } => state.refund(p, id, items, now)?,
            Mutation::Reset(scope) => {
                state.reset(p, scope, now)?;
                return Ok(Applied::Done);
            }
            Mutation::SetPlan(plan) => {
                state.expire(p, now);
                state.set_plan(plan.clone());
                return Ok(Applied::Done);
            }
        };
        Ok(Applied::Outcome(o))
    }

    /// Whether applying it with this result changed the state, so the journal must record
    /// it: not a replay, a dry run, or a charge refused without an id (nothing remembered).
    /// (Releasing expired holds changes the state too, but by time alone: a replay of a
    /// later operation releases them the same way.)
    pub fn changed(&self, applied: &Applied) -> bool {
        match (self, applied) {
            (_, Applied::Done) => true,
            (_, Applied::Outcome(o)) if o.replayed => false,
            (Mutation::Charge { dry_run: true, .. }, _) => false,
            (Mutation::Charge { id: None, .. }, Applied::Outcome(o)) => o.allowed,
            _ => true,
        }
    }
}

const REC_CATALOG: u8 = 1;
const REC_OP: u8 = 2;
const REC_DROP: u8 = 3;
const REC_STORE: u8 = 4;

/// A journal record, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    Catalog(&'a [u8]),
    Op {
        head: Head<'a>,
        now: u64,
        plan: String,
        mutation: Mutation,
    },
    Drop(Head<'a>),
    Store {
        head: Head<'a>,
        deadline: Option<u64>,
        state: &'a [u8],
    },
}

/// Where a record applies: the snapshot generation it was written in, the database, the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head<'a> {
    pub epoch: u64,
    pub db: usize,
    pub key: &'a [u8],
}

pub fn encode_catalog(catalog_bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + catalog_bytes.len());
    out.push(REC_CATALOG);
    out.extend_from_slice(catalog_bytes);
    out
}

fn head(w: &mut Writer, tag: u8, h: &Head<'_>) {
    w.u8(tag);
    w.u64(h.epoch);
    w.len(h.db);
    w.len(h.key.len());
    w.0.extend_from_slice(h.key);
}

pub fn encode_op(h: &Head<'_>, now: u64, plan: &str, m: &Mutation) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(64 + h.key.len()));
    head(&mut w, REC_OP, h);
    w.u64(now);
    w.str(plan);
    let opt_str = |w: &mut Writer, s: &Option<String>| match s {
        Some(s) => {
            w.u8(1);
            w.str(s);
        }
        None => w.u8(0),
    };
    match m {
        Mutation::Charge { items, id, .. } => {
            w.u8(0);
            w.amounts(items);
            opt_str(&mut w, id);
        }
        Mutation::Reserve { items, id, ttl_ms } => {
            w.u8(1);
            w.amounts(items);
            w.str(id);
            match ttl_ms {
                Some(t) => {
                    w.u8(1);
                    w.u64(*t);
                }
                None => w.u8(0),
            }
        }
        Mutation::Settle { id, items } => {
            w.u8(2);
            w.str(id);
            w.amounts(items);
        }
        Mutation::Cancel { id } => {
            w.u8(3);
            w.str(id);
        }
        Mutation::Refund { id, items } => {
            w.u8(4);
            w.str(id);
            w.amounts(items);
        }
        Mutation::Reset(scope) => {
            w.u8(5);
            match scope {
                ResetScope::All => w.u8(0),
                ResetScope::Metric(m) => {
                    w.u8(1);
                    w.str(m);
                }
                ResetScope::Window(m, win) => {
                    w.u8(2);
                    w.str(m);
                    w.u8(window_tag(*win));
                }
            }
        }
        Mutation::SetPlan(plan) => {
            w.u8(6);
            opt_str(&mut w, plan);
        }
    }
    w.0
}

pub fn encode_drop(h: &Head<'_>) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(16 + h.key.len()));
    head(&mut w, REC_DROP, h);
    w.0
}

pub fn encode_store(h: &Head<'_>, deadline: Option<u64>, state: &SubjectState) -> Vec<u8> {
    let encoded = super::codec::encode(state);
    let mut w = Writer(Vec::with_capacity(32 + h.key.len() + encoded.len()));
    head(&mut w, REC_STORE, h);
    w.u64(deadline.unwrap_or(0));
    w.len(encoded.len());
    w.0.extend_from_slice(&encoded);
    w.0
}

/// Decodes a record; never panics, whatever the bytes.
pub fn decode_record(bytes: &[u8]) -> Result<Record<'_>, DecodeError> {
    let mut r = Reader { bytes, at: 0 };
    let tag = r.u8()?;
    if tag == REC_CATALOG {
        return Ok(Record::Catalog(&bytes[1..]));
    }
    if !(REC_OP..=REC_STORE).contains(&tag) {
        return Err(r.invalid("record type"));
    }
    let epoch = r.u64()?;
    let db = r.u32()? as usize;
    let n = r.len(1)?;
    let key = r.take(n)?;
    let head = Head { epoch, db, key };
    let record = match tag {
        REC_DROP => Record::Drop(head),
        REC_STORE => {
            let deadline = match r.u64()? {
                0 => None,
                at => Some(at),
            };
            let n = r.len(1)?;
            Record::Store {
                head,
                deadline,
                state: r.take(n)?,
            }
        }
        _ => {
            let now = r.u64()?;
            let plan = r.str()?;
            let mutation = mutation(&mut r)?;
            Record::Op {
                head,
                now,
                plan,
                mutation,
            }
        }
    };
    match bytes.len() - r.at {
        0 => Ok(record),
        extra => Err(DecodeError::Trailing { extra }),
    }
}

fn mutation(r: &mut Reader<'_>) -> Result<Mutation, DecodeError> {
    fn opt_str(r: &mut Reader<'_>) -> Result<Option<String>, DecodeError> {
        match r.u8()? {
            0 => Ok(None),
            1 => Ok(Some(r.str()?)),
            _ => Err(r.invalid("option flag")),
        }
    }
    let m = match r.u8()? {
        0 => Mutation::Charge {
            items: r.amounts()?,
            id: opt_str(r)?,
            dry_run: false,
        },
        1 => Mutation::Reserve {
            items: r.amounts()?,
            id: r.str()?,
            ttl_ms: match r.u8()? {
                0 => None,
                1 => Some(r.u64()?),
                _ => return Err(r.invalid("option flag")),
            },
        },
        2 => Mutation::Settle {
            id: r.str()?,
            items: r.amounts()?,
        },
        3 => Mutation::Cancel { id: r.str()? },
        4 => Mutation::Refund {
            id: r.str()?,
            items: r.amounts()?,
        },
        5 => Mutation::Reset(match r.u8()? {
            0 => ResetScope::All,
            1 => ResetScope::Metric(r.str()?),
            2 => ResetScope::Window(r.str()?, r.window()?),
            _ => return Err(r.invalid("reset scope")),
        }),
        6 => Mutation::SetPlan(opt_str(r)?),
        _ => return Err(r.invalid("mutation")),
    };
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Window;

    fn items() -> Vec<(String, u64)> {
        vec![("tokens".into(), 100), ("calls".into(), 1)]
    }

    #[test]
    fn every_record_round_trips_and_every_truncation_is_refused() {
        let h = Head {
            epoch: 7,
            db: 3,
            key: b"user:\x00\xff",
        };
        let muts = [
            Mutation::Charge {
                items: items(),
                id: Some("a".into()),
                dry_run: false,
            },
            Mutation::Charge {
                items: items(),
                id: None,
                dry_run: false,
            },
            Mutation::Reserve {
                items: items(),
                id: "r".into(),
                ttl_ms: Some(5),
            },
            Mutation::Reserve {
                items: items(),
                id: "r".into(),
                ttl_ms: None,
            },
            Mutation::Settle {
                id: "r".into(),
                items: items(),
            },
            Mutation::Cancel { id: "r".into() },
            Mutation::Refund {
                id: "r".into(),
                items: vec![],
            },
            Mutation::Reset(ResetScope::All),
            Mutation::Reset(ResetScope::Metric("tokens".into())),
            Mutation::Reset(ResetScope::Window("tokens".into(), Window::Month)),
            Mutation::SetPlan(Some("pro_monthly".into())),
            Mutation::SetPlan(None),
        ];
        let mut records = vec![encode_drop(&h), encode_catalog(b"x = 1")];
        let mut s = SubjectState::new();
        s.set_plan(Some("p".into()));
        records.push(encode_store(&h, Some(99), &s));
        records.push(encode_store(&h, None, &s));
        for m in &muts {
            let bytes = encode_op(&h, 1234, "freemium", m);
            match decode_record(&bytes).unwrap() {
                Record::Op {
                    head,
                    now,
                    plan,
                    mutation,
                } => {
                    assert_eq!((head, now, plan.as_str()), (h, 1234, "freemium"));
                    assert_eq!(&mutation, m);
                }
                other => panic!("{other:?}"),
            }
            records.push(bytes);
        }
        assert_eq!(decode_record(&records[0]).unwrap(), Record::Drop(h));
        assert_eq!(
            decode_record(&records[2]).unwrap(),
            Record::Store {
                head: h,
                deadline: Some(99),
                state: &super::super::codec::encode(&s)
            }
        );
        for r in &records[2..] {
            for cut in 0..r.len() {
                assert!(decode_record(&r[..cut]).is_err(), "cut at {cut} of {r:?}");
            }
            let mut long = r.clone();
            long.push(0);
            assert!(decode_record(&long).is_err());
        }
        assert!(decode_record(&[9]).is_err());
        assert!(decode_record(&[]).is_err());
    }
}
