//! Tests for the configuration module: syntax, units, errors, include, `save`,
//! CONFIG GET/SET/REWRITE, the command line, and random input.

use super::*;
use std::sync::atomic::{AtomicU64, Ordering};

fn cfg(text: &str) -> Config {
    match Config::from_text(text.as_bytes()) {
        Ok(c) => c,
        Err(e) => panic!("config failed: {e}"),
    }
}

fn err(text: &str) -> ConfigError {
    match Config::from_text(text.as_bytes()) {
        Ok(_) => panic!("config unexpectedly accepted: {text:?}"),
        Err(e) => e,
    }
}

fn get1(c: &Config, name: &str) -> String {
    c.get_one(name.as_bytes()).unwrap_or_else(|| panic!("no directive {name}"))
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A fresh directory under the system temp dir, unique per call.
fn temp_dir(tag: &str) -> std::path::PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("viator-config-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn words(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|s| s.as_bytes().to_vec()).collect()
}

// ---------------------------------------------------------------- syntax

#[test]
fn split_args_quoting_and_escapes() {
    assert_eq!(split_args(b"  set  key   value "), Some(words(&["set", "key", "value"])));
    assert_eq!(split_args(b""), Some(vec![]));
    assert_eq!(split_args(b" \t "), Some(vec![]));
    assert_eq!(split_args(b"\"a b\" c"), Some(words(&["a b", "c"])));
    assert_eq!(split_args(br#""\n\r\t\b\a\\\"\q""#), Some(vec![b"\n\r\t\x08\x07\\\"q".to_vec()]));
    assert_eq!(split_args(br#""\x41\x4a\x4""#), Some(vec![b"AJx4".to_vec()]));
    assert_eq!(split_args(br#"'it\'s' '\n'"#), Some(vec![b"it's".to_vec(), b"\\n".to_vec()]));
    assert_eq!(split_args(b"foo\"bar\" x"), Some(words(&["foobar", "x"])), "quote inside a word");
    assert_eq!(split_args(b"\"\" ''"), Some(vec![vec![], vec![]]));
    assert_eq!(split_args(b"\"abc\"def"), None, "closing quote must be followed by space");
    assert_eq!(split_args(b"'abc'def"), None);
    assert_eq!(split_args(b"\"abc"), None);
    assert_eq!(split_args(b"'abc"), None);
    assert_eq!(split_args(b"\"abc\\\""), None);
    assert_eq!(split_args(b"a\0b c"), Some(words(&["a"])), "NUL ends a C string");
    assert_eq!(split_args(b"\"a\"\x0bb"), Some(words(&["a", "b"])), "vertical tab separates after a quote");
}

#[test]
fn comments_blank_lines_and_case() {
    let c = cfg("# comment\n\n   \n\tPORT 7000\r\n  # indented comment\nMaxMemory 1mb\n");
    assert_eq!(c.port, 7000);
    assert_eq!(c.maxmemory, 1 << 20);
}

// ---------------------------------------------------------------- values

#[test]
fn memory_units_in_config() {
    for (text, bytes) in [
        ("1", 1i64),
        ("1b", 1),
        ("1k", 1000),
        ("1kb", 1024),
        ("1KB", 1024),
        ("1m", 1_000_000),
        ("1mb", 1 << 20),
        ("1Mb", 1 << 20),
        ("1g", 1_000_000_000),
        ("1gb", 1 << 30),
        ("1GB", 1 << 30),
        ("700mb", 734_003_200),
    ] {
        let c = cfg(&format!("maxmemory {text}"));
        assert_eq!(c.maxmemory, bytes, "{text}");
        assert_eq!(get1(&c, "maxmemory"), bytes.to_string());
    }
    let e = err("maxmemory 1tb");
    assert_eq!(e.reason, "argument must be a memory value");
    let e = err("maxmemory -1");
    assert_eq!(e.reason, "argument must be a memory value");
    assert_eq!(cfg("maxmemory-clients 10%").maxmemory_clients, -10);
    assert_eq!(get1(&cfg("maxmemory-clients 10%"), "maxmemory-clients"), "10%");
    assert_eq!(err("maxmemory-clients 200%").reason, "percentage argument must be less or equal to 100");
    assert_eq!(err("maxmemory-clients x").reason, "argument must be a memory or percent value");
}

#[test]
fn integers_bounds_and_exact_errors() {
    let e = err("# first\nport 70000\n");
    assert_eq!(e.line, Some(2));
    assert_eq!(
        e.to_string(),
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 2\n\
         >>> 'port 70000'\nargument must be between 0 and 65535 inclusive\n"
    );
    assert_eq!(err("port 1k").reason, "argument couldn't be parsed into an integer");
    assert_eq!(err("port +1").reason, "argument couldn't be parsed into an integer");
    assert_eq!(err("port 007").reason, "argument couldn't be parsed into an integer");
    assert_eq!(err("maxclients 0").reason, "argument must be between 1 and 4294967295 inclusive");
    assert_eq!(err("maxclients -1").reason, "argument must be between 1 and 4294967295 inclusive");
    assert_eq!(
        err("hash-max-listpack-entries -1").reason,
        "argument must be between 0 and 9223372036854775807 inclusive"
    );
    assert_eq!(err("slowlog-max-len -1").reason, "argument must be between 0 and 9223372036854775807 inclusive");
    assert_eq!(err("databases 0").reason, "argument must be between 1 and 2147483647 inclusive");
    assert_eq!(
        err("proto-max-bulk-len 1000").reason,
        "argument must be between 1048576 and 9223372036854775807 inclusive"
    );
    assert_eq!(cfg("slowlog-log-slower-than -1").slowlog_log_slower_than, -1);
    assert_eq!(cfg("list-max-ziplist-size -5").list_max_listpack_size, -5);
}

#[test]
fn octal_unixsocketperm() {
    let c = cfg("unixsocketperm 700");
    assert_eq!(c.unixsocketperm, 0o700);
    assert_eq!(get1(&c, "unixsocketperm"), "700");
    assert_eq!(err("unixsocketperm 1000").reason, "argument must be between 0 and 777 inclusive");
    assert_eq!(err("unixsocketperm 9").reason, "argument couldn't be parsed as an octal number");
}

#[test]
fn yes_no_enum_and_string_errors() {
    assert!(cfg("daemonize YES").daemonize);
    assert_eq!(err("daemonize maybe").reason, "argument must be 'yes' or 'no'");
    assert_eq!(cfg("loglevel WARNING").loglevel, LogLevel::Warning);
    assert_eq!(
        err("loglevel loud").reason,
        "argument(s) must be one of the following: debug, verbose, notice, warning"
    );
    assert_eq!(
        err("maxmemory-policy lru").reason,
        "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, \
         allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
    );
    let c = cfg("oom-score-adj relative\nenable-debug-command local");
    assert_eq!(c.oom_score_adj, OomScoreAdj::Relative);
    assert_eq!(get1(&c, "oom-score-adj"), "yes");
    assert_eq!(c.enable_debug_command, ProtectedMode::Local);
    assert_eq!(err("dbfilename a/b.rdb").reason, "dbfilename can't be a path, just a filename");
    assert_eq!(err("appendfilename \"\"").reason, "appendfilename can't be empty");
    assert_eq!(
        err("cluster-announce-hostname a_b").reason,
        "Hostnames may only contain alphanumeric characters, hyphens or dots"
    );
    assert_eq!(err("proc-title-template {nope}").reason, "template format is invalid or contains unknown variables");
    assert_eq!(err("proc-title-template {title}").reason, "template format is invalid or contains unknown variables");
    assert_eq!(cfg("proc-title-template \"{title} {port}\"").proc_title_template, "{title} {port}");
    let c = cfg("requirepass \"p w\"\nlogfile ''");
    assert_eq!(c.requirepass, "p w");
    assert_eq!(c.logfile, "");
}

#[test]
fn structural_errors() {
    assert_eq!(err("nosuchthing 1").reason, "Bad directive or wrong number of arguments");
    assert_eq!(err("port 1 2").reason, "wrong number of arguments");
    assert_eq!(err("port").reason, "wrong number of arguments");
    assert_eq!(err("include").reason, "Bad directive or wrong number of arguments");
    let e = err("port 1\nbind \"127.0.0.1\n");
    assert_eq!(e.line, Some(2));
    assert_eq!(e.text, "bind \"127.0.0.1");
    assert_eq!(e.reason, "Unbalanced quotes in configuration line");
    assert_eq!(err("sentinel monitor m 127.0.0.1 6379 2").reason, "sentinel directive while not in sentinel mode");
    assert_eq!(err("foo.bar").reason, "Module config specified without value");
    assert_eq!(err("replicaof 127.0.0.1 abc").reason, "Invalid master port");
    assert_eq!(err("replicaof 127.0.0.1").reason, "wrong number of arguments");
    let e = err("cluster-enabled yes\nreplicaof 127.0.0.1 6379");
    assert_eq!(e.line, None);
    assert_eq!(
        e.to_string(),
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nreplicaof directive not allowed in cluster mode\n"
    );
    assert_eq!(err("notify-keyspace-events KEq").reason, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
    assert_eq!(err("oom-score-adj-values 0 200").reason, "wrong number of arguments");
    assert_eq!(
        err("oom-score-adj-values 0 200 3000").reason,
        "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
    );
    assert_eq!(
        err("client-output-buffer-limit normal 0 0").reason,
        "Wrong number of arguments in buffer limit configuration."
    );
    assert_eq!(
        err("client-output-buffer-limit master 0 0 0").reason,
        "Invalid client class specified in buffer limit configuration."
    );
    assert_eq!(
        err("client-output-buffer-limit normal 0 0 -1").reason,
        "Error in hard, soft or soft_seconds setting in buffer limit configuration."
    );
    assert_eq!(
        err("latency-tracking-info-percentiles 50 101").reason,
        "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
    );
    assert_eq!(
        err("latency-tracking-info-percentiles x").reason,
        "Invalid latency-tracking-info-percentiles parameters"
    );
    assert_eq!(
        err("shutdown-on-sigint save nosave").reason,
        "shutdown options SAVE and NOSAVE can't be used simultaneously"
    );
    assert_eq!(err(&format!("bind {}", vec!["1.1.1.1"; 17].join(" "))).reason, "Too many bind addresses specified.");
}

#[test]
fn deprecated_and_stored_lines() {
    let c = cfg(
        "list-max-ziplist-entries 512\nlua-replicate-commands yes\n\
                 rename-command FLUSHDB \"\"\nuser alice on >pw ~* +@all\nloadmodule /x.so a b\nfoo.bar 1 2\nfoo.bar 3",
    );
    assert_eq!(c.rename_commands, vec![("FLUSHDB".to_string(), String::new())]);
    assert_eq!(c.users, vec![args(&["alice", "on", ">pw", "~*", "+@all"])]);
    assert_eq!(c.loadmodules, vec![args(&["/x.so", "a", "b"])]);
    assert_eq!(c.module_configs, vec![("foo.bar".to_string(), "3".to_string())]);
    assert_eq!(err("list-max-ziplist-entries 1 2").reason, "Bad directive or wrong number of arguments");
}

#[test]
fn specials_render_like_redis() {
    let c = Config::default();
    assert_eq!(get1(&c, "save"), "3600 1 300 100 60 10000");
    assert_eq!(get1(&c, "bind"), "* -::*");
    assert_eq!(
        get1(&c, "client-output-buffer-limit"),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
    assert_eq!(get1(&c, "oom-score-adj-values"), "0 200 800");
    assert_eq!(get1(&c, "latency-tracking-info-percentiles"), "50 99 99.9");
    assert_eq!(get1(&c, "notify-keyspace-events"), "");
    assert_eq!(get1(&c, "replicaof"), "");
    assert_eq!(get1(&c, "shutdown-on-sigint"), "default");
    assert_eq!(get1(&c, "maxmemory"), "0");
    assert_eq!(get1(&c, "proto-max-bulk-len"), "536870912");
    assert_eq!(get1(&c, "appendonly"), "no");
    assert_eq!(get1(&c, "unixsocketperm"), "0");
    assert_eq!(get1(&c, "tls-auth-clients"), "yes");

    let c = cfg("notify-keyspace-events KEA\nslaveof 10.0.0.1 6380\n\
                 client-output-buffer-limit replica 1gb 512mb 30 pubsub 0 0 0\n\
                 shutdown-on-sigint nosave force now\nlatency-tracking-info-percentiles \"\"");
    assert_eq!(get1(&c, "notify-keyspace-events"), "AKE");
    assert_eq!(c.notify_keyspace_events, notify::ALL | notify::KEYSPACE | notify::KEYEVENT);
    assert_eq!(c.replicaof, Some(("10.0.0.1".to_string(), 6380)));
    assert_eq!(get1(&c, "replicaof"), "10.0.0.1 6380");
    assert_eq!(c.client_output_buffer_limit.replica.hard_limit_bytes, 1 << 30);
    assert_eq!(get1(&c, "client-output-buffer-limit"), "normal 0 0 0 slave 1073741824 536870912 30 pubsub 0 0 0");
    assert_eq!(get1(&c, "shutdown-on-sigint"), "nosave now force");
    assert!(c.latency_tracking_info_percentiles.is_empty());
    assert_eq!(cfg("replicaof no one").replicaof, None);
    assert_eq!(cfg("bind \"\"").bind, Vec::<String>::new());
    assert_eq!(cfg("bind 127.0.0.1 -::1").bind, args(&["127.0.0.1", "-::1"]));
}

// ---------------------------------------------------------------- save

#[test]
fn save_semantics() {
    assert_eq!(Config::default().save, vec![(3600, 1), (300, 100), (60, 10000)]);
    assert_eq!(cfg("port 1").save, vec![(3600, 1), (300, 100), (60, 10000)], "no save line keeps defaults");
    assert_eq!(cfg("save 100 100").save, vec![(100, 100)], "first save line replaces the defaults");
    assert_eq!(cfg("save 900 1\nsave 300 10").save, vec![(900, 1), (300, 10)], "later lines append");
    assert_eq!(cfg("save 900 1 300 10").save, vec![(900, 1), (300, 10)]);
    assert_eq!(cfg("save 900 1\nsave \"\"").save, vec![], "save \"\" clears");
    assert_eq!(cfg("save \"\"\nsave 60 5").save, vec![(60, 5)]);
    assert_eq!(get1(&cfg("save \"\""), "save"), "");
    assert_eq!(err("save 900").reason, "Invalid save parameters");
    assert_eq!(err("save 0 1").reason, "Invalid save parameters");
    assert_eq!(err("save 1 -1").reason, "Invalid save parameters");
    assert_eq!(err("save 1x 1").reason, "Invalid save parameters");

    // CONFIG SET replaces the whole list.
    let mut c = cfg("save 900 1\nsave 300 10");
    assert_eq!(c.set(&[(b"save", b"3000 5")]), Ok(vec!["save"]));
    assert_eq!(c.save, vec![(3000, 5)]);
    assert_eq!(c.set(&[(b"save", b"")]), Ok(vec!["save"]));
    assert!(c.save.is_empty());
}

#[test]
fn save_after_an_include_replaces_like_redis() {
    // Redis stops treating the including file as "being read" once an include
    // finishes, so each later `save` line there starts the list again.
    let dir = temp_dir("saveinc");
    let inc = dir.join("inc.conf");
    std::fs::write(&inc, "port 1\n").unwrap_or_default();
    let c = cfg(&format!("save 900 1\nsave 300 10\ninclude {}\nsave 60 5\nsave 30 3", inc.display()));
    assert_eq!(c.save, vec![(30, 3)]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn save_on_the_command_line_like_redis_tests() {
    // From "CONFIG save params special case handled properly" and the command line
    // tests, with tests/assets/default.conf's `save 900 1`.
    let with_default_conf = |options: &[&str]| {
        let (opts, _) = parse::options_text(&args(options), 0);
        cfg(&format!("save 900 1\nloglevel notice\n{opts}"))
    };
    assert_eq!(get1(&with_default_conf(&[]), "save"), "900 1");
    assert_eq!(get1(&with_default_conf(&["--save", "100", "100"]), "save"), "900 1 100 100");
    assert_eq!(get1(&with_default_conf(&["--save", ""]), "save"), "");
    assert_eq!(get1(&with_default_conf(&["--save", "--loglevel", "verbose"]), "save"), "");
    let c = with_default_conf(&["--loglevel", "verbose", "--save"]);
    assert_eq!((get1(&c, "save").as_str(), c.loglevel), ("", LogLevel::Verbose));
    let c = with_default_conf(&["--proc-title-template", "--save", "--save", "", "--loglevel", "verbose"]);
    assert_eq!(c.proc_title_template, "--save");
    assert_eq!(get1(&c, "save"), "");
    assert_eq!(c.loglevel, LogLevel::Verbose);
    let (opts, _) = parse::options_text(&args(&["--save", "100", "100"]), 0);
    assert_eq!(get1(&cfg(&opts), "save"), "100 100");
}

// ---------------------------------------------------------------- include

#[test]
fn include_files_and_globs() {
    let dir = temp_dir("include");
    let a = dir.join("a.conf");
    let b = dir.join("b.conf");
    std::fs::write(&a, "port 7001\nmaxmemory 2mb\n").unwrap_or_default();
    std::fs::write(&b, format!("include {}\nport 7002\n", a.display())).unwrap_or_default();
    let c = cfg(&format!("port 7000\ninclude {}\nhz 20", b.display()));
    assert_eq!((c.port, c.maxmemory, c.hz), (7002, 2 << 20, 20));

    // Later lines override included ones.
    let c = cfg(&format!("include {}\nport 7003", a.display()));
    assert_eq!(c.port, 7003);

    // Glob: sorted, concatenated; no match is fine.
    let confd = dir.join("conf.d");
    std::fs::create_dir_all(&confd).unwrap_or_default();
    std::fs::write(confd.join("10-port.conf"), "port 7100\n").unwrap_or_default();
    std::fs::write(confd.join("20-port.conf"), "port 7200\ndatabases 4\n").unwrap_or_default();
    std::fs::write(confd.join(".hidden.conf"), "port 1\n").unwrap_or_default();
    let c = cfg(&format!("include {}/*.conf", confd.display()));
    assert_eq!((c.port, c.databases), (7200, 4));
    let c = cfg(&format!("include {}/none-*.conf\nport 9", confd.display()));
    assert_eq!(c.port, 9);

    // An error inside an included file names its own line.
    std::fs::write(confd.join("bad.txt"), "\n\nport x\n").unwrap_or_default();
    let e = err(&format!("port 1\ninclude {}/bad.txt", confd.display()));
    assert_eq!((e.line, e.text.as_str()), (Some(3), "port x"));

    // A missing file is the "can't open" log line.
    let missing = dir.join("missing.conf");
    let e = err(&format!("include {}", missing.display()));
    assert_eq!(e.kind, ConfigErrorKind::OpenFile);
    assert_eq!(
        e.to_string(),
        format!("Fatal error, can't open config file '{}': No such file or directory", missing.display())
    );

    // Self-inclusion is refused instead of recursing forever.
    let selfinc = dir.join("self.conf");
    std::fs::write(&selfinc, format!("include {}\n", selfinc.display())).unwrap_or_default();
    assert!(Config::from_text(format!("include {}", selfinc.display()).as_bytes()).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- CONFIG GET

#[test]
fn get_with_globs_and_aliases() {
    let c = cfg("maxmemory 10mb");
    let res = c.get(&[b"maxmemory", b"maxmemory*", b"bind", b"*of"]);
    let names: Vec<&str> = res.iter().map(|(n, _)| n.as_str()).collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "no duplicates: {names:?}");
    for n in [
        "maxmemory",
        "maxmemory-samples",
        "maxmemory-clients",
        "maxmemory-policy",
        "maxmemory-eviction-tenacity",
        "bind",
        "replicaof",
        "slaveof",
    ] {
        assert!(names.contains(&n), "missing {n} in {names:?}");
    }
    assert_eq!(res[0], ("maxmemory".to_string(), "10485760".to_string()));

    // Exact names answer under the name as written; case-insensitive.
    assert_eq!(c.get(&[b"MAXMEMORY"]), vec![("MAXMEMORY".to_string(), "10485760".to_string())]);
    assert_eq!(c.get(&[b"maxmemory", b"MaxMemory"]).len(), 1);
    assert_eq!(c.get(&[b"slave-serve-stale-data"]), vec![("slave-serve-stale-data".to_string(), "yes".to_string())]);
    assert_eq!(c.get(&[b"nosuch"]), vec![]);
    assert_eq!(c.get(&[b"nosuch*"]), vec![]);

    // Hidden configs need the exact name.
    let all = c.get(&[b"*"]);
    assert!(!all.iter().any(|(n, _)| n == "key-load-delay"));
    assert_eq!(c.get(&[b"key-load-delay"]).len(), 1);
    // Both names of aliased directives appear under "*".
    for n in [
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        "list-max-ziplist-size",
        "lua-time-limit",
        "zset-max-ziplist-value",
        "slave-priority",
    ] {
        assert!(all.iter().any(|(x, _)| x == n), "{n}");
    }
    // Glob classes, case-insensitive match.
    let res = c.get(&[b"HZ", b"[p]ort"]);
    assert_eq!(res, vec![("HZ".to_string(), "10".to_string()), ("port".to_string(), "6379".to_string())]);
}

// ---------------------------------------------------------------- CONFIG SET

#[test]
fn set_is_all_or_nothing() {
    let mut c = Config::default();
    assert_eq!(c.set(&[(b"maxmemory", b"10000002")]), Ok(vec!["maxmemory"]));
    let before = c.clone();
    assert_eq!(
        c.set(&[(b"maxmemory", b"10000001"), (b"maxmemory-clients", b"200%"), (b"client-query-buffer-limit", b"invalid")]),
        Err("ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100".to_string())
    );
    assert_eq!(c, before);

    assert_eq!(
        c.set(&[(b"maxmemory", b"1"), (b"foo", b"1")]),
        Err("ERR Unknown option or number of arguments for CONFIG SET - 'foo'".to_string())
    );
    assert_eq!(
        c.set(&[(b"daemonize", b"yes")]),
        Err("ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config".to_string())
    );
    assert_eq!(
        c.set(&[(b"dir", b"/tmp")]),
        Err("ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config".to_string())
    );
    assert_eq!(
        c.set(&[(b"maxmemory", b"10000001"), (b"MAXMEMORY", b"10000002")]),
        Err("ERR CONFIG SET failed (possibly related to argument 'MAXMEMORY') - duplicate parameter".to_string())
    );
    assert_eq!(
        c.set(&[(b"slave-serve-stale-data", b"maybe")]),
        Err("ERR CONFIG SET failed (possibly related to argument 'slave-serve-stale-data') - argument must be 'yes' or 'no'".to_string())
    );
    assert_eq!(
        c.set(&[(b"port", b"x")]),
        Err(
            "ERR CONFIG SET failed (possibly related to argument 'port') - argument couldn't be parsed into an integer"
                .to_string()
        )
    );
    assert_eq!(c, before);

    // A name and its alias are different entries: both apply, last wins.
    assert_eq!(
        c.set(&[(b"hash-max-listpack-entries", b"1"), (b"hash-max-ziplist-entries", b"2")]),
        Ok(vec!["hash-max-listpack-entries"])
    );
    assert_eq!(c.hash_max_listpack_entries, 2);

    // Unchanged values are not reported; `bind` is always re-applied, as in Redis.
    assert_eq!(c.set(&[(b"port", b"6379"), (b"bind", b"* -::*")]), Ok(vec!["bind"]));
    assert_eq!(
        c.set(&[(b"maxmemory", b"10000001"), (b"repl-backlog-size", b"10000002"), (b"save", b"3000 5")]),
        Ok(vec!["maxmemory", "repl-backlog-size", "save"])
    );
    assert_eq!((get1(&c, "maxmemory").as_str(), get1(&c, "save").as_str()), ("10000001", "3000 5"));

    // hz is kept in range.
    assert_eq!(c.set(&[(b"hz", b"1000")]), Ok(vec!["hz"]));
    assert_eq!(c.hz, 500);
}

#[test]
fn set_protected_and_loading_contexts() {
    let dir = temp_dir("setdir");
    let mut c = cfg("enable-protected-configs local");
    let local = SetContext { local: true, loading: false };
    assert!(c.set(&[(b"dbfilename", b"x.rdb")]).is_err());
    assert_eq!(c.set_from(&[(b"dbfilename", b"x.rdb")], local), Ok(vec!["dbfilename"]));
    let path = dir.to_string_lossy().into_owned();
    assert_eq!(c.set_from(&[(b"dir", path.as_bytes())], local), Ok(vec!["dir"]));
    let canonical = std::fs::canonicalize(&dir).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    assert_eq!(c.dir, canonical);
    let missing = dir.join("nope").to_string_lossy().into_owned();
    assert_eq!(
        c.set_from(&[(b"dir", missing.as_bytes())], local),
        Err("ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory".to_string())
    );
    let loading = SetContext { local: true, loading: true };
    assert_eq!(
        c.set_from(&[(b"dir", path.as_bytes())], loading),
        Err("LOADING Redis is loading the dataset in memory".to_string())
    );
    assert_eq!(c.set_from(&[(b"loglevel", b"debug")], loading), Ok(vec!["loglevel"]));
    let mut y = cfg("enable-protected-configs yes");
    assert_eq!(y.set(&[(b"dbfilename", b"y.rdb")]), Ok(vec!["dbfilename"]));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn set_same_value_sanity_like_redis() {
    // "CONFIG sanity": every mutable, unprotected config accepts its own value back.
    let base = cfg("enable-protected-configs no");
    let mut c = base.clone();
    for (name, value) in base.get(&[b"*"]) {
        let row = directive(name.as_bytes()).unwrap_or_else(|| panic!("{name}"));
        if row.has(DirectiveFlags::IMMUTABLE) || row.has(DirectiveFlags::PROTECTED) {
            continue;
        }
        if let Err(e) = c.set(&[(name.as_bytes(), value.as_bytes())]) {
            panic!("config set {name} {value:?}: {e}");
        }
    }
    assert_eq!(c.get(&[b"*"]), base.get(&[b"*"]));
}

#[test]
fn sensitive_and_canonical_names() {
    assert!(is_sensitive(b"requirepass"));
    assert!(is_sensitive(b"MASTERAUTH"));
    assert!(!is_sensitive(b"port"));
    assert_eq!(canonical_name(b"SLAVEOF"), Some("replicaof"));
    assert_eq!(canonical_name(b"hash-max-ziplist-value"), Some("hash-max-listpack-value"));
    assert_eq!(canonical_name(b"nope"), None);
}

// ---------------------------------------------------------------- table and defaults

#[test]
fn defaults_match_the_table() {
    let c = Config::default();
    for row in TABLE {
        let expected = match row.kind {
            Kind::Bool { default, .. } => (if default { "yes" } else { "no" }).to_string(),
            Kind::Str { default, .. } => default.unwrap_or("").to_string(),
            Kind::Num { default, format: NumFormat::Octal, .. } => format!("{default:o}"),
            Kind::Num { default, .. } => default.to_string(),
            Kind::Enum { names, default, .. } => value::enum_name(names, default, row.has(DirectiveFlags::MULTI_ARG)),
            Kind::Special(_) => continue,
        };
        assert_eq!(get1(&c, row.name), expected, "{}", row.name);
    }
    // Names are unique across names and aliases, lowercase.
    let mut all: Vec<&str> = TABLE.iter().flat_map(|r| std::iter::once(r.name).chain(r.alias)).collect();
    assert!(all.iter().all(|n| *n == n.to_ascii_lowercase()));
    let before = all.len();
    all.sort();
    all.dedup();
    assert_eq!(before, all.len());
    assert_eq!(LogLevel::DEFAULT_CODE, LogLevel::default().code());
}

#[test]
fn table_matches_redis_source_if_present() {
    let path = "/work/redis-src/redis-7.0.15/src/config.c";
    let Ok(src) = std::fs::read_to_string(path) else { return };
    let mut seen = 0;
    for line in src.lines() {
        let t = line.trim_start();
        if !(t.starts_with("create") && t.contains("Config(\"")) || t.starts_with("createSpecialConfig(name") {
            continue;
        }
        let Some(rest) = t.split_once("Config(\"").map(|(_, r)| r) else { continue };
        let Some((name, rest)) = rest.split_once('"') else { continue };
        if name.contains('%') || !line.starts_with("    create") {
            continue;
        }
        let alias = rest.trim_start_matches(", ").split(',').next().unwrap_or("").trim().trim_matches('"');
        let row = directive(name.as_bytes()).unwrap_or_else(|| panic!("missing directive {name}"));
        assert_eq!(row.name, name);
        assert_eq!(row.alias.unwrap_or("NULL"), alias, "alias of {name}");
        seen += 1;
    }
    // Directives of later Redis versions that Viator already implements.
    let newer = [
        "cluster-slot-stats-enabled",
        "cluster-slot-migration-handoff-max-lag-bytes",
        "cluster-slot-migration-write-pause-timeout",
        // Viator's own.
        "busy-poll-us",
    ];
    assert!(newer.iter().all(|n| directive(n.as_bytes()).is_some()));
    assert_eq!(seen + newer.len(), TABLE.len(), "every row of the Redis table is present");
}

#[test]
fn unimplemented_directives_are_reported() {
    let c = cfg("port 7000\nactive-defrag-cycle-min 2\nlua-time-limit 100\nmin-slaves-to-write 1\nhz 5\nrename-command DEBUG \"\"");
    assert_eq!(c.unimplemented_in_use(), vec!["active-defrag-cycle-min", "busy-reply-threshold"]);
    assert!(!c.was_given(b"slaveof"));
    assert!(c.was_given(b"min-slaves-to-write"));
    assert!(Config::default().unimplemented_in_use().is_empty());
}

// ---------------------------------------------------------------- REWRITE

fn rewrite_str(c: &Config, old: &str) -> String {
    String::from_utf8_lossy(&c.rewrite_text(old.as_bytes(), RewriteHooks::default())).into_owned()
}

#[test]
fn rewrite_keeps_comments_and_order() {
    let old = "# My server\n\nport 7000\n# memory\nmaxmemory 100mb\nmaxmemory 200mb\n\n\n\nloglevel notice\n\
               nosuchdirective 1\nrename-command FLUSHALL \"\"\n";
    let mut c = cfg(&old.replace("nosuchdirective 1\n", ""));
    c.save = vec![(900, 1)];
    c.set(&[(b"port", b"7001"), (b"maxmemory", b"1gb"), (b"timeout", b"30")]).unwrap_or_default();
    let out = rewrite_str(&c, old);
    let dir = c.dir.clone();
    assert_eq!(
        out,
        format!(
            "# My server\n\nport 7001\n# memory\nmaxmemory 1gb\n\nloglevel notice\n# ??? nosuchdirective 1\n\
             rename-command FLUSHALL \"\"\n\n# Generated by CONFIG REWRITE\ntimeout 30\ndir {}\nsave 900 1\n\
             latency-tracking-info-percentiles 50 99 99.9\n",
            repr(dir.as_bytes())
        )
    );
    // As in Redis, the next rewrite adds one trailing blank line, then it is stable.
    let second = rewrite_str(&c, &out);
    assert_eq!(second, format!("{out}\n"));
    assert_eq!(rewrite_str(&c, &second), second);
}

#[test]
fn rewrite_drops_default_lines_only_when_absent() {
    let c = cfg("hz 10\nappendonly no\n");
    let out = rewrite_str(&c, "hz 10\nappendonly no\n");
    assert!(out.starts_with("hz 10\nappendonly no\n"), "present lines stay even at default: {out}");
    let out = rewrite_str(&Config::default(), "");
    assert!(!out.contains("hz "), "{out}");
    assert!(out.contains("save 3600 1\nsave 300 100\nsave 60 10000\n"), "{out}");
    // `bind` at its default is removed.
    let out = rewrite_str(&Config::default(), "bind * -::*\n");
    assert!(!out.contains("bind"), "{out}");
    // Strings are quoted, memory uses units, enums use names.
    let c = cfg("logfile /tmp/x.log\nrequirepass \"a b\"\nmaxmemory 3mb\nmaxmemory-policy allkeys-lru\n\
                 notify-keyspace-events Ex\nunixsocketperm 700\nmaxmemory-clients 5%\nsave \"\"\n\
                 client-output-buffer-limit pubsub 64mb 16mb 90\nslaveof 10.1.1.1 6379");
    let out = rewrite_str(&c, "");
    for line in [
        "logfile \"/tmp/x.log\"",
        "requirepass \"a b\"",
        "maxmemory 3mb",
        "maxmemory-policy allkeys-lru",
        "notify-keyspace-events \"xE\"",
        "unixsocketperm 700",
        "maxmemory-clients 5%",
        "save \"\"",
        "client-output-buffer-limit pubsub 64mb 16mb 90",
        "replicaof 10.1.1.1 6379",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    assert!(!out.contains("client-output-buffer-limit normal"));
}

#[test]
fn rewrite_alias_lines_like_redis_tests() {
    // "CONFIG REWRITE handles alias config properly", both orders.
    for old in [
        "hash-max-listpack-entries 20\nhash-max-ziplist-entries 21\n",
        "hash-max-ziplist-entries 20\nhash-max-listpack-entries 21\n",
    ] {
        let mut c = cfg(old);
        assert_eq!(get1(&c, "hash-max-listpack-entries"), "21");
        assert_eq!(get1(&c, "hash-max-ziplist-entries"), "21");
        c.set(&[(b"hash-max-listpack-entries", b"100")]).unwrap_or_default();
        let out = rewrite_str(&c, old);
        assert!(out.starts_with("hash-max-listpack-entries 100\n\n"), "{out}");
        assert_eq!(cfg(&out).hash_max_listpack_entries, 100);
    }
}

#[test]
fn rewrite_save_and_shutdown_round_trip() {
    let mut c = Config::default();
    c.set(&[
        (b"save", b"3600 1 300 100 60 10000"),
        (b"shutdown-on-sigterm", b"nosave now"),
        (b"shutdown-on-sigint", b"save"),
    ])
    .unwrap_or_default();
    let back = cfg(&rewrite_str(&c, ""));
    assert_eq!(get1(&back, "save"), "3600 1 300 100 60 10000");
    assert_eq!(get1(&back, "shutdown-on-sigterm"), "nosave now");
    assert_eq!(get1(&back, "shutdown-on-sigint"), "save");
    c.set(&[(b"save", b""), (b"shutdown-on-sigterm", b"default")]).unwrap_or_default();
    let back = cfg(&rewrite_str(&c, ""));
    assert_eq!(get1(&back, "save"), "");
    assert_eq!(get1(&back, "shutdown-on-sigterm"), "default");
}

#[test]
fn rewrite_force_all_round_trips_every_value() {
    // "CONFIG REWRITE sanity": write everything, read it back, same CONFIG GET *.
    let c = cfg("maxmemory 5mb\nnotify-keyspace-events KEA\nbind 127.0.0.1\nrequirepass secret\nsave 10 1");
    let text = c.rewrite_text(b"", RewriteHooks { force_all: true, ..RewriteHooks::default() });
    let back = match Config::from_text(&text) {
        Ok(b) => b,
        Err(e) => panic!("{e}\n{}", String::from_utf8_lossy(&text)),
    };
    assert_eq!(back.get(&[b"*"]), c.get(&[b"*"]));
}

#[test]
fn rewrite_users_and_hooks() {
    let c = cfg("user alice on >pw ~* +@all\nuser bob off\n");
    let out = rewrite_str(&c, "# users\nuser alice on >pw ~* +@all\nuser bob off\nuser carol on\n");
    assert!(out.starts_with("# users\nuser alice on >pw ~* +@all\nuser bob off\n\n"), "{out}");
    let described = vec!["default on nopass sanitize-payload ~* &* +@all".to_string()];
    let mut sentinel_called = false;
    let mut extra = |s: &mut RewriteState| {
        sentinel_called = true;
        s.rewrite_line("sentinel myid", "sentinel myid abc".to_string(), true);
    };
    let text = c.rewrite_text(
        b"user x\n",
        RewriteHooks { users: Some(&described), extra: Some(&mut extra), ..RewriteHooks::default() },
    );
    let out = String::from_utf8_lossy(&text).into_owned();
    assert!(out.starts_with("user default on nopass sanitize-payload ~* &* +@all\n"), "{out}");
    assert!(out.ends_with("sentinel myid abc\n"), "{out}");
    assert!(sentinel_called);
}

#[test]
fn debug_info_lists_debug_directives() {
    let info = Config::default().debug_info();
    assert!(info.starts_with("io-threads-do-reads no\nlazyfree-lazy-eviction no\n"), "{info}");
    assert!(
        info.contains("\nproto-max-bulk-len 512mb\n") && info.contains("\nclient-query-buffer-limit 1gb\n"),
        "{info}"
    );
    assert!(!info.contains("Generated") && !info.contains("port "), "{info}");
}

#[test]
fn rewrite_writes_file_atomically() {
    let dir = temp_dir("rewrite");
    let path = dir.join("viator.conf");
    std::fs::write(&path, "# keep me\nport 7000\n").unwrap_or_default();
    let mut c = cfg("port 7000");
    c.set(&[(b"port", b"7005")]).unwrap_or_default();
    assert!(c.rewrite(&path).is_ok());
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(text.starts_with("# keep me\nport 7005\n"), "{text}");
    let entries = std::fs::read_dir(&dir).map(|d| d.filter_map(Result::ok).count()).unwrap_or(0);
    assert_eq!(entries, 1, "no temporary file left behind");
    // A missing file is created.
    let fresh = dir.join("new.conf");
    assert!(c.rewrite(&fresh).is_ok());
    assert!(std::fs::read_to_string(&fresh).unwrap_or_default().contains("port 7005"));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- start-up

#[test]
fn startup_special_arguments() {
    assert!(matches!(parse_startup(&args(&["-v"])), Ok(Startup::Version)));
    assert!(matches!(parse_startup(&args(&["--version"])), Ok(Startup::Version)));
    assert!(matches!(parse_startup(&args(&["-h"])), Ok(Startup::Help)));
    assert!(matches!(parse_startup(&args(&["--help"])), Ok(Startup::Help)));
    assert!(matches!(parse_startup(&args(&["--test-memory", "10"])), Ok(Startup::TestMemory)));
    let e = parse_startup(&args(&["--test-memory"])).err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("Please specify the amount of memory to test in megabytes.\nExample: ./redis-server --test-memory 4096\n")
    );
    match parse_startup(&[]) {
        Ok(Startup::Run { config, config_file: None, sentinel: false }) => assert_eq!(config.port, 6379),
        _ => panic!("empty args run with defaults"),
    }
    match parse_startup(&args(&["--port", "7777", "--sentinel"])) {
        Ok(Startup::Run { config, sentinel: true, .. }) => {
            assert_eq!(config.port, 7777);
            assert!(config.sentinel_mode);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(parse_startup_sentinel(&args(&["--port", "1"])), Ok(Startup::Run { sentinel: true, .. })));
    match parse_startup_sentinel(&args(&["--sentinel", "--loglevel", "verbose"])) {
        Ok(Startup::Run { config, .. }) => {
            assert_eq!((config.port, config.protected_mode), (26379, false));
            let out = String::from_utf8_lossy(
                &config.rewrite_text(b"sentinel monitor m 1.2.3.4 6379 2\n", RewriteHooks::default()),
            )
            .into_owned();
            assert!(out.starts_with("sentinel monitor m 1.2.3.4 6379 2\n"), "{out}");
            assert!(out.contains("\nport 26379\n") && !out.contains("save "), "{out}");
        }
        other => panic!("{other:?}"),
    }
}

fn startup_err(list: &[&str]) -> String {
    match parse_startup(&args(list)) {
        Ok(_) => panic!("accepted {list:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn command_line_error_cases_like_redis_tests() {
    let m = |list: &[&str], line: &str, why: &str| {
        let text = startup_err(list);
        assert!(text.contains(&format!(">>> '{line}'\n")), "{list:?}: {text}");
        assert!(text.contains(why), "{list:?}: {text}");
    };
    m(&["--port"], "port", "wrong number of arguments");
    m(&["--port", "6380", "--loglevel"], "loglevel", "wrong number of arguments");
    m(&["--port", "6379", "6380"], "port \"6379\" \"6380\"", "wrong number of arguments");
    m(&["--port", "--loglevel", "verbose"], "port \"--loglevel\" \"verbose\"", "wrong number of arguments");
    m(&["--port", "--bla", "--loglevel", "verbose"], "port \"--bla\"", "argument couldn't be parsed into an integer");
    m(
        &["--logfile", "--my--log--file", "--loglevel", "--bla"],
        "loglevel \"--bla\"",
        "argument(s) must be one of the following",
    );
    m(&["--shutdown-on-sigint"], "shutdown-on-sigint", "argument(s) must be one of the following");
    m(
        &["--shutdown-on-sigint", "now force", "--shutdown-on-sigterm"],
        "shutdown-on-sigterm",
        "argument(s) must be one of the following",
    );
    m(&["--replicaof", "127.0.0.1", "abc"], "replicaof \"127.0.0.1\" \"abc\"", "Invalid master port");
    m(&["--replicaof", "--127.0.0.1", "abc"], "replicaof \"--127.0.0.1\" \"abc\"", "Invalid master port");
    m(&["--replicaof", "--127.0.0.1", "--abc"], "replicaof \"--127.0.0.1\"", "wrong number of arguments");
    let text = startup_err(&["--port", "70000"]);
    assert_eq!(
        text,
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 2\n\
                      >>> 'port \"70000\"'\nargument must be between 0 and 65535 inclusive\n"
    );
}

#[test]
fn command_line_values_like_redis_tests() {
    let run = |list: &[&str]| match parse_startup(&args(list)) {
        Ok(Startup::Run { config, .. }) => config,
        other => panic!("{list:?}: {other:?}"),
    };
    let c = run(&["--maxmemory 700mb", "--maxmemory-policy volatile-lru"]);
    assert_eq!((c.maxmemory, c.maxmemory_policy), (734_003_200, MaxmemoryPolicy::VolatileLru));
    let c = run(&["--maxmemory '700mb'", "--maxmemory-policy 'volatile-lru'"]);
    assert_eq!((c.maxmemory, c.maxmemory_policy), (734_003_200, MaxmemoryPolicy::VolatileLru));
    let c = run(&["--proc-title-template", "--my--title--template", "--loglevel", "verbose"]);
    assert_eq!((c.proc_title_template.as_str(), c.loglevel), ("--my--title--template", LogLevel::Verbose));
    let c = run(&["--proc-title-template --my--title--template", "--loglevel verbose"]);
    assert_eq!((c.proc_title_template.as_str(), c.loglevel), ("--my--title--template", LogLevel::Verbose));
    let c = run(&["--shutdown-on-sigint", "nosave", "force", "now", "--shutdown-on-sigterm", "nosave force"]);
    assert_eq!(get1(&c, "shutdown-on-sigint"), "nosave now force");
    assert_eq!(get1(&c, "shutdown-on-sigterm"), "nosave force");
    let c = run(&["--save", "900", "1", "300", "10", "--bind", "127.0.0.1", "::1"]);
    assert_eq!(c.save, vec![(900, 1), (300, 10)]);
    assert_eq!(c.bind, args(&["127.0.0.1", "::1"]));
    let c = run(&["--slaveof", "127.0.0.1", "6380"]);
    assert_eq!(c.replicaof, Some(("127.0.0.1".to_string(), 6380)));
    let c = run(&["--requirepass", "a\"b c"]);
    assert_eq!(c.requirepass, "a\"b c");
}

#[test]
fn startup_with_config_file_and_wrong_usage_that_redis_supports() {
    let dir = temp_dir("startup");
    let path = dir.join("redis.conf");
    std::fs::write(&path, DEFAULT_CONF).unwrap_or_default();
    let p = path.to_string_lossy().into_owned();
    match parse_startup(&args(&[&p, "loglevel", "verbose", "--maxmemory '700mb'"])) {
        Ok(Startup::Run { config, config_file, sentinel: false }) => {
            assert_eq!(config.loglevel, LogLevel::Verbose);
            assert_eq!(config.maxmemory, 734_003_200);
            assert_eq!(config_file.as_deref(), Some(path.as_path()));
            assert_eq!(get1(&config, "notify-keyspace-events"), "AKE");
            assert_eq!(get1(&config, "save"), "900 1");
            assert_eq!(config.enable_protected_configs, ProtectedMode::Yes);
            assert_eq!(config.propagation_error_behavior, PropagationErrorBehavior::Panic);
        }
        other => panic!("{other:?}"),
    }
    let missing = dir.join("missing.conf").to_string_lossy().into_owned();
    assert_eq!(
        startup_err(&[&missing]),
        format!("Fatal error, can't open config file '{missing}': No such file or directory")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn absolute_config_file_path() {
    let dir = temp_dir("abs");
    std::fs::write(dir.join("x.conf"), "port 7010\n").unwrap_or_default();
    let rel = format!("{}/x.conf", dir.display());
    match parse_startup(&args(&[&format!(" {rel}\n")])) {
        Ok(Startup::Run { config_file: Some(p), config, .. }) => {
            assert!(p.is_absolute());
            assert_eq!(config.port, 7010);
        }
        other => panic!("{other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// tests/assets/default.conf from the Redis test suite.
const DEFAULT_CONF: &str = "# Redis configuration for testing.

always-show-logo yes
notify-keyspace-events KEA
daemonize no
pidfile /var/run/redis.pid
port 6379
timeout 0
bind 127.0.0.1
loglevel verbose
logfile ''
databases 16
latency-monitor-threshold 1
repl-diskless-sync-delay 0

# Note the infrastructure in server.tcl uses a dict, we can't provide several save directives
save 900 1

rdbcompression yes
dbfilename dump.rdb
dir ./

slave-serve-stale-data yes
appendonly no
appendfsync everysec
no-appendfsync-on-rewrite no
activerehashing yes

enable-protected-configs yes
enable-debug-command yes
enable-module-command yes

propagation-error-behavior panic";

#[test]
fn viator_conf_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/viator.conf");
    match parse_startup(&args(&[path])) {
        Ok(Startup::Run { config, .. }) => {
            assert_eq!(config.port, 6379);
            assert_eq!(config.bind, args(&["127.0.0.1", "-::1"]));
            assert!(config.protected_mode);
            assert!(!config.daemonize);
            assert_eq!(config.loglevel, LogLevel::Notice);
            assert_eq!(config.logfile, "");
            assert_eq!(config.databases, 16);
            assert_eq!(config.save, vec![(3600, 1), (300, 100), (60, 10000)]);
        }
        other => panic!("viator.conf: {other:?}"),
    }
}

#[test]
fn redis_conf_loads_if_present() {
    let path = "/work/redis-src/redis-7.0.15/redis.conf";
    if !std::path::Path::new(path).exists() {
        return;
    }
    match parse_startup(&args(&[path])) {
        Ok(Startup::Run { config, .. }) => {
            assert_eq!(config.bind, args(&["127.0.0.1", "-::1"]));
            assert_eq!(config.port, 6379);
            assert_eq!(config.save, vec![(3600, 1), (300, 100), (60, 10000)], "redis.conf keeps the defaults");
            // Reading the default redis.conf gives back Redis's defaults except bind.
            let expect = Config {
                bind: config.bind.clone(),
                dir: config.dir.clone(),
                pidfile: "/var/run/redis_6379.pid".to_string(),
                ..Config::default()
            };
            assert_eq!(config.get(&[b"*"]), expect.get(&[b"*"]));
        }
        other => panic!("redis.conf: {other:?}"),
    }
}

// ---------------------------------------------------------------- random input

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, max: u64, alphabet: &[u8]) -> Vec<u8> {
        let n = self.next() % max;
        (0..n)
            .map(|_| {
                if alphabet.is_empty() {
                    self.next() as u8
                } else {
                    alphabet[(self.next() % alphabet.len() as u64) as usize]
                }
            })
            .collect()
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let names: Vec<&str> = TABLE.iter().map(|r| r.name).collect();
    let alphabet = b" \t\n\r\"'\\x0123456789abcdefkmgbKMG%-#yesno*?[]";
    for round in 0..4000 {
        let raw = rng.bytes(120, if round % 2 == 0 { b"" } else { alphabet });
        let _ = split_args(&raw);
        // Random text after a real directive name exercises every value parser.
        let name = names[(rng.next() % names.len() as u64) as usize];
        let mut line = name.as_bytes().to_vec();
        line.push(b' ');
        line.extend(rng.bytes(24, alphabet));
        let mut text = raw.clone();
        text.push(b'\n');
        text.extend_from_slice(&line);
        // No includes of random paths.
        if !text.windows(7).any(|w| w.eq_ignore_ascii_case(b"include")) {
            let _ = Config::from_text(&text);
            let _ = Config::from_text(&line);
        }
        let mut c = Config::default();
        let value = rng.bytes(24, alphabet);
        if name != "dir" {
            let _ = c.set(&[(name.as_bytes(), &value)]);
            let _ = c.get(&[&raw]);
        }
        let _ = c.rewrite_text(&raw, RewriteHooks::default());
        let argv: Vec<String> =
            (0..rng.next() % 6).map(|_| String::from_utf8_lossy(&rng.bytes(8, alphabet)).into_owned()).collect();
        let _ = parse::options_text(&argv, 0);
    }
}
