//! The one door through which changes to the dataset leave the server.
//!
//! Owns the "execution unit": every command that changed data (the keyspace's
//! write counter moved, or the handler forced it) is queued here after it
//! runs, together with anything the handler asked to propagate in its place
//! or besides it, and with the DELs of keys that expired under it. When the
//! outermost command returns, the unit is emitted: wrapped in MULTI/EXEC when
//! it holds more than one command (EXEC of a transaction, a command plus the
//! expiry it caused), bare otherwise. Active expiry and eviction emit each
//! deletion as a unit of its own.
//!
//! Emitting means feeding the sinks: the replication stream (`crate::repl`)
//! and, when it lands, the AOF. This module decides *what* leaves and in
//! which order; it must not know how replicas or files store it.
//!
//! Mirrors Redis 7.0's `call()`/`alsoPropagate()`/`propagatePendingCommands()`
//! contract: handlers rewrite what they propagate (SET EX -> SET PXAT, BLPOP
//! -> LPOP, SPOP -> SREM ...) with [`Server::propagate_as`], add commands with
//! [`Server::also_propagate`], or suppress themselves with
//! [`Server::prevent_propagation`].

use bytes::Bytes;

use crate::server::Server;

/// One command to propagate: the database it applies to and its words.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    /// Database the command runs in on the receiving side.
    pub db: usize,
    /// The command and its arguments.
    pub argv: Vec<Bytes>,
    /// Sinks this command skips (`SKIP_AOF`, `SKIP_REPL`): a script's
    /// `redis.set_repl`.
    pub skip: u8,
}

/// [`Op::skip`]: not written to the AOF.
pub const SKIP_AOF: u8 = 1;
/// [`Op::skip`]: not sent to the replicas.
pub const SKIP_REPL: u8 = 2;

/// What the running handler asked for its own propagation.
#[derive(Debug, Default, Clone)]
struct CallFlags {
    /// Propagate these words instead of the client's argv.
    rewrite: Option<Vec<Bytes>>,
    /// Do not propagate the command itself (what it added still goes).
    prevent: bool,
    /// Propagate even though nothing in the keyspace changed.
    force: bool,
}

/// Propagation state owned by the server.
#[derive(Debug, Default)]
pub struct Propagation {
    /// Commands of the execution unit in progress, in order.
    unit: Vec<Op>,
    /// How many `call()`s are on the stack (EXEC runs its queue nested).
    depth: u32,
    /// The running handler's requests; saved and restored around nesting.
    flags: CallFlags,
    /// Whether the running top-level command may touch arbitrary keys, in
    /// which case its unit is never wrapped (Redis's rule for such commands).
    no_wrap: bool,
    /// Sinks the commands of the running script skip (`redis.set_repl`).
    pub(crate) script_skip: u8,
    /// How many of the keyspace's `expired` entries are already queued. The
    /// list itself stays until the outermost command is done, because
    /// client tracking reads it too (an expiry is nobody's write).
    expired_seen: usize,
}

/// State `begin_call` hands to `end_call` for one command.
pub struct CallMark {
    dirty: u64,
    saved: CallFlags,
}

/// Shared words, so hot paths do not allocate them.
pub mod words {
    use bytes::Bytes;
    /// `DEL`.
    pub const DEL: Bytes = Bytes::from_static(b"DEL");
    /// `UNLINK`.
    pub const UNLINK: Bytes = Bytes::from_static(b"UNLINK");
    /// `MULTI`.
    pub const MULTI: Bytes = Bytes::from_static(b"MULTI");
    /// `EXEC`.
    pub const EXEC: Bytes = Bytes::from_static(b"EXEC");
    /// `SELECT`.
    pub const SELECT: Bytes = Bytes::from_static(b"SELECT");
    /// `PING` (the master's keepalive in the replication stream).
    pub const PING: Bytes = Bytes::from_static(b"PING");
    /// `REPLCONF`.
    pub const REPLCONF: Bytes = Bytes::from_static(b"REPLCONF");
    /// `GETACK`.
    pub const GETACK: Bytes = Bytes::from_static(b"GETACK");
    /// `*`.
    pub const STAR: Bytes = Bytes::from_static(b"*");

    /// The verb a deletion propagates as: UNLINK when the matching
    /// `lazyfree-lazy-*` option is on, DEL otherwise.
    pub fn deletion(lazy: bool) -> Bytes {
        if lazy {
            UNLINK
        } else {
            DEL
        }
    }
}

impl Propagation {
    /// True while no command is running (cron, before-sleep).
    pub fn at_top(&self) -> bool {
        self.depth == 0
    }

    /// True while a command runs inside another one (EXEC's queue).
    pub fn nested(&self) -> bool {
        self.depth > 1
    }
}

impl Server {
    /// Whether anything consumes the stream: a backlog, replicas, the AOF
    /// or a slot migration's importer. Without one, units are not even
    /// assembled; nor while a file is being loaded (its commands are
    /// already on disk).
    pub fn propagating(&self) -> bool {
        (self.repl.backlog.is_some()
            || !self.repl.replicas.is_empty()
            || self.persist.aof.state != crate::persist::aof::State::Off
            || self.cluster.as_deref().is_some_and(|cl| cl.migration.streaming()))
            && !self.persist.loading
    }

    /// Adds a command to the current execution unit, after whatever the
    /// running command has queued so far (Redis's `alsoPropagate`).
    pub fn also_propagate(&mut self, db: usize, argv: Vec<Bytes>) {
        if !self.propagating() {
            return;
        }
        self.queue_expired_deletions();
        let skip = self.prop.script_skip;
        if skip != SKIP_AOF | SKIP_REPL {
            self.prop.unit.push(Op { db, argv, skip });
        }
    }

    /// Propagates `argv` instead of the running command's own words.
    pub fn propagate_as(&mut self, argv: Vec<Bytes>) {
        self.prop.flags.rewrite = Some(argv);
    }

    /// Keeps the running command itself out of the stream; commands it
    /// added with [`Server::also_propagate`] still go.
    pub fn prevent_propagation(&mut self) {
        self.prop.flags.prevent = true;
    }

    /// Propagates the running command even if it changed nothing (FLUSHALL
    /// of an empty server, PUBLISH).
    pub fn force_propagation(&mut self) {
        self.prop.flags.force = true;
    }

    /// Sets the sinks the commands queued from now on skip (a script's
    /// `redis.set_repl`; 0 again once the script's command returns).
    pub(crate) fn prop_set_script_skip(&mut self, skip: u8) {
        self.prop.script_skip = skip;
    }

    /// Called by `call()` before the handler runs.
    pub(crate) fn begin_call(&mut self, touches_arbitrary_keys: bool) -> CallMark {
        if self.prop.depth == 0 {
            self.prop.no_wrap = touches_arbitrary_keys;
        }
        self.prop.depth += 1;
        CallMark { dirty: self.ks.dirty, saved: std::mem::take(&mut self.prop.flags) }
    }

    /// Called by `call()` after the handler ran: queues the command if it
    /// changed data (EXEC never propagates itself: its commands did), and
    /// emits the unit when this was the outermost call.
    pub(crate) fn end_call(&mut self, argv: &[Bytes], db: usize, is_exec: bool, mark: CallMark) {
        let flags = std::mem::replace(&mut self.prop.flags, mark.saved);
        let sinks = self.propagating();
        if sinks {
            self.queue_expired_deletions();
        }
        // A save resets the counter: only growth means "changed" (as in Redis).
        let changed = self.ks.dirty > mark.dirty;
        if sinks && !is_exec && !flags.prevent && (changed || flags.force) {
            let argv = flags.rewrite.unwrap_or_else(|| argv.to_vec());
            let skip = self.prop.script_skip;
            if skip != SKIP_AOF | SKIP_REPL {
                self.prop.unit.push(Op { db, argv, skip });
            }
        }
        self.prop.depth -= 1;
        if self.prop.depth == 0 {
            self.emit_unit();
        }
    }

    /// Queues a DEL (or UNLINK, under `lazyfree-lazy-expire`) for every key
    /// the keyspace expired since the last call, in expiry order.
    fn queue_expired_deletions(&mut self) {
        if self.ks.expired.len() <= self.prop.expired_seen || !self.propagating() {
            return;
        }
        let verb = words::deletion(self.config.lazyfree_lazy_expire);
        for (db, key) in &self.ks.expired[self.prop.expired_seen..] {
            self.prop.unit.push(Op { db: *db, argv: vec![verb.clone(), Bytes::copy_from_slice(key)], skip: 0 });
        }
        self.prop.expired_seen = self.ks.expired.len();
    }

    /// Emits deletions made outside any command (active expiry), each as a
    /// unit of its own, then forgets the expired keys: the list lives until
    /// no command is running because client tracking reads it too.
    pub fn propagate_background_deletions(&mut self) {
        if !self.prop.at_top() {
            return;
        }
        self.queue_expired_deletions();
        let unit = std::mem::take(&mut self.prop.unit);
        for op in unit {
            self.emit(op.db, &op.argv, 0);
        }
        self.ks.expired.clear();
        self.prop.expired_seen = 0;
    }

    /// Propagates the eviction of `key` as DEL (UNLINK under
    /// `lazyfree-lazy-eviction`): alone and unwrapped when no command runs
    /// (eviction before a command), otherwise after what the running unit
    /// holds (CONFIG SET maxmemory inside a transaction).
    pub fn propagate_eviction(&mut self, db: usize, key: &[u8]) {
        self.propagate_deletion(db, key, self.config.lazyfree_lazy_eviction);
    }

    /// Propagates the deletion of `key` as DEL, or UNLINK when `lazy`, the
    /// way [`Server::propagate_eviction`] places it (Redis's
    /// `propagateDeletion`).
    pub fn propagate_deletion(&mut self, db: usize, key: &[u8], lazy: bool) {
        if !self.propagating() {
            return;
        }
        let argv = vec![words::deletion(lazy), Bytes::copy_from_slice(key)];
        if self.prop.at_top() {
            self.emit(db, &argv, 0);
        } else {
            self.also_propagate(db, argv);
        }
    }

    /// Emits the finished execution unit, wrapped when it holds several
    /// commands (the MULTI takes the first command's database, the EXEC the
    /// last one's, so no extra SELECT appears between them).
    fn emit_unit(&mut self) {
        let unit = std::mem::take(&mut self.prop.unit);
        if unit.is_empty() {
            return;
        }
        let wrap = unit.len() > 1 && !self.prop.no_wrap;
        if wrap {
            self.emit(unit[0].db, &[words::MULTI], 0);
        }
        for op in &unit {
            self.emit(op.db, &op.argv, op.skip);
        }
        if wrap {
            self.emit(unit[unit.len() - 1].db, &[words::EXEC], 0);
        }
    }

    /// Feeds one command to the replicas alone, outside any unit (DEBUG
    /// REPLICATE).
    pub fn replicate_only(&mut self, db: usize, argv: &[Bytes]) {
        self.emit(db, argv, SKIP_AOF);
    }

    /// Feeds one command to every sink.
    fn emit(&mut self, db: usize, argv: &[Bytes], skip: u8) {
        if skip & SKIP_REPL == 0 {
            self.repl_feed(db, argv);
        }
        if skip & SKIP_AOF == 0 {
            crate::persist::aof::writer::feed(self, db, argv);
        }
        if self.cluster.is_some() {
            crate::cluster::migration::feed(self, argv);
        }
    }
}
