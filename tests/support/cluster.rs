//! Cluster-mode nodes for the integration tests: a cluster-enabled server
//! (Viator or Debian's redis-server) on a port whose bus port (+10000) is
//! free too, in its own directory, killed and removed on drop, restartable
//! in place (same port, same nodes.conf).
//!
//! Like the rest of the harness it asserts nothing about replies beyond
//! PING: the tests own their assertions.

#![allow(dead_code)] // each test file uses a different subset

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::Duration;

use super::wait_for;

static DIR_SEQ: AtomicUsize = AtomicUsize::new(0);

/// Ports a test binary hands out: from `next` up to (excluding) `end`.
pub struct PortRange {
    pub next: AtomicU16,
    pub end: u16,
}

impl PortRange {
    /// A port whose bus port (+10000) is free too.
    pub fn take(&self) -> u16 {
        loop {
            let p = self.next.fetch_add(1, Ordering::SeqCst);
            assert!(p < self.end, "ran out of cluster test ports below {}", self.end);
            let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
            if free(p) && free(p + 10000) {
                return p;
            }
        }
    }
}

/// One cluster-enabled server process.
pub struct Node {
    bin: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
}

impl Node {
    /// Starts `bin` in cluster mode (nodes.conf in its own directory, no save
    /// points) with `extra` directives, and waits for PING. A port lost to
    /// another process meanwhile is retried with the next one.
    pub fn start(bin: &Path, ports: &PortRange, extra: &[&str]) -> Node {
        let dir = std::env::temp_dir().join(format!(
            "viator-cluster-node-{}-{}",
            std::process::id(),
            DIR_SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("create node dir");
        let args = extra.iter().map(|s| s.to_string()).collect();
        let mut node = Node { bin: bin.to_path_buf(), args, child: None, port: 0, dir };
        for _attempt in 0..5 {
            node.port = ports.take();
            if node.launch() {
                return node;
            }
            eprintln!("node on {} did not start, retrying:\n{}", node.port, node.log());
            node.kill9();
        }
        panic!("no cluster node could start in {}", node.dir.display());
    }

    /// (Re)starts the process on its port and directory; true once it
    /// answers PING (false if it exits or stays silent for 10 s).
    pub fn launch(&mut self) -> bool {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("open node log");
        let child = Command::new(&self.bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--cluster-enabled", "yes"])
            .args(["--cluster-config-file", "nodes.conf", "--save", ""])
            .args(&self.args)
            .arg("--dir")
            .arg(&self.dir)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("clone log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn cluster node");
        self.child = Some(child);
        wait_for(Duration::from_secs(10), || {
            let exited = self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
            exited || self.try_q(&["PING"]).is_ok_and(|r| r == "PONG")
        }) && self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGKILL, and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether the process is running (not killed by the test).
    pub fn is_up(&self) -> bool {
        self.child.is_some()
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// One command's reply as text: status and bulk replies as they are,
    /// integers in decimal, arrays one element per line.
    pub fn try_q(&self, args: &[&str]) -> redis::RedisResult<String> {
        let mut con = redis::Client::open(self.url())?.get_connection_with_timeout(Duration::from_secs(2))?;
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        Ok(match cmd.query::<redis::Value>(&mut con)? {
            redis::Value::Int(n) => n.to_string(),
            redis::Value::Array(items) => items
                .into_iter()
                .map(|v| redis::from_redis_value::<String>(&v).unwrap_or_else(|_| format!("{v:?}")))
                .collect::<Vec<_>>()
                .join("\n"),
            v => redis::from_redis_value::<String>(&v).unwrap_or_default(),
        })
    }

    /// `try_q`, panicking (with the node's port) on an error reply.
    pub fn q(&self, args: &[&str]) -> String {
        self.try_q(args).unwrap_or_else(|e| panic!("{args:?} on {}: {e}", self.port))
    }

    pub fn id(&self) -> String {
        self.q(&["CLUSTER", "MYID"])
    }

    /// First word of ROLE ("master", "slave"), empty if unreachable.
    pub fn role(&self) -> String {
        self.try_q(&["ROLE"]).map(|r| r.lines().next().unwrap_or("").to_string()).unwrap_or_default()
    }

    /// CLUSTER INFO says cluster_state:ok.
    pub fn state_ok(&self) -> bool {
        self.try_q(&["CLUSTER", "INFO"]).is_ok_and(|i| i.contains("cluster_state:ok"))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
