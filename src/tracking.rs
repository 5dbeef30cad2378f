//! Client-side caching (CLIENT TRACKING): the table of keys tracking clients
//! have read, the broadcast (BCAST) prefix table, and the invalidation
//! messages both produce; plus the CLIENT TRACKING / CACHING / GETREDIR /
//! TRACKINGINFO handlers.
//!
//! Owns only tracking state. It never changes the keyspace: the server tells
//! it which keys changed (the keyspace's `modified`/`expired` queues and its
//! `flushed` mark, drained after every command and cron expiry cycle) and
//! which keys a read-only command read (after the command ran).
//!
//! Mirrors Redis 7.0's tracking: in the default mode a key read by a client
//! is remembered (by key name, whatever the db) until it changes, then the
//! client gets one invalidation and forgets it; in BCAST mode keys changed
//! under a prefix are collected during the loop iteration and sent once per
//! prefix before sleeping. RESP3 clients get `invalidate` push messages on
//! their own connection; RESP2 clients need a REDIRECT to a connection in
//! Pub/Sub mode, which gets them as messages on `__redis__:invalidate`.
//! Invalidations of keys the running client itself changed wait until its
//! reply (a whole EXEC's reply included) has been written, so they never
//! interleave with it. The table's size is bounded by
//! `tracking-table-max-keys`: over it, keys are invalidated early.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;

use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::cmd::args;
use crate::cmd::spec::CmdFlags;
use crate::server::Server;
use crate::types::sds::Sds;

/// COMPAT: the channel RESP2 redirect targets receive invalidations on.
pub const INVALIDATE_CHANNEL: &[u8] = b"__redis__:invalidate";

/// How many keys one round of limit enforcement may invalidate, per round
/// already spent over the limit (the effort grows until the table fits).
const LIMIT_EFFORT_STEP: usize = 100;

/// One connection's tracking settings (Redis's CLIENT_TRACKING_* flags plus
/// the redirect id and BCAST prefixes).
#[derive(Debug, Default, Clone)]
pub struct ClientTracking {
    /// CLIENT TRACKING ON is in force.
    pub on: bool,
    /// Broadcast mode: invalidations by prefix, nothing remembered per key.
    pub bcast: bool,
    /// Only keys read right after CLIENT CACHING YES are remembered.
    pub optin: bool,
    /// Keys read right after CLIENT CACHING NO are not remembered.
    pub optout: bool,
    /// CLIENT CACHING was given for the next command (or transaction).
    pub caching: bool,
    /// No invalidations for keys this connection changed itself.
    pub noloop: bool,
    /// The redirect target went away (reported once per invalidation).
    pub broken_redirect: bool,
    /// Id of the client invalidations go to; 0 means this connection.
    pub redirect: u64,
    /// Slab key the redirect target had when tracking was enabled; only
    /// trusted while the client there still has id `redirect`.
    redirect_key: usize,
    /// BCAST prefixes, sorted (as CLIENT TRACKINGINFO lists them).
    pub prefixes: BTreeSet<Bytes>,
}

impl ClientTracking {
    /// The CLIENT LIST flag letters tracking contributes: `t` (tracking),
    /// `R` (broken redirect), `B` (broadcast), in Redis's order.
    pub fn list_flags(&self) -> &'static str {
        match (self.on, self.broken_redirect, self.bcast) {
            (false, _, _) => "",
            (true, false, false) => "t",
            (true, true, false) => "tR",
            (true, false, true) => "tB",
            (true, true, true) => "tRB",
        }
    }

    /// The `redir=` field of CLIENT LIST: the redirect id, -1 when off.
    pub fn list_redirect(&self) -> i64 {
        if self.on {
            self.redirect as i64
        } else {
            -1
        }
    }

    /// True when the command about to finish should remember the keys it
    /// read (OPTIN needs CACHING YES, OPTOUT is cancelled by CACHING NO).
    fn remembers(&self) -> bool {
        self.on && !self.bcast && !((self.optin && !self.caching) || (self.optout && self.caching))
    }
}

/// Keys changed under a BCAST prefix (sorted, as sent) with the id of the
/// client that changed each last (None: expiry, eviction), for NOLOOP.
type ChangedKeys = BTreeMap<Sds, Option<u64>>;

/// Keys changed under one BCAST prefix, and the clients listening to it.
#[derive(Debug, Default)]
struct Bcast {
    /// Changed since the last broadcast.
    keys: ChangedKeys,
    /// Listening clients: id to slab key.
    clients: BTreeMap<u64, usize>,
}

/// The server-wide tracking tables.
#[derive(Debug, Default)]
pub struct Tracking {
    /// Key name to the sorted ids of the clients that may cache it.
    table: HashMap<Sds, Vec<u64>>,
    /// Ids across the whole table (INFO `tracking_total_items`).
    total_items: u64,
    /// BCAST prefix to its state.
    prefixes: BTreeMap<Bytes, Bcast>,
    /// Clients with tracking on: id to slab key.
    clients: HashMap<u64, usize>,
    /// Invalidations for the running client, sent after its reply: its slab
    /// key and id, and a key or None for "everything" (a flush).
    pending: Vec<(usize, u64, Option<Sds>)>,
    /// Consecutive limit rounds that ended still over the limit.
    limit_rounds: usize,
}

impl Tracking {
    /// True when key changes matter to tracking (some key is remembered or
    /// some prefix is listened to), so the keyspace must record them.
    pub fn active(&self) -> bool {
        !self.table.is_empty() || !self.prefixes.is_empty()
    }

    /// INFO `tracking_clients`.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// INFO `tracking_total_keys`.
    pub fn total_keys(&self) -> usize {
        self.table.len()
    }

    /// INFO `tracking_total_items`.
    pub fn total_items(&self) -> u64 {
        self.total_items
    }

    /// INFO `tracking_total_prefixes`.
    pub fn total_prefixes(&self) -> usize {
        self.prefixes.len()
    }

    /// Remembers that client `id` may cache `key`.
    fn remember(&mut self, key: &[u8], id: u64) {
        let ids = match self.table.get_mut(key) {
            Some(ids) => ids,
            None => self.table.entry(Sds::from(key)).or_default(),
        };
        if let Err(at) = ids.binary_search(&id) {
            ids.insert(at, id);
            self.total_items += 1;
        }
    }
}

// ----------------------------------------------------------------- messages

/// What an invalidation message carries.
#[derive(Clone, Copy)]
enum Payload<'a> {
    /// These keys.
    Keys(&'a [&'a [u8]]),
    /// Every key (a flush): a null.
    All,
}

/// Writes `payload` as the value part of an invalidation. The null of a
/// flush is written in the receiving connection's protocol (Redis writes the
/// tracking client's, which a RESP2 redirect target of a RESP3 tracker could
/// not parse).
fn write_payload(c: &mut Client, payload: Payload<'_>) {
    match payload {
        Payload::Keys(keys) => {
            c.reply.array(keys.len());
            for k in keys {
                c.reply.bulk(k);
            }
        }
        Payload::All => c.reply.null(),
    }
}

/// The client with slab key `key` and id `id`: the running one or one
/// resting in the slab.
fn client_ref<'a>(srv: &'a mut Server, current: Option<&'a mut Client>, key: usize, id: u64) -> Option<&'a mut Client> {
    match current {
        Some(c) if c.id == id => Some(c),
        _ => srv.clients.get_mut(key).and_then(|slot| slot.as_deref_mut()).filter(|c| c.id == id),
    }
}

/// Sends an invalidation meant for tracking client (`key`, `id`): to its
/// redirect target if it has one (a `tracking-redir-broken` push to itself
/// when that target is gone), else on its own connection (RESP3 only).
fn send(srv: &mut Server, mut current: Option<&mut Client>, key: usize, id: u64, payload: Payload<'_>) {
    let Some(target) = client_ref(srv, current.as_deref_mut(), key, id) else { return };
    let (redirect, redirect_key) = (target.tracking.redirect, target.tracking.redirect_key);
    let mut dest_key = key;
    if redirect != 0 {
        let gone = client_ref(srv, current.as_deref_mut(), redirect_key, redirect).is_none();
        if gone {
            srv.with_client(key, current, |t| {
                t.tracking.broken_redirect = true;
                if t.reply.resp >= 3 {
                    t.reply.unmuted(|r| {
                        r.push(2);
                        // COMPAT: the push Redis sends when the redirect target is gone.
                        r.bulk(b"tracking-redir-broken");
                        r.int(redirect as i64);
                    });
                }
            });
            return;
        }
        dest_key = redirect_key;
    }
    let redirected = redirect != 0;
    srv.with_client(dest_key, current, |d| {
        if d.reply.resp >= 3 {
            d.reply.unmuted(|r| {
                r.push(2);
                r.bulk(b"invalidate");
            });
        } else if redirected && d.subs.count() > 0 {
            d.reply.unmuted(|r| {
                r.push(3);
                r.bulk(b"message");
                r.bulk(INVALIDATE_CHANNEL);
            });
        } else {
            // RESP2 without a Pub/Sub redirect cannot receive pushes.
            return;
        }
        let muted = std::mem::replace(&mut d.reply.muted, false);
        write_payload(d, payload);
        d.reply.muted = muted;
    });
}

// -------------------------------------------------------------- invalidation

/// Invalidates `key` for every client that may cache it. `writer` is the
/// client that changed it (None for expiry, eviction, the size limit);
/// `defer` holds back messages for the running client until its reply is
/// out; `bcast` also records the key for BCAST listeners.
fn invalidate(
    srv: &mut Server,
    mut current: Option<&mut Client>,
    key: &[u8],
    writer: Option<u64>,
    defer: bool,
    bcast: bool,
) {
    if bcast && !srv.tracking.prefixes.is_empty() {
        for (prefix, b) in srv.tracking.prefixes.iter_mut() {
            if key.starts_with(prefix) {
                b.keys.insert(Sds::from(key), writer);
            }
        }
    }
    let Some(ids) = srv.tracking.table.remove(key) else { return };
    srv.tracking.total_items -= ids.len() as u64;
    let current_id = current.as_ref().map(|c| c.id);
    for id in ids {
        let Some(&slab) = srv.tracking.clients.get(&id) else { continue };
        let Some(target) = client_ref(srv, current.as_deref_mut(), slab, id) else { continue };
        // A client that switched to BCAST no longer gets per-key messages.
        if !target.tracking.on || target.tracking.bcast {
            continue;
        }
        if Some(id) == current_id {
            if target.tracking.noloop {
                continue;
            }
            if defer {
                srv.tracking.pending.push((slab, id, Some(Sds::from(key))));
                continue;
            }
        }
        send(srv, current.as_deref_mut(), slab, id, Payload::Keys(&[key]));
    }
}

/// Invalidates `key` because it left the dataset outside any client's doing
/// (eviction): every client caching it and every matching BCAST prefix is
/// told. `current` is the client whose command is about to run, if any; its
/// message is sent at once, ahead of that command's reply.
pub fn invalidate_key(srv: &mut Server, current: Option<&mut Client>, key: &[u8]) {
    invalidate(srv, current, key, None, false, true);
}

/// Called by the server after every command and expiry cycle, before the
/// keyspace's queues are cleared: keys in `ks.modified` are invalidated (the
/// ones in `ks.expired` count as changed by nobody), and a flush since the
/// last call (`ks.flushed`) sends every tracking client a null invalidation
/// and empties the table. `current` ran the command, if any.
pub fn after_command(srv: &mut Server, mut current: Option<&mut Client>) {
    if std::mem::take(&mut srv.ks.flushed) {
        invalidate_all(srv, current.as_deref_mut());
    }
    if !srv.tracking.active() || srv.ks.modified.is_empty() {
        return;
    }
    let modified = std::mem::take(&mut srv.ks.modified);
    let writer = current.as_ref().map(|c| c.id);
    for (db, key) in &modified {
        let w = writer.filter(|_| !srv.ks.expired.iter().any(|(d, k)| d == db && k == key));
        invalidate(srv, current.as_deref_mut(), key, w, true, true);
    }
    srv.ks.modified = modified;
}

/// FLUSHDB/FLUSHALL: a null invalidation for every tracking client (held
/// back for the running one), then the table is emptied.
fn invalidate_all(srv: &mut Server, mut current: Option<&mut Client>) {
    let current_id = current.as_ref().map(|c| c.id);
    let targets: Vec<(u64, usize)> = srv.tracking.clients.iter().map(|(&id, &k)| (id, k)).collect();
    for (id, slab) in targets {
        if Some(id) == current_id {
            srv.tracking.pending.push((slab, id, None));
        } else {
            send(srv, current.as_deref_mut(), slab, id, Payload::All);
        }
    }
    srv.tracking.table = HashMap::new();
    srv.tracking.total_items = 0;
}

/// After read-only command `idx` ran for `c`: remembers the keys it read if
/// `c` tracks in the default mode (subject to OPTIN/OPTOUT and CLIENT
/// CACHING). Pub/Sub commands' "keys" are shard channels and are skipped.
pub fn remember_keys(srv: &mut Server, c: &mut Client, idx: usize) {
    if !c.tracking.remembers() {
        return;
    }
    let cmd = &srv.commands.cmds[idx];
    if !cmd.flags.has(CmdFlags::READONLY) || cmd.flags.has(CmdFlags::PUBSUB) {
        return;
    }
    // A read-only script tracks its keys only if it read (see crate::script).
    if matches!(cmd.name, "eval_ro" | "evalsha_ro" | "fcall_ro") {
        return;
    }
    for pos in cmd.key_positions(&c.argv) {
        srv.tracking.remember(&c.argv[pos], c.id);
    }
}

/// Remembers `keys` for `c` if it tracks them (a script that read:
/// Redis tracks the keys it declared).
pub fn remember_script_keys(srv: &mut Server, c: &Client, keys: &[bytes::Bytes]) {
    if !c.tracking.remembers() {
        return;
    }
    for k in keys {
        srv.tracking.remember(k, c.id);
    }
}

/// Called once a top-level command of `c` finished (after its whole reply,
/// EXEC's included): sends the invalidations held back for `c`, and ends
/// the effect of CLIENT CACHING unless this was a CLIENT subcommand or a
/// command queued inside MULTI.
pub fn after_execute(srv: &mut Server, c: &mut Client) {
    if !srv.tracking.pending.is_empty() {
        let pending = std::mem::take(&mut srv.tracking.pending);
        // Normally all for `c`; anything else still reaches its owner.
        for (slab, id, key) in &pending {
            match key {
                Some(k) => send(srv, Some(&mut *c), *slab, *id, Payload::Keys(&[&k[..]])),
                None => send(srv, Some(&mut *c), *slab, *id, Payload::All),
            }
        }
    }
    if c.tracking.caching && !c.flags.multi && !c.last_cmd.starts_with("client|") {
        c.tracking.caching = false;
    }
}

/// Keeps the table within `tracking-table-max-keys` (0: no limit) by
/// invalidating keys early. Each call invalidates at most 100 keys times
/// the number of consecutive calls that ended still over the limit, so a
/// sudden drop of the limit is caught up over a few calls. `current` is the
/// client about to run a command (its messages go out at once).
pub fn enforce_limit(srv: &mut Server, mut current: Option<&mut Client>) {
    let max = srv.config.tracking_table_max_keys.max(0) as usize;
    if max == 0 || srv.tracking.table.len() <= max {
        srv.tracking.limit_rounds = 0;
        return;
    }
    let effort = LIMIT_EFFORT_STEP * (srv.tracking.limit_rounds + 1);
    let excess = srv.tracking.table.len() - max;
    let victims: Vec<Sds> = srv.tracking.table.keys().take(effort.min(excess)).cloned().collect();
    for key in victims {
        invalidate(srv, current.as_deref_mut(), &key, None, false, false);
    }
    if srv.tracking.table.len() > max {
        srv.tracking.limit_rounds += 1;
    } else {
        srv.tracking.limit_rounds = 0;
    }
}

/// Before sleeping: sends each BCAST prefix's changed keys to its
/// listeners, one message per prefix (NOLOOP listeners without the keys
/// they changed themselves), and starts collecting afresh.
pub fn broadcast(srv: &mut Server) {
    if srv.tracking.prefixes.is_empty() {
        return;
    }
    let mut batches: Vec<(ChangedKeys, Vec<(u64, usize)>)> = Vec::new();
    for b in srv.tracking.prefixes.values_mut() {
        if !b.keys.is_empty() {
            let listeners = b.clients.iter().map(|(&id, &k)| (id, k)).collect();
            batches.push((std::mem::take(&mut b.keys), listeners));
        }
    }
    for (keys, listeners) in batches {
        let all: Vec<&[u8]> = keys.keys().map(|k| &k[..]).collect();
        for (id, slab) in listeners {
            let Some(target) = client_ref(srv, None, slab, id) else { continue };
            if target.tracking.noloop {
                let own: Vec<&[u8]> = keys.iter().filter(|(_, w)| **w != Some(id)).map(|(k, _)| &k[..]).collect();
                if !own.is_empty() {
                    send(srv, None, slab, id, Payload::Keys(&own));
                }
            } else {
                send(srv, None, slab, id, Payload::Keys(&all));
            }
        }
    }
}

// ------------------------------------------------------------ client state

/// Turns tracking off for `c`: leaves its BCAST prefixes (dropping prefixes
/// nobody listens to any more) and clears every tracking flag. Keys it
/// cached stay in the table until they change, as in Redis.
pub fn disable(srv: &mut Server, c: &mut Client) {
    for prefix in std::mem::take(&mut c.tracking.prefixes) {
        if let Some(b) = srv.tracking.prefixes.get_mut(&prefix) {
            b.clients.remove(&c.id);
            if b.clients.is_empty() {
                srv.tracking.prefixes.remove(&prefix);
            }
        }
    }
    if c.tracking.on {
        srv.tracking.clients.remove(&c.id);
    }
    c.tracking = ClientTracking::default();
}

/// A connection going away (or RESET): tracking off.
pub fn forget_client(srv: &mut Server, c: &mut Client) {
    if c.tracking.on || !c.tracking.prefixes.is_empty() {
        disable(srv, c);
    }
}

/// Options of one CLIENT TRACKING call.
#[derive(Debug, Default)]
struct Options {
    redirect: u64,
    bcast: bool,
    optin: bool,
    optout: bool,
    noloop: bool,
    prefixes: Vec<Bytes>,
}

/// The slab key of the client with id `id` (the caller included).
fn find_client(srv: &Server, c: &Client, id: u64) -> Option<usize> {
    if c.id == id {
        return Some(c.key);
    }
    srv.clients.iter().find(|(_, slot)| slot.as_ref().is_some_and(|o| o.id == id)).map(|(k, _)| k)
}

/// True when one of `a`, `b` starts with the other.
fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// Rejects new `prefixes` that overlap one already `held` or each other.
fn check_prefixes(held: &BTreeSet<Bytes>, prefixes: &[Bytes]) -> CmdResult {
    for (i, p) in prefixes.iter().enumerate() {
        if let Some(old) = held.iter().find(|old| overlaps(old, p)) {
            // COMPAT: Redis's overlap errors.
            return Err(ReplyError::err(format!(
                "Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(old)
            )));
        }
        if let Some(other) = prefixes[i + 1..].iter().find(|o| overlaps(p, o)) {
            return Err(ReplyError::err(format!(
                "Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(other)
            )));
        }
    }
    Ok(())
}

/// Parses CLIENT TRACKING's options (`argv[3..]`); `find` gives the slab
/// key of a client id, if that client exists. Returns the options and the
/// redirect target's slab key.
fn parse_options(argv: &[Bytes], find: impl Fn(u64) -> Option<usize>) -> Result<(Options, Option<usize>), ReplyError> {
    let mut o = Options::default();
    let mut redirect_key = None;
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let a = &argv[j][..];
        if args::is(a, "redirect") && more {
            j += 1;
            if o.redirect != 0 {
                // COMPAT: Redis's error texts for CLIENT TRACKING.
                return Err(ReplyError::err("A client can only redirect to a single other client"));
            }
            let id = args::int(&argv[j])?;
            // Redis requires the target to exist now, though it may go away later.
            redirect_key = Some(
                find(id as u64).ok_or_else(|| ReplyError::err("The client ID you want redirect to does not exist"))?,
            );
            o.redirect = id as u64;
        } else if args::is(a, "bcast") {
            o.bcast = true;
        } else if args::is(a, "optin") {
            o.optin = true;
        } else if args::is(a, "optout") {
            o.optout = true;
        } else if args::is(a, "noloop") {
            o.noloop = true;
        } else if args::is(a, "prefix") && more {
            j += 1;
            o.prefixes.push(argv[j].clone());
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    Ok((o, redirect_key))
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN]
/// [OPTOUT] [NOLOOP]: +OK, or Redis's error for incompatible options.
/// Turning it on again changes the options (not BCAST, not OPTIN<->OPTOUT);
/// BCAST prefixes given again are added to the client's.
pub fn client_tracking(srv: &mut Server, c: &mut Client) -> CmdResult {
    let (o, redirect_key) = parse_options(&c.argv, |id| find_client(srv, c, id))?;
    if args::is(c.arg(2), "off") {
        disable(srv, c);
        c.reply.ok();
        return Ok(());
    }
    if !args::is(c.arg(2), "on") {
        return Err(ReplyError::Syntax);
    }
    // COMPAT: Redis's error texts for incompatible options.
    if !o.bcast && !o.prefixes.is_empty() {
        return Err(ReplyError::err("PREFIX option requires BCAST mode to be enabled"));
    }
    if c.tracking.on && c.tracking.bcast != o.bcast {
        return Err(ReplyError::err(
            "You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
        ));
    }
    if o.bcast && (o.optin || o.optout) {
        return Err(ReplyError::err("OPTIN and OPTOUT are not compatible with BCAST"));
    }
    if o.optin && o.optout {
        return Err(ReplyError::err("You can't specify both OPTIN mode and OPTOUT mode"));
    }
    if (o.optin && c.tracking.optout) || (o.optout && c.tracking.optin) {
        return Err(ReplyError::err(
            "You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
        ));
    }
    if o.bcast {
        check_prefixes(&c.tracking.prefixes, &o.prefixes)?;
    }
    if !c.tracking.on {
        srv.tracking.clients.insert(c.id, c.key);
    }
    let t = &mut c.tracking;
    t.on = true;
    t.broken_redirect = false;
    t.redirect = o.redirect;
    t.redirect_key = redirect_key.unwrap_or(0);
    t.bcast = o.bcast;
    t.optin = o.optin;
    t.optout = o.optout;
    t.noloop = o.noloop;
    if o.bcast {
        let empty = [Bytes::new()];
        let prefixes = if o.prefixes.is_empty() { &empty[..] } else { &o.prefixes[..] };
        for p in prefixes {
            srv.tracking.prefixes.entry(p.clone()).or_default().clients.insert(c.id, c.key);
            c.tracking.prefixes.insert(p.clone());
        }
    }
    c.reply.ok();
    Ok(())
}

/// CLIENT CACHING YES|NO: for the next command (or transaction) only, keys
/// read are remembered (OPTIN, YES) or not (OPTOUT, NO).
pub fn client_caching(_srv: &mut Server, c: &mut Client) -> CmdResult {
    // COMPAT: Redis's error texts for CLIENT CACHING.
    if !c.tracking.on {
        return Err(ReplyError::err(
            "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    }
    if args::is(c.arg(2), "yes") {
        if !c.tracking.optin {
            return Err(ReplyError::err("CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."));
        }
    } else if args::is(c.arg(2), "no") {
        if !c.tracking.optout {
            return Err(ReplyError::err("CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."));
        }
    } else {
        return Err(ReplyError::Syntax);
    }
    c.tracking.caching = true;
    c.reply.ok();
    Ok(())
}

/// CLIENT GETREDIR: the redirect id, 0 without one, -1 when not tracking.
pub fn client_getredir(_srv: &mut Server, c: &mut Client) -> CmdResult {
    let id = c.tracking.list_redirect();
    c.reply.int(id);
    Ok(())
}

/// CLIENT TRACKINGINFO: a map of `flags` (a set), `redirect` and
/// `prefixes`, in Redis 7.0's shape.
pub fn client_trackinginfo(_srv: &mut Server, c: &mut Client) -> CmdResult {
    let t = c.tracking.clone();
    let mut flags: Vec<&str> = vec![if t.on { "on" } else { "off" }];
    let named = [
        (t.bcast, "bcast"),
        (t.optin, "optin"),
        (t.optin && t.caching, "caching-yes"),
        (t.optout, "optout"),
        (t.optout && t.caching, "caching-no"),
        (t.noloop, "noloop"),
        (t.broken_redirect, "broken_redirect"),
    ];
    flags.extend(named.iter().filter(|(set, _)| *set).map(|(_, name)| *name));
    let r = &mut c.reply;
    r.map(3);
    r.bulk(b"flags");
    r.set(flags.len());
    for f in flags {
        r.bulk(f.as_bytes());
    }
    r.bulk(b"redirect");
    r.int(t.list_redirect());
    r.bulk(b"prefixes");
    r.array(t.prefixes.len());
    for p in &t.prefixes {
        r.bulk(p);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_symmetric_prefix_test() {
        assert!(overlaps(b"FOO", b"FOOBAR"));
        assert!(overlaps(b"FOOBAR", b"FOO"));
        assert!(overlaps(b"", b"x"));
        assert!(!overlaps(b"FOO", b"BAR"));
        assert!(!overlaps(b"a:", b"b:"));
    }

    #[test]
    fn remember_counts_items_once_per_client() {
        let mut t = Tracking::default();
        t.remember(b"k", 7);
        t.remember(b"k", 7);
        t.remember(b"k", 3);
        t.remember(b"j", 7);
        assert_eq!(t.total_keys(), 2);
        assert_eq!(t.total_items(), 3);
        assert_eq!(t.table.get(&b"k"[..]).map(|v| v.as_slice()), Some(&[3u64, 7][..]));
        assert!(t.active());
    }

    #[test]
    fn optin_optout_and_caching_decide_what_is_remembered() {
        let mut t = ClientTracking { on: true, ..Default::default() };
        assert!(t.remembers());
        t.optin = true;
        assert!(!t.remembers());
        t.caching = true;
        assert!(t.remembers());
        t = ClientTracking { on: true, optout: true, ..Default::default() };
        assert!(t.remembers());
        t.caching = true;
        assert!(!t.remembers());
        t = ClientTracking { on: true, bcast: true, ..Default::default() };
        assert!(!t.remembers());
    }

    fn argv(words: &[&[u8]]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::copy_from_slice(w)).collect()
    }

    #[test]
    fn options_parse_like_redis() {
        let find = |id: u64| (id == 5).then_some(2);
        let (o, key) = parse_options(
            &argv(&[b"client", b"tracking", b"on", b"REDIRECT", b"5", b"bcast", b"PREFIX", b"a:", b"noloop"]),
            find,
        )
        .unwrap();
        assert_eq!((o.redirect, key, o.bcast, o.noloop, o.prefixes.len()), (5, Some(2), true, true, 1));
        let err = |words: &[&[u8]]| parse_options(&argv(words), find).unwrap_err().to_string();
        assert_eq!(
            err(&[b"c", b"t", b"on", b"redirect", b"6"]),
            "ERR The client ID you want redirect to does not exist"
        );
        assert_eq!(
            err(&[b"c", b"t", b"on", b"redirect", b"5", b"redirect", b"5"]),
            "ERR A client can only redirect to a single other client"
        );
        assert_eq!(err(&[b"c", b"t", b"on", b"redirect", b"x"]), "ERR value is not an integer or out of range");
        assert_eq!(err(&[b"c", b"t", b"on", b"prefix"]), "ERR syntax error");
        assert_eq!(err(&[b"c", b"t", b"on", b"bogus"]), "ERR syntax error");
    }

    #[test]
    fn prefix_collisions_are_reported_in_redis_words() {
        let held: BTreeSet<Bytes> = [Bytes::from_static(b"FOO"), Bytes::from_static(b"BAR")].into_iter().collect();
        let e = check_prefixes(&held, &[Bytes::from_static(b"FO")]).unwrap_err().to_string();
        assert!(e.starts_with("ERR Prefix 'FO' overlaps with an existing prefix 'FOO'."), "{e}");
        let e = check_prefixes(&BTreeSet::new(), &argv(&[b"FOOBAR", b"FOO"])).unwrap_err().to_string();
        assert!(e.starts_with("ERR Prefix 'FOOBAR' overlaps with another provided prefix 'FOO'."), "{e}");
        // Redis only caught an overlap among new prefixes at the first one;
        // any position is rejected here.
        assert!(check_prefixes(&BTreeSet::new(), &argv(&[b"x", b"FOOBAR", b"FOO"])).is_err());
        assert!(check_prefixes(&held, &argv(&[b"c:", b"d:"])).is_ok());
    }

    #[test]
    fn random_option_lists_never_panic() {
        let words: [&[u8]; 9] = [b"redirect", b"bcast", b"optin", b"optout", b"noloop", b"prefix", b"5", b"-1", b""];
        let mut rng = crate::util::rand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
        let mut next = move || rng.next_u64();
        for _ in 0..20_000 {
            let n = (next() % 8) as usize;
            let mut v = argv(&[b"client", b"tracking", b"on"]);
            for _ in 0..n {
                let r = next();
                if r % 4 == 0 {
                    let len = (r >> 8) as usize % 6;
                    v.push((0..len).map(|_| next() as u8).collect::<Vec<u8>>().into());
                } else {
                    v.push(Bytes::copy_from_slice(words[(r >> 8) as usize % words.len()]));
                }
            }
            if let Ok((o, _)) = parse_options(&v, |id| (id % 2 == 1).then_some(id as usize)) {
                let _ = check_prefixes(&BTreeSet::new(), &o.prefixes);
            }
        }
    }

    #[test]
    fn client_list_fields() {
        let mut t = ClientTracking::default();
        assert_eq!((t.list_flags(), t.list_redirect()), ("", -1));
        t.on = true;
        t.redirect = 9;
        t.broken_redirect = true;
        t.bcast = true;
        assert_eq!((t.list_flags(), t.list_redirect()), ("tRB", 9));
    }
}
