//! The value stored under a key, and its encodings as `OBJECT ENCODING` names
//! them.
//!
//! Strings mirror Redis's three encodings: `int` (a decimal that round-trips
//! through i64), `embstr` (short strings, stored inline in the key's entry
//! when they fit), and `raw` (long strings, or strings that were modified in
//! place by APPEND/SETRANGE and so keep spare capacity).

use crate::types::sds::Sds;
use crate::types::set::Set;
use crate::types::stream::Stream;
use crate::types::zset::ZSet;

/// Longest string Redis stores as `embstr`.
pub const EMBSTR_MAX: usize = 44;

/// A string value in one of Redis's encodings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Str {
    /// `int`: the canonical decimal text of an i64.
    Int(i64),
    /// `embstr` when short, `raw` otherwise: immutable compact bytes.
    Bytes(Sds),
    /// `raw`: a growable buffer, after APPEND/SETRANGE. Boxed so that `Str`
    /// (and so every key's `Value`) stays 24 bytes.
    Raw(Box<Vec<u8>>),
}

impl Str {
    /// Stores `b` the way Redis's tryObjectEncoding would: as an integer when
    /// it is the canonical form of one (at most 20 chars), else as bytes.
    pub fn from_bytes(b: &[u8]) -> Str {
        if b.len() <= 20 {
            if let Some(n) = crate::util::num::string2ll(b) {
                return Str::Int(n);
            }
        }
        Str::Bytes(Sds::from(b))
    }

    /// The value's bytes (integers rendered into `scratch`).
    pub fn as_bytes<'a>(&'a self, scratch: &'a mut Vec<u8>) -> &'a [u8] {
        match self {
            Str::Int(n) => {
                scratch.clear();
                crate::client::reply::push_int(scratch, *n);
                scratch
            }
            Str::Bytes(s) => s,
            Str::Raw(v) => v,
        }
    }

    /// The value's bytes as an owned vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut scratch = Vec::new();
        self.as_bytes(&mut scratch).to_vec()
    }

    /// Length in bytes (STRLEN).
    pub fn len(&self) -> usize {
        match self {
            Str::Int(n) => {
                let mut s = Vec::new();
                crate::client::reply::push_int(&mut s, *n);
                s.len()
            }
            Str::Bytes(s) => s.len(),
            Str::Raw(v) => v.len(),
        }
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A mutable buffer for in-place edits (APPEND, SETRANGE): converts to
    /// `raw`, as Redis unshares and converts embstr before modifying.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Str::Raw(_)) {
            *self = Str::Raw(Box::new(self.to_vec()));
        }
        match self {
            Str::Raw(v) => v,
            _ => unreachable!("converted to Raw just above"),
        }
    }

    /// The value as an i64 if it parses strictly (INCR and friends).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Str::Int(n) => Some(*n),
            Str::Bytes(s) => crate::util::num::string2ll(s),
            Str::Raw(v) => crate::util::num::string2ll(v),
        }
    }

    /// The encoding name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) => "int",
            Str::Bytes(s) if s.len() <= EMBSTR_MAX => "embstr",
            Str::Bytes(_) | Str::Raw(_) => "raw",
        }
    }
}

/// Any value stored in the keyspace. More types arrive with the data-types work.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    Str(Str),
    /// A set (`intset` or `hashtable`).
    Set(Box<Set>),
    /// A sorted set (`listpack` or `skiplist`).
    ZSet(Box<ZSet>),
    /// A list (quicklist encoding). Boxed to keep `Value` small.
    List(Box<crate::types::list::List>),
    /// A hash (listpack or hashtable encoding).
    Hash(Box<crate::types::hash::Hash>),
    /// A stream (`stream`).
    Stream(Box<Stream>),
}

impl Value {
    /// Approximate bytes used by the value (MEMORY USAGE). Large
    /// collections are estimated from `samples` elements (0 = all), as
    /// Redis's objectComputeSize does.
    pub fn mem_usage(&self, samples: usize) -> usize {
        // Extrapolates the average of the first `samples` element sizes.
        fn estimate(len: usize, samples: usize, sizes: impl Iterator<Item = usize>) -> usize {
            let take = if samples == 0 { len } else { samples.min(len) };
            let (n, total) = sizes.take(take).fold((0usize, 0usize), |(n, t), s| (n + 1, t + s));
            total.checked_div(n).unwrap_or(0) * len
        }
        match self {
            Value::Str(Str::Int(_)) => 0,
            Value::Str(Str::Bytes(s)) => s.heap_size(),
            Value::Str(Str::Raw(v)) => v.capacity(),
            Value::List(l) => l.mem_usage(),
            Value::Hash(h) => h.mem_usage(),
            Value::Set(s) => match &**s {
                crate::types::set::Set::Int(i) => i.blob_len(),
                crate::types::set::Set::Hash(d) => {
                    d.mem_usage() + estimate(d.len(), samples, d.iter().map(|(k, _)| k.heap_size() + 24))
                }
            },
            // Entry: member bytes, a score, and the ordered index's links.
            Value::ZSet(z) => estimate(z.len(), samples, z.iter().map(|(m, _)| m.len() + 8 + 48)),
            Value::Stream(st) => st.entries.heap_bytes(),
        }
    }

    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Stream(_) => "stream",
        }
    }

    /// The encoding name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::List(_) => "quicklist",
            Value::Hash(h) => h.encoding(),
            Value::Stream(s) => s.encoding(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key's entry embeds a `Value`: collections live behind a pointer
    /// so a string key does not pay for the largest collection header.
    #[test]
    fn value_stays_small() {
        assert!(std::mem::size_of::<Value>() <= 24, "Value is {} bytes", std::mem::size_of::<Value>());
    }

    #[test]
    fn encodings_follow_redis_rules() {
        assert_eq!(Str::from_bytes(b"12345").encoding(), "int");
        assert_eq!(Str::from_bytes(b"-1").encoding(), "int");
        assert_eq!(Str::from_bytes(b"012").encoding(), "embstr");
        assert_eq!(Str::from_bytes(b" 1").encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'a'; 45]).encoding(), "raw");
        let mut s = Str::from_bytes(b"ab");
        s.make_raw().push(b'c');
        assert_eq!(s.encoding(), "raw");
        assert_eq!(s.to_vec(), b"abc");
    }
}
