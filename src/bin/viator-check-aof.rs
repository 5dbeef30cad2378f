//! `viator-check-aof`: checks (and with `--fix` or `--truncate-to-timestamp`
//! repairs) an AOF, as Redis 7.0's redis-check-aof does, so the Tcl suite can
//! use it as its `src/redis-check-aof`.
//!
//! Accepts a manifest (checks the BASE, then every INCR file, in the
//! manifest's directory), an old single-file AOF, or one starting with an
//! RDB preamble. Output lines and exit codes are Redis's (0 valid or
//! repaired, 1 otherwise); only the last file may be truncated. It reads
//! files but never loads a dataset; the RDB preamble goes through the
//! crate's RDB reader, the manifest through the server's parser.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::exit;

use viator::persist::aof::manifest::Manifest;
use viator::util::num::c_strtol;

/// How checking one file ended (Redis's AOF_CHECK_* codes).
#[derive(PartialEq)]
enum Checked {
    Ok,
    Empty,
    Truncated,
    TimestampTruncated,
}

/// State shared across files, as the C tool keeps it in globals.
struct Checker {
    /// Line counter (advanced by every CRLF consumed).
    line: u64,
    /// The first error found, already formatted.
    error: String,
    /// Offset the error refers to.
    epos: usize,
    /// `--truncate-to-timestamp`, 0 when not given.
    to_timestamp: i64,
    /// `--fix`.
    fix: bool,
}

/// fgets with a buffer of `cap` bytes: at most cap-1 bytes, through '\n'.
fn fgets<'a>(data: &'a [u8], pos: &mut usize, cap: usize) -> Option<&'a [u8]> {
    let rest = &data[*pos..];
    if rest.is_empty() {
        return None;
    }
    let window = &rest[..rest.len().min(cap - 1)];
    let n = window.iter().position(|&b| b == b'\n').map_or(window.len(), |p| p + 1);
    *pos += n;
    Some(&rest[..n])
}

impl Checker {
    fn set_error(&mut self, msg: String) {
        self.error = format!("0x{:>16x}: {msg}", self.epos);
    }

    fn consume_newline(&mut self, b: &[u8]) -> bool {
        if b.len() < 2 || &b[..2] != b"\r\n" {
            let (x, y) = (b.first().copied().unwrap_or(0), b.get(1).copied().unwrap_or(0));
            self.set_error(format!("Expected \\r\\n, got: {x:02x}{y:02x}"));
            return false;
        }
        self.line += 1;
        true
    }

    fn read_long(&mut self, data: &[u8], pos: &mut usize, prefix: u8) -> Option<i64> {
        self.epos = *pos;
        let buf = fgets(data, pos, 128)?;
        if buf[0] != prefix {
            self.set_error(format!("Expected prefix '{}', got: '{}'", prefix as char, buf[0] as char));
            return None;
        }
        let (v, end) = c_strtol(&buf[1..]);
        self.consume_newline(&buf[1 + end..]).then_some(v)
    }

    fn read_string(&mut self, data: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
        let len = self.read_long(data, pos, b'$')?;
        if !(0..=i64::MAX - 2).contains(&len) {
            self.set_error(format!("Expected to read string of {len} bytes, which is not in the suitable range"));
            return None;
        }
        let want = len as u64 + 2;
        self.epos = *pos;
        let have = (data.len() - *pos) as u64;
        if have < want {
            self.set_error(format!("Expected to read {want} bytes, got {have} bytes"));
            *pos = data.len();
            return None;
        }
        let s = &data[*pos..*pos + want as usize];
        *pos += want as usize;
        self.consume_newline(&s[s.len() - 2..]).then(|| s[..s.len() - 2].to_vec())
    }

    fn process_resp(&mut self, data: &[u8], pos: &mut usize, filename: &str, multi: &mut i32) -> bool {
        let Some(argc) = self.read_long(data, pos, b'*') else { return false };
        for i in 0..argc.max(0) {
            let Some(s) = self.read_string(data, pos) else { return false };
            if i == 0 {
                if s.eq_ignore_ascii_case(b"multi") {
                    *multi += 1;
                    if *multi > 1 {
                        self.set_error(format!("Unexpected MULTI in AOF {filename}"));
                        return false;
                    }
                } else if s.eq_ignore_ascii_case(b"exec") {
                    *multi -= 1;
                    if *multi != 0 {
                        self.set_error(format!("Unexpected EXEC in AOF {filename}"));
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Handles an annotation line; false when it truncated the file at a
    /// timestamp past `--truncate-to-timestamp`.
    fn process_annotation(&mut self, data: &[u8], pos: &mut usize, path: &Path, filename: &str, last: bool) -> bool {
        self.epos = *pos;
        let Some(buf) = fgets(data, pos, 1024) else {
            println!("Failed to read annotations from AOF {filename}, aborting...");
            exit(1);
        };
        if self.to_timestamp == 0 || !buf.starts_with(b"#TS:") {
            return true;
        }
        let (ts, end) = c_strtol(&buf[4..]);
        if buf.get(4 + end) != Some(&b'\r') {
            println!("Invalid timestamp annotation");
            exit(1);
        }
        if ts <= self.to_timestamp {
            return true;
        }
        if self.epos == 0 {
            println!("AOF {filename} has nothing before timestamp {}, aborting...", self.to_timestamp);
            exit(1);
        }
        if !last {
            println!(
                "Failed to truncate AOF {filename} to timestamp {} to offset {} because it is not the last file.",
                self.to_timestamp, self.epos
            );
            println!("If you insist, please delete all files after this file according to the manifest file and delete the corresponding records in manifest file manually. Then re-run redis-check-aof.");
            exit(1);
        }
        if truncate(path, self.epos).is_err() {
            println!("Failed to truncate AOF {filename} to timestamp {}", self.to_timestamp);
            exit(1);
        }
        false
    }

    fn check_file(&mut self, filename: &str, path: &Path, last: bool, preamble: bool) -> Checked {
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) => {
                println!("Cannot open file {}: {}, aborting...", path.display(), strerror(&e));
                exit(1);
            }
        };
        if data.is_empty() {
            return Checked::Empty;
        }
        let mut pos = 0usize;
        if preamble {
            match check_rdb(filename, &data) {
                Some(end) => {
                    pos = end;
                    println!("RDB preamble is OK, proceeding with AOF tail...");
                }
                None => {
                    println!("RDB preamble of AOF file is not sane, aborting.");
                    exit(1);
                }
            }
        }
        let mut ok_pos = pos;
        let mut multi = 0;
        let mut at_eof = false;
        loop {
            if multi == 0 {
                ok_pos = pos;
            }
            let Some(&c) = data.get(pos) else {
                at_eof = true;
                break;
            };
            if c == b'#' {
                if !self.process_annotation(&data, &mut pos, path, &path.display().to_string(), last) {
                    return Checked::TimestampTruncated;
                }
            } else if c == b'*' {
                if !self.process_resp(&data, &mut pos, &path.display().to_string(), &mut multi) {
                    at_eof = pos >= data.len();
                    break;
                }
            } else {
                println!("AOF {filename} format error");
                break;
            }
        }
        if at_eof && multi != 0 && self.error.is_empty() {
            self.epos = pos;
            self.set_error("Reached EOF before reading EXEC for MULTI".into());
        }
        if !self.error.is_empty() {
            println!("{}", self.error);
        }
        let size = data.len();
        let diff = size - ok_pos;
        if diff == 0 && self.to_timestamp != 0 {
            println!("Truncate nothing in AOF {filename} to timestamp {}", self.to_timestamp);
            return Checked::Ok;
        }
        println!(
            "AOF analyzed: filename={filename}, size={size}, ok_up_to={ok_pos}, ok_up_to_line={}, diff={diff}",
            self.line
        );
        if diff == 0 {
            return Checked::Ok;
        }
        if !self.fix {
            println!("AOF {filename} is not valid. Use the --fix option to try fixing it.");
            exit(1);
        }
        if !last {
            println!("Failed to truncate AOF {filename} because it is not the last file");
            exit(1);
        }
        println!("This will shrink the AOF {filename} from {size} bytes, with {diff} bytes, to {ok_pos} bytes");
        print!("Continue? [y/N]: ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !answer.starts_with(['y', 'Y']) {
            println!("Aborting...");
            exit(1);
        }
        if truncate(path, ok_pos).is_err() {
            println!("Failed to truncate AOF {filename}");
            exit(1);
        }
        Checked::Truncated
    }
}

fn truncate(path: &Path, len: usize) -> std::io::Result<()> {
    std::fs::OpenOptions::new().write(true).open(path)?.set_len(len as u64)
}

fn strerror(e: &std::io::Error) -> String {
    e.to_string().split(" (os error").next().unwrap_or("").to_string()
}

/// Checks the RDB image at the start of `data`; the offset just past it.
fn check_rdb(name: &str, data: &[u8]) -> Option<usize> {
    println!("[offset 0] Checking RDB file {name}");
    let cfg = viator::config::Config::default();
    let limits = viator::rdb::LoadLimits::from_config(&cfg, 8 * 1024);
    let opts = viator::rdb::LoadOptions { databases: usize::MAX, skip_expired_before_ms: None, verify_checksum: true };
    match viator::rdb::read_rdb(&mut &data[..], &limits, opts, |_| Ok(())) {
        Ok(info) => {
            println!("[offset {}] \\o/ RDB looks OK! \\o/", info.end_offset);
            Some(info.end_offset)
        }
        Err(e) => {
            println!("--- RDB ERROR DETECTED ---");
            println!("[offset {}] {}", e.offset, e.reason);
            None
        }
    }
}

fn file_is_rdb(path: &Path) -> bool {
    let data = read_or_exit(path);
    data.len() >= 8 && data.starts_with(b"REDIS")
}

fn file_is_manifest(path: &Path) -> bool {
    let data = read_or_exit(path);
    let mut pos = 0;
    let mut found = false;
    while let Some(line) = fgets(&data, &mut pos, viator::persist::aof::manifest::MAX_LINE + 1) {
        if line[0] != b'#' && line.starts_with(b"file") {
            found = true;
        }
    }
    found
}

fn read_or_exit(path: &Path) -> Vec<u8> {
    match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            println!("Cannot open file {}: {}", path.display(), strerror(&e));
            exit(1);
        }
    }
}

fn report(ck: &Checker, what: &str, name: &str, r: Checked) {
    match r {
        Checked::Ok => println!("{what}{name} is valid"),
        Checked::Empty => println!("{what}{name} is empty"),
        Checked::TimestampTruncated => println!("Successfully truncated AOF {name} to timestamp {}", ck.to_timestamp),
        Checked::Truncated => println!("Successfully truncated AOF {name}"),
    }
}

fn check_multi_part(ck: &mut Checker, dir: &Path, manifest_path: &Path) {
    println!("Start checking Multi Part AOF");
    let m = match Manifest::parse(&read_or_exit(manifest_path)) {
        Ok(m) => m,
        Err(e) => {
            for l in e.log_lines() {
                println!("{l}");
            }
            exit(1);
        }
    };
    let total = m.base.iter().count() + m.incr.len();
    let mut n = 0;
    if let Some(base) = &m.base {
        let path = dir.join(&base.name);
        n += 1;
        let preamble = file_is_rdb(&path);
        println!("Start to check BASE AOF ({} format).", if preamble { "RDB" } else { "RESP" });
        let r = ck.check_file(&base.name, &path, n == total, preamble);
        report(ck, "BASE AOF ", &base.name, r);
    }
    if !m.incr.is_empty() {
        println!("Start to check INCR files.");
        for p in &m.incr {
            n += 1;
            let r = ck.check_file(&p.name, &dir.join(&p.name), n == total, false);
            report(ck, "INCR AOF ", &p.name, r);
        }
    }
    println!("All AOF files and manifest are valid");
}

fn usage(argv0: &str) -> ! {
    println!("Usage: {argv0} [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>");
    exit(1);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let argv0 = args.first().map_or("viator-check-aof", String::as_str);
    let mut ck = Checker { line: 1, error: String::new(), epos: 0, to_timestamp: 0, fix: false };
    let file = match args.len() {
        2 => args[1].clone(),
        3 if args[1] == "--fix" => {
            ck.fix = true;
            args[2].clone()
        }
        4 if args[1] == "--truncate-to-timestamp" => {
            match args[2].parse::<i64>() {
                Ok(t) => ck.to_timestamp = t,
                Err(_) => {
                    println!("Invalid timestamp, aborting...");
                    exit(1);
                }
            }
            args[3].clone()
        }
        _ => usage(argv0),
    };
    let path = PathBuf::from(&file);
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    if file_is_manifest(&path) {
        check_multi_part(&mut ck, &dir, &path);
    } else {
        let preamble = file_is_rdb(&path);
        println!("Start checking Old-Style AOF");
        let r = ck.check_file(&file, &path, true, preamble);
        report(&ck, "AOF ", &file, r);
    }
    exit(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker() -> Checker {
        Checker { line: 1, error: String::new(), epos: 0, to_timestamp: 0, fix: false }
    }

    #[test]
    fn counts_lines_and_reports_the_bad_offset() {
        let data = b"*3\r\n$3\r\nset\r\n$3\r\nfoo\r\n$5\r\nhello\r\n!!!";
        let mut ck = checker();
        let mut pos = 0;
        let mut multi = 0;
        assert!(ck.process_resp(data, &mut pos, "f", &mut multi));
        assert_eq!(ck.line, 8);
        assert!(!ck.process_resp(b"*1\r\n$9\r\nab", &mut 0, "f", &mut multi));
        assert_eq!(ck.error, "0x               8: Expected to read 11 bytes, got 2 bytes");
    }

    #[test]
    fn fuzzed_input_never_panics() {
        let mut rng = viator::util::rand::Rng::with_seed(0x1234_5678_9abc_def1);
        let mut next = || rng.next_u64();
        let pieces: [&[u8]; 7] = [b"*", b"$", b"\r\n", b"2", b"-5", b"multi", b"exec"];
        for _ in 0..20000 {
            let mut data = Vec::new();
            for _ in 0..(next() % 30) {
                match next() % 3 {
                    0 => data.push(next() as u8),
                    _ => data.extend_from_slice(pieces[(next() % 7) as usize]),
                }
            }
            let mut ck = checker();
            let (mut pos, mut multi) = (0, 0);
            while pos < data.len() && data[pos] == b'*' && ck.process_resp(&data, &mut pos, "f", &mut multi) {}
        }
    }
}
