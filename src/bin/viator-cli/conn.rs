//! One blocking connection to a server: connect over TCP or a unix socket, send a
//! command, read one reply.
//!
//! Owns the socket and its read buffer; knows nothing of options or output. Error texts
//! are the ones redis-cli (through hiredis) prints: the C library's `strerror` text for
//! system errors, "Server closed the connection" for EOF.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;

use viator::resp::value::{encode_command, Decoder, ParseError, Value};

/// Why a reply could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The server closed the connection.
    Eof,
    /// A socket error.
    Io(io::Error),
    /// The server sent something that is not RESP.
    Protocol(ParseError),
}

impl ReadError {
    /// The text redis-cli prints after "Error: ".
    pub fn text(&self) -> String {
        match self {
            ReadError::Eof => "Server closed the connection".to_string(), // COMPAT: hiredis
            ReadError::Io(e) => io_text(e),
            ReadError::Protocol(e) => format!("Protocol error: {e}"),
        }
    }

    /// Errors after which the interactive prompt just reconnects on the next command.
    pub fn is_disconnect(&self) -> bool {
        match self {
            ReadError::Eof => true,
            ReadError::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionAborted
            ),
            ReadError::Protocol(_) => false,
        }
    }
}

/// The C library's text for an I/O error: Rust's own rendering without the
/// " (os error N)" suffix, and without the resolver's prefix.
pub fn io_text(e: &io::Error) -> String {
    let s = e.to_string();
    let s = s.strip_prefix("failed to lookup address information: ").unwrap_or(&s);
    match s.rfind(" (os error ") {
        Some(at) => s[..at].to_string(),
        None => s.to_string(),
    }
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// A connected socket plus the bytes read but not yet consumed.
pub struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    decoder: Decoder,
}

/// How much to ask the kernel for per read.
const READ_CHUNK: usize = 64 * 1024;

impl Conn {
    /// Connects to `host:port`, trying each resolved address in turn. The error is
    /// the text redis-cli prints after "Could not connect to Redis at host:port: ".
    pub fn tcp(host: &str, port: i32) -> Result<Conn, String> {
        let port = u16::try_from(port).map_err(|_| "Invalid argument".to_string())?;
        let addrs = (host, port).to_socket_addrs().map_err(|e| io_text(&e))?;
        let mut last = "Name or service not known".to_string();
        for addr in addrs {
            match TcpStream::connect(addr) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    return Ok(Conn::new(Stream::Tcp(s)));
                }
                Err(e) => last = io_text(&e),
            }
        }
        Err(last)
    }

    /// Connects to a unix socket at `path`.
    pub fn unix(path: &str) -> Result<Conn, String> {
        UnixStream::connect(path).map(|s| Conn::new(Stream::Unix(s))).map_err(|e| io_text(&e))
    }

    fn new(stream: Stream) -> Conn {
        Conn { stream, buf: Vec::with_capacity(READ_CHUNK), decoder: Decoder::new() }
    }

    /// Writes one command in multibulk form.
    pub fn send(&mut self, args: &[&[u8]]) -> io::Result<()> {
        let frame = encode_command(args);
        match &mut self.stream {
            Stream::Tcp(s) => s.write_all(&frame),
            Stream::Unix(s) => s.write_all(&frame),
        }
    }

    /// Blocks until one whole reply has arrived and returns it.
    pub fn read(&mut self) -> Result<Value, ReadError> {
        loop {
            // The decoder resumes where the last attempt stopped: the buffer only grows
            // until a reply is complete, so large replies are scanned once.
            match self.decoder.decode(&self.buf) {
                Ok(Some((v, n))) => {
                    self.buf.drain(..n);
                    return Ok(v);
                }
                Ok(None) => {}
                Err(e) => return Err(ReadError::Protocol(e)),
            }
            let old = self.buf.len();
            self.buf.resize(old + READ_CHUNK, 0);
            let got = match &mut self.stream {
                Stream::Tcp(s) => s.read(&mut self.buf[old..]),
                Stream::Unix(s) => s.read(&mut self.buf[old..]),
            };
            match got {
                Ok(0) => {
                    self.buf.truncate(old);
                    return Err(ReadError::Eof);
                }
                Ok(n) => self.buf.truncate(old + n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.buf.truncate(old),
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(ReadError::Io(e));
                }
            }
        }
    }

    /// Sends a command and reads its reply, for the connection set-up commands.
    pub fn call(&mut self, args: &[&[u8]]) -> Result<Value, ReadError> {
        self.send(args).map_err(ReadError::Io)?;
        self.read()
    }
}
