//! The replication backlog: a fixed-size ring holding the most recent bytes
//! of the replication stream, so a replica that lost its link can continue
//! from an offset instead of taking a full snapshot again.
//!
//! Owns only bytes and offsets; it must not know about replicas or sockets.
//! Offsets are Redis's: the first byte of the stream has offset 1, and
//! `first_offset()`..`first_offset() + len()` is the range held.

/// A ring buffer of stream bytes.
#[derive(Debug)]
pub struct Backlog {
    buf: Vec<u8>,
    /// Next write position in `buf`.
    head: usize,
    /// Bytes held (at most `buf.len()`).
    len: usize,
    /// Stream offset of the oldest byte held.
    first: i64,
}

impl Backlog {
    /// An empty backlog of `size` bytes whose next byte has stream offset
    /// `next_offset`.
    pub fn new(size: usize, next_offset: i64) -> Backlog {
        Backlog { buf: vec![0; size.max(1)], head: 0, len: 0, first: next_offset }
    }

    /// Capacity in bytes (`repl_backlog_size`).
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    /// Bytes held (`repl_backlog_histlen`).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is held yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stream offset of the oldest byte held (`repl_backlog_first_byte_offset`).
    pub fn first_offset(&self) -> i64 {
        self.first
    }

    /// Renumbers the held bytes so the oldest has stream offset `first`
    /// (a restarted master continuing the history its RDB recorded).
    pub fn rebase(&mut self, first: i64) {
        self.first = first;
    }

    /// Changes the capacity to `size` bytes (CONFIG SET repl-backlog-size),
    /// keeping the most recent bytes that fit.
    pub fn resize(&mut self, size: usize) {
        let size = size.max(1);
        if size == self.buf.len() {
            return;
        }
        let keep = self.len.min(size);
        let end = self.first + self.len as i64;
        let tail = self.since(end - keep as i64).unwrap_or_default();
        let mut fresh = Backlog::new(size, end - keep as i64);
        fresh.append(&tail);
        *self = fresh;
    }

    /// Appends stream bytes, dropping the oldest ones beyond capacity.
    pub fn append(&mut self, mut bytes: &[u8]) {
        let cap = self.buf.len();
        if bytes.len() > cap {
            let skip = bytes.len() - cap;
            self.first += (self.len + skip) as i64;
            self.len = 0;
            bytes = &bytes[skip..];
        }
        let first_part = bytes.len().min(cap - self.head);
        self.buf[self.head..self.head + first_part].copy_from_slice(&bytes[..first_part]);
        let rest = bytes.len() - first_part;
        self.buf[..rest].copy_from_slice(&bytes[first_part..]);
        self.head = (self.head + bytes.len()) % cap;
        let total = self.len + bytes.len();
        if total > cap {
            self.first += (total - cap) as i64;
            self.len = cap;
        } else {
            self.len = total;
        }
    }

    /// The bytes from stream offset `from` to the end, if still held.
    pub fn since(&self, from: i64) -> Option<Vec<u8>> {
        let end = self.first + self.len as i64;
        if from < self.first || from > end {
            return None;
        }
        let skip = (from - self.first) as usize;
        let cap = self.buf.len();
        let start = (self.head + cap - self.len + skip) % cap;
        let n = self.len - skip;
        let mut out = Vec::with_capacity(n);
        let first_part = n.min(cap - start);
        out.extend_from_slice(&self.buf[start..start + first_part]);
        out.extend_from_slice(&self.buf[..n - first_part]);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_keeps_the_newest_bytes() {
        let mut b = Backlog::new(8, 1);
        b.append(b"abcdefghij");
        b.resize(4);
        assert_eq!((b.size(), b.first_offset(), b.len()), (4, 7, 4));
        assert_eq!(b.since(7).unwrap(), b"ghij");
        assert!(b.since(6).is_none());
        b.resize(16);
        assert_eq!(b.since(7).unwrap(), b"ghij");
        b.append(b"kl");
        assert_eq!(b.since(7).unwrap(), b"ghijkl");
    }

    #[test]
    fn holds_the_most_recent_bytes_across_wraps() {
        let mut b = Backlog::new(8, 1);
        b.append(b"abc");
        assert_eq!(b.since(1).unwrap(), b"abc");
        b.append(b"defgh");
        assert_eq!((b.len(), b.first_offset()), (8, 1));
        b.append(b"ij");
        assert_eq!(b.first_offset(), 3);
        assert_eq!(b.since(3).unwrap(), b"cdefghij");
        assert_eq!(b.since(9).unwrap(), b"ij");
        assert_eq!(b.since(11).unwrap(), b"");
        assert!(b.since(2).is_none());
        assert!(b.since(12).is_none());
    }

    #[test]
    fn an_append_larger_than_the_ring_keeps_its_tail() {
        let mut b = Backlog::new(4, 1);
        b.append(b"xy");
        b.append(b"0123456789");
        assert_eq!(b.first_offset(), 9);
        assert_eq!(b.since(9).unwrap(), b"6789");
    }

    #[test]
    fn matches_a_plain_vector_model() {
        let mut rng = crate::util::rand::Rng::with_seed(7);
        let mut b = Backlog::new(37, 1);
        let mut model: Vec<u8> = Vec::new();
        for i in 0..500u32 {
            let n = (rng.next_u64() % 50) as usize;
            let chunk: Vec<u8> = (0..n).map(|j| (i as usize * 31 + j) as u8).collect();
            b.append(&chunk);
            model.extend_from_slice(&chunk);
            let keep = model.len().min(37);
            let first = (model.len() - keep) as i64 + 1;
            assert_eq!(b.first_offset(), first);
            assert_eq!(b.since(first).unwrap(), &model[model.len() - keep..]);
        }
    }
}
