//! The AOF manifest: which files of `appenddirname` make up the dataset.
//!
//! Owns the in-memory list (one BASE, HISTORY files, ordered INCR files),
//! the file names Redis 7.0 gives new parts (`<appendfilename>.<seq>.base.rdb`
//! or `.base.aof`, `<appendfilename>.<seq>.incr.aof`), the text form (one
//! `file <name> seq <n> type <b|h|i>` line per part, names quoted the way
//! `sdscatrepr` quotes them when they need it), the strict parser with
//! Redis's error texts, and the atomic write (temp file, fsync, rename,
//! fsync of the directory). It never touches the data files themselves.
//!
//! Mirrors aof.c's aofInfoFormat, getAofManifestAsString,
//! aofLoadManifestFromFile and writeAofManifestFile.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use crate::util::num::c_strtol;

/// Longest manifest line Redis reads (MANIFEST_MAX_LINE).
pub const MAX_LINE: usize = 1024;

/// What a part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The snapshot of the last rewrite (`b`).
    Base,
    /// A part replaced by a rewrite, to be deleted (`h`).
    History,
    /// Commands since the rewrite (`i`).
    Incr,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Base => 'b',
            Kind::History => 'h',
            Kind::Incr => 'i',
        }
    }
}

/// One line of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// File name inside the AOF directory.
    pub name: String,
    /// Sequence number.
    pub seq: i64,
    /// Its role.
    pub kind: Kind,
}

/// The parsed manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The BASE part, if any.
    pub base: Option<Part>,
    /// Parts waiting for deletion, newest first as Redis keeps them.
    pub history: Vec<Part>,
    /// INCR parts in load order.
    pub incr: Vec<Part>,
    /// Sequence of the current BASE (the next one gets this plus one).
    pub base_seq: i64,
    /// Sequence of the last INCR.
    pub incr_seq: i64,
    /// Changed since it was last written.
    pub dirty: bool,
}

/// A manifest that cannot be used, with Redis's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// 1-based line number and its trimmed text, when a line is at fault.
    pub line: Option<(usize, String)>,
    /// The reason, worded as Redis words it.
    pub reason: &'static str,
}

impl ManifestError {
    /// The log lines Redis prints before exiting on a bad manifest.
    pub fn log_lines(&self) -> Vec<String> {
        // COMPAT: aofLoadManifestFromFile's fatal report.
        let mut out = vec!["\n*** FATAL AOF MANIFEST FILE ERROR ***\n".to_string()];
        if let Some((n, text)) = &self.line {
            out.push(format!("Reading the manifest file, at line {n}\n"));
            out.push(format!(">>> '{text}'\n"));
        }
        out.push(format!("{}\n", self.reason));
        out
    }
}

/// The manifest's file name for `appendfilename`.
pub fn manifest_name(filename: &str) -> String {
    format!("{filename}.manifest")
}

/// Name of the temporary INCR file that collects writes while AOF waits
/// for its first rewrite (CONFIG SET appendonly yes).
pub fn temp_incr_name(filename: &str) -> String {
    format!("temp-{filename}.incr")
}

impl Manifest {
    /// True when neither a BASE nor an INCR part is listed.
    pub fn is_empty(&self) -> bool {
        self.base.is_none() && self.incr.is_empty()
    }

    /// Makes a new BASE (the old one becomes HISTORY) and returns its name.
    pub fn new_base(&mut self, filename: &str, rdb_preamble: bool) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = Kind::History;
            self.history.insert(0, old);
        }
        self.base_seq += 1;
        let ext = if rdb_preamble { "rdb" } else { "aof" };
        let name = format!("{filename}.{}.base.{ext}", self.base_seq);
        self.base = Some(Part { name: name.clone(), seq: self.base_seq, kind: Kind::Base });
        self.dirty = true;
        name
    }

    /// Appends a new INCR part and returns its name.
    pub fn new_incr(&mut self, filename: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{filename}.{}.incr.aof", self.incr_seq);
        self.incr.push(Part { name: name.clone(), seq: self.incr_seq, kind: Kind::Incr });
        self.dirty = true;
        name
    }

    /// The last INCR part's name, creating one when there is none.
    pub fn last_incr_or_new(&mut self, filename: &str) -> String {
        match self.incr.last() {
            Some(p) => p.name.clone(),
            None => self.new_incr(filename),
        }
    }

    /// After a rewrite: INCR parts become HISTORY, except the last one when
    /// it is the file being appended to (`keep_last`).
    pub fn mark_rewritten_incr_as_history(&mut self, keep_last: bool) {
        if self.incr.is_empty() {
            return;
        }
        let keep = if keep_last { self.incr.pop() } else { None };
        // Redis walks from the tail and pushes each at the head.
        for mut p in std::mem::take(&mut self.incr).into_iter().rev() {
            p.kind = Kind::History;
            self.history.insert(0, p);
        }
        self.incr.extend(keep);
        self.dirty = true;
    }

    /// The manifest's text: BASE, then HISTORY, then INCR lines.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for p in self.base.iter().chain(&self.history).chain(&self.incr) {
            let name =
                if needs_repr(p.name.as_bytes()) { crate::config::repr(p.name.as_bytes()) } else { p.name.clone() };
            out.push_str(&format!("file {name} seq {} type {}\n", p.seq, p.kind.letter()));
        }
        out
    }

    /// Parses a manifest file's bytes with Redis's checks.
    pub fn parse(data: &[u8]) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        let mut maxseq = 0i64;
        let mut linenum = 0usize;
        let mut rest = data;
        let bad = |linenum: usize, text: &[u8], reason: &'static str| ManifestError {
            line: Some((linenum, String::from_utf8_lossy(text).into_owned())),
            reason,
        };
        loop {
            if rest.is_empty() {
                if linenum == 0 {
                    // COMPAT: the error texts below are aof.c's.
                    return Err(ManifestError { line: None, reason: "Found an empty AOF manifest" });
                }
                break;
            }
            // fgets semantics: at most MAX_LINE bytes, up to and including '\n'.
            let take = rest.iter().take(MAX_LINE).position(|&b| b == b'\n').map_or(rest.len().min(MAX_LINE), |p| p + 1);
            let raw = &rest[..take];
            rest = &rest[take..];
            linenum += 1;
            if raw.first() == Some(&b'#') {
                continue;
            }
            if !raw.contains(&b'\n') {
                return Err(ManifestError { line: None, reason: "The AOF manifest file contains too long line" });
            }
            let line = trim(raw);
            if line.is_empty() {
                return Err(bad(linenum, line, "Invalid AOF manifest file format"));
            }
            let argv = match crate::util::split::split_args(line) {
                Some(a) if a.len() >= 6 && a.len() % 2 == 0 => a,
                _ => return Err(bad(linenum, line, "Invalid AOF manifest file format")),
            };
            let (mut name, mut seq, mut kind) = (None, 0i64, 0u8);
            for kv in argv.chunks(2) {
                let key = &kv[0];
                if key.eq_ignore_ascii_case(b"file") {
                    let n = String::from_utf8_lossy(&kv[1]).into_owned();
                    if n.contains('/') || n.contains('\\') {
                        return Err(bad(linenum, line, "File can't be a path, just a filename"));
                    }
                    name = Some(n);
                } else if key.eq_ignore_ascii_case(b"seq") {
                    seq = c_strtol(&kv[1]).0;
                } else if key.eq_ignore_ascii_case(b"type") {
                    kind = kv[1].first().copied().unwrap_or(0);
                }
            }
            let (Some(name), true, true) = (name, seq != 0, kind != 0) else {
                return Err(bad(linenum, line, "Invalid AOF manifest file format"));
            };
            match kind {
                b'b' => {
                    if m.base.is_some() {
                        return Err(bad(linenum, line, "Found duplicate base file information"));
                    }
                    m.base = Some(Part { name, seq, kind: Kind::Base });
                    m.base_seq = seq;
                }
                b'h' => m.history.push(Part { name, seq, kind: Kind::History }),
                b'i' => {
                    if seq <= maxseq {
                        return Err(bad(linenum, line, "Found a non-monotonic sequence number"));
                    }
                    m.incr.push(Part { name, seq, kind: Kind::Incr });
                    m.incr_seq = seq;
                    maxseq = seq;
                }
                _ => return Err(bad(linenum, line, "Unknown AOF file type")),
            }
        }
        Ok(m)
    }

    /// Writes the manifest into `dir` atomically when it changed. Failures
    /// are logged with Redis's texts.
    pub fn persist(&mut self, dir: &Path, filename: &str) -> bool {
        if !self.dirty {
            return true;
        }
        let ok = write_atomically(dir, filename, self.to_text().as_bytes());
        if ok {
            self.dirty = false;
        }
        ok
    }
}

fn write_atomically(dir: &Path, filename: &str, text: &[u8]) -> bool {
    let name = manifest_name(filename);
    let tmp_name = format!("temp-{name}");
    let (path, tmp) = (dir.join(&name), dir.join(&tmp_name));
    let err = crate::config::strerror;
    let mut f = match File::create(&tmp) {
        Ok(f) => f,
        Err(e) => {
            // COMPAT: writeAofManifestFile's messages.
            log::warn!("Can't open the AOF manifest file {tmp_name}: {}", err(&e));
            return false;
        }
    };
    if let Err(e) = f.write_all(text) {
        log::warn!("Error trying to write the temporary AOF manifest file {tmp_name}: {}", err(&e));
        return false;
    }
    if let Err(e) = f.sync_all() {
        log::warn!("Fail to fsync the temp AOF file {tmp_name}: {}.", err(&e));
        return false;
    }
    if let Err(e) = fs::rename(&tmp, &path) {
        log::warn!("Error trying to rename the temporary AOF manifest file {tmp_name} into {name}: {}", err(&e));
        return false;
    }
    if let Err(e) = fsync_dir(dir) {
        log::warn!("Fail to fsync AOF directory {}: {}.", path.display(), err(&e));
        return false;
    }
    true
}

/// fsync(2) of a directory, so renames inside it are durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })?.sync_all()
}

/// Redis's sdsneedsrepr: quoting is needed for quotes, backslashes,
/// blanks and non-printable bytes.
fn needs_repr(s: &[u8]) -> bool {
    s.iter().any(|&b| matches!(b, b'\\' | b'"') || !(0x21..=0x7e).contains(&b))
}

/// sdstrim with " \t\r\n".
fn trim(s: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = s.iter().position(|b| !blank(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !blank(b)).map_or(start, |p| p + 1);
    &s[start..end]
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_order_and_kinds() {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.base_seq, 2);
        assert_eq!(m.incr_seq, 2);
        assert_eq!(m.to_text(), text);
    }

    #[test]
    fn rewrite_steps_name_parts_like_redis() {
        let mut m = Manifest::default();
        assert_eq!(m.new_base("appendonly.aof", true), "appendonly.aof.1.base.rdb");
        assert_eq!(m.last_incr_or_new("appendonly.aof"), "appendonly.aof.1.incr.aof");
        m.new_incr("appendonly.aof");
        m.new_base("appendonly.aof", false);
        m.mark_rewritten_incr_as_history(true);
        assert_eq!(
            m.to_text(),
            "file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.1.base.rdb seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        );
    }

    #[test]
    fn names_with_blanks_are_quoted_and_read_back() {
        let mut m = Manifest::default();
        m.new_base(" file seq \n\n.aof ", true);
        let text = m.to_text();
        assert_eq!(text, "file \" file seq \\n\\n.aof .1.base.rdb\" seq 1 type b\n");
        assert_eq!(Manifest::parse(text.as_bytes()).unwrap().base, m.base);
    }

    #[test]
    fn errors_carry_redis_texts() {
        let err = |t: &str| Manifest::parse(t.as_bytes()).unwrap_err().reason;
        assert_eq!(err(""), "Found an empty AOF manifest");
        assert_eq!(err("file a seq 1 type i\n\nfile b seq 3 type i\n"), "Invalid AOF manifest file format");
        assert_eq!(err("file a seq 2 type i\nfile b seq 1 type i\n"), "Found a non-monotonic sequence number");
        assert_eq!(err("file a seq 1 type b\nfile b seq 2 type b\n"), "Found duplicate base file information");
        assert_eq!(err("file a seq 1 type x\n"), "Unknown AOF file type");
        assert_eq!(err("filx a seq 1 type b\n"), "Invalid AOF manifest file format");
        assert_eq!(err("file a type i\n"), "Invalid AOF manifest file format");
        assert_eq!(err("file a seq 1 type i newkey\n"), "Invalid AOF manifest file format");
        assert_eq!(err("file x/a seq 1 type i\n"), "File can't be a path, just a filename");
        assert_eq!(err(&format!("{}\n", "x".repeat(2000))), "The AOF manifest file contains too long line");
        assert!(Manifest::parse(b"file a seq 1 type b newkey newvalue\n# c\n").is_ok());
    }

    #[test]
    fn fuzzed_manifests_never_panic() {
        let mut rng = crate::util::rand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
        let mut next = || rng.next_u64();
        let words: [&[u8]; 9] = [b"file ", b"seq ", b"type ", b"b ", b"i ", b"h ", b"\n", b"\"", b"7 "];
        for _ in 0..5000 {
            let mut data = Vec::new();
            for _ in 0..(next() % 40) {
                match next() % 3 {
                    0 => data.push(next() as u8),
                    _ => data.extend_from_slice(words[(next() % 9) as usize]),
                }
            }
            if let Ok(m) = Manifest::parse(&data) {
                let _ = Manifest::parse(m.to_text().as_bytes());
            }
        }
    }
}
