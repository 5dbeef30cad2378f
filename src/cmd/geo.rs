//! Geo commands over sorted sets: GEOADD, GEOPOS, GEODIST, GEOHASH,
//! GEORADIUS, GEORADIUSBYMEMBER and their `_RO` forms, GEOSEARCH and
//! GEOSEARCHSTORE.
//!
//! A geo set is a plain sorted set whose scores are 52-bit geohash cell
//! codes (`types::geohash`). GEOADD turns coordinates into scores and runs
//! ZADD with them, as Redis rewrites the command. Searches scan the score
//! intervals of a centre cell and its neighbours, keep the members inside
//! the circle or box, then sort, cut at COUNT and reply or store.
//!
//! Mirrors Redis 7.0's geo.c: the option grammar of each variant and its
//! error texts, the empty replies for missing keys, distances printed with
//! four decimals, coordinates printed as the `%.17Lf`-style human double
//! of the decoded cell centre, and the `georadiusstore`/`geosearchstore`
//! events. Never touches the sorted set's encoding itself.

use bytes::Bytes;

use super::args;
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::db::notify;
use crate::server::Server;
use crate::types::geohash::{self, HashBits, Shape, ShapeKind, LAT_MAX, LAT_MIN, LONG_MAX, LONG_MIN};
use crate::types::value::Value;
use crate::types::zset::{AddFlags, ScoreRange, ZLimits, ZSet};

/// COMPAT: extractUnitOrReply's error.
const ERR_UNIT: &str = "unsupported unit provided. please use M, KM, FT, MI";
/// COMPAT: longLatFromMember failure.
const ERR_MEMBER: &str = "could not decode requested zset member";

// ------------------------------------------------------------------ helpers

/// The sorted set at `key` (already looked up once by the caller, so no
/// statistics or expiry here).
fn zset_at<'a>(srv: &'a Server, db: usize, key: &[u8]) -> Option<&'a ZSet> {
    match srv.ks.dbs[db].dict.get(key).map(|o| &o.value) {
        Some(Value::ZSet(z)) => Some(z),
        _ => None,
    }
}

/// Looks `key` up for reading: Ok(true) for a sorted set, Ok(false) when
/// missing, WRONGTYPE for other types.
fn lookup_zset(srv: &mut Server, db: usize, key: &[u8]) -> Result<bool, ReplyError> {
    match srv.ks.get(db, key) {
        None => Ok(false),
        Some(Value::ZSet(_)) => Ok(true),
        Some(_) => Err(ReplyError::WrongType),
    }
}

/// A float argument, with `msg` replacing the generic error when given.
fn float_arg(arg: &[u8], msg: Option<&str>) -> Result<f64, ReplyError> {
    crate::util::num::string2d(arg).ok_or_else(|| match msg {
        Some(m) => ReplyError::err(m),
        None => ReplyError::NotFloat,
    })
}

/// Parses `lon lat` with Redis's limits check.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), ReplyError> {
    let x = float_arg(lon, None)?;
    let y = float_arg(lat, None)?;
    if !(LONG_MIN..=LONG_MAX).contains(&x) || !(LAT_MIN..=LAT_MAX).contains(&y) {
        // COMPAT: extractLongLatOrReply's error, printed with %f.
        return Err(ReplyError::err(format!("invalid longitude,latitude pair {x:.6},{y:.6}")));
    }
    Ok((x, y))
}

/// Metres per unit (`m`, `km`, `ft`, `mi`, any case).
fn unit(arg: &[u8]) -> Result<f64, ReplyError> {
    if args::is(arg, "m") {
        Ok(1.0)
    } else if args::is(arg, "km") {
        Ok(1000.0)
    } else if args::is(arg, "ft") {
        Ok(0.3048)
    } else if args::is(arg, "mi") {
        Ok(1609.34)
    } else {
        Err(ReplyError::err(ERR_UNIT))
    }
}

/// `<radius> <unit>`: (radius, metres per unit).
fn radius_arg(radius: &[u8], u: &[u8]) -> Result<(f64, f64), ReplyError> {
    // COMPAT: extractDistanceOrReply's texts.
    let r = float_arg(radius, Some("need numeric radius"))?;
    if r < 0.0 {
        return Err(ReplyError::err("radius cannot be negative"));
    }
    Ok((r, unit(u)?))
}

/// `<width> <height> <unit>`: (width, height, metres per unit).
fn box_arg(width: &[u8], height: &[u8], u: &[u8]) -> Result<(f64, f64, f64), ReplyError> {
    // COMPAT: extractBoxOrReply's texts.
    let w = float_arg(width, Some("need numeric width"))?;
    let h = float_arg(height, Some("need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err(ReplyError::err("height or width cannot be negative"));
    }
    Ok((w, h, unit(u)?))
}

/// A distance as Redis prints it: fixed point with four decimals, the
/// scaled value rounded half to even (`llrint`).
pub fn format_distance(d: f64) -> Vec<u8> {
    if d == 0.0 {
        return b"0.0000".to_vec();
    }
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let scaled = (d * 10000.0).round_ties_even();
    // llrint gives LLONG_MIN for what does not fit.
    let v = if (-TWO_63..TWO_63).contains(&scaled) { scaled as i64 } else { i64::MIN };
    let mag = v.unsigned_abs();
    let sign = if v < 0 { "-" } else { "" };
    format!("{sign}{}.{:04}", mag / 10000, mag % 10000).into_bytes()
}

/// A coordinate as Redis prints it (`ld2string` in human mode): 17
/// decimals of the exact value, trailing zeros and point removed, `-0` as
/// `0`.
pub fn format_coord(v: f64) -> Vec<u8> {
    if v.is_infinite() {
        return if v > 0.0 { b"inf".to_vec() } else { b"-inf".to_vec() };
    }
    let mut s = format!("{v:.17}").into_bytes();
    if s.contains(&b'.') {
        while s.last() == Some(&b'0') {
            s.pop();
        }
        if s.last() == Some(&b'.') {
            s.pop();
        }
    }
    if s == b"-0" {
        s = b"0".to_vec();
    }
    s
}

fn reply_distance(c: &mut Client, d: f64) {
    // Redis sends distances as bulk strings in both protocols.
    c.reply.bulk(&format_distance(d));
}

fn reply_coords(c: &mut Client, lon: f64, lat: f64) {
    c.reply.array(2);
    c.reply.double_text(&format_coord(lon));
    c.reply.double_text(&format_coord(lat));
}

fn zlimits(srv: &Server) -> ZLimits {
    ZLimits {
        max_entries: srv.config.zset_max_listpack_entries.max(0) as usize,
        max_value: srv.config.zset_max_listpack_value.max(0) as usize,
    }
}

// ------------------------------------------------------------------ GEOADD

/// GEOADD key [NX|XX] [CH] longitude latitude member [...]: the number of
/// members added (with CH: added or moved). Rewrites itself into ZADD with
/// the encoded scores, as Redis does (so it fires `zadd`).
pub fn geoadd(srv: &mut Server, c: &mut Client) -> CmdResult {
    let (mut nx, mut xx) = (false, false);
    let mut longidx = 2;
    while longidx < c.argc() {
        let o = c.arg(longidx);
        if args::is(o, "nx") {
            nx = true;
        } else if args::is(o, "xx") {
            xx = true;
        } else if !args::is(o, "ch") {
            break;
        }
        longidx += 1;
    }
    let rest = c.argc() - longidx;
    if !rest.is_multiple_of(3) || (nx && xx) {
        return Err(ReplyError::Syntax);
    }
    let mut argv: Vec<Bytes> = Vec::with_capacity(longidx + rest / 3 * 2);
    argv.push(Bytes::from_static(b"zadd"));
    argv.extend(c.argv[1..longidx].iter().cloned());
    for i in 0..rest / 3 {
        let at = longidx + i * 3;
        let (lon, lat) = lon_lat(c.arg(at), c.arg(at + 1))?;
        let score = geohash::score_of(lon, lat)
            .ok_or_else(|| ReplyError::err(format!("invalid longitude,latitude pair {lon:.6},{lat:.6}")))?;
        argv.push(Bytes::from(crate::util::num::ll2string(score as i64)));
        argv.push(c.argv[at + 2].clone());
    }
    // Run as ZADD, then give the client its own arguments back: the slow log
    // (and later MONITOR) show the command as it was sent, while replicas
    // get the ZADD it became.
    let sent = std::mem::replace(&mut c.argv, argv);
    let r = super::zset::zadd(srv, c);
    srv.propagate_as(std::mem::replace(&mut c.argv, sent));
    r
}

// ------------------------------------------------------------------ reads

/// GEOPOS key member [...]: per member its `[longitude, latitude]` (the
/// centre of its cell), or a null array when missing.
pub fn geopos(srv: &mut Server, c: &mut Client) -> CmdResult {
    let db = c.db;
    let exists = lookup_zset(srv, db, c.arg(1))?;
    let z = if exists { zset_at(srv, db, c.arg(1)) } else { None };
    c.reply.array(c.argc() - 2);
    for j in 2..c.argc() {
        match z.and_then(|z| z.score(c.arg(j))) {
            None => c.reply.null_array(),
            Some(score) => {
                let (lon, lat) = geohash::decode_score(score);
                reply_coords(c, lon, lat);
            }
        }
    }
    Ok(())
}

/// GEODIST key member1 member2 [M|KM|FT|MI]: the distance between two
/// members, or null when either is missing.
pub fn geodist(srv: &mut Server, c: &mut Client) -> CmdResult {
    let to_meter = match c.argc() {
        5 => unit(c.arg(4))?,
        n if n > 5 => return Err(ReplyError::Syntax),
        _ => 1.0,
    };
    let db = c.db;
    if !lookup_zset(srv, db, c.arg(1))? {
        c.reply.null();
        return Ok(());
    }
    let Some(z) = zset_at(srv, db, c.arg(1)) else { return Err(ReplyError::WrongType) };
    match (z.score(c.arg(2)), z.score(c.arg(3))) {
        (Some(s1), Some(s2)) => {
            let (lon1, lat1) = geohash::decode_score(s1);
            let (lon2, lat2) = geohash::decode_score(s2);
            reply_distance(c, geohash::distance(lon1, lat1, lon2, lat2) / to_meter);
        }
        _ => c.reply.null(),
    }
    Ok(())
}

/// GEOHASH key member [...]: per member the standard 11-character geohash
/// of its position, or null when missing.
pub fn geohash(srv: &mut Server, c: &mut Client) -> CmdResult {
    let db = c.db;
    let exists = lookup_zset(srv, db, c.arg(1))?;
    let z = if exists { zset_at(srv, db, c.arg(1)) } else { None };
    c.reply.array(c.argc() - 2);
    for j in 2..c.argc() {
        let text = z.and_then(|z| z.score(c.arg(j))).and_then(|score| {
            let (lon, lat) = geohash::decode_score(score);
            geohash::geohash_string(lon, lat)
        });
        match text {
            Some(t) => c.reply.bulk(&t),
            None => c.reply.null(),
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ searches

/// Which command is searching: it decides the argument layout and which
/// options are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// GEORADIUS[_RO] key lon lat radius unit ...
    Radius,
    /// GEORADIUSBYMEMBER[_RO] key member radius unit ...
    ByMember,
    /// GEOSEARCH key FROM... BY... ...
    Search,
    /// GEOSEARCHSTORE dest key FROM... BY... ...
    SearchStore,
}

/// Result ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// One member found by a search.
struct Point {
    lon: f64,
    lat: f64,
    dist: f64,
    score: f64,
    member: Vec<u8>,
}

/// Appends the members whose scores fall in `[min, max)` and that lie in
/// `shape`, stopping once `limit` (when non-zero) points were collected.
fn points_in_range(z: &ZSet, min: u64, max: u64, shape: &Shape, out: &mut Vec<Point>, limit: usize) {
    let range = ScoreRange { min: min as f64, max: max as f64, minex: false, maxex: true };
    let (lo, hi) = z.score_ranks(&range);
    for (member, score) in z.iter_from(lo, false).take(hi - lo) {
        let (lon, lat) = geohash::decode_score(score);
        if let Some(dist) = geohash::within(shape, lon, lat) {
            out.push(Point { lon, lat, dist, score, member: member.to_vec() });
        }
        if limit > 0 && out.len() >= limit {
            break;
        }
    }
}

/// Scans the centre cell and its neighbours (skipping zeroed cells and a
/// cell equal to the one scanned just before, which happens for huge
/// radii).
fn search(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Point> {
    let cells = geohash::cells_for(shape);
    let n = cells.neighbors;
    let boxes: [HashBits; 9] =
        [cells.hash, n.north, n.south, n.east, n.west, n.north_east, n.north_west, n.south_east, n.south_west];
    let mut out = Vec::new();
    let mut last_processed = 0usize;
    for (i, cell) in boxes.iter().enumerate() {
        if cell.is_zero() {
            continue;
        }
        // Redis compares with the last scanned cell only once one other
        // than the centre was scanned.
        if last_processed != 0 && *cell == boxes[last_processed] {
            continue;
        }
        if limit > 0 && out.len() >= limit {
            break;
        }
        let (min, max) = geohash::score_range(*cell);
        points_in_range(z, min, max, shape, &mut out, limit);
        last_processed = i;
    }
    out
}

/// The shared body of every search command. `src_idx` is the source key's
/// argument; `nostore` refuses STORE/STOREDIST (the `_RO` forms).
fn search_generic(srv: &mut Server, c: &mut Client, src_idx: usize, variant: Variant, nostore: bool) -> CmdResult {
    let db = c.db;
    let src = c.argv[src_idx].clone();
    let exists = lookup_zset(srv, db, &src)?;
    let member_pos =
        |srv: &Server, member: &[u8]| zset_at(srv, db, &src).and_then(|z| z.score(member)).map(geohash::decode_score);

    let mut center = (0.0, 0.0);
    let mut kind: Option<ShapeKind> = None;
    let mut conversion = 1.0;
    let mut storekey: Option<Bytes> = None;
    let mut storedist = false;
    let base = match variant {
        Variant::Radius => {
            center = lon_lat(c.arg(2), c.arg(3))?;
            let (r, conv) = radius_arg(c.arg(4), c.arg(5))?;
            kind = Some(ShapeKind::Radius(r));
            conversion = conv;
            6
        }
        Variant::ByMember => {
            // Without a source key Redis only parses the options, to pick
            // the right empty reply.
            if exists {
                center = member_pos(srv, c.arg(2)).ok_or_else(|| ReplyError::err(ERR_MEMBER))?;
                let (r, conv) = radius_arg(c.arg(3), c.arg(4))?;
                kind = Some(ShapeKind::Radius(r));
                conversion = conv;
            }
            5
        }
        Variant::Search => 2,
        Variant::SearchStore => {
            storekey = Some(c.argv[1].clone());
            3
        }
    };
    let is_search = matches!(variant, Variant::Search | Variant::SearchStore);

    let (mut withdist, mut withhash, mut withcoord) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut any = false;
    let mut count: i64 = 0;
    let remaining = c.argc().saturating_sub(base);
    let mut i = 0;
    while i < remaining {
        let at = base + i;
        let a = c.arg(at);
        if args::is(a, "withdist") {
            withdist = true;
        } else if args::is(a, "withhash") {
            withhash = true;
        } else if args::is(a, "withcoord") {
            withcoord = true;
        } else if args::is(a, "any") {
            any = true;
        } else if args::is(a, "asc") {
            sort = Sort::Asc;
        } else if args::is(a, "desc") {
            sort = Sort::Desc;
        } else if args::is(a, "count") && i + 1 < remaining {
            count = args::int(c.arg(at + 1))?;
            if count <= 0 {
                // COMPAT: COUNT's range error.
                return Err(ReplyError::err("COUNT must be > 0"));
            }
            i += 1;
        } else if (args::is(a, "store") || args::is(a, "storedist")) && i + 1 < remaining && !nostore && !is_search {
            storekey = Some(c.argv[at + 1].clone());
            storedist = args::is(a, "storedist");
            i += 1;
        } else if args::is(a, "storedist") && variant == Variant::SearchStore {
            storedist = true;
        } else if args::is(a, "frommember") && i + 1 < remaining && is_search && !fromloc {
            if exists {
                center = member_pos(srv, c.arg(at + 1)).ok_or_else(|| ReplyError::err(ERR_MEMBER))?;
            }
            frommember = true;
            i += 1;
        } else if args::is(a, "fromlonlat") && i + 2 < remaining && is_search && !frommember {
            center = lon_lat(c.arg(at + 1), c.arg(at + 2))?;
            fromloc = true;
            i += 2;
        } else if args::is(a, "byradius") && i + 2 < remaining && is_search && !bybox {
            let (r, conv) = radius_arg(c.arg(at + 1), c.arg(at + 2))?;
            kind = Some(ShapeKind::Radius(r));
            conversion = conv;
            byradius = true;
            i += 2;
        } else if args::is(a, "bybox") && i + 3 < remaining && is_search && !byradius {
            let (w, h, conv) = box_arg(c.arg(at + 1), c.arg(at + 2), c.arg(at + 3))?;
            kind = Some(ShapeKind::Box { width: w, height: h });
            conversion = conv;
            bybox = true;
            i += 3;
        } else {
            return Err(ReplyError::Syntax);
        }
        i += 1;
    }

    // COMPAT: georadiusGeneric's option conflict errors.
    if storekey.is_some() && (withdist || withhash || withcoord) {
        let what = if variant == Variant::SearchStore { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Err(ReplyError::err(format!("{what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options")));
    }
    let name = String::from_utf8_lossy(c.arg(0)).into_owned();
    if is_search && !(frommember || fromloc) {
        return Err(ReplyError::err(format!("exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}")));
    }
    if is_search && !(byradius || bybox) {
        return Err(ReplyError::err(format!("exactly one of BYRADIUS and BYBOX can be specified for {name}")));
    }
    if any && count == 0 {
        return Err(ReplyError::err("the ANY argument requires COUNT argument"));
    }

    if !exists {
        match storekey {
            Some(dst) => {
                delete_store_key(srv, db, &dst);
                c.reply.int(0);
            }
            None => c.reply.array(0),
        }
        return Ok(());
    }

    // COUNT picks the nearest members, so it implies ASC unless ANY.
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let Some(kind) = kind else { return Err(ReplyError::Syntax) };
    let shape = Shape { lon: center.0, lat: center.1, conversion, kind };
    let limit = if any { count as usize } else { 0 };
    let mut points = match zset_at(srv, db, &src) {
        Some(z) => search(z, &shape, limit),
        None => Vec::new(),
    };

    if points.is_empty() && storekey.is_none() {
        c.reply.array(0);
        return Ok(());
    }
    let returned = if count == 0 { points.len() } else { points.len().min(count as usize) };
    // A stable sort, as glibc's qsort (a merge sort) leaves ties in order.
    match sort {
        Sort::Asc => points.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Sort::Desc => points.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Sort::None => {}
    }
    points.truncate(returned);
    for p in &mut points {
        p.dist /= shape.conversion;
    }

    match storekey {
        None => {
            let options = usize::from(withdist) + usize::from(withhash) + usize::from(withcoord);
            c.reply.array(points.len());
            for p in &points {
                if options > 0 {
                    c.reply.array(options + 1);
                }
                c.reply.bulk(&p.member);
                if withdist {
                    reply_distance(c, p.dist);
                }
                if withhash {
                    c.reply.int(p.score as i64);
                }
                if withcoord {
                    reply_coords(c, p.lon, p.lat);
                }
            }
        }
        Some(dst) => {
            let n = points.len();
            if n > 0 {
                let lim = zlimits(srv);
                let max_len = points.iter().map(|p| p.member.len()).max().unwrap_or(0);
                let mut z = ZSet::with_hint(lim, n, max_len);
                for p in &points {
                    let _ = z.add(&p.member, if storedist { p.dist } else { p.score }, AddFlags::default(), lim);
                }
                srv.ks.set(db, &dst, Value::ZSet(Box::new(z)), false);
                srv.ks.touch_write(db, &dst);
                srv.ks.dirty += n as u64 - 1;
                let event = if is_search { "geosearchstore" } else { "georadiusstore" };
                srv.ks.notify(notify::ZSET, event, db, &dst);
            } else {
                delete_store_key(srv, db, &dst);
            }
            c.reply.int(n as i64);
        }
    }
    Ok(())
}

/// Deletes the destination of an empty STORE result, firing `del`.
fn delete_store_key(srv: &mut Server, db: usize, dst: &[u8]) {
    if srv.ks.delete(db, dst) {
        srv.ks.touch_write(db, dst);
        srv.ks.notify(notify::GENERIC, "del", db, dst);
    }
}

/// GEORADIUS key longitude latitude radius unit [WITHCOORD] [WITHDIST]
/// [WITHHASH] [COUNT n [ANY]] [ASC|DESC] [STORE key|STOREDIST key]: members
/// within the circle, or with STORE the number stored.
pub fn georadius(srv: &mut Server, c: &mut Client) -> CmdResult {
    search_generic(srv, c, 1, Variant::Radius, false)
}

/// GEORADIUS_RO: GEORADIUS without STORE.
pub fn georadius_ro(srv: &mut Server, c: &mut Client) -> CmdResult {
    search_generic(srv, c, 1, Variant::Radius, true)
}

/// GEORADIUSBYMEMBER key member radius unit [...]: as GEORADIUS, centred on
/// a member.
pub fn georadiusbymember(srv: &mut Server, c: &mut Client) -> CmdResult {
    search_generic(srv, c, 1, Variant::ByMember, false)
}

/// GEORADIUSBYMEMBER_RO: GEORADIUSBYMEMBER without STORE.
pub fn georadiusbymember_ro(srv: &mut Server, c: &mut Client) -> CmdResult {
    search_generic(srv, c, 1, Variant::ByMember, true)
}

/// GEOSEARCH key FROMMEMBER member|FROMLONLAT lon lat BYRADIUS r unit|BYBOX
/// w h unit [ASC|DESC] [COUNT n [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH].
pub fn geosearch(srv: &mut Server, c: &mut Client) -> CmdResult {
    search_generic(srv, c, 1, Variant::Search, false)
}

/// GEOSEARCHSTORE dest key ... [STOREDIST]: stores what GEOSEARCH would
/// return (scores, or distances with STOREDIST); replies the count.
pub fn geosearchstore(srv: &mut Server, c: &mut Client) -> CmdResult {
    search_generic(srv, c, 2, Variant::SearchStore, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_text() {
        assert_eq!(format_distance(0.0), b"0.0000");
        assert_eq!(format_distance(0.775), b"0.7750");
        assert_eq!(format_distance(166_274.151_6), b"166274.1516");
        assert_eq!(format_distance(6.064_295_159_839_17e-5), b"0.0001");
        assert_eq!(format_distance(-1.5), b"-1.5000");
        // llrint rounds halves to even.
        assert_eq!(format_distance(0.000_125), b"0.0001");
        assert_eq!(format_distance(f64::NAN), b"-922337203685477.5808");
    }

    #[test]
    fn coord_text() {
        assert_eq!(format_coord(13.361_389_338_970_184), b"13.36138933897018433");
        assert_eq!(format_coord(LAT_MAX), b"85.0511287799999991");
        assert_eq!(format_coord(180.0), b"180");
        assert_eq!(format_coord(-0.0), b"0");
        assert_eq!(format_coord(0.5), b"0.5");
    }
}
