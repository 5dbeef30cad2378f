//! Per-slot usage statistics and CLUSTER SLOT-STATS (Redis 8.2).
//!
//! Owns the per-slot counters (cpu-usec, network-bytes-in,
//! network-bytes-out), their accounting around each client command, their
//! resets (a slot gained or lost, CONFIG RESETSTAT) and the command itself.
//! key-count is never stored: it is read from the keyspace's slot index.
//!
//! It must not run commands, parse requests or write to sockets: the server
//! hands it the command's slot inputs before the command runs and the
//! command's costs after (`before_command` / `after_command`), and the
//! pub/sub code reports shard messages it delivered (`shard_message_sent`).
//! With `cluster-slot-stats-enabled no` (the default) that costs one branch
//! per command.
//!
//! Mirrors Redis 8.2's cluster slot statistics: a command is charged to a
//! slot only when all its keys (or, for EXEC, all the transaction's keys)
//! hash to that slot; commands nested in EXEC or a script are covered by
//! the outer command's time; a command that blocks is charged its request
//! bytes once, when it is finally served; EXEC also pays for its MULTI.
//! Only slots of this node's shard (its own, or its master's on a replica)
//! are reported. Where it differs: the time of a blocking command's first,
//! blocked run is charged at once rather than when it is served, and the
//! replication stream's bytes are not charged to slots.

use bytes::Bytes;

use super::{key_hash_slot, route, Cluster, SLOTS};
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::server::Server;

/// The bytes of `*1\r\n$5\r\nMULTI\r\n`, charged with the EXEC that ends a
/// transaction (MULTI itself has no keys, so no slot when it arrives).
const MULTI_REQUEST_BYTES: u64 = 15;

/// ORDERBY's LIMIT when none is given: every slot (Redis 8.2's default).
const DEFAULT_LIMIT: usize = SLOTS;

// ------------------------------------------------------------------ counters

/// What one slot has cost since it was last reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Microseconds spent running the slot's commands.
    pub cpu_usec: u64,
    /// Request bytes of the slot's commands.
    pub network_bytes_in: u64,
    /// Reply bytes of the slot's commands, and shard messages sent to
    /// subscribers of the slot's channels.
    pub network_bytes_out: u64,
}

impl Counters {
    fn add(&mut self, other: Counters) {
        self.cpu_usec = self.cpu_usec.saturating_add(other.cpu_usec);
        self.network_bytes_in = self.network_bytes_in.saturating_add(other.network_bytes_in);
        self.network_bytes_out = self.network_bytes_out.saturating_add(other.network_bytes_out);
    }
}

/// The counters of every slot. The table is allocated at the first charge,
/// so a node that never enables the statistics never pays for it.
#[derive(Debug, Default)]
pub struct SlotStats {
    slots: Vec<Counters>,
}

impl SlotStats {
    /// The counters of `slot` (zero when never charged).
    pub fn get(&self, slot: usize) -> Counters {
        self.slots.get(slot).copied().unwrap_or_default()
    }

    /// Adds `cost` to `slot`'s counters.
    pub fn charge(&mut self, slot: usize, cost: Counters) {
        if slot >= SLOTS || cost == Counters::default() {
            return;
        }
        if self.slots.is_empty() {
            self.slots = vec![Counters::default(); SLOTS];
        }
        self.slots[slot].add(cost);
    }

    /// Zeroes `slot`'s counters (it was just assigned or unassigned).
    pub fn reset(&mut self, slot: usize) {
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Counters::default();
        }
    }

    /// Zeroes every counter (CONFIG RESETSTAT).
    pub fn reset_all(&mut self) {
        self.slots.clear();
    }
}

// ---------------------------------------------------------------- accounting

/// What `before_command` noted for `after_command`.
#[derive(Debug, Clone, Copy)]
pub struct Pending {
    slot: u16,
    /// The command's `usec` in INFO COMMANDSTATS before it ran: the
    /// difference afterwards is what `call` measured, nested commands
    /// included.
    usec_before: u64,
    /// Reply bytes buffered before the command ran.
    out_before: usize,
    /// An EXEC that ends a MULTI.
    ends_multi: bool,
}

/// Called before command `idx` (in `c.argv`, past every check) runs or is
/// queued. Returns what `after_command` needs, or None when nothing is to
/// be charged: the statistics are off, cluster mode is off, or the command
/// has no keys or keys in more than one slot.
#[inline]
pub fn before_command(srv: &Server, c: &Client, idx: usize) -> Option<Pending> {
    if !srv.config.cluster_slot_stats_enabled {
        return None;
    }
    srv.cluster.as_ref()?;
    let slot = command_slot(srv, c, idx)?;
    let cmd = &srv.commands.cmds[idx];
    Some(Pending {
        slot,
        usec_before: cmd.stats.usec,
        out_before: c.reply.buf.len(),
        ends_multi: cmd.name == "exec" && c.flags.multi,
    })
}

/// Called after the command `before_command` saw ran (or was queued):
/// charges its time, its reply bytes and, unless it blocked (it is charged
/// when served), its request bytes (`c.req_bytes`) to its slot.
pub fn after_command(srv: &mut Server, c: &mut Client, idx: usize, p: Pending) {
    let mut cost = Counters {
        cpu_usec: srv.commands.cmds[idx].stats.usec.saturating_sub(p.usec_before),
        network_bytes_in: 0,
        network_bytes_out: c.reply.buf.len().saturating_sub(p.out_before) as u64,
    };
    if c.blocked.is_none() {
        cost.network_bytes_in = std::mem::take(&mut c.req_bytes) as u64;
        if p.ends_multi {
            cost.network_bytes_in += MULTI_REQUEST_BYTES;
        }
    }
    if let Some(cl) = srv.cluster.as_deref_mut() {
        cl.slot_stats.charge(usize::from(p.slot), cost);
    }
}

/// The one slot all keys of the command hash to (for EXEC: all keys of its
/// transaction); None without keys or across slots.
fn command_slot(srv: &Server, c: &Client, idx: usize) -> Option<u16> {
    let mut slot = None;
    for (i, argv) in route::commands_of(srv, c, idx) {
        for p in srv.commands.cmds[i].key_positions(argv) {
            let s = key_hash_slot(&argv[p]);
            match slot {
                None => slot = Some(s),
                Some(prev) if prev != s => return None,
                Some(_) => {}
            }
        }
    }
    slot
}

/// A shard message on `channel` was delivered to the clients `receivers`
/// (`publisher`, if among them, already pays through its own reply bytes):
/// charges the bytes sent to the channel's slot.
#[inline]
pub fn shard_message_sent(srv: &mut Server, publisher: Option<usize>, receivers: &[usize], channel: &[u8], msg: &[u8]) {
    if !srv.config.cluster_slot_stats_enabled {
        return;
    }
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    let others = receivers.iter().filter(|&&k| Some(k) != publisher).count() as u64;
    // `*3` (or `>3`), then three bulk strings.
    let frame = 4 + bulk_len(b"smessage".len()) + bulk_len(channel.len()) + bulk_len(msg.len());
    let cost = Counters { network_bytes_out: others * frame, ..Counters::default() };
    cl.slot_stats.charge(key_hash_slot(channel) as usize, cost);
}

/// Encoded size of a bulk string of `n` bytes: `$<n>\r\n<bytes>\r\n`.
fn bulk_len(n: usize) -> u64 {
    (1 + n.to_string().len() + 2 + n + 2) as u64
}

// ------------------------------------------------------------------- command

/// A metric to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Keys in the slot.
    KeyCount,
    /// `cpu-usec`.
    CpuUsec,
    /// `network-bytes-in`.
    NetworkBytesIn,
    /// `network-bytes-out`.
    NetworkBytesOut,
}

/// A parsed CLUSTER SLOT-STATS request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// SLOTSRANGE start end (inclusive, start <= end).
    Range(usize, usize),
    /// ORDERBY metric [LIMIT n] [ASC|DESC].
    OrderBy {
        /// The metric.
        metric: Metric,
        /// At most this many slots (1..=16384).
        limit: usize,
        /// Greatest first.
        desc: bool,
    },
}

/// Parses the arguments after `CLUSTER SLOT-STATS`. `enabled` is
/// `cluster-slot-stats-enabled`: without it only key-count may be sorted
/// by. Errors are Redis's texts; a shape that is neither form gets None,
/// for the caller's subcommand syntax error.
pub fn parse(args: &[Bytes], enabled: bool) -> Result<Option<Request>, ReplyError> {
    use crate::cmd::args::is;
    let Some(first) = args.first() else { return Ok(None) };
    if is(first, "slotsrange") && args.len() == 3 {
        let start = super::cmd::slot_arg(&args[1])?;
        let end = super::cmd::slot_arg(&args[2])?;
        if start > end {
            // COMPAT: clusterSlotStatsCommand's range error.
            return Err(ReplyError::err(format!("Start slot number {start} is greater than end slot number {end}")));
        }
        return Ok(Some(Request::Range(start, end)));
    }
    if !is(first, "orderby") || args.len() < 2 {
        return Ok(None);
    }
    let name = &args[1];
    let metric = if is(name, "key-count") {
        Metric::KeyCount
    } else if enabled && is(name, "cpu-usec") {
        Metric::CpuUsec
    } else if enabled && is(name, "network-bytes-in") {
        Metric::NetworkBytesIn
    } else if enabled && is(name, "network-bytes-out") {
        Metric::NetworkBytesOut
    } else {
        // COMPAT: an unknown metric, or one whose statistics are off.
        return Err(ReplyError::err("Unrecognized sort metric for ORDERBY."));
    };
    let (mut limit, mut desc) = (DEFAULT_LIMIT, true);
    let (mut limits_seen, mut orders_seen) = (0, 0);
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "limit") && i + 1 < args.len() {
            limit = match crate::util::num::string2ll(&args[i + 1]) {
                Some(n) if (1..=SLOTS as i64).contains(&n) => n as usize,
                // COMPAT: the same text for a non-number and a bad range.
                _ => return Err(ReplyError::err("Limit has to lie in between 1 and 16384 (maximum number of slots).")),
            };
            limits_seen += 1;
            i += 1;
        } else if is(&args[i], "asc") {
            desc = false;
            orders_seen += 1;
        } else if is(&args[i], "desc") {
            desc = true;
            orders_seen += 1;
        } else {
            return Err(ReplyError::Syntax);
        }
        if limits_seen > 1 || orders_seen > 1 {
            // COMPAT: a repeated LIMIT or ASC/DESC.
            return Err(ReplyError::err("Multiple filters of the same type are disallowed."));
        }
        i += 1;
    }
    Ok(Some(Request::OrderBy { metric, limit, desc }))
}

/// Slots of this node's shard: ours, or our master's on a replica.
fn shard_slots(cl: &Cluster) -> impl Iterator<Item = usize> + '_ {
    let owner = cl.me().replica_of.unwrap_or(cl.myself);
    (0..SLOTS).filter(move |&s| cl.slots[s] == Some(owner))
}

/// Slots of `candidates` ordered as ORDERBY wants: by `value`, greatest
/// first when `desc`, ties by ascending slot; at most `limit`.
fn order_slots(candidates: &[usize], value: impl Fn(usize) -> u64, desc: bool, limit: usize) -> Vec<usize> {
    let mut v: Vec<(u64, usize)> = candidates.iter().map(|&s| (value(s), s)).collect();
    if desc {
        v.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    } else {
        v.sort_unstable();
    }
    v.into_iter().take(limit).map(|(_, s)| s).collect()
}

/// CLUSTER SLOT-STATS SLOTSRANGE start end | ORDERBY metric [LIMIT n]
/// [ASC|DESC]: for each selected slot of this shard, `[slot, {key-count,
/// and with cluster-slot-stats-enabled cpu-usec, network-bytes-in,
/// network-bytes-out}]` (a map in RESP3, a flat array in RESP2).
pub fn slot_stats(srv: &mut Server, c: &mut Client) -> CmdResult {
    super::cmd::cluster(srv)?;
    let enabled = srv.config.cluster_slot_stats_enabled;
    let Some(req) = parse(&c.argv[2..], enabled)? else {
        return Err(crate::cmd::stream::subcommand_syntax(c));
    };
    let cl = srv.cluster.as_deref().expect("cluster mode");
    let ks = &srv.ks;
    let keys = |s: usize| route::count_keys_in_slot(ks, s) as u64;
    let slots: Vec<usize> = match req {
        Request::Range(a, b) => shard_slots(cl).filter(|s| (a..=b).contains(s)).collect(),
        Request::OrderBy { metric, limit, desc } => {
            let mine: Vec<usize> = shard_slots(cl).collect();
            let st = &cl.slot_stats;
            match metric {
                Metric::KeyCount => order_slots(&mine, keys, desc, limit),
                Metric::CpuUsec => order_slots(&mine, |s| st.get(s).cpu_usec, desc, limit),
                Metric::NetworkBytesIn => order_slots(&mine, |s| st.get(s).network_bytes_in, desc, limit),
                Metric::NetworkBytesOut => order_slots(&mine, |s| st.get(s).network_bytes_out, desc, limit),
            }
        }
    };
    c.reply.array(slots.len());
    for s in slots {
        c.reply.array(2);
        c.reply.int(s as i64);
        c.reply.map(if enabled { 4 } else { 1 });
        c.reply.bulk(b"key-count");
        c.reply.int(keys(s) as i64);
        if enabled {
            let st = cl.slot_stats.get(s);
            for (name, v) in [
                ("cpu-usec", st.cpu_usec),
                ("network-bytes-in", st.network_bytes_in),
                ("network-bytes-out", st.network_bytes_out),
            ] {
                c.reply.bulk(name.as_bytes());
                c.reply.int(v.min(i64::MAX as u64) as i64);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    fn parse_ok(words: &[&str], enabled: bool) -> Request {
        parse(&args(words), enabled).expect("parses").expect("a request")
    }

    fn parse_err(words: &[&str], enabled: bool) -> String {
        parse(&args(words), enabled).expect_err("an error").to_string()
    }

    #[test]
    fn slotsrange_parses_and_checks_its_bounds() {
        assert_eq!(parse_ok(&["SLOTSRANGE", "0", "100"], false), Request::Range(0, 100));
        assert_eq!(parse_ok(&["slotsrange", "7", "7"], false), Request::Range(7, 7));
        assert_eq!(parse_ok(&["SlotsRange", "0", "16383"], false), Request::Range(0, 16383));
        assert_eq!(parse_err(&["SLOTSRANGE", "0", "16384"], false), "ERR Invalid or out of range slot");
        assert_eq!(parse_err(&["SLOTSRANGE", "-1", "5"], false), "ERR Invalid or out of range slot");
        assert_eq!(parse_err(&["SLOTSRANGE", "x", "5"], false), "ERR Invalid or out of range slot");
        assert_eq!(
            parse_err(&["SLOTSRANGE", "10", "5"], false),
            "ERR Start slot number 10 is greater than end slot number 5"
        );
        // Wrong shapes are the caller's subcommand error.
        assert_eq!(parse(&args(&["SLOTSRANGE", "0"]), false).unwrap(), None);
        assert_eq!(parse(&args(&["SLOTSRANGE", "0", "1", "2"]), false).unwrap(), None);
        assert_eq!(parse(&args(&["ORDERBY"]), false).unwrap(), None);
        assert_eq!(parse(&args(&["SLOTS", "1"]), false).unwrap(), None);
        assert_eq!(parse(&args(&[]), false).unwrap(), None);
    }

    #[test]
    fn orderby_defaults_and_options() {
        let ob = |metric, limit, desc| Request::OrderBy { metric, limit, desc };
        assert_eq!(parse_ok(&["ORDERBY", "key-count"], false), ob(Metric::KeyCount, 16384, true));
        assert_eq!(parse_ok(&["orderby", "KEY-COUNT", "LIMIT", "10", "DESC"], false), ob(Metric::KeyCount, 10, true));
        assert_eq!(parse_ok(&["ORDERBY", "key-count", "asc", "limit", "1"], false), ob(Metric::KeyCount, 1, false));
        assert_eq!(parse_ok(&["ORDERBY", "cpu-usec", "ASC"], true), ob(Metric::CpuUsec, 16384, false));
        assert_eq!(parse_ok(&["ORDERBY", "network-bytes-in"], true), ob(Metric::NetworkBytesIn, 16384, true));
        assert_eq!(parse_ok(&["ORDERBY", "network-bytes-out"], true), ob(Metric::NetworkBytesOut, 16384, true));
    }

    #[test]
    fn orderby_errors_are_redis_texts() {
        let metric = "ERR Unrecognized sort metric for ORDERBY.";
        assert_eq!(parse_err(&["ORDERBY", "nope"], true), metric);
        for m in ["cpu-usec", "network-bytes-in", "network-bytes-out"] {
            assert_eq!(parse_err(&["ORDERBY", m], false), metric, "{m} needs the statistics on");
        }
        let limit = "ERR Limit has to lie in between 1 and 16384 (maximum number of slots).";
        for bad in ["0", "-1", "16385", "ten", ""] {
            assert_eq!(parse_err(&["ORDERBY", "key-count", "LIMIT", bad], false), limit, "LIMIT {bad:?}");
        }
        assert_eq!(parse_err(&["ORDERBY", "key-count", "DESC", "LIMIT", "-1"], false), limit);
        assert_eq!(parse_err(&["ORDERBY", "key-count", "LIMIT"], false), "ERR syntax error");
        assert_eq!(parse_err(&["ORDERBY", "key-count", "non-existent-arg"], false), "ERR syntax error");
        let twice = "ERR Multiple filters of the same type are disallowed.";
        assert_eq!(parse_err(&["ORDERBY", "key-count", "ASC", "DESC"], false), twice);
        assert_eq!(parse_err(&["ORDERBY", "key-count", "LIMIT", "1", "LIMIT", "2"], false), twice);
    }

    #[test]
    fn ordering_breaks_ties_by_ascending_slot() {
        let vals = |s: usize| [5u64, 1, 5, 0, 3][s];
        let slots = [0, 1, 2, 3, 4];
        assert_eq!(order_slots(&slots, vals, true, 16384), vec![0, 2, 4, 1, 3]);
        assert_eq!(order_slots(&slots, vals, false, 16384), vec![3, 1, 4, 0, 2]);
        assert_eq!(order_slots(&slots, vals, true, 2), vec![0, 2]);
        assert_eq!(order_slots(&slots, |_| 0, true, 3), vec![0, 1, 2]);
        assert_eq!(order_slots(&slots, |_| 0, false, 3), vec![0, 1, 2]);
    }

    #[test]
    fn counters_charge_and_reset() {
        let mut st = SlotStats::default();
        assert_eq!(st.get(5), Counters::default());
        st.reset(5);
        st.charge(5, Counters { cpu_usec: 3, network_bytes_in: 33, network_bytes_out: 5 });
        st.charge(5, Counters { cpu_usec: 1, network_bytes_in: 0, network_bytes_out: 4 });
        st.charge(SLOTS, Counters { cpu_usec: 1, ..Counters::default() });
        assert_eq!(st.get(5), Counters { cpu_usec: 4, network_bytes_in: 33, network_bytes_out: 9 });
        assert_eq!(st.get(6), Counters::default());
        st.reset(5);
        assert_eq!(st.get(5), Counters::default());
        st.charge(7, Counters { cpu_usec: u64::MAX, ..Counters::default() });
        st.charge(7, Counters { cpu_usec: 1, ..Counters::default() });
        assert_eq!(st.get(7).cpu_usec, u64::MAX);
        st.reset_all();
        assert_eq!(st.get(7), Counters::default());
    }

    #[test]
    fn smessage_frame_size_matches_redis_test_figures() {
        // *3 $8 smessage $7 channel $5 hello: 42 bytes.
        assert_eq!(4 + bulk_len(8) + bulk_len(7) + bulk_len(5), 42);
        assert_eq!(bulk_len(0), 6);
        assert_eq!(bulk_len(10), 17); // $10\r\n + 10 bytes + \r\n
    }

    #[test]
    fn random_arguments_never_panic() {
        let words = ["SLOTSRANGE", "ORDERBY", "LIMIT", "ASC", "DESC", "key-count", "cpu-usec", "0", "16383", "-1"];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let n = (next() % 7) as usize;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let r = next();
                if r % 3 == 0 {
                    let len = (r >> 8) as usize % 12;
                    v.push(Bytes::from((0..len).map(|_| next() as u8).collect::<Vec<u8>>()));
                } else {
                    v.push(Bytes::from_static(words[(r >> 8) as usize % words.len()].as_bytes()));
                }
            }
            if let Ok(Some(Request::OrderBy { limit, .. })) = parse(&v, next() % 2 == 0) {
                assert!((1..=SLOTS).contains(&limit));
            }
        }
    }
}
