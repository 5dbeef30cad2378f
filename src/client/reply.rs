//! Replies: the only place RESP is written for clients, and the one enum of
//! error replies.
//!
//! `Reply` appends encoded values to a connection's output buffer in the
//! client's protocol version (RESP2 or RESP3: maps, sets, nulls, doubles and
//! booleans degrade to RESP2 forms as Redis degrades them). `ReplyError` holds
//! every error a handler can return; only `server::call` renders it, so error
//! statistics are counted in one place.

use std::fmt;

use crate::util::num::IntBuf;

/// The reply buffer of one connection.
#[derive(Debug, Default)]
pub struct Reply {
    /// Encoded bytes not yet written to the socket.
    pub buf: Vec<u8>,
    /// Bytes of `buf` already written (the rest is pending).
    pub sent: usize,
    /// 2 or 3, as chosen by HELLO.
    pub resp: u8,
    /// CLIENT REPLY OFF/SKIP in force: normal replies are discarded (into
    /// `sink`); push messages still go out (see `unmuted`).
    pub muted: bool,
    /// Writes discarded while muted: a replica's link must never carry a
    /// reply, so the server checks this around a replica's commands.
    pub muted_writes: u64,
    sink: Vec<u8>,
    /// The same bytes laid out as Redis's buffer and block list, for the
    /// CLIENT LIST figures and the output limits.
    pub acct: super::mem::OutputAccount,
}

impl Reply {
    /// An empty RESP2 reply buffer.
    pub fn new() -> Reply {
        Reply {
            buf: Vec::with_capacity(1024),
            sent: 0,
            resp: 2,
            muted: false,
            muted_writes: 0,
            sink: Vec::new(),
            acct: Default::default(),
        }
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.sent..]
    }

    /// True when nothing is waiting to be written.
    pub fn is_empty(&self) -> bool {
        self.sent >= self.buf.len()
    }

    /// Marks `n` more bytes as written; resets the buffer once all are out.
    pub fn consume(&mut self, n: usize) {
        self.acct.sync(self.buf.len());
        self.acct.written(n);
        self.sent += n;
        if self.sent >= self.buf.len() {
            self.buf.clear();
            self.sent = 0;
            self.acct.drained();
            // Keep warm what Redis's fixed reply buffer would hold now (its
            // size follows the client's recent peak, see the cron's resize);
            // what a larger reply needed goes back once it is written, as
            // Redis frees its reply blocks. Otherwise every client that once
            // got a burst (tracking invalidations, say) would keep it, and
            // that memory would feed key eviction.
            let keep = self.acct.buf_size.max(1024);
            if self.buf.capacity() > keep {
                self.buf.shrink_to(keep);
            }
        }
    }

    /// Where output goes: the buffer, or a discarded sink while muted.
    fn w(&mut self) -> &mut Vec<u8> {
        if self.muted {
            self.muted_writes += 1;
            self.sink.clear();
            &mut self.sink
        } else {
            &mut self.buf
        }
    }

    /// Runs `f` with muting lifted: pub/sub messages and other pushes reach
    /// the client even under CLIENT REPLY OFF, as in Redis.
    pub fn unmuted(&mut self, f: impl FnOnce(&mut Reply)) {
        let was = self.muted;
        self.muted = false;
        f(self);
        self.muted = was;
    }

    fn line(&mut self, prefix: u8, n: i64) {
        let digits = IntBuf::new(n);
        let w = self.w();
        w.push(prefix);
        w.extend_from_slice(digits.as_bytes());
        w.extend_from_slice(b"\r\n");
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.w().extend_from_slice(b"+OK\r\n");
    }

    /// A status (simple string) reply; `s` must not contain CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.w().push(b'+');
        self.w().extend_from_slice(s.as_bytes());
        self.w().extend_from_slice(b"\r\n");
    }

    /// An error reply from its full text (`ERR ...`, `WRONGTYPE ...`). Newlines
    /// are replaced by spaces so the protocol cannot be broken.
    pub fn error(&mut self, text: &str) {
        self.w().push(b'-');
        self.w().extend(text.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
        self.w().extend_from_slice(b"\r\n");
    }

    /// An integer reply.
    pub fn int(&mut self, n: i64) {
        self.line(b':', n);
    }

    /// A bulk string reply.
    pub fn bulk(&mut self, s: &[u8]) {
        let w = self.w();
        // The hot path of large array replies: short strings get their
        // header in one copy, without formatting a number.
        if s.len() < 10 {
            w.extend_from_slice(&[b'$', b'0' + s.len() as u8, b'\r', b'\n']);
        } else {
            w.push(b'$');
            w.extend_from_slice(IntBuf::from_u64(s.len() as u64).as_bytes());
            w.extend_from_slice(b"\r\n");
        }
        w.extend_from_slice(s);
        w.extend_from_slice(b"\r\n");
    }

    /// An integer sent as a bulk string (`GET` of an int-encoded value).
    pub fn bulk_int(&mut self, n: i64) {
        self.bulk(IntBuf::new(n).as_bytes());
    }

    /// The null value: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        if self.resp >= 3 {
            self.w().extend_from_slice(b"_\r\n");
        } else {
            self.w().extend_from_slice(b"$-1\r\n");
        }
    }

    /// A null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        if self.resp >= 3 {
            self.w().extend_from_slice(b"_\r\n");
        } else {
            self.w().extend_from_slice(b"*-1\r\n");
        }
    }

    /// Array header for `n` elements.
    pub fn array(&mut self, n: usize) {
        self.line(b'*', n as i64);
    }

    /// Map header for `n` pairs (RESP2: an array of 2n elements).
    pub fn map(&mut self, n: usize) {
        if self.resp >= 3 {
            self.line(b'%', n as i64);
        } else {
            self.line(b'*', 2 * n as i64);
        }
    }

    /// Set header (RESP2: an array).
    pub fn set(&mut self, n: usize) {
        self.line(if self.resp >= 3 { b'~' } else { b'*' }, n as i64);
    }

    /// Push header (RESP2: an array), for pub/sub and tracking messages.
    pub fn push(&mut self, n: usize) {
        self.line(if self.resp >= 3 { b'>' } else { b'*' }, n as i64);
    }

    /// A boolean (RESP2: integer 1/0).
    pub fn boolean(&mut self, b: bool) {
        if self.resp >= 3 {
            self.w().extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// A double already formatted as Redis formats it (RESP2: bulk string).
    pub fn double_text(&mut self, text: &[u8]) {
        if self.resp >= 3 {
            self.w().push(b',');
            self.w().extend_from_slice(text);
            self.w().extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// A double as Redis replies it: `%.17g` text (bulk in RESP2, `,` in RESP3),
    /// `inf`/`-inf` spelled out.
    pub fn double(&mut self, d: f64) {
        let text = crate::util::num::format_double(d);
        self.double_text(&text);
    }

    /// A big number (`(` in RESP3, bulk string in RESP2).
    pub fn big_number(&mut self, digits: &[u8]) {
        if self.resp >= 3 {
            self.w().push(b'(');
            self.w().extend_from_slice(digits);
            self.w().extend_from_slice(b"\r\n");
        } else {
            self.bulk(digits);
        }
    }

    /// Attribute header (RESP3 only; callers check the protocol).
    pub fn attribute(&mut self, n: usize) {
        self.line(b'|', n as i64);
    }

    /// Verbatim text (`=len\r\ntxt:...`; RESP2: bulk string).
    pub fn verbatim(&mut self, text: &[u8], format: &str) {
        if self.resp >= 3 {
            self.line(b'=', (text.len() + 4) as i64);
            self.w().extend_from_slice(format.as_bytes());
            self.w().push(b':');
            self.w().extend_from_slice(text);
            self.w().extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Starts an aggregate whose length is not known yet; fill it in with
    /// `set_deferred_len`. Returns the position of the placeholder.
    pub fn deferred_len(&mut self) -> usize {
        if self.muted {
            self.muted_writes += 1;
            self.sink.clear();
            0
        } else {
            self.acct.sync(self.buf.len());
            self.acct.defer();
            self.buf.len()
        }
    }

    /// Writes the header of a deferred aggregate (`prefix` is `*`, `%`, `~`)
    /// in front of the elements added since `deferred_len`.
    pub fn set_deferred_len(&mut self, pos: usize, prefix: u8, n: usize) {
        let mut head = Vec::with_capacity(16);
        head.push(prefix);
        push_int(&mut head, n as i64);
        head.extend_from_slice(b"\r\n");
        if !self.muted {
            self.buf.splice(pos..pos, head);
        }
    }

    /// Deferred array header (map pairs counted by the caller in RESP2 form).
    pub fn set_deferred_array(&mut self, pos: usize, n: usize) {
        self.set_deferred_len(pos, b'*', n);
    }

    /// Appends bytes already encoded as RESP.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.w().extend_from_slice(bytes);
    }

    /// Length of everything buffered (for output buffer accounting).
    pub fn len(&self) -> usize {
        self.buf.len() - self.sent
    }

    /// True once the pending output reached the client class's hard limit:
    /// a handler producing a huge reply may stop early, the client is about
    /// to be closed anyway.
    pub fn over_limit(&self) -> bool {
        self.acct.over_hard_limit(self.buf.len())
    }
}

/// Appends the decimal text of `n`.
pub fn push_int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(IntBuf::new(n).as_bytes());
}

/// Every error reply a command can produce. `Display` gives the exact text
/// Redis sends (without the leading `-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// COMPAT: "ERR wrong number of arguments for '<cmd>' command".
    WrongArity(String),
    /// COMPAT: "ERR syntax error".
    Syntax,
    /// COMPAT: "ERR value is not an integer or out of range".
    NotInteger,
    /// COMPAT: "ERR value is not a valid float".
    NotFloat,
    /// COMPAT: "WRONGTYPE Operation against a key holding the wrong kind of value".
    WrongType,
    /// COMPAT: "ERR no such key".
    NoSuchKey,
    /// COMPAT: "ERR increment or decrement would overflow".
    Overflow,
    /// COMPAT: "ERR DB index is out of range".
    DbIndex,
    /// COMPAT: "ERR invalid expire time in '<cmd>' command".
    InvalidExpire(String),
    /// COMPAT: "NOAUTH Authentication required.".
    NoAuth,
    /// COMPAT: "WRONGPASS invalid username-password pair or user is disabled.".
    WrongPass,
    /// COMPAT: "ERR string exceeds maximum allowed size (proto-max-bulk-len)".
    StringTooLong,
    /// COMPAT: "ERR timeout is not an integer or out of range".
    TimeoutNotInteger,
    /// Any other error: the full text including its code word.
    Other(String),
}

impl ReplyError {
    /// An error from its full text (`"ERR something"`).
    pub fn other(text: impl Into<String>) -> ReplyError {
        ReplyError::Other(text.into())
    }

    /// `ERR <text>`.
    pub fn err(text: impl fmt::Display) -> ReplyError {
        ReplyError::Other(format!("ERR {text}"))
    }
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::WrongArity(c) => write!(f, "ERR wrong number of arguments for '{c}' command"),
            ReplyError::Syntax => f.write_str("ERR syntax error"),
            ReplyError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            ReplyError::NotFloat => f.write_str("ERR value is not a valid float"),
            ReplyError::WrongType => f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value"),
            ReplyError::NoSuchKey => f.write_str("ERR no such key"),
            ReplyError::Overflow => f.write_str("ERR increment or decrement would overflow"),
            ReplyError::DbIndex => f.write_str("ERR DB index is out of range"),
            ReplyError::InvalidExpire(c) => write!(f, "ERR invalid expire time in '{c}' command"),
            ReplyError::NoAuth => f.write_str("NOAUTH Authentication required."),
            ReplyError::WrongPass => f.write_str("WRONGPASS invalid username-password pair or user is disabled."),
            ReplyError::StringTooLong => f.write_str("ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
            ReplyError::TimeoutNotInteger => f.write_str("ERR timeout is not an integer or out of range"),
            ReplyError::Other(s) => f.write_str(s),
        }
    }
}

/// What a command handler returns.
pub type CmdResult = Result<(), ReplyError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_and_resp3_forms() {
        let mut r = Reply::new();
        r.null();
        r.map(2);
        r.boolean(true);
        r.int(-42);
        r.bulk(b"hi");
        assert_eq!(r.buf, b"$-1\r\n*4\r\n:1\r\n:-42\r\n$2\r\nhi\r\n");
        let mut r = Reply::new();
        r.resp = 3;
        r.null();
        r.map(2);
        r.boolean(false);
        r.double_text(b"1.5");
        assert_eq!(r.buf, b"_\r\n%2\r\n#f\r\n,1.5\r\n");
    }

    #[test]
    fn deferred_header_goes_in_front() {
        let mut r = Reply::new();
        r.ok();
        let pos = r.deferred_len();
        r.int(1);
        r.int(2);
        r.set_deferred_array(pos, 2);
        assert_eq!(r.buf, b"+OK\r\n*2\r\n:1\r\n:2\r\n");
    }

    #[test]
    fn errors_cannot_break_framing() {
        let mut r = Reply::new();
        r.error("ERR bad\r\nthing");
        assert_eq!(r.buf, b"-ERR bad  thing\r\n");
        assert_eq!(ReplyError::WrongArity("get".into()).to_string(), "ERR wrong number of arguments for 'get' command");
        assert_eq!(push_int_s(i64::MIN), "-9223372036854775808");
    }

    fn push_int_s(n: i64) -> String {
        let mut v = Vec::new();
        push_int(&mut v, n);
        String::from_utf8(v).unwrap()
    }
}
