//! Command tests through a real client library (the `redis` crate, sync API)
//! against a real `viator-server`.
//!
//! Owns the command-level contract: replies and exact error texts of the
//! string, key, expiry, connection, introspection and server commands that
//! exist today. Framing is `protocol.rs`'s job. Every expectation is Redis
//! 7.0's behaviour (its command docs and its source for error texts); where a
//! test needs a configuration the temporary parser cannot express, it is
//! ignored with "needs config parser".

mod support;

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::{Connection, Value};
use support::{q, qe, Server};

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn int_pair(a: i64, b: i64) -> Value {
    Value::Array(vec![Value::Int(a), Value::Int(b)])
}

// ---------------------------------------------------------------- strings

#[test]
fn set_conditions_and_get_option() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(q::<String>(&mut c, &["SET", "k", "v"]), "OK");
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "k"]), Some("v".into()));
    assert_eq!(q::<Option<String>>(&mut c, &["SET", "k", "w", "NX"]), None);
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "k"]), Some("v".into()));
    assert_eq!(q::<Option<String>>(&mut c, &["SET", "new", "w", "XX"]), None);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "new"]), 0);
    assert_eq!(q::<String>(&mut c, &["SET", "k", "w", "XX"]), "OK");
    assert_eq!(q::<String>(&mut c, &["SET", "new", "n", "nx"]), "OK");
    // GET returns the old value (nil when there was none) and still sets.
    assert_eq!(q::<Option<String>>(&mut c, &["SET", "k", "x", "GET"]), Some("w".into()));
    assert_eq!(q::<Option<String>>(&mut c, &["SET", "fresh", "f", "GET"]), None);
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "fresh"]), Some("f".into()));
    // NX with GET: the old value comes back and nothing is written.
    assert_eq!(q::<Option<String>>(&mut c, &["SET", "k", "y", "NX", "GET"]), Some("x".into()));
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "k"]), Some("x".into()));
}

#[test]
fn set_expiry_options() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(q::<String>(&mut c, &["SET", "k", "v", "EX", "100"]), "OK");
    let ttl: i64 = q(&mut c, &["TTL", "k"]);
    assert!((99..=100).contains(&ttl), "EX ttl {ttl}");
    q::<String>(&mut c, &["SET", "k", "v", "PX", "100000"]);
    let pttl: i64 = q(&mut c, &["PTTL", "k"]);
    assert!((99_000..=100_000).contains(&pttl), "PX pttl {pttl}");
    let at = now_ms() / 1000 + 200;
    q::<String>(&mut c, &["SET", "k", "v", "EXAT", &at.to_string()]);
    assert_eq!(q::<i64>(&mut c, &["EXPIRETIME", "k"]), at);
    let pat = now_ms() + 300_000;
    q::<String>(&mut c, &["SET", "k", "v", "PXAT", &pat.to_string()]);
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "k"]), pat);
    // KEEPTTL keeps it; a plain SET clears it.
    q::<String>(&mut c, &["SET", "k", "w", "KEEPTTL"]);
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "k"]), pat);
    assert_eq!(q::<String>(&mut c, &["GET", "k"]), "w");
    q::<String>(&mut c, &["SET", "k", "x"]);
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), -1);
    // An absolute time in the past deletes the key at once.
    q::<String>(&mut c, &["SET", "k", "v", "PXAT", "1"]);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "k"]), 0);
}

#[test]
fn set_errors() {
    let srv = Server::start();
    let mut c = srv.client();
    let syntax = "ERR syntax error";
    assert_eq!(qe(&mut c, &["SET", "k", "v", "NX", "XX"]), syntax);
    assert_eq!(qe(&mut c, &["SET", "k", "v", "EX", "10", "PX", "100"]), syntax);
    assert_eq!(qe(&mut c, &["SET", "k", "v", "KEEPTTL", "EX", "10"]), syntax);
    assert_eq!(qe(&mut c, &["SET", "k", "v", "EX"]), syntax);
    assert_eq!(qe(&mut c, &["SET", "k", "v", "FOO"]), syntax);
    let bad = "ERR invalid expire time in 'set' command";
    assert_eq!(qe(&mut c, &["SET", "k", "v", "EX", "0"]), bad);
    assert_eq!(qe(&mut c, &["SET", "k", "v", "PX", "-5"]), bad);
    assert_eq!(qe(&mut c, &["SET", "k", "v", "EX", "9223372036854775807"]), bad);
    assert_eq!(qe(&mut c, &["SET", "k", "v", "EX", "abc"]), "ERR value is not an integer or out of range");
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "k"]), 0, "a failed SET must not write");
}

#[test]
fn getex_getdel_getset() {
    let srv = Server::start();
    let mut c = srv.client();
    q::<String>(&mut c, &["SET", "k", "v"]);
    assert_eq!(q::<String>(&mut c, &["GETEX", "k", "EX", "100"]), "v");
    let ttl: i64 = q(&mut c, &["TTL", "k"]);
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    assert_eq!(q::<String>(&mut c, &["GETEX", "k"]), "v");
    assert!(q::<i64>(&mut c, &["TTL", "k"]) > 0, "plain GETEX keeps the ttl");
    assert_eq!(q::<String>(&mut c, &["GETEX", "k", "PERSIST"]), "v");
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), -1);
    assert_eq!(q::<Option<String>>(&mut c, &["GETEX", "missing", "EX", "10"]), None);
    assert_eq!(qe(&mut c, &["GETEX", "k", "EX", "10", "PX", "10"]), "ERR syntax error");
    assert_eq!(qe(&mut c, &["GETEX", "k", "KEEPTTL"]), "ERR syntax error");
    assert_eq!(qe(&mut c, &["GETEX", "k", "EX", "-1"]), "ERR invalid expire time in 'getex' command");
    assert_eq!(q::<String>(&mut c, &["GETEX", "k", "PXAT", "1"]), "v");
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "k"]), 0, "GETEX with a past PXAT deletes");

    q::<String>(&mut c, &["SET", "d", "gone"]);
    assert_eq!(q::<Option<String>>(&mut c, &["GETDEL", "d"]), Some("gone".into()));
    assert_eq!(q::<Option<String>>(&mut c, &["GETDEL", "d"]), None);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "d"]), 0);

    q::<String>(&mut c, &["SET", "s", "old", "EX", "100"]);
    assert_eq!(q::<Option<String>>(&mut c, &["GETSET", "s", "new"]), Some("old".into()));
    assert_eq!(q::<i64>(&mut c, &["TTL", "s"]), -1, "GETSET clears the ttl");
    assert_eq!(q::<Option<String>>(&mut c, &["GETSET", "none", "x"]), None);
    assert_eq!(q::<String>(&mut c, &["GET", "none"]), "x");
}

#[test]
fn mset_msetnx() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(q::<String>(&mut c, &["MSET", "a", "1", "b", "2", "a", "3"]), "OK");
    assert_eq!(
        q::<Vec<Option<String>>>(&mut c, &["MGET", "a", "b", "c"]),
        vec![Some("3".into()), Some("2".into()), None]
    );
    assert_eq!(qe(&mut c, &["MSET", "a", "1", "b"]), "ERR wrong number of arguments for 'mset' command");
    assert_eq!(q::<i64>(&mut c, &["MSETNX", "c", "1", "a", "9"]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "c"]), 0, "MSETNX is all or nothing");
    assert_eq!(q::<i64>(&mut c, &["MSETNX", "c", "1", "d", "2"]), 1);
    assert_eq!(q::<Vec<String>>(&mut c, &["MGET", "c", "d"]), vec!["1", "2"]);
}

#[test]
fn incr_family_and_overflow() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(q::<i64>(&mut c, &["INCR", "n"]), 1);
    assert_eq!(q::<i64>(&mut c, &["INCRBY", "n", "10"]), 11);
    assert_eq!(q::<i64>(&mut c, &["DECR", "n"]), 10);
    assert_eq!(q::<i64>(&mut c, &["DECRBY", "n", "-5"]), 15);
    assert_eq!(q::<String>(&mut c, &["GET", "n"]), "15");
    let not_int = "ERR value is not an integer or out of range";
    q::<String>(&mut c, &["SET", "s", "abc"]);
    assert_eq!(qe(&mut c, &["INCR", "s"]), not_int);
    q::<String>(&mut c, &["SET", "s", " 1"]);
    assert_eq!(qe(&mut c, &["INCR", "s"]), not_int);
    assert_eq!(qe(&mut c, &["INCRBY", "n", "1.5"]), not_int);
    assert_eq!(qe(&mut c, &["INCRBY", "n", "9223372036854775808"]), not_int);
    let overflow = "ERR increment or decrement would overflow";
    q::<String>(&mut c, &["SET", "max", "9223372036854775807"]);
    assert_eq!(qe(&mut c, &["INCR", "max"]), overflow);
    q::<String>(&mut c, &["SET", "min", "-9223372036854775808"]);
    assert_eq!(qe(&mut c, &["DECR", "min"]), overflow);
    assert_eq!(qe(&mut c, &["INCRBY", "max", "1"]), overflow);
    assert_eq!(qe(&mut c, &["DECRBY", "n", "-9223372036854775808"]), "ERR decrement would overflow");
    assert_eq!(q::<String>(&mut c, &["GET", "max"]), "9223372036854775807");
}

#[test]
fn incrbyfloat() {
    let srv = Server::start();
    let mut c = srv.client();
    // The examples from the INCRBYFLOAT documentation.
    q::<String>(&mut c, &["SET", "mykey", "10.50"]);
    assert_eq!(q::<String>(&mut c, &["INCRBYFLOAT", "mykey", "0.1"]), "10.6");
    assert_eq!(q::<String>(&mut c, &["INCRBYFLOAT", "mykey", "-5"]), "5.6");
    q::<String>(&mut c, &["SET", "mykey", "5.0e3"]);
    assert_eq!(q::<String>(&mut c, &["INCRBYFLOAT", "mykey", "2.0e2"]), "5200");
    assert_eq!(q::<String>(&mut c, &["GET", "mykey"]), "5200");
    assert_eq!(q::<String>(&mut c, &["INCRBYFLOAT", "newkey", "3"]), "3");
    assert_eq!(qe(&mut c, &["INCRBYFLOAT", "mykey", "abc"]), "ERR value is not a valid float");
    q::<String>(&mut c, &["SET", "s", "abc"]);
    assert_eq!(qe(&mut c, &["INCRBYFLOAT", "s", "1"]), "ERR value is not a valid float");
    assert_eq!(qe(&mut c, &["INCRBYFLOAT", "mykey", "+inf"]), "ERR increment would produce NaN or Infinity");
    assert_eq!(q::<String>(&mut c, &["GET", "mykey"]), "5200");
}

#[test]
fn append_strlen_getrange_setrange() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(q::<i64>(&mut c, &["APPEND", "k", "Hello"]), 5);
    assert_eq!(q::<i64>(&mut c, &["APPEND", "k", " World"]), 11);
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "k"]), 11);
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "missing"]), 0);
    assert_eq!(q::<String>(&mut c, &["GETRANGE", "k", "0", "4"]), "Hello");
    assert_eq!(q::<String>(&mut c, &["GETRANGE", "k", "-5", "-1"]), "World");
    assert_eq!(q::<String>(&mut c, &["GETRANGE", "k", "0", "-1"]), "Hello World");
    assert_eq!(q::<String>(&mut c, &["GETRANGE", "k", "5", "3"]), "");
    assert_eq!(q::<String>(&mut c, &["GETRANGE", "k", "8", "100"]), "rld");
    assert_eq!(q::<String>(&mut c, &["GETRANGE", "missing", "0", "-1"]), "");
    assert_eq!(q::<i64>(&mut c, &["SETRANGE", "k", "6", "Redis"]), 11);
    assert_eq!(q::<String>(&mut c, &["GET", "k"]), "Hello Redis");
    // Past the end: the gap is zero bytes.
    assert_eq!(q::<i64>(&mut c, &["SETRANGE", "z", "3", "ab"]), 5);
    assert_eq!(q::<Vec<u8>>(&mut c, &["GET", "z"]), b"\0\0\0ab".to_vec());
    // An empty value on a missing key creates nothing.
    assert_eq!(q::<i64>(&mut c, &["SETRANGE", "none", "10", ""]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "none"]), 0);
    assert_eq!(qe(&mut c, &["SETRANGE", "k", "-1", "x"]), "ERR offset is out of range");
    // The proto-max-bulk-len guard is checked before any allocation.
    assert_eq!(
        qe(&mut c, &["SETRANGE", "k", "536870912", "x"]),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
}

#[test]
fn lcs_documentation_example() {
    let srv = Server::start();
    let mut c = srv.client();
    q::<String>(&mut c, &["MSET", "key1", "ohmytext", "key2", "mynewtext"]);
    assert_eq!(q::<String>(&mut c, &["LCS", "key1", "key2"]), "mytext");
    assert_eq!(q::<i64>(&mut c, &["LCS", "key1", "key2", "LEN"]), 6);
    let idx: Value = q(&mut c, &["LCS", "key1", "key2", "IDX"]);
    assert_eq!(
        idx,
        Value::Array(vec![
            bulk("matches"),
            Value::Array(vec![
                Value::Array(vec![int_pair(4, 7), int_pair(5, 8)]),
                Value::Array(vec![int_pair(2, 3), int_pair(0, 1)]),
            ]),
            bulk("len"),
            Value::Int(6),
        ])
    );
    let idx: Value = q(&mut c, &["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]);
    assert_eq!(
        idx,
        Value::Array(vec![
            bulk("matches"),
            Value::Array(vec![Value::Array(vec![int_pair(4, 7), int_pair(5, 8), Value::Int(4)])]),
            bulk("len"),
            Value::Int(6),
        ])
    );
    assert_eq!(q::<String>(&mut c, &["LCS", "key1", "missing"]), "");
    assert_eq!(
        qe(&mut c, &["LCS", "key1", "key2", "LEN", "IDX"]),
        "ERR If you want both the length and indexes, please just use IDX."
    );
    assert_eq!(qe(&mut c, &["LCS", "key1", "key2", "BOGUS"]), "ERR syntax error");
}

// ------------------------------------------------------------------- keys

#[test]
fn del_exists_type_rename() {
    let srv = Server::start();
    let mut c = srv.client();
    q::<String>(&mut c, &["MSET", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "a", "a", "b", "zz"]), 3);
    assert_eq!(q::<i64>(&mut c, &["DEL", "a", "b", "zz"]), 2);
    assert_eq!(q::<String>(&mut c, &["TYPE", "c"]), "string");
    assert_eq!(q::<String>(&mut c, &["TYPE", "a"]), "none");
    q::<String>(&mut c, &["SET", "src", "v", "EX", "100"]);
    assert_eq!(q::<String>(&mut c, &["RENAME", "src", "dst"]), "OK");
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "src"]), 0);
    assert_eq!(q::<String>(&mut c, &["GET", "dst"]), "v");
    assert!(q::<i64>(&mut c, &["TTL", "dst"]) > 0, "RENAME carries the ttl");
    assert_eq!(qe(&mut c, &["RENAME", "nosuch", "x"]), "ERR no such key");
    assert_eq!(q::<String>(&mut c, &["RENAME", "dst", "dst"]), "OK");
    assert_eq!(q::<i64>(&mut c, &["RENAMENX", "dst", "c"]), 0);
    assert_eq!(q::<String>(&mut c, &["GET", "c"]), "3");
    assert_eq!(q::<i64>(&mut c, &["RENAMENX", "dst", "e"]), 1);
    assert_eq!(q::<String>(&mut c, &["GET", "e"]), "v");
    assert_eq!(qe(&mut c, &["RENAMENX", "nosuch", "x"]), "ERR no such key");
}

#[test]
fn move_copy_swapdb_flushdb_dbsize() {
    let srv = Server::start();
    let mut c = srv.client();
    q::<String>(&mut c, &["SET", "k", "v"]);
    assert_eq!(q::<i64>(&mut c, &["MOVE", "k", "1"]), 1);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "k"]), 0);
    assert_eq!(qe(&mut c, &["MOVE", "k", "0"]), "ERR source and destination objects are the same");
    assert_eq!(qe(&mut c, &["MOVE", "k", "16"]), "ERR DB index is out of range");
    q::<String>(&mut c, &["SELECT", "1"]);
    assert_eq!(q::<String>(&mut c, &["GET", "k"]), "v");
    q::<String>(&mut c, &["SET", "other", "x"]);
    assert_eq!(q::<i64>(&mut c, &["MOVE", "other", "0"]), 1);
    q::<String>(&mut c, &["SET", "other", "y"]);
    assert_eq!(q::<i64>(&mut c, &["MOVE", "other", "0"]), 0, "MOVE never overwrites");
    q::<String>(&mut c, &["SELECT", "0"]);

    q::<String>(&mut c, &["SET", "a", "1"]);
    assert_eq!(q::<i64>(&mut c, &["COPY", "a", "b"]), 1);
    assert_eq!(q::<i64>(&mut c, &["COPY", "a", "b"]), 0);
    q::<String>(&mut c, &["SET", "a", "2"]);
    assert_eq!(q::<i64>(&mut c, &["COPY", "a", "b", "REPLACE"]), 1);
    assert_eq!(q::<String>(&mut c, &["GET", "b"]), "2");
    assert_eq!(q::<i64>(&mut c, &["COPY", "a", "inone", "DB", "1"]), 1);
    assert_eq!(qe(&mut c, &["COPY", "a", "a"]), "ERR source and destination objects are the same");
    assert_eq!(q::<i64>(&mut c, &["COPY", "missing", "x"]), 0);

    // db0: other a b ; db1: k other inone
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]), 3);
    assert_eq!(q::<String>(&mut c, &["SWAPDB", "0", "1"]), "OK");
    assert_eq!(q::<String>(&mut c, &["GET", "k"]), "v");
    assert_eq!(q::<String>(&mut c, &["GET", "inone"]), "2");
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "a"]), 0);
    assert_eq!(qe(&mut c, &["SWAPDB", "0", "16"]), "ERR DB index is out of range");
    assert_eq!(q::<String>(&mut c, &["FLUSHDB"]), "OK");
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]), 0);
    q::<String>(&mut c, &["SELECT", "1"]);
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]), 3, "FLUSHDB only empties the selected db");
}

#[test]
fn randomkey_and_keys_globs() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(q::<Option<String>>(&mut c, &["RANDOMKEY"]), None);
    q::<String>(&mut c, &["SET", "only", "1"]);
    assert_eq!(q::<String>(&mut c, &["RANDOMKEY"]), "only");
    q::<String>(&mut c, &["FLUSHDB"]);
    for k in ["hello", "hallo", "hxllo", "hllo", "heeeello", "h[e]llo", "other"] {
        q::<String>(&mut c, &["SET", k, "1"]);
    }
    let keys = |c: &mut Connection, pat: &str| -> Vec<String> {
        let mut v: Vec<String> = q(c, &["KEYS", pat]);
        v.sort();
        v
    };
    assert_eq!(keys(&mut c, "h?llo"), vec!["hallo", "hello", "hxllo"]);
    assert_eq!(keys(&mut c, "h*llo"), vec!["h[e]llo", "hallo", "heeeello", "hello", "hllo", "hxllo"]);
    assert_eq!(keys(&mut c, "*").len(), 7);
    assert_eq!(keys(&mut c, "nomatch*"), Vec::<String>::new());
    let r: String = q(&mut c, &["RANDOMKEY"]);
    assert!(keys(&mut c, "*").contains(&r));
}

#[test]
fn keys_glob_classes_and_escapes() {
    let srv = Server::start();
    let mut c = srv.client();
    for k in ["hello", "hallo", "hxllo", "hllo", "heeeello", "h[e]llo", "h*llo"] {
        q::<String>(&mut c, &["SET", k, "1"]);
    }
    let keys = |c: &mut Connection, pat: &str| -> Vec<String> {
        let mut v: Vec<String> = q(c, &["KEYS", pat]);
        v.sort();
        v
    };
    assert_eq!(keys(&mut c, "h[ae]llo"), vec!["hallo", "hello"]);
    assert_eq!(keys(&mut c, "h[^e]llo"), vec!["h*llo", "hallo", "hxllo"]);
    assert_eq!(keys(&mut c, "h[a-b]llo"), vec!["hallo"]);
    assert_eq!(keys(&mut c, "h\\[e\\]llo"), vec!["h[e]llo"]);
    assert_eq!(keys(&mut c, "h\\*llo"), vec!["h*llo"]);
    assert_eq!(keys(&mut c, "H?LLO"), Vec::<String>::new(), "KEYS is case-sensitive");
    let (_, batch): (String, Vec<String>) = q(&mut c, &["SCAN", "0", "MATCH", "h[xa]llo", "COUNT", "1000"]);
    let mut batch = batch;
    batch.sort();
    assert_eq!(batch, vec!["hallo", "hxllo"]);
}

#[test]
fn scan_returns_every_stable_key_despite_changes() {
    let srv = Server::start();
    let mut c = srv.client();
    let mut setup = redis::pipe();
    for i in 0..1000 {
        setup.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    for i in 0..300 {
        setup.cmd("SET").arg(format!("tmp:{i}")).arg(i).ignore();
    }
    setup.query::<()>(&mut c).expect("populate");
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let (next, batch): (String, Vec<String>) = q(&mut c, &["SCAN", &cursor, "MATCH", "key:*", "COUNT", "50"]);
        for k in batch {
            assert!(k.starts_with("key:") || k.starts_with("new:"), "MATCH leaked {k}");
            seen.insert(k);
        }
        // Churn between calls: add and remove keys that are not under test,
        // enough to make the table grow.
        for j in 0..40 {
            let n = calls * 40 + j;
            q::<String>(&mut c, &["SET", &format!("new:{n}"), "x"]);
            q::<i64>(&mut c, &["DEL", &format!("tmp:{}", n % 300)]);
        }
        calls += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
        assert!(calls < 10_000, "SCAN does not terminate");
    }
    let missing: Vec<usize> = (0..1000).filter(|i| !seen.contains(&format!("key:{i}"))).collect();
    assert!(missing.is_empty(), "SCAN missed {} keys, e.g. {:?}", missing.len(), &missing[..missing.len().min(10)]);

    // TYPE filters; an unknown cursor word is an error.
    let (_, strings): (String, Vec<String>) = q(&mut c, &["SCAN", "0", "TYPE", "string", "COUNT", "100000"]);
    assert!(!strings.is_empty());
    let mut all = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, batch): (String, Vec<String>) = q(&mut c, &["SCAN", &cursor, "TYPE", "list"]);
        all.extend(batch);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert!(all.is_empty(), "TYPE list matched strings: {:?}", &all[..all.len().min(5)]);
    assert_eq!(qe(&mut c, &["SCAN", "abc"]), "ERR invalid cursor");
    assert_eq!(qe(&mut c, &["SCAN", "0", "COUNT", "0"]), "ERR syntax error");
}

// ----------------------------------------------------------------- expiry

#[test]
fn expire_options_and_ttl_queries() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(q::<i64>(&mut c, &["TTL", "missing"]), -2);
    assert_eq!(q::<i64>(&mut c, &["PTTL", "missing"]), -2);
    assert_eq!(q::<i64>(&mut c, &["EXPIRETIME", "missing"]), -2);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "missing", "10"]), 0);
    q::<String>(&mut c, &["SET", "k", "v"]);
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), -1);
    assert_eq!(q::<i64>(&mut c, &["EXPIRETIME", "k"]), -1);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "100", "XX"]), 0, "XX needs a ttl");
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "100", "GT"]), 0, "no ttl counts as infinite for GT");
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "100", "NX"]), 1);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "200", "NX"]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "50", "GT"]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "200", "GT"]), 1);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "300", "LT"]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "150", "LT"]), 1);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "120", "XX"]), 1);
    let ttl: i64 = q(&mut c, &["TTL", "k"]);
    assert!((119..=120).contains(&ttl), "ttl {ttl}");
    let pttl: i64 = q(&mut c, &["PTTL", "k"]);
    assert!((118_000..=120_000).contains(&pttl), "pttl {pttl}");
    let et: i64 = q(&mut c, &["EXPIRETIME", "k"]);
    let now = now_ms() / 1000;
    assert!((now + 118..=now + 121).contains(&et), "expiretime {et}, now {now}");
    let pet: i64 = q(&mut c, &["PEXPIRETIME", "k"]);
    assert!(pet / 1000 == et || pet / 1000 + 1 == et, "pexpiretime {pet} vs {et}");
    assert_eq!(
        qe(&mut c, &["EXPIRE", "k", "10", "NX", "XX"]),
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        qe(&mut c, &["EXPIRE", "k", "10", "GT", "LT"]),
        "ERR GT and LT options at the same time are not compatible"
    );
    assert_eq!(qe(&mut c, &["EXPIRE", "k", "10", "YY"]), "ERR Unsupported option YY");
    assert_eq!(qe(&mut c, &["EXPIRE", "k", "9223372036854775807"]), "ERR invalid expire time in 'expire' command");
    assert_eq!(q::<i64>(&mut c, &["PERSIST", "k"]), 1);
    assert_eq!(q::<i64>(&mut c, &["PERSIST", "k"]), 0);
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), -1);
    // A non-positive relative time deletes the key.
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "-1"]), 1);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "k"]), 0);
    q::<String>(&mut c, &["SET", "k", "v"]);
    assert_eq!(q::<i64>(&mut c, &["PEXPIREAT", "k", &(now_ms() + 100_000).to_string()]), 1);
    assert!(q::<i64>(&mut c, &["PTTL", "k"]) > 90_000);
}

#[test]
fn lazy_expiry_via_get() {
    let srv = Server::start();
    let mut c = srv.client();
    q::<String>(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    q::<String>(&mut c, &["SET", "k", "v", "PX", "50"]);
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]), 1);
    std::thread::sleep(Duration::from_millis(200));
    // Not yet reclaimed (active expiry is off) but already invisible.
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]), 1, "active expiry ran although disabled");
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "k"]), None);
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]), 0, "GET must reclaim the expired key");
}

#[test]
fn active_expiry_reclaims_untouched_keys() {
    let srv = Server::start();
    let mut c = srv.client();
    q::<String>(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    for i in 0..20 {
        q::<String>(&mut c, &["SET", &format!("k{i}"), "v", "PX", "50"]);
    }
    q::<String>(&mut c, &["SET", "keep", "v"]);
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]), 21);
    let mut size = 21;
    let gone = support::wait_for(Duration::from_secs(3), || {
        size = q(&mut c, &["DBSIZE"]);
        size == 1
    });
    assert!(gone, "active expiry left {size} keys");
    assert_eq!(q::<String>(&mut c, &["GET", "keep"]), "v");
}

// ------------------------------------------------------------- encodings

#[test]
fn object_encoding_boundaries() {
    let srv = Server::start();
    let mut c = srv.client();
    let enc = |c: &mut Connection, k: &str| -> String { q(c, &["OBJECT", "ENCODING", k]) };
    q::<String>(&mut c, &["SET", "i", "12345"]);
    assert_eq!(enc(&mut c, "i"), "int");
    q::<String>(&mut c, &["SET", "neg", "-9223372036854775808"]);
    assert_eq!(enc(&mut c, "neg"), "int");
    q::<String>(&mut c, &["SET", "big", "9223372036854775808"]);
    assert_eq!(enc(&mut c, "big"), "embstr");
    let s44 = "x".repeat(44);
    let s45 = "x".repeat(45);
    q::<String>(&mut c, &["SET", "e", &s44]);
    assert_eq!(enc(&mut c, "e"), "embstr");
    q::<String>(&mut c, &["SET", "r", &s45]);
    assert_eq!(enc(&mut c, "r"), "raw");
    // Modified in place: always raw afterwards.
    q::<String>(&mut c, &["SET", "a", "ab"]);
    q::<i64>(&mut c, &["APPEND", "a", "c"]);
    assert_eq!(enc(&mut c, "a"), "raw");
    assert_eq!(q::<Option<String>>(&mut c, &["OBJECT", "ENCODING", "missing"]), None);
}

// ---------------------------------------------------------------- clients

#[test]
fn client_name_id_list_info() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(q::<Option<String>>(&mut c, &["CLIENT", "GETNAME"]), None);
    assert_eq!(q::<String>(&mut c, &["CLIENT", "SETNAME", "itest"]), "OK");
    assert_eq!(q::<String>(&mut c, &["CLIENT", "GETNAME"]), "itest");
    assert_eq!(
        qe(&mut c, &["CLIENT", "SETNAME", "a b"]),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    let id: i64 = q(&mut c, &["CLIENT", "ID"]);
    assert!(id > 0);
    let mut other = srv.client();
    let other_id: i64 = q(&mut other, &["CLIENT", "ID"]);
    assert!(other_id > id, "ids increase: {id} then {other_id}");
    let list: String = q(&mut c, &["CLIENT", "LIST"]);
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines.len() >= 2, "CLIENT LIST: {list}");
    let mine = lines
        .iter()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .unwrap_or_else(|| panic!("no line for id {id}: {list}"));
    assert!(mine.contains(" addr=127.0.0.1:"), "{mine}");
    assert!(mine.contains(" name=itest "), "{mine}");
    assert!(mine.contains(" cmd=client|list"), "{mine}");
    assert!(lines.iter().any(|l| l.starts_with(&format!("id={other_id} "))), "{list}");
    let info: String = q(&mut c, &["CLIENT", "INFO"]);
    assert!(info.starts_with(&format!("id={id} addr=127.0.0.1:")), "{info}");
    assert!(info.ends_with('\n'), "{info:?}");
    assert!(info.contains(" name=itest "), "{info}");
    assert!(info.contains(" cmd=client|info"), "{info}");
}

#[test]
fn client_kill_by_id_closes_that_connection() {
    let srv = Server::start();
    let mut c = srv.client();
    let mut victim = srv.raw();
    victim.roundtrip(b"CLIENT ID\r\n", b":");
    let line = victim.read_n(64, Duration::from_millis(200));
    let victim_id: i64 = String::from_utf8_lossy(&line).trim().parse().expect("client id");
    assert_eq!(q::<i64>(&mut c, &["CLIENT", "KILL", "ID", &victim_id.to_string()]), 1);
    assert!(victim.closed_within(Duration::from_secs(2)), "killed client still open");
    assert_eq!(q::<i64>(&mut c, &["CLIENT", "KILL", "ID", &victim_id.to_string()]), 0);
    assert_eq!(qe(&mut c, &["CLIENT", "KILL", "127.0.0.1:1"]), "ERR No such client");
    let list: String = q(&mut c, &["CLIENT", "LIST"]);
    assert!(!list.contains(&format!("id={victim_id} ")), "{list}");
    assert_eq!(q::<String>(&mut c, &["PING"]), "PONG");
}

#[test]
fn client_reply_off_and_skip() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.send(b"CLIENT REPLY OFF\r\nPING\r\nSET k 1\r\nCLIENT REPLY ON\r\n");
    r.expect(b"+OK\r\n");
    r.roundtrip(b"GET k\r\n", b"$1\r\n1\r\n");
    r.send(b"CLIENT REPLY SKIP\r\nPING one\r\nPING two\r\n");
    r.expect(b"$3\r\ntwo\r\n");
    assert!(r.read_for(Duration::from_millis(50)).is_empty());
}

#[test]
fn auth_without_password_configured() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(
        qe(&mut c, &["AUTH", "foo"]),
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
    );
    assert_eq!(q::<String>(&mut c, &["PING"]), "PONG");
}

#[test]
fn auth_with_requirepass() {
    let srv = Server::start_with(&["--requirepass", "s3cret"]);
    let mut r = srv.raw();
    r.roundtrip(b"GET k\r\n", b"-NOAUTH Authentication required.\r\n");
    r.roundtrip(b"AUTH wrong\r\n", b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    r.roundtrip(b"AUTH s3cret\r\n", b"+OK\r\n");
    r.roundtrip(b"GET k\r\n", b"$-1\r\n");
    // The redis crate authenticates from the URL.
    let client = redis::Client::open(format!("redis://:s3cret@127.0.0.1:{}/", srv.port())).unwrap();
    let mut c = client.get_connection().expect("authenticated connect");
    assert_eq!(q::<String>(&mut c, &["PING"]), "PONG");
}

// ---------------------------------------------------------- introspection

#[test]
fn bare_command_lists_every_command() {
    let srv = Server::start();
    let mut c = srv.client();
    let count: i64 = q(&mut c, &["COMMAND", "COUNT"]);
    let all: Vec<Value> = q(&mut c, &["COMMAND"]);
    assert_eq!(count as usize, all.len(), "COMMAND COUNT vs COMMAND");
    assert!(all.iter().any(|e| matches!(e, Value::Array(v) if v.first() == Some(&bulk("get")))));
}

#[test]
fn command_count_info_getkeys() {
    let srv = Server::start();
    let mut c = srv.client();
    // COUNT counts top-level commands; LIST also names every subcommand.
    let count: i64 = q(&mut c, &["COMMAND", "COUNT"]);
    let list: Vec<String> = q(&mut c, &["COMMAND", "LIST"]);
    assert!(count > 0);
    assert_eq!(count as usize, list.iter().filter(|n| !n.contains('|')).count(), "COUNT vs LIST");
    for name in ["get", "set", "client|kill", "command|getkeys"] {
        assert!(list.iter().any(|n| n == name), "COMMAND LIST lacks {name}");
    }
    let info: Vec<Value> = q(&mut c, &["COMMAND", "INFO", "get", "nosuchcmd"]);
    assert_eq!(info.len(), 2);
    assert_eq!(info[1], Value::Nil);
    let Value::Array(get) = &info[0] else { panic!("COMMAND INFO get: {:?}", info[0]) };
    assert_eq!(get[0], bulk("get"));
    assert_eq!(get[1], Value::Int(2), "arity");
    let flags = format!("{:?}", get[2]);
    assert!(flags.contains("readonly") && flags.contains("fast"), "flags {flags}");
    assert_eq!(&get[3..6], &[Value::Int(1), Value::Int(1), Value::Int(1)], "first, last, step");
    assert_eq!(q::<Vec<String>>(&mut c, &["COMMAND", "GETKEYS", "SET", "k", "v"]), vec!["k"]);
    assert_eq!(q::<Vec<String>>(&mut c, &["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]), vec!["a", "b"]);
    assert_eq!(qe(&mut c, &["COMMAND", "GETKEYS", "nosuchcmd", "x"]), "ERR Invalid command specified");
    assert_eq!(qe(&mut c, &["COMMAND", "GETKEYS", "PING", "x"]), "ERR The command has no key arguments");
    assert_eq!(
        qe(&mut c, &["COMMAND", "GETKEYS", "SET", "k"]),
        "ERR Invalid number of arguments specified for command"
    );
}

#[test]
fn info_sections_and_keyspace() {
    let srv = Server::start();
    let mut c = srv.client();
    q::<String>(&mut c, &["MSET", "a", "1", "b", "2"]);
    q::<String>(&mut c, &["SET", "t", "1", "EX", "100"]);
    let all: String = q(&mut c, &["INFO"]);
    for section in ["# Server", "# Clients", "# Memory", "# Stats", "# Keyspace"] {
        assert!(all.contains(&format!("{section}\r\n")), "INFO lacks {section}");
    }
    assert!(all.contains("redis_version:7.0.15\r\n"));
    assert!(all.contains(&format!("tcp_port:{}\r\n", srv.port())));
    assert!(all.contains(&format!("process_id:{}\r\n", srv.pid())));
    let ks: String = q(&mut c, &["INFO", "keyspace"]);
    assert!(ks.starts_with("# Keyspace\r\n"), "{ks}");
    assert!(ks.contains("db0:keys=3,expires=1,avg_ttl="), "{ks}");
    assert!(!ks.contains("# Server"), "INFO keyspace printed other sections");
    assert!(!ks.contains("db1:"), "empty dbs are not listed: {ks}");
    let server: String = q(&mut c, &["INFO", "server"]);
    assert!(server.starts_with("# Server\r\n") && !server.contains("# Keyspace"), "{server}");
}

#[test]
fn config_get_port() {
    let srv = Server::start();
    let mut c = srv.client();
    let v: Vec<String> = q(&mut c, &["CONFIG", "GET", "port"]);
    assert_eq!(v, vec!["port".to_string(), srv.port().to_string()]);
    let v: Vec<String> = q(&mut c, &["CONFIG", "GET", "bind"]);
    assert_eq!(v, vec!["bind", "127.0.0.1"]);
}

#[test]
fn time_is_now() {
    let srv = Server::start();
    let mut c = srv.client();
    let (secs, micros): (String, String) = q(&mut c, &["TIME"]);
    let secs: i64 = secs.parse().unwrap();
    let micros: i64 = micros.parse().unwrap();
    assert!((0..1_000_000).contains(&micros), "micros {micros}");
    let now = now_ms() / 1000;
    assert!((secs - now).abs() <= 2, "TIME {secs} vs now {now}");
}

#[test]
fn debug_digest_matches_across_servers() {
    let a = Server::start();
    let b = Server::start();
    let mut ca = a.client();
    let mut cb = b.client();
    let zeros = "0".repeat(40);
    assert_eq!(q::<String>(&mut ca, &["DEBUG", "DIGEST"]), zeros);
    let at = (now_ms() + 1_000_000).to_string();
    // Same data written in a different order, with the same absolute expiry.
    q::<String>(&mut ca, &["SET", "x", "1"]);
    q::<String>(&mut ca, &["SET", "y", "hello"]);
    q::<i64>(&mut ca, &["PEXPIREAT", "y", &at]);
    q::<String>(&mut cb, &["SET", "y", "hello"]);
    q::<i64>(&mut cb, &["PEXPIREAT", "y", &at]);
    q::<String>(&mut cb, &["SET", "x", "1"]);
    let da: String = q(&mut ca, &["DEBUG", "DIGEST"]);
    let db: String = q(&mut cb, &["DEBUG", "DIGEST"]);
    assert_eq!(da.len(), 40);
    assert_ne!(da, zeros);
    assert_eq!(da, db);
    q::<String>(&mut cb, &["SET", "x", "2"]);
    assert_ne!(q::<String>(&mut cb, &["DEBUG", "DIGEST"]), da, "a changed value must change the digest");
    q::<String>(&mut cb, &["SET", "x", "1"]);
    q::<i64>(&mut cb, &["PERSIST", "y"]);
    assert_ne!(q::<String>(&mut cb, &["DEBUG", "DIGEST"]), da, "the expiry is part of the digest");
    q::<String>(&mut ca, &["FLUSHALL"]);
    assert_eq!(q::<String>(&mut ca, &["DEBUG", "DIGEST"]), zeros);
}

#[test]
fn shutdown_exits_with_status_zero() {
    let mut srv = Server::start();
    let mut c = srv.client();
    q::<String>(&mut c, &["SET", "k", "v"]);
    // No reply: the connection just closes.
    assert!(redis::cmd("SHUTDOWN").arg("NOSAVE").query::<Value>(&mut c).is_err());
    let status = srv.wait_exit(Duration::from_secs(5)).expect("server still running after SHUTDOWN");
    assert!(status.success(), "exit status {status}");
}

// ------------------------------------------------------------ more cases

#[test]
fn setex_psetex_setnx() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(q::<String>(&mut c, &["SETEX", "k", "100", "v"]), "OK");
    assert!((99..=100).contains(&q::<i64>(&mut c, &["TTL", "k"])));
    assert_eq!(q::<String>(&mut c, &["PSETEX", "p", "100000", "v"]), "OK");
    assert!(q::<i64>(&mut c, &["PTTL", "p"]) > 99_000);
    assert_eq!(qe(&mut c, &["SETEX", "k", "0", "v"]), "ERR invalid expire time in 'setex' command");
    assert_eq!(qe(&mut c, &["PSETEX", "k", "-1", "v"]), "ERR invalid expire time in 'psetex' command");
    assert_eq!(q::<i64>(&mut c, &["SETNX", "k", "w"]), 0);
    assert_eq!(q::<i64>(&mut c, &["SETNX", "n", "w"]), 1);
    assert_eq!(q::<String>(&mut c, &["GET", "k"]), "v");
    // MSET overwrites and clears the ttl like SET.
    q::<String>(&mut c, &["MSET", "k", "x"]);
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), -1);
}

#[test]
fn select_echo_ping_reset() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(q::<String>(&mut c, &["ECHO", "hi there"]), "hi there");
    assert_eq!(q::<String>(&mut c, &["PING", "x"]), "x");
    assert_eq!(qe(&mut c, &["PING", "a", "b"]), "ERR wrong number of arguments for 'ping' command");
    assert_eq!(qe(&mut c, &["SELECT", "16"]), "ERR DB index is out of range");
    q::<String>(&mut c, &["SELECT", "3"]);
    q::<String>(&mut c, &["SET", "in3", "1"]);
    q::<String>(&mut c, &["CLIENT", "SETNAME", "named"]);
    // RESET: back to db 0, no name.
    assert_eq!(q::<String>(&mut c, &["RESET"]), "RESET");
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "in3"]), 0);
    assert_eq!(q::<Option<String>>(&mut c, &["CLIENT", "GETNAME"]), None);
    let info: String = q(&mut c, &["CLIENT", "INFO"]);
    assert!(info.contains(" db=0 "), "{info}");
}

#[test]
fn select_non_integer_error_text() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(qe(&mut c, &["SELECT", "abc"]), "ERR value is not an integer or out of range");
    assert_eq!(qe(&mut c, &["SELECT", "99999999999"]), "ERR value is not an integer or out of range");
}

#[test]
fn hello_setname_and_resp3_through_raw() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.send(b"HELLO 3 SETNAME viaHello\r\n");
    let reply = r.read_reply();
    assert!(reply.starts_with(b"%7\r\n"), "{}", support::show(&reply));
    r.roundtrip(b"CLIENT GETNAME\r\n", b"$8\r\nviaHello\r\n");
    r.roundtrip(b"HELLO 3 BOGUS\r\n", b"-ERR Syntax error in HELLO option 'BOGUS'\r\n");
    r.roundtrip(b"HELLO abc\r\n", b"-ERR Protocol version is not an integer or out of range\r\n");
}

#[test]
fn expired_keys_are_invisible_everywhere() {
    let srv = Server::start();
    let mut c = srv.client();
    q::<String>(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    q::<String>(&mut c, &["SET", "live", "1"]);
    q::<String>(&mut c, &["SET", "dead", "1", "PX", "20"]);
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "dead"]), 0);
    assert_eq!(q::<i64>(&mut c, &["TTL", "dead"]), -2);
    assert_eq!(q::<String>(&mut c, &["TYPE", "dead"]), "none");
    q::<String>(&mut c, &["SET", "dead2", "1", "PX", "20"]);
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(q::<Vec<String>>(&mut c, &["KEYS", "*"]), vec!["live"]);
    let (_, scanned): (String, Vec<String>) = q(&mut c, &["SCAN", "0", "COUNT", "100"]);
    assert_eq!(scanned, vec!["live"]);
    q::<String>(&mut c, &["SET", "dead3", "1", "PX", "20"]);
    std::thread::sleep(Duration::from_millis(80));
    for _ in 0..20 {
        assert_eq!(q::<String>(&mut c, &["RANDOMKEY"]), "live");
    }
    q::<String>(&mut c, &["SET", "dead4", "1", "PX", "20"]);
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(q::<i64>(&mut c, &["RENAMENX", "live", "dead4"]), 1, "an expired target does not block RENAMENX");
    assert_eq!(qe(&mut c, &["RENAME", "dead", "x"]), "ERR no such key");
}

#[test]
fn move_and_copy_keep_the_ttl() {
    let srv = Server::start();
    let mut c = srv.client();
    q::<String>(&mut c, &["SET", "k", "v", "EX", "100"]);
    q::<i64>(&mut c, &["COPY", "k", "k2"]);
    assert!(q::<i64>(&mut c, &["TTL", "k2"]) > 90);
    q::<i64>(&mut c, &["MOVE", "k", "2"]);
    q::<String>(&mut c, &["SELECT", "2"]);
    assert!(q::<i64>(&mut c, &["TTL", "k"]) > 90);
    assert_eq!(q::<i64>(&mut c, &["TOUCH", "k", "nope"]), 1);
    assert_eq!(q::<i64>(&mut c, &["UNLINK", "k", "nope"]), 1);
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]), 0);
}

#[test]
fn flushall_and_info_keyspace_for_several_dbs() {
    let srv = Server::start();
    let mut c = srv.client();
    q::<String>(&mut c, &["SET", "a", "1"]);
    q::<String>(&mut c, &["SELECT", "5"]);
    q::<String>(&mut c, &["MSET", "b", "1", "c", "2"]);
    let ks: String = q(&mut c, &["INFO", "keyspace"]);
    assert!(ks.contains("db0:keys=1,expires=0,avg_ttl=0\r\n"), "{ks}");
    assert!(ks.contains("db5:keys=2,expires=0,avg_ttl=0\r\n"), "{ks}");
    assert_eq!(q::<String>(&mut c, &["FLUSHALL"]), "OK");
    let ks: String = q(&mut c, &["INFO", "keyspace"]);
    assert_eq!(ks.trim_end(), "# Keyspace");
}

#[test]
fn info_stats_count_commands() {
    let srv = Server::start();
    let mut c = srv.client();
    let stat = |c: &mut Connection, name: &str| -> i64 {
        let s: String = q(c, &["INFO", "stats"]);
        s.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("INFO stats lacks {name}: {s}"))
    };
    let before = stat(&mut c, "total_commands_processed");
    for _ in 0..10 {
        q::<String>(&mut c, &["PING"]);
    }
    let after = stat(&mut c, "total_commands_processed");
    // The 10 PINGs plus the first INFO.
    assert_eq!(after - before, 11);
    let conns = stat(&mut c, "total_connections_received");
    let _other = srv.client();
    assert_eq!(stat(&mut c, "total_connections_received"), conns + 1);
}
