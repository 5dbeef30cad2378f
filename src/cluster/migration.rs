//! Atomic slot migration (Redis 8.4's CLUSTER MIGRATION): a master imports
//! whole slot ranges from their owner while the owner keeps serving them,
//! and ownership flips only once the importer has caught up, so clients
//! never see ASK redirects or a half-moved slot.
//!
//! Two tasks, one per side, share an id (40 hex characters, made by the
//! importer):
//!
//! - **import** (the destination, `CLUSTER MIGRATION IMPORT`): opens a
//!   connection to the source's client port (TokenKind::Link index 1),
//!   authenticates with `masteruser`/`masterauth` as a replica would, and
//!   sends `CLUSTER SYNCSLOTS SYNC <id> <my-id> <start> <end>...`. After
//!   `+OK` the socket becomes a client flagged `slot_import` whose commands
//!   run with replies muted and without slot routing; they propagate to our
//!   own replicas and AOF as any write does. `CLUSTER SYNCSLOTS ACK
//!   <applied-bytes>` goes back every cron tick. When `CLUSTER SYNCSLOTS
//!   HANDOFF` arrives (everything before it applied), the slots are claimed
//!   with a new config epoch, gossiped, and `CLUSTER SYNCSLOTS TAKEN <id>
//!   <epoch>` is the last thing written back. A lost link fails the attempt:
//!   the keys imported so far are deleted and a new attempt starts a second
//!   later (against whoever owns the slots then) until it succeeds or is
//!   cancelled.
//! - **migrate** (the source, started by SYNCSLOTS SYNC): the connection's
//!   client is flagged `slot_migrate`. A slot at a time, before the loop
//!   sleeps and while less than [`SNAPSHOT_CHUNK`] is waiting to be written,
//!   every key of the slot goes out as `RESTORE key ttl payload REPLACE
//!   ABSTTL`; from then on every propagated write to that slot follows it on
//!   the same socket ([`feed`]), so the stream stays in command order
//!   without a fork. Once every slot is out and the importer's ACKs lag by
//!   at most `cluster-slot-migration-handoff-max-lag-bytes`, writes to the
//!   slots wait ([`holds`]) and HANDOFF goes out; TAKEN hands the slots to
//!   the importer, the waiting writes run again (and get MOVED), and the
//!   slots' keys are deleted. No TAKEN within
//!   `cluster-slot-migration-write-pause-timeout` fails the task and resumes
//!   writes.
//!
//! This module must not parse RESP from sockets beyond the handshake's
//! status lines (the client machinery does) nor decide routing (route.rs
//! owns it and only lets `slot_import` clients through; the handoff's
//! waiting writes are the pause machinery's, asked through [`holds`]). The wire
//! between two Viator nodes is Viator's own (Redis 8.4 uses a second RDB
//! channel and an internal secret); the command surface and the STATUS
//! fields, states and error texts follow Redis 8.4's cluster_asm.c.

use std::collections::VecDeque;
use std::io::{self, Read};

use bytes::Bytes;
use mio::Interest;

use super::cmd::{cluster, slot_arg};
use super::wire::Name;
use super::{key_hash_slot, todo, SLOTS};
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::cmd::spec::CmdFlags;
use crate::reactor::net::Stream;
use crate::reactor::TokenKind;
use crate::server::Server;

/// The snapshot of the next slot is written only while less than this is
/// waiting in the importer's output buffer.
pub const SNAPSHOT_CHUNK: usize = 1 << 20;
/// The `TokenKind::Link` index of the importer's connection (0 is the
/// replica's link to its master).
pub const LINK_INDEX: usize = 1;
/// A connection that has not reached the stream within this long is dropped.
const HANDSHAKE_TIMEOUT_MS: i64 = 10_000;
/// Pause between attempts of an import that failed.
const RETRY_DELAY_MS: i64 = 1000;
/// Finished tasks kept for STATUS.
const ARCHIVE_LEN: usize = 64;
/// Longest status line accepted during the handshake.
const MAX_LINE: usize = 64 * 1024;

/// Which side of a migration a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// The destination: pulls the slots.
    Import,
    /// The source: sends them.
    Migrate,
}

/// Where a task stands; the names are Redis 8.4's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Created, not started.
    None,
    /// Import: the connection to the source is being made.
    Connecting,
    /// Import: AUTH sent.
    AuthReply,
    /// Import: SYNCSLOTS SYNC sent.
    SyncslotsReply,
    /// Import: applying the snapshot and the stream.
    StreamingBuf,
    /// Migrate: sending slot snapshots and the writes to slots already sent.
    SendBulkAndStream,
    /// Migrate: every slot is out; streaming writes until the lag is small.
    SendStream,
    /// Migrate: writes to the slots wait; HANDOFF is out, TAKEN awaited.
    Handoff,
    /// Done: the importer owns the slots.
    Completed,
    /// This attempt failed (an import retries).
    Failed,
    /// Cancelled by CLUSTER MIGRATION CANCEL (or replaced).
    Canceled,
}

impl State {
    /// The name STATUS shows.
    pub fn name(self) -> &'static str {
        // COMPAT: asmTaskStateToString's names.
        match self {
            State::None => "none",
            State::Connecting => "connecting",
            State::AuthReply => "auth-reply",
            State::SyncslotsReply => "syncslots-reply",
            State::StreamingBuf => "streaming-buffer",
            State::SendBulkAndStream => "send-bulk-and-stream",
            State::SendStream => "send-stream",
            State::Handoff => "handoff",
            State::Completed => "completed",
            State::Failed => "failed",
            State::Canceled => "canceled",
        }
    }

    fn finished(self) -> bool {
        matches!(self, State::Completed | State::Canceled)
    }
}

/// One migration task, on either side.
#[derive(Debug)]
pub struct Task {
    /// 40 hex characters, shared by both sides.
    pub id: String,
    /// Import or migrate.
    pub op: Op,
    /// Inclusive slot ranges, as given.
    pub ranges: Vec<(u16, u16)>,
    /// Where it stands.
    pub state: State,
    /// The source's node name.
    pub source: Name,
    /// The destination's node name.
    pub dest: Name,
    /// Why the last attempt failed (empty: it did not).
    pub error: String,
    /// Attempts after the first.
    pub retries: i64,
    /// Unix ms of creation, first start (-1: not yet) and end (-1: not yet).
    pub create_time: i64,
    pub start_time: i64,
    pub end_time: i64,
    /// Migrate: when writes began to wait (0: they do not).
    pub paused_time: i64,
    /// The client carrying the stream (import: ours on the link; migrate:
    /// the importer's connection).
    client: Option<usize>,
    /// Import: when the next attempt may start.
    retry_at: i64,
    /// When the current connection attempt started.
    attempt_ms: i64,
    /// Migrate: the slots in sending order, and how many are out.
    order: Vec<u16>,
    next: usize,
    /// Migrate: slots whose snapshot is out (their writes are streamed).
    streamed: Vec<bool>,
    /// Migrate: stream bytes written / acknowledged by the importer.
    sent: u64,
    acked: u64,
    /// Import: stream bytes applied.
    applied: u64,
}

impl Task {
    fn new(id: String, op: Op, ranges: Vec<(u16, u16)>, source: Name, dest: Name, now: i64) -> Task {
        Task {
            id,
            op,
            ranges,
            state: State::None,
            source,
            dest,
            error: String::new(),
            retries: 0,
            create_time: now,
            start_time: -1,
            end_time: -1,
            paused_time: 0,
            client: None,
            retry_at: 0,
            attempt_ms: 0,
            order: Vec::new(),
            next: 0,
            streamed: Vec::new(),
            sent: 0,
            acked: 0,
            applied: 0,
        }
    }

    /// Every slot of the task, ascending within each range.
    fn slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.ranges.iter().flat_map(|&(a, b)| a as usize..=b as usize)
    }

    fn has_slot(&self, slot: usize) -> bool {
        self.ranges.iter().any(|&(a, b)| (a as usize..=b as usize).contains(&slot))
    }

    /// "0-1000 2000-3000", as STATUS shows the ranges.
    fn ranges_text(&self) -> String {
        self.ranges.iter().map(|(a, b)| format!("{a}-{b}")).collect::<Vec<_>>().join(" ")
    }
}

/// The handshake connection of an import.
#[derive(Debug)]
struct Link {
    stream: Stream,
    inbuf: Vec<u8>,
    out: Vec<u8>,
}

/// Migration state of this node (in `Cluster`).
#[derive(Debug, Default)]
pub struct Migrations {
    /// The task in progress (one at a time, as in Redis 8.4).
    pub current: Option<Task>,
    /// Finished tasks, newest first.
    pub archived: VecDeque<Task>,
    link: Option<Link>,
    /// Slots whose keys are to be deleted before the loop sleeps (slots
    /// handed over, or an import given up).
    trim: Vec<usize>,
    /// Writes held for a handoff are to run again before the loop sleeps.
    resume: bool,
}

impl Migrations {
    /// Whether writes are being streamed to an importer (the propagation
    /// layer must assemble its units even with no replica and no AOF).
    pub fn streaming(&self) -> bool {
        self.current.as_ref().is_some_and(|t| {
            t.op == Op::Migrate && matches!(t.state, State::SendBulkAndStream | State::SendStream | State::Handoff)
        })
    }
}

fn migrations(srv: &mut Server) -> Option<&mut Migrations> {
    srv.cluster.as_deref_mut().map(|cl| &mut cl.migration)
}

fn task_mut(srv: &mut Server) -> Option<&mut Task> {
    migrations(srv).and_then(|m| m.current.as_mut())
}

fn name_text(n: &Name) -> String {
    String::from_utf8_lossy(n).into_owned()
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Moves the current task to the archive.
fn archive(srv: &mut Server) {
    let now = srv.clock.now_ms;
    let Some(m) = migrations(srv) else { return };
    if let Some(mut t) = m.current.take() {
        if t.end_time < 0 {
            t.end_time = now;
        }
        t.client = None;
        m.archived.push_front(t);
        m.archived.truncate(ARCHIVE_LEN);
    }
}

// ------------------------------------------------------------ commands

/// CLUSTER MIGRATION IMPORT start end [start end ...] | IMPORT a-b [NODES
/// id] | CANCEL ID id | CANCEL ALL | ABORT | STATUS [ID id | ALL].
pub fn migration(srv: &mut Server, c: &mut Client) -> CmdResult {
    cluster(srv)?;
    let sub = c.arg(2).to_ascii_lowercase();
    match sub.as_slice() {
        b"import" => import(srv, c),
        b"cancel" => {
            let id = match (c.argc(), c.argv.get(3).map(|a| a.to_ascii_lowercase())) {
                (5, Some(w)) if w == b"id" => Some(lossy(c.arg(4))),
                (4, Some(w)) if w == b"all" => None,
                (4 | 5, Some(w)) if w == b"id" || w == b"all" => {
                    return Err(ReplyError::WrongArity("cluster|migration".into()))
                }
                (4 | 5, _) => return Err(ReplyError::err("unknown argument")),
                _ => return Err(ReplyError::WrongArity("cluster|migration".into())),
            };
            let n = cancel(srv, id.as_deref(), "user request");
            c.reply.int(n as i64);
            Ok(())
        }
        b"abort" if c.argc() == 3 => {
            // The guide's form: every task of this node.
            let n = cancel(srv, None, "user request");
            c.reply.int(n as i64);
            Ok(())
        }
        b"status" => status(srv, c),
        // COMPAT: clusterMigrationCommand's reply to anything else.
        _ => Err(ReplyError::err("unknown argument")),
    }
}

/// An IMPORT's slot ranges and the source it names, if any.
type ImportArgs = (Vec<(u16, u16)>, Option<Vec<u8>>);

/// The ranges and optional source of an IMPORT: `start end` pairs, or
/// `start-end` words, and `NODES <id>`.
fn parse_import(c: &Client) -> Result<ImportArgs, ReplyError> {
    let arity = || ReplyError::WrongArity("cluster|migration".into());
    let mut ranges = Vec::new();
    let mut source = None;
    let mut i = 3;
    while i < c.argc() {
        let a = c.arg(i);
        if a.eq_ignore_ascii_case(b"nodes") {
            source = Some(c.argv.get(i + 1).ok_or_else(arity)?.to_vec());
            i += 2;
            continue;
        }
        let (lo, hi) = match a.iter().position(|&b| b == b'-').filter(|&p| p > 0) {
            Some(p) => {
                i += 1;
                (slot_arg(&a[..p])?, slot_arg(&a[p + 1..])?)
            }
            None => {
                let b = c.argv.get(i + 1).filter(|b| !b.eq_ignore_ascii_case(b"nodes")).ok_or_else(arity)?;
                i += 2;
                (slot_arg(a)?, slot_arg(b)?)
            }
        };
        if lo > hi {
            // COMPAT: the range error of Redis's slot range parsers.
            return Err(ReplyError::err(format!("start slot number {lo} is greater than end slot number {hi}")));
        }
        if ranges.iter().any(|&(x, y): &(u16, u16)| lo <= y as usize && hi >= x as usize) {
            return Err(ReplyError::err(format!("slot range {lo}-{hi} overlaps another range of the request")));
        }
        ranges.push((lo as u16, hi as u16));
    }
    if ranges.is_empty() {
        return Err(arity());
    }
    Ok((ranges, source))
}

fn import(srv: &mut Server, c: &mut Client) -> CmdResult {
    let (ranges, wanted_source) = parse_import(c)?;
    let now = srv.clock.now_ms;
    let cl = cluster(srv)?;
    // COMPAT: validateImportSlotRanges' and asmCreateImportTask's errors.
    if cl.me().is_replica() {
        return Err(ReplyError::err("slot migration not allowed on replica."));
    }
    if (0..SLOTS).any(|s| cl.importing_from[s].is_some() || cl.migrating_to[s].is_some()) {
        return Err(ReplyError::err("all slot states must be STABLE to start a slot migration task."));
    }
    if let Some(t) = &cl.migration.current {
        if t.state != State::Failed || t.op != Op::Import {
            return Err(ReplyError::err("another ASM task is already in progress"));
        }
    }
    let source = owner_of(cl, &ranges).map_err(ReplyError::err)?;
    if source == cl.myself {
        return Err(ReplyError::err("this node is already the owner of the slot range"));
    }
    let source_name = cl.nodes[source].name;
    if let Some(id) = wanted_source {
        match cl.lookup(&id) {
            None => return Err(ReplyError::err(format!("Unknown node {}", lossy(&id)))),
            Some(n) if n != source => {
                return Err(ReplyError::err(format!("slots are not served by node {}", lossy(&id))));
            }
            Some(_) => {}
        }
    }
    // A failed import gives way to the new one.
    if cl.migration.current.is_some() {
        cancel(srv, None, "new import requested");
    }
    let cl = cluster(srv)?;
    let id = name_text(&super::random_name()).to_ascii_lowercase();
    let mine = cl.me().name;
    let task = Task::new(id.clone(), Op::Import, ranges, source_name, mine, now);
    log::info!(
        "Import task {id} created: src={}, dest={}, slots={}",
        name_text(&task.source),
        name_text(&task.dest),
        task.ranges_text()
    );
    cl.migration.current = Some(task);
    start_attempt(srv);
    c.reply.bulk(id.as_bytes());
    Ok(())
}

/// The one node owning every slot of `ranges`, or the reason there is none.
fn owner_of(cl: &super::Cluster, ranges: &[(u16, u16)]) -> Result<super::NodeId, String> {
    let mut owner = None;
    for &(a, b) in ranges {
        for s in a as usize..=b as usize {
            let Some(n) = cl.slots[s] else { return Err(format!("slot has no owner: {s}")) };
            match owner {
                None => owner = Some(n),
                Some(o) if o != n => return Err("slots belong to different source nodes".into()),
                Some(_) => {}
            }
        }
    }
    owner.ok_or_else(|| "no slots".into())
}

/// Cancels the current task when `id` is None or names it; returns how many
/// were cancelled (0 or 1).
fn cancel(srv: &mut Server, id: Option<&str>, reason: &str) -> usize {
    let Some(t) = task_mut(srv) else { return 0 };
    if id.is_some_and(|id| id != t.id) || t.state.finished() {
        return 0;
    }
    let op = t.op;
    match op {
        Op::Import => fail_import(srv, &format!("Cancelled due to {reason}")),
        Op::Migrate => fail_migrate(srv, &format!("Cancelled due to {reason}")),
    }
    if let Some(t) = task_mut(srv) {
        t.state = State::Canceled;
        t.error = format!("Cancelled due to {reason}");
    }
    archive(srv);
    1
}

fn status(srv: &mut Server, c: &mut Client) -> CmdResult {
    let m = &cluster(srv)?.migration;
    let all = || m.current.iter().chain(m.archived.iter());
    let tasks: Vec<&Task> = match c.argc() {
        // The guide's bare form lists everything.
        3 => all().collect(),
        4 if c.arg(3).eq_ignore_ascii_case(b"all") => all().collect(),
        5 if c.arg(3).eq_ignore_ascii_case(b"id") => all().filter(|t| t.id.as_bytes() == c.arg(4)).take(1).collect(),
        4 | 5 if c.arg(3).eq_ignore_ascii_case(b"all") || c.arg(3).eq_ignore_ascii_case(b"id") => {
            return Err(ReplyError::WrongArity("cluster|migration".into()));
        }
        _ => return Err(ReplyError::err("unknown argument")),
    };
    c.reply.array(tasks.len());
    for t in tasks {
        // COMPAT: replyTaskStatus' fields, in its order.
        c.reply.map(12);
        c.reply.bulk(b"id");
        c.reply.bulk(t.id.as_bytes());
        c.reply.bulk(b"slots");
        c.reply.bulk(t.ranges_text().as_bytes());
        c.reply.bulk(b"source");
        c.reply.bulk(&t.source);
        c.reply.bulk(b"dest");
        c.reply.bulk(&t.dest);
        c.reply.bulk(b"operation");
        c.reply.bulk(if t.op == Op::Import { b"import" } else { b"migrate" });
        c.reply.bulk(b"state");
        c.reply.bulk(t.state.name().as_bytes());
        c.reply.bulk(b"last_error");
        c.reply.bulk(t.error.as_bytes());
        c.reply.bulk(b"retries");
        c.reply.int(t.retries);
        c.reply.bulk(b"create_time");
        c.reply.int(t.create_time);
        c.reply.bulk(b"start_time");
        c.reply.int(t.start_time);
        c.reply.bulk(b"end_time");
        c.reply.int(t.end_time);
        c.reply.bulk(b"write_pause_ms");
        let paused = if t.op == Op::Migrate && t.state == State::Completed { t.end_time - t.paused_time } else { 0 };
        c.reply.int(paused);
    }
    Ok(())
}

/// CLUSTER SYNCSLOTS SYNC id dest-id start end [...] (the importer asks the
/// source), ACK offset and TAKEN id epoch (the importer's link on the
/// source), HANDOFF id (the source's stream on the importer).
pub fn syncslots(srv: &mut Server, c: &mut Client) -> CmdResult {
    cluster(srv)?;
    let sub = c.arg(2).to_ascii_lowercase();
    match sub.as_slice() {
        b"sync" => sync(srv, c),
        b"ack" if c.flags.slot_migrate && c.argc() == 4 => {
            let offset = crate::util::num::string2ll(c.arg(3)).unwrap_or(0).max(0) as u64;
            if let Some(t) = task_mut(srv).filter(|t| t.op == Op::Migrate) {
                t.acked = t.acked.max(offset);
            }
            Ok(())
        }
        b"taken" if c.flags.slot_migrate && c.argc() == 5 => {
            let epoch = crate::util::num::string2ll(c.arg(4)).unwrap_or(0).max(0) as u64;
            handed_over(srv, c, epoch);
            Ok(())
        }
        b"handoff" if c.flags.slot_import && c.argc() == 4 => {
            take_over(srv, c);
            Ok(())
        }
        _ => Err(ReplyError::err("unknown argument")),
    }
}

/// Source side: the importer's request. The connection becomes the stream.
fn sync(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.argc() < 7 || !(c.argc() - 5).is_multiple_of(2) {
        return Err(ReplyError::WrongArity("cluster|syncslots".into()));
    }
    let id = lossy(c.arg(3));
    let mut ranges = Vec::new();
    for i in (5..c.argc()).step_by(2) {
        let (a, b) = (slot_arg(c.arg(i))?, slot_arg(c.arg(i + 1))?);
        if a > b {
            return Err(ReplyError::err(format!("start slot number {a} is greater than end slot number {b}")));
        }
        ranges.push((a as u16, b as u16));
    }
    let now = srv.clock.now_ms;
    let cl = cluster(srv)?;
    if cl.me().is_replica() {
        return Err(ReplyError::err("slot migration not allowed on replica."));
    }
    let Some(dest) = cl.lookup(c.arg(4)) else {
        return Err(ReplyError::err(format!("Unknown node {}", lossy(c.arg(4)))));
    };
    let me = cl.myself;
    for &(a, b) in &ranges {
        if let Some(s) = (a as usize..=b as usize).find(|&s| cl.slots[s] != Some(me)) {
            return Err(ReplyError::err(format!("slot {s} is not served by this node")));
        }
    }
    let mut retries = 0;
    if let Some(t) = &cl.migration.current {
        if t.op != Op::Migrate || t.id != id {
            return Err(ReplyError::err("another ASM task is already in progress"));
        }
        // The importer tries again before we noticed its old link die.
        retries = t.retries + 1;
        cancel(srv, None, "a new attempt");
    }
    let cl = cluster(srv)?;
    let mut t = Task::new(id, Op::Migrate, ranges, cl.me().name, cl.nodes[dest].name, now);
    t.retries = retries;
    t.start_time = now;
    t.state = State::SendBulkAndStream;
    t.client = Some(c.key);
    t.order = t.slots().map(|s| s as u16).collect();
    t.streamed = vec![false; SLOTS];
    let keys: u64 = t.slots().map(|s| srv.ks.count_keys_in_slot(s as u16)).sum();
    log::info!("Migrate task {} started for slots: {} (number of keys at start: {keys})", t.id, t.ranges_text());
    cluster(srv)?.migration.current = Some(t);
    c.reply.ok();
    // From here on the connection carries the stream: nothing else is
    // answered, and it is neither timed out nor evicted.
    c.flags.slot_migrate = true;
    c.flags.no_evict = true;
    Ok(())
}

// ------------------------------------------------------- the stream (source)

/// Propagation hook: a write to a slot whose snapshot is out follows it to
/// the importer. A flush ends the migration (the importer would keep keys
/// the source no longer has).
pub fn feed(srv: &mut Server, argv: &[Bytes]) {
    let Some(m) = srv.cluster.as_deref().map(|cl| &cl.migration).filter(|m| m.streaming()) else { return };
    let Some(t) = m.current.as_ref() else { return };
    let Ok(idx) = srv.commands.resolve(argv) else { return };
    let cmd = &srv.commands.cmds[idx];
    match cmd.key_positions(argv).first() {
        // The slot's snapshot, still to come, will hold the change.
        Some(&p) if !t.streamed[key_hash_slot(&argv[p]) as usize] => return,
        Some(_) => {}
        None if matches!(cmd.name, "flushall" | "flushdb") => {
            fail_migrate(srv, "the dataset was flushed during the migration");
            return;
        }
        // SELECT, MULTI/EXEC, FUNCTION ...: not needed before the handoff.
        None => return,
    }
    let mut bytes = Vec::with_capacity(64);
    crate::resp::value::encode_command_into(&mut bytes, argv);
    push_stream(srv, &bytes);
}

/// Appends stream bytes to the importer's connection.
fn push_stream(srv: &mut Server, bytes: &[u8]) {
    let Some(key) = task_mut(srv).and_then(|t| t.client) else { return };
    let Some(mut c) = srv.take_client_slot(key) else {
        fail_migrate(srv, "Main channel - Connection is closed");
        return;
    };
    c.reply.unmuted(|r| r.raw(bytes));
    srv.queue_client_write(&mut c);
    srv.return_client_slot(c);
    if let Some(t) = task_mut(srv) {
        t.sent += bytes.len() as u64;
    }
}

/// Output still waiting on the importer's connection.
fn pending_output(srv: &Server, key: usize) -> usize {
    match srv.clients.get(key) {
        Some(Some(c)) => c.reply.len(),
        _ => 0,
    }
}

/// The next slot snapshots, while the connection keeps up.
fn send_snapshots(srv: &mut Server) {
    let compress = srv.config.rdbcompression;
    loop {
        let Some(t) = task_mut(srv) else { return };
        if t.state != State::SendBulkAndStream {
            return;
        }
        let Some(key) = t.client else { return };
        if t.next >= t.order.len() {
            t.state = State::SendStream;
            log::info!("Migrate task {} sent the snapshot of slots: {}", t.id, t.ranges_text());
            return;
        }
        let slot = t.order[t.next];
        if pending_output(srv, key) >= SNAPSHOT_CHUNK {
            return;
        }
        let now = srv.clock.now_ms;
        let mut bytes = Vec::new();
        for k in srv.ks.keys_in_slot(slot, usize::MAX) {
            let Some(v) = srv.ks.dbs[0].dict.get(&k[..]) else { continue };
            let at = srv.ks.dbs[0].expires.get(&k[..]).copied();
            if at.is_some_and(|at| at <= now) {
                continue;
            }
            let payload = crate::rdb::dump_payload(&v.value, compress);
            let ttl = at.unwrap_or(0).to_string();
            let mut words: Vec<&[u8]> = vec![b"RESTORE", &k, ttl.as_bytes(), &payload, b"REPLACE"];
            if at.is_some() {
                words.push(b"ABSTTL");
            }
            crate::resp::value::encode_command_into(&mut bytes, &words);
        }
        if let Some(t) = task_mut(srv) {
            t.streamed[slot as usize] = true;
            t.next += 1;
        }
        if !bytes.is_empty() {
            push_stream(srv, &bytes);
        }
    }
}

/// Writes to the slots wait once the importer is close enough behind.
fn maybe_hand_off(srv: &mut Server) {
    let max_lag = srv.config.cluster_slot_migration_handoff_max_lag_bytes.max(0) as u64;
    let now = srv.clock.now_ms;
    let Some(t) = task_mut(srv) else { return };
    if t.state != State::SendStream || t.sent.saturating_sub(t.acked) > max_lag {
        return;
    }
    t.state = State::Handoff;
    t.paused_time = now;
    let id = t.id.clone();
    log::info!("Migrate task {id} preparing to handoff for slots: {}", t.ranges_text());
    let mut bytes = Vec::new();
    crate::resp::value::encode_command_into(&mut bytes, &[&b"CLUSTER"[..], b"SYNCSLOTS", b"HANDOFF", id.as_bytes()]);
    push_stream(srv, &bytes);
}

/// Whether the command in `argv` must wait: a write to a slot being handed
/// off (EXEC: its queue holds one).
pub fn holds(srv: &Server, c: &Client) -> bool {
    let Some(t) = srv.cluster.as_deref().and_then(|cl| cl.migration.current.as_ref()) else { return false };
    if t.state != State::Handoff || c.flags.slot_migrate {
        return false;
    }
    let writes_to_task = |argv: &[Bytes]| -> bool {
        let Ok(i) = srv.commands.resolve(argv) else { return false };
        let cmd = &srv.commands.cmds[i];
        let f = crate::script::effective_flags(srv, argv, i).unwrap_or(cmd.flags);
        (f.has(CmdFlags::WRITE) || f.has(CmdFlags::MAY_REPLICATE))
            && cmd.key_positions(argv).iter().any(|&p| t.has_slot(key_hash_slot(&argv[p]) as usize))
    };
    if c.argv.first().is_some_and(|w| w.eq_ignore_ascii_case(b"exec")) {
        return c.multi_queue.iter().any(|(_, argv)| writes_to_task(argv));
    }
    writes_to_task(&c.argv)
}

/// Source side: the importer owns the slots now.
fn handed_over(srv: &mut Server, c: &mut Client, epoch: u64) {
    let now = srv.clock.now_ms;
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    let (dest, slots) = match cl.migration.current.as_ref() {
        Some(t) if t.op == Op::Migrate && t.state == State::Handoff => {
            (cl.lookup(&t.dest), t.slots().collect::<Vec<_>>())
        }
        _ => return,
    };
    let Some(dest) = dest else {
        fail_migrate(srv, "the destination node is no longer known");
        return;
    };
    cl.current_epoch = cl.current_epoch.max(epoch);
    let d = &mut cl.nodes[dest];
    d.config_epoch = d.config_epoch.max(epoch);
    for &s in &slots {
        cl.del_slot(s);
        cl.add_slot(dest, s);
    }
    cl.todo |= todo::UPDATE_STATE;
    cl.save_later(true);
    let m = &mut cl.migration;
    m.trim.extend_from_slice(&slots);
    m.resume = true;
    if let Some(t) = m.current.as_mut() {
        t.state = State::Completed;
        t.end_time = now;
        log::info!(
            "Migrate task {} completed for slots: {} (write pause {} ms)",
            t.id,
            t.ranges_text(),
            now - t.paused_time
        );
    }
    archive(srv);
    c.flags.slot_migrate = false;
    c.flags.close_after_reply = true;
}

/// Source side: the attempt ends; writes that waited run again.
fn fail_migrate(srv: &mut Server, reason: &str) {
    let now = srv.clock.now_ms;
    let Some(t) = task_mut(srv) else { return };
    if t.op != Op::Migrate || t.state.finished() || t.state == State::Failed {
        return;
    }
    let was_paused = t.state == State::Handoff;
    t.state = State::Failed;
    t.error = reason.to_string();
    t.end_time = now;
    let client = t.client.take();
    log::warn!("Migrate task {} failed: slots={}, err={reason}", t.id, t.ranges_text());
    if let Some(key) = client {
        if let Some(Some(c)) = srv.clients.get_mut(key) {
            c.flags.slot_migrate = false;
        }
        srv.kill_client(key);
    }
    if was_paused {
        if let Some(m) = migrations(srv) {
            m.resume = true;
        }
    }
    archive(srv);
}

// ------------------------------------------------------- the link (importer)

/// Starts a connection attempt of the current import.
fn start_attempt(srv: &mut Server) {
    let now = srv.clock.now_ms;
    let bind = srv.config.bind_source_addr.clone();
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    let ranges = match cl.migration.current.as_ref() {
        Some(t) if t.op == Op::Import => t.ranges.clone(),
        _ => return,
    };
    // Whoever owns the slots now is the source (a failover may have
    // promoted the old source's replica).
    let source = match owner_of(cl, &ranges) {
        Ok(n) if n == cl.myself => {
            if let Some(t) = cl.migration.current.as_mut() {
                t.state = State::Completed;
            }
            archive(srv);
            return;
        }
        Ok(n) => n,
        Err(e) => {
            set_import_failed(srv, &e);
            return;
        }
    };
    let node = &cl.nodes[source];
    let (ip, port, name) = (node.ip.clone(), node.port, node.name);
    let Some(t) = cl.migration.current.as_mut() else { return };
    t.source = name;
    if t.start_time < 0 {
        t.start_time = now;
    }
    t.attempt_ms = now;
    t.applied = 0;
    t.error.clear();
    t.state = State::Connecting;
    let addr = match std::net::ToSocketAddrs::to_socket_addrs(&(ip.as_str(), port)).map(|mut a| a.next()) {
        Ok(Some(a)) => a,
        _ => {
            set_import_failed(srv, &format!("no address for the source node {ip}:{port}"));
            return;
        }
    };
    let mut stream = match crate::repl::replica::connect_from(addr, &bind) {
        Ok(s) => Stream::Tcp(s),
        Err(e) => {
            set_import_failed(srv, &format!("Unable to connect to the source node: {e}"));
            return;
        }
    };
    if let Err(e) =
        srv.reactor.register(&mut stream, TokenKind::Link.token(LINK_INDEX), Interest::READABLE | Interest::WRITABLE)
    {
        set_import_failed(srv, &format!("Unable to connect to the source node: {e}"));
        return;
    }
    log::info!("Import task connecting to the source node {ip}:{port}");
    if let Some(m) = migrations(srv) {
        m.link = Some(Link { stream, inbuf: Vec::new(), out: Vec::new() });
    }
}

/// Readiness on the import's handshake connection.
pub fn on_event(srv: &mut Server, readable: bool, writable: bool) {
    let Some(link) = migrations(srv).and_then(|m| m.link.take()) else { return };
    match drive(srv, link, readable, writable) {
        Ok(Some(link)) => {
            if let Some(m) = migrations(srv) {
                m.link = Some(link);
            }
        }
        Ok(None) => {}
        Err(e) => fail_import(srv, &e),
    }
}

type Step = Result<Option<Link>, String>;

fn drive(srv: &mut Server, mut link: Link, readable: bool, writable: bool) -> Step {
    let state = task_mut(srv).map_or(State::None, |t| t.state);
    if state == State::Connecting {
        if !readable && !writable {
            return Ok(Some(link));
        }
        match link.stream.connect_outcome() {
            Ok(true) => {}
            Ok(false) => return Ok(Some(link)),
            Err(e) => return Err(format!("Main channel - Failed to connect to the source node: {e}")),
        }
        link.stream.tune(srv.config.tcp_keepalive);
        if crate::repl::replica::queue_master_auth(srv, &mut link.out) {
            if let Some(t) = task_mut(srv) {
                t.state = State::AuthReply;
            }
        } else {
            send_sync(srv, &mut link);
        }
    }
    if readable {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match link.stream.read(&mut buf) {
                Ok(0) => return Err("Main channel - Connection is closed".into()),
                Ok(n) => link.inbuf.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("Main channel - Connection is closed: {e}")),
            }
        }
    }
    while let Some(line) = take_line(&mut link.inbuf)? {
        let state = task_mut(srv).map_or(State::None, |t| t.state);
        match state {
            State::AuthReply if line == b"+OK" => send_sync(srv, &mut link),
            State::AuthReply => return Err(format!("Error reply to AUTH from the source: {}", lossy(&line))),
            State::SyncslotsReply if line == b"+OK" => {
                flush(&mut link)?;
                attach(srv, link)?;
                return Ok(None);
            }
            State::SyncslotsReply => {
                return Err(format!("Error reply to CLUSTER SYNCSLOTS SYNC from the source: {}", lossy(&line)))
            }
            _ => return Err(format!("Unexpected reply from the source: {}", lossy(&line))),
        }
    }
    flush(&mut link)?;
    Ok(Some(link))
}

/// One status line from the handshake buffer (CRLF cut off); an
/// unfinished line longer than [`MAX_LINE`] is an error.
fn take_line(buf: &mut Vec<u8>) -> Result<Option<Vec<u8>>, String> {
    match crate::repl::replica::take_line(buf) {
        None if buf.len() > MAX_LINE => Err("the source sent an over-long line".into()),
        line => Ok(line),
    }
}

fn send_sync(srv: &mut Server, link: &mut Link) {
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    let me = cl.me().name;
    let Some(t) = cl.migration.current.as_mut() else { return };
    let mut words: Vec<Vec<u8>> =
        vec![b"CLUSTER".to_vec(), b"SYNCSLOTS".to_vec(), b"SYNC".to_vec(), t.id.clone().into_bytes(), me.to_vec()];
    for &(a, b) in &t.ranges {
        words.push(a.to_string().into_bytes());
        words.push(b.to_string().into_bytes());
    }
    crate::resp::value::encode_command_into(&mut link.out, &words);
    t.state = State::SyncslotsReply;
}

fn flush(link: &mut Link) -> Result<(), String> {
    link.stream
        .write_out(&mut link.out)
        .map_err(|e| format!("Main channel - Failed to send command to the source node: {e}"))
}

/// The handshake is done: the socket becomes the client that applies the
/// stream.
fn attach(srv: &mut Server, link: Link) -> Result<(), String> {
    let Link { mut stream, inbuf, .. } = link;
    let now = srv.clock.now_ms;
    let key = srv.clients.vacant_key();
    srv.reactor
        .reregister(&mut stream, TokenKind::Client.token(key), Interest::READABLE)
        .map_err(|e| format!("Main channel - Failed to register the connection: {e}"))?;
    let mut c = Box::new(Client::new(srv.next_client_id, key, stream, now, ""));
    srv.next_client_id += 1;
    c.flags.slot_import = true;
    c.flags.no_evict = true;
    c.authenticated = true;
    c.query.extend_from_slice(&inbuf);
    srv.clients.insert(Some(c));
    if let Some(t) = task_mut(srv) {
        t.client = Some(key);
        t.state = State::StreamingBuf;
        log::info!("Import task {} started for slots: {}", t.id, t.ranges_text());
    }
    if let Some(mut c) = srv.take_client_slot(key) {
        srv.process_input(&mut c);
        srv.queue_client_write(&mut c);
        srv.return_client_slot(c);
    }
    Ok(())
}

/// Bytes of the stream applied (`process_input`, for `slot_import` clients).
pub fn applied(srv: &mut Server, n: usize) {
    if let Some(t) = task_mut(srv) {
        t.applied += n as u64;
    }
}

/// Importer side: HANDOFF arrived after everything the source streamed; the
/// slots become ours.
fn take_over(srv: &mut Server, c: &mut Client) {
    let now = srv.clock.now_ms;
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    let ok = cl
        .migration
        .current
        .as_ref()
        .is_some_and(|t| t.op == Op::Import && t.state == State::StreamingBuf && t.id.as_bytes() == c.arg(3));
    if !ok {
        return;
    }
    let t = cl.migration.current.as_ref().expect("checked above");
    let slots: Vec<usize> = t.slots().collect();
    let me = cl.myself;
    super::cmd::bump_epoch_without_consensus(cl);
    for &s in &slots {
        cl.importing_from[s] = None;
        cl.migrating_to[s] = None;
        if cl.slots[s] != Some(me) {
            cl.del_slot(s);
            cl.add_slot(me, s);
        }
    }
    cl.todo |= todo::UPDATE_STATE;
    cl.save_later(true);
    let epoch = cl.me().config_epoch;
    let t = cl.migration.current.as_mut().expect("checked above");
    t.state = State::Completed;
    t.end_time = now;
    t.client = None;
    let id = t.id.clone();
    let keys: u64 = slots.iter().map(|&s| srv.ks.count_keys_in_slot(s as u16)).sum();
    let t = task_mut(srv).expect("checked above");
    log::info!("Import task {id} completed for slots: {} (imported {keys} keys)", t.ranges_text());
    archive(srv);
    super::bus::broadcast_pong(srv, super::bus::Target::All);
    // The last words on the link; the source closes it.
    let mut bytes = Vec::new();
    let epoch = epoch.to_string();
    crate::resp::value::encode_command_into(
        &mut bytes,
        &[&b"CLUSTER"[..], b"SYNCSLOTS", b"TAKEN", id.as_bytes(), epoch.as_bytes()],
    );
    c.reply.unmuted(|r| r.raw(&bytes));
    c.flags.slot_import = false;
    c.flags.close_after_reply = true;
}

/// Importer side: the attempt ends. The keys it brought are deleted and,
/// unless the task is being cancelled, another attempt follows.
fn fail_import(srv: &mut Server, reason: &str) {
    let Some(m) = migrations(srv) else { return };
    let link = m.link.take();
    if let Some(mut l) = link {
        let _ = srv.reactor.deregister(&mut l.stream);
    }
    let Some(t) = task_mut(srv) else { return };
    if t.op != Op::Import || t.state.finished() || t.state == State::Failed {
        return;
    }
    if let Some(key) = t.client.take() {
        if let Some(Some(c)) = srv.clients.get_mut(key) {
            c.flags.slot_import = false;
        }
        srv.kill_client(key);
    }
    set_import_failed(srv, reason);
}

fn set_import_failed(srv: &mut Server, reason: &str) {
    let now = srv.clock.now_ms;
    let Some(cl) = srv.cluster.as_deref_mut() else { return };
    let me = cl.myself;
    let unowned: Vec<usize> = match cl.migration.current.as_ref() {
        Some(t) => t.slots().filter(|&s| cl.slots[s] != Some(me)).collect(),
        None => return,
    };
    let m = &mut cl.migration;
    m.trim.extend(unowned);
    let Some(t) = m.current.as_mut() else { return };
    t.state = State::Failed;
    t.error = reason.to_string();
    t.retry_at = now + RETRY_DELAY_MS;
    log::warn!("Import task {} failed: slots={}, err={reason}", t.id, t.ranges_text());
}

/// A client of ours is being freed: a stream connection ends its task's
/// attempt.
pub fn client_freed(srv: &mut Server, key: usize, import: bool) {
    let Some(t) = task_mut(srv) else { return };
    if t.client != Some(key) {
        return;
    }
    t.client = None;
    if import {
        set_import_failed(srv, "Main channel - Connection is closed");
    } else {
        fail_migrate(srv, "Main channel - Connection is closed");
    }
}

// ------------------------------------------------------------- timers

/// Before the loop sleeps: snapshots, the handoff, deletions of slots no
/// longer ours, and writes that waited for a handoff.
pub fn before_sleep(srv: &mut Server) {
    let Some(m) = migrations(srv) else { return };
    if m.current.is_none() && m.trim.is_empty() && !m.resume {
        return;
    }
    send_snapshots(srv);
    maybe_hand_off(srv);
    let Some(m) = migrations(srv) else { return };
    let trim = std::mem::take(&mut m.trim);
    let resume = std::mem::take(&mut m.resume);
    // A replica's keys follow its master's stream, never a trim of ours.
    let master = srv.cluster.as_deref().is_some_and(|cl| cl.me().is_master());
    if !trim.is_empty() && master {
        let me = srv.cluster.as_deref().map(|cl| cl.myself);
        let mut deleted = 0;
        for s in trim {
            // A slot that came back to us meanwhile keeps its keys.
            if srv.cluster.as_deref().is_some_and(|cl| cl.slots[s] != me) {
                deleted += super::bus::delete_keys_in_slot(srv, s);
            }
        }
        if deleted > 0 {
            log::info!("Deleted {deleted} keys of slots this node no longer serves");
        }
        srv.after_command(None);
    }
    if resume && srv.pause == crate::server::Pause::None {
        srv.unpause();
    }
}

/// From the cron: attempts, handshake and pause time-outs, ACKs.
pub fn cron(srv: &mut Server) {
    let now = srv.clock.now_ms;
    let pause_timeout = srv.config.cluster_slot_migration_write_pause_timeout;
    if srv.cluster.as_deref().is_some_and(|cl| cl.me().is_replica()) {
        // Only masters move slots (a failover or CLUSTER REPLICATE turned
        // this one into a replica).
        cancel(srv, None, "this node became a replica");
        return;
    }
    let Some(t) = task_mut(srv) else { return };
    match (t.op, t.state) {
        (Op::Import, State::Failed) if now >= t.retry_at => {
            t.retries += 1;
            start_attempt(srv);
        }
        (Op::Import, State::Connecting | State::AuthReply | State::SyncslotsReply)
            if now - t.attempt_ms > HANDSHAKE_TIMEOUT_MS =>
        {
            fail_import(srv, "Main channel - Timeout connecting to the source node");
        }
        (Op::Import, State::StreamingBuf) => {
            let (Some(key), applied) = (t.client, t.applied) else { return };
            let mut bytes = Vec::new();
            let offset = applied.to_string();
            crate::resp::value::encode_command_into(
                &mut bytes,
                &[&b"CLUSTER"[..], b"SYNCSLOTS", b"ACK", offset.as_bytes()],
            );
            if let Some(mut c) = srv.take_client_slot(key) {
                c.reply.unmuted(|r| r.raw(&bytes));
                srv.queue_client_write(&mut c);
                srv.return_client_slot(c);
            }
        }
        (Op::Migrate, State::Handoff) if now - t.paused_time > pause_timeout => {
            fail_migrate(srv, "the destination did not take over the slots within the write pause timeout");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_and_bounded() {
        let mut b = b"+OK\r\n-ERR no\nrest".to_vec();
        assert_eq!(take_line(&mut b), Ok(Some(b"+OK".to_vec())));
        assert_eq!(take_line(&mut b), Ok(Some(b"-ERR no".to_vec())));
        assert_eq!(take_line(&mut b), Ok(None));
        assert_eq!(b, b"rest");
        let mut long = vec![b'x'; MAX_LINE + 1];
        assert!(take_line(&mut long).is_err());
    }

    #[test]
    fn task_ranges() {
        let t = Task::new("x".into(), Op::Import, vec![(0, 2), (10, 10)], [b'a'; 40], [b'b'; 40], 0);
        assert_eq!(t.slots().collect::<Vec<_>>(), vec![0, 1, 2, 10]);
        assert!(t.has_slot(1) && t.has_slot(10) && !t.has_slot(3));
        assert_eq!(t.ranges_text(), "0-2 10-10");
    }

    #[test]
    fn state_names_are_redis_names() {
        assert_eq!(State::SendBulkAndStream.name(), "send-bulk-and-stream");
        assert_eq!(State::StreamingBuf.name(), "streaming-buffer");
        assert!(State::Canceled.finished() && State::Completed.finished() && !State::Failed.finished());
    }

    #[test]
    fn random_lines_never_panic() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 32) as usize;
            let mut b: Vec<u8> = (0..len).map(|i| [b'\r', b'\n', b'+', b'O'][((x >> (i % 60)) & 3) as usize]).collect();
            while let Ok(Some(_)) = take_line(&mut b) {}
        }
    }
}
