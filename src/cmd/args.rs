//! Argument parsing helpers shared by handlers, with Redis's error replies.

use crate::client::reply::ReplyError;

/// Parses a strict integer argument (`ERR value is not an integer or out of range`).
pub fn int(arg: &[u8]) -> Result<i64, ReplyError> {
    crate::util::num::string2ll(arg).ok_or(ReplyError::NotInteger)
}

/// Parses a float argument (`ERR value is not a valid float`).
pub fn float(arg: &[u8]) -> Result<f64, ReplyError> {
    crate::util::num::string2ld(arg).ok_or(ReplyError::NotFloat)
}

/// Case-insensitive comparison with an option keyword.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Parses a database index (`ERR value is not an integer or out of range`,
/// then `ERR DB index is out of range` against `dbs`).
pub fn db_index(arg: &[u8], dbs: usize) -> Result<usize, ReplyError> {
    let n = int(arg)?;
    if n < 0 || n as usize >= dbs {
        return Err(ReplyError::DbIndex);
    }
    Ok(n as usize)
}

/// Parses a blocking timeout in seconds (decimals allowed) into ms, with
/// Redis's errors; 0 means forever.
pub fn timeout_ms(arg: &[u8]) -> Result<i64, ReplyError> {
    // COMPAT: getTimeoutFromObjectOrReply's texts.
    let secs =
        crate::util::num::string2ld(arg).ok_or_else(|| ReplyError::err("timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).ceil();
    if ms < 0.0 {
        return Err(ReplyError::err("timeout is negative"));
    }
    if !ms.is_finite() || ms > i64::MAX as f64 {
        return Err(ReplyError::err("timeout is not a float or out of range"));
    }
    Ok(ms as i64)
}
