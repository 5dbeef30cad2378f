//! Replication, replica side: following a master.
//!
//! Owns REPLICAOF/SLAVEOF, the outbound link to the master while it is being
//! set up (a `TokenKind::Link` socket driven by a handshake state machine:
//! PING, AUTH, REPLCONF listening-port, REPLCONF capa, PSYNC), the transfer
//! of the master's RDB snapshot (`$<len>` or the diskless `$EOF:<mark>`
//! form: stored to a file and loaded, or with `repl-diskless-load` handed
//! to [`super::load`] as it arrives), and then the hand-over of the socket
//! to an ordinary client flagged `master` whose commands run through the
//! normal `execute()` with replies muted. The offset advances by the bytes
//! of each command applied; REPLCONF ACK goes back every second. A lost
//! link is retried every second with a partial resync request.
//!
//! It must not parse RDB bytes (`crate::persist::rdb::load_file` and
//! `super::load` do) nor know how commands are executed; the master side
//! (stream, backlog) is `super`.
//!
//! Mirrors Redis 7.0's `replicationSetMaster`, `syncWithMaster`,
//! `readSyncBulkPayload`, `replicationCron` (reconnect, ACK), the READONLY
//! and MASTERDOWN rules of `processCommand`, ROLE and INFO replication.

use std::io::{self, Read};

use mio::Interest;

use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::cmd::spec::CmdFlags;
use crate::reactor::net::Stream;
use crate::reactor::TokenKind;
use crate::server::Server;

/// Longest handshake line accepted from a master.
const MAX_LINE: usize = 64 * 1024;

/// Where the link to the master stands (Redis's `repl_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkState {
    /// Not a replica.
    #[default]
    None,
    /// A replica waiting to connect (the cron connects).
    Connect,
    /// A non-blocking connect in progress.
    Connecting,
    /// PING sent, waiting for its reply.
    ReceivePong,
    /// AUTH sent, waiting for its reply.
    ReceiveAuth,
    /// REPLCONF listening-port sent.
    ReceivePort,
    /// REPLCONF ip-address sent (`replica-announce-ip`).
    ReceiveIp,
    /// REPLCONF capa sent.
    ReceiveCapa,
    /// PSYNC sent.
    ReceivePsync,
    /// Receiving the RDB snapshot.
    Transfer,
    /// The master client is attached and streaming.
    Connected,
}

impl LinkState {
    /// The word ROLE prints for this state.
    pub fn role_word(self) -> &'static str {
        // COMPAT: ROLE's state names.
        match self {
            LinkState::None => "none",
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Transfer => "sync",
            LinkState::Connected => "connected",
            _ => "handshake",
        }
    }
}

/// What PSYNC was answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsyncReply {
    /// `+FULLRESYNC <replid> <offset>`.
    Full(String, i64),
    /// `+CONTINUE [<new replid>]`.
    Continue(Option<String>),
    /// `-NOMASTERLINK ...` / `-LOADING ...`: try again later.
    TryLater,
    /// Any other error or an unreadable answer.
    Error,
}

/// Parses the answer to PSYNC (one line without its CRLF).
pub fn parse_psync_reply(line: &[u8]) -> PsyncReply {
    let text = String::from_utf8_lossy(line);
    let words: Vec<&str> = text.split(' ').collect();
    match words.as_slice() {
        ["+FULLRESYNC", id, off] if is_replid(id) => match off.parse::<i64>() {
            Ok(o) => PsyncReply::Full(id.to_string(), o),
            Err(_) => PsyncReply::Error,
        },
        ["+CONTINUE"] | ["+CONTINUE", ""] => PsyncReply::Continue(None),
        ["+CONTINUE", id, ..] if is_replid(id) => PsyncReply::Continue(Some(id.to_string())),
        ["+CONTINUE", ..] => PsyncReply::Continue(None),
        _ if text.starts_with("-NOMASTERLINK") || text.starts_with("-LOADING") => PsyncReply::TryLater,
        _ => PsyncReply::Error,
    }
}

fn is_replid(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// How the snapshot's size is announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadHeader {
    /// `$<len>`: exactly this many bytes follow.
    Len(usize),
    /// `$EOF:<40 bytes>`: the payload ends with this mark.
    Eof(Vec<u8>),
}

/// Parses the `$...` line that precedes the snapshot (without CRLF).
pub fn parse_payload_header(line: &[u8]) -> Option<PayloadHeader> {
    let rest = line.strip_prefix(b"$")?;
    if let Some(mark) = rest.strip_prefix(b"EOF:") {
        return (mark.len() == 40).then(|| PayloadHeader::Eof(mark.to_vec()));
    }
    let n = std::str::from_utf8(rest).ok()?.parse::<usize>().ok()?;
    Some(PayloadHeader::Len(n))
}

/// Takes one line (up to LF, CR stripped) off the front of `buf`.
pub(crate) fn take_line(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let nl = buf.iter().position(|&b| b == b'\n')?;
    let mut line: Vec<u8> = buf.drain(..=nl).collect();
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Some(line)
}

/// The connection while the handshake and transfer run.
#[derive(Debug)]
struct Link {
    stream: Stream,
    /// Bytes read and not yet consumed.
    inbuf: Vec<u8>,
    /// Bytes to send.
    out: Vec<u8>,
    /// The FULLRESYNC identity to adopt once the snapshot is loaded.
    full: Option<(String, i64)>,
    /// The announced payload form, once its line arrived.
    header: Option<PayloadHeader>,
    /// The snapshot received so far.
    payload: Vec<u8>,
}

/// Replica-side state.
#[derive(Debug, Default)]
pub struct Replica {
    /// `host port` of the master; None when this server is a master.
    pub master: Option<(String, u16)>,
    /// Where the link stands.
    pub state: LinkState,
    link: Option<Link>,
    /// Slab key of the master client while connected.
    pub master_client: Option<usize>,
    /// Our replid/offset continue the master's history (PSYNC may work).
    pub cached: bool,
    /// The database the master's stream had selected when the link went
    /// down: a partial resync continues in it (the master does not SELECT
    /// again).
    pub stream_db: usize,
    /// Unix ms of the last byte from the master.
    pub last_io_ms: i64,
    /// Unix secs the link went down (0: never up).
    pub down_since_secs: i64,
    /// When the current connection attempt started (handshake timeout).
    attempt_ms: i64,
    /// Bytes of the command being parsed from the master.
    pub unapplied: usize,
    /// True while the master's command runs (its propagation is the raw
    /// stream, not the propagation layer's output).
    pub applying: bool,
    /// The master's transaction applied so far (encoded commands, bytes
    /// consumed): the offset moves past a MULTI only with its EXEC, so a
    /// resync after a cut inside one starts again before the MULTI.
    held: (Vec<u8>, i64),
    /// Last REPLCONF ACK sent (ms).
    last_ack_ms: i64,
    /// The snapshot being loaded straight from the socket, if it is.
    load: Option<super::load::SocketLoad>,
}

impl Replica {
    /// True when this server follows a master.
    pub fn is_replica(&self) -> bool {
        self.master.is_some()
    }
}

// ------------------------------------------------------------- commands

/// REPLICAOF host port | NO ONE (also SLAVEOF).
pub fn replicaof(srv: &mut Server, c: &mut Client) -> CmdResult {
    if srv.config.cluster_enabled {
        // COMPAT: replicaofCommand's errors, here and below.
        return Err(ReplyError::err("REPLICAOF not allowed in cluster mode."));
    }
    super::failover::refuse_replicaof(srv)?;
    if crate::cmd::args::is(c.arg(1), "no") && crate::cmd::args::is(c.arg(2), "one") {
        if srv.repl.replica.is_replica() {
            unset_master(srv);
            log::info!("MASTER MODE enabled (user request from '{}')", c.addr);
        }
        c.reply.ok();
        return Ok(());
    }
    if c.flags.replica {
        return Err(ReplyError::err("Command is not valid when client is a replica."));
    }
    let port = match crate::util::num::string2ll(c.arg(2)) {
        Some(p) if (0..=65535).contains(&p) => p as u16,
        _ => return Err(ReplyError::err("Invalid master port")),
    };
    let host = String::from_utf8_lossy(c.arg(1)).into_owned();
    if let Some((h, p)) = &srv.repl.replica.master {
        if h.eq_ignore_ascii_case(&host) && *p == port {
            log::info!(
                "REPLICAOF would result into synchronization with the master we are already connected with. No operation performed."
            );
            // COMPAT: the reply Redis gives when nothing changes.
            c.reply.simple("OK Already connected to specified master");
            return Ok(());
        }
    }
    set_master(srv, host.clone(), port);
    log::info!("REPLICAOF {host}:{port} enabled (user request from '{}')", c.addr);
    c.reply.ok();
    Ok(())
}

/// ROLE.
pub fn role(srv: &mut Server, c: &mut Client) -> CmdResult {
    let r = &srv.repl.replica;
    match &r.master {
        Some((host, port)) => {
            c.reply.array(5);
            c.reply.bulk(b"slave");
            c.reply.bulk(host.as_bytes());
            c.reply.int(*port as i64);
            c.reply.bulk(r.state.role_word().as_bytes());
            c.reply.int(if r.state == LinkState::Connected { srv.repl.offset } else { -1 });
        }
        None => {
            c.reply.array(3);
            c.reply.bulk(b"master");
            c.reply.int(srv.repl.offset);
            // Only replicas past their synchronisation, as Redis lists them.
            let rows: Vec<ReplicaRow> = replica_rows(srv).into_iter().filter(|r| r.online).collect();
            c.reply.array(rows.len());
            for row in rows {
                c.reply.array(3);
                c.reply.bulk(row.ip.as_bytes());
                c.reply.bulk_int(row.port as i64);
                c.reply.bulk_int(row.ack_offset);
            }
        }
    }
    Ok(())
}

/// One attached replica as ROLE and INFO show it.
struct ReplicaRow {
    ip: String,
    port: u16,
    ack_offset: i64,
    lag_secs: i64,
    state: &'static str,
    online: bool,
}

fn replica_rows(srv: &Server) -> Vec<ReplicaRow> {
    let now = srv.clock.now_ms;
    let mut rows = Vec::new();
    for &key in &srv.repl.replicas {
        let Some(Some(c)) = srv.clients.get(key) else { continue };
        let Some(info) = srv.repl.replica_info.get(&key) else { continue };
        let ip = match &info.announced_ip {
            Some(ip) => ip.clone(),
            None => c.addr.rsplit_once(':').map(|(ip, _)| ip.to_string()).unwrap_or_default(),
        };
        rows.push(ReplicaRow {
            ip,
            port: info.listening_port,
            ack_offset: info.ack_offset,
            lag_secs: (now - info.ack_ms.max(c.created_ms)) / 1000,
            state: info.state.word(),
            online: info.state.online(),
        });
    }
    rows
}

/// The INFO replication section's lines, in Redis 7.0's order.
pub fn info_fields(srv: &Server) -> Vec<(&'static str, String)> {
    let r = &srv.repl.replica;
    let now_secs = srv.clock.now_ms / 1000;
    let mut f: Vec<(&'static str, String)> = Vec::new();
    let mut kv = |k: &'static str, v: String| f.push((k, v));
    kv("role", if r.is_replica() { "slave" } else { "master" }.into());
    if let Some((host, port)) = &r.master {
        let master = r.master_client.and_then(|k| srv.clients.get(k)).and_then(|s| s.as_deref());
        // A master client whose link just closed (freed before the loop
        // sleeps) is already down, as Redis frees it on the spot.
        let connected = r.state == LinkState::Connected && !master.is_some_and(|m| m.flags.close_asap);
        let offset = if r.state == LinkState::Connected || r.cached { srv.repl.offset } else { 1 };
        let read_offset = offset + master.map_or(0, |m| (r.unapplied + m.query.len()) as i64 + r.held.1);
        kv("master_host", host.clone());
        kv("master_port", port.to_string());
        kv("master_link_status", if connected { "up" } else { "down" }.into());
        let last_io =
            r.master_client.and_then(|k| srv.clients.get(k)).and_then(|s| s.as_deref()).map(|m| m.last_interaction_ms);
        kv("master_last_io_seconds_ago", last_io.map_or(-1, |t| (srv.clock.now_ms - t) / 1000).to_string());
        kv("master_sync_in_progress", u8::from(r.state == LinkState::Transfer).to_string());
        kv("slave_read_repl_offset", read_offset.to_string());
        kv("slave_repl_offset", offset.to_string());
        if r.state == LinkState::Transfer {
            let (total, read) = match (&r.load, &r.link) {
                (Some(load), _) => load.progress(),
                (None, Some(Link { header: Some(PayloadHeader::Len(n)), payload, .. })) => (*n as i64, payload.len() as i64),
                (None, Some(l)) => (-1, l.payload.len() as i64),
                (None, None) => (0, 0),
            };
            let perc = if total > 0 { read as f64 * 100.0 / total as f64 } else { 0.0 };
            kv("master_sync_total_bytes", total.to_string());
            kv("master_sync_read_bytes", read.to_string());
            kv("master_sync_left_bytes", (total - read).to_string());
            kv("master_sync_perc", format!("{perc:.2}"));
            kv("master_sync_last_io_seconds_ago", ((srv.clock.now_ms - r.last_io_ms) / 1000).to_string());
        }
        if !connected {
            let down = if r.down_since_secs > 0 { now_secs - r.down_since_secs } else { -1 };
            kv("master_link_down_since_seconds", down.to_string());
        }
        kv("slave_priority", srv.config.replica_priority.to_string());
        kv("slave_read_only", u8::from(srv.config.replica_read_only).to_string());
        kv("replica_announced", u8::from(srv.config.replica_announced).to_string());
    }
    let rows = replica_rows(srv);
    f.push(("connected_slaves", rows.len().to_string()));
    if super::acks::min_replicas_active(srv) {
        f.push(("min_slaves_good_slaves", srv.repl.good_replicas.to_string()));
    }
    let mut slaves = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        slaves.push(format!(
            "slave{i}:ip={},port={},state={},offset={},lag={}",
            row.ip, row.port, row.state, row.ack_offset, row.lag_secs
        ));
    }
    let mut out: Vec<(&'static str, String)> = f;
    for s in slaves {
        // The whole line rides in the value; the name is empty.
        out.push(("", s));
    }
    let backlog = srv.repl.backlog.as_ref();
    out.push(("master_failover_state", srv.repl.failover.state.word().into()));
    out.push(("master_replid", srv.repl.replid.clone()));
    out.push(("master_replid2", srv.repl.replid2.clone()));
    out.push(("master_repl_offset", srv.repl.offset.to_string()));
    out.push(("second_repl_offset", srv.repl.second_offset.to_string()));
    out.push(("repl_backlog_active", u8::from(backlog.is_some()).to_string()));
    out.push(("repl_backlog_size", srv.config.repl_backlog_size.to_string()));
    out.push(("repl_backlog_first_byte_offset", backlog.map_or(0, |b| b.first_offset()).to_string()));
    out.push(("repl_backlog_histlen", backlog.map_or(0, |b| b.len()).to_string()));
    out
}

/// The READONLY / MASTERDOWN refusals of a replica, for `check_command`.
/// EXEC is judged by the commands it queued; refused, it discards the
/// transaction (EXECABORT), as Redis.
pub fn deny_command(srv: &mut Server, c: &mut Client, idx: usize) -> Option<ReplyError> {
    let r = &srv.repl.replica;
    if !r.is_replica() || c.flags.master {
        return None;
    }
    let cmds = &srv.commands.cmds;
    if async_loading(srv) && cmds[idx].flags.has(CmdFlags::NO_ASYNC_LOADING) {
        // COMPAT: shared.loadingerr, as processCommand refuses these while
        // the old data is served during a load.
        return Some(ReplyError::other("LOADING Redis is loading the dataset in memory"));
    }
    let exec = cmds[idx].name == "exec";
    let writes = cmds[idx].flags.has(CmdFlags::WRITE) || (exec && c.multi_flags.has(CmdFlags::WRITE));
    let stale_ok = cmds[idx].flags.has(CmdFlags::STALE) && !(exec && c.multi_flags_missing.has(CmdFlags::STALE));
    let text = if srv.config.replica_read_only && writes {
        // COMPAT: shared.roslaveerr.
        "READONLY You can't write against a read only replica."
    } else if r.state != LinkState::Connected && !srv.config.replica_serve_stale_data && !stale_ok {
        // COMPAT: shared.masterdownerr.
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
    } else {
        return None;
    };
    if exec {
        crate::cmd::multi::discard_transaction(srv, c);
        return Some(ReplyError::other(format!("EXECABORT Transaction discarded because of: {text}")));
    }
    Some(ReplyError::other(text))
}

/// SYNC/PSYNC on a replica whose own link is down.
pub fn refuse_sync_while_down(srv: &Server) -> Result<(), ReplyError> {
    if srv.repl.replica.is_replica() && srv.repl.replica.state != LinkState::Connected {
        // COMPAT: syncCommand's refusal.
        return Err(ReplyError::other("NOMASTERLINK Can't SYNC while not connected with my master"));
    }
    Ok(())
}

/// REPLCONF GETACK from our master: answer with an ACK right away.
pub fn getack(srv: &mut Server, c: &mut Client) {
    if c.flags.master {
        send_ack(srv.repl.offset, c);
        srv.repl.replica.last_ack_ms = srv.clock.now_ms;
    }
}

fn send_ack(offset: i64, c: &mut Client) {
    let mut bytes = Vec::with_capacity(48);
    crate::resp::value::encode_command_into(&mut bytes, &[&b"REPLCONF"[..], b"ACK", offset.to_string().as_bytes()]);
    c.reply.unmuted(|out| out.raw(&bytes));
}

// ----------------------------------------------------------- transitions

/// Starts following `host:port`: drops any current link and connects. Our
/// own replicas stay attached, as Redis keeps them: they are disconnected
/// only once the new master's history replaces ours (a new replication ID
/// on a partial resync, or a full resync loaded).
pub fn set_master(srv: &mut Server, host: String, port: u16) {
    let was_master = !srv.repl.replica.is_replica();
    drop_link(srv);
    let r = &mut srv.repl.replica;
    r.master = Some((host.clone(), port));
    crate::logging::set_role(b'S');
    // A master turning replica offers its own history for a partial resync.
    r.cached = r.cached || was_master;
    r.state = LinkState::Connect;
    r.down_since_secs = 0;
    srv.ks.expire_deletes = false;
    srv.config.replicaof = Some((host, port));
    if let Err(e) = srv.apply_oom_score() {
        log::warn!("{e}");
    }
    connect(srv);
}

/// REPLICAOF NO ONE: stops following; the data stays and a new history
/// starts (the old one stays valid for our replicas as replid2, which they
/// learn by reconnecting).
pub fn unset_master(srv: &mut Server) {
    drop_link(srv);
    let r = &mut srv.repl.replica;
    r.master = None;
    crate::logging::set_role(b'M');
    r.state = LinkState::None;
    r.cached = false;
    srv.ks.expire_deletes = true;
    srv.ks.replica_keys_with_expire.clear();
    srv.config.replicaof = None;
    srv.repl.shift_replid();
    // Our replicas learn the new replication ID by reconnecting (a partial
    // resync), as Redis's replicationUnsetMaster disconnects them.
    for key in srv.repl.replicas.clone() {
        srv.kill_client(key);
    }
    if let Err(e) = srv.apply_oom_score() {
        log::warn!("{e}");
    }
}

/// Closes the handshake link or the master client, whichever exists.
fn drop_link(srv: &mut Server) {
    if let Some(mut l) = srv.repl.replica.link.take() {
        let _ = srv.reactor.deregister(&mut l.stream);
    }
    abandon_load(srv);
    if let Some(key) = srv.repl.replica.master_client.take() {
        // The cached master continues in the database its stream selected
        // (master_client_freed no longer sees it as the master client).
        if let Some(Some(m)) = srv.clients.get(key) {
            srv.repl.replica.stream_db = m.db;
        }
        srv.kill_client(key);
        srv.repl.replica.cached = true;
    }
}

/// Called when the master client is freed (`free_client`).
pub fn master_client_freed(srv: &mut Server, key: usize, db: usize) {
    let r = &mut srv.repl.replica;
    if r.master_client != Some(key) {
        return;
    }
    r.master_client = None;
    r.stream_db = db;
    r.cached = true;
    r.unapplied = 0;
    r.held = Default::default();
    r.state = LinkState::Connect;
    r.down_since_secs = srv.clock.now_ms / 1000;
    // COMPAT: Redis's log lines on a lost master link.
    log::info!("Connection with master lost.");
    log::info!("Caching the disconnected master state.");
}

/// Abandons the current attempt; the cron tries again.
fn cancel_handshake(srv: &mut Server) {
    if let Some(mut l) = srv.repl.replica.link.take() {
        let _ = srv.reactor.deregister(&mut l.stream);
    }
    abandon_load(srv);
    if srv.repl.replica.is_replica() {
        srv.repl.replica.state = LinkState::Connect;
    }
}

/// Ends a load from the socket cut short (the link went down, or the
/// snapshot was unusable): the old data stays, or the half-loaded data goes.
fn abandon_load(srv: &mut Server) {
    if let Some(load) = srv.repl.replica.load.take() {
        super::load::abort(srv, load);
    }
}

/// True while a snapshot is loaded from the socket with the old data still
/// served (INFO `async_loading`).
pub fn async_loading(srv: &Server) -> bool {
    srv.repl.replica.load.as_ref().is_some_and(|l| l.async_loading)
}

/// A load from the socket stopped reading with bytes left in the socket:
/// the loop must come back without waiting for readiness.
pub fn has_pending_work(srv: &Server) -> bool {
    srv.repl.replica.load.as_ref().is_some_and(|l| l.more)
}

/// Before the loop sleeps: the next round of a load from the socket that
/// left bytes unread.
pub fn before_sleep(srv: &mut Server) {
    if has_pending_work(srv) {
        on_event(srv, true, false);
    }
}

/// Starts a non-blocking connect to the master.
fn connect(srv: &mut Server) {
    let Some((host, port)) = srv.repl.replica.master.clone() else { return };
    srv.repl.replica.attempt_ms = srv.clock.now_ms;
    let addr = match std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)).map(|mut a| a.next()) {
        Ok(Some(a)) => a,
        Ok(None) => {
            log::warn!("Unable to connect to MASTER: no address for {host}");
            return;
        }
        Err(e) => {
            log::warn!("Unable to connect to MASTER: {e}");
            return;
        }
    };
    let mut stream = match connect_from(addr, &srv.config.bind_source_addr) {
        Ok(s) => Stream::Tcp(s),
        Err(e) => {
            log::warn!("Unable to connect to MASTER: {e}");
            return;
        }
    };
    if let Err(e) = srv.reactor.register(&mut stream, TokenKind::Link.token(0), Interest::READABLE | Interest::WRITABLE)
    {
        log::warn!("Unable to connect to MASTER: {e}");
        return;
    }
    log::info!("Connecting to MASTER {host}:{port}");
    log::info!("MASTER <-> REPLICA sync started");
    srv.repl.replica.link =
        Some(Link { stream, inbuf: Vec::new(), out: Vec::new(), full: None, header: None, payload: Vec::new() });
    srv.repl.replica.state = LinkState::Connecting;
}

/// A non-blocking connect to `addr`, from `source` (`bind-source-addr`)
/// when it is set.
pub(crate) fn connect_from(addr: std::net::SocketAddr, source: &str) -> io::Result<mio::net::TcpStream> {
    if source.is_empty() {
        return mio::net::TcpStream::connect(addr);
    }
    let ip: std::net::IpAddr =
        source.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad bind-source-addr"))?;
    let sock = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    sock.bind(&std::net::SocketAddr::new(ip, 0).into())?;
    sock.set_nonblocking(true)?;
    match sock.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(mio::net::TcpStream::from_std(sock.into()))
}

/// Once a second from the cron: connect when due, time out a stuck
/// handshake, ACK the master.
pub fn cron(srv: &mut Server) {
    let now = srv.clock.now_ms;
    if !srv.repl.replica.is_replica() {
        if let Some((host, port)) = srv.config.replicaof.clone() {
            // `replicaof` from the configuration file.
            set_master(srv, host, port);
        }
        return;
    }
    expire_own_keys(srv);
    resume_master(srv);
    let r = &srv.repl.replica;
    if now - r.last_ack_ms < 1000 {
        return;
    }
    let state = r.state;
    let stuck = state != LinkState::Connected
        && state != LinkState::Connect
        && now - r.attempt_ms.max(r.last_io_ms) > srv.config.repl_timeout * 1000;
    srv.repl.replica.last_ack_ms = now;
    if stuck {
        log::warn!("Timeout connecting to the MASTER...");
        cancel_handshake(srv);
    }
    match srv.repl.replica.state {
        LinkState::Connect => connect(srv),
        LinkState::Connected => {
            let Some(key) = srv.repl.replica.master_client else { return };
            let last = srv.clients.get(key).and_then(|s| s.as_deref()).map_or(now, |m| m.last_interaction_ms);
            if now - last > srv.config.repl_timeout * 1000 {
                // COMPAT: replicationCron's message.
                log::warn!("MASTER timeout: no data nor PING received...");
                srv.kill_client(key);
                return;
            }
            let offset = srv.repl.offset;
            srv.with_client(key, None, |c| send_ack(offset, c));
        }
        _ => {}
    }
}

/// Runs the master's commands that waited out a CLIENT PAUSE (`unpause`
/// leaves the master client to us, so they never run nested in a command).
fn resume_master(srv: &mut Server) {
    let Some(key) = srv.repl.replica.master_client else { return };
    let waiting = srv.clients.get(key).and_then(|s| s.as_deref()).is_some_and(|m| m.command_ready);
    if !waiting || srv.paused_clients.contains(&key) {
        return;
    }
    if let Some(mut c) = srv.take_client_slot(key) {
        srv.process_input(&mut c);
        srv.queue_client_write(&mut c);
        srv.return_client_slot(c);
    }
}

/// Deletes the expired keys a writable replica's own clients created (at
/// most a bounded batch per call), as Redis's `expireSlaveKeys`; keys that
/// lost their TTL or disappeared are forgotten.
fn expire_own_keys(srv: &mut Server) {
    if srv.ks.replica_keys_with_expire.is_empty() {
        return;
    }
    srv.ks.now_ms = srv.clock.now_ms;
    let batch: Vec<(usize, crate::types::sds::Sds)> =
        srv.ks.replica_keys_with_expire.iter().take(1000).cloned().collect();
    srv.ks.expire_deletes = true;
    for (db, key) in batch {
        match srv.ks.expire_at(db, &key) {
            Some(at) if at > srv.ks.now_ms => continue,
            Some(_) => {
                srv.ks.expire_if_needed(db, &key);
            }
            None => {}
        }
        srv.ks.replica_keys_with_expire.remove(&(db, key));
    }
    srv.ks.expire_deletes = false;
    srv.after_command(None);
}

// ------------------------------------------------------------- the link

/// Readiness on the link socket.
pub fn on_event(srv: &mut Server, readable: bool, writable: bool) {
    let Some(link) = srv.repl.replica.link.take() else { return };
    match drive(srv, link, readable, writable) {
        Ok(Some(link)) => srv.repl.replica.link = Some(link),
        Ok(None) => {}
        Err(e) => {
            log::warn!("{e}");
            // Dropping the socket closed it (and took it out of the poller).
            cancel_handshake(srv);
        }
    }
}

/// What a step of the link leaves: the link still handshaking, nothing (it
/// became the master client), or the reason to give up this attempt.
type Step = Result<Option<Link>, String>;

/// Queues `AUTH [masteruser] masterauth` on `out` when `masterauth` is set
/// (how this server authenticates to a master, or to a slot migration's
/// source); returns whether it did.
pub(crate) fn queue_master_auth(srv: &Server, out: &mut Vec<u8>) -> bool {
    let (user, pass) = (&srv.config.masteruser, &srv.config.masterauth);
    if pass.is_empty() {
        return false;
    }
    let mut words: Vec<&[u8]> = vec![b"AUTH"];
    if !user.is_empty() {
        words.push(user.as_bytes());
    }
    words.push(pass.as_bytes());
    crate::resp::value::encode_command_into(out, &words);
    true
}

fn queue_command(link: &mut Link, words: &[&[u8]]) {
    crate::resp::value::encode_command_into(&mut link.out, words);
}

fn flush(link: &mut Link) -> Result<(), String> {
    match link.stream.write_out(&mut link.out) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::WriteZero => Err("Error writing to MASTER: connection closed".into()),
        Err(e) => Err(format!("Error writing to MASTER: {e}")),
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn drive(srv: &mut Server, mut link: Link, readable: bool, writable: bool) -> Step {
    if srv.repl.replica.state == LinkState::Connecting {
        if !readable && !writable {
            return Ok(Some(link));
        }
        match link.stream.connect_outcome() {
            Ok(true) => {}
            // Still connecting: a spurious wake-up.
            Ok(false) => return Ok(Some(link)),
            Err(e) => return Err(format!("Error condition on socket for SYNC: {e}")),
        }
        link.stream.tune(srv.config.tcp_keepalive);
        log::info!("Non blocking connect for SYNC fired the event.");
        queue_command(&mut link, &[b"PING"]);
        srv.repl.replica.state = LinkState::ReceivePong;
        srv.repl.replica.last_io_ms = srv.clock.now_ms;
    }
    if readable {
        let mut buf = [0u8; 16 * 1024];
        // While loading from the socket, a round reads at most
        // `loading-process-events-interval-bytes` (clients are served in
        // between); the rest waits in the socket for the next round.
        let loading = srv.repl.replica.load.is_some();
        let budget = if loading { srv.config.loading_process_events_interval_bytes.max(1) as usize } else { usize::MAX };
        let mut got = 0;
        if let Some(load) = srv.repl.replica.load.as_mut() {
            load.more = false;
        }
        loop {
            if got >= budget {
                if let Some(load) = srv.repl.replica.load.as_mut() {
                    load.more = true;
                }
                break;
            }
            let want = buf.len().min(budget - got);
            match link.stream.read(&mut buf[..want]) {
                Ok(0) => return Err("Error reading from MASTER: connection lost".into()),
                Ok(n) => {
                    got += n;
                    link.inbuf.extend_from_slice(&buf[..n]);
                    srv.repl.replica.last_io_ms = srv.clock.now_ms;
                    srv.stats.net_input_bytes += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("Error reading from MASTER: {e}")),
            }
        }
    }
    let step = advance(srv, link)?;
    match step {
        Some(mut link) => {
            flush(&mut link)?;
            Ok(Some(link))
        }
        None => Ok(None),
    }
}

/// Runs the handshake as far as the bytes received allow.
fn advance(srv: &mut Server, mut link: Link) -> Step {
    loop {
        let state = srv.repl.replica.state;
        if state == LinkState::Transfer {
            return transfer(srv, link);
        }
        let Some(line) = take_line(&mut link.inbuf) else {
            if link.inbuf.len() > MAX_LINE {
                return Err("Bad protocol from MASTER: reply line too long".into());
            }
            return Ok(Some(link));
        };
        let err = line.first() == Some(&b'-');
        match state {
            LinkState::ReceivePong => {
                // COMPAT: an auth error is fine here; the AUTH that follows settles it.
                let auth_err = line.starts_with(b"-NOAUTH")
                    || line.starts_with(b"-NOPERM")
                    || line.starts_with(b"-ERR operation not permitted");
                if err && !auth_err {
                    return Err(format!("Error reply to PING from master: '{}'", lossy(&line)));
                }
                log::info!("Master replied to PING, replication can continue...");
                let auth = queue_master_auth(srv, &mut link.out);
                let port = if srv.config.replica_announce_port > 0 {
                    srv.config.replica_announce_port
                } else {
                    srv.tcp_port as i64
                };
                queue_command(&mut link, &[b"REPLCONF", b"listening-port", port.to_string().as_bytes()]);
                let ip = srv.config.replica_announce_ip.clone();
                if !ip.is_empty() {
                    queue_command(&mut link, &[b"REPLCONF", b"ip-address", ip.as_bytes()]);
                }
                queue_command(&mut link, &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]);
                srv.repl.replica.state = if auth { LinkState::ReceiveAuth } else { LinkState::ReceivePort };
            }
            LinkState::ReceiveAuth => {
                if err {
                    return Err(format!("Unable to AUTH to MASTER: {}", lossy(&line)));
                }
                srv.repl.replica.state = LinkState::ReceivePort;
            }
            LinkState::ReceivePort => {
                if err {
                    log::info!("(Non critical) Master does not understand REPLCONF listening-port: {}", lossy(&line));
                }
                let announce = !srv.config.replica_announce_ip.is_empty();
                srv.repl.replica.state = if announce { LinkState::ReceiveIp } else { LinkState::ReceiveCapa };
            }
            LinkState::ReceiveIp => {
                if err {
                    log::info!("(Non critical) Master does not understand REPLCONF ip-address: {}", lossy(&line));
                }
                srv.repl.replica.state = LinkState::ReceiveCapa;
            }
            LinkState::ReceiveCapa => {
                if err {
                    log::info!("(Non critical) Master does not understand REPLCONF capa: {}", lossy(&line));
                }
                let (id, offset) = if srv.repl.replica.cached {
                    let r = (srv.repl.replid.clone(), srv.repl.offset + 1);
                    log::info!("Trying a partial resynchronization (request {}:{}).", r.0, r.1);
                    r
                } else {
                    log::info!("Partial resynchronization not possible (no cached master)");
                    ("?".to_string(), -1)
                };
                let offset = offset.to_string();
                let mut words: Vec<&[u8]> = vec![b"PSYNC", id.as_bytes(), offset.as_bytes()];
                if super::failover::in_progress(srv) {
                    words.push(b"FAILOVER");
                }
                queue_command(&mut link, &words);
                srv.repl.replica.state = LinkState::ReceivePsync;
            }
            LinkState::ReceivePsync => {
                if line.is_empty() {
                    // A newline the master sends to keep the link alive.
                    continue;
                }
                let reply = parse_psync_reply(&line);
                if !super::failover::psync_answered(srv, &reply) {
                    return Ok(None);
                }
                match reply {
                    PsyncReply::Full(id, offset) => {
                        log::info!("Full resync from master: {id}:{offset}");
                        link.full = Some((id, offset));
                        srv.repl.replica.state = LinkState::Transfer;
                        // Our history stays offered for a partial resync
                        // until the snapshot starts replacing the data: a
                        // transfer that dies first loses nothing (Redis 7.0).
                    }
                    PsyncReply::Continue(new_id) => {
                        log::info!("Successful partial resynchronization with master.");
                        if let Some(id) = new_id {
                            if id != srv.repl.replid {
                                srv.repl.shift_replid_to(id.clone());
                                log::info!("Master replication ID changed to {id}");
                                for key in srv.repl.replicas.clone() {
                                    srv.kill_client(key);
                                }
                            }
                        }
                        log::info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
                        let Link { stream, inbuf, .. } = link;
                        let db = srv.repl.replica.stream_db;
                        attach_master(srv, stream, &inbuf, db)?;
                        return Ok(None);
                    }
                    PsyncReply::TryLater => {
                        return Err(format!(
                            "Master is currently unable to PSYNC but should be in the future: {}",
                            lossy(&line)
                        ));
                    }
                    PsyncReply::Error => {
                        return Err(format!("Unexpected reply to PSYNC from master: {}", lossy(&line)))
                    }
                }
            }
            _ => return Ok(Some(link)),
        }
    }
}

/// Receives the snapshot; loads it once complete.
fn transfer(srv: &mut Server, mut link: Link) -> Step {
    while link.header.is_none() {
        let Some(line) = take_line(&mut link.inbuf) else {
            if link.inbuf.len() > MAX_LINE {
                return Err("Bad protocol from MASTER: reply line too long".into());
            }
            return Ok(Some(link));
        };
        if line.is_empty() {
            continue;
        }
        let Some(h) = parse_payload_header(&line) else {
            if line.first() == Some(&b'-') {
                return Err(format!("MASTER aborted replication with an error: {}", lossy(&line[1..])));
            }
            // COMPAT: readSyncBulkPayload's complaint.
            return Err(format!(
                "Bad protocol from MASTER, the first byte is not '$' (we received '{}'), are you sure the host and port are right?",
                lossy(&line)
            ));
        };
        let diskless = super::load::use_diskless_load(srv);
        let to = if diskless { "to parser" } else { "to disk" };
        // COMPAT: readSyncBulkPayload's log lines.
        match &h {
            PayloadHeader::Len(n) => log::info!("MASTER <-> REPLICA sync: receiving {n} bytes from master {to}"),
            PayloadHeader::Eof(_) => log::info!("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF {to}"),
        }
        if diskless {
            let id = link.full.as_ref().map(|f| f.0.clone()).unwrap_or_default();
            srv.repl.replica.load = Some(super::load::start(srv, &h, &id));
        }
        link.header = Some(h);
    }
    if srv.repl.replica.load.is_some() {
        return transfer_to_parser(srv, link);
    }
    let done = match &link.header {
        Some(PayloadHeader::Len(n)) => {
            let take = (*n - link.payload.len()).min(link.inbuf.len());
            link.payload.extend(link.inbuf.drain(..take));
            link.payload.len() == *n
        }
        Some(PayloadHeader::Eof(mark)) => {
            link.payload.append(&mut link.inbuf);
            if link.payload.ends_with(mark) {
                link.payload.truncate(link.payload.len() - mark.len());
                true
            } else {
                false
            }
        }
        None => false,
    };
    if !done {
        return Ok(Some(link));
    }
    finish_full_sync(srv, link)?;
    Ok(None)
}

/// Replaces the dataset with the received snapshot and starts streaming.
fn finish_full_sync(srv: &mut Server, link: Link) -> Result<(), String> {
    let Link { stream, inbuf, payload, full, .. } = link;
    let Some((id, offset)) = full else { return Err("Full resync without its identity".into()) };
    let tmp = format!("temp-{}.{}.rdb", srv.clock.now_ms / 1000, std::process::id());
    std::fs::write(&tmp, &payload).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("Failed trying to write the temp DB to disk: {e}")
    })?;
    let target = srv.config.dbfilename.clone();
    std::fs::rename(&tmp, &target).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("Failed trying to rename the temp DB into {target} in MASTER <-> REPLICA synchronization: {e}")
    })?;
    attach_to_new_master(srv);
    log::info!("MASTER <-> REPLICA sync: Flushing old data");
    srv.ks.replica_keys_with_expire.clear();
    for db in 0..srv.ks.dbs.len() {
        srv.ks.flush_db(db);
    }
    srv.script.functions.flush();
    log::info!("MASTER <-> REPLICA sync: Loading DB in memory");
    // Clients (and the cluster bus) are served meanwhile; they see LOADING.
    if let Err(e) = crate::persist::rdb::load_file(srv, &target, true, true) {
        for db in 0..srv.ks.dbs.len() {
            srv.ks.flush_db(db);
        }
        return Err(format!(
            "Failed trying to load the MASTER synchronization DB from disk, check server logs. ({e:?})"
        ));
    }
    synced(srv, stream, &inbuf, id, offset)
}

/// Loads what arrived of a snapshot read straight from the socket; once it
/// is whole, starts streaming. A snapshot that cannot be loaded ends the
/// attempt (the load is abandoned by `cancel_handshake`).
fn transfer_to_parser(srv: &mut Server, mut link: Link) -> Step {
    let Some(mut load) = srv.repl.replica.load.take() else { return Ok(Some(link)) };
    load.feed(&mut link.inbuf);
    let step = load.step(&mut super::load::Env::of(srv));
    srv.persist.loading_loaded_bytes = load.parsed();
    match step {
        Ok(super::load::Progress::Partial) => {
            srv.repl.replica.load = Some(load);
            Ok(Some(link))
        }
        Ok(super::load::Progress::Done(rest)) => {
            super::load::complete(srv, load);
            let Link { stream, full, .. } = link;
            let Some((id, offset)) = full else { return Err("Full resync without its identity".into()) };
            synced(srv, stream, &rest, id, offset)?;
            Ok(None)
        }
        Err(why) => {
            load.failed = true;
            srv.repl.replica.load = Some(load);
            Err(why)
        }
    }
}

/// A full resync is loaded: adopt the master's history and start
/// streaming, what already followed the snapshot (`rest`) first.
fn synced(srv: &mut Server, stream: Stream, rest: &[u8], id: String, offset: i64) -> Result<(), String> {
    srv.repl.adopt(id, offset, srv.config.repl_backlog_size);
    attach_to_new_master(srv);
    log::info!("MASTER <-> REPLICA sync: Finished with success");
    // The master SELECTs before its first command after a snapshot.
    attach_master(srv, stream, rest, 0)
}

/// The data is about to be replaced by another history: ours can no longer
/// be continued (the cached master is discarded), and our own replicas must
/// sync again (Redis's replicationAttachToNewMaster).
pub(super) fn attach_to_new_master(srv: &mut Server) {
    if std::mem::take(&mut srv.repl.replica.cached) {
        // COMPAT: replicationDiscardCachedMaster's line.
        log::info!("Discarding previously cached master state.");
    }
    for key in srv.repl.replicas.clone() {
        srv.kill_client(key);
    }
}

/// Turns the link socket into the master client (its stream in database
/// `db`) and runs what already arrived of the stream.
fn attach_master(srv: &mut Server, mut stream: Stream, rest: &[u8], db: usize) -> Result<(), String> {
    let now = srv.clock.now_ms;
    let key = srv.clients.vacant_key();
    srv.reactor
        .reregister(&mut stream, TokenKind::Client.token(key), Interest::READABLE)
        .map_err(|e| format!("Error registering the master link: {e}"))?;
    let mut c = Box::new(Client::new(srv.next_client_id, key, stream, now, ""));
    srv.next_client_id += 1;
    c.flags.master = true;
    c.authenticated = true;
    c.db = db.min(srv.ks.dbs.len().saturating_sub(1));
    c.query.extend_from_slice(rest);
    // The first ACK tells a diskless master the snapshot is in.
    send_ack(srv.repl.offset, &mut c);
    srv.clients.insert(Some(c));
    let r = &mut srv.repl.replica;
    r.master_client = Some(key);
    r.state = LinkState::Connected;
    r.cached = true;
    r.down_since_secs = 0;
    r.unapplied = 0;
    r.held = Default::default();
    r.last_ack_ms = now;
    if let Some(mut c) = srv.take_client_slot(key) {
        srv.process_input(&mut c);
        srv.queue_client_write(&mut c);
        srv.return_client_slot(c);
    }
    Ok(())
}

/// Runs one command of the master's stream (`process_input` calls this
/// for the master client instead of `execute`): replies stay muted, the
/// command's bytes go verbatim to our own backlog and replicas, and the
/// offset advances by what was consumed (inside a transaction: at its end).
pub fn execute_from_master(srv: &mut Server, c: &mut Client) {
    srv.repl.replica.applying = true;
    srv.ks.master_applying = true;
    srv.execute(c);
    srv.ks.master_applying = false;
    srv.repl.replica.applying = false;
    let r = &mut srv.repl.replica;
    let consumed = std::mem::take(&mut r.unapplied);
    crate::resp::value::encode_command_into(&mut r.held.0, &c.argv);
    r.held.1 += consumed as i64;
    if c.flags.multi {
        return;
    }
    let (mut bytes, consumed) = std::mem::take(&mut r.held);
    srv.repl_feed_from_master(&bytes, consumed);
    // An ordinary-sized buffer is kept (emptied) for the next command, so
    // applying a command allocates nothing; a big value's is given back.
    if bytes.capacity() <= HELD_BUFFER_KEEP {
        bytes.clear();
        srv.repl.replica.held.0 = bytes;
    }
}

/// Largest stream buffer kept between applied commands.
const HELD_BUFFER_KEEP: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn psync_replies() {
        assert_eq!(parse_psync_reply(format!("+FULLRESYNC {ID} 42").as_bytes()), PsyncReply::Full(ID.into(), 42));
        assert_eq!(parse_psync_reply(b"+FULLRESYNC short 42"), PsyncReply::Error);
        assert_eq!(parse_psync_reply(format!("+FULLRESYNC {ID} x").as_bytes()), PsyncReply::Error);
        assert_eq!(parse_psync_reply(b"+CONTINUE"), PsyncReply::Continue(None));
        assert_eq!(parse_psync_reply(format!("+CONTINUE {ID}").as_bytes()), PsyncReply::Continue(Some(ID.into())));
        assert_eq!(
            parse_psync_reply(b"-NOMASTERLINK Can't SYNC while not connected with my master"),
            PsyncReply::TryLater
        );
        assert_eq!(parse_psync_reply(b"-LOADING Redis is loading"), PsyncReply::TryLater);
        assert_eq!(parse_psync_reply(b"-ERR unknown command"), PsyncReply::Error);
    }

    #[test]
    fn payload_headers() {
        assert_eq!(parse_payload_header(b"$123"), Some(PayloadHeader::Len(123)));
        let mark = [b'a'; 40];
        let mut line = b"$EOF:".to_vec();
        line.extend_from_slice(&mark);
        assert_eq!(parse_payload_header(&line), Some(PayloadHeader::Eof(mark.to_vec())));
        assert_eq!(parse_payload_header(b"$EOF:short"), None);
        assert_eq!(parse_payload_header(b"$-1"), None);
        assert_eq!(parse_payload_header(b"+OK"), None);
    }

    #[test]
    fn lines_are_cut_at_lf_without_cr() {
        let mut b = b"+PONG\r\n\n+OK\r\nrest".to_vec();
        assert_eq!(take_line(&mut b), Some(b"+PONG".to_vec()));
        assert_eq!(take_line(&mut b), Some(Vec::new()));
        assert_eq!(take_line(&mut b), Some(b"+OK".to_vec()));
        assert_eq!(take_line(&mut b), None);
        assert_eq!(b, b"rest");
    }

    #[test]
    fn random_input_never_panics() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 64) as usize;
            let mut v = Vec::with_capacity(len);
            let mut y = x;
            for _ in 0..len {
                y ^= y << 13;
                y ^= y >> 7;
                y ^= y << 17;
                // Bias towards the bytes the parsers care about.
                v.push(match y % 8 {
                    0 => b'$',
                    1 => b'+',
                    2 => b' ',
                    3 => b'\n',
                    4 => b'0' + (y >> 8) as u8 % 10,
                    _ => (y >> 16) as u8,
                });
            }
            let _ = parse_psync_reply(&v);
            let _ = parse_payload_header(&v);
            let mut b = v.clone();
            while take_line(&mut b).is_some() {}
        }
    }

    #[test]
    fn role_words() {
        assert_eq!(LinkState::ReceivePsync.role_word(), "handshake");
        assert_eq!(LinkState::Transfer.role_word(), "sync");
        assert_eq!(LinkState::Connected.role_word(), "connected");
    }
}
