//! A generic RESP2/RESP3 value: an owned reply tree, its incremental reader and its writer.
//!
//! Owns: the client-side view of the protocol. `viator-cli`, the integration tests and
//! (later) the outbound replication and sentinel links read whatever a server sends with
//! [`parse`] or a resumable [`Decoder`], and write commands with [`encode_command`].
//!
//! Must not: do I/O, hold a connection, or know any command. It is not the server's
//! request parser (that one reads multibulk and inline commands without building a tree).
//!
//! Mirrors the wire types of the Redis protocol spec as Redis 7.0 sends them: RESP2's
//! `+ - : $ *` and RESP3's `_ , # ( = % ~ > ! |`. Two RESP3 corners are deliberately
//! narrowed, since no Redis server sends them:
//! - streamed strings and aggregates (`$?`, `*?`, `;`, `.`) are rejected as
//!   [`ParseError::Streamed`];
//! - attributes (`|`) are read in full and then *skipped*: the value that follows is
//!   returned as if the attribute were not there. Attributes found before a top-level
//!   value are kept and can be taken with [`Decoder::take_attributes`]; attributes
//!   inside an aggregate are dropped.
//!
//! Safety on hostile input: the reader never panics, never trusts a declared length
//! for an allocation (capacity is capped, bytes are copied only once they arrived),
//! and refuses nesting deeper than [`MAX_DEPTH`]. It is iterative (an explicit stack),
//! so depth costs heap, not call stack; the bound exists because dropping, encoding and
//! printing a [`Value`] are recursive.

use std::fmt;

/// Deepest aggregate nesting the reader accepts; one more level is a
/// [`ParseError::TooDeep`]. Real replies nest a handful of levels.
pub const MAX_DEPTH: usize = 512;

/// Upper bound on the capacity reserved up front for an aggregate, whatever length it
/// declares: a hostile `*4000000000` must not allocate before its elements arrive.
const MAX_PREALLOC: usize = 1024;

/// One reply, RESP2 or RESP3, fully owned. Payloads are bytes, never assumed UTF-8.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `+OK`: a status line.
    Simple(Vec<u8>),
    /// `-ERR ...`: an error line, including its code prefix.
    Error(Vec<u8>),
    /// `:1`: a signed 64-bit integer.
    Int(i64),
    /// `$3 foo`: a binary-safe string.
    Bulk(Vec<u8>),
    /// `$-1` (RESP2) or `_` (RESP3): the null value.
    Nil,
    /// `*-1` (RESP2 only): the null array, e.g. an EXEC aborted by WATCH.
    NilArray,
    /// `*n`: an array.
    Array(Vec<Value>),
    /// `%n`: a map, pairs in wire order.
    Map(Vec<(Value, Value)>),
    /// `~n`: a set, elements in wire order.
    Set(Vec<Value>),
    /// `,1.5`: a double (`inf`, `-inf` and `nan` included).
    Double(f64),
    /// `#t` / `#f`.
    Bool(bool),
    /// `(123...`: an arbitrary precision integer, kept as its decimal text.
    BigNumber(Vec<u8>),
    /// `=15 txt:...`: a string with a three byte format tag (`txt`, `mkd`).
    Verbatim {
        /// The format tag, e.g. `*b"txt"`.
        format: [u8; 3],
        /// The text after `fmt:`.
        text: Vec<u8>,
    },
    /// `>n`: an out-of-band push (pub/sub message, invalidation).
    Push(Vec<Value>),
    /// `!n`: a binary-safe error.
    BulkError(Vec<u8>),
}

impl Value {
    /// The error text for `Error` and `BulkError`, `None` for every other kind.
    pub fn error_text(&self) -> Option<&[u8]> {
        match self {
            Value::Error(e) | Value::BulkError(e) => Some(e),
            _ => None,
        }
    }

    /// True for `Error` and `BulkError`.
    pub fn is_error(&self) -> bool {
        self.error_text().is_some()
    }

    /// The payload of a string-like value (`Simple`, `Bulk`, `Verbatim` text, `BigNumber`).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Simple(b) | Value::Bulk(b) | Value::BigNumber(b) => Some(b),
            Value::Verbatim { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// Why a buffer is not valid RESP. After any error the stream is out of sync: the
/// caller should drop the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The first byte of an element is not a known type byte.
    BadType(u8),
    /// A length header is not a decimal integer, or is negative where that has no meaning.
    BadLength,
    /// An integer (`:`) line is not a valid i64.
    BadInteger,
    /// A double (`,`) line is not a number, `inf`, `-inf` or `nan`.
    BadDouble,
    /// A boolean (`#`) line is neither `t` nor `f`.
    BadBool,
    /// A big number (`(`) line is not an optionally signed run of digits.
    BadBigNumber,
    /// A verbatim string (`=`) is shorter than `fmt:` or lacks the colon.
    BadVerbatim,
    /// A bulk payload is not followed by CRLF.
    MissingCrlf,
    /// Aggregates nest deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A RESP3 streamed string or aggregate, which this reader does not support.
    Streamed,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::BadType(b) => write!(f, "unknown RESP type byte 0x{b:02x}"),
            ParseError::BadLength => f.write_str("invalid length"),
            ParseError::BadInteger => f.write_str("invalid integer"),
            ParseError::BadDouble => f.write_str("invalid double"),
            ParseError::BadBool => f.write_str("invalid boolean"),
            ParseError::BadBigNumber => f.write_str("invalid big number"),
            ParseError::BadVerbatim => f.write_str("invalid verbatim string"),
            ParseError::MissingCrlf => f.write_str("bulk payload not terminated by CRLF"),
            ParseError::TooDeep => f.write_str("aggregate nesting too deep"),
            ParseError::Streamed => f.write_str("streamed RESP3 types are not supported"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Reads one complete value from the front of `buf`.
///
/// Returns `Ok(Some((value, consumed)))` when a whole value is present (the caller
/// drops `consumed` bytes), `Ok(None)` when more bytes are needed, and `Err` when the
/// bytes cannot be RESP. Never panics. Each call starts from scratch; a reader that is
/// fed a growing buffer should keep a [`Decoder`] instead, so that a large reply is not
/// rescanned on every read.
pub fn parse(buf: &[u8]) -> Result<Option<(Value, usize)>, ParseError> {
    Decoder::new().decode(buf)
}

/// The kinds of aggregate a [`Decoder`] can be in the middle of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AggKind {
    Array,
    Map,
    Set,
    Push,
    Attribute,
}

/// An aggregate whose header has been read but whose elements have not all arrived.
#[derive(Debug)]
struct Pending {
    kind: AggKind,
    /// Elements still expected (a map of n pairs expects 2n).
    remaining: usize,
    items: Vec<Value>,
}

/// What finishing an element produced: a value for the parent, or an attribute map
/// that is not an element of anything.
enum Done {
    Value(Value),
    Attribute(Vec<(Value, Value)>),
}

/// A resumable RESP reader.
///
/// Contract: between a call that returned `Ok(None)` and the next call, the caller may
/// only *append* to the buffer (the bytes already seen must stay in place at the front).
/// Complete elements are never read twice: the decoder remembers the aggregates it is
/// inside and the offset of the first unread element. After `Ok(Some(_))` or `Err(_)` it
/// starts afresh, and the caller removes the consumed bytes before the next call.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Offset of the first element not yet read.
    pos: usize,
    stack: Vec<Pending>,
    /// Attributes seen in front of the current top-level value.
    attributes: Vec<(Value, Value)>,
    /// Attributes in front of the last value returned.
    last_attributes: Vec<(Value, Value)>,
}

impl Decoder {
    /// A decoder at the start of a value.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// The attribute pairs (`|`) that preceded the last top-level value returned, if
    /// any; taking them leaves none.
    pub fn take_attributes(&mut self) -> Vec<(Value, Value)> {
        std::mem::take(&mut self.last_attributes)
    }

    /// Continues reading the value at the front of `buf`; see [`parse`] for the
    /// results and the type docs for the append-only contract.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Option<(Value, usize)>, ParseError> {
        let out = self.run(buf);
        match &out {
            Ok(Some(_)) => {
                self.last_attributes = std::mem::take(&mut self.attributes);
                self.pos = 0;
                self.stack.clear();
            }
            Ok(None) => {}
            Err(_) => {
                *self = Decoder::default();
            }
        }
        out
    }

    fn run(&mut self, buf: &[u8]) -> Result<Option<(Value, usize)>, ParseError> {
        loop {
            let Some((element, next)) = self.element(buf)? else {
                return Ok(None);
            };
            self.pos = next;
            let mut done = match element {
                Element::Done(d) => d,
                Element::Open(pending) => {
                    // Depth counts the aggregate being opened; the top level is depth 1.
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(ParseError::TooDeep);
                    }
                    self.stack.push(pending);
                    continue;
                }
            };
            // Hand the finished element to its parent, closing every aggregate it
            // completes on the way up.
            loop {
                let Some(top) = self.stack.last_mut() else {
                    match done {
                        Done::Value(v) => return Ok(Some((v, self.pos))),
                        Done::Attribute(pairs) => {
                            self.attributes.extend(pairs);
                            break;
                        }
                    }
                };
                match done {
                    Done::Value(v) => {
                        top.items.push(v);
                        top.remaining -= 1;
                    }
                    // An attribute inside an aggregate is not one of its elements.
                    Done::Attribute(_) => break,
                }
                if top.remaining > 0 {
                    break;
                }
                let Some(full) = self.stack.pop() else { break };
                done = close(full.kind, full.items);
            }
        }
    }

    /// Reads the element header (and, for scalars, the payload) at `self.pos`.
    fn element(&self, buf: &[u8]) -> Result<Option<(Element, usize)>, ParseError> {
        let start = self.pos;
        let Some(&kind) = buf.get(start) else {
            return Ok(None);
        };
        let Some((line, after)) = line_at(buf, start + 1) else {
            return Ok(None);
        };
        let scalar = |v: Value| Ok(Some((Element::Done(Done::Value(v)), after)));
        match kind {
            b'+' => scalar(Value::Simple(line.to_vec())),
            b'-' => scalar(Value::Error(line.to_vec())),
            b':' => scalar(Value::Int(parse_i64(line).ok_or(ParseError::BadInteger)?)),
            b'_' => {
                if !line.is_empty() {
                    return Err(ParseError::BadLength);
                }
                scalar(Value::Nil)
            }
            b',' => scalar(Value::Double(parse_double(line)?)),
            b'#' => match line {
                b"t" => scalar(Value::Bool(true)),
                b"f" => scalar(Value::Bool(false)),
                _ => Err(ParseError::BadBool),
            },
            b'(' => {
                let digits = line.strip_prefix(b"-").or(line.strip_prefix(b"+")).unwrap_or(line);
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(ParseError::BadBigNumber);
                }
                scalar(Value::BigNumber(line.to_vec()))
            }
            b'$' | b'!' | b'=' => {
                if line == b"?" {
                    return Err(ParseError::Streamed);
                }
                let len = parse_i64(line).ok_or(ParseError::BadLength)?;
                if len == -1 && kind == b'$' {
                    return scalar(Value::Nil);
                }
                let len = usize::try_from(len).map_err(|_| ParseError::BadLength)?;
                let end = after.checked_add(len).ok_or(ParseError::BadLength)?;
                let Some(stop) = end.checked_add(2) else {
                    return Err(ParseError::BadLength);
                };
                if buf.len() < stop {
                    return Ok(None);
                }
                if &buf[end..stop] != b"\r\n" {
                    return Err(ParseError::MissingCrlf);
                }
                let payload = &buf[after..end];
                let v = match kind {
                    b'$' => Value::Bulk(payload.to_vec()),
                    b'!' => Value::BulkError(payload.to_vec()),
                    _ => {
                        if payload.len() < 4 || payload[3] != b':' {
                            return Err(ParseError::BadVerbatim);
                        }
                        Value::Verbatim { format: [payload[0], payload[1], payload[2]], text: payload[4..].to_vec() }
                    }
                };
                Ok(Some((Element::Done(Done::Value(v)), stop)))
            }
            b'*' | b'%' | b'~' | b'>' | b'|' => {
                if line == b"?" {
                    return Err(ParseError::Streamed);
                }
                let n = parse_i64(line).ok_or(ParseError::BadLength)?;
                if n == -1 && kind == b'*' {
                    return scalar(Value::NilArray);
                }
                let n = usize::try_from(n).map_err(|_| ParseError::BadLength)?;
                let agg = match kind {
                    b'*' => AggKind::Array,
                    b'%' => AggKind::Map,
                    b'~' => AggKind::Set,
                    b'>' => AggKind::Push,
                    _ => AggKind::Attribute,
                };
                let remaining = match agg {
                    AggKind::Map | AggKind::Attribute => n.checked_mul(2).ok_or(ParseError::BadLength)?,
                    AggKind::Array | AggKind::Set | AggKind::Push => n,
                };
                if remaining == 0 {
                    return Ok(Some((Element::Done(close(agg, Vec::new())), after)));
                }
                let items = Vec::with_capacity(remaining.min(MAX_PREALLOC));
                Ok(Some((Element::Open(Pending { kind: agg, remaining, items }), after)))
            }
            b';' | b'.' => Err(ParseError::Streamed),
            other => Err(ParseError::BadType(other)),
        }
    }
}

/// One step of reading: a finished element, or the header of an aggregate to descend into.
enum Element {
    Done(Done),
    Open(Pending),
}

/// Builds the finished aggregate of `kind` from its elements in wire order.
fn close(kind: AggKind, items: Vec<Value>) -> Done {
    match kind {
        AggKind::Array => Done::Value(Value::Array(items)),
        AggKind::Set => Done::Value(Value::Set(items)),
        AggKind::Push => Done::Value(Value::Push(items)),
        AggKind::Map => Done::Value(Value::Map(pairs(items))),
        AggKind::Attribute => Done::Attribute(pairs(items)),
    }
}

/// Groups a flat `k1 v1 k2 v2 ...` list into pairs (the count is always even here).
fn pairs(items: Vec<Value>) -> Vec<(Value, Value)> {
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

/// The line starting at `from` up to (not including) the first CRLF, and the offset just
/// past that CRLF. `None` while no CRLF has arrived. A lone `\r` is part of the line.
fn line_at(buf: &[u8], from: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(from..)?;
    let at = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..at], from + at + 2))
}

/// Strict decimal i64: an optional sign, then at least one digit, nothing else.
fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        n = n.checked_mul(10)?;
        n = if neg { n.checked_sub(d)? } else { n.checked_add(d)? };
    }
    Some(n)
}

/// A RESP3 double line: a decimal or exponent number, `inf`, `-inf` or `nan`.
fn parse_double(s: &[u8]) -> Result<f64, ParseError> {
    let text = std::str::from_utf8(s).map_err(|_| ParseError::BadDouble)?;
    // Rust's float parser also takes "infinity" and other spellings; the wire form is
    // digits, sign, dot, exponent, or the three special words.
    let plain = text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    let special = matches!(text.to_ascii_lowercase().as_str(), "inf" | "+inf" | "-inf" | "nan" | "-nan");
    if text.is_empty() || !(plain || special) {
        return Err(ParseError::BadDouble);
    }
    text.parse::<f64>().map_err(|_| ParseError::BadDouble)
}

/// The multibulk form of a command (`*n`, then `$len arg` for each argument),
/// the form every Redis server accepts.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let payload: usize = args.iter().map(|a| a.len() + 16).sum();
    let mut out = Vec::with_capacity(16 + payload);
    encode_command_into(&mut out, args);
    out
}

/// Appends the multibulk form of a command to `out` (the replication stream
/// renders each propagated command this way).
pub fn encode_command_into<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    header(out, b'*', args.len());
    for a in args {
        let a = a.as_ref();
        header(out, b'$', a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends the wire form of `v` to `out`.
///
/// Each variant is written in its own type: `Nil` as RESP2's `$-1` (which RESP3 peers
/// read as null too), `NilArray` as `*-1`, a `Double` as Redis writes it (`%.17g`,
/// see [`format_double`]). `parse` of the result gives back `v`, except that a `Nil`
/// read from `_` comes back from `$-1`, and NaN compares unequal to itself.
pub fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Simple(s) => line(out, b'+', s),
        Value::Error(s) => line(out, b'-', s),
        Value::Int(n) => line(out, b':', n.to_string().as_bytes()),
        Value::Bulk(b) => blob(out, b'$', b),
        Value::Nil => out.extend_from_slice(b"$-1\r\n"),
        Value::NilArray => out.extend_from_slice(b"*-1\r\n"),
        Value::Array(items) => aggregate(out, b'*', items),
        Value::Set(items) => aggregate(out, b'~', items),
        Value::Push(items) => aggregate(out, b'>', items),
        Value::Map(pairs) => {
            header(out, b'%', pairs.len());
            for (k, v) in pairs {
                encode(k, out);
                encode(v, out);
            }
        }
        Value::Double(d) => line(out, b',', format_double(*d).as_bytes()),
        Value::Bool(b) => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
        Value::BigNumber(n) => line(out, b'(', n),
        Value::Verbatim { format, text } => {
            header(out, b'=', text.len() + 4);
            out.extend_from_slice(format);
            out.push(b':');
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
        Value::BulkError(e) => blob(out, b'!', e),
    }
}

fn header(out: &mut Vec<u8>, kind: u8, n: usize) {
    out.push(kind);
    out.extend_from_slice(n.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn line(out: &mut Vec<u8>, kind: u8, text: &[u8]) {
    out.push(kind);
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

fn blob(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    header(out, kind, payload.len());
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

fn aggregate(out: &mut Vec<u8>, kind: u8, items: &[Value]) {
    header(out, kind, items.len());
    for item in items {
        encode(item, out);
    }
}

/// The text Redis gives a double on the wire and redis-cli prints: C's `%.17g`
/// (17 significant digits, trailing zeros dropped, exponent form outside 1e-4..1e17),
/// with `inf`, `-inf` and `nan` spelled out.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".to_string();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // `{:.16e}` rounds to exactly 17 significant digits: "d.dddddddddddddddde<exp>".
    let sci = format!("{:.16e}", d.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let mut out = String::with_capacity(24);
    if d < 0.0 {
        out.push('-');
    }
    let trimmed_len = digits.iter().rposition(|&c| c != b'0').map_or(1, |i| i + 1);
    let sig = &digits[..trimmed_len];
    let push_digits = |out: &mut String, ds: &[u8]| out.extend(ds.iter().map(|&c| char::from(c)));
    if !(-4..17).contains(&exp) {
        push_digits(&mut out, &sig[..1]);
        if sig.len() > 1 {
            out.push('.');
            push_digits(&mut out, &sig[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        push_digits(&mut out, &digits[..int_len]);
        if sig.len() > int_len {
            out.push('.');
            push_digits(&mut out, &sig[int_len..]);
        }
    } else {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        push_digits(&mut out, sig);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    /// Every kind of value, nested, as (wire bytes, value).
    fn samples() -> Vec<(&'static [u8], Value)> {
        vec![
            (b"+OK\r\n", Value::Simple(b"OK".to_vec())),
            (b"+a\rb\r\n", Value::Simple(b"a\rb".to_vec())),
            (b"-ERR wrong\r\n", Value::Error(b"ERR wrong".to_vec())),
            (b":-42\r\n", Value::Int(-42)),
            (b":9223372036854775807\r\n", Value::Int(i64::MAX)),
            (b":-9223372036854775808\r\n", Value::Int(i64::MIN)),
            (b"$3\r\nfoo\r\n", bulk("foo")),
            (b"$0\r\n\r\n", bulk("")),
            (b"$4\r\na\r\nb\r\n", bulk("a\r\nb")),
            (b"$-1\r\n", Value::Nil),
            (b"_\r\n", Value::Nil),
            (b"*-1\r\n", Value::NilArray),
            (b"*0\r\n", Value::Array(vec![])),
            (
                b"*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+x\r\n",
                Value::Array(vec![
                    Value::Int(1),
                    Value::Array(vec![bulk("a"), Value::Nil]),
                    Value::Simple(b"x".to_vec()),
                ]),
            ),
            (
                b"%2\r\n$1\r\nk\r\n:1\r\n+m\r\n%0\r\n",
                Value::Map(vec![(bulk("k"), Value::Int(1)), (Value::Simple(b"m".to_vec()), Value::Map(vec![]))]),
            ),
            (b"~2\r\n$1\r\na\r\n#f\r\n", Value::Set(vec![bulk("a"), Value::Bool(false)])),
            (b",1.5\r\n", Value::Double(1.5)),
            (b",-inf\r\n", Value::Double(f64::NEG_INFINITY)),
            (b",1e+20\r\n", Value::Double(1e20)),
            (b"#t\r\n", Value::Bool(true)),
            (
                b"(-3492890328409238509324850943850943825024385\r\n",
                Value::BigNumber(b"-3492890328409238509324850943850943825024385".to_vec()),
            ),
            (b"=8\r\ntxt:some\r\n", Value::Verbatim { format: *b"txt", text: b"some".to_vec() }),
            (
                b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
                Value::Push(vec![bulk("message"), bulk("ch"), bulk("hi")]),
            ),
            (b"!5\r\nERR x\r\n", Value::BulkError(b"ERR x".to_vec())),
        ]
    }

    #[test]
    fn parses_every_sample_exactly() {
        for (wire, want) in samples() {
            let got = parse(wire).unwrap_or_else(|e| panic!("{wire:?}: {e}"));
            assert_eq!(got, Some((want, wire.len())), "{:?}", String::from_utf8_lossy(wire));
        }
    }

    #[test]
    fn every_proper_prefix_is_incomplete() {
        for (wire, want) in samples() {
            for cut in 0..wire.len() {
                assert_eq!(parse(&wire[..cut]), Ok(None), "{:?} cut at {cut}", wire);
            }
            // The same, fed one byte at a time to one resumable decoder.
            let mut d = Decoder::new();
            for cut in 0..wire.len() {
                assert_eq!(d.decode(&wire[..cut]), Ok(None));
            }
            assert_eq!(d.decode(wire), Ok(Some((want, wire.len()))));
        }
    }

    #[test]
    fn decoder_split_at_every_point_of_a_pipeline() {
        let mut all = Vec::new();
        let mut want = Vec::new();
        for (wire, v) in samples() {
            all.extend_from_slice(wire);
            want.push(v);
        }
        for split in 0..=all.len() {
            let mut d = Decoder::new();
            let mut buf = all[..split].to_vec();
            let mut rest = &all[split..];
            let mut got = Vec::new();
            loop {
                match d.decode(&buf).expect("valid input") {
                    Some((v, n)) => {
                        got.push(v);
                        buf.drain(..n);
                    }
                    None if rest.is_empty() => break,
                    None => {
                        buf.extend_from_slice(rest);
                        rest = &[];
                    }
                }
            }
            assert!(buf.is_empty());
            assert_eq!(got, want, "split at {split}");
        }
    }

    #[test]
    fn trailing_bytes_are_left_alone() {
        let got = parse(b":1\r\n:2\r\n").unwrap();
        assert_eq!(got, Some((Value::Int(1), 4)));
    }

    #[test]
    fn attributes_are_skipped_and_kept_at_top_level() {
        let wire = b"|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n";
        let mut d = Decoder::new();
        assert_eq!(d.decode(wire), Ok(Some((bulk("v"), wire.len()))));
        assert_eq!(d.take_attributes(), vec![(Value::Simple(b"ttl".to_vec()), Value::Int(3))]);
        assert!(d.take_attributes().is_empty());
        // Inside an aggregate an attribute is not counted as an element.
        let wire = b"*2\r\n:1\r\n|1\r\n+a\r\n+b\r\n:2\r\n";
        assert_eq!(parse(wire), Ok(Some((Value::Array(vec![Value::Int(1), Value::Int(2)]), wire.len()))));
        // An attribute alone is not a value yet.
        assert_eq!(parse(b"|1\r\n+a\r\n+b\r\n"), Ok(None));
    }

    #[test]
    fn rejects_malformed_input() {
        let cases: &[(&[u8], ParseError)] = &[
            (b"?x\r\n", ParseError::BadType(b'?')),
            (b":12a\r\n", ParseError::BadInteger),
            (b":\r\n", ParseError::BadInteger),
            (b":99999999999999999999\r\n", ParseError::BadInteger),
            (b"$-2\r\n", ParseError::BadLength),
            (b"$x\r\n", ParseError::BadLength),
            (b"!-1\r\n", ParseError::BadLength),
            (b"%-1\r\n", ParseError::BadLength),
            (b"$3\r\nfooXY", ParseError::MissingCrlf),
            (b"#x\r\n", ParseError::BadBool),
            (b",abc\r\n", ParseError::BadDouble),
            (b",infinity\r\n", ParseError::BadDouble),
            (b"(12a\r\n", ParseError::BadBigNumber),
            (b"=3\r\ntxt\r\n", ParseError::BadVerbatim),
            (b"$?\r\n", ParseError::Streamed),
            (b"*?\r\n", ParseError::Streamed),
            (b"_x\r\n", ParseError::BadLength),
        ];
        for (wire, err) in cases {
            assert_eq!(parse(wire).as_ref(), Err(err), "{:?}", String::from_utf8_lossy(wire));
        }
    }

    #[test]
    fn depth_is_bounded() {
        let mut ok = b"*1\r\n".repeat(MAX_DEPTH);
        ok.extend_from_slice(b":1\r\n");
        assert!(matches!(parse(&ok), Ok(Some(_))));
        let mut deep = b"*1\r\n".repeat(MAX_DEPTH + 1);
        deep.extend_from_slice(b":1\r\n");
        assert_eq!(parse(&deep), Err(ParseError::TooDeep));
        // Huge declared lengths do not allocate up front.
        assert_eq!(parse(b"*9223372036854775807\r\n:1\r\n"), Ok(None));
        assert_eq!(parse(b"%9223372036854775807\r\n"), Ok(None));
        assert_eq!(parse(b"$9223372036854775807\r\n"), Ok(None));
    }

    #[test]
    fn encode_round_trips() {
        for (wire, v) in samples() {
            let mut out = Vec::new();
            encode(&v, &mut out);
            if wire != b"_\r\n" {
                assert_eq!(out, wire, "{v:?}");
            }
            assert_eq!(parse(&out), Ok(Some((v, out.len()))));
        }
    }

    #[test]
    fn encode_command_is_multibulk() {
        assert_eq!(encode_command(&[b"SET", b"k", b""]), b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        assert_eq!(encode_command(&[]), b"*0\r\n");
    }

    #[test]
    fn double_text_matches_printf_g17() {
        let cases: &[(f64, &str)] = &[
            (1.5, "1.5"),
            (1.1, "1.1000000000000001"),
            (0.1, "0.10000000000000001"),
            (100.0, "100"),
            (-2.0, "-2"),
            (1e17, "1e+17"),
            (1e16, "10000000000000000"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (1e-300, "1e-300"),
            (2.5e-300, "2.5e-300"),
            (1.0 / 3.0, "0.33333333333333331"),
            (-1234.5678, "-1234.5678"),
            (0.0, "0"),
            (-0.0, "-0"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "nan"),
        ];
        for &(d, want) in cases {
            assert_eq!(format_double(d), want, "{d:e}");
        }
    }

    /// Seeded xorshift64: random bytes, random RESP-shaped bytes, and mutated samples
    /// never panic, and a returned length never exceeds the input.
    #[test]
    fn random_input_never_panics() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"+-:$*%~>!|=,#(_.;?\r\n0123456789-tfinax:";
        let samples = samples();
        for round in 0..20_000 {
            let len = (next() % 64) as usize;
            let buf: Vec<u8> = match round % 3 {
                0 => (0..len).map(|_| next() as u8).collect(),
                1 => (0..len).map(|_| alphabet[(next() as usize) % alphabet.len()]).collect(),
                _ => {
                    let mut b = samples[(next() as usize) % samples.len()].0.to_vec();
                    let at = (next() as usize) % b.len();
                    b[at] = alphabet[(next() as usize) % alphabet.len()];
                    b
                }
            };
            if let Ok(Some((_, n))) = parse(&buf) {
                assert!(n <= buf.len());
            }
            let mut d = Decoder::new();
            for cut in 0..=buf.len() {
                match d.decode(&buf[..cut]) {
                    Ok(None) => {}
                    Ok(Some((_, n))) => {
                        assert!(n <= cut);
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
    }
}
