//! Redis Cluster: the node table, slot ownership, epochs and the cluster
//! state, as Redis 7.0's cluster.c keeps them.
//!
//! `Cluster` is owned by the server (`srv.cluster`, present only with
//! `cluster-enabled yes`). Nodes live in a slab; a `NodeId` is a slab key and
//! is valid until `del_node` removes the node (which clears every reference
//! to it: slots, migration marks, replica lists, failure reports, links).
//! The bus (`bus`), the commands (`cmd`), routing (`route`) and nodes.conf
//! (`conf`) all work through the methods here, so the invariants between
//! `slots`, each node's bitmap and `numslots` live in one place.

pub mod bus;
pub mod cmd;
pub mod conf;
pub mod failover;
pub mod migration;
pub mod route;
pub mod slot;
pub mod slot_stats;
pub mod wire;

use std::collections::HashMap;
use std::path::PathBuf;

use slab::Slab;

use crate::server::Server;
use wire::{flags, Name, SlotBits};

pub use slot::{key_hash_slot, SLOTS};

/// A node's key in the node slab.
pub type NodeId = usize;

/// How long a forgotten node is not re-added from gossip (CLUSTER FORGET).
pub const BLACKLIST_TTL_MS: i64 = 60_000;
/// After a restart a master waits this long before declaring the cluster ok
/// (it may be behind on the configuration).
const WRITABLE_DELAY_MS: i64 = 2000;
/// Failure reports older than node-timeout times this are ignored.
pub const FAIL_REPORT_VALIDITY_MULT: i64 = 2;

/// One known node (myself included).
#[derive(Debug, Clone)]
pub struct Node {
    /// 40 hex characters.
    pub name: Name,
    /// `wire::flags` bits.
    pub flags: u16,
    /// The epoch of its slot configuration.
    pub config_epoch: u64,
    /// Slots it claims.
    pub slots: Box<SlotBits>,
    /// Number of bits set in `slots`.
    pub numslots: u32,
    /// Its master, when it is a replica.
    pub replica_of: Option<NodeId>,
    /// Its replicas, when it is a master.
    pub replicas: Vec<NodeId>,
    /// When this node entry was created (Unix ms).
    pub ctime: i64,
    /// When we sent the PING still unanswered (0: none pending).
    pub ping_sent: i64,
    /// When its last PONG arrived.
    pub pong_received: i64,
    /// When anything last arrived from it.
    pub data_received: i64,
    /// When it was flagged FAIL.
    pub fail_time: i64,
    /// When we last voted for one of its replicas.
    pub voted_time: i64,
    /// When `repl_offset` was learnt.
    pub repl_offset_time: i64,
    /// Since when it is a master without working replicas (0: it is not).
    pub orphaned_time: i64,
    /// Its replication offset, from its messages.
    pub repl_offset: u64,
    /// Address for clients and the bus; empty while unknown.
    pub ip: String,
    /// Announced hostname, may be empty.
    pub hostname: String,
    /// Client port.
    pub port: u16,
    /// Plaintext client port (TLS setups), else 0.
    pub pport: u16,
    /// Bus port.
    pub cport: u16,
    /// Our outbound bus link to it.
    pub link: Option<usize>,
    /// The bus link it opened to us.
    pub inbound_link: Option<usize>,
    /// Masters that reported it failing: (reporter, when).
    pub fail_reports: Vec<(NodeId, i64)>,
    /// Its shard's id (Redis 7.2's shard_id): random for a new node, a
    /// master's for its replicas, learnt from the 7.2 ping extension.
    pub shard_id: Name,
    /// Whether its pings carry the shard-id extension: unknown until one
    /// arrives. Only nodes known not to (Redis 7.0, which logs every
    /// extension it does not know) are sent ours without it.
    pub sends_shard_id: Option<bool>,
}

impl Node {
    /// A node entry with no address and no slots.
    pub fn new(name: Name, flags: u16, now_ms: i64) -> Node {
        Node {
            name,
            flags,
            config_epoch: 0,
            slots: Box::new([0; 2048]),
            numslots: 0,
            replica_of: None,
            replicas: Vec::new(),
            ctime: now_ms,
            ping_sent: 0,
            pong_received: 0,
            data_received: 0,
            fail_time: 0,
            voted_time: 0,
            repl_offset_time: 0,
            orphaned_time: 0,
            repl_offset: 0,
            ip: String::new(),
            hostname: String::new(),
            port: 0,
            pport: 0,
            cport: 0,
            link: None,
            inbound_link: None,
            fail_reports: Vec::new(),
            shard_id: random_name(),
            sends_shard_id: None,
        }
    }

    /// Name as text.
    pub fn name_str(&self) -> &str {
        std::str::from_utf8(&self.name).unwrap_or("?")
    }

    /// Flag tests.
    pub fn is(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }

    /// A master (by flag).
    pub fn is_master(&self) -> bool {
        self.is(flags::MASTER)
    }

    /// A replica (by flag).
    pub fn is_replica(&self) -> bool {
        self.is(flags::SLAVE)
    }

    /// Whether it claims `slot`.
    pub fn has_slot(&self, slot: usize) -> bool {
        self.slots[slot >> 3] & (1 << (slot & 7)) != 0
    }
}

/// Things to do before the loop sleeps.
pub mod todo {
    pub const UPDATE_STATE: u8 = 1;
    pub const SAVE_CONFIG: u8 = 2;
    pub const FSYNC_CONFIG: u8 = 4;
    pub const HANDLE_FAILOVER: u8 = 8;
}

/// The whole cluster view of this node.
pub struct Cluster {
    /// This node.
    pub myself: NodeId,
    /// Every known node.
    pub nodes: Slab<Node>,
    /// Name to node.
    pub by_name: HashMap<Name, NodeId>,
    /// The greatest epoch seen.
    pub current_epoch: u64,
    /// The epoch we last voted in.
    pub last_vote_epoch: u64,
    /// `cluster_state:ok`.
    pub ok: bool,
    /// Masters serving at least one slot.
    pub size: usize,
    /// Owner of each slot.
    pub slots: Vec<Option<NodeId>>,
    /// CLUSTER SETSLOT MIGRATING marks.
    pub migrating_to: Vec<Option<NodeId>>,
    /// CLUSTER SETSLOT IMPORTING marks.
    pub importing_from: Vec<Option<NodeId>>,
    /// Forgotten nodes and until when they stay forgotten.
    pub blacklist: HashMap<Name, i64>,
    /// `todo::` bits for before-sleep.
    pub todo: u8,
    /// Bus messages sent, by type.
    pub sent: [u64; 11],
    /// Bus messages received, by type.
    pub received: [u64; 11],
    /// Links dropped for exceeding cluster-link-sendbuf-limit.
    pub links_limit_exceeded: u64,
    /// nodes.conf path (as configured, relative to `dir`).
    pub config_path: PathBuf,
    /// The lock held on nodes.conf.
    pub lock: Option<std::fs::File>,
    /// The sidecar copy of nodes.conf (see conf.rs), opened at the first save.
    pub shadow: Option<std::fs::File>,
    /// When the state was first computed (restart grace for masters).
    pub first_state_ms: i64,
    /// When we last saw ourselves in a minority partition.
    pub among_minority_ms: i64,
    /// The bus: listeners and links.
    pub bus: bus::Bus,
    /// Elections and manual failover.
    pub election: failover::Election,
    /// Slots this shard stopped serving: their shard channels are dropped
    /// before the loop sleeps.
    pub dropped_slots: Vec<usize>,
    /// Per-slot usage counters (CLUSTER SLOT-STATS).
    pub slot_stats: slot_stats::SlotStats,
    /// Atomic slot migration tasks (CLUSTER MIGRATION).
    pub migration: migration::Migrations,
}

impl Cluster {
    /// A fresh cluster of one master with a new random name.
    pub fn new(config_path: PathBuf, now_ms: i64) -> Cluster {
        let mut c = Cluster {
            myself: 0,
            nodes: Slab::new(),
            by_name: HashMap::new(),
            current_epoch: 0,
            last_vote_epoch: 0,
            ok: false,
            size: 0,
            slots: vec![None; SLOTS],
            migrating_to: vec![None; SLOTS],
            importing_from: vec![None; SLOTS],
            blacklist: HashMap::new(),
            todo: 0,
            sent: [0; 11],
            received: [0; 11],
            links_limit_exceeded: 0,
            config_path,
            lock: None,
            shadow: None,
            first_state_ms: 0,
            among_minority_ms: 0,
            bus: bus::Bus { drop_filter: -1, ..Default::default() },
            election: failover::Election { mf_master_offset: -1, ..Default::default() },
            dropped_slots: Vec::new(),
            slot_stats: Default::default(),
            migration: Default::default(),
        };
        c.myself = c.add_node(Node::new(random_name(), flags::MYSELF | flags::MASTER, now_ms));
        c
    }

    /// This node.
    pub fn me(&self) -> &Node {
        &self.nodes[self.myself]
    }

    /// This node, mutable.
    pub fn me_mut(&mut self) -> &mut Node {
        &mut self.nodes[self.myself]
    }

    /// Adds a node; its name must be new.
    pub fn add_node(&mut self, node: Node) -> NodeId {
        let name = node.name;
        let id = self.nodes.insert(node);
        self.by_name.insert(name, id);
        id
    }

    /// Looks a node up by name (40 bytes, any case as given).
    pub fn lookup(&self, name: &[u8]) -> Option<NodeId> {
        let n: Name = name.try_into().ok()?;
        self.by_name.get(&n).copied()
    }

    /// Removes a node and every reference to it. Its links are left to the
    /// caller (the bus closes them first).
    pub fn del_node(&mut self, id: NodeId) {
        for s in 0..SLOTS {
            if self.importing_from[s] == Some(id) {
                self.importing_from[s] = None;
            }
            if self.migrating_to[s] == Some(id) {
                self.migrating_to[s] = None;
            }
            if self.slots[s] == Some(id) {
                self.slots[s] = None;
            }
        }
        for (_, n) in self.nodes.iter_mut() {
            n.fail_reports.retain(|&(r, _)| r != id);
        }
        if let Some(m) = self.nodes[id].replica_of {
            self.remove_replica(m, id);
        }
        let replicas = std::mem::take(&mut self.nodes[id].replicas);
        for r in replicas {
            if let Some(n) = self.nodes.get_mut(r) {
                n.replica_of = None;
            }
        }
        let node = self.nodes.remove(id);
        self.by_name.remove(&node.name);
    }

    /// Renames a node found during handshake under a random name.
    pub fn rename_node(&mut self, id: NodeId, name: Name) {
        let old = self.nodes[id].name;
        self.by_name.remove(&old);
        self.nodes[id].name = name;
        self.by_name.insert(name, id);
    }

    /// Gives `slot` to `id`. The slot must be free.
    pub fn add_slot(&mut self, id: NodeId, slot: usize) -> bool {
        if self.slots[slot].is_some() {
            return false;
        }
        let n = &mut self.nodes[id];
        n.slots[slot >> 3] |= 1 << (slot & 7);
        n.numslots += 1;
        self.slots[slot] = Some(id);
        self.slot_stats.reset(slot);
        true
    }

    /// Frees `slot`. When it was our shard's, its shard channels are
    /// queued for dropping (`dropped_slots`).
    pub fn del_slot(&mut self, slot: usize) -> bool {
        let Some(id) = self.slots[slot] else { return false };
        if id == self.myself || self.me().replica_of == Some(id) {
            self.dropped_slots.push(slot);
        }
        let n = &mut self.nodes[id];
        if n.has_slot(slot) {
            n.slots[slot >> 3] &= !(1 << (slot & 7));
            n.numslots -= 1;
        }
        self.slots[slot] = None;
        self.slot_stats.reset(slot);
        true
    }

    /// Frees every slot of `id`; returns how many.
    pub fn del_node_slots(&mut self, id: NodeId) -> usize {
        let mut freed = 0;
        for s in 0..SLOTS {
            if self.slots[s] == Some(id) {
                self.del_slot(s);
                freed += 1;
            }
        }
        freed
    }

    /// Records `replica` under `master`.
    pub fn add_replica(&mut self, master: NodeId, replica: NodeId) {
        if !self.nodes[master].replicas.contains(&replica) {
            self.nodes[master].replicas.push(replica);
            // Keep a stable order (by name), as Redis sorts them.
            let mut named: Vec<(Name, NodeId)> = self.nodes[master]
                .replicas
                .iter()
                .map(|&r| (self.nodes.get(r).map_or([0; 40], |n| n.name), r))
                .collect();
            named.sort();
            self.nodes[master].replicas = named.into_iter().map(|(_, r)| r).collect();
        }
        if self.nodes[master].replicas.len() == 1 {
            self.nodes[master].flags |= flags::MIGRATE_TO;
        }
    }

    /// Removes `replica` from `master`'s list.
    pub fn remove_replica(&mut self, master: NodeId, replica: NodeId) {
        if let Some(m) = self.nodes.get_mut(master) {
            m.replicas.retain(|&r| r != replica);
            if m.replicas.is_empty() {
                m.flags &= !flags::MIGRATE_TO;
            }
        }
    }

    /// Makes `id` a replica of `master` (flags and lists).
    pub fn set_replica_of(&mut self, id: NodeId, master: NodeId) {
        if let Some(old) = self.nodes[id].replica_of {
            self.remove_replica(old, id);
        }
        let shard = self.nodes[master].shard_id;
        let n = &mut self.nodes[id];
        n.flags = (n.flags & !(flags::MASTER | flags::MIGRATE_TO)) | flags::SLAVE;
        n.replica_of = Some(master);
        n.shard_id = shard;
        self.add_replica(master, id);
    }

    /// `id` announced `shard` as its shard id: a master's is its replicas'
    /// too (ourselves included); nodes.conf is saved when ours changes.
    pub fn update_shard_id(&mut self, id: NodeId, shard: Name) {
        if self.nodes[id].shard_id == shard {
            return;
        }
        self.nodes[id].shard_id = shard;
        if self.nodes[id].is_master() {
            for r in self.nodes[id].replicas.clone() {
                self.nodes[r].shard_id = shard;
            }
        }
        self.save_later(false);
    }

    /// The config epoch that counts for `id` (its master's for a replica).
    pub fn effective_epoch(&self, id: NodeId) -> u64 {
        let n = &self.nodes[id];
        match n.replica_of {
            Some(m) if n.is_replica() => self.nodes.get(m).map_or(n.config_epoch, |m| m.config_epoch),
            _ => n.config_epoch,
        }
    }

    /// The greatest config epoch of any node, or the current epoch if larger.
    pub fn max_epoch(&self) -> u64 {
        self.nodes.iter().map(|(_, n)| n.config_epoch).max().unwrap_or(0).max(self.current_epoch)
    }

    /// Masters that are not failing, serving slots / all masters with slots.
    pub fn count_masters(&self) -> (usize, usize) {
        let mut size = 0;
        let mut reachable = 0;
        for (_, n) in self.nodes.iter() {
            if n.is_master() && n.numslots > 0 {
                size += 1;
                if !n.is(flags::FAIL | flags::PFAIL) {
                    reachable += 1;
                }
            }
        }
        (size, reachable)
    }

    /// Number of failure reports on `id` still valid at `now_ms`, dropping
    /// the stale ones.
    pub fn fail_report_count(&mut self, id: NodeId, now_ms: i64, node_timeout: i64) -> usize {
        let max_age = node_timeout * FAIL_REPORT_VALIDITY_MULT;
        let n = &mut self.nodes[id];
        n.fail_reports.retain(|&(_, t)| now_ms - t <= max_age);
        n.fail_reports.len()
    }

    /// Asks before-sleep to save nodes.conf (and fsync it).
    pub fn save_later(&mut self, fsync: bool) {
        self.todo |= todo::SAVE_CONFIG | if fsync { todo::FSYNC_CONFIG } else { 0 };
    }

    /// Slot ranges of node `id`, in order.
    pub fn slot_ranges(&self, id: NodeId) -> Vec<(usize, usize)> {
        let n = &self.nodes[id];
        let mut out = Vec::new();
        if n.numslots == 0 {
            return out;
        }
        let mut start: Option<usize> = None;
        // Byte by byte: a whole byte that neither opens nor closes a range is
        // skipped (this runs for every node at every nodes.conf save).
        for (i, &byte) in n.slots.iter().enumerate() {
            if (byte == 0 && start.is_none()) || (byte == 0xff && start.is_some()) {
                continue;
            }
            for bit in 0..8 {
                let s = i * 8 + bit;
                match (byte & (1 << bit) != 0, start) {
                    (true, None) => start = Some(s),
                    (false, Some(b)) => {
                        out.push((b, s - 1));
                        start = None;
                    }
                    _ => {}
                }
            }
        }
        if let Some(b) = start {
            out.push((b, SLOTS - 1));
        }
        out
    }
}

/// 40 random hex characters.
pub fn random_name() -> Name {
    let hex = crate::server::random_hex(40);
    let mut n = [0u8; 40];
    n.copy_from_slice(hex.as_bytes());
    n
}

/// Whether `s` is a valid node name (40 hex digits, lower case as Redis
/// makes them; any case is accepted, as verifyClusterNodeId only checks length
/// and hex digits).
pub fn valid_name(s: &[u8]) -> bool {
    s.len() == 40 && s.iter().all(|b| b.is_ascii_hexdigit())
}

/// Recomputes `cluster_state` and `cluster_size` (Redis's clusterUpdateState).
pub fn update_state(srv: &mut Server) {
    let now = srv.clock.now_ms;
    let full_coverage = srv.config.cluster_require_full_coverage;
    let node_timeout = srv.config.cluster_node_timeout;
    let Some(cl) = srv.cluster.as_mut() else { return };
    cl.todo &= !todo::UPDATE_STATE;
    if cl.first_state_ms == 0 {
        cl.first_state_ms = now;
    }
    // A restarted master gives the cluster a moment to tell it what changed.
    if cl.me().is_master() && !cl.ok && now - cl.first_state_ms < WRITABLE_DELAY_MS {
        return;
    }
    let mut ok = true;
    if full_coverage {
        // Only nodes in FAIL need a per-slot owner check.
        let any_failed = cl.nodes.iter().any(|(_, n)| n.is(flags::FAIL));
        ok = if any_failed {
            cl.slots.iter().all(|s| s.is_some_and(|id| !cl.nodes[id].is(flags::FAIL)))
        } else {
            cl.slots.iter().all(Option::is_some)
        };
    }
    let (size, reachable) = cl.count_masters();
    cl.size = size;
    let quorum = size / 2 + 1;
    if reachable < quorum {
        ok = false;
        cl.among_minority_ms = now;
    }
    if ok != cl.ok {
        let rejoin_delay = node_timeout.clamp(500, 5000);
        if ok && cl.me().is_master() && now - cl.among_minority_ms < rejoin_delay {
            return;
        }
        // COMPAT: clusterUpdateState's log line.
        log::warn!("Cluster state changed: {}", if ok { "ok" } else { "fail" });
        cl.ok = ok;
    }
}

/// Work queued for before-sleep: state, failover, nodes.conf (the bus
/// output goes later, in [`flush_bus`]).
pub fn before_sleep(srv: &mut Server) {
    let Some(cl) = srv.cluster.as_ref() else { return };
    let todo = cl.todo;
    if todo & todo::HANDLE_FAILOVER != 0 && cl.me().is_replica() {
        failover::handle_manual(srv);
        failover::handle_replica_failover(srv);
    }
    if todo & todo::UPDATE_STATE != 0 {
        update_state(srv);
    }
    drop_channels_of_lost_slots(srv);
    migration::before_sleep(srv);
    let todo = srv.cluster.as_ref().map_or(0, |cl| cl.todo);
    if todo & todo::SAVE_CONFIG != 0 {
        let fsync = todo & todo::FSYNC_CONFIG != 0;
        if let Err(e) = conf::save(srv, fsync) {
            // COMPAT: clusterSaveConfigOrDie.
            log::warn!("Fatal: can't update cluster config file. ({e})");
            std::process::exit(1);
        }
    }
}

/// Whether cluster mode is on and nodes.conf makes this node a replica
/// (Redis's `!iAmMaster()` before the replication link exists).
pub fn myself_is_replica(srv: &Server) -> bool {
    srv.cluster.as_ref().is_some_and(|cl| cl.me().is_replica())
}

/// Writes the bus output queued this iteration; called after the client
/// replies are flushed, so a reply (CLUSTER SETSLOT NODE, say) leaves
/// before the gossip it caused, as with Redis's link write handlers.
pub fn flush_bus(srv: &mut Server) {
    if srv.cluster.is_some() {
        bus::flush_links(srv);
    }
}

/// Unsubscribes the clients of shard channels whose slots our shard lost
/// (Redis's removeChannelsInSlot).
fn drop_channels_of_lost_slots(srv: &mut Server) {
    let Some(cl) = srv.cluster.as_mut() else { return };
    if cl.dropped_slots.is_empty() {
        return;
    }
    let mut lost = vec![false; SLOTS];
    for s in std::mem::take(&mut cl.dropped_slots) {
        lost[s] = true;
    }
    crate::cmd::pubsub::drop_shard_channels(srv, |ch| lost[key_hash_slot(ch) as usize]);
}

/// Sets up cluster mode at start-up: loads or creates nodes.conf (exits
/// with a message on a corrupt or locked file), opens the bus listener.
pub fn init(srv: &mut Server) -> Result<(), String> {
    if !srv.config.cluster_enabled {
        return Ok(());
    }
    let path = PathBuf::from(&srv.config.cluster_config_file);
    let now = srv.clock.now_ms;
    let mut cl = Cluster::new(path.clone(), now);
    conf::lock(&mut cl)?;
    let loaded = match conf::load(&mut cl, now) {
        Ok(loaded) => loaded,
        // A save cut short: the sidecar holds the last whole configuration.
        Err(e) => {
            let mut again = Cluster::new(path.clone(), now);
            match conf::load_shadow(&mut again, now) {
                Ok(true) => {
                    log::warn!("{e}; loaded {} instead", conf::shadow_path(&path).display());
                    again.lock = cl.lock.take();
                    cl = again;
                    true
                }
                _ => return Err(e),
            }
        }
    };
    srv.cluster = Some(Box::new(cl));
    if !loaded {
        let name = srv.cluster.as_ref().map(|c| c.me().name_str().to_string()).unwrap_or_default();
        // COMPAT: clusterInit's log line for a new node.
        log::info!("No cluster configuration found, I'm {name}");
        conf::save(srv, true).map_err(|e| format!("Fatal: can't update cluster config file. ({e})"))?;
    }
    // The bus port must fit: Redis refuses ports above 55535 without cluster-port.
    let port = srv.tcp_port as u32;
    let cport = if srv.config.cluster_port != 0 { srv.config.cluster_port as u32 } else { port + 10000 };
    if cport > 65535 {
        // COMPAT: clusterInit's message.
        return Err(format!(
            "Redis port number too high. Cluster communication port is 10,000 port numbers higher than your Redis port. Your Redis port number must be 55535 or less, but {port} specified."
        ));
    }
    bus::listen(srv, cport as u16)?;
    update_myself_ports(srv);
    let announce_ip = srv.config.cluster_announce_ip.clone();
    let hostname = srv.config.cluster_announce_hostname.clone();
    let no_failover = srv.config.cluster_replica_no_failover;
    if let Some(cl) = srv.cluster.as_mut() {
        let me = cl.me_mut();
        if !announce_ip.is_empty() {
            me.ip = announce_ip;
        }
        me.hostname = hostname;
        set_flag(&mut me.flags, flags::NOFAILOVER, no_failover);
        cl.todo |= todo::UPDATE_STATE;
    }
    Ok(())
}

fn set_flag(f: &mut u16, flag: u16, on: bool) {
    if on {
        *f |= flag;
    } else {
        *f &= !flag;
    }
}

/// Myself's announced client and bus ports from the configuration
/// (cluster-announce-port / -bus-port, else the listening ports).
fn update_myself_ports(srv: &mut Server) {
    let port = srv.tcp_port;
    let announce_port = srv.config.cluster_announce_port as u16;
    let announce_bus_port = srv.config.cluster_announce_bus_port as u16;
    let cport = if srv.config.cluster_port != 0 { srv.config.cluster_port as u16 } else { port.saturating_add(10000) };
    if let Some(cl) = srv.cluster.as_mut() {
        let me = cl.me_mut();
        me.port = if announce_port != 0 { announce_port } else { port };
        me.cport = if announce_bus_port != 0 { announce_bus_port } else { cport };
        me.pport = 0;
    }
}

/// CONFIG SET of a cluster-* parameter: brings myself's announced address,
/// hostname and NOFAILOVER flag in line with it at once, as Redis's config
/// apply functions do.
pub fn config_changed(srv: &mut Server, name: &str) {
    if srv.cluster.is_none() {
        return;
    }
    match name {
        "cluster-announce-port" | "cluster-announce-bus-port" | "cluster-announce-tls-port" => update_myself_ports(srv),
        "cluster-announce-ip" => {
            let ip = srv.config.cluster_announce_ip.clone();
            let Some(cl) = srv.cluster.as_mut() else { return };
            // Empty: autodetect again from the next MEET or PING.
            cl.me_mut().ip = ip;
        }
        "cluster-announce-hostname" => {
            let hostname = srv.config.cluster_announce_hostname.clone();
            let Some(cl) = srv.cluster.as_mut() else { return };
            if cl.me().hostname != hostname {
                cl.me_mut().hostname = hostname;
                cl.save_later(false);
            }
        }
        "cluster-replica-no-failover" => {
            let on = srv.config.cluster_replica_no_failover;
            let Some(cl) = srv.cluster.as_mut() else { return };
            let old = cl.me().flags;
            set_flag(&mut cl.me_mut().flags, flags::NOFAILOVER, on);
            if cl.me().flags != old {
                cl.todo |= todo::UPDATE_STATE;
                cl.save_later(false);
            }
        }
        _ => {}
    }
}

/// After the dataset is loaded: a key in a slot no one serves makes this
/// node the owner (Redis's verifyClusterConfigWithData); keys in slots of
/// other nodes are reported.
pub fn verify_with_data(srv: &mut Server) {
    let Some(cl) = srv.cluster.as_mut() else { return };
    if cl.me().is_replica() {
        return;
    }
    let mut claimed = false;
    for db in 1..srv.ks.dbs.len() {
        if srv.ks.db_size(db) != 0 {
            // COMPAT: verifyClusterConfigWithData.
            log::warn!("Keys found in DB {db}. Cluster mode only uses DB 0; the keys of other DBs are not served.");
        }
    }
    let slots_with_keys = route::slots_with_keys(&srv.ks);
    for s in slots_with_keys {
        let me = cl.myself;
        if cl.slots[s] == Some(me) || cl.importing_from[s].is_some() {
            continue;
        }
        match cl.slots[s] {
            None => {
                // COMPAT: verifyClusterConfigWithData's notice.
                log::info!("I have keys for unassigned slot {s}. Taking responsibility for it.");
                cl.add_slot(me, s);
                claimed = true;
            }
            Some(_) => {
                log::warn!(
                    "I have keys for slot {s}, but the slot is assigned to another node. Setting it to importing state."
                );
                let owner = cl.slots[s];
                cl.importing_from[s] = owner;
                claimed = true;
            }
        }
    }
    if claimed {
        cl.save_later(true);
    }
}

/// Once a second (and more): the bus cron.
pub fn cron(srv: &mut Server) {
    if srv.cluster.is_some() {
        bus::cron(srv);
        failover::cron(srv);
        migration::cron(srv);
    }
}

/// The preferred endpoint of a node for redirections and CLUSTER SLOTS.
pub fn preferred_endpoint(srv: &Server, n: &Node) -> String {
    use crate::config::ClusterEndpointType as E;
    match srv.config.cluster_preferred_endpoint_type {
        E::Ip => n.ip.clone(),
        E::Hostname => {
            if n.hostname.is_empty() {
                "?".to_string()
            } else {
                n.hostname.clone()
            }
        }
        // COMPAT: redirections then read "MOVED <slot> :<port>".
        E::UnknownEndpoint => String::new(),
    }
}

/// Whether this server acts as a master: in cluster mode by myself's role
/// in the node table (known from nodes.conf before the replication link
/// exists), otherwise by not replicating from anyone (Redis's iAmMaster).
pub fn i_am_master(srv: &Server) -> bool {
    match srv.cluster.as_ref() {
        Some(cl) => cl.me().is_master(),
        None => !srv.repl.replica.is_replica(),
    }
}

/// The replication offset this node advertises: a master's own; a
/// replica's as applied from its master, 0 while it has neither a master
/// link nor a history to continue (during a full sync), as Redis's
/// replicationGetSlaveOffset.
pub fn my_repl_offset(srv: &Server) -> u64 {
    let r = &srv.repl.replica;
    if i_am_master(srv) || r.master_client.is_some() || r.cached {
        srv.repl.offset.max(0) as u64
    } else {
        0
    }
}
