//! The append-only file, Redis 7.0's multi-part layout: `appenddirname`
//! holds a manifest, one BASE file (an RDB image when `aof-use-rdb-preamble`
//! is on, commands otherwise) and INCR files of commands appended since.
//!
//! Owns the AOF state (off, on, waiting for the first rewrite), start-up
//! (manifest, loading in preference to the RDB, the upgrade of an old single
//! `appendonly.aof`, opening the INCR file), switching on and off with
//! CONFIG SET, the cron duties (scheduled and automatic rewrites, retrying a
//! failed write), SHUTDOWN's flush, DEBUG LOADAOF and the INFO fields. The
//! parts live in [`manifest`], [`writer`] (encoding, buffering, write and
//! fsync), [`load`] and [`rewrite`] (BGREWRITEAOF in a forked child).
//!
//! It must not decide what is written: commands arrive already shaped by
//! `crate::propagate`. Log lines and errors are Redis's (aof.c,
//! server.c), because operators and the test suite grep them.

pub mod load;
pub mod manifest;
pub mod rewrite;
pub mod writer;

use std::fs::File;
use std::path::PathBuf;

use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::server::Server;
use manifest::Manifest;

/// Redis's aof_state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No AOF.
    Off,
    /// Commands are appended to the last INCR file.
    On,
    /// Switched on at run time: writes go to a temporary INCR file until
    /// the first rewrite has produced a BASE.
    WaitRewrite,
}

/// AOF state kept in `Server::persist`.
#[derive(Debug)]
pub struct Aof {
    /// Off, on, or waiting for the first rewrite.
    pub state: State,
    /// The manifest as last loaded or written.
    pub manifest: Manifest,
    /// The INCR file being appended to.
    pub(crate) file: Option<File>,
    /// Commands not yet written (flushed in before-sleep).
    pub buf: Vec<u8>,
    /// Database the last appended command selected.
    pub(crate) selected_db: Option<usize>,
    /// Unix seconds of the last `#TS:` annotation.
    pub(crate) cur_timestamp: i64,
    /// A rewrite waits for the running child (or for EXEC to end).
    pub rewrite_scheduled: bool,
    /// Unix seconds when the running rewrite started.
    pub rewrite_started: Option<i64>,
    /// Duration of the last rewrite, -1 before any.
    pub rewrite_time_last: i64,
    /// Whether the last rewrite succeeded.
    pub last_bgrewrite_ok: bool,
    /// Rewrites started (INFO `aof_rewrites`).
    pub rewrites: u64,
    /// Failed rewrites in a row (INFO, and the retry limiter).
    pub consecutive_failures: u64,
    /// Whether the last write succeeded; writes are refused (MISCONF) otherwise.
    pub last_write_ok: bool,
    /// The error of the last failed write or fsync.
    pub(crate) last_write_err: String,
    /// Copy-on-write bytes of the last rewrite.
    pub last_cow: u64,
    /// Bytes of the BASE and INCR files (INFO `aof_current_size`).
    pub current_size: u64,
    /// `current_size` after the last rewrite (growth reference).
    pub base_size: u64,
    /// Bytes of the INCR file being appended to.
    pub(crate) last_incr_size: u64,
    /// `last_incr_size` at the last fsync.
    pub(crate) last_incr_fsync_offset: u64,
    /// Unix seconds of the last fsync.
    pub(crate) last_fsync: i64,
    /// Writes that went ahead after waiting two seconds for a background
    /// fsync (INFO `aof_delayed_fsync`).
    pub delayed_fsync: u64,
    /// Unix seconds since a write has been waiting for a background fsync,
    /// 0 when none waits (Redis's aof_flush_postponed_start).
    pub(crate) flush_postponed_start: i64,
    /// DEBUG AOF-FLUSH-SLEEP: microseconds to sleep before each write.
    pub flush_sleep_us: u64,
    /// Unix seconds of the last write error logged (rate limit).
    pub(crate) last_error_log: i64,
    /// Retry limiter: current delay (minutes) and when the next automatic
    /// rewrite may run.
    pub(crate) limit_delay_minutes: i64,
    /// See `limit_delay_minutes`.
    pub(crate) limit_next_time: i64,
}

impl Default for Aof {
    fn default() -> Aof {
        Aof {
            state: State::Off,
            manifest: Manifest::default(),
            file: None,
            buf: Vec::new(),
            selected_db: None,
            cur_timestamp: 0,
            rewrite_scheduled: false,
            rewrite_started: None,
            rewrite_time_last: -1,
            last_bgrewrite_ok: true,
            rewrites: 0,
            consecutive_failures: 0,
            last_write_ok: true,
            last_write_err: String::new(),
            last_cow: 0,
            current_size: 0,
            base_size: 0,
            last_incr_size: 0,
            last_incr_fsync_offset: 0,
            last_fsync: crate::util::clock::unix_ms() / 1000,
            delayed_fsync: 0,
            flush_postponed_start: 0,
            flush_sleep_us: 0,
            last_error_log: 0,
            limit_delay_minutes: 0,
            limit_next_time: 0,
        }
    }
}

/// The AOF directory (relative to `dir`, the working directory).
pub(crate) fn dir_path(srv: &Server) -> PathBuf {
    PathBuf::from(&srv.config.appenddirname)
}

fn create_dir(srv: &Server) -> bool {
    match std::fs::create_dir(dir_path(srv)) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => true,
        Err(e) => {
            // COMPAT: dirCreateIfMissing's caller message.
            log::warn!(
                "Can't open or create append-only dir {}: {}",
                srv.config.appenddirname,
                crate::config::strerror(&e)
            );
            false
        }
    }
}

// ---------------------------------------------------------------- start-up

/// Loads the dataset at start-up: the manifest first (a bad one is fatal
/// even with `appendonly no`, as in Redis), then the AOF when it is on (the
/// RDB is then not read), else `dbfilename`; then opens the INCR file and
/// removes HISTORY files. An `Err` holds the remaining log lines; the
/// caller logs them and exits.
pub fn load_at_startup(srv: &mut Server) -> Result<(), String> {
    if srv.config.appendonly {
        srv.persist.aof.state = State::On;
    }
    load_manifest_from_disk(srv)?;
    if srv.persist.aof.state == State::On {
        let t0 = std::time::Instant::now();
        match load::load_all(srv, true) {
            load::Outcome::Failed | load::Outcome::OpenErr => return Err(String::new()),
            load::Outcome::NotExist => {}
            _ => log::info!("DB loaded from append only file: {:.3} seconds", t0.elapsed().as_secs_f64()),
        }
    } else {
        crate::persist::rdb::load_at_startup(srv)?;
    }
    open_on_server_start(srv)?;
    del_history_files(srv);
    Ok(())
}

/// Reads the manifest into the state; a missing directory or manifest is
/// an empty manifest.
fn load_manifest_from_disk(srv: &mut Server) -> Result<(), String> {
    srv.persist.aof.manifest = Manifest::default();
    let path = dir_path(srv).join(manifest::manifest_name(&srv.config.appendfilename));
    if !dir_path(srv).is_dir() || !path.exists() {
        return Ok(());
    }
    let data = std::fs::read(&path).map_err(|e| {
        // COMPAT: aofLoadManifestFromFile's message.
        format!(
            "Fatal error: can't open the AOF manifest file {} for reading: {}",
            path.display(),
            crate::config::strerror(&e)
        )
    })?;
    srv.persist.aof.manifest = Manifest::parse(&data).map_err(|e| e.log_lines().concat())?;
    Ok(())
}

/// Redis's aofOpenIfNeededOnServerStart: with AOF on, makes a BASE when
/// there is nothing at all, opens the last INCR file (or a new one) for
/// appending and writes the manifest.
fn open_on_server_start(srv: &mut Server) -> Result<(), String> {
    if srv.persist.aof.state != State::On {
        return Ok(());
    }
    if !create_dir(srv) {
        return Err(String::new());
    }
    let filename = srv.config.appendfilename.clone();
    let dir = dir_path(srv);
    if srv.persist.aof.manifest.is_empty() {
        let base = srv.persist.aof.manifest.new_base(&filename, srv.config.aof_use_rdb_preamble);
        if !rewrite::rewrite_file(srv, &dir.join(&base)) {
            return Err(String::new());
        }
        // COMPAT: the start-up messages below are aof.c's.
        log::info!("Creating AOF base file {base} on server start");
    }
    let had_incr = !srv.persist.aof.manifest.incr.is_empty();
    let name = srv.persist.aof.manifest.last_incr_or_new(&filename);
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join(&name))
        .map_err(|e| format!("Can't open the append-only file {name}: {}", crate::config::strerror(&e)))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let a = &mut srv.persist.aof;
    a.file = Some(file);
    if !a.manifest.persist(&dir, &filename) {
        return Err(String::new());
    }
    a.last_incr_size = size;
    a.last_incr_fsync_offset = size;
    if had_incr {
        log::info!("Opening AOF incr file {name} on server start");
    } else {
        log::info!("Creating AOF incr file {name} on server start");
    }
    Ok(())
}

/// Deletes HISTORY files and drops them from the manifest, unless
/// `aof-disable-auto-gc` is on.
pub fn del_history_files(srv: &mut Server) {
    if srv.config.aof_disable_auto_gc || srv.persist.aof.manifest.history.is_empty() {
        return;
    }
    let dir = dir_path(srv);
    for p in std::mem::take(&mut srv.persist.aof.manifest.history) {
        // COMPAT: aofDelHistoryFiles's message.
        log::info!("Removing the history file {} in the background", p.name);
        let _ = std::fs::remove_file(dir.join(&p.name));
    }
    srv.persist.aof.manifest.dirty = true;
    let filename = srv.config.appendfilename.clone();
    srv.persist.aof.manifest.persist(&dir, &filename);
}

// ------------------------------------------------------------- on and off

/// Redis's startAppendOnly (CONFIG SET appendonly yes): waits for a first
/// rewrite, started now or scheduled when another child runs.
fn start(srv: &mut Server) -> bool {
    srv.persist.aof.state = State::WaitRewrite;
    if srv.persist.child.is_some() && !srv.persist.child_is(crate::persist::child::ChildKind::Aof) {
        srv.persist.aof.rewrite_scheduled = true;
        // COMPAT: startAppendOnly's messages.
        log::warn!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
    } else if srv.prop.nested() {
        srv.persist.aof.rewrite_scheduled = true;
        log::warn!("AOF was enabled during a transaction. An AOF background was scheduled to start when possible.");
    } else {
        if srv.persist.child_is(crate::persist::child::ChildKind::Aof) {
            log::warn!("AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now.");
            rewrite::kill_child(srv);
        }
        if !rewrite::rewrite_background(srv) {
            srv.persist.aof.state = State::Off;
            log::warn!("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
            return false;
        }
    }
    if srv.bio.fsync_error().is_some() {
        // COMPAT: startAppendOnly's message.
        log::warn!("AOF reopen, just ignore the AOF fsync error in bio job");
        srv.bio.clear_fsync_error();
    }
    let a = &mut srv.persist.aof;
    a.last_fsync = srv.clock.now_secs();
    if !a.last_write_ok {
        log::warn!("AOF reopen, just ignore the last error.");
        a.last_write_ok = true;
    }
    true
}

/// Redis's stopAppendOnly (CONFIG SET appendonly no): flushes, fsyncs and
/// closes the INCR file, kills a rewriting child, and waits for background
/// fsyncs still queued, so none of them reports on a later AOF.
fn stop(srv: &mut Server) {
    writer::flush(srv, true);
    let a = &mut srv.persist.aof;
    if let Some(f) = a.file.take() {
        match f.sync_data() {
            Ok(()) => a.last_fsync = srv.clock.now_secs(),
            // COMPAT: stopAppendOnly's message.
            Err(e) => log::warn!("Fail to fsync the AOF file: {}", crate::config::strerror(&e)),
        }
    }
    a.selected_db = None;
    a.state = State::Off;
    a.rewrite_scheduled = false;
    a.last_incr_size = 0;
    a.last_incr_fsync_offset = 0;
    rewrite::kill_child(srv);
    srv.persist.aof.buf = Vec::new();
    srv.persist.aof.flush_postponed_start = 0;
    srv.bio.drain();
}

/// CONFIG SET side effects of `appendonly` and `aof-disable-auto-gc`.
pub fn config_changed(srv: &mut Server, name: &str) -> CmdResult {
    match name {
        "appendonly" => {
            let on = srv.persist.aof.state != State::Off;
            if !srv.config.appendonly && on {
                stop(srv);
            } else if srv.config.appendonly && !on && !start(srv) {
                // COMPAT: updateAppendonly's error.
                return Err(ReplyError::err(
                    "CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF. Check server logs.",
                ));
            }
        }
        "aof-disable-auto-gc" if !srv.config.aof_disable_auto_gc => del_history_files(srv),
        _ => {}
    }
    Ok(())
}

// -------------------------------------------------------------------- cron

/// Cron duties: a scheduled rewrite once no child runs, the automatic
/// rewrite on growth, a write postponed behind a background fsync, logging
/// a failed background fsync, and retrying a failed write.
pub fn cron(srv: &mut Server) {
    if let Some(errno) = srv.bio.take_new_fsync_failure() {
        // COMPAT: the bio thread's message in Redis.
        log::warn!(
            "Fail to fsync the AOF file: {}",
            crate::config::strerror(&std::io::Error::from_raw_os_error(errno))
        );
    }
    if srv.persist.child.is_none() && srv.persist.aof.rewrite_scheduled && !rewrite::limited(srv) {
        rewrite::rewrite_background(srv);
    }
    let a = &srv.persist.aof;
    let perc = srv.config.auto_aof_rewrite_percentage;
    if a.state == State::On
        && srv.persist.child.is_none()
        && perc > 0
        && a.current_size as i64 > srv.config.auto_aof_rewrite_min_size
    {
        let base = a.base_size.max(1) as i64;
        let growth = a.current_size as i64 * 100 / base - 100;
        if growth >= perc && !rewrite::limited(srv) {
            // COMPAT: serverCron's message.
            log::info!("Starting automatic rewriting of AOF on {growth}% growth");
            rewrite::rewrite_background(srv);
        }
    }
    // Each tick: the fsync holding a write back may be over.
    if srv.persist.aof.state != State::Off && srv.persist.aof.flush_postponed_start != 0 {
        writer::flush(srv, false);
    }
    if srv.persist.aof.state != State::Off
        && !srv.persist.aof.last_write_ok
        && srv.cron_loops.is_multiple_of(srv.config.hz.clamp(1, 500) as u64)
    {
        writer::flush(srv, false);
    }
}

/// Redis's writeCommandsDeniedByDiskError for the AOF: the MISCONF error
/// while the last write, or the last background fsync, failed.
pub fn deny_writes_error(srv: &Server) -> Option<ReplyError> {
    let a = &srv.persist.aof;
    if a.state == State::Off {
        return None;
    }
    let err = if !a.last_write_ok {
        a.last_write_err.clone()
    } else {
        let errno = srv.bio.fsync_error()?;
        crate::config::strerror(&std::io::Error::from_raw_os_error(errno))
    };
    // COMPAT: writeCommandsGetDiskErrorMessage.
    Some(ReplyError::other(format!("MISCONF Errors writing to the AOF file: {err}")))
}

// ---------------------------------------------------------------- shutdown

/// SHUTDOWN's AOF steps: refuses (without FORCE) while the first rewrite
/// after CONFIG SET appendonly yes runs, kills a rewriting child, then
/// flushes and fsyncs the INCR file and waits for the background jobs
/// (an fsync and close of a replaced INCR file may still be queued). False
/// means "do not exit".
pub fn prepare_for_shutdown(srv: &mut Server, force: bool) -> bool {
    if srv.persist.child_is(crate::persist::child::ChildKind::Aof) {
        if srv.persist.aof.state == State::WaitRewrite {
            // COMPAT: prepareForShutdown's messages.
            if force {
                log::warn!("Writing initial AOF. Exit anyway.");
            } else {
                log::warn!("Writing initial AOF, can't exit.");
                return false;
            }
        }
        log::warn!("There is a child rewriting the AOF. Killing it!");
        rewrite::kill_child(srv);
    }
    if srv.persist.aof.state != State::Off {
        log::info!("Calling fsync() on the AOF file.");
        writer::flush(srv, true);
        if let Some(Err(e)) = srv.persist.aof.file.as_ref().map(|f| f.sync_data()) {
            log::warn!("Fail to fsync the AOF file: {}.", crate::config::strerror(&e));
        }
    }
    srv.bio.drain();
    true
}

// ------------------------------------------------------------------- DEBUG

/// DEBUG LOADAOF: flushes, empties the dataset and loads the files the
/// manifest on disk names. A failed load ends the process, as in Redis.
pub fn debug_loadaof(srv: &mut Server, c: &mut Client) -> CmdResult {
    if srv.persist.aof.state != State::Off {
        writer::flush(srv, true);
    }
    for db in 0..srv.ks.dbs.len() {
        srv.ks.flush_db(db);
    }
    if let Err(e) = load_manifest_from_disk(srv) {
        for line in e.lines() {
            log::warn!("{line}");
        }
        std::process::exit(1);
    }
    del_history_files(srv);
    match load::load_all(srv, false) {
        load::Outcome::Ok | load::Outcome::Empty => {}
        _ => std::process::exit(1),
    }
    srv.ks.dirty = 0;
    // COMPAT: debugCommand's message.
    log::warn!("Append Only File loaded by DEBUG LOADAOF");
    c.reply.ok();
    Ok(())
}

// -------------------------------------------------------------------- INFO

/// The `aof_*` fields of INFO persistence that are always shown.
pub fn info_fields(srv: &Server) -> Vec<(&'static str, String)> {
    let a = &srv.persist.aof;
    let child = srv.persist.child_is(crate::persist::child::ChildKind::Aof);
    let now = srv.clock.now_secs();
    let ok = |b: bool| if b { "ok" } else { "err" }.to_string();
    vec![
        ("aof_enabled", u8::from(a.state != State::Off).to_string()),
        ("aof_rewrite_in_progress", u8::from(child).to_string()),
        ("aof_rewrite_scheduled", u8::from(a.rewrite_scheduled).to_string()),
        ("aof_last_rewrite_time_sec", a.rewrite_time_last.to_string()),
        ("aof_current_rewrite_time_sec", a.rewrite_started.filter(|_| child).map_or(-1, |t| now - t).to_string()),
        ("aof_last_bgrewrite_status", ok(a.last_bgrewrite_ok)),
        ("aof_rewrites", a.rewrites.to_string()),
        ("aof_rewrites_consecutive_failures", a.consecutive_failures.to_string()),
        ("aof_last_write_status", ok(a.last_write_ok && srv.bio.fsync_error().is_none())),
        ("aof_last_cow_size", a.last_cow.to_string()),
    ]
}

/// The fields INFO persistence adds while `appendonly` is on.
pub fn info_enabled_fields(srv: &Server) -> Vec<(&'static str, String)> {
    if !srv.config.appendonly {
        return Vec::new();
    }
    let a = &srv.persist.aof;
    vec![
        ("aof_current_size", a.current_size.to_string()),
        ("aof_base_size", a.base_size.to_string()),
        ("aof_pending_rewrite", u8::from(a.rewrite_scheduled).to_string()),
        ("aof_buffer_length", a.buf.len().to_string()),
        ("aof_pending_bio_fsync", srv.bio.pending(crate::bio::JobKind::Fsync).to_string()),
        ("aof_delayed_fsync", a.delayed_fsync.to_string()),
    ]
}
