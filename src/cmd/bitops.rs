//! Bitmap commands over string values: SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD and BITFIELD_RO.
//!
//! Bits are numbered as Redis numbers them: bit 0 is the most significant bit
//! of the first byte. Offsets are limited by `proto-max-bulk-len`; strings
//! grow with zero bytes. Error texts and the BITPOS/BITCOUNT range rules
//! (BYTE and BIT units, negative indexes, the zero-padding rule for clear
//! bits) follow Redis 7.0.

use super::args;
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::db::notify;
use crate::server::Server;
use crate::types::value::{Str, Value};

/// COMPAT: Redis's offset error.
const OFFSET_ERR: &str = "bit offset is not an integer or out of range";

/// Parses a bit offset (`#n` multiplies by `bits` when `hash_bits` is set).
fn bit_offset(srv: &Server, arg: &[u8], hash_bits: Option<u32>) -> Result<u64, ReplyError> {
    let (digits, mul) = match (arg.first(), hash_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], bits as i64),
        _ => (arg, 1),
    };
    let n = crate::util::num::string2ll(digits).ok_or_else(|| ReplyError::err(OFFSET_ERR))?;
    let n = n.checked_mul(mul).ok_or_else(|| ReplyError::err(OFFSET_ERR))?;
    if n < 0 || (n >> 3) >= srv.config.proto_max_bulk_len {
        return Err(ReplyError::err(OFFSET_ERR));
    }
    Ok(n as u64)
}

/// The string at `key` as bytes (None if absent); WRONGTYPE otherwise.
fn read_bytes(srv: &mut Server, db: usize, key: &[u8]) -> Result<Option<Vec<u8>>, ReplyError> {
    match srv.ks.get(db, key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.to_vec())),
        Some(_) => Err(ReplyError::WrongType),
    }
}

/// The string at `key` for in-place bit edits, created empty if absent and
/// grown to at least `min_len` bytes. The flag says whether the key was
/// created or grown (which counts as a change even if no bit flips).
fn writable_bytes<'a>(
    srv: &'a mut Server,
    db: usize,
    key: &[u8],
    min_len: usize,
) -> Result<(&'a mut Vec<u8>, bool), ReplyError> {
    let mut changed = false;
    match srv.ks.get_mut(db, key) {
        Some(Value::Str(_)) => {}
        Some(_) => return Err(ReplyError::WrongType),
        None => {
            srv.ks.set(db, key, Value::Str(Str::Raw(Box::default())), false);
            changed = true;
        }
    }
    let Some(Value::Str(s)) = srv.ks.get_mut(db, key) else { return Err(ReplyError::WrongType) };
    let buf = s.make_raw();
    if buf.len() < min_len {
        buf.resize(min_len, 0);
        changed = true;
    }
    Ok((buf, changed))
}

fn get_bit(buf: &[u8], bit: u64) -> u8 {
    let byte = (bit >> 3) as usize;
    if byte >= buf.len() {
        return 0;
    }
    (buf[byte] >> (7 - (bit & 7))) & 1
}

fn set_bit(buf: &mut [u8], bit: u64, on: bool) {
    let byte = (bit >> 3) as usize;
    let mask = 1u8 << (7 - (bit & 7));
    if on {
        buf[byte] |= mask;
    } else {
        buf[byte] &= !mask;
    }
}

/// SETBIT key offset value: the previous bit.
pub fn setbit(srv: &mut Server, c: &mut Client) -> CmdResult {
    let offset = bit_offset(srv, c.arg(2), None)?;
    let on = match c.arg(3) {
        b"1" => true,
        b"0" => false,
        _ => return Err(ReplyError::err("bit is not an integer or out of range")),
    };
    let key = c.argv[1].clone();
    let db = c.db;
    let (buf, grown) = writable_bytes(srv, db, &key, (offset >> 3) as usize + 1)?;
    let old = get_bit(buf, offset);
    set_bit(buf, offset, on);
    // Like Redis: only a created/grown key or a flipped bit is a change.
    if grown || (old == 1) != on {
        srv.ks.touch_write(db, &key);
        srv.ks.notify(notify::STRING, "setbit", db, &key);
    }
    c.reply.int(old as i64);
    Ok(())
}

/// GETBIT key offset.
pub fn getbit(srv: &mut Server, c: &mut Client) -> CmdResult {
    let offset = bit_offset(srv, c.arg(2), None)?;
    let key = c.argv[1].clone();
    let bit = read_bytes(srv, c.db, &key)?.map(|b| get_bit(&b, offset)).unwrap_or(0);
    c.reply.int(bit as i64);
    Ok(())
}

/// Resolves a BITCOUNT/BITPOS range to inclusive bit positions, applying
/// Redis's negative-index and clamping rules. `None` is an empty range.
fn bit_range(len_bytes: usize, start: i64, end: i64, in_bits: bool) -> Option<(u64, u64)> {
    let total = if in_bits { len_bytes as i64 * 8 } else { len_bytes as i64 };
    let mut s = if start < 0 { total + start } else { start };
    let mut e = if end < 0 { total + end } else { end };
    s = s.max(0);
    e = e.max(0);
    if e >= total {
        e = total - 1;
    }
    if s > e || total == 0 {
        return None;
    }
    if in_bits {
        Some((s as u64, e as u64))
    } else {
        Some((s as u64 * 8, e as u64 * 8 + 7))
    }
}

fn unit_arg(arg: &[u8]) -> Result<bool, ReplyError> {
    if args::is(arg, "bit") {
        Ok(true)
    } else if args::is(arg, "byte") {
        Ok(false)
    } else {
        Err(ReplyError::Syntax)
    }
}

fn count_bits(buf: &[u8], from: u64, to: u64) -> u64 {
    let (fb, tb) = ((from >> 3) as usize, (to >> 3) as usize);
    let mut n: u64 = buf[fb..=tb].iter().map(|b| b.count_ones() as u64).sum();
    // Remove the bits of the edge bytes that fall outside the range.
    for bit in (fb as u64 * 8)..from {
        n -= get_bit(buf, bit) as u64;
    }
    for bit in (to + 1)..(tb as u64 * 8 + 8) {
        n -= get_bit(buf, bit) as u64;
    }
    n
}

/// BITCOUNT key [start end [BYTE|BIT]].
pub fn bitcount(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let (start, end, in_bits) = match c.argc() {
        2 => (0, -1, false),
        4 | 5 => {
            let s = args::int(c.arg(2))?;
            let e = args::int(c.arg(3))?;
            let b = if c.argc() == 5 { unit_arg(c.arg(4))? } else { false };
            (s, e, b)
        }
        _ => return Err(ReplyError::Syntax),
    };
    let Some(buf) = read_bytes(srv, c.db, &key)? else {
        c.reply.int(0);
        return Ok(());
    };
    if start < 0 && end < 0 && start > end {
        c.reply.int(0);
        return Ok(());
    }
    let n = bit_range(buf.len(), start, end, in_bits).map(|(f, t)| count_bits(&buf, f, t)).unwrap_or(0);
    c.reply.int(n as i64);
    Ok(())
}

/// BITPOS key bit [start [end [BYTE|BIT]]].
pub fn bitpos(srv: &mut Server, c: &mut Client) -> CmdResult {
    let key = c.argv[1].clone();
    let bit = args::int(c.arg(2))?;
    if bit != 0 && bit != 1 {
        return Err(ReplyError::err("The bit argument must be 1 or 0."));
    }
    let Some(buf) = read_bytes(srv, c.db, &key)? else {
        c.reply.int(if bit == 1 { -1 } else { 0 });
        return Ok(());
    };
    if c.argc() > 6 {
        return Err(ReplyError::Syntax);
    }
    let in_bits = if c.argc() == 6 { unit_arg(c.arg(5))? } else { false };
    let start = if c.argc() >= 4 { args::int(c.arg(3))? } else { 0 };
    let end_given = c.argc() >= 5;
    let end = if end_given { args::int(c.arg(4))? } else { -1 };
    let Some((from, to)) = bit_range(buf.len(), start, end, in_bits) else {
        c.reply.int(-1);
        return Ok(());
    };
    let want = bit as u8;
    let found = (from..=to).find(|&b| get_bit(&buf, b) == want);
    let pos = match found {
        Some(p) => p as i64,
        // Looking for a clear bit with no explicit end: the string counts as
        // padded with zeros on the right.
        None if want == 0 && !end_given => ((to >> 3) + 1) as i64 * 8,
        None => -1,
    };
    c.reply.int(pos);
    Ok(())
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]: the length of the result.
pub fn bitop(srv: &mut Server, c: &mut Client) -> CmdResult {
    let op = String::from_utf8_lossy(c.arg(1)).to_lowercase();
    if !matches!(op.as_str(), "and" | "or" | "xor" | "not") {
        return Err(ReplyError::Syntax);
    }
    if op == "not" && c.argc() != 4 {
        return Err(ReplyError::err("BITOP NOT must be called with a single source key."));
    }
    let db = c.db;
    let mut srcs: Vec<Vec<u8>> = Vec::new();
    for i in 3..c.argc() {
        let key = c.argv[i].clone();
        srcs.push(read_bytes(srv, db, &key)?.unwrap_or_default());
    }
    let len = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![0u8; len];
    for (i, o) in out.iter_mut().enumerate() {
        let byte = |s: &Vec<u8>| s.get(i).copied().unwrap_or(0);
        *o = match op.as_str() {
            "not" => !byte(&srcs[0]),
            "and" => srcs.iter().map(byte).fold(0xff, |a, b| a & b),
            "or" => srcs.iter().map(byte).fold(0, |a, b| a | b),
            _ => srcs.iter().map(byte).fold(0, |a, b| a ^ b),
        };
    }
    let dest = c.argv[2].clone();
    if out.is_empty() {
        if srv.ks.delete(db, &dest) {
            srv.ks.touch_write(db, &dest);
            srv.ks.notify(notify::GENERIC, "del", db, &dest);
        }
    } else {
        srv.ks.set(db, &dest, Value::Str(Str::Raw(Box::new(out))), false);
        srv.ks.touch_write(db, &dest);
        srv.ks.notify(notify::STRING, "set", db, &dest);
    }
    c.reply.int(len as i64);
    Ok(())
}

// ----------------------------------------------------------------- BITFIELD

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Debug, Clone, Copy)]
enum FieldOp {
    Get,
    Set(i64),
    Incr(i64),
}

#[derive(Debug, Clone, Copy)]
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

fn field_type(arg: &[u8]) -> Result<(bool, u32), ReplyError> {
    // COMPAT: Redis's text for a bad type.
    let err = || {
        ReplyError::err("Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")
    };
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err()),
    };
    let bits = crate::util::num::string2ll(&arg[1..]).ok_or_else(err)?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

fn read_field(buf: &[u8], offset: u64, bits: u32, signed: bool) -> i64 {
    let mut v: u64 = 0;
    for i in 0..bits as u64 {
        v = (v << 1) | get_bit(buf, offset + i) as u64;
    }
    if signed && bits < 64 && (v >> (bits - 1)) & 1 == 1 {
        v |= u64::MAX << bits;
    }
    v as i64
}

fn write_field(buf: &mut [u8], offset: u64, bits: u32, value: i64) {
    let v = value as u64;
    for i in 0..bits as u64 {
        let b = (v >> (bits as u64 - 1 - i)) & 1;
        set_bit(buf, offset + i, b == 1);
    }
}

/// Applies overflow policy to `value` for a field of `bits`; None means FAIL.
fn fit(value: i128, bits: u32, signed: bool, ow: Overflow) -> Option<i64> {
    let (min, max): (i128, i128) =
        if signed { (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1) } else { (0, (1i128 << bits) - 1) };
    if value >= min && value <= max {
        return Some(value as i64);
    }
    match ow {
        Overflow::Fail => None,
        Overflow::Sat => Some(if value > max { max as i64 } else { min as i64 }),
        Overflow::Wrap => {
            let m = 1i128 << bits;
            let mut w = value.rem_euclid(m);
            if signed && w > max {
                w -= m;
            }
            Some(w as i64)
        }
    }
}

fn bitfield_generic(srv: &mut Server, c: &mut Client, read_only: bool) -> CmdResult {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < c.argc() {
        let left = c.argc() - j - 1;
        let sub = c.arg(j);
        if args::is(sub, "get") && left >= 2 {
            let (signed, bits) = field_type(c.arg(j + 1))?;
            let offset = bit_offset(srv, c.arg(j + 2), Some(bits))?;
            fields.push(Field { op: FieldOp::Get, signed, bits, offset, overflow });
            j += 3;
        } else if (args::is(sub, "set") || args::is(sub, "incrby")) && left >= 3 {
            let is_set = args::is(sub, "set");
            let (signed, bits) = field_type(c.arg(j + 1))?;
            let offset = bit_offset(srv, c.arg(j + 2), Some(bits))?;
            let v = args::int(c.arg(j + 3))?;
            let op = if is_set { FieldOp::Set(v) } else { FieldOp::Incr(v) };
            fields.push(Field { op, signed, bits, offset, overflow });
            j += 4;
        } else if args::is(sub, "overflow") && left >= 1 {
            let o = c.arg(j + 1);
            overflow = if args::is(o, "wrap") {
                Overflow::Wrap
            } else if args::is(o, "sat") {
                Overflow::Sat
            } else if args::is(o, "fail") {
                Overflow::Fail
            } else {
                return Err(ReplyError::err("Invalid OVERFLOW type specified"));
            };
            j += 2;
        } else {
            return Err(ReplyError::Syntax);
        }
    }
    let writes = fields.iter().any(|f| !matches!(f.op, FieldOp::Get));
    if read_only && writes {
        return Err(ReplyError::err("BITFIELD_RO only supports the GET subcommand"));
    }
    let key = c.argv[1].clone();
    let db = c.db;
    if !writes {
        let buf = read_bytes(srv, db, &key)?.unwrap_or_default();
        c.reply.array(fields.len());
        for f in &fields {
            c.reply.int(read_field(&buf, f.offset, f.bits, f.signed));
        }
        return Ok(());
    }
    let need = fields.iter().map(|f| ((f.offset + f.bits as u64 - 1) >> 3) as usize + 1).max().unwrap_or(0);
    let (buf, grown) = writable_bytes(srv, db, &key, need)?;
    let mut replies: Vec<Option<i64>> = Vec::with_capacity(fields.len());
    // Writes that count as changes: each one on a created/grown key, or one
    // that altered the field (Redis's dirty accounting).
    let mut changes = 0u64;
    for f in &fields {
        let old = read_field(buf, f.offset, f.bits, f.signed);
        match f.op {
            FieldOp::Get => replies.push(Some(old)),
            FieldOp::Set(v) => match fit(v as i128, f.bits, f.signed, f.overflow) {
                Some(nv) => {
                    write_field(buf, f.offset, f.bits, nv);
                    changes += u64::from(grown || nv != old);
                    replies.push(Some(old));
                }
                None => replies.push(None),
            },
            FieldOp::Incr(by) => match fit(old as i128 + by as i128, f.bits, f.signed, f.overflow) {
                Some(nv) => {
                    write_field(buf, f.offset, f.bits, nv);
                    changes += u64::from(grown || nv != old);
                    replies.push(Some(nv));
                }
                None => replies.push(None),
            },
        }
    }
    if changes > 0 {
        srv.ks.touch_write(db, &key);
        srv.ks.dirty += changes - 1;
        srv.ks.notify(notify::STRING, "setbit", db, &key);
    }
    c.reply.array(replies.len());
    for r in replies {
        match r {
            Some(v) => c.reply.int(v),
            None => c.reply.null(),
        }
    }
    Ok(())
}

/// BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset increment] [OVERFLOW WRAP|SAT|FAIL] ...
pub fn bitfield(srv: &mut Server, c: &mut Client) -> CmdResult {
    bitfield_generic(srv, c, false)
}

/// BITFIELD_RO key [GET type offset ...].
pub fn bitfield_ro(srv: &mut Server, c: &mut Client) -> CmdResult {
    bitfield_generic(srv, c, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_overflow() {
        let mut buf = vec![0u8; 8];
        write_field(&mut buf, 3, 5, -3);
        assert_eq!(read_field(&buf, 3, 5, true), -3);
        assert_eq!(read_field(&buf, 3, 5, false), 29);
        assert_eq!(fit(300, 8, false, Overflow::Wrap), Some(44));
        assert_eq!(fit(300, 8, false, Overflow::Sat), Some(255));
        assert_eq!(fit(-129, 8, true, Overflow::Wrap), Some(127));
        assert_eq!(fit(-129, 8, true, Overflow::Fail), None);
        assert_eq!(fit(i64::MAX as i128 + 1, 64, true, Overflow::Wrap), Some(i64::MIN));
    }

    #[test]
    fn ranges_follow_redis() {
        assert_eq!(bit_range(3, 0, -1, false), Some((0, 23)));
        assert_eq!(bit_range(3, 1, 1, false), Some((8, 15)));
        assert_eq!(bit_range(3, 5, 10, true), Some((5, 10)));
        assert_eq!(bit_range(3, 2, 1, false), None);
        assert_eq!(count_bits(&[0xff, 0x0f], 4, 11), 4);
    }
}
