//! What the replicas acknowledged, and the write guarantees built on it:
//! WAIT, REPLCONF GETACK requests, and `min-replicas-to-write` /
//! `min-replicas-max-lag` (the NOREPLICAS refusal).
//!
//! Owns the WAIT wait list's rules and the good-replica count; the ACK
//! offsets themselves are recorded by REPLCONF ACK in the parent module.
//! Must not touch sockets: replies go through the clients' buffers. Mirrors
//! Redis 7.0's `waitCommand`, `processClientsWaitingReplicas`,
//! `replicationRequestAckFromSlaves` and `refreshGoodSlavesCount`.

use crate::blocked::Blocked;
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::cmd::spec::CmdFlags;
use crate::propagate::words;
use crate::server::{Server, Timer};

/// What a client blocked in WAIT waits for.
#[derive(Debug, Clone, Copy)]
pub struct WaitFor {
    /// Replicas that must acknowledge.
    pub replicas: i64,
    /// The stream offset they must have reached (the client's last write).
    pub offset: i64,
}

/// Replicas whose acknowledged offset is at least `offset`.
pub fn count_acks(srv: &Server, offset: i64) -> i64 {
    let infos = &srv.repl.replica_info;
    srv.repl
        .replicas
        .iter()
        .filter(|k| infos.get(k).is_some_and(|i| i.state.online() && i.ack_offset >= offset))
        .count() as i64
}

/// WAIT numreplicas timeout.
pub fn wait(srv: &mut Server, c: &mut Client) -> CmdResult {
    if srv.repl.replica.is_replica() {
        // COMPAT: waitCommand's refusal on a replica.
        return Err(ReplyError::err(
            "WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        ));
    }
    let replicas = crate::util::num::string2ll(c.arg(1)).ok_or(ReplyError::NotInteger)?;
    // COMPAT: getTimeoutFromObjectOrReply's texts for a timeout in ms.
    let timeout_ms = crate::util::num::string2ll(c.arg(2))
        .ok_or_else(|| ReplyError::err("timeout is not an integer or out of range"))?;
    if timeout_ms < 0 {
        return Err(ReplyError::err("timeout is negative"));
    }
    let offset = c.woff;
    let acked = count_acks(srv, offset);
    if acked >= replicas || c.in_exec {
        c.reply.int(acked);
        return Ok(());
    }
    let deadline_ms = srv.block_deadline(timeout_ms);
    let timer = deadline_ms.map(|at| srv.timers.add(at, Timer::BlockTimeout(c.key, c.id)));
    c.blocked = Some(Blocked {
        db: c.db,
        keys: Vec::new(),
        kind: "wait",
        wake_on_delete: false,
        deadline_ms,
        timer,
        wait_for: Some(WaitFor { replicas, offset }),
    });
    srv.stats.blocked_clients += 1;
    srv.repl.waiting.push(c.key);
    srv.repl.get_ack = true;
    Ok(())
}

/// Before the loop sleeps: ask the replicas for an ACK if a WAIT needs one
/// (unless clients are paused: the request would move the offset), then
/// release the WAITs whose replicas have acknowledged enough.
pub fn before_sleep(srv: &mut Server) {
    if srv.repl.get_ack && srv.pause == crate::server::Pause::None && !super::failover::pauses_writes(srv) {
        srv.repl.get_ack = false;
        srv.repl_feed_unselected(&[words::REPLCONF, words::GETACK, words::STAR]);
    }
    // ACKs that arrived may let a failover proceed.
    super::failover::update(srv);
    if srv.repl.waiting.is_empty() {
        return;
    }
    for key in srv.repl.waiting.clone() {
        let Some(mut c) = srv.take_client_slot(key) else { continue };
        if let Some(w) = c.blocked.as_ref().and_then(|b| b.wait_for) {
            let acked = count_acks(srv, w.offset);
            if acked >= w.replicas {
                srv.finish_wait(&mut c, acked);
            }
        }
        srv.return_client_slot(c);
    }
}

/// Recounts the replicas whose last ACK is at most `min-replicas-max-lag`
/// seconds old (only while `min-replicas-to-write` is in force).
pub fn refresh_good_replicas(srv: &mut Server) {
    let (need, lag) = (srv.config.min_replicas_to_write, srv.config.min_replicas_max_lag);
    if need == 0 || lag == 0 {
        return;
    }
    let now_secs = srv.clock.now_ms / 1000;
    let infos = &srv.repl.replica_info;
    srv.repl.good_replicas = srv
        .repl
        .replicas
        .iter()
        .filter(|k| {
            infos.get(k).is_some_and(|i| i.state.online() && now_secs - i.ack_ms / 1000 <= lag)
        })
        .count();
}

/// True when `min-replicas-to-write` is in force on this master (INFO shows
/// `min_slaves_good_slaves` then).
pub fn min_replicas_active(srv: &Server) -> bool {
    srv.config.min_replicas_to_write != 0 && srv.config.min_replicas_max_lag != 0
}

/// The NOREPLICAS refusal of a write while fewer good replicas than
/// `min-replicas-to-write` are attached. EXEC is judged by what it queued;
/// refused, it discards the transaction (EXECABORT), as Redis.
pub fn deny_without_good_replicas(srv: &mut Server, c: &mut Client, idx: usize) -> Option<ReplyError> {
    if !min_replicas_active(srv) || srv.repl.replica.is_replica() {
        return None;
    }
    // Recounted here too, so a CONFIG SET takes effect at once.
    refresh_good_replicas(srv);
    if srv.repl.good_replicas >= srv.config.min_replicas_to_write as usize {
        return None;
    }
    let cmds = &srv.commands.cmds;
    let exec = cmds[idx].name == "exec";
    let writes = cmds[idx].flags.has(CmdFlags::WRITE)
        || (exec && c.multi_flags.has(CmdFlags::WRITE));
    if !writes {
        return None;
    }
    // COMPAT: shared.noreplicaserr.
    let text = "NOREPLICAS Not enough good replicas to write.";
    if exec {
        crate::cmd::multi::discard_transaction(srv, c);
        return Some(ReplyError::other(format!("EXECABORT Transaction discarded because of: {text}")));
    }
    Some(ReplyError::other(text))
}

impl Server {
    /// Ends client `c`'s WAIT with `acked` and carries on with its input.
    pub fn finish_wait(&mut self, c: &mut Client, acked: i64) {
        self.unblock_client(c);
        c.reply.int(acked);
        c.argv.clear();
        c.command_ready = false;
        self.process_input(c);
        self.queue_client_write(c);
    }
}
