//! Tests of viator-cli's Redis Cluster support: `-c` redirections and the
//! `--cluster` manager (create, check, info, call, reshard, rebalance, add-node,
//! del-node), driven as operators drive redis-cli.
//!
//! The nodes are real cluster-enabled servers: viator-server by default, or the
//! binary named by `VIATOR_CLUSTER_TEST_SERVER` (Debian's /usr/bin/redis-server
//! shows viator-cli treats a Redis cluster alike). Without that binary the tests
//! pass vacuously, saying so. Nodes listen on 127.0.0.1 in 25000-25999 (bus port = port + 10000),
//! each in its own temporary directory, and are killed when the test ends.
//! Assertions are on redis-cli 7.0's messages and exit statuses, which scripts grep.

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU16;
use std::time::Duration;

use support::cluster::{Node, PortRange};
use support::{wait_for, CliRun};

/// Ports for this test binary: 25000-25999 (bus ports 35000-35999).
static PORTS: PortRange = PortRange { next: AtomicU16::new(25000), end: 26000 };

/// How long a cluster may take to agree or to reach `cluster_state:ok`.
const SETTLE: Duration = Duration::from_secs(20);

/// The cluster server the tests drive: Viator's, or the binary named by
/// `VIATOR_CLUSTER_TEST_SERVER` (e.g. /usr/bin/redis-server, to check that
/// viator-cli treats a Redis cluster the same way); `None` (tests skipped)
/// if that binary is absent.
fn server_bin() -> Option<PathBuf> {
    let bin = std::env::var_os("VIATOR_CLUSTER_TEST_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_viator-server")));
    if bin.exists() {
        Some(bin)
    } else {
        eprintln!("skipped: no cluster server binary at {}", bin.display());
        None
    }
}

/// This node's own line of CLUSTER NODES.
fn own_line(n: &Node) -> String {
    n.q(&["CLUSTER", "NODES"]).lines().find(|l| l.contains("myself")).unwrap_or_default().to_string()
}

/// Slots a node owns, by its own CLUSTER NODES line.
fn slot_count(n: &Node) -> usize {
    own_line(n)
        .split(' ')
        .skip(8)
        .filter(|w| !w.starts_with('['))
        .map(|w| match w.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
            None => 1,
        })
        .sum()
}

fn start_nodes(bin: &Path, n: usize) -> Vec<Node> {
    (0..n).map(|_| Node::start(bin, &PORTS, &["--appendonly", "no"])).collect()
}

/// Runs viator-cli with `args` and `stdin`; killed after 60 s.
fn cli(args: &[&str], stdin: Option<&[u8]>) -> CliRun {
    support::run_cli(args, stdin, Duration::from_secs(60))
}

/// `--cluster create` over `nodes` with `replicas` per master, answering yes.
fn create(nodes: &[Node], replicas: usize) -> CliRun {
    let addrs: Vec<String> = nodes.iter().map(Node::addr).collect();
    let r = replicas.to_string();
    let mut args = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(String::as_str));
    args.extend(["--cluster-replicas", &r, "--cluster-yes"]);
    cli(&args, None)
}

/// Waits until every node says `cluster_state:ok` and `--cluster check` passes.
fn wait_healthy(nodes: &[Node]) {
    let ok = wait_for(SETTLE, || nodes.iter().all(|n| n.q(&["CLUSTER", "INFO"]).contains("cluster_state:ok")));
    assert!(ok, "cluster_state never became ok: {}", nodes[0].q(&["CLUSTER", "INFO"]));
    let agreed = wait_for(SETTLE, || cli(&["--cluster", "check", &nodes[0].addr()], None).ok());
    assert!(agreed, "{:?}", cli(&["--cluster", "check", &nodes[0].addr()], None));
}

/// `set key:i i` lines for `0..n`, through `-c` at `entry`; returns the output.
fn load_keys(entry: &Node, n: usize) -> CliRun {
    let lines: String = (0..n).map(|i| format!("set key:{i} {i}\n")).collect();
    cli(&["-c", "-p", &entry.port.to_string()], Some(lines.as_bytes()))
}

/// Asserts every `key:i` for `0..n` reads back as `i` through `-c` at `entry`.
fn assert_keys(entry: &Node, n: usize) {
    let lines: String = (0..n).map(|i| format!("get key:{i}\n")).collect();
    let r = cli(&["-c", "-p", &entry.port.to_string()], Some(lines.as_bytes()));
    let values: Vec<&str> = r.stdout.lines().filter(|l| !l.starts_with("-> Redirected")).collect();
    let want: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    assert_eq!(values, want, "{r:?}");
}

/// Total keys over the masters among `nodes`.
fn total_keys(nodes: &[&Node]) -> usize {
    nodes.iter().map(|n| n.q(&["DBSIZE"]).parse::<usize>().unwrap()).sum()
}

#[test]
fn create_check_info_call_and_redirections() {
    let Some(bin) = server_bin() else { return };
    let nodes = start_nodes(&bin, 6);
    let r = create(&nodes, 1);
    assert!(r.ok(), "{r:?}");
    for line in [
        ">>> Performing hash slots allocation on 6 nodes...\n",
        "Master[0] -> Slots 0 - 5460\n",
        "Master[1] -> Slots 5461 - 10922\n",
        "Master[2] -> Slots 10923 - 16383\n",
        "Can I set the above configuration?",
        ">>> Nodes configuration updated\n",
        ">>> Assign a different config epoch to each node\n",
        ">>> Sending CLUSTER MEET messages to join the cluster\n",
        "Waiting for the cluster to join\n",
        ">>> Performing Cluster Check (using node 127.0.0.1:",
        "[OK] All 16384 slots covered.\n",
    ] {
        if line.starts_with("Can I") {
            assert!(!r.stdout.contains(line), "--cluster-yes must not ask: {r:?}");
        } else {
            assert!(r.stdout.contains(line), "missing {line:?} in {r:?}");
        }
    }
    assert_eq!(r.stdout.matches("Adding replica ").count(), 3, "{r:?}");
    wait_healthy(&nodes);
    let masters: Vec<&Node> = nodes.iter().filter(|n| own_line(n).contains("master")).collect();
    let replicas: Vec<&Node> = nodes.iter().filter(|n| own_line(n).contains("slave")).collect();
    assert_eq!((masters.len(), replicas.len()), (3, 3));

    // -c: keys of every master's slots, through one node.
    let entry = &nodes[0];
    let p = entry.port.to_string();
    for (k, v) in [("foo", "1"), ("bar", "2"), ("hello", "3")] {
        let r = cli(&["-c", "-p", &p, "set", k, v], None);
        assert_eq!((r.code, r.stdout.as_str()), (Some(0), "OK\n"), "one-shot mode prints no redirection: {r:?}");
    }
    let r = cli(&["-c", "-p", &p, "get", "foo"], None);
    assert_eq!(r.stdout, "1\n");
    // Lines from stdin are interactive mode: redirections are announced.
    let r = cli(&["-c", "-p", &p], Some(b"get foo\nget bar\n"));
    let owner_of = |slot: u16| {
        let port = masters.iter().find(|m| {
            let line = own_line(m);
            line.split(' ').skip(8).any(|w| match w.split_once('-') {
                Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).contains(&slot),
                None => w.parse() == Ok(slot),
            })
        });
        port.map(|m| m.port).unwrap()
    };
    let (foo, bar) = (owner_of(12182), owner_of(5061));
    let mut want = String::new();
    if foo != entry.port {
        want.push_str(&format!("-> Redirected to slot [12182] located at 127.0.0.1:{foo}\n"));
    }
    want.push_str("1\n");
    if bar != foo {
        want.push_str(&format!("-> Redirected to slot [5061] located at 127.0.0.1:{bar}\n"));
    }
    want.push_str("2\n");
    assert_eq!(r.stdout, want, "{r:?}");
    let r = load_keys(entry, 100);
    assert!(r.ok(), "{r:?}");
    // Without -c a MOVED is just printed.
    let other = masters.iter().find(|m| m.port != owner_of(12182)).unwrap();
    let r = cli(&["-p", &other.port.to_string(), "get", "foo"], None);
    assert!(r.stdout.starts_with("MOVED 12182 127.0.0.1:"), "{r:?}");

    let r = cli(&["--cluster", "check", &entry.addr()], None);
    assert!(r.ok(), "{r:?}");
    for line in [
        "[OK] 103 keys in 3 masters.\n",
        "[OK] All nodes agree about slots configuration.\n",
        ">>> Check for open slots...\n",
        ">>> Check slots coverage...\n",
        "[OK] All 16384 slots covered.\n",
        "   1 additional replica(s)\n",
        "   slots: (0 slots) slave\n",
    ] {
        assert!(r.stdout.contains(line), "missing {line:?} in {r:?}");
    }
    assert_eq!(r.stdout.lines().filter(|l| l.starts_with("M: ")).count(), 3, "{r:?}");
    // The host may also be given as two words.
    let r = cli(&["--cluster", "info", "127.0.0.1", &p], None);
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.stdout.matches("| 1 slaves.\n").count(), 3, "{r:?}");
    assert!(r.stdout.contains("[OK] 103 keys in 3 masters.\n0.01 keys per slot on average.\n"), "{r:?}");

    let r = cli(&["--cluster", "call", &entry.addr(), "DBSIZE"], None);
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.starts_with(">>> Calling DBSIZE\n"), "{r:?}");
    let sizes: Vec<usize> = r.stdout.lines().skip(1).map(|l| l.rsplit(' ').next().unwrap().parse().unwrap()).collect();
    assert_eq!(sizes.len(), 6, "{r:?}");
    let r = cli(&["--cluster", "call", &entry.addr(), "CLUSTER", "MYID", "--cluster-only-masters"], None);
    assert_eq!(r.stdout.lines().count(), 4, "{r:?}");
    for m in &masters {
        assert!(r.stdout.contains(&format!("{}: {}\n", m.addr(), m.id())), "{r:?}");
    }
}

#[test]
fn reshard_and_rebalance_keep_every_key() {
    let Some(bin) = server_bin() else { return };
    let nodes = start_nodes(&bin, 3);
    let r = create(&nodes, 0);
    assert!(r.ok(), "{r:?}");
    wait_healthy(&nodes);
    assert!(load_keys(&nodes[0], 300).ok());
    let all: Vec<&Node> = nodes.iter().collect();
    assert_eq!(total_keys(&all), 300);
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);

    // An open slot: "foo" (slot 12182, on c) already migrated to a. -c follows the
    // ASK; check reports the slot; fix closes it.
    assert_eq!(cli(&["-c", "-p", &a.port.to_string(), "set", "foo", "bar"], None).stdout, "OK\n");
    assert_eq!(a.q(&["CLUSTER", "SETSLOT", "12182", "IMPORTING", &c.id()]), "OK");
    assert_eq!(c.q(&["CLUSTER", "SETSLOT", "12182", "MIGRATING", &a.id()]), "OK");
    assert_eq!(c.q(&["MIGRATE", "127.0.0.1", &a.port.to_string(), "foo", "0", "5000"]), "OK");
    let r = cli(&["-c", "-p", &c.port.to_string()], Some(b"get foo\n"));
    assert_eq!(r.stdout, format!("-> Redirected to slot [12182] located at {}\nbar\n", a.addr()), "{r:?}");
    let r = cli(&["-c", "-p", &c.port.to_string(), "get", "foo"], None);
    assert_eq!(r.stdout, "bar\n", "{r:?}");
    let r = cli(&["--cluster", "check", &a.addr()], None);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains(&format!("[WARNING] Node {} has slots in importing state 12182.\n", a.addr())));
    assert!(r.stdout.contains(&format!("[WARNING] Node {} has slots in migrating state 12182.\n", c.addr())));
    assert!(r.stdout.contains("[WARNING] The following slots are open: 12182.\n"), "{r:?}");
    let r = cli(&["--cluster", "fix", &a.addr()], None);
    assert!(r.ok(), "{r:?}");
    // a holds the key, c the slot: a becomes the owner and c's keys follow.
    let case2 = format!(">>> Case 2: Moving all the 12182 slot keys to its owner {}\n", a.addr());
    assert!(r.stdout.contains("*** Configuring ") && r.stdout.contains(&case2), "{r:?}");
    wait_healthy(&nodes);
    assert_eq!(a.q(&["CLUSTER", "COUNTKEYSINSLOT", "12182"]), "1");
    assert_eq!(total_keys(&all), 301);

    let (from, to) = (b.id(), a.id());
    let (a_before, b_before) = (slot_count(a), slot_count(b));
    let r = cli(
        &[
            "--cluster",
            "reshard",
            &a.addr(),
            "--cluster-from",
            &from,
            "--cluster-to",
            &to,
            "--cluster-slots",
            "1000",
            "--cluster-yes",
        ],
        None,
    );
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains("\nReady to move 1000 slots.\n  Source nodes:\n"), "{r:?}");
    assert_eq!(r.stdout.matches("    Moving slot ").count(), 1000, "{r:?}");
    assert_eq!(r.stdout.matches("\nMoving slot ").count(), 1000, "{r:?}");
    assert_eq!((slot_count(a), slot_count(b)), (a_before + 1000, b_before - 1000));
    wait_healthy(&nodes);
    assert_eq!(total_keys(&all), 301, "no key may be lost");
    assert_keys(a, 300);

    let r = cli(&["--cluster", "rebalance", &a.addr()], None);
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains(">>> Rebalancing across 3 nodes. Total weight = 3.00\n"), "{r:?}");
    assert!(r.stdout.contains(&format!("slots from {} to {}\n", a.addr(), b.addr())), "{r:?}");
    wait_healthy(&nodes);
    for n in &nodes {
        assert!(slot_count(n).abs_diff(5461) <= 1, "unbalanced: {}", own_line(n));
    }
    assert_eq!(total_keys(&all), 301);
    assert_keys(b, 300);
    let r = cli(&["--cluster", "rebalance", &a.addr()], None);
    assert!(r.stdout.contains("*** No rebalancing needed! All nodes are within the 2.00% threshold.\n"), "{r:?}");
    // Weights skew the balance: the simulation only prints what it would do.
    let prefix = &a.id()[..8];
    let w = format!("{prefix}=2");
    let r = cli(&["--cluster", "rebalance", &a.addr(), "--cluster-weight", &w, "--cluster-simulate"], None);
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains("Total weight = 4.00\n"), "{r:?}");
    assert!(slot_count(a).abs_diff(5461) <= 1, "a simulation moves nothing");
}

#[test]
fn add_node_and_del_node() {
    let Some(bin) = server_bin() else { return };
    let nodes = start_nodes(&bin, 5);
    let (core, extra) = nodes.split_at(3);
    // Three nodes cannot hold three masters and their replicas.
    let r = create(core, 1);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains("*** Redis Cluster requires at least 3 master nodes.\n"), "{r:?}");
    assert!(r.stdout.contains("*** At least 6 nodes are required.\n"), "{r:?}");
    let r = create(core, 0);
    assert!(r.ok(), "{r:?}");
    wait_healthy(core);
    // A node of the cluster is not empty: it cannot be added again.
    let r = cli(&["--cluster", "add-node", &core[1].addr(), &core[0].addr()], None);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains(&format!("[ERR] Node {} is not empty.", core[1].addr())), "{r:?}");

    let (m, s) = (&extra[0], &extra[1]);
    let r = cli(&["--cluster", "add-node", &m.addr(), &core[0].addr()], None);
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.starts_with(&format!(">>> Adding node {} to cluster {}\n", m.addr(), core[0].addr())), "{r:?}");
    assert!(r.stdout.contains(&format!(">>> Send CLUSTER MEET to node {} to make it join the cluster.\n", m.addr())));
    assert!(r.stdout.ends_with("[OK] New node added correctly.\n"), "{r:?}");
    let four: Vec<&Node> = core.iter().chain([m]).collect();
    let mid = m.id();
    // The entry node learns of the new master by gossip, then all agree.
    let agreed = wait_for(SETTLE, || {
        core.iter().all(|n| n.q(&["CLUSTER", "NODES"]).contains(&mid))
            && cli(&["--cluster", "check", &core[0].addr()], None).ok()
    });
    assert!(agreed, "the new master never agreed");
    assert!(own_line(m).contains("myself,master"), "{}", own_line(m));

    let r = cli(
        &["--cluster", "add-node", &s.addr(), &core[0].addr(), "--cluster-slave", "--cluster-master-id", &mid],
        None,
    );
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains("Waiting for the cluster to join\n"), "{r:?}");
    assert!(r.stdout.contains(&format!(">>> Configure node as replica of {}.\n", m.addr())), "{r:?}");
    assert!(own_line(s).contains(&format!("myself,slave {mid} ")), "{}", own_line(s));
    let sid = s.id();
    let everyone_knows = wait_for(SETTLE, || four.iter().all(|n| n.q(&["CLUSTER", "NODES"]).contains(&sid)));
    assert!(everyone_knows, "the replica was never gossiped");

    // A master with slots cannot be deleted.
    let r = cli(&["--cluster", "del-node", &core[0].addr(), &core[1].id()], None);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r
        .stdout
        .contains(&format!("[ERR] Node {} is not empty! Reshard data away and try again.\n", core[1].addr())));
    let r = cli(&["--cluster", "del-node", &core[0].addr(), "0123456789"], None);
    assert_eq!(r.code, Some(1));
    assert!(r.stdout.contains("[ERR] No such node ID 0123456789\n"), "{r:?}");

    for (gone, id) in [(s, &sid), (m, &mid)] {
        let r = cli(&["--cluster", "del-node", &core[0].addr(), id], None);
        assert!(r.ok(), "{r:?}");
        assert_eq!(
            r.stdout,
            format!(
                ">>> Removing node {id} from cluster {}\n>>> Sending CLUSTER FORGET messages to the cluster...\n\
                 >>> Sending CLUSTER RESET SOFT to the deleted node.\n",
                core[0].addr()
            )
        );
        for n in core {
            assert!(!n.q(&["CLUSTER", "NODES"]).contains(id.as_str()), "{} still knows {id}", n.addr());
        }
        let known = gone.q(&["CLUSTER", "INFO"]);
        assert!(known.contains("cluster_known_nodes:1\r\n"), "{known}");
    }
    let r = cli(&["--cluster", "check", &core[0].addr()], None);
    assert!(r.ok(), "{r:?}");
}

#[test]
fn subcommand_errors_need_no_server() {
    let r = cli(&["--cluster", "help"], None);
    assert_eq!(r.code, Some(1), "redis-cli's help exits 1");
    assert!(r.stdout.starts_with("Cluster Manager Commands:\n  create         host1:port1 ... hostN:portN\n"));
    let r = cli(&["--cluster", "nosuch"], None);
    assert_eq!((r.code, r.stderr.as_str()), (Some(1), "Unknown --cluster subcommand\n"));
    let r = cli(&["--cluster", "add-node", "127.0.0.1:1"], None);
    assert_eq!(r.stderr, "[ERR] Wrong number of arguments for specified --cluster sub command\n");
    let r = cli(&["--cluster", "check", "nocolon"], None);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.starts_with("[ERR] Invalid arguments: you need to pass either a valid address"), "{r:?}");
    // Nothing listens on port 1.
    let r = cli(&["--cluster", "check", "127.0.0.1:1"], None);
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr, "Could not connect to Redis at 127.0.0.1:1: Connection refused\n");
}
