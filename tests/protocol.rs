//! Wire-protocol tests: raw bytes in, exact bytes out, over a plain TcpStream
//! to a real `viator-server`.
//!
//! Owns the request-framing contract only (inline and multibulk parsing,
//! partial frames, pipelining, protocol errors and the close that follows them,
//! RESP3 switching, the generic command errors, many connections). Command
//! semantics live in `commands.rs`. Mirrors Redis 7.0's networking layer: the
//! `Protocol error: ...` texts, the 64 KiB inline limit, the unauthenticated
//! size caps, and the rule that a protocol error is answered and then the
//! connection is closed.

mod support;

use std::thread::sleep;
use std::time::{Duration, Instant};

use support::{resp, show, Raw, Server};

const SHORT: Duration = Duration::from_millis(200);

#[test]
fn inline_ping() {
    let srv = Server::start();
    let mut c = srv.raw();
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
    // A bare LF also ends an inline command.
    c.roundtrip(b"ping\n", b"+PONG\r\n");
    c.roundtrip(b"PING hello\r\n", b"$5\r\nhello\r\n");
}

#[test]
fn multibulk_split_at_every_byte() {
    let srv = Server::start();
    let mut c = srv.raw();
    let set = resp(&[b"SET", b"key", b"hello world"]);
    // One byte per write: every boundary of every frame part is exercised
    // (count line, between \r and \n, bulk length, inside the payload).
    for b in &set {
        c.send(std::slice::from_ref(b));
        sleep(Duration::from_millis(2));
    }
    c.expect(b"+OK\r\n");
    c.roundtrip(&resp(&[b"GET", b"key"]), b"$11\r\nhello world\r\n");
}

#[test]
fn multibulk_split_before_the_first_argument_completes() {
    let srv = Server::start();
    let mut c = srv.raw();
    let set = resp(&[b"SET", b"k", b"value"]);
    for cuts in [&[1usize][..], &[2, 3], &[4, 6], &[9, 11]] {
        let mut prev = 0;
        for &cut in cuts {
            c.send(&set[prev..cut]);
            assert!(c.read_for(Duration::from_millis(15)).is_empty(), "reply to a partial frame");
            prev = cut;
        }
        c.send(&set[prev..]);
        c.expect(b"+OK\r\n");
    }
    c.roundtrip(b"GET k\r\n", b"$5\r\nvalue\r\n");
}

#[test]
fn multibulk_split_at_chosen_points() {
    let srv = Server::start();
    let mut c = srv.raw();
    let set = resp(&[b"SET", b"k", b"value"]);
    // *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n
    let points: &[&[usize]] = &[
        &[1],             // after '*'
        &[3],             // between \r and \n of the count
        &[4, 6],          // after the count line, inside "$3"
        &[9],             // inside "SET"
        &[11, 12],        // right after an argument's \r, then its \n
        &[17, 22],        // inside the "$5" line, inside the payload
        &[set.len() - 1], // all but the final \n
        &[2, 5, 8, 13, 20, 25],
    ];
    for (round, cuts) in points.iter().enumerate() {
        let mut prev = 0;
        for &cut in cuts.iter() {
            c.send(&set[prev..cut]);
            // Nothing may be answered while the frame is incomplete.
            assert!(c.read_for(Duration::from_millis(15)).is_empty(), "reply to a partial frame, round {round}");
            prev = cut;
        }
        c.send(&set[prev..]);
        c.expect(b"+OK\r\n");
    }
    c.roundtrip(b"GET k\r\n", b"$5\r\nvalue\r\n");
}

#[test]
fn pipeline_of_100_commands_in_one_write() {
    let srv = Server::start();
    let mut c = srv.raw();
    let mut req = Vec::new();
    let mut want = Vec::new();
    for i in 0..100 {
        match i % 4 {
            0 => {
                let v = format!("v{i}");
                req.extend(resp(&[b"SET", format!("k{i}").as_bytes(), v.as_bytes()]));
                want.extend_from_slice(b"+OK\r\n");
            }
            1 => {
                let v = format!("v{}", i - 1);
                req.extend(resp(&[b"GET", format!("k{}", i - 1).as_bytes()]));
                want.extend(format!("${}\r\n{v}\r\n", v.len()).into_bytes());
            }
            2 => {
                req.extend_from_slice(b"INCR counter\r\n");
                want.extend(format!(":{}\r\n", i / 4 + 1).into_bytes());
            }
            _ => {
                req.extend(resp(&[b"GET", b"nokey"]));
                want.extend_from_slice(b"$-1\r\n");
            }
        }
    }
    c.send(&req);
    c.expect(&want);
    assert!(c.read_for(Duration::from_millis(50)).is_empty(), "extra replies after the pipeline");
}

#[test]
fn huge_multibulk_count_is_accepted_without_password() {
    let srv = Server::start();
    let mut c = srv.raw();
    // Redis only caps counts above 10 for clients that still have to AUTH.
    c.send(b"*1048577\r\n");
    assert!(c.read_for(SHORT).is_empty(), "a legal count must not be answered yet");
    // The connection is still open and waiting for arguments.
    c.send(b"$4\r\nPING\r\n");
    assert!(c.read_for(Duration::from_millis(50)).is_empty());
    let mut other = srv.raw();
    other.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn multibulk_count_over_int_max_is_a_protocol_error() {
    let srv = Server::start();
    let mut c = srv.raw();
    c.send(b"*3000000000\r\n");
    c.expect(b"-ERR Protocol error: invalid multibulk length\r\n");
    assert!(c.closed_within(Duration::from_secs(2)), "connection must close after a protocol error");
    let mut c = srv.raw();
    c.send(b"*abc\r\n");
    c.expect(b"-ERR Protocol error: invalid multibulk length\r\n");
    assert!(c.closed_within(Duration::from_secs(2)));
}

#[test]
fn zero_and_negative_counts_are_ignored() {
    let srv = Server::start();
    let mut c = srv.raw();
    c.roundtrip(b"*0\r\n*-1\r\nPING\r\n", b"+PONG\r\n");
}

#[test]
fn expected_dollar_is_a_protocol_error_and_closes() {
    let srv = Server::start();
    let mut c = srv.raw();
    c.send(b"*1\r\n+foo\r\n");
    c.expect(b"-ERR Protocol error: expected '$', got '+'\r\n");
    assert!(c.closed_within(Duration::from_secs(2)), "read must return 0 after the error");
}

#[test]
fn invalid_bulk_length() {
    let srv = Server::start();
    for bad in [&b"*1\r\n$abc\r\n"[..], b"*1\r\n$-5\r\n", b"*2\r\n$3\r\nGET\r\n$536870913\r\n"] {
        let mut c = srv.raw();
        c.send(bad);
        c.expect(b"-ERR Protocol error: invalid bulk length\r\n");
        assert!(c.closed_within(Duration::from_secs(2)), "not closed after {}", show(bad));
    }
}

#[test]
fn unbalanced_quotes_inline() {
    let srv = Server::start();
    let mut c = srv.raw();
    c.send(b"set \"a\r\n");
    c.expect(b"-ERR Protocol error: unbalanced quotes in request\r\n");
    assert!(c.closed_within(Duration::from_secs(2)));
}

#[test]
fn too_big_inline_request() {
    let srv = Server::start();
    let mut c = srv.raw();
    c.send(&vec![b'a'; 70 * 1024]);
    c.expect(b"-ERR Protocol error: too big inline request\r\n");
    assert!(c.closed_within(Duration::from_secs(2)));
}

#[test]
fn inline_quoting() {
    let srv = Server::start();
    let mut c = srv.raw();
    c.roundtrip(b"SET k \"a b\"\r\n", b"+OK\r\n");
    c.roundtrip(b"GET k\r\n", b"$3\r\na b\r\n");
    // Double quotes understand escapes; single quotes keep bytes as they are.
    c.roundtrip(b"SET k2 \"\\x41\\x42\\n\"\r\n", b"+OK\r\n");
    c.roundtrip(b"GET k2\r\n", b"$3\r\nAB\n\r\n");
    c.roundtrip(b"SET k3 'c\\nd'\r\n", b"+OK\r\n");
    c.roundtrip(b"GET k3\r\n", b"$4\r\nc\\nd\r\n");
    c.roundtrip(b"  GET   k   \r\n", b"$3\r\na b\r\n");
}

#[test]
fn empty_lines_are_ignored() {
    let srv = Server::start();
    let mut c = srv.raw();
    c.roundtrip(b"\r\n\r\n\n   \r\nPING\r\n", b"+PONG\r\n");
    assert!(c.read_for(Duration::from_millis(50)).is_empty());
}

#[test]
fn resp3_via_hello() {
    let srv = Server::start();
    let mut c = srv.raw();
    c.send(b"HELLO 3\r\n");
    let hello = c.read_reply();
    assert!(hello.starts_with(b"%7\r\n"), "HELLO 3 reply: {}", show(&hello));
    for field in [&b"$6\r\nserver\r\n"[..], b"$5\r\nproto\r\n:3\r\n", b"$4\r\nmode\r\n$10\r\nstandalone\r\n"] {
        assert!(hello.windows(field.len()).any(|w| w == field), "HELLO 3 lacks {}: {}", show(field), show(&hello));
    }
    c.roundtrip(b"GET missing\r\n", b"_\r\n");
    c.roundtrip(b"SET k v\r\n", b"+OK\r\n");
    c.roundtrip(b"GET k\r\n", b"$1\r\nv\r\n");
    // Back to RESP2: HELLO's map becomes a flat array and nulls are $-1.
    c.send(b"HELLO 2\r\n");
    let hello = c.read_reply();
    assert!(hello.starts_with(b"*14\r\n"), "HELLO 2 reply: {}", show(&hello));
    c.roundtrip(b"GET missing\r\n", b"$-1\r\n");
}

#[test]
fn hello_unsupported_version() {
    let srv = Server::start();
    let mut c = srv.raw();
    c.roundtrip(b"HELLO 4\r\n", b"-NOPROTO unsupported protocol version\r\n");
    c.roundtrip(b"HELLO 1\r\n", b"-NOPROTO unsupported protocol version\r\n");
    // Still RESP2 and still open.
    c.roundtrip(b"GET missing\r\n", b"$-1\r\n");
}

#[test]
fn unknown_command_error_text() {
    let srv = Server::start();
    let mut c = srv.raw();
    c.roundtrip(&resp(&[b"foo", b"a", b"b"]), b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    c.roundtrip(b"foo\r\n", b"-ERR unknown command 'foo', with args beginning with: \r\n");
    // The connection stays usable after a command error.
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn wrong_arity_error_text() {
    let srv = Server::start();
    let mut c = srv.raw();
    c.roundtrip(b"GET\r\n", b"-ERR wrong number of arguments for 'get' command\r\n");
    c.roundtrip(b"gEt a b\r\n", b"-ERR wrong number of arguments for 'get' command\r\n");
    c.roundtrip(b"SET k\r\n", b"-ERR wrong number of arguments for 'set' command\r\n");
    c.roundtrip(b"CLIENT SETNAME\r\n", b"-ERR wrong number of arguments for 'client|setname' command\r\n");
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn client_dropping_mid_command_does_not_disturb_others() {
    let srv = Server::start();
    let mut other = srv.raw();
    other.roundtrip(b"SET stable 1\r\n", b"+OK\r\n");
    {
        let mut half = srv.raw();
        let set = resp(&[b"SET", b"x", b"hello"]);
        half.send(&set[..set.len() - 4]);
        sleep(Duration::from_millis(20));
        // Dropped here: the server sees EOF in the middle of a bulk.
    }
    {
        let mut half = srv.raw();
        half.send(b"*2\r\n$3\r\nGET");
        half.shutdown_write();
        assert!(half.closed_within(Duration::from_secs(2)), "server must close a half-closed partial client");
    }
    other.roundtrip(b"GET x\r\n", b"$-1\r\n");
    other.roundtrip(b"GET stable\r\n", b"$1\r\n1\r\n");
    let mut fresh = srv.raw();
    fresh.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn thousands_of_idle_connections() {
    let srv = Server::start();
    // Both ends live on this machine; the test and the server share the limit.
    let limit = support::open_files_limit();
    let n = 2000.min(limit.saturating_sub(200) / 2).max(10);
    let started = Instant::now();
    let mut idle: Vec<Raw> = Vec::with_capacity(n);
    for _ in 0..n {
        idle.push(srv.raw());
    }
    let mut c = srv.raw();
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
    c.roundtrip(b"SET k v\r\n", b"+OK\r\n");
    // The server really accepted them all (plus us).
    let mut seen = 0;
    let ok = support::wait_for(Duration::from_secs(5), || {
        c.send(b"INFO clients\r\n");
        let info = c.read_reply();
        let text = String::from_utf8_lossy(&info).into_owned();
        seen = text
            .lines()
            .find_map(|l| l.strip_prefix("connected_clients:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        seen > n
    });
    assert!(ok, "connected_clients {seen}, opened {n}");
    // The oldest and newest idle connections still work.
    idle[0].roundtrip(b"GET k\r\n", b"$1\r\nv\r\n");
    idle[n - 1].roundtrip(b"GET k\r\n", b"$1\r\nv\r\n");
    drop(idle);
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
    assert!(started.elapsed() < Duration::from_secs(20), "too slow: {:?}", started.elapsed());
}

#[test]
fn unauthenticated_size_caps() {
    let srv = Server::start_with(&["--requirepass", "secret"]);
    let mut c = srv.raw();
    c.send(b"*11\r\n");
    c.expect(b"-ERR Protocol error: unauthenticated multibulk length\r\n");
    assert!(c.closed_within(Duration::from_secs(2)));
    let mut c = srv.raw();
    c.send(b"*1\r\n$16385\r\n");
    c.expect(b"-ERR Protocol error: unauthenticated bulk length\r\n");
    assert!(c.closed_within(Duration::from_secs(2)));
    // Ten arguments and 16 KiB bulks are still fine before AUTH (NOAUTH, not closed).
    let mut c = srv.raw();
    c.send(b"*2\r\n$3\r\nGET\r\n$16384\r\n");
    c.send(&vec![b'x'; 16384]);
    c.send(b"\r\n");
    let reply = c.read_reply();
    assert!(reply.starts_with(b"-NOAUTH"), "{}", show(&reply));
}

#[test]
fn quit_replies_then_closes() {
    let srv = Server::start();
    let mut c = srv.raw();
    c.roundtrip(b"QUIT\r\n", b"+OK\r\n");
    assert!(c.closed_within(Duration::from_secs(2)));
}

#[test]
fn replies_before_a_protocol_error_are_delivered() {
    let srv = Server::start();
    let mut c = srv.raw();
    // Commands ahead of the bad frame run and are answered, then the error,
    // then the close; anything after the bad frame is never run.
    c.send(b"SET a 1\r\nINCR a\r\n*1\r\n+x\r\nSET a 100\r\n");
    c.expect(b"+OK\r\n:2\r\n-ERR Protocol error: expected '$', got '+'\r\n");
    assert!(c.closed_within(Duration::from_secs(2)));
    let mut d = srv.raw();
    d.roundtrip(b"GET a\r\n", b"$1\r\n2\r\n");
}

#[test]
// Fails only when the 3 MiB request happens to arrive in several reads.
fn large_values_round_trip() {
    let srv = Server::start();
    let mut c = srv.raw();
    // 3 MiB of varied bytes, including CR and LF inside the payload.
    let value: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut req = resp(&[b"SET", b"big", &value]);
    req.extend(resp(&[b"GET", b"big"]));
    req.extend(resp(&[b"GET", b"big"]));
    req.extend_from_slice(b"STRLEN big\r\n");
    // Write from another thread: the replies are large too, so one side
    // must read while the other writes.
    let mut writer = c.stream.try_clone().expect("clone");
    let t = std::thread::spawn(move || {
        use std::io::Write;
        writer.write_all(&req).expect("write big request");
    });
    let mut want = b"+OK\r\n".to_vec();
    for _ in 0..2 {
        want.extend(format!("${}\r\n", value.len()).into_bytes());
        want.extend_from_slice(&value);
        want.extend_from_slice(b"\r\n");
    }
    want.extend(format!(":{}\r\n", value.len()).into_bytes());
    let got = c.read_n(want.len(), Duration::from_secs(20));
    t.join().expect("writer");
    assert_eq!(got.len(), want.len(), "reply length; head {}", show(&got[..got.len().min(80)]));
    assert!(got == want, "reply bytes differ");
}

#[test]
fn slow_reader_gets_every_byte() {
    let srv = Server::start();
    let mut c = srv.raw();
    // Small enough to arrive in one read (see large_value_arriving_in_pieces).
    let value = vec![b'v'; 16 * 1024];
    c.send(&resp(&[b"SET", b"big", &value]));
    c.expect(b"+OK\r\n");
    // Ask for 8 MiB of replies and only start reading later: the server
    // must park the rest and resume when the socket drains.
    let mut req = Vec::new();
    for _ in 0..512 {
        req.extend(resp(&[b"GET", b"big"]));
    }
    req.extend_from_slice(b"PING\r\n");
    c.send(&req);
    sleep(Duration::from_millis(100));
    let mut other = srv.raw();
    other.roundtrip(b"PING\r\n", b"+PONG\r\n");
    let one = [format!("${}\r\n", value.len()).into_bytes(), value.clone(), b"\r\n".to_vec()].concat();
    for i in 0..512 {
        let got = c.read_n(one.len(), Duration::from_secs(10));
        assert!(got == one, "GET #{i} reply differs ({} bytes)", got.len());
        if i % 64 == 0 {
            sleep(Duration::from_millis(5));
        }
    }
    c.expect(b"+PONG\r\n");
}

#[test]
fn concurrent_clients_pipelining() {
    let srv = Server::start();
    let port = srv.port();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Raw::connect(port);
                let mut want = Vec::new();
                let mut req = Vec::new();
                for i in 0..500 {
                    req.extend_from_slice(b"INCR shared\r\n");
                    req.extend(resp(&[b"SET", format!("t{t}:{i}").as_bytes(), b"x"]));
                    want.extend_from_slice(b"+OK\r\n");
                }
                c.send(&req);
                // INCR replies interleave with other clients: only check shape.
                let mut incrs = 0;
                for _ in 0..1000 {
                    let r = c.read_reply();
                    if r.starts_with(b":") {
                        incrs += 1;
                    } else {
                        assert_eq!(show(&r), "+OK\\r\\n");
                    }
                }
                assert_eq!(incrs, 500);
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    let mut c = srv.raw();
    c.roundtrip(b"GET shared\r\n", b"$4\r\n4000\r\n");
    c.roundtrip(b"DBSIZE\r\n", b":4001\r\n");
}

#[test]
fn large_value_arriving_in_pieces() {
    // What a real network does to a big SET: the payload arrives over many reads.
    let srv = Server::start();
    let mut c = srv.raw();
    let value = vec![b'z'; 512 * 1024];
    let req = resp(&[b"SET", b"big", &value]);
    for chunk in req.chunks(64 * 1024) {
        c.send(chunk);
        sleep(Duration::from_millis(2));
    }
    c.expect(b"+OK\r\n");
    c.roundtrip(b"STRLEN big\r\n", b":524288\r\n");
}
