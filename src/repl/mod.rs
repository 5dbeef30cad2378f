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
//! Partial resynchronisation, the replica side, WAIT and FAILOVER are later
//! work (replication issue); this module must stay free of socket handling,
//! which belongs to the reactor.
//!
//! Mirrors Redis 7.0's `replicationFeedSlaves` (SELECT re-emission, backlog
//! accounting) and the wire format of `syncCommand` for full syncs.

pub mod backlog;

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
        if self.repl.backlog.is_none() && self.repl.replicas.is_empty() {
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
        self.repl.offset += bytes.len() as i64;
        if let Some(b) = self.repl.backlog.as_mut() {
            b.append(bytes);
        }
        for i in 0..self.repl.replicas.len() {
            let key = self.repl.replicas[i];
            self.with_client(key, None, |r| r.reply.unmuted(|out| out.raw(bytes)));
        }
    }

    /// Forgets a replica that disconnected.
    pub fn repl_forget(&mut self, key: usize) {
        self.repl.replicas.retain(|&k| k != key);
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
    srv.full_sync(c, true)
}

/// REPLCONF option value ...: the options a replica announces
/// (listening-port, ip-address, capa) are accepted; ACK/GETACK are silent.
pub fn replconf(_srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.argc() % 2 == 0 {
        // COMPAT: the generic syntax error Redis answers.
        return Err(ReplyError::Syntax);
    }
    let opt = c.arg(1).to_ascii_lowercase();
    match opt.as_slice() {
        b"ack" | b"getack" => Ok(()),
        b"listening-port" | b"ip-address" | b"capa" | b"rdb-only" => {
            c.reply.ok();
            Ok(())
        }
        _ => Err(ReplyError::err(format!("Unrecognized REPLCONF option: {}", String::from_utf8_lossy(c.arg(1))))),
    }
}
