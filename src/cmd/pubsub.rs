//! Pub/Sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, the
//! sharded SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH, and PUBSUB CHANNELS / NUMSUB /
//! NUMPAT / SHARDCHANNELS / SHARDNUMSUB, plus the delivery used by keyspace
//! notifications.
//!
//! The channel, pattern and shard channel maps live in `PubSub` (owned by
//! the server); each client keeps its own sets so UNSUBSCRIBE without
//! arguments and connection teardown are cheap. Messages are written straight
//! into subscribers' reply buffers in Redis's formats (RESP2 arrays, RESP3
//! push frames). Shard channels are a namespace of their own, as in Redis
//! 7.0: SPUBLISH reaches only SSUBSCRIBErs (never patterns), and the counts
//! in (un)subscribe confirmations are per namespace. Cluster slot checks and
//! propagation of PUBLISH/SPUBLISH are not done here.

use std::collections::HashSet;

use bytes::Bytes;

use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::server::Server;

/// Channel and pattern subscriptions of the whole server.
#[derive(Debug, Default)]
pub struct PubSub {
    /// Channel to the slab keys of its subscribers.
    pub channels: std::collections::HashMap<Bytes, Vec<usize>>,
    /// Pattern to the slab keys of its subscribers.
    pub patterns: std::collections::HashMap<Bytes, Vec<usize>>,
    /// Shard channel to the slab keys of its subscribers.
    pub shard_channels: std::collections::HashMap<Bytes, Vec<usize>>,
}

/// A client's own subscriptions.
#[derive(Debug, Default)]
pub struct Subscriptions {
    /// Channels.
    pub channels: HashSet<Bytes>,
    /// Patterns.
    pub patterns: HashSet<Bytes>,
    /// Shard channels.
    pub shard: HashSet<Bytes>,
}

impl Subscriptions {
    /// Every subscription (channels, patterns, shard channels): non-zero
    /// puts a RESP2 connection in subscribed mode (Redis's CLIENT_PUBSUB).
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard.len()
    }

    /// Channels plus patterns, as SUBSCRIBE/PSUBSCRIBE confirmations count.
    pub fn global_count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Shard channels (`ssub=` in CLIENT LIST, SSUBSCRIBE confirmations).
    pub fn shard_count(&self) -> usize {
        self.shard.len()
    }
}

fn confirm(c: &mut Client, kind: &[u8], name: Option<&[u8]>, count: usize) {
    c.reply.unmuted(|r| {
        r.push(3);
        r.bulk(kind);
        match name {
            Some(n) => r.bulk(n),
            None => r.null(),
        }
        r.int(count as i64);
    });
}

/// SUBSCRIBE channel [channel ...].
pub fn subscribe(srv: &mut Server, c: &mut Client) -> CmdResult {
    for i in 1..c.argc() {
        let ch = c.argv[i].clone();
        if c.subs.channels.insert(ch.clone()) {
            srv.pubsub.channels.entry(ch.clone()).or_default().push(c.key);
        }
        let n = c.subs.global_count();
        confirm(c, b"subscribe", Some(&ch), n);
    }
    Ok(())
}

/// PSUBSCRIBE pattern [pattern ...].
pub fn psubscribe(srv: &mut Server, c: &mut Client) -> CmdResult {
    for i in 1..c.argc() {
        let p = c.argv[i].clone();
        if c.subs.patterns.insert(p.clone()) {
            srv.pubsub.patterns.entry(p.clone()).or_default().push(c.key);
        }
        let n = c.subs.global_count();
        confirm(c, b"psubscribe", Some(&p), n);
    }
    Ok(())
}

fn remove_from(map: &mut std::collections::HashMap<Bytes, Vec<usize>>, name: &Bytes, key: usize) {
    if let Some(v) = map.get_mut(name) {
        v.retain(|&k| k != key);
        if v.is_empty() {
            map.remove(name);
        }
    }
}

/// Removes `c` from channel `ch`; false if it was not subscribed.
fn drop_channel(srv: &mut Server, c: &mut Client, ch: &Bytes) -> bool {
    if !c.subs.channels.remove(ch) {
        return false;
    }
    remove_from(&mut srv.pubsub.channels, ch, c.key);
    true
}

fn drop_pattern(srv: &mut Server, c: &mut Client, p: &Bytes) -> bool {
    if !c.subs.patterns.remove(p) {
        return false;
    }
    remove_from(&mut srv.pubsub.patterns, p, c.key);
    true
}

/// UNSUBSCRIBE [channel ...]: all channels when none is named.
pub fn unsubscribe(srv: &mut Server, c: &mut Client) -> CmdResult {
    let names: Vec<Bytes> = if c.argc() > 1 { c.argv[1..].to_vec() } else { c.subs.channels.iter().cloned().collect() };
    if names.is_empty() {
        let n = c.subs.global_count();
        confirm(c, b"unsubscribe", None, n);
    }
    for ch in names {
        drop_channel(srv, c, &ch);
        let n = c.subs.global_count();
        confirm(c, b"unsubscribe", Some(&ch), n);
    }
    Ok(())
}

/// PUNSUBSCRIBE [pattern ...]: all patterns when none is named.
pub fn punsubscribe(srv: &mut Server, c: &mut Client) -> CmdResult {
    let names: Vec<Bytes> = if c.argc() > 1 { c.argv[1..].to_vec() } else { c.subs.patterns.iter().cloned().collect() };
    if names.is_empty() {
        let n = c.subs.global_count();
        confirm(c, b"punsubscribe", None, n);
    }
    for p in names {
        drop_pattern(srv, c, &p);
        let n = c.subs.global_count();
        confirm(c, b"punsubscribe", Some(&p), n);
    }
    Ok(())
}

/// Drops every subscription of a client that is going away.
pub fn forget_client(srv: &mut Server, c: &mut Client) {
    for ch in std::mem::take(&mut c.subs.channels) {
        remove_from(&mut srv.pubsub.channels, &ch, c.key);
    }
    for p in std::mem::take(&mut c.subs.patterns) {
        remove_from(&mut srv.pubsub.patterns, &p, c.key);
    }
    for ch in std::mem::take(&mut c.subs.shard) {
        remove_from(&mut srv.pubsub.shard_channels, &ch, c.key);
    }
}

/// Delivers `msg` on `channel` to every subscriber (direct and by pattern);
/// returns how many received it. `current` is the client running the
/// command, which is out of the slab while it runs.
pub fn publish_message(srv: &mut Server, mut current: Option<&mut Client>, channel: &[u8], msg: &[u8]) -> usize {
    let direct: Vec<usize> = srv.pubsub.channels.get(channel).cloned().unwrap_or_default();
    let mut receivers = deliver(srv, current.as_deref_mut(), &direct, b"message", channel, msg);
    let matching: Vec<(Bytes, Vec<usize>)> = srv
        .pubsub
        .patterns
        .iter()
        .filter(|(p, _)| crate::util::glob::string_match(p, channel, false))
        .map(|(p, v)| (p.clone(), v.clone()))
        .collect();
    for (pat, keys) in matching {
        for k in keys {
            srv.with_client(k, current.as_deref_mut(), |c| {
                c.reply.unmuted(|r| {
                    r.push(4);
                    r.bulk(b"pmessage");
                    r.bulk(&pat);
                    r.bulk(channel);
                    r.bulk(msg);
                })
            });
            receivers += 1;
        }
    }
    receivers
}

/// Sends `kind` (`message`, `smessage`) on `channel` to each of `keys`;
/// returns how many that was.
fn deliver(
    srv: &mut Server,
    mut current: Option<&mut Client>,
    keys: &[usize],
    kind: &[u8],
    channel: &[u8],
    msg: &[u8],
) -> usize {
    for &k in keys {
        srv.with_client(k, current.as_deref_mut(), |c| {
            c.reply.unmuted(|r| {
                r.push(3);
                r.bulk(kind);
                r.bulk(channel);
                r.bulk(msg);
            })
        });
    }
    keys.len()
}

/// PUBLISH channel message: the number of receivers.
pub fn publish(srv: &mut Server, c: &mut Client) -> CmdResult {
    let (ch, msg) = (c.argv[1].clone(), c.argv[2].clone());
    let n = publish_message(srv, Some(c), &ch, &msg);
    if srv.cluster.is_some() {
        // Cluster mode: every node delivers it, over the bus.
        crate::cluster::bus::propagate_publish(srv, &ch, &msg, false);
    } else {
        // Replicas relay messages to their own subscribers.
        srv.force_propagation();
    }
    c.reply.int(n as i64);
    Ok(())
}

/// Replies with the names in `map` matching the optional pattern argv[2].
fn channel_list(map: &std::collections::HashMap<Bytes, Vec<usize>>, c: &mut Client) -> CmdResult {
    if c.argc() > 3 {
        return Err(super::stream::subcommand_syntax(c));
    }
    let pat = c.argv.get(2).cloned();
    let names: Vec<&Bytes> =
        map.keys().filter(|ch| pat.as_ref().is_none_or(|p| crate::util::glob::string_match(p, ch, false))).collect();
    c.reply.array(names.len());
    for n in names {
        c.reply.bulk(n);
    }
    Ok(())
}

/// Replies with (channel, subscriber count) pairs for argv[2..], as a flat
/// array (Redis 7.0 does not use a map here, even in RESP3).
fn channel_counts(map: &std::collections::HashMap<Bytes, Vec<usize>>, c: &mut Client) {
    c.reply.array(2 * (c.argc() - 2));
    for i in 2..c.argc() {
        let n = map.get(&c.argv[i][..]).map(|v| v.len()).unwrap_or(0);
        let ch = c.argv[i].clone();
        c.reply.bulk(&ch);
        c.reply.int(n as i64);
    }
}

/// PUBSUB CHANNELS [pattern].
pub fn pubsub_channels(srv: &mut Server, c: &mut Client) -> CmdResult {
    channel_list(&srv.pubsub.channels, c)
}

/// PUBSUB NUMSUB [channel ...].
pub fn pubsub_numsub(srv: &mut Server, c: &mut Client) -> CmdResult {
    channel_counts(&srv.pubsub.channels, c);
    Ok(())
}

/// PUBSUB SHARDCHANNELS [pattern].
pub fn pubsub_shardchannels(srv: &mut Server, c: &mut Client) -> CmdResult {
    channel_list(&srv.pubsub.shard_channels, c)
}

/// PUBSUB SHARDNUMSUB [shardchannel ...].
pub fn pubsub_shardnumsub(srv: &mut Server, c: &mut Client) -> CmdResult {
    channel_counts(&srv.pubsub.shard_channels, c);
    Ok(())
}

// ------------------------------------------------------------ sharded

/// SSUBSCRIBE shardchannel [shardchannel ...]: one confirmation per
/// channel with the shard subscription count. Refused inside EXEC (Redis's
/// deny-blocking rule; plain SUBSCRIBE keeps its MULTI exception).
pub fn ssubscribe(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.in_exec {
        // COMPAT: Redis's text for subscribing from a context that needs one reply.
        return Err(ReplyError::err("SSUBSCRIBE isn't allowed for a DENY BLOCKING client"));
    }
    for i in 1..c.argc() {
        let ch = c.argv[i].clone();
        if c.subs.shard.insert(ch.clone()) {
            srv.pubsub.shard_channels.entry(ch.clone()).or_default().push(c.key);
        }
        let n = c.subs.shard_count();
        confirm(c, b"ssubscribe", Some(&ch), n);
    }
    Ok(())
}

/// SUNSUBSCRIBE [shardchannel ...]: all shard channels when none is named.
pub fn sunsubscribe(srv: &mut Server, c: &mut Client) -> CmdResult {
    let names: Vec<Bytes> = if c.argc() > 1 { c.argv[1..].to_vec() } else { c.subs.shard.iter().cloned().collect() };
    if names.is_empty() {
        let n = c.subs.shard_count();
        confirm(c, b"sunsubscribe", None, n);
    }
    for ch in names {
        if c.subs.shard.remove(&ch) {
            remove_from(&mut srv.pubsub.shard_channels, &ch, c.key);
        }
        let n = c.subs.shard_count();
        confirm(c, b"sunsubscribe", Some(&ch), n);
    }
    Ok(())
}

/// Delivers `msg` to the subscribers of shard channel `channel` (patterns
/// never match shard channels); returns how many received it.
pub fn spublish_message(srv: &mut Server, current: Option<&mut Client>, channel: &[u8], msg: &[u8]) -> usize {
    let keys: Vec<usize> = srv.pubsub.shard_channels.get(channel).cloned().unwrap_or_default();
    crate::cluster::slot_stats::shard_message_sent(srv, current.as_ref().map(|c| c.key), &keys, channel, msg);
    deliver(srv, current, &keys, b"smessage", channel, msg)
}

/// Unsubscribes every client from each shard channel `doomed` selects and
/// tells it so (a `sunsubscribe` push), as Redis does when this shard stops
/// serving the channel's slot.
pub fn drop_shard_channels(srv: &mut Server, doomed: impl Fn(&[u8]) -> bool) {
    let chans: Vec<Bytes> = srv.pubsub.shard_channels.keys().filter(|ch| doomed(ch)).cloned().collect();
    for ch in chans {
        for k in srv.pubsub.shard_channels.remove(&ch).unwrap_or_default() {
            srv.with_client(k, None, |c| {
                c.subs.shard.remove(&ch);
                let n = c.subs.shard_count();
                confirm(c, b"sunsubscribe", Some(&ch), n);
            });
        }
    }
}

/// SPUBLISH shardchannel message: the number of receivers.
pub fn spublish(srv: &mut Server, c: &mut Client) -> CmdResult {
    let (ch, msg) = (c.argv[1].clone(), c.argv[2].clone());
    let n = spublish_message(srv, Some(c), &ch, &msg);
    if srv.cluster.is_some() {
        crate::cluster::bus::propagate_publish(srv, &ch, &msg, true);
    }
    c.reply.int(n as i64);
    Ok(())
}

/// PUBSUB NUMPAT.
pub fn pubsub_numpat(srv: &mut Server, c: &mut Client) -> CmdResult {
    c.reply.int(srv.pubsub.patterns.len() as i64);
    Ok(())
}

/// PUBSUB HELP.
pub fn pubsub_help(_srv: &mut Server, c: &mut Client) -> CmdResult {
    super::help_reply(
        c,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
    Ok(())
}
