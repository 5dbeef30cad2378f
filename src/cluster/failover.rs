//! Failover in a cluster: a replica of a FAILed master runs an election
//! (rank by replication offset, a delay, votes from a majority of masters)
//! and takes its master's slots; masters grant at most one vote per epoch;
//! CLUSTER FAILOVER runs the manual variant (the master pauses writes until
//! its replica has caught up); replicas migrate to orphaned masters.
//!
//! Mirrors Redis 7.0's clusterHandleSlaveFailover,
//! clusterSendFailoverAuthIfNeeded, clusterFailoverReplaceYourMaster,
//! clusterHandleManualFailover and clusterHandleSlaveMigration.

use super::bus::{self, Target};
use super::wire::{flags, mflags0, Header, MsgType};
use super::{todo, Cluster, NodeId, SLOTS};
use crate::server::Server;

/// How long a manual failover may take.
pub const MF_TIMEOUT_MS: i64 = 5000;
/// The master keeps writes paused this many times the manual failover timeout.
const MF_PAUSE_MULT: i64 = 2;
/// An orphaned master waits this long before a replica migrates to it.
const REPLICA_MIGRATION_DELAY_MS: i64 = 5000;
/// A reason not to fail over is logged again after this long.
const RELOG_PERIOD_MS: i64 = 300_000;

/// Why the replica cannot fail over now (logged once per reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CantFailover {
    #[default]
    None,
    DataAge,
    WaitingDelay,
    Expired,
    WaitingVotes,
}

/// Election and manual failover state.
#[derive(Debug, Default)]
pub struct Election {
    /// When the election starts (or started).
    pub auth_time: i64,
    /// Votes received.
    pub auth_count: usize,
    /// Votes were requested.
    pub auth_sent: bool,
    /// Our rank among the replicas (0: the most up to date).
    pub auth_rank: usize,
    /// The epoch of the election.
    pub auth_epoch: u64,
    /// Last reason logged.
    pub cant: CantFailover,
    /// When `cant` was last logged.
    pub cant_logged_ms: i64,
    /// Manual failover deadline (0: none under way).
    pub mf_end: i64,
    /// Master side: the replica doing a manual failover.
    pub mf_replica: Option<NodeId>,
    /// Replica side: the paused master's offset to reach (-1: not known yet).
    pub mf_master_offset: i64,
    /// Replica side: caught up, the election may start.
    pub mf_can_start: bool,
}

/// Whether writes wait for a manual failover (master side).
pub fn pauses_writes(srv: &Server) -> bool {
    srv.cluster
        .as_ref()
        .is_some_and(|cl| cl.election.mf_end != 0 && cl.me().is_master() && cl.election.mf_replica.is_some())
}

/// The `mflags[0]` bits our headers carry.
pub fn header_flags(cl: &Cluster, mtype: MsgType) -> u8 {
    let mut f = 0;
    if cl.me().is_master() && cl.election.mf_end != 0 {
        f |= mflags0::PAUSED;
    }
    if mtype == MsgType::FailoverAuthRequest && cl.election.mf_end != 0 {
        f |= mflags0::FORCEACK;
    }
    f
}

/// resetManualFailover.
pub fn reset_manual(srv: &mut Server) {
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    let had_replica = cl.election.mf_replica.is_some();
    let e = &mut cl.election;
    e.mf_end = 0;
    e.mf_can_start = false;
    e.mf_replica = None;
    e.mf_master_offset = -1;
    if had_replica && srv.pause == crate::server::Pause::None {
        srv.unpause();
    }
}

fn replica_offset(srv: &Server) -> i64 {
    srv.repl.offset
}

/// Our rank: how many replicas of our master have a greater offset.
fn rank(srv: &Server) -> usize {
    let cl = srv.cluster.as_ref().expect("cluster mode");
    let Some(m) = cl.me().replica_of else { return 0 };
    let mine = replica_offset(srv).max(0) as u64;
    cl.nodes[m]
        .replicas
        .iter()
        .filter(|&&r| r != cl.myself)
        .filter(|&&r| !cl.nodes[r].is(flags::NOFAILOVER) && cl.nodes[r].repl_offset > mine)
        .count()
}

fn log_cant(srv: &mut Server, reason: CantFailover) {
    let now = srv.clock.now_ms;
    let timeout = srv.config.cluster_node_timeout;
    let cl = srv.cluster.as_deref_mut().expect("cluster mode");
    if reason == cl.election.cant && now - cl.election.cant_logged_ms < RELOG_PERIOD_MS {
        return;
    }
    cl.election.cant = reason;
    // Just after the master failed, waiting is expected: say nothing.
    if let Some(m) = cl.me().replica_of.and_then(|m| cl.nodes.get(m)) {
        if m.is(flags::FAIL) && now - m.fail_time < timeout + 5000 {
            return;
        }
    }
    cl.election.cant_logged_ms = now;
    // COMPAT: clusterLogCantFailover's messages.
    let msg = match reason {
        CantFailover::DataAge => "Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.",
        CantFailover::WaitingDelay => "Waiting the delay before I can start a new failover.",
        CantFailover::Expired => "Failover attempt expired.",
        CantFailover::WaitingVotes => "Waiting for votes, but majority still not reached.",
        CantFailover::None => "Unknown reason code.",
    };
    log::warn!("Currently unable to failover: {msg}");
}

/// clusterHandleSlaveFailover: called from the cron and before sleeping.
pub fn handle_replica_failover(srv: &mut Server) {
    let now = srv.clock.now_ms;
    let node_timeout = srv.config.cluster_node_timeout;
    let no_failover = srv.config.cluster_replica_no_failover;
    let validity = srv.config.cluster_replica_validity_factor;
    let ping_period = srv.config.repl_ping_replica_period;
    let data_age = {
        let r = &srv.repl.replica;
        if r.state == crate::repl::replica::LinkState::Connected {
            now - r.last_io_ms
        } else if r.down_since_secs > 0 {
            (now / 1000 - r.down_since_secs) * 1000
        } else {
            0
        }
    };
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    cl.todo &= !todo::HANDLE_FAILOVER;
    let quorum = cl.size / 2 + 1;
    let manual = cl.election.mf_end != 0 && cl.election.mf_can_start;
    let auth_timeout = (node_timeout * 2).max(2000);
    let auth_retry = auth_timeout * 2;
    let auth_age = now - cl.election.auth_time;
    let master = match cl.me().replica_of {
        Some(m) if cl.me().is_replica() => m,
        _ => {
            cl.election.cant = CantFailover::None;
            return;
        }
    };
    let m = &cl.nodes[master];
    if (!m.is(flags::FAIL) && !manual) || (no_failover && !manual) || m.numslots == 0 {
        cl.election.cant = CantFailover::None;
        return;
    }
    let mut age = data_age;
    if age > node_timeout {
        age -= node_timeout;
    }
    if validity != 0 && age > ping_period * 1000 + node_timeout * validity && !manual {
        log_cant(srv, CantFailover::DataAge);
        return;
    }
    if auth_age > auth_retry {
        let jitter = (srv.ks.rand() % 500) as i64;
        let r = rank(srv);
        let offset = replica_offset(srv);
        let cl = srv.cluster.as_deref_mut().expect("cluster mode");
        let e = &mut cl.election;
        e.auth_time = now + 500 + jitter + r as i64 * 1000;
        e.auth_count = 0;
        e.auth_sent = false;
        e.auth_rank = r;
        if e.mf_end != 0 {
            e.auth_time = now;
            e.auth_rank = 0;
            cl.todo |= todo::HANDLE_FAILOVER;
        }
        // COMPAT: the election log lines, here and below.
        log::warn!(
            "Start of election delayed for {} milliseconds (rank #{}, offset {offset}).",
            cl.election.auth_time - now,
            cl.election.auth_rank
        );
        bus::broadcast_pong(srv, Target::LocalReplicas);
        return;
    }
    let cl = srv.cluster.as_deref_mut().expect("cluster mode");
    if !cl.election.auth_sent && cl.election.mf_end == 0 {
        let new_rank = rank(srv);
        let cl = srv.cluster.as_deref_mut().expect("cluster mode");
        if new_rank > cl.election.auth_rank {
            let added = (new_rank - cl.election.auth_rank) as i64 * 1000;
            cl.election.auth_time += added;
            cl.election.auth_rank = new_rank;
            log::warn!("Replica rank updated to #{new_rank}, added {added} milliseconds of delay.");
        }
    }
    let cl = srv.cluster.as_deref_mut().expect("cluster mode");
    if now < cl.election.auth_time {
        log_cant(srv, CantFailover::WaitingDelay);
        return;
    }
    if auth_age > auth_timeout {
        log_cant(srv, CantFailover::Expired);
        return;
    }
    if !cl.election.auth_sent {
        cl.current_epoch += 1;
        cl.election.auth_epoch = cl.current_epoch;
        log::warn!("Starting a failover election for epoch {}.", cl.current_epoch);
        cl.election.auth_sent = true;
        cl.todo |= todo::UPDATE_STATE;
        cl.save_later(true);
        bus::broadcast_type(srv, MsgType::FailoverAuthRequest);
        return;
    }
    if cl.election.auth_count >= quorum {
        log::warn!("Failover election won: I'm the new master.");
        if cl.me().config_epoch < cl.election.auth_epoch {
            let e = cl.election.auth_epoch;
            cl.me_mut().config_epoch = e;
            log::warn!("configEpoch set to {e} after successful failover");
        }
        replace_master(srv);
    } else {
        log_cant(srv, CantFailover::WaitingVotes);
    }
}

/// clusterFailoverReplaceYourMaster: become a master with the old master's
/// slots, and tell everyone.
pub fn replace_master(srv: &mut Server) {
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    let me = cl.myself;
    let Some(old) = cl.me().replica_of.filter(|_| cl.me().is_replica()) else { return };
    if let Some(m) = cl.nodes[me].replica_of.take() {
        cl.remove_replica(m, me);
    }
    let n = cl.me_mut();
    n.flags = (n.flags & !flags::SLAVE) | flags::MASTER;
    crate::repl::replica::unset_master(srv);
    let cl = srv.cluster.as_deref_mut().expect("cluster mode");
    for s in 0..SLOTS {
        if cl.nodes[old].has_slot(s) {
            cl.del_slot(s);
            cl.add_slot(me, s);
        }
    }
    super::update_state(srv);
    if let Err(e) = super::conf::save(srv, true) {
        log::warn!("Fatal: can't update cluster config file. ({e})");
        std::process::exit(1);
    }
    bus::broadcast_pong(srv, Target::All);
    reset_manual(srv);
}

/// A replica asks for our vote (clusterSendFailoverAuthIfNeeded).
pub fn vote_if_needed(srv: &mut Server, node: NodeId, req: &Header) {
    let now = srv.clock.now_ms;
    let node_timeout = srv.config.cluster_node_timeout;
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    if cl.me().is_replica() || cl.me().numslots == 0 {
        return;
    }
    let name = cl.nodes[node].name_str().to_string();
    if req.current_epoch < cl.current_epoch {
        log::warn!("Failover auth denied to {name}: reqEpoch ({}) < curEpoch({})", req.current_epoch, cl.current_epoch);
        return;
    }
    if cl.last_vote_epoch == cl.current_epoch {
        log::warn!("Failover auth denied to {name}: already voted for epoch {}", cl.current_epoch);
        return;
    }
    let force = req.mflags[0] & mflags0::FORCEACK != 0;
    let n = &cl.nodes[node];
    let master = n.replica_of.filter(|_| n.is_replica());
    let Some(master) = master else {
        if n.is_master() {
            log::warn!("Failover auth denied to {name}: it is a master node");
        } else {
            log::warn!("Failover auth denied to {name}: I don't know its master");
        }
        return;
    };
    if !cl.nodes[master].is(flags::FAIL) && !force {
        log::warn!("Failover auth denied to {name}: its master is up");
        return;
    }
    let since = now - cl.nodes[master].voted_time;
    if since < node_timeout * 2 {
        log::warn!(
            "Failover auth denied to {name}: can't vote about this master before {} milliseconds",
            node_timeout * 2 - since
        );
        return;
    }
    for j in 0..SLOTS {
        if req.myslots[j >> 3] & (1 << (j & 7)) == 0 {
            continue;
        }
        let Some(owner) = cl.slots[j] else { continue };
        let e = cl.nodes[owner].config_epoch;
        if e > req.config_epoch {
            log::warn!("Failover auth denied to {name}: slot {j} epoch ({e}) > reqEpoch ({})", req.config_epoch);
            return;
        }
    }
    cl.last_vote_epoch = cl.current_epoch;
    cl.nodes[master].voted_time = now;
    cl.save_later(true);
    let epoch = cl.current_epoch;
    bus::send_type_to(srv, node, MsgType::FailoverAuthAck);
    log::warn!("Failover auth granted to {name} for epoch {epoch}");
}

/// A vote arrived.
pub fn on_auth_ack(srv: &mut Server, sender: NodeId, sender_current_epoch: u64) {
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    let n = &cl.nodes[sender];
    if n.is_master() && n.numslots > 0 && sender_current_epoch >= cl.election.auth_epoch {
        cl.election.auth_count += 1;
        cl.todo |= todo::HANDLE_FAILOVER;
    }
}

/// MFSTART from one of our replicas: pause writes and tell it our offset.
pub fn on_mfstart(srv: &mut Server, sender: NodeId, link: usize) {
    let now = srv.clock.now_ms;
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    if cl.nodes[sender].replica_of != Some(cl.myself) {
        return;
    }
    reset_manual(srv);
    let cl = srv.cluster.as_deref_mut().expect("cluster mode");
    cl.election.mf_end = now + MF_TIMEOUT_MS;
    cl.election.mf_replica = Some(sender);
    let _ = MF_PAUSE_MULT;
    log::warn!("Manual failover requested by replica {}.", cl.nodes[sender].name_str());
    bus::send_ping(srv, link, MsgType::Ping);
}

/// A PING from our master with the PAUSED flag: remember its offset.
pub fn on_paused_master(srv: &mut Server, sender: NodeId, offset: u64) {
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    if cl.election.mf_end != 0
        && cl.me().is_replica()
        && cl.me().replica_of == Some(sender)
        && cl.election.mf_master_offset == -1
    {
        cl.election.mf_master_offset = offset as i64;
        log::warn!("Received replication offset for paused master manual failover: {offset}");
        handle_manual(srv);
    }
}

/// clusterHandleManualFailover: can start once we processed the paused
/// master's whole stream.
pub fn handle_manual(srv: &mut Server) {
    let offset = replica_offset(srv);
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    let e = &mut cl.election;
    if e.mf_end == 0 || e.mf_can_start || e.mf_master_offset == -1 {
        return;
    }
    if e.mf_master_offset == offset {
        e.mf_can_start = true;
        log::warn!("All master replication stream processed, manual failover can start.");
        cl.todo |= todo::HANDLE_FAILOVER;
    }
}

/// CLUSTER FAILOVER on a replica, after the argument checks.
pub fn start_manual(srv: &mut Server, force: bool, takeover: bool) {
    let now = srv.clock.now_ms;
    reset_manual(srv);
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    cl.election.mf_end = now + MF_TIMEOUT_MS;
    if takeover {
        log::warn!("Taking over the master (user request).");
        super::cmd::bump_epoch_without_consensus(cl);
        replace_master(srv);
    } else if force {
        log::warn!("Forced failover user request accepted.");
        cl.election.mf_can_start = true;
    } else {
        log::warn!("Manual failover user request accepted.");
        if let Some(m) = cl.me().replica_of {
            bus::send_type_to(srv, m, MsgType::MfStart);
        }
    }
}

/// Per cron tick: manual failover timeout, replica duties.
pub fn cron(srv: &mut Server) {
    let now = srv.clock.now_ms;
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    if cl.election.mf_end != 0 && cl.election.mf_end < now {
        log::warn!("Manual failover timed out.");
        reset_manual(srv);
    }
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    if cl.me().is_replica() {
        // A replica whose replication was switched off follows its master again.
        if let Some(m) = cl.me().replica_of {
            let n = &cl.nodes[m];
            if !srv.repl.replica.is_replica() && !n.is(flags::NOADDR) && !n.ip.is_empty() {
                let (ip, port) = (n.ip.clone(), n.port);
                crate::repl::replica::set_master(srv, ip, port);
            }
        }
        handle_manual(srv);
        handle_replica_failover(srv);
        migrate_if_orphans(srv);
    }
}

/// Non-failing replicas of `m`.
fn ok_replicas(cl: &Cluster, m: NodeId) -> usize {
    cl.nodes[m].replicas.iter().filter(|&&r| !cl.nodes[r].is(flags::FAIL | flags::PFAIL)).count()
}

/// clusterHandleSlaveMigration: a replica of the master with the most
/// replicas moves to a master left without any.
fn migrate_if_orphans(srv: &mut Server) {
    let now = srv.clock.now_ms;
    let barrier = srv.config.cluster_migration_barrier;
    if !srv.config.cluster_allow_replica_migration {
        return;
    }
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    if !cl.ok {
        return;
    }
    let Some(my_master) = cl.me().replica_of else { return };
    let max_replicas =
        cl.nodes.iter().filter(|(_, n)| n.is_master()).map(|(id, _)| ok_replicas(cl, id)).max().unwrap_or(0);
    let mine = ok_replicas(cl, my_master);
    if max_replicas < 2 || mine != max_replicas {
        return;
    }
    if mine as i64 <= barrier {
        return;
    }
    let mut target = None;
    let mut candidate = cl.myself;
    let ids: Vec<NodeId> = cl.nodes.iter().map(|(id, _)| id).collect();
    for id in ids {
        let n = &cl.nodes[id];
        let ok = if n.is_master() { ok_replicas(cl, id) } else { 0 };
        let orphan = n.is_master() && !n.is(flags::FAIL) && n.is(flags::MIGRATE_TO) && ok == 0;
        if orphan {
            if target.is_none() && n.numslots > 0 {
                target = Some(id);
            }
            if n.orphaned_time == 0 {
                cl.nodes[id].orphaned_time = now;
            }
        } else {
            cl.nodes[id].orphaned_time = 0;
        }
        if ok == max_replicas {
            for &r in &cl.nodes[id].replicas {
                if cl.nodes[r].name < cl.nodes[candidate].name {
                    candidate = r;
                }
            }
        }
    }
    if let Some(t) = target {
        if candidate == cl.myself && now - cl.nodes[t].orphaned_time > REPLICA_MIGRATION_DELAY_MS {
            log::warn!("Migrating to orphaned master {}", cl.nodes[t].name_str());
            super::cmd::set_master(srv, t);
            if let Some(cl) = srv.cluster.as_deref_mut() {
                cl.save_later(false);
            }
        }
    }
}
