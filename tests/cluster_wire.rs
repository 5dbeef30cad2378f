//! Byte compatibility of the cluster bus codec (`viator::cluster::wire`)
//! with Debian's real redis-server 7.0 in cluster mode. The test plays a
//! cluster node by hand: it MEETs Redis on its bus port, decodes the PONG,
//! accepts Redis's handshake connection and answers its PING, then checks on
//! Redis's side (CLUSTER NODES, a subscriber) that Redis understood every
//! message: our name, our hostname extension, a PUBLISH delivered.
//!
//! It builds no cluster state: the messages are written field by field here.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use support::{q, resp, show, wait_for, Server};
use viator::cluster::wire::{
    decode, encode, flags, mflags0, name_from_str, name_str, slot_bit, Body, Decoded, Header, Message, MsgType, Name,
    PingExt,
};

const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// Our made-up node name.
const OUR_NAME: &str = "0123456789abcdef0123456789abcdef0badc0de";
/// The hostname Redis announces (carried in its ping extensions).
const REDIS_HOST: &str = "redis-wire-test";
/// The hostname we announce in a PING extension.
const OUR_HOST: &str = "viator-wire-test";

/// A cluster bus port for Redis in this test's range (23000-23999) that is
/// free right now.
fn bus_port() -> u16 {
    let base = std::process::id() as u16 % 1000;
    (0..1000u16)
        .map(|i| 23000 + (base + i) % 1000)
        .find(|&p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("a free port in 23000-23999")
}

/// A header from our node: a master with no slots, announcing 127.0.0.1.
fn our_header(mtype: MsgType, cport: u16) -> Header {
    let mut h = Header::new(mtype, name_from_str(OUR_NAME).expect("40 characters"));
    h.port = cport;
    h.cport = cport;
    h.myip = "127.0.0.1".into();
    h.flags = flags::MASTER;
    h
}

fn send(stream: &mut TcpStream, msg: &Message) {
    let mut out = Vec::new();
    encode(msg, &mut out);
    stream.write_all(&out).expect("write to the cluster bus");
}

/// Reads bus messages from `stream` until one of type `want` arrives, and
/// returns it with its length on the wire. Other types are skipped (Redis
/// may ping at any time). Panics after 5 s, on EOF or on an undecodable
/// message.
fn read_msg(stream: &mut TcpStream, buf: &mut Vec<u8>, want: MsgType) -> (Message, usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match decode(buf) {
            Decoded::Message(m, used) => {
                buf.drain(..used);
                if m.header.mtype == want {
                    return (m, used);
                }
                continue;
            }
            Decoded::Invalid(why) => panic!("Redis sent an undecodable message ({why}): {}", show(buf)),
            Decoded::Incomplete => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {want:?} within 5 s; have {} bytes", buf.len());
        stream.set_read_timeout(Some(left)).expect("set read timeout");
        match stream.read(&mut chunk) {
            Ok(0) => panic!("Redis closed the bus link while we waited for {want:?}"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
            Err(e) => panic!("bus read: {e}"),
        }
    }
}

/// Accepts one connection on `listener` within 5 s.
fn accept(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).expect("nonblocking listener");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).expect("blocking stream");
                return s;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "Redis did not connect to our bus port within 5 s");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Checks the header fields Redis's own node sends.
fn assert_redis_header(h: &Header, redis_id: &Name, redis_port: u16, bus: u16) {
    assert_eq!(name_str(&h.sender), name_str(redis_id));
    assert_eq!(h.port, redis_port);
    assert_eq!(h.cport, bus);
    assert_eq!(h.pport, 0);
    assert_eq!(h.flags & (flags::MASTER | flags::MYSELF), flags::MASTER | flags::MYSELF, "flags {}", h.flags);
    assert_eq!(h.slaveof, None);
    assert!((0..16384).all(|s| !slot_bit(&h.myslots, s)), "a fresh node serves no slots");
    assert_eq!(h.current_epoch, 0);
    assert_eq!(h.config_epoch, 0);
    assert_eq!(h.state, 1, "no slots served: the cluster state is fail");
    assert_eq!(h.myip, "", "no cluster-announce-ip");
}

/// The body of a PING/PONG from Redis: no gossip (it knows only us) and its
/// hostname extension.
fn assert_redis_ping_body(m: &Message, used: usize) {
    assert_ne!(m.header.mflags[0] & mflags0::EXT_DATA, 0);
    assert_eq!(m.body, Body::Ping { gossip: vec![], exts: vec![PingExt::Hostname(REDIS_HOST.into())] });
    // Header, then one extension: 8 bytes + "redis-wire-test\0" (16).
    assert_eq!(used, 2256 + 8 + 16);
}

/// Our node's line in Redis's CLUSTER NODES, if any.
fn our_line(con: &mut redis::Connection) -> Option<String> {
    let nodes: String = q(con, &["CLUSTER", "NODES"]);
    nodes.lines().find(|l| l.starts_with(OUR_NAME)).map(str::to_string)
}

#[test]
fn redis_handshakes_and_takes_a_publish_over_our_encoding() {
    let dir = Server::new_dir();
    let bus = bus_port();
    let conf = dir.join("nodes.conf");
    let redis = Server::start_redis_in(
        Path::new(REDIS_SERVER),
        &dir,
        &[
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            conf.to_str().expect("utf-8 temp path"),
            "--cluster-port",
            &bus.to_string(),
            "--cluster-announce-hostname",
            REDIS_HOST,
        ],
    );
    let mut con = redis.client();
    let id: String = q(&mut con, &["CLUSTER", "MYID"]);
    let redis_id = name_from_str(&id).expect("CLUSTER MYID is 40 characters");

    // Our bus port: Redis connects here once it has our MEET.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind our bus port");
    let cport = listener.local_addr().expect("local addr").port();

    // MEET on our own link; Redis answers with a PONG on it.
    let mut out = TcpStream::connect(("127.0.0.1", bus)).expect("connect to Redis's bus port");
    out.set_nodelay(true).expect("nodelay");
    let meet = Message { header: our_header(MsgType::Meet, cport), body: Body::Ping { gossip: vec![], exts: vec![] } };
    send(&mut out, &meet);
    let mut out_buf = Vec::new();
    let (pong, used) = read_msg(&mut out, &mut out_buf, MsgType::Pong);
    assert_redis_header(&pong.header, &redis_id, redis.port(), bus);
    assert_redis_ping_body(&pong, used);

    // Redis's handshake: it connects to the cport we announced and PINGs.
    let mut inb = accept(&listener);
    let mut inb_buf = Vec::new();
    let (ping, used) = read_msg(&mut inb, &mut inb_buf, MsgType::Ping);
    assert_redis_header(&ping.header, &redis_id, redis.port(), bus);
    assert_redis_ping_body(&ping, used);
    let pong = Message { header: our_header(MsgType::Pong, cport), body: Body::Ping { gossip: vec![], exts: vec![] } };
    send(&mut inb, &pong);

    // Redis renamed its handshake node to our name and dropped the flag.
    let mut last = None;
    let done = wait_for(Duration::from_secs(5), || {
        last = our_line(&mut con);
        last.as_deref().is_some_and(|l| !l.contains("handshake"))
    });
    assert!(done, "handshake not completed; our line: {last:?}\nlog:\n{}", redis.log());
    let line = last.clone().unwrap_or_default();
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields.get(1).copied(), Some(format!("127.0.0.1:{cport}@{cport}").as_str()), "{line}");
    assert_eq!(fields.get(2).copied(), Some("master"), "{line}");

    // A PING carrying our hostname extension: Redis records it (and PONGs).
    let ping = Message {
        header: our_header(MsgType::Ping, cport),
        body: Body::Ping { gossip: vec![], exts: vec![PingExt::Hostname(OUR_HOST.into())] },
    };
    send(&mut out, &ping);
    let (pong, used) = read_msg(&mut out, &mut out_buf, MsgType::Pong);
    assert_redis_header(&pong.header, &redis_id, redis.port(), bus);
    assert_redis_ping_body(&pong, used);
    let want = format!("127.0.0.1:{cport}@{cport},{OUR_HOST}");
    let done = wait_for(Duration::from_secs(5), || {
        last = our_line(&mut con);
        last.as_deref().is_some_and(|l| l.split(' ').nth(1) == Some(want.as_str()))
    });
    assert!(done, "hostname extension not taken; our line: {last:?}");

    // PUBLISH from our node reaches a subscriber on the Redis node, binary
    // safe, which proves the publish layout and its totlen.
    let mut sub = redis.raw();
    sub.roundtrip(&resp(&[b"SUBSCRIBE", b"wire-chan"]), b"*3\r\n$9\r\nsubscribe\r\n$9\r\nwire-chan\r\n:1\r\n");
    let publish = Message {
        header: our_header(MsgType::Publish, cport),
        body: Body::Publish { channel: b"wire-chan".to_vec(), message: b"hi\0there\r\n".to_vec() },
    };
    send(&mut out, &publish);
    sub.expect(b"*3\r\n$7\r\nmessage\r\n$9\r\nwire-chan\r\n$10\r\nhi\0there\r\n\r\n");
}
