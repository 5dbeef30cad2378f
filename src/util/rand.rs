//! `Rng`: the server's small, fast, seedable pseudo-random generator.
//!
//! Owns only the generator (xorshift64*) and its seeding from the operating system. It is
//! not cryptographic: it serves sampling (random keys, eviction and expiry samples,
//! `SRANDMEMBER`, `RANDOMKEY`) where Redis uses its own non-cryptographic generators.
//! Secrets (run ids, hash seeds) must come from `/dev/urandom` or `RandomState`, not here.

use std::fs::File;
use std::io::Read;

/// A xorshift64* generator. Deterministic for a given seed, so tests can replay runs.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator with a fixed seed (any value; zero is remapped, as xorshift needs a
    /// non-zero state).
    pub fn with_seed(seed: u64) -> Rng {
        Rng { state: if seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { seed } }
    }

    /// A generator seeded from `/dev/urandom`, or from the time and process id when that
    /// cannot be read.
    pub fn from_entropy() -> Rng {
        let mut buf = [0u8; 8];
        let read = File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
        let seed = match read {
            Ok(()) => u64::from_le_bytes(buf),
            Err(_) => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                nanos ^ (u64::from(std::process::id()) << 32)
            }
        };
        Rng::with_seed(seed)
    }

    /// The next uniformly distributed 64-bit value.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform value in `0..n` (without modulo bias). Returns 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Lemire's multiply-shift with rejection of the biased low zone.
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// A uniform float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_for_a_seed_and_never_stuck_at_zero() {
        let mut a = Rng::with_seed(5);
        let mut b = Rng::with_seed(5);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut z = Rng::with_seed(0);
        assert!((0..10).any(|_| z.next_u64() != 0));
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = Rng::from_entropy();
        assert_eq!(r.below(0), 0);
        assert_eq!(r.below(1), 0);
        let mut hits = [0u32; 7];
        for _ in 0..7000 {
            let v = r.below(7);
            assert!(v < 7);
            hits[v as usize] += 1;
        }
        assert!(hits.iter().all(|&h| h > 700), "{hits:?}");
        assert!(r.below(u64::MAX) < u64::MAX);
        for _ in 0..1000 {
            let f = r.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
    }
}
