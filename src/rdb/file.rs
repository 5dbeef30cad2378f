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

/// Keys fetched and touched at a time by the writer (see the key loop).
const TOUCH_BATCH: usize = 16;

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
    /// Called after each key with the number of keys written so far (a
    /// saving child reports its progress through it).
    pub progress: Option<fn(u64)>,
}

impl Default for SaveOptions {
    fn default() -> SaveOptions {
        SaveOptions { compress: true, checksum: true, lru_now_ms: None, key_delay_us: 0, progress: None }
    }
}

/// Writes the whole keyspace as an RDB file: header, the `aux` fields in
/// order (Redis writes redis-ver, redis-bits, ctime, used-mem, aof-base),
/// then every non-empty db, EOF and the checksum. Keys are written as they
/// are, expired or not, as Redis does.
pub fn write_rdb(out: &mut impl Write, ks: &Keyspace, aux: &[(&str, String)], opts: SaveOptions) -> io::Result<()> {
    write_rdb_with_functions(out, ks, aux, &[], opts)
}

/// [`write_rdb`] with function libraries: each source is written as a
/// FUNCTION2 record after the AUX fields, before the databases, where
/// Redis 7.0 writes them.
pub fn write_rdb_with_functions(
    out: &mut impl Write,
    ks: &Keyspace,
    aux: &[(&str, String)],
    functions: &[bytes::Bytes],
    opts: SaveOptions,
) -> io::Result<()> {
    let mut s = Sink { out, crc: 0, buf: Vec::with_capacity(64 * 1024) };
    s.buf.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    for (k, v) in aux {
        s.buf.push(OP_AUX);
        encode::put_string(&mut s.buf, k.as_bytes(), opts.compress);
        encode::put_string(&mut s.buf, v.as_bytes(), opts.compress);
    }
    for code in functions {
        s.buf.push(OP_FUNCTION2);
        encode::put_string(&mut s.buf, code, opts.compress);
    }
    let mut keys_written = 0u64;
    for (id, db) in ks.dbs.iter().enumerate() {
        if db.dict.is_empty() {
            continue;
        }
        s.buf.push(OP_SELECTDB);
        encode::put_len(&mut s.buf, id as u64);
        s.buf.push(OP_RESIZEDB);
        encode::put_len(&mut s.buf, db.dict.len() as u64);
        encode::put_len(&mut s.buf, db.expires.len() as u64);
        let mut keys = db.dict.iter();
        let mut batch = Vec::with_capacity(TOUCH_BATCH);
        loop {
            // Walking the table and touching the values for several keys
            // in a row lets their cache misses overlap; the save is bound
            // by them, not by the encoding.
            batch.clear();
            batch.extend(keys.by_ref().take(TOUCH_BATCH));
            if batch.is_empty() {
                break;
            }
            std::hint::black_box(batch.iter().fold(0u8, |acc, (_, obj)| acc ^ encode::touch(&obj.value)));
            for &(key, obj) in &batch {
                if !db.expires.is_empty() {
                    if let Some(&at) = db.expires.get(&key[..]) {
                        s.buf.push(OP_EXPIRETIME_MS);
                        encode::put_millis(&mut s.buf, at);
                    }
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
                keys_written += 1;
                if let Some(report) = opts.progress {
                    report(keys_written);
                }
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
    /// Those keys, with their databases (a restarted master propagates
    /// their deletion).
    pub expired_keys: Vec<(usize, Vec<u8>)>,
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

/// What a walk over a file was doing when it stopped: redis-check-rdb
/// names the step in its error report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Reading the header.
    Start,
    /// Reading the next opcode or object type.
    ReadType,
    /// Reading an expire time.
    ReadExpire,
    /// Reading a key name.
    ReadKey,
    /// Reading a value.
    ReadObjectValue,
    /// Reading the trailing checksum.
    CheckSum,
    /// Reading a length (SELECTDB, RESIZEDB).
    ReadLen,
    /// Reading an AUX field.
    ReadAux,
    /// Reading module AUX data.
    ReadModuleAux,
    /// Reading a function library.
    ReadFunctions,
}

impl Step {
    /// The name redis-check-rdb prints for this step.
    pub fn name(self) -> &'static str {
        // COMPAT: redis-check-rdb's "While doing" names.
        match self {
            Step::Start => "start",
            Step::ReadType => "read-type",
            Step::ReadExpire => "read-expire",
            Step::ReadKey => "read-key",
            Step::ReadObjectValue => "read-object-value",
            Step::CheckSum => "check-sum",
            Step::ReadLen => "read-len",
            Step::ReadAux => "read-aux",
            Step::ReadModuleAux => "read-module-aux",
            Step::ReadFunctions => "read-functions",
        }
    }
}

/// One record of a file, in file order.
#[derive(Debug)]
pub enum Record {
    /// An AUX field.
    Aux(Vec<u8>, Vec<u8>),
    /// SELECTDB with its database number (not checked against any limit).
    SelectDb(u64),
    /// A function library's source (FUNCTION2).
    Function(Vec<u8>),
    /// A key with its value, or with the [`RdbErrorKind::EmptyKey`] error
    /// for an empty collection (callers decide whether that is fatal).
    Key {
        /// The database selected when the key was read.
        db: u64,
        /// The key name.
        key: Vec<u8>,
        /// The object type byte it was stored with.
        rdb_type: u8,
        /// The value, or the empty-key error.
        value: Result<Value, RdbError>,
        /// Absolute expire time (Unix ms), if any.
        expire_at_ms: Option<i64>,
        /// LRU idle seconds (IDLE opcode).
        idle_secs: Option<u64>,
        /// LFU counter (FREQ opcode).
        freq: Option<u8>,
    },
    /// RESIZEDB: how many keys, and keys with an expire time, the current
    /// database holds (a sizing hint).
    ResizeDb {
        /// Keys in the database.
        keys: u64,
        /// Keys with an expire time.
        expires: u64,
    },
    /// The EOF opcode and, from version 5 on, the stored checksum with
    /// the one computed over everything before it.
    End {
        /// `(stored, computed)`; None before version 5.
        checksum: Option<(u64, u64)>,
    },
}

/// A walk over the records of a whole RDB file held in memory: the one
/// reading loop behind [`read_rdb`] and the checker. After an error,
/// [`Records::step`], [`Records::key`] and [`Records::key_type`] say what
/// it was doing.
pub struct Records<'a> {
    data: &'a [u8],
    r: Reader<'a>,
    limits: &'a LoadLimits,
    version: u16,
    db: u64,
    step: Step,
    key: Option<Vec<u8>>,
    key_type: Option<u8>,
    bad_type: Option<u8>,
    finished: bool,
    /// CRC-64 of the bytes before `data` (a resumed walk).
    crc_before: u64,
}

impl<'a> Records<'a> {
    /// Checks the `REDIS00vv` header of `data`; the walk starts after it.
    pub fn new(data: &'a [u8], limits: &'a LoadLimits) -> Result<Records<'a>, RdbError> {
        let mut r = Reader::new(data);
        let magic = r.take(9)?;
        if &magic[..5] != b"REDIS" {
            return Err(RdbError {
                offset: 9,
                kind: RdbErrorKind::Corrupt,
                // COMPAT: rdbLoad's text.
                reason: "Wrong signature trying to load DB from file".into(),
            });
        }
        let digits = &magic[5..];
        let version = std::str::from_utf8(digits).ok().and_then(|v| v.parse::<u16>().ok()).unwrap_or(0);
        if !(1..=RDB_VERSION).contains(&version) {
            return Err(RdbError {
                offset: 9,
                kind: RdbErrorKind::Corrupt,
                // COMPAT: rdbLoad's text.
                reason: format!("Can't handle RDB format version {version}"),
            });
        }
        Ok(Records {
            data,
            r,
            limits,
            version,
            db: 0,
            step: Step::Start,
            key: None,
            key_type: None,
            bad_type: None,
            finished: false,
            crc_before: 0,
        })
    }

    /// Continues a walk whose first part was already read: `data` starts
    /// on a record boundary of a file of `version`, database `db` is the
    /// one selected so far and `crc_before` is the CRC-64 of every byte
    /// before `data` (so [`Record::End`] still carries the whole file's
    /// checksum). For a file arriving piece by piece (a replica loading
    /// from its master's socket).
    pub fn resume(data: &'a [u8], limits: &'a LoadLimits, version: u16, db: u64, crc_before: u64) -> Records<'a> {
        Records {
            data,
            r: Reader::new(data),
            limits,
            version,
            db,
            step: Step::ReadType,
            key: None,
            key_type: None,
            bad_type: None,
            finished: false,
            crc_before,
        }
    }

    /// The file's RDB version.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> usize {
        self.r.pos()
    }

    /// What the walk was doing last.
    pub fn step(&self) -> Step {
        self.step
    }

    /// The key being read, while its value is read (or failed).
    pub fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }

    /// The object type being read, from its type byte until its value is done.
    pub fn key_type(&self) -> Option<u8> {
        self.key_type
    }

    /// The byte that stopped the walk for being neither an opcode nor an
    /// object type.
    pub fn bad_type(&self) -> Option<u8> {
        self.bad_type
    }

    /// The next record; None after [`Record::End`].
    pub fn next_record(&mut self) -> Result<Option<Record>, RdbError> {
        if self.finished {
            return Ok(None);
        }
        let (mut expire, mut idle, mut freq): (Option<i64>, Option<u64>, Option<u8>) = (None, None, None);
        loop {
            self.step = Step::ReadType;
            let t = self.r.byte()?;
            match t {
                OP_EXPIRETIME => {
                    self.step = Step::ReadExpire;
                    expire = Some(self.r.secs()? as i64 * 1000);
                }
                OP_EXPIRETIME_MS => {
                    self.step = Step::ReadExpire;
                    expire = Some(self.r.millis()?);
                }
                OP_FREQ => freq = Some(self.r.byte()?),
                OP_IDLE => idle = Some(self.r.length()?),
                OP_EOF => {
                    self.finished = true;
                    if self.version < 5 {
                        return Ok(Some(Record::End { checksum: None }));
                    }
                    self.step = Step::CheckSum;
                    let end = self.r.pos();
                    let s = self.r.take(8)?;
                    let stored = u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]);
                    let computed = crc64(self.crc_before, &self.data[..end]);
                    return Ok(Some(Record::End { checksum: Some((stored, computed)) }));
                }
                OP_SELECTDB => {
                    self.step = Step::ReadLen;
                    self.db = self.r.length()?;
                    return Ok(Some(Record::SelectDb(self.db)));
                }
                OP_RESIZEDB => {
                    self.step = Step::ReadLen;
                    let keys = self.r.length()?;
                    let expires = self.r.length()?;
                    return Ok(Some(Record::ResizeDb { keys, expires }));
                }
                OP_AUX => {
                    self.step = Step::ReadAux;
                    let k = self.r.bytes()?.into_owned();
                    let v = self.r.bytes()?.into_owned();
                    return Ok(Some(Record::Aux(k, v)));
                }
                OP_MODULE_AUX => {
                    self.step = Step::ReadModuleAux;
                    return Err(self.r.corrupt("The RDB file contains AUX module data I can't load"));
                }
                OP_FUNCTION2 => {
                    self.step = Step::ReadFunctions;
                    return Ok(Some(Record::Function(self.r.bytes()?.into_owned())));
                }
                OP_FUNCTION => {
                    self.step = Step::ReadFunctions;
                    return Err(self.r.corrupt("Pre-release function format not supported."));
                }
                t if is_object_type(t) => {
                    self.key_type = Some(t);
                    self.step = Step::ReadKey;
                    let key = self.r.bytes()?.into_owned();
                    self.key = Some(key);
                    self.step = Step::ReadObjectValue;
                    let value = match super::decode::read_object(&mut self.r, t, self.limits) {
                        Err(e) if e.kind != RdbErrorKind::EmptyKey => return Err(e),
                        done => done,
                    };
                    let key = self.key.take().unwrap_or_default();
                    self.key_type = None;
                    return Ok(Some(Record::Key {
                        db: self.db,
                        key,
                        rdb_type: t,
                        value,
                        expire_at_ms: expire,
                        idle_secs: idle,
                        freq,
                    }));
                }
                other => {
                    self.bad_type = Some(other);
                    // COMPAT: rdbLoadObject's text.
                    return Err(self.r.corrupt(format!("Unknown RDB encoding type {other}")));
                }
            }
        }
    }
}

/// Reads a whole RDB file, calling `on_key` for every key (in file order)
/// that is neither empty nor expired. Stops at the first error, which
/// carries the byte offset; `on_key` may stop the load with its own error.
pub fn read_rdb(
    input: &mut impl Read,
    limits: &LoadLimits,
    opts: LoadOptions,
    on_key: impl FnMut(LoadedKey) -> Result<(), RdbError>,
) -> Result<RdbInfo, RdbError> {
    read_rdb_sized(input, limits, opts, |_, _, _| {}, on_key)
}

/// Folds one record of a load into `info`: AUX fields and functions are
/// kept, SELECTDB is checked against `opts.databases` and becomes `db`,
/// RESIZEDB goes to `on_resize` (capped at `most_keys`), keys that are
/// neither empty nor expired go to `on_key`, and the checksum is verified.
/// `at` is the offset just past the record (for error reports). Shared by
/// [`read_rdb_sized`] and loaders that receive a file piece by piece.
#[allow(clippy::too_many_arguments)]
pub fn take_record(
    rec: Record,
    at: usize,
    most_keys: u64,
    db: &mut usize,
    info: &mut RdbInfo,
    opts: &LoadOptions,
    on_resize: &mut impl FnMut(usize, u64, u64),
    on_key: &mut impl FnMut(LoadedKey) -> Result<(), RdbError>,
) -> Result<(), RdbError> {
    match rec {
        Record::Aux(k, v) => info.aux.push((k, v)),
        Record::ResizeDb { keys, expires } => on_resize(*db, keys.min(most_keys), expires.min(most_keys)),
        Record::Function(src) => info.functions.push(src),
        Record::SelectDb(n) => {
            if n >= opts.databases as u64 {
                return Err(RdbError {
                    offset: at,
                    kind: RdbErrorKind::Corrupt,
                    // COMPAT: rdbLoad's text.
                    reason: format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting\n",
                        opts.databases
                    ),
                });
            }
            *db = n as usize;
        }
        Record::Key { key, value: Err(_), .. } => {
            if info.empty_keys_skipped < 10 {
                // COMPAT: Redis's warning for each of the first ten.
                log::warn!("rdbLoadObject skipping empty key: {}", String::from_utf8_lossy(&key));
            }
            info.empty_keys_skipped += 1;
        }
        Record::Key { key, value: Ok(value), expire_at_ms, idle_secs, freq, .. } => {
            let expired = matches!((expire_at_ms, opts.skip_expired_before_ms), (Some(at), Some(now)) if at < now);
            if expired {
                info.keys_expired += 1;
                info.expired_keys.push((*db, key));
            } else {
                info.keys_loaded += 1;
                on_key(LoadedKey { db: *db, key, value, expire_at_ms, idle_secs, freq })?;
            }
        }
        Record::End { checksum } => {
            let Some((stored, expected)) = checksum else { return Ok(()) };
            info.checksummed = stored != 0;
            if opts.verify_checksum && stored != 0 && expected != stored {
                return Err(RdbError {
                    offset: at,
                    kind: RdbErrorKind::Checksum,
                    // COMPAT: the text Redis logs before aborting.
                    reason: format!("Wrong RDB checksum expected: ({expected:x}) but got ({stored:x}). Aborting now."),
                });
            }
        }
    }
    Ok(())
}

/// [`read_rdb`], also handing each RESIZEDB hint to `on_resize(db, keys,
/// expires)` before that database's keys (capped by what the file could
/// hold), so the caller can size its tables once instead of growing them
/// key by key.
pub fn read_rdb_sized(
    input: &mut impl Read,
    limits: &LoadLimits,
    opts: LoadOptions,
    mut on_resize: impl FnMut(usize, u64, u64),
    mut on_key: impl FnMut(LoadedKey) -> Result<(), RdbError>,
) -> Result<RdbInfo, RdbError> {
    let mut data = Vec::new();
    input.read_to_end(&mut data)?;
    let mut records = Records::new(&data, limits)?;
    let mut info = RdbInfo { version: records.version(), ..RdbInfo::default() };
    let mut db = 0usize;
    // A key takes at least 3 bytes of the file: a RESIZEDB hint beyond
    // that is a lie (a hostile file must not make us reserve terabytes).
    let most_keys = data.len() as u64 / 3;
    while let Some(rec) = records.next_record()? {
        let at = records.offset();
        take_record(rec, at, most_keys, &mut db, &mut info, &opts, &mut on_resize, &mut on_key)?;
    }
    info.end_offset = records.offset();
    Ok(info)
}
