//! CRC-64 as Redis computes it for RDB files and DUMP payloads: the "Jones"
//! polynomial (0xad93d23594c935a9), bit-reflected input and output, initial
//! value 0, no final xor.
//!
//! Owns only the checksum arithmetic (a byte-at-a-time table, built at
//! compile time); callers feed it slices and keep the running value, so a
//! file writer can checksum as it streams.

/// The Jones polynomial, bit-reversed for the reflected (LSB-first) algorithm.
const POLY_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;

/// One table entry per byte value: the CRC of that byte alone.
static TABLE: [u64; 256] = build_table();

const fn build_table() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ POLY_REFLECTED } else { crc >> 1 };
            bit += 1;
        }
        t[i] = crc;
        i += 1;
    }
    t
}

/// Continues the checksum `crc` over `data` (start from 0).
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    for &b in data {
        crc = TABLE[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_redis_test_vector() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn can_be_computed_in_pieces() {
        let data = b"This is a longer buffer to checksum in several pieces";
        let whole = crc64(0, data);
        let (a, b) = data.split_at(17);
        assert_eq!(crc64(crc64(0, a), b), whole);
        assert_eq!(crc64(0, b""), 0);
    }
}
