//! Conversions between Redis replies and Lua values, both ways, as Redis
//! 7.0 defines them for scripts.
//!
//! Reply -> Lua (what `redis.call` returns; the protocol is the one the
//! script chose with `redis.setresp`): integer -> number, bulk -> string,
//! RESP2 null bulk / null array -> false, status -> `{ok=...}`, error ->
//! `{err=...}`, array -> table; RESP3 null -> nil, boolean -> boolean,
//! double -> `{double=n}`, map -> `{map={...}}`, set -> `{set={k=true}}`,
//! big number -> `{big_number=s}`, verbatim -> `{verbatim_string={format,
//! string}}`.
//!
//! Lua -> reply (what the script returns): string -> bulk, number ->
//! integer (truncated), boolean -> 1/null under RESP2 scripts or a RESP3
//! boolean, a table with `err` / `ok` / `double` / `big_number` /
//! `verbatim_string` / `map` / `set` -> that reply, any other table -> an
//! array of its 1..n elements up to the first nil, anything else -> null.
//!
//! Must not: run commands. The nesting depth is bounded (Redis's "reached
//! lua stack limit"), so a table that contains itself cannot recurse for
//! ever.

use mlua::{Either, Lua, Table, Value};

use crate::client::reply::Reply;
use crate::resp::value::Value as Resp;

/// Deepest nesting converted before "reached lua stack limit".
const MAX_DEPTH: usize = 256;

/// Converts one parsed reply to a Lua value. `resp` is the protocol the
/// script client used (decides what a null becomes).
pub fn reply_to_lua(lua: &Lua, v: &Resp, resp: u8) -> mlua::Result<Value> {
    Ok(match v {
        Resp::Int(n) => Value::Number(*n as f64),
        Resp::Bulk(b) => Value::String(lua.create_string(b)?),
        Resp::Nil | Resp::NilArray => {
            if resp == 2 {
                Value::Boolean(false)
            } else {
                Value::Nil
            }
        }
        Resp::Simple(s) => {
            let t = lua.create_table_with_capacity(0, 1)?;
            t.raw_set("ok", lua_text(s))?;
            Value::Table(t)
        }
        Resp::Error(e) | Resp::BulkError(e) => {
            Value::Table(super::api::error_table(lua, &[b"-".as_slice(), e].concat())?)
        }
        Resp::Array(items) | Resp::Push(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, reply_to_lua(lua, item, resp)?)?;
            }
            Value::Table(t)
        }
        Resp::Map(pairs) => {
            let inner = lua.create_table()?;
            for (k, v) in pairs {
                inner.raw_set(reply_to_lua(lua, k, resp)?, reply_to_lua(lua, v, resp)?)?;
            }
            wrap(lua, "map", Value::Table(inner))?
        }
        Resp::Set(items) => {
            let inner = lua.create_table()?;
            for k in items {
                inner.raw_set(reply_to_lua(lua, k, resp)?, true)?;
            }
            wrap(lua, "set", Value::Table(inner))?
        }
        Resp::Double(d) => wrap(lua, "double", Value::Number(*d))?,
        Resp::Bool(b) => Value::Boolean(*b),
        Resp::BigNumber(s) => wrap(lua, "big_number", Value::String(lua.create_string(s)?))?,
        Resp::Verbatim { format, text } => {
            let inner = lua.create_table()?;
            inner.raw_set("format", lua.create_string(format)?)?;
            inner.raw_set("string", lua.create_string(text)?)?;
            wrap(lua, "verbatim_string", Value::Table(inner))?
        }
    })
}

/// The Lua value of the first reply in `buf` when it is an integer, a
/// status or a bulk string (what most commands answer), read straight
/// from the bytes; the same value `reply_to_lua` gives for it under either
/// protocol. `None` for any other reply (or one not in canonical form):
/// the caller parses it fully.
pub fn plain_reply_to_lua(lua: &Lua, buf: &[u8]) -> mlua::Result<Option<Value>> {
    let Some((&kind, rest)) = buf.split_first() else { return Ok(None) };
    let Some(eol) = rest.iter().position(|&b| b == b'\r') else { return Ok(None) };
    let (line, after) = (&rest[..eol], &rest[eol..]);
    if !after.starts_with(b"\r\n") {
        return Ok(None);
    }
    Ok(match kind {
        b':' => crate::util::num::string2ll(line).map(|n| Value::Number(n as f64)),
        b'+' => {
            let t = lua.create_table_with_capacity(0, 1)?;
            t.raw_set("ok", lua_text(line))?;
            Some(Value::Table(t))
        }
        b'$' => {
            let Some(len) = crate::util::num::string2ll(line).and_then(|n| usize::try_from(n).ok()) else {
                return Ok(None);
            };
            let end = len.checked_add(2).unwrap_or(usize::MAX);
            match after.get(2..).and_then(|body| body.get(..len)) {
                Some(payload) if after.get(end..).is_some_and(|t| t.starts_with(b"\r\n")) => {
                    Some(Value::String(lua.create_string(payload)?))
                }
                _ => None,
            }
        }
        _ => None,
    })
}

/// Bytes as a Lua string, pushed straight onto the Lua stack when they are
/// UTF-8 (mlua's fast path for `&str`), through a copy otherwise.
pub fn lua_text(b: &[u8]) -> Either<&str, mlua::BString> {
    match std::str::from_utf8(b) {
        Ok(s) => Either::Left(s),
        Err(_) => Either::Right(mlua::BString::from(b.to_vec())),
    }
}

fn wrap(lua: &Lua, field: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(field, v)?;
    Ok(Value::Table(t))
}

/// An error text found in a returned `{err=...}` table, with whether it
/// was already counted in the error statistics (a failed `redis.call`).
pub struct ReturnedError {
    /// `CODE message`, without the leading `-`.
    pub text: String,
    /// The table carried `ignore_error_stats_update`.
    pub counted: bool,
}

/// Writes the Lua value `v` as the reply to `out`. `script_resp` is the
/// protocol the script chose (booleans depend on it). A top-level error
/// table is returned instead of written, so the caller can count it.
pub fn lua_to_reply(v: &Value, out: &mut Reply, script_resp: u8) -> Option<ReturnedError> {
    if let Value::Table(t) = v {
        if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
            let counted = matches!(t.raw_get::<Value>("ignore_error_stats_update"), Ok(Value::Boolean(true)));
            return Some(ReturnedError { text: one_line(&e.as_bytes()), counted });
        }
    }
    write_value(v, out, script_resp, 0);
    None
}

/// Error and status texts go out on one line.
pub fn one_line(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace(['\r', '\n'], " ")
}

fn write_value(v: &Value, out: &mut Reply, script_resp: u8, depth: usize) {
    if depth > MAX_DEPTH {
        // COMPAT: luaReplyToRedisReply's stack error.
        out.error("ERR reached lua stack limit");
        return;
    }
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if script_resp == 2 {
                if *b {
                    out.int(1)
                } else {
                    out.null()
                }
            } else {
                out.boolean(*b)
            }
        }
        Value::Number(n) => out.int(*n as i64),
        Value::Integer(n) => out.int(*n as i64),
        Value::Table(t) => write_table(t, out, script_resp, depth),
        _ => out.null(),
    }
}

fn write_table(t: &Table, out: &mut Reply, script_resp: u8, depth: usize) {
    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
        out.error(&one_line(&e.as_bytes()));
        return;
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        out.simple(&one_line(&s.as_bytes()));
        return;
    }
    if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
        out.double(d);
        return;
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
        out.big_number(one_line(&s.as_bytes()).as_bytes());
        return;
    }
    if let Ok(Value::Table(vt)) = t.raw_get::<Value>("verbatim_string") {
        if let (Ok(Value::String(f)), Ok(Value::String(s))) =
            (vt.raw_get::<Value>("format"), vt.raw_get::<Value>("string"))
        {
            out.verbatim(&s.as_bytes(), &f.to_string_lossy());
            return;
        }
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let pos = out.deferred_len();
        let mut n = 0;
        for (k, v) in m.pairs::<Value, Value>().flatten() {
            write_value(&k, out, script_resp, depth + 1);
            write_value(&v, out, script_resp, depth + 1);
            n += 1;
        }
        out.set_deferred_len(pos, if out.resp >= 3 { b'%' } else { b'*' }, if out.resp >= 3 { n } else { n * 2 });
        return;
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let pos = out.deferred_len();
        let mut n = 0;
        for (k, _) in s.pairs::<Value, Value>().flatten() {
            write_value(&k, out, script_resp, depth + 1);
            n += 1;
        }
        out.set_deferred_len(pos, if out.resp >= 3 { b'~' } else { b'*' }, n);
        return;
    }
    let pos = out.deferred_len();
    let mut n = 0;
    loop {
        let v: Value = t.raw_get(n + 1).unwrap_or(Value::Nil);
        if v.is_nil() {
            break;
        }
        write_value(&v, out, script_resp, depth + 1);
        n += 1;
    }
    out.set_deferred_array(pos, n);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(v: &Resp, resp: u8) -> Vec<u8> {
        let lua = Lua::new();
        let lv = reply_to_lua(&lua, v, resp).unwrap();
        let mut r = Reply::new();
        r.resp = resp;
        assert!(lua_to_reply(&lv, &mut r, resp).is_none());
        r.buf
    }

    #[test]
    fn resp2_values_survive_a_round_trip() {
        let v = Resp::Array(vec![Resp::Int(1), Resp::Bulk(b"a".to_vec()), Resp::Simple(b"OK".to_vec())]);
        assert_eq!(roundtrip(&v, 2), b"*3\r\n:1\r\n$1\r\na\r\n+OK\r\n");
        // A null bulk becomes false, which goes back as a null.
        assert_eq!(roundtrip(&Resp::Nil, 2), b"$-1\r\n");
    }

    #[test]
    fn resp3_values_survive_a_round_trip() {
        assert_eq!(roundtrip(&Resp::Bool(true), 3), b"#t\r\n");
        assert_eq!(roundtrip(&Resp::Double(1.5), 3), b",1.5\r\n");
        let m = Resp::Map(vec![(Resp::Bulk(b"k".to_vec()), Resp::Int(2))]);
        assert_eq!(roundtrip(&m, 3), b"%1\r\n$1\r\nk\r\n:2\r\n");
    }

    #[test]
    fn plain_replies_convert_as_parsed_ones() {
        let lua = Lua::new();
        let cases: &[&[u8]] = &[
            b":42\r\n",
            b":-7\r\n",
            b"+OK\r\n",
            b"$5\r\nhello\r\n",
            b"$0\r\n\r\n",
            b"$4\r\na\r\nb\r\n",
            b"$-1\r\n",
            b":007\r\n",
            b"*1\r\n:1\r\n",
            b"-ERR x\r\n",
            b"$5\r\nhel",
        ];
        for case in cases {
            let fast = plain_reply_to_lua(&lua, case).unwrap();
            let Some(fast) = fast else { continue };
            let (v, _) = crate::resp::value::parse(case).unwrap().unwrap();
            let full = reply_to_lua(&lua, &v, 2).unwrap();
            let (mut a, mut b) = (Reply::new(), Reply::new());
            lua_to_reply(&fast, &mut a, 2);
            lua_to_reply(&full, &mut b, 2);
            assert_eq!(a.buf, b.buf, "{}", String::from_utf8_lossy(case));
        }
        assert!(plain_reply_to_lua(&lua, b":42\r\n").unwrap().is_some());
        assert!(plain_reply_to_lua(&lua, b"$-1\r\n").unwrap().is_none());
        assert!(plain_reply_to_lua(&lua, b"$5\r\nhel").unwrap().is_none());
        assert!(plain_reply_to_lua(&lua, b"-ERR x\r\n").unwrap().is_none());
    }

    #[test]
    fn random_plain_replies_never_panic() {
        let lua = Lua::new();
        let mut x: u64 = 0x2545f4914f6cdd1d;
        for _ in 0..5000 {
            let mut buf = Vec::new();
            for _ in 0..(x % 12) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let alphabet = b":+$-\r\n0123456789ab";
                buf.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            let _ = plain_reply_to_lua(&lua, &buf);
        }
    }

    #[test]
    fn arrays_stop_at_the_first_nil_and_errors_are_returned() {
        let lua = Lua::new();
        let v: Value = lua.load("return {1, 2, nil, 4}").eval().unwrap();
        let mut r = Reply::new();
        assert!(lua_to_reply(&v, &mut r, 2).is_none());
        assert_eq!(r.buf, b"*2\r\n:1\r\n:2\r\n");
        let v: Value = lua.load("return {err='ERR x\\ny'}").eval().unwrap();
        let e = lua_to_reply(&v, &mut r, 2).unwrap();
        assert_eq!(e.text, "ERR x y");
    }

    #[test]
    fn self_containing_tables_hit_the_depth_limit() {
        let lua = Lua::new();
        let v: Value = lua.load("local a = {}; a[1] = a; return a").eval().unwrap();
        let mut r = Reply::new();
        lua_to_reply(&v, &mut r, 2);
        assert!(r.buf.windows(22).any(|w| w == b"reached lua stack limi"));
    }
}
