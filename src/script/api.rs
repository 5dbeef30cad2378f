//! The parts of the `redis` Lua table that need no running command:
//! `sha1hex`, `error_reply`, `status_reply`, `log` and its levels, the
//! version constants, the `REPL_*` flags, `replicate_commands`,
//! `breakpoint` and `debug` (the debugger is never on).
//!
//! Must not: reach the server. Mirrors Redis 7.0's Lua API texts (its
//! "wrong number or type of arguments" and log-level errors).

use mlua::{Lua, MultiValue, Table, Value};

/// Redis's propagation flags as seen by `redis.set_repl`.
pub const REPL_AOF: i64 = 1;
/// Replicas.
pub const REPL_REPLICA: i64 = 2;

/// Builds Redis's error table `{err = "CODE message"}` from a reply text
/// that may start with `-` (its code is kept) or not (`ERR` is added).
pub fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 2)?;
    t.raw_set("err", lua.create_string(error_text(text))?)?;
    Ok(t)
}

/// Redis's normalisation of an error text: `-CODE msg` becomes
/// `CODE msg`, a text without `-` gets `ERR `, trailing CR/LF go.
pub fn error_text(text: &[u8]) -> Vec<u8> {
    let (code, msg): (&[u8], &[u8]) = match text.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&b| b == b' ') {
            Some(sp) => (&rest[..sp], &rest[sp + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", text),
    };
    let mut end = msg.len();
    while end > 0 && matches!(msg[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    let mut start = 0;
    while start < end && matches!(msg[start], b'\r' | b'\n') {
        start += 1;
    }
    let mut out = code.to_vec();
    out.push(b' ');
    out.extend_from_slice(&msg[start..end]);
    out
}

/// Installs the static functions and constants into `redis`.
pub fn install(lua: &Lua, redis: &Table) -> mlua::Result<()> {
    redis.raw_set(
        "sha1hex",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                // COMPAT: luaRedisSha1hexCommand.
                return Err(mlua::Error::external(ScriptError::new(error_text(b"wrong number of arguments"))));
            }
            let bytes = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Number(n) => crate::util::num::format_double(*n),
                Value::Integer(n) => n.to_string().into_bytes(),
                _ => Vec::new(),
            };
            lua.create_string(super::eval::sha1_hex(&bytes))
        })?,
    )?;
    redis.raw_set("error_reply", lua.create_function(|lua, args: MultiValue| single_field(lua, args, "err"))?)?;
    redis.raw_set("status_reply", lua.create_function(|lua, args: MultiValue| single_field(lua, args, "ok"))?)?;
    redis.raw_set("log", lua.create_function(log)?)?;
    for (name, v) in [("LOG_DEBUG", 0), ("LOG_VERBOSE", 1), ("LOG_NOTICE", 2), ("LOG_WARNING", 3)] {
        redis.raw_set(name, v)?;
    }
    for (name, v) in [
        ("REPL_NONE", 0),
        ("REPL_AOF", REPL_AOF),
        ("REPL_SLAVE", REPL_REPLICA),
        ("REPL_REPLICA", REPL_REPLICA),
        ("REPL_ALL", REPL_AOF | REPL_REPLICA),
    ] {
        redis.raw_set(name, v)?;
    }
    // COMPAT: the version Viator implements, as INFO reports it.
    redis.raw_set("REDIS_VERSION", "7.0.15")?;
    redis.raw_set("REDIS_VERSION_NUM", 0x07000f)?;
    // 7.0 always replicates effects: the call is a no-op that says so.
    redis.raw_set("replicate_commands", lua.create_function(|_, _: MultiValue| Ok(true))?)?;
    redis.raw_set("breakpoint", lua.create_function(|_, _: MultiValue| Ok(false))?)?;
    redis.raw_set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    Ok(())
}

/// An error a Rust callback raises with Redis's text; the error handler
/// turns it into `{err = text}`.
#[derive(Debug, Default)]
pub struct ScriptError {
    /// `CODE message`.
    pub text: Vec<u8>,
    /// Already counted in the error statistics (a failed command).
    pub counted: bool,
}

impl ScriptError {
    /// An uncounted error with `text` (already normalised).
    pub fn new(text: Vec<u8>) -> ScriptError {
        ScriptError { text, counted: false }
    }
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.text))
    }
}

impl std::error::Error for ScriptError {}

/// `redis.error_reply(x)` / `redis.status_reply(x)`.
fn single_field(lua: &Lua, args: MultiValue, field: &str) -> mlua::Result<Table> {
    let s = match (args.len(), args.front()) {
        (1, Some(Value::String(s))) => s.as_bytes().to_vec(),
        // COMPAT: luaRedisReturnSingleFieldTable's error, returned (not raised).
        _ => return error_table(lua, b"wrong number or type of arguments"),
    };
    if field == "err" {
        let text = if s.starts_with(b"-") { s } else { [b"-".as_slice(), &s].concat() };
        return error_table(lua, &text);
    }
    let t = lua.create_table()?;
    t.raw_set(field, lua.create_string(s)?)?;
    Ok(t)
}

/// `redis.log(level, msg, ...)`.
fn log(_lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    let raise = |text: &[u8]| Err(mlua::Error::external(ScriptError::new(error_text(text))));
    if args.len() < 2 {
        // COMPAT: luaLogCommand's errors.
        return raise(b"redis.log() requires two arguments or more.");
    }
    let level = match &args[0] {
        Value::Number(n) => *n as i64,
        Value::Integer(n) => *n as i64,
        Value::String(s) => match std::str::from_utf8(&s.as_bytes()).ok().and_then(|t| t.trim().parse::<f64>().ok()) {
            Some(n) => n as i64,
            None => return raise(b"First argument must be a number (log level)."),
        },
        _ => return raise(b"First argument must be a number (log level)."),
    };
    if !(0..=3).contains(&level) {
        return raise(b"Invalid debug level.");
    }
    let mut text = Vec::new();
    for (i, v) in args.iter().skip(1).enumerate() {
        let piece = match v {
            Value::String(s) => s.as_bytes().to_vec(),
            Value::Number(n) => crate::util::num::format_double(*n),
            Value::Integer(n) => n.to_string().into_bytes(),
            _ => continue,
        };
        if i > 0 {
            text.push(b' ');
        }
        text.extend_from_slice(&piece);
    }
    let text = String::from_utf8_lossy(&text);
    match level {
        0 => log::trace!("{text}"),
        1 => log::debug!("{text}"),
        2 => log::info!("{text}"),
        _ => log::warn!("{text}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_get_a_code() {
        assert_eq!(error_text(b"-WRONGTYPE bad\r\n"), b"WRONGTYPE bad");
        assert_eq!(error_text(b"plain"), b"ERR plain");
        assert_eq!(error_text(b"-NOCODE"), b"ERR NOCODE");
    }
}
