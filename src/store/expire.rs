//! Active expiry: a background sweep that reclaims keys past their TTL without a client
//! touching them.
//!
//! Redis samples 20 random keys with a TTL per database and repeats while more than a tenth
//! were expired, within a CPU budget. Sampling is what tollgate did too, and under churn it
//! fell behind: each cycle restarted at database 0, shard 0, so a budget spent on a busy
//! database starved every other one. Here each shard's keys with a TTL carry lower bounds of
//! their deadlines grouped in blocks (see `volatile`), which makes an exact sweep cheap: a
//! block with nothing due costs one comparison, a due key one lookup. So a cycle visits every
//! shard of every database, and in each one completes a pass that reclaims *every* key past
//! its deadline, within the same kind of CPU budget; when the budget runs out, the next cycle
//! resumes at the shard (and block) where this one stopped, so no database waits behind
//! another. Where Redis adapts by sampling more while the expired ratio is high, this adapts
//! by doing exactly the work that is due: an idle keyspace of a million keys with a TTL costs
//! 16k block comparisons a cycle.

use super::Keyspace;

/// Blocks one step visits under a shard lock (64 keys each).
const STEP_BLOCKS: usize = 256;
/// Keys one step looks up (and possibly deletes) under a shard lock: bounds the time a
/// client waits behind the sweep to tens of microseconds.
const STEP_CHECKED: usize = 128;

/// Where the sweep goes next: it resumes there in the next cycle.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sweeper {
    db: usize,
    shard: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CycleStats {
    /// Keys looked up because their deadline bound had passed.
    pub checked: usize,
    pub expired: usize,
    /// Shards whose pass completed in this cycle.
    pub shards_done: usize,
    /// Keys with a TTL left in those shards after their pass.
    pub remaining: usize,
    /// The budget ran out before every shard's pass completed.
    pub timed_out: bool,
}

impl Sweeper {
    fn advance(&mut self, ks: &Keyspace) {
        self.shard += 1;
        if self.shard == ks.shard_count() {
            self.shard = 0;
            self.db = (self.db + 1) % ks.all_databases();
        }
    }
}

/// One cycle: every shard of every database, starting where the last cycle stopped, each
/// until its pass is complete, or until `spent` says the budget is used up (asked after each
/// step; the caller measures, in CPU time). The caller holds no lock; each step takes the
/// world lock shared and one shard lock.
pub fn cycle(
    ks: &Keyspace,
    sweeper: &mut Sweeper,
    now_ms: u64,
    mut spent: impl FnMut() -> bool,
) -> CycleStats {
    let mut stats = CycleStats::default();
    if sweeper.db >= ks.all_databases() || sweeper.shard >= ks.shard_count() {
        *sweeper = Sweeper::default();
    }
    for _ in 0..ks.all_databases() * ks.shard_count() {
        let shard = &ks.shards(sweeper.db)[sweeper.shard];
        loop {
            let step = {
                let _world = ks.world.read(0);
                shard.lock().expire_sweep(now_ms, STEP_BLOCKS, STEP_CHECKED)
            };
            stats.checked += step.checked;
            stats.expired += step.expired;
            if step.pass_done {
                stats.shards_done += 1;
                stats.remaining += step.remaining;
                break;
            }
            if spent() {
                // The next cycle starts at the next shard, as Redis's starts at the next
                // database: a backlog in one shard cannot hold up the others. This one
                // resumes its pass where it stopped when its turn comes again.
                stats.timed_out = true;
                sweeper.advance(ks);
                return stats;
            }
        }
        sweeper.advance(ks);
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Encoding, Entry};

    #[test]
    fn reclaims_expired_keys_without_reads() {
        let ks = Keyspace::new(2, 4);
        for i in 0..1000u32 {
            let key = format!("k{i}");
            let mut s = ks.shard(1, key.as_bytes());
            s.put(
                Entry::new_str(key.as_bytes(), b"v", Encoding::Embstr, 0),
                false,
                0,
            );
            let at = if i % 2 == 0 { 100 } else { 10_000 };
            s.set_expire(key.as_bytes(), at, 0);
        }
        assert_eq!(ks.db_counts(1), (1000, 1000));
        let mut sweeper = Sweeper::default();
        let stats = cycle(&ks, &mut sweeper, 5_000, || false);
        assert_eq!((stats.expired, stats.timed_out), (500, false));
        // Two databases and the cache's, four shards each.
        assert_eq!(stats.shards_done, 12, "one pass per shard of each database");
        assert_eq!(ks.db_counts(1), (500, 500));
        assert_eq!(ks.stats().expired, 500);
    }

    #[test]
    fn a_backlog_in_one_database_does_not_hold_up_another() {
        let ks = Keyspace::new(2, 1);
        let put = |db: usize, key: String, at: u64| {
            let mut s = ks.shard(db, key.as_bytes());
            s.put(
                Entry::new_str_expiring(key.as_bytes(), b"v", Encoding::Embstr, at),
                false,
                0,
            );
        };
        for i in 0..50_000 {
            put(0, format!("busy{i}"), 10);
        }
        for i in 0..10 {
            put(1, format!("quiet{i}"), 10);
        }
        let mut sweeper = Sweeper::default();
        // No budget: each cycle does one bounded step, then hands over.
        for _ in 0..2 {
            cycle(&ks, &mut sweeper, 100, || true);
        }
        assert_eq!(ks.dbsize(1), 0, "the quiet database was swept");
        assert!(
            ks.dbsize(0) > 40_000,
            "the busy one is still being worked on"
        );
        let mut cycles = 0;
        while ks.dbsize(0) > 0 {
            cycle(&ks, &mut sweeper, 100, || true);
            cycles += 1;
            assert!(cycles < 2_000, "the backlog shrinks every cycle");
        }
    }

    #[test]
    fn keys_not_yet_due_cost_no_lookup_and_a_moved_deadline_is_honoured() {
        let ks = Keyspace::new(1, 1);
        for i in 0..1000u64 {
            let key = format!("k{i}");
            let mut s = ks.shard(0, key.as_bytes());
            s.put(
                Entry::new_str_expiring(key.as_bytes(), b"v", Encoding::Embstr, 1_000 + i),
                false,
                0,
            );
        }
        let mut sweeper = Sweeper::default();
        let idle = cycle(&ks, &mut sweeper, 500, || false);
        assert_eq!((idle.checked, idle.expired), (0, 0));
        // Deadlines moved later (a rate-limit key's refresh) and one moved earlier.
        {
            let mut s = ks.shard(0, b"k7");
            s.set_expire(b"k7", 200, 0);
        }
        for i in 8..1000u64 {
            let key = format!("k{i}");
            ks.shard(0, key.as_bytes())
                .set_expire(key.as_bytes(), 5_000, 0);
        }
        let early = cycle(&ks, &mut sweeper, 500, || false);
        assert_eq!((early.checked, early.expired), (1, 1), "only k7 is due");
        let later = cycle(&ks, &mut sweeper, 2_000, || false);
        assert_eq!(later.expired, 7, "k0..k6 kept their deadlines");
        assert_eq!(
            later.checked, 999,
            "every other bound passed and was raised once"
        );
        let again = cycle(&ks, &mut sweeper, 2_100, || false);
        assert_eq!((again.checked, again.expired), (0, 0));
        assert_eq!(ks.dbsize(0), 992);
    }
}
