//! Memory limit: the `maxmemory` gauge, key eviction under every
//! `maxmemory-policy`, the OOM refusal of `denyoom` commands, and the per-key
//! access clock (LRU seconds or LFU counter) eviction ranks keys by.
//!
//! Owns: the eviction pool, the eviction statistics (`evicted_keys`, the
//! exceeded-time counters), the continuation of an eviction cycle cut short by
//! its time limit, and the LRU/LFU arithmetic on [`Obj::lru`]. Must not: run
//! commands or touch sockets; deleting a key goes through the keyspace and its
//! consequences (WATCH, keyspace events) through the server's after-command
//! drain.
//!
//! Mirrors Redis 7.0's `evict.c`: before a command runs, if used memory (less
//! what is not counted: replication and AOF buffers, none yet) exceeds
//! `maxmemory`, keys are evicted until enough was freed, measured by the
//! allocator around each deletion. LRU, LFU and TTL policies sample
//! `maxmemory-samples` keys from every db into a 16-entry pool ordered by
//! score and evict the best; random policies visit the dbs round-robin. An
//! eviction cycle stops after a time set by `maxmemory-eviction-tenacity` and
//! then continues between loop iterations. When nothing can be evicted, commands
//! flagged `denyoom` (and, inside MULTI, everything but EXEC/DISCARD/QUIT/RESET)
//! get the OOM error. LFU keeps 16 bits of minutes and an 8-bit logarithmic
//! counter (`lfu-log-factor`, decayed every `lfu-decay-time` minutes, new keys
//! start at 5).
//!
//! The gauge reads jemalloc's per-thread allocated/deallocated counters of the
//! reactor thread: exact at every call and a couple of loads, where refreshing
//! jemalloc's global statistics (`epoch`) costs microseconds and misses memory
//! parked in thread caches. It is only right while one thread owns the data,
//! which DESIGN guarantees (a forked child has its own counters).

use std::time::{Duration, Instant};

use crate::client::reply::ReplyError;
use crate::client::Client;
use crate::cmd::spec::CmdFlags;
use crate::config::{Config, MaxmemoryPolicy};
use crate::db::{lru_clock, notify, Db, Keyspace, Obj};
use crate::server::{Pause, Server};
use crate::types::sds::Sds;
use crate::util::rand::Rng;

/// COMPAT: the error Redis sends to commands refused for lack of memory.
pub const OOM_ERR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Candidates kept between eviction rounds (Redis's `EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;

/// LFU counter of a new key (Redis's `LFU_INIT_VAL`): high enough that a
/// fresh key is not the first one evicted.
pub const LFU_INIT_VAL: u32 = 5;

/// Keys evicted between two looks at the clock.
const KEYS_PER_CHECK: u64 = 16;

// ------------------------------------------------------------ memory gauge

thread_local! {
    /// This thread's jemalloc counters, looked up once.
    static COUNTERS: Option<(tikv_jemalloc_ctl::thread::ThreadLocal<u64>, tikv_jemalloc_ctl::thread::ThreadLocal<u64>)> =
        tikv_jemalloc_ctl::thread::allocatedp::read()
            .and_then(|a| tikv_jemalloc_ctl::thread::deallocatedp::read().map(|d| (a, d)))
            .ok();
}

/// Bytes the calling thread holds through jemalloc (INFO `used_memory`).
/// Zero when jemalloc is not the global allocator (unit tests).
pub fn used_memory() -> u64 {
    COUNTERS.with(|c| c.map_or(0, |(a, d)| a.get().saturating_sub(d.get())))
}

/// Memory excluded from the eviction gauge (INFO `mem_not_counted_for_evict`):
/// what the replicas have not received yet (their output and the stream
/// held while they sync; the backlog itself is counted) and the AOF buffer,
/// so that propagating the DELs of an eviction cannot feed more eviction.
pub fn not_counted_memory(srv: &Server) -> u64 {
    let mut n = srv.persist.aof.buf.capacity();
    for &key in &srv.repl.replicas {
        if let Some(Some(c)) = srv.clients.get(key) {
            // The whole buffer: what it holds was allocated for them.
            n += c.reply.buf.capacity();
        }
    }
    n += crate::repl::buffer_not_counted(srv);
    n as u64
}

// ------------------------------------------------------------ policies

/// How a policy ranks candidates: a higher score is a better victim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Score {
    /// Idle milliseconds.
    Lru,
    /// 255 minus the decayed LFU counter.
    Lfu,
    /// Sooner expire first.
    Ttl,
}

/// What a policy does when memory is over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    /// noeviction.
    Refuse,
    /// Sampled into the pool; `allkeys` picks the table sampled.
    Pool { allkeys: bool, score: Score },
    /// One random key per round, dbs round-robin.
    Random { allkeys: bool },
}

fn strategy(p: MaxmemoryPolicy) -> Strategy {
    match p {
        MaxmemoryPolicy::Noeviction => Strategy::Refuse,
        MaxmemoryPolicy::VolatileLru => Strategy::Pool { allkeys: false, score: Score::Lru },
        MaxmemoryPolicy::VolatileLfu => Strategy::Pool { allkeys: false, score: Score::Lfu },
        MaxmemoryPolicy::VolatileTtl => Strategy::Pool { allkeys: false, score: Score::Ttl },
        MaxmemoryPolicy::AllkeysLru => Strategy::Pool { allkeys: true, score: Score::Lru },
        MaxmemoryPolicy::AllkeysLfu => Strategy::Pool { allkeys: true, score: Score::Lfu },
        MaxmemoryPolicy::VolatileRandom => Strategy::Random { allkeys: false },
        MaxmemoryPolicy::AllkeysRandom => Strategy::Random { allkeys: true },
    }
}

/// True for the two LFU policies (OBJECT FREQ works, IDLETIME does not).
pub fn is_lfu(p: MaxmemoryPolicy) -> bool {
    matches!(p, MaxmemoryPolicy::VolatileLfu | MaxmemoryPolicy::AllkeysLfu)
}

/// True when Redis would not share small integer objects: with a limit and
/// an LRU/LFU policy every key needs its own access field (OBJECT REFCOUNT).
pub fn integers_unshared(cfg: &Config) -> bool {
    cfg.maxmemory != 0
        && matches!(
            cfg.maxmemory_policy,
            MaxmemoryPolicy::VolatileLru
                | MaxmemoryPolicy::AllkeysLru
                | MaxmemoryPolicy::VolatileLfu
                | MaxmemoryPolicy::AllkeysLfu
        )
}

// ------------------------------------------------------------ access clock

/// What the per-key access field holds and how an access updates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessPolicy {
    /// The field is `minutes << 8 | counter` (LFU) rather than the LRU clock.
    pub lfu: bool,
    /// `lfu-log-factor`.
    pub log_factor: u32,
    /// `lfu-decay-time` (minutes per counter decrement; 0 = never).
    pub decay_time: u32,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        AccessPolicy { lfu: false, log_factor: 10, decay_time: 1 }
    }
}

impl AccessPolicy {
    /// The policy the configuration asks for.
    pub fn from_config(cfg: &Config) -> AccessPolicy {
        AccessPolicy {
            lfu: is_lfu(cfg.maxmemory_policy),
            log_factor: cfg.lfu_log_factor.clamp(0, u32::MAX as i64) as u32,
            decay_time: cfg.lfu_decay_time.clamp(0, u32::MAX as i64) as u32,
        }
    }

    /// The access field of a key created now.
    #[inline]
    pub fn initial(&self, now_ms: i64) -> u32 {
        if self.lfu {
            (lfu_minutes(now_ms) << 8) | LFU_INIT_VAL
        } else {
            lru_clock(now_ms)
        }
    }

    /// Records an access: the LRU clock becomes now, or the LFU counter is
    /// decayed, then incremented with falling probability, and stamped now.
    #[inline]
    pub fn touch(&self, field: &mut u32, now_ms: i64, rng: &mut Rng) {
        if self.lfu {
            let c = lfu_decayed(*field, self.decay_time, now_ms);
            let c = lfu_log_incr(c, self.log_factor, rng.next_f64());
            *field = (lfu_minutes(now_ms) << 8) | c;
        } else {
            *field = lru_clock(now_ms);
        }
    }
}

/// Minutes clock of the LFU field, 16 bits.
pub fn lfu_minutes(now_ms: i64) -> u32 {
    ((now_ms.max(0) / 60_000) as u32) & 0xFFFF
}

/// Minutes since `ldt`, the 16-bit clock assumed to have wrapped at most once.
fn lfu_elapsed(ldt: u32, now_ms: i64) -> u32 {
    let now = lfu_minutes(now_ms);
    if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    }
}

/// The LFU counter of `field` after decay (OBJECT FREQ); the field itself is
/// left alone, it is rewritten only on a real access.
pub fn lfu_decayed(field: u32, decay_time: u32, now_ms: i64) -> u32 {
    let counter = field & 255;
    if decay_time == 0 {
        return counter;
    }
    let periods = lfu_elapsed((field >> 8) & 0xFFFF, now_ms) / decay_time;
    counter.saturating_sub(periods)
}

/// One logarithmic increment: the counter grows with probability
/// 1 / ((counter - 5) * log_factor + 1) for `r` uniform in [0, 1), and
/// saturates at 255.
pub fn lfu_log_incr(counter: u32, log_factor: u32, r: f64) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * log_factor as f64 + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

/// Sets `obj`'s access field as RESTORE's FREQ and IDLETIME do (Redis's
/// `objectSetLRUOrLFU`): under an LFU policy a given `freq` becomes the
/// counter, stamped now; under any other policy a given `idle_secs` (>= 0)
/// back-dates the LRU clock by that much. The other argument is ignored.
/// Returns whether the field was set.
pub fn set_access(obj: &mut Obj, policy: &AccessPolicy, freq: Option<u8>, idle_secs: Option<i64>, now_ms: i64) -> bool {
    if policy.lfu {
        if let Some(f) = freq {
            obj.lru = (lfu_minutes(now_ms) << 8) | f as u32;
            return true;
        }
        return false;
    }
    match idle_secs {
        Some(idle) if idle >= 0 => {
            const CLOCK_MAX: i64 = (1 << 24) - 1;
            let mut abs = lru_clock(now_ms) as i64 - idle % (CLOCK_MAX + 1);
            if abs < 0 {
                abs += CLOCK_MAX;
            }
            obj.lru = abs as u32;
            true
        }
        _ => false,
    }
}

// ------------------------------------------------------------ eviction

/// What an eviction attempt achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Under the limit (or evicting is not allowed right now).
    Ok,
    /// Still over the limit; the cycle continues between loop iterations.
    Running,
    /// Over the limit with nothing left to evict: `denyoom` commands fail.
    Fail,
}

/// One pool candidate.
#[derive(Debug, Clone)]
struct Candidate {
    score: u64,
    db: usize,
    key: Sds,
}

/// Eviction state and statistics, one per server.
#[derive(Debug)]
pub struct Evictor {
    /// Best candidates so far, ascending by score (the best is last).
    pool: Vec<Candidate>,
    /// Round-robin position of the random policies.
    next_db: usize,
    rng: Rng,
    /// A cycle was cut short (or CONFIG SET maxmemory asked for one): keep
    /// evicting between loop iterations.
    pub running: bool,
    /// Keys evicted (INFO `evicted_keys`).
    pub evicted_keys: u64,
    /// Since when memory has stayed over the limit, if it has.
    exceeded_since: Option<Instant>,
    /// Completed over-the-limit periods, µs.
    exceeded_total_us: u64,
    /// Evicted keys that tracking clients must hear about, sent by the
    /// caller that knows which client is running (see `invalidate_evicted`).
    tracked_evictions: Vec<Sds>,
}

impl Default for Evictor {
    fn default() -> Self {
        Evictor {
            pool: Vec::with_capacity(POOL_SIZE),
            next_db: 0,
            rng: Rng::from_entropy(),
            running: false,
            evicted_keys: 0,
            exceeded_since: None,
            exceeded_total_us: 0,
            tracked_evictions: Vec::new(),
        }
    }
}

impl Evictor {
    /// INFO `current_eviction_exceeded_time` (ms).
    pub fn current_exceeded_ms(&self) -> u64 {
        self.exceeded_since.map_or(0, |t| t.elapsed().as_micros() as u64) / 1000
    }

    /// INFO `total_eviction_exceeded_time` (ms), the current period included.
    pub fn total_exceeded_ms(&self) -> u64 {
        (self.exceeded_total_us + self.exceeded_since.map_or(0, |t| t.elapsed().as_micros() as u64)) / 1000
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&mut self) {
        self.evicted_keys = 0;
        self.exceeded_total_us = 0;
        self.exceeded_since = None;
    }

    fn update_metrics(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Running | Outcome::Fail => {
                self.exceeded_since.get_or_insert_with(Instant::now);
            }
            Outcome::Ok => {
                if let Some(t) = self.exceeded_since.take() {
                    self.exceeded_total_us += t.elapsed().as_micros() as u64;
                }
            }
        }
    }

    /// Picks the next victim, or None when the policy finds nothing to evict.
    fn pick(&mut self, ks: &Keyspace, strategy: Strategy, samples: usize, decay_time: u32) -> Option<(usize, Sds)> {
        match strategy {
            Strategy::Refuse => None,
            Strategy::Pool { allkeys, score } => loop {
                let mut total = 0;
                for (i, db) in ks.dbs.iter().enumerate() {
                    let n = if allkeys { db.dict.len() } else { db.expires.len() };
                    if n > 0 {
                        total += n;
                        self.populate(i, db, allkeys, score, samples, decay_time, ks.now_ms);
                    }
                }
                if total == 0 {
                    return None;
                }
                // Best first; a candidate deleted since it was sampled is a
                // ghost and is skipped.
                while let Some(c) = self.pool.pop() {
                    let db = &ks.dbs[c.db];
                    let live = if allkeys { db.dict.contains_key(&c.key) } else { db.expires.contains_key(&c.key) };
                    if live {
                        return Some((c.db, c.key));
                    }
                }
            },
            Strategy::Random { allkeys } => {
                let n = ks.dbs.len();
                for _ in 0..n {
                    self.next_db = (self.next_db + 1) % n;
                    let db = &ks.dbs[self.next_db];
                    let rng = &mut self.rng;
                    let mut r = || rng.next_u64();
                    let key = if allkeys {
                        db.dict.random_entry(&mut r).map(|(k, _)| k.clone())
                    } else {
                        db.expires.random_entry(&mut r).map(|(k, _)| k.clone())
                    };
                    if let Some(k) = key {
                        return Some((self.next_db, k));
                    }
                }
                None
            }
        }
    }

    /// Samples `samples` keys of `db` into the pool (Redis's
    /// `evictionPoolPopulate`).
    #[allow(clippy::too_many_arguments)]
    fn populate(
        &mut self,
        dbi: usize,
        db: &Db,
        allkeys: bool,
        score: Score,
        samples: usize,
        decay_time: u32,
        now_ms: i64,
    ) {
        let rng = &mut self.rng;
        let mut r = || rng.next_u64();
        let rank = |o: Option<&Obj>, expire_at: i64| -> u64 {
            match (score, o) {
                (Score::Ttl, _) => u64::MAX - expire_at.max(0) as u64,
                (Score::Lru, Some(o)) => o.idle_ms(now_ms).max(0) as u64,
                (Score::Lfu, Some(o)) => 255 - lfu_decayed(o.lru, decay_time, now_ms) as u64,
                (_, None) => 0,
            }
        };
        let picked: Vec<(&Sds, u64)> = if allkeys {
            db.dict.sample(samples, &mut r).into_iter().map(|(k, o)| (k, rank(Some(o), 0))).collect()
        } else {
            db.expires.sample(samples, &mut r).into_iter().map(|(k, &at)| (k, rank(db.dict.get(k), at))).collect()
        };
        for (key, s) in picked {
            pool_insert(&mut self.pool, dbi, key, s);
        }
    }
}

/// Inserts a candidate keeping the pool sorted ascending; a full pool drops
/// its worst entry, or the newcomer if it is worse than all of them.
fn pool_insert(pool: &mut Vec<Candidate>, db: usize, key: &Sds, score: u64) {
    let mut k = pool.iter().position(|c| c.score >= score).unwrap_or(pool.len());
    if pool.len() == POOL_SIZE {
        if k == 0 {
            return;
        }
        pool.remove(0);
        k -= 1;
    }
    pool.insert(k, Candidate { score, db, key: key.clone() });
}

/// How long one eviction cycle may run, from `maxmemory-eviction-tenacity`:
/// 50 µs per step up to 10, then 15% more per step, unlimited at 100.
pub fn time_limit_us(tenacity: i64) -> u64 {
    let t = tenacity.clamp(0, 100);
    if t <= 10 {
        50 * t as u64
    } else if t < 100 {
        (500.0 * 1.15f64.powi(t as i32 - 10)) as u64
    } else {
        u64::MAX
    }
}

/// Bytes to free to get under `limit`, or None when under it.
fn over_limit(srv: &Server, limit: u64) -> Option<u64> {
    let used = used_memory();
    if used <= limit {
        return None;
    }
    let counted = used.saturating_sub(not_counted_memory(srv));
    (counted > limit).then(|| counted - limit)
}

/// Evicts keys until used memory is under `maxmemory`, the time limit is
/// reached, or nothing is left to evict (Redis's `performEvictions`). Each
/// evicted key fires `evicted`, and is queued as modified for WATCH; the
/// caller drains those queues (`Server::after_command`). Does nothing while
/// clients are paused: the dataset must stay still.
pub fn perform(srv: &mut Server) -> Outcome {
    let limit = srv.config.maxmemory as u64;
    // A replica leaves eviction to its master (`replica-ignore-maxmemory`).
    let ignored = srv.repl.replica.is_replica() && srv.config.replica_ignore_maxmemory;
    if limit == 0 || srv.pause != Pause::None || ignored {
        return Outcome::Ok;
    }
    let outcome = evict_until(srv, limit);
    srv.evict.update_metrics(outcome);
    outcome
}

fn evict_until(srv: &mut Server, limit: u64) -> Outcome {
    let Some(to_free) = over_limit(srv, limit) else { return Outcome::Ok };
    let strategy = strategy(srv.config.maxmemory_policy);
    if strategy == Strategy::Refuse {
        return Outcome::Fail;
    }
    let budget_us = time_limit_us(srv.config.maxmemory_eviction_tenacity);
    let samples = srv.config.maxmemory_samples.clamp(1, 1 << 16) as usize;
    let decay_time = srv.ks.access.decay_time;
    let track = !srv.watched_keys.is_empty() || !srv.blocking_keys.is_empty();
    let start = Instant::now();
    let mut freed: i64 = 0;
    let mut keys = 0u64;
    while freed < to_free as i64 {
        let Some((db, key)) = srv.evict.pick(&srv.ks, strategy, samples, decay_time) else {
            return last_resort(srv, limit, budget_us);
        };
        // Measured around the deletion alone. With no thread to free in the
        // background, `lazyfree-lazy-eviction` frees inline as well: a
        // deferred free would leave the memory in place while this loop
        // looks for it, and it would evict far more than needed.
        let before = used_memory() as i64;
        drop(srv.ks.unlink_entry(db, &key));
        freed += before - used_memory() as i64;
        srv.evict.evicted_keys += 1;
        srv.ks.notify(notify::EVICTED, "evicted", db, &key);
        srv.propagate_eviction(db, &key);
        if srv.tracking.active() {
            srv.evict.tracked_evictions.push(key.clone());
        }
        if track {
            srv.ks.modified.push((db, key));
        }
        keys += 1;
        if keys % KEYS_PER_CHECK == 0 && start.elapsed().as_micros() as u64 > budget_us {
            srv.evict.running = true;
            break;
        }
    }
    if srv.evict.running {
        Outcome::Running
    } else {
        Outcome::Ok
    }
}

/// Nothing left to evict: memory that UNLINK and friends queued is what a
/// background thread would be releasing now, so release it (within the cycle's
/// budget) and look again.
fn last_resort(srv: &mut Server, limit: u64, budget_us: u64) -> Outcome {
    if srv.ks.lazyfree.has_work() {
        srv.ks.lazyfree.drain(Duration::from_micros(budget_us.min(1_000_000)));
        if over_limit(srv, limit).is_none() {
            return Outcome::Ok;
        }
    }
    Outcome::Fail
}

/// The `maxmemory` step of command processing, run after the auth and MULTI
/// checks: evicts if needed, drains what eviction queued (WATCH, events),
/// then refuses the command when memory could not be freed and it may grow
/// memory: a `denyoom` command, an EXEC whose queue holds one (the
/// transaction is discarded: EXECABORT), or anything queued inside MULTI but
/// EXEC, DISCARD, QUIT and RESET.
pub fn before_command(srv: &mut Server, c: &mut Client, idx: usize) -> Option<ReplyError> {
    let evicted_before = srv.evict.evicted_keys;
    let outcome = perform(srv);
    if srv.evict.evicted_keys != evicted_before {
        // Caching clients hear of it before the reply of the command that
        // made room, the running client included.
        invalidate_evicted(srv, Some(c));
        srv.after_command(Some(c));
    }
    if outcome != Outcome::Fail {
        return None;
    }
    let denyoom = |srv: &Server, i: usize| srv.commands.cmds[i].flags.has(CmdFlags::DENYOOM);
    let name = srv.commands.cmds[idx].name;
    let exec = name == "exec";
    let reject = if exec {
        c.multi_flags.has(CmdFlags::DENYOOM)
    } else {
        denyoom(srv, idx) || (c.flags.multi && !matches!(name, "discard" | "quit" | "reset"))
    };
    if !reject {
        return None;
    }
    if exec {
        crate::cmd::multi::discard_transaction(srv, c);
        // COMPAT: EXEC refused while queueing nothing wrong reports the cause.
        return Some(ReplyError::other(format!("EXECABORT Transaction discarded because of: {OOM_ERR}")));
    }
    Some(ReplyError::other(OOM_ERR))
}

/// Sends the tracking invalidations of the keys evicted since the last call;
/// eviction is nobody's write, so NOLOOP does not hold any back.
fn invalidate_evicted(srv: &mut Server, mut current: Option<&mut Client>) {
    for key in std::mem::take(&mut srv.evict.tracked_evictions) {
        crate::tracking::invalidate_key(srv, current.as_deref_mut(), &key);
    }
}

/// Before sleeping: continues an eviction cycle that hit its time limit or
/// that CONFIG SET maxmemory asked for, and publishes what it evicted.
pub fn before_sleep(srv: &mut Server) {
    if !srv.evict.tracked_evictions.is_empty() {
        // Evictions made outside a command (CONFIG SET maxmemory).
        invalidate_evicted(srv, None);
    }
    if !srv.evict.running {
        return;
    }
    let evicted_before = srv.evict.evicted_keys;
    if srv.config.maxmemory == 0 || perform(srv) != Outcome::Running {
        srv.evict.running = false;
    }
    if srv.evict.evicted_keys != evicted_before {
        invalidate_evicted(srv, None);
        srv.after_command(None);
    }
}

/// Whether the loop has eviction or lazy-free work and must not sleep.
pub fn has_pending_work(srv: &Server) -> bool {
    srv.evict.running || srv.ks.lazyfree.has_work()
}

/// Copies the configuration this module and the keyspace act on (at start
/// and after CONFIG SET). A new `maxmemory` starts an eviction cycle, with
/// Redis's warning when the limit is below current use.
pub fn apply_config(srv: &mut Server, name: &str) {
    srv.ks.access = AccessPolicy::from_config(&srv.config);
    srv.ks.maxmemory = srv.config.maxmemory as u64;
    srv.ks.lazyfree.lazy_expire = srv.config.lazyfree_lazy_expire;
    srv.ks.lazyfree.lazy_server_del = srv.config.lazyfree_lazy_server_del;
    if name == "maxmemory" && srv.config.maxmemory != 0 {
        let used = used_memory().saturating_sub(not_counted_memory(srv));
        let max = srv.config.maxmemory as u64;
        if max < used {
            // COMPAT: Redis's warning text.
            log::warn!("WARNING: the new maxmemory value set via CONFIG SET ({max}) is smaller than the current memory usage ({used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.");
        }
        srv.evict.running = true;
    }
}

/// Whether a hash-table growth of `more` bytes may proceed: refused when it
/// would take used memory past `maxmemory` (Redis's `dictExpandAllowed`
/// below the hard load factor), so a resize alone cannot trigger evictions.
pub fn growth_allowed(maxmemory: u64, more: u64) -> bool {
    maxmemory == 0 || used_memory().saturating_add(more) <= maxmemory
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::value::{Str, Value};

    fn obj() -> Obj {
        Obj::new(Value::Str(Str::from_bytes(b"v")), 0)
    }

    #[test]
    fn tenacity_maps_to_redis_time_limits() {
        assert_eq!(time_limit_us(0), 0);
        assert_eq!(time_limit_us(10), 500);
        assert_eq!(time_limit_us(11), 575);
        assert!(time_limit_us(99) > 100_000_000);
        assert_eq!(time_limit_us(100), u64::MAX);
        assert_eq!(time_limit_us(-5), 0);
    }

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays_per_period() {
        // Below the initial value, every access counts.
        assert_eq!(lfu_log_incr(3, 10, 0.999), 4);
        // At 5 + 10, p = 1 / (10 * 10 + 1).
        assert_eq!(lfu_log_incr(15, 10, 0.5), 15);
        assert_eq!(lfu_log_incr(15, 10, 0.005), 16);
        assert_eq!(lfu_log_incr(255, 0, 0.0), 255);
        let now = 10 * 60_000;
        let field = (lfu_minutes(now) << 8) | 20;
        assert_eq!(lfu_decayed(field, 1, now), 20);
        assert_eq!(lfu_decayed(field, 1, now + 3 * 60_000), 17);
        assert_eq!(lfu_decayed(field, 2, now + 3 * 60_000), 19);
        assert_eq!(lfu_decayed(field, 0, now + 300 * 60_000), 20);
        assert_eq!(lfu_decayed(field, 1, now + 300 * 60_000), 0);
        // The minutes clock wraps at 16 bits.
        let late = (lfu_minutes(65534 * 60_000) << 8) | 9;
        assert_eq!(lfu_decayed(late, 1, 65536 * 60_000 + 2 * 60_000), 6);
    }

    #[test]
    fn access_policy_touches_by_mode() {
        let mut rng = Rng::with_seed(1);
        let lru = AccessPolicy::default();
        let mut f = lru.initial(5_000);
        assert_eq!(f, lru_clock(5_000));
        lru.touch(&mut f, 9_000, &mut rng);
        assert_eq!(f, 9);
        let lfu = AccessPolicy { lfu: true, log_factor: 10, decay_time: 1 };
        let mut f = lfu.initial(0);
        assert_eq!(f & 255, LFU_INIT_VAL);
        for _ in 0..1000 {
            lfu.touch(&mut f, 0, &mut rng);
        }
        let c = f & 255;
        // A thousand hits at factor 10 land around 15-20, far below 255.
        assert!((10..40).contains(&c), "{c}");
    }

    #[test]
    fn restore_sets_frequency_or_idle_time_by_policy() {
        let lfu = AccessPolicy { lfu: true, log_factor: 10, decay_time: 1 };
        let lru = AccessPolicy::default();
        let now = 1_000_000_000;
        let mut o = obj();
        assert!(set_access(&mut o, &lfu, Some(100), Some(5), now));
        assert_eq!(lfu_decayed(o.lru, 1, now), 100);
        assert!(!set_access(&mut o, &lfu, None, Some(5), now));
        assert!(set_access(&mut o, &lru, Some(100), Some(50), now));
        assert_eq!(o.idle_ms(now), 50_000);
        assert!(!set_access(&mut o, &lru, Some(1), None, now));
        // Back-dating past the clock's start wraps.
        assert!(set_access(&mut o, &lru, None, Some(20), 10_000));
        assert!(o.lru > 1 << 23);
    }

    #[test]
    fn pool_keeps_the_sixteen_best_in_order() {
        let mut pool = Vec::new();
        let mut rng = Rng::with_seed(42);
        let mut all = Vec::new();
        for i in 0..200 {
            let s = rng.below(1000);
            all.push(s);
            pool_insert(&mut pool, i % 3, &Sds::from(format!("k{i}").as_bytes()), s);
            assert!(pool.len() <= POOL_SIZE);
            assert!(pool.windows(2).all(|w| w[0].score <= w[1].score));
        }
        all.sort_unstable();
        let best: Vec<u64> = pool.iter().map(|c| c.score).collect();
        assert_eq!(best, all[all.len() - POOL_SIZE..].to_vec());
    }

    #[test]
    fn pick_prefers_idle_keys_and_random_covers_dbs() {
        let mut ks = Keyspace::new(2);
        ks.now_ms = 1_000_000;
        for i in 0..50 {
            ks.set(0, format!("fresh{i}").as_bytes(), Value::Str(Str::from_bytes(b"v")), false);
        }
        ks.set(1, b"old", Value::Str(Str::from_bytes(b"v")), false);
        if let Some(o) = ks.dbs[1].dict.get_mut(b"old".as_slice()) {
            o.lru = lru_clock(1_000_000 - 500_000);
        }
        let mut ev = Evictor::default();
        let s = Strategy::Pool { allkeys: true, score: Score::Lru };
        // With samples covering db 1 entirely, the old key always wins.
        assert_eq!(ev.pick(&ks, s, 5, 1), Some((1, Sds::from(b"old".as_slice()))));
        // Volatile policies find nothing without TTLs.
        let mut ev = Evictor::default();
        assert_eq!(ev.pick(&ks, Strategy::Pool { allkeys: false, score: Score::Ttl }, 5, 1), None);
        assert_eq!(ev.pick(&ks, Strategy::Random { allkeys: false }, 5, 1), None);
        ks.set_expire(0, b"fresh3", 2_000_000);
        ks.set_expire(0, b"fresh4", 1_500_000);
        let mut ev = Evictor::default();
        let ttl = Strategy::Pool { allkeys: false, score: Score::Ttl };
        assert_eq!(ev.pick(&ks, ttl, 5, 1), Some((0, Sds::from(b"fresh4".as_slice()))));
        let got = ev.pick(&ks, Strategy::Random { allkeys: true }, 5, 1);
        assert!(got.is_some());
        assert_eq!(ev.pick(&ks, Strategy::Refuse, 5, 1), None);
    }
}
