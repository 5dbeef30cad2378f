//! Consumer groups: the last delivered ID and read counter, the group's
//! pending entries list (PEL), and the consumers with their own PELs.
//!
//! Mirrors Redis's streamCG / streamConsumer / streamNACK: every pending
//! entry is in the group PEL (holding delivery time, delivery count and its
//! owner) and in exactly its owner's PEL. Here the owner is named, and the
//! consumer PEL is a set of IDs, so the two can never point at freed memory.
//! Times are Unix ms passed in by the caller.

use std::collections::{BTreeMap, BTreeSet};

use super::StreamId;
use crate::types::sds::Sds;

/// Read counter value meaning "unknown".
pub const ENTRIES_READ_INVALID: i64 = -1;

/// A pending (delivered, not acknowledged) entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack {
    /// Last delivery (Unix ms).
    pub delivery_time_ms: i64,
    /// Deliveries so far.
    pub delivery_count: u64,
    /// The consumer it was last delivered to.
    pub consumer: Sds,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    /// Last time it was active (Unix ms).
    pub seen_time_ms: i64,
    /// IDs pending for it.
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Last ID delivered to a consumer.
    pub last_id: StreamId,
    /// Logical count of entries read, or `ENTRIES_READ_INVALID`.
    pub entries_read: i64,
    /// Every pending entry.
    pub pel: BTreeMap<StreamId, Nack>,
    /// Consumers by name.
    pub consumers: BTreeMap<Sds, Consumer>,
}

impl Group {
    /// A group starting after `last_id`.
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group { last_id, entries_read, pel: BTreeMap::new(), consumers: BTreeMap::new() }
    }

    /// Creates consumer `name`; false if it exists already.
    pub fn create_consumer(&mut self, name: &[u8], now_ms: i64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(Sds::from(name), Consumer { seen_time_ms: now_ms, pel: BTreeSet::new() });
        true
    }

    /// Looks consumer `name` up, refreshing its seen time when `now_ms` is
    /// given. Returns whether it exists.
    pub fn touch_consumer(&mut self, name: &[u8], now_ms: Option<i64>) -> bool {
        match self.consumers.get_mut(name) {
            Some(c) => {
                if let Some(t) = now_ms {
                    c.seen_time_ms = t;
                }
                true
            }
            None => false,
        }
    }

    /// Deletes consumer `name` and its pending entries; returns how many it
    /// had, or None if it did not exist.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }

    /// Records the delivery of `id` to `consumer` (which must exist): a new
    /// pending entry, or one taken over from its previous owner with its
    /// delivery count reset, as XREADGROUP does.
    pub fn deliver(&mut self, id: StreamId, consumer: &[u8], now_ms: i64) {
        if let Some(nack) = self.pel.get_mut(&id) {
            if let Some(old) = self.consumers.get_mut(&nack.consumer[..]) {
                old.pel.remove(&id);
            }
            nack.consumer = Sds::from(consumer);
            nack.delivery_time_ms = now_ms;
            nack.delivery_count = 1;
        } else {
            self.pel.insert(id, Nack { delivery_time_ms: now_ms, delivery_count: 1, consumer: Sds::from(consumer) });
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }

    /// Acknowledges `id`; true if it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(nack) => {
                if let Some(c) = self.consumers.get_mut(&nack.consumer[..]) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Moves pending entry `id` to `consumer` (which must exist), creating it
    /// first when absent (FORCE). Delivery time and count are set by the
    /// caller on the returned entry.
    pub fn claim(&mut self, id: StreamId, consumer: &[u8], now_ms: i64) -> Option<&mut Nack> {
        let prev = self.pel.get(&id).map(|n| n.consumer.clone());
        match prev {
            Some(owner) if &owner[..] != consumer => {
                if let Some(old) = self.consumers.get_mut(&owner[..]) {
                    old.pel.remove(&id);
                }
            }
            Some(_) => {}
            None => {
                self.pel
                    .insert(id, Nack { delivery_time_ms: now_ms, delivery_count: 0, consumer: Sds::from(consumer) });
            }
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
        let nack = self.pel.get_mut(&id)?;
        nack.consumer = Sds::from(consumer);
        Some(nack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64) -> StreamId {
        StreamId::new(ms, 0)
    }

    #[test]
    fn delivery_ack_and_reassignment_keep_both_pels_in_step() {
        let mut g = Group::new(StreamId::MIN, 0);
        assert!(g.create_consumer(b"a", 1));
        assert!(!g.create_consumer(b"a", 2));
        g.create_consumer(b"b", 1);
        g.deliver(id(1), b"a", 10);
        g.deliver(id(2), b"a", 10);
        g.deliver(id(2), b"b", 20);
        assert_eq!(g.consumers[&b"a"[..]].pel.len(), 1);
        assert_eq!(g.consumers[&b"b"[..]].pel.len(), 1);
        assert_eq!(g.pel[&id(2)].delivery_count, 1);
        assert!(g.ack(id(1)));
        assert!(!g.ack(id(1)));
        assert!(g.consumers[&b"a"[..]].pel.is_empty());
        let n = g.claim(id(2), b"a", 30).unwrap();
        n.delivery_count += 1;
        assert_eq!(g.pel[&id(2)].consumer.as_bytes(), b"a");
        assert!(g.consumers[&b"b"[..]].pel.is_empty());
        assert_eq!(g.delete_consumer(b"a"), Some(1));
        assert!(g.pel.is_empty());
        assert_eq!(g.delete_consumer(b"zz"), None);
    }
}
