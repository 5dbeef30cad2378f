//! Appending to the AOF: encoding each propagated command (with the SELECT
//! and `#TS:` annotation lines it needs), buffering it, and writing plus
//! fsyncing the buffer in before-sleep, before any reply of the iteration
//! leaves, so `appendfsync always` acknowledges only what is on disk.
//!
//! Mirrors aof.c's feedAppendOnlyFile, catAppendOnlyGenericCommand and
//! flushAppendOnlyFile: `always` fsyncs here, in the loop; `everysec` queues
//! at most one fsync a second on `crate::bio`'s thread, and while one is
//! still running a write waits (the buffer keeps growing) for up to two
//! seconds before going ahead anyway (INFO `aof_delayed_fsync`), because on
//! Linux a write to a file being fsynced blocks until the fsync ends.

use std::io::Write;

use bytes::Bytes;

use super::State;
use crate::bio::{Job, JobKind};
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
/// (before-sleep, the cron, and forced by SHUTDOWN, rewrite start,
/// `appendonly no` and DEBUG LOADAOF). Under `everysec`, unless `force`, a
/// write waits while a background fsync runs, for at most two seconds. A
/// failed write keeps the unwritten bytes, marks the AOF in error (writes
/// get MISCONF) and is retried by the cron; under `appendfsync always` it
/// ends the process, since replies may already promise the data.
pub fn flush(srv: &mut Server, force: bool) {
    let now = srv.clock.now_secs();
    let policy = srv.config.appendfsync;
    let child_running = srv.persist.child.is_some();
    let no_fsync_now = srv.config.no_appendfsync_on_rewrite && child_running;
    let fsync_running = || srv.bio.pending(JobKind::Fsync) > 0;
    let a = &srv.persist.aof;
    if a.state == State::Off || a.file.is_none() {
        return;
    }
    use crate::config::AppendFsync;
    let mut sync_in_progress = false;
    if a.buf.is_empty() {
        // Nothing to write, but what an earlier write left unsynced still
        // gets its fsync once the second is over (or at once under
        // `always`, after a switch from `everysec`).
        let behind = a.last_incr_fsync_offset != a.last_incr_size;
        let due = match policy {
            AppendFsync::Everysec => behind && now > a.last_fsync && !fsync_running(),
            AppendFsync::Always => behind,
            AppendFsync::No => false,
        };
        if !due {
            return;
        }
    } else {
        if policy == AppendFsync::Everysec {
            sync_in_progress = fsync_running();
        }
        if sync_in_progress && !force {
            let a = &mut srv.persist.aof;
            if a.flush_postponed_start == 0 {
                a.flush_postponed_start = now;
                return;
            }
            if now - a.flush_postponed_start < 2 {
                return;
            }
            a.delayed_fsync += 1;
            // COMPAT: flushAppendOnlyFile's notice.
            log::info!("Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.");
        }
        if !write_buf(srv, now, sync_in_progress) {
            return;
        }
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
            if !sync_in_progress {
                match file.try_clone() {
                    Ok(clone) => srv.bio.submit(Job::Fsync(clone)),
                    // No descriptor to spare: sync here rather than not at all.
                    Err(_) => {
                        if let Err(e) = file.sync_data() {
                            log::warn!("Fail to fsync the AOF file: {}", crate::config::strerror(&e));
                        }
                    }
                }
                a.last_incr_fsync_offset = a.last_incr_size;
            }
            a.last_fsync = now;
        }
        _ => {}
    }
}

/// The write half of [`flush`]: one write of the whole buffer. True when
/// it all went out; false after recording the failure (the unwritten part
/// stays buffered), or exiting under `appendfsync always`.
fn write_buf(srv: &mut Server, now: i64, sync_in_progress: bool) -> bool {
    use crate::config::AppendFsync;
    let policy = srv.config.appendfsync;
    let child_running = srv.persist.child.is_some();
    let a = &mut srv.persist.aof;
    if a.flush_sleep_us > 0 {
        std::thread::sleep(std::time::Duration::from_micros(a.flush_sleep_us));
    }
    let t0 = std::time::Instant::now();
    let (written, err) = write_all(a.file.as_mut(), &a.buf);
    let ms = t0.elapsed().as_millis() as u64;
    // COMPAT: the latency monitor's event names.
    let event = if sync_in_progress {
        "aof-write-pending-fsync"
    } else if child_running {
        "aof-write-active-child"
    } else {
        "aof-write-alone"
    };
    a.flush_postponed_start = 0;
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
        crate::latency::sample_if_needed(srv, event, ms);
        crate::latency::sample_if_needed(srv, "aof-write", ms);
        return false;
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
    crate::latency::sample_if_needed(srv, event, ms);
    crate::latency::sample_if_needed(srv, "aof-write", ms);
    true
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
        flush(srv, false);
    }
}

/// Before-sleep hook: flushes the buffer while the AOF is on.
pub fn before_sleep(srv: &mut Server) {
    if srv.persist.aof.state != State::Off {
        flush(srv, false);
    }
}
