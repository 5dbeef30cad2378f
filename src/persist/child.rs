//! Background children: the one forked process that writes a snapshot (RDB
//! save, AOF rewrite) while the parent keeps serving, as Redis's redisFork /
//! checkChildrenDone / killRDBChild do.
//!
//! Owns the fork itself, the report channel from the child (its copy-on-write
//! size), reaping with `waitpid(WNOHANG)` from the cron, and killing. It does
//! not know what the child writes: the caller passes the job, and the exit
//! is handed back to the caller's module by [`ChildKind`].
//!
//! Soundness of `fork()` here: the reactor is the only thread that owns
//! server state (DESIGN.md); the one other thread, `crate::bio`'s worker,
//! never touches it. The child runs only the thread that forked, so it is a
//! complete copy of the reactor and may use the heap (jemalloc takes its
//! locks around fork). What the worker may hold at that instant (its job
//! queue's internals) is never used in the child: no child code submits to
//! or drains `Server::bio`, and `Bio` runs a job inline if a child ever did.
//! The child never touches the reactor (the epoll instance is shared with
//! the parent) and leaves with `_exit`, so no destructor of shared state
//! runs.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use crate::server::Server;

/// What a child is doing; one child at a time, as in Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildKind {
    /// BGSAVE or a save point: writing the RDB file.
    Rdb,
    /// BGREWRITEAOF: writing a new AOF base.
    Aof,
}

/// The running child, as the parent sees it.
#[derive(Debug)]
pub struct Child {
    /// Its process id.
    pub pid: i32,
    /// What it does.
    pub kind: ChildKind,
    /// When it was forked.
    pub started: Instant,
    /// Unix seconds at fork time.
    pub started_secs: i64,
    /// The parent's end of the report channel.
    report: UnixStream,
    /// Bytes received so far on the channel.
    received: Vec<u8>,
    /// Whether the parent killed it (its exit is then not an error).
    pub killed: bool,
    /// Keys in the dataset when it was forked.
    pub keys_total: u64,
    /// Latest progress report: keys written so far.
    pub keys_done: u64,
    /// Latest progress report: copy-on-write bytes.
    pub cow_bytes: u64,
    /// When the latest progress report arrived.
    pub cow_reported: Option<Instant>,
    /// The copy-on-write size the child sent just before exiting.
    final_cow: Option<u64>,
}

thread_local! {
    /// In a child: its end of the report channel and when it last reported.
    static REPORTER: RefCell<Option<(UnixStream, Instant)>> = const { RefCell::new(None) };
}

/// How often a child reports its progress (Redis sends it once a second).
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Keys between two looks at the clock in [`report_progress`] (Redis looks
/// every 1024 keys too).
const CLOCK_EVERY_KEYS: u64 = 1024;

/// Called by a saving child after each key: at most once a second, sends
/// the keys written so far and the copy-on-write size to the parent.
pub fn report_progress(keys_done: u64) {
    // Reading the clock for every key was 7% of a save of small keys.
    if keys_done % CLOCK_EVERY_KEYS != 0 {
        return;
    }
    REPORTER.with(|r| {
        if let Some((stream, last)) = r.borrow_mut().as_mut() {
            if last.elapsed() >= REPORT_EVERY {
                *last = Instant::now();
                let report = format!("progress {keys_done} {}\n", private_dirty_bytes());
                if let Err(e) = stream.write_all(report.as_bytes()) {
                    // The parent is gone (killed, OOM): nobody wants this
                    // snapshot any more. COMPAT: sendChildInfoGeneric's line.
                    log::warn!("Child failed reporting info to parent, exiting. {e}");
                    // SAFETY: _exit ends this forked child at once, without the
                    // parent's atexit handlers or destructors (see `spawn`).
                    unsafe { libc::_exit(1) };
                }
            }
        }
    });
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The child's pid (names its temp files).
    pub pid: i32,
    /// What it was doing.
    pub kind: ChildKind,
    /// Its exit code (0 = success) when it exited normally.
    pub code: i32,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// Whether the parent killed it on purpose.
    pub killed: bool,
    /// The copy-on-write bytes the child reported before exiting.
    pub cow_bytes: u64,
    /// How long it ran.
    pub elapsed_secs: i64,
}

impl Exit {
    /// A normal exit with status 0.
    pub fn ok(&self) -> bool {
        self.signal.is_none() && self.code == 0
    }
}

/// Forks a child that runs `job` over the parent's snapshot and exits with
/// 0 when the job returns true, 1 otherwise. Returns the child's pid in the
/// parent. Fails (with the OS error text) when a child is already running or
/// the fork fails; the caller logs and records it.
pub fn spawn(srv: &mut Server, kind: ChildKind, job: impl FnOnce(&Server) -> bool) -> Result<i32, String> {
    if srv.persist.child.is_some() {
        return Err("another child process is active".into());
    }
    let (parent_end, mut child_end) = UnixStream::pair().map_err(|e| e.to_string())?;
    parent_end.set_nonblocking(true).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    // SAFETY: only the reactor thread owns server state and the bio worker
    // shares none of it (see the module header), so the child inherits a
    // consistent heap and needs no lock the worker could hold.
    let pid = unsafe { libc::fork() };
    if pid == -1 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    if pid == 0 {
        // The child keeps only its own end of the report channel, so a write
        // fails once the parent is gone.
        drop(parent_end);
        // The child: listening sockets closed so a restarted parent can bind
        // again even while the child still writes (dropping closes the fd,
        // it does not touch the shared epoll registration).
        srv.listeners.clear();
        if let Some(cl) = srv.cluster.as_deref_mut() {
            cl.bus.listeners.clear();
        }
        crate::logging::set_role(b'C');
        let _ = srv.oom_score.apply(&srv.config, crate::oom::Class::BgChild);
        if let Ok(reporter) = child_end.try_clone() {
            REPORTER.with(|r| *r.borrow_mut() = Some((reporter, Instant::now())));
        }
        let ok = job(srv);
        let cow = private_dirty_bytes();
        let _ = child_end.write_all(format!("cow {cow}\n").as_bytes());
        drop(child_end);
        // SAFETY: _exit ends the child without running the parent's atexit
        // handlers or destructors (which would flush or close shared state).
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let fork_us = t0.elapsed().as_micros() as u64;
    srv.persist.latest_fork_usec = fork_us;
    srv.persist.total_forks += 1;
    // COMPAT: the latency monitor's event name for fork.
    crate::latency::sample_if_needed(srv, "fork", fork_us / 1000);
    // Moving table entries now would copy shared pages for nothing.
    crate::db::dict::set_global_resize_allowed(false);
    srv.persist.child = Some(Child {
        pid,
        kind,
        started: Instant::now(),
        started_secs: srv.clock.now_secs(),
        report: parent_end,
        received: Vec::new(),
        killed: false,
        keys_total: srv.ks.dbs.iter().map(|d| d.dict.len() as u64).sum(),
        keys_done: 0,
        cow_bytes: 0,
        cow_reported: None,
        final_cow: None,
    });
    Ok(pid)
}

/// Sends SIGUSR1 to the running child of `kind` (Redis's way of saying "stop,
/// this is not an error"); it is reaped by [`reap`] like any other exit.
pub fn kill(srv: &mut Server, kind: ChildKind) {
    if let Some(ch) = srv.persist.child.as_mut().filter(|c| c.kind == kind && !c.killed) {
        // SAFETY: kill(2) on a pid we forked and have not reaped yet, so it
        // cannot name an unrelated process.
        unsafe { libc::kill(ch.pid, libc::SIGUSR1) };
        ch.killed = true;
    }
}

/// Kills the running child of `kind` and waits for it, so that its files
/// can be removed right away (SHUTDOWN, FLUSHALL with a sync save).
pub fn kill_and_wait(srv: &mut Server, kind: ChildKind) -> Option<Exit> {
    kill(srv, kind);
    if srv.persist.child.as_ref().map_or(true, |c| c.kind != kind) {
        return None;
    }
    wait(srv, true)
}

/// Reaps the child if it has exited (cron): returns how it ended.
pub fn reap(srv: &mut Server) -> Option<Exit> {
    if srv.persist.child.is_none() {
        return None;
    }
    wait(srv, false)
}

fn wait(srv: &mut Server, block: bool) -> Option<Exit> {
    let pid = srv.persist.child.as_ref()?.pid;
    let mut status: libc::c_int = 0;
    // SAFETY: waitpid on our own child with a valid out-pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, if block { 0 } else { libc::WNOHANG }) };
    if r == 0 {
        if let Some(ch) = srv.persist.child.as_mut() {
            drain(ch);
        }
        return None;
    }
    let mut ch = srv.persist.child.take()?;
    drain(&mut ch);
    crate::db::dict::set_global_resize_allowed(true);
    let (code, signal) = if r == -1 {
        // The child is gone without a status (ECHILD): treat as a failure.
        (1, None)
    } else if libc::WIFSIGNALED(status) {
        (0, Some(libc::WTERMSIG(status)))
    } else {
        (libc::WEXITSTATUS(status), None)
    };
    let cow_bytes = ch.final_cow.unwrap_or(0);
    Some(Exit {
        pid: ch.pid,
        kind: ch.kind,
        code,
        signal,
        killed: ch.killed,
        cow_bytes,
        elapsed_secs: ch.started.elapsed().as_secs() as i64,
    })
}

fn drain(ch: &mut Child) {
    let mut buf = [0u8; 256];
    while let Ok(n) = ch.report.read(&mut buf) {
        if n == 0 {
            break;
        }
        ch.received.extend_from_slice(&buf[..n]);
    }
    // Complete progress lines update the live figures; the final `cow`
    // line stays for the exit.
    while let Some(end) = ch.received.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = ch.received.drain(..=end).collect();
        let text = String::from_utf8_lossy(&line);
        let mut words = text.split_whitespace();
        match words.next() {
            Some("progress") => {
                let mut num = || words.next().and_then(|w| w.parse::<u64>().ok()).unwrap_or(0);
                ch.keys_done = num();
                ch.cow_bytes = num();
                ch.cow_reported = Some(Instant::now());
            }
            Some("cow") => ch.final_cow = words.next().and_then(|w| w.parse().ok()),
            _ => {}
        }
    }
}

/// The process's private dirty memory (what copy-on-write duplicated in a
/// child), from /proc; 0 where it is not available.
fn private_dirty_bytes() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/self/smaps_rollup") else { return 0 };
    text.lines()
        .filter_map(|l| l.strip_prefix("Private_Dirty:"))
        .filter_map(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .sum::<u64>()
        * 1024
}
