//! HyperLogLog commands: PFADD, PFCOUNT (one key, cached; several keys, a
//! union), PFMERGE, PFDEBUG and PFSELFTEST.
//!
//! A sketch is an ordinary string value in Redis's byte format
//! (`types::hll` owns the format); these handlers find it, check it, and
//! edit it in place. Mirrors Redis 7.0's hyperloglog.c commands: a missing
//! key is an empty sketch, a string that is not a sketch gets the
//! HyperLogLog WRONGTYPE text, broken sparse data `INVALIDOBJ`, PFCOUNT
//! stores the estimate it computes back into the header (and so counts as a
//! write to WATCH), and PFMERGE fires `pfadd`. The sparse size limit is
//! `hll-sparse-max-bytes`.

use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::db::notify;
use crate::server::Server;
use crate::types::hll::{self, Encoding, REGISTERS};
use crate::types::value::{Str, Value};

/// COMPAT: isHLLObjectOrReply's error.
const ERR_NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/// COMPAT: the corrupted-sketch error.
const ERR_CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

fn not_hll() -> ReplyError {
    ReplyError::other(ERR_NOT_HLL)
}

fn corrupt() -> ReplyError {
    ReplyError::other(ERR_CORRUPT)
}

fn sparse_max(srv: &Server) -> usize {
    srv.config.hll_sparse_max_bytes.max(0) as usize
}

/// Checks a looked-up value the way Redis checks a sketch: None for a
/// missing key, the encoding for a valid sketch, WRONGTYPE otherwise.
fn check(v: Option<&Value>) -> Result<Option<Encoding>, ReplyError> {
    match v {
        None => Ok(None),
        Some(Value::Str(s)) => {
            let mut scratch = Vec::new();
            hll::validate(s.as_bytes(&mut scratch)).map(Some).ok_or_else(not_hll)
        }
        Some(_) => Err(ReplyError::WrongType),
    }
}

/// The sketch at `key` as a mutable buffer, after `check` accepted it.
fn sketch_mut<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<&'a mut Vec<u8>, ReplyError> {
    match srv.ks.get_mut(db, key) {
        Some(Value::Str(s)) => Ok(s.make_raw()),
        Some(_) => Err(ReplyError::WrongType),
        None => Err(not_hll()),
    }
}

/// Folds the sketch at `key` (if any) into `max`; returns its encoding.
fn merge_key(
    srv: &mut Server,
    db: usize,
    key: &[u8],
    max: &mut [u8; REGISTERS],
) -> Result<Option<Encoding>, ReplyError> {
    let v = srv.ks.get(db, key);
    let enc = check(v)?;
    if let Some(Value::Str(s)) = v {
        let mut scratch = Vec::new();
        hll::merge_into(max, s.as_bytes(&mut scratch)).map_err(|_| corrupt())?;
    }
    Ok(enc)
}

/// PFADD key [element ...]: 1 when the sketch was created or a register
/// grew, else 0. Fires `pfadd` on change; the cached estimate is marked
/// stale.
pub fn pfadd(srv: &mut Server, c: &mut Client) -> CmdResult {
    let db = c.db;
    let key = c.argv[1].clone();
    let limit = sparse_max(srv);
    let mut updated = 0u64;
    if check(srv.ks.get_mut(db, &key).map(|v| &*v))?.is_none() {
        srv.ks.set(db, &key, Value::Str(Str::Raw(Box::new(hll::new_sparse()))), false);
        updated += 1;
    }
    let buf = sketch_mut(srv, db, &key)?;
    for e in &c.argv[2..] {
        match hll::add(buf, e, limit) {
            Ok(true) => updated += 1,
            Ok(false) => {}
            Err(_) => return Err(corrupt()),
        }
    }
    if updated > 0 {
        hll::invalidate(buf);
        srv.ks.touch_write(db, &key);
        // Redis counts one change per grown register.
        srv.ks.dirty += updated - 1;
        srv.ks.notify(notify::STRING, "pfadd", db, &key);
    }
    c.reply.int(i64::from(updated > 0));
    Ok(())
}

/// PFCOUNT key [key ...]: the estimated cardinality of one sketch (served
/// from and stored into its cache) or of the union of several (computed
/// afresh, nothing stored). Missing keys count as empty sketches.
pub fn pfcount(srv: &mut Server, c: &mut Client) -> CmdResult {
    let db = c.db;
    if c.argc() > 2 {
        let mut max = Box::new([0u8; REGISTERS]);
        for key in &c.argv[1..] {
            merge_key(srv, db, key, &mut max)?;
        }
        c.reply.int(hll::estimate(&hll::histogram_raw(&max)) as i64);
        return Ok(());
    }
    let key = c.argv[1].clone();
    let v = srv.ks.get(db, &key);
    if check(v)?.is_none() {
        c.reply.int(0);
        return Ok(());
    }
    let Some(Value::Str(s)) = v else { return Err(not_hll()) };
    let mut scratch = Vec::new();
    let bytes = s.as_bytes(&mut scratch);
    if let Some(card) = hll::cached(bytes) {
        c.reply.int(card as i64);
        return Ok(());
    }
    let card = hll::count(bytes).map_err(|_| corrupt())?;
    let buf = sketch_mut(srv, db, &key)?;
    hll::set_cached(buf, card);
    // The value changed (its cache), so WATCH and propagation see a write.
    srv.ks.touch_write(db, &key);
    c.reply.int(card as i64);
    Ok(())
}

/// PFMERGE destkey [sourcekey ...]: stores the union of the sketches
/// (destination included) at `destkey`, dense if any input was dense.
/// Replies OK and fires `pfadd`.
pub fn pfmerge(srv: &mut Server, c: &mut Client) -> CmdResult {
    let db = c.db;
    let limit = sparse_max(srv);
    let mut max = Box::new([0u8; REGISTERS]);
    let mut use_dense = false;
    for key in &c.argv[1..] {
        if merge_key(srv, db, key, &mut max)? == Some(Encoding::Dense) {
            use_dense = true;
        }
    }
    let dst = c.argv[1].clone();
    if srv.ks.get_mut(db, &dst).is_none() {
        srv.ks.set(db, &dst, Value::Str(Str::Raw(Box::new(hll::new_sparse()))), false);
    }
    let buf = sketch_mut(srv, db, &dst)?;
    if use_dense {
        hll::to_dense(buf).map_err(|_| corrupt())?;
    }
    for (i, &v) in max.iter().enumerate() {
        if v != 0 {
            // The destination was validated above; like Redis, a failure
            // to place one register does not stop the others.
            let _ = hll::set_register(buf, i, v, limit);
        }
    }
    hll::invalidate(buf);
    srv.ks.touch_write(db, &dst);
    srv.ks.notify(notify::STRING, "pfadd", db, &dst);
    c.reply.ok();
    Ok(())
}

/// PFDEBUG <GETREG|DECODE|ENCODING|TODENSE> key: internals for tests.
/// GETREG (which converts to dense) lists the 16384 registers, DECODE shows
/// sparse opcodes, ENCODING names the encoding, TODENSE converts and
/// replies 1 if it did.
pub fn pfdebug(srv: &mut Server, c: &mut Client) -> CmdResult {
    let db = c.db;
    let key = c.argv[2].clone();
    let v = srv.ks.get_mut(db, &key).map(|v| &*v);
    if v.is_none() {
        // COMPAT: PFDEBUG's missing-key error.
        return Err(ReplyError::err("The specified key does not exist"));
    }
    let enc = check(v)?.ok_or_else(not_hll)?;
    let sub = c.arg(1).to_ascii_lowercase();
    let buf = sketch_mut(srv, db, &key)?;
    match sub.as_slice() {
        b"getreg" => {
            if enc == Encoding::Sparse {
                hll::to_dense(buf).map_err(|_| corrupt())?;
                srv.ks.dirty += 1;
            }
            let buf = sketch_mut(srv, db, &key)?;
            let regs = &buf[hll::HDR_LEN..];
            c.reply.array(REGISTERS);
            for i in 0..REGISTERS {
                c.reply.int(i64::from(hll::dense_get(regs, i)));
            }
        }
        b"decode" => {
            if enc != Encoding::Sparse {
                // COMPAT: PFDEBUG DECODE on a dense sketch.
                return Err(ReplyError::err("HLL encoding is not sparse"));
            }
            let text = hll::decode_sparse(buf);
            c.reply.bulk(text.as_bytes());
        }
        b"encoding" => c.reply.simple(enc.name()),
        b"todense" => {
            let converted = enc == Encoding::Sparse;
            if converted {
                hll::to_dense(buf).map_err(|_| corrupt())?;
                srv.ks.dirty += 1;
            }
            c.reply.int(i64::from(converted));
        }
        _ => {
            // COMPAT: PFDEBUG's unknown-subcommand error.
            return Err(ReplyError::err(format!("Unknown PFDEBUG subcommand '{}'", String::from_utf8_lossy(c.arg(1)))));
        }
    }
    Ok(())
}

/// PFSELFTEST: checks register packing with random values, then feeds ten
/// million distinct elements to a dense and a sparse sketch side by side,
/// checking at each power of ten that the sparse one stays sparse while
/// small, that both estimate alike, and that the error stays within six
/// standard errors. Replies OK or a `TESTFAILED` error.
pub fn pfselftest(srv: &mut Server, c: &mut Client) -> CmdResult {
    let limit = sparse_max(srv);
    selftest(limit, 10_000_000).map_err(ReplyError::err)?;
    c.reply.ok();
    Ok(())
}

/// The body of PFSELFTEST, adding `elements` elements in the second part.
fn selftest(limit: usize, elements: u64) -> Result<(), String> {
    let mut rng = crate::util::rand::Rng::from_entropy();
    let mut regs = vec![0u8; hll::DENSE_LEN - hll::HDR_LEN];
    let mut want = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, w) in want.iter_mut().enumerate() {
            let r = (rng.next_u64() & 63) as u8;
            *w = r;
            hll::dense_set(&mut regs, i, r);
        }
        for (i, &w) in want.iter().enumerate() {
            let got = hll::dense_get(&regs, i);
            if got != w {
                return Err(format!("TESTFAILED Register {i} should be {w} but is {got}"));
            }
        }
    }

    let mut dense = hll::new_sparse();
    let _ = hll::to_dense(&mut dense);
    let mut sparse = hll::new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let seed = rng.next_u64();
    let mut checkpoint = 1u64;
    for j in 1..=elements {
        let ele = (j ^ seed).to_le_bytes();
        let _ = hll::add(&mut dense, &ele, limit);
        let _ = hll::add(&mut sparse, &ele, limit);
        if j != checkpoint {
            continue;
        }
        if j < (limit / 2) as u64 && hll::validate(&sparse) != Some(Encoding::Sparse) {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let card = hll::count(&dense).unwrap_or(0);
        if card != hll::count(&sparse).unwrap_or(u64::MAX) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = checkpoint.abs_diff(card);
        // Small sets collide often enough that 10 allows a single miss.
        let maxerr = if j == 10 { 1 } else { (relerr * 6.0 * checkpoint as f64).ceil() as u64 };
        if abserr > maxerr {
            return Err(format!("TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selftest_passes_on_a_smaller_run() {
        assert_eq!(selftest(3000, 100_000), Ok(()));
    }
}
