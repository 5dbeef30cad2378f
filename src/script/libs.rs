//! Redis's extra Lua libraries, written in Rust: `bit` (LuaBitOp),
//! `cjson` (lua-cjson 2.1), `cmsgpack` (lua-cmsgpack) and `struct`
//! (lua_struct).
//!
//! Must not: reach the server or keep state outside the interpreter they
//! are installed in (cjson's settings live in its closures). Mirrors the
//! behaviour of the C libraries Redis 7.0 bundles: bit operations on
//! 32-bit signed integers, cjson's escaping (`/` included), number format
//! (`%.14g`), sparse-array and depth rules and its `cjson.null`, msgpack's
//! smallest encodings with a nesting limit of 16, and struct's format
//! letters.

use std::cell::RefCell;
use std::rc::Rc;

use mlua::{LightUserData, Lua, MultiValue, Table, Value, Variadic};

/// Installs the libraries as globals of `globals`.
pub fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    globals.raw_set("bit", bit(lua)?)?;
    globals.raw_set("cjson", cjson(lua)?)?;
    globals.raw_set("cmsgpack", cmsgpack(lua)?)?;
    globals.raw_set("struct", structlib(lua)?)?;
    Ok(())
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        Value::Integer(n) => Some(*n as f64),
        Value::String(s) => std::str::from_utf8(&s.as_bytes()).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn lua_err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

// ------------------------------------------------------------------ bit

/// LuaBitOp's normalisation: the number modulo 2^32 as a signed 32-bit
/// integer (rounding fractions to nearest, as its double trick does).
pub fn tobit(n: f64) -> i32 {
    if !n.is_finite() {
        return 0;
    }
    n.round_ties_even().rem_euclid(4294967296.0) as u64 as u32 as i32
}

fn bit(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let arg = |args: &MultiValue, i: usize| -> mlua::Result<i32> {
        args.get(i)
            .and_then(num)
            .map(tobit)
            .ok_or_else(|| lua_err(format!("bad argument #{} (number expected)", i + 1)))
    };
    t.raw_set("tobit", lua.create_function(move |_, a: MultiValue| Ok(f64::from(arg(&a, 0)?)))?)?;
    t.raw_set("bnot", lua.create_function(move |_, a: MultiValue| Ok(f64::from(!arg(&a, 0)?)))?)?;
    t.raw_set("bswap", lua.create_function(move |_, a: MultiValue| Ok(f64::from(arg(&a, 0)?.swap_bytes())))?)?;
    type Fold = fn(i32, i32) -> i32;
    for (name, f) in [("band", (|a, b| a & b) as Fold), ("bor", |a, b| a | b), ("bxor", |a, b| a ^ b)] {
        t.raw_set(
            name,
            lua.create_function(move |_, a: MultiValue| {
                let mut acc = arg(&a, 0)?;
                for i in 1..a.len() {
                    acc = f(acc, arg(&a, i)?);
                }
                Ok(f64::from(acc))
            })?,
        )?;
    }
    type Shift = fn(i32, u32) -> i32;
    for (name, f) in [
        ("lshift", (|a: i32, n: u32| ((a as u32) << n) as i32) as Shift),
        ("rshift", |a, n| ((a as u32) >> n) as i32),
        ("arshift", |a, n| a >> n),
        ("rol", |a, n| (a as u32).rotate_left(n) as i32),
        ("ror", |a, n| (a as u32).rotate_right(n) as i32),
    ] {
        t.raw_set(
            name,
            lua.create_function(move |_, a: MultiValue| Ok(f64::from(f(arg(&a, 0)?, (arg(&a, 1)? & 31) as u32))))?,
        )?;
    }
    t.raw_set(
        "tohex",
        lua.create_function(move |_, a: MultiValue| {
            let x = arg(&a, 0)? as u32;
            let n = if a.len() > 1 { arg(&a, 1)? } else { 8 };
            let upper = n < 0;
            let n = n.unsigned_abs().min(8) as usize;
            let s = if upper { format!("{x:08X}") } else { format!("{x:08x}") };
            Ok(s[8 - n..].to_string())
        })?,
    )?;
    Ok(t)
}

// ---------------------------------------------------------------- cjson

/// cjson's settings (per interpreter).
struct JsonCfg {
    encode_max_depth: usize,
    decode_max_depth: usize,
    encode_invalid_numbers: bool,
    decode_invalid_numbers: bool,
    sparse_convert: bool,
    sparse_ratio: usize,
    sparse_safe: usize,
}

impl Default for JsonCfg {
    fn default() -> JsonCfg {
        JsonCfg {
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: false,
            decode_invalid_numbers: true,
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
        }
    }
}

/// `cjson.null`: a light userdata holding NULL, as lua-cjson's.
fn json_null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn cjson(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let cfg = Rc::new(RefCell::new(JsonCfg::default()));
    let c = cfg.clone();
    t.raw_set(
        "encode",
        lua.create_function(move |_, v: Value| {
            let mut out = Vec::new();
            json_encode(&v, &c.borrow(), 1, &mut out)?;
            Ok(mlua::BString::from(out))
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, s: mlua::String| {
            let bytes = s.as_bytes();
            let mut p = JsonParser { s: &bytes, pos: 0, lua, max_depth: c.borrow().decode_max_depth };
            p.skip_ws();
            let v = p.value(1)?;
            p.skip_ws();
            if p.pos < p.s.len() {
                return Err(lua_err(format!("Expected the end but found invalid token at character {}", p.pos + 1)));
            }
            Ok(v)
        })?,
    )?;
    type Set = fn(&mut JsonCfg, &MultiValue);
    let settings: [(&str, Set); 5] = [
        ("encode_max_depth", |c, a| {
            if let Some(n) = a.front().and_then(num) {
                c.encode_max_depth = n.max(1.0) as usize;
            }
        }),
        ("decode_max_depth", |c, a| {
            if let Some(n) = a.front().and_then(num) {
                c.decode_max_depth = n.max(1.0) as usize;
            }
        }),
        ("encode_invalid_numbers", |c, a| {
            if let Some(Value::Boolean(b)) = a.front() {
                c.encode_invalid_numbers = *b;
            }
        }),
        ("decode_invalid_numbers", |c, a| {
            if let Some(Value::Boolean(b)) = a.front() {
                c.decode_invalid_numbers = *b;
            }
        }),
        ("encode_sparse_array", |c, a| {
            if let Some(Value::Boolean(b)) = a.front() {
                c.sparse_convert = *b;
            }
            if let Some(n) = a.get(1).and_then(num) {
                c.sparse_ratio = n.max(0.0) as usize;
            }
            if let Some(n) = a.get(2).and_then(num) {
                c.sparse_safe = n.max(0.0) as usize;
            }
        }),
    ];
    for (name, set) in settings {
        let c = cfg.clone();
        t.raw_set(
            name,
            lua.create_function(move |_, a: MultiValue| {
                set(&mut c.borrow_mut(), &a);
                Ok(a)
            })?,
        )?;
    }
    for name in ["encode_keep_buffer", "encode_number_precision", "decode_array_with_array_mt"] {
        t.raw_set(name, lua.create_function(|_, a: MultiValue| Ok(a))?)?;
    }
    t.raw_set("null", json_null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

/// `%.14g`, lua-cjson's default number format.
fn fmt_g14(n: f64) -> String {
    if n == n.trunc() && n.abs() < 1e14 {
        return format!("{}", n as i64);
    }
    let sci = format!("{:.13e}", n);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..14).contains(&exp) {
        let mant = mant.trim_end_matches('0').trim_end_matches('.');
        return format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    let decimals = (13 - exp).max(0) as usize;
    let s = format!("{:.*}", decimals, n);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn json_encode(v: &Value, cfg: &JsonCfg, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Number(n) => json_number(*n, cfg, out)?,
        Value::String(s) => json_string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth > cfg.encode_max_depth {
                // COMPAT: lua-cjson's nesting error.
                return Err(lua_err(format!("Cannot serialise, excessive nesting ({depth})")));
            }
            match array_len(t, cfg)? {
                Some(n) => {
                    out.push(b'[');
                    for i in 1..=n {
                        if i > 1 {
                            out.push(b',');
                        }
                        json_encode(&t.raw_get::<Value>(i)?, cfg, depth + 1, out)?;
                    }
                    out.push(b']');
                }
                None => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<Value, Value>() {
                        let (k, val) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => json_string(&s.as_bytes(), out),
                            Value::Number(n) => {
                                out.push(b'"');
                                json_number(*n, cfg, out)?;
                                out.push(b'"');
                            }
                            Value::Integer(n) => out.extend_from_slice(format!("\"{n}\"").as_bytes()),
                            _ => return Err(lua_err("Cannot serialise table: table key must be a number or string")),
                        }
                        out.push(b':');
                        json_encode(&val, cfg, depth + 1, out)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => return Err(lua_err(format!("Cannot serialise {}: type not supported", other.type_name()))),
    }
    Ok(())
}

fn json_number(n: f64, cfg: &JsonCfg, out: &mut Vec<u8>) -> mlua::Result<()> {
    if !n.is_finite() {
        if !cfg.encode_invalid_numbers {
            return Err(lua_err("Cannot serialise number: must not be NaN or Inf"));
        }
        out.extend_from_slice(if n.is_nan() {
            b"nan"
        } else if n > 0.0 {
            b"inf"
        } else {
            b"-inf"
        });
        return Ok(());
    }
    out.extend_from_slice(fmt_g14(n).as_bytes());
    Ok(())
}

fn json_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// lua-cjson's array test: only positive integer keys; too sparse is an
/// error unless converting; `None` means "encode as an object".
fn array_len(t: &Table, cfg: &JsonCfg) -> mlua::Result<Option<usize>> {
    let (mut max, mut items) = (0usize, 0usize);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let idx = match k {
            Value::Integer(n) if n >= 1 => n as usize,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        max = max.max(idx);
        items += 1;
    }
    if items == 0 {
        return Ok(None);
    }
    if cfg.sparse_ratio > 0 && max > items * cfg.sparse_ratio && max > cfg.sparse_safe {
        if !cfg.sparse_convert {
            return Err(lua_err("Cannot serialise table: excessively sparse array"));
        }
        return Ok(None);
    }
    Ok(Some(max))
}

struct JsonParser<'a> {
    s: &'a [u8],
    pos: usize,
    lua: &'a Lua,
    max_depth: usize,
}

impl JsonParser<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn err<T>(&self, what: &str) -> mlua::Result<T> {
        Err(lua_err(format!("Expected {what} but found invalid token at character {}", self.pos + 1)))
    }

    fn value(&mut self, depth: usize) -> mlua::Result<Value> {
        self.skip_ws();
        let Some(&b) = self.s.get(self.pos) else { return self.err("value") };
        match b {
            b'{' | b'[' if depth > self.max_depth => {
                Err(lua_err(format!("Found too many nested data structures ({depth}) at character {}", self.pos + 1)))
            }
            b'{' => {
                self.pos += 1;
                let t = self.lua.create_table()?;
                self.skip_ws();
                if self.s.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    return Ok(Value::Table(t));
                }
                loop {
                    self.skip_ws();
                    if self.s.get(self.pos) != Some(&b'"') {
                        return self.err("object key string");
                    }
                    let k = self.string()?;
                    self.skip_ws();
                    if self.s.get(self.pos) != Some(&b':') {
                        return self.err("colon");
                    }
                    self.pos += 1;
                    let v = self.value(depth + 1)?;
                    t.raw_set(self.lua.create_string(&k)?, v)?;
                    self.skip_ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => return self.err("comma or object end"),
                    }
                }
            }
            b'[' => {
                self.pos += 1;
                let t = self.lua.create_table()?;
                self.skip_ws();
                if self.s.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(Value::Table(t));
                }
                let mut i = 1;
                loop {
                    let v = self.value(depth + 1)?;
                    t.raw_set(i, v)?;
                    i += 1;
                    self.skip_ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => return self.err("comma or array end"),
                    }
                }
            }
            b'"' => Ok(Value::String(self.lua.create_string(self.string()?)?)),
            b't' if self.s[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Ok(Value::Boolean(true))
            }
            b'f' if self.s[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Ok(Value::Boolean(false))
            }
            b'n' if self.s[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Ok(json_null())
            }
            b'-' | b'0'..=b'9' | b'.' | b'+' | b'i' | b'n' | b'I' | b'N' => {
                let start = self.pos;
                while self.pos < self.s.len()
                    && matches!(self.s[self.pos], b'-' | b'+' | b'.' | b'e' | b'E' | b'x' | b'X' | b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' | b'i' | b'n' | b'I' | b'N' | b't' | b'y')
                {
                    self.pos += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
                match text.parse::<f64>() {
                    Ok(n) => Ok(Value::Number(n)),
                    Err(_) => {
                        self.pos = start;
                        self.err("value")
                    }
                }
            }
            _ => self.err("value"),
        }
    }

    /// A JSON string at `pos` (which holds its opening quote).
    fn string(&mut self) -> mlua::Result<Vec<u8>> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.pos) else { return self.err("string end") };
            self.pos += 1;
            match b {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else { return self.err("escape") };
                    self.pos += 1;
                    match e {
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xd800..0xdc00).contains(&cp) && self.s[self.pos..].starts_with(b"\\u") {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo.wrapping_sub(0xdc00) & 0x3ff);
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(b),
            }
        }
    }

    fn hex4(&mut self) -> mlua::Result<u32> {
        let Some(h) = self.s.get(self.pos..self.pos + 4) else { return self.err("unicode escape") };
        let Some(v) = std::str::from_utf8(h).ok().and_then(|t| u32::from_str_radix(t, 16).ok()) else {
            return self.err("unicode escape");
        };
        self.pos += 4;
        Ok(v)
    }
}

// ------------------------------------------------------------- cmsgpack

/// lua-cmsgpack's nesting limit: deeper tables encode as nil.
const MSGPACK_MAX_NESTING: usize = 16;

fn cmsgpack(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|_, args: MultiValue| {
            if args.is_empty() {
                return Err(lua_err("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                mp_encode(v, 0, &mut out)?;
            }
            Ok(mlua::BString::from(out))
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, s: mlua::String| {
            let b = s.as_bytes();
            let (vals, _) = mp_decode_many(lua, &b, 0, 0)?;
            Ok(Variadic::from_iter(vals))
        })?,
    )?;
    let limit = |lua: &Lua, s: mlua::String, limit: usize, offset: f64| -> mlua::Result<MultiValue> {
        let b = s.as_bytes();
        let offset = if offset < 0.0 { 0 } else { offset as usize };
        if offset > b.len() {
            return Err(lua_err("Start offset greater than input length."));
        }
        let (vals, end) = mp_decode_many(lua, &b, offset, limit)?;
        let next = if end >= b.len() { -1.0 } else { end as f64 };
        let mut out = MultiValue::new();
        out.push_back(Value::Number(next));
        out.extend(vals);
        Ok(out)
    };
    t.raw_set(
        "unpack_one",
        lua.create_function(move |lua, (s, offset): (mlua::String, Option<f64>)| {
            limit(lua, s, 1, offset.unwrap_or(0.0))
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(move |lua, (s, n, offset): (mlua::String, f64, Option<f64>)| {
            limit(lua, s, n.max(0.0) as usize, offset.unwrap_or(0.0))
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    Ok(t)
}

fn mp_encode(v: &Value, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => mp_int(*n, out),
        Value::Number(n) => {
            if n.is_finite() && n.fract() == 0.0 && *n >= -9.2e18 && *n <= 9.2e18 {
                mp_int(*n as i64, out);
            } else if (*n as f32) as f64 == *n || n.is_nan() {
                out.push(0xca);
                out.extend_from_slice(&(*n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::String(s) => {
            let b = s.as_bytes();
            let n = b.len();
            if n < 32 {
                out.push(0xa0 | n as u8);
            } else if n <= 0xff {
                out.extend_from_slice(&[0xd9, n as u8]);
            } else if n <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            out.extend_from_slice(&b);
        }
        Value::Table(t) if level < MSGPACK_MAX_NESTING => {
            let (mut max, mut count, mut array) = (0usize, 0usize, true);
            for pair in t.pairs::<Value, Value>() {
                let (k, _) = pair?;
                count += 1;
                match k {
                    Value::Integer(i) if i >= 1 => max = max.max(i as usize),
                    Value::Number(f) if f >= 1.0 && f.fract() == 0.0 => max = max.max(f as usize),
                    _ => array = false,
                }
            }
            if array && max == count {
                mp_header(count, 0x90, 0xdc, out);
                for i in 1..=count {
                    mp_encode(&t.raw_get::<Value>(i)?, level + 1, out)?;
                }
            } else {
                mp_header(count, 0x80, 0xde, out);
                for pair in t.pairs::<Value, Value>() {
                    let (k, val) = pair?;
                    mp_encode(&k, level + 1, out)?;
                    mp_encode(&val, level + 1, out)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

/// An array or map header: fix form under 16, then 16- or 32-bit.
fn mp_header(n: usize, fix: u8, wide: u8, out: &mut Vec<u8>) {
    if n < 16 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(wide);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn mp_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        if n < 128 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2147483648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Decodes up to `limit` values (0: all) from `pos`; returns them and the
/// offset after the last.
fn mp_decode_many(lua: &Lua, b: &[u8], mut pos: usize, limit: usize) -> mlua::Result<(Vec<Value>, usize)> {
    let mut vals = Vec::new();
    while pos < b.len() && (limit == 0 || vals.len() < limit) {
        vals.push(mp_decode(lua, b, &mut pos, 0)?);
    }
    Ok((vals, pos))
}

fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize) -> mlua::Result<&'a [u8]> {
    let end = pos.checked_add(n).filter(|&e| e <= b.len()).ok_or_else(|| lua_err("Missing bytes in input."))?;
    let s = &b[*pos..end];
    *pos = end;
    Ok(s)
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

fn mp_decode(lua: &Lua, b: &[u8], pos: &mut usize, depth: usize) -> mlua::Result<Value> {
    if depth > 512 {
        return Err(lua_err("Bad data format in input."));
    }
    let tag = take(b, pos, 1)?[0];
    let str_of = |lua: &Lua, pos: &mut usize, n: usize| -> mlua::Result<Value> {
        Ok(Value::String(lua.create_string(take(b, pos, n)?)?))
    };
    Ok(match tag {
        0x00..=0x7f => Value::Number(f64::from(tag)),
        0xe0..=0xff => Value::Number(f64::from(tag as i8)),
        0xa0..=0xbf => str_of(lua, pos, (tag & 0x1f) as usize)?,
        0x90..=0x9f => mp_array(lua, b, pos, (tag & 0x0f) as usize, depth)?,
        0x80..=0x8f => mp_map(lua, b, pos, (tag & 0x0f) as usize, depth)?,
        0xc0 => Value::Nil,
        0xc2 => Value::Boolean(false),
        0xc3 => Value::Boolean(true),
        0xca => Value::Number(f64::from(f32::from_bits(be(take(b, pos, 4)?) as u32))),
        0xcb => Value::Number(f64::from_bits(be(take(b, pos, 8)?))),
        0xcc => Value::Number(be(take(b, pos, 1)?) as f64),
        0xcd => Value::Number(be(take(b, pos, 2)?) as f64),
        0xce => Value::Number(be(take(b, pos, 4)?) as f64),
        0xcf => Value::Number(be(take(b, pos, 8)?) as f64),
        0xd0 => Value::Number(f64::from(be(take(b, pos, 1)?) as u8 as i8)),
        0xd1 => Value::Number(f64::from(be(take(b, pos, 2)?) as u16 as i16)),
        0xd2 => Value::Number(f64::from(be(take(b, pos, 4)?) as u32 as i32)),
        0xd3 => Value::Number(be(take(b, pos, 8)?) as i64 as f64),
        0xd9 | 0xc4 => {
            let n = be(take(b, pos, 1)?) as usize;
            str_of(lua, pos, n)?
        }
        0xda | 0xc5 => {
            let n = be(take(b, pos, 2)?) as usize;
            str_of(lua, pos, n)?
        }
        0xdb | 0xc6 => {
            let n = be(take(b, pos, 4)?) as usize;
            str_of(lua, pos, n)?
        }
        0xdc => {
            let n = be(take(b, pos, 2)?) as usize;
            mp_array(lua, b, pos, n, depth)?
        }
        0xdd => {
            let n = be(take(b, pos, 4)?) as usize;
            mp_array(lua, b, pos, n, depth)?
        }
        0xde => {
            let n = be(take(b, pos, 2)?) as usize;
            mp_map(lua, b, pos, n, depth)?
        }
        0xdf => {
            let n = be(take(b, pos, 4)?) as usize;
            mp_map(lua, b, pos, n, depth)?
        }
        _ => return Err(lua_err("Bad data format in input.")),
    })
}

fn mp_array(lua: &Lua, b: &[u8], pos: &mut usize, n: usize, depth: usize) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(n.min(1024), 0)?;
    for i in 1..=n {
        t.raw_set(i, mp_decode(lua, b, pos, depth + 1)?)?;
    }
    Ok(Value::Table(t))
}

fn mp_map(lua: &Lua, b: &[u8], pos: &mut usize, n: usize, depth: usize) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    for _ in 0..n {
        let k = mp_decode(lua, b, pos, depth + 1)?;
        let v = mp_decode(lua, b, pos, depth + 1)?;
        if !k.is_nil() {
            t.raw_set(k, v)?;
        }
    }
    Ok(Value::Table(t))
}

// --------------------------------------------------------------- struct

/// One item of a struct format.
enum Item {
    Int { size: usize, signed: bool },
    Float,
    Double,
    Zstr,
    Chars(usize),
    Pad,
}

/// Parses a struct format into items with their byte order.
fn struct_items(fmt: &[u8]) -> mlua::Result<Vec<(Item, bool)>> {
    let mut little = cfg!(target_endian = "little");
    let mut out = Vec::new();
    let mut i = 0;
    let count = |i: &mut usize, default: usize| -> usize {
        let start = *i;
        while *i < fmt.len() && fmt[*i].is_ascii_digit() {
            *i += 1;
        }
        std::str::from_utf8(&fmt[start..*i]).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
    };
    while i < fmt.len() {
        let c = fmt[i];
        i += 1;
        let item = match c {
            b'<' => {
                little = true;
                continue;
            }
            b'>' => {
                little = false;
                continue;
            }
            b'=' | b'!' | b' ' => {
                count(&mut i, 0);
                continue;
            }
            b'b' | b'B' => Item::Int { size: 1, signed: c == b'b' },
            b'h' | b'H' => Item::Int { size: 2, signed: c == b'h' },
            b'l' | b'L' | b'T' => Item::Int { size: 8, signed: c == b'l' },
            b'i' | b'I' => {
                let n = count(&mut i, 4);
                if !(1..=8).contains(&n) {
                    return Err(lua_err(format!("integral size {n} is larger than limit of 8")));
                }
                Item::Int { size: n, signed: c == b'i' }
            }
            b'f' => Item::Float,
            b'd' => Item::Double,
            b's' => Item::Zstr,
            b'c' => Item::Chars(count(&mut i, 1)),
            b'x' => Item::Pad,
            _ => return Err(lua_err(format!("invalid format option '{}'", c as char))),
        };
        out.push((item, little));
    }
    Ok(out)
}

fn structlib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|_, (fmt, args): (mlua::String, MultiValue)| {
            let mut out = Vec::new();
            let mut it = args.iter();
            for (item, little) in struct_items(&fmt.as_bytes())? {
                match item {
                    Item::Pad => out.push(0),
                    Item::Int { size, .. } => {
                        let n = it
                            .next()
                            .and_then(num)
                            .ok_or_else(|| lua_err("bad argument to 'pack' (number expected)"))?;
                        let v = (n as i64).to_le_bytes();
                        if little {
                            out.extend_from_slice(&v[..size]);
                        } else {
                            out.extend(v[..size].iter().rev());
                        }
                    }
                    Item::Float | Item::Double => {
                        let n = it
                            .next()
                            .and_then(num)
                            .ok_or_else(|| lua_err("bad argument to 'pack' (number expected)"))?;
                        let bytes = if matches!(item, Item::Float) {
                            let v = n as f32;
                            if little {
                                v.to_le_bytes().to_vec()
                            } else {
                                v.to_be_bytes().to_vec()
                            }
                        } else if little {
                            n.to_le_bytes().to_vec()
                        } else {
                            n.to_be_bytes().to_vec()
                        };
                        out.extend_from_slice(&bytes);
                    }
                    Item::Zstr | Item::Chars(_) => {
                        let Some(Value::String(s)) = it.next() else {
                            return Err(lua_err("bad argument to 'pack' (string expected)"));
                        };
                        let b = s.as_bytes();
                        match item {
                            Item::Zstr => {
                                out.extend_from_slice(&b);
                                out.push(0);
                            }
                            Item::Chars(0) => out.extend_from_slice(&b),
                            Item::Chars(n) => {
                                if b.len() < n {
                                    return Err(lua_err("bad argument to 'pack' (string too short)"));
                                }
                                out.extend_from_slice(&b[..n]);
                            }
                            _ => {}
                        }
                    }
                }
            }
            Ok(mlua::BString::from(out))
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, (fmt, data, init): (mlua::String, mlua::String, Option<f64>)| {
            let d = data.as_bytes();
            let mut pos = init.map_or(0, |p| (p.max(1.0) as usize) - 1);
            let mut out = MultiValue::new();
            let short = || lua_err("bad argument #2 to 'unpack' (data string too short)");
            for (item, little) in struct_items(&fmt.as_bytes())? {
                match item {
                    Item::Pad => pos += 1,
                    Item::Int { size, signed } => {
                        let raw = d.get(pos..pos + size).ok_or_else(short)?;
                        let mut v: u64 = 0;
                        for k in 0..size {
                            let byte = if little { raw[size - 1 - k] } else { raw[k] };
                            v = (v << 8) | u64::from(byte);
                        }
                        let n = if signed && size < 8 && v >> (size * 8 - 1) & 1 == 1 {
                            (v as i64 - (1i64 << (size * 8))) as f64
                        } else if signed {
                            v as i64 as f64
                        } else {
                            v as f64
                        };
                        out.push_back(Value::Number(n));
                        pos += size;
                    }
                    Item::Float => {
                        let raw: [u8; 4] = d.get(pos..pos + 4).and_then(|r| r.try_into().ok()).ok_or_else(short)?;
                        let v = if little { f32::from_le_bytes(raw) } else { f32::from_be_bytes(raw) };
                        out.push_back(Value::Number(f64::from(v)));
                        pos += 4;
                    }
                    Item::Double => {
                        let raw: [u8; 8] = d.get(pos..pos + 8).and_then(|r| r.try_into().ok()).ok_or_else(short)?;
                        let v = if little { f64::from_le_bytes(raw) } else { f64::from_be_bytes(raw) };
                        out.push_back(Value::Number(v));
                        pos += 8;
                    }
                    Item::Zstr => {
                        let rest = d.get(pos..).ok_or_else(short)?;
                        let end =
                            rest.iter().position(|&b| b == 0).ok_or_else(|| lua_err("unfinished string in data"))?;
                        out.push_back(Value::String(lua.create_string(&rest[..end])?));
                        pos += end + 1;
                    }
                    Item::Chars(n) => {
                        let n = if n == 0 { out.back().and_then(num).map_or(0, |x| x as usize) } else { n };
                        let raw = d.get(pos..pos + n).ok_or_else(short)?;
                        out.push_back(Value::String(lua.create_string(raw)?));
                        pos += n;
                    }
                }
            }
            out.push_back(Value::Number((pos + 1) as f64));
            Ok(out)
        })?,
    )?;
    t.raw_set(
        "size",
        lua.create_function(|_, fmt: mlua::String| {
            let mut n = 0usize;
            for (item, _) in struct_items(&fmt.as_bytes())? {
                n += match item {
                    Item::Pad => 1,
                    Item::Int { size, .. } => size,
                    Item::Float => 4,
                    Item::Double => 8,
                    Item::Chars(c) => c,
                    Item::Zstr => return Err(lua_err("options 's' and 'c0' have variable size")),
                };
            }
            Ok(n as f64)
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(src: &str) -> String {
        let lua = Lua::new();
        install(&lua, &lua.globals()).unwrap();
        let v: Value = lua.load(src).eval().unwrap();
        match v {
            Value::String(s) => s.to_string_lossy().to_string(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn bit_ops_are_32_bit_signed() {
        assert_eq!(eval("return tostring(bit.bor(1,2,4,8,16,32,64,128))"), "255");
        assert_eq!(eval("return tostring(bit.tobit(0xffffffff))"), "-1");
        assert_eq!(eval("return bit.tohex(255, 4)"), "00ff");
        assert_eq!(eval("return bit.tohex(-1, -2)"), "FF");
        assert_eq!(eval("return tostring(bit.lshift(1, 31))"), "-2147483648");
    }

    #[test]
    fn cjson_round_trips_and_escapes_as_lua_cjson() {
        assert_eq!(eval("return cjson.encode({1, 'a/b', true})"), r#"[1,"a\/b",true]"#);
        assert_eq!(eval("return cjson.encode({x = 0.1})"), r#"{"x":0.1}"#);
        assert_eq!(
            eval("return table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' ')"),
            "0 -5000 -1 0.0003 1023.2 0"
        );
        assert_eq!(eval("return tostring(cjson.decode('{\"a\":null}').a == cjson.null)"), "true");
        assert_eq!(eval("return tostring(pcall(cjson.encode, {[false]=1}))"), "false");
    }

    #[test]
    fn cmsgpack_uses_the_smallest_encodings() {
        let hex = "local e = ... local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h";
        let run = |expr: &str| eval(&format!("return (function(...) {hex} end)({expr})"));
        assert_eq!(run("cmsgpack.pack(0.1)"), "cb3fb999999999999a");
        assert_eq!(run("cmsgpack.pack(-1099511627776)"), "d3ffffff0000000000");
        assert_eq!(eval("local t = cmsgpack.unpack(cmsgpack.pack({1, 2, {a = 'x'}})) return t[3].a"), "x");
        assert_eq!(
            eval("local o, v = cmsgpack.unpack_one(cmsgpack.pack(7), 0) return tostring(o) .. ':' .. v"),
            "-1:7"
        );
    }

    #[test]
    fn struct_packs_and_unpacks() {
        assert_eq!(
            eval("local a, b, n = struct.unpack('>hB', struct.pack('>hB', -2, 200)) return a .. ',' .. b .. ',' .. n"),
            "-2,200,4"
        );
        assert_eq!(eval("return tostring(struct.size('<i4d'))"), "12");
    }

    #[test]
    fn random_input_never_panics_the_decoders() {
        let lua = Lua::new();
        install(&lua, &lua.globals()).unwrap();
        let decode: mlua::Function = lua.load("return function(s) pcall(cjson.decode, s) pcall(function() return select('#', cmsgpack.unpack(s)) end) pcall(struct.unpack, 'bhis', s) end").eval().unwrap();
        let mut x: u64 = 0x2545F4914F6CDD1D;
        for _ in 0..3000 {
            let mut s = Vec::new();
            for _ in 0..(x % 32) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let alphabet = b"{}[]\",:0123456789.eE-nulltruefalse\\u\xc0\xdc\xde\xd9\x93";
                s.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            decode.call::<()>(lua.create_string(&s).unwrap()).unwrap();
        }
    }
}
