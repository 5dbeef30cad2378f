//! A fast, unkeyed hasher for small in-process tables whose keys clients
//! cannot pick to collide: fixed names (the command table) or digests
//! (the script cache, keyed by SHA1 hex). A lookup there costs a few
//! multiplications instead of a keyed SipHash over every byte.
//!
//! Must not: be used for tables whose keys clients choose freely (the
//! keyspace, client names...): unkeyed, its collisions can be searched for.
//! Those keep std's randomly keyed SipHash.

use std::hash::{BuildHasherDefault, Hasher};

/// Odd 64-bit constant (from the golden ratio) the state is multiplied by.
const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// The hasher: folds the input 8 bytes at a time into one word
/// (rotate, xor, multiply), then mixes the high bits down.
#[derive(Default, Clone, Copy)]
pub struct FastHasher {
    state: u64,
}

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length tells "ab" from "ab\0".
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // hashbrown takes its control bits from the top and its bucket from
        // the bottom: fold the well-mixed high half into the low one.
        self.state ^ (self.state >> 29)
    }
}

/// `HashMap<K, V, FastBuildHasher>`: a map hashed with [`FastHasher`].
pub type FastBuildHasher = BuildHasherDefault<FastHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    fn h(b: &[u8]) -> u64 {
        FastBuildHasher::default().hash_one(b)
    }

    #[test]
    fn equal_input_hashes_equal_and_near_inputs_differ() {
        assert_eq!(h(b"evalsha"), h(b"evalsha"));
        assert_ne!(h(b"ab"), h(b"ab\0"));
        assert_ne!(h(b"get"), h(b"set"));
        assert_ne!(h(b""), h(b"\0"));
    }

    #[test]
    fn sha1_keys_spread_over_buckets() {
        // 4096 digests into 1024 buckets: no bucket should be crowded.
        let mut x: u64 = 0x853c_49e6_748f_ea9b;
        let mut counts = vec![0u32; 1024];
        let mut seen = HashSet::new();
        for _ in 0..4096 {
            let mut key = String::new();
            for _ in 0..5 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                key.push_str(&format!("{:08x}", x as u32));
            }
            let hash = FastBuildHasher::default().hash_one(key.as_str());
            seen.insert(hash);
            counts[(hash & 1023) as usize] += 1;
        }
        assert_eq!(seen.len(), 4096);
        assert!(counts.iter().all(|&n| n < 20), "{:?}", counts.iter().max());
    }
}
