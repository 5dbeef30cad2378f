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
            // Assembled in a register (a copy through memory would make the
            // word read wait for the byte writes). The length tells "ab"
            // from "ab\0".
            let w = rest.iter().enumerate().fold(0u64, |w, (i, &b)| w | (u64::from(b) << (8 * i)));
            self.add(w ^ ((rest.len() as u64) << 59));
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

/// `w` with the ASCII capitals of its 8 bytes lowercased (other bytes as
/// they are), all at once.
pub fn lower_word(w: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low7 = w & !HIGH;
    // Per byte (no carry can cross bytes): the high bit says low7 >= 'A',
    // resp. low7 > 'Z'.
    let from_a = low7.wrapping_add(0x3f3f_3f3f_3f3f_3f3f);
    let past_z = low7.wrapping_add(0x2525_2525_2525_2525);
    let capital = from_a & !past_z & !w & HIGH;
    w | (capital >> 2)
}

/// `name` with its ASCII letters lowercased, written into `buf` one whole
/// word at a time, so the word reads of hashing and comparing it are served
/// from those writes instead of waiting on byte writes. `None` when it is
/// longer than `buf`.
pub fn lowercase_words<'b>(name: &[u8], buf: &'b mut [u8; 32]) -> Option<&'b [u8]> {
    if name.len() > buf.len() {
        return None;
    }
    let mut at = 0;
    let mut chunks = name.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        buf[at..at + 8].copy_from_slice(&lower_word(u64::from_le_bytes(w)).to_le_bytes());
        at += 8;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let w = rest.iter().enumerate().fold(0u64, |w, (i, &b)| w | (u64::from(b) << (8 * i)));
        buf[at..at + 8].copy_from_slice(&lower_word(w).to_le_bytes());
    }
    Some(&buf[..name.len()])
}

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
    fn words_lowercase_as_bytes_do() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                let mut bytes = *b"xY@[`{Z\xC3";
                bytes[pos] = b;
                let w = lower_word(u64::from_le_bytes(bytes));
                assert_eq!(w.to_le_bytes()[..], bytes.to_ascii_lowercase()[..], "byte {b:#x} at {pos}");
            }
        }
        let mut buf = [0u8; 32];
        assert_eq!(lowercase_words(b"EvalSHA", &mut buf), Some(&b"evalsha"[..]));
        assert_eq!(lowercase_words(b"ZRANGEBYSCORE", &mut buf), Some(&b"zrangebyscore"[..]));
        assert_eq!(lowercase_words(b"", &mut buf), Some(&b""[..]));
        let long = [b'A'; 32];
        assert_eq!(lowercase_words(&long, &mut buf), Some(&[b'a'; 32][..]));
        assert_eq!(lowercase_words(&[b'A'; 33], &mut buf), None);
        let mut x: u64 = 0x1234_5678_9abc_def1;
        for _ in 0..2000 {
            let mut name = Vec::new();
            for _ in 0..(x % 33) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                name.push((x >> 24) as u8);
            }
            assert_eq!(lowercase_words(&name, &mut buf), Some(&name.to_ascii_lowercase()[..]));
        }
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
