//! The binary encoding of a [`SubjectState`], for the durable log and snapshots: a magic and
//! version, then every field in a fixed order, integers little-endian, strings and lists with
//! a u32 length, maps in key order. Decoding checks every length against the bytes left before
//! allocating, every tag and every string, requires keys strictly increasing (one encoding per
//! state, no duplicates), refuses trailing bytes, and never panics.

use std::collections::VecDeque;

use crate::config::Window;

use super::state::{
    Counter, Hold, LedgerEntry, Level, Op, Outcome, Refundable, Remembered, SubjectState,
    WindowStatus,
};

/// The first bytes of an encoded subject.
const MAGIC: &[u8; 3] = b"TQS";
/// The version written; decoding refuses others.
pub const VERSION: u8 = 1;

/// Why bytes are not an encoded subject. `at` is the byte offset of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a quota state (bad magic)")]
    BadMagic,
    #[error("quota state version {0} is not supported (this version reads {VERSION})")]
    Version(u8),
    #[error("quota state truncated at byte {at}")]
    Truncated { at: usize },
    #[error("quota state has an invalid {what} at byte {at}")]
    Invalid { what: &'static str, at: usize },
    #[error("quota state has {extra} trailing bytes")]
    Trailing { extra: usize },
}

/// Encodes `s` (see the module documentation for the layout).
pub fn encode(s: &SubjectState) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(64 + s.approx_bytes() / 2));
    w.0.extend_from_slice(MAGIC);
    w.u8(VERSION);
    match &s.plan {
        Some(p) => {
            w.u8(1);
            w.str(p);
        }
        None => w.u8(0),
    }
    w.len(s.usage.len());
    for ((metric, window), c) in &s.usage {
        w.str(metric);
        w.u8(window_tag(*window));
        w.u64(c.start);
        w.u64(c.used);
    }
    w.len(s.holds.len());
    for (id, h) in &s.holds {
        w.str(id);
        w.amounts(&h.amounts);
        w.u64(h.expires_at);
    }
    w.len(s.refundable.len());
    for (id, r) in &s.refundable {
        w.str(id);
        w.amounts(&r.amounts);
        w.len(r.starts.len());
        for (metric, window, start) in &r.starts {
            w.str(metric);
            w.u8(window_tag(*window));
            w.u64(*start);
        }
        w.u64(r.expires_at);
    }
    w.len(s.ids.len());
    for ((op, id), r) in &s.ids {
        w.u8(op_tag(*op));
        w.str(id);
        // Already in the encoding `Writer::outcome` writes.
        w.0.extend_from_slice(&r.outcome);
        w.u64(r.expires_at);
    }
    w.len(s.ledger.len());
    for e in &s.ledger {
        w.str(&e.id);
        w.u64(e.ts);
        w.u8(op_tag(e.op));
        w.str(&e.metric);
        w.u64(e.amount);
    }
    w.u64(s.ids_evicted);
    w.0
}

/// A remembered outcome, in the form the state encoding uses for it.
pub(super) fn encode_outcome(o: &Outcome) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(24 + 64 * o.windows.len()));
    w.outcome(o);
    w.0
}

/// What [`encode_outcome`] wrote (`None` for anything else).
pub(super) fn decode_outcome(bytes: &[u8]) -> Option<Outcome> {
    let mut r = Reader { bytes, at: 0 };
    let o = r.outcome().ok()?;
    (r.at == bytes.len()).then_some(o)
}

/// Decodes what [`encode`] wrote.
pub fn decode(bytes: &[u8]) -> Result<SubjectState, DecodeError> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(MAGIC.len()).ok() != Some(&MAGIC[..]) {
        return Err(DecodeError::BadMagic);
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let mut s = SubjectState::new();
    s.plan = match r.u8()? {
        0 => None,
        1 => Some(r.str()?),
        _ => return Err(r.invalid("plan flag")),
    };
    // Minimum encoded sizes bound each count by the bytes left (no huge allocation).
    for _ in 0..r.len(4 + 1 + 16)? {
        let metric = r.str()?;
        let window = r.window()?;
        let c = Counter {
            start: r.u64()?,
            used: r.u64()?,
        };
        let key = (metric, window);
        if s.usage
            .last_key_value()
            .is_some_and(|(last, _)| *last >= key)
        {
            return Err(r.invalid("counter order"));
        }
        s.usage.insert(key, c);
    }
    for _ in 0..r.len(4 + 4 + 8)? {
        let id = r.str()?;
        let h = Hold {
            amounts: r.amounts()?,
            expires_at: r.u64()?,
        };
        if s.holds
            .last_key_value()
            .is_some_and(|(last, _)| *last >= id)
        {
            return Err(r.invalid("hold order"));
        }
        s.holds.insert(id, h);
    }
    for _ in 0..r.len(4 + 4 + 4 + 8)? {
        let id = r.str()?;
        let amounts = r.amounts()?;
        let n = r.len(4 + 1 + 8)?;
        let mut starts = Vec::with_capacity(n);
        for _ in 0..n {
            starts.push((r.str()?, r.window()?, r.u64()?));
        }
        let refundable = Refundable {
            amounts,
            starts,
            expires_at: r.u64()?,
        };
        if s.refundable
            .last_key_value()
            .is_some_and(|(last, _)| *last >= id)
        {
            return Err(r.invalid("refundable charge order"));
        }
        s.refundable.insert(id, refundable);
    }
    for _ in 0..r.len(1 + 4 + 1 + 1 + 8 + 1 + 4 + 8)? {
        let op = r.op()?;
        let id = r.str()?;
        let remembered = Remembered {
            outcome: {
                let start = r.at;
                r.outcome()?;
                bytes[start..r.at].into()
            },
            expires_at: r.u64()?,
        };
        let key = (op, id);
        if s.ids.last_key_value().is_some_and(|(last, _)| *last >= key) {
            return Err(r.invalid("id order"));
        }
        s.ids.insert(key, remembered);
    }
    let n = r.len(4 + 8 + 1 + 4 + 8)?;
    let mut ledger = VecDeque::with_capacity(n);
    for _ in 0..n {
        ledger.push_back(LedgerEntry {
            id: r.str()?,
            ts: r.u64()?,
            op: r.op()?,
            metric: r.str()?,
            amount: r.u64()?,
        });
    }
    s.ledger = ledger;
    s.ids_evicted = r.u64()?;
    s.index_deadlines();
    match bytes.len() - r.at {
        0 => Ok(s),
        extra => Err(DecodeError::Trailing { extra }),
    }
}

pub(super) fn window_tag(w: Window) -> u8 {
    match w {
        Window::Minute => 0,
        Window::Hour => 1,
        Window::Day => 2,
        Window::Week => 3,
        Window::Month => 4,
    }
}

fn op_tag(op: Op) -> u8 {
    match op {
        Op::Charge => 0,
        Op::Reserve => 1,
        Op::Settle => 2,
        Op::Overage => 3,
        Op::Cancel => 4,
        Op::Expire => 5,
        Op::Refund => 6,
        Op::Reset => 7,
    }
}

fn level_tag(l: Level) -> u8 {
    match l {
        Level::Ok => 0,
        Level::Warn => 1,
        Level::Critical => 2,
        Level::Exceeded => 3,
    }
}

pub(super) struct Writer(pub(super) Vec<u8>);

impl Writer {
    pub(super) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    pub(super) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    /// Lengths are u32: a subject's lists and strings are far below 4 G entries (saturating
    /// rather than wrapping keeps a pathological length detectable as truncation).
    pub(super) fn len(&mut self, n: usize) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    pub(super) fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    pub(super) fn amounts(&mut self, a: &[(String, u64)]) {
        self.len(a.len());
        for (m, n) in a {
            self.str(m);
            self.u64(*n);
        }
    }

    pub(super) fn outcome(&mut self, o: &Outcome) {
        self.u8(u8::from(o.allowed) | u8::from(o.replayed) << 1);
        match &o.denied_by {
            Some(d) => {
                self.u8(1);
                self.str(d);
            }
            None => self.u8(0),
        }
        self.u64(o.retry_after_ms);
        self.u8(level_tag(o.level));
        self.len(o.windows.len());
        for w in &o.windows {
            self.str(&w.metric);
            self.u8(window_tag(w.window));
            for v in [
                w.used,
                w.reserved,
                w.limit,
                w.remaining,
                w.percent,
                w.resets_at,
            ] {
                self.u64(v);
            }
        }
    }
}

pub(super) struct Reader<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) at: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn invalid(&self, what: &'static str) -> DecodeError {
        DecodeError::Invalid { what, at: self.at }
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or(DecodeError::Truncated { at: self.at })?;
        let out = self
            .bytes
            .get(self.at..end)
            .ok_or(DecodeError::Truncated { at: self.at })?;
        self.at = end;
        Ok(out)
    }

    pub(super) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }

    pub(super) fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A count of elements of at least `min_size` bytes each, refused if the bytes left
    /// cannot hold that many.
    pub(super) fn len(&mut self, min_size: usize) -> Result<usize, DecodeError> {
        let at = self.at;
        let n = usize::try_from(self.u32()?).map_err(|_| DecodeError::Truncated { at })?;
        let left = self.bytes.len() - self.at;
        match n.checked_mul(min_size) {
            Some(need) if need <= left => Ok(n),
            _ => Err(DecodeError::Truncated { at }),
        }
    }

    pub(super) fn str(&mut self) -> Result<String, DecodeError> {
        let n = self.len(1)?;
        let at = self.at;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| DecodeError::Invalid { what: "string", at })
    }

    pub(super) fn window(&mut self) -> Result<Window, DecodeError> {
        let w = match self.u8()? {
            0 => Window::Minute,
            1 => Window::Hour,
            2 => Window::Day,
            3 => Window::Week,
            4 => Window::Month,
            _ => return Err(self.invalid("window")),
        };
        Ok(w)
    }

    pub(super) fn op(&mut self) -> Result<Op, DecodeError> {
        let tag = self.u8()?;
        Op::ALL
            .into_iter()
            .find(|op| op_tag(*op) == tag)
            .ok_or_else(|| self.invalid("operation"))
    }

    pub(super) fn amounts(&mut self) -> Result<Vec<(String, u64)>, DecodeError> {
        let n = self.len(4 + 8)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push((self.str()?, self.u64()?));
        }
        Ok(out)
    }

    pub(super) fn outcome(&mut self) -> Result<Outcome, DecodeError> {
        let flags = self.u8()?;
        if flags > 3 {
            return Err(self.invalid("outcome flags"));
        }
        let denied_by = match self.u8()? {
            0 => None,
            1 => Some(self.str()?),
            _ => return Err(self.invalid("denied_by flag")),
        };
        let retry_after_ms = self.u64()?;
        let level = match self.u8()? {
            0 => Level::Ok,
            1 => Level::Warn,
            2 => Level::Critical,
            3 => Level::Exceeded,
            _ => return Err(self.invalid("level")),
        };
        let n = self.len(4 + 1 + 6 * 8)?;
        let mut windows = Vec::with_capacity(n);
        for _ in 0..n {
            windows.push(WindowStatus {
                metric: self.str()?,
                window: self.window()?,
                used: self.u64()?,
                reserved: self.u64()?,
                limit: self.u64()?,
                remaining: self.u64()?,
                percent: self.u64()?,
                resets_at: self.u64()?,
            });
        }
        Ok(Outcome {
            allowed: flags & 1 != 0,
            replayed: flags & 2 != 0,
            denied_by,
            retry_after_ms,
            level,
            windows,
        })
    }
}
