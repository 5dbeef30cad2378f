//! String commands: SET and its variants, GET and its variants, counters,
//! ranges, APPEND and LCS.
//!
//! Mirrors Redis 7.0's t_string: option parsing rules (which combinations are
//! a syntax error), expire validation, the `proto-max-bulk-len` size guard,
//! and the keyspace events each command fires.

use bytes::Bytes;

use super::args;
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::db::notify;
use crate::server::Server;
use crate::types::value::{Str, Value};

/// SET/GETEX options (Redis's OBJ_* flags).
#[derive(Debug, Default, Clone, Copy)]
struct SetOpts {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    /// The expire argument's index and its kind.
    expire: Option<(usize, ExpireKind)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpireKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Parses SET (`for_set`) or GETEX options starting at `from`, with Redis's
/// rules: conflicting options are a syntax error.
fn parse_opts(c: &Client, from: usize, for_set: bool) -> Result<SetOpts, ReplyError> {
    let mut o = SetOpts::default();
    let mut j = from;
    while j < c.argc() {
        let a = c.arg(j);
        let has_next = j + 1 < c.argc();
        let no_expire = o.expire.is_none();
        if for_set && args::is(a, "nx") && !o.xx {
            o.nx = true;
        } else if for_set && args::is(a, "xx") && !o.nx {
            o.xx = true;
        } else if for_set && args::is(a, "get") {
            o.get = true;
        } else if for_set && args::is(a, "keepttl") && !o.persist && no_expire {
            o.keepttl = true;
        } else if !for_set && args::is(a, "persist") && no_expire && !o.keepttl {
            o.persist = true;
        } else if let Some(kind) = expire_kind(a) {
            if o.keepttl || o.persist || !has_next || o.expire.is_some_and(|(_, k)| k != kind) {
                return Err(ReplyError::Syntax);
            }
            o.expire = Some((j + 1, kind));
            j += 1;
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

fn expire_kind(a: &[u8]) -> Option<ExpireKind> {
    if args::is(a, "ex") {
        Some(ExpireKind::Ex)
    } else if args::is(a, "px") {
        Some(ExpireKind::Px)
    } else if args::is(a, "exat") {
        Some(ExpireKind::ExAt)
    } else if args::is(a, "pxat") {
        Some(ExpireKind::PxAt)
    } else {
        None
    }
}

/// Converts an expire argument to an absolute Unix time in ms, with Redis's
/// validation (`ERR invalid expire time in '<cmd>' command`).
fn expire_at_ms(srv: &Server, c: &Client, idx: usize, kind: ExpireKind) -> Result<i64, ReplyError> {
    let v = args::int(c.arg(idx))?;
    let cmd = String::from_utf8_lossy(c.arg(0)).to_lowercase();
    let seconds = matches!(kind, ExpireKind::Ex | ExpireKind::ExAt);
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(ReplyError::InvalidExpire(cmd));
    }
    let mut ms = if seconds { v * 1000 } else { v };
    if matches!(kind, ExpireKind::Ex | ExpireKind::Px) {
        ms = ms.checked_add(srv.clock.now_ms).ok_or_else(|| ReplyError::InvalidExpire(cmd.clone()))?;
    }
    if ms <= 0 {
        return Err(ReplyError::InvalidExpire(cmd));
    }
    Ok(ms)
}

/// Replies with the string at `key` (null if absent); WRONGTYPE for others.
fn reply_get(srv: &mut Server, c: &mut Client, key: &[u8]) -> CmdResult {
    match srv.ks.get(c.db, key) {
        None => c.reply.null(),
        Some(Value::Str(Str::Int(n))) => c.reply.bulk_int(*n),
        Some(Value::Str(Str::Bytes(s))) => c.reply.bulk(s),
        Some(Value::Str(Str::Raw(v))) => c.reply.bulk(v),
        #[allow(unreachable_patterns)]
        Some(_) => return Err(ReplyError::WrongType),
    }
    Ok(())
}

/// Fails with WRONGTYPE when `key` holds a non-string.
fn check_string(srv: &mut Server, db: usize, key: &[u8]) -> CmdResult {
    match srv.ks.get_mut(db, key) {
        None | Some(Value::Str(_)) => Ok(()),
        #[allow(unreachable_patterns)]
        Some(_) => Err(ReplyError::WrongType),
    }
}

/// The generic SET: stores `val` under `key` honouring NX/XX/GET/KEEPTTL and an
/// absolute expire. Replies +OK, null when NX/XX aborted, or the old value
/// with GET. Fires `set` (and `expire`).
fn set_generic(srv: &mut Server, c: &mut Client, o: SetOpts, expire_ms: Option<i64>) -> CmdResult {
    let key = c.argv[1].clone();
    let db = c.db;
    if o.get {
        check_string(srv, db, &key)?;
        reply_get(srv, c, &key)?;
    }
    let found = srv.ks.exists(db, &key);
    if (o.nx && found) || (o.xx && !found) {
        if !o.get {
            c.reply.null();
        }
        return Ok(());
    }
    let val = Value::Str(Str::from_bytes(&c.argv[2]));
    srv.ks.set(db, &key, val, o.keepttl);
    srv.ks.touch_write(db, &key);
    srv.ks.notify(notify::STRING, "set", db, &key);
    if let Some(at) = expire_ms {
        srv.ks.set_expire(db, &key, at);
        srv.ks.notify(notify::GENERIC, "expire", db, &key);
        // Replicas must not count a relative expiry from their own clock.
        srv.propagate_as(vec![
            Bytes::from_static(b"SET"),
            key,
            c.argv[2].clone(),
            Bytes::from_static(b"PXAT"),
            Bytes::from(at.to_string()),
        ]);
    } else if o.get {
        // GET changes nothing on the other side: leave every GET out.
        let argv = c.argv.iter().enumerate().filter(|(i, a)| *i < 3 || !args::is(a, "get")).map(|(_, a)| a.clone());
        srv.propagate_as(argv.collect());
    }
    if !o.get {
        c.reply.ok();
    }
    Ok(())
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL]
pub fn set(srv: &mut Server, c: &mut Client) -> CmdResult {
    let o = parse_opts(c, 3, true)?;
    let expire = match o.expire {
        Some((i, kind)) => Some(expire_at_ms(srv, c, i, kind)?),
        None => None,
    };
    set_generic(srv, c, o, expire)
}

/// SETNX key value: 1 if set, 0 if the key existed.
pub fn setnx(srv: &mut Server, c: &mut Client) -> CmdResult {
    let db = c.db;
    if srv.ks.exists(db, &c.argv[1]) {
        c.reply.int(0);
        return Ok(());
    }
    let val = Value::Str(Str::from_bytes(&c.argv[2]));
    srv.ks.set(db, &c.argv[1], val, false);
    srv.ks.touch_write(db, &c.argv[1]);
    srv.ks.notify(notify::STRING, "set", db, &c.argv[1]);
    c.reply.int(1);
    Ok(())
}

fn setex_generic(srv: &mut Server, c: &mut Client, kind: ExpireKind) -> CmdResult {
    let at = expire_at_ms(srv, c, 2, kind)?;
    // SETEX key seconds value: move the value into place for set_generic.
    c.argv.swap(2, 3);
    let r = set_generic(srv, c, SetOpts::default(), Some(at));
    c.argv.swap(2, 3);
    r
}

/// SETEX key seconds value.
pub fn setex(srv: &mut Server, c: &mut Client) -> CmdResult {
    setex_generic(srv, c, ExpireKind::Ex)
}

/// PSETEX key milliseconds value.
pub fn psetex(srv: &mut Server, c: &mut Client) -> CmdResult {
    setex_generic(srv, c, ExpireKind::Px)
}

/// GET key.
pub fn get(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    reply_get(srv, c, &key)
}

/// GETEX key [EX|PX|EXAT|PXAT t | PERSIST].
pub fn getex(srv: &mut Server, c: &mut Client) -> CmdResult {
    let o = parse_opts(c, 2, false)?;
    let key = c.argv[1].clone();
    let db = c.db;
    if srv.ks.get(db, &key).is_none() {
        c.reply.null();
        return Ok(());
    }
    check_string(srv, db, &key)?;
    let expire = match o.expire {
        Some((i, kind)) => Some((expire_at_ms(srv, c, i, kind)?, kind)),
        None => None,
    };
    reply_get(srv, c, &key)?;
    match expire {
        Some((at, ExpireKind::ExAt | ExpireKind::PxAt)) if at <= srv.clock.now_ms => {
            srv.ks.delete(db, &key);
            srv.ks.touch_write(db, &key);
            srv.ks.notify(notify::GENERIC, "del", db, &key);
            srv.propagate_as(vec![crate::propagate::words::deletion(srv.config.lazyfree_lazy_expire), key]);
        }
        Some((at, _)) => {
            srv.ks.set_expire(db, &key, at);
            srv.ks.touch_write(db, &key);
            srv.ks.notify(notify::GENERIC, "expire", db, &key);
            srv.propagate_as(vec![Bytes::from_static(b"PEXPIREAT"), key, Bytes::from(at.to_string())]);
        }
        None if o.persist && srv.ks.persist(db, &key) => {
            srv.ks.touch_write(db, &key);
            srv.ks.notify(notify::GENERIC, "persist", db, &key);
            srv.propagate_as(vec![Bytes::from_static(b"PERSIST"), key]);
        }
        None => {}
    }
    Ok(())
}

/// GETDEL key.
pub fn getdel(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let db = c.db;
    check_string(srv, db, &key)?;
    reply_get(srv, c, &key)?;
    if srv.ks.delete(db, &key) {
        srv.ks.touch_write(db, &key);
        srv.ks.notify(notify::GENERIC, "del", db, &key);
        srv.propagate_as(vec![crate::propagate::words::deletion(srv.config.lazyfree_lazy_user_del), key]);
    }
    Ok(())
}

/// GETSET key value.
pub fn getset(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let db = c.db;
    check_string(srv, db, &key)?;
    reply_get(srv, c, &key)?;
    srv.ks.set(db, &key, Value::Str(Str::from_bytes(&c.argv[2])), false);
    srv.ks.touch_write(db, &key);
    srv.ks.notify(notify::STRING, "set", db, &key);
    srv.propagate_as(vec![Bytes::from_static(b"SET"), key, c.argv[2].clone()]);
    Ok(())
}

/// MGET key [key ...]: non-strings read as null.
pub fn mget(srv: &mut Server, c: &mut Client) -> CmdResult {
    c.reply.array(c.argc() - 1);
    for i in 1..c.argc() {
        match srv.ks.get(c.db, &c.argv[i]) {
            Some(Value::Str(Str::Int(n))) => c.reply.bulk_int(*n),
            Some(Value::Str(Str::Bytes(s))) => c.reply.bulk(s),
            Some(Value::Str(Str::Raw(v))) => c.reply.bulk(v),
            #[allow(unreachable_patterns)]
            _ => c.reply.null(),
        }
    }
    Ok(())
}

fn mset_generic(srv: &mut Server, c: &mut Client, nx: bool) -> CmdResult {
    if c.argc().is_multiple_of(2) {
        return Err(ReplyError::WrongArity(if nx { "msetnx" } else { "mset" }.into()));
    }
    let db = c.db;
    if nx && (1..c.argc()).step_by(2).any(|i| srv.ks.exists(db, &c.argv[i])) {
        c.reply.int(0);
        return Ok(());
    }
    for i in (1..c.argc()).step_by(2) {
        srv.ks.set(db, &c.argv[i], Value::Str(Str::from_bytes(&c.argv[i + 1])), false);
        srv.ks.touch_write(db, &c.argv[i]);
        srv.ks.notify(notify::STRING, "set", db, &c.argv[i]);
    }
    if nx {
        c.reply.int(1);
    } else {
        c.reply.ok();
    }
    Ok(())
}

/// MSET key value [key value ...].
pub fn mset(srv: &mut Server, c: &mut Client) -> CmdResult {
    mset_generic(srv, c, false)
}

/// MSETNX key value [key value ...]: all or nothing.
pub fn msetnx(srv: &mut Server, c: &mut Client) -> CmdResult {
    mset_generic(srv, c, true)
}

/// The string at `key` for modification; creates nothing.
fn string_mut<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a mut Str>, ReplyError> {
    match srv.ks.get_mut(db, key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        #[allow(unreachable_patterns)]
        Some(_) => Err(ReplyError::WrongType),
    }
}

fn check_len(srv: &Server, total: u64) -> CmdResult {
    if total > srv.config.proto_max_bulk_len as u64 {
        return Err(ReplyError::StringTooLong);
    }
    Ok(())
}

fn incr_generic(srv: &mut Server, c: &mut Client, by: i64) -> CmdResult {
    let key = &c.argv[1];
    let db = c.db;
    // One lookup (and one access-time touch, as Redis) for read and write.
    let new = match string_mut(srv, db, key)? {
        Some(s) => {
            let new = s.as_int().ok_or(ReplyError::NotInteger)?.checked_add(by).ok_or(ReplyError::Overflow)?;
            *s = Str::Int(new);
            new
        }
        None => {
            srv.ks.set(db, key, Value::Str(Str::Int(by)), false);
            by
        }
    };
    srv.ks.touch_write(db, key);
    srv.ks.notify(notify::STRING, "incrby", db, key);
    c.reply.int(new);
    Ok(())
}

/// INCR key.
pub fn incr(srv: &mut Server, c: &mut Client) -> CmdResult {
    incr_generic(srv, c, 1)
}

/// DECR key.
pub fn decr(srv: &mut Server, c: &mut Client) -> CmdResult {
    incr_generic(srv, c, -1)
}

/// INCRBY key increment.
pub fn incrby(srv: &mut Server, c: &mut Client) -> CmdResult {
    let by = args::int(c.arg(2))?;
    incr_generic(srv, c, by)
}

/// DECRBY key decrement.
pub fn decrby(srv: &mut Server, c: &mut Client) -> CmdResult {
    let by = args::int(c.arg(2))?;
    if by == i64::MIN {
        // COMPAT: Redis's own wording for this single case.
        return Err(ReplyError::err("decrement would overflow"));
    }
    incr_generic(srv, c, -by)
}

/// INCRBYFLOAT key increment: replies and stores Redis's long-double text.
pub fn incrbyfloat(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let db = c.db;
    let by = args::float(c.arg(2))?;
    let cur = match string_mut(srv, db, &key)? {
        None => 0.0,
        Some(s) => {
            let mut scratch = Vec::new();
            crate::util::num::string2ld(s.as_bytes(&mut scratch)).ok_or(ReplyError::NotFloat)?
        }
    };
    let new = cur + by;
    if !new.is_finite() {
        return Err(ReplyError::err("increment would produce NaN or Infinity"));
    }
    let text = crate::util::num::format_long_double(new);
    let val = Str::Bytes(crate::types::sds::Sds::from(&text[..]));
    match string_mut(srv, db, &key)? {
        Some(s) => *s = val,
        None => srv.ks.set(db, &key, Value::Str(val), false),
    }
    srv.ks.touch_write(db, &key);
    srv.ks.notify(notify::STRING, "incrbyfloat", db, &key);
    c.reply.bulk(&text);
    // The final value, so float formatting never makes a replica differ.
    srv.propagate_as(vec![
        Bytes::from_static(b"SET"),
        key,
        Bytes::copy_from_slice(&text),
        Bytes::from_static(b"KEEPTTL"),
    ]);
    Ok(())
}

/// APPEND key value: the new length.
pub fn append(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let db = c.db;
    let extra = c.argv[2].clone();
    let len = match string_mut(srv, db, &key)? {
        None => {
            srv.ks.set(db, &key, Value::Str(Str::from_bytes(&extra)), false);
            extra.len()
        }
        Some(s) => {
            let cur = s.len();
            check_len(srv, (cur + extra.len()) as u64)?;
            let Some(s) = string_mut(srv, db, &key)? else { return Ok(()) };
            let buf = s.make_raw();
            buf.extend_from_slice(&extra);
            buf.len()
        }
    };
    srv.ks.touch_write(db, &key);
    srv.ks.notify(notify::STRING, "append", db, &key);
    c.reply.int(len as i64);
    Ok(())
}

/// STRLEN key.
pub fn strlen(srv: &mut Server, c: &mut Client) -> CmdResult {
    let n = match string_mut(srv, c.db, &c.argv[1].clone())? {
        None => 0,
        Some(s) => s.len(),
    };
    c.reply.int(n as i64);
    Ok(())
}

/// GETRANGE key start end (and SUBSTR): Redis's clamping of negative and
/// out-of-range offsets.
pub fn getrange(srv: &mut Server, c: &mut Client) -> CmdResult {
    let start = args::int(c.arg(2))?;
    let end = args::int(c.arg(3))?;
    let key = c.argv[1].clone();
    let bytes = match srv.ks.get(c.db, &key) {
        None => {
            c.reply.bulk(b"");
            return Ok(());
        }
        Some(Value::Str(s)) => s.to_vec(),
        #[allow(unreachable_patterns)]
        Some(_) => return Err(ReplyError::WrongType),
    };
    let len = bytes.len() as i64;
    if start < 0 && end < 0 && start > end {
        c.reply.bulk(b"");
        return Ok(());
    }
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    if s < 0 {
        s = 0;
    }
    if e < 0 {
        e = 0;
    }
    if e >= len {
        e = len - 1;
    }
    if s > e || len == 0 {
        c.reply.bulk(b"");
    } else {
        c.reply.bulk(&bytes[s as usize..=e as usize]);
    }
    Ok(())
}

/// SETRANGE key offset value: the new length.
pub fn setrange(srv: &mut Server, c: &mut Client) -> CmdResult {
    let offset = args::int(c.arg(2))?;
    if offset < 0 {
        return Err(ReplyError::err("offset is out of range"));
    }
    let key = c.argv[1].clone();
    let value = c.argv[3].clone();
    let db = c.db;
    let offset = offset as usize;
    let new_len = match string_mut(srv, db, &key)? {
        None => {
            if value.is_empty() {
                c.reply.int(0);
                return Ok(());
            }
            check_len(srv, (offset + value.len()) as u64)?;
            let mut buf = vec![0u8; offset + value.len()];
            buf[offset..].copy_from_slice(&value);
            let n = buf.len();
            srv.ks.set(db, &key, Value::Str(Str::Raw(Box::new(buf))), false);
            n
        }
        Some(s) => {
            let cur = s.len();
            if value.is_empty() {
                c.reply.int(cur as i64);
                return Ok(());
            }
            check_len(srv, (offset + value.len()) as u64)?;
            let Some(s) = string_mut(srv, db, &key)? else { return Ok(()) };
            let buf = s.make_raw();
            if buf.len() < offset + value.len() {
                buf.resize(offset + value.len(), 0);
            }
            buf[offset..offset + value.len()].copy_from_slice(&value);
            buf.len()
        }
    };
    srv.ks.touch_write(db, &key);
    srv.ks.notify(notify::STRING, "setrange", db, &key);
    c.reply.int(new_len as i64);
    Ok(())
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN].
pub fn lcs(srv: &mut Server, c: &mut Client) -> CmdResult {
    let fetch = |srv: &mut Server, key: &[u8]| -> Result<Vec<u8>, ReplyError> {
        match srv.ks.get(c.db, key) {
            None => Ok(Vec::new()),
            Some(Value::Str(s)) => Ok(s.to_vec()),
            #[allow(unreachable_patterns)]
            Some(_) => Err(ReplyError::other("WRONGTYPE The specified keys must hold string values")),
        }
    };
    let a = fetch(srv, &c.argv[1].clone())?;
    let b = fetch(srv, &c.argv[2].clone())?;
    let (mut getlen, mut getidx, mut withlen) = (false, false, false);
    let mut minlen: i64 = 0;
    let mut j = 3;
    while j < c.argc() {
        let opt = c.arg(j);
        if args::is(opt, "idx") {
            getidx = true;
        } else if args::is(opt, "len") {
            getlen = true;
        } else if args::is(opt, "withmatchlen") {
            withlen = true;
        } else if args::is(opt, "minmatchlen") && j + 1 < c.argc() {
            minlen = args::int(c.arg(j + 1))?.max(0);
            j += 1;
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    if getidx && getlen {
        return Err(ReplyError::err("If you want both the length and indexes, please just use IDX."));
    }
    let cells = (a.len() as u64 + 1).saturating_mul(b.len() as u64 + 1);
    if cells.saturating_mul(4) > srv.config.proto_max_bulk_len as u64 {
        return Err(ReplyError::err("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"));
    }
    // Dynamic programming table of LCS lengths, (a+1) x (b+1).
    let w = b.len() + 1;
    let mut t = vec![0u32; (a.len() + 1) * w];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let total = t[a.len() * w + b.len()] as usize;
    if getlen {
        c.reply.int(total as i64);
        return Ok(());
    }
    // Walk back from the end collecting the LCS and the matching ranges: a
    // match adjacent (in both strings) to the previous one extends its range.
    type Range = ((usize, usize), (usize, usize));
    let mut out = vec![0u8; total];
    let mut idx = total;
    let (mut i, mut j) = (a.len(), b.len());
    let mut ranges: Vec<(Range, usize)> = Vec::new();
    let mut cur: Option<Range> = None;
    let emit = |r: Range, ranges: &mut Vec<(Range, usize)>| {
        let l = r.0 .1 - r.0 .0 + 1;
        if l as i64 >= minlen {
            ranges.push((r, l));
        }
    };
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            idx -= 1;
            out[idx] = a[i - 1];
            let (pi, pj) = (i - 1, j - 1);
            match &mut cur {
                Some((ra, rb)) if ra.0 == pi + 1 && rb.0 == pj + 1 => {
                    ra.0 = pi;
                    rb.0 = pj;
                }
                _ => {
                    if let Some(r) = cur.take() {
                        emit(r, &mut ranges);
                    }
                    cur = Some(((pi, pi), (pj, pj)));
                }
            }
            i -= 1;
            j -= 1;
        } else if t[(i - 1) * w + j] > t[i * w + j - 1] {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    if let Some(r) = cur.take() {
        emit(r, &mut ranges);
    }
    if !getidx {
        c.reply.bulk(&out);
        return Ok(());
    }
    c.reply.map(2);
    c.reply.bulk(b"matches");
    c.reply.array(ranges.len());
    for ((ra, rb), l) in &ranges {
        c.reply.array(if withlen { 3 } else { 2 });
        c.reply.array(2);
        c.reply.int(ra.0 as i64);
        c.reply.int(ra.1 as i64);
        c.reply.array(2);
        c.reply.int(rb.0 as i64);
        c.reply.int(rb.1 as i64);
        if withlen {
            c.reply.int(*l as i64);
        }
    }
    c.reply.bulk(b"len");
    c.reply.int(total as i64);
    Ok(())
}
