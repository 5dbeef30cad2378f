//! Atomic slot migration (Redis 8.4's CLUSTER MIGRATION) between two real
//! viator-server cluster nodes: half of the slots move under write load,
//! the writer never sees ASK (only MOVED once ownership flipped), every
//! acknowledged write and every key (values, TTLs) arrives, the source
//! keeps no key of the moved slots, STATUS reports the task on both sides,
//! CANCEL stops an import and leaves the data where it was, and the
//! command's error texts are Redis's.
//!
//! Nodes use ports 26100-26200 (bus ports 36100-36200).

mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::cluster::{Node, PortRange};
use support::wait_for;
use viator::cluster::key_hash_slot;

static PORTS: PortRange = PortRange { next: AtomicU16::new(26100), end: 26200 };

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_viator-server"))
}

fn connect(port: u16) -> redis::Connection {
    let url = format!("redis://127.0.0.1:{port}/");
    redis::Client::open(url).expect("url").get_connection_with_timeout(Duration::from_secs(5)).expect("connect")
}

/// Two nodes that know each other; `a` owns every slot, the cluster is ok.
fn pair(extra: &[&str]) -> (Node, Node) {
    let a = Node::start(&bin(), &PORTS, extra);
    let b = Node::start(&bin(), &PORTS, extra);
    assert_eq!(a.q(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]), "OK");
    assert_eq!(b.q(&["CLUSTER", "MEET", "127.0.0.1", &a.port.to_string()]), "OK");
    let both_know = || {
        [&a, &b]
            .iter()
            .all(|n| n.try_q(&["CLUSTER", "NODES"]).is_ok_and(|t| t.lines().count() == 2 && !t.contains("handshake")))
    };
    assert!(wait_for(Duration::from_secs(20), both_know), "nodes never met:\n{}\n{}", a.log(), b.log());
    assert!(wait_for(Duration::from_secs(20), || a.state_ok() && b.state_ok()), "cluster never ok:\n{}", b.log());
    (a, b)
}

/// CLUSTER MIGRATION STATUS ID `id` on `node`, as field -> text.
/// Empty when the node cannot be asked right now.
fn status(node: &Node, id: &str) -> HashMap<String, String> {
    let url = format!("redis://127.0.0.1:{}/", node.port);
    let Ok(mut con) = redis::Client::open(url).and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
    else {
        return HashMap::new();
    };
    let v: redis::Value =
        redis::cmd("CLUSTER").arg(&["MIGRATION", "STATUS", "ID", id]).query(&mut con).expect("STATUS");
    let redis::Value::Array(tasks) = v else { panic!("STATUS is not an array: {v:?}") };
    let Some(redis::Value::Array(flat)) = tasks.into_iter().next() else { return HashMap::new() };
    flat.chunks(2)
        .map(|kv| {
            let k: String = redis::from_redis_value(&kv[0]).expect("field name");
            let v = match &kv[1] {
                redis::Value::Int(n) => n.to_string(),
                other => redis::from_redis_value(other).expect("field value"),
            };
            (k, v)
        })
        .collect()
}

fn wait_state(node: &Node, id: &str, state: &str) -> HashMap<String, String> {
    let mut last = HashMap::new();
    let reached = wait_for(Duration::from_secs(60), || {
        std::thread::sleep(Duration::from_millis(50));
        last = status(node, id);
        last.get("state").is_some_and(|s| s == state)
    });
    assert!(reached, "task {id} never reached {state} on {}: {last:?}\n{}", node.port, node.log());
    last
}

/// Keys named so that they fall in slots below 8192 (moved) or above.
fn key_in(low: bool, i: usize) -> String {
    (0..)
        .map(|n| format!("k:{i}:{n}"))
        .find(|k| (key_hash_slot(k.as_bytes()) < 8192) == low)
        .expect("some name hashes there")
}

/// `len` pseudo-random letters seeded by `seed`.
fn noise(seed: usize, len: usize) -> String {
    let mut x = (seed as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (b'a' + (x % 26) as u8) as char
        })
        .collect()
}

#[test]
fn import_moves_slots_under_writes_without_losing_any() {
    let (a, b) = pair(&["--enable-debug-command", "yes"]);
    let mut ca = connect(a.port);
    // Every type, some with TTLs, on both sides of the split.
    let mut moved = Vec::new();
    let mut kept = Vec::new();
    for i in 0..1500 {
        let (k, low) = (key_in(i % 2 == 0, i), i % 2 == 0);
        match i % 5 {
            // Big, barely compressible strings: the snapshot of the moved
            // slots (about 10 MB) takes many rounds, so the writer below
            // hits slots already sent and the stream must carry its INCRs.
            0 => redis::cmd("SET").arg(&k).arg(noise(i, 64 * 1024)).query::<()>(&mut ca),
            1 => redis::cmd("RPUSH").arg(&k).arg(&["a", "b", "c"]).query::<()>(&mut ca),
            2 => redis::cmd("HSET").arg(&k).arg(&["f", "1", "g", "2"]).query::<()>(&mut ca),
            3 => redis::cmd("ZADD").arg(&k).arg(&["1", "x", "2", "y"]).query::<()>(&mut ca),
            _ => redis::cmd("SADD").arg(&k).arg(&["p", "q"]).query::<()>(&mut ca),
        }
        .expect("fill");
        if i % 7 == 0 {
            redis::cmd("EXPIRE").arg(&k).arg(3600).query::<()>(&mut ca).expect("expire");
        }
        if low {
            moved.push(k);
        } else {
            kept.push(k);
        }
    }
    // DEBUG DIGEST-VALUE: the value's content, whatever the order a set or
    // hash iterates in.
    let digest = |con: &mut redis::Connection, k: &str| -> String {
        let v: Vec<String> = redis::cmd("DEBUG").arg("DIGEST-VALUE").arg(k).query(con).expect("digest");
        v.concat()
    };
    let digests: HashMap<String, String> = moved.iter().map(|k| (k.clone(), digest(&mut ca, k))).collect();

    // A writer INCRs counters in the moved slots until told to stop, going
    // where MOVED sends it; any other error (ASK above all) fails the test.
    let counters: Vec<String> = (0..40).map(|i| key_in(true, 100_000 + i)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (counters, stop, mut port) = (counters.clone(), stop.clone(), a.port);
        std::thread::spawn(move || -> Result<(HashMap<String, i64>, usize), String> {
            let mut con = connect(port);
            let mut acked: HashMap<String, i64> = HashMap::new();
            let mut moved_seen = 0;
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let k = &counters[i % counters.len()];
                match redis::cmd("INCR").arg(k).query::<i64>(&mut con) {
                    Ok(n) => {
                        let prev = acked.insert(k.clone(), n).unwrap_or(0);
                        if n != prev + 1 {
                            return Err(format!("{k}: INCR gave {n} after {prev}"));
                        }
                        i += 1;
                    }
                    Err(e) if e.kind() == redis::ErrorKind::Moved => {
                        let (addr, _) = e.redirect_node().ok_or("MOVED without an address")?;
                        port = addr.rsplit(':').next().and_then(|p| p.parse().ok()).ok_or("bad MOVED address")?;
                        con = connect(port);
                        moved_seen += 1;
                    }
                    Err(e) => return Err(format!("{k}: {e}")),
                }
            }
            Ok((acked, moved_seen))
        })
    };
    std::thread::sleep(Duration::from_millis(300));

    let id = b.q(&["CLUSTER", "MIGRATION", "IMPORT", "0", "8191"]);
    assert_eq!(id.len(), 40, "IMPORT replies with the task id: {id}");
    assert!(id.bytes().all(|c| c.is_ascii_hexdigit()), "{id}");
    let done = wait_state(&b, &id, "completed");
    assert_eq!(done["operation"], "import");
    assert_eq!(done["slots"], "0-8191");
    assert_eq!(done["source"], a.id());
    assert_eq!(done["dest"], b.id());
    assert_eq!(done["last_error"], "");
    let src = wait_state(&a, &id, "completed");
    assert_eq!(src["operation"], "migrate");
    assert!(src["write_pause_ms"].parse::<i64>().expect("pause ms") >= 0);

    // Writes keep going against the new owner for a while.
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    let (acked, moved_seen) = writer.join().expect("writer thread").unwrap_or_else(|e| panic!("writer: {e}"));
    assert!(moved_seen >= 1, "the writer was never redirected");

    // Every node agrees on the new owner.
    let owner_is_b = |n: &Node| {
        n.try_q(&["CLUSTER", "NODES"])
            .is_ok_and(|t| t.lines().any(|l| l.starts_with(&b.id()) && l.ends_with(" 0-8191")))
    };
    assert!(wait_for(Duration::from_secs(10), || owner_is_b(&a) && owner_is_b(&b)), "{}", a.q(&["CLUSTER", "NODES"]));

    let mut cb = connect(b.port);
    for (k, d) in &digests {
        assert_eq!(&digest(&mut cb, k), d, "{k} differs after the move");
        let ttl_a_had = k.split(':').nth(1).and_then(|i| i.parse::<usize>().ok()).is_some_and(|i| i % 7 == 0);
        let ttl: i64 = redis::cmd("TTL").arg(k).query(&mut cb).expect("ttl");
        assert_eq!(ttl > 0, ttl_a_had, "{k}: TTL {ttl}");
    }
    for (k, n) in &acked {
        let v: i64 = redis::cmd("GET").arg(k).query(&mut cb).expect("counter");
        assert_eq!(v, *n, "{k}: acknowledged {n}, found {v}");
    }
    // The source kept nothing of the moved slots, and everything else.
    assert!(wait_for(Duration::from_secs(10), || { a.q(&["DBSIZE"]).parse::<usize>().expect("dbsize") == kept.len() }));
    let err = redis::cmd("GET").arg(&moved[0]).query::<Option<String>>(&mut ca).expect_err("MOVED");
    assert_eq!(err.kind(), redis::ErrorKind::Moved, "{err}");
    assert!(b.log().contains(&format!("Import task {id} completed")), "{}", b.log());
}

#[test]
fn cancel_stops_an_import_and_errors_are_redis_texts() {
    let (a, b) = pair(&[]);
    let mut ca = connect(a.port);
    for i in 0..200 {
        redis::cmd("SET").arg(key_in(true, i)).arg(i).query::<()>(&mut ca).expect("set");
    }
    let mut cb = connect(b.port);
    let err = |con: &mut redis::Connection, args: &[&str]| -> String {
        let e = redis::cmd("CLUSTER").arg(args).query::<redis::Value>(con).expect_err("an error");
        e.to_string()
    };
    assert!(
        err(&mut ca, &["MIGRATION", "IMPORT", "0", "10"]).contains("this node is already the owner of the slot range")
    );
    assert!(err(&mut cb, &["MIGRATION", "IMPORT", "10", "5"])
        .contains("start slot number 10 is greater than end slot number 5"));
    assert!(err(&mut cb, &["MIGRATION", "IMPORT", "0", "16384"]).contains("Invalid or out of range slot"));
    assert!(err(&mut cb, &["MIGRATION", "FROB", "x"]).contains("unknown argument"));
    assert!(err(&mut cb, &["MIGRATION", "IMPORT", "0-10", "NODES", &"f".repeat(40)]).contains("Unknown node"));
    let none: redis::Value =
        redis::cmd("CLUSTER").arg(&["MIGRATION", "STATUS", "ID", "nope"]).query(&mut cb).expect("status");
    assert_eq!(none, redis::Value::Array(vec![]));

    // The guide's form. A wrong `masterauth` makes every attempt fail at
    // AUTH, so the task stays in its retry loop until cancelled.
    assert_eq!(b.q(&["CONFIG", "SET", "masterauth", "wrong"]), "OK");
    let id = b.q(&["CLUSTER", "MIGRATION", "IMPORT", "0-8191", "NODES", &a.id()]);
    let retried = wait_for(Duration::from_secs(20), || {
        let st = status(&b, &id);
        st.get("retries").is_some_and(|r| r != "0") && st["last_error"].contains("Error reply to AUTH from the source")
    });
    assert!(retried, "{:?}\n{}", status(&b, &id), b.log());
    assert_eq!(b.q(&["CLUSTER", "MIGRATION", "CANCEL", "ID", &id]), "1");
    assert_eq!(b.q(&["CLUSTER", "MIGRATION", "CANCEL", "ALL"]), "0");
    let st = status(&b, &id);
    assert_eq!(st["state"], "canceled");
    assert!(st["last_error"].contains("Cancelled due to user request"), "{st:?}");
    // The source still owns and serves everything.
    assert_eq!(b.q(&["DBSIZE"]), "0");
    assert_eq!(a.q(&["DBSIZE"]), "200");
    assert_eq!(a.q(&["GET", &key_in(true, 7)]), "7");

    // ABORT (the guide's form) answers how many it stopped.
    assert_eq!(b.q(&["CLUSTER", "MIGRATION", "ABORT"]), "0");
    let all = b.q(&["CLUSTER", "MIGRATION", "STATUS"]);
    assert!(all.contains(&id), "bare STATUS lists every task: {all}");
}

#[test]
fn replicas_of_both_sides_follow_the_move() {
    let (a, b) = pair(&[]);
    let ra = Node::start(&bin(), &PORTS, &[]);
    let rb = Node::start(&bin(), &PORTS, &[]);
    for (r, master) in [(&ra, &a), (&rb, &b)] {
        assert_eq!(r.q(&["CLUSTER", "MEET", "127.0.0.1", &a.port.to_string()]), "OK");
        let mid = master.id();
        assert!(wait_for(Duration::from_secs(20), || r.try_q(&["CLUSTER", "REPLICATE", &mid]).is_ok()), "{}", r.log());
        let synced = || r.try_q(&["INFO", "replication"]).is_ok_and(|i| i.contains("master_link_status:up"));
        assert!(wait_for(Duration::from_secs(20), synced), "{}", r.log());
    }
    let mut ca = connect(a.port);
    let (mut low, mut high) = (0, 0);
    for i in 0..600 {
        let k = key_in(i % 3 == 0, i);
        redis::cmd("SET").arg(&k).arg(i).query::<()>(&mut ca).expect("set");
        if i % 3 == 0 {
            low += 1;
        } else {
            high += 1;
        }
    }
    let id = b.q(&["CLUSTER", "MIGRATION", "IMPORT", "0", "8191"]);
    wait_state(&b, &id, "completed");
    let size = |n: &Node| n.try_q(&["DBSIZE"]).ok().and_then(|s| s.parse::<usize>().ok()).unwrap_or(usize::MAX);
    // The importer's replica got the keys through its master's stream; the
    // source's replica dropped them with its master.
    assert!(wait_for(Duration::from_secs(10), || size(&b) == low && size(&rb) == low), "{} {}", size(&b), size(&rb));
    assert!(wait_for(Duration::from_secs(10), || size(&a) == high && size(&ra) == high), "{} {}", size(&a), size(&ra));
    let mut crb = connect(rb.port);
    redis::cmd("READONLY").query::<()>(&mut crb).expect("readonly");
    let k = key_in(true, 3);
    let v: String = redis::cmd("GET").arg(&k).query(&mut crb).expect("replica read");
    assert_eq!(v, "3");
}
