//! SLOWLOG GET [count] / LEN / RESET / HELP: replies over `crate::slowlog`.
//!
//! Reply shapes are Redis 7.0's: each entry is a six-element array (id,
//! unix time, microseconds, arguments, client address, client name).

use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::server::Server;

/// Entries SLOWLOG GET returns without a count.
const DEFAULT_COUNT: usize = 10;

/// SLOWLOG GET [count]: the newest `count` entries (10 by default, -1 for
/// all).
pub fn get(srv: &mut Server, c: &mut Client) -> CmdResult {
    let count = match c.argc() {
        2 => Some(DEFAULT_COUNT),
        3 => {
            // COMPAT: getRangeLongFromObjectOrReply's message for this range.
            let bad = || ReplyError::err("count should be greater than or equal to -1");
            let n = crate::util::num::string2ll(c.arg(2)).ok_or_else(bad)?;
            match n {
                -1 => None,
                n if n < -1 => return Err(bad()),
                n => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            }
        }
        _ => return Err(super::stream::subcommand_syntax(c)),
    };
    let entries: Vec<_> = srv.slowlog.newest(count).collect();
    c.reply.array(entries.len());
    for e in entries {
        c.reply.array(6);
        c.reply.int(e.id as i64);
        c.reply.int(e.time);
        c.reply.int(e.duration_us.min(i64::MAX as u64) as i64);
        c.reply.array(e.argv.len());
        for a in &e.argv {
            c.reply.bulk(a);
        }
        c.reply.bulk(e.peer.as_bytes());
        c.reply.bulk(&e.name);
    }
    Ok(())
}

/// SLOWLOG LEN.
pub fn len(srv: &mut Server, c: &mut Client) -> CmdResult {
    c.reply.int(srv.slowlog.len() as i64);
    Ok(())
}

/// SLOWLOG RESET.
pub fn reset(srv: &mut Server, c: &mut Client) -> CmdResult {
    srv.slowlog.reset();
    c.reply.ok();
    Ok(())
}

/// SLOWLOG HELP.
pub fn help(_srv: &mut Server, c: &mut Client) -> CmdResult {
    super::help_reply(
        c,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}
