//! Generic keyspace commands: existence, deletion, renaming, moving between
//! databases, scanning, expiry and OBJECT introspection.
//!
//! Mirrors Redis 7.0's db.c / expire.c / object.c command behaviour: option
//! validation and error texts, expire arithmetic with overflow checks, the
//! NX/XX/GT/LT rules, and the keyspace events each command fires.

use bytes::Bytes;

use super::args;
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::db::notify;
use crate::server::Server;
use crate::types::sds::Sds;
use crate::types::value::{Str, Value};

/// COMPAT: Redis's shared "same object" error.
const SAME_OBJECT: &str = "ERR source and destination objects are the same";

/// DEL and UNLINK; `lazy` frees costly values after the reply.
fn del_generic(srv: &mut Server, c: &mut Client, lazy: bool) -> CmdResult {
    let db = c.db;
    let mut n = 0;
    for i in 1..c.argc() {
        if srv.ks.delete_with(db, &c.argv[i], lazy) {
            srv.ks.touch_write(db, &c.argv[i]);
            srv.ks.notify(notify::GENERIC, "del", db, &c.argv[i]);
            n += 1;
        }
    }
    c.reply.int(n);
    Ok(())
}

/// DEL key [key ...]: the number of keys removed (freed lazily under
/// `lazyfree-lazy-user-del`).
pub fn del(srv: &mut Server, c: &mut Client) -> CmdResult {
    let lazy = srv.config.lazyfree_lazy_user_del;
    del_generic(srv, c, lazy)
}

/// UNLINK key [key ...]: as DEL, but costly values are freed after the reply.
pub fn unlink(srv: &mut Server, c: &mut Client) -> CmdResult {
    del_generic(srv, c, true)
}

/// EXISTS key [key ...]: counts repeated keys repeatedly, as Redis does.
pub fn exists(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut n = 0;
    for i in 1..c.argc() {
        // COMPAT: EXISTS does not update the access time (LOOKUP_NOTOUCH).
        if srv.ks.peek(c.db, &c.argv[i]).is_some() {
            n += 1;
        }
    }
    c.reply.int(n);
    Ok(())
}

/// TOUCH key [key ...]: the number of existing keys.
pub fn touch(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut n = 0;
    for i in 1..c.argc() {
        // TOUCH is a read that updates the access time.
        if srv.ks.get(c.db, &c.argv[i]).is_some() {
            n += 1;
        }
    }
    c.reply.int(n);
    Ok(())
}

/// TYPE key: `none` when absent.
pub fn type_(srv: &mut Server, c: &mut Client) -> CmdResult {
    let t = srv.ks.peek(c.db, &c.argv[1].clone()).map(|o| o.value.type_name()).unwrap_or("none");
    c.reply.simple(t);
    Ok(())
}

fn rename_generic(srv: &mut Server, c: &mut Client, nx: bool) -> CmdResult {
    let db = c.db;
    let (src, dst) = (c.argv[1].clone(), c.argv[2].clone());
    if !srv.ks.exists(db, &src) {
        return Err(ReplyError::NoSuchKey);
    }
    if src == dst {
        if nx {
            c.reply.int(0);
        } else {
            c.reply.ok();
        }
        return Ok(());
    }
    if nx && srv.ks.exists(db, &dst) {
        c.reply.int(0);
        return Ok(());
    }
    let Some((val, ttl)) = srv.ks.take(db, &src) else { return Err(ReplyError::NoSuchKey) };
    srv.ks.delete(db, &dst);
    srv.ks.set(db, &dst, val, false);
    if let Some(at) = ttl {
        srv.ks.set_expire(db, &dst, at);
    }
    srv.ks.touch_write(db, &src);
    srv.ks.touch_write(db, &dst);
    srv.ks.notify(notify::GENERIC, "rename_from", db, &src);
    srv.ks.notify(notify::GENERIC, "rename_to", db, &dst);
    if nx {
        c.reply.int(1);
    } else {
        c.reply.ok();
    }
    Ok(())
}

/// RENAME key newkey.
pub fn rename(srv: &mut Server, c: &mut Client) -> CmdResult {
    rename_generic(srv, c, false)
}

/// RENAMENX key newkey.
pub fn renamenx(srv: &mut Server, c: &mut Client) -> CmdResult {
    rename_generic(srv, c, true)
}

/// MOVE key db: 1 if moved, 0 if absent here or present there.
pub fn move_(srv: &mut Server, c: &mut Client) -> CmdResult {
    if srv.config.cluster_enabled {
        return Err(ReplyError::err("MOVE is not allowed in cluster mode"));
    }
    let src_db = c.db;
    let dst_db = args::int(c.arg(2))?;
    if dst_db < 0 || dst_db as usize >= srv.ks.dbs.len() {
        return Err(ReplyError::DbIndex);
    }
    let dst_db = dst_db as usize;
    if src_db == dst_db {
        return Err(ReplyError::other(SAME_OBJECT));
    }
    let key = c.argv[1].clone();
    if !srv.ks.exists(src_db, &key) || srv.ks.exists(dst_db, &key) {
        c.reply.int(0);
        return Ok(());
    }
    let Some((val, ttl)) = srv.ks.take(src_db, &key) else {
        c.reply.int(0);
        return Ok(());
    };
    srv.ks.set(dst_db, &key, val, false);
    if let Some(at) = ttl {
        srv.ks.set_expire(dst_db, &key, at);
    }
    srv.ks.touch_write(src_db, &key);
    srv.ks.touch_write(dst_db, &key);
    srv.ks.notify(notify::GENERIC, "move_from", src_db, &key);
    srv.ks.notify(notify::GENERIC, "move_to", dst_db, &key);
    c.reply.int(1);
    Ok(())
}

/// COPY source destination [DB n] [REPLACE].
pub fn copy(srv: &mut Server, c: &mut Client) -> CmdResult {
    let src_db = c.db;
    let mut dst_db = c.db;
    let mut replace = false;
    let mut j = 3;
    while j < c.argc() {
        if args::is(c.arg(j), "replace") {
            replace = true;
        } else if args::is(c.arg(j), "db") && j + 1 < c.argc() {
            let n = args::int(c.arg(j + 1))?;
            if n < 0 || n as usize >= srv.ks.dbs.len() {
                return Err(ReplyError::DbIndex);
            }
            dst_db = n as usize;
            j += 1;
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    if srv.config.cluster_enabled && dst_db != src_db {
        return Err(ReplyError::err("Copying to another database is not allowed in cluster mode"));
    }
    let (src, dst) = (c.argv[1].clone(), c.argv[2].clone());
    if src_db == dst_db && src == dst {
        return Err(ReplyError::other(SAME_OBJECT));
    }
    let Some(val) = srv.ks.get(src_db, &src).cloned() else {
        c.reply.int(0);
        return Ok(());
    };
    let ttl = srv.ks.expire_at(src_db, &src);
    if srv.ks.exists(dst_db, &dst) {
        if !replace {
            c.reply.int(0);
            return Ok(());
        }
        srv.ks.delete(dst_db, &dst);
    }
    srv.ks.set(dst_db, &dst, val, false);
    if let Some(at) = ttl {
        srv.ks.set_expire(dst_db, &dst, at);
    }
    srv.ks.touch_write(dst_db, &dst);
    srv.ks.notify(notify::GENERIC, "copy_to", dst_db, &dst);
    c.reply.int(1);
    Ok(())
}

/// KEYS pattern: every live key matching the glob.
pub fn keys(srv: &mut Server, c: &mut Client) -> CmdResult {
    let pat = c.argv[1].clone();
    let all = &pat[..] == b"*";
    let now = srv.ks.now_ms;
    let db = &srv.ks.dbs[c.db];
    let pos = c.reply.deferred_len();
    let mut n = 0;
    for (k, _) in db.dict.iter() {
        if !all && !crate::util::glob::string_match(&pat, k, false) {
            continue;
        }
        if db.expires.get(k).is_some_and(|&at| at <= now) {
            continue;
        }
        c.reply.bulk(k);
        n += 1;
    }
    c.reply.set_deferred_array(pos, n);
    Ok(())
}

/// Parses a SCAN cursor as Redis does with C `strtoul` (`ERR invalid
/// cursor`): the text up to the first NUL, an optional sign (a negative
/// cursor wraps around 2^64), decimal digits, nothing else; no leading white
/// space; the empty string is cursor 0; more than 64 bits is refused.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, ReplyError> {
    // COMPAT: Redis's text.
    let invalid = || ReplyError::err("invalid cursor");
    let text = arg.split(|&b| b == 0).next().unwrap_or(arg);
    let Some(&first) = text.first() else { return Ok(0) };
    let (negative, digits) = match first {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10).and_then(|v| v.checked_add(u64::from(d - b'0'))).ok_or_else(invalid)?;
    }
    Ok(if negative { v.wrapping_neg() } else { v })
}

/// SCAN cursor [MATCH pattern] [COUNT n] [TYPE type].
pub fn scan(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut cursor = parse_cursor(c.arg(1))?;
    let mut count: i64 = 10;
    let mut pat: Option<bytes::Bytes> = None;
    let mut type_filter: Option<String> = None;
    let mut i = 2;
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
        } else if args::is(c.arg(i), "type") && left >= 2 {
            type_filter = Some(String::from_utf8_lossy(c.arg(i + 1)).to_lowercase());
        } else {
            return Err(ReplyError::Syntax);
        }
        i += 2;
    }
    let db = c.db;
    let mut found: Vec<Sds> = Vec::new();
    let max_iterations = count.saturating_mul(10);
    let mut iterations = 0;
    loop {
        cursor = srv.ks.dbs[db].dict.scan(cursor, |k, _| found.push(k.clone()));
        iterations += 1;
        if cursor == 0 || iterations >= max_iterations || found.len() as i64 >= count {
            break;
        }
    }
    let mut keep = Vec::with_capacity(found.len());
    for k in found {
        if let Some(p) = &pat {
            if !crate::util::glob::string_match(p, &k, false) {
                continue;
            }
        }
        // Expired keys are collected here, as Redis's scan does.
        if srv.ks.expire_if_needed(db, &k) {
            continue;
        }
        if let Some(t) = &type_filter {
            match srv.ks.dbs[db].dict.get(&k) {
                Some(o) if o.value.type_name() == t => {}
                _ => continue,
            }
        }
        keep.push(k);
    }
    c.reply.array(2);
    c.reply.bulk(cursor.to_string().as_bytes());
    c.reply.array(keep.len());
    for k in &keep {
        c.reply.bulk(k);
    }
    Ok(())
}

/// RANDOMKEY: a random live key or null.
pub fn randomkey(srv: &mut Server, c: &mut Client) -> CmdResult {
    match srv.ks.random_key(c.db) {
        Some(k) => c.reply.bulk(&k),
        None => c.reply.null(),
    }
    Ok(())
}

/// DBSIZE.
pub fn dbsize(srv: &mut Server, c: &mut Client) -> CmdResult {
    c.reply.int(srv.ks.db_size(c.db) as i64);
    Ok(())
}

/// SELECT index.
pub fn select(srv: &mut Server, c: &mut Client) -> CmdResult {
    // Redis reads the index as a C int.
    let n = args::int(c.arg(1)).ok().filter(|n| i32::try_from(*n).is_ok()).ok_or(ReplyError::NotInteger)?;
    if srv.config.cluster_enabled && n != 0 {
        return Err(ReplyError::err("SELECT is not allowed in cluster mode"));
    }
    if n < 0 || n as usize >= srv.ks.dbs.len() {
        return Err(ReplyError::DbIndex);
    }
    c.db = n as usize;
    c.reply.ok();
    Ok(())
}

/// SWAPDB index1 index2.
pub fn swapdb(srv: &mut Server, c: &mut Client) -> CmdResult {
    if srv.config.cluster_enabled {
        return Err(ReplyError::err("SWAPDB is not allowed in cluster mode"));
    }
    let a = args::int(c.arg(1)).map_err(|_| ReplyError::err("invalid first DB index"))?;
    let b = args::int(c.arg(2)).map_err(|_| ReplyError::err("invalid second DB index"))?;
    let n = srv.ks.dbs.len() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(ReplyError::DbIndex);
    }
    srv.touch_watched_in_db(c, a as usize, Some(b as usize));
    srv.touch_watched_in_db(c, b as usize, Some(a as usize));
    srv.ks.swap_dbs(a as usize, b as usize);
    // Clients blocked in either db may now find their keys.
    srv.signal_db_ready(a as usize);
    srv.signal_db_ready(b as usize);
    srv.ks.dirty += 1;
    c.reply.ok();
    Ok(())
}

/// Parses FLUSHDB/FLUSHALL's optional ASYNC|SYNC: whether to free lazily
/// (without either, `lazyfree-lazy-user-flush` decides).
fn flush_mode(srv: &Server, c: &Client) -> Result<bool, ReplyError> {
    match c.argc() {
        1 => Ok(srv.config.lazyfree_lazy_user_flush),
        2 if args::is(c.arg(1), "async") => Ok(true),
        2 if args::is(c.arg(1), "sync") => Ok(false),
        _ => Err(ReplyError::Syntax),
    }
}

/// Empties `db`, lazily or at once.
fn flush_one(srv: &mut Server, db: usize, lazy: bool) -> usize {
    if lazy {
        srv.ks.flush_db_async(db)
    } else {
        srv.ks.flush_db(db)
    }
}

/// FLUSHDB [ASYNC|SYNC].
pub fn flushdb(srv: &mut Server, c: &mut Client) -> CmdResult {
    let lazy = flush_mode(srv, c)?;
    let db = c.db;
    srv.touch_watched_in_db(c, db, None);
    let n = flush_one(srv, db, lazy);
    srv.signal_db_ready(db);
    srv.ks.dirty += n as u64;
    // Replicated and logged even when the db was already empty.
    srv.force_propagation();
    c.reply.ok();
    Ok(())
}

/// FLUSHALL [ASYNC|SYNC].
pub fn flushall(srv: &mut Server, c: &mut Client) -> CmdResult {
    let lazy = flush_mode(srv, c)?;
    let mut n = 0;
    for db in 0..srv.ks.dbs.len() {
        srv.touch_watched_in_db(c, db, None);
        n += flush_one(srv, db, lazy);
        srv.signal_db_ready(db);
    }
    srv.ks.dirty += n as u64;
    // As Redis: a running snapshot is stale now, and with save points the
    // empty dataset is saved at once.
    crate::persist::rdb::kill_child(srv);
    if !srv.config.save.is_empty() {
        crate::persist::rdb::save(srv);
    }
    srv.force_propagation();
    c.reply.ok();
    Ok(())
}

// ------------------------------------------------------------------ expiry

/// EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT with NX|XX|GT|LT. `base_ms` is the time
/// relative values add to (None for absolute), `unit_ms` 1000 for seconds.
fn expire_generic(srv: &mut Server, c: &mut Client, relative: bool, unit_ms: i64) -> CmdResult {
    let key = &c.argv[1];
    let db = c.db;
    let mut when = args::int(c.arg(2))?;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for i in 3..c.argc() {
        let o = c.arg(i);
        if args::is(o, "nx") {
            nx = true;
        } else if args::is(o, "xx") {
            xx = true;
        } else if args::is(o, "gt") {
            gt = true;
        } else if args::is(o, "lt") {
            lt = true;
        } else {
            return Err(ReplyError::err(format!("Unsupported option {}", String::from_utf8_lossy(o))));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(ReplyError::err("NX and XX, GT or LT options at the same time are not compatible"));
    }
    if gt && lt {
        return Err(ReplyError::err("GT and LT options at the same time are not compatible"));
    }
    let invalid = || ReplyError::InvalidExpire(String::from_utf8_lossy(c.arg(0)).to_lowercase());
    if unit_ms == 1000 {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return Err(invalid());
        }
        when *= 1000;
    }
    if relative {
        when = when.checked_add(srv.clock.now_ms).ok_or_else(invalid)?;
    }
    if !srv.ks.exists(db, key) {
        c.reply.int(0);
        return Ok(());
    }
    let current = srv.ks.expire_at(db, key);
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|cur| when <= cur))
        || (lt && current.is_some_and(|cur| when >= cur));
    if refused {
        c.reply.int(0);
        return Ok(());
    }
    if when <= srv.clock.now_ms && srv.ks.expire_deletes {
        srv.ks.delete(db, key);
        srv.ks.touch_write(db, key);
        srv.ks.notify(notify::GENERIC, "del", db, key);
        srv.propagate_as(vec![crate::propagate::words::deletion(srv.config.lazyfree_lazy_expire), key.clone()]);
    } else {
        srv.ks.set_expire(db, key, when);
        srv.ks.touch_write(db, key);
        srv.ks.notify(notify::GENERIC, "expire", db, key);
        // Absolute milliseconds, options kept: replicas apply the same instant.
        if srv.propagating() {
            let mut argv = c.argv.clone();
            argv[0] = Bytes::from_static(b"PEXPIREAT");
            argv[2] = Bytes::from(when.to_string());
            srv.propagate_as(argv);
        }
    }
    c.reply.int(1);
    Ok(())
}

/// EXPIRE key seconds [NX|XX|GT|LT].
pub fn expire(srv: &mut Server, c: &mut Client) -> CmdResult {
    expire_generic(srv, c, true, 1000)
}

/// PEXPIRE key milliseconds [NX|XX|GT|LT].
pub fn pexpire(srv: &mut Server, c: &mut Client) -> CmdResult {
    expire_generic(srv, c, true, 1)
}

/// EXPIREAT key unix-seconds [NX|XX|GT|LT].
pub fn expireat(srv: &mut Server, c: &mut Client) -> CmdResult {
    expire_generic(srv, c, false, 1000)
}

/// PEXPIREAT key unix-ms [NX|XX|GT|LT].
pub fn pexpireat(srv: &mut Server, c: &mut Client) -> CmdResult {
    expire_generic(srv, c, false, 1)
}

fn ttl_generic(srv: &mut Server, c: &mut Client, ms: bool, absolute: bool) -> CmdResult {
    let key = c.argv[1].clone();
    if !srv.ks.exists(c.db, &key) {
        c.reply.int(-2);
        return Ok(());
    }
    match srv.ks.expire_at(c.db, &key) {
        None => c.reply.int(-1),
        Some(at) => {
            let t = if absolute { at } else { (at - srv.clock.now_ms).max(0) };
            c.reply.int(if ms { t } else { (t + 500) / 1000 });
        }
    }
    Ok(())
}

/// TTL key: seconds left (rounded), -1 no TTL, -2 no key.
pub fn ttl(srv: &mut Server, c: &mut Client) -> CmdResult {
    ttl_generic(srv, c, false, false)
}

/// PTTL key.
pub fn pttl(srv: &mut Server, c: &mut Client) -> CmdResult {
    ttl_generic(srv, c, true, false)
}

/// EXPIRETIME key.
pub fn expiretime(srv: &mut Server, c: &mut Client) -> CmdResult {
    ttl_generic(srv, c, false, true)
}

/// PEXPIRETIME key.
pub fn pexpiretime(srv: &mut Server, c: &mut Client) -> CmdResult {
    ttl_generic(srv, c, true, true)
}

/// PERSIST key: 1 if a TTL was removed.
pub fn persist(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let db = c.db;
    if srv.ks.exists(db, &key) && srv.ks.persist(db, &key) {
        srv.ks.touch_write(db, &key);
        srv.ks.notify(notify::GENERIC, "persist", db, &key);
        c.reply.int(1);
    } else {
        c.reply.int(0);
    }
    Ok(())
}

// ------------------------------------------------------------------ OBJECT

/// OBJECT ENCODING key.
pub fn object_encoding(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[2].clone();
    match srv.ks.peek(c.db, &key) {
        Some(o) => {
            let e = o.value.encoding();
            c.reply.bulk(e.as_bytes());
        }
        None => c.reply.null(),
    }
    Ok(())
}

/// OBJECT REFCOUNT key: shared small integers report INT_MAX, as Redis's
/// shared integer objects do (Redis stops sharing them under a `maxmemory`
/// LRU/LFU policy, where each key needs its own access field).
pub fn object_refcount(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[2].clone();
    let shared = !crate::evict::integers_unshared(&srv.config);
    match srv.ks.peek(c.db, &key).map(|o| &o.value) {
        Some(Value::Str(Str::Int(n))) if shared && (0..10000).contains(n) => c.reply.int(i32::MAX as i64),
        Some(_) => c.reply.int(1),
        None => c.reply.null(),
    }
    Ok(())
}

/// OBJECT IDLETIME key: seconds since the key was last read or written;
/// an error under an LFU policy, where no access time is kept.
pub fn object_idletime(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[2].clone();
    let now = srv.ks.now_ms;
    let lfu = srv.ks.access.lfu;
    let Some(o) = srv.ks.peek(c.db, &key) else {
        c.reply.null();
        return Ok(());
    };
    if lfu {
        // COMPAT: Redis's text.
        return Err(ReplyError::err(
            "An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    c.reply.int(o.idle_ms(now) / 1000);
    Ok(())
}

/// OBJECT FREQ key: the decayed LFU counter; an error unless an LFU
/// `maxmemory-policy` is selected.
pub fn object_freq(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[2].clone();
    let now = srv.ks.now_ms;
    let access = srv.ks.access;
    let Some(o) = srv.ks.peek(c.db, &key) else {
        c.reply.null();
        return Ok(());
    };
    if !access.lfu {
        // COMPAT: Redis's text.
        return Err(ReplyError::err(
            "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    c.reply.int(crate::evict::lfu_decayed(o.lru, access.decay_time, now) as i64);
    Ok(())
}

/// OBJECT HELP.
pub fn object_help(_srv: &mut Server, c: &mut Client) -> CmdResult {
    super::help_reply(
        c,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b"123"), Ok(123));
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"+5"), Ok(5));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"7\0junk"), Ok(7));
        for bad in [&b" 1"[..], b"1a", b"+", b"-", b"0x10", b"18446744073709551616", b"1 "] {
            assert!(parse_cursor(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    /// Random bytes never panic the cursor parser.
    #[test]
    fn random_cursors_never_panic() {
        let mut rng = crate::util::rand::Rng::with_seed(0xc0_75e1);
        for _ in 0..20_000 {
            let n = rng.below(24) as usize;
            const ALPHABET: &[u8] = b"0123456789+- \0x";
            let b: Vec<u8> = (0..n).map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize]).collect();
            let _ = parse_cursor(&b);
        }
    }
}
