//! `Set`: the value of a Redis set, in one of its two encodings, and the rule
//! for switching between them.
//!
//! Owns the members only; it never sees the keyspace or a client. Mirrors
//! Redis 7.0's t_set encoding rules: a set starts as an `intset` when its
//! first member is an integer in canonical form (`string2ll`), and becomes a
//! `hashtable` for good as soon as a non-integer member is added or the count
//! exceeds `set-max-intset-entries` (the caller passes that threshold in).

use crate::db::dict::Dict;
use crate::types::intset::IntSet;
use crate::types::sds::Sds;
use crate::util::num::string2ll;

/// A set member as stored: an integer from an intset or bytes from the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member<'a> {
    /// A member of an intset.
    Int(i64),
    /// A member of a hashtable set.
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// The member's bytes (integers in decimal).
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            Member::Int(n) => crate::util::num::ll2string(*n),
            Member::Bytes(b) => b.to_vec(),
        }
    }
}

/// A set value.
pub enum Set {
    /// `intset`: every member is an integer.
    Int(IntSet),
    /// `hashtable`: members as byte strings.
    Hash(Dict<Sds, ()>),
}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Set").field("encoding", &self.encoding()).field("len", &self.len()).finish()
    }
}

impl Clone for Set {
    fn clone(&self) -> Set {
        match self {
            Set::Int(s) => Set::Int(s.clone()),
            Set::Hash(d) => {
                let mut out = Dict::with_capacity(d.len());
                for (k, _) in d.iter() {
                    out.insert_new(k.clone(), ());
                }
                Set::Hash(out)
            }
        }
    }
}

impl PartialEq for Set {
    /// Same members, whatever the encodings.
    fn eq(&self, other: &Set) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains_member(m))
    }
}

impl Default for Set {
    fn default() -> Set {
        Set::Int(IntSet::new())
    }
}

impl Set {
    /// An empty set in the encoding Redis would pick for a set whose first
    /// member is `first` (setTypeCreate): intset for integers, else hashtable.
    pub fn new_for(first: &[u8]) -> Set {
        if string2ll(first).is_some() {
            Set::Int(IntSet::new())
        } else {
            Set::Hash(Dict::new())
        }
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Int(_) => "intset",
            Set::Hash(_) => "hashtable",
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            Set::Int(s) => s.len(),
            Set::Hash(d) => d.len(),
        }
    }

    /// True when empty (such a set must not stay in the keyspace).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if `m` is a member.
    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Int(s) => string2ll(m).is_some_and(|v| s.contains(v)),
            Set::Hash(d) => d.contains_key(m),
        }
    }

    /// True if the member (as another set yields it) is a member here.
    pub fn contains_member(&self, m: Member<'_>) -> bool {
        match (self, m) {
            (Set::Int(s), Member::Int(v)) => s.contains(v),
            (_, Member::Bytes(b)) => self.contains(b),
            (Set::Hash(d), Member::Int(v)) => d.contains_key(&crate::util::num::ll2string(v)),
        }
    }

    /// Adds `m`; false if already present. Converts to a hashtable when `m` is
    /// not an integer or the intset would exceed `max_intset` members.
    pub fn add(&mut self, m: &[u8], max_intset: usize) -> bool {
        if let Set::Int(s) = self {
            match string2ll(m) {
                Some(v) => {
                    if !s.insert(v) {
                        return false;
                    }
                    if s.len() > max_intset {
                        self.convert_to_hash();
                    }
                    return true;
                }
                None => self.convert_to_hash(),
            }
        }
        match self {
            Set::Hash(d) => {
                if d.contains_key(m) {
                    false
                } else {
                    d.insert_new(Sds::from(m), ());
                    true
                }
            }
            Set::Int(_) => unreachable!("converted to a hashtable above"),
        }
    }

    /// Adds a member as another set yields it (see [`Set::add`]).
    pub fn add_member(&mut self, m: Member<'_>, max_intset: usize) -> bool {
        match (&mut *self, m) {
            (Set::Int(s), Member::Int(v)) => {
                if !s.insert(v) {
                    return false;
                }
                if s.len() > max_intset {
                    self.convert_to_hash();
                }
                true
            }
            (_, Member::Bytes(b)) => self.add(b, max_intset),
            (Set::Hash(_), Member::Int(v)) => self.add(&crate::util::num::ll2string(v), max_intset),
        }
    }

    /// Removes `m`; false if absent.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Int(s) => string2ll(m).is_some_and(|v| s.remove(v)),
            Set::Hash(d) => {
                let gone = d.remove(m).is_some();
                if gone {
                    d.try_shrink();
                }
                gone
            }
        }
    }

    /// Moves an ongoing rehash one step along (random sampling does this in
    /// Redis, so a read-only workload still finishes a resize).
    pub fn rehash_step(&mut self) {
        if let Set::Hash(d) = self {
            d.rehash_steps(1);
        }
    }

    /// Turns an intset into a hashtable holding the same members (no-op for
    /// a hashtable).
    pub fn convert_to_hash(&mut self) {
        if let Set::Int(s) = self {
            let mut d = Dict::with_capacity(s.len() + 1);
            for v in s.iter() {
                d.insert_new(Sds::from(&crate::util::num::ll2string(v)[..]), ());
            }
            *self = Set::Hash(d);
        }
    }

    /// Every member, in encoding order (ascending for an intset).
    pub fn iter(&self) -> SetIter<'_> {
        match self {
            Set::Int(s) => SetIter::Int(s, 0),
            Set::Hash(d) => SetIter::Hash(d.iter()),
        }
    }

    /// A random member, close to uniform (None when empty).
    pub fn random(&self, rng: &mut impl FnMut() -> u64) -> Option<Member<'_>> {
        match self {
            Set::Int(s) => s.random(rng).map(Member::Int),
            Set::Hash(d) => d.random_entry(rng).map(|(k, _)| Member::Bytes(&k[..])),
        }
    }

    /// Removes and returns a random member.
    pub fn pop_random(&mut self, rng: &mut impl FnMut() -> u64) -> Option<Vec<u8>> {
        let m = self.random(rng)?.to_vec();
        self.remove(&m);
        Some(m)
    }

    /// One SSCAN step over a hashtable (see `Dict::scan`); an intset has no
    /// cursor, so it yields everything and returns 0.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(Member<'_>)) -> u64 {
        match self {
            Set::Int(s) => {
                s.iter().for_each(|v| f(Member::Int(v)));
                0
            }
            Set::Hash(d) => d.scan(cursor, |k, _| f(Member::Bytes(&k[..]))),
        }
    }
}

/// Iterator over a set's members.
pub enum SetIter<'a> {
    /// Position in an intset.
    Int(&'a IntSet, usize),
    /// Hashtable iteration.
    Hash(crate::db::dict::Iter<'a, Sds, ()>),
}

impl<'a> Iterator for SetIter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        match self {
            SetIter::Int(s, i) => {
                if *i >= s.len() {
                    return None;
                }
                *i += 1;
                Some(Member::Int(s.get(*i - 1)))
            }
            SetIter::Hash(it) => it.next().map(|(k, _)| Member::Bytes(&k[..])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;

    #[test]
    fn first_member_picks_the_encoding() {
        assert_eq!(Set::new_for(b"12").encoding(), "intset");
        assert_eq!(Set::new_for(b"012").encoding(), "hashtable");
        assert_eq!(Set::new_for(b"a").encoding(), "hashtable");
    }

    #[test]
    fn converts_exactly_past_the_threshold() {
        let mut s = Set::new_for(b"0");
        for i in 0..512 {
            assert!(s.add(i.to_string().as_bytes(), 512));
        }
        assert_eq!(s.encoding(), "intset");
        assert!(!s.add(b"5", 512));
        assert_eq!(s.encoding(), "intset");
        assert!(s.add(b"512", 512));
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 513);
        assert!(s.contains(b"511") && s.contains(b"512") && !s.contains(b"513"));
    }

    #[test]
    fn non_integer_member_converts() {
        let mut s = Set::new_for(b"1");
        s.add(b"1", 512);
        s.add(b"2", 512);
        assert!(!s.contains(b"01"));
        assert!(s.add(b"01", 512));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"1") && s.contains(b"01"));
        assert!(s.remove(b"1"));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn members_compare_across_encodings() {
        let mut a = Set::new_for(b"1");
        let mut b = Set::new_for(b"x");
        for m in [b"1", b"2", b"3"] {
            a.add(m, 512);
            b.add(m, 512);
        }
        assert_eq!(b.encoding(), "hashtable");
        assert_eq!(a, b);
        assert!(b.contains_member(Member::Int(2)));
        assert!(a.contains_member(Member::Bytes(b"3")));
        assert_eq!(a.clone(), a);
    }

    #[test]
    fn pop_until_empty() {
        let mut rng = Rng::with_seed(3);
        let mut next = || rng.next_u64();
        let mut s = Set::new_for(b"a");
        for i in 0..100 {
            s.add(format!("m{i}").as_bytes(), 512);
        }
        let mut seen = std::collections::HashSet::new();
        while let Some(m) = s.pop_random(&mut next) {
            assert!(seen.insert(m));
        }
        assert_eq!(seen.len(), 100);
        assert!(s.is_empty());
    }
}
