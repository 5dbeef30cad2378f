//! `PairTable`: the `hashtable` encoding of a large hash, a field -> value map whose
//! pairs are packed one per arena slot and indexed by a chained hash table of slot
//! numbers.
//!
//! Owns the pairs of one large hash: lookup, insert, update, delete, iteration, uniform
//! random picks and the SCAN cursor. It knows nothing about encodings, limits or
//! commands (that is `types::hash`). Mirrors Redis's `dict` of two sds strings as t_hash.c
//! uses it: power-of-two tables with separate chaining, incremental rehash, shrinking
//! below 10% fill and the reverse-binary SCAN cursor (all from `IdTable`), so HSCAN keeps
//! SCAN's guarantees: every field present for the whole scan is returned at least once.
//!
//! Layout, chosen to cost far less than Redis's dictEntry + two sds allocations: each
//! pair is one 32-byte slot of a `ChunkArena` holding its hash chain link (a `u32`) and
//! either the field and value themselves, packed behind a one-byte field length when
//! both together fit in [`INLINE_CAP`] bytes, or one exact-size heap buffer holding a
//! varint field length, the field and the value. Buckets are `u32` slot numbers. The
//! arena stays dense: deleting a pair moves the last pair into its slot and re-points
//! the one link that named it, so memory follows the hash's size down as well as up.

use crate::types::arena::ChunkArena;
use crate::types::idtable::{Chained, IdTable, NIL};

/// Most bytes of field-length byte + field + value stored inside a slot.
pub const INLINE_CAP: usize = 27;

/// The used length of an inline slot's buffer. A fieldless enum rather than a `u8` so the
/// values 28..=255 are invalid: the compiler keeps the slot's variant in them, which
/// holds a whole slot at 32 bytes.
#[rustfmt::skip]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum PackedLen {
    L0, L1, L2, L3, L4, L5, L6, L7, L8, L9, L10, L11, L12, L13,
    L14, L15, L16, L17, L18, L19, L20, L21, L22, L23, L24, L25, L26, L27,
}

use PackedLen::*;

/// `PACKED_LENS[n]` is the tag for length `n` (a table instead of an unsafe transmute).
#[rustfmt::skip]
const PACKED_LENS: [PackedLen; INLINE_CAP + 1] = [
    L0, L1, L2, L3, L4, L5, L6, L7, L8, L9, L10, L11, L12, L13,
    L14, L15, L16, L17, L18, L19, L20, L21, L22, L23, L24, L25, L26, L27,
];

/// One field and its value, plus the hash chain link.
#[derive(Debug, Clone)]
enum Pair {
    /// `buf[0]` is the field length, then the field, then the value; `len` bytes used.
    Inline { chain: u32, len: PackedLen, buf: [u8; INLINE_CAP] },
    /// A varint field length, then the field, then the value.
    Heap { chain: u32, data: Box<[u8]> },
}

/// Appends `n` as a little-endian base-128 varint (high bit: more bytes follow).
fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a varint written by `put_varint`: (value, bytes it took). Only ever sees
/// buffers this module built.
#[inline]
fn get_varint(data: &[u8]) -> (usize, usize) {
    let (mut n, mut shift) = (0usize, 0u32);
    for (i, &b) in data.iter().enumerate() {
        n |= ((b & 0x7f) as usize).checked_shl(shift).unwrap_or(0);
        if b < 0x80 {
            return (n, i + 1);
        }
        shift += 7;
    }
    (n, data.len())
}

impl Pair {
    fn new(field: &[u8], value: &[u8], chain: u32) -> Pair {
        let total = 1 + field.len() + value.len();
        if let Some(&len) = PACKED_LENS.get(total) {
            let mut buf = [0u8; INLINE_CAP];
            buf[0] = field.len() as u8;
            buf[1..1 + field.len()].copy_from_slice(field);
            buf[1 + field.len()..total].copy_from_slice(value);
            return Pair::Inline { chain, len, buf };
        }
        let mut data = Vec::with_capacity(total + 8);
        put_varint(&mut data, field.len());
        data.extend_from_slice(field);
        data.extend_from_slice(value);
        Pair::Heap { chain, data: data.into_boxed_slice() }
    }

    /// The field and the value.
    #[inline]
    fn parts(&self) -> (&[u8], &[u8]) {
        match self {
            Pair::Inline { len, buf, .. } => {
                let f = 1 + buf[0] as usize;
                (&buf[1..f], &buf[f..*len as usize])
            }
            Pair::Heap { data, .. } => {
                let (n, skip) = get_varint(data);
                data[skip..].split_at(n)
            }
        }
    }

    #[inline]
    fn field(&self) -> &[u8] {
        self.parts().0
    }

    #[inline]
    fn chain(&self) -> u32 {
        match self {
            Pair::Inline { chain, .. } | Pair::Heap { chain, .. } => *chain,
        }
    }

    #[inline]
    fn set_chain(&mut self, next: u32) {
        match self {
            Pair::Inline { chain, .. } | Pair::Heap { chain, .. } => *chain = next,
        }
    }

    /// Heap bytes owned beyond the slot (0 when inline).
    fn heap_size(&self) -> usize {
        match self {
            Pair::Inline { .. } => 0,
            Pair::Heap { data, .. } => data.len(),
        }
    }
}

impl Chained for ChunkArena<Pair> {
    #[inline]
    fn key(&self, id: u32) -> &[u8] {
        self.get(id).field()
    }

    #[inline]
    fn chain(&self, id: u32) -> u32 {
        self.get(id).chain()
    }

    #[inline]
    fn set_chain(&mut self, id: u32, next: u32) {
        self.get_mut(id).set_chain(next);
    }
}

/// A map from field bytes to value bytes with Redis dict semantics (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct PairTable {
    pairs: ChunkArena<Pair>,
    index: IdTable,
    /// Sum of the pairs' heap buffers, kept so MEMORY USAGE costs O(1).
    heap_bytes: usize,
}

impl PairTable {
    /// An empty table; allocates nothing until the first insert.
    pub fn new() -> PairTable {
        PairTable::default()
    }

    /// An empty table whose index is already sized for `n` pairs.
    pub fn with_capacity(n: usize) -> PairTable {
        PairTable { pairs: ChunkArena::new(), index: IdTable::with_capacity(n), heap_bytes: 0 }
    }

    /// Number of pairs.
    #[inline]
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True when there are no pairs.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The value of `field`.
    #[inline]
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.index.find(&self.pairs, field).map(|id| self.pairs.get(id).parts().1)
    }

    /// True if `field` is present.
    pub fn contains(&self, field: &[u8]) -> bool {
        self.index.find(&self.pairs, field).is_some()
    }

    /// Sets `field` to `value`; true if the field is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        if let Some(id) = self.index.find(&self.pairs, field) {
            let slot = self.pairs.get_mut(id);
            let pair = Pair::new(field, value, slot.chain());
            self.heap_bytes = self.heap_bytes - slot.heap_size() + pair.heap_size();
            *slot = pair;
            return false;
        }
        let pair = Pair::new(field, value, NIL);
        self.heap_bytes += pair.heap_size();
        let id = self.pairs.push(pair);
        self.index.insert_new(&mut self.pairs, id);
        true
    }

    /// Removes `field`; true if it was present. Never shrinks the index (see
    /// [`PairTable::try_shrink`]); the arena gives back its slot at once.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        let Some(id) = self.index.remove(&mut self.pairs, field) else { return false };
        let last = (self.pairs.len() - 1) as u32;
        let gone = self.pairs.swap_remove(id);
        self.heap_bytes -= gone.heap_size();
        if id != last {
            self.index.relocate(&mut self.pairs, last, id);
        }
        true
    }

    /// Starts shrinking the index when under 10% of its buckets would be used (Redis
    /// checks this after every hash deletion). True when a resize started.
    pub fn try_shrink(&mut self) -> bool {
        self.index.try_shrink()
    }

    /// Every pair, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.pairs.iter().map(Pair::parts)
    }

    /// A pair picked uniformly at random; `rng` yields uniform 64-bit numbers.
    pub fn random(&self, rng: &mut impl FnMut() -> u64) -> Option<(&[u8], &[u8])> {
        if self.is_empty() {
            return None;
        }
        let id = (rng() % self.len() as u64) as u32;
        Some(self.pairs.get(id).parts())
    }

    /// One step of a stateless scan (Redis's `dictScan`): start with cursor 0 and pass
    /// each returned cursor back until it is 0. Every pair present for the whole scan is
    /// seen at least once, across resizes; some may be seen twice.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        self.index.scan(&self.pairs, cursor, |id| {
            let (k, v) = self.pairs.get(id).parts();
            f(k, v)
        })
    }

    /// The `DEBUG HTSTATS-KEY` text of the index.
    pub fn stats(&self) -> String {
        self.index.stats(&self.pairs)
    }

    /// Approximate heap bytes owned (MEMORY USAGE): slots, buckets and the pairs' own
    /// buffers.
    pub fn mem_usage(&self) -> usize {
        std::mem::size_of::<PairTable>()
            + self.pairs.allocated_bytes()
            + self.index.buckets() * std::mem::size_of::<u32>()
            + self.heap_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn a_slot_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Pair>(), 32);
    }

    #[test]
    fn varint_round_trips() {
        for n in [0usize, 1, 127, 128, 300, 16_383, 16_384, 1 << 40, usize::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, n);
            b.extend_from_slice(b"tail");
            assert_eq!(get_varint(&b), (n, b.len() - 4));
        }
    }

    #[test]
    fn varint_reader_survives_random_bytes() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize;
            let bytes: Vec<u8> =
                (0..len).map(|i| (x >> (i % 8 * 8)) as u8 | if i % 3 == 0 { 0x80 } else { 0 }).collect();
            let (_, used) = get_varint(&bytes);
            assert!(used <= bytes.len());
        }
    }

    #[test]
    fn packs_inline_up_to_the_cap_and_on_the_heap_past_it() {
        for (f, v) in [(0, 0), (0, 26), (26, 0), (13, 13), (13, 14), (27, 0), (0, 27), (200, 3), (3, 70_000)] {
            let (field, value) = (vec![b'f'; f], vec![b'v'; v]);
            let p = Pair::new(&field, &value, 7);
            assert_eq!(p.parts(), (&field[..], &value[..]));
            assert_eq!(p.chain(), 7);
            assert_eq!(matches!(p, Pair::Inline { .. }), 1 + f + v <= INLINE_CAP, "{f}+{v}");
        }
    }

    fn check(t: &PairTable, model: &HashMap<Vec<u8>, Vec<u8>>) {
        assert_eq!(t.len(), model.len());
        for (k, v) in model {
            assert_eq!(t.get(k), Some(&v[..]));
        }
        let mut seen = 0;
        for (k, v) in t.iter() {
            assert_eq!(model.get(k).map(|m| &m[..]), Some(v));
            seen += 1;
        }
        assert_eq!(seen, model.len());
        let heap: usize = t.pairs.iter().map(Pair::heap_size).sum();
        assert_eq!(heap, t.heap_bytes);
    }

    #[test]
    fn matches_a_map_through_sets_updates_and_deletes() {
        let mut rng = Rng::with_seed(5);
        let mut t = PairTable::new();
        let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for step in 0..40_000 {
            let k = format!("field:{}", rng.below(if step < 20_000 { 5000 } else { 500 })).into_bytes();
            let vlen = [0, 3, 12, 20, 40][rng.below(5) as usize];
            let v: Vec<u8> = (0..vlen).map(|_| rng.below(256) as u8).collect();
            if rng.below(3) > 0 && step < 25_000 {
                assert_eq!(t.insert(&k, &v), model.insert(k.clone(), v).is_none());
            } else {
                assert_eq!(t.remove(&k), model.remove(&k).is_some());
                t.try_shrink();
            }
            if step % 2000 == 0 {
                check(&t, &model);
            }
        }
        check(&t, &model);
        assert!(t.index.buckets() < 8192);
        let c = t.clone();
        check(&c, &model);
        // A fixed removal order: the model's own order changes from run to
        // run, and with it how far the last shrink got.
        let mut keys: Vec<&Vec<u8>> = model.keys().collect();
        keys.sort();
        for k in keys {
            assert!(t.remove(k));
            t.try_shrink();
        }
        assert!(t.is_empty() && t.random(&mut || 3).is_none());
        // A resize still under way when the last field went (how far it got
        // depends on the per-process hash seed) ends with the next steps; the
        // shrink to the minimum then follows.
        for _ in 0..2 {
            while t.index.is_rehashing() {
                t.index.rehash_steps(&mut t.pairs, 100);
            }
            t.try_shrink();
        }
        assert!(t.mem_usage() < 4096, "{}", t.mem_usage());
    }

    #[test]
    fn scan_sees_every_field_while_the_table_grows_and_shrinks() {
        let mut t = PairTable::new();
        for i in 0..1000 {
            t.insert(format!("m{i}").as_bytes(), b"x");
        }
        let mut seen = HashSet::new();
        let (mut cursor, mut i) = (0, 1000);
        loop {
            cursor = t.scan(cursor, |k, v| {
                assert_eq!(v, b"x");
                seen.insert(k.to_vec());
            });
            // Fields added and removed beyond the first thousand while scanning, up to
            // two doublings of the table (unbounded growth would outrun the cursor).
            for _ in 0..if i < 4000 { 30 } else { 0 } {
                t.insert(format!("m{i}").as_bytes(), b"x");
                if i % 3 == 0 {
                    t.remove(format!("m{}", i - 1).as_bytes());
                    t.try_shrink();
                }
                i += 1;
            }
            if cursor == 0 {
                break;
            }
        }
        assert!((0..1000).all(|i| seen.contains(format!("m{i}").as_bytes())));
    }

    #[test]
    fn random_picks_are_uniform_enough() {
        let mut t = PairTable::new();
        for i in 0..10 {
            t.insert(&[b'a' + i], b"v");
        }
        let mut rng = Rng::with_seed(9);
        let mut next = || rng.next_u64();
        let mut counts = [0usize; 10];
        for _ in 0..10_000 {
            let (k, _) = t.random(&mut next).unwrap();
            counts[(k[0] - b'a') as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (800..1200).contains(&c)), "{counts:?}");
        assert!(t.stats().starts_with("Hash table 0 stats (main hash table):"));
    }
}
