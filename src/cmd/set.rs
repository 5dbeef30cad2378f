//! Set commands: SADD, SREM, SCARD, SISMEMBER, SMISMEMBER, SMEMBERS,
//! SRANDMEMBER, SPOP, SMOVE, the algebra (SINTER, SINTERCARD, SUNION, SDIFF
//! and their STORE forms) and SSCAN.
//!
//! Mirrors Redis 7.0's t_set: replies (sets are RESP3 sets, SRANDMEMBER's
//! counted form an array), error texts, which keyspace events fire and when
//! an emptied set is deleted. Encodings and their thresholds are
//! `types::set`'s business; this file only passes `set-max-intset-entries`.
//! SSCAN's option parsing and reply are shared with ZSCAN (`scan_opts`).

use bytes::Bytes;

use super::args;
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::db::notify;
use crate::server::Server;
use crate::types::intset::IntSet;
use crate::types::set::{Member, Set};
use crate::types::value::Value;
use crate::util::rand::Rng;

/// `set-max-intset-entries` as a count.
fn max_intset(srv: &Server) -> usize {
    srv.config.set_max_intset_entries.max(0) as usize
}

/// A generator seeded from the keyspace's, so a handler can draw random
/// numbers while it borrows a value out of the keyspace.
fn rng_for(srv: &mut Server) -> Rng {
    Rng::with_seed(srv.ks.rand())
}

/// The set at `key` for reading (hit/miss counted): None when missing,
/// WRONGTYPE for another type.
fn read_set<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a Set>, ReplyError> {
    match srv.ks.get(db, key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(ReplyError::WrongType),
    }
}

/// The set at `key` for writing: None when missing, WRONGTYPE for another type.
fn write_set<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a mut Set>, ReplyError> {
    match srv.ks.get_mut(db, key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(ReplyError::WrongType),
    }
}

/// Replies with one member as a bulk string.
fn reply_member(c: &mut Client, m: Member<'_>) {
    match m {
        Member::Int(n) => c.reply.bulk_int(n),
        Member::Bytes(b) => c.reply.bulk(b),
    }
}

/// Replies with every member as a set (RESP3 `~`, RESP2 array).
fn reply_all(c: &mut Client, s: &Set) {
    c.reply.set(s.len());
    for m in s.iter() {
        reply_member(c, m);
    }
}

/// Deletes `key` if its set became empty, firing `del`. Returns true if so.
fn delete_if_empty(srv: &mut Server, db: usize, key: &[u8]) -> bool {
    let empty = matches!(srv.ks.dbs[db].dict.get(key).map(|o| &o.value), Some(Value::Set(s)) if s.is_empty());
    if empty {
        srv.ks.delete(db, key);
        srv.ks.notify(notify::GENERIC, "del", db, key);
    }
    empty
}

/// SADD key member [member ...]: how many members were new. Fires `sadd`.
pub fn sadd(srv: &mut Server, c: &mut Client) -> CmdResult {
    let db = c.db;
    let key = c.argv[1].clone();
    let max = max_intset(srv);
    if write_set(srv, db, &key)?.is_none() {
        srv.ks.set(db, &key, Value::Set(Box::new(Set::new_for(c.arg(2)))), false);
    }
    let Some(set) = write_set(srv, db, &key)? else { return Err(ReplyError::NoSuchKey) };
    let mut added = 0;
    for m in &c.argv[2..] {
        if set.add(m, max) {
            added += 1;
        }
    }
    if added > 0 {
        srv.ks.touch_write(db, &key);
        srv.ks.notify(notify::SET, "sadd", db, &key);
    }
    c.reply.int(added);
    Ok(())
}

/// SREM key member [member ...]: how many were removed. Fires `srem` (and
/// `del` when the set empties).
pub fn srem(srv: &mut Server, c: &mut Client) -> CmdResult {
    let db = c.db;
    let key = c.argv[1].clone();
    let Some(set) = write_set(srv, db, &key)? else {
        c.reply.int(0);
        return Ok(());
    };
    let mut removed = 0;
    for m in &c.argv[2..] {
        if set.remove(m) {
            removed += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    if removed > 0 {
        srv.ks.notify(notify::SET, "srem", db, &key);
        delete_if_empty(srv, db, &key);
        srv.ks.touch_write(db, &key);
    }
    c.reply.int(removed);
    Ok(())
}

/// SCARD key.
pub fn scard(srv: &mut Server, c: &mut Client) -> CmdResult {
    let n = read_set(srv, c.db, &c.argv[1].clone())?.map_or(0, Set::len);
    c.reply.int(n as i64);
    Ok(())
}

/// SISMEMBER key member: 1 or 0.
pub fn sismember(srv: &mut Server, c: &mut Client) -> CmdResult {
    let found = read_set(srv, c.db, &c.argv[1].clone())?.is_some_and(|s| s.contains(c.arg(2)));
    c.reply.int(i64::from(found));
    Ok(())
}

/// SMISMEMBER key member [member ...]: an array of 1/0 (zeros for a missing key).
pub fn smismember(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let set = read_set(srv, c.db, &key)?;
    c.reply.array(c.argc() - 2);
    for m in &c.argv[2..] {
        c.reply.int(i64::from(set.is_some_and(|s| s.contains(m))));
    }
    Ok(())
}

/// SMEMBERS key: every member, as a set.
pub fn smembers(srv: &mut Server, c: &mut Client) -> CmdResult {
    match read_set(srv, c.db, &c.argv[1].clone())? {
        Some(s) => reply_all(c, s),
        None => c.reply.set(0),
    }
    Ok(())
}

/// SRANDMEMBER key [count]: one random member (null if missing), or with a
/// count up to `count` distinct members (negative: `|count|` members that
/// may repeat), as an array.
pub fn srandmember(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.argc() > 3 {
        return Err(ReplyError::Syntax);
    }
    let key = c.argv[1].clone();
    if let Some(Value::Set(s)) = srv.ks.dbs[c.db].dict.get_mut(&key[..]).map(|o| &mut o.value) {
        s.rehash_step();
    }
    let mut rng = rng_for(srv);
    let mut next = || rng.next_u64();
    if c.argc() == 2 {
        match read_set(srv, c.db, &key)?.and_then(|s| s.random(&mut next)) {
            Some(m) => reply_member(c, m),
            None => c.reply.null(),
        }
        return Ok(());
    }
    let l = args::int(c.arg(2))?;
    if l == i64::MIN {
        // COMPAT: getRangeLongFromObjectOrReply's text for -LONG_MAX..LONG_MAX.
        return Err(ReplyError::err(format!(
            "value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    let (count, uniq) = (l.unsigned_abs() as usize, l >= 0);
    let Some(set) = read_set(srv, c.db, &key)? else {
        c.reply.array(0);
        return Ok(());
    };
    if count == 0 {
        c.reply.array(0);
        return Ok(());
    }
    let size = set.len();
    if !uniq || count == 1 {
        c.reply.array(count);
        for _ in 0..count {
            if let Some(m) = set.random(&mut next) {
                reply_member(c, m);
            }
        }
        return Ok(());
    }
    if count >= size {
        c.reply.array(size);
        for m in set.iter() {
            reply_member(c, m);
        }
        return Ok(());
    }
    let picked: Vec<Member<'_>> = if count * 3 > size {
        // Most of the set: copy it and drop random members until `count` remain.
        let mut all: Vec<Member<'_>> = set.iter().collect();
        while all.len() > count {
            let i = (next() % all.len() as u64) as usize;
            all.swap_remove(i);
        }
        all
    } else {
        // A small part: draw until `count` distinct members were seen.
        let mut seen = std::collections::HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let Some(m) = set.random(&mut next) else { break };
            if seen.insert(m.to_vec()) {
                out.push(m);
            }
        }
        out
    };
    c.reply.array(picked.len());
    for m in picked {
        reply_member(c, m);
    }
    Ok(())
}

/// SPOP key [count]: removes and returns one random member (null if missing)
/// or up to `count` members as a set. Fires `spop` (and `del` when emptied).
pub fn spop(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.argc() > 3 {
        return Err(ReplyError::Syntax);
    }
    if c.argc() == 3 {
        return spop_count(srv, c);
    }
    let db = c.db;
    let key = c.argv[1].clone();
    let mut rng = rng_for(srv);
    let mut next = || rng.next_u64();
    let Some(set) = write_set(srv, db, &key)? else {
        c.reply.null();
        return Ok(());
    };
    let Some(m) = set.pop_random(&mut next) else {
        c.reply.null();
        return Ok(());
    };
    srv.ks.notify(notify::SET, "spop", db, &key);
    c.reply.bulk(&m);
    delete_if_empty(srv, db, &key);
    srv.ks.touch_write(db, &key);
    // Replicas remove the member chance picked here.
    srv.propagate_as(vec![Bytes::from_static(b"SREM"), key, Bytes::copy_from_slice(&m)]);
    Ok(())
}

fn spop_count(srv: &mut Server, c: &mut Client) -> CmdResult {
    let count = positive_long(c.arg(2), None)? as usize;
    let db = c.db;
    let key = c.argv[1].clone();
    let mut rng = rng_for(srv);
    let mut next = || rng.next_u64();
    let Some(set) = write_set(srv, db, &key)? else {
        c.reply.set(0);
        return Ok(());
    };
    if count == 0 {
        c.reply.set(0);
        return Ok(());
    }
    let size = set.len();
    if count >= size {
        reply_all(c, set);
        srv.ks.notify(notify::SET, "spop", db, &key);
        srv.ks.delete(db, &key);
        srv.ks.notify(notify::GENERIC, "del", db, &key);
        srv.ks.touch_write(db, &key);
        srv.propagate_as(vec![Bytes::from_static(b"DEL"), key]);
        return Ok(());
    }
    c.reply.set(count);
    // Each member leaves as its own SREM (the unit is wrapped in MULTI).
    let mut popped: Vec<Bytes> = Vec::with_capacity(count);
    let remaining = size - count;
    if remaining * 5 > count {
        // Few to take: pop them one by one.
        for _ in 0..count {
            if let Some(m) = set.pop_random(&mut next) {
                c.reply.bulk(&m);
                popped.push(Bytes::copy_from_slice(&m));
            }
        }
    } else {
        // Most of the set goes: move the survivors to a new set and hand
        // out what is left of the old one.
        let max = max_intset(srv);
        let Some(set) = write_set(srv, db, &key)? else { return Err(ReplyError::NoSuchKey) };
        let mut kept: Option<Set> = None;
        for _ in 0..remaining {
            let Some(m) = set.pop_random(&mut next) else { break };
            kept.get_or_insert_with(|| Set::new_for(&m)).add(&m, max);
        }
        for m in set.iter() {
            popped.push(Bytes::from(m.to_vec()));
            reply_member(c, m);
        }
        *set = kept.unwrap_or_default();
    }
    srv.ks.notify(notify::SET, "spop", db, &key);
    srv.ks.touch_write(db, &key);
    srv.prevent_propagation();
    for m in popped {
        srv.also_propagate(db, vec![Bytes::from_static(b"SREM"), key.clone(), m]);
    }
    Ok(())
}

/// Parses a non-negative long (Redis's getPositiveLongFromObjectOrReply):
/// `msg` replaces both the not-an-integer and the negative error when given.
pub(crate) fn positive_long(arg: &[u8], msg: Option<&str>) -> Result<i64, ReplyError> {
    match (crate::util::num::string2ll(arg), msg) {
        (Some(n), _) if n >= 0 => Ok(n),
        (Some(_), None) => Err(ReplyError::err("value is out of range, must be positive")),
        (None, None) => Err(ReplyError::NotInteger),
        (_, Some(m)) => Err(ReplyError::err(m)),
    }
}

/// SMOVE source destination member: 1 if moved (or already in a same-key
/// move), 0 if not in source. Fires `srem` on source (`del` if emptied) and
/// `sadd` on destination when it really gained the member.
pub fn smove(srv: &mut Server, c: &mut Client) -> CmdResult {
    let db = c.db;
    let (src, dst, m) = (c.argv[1].clone(), c.argv[2].clone(), c.argv[3].clone());
    let src_exists = write_set(srv, db, &src).map(|s| s.is_some());
    let dst_exists = write_set(srv, db, &dst).map(|s| s.is_some());
    match src_exists {
        Ok(false) => {
            c.reply.int(0);
            return Ok(());
        }
        Err(e) => return Err(e),
        Ok(true) => {}
    }
    let dst_exists = dst_exists?;
    if src == dst {
        let found = read_set(srv, db, &src)?.is_some_and(|s| s.contains(&m));
        c.reply.int(i64::from(found));
        return Ok(());
    }
    let removed = write_set(srv, db, &src)?.is_some_and(|s| s.remove(&m));
    if !removed {
        c.reply.int(0);
        return Ok(());
    }
    srv.ks.notify(notify::SET, "srem", db, &src);
    delete_if_empty(srv, db, &src);
    if !dst_exists {
        srv.ks.set(db, &dst, Value::Set(Box::new(Set::new_for(&m))), false);
    }
    srv.ks.touch_write(db, &src);
    let max = max_intset(srv);
    if write_set(srv, db, &dst)?.is_some_and(|s| s.add(&m, max)) {
        srv.ks.touch_write(db, &dst);
        srv.ks.notify(notify::SET, "sadd", db, &dst);
    }
    c.reply.int(1);
    Ok(())
}

// ------------------------------------------------------------------ algebra

/// Looks every key up (expiry, statistics, type check). Ok(true) when all
/// exist; WRONGTYPE if any holds another type.
fn check_sets(srv: &mut Server, db: usize, keys: &[bytes::Bytes]) -> Result<bool, ReplyError> {
    let mut all = true;
    for k in keys {
        all &= read_set(srv, db, k)?.is_some();
    }
    Ok(all)
}

/// The sets under `keys` (None for missing keys); call `check_sets` first.
fn gather<'a>(srv: &'a Server, db: usize, keys: &[bytes::Bytes]) -> Vec<Option<&'a Set>> {
    keys.iter()
        .map(|k| match srv.ks.dbs[db].dict.get(k).map(|o| &o.value) {
            Some(Value::Set(s)) => Some(&**s),
            _ => None,
        })
        .collect()
}

/// Stores `result` at `dst` (overwriting whatever is there) and replies with
/// its size, firing `event`; an empty result deletes `dst` instead (`del`).
fn store_result(srv: &mut Server, c: &mut Client, dst: &[u8], result: Set, event: &'static str) {
    let db = c.db;
    let n = result.len();
    if n > 0 {
        srv.ks.set(db, dst, Value::Set(Box::new(result)), false);
        srv.ks.touch_write(db, dst);
        srv.ks.notify(notify::SET, event, db, dst);
    } else if srv.ks.delete(db, dst) {
        srv.ks.touch_write(db, dst);
        srv.ks.notify(notify::GENERIC, "del", db, dst);
    }
    c.reply.int(n as i64);
}

/// What an intersection produces.
enum InterOut<'a> {
    /// Reply with the members.
    Reply,
    /// Count, stopping at a limit (0: none).
    Card(usize),
    /// Store at this key.
    Store(&'a [u8]),
}

fn sinter_generic(srv: &mut Server, c: &mut Client, keys: &[bytes::Bytes], out: InterOut<'_>) -> CmdResult {
    let db = c.db;
    let max = max_intset(srv);
    if !check_sets(srv, db, keys)? {
        match out {
            InterOut::Reply => c.reply.set(0),
            InterOut::Card(_) => c.reply.int(0),
            InterOut::Store(dst) => store_result(srv, c, dst, Set::Int(IntSet::new()), "sinterstore"),
        }
        return Ok(());
    }
    let mut sets: Vec<&Set> = gather(srv, db, keys).into_iter().flatten().collect();
    sets.sort_by_key(|s| s.len());
    let first = sets[0];
    let rest = &sets[1..];
    let common = first.iter().filter(|&m| rest.iter().all(|s| std::ptr::eq(*s, first) || s.contains_member(m)));
    match out {
        InterOut::Reply => {
            let pos = c.reply.deferred_len();
            let mut n = 0;
            for m in common {
                reply_member(c, m);
                n += 1;
            }
            let prefix = if c.reply.resp >= 3 { b'~' } else { b'*' };
            c.reply.set_deferred_len(pos, prefix, n);
        }
        InterOut::Card(limit) => {
            let mut n = 0;
            for _ in common {
                n += 1;
                if limit != 0 && n >= limit {
                    break;
                }
            }
            c.reply.int(n as i64);
        }
        InterOut::Store(dst) => {
            let mut result = Set::Int(IntSet::new());
            for m in common {
                result.add_member(m, max);
            }
            store_result(srv, c, dst, result, "sinterstore");
        }
    }
    Ok(())
}

/// SINTER key [key ...]: members common to every set, as a set.
pub fn sinter(srv: &mut Server, c: &mut Client) -> CmdResult {
    let keys = c.argv[1..].to_vec();
    sinter_generic(srv, c, &keys, InterOut::Reply)
}

/// SINTERSTORE destination key [key ...]: the intersection's size.
pub fn sinterstore(srv: &mut Server, c: &mut Client) -> CmdResult {
    let keys = c.argv[2..].to_vec();
    let dst = c.argv[1].clone();
    sinter_generic(srv, c, &keys, InterOut::Store(&dst))
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]: the intersection's size,
/// counting stops at `limit` (0: no limit).
pub fn sintercard(srv: &mut Server, c: &mut Client) -> CmdResult {
    // COMPAT: SINTERCARD's own error texts.
    let numkeys = match crate::util::num::string2ll(c.arg(1)) {
        Some(n) if n >= 1 => n as usize,
        _ => return Err(ReplyError::err("numkeys should be greater than 0")),
    };
    if numkeys > c.argc() - 2 {
        return Err(ReplyError::err("Number of keys can't be greater than number of args"));
    }
    let mut limit = 0usize;
    let mut j = 2 + numkeys;
    while j < c.argc() {
        if args::is(c.arg(j), "limit") && j + 1 < c.argc() {
            limit = positive_long(c.arg(j + 1), Some("LIMIT can't be negative"))? as usize;
            j += 2;
        } else {
            return Err(ReplyError::Syntax);
        }
    }
    let keys = c.argv[2..2 + numkeys].to_vec();
    sinter_generic(srv, c, &keys, InterOut::Card(limit))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Diff,
}

fn sunion_diff_generic(
    srv: &mut Server,
    c: &mut Client,
    keys: &[bytes::Bytes],
    dst: Option<&[u8]>,
    op: SetOp,
) -> CmdResult {
    let db = c.db;
    let max = max_intset(srv);
    check_sets(srv, db, keys)?;
    let sets = gather(srv, db, keys);
    let mut result = Set::Int(IntSet::new());
    match op {
        SetOp::Union => {
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    result.add_member(m, max);
                }
            }
        }
        SetOp::Diff => {
            if let Some(first) = sets[0] {
                let same = sets[1..].iter().flatten().any(|s| std::ptr::eq(*s, first));
                if !same {
                    // Redis picks between scanning the first set against the
                    // others and add-then-remove by the estimated work; the
                    // result is the same, so only the cheaper one matters.
                    let others: Vec<&Set> = sets[1..].iter().flatten().copied().collect();
                    let work_one = first.len() * others.len() / 2;
                    let work_two: usize = first.len() + others.iter().map(|s| s.len()).sum::<usize>();
                    if work_one <= work_two {
                        for m in first.iter() {
                            if !others.iter().any(|s| s.contains_member(m)) {
                                result.add_member(m, max);
                            }
                        }
                    } else {
                        for m in first.iter() {
                            result.add_member(m, max);
                        }
                        for s in &others {
                            for m in s.iter() {
                                result.remove(&m.to_vec());
                            }
                            if result.is_empty() {
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
    match dst {
        None => reply_all(c, &result),
        Some(dst) => {
            let event = if op == SetOp::Union { "sunionstore" } else { "sdiffstore" };
            store_result(srv, c, dst, result, event);
        }
    }
    Ok(())
}

/// SUNION key [key ...]: every member of any set, as a set.
pub fn sunion(srv: &mut Server, c: &mut Client) -> CmdResult {
    let keys = c.argv[1..].to_vec();
    sunion_diff_generic(srv, c, &keys, None, SetOp::Union)
}

/// SUNIONSTORE destination key [key ...]: the union's size.
pub fn sunionstore(srv: &mut Server, c: &mut Client) -> CmdResult {
    let keys = c.argv[2..].to_vec();
    let dst = c.argv[1].clone();
    sunion_diff_generic(srv, c, &keys, Some(&dst), SetOp::Union)
}

/// SDIFF key [key ...]: members of the first set in none of the others.
pub fn sdiff(srv: &mut Server, c: &mut Client) -> CmdResult {
    let keys = c.argv[1..].to_vec();
    sunion_diff_generic(srv, c, &keys, None, SetOp::Diff)
}

/// SDIFFSTORE destination key [key ...]: the difference's size.
pub fn sdiffstore(srv: &mut Server, c: &mut Client) -> CmdResult {
    let keys = c.argv[2..].to_vec();
    let dst = c.argv[1].clone();
    sunion_diff_generic(srv, c, &keys, Some(&dst), SetOp::Diff)
}

// --------------------------------------------------------------------- scan

/// SSCAN/ZSCAN/HSCAN options: COUNT (at least 1) and MATCH (None for `*`).
pub(crate) struct ScanOpts {
    /// COUNT.
    pub count: usize,
    /// MATCH pattern, None when absent or `*`.
    pub pattern: Option<Vec<u8>>,
}

/// Parses `[MATCH pattern] [COUNT count]` from argument `from` on.
pub(crate) fn scan_opts(c: &Client, from: usize) -> Result<ScanOpts, ReplyError> {
    let mut o = ScanOpts { count: 10, pattern: None };
    let mut i = from;
    while i < c.argc() {
        let left = c.argc() - i;
        if args::is(c.arg(i), "count") && left >= 2 {
            let n = args::int(c.arg(i + 1))?;
            if n < 1 {
                return Err(ReplyError::Syntax);
            }
            o.count = n as usize;
        } else if args::is(c.arg(i), "match") && left >= 2 {
            let p = c.arg(i + 1);
            o.pattern = if p == b"*" { None } else { Some(p.to_vec()) };
        } else {
            return Err(ReplyError::Syntax);
        }
        i += 2;
    }
    Ok(o)
}

/// Replies `[cursor, [items...]]`.
pub(crate) fn reply_scan(c: &mut Client, cursor: u64, items: &[Vec<u8>]) {
    c.reply.array(2);
    c.reply.bulk(cursor.to_string().as_bytes());
    c.reply.array(items.len());
    for i in items {
        c.reply.bulk(i);
    }
}

/// SSCAN key cursor [MATCH pattern] [COUNT count].
pub fn sscan(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut cursor = super::keys::parse_cursor(c.arg(2))?;
    let key = c.argv[1].clone();
    let Some(set) = read_set(srv, c.db, &key)? else {
        reply_scan(c, 0, &[]);
        return Ok(());
    };
    let o = scan_opts(c, 3)?;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut budget = o.count.saturating_mul(10);
    loop {
        cursor = set.scan(cursor, |m| found.push(m.to_vec()));
        if cursor == 0 || budget == 0 || found.len() >= o.count {
            break;
        }
        budget -= 1;
    }
    if let Some(p) = &o.pattern {
        found.retain(|m| crate::util::glob::string_match(p, m, false));
    }
    reply_scan(c, cursor, &found);
    Ok(())
}
