//! Writing one value in RDB format, as Redis 7.0 (RDB version 10) writes it:
//! the object type byte, then the object body.
//!
//! Owns the byte layout of lengths, strings (integer forms 0xC0-0xC2, LZF
//! 0xC3 when compression is on and the string is longer than 20 bytes),
//! doubles, millisecond times and every object type. It reads values through
//! their own accessors and never changes them. Where our in-memory encoding
//! already is Redis's blob (listpack hashes, quicklist nodes, intsets,
//! stream nodes) the bytes are written as they are, exactly as rdbSaveObject
//! does. Types written: string 0, set 2 / intset 11, hash 4 / listpack 16,
//! zset ZSET_2 5 / listpack 17, list QUICKLIST_2 18, stream
//! STREAM_LISTPACKS_2 19 (the newest stream type Redis 7.0 knows).

use super::lzf;
use super::opcodes::*;
use crate::types::list::NodeView;
use crate::types::listpack::{Listpack, LpValue};
use crate::types::set::Set;
use crate::types::stream::{Stream, StreamId};
use crate::types::value::{Str, Value};
use crate::types::zset::ZSet;
use crate::util::num::{d2string, string2ll};

/// Appends an RDB length: 6 bits, 14 bits, or a 32/64-bit big-endian value
/// after a marker byte.
pub fn put_len(out: &mut Vec<u8>, len: u64) {
    let (bytes, width) = len_encoding(len);
    out.extend_from_slice(&bytes[..width]);
}

/// The bytes of an RDB length (see [`put_len`]) and how many of them count.
fn len_encoding(len: u64) -> ([u8; 9], usize) {
    let mut b = [0u8; 9];
    if len < 1 << 6 {
        b[0] = len as u8;
        (b, 1)
    } else if len < 1 << 14 {
        b[0] = 0x40 | (len >> 8) as u8;
        b[1] = len as u8;
        (b, 2)
    } else if len <= u32::MAX as u64 {
        b[0] = LEN_32BIT;
        b[1..5].copy_from_slice(&(len as u32).to_be_bytes());
        (b, 5)
    } else {
        b[0] = LEN_64BIT;
        b[1..].copy_from_slice(&len.to_be_bytes());
        (b, 9)
    }
}

/// Appends `v` in the smallest integer string encoding, if it fits 32 bits.
fn put_int_encoded(out: &mut Vec<u8>, v: i64) -> bool {
    if let Ok(b) = i8::try_from(v) {
        out.push(ENC_INT8);
        out.push(b as u8);
    } else if let Ok(h) = i16::try_from(v) {
        out.push(ENC_INT16);
        out.extend_from_slice(&h.to_le_bytes());
    } else if let Ok(w) = i32::try_from(v) {
        out.push(ENC_INT32);
        out.extend_from_slice(&w.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// Appends a string as rdbSaveRawString does: integer form for short
/// canonical integers, LZF when `compress` and worth it, verbatim otherwise.
pub fn put_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 {
        if let Some(v) = string2ll(s) {
            if put_int_encoded(out, v) {
                return;
            }
        }
    }
    if compress && s.len() > 20 {
        // At least four bytes must be saved for compression to be worth it.
        let max = s.len() - 4;
        // The header goes first but holds the compressed size: leave room
        // for the widest length the result can have, then close the gap if
        // the real one is narrower.
        let start = out.len();
        out.push(ENC_LZF);
        put_len(out, max as u64);
        put_len(out, s.len() as u64);
        let reserved = out.len();
        match lzf::compress_into(s, max, out) {
            Some(n) => {
                let (clen, cw) = len_encoding(n as u64);
                let (olen, ow) = len_encoding(s.len() as u64);
                let header_end = start + 1 + cw + ow;
                if header_end < reserved {
                    out.copy_within(reserved..reserved + n, header_end);
                    out.truncate(header_end + n);
                }
                out[start + 1..start + 1 + cw].copy_from_slice(&clen[..cw]);
                out[start + 1 + cw..header_end].copy_from_slice(&olen[..ow]);
                return;
            }
            None => out.truncate(start),
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends an integer-valued string (rdbSaveLongLongAsStringObject): the
/// integer forms when it fits 32 bits, else its decimal text verbatim.
pub fn put_int_string(out: &mut Vec<u8>, v: i64) {
    if !put_int_encoded(out, v) {
        let text = crate::util::num::ll2string(v);
        put_len(out, text.len() as u64);
        out.extend_from_slice(&text);
    }
}

/// Appends a Unix time in ms as 8 little-endian bytes.
pub fn put_millis(out: &mut Vec<u8>, ms: i64) {
    out.extend_from_slice(&ms.to_le_bytes());
}

/// Appends a stream ID as its 16 raw big-endian bytes (the rax key form).
fn put_raw_id(out: &mut Vec<u8>, id: StreamId) {
    out.extend_from_slice(&id.ms.to_be_bytes());
    out.extend_from_slice(&id.seq.to_be_bytes());
}

/// The RDB type byte Redis 7.0 writes for `v`.
pub fn object_type(v: &Value) -> u8 {
    match v {
        Value::Str(_) => TYPE_STRING,
        Value::List(_) => TYPE_LIST_QUICKLIST_2,
        Value::Set(s) => match **s {
            Set::Int(_) => TYPE_SET_INTSET,
            Set::Hash(_) => TYPE_SET,
        },
        Value::ZSet(z) => match **z {
            ZSet::Listpack(_) => TYPE_ZSET_LISTPACK,
            ZSet::Skiplist(_) => TYPE_ZSET_2,
        },
        Value::Hash(h) => match h.listpack() {
            Some(_) => TYPE_HASH_LISTPACK,
            None => TYPE_HASH,
        },
        Value::Stream(_) => TYPE_STREAM_LISTPACKS_2,
    }
}

/// Appends the body of `v` (what follows the type byte).
pub fn put_object(out: &mut Vec<u8>, v: &Value, compress: bool) {
    match v {
        Value::Str(Str::Int(n)) => put_int_string(out, *n),
        Value::Str(Str::Bytes(b)) => put_string(out, b, compress),
        Value::Str(Str::Raw(b)) => put_string(out, b, compress),
        Value::List(l) => {
            put_len(out, l.node_count() as u64);
            for node in l.nodes() {
                match node {
                    NodeView::Packed(lp) => {
                        put_len(out, QUICKLIST_PACKED);
                        put_string(out, lp.as_bytes(), compress);
                    }
                    NodeView::Plain(ele) => {
                        put_len(out, QUICKLIST_PLAIN);
                        put_string(out, ele, compress);
                    }
                }
            }
        }
        Value::Set(s) => match &**s {
            Set::Int(is) => put_string(out, &is.to_blob(), compress),
            Set::Hash(d) => {
                put_len(out, d.len() as u64);
                for (m, _) in d.iter() {
                    put_string(out, m, compress);
                }
            }
        },
        Value::ZSet(z) => match &**z {
            ZSet::Listpack(pairs) => {
                let mut lp = Listpack::new();
                for (m, s) in pairs {
                    lp.push_back(m);
                    lp.push_back(&d2string(*s));
                }
                put_string(out, lp.as_bytes(), compress);
            }
            ZSet::Skiplist(_) => {
                put_len(out, z.len() as u64);
                // Greatest first, as Redis writes them, so loading inserts at the head.
                if let Some(last) = z.len().checked_sub(1) {
                    for (m, s) in z.iter_from(last, true) {
                        put_string(out, m, compress);
                        out.extend_from_slice(&s.to_le_bytes());
                    }
                }
            }
        },
        Value::Hash(h) => match h.listpack() {
            Some(lp) => put_string(out, lp.as_bytes(), compress),
            None => {
                put_len(out, h.len() as u64);
                let mut scratch = (Vec::new(), Vec::new());
                h.for_each(|f, v| {
                    put_lp_value(out, f, compress, &mut scratch.0);
                    put_lp_value(out, v, compress, &mut scratch.1);
                });
            }
        },
        Value::Stream(st) => put_stream(out, st, compress),
    }
}

fn put_lp_value(out: &mut Vec<u8>, v: LpValue<'_>, compress: bool, scratch: &mut Vec<u8>) {
    match v {
        LpValue::Str(s) => put_string(out, s, compress),
        LpValue::Int(n) => {
            scratch.clear();
            crate::util::num::write_i64(scratch, n);
            put_string(out, scratch, compress);
        }
    }
}

fn put_stream(out: &mut Vec<u8>, st: &Stream, compress: bool) {
    let e = &st.entries;
    put_len(out, e.node_count() as u64);
    let mut key = Vec::with_capacity(16);
    for (master, lp) in e.raw_nodes() {
        key.clear();
        put_raw_id(&mut key, master);
        put_string(out, &key, compress);
        put_string(out, lp, compress);
    }
    put_len(out, e.length);
    for id in [e.last_id, e.first_id, e.max_deleted_entry_id] {
        put_len(out, id.ms);
        put_len(out, id.seq);
    }
    put_len(out, e.entries_added);
    put_len(out, st.groups.len() as u64);
    for (name, g) in &st.groups {
        put_string(out, name, compress);
        put_len(out, g.last_id.ms);
        put_len(out, g.last_id.seq);
        // The "unknown" counter (-1) is written as its unsigned 64-bit image.
        put_len(out, g.entries_read as u64);
        put_len(out, g.pel.len() as u64);
        for (id, nack) in &g.pel {
            put_raw_id(out, *id);
            put_millis(out, nack.delivery_time_ms);
            put_len(out, nack.delivery_count);
        }
        put_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            put_string(out, cname, compress);
            put_millis(out, c.seen_time_ms);
            put_len(out, c.pel.len() as u64);
            for id in &c.pel {
                put_raw_id(out, *id);
            }
        }
    }
}

/// Reads one byte from each level of memory that [`put_object`] will read
/// first for `v` (the boxed collection, its first buffer), and returns a
/// value depending on all of them. The writer calls it for a batch of keys
/// before encoding them, so their cache misses overlap instead of being
/// taken one after the other; the result means nothing.
pub fn touch(v: &Value) -> u8 {
    let first = |b: &[u8]| b.first().copied().unwrap_or(0);
    match v {
        Value::Str(Str::Int(n)) => *n as u8,
        Value::Str(Str::Bytes(b)) => first(b),
        Value::Str(Str::Raw(b)) => first(b),
        Value::List(l) => match l.nodes().next() {
            Some(NodeView::Packed(lp)) => first(lp.as_bytes()),
            Some(NodeView::Plain(ele)) => first(ele),
            None => 0,
        },
        Value::Set(s) => match &**s {
            Set::Int(is) => is.len() as u8,
            Set::Hash(d) => d.iter().next().map_or(0, |(m, _)| first(m)),
        },
        Value::ZSet(z) => match &**z {
            ZSet::Listpack(pairs) => pairs.first().map_or(0, |(m, _)| first(m)),
            ZSet::Skiplist(_) => z.len() as u8,
        },
        Value::Hash(h) => h.listpack().map_or(0, |lp| first(lp.as_bytes())),
        Value::Stream(st) => st.entries.length as u8,
    }
}

/// The type byte and body of `v`, as DUMP and the RDB writer need them.
pub fn serialize(out: &mut Vec<u8>, v: &Value, compress: bool) {
    out.push(object_type(v));
    put_object(out, v, compress);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_use_redis_widths() {
        let enc = |n: u64| {
            let mut v = Vec::new();
            put_len(&mut v, n);
            v
        };
        assert_eq!(enc(10), [10]);
        assert_eq!(enc(63), [63]);
        assert_eq!(enc(64), [0x40, 64]);
        assert_eq!(enc(16383), [0x7f, 0xff]);
        assert_eq!(enc(16384), [0x80, 0, 0, 0x40, 0]);
        assert_eq!(enc(1 << 32), [0x81, 0, 0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn strings_pick_integer_lzf_or_verbatim_forms() {
        let enc = |s: &[u8], c: bool| {
            let mut v = Vec::new();
            put_string(&mut v, s, c);
            v
        };
        assert_eq!(enc(b"12", false), [0xC0, 12]);
        assert_eq!(enc(b"-300", false), [0xC1, 0xD4, 0xFE]);
        assert_eq!(enc(b"100000", false), [0xC2, 0xA0, 0x86, 1, 0]);
        assert_eq!(enc(b"012", false), [3, b'0', b'1', b'2']);
        // 12 chars: too long for the integer forms even when numeric.
        assert_eq!(enc(b"123456789012", false)[0], 12);
        let long = vec![b'x'; 100];
        assert_eq!(enc(&long, false)[..2], [0x40, 100]);
        assert_eq!(enc(&long, true)[0], 0xC3);
        // 100 bytes may compress to 96 (two-byte length) but take far
        // fewer (one byte): the header must shrink and the data follow it.
        let c = enc(&long, true);
        let n = c[1] as usize;
        assert!(n < 64);
        assert_eq!(c[2..4], [0x40, 100]);
        assert_eq!(c.len(), 4 + n);
        assert_eq!(lzf::decompress(&c[4..], 100).unwrap(), long);
        // Behind existing bytes and with a long input, too.
        let text: Vec<u8> = (0..20_000u32).flat_map(|i| (i % 300).to_string().into_bytes()).collect();
        let mut out = vec![7u8; 3];
        put_string(&mut out, &text, true);
        assert_eq!(&out[..4], [7, 7, 7, 0xC3]);
        let (clen, w) = if out[4] & 0xC0 == 0x40 {
            (((out[4] & 0x3f) as usize) << 8 | out[5] as usize, 2)
        } else {
            (u32::from_be_bytes([out[5], out[6], out[7], out[8]]) as usize, 5)
        };
        let mut plain_len = Vec::new();
        put_len(&mut plain_len, text.len() as u64);
        assert_eq!(out[4 + w..4 + w + 5], plain_len[..]);
        assert_eq!(out.len(), 4 + w + 5 + clen);
        assert_eq!(lzf::decompress(&out[4 + w + 5..], text.len()).unwrap(), text);
        let mut big = Vec::new();
        put_int_string(&mut big, 1 << 40);
        assert_eq!(big, b"\x0d1099511627776");
    }
}
