//! Pub/Sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and
//! PUBSUB CHANNELS/NUMSUB/NUMPAT, plus the delivery used by keyspace
//! notifications.
//!
//! The channel and pattern maps live in `server::PubSub`; each client keeps
//! its own sets so UNSUBSCRIBE without arguments and connection teardown are
//! cheap. Messages are written straight into subscribers' reply buffers in
//! Redis's formats (RESP2 arrays, RESP3 push frames).

use std::collections::HashSet;

use bytes::Bytes;

use crate::client::reply::CmdResult;
use crate::client::Client;
use crate::server::Server;

/// Channel and pattern subscriptions of the whole server.
#[derive(Debug, Default)]
pub struct PubSub {
    /// Channel to the slab keys of its subscribers.
    pub channels: std::collections::HashMap<Bytes, Vec<usize>>,
    /// Pattern to the slab keys of its subscribers.
    pub patterns: std::collections::HashMap<Bytes, Vec<usize>>,
}

/// A client's own subscriptions.
#[derive(Debug, Default)]
pub struct Subscriptions {
    /// Channels.
    pub channels: HashSet<Bytes>,
    /// Patterns.
    pub patterns: HashSet<Bytes>,
}

impl Subscriptions {
    /// Total count, as the (un)subscribe confirmations report it.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
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
        let n = c.subs.count();
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
        let n = c.subs.count();
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
        let n = c.subs.count();
        confirm(c, b"unsubscribe", None, n);
    }
    for ch in names {
        drop_channel(srv, c, &ch);
        let n = c.subs.count();
        confirm(c, b"unsubscribe", Some(&ch), n);
    }
    Ok(())
}

/// PUNSUBSCRIBE [pattern ...]: all patterns when none is named.
pub fn punsubscribe(srv: &mut Server, c: &mut Client) -> CmdResult {
    let names: Vec<Bytes> = if c.argc() > 1 { c.argv[1..].to_vec() } else { c.subs.patterns.iter().cloned().collect() };
    if names.is_empty() {
        let n = c.subs.count();
        confirm(c, b"punsubscribe", None, n);
    }
    for p in names {
        drop_pattern(srv, c, &p);
        let n = c.subs.count();
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
}

/// Delivers `msg` on `channel` to every subscriber (direct and by pattern);
/// returns how many received it. `current` is the client running the
/// command, which is out of the slab while it runs.
pub fn publish_message(srv: &mut Server, mut current: Option<&mut Client>, channel: &[u8], msg: &[u8]) -> usize {
    let mut receivers = 0;
    let direct: Vec<usize> = srv.pubsub.channels.get(channel).cloned().unwrap_or_default();
    for k in direct {
        srv.with_client(k, current.as_deref_mut(), |c| {
            c.reply.unmuted(|r| {
                r.push(3);
                r.bulk(b"message");
                r.bulk(channel);
                r.bulk(msg);
            })
        });
        receivers += 1;
    }
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

/// PUBLISH channel message: the number of receivers.
pub fn publish(srv: &mut Server, c: &mut Client) -> CmdResult {
    let (ch, msg) = (c.argv[1].clone(), c.argv[2].clone());
    let n = publish_message(srv, Some(c), &ch, &msg);
    // Replicas relay messages to their own subscribers.
    srv.force_propagation();
    c.reply.int(n as i64);
    Ok(())
}

/// PUBSUB CHANNELS [pattern].
pub fn pubsub_channels(srv: &mut Server, c: &mut Client) -> CmdResult {
    let pat = c.argv.get(2).cloned();
    let names: Vec<Bytes> = srv
        .pubsub
        .channels
        .keys()
        .filter(|ch| pat.as_ref().is_none_or(|p| crate::util::glob::string_match(p, ch, false)))
        .cloned()
        .collect();
    c.reply.array(names.len());
    for n in names {
        c.reply.bulk(&n);
    }
    Ok(())
}

/// PUBSUB NUMSUB [channel ...].
pub fn pubsub_numsub(srv: &mut Server, c: &mut Client) -> CmdResult {
    c.reply.map(c.argc() - 2);
    for i in 2..c.argc() {
        let n = srv.pubsub.channels.get(&c.argv[i][..]).map(|v| v.len()).unwrap_or(0);
        let ch = c.argv[i].clone();
        c.reply.bulk(&ch);
        c.reply.int(n as i64);
    }
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
        ],
    );
    Ok(())
}
