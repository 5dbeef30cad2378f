//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queueing happens in `server::execute` (every command but the ones named in
//! `runs_inside_multi` is queued with `+QUEUED` while the client is in MULTI);
//! EXEC replays the queue through `server::call`, so each queued command gets
//! its own statistics and error accounting, as in Redis.

use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::server::Server;

/// Commands that run immediately even inside MULTI.
pub fn runs_inside_multi(name: &str) -> bool {
    matches!(name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
}

/// Leaves MULTI state and forgets watched keys.
pub fn discard_transaction(srv: &mut Server, c: &mut Client) {
    c.multi_queue.clear();
    forget_queued_flags(c);
    c.flags.multi = false;
    c.multi_error = false;
    c.cas_dirty = false;
    srv.unwatch_all(c);
}

fn forget_queued_flags(c: &mut Client) {
    c.multi_flags = crate::cmd::spec::CmdFlags(0);
    c.multi_flags_missing = crate::cmd::spec::CmdFlags(0);
}

/// MULTI.
pub fn multi(_srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.flags.multi {
        return Err(ReplyError::err("MULTI calls can not be nested"));
    }
    c.flags.multi = true;
    c.reply.ok();
    Ok(())
}

/// DISCARD.
pub fn discard(srv: &mut Server, c: &mut Client) -> CmdResult {
    if !c.flags.multi {
        return Err(ReplyError::err("DISCARD without MULTI"));
    }
    discard_transaction(srv, c);
    c.reply.ok();
    Ok(())
}

/// EXEC: the replies of the queued commands, a null array if a watched key
/// changed, or EXECABORT if a command was rejected while queueing.
pub fn exec(srv: &mut Server, c: &mut Client) -> CmdResult {
    if !c.flags.multi {
        return Err(ReplyError::err("EXEC without MULTI"));
    }
    // A key watched while live that has since expired counts as changed.
    let now = srv.ks.now_ms;
    if c.watched.iter().any(|(db, k, was_expired)| !was_expired && srv.ks.expire_at(*db, k).is_some_and(|at| at <= now))
    {
        c.cas_dirty = true;
    }
    if c.multi_error {
        discard_transaction(srv, c);
        return Err(ReplyError::other("EXECABORT Transaction discarded because of previous errors."));
    }
    if c.cas_dirty {
        discard_transaction(srv, c);
        c.reply.null_array();
        return Ok(());
    }
    srv.unwatch_all(c);
    let queue = std::mem::take(&mut c.multi_queue);
    forget_queued_flags(c);
    c.flags.multi = false;
    let saved = std::mem::take(&mut c.argv);
    c.reply.array(queue.len());
    c.in_exec = true;
    for (idx, argv) in queue {
        c.argv = argv;
        // Rules may have changed since the command was queued.
        if let Err(e) = crate::acl::check_queued(srv, c, idx) {
            srv.reply_error(c, &e);
            continue;
        }
        srv.call(c, idx);
    }
    c.in_exec = false;
    c.argv = saved;
    discard_transaction(srv, c);
    Ok(())
}

/// WATCH key [key ...].
pub fn watch(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.flags.multi {
        return Err(ReplyError::err("WATCH inside MULTI is not allowed"));
    }
    if !c.cas_dirty {
        let db = c.db;
        for i in 1..c.argc() {
            let key = c.argv[i].clone();
            srv.watch_key(c, db, &key);
        }
    }
    c.reply.ok();
    Ok(())
}

/// UNWATCH.
pub fn unwatch(srv: &mut Server, c: &mut Client) -> CmdResult {
    srv.unwatch_all(c);
    c.cas_dirty = false;
    c.reply.ok();
    Ok(())
}
