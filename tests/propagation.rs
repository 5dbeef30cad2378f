//! Transactions and propagation through real connections: WATCH races
//! between two clients, and what a replica attached with SYNC receives.
//!
//! Owns the contract of the replication stream as a replica sees it: the RDB
//! snapshot first, then every write once, rewritten the way Redis 7.0
//! rewrites it (relative expiries made absolute, blocking and random pops
//! replaced by what they did, float increments by their results),
//! transactions wrapped in MULTI/EXEC, a SELECT whenever the database
//! changes, expired keys as DEL. The fake replica is a raw socket, as the
//! Redis test suite's `attach_to_replication_stream` is.

mod support;

use std::thread;
use std::time::Duration;

use redis::Value;
use support::{q, Server, SyncReplica as Replica};

#[test]
fn watch_race_between_two_clients_aborts_the_loser() {
    let srv = Server::start();
    let mut a = srv.client();
    let mut b = srv.client();
    q::<()>(&mut a, &["SET", "balance", "10"]);
    q::<()>(&mut a, &["WATCH", "balance"]);
    q::<()>(&mut b, &["WATCH", "balance"]);
    let seen: i64 = q(&mut a, &["GET", "balance"]);
    assert_eq!(seen, 10);
    // b commits first; a's transaction must then be refused as a whole.
    let r: Value = redis::pipe().atomic().cmd("INCRBY").arg("balance").arg(5).query(&mut b).unwrap();
    assert_eq!(r, Value::Array(vec![Value::Int(15)]));
    let r: Value = redis::pipe().atomic().cmd("SET").arg("balance").arg(seen - 3).query(&mut a).unwrap();
    assert_eq!(r, Value::Nil, "EXEC after a watched key changed answers null");
    assert_eq!(q::<i64>(&mut a, &["GET", "balance"]), 15);
    // An expiry of a watched key counts as a change too.
    q::<()>(&mut a, &["SET", "lease", "x", "PX", "50"]);
    q::<()>(&mut a, &["WATCH", "lease"]);
    thread::sleep(Duration::from_millis(100));
    let r: Value = redis::pipe().atomic().cmd("SET").arg("lease").arg("y").query(&mut a).unwrap();
    assert_eq!(r, Value::Nil);
}

#[test]
fn replica_stream_carries_rewritten_commands() {
    let srv = Server::start();
    let mut c = srv.client();
    q::<()>(&mut c, &["SET", "before", "x"]);
    let mut rep = Replica::attach(&srv);
    q::<()>(&mut c, &["SET", "k", "v", "EX", "100"]);
    q::<String>(&mut c, &["INCRBYFLOAT", "f", "1.5"]);
    q::<i64>(&mut c, &["RPUSH", "l", "a", "b"]);
    q::<Value>(&mut c, &["BLPOP", "l", "0"]);
    q::<i64>(&mut c, &["EXPIRE", "l", "100"]);
    q::<Value>(&mut c, &["GET", "k"]);
    q::<i64>(&mut c, &["SADD", "s", "only"]);
    q::<String>(&mut c, &["SPOP", "s"]);
    q::<i64>(&mut c, &["DEL", "nothing-here"]);
    q::<()>(&mut c, &["SELECT", "2"]);
    q::<()>(&mut c, &["SET", "in2", "x"]);
    rep.expect(&[
        "select 0",
        "set k v PXAT *",
        "set f 1.5 KEEPTTL",
        "rpush l a b",
        "lpop l",
        "pexpireat l *",
        "sadd s only",
        "srem s only",
        "select 2",
        "set in2 x",
    ]);
}

#[test]
fn transactions_and_expiry_reach_the_replica_as_units() {
    let srv = Server::start();
    let mut c = srv.client();
    let mut rep = Replica::attach(&srv);
    // Two writes: wrapped. One write: bare. Reads only: nothing.
    let _: Value = redis::pipe().atomic().cmd("SET").arg("a").arg(1).cmd("INCR").arg("a").query(&mut c).unwrap();
    let _: Value = redis::pipe().atomic().cmd("SET").arg("b").arg(1).cmd("GET").arg("b").query(&mut c).unwrap();
    let _: Value = redis::pipe().atomic().cmd("GET").arg("a").query(&mut c).unwrap();
    // A key found expired on access is deleted on the replica too.
    q::<()>(&mut c, &["SET", "gone", "x", "PX", "1"]);
    thread::sleep(Duration::from_millis(20));
    q::<Value>(&mut c, &["GET", "gone"]);
    q::<()>(&mut c, &["SET", "last", "x"]);
    rep.expect(&[
        "select 0",
        "multi",
        "set a 1",
        "incr a",
        "exec",
        "set b 1",
        "set gone x PXAT *",
        "del gone",
        "set last x",
    ]);
}
