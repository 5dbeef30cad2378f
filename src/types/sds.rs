//! `Sds`: the immutable byte string used for keys (and small values) of the keyspace.
//!
//! Owns only the representation of one byte string: up to [`INLINE_CAP`] bytes are stored
//! inside the 24-byte value itself, longer strings in one exact-size heap allocation
//! (`Box<[u8]>`, no spare capacity). It never interprets the bytes (no numbers, no
//! encodings); the `OBJECT ENCODING` names belong to the value layer.
//!
//! Mirrors the role of Redis's sds strings with their `embstr` trick: a short key costs no
//! allocation of its own, so a table entry for a 16-byte key is a single heap node. Equality,
//! ordering and hashing are exactly those of `[u8]` (ordering is Redis's `sdscmp`:
//! byte-wise, then shorter first), so maps keyed by `Sds` can be queried with `&[u8]`.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// The longest string stored inline, without a heap allocation.
pub const INLINE_CAP: usize = 23;

/// The length of an inline string. A fieldless enum rather than a `u8` so that the values
/// 24..=255 are invalid: the compiler uses them as the discriminant of [`Sds`], which keeps
/// the whole string at 24 bytes with 23 bytes of inline payload.
#[rustfmt::skip]
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum InlineLen {
    L0, L1, L2, L3, L4, L5, L6, L7, L8, L9, L10, L11,
    L12, L13, L14, L15, L16, L17, L18, L19, L20, L21, L22, L23,
}

use InlineLen::*;

/// `INLINE_LENS[n]` is the tag for length `n`; the table replaces an unsafe transmute.
#[rustfmt::skip]
const INLINE_LENS: [InlineLen; INLINE_CAP + 1] = [
    L0, L1, L2, L3, L4, L5, L6, L7, L8, L9, L10, L11,
    L12, L13, L14, L15, L16, L17, L18, L19, L20, L21, L22, L23,
];

/// An immutable byte string of 24 bytes: inline up to [`INLINE_CAP`] bytes, else boxed.
///
/// Behaves as a `[u8]` for `Eq`, `Ord` and `Hash`, so `HashMap<Sds, _>` and the keyspace
/// `Dict` can be queried with a plain `&[u8]`. Cloning an inline string copies 24 bytes;
/// cloning a heap string allocates.
#[derive(Clone)]
pub struct Sds(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: InlineLen, buf: [u8; INLINE_CAP] },
    Heap(Box<[u8]>),
}

impl Sds {
    /// The empty string (inline, no allocation).
    pub const fn new() -> Sds {
        Sds(Repr::Inline { len: L0, buf: [0; INLINE_CAP] })
    }

    /// Copies `bytes` into a new string: inline when it fits, else one exact-size allocation.
    pub fn from_bytes(bytes: &[u8]) -> Sds {
        match Self::try_inline(bytes) {
            Some(s) => s,
            None => Sds(Repr::Heap(Box::from(bytes))),
        }
    }

    fn try_inline(bytes: &[u8]) -> Option<Sds> {
        let len = *INLINE_LENS.get(bytes.len())?;
        let mut buf = [0u8; INLINE_CAP];
        buf[..bytes.len()].copy_from_slice(bytes);
        Some(Sds(Repr::Inline { len, buf }))
    }

    /// The bytes of the string.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..*len as usize],
            Repr::Heap(b) => b,
        }
    }

    /// True when the bytes live inside the value itself (no heap allocation).
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }

    /// Heap bytes owned by this string beyond its own 24 bytes (0 when inline). An
    /// estimate for memory accounting: allocator rounding is not included.
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(b) => b.len(),
        }
    }

    /// The bytes as an owned vector (reuses the allocation of a heap string).
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Inline { len, buf } => buf[..len as usize].to_vec(),
            Repr::Heap(b) => b.into_vec(),
        }
    }
}

impl Default for Sds {
    fn default() -> Sds {
        Sds::new()
    }
}

impl Deref for Sds {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Sds {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Sds {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Sds {
    #[inline]
    fn eq(&self, other: &Sds) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Sds {}

impl PartialEq<[u8]> for Sds {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl PartialEq<&[u8]> for Sds {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_bytes() == *other
    }
}

impl PartialOrd for Sds {
    fn partial_cmp(&self, other: &Sds) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Sds {
    fn cmp(&self, other: &Sds) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for Sds {
    /// Hashes exactly as the `[u8]` it holds, as `Borrow<[u8]>` requires.
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl From<&[u8]> for Sds {
    fn from(bytes: &[u8]) -> Sds {
        Sds::from_bytes(bytes)
    }
}

impl<const N: usize> From<&[u8; N]> for Sds {
    fn from(bytes: &[u8; N]) -> Sds {
        Sds::from_bytes(bytes)
    }
}

impl From<&str> for Sds {
    fn from(s: &str) -> Sds {
        Sds::from_bytes(s.as_bytes())
    }
}

impl From<Vec<u8>> for Sds {
    /// Short vectors are copied inline; long ones keep their allocation (shrunk to fit,
    /// which reallocates only when the vector had spare capacity).
    fn from(v: Vec<u8>) -> Sds {
        match Self::try_inline(&v) {
            Some(s) => s,
            None => Sds(Repr::Heap(v.into_boxed_slice())),
        }
    }
}

impl From<Box<[u8]>> for Sds {
    fn from(b: Box<[u8]>) -> Sds {
        match Self::try_inline(&b) {
            Some(s) => s,
            None => Sds(Repr::Heap(b)),
        }
    }
}

impl fmt::Debug for Sds {
    /// Quoted and escaped the way Redis's `sdscatrepr` shows strings in logs and
    /// `DEBUG` output: `\n \r \t \a \b \\ \"` and `\xhh` for other non-printable bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for &b in self.as_bytes() {
            match b {
                b'\\' => f.write_str("\\\\")?,
                b'"' => f.write_str("\\\"")?,
                b'\n' => f.write_str("\\n")?,
                b'\r' => f.write_str("\\r")?,
                b'\t' => f.write_str("\\t")?,
                0x07 => f.write_str("\\a")?,
                0x08 => f.write_str("\\b")?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{:02x}", b)?,
            }
        }
        f.write_str("\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;
    use std::collections::HashMap;

    fn hash_of<T: Hash + ?Sized>(t: &T) -> u64 {
        let mut h = DefaultHasher::new();
        t.hash(&mut h);
        h.finish()
    }

    #[test]
    fn size_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Sds>(), 24);
        assert_eq!(std::mem::size_of::<Option<Sds>>(), 24);
    }

    #[test]
    fn inline_boundary() {
        for n in 0..=40usize {
            let bytes: Vec<u8> = (0..n as u8).collect();
            let a = Sds::from(&bytes[..]);
            let b = Sds::from(bytes.clone());
            assert_eq!(a.is_inline(), n <= INLINE_CAP, "len {n}");
            assert_eq!(b.is_inline(), n <= INLINE_CAP, "len {n}");
            assert_eq!(&*a, &bytes[..]);
            assert_eq!(a, b);
            assert_eq!(a.len(), n);
            assert_eq!(a.clone().into_vec(), bytes);
            assert_eq!(a.heap_size(), if n <= INLINE_CAP { 0 } else { n });
        }
    }

    #[test]
    fn hash_and_eq_match_slices() {
        let long = "a key that is certainly longer than twenty-three bytes";
        for s in ["", "k", "0123456789abcdef", long] {
            let sds = Sds::from(s);
            assert_eq!(hash_of(&sds), hash_of(s.as_bytes()));
            assert_eq!(sds, *s.as_bytes());
        }
        let mut m: HashMap<Sds, u32> = HashMap::new();
        m.insert(Sds::from("short"), 1);
        m.insert(Sds::from(long), 2);
        assert_eq!(m.get(&b"short"[..]), Some(&1));
        assert_eq!(m.get(long.as_bytes()), Some(&2));
        assert_eq!(m.get(&b"nope"[..]), None);
    }

    #[test]
    fn ordering_is_bytewise_then_length() {
        let mut v: Vec<Sds> =
            ["b", "a", "ab", "", "\u{7f}", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"].iter().map(|s| Sds::from(*s)).collect();
        v.sort();
        let got: Vec<&[u8]> = v.iter().map(|s| s.as_bytes()).collect();
        let want: Vec<&[u8]> = vec![b"", b"a", b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaa", b"ab", b"b", b"\x7f"];
        assert_eq!(got, want);
        let (high, low) = (Sds::from(&[0xffu8][..]), Sds::from("z"));
        assert!(high > low);
    }

    #[test]
    fn debug_escapes_like_repr() {
        let s = Sds::from(&b"a\"b\\\n\r\t\x07\x08\x00\xff z"[..]);
        assert_eq!(format!("{:?}", s), r#""a\"b\\\n\r\t\a\b\x00\xff z""#);
    }

    #[test]
    fn default_is_empty() {
        assert!(Sds::default().is_empty());
        assert!(Sds::new().is_inline());
    }
}
