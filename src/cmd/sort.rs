//! SORT and SORT_RO: sorting the elements of a list, set or sorted set, by
//! themselves or by weights read from other keys, with LIMIT, GET and STORE.
//!
//! Owns the option parsing, the `*`/`->`/`#` pattern substitution, the
//! ordering rules and the STORE result; it must not keep state between calls
//! nor reach past the keyspace. Mirrors Redis 7.0's sort.c: a BY pattern
//! without `*` means "do not sort" (lists and sorted sets then keep their own
//! order and LIMIT reads only the range), a set is still sorted ALPHA when
//! stored, numeric weights parse like C `strtod` and a bad one fails the whole
//! command, equal numeric weights fall back to comparing the elements, missing
//! BY keys weigh 0 (or sort first with ALPHA), missing GET keys give nil (an
//! empty string when stored), and a sorted set is converted to its skiplist
//! encoding by the lookup, as Redis does. Key extraction for COMMAND GETKEYS
//! and cluster routing (Redis's `sortGetKeys`) lives here too.
//!
//! ALPHA compares bytes (Redis uses `strcoll`, which is the same in the C
//! locale).

use std::cmp::Ordering;

use bytes::Bytes;

use super::args;
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::db::notify;
use crate::server::Server;
use crate::types::value::{Str, Value};

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC]
/// [ALPHA] [STORE destination].
///
/// Replies with the sorted elements (or, with GET, the looked-up values, nil
/// when missing); with STORE, replaces `destination` with the result as a
/// list (`sortstore` event) or deletes it when the result is empty (`del`),
/// and replies with the number of elements stored.
pub fn sort(srv: &mut Server, c: &mut Client) -> CmdResult {
    sort_generic(srv, c, false)
}

/// SORT_RO: SORT without STORE (which is a syntax error here).
pub fn sort_ro(srv: &mut Server, c: &mut Client) -> CmdResult {
    sort_generic(srv, c, true)
}

/// The options of one SORT call.
#[derive(Debug, Default)]
struct SortOpts {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    store: Option<Bytes>,
    by: Option<Bytes>,
    /// BY a pattern without `*`: keep the native order.
    dontsort: bool,
    gets: Vec<Bytes>,
}

/// Parses the options after the key, in order, with Redis's errors.
fn parse_opts(srv: &Server, c: &Client, readonly: bool) -> Result<SortOpts, ReplyError> {
    let mut o = SortOpts { limit_count: -1, ..SortOpts::default() };
    let mut j = 2;
    while j < c.argc() {
        let left = c.argc() - j - 1;
        let a = c.arg(j);
        if args::is(a, "asc") {
            o.desc = false;
        } else if args::is(a, "desc") {
            o.desc = true;
        } else if args::is(a, "alpha") {
            o.alpha = true;
        } else if args::is(a, "limit") && left >= 2 {
            o.limit_start = args::int(c.arg(j + 1))?;
            o.limit_count = args::int(c.arg(j + 2))?;
            j += 2;
        } else if !readonly && args::is(a, "store") && left >= 1 {
            o.store = Some(c.argv[j + 1].clone());
            j += 1;
        } else if args::is(a, "by") && left >= 1 {
            let pat = c.argv[j + 1].clone();
            if !pat.contains(&b'*') {
                // A constant weight: nothing to sort (sticky, as in Redis).
                o.dontsort = true;
            } else if srv.config.cluster_enabled {
                // COMPAT: Redis's cluster-mode refusal.
                return Err(ReplyError::err("BY option of SORT denied in Cluster mode."));
            } else if !crate::acl::unrestricted_key_access(srv, c, crate::acl::keys::READ) {
                // COMPAT: the pattern names keys the ACL check never saw.
                return Err(ReplyError::err("BY option of SORT denied due to insufficient ACL permissions."));
            }
            o.by = Some(pat);
            j += 1;
        } else if args::is(a, "get") && left >= 1 {
            if srv.config.cluster_enabled {
                // COMPAT: Redis's cluster-mode refusal.
                return Err(ReplyError::err("GET option of SORT denied in Cluster mode."));
            }
            if !crate::acl::unrestricted_key_access(srv, c, crate::acl::keys::READ) {
                // COMPAT: the pattern names keys the ACL check never saw.
                return Err(ReplyError::err("GET option of SORT denied due to insufficient ACL permissions."));
            }
            o.gets.push(c.argv[j + 1].clone());
            j += 1;
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// Where a pattern points for one element.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    /// `#`: the element itself.
    Itself,
    /// A string key, or a field of a hash key.
    Key { key: Vec<u8>, field: Option<&'a [u8]> },
    /// No `*` in the pattern: nothing.
    Nothing,
}

/// Substitutes `subst` for the first `*` of `pattern`. A `->` after the `*`
/// followed by at least one byte splits off a hash field name; a trailing
/// `->` stays part of the key name.
fn pattern_target<'a>(pattern: &'a [u8], subst: &[u8]) -> Target<'a> {
    if pattern == b"#" {
        return Target::Itself;
    }
    let Some(star) = pattern.iter().position(|&b| b == b'*') else { return Target::Nothing };
    let after = &pattern[star + 1..];
    let arrow = after.windows(2).position(|w| w == b"->").filter(|&p| p + 2 < after.len());
    let (suffix, field) = match arrow {
        Some(p) => (&after[..p], Some(&after[p + 2..])),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(star + subst.len() + suffix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(suffix);
    Target::Key { key, field }
}

/// The value `pattern` names for element `ele` (Redis's lookupKeyByPattern):
/// a string key's value or a hash field's value; None when missing or of
/// another type. Reads count as keyspace hits or misses.
fn lookup_by_pattern(srv: &mut Server, db: usize, pattern: &[u8], ele: &[u8]) -> Option<Weight> {
    let (key, field) = match pattern_target(pattern, ele) {
        Target::Itself => return Some(Weight::Bytes(ele.to_vec())),
        Target::Nothing => return None,
        Target::Key { key, field } => (key, field),
    };
    match (srv.ks.get(db, &key)?, field) {
        (Value::Str(Str::Int(n)), None) => Some(Weight::Int(*n)),
        (Value::Str(s), None) => Some(Weight::Bytes(s.to_vec())),
        (Value::Hash(h), Some(f)) => h.get(f).map(|v| Weight::Bytes(v.to_vec())),
        _ => None,
    }
}

/// A looked-up value: integers stay numbers so numeric sorting needs no parse.
enum Weight {
    Int(i64),
    Bytes(Vec<u8>),
}

impl Weight {
    fn into_bytes(self) -> Vec<u8> {
        match self {
            Weight::Int(n) => crate::util::num::ll2string(n),
            Weight::Bytes(b) => b,
        }
    }

    fn score(&self) -> Option<f64> {
        match self {
            Weight::Int(n) => Some(*n as f64),
            Weight::Bytes(b) => strtod_score(b),
        }
    }
}

/// A numeric weight as Redis reads one with `strtod`: the text up to the
/// first NUL, leading C white space allowed, nothing after the number; NaN,
/// overflow and underflow rejected. The empty string weighs 0.
fn strtod_score(b: &[u8]) -> Option<f64> {
    let text = b.split(|&x| x == 0).next().unwrap_or(b);
    if text.is_empty() {
        return Some(0.0);
    }
    let start = text.iter().position(|&x| !matches!(x, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    crate::util::num::string2d(&text[start..])
}

/// Clamps LIMIT to `len` elements as Redis does: the inclusive output range
/// `(start, end)`; `end < start` means nothing.
fn limit_range(len: i64, limit_start: i64, limit_count: i64) -> (i64, i64) {
    let mut start = limit_start.max(0).min(len);
    let count = limit_count.max(-1).min(len);
    let mut end = if count < 0 { len - 1 } else { start + count - 1 };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    (start, end.min(len - 1))
}

/// One element to sort with its weight.
struct Item {
    ele: Vec<u8>,
    score: f64,
    /// ALPHA with BY: the looked-up weight (None when missing).
    cmp: Option<Vec<u8>>,
}

fn sort_generic(srv: &mut Server, c: &mut Client, readonly: bool) -> CmdResult {
    let mut o = parse_opts(srv, c, readonly)?;
    let db = c.db;
    let key = c.argv[1].clone();
    let (is_set, len) = match srv.ks.get(db, &key) {
        None => (false, 0),
        Some(Value::List(l)) => (false, l.len()),
        Some(Value::Set(s)) => (true, s.len()),
        Some(Value::ZSet(z)) => (false, z.len()),
        Some(_) => return Err(ReplyError::WrongType),
    };
    // A set has no order of its own: a stored result must still be
    // deterministic (for replicas and the AOF), so it is sorted ALPHA. Redis
    // does the same for calls from scripts.
    if o.dontsort && is_set && (o.store.is_some() || c.id == crate::script::SCRIPT_CLIENT_ID) {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let (mut start, mut end) = limit_range(len as i64, o.limit_start, o.limit_count);
    let want = (end - start + 1).max(0) as usize;
    let mut items: Vec<Item> = Vec::new();
    let mut push = |ele: Vec<u8>| items.push(Item { ele, score: 0.0, cmp: None });
    let mut native_range = false;
    match srv.ks.get_mut(db, &key) {
        None => {}
        Some(Value::List(l)) if o.dontsort => {
            native_range = true;
            if want > 0 {
                let from = if o.desc { len as i64 - start - 1 } else { start };
                l.iter_from(from, !o.desc).take(want).for_each(|v| push(v.to_vec()));
            }
        }
        Some(Value::List(l)) => l.iter().for_each(|v| push(v.to_vec())),
        Some(Value::Set(s)) => s.iter().for_each(|m| push(m.to_vec())),
        Some(Value::ZSet(z)) => {
            // COMPAT: SORT converts a compact sorted set, as Redis's does.
            if z.encoding() != "skiplist" {
                z.convert_to_skiplist();
            }
            if o.dontsort {
                native_range = true;
                if want > 0 {
                    let from = if o.desc { len - 1 - start as usize } else { start as usize };
                    z.iter_from(from, o.desc).take(want).for_each(|(m, _)| push(m.to_vec()));
                }
            } else {
                z.iter().for_each(|(m, _)| push(m.to_vec()));
            }
        }
        Some(_) => return Err(ReplyError::WrongType),
    }
    if native_range {
        // The range was applied while loading.
        end -= start;
        start = 0;
    }

    if !o.dontsort {
        let mut bad_score = false;
        for it in items.iter_mut() {
            let weight = match &o.by {
                Some(by) => match lookup_by_pattern(srv, db, by, &it.ele) {
                    Some(w) => w,
                    None => continue,
                },
                None => Weight::Bytes(Vec::new()),
            };
            if o.alpha {
                if o.by.is_some() {
                    it.cmp = Some(weight.into_bytes());
                }
            } else {
                let score = if o.by.is_some() { weight.score() } else { strtod_score(&it.ele) };
                match score {
                    Some(s) => it.score = s,
                    None => bad_score = true,
                }
            }
        }
        if bad_score {
            // COMPAT: Redis's error for a weight that is not a number.
            return Err(ReplyError::err("One or more scores can't be converted into double"));
        }
        let by_pattern = o.by.is_some();
        let (alpha, desc) = (o.alpha, o.desc);
        items.sort_by(|a, b| {
            let ord = compare(a, b, alpha, by_pattern);
            if desc {
                ord.reverse()
            } else {
                ord
            }
        });
    }

    let range: &[Item] = if end >= start { items.get(start as usize..=end as usize).unwrap_or(&[]) } else { &[] };
    let per = if o.gets.is_empty() { 1 } else { o.gets.len() };
    let outputlen = range.len() * per;
    match o.store.take() {
        None => {
            c.reply.array(outputlen);
            for it in range {
                if o.gets.is_empty() {
                    c.reply.bulk(&it.ele);
                }
                for g in &o.gets {
                    match lookup_by_pattern(srv, db, g, &it.ele) {
                        Some(w) => c.reply.bulk(&w.into_bytes()),
                        None => c.reply.null(),
                    }
                }
            }
        }
        Some(dst) => {
            let mut list = super::list::new_list(srv);
            let thresh = super::list::thresh();
            for it in range {
                if o.gets.is_empty() {
                    list.push_back(&it.ele, thresh);
                }
                for g in &o.gets {
                    let v = lookup_by_pattern(srv, db, g, &it.ele).map(Weight::into_bytes).unwrap_or_default();
                    list.push_back(&v, thresh);
                }
            }
            if outputlen > 0 {
                srv.ks.set(db, &dst, Value::List(Box::new(list)), false);
                srv.ks.touch_write(db, &dst);
                srv.ks.notify(notify::LIST, "sortstore", db, &dst);
                // Redis counts one change per stored element.
                srv.ks.dirty += outputlen as u64 - 1;
            } else if srv.ks.delete(db, &dst) {
                srv.ks.touch_write(db, &dst);
                srv.ks.notify(notify::GENERIC, "del", db, &dst);
            }
            c.reply.int(outputlen as i64);
        }
    }
    Ok(())
}

/// Ascending order of two items: numeric weights with ties broken by the
/// elements' bytes; ALPHA by the looked-up weights (missing ones first) or
/// by the elements themselves.
fn compare(a: &Item, b: &Item, alpha: bool, by_pattern: bool) -> Ordering {
    if !alpha {
        return a.score.partial_cmp(&b.score).unwrap_or(Ordering::Equal).then_with(|| a.ele.cmp(&b.ele));
    }
    if by_pattern {
        a.cmp.cmp(&b.cmp)
    } else {
        a.ele.cmp(&b.ele)
    }
}

/// Key positions of a SORT / SORT_RO call with their flags (Redis's
/// `sortGetKeys` / `sortROGetKeys`): the sorted key, then for SORT the
/// argument of the last STORE, skipping the arguments of LIMIT, GET and BY.
pub fn getkeys(argv: &[Bytes], readonly: bool) -> Vec<(usize, &'static [&'static str])> {
    const SRC: &[&str] = &["RO", "ACCESS"];
    const DST: &[&str] = &["OW", "UPDATE"];
    let mut out = vec![(1, SRC)];
    if readonly {
        return out;
    }
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i][..];
        if args::is(a, "limit") {
            i += 2;
        } else if args::is(a, "get") || args::is(a, "by") {
            i += 1;
        } else if args::is(a, "store") && i + 1 < argv.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    out.extend(store.map(|p| (p, DST)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_substitute_the_first_star() {
        assert_eq!(pattern_target(b"#", b"a"), Target::Itself);
        assert_eq!(pattern_target(b"nosort", b"a"), Target::Nothing);
        assert_eq!(pattern_target(b"w_*", b"3"), Target::Key { key: b"w_3".to_vec(), field: None });
        assert_eq!(pattern_target(b"o_*->w", b"3"), Target::Key { key: b"o_3".to_vec(), field: Some(&b"w"[..]) });
        // A trailing arrow is part of the key name.
        assert_eq!(pattern_target(b"x:*->", b"a"), Target::Key { key: b"x:a->".to_vec(), field: None });
        // Only the first star is replaced; the arrow is searched after it.
        assert_eq!(
            pattern_target(b"a->b*c*->f", b"1"),
            Target::Key { key: b"a->b1c*".to_vec(), field: Some(&b"f"[..]) }
        );
    }

    #[test]
    fn scores_parse_like_strtod() {
        assert_eq!(strtod_score(b"1.5"), Some(1.5));
        assert_eq!(strtod_score(b"  -2"), Some(-2.0));
        assert_eq!(strtod_score(b""), Some(0.0));
        assert_eq!(strtod_score(b"3\0junk"), Some(3.0));
        assert_eq!(strtod_score(b"inf"), Some(f64::INFINITY));
        assert_eq!(strtod_score(b"not-a-double"), None);
        assert_eq!(strtod_score(b"1 "), None);
        assert_eq!(strtod_score(b"   "), None);
        assert_eq!(strtod_score(b"nan"), None);
        assert_eq!(strtod_score(b"1e999"), None);
    }

    #[test]
    fn limits_clamp_like_redis() {
        assert_eq!(limit_range(5, 0, -1), (0, 4));
        assert_eq!(limit_range(5, 5, 10), (4, 3));
        assert_eq!(limit_range(5, -10, 100), (0, 4));
        assert_eq!(limit_range(5, 1, 2), (1, 2));
        assert_eq!(limit_range(3, 2, i64::MAX), (2, 2));
        assert_eq!(limit_range(0, 0, -1), (-1, -2));
        assert_eq!(limit_range(5, 0, 0), (0, -1));
    }

    #[test]
    fn getkeys_finds_the_last_store() {
        let argv = |s: &str| s.split(' ').map(|w| Bytes::from(w.to_string())).collect::<Vec<_>>();
        let pos = |s: &str, ro| getkeys(&argv(s), ro).into_iter().map(|(p, _)| p).collect::<Vec<_>>();
        assert_eq!(pos("sort abc store def", false), vec![1, 3]);
        assert_eq!(pos("sort abc store invalid store stillbad store def", false), vec![1, 7]);
        assert_eq!(pos("sort abc get store store x", false), vec![1, 5]);
        assert_eq!(pos("sort abc limit store store 1", false), vec![1]);
        assert_eq!(pos("sort abc store", false), vec![1]);
        assert_eq!(pos("sort_ro abc store def", true), vec![1]);
    }

    #[test]
    fn numeric_ties_fall_back_to_the_elements() {
        let it = |e: &str, s: f64| Item { ele: e.as_bytes().to_vec(), score: s, cmp: None };
        assert_eq!(compare(&it("b", 1.0), &it("a", 1.0), false, false), Ordering::Greater);
        assert_eq!(compare(&it("b", 0.5), &it("a", 1.0), false, false), Ordering::Less);
        let missing = Item { cmp: None, ..it("z", 0.0) };
        let present = Item { cmp: Some(b"a".to_vec()), ..it("a", 0.0) };
        assert_eq!(compare(&missing, &present, true, true), Ordering::Less);
    }

    /// Random patterns and elements never panic the substitution or the
    /// score parser.
    #[test]
    fn random_input_never_panics() {
        let mut rng = crate::util::rand::Rng::with_seed(0x5eed_50e7);
        for _ in 0..20_000 {
            let n = rng.below(12) as usize;
            let alphabet = b"*->#0a \t.e9\0";
            let bytes: Vec<u8> = (0..n).map(|_| alphabet[rng.below(alphabet.len() as u64) as usize]).collect();
            let m = rng.below(n as u64 + 1) as usize;
            let _ = pattern_target(&bytes, &bytes[..m]);
            let _ = strtod_score(&bytes);
            let _ = limit_range(rng.below(10) as i64, rng.next_u64() as i64, rng.next_u64() as i64);
        }
    }
}
