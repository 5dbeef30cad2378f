//! A minimal listpack codec for stream nodes: the byte layout Redis 7.0 uses
//! for the listpacks hanging off a stream's radix tree (6-byte header with the
//! total size and element count, entries as encoding + payload + back-length,
//! a 0xFF terminator).
//!
//! Owns only the byte format: appending integers and strings (strings that are
//! canonical integers are stored as integers, as `lpAppend` does), replacing an
//! integer in place, and walking elements forward. It knows nothing about
//! stream entries (see `node`). Keeping the real layout means node sizes, and
//! therefore where `stream-node-max-bytes` splits nodes, match Redis byte for
//! byte, and a future RDB writer can emit nodes verbatim.
//!
//! Decoding never panics: a malformed buffer ends the walk (`None`).

use crate::util::num::IntBuf;

/// Bytes of the header: total size (u32 LE) and element count (u16 LE).
pub const HDR_SIZE: usize = 6;
/// The terminator byte.
const EOF: u8 = 0xFF;
/// Element count stored when the real count does not fit in 16 bits.
const NUMELE_UNKNOWN: u16 = u16::MAX;

/// One decoded element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem<'a> {
    /// An integer-encoded element.
    Int(i64),
    /// A string element.
    Str(&'a [u8]),
}

impl<'a> Elem<'a> {
    /// The element as an integer: integers as is, strings parsed strictly.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Elem::Int(v) => Some(*v),
            Elem::Str(s) => crate::util::num::string2ll(s),
        }
    }

    /// The element as bytes; integers are rendered into `buf`.
    pub fn as_bytes<'b>(&self, buf: &'b mut IntBuf) -> &'b [u8]
    where
        'a: 'b,
    {
        match self {
            Elem::Int(v) => {
                *buf = IntBuf::new(*v);
                buf.as_bytes()
            }
            Elem::Str(s) => s,
        }
    }

    /// True if the element holds exactly `bytes` (an integer matches its
    /// decimal text).
    pub fn eq_bytes(&self, bytes: &[u8]) -> bool {
        match self {
            Elem::Str(s) => *s == bytes,
            Elem::Int(v) => IntBuf::new(*v).as_bytes() == bytes,
        }
    }
}

/// A listpack in one contiguous buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listpack {
    buf: Vec<u8>,
}

impl Default for Listpack {
    fn default() -> Self {
        Listpack::new()
    }
}

/// Integer encoding of `v`: the encoded bytes in `out`, returns their count.
fn encode_int(v: i64, out: &mut [u8; 9]) -> usize {
    if (0..=127).contains(&v) {
        out[0] = v as u8;
        1
    } else if (-4096..=4095).contains(&v) {
        let u = if v < 0 { (1i64 << 13) + v } else { v } as u64;
        out[0] = ((u >> 8) as u8) | 0xC0;
        out[1] = u as u8;
        2
    } else if (-32768..=32767).contains(&v) {
        let u = v as u16;
        out[0] = 0xF1;
        out[1..3].copy_from_slice(&u.to_le_bytes());
        3
    } else if (-8_388_608..=8_388_607).contains(&v) {
        let u = (v as u32) & 0x00FF_FFFF;
        out[0] = 0xF2;
        out[1..4].copy_from_slice(&u.to_le_bytes()[..3]);
        4
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
        out[0] = 0xF3;
        out[1..5].copy_from_slice(&(v as i32).to_le_bytes());
        5
    } else {
        out[0] = 0xF4;
        out[1..9].copy_from_slice(&v.to_le_bytes());
        9
    }
}

/// Bytes the back-length of an element of `len` encoded bytes takes.
fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// Appends the back-length of `len` (most significant 7-bit group first,
/// continuation bit on all but the first byte, read right to left).
fn push_backlen(out: &mut Vec<u8>, len: usize) {
    let n = backlen_size(len);
    for i in (0..n).rev() {
        let group = ((len >> (7 * i)) & 127) as u8;
        out.push(if i == n - 1 { group } else { group | 128 });
    }
}

/// Parses `s` as `lpStringToInt64` does: canonical decimal i64 only.
fn string_to_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    crate::util::num::string2ll(s)
}

/// Encoded size (without back-length) of a string element of `len` bytes.
fn str_enc_size(len: usize) -> usize {
    if len < 64 {
        1 + len
    } else if len < 4096 {
        2 + len
    } else {
        5 + len
    }
}

/// The full size an element holding `bytes` takes once appended: what
/// `lpAppend` would add to the listpack.
pub fn appended_size(bytes: &[u8]) -> usize {
    let enc = match string_to_int(bytes) {
        Some(v) => encode_int(v, &mut [0; 9]),
        None => str_enc_size(bytes.len()),
    };
    enc + backlen_size(enc)
}

/// The full size an integer element takes once appended.
pub fn int_size(v: i64) -> usize {
    let enc = encode_int(v, &mut [0; 9]);
    enc + backlen_size(enc)
}

impl Listpack {
    /// An empty listpack (header and terminator only).
    pub fn new() -> Listpack {
        let mut lp = Listpack { buf: Vec::with_capacity(64) };
        lp.buf.extend_from_slice(&[0; HDR_SIZE]);
        lp.buf.push(EOF);
        lp.set_header(0);
        lp
    }

    /// Adopts bytes already validated as a listpack (RDB load checks them
    /// with `types::listpack::Listpack::from_bytes` first).
    pub fn from_validated(buf: Vec<u8>) -> Listpack {
        Listpack { buf }
    }

    /// Total size in bytes, as `lpBytes` reports it.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// The raw bytes (RDB and DUMP will write these).
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// Gives back spare capacity (a full node, as `lpShrinkToFit`).
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }

    /// Heap bytes held (for memory accounting).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    fn count(&self) -> u16 {
        u16::from_le_bytes([self.buf[4], self.buf[5]])
    }

    fn set_header(&mut self, count: u16) {
        let total = (self.buf.len() as u32).to_le_bytes();
        self.buf[..4].copy_from_slice(&total);
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
    }

    fn bump_count(&mut self) {
        let c = self.count();
        let next = if c == NUMELE_UNKNOWN { c } else { c + 1 };
        self.set_header(next);
    }

    /// Appends one encoded element (without its back-length).
    fn push_encoded(&mut self, enc: &[u8]) {
        self.buf.pop(); // the terminator
        self.buf.extend_from_slice(enc);
        push_backlen(&mut self.buf, enc.len());
        self.buf.push(EOF);
        self.bump_count();
    }

    /// Appends an integer element.
    pub fn append_int(&mut self, v: i64) {
        let mut tmp = [0u8; 9];
        let n = encode_int(v, &mut tmp);
        self.push_encoded(&tmp[..n]);
    }

    /// Appends a string element (stored as an integer when it is the
    /// canonical text of one).
    pub fn append_str(&mut self, s: &[u8]) {
        if let Some(v) = string_to_int(s) {
            self.append_int(v);
            return;
        }
        let enc_len = str_enc_size(s.len());
        self.buf.pop(); // the terminator
        self.buf.reserve(enc_len + 6);
        if s.len() < 64 {
            self.buf.push(0x80 | s.len() as u8);
        } else if s.len() < 4096 {
            self.buf.push(0xE0 | (s.len() >> 8) as u8);
            self.buf.push(s.len() as u8);
        } else {
            self.buf.push(0xF0);
            self.buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        push_backlen(&mut self.buf, enc_len);
        self.buf.push(EOF);
        self.bump_count();
    }

    /// Offset of the first element, or None when empty.
    pub fn first(&self) -> Option<usize> {
        (self.buf.get(HDR_SIZE).is_some_and(|&b| b != EOF)).then_some(HDR_SIZE)
    }

    /// Decodes the element at `p`: its value and the encoded length (without
    /// back-length).
    fn decode(&self, p: usize) -> Option<(Elem<'_>, usize)> {
        let b = &self.buf;
        let first = *b.get(p)?;
        let bytes = |n: usize| b.get(p + 1..p + 1 + n);
        let sign_extend = |u: u64, bits: u32| ((u << (64 - bits)) as i64) >> (64 - bits);
        Some(if first & 0x80 == 0 {
            (Elem::Int((first & 0x7F) as i64), 1)
        } else if first & 0xC0 == 0x80 {
            let len = (first & 0x3F) as usize;
            (Elem::Str(bytes(len)?), 1 + len)
        } else if first & 0xE0 == 0xC0 {
            let u = (((first & 0x1F) as u64) << 8) | *b.get(p + 1)? as u64;
            (Elem::Int(sign_extend(u, 13)), 2)
        } else if first & 0xF0 == 0xE0 {
            let len = (((first & 0x0F) as usize) << 8) | *b.get(p + 1)? as usize;
            (Elem::Str(b.get(p + 2..p + 2 + len)?), 2 + len)
        } else {
            match first {
                0xF1 => {
                    let x = bytes(2)?;
                    (Elem::Int(i16::from_le_bytes([x[0], x[1]]) as i64), 3)
                }
                0xF2 => {
                    let x = bytes(3)?;
                    let u = x[0] as u64 | (x[1] as u64) << 8 | (x[2] as u64) << 16;
                    (Elem::Int(sign_extend(u, 24)), 4)
                }
                0xF3 => {
                    let x = bytes(4)?;
                    (Elem::Int(i32::from_le_bytes([x[0], x[1], x[2], x[3]]) as i64), 5)
                }
                0xF4 => {
                    let x = bytes(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(x);
                    (Elem::Int(i64::from_le_bytes(a)), 9)
                }
                0xF0 => {
                    let x = bytes(4)?;
                    let len = u32::from_le_bytes([x[0], x[1], x[2], x[3]]) as usize;
                    (Elem::Str(b.get(p + 5..p + 5 + len)?), 5 + len)
                }
                _ => return None,
            }
        })
    }

    /// The element at `p`.
    pub fn get(&self, p: usize) -> Option<Elem<'_>> {
        self.decode(p).map(|(e, _)| e)
    }

    /// The integer at `p` (strings parsed strictly).
    pub fn get_int(&self, p: usize) -> Option<i64> {
        self.get(p).and_then(|e| e.as_int())
    }

    /// Offset of the element after the one at `p`, or None at the end.
    pub fn next(&self, p: usize) -> Option<usize> {
        let (_, enc) = self.decode(p)?;
        let q = p + enc + backlen_size(enc);
        (self.buf.get(q).is_some_and(|&b| b != EOF)).then_some(q)
    }

    /// Replaces the integer element at `p` by `v`; elements after it move by
    /// the difference in encoded size.
    pub fn replace_int(&mut self, p: usize, v: i64) {
        let Some((_, old)) = self.decode(p) else { return };
        let old_total = old + backlen_size(old);
        let mut tmp = [0u8; 9];
        let n = encode_int(v, &mut tmp);
        if n == old {
            // Same width: overwrite in place (flags and most counter updates).
            self.buf[p..p + n].copy_from_slice(&tmp[..n]);
            return;
        }
        let mut enc = tmp[..n].to_vec();
        push_backlen(&mut enc, n);
        self.buf.splice(p..p + old_total, enc);
        let c = self.count();
        self.set_header(c);
    }

    /// Number of elements (walks the list when the header count saturated).
    pub fn len(&self) -> usize {
        let c = self.count();
        if c != NUMELE_UNKNOWN {
            return c as usize;
        }
        let mut n = 0;
        let mut p = self.first();
        while let Some(q) = p {
            n += 1;
            p = self.next(q);
        }
        n
    }

    /// True when the listpack holds no element.
    pub fn is_empty(&self) -> bool {
        self.first().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(lp: &Listpack) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut p = lp.first();
        while let Some(q) = p {
            let mut b = IntBuf::new(0);
            out.push(lp.get(q).unwrap().as_bytes(&mut b).to_vec());
            p = lp.next(q);
        }
        out
    }

    #[test]
    fn round_trip_every_encoding() {
        let ints = [
            0i64,
            127,
            128,
            -1,
            4095,
            -4096,
            4096,
            32767,
            -32768,
            40000,
            8_388_607,
            -8_388_608,
            9_000_000,
            i32::MIN as i64,
            i32::MAX as i64 + 1,
            i64::MIN,
            i64::MAX,
        ];
        let mut lp = Listpack::new();
        for v in ints {
            lp.append_int(v);
        }
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 100];
        lp.append_str(b"hello");
        lp.append_str(&mid);
        lp.append_str(&long);
        lp.append_str(b"0123");
        lp.append_str(b"-17");
        let got = all(&lp);
        for (i, v) in ints.iter().enumerate() {
            assert_eq!(got[i], v.to_string().into_bytes());
        }
        let n = ints.len();
        assert_eq!(got[n], b"hello");
        assert_eq!(got[n + 1], mid);
        assert_eq!(got[n + 2], long);
        assert_eq!(got[n + 3], b"0123");
        assert_eq!(lp.get(lp_pos(&lp, n + 4)), Some(Elem::Int(-17)));
        assert_eq!(lp.len(), n + 5);
        assert_eq!(u32::from_le_bytes(lp.buf[..4].try_into().unwrap()) as usize, lp.bytes());
    }

    fn lp_pos(lp: &Listpack, i: usize) -> usize {
        let mut p = lp.first().unwrap();
        for _ in 0..i {
            p = lp.next(p).unwrap();
        }
        p
    }

    #[test]
    fn sizes_match_redis_rules() {
        // An empty listpack is 7 bytes; a small int costs 2, "abc" 5.
        let mut lp = Listpack::new();
        assert_eq!(lp.bytes(), 7);
        lp.append_int(5);
        assert_eq!(lp.bytes(), 9);
        lp.append_str(b"abc");
        assert_eq!(lp.bytes(), 14);
        assert_eq!(appended_size(b"abc"), 5);
        assert_eq!(appended_size(b"1000"), 3);
        assert_eq!(int_size(100_000), 5);
        // A 200-byte string: 2 bytes of encoding, 2 of back-length.
        assert_eq!(appended_size(&[b'a'; 200]), 204);
    }

    #[test]
    fn replace_int_resizes() {
        let mut lp = Listpack::new();
        lp.append_int(1);
        lp.append_str(b"after");
        let p = lp.first().unwrap();
        lp.replace_int(p, 100_000);
        assert_eq!(lp.get_int(p), Some(100_000));
        let q = lp.next(p).unwrap();
        assert_eq!(lp.get(q), Some(Elem::Str(b"after")));
        lp.replace_int(p, 3);
        assert_eq!(lp.get_int(p), Some(3));
        assert_eq!(lp.bytes(), 7 + 2 + 7);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            let mut lp = Listpack::new();
            let n = (x % 40) as usize;
            lp.buf.truncate(HDR_SIZE);
            for _ in 0..n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                lp.buf.push(x as u8);
            }
            let mut p = lp.first();
            let mut steps = 0;
            while let Some(q) = p {
                let _ = lp.get(q);
                p = lp.next(q);
                steps += 1;
                assert!(steps < 100);
            }
            let _ = lp.len();
        }
    }
}
