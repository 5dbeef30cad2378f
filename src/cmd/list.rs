//! List commands: pushes and pops at both ends (with counts), LRANGE,
//! LINDEX, LSET, LINSERT, LREM, LTRIM, LPOS, LMOVE/RPOPLPUSH, LMPOP, and the
//! blocking forms BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP.
//!
//! Mirrors Redis 7.0's t_list: argument validation order (numbers are
//! parsed before or after the key lookup exactly where Redis does it, which
//! decides which error a client sees), RESP2/RESP3 null forms, the keyspace
//! events each command fires, and deleting a list that becomes empty.
//!
//! Blocking: the server has no blocking machinery yet. The blocking commands
//! validate their arguments like Redis, serve at once when a key has data
//! (through [`serve_pop`] / [`serve_move`], which the blocking layer can call
//! when a key becomes ready), answer at once inside EXEC, and otherwise block
//! through `Server::block_client`. Propagation rewrites (BLPOP served
//! as LPOP, LMPOP as LPOP with a count) are left to the propagation layer.

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use super::args;
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::db::notify;
use crate::server::Server;
use crate::types::list::{List, DEFAULT_PACKED_THRESHOLD};
use crate::types::listpack::LpValue;
use crate::types::value::Value;

/// Elements this large or larger get a plain quicklist node. Process-wide,
/// as in Redis; only DEBUG QUICKLIST-PACKED-THRESHOLD changes it.
static PACKED_THRESHOLD: AtomicUsize = AtomicUsize::new(DEFAULT_PACKED_THRESHOLD);

/// Sets the packed threshold (DEBUG QUICKLIST-PACKED-THRESHOLD); 0 restores
/// the default. False (unchanged) for values near or above 4 GiB.
pub fn set_packed_threshold(sz: u64) -> bool {
    if sz > (1u64 << 32) - (1 << 20) {
        return false;
    }
    let v = if sz == 0 { DEFAULT_PACKED_THRESHOLD } else { sz as usize };
    PACKED_THRESHOLD.store(v, Ordering::Relaxed);
    true
}

/// The element size from which quicklist nodes are plain (see `set_packed_threshold`).
pub(crate) fn thresh() -> usize {
    PACKED_THRESHOLD.load(Ordering::Relaxed)
}

/// The packed threshold in force (RDB loading builds lists with it).
pub fn packed_threshold() -> usize {
    thresh()
}

/// An empty list with the configured node size and compress depth.
pub(crate) fn new_list(srv: &Server) -> List {
    List::new(srv.config.list_max_listpack_size, srv.config.list_compress_depth)
}

/// The list at `key` for reading (counts a hit or miss); WRONGTYPE for other types.
fn list_read<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a List>, ReplyError> {
    match srv.ks.get(db, key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(ReplyError::WrongType),
    }
}

/// The list at `key` for writing; WRONGTYPE for other types.
fn list_write<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a mut List>, ReplyError> {
    match srv.ks.get_mut(db, key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(ReplyError::WrongType),
    }
}

/// The list at `key`, created empty if missing (the caller adds elements
/// before returning, so an empty list never stays in the keyspace).
fn list_create<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<&'a mut List, ReplyError> {
    if list_write(srv, db, key)?.is_none() {
        let l = new_list(srv);
        srv.ks.set(db, key, Value::List(Box::new(l)), false);
    }
    match srv.ks.get_mut(db, key) {
        Some(Value::List(l)) => Ok(l),
        _ => Err(ReplyError::WrongType),
    }
}

/// After a write: deletes `key` if its list is now empty (firing `del`),
/// records the modified key and adds `dirty` changes.
fn finish_write(srv: &mut Server, db: usize, key: &[u8], dirty: u64) {
    let empty = matches!(srv.ks.dbs[db].dict.get(key).map(|o| &o.value), Some(Value::List(l)) if l.is_empty());
    if empty {
        srv.ks.delete(db, key);
        srv.ks.notify(notify::GENERIC, "del", db, key);
    }
    srv.ks.touch_write(db, key);
    // touch_write counted one change; make it exactly `dirty`.
    srv.ks.dirty = srv.ks.dirty - 1 + dirty;
}

fn reply_value(c: &mut Client, v: LpValue<'_>) {
    match v {
        LpValue::Int(n) => c.reply.bulk_int(n),
        LpValue::Str(s) => c.reply.bulk(s),
    }
}

/// Parses LEFT/RIGHT: true for LEFT (the head). `ERR syntax error` otherwise.
fn parse_side(arg: &[u8]) -> Result<bool, ReplyError> {
    if args::is(arg, "left") {
        Ok(true)
    } else if args::is(arg, "right") {
        Ok(false)
    } else {
        Err(ReplyError::Syntax)
    }
}

/// Parses a long with Redis's `getRangeLongFromObjectOrReply` rules: a
/// non-number or a value outside `min..=max` both answer `msg` when given.
fn range_long(arg: &[u8], min: i64, max: i64, msg: Option<&str>) -> Result<i64, ReplyError> {
    let v = match crate::util::num::string2ll(arg) {
        Some(v) => v,
        None => return Err(msg.map(ReplyError::err).unwrap_or(ReplyError::NotInteger)),
    };
    if v < min || v > max {
        return Err(match msg {
            Some(m) => ReplyError::err(m),
            None => ReplyError::err(format!("value is out of range, value must between {min} and {max}")),
        });
    }
    Ok(v)
}

/// Parses a count that must be >= 0 (`getPositiveLongFromObjectOrReply`).
fn positive_long(arg: &[u8], msg: Option<&str>) -> Result<i64, ReplyError> {
    // COMPAT: Redis's default text for a negative or non-numeric count.
    range_long(arg, 0, i64::MAX, Some(msg.unwrap_or("value is out of range, must be positive")))
}

// ------------------------------------------------------------------ pushes

fn push_generic(srv: &mut Server, c: &mut Client, front: bool, only_existing: bool) -> CmdResult {
    let key = c.argv[1].clone();
    let db = c.db;
    let th = thresh();
    let exists = list_write(srv, db, &key)?.is_some();
    if !exists && only_existing {
        c.reply.int(0);
        return Ok(());
    }
    let l = list_create(srv, db, &key)?;
    for e in &c.argv[2..] {
        if front {
            l.push_front(e, th);
        } else {
            l.push_back(e, th);
        }
    }
    let n = l.len();
    c.reply.int(n as i64);
    srv.ks.notify(notify::LIST, if front { "lpush" } else { "rpush" }, db, &key);
    finish_write(srv, db, &key, (c.argc() - 2) as u64);
    Ok(())
}

/// LPUSH key element [element ...]: the new length.
pub fn lpush(srv: &mut Server, c: &mut Client) -> CmdResult {
    push_generic(srv, c, true, false)
}

/// RPUSH key element [element ...]: the new length.
pub fn rpush(srv: &mut Server, c: &mut Client) -> CmdResult {
    push_generic(srv, c, false, false)
}

/// LPUSHX key element [element ...]: 0 when the key is missing.
pub fn lpushx(srv: &mut Server, c: &mut Client) -> CmdResult {
    push_generic(srv, c, true, true)
}

/// RPUSHX key element [element ...]: 0 when the key is missing.
pub fn rpushx(srv: &mut Server, c: &mut Client) -> CmdResult {
    push_generic(srv, c, false, true)
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 without the
/// pivot, 0 without the key.
pub fn linsert(srv: &mut Server, c: &mut Client) -> CmdResult {
    let after = if args::is(c.arg(2), "after") {
        true
    } else if args::is(c.arg(2), "before") {
        false
    } else {
        return Err(ReplyError::Syntax);
    };
    let key = c.argv[1].clone();
    let db = c.db;
    let th = thresh();
    let Some(l) = list_write(srv, db, &key)? else {
        c.reply.int(0);
        return Ok(());
    };
    let pivot = c.arg(3);
    let mut cur = l.first();
    while let Some(at) = cur {
        if l.value(at).eq_bytes(pivot) {
            break;
        }
        cur = l.next(at);
    }
    let Some(at) = cur else {
        c.reply.int(-1);
        return Ok(());
    };
    l.insert(at, c.arg(4), after, th);
    let n = l.len();
    c.reply.int(n as i64);
    srv.ks.notify(notify::LIST, "linsert", db, &key);
    finish_write(srv, db, &key, 1);
    Ok(())
}

// ------------------------------------------------------------------ reads

/// LLEN key.
pub fn llen(srv: &mut Server, c: &mut Client) -> CmdResult {
    let n = list_read(srv, c.db, &c.argv[1].clone())?.map_or(0, |l| l.len());
    c.reply.int(n as i64);
    Ok(())
}

/// LINDEX key index: the element or null.
pub fn lindex(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let Some(l) = list_read(srv, c.db, &key)? else {
        c.reply.null();
        return Ok(());
    };
    let idx = args::int(c.arg(2))?;
    match l.get(idx) {
        Some(v) => reply_value(c, v),
        None => c.reply.null(),
    }
    Ok(())
}

/// Replies with elements `start..=end` (negative indexes from the tail,
/// clamped): Redis's `addListRangeReply`.
fn reply_range(c: &mut Client, l: &List, start: i64, end: i64) {
    let len = l.len() as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        c.reply.array(0);
        return;
    }
    if end >= len {
        end = len - 1;
    }
    let n = (end - start + 1) as usize;
    c.reply.array(n);
    l.for_each_from(start, n, |v| reply_value(c, v));
}

/// LRANGE key start stop.
pub fn lrange(srv: &mut Server, c: &mut Client) -> CmdResult {
    let start = args::int(c.arg(2))?;
    let end = args::int(c.arg(3))?;
    let key = c.argv[1].clone();
    match list_read(srv, c.db, &key)? {
        Some(l) => reply_range(c, l, start, end),
        None => c.reply.array(0),
    }
    Ok(())
}

/// LPOS key element [RANK rank] [COUNT num] [MAXLEN len].
pub fn lpos(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: i64 = -1;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < c.argc() {
        let more = j + 1 < c.argc();
        if args::is(c.arg(j), "rank") && more {
            j += 1;
            rank = args::int(c.arg(j))?;
            if rank == 0 {
                // COMPAT: Redis's text.
                return Err(ReplyError::err(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if args::is(c.arg(j), "count") && more {
            j += 1;
            count = positive_long(c.arg(j), Some("COUNT can't be negative"))?;
        } else if args::is(c.arg(j), "maxlen") && more {
            j += 1;
            maxlen = positive_long(c.arg(j), Some("MAXLEN can't be negative"))?;
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    let forward = rank > 0;
    let rank = rank.unsigned_abs();
    let key = c.argv[1].clone();
    let Some(l) = list_read(srv, c.db, &key)? else {
        if count != -1 {
            c.reply.array(0);
        } else {
            c.reply.null();
        }
        return Ok(());
    };
    let ele = c.argv[2].clone();
    let len = l.len() as i64;
    let mut found: Vec<i64> = Vec::new();
    let mut matches: u64 = 0;
    let it = if forward { l.iter_from(0, true) } else { l.iter_from(-1, false) };
    for (i, v) in it.enumerate() {
        let i = i as i64;
        if maxlen != 0 && i >= maxlen {
            break;
        }
        if !v.eq_bytes(&ele) {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(if forward { i } else { len - i - 1 });
        if count == -1 || (count != 0 && found.len() as i64 >= count) {
            break;
        }
    }
    if count != -1 {
        c.reply.array(found.len());
        for i in found {
            c.reply.int(i);
        }
    } else {
        match found.first() {
            Some(&i) => c.reply.int(i),
            None => c.reply.null(),
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ writes

/// LSET key index element.
pub fn lset(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let db = c.db;
    let th = thresh();
    let Some(l) = list_write(srv, db, &key)? else { return Err(ReplyError::NoSuchKey) };
    let idx = args::int(c.arg(2))?;
    if !l.set(idx, c.arg(3), th) {
        // COMPAT: Redis's shared out-of-range error.
        return Err(ReplyError::err("index out of range"));
    }
    c.reply.ok();
    srv.ks.notify(notify::LIST, "lset", db, &key);
    finish_write(srv, db, &key, 1);
    Ok(())
}

/// LTRIM key start stop.
pub fn ltrim(srv: &mut Server, c: &mut Client) -> CmdResult {
    let start = args::int(c.arg(2))?;
    let end = args::int(c.arg(3))?;
    let key = c.argv[1].clone();
    let db = c.db;
    let Some(l) = list_write(srv, db, &key)? else {
        c.reply.ok();
        return Ok(());
    };
    let len = l.len() as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    let (ltrim, rtrim) = if start > end || start >= len {
        (len, 0)
    } else {
        if end >= len {
            end = len - 1;
        }
        (start, len - end - 1)
    };
    l.delete_range(0, ltrim as usize);
    if rtrim > 0 {
        l.delete_range(-rtrim, rtrim as usize);
    }
    srv.ks.notify(notify::LIST, "ltrim", db, &key);
    finish_write(srv, db, &key, (ltrim + rtrim) as u64);
    c.reply.ok();
    Ok(())
}

/// LREM key count element: how many were removed.
pub fn lrem(srv: &mut Server, c: &mut Client) -> CmdResult {
    let count = args::int(c.arg(2))?;
    let key = c.argv[1].clone();
    let db = c.db;
    let Some(l) = list_write(srv, db, &key)? else {
        c.reply.int(0);
        return Ok(());
    };
    let removed = l.remove_matching(c.arg(3), count.unsigned_abs() as usize, count < 0);
    if removed > 0 {
        srv.ks.notify(notify::LIST, "lrem", db, &key);
        finish_write(srv, db, &key, removed as u64);
    }
    c.reply.int(removed as i64);
    Ok(())
}

// ------------------------------------------------------------------ pops

/// Pops up to `count` elements from one end of the list at `key` (which
/// must exist and be a list) and replies with them as an array in pop order.
/// Fires the pop event (and `del` if emptied). Returns how many were popped.
fn pop_range_reply(srv: &mut Server, c: &mut Client, db: usize, key: &[u8], front: bool, count: usize) -> usize {
    let Ok(Some(l)) = list_write(srv, db, key) else { return 0 };
    let n = count.min(l.len());
    c.reply.array(n);
    let it = if front { l.iter_from(0, true) } else { l.iter_from(-1, false) };
    for v in it.take(n) {
        reply_value(c, v);
    }
    if front {
        l.delete_range(0, n);
    } else {
        l.delete_range(-(n as i64), n);
    }
    srv.ks.notify(notify::LIST, if front { "lpop" } else { "rpop" }, db, key);
    finish_write(srv, db, key, n as u64);
    n
}

fn pop_generic(srv: &mut Server, c: &mut Client, front: bool) -> CmdResult {
    if c.argc() > 3 {
        return Err(ReplyError::WrongArity(String::from_utf8_lossy(c.arg(0)).to_lowercase()));
    }
    let count = if c.argc() == 3 { Some(positive_long(c.arg(2), None)? as usize) } else { None };
    let key = c.argv[1].clone();
    let db = c.db;
    let Some(l) = list_write(srv, db, &key)? else {
        if count.is_some() {
            c.reply.null_array();
        } else {
            c.reply.null();
        }
        return Ok(());
    };
    match count {
        Some(0) => c.reply.array(0),
        Some(n) => {
            pop_range_reply(srv, c, db, &key, front, n);
        }
        None => {
            let v = if front { l.pop_front() } else { l.pop_back() };
            match v {
                Some(v) => c.reply.bulk(&v),
                None => c.reply.null(),
            }
            srv.ks.notify(notify::LIST, if front { "lpop" } else { "rpop" }, db, &key);
            finish_write(srv, db, &key, 1);
        }
    }
    Ok(())
}

/// LPOP key [count].
pub fn lpop(srv: &mut Server, c: &mut Client) -> CmdResult {
    pop_generic(srv, c, true)
}

/// RPOP key [count].
pub fn rpop(srv: &mut Server, c: &mut Client) -> CmdResult {
    pop_generic(srv, c, false)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count] and its blocking
/// twin (arguments shifted by one for the timeout). Returns (keys, left,
/// count).
fn parse_mpop(c: &Client, numkeys_idx: usize) -> Result<(Vec<Bytes>, bool, usize), ReplyError> {
    // COMPAT: Redis's texts for a bad numkeys and a bad count.
    let numkeys = range_long(c.arg(numkeys_idx), 1, i64::MAX, Some("numkeys should be greater than 0"))? as usize;
    let where_idx = numkeys_idx.checked_add(numkeys).and_then(|x| x.checked_add(1)).unwrap_or(usize::MAX);
    if where_idx >= c.argc() {
        return Err(ReplyError::Syntax);
    }
    let front = parse_side(c.arg(where_idx))?;
    let mut count: Option<usize> = None;
    let mut j = where_idx + 1;
    while j < c.argc() {
        if count.is_none() && args::is(c.arg(j), "count") && j + 1 < c.argc() {
            j += 1;
            count = Some(range_long(c.arg(j), 1, i64::MAX, Some("count should be greater than 0"))? as usize);
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    let keys = c.argv[numkeys_idx + 1..where_idx].to_vec();
    Ok((keys, front, count.unwrap_or(1)))
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: `[key, [elements]]`
/// from the first non-empty list, or a null array.
pub fn lmpop(srv: &mut Server, c: &mut Client) -> CmdResult {
    let (keys, front, count) = parse_mpop(c, 1)?;
    if !serve_pop(srv, c, &keys, front, Some(count))? {
        c.reply.null_array();
    }
    Ok(())
}

// ------------------------------------------------------------------ moves

/// Pops from `src` and pushes onto `dst` (the same list allowed). Replies
/// with the element, or null when `src` is missing. Fires the push event on
/// `dst`, then the pop event on `src` (and `del` if emptied), as Redis does.
fn move_generic(
    srv: &mut Server,
    c: &mut Client,
    src: &[u8],
    dst: &[u8],
    from_front: bool,
    to_front: bool,
) -> CmdResult {
    let db = c.db;
    let th = thresh();
    if list_write(srv, db, src)?.is_none() {
        c.reply.null();
        return Ok(());
    }
    // Type-check the destination before touching the source.
    list_write(srv, db, dst)?;
    let Some(l) = list_write(srv, db, src)? else { return Ok(()) };
    let Some(v) = (if from_front { l.pop_front() } else { l.pop_back() }) else {
        c.reply.null();
        return Ok(());
    };
    let d = list_create(srv, db, dst)?;
    if to_front {
        d.push_front(&v, th);
    } else {
        d.push_back(&v, th);
    }
    srv.ks.touch_write(db, dst);
    srv.ks.dirty -= 1;
    srv.ks.notify(notify::LIST, if to_front { "lpush" } else { "rpush" }, db, dst);
    c.reply.bulk(&v);
    srv.ks.notify(notify::LIST, if from_front { "lpop" } else { "rpop" }, db, src);
    finish_write(srv, db, src, 1);
    Ok(())
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT.
pub fn lmove(srv: &mut Server, c: &mut Client) -> CmdResult {
    let from_front = parse_side(c.arg(3))?;
    let to_front = parse_side(c.arg(4))?;
    let (src, dst) = (c.argv[1].clone(), c.argv[2].clone());
    move_generic(srv, c, &src, &dst, from_front, to_front)
}

/// RPOPLPUSH source destination.
pub fn rpoplpush(srv: &mut Server, c: &mut Client) -> CmdResult {
    let (src, dst) = (c.argv[1].clone(), c.argv[2].clone());
    move_generic(srv, c, &src, &dst, false, true)
}

// ------------------------------------------------------------------ blocking

/// Serves a (blocking or not) multi-key pop now if any of `keys` holds a
/// non-empty list: replies and returns true. `count` None is the
/// BLPOP/BRPOP form (`[key, element]`), Some(n) the LMPOP form
/// (`[key, [elements]]`). Returns false, writing nothing, when every key is
/// missing; WRONGTYPE stops at the first non-list key met before a list
/// with data, as in Redis. The blocking layer calls this when a key is ready.
pub fn serve_pop(
    srv: &mut Server,
    c: &mut Client,
    keys: &[Bytes],
    front: bool,
    count: Option<usize>,
) -> Result<bool, ReplyError> {
    let db = c.db;
    for key in keys {
        let Some(l) = list_write(srv, db, key)? else { continue };
        if l.is_empty() {
            continue;
        }
        let verb = Bytes::from_static(if front { b"LPOP" } else { b"RPOP" });
        match count {
            Some(n) => {
                c.reply.array(2);
                c.reply.bulk(key);
                let popped = pop_range_reply(srv, c, db, key, front, n);
                // Replicated as the plain pop it amounted to.
                srv.propagate_as(vec![verb, key.clone(), Bytes::from(popped.to_string())]);
            }
            None => {
                let Some(v) = (if front { l.pop_front() } else { l.pop_back() }) else { continue };
                c.reply.array(2);
                c.reply.bulk(key);
                c.reply.bulk(&v);
                srv.ks.notify(notify::LIST, if front { "lpop" } else { "rpop" }, db, key);
                finish_write(srv, db, key, 1);
                srv.propagate_as(vec![verb, key.clone()]);
            }
        }
        return Ok(true);
    }
    Ok(false)
}

/// Serves a BLMOVE/BRPOPLPUSH now if `src` holds a list: replies with the
/// moved element and returns true; false (nothing written) if `src` is
/// missing. The blocking layer calls this when `src` is ready.
pub fn serve_move(
    srv: &mut Server,
    c: &mut Client,
    src: &[u8],
    dst: &[u8],
    from_front: bool,
    to_front: bool,
) -> Result<bool, ReplyError> {
    if list_write(srv, c.db, src)?.is_none() {
        return Ok(false);
    }
    move_generic(srv, c, src, dst, from_front, to_front)?;
    Ok(true)
}

/// What a blocking command does when nothing can be served: inside EXEC it
/// answers at once as Redis does for a client that may not block (a null
/// array, or a null for the move commands); otherwise the client blocks on
/// `keys` until they are written or the timeout passes.
fn block_or_null(srv: &mut Server, c: &mut Client, keys: &[Bytes], timeout_ms: i64, null_array: bool) -> CmdResult {
    if c.in_exec {
        if null_array {
            c.reply.null_array();
        } else {
            c.reply.null();
        }
        return Ok(());
    }
    let deadline = srv.block_deadline(timeout_ms);
    srv.block_client(c, keys, "list", deadline);
    Ok(())
}

fn bpop_generic(srv: &mut Server, c: &mut Client, front: bool) -> CmdResult {
    let timeout = args::timeout_ms(c.arg(c.argc() - 1))?;
    let keys = c.argv[1..c.argc() - 1].to_vec();
    if serve_pop(srv, c, &keys, front, None)? {
        return Ok(());
    }
    block_or_null(srv, c, &keys, timeout, true)
}

/// BLPOP key [key ...] timeout.
pub fn blpop(srv: &mut Server, c: &mut Client) -> CmdResult {
    bpop_generic(srv, c, true)
}

/// BRPOP key [key ...] timeout.
pub fn brpop(srv: &mut Server, c: &mut Client) -> CmdResult {
    bpop_generic(srv, c, false)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count].
pub fn blmpop(srv: &mut Server, c: &mut Client) -> CmdResult {
    let (keys, front, count) = parse_mpop(c, 2)?;
    let timeout = args::timeout_ms(c.arg(1))?;
    if serve_pop(srv, c, &keys, front, Some(count))? {
        return Ok(());
    }
    block_or_null(srv, c, &keys, timeout, true)
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout.
pub fn blmove(srv: &mut Server, c: &mut Client) -> CmdResult {
    let from_front = parse_side(c.arg(3))?;
    let to_front = parse_side(c.arg(4))?;
    let timeout = args::timeout_ms(c.arg(5))?;
    let (src, dst) = (c.argv[1].clone(), c.argv[2].clone());
    if serve_move(srv, c, &src, &dst, from_front, to_front)? {
        let mut argv = c.argv[..5].to_vec();
        argv[0] = Bytes::from_static(b"LMOVE");
        srv.propagate_as(argv);
        return Ok(());
    }
    block_or_null(srv, c, std::slice::from_ref(&src), timeout, false)
}

/// BRPOPLPUSH source destination timeout.
pub fn brpoplpush(srv: &mut Server, c: &mut Client) -> CmdResult {
    let timeout = args::timeout_ms(c.arg(3))?;
    let (src, dst) = (c.argv[1].clone(), c.argv[2].clone());
    if serve_move(srv, c, &src, &dst, false, true)? {
        srv.propagate_as(vec![Bytes::from_static(b"RPOPLPUSH"), src, dst]);
        return Ok(());
    }
    block_or_null(srv, c, std::slice::from_ref(&src), timeout, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_follow_redis_rules() {
        assert_eq!(args::timeout_ms(b"0"), Ok(0));
        assert_eq!(args::timeout_ms(b"0.001"), Ok(1));
        assert_eq!(args::timeout_ms(b"1.5"), Ok(1500));
        assert_eq!(args::timeout_ms(b"0.0001"), Ok(1));
        assert_eq!(args::timeout_ms(b"-1").unwrap_err().to_string(), "ERR timeout is negative");
        assert_eq!(args::timeout_ms(b"abc").unwrap_err().to_string(), "ERR timeout is not a float or out of range");
        assert!(args::timeout_ms(b"inf").is_err());
    }

    #[test]
    fn count_parsing_texts() {
        assert_eq!(positive_long(b"-1", None).unwrap_err().to_string(), "ERR value is out of range, must be positive");
        assert_eq!(
            positive_long(b"x", Some("COUNT can't be negative")).unwrap_err().to_string(),
            "ERR COUNT can't be negative"
        );
        assert_eq!(
            range_long(b"0", 1, i64::MAX, None).unwrap_err().to_string(),
            "ERR value is out of range, value must between 1 and 9223372036854775807"
        );
        assert_eq!(range_long(b"z", 1, 5, None), Err(ReplyError::NotInteger));
    }
}
