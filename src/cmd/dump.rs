//! DUMP, RESTORE and MIGRATE: moving single values between servers in the
//! RDB-based DUMP payload format.
//!
//! Mirrors cluster.c's dumpCommand / restoreCommand / migrateCommand: the
//! option rules and error texts, RESTORE's TTL / ABSTTL / IDLETIME handling
//! and its "restore" keyspace event, and MIGRATE's synchronous transfer
//! (AUTH, SELECT, one RESTORE per key, replies read back with the caller's
//! timeout, one retry on a broken cached connection) with its cache of
//! connections per target closed after 10 idle seconds. The payload format
//! itself lives in `rdb`; this file only parses arguments, talks to the
//! keyspace and, for MIGRATE, to the target socket.
//!
//! `sanitize-dump-payload` changes no outcome here: `rdb` validates every
//! payload entry by entry whatever the setting, since our structures are
//! never built from unchecked bytes (Redis skips that work when the option
//! is off and may crash on the value later). The setting only decides
//! whether INFO's `dump_payload_sanitizations` counts the work, as in Redis.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::args;
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::config::SanitizeDumpPayload;
use crate::db::notify;
use crate::rdb::{self, LoadLimits};
use crate::server::Server;

/// COMPAT: Redis's shared BUSYKEY error.
const BUSYKEY: &str = "BUSYKEY Target key name already exists.";

/// DUMP key: the serialized value, or nil when the key does not exist.
pub fn dump(srv: &mut Server, c: &mut Client) -> CmdResult {
    let compress = srv.config.rdbcompression;
    match srv.ks.get(c.db, c.arg(1)) {
        Some(v) => {
            let payload = rdb::dump_payload(v, compress);
            c.reply.bulk(&payload);
        }
        None => c.reply.null(),
    }
    Ok(())
}

/// The thresholds RESTORE applies to what it loads.
pub fn load_limits(srv: &Server) -> LoadLimits {
    LoadLimits::from_config(&srv.config, super::list::packed_threshold())
}

/// Whether `sanitize-dump-payload` asks for deep sanitization of what `c`
/// restores: always with `yes`, with `clients` unless the user has
/// `skip-sanitize-payload` (Redis also exempts its master and AOF clients,
/// which do not exist here yet). Only INFO's counter depends on it: the
/// payload is validated in full either way.
fn deep_sanitization(srv: &Server, c: &Client) -> bool {
    match srv.config.sanitize_dump_payload {
        SanitizeDumpPayload::Yes => true,
        SanitizeDumpPayload::No => false,
        SanitizeDumpPayload::Clients => {
            srv.acl.user(c.acl_user).is_none_or(|u| !u.flags().contains(&"skip-sanitize-payload"))
        }
    }
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
/// [FREQ frequency]: creates `key` from a DUMP payload. Replies OK; fires
/// `restore` (and `del` when REPLACE removed a key and the TTL was already
/// past); counts one write.
pub fn restore(srv: &mut Server, c: &mut Client) -> CmdResult {
    let db = c.db;
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < c.argc() {
        let more = c.argc() - j - 1;
        if args::is(c.arg(j), "replace") {
            replace = true;
        } else if args::is(c.arg(j), "absttl") {
            absttl = true;
        } else if args::is(c.arg(j), "idletime") && more >= 1 && freq.is_none() {
            let v = args::int(c.arg(j + 1))?;
            if v < 0 {
                // COMPAT: restoreCommand's text.
                return Err(ReplyError::err("Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
            j += 1;
        } else if args::is(c.arg(j), "freq") && more >= 1 && idle.is_none() {
            let v = args::int(c.arg(j + 1))?;
            if !(0..=255).contains(&v) {
                // COMPAT: restoreCommand's text.
                return Err(ReplyError::err("Invalid FREQ value, must be >= 0 and <= 255"));
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    let key = c.argv[1].clone();
    if !replace && srv.ks.exists(db, &key) {
        return Err(ReplyError::other(BUSYKEY));
    }
    let ttl = args::int(c.arg(2))?;
    if ttl < 0 {
        // COMPAT: restoreCommand's text.
        return Err(ReplyError::err("Invalid TTL value, must be >= 0"));
    }
    let body = rdb::verify_payload(c.arg(3), rdb::skip_checksum_validation()).map_err(ReplyError::err)?;
    let value = match rdb::decode_value_counted(body, &load_limits(srv)) {
        Ok((v, blobs)) => {
            if deep_sanitization(srv, c) {
                srv.stats.dump_payload_sanitizations += blobs;
            }
            v
        }
        Err(e) => {
            // Redis logs the reason at verbose level and replies generically.
            log::debug!("{e}");
            // COMPAT: restoreCommand's reply for any load failure.
            return Err(ReplyError::err("Bad data format"));
        }
    };
    let deleted = replace && srv.ks.delete(db, &key);
    let now = srv.ks.now_ms;
    let at = if ttl != 0 && !absttl { ttl.saturating_add(now) } else { ttl };
    if at != 0 && at <= now {
        // Already expired: the key is not created (and REPLACE's delete stands).
        if deleted {
            srv.ks.touch_write(db, &key);
            srv.ks.notify(notify::GENERIC, "del", db, &key);
        }
        c.reply.ok();
        return Ok(());
    }
    srv.ks.set(db, &key, value, false);
    if at != 0 {
        srv.ks.set_expire(db, &key, at);
    }
    // IDLETIME under an LRU policy, FREQ under an LFU one (the other is ignored).
    if let Some(o) = srv.ks.dbs[db].dict.get_mut(&key[..]) {
        crate::evict::set_access(o, &srv.ks.access, freq.map(|f| f as u8), idle, now);
    }
    // Replicas get the absolute expiry time, whatever their clock says.
    if ttl != 0 && !absttl {
        let mut argv = c.argv.clone();
        argv[2] = bytes::Bytes::from(at.to_string());
        argv.push(bytes::Bytes::from_static(b"ABSTTL"));
        srv.propagate_as(argv);
    }
    srv.ks.touch_write(db, &key);
    srv.ks.notify(notify::GENERIC, "restore", db, &key);
    c.reply.ok();
    Ok(())
}

/// Cached connections are closed after this many idle seconds.
const MIGRATE_CACHE_TTL_SECS: i64 = 10;
/// At most this many targets are cached; a random one goes to make room.
const MIGRATE_CACHE_ITEMS: usize = 64;
/// Longest reply line read from the target (Redis reads into 1 KiB).
const MIGRATE_LINE_MAX: u64 = 1024;

struct Cached {
    conn: BufReader<TcpStream>,
    /// The db selected on this connection, if known.
    last_db: Option<i64>,
    last_use_secs: i64,
}

/// MIGRATE's connections to targets, by `host:port`.
#[derive(Default)]
pub struct MigrateCache {
    sockets: HashMap<String, Cached>,
}

impl std::fmt::Debug for MigrateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrateCache").field("sockets", &self.sockets.len()).finish()
    }
}

impl MigrateCache {
    /// Number of open cached connections (INFO `migrate_cached_sockets`).
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// Closes connections idle for more than 10 seconds (server cron).
    pub fn close_idle(&mut self, now_secs: i64) {
        self.sockets.retain(|_, s| now_secs - s.last_use_secs <= MIGRATE_CACHE_TTL_SECS);
    }
}

/// A cached or new connection to `host:port`; the error reply on failure.
fn migrate_socket<'a>(
    cache: &'a mut MigrateCache,
    host: &str,
    port: &str,
    timeout: Duration,
    now_secs: i64,
) -> Result<&'a mut Cached, ReplyError> {
    let name = format!("{host}:{port}");
    if !cache.sockets.contains_key(&name) {
        if cache.sockets.len() >= MIGRATE_CACHE_ITEMS {
            if let Some(k) = cache.sockets.keys().next().cloned() {
                cache.sockets.remove(&k);
            }
        }
        // COMPAT: migrateGetSocket's text.
        let fail = || ReplyError::other("IOERR error or timeout connecting to the client");
        let port_n: u16 = port.parse().map_err(|_| fail())?;
        let addr = (host, port_n).to_socket_addrs().ok().and_then(|mut a| a.next()).ok_or_else(fail)?;
        let stream = TcpStream::connect_timeout(&addr, timeout).map_err(|_| fail())?;
        let _ = stream.set_nodelay(true);
        cache
            .sockets
            .insert(name.clone(), Cached { conn: BufReader::new(stream), last_db: None, last_use_secs: now_secs });
    }
    let cs = cache
        .sockets
        .get_mut(&name)
        .ok_or_else(|| ReplyError::other("IOERR error or timeout connecting to the client"))?;
    cs.last_use_secs = now_secs;
    let _ = cs.conn.get_ref().set_read_timeout(Some(timeout));
    let _ = cs.conn.get_ref().set_write_timeout(Some(timeout));
    Ok(cs)
}

/// Appends one command in RESP multibulk form.
fn push_command(out: &mut Vec<u8>, parts: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", parts.len()).as_bytes());
    for p in parts {
        out.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
}

/// How reading a reply line failed.
enum LineError {
    /// The read timed out.
    Timeout,
    /// The connection failed or closed.
    Broken,
}

/// Reads one reply line (without CRLF) within the socket's timeout.
fn read_line(conn: &mut BufReader<TcpStream>) -> Result<Vec<u8>, LineError> {
    let mut line = Vec::new();
    match conn.by_ref().take(MIGRATE_LINE_MAX).read_until(b'\n', &mut line) {
        Ok(0) => Err(LineError::Broken),
        Ok(_) => {
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            Ok(line)
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Err(LineError::Timeout),
        Err(_) => Err(LineError::Broken),
    }
}

/// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
/// [AUTH password | AUTH2 username password] [KEYS key ...]: moves (or with
/// COPY copies) keys to another server by RESTOREing them there. Replies
/// OK, NOKEY when no key exists, or the target's first error. Keys the
/// target acknowledged are deleted here (event `del`) unless COPY.
pub fn migrate(srv: &mut Server, c: &mut Client) -> CmdResult {
    let (mut copy, mut replace) = (false, false);
    let mut auth: Option<(Option<Vec<u8>>, Vec<u8>)> = None;
    let mut first_key = 3;
    let mut num_keys = 1;
    let mut j = 6;
    while j < c.argc() {
        let more = c.argc() - 1 - j;
        if args::is(c.arg(j), "copy") {
            copy = true;
        } else if args::is(c.arg(j), "replace") {
            replace = true;
        } else if args::is(c.arg(j), "auth") {
            if more < 1 {
                return Err(ReplyError::Syntax);
            }
            auth = Some((None, c.arg(j + 1).to_vec()));
            j += 1;
        } else if args::is(c.arg(j), "auth2") {
            if more < 2 {
                return Err(ReplyError::Syntax);
            }
            auth = Some((Some(c.arg(j + 1).to_vec()), c.arg(j + 2).to_vec()));
            j += 2;
        } else if args::is(c.arg(j), "keys") {
            if !c.arg(3).is_empty() {
                // COMPAT: migrateCommand's text.
                return Err(ReplyError::err(
                    "When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            first_key = j + 1;
            num_keys = c.argc() - j - 1;
            break;
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    let timeout_ms = args::int(c.arg(5))?;
    let dbid = args::int(c.arg(4))?;
    let timeout = Duration::from_millis(if timeout_ms <= 0 { 1000 } else { timeout_ms as u64 });
    let db = c.db;
    let keys: Vec<bytes::Bytes> =
        (first_key..first_key + num_keys).map(|i| c.argv[i].clone()).filter(|k| srv.ks.get(db, k).is_some()).collect();
    if keys.is_empty() {
        // COMPAT: a status reply, not an error.
        c.reply.simple("NOKEY");
        return Ok(());
    }
    let host = String::from_utf8_lossy(c.arg(1)).into_owned();
    let port = String::from_utf8_lossy(c.arg(2)).into_owned();
    let compress = srv.config.rdbcompression;
    let mut may_retry = true;
    loop {
        let now_ms = srv.ks.now_ms;
        let cs = migrate_socket(&mut srv.migrate_sockets, &host, &port, timeout, now_ms / 1000)?;
        let mut cmd = Vec::new();
        if let Some((user, pass)) = &auth {
            match user {
                Some(u) => push_command(&mut cmd, &[b"AUTH", u, pass]),
                None => push_command(&mut cmd, &[b"AUTH", pass]),
            }
        }
        let select = cs.last_db != Some(dbid);
        if select {
            push_command(&mut cmd, &[b"SELECT", dbid.to_string().as_bytes()]);
        }
        // Keys that expired since the lookup are left out.
        let mut sent = Vec::with_capacity(keys.len());
        for k in &keys {
            let Some(v) = srv.ks.dbs[db].dict.get(&k[..]) else { continue };
            let ttl = match srv.ks.dbs[db].expires.get(&k[..]) {
                Some(&at) if at - now_ms < 0 => continue,
                Some(&at) => (at - now_ms).max(1),
                None => 0,
            };
            let payload = rdb::dump_payload(&v.value, compress);
            let ttl = ttl.to_string();
            // In a cluster the target may only be importing the slot.
            let verb: &[u8] = if srv.cluster.is_some() { b"RESTORE-ASKING" } else { b"RESTORE" };
            let mut parts: Vec<&[u8]> = vec![verb, k, ttl.as_bytes(), &payload];
            if replace {
                parts.push(b"REPLACE");
            }
            push_command(&mut cmd, &parts);
            sent.push(k.clone());
        }
        let write_failed = cmd.chunks(64 * 1024).any(|chunk| cs.conn.get_mut().write_all(chunk).is_err());
        let mut timed_out = false;
        let mut socket_error = write_failed;
        let mut error_from_target: Option<Vec<u8>> = None;
        let mut read_replies = 0;
        let mut acked = Vec::new();
        if !write_failed {
            let mut pre_error: Option<Vec<u8>> = None;
            let mut pre = |cs: &mut Cached| -> Result<(), LineError> {
                let l = read_line(&mut cs.conn)?;
                if l.first() == Some(&b'-') && pre_error.is_none() {
                    pre_error = Some(l);
                }
                Ok(())
            };
            let mut ok = true;
            for _ in 0..(auth.is_some() as usize + select as usize) {
                if let Err(e) = pre(cs) {
                    timed_out = matches!(e, LineError::Timeout);
                    socket_error = true;
                    ok = false;
                    break;
                }
            }
            if ok {
                for k in &sent {
                    match read_line(&mut cs.conn) {
                        Ok(l) => {
                            read_replies += 1;
                            let err = pre_error.clone().or_else(|| (l.first() == Some(&b'-')).then_some(l));
                            match err {
                                Some(e) => {
                                    if error_from_target.is_none() {
                                        error_from_target = Some(e);
                                    }
                                }
                                None => acked.push(k.clone()),
                            }
                        }
                        Err(e) => {
                            timed_out = matches!(e, LineError::Timeout);
                            socket_error = true;
                            break;
                        }
                    }
                }
            }
        }
        if error_from_target.is_some() {
            cs.last_db = None;
        }
        // Retry once on a broken (typically stale cached) connection when
        // nothing was processed yet and it was not a timeout.
        let retry = error_from_target.is_none() && socket_error && read_replies == 0 && may_retry && !timed_out;
        if socket_error {
            srv.migrate_sockets.sockets.remove(&format!("{host}:{port}"));
        }
        if retry {
            may_retry = false;
            continue;
        }
        if !copy && !acked.is_empty() {
            for k in &acked {
                srv.ks.delete(db, k);
                srv.ks.touch_write(db, k);
                srv.ks.notify(notify::GENERIC, "del", db, k);
            }
            // Replicas and the AOF see the keys leave, never a MIGRATE to
            // replay (migrateCommand's DEL rewrite).
            let mut del = Vec::with_capacity(acked.len() + 1);
            del.push(bytes::Bytes::from_static(b"DEL"));
            del.extend(acked.iter().map(|k| bytes::Bytes::copy_from_slice(k)));
            srv.propagate_as(del);
        } else {
            srv.prevent_propagation();
        }
        if let Some(e) = error_from_target {
            let text = String::from_utf8_lossy(e.get(1..).unwrap_or(&[])).into_owned();
            // COMPAT: migrateCommand's wrapping of the target's error.
            return Err(ReplyError::err(format!("Target instance replied with error: {text}")));
        }
        if socket_error {
            // COMPAT: migrateCommand's text.
            let what = if write_failed { "writing" } else { "reading" };
            return Err(ReplyError::other(format!("IOERR error or timeout {what} to target instance")));
        }
        if let Some(cs) = srv.migrate_sockets.sockets.get_mut(&format!("{host}:{port}")) {
            cs.last_db = Some(dbid);
        }
        c.reply.ok();
        return Ok(());
    }
}

/// Key positions of a MIGRATE call (Redis's `migrateGetKeys`): the key
/// argument, or with KEYS (the key argument then empty) every name after it;
/// AUTH and AUTH2 arguments are skipped so a password is never a key.
pub fn migrate_getkeys(argv: &[bytes::Bytes]) -> Vec<(usize, &'static [&'static str])> {
    const FLAGS: &[&str] = &["RW", "ACCESS", "DELETE"];
    let mut i = 6;
    while i < argv.len() {
        let a = &argv[i];
        if a.eq_ignore_ascii_case(b"auth") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"auth2") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"keys") {
            if !argv[3].is_empty() {
                // The command itself refuses this form.
                return Vec::new();
            }
            return (i + 1..argv.len()).map(|p| (p, FLAGS)).collect();
        }
        i += 1;
    }
    if argv.len() > 3 {
        vec![(3, FLAGS)]
    } else {
        Vec::new()
    }
}
