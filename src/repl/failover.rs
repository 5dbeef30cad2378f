//! Coordinated failover: FAILOVER on a master hands its role to one of its
//! replicas without losing a write.
//!
//! Owns the failover's progress (`Master::failover`): the states shown in
//! INFO's `master_failover_state`, the target, the deadline and FORCE. The
//! steps: FAILOVER pauses writes and waits (`waiting-for-sync`) until the
//! target (or, without TO, any replica) acknowledged the whole stream; then
//! (`failover-in-progress`) this server follows the target, whose handshake
//! sends `PSYNC <replid> <offset> FAILOVER`; the target promotes itself on
//! that request and answers +CONTINUE. Once the PSYNC is answered the pause
//! ends (the writes that waited then meet a replica). TIMEOUT without FORCE
//! gives up; with FORCE it fails over anyway. FAILOVER ABORT, a timeout or a
//! rejected PSYNC make this server a master again.
//!
//! Must not touch sockets or the handshake itself: the replica side
//! (`super::replica`) asks [`in_progress`] whether to add the FAILOVER word
//! and reports the PSYNC answer through [`psync_answered`]. Mirrors Redis
//! 7.0's `failoverCommand`, `updateFailoverStatus`, `abortFailover`,
//! `clearFailoverState` and the PSYNC FAILOVER branch of `syncCommand`.

use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::cmd::args;
use crate::server::{Pause, Server};

use super::replica::PsyncReply;

/// Where a failover stands (INFO `master_failover_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    /// No failover.
    #[default]
    None,
    /// Writes are paused; waiting for a replica to acknowledge everything.
    WaitForSync,
    /// Following the target, whose PSYNC FAILOVER answer is awaited.
    InProgress,
}

impl State {
    /// The word INFO prints.
    pub fn word(self) -> &'static str {
        // COMPAT: getFailoverStateString.
        match self {
            State::None => "no-failover",
            State::WaitForSync => "waiting-for-sync",
            State::InProgress => "failover-in-progress",
        }
    }
}

/// A failover's progress, kept on the master-side replication state.
#[derive(Debug, Default)]
pub struct Failover {
    /// Where it stands.
    pub state: State,
    /// `host port` of the replica taking over; None until one is chosen
    /// when FAILOVER named none.
    target: Option<(String, i64)>,
    /// When waiting gives up (Unix ms); 0: never.
    end_ms: i64,
    /// Fail over at the deadline even if the target lags.
    force: bool,
}

/// The options of one FAILOVER call.
#[derive(Debug, Default, PartialEq, Eq)]
struct Request {
    target: Option<(String, i64)>,
    timeout_ms: i64,
    force: bool,
}

/// Parses `[TO host port] [FORCE] [TIMEOUT ms]` (each at most once, in any
/// order) as Redis does: a repeated option is a syntax error.
fn parse(argv: &[bytes::Bytes]) -> Result<Request, ReplyError> {
    let mut req = Request::default();
    let mut j = 1;
    while j < argv.len() {
        let rest = argv.len() - j - 1;
        if args::is(&argv[j], "timeout") && rest >= 1 && req.timeout_ms == 0 {
            let ms = args::int(&argv[j + 1])?;
            if ms <= 0 {
                // COMPAT: failoverCommand's errors, here and in `failover`.
                return Err(ReplyError::err("FAILOVER timeout must be greater than 0"));
            }
            req.timeout_ms = ms;
            j += 2;
        } else if args::is(&argv[j], "to") && rest >= 2 && req.target.is_none() {
            let port = args::int(&argv[j + 2])?;
            req.target = Some((String::from_utf8_lossy(&argv[j + 1]).into_owned(), port));
            j += 3;
        } else if args::is(&argv[j], "force") && !req.force {
            req.force = true;
            j += 1;
        } else {
            return Err(ReplyError::Syntax);
        }
    }
    Ok(req)
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms].
pub fn failover(srv: &mut Server, c: &mut Client) -> CmdResult {
    if srv.config.cluster_enabled {
        return Err(ReplyError::err("FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead."));
    }
    if c.argc() == 2 && args::is(c.arg(1), "abort") {
        if srv.repl.failover.state == State::None {
            return Err(ReplyError::err("No failover in progress."));
        }
        abort(srv, "Failover manually aborted");
        c.reply.ok();
        return Ok(());
    }
    let req = parse(&c.argv)?;
    if srv.repl.failover.state != State::None {
        return Err(ReplyError::err("FAILOVER already in progress."));
    }
    if srv.repl.replica.is_replica() {
        return Err(ReplyError::err("FAILOVER is not valid when server is a replica."));
    }
    if srv.repl.replicas.is_empty() {
        return Err(ReplyError::err("FAILOVER requires connected replicas."));
    }
    if req.force && (req.timeout_ms == 0 || req.target.is_none()) {
        return Err(ReplyError::err("FAILOVER with force option requires both a timeout and target HOST and IP."));
    }
    match &req.target {
        Some((host, port)) => {
            let Some(key) = find_replica(srv, host, *port) else {
                return Err(ReplyError::err("FAILOVER target HOST and PORT is not a replica."));
            };
            if !srv.repl.replica_info.get(&key).is_some_and(|i| i.state.online()) {
                return Err(ReplyError::err("FAILOVER target replica is not online."));
            }
            // COMPAT: failoverCommand's log lines.
            log::info!("FAILOVER requested to {host}:{port}.");
        }
        None => log::info!("FAILOVER requested to any replica."),
    }
    let end_ms = if req.timeout_ms > 0 { srv.clock.now_ms.saturating_add(req.timeout_ms) } else { 0 };
    srv.repl.failover = Failover { state: State::WaitForSync, target: req.target, end_ms, force: req.force };
    // Paused, keys expire logically but are not deleted (no writes happen).
    srv.ks.expire_deletes = false;
    c.reply.ok();
    Ok(())
}

/// The attached replica announced as `host:port` (its announced or peer
/// address, compared without case, and its listening port).
fn find_replica(srv: &Server, host: &str, port: i64) -> Option<usize> {
    srv.repl.replicas.iter().copied().find(|&key| {
        let Some(Some(c)) = srv.clients.get(key) else { return false };
        let listening = srv.repl.replica_info.get(&key).map_or(0, |i| i.listening_port);
        i64::from(listening) == port && srv.replica_ip(c).eq_ignore_ascii_case(host)
    })
}

/// From the cron and before sleeping: while waiting, gives up (or, with
/// FORCE, fails over) at the deadline, else fails over as soon as the
/// target (any replica when none was named) acknowledged the whole stream.
pub fn update(srv: &mut Server) {
    let f = &srv.repl.failover;
    if f.state != State::WaitForSync {
        return;
    }
    if f.end_ms != 0 && f.end_ms <= srv.clock.now_ms {
        match f.target.clone() {
            Some((host, port)) if f.force => {
                // COMPAT: updateFailoverStatus's log lines, here and below.
                log::info!("FAILOVER to {host}:{port} time out exceeded, failing over.");
                start(srv, host, port);
            }
            _ => abort(srv, "Replica never caught up before timeout"),
        }
        return;
    }
    let offset = srv.repl.offset;
    let caught_up = |srv: &Server, key: usize| srv.repl.replica_info.get(&key).is_some_and(|i| i.ack_offset == offset);
    let target = match srv.repl.failover.target.clone() {
        Some((host, port)) => find_replica(srv, &host, port).filter(|&k| caught_up(srv, k)).map(|_| (host, port)),
        None => srv.repl.replicas.iter().copied().find(|&k| caught_up(srv, k)).and_then(|key| {
            let c = srv.clients.get(key)?.as_deref()?;
            let port = srv.repl.replica_info.get(&key).map_or(0, |i| i.listening_port);
            Some((srv.replica_ip(c), i64::from(port)))
        }),
    };
    if let Some((host, port)) = target {
        log::info!("Failover target {host}:{port} is synced, failing over.");
        srv.repl.failover.target = Some((host.clone(), port));
        start(srv, host, port);
    }
}

/// Starts following the target; its handshake carries the FAILOVER word.
fn start(srv: &mut Server, host: String, port: i64) {
    srv.repl.failover.state = State::InProgress;
    // A port that fits no socket cannot be a replica's; the connect fails
    // and FAILOVER ABORT remains, as in Redis.
    super::replica::set_master(srv, host, u16::try_from(port).unwrap_or(0));
}

/// Calls the failover off with `reason` (logged): a server already following
/// the target becomes a master again (a new history, the old one kept as
/// replid2 so the replicas continue); writes resume.
pub fn abort(srv: &mut Server, reason: &str) {
    let f = &srv.repl.failover;
    if f.state == State::None {
        return;
    }
    // COMPAT: abortFailover's log lines.
    match &f.target {
        Some((host, port)) => log::info!("FAILOVER to {host}:{port} aborted: {reason}"),
        None => log::info!("FAILOVER to any replica aborted: {reason}"),
    }
    if f.state == State::InProgress {
        super::replica::unset_master(srv);
    }
    clear(srv);
}

/// Forgets the failover and lets the writes that waited run (unless CLIENT
/// PAUSE still holds them).
fn clear(srv: &mut Server) {
    srv.repl.failover = Failover::default();
    if srv.pause == Pause::None {
        srv.unpause();
    }
}

/// True while the handshake must send `PSYNC <replid> <offset> FAILOVER`.
pub fn in_progress(srv: &Server) -> bool {
    srv.repl.failover.state == State::InProgress
}

/// The handshake got `reply` to its PSYNC. During a failover a
/// resynchronisation (partial or, in edge cases, full) completes it; any
/// other answer aborts it. False when the link must be dropped (aborted).
pub fn psync_answered(srv: &mut Server, reply: &PsyncReply) -> bool {
    if !in_progress(srv) {
        return true;
    }
    match reply {
        PsyncReply::Full(..) | PsyncReply::Continue(_) => {
            clear(srv);
            true
        }
        PsyncReply::TryLater | PsyncReply::Error => {
            abort(srv, "Failover target rejected psync request");
            false
        }
    }
}

/// Whether writes wait because a failover is under way.
pub fn pauses_writes(srv: &Server) -> bool {
    srv.repl.failover.state != State::None
}

/// Whether the master's periodic PING is held back: it would move the
/// offset the replicas must reach before a deadline (Redis skips it only
/// for a failover with a timeout).
pub fn holds_pings(srv: &Server) -> bool {
    srv.repl.failover.state != State::None && srv.repl.failover.end_ms != 0
}

/// How often the replication cron runs: every 100 ms during a failover, so
/// the handshake progresses quickly, else every second.
pub fn cron_period_ms(srv: &Server) -> i64 {
    if srv.repl.failover.state == State::None {
        1000
    } else {
        100
    }
}

/// REPLICAOF is refused while failing over (only FAILOVER ABORT stops it).
pub fn refuse_replicaof(srv: &Server) -> Result<(), ReplyError> {
    if srv.repl.failover.state != State::None {
        // COMPAT: replicaofCommand's refusal.
        return Err(ReplyError::err("REPLICAOF not allowed while failing over."));
    }
    Ok(())
}

/// At the top of SYNC/PSYNC. `PSYNC <replid> <offset> FAILOVER` from our
/// master, naming our own history, promotes this server before the request
/// is served as usual; named to a master or with another id it is refused.
/// No replica may synchronise with a server that is failing over.
pub fn check_sync(srv: &mut Server, c: &Client) -> Result<(), ReplyError> {
    if c.argc() > 3 && args::is(c.arg(0), "psync") && args::is(c.arg(3), "failover") {
        let replid = String::from_utf8_lossy(c.arg(1)).into_owned();
        // COMPAT: syncCommand's failover log lines and errors.
        log::warn!("Failover request received for replid {replid}.");
        if !srv.repl.replica.is_replica() {
            return Err(ReplyError::err("PSYNC FAILOVER can't be sent to a master."));
        }
        if !replid.eq_ignore_ascii_case(&srv.repl.replid) {
            return Err(ReplyError::err("PSYNC FAILOVER replid must match my replid."));
        }
        super::replica::unset_master(srv);
        log::info!(
            "MASTER MODE enabled (failover request from '{}')",
            crate::client::mem::info_line(c, srv.clock.now_ms)
        );
    }
    if srv.repl.failover.state != State::None {
        // COMPAT: syncCommand's refusal while failing over.
        return Err(ReplyError::other("NOMASTERLINK Can't SYNC while failing over"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn argv(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    #[test]
    fn options_in_any_order() {
        let r = parse(&argv(&["FAILOVER", "timeout", "100", "TO", "h", "7000", "force"])).unwrap();
        assert_eq!(r, Request { target: Some(("h".into(), 7000)), timeout_ms: 100, force: true });
        assert_eq!(parse(&argv(&["FAILOVER"])).unwrap(), Request::default());
    }

    #[test]
    fn bad_options() {
        let err = |w: &[&str]| parse(&argv(w)).unwrap_err().to_string();
        assert_eq!(err(&["FAILOVER", "TO", "h", "port"]), "ERR value is not an integer or out of range");
        assert_eq!(err(&["FAILOVER", "TIMEOUT", "0"]), "ERR FAILOVER timeout must be greater than 0");
        assert_eq!(err(&["FAILOVER", "TIMEOUT", "-5"]), "ERR FAILOVER timeout must be greater than 0");
        assert_eq!(err(&["FAILOVER", "TIMEOUT", "5", "TIMEOUT", "6"]), "ERR syntax error");
        assert_eq!(err(&["FAILOVER", "FORCE", "FORCE"]), "ERR syntax error");
        assert_eq!(err(&["FAILOVER", "TO", "h"]), "ERR syntax error");
        assert_eq!(err(&["FAILOVER", "ABORT", "TIMEOUT", "5"]), "ERR syntax error");
    }

    #[test]
    fn state_words() {
        assert_eq!(State::default().word(), "no-failover");
        assert_eq!(State::WaitForSync.word(), "waiting-for-sync");
        assert_eq!(State::InProgress.word(), "failover-in-progress");
    }

    #[test]
    fn random_arguments_never_panic() {
        let words = ["to", "TO", "force", "timeout", "abort", "1", "0", "-1", "x", "65536", ""];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = (x % 8) as usize;
            let mut v = vec![Bytes::from_static(b"failover")];
            let mut y = x;
            for _ in 0..n {
                y ^= y << 13;
                y ^= y >> 7;
                y ^= y << 17;
                v.push(Bytes::copy_from_slice(words[(y % words.len() as u64) as usize].as_bytes()));
            }
            if let Ok(r) = parse(&v) {
                assert!(r.timeout_ms >= 0);
            }
        }
    }
}
