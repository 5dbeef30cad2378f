//! RDB serialization, byte-compatible with Redis 7.0 (RDB version 10): one
//! value at a time for DUMP / RESTORE / MIGRATE, and whole files (see
//! [`file`]) for persistence.
//!
//! Owns the format and nothing else: it reads values through the types'
//! accessors and builds them through their constructors, it never sees the
//! keyspace's clients, the network or the disk (callers hand it buffers and
//! `Write`/`Read` sinks). Mirrors rdb.c's rdbSaveObject / rdbLoadObject and
//! cluster.c's DUMP payload framing: object bytes, the RDB version as two
//! little-endian bytes, then the CRC-64 of everything before it as eight
//! little-endian bytes.

pub mod check;
pub mod crc64;
pub mod decode;
pub mod encode;
pub mod file;
pub mod legacy;
pub mod lzf;
pub mod opcodes;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::types::hash::HashLimits;
use crate::types::value::Value;
use crate::types::zset::ZLimits;

pub use file::{read_rdb, read_rdb_sized, write_rdb, LoadOptions, LoadedKey, RdbInfo, Record, Records, SaveOptions, Step};
pub use opcodes::RDB_VERSION;

/// What went wrong while reading RDB data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdbErrorKind {
    /// The bytes are not valid RDB data.
    Corrupt,
    /// The data ends too early.
    Truncated,
    /// A collection with no elements: Redis refuses to create such keys
    /// (RESTORE fails, file loading skips them).
    EmptyKey,
    /// The file's checksum does not match its contents.
    Checksum,
    /// Reading the input failed.
    Io,
}

/// An RDB reading error: where (byte offset into the data) and why (the
/// reason text Redis logs for the same problem, where it has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    /// Offset into the data where the problem was noticed.
    pub offset: usize,
    /// The class of problem.
    pub kind: RdbErrorKind,
    /// Human-readable reason.
    pub reason: String,
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // COMPAT: the prefix of Redis's rdbReportError lines, which operators grep.
        write!(f, "Internal error in RDB reading offset {} -> {}", self.offset, self.reason)
    }
}

impl std::error::Error for RdbError {}

impl From<std::io::Error> for RdbError {
    fn from(e: std::io::Error) -> RdbError {
        RdbError { offset: 0, kind: RdbErrorKind::Io, reason: e.to_string() }
    }
}

/// The encoding thresholds and list shape applied while loading, taken from
/// the configuration in force.
#[derive(Debug, Clone, Copy)]
pub struct LoadLimits {
    /// `hash-max-listpack-*`.
    pub hash: HashLimits,
    /// `zset-max-listpack-*`.
    pub zset: ZLimits,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: usize,
    /// `list-max-listpack-size`.
    pub list_fill: i64,
    /// `list-compress-depth`.
    pub list_compress: i64,
    /// Elements at least this long get a plain quicklist node.
    pub packed_threshold: usize,
}

impl LoadLimits {
    /// The limits of configuration `cfg`, with the process-wide packed
    /// threshold given by the caller.
    pub fn from_config(cfg: &crate::config::Config, packed_threshold: usize) -> LoadLimits {
        let us = |v: i64| v.max(0) as usize;
        LoadLimits {
            hash: HashLimits {
                max_entries: us(cfg.hash_max_listpack_entries),
                max_value: us(cfg.hash_max_listpack_value),
            },
            zset: ZLimits {
                max_entries: us(cfg.zset_max_listpack_entries),
                max_value: us(cfg.zset_max_listpack_value),
            },
            set_max_intset_entries: us(cfg.set_max_intset_entries),
            list_fill: cfg.list_max_listpack_size,
            list_compress: cfg.list_compress_depth,
            packed_threshold,
        }
    }
}

impl Default for LoadLimits {
    /// Redis's default thresholds.
    fn default() -> LoadLimits {
        LoadLimits {
            hash: HashLimits { max_entries: 128, max_value: 64 },
            zset: ZLimits { max_entries: 128, max_value: 64 },
            set_max_intset_entries: 512,
            list_fill: -2,
            list_compress: 0,
            packed_threshold: crate::types::list::DEFAULT_PACKED_THRESHOLD,
        }
    }
}

/// Process-wide switch of DEBUG SET-SKIP-CHECKSUM-VALIDATION (as Redis keeps
/// it in its server struct): when on, RESTORE checks only the version.
static SKIP_CHECKSUM: AtomicBool = AtomicBool::new(false);

/// Turns checksum validation of DUMP payloads off (`true`) or back on.
pub fn set_skip_checksum_validation(skip: bool) {
    SKIP_CHECKSUM.store(skip, Ordering::Relaxed);
}

/// Whether DUMP payload checksums are currently skipped.
pub fn skip_checksum_validation() -> bool {
    SKIP_CHECKSUM.load(Ordering::Relaxed)
}

/// The DUMP payload of `v`: type byte and object in RDB format, the RDB
/// version (2 bytes LE), then the CRC-64 of all that (8 bytes LE).
/// `compress` is `rdbcompression`.
pub fn dump_payload(v: &Value, compress: bool) -> Vec<u8> {
    let mut out = Vec::new();
    encode::serialize(&mut out, v, compress);
    add_payload_footer(&mut out);
    out
}

/// Appends the DUMP footer (RDB version, CRC-64 of everything before) to
/// a payload body; FUNCTION DUMP shares it.
pub fn add_payload_footer(out: &mut Vec<u8>) {
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(0, out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Why a DUMP payload was refused before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPayload;

impl fmt::Display for BadPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // COMPAT: RESTORE's reply text, prefixed with ERR by the caller.
        f.write_str("DUMP payload version or checksum are wrong")
    }
}

/// Checks a DUMP payload's trailer (Redis's verifyDumpPayload): at least 10
/// bytes, a version this server can read, and (unless `skip_checksum`) a
/// matching CRC-64. Returns the object bytes without the trailer.
pub fn verify_payload(p: &[u8], skip_checksum: bool) -> Result<&[u8], BadPayload> {
    if p.len() < 10 {
        return Err(BadPayload);
    }
    let (body, footer) = p.split_at(p.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return Err(BadPayload);
    }
    if skip_checksum {
        return Ok(body);
    }
    let crc = crc64::crc64(0, &p[..p.len() - 8]);
    if crc.to_le_bytes() != footer[2..10] {
        return Err(BadPayload);
    }
    Ok(body)
}

/// Decodes the object bytes of a payload (type byte, then the object), as
/// RESTORE does after [`verify_payload`]. Bytes after the object are
/// ignored, as Redis ignores them.
pub fn decode_value(body: &[u8], limits: &LoadLimits) -> Result<Value, RdbError> {
    decode_value_counted(body, limits).map(|(v, _)| v)
}

/// [`decode_value`], also returning how many blobs were validated where
/// Redis counts a deep sanitization (for INFO `dump_payload_sanitizations`
/// when `sanitize-dump-payload` asks for them; we validate them always).
pub fn decode_value_counted(body: &[u8], limits: &LoadLimits) -> Result<(Value, u64), RdbError> {
    let mut r = decode::Reader::new(body);
    let t = r.byte()?;
    if !opcodes::is_object_type(t) {
        return Err(r.corrupt(format!("Unknown RDB object type {t}")));
    }
    let v = decode::read_object(&mut r, t, limits)?;
    Ok((v, r.sanitized()))
}

#[cfg(test)]
mod tests;
