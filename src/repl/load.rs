//! Replication, replica side: loading the master's snapshot straight from
//! the socket (`repl-diskless-load on-empty-db` and `swapdb`).
//!
//! Owns the parse of a snapshot that arrives piece by piece: the bytes read
//! so far, the RDB records decoded from them as soon as each is whole, the
//! databases they go to (the live ones, or a side set that replaces the
//! live ones only once the whole snapshot is in), the loading state that
//! INFO and command refusals read, and the end of the transfer (the
//! `$<len>` count or the `$EOF:<mark>` trailer). The load never blocks the
//! loop: each round parses what has arrived, at most
//! `loading-process-events-interval-bytes` of it, and the loop serves
//! clients in between, as Redis's processEventsWhileBlocked lets them in.
//!
//! It must not touch the socket (`super::replica` reads it and hands the
//! bytes over) nor decode values (`crate::rdb` does).
//!
//! Mirrors Redis 7.0's readSyncBulkPayload diskless branch: the
//! `useDisklessLoad` rule, the temporary databases of `swapdb` (kept apart
//! while the transfer runs, swapped in on success, dropped on failure so the
//! old data stays served), `async_loading` when the master's replication ID
//! is ours (the old data stays readable meanwhile, commands flagged
//! `no-async-loading` get LOADING), the EOF mark check, and the log lines.

use crate::config::ReplDisklessLoad;
use crate::db::Db;
use crate::evict::AccessPolicy;
use crate::rdb::crc64::crc64;
use crate::rdb::{LoadLimits, LoadOptions, LoadedKey, RdbError, RdbErrorKind, RdbInfo, Record, Records};
use crate::server::Server;

use super::replica::PayloadHeader;

/// Length of the `$EOF:` mark (a run ID).
const MARK_LEN: usize = 40;

/// Where loaded keys go.
#[derive(Debug)]
pub enum Target {
    /// The live databases (`on-empty-db`: they were empty).
    Live,
    /// A side set swapped in once the load succeeds (`swapdb`).
    Side(Vec<Db>),
}

/// A snapshot being loaded from the master's socket.
#[derive(Debug)]
pub struct SocketLoad {
    /// Bytes received and not yet consumed by whole records.
    buf: Vec<u8>,
    /// The RDB version, once the header is read.
    version: Option<u16>,
    /// Database selected by the last SELECTDB.
    db: usize,
    /// CRC-64 of the bytes consumed so far.
    crc: u64,
    /// Bytes of the snapshot consumed so far.
    parsed: u64,
    /// Bytes of the transfer received so far (what follows it included).
    received: u64,
    /// `$<len>`: the snapshot's size.
    total: Option<u64>,
    /// `$EOF:<mark>`: the trailer that ends the snapshot.
    mark: Option<Vec<u8>>,
    /// The buffer must reach this size before a parse is tried again (a
    /// record cut short is re-read only once twice as many bytes are
    /// there, so a huge value costs linear time).
    retry_at: usize,
    /// Where to look for the mark next in `buf`.
    mark_from: usize,
    /// The EOF record was read.
    ended: bool,
    /// What the load found besides keys.
    info: RdbInfo,
    /// Where keys go.
    pub target: Target,
    /// Redis's async_loading: the old data stays served meanwhile.
    pub async_loading: bool,
    /// The socket was left with unread bytes: continue without waiting
    /// for readiness.
    pub more: bool,
    /// The snapshot proved unusable (its error is already logged); false
    /// when the load ends because the link did.
    pub failed: bool,
}

/// What a round of parsing reached.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed.
    Partial,
    /// The snapshot is in; these bytes followed it (the master's stream).
    Done(Vec<u8>),
}

/// What parsing needs from the server: settings read once per round, and
/// the live databases (the target of an `on-empty-db` load).
pub struct Env<'a> {
    /// Encoding thresholds of the values built.
    pub limits: LoadLimits,
    /// Databases, SELECTDB range, checksum switch.
    pub opts: LoadOptions,
    /// Clock for the keys' access field.
    pub now_ms: i64,
    /// `key-load-delay`.
    pub key_delay: i64,
    /// What the access field holds.
    pub access: AccessPolicy,
    /// The keyspace's databases.
    pub live: &'a mut Vec<Db>,
}

impl Env<'_> {
    /// The environment `srv` gives.
    pub fn of(srv: &mut Server) -> Env<'_> {
        Env {
            limits: crate::cmd::dump::load_limits(srv),
            opts: LoadOptions {
                databases: srv.ks.dbs.len(),
                // A replica keeps expired keys: its master sends their deletions.
                skip_expired_before_ms: None,
                verify_checksum: srv.config.rdbchecksum && !crate::rdb::skip_checksum_validation(),
            },
            now_ms: srv.clock.now_ms,
            key_delay: srv.config.key_load_delay,
            access: srv.ks.access,
            live: &mut srv.ks.dbs,
        }
    }
}

/// Whether the snapshot announced now is loaded from the socket (Redis's
/// useDisklessLoad): always with `swapdb`, with `on-empty-db` only when no
/// database holds a key.
pub fn use_diskless_load(srv: &Server) -> bool {
    match srv.config.repl_diskless_load {
        ReplDisklessLoad::Disabled => false,
        ReplDisklessLoad::OnEmptyDb => srv.ks.dbs.iter().all(|d| d.dict.len() == 0),
        ReplDisklessLoad::Swapdb => true,
    }
}

impl SocketLoad {
    /// A load of the payload announced by `header` into `target`.
    pub fn new(header: &PayloadHeader, target: Target, async_loading: bool) -> SocketLoad {
        let (total, mark) = match header {
            PayloadHeader::Len(n) => (Some(*n as u64), None),
            PayloadHeader::Eof(m) => (None, Some(m.clone())),
        };
        SocketLoad {
            buf: Vec::new(),
            version: None,
            db: 0,
            crc: 0,
            parsed: 0,
            received: 0,
            total,
            mark,
            retry_at: 0,
            mark_from: 0,
            ended: false,
            info: RdbInfo::default(),
            target,
            async_loading,
            more: false,
            failed: false,
        }
    }

    /// Takes bytes read from the socket.
    pub fn feed(&mut self, bytes: &mut Vec<u8>) {
        self.received += bytes.len() as u64;
        if self.buf.is_empty() {
            std::mem::swap(&mut self.buf, bytes);
        } else {
            self.buf.append(bytes);
        }
    }

    /// `(announced size or -1, bytes received)` for INFO.
    pub fn progress(&self) -> (i64, i64) {
        let total = self.total.map_or(-1, |t| t as i64);
        let read = match self.total {
            Some(t) => self.received.min(t),
            None => self.received,
        };
        (total, read as i64)
    }

    /// Bytes of the snapshot consumed so far.
    pub fn parsed(&self) -> u64 {
        self.parsed
    }

    /// What the load found (AUX fields, counts), for the caller's report.
    pub fn info(&self) -> &RdbInfo {
        &self.info
    }

    /// How many bytes at the front of `buf` are snapshot bytes, once all of
    /// them are there; None while more are due.
    fn complete_len(&mut self) -> Option<usize> {
        if let Some(total) = self.total {
            let left = (total - self.parsed.min(total)) as usize;
            return (self.buf.len() >= left).then_some(left);
        }
        let mark = self.mark.as_deref()?;
        let from = self.mark_from.min(self.buf.len());
        let found = self.buf[from..].windows(mark.len()).position(|w| w == mark).map(|p| p + from);
        if found.is_none() {
            self.mark_from = self.buf.len().saturating_sub(mark.len() - 1);
        }
        found
    }

    /// Drops `n` consumed snapshot bytes from the front of the buffer.
    fn consume(&mut self, n: usize) {
        self.crc = crc64(self.crc, &self.buf[..n]);
        self.parsed += n as u64;
        self.buf.drain(..n);
        self.mark_from = self.mark_from.saturating_sub(n);
    }

    /// Decodes every whole record received so far into the target
    /// databases. An error (the log text) means the snapshot is unusable:
    /// the caller abandons the load.
    pub fn step(&mut self, env: &mut Env<'_>) -> Result<Progress, String> {
        loop {
            if self.ended {
                return self.finish_trailer();
            }
            if self.version.is_none() {
                if self.buf.len() < 9 {
                    if self.complete_len().is_some() {
                        return Err(self.describe(&short_read(0)));
                    }
                    return Ok(Progress::Partial);
                }
                let version = Records::new(&self.buf[..9], &env.limits).map_err(|e| self.describe(&e))?.version();
                self.version = Some(version);
                self.info.version = version;
                self.consume(9);
            }
            let complete = self.complete_len();
            if complete.is_none() && self.buf.len() < self.retry_at {
                return Ok(Progress::Partial);
            }
            let stalled = self.parse_records(env, complete)?;
            if stalled {
                return Ok(Progress::Partial);
            }
        }
    }

    /// One pass of records over the buffer (its first `complete` bytes when
    /// the whole snapshot is there). True when it stopped on a record not
    /// yet whole.
    fn parse_records(&mut self, env: &mut Env<'_>, complete: Option<usize>) -> Result<bool, String> {
        let view = complete.unwrap_or(self.buf.len());
        // A RESIZEDB hint is capped by what the snapshot could hold.
        let most_keys = self.total.unwrap_or(self.received) / 3;
        let (now, delay, access) = (env.now_ms, env.key_delay, env.access);
        let dbs: &mut Vec<Db> = match &mut self.target {
            Target::Side(dbs) => dbs,
            Target::Live => env.live,
        };
        let version = self.version.unwrap_or(crate::rdb::RDB_VERSION);
        let mut records = Records::resume(&self.buf[..view], &env.limits, version, self.db as u64, self.crc);
        let mut consumed = 0;
        let mut db = self.db;
        let mut hints = Vec::new();
        let result = loop {
            let rec = match records.next_record() {
                Ok(Some(rec)) => rec,
                Ok(None) => break Ok(false),
                Err(e) if e.kind == RdbErrorKind::Truncated && complete.is_none() => break Ok(true),
                Err(e) => break Err(e),
            };
            let at = records.offset();
            let end = matches!(rec, Record::End { .. });
            let mut on_resize = |d: usize, keys: u64, expires: u64| hints.push((d, keys, expires));
            let mut on_key = |k: LoadedKey| {
                crate::persist::rdb::insert_loaded_key(dbs, None, &access, now, k, true)?;
                crate::persist::rdb::key_load_pause(delay);
                Ok(())
            };
            let took = crate::rdb::file::take_record(
                rec,
                at,
                most_keys,
                &mut db,
                &mut self.info,
                &env.opts,
                &mut on_resize,
                &mut on_key,
            );
            if let Err(e) = took {
                break Err(RdbError { offset: at, ..e });
            }
            for (d, keys, expires) in hints.drain(..) {
                crate::persist::rdb::reserve_db(dbs, d, keys, expires);
            }
            consumed = at;
            if end {
                self.ended = true;
                break Ok(false);
            }
        };
        self.db = db;
        let result = result.map_err(|e| self.describe(&e));
        self.consume(consumed);
        // Once a record is cut short, try again when twice as many bytes
        // of it are in.
        self.retry_at = if result == Ok(true) { (self.buf.len() * 2).max(self.buf.len() + 1) } else { 0 };
        result
    }

    /// After the EOF record: the mark must follow (EOF form), or the
    /// announced size must be reached; what comes next is the stream.
    fn finish_trailer(&mut self) -> Result<Progress, String> {
        match self.mark.as_deref() {
            Some(mark) => {
                if self.buf.len() < MARK_LEN {
                    return Ok(Progress::Partial);
                }
                if &self.buf[..MARK_LEN] != mark {
                    // COMPAT: readSyncBulkPayload's complaint.
                    return Err("Replication stream EOF marker is broken".into());
                }
                Ok(Progress::Done(self.buf.split_off(MARK_LEN)))
            }
            None => {
                let left = (self.total.unwrap_or(0).saturating_sub(self.parsed)) as usize;
                if self.buf.len() < left {
                    return Ok(Progress::Partial);
                }
                Ok(Progress::Done(self.buf.split_off(left)))
            }
        }
    }

    /// The log text for a snapshot that cannot be loaded.
    fn describe(&self, e: &RdbError) -> String {
        let offset = self.parsed + e.offset as u64;
        // COMPAT: rdbReportError's line, then readSyncBulkPayload's.
        format!("Internal error in RDB reading offset {offset} -> {}. Failure loading rdb format", e.reason.trim_end())
    }
}

fn short_read(offset: usize) -> RdbError {
    RdbError { offset, kind: RdbErrorKind::Truncated, reason: "Unexpected EOF reading RDB file".into() }
}

// ------------------------------------------------------------ transitions

/// Starts loading the payload `header` announced from the socket: kills a
/// background save (its snapshot would be stale and it doubles memory),
/// prepares the target (a side set with `swapdb`; with `on-empty-db` our
/// replicas are dropped and the live data flushed), and enters the loading
/// state. `master_replid` is the FULLRESYNC identity: when it is ours, the
/// load is asynchronous (the old data stays served).
pub fn start(srv: &mut Server, header: &PayloadHeader, master_replid: &str) -> SocketLoad {
    if srv.persist.child_is(crate::persist::child::ChildKind::Rdb) {
        crate::persist::rdb::kill_child(srv);
    }
    let swapdb = srv.config.repl_diskless_load == ReplDisklessLoad::Swapdb;
    let (target, async_loading) = if swapdb {
        let side = (0..srv.ks.dbs.len()).map(|_| Db::default()).collect();
        (Target::Side(side), srv.repl.replid == master_replid)
    } else {
        super::replica::attach_to_new_master(srv);
        // COMPAT: readSyncBulkPayload's log line.
        log::info!("MASTER <-> REPLICA sync: Flushing old data");
        empty_live_data(srv);
        (Target::Live, false)
    };
    log::info!("MASTER <-> REPLICA sync: Loading DB in memory");
    let p = &mut srv.persist;
    p.loading_started_secs = srv.clock.now_secs();
    p.loading_total_bytes = match header {
        PayloadHeader::Len(n) => *n as u64,
        PayloadHeader::Eof(_) => 0,
    };
    p.loading_loaded_bytes = 0;
    // Async loading keeps serving: only `no-async-loading` commands are
    // refused (see `replica::deny_command`).
    p.loading = !async_loading;
    SocketLoad::new(header, target, async_loading)
}

/// Ends a load that failed (the link died, a short read, a corrupt
/// snapshot): a side set is dropped in the background and the old data
/// stays; a half-filled live dataset is emptied.
pub fn abort(srv: &mut Server, load: SocketLoad) {
    srv.persist.loading = false;
    if !load.failed {
        // COMPAT: rdbReportError's line for a snapshot cut short on a socket.
        log::warn!(
            "Internal error in RDB reading offset {} -> Unexpected EOF reading RDB file. Failure loading rdb format from socket, assuming connection error, resuming operation.",
            load.parsed
        );
    }
    // COMPAT: readSyncBulkPayload's log lines.
    log::warn!("Failed trying to load the MASTER synchronization DB from socket");
    match load.target {
        Target::Side(dbs) => {
            dispose(srv, dbs);
            log::info!("MASTER <-> REPLICA sync: Discarding temporary DB in background");
        }
        Target::Live => empty_live_data(srv),
    }
}

/// Ends a load that succeeded: a side set replaces the live databases
/// (the old ones are freed in the background); the change counts as one
/// write, as the snapshot was not saved.
pub fn complete(srv: &mut Server, load: SocketLoad) {
    srv.persist.loading = false;
    let info = &load.info;
    srv.persist.last_load_keys_loaded = info.keys_loaded;
    srv.persist.last_load_keys_expired = info.keys_expired;
    // COMPAT: rdbLoadRio's summary line.
    log::info!("Done loading RDB, keys loaded: {}, keys expired: {}.", info.keys_loaded, info.keys_expired);
    if let Target::Side(mut dbs) = load.target {
        super::replica::attach_to_new_master(srv);
        // COMPAT: readSyncBulkPayload's log lines, here and below.
        log::info!("MASTER <-> REPLICA sync: Swapping active DB with loaded DB");
        std::mem::swap(&mut srv.ks.dbs, &mut dbs);
        srv.ks.flushed = true;
        srv.ks.replica_keys_with_expire.clear();
        // Clients blocked on keys may find them in the new data.
        for db in 0..srv.ks.dbs.len() {
            srv.signal_db_ready(db);
        }
        dispose(srv, dbs);
        log::info!("MASTER <-> REPLICA sync: Discarding old DB in background");
    }
    // Keys loaded from the socket bypassed the cluster's per-slot index.
    srv.ks.slot_index_rebuild();
    srv.ks.dirty += 1;
    // The master's libraries replace ours.
    srv.script.functions.flush();
    if let Err(e) = crate::script::function::load_sources(srv, &load.info.functions, true) {
        log::warn!("Failed loading library from the master's snapshot: {e}");
    }
}

/// Empties the live databases (and forgets the TTLs our own clients set).
fn empty_live_data(srv: &mut Server) {
    srv.ks.replica_keys_with_expire.clear();
    for db in 0..srv.ks.dbs.len() {
        srv.ks.flush_db(db);
    }
}

/// Hands databases to the lazy-free queue.
fn dispose(srv: &mut Server, dbs: Vec<Db>) {
    for d in dbs {
        srv.ks.lazyfree.dispose_db(d.dict, d.expires);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Keyspace;
    use crate::rdb::{dump_payload, write_rdb, SaveOptions};
    use crate::types::value::{Str, Value};
    use crate::util::rand::Rng;

    const MARK: &[u8; 40] = b"0123456789abcdef0123456789abcdef01234567";

    fn sample() -> (Keyspace, Vec<u8>) {
        let mut ks = Keyspace::new(4);
        for i in 0..300 {
            let v = Value::Str(Str::from_bytes(&vec![b'a' + (i % 26) as u8; i * 7]));
            ks.set(i % 3, format!("k{i}").as_bytes(), v, false);
        }
        ks.set_expire(1, b"k1", 9_000_000_000_000);
        let mut file = Vec::new();
        write_rdb(&mut file, &ks, &[("redis-ver", "7.0.15".to_string())], SaveOptions::default()).unwrap();
        (ks, file)
    }

    fn env_with(live: &mut Vec<Db>) -> Env<'_> {
        Env {
            limits: LoadLimits::default(),
            opts: LoadOptions { databases: 4, skip_expired_before_ms: None, verify_checksum: true },
            now_ms: 0,
            key_delay: 0,
            access: AccessPolicy::default(),
            live,
        }
    }

    fn side() -> Target {
        Target::Side((0..4).map(|_| Db::default()).collect())
    }

    fn same_data(a: &[Db], b: &[Db]) {
        for (da, db) in a.iter().zip(b) {
            assert_eq!(da.dict.len(), db.dict.len());
            assert_eq!(da.expires.len(), db.expires.len());
            for (k, o) in da.dict.iter() {
                let other = db.dict.get(&k[..]).expect("key loaded");
                assert_eq!(dump_payload(&o.value, false), dump_payload(&other.value, false));
            }
        }
    }

    /// Feeds `wire` in chunks of random sizes; returns the outcome.
    fn run(load: &mut SocketLoad, live: &mut Vec<Db>, wire: &[u8], rng: &mut Rng) -> Result<Progress, String> {
        let mut at = 0;
        while at < wire.len() {
            let n = (1 + rng.below(3000) as usize).min(wire.len() - at);
            let mut chunk = wire[at..at + n].to_vec();
            at += n;
            load.feed(&mut chunk);
            match load.step(&mut env_with(live))? {
                Progress::Partial => {}
                done => return Ok(done),
            }
        }
        Ok(Progress::Partial)
    }

    #[test]
    fn counted_payload_loads_piece_by_piece_into_a_side_set() {
        let (ks, file) = sample();
        let mut rng = Rng::with_seed(7);
        let mut wire = file.clone();
        wire.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        let mut live: Vec<Db> = (0..4).map(|_| Db::default()).collect();
        let mut load = SocketLoad::new(&PayloadHeader::Len(file.len()), side(), false);
        let out = run(&mut load, &mut live, &wire, &mut rng).unwrap();
        assert_eq!(out, Progress::Done(b"*1\r\n$4\r\nPING\r\n".to_vec()));
        assert!(live.iter().all(|d| d.dict.len() == 0), "the live set is untouched");
        let Target::Side(dbs) = &load.target else { panic!() };
        same_data(&ks.dbs, dbs);
        assert_eq!(load.info().keys_loaded, 300);
        assert_eq!(load.parsed(), file.len() as u64);
    }

    #[test]
    fn eof_marked_payload_loads_into_the_live_set() {
        let (ks, file) = sample();
        let mut rng = Rng::with_seed(11);
        let mut wire = file.clone();
        wire.extend_from_slice(MARK);
        wire.extend_from_slice(b"rest");
        let mut live: Vec<Db> = (0..4).map(|_| Db::default()).collect();
        let mut load = SocketLoad::new(&PayloadHeader::Eof(MARK.to_vec()), Target::Live, false);
        assert_eq!(run(&mut load, &mut live, &wire, &mut rng).unwrap(), Progress::Done(b"rest".to_vec()));
        same_data(&ks.dbs, &live);
    }

    #[test]
    fn a_cut_payload_never_completes() {
        let (_, file) = sample();
        let mut rng = Rng::with_seed(3);
        let mut live: Vec<Db> = (0..4).map(|_| Db::default()).collect();
        let mut load = SocketLoad::new(&PayloadHeader::Eof(MARK.to_vec()), side(), false);
        assert_eq!(run(&mut load, &mut live, &file[..file.len() - 5], &mut rng).unwrap(), Progress::Partial);
        assert!(load.parsed() < file.len() as u64);
    }

    #[test]
    fn a_broken_mark_or_checksum_is_an_error() {
        let (_, file) = sample();
        let mut rng = Rng::with_seed(5);
        let mut live: Vec<Db> = (0..4).map(|_| Db::default()).collect();
        let mut wire = file.clone();
        wire.extend_from_slice(&[b'x'; 40]);
        let mut load = SocketLoad::new(&PayloadHeader::Eof(MARK.to_vec()), side(), false);
        let e = run(&mut load, &mut live, &wire, &mut rng).unwrap_err();
        assert_eq!(e, "Replication stream EOF marker is broken");

        let mut wire = file.clone();
        let last = wire.len() - 1;
        wire[last] ^= 0xff;
        let mut load = SocketLoad::new(&PayloadHeader::Len(file.len()), side(), false);
        let e = run(&mut load, &mut live, &wire, &mut rng).unwrap_err();
        assert!(e.contains("Wrong RDB checksum"), "{e}");
    }

    #[test]
    fn a_corrupt_record_fails_once_the_whole_payload_is_in() {
        let (_, file) = sample();
        let mut rng = Rng::with_seed(9);
        let mut live: Vec<Db> = (0..4).map(|_| Db::default()).collect();
        // A string length far beyond the data: it reads as "not yet here"
        // until the mark shows the payload is complete.
        let mut wire = file[..9].to_vec();
        wire.extend_from_slice(&[0xfe, 0x00, 0x00, 0x01, b'k', 0x80, 0x7f, 0xff, 0xff, 0xff]);
        wire.extend_from_slice(MARK);
        let mut load = SocketLoad::new(&PayloadHeader::Eof(MARK.to_vec()), side(), false);
        let e = run(&mut load, &mut live, &wire, &mut rng).unwrap_err();
        assert!(e.starts_with("Internal error in RDB reading offset"), "{e}");
    }

    #[test]
    fn random_payloads_never_panic() {
        let (_, file) = sample();
        let mut rng = Rng::with_seed(0x5eed);
        let mut live: Vec<Db> = (0..4).map(|_| Db::default()).collect();
        for round in 0..300 {
            let mut wire = if round % 2 == 0 {
                // A real file with a few bytes flipped.
                let mut w = file.clone();
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(w.len() as u64) as usize;
                    w[i] = rng.next_u64() as u8;
                }
                w
            } else {
                let mut w = b"REDIS0010".to_vec();
                w.extend((0..rng.below(400)).map(|_| rng.next_u64() as u8));
                w
            };
            let header = if round % 3 == 0 {
                wire.extend_from_slice(MARK);
                PayloadHeader::Eof(MARK.to_vec())
            } else {
                PayloadHeader::Len(wire.len().saturating_sub(rng.below(3) as usize))
            };
            let mut load = SocketLoad::new(&header, side(), false);
            let _ = run(&mut load, &mut live, &wire, &mut rng);
        }
    }
}
