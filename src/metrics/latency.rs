//! The LATENCY monitor: per event (`command` for slow commands, `fast-command` for those
//! flagged fast), the last 160 seconds that had a sample at or above
//! `latency-monitor-threshold`, the highest latency of each second, and the all-time maximum,
//! as Redis 7.0's latency.c keeps them.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::collections::VecDeque;

/// Redis's `LATENCY_TS_LEN`.
const HISTORY_LEN: usize = 160;

#[derive(Debug, Default, Clone)]
pub struct Series {
    /// (unix seconds, milliseconds), oldest first.
    pub samples: VecDeque<(u64, u64)>,
    pub max: u64,
}

#[derive(Debug, Default)]
pub struct LatencyMonitor {
    events: Mutex<BTreeMap<&'static str, Series>>,
}

impl LatencyMonitor {
    /// Redis's `latencyAddSample`: a second's samples merge into their maximum.
    pub fn add(&self, event: &'static str, now_secs: u64, ms: u64) {
        let mut events = self.events.lock();
        let s = events.entry(event).or_default();
        s.max = s.max.max(ms);
        if let Some(last) = s.samples.back_mut() {
            if last.0 == now_secs {
                last.1 = last.1.max(ms);
                return;
            }
        }
        s.samples.push_back((now_secs, ms));
        if s.samples.len() > HISTORY_LEN {
            s.samples.pop_front();
        }
    }

    /// Every event with its series.
    pub fn events(&self) -> Vec<(&'static str, Series)> {
        self.events
            .lock()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    pub fn history(&self, event: &str) -> Option<Series> {
        self.events.lock().get(event).cloned()
    }

    /// Resets the named events (all without names); returns how many existed.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let mut events = self.events.lock();
        if names.is_empty() {
            let n = events.len();
            events.clear();
            return n;
        }
        let mut n = 0;
        for name in names {
            let key = events.keys().copied().find(|k| k.as_bytes() == *name);
            if let Some(k) = key {
                events.remove(k);
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_keeps_its_highest_and_the_history_is_bounded() {
        let m = LatencyMonitor::default();
        m.add("command", 100, 5);
        m.add("command", 100, 9);
        m.add("command", 100, 7);
        m.add("command", 101, 3);
        let s = m.history("command").unwrap();
        assert_eq!(Vec::from(s.samples), vec![(100, 9), (101, 3)]);
        assert_eq!(s.max, 9);
        for t in 0..200 {
            m.add("fast-command", t, 1);
        }
        assert_eq!(m.history("fast-command").unwrap().samples.len(), 160);
        assert_eq!(m.reset(&[b"command", b"nope"]), 1);
        assert_eq!(m.reset(&[]), 1);
        assert!(m.events().is_empty());
    }
}
