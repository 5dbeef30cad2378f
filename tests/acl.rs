//! ACL through a real client library (the `redis` crate) against a real
//! `viator-server`: users authenticate, refusals name the command, key or
//! channel with Redis's NOPERM texts, and ACL LOG records them.
//!
//! Owns the client-visible contract of ACL. Rule parsing and descriptions
//! are unit-tested in `src/acl`; the Redis Tcl units `unit/acl` and
//! `unit/acl-v2` cover the rest.

mod support;

use redis::{FromRedisValue, Value};
use support::{q, qe, Server};

/// The value of `field` in one ACL LOG entry (a flat list in RESP2).
fn field(entry: &Value, name: &str) -> Value {
    let Value::Array(items) = entry else { panic!("entry is not an array: {entry:?}") };
    let at = items
        .chunks(2)
        .position(|kv| matches!(&kv[0], Value::BulkString(k) if k == name.as_bytes()))
        .unwrap_or_else(|| panic!("no field {name} in {entry:?}"));
    items[at * 2 + 1].clone()
}

fn text(v: Value) -> String {
    String::from_utf8(Vec::<u8>::from_redis_value(&v).expect("bulk")).expect("utf8")
}

#[test]
fn users_authenticate_and_are_refused_with_noperm() {
    let srv = Server::start();
    let mut admin = srv.client();
    let mut con = srv.client();
    let _: () = q(&mut admin, &["ACL", "SETUSER", "alice", "on", ">secret", "+get", "+publish", "~app:*", "&news"]);

    assert_eq!(
        qe(&mut con, &["AUTH", "alice", "wrong"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    let _: () = q(&mut con, &["AUTH", "alice", "secret"]);
    assert_eq!(qe(&mut con, &["ACL", "WHOAMI"]), "NOPERM this user has no permissions to run the 'acl|whoami' command");
    let _: () = q(&mut admin, &["ACL", "SETUSER", "alice", "+acl|whoami"]);
    let me: String = q(&mut con, &["ACL", "WHOAMI"]);
    assert_eq!(me, "alice");
    // HELLO ... AUTH switches user too.
    let _: () = q(&mut admin, &["ACL", "SETUSER", "carol", "on", ">c", "+@all"]);
    let _: Value = q(&mut con, &["HELLO", "2", "AUTH", "carol", "c"]);
    let me: String = q(&mut con, &["ACL", "WHOAMI"]);
    assert_eq!(me, "carol");
}

#[test]
fn refusals_and_the_acl_log() {
    let srv = Server::start();
    let mut admin = srv.client();
    let mut con = srv.client();
    let _: () = q(&mut admin, &["ACL", "SETUSER", "alice", "on", ">secret", "+get", "+publish", "~app:*", "&news"]);
    let _: () = q(&mut con, &["AUTH", "alice", "secret"]);

    // The command, a key, a channel.
    assert_eq!(qe(&mut con, &["SET", "app:1", "v"]), "NOPERM this user has no permissions to run the 'set' command");
    let none: Option<String> = q(&mut con, &["GET", "app:1"]);
    assert_eq!(none, None);
    assert_eq!(
        qe(&mut con, &["GET", "other"]),
        "NOPERM this user has no permissions to access one of the keys used as arguments"
    );
    let receivers: i64 = q(&mut con, &["PUBLISH", "news", "hi"]);
    assert_eq!(receivers, 0);
    assert_eq!(
        qe(&mut con, &["PUBLISH", "gossip", "hi"]),
        "NOPERM this user has no permissions to access one of the channels used as arguments"
    );

    // Newest first: channel, key, command.
    let log: Vec<Value> = q(&mut admin, &["ACL", "LOG"]);
    assert_eq!(log.len(), 3);
    let seen: Vec<(String, String)> =
        log.iter().map(|e| (text(field(e, "reason")), text(field(e, "object")))).collect();
    assert_eq!(
        seen,
        vec![("channel".into(), "gossip".into()), ("key".into(), "other".into()), ("command".into(), "set".into())]
    );
    assert_eq!(text(field(&log[0], "username")), "alice");
    assert_eq!(text(field(&log[0], "context")), "toplevel");
    assert!(text(field(&log[0], "client-info")).contains("user=alice"));

    // The same refusal again folds into the entry.
    let _ = qe(&mut con, &["PUBLISH", "gossip", "again"]);
    let log: Vec<Value> = q(&mut admin, &["ACL", "LOG", "1"]);
    assert_eq!(field(&log[0], "count"), Value::Int(2));

    // A failed AUTH is logged under the user it tried.
    let _ = qe(&mut con, &["AUTH", "alice", "nope"]);
    let log: Vec<Value> = q(&mut admin, &["ACL", "LOG", "1"]);
    assert_eq!(text(field(&log[0], "reason")), "auth");
    assert_eq!(text(field(&log[0], "object")), "AUTH");
    let _: () = q(&mut admin, &["ACL", "LOG", "RESET"]);
    let log: Vec<Value> = q(&mut admin, &["ACL", "LOG"]);
    assert!(log.is_empty());
}

#[test]
fn deleting_a_user_closes_its_connections() {
    let srv = Server::start();
    let mut admin = srv.client();
    let mut con = srv.client();
    let _: () = q(&mut admin, &["ACL", "SETUSER", "bob", "on", "nopass", "+@all", "~*"]);
    let _: () = q(&mut con, &["AUTH", "bob", "any"]);
    let names: Vec<String> = q(&mut admin, &["ACL", "USERS"]);
    assert_eq!(names, vec!["bob".to_string(), "default".to_string()]);
    let clients: String = q(&mut admin, &["CLIENT", "LIST"]);
    assert!(clients.contains("user=bob"), "{clients}");
    let deleted: i64 = q(&mut admin, &["ACL", "DELUSER", "bob"]);
    assert_eq!(deleted, 1);
    assert!(redis::cmd("PING").query::<String>(&mut con).is_err(), "bob's connection must be closed");
    assert_eq!(qe(&mut admin, &["ACL", "DELUSER", "default"]), "ERR The 'default' user cannot be removed");
}

#[test]
fn requirepass_is_the_default_users_password() {
    let srv = Server::start_with(&["--requirepass", "pw"]);
    let mut con = srv.client();
    assert_eq!(qe(&mut con, &["GET", "k"]), "NOAUTH Authentication required.");
    let _: () = q(&mut con, &["AUTH", "pw"]);
    let user: String = q(&mut con, &["ACL", "WHOAMI"]);
    assert_eq!(user, "default");
    let _: () = q(&mut con, &["CONFIG", "SET", "requirepass", ""]);
    let mut fresh = srv.client();
    let pong: String = q(&mut fresh, &["PING"]);
    assert_eq!(pong, "PONG");
}
