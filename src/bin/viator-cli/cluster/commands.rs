//! The `--cluster` subcommands: create, check, info, fix (through check), reshard,
//! rebalance, add-node, del-node, call, set-timeout, import and backup.
//!
//! Each is one method on `Manager` returning success (the exit status is derived
//! from it). They follow redis-cli 7.0's `clusterManagerCommand*` step by step: same
//! checks, same messages, same order of commands sent to the nodes (create: ADDSLOTS,
//! SET-CONFIG-EPOCH, MEET, wait, REPLICATE, check). Shared cluster operations live in
//! `manager.rs`; nothing here parses replies beyond what one subcommand needs.

use std::io::Read;
use std::net::ToSocketAddrs;
use std::time::Duration;

use viator::resp::value::Value;

use super::manager::{print_not_cluster, print_not_empty, Manager, MoveOpts};
use super::node::{parse_address, Node, PORT_INCR, SLOTS};
use super::{confirm, log_err, log_info, log_ok, log_warn, out, read_line};
use crate::opts::{atof, atoi};

/// COMPAT: redis-cli's complaint about a bad host argument.
const INVALID_HOST_ARG: &str = "[ERR] Invalid arguments: you need to pass either a valid address \
                                (ie. 120.0.0.1:7000) or space separated IP and port (ie. 120.0.0.1 7000)";

/// `host:port` from one argument, or host and port from the first two.
fn host_from_args(args: &[String]) -> Option<(String, i32)> {
    let (ip, port) = match args {
        [one] => {
            let (ip, port, _) = parse_address(one)?;
            (ip.to_string(), port)
        }
        [ip, port, ..] => (ip.clone(), atoi(port.as_bytes()) as i32),
        [] => return None,
    };
    if port == 0 {
        return None;
    }
    Some((ip, port))
}

/// The first address `host` resolves to, as text (CLUSTER MEET wants an IP).
fn resolve(host: &str) -> Option<String> {
    (host, 0).to_socket_addrs().ok()?.next().map(|a| a.ip().to_string())
}

impl Manager {
    /// Loads the cluster from the node the arguments name, or explains why not.
    fn load_from_args(&mut self, args: &[String]) -> bool {
        let Some((ip, port)) = host_from_args(args) else {
            eprintln!("{INVALID_HOST_ARG}");
            return false;
        };
        self.load_from(Node::new(&ip, port, 0))
    }

    /// `check`: the table of `info`, then the check report.
    pub fn check(&mut self, args: &[String]) -> bool {
        if !self.load_from_args(args) {
            return false;
        }
        self.show_cluster_info();
        self.check_cluster(false)
    }

    /// `info`: keys, slots and replicas of every master.
    pub fn info(&mut self, args: &[String]) -> bool {
        if !self.load_from_args(args) {
            return false;
        }
        self.show_cluster_info();
        true
    }

    /// Connects to a node for `create` or `add-node` and checks that it is an empty
    /// cluster node (no key in db 0, knows no other node).
    fn empty_cluster_node(&self, ip: &str, port: i32, connect_err: bool) -> Option<Node> {
        let mut n = Node::new(ip, port, 0);
        if !n.connect(&self.auth) {
            if connect_err {
                log_err(&format!("[ERR] Sorry, can't connect to node {ip}:{port}\n"));
            }
            return None;
        }
        match n.is_cluster() {
            Ok(true) => {}
            Ok(false) | Err(None) => {
                print_not_cluster(&n, None);
                return None;
            }
            Err(Some(e)) => {
                print_not_cluster(&n, Some(&e));
                return None;
            }
        }
        if let Err(e) = n.load_info(false) {
            if let Some(e) = e {
                n.print_error(&e);
            }
            return None;
        }
        match n.is_empty() {
            Ok(true) => Some(n),
            Ok(false) | Err(None) => {
                print_not_empty(&n, None);
                None
            }
            Err(Some(e)) => {
                print_not_empty(&n, Some(&e));
                None
            }
        }
    }

    /// Sends a node its planned configuration: REPLICATE for a replica (left planned
    /// if it fails, the master may not be known yet), ADDSLOTS for a master.
    fn flush_node_config(&mut self, i: usize) -> (bool, Option<String>) {
        if !self.nodes[i].dirty {
            return (false, None);
        }
        let mut result = (true, None);
        if let Some(master) = self.nodes[i].replicate.clone() {
            match self.nodes[i].cmd(&["CLUSTER", "REPLICATE", &master]) {
                Some(v) if !v.is_error() => {}
                other => {
                    let err = other.and_then(|v| v.error_text().map(|e| String::from_utf8_lossy(e).into_owned()));
                    return (false, err);
                }
            }
        } else if let Err(e) = self.nodes[i].add_planned_slots() {
            result = (false, e);
        }
        self.nodes[i].dirty = false;
        result
    }

    /// CLUSTER MEET sent to node `i`, naming `first` (an IP) and its ports: the
    /// two-argument form when the bus port is the default one.
    fn meet(&mut self, i: usize, first_ip: &str, port: i32, bus_port: i32) -> Option<Value> {
        let p = port.to_string();
        if bus_port == 0 || bus_port == port + PORT_INCR {
            self.nodes[i].cmd(&["CLUSTER", "MEET", first_ip, &p])
        } else {
            self.nodes[i].cmd(&["CLUSTER", "MEET", first_ip, &p, &bus_port.to_string()])
        }
    }

    /// How badly replicas share hosts with their master (10000 each) or with another
    /// replica of the same master (1 each), and the replicas at fault.
    fn anti_affinity(&self, by_ip: &[Vec<usize>]) -> (i64, Vec<usize>) {
        let mut score = 0;
        let mut offenders = Vec::new();
        for group in by_ip {
            let Some(&first) = group.first() else { continue };
            let ip = &self.nodes[first].ip;
            // Master id -> roles on this host, the master's 'm' first.
            let mut related: Vec<(String, String)> = Vec::new();
            for &n in group {
                let node = &self.nodes[n];
                let key = node.replicate.clone().unwrap_or_else(|| node.name.clone());
                let pos = match related.iter().position(|(k, _)| *k == key) {
                    Some(p) => p,
                    None => {
                        related.push((key, String::new()));
                        related.len() - 1
                    }
                };
                if node.replicate.is_some() {
                    related[pos].1.push('s');
                } else {
                    related[pos].1.insert(0, 'm');
                }
            }
            for (master, roles) in &related {
                if roles.len() < 2 {
                    continue;
                }
                score += if roles.starts_with('m') { 10000 * (roles.len() as i64 - 1) } else { roles.len() as i64 };
                if let Some(o) =
                    self.nodes.iter().position(|n| n.replicate.as_deref() == Some(master.as_str()) && n.ip == *ip)
                {
                    offenders.push(o);
                }
            }
        }
        (score, offenders)
    }

    /// Swaps replicas between masters at random while that does not make the
    /// anti-affinity score worse, then reports the outcome.
    fn optimize_anti_affinity(&mut self, by_ip: &[Vec<usize>]) {
        if self.anti_affinity(by_ip).0 == 0 {
            return;
        }
        log_info(">>> Trying to optimize slaves allocation for anti-affinity\n");
        let mut rng = viator::util::rand::Rng::from_entropy();
        let mut maxiter = 500 * self.nodes.len();
        while maxiter > 0 {
            let (score, offenders) = self.anti_affinity(by_ip);
            if score == 0 || offenders.is_empty() {
                break;
            }
            let first = offenders[rng.below(offenders.len() as u64) as usize];
            let others: Vec<usize> =
                (0..self.nodes.len()).filter(|&i| i != first && self.nodes[i].replicate.is_some()).collect();
            if others.is_empty() {
                break;
            }
            let second = others[rng.below(others.len() as u64) as usize];
            let (a, b) = (self.nodes[first].replicate.take(), self.nodes[second].replicate.take());
            self.nodes[first].replicate = b.clone();
            self.nodes[second].replicate = a.clone();
            self.nodes[first].dirty = true;
            self.nodes[second].dirty = true;
            if self.anti_affinity(by_ip).0 > score {
                self.nodes[first].replicate = a;
                self.nodes[second].replicate = b;
            }
            maxiter -= 1;
        }
        let score = self.anti_affinity(by_ip).0;
        if score == 0 {
            log_ok("[OK] Perfect anti-affinity obtained!\n");
        } else if score >= 10000 {
            log_warn("[WARNING] Some slaves are in the same host as their master\n");
        } else {
            log_warn("[WARNING] Some slaves of the same master are in the same host\n");
        }
    }

    /// `create host:port...`: plans masters and replicas over empty nodes, asks, then
    /// configures them and joins them into one cluster.
    pub fn create(&mut self, args: &[String]) -> bool {
        for addr in args {
            let Some((ip, port, _)) = parse_address(addr) else {
                eprintln!("Invalid address format: {addr}"); // COMPAT
                return false;
            };
            match self.empty_cluster_node(ip, port, false) {
                Some(n) => self.nodes.push(n),
                None => return false,
            }
        }
        let total = self.nodes.len();
        let replicas = self.opt.replicas;
        let masters_count = if replicas + 1 > 0 { total / (replicas + 1) as usize } else { 0 };
        if masters_count < 3 {
            log_err(&format!(
                "*** ERROR: Invalid configuration for cluster creation.\n\
                 *** Redis Cluster requires at least 3 master nodes.\n\
                 *** This is not possible with {total} nodes and {replicas} replicas per node."
            ));
            log_err(&format!("\n*** At least {} nodes are required.\n", 3 * (replicas + 1)));
            return false;
        }
        log_info(&format!(">>> Performing hash slots allocation on {total} nodes...\n"));
        // Nodes grouped by host, then interleaved so masters spread over hosts.
        let mut by_ip: Vec<Vec<usize>> = Vec::new();
        for i in 0..total {
            match by_ip.iter_mut().find(|g| self.nodes[g[0]].ip == self.nodes[i].ip) {
                Some(g) => g.push(i),
                None => by_ip.push(vec![i]),
            }
        }
        let mut interleaved = Vec::with_capacity(total);
        for round in 0.. {
            if interleaved.len() == total {
                break;
            }
            interleaved.extend(by_ip.iter().filter_map(|g| g.get(round)));
        }
        let masters: Vec<usize> = interleaved[..masters_count].to_vec();
        let per_master = SLOTS as f32 / masters_count as f32;
        let mut first: i64 = 0;
        let mut cursor: f32 = 0.0;
        for (k, &m) in masters.iter().enumerate() {
            let mut last = f64::from(cursor + per_master - 1.0).round() as i64;
            if last > SLOTS as i64 || k == masters_count - 1 {
                last = SLOTS as i64 - 1;
            }
            last = last.max(first);
            out(&format!("Master[{k}] -> Slots {first} - {last}\n"));
            let n = &mut self.nodes[m];
            n.slots_count = 0;
            for s in first..=last {
                n.slots[s as usize] = true;
                n.slots_count += 1;
            }
            n.dirty = true;
            first = last + 1;
            cursor += per_master;
        }
        // The others, rotated by one, become replicas: on another host if possible.
        let mut pool: Vec<Option<usize>> = interleaved[masters_count..].iter().map(|&i| Some(i)).collect();
        if !pool.is_empty() {
            pool.rotate_left(1);
        }
        let mut start = 0;
        let mut available = pool.len();
        let mut extra = false;
        loop {
            for &m in &masters {
                let mut assigned = 0;
                while assigned < replicas {
                    if available == 0 {
                        break;
                    }
                    let mut chosen = None;
                    let mut first_same = None;
                    for j in start..pool.len() {
                        let Some(n) = pool[j] else { continue };
                        if self.nodes[n].ip != self.nodes[m].ip {
                            chosen = Some(n);
                            pool[j] = None;
                            break;
                        }
                        first_same.get_or_insert(j);
                    }
                    if chosen.is_none() {
                        if let Some(j) = first_same {
                            chosen = pool[j];
                            start = j + 1;
                        }
                    }
                    let Some(r) = chosen else { break };
                    assigned += 1;
                    available -= 1;
                    self.nodes[r].replicate = Some(self.nodes[m].name.clone());
                    self.nodes[r].dirty = true;
                    let (rn, mn) = (&self.nodes[r], &self.nodes[m]);
                    out(&format!("Adding replica {}:{} to {}:{}\n", rn.ip, rn.port, mn.ip, mn.port));
                    if extra {
                        break;
                    }
                }
            }
            if !extra && available > 0 {
                extra = true;
                out("Adding extra replicas...\n");
                continue;
            }
            break;
        }
        self.optimize_anti_affinity(&by_ip);
        self.show_nodes();
        if !confirm(&self.opt, "Can I set the above configuration?", false) {
            return true;
        }
        for i in 0..total {
            let (flushed, err) = self.flush_node_config(i);
            if !flushed && self.nodes[i].dirty && self.nodes[i].replicate.is_none() {
                if let Some(e) = err {
                    self.nodes[i].print_error(&e);
                }
                return false;
            }
        }
        log_info(">>> Nodes configuration updated\n");
        log_info(">>> Assign a different config epoch to each node\n");
        for i in 0..total {
            let _ = self.nodes[i].cmd(&["cluster", "set-config-epoch", &(i + 1).to_string()]);
        }
        log_info(">>> Sending CLUSTER MEET messages to join the cluster\n");
        let Some(first_ip) = resolve(&self.nodes[0].ip) else {
            eprintln!("Invalid IP address or hostname specified: {}", self.nodes[0].ip); // COMPAT
            return false;
        };
        let (port, bus_port) = (self.nodes[0].port, self.nodes[0].bus_port);
        for i in 1..total {
            match self.meet(i, &first_ip, port, bus_port) {
                Some(v) => {
                    if let Some(e) = v.error_text() {
                        self.nodes[i].print_error(&String::from_utf8_lossy(e));
                        return false;
                    }
                }
                None => {
                    eprintln!("Failed to send CLUSTER MEET command."); // COMPAT
                    return false;
                }
            }
        }
        // A second for the join to start, lest the still empty nodes look agreed.
        std::thread::sleep(Duration::from_secs(1));
        self.wait_for_join();
        for i in 0..total {
            if !self.nodes[i].dirty {
                continue;
            }
            let (flushed, err) = self.flush_node_config(i);
            if !flushed && self.nodes[i].replicate.is_none() {
                if let Some(e) = err {
                    self.nodes[i].print_error(&e);
                }
                return false;
            }
        }
        // Reload everything from the first node, as a check would.
        let entry = self.nodes.swap_remove(0);
        self.nodes.clear();
        if !self.load_from(entry) {
            return false;
        }
        self.check_cluster(false);
        true
    }

    /// `add-node new existing`: joins an empty node to the cluster, as a master or
    /// (`--cluster-slave`) as a replica of `--cluster-master-id` or of the master with
    /// fewest replicas.
    pub fn add_node(&mut self, args: &[String]) -> bool {
        let (Some((ref_ip, ref_port)), Some((ip, port))) = (host_from_args(&args[1..]), host_from_args(&args[..1]))
        else {
            eprintln!("{INVALID_HOST_ARG}");
            return false;
        };
        log_info(&format!(">>> Adding node {ip}:{port} to cluster {ref_ip}:{ref_port}\n"));
        if !self.load_from(Node::new(&ref_ip, ref_port, 0)) || !self.check_cluster(false) {
            return false;
        }
        let mut master = None;
        if self.opt.as_replica {
            match self.opt.master_id.clone() {
                Some(id) => match self.by_name(&id) {
                    Some(m) => master = Some(m),
                    None => {
                        log_err(&format!("[ERR] No such master ID {id}\n"));
                        return false;
                    }
                },
                None => {
                    let Some(m) = self.least_replicated_master(None) else { return false };
                    out(&format!("Automatically selected master {}:{}\n", self.nodes[m].ip, self.nodes[m].port));
                    master = Some(m);
                }
            }
        }
        let Some(new_node) = self.empty_cluster_node(&ip, port, true) else { return false };
        let (first_ip, first_port, first_bus) = (self.nodes[0].ip.clone(), self.nodes[0].port, self.nodes[0].bus_port);
        self.nodes.push(new_node);
        let new = self.nodes.len() - 1;
        if master.is_none() && !self.copy_functions(new, &ip, port) {
            return false;
        }
        log_info(&format!(">>> Send CLUSTER MEET to node {ip}:{port} to make it join the cluster.\n"));
        let Some(first_ip) = resolve(&first_ip) else {
            eprintln!("Invalid IP address or hostname specified: {first_ip}"); // COMPAT
            return false;
        };
        let r = self.meet(new, &first_ip, first_port, first_bus);
        if !self.nodes[new].reply_ok(&r) {
            return false;
        }
        if let Some(m) = master {
            std::thread::sleep(Duration::from_secs(1));
            self.wait_for_join();
            log_info(&format!(">>> Configure node as replica of {}:{}.\n", self.nodes[m].ip, self.nodes[m].port));
            let id = self.nodes[m].name.clone();
            let r = self.nodes[new].cmd(&["CLUSTER", "REPLICATE", &id]);
            if !self.nodes[new].reply_ok(&r) {
                return false;
            }
        }
        log_ok("[OK] New node added correctly.\n");
        true
    }

    /// Copies the cluster's functions to a new master (FUNCTION DUMP / RESTORE). A
    /// cluster without FUNCTION is skipped, as redis-cli does.
    fn copy_functions(&mut self, new: usize, ip: &str, port: i32) -> bool {
        let text = |r: &Option<Value>| match r {
            None => "NULL reply".to_string(),
            Some(v) => v.error_text().map(|e| String::from_utf8_lossy(e).into_owned()).unwrap_or_default(),
        };
        log_info(">>> Getting functions from cluster\n");
        let dump = self.nodes[0].cmd(&["FUNCTION", "DUMP"]);
        let payload = match &dump {
            Some(v) if !v.is_error() => v.as_bytes().unwrap_or_default().to_vec(),
            _ => {
                log_info(&format!(
                    ">>> Failed retrieving Functions from the cluster, skip this step as Redis version do not \
                     support function command (error = '{}')\n",
                    text(&dump)
                ));
                return true;
            }
        };
        log_info(&format!(">>> Send FUNCTION LIST to {ip}:{port} to verify there is no functions in it\n"));
        let list = self.nodes[new].cmd(&["FUNCTION", "LIST"]);
        match &list {
            Some(Value::Array(items)) if !items.is_empty() => {
                log_err(
                    ">>> New node already contains functions and can not be added to the cluster. \
                     Use FUNCTION FLUSH and try again.\r\n",
                );
                return false;
            }
            Some(v) if !v.is_error() => {}
            _ => {
                log_err(&format!(">>> Failed on CLUSTER LIST (error = '{}')\r\n", text(&list)));
                return false;
            }
        }
        log_info(&format!(">>> Send FUNCTION RESTORE to {ip}:{port}\n"));
        let restore = self.nodes[new].call(&[b"FUNCTION", b"RESTORE", &payload]);
        if !matches!(&restore, Some(v) if !v.is_error()) {
            log_err(&format!(">>> Failed loading functions to the new node (error = '{}')\r\n", text(&restore)));
            return false;
        }
        true
    }

    /// `del-node host:port id`: makes every other node forget a node without slots
    /// (its replicas move to another master), then soft-resets it.
    pub fn del_node(&mut self, args: &[String]) -> bool {
        let Some((ip, port)) = host_from_args(&args[..1]) else {
            eprintln!("{INVALID_HOST_ARG}");
            return false;
        };
        let id = args[1].clone();
        log_info(&format!(">>> Removing node {id} from cluster {ip}:{port}\n"));
        if !self.load_from(Node::new(&ip, port, 0)) {
            return false;
        }
        let Some(del) = self.by_name(&id) else {
            log_err(&format!("[ERR] No such node ID {id}\n"));
            return false;
        };
        if self.nodes[del].slots_count != 0 {
            let n = &self.nodes[del];
            log_err(&format!("[ERR] Node {}:{} is not empty! Reshard data away and try again.\n", n.ip, n.port));
            return false;
        }
        log_info(">>> Sending CLUSTER FORGET messages to the cluster...\n");
        for i in 0..self.nodes.len() {
            if i == del {
                continue;
            }
            if self.nodes[i].replicate.as_ref().is_some_and(|m| m.eq_ignore_ascii_case(&id)) {
                // Its master goes away: follow the master with fewest replicas.
                let Some(m) = self.least_replicated_master(Some(del)) else { return false };
                let (mi, mp, mid) = (self.nodes[m].ip.clone(), self.nodes[m].port, self.nodes[m].name.clone());
                log_info(&format!(">>> {}:{} as replica of {mi}:{mp}\n", self.nodes[i].ip, self.nodes[i].port));
                let r = self.nodes[i].cmd(&["CLUSTER", "REPLICATE", &mid]);
                if !self.nodes[i].reply_ok(&r) {
                    return false;
                }
            }
            let r = self.nodes[i].cmd(&["CLUSTER", "FORGET", &id]);
            if !self.nodes[i].reply_ok(&r) {
                return false;
            }
        }
        log_info(">>> Sending CLUSTER RESET SOFT to the deleted node.\n");
        let r = self.nodes[del].cmd(&["CLUSTER", "RESET", "SOFT"]);
        self.nodes[del].reply_ok(&r)
    }

    /// The master `id` names, for resharding, with redis-cli's complaints. The flag
    /// says whether the problem must abort the reshard.
    fn reshard_node(&self, id: &str, target: Option<usize>) -> (Option<usize>, bool) {
        match self.by_name(id) {
            Some(n) if !self.nodes[n].is_replica() => {
                if target.is_some_and(|t| self.nodes[t].name == self.nodes[n].name) {
                    log_err("*** It is not possible to use the target node as source node.\n");
                    return (None, false);
                }
                (Some(n), false)
            }
            _ => {
                log_err(&format!("*** The specified node ({id}) is not known or not a master, please retry.\n"));
                (None, true)
            }
        }
    }

    /// `reshard`: moves `--cluster-slots` slots from the `--cluster-from` masters (or
    /// all) to `--cluster-to`, asking for whatever was not given.
    pub fn reshard(&mut self, args: &[String]) -> bool {
        if !self.load_from_args(args) {
            return false;
        }
        self.check_cluster(false);
        if !self.errors.is_empty() {
            eprintln!("*** Please fix your cluster problems before resharding");
            return false;
        }
        let mut slots = self.opt.slots;
        while slots <= 0 || slots > SLOTS as i32 {
            out(&format!("How many slots do you want to move (from 1 to {SLOTS})? "));
            // redis-cli would ask forever at end of input; give up instead.
            let Some(line) = read_line() else { return false };
            slots = atoi(line.as_bytes()) as i32;
        }
        let to = match self.opt.to.clone() {
            Some(t) => t,
            None => loop {
                out("What is the receiving node ID? ");
                let Some(line) = read_line() else { return false };
                if !line.is_empty() {
                    break line;
                }
            },
        };
        let (Some(target), _) = self.reshard_node(&to, None) else { return false };
        let mut sources = Vec::new();
        let mut all = false;
        match self.opt.from.clone() {
            None => {
                out("Please enter all the source node IDs.\n");
                out("  Type 'all' to use all the nodes as source nodes for the hash slots.\n");
                out("  Type 'done' once you entered all the source nodes IDs.\n");
                loop {
                    out(&format!("Source node #{}: ", sources.len() + 1));
                    let Some(line) = read_line() else { return false };
                    if line == "done" {
                        break;
                    }
                    if line == "all" {
                        all = true;
                        break;
                    }
                    match self.reshard_node(&line, Some(target)) {
                        (Some(s), _) => sources.push(s),
                        (None, true) => return false,
                        (None, false) => {}
                    }
                }
            }
            Some(from) => {
                for id in from.split(',') {
                    if id == "all" {
                        all = true;
                        break;
                    }
                    if id.is_empty() {
                        continue;
                    }
                    match self.reshard_node(id, Some(target)) {
                        (Some(s), _) => sources.push(s),
                        (None, true) => return false,
                        (None, false) => {}
                    }
                }
            }
        }
        if all {
            let target_id = self.nodes[target].name.clone();
            sources = (0..self.nodes.len())
                .filter(|&i| {
                    let n = &self.nodes[i];
                    !n.is_replica() && n.replicate.is_none() && n.name != target_id
                })
                .collect();
        }
        if sources.is_empty() {
            eprintln!("*** No source nodes given, operation aborted.");
            return false;
        }
        out(&format!("\nReady to move {slots} slots.\n"));
        out("  Source nodes:\n");
        for &s in &sources {
            out(&format!("{}\n", self.nodes[s].describe(4)));
        }
        out("  Destination node:\n");
        out(&format!("{}\n", self.nodes[target].describe(4)));
        let table = self.reshard_table(&sources, slots);
        out("  Resharding plan:\n");
        for (src, slot) in &table {
            out(&format!("    Moving slot {slot} from {}\n", self.nodes[*src].name));
        }
        if !self.opt.yes {
            out("Do you want to proceed with the proposed reshard plan (yes/no)? ");
            if read_line().is_none_or(|l| l.get(..3).unwrap_or(&l) != "yes") {
                return false;
            }
        }
        let o = MoveOpts { verbose: true, ..MoveOpts::default() };
        for (src, slot) in table {
            if let Err(e) = self.move_slot(src, target, slot, o, true) {
                if let Some(e) = e {
                    log_err(&format!("clusterManagerMoveSlot failed: {e}\n"));
                }
                return false;
            }
        }
        true
    }

    /// `rebalance`: moves slots so every master holds its weight's share, once some
    /// master is off by more than `--cluster-threshold` percent.
    pub fn rebalance(&mut self, args: &[String]) -> bool {
        if !self.load_from_args(args) {
            return false;
        }
        for w in self.opt.weights.clone().unwrap_or_default() {
            let Some((name, weight)) = w.split_once('=') else {
                log_err(&format!("*** invalid input {w}\n"));
                return false;
            };
            let Some(n) = self.by_prefix(name) else {
                log_err(&format!("*** No such master node {name}\n"));
                return false;
            };
            self.nodes[n].weight = atof(weight.as_bytes()) as f32;
        }
        let mut total_weight: f32 = 0.0;
        let mut involved = Vec::new();
        for i in 0..self.nodes.len() {
            let n = &mut self.nodes[i];
            if n.is_replica() || n.replicate.is_some() {
                continue;
            }
            if !self.opt.use_empty_masters && n.slots_count == 0 {
                n.weight = 0.0;
                continue;
            }
            total_weight += n.weight;
            involved.push(i);
        }
        self.check_cluster(true);
        if !self.errors.is_empty() {
            log_err("*** Please fix your cluster problems before rebalancing\n");
            return false;
        }
        let threshold = self.opt.threshold;
        let mut threshold_reached = false;
        let mut total_balance: i64 = 0;
        for &i in &involved {
            let n = &mut self.nodes[i];
            let expected = ((SLOTS as f32 / total_weight) * n.weight) as i64;
            n.balance = (n.slots_count as i64 - expected) as i32;
            total_balance += i64::from(n.balance);
            if threshold > 0.0 {
                if n.slots_count > 0 {
                    let err_perc = (100.0 - (100.0 * expected as f64 / n.slots_count as f64)).abs();
                    threshold_reached |= err_perc > f64::from(threshold);
                } else if expected > 1 {
                    threshold_reached = true;
                }
            }
        }
        if !threshold_reached {
            log_warn(&format!("*** No rebalancing needed! All nodes are within the {threshold:.2}% threshold.\n"));
            return true;
        }
        // Rounding may leave more to give than to take: the takers take it.
        while total_balance > 0 {
            for &i in &involved {
                if self.nodes[i].balance <= 0 && total_balance > 0 {
                    self.nodes[i].balance -= 1;
                    total_balance -= 1;
                }
            }
        }
        let mut sorted = involved.clone();
        sorted.sort_by_key(|&i| self.nodes[i].balance);
        log_info(&format!(">>> Rebalancing across {} nodes. Total weight = {total_weight:.2}\n", involved.len()));
        // Takers from the start, givers from the end.
        let (mut dst_idx, mut src_idx) = (0usize, sorted.len().saturating_sub(1));
        while dst_idx < src_idx {
            let (dst, src) = (sorted[dst_idx], sorted[src_idx]);
            let numslots = self.nodes[dst].balance.abs().min(self.nodes[src].balance.abs());
            if numslots > 0 {
                let (s, d) = (&self.nodes[src], &self.nodes[dst]);
                out(&format!("Moving {numslots} slots from {}:{} to {}:{}\n", s.ip, s.port, d.ip, d.port));
                let table = self.reshard_table(&[src], numslots);
                if table.len() != numslots as usize {
                    log_err("*** Assertion failed: Reshard table != number of slots");
                    return false;
                }
                if self.opt.simulate {
                    out(&"#".repeat(table.len()));
                } else {
                    let o = MoveOpts { quiet: true, update: true, ..MoveOpts::default() };
                    for (from, slot) in table {
                        if let Err(e) = self.move_slot(from, dst, slot, o, true) {
                            log_err(&format!("*** clusterManagerMoveSlot: {}\n", e.unwrap_or_default()));
                            return false;
                        }
                        out("#");
                    }
                }
                out("\n");
            }
            self.nodes[dst].balance += numslots;
            self.nodes[src].balance -= numslots;
            if self.nodes[dst].balance == 0 {
                dst_idx += 1;
            }
            if self.nodes[src].balance == 0 {
                src_idx = src_idx.saturating_sub(1);
            }
        }
        true
    }

    /// `set-timeout host:port ms`: CONFIG SET cluster-node-timeout and CONFIG REWRITE
    /// on every node.
    pub fn set_timeout(&mut self, args: &[String]) -> bool {
        let Some((ip, port)) = host_from_args(&args[..1]) else {
            eprintln!("{INVALID_HOST_ARG}");
            return false;
        };
        let timeout = atoi(args[1].as_bytes()) as i32;
        if timeout < 100 {
            eprintln!("Setting a node timeout of less than 100 milliseconds is a bad idea.");
            return false;
        }
        if !self.load_from(Node::new(&ip, port, 0)) {
            return false;
        }
        log_info(">>> Reconfiguring node timeout in every cluster node...\n");
        let (mut ok, mut failed) = (0, 0);
        let t = timeout.to_string();
        for n in &mut self.nodes {
            let mut err = String::new();
            let mut good = true;
            for args in [&["CONFIG", "SET", "cluster-node-timeout", t.as_str()][..], &["CONFIG", "REWRITE"][..]] {
                match n.cmd(args) {
                    Some(v) if !v.is_error() => {}
                    Some(v) => {
                        err = v.error_text().map(|e| String::from_utf8_lossy(e).into_owned()).unwrap_or_default();
                        good = false;
                        break;
                    }
                    None => {
                        good = false;
                        break;
                    }
                }
            }
            if good {
                log_warn(&format!("*** New timeout set for {}:{}\n", n.ip, n.port));
                ok += 1;
            } else {
                log_err(&format!("ERR setting node-timeout for {}:{}: {err}\n", n.ip, n.port));
                failed += 1;
            }
        }
        log_info(&format!(">>> New node timeout set. {ok} OK, {failed} ERR.\n"));
        true
    }

    /// `call host:port command args...`: runs the command on every node (or only
    /// masters, or only replicas) and prints each raw reply.
    pub fn call(&mut self, args: &[String], mb_delim: &[u8]) -> bool {
        let Some((ip, port)) = host_from_args(&args[..1]) else {
            eprintln!("{INVALID_HOST_ARG}");
            return false;
        };
        if !self.load_from(Node::new(&ip, port, 0)) {
            return false;
        }
        let command = &args[1..];
        log_info(">>> Calling");
        out(&format!(" {}\n", command.join(" ")));
        let argv: Vec<&[u8]> = command.iter().map(|a| a.as_bytes()).collect();
        let auth = self.auth.clone();
        for n in &mut self.nodes {
            if (self.opt.only_masters && n.replicate.is_some()) || (self.opt.only_replicas && n.replicate.is_none()) {
                continue;
            }
            if !n.is_connected() && !n.connect(&auth) {
                continue;
            }
            match n.call(&argv) {
                None => out(&format!("{}:{}: Failed!\n", n.ip, n.port)),
                Some(v) => {
                    let mut text = Vec::new();
                    crate::format::raw(&v, mb_delim, &mut text);
                    out(&format!("{}:{}: {}\n", n.ip, n.port, String::from_utf8_lossy(&text)));
                }
            }
        }
        true
    }

    /// `import host:port --cluster-from src`: moves (or copies) every key of a
    /// non-cluster server's db 0 to the master owning its slot.
    pub fn import(&mut self, args: &[String]) -> bool {
        let Some((ip, port)) = host_from_args(args) else {
            eprintln!("{INVALID_HOST_ARG}");
            return false;
        };
        let Some(from) = self.opt.from.clone() else {
            eprintln!("[ERR] Option '--cluster-from' is required for subcommand 'import'.");
            return false;
        };
        let Some((src_ip, src_port)) = host_from_args(&[from]) else {
            eprintln!("[ERR] Invalid --cluster-from host. You need to pass a valid address (ie. 120.0.0.1:7000).");
            return false;
        };
        log_info(&format!(">>> Importing data from {src_ip}:{src_port} to cluster {ip}:{port}\n"));
        if !self.load_from(Node::new(&ip, port, 0)) || !self.check_cluster(false) {
            return false;
        }
        // The source is reached with its own credentials, not the cluster's.
        let mut src = Node::new(&src_ip, src_port, 0);
        let src_auth = super::Auth { user: self.opt.from_user.clone(), pass: self.opt.from_pass.clone() };
        if !src.connect(&src_auth) {
            return false;
        }
        let fail = |r: &Option<Value>| {
            if let Some(e) = r.as_ref().and_then(Value::error_text) {
                log_err(&format!("Source {src_ip}:{src_port} replied with error:\n{}\n", String::from_utf8_lossy(e)));
            }
            false
        };
        let info = src.cmd(&["INFO"]);
        match &info {
            Some(v) if !v.is_error() => {
                if super::node::info_field(v.as_bytes().unwrap_or_default(), "cluster_enabled") != 0 {
                    log_err("[ERR] The source node should not be a cluster node.\n");
                    return false;
                }
            }
            _ => return fail(&info),
        }
        let size = match src.cmd(&["DBSIZE"]) {
            Some(Value::Int(n)) => n,
            other => return fail(&other),
        };
        log_warn(&format!("*** Importing {size} keys from DB 0\n"));
        let mut owner = vec![None; SLOTS];
        for (i, n) in self.nodes.iter().enumerate() {
            if n.is_replica() || n.slots_count == 0 {
                continue;
            }
            for (o, _) in owner.iter_mut().zip(&n.slots).filter(|(o, has)| **has && o.is_none()) {
                *o = Some(i);
            }
        }
        let timeout = self.opt.timeout.to_string();
        let mut cursor = b"0".to_vec();
        loop {
            let reply = src.call(&[b"SCAN", &cursor, b"COUNT", b"1000"]);
            let Some(Value::Array(parts)) = &reply else { return fail(&reply) };
            let (Some(next), Some(Value::Array(keys))) = (parts.first(), parts.get(1)) else { return false };
            cursor = match next {
                Value::Int(n) => n.to_string().into_bytes(),
                v => v.as_bytes().unwrap_or(b"0").to_vec(),
            };
            for key in keys.iter().filter_map(Value::as_bytes) {
                let slot = viator::cluster::slot::key_hash_slot(key) as usize;
                let Some(t) = owner[slot] else { return false };
                let (tip, tport) = (self.nodes[t].ip.clone(), self.nodes[t].port.to_string());
                out(&format!("Migrating {} to {tip}:{tport}: ", String::from_utf8_lossy(key)));
                let mut argv: Vec<&[u8]> =
                    vec![b"MIGRATE", tip.as_bytes(), tport.as_bytes(), key, b"0", timeout.as_bytes()];
                if let Some(pass) = &self.auth.pass {
                    match &self.auth.user {
                        Some(user) => argv.extend([b"AUTH2".as_slice(), user, pass]),
                        None => argv.extend([b"AUTH".as_slice(), pass]),
                    }
                }
                if self.opt.copy {
                    argv.push(b"COPY");
                }
                if self.opt.replace {
                    argv.push(b"REPLACE");
                }
                let r = src.call(&argv);
                match &r {
                    Some(v) if !v.is_error() => log_ok("OK\n"),
                    _ => return fail(&r),
                }
            }
            if cursor == b"0" {
                return true;
            }
        }
    }

    /// `backup host:port dir`: writes every master's RDB (fetched as a replica would,
    /// with REPLCONF rdb-only and SYNC) and a `nodes.json` describing the cluster.
    pub fn backup(&mut self, args: &[String]) -> bool {
        let Some((ip, port)) = host_from_args(&args[..1]) else {
            eprintln!("{INVALID_HOST_ARG}");
            return false;
        };
        if !self.load_from(Node::new(&ip, port, 0)) {
            return false;
        }
        let no_issues = self.check_cluster(false);
        let error_count = if no_issues { 0 } else { self.errors.len() };
        let dir = args[1].trim_end_matches('/').to_string();
        let mut json = String::from("[\n");
        for i in 0..self.nodes.len() {
            if i > 0 {
                json.push_str(",\n");
            }
            json.push_str(&node_json(&self.nodes[i], error_count));
            if self.nodes[i].replicate.is_some() {
                continue;
            }
            let n = &self.nodes[i];
            log_info(&format!(">>> Node {}:{} -> Saving RDB...\n", n.ip, n.port));
            let file = format!("{dir}/redis-node-{}-{}-{}.rdb", n.ip, n.port, n.name);
            if !fetch_rdb(&n.ip, n.port, &self.auth, &file) {
                std::process::exit(1);
            }
        }
        json.push_str("\n]");
        let path = format!("{dir}/nodes.json");
        log_info(&format!("Saving cluster configuration to: {path}\n"));
        if std::fs::write(&path, json).is_err() {
            log_err(&format!("Could not save nodes to: {path}\n"));
            log_ok("[ERR] Failed to back cluster!\n");
            return false;
        }
        if !no_issues {
            log_warn(
                "*** Cluster seems to have some problems, please be aware of it if you're going to restore this backup.\n",
            );
        }
        log_ok(&format!("[OK] Backup created into: {}\n", args[1]));
        true
    }
}

/// A node as `backup` records it in `nodes.json`.
fn node_json(n: &Node, error_count: usize) -> String {
    let replicate = n.replicate.as_ref().map_or("null".to_string(), |r| format!("\"{r}\""));
    let slots = super::node::slots_string(&n.slots).replace('-', ",");
    let mut s = format!(
        "  {{\n    \"name\": \"{}\",\n    \"host\": \"{}\",\n    \"port\": {},\n    \"replicate\": {replicate},\n    \
         \"slots\": [{slots}],\n    \"slots_count\": {},\n    \"flags\": \"{}\",\n    \"current_epoch\": {}",
        n.name,
        n.ip,
        n.port,
        n.slots_count,
        n.flags_string(),
        n.current_epoch
    );
    if error_count > 0 {
        s.push_str(&format!(",\n    \"cluster_errors\": {error_count}"));
    }
    for (key, list) in [("migrating", &n.migrating), ("importing", &n.importing)] {
        if !list.is_empty() {
            let items: Vec<String> = list.iter().map(|(slot, id)| format!("\"{slot}\": \"{id}\"")).collect();
            s.push_str(&format!(",\n    \"{key}\": {{{}}}", items.join(",")));
        }
    }
    s.push_str("\n  }");
    s
}

/// Fetches `host:port`'s RDB as a replica's first synchronisation does (SYNC, then
/// `$<length>` or `$EOF:<mark>` and the payload) and writes it to `file`, with
/// redis-cli's progress lines on stderr. False (after saying why) on failure.
fn fetch_rdb(host: &str, port: i32, auth: &super::Auth, file: &str) -> bool {
    const MARK: usize = 40;
    let Ok(port) = u16::try_from(port) else { return false };
    let Ok(mut s) = std::net::TcpStream::connect((host, port)) else {
        eprintln!("Could not connect to Redis at {host}:{port}");
        return false;
    };
    let mut req = Vec::new();
    if let Some(pass) = &auth.pass {
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        if let Some(user) = &auth.user {
            args.push(user);
        }
        args.push(pass);
        req.extend(viator::resp::value::encode_command(&args));
    }
    req.extend_from_slice(b"SYNC\r\n");
    if std::io::Write::write_all(&mut s, &req).is_err() {
        eprintln!("Error writing to master");
        return false;
    }
    // Lines up to the `$` header: the AUTH reply and keep-alive newlines.
    let mut header = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if !matches!(s.read(&mut byte), Ok(1)) {
            eprintln!("Error reading bulk length while SYNCing");
            return false;
        }
        if byte[0] != b'\n' {
            header.push(byte[0]);
            continue;
        }
        let line = std::mem::take(&mut header);
        let line = line.strip_suffix(b"\r").unwrap_or(&line).to_vec();
        match line.first() {
            Some(b'-') => {
                eprintln!("SYNC with master failed: {}", String::from_utf8_lossy(&line));
                return false;
            }
            Some(b'$') => {
                header = line;
                break;
            }
            _ => {}
        }
    }
    let mut payload = Vec::new();
    if header.starts_with(b"$EOF:") && header.len() >= 5 + MARK {
        let mark = header[5..5 + MARK].to_vec();
        eprintln!("SYNC sent to master, writing bytes of bulk transfer until EOF marker to '{file}'");
        let mut buf = [0u8; 4096];
        while !payload.ends_with(&mark) {
            match s.read(&mut buf) {
                Ok(n) if n > 0 => payload.extend_from_slice(&buf[..n]),
                _ => {
                    eprintln!("I/O Error reading RDB payload from socket");
                    return false;
                }
            }
        }
        payload.truncate(payload.len() - MARK);
        if std::fs::write(file, &payload).is_err() {
            eprintln!("Error opening '{file}'");
            return false;
        }
        eprintln!("Transfer finished with success after {} bytes", payload.len());
        return true;
    }
    let len = atoi(&header[1..]).max(0) as u64;
    eprintln!("SYNC sent to master, writing {len} bytes to '{file}'");
    if (&mut s).take(len).read_to_end(&mut payload).is_err() || payload.len() as u64 != len {
        eprintln!("I/O Error reading RDB payload from socket");
        return false;
    }
    if std::fs::write(file, &payload).is_err() {
        eprintln!("Error opening '{file}'");
        return false;
    }
    eprintln!("Transfer finished with success.");
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Auth, Options};

    #[test]
    fn anti_affinity_scores_replicas_sharing_hosts() {
        let mut m = Manager::new(Options::default(), Auth::default());
        for (k, ip) in ["10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.2"].iter().enumerate() {
            let mut n = Node::new(ip, 7000, 0);
            n.name = format!("n{k}");
            m.nodes.push(n);
        }
        let by_ip = vec![vec![0, 2], vec![1, 3]];
        // Each replica on its master's host: 10000 each.
        m.nodes[2].replicate = Some("n0".into());
        m.nodes[3].replicate = Some("n1".into());
        assert_eq!(m.anti_affinity(&by_ip), (20000, vec![2, 3]));
        // Crossed over: perfect.
        m.nodes[2].replicate = Some("n1".into());
        m.nodes[3].replicate = Some("n0".into());
        assert_eq!(m.anti_affinity(&by_ip).0, 0);
        m.optimize_anti_affinity(&by_ip);
        assert_eq!(m.nodes[2].replicate.as_deref(), Some("n1"), "a perfect layout is left alone");
    }

    #[test]
    fn host_arguments() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(host_from_args(&s(&["127.0.0.1:7000"])), Some(("127.0.0.1".into(), 7000)));
        assert_eq!(host_from_args(&s(&["::1:7000@17000"])), Some(("::1".into(), 7000)));
        assert_eq!(host_from_args(&s(&["h", "7001", "x"])), Some(("h".into(), 7001)));
        assert_eq!(host_from_args(&s(&["h"])), None);
        assert_eq!(host_from_args(&s(&["h:0"])), None);
    }
}
