//! Full synchronisation, master side: a forked child writes the snapshot
//! while the master keeps serving, as Redis 7.0's syncCommand,
//! startBgsaveForReplication and updateSlavesWaitingBgsave do.
//!
//! A replica asking for a full sync first waits for a child
//! (`WaitBgsaveStart`). With `repl-diskless-sync` (and a replica that reads
//! an EOF-marked stream) the child writes `$EOF:<mark>\r\n<rdb><mark>` into a
//! socket pair; the parent reads it only when every receiving replica has
//! sent what it got before, so at most one chunk is held, and copies each
//! chunk into their output. Otherwise the child is an ordinary BGSAVE and,
//! once it succeeded, the file is sent to each waiting replica in chunks as
//! its socket drains. Meanwhile the replication stream a replica must apply
//! after the snapshot accumulates in the shared backlog, where the replica's
//! cursor stays at the fork's offset, and follows the snapshot once it is
//! complete (for a diskless transfer, once the replica's first ACK says it
//! loaded it): from then on [`refill`] hands the replica's writer the next
//! chunk of the stream whenever its reply buffer is empty. `repl-diskless-sync-delay` and
//! `repl-diskless-sync-max-replicas` let several replicas share one child.
//!
//! Owns the per-replica transfer state and the pipe; the child itself is
//! `crate::persist::child`'s. Must not block: every read and write is
//! non-blocking, driven by the reactor.

use std::io::{Read, Write};

use bytes::Bytes;
use mio::Interest;

use crate::client::reply::ReplyError;
use crate::client::Client;
use crate::persist::child::{self, ChildKind, Exit};
use crate::reactor::TokenKind;
use crate::server::Server;

/// Where a replica stands in its synchronisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncState {
    /// Waiting for a child to start (delay, or another child running).
    #[default]
    WaitBgsaveStart,
    /// A child writes the snapshot this replica will get.
    WaitBgsaveEnd,
    /// The snapshot file is being sent.
    SendBulk,
    /// The diskless snapshot went out; the stream follows the first ACK.
    AwaitAck,
    /// Receiving the live stream.
    Online,
}

impl SyncState {
    /// Counted as attached for WAIT, `min-replicas-to-write` and the
    /// streaming timeout (Redis's ONLINE, which includes waiting for the
    /// first ACK).
    pub fn online(self) -> bool {
        matches!(self, SyncState::AwaitAck | SyncState::Online)
    }

    /// The `state=` word of INFO's slaveN lines.
    pub fn word(self) -> &'static str {
        match self {
            SyncState::WaitBgsaveStart | SyncState::WaitBgsaveEnd => "wait_bgsave",
            SyncState::SendBulk => "send_bulk",
            SyncState::AwaitAck | SyncState::Online => "online",
        }
    }
}

/// The diskless transfer in progress: the parent's end of the child's
/// socket pair.
#[derive(Debug)]
pub struct Pipe {
    stream: mio::net::UnixStream,
    /// Readiness seen and not yet read to WouldBlock.
    readable: bool,
}

/// Bytes of the snapshot file handed to a replica's output at a time.
const BULK_CHUNK: usize = 256 * 1024;
/// Bytes read from the child's pipe per loop iteration at most.
const PIPE_READ_MAX: usize = 1024 * 1024;

/// Starts a full synchronisation for `c` (SYNC, or PSYNC that could not
/// continue): it becomes a replica waiting for a snapshot.
pub fn start(srv: &mut Server, c: &mut Client, psync: bool) -> Result<(), ReplyError> {
    srv.repl.stat_sync_full += 1;
    c.flags.replica = true;
    srv.repl.replicas.push(c.key);
    {
        let info = srv.repl.replica_info.entry(c.key).or_default();
        info.state = SyncState::WaitBgsaveStart;
        info.pre_psync = !psync;
    }
    srv.ensure_backlog();
    let filtered = srv.repl.replica_info.get(&c.key).is_some_and(|i| i.rdb_filter.any());
    let diskless = srv.config.repl_diskless_sync && srv.repl.replica_info.get(&c.key).is_some_and(|i| i.capa_eof);
    if srv.persist.child_is(ChildKind::Rdb) && !srv.repl.sync_socket && !filtered {
        // A disk save runs: if another replica already records the stream
        // since its fork, this one can share the file.
        let twin = srv.repl.replicas.iter().copied().find(|&k| {
            k != c.key && srv.repl.replica_info.get(&k).is_some_and(|i| i.state == SyncState::WaitBgsaveEnd)
        });
        if let Some(twin) = twin {
            // It shares the twin's snapshot and, from the twin's cursor
            // (still at the fork), the stream that follows it.
            let offset = srv.repl.replica_info[&twin].initial_offset;
            let from = srv.repl.backlog.as_ref().and_then(|b| b.cursor(twin));
            setup_for_full_resync(srv, c, offset, from);
            // COMPAT: syncCommand's log lines, here and below.
            log::info!("Waiting for end of BGSAVE for SYNC");
        } else {
            log::info!("Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC");
        }
    } else if srv.persist.child_is(ChildKind::Rdb) {
        if filtered && !srv.repl.sync_socket {
            log::info!("Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC");
        } else {
            log::info!("Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC");
        }
    } else if diskless && srv.config.repl_diskless_sync_delay > 0 {
        log::info!("Delay next BGSAVE for diskless SYNC");
    } else if srv.persist.child.is_none() {
        start_child(srv, Some(c));
    } else {
        log::info!("No BGSAVE in progress, but another BG operation is active. BGSAVE for replication delayed");
    }
    Ok(())
}

/// The replica will get the snapshot of a child forked at stream `offset`:
/// it is told so (FULLRESYNC) and gets a backlog cursor at `from` (the
/// stream since that fork; None: from now on).
fn setup_for_full_resync(srv: &mut Server, c: &mut Client, offset: i64, from: Option<i64>) {
    let info = srv.repl.replica_info.entry(c.key).or_default();
    info.initial_offset = offset;
    info.state = SyncState::WaitBgsaveEnd;
    let pre_psync = info.pre_psync;
    if let Some(b) = srv.repl.backlog.as_mut() {
        let from = from.unwrap_or(b.end_offset());
        if !b.attach(c.key, from) {
            log::warn!("The replication backlog no longer holds offset {from}: the replica misses stream");
        }
    }
    // The stream after the snapshot must start with a SELECT.
    srv.repl.seldb = None;
    if !pre_psync {
        let line = format!("+FULLRESYNC {} {}\r\n", srv.repl.replid, offset);
        c.reply.unmuted(|out| out.raw(line.as_bytes()));
    }
}

/// Forks the child for the replicas waiting to start that want what the
/// first of them wants (the same rdb-filter-only; the others wait for the
/// next child); `current` is the client running SYNC/PSYNC, if any (it is
/// out of the client table).
fn start_child(srv: &mut Server, mut current: Option<&mut Client>) {
    let waiting_filter = |srv: &Server, k: &usize| {
        srv.repl.replica_info.get(k).filter(|i| i.state == SyncState::WaitBgsaveStart).map(|i| i.rdb_filter)
    };
    let Some(filter) = srv.repl.replicas.iter().find_map(|k| waiting_filter(srv, k)) else { return };
    let waiting: Vec<usize> =
        srv.repl.replicas.iter().copied().filter(|k| waiting_filter(srv, k) == Some(filter)).collect();
    let all_eof = waiting.iter().all(|k| srv.repl.replica_info.get(k).is_some_and(|i| i.capa_eof));
    // A filtered snapshot never goes to disk (the dump file is shared).
    let socket = (srv.config.repl_diskless_sync || filter.any()) && all_eof;
    // COMPAT: startBgsaveForReplication's log lines, here and below.
    log::info!("Starting BGSAVE for SYNC with target: {}", if socket { "replicas sockets" } else { "disk" });
    let started = if socket { spawn_socket_child(srv, filter) } else { crate::persist::rdb::bgsave(srv) };
    let offset = srv.repl.offset;
    for key in waiting {
        let with = |srv: &mut Server, c: &mut Client| {
            if started {
                setup_for_full_resync(srv, c, offset, None);
            } else {
                srv.repl_forget(c.key);
                c.flags.replica = false;
                c.reply.error("ERR BGSAVE failed, replication can't continue");
                c.flags.close_after_reply = true;
            }
        };
        match current.as_deref_mut() {
            Some(c) if c.key == key => with(srv, c),
            _ => {
                if let Some(mut c) = srv.take_client_slot(key) {
                    with(srv, &mut c);
                    srv.queue_client_write(&mut c);
                    srv.return_client_slot(c);
                }
            }
        }
    }
    if !started {
        log::warn!("BGSAVE for replication failed");
    }
}

/// Forks the diskless child: it writes the EOF-marked snapshot into a
/// socket pair whose other end the reactor watches.
fn spawn_socket_child(srv: &mut Server, filter: super::RdbFilter) -> bool {
    let pair = std::os::unix::net::UnixStream::pair().and_then(|(a, b)| a.set_nonblocking(true).map(|_| (a, b)));
    let (parent_end, child_end) = match pair {
        Ok(p) => p,
        Err(e) => {
            log::warn!("Can't create the pipe for the diskless transfer: {e}");
            return false;
        }
    };
    let mark = crate::server::random_hex(40);
    srv.persist.rdb_saves += 1;
    let job = move |srv: &Server| {
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, child_end);
        let written = out
            .write_all(format!("$EOF:{mark}\r\n").as_bytes())
            .and_then(|_| crate::persist::rdb::write_filtered_snapshot(srv, &mut out, filter))
            .and_then(|_| out.write_all(mark.as_bytes()))
            .and_then(|_| out.flush());
        if written.is_err() {
            return false;
        }
        // The snapshot's tail may still sit in the socket buffer: exiting
        // now would let the parent reap us and close its end before reading
        // it. Signal the end of the data instead and wait until the parent,
        // having read up to it, closes its end (Redis's safe-to-exit pipe).
        let Ok(mut end) = out.into_inner() else { return false };
        let _ = end.shutdown(std::net::Shutdown::Write);
        let mut byte = [0u8; 1];
        while let Err(e) = end.read(&mut byte) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                break;
            }
        }
        true
    };
    match child::spawn(srv, ChildKind::Rdb, job) {
        Ok(pid) => {
            let mut stream = mio::net::UnixStream::from_std(parent_end);
            if let Err(e) = srv.reactor.register(&mut stream, TokenKind::ReplPipe.token(0), Interest::READABLE) {
                log::warn!("Can't watch the diskless transfer pipe: {e}");
            }
            srv.repl.pipe = Some(Pipe { stream, readable: true });
            srv.repl.sync_socket = true;
            // COMPAT: rdbSaveToSlavesSockets's message.
            log::info!("Background RDB transfer started by pid {pid}");
            true
        }
        Err(e) => {
            log::warn!("Can't save in background: fork: {e}");
            false
        }
    }
}

/// The reactor saw the pipe readable.
pub fn pipe_readable(srv: &mut Server) {
    if let Some(p) = srv.repl.pipe.as_mut() {
        p.readable = true;
    }
    read_pipe(srv);
}

/// Replicas receiving the diskless snapshot.
fn receivers(srv: &Server) -> Vec<usize> {
    srv.repl
        .replicas
        .iter()
        .copied()
        .filter(|k| srv.repl.replica_info.get(k).is_some_and(|i| i.state == SyncState::WaitBgsaveEnd))
        .collect()
}

fn all_drained(srv: &Server, keys: &[usize]) -> bool {
    keys.iter().all(|&k| srv.clients.get(k).and_then(|s| s.as_deref()).is_none_or(|c| c.reply.is_empty()))
}

/// True when the loop must not sleep: the pipe has data and every receiver
/// (there is one at least: a child nobody receives is being killed) is
/// ready for more.
pub fn has_pending_work(srv: &Server) -> bool {
    if !srv.repl.pipe.as_ref().is_some_and(|p| p.readable) {
        return false;
    }
    let keys = receivers(srv);
    !keys.is_empty() && all_drained(srv, &keys)
}

/// Before the loop sleeps: moves the next chunk of a diskless snapshot.
pub fn before_sleep(srv: &mut Server) {
    if srv.repl.pipe.is_some() {
        read_pipe(srv);
    }
}

/// Reads what the child wrote (once every receiver sent the previous chunk)
/// and copies it to the receivers' output.
fn read_pipe(srv: &mut Server) {
    let keys = receivers(srv);
    if keys.is_empty() || !all_drained(srv, &keys) {
        return;
    }
    let Some(p) = srv.repl.pipe.as_mut() else { return };
    if !p.readable {
        return;
    }
    let mut chunk = vec![0u8; 64 * 1024];
    let mut data = Vec::new();
    let mut eof = false;
    while data.len() < PIPE_READ_MAX {
        match p.stream.read(&mut chunk) {
            Ok(0) => {
                eof = true;
                break;
            }
            Ok(n) => data.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                p.readable = false;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::warn!("Diskless rdb transfer, read error sending DB to replicas: {e}");
                eof = true;
                break;
            }
        }
    }
    let now = srv.clock.now_ms;
    for &key in &keys {
        if let Some(info) = srv.repl.replica_info.get_mut(&key) {
            info.last_drain_ms = now;
        }
        if !data.is_empty() {
            srv.with_client(key, None, |c| c.reply.unmuted(|out| out.raw(&data)));
        }
    }
    if eof {
        if let Some(mut p) = srv.repl.pipe.take() {
            let _ = srv.reactor.deregister(&mut p.stream);
            // Lets the child exit (it waits for this). A shutdown, not just
            // a close: the child holds a copy of this descriptor too.
            let _ = p.stream.shutdown(std::net::Shutdown::Both);
        }
        // COMPAT: rdbPipeReadHandler's message.
        log::info!("Diskless rdb transfer, done reading from pipe, {} replicas still up.", keys.len());
    }
}

/// The RDB child ended: a diskless transfer completes or fails; a disk
/// save feeds the replicas waiting for it. Then replicas still waiting for
/// a child get one.
pub fn child_done(srv: &mut Server, exit: &Exit) {
    let socket = std::mem::take(&mut srv.repl.sync_socket);
    if let Some(mut p) = srv.repl.pipe.take() {
        let _ = srv.reactor.deregister(&mut p.stream);
    }
    if socket {
        // COMPAT: backgroundSaveDoneHandlerSocket's messages.
        if exit.ok() {
            log::info!("Background RDB transfer terminated with success");
        } else if let Some(sig) = exit.signal.or(exit.killed.then_some(libc::SIGUSR1)) {
            log::warn!("Background transfer terminated by signal {sig}");
        } else {
            log::warn!("Background transfer error");
        }
    }
    let ok = exit.ok();
    let mut file: Option<Bytes> = None;
    for key in srv.repl.replicas.clone() {
        if srv.repl.replica_info.get(&key).map(|i| i.state) != Some(SyncState::WaitBgsaveEnd) {
            continue;
        }
        if !ok {
            // COMPAT: updateSlavesWaitingBgsave's message.
            log::warn!("SYNC failed. BGSAVE child returned an error");
            srv.kill_client(key);
            continue;
        }
        let name = srv.clients.get(key).and_then(|s| s.as_deref()).map(|c| srv.replica_name(c)).unwrap_or_default();
        if socket {
            if let Some(info) = srv.repl.replica_info.get_mut(&key) {
                info.state = SyncState::AwaitAck;
                // The repl-timeout clock starts now: loading the snapshot
                // before the first ACK may take a while, but not forever.
                info.ack_ms = srv.clock.now_ms;
            }
            log::info!(
                "Streamed RDB transfer with replica {name} succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming"
            );
            continue;
        }
        if file.is_none() {
            match std::fs::read(&srv.config.dbfilename) {
                Ok(bytes) => file = Some(Bytes::from(bytes)),
                Err(e) => {
                    log::warn!("SYNC failed. Can't open/stat DB after BGSAVE: {e}");
                    srv.kill_client(key);
                    continue;
                }
            }
        }
        let Some(data) = file.clone() else { continue };
        let header = format!("${}\r\n", data.len());
        if let Some(info) = srv.repl.replica_info.get_mut(&key) {
            info.state = SyncState::SendBulk;
            info.bulk = Some((data, 0));
        }
        srv.with_client(key, None, |c| c.reply.unmuted(|out| out.raw(header.as_bytes())));
    }
    start_pending(srv);
}

/// A replica's output drained (`flush_client`): hands it the next chunk of
/// the snapshot file (at its end the replica goes online), or, once
/// online, the next chunk of the stream from the shared backlog. Returns
/// true if bytes were added.
pub fn refill(srv: &mut Server, c: &mut Client) -> bool {
    let now = srv.clock.now_ms;
    let Some(info) = srv.repl.replica_info.get_mut(&c.key) else { return false };
    info.last_drain_ms = now;
    if let Some((data, pos)) = info.bulk.as_mut() {
        if *pos < data.len() {
            let end = (*pos + BULK_CHUNK).min(data.len());
            let piece = data.slice(*pos..end);
            *pos = end;
            c.reply.unmuted(|out| out.raw(&piece));
            return true;
        }
        info.bulk = None;
        put_online(srv, c);
        return !c.reply.is_empty();
    }
    info.state == SyncState::Online && pull_stream(srv, c)
}

/// Copies the next chunk of the stream `c` has not received (at most one
/// backlog block) into its reply buffer and advances its cursor. Returns
/// true if bytes were added.
fn pull_stream(srv: &mut Server, c: &mut Client) -> bool {
    let Some(b) = srv.repl.backlog.as_mut() else { return false };
    let chunk = b.chunk(c.key);
    let n = chunk.len();
    if n == 0 {
        return false;
    }
    c.reply.unmuted(|out| out.raw(chunk));
    b.consume(c.key, n);
    true
}

/// Starts the live stream for `c`: what accumulated in the backlog since
/// its snapshot's fork, then everything new.
fn put_online(srv: &mut Server, c: &mut Client) {
    let Some(info) = srv.repl.replica_info.get_mut(&c.key) else { return };
    info.state = SyncState::Online;
    info.ack_ms = srv.clock.now_ms;
    // The first chunk now, so that its writer is scheduled.
    pull_stream(srv, c);
    crate::repl::acks::refresh_good_replicas(srv);
    // COMPAT: replicaStartCommandStream's message.
    log::info!("Synchronization with replica {} succeeded", srv.replica_name(c));
}

/// REPLCONF ACK from `c`: a replica that loaded a diskless snapshot starts
/// receiving the stream.
pub fn on_ack(srv: &mut Server, c: &mut Client) {
    let Some(state) = srv.repl.replica_info.get(&c.key).map(|i| i.state) else { return };
    // A replica acknowledging after the whole diskless stream went out has
    // checked its end mark: no need to wait for the child to be reaped.
    let transferred = state == SyncState::WaitBgsaveEnd && srv.repl.sync_socket && srv.repl.pipe.is_none();
    if state == SyncState::AwaitAck || transferred {
        put_online(srv, c);
    }
}

/// Starts a child for replicas waiting for one, once no child runs and,
/// for diskless ones, the delay passed or enough of them are waiting.
pub fn start_pending(srv: &mut Server) {
    if srv.persist.child.is_some() {
        return;
    }
    let now = srv.clock.now_ms;
    let mut waiting = 0;
    let mut max_idle_ms = 0;
    for &key in &srv.repl.replicas {
        if srv.repl.replica_info.get(&key).is_some_and(|i| i.state == SyncState::WaitBgsaveStart) {
            waiting += 1;
            if let Some(Some(c)) = srv.clients.get(key) {
                max_idle_ms = max_idle_ms.max(now - c.last_interaction_ms);
            }
        }
    }
    if waiting == 0 {
        return;
    }
    let max = srv.config.repl_diskless_sync_max_replicas;
    if !srv.config.repl_diskless_sync
        || (max > 0 && waiting >= max)
        || max_idle_ms >= srv.config.repl_diskless_sync_delay * 1000
    {
        start_child(srv, None);
    }
}

/// A replica went away (`waited_for_snapshot`: it was waiting for the
/// running child's snapshot): a child whose snapshot nobody needs any more is
/// killed.
pub fn replica_gone(srv: &mut Server, waited_for_snapshot: bool) {
    if !srv.persist.child_is(ChildKind::Rdb) {
        return;
    }
    if srv.repl.sync_socket && receivers(srv).is_empty() {
        // COMPAT: rdbPipeWriteHandlerConnRemoved's message.
        log::warn!("Diskless rdb transfer, last replica dropped, killing fork child.");
        child::kill(srv, ChildKind::Rdb);
    } else if !srv.repl.sync_socket
        && waited_for_snapshot
        && srv.config.save.is_empty()
        && !srv.repl.replica_info.values().any(|i| i.state == SyncState::WaitBgsaveEnd)
    {
        // A disk snapshot nobody waits for any more, without save points
        // that would make it worth finishing: stop it, so the next full
        // sync (or BGSAVE) can fork at once, as Redis's freeClient does.
        child::kill(srv, ChildKind::Rdb);
    }
}

/// Once a second: drops receivers of a diskless snapshot that still hold
/// part of a chunk and took nothing of it for `repl-timeout` (the others
/// wait for them, as Redis's repl_last_partial_write rule has it).
pub fn cron(srv: &mut Server) {
    if !srv.repl.sync_socket {
        return;
    }
    let now = srv.clock.now_ms;
    let timeout_ms = srv.config.repl_timeout * 1000;
    for key in receivers(srv) {
        // Only a receiver still holding part of a chunk can be the one
        // stuck: one that took everything merely waits for the others.
        let holding = srv.clients.get(key).and_then(|s| s.as_deref()).is_some_and(|c| !c.reply.is_empty());
        let stuck = holding
            && srv.repl.replica_info.get(&key).is_some_and(|i| i.last_drain_ms != 0 && now - i.last_drain_ms > timeout_ms);
        if stuck {
            if let Some(Some(c)) = srv.clients.get(key) {
                // COMPAT: replicationCron's message.
                log::warn!("Disconnecting timedout replica (full sync): {}", srv.replica_name(c));
            }
            srv.kill_client(key);
        }
    }
}
