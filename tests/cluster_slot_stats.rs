//! CLUSTER SLOT-STATS (Redis 8.2) against a real cluster-enabled
//! viator-server owning every slot: key-count per slot, SLOTSRANGE and
//! ORDERBY/LIMIT/ASC/DESC ordering, Redis's error texts, and with
//! `cluster-slot-stats-enabled yes` the cpu-usec / network-bytes-in /
//! network-bytes-out counters of the slot written (byte figures are the
//! ones Redis's own slot-stats tests use), while every other slot stays 0.
//!
//! Nodes use ports 23000-23099 (bus ports 33000-33099).

mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU16;
use std::time::Duration;

use support::cluster::{Node, PortRange};
use support::{wait_for, Raw};
use viator::cluster::key_hash_slot;

static PORTS: PortRange = PortRange { next: AtomicU16::new(23000), end: 23100 };

/// One entry of the reply: the slot and its statistics by name.
type Entry = (i64, HashMap<String, i64>);

/// A single node owning all 16384 slots, with cluster_state:ok.
fn full_node() -> Node {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_viator-server"));
    let node = Node::start(&bin, &PORTS, &[]);
    assert_eq!(node.q(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]), "OK");
    assert!(wait_for(Duration::from_secs(10), || node.state_ok()), "cluster never became ok:\n{}", node.log());
    node
}

fn connect(node: &Node) -> redis::Connection {
    let con = redis::Client::open(node.url()).expect("url").get_connection_with_timeout(Duration::from_secs(5));
    con.expect("connect")
}

fn slot_of(key: &str) -> i64 {
    key_hash_slot(key.as_bytes()) as i64
}

/// CLUSTER SLOT-STATS `args`, decoded (RESP2: the map is a flat array).
fn stats(con: &mut redis::Connection, args: &[&str]) -> Vec<Entry> {
    let v: redis::Value = redis::cmd("CLUSTER").arg("SLOT-STATS").arg(args).query(con).expect("SLOT-STATS");
    let redis::Value::Array(items) = v else { panic!("not an array: {v:?}") };
    items
        .into_iter()
        .map(|item| {
            let redis::Value::Array(pair) = item else { panic!("entry is not an array: {item:?}") };
            assert_eq!(pair.len(), 2, "entry is [slot, stats]");
            let redis::Value::Int(slot) = pair[0] else { panic!("slot is not an integer: {:?}", pair[0]) };
            let redis::Value::Array(flat) = &pair[1] else { panic!("stats are not a flat array: {:?}", pair[1]) };
            let mut m = HashMap::new();
            for kv in flat.chunks(2) {
                let name: String = redis::from_redis_value(&kv[0]).expect("metric name");
                let redis::Value::Int(n) = kv[1] else { panic!("metric is not an integer: {:?}", kv[1]) };
                m.insert(name, n);
            }
            (slot, m)
        })
        .collect()
}

fn slots(entries: &[Entry]) -> Vec<i64> {
    entries.iter().map(|(s, _)| *s).collect()
}

fn error_of(con: &mut redis::Connection, args: &[&str]) -> String {
    let r: redis::RedisResult<redis::Value> = redis::cmd("CLUSTER").arg("SLOT-STATS").arg(args).query(con);
    let e = r.expect_err("an error reply");
    // The crate splits "ERR text" into a kind and a detail.
    format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""))
}

/// The statistics of one slot (SLOTSRANGE s s).
fn one(con: &mut redis::Connection, slot: i64) -> HashMap<String, i64> {
    let s = slot.to_string();
    let mut v = stats(con, &["SLOTSRANGE", &s, &s]);
    assert_eq!(v.len(), 1, "slot {slot} is ours");
    v.remove(0).1
}

#[test]
fn key_count_ranges_ordering_and_errors() {
    let node = full_node();
    let mut con = connect(&node);
    let enabled: Vec<String> =
        redis::cmd("CONFIG").arg("GET").arg("cluster-slot-stats-enabled").query(&mut con).unwrap();
    assert_eq!(enabled, ["cluster-slot-stats-enabled", "no"]);

    // 3 keys in {a}'s slot, 2 in {b}'s, 1 in {c}'s.
    for k in ["{a}1", "{a}2", "{a}3", "{b}1", "{b}2", "{c}1"] {
        let _: () = redis::cmd("SET").arg(k).arg("v").query(&mut con).unwrap();
    }
    let (sa, sb, sc) = (slot_of("a"), slot_of("b"), slot_of("c"));

    // Statistics off: only key-count is reported.
    let a = one(&mut con, sa);
    assert_eq!(a, HashMap::from([("key-count".to_string(), 3)]));
    assert_eq!(one(&mut con, sb)["key-count"], 2);
    assert_eq!(one(&mut con, sc)["key-count"], 1);

    // SLOTSRANGE: every owned slot of the range, ascending.
    let all = stats(&mut con, &["SLOTSRANGE", "0", "16383"]);
    assert_eq!(slots(&all), (0..16384).collect::<Vec<i64>>());
    let total: i64 = all.iter().map(|(_, m)| m["key-count"]).sum();
    assert_eq!(total, 6);
    assert_eq!(slots(&stats(&mut con, &["SLOTSRANGE", "100", "102"])), [100, 101, 102]);

    // ORDERBY: DESC by default, ties by ascending slot, LIMIT caps.
    assert_eq!(slots(&stats(&mut con, &["ORDERBY", "key-count", "LIMIT", "3"])), [sa, sb, sc]);
    let mut desc_zero = vec![sa, sb, sc];
    desc_zero.extend((0..16384).filter(|s| ![sa, sb, sc].contains(s)).take(2));
    assert_eq!(slots(&stats(&mut con, &["ORDERBY", "KEY-COUNT", "LIMIT", "5", "DESC"])), desc_zero);
    assert_eq!(slots(&stats(&mut con, &["ORDERBY", "key-count", "ASC", "LIMIT", "2"])), [0, 1]);
    let asc = stats(&mut con, &["ORDERBY", "key-count", "ASC"]);
    assert_eq!(asc.len(), 16384, "no LIMIT: every owned slot");
    assert_eq!(slots(&asc[16381..]), [sc, sb, sa]);

    // Only owned slots are reported.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("cluster-require-full-coverage").arg("no").query(&mut con).unwrap();
    let _: () = redis::cmd("CLUSTER").arg("DELSLOTS").arg(101).arg(sc).query(&mut con).unwrap();
    assert_eq!(slots(&stats(&mut con, &["SLOTSRANGE", "100", "102"])), [100, 102]);
    assert!(stats(&mut con, &["SLOTSRANGE", "101", "101"]).is_empty());
    assert_eq!(stats(&mut con, &["SLOTSRANGE", "0", "16383"]).len(), 16382);
    assert_eq!(slots(&stats(&mut con, &["ORDERBY", "key-count", "LIMIT", "3"])), [sa, sb, 0]);
    let _: () = redis::cmd("CLUSTER").arg("ADDSLOTS").arg(101).arg(sc).query(&mut con).unwrap();
    assert_eq!(slots(&stats(&mut con, &["SLOTSRANGE", "100", "102"])), [100, 101, 102]);

    // Errors, as Redis words them.
    let e = |con: &mut redis::Connection, args: &[&str]| error_of(con, args);
    assert_eq!(e(&mut con, &["SLOTSRANGE", "0", "16384"]), "ERR Invalid or out of range slot");
    assert_eq!(e(&mut con, &["SLOTSRANGE", "-1", "3"]), "ERR Invalid or out of range slot");
    assert_eq!(e(&mut con, &["SLOTSRANGE", "9", "3"]), "ERR Start slot number 9 is greater than end slot number 3");
    assert_eq!(e(&mut con, &["ORDERBY", "nope"]), "ERR Unrecognized sort metric for ORDERBY.");
    for m in ["cpu-usec", "network-bytes-in", "network-bytes-out"] {
        assert_eq!(e(&mut con, &["ORDERBY", m]), "ERR Unrecognized sort metric for ORDERBY.", "{m} while disabled");
    }
    let limit = "ERR Limit has to lie in between 1 and 16384 (maximum number of slots).";
    assert_eq!(e(&mut con, &["ORDERBY", "key-count", "DESC", "LIMIT", "-1"]), limit);
    assert_eq!(e(&mut con, &["ORDERBY", "key-count", "LIMIT", "16385"]), limit);
    assert_eq!(e(&mut con, &["ORDERBY", "key-count", "LIMIT", "x"]), limit);
    assert_eq!(e(&mut con, &["ORDERBY", "key-count", "non-existent-arg"]), "ERR syntax error");
    assert_eq!(
        e(&mut con, &["ORDERBY", "key-count", "ASC", "DESC"]),
        "ERR Multiple filters of the same type are disallowed."
    );
    assert_eq!(
        e(&mut con, &["SLOTSRANGE", "0"]),
        "ERR unknown subcommand or wrong number of arguments for 'SLOT-STATS'. Try CLUSTER HELP."
    );
    assert_eq!(e(&mut con, &["ORDERBY"]), "ERR wrong number of arguments for 'cluster|slot-stats' command");

    // COMMAND INFO lists the subcommand with its arity and flags.
    let mut raw = Raw::connect(node.port);
    raw.send(b"COMMAND INFO cluster|slot-stats\r\n");
    let info = support::show(&raw.read_reply());
    assert!(info.contains("$18\\r\\ncluster|slot-stats\\r\\n:-4\\r\\n*2\\r\\n+loading\\r\\n+stale\\r\\n"), "{info}");
    assert!(node.q(&["CLUSTER", "HELP"]).contains("SLOT-STATS"));
}

#[test]
fn resp3_stats_are_a_map() {
    let node = full_node();
    let mut raw = Raw::connect(node.port);
    raw.send(b"HELLO 3\r\n");
    raw.read_reply();
    raw.roundtrip(b"SET {x}1 v\r\n", b"+OK\r\n");
    let s = slot_of("x");
    raw.send(format!("CLUSTER SLOT-STATS SLOTSRANGE {s} {s}\r\n").as_bytes());
    let want = format!("*1\r\n*2\r\n:{s}\r\n%1\r\n$9\r\nkey-count\r\n:1\r\n");
    raw.expect(want.as_bytes());
}

#[test]
fn cluster_mode_off_is_refused() {
    let srv = support::Server::start();
    let mut con = srv.client();
    let r: redis::RedisResult<redis::Value> =
        redis::cmd("CLUSTER").arg("SLOT-STATS").arg("SLOTSRANGE").arg(0).arg(1).query(&mut con);
    let e = r.expect_err("refused");
    assert_eq!(e.detail(), Some("This instance has cluster support disabled"));
}

#[test]
fn enabled_counters_follow_the_slot_written() {
    let node = full_node();
    let mut con = connect(&node);
    let _: () = redis::cmd("CONFIG").arg("SET").arg("cluster-slot-stats-enabled").arg("yes").query(&mut con).unwrap();
    let reset = |con: &mut redis::Connection| {
        let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(con).unwrap();
    };
    reset(&mut con);
    let (sk, sf) = (slot_of("key"), slot_of("foo"));

    // *3 $3 SET $3 key $5 value: 33 bytes in; +OK: 5 bytes out.
    let _: () = redis::cmd("SET").arg("key").arg("value").query(&mut con).unwrap();
    let k = one(&mut con, sk);
    assert_eq!((k["key-count"], k["network-bytes-in"], k["network-bytes-out"]), (1, 33, 5), "{k:?}");
    // Everything else is untouched (keyless commands such as CONFIG and
    // CLUSTER are charged nowhere).
    let all = stats(&mut con, &["SLOTSRANGE", "0", "16383"]);
    assert_eq!(all.len(), 16384);
    for (s, m) in &all {
        assert_eq!(m.len(), 4, "every metric is reported: {m:?}");
        if *s != sk {
            assert!(m.values().all(|&v| v == 0), "slot {s}: {m:?}");
        }
    }

    // Time grows with work done in the slot.
    for i in 0..300 {
        let _: () = redis::cmd("SET").arg("key").arg(i).query(&mut con).unwrap();
    }
    let k = one(&mut con, sk);
    assert!(k["cpu-usec"] > 0, "{k:?}");
    assert!(k["network-bytes-in"] > 33 && k["network-bytes-out"] > 5, "{k:?}");
    assert_eq!(one(&mut con, sf).values().sum::<i64>(), 0);
    let top = stats(&mut con, &["ORDERBY", "cpu-usec", "LIMIT", "1"]);
    assert_eq!(slots(&top), [sk]);
    assert_eq!(slots(&stats(&mut con, &["ORDERBY", "network-bytes-in", "LIMIT", "1"])), [sk]);
    assert_eq!(slots(&stats(&mut con, &["ORDERBY", "network-bytes-out", "ASC", "LIMIT", "1"])), [0]);

    // CONFIG RESETSTAT clears the counters, not the keys.
    reset(&mut con);
    let k = one(&mut con, sk);
    assert_eq!((k["key-count"], k["cpu-usec"], k["network-bytes-in"], k["network-bytes-out"]), (1, 0, 0, 0));

    // A transaction: MULTI (15) + SET (33) + EXEC (14) bytes in.
    let mut raw = Raw::connect(node.port);
    raw.roundtrip(b"*1\r\n$5\r\nMULTI\r\n", b"+OK\r\n");
    raw.roundtrip(b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", b"+QUEUED\r\n");
    raw.roundtrip(b"*1\r\n$4\r\nEXEC\r\n", b"*1\r\n+OK\r\n");
    assert_eq!(one(&mut con, sk)["network-bytes-in"], 62);
    reset(&mut con);

    // Inline commands count their line: "SET key value\r\n" is 15 bytes.
    raw.roundtrip(b"SET key value\r\n", b"+OK\r\n");
    assert_eq!(one(&mut con, sk)["network-bytes-in"], 15);
    let _: () = redis::cmd("DEL").arg("key").query(&mut con).unwrap();
    reset(&mut con);

    // A blocked command is charged when served: BLPOP (31 in, 24 out)
    // plus the LPUSH that serves it (35 in, 4 out).
    raw.send(b"*3\r\n$5\r\nBLPOP\r\n$3\r\nkey\r\n$1\r\n0\r\n");
    assert!(wait_for(Duration::from_secs(5), || node.q(&["INFO", "clients"]).contains("blocked_clients:1")));
    assert_eq!(one(&mut con, sk)["network-bytes-in"], 0, "nothing while blocked");
    let _: () = redis::cmd("LPUSH").arg("key").arg("value").query(&mut con).unwrap();
    raw.expect(b"*2\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
    let k = one(&mut con, sk);
    assert_eq!((k["network-bytes-in"], k["network-bytes-out"]), (66, 28), "{k:?}");
    reset(&mut con);

    // Sharded pub/sub: the subscriber's confirmation (38) and, for SPUBLISH,
    // the publisher's reply (4) plus the smessage sent (42) go to the
    // channel's slot.
    let sch = slot_of("channel");
    let mut sub = Raw::connect(node.port);
    sub.roundtrip(
        b"*2\r\n$10\r\nSSUBSCRIBE\r\n$7\r\nchannel\r\n",
        b"*3\r\n$10\r\nssubscribe\r\n$7\r\nchannel\r\n:1\r\n",
    );
    assert_eq!(one(&mut con, sch)["network-bytes-out"], 38);
    reset(&mut con);
    let n: i64 = redis::cmd("SPUBLISH").arg("channel").arg("hello").query(&mut con).unwrap();
    assert_eq!(n, 1);
    sub.expect(b"*3\r\n$8\r\nsmessage\r\n$7\r\nchannel\r\n$5\r\nhello\r\n");
    let c = one(&mut con, sch);
    assert_eq!((c["network-bytes-in"], c["network-bytes-out"]), (42, 46), "{c:?}");

    // Losing a slot resets its counters; so does gaining it again.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("cluster-require-full-coverage").arg("no").query(&mut con).unwrap();
    let _: () = redis::cmd("CLUSTER").arg("DELSLOTS").arg(sch).query(&mut con).unwrap();
    let _: () = redis::cmd("CLUSTER").arg("ADDSLOTS").arg(sch).query(&mut con).unwrap();
    let c = one(&mut con, sch);
    assert_eq!((c["cpu-usec"], c["network-bytes-in"], c["network-bytes-out"]), (0, 0, 0), "{c:?}");

    // Turned off again: the extra metrics disappear from replies.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("cluster-slot-stats-enabled").arg("no").query(&mut con).unwrap();
    assert_eq!(one(&mut con, sk).len(), 1);
}
