//! Loading the AOF: the BASE file (an RDB image, or commands) then every
//! INCR file the manifest lists, replaying commands through a fake client
//! that has no socket, as Redis's loadAppendOnlyFiles and
//! loadSingleAppendOnlyFile do; plus the upgrade of an old single
//! `appendonly.aof` into the AOF directory (aofUpgradePrepare).
//!
//! While loading, nothing is propagated, keys do not expire and blocking
//! commands do not block. A file cut short is truncated at the last whole
//! command when `aof-load-truncated` is on (only the last file may be); any
//! other defect is fatal, with Redis's log lines naming the file. Input
//! never panics: lengths are checked against the bytes actually present.

use std::path::Path;
use std::time::Instant;

use bytes::Bytes;

use super::{dir_path, manifest::Part, State};
use crate::client::Client;
use crate::server::Server;
use crate::util::num::c_strtol;

/// Longest line read at once (AOF_ANNOTATION_LINE_MAX_LEN - 1, as fgets).
const LINE_MAX: usize = 1023;

/// How loading one file, or all of them, ended (Redis's AOF_* codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Loaded.
    Ok,
    /// The file (or the manifest's list) does not exist.
    NotExist,
    /// Nothing to load.
    Empty,
    /// The file exists but cannot be opened.
    OpenErr,
    /// Fatal: bad format, unknown command, truncated without permission.
    Failed,
    /// Loaded after cutting a truncated tail.
    Truncated,
}

/// Loads every file the manifest lists into the (empty) dataset, upgrading
/// an old single-file AOF first. Sets the size figures on success. With
/// `serve_clients` (start-up) other clients are served meanwhile and get
/// LOADING for what they may not run yet, as during an RDB load.
pub fn load_all(srv: &mut Server, serve_clients: bool) -> Outcome {
    let filename = srv.config.appendfilename.clone();
    let dir = dir_path(srv);
    let m = &srv.persist.aof.manifest;
    if Path::new(&filename).exists() {
        let interrupted_upgrade =
            m.incr.is_empty() && m.base.as_ref().is_some_and(|b| b.name == filename) && !dir.join(&filename).exists();
        if (!dir.is_dir() || m.is_empty() || interrupted_upgrade) && !upgrade_prepare(srv) {
            return Outcome::Failed;
        }
    }
    let m = srv.persist.aof.manifest.clone();
    if m.is_empty() {
        return Outcome::NotExist;
    }
    let parts: Vec<&Part> = m.base.iter().chain(&m.incr).collect();
    let mut total = 0u64;
    for p in &parts {
        match std::fs::metadata(dir.join(&p.name)) {
            Ok(md) => total += md.len(),
            Err(e) => {
                // COMPAT: getAppendOnlyFileSize's message.
                log::warn!("Unable to obtain the AOF file {} length. stat: {}", p.name, crate::config::strerror(&e));
                return if e.kind() == std::io::ErrorKind::NotFound { Outcome::Failed } else { Outcome::OpenErr };
            }
        }
    }
    if total == 0 {
        return Outcome::Empty;
    }
    let saved = (srv.persist.loading, srv.ks.expire_deletes);
    srv.persist.loading_total_bytes = total;
    srv.persist.loading_loaded_bytes = 0;
    srv.persist.loading_started_secs = srv.clock.now_secs();
    srv.persist.loading = true;
    srv.ks.loading = true;
    srv.ks.expire_deletes = false;
    let mut ret = Outcome::Ok;
    let mut base_size = 0;
    for (i, p) in parts.iter().enumerate() {
        let is_base = m.base.as_ref().is_some_and(|b| std::ptr::eq(b, *p));
        if is_base {
            base_size = std::fs::metadata(dir.join(&p.name)).map(|m| m.len()).unwrap_or(0);
        }
        let last = i + 1 == parts.len();
        let t0 = Instant::now();
        ret = load_file(srv, &p.name, serve_clients);
        if ret == Outcome::Ok || (ret == Outcome::Truncated && last) {
            let what = if is_base { "base" } else { "incr" };
            // COMPAT: loadAppendOnlyFiles's messages.
            log::info!("DB loaded from {what} file {}: {:.3} seconds", p.name, t0.elapsed().as_secs_f64());
        }
        if ret == Outcome::Empty && !is_base {
            ret = Outcome::Ok;
        }
        if ret == Outcome::Truncated && !last {
            ret = Outcome::Failed;
            log::warn!("Fatal error: the truncated file is not the last file");
        }
        if matches!(ret, Outcome::OpenErr | Outcome::Failed) {
            break;
        }
    }
    if !matches!(ret, Outcome::OpenErr | Outcome::Failed) {
        srv.persist.aof.current_size = total;
        srv.persist.aof.base_size = base_size;
    }
    srv.persist.loading = saved.0;
    srv.ks.loading = false;
    srv.ks.expire_deletes = saved.1;
    ret
}

/// Moves the old `appendonly.aof` into the AOF directory as its BASE and
/// writes the manifest; false (after logging) when that fails.
fn upgrade_prepare(srv: &mut Server) -> bool {
    if !super::create_dir(srv) {
        return false;
    }
    let filename = srv.config.appendfilename.clone();
    let dir = dir_path(srv);
    let m = &mut srv.persist.aof.manifest;
    m.base = Some(Part { name: filename.clone(), seq: 1, kind: super::manifest::Kind::Base });
    m.base_seq = 1;
    m.dirty = true;
    if !m.persist(&dir, &filename) {
        return false;
    }
    if let Err(e) = std::fs::rename(&filename, dir.join(&filename)) {
        // COMPAT: aofUpgradePrepare's messages.
        log::warn!(
            "Error trying to move the old AOF file {filename} into dir {}: {}",
            srv.config.appenddirname,
            crate::config::strerror(&e)
        );
        return false;
    }
    log::info!(
        "Successfully migrated an old-style AOF file ({filename}) into the AOF directory ({}).",
        srv.config.appenddirname
    );
    true
}

/// How reading the command part ended.
enum Stop {
    /// Clean end of file.
    End,
    /// The file ends inside a command.
    Eof,
    /// Not AOF syntax.
    Format,
    /// A command this server does not know (already logged).
    Unknown,
}

/// Loads one file of the AOF directory (Redis's loadSingleAppendOnlyFile).
pub fn load_file(srv: &mut Server, filename: &str, serve_clients: bool) -> Outcome {
    let path = dir_path(srv).join(filename);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) => {
            let err = crate::config::strerror(&e);
            // COMPAT: the messages of this function are aof.c's.
            if e.kind() == std::io::ErrorKind::NotFound {
                log::warn!("The append log file {filename} doesn't exist: {err}");
                return Outcome::NotExist;
            }
            log::warn!("Fatal error: can't open the append log file {filename} for reading: {err}");
            return Outcome::OpenErr;
        }
    };
    if data.is_empty() {
        return Outcome::Empty;
    }
    // No EXEC of the file may feed a MULTI into the file being read.
    let old_state = std::mem::replace(&mut srv.persist.aof.state, State::Off);
    let ret = replay(srv, filename, &path, &data, serve_clients);
    srv.persist.loading_loaded_bytes += data.len() as u64;
    srv.persist.aof.state = old_state;
    ret
}

fn replay(srv: &mut Server, filename: &str, path: &Path, data: &[u8], serve_clients: bool) -> Outcome {
    let mut pos = 0usize;
    if data.starts_with(b"REDIS") {
        let old_style = filename == srv.config.appendfilename;
        if old_style {
            log::info!("Reading RDB preamble from AOF file...");
        } else {
            log::info!("Reading RDB base file on AOF loading...");
        }
        match crate::persist::rdb::load_from(srv, &mut &data[..], false, false, serve_clients) {
            Ok(info) => pos = info.end_offset,
            Err(e) => {
                if let crate::persist::rdb::LoadError::Bad(e) = &e {
                    log::warn!("{e} (file {filename}, offset {})", e.offset);
                }
                if old_style {
                    log::warn!("Error reading the RDB preamble of the AOF file {filename}, AOF loading aborted");
                } else {
                    log::warn!("Error reading the RDB base file {filename}, AOF loading aborted");
                }
                return Outcome::Failed;
            }
        }
        if old_style {
            log::info!("Reading the remaining AOF tail...");
        }
    }
    let mut c = fake_client(srv);
    let truncate_ok = srv.config.aof_load_truncated;
    let (mut valid_up_to, mut valid_before_multi) = (0usize, 0usize);
    let loaded_before = srv.persist.loading_loaded_bytes;
    let mut last_events = Instant::now();
    let stop = loop {
        // Outside a transaction only, so a client never sees half of one.
        if serve_clients && !c.flags.multi && last_events.elapsed() >= crate::persist::rdb::LOADING_EVENTS_EVERY {
            srv.persist.loading_loaded_bytes = loaded_before + pos as u64;
            srv.process_events_while_blocked();
            last_events = Instant::now();
        }
        let argv = match next_command(data, &mut pos) {
            Ok(Some(argv)) => argv,
            Ok(None) => break Stop::End,
            Err(stop) => break stop,
        };
        let idx = match srv.commands.resolve(&argv) {
            Ok(idx) => idx,
            Err(_) if srv.commands.resolve_name_only(&argv).is_none() => {
                log::warn!(
                    "Unknown command '{}' reading the append only file {filename}",
                    String::from_utf8_lossy(&argv[0])
                );
                break Stop::Unknown;
            }
            // Known but malformed (wrong arity): Redis would misbehave; refuse.
            Err(_) => break Stop::Format,
        };
        let name = srv.commands.cmds[idx].name;
        if name == "multi" {
            valid_before_multi = valid_up_to;
        }
        c.argv = argv;
        if c.flags.multi && name != "exec" {
            c.multi_queue.push((idx, std::mem::take(&mut c.argv)));
        } else {
            run(srv, &mut c, idx);
        }
        if truncate_ok {
            valid_up_to = pos;
        }
        if srv.config.key_load_delay > 0 {
            std::thread::sleep(std::time::Duration::from_micros(srv.config.key_load_delay as u64));
        }
    };
    let stop = match stop {
        Stop::End if c.flags.multi => {
            log::warn!("Revert incomplete MULTI/EXEC transaction in AOF file {filename}");
            valid_up_to = valid_before_multi;
            Stop::Eof
        }
        s => s,
    };
    match stop {
        Stop::End => Outcome::Ok,
        Stop::Unknown => Outcome::Failed,
        Stop::Format => {
            log::warn!("Bad file format reading the append only file {filename}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>");
            Outcome::Failed
        }
        Stop::Eof => {
            if truncate_ok {
                log::warn!("!!! Warning: short read while loading the AOF file {filename}!!!");
                log::warn!("!!! Truncating the AOF {filename} at offset {valid_up_to} !!!");
                let cut =
                    std::fs::OpenOptions::new().write(true).open(path).and_then(|f| f.set_len(valid_up_to as u64));
                match cut {
                    Ok(()) => {
                        log::warn!("AOF {filename} loaded anyway because aof-load-truncated is enabled");
                        return Outcome::Truncated;
                    }
                    Err(e) => {
                        log::warn!("Error truncating the AOF file {filename}: {}", crate::config::strerror(&e))
                    }
                }
            }
            log::warn!("Unexpected end of file reading the append only file {filename}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.");
            Outcome::Failed
        }
    }
}

/// Parses the command at `pos` (skipping `#` annotation lines) and moves
/// past it: `Ok(None)` at a clean end of the data, `Err` for a command cut
/// short or malformed. Only lengths actually present are trusted.
fn next_command(data: &[u8], pos: &mut usize) -> Result<Option<Vec<Bytes>>, Stop> {
    let line = loop {
        match next_line(data, pos) {
            None => return Ok(None),
            Some(l) if l[0] == b'#' => continue,
            Some(l) => break l,
        }
    };
    if line[0] != b'*' {
        return Err(Stop::Format);
    }
    if line.len() == 1 {
        return Err(Stop::Eof);
    }
    let argc = atoi(&line[1..]);
    if argc < 1 {
        return Err(Stop::Format);
    }
    let mut argv: Vec<Bytes> = Vec::with_capacity((argc as usize).min(1024));
    for _ in 0..argc {
        let line = next_line(data, pos).ok_or(Stop::Eof)?;
        if line[0] != b'$' {
            return Err(Stop::Format);
        }
        let len = usize::try_from(atoi(&line[1..])).map_err(|_| Stop::Format)?;
        if data.len() - *pos < len {
            return Err(Stop::Eof);
        }
        argv.push(Bytes::copy_from_slice(&data[*pos..*pos + len]));
        *pos += len;
        // The CRLF after the payload is skipped unchecked, as Redis does.
        if data.len() - *pos < 2 {
            return Err(Stop::Eof);
        }
        *pos += 2;
    }
    Ok(Some(argv))
}

/// The AOF client: no socket anyone can reach (one end of a fresh pair),
/// replies muted, never blocking, id `u64::MAX` as Redis's CLIENT_ID_AOF.
fn fake_client(srv: &Server) -> Client {
    let stream = match mio::net::UnixStream::pair() {
        Ok((a, _)) => crate::reactor::net::Stream::Unix(a),
        // Without a socket pair (fd exhaustion) loading cannot proceed.
        Err(e) => {
            log::warn!("Can't create the AOF loading client: {e}");
            std::process::exit(1);
        }
    };
    let mut c = Client::new(crate::client::AOF_CLIENT_ID, usize::MAX, stream, srv.clock.now_ms, "");
    c.authenticated = true;
    c.reply.muted = true;
    c
}

/// Runs one command for the AOF client, as Redis calls the command's
/// procedure directly: no ACL, no statistics, no propagation (loading).
fn run(srv: &mut Server, c: &mut Client, idx: usize) {
    srv.clock.refresh();
    srv.ks.now_ms = srv.clock.now_ms;
    c.in_exec = true;
    if let Some(handler) = srv.commands.cmds[idx].handler {
        let _ = handler(srv, c);
    }
    c.in_exec = false;
    srv.after_command(Some(c));
    let n = c.reply.pending().len();
    c.reply.consume(n);
    c.argv.clear();
}

/// The next line as fgets would return it (up to and including '\n', at
/// most LINE_MAX bytes); None at the end of the data.
fn next_line<'a>(data: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let rest = &data[*pos..];
    if rest.is_empty() {
        return None;
    }
    let window = &rest[..rest.len().min(LINE_MAX)];
    let n = window.iter().position(|&b| b == b'\n').map_or(window.len(), |p| p + 1);
    *pos += n;
    Some(&rest[..n])
}

/// C's atoi: see [`c_strtol`].
pub(crate) fn atoi(s: &[u8]) -> i64 {
    c_strtol(s).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_like_fgets() {
        let data = b"*1\r\n$4\r\nPING\r\nrest";
        let mut pos = 0;
        assert_eq!(next_line(data, &mut pos), Some(&b"*1\r\n"[..]));
        assert_eq!(next_line(data, &mut pos), Some(&b"$4\r\n"[..]));
        pos += 6;
        assert_eq!(next_line(data, &mut pos), Some(&b"rest"[..]));
        assert_eq!(next_line(data, &mut pos), None);
        let long = vec![b'x'; 3000];
        let mut pos = 0;
        assert_eq!(next_line(&long, &mut pos).map(<[u8]>::len), Some(LINE_MAX));
    }

    #[test]
    fn commands_parse_and_defects_are_classified() {
        let data = b"#TS:1\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPI";
        let mut pos = 0;
        let argv = next_command(data, &mut pos).ok().flatten().unwrap();
        assert_eq!(argv, vec![Bytes::from_static(b"GET"), Bytes::from_static(b"k")]);
        assert!(matches!(next_command(data, &mut pos), Err(Stop::Eof)));
        assert!(matches!(next_command(b"!!!", &mut 0), Err(Stop::Format)));
        assert!(matches!(next_command(b"*1\r\n$-1\r\n", &mut 0), Err(Stop::Format)));
        assert!(matches!(next_command(b"", &mut 0), Ok(None)));
    }

    #[test]
    fn fuzzed_aof_bytes_never_panic() {
        let mut rng = crate::util::rand::Rng::with_seed(0x2545_f491_4f6c_dd1d);
        let mut next = || rng.next_u64();
        let pieces: [&[u8]; 8] = [b"*", b"$", b"\r\n", b"3", b"-1", b"99999999999", b"#TS:5", b"SET"];
        for _ in 0..20000 {
            let mut data = Vec::new();
            for _ in 0..(next() % 30) {
                match next() % 3 {
                    0 => data.push(next() as u8),
                    _ => data.extend_from_slice(pieces[(next() % 8) as usize]),
                }
            }
            let mut pos = 0;
            while let Ok(Some(_)) = next_command(&data, &mut pos) {}
            assert!(pos <= data.len());
        }
    }

    #[test]
    fn atoi_reads_a_prefix() {
        assert_eq!(atoi(b"12\r\n"), 12);
        assert_eq!(atoi(b" -3x"), -3);
        assert_eq!(atoi(b"\r\n"), 0);
        assert_eq!(atoi(b"99999999999999999999999"), i64::MAX);
    }
}
