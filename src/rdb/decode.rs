//! Reading one value in RDB format: every object type a Redis 7.0 payload
//! may carry, including the older encodings (zipmap, ziplists, quicklists of
//! ziplists, text-score sorted sets, pre-7.0 streams), converted into our
//! encodings with the `*-max-listpack-*` / `set-max-intset-entries`
//! thresholds applied as Redis's rdbLoadObject applies them.
//!
//! Owns the reading cursor and the conversion rules; it builds values only
//! through the types' own constructors. Input is never trusted: every length
//! is checked against the bytes that remain before anything is allocated,
//! and every blob (listpack, ziplist, zipmap, intset, stream node) is
//! validated entry by entry before it is adopted, whatever
//! `sanitize-dump-payload` says. Redis skips that work when sanitization is
//! off and may crash later; we prefer the error. Corrupt input yields an
//! [`RdbError`] carrying the offset and Redis's reason text.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::legacy;
use super::lzf;
use super::opcodes::*;
use super::{LoadLimits, RdbError, RdbErrorKind};
use crate::types::hash::Hash;
use crate::types::intset::IntSet;
use crate::types::list::List;
use crate::types::listpack::{Listpack, LpValue};
use crate::types::sds::Sds;
use crate::types::set::Set;
use crate::types::stream::{Consumer, Group, Nack, Stream, StreamId};
use crate::types::value::{Str, Value};
use crate::types::zset::{AddFlags, AddOutcome, ZSet};
use crate::util::num::string2ll;

/// Result of the reader's steps.
pub type Res<T> = Result<T, RdbError>;

/// A string as stored: an integer encoding or bytes.
#[derive(Debug, Clone)]
pub enum RdbStr<'a> {
    /// One of the integer encodings.
    Int(i64),
    /// Verbatim (borrowed) or decompressed (owned) bytes.
    Bytes(Cow<'a, [u8]>),
}

impl RdbStr<'_> {
    /// The string's bytes, integers in decimal.
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            RdbStr::Int(n) => crate::util::num::ll2string(n),
            RdbStr::Bytes(b) => b.into_owned(),
        }
    }
}

/// A cursor over an RDB byte buffer.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    sanitized: u64,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0, sanitized: 0 }
    }

    /// Blobs validated so far, counted where Redis counts its deep
    /// sanitizations (INFO `dump_payload_sanitizations`): quicklist-2
    /// listpack nodes, intsets, zset and hash listpacks, stream nodes.
    pub fn sanitized(&self) -> u64 {
        self.sanitized
    }

    /// Bytes consumed so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// A corruption error at the current offset.
    pub fn corrupt(&self, reason: impl Into<String>) -> RdbError {
        RdbError { offset: self.pos, kind: RdbErrorKind::Corrupt, reason: reason.into() }
    }

    fn short(&self) -> RdbError {
        RdbError { offset: self.pos, kind: RdbErrorKind::Truncated, reason: "Unexpected end of data".into() }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.short());
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The next byte.
    pub fn byte(&mut self) -> Res<u8> {
        Ok(self.take(1)?[0])
    }

    /// An RDB length, and whether it was a special-encoding marker instead
    /// (rdbLoadLenByRef).
    pub fn len_or_enc(&mut self) -> Res<(u64, bool)> {
        let b = self.byte()?;
        match b >> 6 {
            3 => Ok(((b & 0x3f) as u64, true)),
            0 => Ok(((b & 0x3f) as u64, false)),
            1 => Ok(((((b & 0x3f) as u64) << 8) | self.byte()? as u64, false)),
            _ => match b {
                LEN_32BIT => {
                    let s = self.take(4)?;
                    Ok((u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as u64, false))
                }
                LEN_64BIT => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(self.take(8)?);
                    Ok((u64::from_be_bytes(a), false))
                }
                _ => Err(self.corrupt(format!("Unknown length encoding {} in rdbLoadLen()", b >> 6))),
            },
        }
    }

    /// An RDB length (an encoding marker reads as its 6-bit value, as
    /// Redis's rdbLoadLen without the flag does).
    pub fn length(&mut self) -> Res<u64> {
        Ok(self.len_or_enc()?.0)
    }

    /// A count of items that each take at least one byte: larger than what
    /// is left means corruption, which stops huge allocations early.
    fn count(&mut self) -> Res<usize> {
        let n = self.length()?;
        if n > self.remaining() as u64 {
            return Err(self.short());
        }
        Ok(n as usize)
    }

    /// A string in any of its encodings (rdbGenericLoadStringObject).
    pub fn string(&mut self) -> Res<RdbStr<'a>> {
        let (len, encoded) = self.len_or_enc()?;
        if !encoded {
            let n = usize::try_from(len).map_err(|_| self.short())?;
            return Ok(RdbStr::Bytes(Cow::Borrowed(self.take(n)?)));
        }
        match len as u8 {
            0 => Ok(RdbStr::Int(self.byte()? as i8 as i64)),
            1 => {
                let s = self.take(2)?;
                Ok(RdbStr::Int(i16::from_le_bytes([s[0], s[1]]) as i64))
            }
            2 => {
                let s = self.take(4)?;
                Ok(RdbStr::Int(i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as i64))
            }
            3 => {
                let clen = self.length()?;
                let plain = self.length()?;
                let clen = usize::try_from(clen).map_err(|_| self.short())?;
                let data = self.take(clen)?;
                let plain = usize::try_from(plain).map_err(|_| self.corrupt("Invalid LZF compressed string"))?;
                let out = lzf::decompress(data, plain).map_err(|_| self.corrupt("Invalid LZF compressed string"))?;
                Ok(RdbStr::Bytes(Cow::Owned(out)))
            }
            other => Err(self.corrupt(format!("Unknown RDB string encoding type {other}"))),
        }
    }

    /// A string's bytes (integer encodings rendered in decimal).
    pub fn bytes(&mut self) -> Res<Cow<'a, [u8]>> {
        Ok(match self.string()? {
            RdbStr::Int(n) => Cow::Owned(crate::util::num::ll2string(n)),
            RdbStr::Bytes(b) => b,
        })
    }

    /// A Unix time in ms: 8 little-endian bytes.
    pub fn millis(&mut self) -> Res<i64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(i64::from_le_bytes(a))
    }

    /// A Unix time in seconds: 4 little-endian bytes (old files).
    pub fn secs(&mut self) -> Res<i32> {
        let s = self.take(4)?;
        Ok(i32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn binary_double(&mut self) -> Res<f64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(f64::from_le_bytes(a))
    }

    /// A double as text behind a length byte (253 nan, 254 +inf, 255 -inf).
    fn text_double(&mut self) -> Res<f64> {
        match self.byte()? {
            255 => Ok(f64::NEG_INFINITY),
            254 => Ok(f64::INFINITY),
            253 => Ok(f64::NAN),
            n => {
                let s = self.take(n as usize)?;
                parse_score(s).ok_or_else(|| self.corrupt("Invalid double value"))
            }
        }
    }

    fn stream_id_raw(&mut self) -> Res<StreamId> {
        let s = self.take(16)?;
        Ok(raw_id(s))
    }
}

/// A stream ID from its 16 raw big-endian bytes.
fn raw_id(s: &[u8]) -> StreamId {
    let mut a = [0u8; 8];
    let mut b = [0u8; 8];
    a.copy_from_slice(&s[..8]);
    b.copy_from_slice(&s[8..16]);
    StreamId::new(u64::from_be_bytes(a), u64::from_be_bytes(b))
}

/// Parses a score written as text (old sorted sets, listpack entries that
/// are not integers): what C's strtod accepts, NaN excluded by the caller.
fn parse_score(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?.trim();
    match t.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" | "-nan" | "+nan" => Some(f64::NAN),
        _ => t.parse().ok().or_else(|| crate::util::num::string2d(t.as_bytes())),
    }
}

/// Reads the body of an object of type `t` (the type byte already read).
pub fn read_object(r: &mut Reader<'_>, t: u8, lim: &LoadLimits) -> Res<Value> {
    match t {
        TYPE_STRING => Ok(Value::Str(match r.string()? {
            RdbStr::Int(n) => Str::Int(n),
            RdbStr::Bytes(b) => Str::from_bytes(&b),
        })),
        TYPE_LIST => read_plain_list(r, lim),
        TYPE_SET => read_set(r, lim),
        TYPE_ZSET | TYPE_ZSET_2 => read_zset(r, t, lim),
        TYPE_HASH => read_hash(r, lim),
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => read_quicklist(r, t, lim),
        TYPE_HASH_ZIPMAP => read_zipmap(r, lim),
        TYPE_LIST_ZIPLIST => {
            let blob = r.bytes()?;
            let entries =
                legacy::ziplist_entries(&blob).ok_or_else(|| r.corrupt("List ziplist integrity check failed."))?;
            let mut l = new_list(lim);
            for e in entries {
                l.push_back(&e.to_vec(), lim.packed_threshold);
            }
            non_empty(r, l.len(), Value::List(Box::new(l)))
        }
        TYPE_SET_INTSET => {
            let blob = r.bytes()?;
            r.sanitized += 1;
            let is = IntSet::from_blob(&blob)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| r.corrupt("Intset integrity check failed."))?;
            let mut set = Set::Int(is);
            if set.len() > lim.set_max_intset_entries {
                set.convert_to_hash();
            }
            Ok(Value::Set(Box::new(set)))
        }
        TYPE_ZSET_ZIPLIST => {
            let blob = r.bytes()?;
            let entries =
                legacy::ziplist_entries(&blob).ok_or_else(|| r.corrupt("Zset ziplist integrity check failed."))?;
            let pairs = pairs_of(entries.iter().map(|e| e.to_vec()))
                .ok_or_else(|| r.corrupt("Zset ziplist integrity check failed."))?;
            zset_from_text_pairs(r, pairs, lim, "Zset ziplist integrity check failed.")
        }
        TYPE_ZSET_LISTPACK => {
            let lp = read_listpack(r, "Zset listpack integrity check failed.")?;
            let pairs = pairs_of(lp.iter().map(|v| v.to_vec()))
                .ok_or_else(|| r.corrupt("Zset listpack integrity check failed."))?;
            zset_from_text_pairs(r, pairs, lim, "Zset listpack with dup elements")
        }
        TYPE_HASH_ZIPLIST => {
            let blob = r.bytes()?;
            let entries =
                legacy::ziplist_entries(&blob).ok_or_else(|| r.corrupt("Hash ziplist integrity check failed."))?;
            let mut lp = Listpack::new();
            for e in &entries {
                lp.push_back(&e.to_vec());
            }
            hash_from_listpack(r, lp, lim, "Hash ziplist integrity check failed.")
        }
        TYPE_HASH_LISTPACK => {
            let lp = read_listpack(r, "Hash listpack integrity check failed.")?;
            hash_from_listpack(r, lp, lim, "Hash listpack with dup elements")
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => read_stream(r, t),
        TYPE_MODULE | TYPE_MODULE_2 => {
            Err(r.corrupt("The RDB file contains module data I can't load: no matching module type"))
        }
        other => Err(r.corrupt(format!("Unknown RDB encoding type {other}"))),
    }
}

/// `v`, or the empty-key error when `len` is 0 (Redis refuses to create
/// empty collections from a payload).
fn non_empty(r: &Reader<'_>, len: usize, v: Value) -> Res<Value> {
    if len == 0 {
        return Err(RdbError { offset: r.pos(), kind: RdbErrorKind::EmptyKey, reason: "Empty keys skipped".into() });
    }
    Ok(v)
}

fn empty_key(r: &Reader<'_>) -> RdbError {
    RdbError { offset: r.pos(), kind: RdbErrorKind::EmptyKey, reason: "Empty keys skipped".into() }
}

fn new_list(lim: &LoadLimits) -> List {
    List::new(lim.list_fill, lim.list_compress)
}

/// A listpack blob, fully validated.
fn read_listpack(r: &mut Reader<'_>, reason: &'static str) -> Res<Listpack> {
    let blob = r.bytes()?.into_owned();
    r.sanitized += 1;
    Listpack::from_bytes(blob).map_err(|_| r.corrupt(reason))
}

/// Groups a flat sequence into pairs; None for an odd count.
fn pairs_of(items: impl Iterator<Item = Vec<u8>>) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut it = items;
    while let Some(a) = it.next() {
        out.push((a, it.next()?));
    }
    Some(out)
}

fn read_plain_list(r: &mut Reader<'_>, lim: &LoadLimits) -> Res<Value> {
    let n = r.count()?;
    let mut l = new_list(lim);
    for _ in 0..n {
        let e = r.bytes()?;
        l.push_back(&e, lim.packed_threshold);
    }
    non_empty(r, l.len(), Value::List(Box::new(l)))
}

fn read_quicklist(r: &mut Reader<'_>, t: u8, lim: &LoadLimits) -> Res<Value> {
    let n = r.count()?;
    let mut l = new_list(lim);
    for _ in 0..n {
        let container = if t == TYPE_LIST_QUICKLIST_2 { r.length()? } else { QUICKLIST_PACKED };
        if container != QUICKLIST_PACKED && container != QUICKLIST_PLAIN {
            return Err(r.corrupt("Quicklist integrity check failed."));
        }
        let data = r.bytes()?;
        if data.is_empty() {
            return Err(r.corrupt("Quicklist integrity check failed."));
        }
        if container == QUICKLIST_PLAIN {
            l.append_plain_node(data.into_owned());
        } else if t == TYPE_LIST_QUICKLIST_2 {
            r.sanitized += 1;
            let lp =
                Listpack::from_bytes(data.into_owned()).map_err(|_| r.corrupt("Listpack integrity check failed."))?;
            l.append_packed_node(lp);
        } else {
            let entries = legacy::ziplist_entries(&data).ok_or_else(|| r.corrupt("Ziplist integrity check failed."))?;
            let mut lp = Listpack::new();
            for e in entries {
                lp.push_back(&e.to_vec());
            }
            l.append_packed_node(lp);
        }
    }
    non_empty(r, l.len(), Value::List(Box::new(l)))
}

fn read_set(r: &mut Reader<'_>, lim: &LoadLimits) -> Res<Value> {
    let n = r.count()?;
    if n == 0 {
        return Err(empty_key(r));
    }
    let max_intset = lim.set_max_intset_entries.min(1 << 30);
    let mut set =
        if n > max_intset { Set::Hash(crate::db::dict::Dict::with_capacity(n)) } else { Set::Int(IntSet::new()) };
    for _ in 0..n {
        let m = r.bytes()?;
        // `usize::MAX`: never convert for size here, the count was judged above.
        if !set.add(&m, usize::MAX) {
            return Err(r.corrupt("Duplicate set members detected"));
        }
    }
    Ok(Value::Set(Box::new(set)))
}

fn read_zset(r: &mut Reader<'_>, t: u8, lim: &LoadLimits) -> Res<Value> {
    let n = r.count()?;
    if n == 0 {
        return Err(empty_key(r));
    }
    let mut pairs = Vec::with_capacity(n);
    for _ in 0..n {
        let m = r.bytes()?.into_owned();
        let s = if t == TYPE_ZSET_2 { r.binary_double()? } else { r.text_double()? };
        if s.is_nan() {
            return Err(r.corrupt("Zset with NAN score detected"));
        }
        pairs.push((m, s));
    }
    zset_from_pairs(r, pairs, lim, "Duplicate zset fields detected", true)
}

/// Builds a sorted set from (member, score text) pairs of a listpack or
/// ziplist.
fn zset_from_text_pairs(
    r: &Reader<'_>,
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
    lim: &LoadLimits,
    dup_reason: &'static str,
) -> Res<Value> {
    let mut scored = Vec::with_capacity(pairs.len());
    for (m, s) in pairs {
        let score = parse_score(&s).filter(|v| !v.is_nan()).ok_or_else(|| r.corrupt("Zset with NAN score detected"))?;
        scored.push((m, score));
    }
    zset_from_pairs(r, scored, lim, dup_reason, false)
}

/// Builds a sorted set in the encoding its size calls for; duplicate
/// members are corruption. `judge_lengths`: whether long members force the
/// skiplist too (true for the ZSET types; Redis keeps listpack payloads as
/// listpacks whatever their member lengths, converting only on count).
fn zset_from_pairs(
    r: &Reader<'_>,
    mut pairs: Vec<(Vec<u8>, f64)>,
    lim: &LoadLimits,
    dup: &'static str,
    judge_lengths: bool,
) -> Res<Value> {
    if pairs.is_empty() {
        return Err(empty_key(r));
    }
    let max_len = if judge_lengths { pairs.iter().map(|(m, _)| m.len()).max().unwrap_or(0) } else { 0 };
    if pairs.len() <= lim.zset.max_entries && max_len <= lim.zset.max_value {
        let mut seen = HashSet::with_capacity(pairs.len());
        if !pairs.iter().all(|(m, _)| seen.insert(&m[..])) {
            return Err(r.corrupt(dup));
        }
        // Score order (where -0 equals 0, as Redis compares), then member bytes.
        pairs.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.0.cmp(&b.0)));
        let v = pairs.into_iter().map(|(m, s)| (Sds::from(m), s)).collect();
        return Ok(Value::ZSet(Box::new(ZSet::Listpack(v))));
    }
    // A member length beyond any limit asks for the skiplist encoding.
    let mut z = ZSet::with_hint(lim.zset, pairs.len(), usize::MAX);
    for (m, s) in pairs {
        match z.add(&m, s, AddFlags::default(), lim.zset) {
            Ok(AddOutcome::Added(_)) => {}
            _ => return Err(r.corrupt(dup)),
        }
    }
    Ok(Value::ZSet(Box::new(z)))
}

fn read_hash(r: &mut Reader<'_>, lim: &LoadLimits) -> Res<Value> {
    let n = r.count()?;
    if n == 0 {
        return Err(empty_key(r));
    }
    let mut h = Hash::new();
    if n > lim.hash.max_entries {
        h.convert();
    }
    for _ in 0..n {
        let f = r.bytes()?;
        let v = r.bytes()?;
        if !h.set(&f, &v, lim.hash) {
            return Err(r.corrupt("Duplicate hash fields detected"));
        }
    }
    Ok(Value::Hash(Box::new(h)))
}

/// Adopts a field/value listpack as a hash: an even count, no duplicate
/// fields, converted when it holds more than `hash-max-listpack-entries`.
fn hash_from_listpack(r: &Reader<'_>, lp: Listpack, lim: &LoadLimits, dup: &'static str) -> Res<Value> {
    if !lp.len().is_multiple_of(2) {
        return Err(r.corrupt("Hash listpack integrity check failed."));
    }
    let mut seen = HashSet::with_capacity(lp.len() / 2);
    for (i, v) in lp.iter().enumerate() {
        if i % 2 == 0 && !seen.insert(v.to_vec()) {
            return Err(r.corrupt(dup));
        }
    }
    let n = lp.len() / 2;
    let mut h = Hash::from_listpack(lp).ok_or_else(|| r.corrupt("Hash listpack integrity check failed."))?;
    if n > lim.hash.max_entries {
        h.convert();
    }
    non_empty(r, n, Value::Hash(Box::new(h)))
}

fn read_zipmap(r: &mut Reader<'_>, lim: &LoadLimits) -> Res<Value> {
    let blob = r.bytes()?;
    let pairs = legacy::zipmap_pairs(&blob).ok_or_else(|| r.corrupt("Zipmap integrity check failed."))?;
    let mut lp = Listpack::new();
    let mut seen = HashSet::with_capacity(pairs.len());
    let mut max_len = 0;
    for (f, v) in &pairs {
        if !seen.insert(*f) {
            return Err(r.corrupt(format!("Hash zipmap with dup elements, or big length ({})", f.len())));
        }
        max_len = max_len.max(f.len()).max(v.len());
        lp.push_back(f);
        lp.push_back(v);
    }
    let mut h = Hash::from_listpack(lp).ok_or_else(|| r.corrupt("Zipmap integrity check failed."))?;
    if pairs.len() > lim.hash.max_entries || max_len > lim.hash.max_value {
        h.convert();
    }
    Ok(Value::Hash(Box::new(h)))
}

/// What validating one stream node found.
struct NodeSummary {
    live: u64,
    first: Option<StreamId>,
    last: Option<StreamId>,
}

/// Checks a stream node's listpack the way Redis's deep stream validation
/// does (master entry, every entry's flags, ID deltas, field counts and
/// lp-count), and also that the live/deleted counters match the flags and
/// that IDs ascend from the master ID: our stream code relies on both.
fn validate_stream_node(lp: &Listpack, master: StreamId) -> Option<NodeSummary> {
    let mut it = lp.iter();
    let int = |v: Option<LpValue<'_>>| -> Option<i64> {
        match v? {
            LpValue::Int(n) => Some(n),
            LpValue::Str(s) => string2ll(s),
        }
    };
    let live = int(it.next())?;
    let deleted = int(it.next())?;
    let master_fields = int(it.next())?;
    if live < 0 || deleted < 0 || master_fields < 0 {
        return None;
    }
    for _ in 0..master_fields {
        it.next()?;
    }
    if int(it.next())? != 0 {
        return None;
    }
    let total = live.checked_add(deleted)?;
    let (mut seen_live, mut seen_deleted) = (0i64, 0i64);
    let mut first = None;
    let mut last: Option<StreamId> = None;
    for _ in 0..total {
        let flags = int(it.next())?;
        let ms = int(it.next())?;
        let seq = int(it.next())?;
        let id = StreamId::new(master.ms.wrapping_add(ms as u64), master.seq.wrapping_add(seq as u64));
        if id < master || last.is_some_and(|l| id <= l) {
            return None;
        }
        first.get_or_insert(id);
        last = Some(id);
        let mut fields = master_fields;
        let mut extra = 3;
        if flags & crate::types::stream::node::FLAG_SAMEFIELDS == 0 {
            fields = int(it.next())?;
            if fields < 0 {
                return None;
            }
            for _ in 0..fields {
                it.next()?;
            }
            extra += fields + 1;
        }
        for _ in 0..fields {
            it.next()?;
        }
        if int(it.next())? != fields + extra {
            return None;
        }
        if flags & crate::types::stream::node::FLAG_DELETED != 0 {
            seen_deleted += 1;
        } else {
            seen_live += 1;
        }
    }
    if it.next().is_some() || seen_live != live || seen_deleted != deleted {
        return None;
    }
    Some(NodeSummary { live: live as u64, first, last })
}

fn read_stream(r: &mut Reader<'_>, t: u8) -> Res<Value> {
    const LP_BAD: &str = "Stream listpack integrity check failed.";
    let mut st = Stream::new();
    let nodes = r.count()?;
    let mut live_total = 0u64;
    let mut prev_last: Option<StreamId> = None;
    let mut prev_master: Option<StreamId> = None;
    let mut first_entry = None;
    for _ in 0..nodes {
        let key = r.bytes()?;
        if key.len() != 16 {
            return Err(r.corrupt("Stream node key entry is not the size of a stream ID"));
        }
        let master = raw_id(&key);
        let blob = r.bytes()?.into_owned();
        r.sanitized += 1;
        let lp = Listpack::from_bytes(blob).map_err(|_| r.corrupt(LP_BAD))?;
        if lp.is_empty() {
            return Err(r.corrupt("Empty listpack inside stream"));
        }
        let sum = validate_stream_node(&lp, master).ok_or_else(|| r.corrupt(LP_BAD))?;
        if prev_master.is_some_and(|p| master <= p) {
            return Err(r.corrupt("Listpack re-added with existing key"));
        }
        // Nodes must not overlap: a node's entries precede the next master ID.
        if prev_last.is_some_and(|p| master <= p) {
            return Err(r.corrupt(LP_BAD));
        }
        prev_master = Some(master);
        if sum.last.is_some() {
            prev_last = sum.last;
        }
        if first_entry.is_none() {
            first_entry = sum.first;
        }
        live_total += sum.live;
        st.entries.insert_raw_node(master, lp.as_bytes().to_vec());
    }
    let e = &mut st.entries;
    e.length = r.length()?;
    e.last_id = StreamId::new(r.length()?, r.length()?);
    if t == TYPE_STREAM_LISTPACKS_2 {
        e.first_id = StreamId::new(r.length()?, r.length()?);
        e.max_deleted_entry_id = StreamId::new(r.length()?, r.length()?);
        e.entries_added = r.length()?;
    } else {
        e.max_deleted_entry_id = StreamId::MIN;
        e.entries_added = e.length;
        e.first_id = if e.length == 0 { StreamId::MIN } else { e.edge_id(true, true) };
    }
    if e.length != live_total {
        return Err(r.corrupt("Stream length inconsistent with rax entries"));
    }
    // No Redis command can make fewer entries added than live ones (XSETID
    // refuses it), and the lag arithmetic relies on it.
    if e.entries_added < e.length {
        return Err(r.corrupt("Stream entries_added smaller than its length"));
    }
    if prev_last.is_some_and(|l| l > e.last_id) {
        return Err(r.corrupt("Stream entries beyond the last ID"));
    }
    let groups = r.count()?;
    for _ in 0..groups {
        let name = Sds::from(&r.bytes()?[..]);
        let last_id = StreamId::new(r.length()?, r.length()?);
        let entries_read = if t == TYPE_STREAM_LISTPACKS_2 {
            // -1 (unknown) or a count: XGROUP refuses anything else.
            let n = r.length()? as i64;
            if n < -1 {
                return Err(r.corrupt("Stream consumer group entries_read out of range"));
            }
            n
        } else {
            st.entries.estimate_distance(last_id).map_or(-1, |d| d as i64)
        };
        if st.groups.contains_key(&name[..]) {
            return Err(r.corrupt(format!("Duplicated consumer group name {}", String::from_utf8_lossy(&name))));
        }
        let mut g = Group::new(last_id, entries_read);
        let pel = r.count()?;
        let mut owned: BTreeMap<StreamId, bool> = BTreeMap::new();
        for _ in 0..pel {
            let id = r.stream_id_raw()?;
            let delivery_time_ms = r.millis()?;
            let delivery_count = r.length()?;
            if g.pel.insert(id, Nack { delivery_time_ms, delivery_count, consumer: Sds::new() }).is_some() {
                return Err(r.corrupt("Duplicated global PEL entry loading stream consumer group"));
            }
            owned.insert(id, false);
        }
        let consumers = r.count()?;
        for _ in 0..consumers {
            let cname = Sds::from(&r.bytes()?[..]);
            if g.consumers.contains_key(&cname[..]) {
                return Err(r.corrupt("Duplicate stream consumer detected."));
            }
            let seen_time_ms = r.millis()?;
            let n = r.count()?;
            let mut cpel = BTreeSet::new();
            for _ in 0..n {
                let id = r.stream_id_raw()?;
                match owned.get_mut(&id) {
                    None => return Err(r.corrupt("Consumer entry not found in group global PEL")),
                    Some(true) => {
                        return Err(r.corrupt("Duplicated consumer PEL entry  loading a stream consumer group"))
                    }
                    Some(o) => *o = true,
                }
                if let Some(nack) = g.pel.get_mut(&id) {
                    nack.consumer = cname.clone();
                }
                cpel.insert(id);
            }
            g.consumers.insert(cname, Consumer { seen_time_ms, pel: cpel });
        }
        // Every pending entry needs an owner: our PELs cannot express one without.
        if owned.values().any(|o| !o) {
            return Err(r.corrupt("Stream CG PEL entry without consumer"));
        }
        st.groups.insert(name, g);
    }
    Ok(Value::Stream(Box::new(st)))
}
