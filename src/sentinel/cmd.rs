//! Commands a Sentinel answers: SENTINEL and its subcommands, and the Sentinel
//! forms of INFO, ROLE and PUBLISH.
//!
//! Mirrors sentinel.c's sentinelCommand, addReplySentinelRedisInstance (field
//! names and order), sentinelSetCommand, sentinelConfig{Get,Set}Command,
//! sentinelInfoCommand and sentinelRoleCommand, error texts included. Must
//! not hold the Sentinel across a reply to another client: every handler
//! works inside `super::with`, which publishes the events afterwards.

use super::{conf, failover, flags, link, monitor, Instance, Level, Role, Sentinel, Which};
use crate::client::reply::{CmdResult, Reply, ReplyError};
use crate::client::Client;
use crate::cmd::args;
use crate::server::Server;

/// SENTINEL subcommand bindings.
pub static BINDINGS: &[(&str, crate::cmd::Handler)] = &[
    ("sentinel|help", help),
    ("sentinel|masters", masters),
    ("sentinel|master", master),
    ("sentinel|replicas", replicas),
    ("sentinel|slaves", replicas),
    ("sentinel|sentinels", sentinels),
    ("sentinel|myid", myid),
    ("sentinel|is-master-down-by-addr", is_master_down_by_addr),
    ("sentinel|reset", reset),
    ("sentinel|get-master-addr-by-name", get_master_addr_by_name),
    ("sentinel|failover", failover_cmd),
    ("sentinel|pending-scripts", pending_scripts),
    ("sentinel|monitor", monitor_cmd),
    ("sentinel|flushconfig", flushconfig),
    ("sentinel|remove", remove),
    ("sentinel|ckquorum", ckquorum),
    ("sentinel|set", set),
    ("sentinel|config", config),
    ("sentinel|info-cache", info_cache),
    ("sentinel|simulate-failure", simulate_failure),
    ("sentinel|debug", debug),
];

fn arg(c: &Client, i: usize) -> String {
    String::from_utf8_lossy(c.arg(i)).into_owned()
}

fn no_master() -> ReplyError {
    // COMPAT: sentinelGetMasterByNameOrReplyError.
    ReplyError::err("No such master with that name")
}

/// Runs `f` on the Sentinel; a server without one answers with an error.
fn run(
    srv: &mut Server,
    c: &mut Client,
    f: impl FnOnce(&mut Sentinel, &crate::reactor::Reactor, i64, &mut Client) -> CmdResult,
) -> CmdResult {
    // The client is needed both by `f` (its reply) and by the event publication
    // (it may be subscribed); events are published after `f` returns.
    let mut s = srv.sentinel.take().ok_or_else(|| ReplyError::err("This instance is not a Sentinel"))?;
    let now = crate::util::clock::unix_ms();
    let r = f(&mut s, &srv.reactor, now, c);
    srv.sentinel = Some(s);
    super::drain_events(srv, Some(c));
    r
}

fn instance_reply(s: &Sentinel, m: &super::Master, ri: &Instance, r: &mut Reply, now: i64) {
    let mut fields: Vec<(&str, String)> = vec![
        ("name", ri.name.clone()),
        ("ip", s.announce(&ri.addr).to_string()),
        ("port", ri.addr.port.to_string()),
        ("runid", ri.runid.clone().unwrap_or_default()),
    ];
    let mut f = Vec::new();
    let fl = ri.flags;
    let failover = ri.role == Role::Master && fl & flags::FAILOVER_IN_PROGRESS != 0;
    if fl & flags::S_DOWN != 0 {
        f.push("s_down");
    }
    if fl & flags::O_DOWN != 0 {
        f.push("o_down");
    }
    f.push(ri.role.word());
    if ri.disconnected {
        f.push("disconnected");
    }
    for (bit, name) in [
        (flags::MASTER_DOWN, "master_down"),
        (flags::FAILOVER_IN_PROGRESS, "failover_in_progress"),
        (flags::PROMOTED, "promoted"),
        (flags::RECONF_SENT, "reconf_sent"),
        (flags::RECONF_INPROG, "reconf_inprog"),
        (flags::RECONF_DONE, "reconf_done"),
        (flags::FORCE_FAILOVER, "force_failover"),
        (flags::SCRIPT_KILL_SENT, "script_kill_sent"),
    ] {
        if fl & bit != 0 {
            f.push(name);
        }
    }
    fields.push(("flags", f.join(",")));
    fields.push(("link-pending-commands", ri.link.pending_commands.to_string()));
    fields.push(("link-refcount", link::refcount(s, ri.link.cc).to_string()));
    if failover {
        fields.push(("failover-state", m.failover_state.name().into()));
    }
    let since = |t: i64| if t != 0 { now - t } else { 0 };
    fields.push(("last-ping-sent", since(ri.link.act_ping_time).to_string()));
    fields.push(("last-ok-ping-reply", (now - ri.link.last_avail_time).to_string()));
    fields.push(("last-ping-reply", (now - ri.link.last_pong_time).to_string()));
    if fl & flags::S_DOWN != 0 {
        fields.push(("s-down-time", (now - ri.s_down_since).to_string()));
    }
    if fl & flags::O_DOWN != 0 {
        fields.push(("o-down-time", (now - ri.o_down_since).to_string()));
    }
    fields.push(("down-after-milliseconds", ri.down_after.to_string()));
    if ri.role != Role::Sentinel {
        fields.push(("info-refresh", since(ri.info_refresh).to_string()));
        let rr = if ri.role_reported == Role::Master { "master" } else { "slave" };
        fields.push(("role-reported", rr.into()));
        fields.push(("role-reported-time", (now - ri.role_reported_time).to_string()));
    }
    if ri.role == Role::Master {
        fields.push(("config-epoch", m.config_epoch.to_string()));
        fields.push(("num-slaves", m.replicas.len().to_string()));
        fields.push(("num-other-sentinels", m.sentinels.len().to_string()));
        fields.push(("quorum", m.quorum.to_string()));
        fields.push(("failover-timeout", m.failover_timeout.to_string()));
        fields.push(("parallel-syncs", m.parallel_syncs.to_string()));
        if let Some(p) = &m.notification_script {
            fields.push(("notification-script", p.clone()));
        }
        if let Some(p) = &m.client_reconfig_script {
            fields.push(("client-reconfig-script", p.clone()));
        }
    }
    if ri.role == Role::Replica {
        fields.push(("master-link-down-time", ri.master_link_down_time.to_string()));
        fields.push(("master-link-status", if ri.slave_master_link_up { "ok" } else { "err" }.into()));
        fields.push(("master-host", ri.slave_master_host.clone().unwrap_or_else(|| "?".into())));
        fields.push(("master-port", ri.slave_master_port.to_string()));
        fields.push(("slave-priority", ri.slave_priority.to_string()));
        fields.push(("slave-repl-offset", ri.slave_repl_offset.to_string()));
        fields.push(("replica-announced", (ri.replica_announced as u8).to_string()));
    }
    if ri.role == Role::Sentinel {
        fields.push(("last-hello-message", (now - ri.last_hello_time).to_string()));
        fields.push(("voted-leader", ri.leader.clone().unwrap_or_else(|| "?".into())));
        fields.push(("voted-leader-epoch", ri.leader_epoch.to_string()));
    }
    r.map(fields.len());
    for (k, v) in fields {
        r.bulk(k.as_bytes());
        r.bulk(v.as_bytes());
    }
}

fn list_reply(s: &Sentinel, m: &super::Master, list: &[Instance], r: &mut Reply, now: i64) {
    let shown: Vec<&Instance> = list.iter().filter(|ri| ri.role != Role::Replica || ri.replica_announced).collect();
    r.array(shown.len());
    for ri in shown {
        instance_reply(s, m, ri, r, now);
    }
}

/// SENTINEL HELP.
pub fn help(_srv: &mut Server, c: &mut Client) -> CmdResult {
    // COMPAT: sentinelCommand's help text.
    const LINES: &[&str] = &[
        "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CKQUORUM <master-name>",
        "    Check if the current Sentinel configuration is able to reach the quorum",
        "    needed to failover a master and the majority needed to authorize the",
        "    failover.",
        "CONFIG SET <param> <value>",
        "    Set a global Sentinel configuration parameter.",
        "CONFIG GET <param>",
        "    Get global Sentinel configuration parameter.",
        "DEBUG [<param> <value> ...]",
        "    Show a list of configurable time parameters and their values (milliseconds).",
        "    Or update current configurable parameters values (one or more).",
        "GET-MASTER-ADDR-BY-NAME <master-name>",
        "    Return the ip and port number of the master with that name.",
        "FAILOVER <master-name>",
        "    Manually failover a master node without asking for agreement from other",
        "    Sentinels",
        "FLUSHCONFIG",
        "    Force Sentinel to rewrite its configuration on disk, including the current",
        "    Sentinel state.",
        "INFO-CACHE <master-name>",
        "    Return last cached INFO output from masters and all its replicas.",
        "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
        "    Check if the master specified by ip:port is down from current Sentinel's",
        "    point of view.",
        "MASTER <master-name>",
        "    Show the state and info of the specified master.",
        "MASTERS",
        "    Show a list of monitored masters and their state.",
        "MONITOR <name> <ip> <port> <quorum>",
        "    Start monitoring a new master with the specified name, ip, port and quorum.",
        "MYID",
        "    Return the ID of the Sentinel instance.",
        "PENDING-SCRIPTS",
        "    Get pending scripts information.",
        "REMOVE <master-name>",
        "    Remove master from Sentinel's monitor list.",
        "REPLICAS <master-name>",
        "    Show a list of replicas for this master and their state.",
        "RESET <pattern>",
        "    Reset masters for specific master name matching this pattern.",
        "SENTINELS <master-name>",
        "    Show a list of Sentinel instances for this master and their state.",
        "SET <master-name> <option> <value> [<option> <value> ...]",
        "    Set configuration parameters for certain masters.",
        "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
        "    Simulate a Sentinel crash.",
        "HELP",
        "    Print this help.",
    ];
    c.reply.array(LINES.len());
    for l in LINES {
        c.reply.simple(l);
    }
    Ok(())
}

/// SENTINEL MASTERS.
pub fn masters(srv: &mut Server, c: &mut Client) -> CmdResult {
    run(srv, c, |s, _, now, c| {
        c.reply.array(s.masters.len());
        for m in &s.masters {
            instance_reply(s, m, &m.ri, &mut c.reply, now);
        }
        Ok(())
    })
}

/// SENTINEL MASTER name.
pub fn master(srv: &mut Server, c: &mut Client) -> CmdResult {
    let name = arg(c, 2);
    run(srv, c, |s, _, now, c| {
        let mi = s.master_idx(&name).ok_or_else(no_master)?;
        let m = &s.masters[mi];
        instance_reply(s, m, &m.ri, &mut c.reply, now);
        Ok(())
    })
}

/// SENTINEL REPLICAS|SLAVES name.
pub fn replicas(srv: &mut Server, c: &mut Client) -> CmdResult {
    let name = arg(c, 2);
    run(srv, c, |s, _, now, c| {
        let mi = s.master_idx(&name).ok_or_else(no_master)?;
        let m = &s.masters[mi];
        list_reply(s, m, &m.replicas, &mut c.reply, now);
        Ok(())
    })
}

/// SENTINEL SENTINELS name.
pub fn sentinels(srv: &mut Server, c: &mut Client) -> CmdResult {
    let name = arg(c, 2);
    run(srv, c, |s, _, now, c| {
        let mi = s.master_idx(&name).ok_or_else(no_master)?;
        let m = &s.masters[mi];
        list_reply(s, m, &m.sentinels, &mut c.reply, now);
        Ok(())
    })
}

/// SENTINEL MYID.
pub fn myid(srv: &mut Server, c: &mut Client) -> CmdResult {
    run(srv, c, |s, _, _, c| {
        c.reply.bulk(s.myid.as_bytes());
        Ok(())
    })
}

/// SENTINEL IS-MASTER-DOWN-BY-ADDR ip port current-epoch runid.
pub fn is_master_down_by_addr(srv: &mut Server, c: &mut Client) -> CmdResult {
    let port = args::int(c.arg(3))?;
    let epoch = args::int(c.arg(4))?;
    let (ip, runid) = (arg(c, 2), arg(c, 5));
    run(srv, c, |s, _, now, c| {
        let mi = s.masters.iter().position(|m| m.ri.addr.is_host(&ip) && m.ri.addr.port as i64 == port);
        let isdown = !s.tilt && mi.is_some_and(|mi| s.masters[mi].ri.flags & flags::S_DOWN != 0);
        let (mut leader, mut leader_epoch) = (None, 0);
        if let Some(mi) = mi.filter(|_| runid != "*") {
            (leader, leader_epoch) = failover::vote_leader(s, mi, epoch.max(0) as u64, &runid, now);
        }
        c.reply.array(3);
        c.reply.int(isdown as i64);
        c.reply.bulk(leader.as_deref().unwrap_or("*").as_bytes());
        c.reply.int(leader_epoch as i64);
        Ok(())
    })
}

/// SENTINEL RESET pattern.
pub fn reset(srv: &mut Server, c: &mut Client) -> CmdResult {
    let pat = c.arg(2).to_vec();
    run(srv, c, |s, reactor, now, c| {
        let mut n = 0;
        for mi in 0..s.masters.len() {
            if crate::util::glob::string_match(&pat, s.masters[mi].ri.name.as_bytes(), false) {
                failover::reset_master(s, reactor, mi, false, true, now);
                n += 1;
            }
        }
        c.reply.int(n);
        Ok(())
    })
}

/// SENTINEL GET-MASTER-ADDR-BY-NAME name.
pub fn get_master_addr_by_name(srv: &mut Server, c: &mut Client) -> CmdResult {
    let name = arg(c, 2);
    run(srv, c, |s, _, _, c| {
        match s.master_idx(&name) {
            None => c.reply.null_array(),
            Some(mi) => {
                let a = s.masters[mi].current_addr();
                c.reply.array(2);
                c.reply.bulk(s.announce(a).as_bytes());
                c.reply.bulk(a.port.to_string().as_bytes());
            }
        }
        Ok(())
    })
}

/// SENTINEL FAILOVER name.
pub fn failover_cmd(srv: &mut Server, c: &mut Client) -> CmdResult {
    let name = arg(c, 2);
    run(srv, c, |s, _, now, c| {
        let mi = s.master_idx(&name).ok_or_else(no_master)?;
        if s.masters[mi].ri.flags & flags::FAILOVER_IN_PROGRESS != 0 {
            // COMPAT: Redis's error codes.
            return Err(ReplyError::other("INPROG Failover already in progress"));
        }
        if failover::select_replica(s, mi, now).is_none() {
            return Err(ReplyError::other("NOGOODSLAVE No suitable replica to promote"));
        }
        log::warn!("Executing user requested FAILOVER of '{name}'");
        failover::start(s, mi, now);
        s.masters[mi].ri.flags |= flags::FORCE_FAILOVER;
        c.reply.ok();
        Ok(())
    })
}

/// SENTINEL PENDING-SCRIPTS.
pub fn pending_scripts(srv: &mut Server, c: &mut Client) -> CmdResult {
    run(srv, c, |s, _, now, c| {
        c.reply.array(s.scripts.jobs.len());
        for j in &s.scripts.jobs {
            c.reply.map(5);
            c.reply.bulk(b"argv");
            c.reply.array(j.argv.len());
            for a in &j.argv {
                c.reply.bulk(a.as_bytes());
            }
            c.reply.bulk(b"flags");
            c.reply.bulk(if j.child.is_some() { b"running".as_slice() } else { b"scheduled" });
            c.reply.bulk(b"pid");
            c.reply.bulk(j.child.as_ref().map_or(0, |ch| ch.id()).to_string().as_bytes());
            let (key, v) = if j.child.is_some() {
                ("run-time", now - j.start_time)
            } else {
                ("run-delay", if j.start_time > now { j.start_time - now } else { 0 })
            };
            c.reply.bulk(key.as_bytes());
            c.reply.bulk(v.to_string().as_bytes());
            c.reply.bulk(b"retry-num");
            c.reply.bulk(j.retry.to_string().as_bytes());
        }
        Ok(())
    })
}

/// SENTINEL MONITOR name ip port quorum.
pub fn monitor_cmd(srv: &mut Server, c: &mut Client) -> CmdResult {
    let quorum = args::int(c.arg(5)).map_err(|_| ReplyError::err("Invalid quorum"))?;
    let port = args::int(c.arg(4)).map_err(|_| ReplyError::err("Invalid port"))?;
    if quorum <= 0 {
        return Err(ReplyError::err("Quorum must be 1 or greater."));
    }
    let (name, host) = (arg(c, 2), arg(c, 3));
    let resolve = srv.sentinel.as_ref().is_some_and(|s| s.resolve_hostnames);
    let resolvable = host.parse::<std::net::IpAddr>().is_ok()
        || (resolve
            && std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), 0)).is_ok_and(|mut a| a.next().is_some()));
    if !resolvable {
        return Err(ReplyError::err("Invalid IP address or hostname specified"));
    }
    let added = super::with(srv, Some(c), |s, _, now| {
        let r = s.add_master(&name, &host, port, quorum.min(u32::MAX as i64) as u32, now);
        if let Ok(mi) = r {
            s.event(Level::Warning, "+monitor", Some((mi, Which::Master)), &format!("quorum {quorum}"));
        }
        r
    });
    match added {
        Some(Ok(_)) => flush_and_reply(srv, c),
        Some(Err(e)) => Err(ReplyError::err(e)),
        None => Err(ReplyError::err("This instance is not a Sentinel")),
    }
}

fn flush_and_reply(srv: &mut Server, c: &mut Client) -> CmdResult {
    if super::flush_config(srv) {
        c.reply.ok();
        Ok(())
    } else {
        // COMPAT: sentinelFlushConfigAndReply.
        Err(ReplyError::err("Failed to save config file. Check server logs."))
    }
}

/// SENTINEL FLUSHCONFIG.
pub fn flushconfig(srv: &mut Server, c: &mut Client) -> CmdResult {
    flush_and_reply(srv, c)
}

/// SENTINEL REMOVE name.
pub fn remove(srv: &mut Server, c: &mut Client) -> CmdResult {
    let name = arg(c, 2);
    run(srv, c, |s, reactor, _, _| {
        let mi = s.master_idx(&name).ok_or_else(no_master)?;
        s.event(Level::Warning, "-monitor", Some((mi, Which::Master)), "");
        link::close_master(s, reactor, mi);
        s.masters.remove(mi);
        Ok(())
    })?;
    flush_and_reply(srv, c)
}

/// SENTINEL CKQUORUM name.
pub fn ckquorum(srv: &mut Server, c: &mut Client) -> CmdResult {
    let name = arg(c, 2);
    run(srv, c, |s, _, _, c| {
        let mi = s.master_idx(&name).ok_or_else(no_master)?;
        let m = &s.masters[mi];
        let voters = m.sentinels.len() + 1;
        let usable = 1 + m.sentinels.iter().filter(|si| si.flags & (flags::S_DOWN | flags::O_DOWN) == 0).count();
        let noquorum = usable < m.quorum as usize;
        let noauth = usable < voters / 2 + 1;
        if !noquorum && !noauth {
            // COMPAT: Redis's status line.
            c.reply.simple(&format!("OK {usable} usable Sentinels. Quorum and failover authorization can be reached"));
            return Ok(());
        }
        let mut e = format!("NOQUORUM {usable} usable Sentinels. ");
        if noquorum {
            e.push_str("Not enough available Sentinels to reach the specified quorum for this master");
        }
        if noauth {
            if noquorum {
                e.push_str(". ");
            }
            e.push_str("Not enough available Sentinels to reach the majority and authorize a failover");
        }
        Err(ReplyError::other(e))
    })
}

/// SENTINEL SET name option value [option value ...].
pub fn set(srv: &mut Server, c: &mut Client) -> CmdResult {
    let name = arg(c, 2);
    let argv: Vec<String> = (0..c.argc()).map(|i| arg(c, i)).collect();
    let mut changes = 0;
    let r = run(srv, c, |s, reactor, _, _| {
        let mi = s.master_idx(&name).ok_or_else(no_master)?;
        let mut j = 3;
        while j < argv.len() {
            let more = argv.len() - 1 - j;
            let opt = argv[j].to_ascii_lowercase();
            let old_j = j;
            let mut redacted = false;
            let num = |j: usize, min: i64| -> Result<i64, ReplyError> {
                match argv[j].parse::<i64>() {
                    Ok(v) if v >= min => Ok(v),
                    // COMPAT: sentinelSetCommand's format error.
                    _ => Err(ReplyError::err(format!(
                        "Invalid argument '{}' for SENTINEL SET '{}'",
                        argv[j], argv[old_j]
                    ))),
                }
            };
            let deny = "Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration";
            match opt.as_str() {
                "down-after-milliseconds" if more > 0 => {
                    j += 1;
                    let v = num(j, 1)?;
                    conf::set_down_after(s, mi, v);
                }
                "failover-timeout" if more > 0 => {
                    j += 1;
                    s.masters[mi].failover_timeout = num(j, 1)?;
                }
                "parallel-syncs" if more > 0 => {
                    j += 1;
                    s.masters[mi].parallel_syncs = num(j, 1)?;
                }
                "notification-script" | "client-reconfig-script" if more > 0 => {
                    j += 1;
                    if s.deny_scripts_reconfig {
                        return Err(ReplyError::err(deny));
                    }
                    let v = &argv[j];
                    let notif = opt == "notification-script";
                    if !v.is_empty() && !conf::is_executable(v) {
                        return Err(ReplyError::err(if notif {
                            "Notification script seems non existing or non executable"
                        } else {
                            "Client reconfiguration script seems non existing or non executable"
                        }));
                    }
                    let val = (!v.is_empty()).then(|| v.clone());
                    if notif {
                        s.masters[mi].notification_script = val;
                    } else {
                        s.masters[mi].client_reconfig_script = val;
                    }
                }
                "auth-pass" | "auth-user" if more > 0 => {
                    j += 1;
                    let v = (!argv[j].is_empty()).then(|| argv[j].clone());
                    if opt == "auth-pass" {
                        s.masters[mi].auth_pass = v;
                        redacted = true;
                    } else {
                        s.masters[mi].auth_user = v;
                    }
                    link::close_master(s, reactor, mi);
                }
                "quorum" if more > 0 => {
                    j += 1;
                    s.masters[mi].quorum = num(j, 1)?.min(u32::MAX as i64) as u32;
                }
                "rename-command" if more > 1 => {
                    j += 2;
                    let (old, new) = (&argv[j - 1], &argv[j]);
                    if old.is_empty() || new.is_empty() {
                        let bad = if new.is_empty() { j } else { j - 1 };
                        return Err(ReplyError::err(format!(
                            "Invalid argument '{}' for SENTINEL SET '{}'",
                            argv[bad], argv[old_j]
                        )));
                    }
                    let m = &mut s.masters[mi];
                    m.renamed.retain(|(o, _)| !o.eq_ignore_ascii_case(old));
                    if !old.eq_ignore_ascii_case(new) {
                        m.renamed.push((old.clone(), new.clone()));
                    }
                }
                "master-reboot-down-after-period" if more > 0 => {
                    j += 1;
                    s.masters[mi].master_reboot_down_after = num(j, 0)?;
                }
                _ => {
                    return Err(ReplyError::err(format!(
                        "Unknown option or number of arguments for SENTINEL SET '{}'",
                        argv[j]
                    )))
                }
            }
            changes += 1;
            let msg = match j - old_j + 1 {
                2 => format!("{} {}", argv[old_j], if redacted { "******" } else { &argv[old_j + 1] }),
                3 => format!("{} {} {}", argv[old_j], argv[old_j + 1], argv[old_j + 2]),
                _ => argv[old_j].clone(),
            };
            s.event(Level::Warning, "+set", Some((mi, Which::Master)), &msg);
            j += 1;
        }
        Ok(())
    });
    match r {
        Ok(()) if changes > 0 => flush_and_reply(srv, c),
        Ok(()) => Ok(()),
        Err(e) => {
            if changes > 0 {
                super::flush_config(srv);
            }
            Err(e)
        }
    }
}

/// SENTINEL CONFIG GET pattern | SET option value.
pub fn config(srv: &mut Server, c: &mut Client) -> CmdResult {
    let sub = arg(c, 2).to_ascii_lowercase();
    if sub == "set" && c.argc() == 5 {
        let (opt, val) = (arg(c, 3), arg(c, 4));
        let badfmt = || ReplyError::err(format!("Invalid value '{val}' to SENTINEL CONFIG SET '{opt}'"));
        let r = run(srv, c, |s, reactor, _, _| {
            let yn = |v: &str| match v.to_ascii_lowercase().as_str() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            };
            let mut drop = false;
            match opt.to_ascii_lowercase().as_str() {
                "resolve-hostnames" => s.resolve_hostnames = yn(&val).ok_or_else(badfmt)?,
                "announce-hostnames" => s.announce_hostnames = yn(&val).ok_or_else(badfmt)?,
                "announce-ip" => s.announce_ip = Some(val.clone()),
                "announce-port" => {
                    s.announce_port = val.parse::<u16>().map_err(|_| badfmt())?;
                }
                "sentinel-user" => {
                    s.sentinel_user = (!val.is_empty()).then(|| val.clone());
                    drop = true;
                }
                "sentinel-pass" => {
                    s.sentinel_pass = (!val.is_empty()).then(|| val.clone());
                    drop = true;
                }
                _ => return Err(ReplyError::err(format!("Invalid argument '{opt}' to SENTINEL CONFIG SET"))),
            }
            if drop {
                for mi in 0..s.masters.len() {
                    for i in 0..s.masters[mi].sentinels.len() {
                        link::close_instance(s, reactor, mi, Which::Sentinel(i));
                    }
                }
            }
            Ok(())
        });
        r?;
        return flush_and_reply(srv, c);
    }
    if sub == "get" && c.argc() == 4 {
        let pat = c.arg(3).to_vec();
        return run(srv, c, |s, _, _, c| {
            let items: [(&str, String); 6] = [
                ("resolve-hostnames", yes_no(s.resolve_hostnames).into()),
                ("announce-hostnames", yes_no(s.announce_hostnames).into()),
                ("announce-ip", s.announce_ip.clone().unwrap_or_default()),
                ("announce-port", s.announce_port.to_string()),
                ("sentinel-user", s.sentinel_user.clone().unwrap_or_default()),
                ("sentinel-pass", s.sentinel_pass.clone().unwrap_or_default()),
            ];
            let hits: Vec<_> =
                items.iter().filter(|(k, _)| crate::util::glob::string_match(&pat, k.as_bytes(), true)).collect();
            c.reply.map(hits.len());
            for (k, v) in hits {
                c.reply.bulk(k.as_bytes());
                c.reply.bulk(v.as_bytes());
            }
            Ok(())
        });
    }
    // COMPAT: sentinelCommand's CONFIG usage error.
    Err(ReplyError::err("Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported."))
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// SENTINEL INFO-CACHE [name ...].
pub fn info_cache(srv: &mut Server, c: &mut Client) -> CmdResult {
    let names: Vec<String> = (2..c.argc()).map(|i| arg(c, i)).collect();
    run(srv, c, |s, _, now, c| {
        let mut picked: Vec<usize> = Vec::new();
        if names.is_empty() {
            picked.extend(0..s.masters.len());
        } else {
            for n in &names {
                if let Some(mi) = s.master_idx(n) {
                    if !picked.contains(&mi) {
                        picked.push(mi);
                    }
                }
            }
        }
        c.reply.array(picked.len() * 2);
        for mi in picked {
            let m = &s.masters[mi];
            c.reply.bulk(m.ri.name.as_bytes());
            c.reply.array(m.replicas.len() + 1);
            for ri in std::iter::once(&m.ri).chain(m.replicas.iter()) {
                c.reply.array(2);
                c.reply.int(if m.ri.info_refresh != 0 { now - ri.info_refresh } else { 0 });
                match &ri.info {
                    Some(t) => c.reply.bulk(t.as_bytes()),
                    None => c.reply.null(),
                }
            }
        }
        Ok(())
    })
}

/// SENTINEL SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP].
pub fn simulate_failure(srv: &mut Server, c: &mut Client) -> CmdResult {
    let words: Vec<String> = (2..c.argc()).map(|i| arg(c, i).to_ascii_lowercase()).collect();
    run(srv, c, |s, _, _, c| {
        s.simfailure = 0;
        for w in &words {
            match w.as_str() {
                "crash-after-election" => {
                    s.simfailure |= super::SIM_CRASH_AFTER_ELECTION;
                    log::warn!("Failure simulation: this Sentinel will crash after being successfully elected as failover leader");
                }
                "crash-after-promotion" => {
                    s.simfailure |= super::SIM_CRASH_AFTER_PROMOTION;
                    log::warn!(
                        "Failure simulation: this Sentinel will crash after promoting the selected replica to master"
                    );
                }
                "help" => {
                    c.reply.array(2);
                    c.reply.bulk(b"crash-after-election");
                    c.reply.bulk(b"crash-after-promotion");
                    return Ok(());
                }
                _ => return Err(ReplyError::err("Unknown failure simulation specified")),
            }
        }
        c.reply.ok();
        Ok(())
    })
}

/// SENTINEL DEBUG [param value ...].
pub fn debug(srv: &mut Server, c: &mut Client) -> CmdResult {
    let argv: Vec<String> = (0..c.argc()).map(|i| arg(c, i)).collect();
    run(srv, c, |s, _, _, c| {
        let t = &mut s.timing;
        if argv.len() == 2 {
            let rows: [(&str, i64); 13] = [
                ("INFO-PERIOD", t.info_period),
                ("PING-PERIOD", t.ping_period),
                ("ASK-PERIOD", t.ask_period),
                ("PUBLISH-PERIOD", t.publish_period),
                ("DEFAULT-DOWN-AFTER", t.default_down_after),
                ("DEFAULT-FAILOVER-TIMEOUT", t.default_failover_timeout),
                ("TILT-TRIGGER", t.tilt_trigger),
                ("TILT-PERIOD", t.tilt_period),
                ("SLAVE-RECONF-TIMEOUT", t.slave_reconf_timeout),
                ("MIN-LINK-RECONNECT-PERIOD", t.min_link_reconnect_period),
                ("ELECTION-TIMEOUT", t.election_timeout),
                ("SCRIPT-MAX-RUNTIME", t.script_max_runtime),
                ("SCRIPT-RETRY-DELAY", t.script_retry_delay),
            ];
            c.reply.map(rows.len());
            for (k, v) in rows {
                c.reply.bulk(k.as_bytes());
                c.reply.bulk(v.to_string().as_bytes());
            }
            return Ok(());
        }
        let mut j = 2;
        while j < argv.len() {
            let opt = &argv[j];
            if j + 1 >= argv.len() {
                return Err(ReplyError::err(format!(
                    "Unknown option or number of arguments for SENTINEL DEBUG '{opt}'"
                )));
            }
            let slot = match opt.to_ascii_lowercase().as_str() {
                "info-period" => &mut t.info_period,
                "ping-period" => &mut t.ping_period,
                "ask-period" => &mut t.ask_period,
                "publish-period" => &mut t.publish_period,
                "default-down-after" => &mut t.default_down_after,
                "tilt-trigger" => &mut t.tilt_trigger,
                "tilt-period" => &mut t.tilt_period,
                "slave-reconf-timeout" => &mut t.slave_reconf_timeout,
                "min-link-reconnect-period" => &mut t.min_link_reconnect_period,
                "default-failover-timeout" => &mut t.default_failover_timeout,
                "election-timeout" => &mut t.election_timeout,
                "script-max-runtime" => &mut t.script_max_runtime,
                "script-retry-delay" => &mut t.script_retry_delay,
                _ => {
                    return Err(ReplyError::err(format!(
                        "Unknown option or number of arguments for SENTINEL DEBUG '{opt}'"
                    )))
                }
            };
            match argv[j + 1].parse::<i64>() {
                Ok(v) if v > 0 => *slot = v,
                _ => {
                    return Err(ReplyError::err(format!(
                        "Invalid argument '{}' for SENTINEL DEBUG '{opt}'",
                        argv[j + 1]
                    )))
                }
            }
            j += 2;
        }
        c.reply.ok();
        Ok(())
    })
}

/// INFO in Sentinel mode: the server, clients, cpu and stats sections plus `# Sentinel`.
pub fn info(srv: &mut Server, c: &mut Client) -> CmdResult {
    const ALLOWED: [&str; 5] = ["server", "clients", "cpu", "stats", "sentinel"];
    let asked: Vec<String> = c.argv[1..].iter().map(|a| String::from_utf8_lossy(a).to_lowercase()).collect();
    let all = asked.is_empty() || asked.iter().any(|a| matches!(a.as_str(), "all" | "everything" | "default"));
    let mut sections: Vec<String> = if all {
        ALLOWED[..4].iter().map(|s| s.to_string()).collect()
    } else {
        asked.iter().filter(|a| ALLOWED[..4].contains(&a.as_str())).cloned().collect()
    };
    let want_sentinel = all || asked.iter().any(|a| a == "sentinel");
    let mut text = if sections.is_empty() {
        String::new()
    } else {
        sections.dedup();
        crate::info::render(srv, c, &sections)
    };
    if want_sentinel {
        if let Some(s) = srv.sentinel.as_ref() {
            if !text.is_empty() {
                text.push_str("\r\n");
            }
            let now = crate::util::clock::unix_ms();
            text.push_str(&sentinel_section(s, now));
        }
    }
    c.reply.verbatim(text.as_bytes(), "txt");
    Ok(())
}

/// The `# Sentinel` INFO section.
pub fn sentinel_section(s: &Sentinel, now: i64) -> String {
    let mut t = String::new();
    t.push_str("# Sentinel\r\n");
    t.push_str(&format!("sentinel_masters:{}\r\n", s.masters.len()));
    t.push_str(&format!("sentinel_tilt:{}\r\n", s.tilt as u8));
    let since = if s.tilt { (now - s.tilt_start_time) / 1000 } else { -1 };
    t.push_str(&format!("sentinel_tilt_since_seconds:{since}\r\n"));
    t.push_str(&format!("sentinel_running_scripts:{}\r\n", s.scripts.running()));
    t.push_str(&format!("sentinel_scripts_queue_length:{}\r\n", s.scripts.jobs.len() - s.scripts.running()));
    t.push_str(&format!("sentinel_simulate_failure_flags:{}\r\n", s.simfailure));
    for (i, m) in s.masters.iter().enumerate() {
        let status = if m.ri.flags & flags::O_DOWN != 0 {
            "odown"
        } else if m.ri.flags & flags::S_DOWN != 0 {
            "sdown"
        } else {
            "ok"
        };
        t.push_str(&format!(
            "master{i}:name={},status={status},address={}:{},slaves={},sentinels={}\r\n",
            m.ri.name,
            s.announce(&m.ri.addr),
            m.ri.addr.port,
            m.replicas.len(),
            m.sentinels.len() + 1
        ));
    }
    t
}

/// ROLE in Sentinel mode: `sentinel` and the monitored master names.
pub fn role(srv: &mut Server, c: &mut Client) -> CmdResult {
    let names: Vec<String> =
        srv.sentinel.as_ref().map(|s| s.masters.iter().map(|m| m.ri.name.clone()).collect()).unwrap_or_default();
    c.reply.array(2);
    c.reply.bulk(b"sentinel");
    c.reply.array(names.len());
    for n in names {
        c.reply.bulk(n.as_bytes());
    }
    Ok(())
}

/// PUBLISH in Sentinel mode: only hello messages, which are processed.
pub fn publish(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.arg(1) != monitor::HELLO_CHANNEL.as_bytes() {
        // COMPAT: sentinelPublishCommand.
        return Err(ReplyError::err("Only HELLO messages are accepted by Sentinel instances."));
    }
    let hello = arg(c, 2);
    run(srv, c, |s, reactor, now, c| {
        monitor::process_hello(s, reactor, &hello, now);
        c.reply.int(1);
        Ok(())
    })
}
