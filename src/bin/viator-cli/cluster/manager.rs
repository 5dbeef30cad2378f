//! The cluster manager's view of a whole cluster: the node list loaded from one
//! entry node, and the operations every subcommand shares.
//!
//! Owns loading (the entry node's `CLUSTER NODES`, then each node's own view), the
//! `check` report (agreement, open slots, coverage, multiple owners), the node
//! listings of `info` and `check`, waiting for a cluster to agree after MEET, and
//! moving one slot (SETSLOT IMPORTING/MIGRATING, GETKEYSINSLOT + MIGRATE batches,
//! SETSLOT NODE everywhere). It does not parse options nor decide what to move: the
//! subcommands in `commands.rs` and the repairs in `fix.rs` do. Mirrors redis-cli
//! 7.0's `clusterManager*` helpers, their messages and their order of operations.

use std::time::Duration;

use viator::resp::value::Value;

use super::node::{self, parse_address, Node, DISCONNECTED, FAIL, NOADDR, SLOTS};
use super::{log_err, log_info, log_ok, log_warn, out, Auth, Options};

/// How `move_slot` works and reports.
#[derive(Clone, Copy, Default)]
pub struct MoveOpts {
    /// Print a dot per migrated key.
    pub verbose: bool,
    /// Only move keys: do not open the slot nor reassign it.
    pub cold: bool,
    /// Update the manager's slot maps of source and target.
    pub update: bool,
    /// Print no "Moving slot" line.
    pub quiet: bool,
}

/// Seconds `wait_for_join` waits before it reports unreachable nodes.
const JOIN_CHECK_AFTER: usize = 20;

/// The cluster being managed.
pub struct Manager {
    pub nodes: Vec<Node>,
    /// Problems `check` found, in the order found.
    pub errors: Vec<String>,
    /// Masters named by the entry node that could not be loaded.
    pub unreachable_masters: usize,
    pub opt: Options,
    pub auth: Auth,
}

impl Manager {
    pub fn new(opt: Options, auth: Auth) -> Manager {
        Manager { nodes: Vec::new(), errors: Vec::new(), unreachable_masters: 0, opt, auth }
    }

    /// The node whose id is `name` (case-insensitive).
    pub fn by_name(&self, name: &str) -> Option<usize> {
        let lc = name.to_ascii_lowercase();
        self.nodes.iter().position(|n| !n.name.is_empty() && n.name == lc)
    }

    /// The first node whose id starts with `prefix` (case-insensitive).
    pub fn by_prefix(&self, prefix: &str) -> Option<usize> {
        let lc = prefix.to_ascii_lowercase();
        self.nodes.iter().position(|n| !n.name.is_empty() && n.name.starts_with(&lc))
    }

    /// Master indexes, in list order.
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&i| !self.nodes[i].is_replica()).collect()
    }

    /// Connects to `node`, checks it is a cluster node, and loads the cluster as it
    /// sees it: the node first, then every other node that answers and is not failed,
    /// each loaded from its own `CLUSTER NODES`. Prints why on failure.
    pub fn load_from(&mut self, mut entry: Node) -> bool {
        if !entry.is_connected() && !entry.connect(&self.auth) {
            return false;
        }
        match entry.is_cluster() {
            Ok(true) => {}
            Ok(false) | Err(None) => {
                print_not_cluster(&entry, None);
                return false;
            }
            Err(Some(e)) => {
                print_not_cluster(&entry, Some(&e));
                return false;
            }
        }
        let friends = match entry.load_info(true) {
            Ok(f) => f,
            Err(e) => {
                if let Some(e) = e {
                    entry.print_error(&e);
                }
                return false;
            }
        };
        self.nodes.clear();
        self.nodes.push(entry);
        for mut f in friends {
            let mut valid = f.port != 0 && (f.is_connected() || f.connect(&self.auth));
            if valid {
                match f.load_info(false) {
                    Ok(_) => valid = f.flags & (NOADDR | DISCONNECTED | FAIL) == 0,
                    Err(_) => {
                        log_err(&format!("[ERR] Unable to load info for node {}:{}\n", f.ip, f.port));
                        valid = false;
                    }
                }
            }
            if valid {
                self.nodes.push(f);
            } else if !f.is_replica() {
                self.unreachable_masters += 1;
            }
        }
        for i in 0..self.nodes.len() {
            let Some(master) = self.nodes[i].replicate.clone() else { continue };
            match self.by_name(&master) {
                Some(m) => self.nodes[m].replicas_count += 1,
                None => {
                    let n = &self.nodes[i];
                    log_warn(&format!(
                        "*** WARNING: {}:{} claims to be slave of unknown node ID {}.\n",
                        n.ip, n.port, master
                    ));
                }
            }
        }
        true
    }

    /// Every node's description, as `check` lists them.
    pub fn show_nodes(&self) {
        for n in &self.nodes {
            out(&format!("{}\n", n.describe(0)));
        }
    }

    /// `info`'s table: keys, slots and replicas per master, then the totals.
    pub fn show_cluster_info(&mut self) {
        let mut masters = 0;
        let mut keys: i64 = 0;
        for i in 0..self.nodes.len() {
            if self.nodes[i].is_replica() || self.nodes[i].name.is_empty() {
                continue;
            }
            let name = self.nodes[i].name.clone();
            let replicas = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(j, n)| *j != i && n.is_replica() && n.replicate.as_deref() == Some(name.as_str()))
                .count();
            let reply = self.nodes[i].cmd(&["DBSIZE"]);
            let dbsize = match &reply {
                Some(Value::Int(n)) if *n >= 0 => *n,
                _ => {
                    let err = reply.as_ref().and_then(Value::error_text).map(String::from_utf8_lossy);
                    self.nodes[i].print_error(err.as_deref().unwrap_or(""));
                    return;
                }
            };
            let n = &self.nodes[i];
            let short: String = name.chars().take(8).collect();
            out(&format!(
                "{}:{} ({short}...) -> {dbsize} keys | {} slots | {replicas} slaves.\n",
                n.ip, n.port, n.slots_count
            ));
            masters += 1;
            keys += dbsize;
        }
        log_ok(&format!("[OK] {keys} keys in {masters} masters.\n"));
        out(&format!("{:.2} keys per slot on average.\n", keys as f32 / SLOTS as f32));
    }

    /// Records a problem found by `check` and prints it.
    pub fn on_error(&mut self, err: String) {
        log_err(&format!("{err}\n"));
        self.errors.push(err);
    }

    fn nodes_text(&mut self, i: usize) -> Option<String> {
        let v = self.nodes[i].cmd(&["CLUSTER", "NODES"])?;
        if v.is_error() {
            return None;
        }
        v.as_bytes().map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// Whether every node reports the same slot owners.
    pub fn is_config_consistent(&mut self) -> bool {
        if self.nodes.len() <= 1 {
            return true;
        }
        let mut first: Option<String> = None;
        for i in 0..self.nodes.len() {
            let Some(sig) = self.nodes_text(i).and_then(|t| node::config_signature(&t)) else {
                return false;
            };
            match &first {
                None => first = Some(sig),
                Some(f) if *f != sig => return false,
                Some(_) => {}
            }
        }
        true
    }

    /// For every node some other node cannot reach: the reporting nodes' addresses.
    fn link_status(&mut self) -> Vec<(String, Vec<String>)> {
        let mut status: Vec<(String, Vec<String>)> = Vec::new();
        for i in 0..self.nodes.len() {
            let Some(text) = self.nodes_text(i) else { continue };
            let me = format!("{}:{}", self.nodes[i].ip, self.nodes[i].port);
            for addr in node::disconnected_links(&text) {
                match status.iter_mut().find(|(a, _)| *a == addr) {
                    Some((_, from)) => from.push(me.clone()),
                    None => status.push((addr, vec![me.clone()])),
                }
            }
        }
        status
    }

    /// Prints a dot a second until every node agrees on the slot owners, reporting
    /// nodes that seem unreachable now and then.
    pub fn wait_for_join(&mut self) {
        out("Waiting for the cluster to join\n");
        let check_after = JOIN_CHECK_AFTER + (self.nodes.len() as f32 * 0.15) as usize;
        let mut counter = 0;
        while !self.is_config_consistent() {
            out(".");
            std::thread::sleep(Duration::from_secs(1));
            counter += 1;
            if counter > check_after {
                let status = self.link_status();
                if !status.is_empty() {
                    out("\n");
                    log_err(&format!("Warning: {} node(s) may be unreachable\n", status.len()));
                    for (addr, from) in status {
                        match parse_address(&addr) {
                            Some((ip, _, bus)) if bus != 0 => {
                                log_err(&format!(" - The port {bus} of node {ip} may be unreachable from:\n"))
                            }
                            _ => log_err(&format!(" - Node {addr} may be unreachable from:\n")),
                        }
                        for f in from {
                            log_err(&format!("   {f}\n"));
                        }
                        log_err(
                            "Cluster bus ports must be reachable by every node.\n\
                             Remember that cluster bus ports are different from standard instance ports.\n",
                        );
                    }
                }
                counter = 0;
            }
        }
        out("\n");
    }

    /// The `check` report. `quiet` leaves out the node list. With the fix flag set,
    /// repairs open slots, uncovered slots and (with `--cluster-search-multiple-owners`)
    /// slots with several owners. True when no problem was found (or all were fixed).
    pub fn check_cluster(&mut self, quiet: bool) -> bool {
        let Some(first) = self.nodes.first() else { return false };
        log_info(&format!(">>> Performing Cluster Check (using node {}:{})\n", first.ip, first.port));
        let mut result = true;
        let do_fix = self.opt.fix;
        if !quiet {
            self.show_nodes();
        }
        if !self.is_config_consistent() {
            self.on_error("[ERR] Nodes don't agree about configuration!".into());
            result = false;
        } else {
            log_ok("[OK] All nodes agree about slots configuration.\n");
        }
        log_info(">>> Check for open slots...\n");
        let mut open: Vec<String> = Vec::new();
        for i in 0..self.nodes.len() {
            for (kind, list) in
                [("migrating", self.nodes[i].migrating.clone()), ("importing", self.nodes[i].importing.clone())]
            {
                if list.is_empty() {
                    continue;
                }
                let slots: Vec<&str> = list.iter().map(|(s, _)| s.as_str()).collect();
                for s in &slots {
                    if !open.iter().any(|o| o == s) {
                        open.push(s.to_string());
                    }
                }
                let n = &self.nodes[i];
                self.on_error(format!(
                    "[WARNING] Node {}:{} has slots in {kind} state {}.",
                    n.ip,
                    n.port,
                    slots.join(",")
                ));
            }
        }
        if !open.is_empty() {
            result = false;
            log_err(&format!("[WARNING] The following slots are open: {}.\n", open.join(",")));
            if do_fix {
                for s in &open {
                    let slot = crate::opts::atoi(s.as_bytes());
                    if !(0..SLOTS as i64).contains(&slot) {
                        continue;
                    }
                    result = self.fix_open_slot(slot as usize);
                    if !result {
                        break;
                    }
                }
            }
        }
        log_info(">>> Check slots coverage...\n");
        let mut covered = vec![false; SLOTS];
        for n in &self.nodes {
            for (c, has) in covered.iter_mut().zip(&n.slots) {
                *c |= *has;
            }
        }
        if covered.iter().all(|c| *c) {
            log_ok(&format!("[OK] All {SLOTS} slots covered.\n"));
        } else {
            self.on_error(format!("[ERR] Not all {SLOTS} slots are covered by nodes.\n"));
            result = false;
            if do_fix && self.fix_slots_coverage(&covered) > 0 {
                result = true;
            }
        }
        if self.opt.search_multiple_owners {
            log_info(">>> Check for multiple slot owners...\n");
            let mut with_many = 0;
            for slot in 0..SLOTS {
                let mut owners = Vec::new();
                for i in self.masters() {
                    if self.nodes[i].slots[slot] || self.nodes[i].count_keys_in_slot(slot) > 0 {
                        owners.push(i);
                    }
                }
                if owners.len() > 1 {
                    result = false;
                    log_err(&format!("[WARNING] Slot {slot} has {} owners:\n", owners.len()));
                    for &o in &owners {
                        log_err(&format!("    {}:{}\n", self.nodes[o].ip, self.nodes[o].port));
                    }
                    with_many += 1;
                    if do_fix {
                        result = self.fix_multiple_owners(slot, &owners);
                        if !result {
                            log_err(&format!("Failed to fix multiple owners for slot {slot}\n"));
                            break;
                        }
                        with_many -= 1;
                    }
                }
            }
            if with_many == 0 {
                log_ok("[OK] No multiple owners found.\n");
            }
        }
        result
    }

    /// `CLUSTER SETSLOT` on node `i`. With `want_err` the error text is returned;
    /// otherwise an error reply is printed and `Err(None)` returned.
    pub fn set_slot(
        &mut self,
        i: usize,
        slot: usize,
        status: &str,
        id: &str,
        want_err: bool,
    ) -> Result<(), Option<String>> {
        match self.nodes[i].set_slot(slot, status, id) {
            Ok(()) => Ok(()),
            Err(Some(e)) if want_err => Err(Some(e)),
            Err(Some(e)) => {
                self.nodes[i].print_error(&e);
                Err(None)
            }
            Err(None) => Err(want_err.then(|| "CLUSTER SETSLOT failed to run".to_string())),
        }
    }

    /// The owner of `slot` according to node `i`'s `CLUSTER SLOTS`: `Ok(None)` when
    /// unassigned (or when no reply came), `Err` with an error reply's text.
    pub fn slot_owner(&mut self, i: usize, slot: usize) -> Result<Option<usize>, String> {
        let ranges = match self.nodes[i].cmd(&["CLUSTER", "SLOTS"]) {
            None => return Ok(None),
            Some(Value::Array(r)) => r,
            Some(v) => return Err(v.error_text().map(|e| String::from_utf8_lossy(e).into_owned()).unwrap_or_default()),
        };
        for r in &ranges {
            let Value::Array(parts) = r else { continue };
            let (Some(Value::Int(from)), Some(Value::Int(to)), Some(Value::Array(master))) =
                (parts.first(), parts.get(1), parts.get(2))
            else {
                continue;
            };
            if (slot as i64) < *from || (slot as i64) > *to {
                continue;
            }
            let owner = match master.get(2).and_then(Value::as_bytes) {
                Some(id) => self.by_name(&String::from_utf8_lossy(id)),
                None => {
                    let ip = master.first().and_then(Value::as_bytes).map(String::from_utf8_lossy);
                    let port = match master.get(1) {
                        Some(Value::Int(p)) => *p,
                        _ => -1,
                    };
                    ip.and_then(|ip| self.nodes.iter().position(|n| n.ip == ip && i64::from(n.port) == port))
                }
            };
            if owner.is_some() {
                return Ok(owner);
            }
        }
        Ok(None)
    }

    /// MIGRATE of `keys` from node `src` to node `dst` in one call, with the
    /// configured timeout and credentials.
    fn migrate(&mut self, src: usize, dst: usize, keys: &[Vec<u8>], replace: bool) -> Option<Value> {
        let port = self.nodes[dst].port.to_string();
        let timeout = self.opt.timeout.to_string();
        let ip = self.nodes[dst].ip.clone();
        let mut args: Vec<&[u8]> = vec![b"MIGRATE", ip.as_bytes(), port.as_bytes(), b"", b"0", timeout.as_bytes()];
        if replace {
            args.push(b"REPLACE");
        }
        if let Some(pass) = &self.auth.pass {
            match &self.auth.user {
                Some(user) => args.extend([b"AUTH2".as_slice(), user, pass]),
                None => args.extend([b"AUTH".as_slice(), pass]),
            }
        }
        args.push(b"KEYS");
        args.extend(keys.iter().map(Vec::as_slice));
        self.nodes[src].call(&args)
    }

    /// Keys of `keys` present on both nodes with different values (DEBUG DIGEST-VALUE).
    fn differing_keys(&mut self, a: usize, b: usize, keys: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, ()> {
        let mut args: Vec<&[u8]> = vec![b"DEBUG", b"DIGEST-VALUE"];
        args.extend(keys.iter().map(Vec::as_slice));
        let r1 = self.nodes[a].call(&args).ok_or(())?;
        let r2 = self.nodes[b].call(&args).ok_or(())?;
        let mut ok = true;
        for (i, r) in [(a, &r1), (b, &r2)] {
            if let Some(e) = r.error_text() {
                self.nodes[i].print_error(&String::from_utf8_lossy(e));
                ok = false;
            }
        }
        if !ok {
            return Err(());
        }
        let (Value::Array(h1), Value::Array(h2)) = (&r1, &r2) else { return Err(()) };
        let zero = [b'0'; 40];
        let mut diffs = Vec::new();
        for (k, (x, y)) in keys.iter().zip(h1.iter().zip(h2)) {
            let (x, y) = (x.as_bytes().unwrap_or(&zero), y.as_bytes().unwrap_or(&zero));
            if x == zero || y == zero {
                continue;
            }
            if x != y {
                diffs.push(k.clone());
            }
        }
        Ok(diffs)
    }

    /// Moves every key of `slot` from `src` to `dst`, `pipeline` keys per MIGRATE.
    /// Existing target keys are replaced when their values are equal or with
    /// `--cluster-replace`; with the fix flag, an unserved slot is given to `dst`.
    fn migrate_keys_in_slot(
        &mut self,
        src: usize,
        dst: usize,
        slot: usize,
        verbose: bool,
        want_err: bool,
    ) -> Result<(), Option<String>> {
        let (do_fix, do_replace, pipeline) = (self.opt.fix, self.opt.replace, self.opt.pipeline);
        loop {
            let keys = match self.nodes[src].keys_in_slot(slot, pipeline) {
                Ok(k) => k,
                Err(None) => return Err(None),
                Err(Some(e)) => {
                    if want_err {
                        self.nodes[src].print_error(&e);
                        return Err(Some(e));
                    }
                    return Err(None);
                }
            };
            if keys.is_empty() {
                return Ok(());
            }
            let Some(reply) = self.migrate(src, dst, &keys, false) else { continue };
            if let Some(e) = reply.error_text() {
                let first_err = String::from_utf8_lossy(e).into_owned();
                let is_busy = first_err.contains("BUSYKEY");
                let mut not_served = false;
                if !is_busy {
                    match self.slot_owner(src, slot) {
                        Ok(None) => not_served = true,
                        Ok(Some(_)) => {}
                        Err(e) => self.nodes[src].print_error(&e),
                    }
                }
                let retry = if is_busy || not_served {
                    if do_fix && not_served {
                        log_warn(&format!(
                            "*** Slot was not served, setting owner to node {}:{}.\n",
                            self.nodes[dst].ip, self.nodes[dst].port
                        ));
                        let id = self.nodes[dst].name.clone();
                        let _ = self.set_slot(src, slot, "node", &id, false);
                    }
                    if is_busy {
                        log_warn("\n*** Target key exists\n");
                        if !do_replace {
                            log_warn("*** Checking key values on both nodes...\n");
                            let Ok(diffs) = self.differing_keys(src, dst, &keys) else {
                                log_err("*** Value check failed!\n");
                                return Err(None);
                            };
                            if !diffs.is_empty() {
                                let (s, d) = (&self.nodes[src], &self.nodes[dst]);
                                log_err(&format!(
                                    "*** Found {} key(s) in both source node and target node having different values.\n    \
                                     Source node: {}:{}\n    Target node: {}:{}\n    Keys(s):\n",
                                    diffs.len(),
                                    s.ip,
                                    s.port,
                                    d.ip,
                                    d.port
                                ));
                                for k in &diffs {
                                    log_err(&format!("    - {}\n", String::from_utf8_lossy(k)));
                                }
                                log_err(
                                    "Please fix the above key(s) manually and try again or relaunch the command \n\
                                     with --cluster-replace option to force key overriding.\n",
                                );
                                return Err(None);
                            }
                        }
                        log_warn("*** Replacing target keys...\n");
                    }
                    Some(self.migrate(src, dst, &keys, is_busy))
                } else {
                    None
                };
                let failure = match &retry {
                    None => Some(first_err),
                    Some(None) => return Err(None),
                    Some(Some(v)) => v.error_text().map(|e| String::from_utf8_lossy(e).into_owned()),
                };
                if let Some(e) = failure {
                    out("\n");
                    self.nodes[src].print_error(&e);
                    return Err(want_err.then_some(e));
                }
            }
            if verbose {
                out(&".".repeat(keys.len()));
            }
        }
    }

    /// Moves `slot` from node `src` to node `dst`, as redis-cli's reshard does:
    /// IMPORTING on the target, MIGRATING on the source, the keys, then NODE on the
    /// target, the source and every other master. With `want_err` the failure's text
    /// is returned instead of printed.
    pub fn move_slot(
        &mut self,
        src: usize,
        dst: usize,
        slot: usize,
        o: MoveOpts,
        want_err: bool,
    ) -> Result<(), Option<String>> {
        if !o.quiet {
            let (s, d) = (&self.nodes[src], &self.nodes[dst]);
            out(&format!("Moving slot {slot} from {}:{} to {}:{}: ", s.ip, s.port, d.ip, d.port));
        }
        let (src_id, dst_id) = (self.nodes[src].name.clone(), self.nodes[dst].name.clone());
        if !o.cold {
            self.set_slot(dst, slot, "importing", &src_id, want_err)?;
            self.set_slot(src, slot, "migrating", &dst_id, want_err)?;
        }
        let moved = self.migrate_keys_in_slot(src, dst, slot, o.verbose, want_err);
        if !o.quiet {
            out("\n");
        }
        moved?;
        if !o.cold {
            // The target first: it spreads the news, and the slot is never ownerless.
            self.set_slot(dst, slot, "node", &dst_id, want_err)?;
            match self.set_slot(src, slot, "node", &dst_id, want_err) {
                // COMPAT: a source that just lost its last slot may have become a
                // replica of the target; that is fine.
                Err(Some(e)) if e.starts_with("ERR Please use SETSLOT only with masters.") => {}
                Err(e) if want_err => return Err(e),
                _ => {}
            }
            for i in 0..self.nodes.len() {
                if i == src || i == dst || self.nodes[i].is_replica() {
                    continue;
                }
                self.set_slot(i, slot, "node", &dst_id, want_err)?;
            }
        }
        if o.update {
            self.nodes[src].slots[slot] = false;
            self.nodes[dst].slots[slot] = true;
        }
        Ok(())
    }

    /// The slots to move to reach `numslots` from `sources`, each source giving in
    /// proportion to its slots (the largest rounded up, the others down), lowest slots
    /// first.
    pub fn reshard_table(&self, sources: &[usize], numslots: i32) -> Vec<(usize, usize)> {
        let total: usize = sources.iter().map(|&s| self.nodes[s].slots_count).sum();
        let mut sorted = sources.to_vec();
        sorted.sort_by(|a, b| self.nodes[*b].slots_count.cmp(&self.nodes[*a].slots_count));
        let mut moved = Vec::new();
        for (k, &s) in sorted.iter().enumerate() {
            let n = &self.nodes[s];
            let share = numslots as f32 / total as f32 * n.slots_count as f32;
            let max = if k == 0 { share.ceil() } else { share.floor() } as i64;
            for (count, slot) in (0..SLOTS).filter(|&j| n.slots[j]).enumerate() {
                if count as i64 >= max || moved.len() as i64 >= i64::from(numslots) {
                    break;
                }
                moved.push((s, slot));
            }
        }
        moved
    }

    /// The master with the fewest replicas (the first such in list order), other
    /// than `except`.
    pub fn least_replicated_master(&self, except: Option<usize>) -> Option<usize> {
        let mut best: Option<usize> = None;
        for i in self.masters() {
            if Some(i) == except {
                continue;
            }
            if best.is_none_or(|b| self.nodes[i].replicas_count < self.nodes[b].replicas_count) {
                best = Some(i);
            }
        }
        best
    }
}

/// redis-cli's "[ERR] Node host:port is not configured as a cluster node." (or the
/// error reply's text in its place).
pub fn print_not_cluster(n: &Node, err: Option<&str>) {
    let msg = err.unwrap_or("is not configured as a cluster node.");
    log_err(&format!("[ERR] Node {}:{} {msg}\n", n.ip, n.port));
}

/// redis-cli's "[ERR] Node host:port is not empty..." (or the error reply's text).
pub fn print_not_empty(n: &Node, err: Option<&str>) {
    let msg = err.unwrap_or(
        "is not empty. Either the node already knows other nodes (check with CLUSTER NODES) \
         or contains some key in database 0.",
    );
    log_err(&format!("[ERR] Node {}:{} {msg}\n", n.ip, n.port));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manager over unconnected nodes owning the given slot ranges.
    fn with_masters(ranges: &[(usize, usize)]) -> Manager {
        let mut m = Manager::new(Options::default(), Auth::default());
        for (k, &(a, b)) in ranges.iter().enumerate() {
            let mut n = Node::new("127.0.0.1", 7000 + k as i32, 0);
            n.name = format!("{k:040}");
            (a..=b).for_each(|s| n.slots[s] = true);
            n.slots_count = b - a + 1;
            m.nodes.push(n);
        }
        m
    }

    #[test]
    fn reshard_table_takes_in_proportion_lowest_slots_first() {
        let m = with_masters(&[(0, 5460), (5461, 10922), (10923, 16383)]);
        let t = m.reshard_table(&[0, 1, 2], 1000);
        assert_eq!(t.len(), 1000);
        // The largest source (5462 slots) rounds up and comes first.
        assert_eq!(t[0], (1, 5461));
        let from = |i: usize| t.iter().filter(|(s, _)| *s == i).count();
        assert_eq!((from(1), from(0), from(2)), (334, 333, 333));
        assert!(t.iter().filter(|(s, _)| *s == 0).map(|(_, slot)| *slot).eq(0..333));
        let one = m.reshard_table(&[2], 10);
        assert!(one.iter().map(|(_, s)| *s).eq(10923..10933));
    }

    #[test]
    fn lookups_by_id_and_prefix_ignore_case() {
        let mut m = with_masters(&[(0, 1), (2, 3)]);
        m.nodes[1].name = "abcdef0123".into();
        assert_eq!(m.by_name("ABCDEF0123"), Some(1));
        assert_eq!(m.by_name("abcdef"), None);
        assert_eq!(m.by_prefix("ABC"), Some(1));
        m.nodes[0].replicas_count = 2;
        assert_eq!(m.least_replicated_master(None), Some(1));
        assert_eq!(m.least_replicated_master(Some(1)), Some(0));
    }
}
