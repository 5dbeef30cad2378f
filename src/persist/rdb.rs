//! The RDB file on disk: SAVE, BGSAVE [SCHEDULE], save points, LASTSAVE's
//! clock, loading at start-up and DEBUG RELOAD, as Redis 7.0's rdb.c and
//! serverCron run them.
//!
//! Saving writes `temp-<pid>.rdb` in the working directory (the server has
//! already entered `dir`), fsyncs it, renames it over `dbfilename` and
//! fsyncs the directory, so a crash leaves either the old file or the new
//! one. A background save does the same in a forked child. Loading reads
//! the whole file through `crate::rdb::read_rdb` and inserts the keys
//! directly (no notifications, no dirty count), as a load is not a write.
//! Log lines are Redis's, because operators and the test suite grep them.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use super::child::{self, ChildKind, Exit};
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::config::MaxmemoryPolicy;
use crate::db::Obj;
use crate::rdb::{LoadOptions, RdbError, RdbErrorKind, RdbInfo};
use crate::server::Server;
use crate::types::sds::Sds;

/// Seconds to wait before retrying a failed background save from a save
/// point (Redis's CONFIG_BGSAVE_RETRY_DELAY).
const BGSAVE_RETRY_DELAY: i64 = 5;

/// Writes the dataset to `dbfilename` in the foreground; logs and returns
/// false on failure. Updates LASTSAVE, the dirty counter and the last save
/// status as Redis's rdbSave does.
pub fn save(srv: &mut Server) -> bool {
    let ok = write_file(srv, &srv.config.dbfilename.clone(), std::process::id());
    srv.persist.rdb_saves += 1;
    // As rdbSave: success clears a past failure, a failure here leaves the
    // status alone (only background saves set it to failed).
    if ok {
        srv.ks.dirty = 0;
        srv.lastsave_secs = srv.clock.now_secs();
        srv.persist.rdb_last_ok = true;
    }
    ok
}

/// Writes the snapshot to a temp file named after `pid`, then renames it
/// over `filename`. Shared by the foreground save and the child.
fn write_file(srv: &Server, filename: &str, pid: u32) -> bool {
    let tmp = format!("temp-{pid}.rdb");
    let cwd = || std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_else(|_| "unknown".into());
    let mut file = match File::create(&tmp) {
        Ok(f) => f,
        Err(e) => {
            // COMPAT: rdbSave's message.
            log::warn!(
                "Failed opening the temp RDB file {tmp} (in server root dir {}) for saving: {}",
                cwd(),
                crate::config::strerror(&e)
            );
            return false;
        }
    };
    let written = write_snapshot(srv, &mut file, false).map(|_| "rdbSaveRio").and_then(|_| file.sync_all().map(|_| "fsync"));
    if let Err(e) = written {
        log::warn!("Write error saving DB on disk(rdbSaveRio): {}", crate::config::strerror(&e));
        let _ = std::fs::remove_file(&tmp);
        return false;
    }
    drop(file);
    if let Err(e) = std::fs::rename(&tmp, filename) {
        log::warn!(
            "Error moving temp DB file {tmp} on the final destination {filename} (in server root dir {}): {}",
            cwd(),
            crate::config::strerror(&e)
        );
        let _ = std::fs::remove_file(&tmp);
        return false;
    }
    if let Err(e) = fsync_dir_of(filename) {
        log::warn!("Write error saving DB on disk(fsyncFileDir): {}", crate::config::strerror(&e));
        return false;
    }
    log::info!("DB saved on disk");
    true
}

/// The RDB bytes of the current dataset into `out`; `aof_base` marks the
/// image as an AOF BASE (the `aof-base` AUX field is 1).
pub(crate) fn write_snapshot(srv: &Server, out: &mut impl Write, aof_base: bool) -> io::Result<()> {
    write_snapshot_parts(srv, out, aof_base, Default::default())
}

/// The RDB bytes of a replica's snapshot, without the parts its
/// rdb-filter-only leaves out.
pub(crate) fn write_filtered_snapshot(
    srv: &Server,
    out: &mut impl Write,
    filter: crate::repl::RdbFilter,
) -> io::Result<()> {
    write_snapshot_parts(srv, out, false, filter)
}

fn write_snapshot_parts(
    srv: &Server,
    out: &mut impl Write,
    aof_base: bool,
    filter: crate::repl::RdbFilter,
) -> io::Result<()> {
    let mut opts = srv.rdb_save_options();
    opts.progress = Some(child::report_progress);
    if matches!(srv.config.maxmemory_policy, MaxmemoryPolicy::AllkeysLru | MaxmemoryPolicy::VolatileLru) {
        opts.lru_now_ms = Some(srv.ks.now_ms);
    }
    let mut aux = srv.rdb_aux_fields();
    if aof_base {
        aux.iter_mut().filter(|(k, _)| *k == "aof-base").for_each(|(_, v)| *v = "1".to_string());
    }
    let functions = if filter.exclude_functions { Vec::new() } else { srv.script.functions.sources() };
    if filter.exclude_data {
        // The same header and AUX fields, no databases.
        let empty = crate::db::Keyspace::new(srv.ks.dbs.len());
        return crate::rdb::file::write_rdb_with_functions(out, &empty, &aux, &functions, opts);
    }
    crate::rdb::file::write_rdb_with_functions(out, &srv.ks, &aux, &functions, opts)
}

fn fsync_dir_of(filename: &str) -> io::Result<()> {
    let dir = Path::new(filename).parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

/// Starts a background save; on failure to fork, logs, marks the last
/// save as failed and returns false.
pub fn bgsave(srv: &mut Server) -> bool {
    srv.persist.rdb_saves += 1;
    srv.persist.dirty_before_bgsave = srv.ks.dirty;
    srv.persist.last_bgsave_try = srv.clock.now_secs();
    let filename = srv.config.dbfilename.clone();
    match child::spawn(srv, ChildKind::Rdb, |srv| write_file(srv, &filename, std::process::id())) {
        Ok(pid) => {
            // COMPAT: rdbSaveBackground's message.
            log::info!("Background saving started by pid {pid}");
            true
        }
        Err(e) => {
            srv.persist.rdb_last_ok = false;
            log::warn!("Can't save in background: fork: {e}");
            false
        }
    }
}

/// The parent's side of a finished background save.
pub fn bgsave_done(srv: &mut Server, exit: &Exit) {
    if exit.ok() {
        // COMPAT: backgroundSaveDoneHandlerDisk's messages.
        log::info!("Background saving terminated with success");
        srv.ks.dirty = srv.ks.dirty.saturating_sub(srv.persist.dirty_before_bgsave);
        srv.lastsave_secs = srv.clock.now_secs();
        srv.persist.rdb_last_ok = true;
        srv.persist.rdb_last_cow = exit.cow_bytes;
    } else if let Some(sig) = exit.signal.or(exit.killed.then_some(libc::SIGUSR1)) {
        log::warn!("Background saving terminated by signal {sig}");
        remove_temp_file(exit);
        if sig != libc::SIGUSR1 {
            srv.persist.rdb_last_ok = false;
        }
    } else {
        log::warn!("Background saving error");
        srv.persist.rdb_last_ok = false;
    }
    srv.persist.rdb_last_bgsave_secs = exit.elapsed_secs;
}

fn remove_temp_file(exit: &Exit) {
    let _ = std::fs::remove_file(format!("temp-{}.rdb", exit.pid));
}

/// Save points and scheduled saves (server cron, no child running).
pub fn cron(srv: &mut Server) {
    let now = srv.clock.now_secs();
    if srv.persist.bgsave_scheduled {
        srv.persist.bgsave_scheduled = false;
        bgsave(srv);
        return;
    }
    let retry_ok = now - srv.persist.last_bgsave_try > BGSAVE_RETRY_DELAY || srv.persist.rdb_last_ok;
    let due = srv
        .config
        .save
        .iter()
        .find(|&&(secs, changes)| srv.ks.dirty >= changes.max(0) as u64 && now - srv.lastsave_secs > secs);
    if let (Some(&(secs, changes)), true) = (due, retry_ok) {
        // COMPAT: serverCron's message.
        log::info!("{changes} changes in {secs} seconds. Saving...");
        bgsave(srv);
    }
}

/// Kills a running background save (FLUSHALL, SHUTDOWN, DEBUG RELOAD) and
/// removes its temp file.
pub fn kill_child(srv: &mut Server) {
    if let Some(exit) = child::kill_and_wait(srv, ChildKind::Rdb) {
        child_done(srv, &exit);
    }
}

/// The RDB child ended: a save to disk updates the save state (a diskless
/// transfer to replicas does not), then replication takes what it needs.
pub fn child_done(srv: &mut Server, exit: &Exit) {
    if !srv.repl.sync_socket {
        bgsave_done(srv, exit);
    }
    crate::repl::sync::child_done(srv, exit);
}

// ---------------------------------------------------------------- loading

/// How a load went wrong.
#[derive(Debug)]
pub enum LoadError {
    /// No file: start empty.
    NotFound,
    /// The file could not be read.
    Io(io::Error),
    /// The contents are bad.
    Bad(RdbError),
}

/// How often clients are served while a start-up load runs.
pub(crate) const LOADING_EVENTS_EVERY: std::time::Duration = std::time::Duration::from_millis(10);

/// Loads `path` into the keyspace (which the caller has emptied or means
/// to merge into). Keys already present are an error unless `replace`.
/// With `serve_clients` (start-up) other clients are served meanwhile and
/// get LOADING for what they may not run yet.
pub fn load_file(srv: &mut Server, path: &str, replace: bool, serve_clients: bool) -> Result<RdbInfo, LoadError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(LoadError::NotFound),
        Err(e) => return Err(LoadError::Io(e)),
    };
    srv.persist.loading_total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    srv.persist.loading_loaded_bytes = 0;
    load_from(srv, &mut file, replace, true, serve_clients)
}

/// Loads an RDB image read from `input` (a file, or an AOF BASE); keys
/// whose time has passed are skipped only when `skip_expired` (an AOF
/// preamble keeps them, as Redis does). With `serve_clients`, clients are
/// served meanwhile (see [`load_file`]).
pub(crate) fn load_from(
    srv: &mut Server,
    input: &mut impl io::Read,
    replace: bool,
    skip_expired: bool,
    serve_clients: bool,
) -> Result<RdbInfo, LoadError> {
    let was_loading = srv.persist.loading;
    srv.persist.loading = true;
    srv.persist.loading_started_secs = srv.clock.now_secs();
    let mut last_events = std::time::Instant::now();
    let limits = crate::cmd::dump::load_limits(srv);
    let opts = LoadOptions {
        databases: srv.ks.dbs.len(),
        // A replica keeps expired keys: its master sends their deletions.
        skip_expired_before_ms: (skip_expired && crate::cluster::i_am_master(srv)).then_some(srv.clock.now_ms),
        verify_checksum: srv.config.rdbchecksum && !crate::rdb::skip_checksum_validation(),
    };
    let now = srv.clock.now_ms;
    // Each RESIZEDB hint sizes the tables up front, as Redis's dictExpand.
    let sizes = std::cell::RefCell::new(Vec::new());
    let result = crate::rdb::read_rdb_sized(input, &limits, opts, |db, keys, expires| sizes.borrow_mut().push((db, keys, expires)), |k| {
        for (db, keys, expires) in sizes.borrow_mut().drain(..) {
            reserve_db(&mut srv.ks.dbs, db, keys, expires);
        }
        insert_loaded_key(&mut srv.ks.dbs, srv.ks.slot_index.as_deref_mut(), &srv.ks.access, now, k, replace)?;
        key_load_pause(srv.config.key_load_delay);
        if serve_clients && last_events.elapsed() >= LOADING_EVENTS_EVERY {
            srv.process_events_while_blocked();
            last_events = std::time::Instant::now();
        }
        Ok(())
    });
    srv.persist.loading = was_loading;
    let info = result.map_err(LoadError::Bad)?;
    // Libraries already present are an error unless merging, as keys are.
    if let Err(e) = crate::script::function::load_sources(srv, &info.functions, replace) {
        // COMPAT: rdbFunctionLoad's log line.
        log::warn!("Failed loading library, {e}");
        return Err(LoadError::Bad(crate::rdb::RdbError { offset: 0, kind: crate::rdb::RdbErrorKind::Corrupt, reason: e }));
    }
    srv.persist.last_load_keys_loaded = info.keys_loaded;
    srv.persist.last_load_keys_expired = info.keys_expired;
    if info.version >= 5 && !info.checksummed && opts.verify_checksum {
        log::warn!("RDB file was saved with checksum disabled: no check performed.");
    }
    if info.empty_keys_skipped > 0 {
        log::warn!(
            "Done loading RDB, keys loaded: {}, keys expired: {}, empty keys skipped: {}.",
            info.keys_loaded,
            info.keys_expired,
            info.empty_keys_skipped
        );
    } else {
        log::info!("Done loading RDB, keys loaded: {}, keys expired: {}.", info.keys_loaded, info.keys_expired);
    }
    Ok(info)
}

/// Sizes database `db` of `dbs` for `keys` more keys, `expires` of them
/// with a TTL (a RESIZEDB hint), as Redis's dictExpand does up front.
pub(crate) fn reserve_db(dbs: &mut [crate::db::Db], db: usize, keys: u64, expires: u64) {
    if let Some(d) = dbs.get_mut(db) {
        d.dict.reserve(d.dict.len() + keys as usize);
        d.expires.reserve(d.expires.len() + expires as usize);
    }
}

/// Puts one key read from an RDB image into `dbs`: the keyspace's own
/// databases, or the side set a replica fills while it loads from its
/// master's socket. Its access clock starts from `now` (or what the file
/// recorded); a key already present is an error unless `replace`.
pub(crate) fn insert_loaded_key(
    dbs: &mut [crate::db::Db],
    slot_index: Option<&mut crate::db::slots::SlotIndex>,
    access: &crate::evict::AccessPolicy,
    now: i64,
    k: crate::rdb::LoadedKey,
    replace: bool,
) -> Result<(), RdbError> {
    let mut obj = Obj::with_lru(k.value, access.initial(now));
    crate::evict::set_access(&mut obj, access, k.freq, k.idle_secs.map(|s| s as i64), now);
    let Some(d) = dbs.get_mut(k.db) else {
        return Err(RdbError { offset: 0, kind: RdbErrorKind::Corrupt, reason: format!("Bad database {}", k.db) });
    };
    let key = Sds::from(&k.key[..]);
    // Db 0 keeps the cluster's per-slot index up to date (when it has one).
    let index = if k.db == 0 { slot_index } else { None };
    let had = crate::db::slots::insert(&mut d.dict, index, key.clone(), obj).is_some();
    if had && !replace {
        return Err(RdbError {
            offset: 0,
            kind: RdbErrorKind::Corrupt,
            // COMPAT: rdbLoadRio's message for a repeated key.
            reason: format!("RDB has duplicated key '{}' in DB {}", String::from_utf8_lossy(&k.key), k.db),
        });
    }
    match k.expire_at_ms {
        Some(at) => {
            d.expires.insert(key, at);
        }
        None if had => {
            d.expires.remove(&key[..]);
        }
        None => {}
    }
    Ok(())
}

/// `key-load-delay`: the pause after each loaded key, a testing aid that
/// makes loads slow (microseconds; negative values are nanoseconds, as
/// Redis's debugDelay reads them).
pub(crate) fn key_load_pause(delay: i64) {
    match delay {
        0 => {}
        d if d > 0 => std::thread::sleep(std::time::Duration::from_micros(d as u64)),
        d => std::thread::sleep(std::time::Duration::from_nanos(d.unsigned_abs())),
    }
}

/// Loads `dbfilename` at start-up. A missing file starts an empty server;
/// any other failure is fatal, with a message naming the file and offset.
pub fn load_at_startup(srv: &mut Server) -> Result<(), String> {
    let t0 = std::time::Instant::now();
    let path = srv.config.dbfilename.clone();
    srv.backlog_for_startup_load();
    match load_file(srv, &path, false, true) {
        Ok(info) => {
            // COMPAT: loadDataFromDisk's message.
            log::info!("DB loaded from disk: {:.3} seconds", t0.elapsed().as_secs_f64());
            srv.restore_repl_history(&info.aux, &info.expired_keys);
            Ok(())
        }
        Err(LoadError::NotFound) => {
            srv.restore_repl_history(&[], &[]);
            Ok(())
        }
        Err(LoadError::Io(e)) => Err(format!("Fatal error loading the DB: {}. Exiting.", crate::config::strerror(&e))),
        Err(LoadError::Bad(e)) => {
            // As Redis: the error, then the checker's report on the file
            // (which ends with the "Terminating server" line).
            let mut report = Vec::new();
            let _ = crate::rdb::check::check_rdb_file(&path, srv.clock.now_ms, &mut report);
            Err(format!("{}\n{}", describe_bad_file(&path, &e), String::from_utf8_lossy(&report).trim_end()))
        }
    }
}

/// The log text for a corrupt or truncated file: Redis's lines (which the
/// suite greps) plus the file name and offset.
fn describe_bad_file(path: &str, e: &RdbError) -> String {
    match e.kind {
        RdbErrorKind::Truncated => {
            format!("Short read or OOM loading DB. Unrecoverable error, aborting now. ({path}: unexpected end of file at offset {})", e.offset)
        }
        RdbErrorKind::Checksum => {
            format!("{}\nInternal error in RDB reading offset {} -> RDB CRC error (file {path})", e.reason, e.offset)
        }
        _ => format!("{e} (file {path})"),
    }
}

// --------------------------------------------------------------- commands

/// SAVE.
pub fn save_command(srv: &mut Server, c: &mut Client) -> CmdResult {
    if srv.persist.child_is(ChildKind::Rdb) {
        return Err(ReplyError::err("Background save already in progress"));
    }
    if save(srv) {
        c.reply.ok();
        Ok(())
    } else {
        // COMPAT: Redis replies the bare shared.err.
        Err(ReplyError::other("ERR"))
    }
}

/// BGSAVE [SCHEDULE].
pub fn bgsave_command(srv: &mut Server, c: &mut Client) -> CmdResult {
    let schedule = match c.argc() {
        1 => false,
        2 if c.arg(1).eq_ignore_ascii_case(b"schedule") => true,
        _ => return Err(ReplyError::Syntax),
    };
    if srv.persist.child_is(ChildKind::Rdb) {
        return Err(ReplyError::err("Background save already in progress"));
    }
    if srv.persist.child.is_some() || c.in_exec {
        if schedule || c.in_exec {
            srv.persist.bgsave_scheduled = true;
            c.reply.simple("Background saving scheduled");
            return Ok(());
        }
        // COMPAT: bgsaveCommand's refusal.
        return Err(ReplyError::err(
            "Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
        ));
    }
    if bgsave(srv) {
        c.reply.simple("Background saving started");
        Ok(())
    } else {
        Err(ReplyError::other("ERR"))
    }
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save (unless NOSAVE), empty the
/// dataset (unless NOFLUSH) and load the file again (MERGE lets loaded keys
/// replace existing ones).
pub fn debug_reload(srv: &mut Server, c: &mut Client) -> CmdResult {
    // DEBUG runs while a file loads (it has the loading flag); a reload
    // nested in that load would pull the keyspace from under it.
    if srv.persist.loading {
        // COMPAT: shared.loadingerr.
        return Err(ReplyError::other("LOADING Redis is loading the dataset in memory"));
    }
    let (mut merge, mut flush, mut do_save) = (false, true, true);
    for i in 2..c.argc() {
        let a = c.arg(i);
        if a.eq_ignore_ascii_case(b"merge") {
            merge = true;
        } else if a.eq_ignore_ascii_case(b"noflush") {
            flush = false;
        } else if a.eq_ignore_ascii_case(b"nosave") {
            do_save = false;
        } else {
            return Err(ReplyError::err("DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."));
        }
    }
    if do_save {
        kill_child(srv);
        if !save(srv) {
            return Err(ReplyError::other("ERR"));
        }
    }
    if flush {
        for db in 0..srv.ks.dbs.len() {
            srv.ks.flush_db(db);
        }
        // Redis's emptyData takes the function libraries too.
        srv.script.functions.flush();
    }
    let path = srv.config.dbfilename.clone();
    match load_file(srv, &path, merge, false) {
        Ok(_) => {
            log::warn!("DB reloaded by DEBUG RELOAD");
            c.reply.ok();
            Ok(())
        }
        Err(e) => {
            if let LoadError::Bad(e) = &e {
                log::warn!("{}", describe_bad_file(&path, e));
            }
            Err(ReplyError::err("Error trying to load the RDB dump"))
        }
    }
}
