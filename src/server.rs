//! The server: the root value that owns every piece of state, the event loop,
//! `call()` (the single checkpoint every command passes through), the cron and
//! the before-sleep checklist.
//!
//! Mirrors Redis's `processCommand` + `call` split: lookup, arity and auth are
//! checked here, handlers only do their command's work, and statistics, error
//! counting and reply muting happen in one place. Connections live in a slab
//! whose key is the low half of their `mio` token; a client is taken out of its
//! slot while its command runs so a handler can hold `&mut Server` and
//! `&mut Client` at once.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mio::Interest;
use slab::Slab;

use crate::client::reply::ReplyError;
use crate::client::{Client, ReplyMode};
use crate::cmd::spec::CmdFlags;
use crate::cmd::table::CommandTable;
use crate::config::{Config, ShutdownFlags};
use crate::db::Keyspace;
use crate::reactor::net::{self, Listener};
use crate::reactor::timer::Timers;
use crate::reactor::{signal, Reactor, TokenKind};
use crate::resp::parse::{Limits, Parsed};
use crate::util::clock::Clock;

/// How much to read per `read` call.
const READ_CHUNK: usize = 16 * 1024;

/// What a timer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// The server cron, `hz` times per second.
    Cron,
    /// A blocked client's deadline: (slab key, client id).
    BlockTimeout(usize, u64),
}

/// Server-wide counters (INFO stats).
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted.
    pub total_connections_received: u64,
    /// Commands executed.
    pub total_commands_processed: u64,
    /// Connections refused (maxclients).
    pub rejected_connections: u64,
    /// Bytes read from clients.
    pub net_input_bytes: u64,
    /// Bytes written to clients.
    pub net_output_bytes: u64,
    /// Error replies sent.
    pub total_error_replies: u64,
    /// Error replies by their code word (INFO errorstats).
    pub errors: HashMap<String, u64>,
    /// Ops/sec samples: (time ms, commands so far), for instantaneous_ops_per_sec.
    pub ops_samples: Vec<(i64, u64)>,
    /// Input bytes samples.
    pub in_samples: Vec<(i64, u64)>,
    /// Output bytes samples.
    pub out_samples: Vec<(i64, u64)>,
    /// Clients currently blocked (INFO `blocked_clients`).
    pub blocked_clients: u64,
    /// Clients evicted by the `timeout` setting.
    pub expired_clients: u64,
    /// Unexpected read errors / protocol errors (`total_... `).
    pub unexpected_error_replies: u64,
    /// RESTORE blobs deep-sanitized as `sanitize-dump-payload` asks (INFO).
    pub dump_payload_sanitizations: u64,
    /// Highest allocator figure seen (INFO `used_memory_peak`).
    pub peak_memory: u64,
    /// Allocator figure once start-up finished (INFO `used_memory_startup`).
    pub startup_memory: u64,
    /// Socket reads that returned data (INFO `total_reads_processed`).
    pub total_reads_processed: u64,
    /// Attempts to flush a client's output (INFO `total_writes_processed`).
    pub total_writes_processed: u64,
    /// Time spent in active expiry cycles, in microseconds.
    pub expire_cycle_us: u64,
}

/// CLIENT PAUSE state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pause {
    /// Not paused.
    None,
    /// Only write commands wait, until the time (ms).
    Write(i64),
    /// Every command waits, until the time (ms).
    All(i64),
}

/// The root of all state.
pub struct Server {
    /// The configuration in force.
    pub config: Config,
    /// Absolute path of the config file, for CONFIG REWRITE.
    pub config_file: Option<PathBuf>,
    /// The time snapshot.
    pub clock: Clock,
    /// All databases.
    pub ks: Keyspace,
    /// Connections; a slot is `None` while its client runs a command.
    pub clients: Slab<Option<Box<Client>>>,
    /// Client listeners (TCP per bind address, and the Unix socket).
    pub listeners: Vec<Listener>,
    /// The poller.
    pub reactor: Reactor,
    /// Timers.
    pub timers: Timers<Timer>,
    /// The command table.
    pub commands: CommandTable,
    /// Counters.
    pub stats: Stats,
    /// Next CLIENT ID.
    pub next_client_id: u64,
    /// 40 hex chars, new each start.
    pub run_id: String,
    /// When the server started (Unix ms).
    pub start_ms: i64,
    /// Monotonic start.
    pub start_instant: Instant,
    /// Cron iterations so far.
    pub cron_loops: u64,
    /// Set by a signal or SHUTDOWN; the cron acts on it.
    pub shutdown_asap: bool,
    /// The pending shutdown came from SIGINT (else SIGTERM): which
    /// `shutdown-on-sig*` flags apply.
    pub shutdown_by_sigint: bool,
    /// When a shutdown waiting for replicas gives up waiting (Unix ms); 0
    /// when no shutdown is under way.
    pub shutdown_ms: i64,
    /// The flags of the shutdown under way.
    pub shutdown_flags: ShutdownFlags,
    /// SHUTDOWN callers blocked until it ends, by slab key.
    pub shutdown_waiters: Vec<usize>,
    /// DEBUG PAUSE-CRON: the cron does nothing while set.
    pub cron_paused: bool,
    /// Clients with replies to flush in before-sleep.
    pub pending_writes: Vec<usize>,
    /// Clients to close in before-sleep.
    pub to_close: Vec<usize>,
    /// Clients holding unprocessed input because of a pause.
    pub paused_clients: Vec<usize>,
    /// CLIENT PAUSE.
    pub pause: Pause,
    /// Unix seconds of the last successful save.
    pub lastsave_secs: i64,
    /// Path of the executable (INFO `executable`).
    pub executable: String,
    /// The TCP port actually bound.
    pub tcp_port: u16,
    /// DEBUG SET-ACTIVE-EXPIRE.
    pub active_expire_enabled: bool,
    /// Set when the process should exit with this code.
    pub exit_code: Option<i32>,
    /// Sentinel mode (only sentinel commands; later).
    pub sentinel_mode: bool,
    /// Non-implemented directives already reported.
    pub noted_noop: Vec<&'static str>,
    /// Clients blocked per (db, key), in blocking order.
    pub blocking_keys: HashMap<(usize, crate::types::sds::Sds), std::collections::VecDeque<usize>>,
    /// Keys written while clients wait on them, served before sleeping.
    pub ready_keys: Vec<(usize, crate::types::sds::Sds)>,
    /// Channel and pattern subscriptions.
    pub pubsub: crate::cmd::pubsub::PubSub,
    /// ACL users and the ACL LOG.
    pub acl: crate::acl::Acl,
    /// Client-side caching tables (CLIENT TRACKING).
    pub tracking: crate::tracking::Tracking,
    /// Scratch buffer every socket read lands in before being appended to a
    /// client's query buffer.
    read_buf: Box<[u8]>,
    /// Readiness of the last poll, reused across iterations.
    ready_events: Vec<(mio::Token, bool, bool, bool)>,
    /// Whether the last before-sleep wrote replies: only then is a client
    /// likely to send again within microseconds, and only then does the
    /// loop poll before sleeping (`busy-poll-us`). A replica applying its
    /// master's stream answers nothing and never polls.
    replied: bool,
    /// WATCHed keys: (db, key) to the slab keys of the clients watching.
    pub watched_keys: HashMap<(usize, crate::types::sds::Sds), Vec<usize>>,
    /// The execution unit being assembled for propagation.
    pub prop: crate::propagate::Propagation,
    /// Replication, master side: stream identity, backlog, replicas.
    pub repl: crate::repl::Master,
    /// SLOWLOG entries.
    pub slowlog: crate::slowlog::SlowLog,
    /// Latency monitor events and per-command latency histograms.
    pub latency: crate::latency::Latency,
    /// `maxmemory` eviction state and statistics.
    pub evict: crate::evict::Evictor,
    /// The OOM-killer score Viator set, if any (`oom-score-adj`).
    pub oom_score: crate::oom::OomScore,
    /// MIGRATE's cached connections to targets.
    pub migrate_sockets: crate::cmd::dump::MigrateCache,
    /// Client memory sums, eviction and reply-buffer settings.
    pub client_mem: crate::client::mem::ClientsMem,
    /// Slab keys of the MONITOR clients.
    pub monitors: Vec<usize>,
    /// RDB/AOF state and the background child.
    pub persist: crate::persist::Persist,
    /// The background I/O thread (AOF fsync, file closes).
    pub bio: crate::bio::Bio,
    /// Cluster state, with `cluster-enabled yes` only.
    pub cluster: Option<Box<crate::cluster::Cluster>>,
    /// Sentinel state, in Sentinel mode only.
    pub sentinel: Option<Box<crate::sentinel::Sentinel>>,
    /// Lua scripting: EVAL's cache, functions, the running script.
    pub script: crate::script::Scripting,
}

impl Server {
    /// Builds the server from its configuration: opens the listeners and
    /// schedules the cron. Errors are start-up failures, already worded for
    /// the log.
    pub fn new(config: Config, config_file: Option<PathBuf>) -> Result<Server, String> {
        let reactor = Reactor::new().map_err(|e| format!("Failed creating the event loop. Error message: '{e}'"))?;
        let clock = Clock::new();
        let mut ks = Keyspace::new(config.databases.max(1) as usize);
        ks.notify_flags = config.notify_keyspace_events;
        if config.cluster_enabled {
            // Before any key is loaded, so no rebuild scan is needed.
            ks.enable_slot_index();
        }
        let mut commands = if config.sentinel_mode() {
            CommandTable::new(&crate::sentinel::bindings())
        } else {
            CommandTable::new(crate::cmd::BINDINGS)
        };
        for (old, new) in &config.rename_commands {
            commands.rename(old, new).map_err(|e| format!("rename-command {old} {new:?}: {e}"))?;
        }
        let mut srv = Server {
            acl: crate::acl::Acl::new(&commands),
            commands,
            ks,
            clients: Slab::with_capacity(1024),
            listeners: Vec::new(),
            reactor,
            timers: Timers::default(),
            stats: Stats::default(),
            next_client_id: 1,
            run_id: random_hex(40),
            start_ms: clock.now_ms,
            start_instant: Instant::now(),
            cron_loops: 0,
            shutdown_asap: false,
            shutdown_by_sigint: false,
            shutdown_ms: 0,
            shutdown_flags: ShutdownFlags::DEFAULT,
            shutdown_waiters: Vec::new(),
            cron_paused: false,
            pending_writes: Vec::new(),
            to_close: Vec::new(),
            paused_clients: Vec::new(),
            pause: Pause::None,
            lastsave_secs: clock.now_secs(),
            executable: std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
            tcp_port: config.port as u16,
            active_expire_enabled: true,
            exit_code: None,
            sentinel_mode: config.sentinel_mode(),
            noted_noop: Vec::new(),
            watched_keys: HashMap::new(),
            prop: Default::default(),
            repl: Default::default(),
            migrate_sockets: Default::default(),
            client_mem: Default::default(),
            monitors: Vec::new(),
            persist: Default::default(),
            bio: Default::default(),
            cluster: None,
            sentinel: None,
            script: Default::default(),
            read_buf: vec![0u8; READ_CHUNK].into_boxed_slice(),
            ready_events: Vec::with_capacity(1024),
            replied: false,
            pubsub: Default::default(),
            tracking: Default::default(),
            blocking_keys: HashMap::new(),
            ready_keys: Vec::new(),
            slowlog: Default::default(),
            latency: Default::default(),
            evict: Default::default(),
            oom_score: Default::default(),
            clock,
            config,
            config_file,
        };
        crate::acl::load_at_startup(&mut srv)?;
        srv.open_listeners()?;
        srv.stats.startup_memory = crate::info::used_memory();
        crate::evict::apply_config(&mut srv, "");
        if let Err(e) = srv.oom_score.apply(&srv.config, crate::oom::Class::Primary) {
            log::warn!("{e}");
        }
        let hz = srv.config.hz.clamp(1, 500);
        srv.timers.add(srv.clock.now_ms + 1000 / hz, Timer::Cron);
        Ok(srv)
    }

    fn open_listeners(&mut self) -> Result<(), String> {
        if self.config.port != 0 {
            let port = self.config.port as u16;
            let ls = net::listen_tcp(&self.config.bind, port, self.config.tcp_backlog as i32).map_err(|e| {
                // COMPAT: the test harness retries on another port when it sees this.
                log::warn!("{e}");
                format!("Failed listening on port {port} (tcp), aborting.")
            })?;
            self.listeners.extend(ls);
        }
        if !self.config.unixsocket.is_empty() {
            let l = net::listen_unix(&self.config.unixsocket, self.config.unixsocketperm)?;
            self.listeners.push(l);
        }
        if self.listeners.is_empty() {
            return Err("Configured to not listen anywhere, exiting.".into());
        }
        for (i, l) in self.listeners.iter_mut().enumerate() {
            self.reactor
                .register(l, TokenKind::Listener.token(i), Interest::READABLE)
                .map_err(|e| format!("Unrecoverable error creating server listener: {e}"))?;
        }
        Ok(())
    }

    /// Runs the event loop until shutdown; returns the process exit code.
    pub fn run(&mut self) -> i32 {
        loop {
            let now = crate::util::clock::unix_ms();
            let next = self.timers.next_deadline().unwrap_or(now + 100);
            // Unfinished eviction or lazy-free work: look at sockets, don't sleep.
            let busy = crate::evict::has_pending_work(self) || crate::repl::has_pending_work(self);
            let wait = if busy { 0 } else { (next - now).clamp(0, 1000) as u64 };
            self.handle_io_events(Duration::from_millis(wait));
            while let Some(t) = self.timers.pop_due(self.clock.now_ms) {
                match t {
                    Timer::Cron => {
                        self.cron();
                        let hz = crate::sentinel::cron_hz(self).clamp(1, 500);
                        self.timers.add(self.clock.now_ms + 1000 / hz, Timer::Cron);
                    }
                    Timer::BlockTimeout(key, id) => self.block_timeout(key, id),
                }
            }
            self.before_sleep();
            if let Some(code) = self.exit_code {
                return code;
            }
        }
    }

    /// Waits up to `wait` for socket readiness and serves it: accepts,
    /// reads (running the commands) and writes.
    fn handle_io_events(&mut self, wait: Duration) {
        let max_spin =
            if self.replied { Duration::from_micros(self.config.busy_poll_us.max(0) as u64) } else { Duration::ZERO };
        if let Err(e) = self.reactor.wait(wait, max_spin) {
            log::warn!("poll failed: {e}");
        }
        self.clock.refresh();
        self.ks.now_ms = self.clock.now_ms;
        // Copy the readiness out (reusing one vector) so handlers can
        // take `&mut self` while we walk it.
        let mut events = std::mem::take(&mut self.ready_events);
        events.clear();
        events.extend(self.reactor.events.iter().map(|e| {
            (
                e.token(),
                e.is_readable() || e.is_read_closed() || e.is_error(),
                e.is_writable(),
                e.is_read_closed() || e.is_error(),
            )
        }));
        for &(token, readable, writable, hup) in &events {
            match TokenKind::decode(token) {
                Some((TokenKind::Listener, i)) => self.accept(i),
                Some((TokenKind::Client, key)) => {
                    if readable {
                        self.read_from(key, hup);
                    }
                    if writable {
                        self.write_to(key);
                    }
                }
                Some((TokenKind::Link, crate::cluster::migration::LINK_INDEX)) => {
                    crate::cluster::migration::on_event(self, readable, writable)
                }
                Some((TokenKind::Link, _)) => crate::repl::replica::on_event(self, readable, writable),
                Some((TokenKind::ReplPipe, _)) => crate::repl::sync::pipe_readable(self),
                Some((TokenKind::BusListener, i)) => crate::cluster::bus::accept(self, i),
                Some((TokenKind::BusLink, key)) => crate::cluster::bus::on_event(self, key, readable, writable),
                Some((TokenKind::SentinelLink, key)) => crate::sentinel::link::on_event(self, key, readable, writable),
                None => {}
            }
        }
        self.ready_events = events;
    }

    /// Serves clients in the middle of a long operation (loading a file),
    /// as Redis's processEventsWhileBlocked: sockets only, no timers, then
    /// the replies are written. A shutdown signal received meanwhile exits
    /// without saving (the dataset is incomplete).
    pub fn process_events_while_blocked(&mut self) {
        if matches!(signal::take(), libc::SIGINT | libc::SIGTERM) {
            // COMPAT: Redis's message for a signal during loading.
            log::warn!("Received shutdown signal during loading, scheduling shutdown.");
            if crate::shutdown::prepare(self, ShutdownFlags::NOSAVE) == crate::shutdown::Outcome::Exit {
                std::process::exit(0);
            }
        }
        self.handle_io_events(Duration::ZERO);
        self.before_sleep();
    }

    /// Serves clients from inside a script past busy-reply-threshold, as
    /// Redis's processEventsWhileBlocked: sockets, then the replies and
    /// closes only (no timers, no blocked clients, nothing that changes
    /// the dataset under the script).
    pub fn serve_clients_while_busy(&mut self) {
        self.handle_io_events(Duration::ZERO);
        // Readiness reported in the batch the script is running from is
        // not reported again (edge-triggered): try every client's socket.
        let keys: Vec<usize> = self.clients.iter().filter(|(_, c)| c.is_some()).map(|(k, _)| k).collect();
        for key in keys {
            self.read_from(key, false);
        }
        let pending = std::mem::take(&mut self.pending_writes);
        for key in pending {
            let Some(mut c) = self.take_client(key) else { continue };
            c.queued_write = false;
            self.flush_or_close(&mut c);
            self.put_client(c);
        }
        let closing = std::mem::take(&mut self.to_close);
        for key in closing {
            self.free_client(key);
        }
    }

    // ---------------------------------------------------------------- accept

    fn accept(&mut self, li: usize) {
        loop {
            let stream = match self.listeners[li].accept() {
                Ok(Some(s)) => s,
                Ok(None) => return,
                Err(e) => {
                    if e.kind() != io::ErrorKind::Interrupted {
                        log::debug!("Accepting client connection: {e}");
                        return;
                    }
                    continue;
                }
            };
            let unix_path = self.listeners[li].unix_path().unwrap_or("").to_string();
            self.stats.total_connections_received += 1;
            self.add_client(stream, &unix_path);
        }
    }

    fn add_client(&mut self, mut stream: net::Stream, unix_path: &str) {
        if self.clients.len() as i64 >= self.config.maxclients {
            // COMPAT: Redis writes this line straight to the socket and closes.
            let _ = stream.write(b"-ERR max number of clients reached\r\n");
            self.stats.rejected_connections += 1;
            return;
        }
        if self.config.protected_mode && self.acl.default_nopass() && !stream.is_local() && self.bind_is_default() {
            let _ = stream.write(PROTECTED_MODE_ERR.as_bytes());
            self.stats.rejected_connections += 1;
            return;
        }
        stream.tune(self.config.tcp_keepalive);
        let entry = self.clients.vacant_entry();
        let key = entry.key();
        let mut c = Box::new(Client::new(self.next_client_id, key, stream, self.clock.now_ms, unix_path));
        self.next_client_id += 1;
        c.authenticated = !self.acl.auth_required();
        if let Err(e) = self.reactor.register(&mut c.stream, TokenKind::Client.token(key), Interest::READABLE) {
            log::warn!("Error registering fd event for the new client: {e}");
            return;
        }
        log::trace!("Accepted {}", c.addr);
        entry.insert(Some(c));
    }

    /// Reopens the TCP listeners after CONFIG SET port/bind. The old ones are
    /// closed first (the new set may reuse their addresses); on failure the
    /// server is left without TCP listeners and the caller restores the old
    /// configuration and calls this again, as Redis does.
    pub fn rebind_tcp(&mut self) -> Result<(), String> {
        let mut kept = Vec::new();
        for mut l in std::mem::take(&mut self.listeners) {
            let _ = self.reactor.deregister(&mut l);
            if l.unix_path().is_some() {
                kept.push(l);
            }
        }
        let port = self.config.port as u16;
        let fresh = if port == 0 {
            Ok(Vec::new())
        } else {
            net::listen_tcp(&self.config.bind, port, self.config.tcp_backlog as i32)
        };
        let result = fresh.map(|ls| self.listeners = ls).inspect_err(|e| log::warn!("{e}"));
        self.listeners.append(&mut kept);
        for (i, l) in self.listeners.iter_mut().enumerate() {
            self.reactor.register(l, TokenKind::Listener.token(i), Interest::READABLE).map_err(|e| e.to_string())?;
        }
        if result.is_ok() {
            self.tcp_port = port;
        }
        result
    }

    fn bind_is_default(&self) -> bool {
        let b = &self.config.bind;
        b.is_empty() || b.iter().all(|a| matches!(a.as_str(), "*" | "-*" | "::*" | "-::*"))
    }

    // ------------------------------------------------------------ read path

    /// Takes client `key` out of its slot to work on it next to `&mut self`;
    /// give it back with `return_client_slot`.
    pub fn take_client_slot(&mut self, key: usize) -> Option<Box<Client>> {
        self.take_client(key)
    }

    /// Puts a client taken with `take_client_slot` back.
    pub fn return_client_slot(&mut self, c: Box<Client>) {
        self.put_client(c)
    }

    /// Queues the client's pending output (and a pending close) for
    /// before-sleep.
    pub fn queue_client_write(&mut self, c: &mut Client) {
        self.queue_write(c)
    }

    fn take_client(&mut self, key: usize) -> Option<Box<Client>> {
        self.clients.get_mut(key).and_then(|slot| slot.take())
    }

    fn put_client(&mut self, c: Box<Client>) {
        let key = c.key;
        if let Some(slot) = self.clients.get_mut(key) {
            *slot = Some(c);
        }
    }

    /// Reads everything the socket has (edge-triggered readiness requires
    /// draining it), then runs every complete command. A read shorter than
    /// the buffer means the socket is drained, unless the peer also hung up
    /// (`hup`), in which case we read on until the end-of-stream.
    fn read_from(&mut self, key: usize, hup: bool) {
        let Some(mut c) = self.take_client(key) else { return };
        if c.flags.close_asap {
            self.put_client(c);
            return;
        }
        let mut closed = false;
        loop {
            // Read into the shared scratch buffer and append: one copy of the
            // bytes that arrived, instead of zero-filling spare capacity of
            // every client's query buffer before each read. While a big
            // argument arrives, reads stop at its end, so its buffer (sized
            // by the parser) never has to grow.
            crate::client::mem::before_read(&mut c);
            let limit = crate::client::mem::read_len(&c, self.read_buf.len());
            let r = c.stream.read(&mut self.read_buf[..limit]);
            match r {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => {
                    self.stats.total_reads_processed += 1;
                    c.query.extend_from_slice(&self.read_buf[..n]);
                    self.stats.net_input_bytes += n as u64;
                    let drained = n < limit && !hup;
                    if c.query.len() as i64 > self.config.client_query_buffer_limit && !c.flags.master {
                        log::warn!(
                            "Closing client that reached max query buffer length: {} (qbuf initial bytes: {})",
                            crate::client::mem::info_line(&c, self.clock.now_ms),
                            crate::config::repr(&c.query[..c.query.len().min(64)])
                        );
                        closed = true;
                        break;
                    }
                    crate::client::mem::after_read(&mut c);
                    c.last_interaction_ms = self.clock.now_ms;
                    // What arrived runs before we read on, as in Redis: the
                    // parser learns a big argument's length from its header.
                    self.process_input(&mut c);
                    if drained || c.flags.close_asap {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("Reading from client: {e}");
                    closed = true;
                    break;
                }
            }
        }
        if closed {
            c.flags.close_asap = true;
            self.to_close.push(key);
            // Its memory no longer counts against maxmemory-clients.
            self.client_mem.update(&mut c);
        }
        self.queue_write(&mut c);
        self.put_client(c);
    }

    /// Parses and runs every complete command in the client's query buffer.
    pub fn process_input(&mut self, c: &mut Client) {
        while !c.flags.close_after_reply && !c.flags.close_asap && c.blocked.is_none() {
            // A command parsed before a pause began is still waiting in argv.
            if !c.command_ready {
                let limits = Limits {
                    max_bulk_len: self.config.proto_max_bulk_len,
                    authenticated: c.authenticated,
                    from_primary: c.flags.master,
                };
                let before = c.query.len();
                let fresh = !c.parser.in_progress();
                let parsed = c.parser.parse(&mut c.query, &mut c.argv, limits);
                crate::client::mem::parsed(c, before - c.query.len());
                // The request's size, over every read it took (slot stats).
                c.req_bytes = (if fresh { 0 } else { c.req_bytes }) + (before - c.query.len());
                if c.flags.master {
                    self.repl.replica.unapplied += before - c.query.len();
                } else if c.flags.slot_import {
                    crate::cluster::migration::applied(self, before - c.query.len());
                }
                match parsed {
                    Ok(Parsed::Command) => crate::client::mem::command_complete(c),
                    Ok(Parsed::Incomplete) => {
                        crate::client::mem::detach_partial_args(c);
                        break;
                    }
                    Err(e) => {
                        log::debug!("Protocol error ({}) from client: id={} addr={}", e.0, c.id, c.addr);
                        // COMPAT: "-ERR Protocol error: <text>", then close.
                        c.reply.error(&format!("ERR Protocol error: {}", e.0));
                        self.stats.total_error_replies += 1;
                        *self.stats.errors.entry("ERR".into()).or_default() += 1;
                        c.flags.close_after_reply = true;
                        c.argv.clear();
                        c.query.clear();
                        break;
                    }
                }
                if c.argv.is_empty() {
                    continue;
                }
                c.command_ready = true;
            }
            if self.must_wait_for_pause(c) {
                if !self.paused_clients.contains(&c.key) {
                    self.paused_clients.push(c.key);
                }
                break;
            }
            if c.flags.master {
                crate::repl::replica::execute_from_master(self, c);
            } else {
                self.execute(c);
            }
            if c.blocked.is_some() {
                // argv stays: the command runs again when a key is ready.
                break;
            }
            c.argv.clear();
            if c.argv.capacity() > 1024 {
                // A huge multibulk leaves a huge argument array behind: give
                // the memory back (Redis frees argv after every command).
                c.argv = Vec::new();
            }
            c.command_ready = false;
        }
        crate::client::mem::after_batch(self, c);
    }

    fn must_wait_for_pause(&self, c: &Client) -> bool {
        // Replicas are never paused (their ACKs must get through).
        if c.flags.replica {
            return false;
        }
        if crate::cluster::migration::holds(self, c) {
            return true;
        }
        let writes_held = crate::shutdown::pauses_writes(self)
            || crate::repl::failover::pauses_writes(self)
            || crate::cluster::failover::pauses_writes(self);
        let pause = if writes_held && self.pause == Pause::None { Pause::Write(0) } else { self.pause };
        match pause {
            Pause::None => false,
            Pause::All(_) => true,
            Pause::Write(_) => match self.commands.resolve(&c.argv) {
                Ok(i) => {
                    let writes = |f: CmdFlags| f.has(CmdFlags::WRITE) || f.has(CmdFlags::MAY_REPLICATE);
                    // A script's declared flags count, not EVAL's own.
                    let f = crate::script::effective_flags(self, &c.argv, i).unwrap_or(self.commands.cmds[i].flags);
                    // EXEC waits when its transaction holds a write.
                    writes(f) || (self.commands.cmds[i].name == "exec" && writes(c.multi_flags))
                }
                Err(_) => false,
            },
        }
    }

    // --------------------------------------------------------------- call()

    /// Runs the command in `c.argv`: lookup, arity, auth, MULTI queueing, then
    /// `call`; CLIENT REPLY muting is applied to whatever was replied.
    pub fn execute(&mut self, c: &mut Client) {
        if c.reply_mode == ReplyMode::SkipNext {
            c.reply_mode = ReplyMode::Skip;
        }
        c.reply.muted = c.replies_muted();
        // A replica's link carries the stream one way only: whatever it asks
        // must not be answered, and a command that would answer ends it.
        let replica_link = c.flags.replica && !c.flags.master;
        if replica_link {
            c.reply.muted = true;
        }
        let writes_before = c.reply.muted_writes;
        if crate::client::mem::before_command(self, c) {
            return;
        }
        // Bound the tracking table before the command runs (Redis does it in
        // processCommand): early invalidations precede this reply.
        crate::tracking::enforce_limit(self, Some(c));
        let mut ran_asking = false;
        match self.check_command(c) {
            Err(e) => {
                if c.flags.multi {
                    // A rejected command poisons the transaction (EXECABORT).
                    c.multi_error = true;
                }
                self.reply_error(c, &e);
            }
            Ok(idx) => {
                c.last_cmd = self.commands.cmds[idx].fullname;
                ran_asking = self.commands.cmds[idx].name == "asking";
                let slot_charge = crate::cluster::slot_stats::before_command(self, c, idx);
                if c.flags.multi && !crate::cmd::multi::runs_inside_multi(self.commands.cmds[idx].name) {
                    let f = crate::script::effective_flags(self, &c.argv, idx).unwrap_or(self.commands.cmds[idx].flags);
                    c.multi_flags.0 |= f.0;
                    c.multi_flags_missing.0 |= !f.0;
                    c.multi_queue.push((idx, c.argv.clone()));
                    c.reply.simple("QUEUED");
                } else {
                    self.call(c, idx);
                    c.woff = self.repl.offset;
                }
                if let Some(p) = slot_charge {
                    crate::cluster::slot_stats::after_command(self, c, idx, p);
                }
            }
        }
        if c.flags.asking && !c.flags.multi && !ran_asking {
            // ASKING covers the next command only (or a whole transaction).
            c.flags.asking = false;
        }
        c.commands_processed += 1;
        self.stats.total_commands_processed += 1;
        if c.reply_mode == ReplyMode::Skip {
            c.reply_mode = ReplyMode::On;
        }
        c.reply.muted = false;
        if replica_link && c.reply.muted_writes != writes_before {
            // COMPAT: logInvalidUseAndFreeClientAsync's line.
            log::warn!(
                "Replica generated a reply to command '{}', disconnecting it: {}",
                self.command_name_of(c),
                crate::client::mem::info_line(c, self.clock.now_ms)
            );
            c.flags.close_asap = true;
            self.to_close.push(c.key);
        }
        crate::client::mem::after_command(self, c);
        // Held-back invalidations follow the whole reply.
        crate::tracking::after_execute(self, c);
    }

    /// Redis's processCommand checks: the command exists with a valid arity,
    /// the client may run it. Rejections count as `rejected_calls`.
    fn check_command(&mut self, c: &mut Client) -> Result<usize, ReplyError> {
        let idx = match self.commands.resolve(&c.argv) {
            Ok(i) => i,
            Err(e) => {
                if let Some(i) = self.commands.resolve_name_only(&c.argv) {
                    self.commands.cmds[i].stats.rejected_calls += 1;
                }
                return Err(e);
            }
        };
        // A script's declared flags stand in for EVAL's/FCALL's own while
        // the checks run (restored below).
        let saved = crate::script::effective_flags(self, &c.argv, idx)
            .map(|f| std::mem::replace(&mut self.commands.cmds[idx].flags, f));
        let flags = self.commands.cmds[idx].flags;
        let reject = if self.persist.loading && !flags.has(CmdFlags::LOADING) {
            // COMPAT: shared.loadingerr.
            Some(ReplyError::other("LOADING Redis is loading the dataset in memory"))
        } else if let Some(e) = crate::script::busy_error(self).filter(|_| !flags.has(CmdFlags::ALLOW_BUSY)) {
            // A script past busy-reply-threshold: only what may interrupt it.
            Some(crate::script::busy_reject(self, c, idx, e))
        } else if !c.authenticated && !flags.has(CmdFlags::NO_AUTH) && self.acl.auth_required() {
            Some(ReplyError::NoAuth)
        } else if c.flags.multi && flags.has(CmdFlags::NO_MULTI) {
            Some(ReplyError::err("Command not allowed inside a transaction"))
        } else if let Err(e) = crate::acl::check_command(self, c, idx) {
            Some(e)
        } else if let Some(e) = if self.cluster.is_some() { crate::cluster::route::check(self, c, idx) } else { None } {
            // Redis's cluster redirection step (MOVED, ASK, CROSSSLOT...).
            Some(e)
        } else if let Some(e) =
            if self.config.maxmemory != 0 { crate::evict::before_command(self, c, idx) } else { None }
        {
            // Redis's maxmemory step: evict, then refuse what may grow memory.
            Some(e)
        } else if let Some(e) = crate::persist::deny_writes_error(self)
            .filter(|_| flags.has(CmdFlags::WRITE) || self.commands.cmds[idx].name == "ping")
        {
            // A failed save with stop-writes-on-bgsave-error (or a failed AOF
            // write): MISCONF for writes and PING. The disk state is checked
            // first, so the common case costs no name comparison.
            Some(e)
        } else if let Some(e) = crate::repl::acks::deny_without_good_replicas(self, c, idx) {
            Some(e)
        } else if let Some(e) = crate::repl::replica::deny_command(self, c, idx) {
            Some(e)
        } else if c.reply.resp == 2 && c.subs.count() > 0 && !allowed_while_subscribed(self.commands.cmds[idx].name) {
            // COMPAT: Redis's subscriber-context error.
            Some(ReplyError::err(format!(
                "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                self.commands.cmds[idx].fullname
            )))
        } else if c.flags.replica
            && !c.flags.master
            && (flags.has(CmdFlags::WRITE) || flags.has(CmdFlags::READONLY) || flags.has(CmdFlags::MAY_REPLICATE))
        {
            // COMPAT: processCommand's last refusal; replicas are exempt from
            // client pauses, so they must not reach the keyspace at all.
            Some(ReplyError::err("Replica can't interact with the keyspace"))
        } else {
            None
        };
        if let Some(f) = saved {
            self.commands.cmds[idx].flags = f;
        }
        match reject {
            Some(e) => {
                self.commands.cmds[idx].stats.rejected_calls += 1;
                Err(e)
            }
            None => Ok(idx),
        }
    }

    /// Runs command `idx` with `c.argv` and does everything around it:
    /// timing, statistics, error rendering, then draining the keyspace's
    /// queues (WATCH, later propagation and notifications).
    pub fn call(&mut self, c: &mut Client, idx: usize) {
        let Some(handler) = self.commands.cmds[idx].handler else { return };
        // Every command sees one fresh "now" for expiry decisions; the same
        // reading starts its duration (wall clock, as Redis's ustime()).
        self.clock.refresh();
        // A script's commands all see the time the script started (Redis's
        // script time snapshot): a key cannot expire half-way through it.
        if c.id != crate::script::SCRIPT_CLIENT_ID {
            self.ks.now_ms = self.clock.now_ms;
        }
        // Modified keys matter only to WATCHers, blocked clients and tracking.
        self.ks.track_modified =
            !self.watched_keys.is_empty() || !self.blocking_keys.is_empty() || self.tracking.active();
        // A blocked command runs again once served: that run adds its time,
        // not another call.
        let rerun = c.reblock_deadline.is_some();
        let t0 = self.clock.now_us;
        // SCAN and RANDOMKEY (Redis's "touches arbitrary keys" commands)
        // may expire many keys; their deletions are never wrapped.
        let arbitrary = matches!(self.commands.cmds[idx].name, "scan" | "randomkey");
        let mark = self.begin_call(arbitrary);
        let r = handler(self, c);
        let is_exec = self.commands.cmds[idx].name == "exec";
        self.end_call(&c.argv, c.db, is_exec, mark);
        let us = (crate::util::clock::unix_us() - t0).max(0) as u64;
        let st = &mut self.commands.cmds[idx].stats;
        st.calls += u64::from(!rerun);
        st.usec += us;
        crate::latency::after_call(self, c, idx, us);
        if let Err(e) = r {
            self.commands.cmds[idx].stats.failed_calls += 1;
            self.reply_error(c, &e);
        }
        // A served blocked command was shown when it first ran.
        if !self.monitors.is_empty() && c.reblock_deadline.is_none() {
            crate::cmd::client::feed_monitors(self, c, idx);
        }
        self.after_command(Some(c));
        // After the invalidations this command caused, so a key it both
        // changed and read stays remembered.
        crate::tracking::remember_keys(self, c, idx);
    }

    /// Renders an error reply and counts it (INFO errorstats).
    pub fn reply_error(&mut self, c: &mut Client, e: &ReplyError) {
        let text = e.to_string();
        // COMPAT: the code is the first word if a space comes within 31
        // bytes, otherwise "ERR".
        let code = text.as_bytes()[..text.len().min(31)].iter().position(|&b| b == b' ').map_or("ERR", |n| &text[..n]);
        *self.stats.errors.entry(code.to_string()).or_default() += 1;
        self.stats.total_error_replies += 1;
        c.reply.error(&text);
        if c.flags.master || c.flags.replica {
            // An error on a replication link means the two sides disagree.
            let (from, to) = if c.flags.master { ("replica", "master") } else { ("master", "replica") };
            let shown = text.strip_prefix("ERR ").unwrap_or(&text);
            // COMPAT: afterErrorReply's warning.
            log::warn!(
                "== CRITICAL == This {from} is sending an error to its {to}: '{shown}' after processing the command '{}'",
                self.command_name_of(c)
            );
            self.stats.unexpected_error_replies += 1;
        }
        if c.flags.slot_import {
            // A slot migration's stream that does not apply here would leave
            // the import incomplete: this attempt ends (its keys go, another
            // attempt follows).
            log::warn!("Slot import: '{}' from the source failed here: {text}", self.command_name_of(c));
            c.flags.close_after_reply = true;
        }
    }

    /// The full name (`slowlog|get`) of the command in `c.argv`, as Redis's
    /// `lastcmd` names it in its logs, or `<unknown>`.
    fn command_name_of(&self, c: &Client) -> &'static str {
        match self.commands.resolve(&c.argv) {
            Ok(i) => self.commands.cmds[i].fullname,
            Err(_) => "<unknown>",
        }
    }

    /// Drains what the keyspace queued during a command: modified keys mark
    /// their watchers dirty. Propagation and notifications plug in here as
    /// those features land. `current` is the client running the command (it
    /// is out of the slab meanwhile).
    pub(crate) fn after_command(&mut self, mut current: Option<&mut Client>) {
        if !self.blocking_keys.is_empty() {
            let modified = std::mem::take(&mut self.ks.modified);
            for (db, key) in &modified {
                self.signal_key_ready(*db, key);
            }
            self.ks.modified = modified;
        }
        if !self.watched_keys.is_empty() {
            let modified = std::mem::take(&mut self.ks.modified);
            for (db, key) in &modified {
                let Some(watchers) = self.watched_keys.get(&(*db, key.clone())).cloned() else { continue };
                let gone = !self.ks.dbs[*db].dict.contains_key(key);
                for k in watchers {
                    let mark = |w: &mut Client| {
                        // A key that was already expired when watched and is now
                        // deleted has not logically changed.
                        if let Some(entry) = w.watched.iter_mut().find(|(d, wk, _)| d == db && wk == key) {
                            if entry.2 {
                                if gone {
                                    entry.2 = false;
                                    return;
                                }
                            }
                        }
                        w.cas_dirty = true;
                    };
                    match current.as_deref_mut() {
                        Some(c) if c.key == k => mark(c),
                        _ => {
                            if let Some(Some(w)) = self.clients.get_mut(k) {
                                mark(w);
                            }
                        }
                    }
                }
            }
        }
        crate::tracking::after_command(self, current.as_deref_mut());
        self.ks.modified.clear();
        // Deletions made outside any command (active expiry) leave now;
        // inside one, `end_call` has already queued them.
        self.propagate_background_deletions();
        if !self.ks.events.is_empty() {
            let events = std::mem::take(&mut self.ks.events);
            for ev in &events {
                self.publish_key_event(current.as_deref_mut(), ev);
            }
        }
    }

    /// Publishes one keyspace event on `__keyspace@<db>__:<key>` and/or
    /// `__keyevent@<db>__:<event>`, as `notify-keyspace-events` asks.
    fn publish_key_event(&mut self, mut current: Option<&mut Client>, ev: &crate::db::KeyEvent) {
        use crate::db::notify;
        let flags = self.ks.notify_flags;
        if flags & notify::KEYSPACE != 0 {
            let mut ch = format!("__keyspace@{}__:", ev.db).into_bytes();
            ch.extend_from_slice(&ev.key);
            crate::cmd::pubsub::publish_message(self, current.as_deref_mut(), &ch, ev.event.as_bytes());
        }
        if flags & notify::KEYEVENT != 0 {
            let ch = format!("__keyevent@{}__:{}", ev.db, ev.event).into_bytes();
            crate::cmd::pubsub::publish_message(self, current, &ch, &ev.key);
        }
    }

    /// Runs `f` on client `key`'s state, whether it is the client running the
    /// current command (`current`) or one resting in the slab, and queues the
    /// output for writing.
    pub fn with_client(&mut self, key: usize, current: Option<&mut Client>, f: impl FnOnce(&mut Client)) {
        match current {
            Some(c) if c.key == key => f(c),
            _ => {
                if let Some(Some(c)) = self.clients.get_mut(key) {
                    f(c);
                    // Queued even while the socket pushes back: before-sleep
                    // applies the output limits to it.
                    if !c.queued_write {
                        c.queued_write = true;
                        self.pending_writes.push(key);
                    }
                }
            }
        }
    }

    /// WATCHes `key` in `db` for `c`.
    pub fn watch_key(&mut self, c: &mut Client, db: usize, key: &[u8]) {
        if c.watched.iter().any(|(d, k, _)| *d == db && &k[..] == key) {
            return;
        }
        let k = crate::types::sds::Sds::from(key);
        let expired = self.ks.expire_at(db, key).is_some_and(|at| at <= self.ks.now_ms);
        self.watched_keys.entry((db, k.clone())).or_default().push(c.key);
        c.watched.push((db, k, expired));
    }

    /// Forgets every key `c` watches.
    pub fn unwatch_all(&mut self, c: &mut Client) {
        for (db, k, _) in c.watched.drain(..) {
            let id = (db, k);
            if let Some(v) = self.watched_keys.get_mut(&id) {
                v.retain(|&x| x != c.key);
                if v.is_empty() {
                    self.watched_keys.remove(&id);
                }
            }
        }
    }

    /// Before `db` is emptied (FLUSHDB/FLUSHALL) or replaced by `with`
    /// (SWAPDB): watchers of keys that exist in either become dirty, except
    /// where only already-expired keys are involved (Redis's stale-key rules).
    pub fn touch_watched_in_db(&mut self, current: &mut Client, db: usize, with: Option<usize>) {
        let now = self.ks.now_ms;
        let expired_in =
            |ks: &crate::db::Keyspace, d: usize, k: &[u8]| ks.dbs[d].expires.get(k).is_some_and(|&at| at <= now);
        // (watcher, key) pairs for keys present in either db.
        let mut touched: Vec<(usize, crate::types::sds::Sds)> = Vec::new();
        for ((d, key), watchers) in &self.watched_keys {
            let present =
                self.ks.dbs[db].dict.contains_key(key) || with.is_some_and(|w| self.ks.dbs[w].dict.contains_key(key));
            if *d == db && present {
                touched.extend(watchers.iter().map(|&w| (w, key.clone())));
            }
        }
        for (k, key) in touched {
            let here = self.ks.dbs[db].dict.contains_key(&key);
            let there = with.is_some_and(|w| self.ks.dbs[w].dict.contains_key(&key));
            let there_expired = with.is_some_and(|w| there && expired_in(&self.ks, w, &key));
            let judge = |w: &mut Client| {
                let Some(entry) = w.watched.iter_mut().find(|(d, wk, _)| *d == db && *wk == key) else { return };
                if entry.2 {
                    // Watched while already expired.
                    if !there {
                        entry.2 = false; // deleted: no logical change
                        return;
                    }
                    if there_expired {
                        return; // still expired: no logical change
                    }
                } else if !here && there_expired {
                    // A missing key replaced by an expired one.
                    entry.2 = true;
                    return;
                }
                w.cas_dirty = true;
            };
            if k == current.key {
                judge(current);
            } else if let Some(Some(w)) = self.clients.get_mut(k) {
                judge(w);
            }
        }
    }

    // ----------------------------------------------------------- write path

    fn queue_write(&mut self, c: &mut Client) {
        if !c.reply.is_empty() && !c.queued_write && !c.want_write {
            c.queued_write = true;
            self.pending_writes.push(c.key);
        }
        if c.reply.is_empty() && c.flags.close_after_reply && !c.flags.close_asap {
            c.flags.close_asap = true;
            self.to_close.push(c.key);
        }
    }

    /// Writes as much of the client's reply as the socket takes. Returns false
    /// if the client must be closed.
    fn flush_client(&mut self, c: &mut Client) -> bool {
        self.stats.total_writes_processed += 1;
        loop {
            // A replica receiving a snapshot file gets its next chunk.
            if c.reply.is_empty() && !(c.flags.replica && crate::repl::sync::refill(self, c)) {
                break;
            }
            match c.stream.write(c.reply.pending()) {
                Ok(0) => return false,
                Ok(n) => {
                    self.stats.net_output_bytes += n as u64;
                    c.reply.consume(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("Error writing to client: {e}");
                    return false;
                }
            }
        }
        let want = !c.reply.is_empty();
        if want != c.want_write {
            let interest = if want { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
            if self.reactor.reregister(&mut c.stream, TokenKind::Client.token(c.key), interest).is_err() {
                return false;
            }
            c.want_write = want;
        }
        true
    }

    /// Flushes `c`, and schedules its close when the write failed or when a
    /// close-after-reply client has sent everything.
    fn flush_or_close(&mut self, c: &mut Client) {
        let ok = self.flush_client(c);
        if !c.flags.close_asap && (!ok || (c.reply.is_empty() && c.flags.close_after_reply)) {
            c.flags.close_asap = true;
            self.to_close.push(c.key);
        }
    }

    fn write_to(&mut self, key: usize) {
        // Replies of commands read in this iteration may be in the buffer.
        crate::persist::aof::writer::before_reply(self);
        let Some(mut c) = self.take_client(key) else { return };
        if !c.flags.close_asap {
            self.flush_or_close(&mut c);
            crate::client::mem::after_write(self, &mut c);
        }
        self.put_client(c);
    }

    // --------------------------------------------------------- before sleep

    /// The checklist run once per loop iteration before polling again.
    fn before_sleep(&mut self) {
        // 0. Write (and under `appendfsync always`, fsync) the AOF before any
        //    reply of this iteration can leave.
        crate::persist::aof::writer::before_sleep(self);
        // 1. Serve clients blocked on keys that commands of this iteration
        //    made ready, so their replies leave in the same flush.
        self.serve_ready_keys();
        //    Then BCAST invalidations for keys changed so far, including by
        //    the commands just served.
        crate::tracking::broadcast(self);
        // 2. Fast active expiry would go here; the cron's slow cycle covers it.
        //    An eviction cycle cut short by its time limit continues here, so
        //    its `evicted` events leave with this iteration's replies.
        crate::evict::before_sleep(self);
        //    WAIT: ask the replicas for ACKs, release the satisfied waits.
        crate::repl::acks::before_sleep(self);
        //    The next chunk of a diskless snapshot for the replicas (or from
        //    the master).
        crate::repl::before_sleep(self);
        //    Cluster: state, failover, nodes.conf.
        if self.cluster.is_some() {
            crate::cluster::before_sleep(self);
        }
        // 3. Flush replies: one write per client per iteration, whatever the
        //    number of pipelined commands that produced them.
        let pending = std::mem::take(&mut self.pending_writes);
        self.replied = !pending.is_empty();
        for key in pending {
            let Some(mut c) = self.take_client(key) else { continue };
            c.queued_write = false;
            crate::client::mem::enforce_output_limit(self, &mut c, true);
            if !c.flags.close_asap {
                self.flush_or_close(&mut c);
                crate::client::mem::after_write(self, &mut c);
            }
            self.put_client(c);
        }
        //    Cluster bus output after the replies, as Redis's link write
        //    handlers run only in the next loop iteration.
        crate::cluster::flush_bus(self);
        // 4. Lazy free, after the replies have gone: about a millisecond of
        //    it per iteration (the loop does not sleep while some is left).
        self.ks.lazyfree.drain(Duration::from_millis(1));
        // 5. Free closed clients last, so no event of this batch can still
        //    refer to a reused slab key.
        let closing = std::mem::take(&mut self.to_close);
        for key in closing {
            self.free_client(key);
        }
        // 5. Client eviction, once the clients closed above gave their
        //    memory back.
        crate::client::mem::evict_clients(self, None);
    }

    /// Closes a client now and frees its slot.
    pub fn free_client(&mut self, key: usize) {
        if !self.clients.contains(key) {
            return;
        }
        if let Some(Some(mut c)) = self.clients.try_remove(key) {
            let _ = self.reactor.deregister(&mut c.stream);
            self.unwatch_all(&mut c);
            self.unblock_client(&mut c);
            crate::cmd::pubsub::forget_client(self, &mut c);
            // Also drops what a never-attached client announced (REPLCONF).
            self.repl_forget(key);
            if c.flags.master {
                crate::repl::replica::master_client_freed(self, key, c.db);
            }
            if c.flags.slot_import || c.flags.slot_migrate {
                crate::cluster::migration::client_freed(self, key, c.flags.slot_import);
            }
            self.client_mem.forget(&mut c);
            crate::cmd::client::forget_monitor(self, &c);
            crate::tracking::forget_client(self, &mut c);
            self.paused_clients.retain(|&k| k != key);
            log::trace!("Client closed connection id={} addr={}", c.id, c.addr);
        }
    }

    /// Marks another client (by slab key) to be closed in before-sleep.
    pub fn kill_client(&mut self, key: usize) {
        if let Some(Some(c)) = self.clients.get_mut(key) {
            if !c.flags.close_asap {
                c.flags.close_asap = true;
                self.to_close.push(key);
                self.client_mem.update(c);
            }
        }
    }

    // ------------------------------------------------------------------ cron

    /// Runs `hz` times a second: signals, active expiry, client timeouts,
    /// pause expiry, metrics.
    fn cron(&mut self) {
        if self.cron_paused {
            return;
        }
        self.cron_loops += 1;
        self.ks.now_ms = self.clock.now_ms;
        match signal::take() {
            libc::SIGINT => {
                log::warn!("Received SIGINT scheduling shutdown...");
                self.shutdown_asap = true;
                self.shutdown_by_sigint = true;
            }
            libc::SIGTERM => {
                log::warn!("Received SIGTERM scheduling shutdown...");
                self.shutdown_asap = true;
                self.shutdown_by_sigint = false;
            }
            _ => {}
        }
        crate::shutdown::cron(self);
        if self.exit_code.is_some() {
            return;
        }
        let hz = self.config.hz.clamp(1, 500) as u64;
        if self.active_expire_enabled {
            // Slow cycle: at most 25% of one cron period (Redis's default effort).
            let effort = self.config.active_expire_effort.clamp(1, 10) as u64;
            let budget_us = 1_000_000 / hz * (25 + 2 * (effort - 1)) / 100;
            self.ks.track_modified =
                !self.watched_keys.is_empty() || !self.blocking_keys.is_empty() || self.tracking.active();
            let t0 = Instant::now();
            self.ks.active_expire_cycle(budget_us, effort);
            crate::latency::expire_cycle_done(self, t0.elapsed());
            self.after_command(None);
        }
        self.clients_cron();
        crate::persist::cron(self);
        crate::repl::replica::cron(self);
        crate::repl::cron(self);
        crate::cluster::cron(self);
        crate::sentinel::timer(self);
        crate::info::sample_memory(self);
        self.migrate_sockets.close_idle(self.clock.now_ms / 1000);
        crate::tracking::enforce_limit(self, None);
        self.check_pause_expired();
        self.track_metrics();
        for db in &mut self.ks.dbs {
            db.dict.try_shrink();
            db.expires.try_shrink();
        }
    }

    fn clients_cron(&mut self) {
        let timeout_ms = self.config.timeout * 1000;
        let now = self.clock.now_ms;
        let mut idle = Vec::new();
        for (key, slot) in self.clients.iter_mut() {
            let Some(c) = slot else { continue };
            // Replication links are exempt, as in Redis.
            let link = c.flags.master || c.flags.replica || c.flags.slot_import || c.flags.slot_migrate;
            if timeout_ms > 0 && now - c.last_interaction_ms > timeout_ms && !c.flags.close_asap && !link {
                idle.push(key);
            }
        }
        for key in idle {
            log::debug!("Closing idle client");
            self.stats.expired_clients += 1;
            self.kill_client(key);
        }
        // Buffers, memory figures and output limits.
        crate::client::mem::cron_start(self);
        let keys: Vec<usize> = self.clients.iter().map(|(k, _)| k).collect();
        for key in keys {
            let Some(mut c) = self.take_client(key) else { continue };
            if !c.flags.close_asap {
                crate::client::mem::cron_client(self, &mut c);
            }
            self.put_client(c);
        }
    }

    fn check_pause_expired(&mut self) {
        let until = match self.pause {
            Pause::None => return,
            Pause::Write(t) | Pause::All(t) => t,
        };
        if self.clock.now_ms >= until {
            self.unpause();
        }
    }

    /// Ends CLIENT PAUSE and runs the commands that waited.
    pub fn unpause(&mut self) {
        self.pause = Pause::None;
        self.ks.expire_deletes = !self.repl.replica.is_replica();
        let waiting = std::mem::take(&mut self.paused_clients);
        for key in waiting {
            let Some(mut c) = self.take_client(key) else { continue };
            if c.flags.master {
                // Resumed by the replication cron, outside any command.
                self.put_client(c);
                continue;
            }
            self.process_input(&mut c);
            self.queue_write(&mut c);
            self.put_client(c);
        }
    }

    fn track_metrics(&mut self) {
        let now = self.clock.now_ms;
        let push = |v: &mut Vec<(i64, u64)>, x: u64| {
            if v.last().is_none_or(|&(t, _)| now - t >= 100) {
                v.push((now, x));
                if v.len() > 17 {
                    v.remove(0);
                }
            }
        };
        push(&mut self.stats.ops_samples, self.stats.total_commands_processed);
        push(&mut self.stats.in_samples, self.stats.net_input_bytes);
        push(&mut self.stats.out_samples, self.stats.net_output_bytes);
    }

    /// Rate per second over the last ~1.6 s of samples.
    pub fn instantaneous(samples: &[(i64, u64)]) -> f64 {
        match (samples.first(), samples.last()) {
            (Some(&(t0, v0)), Some(&(t1, v1))) if t1 > t0 => (v1 - v0) as f64 * 1000.0 / (t1 - t0) as f64,
            _ => 0.0,
        }
    }

    // -------------------------------------------------------------- shutdown

    /// Best effort before exiting: writes what every client (replicas
    /// first of all) still has buffered.
    pub fn flush_all_clients(&mut self) {
        let keys: Vec<usize> = self.clients.iter().map(|(k, _)| k).collect();
        for key in keys {
            if let Some(mut c) = self.take_client(key) {
                let _ = self.flush_client(&mut c);
                self.put_client(c);
            }
        }
    }

    /// Shows `proc-title-template` as the process title (start-up, CONFIG SET).
    pub fn set_proc_title(&self) {
        let file = self.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        crate::proctitle::set(&self.config, &self.config.proc_title_template, &file);
    }

    /// Logs, once each, the directives given that have no effect yet.
    pub fn note_unimplemented(&mut self) {
        for name in self.config.unimplemented_in_use() {
            if !self.noted_noop.contains(&name) {
                log::info!("Directive '{name}' is accepted but has no effect in this version of Viator");
                self.noted_noop.push(name);
            }
        }
    }
}

/// Commands a RESP2 client may send while subscribed.
fn allowed_while_subscribed(name: &str) -> bool {
    matches!(
        name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    )
}

/// COMPAT: the text Redis sends to a non-local client in protected mode.
const PROTECTED_MODE_ERR: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// `n` random lowercase hex characters (run ids).
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n.div_ceil(2)];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).is_err() {
        let mut x = crate::util::clock::unix_us() as u64 | 1;
        for b in bytes.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }
    let mut s: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    s.truncate(n);
    s
}
