//! Lazy free: values and whole databases whose release is deferred until the
//! reactor has sent its replies (`before_sleep`), then done in small steps.
//!
//! Owns the deferred-free queue and the two INFO counters
//! (`lazyfree_pending_objects`, `lazyfreed_objects`). Must not: see clients,
//! the configuration or the clock beyond the per-step time budget; callers
//! decide *whether* a deletion is lazy (UNLINK, FLUSHALL ASYNC, the
//! `lazyfree-lazy-*` directives), this module only decides *how*.
//!
//! Mirrors Redis 7.0's `lazyfree.c` rules: a value goes to the queue only when
//! freeing it costs more than 64 allocations (its "free effort": list nodes,
//! hashtable set/hash entries, skiplist length, stream nodes plus consumer
//! group bookkeeping; one for everything else), otherwise it is freed at once;
//! an emptied database always goes to the queue and counts one pending object
//! per key. Viator has one thread and no background free thread, so "lazy"
//! means deferred, not concurrent: the command replies first and the memory is
//! returned between loop iterations. A queued database is released a bucket
//! batch at a time (its keys are walked with the table's SCAN cursor and
//! removed), so flushing millions of keys never stalls the loop for long; a
//! single queued value is released in one step.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::db::dict::Dict;
use crate::db::Obj;
use crate::types::sds::Sds;
use crate::types::value::Value;

/// Values whose free effort is at most this are freed at once (Redis's
/// `LAZYFREE_THRESHOLD`).
pub const LAZYFREE_THRESHOLD: usize = 64;

/// How many keys a database step frees between two looks at the clock.
const KEYS_PER_CHECK: usize = 64;

/// Something waiting to be freed.
enum Garbage {
    /// One value (counts as one pending object).
    Value(Value),
    /// An emptied database: its tables and the SCAN cursor of the walk that
    /// releases them. Counts one pending object per key still in `dict`.
    Db { dict: Dict<Sds, Obj>, expires: Dict<Sds, i64>, cursor: u64 },
}

/// The deferred-free queue and its statistics.
#[derive(Default)]
pub struct LazyFree {
    queue: VecDeque<Garbage>,
    pending: u64,
    freed: u64,
    /// `lazyfree-lazy-expire`: keys removed by expiry are freed lazily.
    pub lazy_expire: bool,
    /// `lazyfree-lazy-server-del`: values the server deletes or overwrites
    /// as a side effect of a command (SET over a key, RENAME's target...).
    pub lazy_server_del: bool,
}

impl std::fmt::Debug for LazyFree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyFree").field("queued", &self.queue.len()).field("pending", &self.pending).finish()
    }
}

/// How many allocations freeing `v` takes, as Redis estimates it: the unit
/// of the lazy-free threshold.
pub fn free_effort(v: &Value) -> usize {
    use crate::types::hash::Hash;
    use crate::types::set::Set;
    use crate::types::zset::ZSet;
    match v {
        Value::List(l) => l.node_count(),
        Value::Set(s) => match &**s {
            Set::Hash(d) => d.len(),
            Set::Int(_) => 1,
        },
        Value::ZSet(z) => match &**z {
            ZSet::Skiplist(_) => z.len(),
            ZSet::Listpack(_) => 1,
        },
        Value::Hash(h) => match &**h {
            Hash::Table(_) => h.len(),
            _ => 1,
        },
        Value::Stream(s) => {
            // Every node is one allocation; each group and its PEL too (the
            // first group's PEL stands for all of them, as Redis estimates).
            let groups = s.groups.len();
            let pel = s.groups.values().next().map_or(0, |g| g.pel.len());
            s.entries.node_count() + groups * (1 + pel)
        }
        Value::Str(_) => 1,
    }
}

impl LazyFree {
    /// Frees `v`: now when `lazy` is false or the value is cheap to free,
    /// otherwise after the current loop iteration's replies (one pending
    /// object until then).
    pub fn dispose(&mut self, v: Value, lazy: bool) {
        if lazy && free_effort(&v) > LAZYFREE_THRESHOLD {
            self.pending += 1;
            self.queue.push_back(Garbage::Value(v));
        }
        // Otherwise `v` drops here.
    }

    /// Queues an emptied database's tables (FLUSHDB/FLUSHALL ASYNC): one
    /// pending object per key until its key is released.
    pub fn dispose_db(&mut self, dict: Dict<Sds, Obj>, expires: Dict<Sds, i64>) {
        self.pending += dict.len() as u64;
        self.queue.push_back(Garbage::Db { dict, expires, cursor: 0 });
    }

    /// Objects queued and not yet freed (INFO `lazyfree_pending_objects`).
    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// Objects freed through the queue (INFO `lazyfreed_objects`).
    pub fn freed(&self) -> u64 {
        self.freed
    }

    /// CONFIG RESETSTAT: forgets `lazyfreed_objects`.
    pub fn reset_stats(&mut self) {
        self.freed = 0;
    }

    /// True when something waits in the queue (the loop must not sleep).
    pub fn has_work(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Frees queued garbage for about `budget` (at least one step), oldest
    /// first. Returns true while work remains.
    pub fn drain(&mut self, budget: Duration) -> bool {
        if self.queue.is_empty() {
            return false;
        }
        let start = Instant::now();
        while let Some(front) = self.queue.front_mut() {
            match front {
                Garbage::Value(v) => {
                    // Freeing is the whole point: the value drops here.
                    drop(std::mem::replace(v, Value::Str(crate::types::value::Str::Int(0))));
                    self.queue.pop_front();
                    self.pending = self.pending.saturating_sub(1);
                    self.freed += 1;
                }
                Garbage::Db { dict, expires, cursor } => {
                    let n = free_some(dict, cursor, KEYS_PER_CHECK);
                    self.pending = self.pending.saturating_sub(n as u64);
                    self.freed += n as u64;
                    if dict.is_empty() {
                        // The expire table holds only keys and times: one drop.
                        expires.clear();
                        // Anything the walk could not account for is done now.
                        self.pending = self.pending.saturating_sub(dict.len() as u64);
                        self.queue.pop_front();
                    }
                }
            }
            if start.elapsed() >= budget {
                break;
            }
        }
        !self.queue.is_empty()
    }

    /// Frees everything queued now (shutdown, tests, and eviction's last resort).
    pub fn drain_all(&mut self) {
        while self.drain(Duration::from_secs(3600)) {}
    }
}

/// Removes up to about `limit` keys of `dict` following the SCAN cursor
/// (whole buckets at a time), dropping their values. Returns how many were
/// removed. Keys removed behind the cursor never come back, so the walk ends
/// with an empty table; a wrap of the cursor with keys left (cannot happen
/// without inserts) restarts it.
fn free_some(dict: &mut Dict<Sds, Obj>, cursor: &mut u64, limit: usize) -> usize {
    let mut keys: Vec<Sds> = Vec::new();
    while keys.len() < limit && !dict.is_empty() {
        *cursor = dict.scan(*cursor, |k, _| keys.push(k.clone()));
        if *cursor == 0 {
            break;
        }
    }
    let mut n = 0;
    for k in keys {
        if dict.remove(&k).is_some() {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::value::Str;
    use crate::util::rand::Rng;

    fn big_set(n: usize) -> Value {
        let mut d: Dict<Sds, ()> = Dict::new();
        for i in 0..n {
            d.insert(Sds::from(format!("m{i}").as_bytes()), ());
        }
        Value::Set(Box::new(crate::types::set::Set::Hash(d)))
    }

    #[test]
    fn cheap_values_are_freed_at_once_big_ones_queued() {
        let mut lf = LazyFree::default();
        lf.dispose(Value::Str(Str::from_bytes(b"x")), true);
        lf.dispose(big_set(10), true);
        assert_eq!((lf.pending(), lf.has_work()), (0, false));
        lf.dispose(big_set(65), false);
        assert_eq!(lf.pending(), 0);
        lf.dispose(big_set(65), true);
        assert_eq!((lf.pending(), lf.freed()), (1, 0));
        assert!(!lf.drain(Duration::from_secs(1)));
        assert_eq!((lf.pending(), lf.freed()), (0, 1));
        lf.reset_stats();
        assert_eq!(lf.freed(), 0);
    }

    #[test]
    fn a_queued_database_is_released_in_steps_and_counted_per_key() {
        let mut lf = LazyFree::default();
        let mut dict: Dict<Sds, Obj> = Dict::new();
        let mut expires: Dict<Sds, i64> = Dict::new();
        for i in 0..5000 {
            let k = Sds::from(format!("k{i}").as_bytes());
            expires.insert(k.clone(), 1);
            dict.insert(k, Obj::new(Value::Str(Str::from_bytes(b"v")), 0));
        }
        lf.dispose_db(dict, expires);
        assert_eq!(lf.pending(), 5000);
        // A zero budget still makes one step of progress.
        assert!(lf.drain(Duration::ZERO));
        assert!(lf.pending() < 5000 && lf.pending() > 0, "{}", lf.pending());
        lf.drain_all();
        assert_eq!((lf.pending(), lf.freed(), lf.has_work()), (0, 5000, false));
    }

    #[test]
    fn free_effort_follows_redis_estimates() {
        assert_eq!(free_effort(&Value::Str(Str::from_bytes(b"x"))), 1);
        assert_eq!(free_effort(&big_set(100)), 100);
        let mut rng = Rng::with_seed(7);
        // Random sizes around the threshold decide queueing consistently.
        let mut lf = LazyFree::default();
        for _ in 0..50 {
            let n = rng.below(130) as usize;
            lf.dispose(big_set(n), true);
            assert_eq!(lf.has_work(), n > LAZYFREE_THRESHOLD);
            lf.drain_all();
        }
    }
}
