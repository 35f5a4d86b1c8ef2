//! The differential harness: a tollgate and a redis-server side by side, the same commands
//! sent to both, replies compared (exactly, or as sets where the order is an implementation's
//! own), every mismatch collected and reported at the end.

use super::{reply_len, show, Raw, RedisServer, Tollgate};

/// A tollgate and a redis-server, and the mismatches found so far (all reported at the end).
pub struct Servers {
    pub tollgate: Tollgate,
    pub redis: RedisServer,
    pub failures: Vec<String>,
}

/// One connection to each server.
pub struct Conn {
    pub ours: Raw,
    pub theirs: Raw,
}

/// How two replies are compared.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Compare {
    Exact,
    /// The same elements in any order (a hashtable's listing, HRANDFIELD of the whole hash).
    Sorted,
    /// The same field/value pairs in any order (HGETALL of a hashtable).
    Pairs,
    /// An HSCAN reply: cursor 0 on both and the same pairs in any order.
    ScanPairs,
    /// A SCAN reply: cursor 0 on both and the same keys in any order.
    ScanKeys,
    /// Only the shape: the same kind and number of elements (HRANDFIELD's random picks).
    Shape,
}

impl Servers {
    pub fn start() -> Servers {
        Servers {
            tollgate: Tollgate::start(),
            redis: RedisServer::start(&[]),
            failures: Vec::new(),
        }
    }

    pub fn conn(&self) -> Conn {
        Conn {
            ours: self.tollgate.raw(),
            theirs: self.redis.raw(),
        }
    }

    pub fn compare(&mut self, what: &str, ours: &[u8], theirs: &[u8], how: Compare) {
        let same = match how {
            Compare::Exact => ours == theirs,
            Compare::Sorted => ours[0] == theirs[0] && sorted(ours) == sorted(theirs),
            Compare::Pairs => ours[0] == theirs[0] && pairs(ours) == pairs(theirs),
            Compare::ScanPairs => {
                ours[0] == b'*' && theirs[0] == b'*' && {
                    let (o, t) = (elements(ours), elements(theirs));
                    o[0] == t[0] && pairs(&o[1]) == pairs(&t[1])
                }
            }
            Compare::ScanKeys => {
                ours[0] == b'*' && theirs[0] == b'*' && {
                    let (o, t) = (elements(ours), elements(theirs));
                    o[0] == t[0] && sorted(&o[1]) == sorted(&t[1])
                }
            }
            Compare::Shape => {
                ours[0] == theirs[0]
                    && (ours[0] == b'-' && ours == theirs
                        || ours[0] != b'-' && elements(ours).len() == elements(theirs).len())
            }
        };
        if !same {
            self.failures.push(format!(
                "{what} ({how:?})\n    tollgate: {}\n    redis:    {}",
                show(ours),
                show(theirs)
            ));
        }
    }

    /// Runs each line on both, comparing exactly.
    pub fn run(&mut self, c: &mut Conn, lines: &[&str]) {
        for line in lines {
            self.run_as(c, line, Compare::Exact);
        }
    }

    pub fn run_as(&mut self, c: &mut Conn, line: &str, how: Compare) {
        let (ours, theirs) = (c.ours.cmd_str(line), c.theirs.cmd_str(line));
        self.compare(line, &ours, &theirs, how);
    }

    pub fn run_args(&mut self, c: &mut Conn, args: &[&[u8]], how: Compare) {
        let (ours, theirs) = (c.ours.cmd(args), c.theirs.cmd(args));
        let what = args
            .iter()
            .map(|a| {
                let s = String::from_utf8_lossy(a);
                if s.len() > 40 {
                    format!("{}...({} bytes)", &s[..20], s.len())
                } else {
                    s.into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        self.compare(&what, &ours, &theirs, how);
    }

    /// A fresh connection after FLUSHALL, in RESP3 when asked.
    pub fn fresh(&mut self, resp3: bool) -> Conn {
        let mut c = self.conn();
        c.ours.cmd_str("FLUSHALL");
        c.theirs.cmd_str("FLUSHALL");
        if resp3 {
            c.ours.cmd_str("HELLO 3");
            c.theirs.cmd_str("HELLO 3");
        }
        c
    }

    pub fn finish(self) {
        if !self.failures.is_empty() {
            panic!(
                "{} mismatches between tollgate and redis-server:\n{}",
                self.failures.len(),
                self.failures.join("\n")
            );
        }
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The elements of an aggregate reply (array, set, map: keys and values in turn).
pub fn elements(reply: &[u8]) -> Vec<Vec<u8>> {
    let head = find(reply, b"\r\n").expect("no header");
    let Ok(mut n) = std::str::from_utf8(&reply[1..head]).unwrap().parse::<i64>() else {
        return Vec::new();
    };
    if n < 0 || !matches!(reply[0], b'*' | b'%' | b'~') {
        return Vec::new();
    }
    if reply[0] == b'%' {
        n *= 2;
    }
    let mut pos = head + 2;
    let mut out = Vec::new();
    for _ in 0..n {
        let len = reply_len(&reply[pos..]).expect("truncated element");
        out.push(reply[pos..pos + len].to_vec());
        pos += len;
    }
    out
}

pub fn sorted(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut v = elements(reply);
    v.sort();
    v
}

pub fn pairs(reply: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let e = elements(reply);
    let mut v: Vec<_> = e
        .chunks(2)
        .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default()))
        .collect();
    v.sort();
    v
}
