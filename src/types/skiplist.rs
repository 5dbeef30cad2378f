//! `SkipList`: the large encoding of a sorted set, one node per member holding the
//! member, its score and its links, plus a hash index over the same nodes.
//!
//! Owns the elements of one large sorted set: order, ranks and member lookup. It knows
//! nothing about encodings, limits or commands (that is `types::zset`). Mirrors Redis's
//! zskiplist plus its member dict: levels drawn with p = 1/4 up to 32, elements ordered
//! by score then by member bytes, spans on every link so that ranks, seeking by rank and
//! counting a range cost O(log N), a backward link on level 0, and member -> node lookup
//! in O(1) through a chained hash table with incremental rehash.
//!
//! Layout, chosen to cost no more memory than Redis's node + sds + dictEntry: nodes live
//! in an arena of fixed-size chunks and are named by `u32` numbers (node 0 is the
//! header). Each node stores the member once (inline when short, see `Sds`), the score,
//! the backward link, its hash chain link, and level 0's link inline; only nodes above
//! level 1 (one in four) own a second allocation with their upper links. Spans are `u32`.
//! The hash index (`IdTable`) stores node numbers only and hashes the member inside the
//! node. The arena stays dense: removing a node moves the last node into its place and
//! re-points the links that named it (an O(log N) search), so memory follows the set's
//! size down as well as up.

use crate::types::arena::ChunkArena;
use crate::types::idtable::{Chained, IdTable, NIL};
use crate::types::sds::Sds;
use crate::util::rand::Rng;

/// Highest level a node can have (enough for 2^64 elements at p = 1/4).
const MAX_LEVEL: usize = 32;

/// The header's number.
const HEAD: u32 = 0;

/// Node handle: valid until the next change to the list.
pub type NodeId = u32;

#[derive(Debug, Clone, Copy)]
struct Link {
    /// Next node on this level (NIL at the end).
    forward: u32,
    /// Level-0 steps from this node to `forward`.
    span: u32,
}

const END: Link = Link { forward: NIL, span: 0 };

#[derive(Debug, Clone)]
struct Node {
    member: Sds,
    score: f64,
    /// Previous node on level 0 (NIL for the first).
    backward: u32,
    /// Next node in the same hash bucket.
    chain: u32,
    /// The level-0 link.
    level0: Link,
    /// Links of levels 1 and up, for nodes above level 1.
    upper: Option<Box<[Link]>>,
}

impl Node {
    fn new(member: Sds, score: f64, level: usize) -> Node {
        let upper = (level > 1).then(|| vec![END; level - 1].into_boxed_slice());
        Node { member, score, backward: NIL, chain: NIL, level0: END, upper }
    }

    fn level(&self) -> usize {
        1 + self.upper.as_ref().map_or(0, |u| u.len())
    }

    fn link(&self, i: usize) -> Link {
        match i {
            0 => self.level0,
            _ => self.upper.as_deref().unwrap_or(&[])[i - 1],
        }
    }

    fn link_mut(&mut self, i: usize) -> &mut Link {
        match i {
            0 => &mut self.level0,
            _ => &mut self.upper.as_deref_mut().unwrap_or(&mut [])[i - 1],
        }
    }
}

/// The nodes, numbered densely (node 0 is the header).
type Arena = ChunkArena<Node>;

impl Chained for ChunkArena<Node> {
    fn key(&self, id: u32) -> &[u8] {
        &self.get(id).member
    }

    fn chain(&self, id: u32) -> u32 {
        self.get(id).chain
    }

    fn set_chain(&mut self, id: u32, next: u32) {
        self.get_mut(id).chain = next;
    }
}

/// The elements of a large sorted set: unique members ordered by `(score, member)`.
#[derive(Debug, Clone)]
pub struct SkipList {
    nodes: Arena,
    index: IdTable,
    tail: u32,
    /// Linked nodes (the header excluded).
    len: usize,
    level: usize,
    rng: Rng,
}

impl Default for SkipList {
    fn default() -> Self {
        SkipList::new()
    }
}

impl SkipList {
    /// An empty list.
    pub fn new() -> SkipList {
        SkipList::with_capacity(0)
    }

    /// An empty list whose member table is sized for `n` members.
    pub fn with_capacity(n: usize) -> SkipList {
        let mut nodes = Arena::default();
        nodes.push(Node::new(Sds::default(), 0.0, MAX_LEVEL));
        let index = if n == 0 { IdTable::new() } else { IdTable::with_capacity(n) };
        SkipList { nodes, index, tail: NIL, len: 0, level: 1, rng: Rng::with_seed(0x9E37_79B9_7F4A_7C15) }
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
        self.nodes.get(id)
    }

    fn n_mut(&mut self, id: u32) -> &mut Node {
        self.nodes.get_mut(id)
    }

    /// The node holding `member`, in O(1).
    pub fn find(&self, member: &[u8]) -> Option<NodeId> {
        self.index.find(&self.nodes, member)
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
        let f = self.n(id).level0.forward;
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
        while level < MAX_LEVEL && (self.rng.next_u64() & 0xFFFF) < 0x4000 {
            level += 1;
        }
        level
    }

    /// True if node `id` sorts before `(score, member)`.
    fn before(&self, id: u32, score: f64, member: &[u8]) -> bool {
        let n = self.n(id);
        n.score < score || (n.score == score && &n.member[..] < member)
    }

    /// For each level, the last node before `(score, member)`, and its rank.
    fn find_update(&self, score: f64, member: &[u8]) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let l = self.n(x).link(i);
                if l.forward != NIL && self.before(l.forward, score, member) {
                    rank[i] += l.span;
                    x = l.forward;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        (update, rank)
    }

    /// The search path to node `x` (which must be linked).
    fn path_to(&self, x: u32) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let n = self.n(x);
        self.find_update(n.score, &n.member)
    }

    /// Inserts `(score, member)`; the member must not be present.
    pub fn insert(&mut self, score: f64, member: Sds) -> NodeId {
        debug_assert!(self.find(&member).is_none(), "SkipList::insert: member present");
        let level = self.random_level();
        let x = self.nodes.push(Node::new(member, score, level));
        self.link_in(x);
        self.index.insert_new(&mut self.nodes, x);
        x
    }

    /// Links the unlinked node `x` into the order at its score and member.
    fn link_in(&mut self, x: u32) {
        let (mut update, mut rank) = self.path_to(x);
        let lvl = self.n(x).level();
        if lvl > self.level {
            for i in self.level..lvl {
                rank[i] = 0;
                update[i] = HEAD;
                self.n_mut(HEAD).link_mut(i).span = self.len as u32;
            }
            self.level = lvl;
        }
        for i in 0..lvl {
            let u = update[i];
            let ul = self.n(u).link(i);
            *self.n_mut(x).link_mut(i) = Link { forward: ul.forward, span: ul.span - (rank[0] - rank[i]) };
            *self.n_mut(u).link_mut(i) = Link { forward: x, span: rank[0] - rank[i] + 1 };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(lvl) {
            self.n_mut(u).link_mut(i).span += 1;
        }
        self.n_mut(x).backward = if update[0] == HEAD { NIL } else { update[0] };
        match self.n(x).level0.forward {
            NIL => self.tail = x,
            f => self.n_mut(f).backward = x,
        }
        self.len += 1;
    }

    /// Unlinks node `x` from the order (its slot stays), given its search path.
    fn unlink(&mut self, x: u32, update: &[u32; MAX_LEVEL]) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let ul = self.n(u).link(i);
            if ul.forward == x {
                let xl = self.n(x).link(i);
                *self.n_mut(u).link_mut(i) = Link { forward: xl.forward, span: ul.span + xl.span - 1 };
            } else {
                self.n_mut(u).link_mut(i).span -= 1;
            }
        }
        let back = self.n(x).backward;
        match self.n(x).level0.forward {
            NIL => self.tail = back,
            f => self.n_mut(f).backward = back,
        }
        while self.level > 1 && self.n(HEAD).link(self.level - 1).forward == NIL {
            self.level -= 1;
        }
        self.len -= 1;
    }

    /// Frees the slot of the unlinked, unindexed node `x`: the last node moves into it
    /// and the links naming the last node (its predecessors on each of its levels, its
    /// successor's backward link or the tail, its hash chain slot) are re-pointed.
    fn release(&mut self, x: u32) {
        let last = (self.nodes.len() - 1) as u32;
        if x != last {
            let (update, _) = self.path_to(last);
            for (i, &u) in update.iter().enumerate().take(self.n(last).level()) {
                debug_assert_eq!(self.n(u).link(i).forward, last);
                self.n_mut(u).link_mut(i).forward = x;
            }
            match self.n(last).level0.forward {
                NIL => self.tail = x,
                f => self.n_mut(f).backward = x,
            }
            if let Some(moved) = self.nodes.pop() {
                *self.n_mut(x) = moved;
            }
            self.index.relocate(&mut self.nodes, last, x);
        } else {
            self.nodes.pop();
        }
    }

    /// Removes `member`, returning its score; None if absent.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let x = self.index.remove(&mut self.nodes, member)?;
        let score = self.n(x).score;
        let (update, _) = self.path_to(x);
        self.unlink(x, &update);
        self.release(x);
        Some(score)
    }

    /// Gives node `x` a new score, moving it only when its place in the order changes.
    pub fn set_score(&mut self, x: NodeId, score: f64) {
        let n = self.n(x);
        let stays = (n.backward == NIL || self.before(n.backward, score, &n.member))
            && (n.level0.forward == NIL || {
                let f = self.n(n.level0.forward);
                f.score > score || (f.score == score && f.member[..] > n.member[..])
            });
        if !stays {
            let (update, _) = self.path_to(x);
            self.unlink(x, &update);
            self.n_mut(x).score = score;
            self.link_in(x);
        } else {
            self.n_mut(x).score = score;
        }
    }

    /// 0-based rank of node `x`.
    pub fn rank(&self, x: NodeId) -> usize {
        let (_, rank) = self.path_to(x);
        rank[0] as usize
    }

    /// The node at 0-based position `i` in order.
    pub fn at(&self, i: usize) -> Option<NodeId> {
        if i >= self.len {
            return None;
        }
        let target = i as u32 + 1;
        let mut traversed = 0;
        let mut x = HEAD;
        for lv in (0..self.level).rev() {
            loop {
                let l = self.n(x).link(lv);
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
        let mut rank = 0usize;
        let mut x = HEAD;
        for lv in (0..self.level).rev() {
            loop {
                let l = self.n(x).link(lv);
                if l.forward == NIL {
                    break;
                }
                let f = self.n(l.forward);
                if !pred(f.score, &f.member) {
                    break;
                }
                rank += l.span as usize;
                x = l.forward;
            }
        }
        rank
    }

    /// Every `(member, score)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        std::iter::successors(self.first(), move |&id| self.next(id)).map(move |id| (self.member(id), self.score(id)))
    }

    /// One ZSCAN step over the member table (`Dict::scan`'s cursor contract).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], f64)) -> u64 {
        self.index.scan(&self.nodes, cursor, |id| f(self.member(id), self.score(id)))
    }

    /// Shrinks the member table when it became sparse (Redis checks after deletions).
    pub fn try_shrink(&mut self) {
        self.index.try_shrink();
    }

    /// The `DEBUG HTSTATS-KEY` text of the member table.
    pub fn stats(&self) -> String {
        self.index.stats(&self.nodes)
    }

    /// Checks the structural invariants (spans, backward links, order, index, dense
    /// arena); for tests.
    #[cfg(test)]
    fn check(&self) {
        let ids: Vec<u32> = std::iter::successors(self.first(), |&id| self.next(id)).collect();
        assert_eq!(ids.len(), self.len);
        assert_eq!(self.nodes.len(), self.len + 1, "arena is dense");
        assert_eq!(self.index.len(), self.len);
        assert_eq!(self.last(), ids.last().copied());
        assert_eq!(self.first().map_or(NIL, |f| self.n(f).backward), NIL);
        for w in ids.windows(2) {
            assert!(self.before(w[0], self.score(w[1]), self.member(w[1])));
            assert_eq!(self.n(w[1]).backward, w[0]);
        }
        for &id in &ids {
            assert_eq!(self.find(self.member(id)), Some(id));
            assert!(self.n(id).level() <= self.level);
        }
        let pos: std::collections::HashMap<u32, u32> =
            ids.iter().enumerate().map(|(i, &id)| (id, i as u32 + 1)).collect();
        for lv in 0..self.level {
            let mut x = HEAD;
            let mut r = 0;
            loop {
                let l = self.n(x).link(lv);
                if l.forward == NIL {
                    break;
                }
                assert_eq!(r + l.span, pos[&l.forward], "span at level {lv}");
                r += l.span;
                x = l.forward;
            }
        }
        assert!(self.n(HEAD).link(self.level - 1).forward != NIL || self.level == 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// xorshift64: the test's own replayable randomness.
    struct XorShift(u64);
    impl XorShift {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// The model: member -> score, ordered views computed naively.
    fn sorted(model: &BTreeMap<Vec<u8>, f64>) -> Vec<(f64, Vec<u8>)> {
        let mut v: Vec<(f64, Vec<u8>)> = model.iter().map(|(m, s)| (*s, m.clone())).collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        v
    }

    /// Random inserts, removals and rescoring (members short and long, so both inline
    /// and heap `Sds`), checked against the model after every step: lookups, ranks,
    /// seeking by rank, prefix counts, both iteration directions, and the invariants.
    #[test]
    fn random_ops_match_a_model() {
        for seed in [1u64, 0xDEAD_BEEF, 2024] {
            let mut rng = XorShift(seed);
            let mut sl = SkipList::new();
            let mut model: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
            for step in 0..4000 {
                // Grow for a while, then shrink, so the arena and the table both resize.
                let grow = step < 2500;
                let id = rng.below(1500);
                let member =
                    if id % 7 == 0 { format!("long-member-name-{id:040}") } else { format!("m{id}") }.into_bytes();
                let score = rng.below(60) as f64 / 4.0 - 5.0;
                match rng.below(10) {
                    0..=5 if grow => {
                        if let std::collections::btree_map::Entry::Vacant(e) = model.entry(member.clone()) {
                            e.insert(score);
                            sl.insert(score, Sds::from(&member[..]));
                        }
                    }
                    6 | 7 => {
                        let got = sl.find(&member);
                        assert_eq!(got.is_some(), model.contains_key(&member));
                        if let Some(x) = got {
                            sl.set_score(x, score);
                            model.insert(member, score);
                        }
                    }
                    _ => {
                        assert_eq!(sl.remove(&member), model.remove(&member));
                        sl.try_shrink();
                    }
                }
                assert_eq!(sl.len(), model.len());
                let want = sorted(&model);
                if step % 97 == 0 {
                    sl.check();
                    assert!(sl.iter().map(|(m, s)| (s, m.to_vec())).eq(want.iter().cloned()));
                    let back: Vec<(f64, Vec<u8>)> = std::iter::successors(sl.last(), |&x| sl.prev(x))
                        .map(|x| (sl.score(x), sl.member(x).to_vec()))
                        .collect();
                    assert!(back.iter().rev().eq(want.iter()));
                }
                if !want.is_empty() {
                    let i = rng.below(want.len() as u64) as usize;
                    let (s, m) = &want[i];
                    let x = sl.find(m).expect("present");
                    assert_eq!((sl.score(x), sl.rank(x)), (*s, i));
                    assert_eq!(sl.at(i), Some(x));
                }
                assert_eq!(sl.at(want.len()), None);
                let lo = rng.below(60) as f64 / 4.0 - 5.0;
                assert_eq!(sl.count_prefix(|s, _| s < lo), want.iter().filter(|(s, _)| *s < lo).count());
            }
            sl.check();
            // Empty it completely: the arena returns to the header and its chunks go.
            let members: Vec<Vec<u8>> = model.keys().cloned().collect();
            for m in &members {
                assert!(sl.remove(m).is_some());
            }
            sl.check();
            assert!(sl.is_empty() && sl.first().is_none() && sl.last().is_none());
            assert!(sl.nodes.chunk_count() <= 2);
        }
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
        assert_eq!(sl.find(b"b").map(|x| sl.rank(x)), Some(2));
        assert_eq!(sl.find(b"d"), None);
        assert_eq!(sl.count_prefix(|s, m| s < 1.0 || (s == 1.0 && m < b"b".as_slice())), 2);
        // Rescoring in place and across the order.
        let b = sl.find(b"b").expect("present");
        sl.set_score(b, 1.0);
        sl.set_score(b, -1.0);
        assert_eq!(sl.first(), Some(b));
        sl.check();
    }

    #[test]
    fn large_list_spans_chunks_and_clones() {
        let mut sl = SkipList::with_capacity(5000);
        for i in 0..5000u32 {
            sl.insert(f64::from(i % 100), Sds::from(format!("e{i}").as_str()));
        }
        let copy = sl.clone();
        for i in (0..5000u32).step_by(3) {
            assert!(sl.remove(format!("e{i}").as_bytes()).is_some());
        }
        sl.check();
        copy.check();
        assert_eq!(copy.len(), 5000);
        assert_eq!(sl.len(), 5000 - 1667);
        assert!(sl.stats().contains("number of elements: 3333"));
    }

    #[test]
    fn node_stays_small() {
        // The layout the memory budget relies on: 64 bytes per node in the arena.
        assert!(std::mem::size_of::<Node>() <= 64);
    }
}
