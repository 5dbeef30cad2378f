//! `IntSet`: a sorted array of distinct integers packed at the narrowest of
//! three widths (2, 4 or 8 bytes, little-endian), the compact form of a set
//! whose members are all integers.
//!
//! Owns only the packed bytes. Mirrors Redis's intset: the width grows
//! ("upgrade") when a value that does not fit arrives and never shrinks;
//! lookups are binary searches; the blob layout (`encoding` u32, `length`
//! u32, then the values, all little-endian) is the one RDB files carry, so
//! `to_blob`/`from_blob` serve persistence. The set-level decision of when to
//! leave this encoding lives in `types::set`.

/// A sorted set of distinct `i64`s packed at 2, 4 or 8 bytes per value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IntSet {
    /// Bytes per value: 2, 4 or 8 (0 only for a never-used default value,
    /// treated as 2).
    width: u8,
    /// `len * width` bytes, values in ascending order.
    data: Vec<u8>,
}

/// The narrowest width (in bytes) that can hold `v`.
fn width_for(v: i64) -> u8 {
    if i64::from(v as i16) == v {
        2
    } else if i64::from(v as i32) == v {
        4
    } else {
        8
    }
}

impl IntSet {
    /// An empty set at the 16-bit width.
    pub fn new() -> IntSet {
        IntSet { width: 2, data: Vec::new() }
    }

    fn w(&self) -> usize {
        if self.width == 0 {
            2
        } else {
            self.width as usize
        }
    }

    /// Bytes per stored value (2, 4 or 8), what Redis calls the encoding.
    pub fn width(&self) -> usize {
        self.w()
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.data.len() / self.w()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The value at position `i` (ascending order). Panics if out of range,
    /// like slice indexing; callers iterate within `len()`.
    pub fn get(&self, i: usize) -> i64 {
        let w = self.w();
        let b = &self.data[i * w..i * w + w];
        match w {
            2 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            4 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }

    fn put(&mut self, i: usize, v: i64) {
        let w = self.w();
        let dst = &mut self.data[i * w..i * w + w];
        match w {
            2 => dst.copy_from_slice(&(v as i16).to_le_bytes()),
            4 => dst.copy_from_slice(&(v as i32).to_le_bytes()),
            _ => dst.copy_from_slice(&v.to_le_bytes()),
        }
    }

    /// Binary search: `Ok(position)` if present, else `Err(insertion point)`.
    pub fn search(&self, v: i64) -> Result<usize, usize> {
        let n = self.len();
        if n == 0 {
            return Err(0);
        }
        // Fast paths for values outside the current range (appends are common).
        if v > self.get(n - 1) {
            return Err(n);
        }
        if v < self.get(0) {
            return Err(0);
        }
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let m = self.get(mid);
            if m == v {
                return Ok(mid);
            }
            if m < v {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Err(lo)
    }

    /// True if `v` is a member.
    pub fn contains(&self, v: i64) -> bool {
        width_for(v) as usize <= self.w() && self.search(v).is_ok()
    }

    /// Adds `v`; false if it was already present. Widens every value first
    /// when `v` needs more bytes than the current width.
    pub fn insert(&mut self, v: i64) -> bool {
        let need = width_for(v);
        if need as usize > self.w() {
            self.upgrade_and_insert(v, need);
            return true;
        }
        match self.search(v) {
            Ok(_) => false,
            Err(pos) => {
                let w = self.w();
                let at = pos * w;
                self.data.splice(at..at, std::iter::repeat_n(0u8, w));
                self.put(pos, v);
                true
            }
        }
    }

    /// Re-packs every value at `width` and puts `v` (which needs the new
    /// width, so is below or above every present value) at the matching end.
    fn upgrade_and_insert(&mut self, v: i64, width: u8) {
        let n = self.len();
        let old: Vec<i64> = (0..n).map(|i| self.get(i)).collect();
        self.width = width;
        self.data = vec![0u8; (n + 1) * width as usize];
        let offset = usize::from(v < 0);
        for (i, x) in old.into_iter().enumerate() {
            self.put(i + offset, x);
        }
        self.put(if v < 0 { 0 } else { n }, v);
    }

    /// Removes `v`; false if it was absent. The width never shrinks.
    pub fn remove(&mut self, v: i64) -> bool {
        if width_for(v) as usize > self.w() {
            return false;
        }
        match self.search(v) {
            Ok(pos) => {
                let w = self.w();
                self.data.drain(pos * w..pos * w + w);
                true
            }
            Err(_) => false,
        }
    }

    /// The values in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = i64> + ExactSizeIterator + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// A uniformly random value (None when empty). `rng` yields random u64s.
    pub fn random(&self, rng: &mut impl FnMut() -> u64) -> Option<i64> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        Some(self.get((rng() % n as u64) as usize))
    }

    /// Size of the blob form: 8 header bytes plus the values.
    pub fn blob_len(&self) -> usize {
        8 + self.data.len()
    }

    /// The RDB blob: width as u32, count as u32, then the values, all
    /// little-endian.
    pub fn to_blob(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.blob_len());
        out.extend_from_slice(&(self.w() as u32).to_le_bytes());
        out.extend_from_slice(&(self.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.data);
        out
    }

    /// Parses and validates an RDB blob: a known width, a length matching the
    /// byte count, strictly ascending values. None for anything else (input
    /// from files is never trusted).
    pub fn from_blob(b: &[u8]) -> Option<IntSet> {
        if b.len() < 8 {
            return None;
        }
        let width = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let count = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
        if !matches!(width, 2 | 4 | 8) {
            return None;
        }
        let body = &b[8..];
        if count.checked_mul(width as usize)? != body.len() {
            return None;
        }
        let set = IntSet { width: width as u8, data: body.to_vec() };
        for i in 1..count {
            if set.get(i - 1) >= set.get(i) {
                return None;
            }
        }
        Some(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;
    use std::collections::BTreeSet;

    #[test]
    fn widths_upgrade_at_the_type_limits() {
        let mut s = IntSet::new();
        assert!(s.insert(32767));
        assert_eq!(s.width(), 2);
        assert!(s.insert(-32768));
        assert_eq!(s.width(), 2);
        assert!(s.insert(32768));
        assert_eq!(s.width(), 4);
        assert!(s.insert(i64::from(i32::MIN)));
        assert_eq!(s.width(), 4);
        assert!(s.insert(i64::from(i32::MIN) - 1));
        assert_eq!(s.width(), 8);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![i64::from(i32::MIN) - 1, i64::from(i32::MIN), -32768, 32767, 32768]
        );
        // Never downgrades.
        assert!(s.remove(i64::from(i32::MIN) - 1));
        assert_eq!(s.width(), 8);
        assert!(!s.remove(i64::MAX));
        assert!(!s.insert(32767));
    }

    #[test]
    fn upgrade_puts_negative_values_first() {
        let mut s = IntSet::new();
        for v in [1, 2, 3] {
            s.insert(v);
        }
        s.insert(-1 << 40);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![-1 << 40, 1, 2, 3]);
        let mut s = IntSet::new();
        s.insert(5);
        s.insert(i64::MAX);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![5, i64::MAX]);
        assert!(s.contains(i64::MAX) && !s.contains(i64::MIN));
    }

    #[test]
    fn matches_a_model_under_random_operations() {
        let mut rng = Rng::with_seed(42);
        let mut s = IntSet::new();
        let mut model = BTreeSet::new();
        for _ in 0..20_000 {
            let v = match rng.below(4) {
                0 => rng.below(100) as i64 - 50,
                1 => rng.below(100_000) as i64 - 50_000,
                2 => rng.next_u64() as i64 >> 20,
                _ => rng.next_u64() as i64,
            };
            if rng.below(3) == 0 {
                assert_eq!(s.remove(v), model.remove(&v));
            } else {
                assert_eq!(s.insert(v), model.insert(v));
            }
            assert_eq!(s.len(), model.len());
        }
        assert!(s.iter().eq(model.iter().copied()));
        let back = IntSet::from_blob(&s.to_blob());
        assert_eq!(back.as_ref(), Some(&s));
    }

    #[test]
    fn blob_parser_rejects_garbage_without_panicking() {
        assert!(IntSet::from_blob(b"").is_none());
        assert!(IntSet::from_blob(&[3, 0, 0, 0, 0, 0, 0, 0]).is_none());
        assert!(IntSet::from_blob(&[2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 1, 0]).is_none(), "not ascending");
        assert!(IntSet::from_blob(&[2, 0, 0, 0, 1, 0, 0, 0, 1, 0]).is_some());
        assert!(IntSet::from_blob(&[2, 0, 0, 0, 255, 255, 255, 255, 1, 0]).is_none());
        let mut rng = Rng::with_seed(7);
        for _ in 0..20_000 {
            let len = rng.below(40) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            if len >= 8 && rng.below(2) == 0 {
                b[0] = [2, 4, 8][rng.below(3) as usize];
                b[1..4].fill(0);
                let n = (len - 8) / b[0] as usize;
                b[4..8].copy_from_slice(&(n as u32).to_le_bytes());
                b.truncate(8 + n * b[0] as usize);
            }
            if let Some(s) = IntSet::from_blob(&b) {
                assert!(s.iter().zip(s.iter().skip(1)).all(|(a, b)| a < b));
            }
        }
    }
}
