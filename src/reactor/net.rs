//! Sockets: listeners for `bind`/`port`/`unixsocket`, and the stream type every
//! connection uses whatever its transport. Never parses a byte.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use socket2::{Domain, Socket, Type};

/// A connected socket, TCP or Unix.
#[derive(Debug)]
pub enum Stream {
    /// TCP connection.
    Tcp(TcpStream),
    /// Unix domain socket connection.
    Unix(UnixStream),
}

impl Stream {
    /// The peer's address as Redis prints it (`ip:port`, or `path:0`).
    pub fn peer_name(&self, unix_path: &str) -> String {
        match self {
            Stream::Tcp(s) => s.peer_addr().map(|a| fmt_addr(&a)).unwrap_or_else(|_| "?:0".into()),
            Stream::Unix(_) => format!("{unix_path}:0"),
        }
    }

    /// Our end's address as Redis prints it.
    pub fn local_name(&self, unix_path: &str) -> String {
        match self {
            Stream::Tcp(s) => s.local_addr().map(|a| fmt_addr(&a)).unwrap_or_else(|_| "?:0".into()),
            Stream::Unix(_) => format!("{unix_path}:0"),
        }
    }

    /// True for a loopback TCP peer or any Unix socket peer (protected mode
    /// and `enable-debug-command local` treat these as local).
    pub fn is_local(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.peer_addr().map(|a| a.ip().is_loopback()).unwrap_or(false),
            Stream::Unix(_) => true,
        }
    }

    /// The raw file descriptor (CLIENT LIST's `fd=`).
    pub fn fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }

    /// Where a non-blocking connect stands once the socket reported an
    /// event: `Ok(true)` connected, `Ok(false)` still connecting (a spurious
    /// wake-up), or the error that ended it.
    pub fn connect_outcome(&self) -> io::Result<bool> {
        let Stream::Tcp(s) = self else { return Ok(true) };
        if let Some(e) = s.take_error()? {
            return Err(e);
        }
        match s.peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes as much of `out` as the socket takes, removing what went.
    /// `Ok(0)` from the socket is reported as `WriteZero`.
    pub fn write_out(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        while !out.is_empty() {
            match self.write(out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Applies `tcp-keepalive` (seconds; 0 = off) and TCP_NODELAY.
    pub fn tune(&self, keepalive_secs: i64) {
        if let Stream::Tcp(s) = self {
            let _ = s.set_nodelay(true);
            if keepalive_secs > 0 {
                let sock = socket2::SockRef::from(s);
                let ka = socket2::TcpKeepalive::new()
                    .with_time(std::time::Duration::from_secs(keepalive_secs as u64))
                    .with_interval(std::time::Duration::from_secs((keepalive_secs / 3).max(1) as u64));
                let _ = sock.set_tcp_keepalive(&ka);
            }
        }
    }
}

/// Formats a socket address as Redis does (`::1:6379` style, no brackets).
pub fn fmt_addr(a: &SocketAddr) -> String {
    format!("{}:{}", a.ip(), a.port())
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(r, t, i),
            Stream::Unix(s) => s.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(r, t, i),
            Stream::Unix(s) => s.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
        }
    }
}

/// A listening socket.
#[derive(Debug)]
pub enum Listener {
    /// TCP listener.
    Tcp(TcpListener),
    /// Unix listener with its path.
    Unix(UnixListener, String),
}

impl Listener {
    /// Accepts one connection; `Ok(None)` when none is waiting.
    pub fn accept(&self) -> io::Result<Option<Stream>> {
        let r = match self {
            Listener::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
            Listener::Unix(l, _) => l.accept().map(|(s, _)| Stream::Unix(s)),
        };
        match r {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The Unix socket path, if this is a Unix listener.
    pub fn unix_path(&self) -> Option<&str> {
        match self {
            Listener::Unix(_, p) => Some(p),
            Listener::Tcp(_) => None,
        }
    }
}

impl Source for Listener {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.register(r, t, i),
            Listener::Unix(l, _) => l.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.reregister(r, t, i),
            Listener::Unix(l, _) => l.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.deregister(r),
            Listener::Unix(l, _) => l.deregister(r),
        }
    }
}

/// One `bind` entry resolved: the address and whether failure is tolerated
/// (Redis's `-` prefix).
fn parse_bind(entry: &str) -> (Option<IpAddr>, bool, bool) {
    let (optional, addr) = match entry.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, entry),
    };
    match addr {
        "*" => (Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), optional, false),
        "::*" => (Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)), optional, true),
        other => (other.parse().ok(), optional, other.contains(':')),
    }
}

/// Opens one TCP listener per `bind` entry on `port` with `backlog`.
/// Errors carry Redis's wording; optional (`-`) addresses that are not
/// available are skipped, as are IPv6 addresses on hosts without IPv6.
pub fn listen_tcp(binds: &[String], port: u16, backlog: i32) -> Result<Vec<Listener>, String> {
    let mut out = Vec::new();
    for b in binds {
        let (ip, optional, _v6) = parse_bind(b);
        let Some(ip) = ip else {
            if optional {
                continue;
            }
            return Err(format!("Could not create server TCP listening socket {b}:{port}: Invalid address"));
        };
        match listen_one(SocketAddr::new(ip, port), backlog) {
            Ok(l) => out.push(Listener::Tcp(l)),
            Err(e) => {
                let unsupported = matches!(
                    e.raw_os_error(),
                    Some(libc::EAFNOSUPPORT) | Some(libc::EADDRNOTAVAIL) | Some(libc::EPROTONOSUPPORT)
                );
                if optional && unsupported {
                    continue;
                }
                let shown = b.strip_prefix('-').unwrap_or(b);
                return Err(format!(
                    "Could not create server TCP listening socket {shown}:{port}: bind: {}",
                    strip_os(&e)
                ));
            }
        }
    }
    Ok(out)
}

fn strip_os(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn listen_one(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let domain = if addr.is_ipv6() { Domain::IPV6 } else { Domain::IPV4 };
    let sock = Socket::new(domain, Type::STREAM, None)?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.bind(&addr.into())?;
    sock.listen(backlog)?;
    sock.set_nonblocking(true)?;
    Ok(TcpListener::from_std(sock.into()))
}

/// Opens the Unix socket listener at `path` with permissions `perm` (0: leave
/// the umask's). A stale socket file is removed first, as Redis does.
pub fn listen_unix(path: &str, perm: u32) -> Result<Listener, String> {
    let _ = std::fs::remove_file(path);
    let l = UnixListener::bind(path).map_err(|e| format!("Failed opening Unix socket: {}", strip_os(&e)))?;
    if perm != 0 {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm));
    }
    Ok(Listener::Unix(l, path.to_string()))
}
