//! Readers for the blob encodings older Redis versions wrote into RDB files
//! and DUMP payloads, which Redis 7.0 still loads: the ziplist (lists,
//! hashes and sorted sets before 7.0) and the zipmap (hashes before 2.6).
//!
//! Owns only the parsing: each function validates the whole blob the way
//! Redis's deep integrity checks do (sizes from the header, every entry
//! inside the buffer, back lengths consistent, counts matching) and returns
//! the entries; converting them into our own encodings is the caller's job.
//! Never panics on any input.

/// One ziplist or zipmap entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry<'a> {
    /// An integer-encoded entry.
    Int(i64),
    /// A string entry.
    Str(&'a [u8]),
}

impl Entry<'_> {
    /// The entry's text (integers in decimal).
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            Entry::Int(n) => crate::util::num::ll2string(*n),
            Entry::Str(s) => s.to_vec(),
        }
    }
}

/// Ziplist header: total bytes (u32), tail offset (u32), count (u16).
const ZL_HEADER: usize = 10;
/// The terminator of ziplists and zipmaps.
const END: u8 = 0xFF;
/// Ziplist count meaning "too many to store".
const ZL_COUNT_UNKNOWN: u16 = u16::MAX;

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parses one ziplist entry at `p`: (prevlen, entry size, value).
fn zl_entry(zl: &[u8], p: usize) -> Option<(usize, usize, Entry<'_>)> {
    let last = zl.len() - 1;
    let first = *zl.get(p)?;
    let (prevlen, plen) = if first < 254 {
        (first as usize, 1)
    } else if first == 254 {
        (le32(zl, p + 1)? as usize, 5)
    } else {
        return None;
    };
    let e = p + plen;
    if e > last {
        return None;
    }
    let enc = zl[e];
    let (lensize, len, value_int): (usize, usize, Option<i64>) = match enc >> 6 {
        0 => (1, (enc & 0x3f) as usize, None),
        1 => (2, (((enc & 0x3f) as usize) << 8) | *zl.get(e + 1)? as usize, None),
        2 => {
            let s = zl.get(e + 1..e + 5)?;
            (5, u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize, None)
        }
        _ => match enc {
            0xC0 => (1, 2, Some(0)),
            0xD0 => (1, 4, Some(0)),
            0xE0 => (1, 8, Some(0)),
            0xF0 => (1, 3, Some(0)),
            0xFE => (1, 1, Some(0)),
            0xF1..=0xFD => (1, 0, Some((enc & 0x0f) as i64 - 1)),
            _ => return None,
        },
    };
    let data = e.checked_add(lensize)?;
    let end = data.checked_add(len)?;
    if end > last {
        return None;
    }
    let body = &zl[data..end];
    let value = match value_int {
        None => Entry::Str(body),
        Some(imm) => Entry::Int(match enc {
            0xC0 => i16::from_le_bytes([body[0], body[1]]) as i64,
            0xD0 => i32::from_le_bytes([body[0], body[1], body[2], body[3]]) as i64,
            0xE0 => {
                let mut a = [0u8; 8];
                a.copy_from_slice(body);
                i64::from_le_bytes(a)
            }
            // 24 bits, sign-extended through the top of an i32.
            0xF0 => (i32::from_le_bytes([0, body[0], body[1], body[2]]) >> 8) as i64,
            0xFE => body[0] as i8 as i64,
            _ => imm,
        }),
    };
    Some((prevlen, end - p, value))
}

/// Every entry of a ziplist blob, or None when the blob is not a valid
/// ziplist (Redis's ziplistValidateIntegrity with deep checks).
pub fn ziplist_entries(zl: &[u8]) -> Option<Vec<Entry<'_>>> {
    if zl.len() < ZL_HEADER + 1 {
        return None;
    }
    if le32(zl, 0)? as usize != zl.len() || zl[zl.len() - 1] != END {
        return None;
    }
    let tail = le32(zl, 4)? as usize;
    if tail > zl.len() - 1 {
        return None;
    }
    let declared = u16::from_le_bytes([zl[8], zl[9]]);
    let mut out = Vec::new();
    let mut p = ZL_HEADER;
    let mut prev_size = 0;
    let mut prev_pos = None;
    while zl[p] != END {
        let (prevlen, size, v) = zl_entry(zl, p)?;
        if prevlen != prev_size {
            return None;
        }
        out.push(v);
        prev_size = size;
        prev_pos = Some(p);
        p += size;
        if p >= zl.len() {
            return None;
        }
    }
    if p != zl.len() - 1 {
        return None;
    }
    if prev_pos.is_some_and(|last| last != tail) {
        return None;
    }
    if declared != ZL_COUNT_UNKNOWN && declared as usize != out.len() {
        return None;
    }
    Some(out)
}

/// Reads a zipmap length at `p`: (value, bytes it took).
fn zm_len(zm: &[u8], p: usize) -> Option<(usize, usize)> {
    let b = *zm.get(p)?;
    if b < 254 {
        Some((b as usize, 1))
    } else {
        Some((le32(zm, p + 1)? as usize, 5))
    }
}

/// The field/value pairs of a zipmap blob, or None when it is not a valid,
/// non-empty zipmap (Redis's zipmapValidateIntegrity with deep checks).
pub fn zipmap_pairs(zm: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    if zm.len() < 2 || zm[zm.len() - 1] != END {
        return None;
    }
    let last = zm.len() - 1;
    let mut out = Vec::new();
    let mut p = 1;
    while *zm.get(p)? != END {
        let (flen, s) = zm_len(zm, p)?;
        let f = p + s;
        let v_at = f.checked_add(flen)?;
        if v_at > last {
            return None;
        }
        let (vlen, s) = zm_len(zm, v_at)?;
        let free_at = v_at + s;
        let free = *zm.get(free_at)? as usize;
        let v = free_at + 1;
        let next = v.checked_add(vlen)?.checked_add(free)?;
        if next > last {
            return None;
        }
        out.push((&zm[f..f + flen], &zm[v..v + vlen]));
        p = next;
    }
    if out.is_empty() || (zm[0] != 254 && zm[0] as usize != out.len()) {
        return None;
    }
    Some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a ziplist from entries (strings, or integers in the given
    /// encoding byte) the way Redis lays it out.
    pub fn build_ziplist(items: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut tail = ZL_HEADER;
        for it in items {
            tail = ZL_HEADER + body.len();
            let start = body.len();
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(254);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            match crate::util::num::string2ll(it) {
                Some(v) if (0..=12).contains(&v) => body.push(0xF1 + v as u8),
                Some(v) if i8::try_from(v).is_ok() => {
                    body.push(0xFE);
                    body.push(v as i8 as u8);
                }
                Some(v) if i16::try_from(v).is_ok() => {
                    body.push(0xC0);
                    body.extend_from_slice(&(v as i16).to_le_bytes());
                }
                Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                    body.push(0xF0);
                    body.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                }
                Some(v) if i32::try_from(v).is_ok() => {
                    body.push(0xD0);
                    body.extend_from_slice(&(v as i32).to_le_bytes());
                }
                Some(v) => {
                    body.push(0xE0);
                    body.extend_from_slice(&v.to_le_bytes());
                }
                None if it.len() < 64 => {
                    body.push(it.len() as u8);
                    body.extend_from_slice(it);
                }
                None if it.len() < 16384 => {
                    body.push(0x40 | (it.len() >> 8) as u8);
                    body.push(it.len() as u8);
                    body.extend_from_slice(it);
                }
                None => {
                    body.push(0x80);
                    body.extend_from_slice(&(it.len() as u32).to_be_bytes());
                    body.extend_from_slice(it);
                }
            }
            prev = body.len() - start;
        }
        let total = ZL_HEADER + body.len() + 1;
        let mut zl = Vec::with_capacity(total);
        zl.extend_from_slice(&(total as u32).to_le_bytes());
        zl.extend_from_slice(&(tail as u32).to_le_bytes());
        zl.extend_from_slice(&(items.len() as u16).to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(END);
        zl
    }

    #[test]
    fn ziplist_round_trips_every_encoding() {
        let long = vec![b'q'; 300];
        let huge = vec![b'z'; 20_000];
        let items: Vec<&[u8]> =
            vec![b"a", b"7", b"-100", b"1000", b"-3000000", b"100000000", b"99999999999", b"", &long, &huge, b"x"];
        let zl = build_ziplist(&items);
        let got = ziplist_entries(&zl).expect("valid");
        let texts: Vec<Vec<u8>> = got.iter().map(|e| e.to_vec()).collect();
        let want: Vec<Vec<u8>> = items.iter().map(|s| s.to_vec()).collect();
        assert_eq!(texts, want);
        assert_eq!(got[1], Entry::Int(7));
        assert_eq!(got[4], Entry::Int(-3_000_000));
        // Wrong count, wrong tail, wrong prevlen are all rejected.
        let mut bad = zl.clone();
        bad[8] = 3;
        assert!(ziplist_entries(&bad).is_none());
        let mut bad = zl.clone();
        bad[4] = 11;
        assert!(ziplist_entries(&bad).is_none());
        let mut bad = zl.clone();
        bad[ZL_HEADER + 3] = 9; // prevlen of the second entry
        assert!(ziplist_entries(&bad).is_none());
        assert_eq!(ziplist_entries(&build_ziplist(&[])), Some(vec![]));
    }

    #[test]
    fn zipmap_reads_pairs_and_rejects_empty() {
        // count 2; "a" -> "bb" (1 free byte), "c" -> "" ; end.
        let zm = [2, 1, b'a', 2, 1, b'b', b'b', 0, 1, b'c', 0, 0, 0xFF];
        assert_eq!(zipmap_pairs(&zm), Some(vec![(&b"a"[..], &b"bb"[..]), (&b"c"[..], &b""[..])]));
        assert!(zipmap_pairs(&[2, 0xFF]).is_none());
        let mut bad = zm;
        bad[0] = 3;
        assert!(zipmap_pairs(&bad).is_none());
        assert!(zipmap_pairs(&zm[..zm.len() - 3]).is_none());
    }

    /// Seeded xorshift fuzz over random and mutated blobs.
    #[test]
    fn fuzz_parsers_never_panic() {
        let mut rng = crate::util::rand::Rng::with_seed(99);
        let base = build_ziplist(&[b"abc", b"12", b"-70000", &[b'k'; 70], b"5"]);
        let zm = [2u8, 1, b'a', 2, 1, b'b', b'b', 0, 1, b'c', 0, 0, 0xFF];
        for round in 0..30_000 {
            let mut buf: Vec<u8> = match round % 3 {
                0 => (0..(rng.next_u64() % 40)).map(|_| rng.next_u64() as u8).collect(),
                1 => base.clone(),
                _ => zm.to_vec(),
            };
            if !buf.is_empty() {
                for _ in 0..(1 + rng.next_u64() % 3) {
                    let i = (rng.next_u64() as usize) % buf.len();
                    buf[i] = rng.next_u64() as u8;
                }
            }
            let _ = ziplist_entries(&buf);
            let _ = zipmap_pairs(&buf);
        }
    }
}
