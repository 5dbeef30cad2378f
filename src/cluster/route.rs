//! Routing: which node serves a command's keys, and the redirection or
//! error a client gets when it is not this one (Redis's getNodeByQuery and
//! clusterRedirectClient): MOVED, ASK, TRYAGAIN, CROSSSLOT, CLUSTERDOWN.
//!
//! Also the keyspace questions the cluster asks per slot (how many keys,
//! which keys, which slots hold keys), answered here in one place.

use super::wire::flags;
use super::{key_hash_slot, NodeId};
use crate::client::reply::ReplyError;
use crate::client::Client;
use crate::cmd::spec::CmdFlags;
use crate::db::Keyspace;
use crate::server::Server;
use crate::types::sds::Sds;

/// Why a command is not served here.
enum Redirect {
    Moved(NodeId, usize),
    Ask(NodeId, usize),
    CrossSlot,
    Unstable,
    Down,
    DownReadOnly,
    Unbound,
}

/// The cluster check of processCommand: None when this node runs the
/// command, else the error to reply. An EXEC refused here discards its
/// transaction.
pub fn check(srv: &mut Server, c: &mut Client, idx: usize) -> Option<ReplyError> {
    let me = srv.cluster.as_ref()?.myself;
    if c.flags.master || c.flags.slot_import || c.id == crate::client::AOF_CLIENT_ID {
        return None;
    }
    let cmd = &srv.commands.cmds[idx];
    let is_exec = cmd.name == "exec";
    if !is_exec && cmd.spec.key_specs.is_empty() && !cmd.flags.has(CmdFlags::MOVABLE_KEYS) {
        return None;
    }
    let redirect = match query(srv, c, idx) {
        Ok(n) if n == me => return None,
        Ok(n) => Redirect::Moved(n, first_slot(srv, c, idx).unwrap_or(0)),
        Err(r) => r,
    };
    if is_exec {
        crate::cmd::multi::discard_transaction(srv, c);
    }
    Some(render(srv, redirect))
}

fn render(srv: &Server, r: Redirect) -> ReplyError {
    // COMPAT: clusterRedirectClient's texts.
    let text = match r {
        Redirect::CrossSlot => "CROSSSLOT Keys in request don't hash to the same slot".to_string(),
        Redirect::Unstable => "TRYAGAIN Multiple keys request during rehashing of slot".to_string(),
        Redirect::Down => "CLUSTERDOWN The cluster is down".to_string(),
        Redirect::DownReadOnly => "CLUSTERDOWN The cluster is down and only accepts read commands".to_string(),
        Redirect::Unbound => "CLUSTERDOWN Hash slot not served".to_string(),
        Redirect::Moved(n, slot) | Redirect::Ask(n, slot) => {
            let word = if matches!(r, Redirect::Ask(..)) { "ASK" } else { "MOVED" };
            let cl = srv.cluster.as_ref().expect("cluster mode");
            let node = &cl.nodes[n];
            format!("{word} {slot} {}:{}", super::preferred_endpoint(srv, node), node.port)
        }
    };
    ReplyError::other(text)
}

/// The slot of the first key of the command (for MOVED).
fn first_slot(srv: &Server, c: &Client, idx: usize) -> Option<usize> {
    let cmds = commands_of(srv, c, idx);
    cmds.iter().find_map(|(i, argv)| {
        let pos = srv.commands.cmds[*i].key_positions(argv);
        pos.first().map(|&p| key_hash_slot(&argv[p]) as usize)
    })
}

/// The commands to look at: the queued transaction for EXEC, else this one.
pub(super) fn commands_of<'a>(srv: &Server, c: &'a Client, idx: usize) -> Vec<(usize, &'a [bytes::Bytes])> {
    if srv.commands.cmds[idx].name == "exec" {
        c.multi_queue.iter().map(|(i, argv)| (*i, argv.as_slice())).collect()
    } else {
        vec![(idx, c.argv.as_slice())]
    }
}

/// getNodeByQuery: the node that must serve the command.
fn query(srv: &Server, c: &Client, idx: usize) -> Result<NodeId, Redirect> {
    let cl = srv.cluster.as_ref().expect("cluster mode");
    let me = cl.myself;
    let is_exec = srv.commands.cmds[idx].name == "exec";
    if is_exec && !c.flags.multi {
        return Ok(me);
    }
    let name = srv.commands.cmds[idx].name;
    let pubsub_shard = matches!(name, "ssubscribe" | "sunsubscribe" | "spublish");
    let mut first: Option<(&[u8], usize, NodeId)> = None;
    let (mut migrating, mut importing, mut multiple_keys) = (false, false, false);
    let (mut missing, mut existing) = (0, 0);
    let mut to_probe: Vec<&[u8]> = Vec::new();
    let mut write = false;
    for (i, argv) in commands_of(srv, c, idx) {
        let cmd = &srv.commands.cmds[i];
        write |= cmd.flags.has(CmdFlags::WRITE);
        for p in cmd.key_positions(argv) {
            let key: &[u8] = &argv[p];
            let slot = key_hash_slot(key) as usize;
            match first {
                None => {
                    let Some(owner) = cl.slots[slot] else { return Err(Redirect::Unbound) };
                    if owner == me && cl.migrating_to[slot].is_some() {
                        migrating = true;
                    } else if cl.importing_from[slot].is_some() {
                        importing = true;
                    }
                    first = Some((key, slot, owner));
                }
                Some((k0, s0, _)) => {
                    if k0 != key {
                        if s0 != slot {
                            return Err(Redirect::CrossSlot);
                        }
                        multiple_keys = true;
                    }
                }
            }
            if (migrating || importing) && !pubsub_shard {
                to_probe.push(key);
            }
        }
    }
    let Some((_, slot, owner)) = first else { return Ok(me) };
    let cl_ok = cl.ok;
    let me_node = &cl.nodes[me];
    let (me_replica, me_master) = (me_node.is(flags::SLAVE), me_node.replica_of);
    let migrating_target = cl.migrating_to[slot];
    if !cl_ok {
        if pubsub_shard {
            if !srv.config.cluster_allow_pubsubshard_when_down {
                return Err(Redirect::Down);
            }
        } else if !srv.config.cluster_allow_reads_when_down {
            return Err(Redirect::Down);
        } else if write {
            return Err(Redirect::DownReadOnly);
        }
    }
    for key in to_probe {
        if key_exists_quietly(&srv.ks, key) {
            existing += 1;
        } else {
            missing += 1;
        }
    }
    let cmd_name = srv.commands.cmds[idx].name;
    if (migrating || importing) && cmd_name == "migrate" {
        return Ok(me);
    }
    if migrating && missing > 0 {
        if existing > 0 {
            return Err(Redirect::Unstable);
        }
        return Err(Redirect::Ask(migrating_target.unwrap_or(me), slot));
    }
    if importing && (c.flags.asking || srv.commands.cmds[idx].flags.has(CmdFlags::ASKING)) {
        if multiple_keys && missing > 0 {
            return Err(Redirect::Unstable);
        }
        return Ok(me);
    }
    if (c.flags.readonly || pubsub_shard) && !write && me_replica && me_master == Some(owner) {
        return Ok(me);
    }
    if owner != me {
        return Err(Redirect::Moved(owner, slot));
    }
    Ok(me)
}

/// Whether `key` exists in db 0, without touching it, counting stats or
/// expiring it (the LOOKUP_NOTOUCH|NOSTATS|NONOTIFY|NOEXPIRE lookup).
fn key_exists_quietly(ks: &Keyspace, key: &[u8]) -> bool {
    let db = &ks.dbs[0];
    if !db.dict.contains_key(key) {
        return false;
    }
    match db.expires.get(key) {
        Some(&at) => at > ks.now_ms,
        None => true,
    }
}

/// Number of keys of db 0 in `slot` (from the per-slot index).
pub fn count_keys_in_slot(ks: &Keyspace, slot: usize) -> usize {
    ks.count_keys_in_slot(slot as u16) as usize
}

/// Up to `max` keys of db 0 in `slot`.
pub fn keys_in_slot(ks: &Keyspace, slot: usize, max: usize) -> Vec<Sds> {
    ks.keys_in_slot(slot as u16, max)
}

/// Slots of db 0 that hold at least one key, ascending.
pub fn slots_with_keys(ks: &Keyspace) -> Vec<usize> {
    ks.slots_with_keys().into_iter().map(usize::from).collect()
}
