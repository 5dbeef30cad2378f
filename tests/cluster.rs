//! Redis Cluster end to end, with tools nobody here wrote: Debian's
//! `redis-cli --cluster create` / `reshard` build and reshape clusters of
//! `viator-server` nodes, a kill -9 of a master must promote its replica and
//! the old master must come back as a replica, and a cluster mixing Debian
//! `redis-server` and Viator nodes must agree, route and fail over both ways;
//! Debian's redis-py RedisCluster client must route and follow MOVED.
//!
//! Nodes use ports 24000-24999 (bus ports 34000-34999). Waits are bounded
//! polls of the cluster's own state, never fixed sleeps; timing figures
//! belong to benches/compare.sh.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::cluster::{Node, PortRange};
use support::wait_for;
use viator::cluster::key_hash_slot;

/// Ports for this test binary: 24000-24999 (bus ports 34000-34999).
static PORTS: PortRange = PortRange { next: AtomicU16::new(24000), end: 25000 };

const REDIS_SERVER: &str = "/usr/bin/redis-server";
const REDIS_CLI: &str = "/usr/bin/redis-cli";
/// Time allowed for gossip to converge or a failover to complete.
const SETTLE: Duration = Duration::from_secs(30);

/// A node with a short node timeout (failovers in seconds), an AOF, and
/// diskless full syncs without delay.
fn node(bin: &Path) -> Node {
    let extra = ["--cluster-node-timeout", "2000", "--appendonly", "yes", "--repl-diskless-sync-delay", "0"];
    Node::start(bin, &PORTS, &extra)
}

fn viator_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_viator-server"))
}

/// Runs Debian's redis-cli; returns (success, stdout+stderr).
fn redis_cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(REDIS_CLI).args(args).env("TERM", "dumb").stdin(Stdio::null()).output().expect("redis-cli");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A minimal cluster client: slot map from CLUSTER SLOTS, MOVED / ASK /
/// TRYAGAIN followed as a cluster client must.
struct ClusterClient {
    seeds: Vec<u16>,
    slots: Vec<u16>,
}

impl ClusterClient {
    fn new(seeds: Vec<u16>) -> ClusterClient {
        let mut c = ClusterClient { seeds, slots: vec![0; 16384] };
        c.refresh();
        c
    }

    fn refresh(&mut self) {
        for &p in &self.seeds {
            let Ok(mut con) = redis::Client::open(format!("redis://127.0.0.1:{p}/")).and_then(|c| c.get_connection())
            else {
                continue;
            };
            let Ok(ranges) = redis::cmd("CLUSTER").arg("SLOTS").query::<Vec<redis::Value>>(&mut con) else { continue };
            for r in ranges {
                let redis::Value::Array(r) = r else { continue };
                let (Ok(a), Ok(b)) = (redis::from_redis_value::<u16>(&r[0]), redis::from_redis_value::<u16>(&r[1]))
                else {
                    continue;
                };
                let redis::Value::Array(node) = &r[2] else { continue };
                let Ok(port) = redis::from_redis_value::<u16>(&node[1]) else { continue };
                for s in a..=b {
                    self.slots[s as usize] = port;
                }
            }
            return;
        }
    }

    /// Runs one single-key command, following redirections.
    fn run(&mut self, args: &[&str]) -> redis::RedisResult<redis::Value> {
        let slot = key_hash_slot(args[1].as_bytes()) as usize;
        let mut port = self.slots[slot];
        let mut asking = false;
        let mut last = None;
        for _ in 0..20 {
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
            let mut con = match client.get_connection_with_timeout(Duration::from_secs(1)) {
                Ok(c) => c,
                Err(e) => {
                    last = Some(e);
                    std::thread::sleep(Duration::from_millis(100));
                    self.refresh();
                    port = self.slots[slot];
                    continue;
                }
            };
            if asking {
                redis::cmd("ASKING").query::<()>(&mut con)?;
            }
            let mut cmd = redis::cmd(args[0]);
            for a in &args[1..] {
                cmd.arg(*a);
            }
            match cmd.query::<redis::Value>(&mut con) {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if let Some((addr, _)) = e.redirect_node() {
                        port = addr.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(port);
                        asking = e.kind() == redis::ErrorKind::Ask;
                        if !asking {
                            self.slots[slot] = port;
                        }
                    } else if matches!(e.kind(), redis::ErrorKind::TryAgain | redis::ErrorKind::ClusterDown) {
                        std::thread::sleep(Duration::from_millis(50));
                    } else {
                        return Err(e);
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| (redis::ErrorKind::IoError, "no node answered").into()))
    }

    fn get(&mut self, key: &str) -> Option<String> {
        redis::from_redis_value::<Option<String>>(&self.run(&["GET", key]).expect("GET")).expect("GET value")
    }
}

fn wait_all_ok(nodes: &[&Node]) {
    let ok = wait_for(SETTLE, || nodes.iter().all(|n| n.state_ok()));
    assert!(ok, "cluster_state never became ok on every node: {}", nodes[0].q(&["CLUSTER", "NODES"]));
}

/// The node of `nodes` whose CLUSTER NODES line says it is a master
/// serving `slot`, as seen by `view`.
fn owner_of(view: &Node, nodes: &[Node], slot: u16) -> usize {
    let text = view.q(&["CLUSTER", "NODES"]);
    for line in text.lines() {
        let w: Vec<&str> = line.split(' ').collect();
        if !w[2].contains("master") {
            continue;
        }
        let serves = w[8..].iter().any(|r| match r.split_once('-') {
            Some((a, b)) => a.parse::<u16>().is_ok_and(|a| a <= slot) && b.parse::<u16>().is_ok_and(|b| slot <= b),
            None => r.parse::<u16>() == Ok(slot),
        });
        if serves {
            let port: u16 = w[1].split(':').nth(1).and_then(|p| p.split('@').next()).unwrap().parse().unwrap();
            return nodes.iter().position(|n| n.port == port).expect("owner among nodes");
        }
    }
    panic!("nobody serves slot {slot}: {text}");
}

/// The seed scenario: six nodes, `redis-cli --cluster create` with one
/// replica each, writes, kill -9 of a master, its replica promoted, the
/// old master back as a replica; then a reshard of 1000 slots under
/// write load loses no key.
#[test]
fn six_nodes_create_fail_over_and_reshard() {
    let mut nodes: Vec<Node> = (0..6).map(|_| node(&viator_bin())).collect();
    let addrs: Vec<String> = nodes.iter().map(Node::addr).collect();
    let mut args = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(String::as_str));
    args.extend(["--cluster-replicas", "1", "--cluster-yes"]);
    let (ok, out) = redis_cli(&args);
    assert!(ok && out.contains("[OK] All 16384 slots covered."), "{out}");
    wait_all_ok(&nodes.iter().collect::<Vec<_>>());

    let mut cc = ClusterClient::new(nodes.iter().map(|n| n.port).collect());
    for i in 0..1000 {
        cc.run(&["SET", &format!("key:{i}"), &i.to_string()]).expect("SET");
    }
    let (_, out) = redis_cli(&["-c", "-p", &nodes[0].port.to_string(), "GET", "key:7"]);
    assert_eq!(out.trim(), "7");

    // kill -9 the master of "key:7"; its replica must take over.
    let slot = key_hash_slot(b"key:7");
    let victim = owner_of(&nodes[0], &nodes, slot);
    let victim_id = nodes[victim].id();
    let replica = nodes
        .iter()
        .position(|n| n.q(&["CLUSTER", "NODES"]).lines().any(|l| l.contains("myself,slave") && l.contains(&victim_id)))
        .expect("the victim has a replica");
    // The replica has everything its master acknowledged.
    assert!(wait_for(SETTLE, || nodes[replica].q(&["INFO", "replication"]).contains("master_link_status:up")));
    nodes[victim].kill9();
    let promoted = wait_for(SETTLE, || nodes[replica].role() == "master");
    assert!(promoted, "replica not promoted:\n{}", nodes[replica].log());
    let others: Vec<&Node> = nodes.iter().enumerate().filter(|(i, _)| *i != victim).map(|(_, n)| n).collect();
    wait_all_ok(&others);
    cc.refresh();
    for i in 0..1000 {
        assert_eq!(cc.get(&format!("key:{i}")), Some(i.to_string()), "key:{i} after the failover");
    }
    cc.run(&["SET", "key:7", "written-after-failover"]).expect("write after failover");

    // The old master returns as a replica of the promoted one.
    assert!(nodes[victim].launch(), "old master did not restart:\n{}", nodes[victim].log());
    let new_master_id = nodes[replica].id();
    let demoted = wait_for(SETTLE, || {
        nodes[victim].role() == "slave"
            && nodes[victim]
                .q(&["CLUSTER", "NODES"])
                .lines()
                .any(|l| l.contains("myself,slave") && l.contains(&new_master_id))
    });
    assert!(demoted, "old master did not become a replica:\n{}", nodes[victim].log());
    assert!(wait_for(SETTLE, || nodes[victim].q(&["INFO", "replication"]).contains("master_link_status:up")));
    wait_all_ok(&nodes.iter().collect::<Vec<_>>());

    // Reshard 1000 slots between two masters while a writer keeps writing.
    let masters: Vec<usize> = (0..6).filter(|&i| nodes[i].role() == "master").collect();
    assert_eq!(masters.len(), 3);
    let (from, to) = (nodes[masters[0]].id(), nodes[masters[1]].id());
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let (stop, written) = (stop.clone(), written.clone());
        let seeds: Vec<u16> = nodes.iter().map(|n| n.port).collect();
        std::thread::spawn(move || {
            let mut cc = ClusterClient::new(seeds);
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let key = format!("load:{i}");
                if cc.run(&["SET", &key, &i.to_string()]).is_ok() {
                    written.lock().unwrap().push(i);
                }
                i += 1;
            }
        })
    };
    let entry = nodes[masters[0]].addr();
    let (ok, out) = redis_cli(&[
        "--cluster",
        "reshard",
        &entry,
        "--cluster-from",
        &from,
        "--cluster-to",
        &to,
        "--cluster-slots",
        "1000",
        "--cluster-yes",
    ]);
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer");
    assert!(ok, "{out}");
    let acknowledged = written.lock().unwrap().clone();
    assert!(acknowledged.len() > 100, "the writer made too little progress: {}", acknowledged.len());
    let (ok, out) = redis_cli(&["--cluster", "check", &entry]);
    assert!(ok && out.contains("[OK] All 16384 slots covered."), "{out}");
    let mut cc = ClusterClient::new(nodes.iter().map(|n| n.port).collect());
    for i in acknowledged {
        assert_eq!(cc.get(&format!("load:{i}")), Some(i.to_string()), "load:{i} lost by the reshard");
    }
    for i in (0..1000).filter(|&i| i != 7) {
        assert_eq!(cc.get(&format!("key:{i}")), Some(i.to_string()), "key:{i} lost by the reshard");
    }
}

/// Three Debian redis-server and three Viator nodes in one cluster:
/// masters V, R, V with replicas R, V, R. It reaches cluster_state:ok,
/// routes keys, and fails over both ways (a Redis replica replaces a
/// Viator master, a Viator replica replaces a Redis master).
#[test]
fn mixed_redis_and_viator_cluster_fails_over_both_ways() {
    if !Path::new(REDIS_SERVER).exists() {
        eprintln!("skipped: {REDIS_SERVER} is missing");
        return;
    }
    let (v, r) = (viator_bin(), PathBuf::from(REDIS_SERVER));
    // Masters: 0 (Viator), 1 (Redis), 2 (Viator); replicas 3 (Redis) of 0,
    // 4 (Viator) of 1, 5 (Redis) of 2.
    let mut nodes = vec![node(&v), node(&r), node(&v), node(&r), node(&v), node(&r)];
    let ranges = [("0", "5460"), ("5461", "10922"), ("10923", "16383")];
    for (i, (a, b)) in ranges.iter().enumerate() {
        assert_eq!(nodes[i].q(&["CLUSTER", "ADDSLOTSRANGE", a, b]), "OK");
    }
    for (i, n) in nodes.iter().enumerate() {
        assert_eq!(n.q(&["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()]), "OK");
    }
    for n in &nodes[1..] {
        assert_eq!(nodes[0].q(&["CLUSTER", "MEET", "127.0.0.1", &n.port.to_string()]), "OK");
    }
    let all_known = wait_for(SETTLE, || {
        nodes.iter().all(|n| n.q(&["CLUSTER", "NODES"]).lines().filter(|l| !l.contains("handshake")).count() == 6)
    });
    assert!(all_known, "nodes did not all meet: {}", nodes[1].q(&["CLUSTER", "NODES"]));
    for (replica, master) in [(3, 0), (4, 1), (5, 2)] {
        let id = nodes[master].id();
        assert_eq!(nodes[replica].q(&["CLUSTER", "REPLICATE", &id]), "OK");
    }
    wait_all_ok(&nodes.iter().collect::<Vec<_>>());
    let synced = wait_for(SETTLE, || {
        [3, 4, 5].iter().all(|&i| nodes[i].q(&["INFO", "replication"]).contains("master_link_status:up"))
    });
    assert!(synced, "replicas did not sync");

    let mut cc = ClusterClient::new(nodes.iter().map(|n| n.port).collect());
    for i in 0..600 {
        cc.run(&["SET", &format!("k{i}"), &i.to_string()]).expect("SET");
    }
    let keys_on = |i: usize| nodes[i].q(&["DBSIZE"]).parse::<usize>().unwrap();
    assert_eq!(keys_on(0) + keys_on(1) + keys_on(2), 600);
    assert!(wait_for(SETTLE, || (0..3).all(|m| keys_on(m) == keys_on(m + 3))), "replicas behind their masters");

    // A Redis replica replaces a Viator master, then a Viator replica a Redis one.
    for (victim, heir) in [(0, 3), (1, 4)] {
        nodes[victim].kill9();
        let promoted = wait_for(SETTLE, || nodes[heir].role() == "master");
        assert!(promoted, "node {heir} was not promoted:\n{}", nodes[heir].log());
        let alive: Vec<&Node> = nodes.iter().filter(|n| n.is_up()).collect();
        wait_all_ok(&alive);
        cc.refresh();
        for i in 0..600 {
            assert_eq!(cc.get(&format!("k{i}")), Some(i.to_string()), "k{i} after node {victim} failed");
        }
    }
}

/// Masters A (slots 0-8191, epoch 1) and B (the rest, epoch 2) and R, a
/// synced replica of A; all Viator.
fn two_masters_and_a_replica() -> [Node; 3] {
    let v = viator_bin();
    let nodes = [node(&v), node(&v), node(&v)];
    let (a, b, r) = (&nodes[0], &nodes[1], &nodes[2]);
    assert_eq!(a.q(&["CLUSTER", "ADDSLOTSRANGE", "0", "8191"]), "OK");
    assert_eq!(b.q(&["CLUSTER", "ADDSLOTSRANGE", "8192", "16383"]), "OK");
    assert_eq!(a.q(&["CLUSTER", "SET-CONFIG-EPOCH", "1"]), "OK");
    assert_eq!(b.q(&["CLUSTER", "SET-CONFIG-EPOCH", "2"]), "OK");
    for n in [b, r] {
        assert_eq!(a.q(&["CLUSTER", "MEET", "127.0.0.1", &n.port.to_string()]), "OK");
    }
    let met = wait_for(SETTLE, || nodes.iter().all(|n| n.q(&["CLUSTER", "NODES"]).lines().count() == 3));
    assert!(met, "nodes did not meet: {}", a.q(&["CLUSTER", "NODES"]));
    assert_eq!(r.q(&["CLUSTER", "REPLICATE", &a.id()]), "OK");
    wait_all_ok(&nodes.iter().collect::<Vec<_>>());
    assert!(
        wait_for(SETTLE, || r.q(&["INFO", "replication"]).contains("master_link_status:up")),
        "replica never synced"
    );

    nodes
}

/// A master whose slot another master takes over with a greater config
/// epoch deletes the keys it held there, and the deletions reach its
/// replica and its AOF as DELs (Redis's delKeysInSlot since 7.2).
#[test]
fn keys_of_a_lost_slot_are_deleted_on_the_replica_and_in_the_aof_too() {
    let nodes = two_masters_and_a_replica();
    let (a, b, r) = (&nodes[0], &nodes[1], &nodes[2]);
    // Three keys in one slot of A, one key in another slot of A.
    let tag = (0..).map(|i| format!("{{t{i}}}")).find(|t| key_hash_slot(t.as_bytes()) < 8192).unwrap();
    let slot = key_hash_slot(tag.as_bytes());
    let dirty: Vec<String> = (1..=3).map(|i| format!("{tag}{i}")).collect();
    let kept = (0..)
        .map(|i| format!("kept{i}"))
        .find(|k| key_hash_slot(k.as_bytes()) < 8192 && key_hash_slot(k.as_bytes()) != slot)
        .unwrap();
    for k in dirty.iter().chain([&kept]) {
        assert_eq!(a.q(&["SET", k, "v"]), "OK");
    }
    assert_eq!(a.q(&["WAIT", "1", "5000"]), "1");
    assert_eq!(r.q(&["DBSIZE"]), "4");

    // B claims the slot and wins it with a fresh, greater epoch.
    assert_eq!(b.q(&["CLUSTER", "SETSLOT", &slot.to_string(), "NODE", &b.id()]), "OK");
    b.q(&["CLUSTER", "BUMPEPOCH"]);
    assert!(wait_for(SETTLE, || a.q(&["DBSIZE"]) == "1"), "A kept its dirty keys: {}", a.log());
    assert!(wait_for(SETTLE, || r.q(&["DBSIZE"]) == "1"), "the replica kept keys its master deleted");
    assert_eq!(r.q(&["READONLY"]), "OK");
    let aof_dir = a.dir.join("appendonlydir");
    let aof: Vec<u8> = std::fs::read_dir(&aof_dir)
        .expect("appendonlydir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".incr.aof"))
        .flat_map(|e| std::fs::read(e.path()).unwrap_or_default())
        .collect();
    let aof = String::from_utf8_lossy(&aof);
    for k in &dirty {
        assert!(aof.contains(&format!("$3\r\nDEL\r\n${}\r\n{k}\r\n", k.len())), "no DEL {k} in A's AOF:\n{aof}");
    }
}

/// CLUSTER MYSHARDID: one id per shard, kept in nodes.conf; a replica's log
/// lines carry the S role letter; cluster-announce-tls-port is accepted.
#[test]
fn shard_ids_role_letters_and_the_tls_announce_port() {
    let nodes = two_masters_and_a_replica();
    let (a, b, r) = (&nodes[0], &nodes[1], &nodes[2]);
    let shard = a.q(&["CLUSTER", "MYSHARDID"]);
    assert_eq!(shard.len(), 40);
    assert!(shard.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(b.q(&["CLUSTER", "MYSHARDID"]), shard);
    assert!(wait_for(SETTLE, || r.q(&["CLUSTER", "MYSHARDID"]) == shard), "the replica is not in its master's shard");
    // Saved with the node lines, as Redis 7.2's aux field, not shown by CLUSTER NODES.
    assert!(wait_for(SETTLE, || {
        std::fs::read_to_string(r.dir.join("nodes.conf"))
            .unwrap_or_default()
            .contains(&format!("shard-id={shard} myself,slave"))
    }));
    assert!(!a.q(&["CLUSTER", "NODES"]).contains("shard-id"));
    // Log lines: "<pid>:S" on the replica, "<pid>:M" on a master.
    let role_of_last_line =
        |n: &Node| n.log().lines().last().and_then(|l| l.split(' ').next()).map(|p| p.ends_with(":S"));
    assert_eq!(role_of_last_line(r), Some(true), "{}", r.log());
    assert_eq!(role_of_last_line(a), Some(false), "{}", a.log());
    // A hard reset makes a new node: new name, new shard.
    assert_eq!(r.q(&["CLUSTER", "RESET", "HARD"]), "OK");
    assert_ne!(r.q(&["CLUSTER", "MYSHARDID"]), shard);
    assert_eq!(a.q(&["CONFIG", "SET", "cluster-announce-tls-port", "7443"]), "OK");
    assert_eq!(a.q(&["CONFIG", "GET", "cluster-announce-tls-port"]), "cluster-announce-tls-port\n7443");
}

/// The script run by [`redis_py_cluster_client_routes_and_follows_moved`]:
/// Debian's redis-py RedisCluster client against three Viator masters.
const REDIS_PY_SCRIPT: &str = r#"
import logging, sys
from redis.cluster import RedisCluster
logging.disable(logging.CRITICAL)  # redis-py logs every MOVED it follows
rc = RedisCluster(host="127.0.0.1", port=int(sys.argv[1]), decode_responses=True)
assert len(rc.get_primaries()) == 3, rc.get_primaries()
for i in range(500):
    assert rc.set(f"py:{i}", str(i))
assert all(rc.get(f"py:{i}") == str(i) for i in range(500))
assert rc.mset_nonatomic({"py:a": "1", "py:b": "2"}) is not None
slot = rc.keyslot(sys.argv[2])
print("owner", slot, rc.nodes_manager.get_node_from_slot(slot).port, flush=True)
sys.stdin.readline()  # the test reshards meanwhile
# The cached slot map is stale now: MOVED replies must be followed.
assert all(rc.get(f"py:{i}") == str(i) for i in range(500))
for i in range(500):
    assert rc.incr(f"py:{i}") == i + 1
print("after", rc.nodes_manager.get_node_from_slot(slot).port, flush=True)
"#;

/// redis-py's RedisCluster (Debian's python3-redis) routes keys across three
/// Viator masters and follows MOVED after `redis-cli --cluster reshard`
/// moves the slots it has cached. Skipped when python3-redis is missing.
#[test]
fn redis_py_cluster_client_routes_and_follows_moved() {
    use std::io::{BufRead, BufReader, Write};
    const PYTHON: &str = "/usr/bin/python3";
    let has_redis_py = Command::new(PYTHON)
        .args(["-c", "import redis.cluster"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_redis_py {
        eprintln!("skipped: {PYTHON} cannot import redis.cluster (apt-get install python3-redis)");
        return;
    }
    let v = viator_bin();
    let nodes = [node(&v), node(&v), node(&v)];
    let mut args = vec!["--cluster", "create"];
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr()).collect();
    args.extend(addrs.iter().map(String::as_str));
    args.push("--cluster-yes");
    let (ok, out) = redis_cli(&args);
    assert!(ok && out.contains("[OK] All 16384 slots covered."), "{out}");
    wait_all_ok(&nodes.iter().collect::<Vec<_>>());

    // The key watched across the reshard: one near the start of its owner's
    // range, so that moving a few slots moves it (redis-cli moves the lowest).
    let starts = [0u16, 5461, 10923];
    let offset = |k: &String| {
        let s = key_hash_slot(k.as_bytes());
        s - starts.iter().copied().filter(|&b| b <= s).max().unwrap_or(0)
    };
    let key = (0..500).map(|i| format!("py:{i}")).min_by_key(offset).expect("a key");
    let moved = (offset(&key) + 1).to_string();
    let mut py = Command::new(PYTHON)
        .args(["-c", REDIS_PY_SCRIPT, &nodes[0].port.to_string(), &key])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut lines = BufReader::new(py.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let w: Vec<&str> = first.split(' ').collect();
    assert!(w.len() == 3 && w[0] == "owner", "redis-py failed before the reshard: {first:?}");
    let old_port: u16 = w[2].parse().expect("port");
    let slot: u16 = w[1].parse().expect("slot");
    // Move the owner's lowest slots, the watched key's among them, to another master.
    let from = nodes.iter().find(|n| n.port == old_port).expect("owner").id();
    let to = nodes.iter().find(|n| n.port != old_port).expect("another master");
    let (ok, out) = redis_cli(&[
        "--cluster",
        "reshard",
        &nodes[0].addr(),
        "--cluster-from",
        &from,
        "--cluster-to",
        &to.id(),
        "--cluster-slots",
        &moved,
        "--cluster-yes",
    ]);
    assert!(ok, "{out}");
    assert_eq!(nodes[owner_of(&nodes[0], &nodes, slot)].port, to.port);
    py.stdin.take().expect("stdin").write_all(b"go\n").expect("write");
    let second = lines.next().and_then(Result::ok).unwrap_or_default();
    let status = py.wait().expect("python3 exit");
    assert!(status.success(), "redis-py failed after the reshard: {second:?}");
    assert_eq!(second, format!("after {}", to.port));
}
