//! `ChunkArena`: a dense array of elements named by `u32` numbers, stored in fixed-size
//! chunks so that growing never copies the elements already stored.
//!
//! Owns storage only: it never hashes, orders or links elements (the collections built
//! on it do, e.g. through `IdTable`). Elements are numbered `0..len()` with no holes;
//! removing one is the caller's business (move the last element into the hole with
//! [`ChunkArena::swap_remove`] and re-point whatever named the last number).
//!
//! Memory follows the element count both ways: every chunk but the last is full, the
//! first chunk grows by doubling (a small collection pays for a few elements, not a
//! whole chunk) and halves again when a collection shrinks below a quarter chunk, and at
//! most one empty chunk is kept beyond the last used one, so a collection hovering at a
//! chunk boundary does not allocate and free a chunk per operation. No Redis counterpart: it replaces the per-element allocations of dict.c
//! entries and skiplist nodes.

/// Elements per chunk (a power of two) is `1 << CHUNK_BITS`.
const CHUNK_BITS: u32 = 10;
const CHUNK: usize = 1 << CHUNK_BITS;

/// A dense, chunked array of `T` addressed by `u32`.
#[derive(Debug, Clone)]
pub struct ChunkArena<T> {
    chunks: Vec<Vec<T>>,
    count: usize,
}

impl<T> Default for ChunkArena<T> {
    fn default() -> Self {
        ChunkArena::new()
    }
}

impl<T> ChunkArena<T> {
    /// An empty arena; allocates nothing until the first push.
    pub const fn new() -> Self {
        ChunkArena { chunks: Vec::new(), count: 0 }
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Element `id`. Panics when `id >= len()` (an internal invariant, never input).
    #[inline]
    pub fn get(&self, id: u32) -> &T {
        &self.chunks[(id >> CHUNK_BITS) as usize][id as usize & (CHUNK - 1)]
    }

    /// Element `id`, mutably. Panics when `id >= len()`.
    #[inline]
    pub fn get_mut(&mut self, id: u32) -> &mut T {
        &mut self.chunks[(id >> CHUNK_BITS) as usize][id as usize & (CHUNK - 1)]
    }

    /// Appends `x` and returns its number (`len() - 1` afterwards).
    pub fn push(&mut self, x: T) -> u32 {
        // Numbers are u32 with u32::MAX reserved as "none" by the tables built on
        // this: 4 billion elements would need hundreds of GiB, far past any maxmemory.
        assert!(self.count < u32::MAX as usize, "arena element numbers exhausted");
        let c = self.count >> CHUNK_BITS;
        if c == self.chunks.len() {
            self.chunks.push(if c == 0 { Vec::new() } else { Vec::with_capacity(CHUNK) });
        }
        self.chunks[c].push(x);
        self.count += 1;
        (self.count - 1) as u32
    }

    /// Removes and returns the last element, giving back memory no longer needed.
    pub fn pop(&mut self) -> Option<T> {
        let c = self.count.checked_sub(1)? >> CHUNK_BITS;
        let x = self.chunks[c].pop()?;
        self.count -= 1;
        let needed = self.count.div_ceil(CHUNK);
        if self.chunks.len() > needed + 1 {
            self.chunks.truncate(needed + 1);
        }
        // Under a quarter chunk the spare goes too, and the first chunk halves as the
        // count falls, so a collection that shrank small is small again.
        if self.count < CHUNK / 4 {
            self.chunks.truncate(1);
            if let [only] = &mut self.chunks[..] {
                if only.capacity() > 16 && only.len() * 4 < only.capacity() {
                    only.shrink_to(only.capacity() / 2);
                }
            }
        }
        Some(x)
    }

    /// Removes element `id`, moving the last element into its place (so the last
    /// number, `len()` after the call, no longer exists when it differs from `id`).
    /// Panics when `id >= len()`.
    pub fn swap_remove(&mut self, id: u32) -> T {
        let last = self.pop().expect("swap_remove on an empty arena");
        if id as usize == self.count {
            last
        } else {
            std::mem::replace(self.get_mut(id), last)
        }
    }

    /// Every element, by number.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// Bytes of element storage allocated (capacity, not just the elements in use).
    pub fn allocated_bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.capacity()).sum::<usize>() * std::mem::size_of::<T>()
            + self.chunks.capacity() * std::mem::size_of::<Vec<T>>()
    }

    /// Number of chunks held (for tests of the memory policy).
    #[cfg(test)]
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;

    #[test]
    fn matches_a_vec_through_pushes_and_swap_removes() {
        let mut rng = Rng::with_seed(11);
        let mut a = ChunkArena::new();
        let mut model: Vec<u64> = Vec::new();
        for step in 0..30_000u64 {
            let grow = step < 15_000;
            if model.is_empty() || rng.below(3) < if grow { 2 } else { 1 } {
                assert_eq!(a.push(step) as usize, model.len());
                model.push(step);
            } else {
                let id = rng.below(model.len() as u64) as u32;
                assert_eq!(a.swap_remove(id), model.swap_remove(id as usize));
            }
            assert_eq!(a.len(), model.len());
            if step % 997 == 0 {
                assert!(a.iter().copied().eq(model.iter().copied()));
                for (i, v) in model.iter().enumerate() {
                    assert_eq!(a.get(i as u32), v);
                }
            }
        }
        while let Some(x) = a.pop() {
            assert_eq!(Some(x), model.pop());
        }
        assert!(a.chunk_count() <= 1);
        assert!(a.allocated_bytes() <= 16 * 8 + 1024, "{}", a.allocated_bytes());
    }

    #[test]
    fn keeps_at_most_one_spare_chunk() {
        let mut a = ChunkArena::new();
        for i in 0..(5 * CHUNK) as u32 {
            a.push(i);
        }
        assert_eq!(a.chunk_count(), 5);
        for _ in 0..(2 * CHUNK + 1) {
            a.pop();
        }
        // Three chunks hold elements (the third only partly), one spare at most.
        assert!(a.chunk_count() <= 4);
        assert_eq!(a.swap_remove(0), 0);
        assert_eq!(*a.get(0), (3 * CHUNK - 2) as u32);
    }
}
