//! viator-sentinel: runs `viator-server` in Sentinel mode, as redis-sentinel
//! is redis-server under another name.
//!
//! `viator-sentinel sentinel.conf [options]` passes its arguments through.
//! The short form `--master NAME --host H --port P --quorum Q --sentinel-port N
//! [--down-after ms] [--failover-timeout ms] [--parallel-syncs n]
//! [--auth-pass p] [--config path]` writes a Sentinel config file (a Sentinel
//! must have one to save its state) and starts from it. Must not implement
//! any Sentinel behaviour itself: it only builds arguments and execs the
//! server binary found next to it.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;

/// The short-form options, by name.
const SHORT: &[&str] = &[
    "--master",
    "--host",
    "--port",
    "--quorum",
    "--sentinel-port",
    "--down-after",
    "--failover-timeout",
    "--parallel-syncs",
    "--auth-pass",
    "--config",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let server_args = if args.iter().any(|a| a == "--master") {
        match short_form(&args) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("viator-sentinel: {e}");
                std::process::exit(1);
            }
        }
    } else {
        args
    };
    let exe = std::env::current_exe().ok().and_then(|p| p.parent().map(|d| d.join("viator-server")));
    let server = exe.filter(|p| p.exists()).unwrap_or_else(|| PathBuf::from("viator-server"));
    // argv[0] names the sentinel, so the server starts in Sentinel mode.
    let err = std::process::Command::new(&server).arg0("viator-sentinel").args(&server_args).exec();
    eprintln!("viator-sentinel: cannot run {}: {err}", server.display());
    std::process::exit(1);
}

/// Turns the short form into a config file and the server's arguments.
fn short_form(args: &[String]) -> Result<Vec<String>, String> {
    let mut get = std::collections::HashMap::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if !SHORT.contains(&a) {
            return Err(format!("unknown option '{a}'"));
        }
        let v = args.get(i + 1).ok_or_else(|| format!("option '{a}' needs a value"))?;
        get.insert(a, v.clone());
        i += 2;
    }
    let need = |k: &str| get.get(k).cloned().ok_or_else(|| format!("missing {k}"));
    let name = need("--master")?;
    let host = need("--host")?;
    let port = need("--port")?;
    let quorum = get.get("--quorum").cloned().unwrap_or_else(|| "2".into());
    let sport = get.get("--sentinel-port").cloned().unwrap_or_else(|| "26379".into());
    let path = get.get("--config").cloned().unwrap_or_else(|| format!("sentinel-{sport}.conf"));
    let path = std::path::absolute(&path).map_err(|e| e.to_string())?;
    if !path.exists() {
        let mut text = format!("port {sport}\nsentinel monitor {name} {host} {port} {quorum}\n");
        for (opt, directive) in [
            ("--down-after", "down-after-milliseconds"),
            ("--failover-timeout", "failover-timeout"),
            ("--parallel-syncs", "parallel-syncs"),
            ("--auth-pass", "auth-pass"),
        ] {
            if let Some(v) = get.get(opt) {
                text.push_str(&format!("sentinel {directive} {name} {v}\n"));
            }
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(vec![path.display().to_string(), "--port".into(), sport])
}
