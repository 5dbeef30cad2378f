//! `Dict`: the chained hash table behind the keyspace (and behind large hashes and sets).
//!
//! Owns the table mechanics only: keyed hashing, buckets, incremental rehash, the SCAN
//! cursor, random sampling and the `DEBUG HTSTATS` text. It knows nothing about values,
//! expiry, clocks or clients: callers pass in randomness (`rng`) and decide when the table
//! may shrink (`try_shrink` from cron) or resize at all (`set_resize_allowed` while a
//! forked child shares memory with us).
//!
//! Mirrors Redis's `dict.c`: power-of-two tables with separate chaining, a second table
//! during incremental rehash moved one bucket per operation (visiting at most ten empty
//! buckets), growth at load factor 1 (or above 5 when resizing is avoided), shrinking
//! below 10% fill, the reverse-binary SCAN cursor that survives resizes between calls, and
//! `dictGetSomeKeys`/`dictGetFairRandomKey` sampling. A chained table is kept (rather than
//! open addressing) because the SCAN guarantee depends on it: every element present for the
//! whole scan is returned at least once, though some may be returned twice.
//!
//! Memory: one heap node per entry (`key`, `value`, `next`) plus one pointer per bucket,
//! which is Redis's `dictEntry` layout with the key and value stored in the node.

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Smallest table size, as Redis's `DICT_HT_INITIAL_SIZE`.
const MIN_SIZE: usize = 4;
/// With resizing avoided, the table still grows (and rehashes) past this load factor,
/// as Redis's `dict_force_resize_ratio`.
const FORCE_RESIZE_RATIO: usize = 5;
/// `try_shrink` shrinks a table whose fill drops below this percentage
/// (Redis's `HASHTABLE_MIN_FILL`).
const MIN_FILL_PERCENT: usize = 10;
/// How many elements `random_entry` samples before picking one (`GETFAIR_NUM_ENTRIES`).
const FAIR_SAMPLE: usize = 15;
/// Chain lengths tracked individually in `stats` (`DICT_STATS_VECTLEN`).
const STATS_VECTLEN: usize = 50;

type Link<K, V> = Option<Box<Node<K, V>>>;

/// One entry: the only per-element allocation.
struct Node<K, V> {
    key: K,
    value: V,
    next: Link<K, V>,
}

/// One power-of-two array of bucket chains (or no array at all, size 0).
struct Table<K, V> {
    buckets: Box<[Link<K, V>]>,
    used: usize,
}

impl<K, V> Table<K, V> {
    fn empty() -> Self {
        Table { buckets: Box::new([]), used: 0 }
    }

    fn with_size(size: usize) -> Self {
        let mut v = Vec::with_capacity(size);
        v.resize_with(size, || None);
        Table { buckets: v.into_boxed_slice(), used: 0 }
    }

    #[inline]
    fn size(&self) -> usize {
        self.buckets.len()
    }

    /// Index mask; only meaningful when `size() > 0`.
    #[inline]
    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }
}

impl<K, V> Drop for Table<K, V> {
    /// Unlinks chains iteratively so a long chain cannot overflow the stack through
    /// recursive `Box` drops.
    fn drop(&mut self) {
        for bucket in self.buckets.iter_mut() {
            let mut cur = bucket.take();
            while let Some(mut node) = cur {
                cur = node.next.take();
            }
        }
    }
}

/// The keyed SipHash of `key`'s bytes alone: SipHash already mixes in the
/// length, so the length prefix `Hash for [u8]` adds would only cost a
/// compression round more.
#[inline]
fn sip(hasher: &RandomState, key: &[u8]) -> u64 {
    let mut h = hasher.build_hasher();
    h.write(key);
    h.finish()
}

/// The per-process hash seed (Redis seeds its siphash key once at startup, so hash values
/// are unpredictable to clients: HashDoS resistance).
pub(crate) fn process_seed() -> &'static RandomState {
    static SEED: OnceLock<RandomState> = OnceLock::new();
    SEED.get_or_init(RandomState::new)
}

/// Process-wide resize policy (Redis's `dict_can_resize`): off while a
/// forked child shares memory pages with us, for every table at once.
static RESIZE_ALLOWED: AtomicBool = AtomicBool::new(true);

/// Allows or avoids resizing of every table (see [`Dict::set_resize_allowed`]);
/// the server turns it off while a background child runs.
pub fn set_global_resize_allowed(allowed: bool) {
    RESIZE_ALLOWED.store(allowed, Ordering::Relaxed);
}

/// Whether resizing is currently allowed process-wide (see [`set_global_resize_allowed`]).
pub(crate) fn global_resize_allowed() -> bool {
    RESIZE_ALLOWED.load(Ordering::Relaxed)
}

/// A chained hash table from byte-string keys to `V`, with Redis `dict.c` semantics.
///
/// Lookups take `&[u8]`. Operations with `&mut self` (insert, remove, `get_mut`, `entry`)
/// perform one incremental rehash step, as Redis does on every access; `get` and the other
/// `&self` readers cannot and do not. The hash is SipHash-1-3 keyed with a random seed
/// chosen once per process.
pub struct Dict<K, V> {
    ht0: Table<K, V>,
    /// The rehash target; size 0 when not rehashing.
    ht1: Table<K, V>,
    /// Buckets of `ht0` below this index are already moved to `ht1`.
    rehash_idx: usize,
    resize_allowed: bool,
    hasher: RandomState,
}

impl<K: Borrow<[u8]>, V> Default for Dict<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Borrow<[u8]>, V> Dict<K, V> {
    /// An empty table. Allocates nothing until the first insert.
    pub fn new() -> Self {
        Dict {
            ht0: Table::empty(),
            ht1: Table::empty(),
            rehash_idx: 0,
            resize_allowed: true,
            hasher: process_seed().clone(),
        }
    }

    /// An empty table already sized for `n` elements (as Redis's `dictExpand` on RDB load).
    pub fn with_capacity(n: usize) -> Self {
        let mut d = Self::new();
        d.reserve(n);
        d
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.ht0.used + self.ht1.used
    }

    /// True when there are no elements.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total number of buckets in both tables (Redis's `dictSlots`).
    pub fn buckets(&self) -> usize {
        self.ht0.size() + self.ht1.size()
    }

    /// True while elements are being moved from the old table to the new one.
    #[inline]
    pub fn is_rehashing(&self) -> bool {
        self.ht1.size() > 0
    }

    /// Allows or avoids resizing. While a `fork()`ed child shares pages with us, moving
    /// entries around would copy memory for nothing, so the owner turns resizing off:
    /// the table then only grows, and a started rehash only proceeds, once the load factor
    /// (or the ratio between the two table sizes) exceeds 5. Shrinking is refused.
    pub fn set_resize_allowed(&mut self, allowed: bool) {
        self.resize_allowed = allowed;
    }

    /// Whether resizing is currently allowed (see [`Dict::set_resize_allowed`]).
    pub fn resize_allowed(&self) -> bool {
        self.resize_allowed
    }

    /// This table's own setting combined with the process-wide one.
    #[inline]
    fn may_resize(&self) -> bool {
        self.resize_allowed && RESIZE_ALLOWED.load(Ordering::Relaxed)
    }

    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        sip(&self.hasher, key)
    }

    // ---------------------------------------------------------------- sizing and rehash

    /// Smallest power of two >= `n`, at least `MIN_SIZE` (None on overflow).
    fn size_for(n: usize) -> Option<usize> {
        if n <= MIN_SIZE {
            Some(MIN_SIZE)
        } else {
            n.checked_next_power_of_two()
        }
    }

    /// Starts a resize to hold `n` elements (Redis's `dictExpand`). Refused (false) while
    /// rehashing, when `n` is below the element count, or when the size would not change.
    /// The first allocation is immediate; later ones rehash incrementally.
    pub fn reserve(&mut self, n: usize) -> bool {
        if self.is_rehashing() || self.ht0.used > n {
            return false;
        }
        let Some(size) = Self::size_for(n) else {
            return false;
        };
        if size == self.ht0.size() {
            return false;
        }
        if self.ht0.size() == 0 {
            self.ht0 = Table::with_size(size);
        } else {
            self.ht1 = Table::with_size(size);
            self.rehash_idx = 0;
        }
        true
    }

    /// Grows before an insertion when the load factor calls for it.
    fn expand_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let size = self.ht0.size();
        if size == 0 {
            self.reserve(MIN_SIZE);
            return;
        }
        let used = self.ht0.used;
        if (self.may_resize() && used >= size) || used / size > FORCE_RESIZE_RATIO {
            self.reserve(used + 1);
        }
    }

    /// Shrinks the table when fewer than 10% of its buckets would be used (and it is larger
    /// than the minimum), as Redis's cron does with `tryResizeHashTables`. Returns true when
    /// a (incremental) resize started. Refused while rehashing or while resizing is avoided.
    pub fn try_shrink(&mut self) -> bool {
        if !self.may_resize() || self.is_rehashing() {
            return false;
        }
        let size = self.buckets();
        if size > MIN_SIZE && self.len() * 100 / size < MIN_FILL_PERCENT {
            return self.reserve(self.len().max(MIN_SIZE));
        }
        false
    }

    /// Whether a rehash step may run now: always, unless resizing is avoided, in which case
    /// only when the two table sizes differ by the forced ratio or more.
    fn rehash_permitted(&self) -> bool {
        if self.may_resize() {
            return true;
        }
        let (s0, s1) = (self.ht0.size(), self.ht1.size());
        let (big, small) = if s1 > s0 { (s1, s0) } else { (s0, s1) };
        big / small.max(1) >= FORCE_RESIZE_RATIO
    }

    /// Moves up to `n` non-empty buckets from the old table to the new one, visiting at
    /// most `10 * n` empty buckets. Returns true while elements remain to move
    /// (Redis's `dictRehash`).
    pub fn rehash_steps(&mut self, n: usize) -> bool {
        if !self.is_rehashing() || !self.rehash_permitted() {
            return false;
        }
        let mut empty_visits = n.saturating_mul(10);
        let mut n = n;
        let hasher = &self.hasher;
        let mask1 = self.ht1.mask();
        while n > 0 && self.ht0.used != 0 {
            n -= 1;
            // ht0.used != 0 guarantees a non-empty bucket at or after rehash_idx.
            while self.ht0.buckets[self.rehash_idx].is_none() {
                self.rehash_idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    return true;
                }
            }
            let mut chain = self.ht0.buckets[self.rehash_idx].take();
            while let Some(mut node) = chain {
                chain = node.next.take();
                let idx = sip(hasher, node.key.borrow()) as usize & mask1;
                node.next = self.ht1.buckets[idx].take();
                self.ht1.buckets[idx] = Some(node);
                self.ht0.used -= 1;
                self.ht1.used += 1;
            }
            self.rehash_idx += 1;
        }
        if self.ht0.used == 0 {
            self.ht0 = std::mem::replace(&mut self.ht1, Table::empty());
            self.rehash_idx = 0;
            return false;
        }
        true
    }

    /// Rehashes in batches of 100 buckets for about `ms` milliseconds (Redis's
    /// `dictRehashMilliseconds`, used by cron when `activerehashing` is on). Returns the
    /// number of steps done (0 when nothing was to do or rehashing is not permitted).
    pub fn rehash_for_ms(&mut self, ms: u64) -> usize {
        let budget = Duration::from_millis(ms);
        let start = Instant::now();
        let mut steps = 0;
        while self.rehash_steps(100) {
            steps += 100;
            if start.elapsed() > budget {
                break;
            }
        }
        steps
    }

    /// One rehash step, done by every `&mut` access.
    #[inline]
    fn rehash_step(&mut self) {
        if self.is_rehashing() {
            self.rehash_steps(1);
        }
    }

    // ---------------------------------------------------------------- lookup

    fn find(&self, key: &[u8]) -> Option<&Node<K, V>> {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key) as usize;
        let i0 = h & self.ht0.mask();
        if !self.is_rehashing() || i0 >= self.rehash_idx {
            if let Some(n) = chain_find(&self.ht0.buckets[i0], key) {
                return Some(n);
            }
        }
        if self.is_rehashing() {
            return chain_find(&self.ht1.buckets[h & self.ht1.mask()], key);
        }
        None
    }

    /// The value stored under `key`. Does not advance rehashing (it cannot, with `&self`).
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.find(key).map(|n| &n.value)
    }

    /// The stored key and value for `key` (the stored key may be a different allocation).
    pub fn get_key_value(&self, key: &[u8]) -> Option<(&K, &V)> {
        self.find(key).map(|n| (&n.key, &n.value))
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Mutable access to the value under `key`; performs one rehash step.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        match self.locate(key) {
            Entry::Occupied(o) => Some(o.into_mut()),
            Entry::Vacant(_) => None,
        }
    }

    /// Finds the link holding `key` (occupied) or the tail link of the chain where it
    /// would be inserted (vacant). The table must have buckets.
    #[inline]
    fn locate(&mut self, key: &[u8]) -> Entry<'_, K, V> {
        let h = self.hash(key);
        self.locate_hashed(key, h)
    }

    /// [`Dict::locate`] with the hash of `key` already computed.
    fn locate_hashed(&mut self, key: &[u8], h: u64) -> Entry<'_, K, V> {
        let h = h as usize;
        let Dict { ht0, ht1, rehash_idx, .. } = self;
        let i0 = h & ht0.mask();
        if ht1.size() == 0 {
            let link = chain_link(&mut ht0.buckets[i0], key);
            let used = &mut ht0.used;
            return if link.is_some() {
                Entry::Occupied(OccupiedEntry { link, used })
            } else {
                Entry::Vacant(VacantEntry { link, used })
            };
        }
        if i0 >= *rehash_idx {
            let link = chain_link(&mut ht0.buckets[i0], key);
            if link.is_some() {
                return Entry::Occupied(OccupiedEntry { link, used: &mut ht0.used });
            }
        }
        let i1 = h & ht1.mask();
        let link = chain_link(&mut ht1.buckets[i1], key);
        let used = &mut ht1.used;
        if link.is_some() {
            Entry::Occupied(OccupiedEntry { link, used })
        } else {
            Entry::Vacant(VacantEntry { link, used })
        }
    }

    /// The slot for `key`, for a lookup that may insert: one rehash step, growth if the
    /// load factor calls for it (as Redis's `dictAddRaw`), then one hash and one chain walk.
    pub fn entry(&mut self, key: &[u8]) -> Entry<'_, K, V> {
        self.rehash_step();
        self.expand_if_needed();
        self.locate(key)
    }

    /// [`Dict::entry`] for a caller that already holds `hash`, which must be
    /// [`Dict::hash_key`] of `key` (a wrong hash finds the wrong chain).
    pub fn entry_hashed(&mut self, key: &[u8], hash: u64) -> Entry<'_, K, V> {
        self.rehash_step();
        self.expand_if_needed();
        self.locate_hashed(key, hash)
    }

    /// The hash this table files `key` under. Stable for the life of the process (one
    /// seed per process, shared by every table), so a caller may keep it to find the
    /// element again with [`Dict::find_by_hash`] across resizes and rehashing.
    #[inline]
    pub fn hash_key(&self, key: &[u8]) -> u64 {
        self.hash(key)
    }

    /// The element for which `pred` holds among those filed under `hash` (the chain that
    /// hash selects in each live table), without hashing a key and without a rehash step.
    /// Only the low bits of `hash` that select a bucket are used, so a caller may keep a
    /// truncated hash (any table smaller than 2^50 buckets is served by 50 bits).
    pub fn find_by_hash(&self, hash: u64, mut pred: impl FnMut(&K, &V) -> bool) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        let h = hash as usize;
        let i0 = h & self.ht0.mask();
        let mut first =
            if !self.is_rehashing() || i0 >= self.rehash_idx { self.ht0.buckets[i0].as_deref() } else { None };
        let mut second = if self.is_rehashing() { self.ht1.buckets[h & self.ht1.mask()].as_deref() } else { None };
        for cur in [&mut first, &mut second] {
            while let Some(n) = *cur {
                if pred(&n.key, &n.value) {
                    return Some((&n.key, &n.value));
                }
                *cur = n.next.as_deref();
            }
        }
        None
    }

    /// [`Dict::find_by_hash`] with mutable access to the value (no rehash step either:
    /// the element stays where it is).
    pub fn find_by_hash_mut(&mut self, hash: u64, mut pred: impl FnMut(&K, &V) -> bool) -> Option<&mut V> {
        if self.is_empty() {
            return None;
        }
        let h = hash as usize;
        let Dict { ht0, ht1, rehash_idx, .. } = self;
        let i0 = h & ht0.mask();
        let rehashing = ht1.size() > 0;
        let first = if !rehashing || i0 >= *rehash_idx { Some(&mut ht0.buckets[i0]) } else { None };
        let second = if rehashing { Some(&mut ht1.buckets[h & ht1.mask()]) } else { None };
        for link in [first, second].into_iter().flatten() {
            let mut cur = link.as_deref_mut();
            while let Some(n) = cur {
                if pred(&n.key, &n.value) {
                    return Some(&mut n.value);
                }
                cur = n.next.as_deref_mut();
            }
        }
        None
    }

    // ---------------------------------------------------------------- update

    /// Inserts or replaces. On replace the existing key is kept and the old value returned.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.entry(key.borrow()) {
            Entry::Occupied(mut o) => Some(o.insert(value)),
            Entry::Vacant(v) => {
                v.insert(key, value);
                None
            }
        }
    }

    /// Inserts a key the caller knows is absent (checked in debug builds only), skipping
    /// the chain walk: the node goes to the head of its bucket.
    pub fn insert_new(&mut self, key: K, value: V) {
        debug_assert!(!self.contains_key(key.borrow()), "insert_new: key already present");
        self.rehash_step();
        self.expand_if_needed();
        let h = self.hash(key.borrow()) as usize;
        let table = if self.is_rehashing() { &mut self.ht1 } else { &mut self.ht0 };
        let idx = h & table.mask();
        let next = table.buckets[idx].take();
        table.buckets[idx] = Some(Box::new(Node { key, value, next }));
        table.used += 1;
    }

    /// The value under `key`, inserting `make_key()`/`make_val()` first when absent. One
    /// hash per call, for read-modify-write commands (INCR, APPEND, SETRANGE ...).
    /// `make_key()` must return a key equal to `key`.
    pub fn get_or_insert_with(
        &mut self,
        key: &[u8],
        make_key: impl FnOnce() -> K,
        make_val: impl FnOnce() -> V,
    ) -> &mut V {
        match self.entry(key) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                let k = make_key();
                debug_assert!(k.borrow() == key, "get_or_insert_with: make_key changed the key");
                v.insert(k, make_val())
            }
        }
    }

    /// Removes `key`, returning the stored key and value. Never shrinks (see `try_shrink`).
    pub fn remove(&mut self, key: &[u8]) -> Option<(K, V)> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        match self.locate(key) {
            Entry::Occupied(o) => Some(o.remove()),
            Entry::Vacant(_) => None,
        }
    }

    /// Removes every element and frees the buckets (keeps the resize policy).
    pub fn clear(&mut self) {
        self.ht0 = Table::empty();
        self.ht1 = Table::empty();
        self.rehash_idx = 0;
    }

    // ---------------------------------------------------------------- iteration

    /// All elements in table order (unspecified, changes with resizes).
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter { buckets: self.ht0.buckets.iter().chain(self.ht1.buckets.iter()), node: None, remaining: self.len() }
    }

    /// All elements with mutable values.
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        let remaining = self.len();
        IterMut { buckets: self.ht0.buckets.iter_mut().chain(self.ht1.buckets.iter_mut()), node: None, remaining }
    }

    /// Keeps only the elements for which `keep` returns true (no rehash step, no shrink).
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        for table in [&mut self.ht0, &mut self.ht1] {
            let mut removed = 0;
            for bucket in table.buckets.iter_mut() {
                let mut link = bucket;
                loop {
                    let kept = match link.as_deref_mut() {
                        None => break,
                        Some(node) => keep(&node.key, &mut node.value),
                    };
                    if kept {
                        if let Some(node) = link {
                            link = &mut node.next;
                        }
                    } else if let Some(mut gone) = link.take() {
                        *link = gone.next.take();
                        removed += 1;
                    }
                }
            }
            table.used -= removed;
        }
    }

    /// One step of a stateless scan (Redis's `dictScan`). Call first with cursor 0, then
    /// with each returned cursor until it returns 0. `f` sees every element of the visited
    /// bucket(s). Every element present from the first call to the last is seen at least
    /// once even if the table grows, shrinks or rehashes between calls; some elements may
    /// be seen more than once.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&K, &V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor;
        let mut emit = |link: &Link<K, V>| {
            let mut cur = link.as_deref();
            while let Some(n) = cur {
                f(&n.key, &n.value);
                cur = n.next.as_deref();
            }
        };
        if !self.is_rehashing() {
            let m0 = self.ht0.mask() as u64;
            emit(&self.ht0.buckets[(v & m0) as usize]);
            v = next_cursor(v, m0);
        } else {
            // Visit the bucket in the smaller table, then every bucket of the larger table
            // that it expands to.
            let (small, large) =
                if self.ht0.size() <= self.ht1.size() { (&self.ht0, &self.ht1) } else { (&self.ht1, &self.ht0) };
            let m0 = small.mask() as u64;
            let m1 = large.mask() as u64;
            emit(&small.buckets[(v & m0) as usize]);
            loop {
                emit(&large.buckets[(v & m1) as usize]);
                v = next_cursor(v, m1);
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v
    }

    // ---------------------------------------------------------------- sampling

    /// Up to `count` elements from a random region of the table (Redis's
    /// `dictGetSomeKeys`, used by active expiry and eviction). Fast but not uniform;
    /// elements are distinct. May return fewer than `count` (even none on an unlucky run
    /// of a sparse table). `rng` yields uniformly random 64-bit values.
    pub fn sample(&self, count: usize, rng: &mut impl FnMut() -> u64) -> Vec<(&K, &V)> {
        let count = count.min(self.len());
        let mut out: Vec<(&K, &V)> = Vec::with_capacity(count);
        if count == 0 {
            return out;
        }
        let rehashing = self.is_rehashing();
        let tables: &[&Table<K, V>] = if rehashing { &[&self.ht0, &self.ht1] } else { &[&self.ht0] };
        let max_mask = tables.iter().map(|t| t.mask()).max().unwrap_or(0);
        let mut i = rng() as usize & max_mask;
        let mut empty_run = 0usize;
        let mut seen = 0usize;
        let mut steps = count.saturating_mul(10);
        while seen < count && steps > 0 {
            steps -= 1;
            for (j, table) in tables.iter().enumerate() {
                if rehashing && j == 0 && i < self.rehash_idx {
                    // Buckets of ht0 below rehash_idx are empty. If `i` is also past the
                    // end of ht1 (shrinking), nothing lives here at all: jump ahead.
                    if i >= self.ht1.size() {
                        i = self.rehash_idx;
                    } else {
                        continue;
                    }
                }
                if i >= table.size() {
                    continue;
                }
                let mut cur = table.buckets[i].as_deref();
                if cur.is_none() {
                    empty_run += 1;
                    if empty_run >= 5 && empty_run > count {
                        i = rng() as usize & max_mask;
                        empty_run = 0;
                    }
                    continue;
                }
                empty_run = 0;
                while let Some(n) = cur {
                    // Reservoir sampling over the rest of the chain, so the tail of a long
                    // chain is not always left out.
                    if out.len() < count {
                        out.push((&n.key, &n.value));
                    } else {
                        let r = (rng() % (seen as u64 + 1)) as usize;
                        if r < count {
                            out[r] = (&n.key, &n.value);
                        }
                    }
                    seen += 1;
                    cur = n.next.as_deref();
                }
                if seen >= count {
                    return out;
                }
            }
            i = (i + 1) & max_mask;
        }
        out
    }

    /// A random element, close to uniform (Redis's `dictGetFairRandomKey`): samples up to
    /// 15 neighbouring elements and picks one, so chain length biases little. None only
    /// when the table is empty.
    pub fn random_entry(&self, rng: &mut impl FnMut() -> u64) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        let picked = self.sample(FAIR_SAMPLE, rng);
        if !picked.is_empty() {
            return Some(picked[(rng() % picked.len() as u64) as usize]);
        }
        self.random_bucket_entry(rng)
    }

    /// Random non-empty bucket, then a random element of its chain (`dictGetRandomKey`).
    fn random_bucket_entry(&self, rng: &mut impl FnMut() -> u64) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        let head = loop {
            let link = if self.is_rehashing() {
                // Buckets below rehash_idx in ht0 are empty: draw from the rest.
                let s0 = self.ht0.size();
                let span = (s0 + self.ht1.size() - self.rehash_idx) as u64;
                let h = self.rehash_idx + (rng() % span) as usize;
                if h >= s0 {
                    &self.ht1.buckets[h - s0]
                } else {
                    &self.ht0.buckets[h]
                }
            } else {
                &self.ht0.buckets[rng() as usize & self.ht0.mask()]
            };
            if let Some(n) = link.as_deref() {
                break n;
            }
        };
        let mut len = 0u64;
        let mut cur = Some(head);
        while let Some(n) = cur {
            len += 1;
            cur = n.next.as_deref();
        }
        let mut n = head;
        for _ in 0..rng() % len {
            n = n.next.as_deref()?;
        }
        Some((&n.key, &n.value))
    }

    // ---------------------------------------------------------------- introspection

    /// Bytes used by the table itself: the bucket arrays and one node per element
    /// (rounded as a malloc would). Heap memory owned by keys and values is not included:
    /// the caller adds it.
    pub fn mem_usage(&self) -> usize {
        self.buckets() * std::mem::size_of::<Link<K, V>>() + self.len() * Self::node_alloc_size()
    }

    /// Estimated allocation size of one node: its size plus an 8-byte malloc header,
    /// rounded up to 16.
    pub fn node_alloc_size() -> usize {
        (std::mem::size_of::<Node<K, V>>() + 8 + 15) & !15
    }

    /// The `DEBUG HTSTATS` text for this table (Redis's `dictGetStats`): one block for the
    /// main table and, while rehashing, one for the rehash target.
    pub fn stats(&self) -> String {
        let mut out = String::new();
        table_stats(&mut out, &self.ht0, 0);
        if self.is_rehashing() {
            table_stats(&mut out, &self.ht1, 1);
        }
        out
    }
}

/// Advances a reverse-binary cursor: increments the bits under `mask` starting from the
/// highest, so a cursor stays meaningful when the table doubles or halves.
#[inline]
pub(crate) fn next_cursor(v: u64, mask: u64) -> u64 {
    (v | !mask).reverse_bits().wrapping_add(1).reverse_bits()
}

fn chain_find<'a, K: Borrow<[u8]>, V>(link: &'a Link<K, V>, key: &[u8]) -> Option<&'a Node<K, V>> {
    let mut cur = link.as_deref();
    while let Some(n) = cur {
        if n.key.borrow() == key {
            return Some(n);
        }
        cur = n.next.as_deref();
    }
    None
}

/// The link that holds `key`, or the empty link at the end of the chain.
fn chain_link<'a, K: Borrow<[u8]>, V>(mut link: &'a mut Link<K, V>, key: &[u8]) -> &'a mut Link<K, V> {
    while link.as_ref().is_some_and(|n| n.key.borrow() != key) {
        if let Some(n) = link {
            link = &mut n.next;
        }
    }
    link
}

fn table_stats<K, V>(out: &mut String, t: &Table<K, V>, idx: usize) {
    let chains = t.buckets.iter().map(|bucket| {
        let mut len = 0usize;
        let mut cur = bucket.as_deref();
        while let Some(n) = cur {
            len += 1;
            cur = n.next.as_deref();
        }
        len
    });
    write_table_stats(out, idx, t.size(), t.used, chains);
}

/// Appends the `DEBUG HTSTATS` block of one table of `size` buckets holding `used`
/// elements, given the length of every bucket's chain (shared with other chained tables).
pub(crate) fn write_table_stats(
    out: &mut String,
    idx: usize,
    size: usize,
    used: usize,
    chains: impl Iterator<Item = usize>,
) {
    // COMPAT: the DEBUG HTSTATS text, read by humans and matched by the Tcl suite.
    let name = if idx == 0 { "main hash table" } else { "rehashing target" };
    if used == 0 {
        let _ = write!(out, "Hash table {idx} stats ({name}):\nNo stats available for empty dictionaries\n");
        return;
    }
    let mut lengths = [0usize; STATS_VECTLEN];
    let (mut slots, mut max_chain, mut total_chain) = (0usize, 0usize, 0usize);
    for len in chains {
        lengths[len.min(STATS_VECTLEN - 1)] += 1;
        if len > 0 {
            slots += 1;
            max_chain = max_chain.max(len);
            total_chain += len;
        }
    }
    // Redis computes these ratios in single precision.
    let _ = write!(
        out,
        "Hash table {idx} stats ({name}):\n table size: {size}\n number of elements: {used}\n \
         different slots: {slots}\n max chain length: {max_chain}\n \
         avg chain length (counted): {counted:.2}\n avg chain length (computed): {computed:.2}\n \
         Chain length distribution:\n",
        counted = total_chain as f32 / slots as f32,
        computed = used as f32 / slots as f32,
    );
    for (len, &n) in lengths.iter().enumerate().take(STATS_VECTLEN - 1) {
        if n > 0 {
            let pct = n as f32 / size as f32 * 100.0;
            let _ = writeln!(out, "   {len}: {n} ({pct:.2}%)");
        }
    }
}

/// A slot of the table, found by [`Dict::entry`].
pub enum Entry<'a, K, V> {
    /// The key is present.
    Occupied(OccupiedEntry<'a, K, V>),
    /// The key is absent; inserting puts it where the lookup ended.
    Vacant(VacantEntry<'a, K, V>),
}

/// A present element; allows reading, replacing or removing it without hashing again.
pub struct OccupiedEntry<'a, K, V> {
    /// Always `Some`: the link that owns the element's node.
    link: &'a mut Link<K, V>,
    used: &'a mut usize,
}

impl<'a, K, V> OccupiedEntry<'a, K, V> {
    fn node(&self) -> &Node<K, V> {
        self.link.as_deref().expect("occupied entry holds a node")
    }

    fn node_mut(&mut self) -> &mut Node<K, V> {
        self.link.as_deref_mut().expect("occupied entry holds a node")
    }

    /// The stored key.
    pub fn key(&self) -> &K {
        &self.node().key
    }

    /// The stored value.
    pub fn get(&self) -> &V {
        &self.node().value
    }

    /// The stored value, mutably.
    pub fn get_mut(&mut self) -> &mut V {
        &mut self.node_mut().value
    }

    /// The stored value, mutably, for the lifetime of the table borrow.
    pub fn into_mut(self) -> &'a mut V {
        &mut self.link.as_deref_mut().expect("occupied entry holds a node").value
    }

    /// Replaces the value (the key is kept) and returns the old one.
    pub fn insert(&mut self, value: V) -> V {
        std::mem::replace(self.get_mut(), value)
    }

    /// Unlinks the element and returns its key and value.
    pub fn remove(self) -> (K, V) {
        let mut node = self.link.take().expect("occupied entry holds a node");
        *self.link = node.next.take();
        *self.used -= 1;
        let Node { key, value, .. } = *node;
        (key, value)
    }
}

/// An absent key's slot: the end of the chain it hashes to.
pub struct VacantEntry<'a, K, V> {
    /// Always `None`: the tail link of the chain.
    link: &'a mut Link<K, V>,
    used: &'a mut usize,
}

impl<'a, K, V> VacantEntry<'a, K, V> {
    /// Inserts the element; `key` must equal the key this entry was looked up with.
    pub fn insert(self, key: K, value: V) -> &'a mut V {
        *self.used += 1;
        &mut self.link.insert(Box::new(Node { key, value, next: None })).value
    }
}

/// The buckets of both tables, in order.
type BucketsOf<'a, K, V> = std::iter::Chain<std::slice::Iter<'a, Link<K, V>>, std::slice::Iter<'a, Link<K, V>>>;
type BucketsOfMut<'a, K, V> =
    std::iter::Chain<std::slice::IterMut<'a, Link<K, V>>, std::slice::IterMut<'a, Link<K, V>>>;

/// Iterator over `(&K, &V)`, from [`Dict::iter`].
pub struct Iter<'a, K, V> {
    buckets: BucketsOf<'a, K, V>,
    node: Option<&'a Node<K, V>>,
    remaining: usize,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(n) = self.node {
                self.node = n.next.as_deref();
                self.remaining -= 1;
                return Some((&n.key, &n.value));
            }
            if self.remaining == 0 {
                return None;
            }
            self.node = self.buckets.next()?.as_deref();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

/// Iterator over `(&K, &mut V)`, from [`Dict::iter_mut`].
pub struct IterMut<'a, K, V> {
    buckets: BucketsOfMut<'a, K, V>,
    node: Option<&'a mut Node<K, V>>,
    remaining: usize,
}

impl<'a, K, V> Iterator for IterMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(n) = self.node.take() {
                let Node { key, value, next } = n;
                self.node = next.as_deref_mut();
                self.remaining -= 1;
                return Some((&*key, value));
            }
            if self.remaining == 0 {
                return None;
            }
            self.node = self.buckets.next()?.as_deref_mut();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for IterMut<'_, K, V> {}

impl<'a, K: Borrow<[u8]>, V> IntoIterator for &'a Dict<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

impl<K: Borrow<[u8]> + std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for Dict<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::sds::Sds;
    use std::collections::{HashMap, HashSet};

    /// xorshift64*: deterministic randomness for the property tests.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn key(i: u64) -> Sds {
        Sds::from(format!("key:{i}").as_str())
    }

    fn finish_rehash<K: Borrow<[u8]>, V>(d: &mut Dict<K, V>) {
        while d.rehash_steps(1000) {}
    }

    #[test]
    fn basic_operations() {
        let mut d: Dict<Sds, u32> = Dict::new();
        assert!(d.is_empty());
        assert_eq!(d.buckets(), 0);
        assert_eq!(d.get(b"a"), None);
        assert_eq!(d.remove(b"a"), None);
        assert_eq!(d.get_mut(b"a"), None);
        assert_eq!(d.insert(Sds::from("a"), 1), None);
        assert_eq!(d.insert(Sds::from("b"), 2), None);
        assert_eq!(d.insert(Sds::from("a"), 3), Some(1));
        assert_eq!(d.len(), 2);
        assert_eq!(d.get(b"a"), Some(&3));
        assert!(d.contains_key(b"b"));
        *d.get_mut(b"b").unwrap() += 10;
        assert_eq!(d.get_key_value(b"b").map(|(k, v)| (k.to_vec(), *v)), Some((b"b".to_vec(), 12)));
        let (k, v) = d.remove(b"a").unwrap();
        assert_eq!((&k[..], v), (&b"a"[..], 3));
        assert_eq!(d.len(), 1);
        assert_eq!(d.get(b"a"), None);
        d.clear();
        assert!(d.is_empty());
        assert_eq!(d.buckets(), 0);
        d.insert_new(Sds::from("z"), 26);
        assert_eq!(d.get(b"z"), Some(&26));
    }

    #[test]
    fn insert_keeps_existing_key_allocation() {
        // The replaced key is kept: its identity is observable through a side field.
        #[derive(Debug)]
        struct Tagged(Vec<u8>, u8);
        impl Borrow<[u8]> for Tagged {
            fn borrow(&self) -> &[u8] {
                &self.0
            }
        }
        let mut d: Dict<Tagged, u32> = Dict::new();
        d.insert(Tagged(b"k".to_vec(), 1), 1);
        d.insert(Tagged(b"k".to_vec(), 2), 2);
        let (k, v) = d.get_key_value(b"k").unwrap();
        assert_eq!((k.1, *v), (1, 2));
    }

    #[test]
    fn matches_a_hashmap_under_random_operations() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut d: Dict<Sds, u64> = Dict::new();
        let mut m: HashMap<Vec<u8>, u64> = HashMap::new();
        for step in 0..40_000u64 {
            let k = key(rng.below(3000));
            match rng.below(10) {
                0..=4 => assert_eq!(d.insert(k.clone(), step), m.insert(k.to_vec(), step)),
                5..=6 => assert_eq!(d.remove(&k).map(|(_, v)| v), m.remove(&k[..])),
                7 => {
                    let v = d.get_or_insert_with(&k, || k.clone(), || 0);
                    *v += 1;
                    *m.entry(k.to_vec()).or_insert(0) += 1;
                }
                8 => {
                    d.try_shrink();
                }
                _ => assert_eq!(d.get(&k), m.get(&k[..])),
            }
            assert_eq!(d.len(), m.len());
        }
        assert_eq!(d.iter().count(), m.len());
        for (k, v) in d.iter() {
            assert_eq!(m.get(&k[..]), Some(v));
        }
    }

    #[test]
    fn grows_at_load_factor_one_and_shrinks_below_ten_percent() {
        let mut d: Dict<Sds, ()> = Dict::new();
        for i in 0..4 {
            d.insert(key(i), ());
        }
        assert_eq!(d.buckets(), 4);
        assert!(!d.is_rehashing());
        d.insert(key(4), ()); // used (4) >= size (4): grow to 8 first
        assert_eq!(d.buckets(), 4 + 8);
        finish_rehash(&mut d);
        assert_eq!(d.buckets(), 8);
        for i in 5..100 {
            d.insert(key(i), ());
        }
        finish_rehash(&mut d);
        assert_eq!(d.buckets(), 128);
        assert!(!d.try_shrink(), "fill is high");
        for i in 10..100 {
            d.remove(&key(i));
        }
        finish_rehash(&mut d);
        assert_eq!(d.len(), 10);
        assert!(d.try_shrink(), "10 of 128 is under 10%");
        assert!(d.is_rehashing());
        finish_rehash(&mut d);
        assert_eq!(d.buckets(), 16);
        for i in 0..10 {
            assert!(d.contains_key(&key(i)));
        }
        for i in 0..10 {
            d.remove(&key(i));
        }
        assert!(d.try_shrink());
        finish_rehash(&mut d);
        assert_eq!(d.buckets(), 4, "never below the minimum size");
        assert!(!d.try_shrink());
    }

    #[test]
    fn resize_avoided_grows_only_past_ratio_five() {
        let mut d: Dict<Sds, ()> = Dict::new();
        d.set_resize_allowed(false);
        for i in 0..24 {
            d.insert(key(i), ());
        }
        assert_eq!(d.buckets(), 4, "24 / 4 is not above 5 before the last insert");
        d.insert(key(24), ());
        assert!(d.is_rehashing());
        assert_eq!(d.buckets(), 4 + 32);
        // A 4 -> 32 rehash passes the ratio, so it proceeds even now.
        assert!(!d.rehash_steps(100));
        assert_eq!(d.buckets(), 32);
        assert!(!d.try_shrink());

        // A doubling started earlier stays parked while resizing is avoided.
        let mut d: Dict<Sds, ()> = Dict::new();
        for i in 0..8 {
            d.insert(key(i), ());
        }
        finish_rehash(&mut d);
        d.insert(key(8), ());
        assert!(d.is_rehashing());
        d.set_resize_allowed(false);
        assert!(!d.rehash_steps(100));
        assert!(d.is_rehashing());
        for i in 9..20 {
            d.insert(key(i), ());
        }
        assert!(d.is_rehashing());
        for i in 0..20 {
            assert!(d.contains_key(&key(i)));
        }
        d.set_resize_allowed(true);
        finish_rehash(&mut d);
        assert_eq!(d.buckets(), 16);
    }

    #[test]
    fn lookups_work_mid_rehash() {
        let mut d: Dict<Sds, u64> = Dict::new();
        for i in 0..1024 {
            d.insert(key(i), i);
        }
        finish_rehash(&mut d);
        d.insert(key(1024), 1024);
        assert!(d.is_rehashing());
        for round in 0..20 {
            for i in 0..=1024 {
                assert_eq!(d.get(&key(i)), Some(&i), "round {round}");
            }
            d.rehash_steps(30);
        }
        assert_eq!(d.iter().count(), 1025);
        assert_eq!(d.iter().len(), 1025);
        let removed: Vec<_> = (0..=1024).step_by(3).filter_map(|i| d.remove(&key(i))).collect();
        assert_eq!(removed.len(), 342);
        assert_eq!(d.len(), 1025 - 342);
    }

    #[test]
    fn find_by_a_kept_hash_across_growth_shrinking_and_rehash() {
        let mut d: Dict<Sds, u64> = Dict::new();
        let mut hashes: Vec<u64> = Vec::new();
        for i in 0..3000 {
            let k = key(i);
            // Kept truncated, as the slot index keeps it.
            hashes.push(d.hash_key(&k) & ((1 << 50) - 1));
            match d.entry_hashed(&k, d.hash_key(&k)) {
                Entry::Vacant(v) => drop(v.insert(k, i)),
                Entry::Occupied(_) => panic!("fresh key"),
            }
        }
        let check = |d: &mut Dict<Sds, u64>, hashes: &[u64], live: std::ops::Range<u64>| {
            for i in live {
                let h = hashes[i as usize];
                assert_eq!(d.find_by_hash(h, |_, &v| v == i).map(|(k, _)| k.clone()), Some(key(i)));
                *d.find_by_hash_mut(h, |_, &v| v == i).expect("present") += 0;
            }
            assert!(d.find_by_hash(hashes[0], |_, &v| v == u64::MAX).is_none());
        };
        check(&mut d, &hashes, 0..3000);
        d.insert(key(3000), 3000);
        hashes.push(d.hash_key(&key(3000)));
        assert!(d.is_rehashing());
        d.rehash_steps(300);
        check(&mut d, &hashes, 0..3001);
        for i in 100..3001 {
            d.remove(&key(i));
        }
        finish_rehash(&mut d);
        assert!(d.try_shrink());
        d.rehash_steps(20);
        assert!(d.is_rehashing());
        check(&mut d, &hashes, 0..100);
    }

    #[test]
    fn iter_mut_and_retain() {
        let mut d: Dict<Sds, u64> = Dict::new();
        for i in 0..100 {
            d.insert(key(i), i);
        }
        d.insert(key(100), 100); // leave it rehashing
        for (_, v) in d.iter_mut() {
            *v *= 2;
        }
        assert_eq!(d.get(&key(7)), Some(&14));
        d.retain(|_, v| *v % 4 == 0);
        assert_eq!(d.len(), 51);
        assert_eq!(d.iter().count(), 51);
        assert!(d.iter().all(|(_, v)| v % 4 == 0));
    }

    #[test]
    fn entry_api() {
        let mut d: Dict<Sds, Vec<u8>> = Dict::new();
        match d.entry(b"k") {
            Entry::Vacant(v) => v.insert(Sds::from("k"), b"1".to_vec()).push(b'2'),
            Entry::Occupied(_) => panic!("empty table"),
        }
        match d.entry(b"k") {
            Entry::Occupied(mut o) => {
                assert_eq!(o.key().as_bytes(), b"k");
                assert_eq!(o.get(), b"12");
                assert_eq!(o.insert(b"x".to_vec()), b"12");
                let (k, v) = o.remove();
                assert_eq!((&k[..], &v[..]), (&b"k"[..], &b"x"[..]));
            }
            Entry::Vacant(_) => panic!("present"),
        }
        assert!(d.is_empty());
        d.get_or_insert_with(b"n", || Sds::from("n"), Vec::new).extend_from_slice(b"ab");
        d.get_or_insert_with(b"n", || unreachable!(), Vec::new).push(b'c');
        assert_eq!(d.get(b"n").map(|v| &v[..]), Some(&b"abc"[..]));
    }

    /// Scans with random inserts, deletes, growth, shrinking and partial rehashing between
    /// calls; every key present for the whole scan must be reported.
    #[test]
    fn scan_reports_every_stable_element_across_resizes() {
        for seed in 1..=25u64 {
            let mut rng = XorShift(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1);
            let mut d: Dict<Sds, u64> = Dict::new();
            let stable: Vec<u64> = (0..150).collect();
            for &i in &stable {
                d.insert(key(i), i);
            }
            let mut transient: Vec<u64> = Vec::new();
            let mut next_id = 1_000_000u64;
            // Sometimes start big so the scan sees shrinking; sometimes small to see growth.
            if seed % 2 == 0 {
                for _ in 0..3000 {
                    d.insert(key(next_id), next_id);
                    transient.push(next_id);
                    next_id += 1;
                }
                finish_rehash(&mut d);
            }
            let mut seen: HashSet<u64> = HashSet::new();
            let mut cursor = 0u64;
            let mut calls = 0;
            loop {
                cursor = d.scan(cursor, |_, &v| {
                    seen.insert(v);
                });
                calls += 1;
                if cursor == 0 {
                    break;
                }
                match rng.below(6) {
                    0 => {
                        for _ in 0..rng.below(400) {
                            d.insert(key(next_id), next_id);
                            transient.push(next_id);
                            next_id += 1;
                        }
                    }
                    1 => {
                        for _ in 0..rng.below(800) {
                            if transient.is_empty() {
                                break;
                            }
                            let at = rng.below(transient.len() as u64) as usize;
                            let id = transient.swap_remove(at);
                            assert!(d.remove(&key(id)).is_some());
                        }
                        d.try_shrink();
                    }
                    2 => {
                        d.rehash_steps(rng.below(8) as usize);
                    }
                    3 => {
                        finish_rehash(&mut d);
                        d.try_shrink();
                    }
                    _ => {}
                }
                assert!(calls < 1_000_000, "scan does not terminate");
            }
            for &i in &stable {
                assert!(seen.contains(&i), "seed {seed}: stable key {i} missed");
            }
        }
    }

    #[test]
    fn scan_of_a_quiet_table_reports_each_element_once() {
        let mut d: Dict<Sds, u64> = Dict::new();
        for i in 0..777 {
            d.insert(key(i), i);
        }
        for partially_rehashed in [false, true] {
            if partially_rehashed {
                for i in 777..1100 {
                    d.insert(key(i), i);
                }
                assert!(d.is_rehashing());
            } else {
                finish_rehash(&mut d);
            }
            let mut counts: HashMap<u64, u32> = HashMap::new();
            let mut cursor = 0;
            loop {
                cursor = d.scan(cursor, |_, &v| *counts.entry(v).or_insert(0) += 1);
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(counts.len(), d.len());
            assert!(counts.values().all(|&c| c == 1));
        }
        let empty: Dict<Sds, u64> = Dict::new();
        assert_eq!(empty.scan(0, |_, _| panic!("empty")), 0);
    }

    #[test]
    fn random_entry_on_tiny_and_sparse_tables() {
        let mut rng = XorShift(42);
        let mut next = || rng.next();
        let mut d: Dict<Sds, u64> = Dict::new();
        assert!(d.random_entry(&mut next).is_none());
        assert!(d.sample(5, &mut next).is_empty());
        d.insert(key(1), 1);
        for _ in 0..100 {
            assert_eq!(d.random_entry(&mut next).map(|(_, v)| *v), Some(1));
        }
        // Sparse: one survivor in a 65536-bucket table, with and without rehashing.
        for i in 2..40_000 {
            d.insert(key(i), i);
        }
        for i in 2..40_000 {
            d.remove(&key(i));
        }
        for _ in 0..50 {
            assert_eq!(d.random_entry(&mut next).map(|(_, v)| *v), Some(1));
            let s = d.sample(20, &mut next);
            assert!(s.len() <= 1);
        }
        assert!(d.try_shrink());
        assert!(d.is_rehashing());
        for _ in 0..50 {
            assert_eq!(d.random_entry(&mut next).map(|(_, v)| *v), Some(1));
        }
        // Small table: every element gets picked.
        let mut d: Dict<Sds, u64> = Dict::new();
        for i in 0..5 {
            d.insert(key(i), i);
        }
        let mut hits = [0u32; 5];
        for _ in 0..5000 {
            let (_, v) = d.random_entry(&mut next).unwrap();
            hits[*v as usize] += 1;
        }
        assert!(hits.iter().all(|&h| h > 300), "skewed: {hits:?}");
    }

    #[test]
    fn sample_returns_distinct_elements() {
        let mut rng = XorShift(7);
        let mut next = || rng.next();
        let mut d: Dict<Sds, u64> = Dict::new();
        for i in 0..5000 {
            d.insert(key(i), i);
        }
        d.insert(key(5000), 5000);
        assert!(d.is_rehashing());
        for count in [1, 5, 20, 100] {
            let s = d.sample(count, &mut next);
            assert!(!s.is_empty() && s.len() <= count);
            let distinct: HashSet<u64> = s.iter().map(|(_, v)| **v).collect();
            assert_eq!(distinct.len(), s.len());
        }
        assert!(d.sample(10_000, &mut next).len() <= 5001);
    }

    #[test]
    fn stats_text() {
        let mut d: Dict<Sds, ()> = Dict::new();
        assert_eq!(d.stats(), "Hash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n");
        for i in 0..4 {
            d.insert(key(i), ());
        }
        let s = d.stats();
        assert!(
            s.starts_with("Hash table 0 stats (main hash table):\n table size: 4\n number of elements: 4\n"),
            "{s}"
        );
        assert!(s.contains(" Chain length distribution:\n"));
        assert!(s.contains("avg chain length (computed): "));
        assert!(!s.contains("rehashing target"));
        d.insert(key(4), ());
        let s = d.stats();
        assert!(s.contains("Hash table 1 stats (rehashing target):\n table size: 8\n"), "{s}");
        let slots: usize =
            s.lines().find_map(|l| l.strip_prefix(" different slots: ")).and_then(|n| n.parse().ok()).unwrap();
        assert!(slots >= 1);
    }

    #[test]
    fn memory_per_entry() {
        type Value = [u8; 32];
        let node = std::mem::size_of::<Node<Sds, Value>>();
        let alloc = Dict::<Sds, Value>::node_alloc_size();
        println!("Node<Sds, [u8; 32]>: {node} bytes, ~{alloc} allocated");
        println!("Node<Sds, Sds>: {} bytes", std::mem::size_of::<Node<Sds, Sds>>());
        assert_eq!(node, 24 + 32 + 8);
        let mut d: Dict<Sds, Value> = Dict::new();
        for i in 0..1000 {
            d.insert(key(i), [0; 32]);
        }
        finish_rehash(&mut d);
        assert_eq!(d.mem_usage(), 1024 * 8 + 1000 * alloc);
    }

    #[test]
    #[ignore = "benchmark: cargo test --release --lib db::dict -- --ignored --nocapture"]
    fn bench_insert_get_1m() {
        let n = 1_000_000u64;
        let keys: Vec<Sds> = (0..n).map(|i| Sds::from(format!("key:{i:012}").as_str())).collect();
        assert_eq!(keys[0].len(), 16);
        let mut d: Dict<Sds, [u8; 32]> = Dict::new();
        let t = Instant::now();
        for k in &keys {
            d.insert(k.clone(), [1; 32]);
        }
        let ins = t.elapsed();
        let t = Instant::now();
        let mut hits = 0;
        for k in &keys {
            hits += d.get(k).is_some() as u64;
        }
        let get = t.elapsed();
        assert_eq!(hits, n);
        let t = Instant::now();
        let mut sink = 0u64;
        for k in &keys {
            sink = sink.wrapping_add(d.hasher.hash_one(&k[..]));
        }
        let hash = t.elapsed();
        // Reference point: std's HashMap (SipHash-1-3 too, open addressing, no SCAN).
        let mut m: HashMap<Sds, [u8; 32]> = HashMap::new();
        let t = Instant::now();
        for k in &keys {
            m.insert(k.clone(), [1; 32]);
        }
        let m_ins = t.elapsed();
        let t = Instant::now();
        for k in &keys {
            hits += m.get(&k[..]).is_some() as u64;
        }
        let m_get = t.elapsed();
        assert_eq!(hits, 2 * n);
        println!(
            "std HashMap: insert {:.0} ns/op, get {:.0} ns/op",
            m_ins.as_nanos() as f64 / n as f64,
            m_get.as_nanos() as f64 / n as f64
        );
        println!(
            "dict 1M x 16-byte keys: insert {:.0} ns/op, get {:.0} ns/op, hash alone {:.0} ns/op ({sink:x}); \
             table {} bytes = {:.1} bytes/key",
            ins.as_nanos() as f64 / n as f64,
            get.as_nanos() as f64 / n as f64,
            hash.as_nanos() as f64 / n as f64,
            d.mem_usage(),
            d.mem_usage() as f64 / n as f64,
        );
    }
}
