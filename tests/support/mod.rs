//! Shared harness for the integration tests: starts a real `viator-server` on a
//! free loopback port in its own temporary directory, hands out connections
//! (a `redis` crate client and a raw byte socket), and guarantees the process
//! never outlives the test that started it (SIGTERM, then SIGKILL, in `Drop`).
//!
//! It must not know anything about commands beyond PING: the tests own every
//! assertion about replies. It mirrors how Redis's own Tcl harness drives a
//! server (a fresh process, a fresh directory, readiness by PING), so the
//! server is started with redis-server's command-line syntax.

#![allow(dead_code)] // each test file uses a different subset of the harness

pub mod cluster;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING.
const START_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `Drop` waits after SIGTERM before it sends SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Default wait for an expected reply on a raw socket.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

static DIR_SEQ: AtomicUsize = AtomicUsize::new(0);

/// A running `viator-server`, stopped when dropped.
pub struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
    /// Set once the exit status has been collected (SHUTDOWN tests).
    exited: Option<ExitStatus>,
    /// Whether dropping the server removes its directory (false when the
    /// test passed the directory in and owns it).
    owns_dir: bool,
}

impl Server {
    /// Starts a server with the harness's standard arguments.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts a server with the standard arguments followed by `extra`
    /// (redis-server style `--directive value` pairs). Panics if no server
    /// answers PING within 5 s; a lost race for the port is retried.
    pub fn start_with(extra: &[&str]) -> Server {
        let mut srv = Server::launch(Path::new(env!("CARGO_BIN_EXE_viator-server")), &fresh_dir(), extra);
        srv.owns_dir = true;
        srv
    }

    /// Starts a server working in `dir` (for restarts over the same files).
    pub fn start_in(dir: &Path, extra: &[&str]) -> Server {
        Server::launch(Path::new(env!("CARGO_BIN_EXE_viator-server")), dir, extra)
    }

    /// Starts the real redis-server binary `bin` in `dir` with the same
    /// standard arguments (interoperability tests), and waits until it has
    /// loaded its files: it listens (and answers -LOADING) while it loads,
    /// and these tests compare what it loaded.
    pub fn start_redis_in(bin: &Path, dir: &Path, extra: &[&str]) -> Server {
        let srv = Server::launch(bin, dir, extra);
        let loaded = wait_for(START_TIMEOUT, || {
            let mut raw = srv.raw();
            raw.send(b"PING\r\n");
            !raw.read_reply().starts_with(b"-LOADING")
        });
        assert!(loaded, "redis-server still loading after {START_TIMEOUT:?}");
        srv
    }

    /// A fresh, empty working directory.
    pub fn new_dir() -> PathBuf {
        fresh_dir()
    }

    fn launch(bin: &Path, dir: &Path, extra: &[&str]) -> Server {
        let dir = dir.to_path_buf();
        let mut last_err = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let log = File::create(dir.join("server.log")).expect("create server log");
            let log2 = log.try_clone().expect("clone log handle");
            let mut args: Vec<String> = vec![
                "--port".into(),
                port.to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
                "--save".into(),
                String::new(),
                "--enable-debug-command".into(),
                "yes".into(),
                "--dir".into(),
                dir.to_string_lossy().into_owned(),
            ];
            args.extend(extra.iter().map(|s| s.to_string()));
            let child = Command::new(bin)
                .args(&args)
                // Also run inside the directory, so files land there even if
                // `--dir` were ignored.
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::from(log))
                .stderr(Stdio::from(log2))
                .spawn()
                .expect("spawn viator-server");
            let mut srv = Server { child, port, dir: dir.clone(), exited: None, owns_dir: false };
            match srv.wait_ready() {
                Ok(()) => return srv,
                Err(e) => {
                    last_err = format!("{e}; log:\n{}", srv.log());
                    // srv drops here: the process is stopped before the retry.
                }
            }
        }
        panic!("{} did not start: {last_err}", bin.display());
    }

    /// Polls until a TCP connect plus PING gets a whole reply line, or the
    /// process exits (port taken), or the start timeout passes.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                self.exited = Some(st);
                return Err(format!("server exited early with {st}"));
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                if s.write_all(b"PING\r\n").is_ok() {
                    let mut got = Vec::new();
                    let mut buf = [0u8; 256];
                    while !got.ends_with(b"\r\n") {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    // +PONG normally; -NOAUTH when started with requirepass.
                    if got.ends_with(b"\r\n") {
                        // Make sure the server answering is ours, not a
                        // neighbour's that won the port.
                        if let Ok(Some(st)) = self.child.try_wait() {
                            self.exited = Some(st);
                            return Err(format!("server exited early with {st}"));
                        }
                        return Ok(());
                    }
                }
            }
            if Instant::now() > deadline {
                return Err("no PING reply within 5 s".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The TCP port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's working directory (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's stdout and stderr so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// `redis://` URL for this server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A fresh synchronous `redis` crate connection (RESP2, db 0).
    pub fn client(&self) -> redis::Connection {
        let client = redis::Client::open(self.url()).expect("client url");
        let con = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect to viator-server: {e}\nlog:\n{}", self.log()));
        con.set_read_timeout(Some(READ_TIMEOUT)).expect("set read timeout");
        con.set_write_timeout(Some(READ_TIMEOUT)).expect("set write timeout");
        con
    }

    /// A fresh raw socket to the server.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        if self.exited.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(Some(st)) => {
                self.exited = Some(st);
                false
            }
            _ => true,
        }
    }

    /// Waits up to `timeout` for the process to exit and returns its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_running() {
                return self.exited;
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM without `unsafe`: through the `kill` utility.
    fn sigterm(&self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.is_running() {
            self.sigterm();
            if self.wait_exit(STOP_TIMEOUT).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A new, empty, unique directory under the system temp dir.
fn fresh_dir() -> PathBuf {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "viator-itest-{}-{}-{nanos}",
        std::process::id(),
        DIR_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A loopback port that was free a moment ago (the kernel picks it).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Shows bytes readably in assertion messages.
pub fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

/// A raw TCP connection for exact-byte protocol tests. Bytes read past what a
/// call asked for are kept for the next call, so replies are never lost.
pub struct Raw {
    pub stream: TcpStream,
    pending: Vec<u8>,
}

impl Raw {
    /// Connects to 127.0.0.1:`port` with TCP_NODELAY, so separate writes stay
    /// separate segments.
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("raw connect");
        stream.set_nodelay(true).expect("nodelay");
        Raw { stream, pending: Vec::new() }
    }

    /// Wraps an accepted connection (a test playing a server's peer).
    pub fn from_stream(stream: TcpStream) -> Raw {
        stream.set_nodelay(true).expect("nodelay");
        Raw { stream, pending: Vec::new() }
    }

    /// Writes all of `bytes`.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("raw write");
    }

    /// Reads from the socket into `pending` until it holds `n` bytes, the
    /// peer closed (returns true), or `deadline` passed.
    fn fill(&mut self, n: usize, deadline: Instant) -> bool {
        let mut buf = vec![0u8; 64 * 1024];
        while self.pending.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.stream.set_read_timeout(Some(left)).expect("set timeout");
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(k) => self.pending.extend_from_slice(&buf[..k]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
        false
    }

    /// Returns the next `n` bytes, or fewer if the peer closed or `timeout`
    /// passed first.
    pub fn read_n(&mut self, n: usize, timeout: Duration) -> Vec<u8> {
        self.fill(n, Instant::now() + timeout);
        let k = n.min(self.pending.len());
        self.pending.drain(..k).collect()
    }

    /// Reads exactly as many bytes as `want` and asserts they equal it.
    pub fn expect(&mut self, want: &[u8]) {
        let got = self.read_n(want.len(), READ_TIMEOUT);
        assert_eq!(show(&got), show(want), "unexpected reply bytes");
    }

    /// Sends `req` and asserts the reply is exactly `want`.
    pub fn roundtrip(&mut self, req: &[u8], want: &[u8]) {
        self.send(req);
        self.expect(want);
    }

    /// Everything that arrives within `quiet` (used to prove that nothing does).
    pub fn read_for(&mut self, quiet: Duration) -> Vec<u8> {
        self.read_n(usize::MAX, quiet)
    }

    /// Reads one whole RESP2/RESP3 reply (any type, nested) and returns its bytes.
    pub fn read_reply(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.read_value(&mut out);
        out
    }

    /// The next line without its CRLF; the raw line (with CRLF) is appended to `out`.
    fn read_line(&mut self, out: &mut Vec<u8>) -> Vec<u8> {
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            if let Some(i) = self.pending.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.pending.drain(..i + 2).collect();
                out.extend_from_slice(&line);
                return line[..i].to_vec();
            }
            let want = self.pending.len() + 1;
            if self.fill(want, deadline) {
                panic!("connection closed mid-reply: {}", show(&self.pending));
            }
            assert!(Instant::now() < deadline, "timeout reading a reply line: {}", show(&self.pending));
        }
    }

    fn read_value(&mut self, out: &mut Vec<u8>) {
        let line = self.read_line(out);
        assert!(!line.is_empty(), "empty reply line");
        let num = || -> i64 {
            std::str::from_utf8(&line[1..])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("bad length in {}", show(&line)))
        };
        match line[0] {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {}
            b'$' | b'=' | b'!' => {
                let n = num();
                if n >= 0 {
                    let body = self.read_n(n as usize + 2, READ_TIMEOUT);
                    assert_eq!(body.len(), n as usize + 2, "short bulk");
                    out.extend_from_slice(&body);
                }
            }
            b'*' | b'~' | b'>' => {
                for _ in 0..num().max(0) {
                    self.read_value(out);
                }
            }
            b'%' | b'|' => {
                for _ in 0..num().max(0) * 2 {
                    self.read_value(out);
                }
            }
            other => panic!("unknown reply type byte {:?}", other as char),
        }
    }

    /// True if the server closes the connection within `timeout` (a read
    /// returns 0 or the connection is reset). Unread data is skipped.
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        self.pending.clear();
        self.fill(usize::MAX, Instant::now() + timeout)
    }

    /// Half-closes our side (the server sees EOF).
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Formats a command as a RESP multibulk request.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The reply error of a failed `redis` crate call as the server sent it
/// (`CODE detail`), or a panic if the call succeeded.
pub fn err_text<T: std::fmt::Debug>(r: redis::RedisResult<T>) -> String {
    match r {
        Ok(v) => panic!("expected an error reply, got {v:?}"),
        Err(e) => match (e.code(), e.detail()) {
            (Some(c), Some(d)) => format!("{c} {d}"),
            (Some(c), None) => c.to_string(),
            _ => format!("{e}"),
        },
    }
}

/// Runs a command given as words and converts the reply, panicking on error.
pub fn q<T: redis::FromRedisValue>(con: &mut redis::Connection, args: &[&str]) -> T {
    redis::cmd(args[0]).arg(&args[1..]).query(con).unwrap_or_else(|e| panic!("{args:?} failed: {e}"))
}

/// Runs a command that must fail and returns the error as `CODE detail`.
pub fn qe(con: &mut redis::Connection, args: &[&str]) -> String {
    err_text(redis::cmd(args[0]).arg(&args[1..]).query::<redis::Value>(con))
}

/// One `field:value` of `INFO section`, as text; panics naming the section
/// when the field is missing.
pub fn info_field(con: &mut redis::Connection, section: &str, name: &str) -> String {
    let text: String = q(con, &["INFO", section]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {name} in INFO {section}:\n{text}"))
}

/// Polls `f` every 10 ms until it returns true or `timeout` passes.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The soft limit on open files, read from `ulimit -n` (no `unsafe` needed).
pub fn open_files_limit() -> usize {
    Command::new("sh")
        .args(["-c", "ulimit -n"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| {
            let s = s.trim();
            if s == "unlimited" {
                Some(1 << 20)
            } else {
                s.parse().ok()
            }
        })
        .unwrap_or(1024)
}

/// What a finished viator-cli run produced.
pub struct CliRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

impl std::fmt::Debug for CliRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs viator-cli with `args`, feeding `stdin` (closed afterwards; `None`
/// gives it /dev/null), without colours and without the environment that
/// changes its behaviour (FAKETTY, REDISCLI_AUTH, REDISCLI_CLUSTER_YES).
/// Killed after `timeout` so a hung client fails the test instead of
/// hanging the suite.
pub fn run_cli(args: &[&str], stdin: Option<&[u8]>, timeout: Duration) -> CliRun {
    let mut child = Command::new(env!("CARGO_BIN_EXE_viator-cli"))
        .args(args)
        .env("TERM", "dumb")
        .env_remove("FAKETTY")
        .env_remove("REDISCLI_AUTH")
        .env_remove("REDISCLI_CLUSTER_YES")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn viator-cli");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(input).expect("write cli stdin");
        // Dropping the pipe closes it: the cli sees EOF.
    }
    let mut out_pipe = child.stdout.take().expect("stdout pipe");
    let mut err_pipe = child.stderr.take().expect("stderr pipe");
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out_pipe.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("viator-cli {args:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    CliRun {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned(),
    }
}

/// A raw connection that sent SYNC and consumed the snapshot: the
/// replication stream as a replica receives it, one command at a time.
pub struct SyncReplica {
    r: BufReader<TcpStream>,
}

impl SyncReplica {
    pub fn attach(srv: &Server) -> SyncReplica {
        let s = TcpStream::connect(("127.0.0.1", srv.port())).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut w = s.try_clone().unwrap();
        w.write_all(b"SYNC\r\n").unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(line.starts_with('$'), "expected the snapshot's length, got {line:?}");
        let len: usize = line[1..].trim().parse().unwrap();
        let mut rdb = vec![0u8; len];
        r.read_exact(&mut rdb).unwrap();
        assert_eq!(&rdb[..9], b"REDIS0010", "an RDB version 10 snapshot");
        SyncReplica { r }
    }

    /// The next command of the stream, its name lowercased; the master's
    /// keepalive PINGs (every `repl-ping-replica-period`) are passed over.
    pub fn next(&mut self) -> Vec<String> {
        loop {
            let cmd = self.next_raw();
            if cmd != ["ping"] {
                return cmd;
            }
        }
    }

    pub fn next_raw(&mut self) -> Vec<String> {
        let mut line = String::new();
        self.r.read_line(&mut line).unwrap();
        assert!(line.starts_with('*'), "expected a multibulk, got {line:?}");
        let n: usize = line[1..].trim().parse().unwrap();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            line.clear();
            self.r.read_line(&mut line).unwrap();
            let len: usize = line[1..].trim().parse().unwrap();
            let mut buf = vec![0u8; len + 2];
            self.r.read_exact(&mut buf).unwrap();
            buf.truncate(len);
            let word = String::from_utf8(buf).unwrap();
            out.push(if i == 0 { word.to_lowercase() } else { word });
        }
        out
    }

    /// Asserts the next commands, `*` in an expectation matching any word.
    pub fn expect(&mut self, cmds: &[&str]) {
        for want in cmds {
            let got = self.next();
            let want: Vec<&str> = want.split(' ').collect();
            let ok = got.len() == want.len() && got.iter().zip(&want).all(|(g, w)| *w == "*" || g == w);
            assert!(ok, "expected {want:?}, got {got:?}");
        }
    }
}
