//! Replication through real processes, against Debian's real redis-server
//! in both roles: a Viator replica of a Redis master and a Redis replica of
//! a Viator master, under a write load of every type with expiries. The
//! contract: once the replica's offset reaches the master's, `DEBUG DIGEST`
//! (Redis's own algorithm on both sides) is equal. Also REPLICAOF NO ONE,
//! READONLY, MASTERDOWN, ROLE, and reconnection after the link is killed
//! (with a partial resync against a Redis master).

mod support;

use std::path::Path;
use std::time::Duration;

use redis::Connection;
use support::{q, qe, resp, show, wait_for, Raw, Server};

const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// Redis sends a diskless snapshot at once instead of waiting 5 s for
/// more replicas.
const REDIS_MASTER_ARGS: &[&str] = &["--repl-diskless-sync-delay", "0"];

fn info_field(con: &mut Connection, name: &str) -> Option<String> {
    let text: String = q(con, &["INFO", "replication"]);
    text.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim_end().to_string()))
}

/// A seeded mix of writes over every type, some with short and long TTLs.
fn workload(con: &mut Connection, seed: u64, n: usize) {
    let mut x = seed | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..n {
        let r = next();
        let k = r % 40;
        let v = (r >> 8) % 1000;
        let cmd = match (r >> 20) % 14 {
            0 => redis::cmd("SET").arg(format!("s{k}")).arg(v).clone(),
            1 => redis::cmd("SET").arg(format!("s{k}")).arg(v).arg("PX").arg(50 + v % 200).clone(),
            2 => redis::cmd("INCRBY").arg(format!("n{k}")).arg(v).clone(),
            3 => redis::cmd("RPUSH").arg(format!("l{k}")).arg(v).arg(v + 1).clone(),
            4 => redis::cmd("LPOP").arg(format!("l{k}")).clone(),
            5 => redis::cmd("HSET").arg(format!("h{k}")).arg(format!("f{}", v % 10)).arg(v).clone(),
            6 => redis::cmd("SADD").arg(format!("t{k}")).arg(v % 50).clone(),
            7 => redis::cmd("SREM").arg(format!("t{k}")).arg(v % 50).clone(),
            8 => redis::cmd("ZADD").arg(format!("z{k}")).arg(v).arg(format!("m{}", v % 20)).clone(),
            9 => redis::cmd("XADD").arg(format!("x{k}")).arg("*").arg("f").arg(v).clone(),
            10 => redis::cmd("EXPIRE").arg(format!("h{k}")).arg(1 + v % 100).clone(),
            11 => redis::cmd("PEXPIRE").arg(format!("t{k}")).arg(20 + v % 100).clone(),
            12 => redis::cmd("DEL").arg(format!("s{k}")).clone(),
            _ => redis::cmd("APPEND").arg(format!("a{k}")).arg(v).clone(),
        };
        let _: redis::Value = cmd.query(con).unwrap_or(redis::Value::Nil);
    }
    // Something in another database, and a transaction.
    let _: () = q(con, &["SELECT", "3"]);
    let _: () = q(con, &["SET", "db3", "x", "EX", "1000"]);
    let _: () = q(con, &["SELECT", "0"]);
    let _: redis::Value =
        redis::pipe().atomic().cmd("INCR").arg("tx").cmd("LPUSH").arg("txl").arg("a").query(con).unwrap();
}

/// Waits until the replica's offset equals the master's and both digests
/// match (expiring keys may need a moment to be deleted on the master and
/// for the DELs to arrive). Panics with both logs otherwise.
fn assert_converges(master: &Server, replica: &Server) {
    let mut m = master.client();
    let mut r = replica.client();
    let mut last = String::new();
    let ok = wait_for(Duration::from_secs(20), || {
        let mo = info_field(&mut m, "master_repl_offset");
        let md: String = q(&mut m, &["DEBUG", "DIGEST"]);
        let ro = info_field(&mut r, "slave_repl_offset");
        let rd: String = q(&mut r, &["DEBUG", "DIGEST"]);
        let link = info_field(&mut r, "master_link_status");
        // The master has seen the snapshot through (its child reaped).
        let info: String = q(&mut m, &["INFO", "replication"]);
        let syncing = info.contains("state=wait_bgsave") || info.contains("state=send_bulk");
        last = format!("master {mo:?} {md}, replica {ro:?} {rd} link {link:?} syncing {syncing}");
        link.as_deref() == Some("up") && mo == ro && md == rd && !syncing
    });
    assert!(ok, "no convergence: {last}\nmaster log:\n{}\nreplica log:\n{}", master.log(), replica.log());
}

#[test]
fn viator_replica_follows_a_redis_master_and_resumes_partially() {
    let mdir = Server::new_dir();
    let master = Server::start_redis_in(Path::new(REDIS_SERVER), &mdir, REDIS_MASTER_ARGS);
    let replica = Server::start();
    let mut m = master.client();
    let mut r = replica.client();
    workload(&mut m, 1, 500);
    let port = master.port().to_string();
    let _: () = q(&mut r, &["REPLICAOF", "127.0.0.1", &port]);
    let again: String = q(&mut r, &["REPLICAOF", "127.0.0.1", &port]);
    assert_eq!(again, "OK Already connected to specified master");
    // Writes during the synchronisation.
    workload(&mut m, 2, 2000);
    assert_converges(&master, &replica);

    // ROLE and INFO as a replica.
    let role: redis::Value = q(&mut r, &["ROLE"]);
    let redis::Value::Array(items) = role else { panic!("ROLE: {role:?}") };
    assert_eq!(items.len(), 5);
    assert_eq!(items[0], redis::Value::BulkString(b"slave".to_vec()));
    assert_eq!(items[2], redis::Value::Int(master.port() as i64));
    assert_eq!(items[3], redis::Value::BulkString(b"connected".to_vec()));
    assert_eq!(info_field(&mut r, "role").as_deref(), Some("slave"));
    assert_eq!(info_field(&mut r, "master_port"), Some(port.clone()));
    assert_eq!(info_field(&mut r, "slave_read_only").as_deref(), Some("1"));
    assert_eq!(info_field(&mut m, "connected_slaves").as_deref(), Some("1"));

    // READONLY for writes from ordinary clients, reads are served.
    assert_eq!(qe(&mut r, &["SET", "k", "v"]), "READONLY You can't write against a read only replica.");
    let _: redis::Value = q(&mut r, &["GET", "s1"]);

    // Kill the link: the replica reconnects and continues from its offset.
    let killed: i64 = q(&mut r, &["CLIENT", "KILL", "TYPE", "master"]);
    assert_eq!(killed, 1);
    workload(&mut m, 3, 1000);
    assert_converges(&master, &replica);
    assert!(
        replica.log().contains("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization."),
        "log:\n{}",
        replica.log()
    );
    // The master killing the replica's link works the same way.
    let _: i64 = q(&mut m, &["CLIENT", "KILL", "TYPE", "replica"]);
    workload(&mut m, 4, 500);
    assert_converges(&master, &replica);

    // Promotion: writable, a new history that keeps the old one as replid2.
    let old_id = info_field(&mut r, "master_replid").unwrap();
    let _: () = q(&mut r, &["REPLICAOF", "NO", "ONE"]);
    assert_eq!(info_field(&mut r, "role").as_deref(), Some("master"));
    assert_eq!(info_field(&mut r, "master_replid2"), Some(old_id));
    let _: () = q(&mut r, &["SET", "k", "v"]);
    let role: redis::Value = q(&mut r, &["ROLE"]);
    let redis::Value::Array(items) = role else { panic!("ROLE: {role:?}") };
    assert_eq!(items[0], redis::Value::BulkString(b"master".to_vec()));
    let _ = std::fs::remove_dir_all(&mdir);
}

#[test]
fn redis_replica_follows_a_viator_master() {
    let master = Server::start();
    let rdir = Server::new_dir();
    let replica = Server::start_redis_in(Path::new(REDIS_SERVER), &rdir, &[]);
    let mut m = master.client();
    let mut r = replica.client();
    workload(&mut m, 5, 500);
    let _: () = q(&mut r, &["REPLICAOF", "127.0.0.1", &master.port().to_string()]);
    workload(&mut m, 6, 2000);
    assert_converges(&master, &replica);
    // The master lists it, with the port it announced.
    let line = info_field(&mut m, "slave0").unwrap_or_default();
    assert!(line.starts_with(&format!("ip=127.0.0.1,port={},state=online,", replica.port())), "{line}");
    let role: redis::Value = q(&mut m, &["ROLE"]);
    let redis::Value::Array(items) = role else { panic!("ROLE: {role:?}") };
    assert_eq!(items[0], redis::Value::BulkString(b"master".to_vec()));
    let redis::Value::Array(rows) = &items[2] else { panic!("ROLE: {items:?}") };
    assert_eq!(rows.len(), 1);
    // WAIT counts the replica once it acknowledged this client's writes.
    let _: () = q(&mut m, &["SET", "waited", "1"]);
    let acked: i64 = q(&mut m, &["WAIT", "1", "5000"]);
    assert_eq!(acked, 1);
    let acked: i64 = q(&mut m, &["WAIT", "2", "100"]);
    assert_eq!(acked, 1, "WAIT for more replicas than exist times out with the count");
    // min-replicas-to-write: one good replica is enough, two are not.
    let _: () = q(&mut m, &["CONFIG", "SET", "min-replicas-to-write", "2"]);
    assert_eq!(qe(&mut m, &["SET", "k", "v"]), "NOREPLICAS Not enough good replicas to write.");
    let _: () = q(&mut m, &["CONFIG", "SET", "min-replicas-to-write", "1"]);
    let _: () = q(&mut m, &["SET", "k", "v"]);
    let _: () = q(&mut m, &["CONFIG", "SET", "min-replicas-to-write", "0"]);
    // A killed link: the Redis replica comes back and continues from the
    // backlog (both logs say so).
    let killed: i64 = q(&mut m, &["CLIENT", "KILL", "TYPE", "replica"]);
    assert_eq!(killed, 1);
    workload(&mut m, 7, 500);
    assert_converges(&master, &replica);
    assert!(master.log().contains("Partial resynchronization request from"), "master log:\n{}", master.log());
    assert!(
        replica.log().contains("Successful partial resynchronization with master."),
        "replica log:\n{}",
        replica.log()
    );
    let stats: String = q(&mut m, &["INFO", "stats"]);
    assert!(stats.contains("sync_partial_ok:1\r\n") && stats.contains("sync_full:1\r\n"), "{stats}");
    let _ = std::fs::remove_dir_all(&rdir);
}

#[test]
fn viator_chain_from_the_config_file_and_masterdown() {
    let master = Server::start();
    let mut m = master.client();
    workload(&mut m, 8, 300);
    let port = master.port().to_string();
    let replica = Server::start_with(&[
        "--replicaof",
        "127.0.0.1",
        &port,
        "--replica-serve-stale-data",
        "no",
        "--replica-announce-ip",
        "10.1.2.3",
    ]);
    workload(&mut m, 9, 300);
    assert_converges(&master, &replica);
    // The master shows the announced address.
    let line = info_field(&mut m, "slave0").unwrap_or_default();
    assert!(line.starts_with(&format!("ip=10.1.2.3,port={},state=online,", replica.port())), "{line}");
    // A replica of the replica gets the stream through it.
    let sub = Server::start_with(&["--replicaof", "127.0.0.1", &replica.port().to_string()]);
    workload(&mut m, 10, 300);
    assert_converges(&master, &replica);
    assert_converges(&replica, &sub);
    let mut r = replica.client();
    let hello: redis::Value = q(&mut r, &["HELLO", "2"]);
    assert!(format!("{hello:?}").contains("replica"), "{hello:?}");
    // With the master gone and replica-serve-stale-data no: MASTERDOWN,
    // except for commands allowed on stale data.
    drop(m);
    drop(master);
    assert!(wait_for(Duration::from_secs(5), || info_field(&mut r, "master_link_status").as_deref() == Some("down")));
    assert_eq!(
        qe(&mut r, &["GET", "s1"]),
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
    );
    // PING is not one of them (no `stale` flag), INFO is.
    assert!(qe(&mut r, &["PING"]).starts_with("MASTERDOWN"));
    let _: String = q(&mut r, &["INFO", "replication"]);
}

/// The test plays the master: accepts the replica's connection and checks
/// its handshake word for word, answering as Redis 7.0 would.
fn fake_master_handshake(listener: &std::net::TcpListener, replica_port: u16) -> (Raw, Vec<u8>) {
    let (stream, _) = listener.accept().expect("the replica connects");
    let mut m = Raw::from_stream(stream);
    assert_eq!(show(&m.read_reply()), show(&resp(&[b"PING"])));
    m.send(b"+PONG\r\n");
    let port = replica_port.to_string();
    assert_eq!(show(&m.read_reply()), show(&resp(&[b"REPLCONF", b"listening-port", port.as_bytes()])));
    assert_eq!(show(&m.read_reply()), show(&resp(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])));
    m.send(b"+OK\r\n+OK\r\n");
    let psync = m.read_reply();
    (m, psync)
}

#[test]
fn handshake_offsets_getack_and_a_cut_inside_a_transaction() {
    // An empty snapshot, as a Viator master sends it.
    let rdb = {
        let donor = Server::start();
        let mut s = Raw::connect(donor.port());
        s.send(&resp(&[b"SYNC"]));
        let mut header = Vec::new();
        while !header.ends_with(b"\r\n") {
            header.extend(s.read_n(1, Duration::from_secs(5)));
        }
        let len: usize = std::str::from_utf8(&header[1..header.len() - 2]).unwrap().parse().unwrap();
        s.read_n(len, Duration::from_secs(5))
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mport = listener.local_addr().unwrap().port().to_string();
    let replica = Server::start();
    let mut r = replica.client();
    let _: () = q(&mut r, &["REPLICAOF", "127.0.0.1", &mport]);
    let (mut m, psync) = fake_master_handshake(&listener, replica.port());
    // A former master offers its own history first.
    assert!(psync.starts_with(b"*3\r\n$5\r\nPSYNC\r\n$40\r\n"), "{}", show(&psync));
    let id = "a".repeat(40);
    m.send(format!("+FULLRESYNC {id} 100\r\n${}\r\n", rdb.len()).as_bytes());
    m.send(&rdb);
    let applied = [resp(&[b"SELECT", b"0"]), resp(&[b"SET", b"a", b"1"])].concat();
    let open_tx = [resp(&[b"MULTI"]), resp(&[b"SET", b"b", b"2"])].concat();
    m.send(&applied);
    m.send(&open_tx);
    let off = 100 + applied.len() as i64;
    assert!(wait_for(Duration::from_secs(5), || info_field(&mut r, "slave_read_repl_offset")
        == Some((off + open_tx.len() as i64).to_string())));
    // Inside the transaction the offset waits for EXEC.
    assert_eq!(info_field(&mut r, "slave_repl_offset"), Some(off.to_string()));
    assert_eq!(info_field(&mut r, "master_replid"), Some(id.clone()));
    let a: String = q(&mut r, &["GET", "a"]);
    assert_eq!(a, "1");
    // GETACK is answered with the offset (ACKs also come every second).
    m.send(&resp(&[b"REPLCONF", b"GETACK", b"*"]));
    let want = show(&resp(&[b"REPLCONF", b"ACK", off.to_string().as_bytes()]));
    let mut seen = Vec::new();
    while !seen.contains(&want) && seen.len() < 5 {
        seen.push(show(&m.read_reply()));
    }
    assert!(seen.contains(&want), "{seen:?}");
    // Cut the link: the replica asks to continue right after what it applied.
    drop(m);
    let (mut m, psync) = fake_master_handshake(&listener, replica.port());
    let next = (off + 1).to_string();
    assert_eq!(show(&psync), show(&resp(&[b"PSYNC", id.as_bytes(), next.as_bytes()])));
    m.send(b"+CONTINUE\r\n");
    let tx = [resp(&[b"MULTI"]), resp(&[b"SET", b"b", b"2"]), resp(&[b"EXEC"])].concat();
    m.send(&tx);
    let end = off + tx.len() as i64;
    assert!(wait_for(Duration::from_secs(5), || info_field(&mut r, "slave_repl_offset") == Some(end.to_string())));
    let b: String = q(&mut r, &["GET", "b"]);
    assert_eq!(b, "2");
    assert!(replica.log().contains("Master accepted a Partial Resynchronization"), "{}", replica.log());
    // The replica serves no writes, and ROLE says where it stands.
    assert!(qe(&mut r, &["SET", "x", "1"]).starts_with("READONLY"));
    let role: redis::Value = q(&mut r, &["ROLE"]);
    assert_eq!(format!("{role:?}").matches("connected").count(), 1, "{role:?}");
}

#[test]
fn masteruser_and_masterauth_log_in_to_a_redis_master() {
    let mdir = Server::new_dir();
    let master = Server::start_redis_in(Path::new(REDIS_SERVER), &mdir, &[]);
    let mut m = master.client();
    let _: () = q(&mut m, &["ACL", "SETUSER", "repl", "on", ">pw", "~*", "&*", "+@all"]);
    // The default user needs a password from now on: only `repl` can sync.
    let _: () = q(&mut m, &["CONFIG", "SET", "requirepass", "other"]);
    let replica = Server::start();
    let mut r = replica.client();
    let _: () = q(&mut r, &["CONFIG", "SET", "masteruser", "repl"]);
    let _: () = q(&mut r, &["CONFIG", "SET", "masterauth", "pw"]);
    let _: () = q(&mut r, &["REPLICAOF", "127.0.0.1", &master.port().to_string()]);
    assert!(
        wait_for(Duration::from_secs(10), || info_field(&mut r, "master_link_status").as_deref() == Some("up")),
        "log:\n{}",
        replica.log()
    );
    let _ = std::fs::remove_dir_all(&mdir);
}

#[test]
fn failover_swaps_roles_with_a_viator_replica() {
    let master = Server::start();
    let replica = Server::start();
    let mut m = master.client();
    let mut r = replica.client();
    workload(&mut m, 11, 300);
    let _: () = q(&mut r, &["REPLICAOF", "127.0.0.1", &master.port().to_string()]);
    assert_converges(&master, &replica);
    // Rejections before anything starts.
    assert_eq!(qe(&mut r, &["FAILOVER"]), "ERR FAILOVER is not valid when server is a replica.");
    assert_eq!(
        qe(&mut m, &["FAILOVER", "TO", "127.0.0.1", "1", "TIMEOUT", "100"]),
        "ERR FAILOVER target HOST and PORT is not a replica."
    );
    assert_eq!(qe(&mut m, &["FAILOVER", "ABORT"]), "ERR No failover in progress.");
    // Written just before: the new master must have it.
    let _: () = q(&mut m, &["SET", "before", "failover"]);
    let rport = replica.port().to_string();
    let _: () = q(&mut m, &["FAILOVER", "TO", "127.0.0.1", &rport, "TIMEOUT", "10000"]);
    assert!(
        wait_for(Duration::from_secs(10), || {
            info_field(&mut m, "master_failover_state").as_deref() == Some("no-failover")
                && info_field(&mut m, "master_link_status").as_deref() == Some("up")
        }),
        "old master log:\n{}\nnew master log:\n{}",
        master.log(),
        replica.log()
    );
    assert_eq!(info_field(&mut m, "role").as_deref(), Some("slave"));
    assert_eq!(info_field(&mut m, "master_port"), Some(rport));
    assert_eq!(info_field(&mut r, "role").as_deref(), Some("master"));
    let v: String = q(&mut r, &["GET", "before"]);
    assert_eq!(v, "failover");
    // The old master continued the history: no full sync on either side.
    assert!(master.log().contains("Master accepted a Partial Resynchronization"), "{}", master.log());
    let stats: String = q(&mut r, &["INFO", "stats"]);
    assert!(stats.contains("sync_partial_ok:1\r\n") && stats.contains("sync_full:0\r\n"), "{stats}");
    // Writes now go to the new master and reach the old one.
    assert!(qe(&mut m, &["SET", "k", "v"]).starts_with("READONLY"));
    workload(&mut r, 12, 300);
    assert_converges(&replica, &master);
}

#[test]
fn two_replicas_share_one_disk_snapshot_and_receive_the_writes_made_meanwhile() {
    // A slow child (3 ms per key) so both replicas attach to the same
    // BGSAVE and writes land while it runs.
    let master = Server::start_with(&["--repl-diskless-sync", "no", "--rdb-key-save-delay", "3000"]);
    let mut m = master.client();
    workload(&mut m, 12, 500);
    let first = Server::start();
    let second = Server::start();
    let port = master.port().to_string();
    let _: () = q(&mut first.client(), &["REPLICAOF", "127.0.0.1", &port]);
    assert!(wait_for(Duration::from_secs(10), || master.log().contains("Starting BGSAVE for SYNC with target: disk")));
    let _: () = q(&mut second.client(), &["REPLICAOF", "127.0.0.1", &port]);
    workload(&mut m, 13, 500);
    assert_converges(&master, &first);
    assert_converges(&master, &second);
    let log = master.log();
    assert!(log.contains("Waiting for end of BGSAVE for SYNC"), "the second replica shares the first's snapshot:\n{log}");
    let stats: String = q(&mut m, &["INFO", "stats"]);
    assert!(stats.contains("sync_full:2\r\n"), "{stats}");
}

fn persistence_field(con: &mut Connection, name: &str) -> String {
    support::info_field(con, "persistence", name)
}

/// Cuts the master's link to its replicas mid-transfer; the next attempt
/// waits 5 s, so the replica is seen between two.
fn cut_replica_links(master: &Server) {
    let mut m = master.client();
    let _: () = q(&mut m, &["CONFIG", "SET", "repl-diskless-sync-delay", "5"]);
    let killed: i64 = q(&mut m, &["CLIENT", "KILL", "TYPE", "replica"]);
    assert_eq!(killed, 1);
}

/// A master that sends a diskless snapshot slowly: 2 ms per key.
fn slow_diskless_master(keys: &str) -> Server {
    let master = Server::start_with(&[
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
        "--rdbcompression",
        "no",
    ]);
    let mut m = master.client();
    let _: () = q(&mut m, &["DEBUG", "POPULATE", keys, "master", "1000"]);
    let _: () = q(&mut m, &["CONFIG", "SET", "rdb-key-save-delay", "2000"]);
    master
}

#[test]
fn swapdb_replica_keeps_its_old_data_when_the_link_dies_mid_transfer() {
    let master = slow_diskless_master("2000");
    let replica = Server::start_with(&["--repl-diskless-load", "swapdb"]);
    let mut r = replica.client();
    let _: () = q(&mut r, &["DEBUG", "POPULATE", "200", "old", "10"]);
    let _: () = q(&mut r, &["SET", "mykey", "myvalue"]);
    let _: () = q(&mut r, &["REPLICAOF", "127.0.0.1", &master.port().to_string()]);
    // Another history: the load is not asynchronous, clients get LOADING.
    assert!(
        wait_for(Duration::from_secs(10), || persistence_field(&mut r, "loading") == "1"),
        "replica log:\n{}",
        replica.log()
    );
    assert_eq!(persistence_field(&mut r, "async_loading"), "0");
    assert_eq!(qe(&mut r, &["GET", "mykey"]), "LOADING Redis is loading the dataset in memory");
    // Some keys are in the side set when the master goes away.
    assert!(wait_for(Duration::from_secs(10), || persistence_field(&mut r, "loading_loaded_bytes")
        .parse::<u64>()
        .is_ok_and(|n| n > 100_000)));
    cut_replica_links(&master);
    assert!(wait_for(Duration::from_secs(10), || persistence_field(&mut r, "loading") == "0"));
    let v: String = q(&mut r, &["GET", "mykey"]);
    assert_eq!(v, "myvalue");
    let n: i64 = q(&mut r, &["DBSIZE"]);
    assert_eq!(n, 201);
    let log = replica.log();
    assert!(log.contains("receiving streamed RDB from master with EOF to parser"), "{log}");
    assert!(log.contains("Discarding temporary DB in background"), "{log}");
    assert!(!log.contains("Swapping active DB with loaded DB"), "{log}");
}

#[test]
fn swapdb_of_the_same_history_serves_the_old_data_while_it_loads() {
    let master = slow_diskless_master("10");
    let replica = Server::start_with(&["--repl-diskless-load", "swapdb"]);
    let mut m = master.client();
    let mut r = replica.client();
    let _: () = q(&mut r, &["REPLICAOF", "127.0.0.1", &master.port().to_string()]);
    assert_converges(&master, &replica);
    assert!(replica.log().contains("Swapping active DB with loaded DB"), "{}", replica.log());
    // More data, then a full resync of the same history: the backlog is
    // outrun while the replica is cut off.
    let _: () = q(&mut m, &["DEBUG", "POPULATE", "2000", "more", "1000"]);
    let _: () = q(&mut m, &["CONFIG", "SET", "repl-backlog-size", "16384"]);
    let big = "A".repeat(16384);
    let _: redis::Value = redis::pipe()
        .atomic()
        .cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .cmd("SET")
        .arg("b1")
        .arg(&big)
        .cmd("SET")
        .arg("b2")
        .arg(&big)
        .query(&mut m)
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || persistence_field(&mut r, "async_loading") == "1"),
        "replica log:\n{}",
        replica.log()
    );
    // The old data is served meanwhile; what may not run now gets LOADING.
    assert_eq!(persistence_field(&mut r, "loading"), "0");
    let n: i64 = q(&mut r, &["DBSIZE"]);
    assert_eq!(n, 10);
    let v: Option<String> = q(&mut r, &["GET", "master:0"]);
    assert!(v.is_some());
    assert_eq!(qe(&mut r, &["REPLICAOF", "NO", "ONE"]), "LOADING Redis is loading the dataset in memory");
    assert!(qe(&mut r, &["CONFIG", "SET", "repl-diskless-load", "disabled"]).starts_with("LOADING"));
    // The link dies: the old data stays.
    cut_replica_links(&master);
    assert!(wait_for(Duration::from_secs(10), || persistence_field(&mut r, "async_loading") == "0"));
    let n: i64 = q(&mut r, &["DBSIZE"]);
    assert_eq!(n, 10);
}

#[test]
fn on_empty_db_replica_loads_a_redis_master_snapshot_from_the_socket() {
    let mdir = Server::new_dir();
    let master = Server::start_redis_in(
        Path::new(REDIS_SERVER),
        &mdir,
        &["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"],
    );
    let mut m = master.client();
    workload(&mut m, 21, 3000);
    let _: () = q(&mut m, &["DEBUG", "POPULATE", "5000", "pop", "100"]);
    let replica = Server::start_with(&["--repl-diskless-load", "on-empty-db"]);
    let mut r = replica.client();
    let _: () = q(&mut r, &["REPLICAOF", "127.0.0.1", &master.port().to_string()]);
    // Writes during the synchronisation.
    workload(&mut m, 22, 1000);
    assert_converges(&master, &replica);
    let log = replica.log();
    assert!(log.contains("receiving streamed RDB from master with EOF to parser"), "{log}");
    assert!(log.contains("MASTER <-> REPLICA sync: Flushing old data"), "{log}");
    assert!(log.contains("MASTER <-> REPLICA sync: Finished with success"), "{log}");
    drop(master);
    let _ = std::fs::remove_dir_all(&mdir);
}

#[test]
fn a_diskless_replica_has_repl_timeout_to_load_before_its_first_ack() {
    let master = Server::start_with(&["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0", "--repl-timeout", "5"]);
    let mut m = master.client();
    workload(&mut m, 21, 200);
    // A replica by hand: it takes the EOF-marked snapshot, then stays silent
    // for two seconds (as a replica loading a big snapshot would) before its
    // first REPLCONF ACK. The master's once-a-second cron must not count that
    // silence from before the transfer ended.
    let mut r = master.raw();
    r.roundtrip(&resp(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]), b"+OK\r\n");
    r.send(&resp(&[b"PSYNC", b"?", b"-1"]));
    let full = r.read_reply();
    assert!(show(&full).starts_with("+FULLRESYNC "), "{}", show(&full));
    let mut header = Vec::new();
    while !header.ends_with(b"\r\n") {
        let byte = r.read_n(1, Duration::from_secs(10));
        assert!(!byte.is_empty(), "no snapshot header");
        header.extend_from_slice(&byte);
    }
    let header = String::from_utf8_lossy(&header).into_owned();
    let mark = header.trim_start_matches("$EOF:").trim().to_string();
    assert_eq!(mark.len(), 40, "an EOF-marked diskless transfer: {header}");
    let mut body = Vec::new();
    while !body.ends_with(mark.as_bytes()) {
        let chunk = r.read_n(1, Duration::from_secs(10));
        assert!(!chunk.is_empty(), "the snapshot ended early");
        body.extend_from_slice(&chunk);
    }
    assert!(wait_for(Duration::from_secs(5), || master.log().contains("Waiting for REPLCONF ACK")));
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!master.log().contains("Disconnecting timedout replica"), "{}", master.log());
    r.send(&resp(&[b"REPLCONF", b"ACK", b"0"]));
    assert!(wait_for(Duration::from_secs(5), || info_field(&mut m, "connected_slaves").as_deref() == Some("1")
        && master.log().contains("Synchronization with replica")));
}

#[test]
fn a_replica_link_that_asks_for_a_reply_is_dropped() {
    let master = Server::start_with(&["--repl-diskless-sync", "no", "--save", ""]);
    let mut m = master.client();
    // A keyspace command on a replica link is refused, and the refusal
    // itself is a reply the link must not carry: the replica is dropped.
    let mut r = master.raw();
    r.send(&resp(&[b"PSYNC", b"?", b"-1"]));
    assert!(show(&r.read_reply()).starts_with("+FULLRESYNC "));
    r.send(&resp(&[b"GET", b"foo"]));
    assert!(r.closed_within(Duration::from_secs(5)));
    let log = master.log();
    assert!(log.contains("Replica generated a reply to command 'get', disconnecting it: id="), "{log}");
    assert!(
        log.contains(
            "== CRITICAL == This master is sending an error to its replica: 'Replica can't interact with the keyspace' after processing the command 'get'"
        ),
        "{log}"
    );
    assert_eq!(support::info_field(&mut m, "stats", "unexpected_error_replies"), "1");
    // A command that merely answers (a subcommand here) ends the link too.
    let mut r = master.raw();
    r.send(&resp(&[b"SYNC"]));
    r.send(&resp(&[b"SLOWLOG", b"GET"]));
    assert!(r.closed_within(Duration::from_secs(5)));
    assert!(master.log().contains("Replica generated a reply to command 'slowlog|get'"));
    // The server itself is fine.
    let pong: String = q(&mut m, &["PING"]);
    assert_eq!(pong, "PONG");
}

#[test]
fn psync_with_a_bad_offset_is_refused_and_logged() {
    let master = Server::start();
    let mut m = master.client();
    let err = qe(&mut m, &["PSYNC", "replicationid", "offset_str"]);
    assert!(err.contains("value is not an integer or out of range"), "{err}");
    assert!(master.log().contains("asks for synchronization but with a wrong offset"));
    let pong: String = q(&mut m, &["PING"]);
    assert_eq!(pong, "PONG");
}

#[test]
fn a_disk_snapshot_nobody_waits_for_is_stopped_unless_save_points_want_it() {
    // Ten keys at a second each: the snapshot would take ten seconds.
    let master = Server::start_with(&["--repl-diskless-sync", "no", "--save", "", "--rdb-key-save-delay", "1000000"]);
    let mut m = master.client();
    for i in 0..10 {
        let _: () = q(&mut m, &["SET", &i.to_string(), "v"]);
    }
    let in_progress = |m: &mut Connection| persistence_field(m, "rdb_bgsave_in_progress") == "1";
    let attach = || {
        let mut r = master.raw();
        r.send(&resp(&[b"PSYNC", b"?", b"-1"]));
        assert!(show(&r.read_reply()).starts_with("+FULLRESYNC "));
        r
    };
    let first = attach();
    let second = attach();
    assert!(wait_for(Duration::from_secs(5), || in_progress(&mut m)));
    drop(first);
    std::thread::sleep(Duration::from_millis(300));
    assert!(in_progress(&mut m), "another replica still waits for the snapshot");
    drop(second);
    assert!(wait_for(Duration::from_secs(3), || !in_progress(&mut m)), "nobody waits: the child is stopped");
    // With save points the snapshot is worth finishing.
    let _: () = q(&mut m, &["CONFIG", "SET", "save", "900 1"]);
    let third = attach();
    assert!(wait_for(Duration::from_secs(5), || in_progress(&mut m)));
    drop(third);
    std::thread::sleep(Duration::from_millis(500));
    assert!(in_progress(&mut m), "save points keep the snapshot going");
}

/// Reads the `$EOF:<mark>` header of a diskless transfer and returns the mark.
fn read_eof_mark(r: &mut Raw) -> String {
    let mut header = Vec::new();
    while !header.ends_with(b"\r\n") {
        let byte = r.read_n(1, Duration::from_secs(10));
        assert!(!byte.is_empty(), "no snapshot header");
        header.extend_from_slice(&byte);
    }
    String::from_utf8_lossy(&header).trim_start_matches("$EOF:").trim().to_string()
}

#[test]
fn a_stalled_diskless_receiver_is_dropped_and_the_other_gets_the_whole_snapshot() {
    let master = Server::start_with(&[
        "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "5", "--repl-diskless-sync-max-replicas", "2",
        "--repl-timeout", "2", "--rdbcompression", "no",
    ]);
    let mut m = master.client();
    // 8 MB: more than a stalled reader's socket buffers absorb.
    let _: () = q(&mut m, &["DEBUG", "POPULATE", "2000", "key", "4000"]);
    // Both ask before either is answered: +FULLRESYNC comes when the shared
    // child starts, once the second replica is there.
    let ask = || {
        let mut r = master.raw();
        r.roundtrip(&resp(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]), b"+OK\r\n");
        r.send(&resp(&[b"PSYNC", b"?", b"-1"]));
        r
    };
    let mut fast = ask();
    let mut stalled = ask();
    assert!(show(&fast.read_reply()).starts_with("+FULLRESYNC "));
    assert!(show(&stalled.read_reply()).starts_with("+FULLRESYNC "));
    let mark = read_eof_mark(&mut fast);
    let mut body = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !body.ends_with(mark.as_bytes()) {
        assert!(std::time::Instant::now() < deadline, "the snapshot stopped at {} bytes:\n{}", body.len(), master.log());
        body.extend_from_slice(&fast.read_n(64 * 1024, Duration::from_millis(100)));
    }
    let log = master.log();
    assert_eq!(log.matches("Disconnecting timedout replica (full sync)").count(), 1, "{log}");
    assert!(log.contains("Diskless rdb transfer, done reading from pipe, 1 replicas still up."), "{log}");
}

#[test]
fn a_functions_only_snapshot_for_redis_cli_holds_no_keys() {
    let srv = Server::start();
    let mut c = srv.client();
    assert_eq!(qe(&mut c, &["REPLCONF", "rdb-filter-only", "keys"]), "ERR Unsupported rdb-filter-only option: keys");
    let ok: String = q(&mut c, &["REPLCONF", "rdb-filter-only", "functions"]);
    assert_eq!(ok, "OK");
    // A filtered snapshot only travels EOF-marked.
    assert_eq!(qe(&mut c, &["SYNC"]), "ERR Filtered replica requires EOF capability");
    let mut c = srv.client();
    let _: String = q(&mut c, &["SET", "k", "v"]);
    let lib: String = q(&mut c, &["FUNCTION", "LOAD", "#!lua name=lib1\nredis.register_function('f1', function() return 1 end)"]);
    assert_eq!(lib, "lib1");
    // The real redis-cli asks for it (REPLCONF rdb-filter-only functions).
    let dir = Server::new_dir();
    let file = dir.join("functions.rdb");
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &srv.port().to_string(), "--functions-rdb"])
        .arg(&file)
        .output()
        .expect("redis-cli");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Transfer finished with success"), "{out:?}");
    // Loaded by a fresh server: the library, and no key.
    std::fs::rename(&file, dir.join("dump.rdb")).expect("rename");
    let loaded = Server::start_in(&dir, &[]);
    let mut l = loaded.client();
    let size: i64 = q(&mut l, &["DBSIZE"]);
    assert_eq!(size, 0);
    let one: i64 = q(&mut l, &["FCALL", "f1", "0"]);
    assert_eq!(one, 1);
}
