//! Hash commands: HSET/HMSET/HSETNX, HGET/HMGET, HDEL, HLEN, HSTRLEN,
//! HEXISTS, HKEYS/HVALS/HGETALL, HINCRBY/HINCRBYFLOAT, HRANDFIELD, HSCAN.
//!
//! Mirrors Redis 7.0's t_hash: the listpack to hashtable conversion points
//! (argument lengths checked before a write, the field count after it), the
//! error texts and their order, HRANDFIELD's count rules (negative counts
//! repeat, count 0 and a missing key give an empty array), HSCAN returning a
//! listpack hash whole with cursor 0, the keyspace events each command fires,
//! and deleting a hash that becomes empty.

use super::args;
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::db::notify;
use crate::server::Server;
use crate::types::hash::{Hash, HashLimits};
use crate::types::listpack::LpValue;
use crate::types::value::Value;

/// The thresholds from the configuration.
fn limits(srv: &Server) -> HashLimits {
    HashLimits {
        max_entries: srv.config.hash_max_listpack_entries.max(0) as usize,
        max_value: srv.config.hash_max_listpack_value.max(0) as usize,
    }
}

/// The hash at `key` for reading (counts a hit or miss); WRONGTYPE for other types.
fn hash_read<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a Hash>, ReplyError> {
    match srv.ks.get(db, key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(ReplyError::WrongType),
    }
}

/// The hash at `key` for writing; WRONGTYPE for other types.
fn hash_write<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a mut Hash>, ReplyError> {
    match srv.ks.get_mut(db, key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(ReplyError::WrongType),
    }
}

/// The hash at `key`, created empty (listpack) if missing. Callers add a
/// field before returning, so an empty hash never stays in the keyspace.
fn hash_create<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<&'a mut Hash, ReplyError> {
    if hash_write(srv, db, key)?.is_none() {
        srv.ks.set(db, key, Value::Hash(Box::new(Hash::new())), false);
    }
    match srv.ks.get_mut(db, key) {
        Some(Value::Hash(h)) => Ok(h),
        _ => Err(ReplyError::WrongType),
    }
}

/// Records a write of `dirty` changes to `key`.
fn touched(srv: &mut Server, db: usize, key: &[u8], dirty: u64) {
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

// ------------------------------------------------------------------ writes

fn hset_generic(srv: &mut Server, c: &mut Client, is_hmset: bool) -> CmdResult {
    if c.argc() % 2 == 1 {
        return Err(ReplyError::WrongArity(if is_hmset { "hmset" } else { "hset" }.into()));
    }
    let key = c.argv[1].clone();
    let db = c.db;
    let lim = limits(srv);
    let h = hash_create(srv, db, &key)?;
    h.convert_for_lengths(c.argv[2..].iter().map(|a| a.len()), lim);
    let mut created = 0;
    for pair in c.argv[2..].chunks_exact(2) {
        if h.set(&pair[0], &pair[1], lim) {
            created += 1;
        }
    }
    if is_hmset {
        c.reply.ok();
    } else {
        c.reply.int(created);
    }
    srv.ks.notify(notify::HASH, "hset", db, &key);
    touched(srv, db, &key, ((c.argc() - 2) / 2) as u64);
    Ok(())
}

/// HSET key field value [field value ...]: how many fields were new.
pub fn hset(srv: &mut Server, c: &mut Client) -> CmdResult {
    hset_generic(srv, c, false)
}

/// HMSET key field value [field value ...]: +OK (deprecated form of HSET).
pub fn hmset(srv: &mut Server, c: &mut Client) -> CmdResult {
    hset_generic(srv, c, true)
}

/// HSETNX key field value: 1 if set, 0 if the field existed.
pub fn hsetnx(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let db = c.db;
    let lim = limits(srv);
    if hash_write(srv, db, &key)?.is_some_and(|h| h.contains(c.arg(2))) {
        c.reply.int(0);
        return Ok(());
    }
    let h = hash_create(srv, db, &key)?;
    h.convert_for_lengths([c.arg(2).len(), c.arg(3).len()].into_iter(), lim);
    h.set(c.arg(2), c.arg(3), lim);
    c.reply.int(1);
    srv.ks.notify(notify::HASH, "hset", db, &key);
    touched(srv, db, &key, 1);
    Ok(())
}

/// HDEL key field [field ...]: how many fields were removed.
pub fn hdel(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let db = c.db;
    let Some(h) = hash_write(srv, db, &key)? else {
        c.reply.int(0);
        return Ok(());
    };
    let mut deleted = 0;
    let mut emptied = false;
    for f in &c.argv[2..] {
        if h.delete(f) {
            deleted += 1;
            if h.is_empty() {
                emptied = true;
                break;
            }
        }
    }
    if deleted > 0 {
        if emptied {
            srv.ks.delete(db, &key);
        }
        srv.ks.notify(notify::HASH, "hdel", db, &key);
        if emptied {
            srv.ks.notify(notify::GENERIC, "del", db, &key);
        }
        touched(srv, db, &key, deleted);
    }
    c.reply.int(deleted as i64);
    Ok(())
}

/// HINCRBY key field increment: the new value.
pub fn hincrby(srv: &mut Server, c: &mut Client) -> CmdResult {
    let by = args::int(c.arg(3))?;
    let key = c.argv[1].clone();
    let db = c.db;
    let lim = limits(srv);
    let cur = match hash_write(srv, db, &key)?.and_then(|h| h.get(c.arg(2))) {
        None => 0,
        Some(LpValue::Int(n)) => n,
        // COMPAT: Redis's text.
        Some(LpValue::Str(s)) => {
            crate::util::num::string2ll(s).ok_or_else(|| ReplyError::err("hash value is not an integer"))?
        }
    };
    let new = cur.checked_add(by).ok_or(ReplyError::Overflow)?;
    let text = crate::util::num::IntBuf::new(new);
    hash_create(srv, db, &key)?.set(c.arg(2), text.as_bytes(), lim);
    c.reply.int(new);
    srv.ks.notify(notify::HASH, "hincrby", db, &key);
    touched(srv, db, &key, 1);
    Ok(())
}

/// HINCRBYFLOAT key field increment: the new value as a bulk string.
pub fn hincrbyfloat(srv: &mut Server, c: &mut Client) -> CmdResult {
    let by = args::float(c.arg(3))?;
    if !by.is_finite() {
        // COMPAT: Redis's text.
        return Err(ReplyError::err("value is NaN or Infinity"));
    }
    let key = c.argv[1].clone();
    let db = c.db;
    let lim = limits(srv);
    let cur = match hash_write(srv, db, &key)?.and_then(|h| h.get(c.arg(2))) {
        None => 0.0,
        Some(LpValue::Int(n)) => n as f64,
        // COMPAT: Redis's text.
        Some(LpValue::Str(s)) => {
            crate::util::num::string2ld(s).ok_or_else(|| ReplyError::err("hash value is not a float"))?
        }
    };
    let new = cur + by;
    if !new.is_finite() {
        return Err(ReplyError::err("increment would produce NaN or Infinity"));
    }
    let text = crate::util::num::format_long_double(new);
    hash_create(srv, db, &key)?.set(c.arg(2), &text, lim);
    c.reply.bulk(&text);
    srv.ks.notify(notify::HASH, "hincrbyfloat", db, &key);
    touched(srv, db, &key, 1);
    // The final value, so float formatting never makes a replica differ.
    srv.propagate_as(vec![
        bytes::Bytes::from_static(b"HSET"),
        key,
        c.argv[2].clone(),
        bytes::Bytes::copy_from_slice(&text),
    ]);
    Ok(())
}

// ------------------------------------------------------------------ reads

/// HGET key field: the value or null.
pub fn hget(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    match hash_read(srv, c.db, &key)?.and_then(|h| h.get(c.arg(2))) {
        Some(v) => reply_value(c, v),
        None => c.reply.null(),
    }
    Ok(())
}

/// HMGET key field [field ...]: one value or null per field.
pub fn hmget(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let h = hash_read(srv, c.db, &key)?;
    c.reply.array(c.argc() - 2);
    for i in 2..c.argc() {
        match h.and_then(|h| h.get(&c.argv[i])) {
            Some(v) => reply_value(c, v),
            None => c.reply.null(),
        }
    }
    Ok(())
}

/// HLEN key.
pub fn hlen(srv: &mut Server, c: &mut Client) -> CmdResult {
    let n = hash_read(srv, c.db, &c.argv[1].clone())?.map_or(0, |h| h.len());
    c.reply.int(n as i64);
    Ok(())
}

/// HSTRLEN key field: the value's length, 0 when missing.
pub fn hstrlen(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let n = hash_read(srv, c.db, &key)?.and_then(|h| h.get(c.arg(2))).map_or(0, |v| v.text_len());
    c.reply.int(n as i64);
    Ok(())
}

/// HEXISTS key field: 1 or 0.
pub fn hexists(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let found = hash_read(srv, c.db, &key)?.is_some_and(|h| h.contains(c.arg(2)));
    c.reply.int(found as i64);
    Ok(())
}

/// HKEYS, HVALS and HGETALL: fields and/or values, a map for HGETALL.
fn getall_generic(srv: &mut Server, c: &mut Client, keys: bool, vals: bool) -> CmdResult {
    let key = c.argv[1].clone();
    let h = hash_read(srv, c.db, &key)?;
    let n = h.map_or(0, |h| h.len());
    if keys && vals {
        c.reply.map(n);
    } else {
        c.reply.array(n);
    }
    if let Some(h) = h {
        h.for_each(|f, v| {
            if keys {
                reply_value(c, f);
            }
            if vals {
                reply_value(c, v);
            }
        });
    }
    Ok(())
}

/// HKEYS key.
pub fn hkeys(srv: &mut Server, c: &mut Client) -> CmdResult {
    getall_generic(srv, c, true, false)
}

/// HVALS key.
pub fn hvals(srv: &mut Server, c: &mut Client) -> CmdResult {
    getall_generic(srv, c, false, true)
}

/// HGETALL key.
pub fn hgetall(srv: &mut Server, c: &mut Client) -> CmdResult {
    getall_generic(srv, c, true, true)
}

// ------------------------------------------------------------------ random

/// A generator seeded from the keyspace's, so a hash can be sampled while
/// the keyspace is borrowed.
fn rng_from(srv: &mut Server) -> impl FnMut() -> u64 {
    let mut rng = crate::util::rand::Rng::with_seed(srv.ks.rand());
    move || rng.next_u64()
}

/// Writes one HRANDFIELD pick: the field, then with `withvalues` the value
/// (RESP3 wraps each pair in a 2-element array).
fn reply_pick(c: &mut Client, f: LpValue<'_>, v: LpValue<'_>, withvalues: bool) {
    if withvalues && c.reply.resp >= 3 {
        c.reply.array(2);
    }
    reply_value(c, f);
    if withvalues {
        reply_value(c, v);
    }
}

/// HRANDFIELD key [count [WITHVALUES]].
pub fn hrandfield(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let mut rng = rng_from(srv);
    if c.argc() < 3 {
        match hash_read(srv, c.db, &key)?.and_then(|h| h.random_pair(&mut rng)) {
            Some((f, _)) => reply_value(c, f),
            None => c.reply.null(),
        }
        return Ok(());
    }
    let l = match crate::util::num::string2ll(c.arg(2)) {
        None => return Err(ReplyError::NotInteger),
        // COMPAT: Redis's range text (the bounds are -LONG_MAX..LONG_MAX).
        Some(i64::MIN) => {
            return Err(ReplyError::err(
                "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ))
        }
        Some(l) => l,
    };
    let withvalues = match c.argc() {
        3 => false,
        4 if args::is(c.arg(3), "withvalues") => true,
        _ => return Err(ReplyError::Syntax),
    };
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(ReplyError::err("value is out of range"));
    }
    let Some(h) = hash_read(srv, c.db, &key)? else {
        c.reply.array(0);
        return Ok(());
    };
    let size = h.len();
    let count = l.unsigned_abs() as usize;
    let unique = l >= 0;
    if count == 0 {
        c.reply.array(0);
        return Ok(());
    }
    let pair_len = |c: &Client, n: usize| if withvalues && c.reply.resp == 2 { n * 2 } else { n };
    // Repeats allowed (negative count), or a single pick.
    if !unique || count == 1 {
        let n = pair_len(c, count);
        c.reply.array(n);
        for _ in 0..count {
            // The client is being closed for its output: stop early.
            if c.reply.over_limit() {
                break;
            }
            if let Some((f, v)) = h.random_pair(&mut rng) {
                reply_pick(c, f, v, withvalues);
            }
        }
        return Ok(());
    }
    let n = pair_len(c, count.min(size));
    c.reply.array(n);
    // Asked for at least everything: the whole hash.
    if count >= size {
        h.for_each(|f, v| reply_pick(c, f, v, withvalues));
        return Ok(());
    }
    // Distinct picks. Near the whole size, drop random pairs from a copy;
    // otherwise draw until enough distinct fields came up.
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(size);
    if count * 3 > size {
        h.for_each(|f, v| pairs.push((f.to_vec(), v.to_vec())));
        while pairs.len() > count {
            let i = (rng() % pairs.len() as u64) as usize;
            pairs.swap_remove(i);
        }
    } else {
        let mut seen = std::collections::HashSet::with_capacity(count);
        while pairs.len() < count {
            let Some((f, v)) = h.random_pair(&mut rng) else { break };
            let f = f.to_vec();
            if seen.insert(f.clone()) {
                pairs.push((f, v.to_vec()));
            }
        }
    }
    for (f, v) in &pairs {
        reply_pick(c, LpValue::Str(f), LpValue::Str(v), withvalues);
    }
    Ok(())
}

// ------------------------------------------------------------------ scan

/// HSCAN key cursor [MATCH pattern] [COUNT count].
pub fn hscan(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut cursor = super::keys::parse_cursor(c.arg(2))?;
    let key = c.argv[1].clone();
    if hash_read(srv, c.db, &key)?.is_none() {
        c.reply.array(2);
        c.reply.bulk(b"0");
        c.reply.array(0);
        return Ok(());
    }
    let mut count: i64 = 10;
    let mut pat: Option<bytes::Bytes> = None;
    let mut i = 3;
    while i < c.argc() {
        let left = c.argc() - i;
        if args::is(c.arg(i), "count") && left >= 2 {
            count = args::int(c.arg(i + 1))?;
            if count < 1 {
                return Err(ReplyError::Syntax);
            }
        } else if args::is(c.arg(i), "match") && left >= 2 {
            let p = c.argv[i + 1].clone();
            pat = if &p[..] == b"*" { None } else { Some(p) };
        } else {
            return Err(ReplyError::Syntax);
        }
        i += 2;
    }
    let Some(Value::Hash(h)) = srv.ks.dbs[c.db].dict.get(&key).map(|o| &o.value) else { return Ok(()) };
    let mut items: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    match h.table() {
        None => {
            h.for_each(|f, v| items.push((f.to_vec(), v.to_vec())));
            cursor = 0;
        }
        Some(d) => {
            // Pairs count double, as in Redis: COUNT is in reply elements.
            let want = count.saturating_mul(2);
            let mut budget = want.saturating_mul(10);
            loop {
                cursor = d.scan(cursor, |f, v| items.push((f.to_vec(), v.to_vec())));
                budget -= 1;
                if cursor == 0 || budget <= 0 || (items.len() as i64) * 2 >= want {
                    break;
                }
            }
        }
    }
    if let Some(p) = &pat {
        items.retain(|(f, _)| crate::util::glob::string_match(p, f, false));
    }
    c.reply.array(2);
    c.reply.bulk(cursor.to_string().as_bytes());
    c.reply.array(items.len() * 2);
    for (f, v) in &items {
        c.reply.bulk(f);
        c.reply.bulk(v);
    }
    Ok(())
}
