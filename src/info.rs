//! INFO: renders the sections from `&Server` without mutating anything, and
//! owns the counters' life cycle around it: what CONFIG RESETSTAT clears
//! ([`reset_stats`]) and the memory peak the cron samples
//! ([`sample_memory`]).
//!
//! Field names, their order and section headers are byte-exact with Redis
//! 7.0's INFO, because Sentinel, cluster tools, exporters and tests parse
//! them. Section selection follows 7.0 too: several names per call, `default`,
//! `all` (every section), `everything` (all plus module sections), names
//! matched case-insensitively, unknown names ignored, and sections always
//! printed in the fixed order below whatever order they were asked in.

use std::fmt::{Display, Write as _};

use crate::client::Client;
use crate::cmd::table::CommandTable;
use crate::server::{Server, Stats};

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

/// Every section in the order INFO prints them.
const ORDER: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// The INFO text for the requested `sections` (lowercase; empty = default).
pub fn render(srv: &Server, c: &Client, sections: &[String]) -> String {
    let mut all = false;
    let mut want: Vec<&str> = Vec::new();
    if sections.is_empty() {
        want.extend(DEFAULT);
    }
    for s in sections {
        match s.as_str() {
            "default" => want.extend(DEFAULT),
            "all" | "everything" => all = true,
            // COMPAT: the default list names the modules section "module_list".
            "module_list" => want.push("modules"),
            other => want.extend(ORDER.iter().find(|k| **k == other)),
        }
    }
    let mut out = String::new();
    for sec in ORDER.iter().copied().filter(|s| all || want.contains(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let mut w = Section(&mut out);
        match sec {
            "server" => server(srv, &mut w),
            "clients" => clients(srv, c, &mut w),
            "memory" => memory(srv, c, &mut w),
            "persistence" => persistence(srv, &mut w),
            "stats" => stats(srv, &mut w),
            "replication" => replication(srv, &mut w),
            "cpu" => cpu(&mut w),
            "modules" => w.header("Modules"),
            "commandstats" => commandstats(srv, &mut w),
            "errorstats" => errorstats(srv, &mut w),
            "latencystats" => latencystats(srv, &mut w),
            "cluster" => {
                w.header("Cluster");
                w.kv("cluster_enabled", srv.config.cluster_enabled as u8);
            }
            "keyspace" => keyspace(srv, &mut w),
            _ => {}
        }
    }
    out
}

/// Appends `name:value` lines to the INFO text.
struct Section<'a>(&'a mut String);

impl Section<'_> {
    fn header(&mut self, title: &str) {
        let _ = write!(self.0, "# {title}\r\n");
    }

    fn kv(&mut self, name: &str, value: impl Display) {
        let _ = write!(self.0, "{name}:{value}\r\n");
    }
}

/// A name made safe for an INFO line: `#`, `:`, CR and LF become `_`.
fn safe_name(s: &str) -> String {
    s.chars().map(|ch| if matches!(ch, '#' | ':' | '\r' | '\n') { '_' } else { ch }).collect()
}

/// Command-table indexes in the order INFO and LATENCY HISTOGRAM list them:
/// each top-level command followed by its subcommands by name.
pub fn table_order(t: &CommandTable) -> Vec<usize> {
    let mut out = Vec::with_capacity(t.cmds.len());
    for (i, cmd) in t.cmds.iter().enumerate().filter(|(_, c)| c.parent.is_none()) {
        out.push(i);
        let mut subs: Vec<(&str, usize)> = cmd.subs.iter().map(|(n, &s)| (*n, s)).collect();
        subs.sort_unstable();
        out.extend(subs.into_iter().map(|(_, s)| s));
    }
    out
}

fn server(srv: &Server, w: &mut Section) {
    let now_us = crate::util::clock::unix_us();
    let uptime = srv.start_instant.elapsed().as_secs();
    w.header("Server");
    w.kv("redis_version", crate::REDIS_VERSION);
    w.kv("viator_version", crate::VIATOR_VERSION);
    w.kv("redis_git_sha1", "00000000");
    w.kv("redis_git_dirty", 0);
    w.kv("redis_build_id", 0);
    let mode = if srv.config.cluster_enabled {
        "cluster"
    } else if srv.sentinel_mode {
        "sentinel"
    } else {
        "standalone"
    };
    w.kv("redis_mode", mode);
    w.kv("os", uname());
    w.kv("arch_bits", usize::BITS);
    w.kv("monotonic_clock", "POSIX clock_gettime");
    w.kv("multiplexing_api", "epoll");
    w.kv("atomicvar_api", "c11-builtin");
    w.kv("gcc_version", "0.0.0");
    w.kv("process_id", std::process::id());
    w.kv("process_supervised", "no");
    w.kv("run_id", &srv.run_id);
    w.kv("tcp_port", srv.tcp_port);
    w.kv("server_time_usec", now_us);
    w.kv("uptime_in_seconds", uptime);
    w.kv("uptime_in_days", uptime / 86400);
    w.kv("hz", crate::sentinel::cron_hz(srv));
    w.kv("configured_hz", srv.config.hz);
    w.kv("lru_clock", (now_us / 1_000_000) & ((1 << 24) - 1));
    w.kv("executable", &srv.executable);
    w.kv("config_file", srv.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
    w.kv("io_threads_active", 0);
    if srv.shutdown_ms != 0 {
        w.kv("shutdown_in_milliseconds", (srv.shutdown_ms - srv.clock.now_ms).max(0));
    }
}

fn uname() -> String {
    let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_string()).unwrap_or_default();
    format!("Linux {} {}", read("/proc/sys/kernel/osrelease"), std::env::consts::ARCH)
}

/// Every client: the resting ones in the slab and `current` (out of its slot
/// while it runs INFO).
fn all_clients<'a>(srv: &'a Server, current: &'a Client) -> impl Iterator<Item = &'a Client> {
    srv.clients.iter().filter_map(|(_, slot)| slot.as_deref()).chain(std::iter::once(current))
}

fn clients(srv: &Server, c: &Client, w: &mut Section) {
    let (max_in, max_out) = srv.client_mem.recent_max();
    let in_timeout: u64 =
        all_clients(srv, c).map(|o| o.blocked.as_ref().is_some_and(|b| b.deadline_ms.is_some()) as u64).sum();
    w.header("Clients");
    // Replicas are not counted (Redis: clients minus slaves).
    w.kv("connected_clients", srv.clients.len() - srv.repl.replicas.len());
    w.kv("cluster_connections", crate::cluster::bus::links_count(srv));
    w.kv("maxclients", srv.config.maxclients);
    w.kv("client_recent_max_input_buffer", max_in);
    w.kv("client_recent_max_output_buffer", max_out);
    // Clients waiting out a CLIENT PAUSE count as blocked, as in Redis.
    w.kv("blocked_clients", srv.stats.blocked_clients + srv.paused_clients.len() as u64);
    w.kv("tracking_clients", srv.tracking.clients());
    w.kv("clients_in_timeout_table", in_timeout);
}

/// Bytes allocated through the allocator (jemalloc when it is the global
/// one): the gauge `maxmemory` is enforced against.
pub fn used_memory() -> u64 {
    crate::evict::used_memory()
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
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut scale = 1024.0f64;
    for unit in UNITS {
        if (n as f64) < scale * 1024.0 {
            return format!("{:.2}{unit}", n as f64 / scale);
        }
        scale *= 1024.0;
    }
    format!("{n}B")
}

/// Records the allocator's current figure into the peak (cron, INFO).
pub fn sample_memory(srv: &mut Server) {
    srv.stats.peak_memory = srv.stats.peak_memory.max(used_memory());
}

/// `part / whole` as a ratio, 0 when `whole` is 0.
fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn memory(srv: &Server, _c: &Client, w: &mut Section) {
    use tikv_jemalloc_ctl::stats as je;
    let used = used_memory();
    let (allocated, active, resident) = (
        je::allocated::read().unwrap_or(0) as u64,
        je::active::read().unwrap_or(0) as u64,
        je::resident::read().unwrap_or(0) as u64,
    );
    let rss = rss_bytes();
    let peak = srv.stats.peak_memory.max(used);
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok())))
        .map(|kb| kb * 1024)
        .unwrap_or(0);
    // What is not the dataset: start-up memory, client buffers, and the
    // keyspace tables' own entries (an estimate: one table entry per key,
    // one more per key with a TTL).
    let clients_normal = srv.client_mem.normal() as u64;
    let table_entries: u64 = srv.ks.dbs.iter().map(|d| (d.dict.len() + d.expires.len()) as u64).sum();
    let startup = srv.stats.startup_memory.min(used);
    let overhead = (startup + clients_normal + table_entries * TABLE_ENTRY_BYTES).min(used);
    let dataset = used - overhead;
    let maxmemory = srv.config.maxmemory.max(0) as u64;
    w.header("Memory");
    w.kv("used_memory", used);
    w.kv("used_memory_human", human_bytes(used));
    w.kv("used_memory_rss", rss);
    w.kv("used_memory_rss_human", human_bytes(rss));
    w.kv("used_memory_peak", peak);
    w.kv("used_memory_peak_human", human_bytes(peak));
    w.kv("used_memory_peak_perc", format_args!("{:.2}%", ratio(used, peak) * 100.0));
    w.kv("used_memory_overhead", overhead);
    w.kv("used_memory_startup", startup);
    w.kv("used_memory_dataset", dataset);
    w.kv("used_memory_dataset_perc", format_args!("{:.2}%", ratio(dataset, used - startup) * 100.0));
    w.kv("allocator_allocated", allocated);
    w.kv("allocator_active", active);
    w.kv("allocator_resident", resident);
    w.kv("total_system_memory", total);
    w.kv("total_system_memory_human", human_bytes(total));
    let (lua_vm, eval_cache) = (srv.script.eval_vm_memory(), srv.script.eval_cache_memory());
    let (fn_vm, fn_mem) = (srv.script.functions.vm_memory(), srv.script.functions.memory());
    w.kv("used_memory_lua", lua_vm);
    w.kv("used_memory_vm_eval", lua_vm);
    w.kv("used_memory_lua_human", human_bytes(lua_vm as u64));
    w.kv("used_memory_scripts_eval", eval_cache);
    w.kv("number_of_cached_scripts", srv.script.scripts.len());
    w.kv("number_of_functions", srv.script.functions.function_count());
    w.kv("number_of_libraries", srv.script.functions.library_count());
    w.kv("used_memory_vm_functions", fn_vm);
    w.kv("used_memory_vm_total", lua_vm + fn_vm);
    w.kv("used_memory_vm_total_human", human_bytes((lua_vm + fn_vm) as u64));
    w.kv("used_memory_functions", fn_mem);
    w.kv("used_memory_scripts", eval_cache + fn_mem);
    w.kv("used_memory_scripts_human", human_bytes((eval_cache + fn_mem) as u64));
    w.kv("maxmemory", maxmemory);
    w.kv("maxmemory_human", human_bytes(maxmemory));
    w.kv("maxmemory_policy", srv.config.maxmemory_policy.name());
    w.kv("allocator_frag_ratio", format_args!("{:.2}", ratio(active, allocated)));
    w.kv("allocator_frag_bytes", active as i64 - allocated as i64);
    w.kv("allocator_rss_ratio", format_args!("{:.2}", ratio(resident, active)));
    w.kv("allocator_rss_bytes", resident as i64 - active as i64);
    w.kv("rss_overhead_ratio", format_args!("{:.2}", ratio(rss, resident)));
    w.kv("rss_overhead_bytes", rss as i64 - resident as i64);
    w.kv("mem_fragmentation_ratio", format_args!("{:.2}", ratio(rss, used)));
    w.kv("mem_fragmentation_bytes", rss as i64 - used as i64);
    w.kv("mem_not_counted_for_evict", crate::evict::not_counted_memory(srv));
    let (repl_backlog, repl_replicas) = crate::repl::buffer_memory_split(srv);
    w.kv("mem_replication_backlog", repl_backlog);
    w.kv("mem_total_replication_buffers", crate::repl::buffer_memory(srv));
    w.kv("mem_clients_slaves", repl_replicas);
    w.kv("mem_clients_normal", srv.client_mem.normal());
    w.kv("mem_cluster_links", crate::cluster::bus::links_memory(srv));
    w.kv("mem_aof_buffer", srv.persist.aof.buf.capacity());
    w.kv("mem_allocator", "jemalloc-5.3.0");
    w.kv("active_defrag_running", 0);
    w.kv("lazyfree_pending_objects", srv.ks.lazyfree.pending());
    w.kv("lazyfreed_objects", srv.ks.lazyfree.freed());
}

/// Estimated bytes of keyspace table bookkeeping per entry (entry plus its
/// share of the bucket array).
const TABLE_ENTRY_BYTES: u64 = 32;

fn persistence(srv: &Server, w: &mut Section) {
    w.header("Persistence");
    let p = &srv.persist;
    let rdb_child = p.child.as_ref().filter(|c| c.kind == crate::persist::child::ChildKind::Rdb);
    w.kv("loading", p.loading as u8);
    let async_loading = crate::repl::replica::async_loading(srv);
    w.kv("async_loading", async_loading as u8);
    if p.loading || async_loading {
        w.kv("loading_start_time", p.loading_started_secs);
        w.kv("loading_total_bytes", p.loading_total_bytes);
        w.kv("loading_rdb_used_mem", 0);
        let (loaded, total) = (p.loading_loaded_bytes, p.loading_total_bytes);
        let perc = if total > 0 { loaded as f64 * 100.0 / total as f64 } else { 0.0 };
        let elapsed = (srv.clock.now_secs() - p.loading_started_secs).max(0) as u64;
        // COMPAT: Redis's estimate: elapsed time scaled to the bytes left, 1 before any progress.
        let eta = if loaded > 0 { elapsed * total.saturating_sub(loaded) / loaded } else { 1 };
        w.kv("loading_loaded_bytes", loaded);
        w.kv("loading_loaded_perc", format!("{perc:.2}"));
        w.kv("loading_eta_seconds", eta);
    }
    let ch = p.child.as_ref();
    w.kv("current_cow_peak", ch.map_or(0, |c| c.cow_bytes));
    w.kv("current_cow_size", ch.map_or(0, |c| c.cow_bytes));
    w.kv("current_cow_size_age", ch.and_then(|c| c.cow_reported).map_or(0, |t| t.elapsed().as_secs()));
    let perc = ch.map_or(0.0, |c| if c.keys_total == 0 { 0.0 } else { c.keys_done as f64 * 100.0 / c.keys_total as f64 });
    w.kv("current_fork_perc", format_args!("{perc:.2}"));
    w.kv("current_save_keys_processed", ch.map_or(0, |c| c.keys_done));
    w.kv("current_save_keys_total", ch.map_or(0, |c| c.keys_total));
    w.kv("rdb_changes_since_last_save", srv.ks.dirty);
    w.kv("rdb_bgsave_in_progress", rdb_child.is_some() as u8);
    w.kv("rdb_last_save_time", srv.lastsave_secs);
    w.kv("rdb_last_bgsave_status", if p.rdb_last_ok { "ok" } else { "err" });
    w.kv("rdb_last_bgsave_time_sec", p.rdb_last_bgsave_secs);
    w.kv("rdb_current_bgsave_time_sec", rdb_child.map_or(-1, |c| c.started.elapsed().as_secs() as i64));
    w.kv("rdb_saves", p.rdb_saves);
    w.kv("rdb_last_cow_size", p.rdb_last_cow);
    w.kv("rdb_last_load_keys_expired", p.last_load_keys_expired);
    w.kv("rdb_last_load_keys_loaded", p.last_load_keys_loaded);
    for (k, v) in crate::persist::aof::info_fields(srv) {
        w.kv(k, v);
    }
    w.kv("module_fork_in_progress", 0);
    w.kv("module_fork_last_cow_size", 0);
    for (k, v) in crate::persist::aof::info_enabled_fields(srv) {
        w.kv(k, v);
    }
}

fn stats(srv: &Server, w: &mut Section) {
    let st = &srv.stats;
    let kbps = |v: &[(i64, u64)]| format!("{:.2}", Server::instantaneous(v) / 1024.0);
    w.header("Stats");
    w.kv("total_connections_received", st.total_connections_received);
    w.kv("total_commands_processed", st.total_commands_processed);
    w.kv("instantaneous_ops_per_sec", Server::instantaneous(&st.ops_samples) as u64);
    w.kv("total_net_input_bytes", st.net_input_bytes);
    w.kv("total_net_output_bytes", st.net_output_bytes);
    w.kv("total_net_repl_input_bytes", 0);
    w.kv("total_net_repl_output_bytes", 0);
    w.kv("instantaneous_input_kbps", kbps(&st.in_samples));
    w.kv("instantaneous_output_kbps", kbps(&st.out_samples));
    w.kv("instantaneous_input_repl_kbps", "0.00");
    w.kv("instantaneous_output_repl_kbps", "0.00");
    w.kv("rejected_connections", st.rejected_connections);
    w.kv("sync_full", srv.repl.stat_sync_full);
    w.kv("sync_partial_ok", srv.repl.stat_sync_partial_ok);
    w.kv("sync_partial_err", srv.repl.stat_sync_partial_err);
    w.kv("expired_keys", srv.ks.stat_expired_keys);
    w.kv("expired_stale_perc", "0.00");
    w.kv("expired_time_cap_reached_count", 0);
    w.kv("expire_cycle_cpu_milliseconds", st.expire_cycle_us / 1000);
    w.kv("evicted_keys", srv.evict.evicted_keys);
    w.kv("evicted_clients", srv.client_mem.evicted_clients);
    w.kv("total_eviction_exceeded_time", srv.evict.total_exceeded_ms());
    w.kv("current_eviction_exceeded_time", srv.evict.current_exceeded_ms());
    w.kv("keyspace_hits", srv.ks.stat_hits);
    w.kv("keyspace_misses", srv.ks.stat_misses);
    w.kv("pubsub_channels", srv.pubsub.channels.len());
    w.kv("pubsub_patterns", srv.pubsub.patterns.len());
    w.kv("pubsubshard_channels", srv.pubsub.shard_channels.len());
    w.kv("latest_fork_usec", srv.persist.latest_fork_usec);
    w.kv("total_forks", srv.persist.total_forks);
    w.kv("migrate_cached_sockets", srv.migrate_sockets.len());
    w.kv("slave_expires_tracked_keys", 0);
    w.kv("active_defrag_hits", 0);
    w.kv("active_defrag_misses", 0);
    w.kv("active_defrag_key_hits", 0);
    w.kv("active_defrag_key_misses", 0);
    w.kv("total_active_defrag_time", 0);
    w.kv("current_active_defrag_time", 0);
    w.kv("tracking_total_keys", srv.tracking.total_keys());
    w.kv("tracking_total_items", srv.tracking.total_items());
    w.kv("tracking_total_prefixes", srv.tracking.total_prefixes());
    w.kv("unexpected_error_replies", st.unexpected_error_replies);
    w.kv("total_error_replies", st.total_error_replies);
    w.kv("dump_payload_sanitizations", st.dump_payload_sanitizations);
    w.kv("total_reads_processed", st.total_reads_processed);
    w.kv("total_writes_processed", st.total_writes_processed);
    w.kv("io_threaded_reads_processed", 0);
    w.kv("io_threaded_writes_processed", 0);
    w.kv("reply_buffer_shrinks", srv.client_mem.reply_buffer_shrinks);
    w.kv("reply_buffer_expands", srv.client_mem.reply_buffer_expands);
}

fn replication(srv: &Server, w: &mut Section) {
    w.header("Replication");
    for (name, value) in crate::repl::replica::info_fields(srv) {
        if name.is_empty() {
            // A whole `slaveN:...` line.
            let _ = write!(w.0, "{value}\r\n");
        } else {
            w.kv(name, value);
        }
    }
}

fn cpu(w: &mut Section) {
    // utime, stime, cutime, cstime: fields 14-17 of /proc/self/stat, in
    // clock ticks (100 per second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let secs = |i: usize| {
        let ticks = f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        format!("{}.{:06}", ticks / 100, ticks % 100 * 10_000)
    };
    let (user, sys, cuser, csys) = (secs(11), secs(12), secs(13), secs(14));
    w.header("CPU");
    w.kv("used_cpu_sys", &sys);
    w.kv("used_cpu_user", &user);
    w.kv("used_cpu_sys_children", csys);
    w.kv("used_cpu_user_children", cuser);
    // One thread: the main thread's figures are the process's.
    w.kv("used_cpu_sys_main_thread", sys);
    w.kv("used_cpu_user_main_thread", user);
}

fn commandstats(srv: &Server, w: &mut Section) {
    w.header("Commandstats");
    for idx in table_order(&srv.commands) {
        let cmd = &srv.commands.cmds[idx];
        let s = &cmd.stats;
        if s.calls == 0 && s.rejected_calls == 0 && s.failed_calls == 0 {
            continue;
        }
        // COMPAT: Redis divides in single precision.
        let per = if s.calls > 0 { s.usec as f32 / s.calls as f32 } else { 0.0 };
        w.kv(
            &format!("cmdstat_{}", safe_name(cmd.fullname)),
            format_args!(
                "calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}",
                s.calls, s.usec, per, s.rejected_calls, s.failed_calls
            ),
        );
    }
}

fn errorstats(srv: &Server, w: &mut Section) {
    w.header("Errorstats");
    let mut codes: Vec<(&String, &u64)> = srv.stats.errors.iter().collect();
    codes.sort();
    for (code, n) in codes {
        w.kv(&format!("errorstat_{}", safe_name(code)), format_args!("count={n}"));
    }
}

fn latencystats(srv: &Server, w: &mut Section) {
    w.header("Latencystats");
    if !srv.config.latency_tracking {
        return;
    }
    let percentiles = &srv.config.latency_tracking_info_percentiles;
    for idx in table_order(&srv.commands) {
        let Some(h) = srv.latency.histogram(idx) else { continue };
        w.kv(
            &format!("latency_percentiles_usec_{}", safe_name(srv.commands.cmds[idx].fullname)),
            crate::latency::percentiles_line(h, percentiles),
        );
    }
}

fn keyspace(srv: &Server, w: &mut Section) {
    w.header("Keyspace");
    for (i, db) in srv.ks.dbs.iter().enumerate() {
        if db.dict.is_empty() && db.expires.is_empty() {
            continue;
        }
        w.kv(
            &format!("db{i}"),
            format_args!("keys={},expires={},avg_ttl={}", db.dict.len(), db.expires.len(), db.avg_ttl_ms),
        );
    }
}

/// CONFIG RESETSTAT: clears what Redis 7.0 clears (server counters,
/// instantaneous metrics, per-command statistics and latency histograms,
/// error statistics, keyspace hits/misses/expired). Gauges (blocked
/// clients) and the memory figures are kept; the slow log and the latency
/// monitor have their own RESET.
pub fn reset_stats(srv: &mut Server) {
    let st = &srv.stats;
    srv.stats = Stats {
        blocked_clients: st.blocked_clients,
        expired_clients: st.expired_clients,
        peak_memory: st.peak_memory,
        startup_memory: st.startup_memory,
        ..Stats::default()
    };
    srv.ks.stat_hits = 0;
    srv.ks.stat_misses = 0;
    srv.ks.stat_expired_keys = 0;
    srv.repl.stat_sync_full = 0;
    srv.repl.stat_sync_partial_ok = 0;
    srv.repl.stat_sync_partial_err = 0;
    for cmd in &mut srv.commands.cmds {
        cmd.stats = Default::default();
    }
    srv.latency.reset_histograms();
    // Redis 8.2 clears the per-slot counters too.
    if let Some(cl) = srv.cluster.as_deref_mut() {
        cl.slot_stats.reset_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_matches_redis() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(1024), "1.00K");
        assert_eq!(human_bytes(941032), "918.98K");
        assert_eq!(human_bytes(12447744), "11.87M");
        assert_eq!(human_bytes(25276502016), "23.54G");
        assert_eq!(human_bytes(1 << 40), "1.00T");
        assert_eq!(human_bytes(1 << 50), "1.00P");
        assert_eq!(human_bytes(u64::MAX), format!("{}B", u64::MAX));
    }

    #[test]
    fn unsafe_characters_are_replaced() {
        assert_eq!(safe_name("a:b#c\r\nd"), "a_b_c__d");
        assert_eq!(safe_name("config|set"), "config|set");
    }

    #[test]
    fn table_order_puts_subcommands_after_their_container() {
        let t = CommandTable::new(crate::cmd::BINDINGS);
        let order = table_order(&t);
        assert_eq!(order.len(), t.cmds.len());
        let pos = |name: &str| order.iter().position(|&i| t.cmds[i].fullname == name).unwrap();
        assert!(pos("config") < pos("config|get"));
        assert!(pos("config|get") < pos("config|set"));
    }
}
