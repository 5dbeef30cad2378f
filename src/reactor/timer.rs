//! A min-heap of deadlines. The loop sleeps until the nearest one.
//!
//! Generic over what a timer means (`T`), so the reactor stays ignorant of the
//! server: the server decides what firing `T` does.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Timers ordered by deadline (ms), ties broken by insertion order.
#[derive(Debug)]
pub struct Timers<T> {
    heap: BinaryHeap<Reverse<(i64, u64)>>,
    payloads: std::collections::HashMap<u64, T>,
    seq: u64,
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Timers { heap: BinaryHeap::new(), payloads: Default::default(), seq: 0 }
    }
}

impl<T> Timers<T> {
    /// Schedules `what` at `at_ms`; returns an id that can cancel it.
    pub fn add(&mut self, at_ms: i64, what: T) -> u64 {
        self.seq += 1;
        self.heap.push(Reverse((at_ms, self.seq)));
        self.payloads.insert(self.seq, what);
        self.seq
    }

    /// Cancels a timer (a no-op if it already fired).
    pub fn cancel(&mut self, id: u64) {
        self.payloads.remove(&id);
    }

    /// The nearest live deadline.
    pub fn next_deadline(&mut self) -> Option<i64> {
        while let Some(Reverse((at, id))) = self.heap.peek().copied() {
            if self.payloads.contains_key(&id) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Removes and returns one timer due at `now_ms`, if any.
    pub fn pop_due(&mut self, now_ms: i64) -> Option<T> {
        while let Some(Reverse((at, id))) = self.heap.peek().copied() {
            if at > now_ms {
                return None;
            }
            self.heap.pop();
            if let Some(t) = self.payloads.remove(&id) {
                return Some(t);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::Timers;

    #[test]
    fn fires_in_deadline_order_and_skips_cancelled() {
        let mut t = Timers::default();
        t.add(30, "c");
        let b = t.add(20, "b");
        t.add(10, "a");
        t.cancel(b);
        assert_eq!(t.next_deadline(), Some(10));
        assert_eq!(t.pop_due(5), None);
        assert_eq!(t.pop_due(100), Some("a"));
        assert_eq!(t.pop_due(100), Some("c"));
        assert_eq!(t.pop_due(100), None);
    }
}
