//! Introspection through a real client (the `redis` crate, sync API) against a
//! real `viator-server`: SLOWLOG, LATENCY (monitor and histograms) and the
//! INFO sections that count commands and errors.
//!
//! Owns the reply shapes of these commands as Redis 7.0 sends them; the
//! bucket arithmetic and trimming rules have their unit tests in
//! `src/latency.rs` and `src/slowlog.rs`.

mod support;

use redis::Value;
use support::{q, qe, Server};

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

/// The value of `field` in an INFO text.
fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines().find_map(|l| l.strip_prefix(&format!("{field}:")).map(|v| v.trim_end().to_string()))
}

#[test]
fn slowlog_captures_a_debug_sleep() {
    let srv = Server::start_with(&["--slowlog-log-slower-than", "100000"]);
    let mut c = srv.client();
    let _: () = q(&mut c, &["CLIENT", "SETNAME", "sleeper"]);
    let _: () = q(&mut c, &["PING"]);
    assert_eq!(q::<i64>(&mut c, &["SLOWLOG", "LEN"]), 0);
    let _: () = q(&mut c, &["DEBUG", "SLEEP", "0.15"]);
    assert_eq!(q::<i64>(&mut c, &["SLOWLOG", "LEN"]), 1);

    let entries: Vec<Value> = q(&mut c, &["SLOWLOG", "GET"]);
    assert_eq!(entries.len(), 1);
    let Value::Array(e) = &entries[0] else { panic!("entry: {:?}", entries[0]) };
    assert_eq!(e.len(), 6);
    assert_eq!(int(&e[0]), 0, "first id");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((now - int(&e[1])).abs() <= 5, "time {:?}", e[1]);
    assert!(int(&e[2]) >= 150_000, "duration {:?}", e[2]);
    let Value::Array(argv) = &e[3] else { panic!("argv: {:?}", e[3]) };
    assert_eq!(argv.iter().map(text).collect::<Vec<_>>(), ["DEBUG", "SLEEP", "0.15"]);
    assert!(text(&e[4]).starts_with("127.0.0.1:"), "peer {:?}", e[4]);
    assert_eq!(text(&e[5]), "sleeper");

    // Everything logged: long commands are trimmed, RESET keeps the ids going.
    let _: () = q(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    let mut args = vec!["SADD", "s"];
    let members: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    args.extend(members.iter().map(|s| s.as_str()));
    let _: i64 = q(&mut c, &args);
    let newest: Vec<Value> = q(&mut c, &["SLOWLOG", "GET", "1"]);
    let Value::Array(e) = &newest[0] else { panic!() };
    let Value::Array(argv) = &e[3] else { panic!() };
    assert_eq!(argv.len(), 32);
    assert_eq!(text(&argv[31]), "... (11 more arguments)");
    let _: () = q(&mut c, &["SLOWLOG", "RESET"]);
    let after: Vec<Value> = q(&mut c, &["SLOWLOG", "GET", "-1"]);
    // Only the RESET itself, logged once it finished.
    assert_eq!(after.len(), 1);
    let Value::Array(e) = &after[0] else { panic!() };
    assert!(int(&e[0]) > 2, "ids continue after RESET");
    assert_eq!(qe(&mut c, &["SLOWLOG", "GET", "-2"]), "ERR count should be greater than or equal to -1");

    // AUTH never reaches the log in clear.
    let _ = qe(&mut c, &["AUTH", "secret-password"]);
    let newest: Vec<Value> = q(&mut c, &["SLOWLOG", "GET", "1"]);
    let Value::Array(e) = &newest[0] else { panic!() };
    let Value::Array(argv) = &e[3] else { panic!() };
    assert_eq!(argv.iter().map(text).collect::<Vec<_>>(), ["AUTH", "(redacted)"]);
}

#[test]
fn latency_histogram_shape() {
    let srv = Server::start();
    let mut c = srv.client();
    let _: () = q(&mut c, &["CONFIG", "RESETSTAT"]);
    let _: () = q(&mut c, &["SET", "a", "b"]);
    let _: () = q(&mut c, &["SET", "c", "d"]);
    let _: i64 = q(&mut c, &["CLIENT", "ID"]);

    // RESP2: a flat array of name, {calls, histogram_usec} pairs.
    let reply: Vec<Value> = q(&mut c, &["LATENCY", "HISTOGRAM", "set", "client", "nosuchcommand"]);
    assert_eq!(reply.len(), 4, "{reply:?}");
    assert_eq!(text(&reply[0]), "set");
    assert_eq!(text(&reply[2]), "client|id");
    let Value::Array(body) = &reply[1] else { panic!("{:?}", reply[1]) };
    assert_eq!(text(&body[0]), "calls");
    assert_eq!(int(&body[1]), 2);
    assert_eq!(text(&body[2]), "histogram_usec");
    let Value::Array(buckets) = &body[3] else { panic!("{:?}", body[3]) };
    assert!(!buckets.is_empty() && buckets.len() % 2 == 0);
    let pairs: Vec<(i64, i64)> = buckets.chunks(2).map(|p| (int(&p[0]), int(&p[1]))).collect();
    assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1), "{pairs:?}");
    assert_eq!(pairs.last().unwrap().1, 2, "cumulative counts end at the number of calls");

    // All commands: config|resetstat is there too; RESETSTAT empties it.
    let all: Vec<Value> = q(&mut c, &["LATENCY", "HISTOGRAM"]);
    let names: Vec<String> = all.iter().step_by(2).map(text).collect();
    assert!(names.contains(&"config|resetstat".to_string()), "{names:?}");
    let _: () = q(&mut c, &["CONFIG", "RESETSTAT"]);
    let only: Vec<Value> = q(&mut c, &["LATENCY", "HISTOGRAM"]);
    assert_eq!(only.len(), 2);
    assert_eq!(text(&only[0]), "config|resetstat");

    // The same histograms feed INFO latencystats.
    let info: String = q(&mut c, &["INFO", "latencystats"]);
    let line = info_field(&info, "latency_percentiles_usec_config|resetstat").expect("latencystats line");
    assert!(line.starts_with("p50=") && line.contains(",p99=") && line.contains(",p99.9="), "{line}");
}

#[test]
fn latency_monitor_records_slow_commands() {
    let srv = Server::start_with(&["--latency-monitor-threshold", "50"]);
    let mut c = srv.client();
    assert_eq!(q::<Vec<Value>>(&mut c, &["LATENCY", "LATEST"]), Vec::<Value>::new());
    let _: () = q(&mut c, &["DEBUG", "SLEEP", "0.1"]);
    let latest: Vec<Value> = q(&mut c, &["LATENCY", "LATEST"]);
    assert_eq!(latest.len(), 1);
    let Value::Array(ev) = &latest[0] else { panic!() };
    assert_eq!(text(&ev[0]), "command");
    assert!(int(&ev[2]) >= 100 && int(&ev[3]) >= 100, "{ev:?}");
    let history: Vec<Value> = q(&mut c, &["LATENCY", "HISTORY", "command"]);
    assert_eq!(history.len(), 1);
    let graph: String = q(&mut c, &["LATENCY", "GRAPH", "command"]);
    assert!(graph.starts_with("command - high "), "{graph}");
    assert_eq!(qe(&mut c, &["LATENCY", "GRAPH", "nope"]), "ERR No samples available for event 'nope'");
    let doctor: String = q(&mut c, &["LATENCY", "DOCTOR"]);
    assert!(doctor.contains("1. command: 1 latency spikes"), "{doctor}");
    assert_eq!(q::<i64>(&mut c, &["LATENCY", "RESET", "nope"]), 0);
    assert_eq!(q::<i64>(&mut c, &["LATENCY", "RESET"]), 1);
    assert_eq!(q::<Vec<Value>>(&mut c, &["LATENCY", "LATEST"]), Vec::<Value>::new());
}

#[test]
fn info_errorstats_and_commandstats() {
    let srv = Server::start();
    let mut c = srv.client();
    let _: () = q(&mut c, &["CONFIG", "RESETSTAT"]);
    let _: () = q(&mut c, &["SET", "k", "v"]);
    assert!(qe(&mut c, &["LPUSH", "k", "x"]).starts_with("WRONGTYPE"));
    assert!(qe(&mut c, &["NOSUCHCOMMAND"]).starts_with("ERR unknown command"));
    assert!(qe(&mut c, &["GET"]).starts_with("ERR wrong number of arguments"));

    let info: String = q(&mut c, &["INFO", "errorstats", "stats", "commandstats"]);
    assert_eq!(info_field(&info, "errorstat_WRONGTYPE").as_deref(), Some("count=1"));
    assert_eq!(info_field(&info, "errorstat_ERR").as_deref(), Some("count=2"));
    assert_eq!(info_field(&info, "total_error_replies").as_deref(), Some("3"));
    let lpush = info_field(&info, "cmdstat_lpush").expect("lpush stats");
    assert!(lpush.starts_with("calls=1,") && lpush.ends_with(",rejected_calls=0,failed_calls=1"), "{lpush}");
    let get = info_field(&info, "cmdstat_get").expect("get stats");
    assert!(get.starts_with("calls=0,") && get.ends_with(",rejected_calls=1,failed_calls=0"), "{get}");
    // Sections come in INFO's fixed order, whatever the order asked.
    let (stats, cmds, errs) =
        (info.find("# Stats").unwrap(), info.find("# Commandstats").unwrap(), info.find("# Errorstats").unwrap());
    assert!(stats < cmds && cmds < errs, "{info}");
    assert!(!info.contains("# Server"));

    // Default INFO has errorstats but no commandstats; everything has all.
    let default: String = q(&mut c, &["INFO"]);
    assert!(default.contains("# Errorstats\r\n") && !default.contains("# Commandstats"));
    let everything: String = q(&mut c, &["INFO", "everything"]);
    for section in ["# Server", "# Memory", "# Commandstats", "# Latencystats", "# Keyspace"] {
        assert!(everything.contains(section), "INFO everything lacks {section}");
    }
    assert!(info_field(&everything, "used_memory_peak").is_some());
    assert!(info_field(&everything, "allocator_frag_ratio").is_some());

    let _: () = q(&mut c, &["CONFIG", "RESETSTAT"]);
    let info: String = q(&mut c, &["INFO", "errorstats", "stats"]);
    assert_eq!(info_field(&info, "errorstat_ERR"), None);
    assert_eq!(info_field(&info, "total_error_replies").as_deref(), Some("0"));
}

/// What the kernel shows as the server's command line.
fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
    String::from_utf8_lossy(&raw).trim_end_matches('\0').to_string()
}

#[test]
fn the_process_title_follows_the_template() {
    let srv = Server::start();
    let mut c = srv.client();
    let port = srv.port().to_string();
    // The default template: "{title} {listen-addr} {server-mode}".
    let shown = cmdline(srv.pid());
    assert!(shown.contains("viator-server"), "{shown:?}");
    assert!(shown.ends_with(&format!(":{port}")), "{shown:?}");
    let ok: String = q(&mut c, &["CONFIG", "SET", "proc-title-template", "T {port} {title}"]);
    assert_eq!(ok, "OK");
    let shown = cmdline(srv.pid());
    assert!(shown.starts_with(&format!("T {port} ")), "{shown:?}");
    assert!(shown.contains("viator-server"), "{shown:?}");
    // A template that expands to nothing is refused; the title stays.
    let e = qe(&mut c, &["CONFIG", "SET", "proc-title-template", "{invalid-var}"]);
    assert!(e.contains("template format is invalid"), "{e}");
    assert!(cmdline(srv.pid()).starts_with(&format!("T {port} ")));
}

#[test]
fn an_environment_entry_setenv_refuses_does_not_stop_start_up() {
    // The kernel passes any string; "=odd=1" has a name setenv rejects.
    let port = support::free_port();
    let dir = Server::new_dir();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_viator-server"))
        .args(["--port", &port.to_string(), "--save", "", "--dir"])
        .arg(&dir)
        .env("=odd", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("viator-server");
    let up = support::wait_for(std::time::Duration::from_secs(5), || {
        redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .and_then(|c| c.get_connection())
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    });
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(up, "the server did not start");
}
