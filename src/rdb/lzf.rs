//! LZF, the byte-oriented LZ77 variant Redis uses for compressed strings in
//! RDB files (string encoding 0xC3).
//!
//! Owns compression and decompression of one buffer, nothing else. The stream
//! is a sequence of runs, each opened by a control byte: below 32 it announces
//! `ctrl + 1` literal bytes; otherwise its top three bits give a match length
//! (7 meaning "add the next byte"), the low five bits and the next byte a
//! back offset of up to 8 KiB. Any valid stream decodes with any LZF decoder,
//! so output need not match Redis's compressor byte for byte.
//!
//! Decompression trusts nothing: every read and every back reference is
//! bounds-checked and an inconsistent stream is an error, never a panic.

/// Longest literal run one control byte can announce.
const MAX_LIT: usize = 32;
/// Farthest back a match may point.
const MAX_OFF: usize = 1 << 13;
/// Longest match one reference can copy (7 + 255 + 2).
const MAX_REF: usize = (1 << 8) + (1 << 3);
/// Bits of the match-finder hash.
const HLOG: u32 = 14;

fn hash3(b: &[u8]) -> usize {
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    (v.wrapping_mul(2_654_435_761) >> (32 - HLOG)) as usize
}

thread_local! {
    /// The match finder's table, kept between calls: clearing (or
    /// allocating) 16 Ki entries per string would cost far more than
    /// compressing a short one. Stale entries are harmless: a candidate is
    /// used only if it lies before the current position and its bytes match.
    static TABLE: std::cell::RefCell<Vec<usize>> = std::cell::RefCell::new(vec![0; 1 << HLOG]);
}

/// Compresses `input`; None when the result would not fit in `max_out`
/// bytes (the caller then stores the string verbatim, as Redis does).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    compress_into(input, max_out, &mut out).map(|_| out)
}

/// As [`compress`], but appends the compressed bytes to `out` and returns
/// how many there are; when they would not fit in `max_out` bytes, `out` is
/// left as it was. Saves the allocation per string when a file is written.
pub fn compress_into(input: &[u8], max_out: usize, out: &mut Vec<u8>) -> Option<usize> {
    if input.is_empty() {
        return None;
    }
    let base = out.len();
    let n = TABLE.with(|t| compress_with(&mut t.borrow_mut(), input, max_out, out));
    if n.is_none() {
        out.truncate(base);
    }
    n
}

/// The compressor proper: appends to `out` (whose first `base` bytes are not
/// its own) and returns the compressed size, or None when it passes
/// `max_out` (the caller truncates `out`).
fn compress_with(table: &mut [usize], input: &[u8], max_out: usize, out: &mut Vec<u8>) -> Option<usize> {
    let base = out.len();
    out.reserve(max_out.min(input.len()) + 1);
    // Position of the control byte of the literal run being built.
    let mut lit_pos = base;
    out.push(0);
    let mut lit = 0usize;
    let mut ip = 0usize;
    while ip < input.len() {
        if ip + 2 < input.len() {
            let h = hash3(&input[ip..]);
            let candidate = table[h];
            table[h] = ip + 1;
            if candidate > 0 && candidate - 1 < ip {
                let r = candidate - 1;
                let off = ip - r - 1;
                if off < MAX_OFF && input[r..r + 3] == input[ip..ip + 3] {
                    let mut len = 3;
                    while ip + len < input.len() && len < MAX_REF && input[r + len] == input[ip + len] {
                        len += 1;
                    }
                    // Close the pending literal run (or drop its unused control byte).
                    if lit > 0 {
                        out[lit_pos] = (lit - 1) as u8;
                    } else {
                        out.pop();
                    }
                    let code = len - 2;
                    if code < 7 {
                        out.push(((code << 5) | (off >> 8)) as u8);
                    } else {
                        out.push(((7 << 5) | (off >> 8)) as u8);
                        out.push((code - 7) as u8);
                    }
                    out.push((off & 0xff) as u8);
                    lit_pos = out.len();
                    out.push(0);
                    lit = 0;
                    ip += len;
                    if out.len() - base > max_out {
                        return None;
                    }
                    continue;
                }
            }
        }
        out.push(input[ip]);
        lit += 1;
        ip += 1;
        if lit == MAX_LIT {
            out[lit_pos] = (MAX_LIT - 1) as u8;
            lit_pos = out.len();
            out.push(0);
            lit = 0;
        }
        if out.len() - base > max_out + 1 {
            return None;
        }
    }
    if lit > 0 {
        out[lit_pos] = (lit - 1) as u8;
    } else {
        out.pop();
    }
    let n = out.len() - base;
    (n <= max_out).then_some(n)
}

/// Why a compressed stream could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LzfError {
    /// The stream ends inside a run.
    Truncated,
    /// A back reference points before the start of the output.
    BadReference,
    /// The output would exceed the announced length.
    TooLong,
    /// The output is shorter than the announced length.
    TooShort,
}

/// Decompresses `input`, which must expand to exactly `out_len` bytes.
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, LzfError> {
    // A reference of 3 input bytes expands to at most MAX_REF bytes, so a
    // corrupt length cannot make us reserve more than the input can fill.
    let mut out: Vec<u8> = Vec::with_capacity(out_len.min(input.len().saturating_mul(MAX_REF)));
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            let lit = input.get(ip..ip + n).ok_or(LzfError::Truncated)?;
            if out.len() + n > out_len {
                return Err(LzfError::TooLong);
            }
            out.extend_from_slice(lit);
            ip += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip).ok_or(LzfError::Truncated)? as usize;
                ip += 1;
            }
            len += 2;
            let lo = *input.get(ip).ok_or(LzfError::Truncated)? as usize;
            ip += 1;
            let back = ((ctrl & 0x1f) << 8) + lo + 1;
            let start = out.len().checked_sub(back).ok_or(LzfError::BadReference)?;
            if out.len() + len > out_len {
                return Err(LzfError::TooLong);
            }
            // Byte by byte: the source may overlap what is being written.
            for i in 0..len {
                let b = out[start + i];
                out.push(b);
            }
        }
    }
    if out.len() != out_len {
        return Err(LzfError::TooShort);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;

    #[test]
    fn leftovers_of_earlier_inputs_never_leak_into_later_ones() {
        // Fill the shared table from one input, then compress others whose
        // hashes collide with its positions: every output must decode to
        // its own input.
        let first: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 251) as u8).collect();
        assert!(compress(&first, first.len()).is_some());
        for later in [&b"abcabcabcabcabcabcabcabc"[..], &first[..100], b"zzzzzzzzzzzzzzzzzzzzzzzzz", &first[3000..]] {
            if let Some(c) = compress(later, later.len()) {
                assert_eq!(decompress(&c, later.len()).unwrap(), later);
            }
        }
    }

    fn round_trip(data: &[u8]) {
        if let Some(c) = compress(data, data.len()) {
            assert!(c.len() <= data.len());
            assert_eq!(decompress(&c, data.len()).unwrap(), data);
        }
    }

    #[test]
    fn appending_leaves_the_prefix_alone_and_undoes_a_failure() {
        let data = b"hello hello hello hello hello hello".repeat(3);
        let alone = compress(&data, data.len() - 4).expect("compressible");
        let mut out = b"prefix".to_vec();
        assert_eq!(compress_into(&data, data.len() - 4, &mut out), Some(alone.len()));
        assert_eq!(&out[..6], b"prefix");
        assert_eq!(decompress(&out[6..], data.len()).unwrap(), data);
        let mut rng = Rng::with_seed(11);
        let noise: Vec<u8> = (0..300).map(|_| rng.next_u64() as u8).collect();
        assert_eq!(compress_into(&noise, noise.len() - 4, &mut out), None);
        assert_eq!(out.len(), 6 + alone.len());
    }

    #[test]
    fn compresses_repetitive_data_and_round_trips() {
        let data = vec![b'a'; 1000];
        let c = compress(&data, data.len() - 4).expect("compressible");
        assert!(c.len() < 40, "{}", c.len());
        assert_eq!(decompress(&c, 1000).unwrap(), data);
        round_trip(b"hello hello hello hello hello hello");
        let text: Vec<u8> = (0..5000).flat_map(|i| format!("item:{} ", i % 97).into_bytes()).collect();
        round_trip(&text);
        // Random bytes do not compress: the caller falls back to verbatim.
        let mut rng = Rng::with_seed(7);
        let noise: Vec<u8> = (0..300).map(|_| rng.next_u64() as u8).collect();
        assert!(compress(&noise, noise.len() - 4).is_none());
        round_trip(&noise);
    }

    #[test]
    fn decodes_a_hand_made_stream() {
        // Literal "ab", then a reference copying 4 bytes from 2 back: "ababab".
        let stream = [1, b'a', b'b', 2 << 5, 1];
        assert_eq!(decompress(&stream, 6).unwrap(), b"ababab");
        assert_eq!(decompress(&stream, 5), Err(LzfError::TooLong));
        assert_eq!(decompress(&stream, 7), Err(LzfError::TooShort));
        assert_eq!(decompress(&[2 << 5, 1], 4), Err(LzfError::BadReference));
        assert_eq!(decompress(&[3, b'a'], 4), Err(LzfError::Truncated));
    }

    /// Seeded xorshift fuzz: random and mutated streams never panic.
    #[test]
    fn fuzz_decompress_never_panics() {
        let mut rng = Rng::with_seed(0x1234_5678);
        let base = compress(&[b"abcabcabc".repeat(20), b"xyz".repeat(30)].concat(), 500).unwrap();
        for round in 0..20_000 {
            let mut buf: Vec<u8> = if round % 2 == 0 {
                (0..(rng.next_u64() % 48)).map(|_| rng.next_u64() as u8).collect()
            } else {
                base.clone()
            };
            if !buf.is_empty() {
                for _ in 0..(rng.next_u64() % 3) {
                    let i = (rng.next_u64() as usize) % buf.len();
                    buf[i] = rng.next_u64() as u8;
                }
            }
            let _ = decompress(&buf, (rng.next_u64() % 400) as usize);
        }
    }
}
