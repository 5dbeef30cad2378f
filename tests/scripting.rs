//! Lua scripting through real connections: EVAL and EVALSHA with the
//! script cache, a write script as the replication stream carries it
//! (wrapped in MULTI/EXEC), a script past busy-reply-threshold answered
//! with BUSY and stopped by SCRIPT KILL, and functions loaded, called and
//! kept across DEBUG RELOAD.
//!
//! Owns the client-visible contract of `crate::script`; the Lua sandbox
//! and conversions are unit-tested in src/script/.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use redis::Value;
use support::{q, qe, wait_for, Server, SyncReplica};

#[test]
fn eval_evalsha_and_the_cache() {
    let srv = Server::start();
    let mut c = srv.client();
    let v: Value = q(&mut c, &["EVAL", "return {1, 'two', {ok='fine'}, false}", "0"]);
    assert_eq!(
        v,
        Value::Array(vec![
            Value::Int(1),
            Value::BulkString(b"two".to_vec()),
            Value::SimpleString("fine".into()),
            Value::Nil,
        ])
    );
    let r: String = q(&mut c, &["EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "k", "v"]);
    assert_eq!(r, "OK");
    let sha: String = q(&mut c, &["SCRIPT", "LOAD", "return redis.call('get', KEYS[1])"]);
    assert_eq!(sha.len(), 40);
    let got: String = q(&mut c, &["EVALSHA", &sha, "1", "k"]);
    assert_eq!(got, "v");
    let exists: Vec<i64> = q(&mut c, &["SCRIPT", "EXISTS", &sha, "ffffffffffffffffffffffffffffffffffffffff"]);
    assert_eq!(exists, vec![1, 0]);
    let e = qe(&mut c, &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"]);
    assert_eq!(e, "NOSCRIPT No matching script. Please use EVAL.");
    let e = qe(&mut c, &["EVAL", "return x", "0"]);
    assert!(e.contains("Script attempted to access nonexistent global variable 'x'"), "{e}");
    let e = qe(&mut c, &["EVAL", "return redis.call('incr', KEYS[1])", "1", "k"]);
    assert!(e.starts_with("ERR value is not an integer or out of range"), "{e}");
    let e = qe(&mut c, &["EVAL_RO", "return redis.call('del', KEYS[1])", "1", "k"]);
    assert!(e.contains("Write commands are not allowed from read-only scripts"), "{e}");
    // A failing redis.call names the script line, even as a tail call.
    assert!(e.ends_with("on @user_script:1."), "{e}");
    let e = qe(&mut c, &["EVAL", "\nreturn redis.call('nosuch')", "0"]);
    assert!(e.starts_with("ERR Unknown Redis command called from script script: "), "{e}");
    assert!(e.ends_with("on @user_script:2."), "{e}");
    // redis.pcall hands the error back; returned, it carries no line.
    let e = qe(&mut c, &["EVAL", "return redis.pcall('nosuch')", "0"]);
    assert_eq!(e, "ERR Unknown Redis command called from script");
    let _: String = q(&mut c, &["SCRIPT", "FLUSH"]);
    let e = qe(&mut c, &["EVALSHA", &sha, "1", "k"]);
    assert!(e.starts_with("NOSCRIPT"), "{e}");
    let keys: Vec<String> = q(&mut c, &["COMMAND", "GETKEYS", "EVAL", "return 1", "2", "a", "b", "c"]);
    assert_eq!(keys, vec!["a", "b"]);
}

#[test]
fn a_write_script_reaches_replicas_as_its_effects_in_multi_exec() {
    let srv = Server::start();
    let mut c = srv.client();
    let mut rep = SyncReplica::attach(&srv);
    let _: Value =
        q(&mut c, &["EVAL", "redis.call('set', KEYS[1], '1'); redis.call('incr', KEYS[1]); return 1", "1", "counter"]);
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(rep.next().join(" "));
    }
    assert_eq!(seen, vec!["select 0", "multi", "set counter 1", "incr counter", "exec"]);
    // A script that only reads propagates nothing; the next write is bare.
    let _: Value = q(&mut c, &["EVAL", "return redis.call('get', KEYS[1])", "1", "counter"]);
    let _: Value = q(&mut c, &["SET", "after", "x"]);
    assert_eq!(rep.next().join(" "), "set after x");
}

#[test]
fn a_busy_script_gets_busy_replies_until_script_kill() {
    let srv = Server::start_with(&["--busy-reply-threshold", "50"]);
    let port = srv.port();
    let runner = thread::spawn(move || {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        let mut con = client.get_connection().unwrap();
        redis::cmd("EVAL").arg("local i = 0 while true do i = i + 1 end").arg(0).query::<Value>(&mut con)
    });
    let mut c = srv.client();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match redis::cmd("PING").query::<String>(&mut c) {
            Err(e) if e.to_string().contains("BUSY") => break,
            _ if Instant::now() > deadline => panic!("never saw BUSY"),
            _ => thread::sleep(Duration::from_millis(20)),
        }
    }
    let ok: String = q(&mut c, &["SCRIPT", "KILL"]);
    assert_eq!(ok, "OK");
    let err = runner.join().unwrap().unwrap_err().to_string();
    assert!(err.contains("Script killed by user with SCRIPT KILL"), "{err}");
    let pong: String = q(&mut c, &["PING"]);
    assert_eq!(pong, "PONG");
    let e = qe(&mut c, &["SCRIPT", "KILL"]);
    assert_eq!(e, "NOTBUSY No scripts in execution right now.");
}

#[test]
fn functions_load_call_and_survive_debug_reload() {
    let srv = Server::start();
    let mut c = srv.client();
    let code = "#!lua name=lib\n\
        redis.register_function('put', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n\
        redis.register_function{function_name='fetch', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}";
    let name: String = q(&mut c, &["FUNCTION", "LOAD", code]);
    assert_eq!(name, "lib");
    let e = qe(&mut c, &["FUNCTION", "LOAD", code]);
    assert_eq!(e, "ERR Library 'lib' already exists");
    let ok: String = q(&mut c, &["FCALL", "put", "1", "fk", "fv"]);
    assert_eq!(ok, "OK");
    let e = qe(&mut c, &["FCALL_RO", "put", "1", "fk", "x"]);
    assert_eq!(e, "ERR Can not execute a script with write flag using *_ro command.");
    let _: String = q(&mut c, &["DEBUG", "RELOAD"]);
    let v: String = q(&mut c, &["FCALL_RO", "fetch", "1", "fk"]);
    assert_eq!(v, "fv");
    let dump: Vec<u8> = q(&mut c, &["FUNCTION", "DUMP"]);
    let _: String = q(&mut c, &["FUNCTION", "FLUSH"]);
    let e = qe(&mut c, &["FCALL", "fetch", "1", "fk"]);
    assert_eq!(e, "ERR Function not found");
    let ok: String = redis::cmd("FUNCTION").arg("RESTORE").arg(dump).query(&mut c).unwrap();
    assert_eq!(ok, "OK");
    let v: String = q(&mut c, &["FCALL", "fetch", "1", "fk"]);
    assert_eq!(v, "fv");
}

/// Redis 7.0 keeps neither SCRIPT LOAD nor the script cache across a
/// restart, and does not replicate it: after the master restarts, EVALSHA
/// answers NOSCRIPT until the client loads the script again (what redis-py's
/// Script objects do by themselves), and the replica, which only ever sees
/// the script's effects, keeps following the master's writes throughout.
#[test]
fn evalsha_across_a_restart_of_the_replicas_master() {
    let dir = Server::new_dir();
    let script = "return redis.call('incr', KEYS[1])";
    let replica = Server::start();
    let mut rc = replica.client();
    let follow = |rc: &mut redis::Connection, port: u16| {
        let _: () = q(rc, &["REPLICAOF", "127.0.0.1", &port.to_string()]);
    };
    let converged = |rc: &mut redis::Connection, want: i64| {
        wait_for(Duration::from_secs(10), || q::<Option<i64>>(rc, &["GET", "counter"]) == Some(want))
    };
    let sha = {
        let master = Server::start_in(&dir, &["--save", "3600 1"]);
        let mut mc = master.client();
        follow(&mut rc, master.port());
        let sha: String = q(&mut mc, &["SCRIPT", "LOAD", script]);
        assert_eq!(q::<i64>(&mut mc, &["EVALSHA", &sha, "1", "counter"]), 1);
        assert!(converged(&mut rc, 1));
        // The replica never received the script, only its effect.
        assert_eq!(q::<Vec<i64>>(&mut rc, &["SCRIPT", "EXISTS", &sha]), vec![0]);
        sha
    };
    let master = Server::start_in(&dir, &["--save", "3600 1"]);
    let mut mc = master.client();
    follow(&mut rc, master.port());
    assert_eq!(q::<i64>(&mut mc, &["GET", "counter"]), 1, "the data came back from the RDB");
    let e = qe(&mut mc, &["EVALSHA", &sha, "1", "counter"]);
    assert!(e.starts_with("NOSCRIPT"), "{e}");
    let again: String = q(&mut mc, &["SCRIPT", "LOAD", script]);
    assert_eq!(again, sha);
    assert_eq!(q::<i64>(&mut mc, &["EVALSHA", &sha, "1", "counter"]), 2);
    assert!(converged(&mut rc, 2));
}

const REDIS_PY_LOCK_AND_LIMITER: &str = r#"
import sys, redis
r = redis.Redis(port=int(sys.argv[1]))
lock = r.lock("resource", timeout=5)
assert lock.acquire(blocking=False)
other = r.lock("resource", timeout=5)
assert not other.acquire(blocking=False), "a held lock cannot be taken"
assert lock.extend(10)
ttl = r.pttl("resource")
assert 10000 < ttl <= 15000, ttl
lock.release()
assert r.get("resource") is None
assert other.acquire(blocking=False)
other.release()
limiter = r.register_script("""
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then return 0 end
return 1
""")
allowed = sum(limiter(keys=["rate:user"], args=[5, 60000]) for _ in range(8))
assert allowed == 5, allowed
assert 0 < r.pttl("rate:user") <= 60000
r.script_flush()
assert limiter(keys=["rate:other"], args=[5, 60000]) == 1, "reloaded after SCRIPT FLUSH"
print("ok")
"#;

/// redis-py's Lock (its acquire, extend and release are Lua scripts) and a
/// fixed-window rate limiter through redis-py's Script objects (EVALSHA,
/// falling back to SCRIPT LOAD). Skipped when python3-redis is missing.
#[test]
fn redis_py_lock_and_a_rate_limiter_script() {
    const PYTHON: &str = "/usr/bin/python3";
    let usable = std::process::Command::new(PYTHON)
        .args(["-c", "import redis.lock"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !usable {
        eprintln!("skipped: {PYTHON} cannot import redis (apt-get install python3-redis)");
        return;
    }
    let srv = Server::start();
    let out = std::process::Command::new(PYTHON)
        .args(["-c", REDIS_PY_LOCK_AND_LIMITER, &srv.port().to_string()])
        .output()
        .expect("python3");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.trim() == "ok", "{stdout}\n{stderr}");
}
