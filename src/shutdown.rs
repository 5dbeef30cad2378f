//! Shutting down: SHUTDOWN, SIGTERM/SIGINT, and the wait for lagging
//! replicas in between.
//!
//! Owns the shutdown's progress (`Server::shutdown_ms`, the SHUTDOWN
//! callers blocked until it ends) and its last step, `finish`: the final
//! save, the pid file, the last flush to replicas. Unless NOW is given or
//! `shutdown-timeout` is 0, a master whose replicas have not acknowledged
//! the whole stream first pauses writes, asks them for an ACK and waits up
//! to `shutdown-timeout` seconds; the cron finishes as soon as they caught
//! up. A failed finish (or SHUTDOWN ABORT) answers the blocked callers with
//! an error and the server runs on. Mirrors Redis 7.0's prepareForShutdown,
//! isReadyToShutdown, finishShutdown, cancelShutdown and abortShutdown.

use crate::blocked::Blocked;
use crate::client::reply::ReplyError;
use crate::client::Client;
use crate::config::ShutdownFlags;
use crate::propagate::words;
use crate::reactor::signal;
use crate::server::Server;

/// How an attempt to shut down went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything is done: exit now.
    Exit,
    /// Waiting for replicas (or another shutdown is already under way).
    Waiting,
    /// It failed; the reason is logged and the server runs on.
    Failed,
}

/// Starts shutting down with `flags`. The caller exits on `Exit`.
pub fn prepare(srv: &mut Server, mut flags: ShutdownFlags) -> Outcome {
    if srv.shutdown_ms != 0 {
        return Outcome::Waiting;
    }
    if srv.persist.loading || srv.sentinel_mode {
        // Saving a half-loaded dataset would lose the rest of it; a Sentinel has none.
        flags = ShutdownFlags((flags.0 & !ShutdownFlags::SAVE.0) | ShutdownFlags::NOSAVE.0);
    }
    srv.shutdown_flags = flags;
    // COMPAT: prepareForShutdown's log lines, here and below.
    log::warn!("User requested shutdown...");
    if !flags.contains(ShutdownFlags::NOW) && srv.config.shutdown_timeout != 0 && !replicas_in_sync(srv) {
        srv.shutdown_ms = srv.clock.now_ms + srv.config.shutdown_timeout * 1000;
        if srv.pause == crate::server::Pause::None {
            srv.repl_feed_unselected(&[words::REPLCONF, words::GETACK, words::STAR]);
        }
        log::info!("Waiting for replicas before shutting down.");
        return Outcome::Waiting;
    }
    finish(srv)
}

/// True when every replica acknowledged the whole stream.
fn replicas_in_sync(srv: &Server) -> bool {
    let offset = srv.repl.offset;
    srv.repl.replicas.iter().all(|k| srv.repl.replica_info.get(k).is_some_and(|i| i.ack_offset == offset))
}

/// The cron's part: a pending signal starts a shutdown; a shutdown waiting
/// for replicas finishes once they caught up or the timeout passed.
pub fn cron(srv: &mut Server) {
    if srv.shutdown_asap && srv.shutdown_ms == 0 && srv.exit_code.is_none() {
        let flags = if srv.shutdown_by_sigint { srv.config.shutdown_on_sigint } else { srv.config.shutdown_on_sigterm };
        match prepare(srv, flags) {
            Outcome::Exit => srv.exit_code = Some(0),
            Outcome::Waiting => {}
            Outcome::Failed => {
                // COMPAT: serverCron's message after a refused signal shutdown.
                log::warn!(
                    "SIGTERM received but errors trying to shut down the server, check the logs for more information"
                );
            }
        }
    } else if srv.shutdown_ms != 0
        && srv.exit_code.is_none()
        && (srv.clock.now_ms >= srv.shutdown_ms || replicas_in_sync(srv))
        && finish(srv) == Outcome::Exit
    {
        srv.exit_code = Some(0);
    }
}

/// The last steps: report lagging replicas, kill a saving child, save the
/// final snapshot when save points exist (or SAVE was given, unless
/// NOSAVE), remove the pid file and the Unix socket, flush what the
/// replicas have not received yet, close the listeners.
pub fn finish(srv: &mut Server) -> Outcome {
    let flags = srv.shutdown_flags;
    signal::set_shutting_down(true);
    let offset = srv.repl.offset;
    let mut lagging = 0;
    for &key in &srv.repl.replicas {
        let (ack_offset, ack_ms, state) =
            srv.repl.replica_info.get(&key).map_or((0, 0, crate::repl::sync::SyncState::Online), |i| (i.ack_offset, i.ack_ms, i.state));
        if ack_offset == offset {
            continue;
        }
        lagging += 1;
        let Some(Some(c)) = srv.clients.get(key) else { continue };
        let online = state == crate::repl::sync::SyncState::Online;
        log::warn!(
            "Lagging replica {} reported offset {} behind master, lag={}, state={}.",
            srv.replica_name(c),
            offset - ack_offset,
            if online { (srv.clock.now_ms - ack_ms) / 1000 } else { 0 },
            state.word()
        );
    }
    let replicas = srv.repl.replicas.len();
    if replicas > 0 {
        log::info!("{} of {replicas} replicas are in sync when shutting down.", replicas - lagging);
    }
    if srv.persist.child_is(crate::persist::child::ChildKind::Rdb) {
        log::warn!("There is a child saving an .rdb. Killing it!");
        crate::persist::rdb::kill_child(srv);
    }
    if !crate::persist::aof::prepare_for_shutdown(srv, flags.contains(ShutdownFlags::FORCE)) {
        return fail(srv);
    }
    let nosave = flags.contains(ShutdownFlags::NOSAVE);
    if (!srv.config.save.is_empty() && !nosave) || flags.contains(ShutdownFlags::SAVE) {
        log::info!("Saving the final RDB snapshot before exiting.");
        if !crate::persist::rdb::save(srv) {
            if flags.contains(ShutdownFlags::FORCE) {
                log::warn!("Error trying to save the DB. Exit anyway.");
            } else {
                log::warn!("Error trying to save the DB, can't exit.");
                return fail(srv);
            }
        }
    }
    if !srv.config.pidfile.is_empty() {
        log::info!("Removing the pid file.");
        let _ = std::fs::remove_file(&srv.config.pidfile);
    }
    if !srv.config.unixsocket.is_empty() {
        log::info!("Removing the unix socket file.");
        let _ = std::fs::remove_file(&srv.config.unixsocket);
    }
    srv.flush_all_clients();
    srv.listeners.clear();
    log::warn!("Redis is now ready to exit, bye bye...");
    Outcome::Exit
}

/// A finish that cannot complete: logged, then the shutdown is called off.
fn fail(srv: &mut Server) -> Outcome {
    log::warn!("Errors trying to shut down the server. Check the logs for more information.");
    cancel(srv);
    Outcome::Failed
}

/// Calls the shutdown off: writes resume and the SHUTDOWN callers get an
/// error.
fn cancel(srv: &mut Server) {
    signal::set_shutting_down(false);
    srv.shutdown_asap = false;
    srv.shutdown_ms = 0;
    srv.shutdown_flags = ShutdownFlags::DEFAULT;
    for key in std::mem::take(&mut srv.shutdown_waiters) {
        let Some(mut c) = srv.take_client_slot(key) else { continue };
        if c.blocked.as_ref().is_some_and(|b| b.kind == "shutdown") {
            srv.unblock_client(&mut c);
            // COMPAT: replyToClientsBlockedOnShutdown's error.
            srv.reply_error(&mut c, &ReplyError::err("Errors trying to SHUTDOWN. Check logs."));
            c.argv.clear();
            c.command_ready = false;
            srv.process_input(&mut c);
            srv.queue_client_write(&mut c);
        }
        srv.return_client_slot(c);
    }
    if srv.pause == crate::server::Pause::None {
        // Writes held back by the shutdown's pause run now.
        srv.unpause();
    }
}

/// SHUTDOWN ABORT: calls off a shutdown in progress or a signal's request
/// not yet acted on. False when there is neither.
pub fn abort(srv: &mut Server) -> bool {
    // A signal not yet acted on (the cron may be paused) counts too.
    let pending = matches!(signal::take(), libc::SIGINT | libc::SIGTERM);
    if srv.shutdown_ms != 0 {
        cancel(srv);
    } else if pending || srv.shutdown_asap {
        srv.shutdown_asap = false;
    } else {
        return false;
    }
    // COMPAT: abortShutdown's log line.
    log::warn!("Shutdown manually aborted.");
    true
}

/// Blocks the SHUTDOWN caller `c` until the shutdown ends (it gets an error
/// if it is called off; otherwise the connection just closes).
pub fn block_caller(srv: &mut Server, c: &mut Client) {
    c.blocked = Some(Blocked {
        db: c.db,
        keys: Vec::new(),
        kind: "shutdown",
        wake_on_delete: false,
        deadline_ms: None,
        timer: None,
        wait_for: None,
    });
    srv.stats.blocked_clients += 1;
    srv.shutdown_waiters.push(c.key);
}

/// Whether writes wait because a shutdown waits for replicas.
pub fn pauses_writes(srv: &Server) -> bool {
    srv.shutdown_ms != 0
}
