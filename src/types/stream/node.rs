//! One stream node: a listpack of entries whose IDs are stored as deltas from
//! the node's master ID (the key the node is filed under), in the layout
//! Redis 7.0 uses.
//!
//! Layout: a master entry `live-count, deleted-count, num-fields, field..., 0`
//! then, per entry, `flags, ms-delta, seq-delta, [num-fields, field, value |
//! value]..., lp-count`. An entry whose field names equal the master's carries
//! the SAMEFIELDS flag and stores only its values. Deleting an entry only sets
//! its DELETED flag and moves one unit from the live to the deleted count;
//! the node is dropped by its owner once no live entry remains.
//!
//! Owns the node format only: ordering between nodes, lengths and IDs of the
//! whole stream belong to `Stream`.

use super::StreamId;
use crate::types::listpack::{Listpack, LpValue};

/// Entry flag: the entry was deleted (a tombstone).
pub const FLAG_DELETED: i64 = 1;
/// Entry flag: the entry's field names are the master entry's.
pub const FLAG_SAMEFIELDS: i64 = 2;

/// A node: the listpack holding the master entry and its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The encoded node.
    pub lp: Listpack,
}

/// Where one entry sits inside its node. Plain positions, so it can be kept
/// while the node is only read.
#[derive(Debug, Clone, Copy)]
pub struct EntryPos {
    /// The entry ID (master ID plus deltas).
    pub id: StreamId,
    /// Its flags.
    pub flags: i64,
    /// Position of the flags element (to mark the entry deleted).
    pub flags_pos: usize,
    /// Number of field-value pairs.
    pub numfields: usize,
    /// Position of the first field (or first value with SAMEFIELDS).
    pub data_pos: Option<usize>,
}

impl EntryPos {
    /// True for a tombstone.
    pub fn deleted(&self) -> bool {
        self.flags & FLAG_DELETED != 0
    }
}

/// The field-value pairs of one entry.
pub struct Fields<'a> {
    lp: &'a Listpack,
    master: Option<usize>,
    cur: Option<usize>,
    left: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = (LpValue<'a>, LpValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let field = match self.master {
            Some(m) => {
                self.master = self.lp.next(m);
                self.lp.get(m)
            }
            None => {
                let p = self.cur?;
                self.cur = self.lp.next(p);
                self.lp.get(p)
            }
        };
        let p = self.cur?;
        self.cur = self.lp.next(p);
        Some((field, self.lp.get(p)))
    }
}

/// Sum of the raw lengths of fields and values, as Redis weighs an append
/// against `stream-node-max-bytes`.
pub fn raw_len(pairs: &[&[u8]]) -> usize {
    pairs.iter().map(|p| p.len()).sum()
}

impl Node {
    /// A node whose master entry takes `pairs`' field names, holding the one
    /// entry `id == master` with those pairs. `pairs` is `field, value, ...`.
    pub fn new(pairs: &[&[u8]]) -> Node {
        let mut lp = Listpack::new();
        let numfields = pairs.len() / 2;
        lp.push_int(1);
        lp.push_int(0);
        lp.push_int(numfields as i64);
        for f in pairs.iter().step_by(2) {
            lp.push_back(f);
        }
        lp.push_int(0);
        let mut node = Node { lp };
        node.push_entry(StreamId::MIN, StreamId::MIN, FLAG_SAMEFIELDS, pairs);
        node
    }

    /// Live entries.
    pub fn live(&self) -> i64 {
        self.lp.first().and_then(|p| self.lp.get_int(p)).unwrap_or(0)
    }

    /// Entries marked deleted.
    pub fn deleted(&self) -> i64 {
        self.lp.first().and_then(|p| self.lp.next(p)).and_then(|p| self.lp.get_int(p)).unwrap_or(0)
    }

    /// Position of the first master field and the master field count.
    fn master(&self) -> (Option<usize>, usize) {
        let p = self.lp.first().and_then(|p| self.lp.next(p)).and_then(|p| self.lp.next(p));
        let n = p.and_then(|p| self.lp.get_int(p)).unwrap_or(0).max(0) as usize;
        (p.and_then(|p| self.lp.next(p)), n)
    }

    /// Position of the first entry's flags.
    fn first_entry(&self) -> Option<usize> {
        let (mut p, n) = self.master();
        for _ in 0..n {
            p = self.lp.next(p?);
        }
        // Skip the master terminator.
        self.lp.next(p?)
    }

    /// Appends an entry (the caller checked ordering and node limits).
    pub fn append(&mut self, master_id: StreamId, id: StreamId, pairs: &[&[u8]]) {
        let first = self.lp.first();
        if let Some(p) = first {
            let live = self.live();
            self.lp.replace_int(p, live + 1);
        }
        let (mut mp, n) = self.master();
        let mut same = n == pairs.len() / 2;
        if same {
            for f in pairs.iter().step_by(2) {
                match mp.map(|p| self.lp.get(p)) {
                    Some(e) if e.eq_bytes(f) => mp = mp.and_then(|p| self.lp.next(p)),
                    _ => {
                        same = false;
                        break;
                    }
                }
            }
        }
        let flags = if same { FLAG_SAMEFIELDS } else { 0 };
        self.push_entry(master_id, id, flags, pairs);
    }

    fn push_entry(&mut self, master_id: StreamId, id: StreamId, flags: i64, pairs: &[&[u8]]) {
        let numfields = pairs.len() / 2;
        let same = flags & FLAG_SAMEFIELDS != 0;
        self.lp.push_int(flags);
        // Deltas wrap like Redis's unsigned subtraction stored as int64.
        self.lp.push_int(id.ms.wrapping_sub(master_id.ms) as i64);
        self.lp.push_int(id.seq.wrapping_sub(master_id.seq) as i64);
        if !same {
            self.lp.push_int(numfields as i64);
        }
        for (i, x) in pairs.iter().enumerate() {
            if !same || i % 2 == 1 {
                self.lp.push_back(x);
            }
        }
        let lp_count = if same { numfields + 3 } else { 2 * numfields + 4 };
        self.lp.push_int(lp_count as i64);
    }

    /// Decodes every entry of the node, tombstones included, in ID order.
    pub fn entries(&self, master_id: StreamId, out: &mut Vec<EntryPos>) {
        out.clear();
        let (_, master_count) = self.master();
        let lp = &self.lp;
        let mut p = self.first_entry();
        while let Some(fp) = p {
            let Some(flags) = lp.get_int(fp) else { return };
            let Some(msp) = lp.next(fp) else { return };
            let Some(ssp) = lp.next(msp) else { return };
            let (Some(ms), Some(seq)) = (lp.get_int(msp), lp.get_int(ssp)) else { return };
            let id = StreamId { ms: master_id.ms.wrapping_add(ms as u64), seq: master_id.seq.wrapping_add(seq as u64) };
            let mut q = lp.next(ssp);
            let (numfields, skip) = if flags & FLAG_SAMEFIELDS != 0 {
                (master_count, master_count)
            } else {
                let Some(n) = q.and_then(|q| lp.get_int(q)) else { return };
                let n = n.max(0) as usize;
                q = q.and_then(|q| lp.next(q));
                (n, 2 * n)
            };
            out.push(EntryPos { id, flags, flags_pos: fp, numfields, data_pos: q });
            for _ in 0..skip {
                q = q.and_then(|q| lp.next(q));
            }
            // Skip lp-count.
            p = q.and_then(|q| lp.next(q));
        }
    }

    /// The pairs of the entry at `e`.
    pub fn fields(&self, e: &EntryPos) -> Fields<'_> {
        let master = if e.flags & FLAG_SAMEFIELDS != 0 { self.master().0 } else { None };
        Fields { lp: &self.lp, master, cur: e.data_pos, left: e.numfields }
    }

    /// Marks the entry at `e` deleted and moves it from the live to the
    /// deleted count. Returns the live entries left.
    pub fn mark_deleted(&mut self, e: &EntryPos) -> i64 {
        self.flag_deleted(e);
        let (live, deleted) = (self.live() - 1, self.deleted() + 1);
        self.set_counts(live, deleted);
        live
    }

    /// Sets the DELETED flag of the entry at `e` without touching the
    /// counters. Flags always fit one byte, so no other entry moves: a batch
    /// of positions stays valid until `set_counts`.
    pub fn flag_deleted(&mut self, e: &EntryPos) {
        self.lp.replace_int(e.flags_pos, e.flags | FLAG_DELETED);
    }

    /// Rewrites the live and deleted counters (this may move every entry).
    pub fn set_counts(&mut self, live: i64, deleted: i64) {
        if let Some(p) = self.lp.first() {
            self.lp.replace_int(p, live);
            if let Some(q) = self.lp.next(p) {
                self.lp.replace_int(q, deleted);
            }
        }
    }

    /// The ID of the node's last entry, tombstones included.
    pub fn last_id(&self, master_id: StreamId) -> Option<StreamId> {
        let mut es = Vec::new();
        self.entries(master_id, &mut es);
        es.last().map(|e| e.id)
    }

    /// Bytes of the encoded node.
    pub fn bytes(&self) -> usize {
        self.lp.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    fn pairs_of(n: &Node, e: &EntryPos) -> Vec<(Vec<u8>, Vec<u8>)> {
        n.fields(e)
            .map(|(f, v)| {
                let (mut a, mut b) = (crate::util::num::IntBuf::new(0), crate::util::num::IntBuf::new(0));
                (f.as_bytes(&mut a).to_vec(), v.as_bytes(&mut b).to_vec())
            })
            .collect()
    }

    #[test]
    fn master_fields_compress_and_deltas_decode() {
        let m = id(1000, 5);
        let mut n = Node::new(&[b"a", b"1", b"b", b"2"]);
        n.append(m, id(1000, 6), &[b"a", b"3", b"b", b"4"]);
        n.append(m, id(1003, 0), &[b"x", b"y"]);
        n.append(m, id(u64::MAX, u64::MAX), &[b"a", b"5", b"b", b"6"]);
        let mut es = Vec::new();
        n.entries(m, &mut es);
        let ids: Vec<StreamId> = es.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![id(1000, 5), id(1000, 6), id(1003, 0), id(u64::MAX, u64::MAX)]);
        assert_eq!(es[0].flags, FLAG_SAMEFIELDS);
        assert_eq!(es[1].flags, FLAG_SAMEFIELDS);
        assert_eq!(es[2].flags, 0);
        assert_eq!(pairs_of(&n, &es[1]), vec![(b"a".to_vec(), b"3".to_vec()), (b"b".to_vec(), b"4".to_vec())]);
        assert_eq!(pairs_of(&n, &es[2]), vec![(b"x".to_vec(), b"y".to_vec())]);
        assert_eq!(n.live(), 4);
        assert_eq!(n.mark_deleted(&es[1]), 3);
        assert_eq!(n.deleted(), 1);
        n.entries(m, &mut es);
        assert!(es[1].deleted());
        assert_eq!(pairs_of(&n, &es[3]), vec![(b"a".to_vec(), b"5".to_vec()), (b"b".to_vec(), b"6".to_vec())]);
    }

    #[test]
    fn byte_size_follows_listpack_rules() {
        // Header 6 + EOF 1; master: 1,0,1 (2 each), "f" (3), 0 (2) = 11;
        // entry: flags, 0, 0 (2 each), "v" (3), lp-count (2) = 11.
        let n = Node::new(&[b"f", b"v"]);
        assert_eq!(n.bytes(), 7 + 11 + 11);
        assert_eq!(crate::types::listpack::entry_size(b"f") + crate::types::listpack::entry_size(b"v"), 6);
    }
}
