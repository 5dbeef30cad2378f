//! Appending to the AOF: encoding each propagated command (with the SELECT
//! and `#TS:` annotation lines it needs), buffering it, and writing plus
//! fsyncing the buffer in before-sleep, before any reply of the iteration
//! leaves, so `appendfsync always` acknowledges only what is on disk.
//!
//! Mirrors aof.c's feedAppendOnlyFile, catAppendOnlyGenericCommand and
//! flushAppendOnlyFile, with one difference: Redis fsyncs `everysec` in a
//! background thread; here the fsync runs in the event loop, at most once
//! a second, so no write ever waits for a pending background fsync.

use std::io::Write;

use bytes::Bytes;

use super::State;
use crate::server::Server;

/// Seconds between two logs of the same write error (AOF_WRITE_LOG_ERROR_RATE).
const WRITE_ERROR_LOG_RATE: i64 = 30;

/// Appends one command for `db` to the buffer (the AOF sink of
/// `crate::propagate`). While waiting for the first rewrite, commands are
/// kept only once the rewriting child runs, as Redis does.
pub fn feed(srv: &mut Server, db: usize, argv: &[Bytes]) {
    if srv.persist.aof.state == State::Off {
        return;
    }
    let keep = srv.persist.aof.state == State::On || srv.persist.child_is(crate::persist::child::ChildKind::Aof);
    let now = srv.clock.now_secs();
    let stamp = srv.config.aof_timestamp_enabled;
    let a = &mut srv.persist.aof;
    let mut scratch = Vec::new();
    let out = if keep { &mut a.buf } else { &mut scratch };
    if stamp && a.cur_timestamp < now {
        a.cur_timestamp = now;
        out.extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
    }
    if a.selected_db != Some(db) {
        let n = db.to_string();
        crate::resp::value::encode_command_into(out, &[b"SELECT", n.as_bytes()]);
        a.selected_db = Some(db);
    }
    crate::resp::value::encode_command_into(out, argv);
}

/// Writes the buffer to the INCR file and fsyncs as `appendfsync` asks
/// (before-sleep, SHUTDOWN, rewrite start). A failed write keeps the
/// unwritten bytes, marks the AOF in error (writes get MISCONF) and is
/// retried by the cron; under `appendfsync always` it ends the process,
/// since replies may already promise the data.
pub fn flush(srv: &mut Server) {
    let now = srv.clock.now_secs();
    let policy = srv.config.appendfsync;
    let child_running = srv.persist.child.is_some();
    let no_fsync_now = srv.config.no_appendfsync_on_rewrite && child_running;
    let a = &mut srv.persist.aof;
    if a.state == State::Off || a.file.is_none() {
        return;
    }
    use crate::config::AppendFsync;
    if a.buf.is_empty() {
        let behind = a.last_incr_fsync_offset != a.last_incr_size;
        let due = match policy {
            AppendFsync::Everysec => behind && now > a.last_fsync,
            AppendFsync::Always => behind,
            AppendFsync::No => false,
        };
        if !due {
            return;
        }
    } else {
        if a.flush_sleep_us > 0 {
            std::thread::sleep(std::time::Duration::from_micros(a.flush_sleep_us));
        }
        let t0 = std::time::Instant::now();
        let (written, err) = write_all(a.file.as_mut(), &a.buf);
        let ms = t0.elapsed().as_millis() as u64;
        if written != a.buf.len() {
            let can_log = now - a.last_error_log > WRITE_ERROR_LOG_RATE;
            if can_log {
                a.last_error_log = now;
            }
            let mut kept = written;
            match err {
                Some(e) if written == 0 => {
                    if can_log {
                        // COMPAT: flushAppendOnlyFile's messages.
                        log::warn!("Error writing to the AOF file: {}", crate::config::strerror(&e));
                    }
                    a.last_write_err = crate::config::strerror(&e);
                }
                _ => {
                    if can_log {
                        log::warn!(
                            "Short write while writing to the AOF file: (nwritten={written}, expected={})",
                            a.buf.len()
                        );
                    }
                    let undo = a.file.as_ref().map(|f| f.set_len(a.last_incr_size));
                    match undo {
                        Some(Ok(())) => kept = 0,
                        Some(Err(e)) if can_log => log::warn!(
                            "Could not remove short write from the append-only file.  Redis may refuse to load the AOF the next time it starts.  ftruncate: {}",
                            crate::config::strerror(&e)
                        ),
                        _ => {}
                    }
                    a.last_write_err = "No space left on device".into();
                }
            }
            if policy == AppendFsync::Always {
                log::warn!("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
                std::process::exit(1);
            }
            a.last_write_ok = false;
            if kept > 0 {
                a.current_size += kept as u64;
                a.last_incr_size += kept as u64;
                a.buf.drain(..kept);
            }
            return;
        }
        if !a.last_write_ok {
            log::warn!("AOF write error looks solved, Redis can write again.");
            a.last_write_ok = true;
        }
        a.current_size += written as u64;
        a.last_incr_size += written as u64;
        if a.buf.capacity() > 64 * 1024 {
            a.buf = Vec::new();
        } else {
            a.buf.clear();
        }
        let event = if child_running { "aof-write-active-child" } else { "aof-write-alone" };
        crate::latency::sample_if_needed(srv, event, ms);
        crate::latency::sample_if_needed(srv, "aof-write", ms);
    }
    if no_fsync_now {
        return;
    }
    let a = &mut srv.persist.aof;
    let Some(file) = a.file.as_ref() else { return };
    match policy {
        AppendFsync::Always => {
            let t0 = std::time::Instant::now();
            if let Err(e) = file.sync_data() {
                log::warn!(
                    "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {}. Exiting...",
                    crate::config::strerror(&e)
                );
                std::process::exit(1);
            }
            a.last_incr_fsync_offset = a.last_incr_size;
            a.last_fsync = now;
            let ms = t0.elapsed().as_millis() as u64;
            crate::latency::sample_if_needed(srv, "aof-fsync-always", ms);
        }
        AppendFsync::Everysec if now > a.last_fsync => {
            if let Err(e) = file.sync_data() {
                // Redis's background fsync records the error the same way.
                log::warn!("Fail to fsync the AOF file: {}.", crate::config::strerror(&e));
                a.last_write_ok = false;
                a.last_write_err = crate::config::strerror(&e);
            }
            a.last_incr_fsync_offset = a.last_incr_size;
            a.last_fsync = now;
        }
        _ => {}
    }
}

/// Writes as much of `buf` as the file takes, retrying short writes and
/// interruptions; returns the bytes written and the error that stopped it.
fn write_all(file: Option<&mut std::fs::File>, buf: &[u8]) -> (usize, Option<std::io::Error>) {
    let Some(file) = file else { return (0, None) };
    let mut done = 0;
    while done < buf.len() {
        match file.write(&buf[done..]) {
            Ok(0) => return (done, Some(std::io::ErrorKind::WriteZero.into())),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (done, Some(e)),
        }
    }
    (done, None)
}

/// Before a client's buffer is written outside before-sleep (a writable
/// event): commands read in this iteration may have replies in it, so
/// their AOF bytes go first (Redis's AE_BARRIER rule).
pub fn before_reply(srv: &mut Server) {
    if !srv.persist.aof.buf.is_empty() {
        flush(srv);
    }
}

/// Before-sleep hook: flushes the buffer while the AOF is on.
pub fn before_sleep(srv: &mut Server) {
    if srv.persist.aof.state != State::Off {
        flush(srv);
    }
}
