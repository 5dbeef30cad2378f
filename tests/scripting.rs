//! Lua scripting through real connections: EVAL and EVALSHA with the
//! script cache, a write script as the replication stream carries it
//! (wrapped in MULTI/EXEC), a script past busy-reply-threshold answered
//! with BUSY and stopped by SCRIPT KILL, and functions loaded, called and
//! kept across DEBUG RELOAD.
//!
//! Owns the client-visible contract of `crate::script`; the Lua sandbox
//! and conversions are unit-tested in src/script/.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use redis::Value;
use support::{q, qe, Server};

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
    let _: String = q(&mut c, &["SCRIPT", "FLUSH"]);
    let e = qe(&mut c, &["EVALSHA", &sha, "1", "k"]);
    assert!(e.starts_with("NOSCRIPT"), "{e}");
    let keys: Vec<String> = q(&mut c, &["COMMAND", "GETKEYS", "EVAL", "return 1", "2", "a", "b", "c"]);
    assert_eq!(keys, vec!["a", "b"]);
}

/// A raw connection that sent SYNC and consumed the snapshot.
fn attach_replica(srv: &Server) -> BufReader<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", srv.port())).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut w = s.try_clone().unwrap();
    w.write_all(b"SYNC\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let len: usize = line[1..].trim().parse().unwrap();
    let mut rdb = vec![0u8; len];
    r.read_exact(&mut rdb).unwrap();
    r
}

/// The next command of the stream (keepalive PINGs skipped).
fn next_command(r: &mut BufReader<TcpStream>) -> Vec<String> {
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let n: usize = line[1..].trim().parse().unwrap();
        let mut out = Vec::new();
        for _ in 0..n {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            let len: usize = l[1..].trim().parse().unwrap();
            let mut buf = vec![0u8; len + 2];
            r.read_exact(&mut buf).unwrap();
            buf.truncate(len);
            out.push(String::from_utf8(buf).unwrap());
        }
        if out != ["PING"] {
            return out;
        }
    }
}

#[test]
fn a_write_script_reaches_replicas_as_its_effects_in_multi_exec() {
    let srv = Server::start();
    let mut c = srv.client();
    let mut rep = attach_replica(&srv);
    let _: Value =
        q(&mut c, &["EVAL", "redis.call('set', KEYS[1], '1'); redis.call('incr', KEYS[1]); return 1", "1", "counter"]);
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(next_command(&mut rep).join(" "));
    }
    assert_eq!(seen, vec!["SELECT 0", "MULTI", "set counter 1", "incr counter", "EXEC"]);
    // A script that only reads propagates nothing; the next write is bare.
    let _: Value = q(&mut c, &["EVAL", "return redis.call('get', KEYS[1])", "1", "counter"]);
    let _: Value = q(&mut c, &["SET", "after", "x"]);
    assert_eq!(next_command(&mut rep).join(" "), "SET after x");
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
