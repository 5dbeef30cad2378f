//! `SkipList`: the ordered half of a large sorted set, a skiplist of
//! `(score, member)` pairs whose links carry spans, so that rank queries,
//! seeking by rank and counting a range all cost O(log N).
//!
//! Owns its nodes only; the member -> score map that makes score lookups
//! O(1) lives beside it in `types::zset`. Mirrors Redis's zskiplist (levels
//! drawn with p = 1/4 up to 32, elements ordered by score then by member
//! bytes, a backward link on level 0), written over an index arena instead
//! of pointers: node 0 is the header, freed slots are reused.

use crate::types::sds::Sds;

/// Highest level a node can have (enough for 2^64 elements at p = 1/4).
const MAX_LEVEL: usize = 32;

/// "No node".
const NIL: u32 = u32::MAX;

/// The header's index.
const HEAD: u32 = 0;

#[derive(Debug, Clone, Copy)]
struct Link {
    /// Next node on this level.
    forward: u32,
    /// Level-0 steps from this node to `forward` (to the end when NIL).
    span: usize,
}

#[derive(Debug, Clone)]
struct Node {
    member: Sds,
    score: f64,
    /// Previous node on level 0 (NIL for the first).
    backward: u32,
    levels: Vec<Link>,
}

/// A skiplist ordered by `(score, member)`. Members must be unique; the
/// caller (the sorted set) guarantees it through its map.
#[derive(Debug, Clone)]
pub struct SkipList {
    nodes: Vec<Node>,
    free: Vec<u32>,
    tail: u32,
    len: usize,
    level: usize,
    rng: u64,
}

impl Default for SkipList {
    fn default() -> Self {
        SkipList::new()
    }
}

/// Node handle: stable while the node is in the list.
pub type NodeId = u32;

impl SkipList {
    /// An empty list.
    pub fn new() -> SkipList {
        let head = Node {
            member: Sds::default(),
            score: 0.0,
            backward: NIL,
            levels: vec![Link { forward: NIL, span: 0 }; MAX_LEVEL],
        };
        SkipList { nodes: vec![head], free: Vec::new(), tail: NIL, len: 0, level: 1, rng: 0x9E37_79B9_7F4A_7C15 }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn n(&self, id: u32) -> &Node {
        &self.nodes[id as usize]
    }

    fn n_mut(&mut self, id: u32) -> &mut Node {
        &mut self.nodes[id as usize]
    }

    /// The member of node `id`.
    pub fn member(&self, id: NodeId) -> &[u8] {
        &self.n(id).member
    }

    /// The score of node `id`.
    pub fn score(&self, id: NodeId) -> f64 {
        self.n(id).score
    }

    /// The next node in order.
    pub fn next(&self, id: NodeId) -> Option<NodeId> {
        let f = self.n(id).levels[0].forward;
        (f != NIL).then_some(f)
    }

    /// The previous node in order.
    pub fn prev(&self, id: NodeId) -> Option<NodeId> {
        let b = self.n(id).backward;
        (b != NIL).then_some(b)
    }

    /// The first (lowest) node.
    pub fn first(&self) -> Option<NodeId> {
        self.next(HEAD)
    }

    /// The last (highest) node.
    pub fn last(&self) -> Option<NodeId> {
        (self.tail != NIL).then_some(self.tail)
    }

    fn random_level(&mut self) -> usize {
        let mut level = 1;
        loop {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            if level >= MAX_LEVEL || (self.rng & 0xFFFF) >= 0x4000 {
                return level;
            }
            level += 1;
        }
    }

    /// True if node `id` sorts before `(score, member)`.
    fn before(&self, id: u32, score: f64, member: &[u8]) -> bool {
        let n = self.n(id);
        n.score < score || (n.score == score && &n.member[..] < member)
    }

    /// For each level, the last node before `(score, member)`, and its rank.
    fn find_update(&self, score: f64, member: &[u8]) -> ([u32; MAX_LEVEL], [usize; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0usize; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let f = self.n(x).levels[i].forward;
                if f != NIL && self.before(f, score, member) {
                    rank[i] += self.n(x).levels[i].span;
                    x = f;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        (update, rank)
    }

    /// Inserts `(score, member)`; the member must not be present.
    pub fn insert(&mut self, score: f64, member: Sds) -> NodeId {
        let (mut update, mut rank) = self.find_update(score, &member);
        let lvl = self.random_level();
        if lvl > self.level {
            for i in self.level..lvl {
                rank[i] = 0;
                update[i] = HEAD;
                self.n_mut(HEAD).levels[i].span = self.len;
            }
            self.level = lvl;
        }
        let node = Node { member, score, backward: NIL, levels: vec![Link { forward: NIL, span: 0 }; lvl] };
        let x = match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        for i in 0..lvl {
            let u = update[i];
            let ul = self.n(u).levels[i];
            self.n_mut(x).levels[i] = Link { forward: ul.forward, span: ul.span - (rank[0] - rank[i]) };
            self.n_mut(u).levels[i] = Link { forward: x, span: rank[0] - rank[i] + 1 };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(lvl) {
            self.n_mut(u).levels[i].span += 1;
        }
        self.n_mut(x).backward = if update[0] == HEAD { NIL } else { update[0] };
        match self.n(x).levels[0].forward {
            NIL => self.tail = x,
            f => self.n_mut(f).backward = x,
        }
        self.len += 1;
        x
    }

    fn unlink(&mut self, x: u32, update: &[u32; MAX_LEVEL]) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            if self.n(u).levels[i].forward == x {
                let xl = self.n(x).levels[i];
                let ul = &mut self.n_mut(u).levels[i];
                ul.span = ul.span + xl.span - 1;
                ul.forward = xl.forward;
            } else {
                self.n_mut(u).levels[i].span -= 1;
            }
        }
        let back = self.n(x).backward;
        match self.n(x).levels[0].forward {
            NIL => self.tail = back,
            f => self.n_mut(f).backward = back,
        }
        while self.level > 1 && self.n(HEAD).levels[self.level - 1].forward == NIL {
            self.level -= 1;
        }
        self.len -= 1;
        let dead = self.n_mut(x);
        dead.member = Sds::default();
        dead.levels = Vec::new();
        self.free.push(x);
    }

    /// Removes `(score, member)`; false if it is not there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let (update, _) = self.find_update(score, member);
        let x = self.n(update[0]).levels[0].forward;
        if x != NIL && self.n(x).score == score && &self.n(x).member[..] == member {
            self.unlink(x, &update);
            true
        } else {
            false
        }
    }

    /// 1-based rank of `(score, member)`, None if absent.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let (update, rank) = self.find_update(score, member);
        let x = self.n(update[0]).levels[0].forward;
        (x != NIL && self.n(x).score == score && &self.n(x).member[..] == member).then(|| rank[0] + 1)
    }

    /// The node at 0-based position `i` in order.
    pub fn at(&self, i: usize) -> Option<NodeId> {
        if i >= self.len {
            return None;
        }
        let target = i + 1;
        let mut traversed = 0;
        let mut x = HEAD;
        for lv in (0..self.level).rev() {
            loop {
                let l = self.n(x).levels[lv];
                if l.forward != NIL && traversed + l.span <= target {
                    traversed += l.span;
                    x = l.forward;
                } else {
                    break;
                }
            }
            if traversed == target {
                return Some(x);
            }
        }
        None
    }

    /// How many leading elements satisfy `pred`, which must hold for a prefix
    /// of the order and fail for the rest (e.g. "score below the range").
    pub fn count_prefix(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut rank = 0;
        let mut x = HEAD;
        for lv in (0..self.level).rev() {
            loop {
                let l = self.n(x).levels[lv];
                if l.forward != NIL && pred(self.n(l.forward).score, &self.n(l.forward).member) {
                    rank += l.span;
                    x = l.forward;
                } else {
                    break;
                }
            }
        }
        rank
    }

    /// Every `(member, score)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        std::iter::successors(self.first(), move |&id| self.next(id)).map(move |id| (self.member(id), self.score(id)))
    }

    /// Checks the structural invariants (spans, backward links, order); for
    /// tests.
    #[cfg(test)]
    fn check(&self) {
        let ids: Vec<u32> = std::iter::successors(self.first(), |&id| self.next(id)).collect();
        assert_eq!(ids.len(), self.len);
        for w in ids.windows(2) {
            assert!(self.before(w[0], self.score(w[1]), self.member(w[1])));
            assert_eq!(self.n(w[1]).backward, w[0]);
        }
        let pos: std::collections::HashMap<u32, usize> = ids.iter().enumerate().map(|(i, &id)| (id, i + 1)).collect();
        for lv in 0..self.level {
            let mut x = HEAD;
            let mut r = 0;
            loop {
                let l = self.n(x).levels[lv];
                if l.forward == NIL {
                    break;
                }
                assert_eq!(r + l.span, pos[&l.forward], "span at level {lv}");
                r += l.span;
                x = l.forward;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;

    fn model_sorted(m: &[(f64, Vec<u8>)]) -> Vec<(f64, Vec<u8>)> {
        let mut v = m.to_vec();
        v.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        v
    }

    #[test]
    fn ranks_and_ranges_match_a_naive_model() {
        let mut rng = Rng::with_seed(2024);
        let mut sl = SkipList::new();
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        for step in 0..6000 {
            let r = rng.below(10);
            if r < 6 || model.is_empty() {
                let member = format!("m{}", rng.below(3000)).into_bytes();
                if model.iter().any(|(_, m)| *m == member) {
                    continue;
                }
                let score = (rng.below(200) as f64) / 4.0 - 10.0;
                sl.insert(score, Sds::from(&member[..]));
                model.push((score, member));
            } else {
                let i = rng.below(model.len() as u64) as usize;
                let (s, m) = model.swap_remove(i);
                assert!(sl.remove(s, &m));
                assert!(!sl.remove(s, &m));
            }
            if step % 500 == 0 {
                sl.check();
            }
            let sorted = model_sorted(&model);
            // Rank of a random element, and seeking by rank.
            if !sorted.is_empty() {
                let i = rng.below(sorted.len() as u64) as usize;
                let (s, m) = &sorted[i];
                assert_eq!(sl.rank(*s, m), Some(i + 1));
                let id = sl.at(i).expect("in range");
                assert_eq!((sl.score(id), sl.member(id)), (*s, &m[..]));
            }
            assert_eq!(sl.at(sorted.len()), None);
            // Range counting by score.
            let lo = (rng.below(200) as f64) / 4.0 - 10.0;
            let below = sl.count_prefix(|s, _| s < lo);
            assert_eq!(below, sorted.iter().filter(|(s, _)| *s < lo).count());
        }
        sl.check();
        let sorted = model_sorted(&model);
        assert!(sl.iter().map(|(m, s)| (s, m.to_vec())).eq(sorted.into_iter()));
        assert_eq!(sl.last().map(|id| sl.member(id).to_vec()), model_sorted(&model).last().map(|x| x.1.clone()));
    }

    #[test]
    fn equal_scores_order_by_member() {
        let mut sl = SkipList::new();
        for m in ["c", "a", "b"] {
            sl.insert(1.0, Sds::from(m));
        }
        sl.insert(0.5, Sds::from("z"));
        let order: Vec<Vec<u8>> = sl.iter().map(|(m, _)| m.to_vec()).collect();
        assert_eq!(order, vec![b"z".to_vec(), b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(sl.rank(1.0, b"b"), Some(3));
        assert_eq!(sl.rank(1.0, b"d"), None);
        assert_eq!(sl.count_prefix(|s, m| s < 1.0 || (s == 1.0 && m < b"b".as_slice())), 2);
    }
}
