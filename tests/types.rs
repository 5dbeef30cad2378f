//! Data-type tests through a real client library (the `redis` crate, sync API)
//! against a real `viator-server`.
//!
//! Owns the contract of the collection types as a client sees it: lists,
//! hashes, sets, sorted sets, streams, bitmaps, HyperLogLog and geo, their
//! encoding conversions at Redis 7.0's default thresholds, and the blocking
//! commands (a pop woken by another connection's write, a pop timing out,
//! waiters served in arrival order). Every expectation is Redis 7.0.15's
//! behaviour, checked against the real server where a reply was in doubt.

mod support;

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

use redis::{Connection, Value};
use support::{q, qe, wait_for, Server};

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// Waits until the server reports `n` blocked clients.
fn wait_blocked(con: &mut Connection, n: i64) {
    let ok = wait_for(Duration::from_secs(5), || {
        let info: String = q(con, &["INFO", "clients"]);
        info.lines().any(|l| l.trim() == format!("blocked_clients:{n}"))
    });
    assert!(ok, "never saw {n} blocked clients");
}

// ---------------------------------------------------------------- lists

#[test]
fn lists_push_pop_range_and_edit() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(q::<i64>(&mut c, &["RPUSH", "l", "a", "b", "c"]), 3);
    assert_eq!(q::<i64>(&mut c, &["LPUSH", "l", "z"]), 4);
    assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", "l", "0", "-1"]), s(&["z", "a", "b", "c"]));
    assert_eq!(q::<Vec<String>>(&mut c, &["LPOP", "l", "2"]), s(&["z", "a"]));
    assert_eq!(q::<String>(&mut c, &["RPOP", "l"]), "c");
    assert_eq!(q::<i64>(&mut c, &["LINSERT", "l", "BEFORE", "b", "x"]), 2);
    assert_eq!(q::<Option<i64>>(&mut c, &["LPOS", "l", "b"]), Some(1));
    assert_eq!(q::<Option<i64>>(&mut c, &["LPOS", "l", "nope"]), None);
    assert_eq!(q::<i64>(&mut c, &["RPUSH", "l", "b", "b"]), 4);
    assert_eq!(q::<Vec<i64>>(&mut c, &["LPOS", "l", "b", "COUNT", "0"]), vec![1, 2, 3]);
    assert_eq!(q::<i64>(&mut c, &["LREM", "l", "-2", "b"]), 2);
    assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", "l", "0", "-1"]), s(&["x", "b"]));
    assert_eq!(q::<String>(&mut c, &["LSET", "l", "0", "y"]), "OK");
    assert_eq!(qe(&mut c, &["LSET", "l", "9", "y"]), "ERR index out of range");
    assert_eq!(q::<String>(&mut c, &["LMOVE", "l", "dst", "LEFT", "RIGHT"]), "y");
    assert_eq!(q::<i64>(&mut c, &["LLEN", "dst"]), 1);
    assert_eq!(
        q::<Value>(&mut c, &["LMPOP", "2", "none", "l", "LEFT"]),
        Value::Array(vec![Value::BulkString(b"l".to_vec()), Value::Array(vec![Value::BulkString(b"b".to_vec())]),])
    );
    // The last pop deleted the key.
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "l"]), 0);
    assert_eq!(q::<i64>(&mut c, &["LPUSHX", "l", "a"]), 0);
    q::<()>(&mut c, &["SET", "str", "v"]);
    assert_eq!(qe(&mut c, &["LPUSH", "str", "a"]), "WRONGTYPE Operation against a key holding the wrong kind of value");
}

#[test]
fn list_trim_keeps_the_range_across_encodings() {
    let srv = Server::start();
    let mut c = srv.client();
    let items: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    redis::cmd("RPUSH").arg("big").arg(&items).query::<i64>(&mut c).unwrap();
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "big"]), "quicklist");
    assert_eq!(q::<String>(&mut c, &["LINDEX", "big", "500"]), "500");
    assert_eq!(q::<String>(&mut c, &["LTRIM", "big", "10", "-11"]), "OK");
    assert_eq!(q::<i64>(&mut c, &["LLEN", "big"]), 980);
    assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", "big", "0", "1"]), s(&["10", "11"]));
    assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", "big", "-1", "-1"]), s(&["989"]));
}

// ---------------------------------------------------------------- hashes

#[test]
fn hashes_and_their_encoding_conversion() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(q::<i64>(&mut c, &["HSET", "h", "f1", "v1", "f2", "v2"]), 2);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "h"]), "listpack");
    assert_eq!(q::<i64>(&mut c, &["HSETNX", "h", "f1", "other"]), 0);
    assert_eq!(q::<Vec<Option<String>>>(&mut c, &["HMGET", "h", "f1", "nope"]), vec![Some("v1".into()), None]);
    assert_eq!(q::<i64>(&mut c, &["HINCRBY", "h", "n", "5"]), 5);
    assert_eq!(q::<String>(&mut c, &["HINCRBYFLOAT", "h", "n", "0.5"]), "5.5");
    assert_eq!(qe(&mut c, &["HINCRBY", "h", "f1", "1"]), "ERR hash value is not an integer");
    assert_eq!(q::<i64>(&mut c, &["HSTRLEN", "h", "f2"]), 2);
    let all: HashMap<String, String> = q(&mut c, &["HGETALL", "h"]);
    assert_eq!(all.len(), 3);
    assert_eq!(all["n"], "5.5");
    assert_eq!(q::<i64>(&mut c, &["HDEL", "h", "f1", "f2", "zz"]), 2);
    // A value over hash-max-listpack-value (64) converts to a hashtable.
    let long = "x".repeat(65);
    q::<i64>(&mut c, &["HSET", "h", "long", &long]);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "h"]), "hashtable");
    assert_eq!(q::<String>(&mut c, &["HGET", "h", "long"]), long);
    // So does the 513th field (hash-max-listpack-entries is 512 by default).
    for i in 0..512 {
        q::<i64>(&mut c, &["HSET", "h2", &format!("f{i}"), "v"]);
    }
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "h2"]), "listpack");
    q::<i64>(&mut c, &["HSET", "h2", "f512", "v"]);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "h2"]), "hashtable");
    assert_eq!(q::<i64>(&mut c, &["HLEN", "h2"]), 513);
    let r: Vec<String> = q(&mut c, &["HRANDFIELD", "h2", "-300"]);
    assert_eq!(r.len(), 300);
}

// ---------------------------------------------------------------- sets

#[test]
fn sets_algebra_and_intset_conversion() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(q::<i64>(&mut c, &["SADD", "a", "1", "2", "3", "3"]), 3);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "a"]), "intset");
    q::<i64>(&mut c, &["SADD", "b", "2", "3", "x"]);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "b"]), "hashtable");
    let mut inter: Vec<String> = q(&mut c, &["SINTER", "a", "b"]);
    inter.sort();
    assert_eq!(inter, s(&["2", "3"]));
    assert_eq!(q::<i64>(&mut c, &["SINTERCARD", "2", "a", "b", "LIMIT", "1"]), 1);
    assert_eq!(q::<i64>(&mut c, &["SUNIONSTORE", "u", "a", "b"]), 4);
    assert_eq!(q::<Vec<String>>(&mut c, &["SDIFF", "a", "b"]), s(&["1"]));
    assert_eq!(q::<Vec<i64>>(&mut c, &["SMISMEMBER", "u", "x", "nope"]), vec![1, 0]);
    assert_eq!(q::<i64>(&mut c, &["SMOVE", "a", "b", "1"]), 1);
    assert_eq!(q::<i64>(&mut c, &["SCARD", "b"]), 4);
    let popped: Vec<String> = q(&mut c, &["SPOP", "u", "10"]);
    assert_eq!(popped.len(), 4);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "u"]), 0);
    // The 513th integer converts the intset.
    let nums: Vec<String> = (0..513).map(|i| i.to_string()).collect();
    redis::cmd("SADD").arg("n").arg(&nums).query::<i64>(&mut c).unwrap();
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "n"]), "hashtable");
    assert_eq!(q::<i64>(&mut c, &["SISMEMBER", "n", "512"]), 1);
}

// ---------------------------------------------------------------- sorted sets

#[test]
fn sorted_sets_ranges_scores_and_errors() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(q::<i64>(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]), 3);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "z"]), "listpack");
    assert_eq!(q::<i64>(&mut c, &["ZADD", "z", "GT", "CH", "0", "a", "5", "b"]), 1);
    assert_eq!(q::<Vec<String>>(&mut c, &["ZRANGE", "z", "0", "-1"]), s(&["a", "c", "b"]));
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZRANGE", "z", "(1", "+inf", "BYSCORE", "LIMIT", "0", "1", "WITHSCORES"]),
        s(&["c", "3"])
    );
    assert_eq!(q::<Vec<String>>(&mut c, &["ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV"]), s(&["b", "c", "a"]));
    assert_eq!(q::<String>(&mut c, &["ZINCRBY", "z", "1.5", "a"]), "2.5");
    assert_eq!(q::<Option<i64>>(&mut c, &["ZREVRANK", "z", "a"]), Some(2));
    q::<i64>(&mut c, &["ZADD", "z", "inf", "top"]);
    assert_eq!(q::<String>(&mut c, &["ZSCORE", "z", "top"]), "inf");
    assert_eq!(qe(&mut c, &["ZADD", "z", "nan", "x"]), "ERR value is not a valid float");
    assert_eq!(qe(&mut c, &["ZINCRBY", "z", "-inf", "top"]), "ERR resulting score is not a number (NaN)");
    assert_eq!(
        qe(&mut c, &["ZADD", "z", "NX", "XX", "1", "x"]),
        "ERR XX and NX options at the same time are not compatible"
    );
    q::<i64>(&mut c, &["ZADD", "w", "10", "a", "20", "zz"]);
    assert_eq!(q::<i64>(&mut c, &["ZUNIONSTORE", "out", "2", "z", "w", "WEIGHTS", "1", "2", "AGGREGATE", "MAX"]), 5);
    assert_eq!(q::<String>(&mut c, &["ZSCORE", "out", "a"]), "20");
    assert_eq!(q::<i64>(&mut c, &["ZINTERCARD", "2", "z", "w"]), 1);
    assert_eq!(q::<Vec<String>>(&mut c, &["ZPOPMIN", "out", "2"]), s(&["c", "3", "b", "5"]));
    // The 129th member converts the listpack to a skiplist.
    for i in 0..129 {
        q::<i64>(&mut c, &["ZADD", "big", &i.to_string(), &format!("m{i}")]);
    }
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "big"]), "skiplist");
    assert_eq!(q::<i64>(&mut c, &["ZCOUNT", "big", "10", "(20"]), 10);
    assert_eq!(q::<i64>(&mut c, &["ZREMRANGEBYRANK", "big", "0", "99"]), 100);
    assert_eq!(q::<Vec<String>>(&mut c, &["ZRANGE", "big", "0", "0"]), s(&["m100"]));
}

// ---------------------------------------------------------------- streams

#[test]
fn streams_groups_pending_and_ack() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(q::<String>(&mut c, &["XADD", "s", "1-1", "f", "v1"]), "1-1");
    assert_eq!(q::<String>(&mut c, &["XADD", "s", "1-*", "f", "v2"]), "1-2");
    assert_eq!(
        qe(&mut c, &["XADD", "s", "1-1", "f", "v"]),
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
    );
    assert_eq!(q::<i64>(&mut c, &["XLEN", "s"]), 2);
    assert_eq!(q::<String>(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]), "OK");
    let r: Value = q(&mut c, &["XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "s", ">"]);
    let Value::Array(streams) = r else { panic!("{r:?}") };
    assert_eq!(streams.len(), 1);
    let pending: Value = q(&mut c, &["XPENDING", "s", "g"]);
    let Value::Array(summary) = pending else { panic!("{pending:?}") };
    assert_eq!(summary[0], Value::Int(1));
    assert_eq!(summary[1], Value::BulkString(b"1-1".to_vec()));
    assert_eq!(q::<i64>(&mut c, &["XACK", "s", "g", "1-1", "9-9"]), 1);
    let claimed: Value = q(&mut c, &["XAUTOCLAIM", "s", "g", "bob", "0", "0-0"]);
    let Value::Array(parts) = claimed else { panic!("{claimed:?}") };
    assert_eq!(parts[0], Value::BulkString(b"0-0".to_vec()));
    assert_eq!(q::<i64>(&mut c, &["XTRIM", "s", "MAXLEN", "=", "1"]), 1);
    assert_eq!(q::<i64>(&mut c, &["XDEL", "s", "1-2"]), 1);
    assert_eq!(q::<i64>(&mut c, &["XLEN", "s"]), 0);
}

// ---------------------------------------------------------------- bitmaps, hll, geo

#[test]
fn bitmaps_hyperloglog_and_geo() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(q::<i64>(&mut c, &["SETBIT", "bm", "7", "1"]), 0);
    assert_eq!(q::<i64>(&mut c, &["GETBIT", "bm", "7"]), 1);
    assert_eq!(q::<i64>(&mut c, &["BITCOUNT", "bm"]), 1);
    assert_eq!(q::<i64>(&mut c, &["BITPOS", "bm", "1"]), 7);
    assert_eq!(
        q::<Vec<i64>>(&mut c, &["BITFIELD", "bf", "SET", "u8", "0", "200", "INCRBY", "u8", "0", "100"]),
        vec![0, 44]
    );

    let members: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    redis::cmd("PFADD").arg("hll").arg(&members).query::<i64>(&mut c).unwrap();
    let n: i64 = q(&mut c, &["PFCOUNT", "hll"]);
    assert!((980..=1020).contains(&n), "estimate {n}");
    // The sparse representation is Redis's byte for byte: its header.
    let raw: Vec<u8> = q(&mut c, &["GET", "hll"]);
    assert_eq!(&raw[..4], b"HYLL");

    assert_eq!(
        q::<i64>(&mut c, &["GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"]),
        2
    );
    assert_eq!(q::<String>(&mut c, &["GEODIST", "g", "Palermo", "Catania", "km"]), "166.2742");
    assert_eq!(q::<Vec<String>>(&mut c, &["GEOHASH", "g", "Palermo"]), s(&["sqc8b49rny0"]));
    assert_eq!(
        q::<Vec<String>>(&mut c, &["GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "100", "km", "ASC"]),
        s(&["Catania"])
    );
}

// ---------------------------------------------------------------- blocking

#[test]
fn blpop_is_woken_by_a_push_from_another_connection() {
    let srv = Server::start();
    let mut waiter = srv.client();
    let mut admin = srv.client();
    let t = thread::spawn(move || q::<Option<(String, String)>>(&mut waiter, &["BLPOP", "q1", "q2", "0"]));
    wait_blocked(&mut admin, 1);
    q::<i64>(&mut admin, &["RPUSH", "q2", "job"]);
    assert_eq!(t.join().unwrap(), Some(("q2".to_string(), "job".to_string())));
    // The element was consumed, not left behind.
    assert_eq!(q::<i64>(&mut admin, &["EXISTS", "q2"]), 0);
    wait_blocked(&mut admin, 0);
}

#[test]
fn blocking_pops_time_out_with_a_null_reply() {
    let srv = Server::start();
    let mut c = srv.client();
    let t0 = Instant::now();
    assert_eq!(q::<Value>(&mut c, &["BLPOP", "empty", "0.2"]), Value::Nil);
    // Deadlines are whole milliseconds (as in Redis), so allow for the
    // fraction of a millisecond lost when the command arrived.
    assert!(t0.elapsed() >= Duration::from_millis(195), "{:?}", t0.elapsed());
    assert_eq!(q::<Value>(&mut c, &["BZPOPMIN", "emptyz", "0.1"]), Value::Nil);
    assert_eq!(q::<Value>(&mut c, &["XREAD", "BLOCK", "100", "STREAMS", "nos", "$"]), Value::Nil);
    assert_eq!(qe(&mut c, &["BLPOP", "k", "-1"]), "ERR timeout is negative");
    // The connection is usable after a timeout.
    assert_eq!(q::<String>(&mut c, &["PING"]), "PONG");
}

#[test]
fn waiters_are_served_in_arrival_order() {
    let srv = Server::start();
    let mut admin = srv.client();
    let mut handles = Vec::new();
    for i in 0..3 {
        let mut w = srv.client();
        handles.push(thread::spawn(move || q::<(String, String)>(&mut w, &["BRPOP", "jobs", "5"])));
        wait_blocked(&mut admin, i + 1);
    }
    // One push with three elements: the first waiter gets the rightmost.
    q::<i64>(&mut admin, &["LPUSH", "jobs", "c", "b", "a"]);
    let got: Vec<String> = handles.into_iter().map(|h| h.join().unwrap().1).collect();
    assert_eq!(got, s(&["c", "b", "a"]));
}

#[test]
fn blmove_bzpopmin_and_xread_block_wake_up() {
    let srv = Server::start();
    let mut admin = srv.client();

    let mut w = srv.client();
    let t = thread::spawn(move || q::<String>(&mut w, &["BLMOVE", "src", "dst", "LEFT", "LEFT", "5"]));
    wait_blocked(&mut admin, 1);
    q::<i64>(&mut admin, &["RPUSH", "src", "x"]);
    assert_eq!(t.join().unwrap(), "x");
    assert_eq!(q::<Vec<String>>(&mut admin, &["LRANGE", "dst", "0", "-1"]), s(&["x"]));

    let mut w = srv.client();
    let t = thread::spawn(move || q::<Vec<String>>(&mut w, &["BZPOPMIN", "z", "5"]));
    wait_blocked(&mut admin, 1);
    q::<i64>(&mut admin, &["ZADD", "z", "2", "two", "1", "one"]);
    assert_eq!(t.join().unwrap(), s(&["z", "one", "1"]));

    let mut w = srv.client();
    let t = thread::spawn(move || q::<Value>(&mut w, &["XREAD", "BLOCK", "5000", "STREAMS", "st", "$"]));
    wait_blocked(&mut admin, 1);
    q::<String>(&mut admin, &["XADD", "st", "5-1", "k", "v"]);
    let r = t.join().unwrap();
    let Value::Array(streams) = r else { panic!("{r:?}") };
    let Value::Array(entry) = &streams[0] else { panic!() };
    assert_eq!(entry[0], Value::BulkString(b"st".to_vec()));
}

#[test]
fn client_unblock_and_blocking_inside_multi() {
    let srv = Server::start();
    let mut admin = srv.client();
    let mut w = srv.client();
    let id: i64 = q(&mut w, &["CLIENT", "ID"]);
    let t = thread::spawn(move || {
        redis::cmd("BLPOP").arg("never").arg("0").query::<Value>(&mut w).map_err(|e| e.to_string())
    });
    wait_blocked(&mut admin, 1);
    assert_eq!(q::<i64>(&mut admin, &["CLIENT", "UNBLOCK", &id.to_string(), "ERROR"]), 1);
    let err = t.join().unwrap().unwrap_err();
    assert!(err.contains("UNBLOCKED"), "{err}");

    // Inside MULTI a blocking pop on an empty list answers null at once.
    let mut m = srv.client();
    let r: Value = redis::pipe().atomic().cmd("BLPOP").arg("never").arg("0").query(&mut m).unwrap();
    assert_eq!(r, Value::Array(vec![Value::Nil]));
}
