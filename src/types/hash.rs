//! The hash value in Redis 7.0's two encodings: `listpack` (fields and values
//! alternating in one contiguous buffer, searched linearly) while the hash is
//! small, and `hashtable` (a [`PairTable`] of field to value) once it has more than
//! `hash-max-listpack-entries` fields or any field or value longer than
//! `hash-max-listpack-value` bytes. The conversion is one way, as in Redis.
//!
//! Pure data structure: thresholds come in through [`HashLimits`]. Mirrors
//! t_hash.c's conversion points: before a write, argument lengths are checked
//! (`hashTypeTryConversion`); after an insert, the entry count.

use crate::types::listpack::{self, Listpack, LpValue};
use crate::types::pairtable::PairTable;

/// The encoding thresholds in force (`hash-max-listpack-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    /// `hash-max-listpack-entries`: most fields a listpack hash may hold.
    pub max_entries: usize,
    /// `hash-max-listpack-value`: longest field or value a listpack hash may hold.
    pub max_value: usize,
}

impl Default for HashLimits {
    fn default() -> Self {
        HashLimits { max_entries: 128, max_value: 64 }
    }
}

/// A hash value.
pub enum Hash {
    /// `listpack`: field, value, field, value...
    Listpack(Listpack),
    /// `hashtable`.
    Table(Box<PairTable>),
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hash::Listpack(lp) => f.debug_tuple("Listpack").field(lp).finish(),
            Hash::Table(d) => f.debug_tuple("Table").field(&d.len()).finish(),
        }
    }
}

impl Clone for Hash {
    fn clone(&self) -> Self {
        match self {
            Hash::Listpack(lp) => Hash::Listpack(lp.clone()),
            Hash::Table(d) => Hash::Table(d.clone()),
        }
    }
}

impl PartialEq for Hash {
    /// Same fields with the same values, whatever the encodings.
    fn eq(&self, other: &Self) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let mut equal = true;
        self.for_each(|f, v| {
            if equal {
                equal = f.with_bytes(|fb| other.get(fb)).is_some_and(|ov| v.with_bytes(|vb| ov.eq_bytes(vb)));
            }
        });
        equal
    }
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

impl Hash {
    /// An empty hash, listpack encoded.
    pub fn new() -> Hash {
        Hash::Listpack(Listpack::new())
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(lp) => lp.len() / 2,
            Hash::Table(d) => d.len(),
        }
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// Converts to `hashtable` if any of `lens` (lengths of fields/values
    /// about to be written) exceeds `max_value`, or if the listpack would grow
    /// past the safe size (Redis's `hashTypeTryConversion`).
    pub fn convert_for_lengths(&mut self, lens: impl Iterator<Item = usize>, limits: HashLimits) {
        let Hash::Listpack(lp) = self else { return };
        let mut sum = 0usize;
        for l in lens {
            if l > limits.max_value {
                self.convert();
                return;
            }
            sum += l;
        }
        if lp.bytes() + sum > listpack::MAX_SAFE_SIZE {
            self.convert();
        }
    }

    /// Converts a listpack hash to a hashtable (no-op if already one).
    pub fn convert(&mut self) {
        let Hash::Listpack(lp) = self else { return };
        let mut d = PairTable::with_capacity(lp.len() / 2);
        let mut it = lp.iter();
        while let (Some(f), Some(v)) = (it.next(), it.next()) {
            d.insert(&f.to_vec(), &v.to_vec());
        }
        *self = Hash::Table(Box::new(d));
    }

    /// Position of the value of `field` in a listpack.
    fn lp_value_pos(lp: &Listpack, field: &[u8]) -> Option<usize> {
        let f = lp.find(lp.first(), field, 1)?;
        lp.next(f)
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<LpValue<'_>> {
        match self {
            Hash::Listpack(lp) => Self::lp_value_pos(lp, field).map(|p| lp.get(p)),
            Hash::Table(d) => d.get(field).map(LpValue::Str),
        }
    }

    /// True if `field` exists.
    pub fn contains(&self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(lp) => lp.find(lp.first(), field, 1).is_some(),
            Hash::Table(d) => d.contains(field),
        }
    }

    /// Sets `field` to `value`; true if the field is new. Converts first if
    /// either is too long for a listpack, and after inserting if the hash
    /// now has too many fields (Redis's `hashTypeSet`).
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        if matches!(self, Hash::Listpack(_)) && (field.len() > limits.max_value || value.len() > limits.max_value) {
            self.convert();
        }
        match self {
            Hash::Listpack(lp) => {
                let inserted = match Self::lp_value_pos(lp, field) {
                    Some(p) => {
                        lp.replace_at(p, value);
                        false
                    }
                    None => {
                        lp.push_back(field);
                        lp.push_back(value);
                        true
                    }
                };
                if lp.len() / 2 > limits.max_entries {
                    self.convert();
                }
                inserted
            }
            Hash::Table(d) => d.insert(field, value),
        }
    }

    /// Removes `field`; true if it existed.
    pub fn delete(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(lp) => match lp.find(lp.first(), field, 1) {
                Some(p) => {
                    lp.delete_range_at(p, 2);
                    true
                }
                None => false,
            },
            Hash::Table(d) => {
                let gone = d.remove(field);
                if gone {
                    d.try_shrink();
                }
                gone
            }
        }
    }

    /// Calls `f(field, value)` for every pair, in storage order.
    pub fn for_each(&self, mut f: impl FnMut(LpValue<'_>, LpValue<'_>)) {
        match self {
            Hash::Listpack(lp) => {
                let mut it = lp.iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    f(k, v);
                }
            }
            Hash::Table(d) => {
                for (k, v) in d.iter() {
                    f(LpValue::Str(k), LpValue::Str(v));
                }
            }
        }
    }

    /// The pair at position `i` of a listpack hash (0-based pair index).
    pub fn listpack_pair(&self, i: usize) -> Option<(LpValue<'_>, LpValue<'_>)> {
        let Hash::Listpack(lp) = self else { return None };
        let p = lp.seek(2 * i as i64)?;
        let q = lp.next(p)?;
        Some((lp.get(p), lp.get(q)))
    }

    /// A random pair; `rng` yields uniform 64-bit numbers. None when empty.
    pub fn random_pair(&self, rng: &mut impl FnMut() -> u64) -> Option<(LpValue<'_>, LpValue<'_>)> {
        match self {
            Hash::Listpack(_) => {
                let n = self.len();
                if n == 0 {
                    return None;
                }
                self.listpack_pair((rng() % n as u64) as usize)
            }
            Hash::Table(d) => d.random(rng).map(|(k, v)| (LpValue::Str(k), LpValue::Str(v))),
        }
    }

    /// Approximate heap bytes owned by the hash (MEMORY USAGE): the
    /// listpack buffer, or the table with its pairs.
    pub fn mem_usage(&self) -> usize {
        match self {
            Hash::Listpack(lp) => lp.bytes(),
            Hash::Table(d) => d.mem_usage(),
        }
    }

    /// The hashtable, for cursor scans (None when listpack encoded).
    pub fn table(&self) -> Option<&PairTable> {
        match self {
            Hash::Table(d) => Some(d),
            Hash::Listpack(_) => None,
        }
    }

    /// The listpack bytes (None when hashtable encoded).
    pub fn listpack(&self) -> Option<&Listpack> {
        match self {
            Hash::Listpack(lp) => Some(lp),
            Hash::Table(_) => None,
        }
    }

    /// Builds a hash from a validated listpack of field/value pairs (RDB load).
    pub fn from_listpack(lp: Listpack) -> Option<Hash> {
        if !lp.len().is_multiple_of(2) {
            return None;
        }
        Some(Hash::Listpack(lp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(e: usize, v: usize) -> HashLimits {
        HashLimits { max_entries: e, max_value: v }
    }

    #[test]
    fn converts_exactly_past_the_entry_limit() {
        let l = limits(4, 64);
        let mut h = Hash::new();
        for i in 0..4 {
            assert!(h.set(format!("f{i}").as_bytes(), b"v", l));
        }
        assert_eq!(h.encoding(), "listpack");
        assert!(!h.set(b"f0", b"w", l));
        assert_eq!(h.encoding(), "listpack");
        assert!(h.set(b"f4", b"v", l));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        assert!(h.get(b"f0").unwrap().eq_bytes(b"w"));
        // Never converts back.
        for i in 0..5 {
            assert!(h.delete(format!("f{i}").as_bytes()));
        }
        assert!(h.is_empty());
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn zero_entries_limit_means_hashtable_at_once() {
        let mut h = Hash::new();
        h.set(b"a", b"1", limits(0, 64));
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn converts_exactly_past_the_value_limit() {
        let l = limits(128, 8);
        let mut h = Hash::new();
        h.set(&[b'f'; 8], &[b'v'; 8], l);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"x", &[b'v'; 9], l);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.set(&[b'f'; 9], b"1", l);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.convert_for_lengths([3usize, 8].into_iter(), l);
        assert_eq!(h.encoding(), "listpack");
        h.convert_for_lengths([3usize, 9].into_iter(), l);
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn both_encodings_agree() {
        let mut small = Hash::new();
        let mut big = Hash::new();
        big.convert();
        let l = limits(1000, 1000);
        let mut s: u64 = 12345;
        for _ in 0..2000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let f = format!("{}", s % 97);
            let v = if s.is_multiple_of(3) { format!("{}", s % 100_000) } else { format!("val{}", s % 1000) };
            if s.is_multiple_of(5) {
                assert_eq!(small.delete(f.as_bytes()), big.delete(f.as_bytes()));
            } else {
                assert_eq!(small.set(f.as_bytes(), v.as_bytes(), l), big.set(f.as_bytes(), v.as_bytes(), l));
            }
            assert_eq!(small.len(), big.len());
        }
        assert_eq!(small.encoding(), "listpack");
        assert!(small == big);
        let c = big.clone();
        assert!(c == small);
        let mut n = 0;
        small.for_each(|f, v| {
            n += 1;
            assert!(big.get(&f.to_vec()).unwrap().eq_bytes(&v.to_vec()));
        });
        assert_eq!(n, small.len());
        let mut rng = || 7u64;
        assert!(small.random_pair(&mut rng).is_some());
        assert!(big.random_pair(&mut rng).is_some());
    }
}
