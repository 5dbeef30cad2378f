//! The RDB file checker behind `viator-check-rdb` (and `viator-server`
//! started under a name containing `redis-check-rdb`): walks a whole file
//! with full validation of every value and prints redis-check-rdb 7.0's
//! report, line for line: the `[offset N] ...` progress lines (AUX fields,
//! SELECTDB, checksum), then `\o/ RDB looks OK! \o/` and the `[info]`
//! totals, or the `--- RDB ERROR DETECTED ---` block naming the offset, the
//! reason, the step, the key and its type.
//!
//! Owns the report only: the walk is [`Records`], the value checks are the
//! decoder's. It never touches a keyspace; the clock reading ("already
//! expired") and the output sink are the caller's.

use std::io::{self, Write};

use super::file::{Record, Records, Step};
use super::{LoadLimits, RdbError, RdbErrorKind};

/// Names of the object types, indexed by type byte, as redis-check-rdb
/// prints them (its table stops at quicklist-v2, so stream-v2 and later
/// print as "unknown").
// COMPAT: redis-check-rdb's rdb_type_string table.
const TYPE_NAMES: [&str; 19] = [
    "string",
    "list-linked",
    "set-hashtable",
    "zset-v1",
    "hash-hashtable",
    "zset-v2",
    "module-value",
    "",
    "",
    "hash-zipmap",
    "list-ziplist",
    "set-intset",
    "zset-ziplist",
    "hash-ziplist",
    "quicklist",
    "stream",
    "hash-listpack",
    "zset-listpack",
    "quicklist-v2",
];

/// Counters printed as `[info]` lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct CheckStats {
    /// Keys whose name was read (the failing one included).
    keys: u64,
    /// Keys with an expire time.
    expires: u64,
    /// Keys whose expire time is before "now".
    already_expired: u64,
}

/// Bytes as redis-check-rdb prints a C string: up to the first NUL.
fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn info_lines(out: &mut impl Write, st: &CheckStats) -> io::Result<()> {
    // COMPAT: rdbShowGenericInfo's lines.
    writeln!(out, "[info] {} keys read", st.keys)?;
    writeln!(out, "[info] {} expires", st.expires)?;
    writeln!(out, "[info] {} already expired", st.already_expired)
}

/// What stopped a check, with where the walk was.
struct Failure {
    offset: usize,
    message: String,
    step: Step,
    key: Option<Vec<u8>>,
    key_type: Option<u8>,
}

fn error_block(out: &mut impl Write, f: &Failure, st: &CheckStats) -> io::Result<()> {
    // COMPAT: rdbCheckError's block.
    writeln!(out, "--- RDB ERROR DETECTED ---")?;
    writeln!(out, "[offset {}] {}", f.offset, f.message)?;
    writeln!(out, "[additional info] While doing: {}", f.step.name())?;
    if let Some(k) = &f.key {
        writeln!(out, "[additional info] Reading key '{}'", c_str(k))?;
    }
    if let Some(t) = f.key_type {
        let name = TYPE_NAMES.get(t as usize).copied().unwrap_or("unknown");
        writeln!(out, "[additional info] Reading type {t} ({name})")?;
    }
    info_lines(out, st)
}

/// COMPAT: redis-check-rdb's text when a read comes up short (also for an
/// empty collection, which its loader reports the same way).
const UNEXPECTED_EOF: &str = "Unexpected EOF reading RDB file";

/// The message redis-check-rdb gives for a walk error: short reads are
/// "Unexpected EOF", corruption is the loader's own line.
fn message_of(e: &RdbError, bad_type: Option<u8>) -> String {
    if let Some(t) = bad_type {
        // COMPAT: redis-check-rdb's text for a byte that is no opcode or type.
        return format!("Invalid object type: {t}");
    }
    match e.kind {
        RdbErrorKind::Truncated | RdbErrorKind::Io | RdbErrorKind::EmptyKey => UNEXPECTED_EOF.to_string(),
        RdbErrorKind::Corrupt | RdbErrorKind::Checksum => e.to_string(),
    }
}

/// Checks the RDB file at `path`, writing redis-check-rdb's whole report
/// (from its `Checking RDB file` line) to `out`. `now_ms` decides which
/// expire times count as already expired. Returns whether the file looks
/// OK; an unreadable file is not OK, and only a failing `out` gives an
/// I/O error.
pub fn check_rdb_file(path: &str, now_ms: i64, out: &mut impl Write) -> io::Result<bool> {
    writeln!(out, "[offset 0] Checking RDB file {path}")?;
    // Redis reports nothing more when the file cannot be opened.
    match std::fs::read(path) {
        Ok(data) => check_rdb(&data, now_ms, out),
        Err(_) => Ok(false),
    }
}

/// Checks the RDB file contents `data` and writes the rest of
/// redis-check-rdb's report (after its `Checking` line) to `out`. Returns
/// whether the file looks OK; only a failing `out` gives an I/O error.
pub fn check_rdb(data: &[u8], now_ms: i64, out: &mut impl Write) -> io::Result<bool> {
    let limits = LoadLimits::default();
    let mut st = CheckStats::default();
    // Redis's checker starts with type 0 on record and forgets the type
    // only once a key is fully read, so early errors name "type 0 (string)".
    let mut last_type = Some(0u8);
    let mut records = match Records::new(data, &limits) {
        Ok(r) => r,
        Err(e) => {
            let message = if e.kind == RdbErrorKind::Truncated { UNEXPECTED_EOF.to_string() } else { e.reason };
            let f = Failure { offset: e.offset, message, step: Step::Start, key: None, key_type: last_type };
            error_block(out, &f, &st)?;
            return Ok(false);
        }
    };
    loop {
        let rec = match records.next_record() {
            Ok(Some(rec)) => rec,
            Ok(None) => break,
            Err(e) => {
                // A key whose name was read counts, as in Redis.
                st.keys += u64::from(records.key().is_some());
                let f = Failure {
                    offset: e.offset,
                    message: message_of(&e, records.bad_type()),
                    step: records.step(),
                    key: records.key().map(<[u8]>::to_vec),
                    key_type: records.key_type().or(last_type),
                };
                error_block(out, &f, &st)?;
                if e.kind == RdbErrorKind::Corrupt && records.bad_type().is_none() {
                    // Redis's loader logs this after reporting corruption, in
                    // its log line format, to stdout in check mode.
                    let now = crate::logging::timestamp(now_ms);
                    // COMPAT: rdbReportError's last log line.
                    writeln!(
                        out,
                        "{}:C {now} # Terminating server after rdb file reading failure.",
                        std::process::id()
                    )?;
                }
                return Ok(false);
            }
        };
        let at = records.offset();
        match rec {
            // COMPAT: redis-check-rdb's progress lines.
            Record::Aux(k, v) => writeln!(out, "[offset {at}] AUX FIELD {} = '{}'", c_str(&k), c_str(&v))?,
            Record::SelectDb(n) => writeln!(out, "[offset {at}] Selecting DB ID {n}")?,
            Record::Function(_) | Record::ResizeDb { .. } => {}
            Record::Key { key, rdb_type, value, expire_at_ms, .. } => {
                st.keys += 1;
                last_type = None;
                if value.is_err() {
                    // Redis's checker takes an empty collection for a short read.
                    let f = Failure {
                        offset: at,
                        message: UNEXPECTED_EOF.to_string(),
                        step: Step::ReadObjectValue,
                        key: Some(key),
                        key_type: Some(rdb_type),
                    };
                    error_block(out, &f, &st)?;
                    return Ok(false);
                }
                if let Some(t) = expire_at_ms {
                    st.expires += 1;
                    st.already_expired += u64::from(t < now_ms);
                }
            }
            Record::End { checksum: None } => {}
            Record::End { checksum: Some((stored, computed)) } => {
                if stored == 0 {
                    writeln!(out, "[offset {at}] RDB file was saved with checksum disabled: no check performed.")?;
                } else if stored != computed {
                    let f = Failure {
                        offset: at,
                        message: "RDB CRC error".to_string(),
                        step: Step::CheckSum,
                        key: None,
                        key_type: last_type,
                    };
                    error_block(out, &f, &st)?;
                    return Ok(false);
                } else {
                    writeln!(out, "[offset {at}] Checksum OK")?;
                }
            }
        }
    }
    writeln!(out, "[offset {}] \\o/ RDB looks OK! \\o/", records.offset())?;
    info_lines(out, &st)?;
    Ok(true)
}

/// redis-check-rdb's command line: `<prog> <rdb-file>` (or `-v` /
/// `--version`). Prints the report on stdout (usage on stderr) and returns
/// the exit status: 0 when the file looks OK, 1 otherwise.
pub fn main(args: &[String]) -> i32 {
    let prog = args.first().map_or("viator-check-rdb", String::as_str);
    if args.len() != 2 {
        // COMPAT: redis-check-rdb's usage line.
        eprintln!("Usage: {prog} <rdb-file-name>");
        return 1;
    }
    let name = &args[1];
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if name == "-v" || name == "--version" {
        // COMPAT: the version line redis-check-rdb prints.
        let _ = writeln!(out, "redis-check-rdb {}", crate::REDIS_VERSION);
        return 0;
    }
    match check_rdb_file(name, crate::util::clock::unix_ms(), &mut out) {
        Ok(true) => 0,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;

    fn report(data: &[u8]) -> (bool, String) {
        let mut out = Vec::new();
        let ok = check_rdb(data, 0, &mut out).unwrap();
        (ok, String::from_utf8(out).unwrap())
    }

    #[test]
    fn a_file_from_redis_reads_as_redis_check_rdb_reads_it() {
        let data = include_bytes!("testdata/redis-7.0.15.rdb");
        let (ok, out) = report(data);
        assert!(ok, "{out}");
        assert!(out.starts_with("[offset 27] AUX FIELD redis-ver = '7.0.15'\n"), "{out}");
        assert!(out.contains("] Selecting DB ID 3\n"), "{out}");
        let n = data.len();
        assert!(out.contains(&format!("[offset {n}] Checksum OK\n[offset {n}] \\o/ RDB looks OK! \\o/\n")), "{out}");
        assert!(out.ends_with("[info] 15 keys read\n[info] 1 expires\n[info] 0 already expired\n"), "{out}");
    }

    #[test]
    fn errors_name_the_step_key_and_type() {
        let data = include_bytes!("testdata/redis-7.0.15.rdb");
        // A zeroed checksum is not checked.
        let mut nocrc = data.to_vec();
        let n = nocrc.len();
        nocrc[n - 8..].fill(0);
        let (ok, out) = report(&nocrc);
        assert!(ok && out.contains("RDB file was saved with checksum disabled: no check performed.\n"), "{out}");
        // A wrong one is an error at the end.
        nocrc[n - 1] = 1;
        let (ok, out) = report(&nocrc);
        assert!(!ok);
        assert!(out.contains(&format!("--- RDB ERROR DETECTED ---\n[offset {n}] RDB CRC error\n")), "{out}");
        // Not an opcode nor a type, right after the header.
        let mut bad = data[..9].to_vec();
        bad.push(100);
        let (ok, out) = report(&bad);
        assert!(!ok);
        let want = "[offset 10] Invalid object type: 100\n[additional info] While doing: read-type\n\
                    [additional info] Reading type 0 (string)\n[info] 0 keys read\n";
        assert!(out.contains(want), "{out}");
        // An empty set reads as a short read of that key.
        let mut empty = data[..9].to_vec();
        empty.extend_from_slice(b"\x02\x01k\x00\xff");
        let (ok, out) = report(&empty);
        assert!(!ok);
        assert!(out.contains("Unexpected EOF reading RDB file\n"), "{out}");
        assert!(out.contains("[additional info] Reading key 'k'\n[additional info] Reading type 2 (set-hashtable)\n"));
        // Corruption inside a value carries the loader's reason.
        let mut zset = data[..9].to_vec();
        zset.extend_from_slice(b"\x03\x01z\x01\x01m\xfd\xff");
        let (_, out) = report(&zset);
        assert!(out.contains("-> Zset with NAN score detected\n"), "{out}");
        assert!(out.contains("Terminating server after rdb file reading failure."), "{out}");
    }

    /// Seeded xorshift fuzz: random bytes after a valid header, and a real
    /// file with random damage, never panic the checker.
    #[test]
    fn random_files_never_panic() {
        let data = include_bytes!("testdata/redis-7.0.15.rdb");
        let mut rng = Rng::with_seed(0x0C4E_C4DB);
        for round in 0..3000 {
            let mut f = if round % 2 == 0 { b"REDIS0010".to_vec() } else { data.to_vec() };
            if round % 2 == 0 {
                for _ in 0..rng.below(200) {
                    f.push(rng.next_u64() as u8);
                }
            } else {
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(f.len() as u64) as usize;
                    f[i] = rng.next_u64() as u8;
                }
                f.truncate(rng.below(f.len() as u64 + 1) as usize);
            }
            let _ = report(&f);
        }
    }
}
