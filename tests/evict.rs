//! `maxmemory` end to end through a real client (the `redis` crate) against
//! a real `viator-server`: eviction keeps used memory near the limit and
//! takes idle keys first, the
//! `noeviction` policy refuses writes with Redis's OOM error, LFU counters
//! rise with accesses, and lazy free releases what UNLINK hands it.
//!
//! Owns the user-visible contract of `src/evict.rs` and `src/lazyfree.rs`;
//! the sampling and LFU arithmetic themselves are unit-tested there.

mod support;

use std::time::Duration;

use redis::{Connection, Value};
use support::{q, qe, wait_for, Server};

/// One numeric field of INFO.
fn info_field(con: &mut Connection, field: &str) -> i64 {
    let text: String = q(con, &["INFO", "all"]);
    text.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no INFO field {field}"))
}

#[test]
fn allkeys_lru_keeps_memory_near_the_limit_and_evicts_idle_keys_first() {
    let srv = Server::start();
    let mut con = srv.client();
    let used = info_field(&mut con, "used_memory");
    let limit = used + 2 * 1024 * 1024;
    q::<()>(&mut con, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    q::<()>(&mut con, &["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    let value = "x".repeat(1000);
    // Keys written, then left idle for two ticks of the 1 s LRU clock.
    for i in 0..500 {
        q::<()>(&mut con, &["SET", &format!("old:{i}"), &value]);
    }
    std::thread::sleep(Duration::from_millis(2100));
    for i in 0..10_000 {
        q::<()>(&mut con, &["SET", &format!("new:{i}"), &value]);
    }
    let evicted = info_field(&mut con, "evicted_keys");
    let keys: i64 = q(&mut con, &["DBSIZE"]);
    assert!(evicted > 5_000, "evicted {evicted}");
    assert!(keys < 5_000, "kept {keys}");
    let now = info_field(&mut con, "used_memory");
    assert!(now < limit + 64 * 1024, "used {now} over limit {limit}");
    let old: Vec<String> = q(&mut con, &["KEYS", "old:*"]);
    assert!(old.len() < 50, "{} idle keys survived", old.len());
    let info: String = q(&mut con, &["INFO", "memory"]);
    assert!(info.contains("maxmemory_policy:allkeys-lru"), "{info}");
}

#[test]
fn noeviction_refuses_denyoom_commands_but_serves_reads() {
    let srv = Server::start();
    let mut con = srv.client();
    q::<()>(&mut con, &["SET", "a", "1"]);
    q::<()>(&mut con, &["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(qe(&mut con, &["SET", "b", "2"]), "OOM command not allowed when used memory > 'maxmemory'.");
    assert_eq!(q::<String>(&mut con, &["GET", "a"]), "1");
    // DEL is not denyoom: it may free memory.
    assert_eq!(q::<i64>(&mut con, &["DEL", "a"]), 1);
    // Inside MULTI everything but EXEC/DISCARD is refused, and poisons EXEC.
    q::<()>(&mut con, &["MULTI"]);
    assert!(qe(&mut con, &["GET", "a"]).starts_with("OOM"));
    assert_eq!(q::<String>(&mut con, &["DISCARD"]), "OK");
    q::<()>(&mut con, &["CONFIG", "SET", "maxmemory", "0"]);
    q::<()>(&mut con, &["SET", "b", "2"]);
    assert_eq!(info_field(&mut con, "evicted_keys"), 0);
}

#[test]
fn lfu_frequency_rises_with_accesses_and_idletime_is_refused() {
    let srv = Server::start();
    let mut con = srv.client();
    assert_eq!(q::<Value>(&mut con, &["OBJECT", "FREQ", "nokey"]), Value::Nil);
    q::<()>(&mut con, &["SET", "k", "v"]);
    assert!(qe(&mut con, &["OBJECT", "FREQ", "k"]).contains("An LFU maxmemory policy is not selected"));
    q::<()>(&mut con, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    q::<()>(&mut con, &["CONFIG", "SET", "lfu-log-factor", "0"]);
    q::<()>(&mut con, &["SET", "k", "v"]);
    q::<()>(&mut con, &["SET", "fresh", "v"]);
    let start: i64 = q(&mut con, &["OBJECT", "FREQ", "fresh"]);
    assert_eq!(start, 5, "new keys start at LFU_INIT_VAL");
    for _ in 0..50 {
        let _: String = q(&mut con, &["GET", "fresh"]);
    }
    let after: i64 = q(&mut con, &["OBJECT", "FREQ", "fresh"]);
    // With log factor 0 every access counts.
    assert_eq!(after, 55);
    assert!(qe(&mut con, &["OBJECT", "IDLETIME", "fresh"]).contains("An LFU maxmemory policy is selected"));
}

#[test]
fn unlink_frees_a_large_value_after_replying() {
    let srv = Server::start();
    let mut con = srv.client();
    let members: Vec<String> = (0..20_000).map(|i| i.to_string()).collect();
    let mut cmd = redis::cmd("SADD");
    cmd.arg("big").arg(&members);
    let _: i64 = cmd.query(&mut con).unwrap_or_default();
    q::<()>(&mut con, &["CONFIG", "RESETSTAT"]);
    let peak = info_field(&mut con, "used_memory");
    assert_eq!(q::<i64>(&mut con, &["UNLINK", "big"]), 1);
    assert!(wait_for(Duration::from_secs(5), || info_field(&mut con, "lazyfree_pending_objects") == 0));
    assert_eq!(info_field(&mut con, "lazyfreed_objects"), 1);
    assert!(info_field(&mut con, "used_memory") < peak - 500_000);
    // A small value is freed at once, not counted.
    q::<()>(&mut con, &["SADD", "small", "a", "b"]);
    assert_eq!(q::<i64>(&mut con, &["UNLINK", "small"]), 1);
    assert_eq!(info_field(&mut con, "lazyfreed_objects"), 1);
    q::<()>(&mut con, &["SET", "x", "1"]);
    q::<()>(&mut con, &["FLUSHALL", "ASYNC"]);
    assert_eq!(q::<i64>(&mut con, &["DBSIZE"]), 0);
    assert!(wait_for(Duration::from_secs(5), || info_field(&mut con, "lazyfreed_objects") == 2));
}

#[test]
fn an_evicted_key_touches_its_watchers_and_fires_evicted() {
    let srv = Server::start();
    let mut watcher = srv.client();
    let mut admin = srv.client();
    q::<()>(&mut admin, &["SET", "k", "v"]);
    q::<()>(&mut admin, &["CONFIG", "SET", "notify-keyspace-events", "Ee"]);
    let mut sub = srv.raw();
    sub.send(&support::resp(&[b"SUBSCRIBE", b"__keyevent@0__:evicted"]));
    let _ = sub.read_reply();
    q::<()>(&mut watcher, &["WATCH", "k"]);
    q::<()>(&mut admin, &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
    q::<()>(&mut admin, &["CONFIG", "SET", "maxmemory", "1"]);
    assert!(wait_for(Duration::from_secs(5), || q::<i64>(&mut admin, &["DBSIZE"]) == 0));
    q::<()>(&mut admin, &["CONFIG", "SET", "maxmemory", "0"]);
    assert_eq!(info_field(&mut admin, "evicted_keys"), 1);
    let msg = sub.read_reply();
    assert!(support::show(&msg).contains("evicted"), "{}", support::show(&msg));
    q::<()>(&mut watcher, &["MULTI"]);
    q::<()>(&mut watcher, &["PING"]);
    assert_eq!(q::<Value>(&mut watcher, &["EXEC"]), Value::Nil);
}
