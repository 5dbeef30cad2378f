//! The list value: a quicklist, as Redis 7.0 stores every list (`OBJECT
//! ENCODING` says `quicklist`). A deque of nodes; each node is either a
//! listpack holding several entries, bounded by `list-max-listpack-size`
//! (negative: a byte budget of 4/8/16/32/64 KiB; positive: an entry count,
//! with an 8 KiB safety cap), or a "plain" node holding one element at least
//! as large as the packed threshold (`DEBUG QUICKLIST-PACKED-THRESHOLD`).
//!
//! Pure data structure: the fill factor and compress depth are captured when
//! a list is created (as Redis does), the packed threshold is passed in by
//! callers. Compression (`list-compress-depth`) is recorded and reported but
//! nodes are kept uncompressed. Mirrors quicklist.c's rules for when a node
//! takes another entry, when a new node is made, how a full node is split on
//! insert, and when neighbours merge.

use std::collections::VecDeque;

use super::listpack::{self, Listpack, LpValue};

/// Byte budgets for negative fill factors -1..-5.
const SIZE_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// With a count-based fill, a node still never grows beyond this many bytes.
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Slack added to an element's size when estimating a node's growth.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// Largest count-based fill factor.
const FILL_MAX: i64 = (1 << 15) - 1;
/// Default packed threshold: elements of 1 GiB and more get a plain node.
pub const DEFAULT_PACKED_THRESHOLD: usize = 1 << 30;

/// One quicklist node.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    /// Several entries in one listpack.
    Packed(Listpack),
    /// One large element on its own.
    Plain(Vec<u8>),
}

impl Node {
    fn count(&self) -> usize {
        match self {
            Node::Packed(lp) => lp.len(),
            Node::Plain(_) => 1,
        }
    }

    /// Bytes the node holds (Redis's `node->sz`).
    fn size(&self) -> usize {
        match self {
            Node::Packed(lp) => lp.bytes(),
            Node::Plain(v) => v.len(),
        }
    }

    fn single(ele: &[u8]) -> Node {
        let mut lp = Listpack::new();
        lp.push_back(ele);
        Node::Packed(lp)
    }
}

/// One node as RDB sees it: a listpack of entries, or one plain element.
#[derive(Debug, Clone, Copy)]
pub enum NodeView<'a> {
    /// A packed node.
    Packed(&'a Listpack),
    /// A plain node.
    Plain(&'a [u8]),
}

/// A place in the list: node index and byte offset inside a packed node
/// (0 for a plain node). Valid until the next mutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    node: usize,
    off: usize,
}

/// A list (quicklist encoding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
    fill: i32,
    compress: u32,
}

/// True when `sz` fits the byte budget of a negative fill factor.
fn meets_size_level(sz: usize, fill: i32) -> bool {
    if fill >= 0 {
        return false;
    }
    SIZE_LEVELS.get((-(fill as i64) - 1) as usize).is_some_and(|&lim| sz <= lim)
}

impl List {
    /// An empty list with `list-max-listpack-size` = `fill` (clamped to
    /// -5..=32767 as Redis clamps it) and `list-compress-depth` = `compress`.
    pub fn new(fill: i64, compress: i64) -> List {
        let fill = fill.clamp(-5, FILL_MAX) as i32;
        List { nodes: VecDeque::new(), len: 0, fill, compress: compress.clamp(0, u16::MAX as i64) as u32 }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of nodes (DEBUG OBJECT `ql_nodes`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The fill factor in force (DEBUG OBJECT `ql_listpack_max`).
    pub fn fill(&self) -> i32 {
        self.fill
    }

    /// The compress depth recorded at creation.
    pub fn compress_depth(&self) -> u32 {
        self.compress
    }

    /// Sum of the nodes' byte sizes (DEBUG OBJECT `ql_uncompressed_size`).
    pub fn byte_size(&self) -> usize {
        self.nodes.iter().map(Node::size).sum()
    }

    /// Whether `node` may take one more element of `sz` bytes (Redis's
    /// `_quicklistNodeAllowInsert`).
    fn allow_insert(&self, node: Option<&Node>, sz: usize, thresh: usize) -> bool {
        let Some(Node::Packed(lp)) = node else { return false };
        if sz >= thresh {
            return false;
        }
        let new_sz = lp.bytes() + sz + SIZE_ESTIMATE_OVERHEAD;
        if meets_size_level(new_sz, self.fill) {
            true
        } else if new_sz > SIZE_SAFETY_LIMIT {
            false
        } else {
            (lp.len() as i64) < self.fill as i64
        }
    }

    /// Whether two adjacent nodes may become one (`_quicklistNodeAllowMerge`).
    fn allow_merge(&self, a: usize, b: usize) -> bool {
        let (Some(Node::Packed(x)), Some(Node::Packed(y))) = (self.nodes.get(a), self.nodes.get(b)) else {
            return false;
        };
        let merged = (x.bytes() + y.bytes()).saturating_sub(11);
        if meets_size_level(merged, self.fill) {
            true
        } else if merged > SIZE_SAFETY_LIMIT {
            false
        } else {
            (x.len() + y.len()) as i64 <= self.fill as i64
        }
    }

    /// Merges node `a + 1` into node `a` if allowed; true if merged.
    fn try_merge(&mut self, a: usize) -> bool {
        if !self.allow_merge(a, a + 1) {
            return false;
        }
        let Some(Node::Packed(right)) = self.nodes.remove(a + 1) else { return false };
        if let Some(Node::Packed(left)) = self.nodes.get_mut(a) {
            left.append_all(&right);
        }
        true
    }

    /// Adds `ele` at the head. Elements of `thresh` bytes or more get a plain node.
    pub fn push_front(&mut self, ele: &[u8], thresh: usize) {
        self.len += 1;
        if ele.len() >= thresh {
            self.nodes.push_front(Node::Plain(ele.to_vec()));
        } else if self.allow_insert(self.nodes.front(), ele.len(), thresh) {
            if let Some(Node::Packed(lp)) = self.nodes.front_mut() {
                lp.push_front(ele);
            }
        } else {
            // The full head node will not grow again: give back its slack.
            if let Some(Node::Packed(lp)) = self.nodes.front_mut() {
                lp.shrink_to_fit();
            }
            self.nodes.push_front(Node::single(ele));
        }
    }

    /// Adds `ele` at the tail. Elements of `thresh` bytes or more get a plain node.
    pub fn push_back(&mut self, ele: &[u8], thresh: usize) {
        self.len += 1;
        if ele.len() >= thresh {
            self.nodes.push_back(Node::Plain(ele.to_vec()));
        } else if self.allow_insert(self.nodes.back(), ele.len(), thresh) {
            if let Some(Node::Packed(lp)) = self.nodes.back_mut() {
                lp.push_back(ele);
            }
        } else {
            // The full tail node will not grow again: give back its slack.
            if let Some(Node::Packed(lp)) = self.nodes.back_mut() {
                lp.shrink_to_fit();
            }
            self.nodes.push_back(Node::single(ele));
        }
    }

    /// Removes and returns the head element.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let c = self.first()?;
        let v = self.value(c).to_vec();
        self.delete_at(c);
        Some(v)
    }

    /// Removes and returns the tail element.
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let c = self.last()?;
        let v = self.value(c).to_vec();
        self.delete_at(c);
        Some(v)
    }

    fn node_first(&self, node: usize) -> Option<Cursor> {
        match self.nodes.get(node)? {
            Node::Packed(lp) => lp.first().map(|off| Cursor { node, off }),
            Node::Plain(_) => Some(Cursor { node, off: 0 }),
        }
    }

    fn node_last(&self, node: usize) -> Option<Cursor> {
        match self.nodes.get(node)? {
            Node::Packed(lp) => lp.last().map(|off| Cursor { node, off }),
            Node::Plain(_) => Some(Cursor { node, off: 0 }),
        }
    }

    /// The head element's place.
    pub fn first(&self) -> Option<Cursor> {
        self.node_first(0)
    }

    /// The tail element's place.
    pub fn last(&self) -> Option<Cursor> {
        self.node_last(self.nodes.len().checked_sub(1)?)
    }

    /// The element after `c`.
    pub fn next(&self, c: Cursor) -> Option<Cursor> {
        if let Some(Node::Packed(lp)) = self.nodes.get(c.node) {
            if let Some(off) = lp.next(c.off) {
                return Some(Cursor { node: c.node, off });
            }
        }
        self.node_first(c.node + 1)
    }

    /// The element before `c`.
    pub fn prev(&self, c: Cursor) -> Option<Cursor> {
        if let Some(Node::Packed(lp)) = self.nodes.get(c.node) {
            if let Some(off) = lp.prev(c.off) {
                return Some(Cursor { node: c.node, off });
            }
        }
        self.node_last(c.node.checked_sub(1)?)
    }

    /// The element at `c`.
    pub fn value(&self, c: Cursor) -> LpValue<'_> {
        match &self.nodes[c.node] {
            Node::Packed(lp) => lp.get(c.off),
            Node::Plain(v) => LpValue::Str(v),
        }
    }

    /// The place of element `index` (negative counts from the tail), walking
    /// nodes from the nearer end.
    pub fn cursor_at(&self, index: i64) -> Option<Cursor> {
        let len = self.len as i64;
        let idx = if index < 0 { len.checked_add(index)? } else { index };
        if idx < 0 || idx >= len {
            return None;
        }
        let idx = idx as usize;
        if idx <= self.len / 2 {
            let mut seen = 0;
            for (n, node) in self.nodes.iter().enumerate() {
                let cnt = node.count();
                if idx < seen + cnt {
                    return self.cursor_in(n, idx - seen);
                }
                seen += cnt;
            }
        } else {
            let mut seen = self.len;
            for (n, node) in self.nodes.iter().enumerate().rev() {
                let cnt = node.count();
                seen -= cnt;
                if idx >= seen {
                    return self.cursor_in(n, idx - seen);
                }
            }
        }
        None
    }

    fn cursor_in(&self, node: usize, i: usize) -> Option<Cursor> {
        match &self.nodes[node] {
            Node::Packed(lp) => lp.seek(i as i64).map(|off| Cursor { node, off }),
            Node::Plain(_) => Some(Cursor { node, off: 0 }),
        }
    }

    /// Element `index` (negative from the tail), if in range.
    pub fn get(&self, index: i64) -> Option<LpValue<'_>> {
        self.cursor_at(index).map(|c| self.value(c))
    }

    /// Deletes the element at `c`. Returns the place of the element that
    /// followed it, if any.
    pub fn delete_at(&mut self, c: Cursor) -> Option<Cursor> {
        self.len -= 1;
        let (emptied, next_off) = match &mut self.nodes[c.node] {
            Node::Packed(lp) => {
                let p = lp.delete_at(c.off);
                (lp.is_empty(), if p < lp.end() { Some(p) } else { None })
            }
            Node::Plain(_) => (true, None),
        };
        if emptied {
            self.nodes.remove(c.node);
            return self.node_first(c.node);
        }
        match next_off {
            Some(off) => Some(Cursor { node: c.node, off }),
            None => self.node_first(c.node + 1),
        }
    }

    /// Deletes `count` elements starting at `start` (negative from the tail),
    /// clamped to the list (Redis's `quicklistDelRange`). Returns how many went.
    pub fn delete_range(&mut self, start: i64, count: usize) -> usize {
        let len = self.len as i64;
        let s = if start < 0 { len + start } else { start };
        if s < 0 || s >= len || count == 0 {
            return 0;
        }
        let mut s = s as usize;
        let mut left = count.min(self.len - s);
        let removed = left;
        let mut n = 0;
        let mut seen = 0;
        // Find the first node touched.
        while n < self.nodes.len() {
            let cnt = self.nodes[n].count();
            if s < seen + cnt {
                break;
            }
            seen += cnt;
            n += 1;
        }
        s -= seen;
        while left > 0 && n < self.nodes.len() {
            let cnt = self.nodes[n].count();
            if s == 0 && left >= cnt {
                self.nodes.remove(n);
                left -= cnt;
                continue;
            }
            let take = left.min(cnt - s);
            if let Node::Packed(lp) = &mut self.nodes[n] {
                if let Some(p) = lp.seek(s as i64) {
                    lp.delete_range_at(p, take);
                }
            }
            left -= take;
            s = 0;
            n += 1;
        }
        self.len -= removed;
        removed
    }

    /// Inserts `ele` before or after the element at `c` (Redis's
    /// `_quicklistInsert`): into the same node if it has room, into the
    /// neighbour when inserting at a full node's edge, into a new node when
    /// both are full, otherwise by splitting the node and merging around it.
    pub fn insert(&mut self, c: Cursor, ele: &[u8], after: bool, thresh: usize) {
        let sz = ele.len();
        let n = c.node;
        let (at_head, at_tail) = match &self.nodes[n] {
            Node::Packed(lp) => (lp.first() == Some(c.off), lp.last() == Some(c.off)),
            Node::Plain(_) => (true, true),
        };
        let full = !self.allow_insert(self.nodes.get(n), sz, thresh);
        self.len += 1;
        if sz >= thresh {
            if matches!(self.nodes[n], Node::Plain(_)) || (after && at_tail) || (!after && at_head) {
                self.nodes.insert(if after { n + 1 } else { n }, Node::Plain(ele.to_vec()));
            } else {
                let tail = self.split_node(n, c.off, after);
                self.nodes.insert(n + 1, Node::Plain(ele.to_vec()));
                self.nodes.insert(n + 2, tail);
            }
            return;
        }
        if !full {
            if let Node::Packed(lp) = &mut self.nodes[n] {
                let at = if after { lp.next(c.off).unwrap_or(lp.end()) } else { c.off };
                lp.insert_at(at, ele);
            }
            return;
        }
        if after && at_tail && self.allow_insert(self.nodes.get(n + 1), sz, thresh) {
            if let Some(Node::Packed(lp)) = self.nodes.get_mut(n + 1) {
                lp.push_front(ele);
            }
            return;
        }
        if !after && at_head && n > 0 && self.allow_insert(self.nodes.get(n - 1), sz, thresh) {
            if let Some(Node::Packed(lp)) = self.nodes.get_mut(n - 1) {
                lp.push_back(ele);
            }
            return;
        }
        if (after && at_tail) || (!after && at_head) {
            self.nodes.insert(if after { n + 1 } else { n }, Node::single(ele));
            return;
        }
        // A full packed node, inserting in its middle: split it.
        let mut tail = self.split_node(n, c.off, after);
        if after {
            if let Node::Packed(lp) = &mut tail {
                lp.push_front(ele);
            }
        } else if let Node::Packed(lp) = &mut self.nodes[n] {
            lp.push_back(ele);
        }
        self.nodes.insert(n + 1, tail);
        // Merge around the two halves, as Redis does after a split.
        if n + 2 < self.nodes.len() {
            self.try_merge(n + 1);
        }
        if n > 0 {
            self.try_merge(n - 1);
        }
    }

    /// Splits packed node `n` at the entry at `off`: with `after` the entry
    /// stays in the left half, otherwise it starts the right half. Returns
    /// the right half (not yet inserted).
    fn split_node(&mut self, n: usize, off: usize, after: bool) -> Node {
        match &mut self.nodes[n] {
            Node::Packed(lp) => {
                let at = if after { lp.next(off).unwrap_or(lp.end()) } else { off };
                Node::Packed(lp.split_off(at))
            }
            Node::Plain(_) => Node::Packed(Listpack::new()),
        }
    }

    /// Replaces element `index` with `ele`; false if out of range (Redis's
    /// `quicklistReplaceAtIndex`, including the packed/plain transitions).
    pub fn set(&mut self, index: i64, ele: &[u8], thresh: usize) -> bool {
        let Some(c) = self.cursor_at(index) else { return false };
        let large = ele.len() >= thresh;
        match &mut self.nodes[c.node] {
            Node::Packed(lp) if !large => {
                lp.replace_at(c.off, ele);
                return true;
            }
            Node::Plain(v) if large => {
                *v = ele.to_vec();
                return true;
            }
            _ => {}
        }
        // Changing between plain and packed: insert the new element after
        // the old one, then delete the old one.
        let node_count = self.nodes[c.node].count();
        self.insert(c, ele, true, thresh);
        if node_count == 1 || !matches!(self.nodes[c.node], Node::Packed(_)) {
            // The old element's node holds only it (a plain node, or a
            // single-entry listpack): drop that node.
            self.len -= 1;
            self.nodes.remove(c.node);
        } else {
            // The old element is still at `c` in its (possibly split) node.
            self.delete_at(c);
        }
        true
    }

    /// Every element, head to tail.
    pub fn iter(&self) -> Iter<'_> {
        Iter { list: self, cur: self.first(), forward: true }
    }

    /// Elements starting at `index` (which must be in range, else nothing),
    /// going towards the tail (`forward`) or the head.
    pub fn iter_from(&self, index: i64, forward: bool) -> Iter<'_> {
        Iter { list: self, cur: self.cursor_at(index), forward }
    }

    /// Calls `f` on up to `n` elements from `index` toward the tail. Each
    /// packed node is walked in one loop that the caller's `f` is inlined
    /// into (LRANGE's reply path: `iter_from` costs a call per element).
    pub fn for_each_from(&self, index: i64, n: usize, mut f: impl FnMut(LpValue<'_>)) {
        let mut cur = self.cursor_at(index);
        let mut left = n;
        while let Some(c) = cur.filter(|_| left > 0) {
            match &self.nodes[c.node] {
                Node::Packed(lp) => {
                    let mut p = Some(c.off);
                    while let Some(pos) = p.filter(|_| left > 0) {
                        let (v, next) = lp.get_and_next(pos);
                        f(v);
                        left -= 1;
                        p = next;
                    }
                }
                Node::Plain(v) => {
                    f(LpValue::Str(v));
                    left -= 1;
                }
            }
            cur = self.node_first(c.node + 1);
        }
    }

    /// Removes up to `count` elements equal to `ele` (all when 0), scanning
    /// from the tail when `from_tail`. Returns how many went (LREM).
    pub fn remove_matching(&mut self, ele: &[u8], count: usize, from_tail: bool) -> usize {
        let mut removed = 0;
        let mut cur = if from_tail { self.last() } else { self.first() };
        while let Some(c) = cur {
            if !self.value(c).eq_bytes(ele) {
                cur = if from_tail { self.prev(c) } else { self.next(c) };
                continue;
            }
            // Entries before `c` keep their places when `c` is deleted (its
            // node may vanish, but nodes before it keep their indexes), so
            // the backwards successor can be taken first.
            let before = if from_tail { self.prev(c) } else { None };
            let after = self.delete_at(c);
            removed += 1;
            if count != 0 && removed == count {
                break;
            }
            cur = if from_tail { before } else { after };
        }
        removed
    }

    /// Approximate heap bytes owned by the list (MEMORY USAGE): the node
    /// array plus every node's buffer.
    pub fn mem_usage(&self) -> usize {
        std::mem::size_of::<List>()
            + self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.nodes.iter().map(Node::size).sum::<usize>()
    }

    /// Elements as owned vectors (tests, debugging).
    pub fn to_vecs(&self) -> Vec<Vec<u8>> {
        self.iter().map(|v| v.to_vec()).collect()
    }

    /// The nodes from head to tail (RDB save writes them as they are).
    pub fn nodes(&self) -> impl Iterator<Item = NodeView<'_>> + '_ {
        self.nodes.iter().map(|n| match n {
            Node::Packed(lp) => NodeView::Packed(lp),
            Node::Plain(v) => NodeView::Plain(v),
        })
    }

    /// Appends a whole packed node as is (RDB load, like Redis's
    /// quicklistAppendListpack); empty listpacks are ignored.
    pub fn append_packed_node(&mut self, lp: Listpack) {
        if !lp.is_empty() {
            self.len += lp.len();
            self.nodes.push_back(Node::Packed(lp));
        }
    }

    /// Appends a plain node holding `ele` (RDB load, quicklistAppendPlainNode).
    pub fn append_plain_node(&mut self, ele: Vec<u8>) {
        self.len += 1;
        self.nodes.push_back(Node::Plain(ele));
    }

    /// Node sizes as (entries, bytes, plain) triples (tests, DEBUG).
    pub fn node_shapes(&self) -> Vec<(usize, usize, bool)> {
        self.nodes.iter().map(|n| (n.count(), n.size(), matches!(n, Node::Plain(_)))).collect()
    }
}

/// Iterator over list elements in one direction.
pub struct Iter<'a> {
    list: &'a List,
    cur: Option<Cursor>,
    forward: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = LpValue<'a>;

    fn next(&mut self) -> Option<LpValue<'a>> {
        let c = self.cur?;
        if self.forward {
            // One decode gives both the value and where the next entry starts.
            if let Some(Node::Packed(lp)) = self.list.nodes.get(c.node) {
                let (v, next) = lp.get_and_next(c.off);
                self.cur = match next {
                    Some(off) => Some(Cursor { node: c.node, off }),
                    None => self.list.node_first(c.node + 1),
                };
                return Some(v);
            }
        }
        let v = self.list.value(c);
        self.cur = if self.forward { self.list.next(c) } else { self.list.prev(c) };
        Some(v)
    }
}

/// Encoded size of an element inside a node (exposed for memory estimates).
pub fn element_size(ele: &[u8]) -> usize {
    listpack::entry_size(ele)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn element(r: &mut Rng) -> Vec<u8> {
        match r.below(5) {
            0 => r.below(1000).to_string().into_bytes(),
            1 => format!("-{}", r.next() % 100_000).into_bytes(),
            2 => vec![b'a' + r.below(3) as u8; r.below(30)],
            3 => vec![b'x'; 100 + r.below(600)],
            _ => (r.next() as i64).to_string().into_bytes(),
        }
    }

    fn check(l: &List, model: &VecDeque<Vec<u8>>) {
        assert_eq!(l.len(), model.len());
        let fwd = l.to_vecs();
        assert_eq!(fwd.len(), model.len());
        assert!(fwd.iter().zip(model.iter()).all(|(a, b)| a == b));
        let back: Vec<Vec<u8>> = l.iter_from(-1, false).map(|v| v.to_vec()).collect();
        assert!(back.iter().rev().zip(model.iter()).all(|(a, b)| a == b));
        assert_eq!(l.node_shapes().iter().map(|s| s.0).sum::<usize>(), model.len());
        assert!(l.node_shapes().iter().all(|s| s.0 > 0), "no empty nodes");
    }

    #[test]
    fn node_size_rules() {
        // Count-based fill: exactly `fill` entries per node.
        let mut l = List::new(3, 0);
        for i in 0..10 {
            l.push_back(i.to_string().as_bytes(), DEFAULT_PACKED_THRESHOLD);
        }
        assert_eq!(l.node_shapes().iter().map(|s| s.0).collect::<Vec<_>>(), vec![3, 3, 3, 1]);
        // Byte-based fill -2 (8 KiB): 500-byte elements, 16 fit under the budget.
        let mut l = List::new(-2, 0);
        for _ in 0..40 {
            l.push_front(&[b'z'; 500], DEFAULT_PACKED_THRESHOLD);
        }
        let shapes = l.node_shapes();
        assert!(shapes.iter().all(|s| s.1 <= 8192), "{shapes:?}");
        assert_eq!(shapes[0].0, 40 - 2 * shapes[1].0);
        assert_eq!(l.fill(), -2);
        // Clamping, as quicklistSetFill does.
        assert_eq!(List::new(-100, 0).fill(), -5);
        assert_eq!(List::new(1 << 20, 0).fill(), 32767);
        // Large elements get plain nodes.
        let mut l = List::new(-2, 0);
        l.push_back(b"small", 6);
        l.push_back(b"bigger", 6);
        l.push_back(b"tiny", 6);
        assert_eq!(l.node_shapes(), vec![(1, 14, false), (1, 6, true), (1, 13, false)]);
    }

    #[test]
    fn set_switches_between_plain_and_packed() {
        let th = 5;
        let mut l = List::new(-2, 0);
        for e in ["aa", "bb", "cc", "dd", "ee"] {
            l.push_back(e.as_bytes(), th);
        }
        assert!(l.set(2, b"eeeeeeeeee", th));
        assert_eq!(
            l.to_vecs(),
            vec![b"aa".to_vec(), b"bb".to_vec(), b"eeeeeeeeee".to_vec(), b"dd".to_vec(), b"ee".to_vec()]
        );
        assert!(l.set(2, b"cc", th));
        assert!(l.set(-1, b"ffffffffff", th));
        assert!(l.set(0, b"gggggggggg", th));
        assert_eq!(l.len(), 5);
        assert_eq!(l.to_vecs()[0], b"gggggggggg".to_vec());
        assert_eq!(l.to_vecs()[4], b"ffffffffff".to_vec());
        assert!(!l.set(5, b"x", th));
        assert!(!l.set(-6, b"x", th));
        // The "split quicklist node wrongly" regression.
        let mut l = List::new(-2, 0);
        l.push_front(b"aa", 10);
        l.push_front(b"bb", 10);
        assert!(l.set(-2, &[b'x'; 10], 10));
        assert_eq!(l.pop_back(), Some(b"aa".to_vec()));
        assert_eq!(l.to_vecs(), vec![vec![b'x'; 10]]);
    }

    #[test]
    fn matches_a_model_under_random_operations() {
        let mut r = Rng(0x1234_5678_9abc_def1);
        for round in 0..60 {
            let fill = [1i64, 2, 3, 5, 16, -1, -2][round % 7];
            let th = if round % 3 == 0 { 300 } else { DEFAULT_PACKED_THRESHOLD };
            let mut l = List::new(fill, 0);
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for _ in 0..400 {
                match r.below(9) {
                    0 | 1 => {
                        let e = element(&mut r);
                        l.push_back(&e, th);
                        m.push_back(e);
                    }
                    2 => {
                        let e = element(&mut r);
                        l.push_front(&e, th);
                        m.push_front(e);
                    }
                    3 => assert_eq!(l.pop_front(), m.pop_front()),
                    4 => assert_eq!(l.pop_back(), m.pop_back()),
                    5 if !m.is_empty() => {
                        let i = r.below(m.len());
                        let after = r.below(2) == 0;
                        let e = element(&mut r);
                        let c = l.cursor_at(i as i64).unwrap();
                        l.insert(c, &e, after, th);
                        m.insert(if after { i + 1 } else { i }, e);
                    }
                    6 if !m.is_empty() => {
                        let i = r.below(m.len());
                        let e = element(&mut r);
                        assert!(l.set(i as i64 - m.len() as i64, &e, th));
                        m[i] = e;
                    }
                    7 if !m.is_empty() => {
                        let s = r.below(m.len());
                        let n = r.below(8);
                        let got = l.delete_range(s as i64, n);
                        let want = n.min(m.len() - s);
                        assert_eq!(got, want);
                        m.drain(s..s + want);
                    }
                    8 if !m.is_empty() => {
                        let target = m[r.below(m.len())].clone();
                        let count = r.below(3);
                        let from_tail = r.below(2) == 0;
                        let got = l.remove_matching(&target, count, from_tail);
                        let mut removed = 0;
                        if from_tail {
                            let mut i = m.len();
                            while i > 0 && (count == 0 || removed < count) {
                                i -= 1;
                                if m[i] == target {
                                    m.remove(i);
                                    removed += 1;
                                }
                            }
                        } else {
                            let mut i = 0;
                            while i < m.len() && (count == 0 || removed < count) {
                                if m[i] == target {
                                    m.remove(i);
                                    removed += 1;
                                } else {
                                    i += 1;
                                }
                            }
                        }
                        assert_eq!(got, removed);
                    }
                    _ => {}
                }
                check(&l, &m);
                for _ in 0..3 {
                    if m.is_empty() {
                        break;
                    }
                    let i = r.below(m.len());
                    assert!(l.get(i as i64).unwrap().eq_bytes(&m[i]));
                    assert!(l.get(i as i64 - m.len() as i64).unwrap().eq_bytes(&m[i]));
                }
                assert!(l.get(m.len() as i64).is_none());
                // A range walk from a random start (either sign) for a random count.
                if !m.is_empty() {
                    let s = r.below(m.len());
                    let n = r.below(m.len() + 3);
                    let signed = if r.below(2) == 0 { s as i64 } else { s as i64 - m.len() as i64 };
                    let mut got = Vec::new();
                    l.for_each_from(signed, n, |v| got.push(v.to_vec()));
                    assert!(got.iter().eq(m.iter().skip(s).take(n)));
                }
            }
        }
    }
}
