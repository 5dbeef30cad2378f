//! Replication, master side: the stream replicas receive.
//!
//! Owns the replication identity (replid, offset), the backlog (the shared
//! replication buffer, created when the first replica attaches: it holds at
//! least `repl-backlog-size` bytes of history and whatever a replica has not
//! received yet), the list of attached replicas and the database the
//! stream last SELECTed. [`Server::repl_feed`] is the sink `crate::propagate`
//! emits into: it renders each command once as a RESP multibulk, SELECTs
//! first when the database changes and appends the bytes to the backlog
//! once; every replica reads them from there at its own cursor, its
//! socket writer pulling the next chunk when its reply buffer is empty
//! (Redis 7.0's shared replication buffer).
//!
//! Full synchronisation (SYNC, PSYNC answered with FULLRESYNC) sends an RDB
//! snapshot produced in-line: the snapshot is built from the live keyspace in
//! one go, so no write can slip between it and the stream that follows.
//! WAIT lives in [`acks`], FAILOVER in [`failover`], the replica side in
//! [`replica`]. This module must stay free of socket handling, which
//! belongs to the reactor.
//!
//! Mirrors Redis 7.0's `replicationFeedSlaves` (SELECT re-emission, backlog
//! accounting) and the wire format of `syncCommand` for full syncs.

pub mod acks;
pub mod backlog;
pub mod failover;
pub mod load;
pub mod replica;
pub mod sync;

use std::collections::HashMap;

use bytes::Bytes;

use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::propagate::words;
use crate::server::Server;

use backlog::Backlog;

/// Replication work left for the next loop round (a diskless snapshot's
/// next chunk to send, a socket load's next bytes to read): the loop
/// must not sleep.
pub fn has_pending_work(srv: &Server) -> bool {
    sync::has_pending_work(srv) || replica::has_pending_work(srv)
}

/// Before the loop sleeps: moves both kinds of snapshot transfer along.
pub fn before_sleep(srv: &mut Server) {
    sync::before_sleep(srv);
    replica::before_sleep(srv);
}

/// Master-side replication state.
#[derive(Debug)]
pub struct Master {
    /// This server's replication id (40 hex characters).
    pub replid: String,
    /// Bytes of stream produced so far (`master_repl_offset`).
    pub offset: i64,
    /// The shared replication buffer (history for partial resyncs, and
    /// every replica's pending stream); None until a replica attaches.
    pub backlog: Option<Backlog>,
    /// Slab keys of replicas receiving the stream.
    pub replicas: Vec<usize>,
    /// The database the stream's last SELECT chose; None forces a SELECT.
    pub seldb: Option<usize>,
    /// Full syncs served (INFO `sync_full`).
    pub stat_sync_full: u64,
    /// PSYNCs answered with +CONTINUE (INFO `sync_partial_ok`).
    pub stat_sync_partial_ok: u64,
    /// PSYNCs naming a history that could not be continued
    /// (INFO `sync_partial_err`).
    pub stat_sync_partial_err: u64,
    /// Clients blocked in WAIT, by slab key.
    pub waiting: Vec<usize>,
    /// Send REPLCONF GETACK to the replicas before the loop sleeps.
    pub get_ack: bool,
    /// Replicas whose last ACK is at most `min-replicas-max-lag` old.
    pub good_replicas: usize,
    /// When the last replica went away (Unix ms), for `repl-backlog-ttl`.
    pub no_replicas_since_ms: i64,
    /// Seconds the replication cron has run, for `repl-ping-replica-period`.
    cron_loops: i64,
    /// When the replication cron last ran (ms).
    cron_last_ms: i64,
    /// The running RDB child writes to replica sockets (diskless sync).
    pub sync_socket: bool,
    /// That child's pipe, until it is read to the end.
    pub pipe: Option<sync::Pipe>,
    /// The previous replication id (`master_replid2`), zeros when none.
    pub replid2: String,
    /// First offset `replid2` is no longer valid at (`second_repl_offset`).
    pub second_offset: i64,
    /// What replicas told us (REPLCONF), by slab key.
    pub replica_info: HashMap<usize, ReplicaInfo>,
    /// The replica side: our own master, if any.
    pub replica: replica::Replica,
    /// A coordinated failover (FAILOVER) under way, if any.
    pub failover: failover::Failover,
}

/// The parts of a snapshot a replica asked to leave out (REPLCONF
/// rdb-filter-only, Redis's SLAVE_REQ_RDB_EXCLUDE_* bits).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RdbFilter {
    /// No keys.
    pub exclude_data: bool,
    /// No function libraries.
    pub exclude_functions: bool,
}

impl RdbFilter {
    /// Whether anything is left out.
    pub fn any(self) -> bool {
        self.exclude_data || self.exclude_functions
    }
}

/// What a replica announced and acknowledged.
#[derive(Debug, Clone, Default)]
pub struct ReplicaInfo {
    /// REPLCONF listening-port.
    pub listening_port: u16,
    /// Offset of the last REPLCONF ACK.
    pub ack_offset: i64,
    /// When that ACK arrived (Unix ms).
    pub ack_ms: i64,
    /// REPLCONF ip-address, shown instead of the peer address.
    pub announced_ip: Option<String>,
    /// Attached with SYNC: it never acknowledges the stream.
    pub pre_psync: bool,
    /// REPLCONF capa psync2: +CONTINUE may carry a new replication id.
    pub capa_psync2: bool,
    /// REPLCONF capa eof: the replica reads an EOF-marked RDB stream.
    pub capa_eof: bool,
    /// REPLCONF rdb-filter-only: what its snapshot leaves out (such a
    /// replica, redis-cli --functions-rdb, always gets a diskless one).
    pub rdb_filter: RdbFilter,
    /// Where its synchronisation stands.
    pub state: sync::SyncState,
    /// The stream offset its snapshot was forked at (the stream produced
    /// since waits in the backlog at its cursor until the snapshot is in).
    pub initial_offset: i64,
    /// The snapshot file being sent and how much of it went out.
    pub bulk: Option<(Bytes, usize)>,
    /// When its output last drained during a transfer (ms).
    pub last_drain_ms: i64,
}

impl Master {
    /// A fresh identity with an empty stream.
    pub fn new() -> Master {
        Master {
            replid: crate::server::random_hex(40),
            offset: 0,
            backlog: None,
            replicas: Vec::new(),
            seldb: None,
            stat_sync_full: 0,
            stat_sync_partial_ok: 0,
            stat_sync_partial_err: 0,
            waiting: Vec::new(),
            get_ack: false,
            good_replicas: 0,
            no_replicas_since_ms: crate::util::clock::unix_ms(),
            // Redis's first replication cron runs a millisecond after start-up,
            // before any replica can attach, so its first PING comes a whole
            // period later; starting at 1 gives the same schedule even when a
            // replica attaches before our first cron tick.
            cron_loops: 1,
            cron_last_ms: 0,
            sync_socket: false,
            pipe: None,
            replid2: "0".repeat(40),
            second_offset: -1,
            replica_info: HashMap::new(),
            replica: Default::default(),
            failover: Default::default(),
        }
    }

    /// Starts a new history (promotion): the old id stays acceptable for
    /// offsets up to the current one, as Redis's `shiftReplicationId`.
    pub fn shift_replid(&mut self) {
        self.shift_replid_to(crate::server::random_hex(40));
    }

    /// Switches to `id`, keeping the current one as `replid2`.
    pub fn shift_replid_to(&mut self, id: String) {
        self.replid2 = std::mem::replace(&mut self.replid, id);
        self.second_offset = self.offset + 1;
        self.seldb = None;
    }

    /// Takes the master's identity after a full sync, with a fresh backlog
    /// starting after `offset`.
    pub fn adopt(&mut self, id: String, offset: i64, backlog_size: i64) {
        self.replid = id;
        self.offset = offset;
        self.replid2 = "0".repeat(40);
        self.second_offset = -1;
        self.seldb = None;
        self.backlog = Some(Backlog::new(backlog_size.max(16 * 1024) as usize, offset + 1));
    }

    /// Appends bytes of our master's stream to our backlog and replicas;
    /// the offset advances by `consumed`, the bytes read for them.
    pub fn feed_from_master(&mut self, bytes: &[u8], consumed: i64) {
        self.offset += consumed - bytes.len() as i64;
        self.feed_raw_bytes(bytes);
    }

    fn feed_raw_bytes(&mut self, bytes: &[u8]) {
        self.offset += bytes.len() as i64;
        if let Some(b) = self.backlog.as_mut() {
            b.append(bytes);
        }
    }
}

impl Default for Master {
    fn default() -> Self {
        Master::new()
    }
}

impl Server {
    /// Feeds one propagated command to the backlog and every replica,
    /// preceded by a SELECT when the stream's database changes. Does nothing
    /// (not even offset accounting) while there is no backlog, as Redis.
    pub fn repl_feed(&mut self, db: usize, argv: &[Bytes]) {
        // On a replica, the master's own bytes are the stream: what its own
        // clients write (replica-read-only no) stays out of it, as Redis.
        if (self.repl.backlog.is_none() && self.repl.replicas.is_empty()) || self.repl.replica.is_replica() {
            return;
        }
        let mut bytes = Vec::with_capacity(64);
        if self.repl.seldb != Some(db) {
            crate::resp::value::encode_command_into(&mut bytes, &[words::SELECT, Bytes::from(db.to_string())]);
            self.repl.seldb = Some(db);
        }
        crate::resp::value::encode_command_into(&mut bytes, argv);
        self.repl_feed_raw(&bytes);
    }

    /// Feeds a command that does not depend on the database (PING, REPLCONF
    /// GETACK): no SELECT precedes it. Only a top-level master adds its own
    /// commands to the stream.
    pub fn repl_feed_unselected(&mut self, argv: &[Bytes]) {
        if (self.repl.backlog.is_none() && self.repl.replicas.is_empty()) || self.repl.replica.is_replica() {
            return;
        }
        let mut bytes = Vec::with_capacity(48);
        crate::resp::value::encode_command_into(&mut bytes, argv);
        self.repl_feed_raw(&bytes);
    }

    /// Appends already-encoded stream bytes to the backlog and replicas.
    fn repl_feed_raw(&mut self, bytes: &[u8]) {
        self.repl.feed_raw_bytes(bytes);
        self.repl_wake_replicas();
    }

    /// Appends bytes of our master's stream (chained replication); see
    /// [`Master::feed_from_master`].
    pub fn repl_feed_from_master(&mut self, bytes: &[u8], consumed: i64) {
        self.repl.feed_from_master(bytes, consumed);
        // The master's own SELECTs went by: what we add next selects again.
        self.repl.seldb = None;
        self.repl_wake_replicas();
    }

    /// New stream bytes are in the backlog: every replica holding a cursor
    /// is queued, so that before-sleep applies its output limit and an
    /// online one's writer pulls the bytes.
    fn repl_wake_replicas(&mut self) {
        for i in 0..self.repl.replicas.len() {
            let key = self.repl.replicas[i];
            let state = self.repl.replica_info.get(&key).map_or(sync::SyncState::Online, |info| info.state);
            // Its snapshot is not forked yet: it will contain them.
            if state != sync::SyncState::WaitBgsaveStart {
                self.with_client(key, None, |_| {});
            }
        }
    }

    /// Forgets a replica (or a client that announced itself as one) that
    /// disconnected.
    pub fn repl_forget(&mut self, key: usize) {
        let was = self.repl.replicas.len();
        self.repl.replicas.retain(|&k| k != key);
        let gone = self.repl.replica_info.remove(&key);
        if let Some(b) = self.repl.backlog.as_mut() {
            b.detach(key);
        }
        if was != self.repl.replicas.len() {
            if self.repl.replicas.is_empty() {
                self.repl.no_replicas_since_ms = self.clock.now_ms;
            }
            acks::refresh_good_replicas(self);
            sync::replica_gone(self, gone.is_some_and(|i| i.state == sync::SyncState::WaitBgsaveEnd));
        }
    }

    /// How Redis names a replica in its log: the announced (or peer) ip and
    /// the listening port it announced.
    pub fn replica_name(&self, c: &Client) -> String {
        let ip = self.replica_ip(c);
        match self.repl.replica_info.get(&c.key).map_or(0, |i| i.listening_port) {
            // COMPAT: replicationGetSlaveName's placeholder.
            0 => format!("{ip}:<unknown-replica-port>"),
            port if ip.contains(':') => format!("[{ip}]:{port}"),
            port => format!("{ip}:{port}"),
        }
    }

    /// The address replica `c` is known by: the one it announced, else its
    /// peer address.
    pub fn replica_ip(&self, c: &Client) -> String {
        match self.repl.replica_info.get(&c.key).and_then(|i| i.announced_ip.clone()) {
            Some(ip) => ip,
            None => c.addr.rsplit_once(':').map_or_else(|| c.addr.clone(), |(ip, _)| ip.to_string()),
        }
    }

    /// Makes `c` a replica receiving the live stream from offset `from`
    /// (held by the backlog).
    fn attach_replica(&mut self, c: &mut Client, from: i64) {
        if let Some(b) = self.repl.backlog.as_mut() {
            b.attach(c.key, from);
        }
        c.flags.replica = true;
        self.repl.replicas.push(c.key);
        let info = self.repl.replica_info.entry(c.key).or_default();
        info.ack_ms = self.clock.now_ms;
        info.state = sync::SyncState::Online;
        acks::refresh_good_replicas(self);
    }

    /// Continues the replica's history from the backlog when `replid` is
    /// ours (or our previous one, up to where it ended) and `offset` is
    /// still held: `+CONTINUE`, then the missing bytes. False when a full
    /// synchronisation is needed; the reason is logged as Redis logs it.
    fn try_partial_resync(&mut self, c: &mut Client, replid: &str, offset: i64) -> bool {
        let name = self.replica_name(c);
        let ours = replid.eq_ignore_ascii_case(&self.repl.replid);
        let previous = replid.eq_ignore_ascii_case(&self.repl.replid2) && offset <= self.repl.second_offset;
        if !ours && !previous {
            // COMPAT: masterTryPartialResynchronization's log lines.
            if replid.starts_with('?') {
                log::info!("Full resync requested by replica {name}");
            } else if !replid.eq_ignore_ascii_case(&self.repl.replid2) {
                log::info!(
                    "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{replid}', my replication IDs are '{}' and '{}')",
                    self.repl.replid,
                    self.repl.replid2
                );
            } else {
                log::info!(
                    "Partial resynchronization not accepted: Requested offset for second ID was {offset}, but I can reply up to {}",
                    self.repl.second_offset
                );
            }
            return false;
        }
        let Some(missing) = self.repl.backlog.as_ref().filter(|b| b.holds(offset)).map(|b| b.end_offset() - offset) else {
            log::info!("Unable to partial resync with replica {name} for lack of backlog (Replica request was: {offset}).");
            if offset > self.repl.offset {
                log::warn!(
                    "Warning: replica {name} tried to PSYNC with an offset that is greater than the master replication offset."
                );
            }
            return false;
        };
        let psync2 = self.repl.replica_info.get(&c.key).is_some_and(|i| i.capa_psync2);
        c.reply.unmuted(|out| {
            if psync2 {
                out.raw(format!("+CONTINUE {}\r\n", self.repl.replid).as_bytes());
            } else {
                out.raw(b"+CONTINUE\r\n");
            }
        });
        // The missing bytes are not copied: the replica reads them from
        // the backlog, from its cursor on.
        self.attach_replica(c, offset);
        log::info!(
            "Partial resynchronization request from {name} accepted. Sending {missing} bytes of backlog starting from offset {offset}."
        );
        true
    }

    /// Creates the backlog when the first replica attaches, which starts a
    /// new history (replicas of an older one cannot continue from it).
    fn ensure_backlog(&mut self) {
        if self.repl.backlog.is_some() {
            return;
        }
        let size = self.config.repl_backlog_size.max(16 * 1024) as usize;
        self.repl.backlog = Some(Backlog::new(size, self.repl.offset + 1));
        self.repl.replid = crate::server::random_hex(40);
        self.repl.replid2 = "0".repeat(40);
        self.repl.second_offset = -1;
        // COMPAT: syncCommand's log line.
        log::info!(
            "Replication backlog created, my new replication IDs are '{}' and '{}'",
            self.repl.replid,
            self.repl.replid2
        );
    }

    /// The `oom-score-adj-values` class this server is in: replica or primary.
    pub fn oom_class(&self) -> crate::oom::Class {
        if self.repl.replica.is_replica() {
            crate::oom::Class::Replica
        } else {
            crate::oom::Class::Primary
        }
    }

    /// Applies `oom-score-adj` for the current role (Redis's setOOMScoreAdj(-1)).
    pub fn apply_oom_score(&mut self) -> Result<(), &'static str> {
        let class = self.oom_class();
        self.oom_score.apply(&self.config, class)
    }

    /// How an RDB written now is encoded (`rdbcompression`, `rdbchecksum`).
    pub fn rdb_save_options(&self) -> crate::rdb::SaveOptions {
        crate::rdb::SaveOptions {
            compress: self.config.rdbcompression,
            checksum: self.config.rdbchecksum,
            lru_now_ms: None,
            key_delay_us: self.config.rdb_key_save_delay,
            progress: None,
        }
    }

    /// The AUX fields an RDB written now carries. The replication ones
    /// only when this server is part of a replication chain, so that a
    /// restart can continue its history.
    pub fn rdb_aux_fields(&self) -> Vec<(&'static str, String)> {
        let mut aux = vec![
            ("redis-ver", crate::REDIS_VERSION.to_string()),
            ("redis-bits", (usize::BITS).to_string()),
            ("ctime", (crate::util::clock::unix_ms() / 1000).to_string()),
            ("used-mem", crate::info::used_memory().to_string()),
        ];
        if let Some(db) = self.repl_stream_db() {
            aux.push(("repl-stream-db", db.to_string()));
            aux.push(("repl-id", self.repl.replid.clone()));
            aux.push(("repl-offset", self.repl.offset.to_string()));
        }
        aux.push(("aof-base", "0".to_string()));
        aux
    }

    /// The database the replication stream has selected, when there is a
    /// history worth saving: a master with a backlog, or a replica with a
    /// master link or its cached state.
    fn repl_stream_db(&self) -> Option<usize> {
        let r = &self.repl.replica;
        if !r.is_replica() {
            return self.repl.backlog.as_ref().map(|_| self.repl.seldb.unwrap_or(0));
        }
        if let Some(Some(m)) = r.master_client.and_then(|k| self.clients.get(k)) {
            return Some(m.db);
        }
        r.cached.then_some(r.stream_db)
    }

    /// After the start-up RDB load: picks up the replication history the
    /// file recorded (`repl-id`, `repl-offset`, `repl-stream-db`). A master
    /// keeps it as its previous id, so its replicas can continue from the
    /// backlog (which holds the deletions of keys found expired, `expired`);
    /// a replica offers it to its master in PSYNC.
    pub fn restore_repl_history(&mut self, aux: &[(Vec<u8>, Vec<u8>)], expired: &[(usize, Vec<u8>)]) {
        let field = |name: &str| aux.iter().find(|(k, _)| k == name.as_bytes()).map(|(_, v)| String::from_utf8_lossy(v));
        let id = field("repl-id").filter(|id| id.len() == 40).map(|id| id.into_owned());
        let offset = field("repl-offset").and_then(|v| v.parse::<i64>().ok()).filter(|&o| o != -1);
        let db = field("repl-stream-db").and_then(|v| v.parse::<i64>().ok()).filter(|&d| d != -1);
        let history = match (id, offset, db) {
            (Some(id), Some(offset), Some(db)) => Some((id, offset, db)),
            _ => None,
        };
        // At start-up a `replicaof` directive (or nodes.conf) makes a replica already.
        if self.repl.replica.is_replica() || self.config.replicaof.is_some() || crate::cluster::myself_is_replica(self) {
            // Until the link to the master is set up, keys the snapshot
            // holds past their expiry wait for the master's DELs: a replica
            // never expires keys itself (Redis's iAmMaster() is false from
            // the moment nodes.conf says so).
            self.ks.expire_deletes = false;
            if let Some((id, offset, db)) = history {
                self.repl.replid = id;
                self.repl.offset = offset;
                let r = &mut self.repl.replica;
                r.cached = true;
                r.stream_db = usize::try_from(db).unwrap_or(0);
            }
            return;
        }
        let Some((id, offset, _)) = history else {
            // Nothing to continue: no backlog until a replica attaches.
            self.repl.backlog = None;
            return;
        };
        let lazy = self.config.lazyfree_lazy_expire;
        for (db, key) in expired {
            self.repl_feed(*db, &[words::deletion(lazy), Bytes::copy_from_slice(key)]);
        }
        self.repl.replid2 = id;
        self.repl.second_offset = offset + 1;
        self.repl.offset += offset;
        let end = self.repl.offset;
        if let Some(b) = self.repl.backlog.as_mut() {
            b.rebase(end - b.len() as i64 + 1);
        }
        self.repl.no_replicas_since_ms = self.clock.now_ms;
    }

    /// Before the start-up RDB load of a master: a backlog to hold the
    /// deletions of expired keys the load finds.
    pub fn backlog_for_startup_load(&mut self) {
        if !self.repl.replica.is_replica()
            && self.config.replicaof.is_none()
            && !crate::cluster::myself_is_replica(self)
            && self.repl.backlog.is_none()
        {
            let size = self.config.repl_backlog_size.max(16 * 1024) as usize;
            self.repl.backlog = Some(Backlog::new(size, self.repl.offset + 1));
        }
    }
}

/// Memory of the shared replication buffer (INFO
/// `mem_total_replication_buffers`).
pub fn buffer_memory(srv: &Server) -> usize {
    srv.repl.backlog.as_ref().map_or(0, |b| b.memory())
}

/// The shared buffer split as Redis's INFO reports it: (backlog, replicas)
/// for `mem_replication_backlog` and `mem_clients_slaves`. With replicas
/// attached, what exceeds `repl-backlog-size` is theirs.
pub fn buffer_memory_split(srv: &Server) -> (usize, usize) {
    let total = buffer_memory(srv);
    let size = srv.config.repl_backlog_size.max(0) as usize;
    if !srv.repl.replicas.is_empty() && total > size {
        (size, total - size)
    } else {
        (total, 0)
    }
}

/// Replication buffer memory not counted against `maxmemory`: what exceeds
/// `repl-backlog-size` and its approximate block bookkeeping, replicas
/// attached or not (blocks of a replica that went are freed gradually).
pub fn buffer_not_counted(srv: &Server) -> usize {
    let size = srv.config.repl_backlog_size.max(0) as usize;
    let counted = size + (size / (16 * 1024) + 1) * 64;
    buffer_memory(srv).saturating_sub(counted)
}

/// Output memory charged to replica `key`: its share of the shared buffer
/// (every block from the one its cursor is in to the end), as Redis's
/// getClientOutputBufferMemoryUsage for a replica.
pub fn replica_output_memory(srv: &Server, key: usize) -> usize {
    srv.repl.backlog.as_ref().map_or(0, |b| b.reader_memory(key))
}

/// SYNC: full synchronisation without the PSYNC handshake line.
pub fn sync(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.flags.replica {
        return Ok(());
    }
    failover::check_sync(srv, c)?;
    replica::refuse_sync_while_down(srv)?;
    if c.flags.multi {
        return Err(ReplyError::err("Command is not allowed inside a transaction"));
    }
    refuse_filtered_without_eof(srv, c)?;
    log::info!("Replica {} asks for synchronization", srv.replica_name(c));
    sync::start(srv, c, false)
}

/// A filtered snapshot only goes over the socket (never into the shared
/// dump file), so its replica must read the EOF-marked form.
fn refuse_filtered_without_eof(srv: &Server, c: &Client) -> CmdResult {
    match srv.repl.replica_info.get(&c.key) {
        // COMPAT: syncCommand's error.
        Some(i) if i.rdb_filter.any() && !i.capa_eof => Err(ReplyError::err("Filtered replica requires EOF capability")),
        _ => Ok(()),
    }
}

/// PSYNC replid offset: continues the replica's history from the backlog
/// when possible (`sync_partial_ok`), otherwise a full synchronisation.
pub fn psync(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.flags.replica {
        return Ok(());
    }
    failover::check_sync(srv, c)?;
    replica::refuse_sync_while_down(srv)?;
    refuse_filtered_without_eof(srv, c)?;
    log::info!("Replica {} asks for synchronization", srv.replica_name(c));
    let Some(offset) = crate::util::num::string2ll(c.arg(2)) else {
        // COMPAT: syncCommand's warning.
        log::warn!("Replica {} asks for synchronization but with a wrong offset", srv.replica_name(c));
        return Err(ReplyError::NotInteger);
    };
    let replid = String::from_utf8_lossy(c.arg(1)).into_owned();
    if srv.try_partial_resync(c, &replid, offset) {
        srv.repl.stat_sync_partial_ok += 1;
        return Ok(());
    }
    if !replid.starts_with('?') {
        srv.repl.stat_sync_partial_err += 1;
    }
    sync::start(srv, c, true)
}

/// Once a second: PING the replicas every `repl-ping-replica-period`,
/// drop replicas silent for `repl-timeout`, free the backlog after
/// `repl-backlog-ttl` without replicas, recount the good replicas.
pub fn cron(srv: &mut Server) {
    let now = srv.clock.now_ms;
    // History only a replica that went held goes, ten times the normal
    // pace per call, as Redis's serverCron.
    if let Some(b) = srv.repl.backlog.as_mut() {
        b.trim(10 * backlog::TRIM_BLOCKS_PER_CALL);
    }
    if now - srv.repl.cron_last_ms < failover::cron_period_ms(srv) {
        return;
    }
    failover::update(srv);
    srv.repl.cron_last_ms = now;
    let is_replica = srv.repl.replica.is_replica();
    let period = srv.config.repl_ping_replica_period.max(1);
    if !is_replica && !srv.repl.replicas.is_empty() && srv.repl.cron_loops % period == 0 && !failover::holds_pings(srv) {
        srv.repl_feed_unselected(&[words::PING]);
    }
    srv.repl.cron_loops += 1;
    let timeout_ms = srv.config.repl_timeout * 1000;
    for key in srv.repl.replicas.clone() {
        let Some(info) = srv.repl.replica_info.get(&key) else { continue };
        // SYNC's replicas never acknowledge: only the socket can tell.
        if !info.state.online() || info.pre_psync || now - info.ack_ms <= timeout_ms {
            continue;
        }
        if let Some(Some(c)) = srv.clients.get(key) {
            // COMPAT: replicationCron's message.
            log::warn!("Disconnecting timedout replica (streaming sync): {}", srv.replica_name(c));
        }
        srv.kill_client(key);
    }
    let ttl = srv.config.repl_backlog_ttl;
    if !is_replica
        && srv.repl.replicas.is_empty()
        && ttl > 0
        && srv.repl.backlog.is_some()
        && now - srv.repl.no_replicas_since_ms > ttl * 1000
    {
        // A later replica cannot continue our history anyway: start anew.
        srv.repl.backlog = None;
        srv.repl.replid = crate::server::random_hex(40);
        srv.repl.replid2 = "0".repeat(40);
        srv.repl.second_offset = -1;
        log::info!("Replication backlog freed after {ttl} seconds without connected replicas.");
    }
    acks::refresh_good_replicas(srv);
    sync::cron(srv);
    sync::start_pending(srv);
}

/// REPLCONF option value ...: the options a replica announces
/// (listening-port, ip-address, capa) are accepted; ACK is recorded
/// silently; GETACK from our master is answered with an ACK.
pub fn replconf(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.argc() % 2 == 0 {
        // COMPAT: the generic syntax error Redis answers.
        return Err(ReplyError::Syntax);
    }
    let opt = c.arg(1).to_ascii_lowercase();
    match opt.as_slice() {
        b"ack" => {
            if let Some(off) = crate::util::num::string2ll(c.arg(2)) {
                let info = srv.repl.replica_info.entry(c.key).or_default();
                info.ack_offset = info.ack_offset.max(off);
                info.ack_ms = srv.clock.now_ms;
                sync::on_ack(srv, c);
                acks::refresh_good_replicas(srv);
            }
            Ok(())
        }
        b"getack" => {
            replica::getack(srv, c);
            Ok(())
        }
        b"listening-port" => {
            let port = crate::util::num::string2ll(c.arg(2)).and_then(|p| u16::try_from(p).ok());
            let Some(port) = port else { return Err(ReplyError::NotInteger) };
            srv.repl.replica_info.entry(c.key).or_default().listening_port = port;
            c.reply.ok();
            Ok(())
        }
        b"ip-address" => {
            let ip = String::from_utf8_lossy(c.arg(2)).into_owned();
            srv.repl.replica_info.entry(c.key).or_default().announced_ip = Some(ip);
            c.reply.ok();
            Ok(())
        }
        b"capa" => {
            let info = srv.repl.replica_info.entry(c.key).or_default();
            for pair in c.argv[1..].chunks(2) {
                if pair[0].eq_ignore_ascii_case(b"capa") {
                    info.capa_eof |= pair[1].eq_ignore_ascii_case(b"eof");
                    info.capa_psync2 |= pair[1].eq_ignore_ascii_case(b"psync2");
                }
            }
            c.reply.ok();
            Ok(())
        }
        b"rdb-only" => {
            c.reply.ok();
            Ok(())
        }
        b"rdb-filter-only" => {
            // Include filters: everything goes but what is named, and the
            // only name Redis 7.0 knows is "functions".
            let mut filter = RdbFilter { exclude_data: true, exclude_functions: true };
            for word in c.arg(2).split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty()) {
                if word.eq_ignore_ascii_case(b"functions") {
                    filter.exclude_functions = false;
                } else {
                    // COMPAT: replconfCommand's error.
                    return Err(ReplyError::err(format!(
                        "Unsupported rdb-filter-only option: {}",
                        String::from_utf8_lossy(word)
                    )));
                }
            }
            srv.repl.replica_info.entry(c.key).or_default().rdb_filter = filter;
            c.reply.ok();
            Ok(())
        }
        _ => Err(ReplyError::err(format!("Unrecognized REPLCONF option: {}", String::from_utf8_lossy(c.arg(1))))),
    }
}
