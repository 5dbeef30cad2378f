//! The cluster bus: the listener on the bus port, one link per peer in each
//! direction, the handshake of new nodes, gossip, failure detection and the
//! propagation of slot ownership (Redis 7.0's clusterCron and
//! clusterProcessPacket, over the `wire` codec).
//!
//! Links are non-blocking sockets in the server's reactor (`TokenKind::BusLink`,
//! slab key in the token). A link's outgoing messages accumulate in its send
//! buffer and are written when the socket is writable or before the loop
//! sleeps; incoming bytes are decoded whole message by whole message.
//! Nothing here blocks.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};

use mio::Interest;
use slab::Slab;

use super::wire::{self, flags, Body, Decoded, Gossip, Header, Message, MsgType, Name, PingExt};
use super::{todo, Cluster, Node, NodeId, SLOTS};
use crate::reactor::net::{self, Listener, Stream};
use crate::reactor::TokenKind;
use crate::server::Server;

/// A FAIL flag on a master with slots is cleared only after this many node
/// timeouts without the node being promoted away.
const FAIL_UNDO_TIME_MULT: i64 = 2;

/// One bus connection.
pub struct Link {
    /// The socket.
    pub stream: Stream,
    /// The node it talks to (unknown for a fresh inbound link).
    pub node: Option<NodeId>,
    /// Accepted from the peer (else we connected).
    pub inbound: bool,
    /// Creation time (ms).
    pub ctime: i64,
    /// Bytes waiting to be written.
    pub sndbuf: Vec<u8>,
    /// Bytes read, not yet a whole message.
    pub rcvbuf: Vec<u8>,
    /// Marked for closing (freed in before-sleep, after the event loop
    /// stops looking at it).
    pub dead: bool,
}

/// Listeners and links.
#[derive(Default)]
pub struct Bus {
    /// Bus port listeners.
    pub listeners: Vec<Listener>,
    /// Every link.
    pub links: Slab<Link>,
    /// Cron iterations (gossip to a random node every 10).
    pub iteration: u64,
    /// Nodes in PFAIL (gossip carries them all).
    pub pfail_nodes: usize,
    /// DEBUG DROP-CLUSTER-PACKET-FILTER: incoming messages of this type are
    /// dropped unprocessed (counted as received); negative: none.
    pub drop_filter: i64,
}

/// Whom a broadcast goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Every node we have a link to.
    All,
    /// Only our master's replicas, and our own (the shard).
    LocalReplicas,
}

/// Message type names as CLUSTER INFO prints them.
pub fn type_name(t: usize) -> &'static str {
    match t {
        0 => "ping",
        1 => "pong",
        2 => "meet",
        3 => "fail",
        4 => "publish",
        5 => "auth-req",
        6 => "auth-ack",
        7 => "update",
        8 => "mfstart",
        9 => "module",
        10 => "publishshard",
        _ => "unknown",
    }
}

fn state(srv: &mut Server) -> &mut Cluster {
    srv.cluster.as_deref_mut().expect("cluster mode")
}

// ------------------------------------------------------------ sockets

/// Opens the bus listeners on `cport` (same bind addresses as clients).
pub fn listen(srv: &mut Server, cport: u16) -> Result<(), String> {
    let binds = srv.config.bind.clone();
    let ls = net::listen_tcp(&binds, cport, srv.config.tcp_backlog as i32)?;
    state(srv).bus.listeners = ls;
    for i in 0..srv.cluster.as_ref().map_or(0, |c| c.bus.listeners.len()) {
        let cl = srv.cluster.as_deref_mut().expect("cluster mode");
        srv.reactor
            .register(&mut cl.bus.listeners[i], TokenKind::BusListener.token(i), Interest::READABLE)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Accepts inbound bus connections.
pub fn accept(srv: &mut Server, li: usize) {
    loop {
        let cl = state(srv);
        let Some(l) = cl.bus.listeners.get(li) else { return };
        let stream = match l.accept() {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::debug!("Error accepting cluster node: {e}");
                return;
            }
        };
        stream.tune(0);
        log::debug!("Accepting cluster node connection from {}", stream.peer_name(""));
        let now = srv.clock.now_ms;
        add_link(srv, stream, None, true, now);
    }
}

fn add_link(srv: &mut Server, mut stream: Stream, node: Option<NodeId>, inbound: bool, now: i64) -> Option<usize> {
    let cl = srv.cluster.as_deref_mut().expect("cluster mode");
    let entry = cl.bus.links.vacant_entry();
    let key = entry.key();
    if let Err(e) =
        srv.reactor.register(&mut stream, TokenKind::BusLink.token(key), Interest::READABLE | Interest::WRITABLE)
    {
        log::warn!("Cluster bus: can't register a link: {e}");
        return None;
    }
    entry.insert(Link { stream, node, inbound, ctime: now, sndbuf: Vec::new(), rcvbuf: Vec::new(), dead: false });
    Some(key)
}

/// Closes link `key` and detaches it from its node.
pub fn free_link(srv: &mut Server, key: usize) {
    let cl = srv.cluster.as_deref_mut().expect("cluster mode");
    let Some(mut link) = cl.bus.links.try_remove(key) else { return };
    let _ = srv.reactor.deregister(&mut link.stream);
    if let Some(n) = link.node.and_then(|id| cl.nodes.get_mut(id)) {
        if n.link == Some(key) {
            n.link = None;
        }
        if n.inbound_link == Some(key) {
            n.inbound_link = None;
        }
    }
}

/// Removes node `id`: its links, then the node (clusterDelNode).
pub fn del_node(srv: &mut Server, id: NodeId) {
    let links: Vec<usize> = {
        let cl = state(srv);
        cl.bus.links.iter().filter(|(_, l)| l.node == Some(id)).map(|(k, _)| k).collect()
    };
    for k in links {
        free_link(srv, k);
    }
    state(srv).del_node(id);
}

/// Readiness on link `key`.
pub fn on_event(srv: &mut Server, key: usize, readable: bool, writable: bool) {
    if writable {
        write_link(srv, key);
    }
    if readable {
        read_link(srv, key);
    }
}

fn write_link(srv: &mut Server, key: usize) {
    let cl = state(srv);
    let Some(link) = cl.bus.links.get_mut(key) else { return };
    while !link.sndbuf.is_empty() {
        match link.stream.write(&link.sndbuf) {
            Ok(0) => break,
            Ok(n) => {
                link.sndbuf.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::NotConnected => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::debug!("I/O error writing to node link: {e}");
                link.dead = true;
                return;
            }
        }
    }
}

fn read_link(srv: &mut Server, key: usize) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let cl = state(srv);
        let Some(link) = cl.bus.links.get_mut(key) else { return };
        if link.dead {
            return;
        }
        match link.stream.read(&mut buf) {
            Ok(0) => {
                link.dead = true;
                break;
            }
            Ok(n) => link.rcvbuf.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::debug!("I/O error reading from node link: {e}");
                link.dead = true;
                break;
            }
        }
    }
    // Whole messages, one by one (a message may free the link).
    loop {
        let cl = state(srv);
        let Some(link) = cl.bus.links.get_mut(key) else { return };
        match wire::decode(&link.rcvbuf) {
            Decoded::Incomplete => break,
            Decoded::Invalid(why) => {
                log::warn!("Cluster bus: closing a link that sent an invalid message: {why}");
                link.dead = true;
                break;
            }
            Decoded::Message(msg, used) => {
                link.rcvbuf.drain(..used);
                process(srv, key, msg);
            }
        }
    }
    let dead = srv.cluster.as_ref().and_then(|c| c.bus.links.get(key)).is_some_and(|l| l.dead);
    if dead {
        free_link(srv, key);
    }
}

/// Writes what the links hold and closes dead ones (before sleeping).
pub fn flush_links(srv: &mut Server) {
    let keys: Vec<usize> = {
        let cl = state(srv);
        cl.bus.links.iter().filter(|(_, l)| !l.sndbuf.is_empty() || l.dead).map(|(k, _)| k).collect()
    };
    for k in keys {
        write_link(srv, k);
        let limit = srv.config.cluster_link_sendbuf_limit;
        let cl = state(srv);
        let Some(l) = cl.bus.links.get(k) else { continue };
        let over = limit > 0 && l.sndbuf.len() as i64 > limit;
        if over {
            cl.links_limit_exceeded += 1;
            log::warn!("Freeing cluster link ({}), send buffer over the limit", if l.inbound { "from" } else { "to" });
        }
        if l.dead || over {
            free_link(srv, k);
        }
    }
}

/// Queues `msg` on link `key`.
fn send(srv: &mut Server, key: usize, msg: &Message) {
    let t = msg.header.mtype as usize;
    let cl = state(srv);
    let Some(link) = cl.bus.links.get_mut(key) else { return };
    wire::encode(msg, &mut link.sndbuf);
    cl.sent[t] += 1;
}

// ------------------------------------------------------------ messages

/// The header every message of ours carries (clusterBuildMessageHdr).
fn header(srv: &Server, mtype: MsgType) -> Header {
    let cl = srv.cluster.as_ref().expect("cluster mode");
    let me = cl.me();
    // A replica advertises its master's slots and epoch.
    let master = if me.is_replica() { me.replica_of.and_then(|m| cl.nodes.get(m)) } else { None };
    let slots = master.map_or_else(|| me.slots.clone(), |m| m.slots.clone());
    let config_epoch = master.map_or(me.config_epoch, |m| m.config_epoch);
    let offset = super::my_repl_offset(srv);
    Header {
        mtype,
        port: me.port,
        current_epoch: cl.current_epoch,
        config_epoch,
        offset,
        sender: me.name,
        myslots: slots,
        slaveof: master.map(|m| m.name),
        myip: srv.config.cluster_announce_ip.clone(),
        pport: me.pport,
        cport: me.cport,
        flags: me.flags,
        state: if cl.ok { 0 } else { 1 },
        mflags: [super::failover::header_flags(cl, mtype), 0, 0],
    }
}

fn gossip_entry(n: &Node) -> Gossip {
    Gossip {
        name: n.name,
        ping_sent: (n.ping_sent / 1000) as u32,
        pong_received: (n.pong_received / 1000) as u32,
        ip: n.ip.clone(),
        port: n.port,
        cport: n.cport,
        flags: n.flags,
        pport: n.pport,
    }
}

/// Sends a PING, PONG or MEET with a gossip section (clusterSendPing).
pub fn send_ping(srv: &mut Server, key: usize, mtype: MsgType) {
    let now = srv.clock.now_ms;
    let mut hdr = header(srv, mtype);
    let cl = srv.cluster.as_deref_mut().expect("cluster mode");
    let Some(link) = cl.bus.links.get(key) else { return };
    let target = link.node;
    let total = cl.nodes.len();
    let fresh = total.saturating_sub(2);
    let wanted = (total / 10).max(3).min(fresh);
    let mut chosen: HashSet<NodeId> = HashSet::new();
    let mut gossip = Vec::new();
    let ids: Vec<NodeId> = cl.nodes.iter().map(|(id, _)| id).collect();
    let mut tries = wanted * 3;
    while tries > 0 && gossip.len() < wanted && !ids.is_empty() {
        tries -= 1;
        let id = ids[(srv.ks.rand() as usize) % ids.len()];
        let n = &cl.nodes[id];
        if id == cl.myself
            || n.is(flags::PFAIL)
            || n.is(flags::HANDSHAKE | flags::NOADDR)
            || (n.link.is_none() && n.numslots == 0)
            || chosen.contains(&id)
        {
            continue;
        }
        chosen.insert(id);
        gossip.push(gossip_entry(n));
    }
    // Every node in PFAIL goes along, so failure reports spread fast.
    for (id, n) in cl.nodes.iter() {
        if n.is(flags::PFAIL) && !n.is(flags::HANDSHAKE | flags::NOADDR) && !chosen.contains(&id) {
            gossip.push(gossip_entry(n));
        }
    }
    let mut exts = Vec::new();
    if !cl.me().hostname.is_empty() {
        exts.push(PingExt::Hostname(cl.me().hostname.clone()));
    }
    if target.and_then(|id| cl.nodes.get(id)).is_none_or(|n| n.sends_shard_id != Some(false)) {
        exts.push(PingExt::ShardId(cl.me().shard_id));
    }
    if mtype == MsgType::Ping {
        if let Some(n) = target.and_then(|id| cl.nodes.get_mut(id)) {
            n.ping_sent = now;
        }
    }
    hdr.mtype = mtype;
    send(srv, key, &Message { header: hdr, body: Body::Ping { gossip, exts } });
}

/// PONG to every linked node (or only to our shard's replicas).
pub fn broadcast_pong(srv: &mut Server, target: Target) {
    let links: Vec<usize> = {
        let cl = state(srv);
        let my_master = if cl.me().is_replica() { cl.me().replica_of } else { Some(cl.myself) };
        cl.nodes
            .iter()
            .filter(|(id, n)| *id != cl.myself && !n.is(flags::HANDSHAKE))
            .filter(|(_, n)| target == Target::All || (n.is_replica() && n.replica_of == my_master))
            .filter_map(|(_, n)| n.link)
            .collect()
    };
    for k in links {
        send_ping(srv, k, MsgType::Pong);
    }
}

fn broadcast(srv: &mut Server, msg: &Message) {
    let links: Vec<usize> = {
        let cl = state(srv);
        cl.nodes
            .iter()
            .filter(|(id, n)| *id != cl.myself && !n.is(flags::HANDSHAKE))
            .filter_map(|(_, n)| n.link)
            .collect()
    };
    for k in links {
        send(srv, k, msg);
    }
}

/// A header-only message (auth request, ack, MFSTART) to every linked node.
pub fn broadcast_type(srv: &mut Server, mtype: MsgType) {
    let msg = Message { header: header(srv, mtype), body: Body::Empty };
    broadcast(srv, &msg);
}

/// A header-only message to node `id`, if we have a link to it.
pub fn send_type_to(srv: &mut Server, id: NodeId, mtype: MsgType) {
    let Some(k) = state(srv).nodes.get(id).and_then(|n| n.link) else { return };
    let msg = Message { header: header(srv, mtype), body: Body::Empty };
    send(srv, k, &msg);
}

/// Tells everyone `id` failed.
fn send_fail(srv: &mut Server, id: NodeId) {
    let name = state(srv).nodes[id].name;
    let msg = Message { header: header(srv, MsgType::Fail), body: Body::Fail { name } };
    broadcast(srv, &msg);
}

/// Tells link `key`'s node the slots of `owner` (UPDATE).
fn send_update(srv: &mut Server, key: Option<usize>, owner: NodeId) {
    let Some(key) = key else { return };
    let (config_epoch, name, slots) = {
        let n = &state(srv).nodes[owner];
        (n.config_epoch, n.name, n.slots.clone())
    };
    let msg = Message { header: header(srv, MsgType::Update), body: Body::Update { config_epoch, name, slots } };
    send(srv, key, &msg);
}

/// PUBLISH / SPUBLISH to the rest of the cluster (shard: own shard only).
pub fn propagate_publish(srv: &mut Server, channel: &[u8], message: &[u8], shard: bool) {
    let mtype = if shard { MsgType::PublishShard } else { MsgType::Publish };
    let msg = Message {
        header: header(srv, mtype),
        body: Body::Publish { channel: channel.to_vec(), message: message.to_vec() },
    };
    if !shard {
        broadcast(srv, &msg);
        return;
    }
    let links: Vec<usize> = {
        let cl = state(srv);
        let master = if cl.me().is_replica() { cl.me().replica_of } else { Some(cl.myself) };
        let mut ids: Vec<NodeId> = Vec::new();
        if let Some(m) = master {
            ids.push(m);
            ids.extend(cl.nodes[m].replicas.iter().copied());
        }
        ids.into_iter().filter(|&id| id != cl.myself).filter_map(|id| cl.nodes.get(id).and_then(|n| n.link)).collect()
    };
    for k in links {
        send(srv, k, &msg);
    }
}

// ------------------------------------------------------------ handshake

/// CLUSTER MEET: adds a node in handshake at `ip:port@cport` (false when
/// the address is invalid). Nothing happens if one is already in progress
/// with that address.
pub fn start_handshake(srv: &mut Server, ip: &str, port: i64, cport: i64) -> bool {
    let Ok(addr) = ip.parse::<IpAddr>() else { return false };
    if !(1..=65535).contains(&port) || !(1..=65535).contains(&cport) {
        return false;
    }
    let norm = addr.to_string();
    let now = srv.clock.now_ms;
    let cl = state(srv);
    let busy = cl.nodes.iter().any(|(_, n)| {
        n.is(flags::HANDSHAKE) && n.ip.eq_ignore_ascii_case(&norm) && n.port as i64 == port && n.cport as i64 == cport
    });
    if busy {
        return true;
    }
    let mut n = Node::new(super::random_name(), flags::HANDSHAKE | flags::MEET, now);
    n.ip = norm;
    n.port = port as u16;
    n.cport = cport as u16;
    cl.add_node(n);
    true
}

/// The IP a peer is known by: the one it announced, else the address of
/// the link's socket (nodeIp2String).
fn peer_ip(link: &Link, announced: &str) -> String {
    if !announced.is_empty() {
        return announced.to_string();
    }
    match &link.stream {
        Stream::Tcp(s) => s.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default(),
        Stream::Unix(_) => String::new(),
    }
}

/// nodeUpdateAddressIfNeeded: a known node talking from a new address.
fn update_address(srv: &mut Server, id: NodeId, key: usize, hdr: &Header) -> bool {
    let cl = state(srv);
    if cl.nodes[id].link == Some(key) {
        return false;
    }
    let Some(link) = cl.bus.links.get(key) else { return false };
    let ip = peer_ip(link, &hdr.myip);
    if ip.is_empty() {
        return false;
    }
    let n = &cl.nodes[id];
    if n.port == hdr.port && n.cport == hdr.cport && n.pport == hdr.pport && n.ip == ip {
        return false;
    }
    let old_link = n.link;
    let n = &mut cl.nodes[id];
    n.ip = ip;
    n.port = hdr.port;
    n.pport = hdr.pport;
    n.cport = hdr.cport;
    n.flags &= !flags::NOADDR;
    log::warn!("Address updated for node {}, now {}:{}", n.name_str(), n.ip, n.port);
    let (ip, port) = (n.ip.clone(), n.port);
    let my_master = cl.me().is_replica() && cl.me().replica_of == Some(id);
    if let Some(k) = old_link {
        free_link(srv, k);
    }
    if my_master {
        crate::repl::replica::set_master(srv, ip, port);
    }
    true
}

// ------------------------------------------------------------ processing

/// clusterProcessPacket.
fn process(srv: &mut Server, key: usize, msg: Message) {
    let now = srv.clock.now_ms;
    let hdr = &msg.header;
    let t = hdr.mtype;
    let cl = state(srv);
    cl.received[t as usize] += 1;
    if cl.bus.drop_filter == t as i64 {
        // COMPAT: clusterProcessPacket's notice.
        log::warn!("Dropping packet that matches debug drop filter");
        return;
    }
    let Some(link) = cl.bus.links.get(key) else { return };
    let (link_node, inbound) = (link.node, link.inbound);
    // The sender: the link's node once known, else by name.
    let sender = match link_node {
        Some(id) if !cl.nodes[id].is(flags::HANDSHAKE) => Some(id),
        _ => {
            let s = cl.lookup(&hdr.sender);
            if let (Some(id), None) = (s, link_node) {
                // An inbound link from a node we know: remember it.
                if let Some(old) = cl.nodes[id].inbound_link {
                    if old != key {
                        free_link_later(cl, old);
                    }
                }
                cl.nodes[id].inbound_link = Some(key);
                if let Some(l) = cl.bus.links.get_mut(key) {
                    l.node = Some(id);
                }
            }
            s
        }
    };
    if let Some(s) = sender {
        cl.nodes[s].data_received = now;
    }
    let mut sender_config_epoch = 0;
    if let Some(s) = sender.filter(|&s| !cl.nodes[s].is(flags::HANDSHAKE)) {
        sender_config_epoch = hdr.config_epoch;
        if hdr.current_epoch > cl.current_epoch {
            cl.current_epoch = hdr.current_epoch;
        }
        if hdr.config_epoch > cl.nodes[s].config_epoch {
            cl.nodes[s].config_epoch = hdr.config_epoch;
            cl.save_later(true);
        }
        cl.nodes[s].repl_offset = hdr.offset;
        cl.nodes[s].repl_offset_time = now;
        if hdr.mflags[0] & wire::mflags0::PAUSED != 0 {
            super::failover::on_paused_master(srv, s, hdr.offset);
        }
    }
    match (&msg.body, t) {
        (Body::Ping { gossip, exts }, MsgType::Ping | MsgType::Pong | MsgType::Meet) => {
            process_ping(srv, key, hdr, gossip, exts, sender, link_node, inbound, sender_config_epoch);
        }
        (Body::Fail { name }, MsgType::Fail) => {
            let cl = state(srv);
            if sender.is_none() {
                log::info!(
                    "Ignoring FAIL message from unknown node {} about {}",
                    String::from_utf8_lossy(&hdr.sender),
                    String::from_utf8_lossy(name)
                );
                return;
            }
            if let Some(f) = cl.lookup(name) {
                if !cl.nodes[f].is(flags::FAIL | flags::MYSELF) {
                    log::info!(
                        "FAIL message received from {} about {}",
                        String::from_utf8_lossy(&hdr.sender),
                        String::from_utf8_lossy(name)
                    );
                    let n = &mut cl.nodes[f];
                    n.flags = (n.flags | flags::FAIL) & !flags::PFAIL;
                    n.fail_time = now;
                    cl.todo |= todo::UPDATE_STATE;
                    cl.save_later(false);
                }
            }
        }
        (Body::Publish { channel, message }, MsgType::Publish | MsgType::PublishShard) => {
            if sender.is_none() {
                return;
            }
            if t == MsgType::Publish {
                crate::cmd::pubsub::publish_message(srv, None, channel, message);
            } else {
                crate::cmd::pubsub::spublish_message(srv, None, channel, message);
            }
        }
        (Body::Update { config_epoch, name, slots }, MsgType::Update) => {
            if sender.is_none() {
                return;
            }
            let cl = state(srv);
            let Some(n) = cl.lookup(name) else { return };
            if cl.nodes[n].config_epoch >= *config_epoch {
                return;
            }
            if cl.nodes[n].is_replica() {
                set_node_as_master(cl, n);
            }
            cl.nodes[n].config_epoch = *config_epoch;
            cl.save_later(true);
            update_slots_config_with(srv, n, *config_epoch, slots);
        }
        (Body::Empty, MsgType::FailoverAuthRequest) => {
            if let Some(s) = sender {
                super::failover::vote_if_needed(srv, s, hdr);
            }
        }
        (Body::Empty, MsgType::FailoverAuthAck) => {
            if let Some(s) = sender {
                super::failover::on_auth_ack(srv, s, hdr.current_epoch);
            }
        }
        (Body::Empty, MsgType::MfStart) => {
            if let Some(s) = sender {
                super::failover::on_mfstart(srv, s, key);
            }
        }
        _ => {
            // Module messages: no modules here.
        }
    }
}

fn free_link_later(cl: &mut Cluster, key: usize) {
    if let Some(l) = cl.bus.links.get_mut(key) {
        l.dead = true;
    }
}

#[allow(clippy::too_many_arguments)]
fn process_ping(
    srv: &mut Server,
    key: usize,
    hdr: &Header,
    gossip: &[Gossip],
    exts: &[PingExt],
    mut sender: Option<NodeId>,
    link_node: Option<NodeId>,
    inbound: bool,
    sender_config_epoch: u64,
) {
    let now = srv.clock.now_ms;
    let t = hdr.mtype;
    if matches!(t, MsgType::Ping | MsgType::Meet) {
        // Learn our own address from the socket a peer reached us on.
        let announce = Some(srv.config.cluster_announce_ip.clone()).filter(|s| !s.is_empty());
        let cl = state(srv);
        if (t == MsgType::Meet || cl.me().ip.is_empty()) && announce.is_none() {
            if let Some(Stream::Tcp(s)) = cl.bus.links.get(key).map(|l| &l.stream) {
                if let Ok(a) = s.local_addr() {
                    let ip = a.ip().to_string();
                    if ip != cl.me().ip {
                        cl.me_mut().ip = ip;
                        log::warn!("IP address for this node updated to {}", cl.me().ip);
                        cl.save_later(false);
                    }
                }
            }
        }
        if sender.is_none() && t == MsgType::Meet {
            let ip = cl.bus.links.get(key).map(|l| peer_ip(l, &hdr.myip)).unwrap_or_default();
            let mut n = Node::new(super::random_name(), flags::HANDSHAKE, now);
            n.ip = ip;
            n.port = hdr.port;
            n.pport = hdr.pport;
            n.cport = hdr.cport;
            cl.add_node(n);
            cl.save_later(false);
            process_gossip(srv, hdr, gossip, None);
        }
        send_ping(srv, key, MsgType::Pong);
    }
    if !inbound {
        let cl = state(srv);
        let Some(ln) = link_node else { return };
        if cl.nodes[ln].is(flags::HANDSHAKE) {
            if let Some(s) = sender {
                log::debug!(
                    "Handshake: we already know node {}, updating the address if needed.",
                    cl.nodes[s].name_str()
                );
                if update_address(srv, s, key, hdr) {
                    let cl = state(srv);
                    cl.todo |= todo::UPDATE_STATE;
                    cl.save_later(false);
                }
                del_node(srv, ln);
                return;
            }
            cl.rename_node(ln, hdr.sender);
            let n = &mut cl.nodes[ln];
            n.flags &= !flags::HANDSHAKE;
            n.flags |= hdr.flags & (flags::MASTER | flags::SLAVE);
            log::debug!("Handshake with node {} completed.", n.name_str());
            cl.save_later(false);
            sender = Some(ln);
        } else if cl.nodes[ln].name != hdr.sender {
            log::debug!("PONG contains mismatching sender ID. About node {}", cl.nodes[ln].name_str());
            let n = &mut cl.nodes[ln];
            n.flags |= flags::NOADDR;
            n.ip.clear();
            n.port = 0;
            n.pport = 0;
            n.cport = 0;
            cl.save_later(false);
            free_link(srv, key);
            return;
        }
    }
    let cl = state(srv);
    if let Some(s) = sender {
        let n = &mut cl.nodes[s];
        n.flags = (n.flags & !flags::NOFAILOVER) | (hdr.flags & flags::NOFAILOVER);
    }
    if let Some(s) = sender {
        if t == MsgType::Ping && !cl.nodes[s].is(flags::HANDSHAKE) && update_address(srv, s, key, hdr) {
            let cl = state(srv);
            cl.todo |= todo::UPDATE_STATE;
            cl.save_later(false);
        }
    }
    let timeout = srv.config.cluster_node_timeout;
    let cl = state(srv);
    if !inbound && t == MsgType::Pong {
        if let Some(ln) = cl.bus.links.get(key).and_then(|l| l.node) {
            let n = &mut cl.nodes[ln];
            n.pong_received = now;
            n.ping_sent = 0;
            if n.is(flags::PFAIL) {
                n.flags &= !flags::PFAIL;
                cl.todo |= todo::UPDATE_STATE;
                cl.save_later(false);
            } else if n.is(flags::FAIL) {
                clear_failure_if_needed(cl, ln, now, timeout);
            }
        }
    }
    let Some(s) = sender else { return };
    // Role changes.
    match hdr.slaveof {
        None => {
            if !cl.nodes[s].is_master() {
                set_node_as_master(cl, s);
            }
        }
        Some(mname) => {
            let master = cl.lookup(&mname);
            if cl.nodes[s].is_master() {
                cl.del_node_slots(s);
                let n = &mut cl.nodes[s];
                n.flags = (n.flags & !(flags::MASTER | flags::MIGRATE_TO)) | flags::SLAVE;
                cl.todo |= todo::UPDATE_STATE;
                cl.save_later(false);
            }
            if let Some(m) = master {
                if cl.nodes[s].replica_of != Some(m) {
                    if let Some(old) = cl.nodes[s].replica_of {
                        cl.remove_replica(old, s);
                    }
                    cl.nodes[s].replica_of = Some(m);
                    cl.add_replica(m, s);
                    cl.save_later(false);
                }
            }
        }
    }
    // Slots.
    let sender_master = if cl.nodes[s].is_master() { Some(s) } else { cl.nodes[s].replica_of };
    let dirty = sender_master.and_then(|m| cl.nodes.get(m)).is_some_and(|m| *m.slots != *hdr.myslots);
    if dirty && cl.nodes[s].is_master() {
        update_slots_config_with(srv, s, sender_config_epoch, &hdr.myslots);
    }
    let cl = state(srv);
    if dirty {
        // The sender claims slots whose owner we know has a newer epoch.
        let mut stale_owner = None;
        for j in 0..SLOTS {
            if hdr.myslots[j >> 3] & (1 << (j & 7)) == 0 {
                continue;
            }
            match cl.slots[j] {
                Some(o) if o != s && cl.nodes[o].config_epoch > sender_config_epoch => {
                    stale_owner = Some(o);
                    break;
                }
                _ => {}
            }
        }
        if let Some(o) = stale_owner {
            log::debug!(
                "Node {} has old slots configuration, sending an UPDATE message about {}",
                cl.nodes[s].name_str(),
                cl.nodes[o].name_str()
            );
            let link = cl.nodes[s].link;
            send_update(srv, link, o);
        }
    }
    let cl = state(srv);
    if cl.me().is_master() && cl.nodes[s].is_master() && sender_config_epoch == cl.me().config_epoch {
        handle_epoch_collision(cl, s);
    }
    process_gossip(srv, hdr, gossip, Some(s));
    let cl = state(srv);
    let mut sends_shard_id = false;
    for e in exts {
        match e {
            PingExt::Hostname(h) if cl.nodes[s].hostname != *h => {
                cl.nodes[s].hostname = h.clone();
                cl.save_later(false);
            }
            PingExt::ShardId(shard) => {
                sends_shard_id = true;
                cl.update_shard_id(s, *shard);
            }
            _ => {}
        }
    }
    cl.nodes[s].sends_shard_id = Some(sends_shard_id);
    if !exts.iter().any(|e| matches!(e, PingExt::Hostname(_))) && !cl.nodes[s].hostname.is_empty() {
        cl.nodes[s].hostname.clear();
        cl.save_later(false);
    }
}

/// clusterSetNodeAsMaster.
fn set_node_as_master(cl: &mut Cluster, id: NodeId) {
    if cl.nodes[id].is_master() {
        return;
    }
    if let Some(m) = cl.nodes[id].replica_of.take() {
        cl.remove_replica(m, id);
        if id != cl.myself {
            cl.nodes[id].flags |= flags::MIGRATE_TO;
        }
    }
    let n = &mut cl.nodes[id];
    n.flags = (n.flags & !flags::SLAVE) | flags::MASTER;
    cl.todo |= todo::UPDATE_STATE;
    cl.save_later(false);
}

/// Two masters with one config epoch: the one with the greater name takes
/// a new epoch (clusterHandleConfigEpochCollision).
fn handle_epoch_collision(cl: &mut Cluster, sender: NodeId) {
    if cl.nodes[sender].name <= cl.me().name {
        return;
    }
    cl.current_epoch += 1;
    let e = cl.current_epoch;
    cl.me_mut().config_epoch = e;
    cl.save_later(true);
    log::debug!("WARNING: configEpoch collision with node {}. configEpoch set to {e}", cl.nodes[sender].name_str());
}

fn clear_failure_if_needed(cl: &mut Cluster, id: NodeId, now: i64, node_timeout: i64) {
    let n = &mut cl.nodes[id];
    if n.is_replica() || n.numslots == 0 {
        log::info!(
            "Clear FAIL state for node {}: {} is reachable again.",
            n.name_str(),
            if n.is_replica() { "replica" } else { "master without slots" }
        );
        n.flags &= !flags::FAIL;
        cl.todo |= todo::UPDATE_STATE;
        cl.save_later(false);
        return;
    }
    if now - n.fail_time > node_timeout * FAIL_UNDO_TIME_MULT {
        log::info!(
            "Clear FAIL state for node {}: is reachable again and nobody is serving its slots after some time.",
            n.name_str()
        );
        n.flags &= !flags::FAIL;
        cl.todo |= todo::UPDATE_STATE;
        cl.save_later(false);
    }
}

/// clusterProcessGossipSection.
fn process_gossip(srv: &mut Server, _hdr: &Header, gossip: &[Gossip], sender: Option<NodeId>) {
    let now = srv.clock.now_ms;
    let timeout = srv.config.cluster_node_timeout;
    for g in gossip {
        let cl = state(srv);
        match cl.lookup(&g.name) {
            Some(id) => {
                if let Some(s) = sender.filter(|&s| cl.nodes[s].is_master() && id != cl.myself) {
                    if g.flags & (flags::FAIL | flags::PFAIL) != 0 {
                        let reports = &mut cl.nodes[id].fail_reports;
                        match reports.iter_mut().find(|(r, _)| *r == s) {
                            Some(r) => r.1 = now,
                            None => {
                                reports.push((s, now));
                                log::debug!(
                                    "Node {} reported node {} as not reachable.",
                                    cl.nodes[s].name_str(),
                                    cl.nodes[id].name_str()
                                );
                            }
                        }
                        mark_failing_if_needed(srv, id);
                    } else {
                        cl.nodes[id].fail_reports.retain(|&(r, _)| r != s);
                    }
                }
                let cl = state(srv);
                let n = &cl.nodes[id];
                if g.flags & (flags::FAIL | flags::PFAIL) == 0 && n.ping_sent == 0 && n.fail_reports.is_empty() {
                    let pong = g.pong_received as i64 * 1000;
                    if pong <= now + 500 && pong > n.pong_received {
                        cl.nodes[id].pong_received = pong;
                    }
                }
                let n = &cl.nodes[id];
                if n.is(flags::FAIL | flags::PFAIL)
                    && g.flags & flags::NOADDR == 0
                    && g.flags & (flags::FAIL | flags::PFAIL) == 0
                    && (!n.ip.eq_ignore_ascii_case(&g.ip) || n.port != g.port || n.cport != g.cport)
                {
                    let old = n.link;
                    let n = &mut cl.nodes[id];
                    n.ip = g.ip.clone();
                    n.port = g.port;
                    n.pport = g.pport;
                    n.cport = g.cport;
                    n.flags &= !flags::NOADDR;
                    if let Some(k) = old {
                        free_link(srv, k);
                    }
                }
                let _ = timeout;
            }
            None => {
                if sender.is_some() && g.flags & flags::NOADDR == 0 && !blacklisted(cl, &g.name, now) {
                    let mut n = Node::new(g.name, g.flags & !(flags::MYSELF), now);
                    n.ip = g.ip.clone();
                    n.port = g.port;
                    n.pport = g.pport;
                    n.cport = g.cport;
                    cl.add_node(n);
                }
            }
        }
    }
}

fn blacklisted(cl: &mut Cluster, name: &Name, now: i64) -> bool {
    cl.blacklist.retain(|_, &mut until| until > now);
    cl.blacklist.contains_key(name)
}

/// PFAIL plus enough masters' reports make FAIL (markNodeAsFailingIfNeeded).
fn mark_failing_if_needed(srv: &mut Server, id: NodeId) {
    let now = srv.clock.now_ms;
    let timeout = srv.config.cluster_node_timeout;
    let cl = state(srv);
    let quorum = cl.size / 2 + 1;
    if !cl.nodes[id].is(flags::PFAIL) || cl.nodes[id].is(flags::FAIL) {
        return;
    }
    let mut failures = cl.fail_report_count(id, now, timeout);
    if cl.me().is_master() {
        failures += 1;
    }
    if failures < quorum {
        return;
    }
    log::info!("Marking node {} as failing (quorum reached).", cl.nodes[id].name_str());
    let n = &mut cl.nodes[id];
    n.flags = (n.flags & !flags::PFAIL) | flags::FAIL;
    n.fail_time = now;
    cl.todo |= todo::UPDATE_STATE;
    cl.save_later(false);
    send_fail(srv, id);
}

/// Adopts `sender`'s claim on `slots` where its epoch wins
/// (clusterUpdateSlotsConfigWith); may turn this node into its replica.
fn update_slots_config_with(srv: &mut Server, sender: NodeId, sender_epoch: u64, slots: &wire::SlotBits) {
    let replica_migration = srv.config.cluster_allow_replica_migration;
    let keyed: HashSet<usize> = super::route::slots_with_keys(&srv.ks).into_iter().collect();
    let cl = state(srv);
    if sender == cl.myself {
        log::debug!("Discarding UPDATE message about myself.");
        return;
    }
    let me = cl.myself;
    let cur_master = if cl.me().is_master() { Some(me) } else { cl.me().replica_of };
    let mut new_master = None;
    let mut dirty: Vec<usize> = Vec::new();
    let (mut migrated_ours, mut sender_slots) = (0, 0);
    for j in 0..SLOTS {
        if slots[j >> 3] & (1 << (j & 7)) == 0 {
            continue;
        }
        sender_slots += 1;
        if cl.slots[j] == Some(sender) {
            continue;
        }
        if cl.importing_from[j].is_some() {
            continue;
        }
        let wins = match cl.slots[j] {
            None => true,
            Some(o) => cl.nodes[o].config_epoch < sender_epoch,
        };
        if wins {
            if cl.slots[j] == Some(me) && keyed.contains(&j) {
                dirty.push(j);
            }
            if cl.slots[j].is_some() && cl.slots[j] == cur_master {
                new_master = Some(sender);
                migrated_ours += 1;
            }
            cl.del_slot(j);
            cl.add_slot(sender, j);
            cl.todo |= todo::UPDATE_STATE;
            cl.save_later(true);
        }
    }
    let cur_empty = cur_master.is_some_and(|m| cl.nodes[m].numslots == 0);
    if new_master.is_some() && cur_empty && (replica_migration || sender_slots == migrated_ours) {
        log::warn!(
            "Configuration change detected. Reconfiguring myself as a replica of {}",
            cl.nodes[sender].name_str()
        );
        super::cmd::set_master(srv, sender);
        let cl = state(srv);
        cl.todo |= todo::UPDATE_STATE;
        cl.save_later(true);
    } else if !dirty.is_empty() {
        for j in dirty {
            let n = delete_keys_in_slot(srv, j);
            log::warn!("Deleting keys in dirty slot {j} ({n} keys)");
        }
        // Watchers, tracking, keyspace events and the DELs, as after a command.
        srv.after_command(None);
    }
}

/// Deletes the keys of a slot this node no longer serves, each one a write
/// of its own: a DEL (UNLINK under `lazyfree-lazy-server-del`) for the
/// replicas and the AOF, a `del` keyspace event, the key signalled as
/// modified (the delKeysInSlot of Redis 7.2 and later; 7.0 deleted them
/// silently, leaving replicas with keys their master no longer has).
/// Returns how many went.
pub(crate) fn delete_keys_in_slot(srv: &mut Server, slot: usize) -> usize {
    let keys = srv.ks.take_keys_in_slot(slot as u16);
    let lazy = srv.ks.lazyfree.lazy_server_del;
    for k in &keys {
        srv.ks.touch_write(0, k);
        srv.ks.notify(crate::db::notify::GENERIC, "del", 0, k);
        srv.propagate_deletion(0, k, lazy);
    }
    keys.len()
}

// ------------------------------------------------------------ cron

/// clusterCron, run at every server cron tick (10 times a second by default).
pub fn cron(srv: &mut Server) {
    let now = srv.clock.now_ms;
    let node_timeout = srv.config.cluster_node_timeout.max(1);
    let handshake_timeout = node_timeout.max(1000);
    let cl = state(srv);
    cl.bus.iteration += 1;
    let iteration = cl.bus.iteration;
    // Handshakes that never completed, and links to open.
    let ids: Vec<NodeId> = cl.nodes.iter().map(|(id, _)| id).collect();
    let mut pfail = 0;
    for id in ids {
        let cl = state(srv);
        let Some(n) = cl.nodes.get(id) else { continue };
        if id == cl.myself || n.is(flags::NOADDR) {
            continue;
        }
        if n.is(flags::PFAIL) {
            pfail += 1;
        }
        if n.is(flags::HANDSHAKE) && now - n.ctime > handshake_timeout {
            del_node(srv, id);
            continue;
        }
        if n.link.is_none() {
            connect(srv, id, now);
        }
    }
    let cl = state(srv);
    cl.bus.pfail_nodes = pfail;
    // Once a second, ping the node among five random ones we heard from
    // least recently.
    if iteration % 10 == 0 {
        let ids: Vec<NodeId> = cl.nodes.iter().map(|(id, _)| id).collect();
        let picks: Vec<u64> = (0..5).map(|_| srv.ks.rand()).collect();
        let cl = state(srv);
        let mut best: Option<(NodeId, i64)> = None;
        for r in picks {
            if ids.is_empty() {
                break;
            }
            let id = ids[(r as usize) % ids.len()];
            let n = &cl.nodes[id];
            if n.link.is_none() || n.ping_sent != 0 || n.is(flags::MYSELF | flags::HANDSHAKE) {
                continue;
            }
            if best.is_none_or(|(_, p)| n.pong_received < p) {
                best = Some((id, n.pong_received));
            }
        }
        if let Some(k) = best.and_then(|(id, _)| cl.nodes[id].link) {
            send_ping(srv, k, MsgType::Ping);
        }
    }
    // Timeouts and failure detection.
    let cl = state(srv);
    let ids: Vec<NodeId> = cl.nodes.iter().map(|(id, _)| id).collect();
    let mut update = false;
    for id in ids {
        let cl = state(srv);
        let Some(n) = cl.nodes.get(id) else { continue };
        if n.is(flags::MYSELF | flags::NOADDR | flags::HANDSHAKE) {
            continue;
        }
        let ping_delay = now - n.ping_sent;
        let data_delay = now - n.data_received;
        if let Some(k) = n.link {
            let link_age = cl.bus.links.get(k).map_or(0, |l| now - l.ctime);
            if link_age > node_timeout
                && n.ping_sent != 0
                && ping_delay > node_timeout / 2
                && data_delay > node_timeout / 2
            {
                // The link looks stuck: reconnect (the next cron does it).
                free_link(srv, k);
            }
        }
        let cl = state(srv);
        let n = &cl.nodes[id];
        if let Some(k) = n.link {
            if cl.election.mf_end != 0 && cl.me().is_master() && cl.election.mf_replica == Some(id) {
                // A manual failover under way: keep the replica told of our offset.
                send_ping(srv, k, MsgType::Ping);
                continue;
            }
            if n.ping_sent == 0 && now - n.pong_received > node_timeout / 2 {
                send_ping(srv, k, MsgType::Ping);
                continue;
            }
        }
        let n = &mut cl.nodes[id];
        if n.ping_sent == 0 {
            continue;
        }
        let delay = ping_delay.min(data_delay);
        if delay > node_timeout && !n.is(flags::PFAIL | flags::FAIL) {
            log::debug!("*** NODE {} possibly failing", n.name_str());
            n.flags |= flags::PFAIL;
            update = true;
        }
    }
    let cl = state(srv);
    if update || !cl.ok {
        super::update_state(srv);
    }
}

/// Opens the outbound link to node `id` and sends PING (or MEET).
fn connect(srv: &mut Server, id: NodeId, now: i64) {
    let cl = state(srv);
    let n = &cl.nodes[id];
    let Ok(ip) = n.ip.parse::<IpAddr>() else {
        if n.ping_sent == 0 {
            cl.nodes[id].ping_sent = now;
        }
        return;
    };
    let addr = SocketAddr::new(ip, n.cport);
    let stream = match mio::net::TcpStream::connect(addr) {
        Ok(s) => s,
        Err(e) => {
            if n.ping_sent == 0 {
                cl.nodes[id].ping_sent = now;
            }
            log::debug!("Unable to connect to Cluster Node [{addr}]: {e}");
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let Some(key) = add_link(srv, Stream::Tcp(stream), Some(id), false, now) else { return };
    let cl = state(srv);
    let old_ping_sent = cl.nodes[id].ping_sent;
    cl.nodes[id].link = Some(key);
    let meet = cl.nodes[id].is(flags::MEET);
    send_ping(srv, key, if meet { MsgType::Meet } else { MsgType::Ping });
    let cl = state(srv);
    if old_ping_sent != 0 {
        // Keep the time of the first unanswered PING: a reconnect must not
        // hide a failing node.
        cl.nodes[id].ping_sent = old_ping_sent;
    }
    cl.nodes[id].flags &= !flags::MEET;
    log::debug!("Connecting with Node {} at {}:{}", cl.nodes[id].name_str(), cl.nodes[id].ip, cl.nodes[id].cport);
}

// ------------------------------------------------------------ CLUSTER LINKS

/// CLUSTER LINKS.
pub fn links_reply(srv: &mut Server, c: &mut crate::client::Client) {
    let cl = state(srv);
    let rows: Vec<(&'static str, String, i64, &'static str, usize, usize)> = cl
        .bus
        .links
        .iter()
        .filter_map(|(_, l)| {
            let n = cl.nodes.get(l.node?)?;
            let events = if l.sndbuf.is_empty() { "r" } else { "rw" };
            Some((
                if l.inbound { "from" } else { "to" },
                n.name_str().to_string(),
                l.ctime,
                events,
                l.sndbuf.capacity(),
                l.sndbuf.len(),
            ))
        })
        .collect();
    c.reply.array(rows.len());
    for (dir, node, ctime, events, alloc, used) in rows {
        c.reply.map(6);
        c.reply.bulk(b"direction");
        c.reply.bulk(dir.as_bytes());
        c.reply.bulk(b"node");
        c.reply.bulk(node.as_bytes());
        c.reply.bulk(b"create-time");
        c.reply.int(ctime);
        c.reply.bulk(b"events");
        c.reply.bulk(events.as_bytes());
        c.reply.bulk(b"send-buffer-allocated");
        c.reply.int(alloc as i64);
        c.reply.bulk(b"send-buffer-used");
        c.reply.int(used as i64);
    }
}

/// Bytes held by bus links (INFO `mem_cluster_links`).
pub fn links_memory(srv: &Server) -> usize {
    srv.cluster.as_ref().map_or(0, |cl| {
        cl.bus.links.iter().map(|(_, l)| l.sndbuf.capacity() + l.rcvbuf.capacity() + std::mem::size_of::<Link>()).sum()
    })
}

/// Number of bus links (INFO `cluster_connections`).
pub fn links_count(srv: &Server) -> usize {
    srv.cluster.as_ref().map_or(0, |cl| cl.bus.links.len())
}
