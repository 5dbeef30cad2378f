//! The append-only file through real processes: restarts over one
//! `appendonlydir`, BGREWRITEAOF compaction, turning AOF on at run time,
//! Debian's real redis-server loading Viator's AOF directory, and the crash
//! contract of `appendfsync` (SIGKILL while a writer counts acknowledged
//! INCRs; SHUTDOWN keeping every acknowledged write with `everysec`, whose
//! fsync runs on the background thread).

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::Connection;
use support::{q, wait_for, Server};

const REDIS_SERVER: &str = "/usr/bin/redis-server";

fn info_field(con: &mut Connection, name: &str) -> String {
    support::info_field(con, "persistence", name)
}

fn manifest(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap_or_default()
}

fn wait_rewrite(con: &mut Connection) {
    assert!(wait_for(Duration::from_secs(10), || info_field(con, "aof_rewrite_in_progress") == "0"));
}

fn fill(con: &mut Connection) {
    let _: () = q(con, &["SET", "s", "v"]);
    let _: () = q(con, &["SET", "ttl", "v", "EX", "10000"]);
    let _: i64 = q(con, &["RPUSH", "l", "a", "b", "1"]);
    let _: i64 = q(con, &["HSET", "h", "f", "v", "g", "2"]);
    let _: i64 = q(con, &["SADD", "set", "1", "2", "x"]);
    let _: i64 = q(con, &["ZADD", "z", "1.5", "a", "-2", "b"]);
    let _: String = q(con, &["XADD", "st", "1-1", "f", "v"]);
    let _: () = q(con, &["XGROUP", "CREATE", "st", "g", "0"]);
    let _: redis::Value = q(con, &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "st", ">"]);
    let _: () = q(con, &["SELECT", "3"]);
    let _: i64 = q(con, &["INCRBY", "n", "7"]);
    let _: () = q(con, &["SELECT", "0"]);
}

#[test]
fn restart_with_appendonly_keeps_data() {
    let dir = Server::new_dir();
    let digest = {
        let srv = Server::start_in(&dir, &["--appendonly", "yes"]);
        let mut con = srv.client();
        fill(&mut con);
        q::<String>(&mut con, &["DEBUG", "DIGEST"])
    };
    assert!(manifest(&dir).contains("type b") && manifest(&dir).contains("type i"), "{}", manifest(&dir));
    let srv = Server::start_in(&dir, &["--appendonly", "yes"]);
    let mut con = srv.client();
    assert_eq!(q::<String>(&mut con, &["DEBUG", "DIGEST"]), digest);
    assert!(srv.log().contains("DB loaded from append only file"), "{}", srv.log());
}

#[test]
fn bgrewriteaof_compacts_and_rotates_the_manifest() {
    for preamble in ["yes", "no"] {
        let dir = Server::new_dir();
        let srv = Server::start_in(&dir, &["--appendonly", "yes", "--aof-use-rdb-preamble", preamble]);
        let mut con = srv.client();
        for _ in 0..200 {
            let _: i64 = q(&mut con, &["INCR", "counter"]);
        }
        fill(&mut con);
        let before = manifest(&dir);
        let incr = dir.join("appendonlydir/appendonly.aof.1.incr.aof");
        let incr_size = std::fs::metadata(&incr).unwrap().len();
        assert_eq!(q::<String>(&mut con, &["BGREWRITEAOF"]), "Background append only file rewriting started");
        wait_rewrite(&mut con);
        let after = manifest(&dir);
        let ext = if preamble == "yes" { "rdb" } else { "aof" };
        assert_eq!(
            after,
            format!("file appendonly.aof.2.base.{ext} seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"),
            "before: {before}"
        );
        assert!(!incr.exists(), "history files are deleted");
        let base = std::fs::metadata(dir.join(format!("appendonlydir/appendonly.aof.2.base.{ext}"))).unwrap().len();
        assert!(base < incr_size, "the base ({base}) is smaller than the log it replaces ({incr_size})");
        let d1: String = q(&mut con, &["DEBUG", "DIGEST"]);
        let _: () = q(&mut con, &["DEBUG", "LOADAOF"]);
        assert_eq!(q::<String>(&mut con, &["DEBUG", "DIGEST"]), d1);
        assert_eq!(info_field(&mut con, "aof_rewrites"), "1");
        assert_eq!(info_field(&mut con, "aof_last_bgrewrite_status"), "ok");
    }
}

#[test]
fn config_set_appendonly_at_run_time() {
    let dir = Server::new_dir();
    let digest = {
        let srv = Server::start_in(&dir, &[]);
        let mut con = srv.client();
        fill(&mut con);
        assert_eq!(info_field(&mut con, "aof_enabled"), "0");
        let _: () = q(&mut con, &["CONFIG", "SET", "appendonly", "yes"]);
        assert_eq!(info_field(&mut con, "aof_enabled"), "1");
        wait_rewrite(&mut con);
        assert_eq!(
            manifest(&dir),
            "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        );
        let _: () = q(&mut con, &["SET", "after", "1"]);
        q::<String>(&mut con, &["DEBUG", "DIGEST"])
    };
    let srv = Server::start_in(&dir, &["--appendonly", "yes"]);
    let mut con = srv.client();
    assert_eq!(q::<String>(&mut con, &["DEBUG", "DIGEST"]), digest);
}

#[test]
fn real_redis_server_loads_viators_aof() {
    if !Path::new(REDIS_SERVER).exists() {
        eprintln!("skipped: {REDIS_SERVER} not installed");
        return;
    }
    for preamble in ["yes", "no"] {
        let dir = Server::new_dir();
        let digest = {
            let srv = Server::start_in(&dir, &["--appendonly", "yes", "--aof-use-rdb-preamble", preamble]);
            let mut con = srv.client();
            fill(&mut con);
            let _: String = q(&mut con, &["BGREWRITEAOF"]);
            wait_rewrite(&mut con);
            let _: i64 = q(&mut con, &["RPUSH", "l", "after-rewrite"]);
            q::<String>(&mut con, &["DEBUG", "DIGEST"])
        };
        let redis = Server::start_redis_in(Path::new(REDIS_SERVER), &dir, &["--appendonly", "yes"]);
        let mut con = redis.client();
        assert_eq!(q::<String>(&mut con, &["DEBUG", "DIGEST"]), digest, "preamble {preamble}: {}", redis.log());
    }
}

/// Counts acknowledged INCRs on one connection until the server dies.
fn writer(port: u16, stop: Arc<AtomicBool>, acked: Arc<AtomicI64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}/")) else { return };
        let Ok(mut con) = client.get_connection() else { return };
        while !stop.load(Ordering::Relaxed) {
            match redis::cmd("INCR").arg("counter").query::<i64>(&mut con) {
                Ok(v) => acked.store(v, Ordering::SeqCst),
                Err(_) => return,
            }
        }
    })
}

fn crash_and_count(fsync: &str) -> (i64, i64, f64) {
    let dir = Server::new_dir();
    let srv = Server::start_in(&dir, &["--appendonly", "yes", "--appendfsync", fsync]);
    let (stop, acked) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicI64::new(0)));
    let t0 = std::time::Instant::now();
    let handle = writer(srv.port(), stop.clone(), acked.clone());
    std::thread::sleep(Duration::from_millis(1500));
    let status = Command::new("kill").args(["-KILL", &srv.pid().to_string()]).status().expect("run kill");
    assert!(status.success());
    let secs = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = handle.join();
    let acknowledged = acked.load(Ordering::SeqCst);
    drop(srv);
    let srv = Server::start_in(&dir, &["--appendonly", "yes"]);
    let mut con = srv.client();
    // A long AOF (a debug build writes faster than it replays) still loads.
    assert!(wait_for(Duration::from_secs(30), || info_field(&mut con, "loading") == "0"));
    let value: i64 = q::<Option<i64>>(&mut con, &["GET", "counter"]).unwrap_or(0);
    (acknowledged, value, secs)
}

#[test]
fn crash_with_appendfsync_always_loses_no_acknowledged_write() {
    let (acknowledged, value, _) = crash_and_count("always");
    assert!(acknowledged > 0, "the writer made progress");
    assert!(value >= acknowledged, "acknowledged {acknowledged}, recovered {value}");
}

#[test]
fn crash_with_appendfsync_everysec_loses_at_most_about_a_second() {
    let (acknowledged, value, secs) = crash_and_count("everysec");
    assert!(acknowledged > 0, "the writer made progress");
    let per_sec = acknowledged as f64 / secs;
    assert!(
        value as f64 >= acknowledged as f64 - per_sec * 2.0,
        "acknowledged {acknowledged}, recovered {value}, {per_sec:.0} writes/s"
    );
}

/// Pipelines `n` INCRs of `counter` and returns the last reply.
fn incr_burst(con: &mut Connection, n: usize) -> i64 {
    let mut pipe = redis::pipe();
    for _ in 0..n {
        pipe.cmd("INCR").arg("counter");
    }
    let replies: Vec<i64> = pipe.query(con).unwrap();
    replies.last().copied().unwrap_or(0)
}

/// Names of the server's threads (/proc/<pid>/task/*/comm).
fn thread_names(pid: u32) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect()
}

#[test]
fn everysec_fsyncs_on_the_bio_thread_and_info_reports_it() {
    let srv = Server::start_with(&["--appendonly", "yes", "--appendfsync", "everysec"]);
    let mut con = srv.client();
    assert!(!thread_names(srv.pid()).iter().any(|n| n == "bio"), "no worker before the first fsync");
    // Writes spread over more than a second: at least one fsync is due.
    let t0 = std::time::Instant::now();
    while t0.elapsed() < Duration::from_millis(2200) {
        incr_burst(&mut con, 100);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(thread_names(srv.pid()).iter().any(|n| n == "bio"), "{:?}", thread_names(srv.pid()));
    let pending: u64 = info_field(&mut con, "aof_pending_bio_fsync").parse().unwrap();
    assert!(pending <= 1, "one background fsync at a time, got {pending}");
    assert_eq!(info_field(&mut con, "aof_delayed_fsync"), "0");
    assert_eq!(info_field(&mut con, "aof_last_write_status"), "ok");
    // appendfsync always syncs in the loop and still works after a switch.
    let _: () = q(&mut con, &["CONFIG", "SET", "appendfsync", "always"]);
    incr_burst(&mut con, 10);
    assert_eq!(info_field(&mut con, "aof_last_write_status"), "ok");
}

#[test]
fn everysec_writes_survive_shutdown_across_a_rewrite_switch() {
    let dir = Server::new_dir();
    let last = {
        let mut srv = Server::start_in(&dir, &["--appendonly", "yes", "--appendfsync", "everysec"]);
        let mut con = srv.client();
        incr_burst(&mut con, 5000);
        std::thread::sleep(Duration::from_millis(1100));
        incr_burst(&mut con, 5000);
        // The rewrite hands the old INCR file to the worker (fsync, close).
        let _: String = q(&mut con, &["BGREWRITEAOF"]);
        wait_rewrite(&mut con);
        incr_burst(&mut con, 5000);
        // Within the same second: SHUTDOWN itself must write and sync.
        let last = incr_burst(&mut con, 5000);
        let _ = redis::cmd("SHUTDOWN").query::<()>(&mut con);
        assert!(srv.wait_exit(Duration::from_secs(10)).is_some_and(|s| s.success()), "{}", srv.log());
        assert!(srv.log().contains("Calling fsync() on the AOF file."), "{}", srv.log());
        last
    };
    assert_eq!(last, 20000);
    let srv = Server::start_in(&dir, &["--appendonly", "yes"]);
    let mut con = srv.client();
    assert_eq!(q::<i64>(&mut con, &["GET", "counter"]), last);
}

#[test]
fn clients_get_loading_while_the_aof_loads() {
    let dir = Server::new_dir();
    {
        let srv = Server::start_in(&dir, &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"]);
        let mut con = srv.client();
        let mut pipe = redis::pipe();
        for i in 0..2000 {
            pipe.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
        }
        let _: () = pipe.query(&mut con).unwrap();
    }
    // 1 ms per replayed command: about two seconds of loading.
    let srv = Server::start_in(&dir, &["--appendonly", "yes", "--key-load-delay", "1000"]);
    let mut con = srv.client();
    let err = redis::cmd("PING").query::<String>(&mut con).unwrap_err();
    assert_eq!(err.code(), Some("LOADING"), "{err:?}");
    assert_eq!(info_field(&mut con, "loading"), "1");
    assert!(wait_for(Duration::from_secs(10), || info_field(&mut con, "loading_loaded_bytes").parse::<u64>().unwrap_or(0) > 0));
    assert!(info_field(&mut con, "loading_total_bytes").parse::<u64>().unwrap_or(0) > 0);
    assert!(wait_for(Duration::from_secs(20), || info_field(&mut con, "loading") == "0"));
    assert_eq!(q::<i64>(&mut con, &["DBSIZE"]), 2000);
}

#[test]
fn migrated_keys_leave_the_aof_as_a_del() {
    let dir = Server::new_dir();
    let target = Server::start();
    {
        let srv = Server::start_in(&dir, &["--appendonly", "yes"]);
        let mut con = srv.client();
        let _: () = q(&mut con, &["SET", "gone", "1"]);
        let _: () = q(&mut con, &["SET", "copied", "2"]);
        let port = target.port().to_string();
        let _: () = q(&mut con, &["MIGRATE", "127.0.0.1", &port, "gone", "0", "5000"]);
        let _: () = q(&mut con, &["MIGRATE", "127.0.0.1", &port, "copied", "0", "5000", "COPY"]);
        // Nothing moves: nothing to log.
        let _: String = q(&mut con, &["MIGRATE", "127.0.0.1", &port, "missing", "0", "5000"]);
        let incr = std::fs::read(dir.join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap();
        let text = String::from_utf8_lossy(&incr).to_ascii_uppercase();
        assert!(!text.contains("MIGRATE"), "a MIGRATE would be replayed at load:\n{text}");
        assert!(text.contains("$3\r\nDEL\r\n$4\r\nGONE\r\n"), "{text}");
    }
    // Replayed, the AOF leaves exactly what the source kept.
    let srv = Server::start_in(&dir, &["--appendonly", "yes"]);
    let mut con = srv.client();
    let keys: Vec<String> = q(&mut con, &["KEYS", "*"]);
    assert_eq!(keys, vec!["copied".to_string()]);
    let moved: String = q(&mut target.client(), &["GET", "gone"]);
    assert_eq!(moved, "1");
}

/// The scenario of the suite's integration/aof-race (which the runner
/// cannot list: it fails against Redis 7.0.15 itself, whose start_server
/// removes the AOF directory between its two servers): INCRs from 20
/// clients while a rewrite runs are neither lost nor doubled, live and
/// after a restart replays the files.
#[test]
fn incrs_racing_a_rewrite_are_counted_once() {
    let dir = Server::new_dir();
    {
        let mut srv = Server::start_in(&dir, &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"]);
        let mut con = srv.client();
        let mut bench = Command::new("redis-benchmark")
            .args(["-p", &srv.port().to_string(), "-q", "-c", "20", "-n", "200000", "incr", "foo"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-benchmark");
        let counted = |con: &mut Connection| q::<Option<i64>>(con, &["GET", "foo"]).unwrap_or(0);
        assert!(wait_for(Duration::from_secs(10), || counted(&mut con) > 1000));
        let _: String = q(&mut con, &["BGREWRITEAOF"]);
        // The rewrite starts while the INCRs still flow.
        assert!(counted(&mut con) < 200000);
        assert!(bench.wait().expect("benchmark").success());
        assert_eq!(counted(&mut con), 200000);
        wait_rewrite(&mut con);
        let _ = redis::cmd("SHUTDOWN").query::<()>(&mut con);
        assert!(srv.wait_exit(Duration::from_secs(10)).is_some_and(|s| s.success()), "{}", srv.log());
    }
    let srv = Server::start_in(&dir, &["--appendonly", "yes"]);
    let mut con = srv.client();
    assert!(wait_for(Duration::from_secs(30), || info_field(&mut con, "loading") == "0"));
    assert_eq!(q::<i64>(&mut con, &["GET", "foo"]), 200000);
}
