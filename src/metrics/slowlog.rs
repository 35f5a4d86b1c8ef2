//! SLOWLOG: the commands that took at least `slowlog-log-slower-than` microseconds, newest
//! first, at most `slowlog-max-len`, each with its arguments cut as Redis 7.0 cuts them
//! (32 arguments, 128 bytes of each), and the LATENCY monitor's events (`latency.rs`).
//! Only a slow command reaches here; the command path pays one comparison for the rest.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

/// Redis's `SLOWLOG_ENTRY_MAX_ARGC`.
const MAX_ARGC: usize = 32;
/// Redis's `SLOWLOG_ENTRY_MAX_STRING`.
const MAX_STRING: usize = 128;

/// One entry, as SLOWLOG GET shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: u64,
    /// Unix seconds when it was logged.
    pub time: u64,
    pub duration_us: u64,
    pub args: Vec<Vec<u8>>,
    /// The client's `ip:port`.
    pub addr: String,
    pub name: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct SlowLog {
    /// Newest first.
    entries: Mutex<VecDeque<Entry>>,
    /// Ids keep counting across RESET, as Redis's do.
    next_id: AtomicU64,
}

impl SlowLog {
    /// Logs a command, keeping at most `max_len` entries.
    pub fn push(
        &self,
        max_len: usize,
        time: u64,
        duration_us: u64,
        args: &[&[u8]],
        addr: String,
        name: Vec<u8>,
    ) {
        let entry = Entry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            time,
            duration_us,
            args: cut_args(args),
            addr,
            name,
        };
        let mut e = self.entries.lock();
        e.push_front(entry);
        e.truncate(max_len);
    }

    /// The newest `count` entries.
    pub fn get(&self, count: usize) -> Vec<Entry> {
        self.entries.lock().iter().take(count).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.entries.lock().clear();
    }

    /// CONFIG SET slowlog-max-len shortens the log at once, as in Redis.
    pub fn trim(&self, max_len: usize) {
        self.entries.lock().truncate(max_len);
    }
}

/// Redis's `slowlogCreateEntry`: at most 32 arguments, the last of them saying how many more
/// there were; each string longer than 128 bytes cut there, saying how many bytes more.
fn cut_args(args: &[&[u8]]) -> Vec<Vec<u8>> {
    let kept = args.len().min(MAX_ARGC);
    (0..kept)
        .map(|j| {
            if j == kept - 1 && kept != args.len() {
                return format!("... ({} more arguments)", args.len() - kept + 1).into_bytes();
            }
            let a = args[j];
            if a.len() > MAX_STRING {
                let mut s = a[..MAX_STRING].to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes(),
                );
                s
            } else {
                a.to_vec()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_cut_as_redis_cuts_them() {
        let long = vec![b'a'; 130];
        let args: Vec<&[u8]> = vec![b"SET", b"k", &long];
        let cut = cut_args(&args);
        assert_eq!(cut[2].len(), 128 + "... (2 more bytes)".len());
        assert!(cut[2].ends_with(b"a... (2 more bytes)"));
        let many: Vec<Vec<u8>> = (0..40).map(|i| i.to_string().into_bytes()).collect();
        let refs: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        let cut = cut_args(&refs);
        assert_eq!(cut.len(), 32);
        assert_eq!(cut[30], b"30");
        assert_eq!(cut[31], b"... (9 more arguments)");
        assert_eq!(
            cut_args(&refs[..32]).len(),
            32,
            "32 arguments are kept whole"
        );
    }

    #[test]
    fn newest_first_bounded_ids_keep_counting() {
        let log = SlowLog::default();
        for i in 0..5u64 {
            log.push(3, i, i, &[b"GET", b"k"], "1.2.3.4:5".into(), Vec::new());
        }
        let got = log.get(10);
        assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), [4, 3, 2]);
        log.reset();
        assert!(log.is_empty());
        log.push(3, 9, 9, &[b"PING"], String::new(), Vec::new());
        assert_eq!(log.get(1)[0].id, 5);
        log.trim(0);
        assert_eq!(log.len(), 0);
    }
}
