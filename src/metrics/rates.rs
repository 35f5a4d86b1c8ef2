//! Instantaneous rates as Redis reports them (`instantaneous_ops_per_sec`,
//! `instantaneous_input_kbps`, `instantaneous_output_kbps`): a running total is sampled every
//! 100 ms, and the rate is the mean of the last 16 per-second rates. Pure: time comes in (unix ms
//! from the server clock).

const SAMPLES: usize = 16;
/// How often a sample is taken (Redis: every serverCron run at hz 10).
pub const EVERY_MS: u64 = 100;

/// The rates of several running totals at once (commands, bytes in, bytes out).
#[derive(Debug, Default)]
pub struct Rates<const N: usize> {
    last: Option<(u64, [u64; N])>,
    ring: Vec<[f64; N]>,
    next: usize,
}

impl<const N: usize> Rates<N> {
    /// Whether a sample taken at `now` would count (`EVERY` has passed since the last one).
    pub fn due(&self, now: u64) -> bool {
        self.last
            .is_none_or(|(then, _)| now.saturating_sub(then) >= EVERY_MS)
    }

    /// Records the totals at `now`; ignored when less than `EVERY` has passed since the
    /// last sample (callers may call more often).
    pub fn sample(&mut self, now: u64, totals: [u64; N]) {
        if self.ring.is_empty() {
            self.ring = vec![[0.0; N]; SAMPLES];
        }
        let Some((then, before)) = self.last else {
            self.last = Some((now, totals));
            return;
        };
        let elapsed = now.saturating_sub(then);
        if elapsed < EVERY_MS {
            return;
        }
        let secs = elapsed as f64 / 1000.0;
        let mut rate = [0.0; N];
        for (r, (t, b)) in rate.iter_mut().zip(totals.iter().zip(before)) {
            // A total that went down was reset (CONFIG RESETSTAT): count from zero.
            *r = t.saturating_sub(b) as f64 / secs;
        }
        self.ring[self.next] = rate;
        self.next = (self.next + 1) % SAMPLES;
        self.last = Some((now, totals));
    }

    /// The mean per-second rate of each total over the last 16 samples (0 before any).
    pub fn current(&self) -> [f64; N] {
        let mut sum = [0.0; N];
        for s in &self.ring {
            for (a, v) in sum.iter_mut().zip(s) {
                *a += v;
            }
        }
        sum.map(|v| v / SAMPLES as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_of_the_last_sixteen_samples() {
        let t0 = 1_700_000_000_000u64;
        const EVERY: u64 = EVERY_MS;
        let mut r = Rates::<2>::default();
        assert_eq!(r.current(), [0.0, 0.0]);
        r.sample(t0, [0, 0]);
        // 100 commands and 1024 bytes per 100 ms: 1000/s and 10240 B/s, but only one of
        // sixteen samples so far.
        r.sample(t0 + EVERY, [100, 1024]);
        assert_eq!(r.current(), [1000.0 / 16.0, 10240.0 / 16.0]);
        // Too soon: ignored.
        assert!(!r.due(t0 + EVERY + 10));
        assert!(r.due(t0 + EVERY * 2));
        r.sample(t0 + EVERY + 10, [5000, 5000]);
        assert_eq!(r.current(), [1000.0 / 16.0, 10240.0 / 16.0]);
        for i in 2..=20u64 {
            r.sample(t0 + EVERY * i, [100 * i, 1024 * i]);
        }
        assert_eq!(r.current(), [1000.0, 10240.0]);
        // Idle: the rate decays to zero as the ring refills.
        for i in 21..=36u64 {
            r.sample(t0 + EVERY * i, [2000, 20480]);
        }
        assert_eq!(r.current(), [0.0, 0.0]);
        // A reset total does not count backwards.
        r.sample(t0 + EVERY * 37, [0, 0]);
        assert_eq!(r.current(), [0.0, 0.0]);
    }
}
