//! Listpack: a compact, contiguous sequence of strings and integers, byte for
//! byte in Redis 7.0's listpack format, so small hashes and quicklist nodes
//! cost one allocation and can later be written to (and read from) RDB files
//! unchanged.
//!
//! Owns the byte layout and nothing else: no thresholds, no I/O. Callers
//! decide when a listpack has grown too big. Layout, as Redis defines it:
//! a 6-byte header (total bytes as u32 LE, element count as u16 LE, 65535
//! meaning "count unknown"), the entries, then a 0xFF terminator. An entry is
//! an encoding byte (plus length or integer bytes), the payload, and a
//! "backlen" (the size of encoding + payload as a right-to-left varint) so the
//! list can be walked from either end. Strings that are the canonical decimal
//! form of an i64 are stored as integers in the smallest of the 7, 13, 16,
//! 24, 32 or 64-bit forms, as Redis does.
//!
//! Positions are byte offsets of entry starts. A position stays valid until
//! the next mutation; mutating calls return the position to continue from.

use crate::util::num::IntBuf;

/// Size of the header (total bytes + element count).
pub const HEADER_SIZE: usize = 6;
/// The terminator byte.
const EOF: u8 = 0xFF;
/// Header count meaning "too many to count in 16 bits; walk to find out".
const COUNT_UNKNOWN: u16 = u16::MAX;
/// Largest listpack Redis considers safe to grow (`lpSafeToAdd`).
pub const MAX_SAFE_SIZE: usize = 1 << 30;

/// One decoded entry: an integer or a byte string borrowed from the listpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpValue<'a> {
    /// An entry stored in an integer encoding.
    Int(i64),
    /// An entry stored as a string.
    Str(&'a [u8]),
}

impl LpValue<'_> {
    /// True if the entry's text equals `s` (integers compare by their
    /// canonical decimal text, which is what a client sees).
    pub fn eq_bytes(&self, s: &[u8]) -> bool {
        match self {
            LpValue::Str(v) => *v == s,
            LpValue::Int(n) => {
                // An integer's text is at most 20 bytes, so longer needles differ.
                s.len() <= 20 && IntBuf::new(*n).as_bytes() == s
            }
        }
    }

    /// The entry as an integer: integers as is, strings parsed strictly.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            LpValue::Int(n) => Some(*n),
            LpValue::Str(s) => crate::util::num::string2ll(s),
        }
    }

    /// The entry's text; an integer is rendered into `buf`.
    pub fn as_bytes<'b>(&self, buf: &'b mut IntBuf) -> &'b [u8]
    where
        Self: 'b,
    {
        match *self {
            LpValue::Int(n) => {
                *buf = IntBuf::new(n);
                buf.as_bytes()
            }
            LpValue::Str(s) => s,
        }
    }

    /// The entry's text as an owned vector.
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            LpValue::Str(v) => v.to_vec(),
            LpValue::Int(n) => IntBuf::new(*n).as_bytes().to_vec(),
        }
    }

    /// Length of the entry's text in bytes.
    pub fn text_len(&self) -> usize {
        match self {
            LpValue::Str(v) => v.len(),
            LpValue::Int(n) => IntBuf::new(*n).as_bytes().len(),
        }
    }

    /// Calls `f` with the entry's text, without allocating.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            LpValue::Str(v) => f(v),
            LpValue::Int(n) => f(IntBuf::new(*n).as_bytes()),
        }
    }
}

/// Why a byte buffer is not a valid listpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpError {
    /// Shorter than a header plus terminator, or the header's size disagrees.
    BadSize,
    /// The last byte is not the terminator.
    NoTerminator,
    /// An entry's encoding byte is not one Redis defines.
    BadEncoding,
    /// An entry (or its backlen) runs past the end.
    Truncated,
    /// An entry's backlen does not match its size.
    BadBacklen,
    /// The header's element count does not match the entries.
    BadCount,
}

/// A listpack. Always valid: built through its own methods or validated by
/// [`Listpack::from_bytes`].
#[derive(Clone, PartialEq, Eq)]
pub struct Listpack {
    buf: Vec<u8>,
}

impl std::fmt::Debug for Listpack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_list();
        for v in self.iter() {
            match v {
                LpValue::Int(n) => l.entry(&n),
                LpValue::Str(s) => l.entry(&String::from_utf8_lossy(s)),
            };
        }
        l.finish()
    }
}

impl Default for Listpack {
    fn default() -> Self {
        Listpack::new()
    }
}

/// How a string argument would be stored: its integer value when it is the
/// canonical text of an i64 (Redis's `lpStringToInt64`).
fn as_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    crate::util::num::string2ll(s)
}

/// Bytes a backlen takes for an entry of `l` bytes (encoding + payload).
fn backlen_size(l: usize) -> usize {
    // Redis switches to the wider form one below each power of 2^7, so
    // these bounds (not 16383, 2097151 ...) keep sizes byte-identical.
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// Appends the backlen of an entry of `l` bytes: most significant 7-bit
/// group first; every byte but the first carries the continuation bit, so a
/// reader going right to left stops at the byte without it.
fn push_backlen(out: &mut Vec<u8>, l: usize) {
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let group = ((l >> (7 * i)) & 127) as u8;
        out.push(if i == n - 1 { group } else { group | 128 });
    }
}

/// Appends the whole encoded entry for `ele` (encoding, payload, backlen).
fn encode_entry(out: &mut Vec<u8>, ele: &[u8]) {
    let start = out.len();
    if let Some(v) = as_int(ele) {
        encode_int(out, v);
        return;
    }
    let len = ele.len();
    if len < 64 {
        out.push(0x80 | len as u8);
    } else if len < 4096 {
        out.push(0xE0 | (len >> 8) as u8);
        out.push(len as u8);
    } else {
        out.push(0xF0);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }
    out.extend_from_slice(ele);
    let l = out.len() - start;
    push_backlen(out, l);
}

/// Appends the whole entry for the integer `v`, in the smallest form.
fn encode_int(out: &mut Vec<u8>, v: i64) {
    let start = out.len();
    if (0..=127).contains(&v) {
        out.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = (v as u16) & 0x1fff;
        out.push(0xC0 | (u >> 8) as u8);
        out.push(u as u8);
    } else if (-32768..=32767).contains(&v) {
        out.push(0xF1);
        out.extend_from_slice(&(v as i16).to_le_bytes());
    } else if (-8_388_608..=8_388_607).contains(&v) {
        out.push(0xF2);
        out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
        out.push(0xF3);
        out.extend_from_slice(&(v as i32).to_le_bytes());
    } else {
        out.push(0xF4);
        out.extend_from_slice(&v.to_le_bytes());
    }
    let l = out.len() - start;
    push_backlen(out, l);
}

/// Encoded size of `ele` as an entry (what Redis's size estimates use).
pub fn entry_size(ele: &[u8]) -> usize {
    if let Some(v) = as_int(ele) {
        return int_entry_size(v);
    }
    let l = {
        let len = ele.len();
        len + if len < 64 {
            1
        } else if len < 4096 {
            2
        } else {
            5
        }
    };
    l + backlen_size(l)
}

/// Encoded size of the integer `v` as an entry.
pub fn int_entry_size(v: i64) -> usize {
    let l = match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8_388_608..=8_388_607 => 4,
        _ if (i32::MIN as i64..=i32::MAX as i64).contains(&v) => 5,
        _ => 9,
    };
    l + backlen_size(l)
}

/// Decodes the entry starting at `buf[p]`: its value and the size of its
/// encoding + payload (backlen excluded). `None` if the bytes are not a
/// complete entry.
///
/// The two one-byte-header forms (7-bit integers, strings up to 63 bytes),
/// most entries of most lists, are decoded inline in the caller; returning
/// the other forms' result from a call costs a store-forwarding stall per
/// entry, which dominated LRANGE.
#[inline(always)]
fn decode(buf: &[u8], p: usize) -> Option<(LpValue<'_>, usize)> {
    let b = *buf.get(p)?;
    if b & 0x80 == 0 {
        return Some((LpValue::Int(b as i64), 1));
    }
    if b & 0xC0 == 0x80 {
        let len = (b & 0x3f) as usize;
        return Some((LpValue::Str(buf.get(p + 1..p + 1 + len)?), 1 + len));
    }
    decode_wide(buf, p, b)
}

/// `decode` for the entries whose encoding byte `b` has a wider header.
fn decode_wide(buf: &[u8], p: usize, b: u8) -> Option<(LpValue<'_>, usize)> {
    let bytes = |n: usize| buf.get(p + 1..p + 1 + n);
    if b & 0xE0 == 0xC0 {
        let lo = *bytes(1)?.first()?;
        let u = (((b & 0x1f) as u16) << 8) | lo as u16;
        // Sign-extend the 13-bit two's complement value.
        let v = ((u << 3) as i16 >> 3) as i64;
        return Some((LpValue::Int(v), 2));
    }
    if b & 0xF0 == 0xE0 {
        let lo = *bytes(1)?.first()?;
        let len = (((b & 0x0f) as usize) << 8) | lo as usize;
        return Some((LpValue::Str(buf.get(p + 2..p + 2 + len)?), 2 + len));
    }
    match b {
        0xF0 => {
            let h = bytes(4)?;
            let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
            let data = buf.get(p + 5..(p + 5).checked_add(len)?)?;
            Some((LpValue::Str(data), 5 + len))
        }
        0xF1 => {
            let h = bytes(2)?;
            Some((LpValue::Int(i16::from_le_bytes([h[0], h[1]]) as i64), 3))
        }
        0xF2 => {
            let h = bytes(3)?;
            // Place the 3 bytes high in an i32, then shift back to sign-extend.
            let v = i32::from_le_bytes([0, h[0], h[1], h[2]]) >> 8;
            Some((LpValue::Int(v as i64), 4))
        }
        0xF3 => {
            let h = bytes(4)?;
            Some((LpValue::Int(i32::from_le_bytes([h[0], h[1], h[2], h[3]]) as i64), 5))
        }
        0xF4 => {
            let h = bytes(8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(h);
            Some((LpValue::Int(i64::from_le_bytes(a)), 9))
        }
        _ => None,
    }
}

/// Reads the backlen that ends just before `end`: returns (entry size, the
/// position where the backlen starts).
fn read_backlen(buf: &[u8], end: usize) -> Option<(usize, usize)> {
    let mut p = end.checked_sub(1)?;
    let mut val = 0usize;
    let mut shift = 0;
    loop {
        let b = *buf.get(p)?;
        val |= ((b & 127) as usize) << shift;
        if b & 128 == 0 {
            return Some((val, p));
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
        p = p.checked_sub(1)?;
    }
}

impl Listpack {
    /// An empty listpack (7 bytes: header and terminator).
    pub fn new() -> Listpack {
        let mut buf = Vec::with_capacity(HEADER_SIZE + 1);
        buf.extend_from_slice(&((HEADER_SIZE + 1) as u32).to_le_bytes());
        buf.extend_from_slice(&0u16.to_le_bytes());
        buf.push(EOF);
        Listpack { buf }
    }

    /// Validates untrusted bytes (an RDB payload) and adopts them. Every
    /// entry is checked, so later walks cannot go out of bounds.
    pub fn from_bytes(buf: Vec<u8>) -> Result<Listpack, LpError> {
        if buf.len() < HEADER_SIZE + 1 {
            return Err(LpError::BadSize);
        }
        let total = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if total != buf.len() {
            return Err(LpError::BadSize);
        }
        if buf[buf.len() - 1] != EOF {
            return Err(LpError::NoTerminator);
        }
        let declared = u16::from_le_bytes([buf[4], buf[5]]);
        let end = buf.len() - 1;
        let mut p = HEADER_SIZE;
        let mut count = 0usize;
        while p < end {
            if buf[p] == EOF {
                return Err(LpError::BadEncoding);
            }
            let (_, l) = decode(&buf, p).ok_or(LpError::Truncated)?;
            let bl = backlen_size(l);
            let next = p + l + bl;
            if next > end {
                return Err(LpError::Truncated);
            }
            match read_backlen(&buf, next) {
                Some((v, at)) if v == l && at == p + l => {}
                _ => return Err(LpError::BadBacklen),
            }
            p = next;
            count += 1;
        }
        if declared != COUNT_UNKNOWN && declared as usize != count {
            return Err(LpError::BadCount);
        }
        Ok(Listpack { buf })
    }

    /// Adopts bytes the caller already validated with `from_bytes` (RDB
    /// load checks a stream node before deciding where it goes).
    pub fn from_validated(buf: Vec<u8>) -> Listpack {
        debug_assert!(Listpack::from_bytes(buf.clone()).is_ok());
        Listpack { buf }
    }

    /// Heap bytes held, spare capacity included (memory accounting).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The raw bytes, in Redis's format.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Total size in bytes (Redis's `lpBytes`).
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Number of entries. O(1) unless more than 65534 entries.
    pub fn len(&self) -> usize {
        let n = u16::from_le_bytes([self.buf[4], self.buf[5]]);
        if n != COUNT_UNKNOWN {
            return n as usize;
        }
        self.iter().count()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.buf.len() == HEADER_SIZE + 1
    }

    fn eof_pos(&self) -> usize {
        self.buf.len() - 1
    }

    fn set_header(&mut self, count_delta: isize) {
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let n = u16::from_le_bytes([self.buf[4], self.buf[5]]);
        let new = if n == COUNT_UNKNOWN {
            // Recount once we shrink back under the 16-bit limit.
            if count_delta < 0 {
                let c = self.iter().count();
                if c < COUNT_UNKNOWN as usize {
                    c as u16
                } else {
                    COUNT_UNKNOWN
                }
            } else {
                COUNT_UNKNOWN
            }
        } else {
            let c = n as isize + count_delta;
            if c >= COUNT_UNKNOWN as isize {
                COUNT_UNKNOWN
            } else {
                c.max(0) as u16
            }
        };
        self.buf[4..6].copy_from_slice(&new.to_le_bytes());
    }

    /// Size in bytes of the whole entry at `p` (backlen included).
    fn entry_len(&self, p: usize) -> usize {
        let (_, l) = decode(&self.buf, p).expect("listpack entry is valid");
        l + backlen_size(l)
    }

    /// Position of the first entry.
    pub fn first(&self) -> Option<usize> {
        if self.is_empty() {
            None
        } else {
            Some(HEADER_SIZE)
        }
    }

    /// Position of the last entry.
    pub fn last(&self) -> Option<usize> {
        if self.is_empty() {
            None
        } else {
            self.prev_of(self.eof_pos())
        }
    }

    /// Position of the entry after `p`.
    pub fn next(&self, p: usize) -> Option<usize> {
        let n = p + self.entry_len(p);
        if n >= self.eof_pos() {
            None
        } else {
            Some(n)
        }
    }

    /// Position of the entry before `p`.
    pub fn prev(&self, p: usize) -> Option<usize> {
        if p <= HEADER_SIZE {
            None
        } else {
            self.prev_of(p)
        }
    }

    fn prev_of(&self, p: usize) -> Option<usize> {
        let (l, at) = read_backlen(&self.buf, p)?;
        at.checked_sub(l)
    }

    /// The entry at `p`.
    pub fn get(&self, p: usize) -> LpValue<'_> {
        decode(&self.buf, p).map(|(v, _)| v).expect("listpack entry is valid")
    }

    /// The entry at `p` as an integer (strings parsed strictly).
    pub fn get_int(&self, p: usize) -> Option<i64> {
        self.get(p).as_int()
    }

    /// The entry at `p` and the position of the one after it, decoding the
    /// entry once (forward iteration's step).
    #[inline]
    pub fn get_and_next(&self, p: usize) -> (LpValue<'_>, Option<usize>) {
        let (v, l) = decode(&self.buf, p).expect("listpack entry is valid");
        let n = p + l + backlen_size(l);
        (v, (n < self.eof_pos()).then_some(n))
    }

    /// Position of entry `index` (negative counts from the end, -1 being the
    /// last), walking from the nearer end.
    pub fn seek(&self, index: i64) -> Option<usize> {
        let len = self.len() as i64;
        let idx = if index < 0 { len + index } else { index };
        if idx < 0 || idx >= len {
            return None;
        }
        if idx <= len / 2 {
            let mut p = self.first()?;
            for _ in 0..idx {
                p = self.next(p)?;
            }
            Some(p)
        } else {
            let mut p = self.last()?;
            for _ in 0..(len - 1 - idx) {
                p = self.prev(p)?;
            }
            Some(p)
        }
    }

    /// Inserts `ele` before the entry at `p` (or at the end when `p` is the
    /// terminator's position, see [`Listpack::end`]). Returns the new entry's
    /// position.
    pub fn insert_at(&mut self, p: usize, ele: &[u8]) -> usize {
        // Encode at the end, then rotate the new bytes into place: one
        // memmove of the tail, no temporary vector.
        let old_len = self.buf.len();
        self.grow_for(entry_size(ele));
        encode_entry(&mut self.buf, ele);
        let added = self.buf.len() - old_len;
        self.buf[p..].rotate_right(added);
        self.set_header(1);
        p
    }

    /// The position just past the last entry: inserting there appends.
    pub fn end(&self) -> usize {
        self.eof_pos()
    }

    /// Appends `ele`.
    pub fn push_back(&mut self, ele: &[u8]) {
        self.append_with(entry_size(ele), |out| encode_entry(out, ele));
    }

    /// Appends the integer `v` (stored as `push_back` stores its text).
    pub fn push_int(&mut self, v: i64) {
        self.append_with(int_entry_size(v), |out| encode_int(out, v));
    }

    /// Appends the `size`-byte entry that `encode` writes.
    fn append_with(&mut self, size: usize, encode: impl FnOnce(&mut Vec<u8>)) {
        let at = self.eof_pos();
        self.grow_for(size);
        // Encode straight into place: drop the terminator, append, restore it.
        self.buf.truncate(at);
        encode(&mut self.buf);
        debug_assert_eq!(self.buf.len(), at + size);
        self.buf.push(EOF);
        self.set_header(1);
    }

    /// Makes room for `extra` more bytes, growing by at least a quarter of
    /// the current size: pushes cost an amortized constant instead of a
    /// reallocation each, and the slack stays within what the allocator's
    /// size classes (four per doubling) would round up to anyway.
    fn grow_for(&mut self, extra: usize) {
        if self.buf.capacity() - self.buf.len() < extra {
            self.buf.reserve_exact(extra.max(self.buf.len() / 4));
        }
    }

    /// Prepends `ele`.
    pub fn push_front(&mut self, ele: &[u8]) {
        self.insert_at(HEADER_SIZE, ele);
    }

    /// Deletes the entry at `p`; returns `p`, which now holds the following
    /// entry (or the terminator).
    pub fn delete_at(&mut self, p: usize) -> usize {
        let l = self.entry_len(p);
        self.buf.drain(p..p + l);
        self.set_header(-1);
        self.maybe_shrink();
        p
    }

    /// Deletes up to `n` entries starting at `p`; returns how many went.
    pub fn delete_range_at(&mut self, p: usize, n: usize) -> usize {
        let mut q = p;
        let mut deleted = 0;
        let end = self.eof_pos();
        while deleted < n && q < end {
            q += self.entry_len(q);
            deleted += 1;
        }
        self.buf.drain(p..q);
        self.set_header(-(deleted as isize));
        self.maybe_shrink();
        deleted
    }

    /// Replaces the entry at `p` with `ele`; `p` stays its position.
    pub fn replace_at(&mut self, p: usize, ele: &[u8]) {
        let mut enc = Vec::with_capacity(entry_size(ele));
        encode_entry(&mut enc, ele);
        self.replace_encoded(p, enc);
    }

    /// Replaces the entry at `p` with the integer `v`; same-width values
    /// (most counter and flag updates) are overwritten in place.
    pub fn replace_int(&mut self, p: usize, v: i64) {
        let mut enc = Vec::with_capacity(int_entry_size(v));
        encode_int(&mut enc, v);
        if enc.len() == self.entry_len(p) {
            self.buf[p..p + enc.len()].copy_from_slice(&enc);
        } else {
            self.replace_encoded(p, enc);
        }
    }

    fn replace_encoded(&mut self, p: usize, enc: Vec<u8>) {
        let l = self.entry_len(p);
        if enc.len() > l {
            self.buf.reserve_exact(enc.len() - l);
        }
        self.buf.splice(p..p + l, enc);
        self.set_header(0);
        self.maybe_shrink();
    }

    /// Gives memory back after large deletions (Redis reallocs on every
    /// delete; we only bother when more than half would be wasted).
    /// Gives back any spare capacity (a node that will not grow again).
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }

    fn maybe_shrink(&mut self) {
        if self.buf.capacity() > 64 && self.buf.capacity() > self.buf.len() * 2 {
            self.buf.shrink_to_fit();
        }
    }

    /// First position at or after `p` whose entry equals `ele`, checking
    /// every `skip + 1`-th entry (hashes look at fields only with skip 1).
    pub fn find(&self, p: Option<usize>, ele: &[u8], skip: usize) -> Option<usize> {
        let mut cur = p;
        while let Some(q) = cur {
            if self.get(q).eq_bytes(ele) {
                return Some(q);
            }
            cur = self.next(q);
            for _ in 0..skip {
                cur = cur.and_then(|x| self.next(x));
            }
        }
        None
    }

    /// Appends every entry of `other` (nodes merging).
    pub fn append_all(&mut self, other: &Listpack) {
        let body = &other.buf[HEADER_SIZE..other.buf.len() - 1];
        let at = self.eof_pos();
        self.buf.reserve_exact(body.len());
        self.buf.truncate(at);
        self.buf.extend_from_slice(body);
        self.buf.push(EOF);
        let n = other.len() as isize;
        self.set_header(n);
    }

    /// Splits off the entries from position `p` to the end into a new listpack.
    pub fn split_off(&mut self, p: usize) -> Listpack {
        let end = self.eof_pos();
        let mut tail = Listpack::new();
        tail.buf.truncate(HEADER_SIZE);
        tail.buf.extend_from_slice(&self.buf[p..end]);
        tail.buf.push(EOF);
        let moved = {
            let mut n = 0usize;
            let mut q = Some(HEADER_SIZE).filter(|_| !tail.is_empty());
            while let Some(x) = q {
                n += 1;
                q = tail.next(x);
            }
            n
        };
        tail.buf[4..6].copy_from_slice(&0u16.to_le_bytes());
        tail.set_header(moved as isize);
        self.buf.drain(p..end);
        self.set_header(-(moved as isize));
        self.buf.shrink_to_fit();
        tail
    }

    /// Entries from the first to the last.
    pub fn iter(&self) -> Iter<'_> {
        Iter { lp: self, pos: self.first(), back: false }
    }

    /// Entries from the last to the first.
    pub fn iter_rev(&self) -> Iter<'_> {
        Iter { lp: self, pos: self.last(), back: true }
    }
}

/// Iterator over a listpack's entries in either direction.
pub struct Iter<'a> {
    lp: &'a Listpack,
    pos: Option<usize>,
    back: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = LpValue<'a>;

    fn next(&mut self) -> Option<LpValue<'a>> {
        let p = self.pos?;
        let v = self.lp.get(p);
        self.pos = if self.back { self.lp.prev(p) } else { self.lp.next(p) };
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lp: &Listpack) -> Vec<Vec<u8>> {
        lp.iter().map(|v| v.to_vec()).collect()
    }

    #[test]
    fn encodings_match_redis_layout() {
        let mut lp = Listpack::new();
        assert_eq!(lp.as_bytes(), &[7, 0, 0, 0, 0, 0, 0xFF]);
        lp.push_back(b"5");
        // 7-bit uint, backlen 1.
        assert_eq!(&lp.as_bytes()[6..], &[5, 1, 0xFF]);
        let mut lp = Listpack::new();
        lp.push_back(b"-1");
        // 13-bit int: 0x1fff.
        assert_eq!(&lp.as_bytes()[6..], &[0xDF, 0xFF, 2, 0xFF]);
        let mut lp = Listpack::new();
        lp.push_back(b"abc");
        assert_eq!(&lp.as_bytes()[6..], &[0x83, b'a', b'b', b'c', 4, 0xFF]);
        let mut lp = Listpack::new();
        lp.push_back(&[b'x'; 200]);
        // 12-bit string length, 202-byte entry: backlen [1, 128|74].
        let b = lp.as_bytes();
        assert_eq!(&b[6..8], &[0xE0, 200]);
        assert_eq!(&b[b.len() - 3..], &[1, 128 | 74, 0xFF]);
        assert_eq!(lp.bytes(), 6 + 202 + 2 + 1);
        assert_eq!(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, lp.bytes());
    }

    #[test]
    fn integers_round_trip_in_every_width() {
        let vals: [i64; 16] = [
            0,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -4097,
            32767,
            -32768,
            8_388_607,
            -8_388_608,
            2_147_483_647,
            -2_147_483_648,
            i64::MAX,
            i64::MIN,
        ];
        let mut lp = Listpack::new();
        for v in vals {
            lp.push_back(v.to_string().as_bytes());
        }
        let got: Vec<LpValue> = lp.iter().collect();
        for (g, v) in got.iter().zip(vals) {
            assert_eq!(*g, LpValue::Int(v));
            assert_eq!(entry_size(v.to_string().as_bytes()), {
                let mut e = Vec::new();
                encode_entry(&mut e, v.to_string().as_bytes());
                e.len()
            });
        }
        // Non-canonical integers stay strings.
        for s in ["01", "-0", "+1", " 1", "9223372036854775808", ""] {
            let mut lp = Listpack::new();
            lp.push_back(s.as_bytes());
            assert_eq!(lp.get(HEADER_SIZE), LpValue::Str(s.as_bytes()), "{s}");
        }
        assert!(Listpack::from_bytes(lp.as_bytes().to_vec()).is_ok());
    }

    #[test]
    fn integer_appends_and_in_place_replacement() {
        // push_int stores exactly what push_back stores for the same text.
        for v in [0i64, 127, 128, -1, 4095, -4096, 40_000, 9_000_000, i32::MIN as i64, i64::MAX] {
            let (mut a, mut b) = (Listpack::new(), Listpack::new());
            a.push_int(v);
            b.push_back(v.to_string().as_bytes());
            assert_eq!(a.as_bytes(), b.as_bytes());
            assert_eq!(a.bytes(), 7 + int_entry_size(v));
            assert_eq!(a.get_int(HEADER_SIZE), Some(v));
        }
        let mut lp = Listpack::new();
        lp.push_int(1);
        lp.push_back(b"after");
        let p = lp.first().expect("entry");
        lp.replace_int(p, 100_000);
        assert_eq!(lp.get_int(p), Some(100_000));
        assert_eq!(lp.next(p).map(|q| lp.get(q)), Some(LpValue::Str(b"after")));
        lp.replace_int(p, 3);
        assert_eq!(lp.bytes(), 7 + 2 + 7);
        assert_eq!(Listpack::from_bytes(lp.as_bytes().to_vec()).map(|l| l.len()), Ok(2));
        let mut scratch = IntBuf::new(0);
        assert_eq!(LpValue::Int(-42).as_bytes(&mut scratch), b"-42");
        assert_eq!(LpValue::Str(b"12").as_int(), Some(12));
    }

    #[test]
    fn backlen_widths_follow_redis_at_the_boundaries() {
        // Redis uses the wider backlen from 16383 (and 2097151) on.
        assert_eq!((backlen_size(16382), backlen_size(16383)), (2, 3));
        assert_eq!((backlen_size(2_097_150), backlen_size(2_097_151)), (3, 4));
        // A string of 16378 bytes has a 5-byte header: 16383 bytes, 3 of backlen.
        let big = vec![b'q'; 16378];
        assert_eq!(entry_size(&big), 16383 + 3);
        let mut lp = Listpack::new();
        lp.push_back(&big);
        lp.push_back(b"x");
        let back = Listpack::from_bytes(lp.as_bytes().to_vec()).expect("valid");
        assert_eq!(back.last().and_then(|p| back.prev(p)).map(|p| back.get(p)), Some(LpValue::Str(&big)));
    }

    #[test]
    fn walks_both_ways_and_edits() {
        let mut lp = Listpack::new();
        let big = vec![b'z'; 70_000];
        let items: Vec<Vec<u8>> =
            vec![b"a".to_vec(), b"12".to_vec(), vec![b'q'; 5000], big.clone(), b"-77".to_vec(), b"tail".to_vec()];
        for it in &items {
            lp.push_back(it);
        }
        assert_eq!(lp.len(), items.len());
        assert_eq!(texts(&lp), items);
        let rev: Vec<Vec<u8>> = lp.iter_rev().map(|v| v.to_vec()).collect();
        let mut want = items.clone();
        want.reverse();
        assert_eq!(rev, want);
        for (i, it) in items.iter().enumerate() {
            assert!(lp.get(lp.seek(i as i64).unwrap()).eq_bytes(it));
            assert!(lp.get(lp.seek(i as i64 - items.len() as i64).unwrap()).eq_bytes(it));
        }
        assert!(lp.seek(items.len() as i64).is_none());
        assert!(lp.seek(-(items.len() as i64) - 1).is_none());
        let p = lp.seek(3).unwrap();
        lp.replace_at(p, b"small");
        let p = lp.seek(1).unwrap();
        let p = lp.delete_at(p);
        assert!(lp.get(p).eq_bytes(&[b'q'; 5000]));
        lp.push_front(b"head");
        lp.insert_at(lp.end(), b"end");
        assert_eq!(
            texts(&lp),
            vec![
                b"head".to_vec(),
                b"a".to_vec(),
                vec![b'q'; 5000],
                b"small".to_vec(),
                b"-77".to_vec(),
                b"tail".to_vec(),
                b"end".to_vec()
            ]
        );
        let p = lp.seek(1).unwrap();
        assert_eq!(lp.delete_range_at(p, 3), 3);
        assert_eq!(texts(&lp), vec![b"head".to_vec(), b"-77".to_vec(), b"tail".to_vec(), b"end".to_vec()]);
        let p = lp.seek(2).unwrap();
        let tail = lp.split_off(p);
        assert_eq!(lp.len(), 2);
        assert_eq!(tail.len(), 2);
        lp.append_all(&tail);
        assert_eq!(texts(&lp), vec![b"head".to_vec(), b"-77".to_vec(), b"tail".to_vec(), b"end".to_vec()]);
        assert_eq!(lp.find(lp.first(), b"tail", 0), lp.seek(2));
        assert_eq!(lp.find(lp.first(), b"end", 1), None);
        assert!(Listpack::from_bytes(lp.as_bytes().to_vec()).is_ok());
    }

    #[test]
    fn count_saturates_and_recovers() {
        let mut lp = Listpack::new();
        for i in 0..65_540 {
            lp.push_back(if i % 2 == 0 { b"x" } else { b"7" });
        }
        assert_eq!(&lp.as_bytes()[4..6], &[0xFF, 0xFF]);
        assert_eq!(lp.len(), 65_540);
        let p = lp.first().unwrap();
        lp.delete_range_at(p, 10);
        assert_eq!(lp.len(), 65_530);
        assert_eq!(u16::from_le_bytes([lp.as_bytes()[4], lp.as_bytes()[5]]), 65_530);
    }

    #[test]
    fn validation_rejects_corruption() {
        let mut lp = Listpack::new();
        lp.push_back(b"hello");
        lp.push_back(b"300");
        let good = lp.as_bytes().to_vec();
        assert!(Listpack::from_bytes(good.clone()).is_ok());
        let mut bad = good.clone();
        bad[4] = 3;
        assert_eq!(Listpack::from_bytes(bad), Err(LpError::BadCount));
        let mut bad = good.clone();
        bad[6] = 0x8F; // claims a 15-byte string
        assert!(Listpack::from_bytes(bad).is_err());
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 2] = 9; // wrong backlen of the last entry
        assert_eq!(Listpack::from_bytes(bad), Err(LpError::BadBacklen));
        assert_eq!(Listpack::from_bytes(vec![1, 2]), Err(LpError::BadSize));
    }

    /// Seeded xorshift fuzz: random bytes (and mutated valid listpacks) must
    /// never panic the validator, and whatever it accepts must walk cleanly.
    #[test]
    fn fuzz_from_bytes_never_panics() {
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rnd = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut base = Listpack::new();
        for w in ["a", "1", "-5000", "70000", "hello world", "9999999999"] {
            base.push_back(w.as_bytes());
        }
        base.push_back(&[b'k'; 300]);
        for round in 0..20_000 {
            let mut buf = if round % 2 == 0 {
                let n = (rnd() % 64) as usize;
                let mut v: Vec<u8> = (0..n).map(|_| rnd() as u8).collect();
                if v.len() >= 7 {
                    let len = v.len() as u32;
                    v[0..4].copy_from_slice(&len.to_le_bytes());
                    let last = v.len() - 1;
                    v[last] = 0xFF;
                }
                v
            } else {
                base.as_bytes().to_vec()
            };
            if !buf.is_empty() {
                for _ in 0..(rnd() % 4) {
                    let i = (rnd() as usize) % buf.len();
                    buf[i] = rnd() as u8;
                }
            }
            if let Ok(lp) = Listpack::from_bytes(buf) {
                let f = lp.iter().count();
                let b = lp.iter_rev().count();
                assert_eq!(f, b);
                assert_eq!(f, lp.len());
            }
        }
    }
}
