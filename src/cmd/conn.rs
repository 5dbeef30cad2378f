//! Connection commands: PING, ECHO, QUIT, RESET, AUTH and HELLO (CLIENT
//! lives in `client`).
//!
//! Authentication goes through the ACL users (`crate::acl`).
//! Mirrors Redis 7.0's replies and error texts, including HELLO's map.

use super::args;
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::{Client, ReplyMode};
use crate::server::Server;

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
    crate::acl::reset_client_user(srv, c);
    super::pubsub::forget_client(srv, c);
    crate::tracking::forget_client(srv, c);
    // A MONITOR stops being one (Redis's clearClientConnectionState).
    super::client::forget_monitor(srv, c);
    c.flags.monitor = false;
    c.reply.simple("RESET");
    Ok(())
}

/// AUTH [username] password.
pub fn auth(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.argc() > 3 {
        return Err(ReplyError::Syntax);
    }
    let (user, pass) = if c.argc() == 2 {
        (bytes::Bytes::from_static(b"default"), c.argv[1].clone())
    } else {
        (c.argv[1].clone(), c.argv[2].clone())
    };
    if c.argc() == 2 && srv.acl.default_nopass() {
        // COMPAT: Redis's hint when AUTH is used without any password set.
        return Err(ReplyError::err(
            "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    crate::acl::authenticate(srv, c, &user, &pass)?;
    c.reply.ok();
    Ok(())
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
            super::client::validate_name(&name)?;
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
        crate::acl::authenticate(srv, c, &u, &p)?;
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
    c.reply.bulk(if srv.repl.replica.is_replica() { b"replica" as &[u8] } else { b"master" });
    c.reply.bulk(b"modules");
    c.reply.array(0);
    Ok(())
}
