//! Sentinel through real processes: a Viator master and replica watched by
//! three Viator Sentinels (quorum 2). Checks discovery (replicas and other
//! Sentinels), then kills the master with SIGKILL and waits until every
//! Sentinel names the promoted replica, the replica reports the master role
//! and `+switch-master` was published in Redis's format. Also the start-up
//! rules: a Sentinel refuses to run without a writable config file, and the
//! `viator-sentinel --master ...` short form writes one.
//!
//! Sentinel ports are fixed in 23800-23899 (the Tcl sentinel suite uses
//! lower ports of the 23000 range); data nodes get free ports from the harness.

mod support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{q, wait_for, Raw, Server};

/// A Sentinel process, killed when dropped.
struct Sentinel {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Sentinel {
    /// Starts `viator-sentinel <dir>/sentinel-<port>.conf` monitoring `mymaster`.
    fn start(dir: &Path, port: u16, master_port: u16) -> Sentinel {
        Sentinel::start_bin(Path::new(env!("CARGO_BIN_EXE_viator-sentinel")), dir, port, master_port)
    }

    /// The same with another binary started as `<bin> <conf> --sentinel` (redis-server).
    fn start_bin(bin: &Path, dir: &Path, port: u16, master_port: u16) -> Sentinel {
        let conf = dir.join(format!("sentinel-{port}.conf"));
        std::fs::write(
            &conf,
            format!(
                "# user comment kept by rewrites\nport {port}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 {master_port} 2\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n"
            ),
        )
        .expect("write sentinel config");
        let child = spawn_logged(
            Command::new(bin).arg(&conf).arg("--sentinel").current_dir(dir),
            &dir.join(format!("sentinel-{port}.log")),
        );
        let s = Sentinel { child, port, dir: dir.to_path_buf() };
        assert!(
            wait_for(Duration::from_secs(5), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()),
            "sentinel {port} did not start: {}",
            s.log()
        );
        s
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("sentinel-{}.log", self.port))).unwrap_or_default()
    }

    fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .expect("url")
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect to sentinel")
    }

    /// Entries of `SENTINEL <what> mymaster`.
    fn count(&self, what: &str) -> usize {
        let v: Vec<redis::Value> = q(&mut self.client(), &["SENTINEL", what, "mymaster"]);
        v.len()
    }

    fn master_addr(&self) -> (String, String) {
        let v: Vec<String> = q(&mut self.client(), &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]);
        (v[0].clone(), v[1].clone())
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A data node on a fixed port (so it can come back on the same address), killed when dropped.
/// Spawns `cmd` with stdout and stderr both going to the file `log`.
fn spawn_logged(cmd: &mut Command, log: &Path) -> Child {
    let out = File::create(log).expect("create log");
    let err = out.try_clone().expect("clone log");
    cmd.stdin(Stdio::null()).stdout(Stdio::from(out)).stderr(Stdio::from(err)).spawn().expect("spawn")
}

struct Node {
    child: Child,
    port: u16,
}

impl Node {
    fn start(dir: &Path, port: u16, extra: &[&str]) -> Node {
        Node::start_bin(Path::new(env!("CARGO_BIN_EXE_viator-server")), dir, port, extra)
    }

    fn start_bin(bin: &Path, dir: &Path, port: u16, extra: &[&str]) -> Node {
        let child = spawn_logged(
            Command::new(bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--dir"])
                .arg(dir)
                .args(extra),
            &dir.join(format!("node-{port}.log")),
        );
        let n = Node { child, port };
        assert!(wait_for(Duration::from_secs(5), || n.try_client().is_some()), "node {port} did not start");
        n
    }

    fn try_client(&self) -> Option<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .ok()?
            .get_connection_with_timeout(Duration::from_secs(2))
            .ok()
    }

    fn client(&self) -> redis::Connection {
        self.try_client().expect("connect to node")
    }

    /// ROLE, or nothing when the node cannot answer right now: a Sentinel
    /// reconfiguring it sends CLIENT KILL TYPE normal, which may take our
    /// connection with it (callers poll).
    fn role(&self) -> Vec<redis::Value> {
        self.try_client().and_then(|mut c| redis::cmd("ROLE").query(&mut c).ok()).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kill9(pid: u32) {
    let st = Command::new("kill").args(["-9", &pid.to_string()]).status().expect("run kill");
    assert!(st.success());
}

#[test]
fn three_sentinels_discover_and_fail_over() {
    let master = Server::start();
    let replica = Server::start_with(&["--replicaof", "127.0.0.1", &master.port().to_string()]);
    let mut rc = replica.client();
    assert!(
        wait_for(Duration::from_secs(10), || {
            let info: String = q(&mut rc, &["INFO", "replication"]);
            info.contains("master_link_status:up")
        }),
        "replica never synced"
    );
    let dir = Server::new_dir();
    let sentinels: Vec<Sentinel> = (23800..23803).map(|p| Sentinel::start(&dir, p, master.port())).collect();

    for s in &sentinels {
        let ok = wait_for(Duration::from_secs(20), || s.count("REPLICAS") == 1 && s.count("SENTINELS") == 2);
        assert!(ok, "sentinel {} did not discover the group: {}", s.port, s.log());
        let role: Vec<redis::Value> = q(&mut s.client(), &["ROLE"]);
        assert_eq!(role.len(), 2);
        let info: String = q(&mut s.client(), &["INFO", "sentinel"]);
        assert!(info.contains("master0:name=mymaster,status=ok"), "{info}");
        assert!(info.contains(",slaves=1,sentinels=3"), "{info}");
    }
    // Discovery was saved, with the user's comment kept.
    let conf = std::fs::read_to_string(dir.join("sentinel-23800.conf")).expect("read config");
    assert!(conf.starts_with("# user comment kept by rewrites\n"), "{conf}");
    assert!(conf.contains(&format!("sentinel known-replica mymaster 127.0.0.1 {}", replica.port())), "{conf}");
    assert_eq!(conf.matches("sentinel known-sentinel mymaster").count(), 2, "{conf}");
    assert!(conf.contains("sentinel myid "), "{conf}");

    let mut events = Raw::connect(sentinels[0].port);
    events.send(b"SUBSCRIBE +switch-master\r\n");
    let _ = events.read_for(Duration::from_millis(200));

    kill9(master.pid());
    let want = ("127.0.0.1".to_string(), replica.port().to_string());
    for s in &sentinels {
        let ok = wait_for(Duration::from_secs(30), || s.master_addr() == want);
        assert!(ok, "sentinel {} did not switch: {}", s.port, s.log());
    }
    // The promotion killed normal clients (CLIENT KILL TYPE normal): reconnect.
    let role: Vec<redis::Value> = q(&mut replica.client(), &["ROLE"]);
    assert_eq!(role.first(), Some(&redis::Value::BulkString(b"master".to_vec())));
    let got = String::from_utf8_lossy(&events.read_for(Duration::from_millis(500))).into_owned();
    let line = format!("mymaster 127.0.0.1 {} 127.0.0.1 {}", master.port(), replica.port());
    assert!(got.contains(&line), "+switch-master message missing: {got:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The seed scenario: a master and two replicas, three Sentinels with quorum 2
/// and down-after-milliseconds 5000 (1000 here, for time); writes acknowledged
/// by `WAIT 1 0` survive a SIGKILL of the master, the clients find the new
/// master through the Sentinels, and the old master comes back as a replica.
#[test]
fn acknowledged_writes_survive_failover_and_old_master_rejoins() {
    let dir = Server::new_dir();
    let mut master = Node::start(&dir, 23810, &[]);
    let r1 = Node::start(&dir, 23811, &["--replicaof", "127.0.0.1", "23810"]);
    let r2 = Node::start(&dir, 23812, &["--replicaof", "127.0.0.1", "23810"]);
    let sentinels: Vec<Sentinel> = (23820..23823).map(|p| Sentinel::start(&dir, p, 23810)).collect();
    for s in &sentinels {
        let ok = wait_for(Duration::from_secs(20), || s.count("REPLICAS") == 2 && s.count("SENTINELS") == 2);
        assert!(ok, "sentinel {} did not discover the group: {}", s.port, s.log());
    }
    let mut mc = master.client();
    let mut acked = Vec::new();
    for i in 0..200 {
        let key = format!("k{i}");
        let _: () = q(&mut mc, &["SET", &key, &i.to_string()]);
        let n: i64 = q(&mut mc, &["WAIT", "1", "0"]);
        if n >= 1 {
            acked.push(key);
        }
    }
    assert_eq!(acked.len(), 200);
    kill9(master.child.id());
    let _ = master.child.wait();

    // A client that asks the Sentinels, as redis-py's Sentinel.master_for does.
    let mut new_port = String::new();
    let ok = wait_for(Duration::from_secs(30), || {
        let (_, port) = sentinels[1].master_addr();
        new_port = port;
        new_port != "23810"
    });
    assert!(ok, "no failover: {}", sentinels[0].log());
    let promoted = if new_port == "23811" { &r1 } else { &r2 };
    let other = if new_port == "23811" { &r2 } else { &r1 };
    assert!(wait_for(Duration::from_secs(10), || {
        promoted.role().first() == Some(&redis::Value::BulkString(b"master".to_vec()))
    }));
    let mut pc = promoted.client();
    for key in &acked {
        let v: Option<String> = q(&mut pc, &["GET", key]);
        assert!(v.is_some(), "acknowledged write {key} lost");
    }
    // The other replica follows the new master.
    let follows = wait_for(Duration::from_secs(20), || {
        let role = other.role();
        role.get(2) == Some(&redis::Value::Int(promoted.port as i64))
            || role.get(2) == Some(&redis::Value::BulkString(promoted.port.to_string().into_bytes()))
    });
    assert!(follows, "other replica not re-pointed: {:?}", other.role());
    // The old master returns and is turned into a replica of the new one.
    let old = Node::start(&dir, 23810, &[]);
    let rejoined =
        wait_for(Duration::from_secs(30), || old.role().first() == Some(&redis::Value::BulkString(b"slave".to_vec())));
    assert!(rejoined, "old master did not become a replica: {}", sentinels[0].log());
    drop(sentinels);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Mixed group: one Viator Sentinel beside two Redis Sentinels, watching Redis
/// data nodes. They discover each other through hello messages and all agree
/// on the failover, whoever leads it.
#[test]
fn viator_sentinel_in_a_redis_sentinel_group() {
    let redis = Path::new("/usr/bin/redis-server");
    if !redis.exists() {
        eprintln!("skipped: no /usr/bin/redis-server");
        return;
    }
    let dir = Server::new_dir();
    let master = Node::start_bin(redis, &dir, 23840, &[]);
    let replica = Node::start_bin(redis, &dir, 23841, &["--replicaof", "127.0.0.1", "23840"]);
    let sentinels = vec![
        Sentinel::start_bin(redis, &dir, 23842, 23840),
        Sentinel::start_bin(redis, &dir, 23843, 23840),
        Sentinel::start(&dir, 23844, 23840),
    ];
    for s in &sentinels {
        let ok = wait_for(Duration::from_secs(20), || s.count("REPLICAS") == 1 && s.count("SENTINELS") == 2);
        assert!(ok, "sentinel {} did not discover the group: {}", s.port, s.log());
    }
    kill9(master.child.id());
    let want = ("127.0.0.1".to_string(), replica.port.to_string());
    for s in &sentinels {
        let ok = wait_for(Duration::from_secs(30), || s.master_addr() == want);
        assert!(ok, "sentinel {} did not switch: {}", s.port, s.log());
    }
    drop(sentinels);
    drop(master);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sentinel_needs_a_writable_config_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_viator-server"))
        .args(["--sentinel", "--port", "23850"])
        .output()
        .expect("run viator-server --sentinel");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("Sentinel needs config file on disk to save state. Exiting..."), "{text}");
}

#[test]
fn short_form_writes_a_config_file() {
    let master = Server::start();
    let dir = Server::new_dir();
    let conf = dir.join("s.conf");
    let mut child = Command::new(env!("CARGO_BIN_EXE_viator-sentinel"))
        .args(["--master", "m1", "--host", "127.0.0.1", "--port", &master.port().to_string()])
        .args(["--quorum", "1", "--sentinel-port", "23851", "--down-after", "1500"])
        .arg("--config")
        .arg(&conf)
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn viator-sentinel");
    let ok = wait_for(Duration::from_secs(5), || {
        redis::Client::open("redis://127.0.0.1:23851/")
            .and_then(|c| c.get_connection())
            .and_then(|mut c| redis::cmd("SENTINEL").arg("MASTER").arg("m1").query::<Vec<String>>(&mut c))
            .is_ok_and(|v| v.windows(2).any(|w| w[0] == "down-after-milliseconds" && w[1] == "1500"))
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "short-form sentinel did not monitor m1");
    let text = std::fs::read_to_string(&conf).expect("config written");
    assert!(text.contains(&format!("sentinel monitor m1 127.0.0.1 {} 1", master.port())), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two Sentinels watching the same two masters reach each other over one
/// shared command link each: `link-refcount` is 2 in both masters' lists.
#[test]
fn one_link_per_sentinel_shared_across_masters() {
    let m1 = Server::start();
    let m2 = Server::start();
    let dir = Server::new_dir();
    let mut children = Vec::new();
    for port in [23860u16, 23861] {
        let conf = dir.join(format!("s-{port}.conf"));
        let text = format!(
            "port {port}\nbind 127.0.0.1\nsentinel monitor m1 127.0.0.1 {} 1\nsentinel monitor m2 127.0.0.1 {} 1\n",
            m1.port(),
            m2.port()
        );
        std::fs::write(&conf, text).expect("write config");
        let child = Command::new(env!("CARGO_BIN_EXE_viator-sentinel"))
            .arg(&conf)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn viator-sentinel");
        children.push(child);
    }
    let refcounts = |port: u16, master: &str| -> Vec<String> {
        redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .and_then(|mut c| redis::cmd("SENTINEL").arg("SENTINELS").arg(master).query::<Vec<Vec<String>>>(&mut c))
            .map(|list| {
                list.iter()
                    .filter_map(|f| f.windows(2).find(|w| w[0] == "link-refcount").map(|w| w[1].clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let shared = wait_for(Duration::from_secs(20), || {
        [23860, 23861].iter().all(|&p| ["m1", "m2"].iter().all(|m| refcounts(p, m) == vec!["2".to_string()]))
    });
    let seen = format!("{:?} {:?}", refcounts(23860, "m1"), refcounts(23861, "m2"));
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    assert!(shared, "link-refcount not 2: {seen}");
    let _ = std::fs::remove_dir_all(&dir);
}
