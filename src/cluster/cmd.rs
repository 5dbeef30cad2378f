//! The CLUSTER command family, ASKING, READONLY and READWRITE.
//!
//! Handlers check and reply; changes to the node table go through
//! `Cluster`'s methods and mark nodes.conf for saving and the state for
//! recomputing before the loop sleeps, as Redis's clusterCommand does.

use super::wire::flags;
use super::{bus, conf, route, todo, Cluster, NodeId, SLOTS};
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::cmd::args;
use crate::server::Server;

pub(super) fn cluster(srv: &mut Server) -> Result<&mut Cluster, ReplyError> {
    // COMPAT: clusterCommand's error when cluster mode is off.
    srv.cluster.as_deref_mut().ok_or_else(|| ReplyError::err("This instance has cluster support disabled"))
}

pub(super) fn slot_arg(arg: &[u8]) -> Result<usize, ReplyError> {
    match crate::util::num::string2ll(arg) {
        Some(s) if (0..SLOTS as i64).contains(&s) => Ok(s as usize),
        // COMPAT: getSlotOrReply.
        _ => Err(ReplyError::err("Invalid or out of range slot")),
    }
}

fn node_arg(cl: &Cluster, arg: &[u8], unknown: &str) -> Result<NodeId, ReplyError> {
    cl.lookup(arg).ok_or_else(|| ReplyError::err(format!("{unknown} {}", String::from_utf8_lossy(arg))))
}

/// CLUSTER HELP.
pub fn help(srv: &mut Server, c: &mut Client) -> CmdResult {
    cluster(srv)?;
    crate::cmd::help_reply(
        c,
        "CLUSTER",
        &[
            "ADDSLOTS <slot> [<slot> ...]",
            "    Assign slots to current node.",
            "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Assign slots which are between <start-slot> and <end-slot> to current node.",
            "BUMPEPOCH",
            "    Advance the cluster config epoch.",
            "COUNT-FAILURE-REPORTS <node-id>",
            "    Return number of failure reports for <node-id>.",
            "COUNTKEYSINSLOT <slot>",
            "    Return the number of keys in <slot>.",
            "DELSLOTS <slot> [<slot> ...]",
            "    Delete slots information from current node.",
            "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
            "FAILOVER [FORCE|TAKEOVER]",
            "    Promote current replica node to being a master.",
            "FORGET <node-id>",
            "    Remove a node from the cluster.",
            "GETKEYSINSLOT <slot> <count>",
            "    Return key names stored by current node in a slot.",
            "FLUSHSLOTS",
            "    Delete current node own slots information.",
            "INFO",
            "    Return information about the cluster.",
            "KEYSLOT <key>",
            "    Return the hash slot for <key>.",
            "MIGRATION IMPORT <start-slot> <end-slot> [<start-slot> <end-slot> ...]",
            "    Atomically move the slot ranges from their owner to this node; returns a task id.",
            "MIGRATION CANCEL <ID <task-id>|ALL>",
            "    Cancel slot migration tasks.",
            "MIGRATION STATUS [ID <task-id>|ALL]",
            "    Show slot migration tasks.",
            "MEET <ip> <port> [<bus-port>]",
            "    Connect nodes into a working cluster.",
            "MYID",
            "    Return the node id.",
            "MYSHARDID",
            "    Return the node's shard id.",
            "NODES",
            "    Return cluster configuration seen by node. Output format:",
            "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
            "REPLICATE <node-id>",
            "    Configure current node as replica to <node-id>.",
            "RESET [HARD|SOFT]",
            "    Reset current node (default: soft).",
            "SET-CONFIG-EPOCH <epoch>",
            "    Set config epoch of current node.",
            "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
            "    Set slot state.",
            "REPLICAS <node-id>",
            "    Return <node-id> replicas.",
            "SAVECONFIG",
            "    Force saving cluster configuration on disk.",
            "SLOTS",
            "    Return information about slots range mappings. Each range is made of:",
            "    start, end, master and replicas IP addresses, ports and ids",
            "SLOT-STATS",
            "    Return an array of slot usage statistics for slots assigned to the current node.",
            "SHARDS",
            "    Return information about slot range mappings and the nodes associated with them.",
            "LINKS",
            "    Return information about all network links between this node and its peers.",
            "    Output format is an array where each array element is a map containing attributes of a link",
        ],
    );
    Ok(())
}

/// CLUSTER MYSHARDID (Redis 7.2): the shard id this node shares with its
/// master or replicas.
pub fn myshardid(srv: &mut Server, c: &mut Client) -> CmdResult {
    let cl = cluster(srv)?;
    c.reply.bulk(&cl.me().shard_id);
    Ok(())
}

/// CLUSTER MYID.
pub fn myid(srv: &mut Server, c: &mut Client) -> CmdResult {
    let cl = cluster(srv)?;
    c.reply.bulk(&cl.me().name);
    Ok(())
}

/// CLUSTER KEYSLOT key.
pub fn keyslot(srv: &mut Server, c: &mut Client) -> CmdResult {
    cluster(srv)?;
    c.reply.int(super::key_hash_slot(c.arg(2)) as i64);
    Ok(())
}

/// CLUSTER NODES.
pub fn nodes(srv: &mut Server, c: &mut Client) -> CmdResult {
    let cl = cluster(srv)?;
    let text = conf::nodes_text(cl, false);
    c.reply.verbatim(text.as_bytes(), "txt");
    Ok(())
}

/// CLUSTER INFO.
pub fn info(srv: &mut Server, c: &mut Client) -> CmdResult {
    let cl = cluster(srv)?;
    let text = info_text(cl);
    c.reply.verbatim(text.as_bytes(), "txt");
    Ok(())
}

/// The text of CLUSTER INFO.
pub fn info_text(cl: &Cluster) -> String {
    let (mut assigned, mut ok, mut pfail, mut fail) = (0, 0, 0, 0);
    for owner in cl.slots.iter().flatten() {
        assigned += 1;
        let n = &cl.nodes[*owner];
        if n.is(flags::FAIL) {
            fail += 1;
        } else if n.is(flags::PFAIL) {
            pfail += 1;
        } else {
            ok += 1;
        }
    }
    let mut s = format!(
        "cluster_state:{}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{ok}\r\ncluster_slots_pfail:{pfail}\r\ncluster_slots_fail:{fail}\r\ncluster_known_nodes:{}\r\ncluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{}\r\n",
        if cl.ok { "ok" } else { "fail" },
        cl.nodes.len(),
        cl.size,
        cl.current_epoch,
        cl.effective_epoch(cl.myself),
    );
    for (dir, counts) in [("sent", &cl.sent), ("received", &cl.received)] {
        let mut total = 0;
        for (t, &n) in counts.iter().enumerate() {
            if n != 0 {
                s.push_str(&format!("cluster_stats_messages_{}_{dir}:{n}\r\n", bus::type_name(t)));
                total += n;
            }
        }
        s.push_str(&format!("cluster_stats_messages_{dir}:{total}\r\n"));
    }
    s.push_str(&format!("total_cluster_links_buffer_limit_exceeded:{}\r\n", cl.links_limit_exceeded));
    s
}

/// One node of CLUSTER SLOTS / SHARDS: endpoint, port, id, metadata.
fn node_entry(srv: &Server, c: &mut Client, id: NodeId) {
    use crate::config::ClusterEndpointType as E;
    let cl = srv.cluster.as_ref().expect("cluster mode");
    let n = &cl.nodes[id];
    let ep = srv.config.cluster_preferred_endpoint_type;
    c.reply.array(4);
    match ep {
        E::Ip => c.reply.bulk(n.ip.as_bytes()),
        E::Hostname => c.reply.bulk(if n.hostname.is_empty() { b"?" } else { n.hostname.as_bytes() }),
        E::UnknownEndpoint => c.reply.null(),
    }
    c.reply.int(n.port as i64);
    c.reply.bulk(&n.name);
    let with_ip = ep != E::Ip;
    let with_host = ep != E::Hostname && !n.hostname.is_empty();
    c.reply.map(with_ip as usize + with_host as usize);
    if with_ip {
        c.reply.bulk(b"ip");
        c.reply.bulk(n.ip.as_bytes());
    }
    if with_host {
        c.reply.bulk(b"hostname");
        c.reply.bulk(n.hostname.as_bytes());
    }
}

/// A replica clients may be sent to (Redis's isReplicaAvailable): not
/// failing, and with a replication offset (0 while it loads a snapshot, or
/// before its master's stream carried anything, as in Redis).
fn replica_available(srv: &Server, cl: &Cluster, id: NodeId) -> bool {
    !cl.nodes[id].is(flags::FAIL) && node_offset(srv, cl, id) != 0
}

/// CLUSTER SLOTS.
pub fn slots(srv: &mut Server, c: &mut Client) -> CmdResult {
    cluster(srv)?;
    let cl = srv.cluster.as_deref().expect("cluster mode");
    let mut ranges: Vec<(usize, usize, NodeId)> = Vec::new();
    for s in 0..SLOTS {
        if let Some(owner) = cl.slots[s] {
            match ranges.last_mut() {
                Some(last) if last.2 == owner && last.1 + 1 == s => last.1 = s,
                _ => ranges.push((s, s, owner)),
            }
        }
    }
    let replicas: Vec<Vec<NodeId>> = ranges
        .iter()
        .map(|r| cl.nodes[r.2].replicas.iter().copied().filter(|&id| replica_available(srv, cl, id)).collect())
        .collect();
    c.reply.array(ranges.len());
    for ((a, b, owner), reps) in ranges.into_iter().zip(replicas) {
        c.reply.array(3 + reps.len());
        c.reply.int(a as i64);
        c.reply.int(b as i64);
        node_entry(srv, c, owner);
        for r in reps {
            node_entry(srv, c, r);
        }
    }
    Ok(())
}

/// CLUSTER SHARDS.
pub fn shards(srv: &mut Server, c: &mut Client) -> CmdResult {
    let cl = cluster(srv)?;
    let masters: Vec<NodeId> = cl.nodes.iter().filter(|(_, n)| n.is_master()).map(|(id, _)| id).collect();
    let tls = srv.config.tls_cluster;
    let cl = srv.cluster.as_ref().expect("cluster mode");
    c.reply.array(masters.len());
    for m in masters {
        c.reply.map(2);
        c.reply.bulk(b"slots");
        let ranges = cl.slot_ranges(m);
        c.reply.array(ranges.len() * 2);
        for (a, b) in ranges {
            c.reply.int(a as i64);
            c.reply.int(b as i64);
        }
        c.reply.bulk(b"nodes");
        let mut members = vec![m];
        members.extend(cl.nodes[m].replicas.iter().copied());
        c.reply.array(members.len());
        for id in members {
            let n = &cl.nodes[id];
            let mut fields: Vec<(&str, Field)> = vec![("id", Field::Text(n.name_str().to_string()))];
            fields.push((if tls { "tls-port" } else { "port" }, Field::Int(n.port as i64)));
            fields.push(("ip", Field::Text(n.ip.clone())));
            fields.push(("endpoint", Field::Text(super::preferred_endpoint(srv, n))));
            if !n.hostname.is_empty() {
                fields.push(("hostname", Field::Text(n.hostname.clone())));
            }
            fields.push(("role", Field::Text(if n.is_replica() { "replica" } else { "master" }.to_string())));
            let offset = node_offset(srv, cl, id);
            fields.push(("replication-offset", Field::Int(offset as i64)));
            let health = if n.is(flags::FAIL) {
                "fail"
            } else if n.is_replica() && offset == 0 {
                "loading"
            } else {
                "online"
            };
            fields.push(("health", Field::Text(health.to_string())));
            c.reply.map(fields.len());
            for (k, v) in fields {
                c.reply.bulk(k.as_bytes());
                match v {
                    Field::Text(t) => c.reply.bulk(t.as_bytes()),
                    Field::Int(i) => c.reply.int(i),
                }
            }
        }
    }
    Ok(())
}

enum Field {
    Text(String),
    Int(i64),
}

/// The replication offset shown for a node: ours from the replication
/// state, others' from their messages.
fn node_offset(srv: &Server, cl: &Cluster, id: NodeId) -> u64 {
    if id == cl.myself {
        super::my_repl_offset(srv)
    } else {
        cl.nodes[id].repl_offset
    }
}

/// CLUSTER ADDSLOTS / DELSLOTS / ADDSLOTSRANGE / DELSLOTSRANGE.
fn update_slots(srv: &mut Server, c: &mut Client, del: bool, ranges: bool) -> CmdResult {
    let cl = cluster(srv)?;
    let mut wanted = vec![false; SLOTS];
    let mut spans = Vec::new();
    if ranges {
        if c.argc() % 2 == 1 {
            return Err(ReplyError::WrongArity(
                if del { "cluster|delslotsrange" } else { "cluster|addslotsrange" }.into(),
            ));
        }
        for i in (2..c.argc()).step_by(2) {
            let a = slot_arg(c.arg(i))?;
            let b = slot_arg(c.arg(i + 1))?;
            if a > b {
                return Err(ReplyError::err(format!("start slot number {a} is greater than end slot number {b}")));
            }
            spans.push((a, b));
        }
    } else {
        for i in 2..c.argc() {
            let s = slot_arg(c.arg(i))?;
            spans.push((s, s));
        }
    }
    for (a, b) in spans {
        for s in a..=b {
            // COMPAT: checkSlotAssignmentsOrReply.
            if del && cl.slots[s].is_none() {
                return Err(ReplyError::err(format!("Slot {s} is already unassigned")));
            }
            if !del && cl.slots[s].is_some() {
                return Err(ReplyError::err(format!("Slot {s} is already busy")));
            }
            if wanted[s] {
                return Err(ReplyError::err(format!("Slot {s} specified multiple times")));
            }
            wanted[s] = true;
        }
    }
    let me = cl.myself;
    for s in (0..SLOTS).filter(|&s| wanted[s]) {
        if del {
            cl.del_slot(s);
        } else {
            cl.importing_from[s] = None;
            cl.add_slot(me, s);
        }
    }
    cl.todo |= todo::UPDATE_STATE;
    cl.save_later(false);
    c.reply.ok();
    Ok(())
}

/// CLUSTER ADDSLOTS slot...
pub fn addslots(srv: &mut Server, c: &mut Client) -> CmdResult {
    update_slots(srv, c, false, false)
}

/// CLUSTER DELSLOTS slot...
pub fn delslots(srv: &mut Server, c: &mut Client) -> CmdResult {
    update_slots(srv, c, true, false)
}

/// CLUSTER ADDSLOTSRANGE start end...
pub fn addslotsrange(srv: &mut Server, c: &mut Client) -> CmdResult {
    update_slots(srv, c, false, true)
}

/// CLUSTER DELSLOTSRANGE start end...
pub fn delslotsrange(srv: &mut Server, c: &mut Client) -> CmdResult {
    update_slots(srv, c, true, true)
}

/// CLUSTER FLUSHSLOTS.
pub fn flushslots(srv: &mut Server, c: &mut Client) -> CmdResult {
    cluster(srv)?;
    if srv.ks.db_size(0) != 0 {
        // COMPAT: the FLUSHSLOTS error.
        return Err(ReplyError::err("DB must be empty to perform CLUSTER FLUSHSLOTS."));
    }
    let cl = cluster(srv)?;
    let me = cl.myself;
    cl.del_node_slots(me);
    cl.todo |= todo::UPDATE_STATE;
    cl.save_later(false);
    c.reply.ok();
    Ok(())
}

/// CLUSTER SETSLOT slot IMPORTING|MIGRATING|STABLE|NODE [node].
pub fn setslot(srv: &mut Server, c: &mut Client) -> CmdResult {
    let cl = cluster(srv)?;
    if cl.me().is_replica() {
        return Err(ReplyError::err("Please use SETSLOT only with masters."));
    }
    let slot = slot_arg(c.arg(2))?;
    let me = cl.myself;
    let action = c.arg(3).to_ascii_lowercase();
    match (action.as_slice(), c.argc()) {
        (b"migrating", 5) => {
            if cl.slots[slot] != Some(me) {
                return Err(ReplyError::err(format!("I'm not the owner of hash slot {slot}")));
            }
            let n = node_arg(cl, c.arg(4), "I don't know about node")?;
            if cl.nodes[n].is_replica() {
                return Err(ReplyError::err("Target node is not a master"));
            }
            cl.migrating_to[slot] = Some(n);
        }
        (b"importing", 5) => {
            if cl.slots[slot] == Some(me) {
                return Err(ReplyError::err(format!("I'm already the owner of hash slot {slot}")));
            }
            let n = node_arg(cl, c.arg(4), "I don't know about node")?;
            if cl.nodes[n].is_replica() {
                return Err(ReplyError::err("Target node is not a master"));
            }
            cl.importing_from[slot] = Some(n);
        }
        (b"stable", 4) => {
            cl.importing_from[slot] = None;
            cl.migrating_to[slot] = None;
        }
        (b"node", 5) => {
            let n = node_arg(cl, c.arg(4), "Unknown node")?;
            if cl.nodes[n].is_replica() {
                return Err(ReplyError::err("Target node is not a master"));
            }
            let keys = route::count_keys_in_slot(&srv.ks, slot);
            let cl = cluster(srv)?;
            if cl.slots[slot] == Some(me) && n != me && keys != 0 {
                return Err(ReplyError::err(format!(
                    "Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
                )));
            }
            if keys == 0 {
                cl.migrating_to[slot] = None;
            }
            let was_mine = cl.slots[slot] == Some(me);
            cl.del_slot(slot);
            cl.add_slot(n, slot);
            let replica_migration = srv.config.cluster_allow_replica_migration;
            let cl = cluster(srv)?;
            if was_mine && n != me && cl.me().numslots == 0 && replica_migration {
                log::warn!(
                    "Configuration change detected. Reconfiguring myself as a replica of {}",
                    cl.nodes[n].name_str()
                );
                set_master(srv, n);
                let cl = cluster(srv)?;
                cl.save_later(true);
            }
            let cl = cluster(srv)?;
            if n == me && cl.importing_from[slot].is_some() {
                if bump_epoch_without_consensus(cl) {
                    log::warn!("configEpoch updated after importing slot {slot}");
                }
                cl.importing_from[slot] = None;
                bus::broadcast_pong(srv, bus::Target::All);
            }
        }
        _ => {
            return Err(ReplyError::err("Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP"));
        }
    }
    let cl = cluster(srv)?;
    cl.todo |= todo::UPDATE_STATE;
    cl.save_later(false);
    c.reply.ok();
    Ok(())
}

/// Takes a new config epoch without asking anyone, if ours is not already
/// the unique greatest one (clusterBumpConfigEpochWithoutConsensus).
pub fn bump_epoch_without_consensus(cl: &mut Cluster) -> bool {
    let max = cl.nodes.iter().map(|(_, n)| n.config_epoch).max().unwrap_or(0);
    let mine = cl.me().config_epoch;
    let unique_max = mine == max && cl.nodes.iter().filter(|(_, n)| n.config_epoch == max).count() == 1;
    if mine == 0 || !unique_max {
        cl.current_epoch += 1;
        let e = cl.current_epoch;
        cl.me_mut().config_epoch = e;
        cl.save_later(true);
        log::warn!("New configEpoch set to {e}");
        true
    } else {
        false
    }
}

/// CLUSTER BUMPEPOCH.
pub fn bumpepoch(srv: &mut Server, c: &mut Client) -> CmdResult {
    let cl = cluster(srv)?;
    let bumped = bump_epoch_without_consensus(cl);
    let e = cl.me().config_epoch;
    c.reply.simple(&format!("{} {e}", if bumped { "BUMPED" } else { "STILL" }));
    Ok(())
}

/// CLUSTER SET-CONFIG-EPOCH epoch.
pub fn set_config_epoch(srv: &mut Server, c: &mut Client) -> CmdResult {
    let cl = cluster(srv)?;
    let epoch = args::int(c.arg(2))?;
    if epoch < 0 {
        return Err(ReplyError::err(format!("Invalid config epoch specified: {epoch}")));
    }
    if cl.nodes.len() > 1 {
        return Err(ReplyError::err(
            "The user can assign a config epoch only when the node does not know any other node.",
        ));
    }
    if cl.me().config_epoch != 0 {
        return Err(ReplyError::err("Node config epoch is already non-zero"));
    }
    cl.me_mut().config_epoch = epoch as u64;
    log::warn!("configEpoch set to {epoch} via CLUSTER SET-CONFIG-EPOCH");
    cl.current_epoch = cl.current_epoch.max(epoch as u64);
    cl.todo |= todo::UPDATE_STATE;
    cl.save_later(false);
    c.reply.ok();
    Ok(())
}

/// CLUSTER COUNTKEYSINSLOT slot.
pub fn countkeysinslot(srv: &mut Server, c: &mut Client) -> CmdResult {
    cluster(srv)?;
    let slot = args::int(c.arg(2))?;
    if !(0..SLOTS as i64).contains(&slot) {
        return Err(ReplyError::err("Invalid slot"));
    }
    c.reply.int(route::count_keys_in_slot(&srv.ks, slot as usize) as i64);
    Ok(())
}

/// CLUSTER GETKEYSINSLOT slot count.
pub fn getkeysinslot(srv: &mut Server, c: &mut Client) -> CmdResult {
    cluster(srv)?;
    let slot = args::int(c.arg(2))?;
    let max = args::int(c.arg(3))?;
    if !(0..SLOTS as i64).contains(&slot) || max < 0 {
        return Err(ReplyError::err("Invalid slot or number of keys"));
    }
    let keys = route::keys_in_slot(&srv.ks, slot as usize, max as usize);
    c.reply.array(keys.len());
    for k in keys {
        c.reply.bulk(&k);
    }
    Ok(())
}

/// CLUSTER MEET ip port [bus-port].
pub fn meet(srv: &mut Server, c: &mut Client) -> CmdResult {
    cluster(srv)?;
    if c.argc() > 5 {
        return Err(ReplyError::WrongArity("cluster|meet".into()));
    }
    let port = crate::util::num::string2ll(c.arg(3)).ok_or_else(|| {
        ReplyError::err(format!("Invalid TCP base port specified: {}", String::from_utf8_lossy(c.arg(3))))
    })?;
    let cport = if c.argc() == 5 {
        crate::util::num::string2ll(c.arg(4)).ok_or_else(|| {
            ReplyError::err(format!("Invalid TCP bus port specified: {}", String::from_utf8_lossy(c.arg(4))))
        })?
    } else {
        port + 10000
    };
    let ip = String::from_utf8_lossy(c.arg(2)).into_owned();
    if !bus::start_handshake(srv, &ip, port, cport) {
        return Err(ReplyError::err(format!(
            "Invalid node address specified: {ip}:{}",
            String::from_utf8_lossy(c.arg(3))
        )));
    }
    c.reply.ok();
    Ok(())
}

/// CLUSTER FORGET node.
pub fn forget(srv: &mut Server, c: &mut Client) -> CmdResult {
    let cl = cluster(srv)?;
    let n = node_arg(cl, c.arg(2), "Unknown node")?;
    if n == cl.myself {
        return Err(ReplyError::err("I tried hard but I can't forget myself..."));
    }
    if cl.me().is_replica() && cl.me().replica_of == Some(n) {
        return Err(ReplyError::err("Can't forget my master!"));
    }
    let until = srv.clock.now_ms + super::BLACKLIST_TTL_MS;
    let cl = cluster(srv)?;
    cl.blacklist.insert(cl.nodes[n].name, until);
    bus::del_node(srv, n);
    let cl = cluster(srv)?;
    cl.todo |= todo::UPDATE_STATE;
    cl.save_later(false);
    c.reply.ok();
    Ok(())
}

/// Makes this node a replica of `master` (clusterSetMaster).
pub fn set_master(srv: &mut Server, master: NodeId) {
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    let me = cl.myself;
    if cl.me().is_master() {
        for s in 0..SLOTS {
            cl.migrating_to[s] = None;
            cl.importing_from[s] = None;
        }
    }
    cl.set_replica_of(me, master);
    let (ip, port) = (cl.nodes[master].ip.clone(), cl.nodes[master].port);
    crate::repl::replica::set_master(srv, ip, port);
}

/// CLUSTER REPLICATE node.
pub fn replicate(srv: &mut Server, c: &mut Client) -> CmdResult {
    let keys = srv.ks.db_size(0);
    let cl = cluster(srv)?;
    let n = node_arg(cl, c.arg(2), "Unknown node")?;
    if n == cl.myself {
        return Err(ReplyError::err("Can't replicate myself"));
    }
    if cl.nodes[n].is_replica() {
        return Err(ReplyError::err("I can only replicate a master, not a replica."));
    }
    if cl.me().is_master() && (cl.me().numslots != 0 || keys != 0) {
        return Err(ReplyError::err("To set a master the node must be empty and without assigned slots."));
    }
    set_master(srv, n);
    let cl = cluster(srv)?;
    cl.todo |= todo::UPDATE_STATE;
    cl.save_later(false);
    c.reply.ok();
    Ok(())
}

/// CLUSTER REPLICAS / SLAVES node.
pub fn replicas(srv: &mut Server, c: &mut Client) -> CmdResult {
    let cl = cluster(srv)?;
    let n = node_arg(cl, c.arg(2), "Unknown node")?;
    if cl.nodes[n].is_replica() {
        return Err(ReplyError::err("The specified node is not a master"));
    }
    let lines: Vec<String> = cl.nodes[n].replicas.iter().map(|&r| conf::node_line(cl, r)).collect();
    c.reply.array(lines.len());
    for l in lines {
        c.reply.bulk(l.as_bytes());
    }
    Ok(())
}

/// CLUSTER COUNT-FAILURE-REPORTS node.
pub fn count_failure_reports(srv: &mut Server, c: &mut Client) -> CmdResult {
    let now = srv.clock.now_ms;
    let timeout = srv.config.cluster_node_timeout;
    let cl = cluster(srv)?;
    let n = node_arg(cl, c.arg(2), "Unknown node")?;
    c.reply.int(cl.fail_report_count(n, now, timeout) as i64);
    Ok(())
}

/// CLUSTER SAVECONFIG.
pub fn saveconfig(srv: &mut Server, c: &mut Client) -> CmdResult {
    cluster(srv)?;
    match conf::save(srv, true) {
        Ok(()) => {
            c.reply.ok();
            Ok(())
        }
        Err(e) => Err(ReplyError::err(format!("error saving the cluster node config: {e}"))),
    }
}

/// CLUSTER RESET [HARD|SOFT].
pub fn reset(srv: &mut Server, c: &mut Client) -> CmdResult {
    cluster(srv)?;
    let hard = match c.argc() {
        2 => false,
        3 if args::is(c.arg(2), "hard") => true,
        3 if args::is(c.arg(2), "soft") => false,
        3 => return Err(ReplyError::Syntax),
        _ => return Err(ReplyError::WrongArity("cluster|reset".into())),
    };
    let is_master = srv.cluster.as_ref().is_some_and(|cl| cl.me().is_master());
    if is_master && srv.ks.db_size(c.db) != 0 {
        return Err(ReplyError::err("CLUSTER RESET can't be called with master nodes containing keys"));
    }
    reset_node(srv, hard);
    c.reply.ok();
    Ok(())
}

/// clusterReset: forget every other node, drop all slots; HARD also zeroes
/// the epochs and takes a new name.
pub fn reset_node(srv: &mut Server, hard: bool) {
    let was_replica = srv.cluster.as_ref().is_some_and(|cl| cl.me().is_replica());
    if was_replica {
        if let Some(cl) = srv.cluster.as_deref_mut() {
            let me = cl.myself;
            if let Some(m) = cl.nodes[me].replica_of.take() {
                cl.remove_replica(m, me);
            }
            let n = cl.me_mut();
            n.flags = (n.flags & !flags::SLAVE) | flags::MASTER;
        }
        crate::repl::replica::unset_master(srv);
        for db in 0..srv.ks.dbs.len() {
            srv.ks.flush_db(db);
        }
    }
    let others: Vec<NodeId> = match srv.cluster.as_deref_mut() {
        Some(cl) => {
            for s in 0..SLOTS {
                cl.migrating_to[s] = None;
                cl.importing_from[s] = None;
                cl.del_slot(s);
            }
            let me = cl.myself;
            cl.nodes.iter().map(|(id, _)| id).filter(|&id| id != me).collect()
        }
        None => return,
    };
    for id in others {
        bus::del_node(srv, id);
    }
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    if hard {
        cl.current_epoch = 0;
        cl.last_vote_epoch = 0;
        cl.me_mut().config_epoch = 0;
        let me = cl.myself;
        let name = super::random_name();
        cl.rename_node(me, name);
        // A new identity starts a new shard too (Redis 7.2).
        cl.me_mut().shard_id = super::random_name();
        log::info!("Node hard reset, now I'm {}", cl.me().name_str());
    }
    cl.todo |= todo::UPDATE_STATE;
    cl.save_later(true);
}

/// CLUSTER LINKS.
pub fn links(srv: &mut Server, c: &mut Client) -> CmdResult {
    cluster(srv)?;
    bus::links_reply(srv, c);
    Ok(())
}

/// CLUSTER FAILOVER [FORCE|TAKEOVER].
pub fn failover(srv: &mut Server, c: &mut Client) -> CmdResult {
    let cl = cluster(srv)?;
    if c.argc() > 3 {
        return Err(ReplyError::WrongArity("cluster|failover".into()));
    }
    if c.argc() == 3 && !args::is(c.arg(2), "force") && !args::is(c.arg(2), "takeover") {
        return Err(ReplyError::Syntax);
    }
    if cl.me().is_master() {
        return Err(ReplyError::err("You should send CLUSTER FAILOVER to a replica"));
    }
    let Some(master) = cl.me().replica_of else {
        return Err(ReplyError::err("I'm a replica but my master is unknown to me"));
    };
    let takeover = c.argc() == 3 && args::is(c.arg(2), "takeover");
    let force = takeover || (c.argc() == 3 && args::is(c.arg(2), "force"));
    let m = &cl.nodes[master];
    if !force && (m.is(flags::FAIL) || m.link.is_none()) {
        return Err(ReplyError::err("Master is down or failed, please use CLUSTER FAILOVER FORCE"));
    }
    super::failover::start_manual(srv, force, takeover);
    c.reply.ok();
    Ok(())
}

/// ASKING.
pub fn asking(srv: &mut Server, c: &mut Client) -> CmdResult {
    if srv.cluster.is_none() {
        // COMPAT: askingCommand.
        return Err(ReplyError::err("This instance has cluster support disabled"));
    }
    c.flags.asking = true;
    c.reply.ok();
    Ok(())
}

/// READONLY.
pub fn readonly(srv: &mut Server, c: &mut Client) -> CmdResult {
    if srv.cluster.is_none() {
        return Err(ReplyError::err("This instance has cluster support disabled"));
    }
    c.flags.readonly = true;
    c.reply.ok();
    Ok(())
}

/// READWRITE.
pub fn readwrite(srv: &mut Server, c: &mut Client) -> CmdResult {
    if srv.cluster.is_none() {
        return Err(ReplyError::err("This instance has cluster support disabled"));
    }
    c.flags.readonly = false;
    c.reply.ok();
    Ok(())
}

/// The cluster subcommands of DEBUG: DROP-CLUSTER-PACKET-FILTER <type>
/// (incoming bus messages of that type are dropped, -1 for none) and
/// CLUSTERLINK KILL <to|from|all> <node-id> (closes our links with a node).
pub fn debug(srv: &mut Server, c: &mut Client) -> CmdResult {
    if args::is(c.arg(1), "drop-cluster-packet-filter") {
        let t = args::int(c.arg(2))?;
        if let Some(cl) = srv.cluster.as_deref_mut() {
            cl.bus.drop_filter = t;
        }
        c.reply.ok();
        return Ok(());
    }
    if !args::is(c.arg(2), "kill") {
        return Err(ReplyError::Syntax);
    }
    let Some(cl) = srv.cluster.as_deref_mut() else {
        // COMPAT: debugCommand's error.
        return Err(ReplyError::err("Debug option only available for cluster mode enabled setup!"));
    };
    let Some(id) = cl.lookup(c.arg(4)) else {
        return Err(ReplyError::err(format!("Unknown node {}", String::from_utf8_lossy(c.arg(4)))));
    };
    let n = &cl.nodes[id];
    let dir = c.arg(3);
    let links = if args::is(dir, "from") {
        vec![n.inbound_link]
    } else if args::is(dir, "to") {
        vec![n.link]
    } else if args::is(dir, "all") {
        vec![n.link, n.inbound_link]
    } else {
        return Err(ReplyError::err(format!("Unknown direction {}", String::from_utf8_lossy(dir))));
    };
    for k in links.into_iter().flatten() {
        bus::free_link(srv, k);
    }
    c.reply.ok();
    Ok(())
}
