//! Replication, master side: the stream replicas receive.
//!
//! Owns the replication identity (replid, offset), the backlog (a ring of the
//! most recent stream bytes, created when the first replica attaches, sized
//! by `repl-backlog-size`), the list of attached replicas and the database the
//! stream last SELECTed. [`Server::repl_feed`] is the sink `crate::propagate`
//! emits into: it renders each command once as a RESP multibulk, SELECTs
//! first when the database changes, appends the bytes to the backlog and to
//! every replica's output.
//!
//! Full synchronisation (SYNC, PSYNC answered with FULLRESYNC) sends an RDB
//! snapshot produced in-line: the snapshot is built from the live keyspace in
//! one go, so no write can slip between it and the stream that follows.
//! Partial resynchronisation (master side), WAIT and FAILOVER are later
//! work; the replica side lives in [`replica`]. This module must stay free
//! of socket handling, which belongs to the reactor.
//!
//! Mirrors Redis 7.0's `replicationFeedSlaves` (SELECT re-emission, backlog
//! accounting) and the wire format of `syncCommand` for full syncs.

pub mod backlog;
pub mod replica;

use std::collections::HashMap;

use bytes::Bytes;

use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::propagate::words;
use crate::server::Server;

use backlog::Backlog;

/// Master-side replication state.
#[derive(Debug)]
pub struct Master {
    /// This server's replication id (40 hex characters).
    pub replid: String,
    /// Bytes of stream produced so far (`master_repl_offset`).
    pub offset: i64,
    /// Recent stream bytes, for partial resyncs; None until a replica attaches.
    pub backlog: Option<Backlog>,
    /// Slab keys of replicas receiving the stream.
    pub replicas: Vec<usize>,
    /// The database the stream's last SELECT chose; None forces a SELECT.
    pub seldb: Option<usize>,
    /// Full syncs served (INFO `sync_full`).
    pub stat_sync_full: u64,
    /// The previous replication id (`master_replid2`), zeros when none.
    pub replid2: String,
    /// First offset `replid2` is no longer valid at (`second_repl_offset`).
    pub second_offset: i64,
    /// What replicas told us (REPLCONF), by slab key.
    pub replica_info: HashMap<usize, ReplicaInfo>,
    /// The replica side: our own master, if any.
    pub replica: replica::Replica,
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
            replid2: "0".repeat(40),
            second_offset: -1,
            replica_info: HashMap::new(),
            replica: Default::default(),
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
        // On a replica, the master's own bytes are the stream.
        if (self.repl.backlog.is_none() && self.repl.replicas.is_empty()) || self.repl.replica.applying {
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

    /// Appends already-encoded stream bytes to the backlog and replicas.
    fn repl_feed_raw(&mut self, bytes: &[u8]) {
        self.repl.feed_raw_bytes(bytes);
        self.repl_send_to_replicas(bytes);
    }

    /// Appends bytes of our master's stream (chained replication); see
    /// [`Master::feed_from_master`].
    pub fn repl_feed_from_master(&mut self, bytes: &[u8], consumed: i64) {
        self.repl.feed_from_master(bytes, consumed);
        // The master's own SELECTs went by: what we add next selects again.
        self.repl.seldb = None;
        self.repl_send_to_replicas(bytes);
    }

    fn repl_send_to_replicas(&mut self, bytes: &[u8]) {
        for i in 0..self.repl.replicas.len() {
            let key = self.repl.replicas[i];
            self.with_client(key, None, |r| r.reply.unmuted(|out| out.raw(bytes)));
        }
    }

    /// Forgets a replica (or a client that announced itself as one) that
    /// disconnected.
    pub fn repl_forget(&mut self, key: usize) {
        self.repl.replicas.retain(|&k| k != key);
        self.repl.replica_info.remove(&key);
    }

    /// Attaches `c` as a replica with a full synchronisation: the optional
    /// FULLRESYNC line, then the RDB snapshot as `$<len>\r\n<bytes>` (no
    /// trailing CRLF), then the live stream starting with a SELECT.
    fn full_sync(&mut self, c: &mut Client, psync: bool) -> Result<(), ReplyError> {
        if self.repl.backlog.is_none() {
            let size = self.config.repl_backlog_size.max(16 * 1024) as usize;
            self.repl.backlog = Some(Backlog::new(size, self.repl.offset + 1));
            // A new backlog starts a new history: replicas of the old one
            // cannot continue from it.
            self.repl.replid = crate::server::random_hex(40);
        }
        let mut snapshot = Vec::new();
        crate::rdb::write_rdb(&mut snapshot, &self.ks, &self.rdb_aux_fields(), self.rdb_save_options())
            .map_err(|e| ReplyError::err(format!("snapshot failed: {e}")))?;
        let offset = self.repl.offset;
        c.reply.unmuted(|out| {
            if psync {
                out.raw(format!("+FULLRESYNC {} {}\r\n", self.repl.replid, offset).as_bytes());
            }
            out.raw(format!("${}\r\n", snapshot.len()).as_bytes());
            out.raw(&snapshot);
        });
        c.flags.replica = true;
        self.repl.seldb = None;
        self.repl.replicas.push(c.key);
        self.repl.replica_info.entry(c.key).or_default().ack_ms = self.clock.now_ms;
        self.repl.stat_sync_full += 1;
        log::info!("Replica {} asks for synchronization", c.addr);
        log::info!("Synchronization with replica {} succeeded", c.addr);
        Ok(())
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

    /// The AUX fields an RDB written now carries.
    pub fn rdb_aux_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("redis-ver", crate::REDIS_VERSION.to_string()),
            ("redis-bits", (usize::BITS).to_string()),
            ("ctime", (crate::util::clock::unix_ms() / 1000).to_string()),
            ("used-mem", crate::info::used_memory().to_string()),
            ("repl-stream-db", "0".to_string()),
            ("repl-id", self.repl.replid.clone()),
            ("repl-offset", self.repl.offset.to_string()),
            ("aof-base", "0".to_string()),
        ]
    }
}

/// SYNC: full synchronisation without the PSYNC handshake line.
pub fn sync(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.flags.replica {
        return Ok(());
    }
    replica::refuse_sync_while_down(srv)?;
    if c.flags.multi {
        return Err(ReplyError::err("Command is not allowed inside a transaction"));
    }
    srv.full_sync(c, false)
}

/// PSYNC replid offset: partial resynchronisation is not offered yet, so
/// every request is answered with a full one.
pub fn psync(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.flags.replica {
        return Ok(());
    }
    replica::refuse_sync_while_down(srv)?;
    srv.full_sync(c, true)
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
        b"capa" | b"rdb-only" => {
            c.reply.ok();
            Ok(())
        }
        _ => Err(ReplyError::err(format!("Unrecognized REPLCONF option: {}", String::from_utf8_lossy(c.arg(1))))),
    }
}
