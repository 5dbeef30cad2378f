//! Connection commands: PING, ECHO, QUIT, RESET, AUTH, HELLO and CLIENT.
//!
//! Authentication covers the default user and `requirepass` until ACLs land.
//! Mirrors Redis 7.0's replies and error texts, including HELLO's map and the
//! CLIENT LIST line layout.

use super::args;
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::{Client, ReplyMode};
use crate::server::{Pause, Server};

/// PING [message].
pub fn ping(_srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.argc() > 2 {
        return Err(ReplyError::WrongArity("ping".into()));
    }
    if c.reply.resp == 2 && c.subs.count() > 0 {
        // A subscribed RESP2 client gets ["pong", message].
        let m = c.argv.get(1).cloned().unwrap_or_default();
        c.reply.array(2);
        c.reply.bulk(b"pong");
        c.reply.bulk(&m);
    } else if c.argc() == 2 {
        let m = c.argv[1].clone();
        c.reply.bulk(&m);
    } else {
        c.reply.simple("PONG");
    }
    Ok(())
}

/// ECHO message.
pub fn echo(_srv: &mut Server, c: &mut Client) -> CmdResult {
    let m = c.argv[1].clone();
    c.reply.bulk(&m);
    Ok(())
}

/// QUIT: +OK, then the connection closes once the reply is written.
pub fn quit(_srv: &mut Server, c: &mut Client) -> CmdResult {
    c.reply.ok();
    c.flags.close_after_reply = true;
    Ok(())
}

/// RESET: back to a fresh connection's state (db 0, RESP2, no name, reply on,
/// authenticated only if no password is needed).
pub fn reset(srv: &mut Server, c: &mut Client) -> CmdResult {
    c.db = 0;
    c.reply.resp = 2;
    c.name = None;
    c.reply_mode = ReplyMode::On;
    c.flags.no_evict = false;
    super::multi::discard_transaction(srv, c);
    c.authenticated = srv.config.requirepass.is_empty();
    c.user = "default".into();
    super::pubsub::forget_client(srv, c);
    crate::tracking::forget_client(srv, c);
    c.reply.simple("RESET");
    Ok(())
}

/// Checks a user/password pair against the default user.
fn check_password(srv: &Server, user: &[u8], pass: &[u8]) -> bool {
    user == b"default" && (srv.config.requirepass.is_empty() || srv.config.requirepass.as_bytes() == pass)
}

/// AUTH [username] password.
pub fn auth(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.argc() > 3 {
        return Err(ReplyError::Syntax);
    }
    let (user, pass) = if c.argc() == 2 { (&b"default"[..], c.arg(1)) } else { (c.arg(1), c.arg(2)) };
    if c.argc() == 2 && srv.config.requirepass.is_empty() {
        // COMPAT: Redis's hint when AUTH is used without any password set.
        return Err(ReplyError::err(
            "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    if check_password(srv, user, pass) {
        c.authenticated = true;
        c.user = "default".into();
        c.reply.ok();
        Ok(())
    } else {
        Err(ReplyError::WrongPass)
    }
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]].
pub fn hello(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut ver = c.reply.resp;
    let mut j = 1;
    if c.argc() >= 2 {
        let v =
            args::int(c.arg(1)).map_err(|_| ReplyError::err("Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(ReplyError::other("NOPROTO unsupported protocol version"));
        }
        ver = v as u8;
        j = 2;
    }
    let mut auth: Option<(bytes::Bytes, bytes::Bytes)> = None;
    let mut setname: Option<bytes::Bytes> = None;
    while j < c.argc() {
        let left = c.argc() - j - 1;
        if args::is(c.arg(j), "auth") && left >= 2 {
            auth = Some((c.argv[j + 1].clone(), c.argv[j + 2].clone()));
            j += 3;
        } else if args::is(c.arg(j), "setname") && left >= 1 {
            let name = c.argv[j + 1].clone();
            validate_name(&name)?;
            setname = Some(name);
            j += 2;
        } else {
            return Err(ReplyError::err(format!(
                "Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(c.arg(j))
            )));
        }
    }
    if let Some((u, p)) = auth {
        if !check_password(srv, &u, &p) {
            return Err(ReplyError::WrongPass);
        }
        c.authenticated = true;
    }
    if !c.authenticated {
        return Err(ReplyError::other("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(n) = setname {
        c.name = if n.is_empty() { None } else { Some(n) };
    }
    c.reply.resp = ver;
    c.reply.map(7);
    c.reply.bulk(b"server");
    c.reply.bulk(b"redis");
    c.reply.bulk(b"version");
    c.reply.bulk(crate::REDIS_VERSION.as_bytes());
    c.reply.bulk(b"proto");
    c.reply.int(ver as i64);
    c.reply.bulk(b"id");
    c.reply.int(c.id as i64);
    c.reply.bulk(b"mode");
    c.reply.bulk(if srv.config.cluster_enabled { b"cluster" as &[u8] } else { b"standalone" });
    c.reply.bulk(b"role");
    c.reply.bulk(b"master");
    c.reply.bulk(b"modules");
    c.reply.array(0);
    Ok(())
}

/// Client names may not contain spaces, newlines or special characters.
fn validate_name(name: &[u8]) -> CmdResult {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(ReplyError::err("Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(())
}

// ------------------------------------------------------------------ CLIENT

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

/// One CLIENT LIST / CLIENT INFO line, fields in Redis 7.0's order.
pub fn client_info_line(c: &Client, now_ms: i64) -> String {
    let mut flags = String::new();
    if c.flags.close_after_reply || c.flags.close_asap {
        flags.push(if c.flags.close_asap { 'A' } else { 'c' });
    }
    if c.flags.multi {
        flags.push('x');
    }
    if c.subs.count() > 0 {
        flags.push('P');
    }
    if c.flags.unix_socket {
        flags.push('U');
    }
    if c.flags.no_evict {
        flags.push('e');
    }
    if c.blocked.is_some() {
        flags.push('b');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let mut events = String::from("r");
    if c.want_write {
        events.push('w');
    }
    let qbuf = c.query.len();
    let qbuf_free = c.query.capacity() - c.query.len();
    let obl = c.reply.len();
    let argv_mem: usize = c.argv.iter().map(|a| a.len()).sum();
    let tot_mem = qbuf + qbuf_free + c.reply.buf.capacity() + argv_mem + 1024;
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs={} rbp={} obl={} oll=0 omem=0 tot-mem={} events={} cmd={} user={} redir=-1 resp={}",
        c.id,
        c.addr,
        c.laddr,
        c.stream.fd(),
        c.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default(),
        (now_ms - c.created_ms) / 1000,
        (now_ms - c.last_interaction_ms) / 1000,
        flags,
        c.db,
        c.subs.channels.len(),
        c.subs.patterns.len(),
        if c.flags.multi { c.multi_queue.len() as i64 } else { -1 },
        qbuf,
        qbuf_free,
        argv_mem,
        c.reply.buf.capacity(),
        c.reply.buf.len(),
        obl,
        tot_mem,
        events,
        c.last_cmd,
        c.user,
        c.reply.resp,
    )
}

/// CLIENT INFO.
pub fn client_info(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut line = client_info_line(c, srv.clock.now_ms);
    line.push('\n');
    c.reply.verbatim(line.as_bytes(), "txt");
    Ok(())
}

/// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id ...].
pub fn client_list(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    if c.argc() >= 4 && args::is(c.arg(2), "type") && c.argc() == 4 {
        let t = String::from_utf8_lossy(c.arg(3)).to_lowercase();
        if !["normal", "master", "replica", "slave", "pubsub"].contains(&t.as_str()) {
            return Err(ReplyError::err(format!("Unknown client type '{}'", String::from_utf8_lossy(c.arg(3)))));
        }
        if t != "normal" {
            c.reply.verbatim(b"", "txt");
            return Ok(());
        }
    } else if c.argc() >= 4 && args::is(c.arg(2), "id") {
        let mut v = Vec::new();
        for i in 3..c.argc() {
            match crate::util::num::string2ll(c.arg(i)) {
                Some(n) if n > 0 => v.push(n as u64),
                _ => return Err(ReplyError::err("Invalid client ID")),
            }
        }
        ids = Some(v);
    } else if c.argc() != 2 {
        return Err(ReplyError::Syntax);
    }
    let now = srv.clock.now_ms;
    let mut out = String::new();
    let mut lines: Vec<(u64, String)> = Vec::new();
    for (_, slot) in srv.clients.iter() {
        if let Some(other) = slot {
            lines.push((other.id, client_info_line(other, now)));
        }
    }
    lines.push((c.id, client_info_line(c, now)));
    lines.sort_by_key(|(id, _)| *id);
    for (id, line) in lines {
        if ids.as_ref().is_some_and(|v| !v.contains(&id)) {
            continue;
        }
        out.push_str(&line);
        out.push('\n');
    }
    c.reply.verbatim(out.as_bytes(), "txt");
    Ok(())
}

/// CLIENT KILL addr | CLIENT KILL [ID id] [ADDR a] [LADDR a] [TYPE t] [USER u] [SKIPME yes|no].
pub fn client_kill(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut id: Option<u64> = None;
    let mut addr: Option<String> = None;
    let mut laddr: Option<String> = None;
    let mut user: Option<String> = None;
    let mut ctype: Option<String> = None;
    let mut skipme = true;
    let old_style = c.argc() == 3;
    if old_style {
        addr = Some(String::from_utf8_lossy(c.arg(2)).into_owned());
        skipme = false;
    } else {
        let mut i = 2;
        while i < c.argc() {
            if i + 1 >= c.argc() {
                return Err(ReplyError::Syntax);
            }
            let v = String::from_utf8_lossy(c.arg(i + 1)).into_owned();
            let o = c.arg(i);
            if args::is(o, "id") {
                match crate::util::num::string2ll(c.arg(i + 1)) {
                    Some(n) if n > 0 => id = Some(n as u64),
                    _ => return Err(ReplyError::err("client-id should be greater than 0")),
                }
            } else if args::is(o, "addr") {
                addr = Some(v);
            } else if args::is(o, "laddr") {
                laddr = Some(v);
            } else if args::is(o, "user") {
                user = Some(v);
            } else if args::is(o, "type") {
                let t = v.to_lowercase();
                if !["normal", "master", "replica", "slave", "pubsub"].contains(&t.as_str()) {
                    return Err(ReplyError::err(format!("Unknown client type '{v}'")));
                }
                ctype = Some(t);
            } else if args::is(o, "skipme") {
                if args::is(c.arg(i + 1), "yes") {
                    skipme = true;
                } else if args::is(c.arg(i + 1), "no") {
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
    let matches = |o: &Client| {
        id.is_none_or(|x| o.id == x)
            && addr.as_ref().is_none_or(|a| &o.addr == a)
            && laddr.as_ref().is_none_or(|a| &o.laddr == a)
            && user.as_ref().is_none_or(|u| &o.user == u)
            && ctype.as_ref().is_none_or(|t| t == "normal")
    };
    let mut victims: Vec<usize> =
        srv.clients.iter().filter_map(|(k, slot)| slot.as_ref().filter(|o| matches(o)).map(|_| k)).collect();
    let mut killed = victims.len();
    let me = !skipme && matches(c);
    if me {
        killed += 1;
        c.flags.close_after_reply = true;
    }
    for k in victims.drain(..) {
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

/// CLIENT NO-EVICT ON|OFF.
pub fn client_no_evict(_srv: &mut Server, c: &mut Client) -> CmdResult {
    if args::is(c.arg(2), "on") {
        c.flags.no_evict = true;
    } else if args::is(c.arg(2), "off") {
        c.flags.no_evict = false;
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
            "    Kill connections. Options are: ID, TYPE, USER, ADDR, LADDR, SKIPME.",
            "LIST [options ...]",
            "    Return information about client connections.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    );
    Ok(())
}
