//! `--cluster fix`: the repairs `check` applies when asked to fix.
//!
//! Owns the three repairs of redis-cli 7.0: open slots (slots left importing or
//! migrating, handled by its cases 1 to 4), uncovered slots (given to a random
//! master, to the one node holding keys, or to the node holding most keys after
//! moving the others' keys), and slots claimed by several masters. Each repair of
//! coverage asks for confirmation even with `--cluster-yes`, as redis-cli does. It
//! never decides what is wrong: `Manager::check_cluster` finds the problems.

use viator::resp::value::Value;

use super::manager::{Manager, MoveOpts};
use super::node::{slots_string, SLOTS};
use super::{confirm, log_err, log_info, log_warn, out};

impl Manager {
    /// Fails with redis-cli's warning (and exit status 1) when masters are unreachable
    /// and `--cluster-fix-with-unreachable-masters` was not given.
    fn refuse_with_unreachable(&self, what: &str) {
        if self.unreachable_masters > 0 && !self.opt.fix_with_unreachable_masters {
            // COMPAT: redis-cli's text, its own name included.
            log_warn(&format!(
                "*** Fixing {what} with {} unreachable masters is dangerous: redis-cli will assume that slots \
                 about masters that are not reachable are not covered, and will try to reassign them to the \
                 reachable nodes. This can cause data loss and is rarely what you want to do. If you really \
                 want to proceed use the --cluster-fix-with-unreachable-masters option.\n",
                self.unreachable_masters
            ));
            std::process::exit(1);
        }
    }

    /// Makes node `i` the owner of `slot` in one transaction: DELSLOTS (errors
    /// ignored), ADDSLOTS, optionally SETSLOT STABLE, BUMPEPOCH. Only an ADDSLOTS
    /// failure counts.
    fn set_slot_owner(&mut self, i: usize, slot: usize, clear: bool) -> bool {
        let s = slot.to_string();
        let n = &mut self.nodes[i];
        let r = n.cmd(&["MULTI"]);
        if !n.reply_ok(&r) {
            return false;
        }
        let mut queued = vec![n.cmd(&["CLUSTER", "DELSLOTS", &s]), n.cmd(&["CLUSTER", "ADDSLOTS", &s])];
        if clear {
            queued.push(n.cmd(&["CLUSTER", "SETSLOT", &s, "STABLE"]));
        }
        queued.push(n.cmd(&["CLUSTER", "BUMPEPOCH"]));
        for q in &queued {
            n.reply_ok(q);
        }
        let r = n.cmd(&["EXEC"]);
        if !n.reply_ok(&r) {
            return false;
        }
        let Some(Value::Array(replies)) = r else { return false };
        for (k, reply) in replies.iter().enumerate() {
            if let Some(e) = reply.error_text() {
                if k == 1 {
                    n.print_error(&String::from_utf8_lossy(e));
                    return false;
                }
            }
        }
        true
    }

    /// CLUSTER DELSLOTS on node `i`. With `ignore_unassigned`, failing because the
    /// slot was not assigned is a success.
    fn del_slot(&mut self, i: usize, slot: usize, ignore_unassigned: bool) -> bool {
        let r = self.nodes[i].cmd(&["CLUSTER", "DELSLOTS", &slot.to_string()]);
        let err = match &r {
            None => return false,
            Some(v) => match v.error_text() {
                None => return true,
                Some(e) => String::from_utf8_lossy(e).into_owned(),
            },
        };
        if ignore_unassigned {
            match self.slot_owner(i, slot) {
                Ok(None) => return true,
                Ok(Some(_)) => {}
                Err(e) => self.nodes[i].print_error(&e),
            }
        }
        self.nodes[i].print_error(&err);
        false
    }

    /// Among `candidates`, the master with most keys in `slot` (the first on ties);
    /// `None` if a node fails to answer.
    fn most_keys_in_slot(&mut self, candidates: &[usize], slot: usize) -> Option<usize> {
        let mut best: Option<(usize, i64)> = None;
        for &i in candidates {
            if self.nodes[i].is_replica() || self.nodes[i].replicate.is_some() {
                continue;
            }
            let n = self.nodes[i].count_keys_in_slot(slot);
            if n < 0 {
                return None;
            }
            if best.is_none_or(|(_, most)| n > most) {
                best = Some((i, n));
            }
        }
        best.map(|(i, _)| i)
    }

    fn random_master(&self) -> Option<usize> {
        let masters = self.masters();
        let mut rng = viator::util::rand::Rng::from_entropy();
        masters.get(rng.below(masters.len() as u64) as usize).copied()
    }

    /// Covers the slots `covered` lacks. Returns how many were fixed, or -1 on error.
    pub fn fix_slots_coverage(&mut self, covered: &[bool]) -> i32 {
        self.refuse_with_unreachable("slots coverage");
        log_info(">>> Fixing slots coverage...\n");
        let mut uncovered: Vec<(usize, Vec<usize>)> = Vec::new();
        for slot in (0..SLOTS).filter(|&s| !covered[s]) {
            let mut holders = Vec::new();
            for i in 0..self.nodes.len() {
                if self.nodes[i].is_replica() || self.nodes[i].replicate.is_some() {
                    continue;
                }
                let r = self.nodes[i].cmd(&["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), "1"]);
                if !self.nodes[i].reply_ok(&r) {
                    return -1;
                }
                if matches!(r, Some(Value::Array(ref k)) if !k.is_empty()) {
                    holders.push(i);
                }
            }
            uncovered.push((slot, holders));
        }
        let pick = |want: fn(usize) -> bool| -> Vec<(usize, Vec<usize>)> {
            uncovered.iter().filter(|(_, h)| want(h.len())).cloned().collect()
        };
        let (none, single, multi) = (pick(|n| n == 0), pick(|n| n == 1), pick(|n| n > 1));
        let list = |slots: &[(usize, Vec<usize>)]| {
            let mut map = vec![false; SLOTS];
            slots.iter().for_each(|(s, _)| map[*s] = true);
            format!("{}\n", slots_string(&map))
        };
        let mut fixed = 0;
        if !none.is_empty() {
            out("The following uncovered slots have no keys across the cluster:\n");
            out(&list(&none));
            if confirm(&self.opt, "Fix these slots by covering with a random node?", true) {
                for (slot, _) in &none {
                    let Some(m) = self.random_master() else { return -1 };
                    log_info(&format!(">>> Covering slot {slot} with {}:{}\n", self.nodes[m].ip, self.nodes[m].port));
                    if !self.set_slot_owner(m, *slot, false) {
                        return -1;
                    }
                    self.nodes[m].slots[*slot] = true;
                    fixed += 1;
                }
            }
        }
        if !single.is_empty() {
            out("The following uncovered slots have keys in just one node:\n");
            out(&list(&single));
            if confirm(&self.opt, "Fix these slots by covering with those nodes?", true) {
                for (slot, holders) in &single {
                    let m = holders[0];
                    log_info(&format!(">>> Covering slot {slot} with {}:{}\n", self.nodes[m].ip, self.nodes[m].port));
                    if !self.set_slot_owner(m, *slot, false) {
                        return -1;
                    }
                    self.nodes[m].slots[*slot] = true;
                    fixed += 1;
                }
            }
        }
        if !multi.is_empty() {
            out("The following uncovered slots have keys in multiple nodes:\n");
            out(&list(&multi));
            if confirm(&self.opt, "Fix these slots by moving keys into a single node?", true) {
                for (slot, holders) in &multi {
                    let slot = *slot;
                    let Some(target) = self.most_keys_in_slot(holders, slot) else { return -1 };
                    let (ip, port, id) =
                        (self.nodes[target].ip.clone(), self.nodes[target].port, self.nodes[target].name.clone());
                    log_info(&format!(">>> Covering slot {slot} moving keys to {ip}:{port}\n"));
                    if !self.set_slot_owner(target, slot, true) {
                        return -1;
                    }
                    self.nodes[target].slots[slot] = true;
                    for &src in holders.iter().filter(|&&h| h != target) {
                        if self.set_slot(src, slot, "NODE", &id, false).is_err() {
                            return -1;
                        }
                        // Importing, so that MIGRATE is not redirected away.
                        if self.set_slot(src, slot, "IMPORTING", &id, false).is_err() {
                            return -1;
                        }
                        let o = MoveOpts { verbose: true, cold: true, ..MoveOpts::default() };
                        if self.move_slot(src, target, slot, o, false).is_err() {
                            return -1;
                        }
                        if !self.nodes[src].clear_slot_status(slot) {
                            return -1;
                        }
                    }
                    fixed += 1;
                }
            }
        }
        fixed
    }

    /// Closes `slot`, left importing or migrating somewhere, moving its keys where
    /// it makes sense (redis-cli's cases 1 to 4).
    pub fn fix_open_slot(&mut self, slot: usize) -> bool {
        self.refuse_with_unreachable("open slots");
        log_info(&format!(">>> Fixing open slot {slot}\n"));
        let masters = self.masters();
        let mut owners = Vec::new();
        for &i in &masters {
            if self.nodes[i].slots[slot] {
                owners.push(i);
                continue;
            }
            let n = self.nodes[i].count_keys_in_slot(slot);
            if n < 0 {
                return false;
            }
            if n > 0 {
                let node = &self.nodes[i];
                log_warn(&format!("*** Found keys about slot {slot} in non-owner node {}:{}!\n", node.ip, node.port));
                owners.push(i);
            }
        }
        let mut owner = if owners.len() == 1 { Some(owners[0]) } else { None };
        let (mut migrating, mut importing) = (Vec::new(), Vec::new());
        let (mut mig_text, mut imp_text) = (Vec::new(), Vec::new());
        let is_open =
            |list: &[(String, String)]| list.iter().any(|(s, _)| crate::opts::atoi(s.as_bytes()) == slot as i64);
        for &i in &masters {
            let addr = format!("{}:{}", self.nodes[i].ip, self.nodes[i].port);
            if is_open(&self.nodes[i].migrating) {
                mig_text.push(addr);
                migrating.push(i);
            } else if is_open(&self.nodes[i].importing) {
                imp_text.push(addr);
                importing.push(i);
            } else if Some(i) != owner {
                let n = self.nodes[i].count_keys_in_slot(slot);
                if n < 0 {
                    return false;
                }
                if n > 0 {
                    log_warn(&format!("*** Found keys about slot {slot} in node {addr}!\n"));
                    imp_text.push(addr);
                    importing.push(i);
                }
            }
        }
        let (mig_text, imp_text) = (mig_text.join(","), imp_text.join(","));
        if !mig_text.is_empty() {
            out(&format!("Set as migrating in: {mig_text}\n"));
        }
        if !imp_text.is_empty() {
            out(&format!("Set as importing in: {imp_text}\n"));
        }
        let owner = match owner.take() {
            Some(o) => o,
            None => {
                log_info(">>> No single clear owner for the slot, selecting an owner by # of keys...\n");
                let all: Vec<usize> = (0..self.nodes.len()).collect();
                let Some(o) = self.most_keys_in_slot(&all, slot) else {
                    log_err("[ERR] Can't select a slot owner. Impossible to fix.\n");
                    return false;
                };
                log_warn(&format!("*** Configuring {}:{} as the slot owner\n", self.nodes[o].ip, self.nodes[o].port));
                if !self.nodes[o].clear_slot_status(slot) || !self.set_slot_owner(o, slot, false) {
                    return false;
                }
                self.nodes[o].slots[slot] = true;
                migrating.retain(|&m| m != o);
                importing.retain(|&m| m != o);
                o
            }
        };
        let owner_id = self.nodes[owner].name.clone();
        if owners.len() > 1 {
            // One owner; the others become importing, so a case below applies.
            for &n in owners.iter().filter(|&&n| n != owner) {
                if !self.del_slot(n, slot, true) {
                    return false;
                }
                self.nodes[n].slots[slot] = false;
                if self.set_slot(n, slot, "node", &owner_id, false).is_err()
                    || self.set_slot(n, slot, "importing", &owner_id, false).is_err()
                {
                    return false;
                }
                importing.retain(|&m| m != n);
                importing.push(n);
                migrating.retain(|&m| m != n);
            }
        }
        let verbose = MoveOpts { verbose: true, ..MoveOpts::default() };
        let addr = |m: &Manager, i: usize| format!("{}:{}", m.nodes[i].ip, m.nodes[i].port);
        if migrating.len() == 1 && importing.len() == 1 {
            let (src, dst) = (migrating[0], importing[0]);
            log_info(&format!(">>> Case 1: Moving slot {slot} from {} to {}\n", addr(self, src), addr(self, dst)));
            return self.move_slot(src, dst, slot, MoveOpts { update: true, ..verbose }, false).is_ok();
        }
        if migrating.is_empty() && !importing.is_empty() {
            log_info(&format!(">>> Case 2: Moving all the {slot} slot keys to its owner {}\n", addr(self, owner)));
            for &n in importing.iter().filter(|&&n| n != owner) {
                if self.move_slot(n, owner, slot, MoveOpts { cold: true, ..verbose }, false).is_err() {
                    return false;
                }
                log_info(&format!(">>> Setting {slot} as STABLE in {}\n", addr(self, n)));
                if !self.nodes[n].clear_slot_status(slot) {
                    return false;
                }
            }
            // The keys moved cold: tell every master who owns the slot now.
            for i in self.masters() {
                if i != owner && self.set_slot(i, slot, "NODE", &owner_id, false).is_err() {
                    return false;
                }
            }
            return true;
        }
        if migrating.len() == 1 && importing.len() > 1 {
            let src = migrating[0];
            let target_id = self.nodes[src]
                .migrating
                .iter()
                .find(|(s, _)| crate::opts::atoi(s.as_bytes()) == slot as i64)
                .map(|(_, id)| id.clone())
                .unwrap_or_default();
            let mut dst = None;
            let mut has_keys = false;
            for &n in &importing {
                if self.nodes[n].count_keys_in_slot(slot) > 0 {
                    has_keys = true;
                    break;
                }
                if self.nodes[n].name == target_id {
                    dst = Some(n);
                }
            }
            if !has_keys {
                match dst {
                    Some(dst) => {
                        log_info(&format!(
                            ">>> Case 3: Moving slot {slot} from {} to {} and closing it on all the other importing nodes.\n",
                            addr(self, src),
                            addr(self, dst)
                        ));
                        if self.move_slot(src, dst, slot, verbose, false).is_err() {
                            return false;
                        }
                        return importing.iter().filter(|&&n| n != dst).all(|&n| self.nodes[n].clear_slot_status(slot));
                    }
                    None => {
                        log_info(&format!(">>> Case 3: Closing slot {slot} on both migrating and importing nodes.\n"));
                        if !self.nodes[src].clear_slot_status(slot) {
                            return false;
                        }
                        return importing.iter().all(|&n| self.nodes[n].clear_slot_status(slot));
                    }
                }
            }
        } else {
            let mut close = importing.is_empty() && migrating.len() == 1;
            if close && owner != migrating[0] {
                let n = migrating[0];
                let r = self.nodes[n].cmd(&["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), "10"]);
                if !self.nodes[n].reply_ok(&r) {
                    return false;
                }
                close = matches!(r, Some(Value::Array(ref k)) if k.is_empty());
            }
            if close {
                let n = migrating[0];
                log_info(&format!(">>> Case 4: Closing slot {slot} on {}\n", addr(self, n)));
                return self.nodes[n].clear_slot_status(slot);
            }
        }
        // COMPAT: redis-cli's text, its own name included.
        log_err(&format!(
            "[ERR] Sorry, redis-cli can't fix this slot yet (work in progress). Slot is set as migrating in {mig_text}, \
             as importing in {imp_text}, owner is {}\n",
            addr(self, owner)
        ));
        false
    }

    /// Gives `slot` to the one of `owners` with most keys, moving the others' keys
    /// to it.
    pub fn fix_multiple_owners(&mut self, slot: usize, owners: &[usize]) -> bool {
        log_info(&format!(">>> Fixing multiple owners for slot {slot}...\n"));
        let owner = self.most_keys_in_slot(owners, slot).unwrap_or(owners[0]);
        log_info(&format!(">>> Setting slot {slot} owner: {}:{}\n", self.nodes[owner].ip, self.nodes[owner].port));
        if !self.set_slot_owner(owner, slot, false) {
            return false;
        }
        let id = self.nodes[owner].name.clone();
        let mut ok = false;
        for i in self.masters() {
            if i == owner {
                continue;
            }
            let count = self.nodes[i].count_keys_in_slot(slot);
            ok = count >= 0;
            if !ok {
                break;
            }
            self.del_slot(i, slot, true);
            if self.set_slot(i, slot, "node", &id, false).is_err() {
                return false;
            }
            if count > 0 {
                let o = MoveOpts { verbose: true, cold: true, ..MoveOpts::default() };
                ok = self.move_slot(i, owner, slot, o, false).is_ok();
                if !ok {
                    break;
                }
            }
        }
        ok
    }
}
