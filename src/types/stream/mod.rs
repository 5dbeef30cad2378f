//! Streams: entry IDs, the entry log (an ordered map of listpack nodes keyed
//! by their master ID, standing in for Redis's radix tree), trimming, and the
//! consumer groups with their pending entries lists.
//!
//! Mirrors Redis 7.0's t_stream.c data model: node filling bounded by
//! `stream-node-max-bytes` / `stream-node-max-entries`, tombstones on delete
//! with whole-node removal, MAXLEN/MINID trimming (exact or node-granular
//! with a work limit), and 7.0's bookkeeping (`entries-added`,
//! `max-deleted-entry-id`, `recorded-first-entry-id`, per-group
//! `entries-read` and lag). Pure data: no clients, no clock (callers pass the
//! time), no replies.

pub mod group;
pub mod node;

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

use crate::types::sds::Sds;
use node::{EntryPos, Fields, Node};

pub use group::{Consumer, Group, Nack};

/// A stream entry ID: milliseconds and a sequence number, ordered as a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Unix time part (ms).
    pub ms: u64,
    /// Sequence within the millisecond.
    pub seq: u64,
}

impl StreamId {
    /// `0-0`, the smallest ID (`-`).
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest ID (`+`).
    pub const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    /// An ID from its parts.
    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID, or None after the largest one.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            (self.ms != u64::MAX).then(|| StreamId::new(self.ms + 1, 0))
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous ID, or None before `0-0`.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            (self.ms != 0).then(|| StreamId::new(self.ms - 1, u64::MAX))
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    /// True for `0-0`.
    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// The `<ms>-<seq>` text.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// How an ID argument was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdArg {
    /// `-`, `+`, `<ms>` or `<ms>-<seq>`.
    Id(StreamId),
    /// `<ms>-*` (XADD only): the sequence is generated.
    MsOnly(u64),
}

/// Parses an ID argument as Redis's stream ID parser does. `missing_seq`
/// fills in a bare `<ms>`; `strict` refuses `-` and `+`; `allow_seq_star`
/// accepts `<ms>-*`. None means "Invalid stream ID specified as stream
/// command argument".
pub fn parse_id(s: &[u8], missing_seq: u64, strict: bool, allow_seq_star: bool) -> Option<IdArg> {
    if s.len() > 127 {
        return None;
    }
    match s {
        b"-" if !strict => return Some(IdArg::Id(StreamId::MIN)),
        b"+" if !strict => return Some(IdArg::Id(StreamId::MAX)),
        b"-" | b"+" => return None,
        _ => {}
    }
    // Everything after the first NUL is invisible to the C parser.
    let s = s.split(|&b| b == 0).next().unwrap_or(&[]);
    let (ms_part, seq_part) = match s.iter().position(|&b| b == b'-') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let ms = crate::util::num::string2ull(ms_part)?;
    match seq_part {
        None => Some(IdArg::Id(StreamId::new(ms, missing_seq))),
        Some(b"*") if allow_seq_star => Some(IdArg::MsOnly(ms)),
        Some(seq) => Some(IdArg::Id(StreamId::new(ms, crate::util::num::string2ull(seq)?))),
    }
}

/// Node limits from `stream-node-max-bytes` and `stream-node-max-entries`.
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    /// Bytes per node (0: only the hard cap).
    pub max_bytes: u64,
    /// Entries per node, tombstones included (0: unlimited).
    pub max_entries: i64,
}

/// Hard cap on one node's size, whatever the configuration says.
const NODE_HARD_MAX: u64 = 1 << 30;

/// Why an append failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddError {
    /// The ID is not greater than the stream's last ID.
    NotGreater,
    /// The fields and values are too large for one node.
    TooLarge,
}

/// Which entries a trim removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimStrategy {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Remove entries with a smaller ID.
    MinId(StreamId),
}

/// A trim request.
#[derive(Debug, Clone, Copy)]
pub struct Trim {
    /// What to remove.
    pub strategy: TrimStrategy,
    /// Only remove whole nodes (`~`).
    pub approx: bool,
    /// Most entries to remove (0: no limit).
    pub limit: i64,
}

/// The entries of a stream and their counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entries {
    nodes: BTreeMap<StreamId, Node>,
    /// Live entries.
    pub length: u64,
    /// The last ID ever generated (0-0 when none).
    pub last_id: StreamId,
    /// The first live entry's ID (0-0 when empty).
    pub first_id: StreamId,
    /// The greatest ID removed by XDEL.
    pub max_deleted_entry_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
}

/// A stream: its entries and its consumer groups (by name, in byte order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stream {
    /// The entry log.
    pub entries: Entries,
    /// Consumer groups.
    pub groups: BTreeMap<Sds, Group>,
}

impl Stream {
    /// An empty stream.
    pub fn new() -> Stream {
        Stream::default()
    }

    /// Live entries (XLEN).
    pub fn len(&self) -> u64 {
        self.entries.length
    }

    /// True when no live entry remains.
    pub fn is_empty(&self) -> bool {
        self.entries.length == 0
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        "stream"
    }
}

/// One entry seen through a range iteration.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    node: &'a Node,
    pos: EntryPos,
}

impl<'a> EntryRef<'a> {
    /// The entry's ID.
    pub fn id(&self) -> StreamId {
        self.pos.id
    }

    /// Number of field-value pairs.
    pub fn numfields(&self) -> usize {
        self.pos.numfields
    }

    /// The field-value pairs.
    pub fn fields(&self) -> Fields<'a> {
        self.node.fields(&self.pos)
    }
}

/// Iterates entries between two IDs (inclusive), forward or backward.
pub struct Range<'a> {
    nodes: &'a BTreeMap<StreamId, Node>,
    start: StreamId,
    end: StreamId,
    rev: bool,
    tombstones: bool,
    node: Option<(StreamId, &'a Node)>,
    started: bool,
    buf: Vec<EntryPos>,
    idx: usize,
    done: bool,
}

impl<'a> Range<'a> {
    fn advance_node(&mut self) -> bool {
        let next = match (self.node, self.rev) {
            (None, false) if !self.started => {
                self.nodes.range(..=self.start).next_back().or_else(|| self.nodes.iter().next())
            }
            (None, true) if !self.started => self.nodes.range(..=self.end).next_back(),
            (None, _) => None,
            (Some((k, _)), false) => self.nodes.range((Bound::Excluded(k), Bound::Unbounded)).next(),
            (Some((k, _)), true) => self.nodes.range(..k).next_back(),
        };
        self.started = true;
        match next {
            Some((&k, n)) => {
                self.node = Some((k, n));
                n.entries(k, &mut self.buf);
                self.idx = 0;
                true
            }
            None => false,
        }
    }
}

impl<'a> Iterator for Range<'a> {
    type Item = EntryRef<'a>;

    fn next(&mut self) -> Option<EntryRef<'a>> {
        while !self.done {
            if self.node.is_none() || self.idx >= self.buf.len() {
                if !self.advance_node() {
                    self.done = true;
                    return None;
                }
                continue;
            }
            let pos = if self.rev { self.buf[self.buf.len() - 1 - self.idx] } else { self.buf[self.idx] };
            self.idx += 1;
            if pos.deleted() && !self.tombstones {
                continue;
            }
            let (node_key, node) = self.node?;
            let _ = node_key;
            if !self.rev {
                if pos.id < self.start {
                    continue;
                }
                if pos.id > self.end {
                    self.done = true;
                    return None;
                }
            } else {
                if pos.id > self.end {
                    continue;
                }
                if pos.id < self.start {
                    self.done = true;
                    return None;
                }
            }
            return Some(EntryRef { node, pos });
        }
        None
    }
}

impl Entries {
    /// Every node as (master ID, listpack bytes), in ID order (RDB save).
    pub fn raw_nodes(&self) -> impl Iterator<Item = (StreamId, &[u8])> + '_ {
        self.nodes.iter().map(|(k, n)| (*k, n.lp.as_bytes()))
    }

    /// Files a node under `master` from listpack bytes the caller validated
    /// (RDB load). False, and nothing stored, if that key is taken.
    pub fn insert_raw_node(&mut self, master: StreamId, lp: Vec<u8>) -> bool {
        if self.nodes.contains_key(&master) {
            return false;
        }
        self.nodes.insert(master, Node { lp: crate::types::listpack::Listpack::from_validated(lp) });
        true
    }

    /// Number of nodes (XINFO `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Entries from `start` to `end` inclusive, tombstones skipped.
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool) -> Range<'_> {
        self.range_with(start, end, rev, false)
    }

    fn range_with(&self, start: StreamId, end: StreamId, rev: bool, tombstones: bool) -> Range<'_> {
        Range {
            nodes: &self.nodes,
            start,
            end,
            rev,
            tombstones,
            node: None,
            started: false,
            buf: Vec::new(),
            idx: 0,
            done: false,
        }
    }

    /// The first or last entry's ID; tombstones count unless skipped. When
    /// there is none: MAX for the first, MIN for the last (as Redis).
    pub fn edge_id(&self, first: bool, skip_tombstones: bool) -> StreamId {
        match self.range_with(StreamId::MIN, StreamId::MAX, !first, !skip_tombstones).next() {
            Some(e) => e.id(),
            None if first => StreamId::MAX,
            None => StreamId::MIN,
        }
    }

    /// The last live entry's ID.
    pub fn last_valid_id(&self) -> Option<StreamId> {
        self.range(StreamId::MIN, StreamId::MAX, true).next().map(|e| e.id())
    }

    /// True if a live entry with `id` exists.
    pub fn contains(&self, id: StreamId) -> bool {
        self.range(id, id, false).next().is_some()
    }

    /// Appends an entry of `pairs` (`field, value, ...`). `id` None
    /// generates one from `now_ms`; `MsOnly` generates the sequence.
    pub fn append(
        &mut self,
        pairs: &[&[u8]],
        id: Option<IdArg>,
        now_ms: u64,
        limits: NodeLimits,
    ) -> Result<StreamId, AddError> {
        let new_id = match id {
            None => {
                if now_ms > self.last_id.ms {
                    StreamId::new(now_ms, 0)
                } else {
                    // Wraps to 0-0 at the very end, which then fails below.
                    self.last_id.incr().unwrap_or(StreamId::MIN)
                }
            }
            Some(IdArg::Id(id)) => id,
            Some(IdArg::MsOnly(ms)) => {
                if ms == self.last_id.ms {
                    if self.last_id.seq == u64::MAX {
                        return Err(AddError::NotGreater);
                    }
                    StreamId::new(ms, self.last_id.seq + 1)
                } else {
                    StreamId::new(ms, 0)
                }
            }
        };
        if new_id <= self.last_id {
            return Err(AddError::NotGreater);
        }
        let total = node::raw_len(pairs) as u64;
        if total > NODE_HARD_MAX {
            return Err(AddError::TooLarge);
        }
        let max_bytes =
            if limits.max_bytes == 0 || limits.max_bytes > NODE_HARD_MAX { NODE_HARD_MAX } else { limits.max_bytes };
        let mut appended = false;
        if let Some((&key, tail)) = self.nodes.iter_mut().next_back() {
            let full = tail.bytes() as u64 + total >= max_bytes
                || (limits.max_entries > 0 && tail.live() + tail.deleted() >= limits.max_entries);
            if full {
                tail.lp.shrink_to_fit();
            } else {
                tail.append(key, new_id, pairs);
                appended = true;
            }
        }
        if !appended {
            self.nodes.insert(new_id, Node::new(pairs));
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = new_id;
        if self.length == 1 {
            self.first_id = new_id;
        }
        Ok(new_id)
    }

    /// Deletes the live entry `id` (XDEL's low level part: counters other
    /// than the length are the caller's). Returns false if there is none.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&key, node)) = self.nodes.range_mut(..=id).next_back() else { return false };
        let mut es = Vec::new();
        node.entries(key, &mut es);
        let Some(e) = es.iter().find(|e| e.id == id && !e.deleted()) else { return false };
        if node.live() <= 1 {
            self.nodes.remove(&key);
        } else {
            node.mark_deleted(e);
        }
        self.length -= 1;
        true
    }

    /// XDEL of one ID with its bookkeeping: the first ID and the greatest
    /// deleted ID follow. Returns false if there was no such live entry.
    pub fn xdel(&mut self, id: StreamId) -> bool {
        if !self.delete(id) {
            return false;
        }
        if id > self.max_deleted_entry_id {
            self.max_deleted_entry_id = id;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if id == self.first_id {
            self.first_id = self.edge_id(true, true);
        }
        true
    }

    /// Trims from the head as `t` asks; returns entries removed.
    pub fn trim(&mut self, t: &Trim) -> i64 {
        let mut deleted: i64 = 0;
        let mut cursor: Option<StreamId> = None;
        let mut es = Vec::new();
        loop {
            let next = match cursor {
                None => self.nodes.keys().next().copied(),
                Some(k) => self.nodes.range((Bound::Excluded(k), Bound::Unbounded)).next().map(|(k, _)| *k),
            };
            let Some(key) = next else { break };
            if let TrimStrategy::MaxLen(max) = t.strategy {
                if self.length <= max {
                    break;
                }
            }
            let Some(node) = self.nodes.get_mut(&key) else { break };
            let live = node.live();
            if t.limit != 0 && deleted + live > t.limit {
                break;
            }
            let remove = match t.strategy {
                TrimStrategy::MaxLen(max) => self.length - live as u64 >= max,
                TrimStrategy::MinId(min) => node.last_id(key).is_some_and(|last| last < min),
            };
            if remove {
                self.nodes.remove(&key);
                self.length -= live as u64;
                deleted += live;
                cursor = Some(key);
                continue;
            }
            if t.approx {
                break;
            }
            // Mark entries inside this node, then fix its counters once.
            node.entries(key, &mut es);
            let mut from_node = 0i64;
            for e in &es {
                let stop = match t.strategy {
                    TrimStrategy::MaxLen(max) => self.length <= max,
                    TrimStrategy::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if !e.deleted() {
                    node.flag_deleted(e);
                    from_node += 1;
                    self.length -= 1;
                }
            }
            let marked = node.deleted();
            node.set_counts(live - from_node, marked + from_node);
            deleted += from_node;
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.edge_id(true, true);
        }
        deleted
    }

    /// True if a tombstone may lie between `start` and `end` (unbounded when
    /// None), judged from the greatest deleted ID as Redis does.
    pub fn range_has_tombstones(&self, start: Option<StreamId>, end: Option<StreamId>) -> bool {
        if self.length == 0 || self.max_deleted_entry_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_entry_id {
            return false;
        }
        let start = start.unwrap_or(StreamId::MIN);
        let end = end.unwrap_or(StreamId::MAX);
        start <= self.max_deleted_entry_id && self.max_deleted_entry_id <= end
    }

    /// How many entries were added up to and including `id`, when it can be
    /// known (`None` otherwise): Redis's distance estimate for lag.
    pub fn estimate_distance(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        } else if id > self.last_id {
            return None;
        }
        if self.max_deleted_entry_id.is_zero() || self.max_deleted_entry_id < self.first_id {
            if id < self.first_id {
                return Some(self.entries_added - self.length);
            } else if id == self.first_id {
                return Some(self.entries_added - self.length + 1);
            }
        }
        None
    }

    /// A group's lag (entries not yet delivered), None when unknowable.
    pub fn group_lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read >= 0 && !self.range_has_tombstones(Some(g.last_id), None) {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        self.estimate_distance(g.last_id).map(|read| self.entries_added as i64 - read as i64)
    }

    /// Moves a group's last delivered ID forward to `id` after delivering it,
    /// keeping its read counter when that is still exact.
    pub fn advance_group(&self, g: &mut Group, id: StreamId) {
        if id <= g.last_id {
            return;
        }
        if g.entries_read >= 0 && !self.range_has_tombstones(Some(id), None) {
            g.entries_read += 1;
        } else if self.entries_added > 0 {
            g.entries_read = self.estimate_distance(id).map_or(-1, |d| d as i64);
        }
        g.last_id = id;
    }

    /// Heap bytes used by the nodes (memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.nodes.values().map(|n| n.lp.capacity() + 48).sum()
    }
}

#[cfg(test)]
mod tests;
