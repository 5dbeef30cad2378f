//! Sorted set commands: ZADD and ZINCRBY, single-member reads (ZSCORE,
//! ZMSCORE, ZRANK, ZREVRANK, ZCARD), counts, every ZRANGE form including
//! ZRANGESTORE, the ZREMRANGEBY* family, the algebra (ZUNION, ZINTER, ZDIFF,
//! their STORE forms, ZINTERCARD), ZRANDMEMBER, the pops (ZPOPMIN/MAX,
//! ZMPOP and the blocking forms' serve-now path) and ZSCAN.
//!
//! Mirrors Redis 7.0's t_zset: option rules and their exact error texts,
//! RESP2/RESP3 reply shapes (scores as `%.17g` bulk strings or RESP3
//! doubles, WITHSCORES pairs nested in RESP3), the keyspace events, and
//! deleting a set once it empties. Encodings and ranges live in
//! `types::zset`. Blocking is not available yet: the B* commands serve at
//! once when they can and otherwise fail (`blocking_pop_now` is the part a
//! future blocking layer calls when a key is served).

use super::args;
use super::set::{positive_long, reply_scan, scan_opts};
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::db::notify;
use crate::server::Server;
use crate::types::set::Set;
use crate::types::value::Value;
use crate::types::zset::{AddFlags, AddOutcome, LexRange, ScoreRange, ZLimits, ZSet};
use crate::util::num::{format_double, string2d, string2ll};
use crate::util::rand::Rng;

/// COMPAT: zslParseRange failure.
const ERR_NOT_FLOAT_RANGE: &str = "min or max is not a float";
/// COMPAT: zslParseLexRange failure.
const ERR_NOT_LEX_RANGE: &str = "min or max not valid string range item";

fn limits(srv: &Server) -> ZLimits {
    ZLimits {
        max_entries: srv.config.zset_max_listpack_entries.max(0) as usize,
        max_value: srv.config.zset_max_listpack_value.max(0) as usize,
    }
}

/// The sorted set at `key` for reading: None when missing, WRONGTYPE for others.
fn read_zset<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a ZSet>, ReplyError> {
    match srv.ks.get(db, key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(ReplyError::WrongType),
    }
}

/// The sorted set at `key` for writing: None when missing, WRONGTYPE for others.
fn write_zset<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a mut ZSet>, ReplyError> {
    match srv.ks.get_mut(db, key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(ReplyError::WrongType),
    }
}

/// A score reply: `%.17g` text, a RESP3 double or a RESP2 bulk string.
fn reply_score(c: &mut Client, s: f64) {
    c.reply.double_text(&format_double(s));
}

/// Parses a score argument (`ERR value is not a valid float`).
fn parse_score(arg: &[u8]) -> Result<f64, ReplyError> {
    string2d(arg).ok_or(ReplyError::NotFloat)
}

/// Deletes `key` when its sorted set is empty, firing `del`.
fn delete_if_empty(srv: &mut Server, db: usize, key: &[u8]) -> bool {
    let empty = matches!(srv.ks.dbs[db].dict.get(key).map(|o| &o.value), Some(Value::ZSet(z)) if z.is_empty());
    if empty {
        srv.ks.delete(db, key);
        srv.ks.notify(notify::GENERIC, "del", db, key);
    }
    empty
}

/// A long argument in `[min, max]`; `msg` replaces every error text when
/// given (Redis's getRangeLongFromObjectOrReply).
fn range_long(arg: &[u8], min: i64, max: i64, msg: Option<&str>) -> Result<i64, ReplyError> {
    match (string2ll(arg), msg) {
        (Some(n), _) if (min..=max).contains(&n) => Ok(n),
        (_, Some(m)) => Err(ReplyError::err(m)),
        (None, None) => Err(ReplyError::NotInteger),
        // COMPAT: the range error's wording.
        (Some(_), None) => Err(ReplyError::err(format!("value is out of range, value must between {min} and {max}"))),
    }
}

// ------------------------------------------------------------------ ZADD

fn zadd_generic(srv: &mut Server, c: &mut Client, incr_cmd: bool) -> CmdResult {
    let mut f = AddFlags { incr: incr_cmd, ..AddFlags::default() };
    let mut ch = false;
    let mut idx = 2;
    while idx < c.argc() {
        let o = c.arg(idx);
        if args::is(o, "nx") {
            f.nx = true;
        } else if args::is(o, "xx") {
            f.xx = true;
        } else if args::is(o, "ch") {
            ch = true;
        } else if args::is(o, "incr") {
            f.incr = true;
        } else if args::is(o, "gt") {
            f.gt = true;
        } else if args::is(o, "lt") {
            f.lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let rest = c.argc() - idx;
    if rest == 0 || !rest.is_multiple_of(2) {
        return Err(ReplyError::Syntax);
    }
    let elements = rest / 2;
    // COMPAT: ZADD's option conflict errors.
    if f.nx && f.xx {
        return Err(ReplyError::err("XX and NX options at the same time are not compatible"));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(ReplyError::err("GT, LT, and/or NX options at the same time are not compatible"));
    }
    if f.incr && elements > 1 {
        return Err(ReplyError::err("INCR option supports a single increment-element pair"));
    }
    let scores = (0..elements).map(|j| parse_score(c.arg(idx + 2 * j))).collect::<Result<Vec<f64>, _>>()?;
    let db = c.db;
    let key = c.argv[1].clone();
    let lim = limits(srv);
    let exists = write_zset(srv, db, &key)?.is_some();
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut score = 0.0;
    let mut nan = false;
    if exists || !f.xx {
        if !exists {
            srv.ks.set(db, &key, Value::ZSet(Box::new(ZSet::new_for(lim, c.arg(idx + 1).len()))), false);
        }
        let Some(z) = write_zset(srv, db, &key)? else { return Err(ReplyError::NoSuchKey) };
        for (j, &s) in scores.iter().enumerate() {
            match z.add(&c.argv[idx + 1 + 2 * j], s, f, lim) {
                Err(_) => {
                    nan = true;
                    break;
                }
                Ok(AddOutcome::Added(v)) => {
                    added += 1;
                    processed += 1;
                    score = v;
                }
                Ok(AddOutcome::Updated(v)) => {
                    updated += 1;
                    processed += 1;
                    score = v;
                }
                Ok(AddOutcome::Same(v)) => {
                    processed += 1;
                    score = v;
                }
                Ok(AddOutcome::Nop) => {}
            }
        }
        if !exists && z.is_empty() {
            srv.ks.delete(db, &key);
        }
    }
    if added + updated > 0 {
        srv.ks.touch_write(db, &key);
        srv.ks.notify(notify::ZSET, if f.incr { "zincr" } else { "zadd" }, db, &key);
    }
    if nan {
        // COMPAT: zsetAdd's NaN error.
        return Err(ReplyError::err("resulting score is not a number (NaN)"));
    }
    if f.incr {
        if processed > 0 {
            reply_score(c, score);
        } else {
            c.reply.null();
        }
    } else {
        c.reply.int(if ch { added + updated } else { added });
    }
    Ok(())
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]:
/// members added (with CH: added or changed); with INCR the new score, or
/// null when a condition refused. Fires `zadd` (`zincr` with INCR).
pub fn zadd(srv: &mut Server, c: &mut Client) -> CmdResult {
    zadd_generic(srv, c, false)
}

/// ZINCRBY key increment member: the new score. Fires `zincr`.
pub fn zincrby(srv: &mut Server, c: &mut Client) -> CmdResult {
    zadd_generic(srv, c, true)
}

/// ZREM key member [member ...]: how many were removed. Fires `zrem` (and
/// `del` when the set empties).
pub fn zrem(srv: &mut Server, c: &mut Client) -> CmdResult {
    let db = c.db;
    let key = c.argv[1].clone();
    let Some(z) = write_zset(srv, db, &key)? else {
        c.reply.int(0);
        return Ok(());
    };
    let mut deleted = 0;
    for m in &c.argv[2..] {
        if z.remove(m) {
            deleted += 1;
        }
        if z.is_empty() {
            break;
        }
    }
    if deleted > 0 {
        srv.ks.notify(notify::ZSET, "zrem", db, &key);
        delete_if_empty(srv, db, &key);
        srv.ks.touch_write(db, &key);
    }
    c.reply.int(deleted);
    Ok(())
}

/// ZCARD key.
pub fn zcard(srv: &mut Server, c: &mut Client) -> CmdResult {
    let n = read_zset(srv, c.db, &c.argv[1].clone())?.map_or(0, ZSet::len);
    c.reply.int(n as i64);
    Ok(())
}

/// ZSCORE key member: the score, or null.
pub fn zscore(srv: &mut Server, c: &mut Client) -> CmdResult {
    match read_zset(srv, c.db, &c.argv[1].clone())?.and_then(|z| z.score(c.arg(2))) {
        Some(s) => reply_score(c, s),
        None => c.reply.null(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]: an array of scores or nulls.
pub fn zmscore(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let z = read_zset(srv, c.db, &key)?;
    c.reply.array(c.argc() - 2);
    for i in 2..c.argc() {
        match z.and_then(|z| z.score(&c.argv[i])) {
            Some(s) => reply_score(c, s),
            None => c.reply.null(),
        }
    }
    Ok(())
}

fn zrank_generic(srv: &mut Server, c: &mut Client, rev: bool) -> CmdResult {
    let key = c.argv[1].clone();
    let z = read_zset(srv, c.db, &key)?;
    match z.and_then(|z| z.rank(c.arg(2)).map(|(r, _)| if rev { z.len() - 1 - r } else { r })) {
        Some(r) => c.reply.int(r as i64),
        None => c.reply.null(),
    }
    Ok(())
}

/// ZRANK key member: 0-based rank by ascending score, or null.
pub fn zrank(srv: &mut Server, c: &mut Client) -> CmdResult {
    zrank_generic(srv, c, false)
}

/// ZREVRANK key member: 0-based rank by descending score, or null.
pub fn zrevrank(srv: &mut Server, c: &mut Client) -> CmdResult {
    zrank_generic(srv, c, true)
}

/// ZCOUNT key min max: members with scores in the range.
pub fn zcount(srv: &mut Server, c: &mut Client) -> CmdResult {
    let r = ScoreRange::parse(c.arg(2), c.arg(3)).ok_or_else(|| ReplyError::err(ERR_NOT_FLOAT_RANGE))?;
    let n = read_zset(srv, c.db, &c.argv[1].clone())?.map_or(0, |z| {
        let (lo, hi) = z.score_ranks(&r);
        hi - lo
    });
    c.reply.int(n as i64);
    Ok(())
}

/// ZLEXCOUNT key min max: members in the lexicographic range.
pub fn zlexcount(srv: &mut Server, c: &mut Client) -> CmdResult {
    let r = LexRange::parse(c.arg(2), c.arg(3)).ok_or_else(|| ReplyError::err(ERR_NOT_LEX_RANGE))?;
    let n = read_zset(srv, c.db, &c.argv[1].clone())?.map_or(0, |z| {
        let (lo, hi) = z.lex_ranks(&r);
        hi - lo
    });
    c.reply.int(n as i64);
    Ok(())
}

// ----------------------------------------------------------------- ranges

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

/// A parsed range request: which elements, before looking at the data.
enum RangeSpec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Where a range request starts and how far it goes, in ranks: `count`
/// elements from rank `start`, walking toward rank 0 when `rev`.
struct Walk {
    start: usize,
    count: usize,
    rev: bool,
}

/// Turns a range request into a walk over `z`, with Redis's index rules and
/// LIMIT semantics (negative offset: nothing; negative count: no limit).
fn plan_walk(z: &ZSet, spec: &RangeSpec, rev: bool, offset: i64, limit: i64) -> Walk {
    let len = z.len();
    let empty = Walk { start: 0, count: 0, rev };
    let (lo, hi) = match spec {
        RangeSpec::Rank(start, end) => {
            let llen = len as i64;
            let mut s = if *start < 0 { llen + start } else { *start };
            let mut e = if *end < 0 { llen + end } else { *end };
            if s < 0 {
                s = 0;
            }
            if s > e || s >= llen {
                return empty;
            }
            if e >= llen {
                e = llen - 1;
            }
            let n = (e - s + 1) as usize;
            return if rev {
                Walk { start: len - 1 - s as usize, count: n, rev }
            } else {
                Walk { start: s as usize, count: n, rev }
            };
        }
        RangeSpec::Score(r) => z.score_ranks(r),
        RangeSpec::Lex(r) => z.lex_ranks(r),
    };
    if offset < 0 || (offset > 0 && offset as usize >= len) {
        return empty;
    }
    let avail = (hi - lo).saturating_sub(offset as usize);
    let count = if limit < 0 { avail } else { avail.min(limit as usize) };
    if count == 0 {
        return empty;
    }
    let start = if rev { hi - 1 - offset as usize } else { lo + offset as usize };
    Walk { start, count, rev }
}

/// Replies with `count` elements of an iterator, in Redis's shape: a flat
/// array (member, score pairs in RESP2 with scores), nested pairs in RESP3.
fn reply_elements<'a>(c: &mut Client, n: usize, withscores: bool, items: impl Iterator<Item = (&'a [u8], f64)>) {
    let resp3 = c.reply.resp >= 3;
    c.reply.array(if withscores && !resp3 { n * 2 } else { n });
    for (m, s) in items.take(n) {
        if withscores && resp3 {
            c.reply.array(2);
        }
        c.reply.bulk(m);
        if withscores {
            reply_score(c, s);
        }
    }
}

/// Stores `items` as a sorted set at `dst` (overwriting any type) and
/// replies with its size, firing `event`; an empty result deletes `dst`.
fn store_zset(srv: &mut Server, c: &mut Client, dst: &[u8], items: Vec<(Vec<u8>, f64)>, event: &'static str) {
    let db = c.db;
    let n = items.len();
    if n == 0 {
        if srv.ks.delete(db, dst) {
            srv.ks.touch_write(db, dst);
            srv.ks.notify(notify::GENERIC, "del", db, dst);
        }
        c.reply.int(0);
        return;
    }
    let lim = limits(srv);
    let max_len = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut z = ZSet::with_hint(lim, n, max_len);
    for (m, s) in &items {
        let _ = z.add(m, *s, AddFlags::default(), lim);
    }
    srv.ks.set(db, dst, Value::ZSet(Box::new(z)), false);
    srv.ks.touch_write(db, dst);
    srv.ks.notify(notify::ZSET, event, db, dst);
    c.reply.int(n as i64);
}

/// The shared body of ZRANGE, ZRANGESTORE and the older Z[REV]RANGE[BY*]
/// forms. `key_idx` is the source key's argument; `dst` makes it a store.
fn zrange_generic(
    srv: &mut Server,
    c: &mut Client,
    key_idx: usize,
    dst: Option<&[u8]>,
    mut rtype: RangeType,
    mut dir: Direction,
) -> CmdResult {
    let store = dst.is_some();
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = key_idx + 3;
    while j < c.argc() {
        let left = c.argc() - j - 1;
        let a = c.arg(j);
        if !store && args::is(a, "withscores") {
            withscores = true;
        } else if args::is(a, "limit") && left >= 2 {
            offset = args::int(c.arg(j + 1))?;
            limit = args::int(c.arg(j + 2))?;
            j += 2;
        } else if dir == Direction::Auto && args::is(a, "rev") {
            dir = Direction::Reverse;
        } else if rtype == RangeType::Auto && args::is(a, "bylex") {
            rtype = RangeType::Lex;
        } else if rtype == RangeType::Auto && args::is(a, "byscore") {
            rtype = RangeType::Score;
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    let rev = dir == Direction::Reverse;
    if rtype == RangeType::Auto {
        rtype = RangeType::Rank;
    }
    // COMPAT: ZRANGE's option conflict errors.
    if limit != -1 && rtype == RangeType::Rank {
        return Err(ReplyError::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rtype == RangeType::Lex {
        return Err(ReplyError::err("syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    let (mut min_i, mut max_i) = (key_idx + 1, key_idx + 2);
    if rev && rtype != RangeType::Rank {
        std::mem::swap(&mut min_i, &mut max_i);
    }
    let spec = match rtype {
        RangeType::Score => RangeSpec::Score(
            ScoreRange::parse(c.arg(min_i), c.arg(max_i)).ok_or_else(|| ReplyError::err(ERR_NOT_FLOAT_RANGE))?,
        ),
        RangeType::Lex => RangeSpec::Lex(
            LexRange::parse(c.arg(min_i), c.arg(max_i)).ok_or_else(|| ReplyError::err(ERR_NOT_LEX_RANGE))?,
        ),
        RangeType::Rank | RangeType::Auto => RangeSpec::Rank(args::int(c.arg(min_i))?, args::int(c.arg(max_i))?),
    };
    let key = c.argv[key_idx].clone();
    let Some(z) = read_zset(srv, c.db, &key)? else {
        match dst {
            Some(d) => store_zset(srv, c, d, Vec::new(), "zrangestore"),
            None => c.reply.array(0),
        }
        return Ok(());
    };
    let w = plan_walk(z, &spec, rev, offset, limit);
    match dst {
        None => {
            reply_elements(c, w.count, withscores, z.iter_from(w.start, w.rev));
        }
        Some(d) => {
            let items: Vec<(Vec<u8>, f64)> =
                z.iter_from(w.start, w.rev).take(w.count).map(|(m, s)| (m.to_vec(), s)).collect();
            store_zset(srv, c, d, items, "zrangestore");
        }
    }
    Ok(())
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES].
pub fn zrange(srv: &mut Server, c: &mut Client) -> CmdResult {
    zrange_generic(srv, c, 1, None, RangeType::Auto, Direction::Auto)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]:
/// the stored size. Fires `zrangestore` (or `del` for an empty result).
pub fn zrangestore(srv: &mut Server, c: &mut Client) -> CmdResult {
    let dst = c.argv[1].clone();
    zrange_generic(srv, c, 2, Some(&dst), RangeType::Auto, Direction::Auto)
}

/// ZREVRANGE key start stop [WITHSCORES].
pub fn zrevrange(srv: &mut Server, c: &mut Client) -> CmdResult {
    zrange_generic(srv, c, 1, None, RangeType::Rank, Direction::Reverse)
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count].
pub fn zrangebyscore(srv: &mut Server, c: &mut Client) -> CmdResult {
    zrange_generic(srv, c, 1, None, RangeType::Score, Direction::Forward)
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count].
pub fn zrevrangebyscore(srv: &mut Server, c: &mut Client) -> CmdResult {
    zrange_generic(srv, c, 1, None, RangeType::Score, Direction::Reverse)
}

/// ZRANGEBYLEX key min max [LIMIT offset count].
pub fn zrangebylex(srv: &mut Server, c: &mut Client) -> CmdResult {
    zrange_generic(srv, c, 1, None, RangeType::Lex, Direction::Forward)
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count].
pub fn zrevrangebylex(srv: &mut Server, c: &mut Client) -> CmdResult {
    zrange_generic(srv, c, 1, None, RangeType::Lex, Direction::Reverse)
}

fn zremrange_generic(srv: &mut Server, c: &mut Client, rtype: RangeType) -> CmdResult {
    let (spec, event) = match rtype {
        RangeType::Score => (
            RangeSpec::Score(
                ScoreRange::parse(c.arg(2), c.arg(3)).ok_or_else(|| ReplyError::err(ERR_NOT_FLOAT_RANGE))?,
            ),
            "zremrangebyscore",
        ),
        RangeType::Lex => (
            RangeSpec::Lex(LexRange::parse(c.arg(2), c.arg(3)).ok_or_else(|| ReplyError::err(ERR_NOT_LEX_RANGE))?),
            "zremrangebylex",
        ),
        RangeType::Rank | RangeType::Auto => {
            (RangeSpec::Rank(args::int(c.arg(2))?, args::int(c.arg(3))?), "zremrangebyrank")
        }
    };
    let db = c.db;
    let key = c.argv[1].clone();
    let Some(z) = write_zset(srv, db, &key)? else {
        c.reply.int(0);
        return Ok(());
    };
    let w = plan_walk(z, &spec, false, 0, -1);
    let deleted = z.remove_rank_range(w.start, w.start + w.count);
    if deleted > 0 {
        srv.ks.notify(notify::ZSET, event, db, &key);
        delete_if_empty(srv, db, &key);
        srv.ks.touch_write(db, &key);
    }
    c.reply.int(deleted as i64);
    Ok(())
}

/// ZREMRANGEBYRANK key start stop: how many were removed.
pub fn zremrangebyrank(srv: &mut Server, c: &mut Client) -> CmdResult {
    zremrange_generic(srv, c, RangeType::Rank)
}

/// ZREMRANGEBYSCORE key min max: how many were removed.
pub fn zremrangebyscore(srv: &mut Server, c: &mut Client) -> CmdResult {
    zremrange_generic(srv, c, RangeType::Score)
}

/// ZREMRANGEBYLEX key min max: how many were removed.
pub fn zremrangebylex(srv: &mut Server, c: &mut Client) -> CmdResult {
    zremrange_generic(srv, c, RangeType::Lex)
}

// ---------------------------------------------------------------- algebra

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ZOp {
    Union,
    Inter,
    Diff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    fn apply(self, target: &mut f64, v: f64) {
        match self {
            Aggregate::Sum => {
                *target += v;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if v < *target {
                    *target = v;
                }
            }
            Aggregate::Max => {
                if v > *target {
                    *target = v;
                }
            }
        }
    }
}

/// An input of the algebra: a sorted set, or a plain set whose members all
/// score 1.
#[derive(Clone, Copy)]
enum Src<'a> {
    Z(&'a ZSet),
    S(&'a Set),
}

impl<'a> Src<'a> {
    fn len(&self) -> usize {
        match self {
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Z(z) => z.score(m),
            Src::S(s) => s.contains(m).then_some(1.0),
        }
    }

    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Src::Z(z) => z.iter().for_each(|(m, s)| f(m, s)),
            Src::S(s) => s.iter().for_each(|m| f(&m.to_vec(), 1.0)),
        }
    }

    fn same(&self, other: &Src<'_>) -> bool {
        match (self, other) {
            (Src::Z(a), Src::Z(b)) => std::ptr::eq(*a, *b),
            (Src::S(a), Src::S(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }
}

/// Sorts an algebra result into `(score, member)` order.
fn sort_result(v: &mut [(Vec<u8>, f64)]) {
    v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
}

fn zsetop_generic(
    srv: &mut Server,
    c: &mut Client,
    dst: Option<&[u8]>,
    numkeys_idx: usize,
    op: ZOp,
    card_only: bool,
) -> CmdResult {
    let setnum = args::int(c.arg(numkeys_idx))?;
    if setnum < 1 {
        // COMPAT: the numkeys error names the command.
        return Err(ReplyError::err(format!(
            "at least 1 input key is needed for '{}' command",
            String::from_utf8_lossy(c.arg(0)).to_lowercase()
        )));
    }
    let setnum = setnum as usize;
    if setnum > c.argc() - (numkeys_idx + 1) {
        return Err(ReplyError::Syntax);
    }
    let db = c.db;
    let keys: Vec<bytes::Bytes> = c.argv[numkeys_idx + 1..numkeys_idx + 1 + setnum].to_vec();
    for k in &keys {
        match srv.ks.get(db, k) {
            None | Some(Value::ZSet(_)) | Some(Value::Set(_)) => {}
            Some(_) => return Err(ReplyError::WrongType),
        }
    }
    let mut weights = vec![1.0f64; setnum];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0usize;
    let mut j = numkeys_idx + 1 + setnum;
    while j < c.argc() {
        let remaining = c.argc() - j;
        let a = c.arg(j);
        if op != ZOp::Diff && !card_only && remaining > setnum && args::is(a, "weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                // COMPAT: the weight parse error.
                *w = string2d(c.arg(j + 1 + i)).ok_or_else(|| ReplyError::err("weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if op != ZOp::Diff && !card_only && remaining >= 2 && args::is(a, "aggregate") {
            let v = c.arg(j + 1);
            agg = if args::is(v, "sum") {
                Aggregate::Sum
            } else if args::is(v, "min") {
                Aggregate::Min
            } else if args::is(v, "max") {
                Aggregate::Max
            } else {
                return Err(ReplyError::Syntax);
            };
            j += 2;
        } else if dst.is_none() && !card_only && args::is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && args::is(a, "limit") {
            limit = positive_long(c.arg(j + 1), Some("LIMIT can't be negative"))? as usize;
            j += 2;
        } else {
            return Err(ReplyError::Syntax);
        }
    }
    let d = &srv.ks.dbs[db].dict;
    let mut srcs: Vec<(Option<Src<'_>>, f64)> = keys
        .iter()
        .zip(&weights)
        .map(|(k, w)| {
            let s = match d.get(k).map(|o| &o.value) {
                Some(Value::ZSet(z)) => Some(Src::Z(z)),
                Some(Value::Set(s)) => Some(Src::S(s)),
                _ => None,
            };
            (s, *w)
        })
        .collect();
    if op != ZOp::Diff {
        srcs.sort_by_key(|(s, _)| s.map_or(0, |s| s.len()));
    }
    let mut out: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut cardinality = 0usize;
    match op {
        ZOp::Inter => {
            if let (Some(first), w0) = srcs[0] {
                let mut stop = false;
                first.for_each(|m, s| {
                    if stop {
                        return;
                    }
                    let mut score = w0 * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for (other, w) in &srcs[1..] {
                        let v = match other {
                            Some(o) if o.same(&first) => s * w,
                            Some(o) => match o.score(m) {
                                Some(v) => v * w,
                                None => return,
                            },
                            None => return,
                        };
                        agg.apply(&mut score, v);
                    }
                    if card_only {
                        cardinality += 1;
                        if limit != 0 && cardinality >= limit {
                            stop = true;
                        }
                    } else {
                        out.push((m.to_vec(), score));
                    }
                });
            }
        }
        ZOp::Union => {
            let mut acc: std::collections::HashMap<Vec<u8>, f64> = std::collections::HashMap::new();
            for (s, w) in &srcs {
                let Some(s) = s else { continue };
                s.for_each(|m, sc| {
                    let mut score = w * sc;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(t) => agg.apply(t, score),
                        None => {
                            acc.insert(m.to_vec(), score);
                        }
                    }
                });
            }
            out = acc.into_iter().collect();
        }
        ZOp::Diff => {
            if let (Some(first), _) = srcs[0] {
                let others: Vec<Src<'_>> = srcs[1..].iter().filter_map(|(s, _)| *s).collect();
                if !others.iter().any(|o| o.same(&first)) {
                    first.for_each(|m, s| {
                        if !others.iter().any(|o| o.score(m).is_some()) {
                            out.push((m.to_vec(), s));
                        }
                    });
                }
            }
        }
    }
    if card_only {
        c.reply.int(cardinality as i64);
        return Ok(());
    }
    sort_result(&mut out);
    match dst {
        Some(dst) => {
            let event = match op {
                ZOp::Union => "zunionstore",
                ZOp::Inter => "zinterstore",
                ZOp::Diff => "zdiffstore",
            };
            store_zset(srv, c, dst, out, event);
        }
        None => {
            let n = out.len();
            reply_elements(c, n, withscores, out.iter().map(|(m, s)| (&m[..], *s)));
        }
    }
    Ok(())
}

/// ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES].
pub fn zunion(srv: &mut Server, c: &mut Client) -> CmdResult {
    zsetop_generic(srv, c, None, 1, ZOp::Union, false)
}

/// ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES].
pub fn zinter(srv: &mut Server, c: &mut Client) -> CmdResult {
    zsetop_generic(srv, c, None, 1, ZOp::Inter, false)
}

/// ZDIFF numkeys key [key ...] [WITHSCORES].
pub fn zdiff(srv: &mut Server, c: &mut Client) -> CmdResult {
    zsetop_generic(srv, c, None, 1, ZOp::Diff, false)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit].
pub fn zintercard(srv: &mut Server, c: &mut Client) -> CmdResult {
    zsetop_generic(srv, c, None, 1, ZOp::Inter, true)
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...].
pub fn zunionstore(srv: &mut Server, c: &mut Client) -> CmdResult {
    let dst = c.argv[1].clone();
    zsetop_generic(srv, c, Some(&dst), 2, ZOp::Union, false)
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...].
pub fn zinterstore(srv: &mut Server, c: &mut Client) -> CmdResult {
    let dst = c.argv[1].clone();
    zsetop_generic(srv, c, Some(&dst), 2, ZOp::Inter, false)
}

/// ZDIFFSTORE destination numkeys key [key ...].
pub fn zdiffstore(srv: &mut Server, c: &mut Client) -> CmdResult {
    let dst = c.argv[1].clone();
    zsetop_generic(srv, c, Some(&dst), 2, ZOp::Diff, false)
}

// ------------------------------------------------------------- ZRANDMEMBER

/// ZRANDMEMBER key [count [WITHSCORES]]: one random member (null if
/// missing), or with a count as SRANDMEMBER does (negative: repeats allowed).
pub fn zrandmember(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let mut rng = Rng::with_seed(srv.ks.rand());
    let mut next = || rng.next_u64();
    if c.argc() < 3 {
        match read_zset(srv, c.db, &key)?.and_then(|z| z.random(&mut next)) {
            Some((m, _)) => c.reply.bulk(m),
            None => c.reply.null(),
        }
        return Ok(());
    }
    let l = range_long(c.arg(2), -i64::MAX, i64::MAX, None)?;
    let withscores = match c.argc() {
        3 => false,
        4 if args::is(c.arg(3), "withscores") => true,
        _ => return Err(ReplyError::Syntax),
    };
    if withscores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&l) {
        // COMPAT: the doubled reply would overflow.
        return Err(ReplyError::err("value is out of range"));
    }
    let Some(z) = read_zset(srv, c.db, &key)? else {
        c.reply.array(0);
        return Ok(());
    };
    let (count, uniq) = (l.unsigned_abs() as usize, l >= 0);
    let size = z.len();
    if count == 0 {
        c.reply.array(0);
        return Ok(());
    }
    let picked: Vec<(&[u8], f64)> = if !uniq || count == 1 {
        (0..count).filter_map(|_| z.random(&mut next)).collect()
    } else if count >= size {
        z.iter().collect()
    } else if count * 3 > size {
        let mut all: Vec<(&[u8], f64)> = z.iter().collect();
        while all.len() > count {
            let i = (next() % all.len() as u64) as usize;
            all.swap_remove(i);
        }
        all
    } else {
        let mut seen = std::collections::HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let Some(e) = z.random(&mut next) else { break };
            if seen.insert(e.0) {
                out.push(e);
            }
        }
        out
    };
    let n = picked.len();
    reply_elements(c, n, withscores, picked.into_iter());
    Ok(())
}

// ------------------------------------------------------------------- pops

/// Which end a pop takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopEnd {
    /// Lowest scores first.
    Min,
    /// Highest scores first.
    Max,
}

/// How a pop replies (Redis's genericZpopCommand switches).
#[derive(Debug, Clone, Copy)]
pub struct PopReply {
    /// Prefix the elements with the key's name.
    pub emit_key: bool,
    /// Each element as a nested [member, score] array.
    pub nested: bool,
    /// A null array, not an empty one, when no key has data.
    pub nil_when_empty: bool,
}

/// Pops up to `count` elements (None: the single-element form) from the
/// first existing sorted set among `keys` and replies. WRONGTYPE stops at
/// the first non-zset key met. Fires `zpopmin`/`zpopmax` and `del` when the
/// set empties.
fn zpop_generic(
    srv: &mut Server,
    c: &mut Client,
    keys: &[bytes::Bytes],
    end: PopEnd,
    count: Option<usize>,
    how: PopReply,
) -> CmdResult {
    let db = c.db;
    let mut found: Option<bytes::Bytes> = None;
    for k in keys {
        if write_zset(srv, db, k)?.is_some() {
            found = Some(k.clone());
            break;
        }
    }
    let Some(key) = found else {
        if how.nil_when_empty {
            c.reply.null_array();
        } else {
            c.reply.array(0);
        }
        return Ok(());
    };
    if count == Some(0) {
        c.reply.array(0);
        return Ok(());
    }
    let Some(z) = write_zset(srv, db, &key)? else { return Err(ReplyError::NoSuchKey) };
    let n = count.unwrap_or(1).min(z.len());
    match (how.nested, how.emit_key) {
        (false, false) => c.reply.array(n * 2),
        (true, false) => c.reply.array(n),
        (false, true) => {
            c.reply.array(n * 2 + 1);
            c.reply.bulk(&key);
        }
        (true, true) => {
            c.reply.array(2);
            c.reply.bulk(&key);
            c.reply.array(n);
        }
    }
    for _ in 0..n {
        let at = if end == PopEnd::Max { z.len() - 1 } else { 0 };
        let Some((m, s)) = z.at(at).map(|(m, s)| (m.to_vec(), s)) else { break };
        z.remove(&m);
        if how.nested {
            c.reply.array(2);
        }
        c.reply.bulk(&m);
        reply_score(c, s);
    }
    srv.ks.notify(notify::ZSET, if end == PopEnd::Max { "zpopmax" } else { "zpopmin" }, db, &key);
    srv.ks.touch_write(db, &key);
    delete_if_empty(srv, db, &key);
    if how.emit_key {
        // BZPOP*/ZMPOP/BZMPOP are replicated as the ZPOP* they amounted to.
        let verb = bytes::Bytes::from_static(if end == PopEnd::Max { b"ZPOPMAX" } else { b"ZPOPMIN" });
        let mut argv = vec![verb, key];
        if count.is_some() {
            argv.push(bytes::Bytes::from(n.to_string()));
        }
        srv.propagate_as(argv);
    }
    Ok(())
}

fn zpop_minmax(srv: &mut Server, c: &mut Client, end: PopEnd) -> CmdResult {
    if c.argc() > 3 {
        return Err(ReplyError::Syntax);
    }
    let count = if c.argc() == 3 { Some(positive_long(c.arg(2), None)? as usize) } else { None };
    let how = PopReply { emit_key: false, nested: c.reply.resp >= 3 && count.is_some(), nil_when_empty: false };
    let keys = [c.argv[1].clone()];
    zpop_generic(srv, c, &keys, end, count, how)
}

/// ZPOPMIN key [count]: the lowest-scored members with their scores.
pub fn zpopmin(srv: &mut Server, c: &mut Client) -> CmdResult {
    zpop_minmax(srv, c, PopEnd::Min)
}

/// ZPOPMAX key [count]: the highest-scored members with their scores.
pub fn zpopmax(srv: &mut Server, c: &mut Client) -> CmdResult {
    zpop_minmax(srv, c, PopEnd::Max)
}

/// The serve-now half of BZPOPMIN/BZPOPMAX/BZMPOP: pops from the first of
/// `keys` holding a non-empty sorted set and replies. Returns Ok(false),
/// having replied nothing, when no key has data (the caller then blocks).
pub fn blocking_pop_now(
    srv: &mut Server,
    c: &mut Client,
    keys: &[bytes::Bytes],
    end: PopEnd,
    count: Option<usize>,
    how: PopReply,
) -> Result<bool, ReplyError> {
    for k in keys {
        let has = write_zset(srv, c.db, k)?.is_some_and(|z| !z.is_empty());
        if has {
            zpop_generic(srv, c, std::slice::from_ref(k), end, count, how)?;
            return Ok(true);
        }
    }
    Ok(false)
}

fn bzpop_minmax(srv: &mut Server, c: &mut Client, end: PopEnd) -> CmdResult {
    let timeout = args::timeout_ms(c.arg(c.argc() - 1))?;
    let keys = c.argv[1..c.argc() - 1].to_vec();
    let how = PopReply { emit_key: true, nested: false, nil_when_empty: false };
    if !blocking_pop_now(srv, c, &keys, end, None, how)? {
        let deadline = srv.block_deadline(timeout);
        srv.block_client(c, &keys, "zset", deadline);
    }
    Ok(())
}

/// BZPOPMIN key [key ...] timeout: [key, member, score] from the first
/// non-empty sorted set, blocking until one has data or the timeout.
pub fn bzpopmin(srv: &mut Server, c: &mut Client) -> CmdResult {
    bzpop_minmax(srv, c, PopEnd::Min)
}

/// BZPOPMAX key [key ...] timeout: as BZPOPMIN from the top.
pub fn bzpopmax(srv: &mut Server, c: &mut Client) -> CmdResult {
    bzpop_minmax(srv, c, PopEnd::Max)
}

fn zmpop_generic(srv: &mut Server, c: &mut Client, numkeys_idx: usize, block: bool) -> CmdResult {
    // COMPAT: ZMPOP's error texts.
    let numkeys = range_long(c.arg(numkeys_idx), 1, i64::MAX, Some("numkeys should be greater than 0"))? as usize;
    let where_idx = numkeys_idx.saturating_add(numkeys).saturating_add(1);
    if where_idx >= c.argc() {
        return Err(ReplyError::Syntax);
    }
    let end = if args::is(c.arg(where_idx), "min") {
        PopEnd::Min
    } else if args::is(c.arg(where_idx), "max") {
        PopEnd::Max
    } else {
        return Err(ReplyError::Syntax);
    };
    let mut count: Option<usize> = None;
    let mut j = where_idx + 1;
    while j < c.argc() {
        if count.is_none() && args::is(c.arg(j), "count") && j + 1 < c.argc() {
            count = Some(range_long(c.arg(j + 1), 1, i64::MAX, Some("count should be greater than 0"))? as usize);
            j += 2;
        } else {
            return Err(ReplyError::Syntax);
        }
    }
    let count = Some(count.unwrap_or(1));
    let keys = c.argv[numkeys_idx + 1..numkeys_idx + 1 + numkeys].to_vec();
    let how = PopReply { emit_key: true, nested: true, nil_when_empty: true };
    if block {
        let timeout = args::timeout_ms(c.arg(1))?;
        if !blocking_pop_now(srv, c, &keys, end, count, how)? {
            let deadline = srv.block_deadline(timeout);
            srv.block_client(c, &keys, "zset", deadline);
        }
        Ok(())
    } else {
        zpop_generic(srv, c, &keys, end, count, how)
    }
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]: [key, [[member,
/// score], ...]] from the first non-empty sorted set, or null.
pub fn zmpop(srv: &mut Server, c: &mut Client) -> CmdResult {
    zmpop_generic(srv, c, 1, false)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]: as ZMPOP.
/// Blocking is not supported yet.
pub fn bzmpop(srv: &mut Server, c: &mut Client) -> CmdResult {
    zmpop_generic(srv, c, 2, true)
}

// ------------------------------------------------------------------- scan

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: member, score pairs.
pub fn zscan(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut cursor = super::keys::parse_cursor(c.arg(2))?;
    let key = c.argv[1].clone();
    let Some(z) = read_zset(srv, c.db, &key)? else {
        reply_scan(c, 0, &[]);
        return Ok(());
    };
    let o = scan_opts(c, 3)?;
    let listpack = matches!(z, ZSet::Listpack(_));
    let mut pairs: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut budget = o.count.saturating_mul(10);
    loop {
        cursor = z.scan(cursor, |m, s| pairs.push((m.to_vec(), s)));
        if cursor == 0 || budget == 0 || pairs.len() >= o.count {
            break;
        }
        budget -= 1;
    }
    let mut items = Vec::with_capacity(pairs.len() * 2);
    for (m, s) in pairs {
        if o.pattern.as_ref().is_some_and(|p| !crate::util::glob::string_match(p, &m, false)) {
            continue;
        }
        items.push(m);
        // A listpack holds scores in their compact text; the table's are
        // printed with 17 digits.
        items.push(if listpack { crate::util::num::d2string(s) } else { format_double(s) });
    }
    reply_scan(c, cursor, &items);
    Ok(())
}
