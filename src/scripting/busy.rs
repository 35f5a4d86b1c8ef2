//! The running script as other connections see it (Redis 7.0's busy scripts): since when it
//! runs, whether it passed `busy-reply-threshold` (then others get `-BUSY` instead of
//! waiting), whether it wrote (then `SCRIPT KILL` cannot stop it), and whether it was asked
//! to stop. Lock-free: the script holds the world lock exclusively, and the others must
//! not wait on it to learn any of this.
//!
//! The interpreter's count hook ([`Running::check`]) is the script's side: it notices the
//! threshold and a kill request every `HOOK_EVERY` instructions.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Lua instructions between two checks, as Redis's hook (about a millisecond of a tight loop).
pub const HOOK_EVERY: u32 = 100_000;

/// Redis 7.0's reply to the commands a busy script refuses.
pub const BUSY_ERR: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// What a script stopped by SCRIPT KILL raises (Redis adds where it stopped).
pub const KILLED_ERR: &str = "ERR Script killed by user with SCRIPT KILL...";
/// What a script stopped by SHUTDOWN NOSAVE raises, if its caller is still there to read it.
pub const ABORTED_ERR: &str = "ERR Script stopped: the server is shutting down";

/// Shared by the script's thread and every connection; one per server.
#[derive(Default)]
pub struct Running {
    /// Monotonic ns (+1) when the running script started; 0: none runs. The one load the
    /// hot path pays.
    started: AtomicU64,
    /// Set by the hook once the script ran past the threshold.
    timed_out: AtomicBool,
    /// The script called a write command: SCRIPT KILL refuses (UNKILLABLE).
    wrote: AtomicBool,
    /// SCRIPT KILL asked it to stop.
    kill: AtomicBool,
    /// SHUTDOWN NOSAVE asked it to stop, writes or not.
    abort: AtomicBool,
    /// `busy-reply-threshold`, ms.
    threshold_ms: AtomicU64,
    /// Wakes the connections waiting for the script to end or time out.
    changed: Notify,
}

/// What the hook tells the interpreter.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Continue,
    /// It just passed the threshold: the caller may hand its thread's other work away.
    TimedOut,
    /// Stop with this error.
    Stop(&'static str),
}

/// Monotonic nanoseconds since the first call, never 0.
fn now_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_nanos())
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

impl Running {
    pub fn set_threshold_ms(&self, ms: u64) {
        self.threshold_ms.store(ms, Ordering::Relaxed);
    }

    /// Whether a script runs now (from another connection: it holds the world lock).
    #[inline]
    pub fn active(&self) -> bool {
        self.started.load(Ordering::Acquire) != 0
    }

    /// Whether the running script passed the threshold: others are answered -BUSY.
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Acquire)
    }

    /// A script starts (its caller holds the world lock exclusively); the guard marks its end.
    pub fn start(&self) -> RunGuard<'_> {
        for flag in [&self.timed_out, &self.wrote, &self.kill, &self.abort] {
            flag.store(false, Ordering::Relaxed);
        }
        self.started.store(now_ns(), Ordering::Release);
        RunGuard(self)
    }

    /// The script called a write command.
    pub fn wrote(&self) {
        self.wrote.store(true, Ordering::Relaxed);
    }

    /// SCRIPT KILL: Redis 7.0's replies.
    pub fn kill(&self) -> Result<(), &'static str> {
        if !self.active() {
            return Err("NOTBUSY No scripts in execution right now.");
        }
        if self.wrote.load(Ordering::Relaxed) {
            return Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
        }
        self.kill.store(true, Ordering::Release);
        Ok(())
    }

    /// SHUTDOWN NOSAVE while the script is busy: stop it whatever it did.
    pub fn abort(&self) {
        self.abort.store(true, Ordering::Release);
    }

    /// The error of a script SCRIPT KILL or SHUTDOWN asked to stop, if so.
    pub fn stop_error(&self) -> Option<&'static str> {
        if self.abort.load(Ordering::Acquire) {
            Some(ABORTED_ERR)
        } else if self.kill.load(Ordering::Acquire) {
            Some(KILLED_ERR)
        } else {
            None
        }
    }

    /// The hook: called every `HOOK_EVERY` instructions of the running script.
    pub fn check(&self) -> Verdict {
        if let Some(msg) = self.stop_error() {
            return Verdict::Stop(msg);
        }
        if self.timed_out() {
            return Verdict::Continue;
        }
        let started = self.started.load(Ordering::Relaxed);
        let elapsed_ms = now_ns().saturating_sub(started) / 1_000_000;
        if started == 0 || elapsed_ms < self.threshold_ms.load(Ordering::Relaxed) {
            return Verdict::Continue;
        }
        tracing::warn!(
            elapsed_ms,
            "Slow script detected: still in execution. You can try killing the script using the SCRIPT KILL command."
        );
        // No wake-up from here: a task woken on the script's thread would be scheduled on
        // its runtime worker, stuck behind the script (the waiters poll for this instead).
        self.timed_out.store(true, Ordering::Release);
        Verdict::TimedOut
    }

    /// Waits until no script runs, or the one running timed out: what a connection does
    /// with a command that arrived while a script runs within its threshold (Redis reads
    /// nothing from others then). The end is announced; the timeout is polled for, every
    /// 10 ms (see `check`).
    pub async fn settled(&self) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.active() || self.timed_out() {
                return;
            }
            let _ = tokio::time::timeout(Duration::from_millis(10), notified).await;
        }
    }
}

/// Marks the script's end when dropped, however it ends.
pub struct RunGuard<'a>(&'a Running);

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        self.0.started.store(0, Ordering::Release);
        self.0.timed_out.store(false, Ordering::Release);
        self.0.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_kill_and_unkillable() {
        let r = Running::default();
        assert_eq!(r.kill(), Err("NOTBUSY No scripts in execution right now."));
        r.set_threshold_ms(0);
        {
            let _g = r.start();
            assert!(r.active() && !r.timed_out());
            assert_eq!(r.check(), Verdict::TimedOut);
            assert!(r.timed_out());
            assert_eq!(r.check(), Verdict::Continue);
            assert_eq!(r.kill(), Ok(()));
            assert_eq!(r.check(), Verdict::Stop(KILLED_ERR));
        }
        assert!(!r.active() && !r.timed_out());
        r.set_threshold_ms(60_000);
        let _g = r.start();
        assert_eq!(r.check(), Verdict::Continue);
        r.wrote();
        assert!(r.kill().unwrap_err().starts_with("UNKILLABLE "));
        r.abort();
        assert_eq!(r.check(), Verdict::Stop(ABORTED_ERR));
    }
}
