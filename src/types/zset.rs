//! `ZSet`: the value of a sorted set in one of its two encodings, score and
//! lexicographic ranges, and the rule for switching encodings.
//!
//! Owns the elements only; it never sees the keyspace or a client. Mirrors
//! Redis 7.0's t_zset: `listpack` (here one contiguous vector of
//! member/score pairs kept in `(score, member)` order, searched linearly for
//! a member as Redis walks its listpack) until an insert would exceed
//! `zset-max-listpack-entries` or brings a member longer than
//! `zset-max-listpack-value`, then `skiplist` (`types::skiplist`: a
//! span-counting skiplist for order and rank whose nodes are also indexed by
//! member) for good, except where Redis
//! converts back (`shrink_if_fits`, used by the STORE commands). Every range
//! query is reduced to a rank interval in O(log N), which is why
//! `count_prefix` is the one primitive both encodings provide.

use crate::types::sds::Sds;
use crate::types::skiplist::{NodeId, SkipList};

/// The encoding thresholds, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct ZLimits {
    /// `zset-max-listpack-entries`.
    pub max_entries: usize,
    /// `zset-max-listpack-value`.
    pub max_value: usize,
}

/// A sorted set value.
pub enum ZSet {
    /// `listpack`: pairs in `(score, member)` order.
    Listpack(Vec<(Sds, f64)>),
    /// `skiplist`: order, ranks and member lookup in one structure.
    Skiplist(Box<SkipList>),
}

impl std::fmt::Debug for ZSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZSet").field("encoding", &self.encoding()).field("len", &self.len()).finish()
    }
}

impl Clone for ZSet {
    fn clone(&self) -> ZSet {
        match self {
            ZSet::Listpack(v) => ZSet::Listpack(v.clone()),
            ZSet::Skiplist(b) => ZSet::Skiplist(b.clone()),
        }
    }
}

impl PartialEq for ZSet {
    /// Same members with the same scores, whatever the encodings.
    fn eq(&self, other: &ZSet) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a.0 == b.0 && a.1 == b.1)
    }
}

/// ZADD's input flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddFlags {
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Only update when the new score is greater.
    pub gt: bool,
    /// Only update when the new score is less.
    pub lt: bool,
    /// The score is an increment.
    pub incr: bool,
}

/// What one ZADD element did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AddOutcome {
    /// The member was new.
    Added(f64),
    /// The member's score changed to this.
    Updated(f64),
    /// The member was there with this very score already.
    Same(f64),
    /// Nothing happened (NX/XX/GT/LT said no).
    Nop,
}

/// The sum of an increment was NaN (`inf + -inf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NanScore;

/// A score interval, each end inclusive or exclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    /// Lower end.
    pub min: f64,
    /// Upper end.
    pub max: f64,
    /// The lower end is excluded.
    pub minex: bool,
    /// The upper end is excluded.
    pub maxex: bool,
}

fn parse_score_bound(b: &[u8]) -> Option<(f64, bool)> {
    let (text, ex) = match b.first() {
        Some(b'(') => (&b[1..], true),
        _ => (b, false),
    };
    let v = parse_c_double(text)?;
    Some((v, ex))
}

/// A strtod-like parse as Redis's range parsing uses it: the whole text must
/// be a number (leading white space allowed, overflow gives an infinity),
/// NaN is refused.
fn parse_c_double(text: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(text).ok()?;
    let t = t.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if t.is_empty() {
        return None;
    }
    if let Some(v) = crate::util::num::string2d(t.as_bytes()) {
        return Some(v);
    }
    // string2d refuses overflow and underflow; strtod saturates instead.
    let v: f64 = t.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

impl ScoreRange {
    /// Parses ZRANGEBYSCORE-style ends (`1.5`, `(1.5`, `-inf`, `+inf`).
    pub fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let (min, minex) = parse_score_bound(min)?;
        let (max, maxex) = parse_score_bound(max)?;
        Some(ScoreRange { min, max, minex, maxex })
    }

    /// True when `s` lies below the lower end.
    pub fn below_min(&self, s: f64) -> bool {
        if self.minex {
            s <= self.min
        } else {
            s < self.min
        }
    }

    /// True when `s` does not pass the upper end.
    pub fn within_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

/// One end of a lexicographic range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below everything.
    Min,
    /// `+`: above everything.
    Max,
    /// `[x`.
    Incl(Vec<u8>),
    /// `(x`.
    Excl(Vec<u8>),
}

impl LexBound {
    /// Parses `-`, `+`, `[x` or `(x`.
    pub fn parse(b: &[u8]) -> Option<LexBound> {
        match b.first()? {
            b'-' if b.len() == 1 => Some(LexBound::Min),
            b'+' if b.len() == 1 => Some(LexBound::Max),
            b'[' => Some(LexBound::Incl(b[1..].to_vec())),
            b'(' => Some(LexBound::Excl(b[1..].to_vec())),
            _ => None,
        }
    }
}

/// A lexicographic interval (meaningful when all scores are equal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    /// Lower end.
    pub min: LexBound,
    /// Upper end.
    pub max: LexBound,
}

impl LexRange {
    /// Parses ZRANGEBYLEX-style ends.
    pub fn parse(min: &[u8], max: &[u8]) -> Option<LexRange> {
        Some(LexRange { min: LexBound::parse(min)?, max: LexBound::parse(max)? })
    }

    /// True when `m` lies below the lower end.
    pub fn below_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(x) => m < &x[..],
            LexBound::Excl(x) => m <= &x[..],
        }
    }

    /// True when `m` does not pass the upper end.
    pub fn within_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(x) => m <= &x[..],
            LexBound::Excl(x) => m < &x[..],
        }
    }
}

impl ZSet {
    /// An empty set in the encoding Redis's ZADD creates for a first member
    /// of `first_len` bytes.
    pub fn new_for(limits: ZLimits, first_len: usize) -> ZSet {
        if limits.max_entries == 0 || first_len > limits.max_value {
            ZSet::Skiplist(Box::default())
        } else {
            ZSet::Listpack(Vec::new())
        }
    }

    /// An empty set in the encoding fit for `len` members of at most
    /// `max_len` bytes (the STORE commands' size hint).
    pub fn with_hint(limits: ZLimits, len: usize, max_len: usize) -> ZSet {
        if len <= limits.max_entries && max_len <= limits.max_value {
            ZSet::Listpack(Vec::with_capacity(len))
        } else {
            ZSet::Skiplist(Box::new(SkipList::with_capacity(len)))
        }
    }

    /// The skiplist encoding, whose `stats()` is the DEBUG HTSTATS-KEY text
    /// of its member table; None for a listpack.
    pub fn table(&self) -> Option<&SkipList> {
        match self {
            ZSet::Listpack(_) => None,
            ZSet::Skiplist(b) => Some(b),
        }
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
            ZSet::Skiplist(_) => "skiplist",
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(v) => v.len(),
            ZSet::Skiplist(b) => b.len(),
        }
    }

    /// True when empty (such a set must not stay in the keyspace).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(v) => v.iter().find(|(m, _)| &m[..] == member).map(|(_, s)| *s),
            ZSet::Skiplist(b) => b.find(member).map(|x| b.score(x)),
        }
    }

    /// Switches to the skiplist encoding (no-op when already there).
    pub fn convert_to_skiplist(&mut self) {
        if let ZSet::Listpack(v) = self {
            let mut big = SkipList::with_capacity(v.len());
            for (m, s) in v.drain(..) {
                big.insert(s, m);
            }
            *self = ZSet::Skiplist(Box::new(big));
        }
    }

    /// Goes back to a listpack when the set fits the limits (Redis's
    /// zsetConvertToListpackIfNeeded, applied to STORE results).
    pub fn shrink_if_fits(&mut self, limits: ZLimits) {
        if let ZSet::Skiplist(b) = self {
            if b.len() <= limits.max_entries && b.iter().all(|(m, _)| m.len() <= limits.max_value) {
                let v: Vec<(Sds, f64)> = b.iter().map(|(m, s)| (Sds::from(m), s)).collect();
                *self = ZSet::Listpack(v);
            }
        }
    }

    /// Inserts a member known to be absent, converting first when the
    /// listpack would exceed the limits.
    fn insert_new(&mut self, member: &[u8], score: f64, limits: ZLimits) {
        if let ZSet::Listpack(v) = self {
            if v.len() < limits.max_entries && member.len() <= limits.max_value {
                let pos = v.partition_point(|(m, s)| *s < score || (*s == score && &m[..] < member));
                v.insert(pos, (Sds::from(member), score));
                return;
            }
            self.convert_to_skiplist();
        }
        if let ZSet::Skiplist(b) = self {
            b.insert(score, Sds::from(member));
        }
    }

    /// Moves an existing member to a new score.
    fn rescore(&mut self, member: &[u8], new: f64) {
        match self {
            ZSet::Listpack(v) => {
                if let Some(i) = v.iter().position(|(m, _)| &m[..] == member) {
                    let (m, _) = v.remove(i);
                    let pos = v.partition_point(|(x, s)| *s < new || (*s == new && &x[..] < member));
                    v.insert(pos, (m, new));
                }
            }
            ZSet::Skiplist(b) => {
                if let Some(x) = b.find(member) {
                    b.set_score(x, new);
                }
            }
        }
    }

    /// ZADD/ZINCRBY for one element, with Redis's flag semantics. Err when
    /// the score (or the incremented score) is NaN.
    pub fn add(&mut self, member: &[u8], score: f64, f: AddFlags, limits: ZLimits) -> Result<AddOutcome, NanScore> {
        if score.is_nan() {
            return Err(NanScore);
        }
        match self.score(member) {
            Some(cur) => {
                if f.nx {
                    return Ok(AddOutcome::Nop);
                }
                let new = if f.incr { score + cur } else { score };
                if new.is_nan() {
                    return Err(NanScore);
                }
                if (f.lt && new >= cur) || (f.gt && new <= cur) {
                    return Ok(AddOutcome::Nop);
                }
                if new == cur {
                    return Ok(AddOutcome::Same(new));
                }
                self.rescore(member, new);
                Ok(AddOutcome::Updated(new))
            }
            None if f.xx => Ok(AddOutcome::Nop),
            None => {
                self.insert_new(member, score, limits);
                Ok(AddOutcome::Added(score))
            }
        }
    }

    /// Removes `member`; false if absent.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Listpack(v) => match v.iter().position(|(m, _)| &m[..] == member) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            ZSet::Skiplist(b) => {
                let gone = b.remove(member).is_some();
                b.try_shrink();
                gone
            }
        }
    }

    /// 0-based rank of `member` in ascending order, with its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSet::Listpack(v) => v.iter().position(|(m, _)| &m[..] == member).map(|i| (i, v[i].1)),
            ZSet::Skiplist(b) => b.find(member).map(|x| (b.rank(x), b.score(x))),
        }
    }

    /// The element at 0-based rank `i` in ascending order.
    pub fn at(&self, i: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Listpack(v) => v.get(i).map(|(m, s)| (&m[..], *s)),
            ZSet::Skiplist(b) => b.at(i).map(|id| (b.member(id), b.score(id))),
        }
    }

    /// How many leading elements satisfy `pred` (which must hold for a
    /// prefix of the order).
    pub fn count_prefix(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSet::Listpack(v) => v.partition_point(|(m, s)| pred(*s, m)),
            ZSet::Skiplist(b) => b.count_prefix(pred),
        }
    }

    /// The rank interval `[lo, hi)` of a score range.
    pub fn score_ranks(&self, r: &ScoreRange) -> (usize, usize) {
        let lo = self.count_prefix(|s, _| r.below_min(s));
        let hi = self.count_prefix(|s, _| r.within_max(s));
        (lo, hi.max(lo))
    }

    /// The rank interval `[lo, hi)` of a lexicographic range.
    pub fn lex_ranks(&self, r: &LexRange) -> (usize, usize) {
        let lo = self.count_prefix(|_, m| r.below_min(m));
        let hi = self.count_prefix(|_, m| r.within_max(m));
        (lo, hi.max(lo))
    }

    /// Elements from rank `start` on, ascending, or descending (toward rank
    /// 0) with `rev`.
    pub fn iter_from(&self, start: usize, rev: bool) -> ZIter<'_> {
        match self {
            ZSet::Listpack(v) => ZIter::Lp { v, next: if start < v.len() { Some(start) } else { None }, rev },
            ZSet::Skiplist(b) => ZIter::Sl { zsl: b, cur: b.at(start), rev },
        }
    }

    /// Every element in ascending order.
    pub fn iter(&self) -> ZIter<'_> {
        self.iter_from(0, false)
    }

    /// Removes ranks `[start, end)`; returns how many went.
    pub fn remove_rank_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match self {
            ZSet::Listpack(v) => {
                v.drain(start..end);
            }
            ZSet::Skiplist(_) => {
                let doomed: Vec<Vec<u8>> =
                    self.iter_from(start, false).take(end - start).map(|(m, _)| m.to_vec()).collect();
                for m in doomed {
                    self.remove(&m);
                }
            }
        }
        end - start
    }

    /// A uniformly random element.
    pub fn random(&self, rng: &mut impl FnMut() -> u64) -> Option<(&[u8], f64)> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        self.at((rng() % n as u64) as usize)
    }

    /// One ZSCAN step: a skiplist set walks its table by cursor; a listpack
    /// yields everything and returns 0.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSet::Listpack(v) => {
                v.iter().for_each(|(m, s)| f(m, *s));
                0
            }
            ZSet::Skiplist(b) => b.scan(cursor, f),
        }
    }
}

/// Iterator over `(member, score)` from some rank, either direction.
pub enum ZIter<'a> {
    /// Over a listpack.
    Lp {
        /// The pairs.
        v: &'a [(Sds, f64)],
        /// Next index to yield.
        next: Option<usize>,
        /// Toward rank 0.
        rev: bool,
    },
    /// Over a skiplist.
    Sl {
        /// The list.
        zsl: &'a SkipList,
        /// Next node to yield.
        cur: Option<NodeId>,
        /// Toward rank 0.
        rev: bool,
    },
}

impl<'a> Iterator for ZIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        match self {
            ZIter::Lp { v, next, rev } => {
                let i = (*next)?;
                *next = if *rev { i.checked_sub(1) } else { Some(i + 1).filter(|&j| j < v.len()) };
                let (m, s) = &v[i];
                Some((&m[..], *s))
            }
            ZIter::Sl { zsl, cur, rev } => {
                let id = (*cur)?;
                *cur = if *rev { zsl.prev(id) } else { zsl.next(id) };
                Some((zsl.member(id), zsl.score(id)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;

    const LIM: ZLimits = ZLimits { max_entries: 128, max_value: 64 };

    fn add(z: &mut ZSet, m: &str, s: f64) -> AddOutcome {
        z.add(m.as_bytes(), s, AddFlags::default(), LIM).unwrap_or(AddOutcome::Nop)
    }

    #[test]
    fn converts_exactly_at_the_entry_threshold() {
        let mut z = ZSet::new_for(LIM, 1);
        for i in 0..128 {
            add(&mut z, &format!("m{i}"), i as f64);
        }
        assert_eq!(z.encoding(), "listpack");
        add(&mut z, "m0", 5.0);
        assert_eq!(z.encoding(), "listpack");
        add(&mut z, "new", 0.5);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.len(), 129);
        assert_eq!(z.rank(b"new"), Some((0, 0.5)));
        assert_eq!(z.rank(b"m0"), Some((5, 5.0)));
    }

    #[test]
    fn converts_on_a_long_member() {
        let mut z = ZSet::new_for(LIM, 1);
        add(&mut z, &"x".repeat(64), 1.0);
        assert_eq!(z.encoding(), "listpack");
        add(&mut z, &"y".repeat(65), 1.0);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(ZSet::new_for(LIM, 65).encoding(), "skiplist");
        assert_eq!(ZSet::new_for(ZLimits { max_entries: 0, max_value: 64 }, 1).encoding(), "skiplist");
        let mut z2 = z.clone();
        assert!(z2.remove("y".repeat(65).as_bytes()));
        z2.shrink_if_fits(LIM);
        assert_eq!(z2.encoding(), "listpack");
        assert_ne!(z, z2);
    }

    #[test]
    fn flags_follow_redis() {
        let mut z = ZSet::new_for(LIM, 1);
        add(&mut z, "a", 10.0);
        let gt = AddFlags { gt: true, ..AddFlags::default() };
        assert_eq!(z.add(b"a", 5.0, gt, LIM), Ok(AddOutcome::Nop));
        assert_eq!(z.add(b"a", 15.0, gt, LIM), Ok(AddOutcome::Updated(15.0)));
        let incr = AddFlags { incr: true, ..AddFlags::default() };
        assert_eq!(z.add(b"a", 0.0, incr, LIM), Ok(AddOutcome::Same(15.0)));
        add(&mut z, "b", f64::INFINITY);
        assert_eq!(z.add(b"b", f64::NEG_INFINITY, incr, LIM), Err(NanScore));
        let xx = AddFlags { xx: true, ..AddFlags::default() };
        assert_eq!(z.add(b"c", 1.0, xx, LIM), Ok(AddOutcome::Nop));
        assert_eq!(z.len(), 2);
    }

    #[test]
    fn ranges_parse_like_redis() {
        let r = ScoreRange::parse(b"(1", b"+inf").expect("valid");
        assert!(r.minex && r.max == f64::INFINITY);
        assert!(ScoreRange::parse(b"nan", b"1").is_none());
        assert!(ScoreRange::parse(b"str", b"1").is_none());
        assert!(ScoreRange::parse(b"1e400", b"1").is_some());
        assert!(LexRange::parse(b"-", b"+").is_some());
        assert!(LexRange::parse(b"+x", b"[a").is_none());
        assert!(LexRange::parse(b"foo", b"[a").is_none());
        let mut rng = Rng::with_seed(11);
        for _ in 0..20_000 {
            let n = rng.below(8) as usize;
            let a: Vec<u8> = (0..n).map(|_| b"(+-[0123456789.einfx"[rng.below(20) as usize]).collect();
            let _ = ScoreRange::parse(&a, &a);
            let _ = LexRange::parse(&a, b"+");
        }
    }

    /// Both encodings against a naive sorted vector: ranks, score and lex
    /// range intervals, iteration both ways, rank-range deletion.
    #[test]
    fn both_encodings_match_a_naive_model() {
        for limits in [LIM, ZLimits { max_entries: 0, max_value: 0 }] {
            let mut rng = Rng::with_seed(99);
            let mut z = ZSet::new_for(limits, 2);
            let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
            for _ in 0..3000 {
                let m = format!("k{}", rng.below(150)).into_bytes();
                let s = rng.below(20) as f64;
                match rng.below(5) {
                    0 => {
                        assert_eq!(z.remove(&m), model.iter().any(|x| x.1 == m));
                        model.retain(|x| x.1 != m);
                    }
                    _ => {
                        z.add(&m, s, AddFlags::default(), limits).ok();
                        model.retain(|x| x.1 != m);
                        model.push((s, m.clone()));
                    }
                }
                model.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
                assert_eq!(z.len(), model.len());
                if let Some(i) = (!model.is_empty()).then(|| rng.below(model.len() as u64) as usize) {
                    assert_eq!(z.rank(&model[i].1), Some((i, model[i].0)));
                    assert_eq!(z.at(i), Some((&model[i].1[..], model[i].0)));
                    let rev: Vec<Vec<u8>> = z.iter_from(i, true).map(|(m, _)| m.to_vec()).collect();
                    assert!(rev.iter().eq(model[..=i].iter().rev().map(|x| &x.1)));
                }
                let (a, b) = (rng.below(22) as f64 - 1.0, rng.below(22) as f64 - 1.0);
                let r = ScoreRange { min: a, max: b, minex: rng.below(2) == 0, maxex: rng.below(2) == 0 };
                let (lo, hi) = z.score_ranks(&r);
                let want = model.iter().filter(|x| !r.below_min(x.0) && r.within_max(x.0)).count();
                assert_eq!(hi - lo, want);
            }
            let lex = LexRange { min: LexBound::Incl(b"k1".to_vec()), max: LexBound::Excl(b"k5".to_vec()) };
            let mut flat = ZSet::new_for(limits, 2);
            for (_, m) in &model {
                flat.add(m, 0.0, AddFlags::default(), limits).ok();
            }
            let (lo, hi) = flat.lex_ranks(&lex);
            let want = model.iter().filter(|x| &x.1[..] >= b"k1".as_slice() && &x.1[..] < b"k5".as_slice()).count();
            assert_eq!(hi - lo, want);
            let n = z.len();
            assert_eq!(z.remove_rank_range(1, 4), 3.min(n.saturating_sub(1)));
            model.drain(1.min(model.len())..4.min(model.len()));
            assert!(z.iter().map(|(m, s)| (s, m.to_vec())).eq(model.iter().cloned()));
        }
    }
}
