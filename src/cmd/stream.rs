//! Stream commands: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID,
//! XREAD and XREADGROUP (with BLOCK), XGROUP, XACK, XPENDING, XCLAIM,
//! XAUTOCLAIM and XINFO.
//!
//! Mirrors Redis 7.0's t_stream.c command layer: option parsing order and
//! its exact error texts, RESP2/RESP3 reply shapes (XREAD answers a map in
//! RESP3), keyspace events (class `t`), and which commands mark the key
//! modified (XADD, XDEL, XTRIM, XGROUP CREATE MKSTREAM) versus only counting
//! a change (group bookkeeping). Storage and group state live in
//! `types::stream`. Blocking reads use the server's blocking machinery: the
//! command is re-run when a waited key is written, so before blocking XREAD
//! rewrites each `$` in its arguments to the ID it stood for, and a re-run
//! (recognised by `Client::reblock_deadline`) that still finds nothing
//! blocks again with its original deadline. Propagation of the XCLAIM /
//! SETID side effects arrives with replication.

use bytes::Bytes;

use super::args;
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::db::notify;
use crate::server::Server;
use crate::types::stream::{
    group::ENTRIES_READ_INVALID, parse_id, AddError, EntryRef, Group, IdArg, Nack, NodeLimits, Stream, StreamId, Trim,
    TrimStrategy,
};
use crate::types::value::Value;
use crate::util::num::IntBuf;

/// COMPAT: the stream ID parse error.
const ERR_INVALID_ID: &str = "Invalid stream ID specified as stream command argument";
/// Entries a blocked XREAD without COUNT gets when served.
const BLOCKED_DEFAULT_COUNT: usize = 1000;

// ------------------------------------------------------------- helpers

fn limits(srv: &Server) -> NodeLimits {
    NodeLimits {
        max_bytes: srv.config.stream_node_max_bytes.max(0) as u64,
        max_entries: srv.config.stream_node_max_entries.max(0),
    }
}

fn now_ms(srv: &Server) -> i64 {
    srv.clock.now_ms
}

fn invalid_id() -> ReplyError {
    ReplyError::err(ERR_INVALID_ID)
}

/// A strict ID (no `-`/`+`), bare `<ms>` taking sequence 0.
fn strict_id(arg: &[u8]) -> Result<StreamId, ReplyError> {
    match parse_id(arg, 0, true, false) {
        Some(IdArg::Id(id)) => Ok(id),
        _ => Err(invalid_id()),
    }
}

/// An ID where `-` and `+` are allowed.
fn loose_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, ReplyError> {
    match parse_id(arg, missing_seq, false, false) {
        Some(IdArg::Id(id)) => Ok(id),
        _ => Err(invalid_id()),
    }
}

/// A range bound: `(id` is exclusive (and strict), anything else inclusive.
fn interval_id(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), ReplyError> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((strict_id(&arg[1..])?, true))
    } else {
        Ok((loose_id(arg, missing_seq)?, false))
    }
}

/// The start of a range, moved past an exclusive bound.
fn start_bound(arg: &[u8]) -> Result<StreamId, ReplyError> {
    let (id, ex) = interval_id(arg, 0)?;
    if ex {
        // COMPAT: the interval errors.
        return id.incr().ok_or_else(|| ReplyError::err("invalid start ID for the interval"));
    }
    Ok(id)
}

/// The end of a range, moved before an exclusive bound.
fn end_bound(arg: &[u8]) -> Result<StreamId, ReplyError> {
    let (id, ex) = interval_id(arg, u64::MAX)?;
    if ex {
        return id.decr().ok_or_else(|| ReplyError::err("invalid end ID for the interval"));
    }
    Ok(id)
}

fn reply_id(c: &mut Client, id: StreamId) {
    let mut buf = [0u8; 41];
    let ms = IntBuf::from_u64(id.ms);
    let seq = IntBuf::from_u64(id.seq);
    let (a, b) = (ms.as_bytes(), seq.as_bytes());
    buf[..a.len()].copy_from_slice(a);
    buf[a.len()] = b'-';
    buf[a.len() + 1..a.len() + 1 + b.len()].copy_from_slice(b);
    c.reply.bulk(&buf[..a.len() + 1 + b.len()]);
}

/// `[id, [field, value, ...]]`.
fn reply_entry(c: &mut Client, e: &EntryRef<'_>) {
    c.reply.array(2);
    reply_id(c, e.id());
    c.reply.array(e.numfields() * 2);
    let (mut a, mut b) = (IntBuf::new(0), IntBuf::new(0));
    for (f, v) in e.fields() {
        c.reply.bulk(f.as_bytes(&mut a));
        c.reply.bulk(v.as_bytes(&mut b));
    }
}

/// The stream at `key` for reading (hit/miss counted): None when missing.
fn read_stream<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a Stream>, ReplyError> {
    match srv.ks.get(db, key) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(ReplyError::WrongType),
    }
}

/// The stream at `key` for writing: None when missing.
fn write_stream<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a mut Stream>, ReplyError> {
    match srv.ks.get_mut(db, key) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(ReplyError::WrongType),
    }
}

/// COMPAT: addReplySubcommandSyntaxError.
pub fn subcommand_syntax(c: &Client) -> ReplyError {
    let sub = String::from_utf8_lossy(c.arg(1));
    let sub: String = sub.chars().take(128).collect();
    ReplyError::err(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        sub,
        String::from_utf8_lossy(c.arg(0)).to_uppercase()
    ))
}

fn nogroup_key_group(key: &[u8], group: &[u8]) -> ReplyError {
    ReplyError::other(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

/// Counts `n` more changes to the dataset beyond a `touch_write`.
fn add_dirty(srv: &mut Server, n: u64) {
    srv.ks.dirty += n;
}

/// The idempotent XCLAIM that replicates a delivery or claim of `id`
/// (Redis's form: the NACK's owner, delivery time and count, FORCE JUSTID,
/// and the group's last ID).
fn xclaim_op(key: &[u8], group: &[u8], g: &Group, id: StreamId, nack: &Nack) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"XCLAIM"),
        Bytes::copy_from_slice(key),
        Bytes::copy_from_slice(group),
        Bytes::copy_from_slice(&nack.consumer),
        Bytes::from_static(b"0"),
        Bytes::from(id.to_bytes()),
        Bytes::from_static(b"TIME"),
        Bytes::from(nack.delivery_time_ms.to_string()),
        Bytes::from_static(b"RETRYCOUNT"),
        Bytes::from(nack.delivery_count.to_string()),
        Bytes::from_static(b"FORCE"),
        Bytes::from_static(b"JUSTID"),
        Bytes::from_static(b"LASTID"),
        Bytes::from(g.last_id.to_bytes()),
    ]
}

/// `XGROUP SETID key group last-id ENTRIESREAD n`: replicates a group
/// position that moved without any XCLAIM carrying it.
fn setid_op(key: &[u8], group: &[u8], g: &Group) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"XGROUP"),
        Bytes::from_static(b"SETID"),
        Bytes::copy_from_slice(key),
        Bytes::copy_from_slice(group),
        Bytes::from(g.last_id.to_bytes()),
        Bytes::from_static(b"ENTRIESREAD"),
        Bytes::from(g.entries_read.to_string()),
    ]
}

// ------------------------------------------------------ XADD and XTRIM

/// Options shared by XADD and XTRIM.
struct AddTrimArgs {
    /// XADD's ID (`None` for `*`).
    id: Option<IdArg>,
    /// Position of the ID argument (XADD).
    id_pos: usize,
    /// NOMKSTREAM.
    no_mkstream: bool,
    /// The trim to apply, if any.
    trim: Option<Trim>,
    /// Position of the trim threshold argument (0 without a trim).
    trim_arg: usize,
}

/// Parses XADD/XTRIM options in Redis's order, with its errors.
fn parse_add_trim(srv: &Server, c: &Client, xadd: bool) -> Result<AddTrimArgs, ReplyError> {
    let mut out = AddTrimArgs { id: None, id_pos: c.argc(), no_mkstream: false, trim: None, trim_arg: 0 };
    let mut strategy: Option<TrimStrategy> = None;
    let mut approx = false;
    let mut limit: i64 = 0;
    let mut limit_given = false;
    let argc = c.argc();
    let mut i = 2;
    // COMPAT: the option errors of streamParseAddOrTrimArgsOrReply.
    let both = "syntax error, MAXLEN and MINID options at the same time are not compatible";
    while i < argc {
        let more = argc - 1 - i;
        let opt = c.arg(i);
        if xadd && opt == b"*" {
            out.id_pos = i;
            break;
        } else if (args::is(opt, "maxlen") || args::is(opt, "minid")) && more > 0 {
            if strategy.is_some() {
                return Err(ReplyError::err(both));
            }
            // An optional `~` (approximate) or `=` (exact) before the threshold.
            let next = c.arg(i + 1);
            approx = more >= 2 && next == b"~";
            if more >= 2 && (next == b"~" || next == b"=") {
                i += 1;
            }
            i += 1;
            out.trim_arg = i;
            strategy = Some(if args::is(opt, "maxlen") {
                let n = args::int(c.arg(i))?;
                if n < 0 {
                    return Err(ReplyError::err("The MAXLEN argument must be >= 0."));
                }
                TrimStrategy::MaxLen(n as u64)
            } else {
                TrimStrategy::MinId(strict_id(c.arg(i))?)
            });
        } else if args::is(opt, "limit") && more > 0 {
            limit = args::int(c.arg(i + 1))?;
            if limit < 0 {
                return Err(ReplyError::err("The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            i += 1;
        } else if xadd && args::is(opt, "nomkstream") {
            out.no_mkstream = true;
        } else if xadd {
            match parse_id(opt, 0, true, true) {
                Some(id) => out.id = Some(id),
                None => return Err(invalid_id()),
            }
            out.id_pos = i;
            break;
        } else {
            return Err(ReplyError::Syntax);
        }
        i += 1;
    }
    if limit != 0 && strategy.is_none() {
        return Err(ReplyError::err("syntax error, LIMIT cannot be used without specifying a trimming strategy"));
    }
    if !xadd && strategy.is_none() {
        return Err(ReplyError::err("syntax error, XTRIM must be called with a trimming strategy"));
    }
    if c.must_obey() {
        // Propagated trims are already exact (COMPAT: streamParseAddOrTrimArgsOrReply).
        limit = 0;
    } else if limit_given {
        if !approx {
            return Err(ReplyError::err("syntax error, LIMIT cannot be used without the special ~ option"));
        }
    } else if approx {
        // Bound the work of a node-granular trim: about 100 nodes.
        limit = 100i64.saturating_mul(srv.config.stream_node_max_entries);
        if limit <= 0 {
            limit = 10_000;
        }
        limit = limit.min(1_000_000);
    } else {
        limit = 0;
    }
    out.trim = strategy.map(|strategy| Trim { strategy, approx, limit });
    Ok(out)
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id
/// field value [field value ...]: appends an entry, replies its ID (nil
/// with NOMKSTREAM on a missing key). Fires `xadd` (and `xtrim`).
pub fn xadd(srv: &mut Server, c: &mut Client) -> CmdResult {
    let a = parse_add_trim(srv, c, true)?;
    let field_pos = a.id_pos + 1;
    if c.argc() < field_pos + 2 || !(c.argc() - field_pos).is_multiple_of(2) {
        return Err(ReplyError::WrongArity("xadd".into()));
    }
    if a.id == Some(IdArg::Id(StreamId::MIN)) {
        return Err(ReplyError::err("The ID specified in XADD must be greater than 0-0"));
    }
    let db = c.db;
    let key = c.argv[1].clone();
    let lim = limits(srv);
    let now = now_ms(srv).max(0) as u64;
    if write_stream(srv, db, &key)?.is_none() {
        if a.no_mkstream {
            c.reply.null();
            return Ok(());
        }
        srv.ks.set(db, &key, Value::Stream(Box::new(Stream::new())), false);
    }
    let Some(s) = write_stream(srv, db, &key)? else { return Ok(()) };
    if s.entries.last_id == StreamId::MAX {
        return Err(ReplyError::err("The stream has exhausted the last possible ID, unable to add more items"));
    }
    let pairs: Vec<&[u8]> = c.argv[field_pos..].iter().map(|b| &b[..]).collect();
    let id = match s.entries.append(&pairs, a.id, now, lim) {
        Ok(id) => id,
        Err(AddError::NotGreater) => {
            return Err(ReplyError::err("The ID specified in XADD is equal or smaller than the target stream top item"))
        }
        Err(AddError::TooLarge) => return Err(ReplyError::err("Elements are too large to be stored")),
    };
    let trimmed = a.trim.map_or(0, |t| s.entries.trim(&t));
    // Replicas store the ID chosen here and trim exactly as far.
    let mut argv = c.argv.clone();
    exact_trim_words(&mut argv, &a, &s.entries);
    if !matches!(a.id, Some(IdArg::Id(_))) {
        argv[a.id_pos] = Bytes::from(id.to_bytes());
    }
    srv.propagate_as(argv);
    reply_id(c, id);
    srv.ks.touch_write(db, &key);
    srv.ks.notify(notify::STREAM, "xadd", db, &key);
    if trimmed > 0 {
        srv.ks.notify(notify::STREAM, "xtrim", db, &key);
    }
    Ok(())
}

/// Makes an approximate (`~`) trim exact for replicas: `=` and the length
/// or first ID the stream was really trimmed to, as Redis rewrites it.
fn exact_trim_words(argv: &mut [Bytes], a: &AddTrimArgs, entries: &crate::types::stream::Entries) {
    let Some(t) = &a.trim else { return };
    if !t.approx || a.trim_arg < 2 {
        return;
    }
    argv[a.trim_arg - 1] = Bytes::from_static(b"=");
    argv[a.trim_arg] = match t.strategy {
        TrimStrategy::MaxLen(_) => Bytes::from(entries.length.to_string()),
        TrimStrategy::MinId(_) => Bytes::from(entries.edge_id(true, false).to_bytes()),
    };
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]: replies the number
/// of entries removed; fires `xtrim` when some were.
pub fn xtrim(srv: &mut Server, c: &mut Client) -> CmdResult {
    let a = parse_add_trim(srv, c, false)?;
    let db = c.db;
    let key = c.argv[1].clone();
    let Some(s) = write_stream(srv, db, &key)? else {
        c.reply.int(0);
        return Ok(());
    };
    let deleted = match a.trim {
        Some(t) => s.entries.trim(&t),
        None => 0,
    };
    let mut argv = c.argv.clone();
    exact_trim_words(&mut argv, &a, &s.entries);
    srv.propagate_as(argv);
    if deleted > 0 {
        srv.ks.notify(notify::STREAM, "xtrim", db, &key);
        srv.ks.touch_write(db, &key);
        add_dirty(srv, deleted as u64 - 1);
    }
    c.reply.int(deleted);
    Ok(())
}

// ------------------------------------------------- XRANGE, XLEN, XDEL

fn xrange_generic(srv: &mut Server, c: &mut Client, rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev { (3, 2) } else { (2, 3) };
    let start = start_bound(c.arg(start_arg))?;
    let end = end_bound(c.arg(end_arg))?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < c.argc() {
        if args::is(c.arg(j), "count") && j + 1 < c.argc() {
            count = args::int(c.arg(j + 1))?.max(0);
            j += 2;
        } else {
            return Err(ReplyError::Syntax);
        }
    }
    let db = c.db;
    let key = c.argv[1].clone();
    let Some(s) = read_stream(srv, db, &key)? else {
        c.reply.array(0);
        return Ok(());
    };
    if count == 0 {
        c.reply.null_array();
        return Ok(());
    }
    let pos = c.reply.deferred_len();
    let mut n = 0usize;
    for e in s.entries.range(start, end, rev) {
        reply_entry(c, &e);
        n += 1;
        if count > 0 && n as i64 == count {
            break;
        }
    }
    c.reply.set_deferred_array(pos, n);
    Ok(())
}

/// XRANGE key start end [COUNT n]: entries in ID order (`(` excludes a bound).
pub fn xrange(srv: &mut Server, c: &mut Client) -> CmdResult {
    xrange_generic(srv, c, false)
}

/// XREVRANGE key end start [COUNT n]: entries in reverse ID order.
pub fn xrevrange(srv: &mut Server, c: &mut Client) -> CmdResult {
    xrange_generic(srv, c, true)
}

/// XLEN key: live entries (0 when missing).
pub fn xlen(srv: &mut Server, c: &mut Client) -> CmdResult {
    let n = read_stream(srv, c.db, &c.argv[1].clone())?.map_or(0, |s| s.len());
    c.reply.int(n as i64);
    Ok(())
}

/// XDEL key id [id ...]: replies how many entries were deleted; fires `xdel`.
pub fn xdel(srv: &mut Server, c: &mut Client) -> CmdResult {
    let db = c.db;
    let key = c.argv[1].clone();
    if write_stream(srv, db, &key)?.is_none() {
        c.reply.int(0);
        return Ok(());
    }
    // All or nothing: every ID must parse before anything is deleted.
    let ids = c.argv[2..].iter().map(|a| strict_id(a)).collect::<Result<Vec<_>, _>>()?;
    let Some(s) = write_stream(srv, db, &key)? else { return Ok(()) };
    let deleted = ids.iter().filter(|&&id| s.entries.xdel(id)).count();
    if deleted > 0 {
        srv.ks.touch_write(db, &key);
        srv.ks.notify(notify::STREAM, "xdel", db, &key);
        add_dirty(srv, deleted as u64 - 1);
    }
    c.reply.int(deleted as i64);
    Ok(())
}

/// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]: sets the stream's
/// last ID and counters; fires `xsetid`.
pub fn xsetid(srv: &mut Server, c: &mut Client) -> CmdResult {
    let id = strict_id(c.arg(2))?;
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < c.argc() {
        let more = c.argc() - 1 - i;
        let opt = c.arg(i);
        if args::is(opt, "entriesadded") && more > 0 {
            entries_added = args::int(c.arg(i + 1))?;
            if entries_added < 0 {
                return Err(ReplyError::err("entries_added must be positive"));
            }
            i += 2;
        } else if args::is(opt, "maxdeletedid") && more > 0 {
            max_xdel = strict_id(c.arg(i + 1))?;
            if id < max_xdel {
                return Err(ReplyError::err(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            i += 2;
        } else {
            return Err(ReplyError::Syntax);
        }
    }
    let db = c.db;
    let key = c.argv[1].clone();
    let Some(s) = write_stream(srv, db, &key)? else { return Err(ReplyError::NoSuchKey) };
    if s.entries.length > 0 {
        if let Some(max) = s.entries.last_valid_id() {
            if id < max {
                return Err(ReplyError::err("The ID specified in XSETID is smaller than the target stream top item"));
            }
        }
        if entries_added != -1 && s.entries.length > entries_added as u64 {
            return Err(ReplyError::err(
                "The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.entries.last_id = id;
    if entries_added != -1 {
        s.entries.entries_added = entries_added as u64;
    }
    if !max_xdel.is_zero() {
        s.entries.max_deleted_entry_id = max_xdel;
    }
    c.reply.ok();
    add_dirty(srv, 1);
    srv.ks.notify(notify::STREAM, "xsetid", db, &key);
    Ok(())
}

// ------------------------------------------------- XREAD, XREADGROUP

/// What one XREAD / XREADGROUP call asked for.
struct ReadArgs {
    /// BLOCK timeout in ms, if given.
    block_ms: Option<i64>,
    /// COUNT (0: no limit).
    count: usize,
    /// Index of the first key.
    streams_arg: usize,
    /// Number of streams.
    n: usize,
    /// GROUP name and consumer.
    group: Option<(Bytes, Bytes)>,
    /// NOACK.
    noack: bool,
}

fn parse_read(c: &Client, readgroup: bool) -> Result<ReadArgs, ReplyError> {
    let mut a = ReadArgs { block_ms: None, count: 0, streams_arg: 0, n: 0, group: None, noack: false };
    let argc = c.argc();
    let mut i = 1;
    while i < argc {
        let more = argc - i - 1;
        let o = c.arg(i);
        if args::is(o, "block") && more > 0 {
            if c.id == crate::script::SCRIPT_CLIENT_ID {
                // COMPAT: xreadCommand's refusal for scripts.
                return Err(ReplyError::err(format!(
                    "{} command is not allowed with BLOCK option from scripts",
                    String::from_utf8_lossy(c.arg(0))
                )));
            }
            i += 1;
            let ms = crate::util::num::string2ll(c.arg(i)).ok_or(ReplyError::TimeoutNotInteger)?;
            if ms < 0 {
                return Err(ReplyError::err("timeout is negative"));
            }
            a.block_ms = Some(ms);
        } else if args::is(o, "count") && more > 0 {
            i += 1;
            a.count = args::int(c.arg(i))?.max(0) as usize;
        } else if args::is(o, "streams") && more > 0 {
            a.streams_arg = i + 1;
            let rest = argc - a.streams_arg;
            if !rest.is_multiple_of(2) {
                // COMPAT: the same text for XREAD and XREADGROUP.
                return Err(ReplyError::err(
                    "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            a.n = rest / 2;
            break;
        } else if args::is(o, "group") && more >= 2 {
            if !readgroup {
                return Err(ReplyError::err(
                    "The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            a.group = Some((c.argv[i + 1].clone(), c.argv[i + 2].clone()));
            i += 2;
        } else if args::is(o, "noack") {
            if !readgroup {
                return Err(ReplyError::err(
                    "The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            a.noack = true;
        } else {
            return Err(ReplyError::Syntax);
        }
        i += 1;
    }
    if a.streams_arg == 0 {
        return Err(ReplyError::Syntax);
    }
    if readgroup && a.group.is_none() {
        return Err(ReplyError::err("Missing GROUP option for XREADGROUP"));
    }
    Ok(a)
}

/// How one stream of a read resolves.
#[derive(Clone, Copy)]
enum ReadFrom {
    /// Entries greater than this ID (`$` resolved, or given).
    After(StreamId),
    /// `>`: entries never delivered to the group.
    New,
    /// Skip this key (a re-run found it missing or of another type).
    Skip,
}

fn xread_generic(srv: &mut Server, c: &mut Client, readgroup: bool) -> CmdResult {
    let a = parse_read(c, readgroup)?;
    // A re-run after the key we wait on was written.
    let rerun = c.reblock_deadline.is_some();
    let db = c.db;
    let now = now_ms(srv);
    let mut from = Vec::with_capacity(a.n);
    for k in 0..a.n {
        let key = c.argv[a.streams_arg + k].clone();
        let id_arg = c.argv[a.streams_arg + a.n + k].clone();
        let found = match srv.ks.get(db, &key) {
            None => None,
            Some(Value::Stream(s)) => Some(s),
            Some(_) if rerun && readgroup => {
                // COMPAT: a blocked XREADGROUP whose key was replaced.
                return Err(ReplyError::other("UNBLOCKED the stream key no longer exists"));
            }
            Some(_) if rerun => {
                from.push(ReadFrom::Skip);
                continue;
            }
            Some(_) => return Err(ReplyError::WrongType),
        };
        if let Some((group, _)) = &a.group {
            let has_group = found.is_some_and(|s| s.groups.contains_key(&group[..]));
            if !has_group {
                if rerun && found.is_none() {
                    return Err(ReplyError::other("UNBLOCKED the stream key no longer exists"));
                }
                if rerun {
                    return Err(ReplyError::other(
                        "NOGROUP the consumer group this client was blocked on no longer exists",
                    ));
                }
                return Err(ReplyError::other(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    String::from_utf8_lossy(&key),
                    String::from_utf8_lossy(group)
                )));
            }
        }
        if &id_arg[..] == b"$" {
            if readgroup {
                return Err(ReplyError::err(
                    "The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            from.push(ReadFrom::After(found.map_or(StreamId::MIN, |s| s.entries.last_id)));
        } else if &id_arg[..] == b">" {
            if !readgroup {
                return Err(ReplyError::err(
                    "The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            from.push(ReadFrom::New);
        } else {
            from.push(ReadFrom::After(strict_id(&id_arg)?));
        }
    }
    let count = if rerun && a.count == 0 { BLOCKED_DEFAULT_COUNT } else { a.count };
    let resp3 = c.reply.resp >= 3;
    let mut pos = None;
    let mut served = 0usize;
    let mut new_consumers = Vec::new();
    // What replicas must apply instead of the read: XCLAIMs, consumer
    // creations and group positions, in order.
    let mut ops: Vec<Vec<Bytes>> = Vec::new();
    for (k, f) in from.iter().enumerate() {
        let key = c.argv[a.streams_arg + k].clone();
        // Served from blocking, a key repeated in the call is served once,
        // as Redis serves the one key that became ready.
        if rerun && c.argv[a.streams_arg..a.streams_arg + k].contains(&key) {
            continue;
        }
        let Some(Value::Stream(s)) = srv.ks.dbs[db].dict.get_mut(&key[..]).map(|o| &mut o.value) else { continue };
        let s: &mut Stream = s;
        match (&a.group, *f) {
            (_, ReadFrom::Skip) => {}
            (None, ReadFrom::After(gt)) => {
                if s.entries.length == 0 || s.entries.last_valid_id().is_none_or(|max| max <= gt) {
                    continue;
                }
                open_stream_reply(c, &mut pos, &mut served, resp3, &key);
                let start = gt.incr().unwrap_or(StreamId::MIN);
                let lpos = c.reply.deferred_len();
                let mut n = 0;
                for e in s.entries.range(start, StreamId::MAX, false) {
                    reply_entry(c, &e);
                    n += 1;
                    if count > 0 && n == count {
                        break;
                    }
                }
                c.reply.set_deferred_array(lpos, n);
            }
            (None, ReadFrom::New) => {}
            (Some((gname, cname)), f) => {
                let Stream { entries, groups } = s;
                let Some(g) = groups.get_mut(&gname[..]) else { continue };
                let (start, history) = match f {
                    ReadFrom::After(id) => (id.incr().unwrap_or(StreamId::MIN), true),
                    _ => {
                        if entries.length == 0 || entries.last_valid_id().is_none_or(|max| max <= g.last_id) {
                            continue;
                        }
                        (g.last_id.incr().unwrap_or(StreamId::MIN), false)
                    }
                };
                open_stream_reply(c, &mut pos, &mut served, resp3, &key);
                if !g.touch_consumer(cname, Some(now)) {
                    g.create_consumer(cname, now);
                    new_consumers.push(key.clone());
                    if a.noack {
                        ops.push(vec![
                            Bytes::from_static(b"XGROUP"),
                            Bytes::from_static(b"CREATECONSUMER"),
                            key.clone(),
                            gname.clone(),
                            cname.clone(),
                        ]);
                    }
                }
                if history {
                    reply_history(c, entries, g, cname, start, count, now);
                } else {
                    let lpos = c.reply.deferred_len();
                    let mut n = 0;
                    let before = g.last_id;
                    for e in entries.range(start, StreamId::MAX, false) {
                        entries.advance_group(g, e.id());
                        reply_entry(c, &e);
                        if !a.noack {
                            g.deliver(e.id(), cname, now);
                            if let Some(nack) = g.pel.get(&e.id()) {
                                ops.push(xclaim_op(&key, gname, g, e.id(), nack));
                            }
                        }
                        n += 1;
                        if count > 0 && n == count {
                            break;
                        }
                    }
                    if a.noack && g.last_id != before {
                        ops.push(setid_op(&key, gname, g));
                    }
                    c.reply.set_deferred_array(lpos, n);
                }
                add_dirty(srv, 1);
            }
        }
    }
    for key in new_consumers {
        add_dirty(srv, 1);
        srv.ks.notify(notify::STREAM, "xgroup-createconsumer", db, &key);
    }
    if readgroup {
        srv.prevent_propagation();
        for op in ops {
            srv.also_propagate(db, op);
        }
    }
    if let Some(p) = pos {
        c.reply.set_deferred_len(p, if resp3 { b'%' } else { b'*' }, served);
        return Ok(());
    }
    let Some(block_ms) = a.block_ms else {
        c.reply.null_array();
        return Ok(());
    };
    // Remember what `$` meant now: a re-run must only see newer entries.
    for (k, f) in from.iter().enumerate() {
        if let ReadFrom::After(id) = f {
            let at = a.streams_arg + a.n + k;
            if &c.argv[at][..] == b"$" {
                c.argv[at] = Bytes::from(id.to_bytes());
            }
        }
    }
    let keys: Vec<Bytes> = c.argv[a.streams_arg..a.streams_arg + a.n].to_vec();
    let deadline = srv.block_deadline(block_ms);
    srv.block_client(c, &keys, "stream", deadline);
    if readgroup {
        srv.wake_on_delete(c);
    }
    Ok(())
}

/// Opens the top-level reply on the first served stream, then the
/// `[key, entries]` pair (RESP3: a map entry).
fn open_stream_reply(c: &mut Client, pos: &mut Option<usize>, served: &mut usize, resp3: bool, key: &[u8]) {
    if pos.is_none() {
        *pos = Some(c.reply.deferred_len());
    }
    *served += 1;
    if !resp3 {
        c.reply.array(2);
    }
    c.reply.bulk(key);
}

/// A consumer's own history: its pending entries from `start`, each
/// redelivered (time and count updated); a pending ID whose entry is gone
/// is replied as `[id, nil]`.
fn reply_history(
    c: &mut Client,
    entries: &crate::types::stream::Entries,
    g: &mut Group,
    consumer: &[u8],
    start: StreamId,
    count: usize,
    now: i64,
) {
    let ids: Vec<StreamId> = match g.consumers.get(consumer) {
        Some(cons) => {
            let it = cons.pel.range(start..).copied();
            if count > 0 {
                it.take(count).collect()
            } else {
                it.collect()
            }
        }
        None => Vec::new(),
    };
    c.reply.array(ids.len());
    for id in ids {
        match entries.range(id, id, false).next() {
            Some(e) => {
                reply_entry(c, &e);
                if let Some(n) = g.pel.get_mut(&id) {
                    n.delivery_time_ms = now;
                    n.delivery_count += 1;
                }
            }
            None => {
                c.reply.array(2);
                reply_id(c, id);
                c.reply.null_array();
            }
        }
    }
}

/// XREAD [COUNT n] [BLOCK ms] STREAMS key [key ...] id [id ...]: entries
/// after each ID (`$`: after the current last), blocking when none.
pub fn xread(srv: &mut Server, c: &mut Client) -> CmdResult {
    xread_generic(srv, c, false)
}

/// XREADGROUP GROUP g consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key ...
/// id ...: `>` delivers new entries to the consumer (recorded as pending
/// unless NOACK), other IDs re-read its own pending history.
pub fn xreadgroup(srv: &mut Server, c: &mut Client) -> CmdResult {
    xread_generic(srv, c, true)
}

// ----------------------------------------------------------- XGROUP

/// XGROUP CREATE | SETID | DESTROY | CREATECONSUMER | DELCONSUMER, with the
/// checks Redis shares between them.
pub fn xgroup(srv: &mut Server, c: &mut Client) -> CmdResult {
    let sub = String::from_utf8_lossy(c.arg(1)).to_ascii_lowercase();
    let create = sub == "create";
    let setid = sub == "setid";
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_INVALID;
    let mut i = 5;
    while i < c.argc() {
        if create && args::is(c.arg(i), "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && args::is(c.arg(i), "entriesread") && i + 1 < c.argc() {
            entries_read = args::int(c.arg(i + 1))?;
            if entries_read < 0 && entries_read != ENTRIES_READ_INVALID {
                return Err(ReplyError::err("value for ENTRIESREAD must be positive or -1"));
            }
            i += 2;
        } else {
            return Err(subcommand_syntax(c));
        }
    }
    let db = c.db;
    let key = c.argv[2].clone();
    let gname = c.argv[3].clone();
    let now = now_ms(srv);
    let exists = write_stream(srv, db, &key)?.is_some();
    if !mkstream {
        if !exists {
            return Err(ReplyError::err(
                "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            ));
        }
        let has = write_stream(srv, db, &key)?.is_some_and(|s| s.groups.contains_key(&gname[..]));
        if !has && matches!(sub.as_str(), "setid" | "createconsumer" | "delconsumer") {
            return Err(ReplyError::other(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                String::from_utf8_lossy(&gname),
                String::from_utf8_lossy(&key)
            )));
        }
    }
    match sub.as_str() {
        "create" if (5..=8).contains(&c.argc()) => {
            let last = write_stream(srv, db, &key)?.map_or(StreamId::MIN, |s| s.entries.last_id);
            let id = if c.arg(4) == b"$" { last } else { strict_id(c.arg(4))? };
            if !exists {
                srv.ks.set(db, &key, Value::Stream(Box::new(Stream::new())), false);
                srv.ks.touch_write(db, &key);
                srv.ks.dirty -= 1;
            }
            let Some(s) = write_stream(srv, db, &key)? else { return Ok(()) };
            if s.groups.contains_key(&gname[..]) {
                return Err(ReplyError::other("BUSYGROUP Consumer Group name already exists"));
            }
            s.groups.insert(crate::types::sds::Sds::from(&gname[..]), Group::new(id, entries_read));
            c.reply.ok();
            add_dirty(srv, 1);
            srv.ks.notify(notify::STREAM, "xgroup-create", db, &key);
        }
        "setid" if c.argc() == 5 || c.argc() == 7 => {
            let Some(s) = write_stream(srv, db, &key)? else { return Ok(()) };
            let id = if c.arg(4) == b"$" { s.entries.last_id } else { loose_id(c.arg(4), 0)? };
            if let Some(g) = s.groups.get_mut(&gname[..]) {
                g.last_id = id;
                g.entries_read = entries_read;
            }
            c.reply.ok();
            add_dirty(srv, 1);
            srv.ks.notify(notify::STREAM, "xgroup-setid", db, &key);
        }
        "destroy" if c.argc() == 4 => {
            let Some(s) = write_stream(srv, db, &key)? else { return Ok(()) };
            if s.groups.remove(&gname[..]).is_some() {
                c.reply.int(1);
                add_dirty(srv, 1);
                srv.ks.notify(notify::STREAM, "xgroup-destroy", db, &key);
                // Blocked XREADGROUP readers of this group must get -NOGROUP.
                srv.signal_key_ready(db, &crate::types::sds::Sds::from(&key[..]));
            } else {
                c.reply.int(0);
            }
        }
        "createconsumer" if c.argc() == 5 => {
            let Some(s) = write_stream(srv, db, &key)? else { return Ok(()) };
            let created = s.groups.get_mut(&gname[..]).is_some_and(|g| g.create_consumer(c.arg(4), now));
            c.reply.int(created as i64);
            if created {
                add_dirty(srv, 1);
                srv.ks.notify(notify::STREAM, "xgroup-createconsumer", db, &key);
            }
        }
        "delconsumer" if c.argc() == 5 => {
            let Some(s) = write_stream(srv, db, &key)? else { return Ok(()) };
            let pending = s.groups.get_mut(&gname[..]).and_then(|g| g.delete_consumer(c.arg(4)));
            c.reply.int(pending.unwrap_or(0) as i64);
            if pending.is_some() {
                add_dirty(srv, 1);
                srv.ks.notify(notify::STREAM, "xgroup-delconsumer", db, &key);
            }
        }
        _ => return Err(subcommand_syntax(c)),
    }
    Ok(())
}

/// XGROUP HELP.
pub fn xgroup_help(_srv: &mut Server, c: &mut Client) -> CmdResult {
    super::help_reply(
        c,
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    );
    Ok(())
}

// ------------------------------------------------------ XACK, XPENDING

/// XACK key group id [id ...]: acknowledges pending entries; replies how
/// many were pending.
pub fn xack(srv: &mut Server, c: &mut Client) -> CmdResult {
    let db = c.db;
    let key = c.argv[1].clone();
    let has_group = read_stream(srv, db, &key)?.is_some_and(|s| s.groups.contains_key(c.arg(2)));
    if !has_group {
        c.reply.int(0);
        return Ok(());
    }
    let ids = c.argv[3..].iter().map(|a| strict_id(a)).collect::<Result<Vec<_>, _>>()?;
    let Some(s) = write_stream(srv, db, &key)? else { return Ok(()) };
    let Some(g) = s.groups.get_mut(c.arg(2)) else { return Ok(()) };
    let acked = ids.iter().filter(|&&id| g.ack(id)).count();
    add_dirty(srv, acked as u64);
    c.reply.int(acked as i64);
    Ok(())
}

/// XPENDING key group [[IDLE ms] start end count [consumer]]: the summary
/// (count, smallest and greatest ID, per-consumer counts) or the pending
/// entries with owner, idle time and delivery count.
pub fn xpending(srv: &mut Server, c: &mut Client) -> CmdResult {
    let argc = c.argc();
    let justinfo = argc == 3;
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(ReplyError::Syntax);
    }
    let mut start = StreamId::MIN;
    let mut end = StreamId::MAX;
    let mut count: i64 = 0;
    let mut minidle: i64 = 0;
    let mut consumer: Option<Bytes> = None;
    if argc >= 6 {
        let mut si = 3;
        if args::is(c.arg(3), "idle") {
            minidle = args::int(c.arg(4))?;
            if argc < 8 {
                return Err(ReplyError::Syntax);
            }
            si += 2;
        }
        count = args::int(c.arg(si + 2))?.max(0);
        start = start_bound(c.arg(si))?;
        end = end_bound(c.arg(si + 1))?;
        if si + 3 < argc {
            consumer = Some(c.argv[si + 3].clone());
        }
    }
    let db = c.db;
    let key = c.argv[1].clone();
    let now = now_ms(srv);
    let s = read_stream(srv, db, &key)?;
    let Some(g) = s.and_then(|s| s.groups.get(c.arg(2))) else {
        return Err(nogroup_key_group(&key, c.arg(2)));
    };
    if justinfo {
        c.reply.array(4);
        c.reply.int(g.pel.len() as i64);
        match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(&first), Some(&last)) => {
                reply_id(c, first);
                reply_id(c, last);
                let busy: Vec<(&[u8], usize)> =
                    g.consumers.iter().filter(|(_, k)| !k.pel.is_empty()).map(|(n, k)| (&n[..], k.pel.len())).collect();
                c.reply.array(busy.len());
                for (name, n) in busy {
                    c.reply.array(2);
                    c.reply.bulk(name);
                    c.reply.bulk_int(n as i64);
                }
            }
            _ => {
                c.reply.null();
                c.reply.null();
                c.reply.null_array();
            }
        }
        return Ok(());
    }
    let ids: Vec<StreamId> = match &consumer {
        Some(name) => match g.consumers.get(&name[..]) {
            Some(k) => k.pel.range(start..=end.max(start)).copied().filter(|id| *id <= end).collect(),
            None => {
                c.reply.array(0);
                return Ok(());
            }
        },
        None => g.pel.range(start..=end.max(start)).map(|(id, _)| *id).filter(|id| *id <= end).collect(),
    };
    let pos = c.reply.deferred_len();
    let mut n = 0usize;
    for id in ids {
        if count == 0 {
            break;
        }
        let Some(nack) = g.pel.get(&id) else { continue };
        if minidle > 0 && now - nack.delivery_time_ms < minidle {
            continue;
        }
        n += 1;
        count -= 1;
        c.reply.array(4);
        reply_id(c, id);
        c.reply.bulk(&nack.consumer);
        c.reply.int((now - nack.delivery_time_ms).max(0));
        c.reply.int(nack.delivery_count as i64);
    }
    c.reply.set_deferred_array(pos, n);
    Ok(())
}

// --------------------------------------------------- XCLAIM, XAUTOCLAIM

/// A long-long argument with a custom error text.
fn int_or(arg: &[u8], msg: &str) -> Result<i64, ReplyError> {
    crate::util::num::string2ll(arg).ok_or_else(|| ReplyError::err(msg))
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME
/// ms] [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id]: takes pending entries
/// idle long enough over for `consumer`; entries deleted meanwhile leave
/// the PEL.
pub fn xclaim(srv: &mut Server, c: &mut Client) -> CmdResult {
    let db = c.db;
    let key = c.argv[1].clone();
    let has_group = read_stream(srv, db, &key)?.is_some_and(|s| s.groups.contains_key(c.arg(2)));
    if !has_group {
        return Err(nogroup_key_group(&key, c.arg(2)));
    }
    // COMPAT: XCLAIM's argument errors.
    let minidle = int_or(c.arg(4), "Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < c.argc() {
        match parse_id(c.arg(j), 0, true, false) {
            Some(IdArg::Id(id)) => ids.push(id),
            _ => break,
        }
        j += 1;
    }
    let now = now_ms(srv);
    let (mut force, mut justid) = (false, false);
    let mut retrycount: i64 = -1;
    let mut deliverytime: i64 = -1;
    let mut last_id = StreamId::MIN;
    while j < c.argc() {
        let more = c.argc() - 1 - j;
        let opt = c.arg(j);
        if args::is(opt, "force") {
            force = true;
        } else if args::is(opt, "justid") {
            justid = true;
        } else if args::is(opt, "idle") && more > 0 {
            j += 1;
            deliverytime = now - int_or(c.arg(j), "Invalid IDLE option argument for XCLAIM")?;
        } else if args::is(opt, "time") && more > 0 {
            j += 1;
            deliverytime = int_or(c.arg(j), "Invalid TIME option argument for XCLAIM")?;
        } else if args::is(opt, "retrycount") && more > 0 {
            j += 1;
            retrycount = int_or(c.arg(j), "Invalid RETRYCOUNT option argument for XCLAIM")?;
        } else if args::is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = strict_id(c.arg(j))?;
        } else {
            return Err(ReplyError::err(format!("Unrecognized XCLAIM option '{}'", String::from_utf8_lossy(opt))));
        }
        j += 1;
    }
    if deliverytime == -1 || deliverytime < 0 || deliverytime > now {
        deliverytime = now;
    }
    let cname = c.argv[3].clone();
    let Some(s) = write_stream(srv, db, &key)? else { return Ok(()) };
    let Stream { entries, groups } = s;
    let Some(g) = groups.get_mut(c.arg(2)) else { return Ok(()) };
    let mut dirty = 0u64;
    let mut lastid_moved = false;
    if last_id > g.last_id {
        g.last_id = last_id;
        lastid_moved = true;
    }
    let mut consumer_ready = false;
    let mut created = false;
    let pos = c.reply.deferred_len();
    let mut n = 0usize;
    // Replicated as one idempotent XCLAIM per changed NACK.
    let mut ops: Vec<Vec<Bytes>> = Vec::new();
    let gname = c.argv[2].clone();
    for id in ids {
        let pending = g.pel.get(&id).map(|nk| nk.delivery_time_ms);
        if !entries.contains(id) {
            if let Some(nack) = g.pel.get(&id) {
                ops.push(xclaim_op(&key, &gname, g, id, nack));
                g.ack(id);
                dirty += 1;
            }
            continue;
        }
        let forced = pending.is_none() && force;
        if pending.is_none() && !forced {
            continue;
        }
        if let (Some(t), false) = (pending, forced) {
            if minidle > 0 && now - t < minidle {
                continue;
            }
        }
        if !consumer_ready {
            if !g.touch_consumer(&cname, Some(now)) {
                g.create_consumer(&cname, now);
                created = true;
            }
            consumer_ready = true;
        }
        let Some(nack) = g.claim(id, &cname, now) else { continue };
        nack.delivery_time_ms = deliverytime;
        if retrycount >= 0 {
            nack.delivery_count = retrycount as u64;
        } else if !justid {
            nack.delivery_count += 1;
        }
        if justid {
            reply_id(c, id);
        } else if let Some(e) = entries.range(id, id, false).next() {
            reply_entry(c, &e);
        }
        if let Some(nack) = g.pel.get(&id) {
            ops.push(xclaim_op(&key, &gname, g, id, nack));
        }
        n += 1;
        dirty += 1;
    }
    c.reply.set_deferred_array(pos, n);
    if lastid_moved && ops.is_empty() {
        // No XCLAIM carries the new position: say it on its own.
        ops.push(setid_op(&key, &gname, g));
    }
    if lastid_moved && dirty == 0 {
        dirty += 1;
    }
    add_dirty(srv, dirty);
    srv.prevent_propagation();
    for op in ops {
        srv.also_propagate(db, op);
    }
    if created {
        add_dirty(srv, 1);
        srv.ks.notify(notify::STREAM, "xgroup-createconsumer", db, &key);
    }
    Ok(())
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID]:
/// claims up to `n` pending entries idle long enough, scanning the PEL from
/// `start`; replies `[next-cursor, claimed, deleted-ids]`.
pub fn xautoclaim(srv: &mut Server, c: &mut Client) -> CmdResult {
    let minidle = int_or(c.arg(4), "Invalid min-idle-time argument for XAUTOCLAIM")?.max(0);
    let start = start_bound(c.arg(5))?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < c.argc() {
        let more = c.argc() - 1 - j;
        if args::is(c.arg(j), "count") && more > 0 {
            // COMPAT: the range is 1..LONG_MAX/16 with one error text.
            let max = i64::MAX / 16;
            count = match crate::util::num::string2ll(c.arg(j + 1)) {
                Some(v) if (1..=max).contains(&v) => v,
                _ => return Err(ReplyError::err("COUNT must be > 0")),
            };
            j += 1;
        } else if args::is(c.arg(j), "justid") {
            justid = true;
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    let db = c.db;
    let key = c.argv[1].clone();
    let has_group = read_stream(srv, db, &key)?.is_some_and(|s| s.groups.contains_key(c.arg(2)));
    if !has_group {
        return Err(nogroup_key_group(&key, c.arg(2)));
    }
    let now = now_ms(srv);
    let cname = c.argv[3].clone();
    let Some(s) = write_stream(srv, db, &key)? else { return Ok(()) };
    let Stream { entries, groups } = s;
    let Some(g) = groups.get_mut(c.arg(2)) else { return Ok(()) };
    let mut attempts = count.saturating_mul(10);
    let mut cursor = Some(start);
    let mut deleted = Vec::new();
    let mut claimed = Vec::new();
    let mut dirty = 0u64;
    let mut created = false;
    let mut consumer_ready = false;
    // Replicated as one idempotent XCLAIM per changed NACK.
    let mut ops: Vec<Vec<Bytes>> = Vec::new();
    let gname = c.argv[2].clone();
    while attempts > 0 && count > 0 {
        attempts -= 1;
        let Some(from) = cursor else { break };
        let Some((&id, nack)) = g.pel.range(from..).next() else {
            cursor = None;
            break;
        };
        let idle_since = nack.delivery_time_ms;
        if !entries.contains(id) {
            ops.push(xclaim_op(&key, &gname, g, id, nack));
            g.ack(id);
            deleted.push(id);
            dirty += 1;
            count -= 1;
            cursor = Some(id);
            continue;
        }
        cursor = id.incr();
        if minidle > 0 && now - idle_since < minidle {
            continue;
        }
        if !consumer_ready {
            if !g.touch_consumer(&cname, Some(now)) {
                g.create_consumer(&cname, now);
                created = true;
            }
            consumer_ready = true;
        }
        if let Some(nk) = g.claim(id, &cname, now) {
            nk.delivery_time_ms = now;
            if !justid {
                nk.delivery_count += 1;
            }
        }
        if let Some(nk) = g.pel.get(&id) {
            ops.push(xclaim_op(&key, &gname, g, id, nk));
        }
        claimed.push(id);
        count -= 1;
        dirty += 1;
    }
    // The next call resumes at the first pending ID after the last visited.
    let next = cursor.and_then(|from| g.pel.range(from..).next().map(|(id, _)| *id)).unwrap_or(StreamId::MIN);
    c.reply.array(3);
    reply_id(c, next);
    c.reply.array(claimed.len());
    for id in claimed {
        if justid {
            reply_id(c, id);
        } else if let Some(e) = entries.range(id, id, false).next() {
            reply_entry(c, &e);
        } else {
            c.reply.null_array();
        }
    }
    c.reply.array(deleted.len());
    for id in deleted {
        reply_id(c, id);
    }
    add_dirty(srv, dirty);
    srv.prevent_propagation();
    for op in ops {
        srv.also_propagate(db, op);
    }
    if created {
        add_dirty(srv, 1);
        srv.ks.notify(notify::STREAM, "xgroup-createconsumer", db, &key);
    }
    Ok(())
}

// ------------------------------------------------------------- XINFO

fn reply_entries_read(c: &mut Client, g: &Group) {
    if g.entries_read != ENTRIES_READ_INVALID {
        c.reply.int(g.entries_read);
    } else {
        c.reply.null();
    }
}

fn reply_lag(c: &mut Client, s: &Stream, g: &Group) {
    match s.entries.group_lag(g) {
        Some(lag) => c.reply.int(lag),
        None => c.reply.null(),
    }
}

/// XINFO STREAM key [FULL [COUNT n]]: the stream's counters, its first and
/// last entries, or (FULL) its entries, groups, PELs and consumers.
pub fn xinfo_stream(srv: &mut Server, c: &mut Client) -> CmdResult {
    let optc = c.argc() - 3;
    let mut full = false;
    let mut count: i64 = 10;
    if optc > 0 {
        if (optc != 1 && optc != 3) || !args::is(c.arg(3), "full") {
            return Err(subcommand_syntax(c));
        }
        full = true;
        if optc == 3 {
            if !args::is(c.arg(4), "count") {
                return Err(subcommand_syntax(c));
            }
            count = args::int(c.arg(5))?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let key = c.argv[2].clone();
    let Some(s) = read_stream(srv, c.db, &key)? else { return Err(ReplyError::NoSuchKey) };
    let e = &s.entries;
    c.reply.map(if full { 9 } else { 10 });
    c.reply.bulk(b"length");
    c.reply.int(e.length as i64);
    c.reply.bulk(b"radix-tree-keys");
    c.reply.int(e.node_count() as i64);
    // A radix tree of 128-bit keys has about one inner node per key plus the
    // head; the real count depends on Redis's rax layout.
    c.reply.bulk(b"radix-tree-nodes");
    c.reply.int(e.node_count() as i64 + 1);
    c.reply.bulk(b"last-generated-id");
    reply_id(c, e.last_id);
    c.reply.bulk(b"max-deleted-entry-id");
    reply_id(c, e.max_deleted_entry_id);
    c.reply.bulk(b"entries-added");
    c.reply.int(e.entries_added as i64);
    c.reply.bulk(b"recorded-first-entry-id");
    reply_id(c, e.first_id);
    if !full {
        c.reply.bulk(b"groups");
        c.reply.int(s.groups.len() as i64);
        c.reply.bulk(b"first-entry");
        match e.range(StreamId::MIN, StreamId::MAX, false).next() {
            Some(x) => reply_entry(c, &x),
            None => c.reply.null(),
        }
        c.reply.bulk(b"last-entry");
        match e.range(StreamId::MIN, StreamId::MAX, true).next() {
            Some(x) => reply_entry(c, &x),
            None => c.reply.null(),
        }
        return Ok(());
    }
    let limit = if count == 0 { usize::MAX } else { count as usize };
    c.reply.bulk(b"entries");
    let pos = c.reply.deferred_len();
    let mut n = 0;
    for x in e.range(StreamId::MIN, StreamId::MAX, false).take(limit) {
        reply_entry(c, &x);
        n += 1;
    }
    c.reply.set_deferred_array(pos, n);
    c.reply.bulk(b"groups");
    c.reply.array(s.groups.len());
    for (name, g) in &s.groups {
        c.reply.map(7);
        c.reply.bulk(b"name");
        c.reply.bulk(name);
        c.reply.bulk(b"last-delivered-id");
        reply_id(c, g.last_id);
        c.reply.bulk(b"entries-read");
        reply_entries_read(c, g);
        c.reply.bulk(b"lag");
        reply_lag(c, s, g);
        c.reply.bulk(b"pel-count");
        c.reply.int(g.pel.len() as i64);
        c.reply.bulk(b"pending");
        c.reply.array(g.pel.len().min(limit));
        for (id, nack) in g.pel.iter().take(limit) {
            c.reply.array(4);
            reply_id(c, *id);
            c.reply.bulk(&nack.consumer);
            c.reply.int(nack.delivery_time_ms);
            c.reply.int(nack.delivery_count as i64);
        }
        c.reply.bulk(b"consumers");
        c.reply.array(g.consumers.len());
        for (cname, k) in &g.consumers {
            c.reply.map(4);
            c.reply.bulk(b"name");
            c.reply.bulk(cname);
            c.reply.bulk(b"seen-time");
            c.reply.int(k.seen_time_ms);
            c.reply.bulk(b"pel-count");
            c.reply.int(k.pel.len() as i64);
            c.reply.bulk(b"pending");
            c.reply.array(k.pel.len().min(limit));
            for id in k.pel.iter().take(limit) {
                let nack = g.pel.get(id);
                c.reply.array(3);
                reply_id(c, *id);
                c.reply.int(nack.map_or(0, |n| n.delivery_time_ms));
                c.reply.int(nack.map_or(0, |n| n.delivery_count as i64));
            }
        }
    }
    Ok(())
}

/// XINFO GROUPS key: each group's name, consumers, pending count, last
/// delivered ID, entries read and lag.
pub fn xinfo_groups(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[2].clone();
    let Some(s) = read_stream(srv, c.db, &key)? else { return Err(ReplyError::NoSuchKey) };
    c.reply.array(s.groups.len());
    for (name, g) in &s.groups {
        c.reply.map(6);
        c.reply.bulk(b"name");
        c.reply.bulk(name);
        c.reply.bulk(b"consumers");
        c.reply.int(g.consumers.len() as i64);
        c.reply.bulk(b"pending");
        c.reply.int(g.pel.len() as i64);
        c.reply.bulk(b"last-delivered-id");
        reply_id(c, g.last_id);
        c.reply.bulk(b"entries-read");
        reply_entries_read(c, g);
        c.reply.bulk(b"lag");
        reply_lag(c, s, g);
    }
    Ok(())
}

/// XINFO CONSUMERS key group: each consumer's name, pending count and idle
/// time.
pub fn xinfo_consumers(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[2].clone();
    let now = now_ms(srv);
    let Some(s) = read_stream(srv, c.db, &key)? else { return Err(ReplyError::NoSuchKey) };
    let Some(g) = s.groups.get(c.arg(3)) else {
        return Err(ReplyError::other(format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            String::from_utf8_lossy(c.arg(3)),
            String::from_utf8_lossy(&key)
        )));
    };
    c.reply.array(g.consumers.len());
    for (name, k) in &g.consumers {
        c.reply.map(3);
        c.reply.bulk(b"name");
        c.reply.bulk(name);
        c.reply.bulk(b"pending");
        c.reply.int(k.pel.len() as i64);
        c.reply.bulk(b"idle");
        c.reply.int((now - k.seen_time_ms).max(0));
    }
    Ok(())
}

/// XINFO HELP.
pub fn xinfo_help(_srv: &mut Server, c: &mut Client) -> CmdResult {
    super::help_reply(
        c,
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
    Ok(())
}
