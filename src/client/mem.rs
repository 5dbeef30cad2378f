//! Client memory: what each connection holds (query buffer, argument vector,
//! MULTI queue, subscriptions, reply buffers), the limits applied to it
//! (`client-output-buffer-limit`, `maxmemory-clients`) and the CLIENT LIST
//! line that reports it all.
//!
//! Owns the per-client figures ([`ClientMem`], [`OutputAccount`]) and the
//! server-wide sums ([`ClientsMem`]). It must not read or write the keyspace
//! and never writes to a socket: it marks clients to close (`close_asap`) or
//! frees them through `Server::free_client`.
//!
//! Mirrors Redis 7.0's accounting so that the numbers operators and tools read
//! mean the same thing: the reply goes into a fixed buffer (`rbs`, resized by
//! the cron from its peak `rbp`) and then into a list of blocks of at least
//! 16 KiB (`oll`, `omem`); the query buffer keeps its allocation between
//! commands and is trimmed by the cron when idle or oversized; output limits
//! count the block list only; client eviction frees the biggest clients
//! first, grouped in power-of-two buckets, until the normal and pub/sub
//! clients together are back under the limit.
//!
//! Our reply bytes live in one contiguous vector; [`OutputAccount`] lays the
//! same bytes out as Redis would (buffer, then blocks), in append order,
//! without copying them.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::Client;
use crate::client::reply::{CmdResult, ReplyError};
use crate::cmd::args;
use crate::config::{BufferLimit, Config};
use crate::server::Server;

/// Bytes a read asks for, and the least a query buffer offers before a read.
pub const PROTO_IOBUF_LEN: usize = 16 * 1024;
/// Size of the fixed reply buffer of a new client and the smallest reply block.
const REPLY_CHUNK: usize = 16 * 1024;
/// The reply buffer is never shrunk below this.
const REPLY_MIN: usize = 1024;
/// A query buffer bigger than this may be trimmed to its recent peak.
const RESIZE_THRESHOLD: usize = 32 * 1024;
/// Arguments this big get a query buffer of their own size.
const BIG_ARG: usize = 32 * 1024;
/// Bookkeeping per reply block (a list node plus the block header).
const BLOCK_OVERHEAD: usize = 40;
/// Default interval between reply-buffer peak resets.
pub const PEAK_RESET_DEFAULT_MS: i64 = 5000;
/// Seconds of history for `client_recent_max_*_buffer`.
const PEAK_SLOTS: usize = 8;
/// Eviction buckets: clients up to 2^15 bytes share the first, above 2^32 the last.
const BUCKET_MIN_LOG: u32 = 15;
const BUCKET_MAX_LOG: u32 = 33;
/// `maxmemory-clients` is never applied below this, so the server stays reachable.
const EVICTION_FLOOR: u64 = 128 * 1024;
/// Per watched key, per queued command and per subscription bookkeeping.
const WATCHED_KEY_OVERHEAD: usize = 48;
const QUEUED_CMD_OVERHEAD: usize = 24;
/// Bytes counted per CLIENT TRACKING BCAST prefix besides its text (a radix
/// tree node and its child pointers in Redis's accounting).
const TRACKING_PREFIX_OVERHEAD: usize = 32;
const SUBSCRIPTION_OVERHEAD: usize = 32;
const PATTERN_OVERHEAD: usize = 24;

/// The class a client belongs to for output limits and memory statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Class {
    /// Ordinary connections (and MONITOR clients).
    #[default]
    Normal,
    /// Replicas of this server.
    Replica,
    /// Clients subscribed to at least one channel or pattern.
    PubSub,
    /// The link to our primary.
    Master,
}

impl Class {
    /// Parses a class name as CLIENT LIST/KILL TYPE accepts it.
    pub fn parse(name: &[u8]) -> Option<Class> {
        if args::is(name, "normal") {
            Some(Class::Normal)
        } else if args::is(name, "replica") || args::is(name, "slave") {
            Some(Class::Replica)
        } else if args::is(name, "pubsub") {
            Some(Class::PubSub)
        } else if args::is(name, "master") {
            Some(Class::Master)
        } else {
            None
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The class of `c` (replication links arrive with issue 6).
pub fn class_of(c: &Client) -> Class {
    if c.flags.master {
        Class::Master
    } else if c.flags.replica {
        Class::Replica
    } else if c.subs.count() > 0 {
        Class::PubSub
    } else {
        Class::Normal
    }
}

// ------------------------------------------------------------ reply layout

/// One block of the virtual reply list.
#[derive(Debug, Clone, Copy)]
struct Block {
    size: usize,
    used: usize,
}

/// Where `n` newly appended bytes land: the fixed buffer, the tail block's
/// free room, and a new block (its size, 0 for none).
struct Placement {
    to_buf: usize,
    to_tail: usize,
    new_block: usize,
}

/// The reply bytes of one client laid out as Redis lays them out, for
/// accounting only. Fed lazily: [`OutputAccount::sync`] accounts whatever was
/// appended to the physical buffer since the last call.
#[derive(Debug)]
pub struct OutputAccount {
    /// Size of the fixed buffer (`rbs`).
    pub buf_size: usize,
    /// Bytes in the fixed buffer (`obl`), written or not.
    bufpos: usize,
    /// Bytes of the fixed buffer already written.
    sentlen: usize,
    /// Highest `bufpos` since the last peak reset (`rbp`).
    peak: usize,
    /// When the peak was last reset (Unix ms).
    peak_reset_at: i64,
    /// The block list.
    blocks: VecDeque<Block>,
    /// Bytes of the first block already written.
    head_sent: usize,
    /// Sum of the block sizes.
    list_bytes: usize,
    /// Physical bytes already accounted.
    seen: usize,
    /// Unix seconds since when the soft limit has been exceeded (0: it is not).
    soft_since: i64,
    /// Hard output limit of the client's class, refreshed before each
    /// command, for handlers that stop a huge reply early (0: none).
    pub hard_limit: usize,
}

impl Default for OutputAccount {
    fn default() -> Self {
        OutputAccount {
            buf_size: REPLY_CHUNK,
            bufpos: 0,
            sentlen: 0,
            peak: 0,
            peak_reset_at: 0,
            blocks: VecDeque::new(),
            head_sent: 0,
            list_bytes: 0,
            seen: 0,
            soft_since: 0,
            hard_limit: 0,
        }
    }
}

impl OutputAccount {
    fn place(&self, n: usize) -> Placement {
        let mut rest = n;
        let mut to_buf = 0;
        if self.blocks.is_empty() {
            to_buf = rest.min(self.buf_size.saturating_sub(self.bufpos));
            rest -= to_buf;
        }
        let tail_free = self.blocks.back().map_or(0, |b| b.size - b.used);
        let to_tail = rest.min(tail_free);
        rest -= to_tail;
        Placement { to_buf, to_tail, new_block: if rest > 0 { rest.max(REPLY_CHUNK) } else { 0 } }
    }

    /// Accounts the bytes appended since the last call; `physical` is the
    /// length of the reply vector (written prefix included).
    pub fn sync(&mut self, physical: usize) {
        let n = physical.saturating_sub(self.seen);
        self.seen = physical;
        if n == 0 {
            return;
        }
        let p = self.place(n);
        self.bufpos += p.to_buf;
        self.peak = self.peak.max(self.bufpos);
        if let Some(tail) = self.blocks.back_mut() {
            tail.used += p.to_tail;
        }
        if p.new_block > 0 {
            let used = n - p.to_buf - p.to_tail;
            self.blocks.push_back(Block { size: p.new_block, used });
            self.list_bytes += p.new_block;
        }
    }

    /// A reply of unknown length starts (Redis's deferred length): its
    /// header will be filled in later, so an empty block takes its place and
    /// everything after it goes to the block list.
    pub fn defer(&mut self) {
        self.blocks.push_back(Block { size: 0, used: 0 });
    }

    /// Accounts `n` bytes written to the socket: the fixed buffer drains
    /// first, then the blocks in order.
    pub fn written(&mut self, mut n: usize) {
        if self.bufpos > self.sentlen {
            let take = n.min(self.bufpos - self.sentlen);
            self.sentlen += take;
            n -= take;
            if self.sentlen == self.bufpos {
                self.bufpos = 0;
                self.sentlen = 0;
            }
        }
        loop {
            let Some(head) = self.blocks.front() else { break };
            let left = head.used - self.head_sent;
            if n < left {
                self.head_sent += n;
                break;
            }
            n -= left;
            self.list_bytes -= head.size;
            self.blocks.pop_front();
            self.head_sent = 0;
        }
    }

    /// Everything was written and the physical buffer emptied.
    pub fn drained(&mut self) {
        self.bufpos = 0;
        self.sentlen = 0;
        self.blocks.clear();
        self.head_sent = 0;
        self.list_bytes = 0;
        self.seen = 0;
    }

    /// (obl, oll, omem, rbp) as if synced to `physical`, without mutating.
    fn view(&self, physical: usize) -> (usize, usize, usize, usize) {
        let p = self.place(physical.saturating_sub(self.seen));
        let bufpos = self.bufpos + p.to_buf;
        let (oll, list) = if p.new_block > 0 {
            (self.blocks.len() + 1, self.list_bytes + p.new_block)
        } else {
            (self.blocks.len(), self.list_bytes)
        };
        (bufpos, oll, list + oll * BLOCK_OVERHEAD, self.peak.max(bufpos))
    }

    /// True if the output, synced to `physical`, reached `hard_limit`.
    pub fn over_hard_limit(&self, physical: usize) -> bool {
        self.hard_limit != 0 && self.view(physical).2 >= self.hard_limit
    }

    /// Output-buffer memory as limits count it: the block list only.
    fn list_memory(&self) -> usize {
        self.list_bytes + self.blocks.len() * BLOCK_OVERHEAD
    }

    /// The cron's resize: shrink the fixed buffer to its peak when the peak
    /// stays under half of it, double it (up to 16 KiB) when the peak fills
    /// it; the peak restarts from the current fill every `reset_ms` (never if
    /// negative). Returns +1 for an expansion, -1 for a shrink, 0 otherwise.
    fn resize(&mut self, now_ms: i64, reset_ms: i64) -> i32 {
        let mut changed = 0;
        let shrink_to = self.buf_size / 2;
        let grow_to = self.buf_size * 2;
        let mut new_size = 0;
        if shrink_to >= REPLY_MIN && self.peak < shrink_to {
            new_size = REPLY_MIN.max(self.peak + 1);
            changed = -1;
        } else if grow_to < REPLY_CHUNK * 2 && self.peak == self.buf_size {
            new_size = REPLY_CHUNK.min(grow_to);
            changed = 1;
        }
        if reset_ms >= 0 && now_ms - self.peak_reset_at >= reset_ms {
            self.peak = self.bufpos;
            self.peak_reset_at = now_ms;
        }
        if new_size > 0 {
            self.buf_size = new_size.max(self.bufpos);
        }
        changed
    }
}

// ------------------------------------------------------------ per client

/// Per-client memory state kept beside the buffers.
#[derive(Debug, Default)]
pub struct ClientMem {
    /// Query-buffer bytes already parsed in the current batch (Redis keeps
    /// them in the buffer until the batch ends, so `qbuf` shows them).
    pub qb_pos: usize,
    /// Capacity of the query buffer when the batch started; restored when
    /// the batch leaves the buffer empty, as an sds keeps its allocation.
    batch_alloc: usize,
    /// Biggest single parse of the batch when it took a big argument (0:
    /// none); Redis then gives the client a fresh buffer of that size.
    big_arg: usize,
    /// How many leading arguments of a half-read command were already
    /// copied out of the query buffer (see `detach_partial_args`).
    detached: usize,
    /// Total memory last added to the server-wide sums.
    last_mem: usize,
    /// The class those bytes were added under.
    last_class: Class,
    /// A replica's share of the shared replication buffer when its output
    /// limit was last checked; counted in `omem` and `tot-mem`.
    pub repl_share: usize,
}

/// Everything CLIENT LIST reports about a client's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// `qbuf`: query-buffer bytes.
    pub qbuf: usize,
    /// `qbuf-free`: spare room in the query buffer.
    pub qbuf_free: usize,
    /// `argv-mem`: bytes of the current command's arguments.
    pub argv_mem: usize,
    /// `multi-mem`: bytes of the queued MULTI commands and watched keys.
    pub multi_mem: usize,
    /// `rbs`: reply buffer size.
    pub rbs: usize,
    /// `rbp`: reply buffer peak.
    pub rbp: usize,
    /// `obl`: bytes in the reply buffer.
    pub obl: usize,
    /// `oll`: reply blocks.
    pub oll: usize,
    /// `omem`: memory of the reply blocks.
    pub omem: usize,
    /// `tot-mem`: everything above plus the client itself.
    pub tot: usize,
}

/// Computes `c`'s memory figures.
pub fn usage(c: &Client) -> Usage {
    let qbuf = c.mem.qb_pos + c.query.len();
    let qbuf_free = c.query.capacity().saturating_sub(c.query.len());
    let argv_mem: usize = c.argv.iter().map(|a| a.len()).sum();
    let queued: usize = c.multi_queue.iter().flat_map(|(_, v)| v.iter()).map(|a| a.len()).sum();
    let multi_mem = queued + c.multi_queue.capacity() * QUEUED_CMD_OVERHEAD + c.watched.len() * WATCHED_KEY_OVERHEAD;
    let (obl, oll, omem, rbp) = c.reply.acct.view(c.reply.buf.len());
    let rbs = c.reply.acct.buf_size;
    let pubsub =
        (c.subs.channels.len() + c.subs.shard.len()) * SUBSCRIPTION_OVERHEAD + c.subs.patterns.len() * PATTERN_OVERHEAD;
    // BCAST prefixes live in a radix tree: their bytes plus a node each.
    let tracking: usize = c.tracking.prefixes.iter().map(|p| p.len() + TRACKING_PREFIX_OVERHEAD).sum();
    let tot = omem
        + qbuf
        + qbuf_free
        + std::mem::size_of::<Client>()
        + rbs
        + argv_mem
        + 8 * c.argv.len()
        + multi_mem
        + pubsub
        + tracking;
    // The reply really lives in one growable vector whose capacity can run
    // ahead of Redis's block layout; count whichever is larger, so client
    // eviction sees at least what `maxmemory` sees.
    let real_reply = c.reply.buf.capacity();
    let tot = tot.max(tot - omem - rbs + real_reply) + c.mem.repl_share;
    let omem = omem + c.mem.repl_share;
    Usage { qbuf, qbuf_free, argv_mem, multi_mem, rbs, rbp, obl, oll, omem, tot }
}

/// One CLIENT LIST / CLIENT INFO line (no trailing newline), fields in Redis
/// 7.0's order. Kept here because every limit log line prints it too.
pub fn info_line(c: &Client, now_ms: i64) -> String {
    let mut flags = String::new();
    if c.flags.replica {
        flags.push('S');
    }
    if c.flags.master {
        flags.push('M');
    }
    if c.flags.slot_migrate {
        flags.push('g');
    }
    if c.flags.slot_import {
        flags.push('o');
    }
    if c.flags.monitor {
        flags.push('O');
    }
    if c.subs.count() > 0 {
        flags.push('P');
    }
    if c.flags.multi {
        flags.push('x');
    }
    if c.blocked.is_some() {
        flags.push('b');
    }
    flags.push_str(c.tracking.list_flags());
    if c.cas_dirty {
        flags.push('d');
    }
    if c.flags.close_after_reply {
        flags.push('c');
    }
    if c.flags.close_asap {
        flags.push('A');
    }
    if c.flags.unix_socket {
        flags.push('U');
    }
    if c.flags.no_evict {
        flags.push('e');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let events = if c.want_write { "rw" } else { "r" };
    let u = usage(c);
    let name = c.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default();
    let now_s = now_ms / 1000;
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} \
         qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll={} omem={} tot-mem={} \
         events={} cmd={} user={} redir={} resp={}",
        c.id,
        c.addr,
        c.laddr,
        c.stream.fd(),
        name,
        now_s - c.created_ms / 1000,
        now_s - c.last_interaction_ms / 1000,
        flags,
        c.db,
        c.subs.channels.len(),
        c.subs.patterns.len(),
        c.subs.shard_count(),
        if c.flags.multi { c.multi_queue.len() as i64 } else { -1 },
        u.qbuf,
        u.qbuf_free,
        u.argv_mem,
        u.multi_mem,
        u.rbs,
        u.rbp,
        u.obl,
        u.oll,
        u.omem,
        u.tot,
        events,
        c.last_cmd,
        c.user,
        c.tracking.list_redirect(),
        c.reply.resp,
    )
}

// ------------------------------------------------------------ server-wide

/// Server-wide client memory state.
#[derive(Debug)]
pub struct ClientsMem {
    /// Memory of all clients per class (indexed by `Class`).
    by_class: [usize; 4],
    /// Biggest input / output buffers seen per second, for INFO.
    recent_in: [usize; PEAK_SLOTS],
    recent_out: [usize; PEAK_SLOTS],
    /// Clients freed by client eviction (INFO `evicted_clients`).
    pub evicted_clients: u64,
    /// Reply buffer peak reset interval in ms, -1 for never (DEBUG REPLYBUFFER).
    pub peak_reset_ms: i64,
    /// Whether the cron resizes reply buffers (DEBUG REPLYBUFFER RESIZING).
    pub resizing: bool,
    /// Reply buffer shrinks and expansions (INFO `reply_buffer_*`).
    pub reply_buffer_shrinks: u64,
    /// See `reply_buffer_shrinks`.
    pub reply_buffer_expands: u64,
}

impl Default for ClientsMem {
    fn default() -> Self {
        ClientsMem {
            by_class: [0; 4],
            recent_in: [0; PEAK_SLOTS],
            recent_out: [0; PEAK_SLOTS],
            evicted_clients: 0,
            peak_reset_ms: PEAK_RESET_DEFAULT_MS,
            resizing: true,
            reply_buffer_shrinks: 0,
            reply_buffer_expands: 0,
        }
    }
}

impl ClientsMem {
    /// Memory of normal clients (INFO `mem_clients_normal`), pub/sub included
    /// as Redis counts them.
    pub fn normal(&self) -> usize {
        self.by_class[Class::Normal.index()] + self.by_class[Class::PubSub.index()]
    }

    /// Memory of replica clients (INFO `mem_clients_slaves`, with the
    /// stream held for syncing replicas added by the caller).
    pub fn replicas(&self) -> usize {
        self.by_class[Class::Replica.index()]
    }

    /// The biggest (input, output) buffers of the last seconds.
    pub fn recent_max(&self) -> (usize, usize) {
        (self.recent_in.iter().copied().max().unwrap_or(0), self.recent_out.iter().copied().max().unwrap_or(0))
    }

    /// Re-reads `c`'s memory into the sums. A client being closed counts as
    /// nothing: its memory is about to go, and eviction must not pick
    /// another client for it.
    pub fn update(&mut self, c: &mut Client) {
        let mem = if c.flags.close_asap { 0 } else { usage(c).tot };
        let class = class_of(c);
        self.by_class[c.mem.last_class.index()] -= c.mem.last_mem;
        self.by_class[class.index()] += mem;
        c.mem.last_mem = mem;
        c.mem.last_class = class;
    }

    /// Removes a closed client's memory from the sums.
    pub fn forget(&mut self, c: &mut Client) {
        self.by_class[c.mem.last_class.index()] -= c.mem.last_mem;
        c.mem.last_mem = 0;
    }
}

/// The effective `maxmemory-clients` in bytes, 0 for no limit.
pub fn eviction_limit(cfg: &Config) -> u64 {
    let limit = if cfg.maxmemory_clients < 0 && cfg.maxmemory > 0 {
        (cfg.maxmemory as f64 * -(cfg.maxmemory_clients as f64) / 100.0) as u64
    } else if cfg.maxmemory_clients > 0 {
        cfg.maxmemory_clients as u64
    } else {
        return 0;
    };
    limit.max(EVICTION_FLOOR)
}

fn limits_for(cfg: &Config, class: Class) -> BufferLimit {
    let l = &cfg.client_output_buffer_limit;
    match class {
        Class::Normal | Class::Master => l.normal,
        Class::Replica => l.replica,
        Class::PubSub => l.pubsub,
    }
}

// ------------------------------------------------------------ hooks

/// Before a read: a query buffer with less than 16 KiB of room gets it.
pub fn before_read(c: &mut Client) {
    if c.query.capacity() - c.query.len() < PROTO_IOBUF_LEN && c.query.capacity() < PROTO_IOBUF_LEN {
        c.query.reserve(PROTO_IOBUF_LEN);
    }
    c.mem.batch_alloc = c.query.capacity();
}

/// How many bytes the next read may take: up to `max`, but no further than
/// the end of a big argument being received.
pub fn read_len(c: &Client, max: usize) -> usize {
    match c.parser.pending_bulk_len() {
        Some(bulk) if bulk >= BIG_ARG => match (bulk + 2).saturating_sub(c.query.len()) {
            0 => max,
            left => left.min(max),
        },
        _ => max,
    }
}

/// After a read: remembers the query buffer's peak.
pub fn after_read(c: &mut Client) {
    c.query_peak = c.query_peak.max(c.query.len());
    c.mem.batch_alloc = c.mem.batch_alloc.max(c.query.capacity());
}

/// After a batch of commands was parsed and run: parsed bytes leave the
/// query buffer, which keeps the allocation it had (reclaimed in place when
/// nothing else holds it), and the client's memory is re-read.
pub fn after_batch(srv: &mut Server, c: &mut Client) {
    c.mem.qb_pos = 0;
    // After a big argument Redis holds a buffer of that argument's size; our
    // buffer may have doubled to take the bytes that followed it.
    let want = match std::mem::take(&mut c.mem.big_arg) {
        0 => c.mem.batch_alloc,
        big => big.max(PROTO_IOBUF_LEN),
    };
    if c.query.capacity() < want {
        if c.query.is_empty() {
            // Nothing unparsed: reserving reclaims the buffer in place.
            c.query.reserve(want);
        } else {
            // A fresh buffer of exactly that size, holding the unparsed tail:
            // reserving on the old one would make `BytesMut` grow it
            // (doubling) whenever the tail is longer than the consumed
            // prefix, and the next batch would want that larger capacity
            // again, so a steady stream of big arguments (a slot migration's
            // RESTOREs) grew it without end.
            let mut fresh = BytesMut::with_capacity(want.max(c.query.len()));
            fresh.extend_from_slice(&c.query);
            c.query = fresh;
        }
    }
    srv.client_mem.update(c);
}

/// Counts bytes the parser consumed from the query buffer this batch.
pub fn parsed(c: &mut Client, bytes: usize) {
    c.mem.qb_pos += bytes;
    if bytes >= BIG_ARG {
        c.mem.big_arg = c.mem.big_arg.max(bytes);
    }
}

/// A command is half read and waits for more bytes: its small arguments so
/// far are copied out of the query buffer. Split off as slices, each would
/// keep the whole read buffer it came from alive (and force the next read
/// into a fresh one), so a client trickling a long command would hold far
/// more memory than its argv-mem says and client eviction would not see it.
/// Copied, they cost what Redis's argv objects cost. Big arguments already
/// own a buffer sized for them and stay where they are.
///
/// The unread tail then moves to a fresh buffer of the batch's size. Left in
/// place, the buffer would be ours alone again but still carry the consumed
/// bytes in front of the tail, and `BytesMut` grows such a buffer rather than
/// moving a tail longer than that prefix: with `after_batch` restoring the
/// capacity each batch, a pipeline of 16 KiB values doubled it without end.
pub fn detach_partial_args(c: &mut Client) {
    let start = c.mem.detached.min(c.argv.len());
    if start == c.argv.len() {
        return;
    }
    for arg in &mut c.argv[start..] {
        if arg.len() < BIG_ARG {
            *arg = Bytes::copy_from_slice(arg);
        }
    }
    c.mem.detached = c.argv.len();
    if c.parser.pending_bulk_len().is_some_and(|len| len >= BIG_ARG) {
        // The parser sized the buffer for this argument: keep it.
        return;
    }
    let mut fresh = BytesMut::with_capacity(c.mem.batch_alloc.max(c.query.len()));
    fresh.extend_from_slice(&c.query);
    c.query = fresh;
}

/// The command in argv is complete: the next half-read one starts afresh.
pub fn command_complete(c: &mut Client) {
    c.mem.detached = 0;
}

/// Before a command: refreshes the hard limit handlers consult, and evicts
/// clients if client memory is over `maxmemory-clients`. Returns true if `c`
/// itself was evicted (the command must not run).
pub fn before_command(srv: &mut Server, c: &mut Client) -> bool {
    c.reply.acct.hard_limit = limits_for(&srv.config, class_of(c)).hard_limit_bytes as usize;
    evict_clients(srv, Some(c))
}

/// After a command: enforces the output limit and re-reads the memory.
pub fn after_command(srv: &mut Server, c: &mut Client) {
    enforce_output_limit(srv, c, true);
    srv.client_mem.update(c);
}

/// After a write to the socket: re-reads the memory.
pub fn after_write(srv: &mut Server, c: &mut Client) {
    srv.client_mem.update(c);
}

/// Checks `c`'s output buffer against its class limits; past the hard limit,
/// or past the soft limit for longer than allowed, the client is marked to
/// close and the event logged. `from_event` selects Redis's wording for a
/// close scheduled from the reply path rather than from the cron. Returns
/// true if the client is being closed for this reason.
pub fn enforce_output_limit(srv: &mut Server, c: &mut Client, from_event: bool) -> bool {
    c.reply.acct.sync(c.reply.buf.len());
    // A replica's output is its share of the shared replication buffer.
    let replica = class_of(c) == Class::Replica;
    let held = if replica { crate::repl::replica_output_memory(srv, c.key) } else { 0 };
    c.mem.repl_share = held;
    if c.flags.close_asap || (c.reply.acct.blocks.is_empty() && held == 0) {
        return false;
    }
    let limit = limits_for(&srv.config, class_of(c));
    let used = (c.reply.acct.list_memory() + held) as u64;
    // A replica's hard limit below repl-backlog-size would undo partial
    // resyncs the backlog allows: the backlog size applies instead, as Redis.
    let mut hard_limit = limit.hard_limit_bytes;
    if replica && hard_limit != 0 {
        hard_limit = hard_limit.max(srv.config.repl_backlog_size.max(0) as u64);
    }
    let hard = hard_limit != 0 && used >= hard_limit;
    let mut soft = limit.soft_limit_bytes != 0 && used >= limit.soft_limit_bytes;
    let now = srv.clock.now_secs();
    if soft {
        let acct = &mut c.reply.acct;
        if acct.soft_since == 0 {
            acct.soft_since = now;
            soft = false;
        } else if now - acct.soft_since <= limit.soft_limit_seconds {
            soft = false;
        }
    } else {
        c.reply.acct.soft_since = 0;
    }
    if !(hard || soft) {
        return false;
    }
    let line = info_line(c, srv.clock.now_ms);
    if from_event {
        // COMPAT: Redis's log line for an asynchronous close.
        log::warn!("Client {line} scheduled to be closed ASAP for overcoming of output buffer limits.");
    } else {
        // COMPAT: the cron's wording.
        log::warn!("Client {line} closed for overcoming of output buffer limits.");
    }
    c.flags.close_asap = true;
    srv.to_close.push(c.key);
    true
}

/// Frees the biggest evictable clients until normal and pub/sub clients
/// together use less than `maxmemory-clients`. `current` is the client
/// running a command (out of the slab); if it is chosen it is marked to
/// close and true is returned.
pub fn evict_clients(srv: &mut Server, mut current: Option<&mut Client>) -> bool {
    let limit = eviction_limit(&srv.config) as usize;
    if limit == 0 || srv.client_mem.normal() < limit {
        return false;
    }
    if let Some(c) = current.as_deref_mut() {
        srv.client_mem.update(c);
    }
    let evictable = |c: &Client| !c.flags.no_evict && !c.flags.close_asap && class_of(c) != Class::Replica;
    let bucket = |mem: usize| {
        let bits = usize::BITS - mem.leading_zeros();
        bits.clamp(BUCKET_MIN_LOG, BUCKET_MAX_LOG) - BUCKET_MIN_LOG
    };
    // (bucket, slab key): biggest bucket first, then connection order.
    let mut victims: Vec<(u32, usize)> = srv
        .clients
        .iter()
        .filter_map(|(k, s)| s.as_deref().filter(|c| evictable(c)).map(|c| (bucket(c.mem.last_mem), k)))
        .collect();
    let cur_key = current.as_deref().filter(|c| evictable(c)).map(|c| (bucket(c.mem.last_mem), c.key));
    victims.extend(cur_key);
    victims.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut evicted_current = false;
    for (_, key) in victims {
        if srv.client_mem.normal() < limit {
            return evicted_current;
        }
        let now = srv.clock.now_ms;
        match current.as_deref_mut() {
            Some(c) if c.key == key => {
                log::info!("Evicting client: {}", info_line(c, now));
                c.flags.close_asap = true;
                srv.to_close.push(key);
                srv.client_mem.forget(c);
                evicted_current = true;
            }
            _ => {
                if let Some(Some(c)) = srv.clients.get(key) {
                    log::info!("Evicting client: {}", info_line(c, now));
                }
                srv.free_client(key);
            }
        }
        srv.client_mem.evicted_clients += 1;
    }
    if srv.client_mem.normal() >= limit {
        log::warn!("Over client maxmemory after evicting all evictable clients");
    }
    evicted_current
}

/// The cron's per-client duties: trim the query buffer, resize the reply
/// buffer, sample the biggest buffers, re-read the memory, and apply the
/// output limits (soft limits expire here when no traffic triggers them).
pub fn cron_client(srv: &mut Server, c: &mut Client) {
    let now_ms = srv.clock.now_ms;
    let now_s = now_ms / 1000;
    resize_query_buffer(c, now_s);
    if srv.client_mem.resizing {
        match c.reply.acct.resize(now_ms, srv.client_mem.peak_reset_ms) {
            1 => srv.client_mem.reply_buffer_expands += 1,
            -1 => srv.client_mem.reply_buffer_shrinks += 1,
            _ => {}
        }
    }
    let slot = (now_s as usize) % PEAK_SLOTS;
    let input = c.query.capacity() + c.mem.qb_pos + c.argv.iter().map(|a| a.len()).sum::<usize>();
    let output = c.reply.acct.list_memory();
    let cm = &mut srv.client_mem;
    cm.recent_in[slot] = cm.recent_in[slot].max(input);
    cm.recent_out[slot] = cm.recent_out[slot].max(output);
    cm.update(c);
    enforce_output_limit(srv, c, false);
}

/// Once per cron: the sample slot of the next second starts empty.
pub fn cron_start(srv: &mut Server) {
    let next = (srv.clock.now_ms / 1000 + 1) as usize % PEAK_SLOTS;
    srv.client_mem.recent_in[next] = 0;
    srv.client_mem.recent_out[next] = 0;
}

/// Trims a query buffer wasting more than 4 KiB: to its content when the
/// client has been idle over 2 s, or to its recent peak when it is over
/// 32 KiB and more than twice that peak. The peak then restarts.
fn resize_query_buffer(c: &mut Client, now_s: i64) {
    let len = c.query.len();
    let alloc = c.query.capacity();
    let pending_bulk = c.parser.pending_bulk_len().unwrap_or(0);
    if alloc - len > 4 * 1024 {
        let idle = now_s - c.last_interaction_ms / 1000;
        let target = if idle > 2 {
            Some(len)
        } else if alloc > RESIZE_THRESHOLD && alloc / 2 > c.query_peak {
            Some(len.max(c.query_peak).max(pending_bulk))
        } else {
            None
        };
        if let Some(t) = target.filter(|&t| t < alloc) {
            let mut fresh = bytes::BytesMut::with_capacity(t);
            fresh.extend_from_slice(&c.query);
            c.query = fresh;
        }
    }
    c.query_peak = len.max(pending_bulk);
}

/// DEBUG REPLYBUFFER PEAK-RESET-TIME <never|reset|ms> | RESIZING <0|1>.
pub fn debug_replybuffer(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.argc() != 4 {
        return Err(ReplyError::err(
            "Unknown subcommand or wrong number of arguments for 'replybuffer'. Try DEBUG HELP.",
        ));
    }
    let (what, v) = (c.arg(2), c.arg(3));
    if args::is(what, "peak-reset-time") {
        srv.client_mem.peak_reset_ms = if args::is(v, "never") {
            -1
        } else if args::is(v, "reset") {
            PEAK_RESET_DEFAULT_MS
        } else {
            args::int(v)?
        };
    } else if args::is(what, "resizing") {
        // As Redis reads it: atoi, anything unparsable is 0.
        srv.client_mem.resizing = args::int(v).unwrap_or(0) != 0;
    } else {
        // COMPAT: Redis's subcommand syntax error.
        return Err(ReplyError::err(
            "Unknown subcommand or wrong number of arguments for 'replybuffer'. Try DEBUG HELP.",
        ));
    }
    c.reply.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct() -> OutputAccount {
        OutputAccount::default()
    }

    #[test]
    fn small_replies_stay_in_the_buffer() {
        let mut a = acct();
        a.sync(100);
        assert_eq!(a.view(100), (100, 0, 0, 100));
        a.written(100);
        a.drained();
        assert_eq!(a.view(0), (0, 0, 0, 100));
    }

    #[test]
    fn overflow_goes_to_blocks_of_at_least_16k() {
        let mut a = acct();
        a.sync(REPLY_CHUNK + 10);
        assert_eq!(a.view(REPLY_CHUNK + 10), (REPLY_CHUNK, 1, REPLY_CHUNK + BLOCK_OVERHEAD, REPLY_CHUNK));
        // The tail block fills before a new one is made.
        a.sync(2 * REPLY_CHUNK);
        assert_eq!(a.blocks.len(), 1);
        a.sync(2 * REPLY_CHUNK + 100_000);
        assert_eq!(a.blocks.len(), 2);
        assert_eq!(a.list_bytes, REPLY_CHUNK + 100_000);
        // A big append makes one block of its own size.
        let mut b = acct();
        b.sync(REPLY_CHUNK + 1_000_000);
        assert_eq!(b.list_memory(), 1_000_000 + BLOCK_OVERHEAD);
    }

    #[test]
    fn writes_drain_buffer_then_blocks_and_new_data_follows_the_list() {
        let mut a = acct();
        a.sync(REPLY_CHUNK + 20_000);
        a.written(REPLY_CHUNK);
        // The buffer is empty, but the list is not: new bytes go to the list.
        assert_eq!(a.bufpos, 0);
        a.sync(REPLY_CHUNK + 20_010);
        assert_eq!(a.bufpos, 0);
        // The first block was made exactly 20000 bytes big: a second one holds the rest.
        assert_eq!(a.blocks.len(), 2);
        a.written(20_010);
        assert!(a.blocks.is_empty());
        assert_eq!(a.list_bytes, 0);
    }

    #[test]
    fn resize_shrinks_idle_and_grows_busy_buffers() {
        let mut a = acct();
        assert_eq!(a.resize(1000, 100), -1);
        assert_eq!(a.buf_size, REPLY_MIN);
        a.sync(5000);
        a.written(5000);
        a.drained();
        let mut sizes = Vec::new();
        for t in 0..6 {
            a.peak = a.buf_size; // a busy client fills it each period
            a.resize(2000 + t, -1);
            sizes.push(a.buf_size);
        }
        assert_eq!(sizes, vec![2048, 4096, 8192, 16384, 16384, 16384]);
    }

    #[test]
    fn eviction_limit_and_classes() {
        let mut cfg = Config::default();
        assert_eq!(eviction_limit(&cfg), 0);
        cfg.maxmemory_clients = 1;
        assert_eq!(eviction_limit(&cfg), EVICTION_FLOOR);
        cfg.maxmemory_clients = -7;
        cfg.maxmemory = 6 * 1024 * 1024;
        assert_eq!(eviction_limit(&cfg), 440_401);
        assert_eq!(Class::parse(b"SLAVE"), Some(Class::Replica));
        assert_eq!(Class::parse(b"bogus"), None);
    }

    #[test]
    fn random_appends_and_writes_keep_the_books_balanced() {
        let mut rng = crate::util::rand::Rng::with_seed(0x5eed);
        for _ in 0..200 {
            let mut a = acct();
            let (mut physical, mut sent) = (0usize, 0usize);
            for _ in 0..50 {
                let r = rng.next_u64();
                if r % 3 == 0 && sent < physical {
                    let n = 1 + (r as usize >> 8) % (physical - sent);
                    a.sync(physical);
                    a.written(n);
                    sent += n;
                    if sent == physical {
                        a.drained();
                        physical = 0;
                        sent = 0;
                    }
                } else {
                    if r % 7 == 1 {
                        a.sync(physical);
                        a.defer();
                    }
                    physical += (r as usize >> 8) % 40_000;
                    a.sync(physical);
                }
                let pending = (a.bufpos - a.sentlen) + a.blocks.iter().map(|b| b.used).sum::<usize>() - a.head_sent;
                assert_eq!(pending, physical - sent);
                assert!(a.bufpos <= a.buf_size);
                assert_eq!(a.list_bytes, a.blocks.iter().map(|b| b.size).sum::<usize>());
            }
        }
    }
}
