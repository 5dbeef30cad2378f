//! Whole RDB files: the `REDIS0010` header, AUX fields, per-db SELECTDB and
//! RESIZEDB, keys with their EXPIRETIME_MS, the EOF opcode and the trailing
//! CRC-64 of everything before it, as Redis 7.0's rdbSaveRio writes them
//! and rdbLoadRio reads them (versions 1 to 10).
//!
//! Owns the file framing only: values go through `encode`/`decode`. It
//! reads the keyspace but never changes it; loading hands each key to the
//! caller, which decides where it goes (and does the logging of totals).
//! Needs no clock: the caller passes "now" when expired keys are to be
//! skipped.

use std::io::{self, Read, Write};

use super::crc64::crc64;
use super::decode::Reader;
use super::encode;
use super::opcodes::*;
use super::{LoadLimits, RdbError, RdbErrorKind};
use crate::db::Keyspace;
use crate::types::value::Value;

/// A sink that checksums what passes through it.
struct Sink<'a, W: Write> {
    out: &'a mut W,
    crc: u64,
    buf: Vec<u8>,
}

impl<W: Write> Sink<'_, W> {
    /// Writes out the staged bytes once they pass a chunk size.
    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.crc = crc64(self.crc, &self.buf);
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// Settings of one save.
#[derive(Debug, Clone, Copy)]
pub struct SaveOptions {
    /// `rdbcompression`: LZF-compress strings longer than 20 bytes.
    pub compress: bool,
    /// `rdbchecksum`: write the CRC-64 (zero otherwise, meaning "none").
    pub checksum: bool,
    /// With an LRU `maxmemory-policy`, the time (Unix ms) against which each
    /// key's idle seconds are written (IDLE opcode), as Redis does.
    pub lru_now_ms: Option<i64>,
    /// `rdb-key-save-delay`: pause after each key (microseconds; negative
    /// values are nanoseconds), a testing aid that makes saves slow.
    pub key_delay_us: i64,
}

impl Default for SaveOptions {
    fn default() -> SaveOptions {
        SaveOptions { compress: true, checksum: true, lru_now_ms: None, key_delay_us: 0 }
    }
}

/// Writes the whole keyspace as an RDB file: header, the `aux` fields in
/// order (Redis writes redis-ver, redis-bits, ctime, used-mem, aof-base),
/// then every non-empty db, EOF and the checksum. Keys are written as they
/// are, expired or not, as Redis does.
pub fn write_rdb(out: &mut impl Write, ks: &Keyspace, aux: &[(&str, String)], opts: SaveOptions) -> io::Result<()> {
    let mut s = Sink { out, crc: 0, buf: Vec::with_capacity(64 * 1024) };
    s.buf.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    for (k, v) in aux {
        s.buf.push(OP_AUX);
        encode::put_string(&mut s.buf, k.as_bytes(), opts.compress);
        encode::put_string(&mut s.buf, v.as_bytes(), opts.compress);
    }
    for (id, db) in ks.dbs.iter().enumerate() {
        if db.dict.is_empty() {
            continue;
        }
        s.buf.push(OP_SELECTDB);
        encode::put_len(&mut s.buf, id as u64);
        s.buf.push(OP_RESIZEDB);
        encode::put_len(&mut s.buf, db.dict.len() as u64);
        encode::put_len(&mut s.buf, db.expires.len() as u64);
        for (key, obj) in db.dict.iter() {
            if let Some(&at) = db.expires.get(&key[..]) {
                s.buf.push(OP_EXPIRETIME_MS);
                encode::put_millis(&mut s.buf, at);
            }
            if let Some(now) = opts.lru_now_ms {
                s.buf.push(OP_IDLE);
                encode::put_len(&mut s.buf, (obj.idle_ms(now) / 1000) as u64);
            }
            s.buf.push(encode::object_type(&obj.value));
            encode::put_string(&mut s.buf, key, opts.compress);
            encode::put_object(&mut s.buf, &obj.value, opts.compress);
            s.maybe_flush()?;
            match opts.key_delay_us {
                0 => {}
                us if us > 0 => std::thread::sleep(std::time::Duration::from_micros(us as u64)),
                ns => std::thread::sleep(std::time::Duration::from_nanos(ns.unsigned_abs())),
            }
        }
    }
    s.buf.push(OP_EOF);
    s.flush()?;
    let crc = if opts.checksum { s.crc } else { 0 };
    s.out.write_all(&crc.to_le_bytes())?;
    s.out.flush()
}

/// One key read from a file.
#[derive(Debug)]
pub struct LoadedKey {
    /// Its database.
    pub db: usize,
    /// The key name.
    pub key: Vec<u8>,
    /// The value.
    pub value: Value,
    /// Absolute expire time (Unix ms), if any.
    pub expire_at_ms: Option<i64>,
    /// LRU idle seconds recorded with the key (IDLE opcode).
    pub idle_secs: Option<u64>,
    /// LFU counter recorded with the key (FREQ opcode).
    pub freq: Option<u8>,
}

/// What a load found besides the keys.
#[derive(Debug, Default)]
pub struct RdbInfo {
    /// The file's RDB version.
    pub version: u16,
    /// AUX fields in file order.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// Function library sources (FUNCTION2 opcodes), for the caller to load.
    pub functions: Vec<Vec<u8>>,
    /// Keys handed to the caller.
    pub keys_loaded: u64,
    /// Keys skipped because they had expired.
    pub keys_expired: u64,
    /// Empty collections skipped (files written by buggy old versions).
    pub empty_keys_skipped: u64,
    /// Whether the file carried a non-zero checksum.
    pub checksummed: bool,
    /// Bytes of the input the RDB image took (an AOF tail may follow).
    pub end_offset: usize,
}

/// How a load behaves.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Number of databases; a SELECTDB beyond them is an error.
    pub databases: usize,
    /// Skip keys whose expire time is before this (Unix ms); None keeps
    /// every key (replicas and AOF preambles).
    pub skip_expired_before_ms: Option<i64>,
    /// Verify the trailing checksum (`rdbchecksum`).
    pub verify_checksum: bool,
}

/// Reads a whole RDB file, calling `on_key` for every key (in file order)
/// that is neither empty nor expired. Stops at the first error, which
/// carries the byte offset; `on_key` may stop the load with its own error.
pub fn read_rdb(
    input: &mut impl Read,
    limits: &LoadLimits,
    opts: LoadOptions,
    mut on_key: impl FnMut(LoadedKey) -> Result<(), RdbError>,
) -> Result<RdbInfo, RdbError> {
    let mut data = Vec::new();
    input.read_to_end(&mut data)?;
    let mut r = Reader::new(&data);
    let magic = r.take(9)?;
    if &magic[..5] != b"REDIS" {
        return Err(RdbError {
            offset: 0,
            kind: RdbErrorKind::Corrupt,
            reason: "Wrong signature trying to load DB from file".into(),
        });
    }
    let version = std::str::from_utf8(&magic[5..]).ok().and_then(|v| v.parse::<u16>().ok()).unwrap_or(0);
    if !(1..=RDB_VERSION).contains(&version) {
        return Err(RdbError {
            offset: 5,
            kind: RdbErrorKind::Corrupt,
            reason: format!("Can't handle RDB format version {version}"),
        });
    }
    let mut info = RdbInfo { version, ..RdbInfo::default() };
    let mut db = 0usize;
    let (mut expire, mut idle, mut freq): (Option<i64>, Option<u64>, Option<u8>) = (None, None, None);
    loop {
        let t = r.byte()?;
        match t {
            OP_EXPIRETIME => expire = Some(r.secs()? as i64 * 1000),
            OP_EXPIRETIME_MS => expire = Some(r.millis()?),
            OP_FREQ => freq = Some(r.byte()?),
            OP_IDLE => idle = Some(r.length()?),
            OP_EOF => break,
            OP_SELECTDB => {
                let n = r.length()?;
                if n >= opts.databases as u64 {
                    return Err(r.corrupt(format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting\n",
                        opts.databases
                    )));
                }
                db = n as usize;
            }
            OP_RESIZEDB => {
                r.length()?;
                r.length()?;
            }
            OP_AUX => {
                let k = r.bytes()?.into_owned();
                let v = r.bytes()?.into_owned();
                info.aux.push((k, v));
            }
            OP_MODULE_AUX => return Err(r.corrupt("The RDB file contains AUX module data I can't load")),
            OP_FUNCTION2 => info.functions.push(r.bytes()?.into_owned()),
            OP_FUNCTION => return Err(r.corrupt("Pre-release function format not supported.")),
            t if is_object_type(t) => {
                let key = r.bytes()?.into_owned();
                match super::decode::read_object(&mut r, t, limits) {
                    Ok(value) => {
                        let expired =
                            matches!((expire, opts.skip_expired_before_ms), (Some(at), Some(now)) if at < now);
                        if expired {
                            info.keys_expired += 1;
                        } else {
                            info.keys_loaded += 1;
                            on_key(LoadedKey { db, key, value, expire_at_ms: expire, idle_secs: idle, freq })?;
                        }
                    }
                    Err(e) if e.kind == RdbErrorKind::EmptyKey => {
                        if info.empty_keys_skipped < 10 {
                            // COMPAT: Redis's warning for each of the first ten.
                            log::warn!("rdbLoadObject skipping empty key: {}", String::from_utf8_lossy(&key));
                        }
                        info.empty_keys_skipped += 1;
                    }
                    Err(e) => return Err(e),
                }
                expire = None;
                idle = None;
                freq = None;
            }
            other => return Err(r.corrupt(format!("Unknown RDB encoding type {other}"))),
        }
    }
    if version >= 5 {
        let end = r.pos();
        let stored = r.take(8)?;
        let stored = u64::from_le_bytes([
            stored[0], stored[1], stored[2], stored[3], stored[4], stored[5], stored[6], stored[7],
        ]);
        info.checksummed = stored != 0;
        if opts.verify_checksum && stored != 0 {
            let expected = crc64(0, &data[..end]);
            if expected != stored {
                return Err(RdbError {
                    offset: end,
                    kind: RdbErrorKind::Checksum,
                    // COMPAT: the text Redis logs before aborting.
                    reason: format!("Wrong RDB checksum expected: ({expected:x}) but got ({stored:x}). Aborting now."),
                });
            }
        }
    }
    info.end_offset = r.pos();
    Ok(info)
}
