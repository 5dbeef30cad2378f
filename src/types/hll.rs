//! HyperLogLog sketches in Redis's byte format, kept inside ordinary string
//! values.
//!
//! Owns the format and the arithmetic: the 16-byte header (`HYLL` magic, the
//! encoding byte, three reserved bytes, the cached cardinality as 8
//! little-endian bytes whose top bit marks it stale), the dense encoding
//! (16384 registers of 6 bits packed from the least significant bit of each
//! byte up), the sparse encoding (ZERO, XZERO and VAL run opcodes), the
//! promotion from sparse to dense, MurmurHash64A with Redis's seed (so an
//! element lands in the same register with the same run length as in Redis)
//! and the cardinality estimator Redis has used since 5.0 (Ertl's improved
//! raw estimator over the register histogram). A sketch written by Redis
//! reads the same here and the other way round, byte for byte.
//!
//! Must not: see keys, clients or the configuration. The sparse size limit
//! (`hll-sparse-max-bytes`) is passed in. Input may be any bytes a client
//! stored: every walk over it is bounds-checked and reports [`Corrupt`]
//! rather than panicking. Mirrors Redis 7.0's hyperloglog.c.

/// Bytes of the header in front of the registers.
pub const HDR_LEN: usize = 16;
/// Register index bits.
pub const P: u32 = 14;
/// Hash bits left for the run of zeros.
pub const Q: u32 = 64 - P;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
/// Bits per dense register.
const BITS: usize = 6;
/// Largest dense register value.
const REGISTER_MAX: u8 = (1 << BITS) - 1;
/// Total length of a dense sketch.
pub const DENSE_LEN: usize = HDR_LEN + (REGISTERS * BITS).div_ceil(8);
/// The hash seed Redis uses for HyperLogLog elements.
const SEED: u64 = 0xadc8_3b19;

/// Header byte 4: the encoding.
const ENC_DENSE: u8 = 0;
const ENC_SPARSE: u8 = 1;

/// Sparse opcodes: `00xxxxxx` ZERO (1..=64 zero registers), `01xxxxxx
/// yyyyyyyy` XZERO (1..=16384), `1vvvvvxx` VAL (value 1..=32, run 1..=4).
const XZERO_BIT: u8 = 0x40;
const VAL_BIT: u8 = 0x80;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;

/// 0.5 / ln(2), the estimator's constant for an infinite number of registers.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The two encodings a stored sketch may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 12288 bytes of packed 6-bit registers.
    Dense,
    /// Run-length opcodes.
    Sparse,
}

impl Encoding {
    /// The name PFDEBUG ENCODING replies.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Dense => "dense",
            Encoding::Sparse => "sparse",
        }
    }
}

/// The sketch's sparse opcodes do not describe exactly 16384 registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

// ------------------------------------------------------------------ hashing

/// MurmurHash2, 64-bit version A, reading 8-byte blocks little-endian as
/// Redis's endian-neutral variant does.
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for b in &mut blocks {
        let mut k = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &byte) in tail.iter().enumerate() {
            h ^= u64::from(byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register `element` falls in and the length of its `0...01` run
/// (1..=Q+1), the quantity the register keeps the maximum of.
pub fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    // The sentinel bit at Q bounds the run at Q+1.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ------------------------------------------------------------------ header

/// A new empty sketch as PFADD creates it: sparse, all registers in XZERO
/// runs, cached cardinality 0 and valid.
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR_LEN + 2 * REGISTERS.div_ceil(XZERO_MAX_LEN));
    v.extend_from_slice(b"HYLL");
    v.push(ENC_SPARSE);
    v.extend_from_slice(&[0; 11]);
    let mut left = REGISTERS;
    while left > 0 {
        let run = left.min(XZERO_MAX_LEN);
        push_xzero(&mut v, run);
        left -= run;
    }
    v
}

/// Checks what Redis checks before using a string as a sketch (magic,
/// known encoding, exact dense length) and returns its encoding. `None`
/// means "not a valid HyperLogLog string value" (a WRONGTYPE reply).
pub fn validate(b: &[u8]) -> Option<Encoding> {
    if b.len() < HDR_LEN || &b[..4] != b"HYLL" {
        return None;
    }
    match b[4] {
        ENC_DENSE if b.len() == DENSE_LEN => Some(Encoding::Dense),
        ENC_SPARSE => Some(Encoding::Sparse),
        _ => None,
    }
}

/// The cached cardinality when it is valid. Precondition: `validate` passed.
pub fn cached(b: &[u8]) -> Option<u64> {
    if b[15] & 0x80 != 0 {
        return None;
    }
    let mut card = [0u8; 8];
    card.copy_from_slice(&b[8..16]);
    Some(u64::from_le_bytes(card))
}

/// Stores `card` as the valid cached cardinality.
pub fn set_cached(b: &mut [u8], card: u64) {
    b[8..16].copy_from_slice(&card.to_le_bytes());
}

/// Marks the cached cardinality stale.
pub fn invalidate(b: &mut [u8]) {
    b[15] |= 0x80;
}

// ------------------------------------------------------------------ dense

/// Register `i` of packed dense registers. A register whose bits run past
/// the end reads the missing byte as zero (Redis reads the string's
/// terminator there).
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let b0 = u32::from(regs.get(byte).copied().unwrap_or(0));
    let b1 = u32::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & u32::from(REGISTER_MAX)) as u8
}

/// Sets register `i` of packed dense registers to `v` (at most 63).
pub fn dense_set(regs: &mut [u8], i: usize, v: u8) {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let v = u32::from(v & REGISTER_MAX);
    let max = u32::from(REGISTER_MAX);
    if let Some(b) = regs.get_mut(byte) {
        *b &= !(max << fb) as u8;
        *b |= (v << fb) as u8;
    }
    if let Some(b) = regs.get_mut(byte + 1) {
        *b &= !(max >> (8 - fb)) as u8;
        *b |= (v >> (8 - fb)) as u8;
    }
}

/// Raises dense register `i` to `count`; true if it grew.
fn dense_raise(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_set(regs, i, count);
        true
    } else {
        false
    }
}

// ------------------------------------------------------------------ sparse opcodes

/// One decoded sparse opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `len` zero registers in one byte.
    Zero(usize),
    /// `len` zero registers in two bytes.
    XZero(usize),
    /// `len` registers holding `value`.
    Val(u8, usize),
}

impl Op {
    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::Val(_, n) => n,
        }
    }

    fn bytes(self) -> usize {
        match self {
            Op::XZero(_) => 2,
            Op::Zero(_) | Op::Val(..) => 1,
        }
    }
}

/// Decodes the opcode at `b[p]`. A truncated XZERO reads its second byte as
/// zero, as Redis does through the string's terminator.
fn op_at(b: &[u8], p: usize) -> Op {
    let x = b[p];
    if x & VAL_BIT != 0 {
        Op::Val(((x >> 2) & 0x1f) + 1, usize::from(x & 0x3) + 1)
    } else if x & XZERO_BIT != 0 {
        let lo = b.get(p + 1).copied().unwrap_or(0);
        Op::XZero(((usize::from(x & 0x3f) << 8) | usize::from(lo)) + 1)
    } else {
        Op::Zero(usize::from(x & 0x3f) + 1)
    }
}

fn val_byte(value: u8, len: usize) -> u8 {
    VAL_BIT | ((value.wrapping_sub(1) & 0x1f) << 2) | ((len.wrapping_sub(1) & 0x3) as u8)
}

fn push_xzero(out: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    out.push(((l >> 8) as u8) | XZERO_BIT);
    out.push((l & 0xff) as u8);
}

/// Appends the shortest opcode for a run of `len` zero registers.
fn push_zeros(out: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        push_xzero(out, len);
    } else {
        out.push((len - 1) as u8);
    }
}

/// Walks the sparse opcodes after the header, calling `f(first_register,
/// op)` for each. The sketch is `Corrupt` when an opcode would run past the
/// last register or the opcodes describe fewer than all of them; this is
/// the stricter check Redis adopted for CVE-2025-32023 (and which the
/// packaged 7.0.15 carries), applied alike by counting, merging and
/// conversion.
fn walk_sparse(b: &[u8], mut f: impl FnMut(usize, Op)) -> Result<(), Corrupt> {
    let mut p = HDR_LEN;
    let mut idx = 0usize;
    while p < b.len() {
        let op = op_at(b, p);
        if idx + op.span() > REGISTERS {
            return Err(Corrupt);
        }
        f(idx, op);
        idx += op.span();
        p += op.bytes();
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Rewrites a sparse sketch as dense, keeping its header (so the cached
/// cardinality survives). A dense sketch is left alone.
pub fn to_dense(b: &mut Vec<u8>) -> Result<(), Corrupt> {
    if b.get(4) != Some(&ENC_SPARSE) {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_LEN];
    dense[..HDR_LEN].copy_from_slice(&b[..HDR_LEN]);
    dense[4] = ENC_DENSE;
    let regs = &mut dense[HDR_LEN..];
    walk_sparse(b, |first, op| {
        if let Op::Val(v, n) = op {
            for i in first..first + n {
                dense_set(regs, i, v);
            }
        }
    })?;
    *b = dense;
    Ok(())
}

/// Raises register `index` of a sparse sketch to `count`, splitting and
/// re-merging runs in place exactly as Redis does, so the bytes match.
/// Promotes to dense when `count` exceeds what VAL can hold or when the
/// sketch would grow past `sparse_max` bytes. `Ok(true)` when a register
/// changed.
fn sparse_set(b: &mut Vec<u8>, index: usize, count: u8, sparse_max: usize) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(b, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let mut p = HDR_LEN;
    let mut first = 0usize;
    let mut prev: Option<usize> = None;
    let mut found: Option<Op> = None;
    while p < b.len() {
        let op = op_at(b, p);
        if index < first.saturating_add(op.span()) {
            found = Some(op);
            break;
        }
        prev = Some(p);
        p += op.bytes();
        first = first.saturating_add(op.span());
    }
    let Some(op) = found else { return Err(Corrupt) };
    let span = op.span();

    // Step 2: the cheap cases that rewrite one byte.
    let mut rewrote_in_place = false;
    match op {
        Op::Val(old, _) if old >= count => return Ok(false),
        Op::Val(_, 1) | Op::Zero(1) => {
            b[p] = val_byte(count, 1);
            rewrote_in_place = true;
        }
        _ => {}
    }

    if !rewrote_in_place {
        // Step 3: split the run into up to three opcodes around `index`.
        let last = first + span - 1;
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        match op {
            Op::Zero(_) | Op::XZero(_) => {
                if index != first {
                    push_zeros(&mut seq, index - first);
                }
                seq.push(val_byte(count, 1));
                if index != last {
                    push_zeros(&mut seq, last - index);
                }
            }
            Op::Val(cur, _) => {
                if index != first {
                    seq.push(val_byte(cur, index - first));
                }
                seq.push(val_byte(count, 1));
                if index != last {
                    seq.push(val_byte(cur, last - index));
                }
            }
        }
        let old_len = op.bytes();
        if seq.len() > old_len && b.len() + (seq.len() - old_len) > sparse_max {
            return promote(b, index, count);
        }
        let old_end = (p + old_len).min(b.len());
        b.splice(p..old_end, seq);
    }

    // Step 4: merge adjacent VAL opcodes with the same value, looking at
    // most five opcodes from the one before the change.
    let mut q = prev.unwrap_or(HDR_LEN);
    let mut budget = 5;
    while q < b.len() && budget > 0 {
        budget -= 1;
        match op_at(b, q) {
            Op::XZero(_) => {
                q += 2;
                continue;
            }
            Op::Zero(_) => {
                q += 1;
                continue;
            }
            Op::Val(v1, l1) => {
                if q + 1 < b.len() {
                    if let Op::Val(v2, l2) = op_at(b, q + 1) {
                        if v1 == v2 && l1 + l2 <= VAL_MAX_LEN {
                            b[q + 1] = val_byte(v1, l1 + l2);
                            b.remove(q);
                            // Try the merged run against its right neighbour.
                            continue;
                        }
                    }
                }
            }
        }
        q += 1;
    }
    invalidate(b);
    Ok(true)
}

/// Converts to dense, then applies the pending register update.
fn promote(b: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(b)?;
    dense_raise(&mut b[HDR_LEN..], index, count);
    // The update that forced the promotion always changes a register.
    Ok(true)
}

// ------------------------------------------------------------------ operations

/// Raises register `index` to `count` in whichever encoding `b` uses.
/// Precondition: `validate(b)` passed.
pub fn set_register(b: &mut Vec<u8>, index: usize, count: u8, sparse_max: usize) -> Result<bool, Corrupt> {
    match b[4] {
        ENC_DENSE => Ok(dense_raise(&mut b[HDR_LEN..], index, count)),
        ENC_SPARSE => sparse_set(b, index, count, sparse_max),
        _ => Err(Corrupt),
    }
}

/// Adds `element` (PFADD): `Ok(true)` when a register grew. The caller
/// invalidates the cache once per command, as Redis does.
pub fn add(b: &mut Vec<u8>, element: &[u8], sparse_max: usize) -> Result<bool, Corrupt> {
    let (index, count) = pattern(element);
    set_register(b, index, count, sparse_max)
}

/// Folds the sketch into `max` (one byte per register), keeping the larger
/// value of each register (PFMERGE and multi-key PFCOUNT).
pub fn merge_into(max: &mut [u8; REGISTERS], b: &[u8]) -> Result<(), Corrupt> {
    match validate(b) {
        Some(Encoding::Dense) => {
            let regs = &b[HDR_LEN..];
            for (i, m) in max.iter_mut().enumerate() {
                *m = (*m).max(dense_get(regs, i));
            }
            Ok(())
        }
        Some(Encoding::Sparse) => walk_sparse(b, |first, op| {
            if let Op::Val(v, n) = op {
                for m in &mut max[first..first + n] {
                    *m = (*m).max(v);
                }
            }
        }),
        None => Err(Corrupt),
    }
}

/// How many registers hold each value 0..=63.
pub type Histogram = [u64; 64];

/// The register histogram of a stored sketch. A sparse sketch that does not
/// describe exactly 16384 registers is `Corrupt`.
pub fn histogram(b: &[u8]) -> Result<Histogram, Corrupt> {
    let mut h = [0u64; 64];
    match validate(b) {
        Some(Encoding::Dense) => {
            let regs = &b[HDR_LEN..];
            for i in 0..REGISTERS {
                h[usize::from(dense_get(regs, i))] += 1;
            }
            Ok(h)
        }
        Some(Encoding::Sparse) => {
            walk_sparse(b, |_, op| match op {
                Op::Zero(n) | Op::XZero(n) => h[0] += n as u64,
                Op::Val(v, n) => h[usize::from(v)] += n as u64,
            })?;
            Ok(h)
        }
        None => Err(Corrupt),
    }
}

/// The histogram of registers held one per byte.
pub fn histogram_raw(regs: &[u8; REGISTERS]) -> Histogram {
    let mut h = [0u64; 64];
    for &r in regs.iter() {
        h[usize::from(r & 63)] += 1;
    }
    h
}

/// Ertl's sigma function.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

/// Ertl's tau function.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate from a register histogram (Ertl's improved raw
/// estimator, as Redis computes it step by step so results agree exactly).
pub fn estimate(h: &Histogram) -> u64 {
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - h[q + 1] as f64) / m);
    for j in (1..=q).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// The estimated cardinality of a stored sketch (ignoring the cache).
pub fn count(b: &[u8]) -> Result<u64, Corrupt> {
    histogram(b).map(|h| estimate(&h))
}

/// PFDEBUG DECODE's text of a sparse sketch: `z:<n>`, `Z:<n>` and
/// `v:<value>,<n>` separated by spaces.
pub fn decode_sparse(b: &[u8]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut p = HDR_LEN;
    while p < b.len() {
        let op = op_at(b, p);
        parts.push(match op {
            Op::Zero(n) => format!("z:{n}"),
            Op::XZero(n) => format!("Z:{n}"),
            Op::Val(v, n) => format!("v:{v},{n}"),
        });
        p += op.bytes();
    }
    parts.join(" ")
}

/// Every register of a stored sketch, one per byte (dense or sparse).
pub fn registers(b: &[u8]) -> Result<Box<[u8; REGISTERS]>, Corrupt> {
    let mut regs = Box::new([0u8; REGISTERS]);
    merge_into(&mut regs, b)?;
    Ok(regs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 3000;

    fn sketch_of(elements: impl IntoIterator<Item = Vec<u8>>, sparse_max: usize) -> Vec<u8> {
        let mut b = new_sparse();
        for e in elements {
            add(&mut b, &e, sparse_max).unwrap();
        }
        b
    }

    fn fnv1a(b: &[u8]) -> u64 {
        b.iter().fold(0xcbf2_9ce4_8422_2325u64, |x, &c| (x ^ u64::from(c)).wrapping_mul(0x100_0000_01b3))
    }

    /// A sketch as Redis leaves it after PFADD of `elements` then PFCOUNT.
    fn counted(elements: impl IntoIterator<Item = Vec<u8>>) -> Vec<u8> {
        let mut b = sketch_of(elements, MAX);
        let c = count(&b).unwrap();
        set_cached(&mut b, c);
        b
    }

    /// Vectors taken from a real Redis 7.0.15 (register layout, sparse
    /// bytes, promotion point and estimates must all agree byte for byte).
    #[test]
    fn matches_redis_reference_sketches() {
        let abc = sketch_of([b"a".to_vec(), b"b".to_vec(), b"c".to_vec()], MAX);
        assert_eq!(decode_sparse(&abc), "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603");
        let mut want = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80".to_vec();
        want.extend_from_slice(b"`\xf3\x80P\xb1\x84K\xfb\x80BZ");
        assert_eq!(abc.len(), 27);
        let mut abc_inv = abc.clone();
        invalidate(&mut abc_inv);
        assert_eq!(abc_inv, want);
        assert_eq!(fnv1a(&abc_inv), 0x9f58_471b_f303_99d3);

        let e = sketch_of([Vec::new()], MAX);
        assert_eq!(decode_sparse(&e), "Z:5938 v:2,1 Z:10445");
        let f = sketch_of([b"hello world, this is a longer element!".to_vec()], MAX);
        assert_eq!(decode_sparse(&f), "Z:12729 v:1,1 Z:3654");

        let k = |n: usize| (0..n).map(|i| format!("k{i}").into_bytes()).collect::<Vec<_>>();
        let k1000 = counted(k(1000));
        assert_eq!((k1000.len(), cached(&k1000), fnv1a(&k1000)), (1902, Some(998), 0x75cc_2037_98c6_7b48));
        let k10000 = counted(k(10_000));
        assert_eq!((k10000.len(), cached(&k10000), fnv1a(&k10000)), (12304, Some(9983), 0x763c_fe2f_73fe_0d80));
        let k100000 = counted(k(100_000));
        assert_eq!((cached(&k100000), fnv1a(&k100000)), (Some(100_216), 0x06c5_a84f_9965_d2fc));

        // PFCOUNT k1000 k10000 k100000 (a union: the largest set covers all).
        let mut max = [0u8; REGISTERS];
        for s in [&k1000, &k10000, &k100000] {
            merge_into(&mut max, s).unwrap();
        }
        assert_eq!(estimate(&histogram_raw(&max)), 100_216);

        // PFMERGE m k1000 h, then PFCOUNT m: sparse target written register
        // by register.
        let mut max = [0u8; REGISTERS];
        merge_into(&mut max, &k1000).unwrap();
        merge_into(&mut max, &abc_inv).unwrap();
        let mut m = new_sparse();
        for (i, &v) in max.iter().enumerate() {
            if v != 0 {
                set_register(&mut m, i, v, MAX).unwrap();
            }
        }
        let c = count(&m).unwrap();
        assert_eq!(c, 1001);
        set_cached(&mut m, c);
        assert_eq!((m.len(), fnv1a(&m)), (1907, 0x9082_d77c_4398_c7e1));
    }

    #[test]
    fn new_sketch_layout() {
        let b = new_sparse();
        assert_eq!(b.len(), 18);
        assert_eq!(&b[..5], b"HYLL\x01");
        assert_eq!(&b[16..], &[0x7f, 0xff]);
        assert_eq!(validate(&b), Some(Encoding::Sparse));
        assert_eq!(cached(&b), Some(0));
        assert_eq!(decode_sparse(&b), "Z:16384");
        assert_eq!(count(&b), Ok(0));
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; DENSE_LEN - HDR_LEN];
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut want = vec![0u8; REGISTERS];
        for round in 0..3 {
            for (i, w) in want.iter_mut().enumerate() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let v = ((x >> (round + 3)) & 63) as u8;
                *w = v;
                dense_set(&mut regs, i, v);
            }
            for (i, w) in want.iter().enumerate() {
                assert_eq!(dense_get(&regs, i), *w, "register {i}");
            }
        }
    }

    #[test]
    fn sparse_split_and_merge_bytes() {
        let mut b = new_sparse();
        assert_eq!(set_register(&mut b, 100, 3, MAX), Ok(true));
        assert_eq!(decode_sparse(&b), "Z:100 v:3,1 Z:16283");
        assert_eq!(set_register(&mut b, 101, 3, MAX), Ok(true));
        assert_eq!(decode_sparse(&b), "Z:100 v:3,2 Z:16282");
        assert_eq!(set_register(&mut b, 100, 2, MAX), Ok(false));
        assert_eq!(set_register(&mut b, 0, 1, MAX), Ok(true));
        assert_eq!(decode_sparse(&b), "v:1,1 Z:99 v:3,2 Z:16282");
        assert_eq!(cached(&b), None);
        assert_eq!(set_register(&mut b, 16383, 32, MAX), Ok(true));
        assert!(decode_sparse(&b).ends_with("Z:16281 v:32,1"));
        // 33 does not fit a VAL opcode: promotion.
        assert_eq!(set_register(&mut b, 5, 33, MAX), Ok(true));
        assert_eq!(validate(&b), Some(Encoding::Dense));
        let regs = registers(&b).unwrap();
        assert_eq!((regs[0], regs[5], regs[100], regs[101], regs[16383]), (1, 33, 3, 3, 32));
        assert_eq!(regs.iter().filter(|&&r| r != 0).count(), 5);
    }

    #[test]
    fn sparse_and_dense_agree_and_promote_at_limit() {
        let elements: Vec<Vec<u8>> = (0..2000u32).map(|i| format!("e{i}").into_bytes()).collect();
        let sparse = sketch_of(elements.iter().take(300).cloned(), MAX);
        assert_eq!(validate(&sparse), Some(Encoding::Sparse));
        let mut dense = new_sparse();
        to_dense(&mut dense).unwrap();
        for e in elements.iter().take(300) {
            add(&mut dense, e, MAX).unwrap();
        }
        assert_eq!(validate(&dense), Some(Encoding::Dense));
        assert_eq!(*registers(&sparse).unwrap(), *registers(&dense).unwrap());
        assert_eq!(count(&sparse), count(&dense));
        let mut converted = sparse.clone();
        to_dense(&mut converted).unwrap();
        assert_eq!(converted[HDR_LEN..], dense[HDR_LEN..]);

        let big = sketch_of(elements.iter().cloned(), MAX);
        assert_eq!(validate(&big), Some(Encoding::Dense));
        let small_limit = sketch_of(elements.iter().take(300).cloned(), 100);
        assert_eq!(validate(&small_limit), Some(Encoding::Dense));
    }

    #[test]
    fn known_cardinalities() {
        let b = sketch_of((1..=5u32).map(|i| i.to_string().into_bytes()), MAX);
        assert_eq!(count(&b), Ok(5));
        let b = sketch_of((1..=10u32).map(|i| i.to_string().into_bytes()), MAX);
        assert_eq!(count(&b), Ok(10));
        let b = sketch_of([b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"d".to_vec(), b"e".to_vec()], MAX);
        assert_eq!(count(&b), Ok(5));
        for n in [1000u64, 10_000, 100_000] {
            let b = sketch_of((0..n).map(|i| format!("k{i}").into_bytes()), MAX);
            let c = count(&b).unwrap() as f64;
            let err = (c - n as f64).abs() / n as f64;
            assert!(err < 0.03, "n={n} estimate={c}");
        }
    }

    #[test]
    fn merge_is_union() {
        let a = sketch_of([b"a".to_vec(), b"b".to_vec(), b"c".to_vec()], MAX);
        let b = sketch_of([b"b".to_vec(), b"c".to_vec(), b"d".to_vec()], MAX);
        let c = sketch_of([b"c".to_vec(), b"d".to_vec(), b"e".to_vec()], MAX);
        let mut max = [0u8; REGISTERS];
        for s in [&a, &b, &c] {
            merge_into(&mut max, s).unwrap();
        }
        assert_eq!(estimate(&histogram_raw(&max)), 5);
    }

    /// CVE-2025-32023: runs past the last register are corrupt in every
    /// walk, even when the registers before add up.
    #[test]
    fn overlong_runs_are_corrupt() {
        let mut b = new_sparse();
        b.push(0xff);
        assert_eq!(count(&b), Err(Corrupt));
        assert_eq!(to_dense(&mut b.clone()), Err(Corrupt));
        assert_eq!(merge_into(&mut [0u8; REGISTERS], &b), Err(Corrupt));
        let mut b = new_sparse();
        for _ in 0..1000 {
            b.extend_from_slice(&[0x7f, 0xff]);
        }
        b.push(0xff);
        assert_eq!(count(&b), Err(Corrupt));
        assert_eq!(merge_into(&mut [0u8; REGISTERS], &b), Err(Corrupt));
    }

    #[test]
    fn cache_bits() {
        let mut b = new_sparse();
        invalidate(&mut b);
        assert_eq!(b[15], 0x80);
        assert_eq!(cached(&b), None);
        set_cached(&mut b, 1234);
        assert_eq!(cached(&b), Some(1234));
    }

    #[test]
    fn corruption_is_detected() {
        let mut b = sketch_of([b"a".to_vec(), b"b".to_vec(), b"c".to_vec()], MAX);
        b.extend_from_slice(b"hello");
        assert_eq!(count(&b), Err(Corrupt));
        assert!(validate(b"HYLL").is_none());
        assert!(validate(b"HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff").is_none());
        assert!(validate(b"HYLL\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff").is_none());
    }

    /// Random corruption of real sketches never panics any operation.
    #[test]
    fn fuzz_random_bytes_never_panic() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..400 {
            let n = next() % 400;
            let mut b = sketch_of((0..n).map(|i| format!("{round}:{i}").into_bytes()), MAX);
            let flips = 1 + next() % 5;
            for _ in 0..flips {
                let pos = (next() as usize) % b.len();
                b[pos] = next() as u8;
            }
            if round % 7 == 0 {
                let extra = (next() % 8) as usize;
                for _ in 0..extra {
                    b.push(next() as u8);
                }
            }
            if validate(&b).is_none() {
                continue;
            }
            let _ = count(&b);
            let mut max = [0u8; REGISTERS];
            let _ = merge_into(&mut max, &b);
            let _ = decode_sparse(&b);
            let mut c = b.clone();
            for i in 0..50u32 {
                if add(&mut c, &i.to_be_bytes(), MAX).is_err() {
                    break;
                }
            }
            let mut d = b.clone();
            let _ = to_dense(&mut d);
        }
        // Pure random bytes behind a valid sparse header.
        for _ in 0..2000 {
            let mut b = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80".to_vec();
            let len = (next() % 64) as usize;
            for _ in 0..len {
                b.push(next() as u8);
            }
            let _ = count(&b);
            let _ = add(&mut b.clone(), b"x", MAX);
            let _ = set_register(&mut b.clone(), (next() as usize) % REGISTERS, 1 + (next() % 50) as u8, MAX);
            let _ = to_dense(&mut b);
        }
    }
}
