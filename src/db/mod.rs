//! The keyspace: `databases` numbered dbs, each a table of keys and a table of
//! expire times, with lazy and active expiry and keyspace-event queueing.
//!
//! Owns the data and nothing else: it never sees a client or a socket. Callers
//! set `now_ms` (the loop's time snapshot) before running a command, so every
//! key in one command is judged against one clock. Deletions made by expiry are
//! queued in `expired` so the server can propagate them (as DEL) and notify,
//! mirroring Redis's lazy `expireIfNeeded` and sampled `activeExpireCycle`.

pub mod dict;
pub mod slots;

use crate::types::sds::Sds;
use crate::types::value::Value;
use dict::Dict;

/// A stored value with its access clock (Redis's `robj.lru`): the last
/// access time in seconds, modulo 2^24, as LRU_CLOCK keeps it.
#[derive(Debug, Clone)]
pub struct Obj {
    /// The value.
    pub value: Value,
    /// Seconds clock of the last access, 24 bits.
    pub lru: u32,
    /// This key's member in db 0's per-slot index (`slots`), when the index is on;
    /// meaningless elsewhere. It fills what would be padding: `Obj` stays 32 bytes.
    pub slot_ref: u32,
}

/// Resolution and width of the access clock.
const LRU_MASK: u32 = (1 << 24) - 1;

/// The access clock for a Unix time in ms.
pub fn lru_clock(now_ms: i64) -> u32 {
    ((now_ms / 1000) as u32) & LRU_MASK
}

impl Obj {
    /// A value accessed now.
    pub fn new(value: Value, now_ms: i64) -> Obj {
        Obj::with_lru(value, lru_clock(now_ms))
    }

    /// A value with the given access field (LRU clock or LFU counter).
    pub fn with_lru(value: Value, lru: u32) -> Obj {
        Obj { value, lru, slot_ref: slots::UNINDEXED }
    }

    /// Milliseconds since the last access (OBJECT IDLETIME), with the
    /// clock's wrap-around handled as Redis does.
    pub fn idle_ms(&self, now_ms: i64) -> i64 {
        let now = lru_clock(now_ms);
        let secs = if now >= self.lru { now - self.lru } else { (LRU_MASK - self.lru) + now };
        secs as i64 * 1000
    }
}

/// One numbered database.
#[derive(Debug, Default)]
pub struct Db {
    /// Key to value (with its access clock). `Obj` is 32 bytes, so a
    /// table entry (key, object, chain link) stays within 64 bytes.
    pub dict: Dict<Sds, Obj>,
    /// Key to absolute expire time (Unix ms). Only keys with a TTL.
    pub expires: Dict<Sds, i64>,
    /// Running average TTL of sampled keys (INFO keyspace `avg_ttl`).
    pub avg_ttl_ms: i64,
}

/// Keyspace notification classes (the `notify-keyspace-events` letters), one
/// definition shared with the configuration parser.
pub use crate::config::notify;

/// A keyspace event waiting to be published.
#[derive(Debug, Clone)]
pub struct KeyEvent {
    /// Class bit from `notify`.
    pub class: u32,
    /// Event name (`set`, `del`, `expired`...).
    pub event: &'static str,
    /// The key.
    pub key: Sds,
    /// Its database.
    pub db: usize,
}

/// All databases plus the state expiry needs.
#[derive(Debug)]
pub struct Keyspace {
    /// The databases, `databases` of them.
    pub dbs: Vec<Db>,
    /// The time every expiry decision uses (Unix ms), set by the server.
    pub now_ms: i64,
    /// Keys deleted because they expired, waiting for propagation as DEL.
    pub expired: Vec<(usize, Sds)>,
    /// Events for `notify-keyspace-events`, drained by the server.
    pub events: Vec<KeyEvent>,
    /// Enabled notification classes; events of other classes are not queued.
    pub notify_flags: u32,
    /// When false (a replica), expired keys are reported missing but not deleted.
    pub expire_deletes: bool,
    /// True while the AOF is replayed: nothing expires (Redis's loading rule).
    pub loading: bool,
    /// True while a replica applies its master's stream: expired keys still
    /// exist for it (the master sends their deletions).
    pub master_applying: bool,
    /// Keys a writable replica's own clients gave a TTL: the replica
    /// expires these itself (those of its master wait for the master's DEL).
    pub replica_keys_with_expire: std::collections::HashSet<(usize, Sds)>,
    /// Number of keys removed by expiry (INFO `expired_keys`).
    pub stat_expired_keys: u64,
    /// Lookups that found / missed a key (INFO `keyspace_hits/misses`).
    pub stat_hits: u64,
    /// See `stat_hits`.
    pub stat_misses: u64,
    /// Count of writes since the last save (`rdb_changes_since_last_save`).
    pub dirty: u64,
    /// Keys modified by the running command (for WATCH and tracking later).
    pub modified: Vec<(usize, Sds)>,
    /// Whether to record `modified` at all: the server turns it on only
    /// while some client WATCHes or blocks, so plain writes pay nothing.
    pub track_modified: bool,
    /// Set when a database was emptied (FLUSHDB/FLUSHALL), for client
    /// tracking; the server clears it.
    pub flushed: bool,
    /// Random state for sampling (and seeds for commands that need one).
    rng: crate::util::rand::Rng,
    /// What the per-key access field holds (LRU clock or LFU counter), from
    /// `maxmemory-policy` and the `lfu-*` settings.
    pub access: crate::evict::AccessPolicy,
    /// Deferred frees (UNLINK, FLUSHALL ASYNC, `lazyfree-lazy-*`).
    pub lazyfree: crate::lazyfree::LazyFree,
    /// `maxmemory` (0: none), so table growth can be held back at the limit.
    pub maxmemory: u64,
    /// Db 0's keys by hash slot, in cluster mode only (`enable_slot_index`).
    pub(crate) slot_index: Option<Box<slots::SlotIndex>>,
}

impl Keyspace {
    /// `n` empty databases.
    pub fn new(n: usize) -> Keyspace {
        Keyspace {
            dbs: (0..n).map(|_| Db::default()).collect(),
            now_ms: crate::util::clock::unix_ms(),
            expired: Vec::new(),
            events: Vec::new(),
            notify_flags: 0,
            expire_deletes: true,
            loading: false,
            master_applying: false,
            replica_keys_with_expire: Default::default(),
            stat_expired_keys: 0,
            stat_hits: 0,
            stat_misses: 0,
            dirty: 0,
            modified: Vec::new(),
            track_modified: false,
            flushed: false,
            rng: crate::util::rand::Rng::from_entropy(),
            access: Default::default(),
            lazyfree: Default::default(),
            maxmemory: 0,
            slot_index: None,
        }
    }

    /// Next pseudo-random number.
    pub fn rand(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Queues a keyspace event if its class is enabled.
    pub fn notify(&mut self, class: u32, event: &'static str, db: usize, key: &[u8]) {
        if self.notify_flags & class != 0 && self.notify_flags & (notify::KEYSPACE | notify::KEYEVENT) != 0 {
            self.events.push(KeyEvent { class, event, key: Sds::from(key), db });
        }
    }

    /// Records that `key` changed (WATCH, client tracking) and counts a write.
    pub fn touch_write(&mut self, db: usize, key: &[u8]) {
        self.dirty += 1;
        if self.track_modified {
            self.modified.push((db, Sds::from(key)));
        }
    }

    /// Expires `key` if its time has come. Returns true when the key is
    /// logically gone (deleted here, or just reported missing on a replica).
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8]) -> bool {
        let Some(&at) = self.dbs[db].expires.get(key) else { return false };
        if at > self.now_ms || self.loading || self.master_applying {
            return false;
        }
        if !self.expire_deletes {
            return true;
        }
        self.delete_expired(db, key);
        true
    }

    fn delete_expired(&mut self, db: usize, key: &[u8]) {
        self.dbs[db].expires.remove(key);
        if let Some((k, o)) = self.dict_remove(db, key) {
            self.lazyfree.dispose(o.value, self.lazyfree.lazy_expire);
            self.stat_expired_keys += 1;
            self.notify(notify::EXPIRED, "expired", db, &k);
            if self.track_modified {
                self.modified.push((db, k.clone()));
            }
            self.expired.push((db, k));
        }
    }

    /// Looks a key up for reading: expired keys are removed first, hit/miss
    /// statistics are counted and the access clock is updated.
    pub fn get(&mut self, db: usize, key: &[u8]) -> Option<&Value> {
        if self.expire_if_needed(db, key) {
            // Logically gone even where it is not deleted (replica, pause).
            self.stat_misses += 1;
            return None;
        }
        match self.dbs[db].dict.get_mut(key) {
            Some(o) => {
                self.stat_hits += 1;
                self.access.touch(&mut o.lru, self.now_ms, &mut self.rng);
                Some(&o.value)
            }
            None => {
                self.stat_misses += 1;
                None
            }
        }
    }

    /// Looks a key up without touching its access clock or the statistics
    /// (TYPE, TTL, EXISTS, OBJECT: Redis's LOOKUP_NOTOUCH); still expires it.
    pub fn peek(&mut self, db: usize, key: &[u8]) -> Option<&Obj> {
        if self.expire_if_needed(db, key) {
            return None;
        }
        self.dbs[db].dict.get(key)
    }

    /// Looks a key up for writing (no hit/miss statistics); updates the
    /// access clock.
    pub fn get_mut(&mut self, db: usize, key: &[u8]) -> Option<&mut Value> {
        if self.expire_if_needed(db, key) {
            return None;
        }
        let (access, now) = (self.access, self.now_ms);
        let rng = &mut self.rng;
        self.dbs[db].dict.get_mut(key).map(|o| {
            access.touch(&mut o.lru, now, rng);
            &mut o.value
        })
    }

    /// True if `key` exists (after lazy expiry), without touching statistics.
    pub fn exists(&mut self, db: usize, key: &[u8]) -> bool {
        !self.expire_if_needed(db, key) && self.dbs[db].dict.contains_key(key)
    }

    /// Stores `val` under `key`. With `keep_ttl` an existing TTL survives
    /// (SET KEEPTTL); otherwise it is cleared, as a plain SET clears it.
    pub fn set(&mut self, db: usize, key: &[u8], val: Value, keep_ttl: bool) {
        self.expire_if_needed(db, key);
        let mut obj = Obj::with_lru(val, self.access.initial(self.now_ms));
        let d = &mut self.dbs[db];
        if self.access.lfu {
            // An overwritten key keeps its access frequency.
            if let Some(old) = d.dict.get(key) {
                obj.lru = old.lru;
            }
        }
        // At `maxmemory`, a table doubling that would cross the limit waits
        // (up to the forced load factor), so a resize alone cannot evict.
        let hold = self.maxmemory != 0 && growth_would_exceed(&d.dict, self.maxmemory);
        let resize_allowed = d.dict.resize_allowed();
        if hold {
            d.dict.set_resize_allowed(false);
        }
        let index = if db == 0 { self.slot_index.as_deref_mut() } else { None };
        let old = slots::insert(&mut d.dict, index, Sds::from(key), obj);
        if hold {
            d.dict.set_resize_allowed(resize_allowed);
        }
        if let Some(old) = old {
            self.lazyfree.dispose(old.value, self.lazyfree.lazy_server_del);
            if !keep_ttl {
                d.expires.remove(key);
            }
        } else {
            self.notify(notify::NEW, "new", db, key);
        }
    }

    /// Deletes `key` as a side effect of a command; true if it existed (an
    /// expired key does not count). The value is freed lazily under
    /// `lazyfree-lazy-server-del`.
    pub fn delete(&mut self, db: usize, key: &[u8]) -> bool {
        self.delete_with(db, key, self.lazyfree.lazy_server_del)
    }

    /// Deletes `key`, freeing a costly value after the reply when `lazy`
    /// (UNLINK, DEL under `lazyfree-lazy-user-del`); true if it existed.
    pub fn delete_with(&mut self, db: usize, key: &[u8], lazy: bool) -> bool {
        if self.expire_if_needed(db, key) {
            return false;
        }
        match self.unlink_entry(db, key) {
            Some(o) => {
                self.lazyfree.dispose(o.value, lazy);
                true
            }
            None => false,
        }
    }

    /// Removes `key` and its TTL without looking at its expire time and
    /// without notifying (eviction); returns the removed object.
    pub fn unlink_entry(&mut self, db: usize, key: &[u8]) -> Option<Obj> {
        self.dbs[db].expires.remove(key);
        self.dict_remove(db, key).map(|(_, o)| o)
    }

    /// Removes and returns the value of `key` together with its expire time.
    pub fn take(&mut self, db: usize, key: &[u8]) -> Option<(Value, Option<i64>)> {
        if self.expire_if_needed(db, key) {
            return None;
        }
        let (_, o) = self.dict_remove(db, key)?;
        let ttl = self.dbs[db].expires.remove(key).map(|(_, at)| at);
        Some((o.value, ttl))
    }

    /// The absolute expire time of `key` (ms), if it has one.
    pub fn expire_at(&self, db: usize, key: &[u8]) -> Option<i64> {
        self.dbs[db].expires.get(key).copied()
    }

    /// Sets the absolute expire time of an existing key.
    pub fn set_expire(&mut self, db: usize, key: &[u8], at_ms: i64) {
        let d = &mut self.dbs[db];
        let track = !self.expire_deletes && !self.master_applying;
        // A key that has a TTL already (so exists) only changes its instant.
        if !track {
            if let Some(at) = d.expires.get_mut(key) {
                *at = at_ms;
                return;
            }
        }
        if let Some((k, _)) = d.dict.get_key_value(key) {
            let k = k.clone();
            if track {
                self.replica_keys_with_expire.insert((db, k.clone()));
            }
            d.expires.insert(k, at_ms);
        }
    }

    /// Removes the TTL of `key`; true if it had one.
    pub fn persist(&mut self, db: usize, key: &[u8]) -> bool {
        self.dbs[db].expires.remove(key).is_some()
    }

    /// Stores a ready-made object under `key` as a loader does (RDB, replication
    /// full sync): no expiry check, no TTL change, no event. Returns the object
    /// it replaced.
    pub fn insert_obj(&mut self, db: usize, key: Sds, obj: Obj) -> Option<Obj> {
        let index = if db == 0 { self.slot_index.as_deref_mut() } else { None };
        slots::insert(&mut self.dbs[db].dict, index, key, obj)
    }

    /// Exchanges two databases (SWAPDB). The slot index follows the number 0,
    /// not the data, so it is rebuilt when db 0 takes part.
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
        if a == 0 || b == 0 {
            self.slot_index_rebuild();
        }
    }

    /// Number of keys in `db` (expired keys not yet collected included, as Redis).
    pub fn db_size(&self, db: usize) -> usize {
        self.dbs[db].dict.len()
    }

    /// Empties one database; returns how many keys it held.
    pub fn flush_db(&mut self, db: usize) -> usize {
        self.slot_index_flushed(db);
        let d = &mut self.dbs[db];
        let n = d.dict.len();
        self.flushed = true;
        d.dict = Dict::new();
        d.expires = Dict::new();
        d.avg_ttl_ms = 0;
        n
    }

    /// Empties one database, handing its tables to the lazy-free queue
    /// (FLUSHDB/FLUSHALL ASYNC); returns how many keys it held.
    pub fn flush_db_async(&mut self, db: usize) -> usize {
        self.slot_index_flushed(db);
        let d = &mut self.dbs[db];
        let n = d.dict.len();
        self.flushed = true;
        let dict = std::mem::take(&mut d.dict);
        let expires = std::mem::take(&mut d.expires);
        d.avg_ttl_ms = 0;
        self.lazyfree.dispose_db(dict, expires);
        n
    }

    /// A random live key of `db` (RANDOMKEY), skipping expired ones as Redis
    /// does (bounded tries so a db full of expired keys cannot spin forever).
    pub fn random_key(&mut self, db: usize) -> Option<Sds> {
        for _ in 0..100 {
            let rng = &mut self.rng;
            let k = self.dbs[db].dict.random_entry(&mut || rng.next_u64()).map(|(k, _)| k.clone())?;
            if !self.expire_if_needed(db, &k) {
                return Some(k);
            }
        }
        None
    }

    /// One round of active expiry over every db: samples keys with a TTL and
    /// deletes the expired ones, repeating while more than 10% of a sample was
    /// expired, until `budget_us` is spent. Returns keys expired.
    pub fn active_expire_cycle(&mut self, budget_us: u64, effort: u64) -> usize {
        if !self.expire_deletes {
            return 0;
        }
        let start = std::time::Instant::now();
        let per_loop = 20 + 5 * effort.saturating_sub(1) as usize;
        let mut total = 0;
        for db in 0..self.dbs.len() {
            loop {
                if self.dbs[db].expires.is_empty() {
                    break;
                }
                let now = self.now_ms;
                let rng = &mut self.rng;
                let sample: Vec<(Sds, i64)> = self.dbs[db]
                    .expires
                    .sample(per_loop, &mut || rng.next_u64())
                    .into_iter()
                    .map(|(k, at)| (k.clone(), *at))
                    .collect();
                let sampled = sample.len();
                let mut expired = 0;
                let mut ttl_sum = 0i64;
                let mut ttl_n = 0i64;
                for (k, at) in sample {
                    if at <= now {
                        if self.dbs[db].expires.contains_key(&k) {
                            self.delete_expired(db, &k);
                            expired += 1;
                        }
                    } else {
                        ttl_sum += at - now;
                        ttl_n += 1;
                    }
                }
                if ttl_n > 0 {
                    let avg = ttl_sum / ttl_n;
                    let d = &mut self.dbs[db];
                    d.avg_ttl_ms = if d.avg_ttl_ms == 0 { avg } else { (d.avg_ttl_ms / 50) * 49 + avg / 50 };
                }
                total += expired;
                if sampled == 0 || expired * 10 <= sampled || start.elapsed().as_micros() as u64 > budget_us {
                    break;
                }
            }
            if start.elapsed().as_micros() as u64 > budget_us {
                break;
            }
        }
        total
    }
}

/// True when the next insertion would double `dict` past `maxmemory` while
/// its load factor is still below 1.618 (Redis's `dictExpandAllowed`).
fn growth_would_exceed(dict: &Dict<Sds, Obj>, maxmemory: u64) -> bool {
    let (n, size) = (dict.len(), dict.buckets());
    if size == 0 || n < size || dict.is_rehashing() || n * 1000 > size * 1618 {
        return false;
    }
    let more = (size * 2 * std::mem::size_of::<usize>()) as u64;
    !crate::evict::growth_allowed(maxmemory, more)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::value::Str;

    fn sv(s: &[u8]) -> Value {
        Value::Str(Str::from_bytes(s))
    }

    #[test]
    fn lazy_expiry_by_injected_time() {
        let mut ks = Keyspace::new(2);
        ks.now_ms = 1000;
        ks.set(0, b"k", sv(b"v"), false);
        ks.set_expire(0, b"k", 1500);
        assert!(ks.get(0, b"k").is_some());
        ks.now_ms = 1500;
        assert!(ks.get(0, b"k").is_none());
        assert_eq!(ks.stat_expired_keys, 1);
        assert_eq!(ks.expired.len(), 1);
        assert_eq!(ks.db_size(0), 0);
    }

    #[test]
    fn reads_and_writes_refresh_the_access_clock_peeks_do_not() {
        let mut ks = Keyspace::new(1);
        ks.now_ms = 1_000_000;
        ks.set(0, b"k", sv(b"v"), false);
        ks.now_ms += 5_000;
        let now = ks.now_ms;
        assert_eq!(ks.peek(0, b"k").map(|o| o.idle_ms(now)), Some(5_000));
        ks.get(0, b"k");
        assert_eq!(ks.peek(0, b"k").map(|o| o.idle_ms(now)), Some(0));
        // The 24-bit seconds clock wraps; idle time stays right across it.
        let o = Obj::with_lru(sv(b"v"), LRU_MASK - 1);
        assert_eq!(o.idle_ms(((LRU_MASK as i64) + 1 + 2) * 1000), 3_000);
        assert_eq!(std::mem::size_of::<Obj>(), 32, "the slot index handle must fit in padding");
    }

    #[test]
    fn expired_keys_read_as_missing_while_deletion_is_off() {
        let mut ks = Keyspace::new(1);
        ks.now_ms = 0;
        ks.set(0, b"k", sv(b"v"), false);
        ks.set_expire(0, b"k", 10);
        ks.expire_deletes = false;
        ks.now_ms = 20;
        assert!(ks.get(0, b"k").is_none());
        assert!(ks.peek(0, b"k").is_none());
        assert!(ks.get_mut(0, b"k").is_none());
        assert!(!ks.exists(0, b"k"));
        assert_eq!((ks.db_size(0), ks.stat_expired_keys), (1, 0));
        ks.expire_deletes = true;
        assert!(ks.get(0, b"k").is_none());
        assert_eq!((ks.db_size(0), ks.stat_expired_keys), (0, 1));
    }

    #[test]
    fn flush_marks_the_keyspace_flushed() {
        let mut ks = Keyspace::new(2);
        assert!(!ks.flushed);
        ks.flush_db(1);
        assert!(ks.flushed);
    }

    #[test]
    fn set_clears_ttl_unless_kept() {
        let mut ks = Keyspace::new(1);
        ks.now_ms = 0;
        ks.set(0, b"k", sv(b"v"), false);
        ks.set_expire(0, b"k", 100);
        ks.set(0, b"k", sv(b"w"), true);
        assert_eq!(ks.expire_at(0, b"k"), Some(100));
        ks.set(0, b"k", sv(b"x"), false);
        assert_eq!(ks.expire_at(0, b"k"), None);
    }

    #[test]
    fn active_cycle_removes_expired_keys() {
        let mut ks = Keyspace::new(1);
        ks.now_ms = 0;
        for i in 0..1000 {
            let k = format!("k{i}");
            ks.set(0, k.as_bytes(), sv(b"v"), false);
            ks.set_expire(0, k.as_bytes(), if i % 2 == 0 { 10 } else { 1_000_000 });
        }
        ks.now_ms = 20;
        let mut n = 0;
        for _ in 0..200 {
            n += ks.active_expire_cycle(1_000_000, 1);
        }
        assert!(n > 400, "expired {n}");
        assert!(ks.db_size(0) >= 500);
    }
}
