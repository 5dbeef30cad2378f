//! Persistence: when and where the dataset goes to disk and comes back.
//!
//! Owns the RDB file's life ([`rdb`]: SAVE, BGSAVE, save points, loading at
//! start-up, DEBUG RELOAD, the save on SHUTDOWN and FLUSHALL), the
//! append-only file ([`aof`]: manifest, appends, rewrites), the forked
//! child that writes snapshots ([`child`]) and the state INFO persistence
//! reports. The byte format lives in `crate::rdb`; this module only decides
//! when to write, to which file, and what a failure means (the MISCONF
//! refusal), as Redis's rdb.c and serverCron do.

pub mod aof;
pub mod child;
pub mod rdb;

use crate::server::Server;

/// Persistence state kept by the server.
#[derive(Debug)]
pub struct Persist {
    /// The running background child, if any.
    pub child: Option<child::Child>,
    /// Whether the last RDB save (foreground or background) succeeded.
    pub rdb_last_ok: bool,
    /// Duration of the last background save in seconds, -1 before any.
    pub rdb_last_bgsave_secs: i64,
    /// Successful and attempted RDB saves (INFO `rdb_saves`).
    pub rdb_saves: u64,
    /// Copy-on-write bytes of the last background save.
    pub rdb_last_cow: u64,
    /// A BGSAVE waits for the running child to finish (BGSAVE SCHEDULE).
    pub bgsave_scheduled: bool,
    /// Unix seconds of the last background save attempt (retry pacing).
    pub last_bgsave_try: i64,
    /// `dirty` when the running background save started.
    pub dirty_before_bgsave: u64,
    /// Keys loaded and keys skipped as expired by the last RDB load.
    pub last_load_keys_loaded: u64,
    /// See `last_load_keys_loaded`.
    pub last_load_keys_expired: u64,
    /// True while a file is being loaded (INFO `loading`).
    pub loading: bool,
    /// Unix seconds when the current (or last) load started.
    pub loading_started_secs: i64,
    /// Size of the file being loaded.
    pub loading_total_bytes: u64,
    /// Bytes of it loaded so far (AOF loads report their progress).
    pub loading_loaded_bytes: u64,
    /// Fork statistics (INFO stats).
    pub latest_fork_usec: u64,
    /// See `latest_fork_usec`.
    pub total_forks: u64,
    /// The append-only file.
    pub aof: aof::Aof,
}

impl Default for Persist {
    fn default() -> Persist {
        Persist {
            child: None,
            rdb_last_ok: true,
            rdb_last_bgsave_secs: -1,
            rdb_saves: 0,
            rdb_last_cow: 0,
            bgsave_scheduled: false,
            last_bgsave_try: 0,
            dirty_before_bgsave: 0,
            last_load_keys_loaded: 0,
            last_load_keys_expired: 0,
            loading: false,
            loading_started_secs: 0,
            loading_total_bytes: 0,
            loading_loaded_bytes: 0,
            latest_fork_usec: 0,
            total_forks: 0,
            aof: aof::Aof::default(),
        }
    }
}

impl Persist {
    /// Whether a background child of `kind` runs.
    pub fn child_is(&self, kind: child::ChildKind) -> bool {
        self.child.as_ref().is_some_and(|c| c.kind == kind)
    }
}

/// Server cron work: reap a finished child, start due background saves.
pub fn cron(srv: &mut Server) {
    if let Some(exit) = child::reap(srv) {
        match exit.kind {
            child::ChildKind::Rdb => rdb::child_done(srv, &exit),
            child::ChildKind::Aof => aof::rewrite::done(srv, &exit),
        }
    }
    // No save point fires while a replica loads from its master's socket
    // (the dataset is half there).
    if srv.persist.child.is_none() && !srv.persist.loading {
        rdb::cron(srv);
    }
    aof::cron(srv);
}

/// Redis's writeCommandsDeniedByDiskError: the MISCONF error a write (or
/// PING) gets while the last RDB save failed with save points configured and
/// `stop-writes-on-bgsave-error` on.
pub fn deny_writes_error(srv: &Server) -> Option<crate::client::reply::ReplyError> {
    if srv.config.stop_writes_on_bgsave_error && !srv.config.save.is_empty() && !srv.persist.rdb_last_ok {
        // COMPAT: shared.bgsaveerr.
        return Some(crate::client::reply::ReplyError::other(
            "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.",
        ));
    }
    aof::deny_writes_error(srv)
}
