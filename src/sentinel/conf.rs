//! Sentinel's `sentinel ...` configuration lines: applying them at start-up
//! and writing the state back as lines during a config rewrite.
//!
//! Owns the directive table of Redis's sentinelHandleConfiguration (monitor,
//! per-master options, known replicas and Sentinels, epochs, announce and
//! auth settings) and its error strings, and the line set and order of
//! rewriteConfigSentinelOption. Must not write files: `config::rewrite` does
//! the atomic write and keeps the user's comments.

use super::Sentinel;
use crate::config::RewriteState;

/// Directives applied before any `monitor` line (Redis's preMonitorCfgName).
pub const PRE_MONITOR: &[&str] = &[
    "announce-ip",
    "announce-port",
    "deny-scripts-reconfig",
    "sentinel-user",
    "sentinel-pass",
    "current-epoch",
    "myid",
    "resolve-hostnames",
    "announce-hostnames",
];

/// Parses a number as C's atoi does for these directives: an optional sign,
/// leading digits, anything after ignored; no digits gives 0.
pub fn atoi(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add((b - b'0') as i64);
    }
    if neg {
        -n
    } else {
        n
    }
}

/// C's strtoull for epochs: leading digits, else 0.
fn epoch(s: &str) -> u64 {
    atoi(s).max(0) as u64
}

fn yes_no(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if s.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

/// Applies one `sentinel` line (words after `sentinel`). Errors are Redis's texts.
pub fn apply(s: &mut Sentinel, argv: &[&str], now: i64) -> Result<(), String> {
    let Some(&first) = argv.first() else {
        return Err("Unrecognized sentinel configuration statement.".into());
    };
    let dir = first.to_ascii_lowercase();
    let argc = argv.len();
    // COMPAT: every message below is sentinelHandleConfiguration's.
    let master = |s: &Sentinel| s.master_idx(argv[1]).ok_or_else(|| "No such master with specified name.".to_string());
    match (dir.as_str(), argc) {
        ("monitor", 5) => {
            let quorum = atoi(argv[4]);
            if quorum <= 0 {
                return Err("Quorum must be 1 or greater.".into());
            }
            s.add_master(argv[1], argv[2], atoi(argv[3]), quorum as u32, now)?;
        }
        ("down-after-milliseconds", 3) => {
            let mi = master(s)?;
            let v = atoi(argv[2]);
            if v <= 0 {
                return Err("negative or zero time parameter.".into());
            }
            set_down_after(s, mi, v);
        }
        ("failover-timeout", 3) => {
            let mi = master(s)?;
            let v = atoi(argv[2]);
            if v <= 0 {
                return Err("negative or zero time parameter.".into());
            }
            s.masters[mi].failover_timeout = v;
        }
        ("parallel-syncs", 3) => {
            let mi = master(s)?;
            s.masters[mi].parallel_syncs = atoi(argv[2]);
        }
        ("notification-script", 3) => {
            let mi = master(s)?;
            if !is_executable(argv[2]) {
                return Err("Notification script seems non existing or non executable.".into());
            }
            s.masters[mi].notification_script = Some(argv[2].to_string());
        }
        ("client-reconfig-script", 3) => {
            let mi = master(s)?;
            if !is_executable(argv[2]) {
                return Err("Client reconfiguration script seems non existing or non executable.".into());
            }
            s.masters[mi].client_reconfig_script = Some(argv[2].to_string());
        }
        ("auth-pass", 3) => {
            let mi = master(s)?;
            s.masters[mi].auth_pass = Some(argv[2].to_string());
        }
        ("auth-user", 3) => {
            let mi = master(s)?;
            s.masters[mi].auth_user = Some(argv[2].to_string());
        }
        ("current-epoch", 2) => {
            s.current_epoch = s.current_epoch.max(epoch(argv[1]));
        }
        ("myid", 2) => {
            if argv[1].len() != 40 {
                return Err("Malformed Sentinel id in myid option.".into());
            }
            s.myid = argv[1].to_string();
        }
        ("config-epoch", 3) => {
            let mi = master(s)?;
            let e = epoch(argv[2]);
            s.masters[mi].config_epoch = e;
            s.current_epoch = s.current_epoch.max(e);
        }
        ("leader-epoch", 3) => {
            let mi = master(s)?;
            s.masters[mi].ri.leader_epoch = epoch(argv[2]);
        }
        ("known-slave" | "known-replica", 4) => {
            let mi = master(s)?;
            s.add_replica(mi, argv[2], atoi(argv[3]), now)?;
        }
        ("known-sentinel", 4) => {} // the old form without run id is ignored
        ("known-sentinel", 5) => {
            let mi = master(s)?;
            s.add_sentinel(mi, argv[4], argv[2], atoi(argv[3]), now)?;
        }
        ("rename-command", 4) => {
            let mi = master(s)?;
            let m = &mut s.masters[mi];
            if m.renamed.iter().any(|(o, _)| o.eq_ignore_ascii_case(argv[2])) {
                return Err("Same command renamed multiple times with rename-command.".into());
            }
            m.renamed.push((argv[2].to_string(), argv[3].to_string()));
        }
        ("announce-ip", 2) => {
            if !argv[1].is_empty() {
                s.announce_ip = Some(argv[1].to_string());
            }
        }
        ("announce-port", 2) => s.announce_port = atoi(argv[1]).clamp(0, 65535) as u16,
        ("deny-scripts-reconfig", 2) => {
            s.deny_scripts_reconfig = yes_no(argv[1])
                .ok_or_else(|| "Please specify yes or no for the deny-scripts-reconfig options.".to_string())?;
        }
        ("sentinel-user", 2) => {
            if !argv[1].is_empty() {
                s.sentinel_user = Some(argv[1].to_string());
            }
        }
        ("sentinel-pass", 2) => {
            if !argv[1].is_empty() {
                s.sentinel_pass = Some(argv[1].to_string());
            }
        }
        ("resolve-hostnames", 2) => {
            s.resolve_hostnames = yes_no(argv[1])
                .ok_or_else(|| "Please specify yes or no for the resolve-hostnames option.".to_string())?;
        }
        ("announce-hostnames", 2) => {
            s.announce_hostnames = yes_no(argv[1])
                .ok_or_else(|| "Please specify yes or no for the announce-hostnames option.".to_string())?;
        }
        ("master-reboot-down-after-period", 3) => {
            let mi = master(s)?;
            let v = atoi(argv[2]);
            if v < 0 {
                return Err("negative time parameter.".into());
            }
            s.masters[mi].master_reboot_down_after = v;
        }
        _ => return Err("Unrecognized sentinel configuration statement.".into()),
    }
    Ok(())
}

/// Sets a master's down-after period and gives it to its replicas and Sentinels.
pub fn set_down_after(s: &mut Sentinel, mi: usize, v: i64) {
    let m = &mut s.masters[mi];
    m.ri.down_after = v;
    for r in m.replicas.iter_mut().chain(m.sentinels.iter_mut()) {
        r.down_after = v;
    }
}

/// Whether `path` exists and is executable by someone.
pub fn is_executable(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Feeds the Sentinel state to a config rewrite, line for line as Redis writes it.
pub fn rewrite(s: &Sentinel, st: &mut RewriteState) {
    st.rewrite_line("sentinel myid", format!("sentinel myid {}", s.myid), true);
    let yn = |b: bool| if b { "yes" } else { "no" };
    st.rewrite_line(
        "sentinel deny-scripts-reconfig",
        format!("sentinel deny-scripts-reconfig {}", yn(s.deny_scripts_reconfig)),
        !s.deny_scripts_reconfig,
    );
    st.rewrite_line(
        "sentinel resolve-hostnames",
        format!("sentinel resolve-hostnames {}", yn(s.resolve_hostnames)),
        s.resolve_hostnames,
    );
    st.rewrite_line(
        "sentinel announce-hostnames",
        format!("sentinel announce-hostnames {}", yn(s.announce_hostnames)),
        s.announce_hostnames,
    );
    for m in &s.masters {
        let name = &m.ri.name;
        let cur = m.current_addr();
        st.rewrite_line(
            "sentinel monitor",
            format!("sentinel monitor {name} {} {} {}", s.announce(cur), cur.port, m.quorum),
            true,
        );
        if m.ri.down_after != s.timing.default_down_after {
            st.rewrite_line(
                "sentinel down-after-milliseconds",
                format!("sentinel down-after-milliseconds {name} {}", m.ri.down_after),
                true,
            );
        }
        if m.failover_timeout != s.timing.default_failover_timeout {
            st.rewrite_line(
                "sentinel failover-timeout",
                format!("sentinel failover-timeout {name} {}", m.failover_timeout),
                true,
            );
        }
        if m.parallel_syncs != 1 {
            st.rewrite_line(
                "sentinel parallel-syncs",
                format!("sentinel parallel-syncs {name} {}", m.parallel_syncs),
                true,
            );
        }
        let opt = |st: &mut RewriteState, key: &str, v: &Option<String>| {
            if let Some(v) = v {
                st.rewrite_line(&format!("sentinel {key}"), format!("sentinel {key} {name} {v}"), true);
            }
        };
        opt(st, "notification-script", &m.notification_script);
        opt(st, "client-reconfig-script", &m.client_reconfig_script);
        opt(st, "auth-pass", &m.auth_pass);
        opt(st, "auth-user", &m.auth_user);
        if m.master_reboot_down_after != 0 {
            st.rewrite_line(
                "sentinel master-reboot-down-after-period",
                format!("sentinel master-reboot-down-after-period {name} {}", m.master_reboot_down_after),
                true,
            );
        }
        st.rewrite_line("sentinel config-epoch", format!("sentinel config-epoch {name} {}", m.config_epoch), true);
        st.rewrite_line("sentinel leader-epoch", format!("sentinel leader-epoch {name} {}", m.ri.leader_epoch), true);
        for r in &m.replicas {
            // The replica that is now the master is written as the old master's address.
            let a = if r.addr.same(cur) { &m.ri.addr } else { &r.addr };
            st.rewrite_line(
                "sentinel known-replica",
                format!("sentinel known-replica {name} {} {}", s.announce(a), a.port),
                true,
            );
        }
        for si in &m.sentinels {
            let Some(runid) = &si.runid else { continue };
            st.rewrite_line(
                "sentinel known-sentinel",
                format!("sentinel known-sentinel {name} {} {} {runid}", s.announce(&si.addr), si.addr.port),
                true,
            );
        }
        for (o, n) in &m.renamed {
            st.rewrite_line("sentinel rename-command", format!("sentinel rename-command {name} {o} {n}"), true);
        }
    }
    st.rewrite_line("sentinel current-epoch", format!("sentinel current-epoch {}", s.current_epoch), true);
    match &s.announce_ip {
        Some(ip) => st.rewrite_line(
            "sentinel announce-ip",
            format!("sentinel announce-ip {}", crate::config::repr(ip.as_bytes())),
            true,
        ),
        None => st.mark_processed("sentinel announce-ip"),
    }
    if s.announce_port != 0 {
        st.rewrite_line("sentinel announce-port", format!("sentinel announce-port {}", s.announce_port), true);
    } else {
        st.mark_processed("sentinel announce-port");
    }
    match &s.sentinel_user {
        Some(u) => st.rewrite_line("sentinel sentinel-user", format!("sentinel sentinel-user {u}"), true),
        None => st.mark_processed("sentinel sentinel-user"),
    }
    match &s.sentinel_pass {
        Some(p) => st.rewrite_line("sentinel sentinel-pass", format!("sentinel sentinel-pass {p}"), true),
        None => st.mark_processed("sentinel sentinel-pass"),
    }
    // Options of removed masters must disappear from the file.
    for key in [
        "monitor",
        "down-after-milliseconds",
        "failover-timeout",
        "parallel-syncs",
        "notification-script",
        "client-reconfig-script",
        "auth-pass",
        "auth-user",
        "config-epoch",
        "leader-epoch",
        "known-replica",
        "known-slave",
        "known-sentinel",
        "rename-command",
        "master-reboot-down-after-period",
    ] {
        st.mark_processed(&format!("sentinel {key}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentinel() -> Sentinel {
        Sentinel::new(26379, 0)
    }

    #[test]
    fn directives_apply_and_errors_match_redis() {
        let mut s = sentinel();
        apply(&mut s, &["monitor", "mymaster", "127.0.0.1", "6379", "2"], 0).unwrap();
        apply(&mut s, &["down-after-milliseconds", "mymaster", "5000"], 0).unwrap();
        apply(&mut s, &["known-replica", "mymaster", "127.0.0.1", "6380"], 0).unwrap();
        apply(&mut s, &["known-sentinel", "mymaster", "127.0.0.1", "26380", &"a".repeat(40)], 0).unwrap();
        assert_eq!(s.masters[0].ri.down_after, 5000);
        assert_eq!(s.masters[0].replicas[0].name, "127.0.0.1:6380");
        assert_eq!(s.masters[0].replicas[0].down_after, 5000);
        assert_eq!(
            apply(&mut s, &["monitor", "mymaster", "127.0.0.1", "6379", "2"], 0).unwrap_err(),
            "Duplicate master name."
        );
        assert_eq!(
            apply(&mut s, &["monitor", "x", "127.0.0.1", "6379", "0"], 0).unwrap_err(),
            "Quorum must be 1 or greater."
        );
        assert_eq!(
            apply(&mut s, &["parallel-syncs", "nope", "1"], 0).unwrap_err(),
            "No such master with specified name."
        );
        assert_eq!(apply(&mut s, &["myid", "abc"], 0).unwrap_err(), "Malformed Sentinel id in myid option.");
        assert_eq!(apply(&mut s, &["bogus"], 0).unwrap_err(), "Unrecognized sentinel configuration statement.");
        assert_eq!(
            apply(&mut s, &["failover-timeout", "mymaster", "0"], 0).unwrap_err(),
            "negative or zero time parameter."
        );
        apply(&mut s, &["config-epoch", "mymaster", "7"], 0).unwrap();
        assert_eq!(s.current_epoch, 7);
    }

    #[test]
    fn rewrite_writes_state_and_keeps_comments() {
        let mut s = sentinel();
        s.myid = "f".repeat(40);
        apply(&mut s, &["monitor", "mymaster", "127.0.0.1", "6379", "2"], 0).unwrap();
        apply(&mut s, &["known-replica", "mymaster", "127.0.0.1", "6380"], 0).unwrap();
        let cfg = crate::config::Config::defaults_for(true);
        let old = b"# my comment\nsentinel monitor mymaster 127.0.0.1 6379 2\nsentinel monitor gone 1.2.3.4 5 1\n";
        let mut extra = |st: &mut RewriteState| rewrite(&s, st);
        let hooks = crate::config::RewriteHooks { extra: Some(&mut extra), ..Default::default() };
        let out = String::from_utf8(cfg.rewrite_text(old, hooks)).unwrap();
        assert!(out.starts_with("# my comment\nsentinel monitor mymaster 127.0.0.1 6379 2\n"), "{out}");
        assert!(!out.contains("gone"), "{out}");
        assert!(out.contains("sentinel known-replica mymaster 127.0.0.1 6380\n"), "{out}");
        assert!(out.contains(&format!("sentinel myid {}\n", "f".repeat(40))), "{out}");
        assert!(out.contains("sentinel current-epoch 0\n"), "{out}");
        assert!(out.contains("sentinel config-epoch mymaster 0\n"), "{out}");
    }

    #[test]
    fn random_lines_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let words = [
            "monitor",
            "known-replica",
            "known-sentinel",
            "myid",
            "m",
            "1",
            "-5",
            "",
            "abc",
            "65536",
            "rename-command",
        ];
        for _ in 0..5000 {
            let mut s = sentinel();
            let _ = apply(&mut s, &["monitor", "m", "127.0.0.1", "6379", "1"], 0);
            let n = (x % 6) as usize;
            let mut argv = Vec::new();
            for _ in 0..n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                argv.push(words[(x % words.len() as u64) as usize]);
            }
            let _ = apply(&mut s, &argv, 0);
        }
        assert_eq!(atoi("12abc"), 12);
        assert_eq!(atoi("-3"), -3);
        assert_eq!(atoi("x"), 0);
    }

    #[test]
    fn which_lookup() {
        let mut s = sentinel();
        apply(&mut s, &["monitor", "m", "127.0.0.1", "6379", "1"], 0).unwrap();
        assert_eq!(s.masters[0].find(super::super::Role::Master, "m"), Some(super::super::Which::Master));
        assert_eq!(s.master_idx("m"), Some(0));
    }
}
