//! Sentinel's outgoing connections to masters, replicas and other Sentinels.
//!
//! Owns the connection table (`Conn`, keyed by the low half of a
//! `TokenKind::SentinelLink` token), non-blocking connect, buffered writes,
//! reading replies with the RESP decoder, and routing each reply to the
//! callback queued with its command (Redis's hiredis async context with its
//! reply callbacks). Must not decide what a reply means: `monitor` and
//! `failover` do. A closed connection only marks its instances disconnected;
//! the timer reconnects.
//!
//! A Sentinel watched through several masters is reached over one command
//! connection, as Redis shares one instanceLink between such instances
//! (`link-refcount`): each queued command names the instance its reply is
//! for, and a connection is closed only when no instance uses it any more.

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use mio::Interest;

use super::{Role, Sentinel, Which};
use crate::reactor::net::Stream;
use crate::reactor::{Reactor, TokenKind};
use crate::resp::value::{encode_command_into, Decoder, Value};
use crate::server::Server;

/// Which instance a connection belongs to, by names (stable across index changes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Master name.
    pub master: String,
    /// Instance kind.
    pub role: Role,
    /// Instance name.
    pub name: String,
}

/// What to do with a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// Ignore it.
    Discard,
    /// PING reply.
    Ping,
    /// INFO reply.
    Info,
    /// PUBLISH of a hello.
    Publish,
    /// SENTINEL IS-MASTER-DOWN-BY-ADDR reply.
    IsMasterDown,
    /// SUBSCRIBE on the pub/sub link: an error reply (say -NOAUTH) drops the
    /// link, as hiredis drops a connection on an unexpected error.
    Subscribe,
}

/// One connection.
pub struct Conn {
    stream: Stream,
    out: Vec<u8>,
    inbuf: Vec<u8>,
    decoder: Decoder,
    /// The instance.
    pub owner: Owner,
    /// The pub/sub connection (replies are hello messages), else the command one.
    pub pubsub: bool,
    /// Reply callbacks in order, with the instance each reply is for when it
    /// is not the owner (a shared connection).
    pending: VecDeque<(Callback, Option<Owner>)>,
    connected: bool,
}

/// Opens a connection to `addr` for `owner`; when the connect fails at once,
/// the reason as hiredis words it (`Connection refused`), for the
/// `-cmd-link-reconnection` / `-pubsub-link-reconnection` events.
pub fn open(
    s: &mut Sentinel,
    reactor: &Reactor,
    ip: &str,
    port: u16,
    owner: Owner,
    pubsub: bool,
) -> Result<usize, String> {
    let sa = std::net::ToSocketAddrs::to_socket_addrs(&(ip, port))
        .map_err(|e| errstr(&e))?
        .next()
        .ok_or_else(|| "Can't resolve: ".to_string() + ip)?;
    let tcp = mio::net::TcpStream::connect(sa).map_err(|e| errstr(&e))?;
    let mut stream = Stream::Tcp(tcp);
    let entry = s.conns.vacant_entry();
    let key = entry.key();
    reactor
        .register(&mut stream, TokenKind::SentinelLink.token(key), Interest::READABLE | Interest::WRITABLE)
        .map_err(|e| errstr(&e))?;
    entry.insert(Conn {
        stream,
        out: Vec::new(),
        inbuf: Vec::new(),
        decoder: Decoder::new(),
        owner,
        pubsub,
        pending: VecDeque::new(),
        connected: false,
    });
    Ok(key)
}

/// An I/O error as strerror() prints it, without Rust's " (os error N)".
fn errstr(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Queues a command on connection `key`; its reply goes to `cb` for the
/// connection's owner.
pub fn send<A: AsRef<[u8]>>(s: &mut Sentinel, key: usize, args: &[A], cb: Callback) -> bool {
    queue(s, key, None, args, cb)
}

/// Queues a command on connection `key` for instance `w` of master `mi`
/// (which may share the connection); its reply goes to `cb` for that instance.
pub fn send_for<A: AsRef<[u8]>>(s: &mut Sentinel, key: usize, mi: usize, w: Which, args: &[A], cb: Callback) -> bool {
    let owner = owner_of(s, mi, w);
    queue(s, key, Some(owner), args, cb)
}

fn queue<A: AsRef<[u8]>>(s: &mut Sentinel, key: usize, owner: Option<Owner>, args: &[A], cb: Callback) -> bool {
    let Some(c) = s.conns.get_mut(key) else { return false };
    encode_command_into(&mut c.out, args);
    c.pending.push_back((cb, owner.filter(|o| *o != c.owner)));
    if c.connected {
        let _ = flush(c);
    }
    true
}

fn flush(c: &mut Conn) -> io::Result<()> {
    while !c.out.is_empty() {
        match c.stream.write(&c.out) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                c.out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The local IP of connection `key` (for hello messages).
pub fn local_ip(s: &Sentinel, key: usize) -> Option<String> {
    match &s.conns.get(key)?.stream {
        Stream::Tcp(t) => t.local_addr().ok().map(|a| a.ip().to_string()),
        Stream::Unix(_) => None,
    }
}

/// The owner record of instance `w` of master `mi`.
pub fn owner_of(s: &Sentinel, mi: usize, w: Which) -> Owner {
    let ri = s.masters[mi].get(w);
    Owner { master: s.masters[mi].ri.name.clone(), role: ri.role, name: ri.name.clone() }
}

/// Every instance, as (master index, which).
fn all_instances(s: &Sentinel) -> Vec<(usize, Which)> {
    let mut v = Vec::new();
    for (mi, m) in s.masters.iter().enumerate() {
        v.push((mi, Which::Master));
        v.extend((0..m.replicas.len()).map(|i| (mi, Which::Replica(i))));
        v.extend((0..m.sentinels.len()).map(|i| (mi, Which::Sentinel(i))));
    }
    v
}

/// Instances whose command connection is `key`.
fn users(s: &Sentinel, key: usize) -> usize {
    all_instances(s).into_iter().filter(|&(mi, w)| s.masters[mi].get(w).link.cc == Some(key)).count()
}

/// How many instances share the command connection `cc` of an instance
/// (Redis's `link-refcount`; 1 when it has none).
pub fn refcount(s: &Sentinel, cc: Option<usize>) -> usize {
    cc.map_or(1, |k| users(s, k).max(1))
}

/// A command connection another master's instance of the Sentinel `runid`
/// already has, to share (Redis's sentinelTryConnectionSharing).
pub fn shareable(s: &Sentinel, mi: usize, runid: &str) -> Option<usize> {
    s.masters
        .iter()
        .enumerate()
        .filter(|&(m, _)| m != mi)
        .find_map(|(_, m)| m.sentinels.iter().find(|si| si.runid.as_deref() == Some(runid)).and_then(|si| si.link.cc))
}

/// Closes connection `key` and marks every instance using it disconnected.
pub fn close(s: &mut Sentinel, reactor: &Reactor, key: usize) {
    if !s.conns.contains(key) {
        return;
    }
    let mut c = s.conns.remove(key);
    let _ = reactor.deregister(&mut c.stream);
    for (mi, w) in all_instances(s) {
        let ri = s.masters[mi].get_mut(w);
        let mut hit = false;
        if ri.link.cc == Some(key) {
            ri.link.cc = None;
            ri.link.pending_commands = 0;
            hit = true;
        }
        if ri.link.pc == Some(key) {
            ri.link.pc = None;
            hit = true;
        }
        if hit {
            ri.disconnected = true;
        }
    }
}

/// Lets go of both connections of an instance: a command connection other
/// instances still share stays open for them.
pub fn close_instance(s: &mut Sentinel, reactor: &Reactor, mi: usize, w: Which) {
    let l = s.masters[mi].get(w).link.clone();
    if let Some(k) = l.cc {
        if users(s, k) > 1 {
            let ri = s.masters[mi].get_mut(w);
            ri.link.cc = None;
            ri.link.pending_commands = 0;
            ri.disconnected = true;
        } else {
            close(s, reactor, k);
        }
    }
    if let Some(k) = l.pc {
        close(s, reactor, k);
    }
}

/// Closes every connection of a master and of its replicas and Sentinels.
pub fn close_master(s: &mut Sentinel, reactor: &Reactor, mi: usize) {
    close_instance(s, reactor, mi, Which::Master);
    for i in 0..s.masters[mi].replicas.len() {
        close_instance(s, reactor, mi, Which::Replica(i));
    }
    for i in 0..s.masters[mi].sentinels.len() {
        close_instance(s, reactor, mi, Which::Sentinel(i));
    }
}

/// Finds the instance a connection belongs to.
pub fn locate(s: &Sentinel, o: &Owner) -> Option<(usize, Which)> {
    let mi = s.master_idx(&o.master)?;
    Some((mi, s.masters[mi].find(o.role, &o.name)?))
}

/// Readiness on a Sentinel link: completes the connect, writes, reads and
/// dispatches replies.
pub fn on_event(srv: &mut Server, key: usize, readable: bool, writable: bool) {
    super::with(srv, None, |s, reactor, now| handle(s, reactor, key, readable, writable, now));
}

fn handle(s: &mut Sentinel, reactor: &Reactor, key: usize, readable: bool, writable: bool, now: i64) {
    let Some(c) = s.conns.get_mut(key) else { return };
    if writable && !c.connected {
        let ok = match &c.stream {
            Stream::Tcp(t) => matches!(t.take_error(), Ok(None)) && t.peer_addr().is_ok(),
            Stream::Unix(_) => true,
        };
        if !ok {
            close(s, reactor, key);
            return;
        }
        c.connected = true;
    }
    if c.connected && flush(c).is_err() {
        close(s, reactor, key);
        return;
    }
    if !readable {
        return;
    }
    let mut buf = [0u8; 16 * 1024];
    let mut eof = false;
    loop {
        match c.stream.read(&mut buf) {
            Ok(0) => {
                eof = true;
                break;
            }
            Ok(n) => c.inbuf.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                eof = true;
                break;
            }
        }
    }
    let mut replies = Vec::new();
    let mut bad = false;
    loop {
        match c.decoder.decode(&c.inbuf) {
            Ok(Some((v, used))) => {
                c.inbuf.drain(..used);
                replies.push(v);
            }
            Ok(None) => break,
            Err(_) => {
                bad = true;
                break;
            }
        }
    }
    let pubsub = c.pubsub;
    let mut cbs = Vec::with_capacity(replies.len());
    for _ in 0..replies.len() {
        let (cb, for_owner) = c.pending.pop_front().unwrap_or((Callback::Discard, None));
        cbs.push((cb, for_owner.unwrap_or_else(|| c.owner.clone())));
    }
    for (v, (cb, owner)) in replies.into_iter().zip(cbs) {
        let Some((mi, w)) = locate(s, &owner) else { continue };
        if pubsub {
            s.masters[mi].get_mut(w).link.pc_last_activity = now;
            if cb == Callback::Subscribe && v.is_error() {
                bad = true;
                break;
            }
            super::monitor::on_pubsub_message(s, reactor, &v, now);
        } else {
            let ri = s.masters[mi].get_mut(w);
            ri.link.pending_commands = (ri.link.pending_commands - 1).max(0);
            dispatch(s, mi, w, cb, &v, now);
        }
    }
    if eof || bad {
        close(s, reactor, key);
    }
}

fn dispatch(s: &mut Sentinel, mi: usize, w: Which, cb: Callback, v: &Value, now: i64) {
    match cb {
        Callback::Discard | Callback::Subscribe => {}
        Callback::Ping => super::monitor::on_ping_reply(s, mi, w, v, now),
        Callback::Info => {
            if let Some(text) = v.as_bytes() {
                let text = String::from_utf8_lossy(text).into_owned();
                super::monitor::refresh_info(s, mi, w, &text, now);
            }
        }
        Callback::Publish => {
            if !v.is_error() {
                s.masters[mi].get_mut(w).last_pub_time = now;
            }
        }
        Callback::IsMasterDown => super::failover::on_is_master_down_reply(s, mi, w, v, now),
    }
}
