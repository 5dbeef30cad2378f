//! Pub/Sub and client-side caching against a real `viator-server`: fan-out to
//! many subscribers, sharded Pub/Sub, and CLIENT TRACKING invalidations sent
//! to a RESP2 connection through REDIRECT.
//!
//! Owns the delivery contract (who receives what, in which order and in
//! which exact bytes); command-level replies of other families live in
//! `commands.rs`. Expectations are Redis 7.0's behaviour.

mod support;

use std::time::Duration;

use redis::{Connection, Value};
use support::{q, resp, show, Raw, Server};

/// Runs a command given as words and converts the reply, panicking on error.
/// A raw connection that sent `words` and read one reply per expected frame.
fn raw_cmd(raw: &mut Raw, words: &[&str]) {
    let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
    raw.send(&resp(&args));
}

/// The RESP2 frame of a Pub/Sub message (`message`, `smessage`, confirmations).
fn frame3(kind: &str, name: &str, tail: &str) -> Vec<u8> {
    format!("*3\r\n${}\r\n{kind}\r\n${}\r\n{name}\r\n{tail}", kind.len(), name.len()).into_bytes()
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

#[test]
fn fan_out_reaches_every_subscriber_in_order() {
    const SUBSCRIBERS: usize = 50;
    const MESSAGES: usize = 200;
    let srv = Server::start();
    let mut cons: Vec<Connection> = (0..SUBSCRIBERS).map(|_| srv.client()).collect();
    let mut subs: Vec<redis::PubSub<'_>> = cons.iter_mut().map(|c| c.as_pubsub()).collect();
    for (i, s) in subs.iter_mut().enumerate() {
        s.subscribe("news").expect("subscribe");
        // Every fifth subscriber also listens by pattern: it gets each message twice.
        if i % 5 == 0 {
            s.psubscribe("new*").expect("psubscribe");
        }
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    }
    let mut publisher = srv.client();
    let numsub: Vec<Value> = q(&mut publisher, &["PUBSUB", "NUMSUB", "news"]);
    assert_eq!(numsub, vec![Value::BulkString(b"news".to_vec()), Value::Int(SUBSCRIBERS as i64)]);
    let receivers = SUBSCRIBERS + SUBSCRIBERS / 5;
    for m in 0..MESSAGES {
        let n: usize = q(&mut publisher, &["PUBLISH", "news", &format!("m{m}")]);
        assert_eq!(n, receivers, "receivers of message {m}");
    }
    for (i, s) in subs.iter_mut().enumerate() {
        let per_message = if i % 5 == 0 { 2 } else { 1 };
        for m in 0..MESSAGES {
            for _ in 0..per_message {
                let msg = s.get_message().unwrap_or_else(|e| panic!("subscriber {i} message {m}: {e}"));
                assert_eq!(msg.get_channel_name(), "news");
                let payload: String = msg.get_payload().expect("payload");
                assert_eq!(payload, format!("m{m}"), "subscriber {i} got messages out of order");
            }
        }
    }
}

#[test]
fn sharded_channels_are_their_own_namespace() {
    let srv = Server::start();
    let mut sub = Raw::connect(srv.port());
    raw_cmd(&mut sub, &["SSUBSCRIBE", "a", "b", "a"]);
    sub.expect(&frame3("ssubscribe", "a", ":1\r\n"));
    sub.expect(&frame3("ssubscribe", "b", ":2\r\n"));
    sub.expect(&frame3("ssubscribe", "a", ":2\r\n"));
    // RESP2 subscribed mode holds for shard subscriptions too.
    raw_cmd(&mut sub, &["GET", "x"]);
    sub.expect(b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n");
    raw_cmd(&mut sub, &["PING"]);
    sub.expect(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");

    let mut con = srv.client();
    assert_eq!(q::<i64>(&mut con, &["SPUBLISH", "a", "hello"]), 1);
    // PUBLISH does not reach shard subscribers, nor SPUBLISH plain ones.
    assert_eq!(q::<i64>(&mut con, &["PUBLISH", "a", "plain"]), 0);
    let counts: Vec<Value> = q(&mut con, &["PUBSUB", "SHARDNUMSUB", "a", "b", "c"]);
    let want: Vec<Value> = [("a", 1), ("b", 1), ("c", 0)]
        .iter()
        .flat_map(|(c, n)| [Value::BulkString(c.as_bytes().to_vec()), Value::Int(*n)])
        .collect();
    assert_eq!(counts, want);
    let mut names: Vec<String> = q(&mut con, &["PUBSUB", "SHARDCHANNELS"]);
    names.sort();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(q::<Vec<String>>(&mut con, &["PUBSUB", "SHARDCHANNELS", "b*"]), ["b"]);
    assert!(q::<Vec<String>>(&mut con, &["PUBSUB", "CHANNELS"]).is_empty());
    let info: String = q(&mut con, &["INFO", "stats"]);
    assert!(info.contains("pubsubshard_channels:2\r\n"), "{info}");

    sub.expect(&frame3("smessage", "a", &bulk("hello")));
    // SUNSUBSCRIBE without names leaves every shard channel (in any order).
    raw_cmd(&mut sub, &["SUNSUBSCRIBE"]);
    let first = sub.read_reply();
    let second = sub.read_reply();
    let left: Vec<String> = [first, second].iter().map(|r| show(r)).collect();
    assert!(left.iter().any(|r| r.ends_with(":1\\r\\n")) && left.iter().any(|r| r.ends_with(":0\\r\\n")), "{left:?}");
    raw_cmd(&mut sub, &["SUNSUBSCRIBE", "zz"]);
    sub.expect(&frame3("sunsubscribe", "zz", ":0\r\n"));
    // Out of subscribed mode again.
    sub.roundtrip(&resp(&[b"GET", b"x"]), b"$-1\r\n");
    assert_eq!(q::<i64>(&mut con, &["SPUBLISH", "a", "nobody"]), 0);
}

/// A RESP2 connection subscribed to `__redis__:invalidate`, and its id.
fn redirect_target(srv: &Server) -> (Raw, String) {
    let mut r = Raw::connect(srv.port());
    raw_cmd(&mut r, &["CLIENT", "ID"]);
    let id = show(&r.read_reply());
    let id = id.trim_start_matches(':').trim_end_matches("\\r\\n").to_string();
    raw_cmd(&mut r, &["SUBSCRIBE", "__redis__:invalidate"]);
    r.expect(&frame3("subscribe", "__redis__:invalidate", ":1\r\n"));
    (r, id)
}

/// The RESP2 invalidation message a redirect target receives for `keys`.
fn invalidation(keys: &[&str]) -> Vec<u8> {
    let mut tail = format!("*{}\r\n", keys.len());
    for k in keys {
        tail.push_str(&bulk(k));
    }
    frame3("message", "__redis__:invalidate", &tail)
}

#[test]
fn resp2_tracking_invalidates_through_redirect() {
    let srv = Server::start();
    let (mut redir, id) = redirect_target(&srv);
    let mut tracker = srv.client();
    let mut writer = srv.client();
    let ok: String = q(&mut tracker, &["CLIENT", "TRACKING", "ON", "REDIRECT", &id]);
    assert_eq!(ok, "OK");
    assert_eq!(q::<String>(&mut tracker, &["CLIENT", "GETREDIR"]), id);

    let _: () = q(&mut writer, &["MSET", "k1", "a", "k2", "b"]);
    let _: Vec<String> = q(&mut tracker, &["MGET", "k1", "k2"]);
    let info: String = q(&mut writer, &["INFO"]);
    for field in ["tracking_clients:1\r\n", "tracking_total_keys:2\r\n", "tracking_total_items:2\r\n"] {
        assert!(info.contains(field), "missing {field:?}");
    }
    // Only keys the tracker read are invalidated, each once.
    let _: () = q(&mut writer, &["SET", "k1", "c"]);
    redir.expect(&invalidation(&["k1"]));
    let _: () = q(&mut writer, &["SET", "k1", "d"]);
    let _: () = q(&mut writer, &["SET", "unread", "x"]);
    assert!(redir.read_for(Duration::from_millis(200)).is_empty(), "unexpected invalidation");
    // A TTL change is a change.
    let _: () = q(&mut writer, &["PEXPIRE", "k2", "100000"]);
    redir.expect(&invalidation(&["k2"]));
    // A flush invalidates everything with a null.
    let _: String = q(&mut tracker, &["GET", "k1"]);
    let _: () = q(&mut writer, &["FLUSHALL"]);
    redir.expect(&frame3("message", "__redis__:invalidate", "$-1\r\n"));

    // BCAST: one message per prefix with every key changed under it.
    let _: String = q(&mut tracker, &["CLIENT", "TRACKING", "OFF"]);
    let _: String = q(&mut tracker, &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "REDIRECT", &id]);
    let _: () = q(&mut writer, &["MSET", "user:2", "a", "user:1", "b", "other", "c"]);
    redir.expect(&invalidation(&["user:1", "user:2"]));

    // When the redirect target goes away, the tracker's state says so.
    drop(redir);
    assert!(support::wait_for(Duration::from_secs(5), || {
        q::<String>(&mut writer, &["CLIENT", "LIST"]).lines().count() == 2
    }));
    let _: () = q(&mut writer, &["SET", "user:3", "x"]);
    assert!(support::wait_for(Duration::from_secs(5), || {
        let info: Value = q(&mut tracker, &["CLIENT", "TRACKINGINFO"]);
        format!("{info:?}").contains("broken_redirect")
    }));
}
