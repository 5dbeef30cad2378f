//! INFO: renders the sections from `&Server` without mutating anything.
//! Field names and section headers are byte-exact with Redis 7.0 because
//! Sentinel, cluster tools, exporters and tests parse them.

use std::fmt::Write as _;

use crate::client::Client;
use crate::server::Server;

/// Sections shown by `INFO` / `INFO default`.
const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
/// Sections `all` adds (`everything` adds module-generated ones too).
const EXTRA: &[&str] = &["commandstats", "latencystats"];

/// The INFO text for the requested `sections` (lowercase; empty = default).
pub fn render(srv: &Server, c: &Client, sections: &[String]) -> String {
    let mut want: Vec<&str> = Vec::new();
    if sections.is_empty() {
        want.extend(DEFAULT);
    }
    for s in sections {
        match s.as_str() {
            "default" => want.extend(DEFAULT),
            "all" | "everything" => {
                want.extend(DEFAULT);
                want.extend(EXTRA);
            }
            other => {
                if let Some(known) = DEFAULT.iter().chain(EXTRA).find(|k| **k == other) {
                    want.push(known);
                }
            }
        }
    }
    let mut out = String::new();
    let order = DEFAULT.iter().chain(EXTRA);
    for sec in order {
        if !want.contains(sec) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match *sec {
            "server" => server(srv, &mut out),
            "clients" => clients(srv, c, &mut out),
            "memory" => memory(srv, &mut out),
            "persistence" => persistence(srv, &mut out),
            "stats" => stats(srv, &mut out),
            "replication" => replication(&mut out),
            "cpu" => cpu(&mut out),
            "modules" => out.push_str("# Modules\r\n"),
            "errorstats" => errorstats(srv, &mut out),
            "cluster" => {
                let _ = write!(out, "# Cluster\r\ncluster_enabled:{}\r\n", srv.config.cluster_enabled as u8);
            }
            "keyspace" => keyspace(srv, &mut out),
            "commandstats" => commandstats(srv, &mut out),
            "latencystats" => out.push_str("# Latencystats\r\n"),
            _ => {}
        }
    }
    out
}

fn server(srv: &Server, out: &mut String) {
    let now_us = crate::util::clock::unix_us();
    let uptime = srv.start_instant.elapsed().as_secs();
    let uname = uname();
    let _ = write!(
        out,
        "# Server\r\nredis_version:{}\r\nviator_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:{}\r\nos:{}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\n",
        crate::REDIS_VERSION,
        crate::VIATOR_VERSION,
        if srv.sentinel_mode {
            "sentinel"
        } else if srv.config.cluster_enabled {
            "cluster"
        } else {
            "standalone"
        },
        uname,
        std::process::id(),
        srv.run_id,
        srv.tcp_port,
        now_us,
        uptime,
        uptime / 86400,
        srv.config.hz,
        srv.config.hz,
        (now_us / 1_000_000) & ((1 << 24) - 1),
        srv.executable,
        srv.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
    );
}

fn uname() -> String {
    let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_string()).unwrap_or_default();
    format!("Linux {} {}", read("/proc/sys/kernel/osrelease"), std::env::consts::ARCH)
}

fn clients(srv: &Server, c: &Client, out: &mut String) {
    let mut max_in = c.query.len();
    let mut max_out = c.reply.len();
    for (_, slot) in srv.clients.iter() {
        if let Some(o) = slot {
            max_in = max_in.max(o.query.len());
            max_out = max_out.max(o.reply.len());
        }
    }
    let _ = write!(
        out,
        "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:{}\r\nclient_recent_max_output_buffer:{}\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:0\r\n",
        srv.clients.len(),
        srv.config.maxclients,
        max_in,
        max_out,
        // Clients waiting out a CLIENT PAUSE count as blocked, as in Redis.
        srv.stats.blocked_clients + srv.paused_clients.len() as u64,
        srv.tracking.clients(),
    );
}

/// Bytes allocated by the allocator (jemalloc when it is the global one).
pub fn used_memory() -> u64 {
    let _ = tikv_jemalloc_ctl::epoch::advance();
    tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0) as u64
}

/// Resident set size from /proc.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

/// Redis's human-readable byte format (`1.50M`).
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{}B", n as u64)
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2}K", n / 1024.0)
    } else if n < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", n / (1024.0 * 1024.0))
    } else if n < 1024.0f64.powi(4) {
        format!("{:.2}G", n / 1024.0f64.powi(3))
    } else {
        format!("{:.2}T", n / 1024.0f64.powi(4))
    }
}

fn memory(srv: &Server, out: &mut String) {
    let used = used_memory();
    let rss = rss_bytes();
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok())))
        .map(|kb| kb * 1024)
        .unwrap_or(0);
    let ratio = if used > 0 { rss as f64 / used as f64 } else { 0.0 };
    let _ = write!(
        out,
        "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{used}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:100.00%\r\nused_memory_overhead:0\r\nused_memory_startup:0\r\nused_memory_dataset:{used}\r\nused_memory_dataset_perc:100.00%\r\ntotal_system_memory:{total}\r\ntotal_system_memory_human:{}\r\nused_memory_lua:31744\r\nused_memory_scripts:0\r\nnumber_of_cached_scripts:0\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:noeviction\r\nmem_fragmentation_ratio:{ratio:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_not_counted_for_evict:0\r\nmem_replication_backlog:0\r\nmem_clients_slaves:0\r\nmem_clients_normal:0\r\nmem_aof_buffer:0\r\nmem_allocator:jemalloc-5.3.0\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n",
        human_bytes(used),
        human_bytes(rss),
        human_bytes(used),
        human_bytes(total),
        srv.config.maxmemory,
        human_bytes(srv.config.maxmemory as u64),
        rss as i64 - used as i64,
    );
}

fn persistence(srv: &Server, out: &mut String) {
    let _ = write!(
        out,
        "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:0\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:ok\r\nrdb_last_bgsave_time_sec:-1\r\nrdb_current_bgsave_time_sec:-1\r\nrdb_saves:0\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:0\r\naof_enabled:{}\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\naof_rewrites_consecutive_failures:0\r\naof_last_write_status:ok\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        srv.ks.dirty,
        srv.lastsave_secs,
        srv.config.appendonly as u8,
    );
}

fn stats(srv: &Server, out: &mut String) {
    let st = &srv.stats;
    let kbps = |v: &[(i64, u64)]| Server::instantaneous(v) / 1024.0;
    let _ = write!(
        out,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:{:.2}\r\ninstantaneous_output_kbps:{:.2}\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:{}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:0\r\nevicted_keys:0\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nunexpected_error_replies:{}\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:0\r\ntotal_writes_processed:0\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\n",
        st.total_connections_received,
        st.total_commands_processed,
        Server::instantaneous(&st.ops_samples) as u64,
        st.net_input_bytes,
        st.net_output_bytes,
        kbps(&st.in_samples),
        kbps(&st.out_samples),
        st.rejected_connections,
        srv.ks.stat_expired_keys,
        srv.ks.stat_hits,
        srv.ks.stat_misses,
        srv.pubsub.channels.len(),
        srv.pubsub.patterns.len(),
        srv.pubsub.shard_channels.len(),
        srv.tracking.total_keys(),
        srv.tracking.total_items(),
        srv.tracking.total_prefixes(),
        st.unexpected_error_replies,
        st.total_error_replies,
    );
}

fn replication(out: &mut String) {
    out.push_str("# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:0000000000000000000000000000000000000000\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n");
}

fn cpu(out: &mut String) {
    // utime and stime (fields 14 and 15 of /proc/self/stat) in clock ticks.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    let (user, sys) = (tick(11), tick(12));
    let (cuser, csys) = (tick(13), tick(14));
    let _ = write!(
        out,
        "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:{csys:.6}\r\nused_cpu_user_children:{cuser:.6}\r\nused_cpu_sys_main_thread:{sys:.6}\r\nused_cpu_user_main_thread:{user:.6}\r\n"
    );
}

fn errorstats(srv: &Server, out: &mut String) {
    out.push_str("# Errorstats\r\n");
    let mut codes: Vec<(&String, &u64)> = srv.stats.errors.iter().collect();
    codes.sort();
    for (code, n) in codes {
        let _ = write!(out, "errorstat_{code}:count={n}\r\n");
    }
}

fn commandstats(srv: &Server, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    for cmd in &srv.commands.cmds {
        let s = &cmd.stats;
        if s.calls == 0 && s.rejected_calls == 0 && s.failed_calls == 0 {
            continue;
        }
        let per = if s.calls > 0 { s.usec as f64 / s.calls as f64 } else { 0.0 };
        let _ = write!(
            out,
            "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
            cmd.fullname, s.calls, s.usec, per, s.rejected_calls, s.failed_calls
        );
    }
}

fn keyspace(srv: &Server, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    for (i, db) in srv.ks.dbs.iter().enumerate() {
        if db.dict.is_empty() {
            continue;
        }
        let _ = write!(out, "db{i}:keys={},expires={},avg_ttl={}\r\n", db.dict.len(), db.expires.len(), db.avg_ttl_ms);
    }
}
