//! Blocking commands: one mechanism for BLPOP and friends.
//!
//! A handler that finds nothing to serve calls `Server::block_client` with the
//! keys it waits on and its deadline, and replies nothing. The client then
//! stops processing input. A write to one of those keys (seen through the
//! keyspace's modified-key queue) marks the key ready; before the reactor
//! sleeps, `serve_ready_keys` re-runs the waiting commands of each ready key
//! in the order the clients blocked, the same way Redis serves blocked clients
//! first-come first-served. A deadline fires from the timer heap and replies
//! with the null array Redis sends on timeout. Inside MULTI/EXEC a blocking
//! command never blocks: it answers as if it had timed out.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::client::Client;
use crate::server::{Server, Timer};
use crate::types::sds::Sds;

/// Why and until when a client is blocked.
#[derive(Debug, Clone)]
pub struct Blocked {
    /// Database of the keys.
    pub db: usize,
    /// Keys waited on.
    pub keys: Vec<Sds>,
    /// The type (TYPE's name) a key must hold to serve this client: a key
    /// rewritten with another type does not wake it.
    pub kind: &'static str,
    /// Also wake when a key is deleted or changes type (XREADGROUP, which
    /// then answers with an error).
    pub wake_on_delete: bool,
    /// Absolute deadline (Unix ms); `None` waits forever.
    pub deadline_ms: Option<i64>,
    /// Timer that fires the deadline.
    pub timer: Option<u64>,
    /// Set for WAIT: the acknowledgements awaited instead of keys.
    pub wait_for: Option<crate::repl::acks::WaitFor>,
}

impl Server {
    /// The absolute deadline for a relative blocking timeout (0 = forever).
    pub fn block_deadline(&self, timeout_ms: i64) -> Option<i64> {
        (timeout_ms > 0).then(|| self.clock.now_ms.saturating_add(timeout_ms))
    }

    /// Blocks `c` on `keys` (in its current db) until `deadline_ms`, waiting
    /// for a value of type `kind` (TYPE's name). The caller replies nothing.
    /// Inside EXEC the null array is sent at once.
    pub fn block_client(&mut self, c: &mut Client, keys: &[Bytes], kind: &'static str, deadline_ms: Option<i64>) {
        if c.in_exec {
            c.reply.null_array();
            return;
        }
        // A client re-run after being served keeps its original deadline.
        let deadline_ms = c.reblock_deadline.take().unwrap_or(deadline_ms);
        let db = c.db;
        let mut waited = Vec::with_capacity(keys.len());
        for k in keys {
            let key = Sds::from(&k[..]);
            if waited.contains(&key) {
                continue;
            }
            self.blocking_keys.entry((db, key.clone())).or_default().push_back(c.key);
            waited.push(key);
        }
        let timer = deadline_ms.map(|at| self.timers.add(at, Timer::BlockTimeout(c.key, c.id)));
        c.blocked = Some(Blocked { db, keys: waited, kind, wake_on_delete: false, deadline_ms, timer, wait_for: None });
        self.stats.blocked_clients += 1;
    }

    /// Makes a client that just blocked also wake when one of its keys is
    /// deleted or replaced by another type.
    pub fn wake_on_delete(&mut self, c: &mut Client) {
        if let Some(b) = c.blocked.as_mut() {
            b.wake_on_delete = true;
        }
    }

    /// Removes `c` from every wait list and cancels its deadline.
    pub fn unblock_client(&mut self, c: &mut Client) {
        let Some(b) = c.blocked.take() else { return };
        for k in b.keys {
            let id = (b.db, k);
            if let Some(q) = self.blocking_keys.get_mut(&id) {
                q.retain(|&x| x != c.key);
                if q.is_empty() {
                    self.blocking_keys.remove(&id);
                }
            }
        }
        if let Some(t) = b.timer {
            self.timers.cancel(t);
        }
        if b.wait_for.is_some() {
            self.repl.waiting.retain(|&k| k != c.key);
        }
        if b.kind == "shutdown" {
            self.shutdown_waiters.retain(|&k| k != c.key);
        }
        self.stats.blocked_clients = self.stats.blocked_clients.saturating_sub(1);
    }

    /// Notes that `key` changed; if clients wait on it, it becomes ready.
    pub fn signal_key_ready(&mut self, db: usize, key: &Sds) {
        let id = (db, key.clone());
        if self.blocking_keys.contains_key(&id) && !self.ready_keys.contains(&id) {
            self.ready_keys.push(id);
        }
    }

    /// After SWAPDB or FLUSHDB: every waited key of `db` may have changed.
    pub fn signal_db_ready(&mut self, db: usize) {
        let keys: Vec<Sds> = self.blocking_keys.keys().filter(|(d, _)| *d == db).map(|(_, k)| k.clone()).collect();
        for k in keys {
            self.signal_key_ready(db, &k);
        }
    }

    /// Serves clients blocked on keys that became ready, re-running their
    /// commands in blocking order; repeats while serving makes more keys ready
    /// (BLMOVE pushes into another list).
    pub fn serve_ready_keys(&mut self) {
        while !self.ready_keys.is_empty() {
            let ready = std::mem::take(&mut self.ready_keys);
            for (db, key) in ready {
                let waiting: VecDeque<usize> = self.blocking_keys.get(&(db, key.clone())).cloned().unwrap_or_default();
                for ck in waiting {
                    // The type the key holds now (None: deleted). A client
                    // waiting for another type stays blocked unless it asked
                    // to hear about deletions.
                    let held = self.ks.dbs[db].dict.get(&key).map(|o| o.value.type_name());
                    let Some(mut c) = self.take_client_slot(ck) else { continue };
                    let wake = c.blocked.as_ref().is_some_and(|b| Some(b.kind) == held || b.wake_on_delete);
                    if wake {
                        let deadline = c.blocked.as_ref().and_then(|b| b.deadline_ms);
                        self.unblock_client(&mut c);
                        c.reblock_deadline = Some(deadline);
                        self.rerun_blocked(&mut c);
                        c.reblock_deadline = None;
                    }
                    self.return_client_slot(c);
                }
            }
        }
    }

    /// Runs the command a blocked client is waiting on, then carries on with
    /// its pending input if it did not block again.
    fn rerun_blocked(&mut self, c: &mut Client) {
        self.execute(c);
        // The kept deadline belonged to that command only, not to the ones
        // pipelined after it.
        c.reblock_deadline = None;
        if c.blocked.is_none() {
            c.argv.clear();
            c.command_ready = false;
            self.process_input(c);
        }
        self.queue_client_write(c);
    }

    /// The deadline of client `key` (generation `id`) passed.
    pub fn block_timeout(&mut self, key: usize, id: u64) {
        let Some(mut c) = self.take_client_slot(key) else { return };
        if c.id == id && c.blocked.is_some() {
            let wait = c.blocked.as_ref().and_then(|b| b.wait_for);
            self.unblock_client(&mut c);
            self.reply_timed_out(&mut c, wait);
            c.argv.clear();
            c.command_ready = false;
            self.process_input(&mut c);
            self.queue_client_write(&mut c);
        }
        self.return_client_slot(c);
    }

    /// CLIENT UNBLOCK: ends another client's wait with the timeout reply or
    /// the UNBLOCKED error. Returns false if that client was not blocked.
    pub fn unblock_by_request(&mut self, key: usize, with_error: bool) -> bool {
        let Some(mut c) = self.take_client_slot(key) else { return false };
        let was = c.blocked.is_some();
        if was {
            let wait = c.blocked.as_ref().and_then(|b| b.wait_for);
            self.unblock_client(&mut c);
            if with_error {
                // COMPAT: Redis's error for CLIENT UNBLOCK ... ERROR.
                let e = crate::client::reply::ReplyError::other("UNBLOCKED client unblocked via CLIENT UNBLOCK");
                self.reply_error(&mut c, &e);
                crate::latency::unblocked_with_error(self, &c);
            } else {
                self.reply_timed_out(&mut c, wait);
            }
            c.argv.clear();
            c.command_ready = false;
            self.process_input(&mut c);
            self.queue_client_write(&mut c);
        }
        self.return_client_slot(c);
        was
    }

    /// The reply of a wait that ended without being served: the null array,
    /// or for WAIT the number of replicas that did acknowledge.
    fn reply_timed_out(&mut self, c: &mut Client, wait: Option<crate::repl::acks::WaitFor>) {
        match wait {
            Some(w) => c.reply.int(crate::repl::acks::count_acks(self, w.offset)),
            None => c.reply.null_array(),
        }
    }
}
