//! Clients as operators see and limit them, against a real `viator-server`:
//! output buffer limits on a client that stops reading, CLIENT KILL, and the
//! MONITOR feed's exact line format.
//!
//! Owns the end-to-end contract of `client::mem` and `cmd::client`; the
//! figures themselves are unit-tested there. Expectations are Redis 7.0's.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use redis::{Connection, Value};
use support::{err_text, q, resp, wait_for, Raw, Server};

fn client_list(con: &mut Connection) -> String {
    q::<String>(con, &["CLIENT", "LIST"])
}

#[test]
fn a_client_that_stops_reading_is_closed_at_its_output_limit() {
    let srv = Server::start();
    let mut fast = srv.client();
    q::<String>(&mut fast, &["CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 0 0"]);
    q::<String>(&mut fast, &["SET", "big", &"x".repeat(100_000)]);

    // The slow client names itself, then asks for the big value again and
    // again without ever reading a reply.
    let mut slow = TcpStream::connect(("127.0.0.1", srv.port())).expect("connect");
    slow.write_all(&resp(&[b"CLIENT", b"SETNAME", b"slow"])).expect("write");
    let mut ok = [0u8; 5];
    slow.read_exact(&mut ok).expect("setname reply");
    assert_eq!(&ok, b"+OK\r\n");
    let get = resp(&[b"GET", b"big"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut served = 0;
    while client_list(&mut fast).contains("name=slow") {
        assert!(Instant::now() < deadline, "the slow client was never closed");
        // Once the server closed it, writes may fail: that is the point.
        let _ = slow.write_all(&get);
        // Meanwhile every other client is served normally.
        assert_eq!(q::<i64>(&mut fast, &["INCR", "served"]), served + 1);
        served += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(served > 10, "closed after {served} requests: the kernel buffers alone hold more");
    assert_eq!(q::<String>(&mut fast, &["PING"]), "PONG");
    assert!(
        wait_for(Duration::from_secs(2), || srv
            .log()
            .contains("scheduled to be closed ASAP for overcoming of output buffer limits.")),
        "no log line for the close"
    );
    // What the slow client still gets is a prefix of its replies, then EOF.
    slow.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    assert!(rest.starts_with(b"+OK\r\n$100000\r\n") || rest.starts_with(b"$100000\r\n") || rest.is_empty());
}

#[test]
fn client_kill_by_id_and_by_address() {
    let srv = Server::start();
    let mut admin = srv.client();
    let mut victim = srv.client();
    let id: i64 = q(&mut victim, &["CLIENT", "ID"]);
    assert_eq!(q::<i64>(&mut admin, &["CLIENT", "KILL", "ID", &id.to_string()]), 1);
    assert!(redis::cmd("PING").query::<Value>(&mut victim).is_err(), "the killed client still answers");
    assert!(!client_list(&mut admin).contains(&format!("id={id} ")));
    // Nothing matches: 0 with the new form, an error with the old one.
    assert_eq!(q::<i64>(&mut admin, &["CLIENT", "KILL", "ID", &id.to_string()]), 0);
    assert_eq!(
        err_text(redis::cmd("CLIENT").arg(&["KILL", "1.2.3.4:5"]).query::<Value>(&mut admin)),
        "ERR No such client"
    );
    assert_eq!(
        err_text(redis::cmd("CLIENT").arg(&["KILL", "ID", "0"]).query::<Value>(&mut admin)),
        "ERR client-id should be greater than 0"
    );
    assert_eq!(
        err_text(redis::cmd("CLIENT").arg(&["KILL", "USER", "nobody"]).query::<Value>(&mut admin)),
        "ERR No such user 'nobody'"
    );
    // The old form takes the address as CLIENT LIST prints it.
    let mut other = srv.client();
    q::<String>(&mut other, &["CLIENT", "SETNAME", "other"]);
    let list = client_list(&mut admin);
    let line = list.lines().find(|l| l.contains("name=other")).expect("other listed");
    let addr = line.split(' ').find_map(|f| f.strip_prefix("addr=")).expect("addr field");
    assert_eq!(q::<String>(&mut admin, &["CLIENT", "KILL", addr]), "OK");
    assert!(wait_for(Duration::from_secs(2), || !client_list(&mut admin).contains("name=other")));
}

/// Reads one MONITOR line (without its CRLF).
fn monitor_line(m: &mut Raw) -> String {
    let mut line = Vec::new();
    while !line.ends_with(b"\r\n") {
        let b = m.read_n(1, Duration::from_secs(5));
        assert_eq!(b.len(), 1, "no monitor line, got {:?}", String::from_utf8_lossy(&line));
        line.extend_from_slice(&b);
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).expect("utf8")
}

/// Splits `+<sec>.<usec> [<db> <addr>] <args>` and checks the time stamp.
fn monitor_parts(line: &str) -> (String, String) {
    let rest = line.strip_prefix('+').expect("status line");
    let (stamp, rest) = rest.split_once(' ').expect("stamp");
    let (secs, usecs) = stamp.split_once('.').expect("sec.usec");
    assert!(secs.parse::<u64>().is_ok() && usecs.len() == 6 && usecs.parse::<u32>().is_ok(), "stamp {stamp}");
    let (origin, args) = rest.split_once("] ").expect("origin");
    (origin.trim_start_matches('[').to_string(), args.to_string())
}

#[test]
fn monitor_shows_commands_with_redis_line_format() {
    let srv = Server::start();
    let mut m = Raw::connect(srv.port());
    m.roundtrip(&resp(&[b"MONITOR"]), b"+OK\r\n");
    let mut c = srv.client();
    let me: String = q::<String>(&mut c, &["CLIENT", "INFO"]);
    let addr = me.split(' ').find_map(|f| f.strip_prefix("addr=")).expect("addr").to_string();
    // Arguments appear as sent, quoted and escaped.
    let (origin, args) = monitor_parts(&monitor_line(&mut m));
    assert_eq!(origin, format!("0 {addr}"));
    assert_eq!(args, r#""CLIENT" "INFO""#);

    q::<String>(&mut c, &["SELECT", "3"]);
    q::<String>(&mut c, &["SET", "k", "a \"quoted\"\nvalue\x01"]);
    assert_eq!(monitor_parts(&monitor_line(&mut m)).1, r#""SELECT" "3""#);
    let (origin, args) = monitor_parts(&monitor_line(&mut m));
    assert_eq!(origin, format!("3 {addr}"));
    assert_eq!(args, r#""SET" "k" "a \"quoted\"\nvalue\x01""#);

    // Passwords are redacted; admin commands are not shown at all.
    let _ = redis::cmd("AUTH").arg("secret").query::<Value>(&mut c);
    q::<Value>(&mut c, &["CONFIG", "SET", "maxmemory-clients", "0"]);
    q::<String>(&mut c, &["PING"]);
    assert_eq!(monitor_parts(&monitor_line(&mut m)).1, r#""AUTH" "(redacted)""#);
    assert_eq!(monitor_parts(&monitor_line(&mut m)).1, r#""PING""#);

    // A MONITOR client is flagged O in CLIENT LIST.
    let list = client_list(&mut c);
    assert!(list.lines().any(|l| l.contains(" flags=O ") && l.contains(" cmd=monitor ")), "{list}");
}
