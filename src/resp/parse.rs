//! The request parser: turns bytes from a client into argument vectors.
//!
//! Owns nothing but its resumable state (how many bulk arguments are still due
//! and the length of the one being read), so a command split across reads is
//! never scanned twice; the bytes themselves stay in the caller's buffer and
//! complete arguments are split off it without copying (`Bytes` slices).
//!
//! Mirrors Redis's multibulk and inline request rules, including the exact
//! `Protocol error: ...` texts and the 64 KiB limit on unterminated lines.
//! After a protocol error the caller replies with the error and closes the
//! connection once the reply is written, as Redis does.

use bytes::{Buf, Bytes, BytesMut};

/// Longest unterminated inline request or count line (Redis's PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;

/// Limits that depend on the connection, passed on every call.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `proto-max-bulk-len`; not applied to the primary link.
    pub max_bulk_len: i64,
    /// False while the connection still has to AUTH: counts and sizes are then
    /// capped hard, so an unauthenticated peer cannot make us buffer much.
    pub authenticated: bool,
    /// The replication link from our primary: no bulk limit, no inline commands.
    pub from_primary: bool,
}

/// What one parse call produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// `argv` holds a whole command (it may be empty: a blank inline line or `*0`).
    Command,
    /// More bytes are needed; state is kept for the next call.
    Incomplete,
}

/// A protocol violation; the text is what Redis replies (after `-ERR `).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(s: &str) -> ProtocolError {
        ProtocolError(s.to_string())
    }
}

/// Resumable parser state, one per connection.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Bulk arguments still due in the current multibulk (0: none started).
    multibulk_left: i64,
    /// Length of the bulk being read, if its `$len` line was consumed.
    bulk_len: Option<usize>,
}

impl RequestParser {
    /// True while a multibulk command is half read.
    pub fn in_progress(&self) -> bool {
        self.multibulk_left > 0
    }

    /// Length of the bulk argument being read, once its `$len` line was seen.
    pub fn pending_bulk_len(&self) -> Option<usize> {
        self.bulk_len
    }

    /// Parses at most one command from the front of `buf` into `argv`
    /// (consumed bytes are removed from `buf`). `argv` must be empty when a
    /// new command starts; the caller clears it after running the command.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        argv: &mut Vec<Bytes>,
        limits: Limits,
    ) -> Result<Parsed, ProtocolError> {
        if self.multibulk_left == 0 {
            if buf.is_empty() {
                return Ok(Parsed::Incomplete);
            }
            if buf[0] != b'*' {
                return self.parse_inline(buf, argv, limits);
            }
            let Some(cr) = memchr(b'\r', buf) else {
                if buf.len() > INLINE_MAX {
                    return Err(ProtocolError::new("too big mbulk count string"));
                }
                return Ok(Parsed::Incomplete);
            };
            if cr + 1 >= buf.len() {
                return Ok(Parsed::Incomplete);
            }
            let count = match crate_num_i64(&buf[1..cr]) {
                Some(n) if n <= i32::MAX as i64 => n,
                _ => return Err(ProtocolError::new("invalid multibulk length")),
            };
            if count > 10 && !limits.authenticated {
                return Err(ProtocolError::new("unauthenticated multibulk length"));
            }
            buf.advance(cr + 2);
            if count <= 0 {
                return Ok(Parsed::Command);
            }
            self.multibulk_left = count;
            argv.reserve(count.min(1024) as usize);
        }

        while self.multibulk_left > 0 {
            let len = match self.bulk_len {
                Some(len) => len,
                None => {
                    let Some(cr) = memchr(b'\r', buf) else {
                        if buf.len() > INLINE_MAX {
                            return Err(ProtocolError::new("too big bulk count string"));
                        }
                        return Ok(Parsed::Incomplete);
                    };
                    if cr + 1 >= buf.len() {
                        return Ok(Parsed::Incomplete);
                    }
                    if buf[0] != b'$' {
                        // COMPAT: Redis prints the offending byte as a C char.
                        return Err(ProtocolError(format!("expected '$', got '{}'", buf[0] as char)));
                    }
                    let len = match crate_num_i64(&buf[1..cr]) {
                        Some(n) if n >= 0 && (limits.from_primary || n <= limits.max_bulk_len) => n,
                        _ => return Err(ProtocolError::new("invalid bulk length")),
                    };
                    if len > 16384 && !limits.authenticated {
                        return Err(ProtocolError::new("unauthenticated bulk length"));
                    }
                    buf.advance(cr + 2);
                    let len = len as usize;
                    // A big argument will likely arrive in several reads:
                    // reserve it once instead of growing the buffer repeatedly.
                    if len >= 32 * 1024 && buf.len() < len + 2 {
                        buf.reserve(len + 2 - buf.len());
                    }
                    self.bulk_len = Some(len);
                    len
                }
            };
            if buf.len() < len + 2 {
                return Ok(Parsed::Incomplete);
            }
            argv.push(buf.split_to(len).freeze());
            buf.advance(2);
            self.bulk_len = None;
            self.multibulk_left -= 1;
        }
        Ok(Parsed::Command)
    }

    fn parse_inline(
        &mut self,
        buf: &mut BytesMut,
        argv: &mut Vec<Bytes>,
        limits: Limits,
    ) -> Result<Parsed, ProtocolError> {
        let Some(nl) = memchr(b'\n', buf) else {
            if buf.len() > INLINE_MAX {
                return Err(ProtocolError::new("too big inline request"));
            }
            return Ok(Parsed::Incomplete);
        };
        let end = if nl > 0 && buf[nl - 1] == b'\r' { nl - 1 } else { nl };
        if limits.from_primary && end > 0 {
            return Err(ProtocolError::new("Master using the inline protocol. Desync?"));
        }
        let Some(args) = crate::util::split::split_args(&buf[..end]) else {
            return Err(ProtocolError::new("unbalanced quotes in request"));
        };
        buf.advance(nl + 1);
        argv.extend(args.into_iter().map(Bytes::from));
        Ok(Parsed::Command)
    }
}

/// Position of the first `needle` in `hay`.
fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Strict integer parsing as Redis's string2ll (no spaces, no '+').
fn crate_num_i64(s: &[u8]) -> Option<i64> {
    crate::util::num::string2ll(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: Limits = Limits { max_bulk_len: 512 * 1024 * 1024, authenticated: true, from_primary: false };

    fn parse_all(input: &[u8]) -> (Vec<Vec<Vec<u8>>>, Option<ProtocolError>, usize) {
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        let mut argv = Vec::new();
        loop {
            match p.parse(&mut buf, &mut argv, OPEN) {
                Ok(Parsed::Command) => {
                    out.push(argv.drain(..).map(|b| b.to_vec()).collect());
                }
                Ok(Parsed::Incomplete) => return (out, None, buf.len()),
                Err(e) => return (out, Some(e), buf.len()),
            }
        }
    }

    #[test]
    fn multibulk_and_inline() {
        let (cmds, err, left) = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\nset a \"b c\"\n");
        assert!(err.is_none());
        assert_eq!(left, 0);
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0], vec![b"GET".to_vec(), b"k".to_vec()]);
        assert_eq!(cmds[1], vec![b"PING".to_vec()]);
        assert_eq!(cmds[2], vec![b"set".to_vec(), b"a".to_vec(), b"b c".to_vec()]);
    }

    #[test]
    fn every_split_point_resumes() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        for cut in 0..input.len() {
            let mut p = RequestParser::default();
            let mut buf = BytesMut::from(&input[..cut]);
            let mut argv = Vec::new();
            assert_eq!(p.parse(&mut buf, &mut argv, OPEN), Ok(Parsed::Incomplete), "cut {cut}");
            buf.extend_from_slice(&input[cut..]);
            assert_eq!(p.parse(&mut buf, &mut argv, OPEN), Ok(Parsed::Command));
            assert_eq!(argv.len(), 3);
            assert_eq!(&argv[2][..], b"value");
        }
    }

    #[test]
    fn protocol_errors_have_redis_text() {
        assert_eq!(parse_all(b"*abc\r\n").1.unwrap().0, "invalid multibulk length");
        assert_eq!(parse_all(b"*1\r\n+x\r\n").1.unwrap().0, "expected '$', got '+'");
        assert_eq!(parse_all(b"*1\r\n$-1\r\n").1.unwrap().0, "invalid bulk length");
        assert_eq!(parse_all(b"*1\r\n$2147483648000\r\n").1.unwrap().0, "invalid bulk length");
        assert_eq!(parse_all(b"set \"a\r\n").1.unwrap().0, "unbalanced quotes in request");
        let big = vec![b'a'; INLINE_MAX + 1];
        assert_eq!(parse_all(&big).1.unwrap().0, "too big inline request");
        let mut big = b"*1\r\n$".to_vec();
        big.extend(std::iter::repeat_n(b'1', INLINE_MAX + 1));
        assert_eq!(parse_all(&big).1.unwrap().0, "too big bulk count string");
    }

    #[test]
    fn unauthenticated_limits() {
        let lim = Limits { authenticated: false, ..OPEN };
        let mut p = RequestParser::default();
        let mut argv = Vec::new();
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(p.parse(&mut buf, &mut argv, lim).unwrap_err().0, "unauthenticated multibulk length");
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(&b"*1\r\n$16385\r\n"[..]);
        assert_eq!(p.parse(&mut buf, &mut argv, lim).unwrap_err().0, "unauthenticated bulk length");
    }

    #[test]
    fn empty_commands() {
        let (cmds, err, _) = parse_all(b"*0\r\n*-1\r\n\r\n");
        assert!(err.is_none());
        assert_eq!(cmds.len(), 3);
        assert!(cmds.iter().all(|c| c.is_empty()));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 88172645463325252;
        let alphabet = b"*$\r\n0123456789-+ \"'abc";
        for _ in 0..20000 {
            let mut p = RequestParser::default();
            let mut argv = Vec::new();
            let mut buf = BytesMut::new();
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let len = (x % 12) as usize;
                for i in 0..len {
                    buf.extend_from_slice(&[alphabet[((x >> (i * 3)) as usize) % alphabet.len()]]);
                }
                loop {
                    match p.parse(&mut buf, &mut argv, OPEN) {
                        Ok(Parsed::Command) => argv.clear(),
                        Ok(Parsed::Incomplete) => break,
                        Err(_) => {
                            p = RequestParser::default();
                            argv.clear();
                            buf.clear();
                            break;
                        }
                    }
                }
            }
        }
    }
}
