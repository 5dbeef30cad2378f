//! `IdTable`: a chained hash table of element numbers (`u32`) whose keys and chain
//! links live in the elements themselves, inside an arena the caller owns.
//!
//! Owns only the bucket arrays and the rehash state: it never stores a key and never
//! allocates per element. The arena answers through [`Chained`] (an element's key bytes,
//! the next element of its chain, and setting that link), so a member stored once, in a
//! skiplist node, is also found by hash in O(1) without a second copy or a second
//! allocation. It must not be used where elements move without [`IdTable::relocate`].
//!
//! Mirrors Redis's dict.c as the sorted set's member table uses it: power-of-two tables
//! with separate chaining, growth at load factor 1, shrinking below 10% fill on request,
//! incremental rehash (one bucket per update, at most ten empty buckets visited), the
//! reverse-binary SCAN cursor and the `DEBUG HTSTATS` text (both shared with
//! `db::dict`), so ZSCAN keeps SCAN's guarantees. Keys hash with the keyspace's keyed
//! SipHash and its per-process seed. Like every dict, it follows the process-wide resize
//! policy (`dict_can_resize`): while a forked child shares memory it grows only past load
//! factor 5, never shrinks, and rehashes only between tables 5 times apart in size.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use crate::db::dict::{global_resize_allowed, next_cursor, process_seed, write_table_stats};

/// "No element": the end of a chain, an empty bucket.
pub const NIL: u32 = u32::MAX;

/// Smallest table size (Redis's `DICT_HT_INITIAL_SIZE`).
const MIN_SIZE: usize = 4;
/// `try_shrink` shrinks below this fill percentage (Redis's `HASHTABLE_MIN_FILL`).
const MIN_FILL_PERCENT: usize = 10;
/// With resizing avoided, growth (and rehashing) still happens past this ratio
/// (Redis's `dict_force_resize_ratio`).
const FORCE_RESIZE_RATIO: usize = 5;

/// What the table needs from the arena holding its elements. Ids given to the table
/// must stay valid (and keep their key) until removed or relocated.
pub trait Chained {
    /// The key bytes of element `id`.
    fn key(&self, id: u32) -> &[u8];
    /// The element after `id` in its bucket chain (`NIL` at the end).
    fn chain(&self, id: u32) -> u32;
    /// Sets the element after `id` in its bucket chain.
    fn set_chain(&mut self, id: u32, next: u32);
}

#[derive(Debug, Clone)]
struct Table {
    buckets: Box<[u32]>,
    used: usize,
}

impl Table {
    fn empty() -> Table {
        Table { buckets: Box::new([]), used: 0 }
    }

    fn with_size(size: usize) -> Table {
        Table { buckets: vec![NIL; size].into_boxed_slice(), used: 0 }
    }

    fn size(&self) -> usize {
        self.buckets.len()
    }

    /// Index mask; only meaningful when `size() > 0`.
    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }
}

/// Where an element is linked from: a bucket of table 0 or 1, or another element's
/// chain link.
#[derive(Clone, Copy)]
enum Slot {
    Bucket(usize, usize),
    Chain(u32),
}

/// A hash index over element numbers, keyed by bytes the arena holds.
#[derive(Debug, Clone)]
pub struct IdTable {
    ht: [Table; 2],
    /// Buckets of table 0 below this index have moved to table 1.
    rehash_idx: usize,
    hasher: &'static RandomState,
}

impl Default for IdTable {
    fn default() -> IdTable {
        IdTable::new()
    }
}

impl IdTable {
    /// An empty table; allocates nothing until the first insert.
    pub fn new() -> IdTable {
        IdTable { ht: [Table::empty(), Table::empty()], rehash_idx: 0, hasher: process_seed() }
    }

    /// An empty table already sized for `n` elements.
    pub fn with_capacity(n: usize) -> IdTable {
        let mut t = IdTable::new();
        t.reserve(n);
        t
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.ht[0].used + self.ht[1].used
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total buckets in both tables.
    pub fn buckets(&self) -> usize {
        self.ht[0].size() + self.ht[1].size()
    }

    /// True while elements move from table 0 to table 1.
    pub fn is_rehashing(&self) -> bool {
        self.ht[1].size() > 0
    }

    fn hash(&self, key: &[u8]) -> usize {
        self.hasher.hash_one(key) as usize
    }

    /// The first element (in table order) of `key`'s buckets for which `hit` holds,
    /// with the slot linking to it. `hit` sees each candidate id before the arena is
    /// asked for that id's chain, so it may name an id the arena no longer holds.
    fn locate<A: Chained + ?Sized>(&self, a: &A, key: &[u8], hit: impl Fn(u32) -> bool) -> Option<(usize, Slot, u32)> {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        for t in 0..2 {
            let table = &self.ht[t];
            if table.size() == 0 {
                continue;
            }
            let i = h & table.mask();
            if t == 0 && i < self.rehash_idx {
                continue;
            }
            let mut slot = Slot::Bucket(t, i);
            let mut id = table.buckets[i];
            while id != NIL {
                if hit(id) {
                    return Some((t, slot, id));
                }
                slot = Slot::Chain(id);
                id = a.chain(id);
            }
        }
        None
    }

    fn set_slot<A: Chained + ?Sized>(&mut self, a: &mut A, slot: Slot, id: u32) {
        match slot {
            Slot::Bucket(t, i) => self.ht[t].buckets[i] = id,
            Slot::Chain(p) => a.set_chain(p, id),
        }
    }

    /// The element whose key is `key`.
    pub fn find<A: Chained + ?Sized>(&self, a: &A, key: &[u8]) -> Option<u32> {
        self.locate(a, key, |id| a.key(id) == key).map(|(_, _, id)| id)
    }

    /// Adds element `id`, whose key must not be in the table yet; one rehash step first.
    pub fn insert_new<A: Chained + ?Sized>(&mut self, a: &mut A, id: u32) {
        debug_assert!(self.find(a, a.key(id)).is_none(), "IdTable::insert_new: key present");
        self.rehash_step(a);
        self.expand_if_needed();
        let h = self.hash(a.key(id));
        let table = if self.is_rehashing() { &mut self.ht[1] } else { &mut self.ht[0] };
        let i = h & table.mask();
        a.set_chain(id, table.buckets[i]);
        table.buckets[i] = id;
        table.used += 1;
    }

    /// Unlinks the element whose key is `key` and returns its id; one rehash step first.
    /// Never shrinks (see `try_shrink`).
    pub fn remove<A: Chained + ?Sized>(&mut self, a: &mut A, key: &[u8]) -> Option<u32> {
        self.rehash_step(a);
        let (t, slot, id) = self.locate(a, key, |id| a.key(id) == key)?;
        let next = a.chain(id);
        self.set_slot(a, slot, next);
        self.ht[t].used -= 1;
        Some(id)
    }

    /// Element `from` moved to `to`: `to` now holds its key and its chain link, and the
    /// arena may no longer hold `from`. Re-points the one link that named `from`.
    pub fn relocate<A: Chained + ?Sized>(&mut self, a: &mut A, from: u32, to: u32) {
        if let Some((_, slot, _)) = self.locate(a, a.key(to), |id| id == from) {
            self.set_slot(a, slot, to);
        } else {
            debug_assert!(false, "IdTable::relocate: {from} not in the table");
        }
    }

    /// Smallest power of two >= `n`, at least `MIN_SIZE` (None on overflow).
    fn size_for(n: usize) -> Option<usize> {
        if n <= MIN_SIZE {
            Some(MIN_SIZE)
        } else {
            n.checked_next_power_of_two()
        }
    }

    /// Starts a resize to hold `n` elements; refused while rehashing, below the element
    /// count, or when the size would not change.
    fn reserve(&mut self, n: usize) -> bool {
        if self.is_rehashing() || self.ht[0].used > n {
            return false;
        }
        let Some(size) = Self::size_for(n) else {
            return false;
        };
        if size == self.ht[0].size() {
            return false;
        }
        if self.ht[0].size() == 0 {
            self.ht[0] = Table::with_size(size);
        } else {
            self.ht[1] = Table::with_size(size);
            self.rehash_idx = 0;
        }
        true
    }

    fn expand_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let (size, used) = (self.ht[0].size(), self.ht[0].used);
        if size == 0 {
            self.reserve(MIN_SIZE);
        } else if (used >= size && global_resize_allowed()) || used / size > FORCE_RESIZE_RATIO {
            self.reserve(used + 1);
        }
    }

    /// Starts shrinking when fewer than 10% of the buckets would be used (Redis checks
    /// this after every sorted set deletion). True when a resize started.
    pub fn try_shrink(&mut self) -> bool {
        if self.is_rehashing() || !global_resize_allowed() {
            return false;
        }
        let size = self.buckets();
        if size > MIN_SIZE && self.len() * 100 / size < MIN_FILL_PERCENT {
            return self.reserve(self.len().max(MIN_SIZE));
        }
        false
    }

    fn rehash_step<A: Chained + ?Sized>(&mut self, a: &mut A) {
        if self.is_rehashing() {
            self.rehash_steps(a, 1);
        }
    }

    /// Moves up to `n` non-empty buckets to the new table, visiting at most `10 * n`
    /// empty ones. True while elements remain to move.
    pub fn rehash_steps<A: Chained + ?Sized>(&mut self, a: &mut A, n: usize) -> bool {
        if !self.is_rehashing() || !self.rehash_permitted() {
            return false;
        }
        let mut empty_visits = n.saturating_mul(10);
        let mut n = n;
        let mask1 = self.ht[1].mask();
        while n > 0 && self.ht[0].used != 0 {
            n -= 1;
            // used != 0 guarantees a non-empty bucket at or after rehash_idx.
            while self.ht[0].buckets[self.rehash_idx] == NIL {
                self.rehash_idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    return true;
                }
            }
            let mut id = std::mem::replace(&mut self.ht[0].buckets[self.rehash_idx], NIL);
            while id != NIL {
                let next = a.chain(id);
                let i = self.hash(a.key(id)) & mask1;
                a.set_chain(id, self.ht[1].buckets[i]);
                self.ht[1].buckets[i] = id;
                self.ht[0].used -= 1;
                self.ht[1].used += 1;
                id = next;
            }
            self.rehash_idx += 1;
        }
        if self.ht[0].used == 0 {
            self.ht[0] = std::mem::replace(&mut self.ht[1], Table::empty());
            self.rehash_idx = 0;
            return false;
        }
        true
    }

    /// Whether a rehash step may run: always, unless resizing is avoided, in which case
    /// only between tables whose sizes differ by the forced ratio or more.
    fn rehash_permitted(&self) -> bool {
        if global_resize_allowed() {
            return true;
        }
        let (s0, s1) = (self.ht[0].size(), self.ht[1].size());
        s0.max(s1) / s0.min(s1).max(1) >= FORCE_RESIZE_RATIO
    }

    /// One step of a stateless scan, as `Dict::scan`: start with cursor 0, continue with
    /// each returned cursor until 0. Every element present throughout is seen at least
    /// once, across resizes.
    pub fn scan<A: Chained + ?Sized>(&self, a: &A, cursor: u64, mut f: impl FnMut(u32)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut emit = |mut id: u32| {
            while id != NIL {
                f(id);
                id = a.chain(id);
            }
        };
        let mut v = cursor;
        if !self.is_rehashing() {
            let m0 = self.ht[0].mask() as u64;
            emit(self.ht[0].buckets[(v & m0) as usize]);
            return next_cursor(v, m0);
        }
        // The smaller table's bucket, then every bucket of the larger one it expands to.
        let (small, large) = if self.ht[0].size() <= self.ht[1].size() {
            (&self.ht[0], &self.ht[1])
        } else {
            (&self.ht[1], &self.ht[0])
        };
        let (m0, m1) = (small.mask() as u64, large.mask() as u64);
        emit(small.buckets[(v & m0) as usize]);
        loop {
            emit(large.buckets[(v & m1) as usize]);
            v = next_cursor(v, m1);
            if v & (m0 ^ m1) == 0 {
                return v;
            }
        }
    }

    /// The `DEBUG HTSTATS` text: the main table, and the rehash target while rehashing.
    pub fn stats<A: Chained + ?Sized>(&self, a: &A) -> String {
        let mut out = String::new();
        let tables = if self.is_rehashing() { 2 } else { 1 };
        for (idx, t) in self.ht.iter().enumerate().take(tables) {
            let chains = t.buckets.iter().map(|&head| {
                let (mut len, mut id) = (0, head);
                while id != NIL {
                    len += 1;
                    id = a.chain(id);
                }
                len
            });
            write_table_stats(&mut out, idx, t.size(), t.used, chains);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;
    use std::collections::HashMap;

    /// Keys in a vector, ids are positions; removal swaps the last element into the hole,
    /// as the skiplist arena does.
    #[derive(Default)]
    struct Vecs {
        keys: Vec<Vec<u8>>,
        chains: Vec<u32>,
    }

    impl Chained for Vecs {
        fn key(&self, id: u32) -> &[u8] {
            &self.keys[id as usize]
        }
        fn chain(&self, id: u32) -> u32 {
            self.chains[id as usize]
        }
        fn set_chain(&mut self, id: u32, next: u32) {
            self.chains[id as usize] = next;
        }
    }

    fn check(t: &IdTable, a: &Vecs) {
        assert_eq!(t.len(), a.keys.len());
        for (id, k) in a.keys.iter().enumerate() {
            assert_eq!(t.find(a, k), Some(id as u32));
        }
    }

    #[test]
    fn matches_a_map_through_inserts_removes_relocations_and_resizes() {
        let mut rng = Rng::with_seed(7);
        let mut t = IdTable::new();
        let mut a = Vecs::default();
        let mut model: HashMap<Vec<u8>, ()> = HashMap::new();
        for step in 0..20_000 {
            let k = format!("k{}", rng.below(if step < 10_000 { 3000 } else { 300 })).into_bytes();
            if rng.below(3) > 0 && step < 12_000 {
                if model.insert(k.clone(), ()).is_none() {
                    a.keys.push(k);
                    a.chains.push(NIL);
                    let id = (a.keys.len() - 1) as u32;
                    t.insert_new(&mut a, id);
                }
            } else if model.remove(&k).is_some() {
                let id = t.remove(&mut a, &k).expect("present");
                assert_eq!(a.keys[id as usize], k);
                let last = (a.keys.len() - 1) as u32;
                a.keys.swap_remove(id as usize);
                a.chains.swap_remove(id as usize);
                if id != last {
                    t.relocate(&mut a, last, id);
                }
                t.try_shrink();
            } else {
                assert_eq!(t.find(&a, &k), None);
                assert_eq!(t.remove(&mut a, &k), None);
            }
            if step % 1000 == 0 {
                check(&t, &a);
            }
        }
        check(&t, &a);
        assert!(t.buckets() < 4096, "shrank: {}", t.buckets());
        assert!(t.stats(&a).starts_with("Hash table 0 stats (main hash table):"));
    }

    #[test]
    fn scan_sees_every_element_across_a_resize() {
        let mut t = IdTable::new();
        let mut a = Vecs::default();
        let add = |t: &mut IdTable, a: &mut Vecs, i: usize| {
            a.keys.push(format!("m{i}").into_bytes());
            a.chains.push(NIL);
            let id = (a.keys.len() - 1) as u32;
            t.insert_new(a, id);
        };
        for i in 0..500 {
            add(&mut t, &mut a, i);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut i = 500;
        loop {
            cursor = t.scan(&a, cursor, |id| {
                seen.insert(a.keys[id as usize].clone());
            });
            // Grow the table (through two doublings) while the scan runs.
            if i < 2500 {
                for _ in 0..20 {
                    add(&mut t, &mut a, i);
                    i += 1;
                }
            }
            if cursor == 0 {
                break;
            }
        }
        assert!((0..500).all(|i| seen.contains(format!("m{i}").as_bytes())));
    }
}
