//! The server's one clock: every window, lease, TTL, expiry cycle and LRU stamp reads it.
//! In production it follows the system clock; in tests it is a manual clock that only moves
//! when told, so time-dependent behaviour is tested without sleeping.
//!
//! It never runs backwards: when the system clock steps back (NTP, a VM restored), the clock
//! holds the highest time it has recorded (within a millisecond of the highest it reported)
//! until the system clock passes it again, so a bucket is not refilled twice and a window does
//! not reopen.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix time in nanoseconds, never decreasing.
#[derive(Debug)]
pub struct Clock {
    /// The time of a manual clock; `None` follows the system clock.
    manual: Option<AtomicU64>,
    /// The highest time reported so far.
    high: AtomicU64,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock {
            manual: None,
            high: AtomicU64::new(0),
        }
    }

    /// A manual clock that starts at `unix_ms` and moves only by `advance`/`set_ms`.
    pub fn manual(unix_ms: u64) -> Self {
        let ns = unix_ms.saturating_mul(1_000_000);
        Clock {
            manual: Some(AtomicU64::new(ns)),
            high: AtomicU64::new(ns),
        }
    }

    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// Now, in unix nanoseconds.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        match &self.manual {
            // Every reading is recorded: a test's clock is exact, and not on a hot path.
            Some(t) => monotonic(&self.high, t.load(Ordering::Relaxed), 0),
            None => monotonic(&self.high, system_ns(), MARK_STEP_NS),
        }
    }

    /// Now, in unix milliseconds.
    #[inline]
    pub fn now_ms(&self) -> u64 {
        self.now_ns() / 1_000_000
    }

    /// Moves a manual clock forward (no effect on the system clock).
    pub fn advance(&self, by: Duration) {
        if let Some(t) = &self.manual {
            let ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
            let _ = t.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_add(ns))
            });
        }
    }

    /// Sets a manual clock, possibly backwards (to test a clock step); readers still never
    /// see time go back.
    pub fn set_ms(&self, unix_ms: u64) {
        if let Some(t) = &self.manual {
            t.store(unix_ms.saturating_mul(1_000_000), Ordering::Relaxed);
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

fn system_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// How far the system clock may run past the recorded mark before a reader records it. The
/// mark is a line every core reads; writing it on every reading (nanoseconds always move)
/// would bounce it between cores on every command. A step back shorter than this is within
/// the skew between two threads' readings anyway, which the algorithms already tolerate.
const MARK_STEP_NS: u64 = 1_000_000;

/// `raw`, or the highest time recorded when `raw` is behind it.
#[inline]
fn monotonic(high: &AtomicU64, raw: u64, step: u64) -> u64 {
    let seen = high.load(Ordering::Relaxed);
    if raw <= seen {
        return seen;
    }
    if raw - seen >= step {
        high.fetch_max(raw, Ordering::Relaxed);
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let c = Clock::manual(1_000);
        assert_eq!(c.now_ms(), 1_000);
        assert_eq!(c.now_ms(), 1_000);
        c.advance(Duration::from_millis(250));
        assert_eq!(c.now_ms(), 1_250);
        assert_eq!(c.now_ns(), 1_250_000_000);
    }

    #[test]
    fn a_step_back_holds_the_highest_time_until_passed() {
        let c = Clock::manual(10_000);
        c.set_ms(4_000);
        assert_eq!(c.now_ms(), 10_000, "never backwards");
        c.advance(Duration::from_millis(5_000));
        assert_eq!(c.now_ms(), 10_000, "still behind the mark");
        c.advance(Duration::from_millis(2_000));
        assert_eq!(c.now_ms(), 11_000);
    }

    #[test]
    fn the_mark_is_written_once_per_step() {
        let high = AtomicU64::new(0);
        assert_eq!(monotonic(&high, 5_000_000, MARK_STEP_NS), 5_000_000);
        assert_eq!(high.load(Ordering::Relaxed), 5_000_000);
        // Within a step of the mark: reported, not recorded.
        assert_eq!(monotonic(&high, 5_400_000, MARK_STEP_NS), 5_400_000);
        assert_eq!(high.load(Ordering::Relaxed), 5_000_000);
        assert_eq!(monotonic(&high, 6_000_000, MARK_STEP_NS), 6_000_000);
        assert_eq!(high.load(Ordering::Relaxed), 6_000_000);
        // A step back of a second holds the mark.
        assert_eq!(monotonic(&high, 5_000_000, MARK_STEP_NS), 6_000_000);
    }

    #[test]
    fn the_system_clock_is_unix_time() {
        let c = Clock::system();
        let a = c.now_ms();
        assert!(a > 1_700_000_000_000);
        assert!(c.now_ms() >= a);
        assert!(!c.is_manual());
    }

    #[test]
    fn advancing_saturates() {
        let c = Clock::manual(u64::MAX / 1_000_000);
        c.advance(Duration::MAX);
        assert_eq!(c.now_ns(), u64::MAX);
    }
}
