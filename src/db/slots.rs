//! The per-slot index of db 0: which keys live in each of the 16384 hash slots, for a
//! node in cluster mode.
//!
//! Owns the index and the bookkeeping that keeps it equal to db 0's table on every path
//! a key enters or leaves it (insert, overwrite, delete, expiry, eviction, flush, SWAPDB,
//! loading). It does not decide which slots this node serves, never propagates or
//! notifies (callers of [`Keyspace::take_keys_in_slot`] do), and is absent outside
//! cluster mode, where it costs one untaken branch per insert and delete.
//!
//! Mirrors the role of Redis 7.0's `slotToKeys` (a count and a list per slot, threaded
//! through the dict entries), which serves CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT, the
//! removal of the keys of a slot lost to another node, and resharding, without scanning
//! the keyspace. Safe Rust cannot link table nodes by pointer, so the links live in a
//! dense arena of 16-byte members instead: each member holds its key's table hash (50
//! bits, enough to find the key's chain in any table), its slot (14 bits) and the
//! previous and next member of that slot. A key's member number sits in its `Obj`
//! (`slot_ref`, in what was padding), so the table nodes do not grow. A member is found
//! from its key through `slot_ref`, and a key from its member by walking the one chain
//! its hash selects and matching `slot_ref`. Deleting a member moves the last member into
//! its place (keeping the arena dense, so memory follows the key count) and re-points
//! that member's key and neighbours.

use super::dict::{Dict, Entry};
use super::{Keyspace, Obj};
use crate::cluster::slot::{key_hash_slot, SLOTS};
use crate::types::arena::ChunkArena;
use crate::types::sds::Sds;

/// `Obj::slot_ref` of an object that is in no index (every db but 0, or no cluster).
pub const UNINDEXED: u32 = u32::MAX;
/// "No member": the end of a slot's list, or an empty slot's head.
const NIL: u32 = u32::MAX;
/// Bits of the table hash kept per member: tables never reach 2^50 buckets.
const HASH_BITS: u32 = 50;
const HASH_MASK: u64 = (1 << HASH_BITS) - 1;

/// One key of db 0 in its slot's list.
#[derive(Debug, Clone, Copy)]
struct Member {
    /// The key's table hash (low 50 bits) and its slot (high 14 bits).
    tag: u64,
    /// Neighbours in the slot's list, or `NIL`.
    prev: u32,
    next: u32,
}

impl Member {
    #[inline]
    fn hash(&self) -> u64 {
        self.tag & HASH_MASK
    }

    #[inline]
    fn slot(&self) -> usize {
        (self.tag >> HASH_BITS) as usize
    }
}

/// Db 0's keys grouped by hash slot: a count and a list of members per slot.
///
/// Every key of db 0 has exactly one member, named by its `Obj::slot_ref`. A slot's list
/// keeps the newest key first and does not reorder while the slot is unchanged.
pub struct SlotIndex {
    /// First member of each slot's list, or `NIL`.
    heads: Box<[u32]>,
    /// Keys per slot.
    counts: Box<[u32]>,
    members: ChunkArena<Member>,
}

impl std::fmt::Debug for SlotIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotIndex").field("keys", &self.members.len()).finish_non_exhaustive()
    }
}

impl SlotIndex {
    fn new() -> SlotIndex {
        SlotIndex {
            heads: vec![NIL; SLOTS].into_boxed_slice(),
            counts: vec![0; SLOTS].into_boxed_slice(),
            members: ChunkArena::new(),
        }
    }

    /// Adds a member at the head of `slot`'s list; returns its number.
    fn link(&mut self, hash: u64, slot: u16) -> u32 {
        let s = slot as usize;
        let next = self.heads[s];
        let id = self.members.push(Member { tag: (hash & HASH_MASK) | (slot as u64) << HASH_BITS, prev: NIL, next });
        if next != NIL {
            self.members.get_mut(next).prev = id;
        }
        self.heads[s] = id;
        self.counts[s] += 1;
        id
    }

    /// Removes member `id`, whose key has already left `dict`, and re-points the key of
    /// the member moved into its number.
    fn unlink(&mut self, dict: &mut Dict<Sds, Obj>, id: u32) {
        if id as usize >= self.members.len() {
            debug_assert!(false, "slot index: member {id} of a removed key does not exist");
            return;
        }
        let m = *self.members.get(id);
        let slot = m.slot();
        if m.prev == NIL {
            self.heads[slot] = m.next;
        } else {
            self.members.get_mut(m.prev).next = m.next;
        }
        if m.next != NIL {
            self.members.get_mut(m.next).prev = m.prev;
        }
        self.counts[slot] -= 1;
        // The arena stays dense: the last member takes the freed number.
        let last = (self.members.len() - 1) as u32;
        self.members.swap_remove(id);
        if id == last {
            return;
        }
        let moved = *self.members.get(id);
        if moved.prev == NIL {
            self.heads[moved.slot()] = id;
        } else {
            self.members.get_mut(moved.prev).next = id;
        }
        if moved.next != NIL {
            self.members.get_mut(moved.next).prev = id;
        }
        match dict.find_by_hash_mut(moved.hash(), |_, o| o.slot_ref == last) {
            Some(o) => o.slot_ref = id,
            None => debug_assert!(false, "slot index: no key holds member {last}"),
        }
    }

    /// Forgets every key (the table was emptied).
    fn clear(&mut self) {
        self.heads.fill(NIL);
        self.counts.fill(0);
        self.members = ChunkArena::new();
    }

    /// Indexes every key of `dict` from scratch.
    fn rebuild(&mut self, dict: &mut Dict<Sds, Obj>) {
        self.clear();
        // `iter` and `iter_mut` walk the table in the same order.
        let found: Vec<(u64, u16)> = dict.iter().map(|(k, _)| (dict.hash_key(k), key_hash_slot(k))).collect();
        for ((_, o), (hash, slot)) in dict.iter_mut().zip(found) {
            o.slot_ref = self.link(hash, slot);
        }
    }

    /// Members of `slot`, list order.
    fn members_of(&self, slot: u16) -> impl Iterator<Item = (u32, Member)> + '_ {
        let mut cur = self.heads[slot as usize];
        std::iter::from_fn(move || {
            if cur == NIL {
                return None;
            }
            let (id, m) = (cur, *self.members.get(cur));
            cur = m.next;
            Some((id, m))
        })
    }

    /// Bytes the index allocates: two 64 KiB per-slot arrays and 16 bytes per key.
    pub fn allocated_bytes(&self) -> usize {
        (self.heads.len() + self.counts.len()) * std::mem::size_of::<u32>() + self.members.allocated_bytes()
    }

    /// Checks every invariant against `dict` (db 0's table); the first violation found.
    #[cfg(test)]
    fn check(&self, dict: &Dict<Sds, Obj>) -> Result<(), String> {
        let n = self.members.len();
        if dict.len() != n {
            return Err(format!("{} keys, {n} members", dict.len()));
        }
        let mut owner = vec![false; n];
        for (k, o) in dict.iter() {
            let id = o.slot_ref;
            if id as usize >= n || std::mem::replace(&mut owner[id as usize], true) {
                return Err(format!("key {k:?}: bad or shared member {id}"));
            }
            let m = self.members.get(id);
            if m.hash() != dict.hash_key(k) & HASH_MASK || m.slot() != key_hash_slot(k) as usize {
                return Err(format!("key {k:?}: member {id} has a wrong tag"));
            }
        }
        let mut total = 0;
        for slot in 0..SLOTS {
            let (mut prev, mut count) = (NIL, 0u32);
            for (id, m) in self.members_of(slot as u16) {
                if m.prev != prev || m.slot() != slot {
                    return Err(format!("slot {slot}: member {id} badly linked"));
                }
                prev = id;
                count += 1;
                if count as usize > n {
                    return Err(format!("slot {slot}: list loops"));
                }
            }
            if count != self.counts[slot] {
                return Err(format!("slot {slot}: count {} but {count} listed", self.counts[slot]));
            }
            total += count as usize;
        }
        if total != n {
            return Err(format!("{total} listed of {n}"));
        }
        Ok(())
    }
}

/// Inserts or replaces `key` in `dict`, keeping `index` (db 0's, when on) in step: a new
/// key gets a member, an overwritten one keeps its own. Returns the replaced object.
#[inline]
pub(crate) fn insert(dict: &mut Dict<Sds, Obj>, index: Option<&mut SlotIndex>, key: Sds, mut obj: Obj) -> Option<Obj> {
    let Some(index) = index else { return dict.insert(key, obj) };
    let hash = dict.hash_key(&key);
    match dict.entry_hashed(&key, hash) {
        Entry::Occupied(mut o) => {
            obj.slot_ref = o.get().slot_ref;
            Some(o.insert(obj))
        }
        Entry::Vacant(v) => {
            obj.slot_ref = index.link(hash, key_hash_slot(&key));
            v.insert(key, obj);
            None
        }
    }
}

impl Keyspace {
    /// Starts indexing db 0 by hash slot (cluster mode). Meant for start-up, before any
    /// key is loaded, but correct at any time: keys already present are indexed (a scan).
    /// Calling it again does nothing. From then on every path that adds or removes a key
    /// of db 0 keeps the index, at 16 bytes per key plus 128 KiB.
    pub fn enable_slot_index(&mut self) {
        if self.slot_index.is_none() {
            self.slot_index = Some(Box::new(SlotIndex::new()));
            self.slot_index_rebuild();
        }
    }

    /// True once [`Keyspace::enable_slot_index`] ran.
    pub fn slot_index_enabled(&self) -> bool {
        self.slot_index.is_some()
    }

    /// Bytes held by the index (0 when off), for memory reports.
    pub fn slot_index_bytes(&self) -> usize {
        self.slot_index.as_ref().map_or(0, |ix| ix.allocated_bytes())
    }

    /// Removes `key` from `db`'s table (not its TTL), keeping the index.
    #[inline]
    pub(super) fn dict_remove(&mut self, db: usize, key: &[u8]) -> Option<(Sds, Obj)> {
        let removed = self.dbs[db].dict.remove(key)?;
        if db == 0 {
            if let Some(index) = self.slot_index.as_deref_mut() {
                index.unlink(&mut self.dbs[0].dict, removed.1.slot_ref);
            }
        }
        Some(removed)
    }

    /// Db `db` was emptied: its keys leave the index too.
    pub(super) fn slot_index_flushed(&mut self, db: usize) {
        if db == 0 {
            if let Some(index) = self.slot_index.as_deref_mut() {
                index.clear();
            }
        }
    }

    /// Db 0's table was replaced wholesale (SWAPDB): index it again.
    pub(crate) fn slot_index_rebuild(&mut self) {
        if let Some(index) = self.slot_index.as_deref_mut() {
            index.rebuild(&mut self.dbs[0].dict);
        }
    }

    /// Number of keys of db 0 in `slot` (CLUSTER COUNTKEYSINSLOT), keys expired but not
    /// yet collected included, as Redis counts them. `slot` must be below 16384 (the
    /// caller validates user input); without the index this is a scan of db 0.
    pub fn count_keys_in_slot(&self, slot: u16) -> u64 {
        match &self.slot_index {
            Some(index) => index.counts[slot as usize] as u64,
            None => self.dbs[0].dict.iter().filter(|(k, _)| key_hash_slot(k) == slot).count() as u64,
        }
    }

    /// True when db 0 holds no key in `slot`.
    pub fn slot_is_empty(&self, slot: u16) -> bool {
        self.count_keys_in_slot(slot) == 0
    }

    /// Up to `max` keys of db 0 in `slot` (CLUSTER GETKEYSINSLOT, resharding), newest
    /// first; the same keys in the same order on every call while the slot is unchanged.
    /// Without the index this is a scan of db 0, in table order.
    pub fn keys_in_slot(&self, slot: u16, max: usize) -> Vec<Sds> {
        let dict = &self.dbs[0].dict;
        let Some(index) = &self.slot_index else {
            return dict.iter().filter(|(k, _)| key_hash_slot(k) == slot).take(max).map(|(k, _)| k.clone()).collect();
        };
        let mut keys = Vec::with_capacity(max.min(index.counts[slot as usize] as usize));
        for (id, m) in index.members_of(slot).take(max) {
            match dict.find_by_hash(m.hash(), |_, o| o.slot_ref == id) {
                Some((k, _)) => keys.push(k.clone()),
                None => debug_assert!(false, "slot index: no key holds member {id}"),
            }
        }
        keys
    }

    /// The slots in which db 0 holds at least one key, ascending (at start-up: does this
    /// node hold keys in slots it does not serve?).
    pub fn slots_with_keys(&self) -> Vec<u16> {
        let scanned;
        let counts: &[u32] = match &self.slot_index {
            Some(index) => &index.counts,
            None => {
                let mut c = vec![0u32; SLOTS];
                for (k, _) in self.dbs[0].dict.iter() {
                    c[key_hash_slot(k) as usize] = 1;
                }
                scanned = c;
                &scanned
            }
        };
        (0..SLOTS as u16).filter(|&s| counts[s as usize] != 0).collect()
    }

    /// Deletes every key of db 0 in `slot` (a slot now served by another node) with their
    /// TTLs, freeing values as `lazyfree-lazy-server-del` says, and returns their names.
    /// Counts no write and queues no event: the caller propagates a DEL per key, notifies
    /// `del`, and signals the keys as modified, as Redis's `delKeysInSlot` does.
    pub fn take_keys_in_slot(&mut self, slot: u16) -> Vec<Sds> {
        let keys = self.keys_in_slot(slot, usize::MAX);
        for k in &keys {
            if let Some(o) = self.unlink_entry(0, k) {
                self.lazyfree.dispose(o.value, self.lazyfree.lazy_server_del);
            }
        }
        keys
    }

    /// [`Keyspace::take_keys_in_slot`] for a caller that needs only how many went.
    pub fn delete_keys_in_slot(&mut self, slot: u16) -> usize {
        self.take_keys_in_slot(slot).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::value::{Str, Value};
    use crate::util::rand::Rng;
    use std::collections::{HashMap, HashSet};

    fn sv(s: &[u8]) -> Value {
        Value::Str(Str::from_bytes(s))
    }

    fn indexed() -> Keyspace {
        let mut ks = Keyspace::new(2);
        ks.now_ms = 1_000;
        ks.enable_slot_index();
        ks
    }

    fn check(ks: &Keyspace) {
        if let Err(e) = ks.slot_index.as_ref().expect("index on").check(&ks.dbs[0].dict) {
            panic!("slot index broken: {e}");
        }
    }

    fn slot_of(k: &str) -> u16 {
        key_hash_slot(k.as_bytes())
    }

    fn names(keys: &[Sds]) -> Vec<String> {
        keys.iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect()
    }

    #[test]
    fn obj_keeps_its_size() {
        assert_eq!(std::mem::size_of::<Obj>(), 32);
        assert_eq!(std::mem::size_of::<Member>(), 16);
    }

    #[test]
    fn inserts_overwrites_and_deletes() {
        let mut ks = indexed();
        let s = slot_of("{u}");
        for k in ["{u}a", "{u}b", "{u}c", "other"] {
            ks.set(0, k.as_bytes(), sv(b"v"), false);
        }
        check(&ks);
        assert_eq!(ks.count_keys_in_slot(s), 3);
        assert_eq!(names(&ks.keys_in_slot(s, 10)), ["{u}c", "{u}b", "{u}a"]);
        assert_eq!(names(&ks.keys_in_slot(s, 2)), ["{u}c", "{u}b"]);
        // An overwrite keeps the key's place and count.
        ks.set(0, b"{u}b", sv(b"w"), false);
        assert_eq!(names(&ks.keys_in_slot(s, 10)), ["{u}c", "{u}b", "{u}a"]);
        assert_eq!(ks.count_keys_in_slot(s), 3);
        assert!(ks.delete(0, b"{u}b"));
        assert!(!ks.delete(0, b"{u}b"));
        check(&ks);
        assert_eq!(names(&ks.keys_in_slot(s, 10)), ["{u}c", "{u}a"]);
        assert!(ks.unlink_entry(0, b"{u}c").is_some());
        assert!(ks.delete_with(0, b"{u}a", true));
        check(&ks);
        assert!(ks.slot_is_empty(s));
        assert_eq!(ks.slots_with_keys(), vec![slot_of("other")]);
        // Other dbs are not indexed.
        ks.set(1, b"{u}x", sv(b"v"), false);
        assert!(ks.slot_is_empty(s));
        check(&ks);
    }

    #[test]
    fn lazy_and_active_expiry_leave_the_index() {
        let mut ks = indexed();
        ks.now_ms = 0;
        for i in 0..200 {
            let k = format!("{{t}}{i}");
            ks.set(0, k.as_bytes(), sv(b"v"), false);
            if i % 2 == 0 {
                ks.set_expire(0, k.as_bytes(), 10);
            }
        }
        let s = slot_of("{t}");
        assert_eq!(ks.count_keys_in_slot(s), 200);
        ks.now_ms = 20;
        assert!(ks.get(0, b"{t}0").is_none());
        assert_eq!(ks.count_keys_in_slot(s), 199);
        check(&ks);
        for _ in 0..500 {
            ks.active_expire_cycle(1_000_000, 1);
        }
        check(&ks);
        assert_eq!(ks.count_keys_in_slot(s), ks.db_size(0) as u64);
        assert!(ks.db_size(0) < 150);
    }

    #[test]
    fn flushes_empty_the_index() {
        for asynchronous in [false, true] {
            let mut ks = indexed();
            for i in 0..100 {
                ks.set(0, format!("k{i}").as_bytes(), sv(b"v"), false);
            }
            assert_eq!(ks.slots_with_keys().len(), 100);
            if asynchronous {
                ks.flush_db_async(0);
            } else {
                ks.flush_db(0);
            }
            check(&ks);
            assert!(ks.slots_with_keys().is_empty());
            ks.set(0, b"k1", sv(b"v"), false);
            check(&ks);
            assert_eq!(ks.count_keys_in_slot(slot_of("k1")), 1);
        }
    }

    #[test]
    fn rename_swapdb_load_and_late_enable() {
        let mut ks = Keyspace::new(2);
        for i in 0..50 {
            ks.set(0, format!("{{a}}{i}").as_bytes(), sv(b"v"), false);
            ks.set(1, format!("{{b}}{i}").as_bytes(), sv(b"v"), false);
        }
        // Turned on late, it indexes what is there.
        ks.enable_slot_index();
        check(&ks);
        assert_eq!(ks.count_keys_in_slot(slot_of("{a}")), 50);
        // RENAME: take then set.
        let (v, ttl) = ks.take(0, b"{a}7").expect("present");
        ks.set(0, b"{b}renamed", v, false);
        assert!(ttl.is_none());
        check(&ks);
        assert_eq!(ks.count_keys_in_slot(slot_of("{a}")), 49);
        assert_eq!(ks.count_keys_in_slot(slot_of("{b}")), 1);
        ks.swap_dbs(0, 1);
        check(&ks);
        assert_eq!(ks.count_keys_in_slot(slot_of("{b}")), 50);
        assert_eq!(ks.count_keys_in_slot(slot_of("{a}")), 0);
        // Loader path: new keys and a replacement.
        assert!(ks.insert_obj(0, Sds::from("{a}x"), Obj::new(sv(b"v"), 0)).is_none());
        assert!(ks.insert_obj(0, Sds::from("{a}x"), Obj::new(sv(b"w"), 0)).is_some());
        assert!(ks.insert_obj(1, Sds::from("{a}y"), Obj::new(sv(b"v"), 0)).is_none());
        check(&ks);
        assert_eq!(ks.count_keys_in_slot(slot_of("{a}")), 1);
    }

    #[test]
    fn take_keys_in_slot_deletes_exactly_that_slot() {
        let mut ks = indexed();
        for i in 0..300 {
            ks.set(0, format!("{{s{}}}{i}", i % 3).as_bytes(), sv(b"v"), false);
            ks.set_expire(0, format!("{{s{}}}{i}", i % 3).as_bytes(), 1_000_000);
        }
        let s1 = slot_of("{s1}");
        let listed = ks.keys_in_slot(s1, usize::MAX);
        assert_eq!(listed, ks.keys_in_slot(s1, usize::MAX), "stable order");
        let taken = ks.take_keys_in_slot(s1);
        assert_eq!(taken, listed);
        assert_eq!(taken.len(), 100);
        check(&ks);
        assert!(ks.slot_is_empty(s1));
        assert_eq!(ks.db_size(0), 200);
        assert_eq!(ks.dbs[0].expires.len(), 200);
        assert_eq!(ks.delete_keys_in_slot(slot_of("{s0}")), 100);
        assert_eq!(ks.delete_keys_in_slot(s1), 0);
        check(&ks);
    }

    #[test]
    fn without_the_index_answers_come_from_a_scan() {
        let mut ks = Keyspace::new(1);
        for i in 0..40 {
            ks.set(0, format!("{{z}}{i}").as_bytes(), sv(b"v"), false);
        }
        assert!(!ks.slot_index_enabled());
        assert_eq!(ks.slot_index_bytes(), 0);
        let s = slot_of("{z}");
        assert_eq!(ks.count_keys_in_slot(s), 40);
        assert_eq!(ks.keys_in_slot(s, 5).len(), 5);
        assert_eq!(ks.slots_with_keys(), vec![s]);
        assert_eq!(ks.take_keys_in_slot(s).len(), 40);
        assert_eq!(ks.db_size(0), 0);
    }

    #[test]
    #[ignore = "benchmark: cargo test --release --lib db::slots -- --ignored --nocapture"]
    fn bench_set_and_delete_1m_with_and_without_the_index() {
        let n = 1_000_000u64;
        let keys: Vec<Vec<u8>> = (0..n).map(|i| format!("key:{i:012}").into_bytes()).collect();
        for round in 0..3 {
            for on in [false, true] {
                let mut ks = Keyspace::new(1);
                if on {
                    ks.enable_slot_index();
                }
                let t = std::time::Instant::now();
                for k in &keys {
                    ks.set(0, k, sv(b"v"), false);
                }
                let set = t.elapsed();
                let t = std::time::Instant::now();
                for k in &keys {
                    ks.set(0, k, sv(b"w"), false);
                }
                let overwrite = t.elapsed();
                let bytes = ks.slot_index_bytes();
                let t = std::time::Instant::now();
                for k in &keys {
                    ks.delete(0, k);
                }
                let del = t.elapsed();
                let per = |d: std::time::Duration| d.as_nanos() as f64 / n as f64;
                println!(
                    "round {round} index {on}: set {:.0} ns, overwrite {:.0} ns, delete {:.0} ns; index {:.1} bytes/key",
                    per(set),
                    per(overwrite),
                    per(del),
                    bytes as f64 / n as f64
                );
            }
        }
    }

    /// The naive model: the keys of db 0 by slot, and their expire times.
    #[derive(Default)]
    struct Model {
        by_slot: HashMap<u16, HashSet<Vec<u8>>>,
        ttl: HashMap<Vec<u8>, i64>,
    }

    impl Model {
        fn add(&mut self, k: &[u8]) {
            self.by_slot.entry(key_hash_slot(k)).or_default().insert(k.to_vec());
        }
        fn remove(&mut self, k: &[u8]) -> bool {
            self.ttl.remove(k);
            self.by_slot.get_mut(&key_hash_slot(k)).is_some_and(|s| s.remove(k))
        }
        fn has(&self, k: &[u8]) -> bool {
            self.by_slot.get(&key_hash_slot(k)).is_some_and(|s| s.contains(k))
        }
        fn live(&self, k: &[u8], now: i64) -> bool {
            self.has(k) && self.ttl.get(k).is_none_or(|&at| at > now)
        }
        fn len(&self) -> usize {
            self.by_slot.values().map(|s| s.len()).sum()
        }
    }

    /// Thousands of random operations on every path a key takes into or out of db 0,
    /// with the table growing, shrinking and pausing its rehash, compared with the model.
    #[test]
    fn matches_a_naive_model_under_random_operations() {
        for seed in 1..=6u64 {
            let mut rng = Rng::with_seed(seed);
            let mut ks = indexed();
            ks.now_ms = 0;
            let mut model = Model::default();
            let mut steps_mid_rehash = 0;
            // Keys spread over ~60 tagged slots plus untagged ones, so lists get long.
            let key = |rng: &mut Rng| -> Vec<u8> {
                let n = rng.below(4000);
                if n % 4 == 0 {
                    format!("plain:{n}").into_bytes()
                } else {
                    format!("{{tag{}}}:{n}", n % 60).into_bytes()
                }
            };
            for step in 0..12_000u32 {
                let k = key(&mut rng);
                let now = ks.now_ms;
                match rng.below(100) {
                    0..=39 => {
                        let keep_ttl = rng.below(2) == 0;
                        ks.set(0, &k, sv(b"v"), keep_ttl);
                        if !model.live(&k, now) {
                            model.remove(&k);
                        }
                        if !keep_ttl {
                            model.ttl.remove(&k);
                        }
                        model.add(&k);
                        assert_eq!(ks.expire_at(0, &k), model.ttl.get(&k).copied());
                    }
                    40..=49 => {
                        let existed = model.live(&k, now);
                        let had = model.has(&k);
                        assert_eq!(ks.delete_with(0, &k, rng.below(2) == 0), existed);
                        if had {
                            model.remove(&k);
                        }
                    }
                    50..=53 => {
                        // Eviction: no expiry check.
                        assert_eq!(ks.unlink_entry(0, &k).is_some(), model.remove(&k));
                    }
                    54..=63 => {
                        if ks.exists(0, &k) {
                            let at = now + rng.below(50) as i64;
                            ks.set_expire(0, &k, at);
                            model.ttl.insert(k.clone(), at);
                        } else if model.has(&k) {
                            model.remove(&k);
                        }
                    }
                    64..=71 => {
                        // Lazy expiry through reads.
                        let live = model.live(&k, now);
                        assert_eq!(ks.get(0, &k).is_some(), live);
                        if !live {
                            model.remove(&k);
                        }
                    }
                    72..=75 => {
                        // RENAME k -> k2 (possibly into another slot).
                        let k2 = key(&mut rng);
                        if model.live(&k, now) && k != k2 {
                            let (v, ttl) = ks.take(0, &k).expect("live key");
                            model.remove(&k);
                            ks.delete(0, &k2);
                            model.remove(&k2);
                            ks.set(0, &k2, v, false);
                            model.add(&k2);
                            if let Some(at) = ttl {
                                ks.set_expire(0, &k2, at);
                                model.ttl.insert(k2.clone(), at);
                            }
                        }
                    }
                    76..=79 => {
                        // Loader path (RESTORE REPLACE / RDB with duplicates allowed).
                        let old = ks.insert_obj(0, Sds::from(&k[..]), Obj::new(sv(b"l"), 0));
                        assert_eq!(old.is_some(), model.has(&k));
                        ks.persist(0, &k);
                        model.ttl.remove(&k);
                        model.add(&k);
                    }
                    80..=84 => ks.now_ms += rng.below(20) as i64,
                    85..=87 => {
                        ks.active_expire_cycle(1_000_000, 1);
                        // Sampling is random: whatever it removed must have been due.
                        let gone: Vec<Vec<u8>> = model
                            .by_slot
                            .values()
                            .flatten()
                            .filter(|k| !ks.dbs[0].dict.contains_key(k))
                            .cloned()
                            .collect();
                        for k in gone {
                            assert!(!model.live(&k, ks.now_ms), "active expiry removed a live key");
                            model.remove(&k);
                        }
                    }
                    88..=89 => {
                        ks.dbs[0].dict.try_shrink();
                        let allowed = rng.below(3) != 0;
                        ks.dbs[0].dict.set_resize_allowed(allowed);
                    }
                    90..=91 => {
                        ks.dbs[0].dict.rehash_steps(rng.below(20) as usize);
                    }
                    92 => {
                        let slot = key_hash_slot(&k);
                        let taken = ks.take_keys_in_slot(slot);
                        let expect = model.by_slot.remove(&slot).unwrap_or_default();
                        let got: HashSet<Vec<u8>> = taken.iter().map(|k| k.to_vec()).collect();
                        assert_eq!(got, expect);
                        for k in got {
                            model.ttl.remove(&k);
                        }
                    }
                    93 => {
                        // SWAPDB 0 1 twice: db 0 comes back, rebuilt twice.
                        let other = ks.db_size(1);
                        ks.swap_dbs(0, 1);
                        assert_eq!(ks.db_size(0), other);
                        check(&ks);
                        ks.swap_dbs(1, 0);
                    }
                    94 if rng.below(10) == 0 => {
                        if rng.below(2) == 0 {
                            ks.flush_db(0);
                        } else {
                            ks.flush_db_async(0);
                        }
                        model = Model::default();
                    }
                    95..=97 => {
                        // Other dbs never touch the index.
                        ks.set(1, &k, sv(b"v"), false);
                        ks.delete(1, &key(&mut rng));
                    }
                    _ => {}
                }
                if step % 1000 == 999 {
                    // Let a parked rehash go on.
                    ks.dbs[0].dict.set_resize_allowed(true);
                }
                steps_mid_rehash += ks.dbs[0].dict.is_rehashing() as u32;
                // Compare the slot this step touched, and everything now and then.
                let slot = key_hash_slot(&k);
                let want = model.by_slot.get(&slot).map_or(0, |s| s.len());
                assert_eq!(ks.count_keys_in_slot(slot), want as u64, "seed {seed} step {step}");
                assert_eq!(ks.db_size(0), model.len(), "seed {seed} step {step}");
                if step % 500 == 0 {
                    check(&ks);
                    let mut slots: Vec<u16> =
                        model.by_slot.iter().filter(|(_, s)| !s.is_empty()).map(|(&s, _)| s).collect();
                    slots.sort_unstable();
                    assert_eq!(ks.slots_with_keys(), slots);
                    for (&slot, keys) in &model.by_slot {
                        let listed = ks.keys_in_slot(slot, usize::MAX);
                        let got: HashSet<Vec<u8>> = listed.iter().map(|k| k.to_vec()).collect();
                        assert_eq!(&got, keys, "seed {seed} step {step} slot {slot}");
                        assert_eq!(got.len(), listed.len(), "a key listed twice");
                        assert_eq!(ks.keys_in_slot(slot, usize::MAX), listed, "order changed");
                    }
                }
            }
            check(&ks);
            assert!(steps_mid_rehash > 200, "seed {seed}: only {steps_mid_rehash} steps saw a rehash");
        }
    }
}
