//! AOF rewrite, Redis 7.0 style: BGREWRITEAOF forks a child that writes a
//! new BASE (an RDB image with `aof-use-rdb-preamble yes`, otherwise the
//! commands that rebuild every key), while the parent already appends to a
//! fresh INCR file, so no rewrite buffer exists. When the child succeeds the
//! parent renames its file into the AOF directory, turns the old BASE and
//! INCR files into HISTORY in a new manifest, writes it atomically and
//! deletes the history.
//!
//! Owns the child's job, the command form of each type (variadic commands
//! of at most 64 items, then PEXPIREAT; streams with XSETID, XGROUP and
//! XCLAIM), BGREWRITEAOF, the end-of-child handler and the retry limiter,
//! mirroring aof.c's rewriteAppendOnlyFileBackground,
//! backgroundRewriteDoneHandler and aofRewriteLimited.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::{dir_path, manifest::temp_incr_name, State};
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::persist::child::{self, ChildKind, Exit};
use crate::server::Server;
use crate::types::value::Value;

/// Most items one rewritten command carries (AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_CMD: usize = 64;
/// Bytes between two fsyncs of a BASE being written with
/// `aof-rewrite-incremental-fsync` (REDIS_AUTOSYNC_BYTES).
const AUTOSYNC_BYTES: usize = 4 * 1024 * 1024;
/// Consecutive failures after which automatic rewrites are delayed.
const LIMIT_THRESHOLD: u64 = 3;
/// Longest delay between limited automatic rewrites, in minutes.
const LIMIT_MAX_MINUTES: i64 = 60;

// ------------------------------------------------------------ the new BASE

/// Writes a complete BASE for the current dataset to `target` through a
/// temp file in the working directory (fsynced, then renamed). Runs in the
/// child, or in the parent when the server starts with nothing at all.
pub fn rewrite_file(srv: &Server, target: &Path) -> bool {
    let tmp = format!("temp-rewriteaof-{}.aof", std::process::id());
    let file = match File::create(&tmp) {
        Ok(f) => f,
        Err(e) => {
            // COMPAT: rewriteAppendOnlyFile's messages.
            log::warn!(
                "Opening the temp file for AOF rewrite in rewriteAppendOnlyFile(): {}",
                crate::config::strerror(&e)
            );
            return false;
        }
    };
    let mut out = AutoSync {
        inner: BufWriter::with_capacity(64 * 1024, file),
        unsynced: 0,
        every: srv.config.aof_rewrite_incremental_fsync.then_some(AUTOSYNC_BYTES),
    };
    let written = if srv.config.aof_use_rdb_preamble {
        crate::persist::rdb::write_snapshot(srv, &mut out, true)
    } else {
        write_commands(srv, &mut out)
    };
    let synced = written.and_then(|_| out.inner.into_inner().map_err(|e| e.into_error())).and_then(|f| f.sync_all());
    if let Err(e) = synced {
        log::warn!("Write error writing append only file on disk: {}", crate::config::strerror(&e));
        let _ = std::fs::remove_file(&tmp);
        return false;
    }
    if let Err(e) = std::fs::rename(&tmp, target) {
        log::warn!("Error moving temp append only file on the final destination: {}", crate::config::strerror(&e));
        let _ = std::fs::remove_file(&tmp);
        return false;
    }
    true
}

/// A file writer that fsyncs every `every` bytes, so a big BASE does not
/// reach the disk in one burst at the end (rio's auto-sync).
struct AutoSync {
    inner: BufWriter<File>,
    unsynced: usize,
    every: Option<usize>,
}

impl Write for AutoSync {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.unsynced += n;
        if self.every.is_some_and(|every| self.unsynced >= every) {
            self.inner.flush()?;
            self.inner.get_ref().sync_data()?;
            self.unsynced = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The command form of the dataset (Redis's rewriteAppendOnlyFileRio).
fn write_commands(srv: &Server, out: &mut impl Write) -> io::Result<()> {
    let mut buf = Vec::with_capacity(64 * 1024);
    if srv.config.aof_timestamp_enabled {
        buf.extend_from_slice(format!("#TS:{}\r\n", crate::util::clock::unix_ms() / 1000).as_bytes());
    }
    // Libraries first, as Redis's rewriteFunctions.
    for code in srv.script.functions.sources() {
        cmd(&mut buf, &[b"FUNCTION", b"LOAD", &code]);
    }
    let delay = srv.config.rdb_key_save_delay;
    for (dbi, db) in srv.ks.dbs.iter().enumerate() {
        if db.dict.is_empty() {
            continue;
        }
        cmd(&mut buf, &[b"SELECT", dbi.to_string().as_bytes()]);
        for (key, obj) in db.dict.iter() {
            write_key(&mut buf, key, &obj.value);
            if let Some(&at) = db.expires.get(&key[..]) {
                cmd(&mut buf, &[b"PEXPIREAT", &key[..], at.to_string().as_bytes()]);
            }
            if buf.len() >= 64 * 1024 {
                out.write_all(&buf)?;
                buf.clear();
            }
            match delay {
                0 => {}
                us if us > 0 => std::thread::sleep(std::time::Duration::from_micros(us as u64)),
                ns => std::thread::sleep(std::time::Duration::from_nanos(ns.unsigned_abs())),
            }
        }
    }
    out.write_all(&buf)?;
    out.flush()
}

fn header(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(format!("*{n}\r\n").as_bytes());
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn cmd(out: &mut Vec<u8>, args: &[&[u8]]) {
    crate::resp::value::encode_command_into(out, args);
}

/// Writes `items` (each `per` bulk strings) as `verb key ...` commands of
/// at most ITEMS_PER_CMD items each.
fn variadic(out: &mut Vec<u8>, verb: &[u8], key: &[u8], per: usize, total: usize, mut items: impl FnMut(&mut Vec<u8>)) {
    let mut left = total;
    while left > 0 {
        let n = left.min(ITEMS_PER_CMD);
        header(out, 2 + n * per);
        bulk(out, verb);
        bulk(out, key);
        for _ in 0..n {
            items(out);
        }
        left -= n;
    }
}

fn write_key(out: &mut Vec<u8>, key: &[u8], v: &Value) {
    match v {
        Value::Str(s) => {
            let mut scratch = Vec::new();
            cmd(out, &[b"SET", key, s.as_bytes(&mut scratch)]);
        }
        Value::List(l) => {
            let mut it = l.iter();
            variadic(out, b"RPUSH", key, 1, l.len(), |o| {
                if let Some(e) = it.next() {
                    e.with_bytes(|b| bulk(o, b));
                }
            });
        }
        Value::Set(set) => {
            let mut it = set.iter();
            variadic(out, b"SADD", key, 1, set.len(), |o| {
                if let Some(m) = it.next() {
                    bulk(o, &m.to_vec());
                }
            });
        }
        Value::ZSet(z) => {
            let mut it = z.iter();
            variadic(out, b"ZADD", key, 2, z.len(), |o| {
                if let Some((m, score)) = it.next() {
                    bulk(o, &crate::util::num::format_double(score));
                    bulk(o, m);
                }
            });
        }
        Value::Hash(h) => {
            let mut pairs = Vec::with_capacity(h.len());
            h.for_each(|f, v| pairs.push((f.with_bytes(<[u8]>::to_vec), v.with_bytes(<[u8]>::to_vec))));
            let mut it = pairs.iter();
            variadic(out, b"HMSET", key, 2, pairs.len(), |o| {
                if let Some((f, v)) = it.next() {
                    bulk(o, f);
                    bulk(o, v);
                }
            });
        }
        Value::Stream(st) => write_stream(out, key, st),
    }
}

fn write_stream(out: &mut Vec<u8>, key: &[u8], st: &crate::types::stream::Stream) {
    use crate::types::stream::StreamId;
    use crate::util::num::IntBuf;
    let id = |i: StreamId| format!("{}-{}", i.ms, i.seq);
    if !st.is_empty() {
        for e in st.entries.range(StreamId::MIN, StreamId::MAX, false) {
            let mut fields = Vec::new();
            for (f, v) in e.fields() {
                let (mut a, mut b) = (IntBuf::new(0), IntBuf::new(0));
                fields.push((f.as_bytes(&mut a).to_vec(), v.as_bytes(&mut b).to_vec()));
            }
            header(out, 3 + fields.len() * 2);
            bulk(out, b"XADD");
            bulk(out, key);
            bulk(out, id(e.id()).as_bytes());
            for (f, v) in &fields {
                bulk(out, f);
                bulk(out, v);
            }
        }
    } else {
        // An empty stream: add one entry and trim it away at once.
        cmd(out, &[b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]);
    }
    let e = &st.entries;
    cmd(
        out,
        &[
            b"XSETID",
            key,
            id(e.last_id).as_bytes(),
            b"ENTRIESADDED",
            e.entries_added.to_string().as_bytes(),
            b"MAXDELETEDID",
            id(e.max_deleted_entry_id).as_bytes(),
        ],
    );
    for (name, g) in &st.groups {
        cmd(
            out,
            &[
                b"XGROUP",
                b"CREATE",
                key,
                name,
                id(g.last_id).as_bytes(),
                b"ENTRIESREAD",
                g.entries_read.to_string().as_bytes(),
            ],
        );
        for (cname, consumer) in &g.consumers {
            if consumer.pel.is_empty() {
                cmd(out, &[b"XGROUP", b"CREATECONSUMER", key, name, cname]);
                continue;
            }
            for pid in &consumer.pel {
                let Some(nack) = g.pel.get(pid) else { continue };
                cmd(
                    out,
                    &[
                        b"XCLAIM",
                        key,
                        name,
                        cname,
                        b"0",
                        id(*pid).as_bytes(),
                        b"TIME",
                        nack.delivery_time_ms.to_string().as_bytes(),
                        b"RETRYCOUNT",
                        nack.delivery_count.to_string().as_bytes(),
                        b"JUSTID",
                        b"FORCE",
                    ],
                );
            }
        }
    }
}

// ------------------------------------------------------ the parent's side

/// Redis's aofRewriteLimited: after three failures in a row, automatic
/// rewrites wait 1, 2, 4 ... up to 60 minutes (BGREWRITEAOF is not limited).
pub fn limited(srv: &mut Server) -> bool {
    let now = srv.clock.now_secs();
    let a = &mut srv.persist.aof;
    if a.consecutive_failures < LIMIT_THRESHOLD {
        a.limit_delay_minutes = 0;
        a.limit_next_time = 0;
        return false;
    }
    if a.limit_next_time != 0 {
        if now < a.limit_next_time {
            return true;
        }
        a.limit_next_time = 0;
        return false;
    }
    a.limit_delay_minutes =
        if a.limit_delay_minutes == 0 { 1 } else { (a.limit_delay_minutes * 2).min(LIMIT_MAX_MINUTES) };
    a.limit_next_time = now + a.limit_delay_minutes * 60;
    // COMPAT: aofRewriteLimited's message.
    log::warn!(
        "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes",
        a.limit_delay_minutes
    );
    true
}

/// Starts a background rewrite: flushes, opens the next INCR file (a temp
/// one while waiting for the first rewrite), forks the child. False (after
/// logging) when any step fails.
pub fn rewrite_background(srv: &mut Server) -> bool {
    if srv.persist.child.is_some() {
        return false;
    }
    if !super::create_dir(srv) {
        srv.persist.aof.last_bgrewrite_ok = false;
        return false;
    }
    srv.persist.aof.selected_db = None;
    super::writer::flush(srv, true);
    if !open_new_incr(srv) {
        srv.persist.aof.last_bgrewrite_ok = false;
        return false;
    }
    srv.persist.aof.rewrites += 1;
    let spawned = child::spawn(srv, ChildKind::Aof, |srv| {
        let tmp = format!("temp-rewriteaof-bg-{}.aof", std::process::id());
        let ok = rewrite_file(srv, Path::new(&tmp));
        if ok {
            // COMPAT: the child's message.
            log::info!("Successfully created the temporary AOF base file {tmp}");
        }
        ok
    });
    match spawned {
        Ok(pid) => {
            // COMPAT: rewriteAppendOnlyFileBackground's messages.
            log::info!("Background append only file rewriting started by pid {pid}");
            srv.persist.aof.rewrite_scheduled = false;
            srv.persist.aof.rewrite_started = Some(srv.clock.now_secs());
            true
        }
        Err(e) => {
            srv.persist.aof.last_bgrewrite_ok = false;
            log::warn!("Can't rewrite append only file in background: fork: {e}");
            false
        }
    }
}

/// Redis's openNewIncrAofForAppend: with AOF on, a new INCR file listed in
/// a manifest written before the switch; while waiting for the first
/// rewrite, the temp INCR file. Nothing while AOF is off.
fn open_new_incr(srv: &mut Server) -> bool {
    let state = srv.persist.aof.state;
    if state == State::Off {
        return true;
    }
    let filename = srv.config.appendfilename.clone();
    let dir = dir_path(srv);
    let mut next = None;
    let name = if state == State::WaitRewrite {
        temp_incr_name(&filename)
    } else {
        let mut m = srv.persist.aof.manifest.clone();
        let n = m.new_incr(&filename);
        next = Some(m);
        n
    };
    let file = match File::create(dir.join(&name)) {
        Ok(f) => f,
        Err(e) => {
            // COMPAT: openNewIncrAofForAppend's messages.
            log::warn!("Can't open the append-only file {name}: {}", crate::config::strerror(&e));
            return false;
        }
    };
    if let Some(m) = next.as_mut() {
        if !m.persist(&dir, &filename) {
            return false;
        }
    }
    log::info!("Creating AOF incr file {name} on background rewrite");
    let now = srv.clock.now_secs();
    let a = &mut srv.persist.aof;
    if let Some(old) = a.file.replace(file) {
        // Everything written to the old file must reach the disk too, but
        // not at the loop's expense (Redis's fsync-and-close bio job); the
        // job owns the old descriptor, so no later file can take its place.
        srv.bio.submit(crate::bio::Job::CloseFile { file: old, fsync: true });
        a.last_fsync = now;
    }
    a.last_incr_size = 0;
    a.last_incr_fsync_offset = 0;
    if let Some(m) = next {
        a.manifest = m;
    }
    true
}

fn remove_temp_files(pid: i32) {
    let _ = std::fs::remove_file(format!("temp-rewriteaof-bg-{pid}.aof"));
    let _ = std::fs::remove_file(format!("temp-rewriteaof-{pid}.aof"));
}

/// Kills a rewriting child and waits for it (CONFIG SET appendonly no,
/// SHUTDOWN): its work is dropped, which is not a failure.
pub fn kill_child(srv: &mut Server) {
    let Some(pid) = srv.persist.child.as_ref().filter(|c| c.kind == ChildKind::Aof).map(|c| c.pid) else { return };
    // COMPAT: killAppendOnlyChild's message.
    log::info!("Killing running AOF rewrite child: {pid}");
    child::kill_and_wait(srv, ChildKind::Aof);
    remove_temp_files(pid);
    srv.persist.aof.rewrite_started = None;
}

/// The parent's side of a finished rewrite child (persist's cron).
pub fn done(srv: &mut Server, exit: &Exit) {
    if exit.ok() {
        // COMPAT: backgroundRewriteDoneHandler's messages.
        log::info!("Background AOF rewrite terminated with success");
        if install(srv, exit.pid) {
            let a = &mut srv.persist.aof;
            a.last_bgrewrite_ok = true;
            a.consecutive_failures = 0;
            a.last_cow = exit.cow_bytes;
            log::info!("Background AOF rewrite finished successfully");
            if a.state == State::WaitRewrite {
                a.state = State::On;
            }
        } else {
            srv.persist.aof.last_bgrewrite_ok = false;
            srv.persist.aof.consecutive_failures += 1;
        }
    } else if exit.signal.is_none() && !exit.killed {
        srv.persist.aof.last_bgrewrite_ok = false;
        srv.persist.aof.consecutive_failures += 1;
        log::warn!("Background AOF rewrite terminated with error");
    } else {
        let sig = exit.signal.unwrap_or(libc::SIGUSR1);
        if sig != libc::SIGUSR1 {
            srv.persist.aof.last_bgrewrite_ok = false;
            srv.persist.aof.consecutive_failures += 1;
        }
        log::warn!("Background AOF rewrite terminated by signal {sig}");
    }
    remove_temp_files(exit.pid);
    let now = srv.clock.now_secs();
    let temp_incr = dir_path(srv).join(temp_incr_name(&srv.config.appendfilename));
    let a = &mut srv.persist.aof;
    if a.state == State::WaitRewrite {
        a.buf.clear();
        log::info!("Removing the temp incr aof file {} in the background", temp_incr_name(&srv.config.appendfilename));
        let _ = std::fs::remove_file(&temp_incr);
        a.rewrite_scheduled = true;
    }
    a.rewrite_time_last = a.rewrite_started.map_or(0, |t| now - t);
    a.rewrite_started = None;
}

/// Moves the child's file into place as the new BASE and commits the new
/// manifest; false (after logging and undoing) when a step fails.
fn install(srv: &mut Server, pid: i32) -> bool {
    let filename = srv.config.appendfilename.clone();
    let dir = dir_path(srv);
    let tmp = format!("temp-rewriteaof-bg-{pid}.aof");
    let mut m = srv.persist.aof.manifest.clone();
    let base = m.new_base(&filename, srv.config.aof_use_rdb_preamble);
    let base_path = dir.join(&base);
    if let Err(e) = std::fs::rename(&tmp, &base_path) {
        log::warn!(
            "Error trying to rename the temporary AOF base file {tmp} into {}: {}",
            base_path.display(),
            crate::config::strerror(&e)
        );
        return false;
    }
    log::info!("Successfully renamed the temporary AOF base file {tmp} into {base}");
    let mut incr_path = None;
    if srv.persist.aof.state == State::WaitRewrite {
        let temp = temp_incr_name(&filename);
        let incr = m.new_incr(&filename);
        let (from, to) = (dir.join(&temp), dir.join(&incr));
        if let Err(e) = std::fs::rename(&from, &to) {
            log::warn!(
                "Error trying to rename the temporary AOF incr file {} into {}: {}",
                from.display(),
                to.display(),
                crate::config::strerror(&e)
            );
            let _ = std::fs::remove_file(&base_path);
            return false;
        }
        log::info!("Successfully renamed the temporary AOF incr file {temp} into {incr}");
        incr_path = Some(to);
    }
    m.mark_rewritten_incr_as_history(srv.persist.aof.file.is_some());
    if !m.persist(&dir, &filename) {
        let _ = std::fs::remove_file(&base_path);
        if let Some(p) = incr_path {
            let _ = std::fs::remove_file(p);
        }
        return false;
    }
    srv.persist.aof.manifest = m;
    if srv.persist.aof.state != State::Off {
        let a = &mut srv.persist.aof;
        a.current_size = std::fs::metadata(&base_path).map(|m| m.len()).unwrap_or(0) + a.last_incr_size;
        a.base_size = a.current_size;
    }
    super::del_history_files(srv);
    true
}

/// BGREWRITEAOF.
pub fn bgrewriteaof_command(srv: &mut Server, c: &mut Client) -> CmdResult {
    if srv.persist.child_is(ChildKind::Aof) {
        // COMPAT: bgrewriteaofCommand's replies.
        return Err(ReplyError::err("Background append only file rewriting already in progress"));
    }
    if srv.persist.child.is_some() || c.in_exec {
        srv.persist.aof.rewrite_scheduled = true;
        // A manual rewrite clears the limiter so it may run at once.
        srv.persist.aof.consecutive_failures = 0;
        c.reply.simple("Background append only file rewriting scheduled");
        return Ok(());
    }
    if rewrite_background(srv) {
        c.reply.simple("Background append only file rewriting started");
        Ok(())
    } else {
        Err(ReplyError::err(
            "Can't execute an AOF background rewriting. Please check the server logs for more information.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variadic_commands_hold_at_most_64_items() {
        let mut out = Vec::new();
        let mut n = 0;
        variadic(&mut out, b"SADD", b"k", 1, 130, |o| {
            n += 1;
            bulk(o, n.to_string().as_bytes());
        });
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("SADD").count(), 3);
        assert!(text.starts_with("*66\r\n$4\r\nSADD\r\n$1\r\nk\r\n$1\r\n1\r\n"));
        assert!(text.contains("*4\r\n$4\r\nSADD\r\n$1\r\nk\r\n$3\r\n129\r\n$3\r\n130\r\n"));
    }

    #[test]
    fn empty_stream_is_rebuilt_with_the_maxlen_trick() {
        let mut out = Vec::new();
        write_stream(&mut out, b"s", &crate::types::stream::Stream::new());
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("*7\r\n$4\r\nXADD\r\n$1\r\ns\r\n$6\r\nMAXLEN\r\n$1\r\n0\r\n$3\r\n0-1\r\n"));
        assert!(text.contains("XSETID\r\n$1\r\ns\r\n$3\r\n0-0\r\n$12\r\nENTRIESADDED\r\n$1\r\n0\r\n"));
    }
}
