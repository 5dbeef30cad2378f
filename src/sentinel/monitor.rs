//! Monitoring: the periodic work on every instance (reconnect, PING, INFO,
//! hello), reading INFO (replica discovery, role changes, reconfiguration
//! progress), hello messages (Sentinel discovery, epochs, configuration
//! updates), SDOWN and ODOWN, and TILT.
//!
//! Mirrors sentinel.c's sentinelTimer, sentinelSendPeriodicCommands,
//! sentinelRefreshInstanceInfo, sentinelProcessHelloMessage,
//! sentinelCheckSubjectivelyDown / ObjectivelyDown and the TILT check.
//! Must not run the failover itself (`failover` does) or write files (it sets
//! `flush_needed`).

use super::link::{self, Callback, Owner};
use super::{flags, FailoverState, Level, Role, Sentinel, Which};
use crate::reactor::Reactor;
use crate::resp::value::Value;

/// The hello channel.
pub const HELLO_CHANNEL: &str = "__sentinel__:hello";

/// One timer run over every master, its replicas and its Sentinels.
pub fn timer(s: &mut Sentinel, reactor: &Reactor, now: i64) {
    check_tilt(s, now);
    let mut switch = None;
    for mi in 0..s.masters.len() {
        handle_instance(s, reactor, mi, Which::Master, now);
        let mut i = 0;
        while i < s.masters.get(mi).map_or(0, |m| m.replicas.len()) {
            handle_instance(s, reactor, mi, Which::Replica(i), now);
            i += 1;
        }
        let mut i = 0;
        while i < s.masters.get(mi).map_or(0, |m| m.sentinels.len()) {
            handle_instance(s, reactor, mi, Which::Sentinel(i), now);
            i += 1;
        }
        if s.masters.get(mi).is_some_and(|m| m.failover_state == FailoverState::UpdateConfig) {
            switch = Some(mi);
        }
    }
    if let Some(mi) = switch {
        super::failover::switch_to_promoted(s, reactor, mi, now);
    }
}

fn check_tilt(s: &mut Sentinel, now: i64) {
    let delta = now - s.previous_time;
    if delta < 0 || delta > s.timing.tilt_trigger {
        s.tilt = true;
        s.tilt_start_time = now;
        s.event_plain(Level::Warning, "+tilt", None, "#tilt mode entered".into());
    }
    s.previous_time = now;
}

fn handle_instance(s: &mut Sentinel, reactor: &Reactor, mi: usize, w: Which, now: i64) {
    reconnect(s, reactor, mi, w, now);
    send_periodic(s, mi, w, now);
    if s.tilt {
        if now - s.tilt_start_time < s.timing.tilt_period {
            return;
        }
        s.tilt = false;
        s.event_plain(Level::Warning, "-tilt", None, "#tilt mode exited".into());
    }
    check_sdown(s, reactor, mi, w, now);
    if w == Which::Master {
        check_odown(s, mi, now);
        if super::failover::start_if_needed(s, mi, now) {
            ask_master_state(s, mi, true, now);
        }
        super::failover::state_machine(s, mi, now);
        ask_master_state(s, mi, false, now);
    }
}

/// The auth command for an instance, if one is needed.
fn auth_args(s: &Sentinel, mi: usize, role: Role) -> Option<Vec<String>> {
    let m = &s.masters[mi];
    let (user, pass) = match role {
        Role::Master | Role::Replica => (m.auth_user.clone(), m.auth_pass.clone()),
        Role::Sentinel => match &s.sentinel_pass {
            Some(p) => (s.sentinel_user.clone(), Some(p.clone())),
            None => (None, s.requirepass.clone()),
        },
    };
    let pass = pass?;
    let mut v = vec![m.map_command("AUTH").to_string()];
    v.extend(user);
    v.push(pass);
    Some(v)
}

fn reconnect(s: &mut Sentinel, reactor: &Reactor, mi: usize, w: Which, now: i64) {
    let ri = s.masters[mi].get(w);
    if !ri.disconnected || ri.addr.port == 0 || now - ri.link.last_reconn_time < s.timing.ping_period {
        return;
    }
    let role = ri.role;
    let owner = Owner { master: s.masters[mi].ri.name.clone(), role, name: ri.name.clone() };
    if s.resolve_hostnames {
        let a = super::Addr::resolved(&ri.addr.host, ri.addr.port);
        s.masters[mi].get_mut(w).addr = a;
    }
    let (ip, port) = (s.masters[mi].get(w).addr.ip.clone(), s.masters[mi].get(w).addr.port);
    s.masters[mi].get_mut(w).link.last_reconn_time = now;
    let auth = auth_args(s, mi, role);
    let client_cmd = s.masters[mi].map_command("CLIENT").to_string();
    let shared = match (role, s.masters[mi].get(w).runid.as_deref()) {
        (Role::Sentinel, Some(runid)) if s.masters[mi].get(w).link.cc.is_none() => link::shareable(s, mi, runid),
        _ => None,
    };
    if let Some(key) = shared {
        // The same Sentinel is watched through another master: use its link.
        let l = &mut s.masters[mi].get_mut(w).link;
        l.cc = Some(key);
        l.pending_commands = 0;
        l.cc_conn_time = now;
    }
    if s.masters[mi].get(w).link.cc.is_none() {
        let opened = link::open(s, reactor, &ip, port, owner.clone(), false);
        if let Err(e) = &opened {
            s.event(Level::Debug, "-cmd-link-reconnection", Some((mi, w)), &format!("#{e}"));
        }
        if let Ok(key) = opened {
            let name = format!("sentinel-{}-cmd", &s.myid[..8.min(s.myid.len())]);
            let l = &mut s.masters[mi].get_mut(w).link;
            l.cc = Some(key);
            l.pending_commands = 0;
            l.cc_conn_time = now;
            if let Some(a) = &auth {
                link::send(s, key, a, Callback::Discard);
            }
            link::send(s, key, &[client_cmd.as_str(), "SETNAME", name.as_str()], Callback::Discard);
            s.masters[mi].get_mut(w).link.pending_commands += 1 + auth.is_some() as i64;
            send_ping(s, mi, w, now);
        }
    }
    if role != Role::Sentinel && s.masters[mi].get(w).link.pc.is_none() {
        let opened = link::open(s, reactor, &ip, port, owner, true);
        if let Err(e) = &opened {
            s.event(Level::Debug, "-pubsub-link-reconnection", Some((mi, w)), &format!("#{e}"));
        }
        if let Ok(key) = opened {
            let name = format!("sentinel-{}-pubsub", &s.myid[..8.min(s.myid.len())]);
            let l = &mut s.masters[mi].get_mut(w).link;
            l.pc = Some(key);
            l.pc_conn_time = now;
            l.pc_last_activity = now;
            if let Some(a) = &auth {
                link::send(s, key, a, Callback::Discard);
            }
            link::send(s, key, &[client_cmd.as_str(), "SETNAME", name.as_str()], Callback::Discard);
            let sub = s.masters[mi].map_command("SUBSCRIBE").to_string();
            link::send(s, key, &[sub.as_str(), HELLO_CHANNEL], Callback::Subscribe);
        }
    }
    let ri = s.masters[mi].get_mut(w);
    if ri.link.cc.is_some() && (role == Role::Sentinel || ri.link.pc.is_some()) {
        ri.disconnected = false;
    }
}

/// Sends a PING; true if it was queued.
pub fn send_ping(s: &mut Sentinel, mi: usize, w: Which, now: i64) -> bool {
    let Some(cc) = s.masters[mi].get(w).link.cc else { return false };
    let ping = s.masters[mi].map_command("PING").to_string();
    if !link::send_for(s, cc, mi, w, &[ping.as_str()], Callback::Ping) {
        return false;
    }
    let l = &mut s.masters[mi].get_mut(w).link;
    l.pending_commands += 1;
    l.last_ping_time = now;
    if l.act_ping_time == 0 {
        l.act_ping_time = now;
    }
    true
}

fn send_periodic(s: &mut Sentinel, mi: usize, w: Which, now: i64) {
    let m = &s.masters[mi];
    let ri = m.get(w);
    let Some(cc) = ri.link.cc else { return };
    if ri.disconnected || ri.link.pending_commands >= 100 {
        return;
    }
    let info_period = if ri.role == Role::Replica
        && (m.ri.flags & (flags::O_DOWN | flags::FAILOVER_IN_PROGRESS) != 0 || ri.master_link_down_time != 0)
    {
        1000
    } else {
        s.timing.info_period
    };
    let ping_period = ri.down_after.min(s.timing.ping_period);
    let want_info = ri.role != Role::Sentinel && (ri.info_refresh == 0 || now - ri.info_refresh > info_period);
    let want_ping = now - ri.link.last_pong_time > ping_period && now - ri.link.last_ping_time > ping_period / 2;
    let want_hello = now - ri.last_pub_time > s.timing.publish_period;
    if want_info {
        let info = m.map_command("INFO").to_string();
        if link::send(s, cc, &[info.as_str()], Callback::Info) {
            s.masters[mi].get_mut(w).link.pending_commands += 1;
        }
    }
    if want_ping {
        send_ping(s, mi, w, now);
    }
    if want_hello {
        send_hello(s, mi, w);
    }
}

/// Publishes our hello through instance `w` of master `mi`.
pub fn send_hello(s: &mut Sentinel, mi: usize, w: Which) -> bool {
    let ri = s.masters[mi].get(w);
    let Some(cc) = ri.link.cc else { return false };
    if ri.disconnected {
        return false;
    }
    let ip = match &s.announce_ip {
        Some(ip) => ip.clone(),
        None => match link::local_ip(s, cc) {
            Some(ip) => ip,
            None => return false,
        },
    };
    let port = if s.announce_port != 0 { s.announce_port } else { s.port };
    let m = &s.masters[mi];
    let ma = m.current_addr();
    // COMPAT: the hello payload, field for field.
    let payload = format!(
        "{ip},{port},{},{},{},{},{},{}",
        s.myid,
        s.current_epoch,
        m.ri.name,
        s.announce(ma),
        ma.port,
        m.config_epoch
    );
    let publish = m.map_command("PUBLISH").to_string();
    if !link::send_for(s, cc, mi, w, &[publish.as_str(), HELLO_CHANNEL, payload.as_str()], Callback::Publish) {
        return false;
    }
    s.masters[mi].get_mut(w).link.pending_commands += 1;
    true
}

/// Makes every instance of master `mi` send its hello at the next timer run.
pub fn force_hello_update(s: &mut Sentinel, mi: usize) {
    let p = s.timing.publish_period + 1;
    let m = &mut s.masters[mi];
    for ri in std::iter::once(&mut m.ri).chain(m.replicas.iter_mut()).chain(m.sentinels.iter_mut()) {
        if ri.last_pub_time >= p {
            ri.last_pub_time -= p;
        }
    }
}

/// A PING reply.
pub fn on_ping_reply(s: &mut Sentinel, mi: usize, w: Which, v: &Value, now: i64) {
    let text = match v {
        Value::Simple(t) | Value::Error(t) => t.clone(),
        _ => Vec::new(),
    };
    let busy_kill = {
        let ri = s.masters[mi].get_mut(w);
        let mut kill = false;
        if text.starts_with(b"PONG") || text.starts_with(b"LOADING") || text.starts_with(b"MASTERDOWN") {
            ri.link.last_avail_time = now;
            ri.link.act_ping_time = 0;
            if text.starts_with(b"PONG") {
                ri.flags &= !flags::MASTER_REBOOT;
            }
        } else if text.starts_with(b"BUSY") && ri.flags & flags::S_DOWN != 0 && ri.flags & flags::SCRIPT_KILL_SENT == 0
        {
            ri.flags |= flags::SCRIPT_KILL_SENT;
            kill = true;
        }
        ri.link.last_pong_time = now;
        kill
    };
    if busy_kill {
        if let Some(cc) = s.masters[mi].get(w).link.cc {
            let script = s.masters[mi].map_command("SCRIPT").to_string();
            if link::send(s, cc, &[script.as_str(), "KILL"], Callback::Discard) {
                s.masters[mi].get_mut(w).link.pending_commands += 1;
            }
        }
    }
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.strip_prefix(key)
}

/// Parses an INFO reply from instance `w` and acts on what changed.
pub fn refresh_info(s: &mut Sentinel, mi: usize, w: Which, info: &str, now: i64) {
    let mut new_replicas: Vec<(String, i64)> = Vec::new();
    let mut reported: Option<Role> = None;
    let mut rebooted = false;
    {
        let is_master = w == Which::Master;
        let ri = s.masters[mi].get_mut(w);
        ri.info = Some(info.to_string());
        ri.master_link_down_time = 0;
        for l in info.split("\r\n") {
            if l.len() >= 47 {
                if let Some(id) = field(l, "run_id:") {
                    let id = id.get(..40).unwrap_or(id).to_string();
                    match &ri.runid {
                        None => ri.runid = Some(id),
                        Some(old) if *old != id => {
                            rebooted = true;
                            ri.runid = Some(id);
                        }
                        _ => {}
                    }
                }
            }
            if is_master && l.starts_with("slave") && l.as_bytes().get(5).is_some_and(u8::is_ascii_digit) {
                if let Some(rest) = l.split_once(':').map(|(_, r)| r) {
                    let (mut ip, mut port) = (None, None);
                    if rest.contains("ip=") {
                        for kv in rest.split(',') {
                            if let Some(v) = kv.strip_prefix("ip=") {
                                ip = Some(v.to_string());
                            } else if let Some(v) = kv.strip_prefix("port=") {
                                port = Some(super::conf::atoi(v));
                            }
                        }
                    } else {
                        let mut parts = rest.split(',');
                        ip = parts.next().map(str::to_string);
                        port = parts.next().map(super::conf::atoi);
                    }
                    if let (Some(ip), Some(port)) = (ip, port) {
                        new_replicas.push((ip, port));
                    }
                }
            }
            if let Some(v) = field(l, "master_link_down_since_seconds:") {
                ri.master_link_down_time = super::conf::atoi(v) * 1000;
            }
            if l.starts_with("role:master") {
                reported = Some(Role::Master);
            } else if l.starts_with("role:slave") {
                reported = Some(Role::Replica);
            }
            if reported == Some(Role::Replica) {
                if let Some(h) = field(l, "master_host:") {
                    if ri.slave_master_host.as_deref().is_none_or(|o| !o.eq_ignore_ascii_case(h)) {
                        ri.slave_master_host = Some(h.to_string());
                        ri.slave_conf_change_time = now;
                    }
                }
                if let Some(p) = field(l, "master_port:") {
                    let p = super::conf::atoi(p).clamp(0, 65535) as u16;
                    if ri.slave_master_port != p {
                        ri.slave_master_port = p;
                        ri.slave_conf_change_time = now;
                    }
                }
                if let Some(st) = field(l, "master_link_status:") {
                    ri.slave_master_link_up = st.eq_ignore_ascii_case("up");
                }
                if let Some(p) = field(l, "slave_priority:") {
                    ri.slave_priority = super::conf::atoi(p);
                }
                if let Some(o) = field(l, "slave_repl_offset:") {
                    ri.slave_repl_offset = super::conf::atoi(o).max(0) as u64;
                }
                if let Some(a) = field(l, "replica_announced:") {
                    ri.replica_announced = super::conf::atoi(a) != 0;
                }
            }
        }
        ri.info_refresh = now;
    }
    if rebooted {
        s.event(Level::Notice, "+reboot", Some((mi, w)), "");
        let m = &mut s.masters[mi];
        if w == Which::Master && m.master_reboot_down_after != 0 {
            m.ri.flags |= flags::MASTER_REBOOT;
            m.ri.master_reboot_since = now;
        }
    }
    for (ip, port) in new_replicas {
        let name = format!("{}:{}", if ip.contains(':') { format!("[{ip}]") } else { ip.clone() }, port);
        if s.masters[mi].replicas.iter().any(|r| r.name == name || (r.addr.is_host(&ip) && r.addr.port as i64 == port))
        {
            continue;
        }
        if let Ok(i) = s.add_replica(mi, &ip, port, now) {
            s.event(Level::Notice, "+slave", Some((mi, Which::Replica(i))), "");
            s.flush_needed = true;
        }
    }
    let role = reported.unwrap_or(Role::Replica);
    let role = if reported.is_none() { s.masters[mi].get(w).role_reported } else { role };
    let role_word = if role == Role::Master { "master" } else { "slave" };
    {
        let ri = s.masters[mi].get_mut(w);
        if reported.is_some() && role != ri.role_reported {
            ri.role_reported_time = now;
            ri.role_reported = role;
            if role == Role::Replica {
                ri.slave_conf_change_time = now;
            }
            let kind = if ri.role == role { "+role-change" } else { "-role-change" };
            s.event(Level::Verbose, kind, Some((mi, w)), &format!("new reported role is {role_word}"));
        }
    }
    if s.tilt || reported.is_none() {
        return;
    }
    let Which::Replica(ri_idx) = w else { return };
    let m = &s.masters[mi];
    let r = &m.replicas[ri_idx];
    if role == Role::Master {
        let promoted_here = r.flags & flags::PROMOTED != 0
            && m.ri.flags & flags::FAILOVER_IN_PROGRESS != 0
            && m.failover_state == FailoverState::WaitPromotion;
        if promoted_here {
            let m = &mut s.masters[mi];
            m.config_epoch = m.failover_epoch;
            m.failover_state = FailoverState::ReconfSlaves;
            m.failover_state_change_time = now;
            s.flush_needed = true;
            s.event(Level::Warning, "+promoted-slave", Some((mi, w)), "");
            if s.simfailure & super::SIM_CRASH_AFTER_PROMOTION != 0 {
                super::failover::sim_crash();
            }
            s.event(Level::Warning, "+failover-state-reconf-slaves", Some((mi, Which::Master)), "");
            let from = s.masters[mi].ri.addr.clone();
            let to = s.masters[mi].replicas[ri_idx].addr.clone();
            super::script::client_reconfig(s, mi, "leader", "start", &from, &to);
            force_hello_update(s, mi);
        } else {
            let wait = s.timing.publish_period * 4;
            if r.flags & flags::PROMOTED == 0
                && master_looks_sane(s, mi, now)
                && no_down_for(r, wait, now)
                && now - r.role_reported_time > wait
            {
                let to = s.masters[mi].ri.addr.clone();
                if super::failover::send_replicaof(s, mi, w, Some(&to)) {
                    s.event(Level::Notice, "+convert-to-slave", Some((mi, w)), "");
                }
            }
        }
        return;
    }
    // A replica pointing at the wrong master.
    let wrong =
        r.slave_master_port != m.ri.addr.port || !r.slave_master_host.as_deref().is_some_and(|h| m.ri.addr.is_host(h));
    if wrong {
        let wait = m.failover_timeout;
        if master_looks_sane(s, mi, now) && no_down_for(r, wait, now) && now - r.slave_conf_change_time > wait {
            let to = s.masters[mi].ri.addr.clone();
            if super::failover::send_replicaof(s, mi, w, Some(&to)) {
                s.event(Level::Notice, "+fix-slave-config", Some((mi, w)), "");
            }
        }
    }
    // Reconfiguration progress during a failover.
    let m = &s.masters[mi];
    let r = &m.replicas[ri_idx];
    if r.flags & (flags::RECONF_SENT | flags::RECONF_INPROG) != 0 {
        let promoted = m.promoted_idx().map(|p| m.replicas[p].addr.clone());
        if r.flags & flags::RECONF_SENT != 0 {
            if let (Some(p), Some(h)) = (&promoted, &r.slave_master_host) {
                if p.is_host(h) && r.slave_master_port == p.port {
                    let r = &mut s.masters[mi].replicas[ri_idx];
                    r.flags &= !flags::RECONF_SENT;
                    r.flags |= flags::RECONF_INPROG;
                    s.event(Level::Notice, "+slave-reconf-inprog", Some((mi, w)), "");
                }
            }
        }
        let r = &mut s.masters[mi].replicas[ri_idx];
        if r.flags & flags::RECONF_INPROG != 0 && r.slave_master_link_up {
            r.flags &= !flags::RECONF_INPROG;
            r.flags |= flags::RECONF_DONE;
            s.event(Level::Notice, "+slave-reconf-done", Some((mi, w)), "");
        }
    }
}

/// Redis's sentinelMasterLooksSane.
pub fn master_looks_sane(s: &Sentinel, mi: usize, now: i64) -> bool {
    let m = &s.masters[mi].ri;
    m.role_reported == Role::Master
        && m.flags & (flags::S_DOWN | flags::O_DOWN) == 0
        && now - m.info_refresh < s.timing.info_period * 2
}

/// Neither SDOWN nor ODOWN in the last `ms`.
pub fn no_down_for(ri: &super::Instance, ms: i64, now: i64) -> bool {
    let recent = ri.s_down_since.max(ri.o_down_since);
    recent == 0 || now - recent > ms
}

/// A message on a pub/sub link.
pub fn on_pubsub_message(s: &mut Sentinel, reactor: &Reactor, v: &Value, now: i64) {
    let items = match v {
        Value::Array(a) | Value::Push(a) => a,
        _ => return,
    };
    if items.len() != 3 || items[0].as_bytes() != Some(b"message") {
        return;
    }
    let Some(payload) = items[2].as_bytes() else { return };
    let text = String::from_utf8_lossy(payload);
    if text.contains(&s.myid) {
        return;
    }
    process_hello(s, reactor, &text, now);
}

/// A hello message, from a pub/sub link or a PUBLISH to this Sentinel.
pub fn process_hello(s: &mut Sentinel, reactor: &Reactor, hello: &str, now: i64) {
    let t: Vec<&str> = hello.split(',').collect();
    if t.len() != 8 {
        return;
    }
    let Some(mi) = s.master_idx(t[4]) else { return };
    let port = super::conf::atoi(t[1]);
    let master_port = super::conf::atoi(t[6]);
    let current_epoch = super::conf::atoi(t[3]).max(0) as u64;
    let master_config_epoch = super::conf::atoi(t[7]).max(0) as u64;
    let (ip, runid) = (t[0], t[2]);
    let found = s.masters[mi]
        .sentinels
        .iter()
        .position(|si| si.addr.is_host(ip) && si.addr.port as i64 == port && si.runid.as_deref() == Some(runid));
    let mut si_idx = found;
    if found.is_none() {
        // Same run id at another address: it moved.
        let removed = remove_sentinel_by_runid(s, reactor, mi, runid);
        if removed {
            s.event(
                Level::Notice,
                "+sentinel-address-switch",
                Some((mi, Which::Master)),
                &format!("ip {ip} port {port} for {runid}"),
            );
        } else if let Some(other) =
            s.masters[mi].sentinels.iter().position(|si| si.addr.is_host(ip) && si.addr.port as i64 == port)
        {
            // Another run id at this address: that Sentinel is gone everywhere.
            s.event(Level::Notice, "+sentinel-invalid-addr", Some((mi, Which::Sentinel(other))), "");
            if let Some(old) = s.masters[mi].sentinels[other].runid.clone() {
                for m in 0..s.masters.len() {
                    remove_sentinel_by_runid(s, reactor, m, &old);
                }
            }
        }
        if let Ok(i) = s.add_sentinel(mi, runid, ip, port, now) {
            if !removed {
                s.event(Level::Notice, "+sentinel", Some((mi, Which::Sentinel(i))), "");
            } else {
                // Update the address of this Sentinel in the other masters too.
                let addr = s.masters[mi].sentinels[i].addr.clone();
                for m in 0..s.masters.len() {
                    if let Some(j) = s.masters[m].sentinels.iter().position(|x| x.runid.as_deref() == Some(runid)) {
                        if m != mi {
                            link::close_instance(s, reactor, m, Which::Sentinel(j));
                            s.masters[m].sentinels[j].addr = addr.clone();
                        }
                    }
                }
            }
            s.flush_needed = true;
            si_idx = Some(i);
        }
    }
    if current_epoch > s.current_epoch {
        s.current_epoch = current_epoch;
        s.flush_needed = true;
        s.event_plain(Level::Warning, "+new-epoch", Some(mi), current_epoch.to_string());
    }
    let Some(si) = si_idx else { return };
    if s.masters[mi].config_epoch < master_config_epoch {
        s.masters[mi].config_epoch = master_config_epoch;
        let m = &s.masters[mi];
        if master_port != m.ri.addr.port as i64 || !m.ri.addr.is_host(t[5]) {
            s.event(Level::Warning, "+config-update-from", Some((mi, Which::Sentinel(si))), "");
            let old = s.masters[mi].ri.addr.clone();
            let msg = format!("{} {} {} {} {}", s.masters[mi].ri.name, s.announce(&old), old.port, t[5], master_port);
            s.event_plain(Level::Warning, "+switch-master", Some(mi), msg);
            let name = s.masters[mi].ri.name.clone();
            super::failover::reset_and_change_address(s, reactor, mi, t[5], master_port, now);
            if let Some(mi) = s.master_idx(&name) {
                let new = s.masters[mi].ri.addr.clone();
                super::script::client_reconfig(s, mi, "observer", "start", &old, &new);
            }
        }
    }
    if let Some(mi) = s.master_idx(t[4]) {
        if let Some(si) = s.masters[mi].sentinels.iter().position(|x| x.runid.as_deref() == Some(runid)) {
            s.masters[mi].sentinels[si].last_hello_time = now;
        }
    }
}

fn remove_sentinel_by_runid(s: &mut Sentinel, reactor: &Reactor, mi: usize, runid: &str) -> bool {
    let Some(i) = s.masters[mi].sentinels.iter().position(|x| x.runid.as_deref() == Some(runid)) else {
        return false;
    };
    link::close_instance(s, reactor, mi, Which::Sentinel(i));
    s.masters[mi].sentinels.remove(i);
    true
}

fn check_sdown(s: &mut Sentinel, reactor: &Reactor, mi: usize, w: Which, now: i64) {
    let t = s.timing.clone();
    let m = &s.masters[mi];
    let reboot_period = m.master_reboot_down_after;
    let ri = m.get(w);
    let elapsed = if ri.link.act_ping_time != 0 {
        now - ri.link.act_ping_time
    } else if ri.disconnected {
        now - ri.link.last_avail_time
    } else {
        0
    };
    let l = &ri.link;
    if let Some(cc) = l.cc {
        if now - l.cc_conn_time > t.min_link_reconnect_period
            && l.act_ping_time != 0
            && now - l.act_ping_time > ri.down_after / 2
            && now - l.last_pong_time > ri.down_after / 2
        {
            link::close(s, reactor, cc);
        }
    }
    let ri = s.masters[mi].get(w);
    if let Some(pc) = ri.link.pc {
        if now - ri.link.pc_conn_time > t.min_link_reconnect_period
            && now - ri.link.pc_last_activity > t.publish_period * 3
        {
            link::close(s, reactor, pc);
        }
    }
    let ri = s.masters[mi].get(w);
    let down = elapsed > ri.down_after
        || (ri.role == Role::Master
            && ri.role_reported == Role::Replica
            && now - ri.role_reported_time > ri.down_after + t.info_period * 2)
        || (ri.flags & flags::MASTER_REBOOT != 0 && now - ri.master_reboot_since > reboot_period);
    if down {
        if ri.flags & flags::S_DOWN == 0 {
            s.event(Level::Warning, "+sdown", Some((mi, w)), "");
            let ri = s.masters[mi].get_mut(w);
            ri.s_down_since = now;
            ri.flags |= flags::S_DOWN;
        }
    } else if ri.flags & flags::S_DOWN != 0 {
        s.event(Level::Warning, "-sdown", Some((mi, w)), "");
        s.masters[mi].get_mut(w).flags &= !(flags::S_DOWN | flags::SCRIPT_KILL_SENT);
    }
}

fn check_odown(s: &mut Sentinel, mi: usize, now: i64) {
    let m = &s.masters[mi];
    let mut quorum = 0u32;
    let mut odown = false;
    if m.ri.flags & flags::S_DOWN != 0 {
        quorum = 1 + m.sentinels.iter().filter(|si| si.flags & flags::MASTER_DOWN != 0).count() as u32;
        odown = quorum >= m.quorum;
    }
    if odown {
        if m.ri.flags & flags::O_DOWN == 0 {
            let q = m.quorum;
            s.event(Level::Warning, "+odown", Some((mi, Which::Master)), &format!("#quorum {quorum}/{q}"));
            let m = &mut s.masters[mi];
            m.ri.flags |= flags::O_DOWN;
            m.ri.o_down_since = now;
        }
    } else if m.ri.flags & flags::O_DOWN != 0 {
        s.event(Level::Warning, "-odown", Some((mi, Which::Master)), "");
        s.masters[mi].ri.flags &= !flags::O_DOWN;
    }
}

/// Asks the other Sentinels whether master `mi` is down (and, during a
/// failover, for their vote).
pub fn ask_master_state(s: &mut Sentinel, mi: usize, forced: bool, now: i64) {
    let ask = s.timing.ask_period;
    for i in 0..s.masters[mi].sentinels.len() {
        let m = &mut s.masters[mi];
        let master_sdown = m.ri.flags & flags::S_DOWN != 0;
        let in_failover = m.failover_state > FailoverState::None;
        let si = &mut m.sentinels[i];
        if now - si.last_master_down_reply_time > ask * 5 {
            si.flags &= !flags::MASTER_DOWN;
            si.leader = None;
        }
        if !master_sdown || si.disconnected {
            continue;
        }
        if !forced && now - si.last_master_down_reply_time < ask {
            continue;
        }
        let Some(cc) = si.link.cc else { continue };
        let m = &s.masters[mi];
        let cmd = m.map_command("SENTINEL").to_string();
        let ip = s.announce(&m.ri.addr).to_string();
        let port = m.ri.addr.port.to_string();
        let epoch = s.current_epoch.to_string();
        let runid = if in_failover { s.myid.clone() } else { "*".to_string() };
        let args = [cmd.as_str(), "is-master-down-by-addr", ip.as_str(), port.as_str(), epoch.as_str(), runid.as_str()];
        if link::send_for(s, cc, mi, Which::Sentinel(i), &args, Callback::IsMasterDown) {
            s.masters[mi].sentinels[i].link.pending_commands += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Sentinel, Reactor) {
        let mut s = Sentinel::new(26379, 1000);
        s.myid = "a".repeat(40);
        s.add_master("m", "127.0.0.1", 6379, 2, 1000).unwrap();
        (s, Reactor::new().unwrap())
    }

    #[test]
    fn info_discovers_replicas_and_roles() {
        let (mut s, _r) = setup();
        let info = "# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=1,lag=0\r\nrun_id:0123456789012345678901234567890123456789\r\n";
        refresh_info(&mut s, 0, Which::Master, info, 2000);
        assert_eq!(s.masters[0].replicas.len(), 1);
        assert_eq!(s.masters[0].replicas[0].name, "127.0.0.1:6380");
        assert!(s
            .events
            .iter()
            .any(|e| e.kind == "+slave" && e.msg == "slave 127.0.0.1:6380 127.0.0.1 6380 @ m 127.0.0.1 6379"));
        let rinfo = "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:up\r\nslave_repl_offset:42\r\nslave_priority:10\r\n";
        refresh_info(&mut s, 0, Which::Replica(0), rinfo, 2000);
        let rep = &s.masters[0].replicas[0];
        assert_eq!((rep.slave_repl_offset, rep.slave_priority, rep.slave_master_link_up), (42, 10, true));
    }

    #[test]
    fn failed_connects_are_debug_events() {
        let mut s = Sentinel::new(26379, 1000);
        s.myid = "a".repeat(40);
        // A multicast address: the kernel refuses the connect at once.
        s.add_master("m", "224.0.0.1", 6379, 2, 1000).unwrap();
        let r = Reactor::new().unwrap();
        reconnect(&mut s, &r, 0, Which::Master, 100_000);
        let ev: Vec<(Level, String)> = s.events.iter().map(|e| (e.level, format!("{} {}", e.kind, e.msg))).collect();
        let want = |kind: &str| (Level::Debug, format!("{kind} master m 224.0.0.1 6379 #Network is unreachable"));
        assert!(ev.contains(&want("-cmd-link-reconnection")), "{ev:?}");
        assert!(ev.contains(&want("-pubsub-link-reconnection")), "{ev:?}");
        assert!(s.masters[0].ri.link.cc.is_none() && s.masters[0].ri.link.pc.is_none());
    }

    #[test]
    fn one_link_per_sentinel_across_masters() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port() as i64;
        let mut s = Sentinel::new(26379, 1000);
        s.myid = "a".repeat(40);
        let other = "b".repeat(40);
        for (mi, name) in ["m1", "m2", "m3"].iter().enumerate() {
            s.add_master(name, "127.0.0.1", 6379 + mi as i64, 2, 1000).unwrap();
            s.add_sentinel(mi, &other, "127.0.0.1", port, 1000).unwrap();
        }
        let r = Reactor::new().unwrap();
        let si = Which::Sentinel(0);
        for mi in 0..3 {
            reconnect(&mut s, &r, mi, si, 100_000);
        }
        let cc = s.masters[0].sentinels[0].link.cc;
        assert!(cc.is_some());
        assert!((0..3).all(|mi| s.masters[mi].sentinels[0].link.cc == cc && !s.masters[mi].sentinels[0].disconnected));
        assert_eq!(s.conns.len(), 1);
        assert_eq!(link::refcount(&s, cc), 3);
        // Replies go to the instance that sent the command.
        assert!(send_ping(&mut s, 2, si, 100_000));
        assert_eq!(s.masters[2].sentinels[0].link.pending_commands, 1);
        // Letting go of one instance keeps the link for the others.
        link::close_instance(&mut s, &r, 0, si);
        assert_eq!(s.conns.len(), 1);
        assert_eq!(link::refcount(&s, cc), 2);
        assert!(s.masters[0].sentinels[0].disconnected);
        // Closing the connection disconnects every user.
        link::close(&mut s, &r, cc.unwrap());
        assert!(s.conns.is_empty());
        assert!(
            (1..3).all(|mi| s.masters[mi].sentinels[0].link.cc.is_none() && s.masters[mi].sentinels[0].disconnected)
        );
    }

    #[test]
    fn hello_adds_sentinel_and_epoch() {
        let (mut s, r) = setup();
        let other = "b".repeat(40);
        process_hello(&mut s, &r, &format!("127.0.0.1,26380,{other},5,m,127.0.0.1,6379,0"), 3000);
        assert_eq!(s.masters[0].sentinels.len(), 1);
        assert_eq!(s.current_epoch, 5);
        assert!(s.events.iter().any(|e| e.kind == "+sentinel"));
        // Bad hellos are ignored.
        process_hello(&mut s, &r, "x,y", 3000);
        process_hello(&mut s, &r, "1,2,3,4,nomaster,6,7,8", 3000);
        assert_eq!(s.masters[0].sentinels.len(), 1);
    }

    #[test]
    fn clock_jump_enters_tilt_and_sdown_follows_silence() {
        let (mut s, r) = setup();
        timer(&mut s, &r, 1100);
        assert!(!s.tilt);
        timer(&mut s, &r, 9000);
        assert!(s.tilt && s.events.iter().any(|e| e.kind == "+tilt" && e.msg == "#tilt mode entered"));
        // Out of TILT after tilt-period; the master never answered a PING, so
        // after down-after-milliseconds (30 s by default) it is SDOWN.
        s.events.clear();
        timer(&mut s, &r, 9000 + 30_001);
        assert!(s.tilt, "a 30 s gap is itself a clock jump");
        let t = 9000 + 30_001 + s.timing.tilt_period + 1;
        for now in (39_001..=t).step_by(500) {
            timer(&mut s, &r, now);
        }
        assert!(!s.tilt);
        assert!(s.events.iter().any(|e| e.kind == "-tilt"));
        assert!(s.masters[0].ri.flags & flags::S_DOWN != 0);
        assert!(s.events.iter().any(|e| e.kind == "+sdown" && e.msg == "master m 127.0.0.1 6379"));
    }

    #[test]
    fn random_info_and_hello_never_panic() {
        let (mut s, r) = setup();
        let mut x: u64 = 88172645463325252;
        let pieces = [
            "role:",
            "master",
            "slave",
            "slave0:",
            "ip=",
            "port=",
            ",",
            "\r\n",
            "run_id:",
            "m",
            "127.0.0.1",
            "6379",
            "é",
            "master_port:",
        ];
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..(x % 12) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                text.push_str(pieces[(x % pieces.len() as u64) as usize]);
            }
            refresh_info(&mut s, 0, Which::Master, &text, 5000);
            process_hello(&mut s, &r, &text, 5000);
            s.events.clear();
        }
    }
}
