//! The shared replication buffer: one list of blocks holding the stream,
//! read by the backlog (for partial resyncs) and by every replica (for its
//! output) at their own positions, as Redis 7.0's `repl_buffer_blocks`.
//!
//! Each replica is a reader with a cursor (the stream offset of the next
//! byte it must receive); no replica holds a private copy of the stream.
//! A block is dropped from the front only once no reader still needs it
//! and the history without it is still at least `repl-backlog-size`, so the
//! retained history can outgrow the configured size while a slow replica
//! holds data, and shrinks back incrementally (a bounded number of blocks
//! per call) once it went, as Redis's incrementalTrimReplicationBacklog.
//!
//! Owns only bytes, offsets and reader cursors; it must not know about
//! sockets or replica states. Offsets are Redis's: the first byte of the
//! stream has offset 1, and `first_offset()..end_offset()` is the range held.

use std::collections::{HashMap, VecDeque};

/// Smallest block size (Redis's PROTO_REPLY_CHUNK_BYTES).
const BLOCK_BYTES: usize = 16 * 1024;
/// Blocks trimmed per call at most (Redis's REPL_BACKLOG_TRIM_BLOCKS_PER_CALL).
pub const TRIM_BLOCKS_PER_CALL: usize = 64;
/// Bookkeeping counted per block besides its bytes (Redis's list node and
/// block header).
const BLOCK_OVERHEAD: usize = 64;

#[derive(Debug)]
struct Block {
    /// Stream offset of the block's first byte.
    start: i64,
    /// The bytes; the capacity is the block's size and is never exceeded.
    data: Vec<u8>,
}

impl Block {
    fn end(&self) -> i64 {
        self.start + self.data.len() as i64
    }
}

/// The stream's retained history and its readers.
#[derive(Debug)]
pub struct Backlog {
    blocks: VecDeque<Block>,
    /// `repl-backlog-size`: history kept even without readers.
    size: usize,
    /// Stream offset of the next byte appended.
    next: i64,
    /// Reader (replica slab key) to the offset of its next byte.
    readers: HashMap<usize, i64>,
    /// Bytes of all blocks plus their bookkeeping.
    mem: usize,
}

impl Backlog {
    /// An empty backlog keeping `size` bytes of history whose next byte has
    /// stream offset `next_offset`.
    pub fn new(size: usize, next_offset: i64) -> Backlog {
        Backlog { blocks: VecDeque::new(), size: size.max(1), next: next_offset, readers: HashMap::new(), mem: 0 }
    }

    /// The configured history size (`repl_backlog_size`).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Bytes of history held (`repl_backlog_histlen`); may exceed `size()`
    /// while a reader holds older blocks.
    pub fn len(&self) -> usize {
        (self.next - self.first_offset()) as usize
    }

    /// True when nothing is held yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stream offset of the oldest byte held (`repl_backlog_first_byte_offset`).
    pub fn first_offset(&self) -> i64 {
        self.blocks.front().map_or(self.next, |b| b.start)
    }

    /// Stream offset the next appended byte gets.
    pub fn end_offset(&self) -> i64 {
        self.next
    }

    /// Memory of the blocks (`mem_total_replication_buffers`).
    pub fn memory(&self) -> usize {
        self.mem
    }

    /// Renumbers the held bytes (and readers) so the oldest has stream
    /// offset `first` (a restarted master continuing the history its RDB
    /// recorded).
    pub fn rebase(&mut self, first: i64) {
        let delta = first - self.first_offset();
        for b in &mut self.blocks {
            b.start += delta;
        }
        for c in self.readers.values_mut() {
            *c += delta;
        }
        self.next += delta;
    }

    /// Changes the configured size (CONFIG SET repl-backlog-size); history
    /// beyond it goes incrementally.
    pub fn resize(&mut self, size: usize) {
        self.size = size.max(1);
        self.trim(TRIM_BLOCKS_PER_CALL);
    }

    /// Appends stream bytes; returns true if a new block was started.
    pub fn append(&mut self, mut bytes: &[u8]) -> bool {
        let mut added = false;
        while !bytes.is_empty() {
            if let Some(tail) = self.blocks.back_mut().filter(|b| b.data.len() < b.data.capacity()) {
                let n = bytes.len().min(tail.data.capacity() - tail.data.len());
                tail.data.extend_from_slice(&bytes[..n]);
                self.next += n as i64;
                bytes = &bytes[n..];
                continue;
            }
            // Not smaller than a reply chunk (room for what follows), not
            // bigger than a sixteenth of the history (so a big write does
            // not pin a huge block for a small remainder), as Redis.
            let cap = bytes.len().max(BLOCK_BYTES).min((self.size / 16).max(BLOCK_BYTES));
            let data = Vec::with_capacity(cap);
            self.mem += data.capacity() + BLOCK_OVERHEAD;
            self.blocks.push_back(Block { start: self.next, data });
            added = true;
        }
        if added {
            self.trim(TRIM_BLOCKS_PER_CALL);
        }
        added
    }

    /// Drops up to `max_blocks` blocks from the front that no reader needs,
    /// keeping at least `size()` bytes of history and one block.
    pub fn trim(&mut self, max_blocks: usize) {
        let oldest_reader = self.readers.values().copied().min().unwrap_or(i64::MAX);
        for _ in 0..max_blocks {
            if self.blocks.len() <= 1 || self.len() <= self.size {
                return;
            }
            let Some(first) = self.blocks.front() else { return };
            if oldest_reader < first.end() || self.len() - first.data.len() <= self.size {
                return;
            }
            self.mem -= first.data.capacity() + BLOCK_OVERHEAD;
            self.blocks.pop_front();
        }
    }

    /// True when the stream from offset `from` on is held (PSYNC).
    pub fn holds(&self, from: i64) -> bool {
        from >= self.first_offset() && from <= self.next
    }

    /// Makes `reader` receive the stream from offset `from`. False (and
    /// nothing changes) when that offset is no longer held.
    pub fn attach(&mut self, reader: usize, from: i64) -> bool {
        if !self.holds(from) {
            return false;
        }
        self.readers.insert(reader, from);
        true
    }

    /// The cursor of `reader`, if attached.
    pub fn cursor(&self, reader: usize) -> Option<i64> {
        self.readers.get(&reader).copied()
    }

    /// Forgets `reader`; blocks only it needed go incrementally.
    pub fn detach(&mut self, reader: usize) {
        if self.readers.remove(&reader).is_some() {
            self.trim(TRIM_BLOCKS_PER_CALL);
        }
    }

    /// Index of the block holding offset `at` (the last block when `at` is
    /// the end of the stream), None without blocks.
    fn block_of(&self, at: i64) -> Option<usize> {
        let i = self.blocks.partition_point(|b| b.end() <= at);
        match self.blocks.len() {
            0 => None,
            n => Some(i.min(n - 1)),
        }
    }

    /// The next bytes `reader` must receive, contiguous (up to the end of
    /// one block); empty when it has everything or is not attached.
    pub fn chunk(&self, reader: usize) -> &[u8] {
        let Some(at) = self.cursor(reader) else { return &[] };
        let Some(b) = self.block_of(at).map(|i| &self.blocks[i]) else { return &[] };
        if at < b.start || at >= b.end() {
            return &[];
        }
        &b.data[(at - b.start) as usize..]
    }

    /// `reader` received `n` more bytes.
    pub fn consume(&mut self, reader: usize, n: usize) {
        if let Some(c) = self.readers.get_mut(&reader) {
            *c = (*c + n as i64).min(self.next);
        }
    }

    /// Stream bytes `reader` has not received yet.
    pub fn unsent(&self, reader: usize) -> usize {
        self.cursor(reader).map_or(0, |c| (self.next - c).max(0) as usize)
    }

    /// The output memory charged to `reader`, as Redis counts a replica's
    /// share: every block from the one its cursor is in to the last,
    /// whole, with their bookkeeping. 0 when not attached.
    pub fn reader_memory(&self, reader: usize) -> usize {
        let Some(i) = self.cursor(reader).and_then(|c| self.block_of(c)) else { return 0 };
        let Some(last) = self.blocks.back() else { return 0 };
        let bytes = (last.start + last.data.capacity() as i64 - self.blocks[i].start) as usize;
        bytes + BLOCK_OVERHEAD * (self.blocks.len() - i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything `reader` would receive, draining it as a socket would.
    fn drain(b: &mut Backlog, reader: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let chunk = b.chunk(reader).to_vec();
            if chunk.is_empty() {
                return out;
            }
            b.consume(reader, chunk.len());
            out.extend_from_slice(&chunk);
        }
    }

    #[test]
    fn a_reader_gets_the_stream_from_its_offset() {
        let mut b = Backlog::new(BLOCK_BYTES, 1);
        b.append(b"abc");
        assert!(b.attach(7, 2));
        b.append(b"def");
        assert_eq!(drain(&mut b, 7), b"bcdef");
        assert_eq!(b.unsent(7), 0);
        b.append(b"g");
        assert_eq!(b.unsent(7), 1);
        assert_eq!(drain(&mut b, 7), b"g");
        assert!(!b.attach(8, 0));
        assert!(!b.attach(8, 9));
        assert!(b.attach(8, 8));
        assert!(b.chunk(8).is_empty());
        assert!(b.chunk(99).is_empty());
    }

    #[test]
    fn history_beyond_the_size_waits_for_a_slow_reader() {
        let mut b = Backlog::new(BLOCK_BYTES, 1);
        assert!(b.attach(1, 1));
        let piece = vec![b'x'; 1000];
        for _ in 0..200 {
            b.append(&piece);
        }
        // The reader holds everything: nothing can go.
        assert_eq!((b.first_offset(), b.len()), (1, 200_000));
        assert!(b.memory() >= 200_000);
        assert!(b.reader_memory(1) >= 200_000);
        let before = b.memory();
        b.detach(1);
        // Trimmed down to about the configured size, one block kept whole.
        assert!(b.len() > BLOCK_BYTES && b.len() <= 2 * BLOCK_BYTES, "{}", b.len());
        assert!(b.memory() < before);
        assert_eq!(b.first_offset() + b.len() as i64, 200_001);
    }

    #[test]
    fn trimming_is_incremental() {
        let mut b = Backlog::new(BLOCK_BYTES, 1);
        assert!(b.attach(1, 1));
        b.append(&vec![0u8; BLOCK_BYTES * 200]);
        assert_eq!(b.blocks.len(), 200);
        b.readers.clear();
        b.trim(TRIM_BLOCKS_PER_CALL);
        assert_eq!(b.blocks.len(), 200 - TRIM_BLOCKS_PER_CALL);
        for _ in 0..10 {
            b.trim(TRIM_BLOCKS_PER_CALL);
        }
        // The first block goes only if what is left still covers the size.
        assert_eq!(b.len(), 2 * BLOCK_BYTES);
    }

    #[test]
    fn big_writes_are_split_in_blocks_of_a_sixteenth() {
        let mut b = Backlog::new(1 << 20, 1);
        b.append(&vec![1u8; 200_000]);
        assert!(b.blocks.iter().all(|x| x.data.capacity() <= (1 << 20) / 16));
        assert!(b.attach(3, 1));
        assert_eq!(drain(&mut b, 3).len(), 200_000);
        // After draining, the share is at most the last block.
        assert!(b.reader_memory(3) <= (1 << 20) / 16 + BLOCK_OVERHEAD);
    }

    #[test]
    fn rebase_moves_blocks_and_readers() {
        let mut b = Backlog::new(BLOCK_BYTES, 1);
        b.append(b"hello");
        assert!(b.attach(1, 3));
        b.rebase(101);
        assert_eq!((b.first_offset(), b.end_offset(), b.cursor(1)), (101, 106, Some(103)));
        assert_eq!(drain(&mut b, 1), b"llo");
    }

    #[test]
    fn matches_a_plain_vector_model() {
        let mut rng = crate::util::rand::Rng::with_seed(7);
        let mut b = Backlog::new(BLOCK_BYTES, 1);
        let mut model: Vec<u8> = Vec::new();
        let mut got: Vec<u8> = Vec::new();
        assert!(b.attach(5, 1));
        for i in 0..2000u32 {
            let n = (rng.next_u64() % 3000) as usize;
            let chunk: Vec<u8> = (0..n).map(|j| (i as usize * 31 + j) as u8).collect();
            b.append(&chunk);
            model.extend_from_slice(&chunk);
            // The reader takes a random part of what is pending.
            let take = (rng.next_u64() % 4000) as usize;
            let c = b.chunk(5);
            let k = take.min(c.len());
            got.extend_from_slice(&c[..k]);
            b.consume(5, k);
            assert_eq!(b.end_offset(), model.len() as i64 + 1);
            assert!(b.cursor(5).unwrap() >= b.first_offset());
            let first = b.first_offset();
            assert!(b.len() >= model.len().min(BLOCK_BYTES));
            if (rng.next_u64() % 10) == 0 {
                assert!(b.attach(6, first));
                assert_eq!(drain(&mut b, 6), &model[(first - 1) as usize..]);
                b.detach(6);
            }
        }
        got.extend_from_slice(&drain(&mut b, 5));
        assert_eq!(got, model);
    }
}
