//! Leader election and the failover state machine.
//!
//! Owns votes (IS-MASTER-DOWN-BY-ADDR replies and our own vote), counting
//! the leader, starting a failover, choosing the replica (priority, then
//! replication offset, then run id), REPLICAOF sent inside MULTI/EXEC as
//! Redis does, re-pointing the other replicas with parallel-syncs, the end
//! of a failover and the switch of the monitored address.
//!
//! Mirrors sentinel.c's sentinelVoteLeader, sentinelGetLeader,
//! sentinelStartFailover(IfNeeded), sentinelSelectSlave, the
//! sentinelFailover* states, sentinelAbortFailover and
//! sentinelResetMasterAndChangeAddress. Must not parse INFO or hellos.

use super::link::{self, Callback};
use super::{flags, Addr, FailoverState, Level, Sentinel, Which};
use crate::reactor::Reactor;
use crate::resp::value::Value;

/// Our vote for the leader of the failover of master `mi` at `req_epoch`;
/// returns the leader we voted for (maybe earlier) and its epoch.
pub fn vote_leader(s: &mut Sentinel, mi: usize, req_epoch: u64, req_runid: &str, now: i64) -> (Option<String>, u64) {
    if req_epoch > s.current_epoch {
        s.current_epoch = req_epoch;
        s.flush_needed = true;
        s.event_plain(Level::Warning, "+new-epoch", Some(mi), req_epoch.to_string());
    }
    let jitter = s.rng.below(1000) as i64;
    let m = &mut s.masters[mi];
    if m.ri.leader_epoch < req_epoch && s.current_epoch <= req_epoch {
        m.ri.leader = Some(req_runid.to_string());
        m.ri.leader_epoch = s.current_epoch;
        let msg = format!("{req_runid} {}", m.ri.leader_epoch);
        if !req_runid.eq_ignore_ascii_case(&s.myid) {
            m.failover_start_time = now + jitter;
        }
        s.flush_needed = true;
        s.event(Level::Warning, "+vote-for-leader", Some((mi, Which::Master)), &msg);
    }
    let m = &s.masters[mi];
    (m.ri.leader.clone(), m.ri.leader_epoch)
}

/// The winner of the election at `epoch`, if it has a majority and the quorum.
fn get_leader(s: &mut Sentinel, mi: usize, epoch: u64, now: i64) -> Option<String> {
    let m = &s.masters[mi];
    let voters = m.sentinels.len() as u64 + 1;
    let mut counts: Vec<(String, u64)> = Vec::new();
    let bump = |counts: &mut Vec<(String, u64)>, id: &str| -> u64 {
        match counts.iter_mut().find(|(k, _)| k == id) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                counts.push((id.to_string(), 1));
                1
            }
        }
    };
    for si in &m.sentinels {
        if let Some(l) = &si.leader {
            if si.leader_epoch == s.current_epoch {
                bump(&mut counts, l);
            }
        }
    }
    let mut winner: Option<String> = None;
    let mut max_votes = 0;
    for (k, n) in &counts {
        if *n > max_votes {
            max_votes = *n;
            winner = Some(k.clone());
        }
    }
    let candidate = winner.clone().unwrap_or_else(|| s.myid.clone());
    let (myvote, leader_epoch) = vote_leader(s, mi, epoch, &candidate, now);
    if let Some(v) = myvote.filter(|_| leader_epoch == epoch) {
        let n = bump(&mut counts, &v);
        if n > max_votes {
            max_votes = n;
            winner = Some(v);
        }
    }
    let quorum = s.masters[mi].quorum as u64;
    winner.filter(|_| max_votes > voters / 2 && max_votes >= quorum)
}

/// An IS-MASTER-DOWN-BY-ADDR reply from Sentinel `w`.
pub fn on_is_master_down_reply(s: &mut Sentinel, mi: usize, w: Which, v: &Value, now: i64) {
    let Value::Array(a) = v else { return };
    let (Some(Value::Int(down)), Some(leader), Some(Value::Int(epoch))) = (a.first(), a.get(1), a.get(2)) else {
        return;
    };
    let Some(leader) = leader.as_bytes().filter(|_| matches!(a[1], Value::Bulk(_))) else { return };
    if a.len() != 3 {
        return;
    }
    let leader = String::from_utf8_lossy(leader).into_owned();
    let si = s.masters[mi].get_mut(w);
    si.last_master_down_reply_time = now;
    if *down == 1 {
        si.flags |= flags::MASTER_DOWN;
    } else {
        si.flags &= !flags::MASTER_DOWN;
    }
    if leader != "*" {
        if si.leader_epoch as i64 != *epoch {
            log::warn!("{} voted for {} {}", si.name, leader, epoch);
        }
        si.leader = Some(leader);
        si.leader_epoch = (*epoch).max(0) as u64;
    }
}

/// Starts a failover of master `mi` (Redis's sentinelStartFailover).
pub fn start(s: &mut Sentinel, mi: usize, now: i64) {
    s.current_epoch += 1;
    let e = s.current_epoch;
    let jitter = s.rng.below(1000) as i64;
    let m = &mut s.masters[mi];
    m.failover_state = FailoverState::WaitStart;
    m.ri.flags |= flags::FAILOVER_IN_PROGRESS;
    m.failover_epoch = e;
    m.failover_start_time = now + jitter;
    m.failover_state_change_time = now;
    s.event_plain(Level::Warning, "+new-epoch", Some(mi), e.to_string());
    s.event(Level::Warning, "+try-failover", Some((mi, Which::Master)), "");
}

/// Starts a failover when the master is ODOWN and no failover ran recently.
pub fn start_if_needed(s: &mut Sentinel, mi: usize, now: i64) -> bool {
    let m = &mut s.masters[mi];
    if m.ri.flags & flags::O_DOWN == 0 || m.ri.flags & flags::FAILOVER_IN_PROGRESS != 0 {
        return false;
    }
    if now - m.failover_start_time < m.failover_timeout * 2 {
        if m.failover_delay_logged != m.failover_start_time {
            m.failover_delay_logged = m.failover_start_time;
            let at = (m.failover_start_time + m.failover_timeout * 2).div_euclid(1000);
            // COMPAT: Redis's wording, the date as ctime() prints it.
            log::warn!("Next failover delay: I will not start a failover before {}", crate::logging::ctime(at));
        }
        return false;
    }
    start(s, mi, now);
    true
}

/// Replicas that may be promoted, best first; `None` when there is none.
pub fn select_replica(s: &Sentinel, mi: usize, now: i64) -> Option<usize> {
    let m = &s.masters[mi];
    let t = &s.timing;
    let mut max_down = 0;
    if m.ri.flags & flags::S_DOWN != 0 {
        max_down += now - m.ri.s_down_since;
    }
    max_down += m.ri.down_after * 10;
    let validity = if m.ri.flags & flags::S_DOWN != 0 { t.ping_period * 5 } else { t.info_period * 3 };
    let mut cands: Vec<usize> = (0..m.replicas.len())
        .filter(|&i| {
            let r = &m.replicas[i];
            r.flags & (flags::S_DOWN | flags::O_DOWN) == 0
                && !r.disconnected
                && now - r.link.last_avail_time <= t.ping_period * 5
                && r.slave_priority != 0
                && now - r.info_refresh <= validity
                && r.master_link_down_time <= max_down
        })
        .collect();
    cands.sort_by(|&a, &b| {
        let (ra, rb) = (&m.replicas[a], &m.replicas[b]);
        ra.slave_priority.cmp(&rb.slave_priority).then(rb.slave_repl_offset.cmp(&ra.slave_repl_offset)).then_with(
            || match (&ra.runid, &rb.runid) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
                (Some(x), Some(y)) => x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()),
            },
        )
    });
    cands.first().copied()
}

/// Sends REPLICAOF (`None`: NO ONE) wrapped as Redis does: MULTI, REPLICAOF,
/// CONFIG REWRITE, CLIENT KILL TYPE normal and pubsub, EXEC.
pub fn send_replicaof(s: &mut Sentinel, mi: usize, w: Which, to: Option<&Addr>) -> bool {
    let Some(cc) = s.masters[mi].get(w).link.cc else { return false };
    let (host, port) = match to {
        None => ("NO".to_string(), "ONE".to_string()),
        Some(a) => (s.announce(a).to_string(), a.port.to_string()),
    };
    let m = &s.masters[mi];
    let cmds: Vec<Vec<String>> = vec![
        vec![m.map_command("MULTI").into()],
        vec![m.map_command("SLAVEOF").into(), host, port],
        vec![m.map_command("CONFIG").into(), "REWRITE".into()],
        vec![m.map_command("CLIENT").into(), "KILL".into(), "TYPE".into(), "normal".into()],
        vec![m.map_command("CLIENT").into(), "KILL".into(), "TYPE".into(), "pubsub".into()],
        vec![m.map_command("EXEC").into()],
    ];
    for c in &cmds {
        if !link::send(s, cc, c, Callback::Discard) {
            return false;
        }
        s.masters[mi].get_mut(w).link.pending_commands += 1;
    }
    true
}

/// Exits as SENTINEL SIMULATE-FAILURE asks.
pub fn sim_crash() {
    log::warn!("Sentinel CRASH because of SENTINEL simulate-failure");
    std::process::exit(99);
}

/// Runs one step of the failover of master `mi`.
pub fn state_machine(s: &mut Sentinel, mi: usize, now: i64) {
    if s.masters[mi].ri.flags & flags::FAILOVER_IN_PROGRESS == 0 {
        return;
    }
    match s.masters[mi].failover_state {
        FailoverState::WaitStart => wait_start(s, mi, now),
        FailoverState::SelectSlave => select_slave(s, mi, now),
        FailoverState::SendSlaveofNoone => send_noone(s, mi, now),
        FailoverState::WaitPromotion => {
            let m = &s.masters[mi];
            if now - m.failover_state_change_time > m.failover_timeout {
                s.event(Level::Warning, "-failover-abort-slave-timeout", Some((mi, Which::Master)), "");
                abort(s, mi, now);
            }
        }
        FailoverState::ReconfSlaves => reconf_next(s, mi, now),
        FailoverState::None | FailoverState::UpdateConfig => {}
    }
}

fn wait_start(s: &mut Sentinel, mi: usize, now: i64) {
    let epoch = s.masters[mi].failover_epoch;
    let leader = get_leader(s, mi, epoch, now);
    let is_leader = leader.as_deref().is_some_and(|l| l.eq_ignore_ascii_case(&s.myid));
    let m = &s.masters[mi];
    if !is_leader && m.ri.flags & flags::FORCE_FAILOVER == 0 {
        let timeout = s.timing.election_timeout.min(m.failover_timeout);
        if now - m.failover_start_time > timeout {
            s.event(Level::Warning, "-failover-abort-not-elected", Some((mi, Which::Master)), "");
            abort(s, mi, now);
        }
        return;
    }
    s.event(Level::Warning, "+elected-leader", Some((mi, Which::Master)), "");
    if s.simfailure & super::SIM_CRASH_AFTER_ELECTION != 0 {
        sim_crash();
    }
    let m = &mut s.masters[mi];
    m.failover_state = FailoverState::SelectSlave;
    m.failover_state_change_time = now;
    s.event(Level::Warning, "+failover-state-select-slave", Some((mi, Which::Master)), "");
}

fn select_slave(s: &mut Sentinel, mi: usize, now: i64) {
    match select_replica(s, mi, now) {
        None => {
            s.event(Level::Warning, "-failover-abort-no-good-slave", Some((mi, Which::Master)), "");
            abort(s, mi, now);
        }
        Some(i) => {
            s.event(Level::Warning, "+selected-slave", Some((mi, Which::Replica(i))), "");
            let m = &mut s.masters[mi];
            m.replicas[i].flags |= flags::PROMOTED;
            m.promoted = Some(m.replicas[i].name.clone());
            m.failover_state = FailoverState::SendSlaveofNoone;
            m.failover_state_change_time = now;
            s.event(Level::Notice, "+failover-state-send-slaveof-noone", Some((mi, Which::Replica(i))), "");
        }
    }
}

fn send_noone(s: &mut Sentinel, mi: usize, now: i64) {
    let Some(p) = s.masters[mi].promoted_idx() else {
        abort(s, mi, now);
        return;
    };
    let m = &s.masters[mi];
    if m.replicas[p].disconnected {
        if now - m.failover_state_change_time > m.failover_timeout {
            s.event(Level::Warning, "-failover-abort-slave-timeout", Some((mi, Which::Master)), "");
            abort(s, mi, now);
        }
        return;
    }
    if !send_replicaof(s, mi, Which::Replica(p), None) {
        return;
    }
    s.event(Level::Notice, "+failover-state-wait-promotion", Some((mi, Which::Replica(p))), "");
    let m = &mut s.masters[mi];
    m.failover_state = FailoverState::WaitPromotion;
    m.failover_state_change_time = now;
}

fn reconf_next(s: &mut Sentinel, mi: usize, now: i64) {
    let Some(p) = s.masters[mi].promoted_idx() else { return };
    let to = s.masters[mi].replicas[p].addr.clone();
    let busy = flags::RECONF_SENT | flags::RECONF_INPROG;
    let mut in_progress = s.masters[mi].replicas.iter().filter(|r| r.flags & busy != 0).count() as i64;
    for i in 0..s.masters[mi].replicas.len() {
        if in_progress >= s.masters[mi].parallel_syncs {
            break;
        }
        let timeout = s.timing.slave_reconf_timeout;
        let r = &mut s.masters[mi].replicas[i];
        if r.flags & (flags::PROMOTED | flags::RECONF_DONE) != 0 {
            continue;
        }
        if r.flags & flags::RECONF_SENT != 0 && now - r.slave_reconf_sent_time > timeout {
            r.flags &= !flags::RECONF_SENT;
            r.flags |= flags::RECONF_DONE;
            s.event(Level::Notice, "-slave-reconf-sent-timeout", Some((mi, Which::Replica(i))), "");
        }
        let r = &s.masters[mi].replicas[i];
        if r.flags & busy != 0 || r.disconnected {
            continue;
        }
        if send_replicaof(s, mi, Which::Replica(i), Some(&to)) {
            let r = &mut s.masters[mi].replicas[i];
            r.flags |= flags::RECONF_SENT;
            r.slave_reconf_sent_time = now;
            s.event(Level::Notice, "+slave-reconf-sent", Some((mi, Which::Replica(i))), "");
            in_progress += 1;
        }
    }
    detect_end(s, mi, now);
}

fn detect_end(s: &mut Sentinel, mi: usize, now: i64) {
    let m = &s.masters[mi];
    let Some(p) = m.promoted_idx() else { return };
    if m.replicas[p].flags & flags::S_DOWN != 0 {
        return;
    }
    let elapsed = now - m.failover_state_change_time;
    let mut not_reconfigured = m
        .replicas
        .iter()
        .filter(|r| r.flags & (flags::PROMOTED | flags::RECONF_DONE) == 0 && r.flags & flags::S_DOWN == 0)
        .count();
    let mut timeout = false;
    if elapsed > m.failover_timeout {
        not_reconfigured = 0;
        timeout = true;
        s.event(Level::Warning, "+failover-end-for-timeout", Some((mi, Which::Master)), "");
    }
    if not_reconfigured == 0 {
        s.event(Level::Warning, "+failover-end", Some((mi, Which::Master)), "");
        let m = &mut s.masters[mi];
        m.failover_state = FailoverState::UpdateConfig;
        m.failover_state_change_time = now;
    }
    if timeout {
        let to = s.masters[mi].replicas[p].addr.clone();
        for i in 0..s.masters[mi].replicas.len() {
            let r = &s.masters[mi].replicas[i];
            if r.flags & (flags::PROMOTED | flags::RECONF_DONE | flags::RECONF_SENT) != 0 || r.disconnected {
                continue;
            }
            if send_replicaof(s, mi, Which::Replica(i), Some(&to)) {
                s.event(Level::Notice, "+slave-reconf-sent-be", Some((mi, Which::Replica(i))), "");
                s.masters[mi].replicas[i].flags |= flags::RECONF_SENT;
            }
        }
    }
}

/// Gives up a failover that did not reach the promotion.
pub fn abort(s: &mut Sentinel, mi: usize, now: i64) {
    let m = &mut s.masters[mi];
    m.ri.flags &= !(flags::FAILOVER_IN_PROGRESS | flags::FORCE_FAILOVER);
    m.failover_state = FailoverState::None;
    m.failover_state_change_time = now;
    if let Some(p) = m.promoted_idx() {
        m.replicas[p].flags &= !flags::PROMOTED;
    }
    m.promoted = None;
}

/// The failover ended: monitor the promoted replica as the master.
pub fn switch_to_promoted(s: &mut Sentinel, reactor: &Reactor, mi: usize, now: i64) {
    let m = &s.masters[mi];
    let to = m.promoted_idx().map(|p| m.replicas[p].addr.clone()).unwrap_or_else(|| m.ri.addr.clone());
    let msg = format!("{} {} {} {} {}", m.ri.name, s.announce(&m.ri.addr), m.ri.addr.port, s.announce(&to), to.port);
    s.event_plain(Level::Warning, "+switch-master", Some(mi), msg);
    reset_and_change_address(s, reactor, mi, &to.host, to.port as i64, now);
}

/// Forgets replicas and state of master `mi` (Redis's sentinelResetMaster);
/// `keep_sentinels` keeps the known Sentinels.
pub fn reset_master(s: &mut Sentinel, reactor: &Reactor, mi: usize, keep_sentinels: bool, event: bool, now: i64) {
    for i in 0..s.masters[mi].replicas.len() {
        link::close_instance(s, reactor, mi, Which::Replica(i));
    }
    if !keep_sentinels {
        for i in 0..s.masters[mi].sentinels.len() {
            link::close_instance(s, reactor, mi, Which::Sentinel(i));
        }
        s.masters[mi].sentinels.clear();
    }
    link::close_instance(s, reactor, mi, Which::Master);
    let m = &mut s.masters[mi];
    m.replicas.clear();
    m.ri.flags = 0;
    m.ri.leader = None;
    m.failover_state = FailoverState::None;
    m.failover_state_change_time = 0;
    m.failover_start_time = 0;
    m.promoted = None;
    m.ri.runid = None;
    m.ri.slave_master_host = None;
    m.ri.link.act_ping_time = now;
    m.ri.link.last_ping_time = 0;
    m.ri.link.last_avail_time = now;
    m.ri.link.last_pong_time = now;
    m.ri.role_reported_time = now;
    m.ri.role_reported = super::Role::Master;
    if event {
        s.event(Level::Warning, "+reset-master", Some((mi, Which::Master)), "");
    }
}

/// Points master `mi` at `host:port`, keeping the old master and the other
/// replicas as replicas (Redis's sentinelResetMasterAndChangeAddress).
pub fn reset_and_change_address(s: &mut Sentinel, reactor: &Reactor, mi: usize, host: &str, port: i64, now: i64) {
    let Ok(port16) = u16::try_from(port) else { return };
    let new = if s.resolve_hostnames { Addr::resolved(host, port16) } else { Addr::new(host, port16) };
    let m = &s.masters[mi];
    let mut keep: Vec<Addr> = m.replicas.iter().filter(|r| !r.addr.same(&new)).map(|r| r.addr.clone()).collect();
    if !m.ri.addr.same(&new) {
        keep.push(m.ri.addr.clone());
    }
    reset_master(s, reactor, mi, true, false, now);
    let m = &mut s.masters[mi];
    m.ri.addr = new;
    m.ri.o_down_since = 0;
    m.ri.s_down_since = 0;
    for a in keep {
        if let Ok(i) = s.add_replica(mi, &a.host, a.port as i64, now) {
            s.event(Level::Notice, "+slave", Some((mi, Which::Replica(i))), "");
        }
    }
    s.flush_needed = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_selection_prefers_priority_then_offset() {
        let mut s = Sentinel::new(26379, 0);
        s.add_master("m", "127.0.0.1", 6379, 1, 0).unwrap();
        for (port, prio, off) in [(6380, 100, 10), (6381, 50, 1), (6382, 50, 5), (6383, 0, 99)] {
            let i = s.add_replica(0, "127.0.0.1", port, 0).unwrap();
            let r = &mut s.masters[0].replicas[i];
            r.disconnected = false;
            r.slave_priority = prio;
            r.slave_repl_offset = off;
            r.info_refresh = 1000;
            r.link.last_avail_time = 1000;
        }
        assert_eq!(select_replica(&s, 0, 1500), Some(2));
    }

    #[test]
    fn votes_once_per_epoch() {
        let mut s = Sentinel::new(26379, 0);
        s.myid = "a".repeat(40);
        s.add_master("m", "127.0.0.1", 6379, 1, 0).unwrap();
        let b = "b".repeat(40);
        let c = "c".repeat(40);
        assert_eq!(vote_leader(&mut s, 0, 1, &b, 0), (Some(b.clone()), 1));
        assert_eq!(vote_leader(&mut s, 0, 1, &c, 0), (Some(b.clone()), 1));
        assert_eq!(vote_leader(&mut s, 0, 2, &c, 0), (Some(c), 2));
        assert_eq!(s.current_epoch, 2);
    }

    #[test]
    fn lone_sentinel_elects_itself() {
        let mut s = Sentinel::new(26379, 0);
        s.myid = "a".repeat(40);
        s.add_master("m", "127.0.0.1", 6379, 1, 0).unwrap();
        s.masters[0].ri.flags |= flags::O_DOWN;
        start(&mut s, 0, 0);
        let e = s.masters[0].failover_epoch;
        assert_eq!(get_leader(&mut s, 0, e, 0), Some("a".repeat(40)));
    }
}
