//! Persistence through real processes: RDB files written and read by
//! viator-server and by Debian's real redis-server, checked by the real
//! redis-check-rdb, across restarts, background saves, failed saves
//! (MISCONF), SHUTDOWN and FLUSHALL, and corrupt files at start-up.
//!
//! The interoperability contract: the same dataset gives the same
//! `DEBUG DIGEST` on both servers, whichever of them wrote the file.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use redis::Connection;
use support::{q, qe, wait_for, Server};

const REDIS_SERVER: &str = "/usr/bin/redis-server";
const REDIS_CHECK_RDB: &str = "/usr/bin/redis-check-rdb";

fn info_field(con: &mut Connection, name: &str) -> String {
    support::info_field(con, "persistence", name)
}

/// Every type in every encoding Redis 7.0 writes, in two databases, some
/// keys with a TTL.
fn fill_every_encoding(con: &mut Connection) {
    let _: () = q(con, &["CONFIG", "SET", "list-max-listpack-size", "4"]);
    let _: () = q(con, &["SET", "str:int", "12345"]);
    let _: () = q(con, &["SET", "str:short", "hello"]);
    let _: () = q(con, &["SET", "str:lzf", &"abcabcabc".repeat(40)]);
    let _: () = q(con, &["SET", "str:ttl", "v", "PX", "100000000"]);
    let _: i64 = q(con, &["RPUSH", "list:small", "a", "1", "b"]);
    for i in 0..50 {
        let _: i64 = q(con, &["RPUSH", "list:quick", &format!("element-{i}"), &i.to_string()]);
    }
    let _: i64 = q(con, &["HSET", "hash:lp", "f1", "v1", "f2", "2"]);
    for i in 0..600 {
        let _: i64 = q(con, &["HSET", "hash:ht", &format!("field{i}"), &format!("value{i}")]);
    }
    let _: i64 = q(con, &["SADD", "set:int", "1", "2", "300000", "-5"]);
    for i in 0..30 {
        let _: i64 = q(con, &["SADD", "set:ht", &format!("member{i}")]);
    }
    let _: i64 = q(con, &["ZADD", "zset:lp", "1.5", "a", "-2", "b", "3", "c"]);
    for i in 0..200 {
        let _: i64 = q(con, &["ZADD", "zset:sl", &format!("{}.25", i), &format!("m{i}")]);
    }
    for i in 0..20 {
        let _: String = q(con, &["XADD", "stream", &format!("{}-1", i + 1), "field", &i.to_string(), "other", "x"]);
    }
    let _: () = q(con, &["XGROUP", "CREATE", "stream", "g1", "0"]);
    let _: redis::Value = q(con, &["XREADGROUP", "GROUP", "g1", "alice", "COUNT", "3", "STREAMS", "stream", ">"]);
    let _: i64 = q(con, &["XACK", "stream", "g1", "1-1"]);
    let _: i64 = q(con, &["XDEL", "stream", "5-1"]);
    let _: () = q(con, &["SELECT", "5"]);
    let _: () = q(con, &["SET", "other-db", "x", "EX", "100000"]);
    let _: i64 = q(con, &["LPUSH", "other-list", "z"]);
    let _: () = q(con, &["SELECT", "0"]);
}

fn check_rdb(path: &Path) -> (bool, String) {
    let out = Command::new(REDIS_CHECK_RDB).arg(path).stderr(Stdio::piped()).output().expect("run redis-check-rdb");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn rdb_files_move_between_redis_and_viator() {
    let dir = Server::new_dir();
    // Redis writes the file.
    let redis_digest = {
        let redis = Server::start_redis_in(Path::new(REDIS_SERVER), &dir, &[]);
        let mut con = redis.client();
        fill_every_encoding(&mut con);
        let d: String = q(&mut con, &["DEBUG", "DIGEST"]);
        let _: () = q(&mut con, &["SAVE"]);
        d
    };
    assert_ne!(redis_digest, "0".repeat(40));
    // Viator loads it: same digest, same encodings.
    {
        let viator = Server::start_in(&dir, &[]);
        let mut con = viator.client();
        let d: String = q(&mut con, &["DEBUG", "DIGEST"]);
        assert_eq!(d, redis_digest, "log:\n{}", viator.log());
        for (key, enc) in [
            ("str:int", "int"),
            ("list:quick", "quicklist"),
            ("hash:lp", "listpack"),
            ("hash:ht", "hashtable"),
            ("set:int", "intset"),
            ("set:ht", "hashtable"),
            ("zset:lp", "listpack"),
            ("zset:sl", "skiplist"),
        ] {
            let got: String = q(&mut con, &["OBJECT", "ENCODING", key]);
            assert_eq!(got, enc, "encoding of {key}");
        }
        let ttl: i64 = q(&mut con, &["PTTL", "str:ttl"]);
        assert!(ttl > 90_000_000, "TTL kept: {ttl}");
        assert_eq!(info_field(&mut con, "rdb_last_load_keys_loaded"), "15");
        // Viator writes it back.
        let _: () = q(&mut con, &["SAVE"]);
    }
    let (ok, text) = check_rdb(&dir.join("dump.rdb"));
    assert!(ok && text.contains("RDB looks OK"), "redis-check-rdb refused Viator's file:\n{text}");
    // Redis loads Viator's file: same digest.
    {
        let redis = Server::start_redis_in(Path::new(REDIS_SERVER), &dir, &[]);
        let mut con = redis.client();
        let d: String = q(&mut con, &["DEBUG", "DIGEST"]);
        assert_eq!(d, redis_digest, "redis-server reading Viator's dump.rdb");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bgsave_survives_restart_and_reports_in_info() {
    let dir = Server::new_dir();
    let digest = {
        let srv = Server::start_in(&dir, &[]);
        let mut con = srv.client();
        fill_every_encoding(&mut con);
        assert_eq!(info_field(&mut con, "rdb_changes_since_last_save").parse::<i64>().unwrap() > 0, true);
        let before: i64 = q(&mut con, &["LASTSAVE"]);
        let _: () = q(&mut con, &["CONFIG", "SET", "rdb-key-save-delay", "20000"]);
        let started: String = q(&mut con, &["BGSAVE"]);
        assert_eq!(started, "Background saving started");
        assert_eq!(info_field(&mut con, "rdb_bgsave_in_progress"), "1");
        assert_eq!(qe(&mut con, &["BGSAVE"]), "ERR Background save already in progress");
        assert_eq!(qe(&mut con, &["SAVE"]), "ERR Background save already in progress");
        // Writes during the save are served at once (the child writes the snapshot).
        let _: () = q(&mut con, &["SET", "during", "save"]);
        let _: () = q(&mut con, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
        assert!(
            wait_for(Duration::from_secs(20), || info_field(&mut con, "rdb_bgsave_in_progress") == "0"),
            "bgsave did not finish"
        );
        assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
        // Only the write made during the save is still unsaved.
        assert_eq!(info_field(&mut con, "rdb_changes_since_last_save"), "1");
        let after: i64 = q(&mut con, &["LASTSAVE"]);
        assert!(after >= before);
        let _: i64 = q(&mut con, &["DEL", "during"]);
        q::<String>(&mut con, &["DEBUG", "DIGEST"])
    };
    let srv = Server::start_in(&dir, &[]);
    let mut con = srv.client();
    let d: String = q(&mut con, &["DEBUG", "DIGEST"]);
    assert_eq!(d, digest, "the snapshot holds the data as of BGSAVE");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn debug_reload_keeps_the_dataset() {
    let srv = Server::start();
    let mut con = srv.client();
    fill_every_encoding(&mut con);
    let before: String = q(&mut con, &["DEBUG", "DIGEST"]);
    let _: () = q(&mut con, &["DEBUG", "RELOAD"]);
    let after: String = q(&mut con, &["DEBUG", "DIGEST"]);
    assert_eq!(before, after);
    assert!(srv.dir().join("dump.rdb").exists());
    assert_eq!(qe(&mut con, &["DEBUG", "RELOAD", "BOGUS"]), "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
}

#[test]
fn failed_background_save_refuses_writes_with_misconf() {
    let srv = Server::start_with(&["--save", "3600 1"]);
    let mut con = srv.client();
    let _: () = q(&mut con, &["SET", "k", "v"]);
    // The working directory disappears: the child cannot create its temp file.
    std::fs::remove_dir_all(srv.dir()).expect("remove the server's dir");
    let _: String = q(&mut con, &["BGSAVE"]);
    assert!(wait_for(Duration::from_secs(10), || info_field(&mut con, "rdb_last_bgsave_status") == "err"));
    let e = qe(&mut con, &["SET", "k", "v2"]);
    assert!(e.starts_with("MISCONF Redis is configured to save RDB snapshots"), "{e}");
    assert!(qe(&mut con, &["PING"]).starts_with("MISCONF"));
    let v: String = q(&mut con, &["GET", "k"]);
    assert_eq!(v, "v", "reads are still served");
    let _: () = q(&mut con, &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]);
    let _: () = q(&mut con, &["SET", "k", "v3"]);
}

#[test]
fn shutdown_saves_when_save_points_exist() {
    let dir = Server::new_dir();
    {
        let mut srv = Server::start_in(&dir, &["--save", "3600 1"]);
        let mut con = srv.client();
        let _: () = q(&mut con, &["SET", "kept", "yes"]);
        let _ = redis::cmd("SHUTDOWN").query::<()>(&mut con);
        assert!(srv.wait_exit(Duration::from_secs(10)).is_some_and(|s| s.success()));
    }
    {
        let mut srv = Server::start_in(&dir, &[]);
        let mut con = srv.client();
        let v: String = q(&mut con, &["GET", "kept"]);
        assert_eq!(v, "yes");
        // NOSAVE leaves the file as it was.
        let _: () = q(&mut con, &["SET", "kept", "changed"]);
        let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut con);
        assert!(srv.wait_exit(Duration::from_secs(10)).is_some());
    }
    let srv = Server::start_in(&dir, &[]);
    let mut con = srv.client();
    let v: String = q(&mut con, &["GET", "kept"]);
    assert_eq!(v, "yes");
    drop(con);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flushall_stops_a_running_bgsave() {
    let srv = Server::start();
    let mut con = srv.client();
    let _: () = q(&mut con, &["DEBUG", "POPULATE", "2000"]);
    let _: () = q(&mut con, &["CONFIG", "SET", "rdb-key-save-delay", "10000"]);
    let _: String = q(&mut con, &["BGSAVE"]);
    let _: () = q(&mut con, &["FLUSHALL"]);
    assert_eq!(info_field(&mut con, "rdb_bgsave_in_progress"), "0");
    // Killed on purpose: not a failed save.
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    assert!(info_field(&mut con, "rdb_changes_since_last_save").parse::<u64>().unwrap() >= 2000);
    assert!(!srv.dir().join("dump.rdb").exists());
}

/// Starts viator-server in `dir` expecting it to refuse to start; returns
/// its exit code and output.
fn failed_start(dir: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_viator-server"))
        .args(["--port", "0", "--unixsocket", "s.sock", "--dir"])
        .arg(dir)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run viator-server");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn corrupt_rdb_files_stop_startup_naming_file_and_offset() {
    let dir = Server::new_dir();
    {
        let srv = Server::start_in(&dir, &[]);
        let mut con = srv.client();
        fill_every_encoding(&mut con);
        let _: () = q(&mut con, &["SAVE"]);
    }
    let path = dir.join("dump.rdb");
    let good = std::fs::read(&path).unwrap();
    // A bad checksum.
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 3] ^= 0xff;
    std::fs::write(&path, &bad).unwrap();
    let (code, log) = failed_start(&dir);
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("CRC error") && log.contains("dump.rdb"), "{log}");
    // Truncated in the middle.
    std::fs::write(&path, &good[..n / 2]).unwrap();
    let (code, log) = failed_start(&dir);
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("Short read") && log.contains("offset"), "{log}");
    // Garbage.
    std::fs::write(&path, b"not an rdb file at all").unwrap();
    let (code, log) = failed_start(&dir);
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("Wrong signature") && log.contains("dump.rdb"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
