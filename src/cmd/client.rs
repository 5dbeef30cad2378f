//! CLIENT subcommands and MONITOR: how operators see, name, limit and kill
//! connections, and the live feed of executed commands.
//!
//! Handlers only; the per-client figures and the CLIENT LIST line come from
//! `client::mem`, closing goes through `Server::kill_client`. Mirrors Redis
//! 7.0's CLIENT replies and error texts, its KILL filters (old `addr` form,
//! ID, TYPE, USER, ADDR, LADDR, SKIPME), and MONITOR's line format
//! (`+<sec>.<usec> [<db> <addr>] "arg" ...`) including which commands are not
//! shown (admin and skip-monitor commands) and which arguments are redacted
//! (passwords of AUTH, HELLO AUTH and sensitive CONFIG SET parameters).

use std::fmt::Write as _;

use super::args;
use crate::client::mem::{self, Class};
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::{Client, ReplyMode};
use crate::cmd::spec::CmdFlags;
use crate::server::{Pause, Server};

/// Client names may not contain spaces, newlines or special characters
/// (CLIENT LIST must stay splittable on spaces).
pub fn validate_name(name: &[u8]) -> CmdResult {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        // COMPAT: Redis's text.
        return Err(ReplyError::err("Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(())
}

/// CLIENT ID.
pub fn client_id(_srv: &mut Server, c: &mut Client) -> CmdResult {
    c.reply.int(c.id as i64);
    Ok(())
}

/// CLIENT SETNAME name (empty clears it).
pub fn client_setname(_srv: &mut Server, c: &mut Client) -> CmdResult {
    let n = c.argv[2].clone();
    validate_name(&n)?;
    c.name = if n.is_empty() { None } else { Some(n) };
    c.reply.ok();
    Ok(())
}

/// CLIENT GETNAME.
pub fn client_getname(_srv: &mut Server, c: &mut Client) -> CmdResult {
    match c.name.clone() {
        Some(n) => c.reply.bulk(&n),
        None => c.reply.null(),
    }
    Ok(())
}

/// CLIENT INFO.
pub fn client_info(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut line = mem::info_line(c, srv.clock.now_ms);
    line.push('\n');
    c.reply.verbatim(line.as_bytes(), "txt");
    Ok(())
}

/// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id [id ...]].
pub fn client_list(srv: &mut Server, c: &mut Client) -> CmdResult {
    let now = srv.clock.now_ms;
    let mut out = String::new();
    let line = |out: &mut String, o: &Client| {
        out.push_str(&mem::info_line(o, now));
        out.push('\n');
    };
    if c.argc() == 4 && args::is(c.arg(2), "type") {
        let Some(class) = Class::parse(c.arg(3)) else {
            // COMPAT: Redis's text.
            return Err(ReplyError::err(format!("Unknown client type '{}'", String::from_utf8_lossy(c.arg(3)))));
        };
        for o in all_clients(srv, c) {
            if mem::class_of(o) == class {
                line(&mut out, o);
            }
        }
    } else if c.argc() > 3 && args::is(c.arg(2), "id") {
        let mut ids = Vec::with_capacity(c.argc() - 3);
        for i in 3..c.argc() {
            ids.push(crate::util::num::string2ll(c.arg(i)).ok_or_else(|| ReplyError::err("Invalid client ID"))?);
        }
        // In the order asked, as Redis answers it.
        for id in ids {
            if let Some(o) = all_clients(srv, c).find(|o| o.id as i64 == id) {
                line(&mut out, o);
            }
        }
    } else if c.argc() == 2 {
        for o in all_clients(srv, c) {
            line(&mut out, o);
        }
    } else {
        return Err(ReplyError::Syntax);
    }
    c.reply.verbatim(out.as_bytes(), "txt");
    Ok(())
}

/// Every client in connection order, the running one (out of the slab) included.
fn all_clients<'a>(srv: &'a Server, current: &'a Client) -> impl Iterator<Item = &'a Client> {
    let mut all: Vec<&Client> = srv.clients.iter().filter_map(|(_, s)| s.as_deref()).collect();
    all.push(current);
    all.sort_by_key(|o| o.id);
    all.into_iter()
}

/// What CLIENT KILL matches.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<Vec<u8>>,
    laddr: Option<Vec<u8>>,
    user: Option<Vec<u8>>,
    class: Option<Class>,
}

impl KillFilter {
    fn matches(&self, o: &Client) -> bool {
        self.id.is_none_or(|x| o.id == x)
            && self.addr.as_ref().is_none_or(|a| o.addr.as_bytes() == &a[..])
            && self.laddr.as_ref().is_none_or(|a| o.laddr.as_bytes() == &a[..])
            && self.user.as_ref().is_none_or(|u| o.user.as_bytes() == &u[..])
            && self.class.is_none_or(|t| mem::class_of(o) == t)
    }
}

/// CLIENT KILL addr | CLIENT KILL [ID id] [TYPE t] [USER u] [ADDR a] [LADDR a] [SKIPME yes|no].
pub fn client_kill(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut f = KillFilter::default();
    let mut skipme = true;
    let old_style = c.argc() == 3;
    if old_style {
        f.addr = Some(c.arg(2).to_vec());
        skipme = false;
    } else {
        let mut i = 2;
        while i < c.argc() {
            if i + 1 >= c.argc() {
                return Err(ReplyError::Syntax);
            }
            let (o, v) = (c.arg(i), c.arg(i + 1));
            if args::is(o, "id") {
                match crate::util::num::string2ll(v) {
                    Some(n) if n > 0 => f.id = Some(n as u64),
                    // COMPAT: Redis's range error for the id.
                    _ => return Err(ReplyError::err("client-id should be greater than 0")),
                }
            } else if args::is(o, "type") {
                let Some(t) = Class::parse(v) else {
                    return Err(ReplyError::err(format!("Unknown client type '{}'", String::from_utf8_lossy(v))));
                };
                f.class = Some(t);
            } else if args::is(o, "addr") {
                f.addr = Some(v.to_vec());
            } else if args::is(o, "laddr") {
                f.laddr = Some(v.to_vec());
            } else if args::is(o, "user") {
                if srv.acl.lookup(v).is_none() {
                    // COMPAT: clientKillCommand's text.
                    return Err(ReplyError::err(format!("No such user '{}'", String::from_utf8_lossy(v))));
                }
                f.user = Some(v.to_vec());
            } else if args::is(o, "skipme") {
                if args::is(v, "yes") {
                    skipme = true;
                } else if args::is(v, "no") {
                    skipme = false;
                } else {
                    return Err(ReplyError::Syntax);
                }
            } else {
                return Err(ReplyError::Syntax);
            }
            i += 2;
        }
    }
    let victims: Vec<usize> =
        srv.clients.iter().filter_map(|(k, s)| s.as_deref().filter(|o| f.matches(o)).map(|_| k)).collect();
    let me = !skipme && f.matches(c);
    let killed = victims.len() + me as usize;
    for k in victims {
        srv.kill_client(k);
    }
    if old_style {
        if killed == 0 {
            return Err(ReplyError::err("No such client"));
        }
        c.reply.ok();
    } else {
        c.reply.int(killed as i64);
    }
    // Flagged after the reply is queued, so the caller still gets it.
    if me {
        c.flags.close_after_reply = true;
    }
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL].
pub fn client_pause(srv: &mut Server, c: &mut Client) -> CmdResult {
    let ms = args::int(c.arg(2)).map_err(|_| ReplyError::TimeoutNotInteger)?;
    if ms < 0 {
        return Err(ReplyError::err("timeout is negative"));
    }
    let all = if c.argc() == 4 {
        if args::is(c.arg(3), "write") {
            false
        } else if args::is(c.arg(3), "all") {
            true
        } else {
            return Err(ReplyError::err("CLIENT PAUSE mode must be WRITE or ALL"));
        }
    } else if c.argc() == 3 {
        true
    } else {
        return Err(ReplyError::Syntax);
    };
    let until = srv.clock.now_ms.saturating_add(ms);
    // A stronger or longer pause wins over the current one.
    srv.pause = match (srv.pause, all) {
        (Pause::All(t), _) => Pause::All(t.max(until)),
        (Pause::Write(t), true) => Pause::All(t.max(until)),
        (Pause::Write(t), false) => Pause::Write(t.max(until)),
        (Pause::None, true) => Pause::All(until),
        (Pause::None, false) => Pause::Write(until),
    };
    // Paused, keys expire logically but are not deleted (no writes happen).
    srv.ks.expire_deletes = false;
    c.reply.ok();
    Ok(())
}

/// CLIENT UNPAUSE.
pub fn client_unpause(srv: &mut Server, c: &mut Client) -> CmdResult {
    srv.unpause();
    c.reply.ok();
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP.
pub fn client_reply(_srv: &mut Server, c: &mut Client) -> CmdResult {
    if args::is(c.arg(2), "on") {
        c.reply_mode = ReplyMode::On;
        c.reply.muted = false;
        c.reply.ok();
    } else if args::is(c.arg(2), "off") {
        c.reply_mode = ReplyMode::Off;
    } else if args::is(c.arg(2), "skip") {
        if c.reply_mode == ReplyMode::On {
            c.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(ReplyError::Syntax);
    }
    Ok(())
}

/// CLIENT NO-EVICT ON|OFF: exempts the connection from client eviction.
pub fn client_no_evict(srv: &mut Server, c: &mut Client) -> CmdResult {
    if args::is(c.arg(2), "on") {
        c.flags.no_evict = true;
    } else if args::is(c.arg(2), "off") {
        c.flags.no_evict = false;
        srv.client_mem.update(c);
    } else {
        return Err(ReplyError::Syntax);
    }
    c.reply.ok();
    Ok(())
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]: 1 if that client was blocked.
pub fn client_unblock(srv: &mut Server, c: &mut Client) -> CmdResult {
    let with_error = match c.argc() {
        3 => false,
        4 if args::is(c.arg(3), "timeout") => false,
        4 if args::is(c.arg(3), "error") => true,
        _ => return Err(ReplyError::err("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")),
    };
    let id = args::int(c.arg(2))?;
    let target = srv.clients.iter().find(|(_, s)| s.as_ref().is_some_and(|o| o.id as i64 == id)).map(|(k, _)| k);
    let done = match target {
        Some(k) => srv.unblock_by_request(k, with_error),
        None => false,
    };
    c.reply.int(done as i64);
    Ok(())
}

/// CLIENT HELP.
pub fn client_help(_srv: &mut Server, c: &mut Client) -> CmdResult {
    super::help_reply(
        c,
        "CLIENT",
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    );
    Ok(())
}

// ------------------------------------------------------------------ MONITOR

/// MONITOR: from now on the connection receives every command executed.
pub fn monitor(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.in_exec {
        // COMPAT: Redis's text for a client that expects one reply per command.
        return Err(ReplyError::err("MONITOR isn't allowed for DENY BLOCKING client"));
    }
    if c.flags.monitor {
        return Ok(());
    }
    c.flags.monitor = true;
    srv.monitors.push(c.key);
    c.reply.ok();
    Ok(())
}

/// One MONITOR line for the command `c` just ran (table index `idx`).
fn monitor_line(srv: &Server, c: &Client, idx: usize) -> Vec<u8> {
    let now_us = crate::util::clock::unix_us();
    let mut s = String::with_capacity(64);
    let _ = write!(s, "+{}.{:06} ", now_us.div_euclid(1_000_000), now_us.rem_euclid(1_000_000));
    if c.flags.unix_socket {
        let _ = write!(s, "[{} unix:{}] ", c.db, srv.config.unixsocket);
    } else {
        let _ = write!(s, "[{} {}] ", c.db, c.addr);
    }
    let redacted = crate::slowlog::redacted_positions(srv.commands.cmds[idx].fullname, &c.argv);
    for (i, a) in c.argv.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        if redacted.contains(&i) {
            s.push_str("\"(redacted)\"");
        } else {
            s.push_str(&crate::config::repr(a));
        }
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// Sends the command `c` just ran to every MONITOR client, unless the
/// command is never shown (admin commands, scripts' own lines).
pub fn feed_monitors(srv: &mut Server, c: &mut Client, idx: usize) {
    let flags = srv.commands.cmds[idx].flags;
    if flags.has(CmdFlags::ADMIN) || flags.has(CmdFlags::SKIP_MONITOR) {
        return;
    }
    let line = monitor_line(srv, c, idx);
    let monitors = srv.monitors.clone();
    for k in monitors {
        srv.with_client(k, Some(&mut *c), |m| m.reply.unmuted(|r| r.raw(&line)));
    }
}

/// Sends the command `c` is running to every MONITOR client now, whatever
/// its flags (EVAL and FCALL show themselves before their commands).
pub fn feed_monitors_now(srv: &mut Server, c: &mut Client, idx: usize) {
    let line = monitor_line(srv, c, idx);
    let monitors = srv.monitors.clone();
    for k in monitors {
        srv.with_client(k, Some(&mut *c), |m| m.reply.unmuted(|r| r.raw(&line)));
    }
}

/// Forgets a closing client if it was a monitor.
pub fn forget_monitor(srv: &mut Server, c: &Client) {
    if c.flags.monitor {
        srv.monitors.retain(|&k| k != c.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn argv(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(crate::slowlog::redacted_positions("auth", &argv(&["auth", "pw"])), vec![1]);
        assert_eq!(crate::slowlog::redacted_positions("auth", &argv(&["auth", "u", "pw"])), vec![1, 2]);
        assert_eq!(crate::slowlog::redacted_positions("hello", &argv(&["hello", "2", "AUTH", "u", "p"])), vec![3, 4]);
        assert_eq!(
            crate::slowlog::redacted_positions("hello", &argv(&["hello", "3", "setname", "x", "auth", "u", "p"])),
            vec![5, 6]
        );
        assert_eq!(
            crate::slowlog::redacted_positions(
                "config|set",
                &argv(&["config", "set", "maxmemory", "1", "requirepass", "x"])
            ),
            vec![5]
        );
        assert!(crate::slowlog::redacted_positions("get", &argv(&["get", "k"])).is_empty());
    }

    #[test]
    fn redaction_never_panics_on_random_argv() {
        let mut rng = crate::util::rand::Rng::with_seed(42);
        let words = ["auth", "hello", "2", "3", "AUTH", "setname", "requirepass", "x", ""];
        for _ in 0..2000 {
            let n = rng.below(8) as usize;
            let v: Vec<&str> = (0..n).map(|_| words[rng.below(words.len() as u64) as usize]).collect();
            let a = argv(&v);
            for name in ["auth", "hello", "config|set"] {
                assert!(crate::slowlog::redacted_positions(name, &a).iter().all(|&i| i < a.len()));
            }
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name(b"ok-name_1").is_ok());
        assert!(validate_name(b"foo bar").is_err());
        assert!(validate_name(b"a\nb").is_err());
    }
}
