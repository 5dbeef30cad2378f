//! Viator's configuration: the typed [`Config`], redis.conf parsing, the
//! `viator-server` command line, and CONFIG GET / SET / REWRITE.
//!
//! Owns: every configuration parameter Redis 7.0 knows, as a typed field, with one
//! table row each (`table.rs`) that drives file parsing, CONFIG GET/SET and REWRITE.
//! Must not: apply side effects of a change (listening on a new port, `chdir`
//! after CONFIG SET dir, resizing the client table for `maxclients`): [`Config::set`]
//! reports which parameters changed and the server applies them, restoring a clone
//! if applying fails. Subsystems read typed fields and never parse strings.
//!
//! Mirrors Redis 7.0 `config.c` (directive table, file loading, CONFIG commands),
//! `sds.c` `sdssplitargs` (line syntax) and `server.c` `main()` (arguments).
//! `rename-command` and `user` lines are kept as given and applied by the server
//! (command table, ACL). Lines that Viator stores but does not act on yet
//! (`loadmodule`, most tuning knobs) are kept so CONFIG GET and REWRITE show them,
//! and [`Config::unimplemented_in_use`] lists them for a start-up note.
//!
//! ```text
//! argv ──parse_startup──> Startup::Run { config, config_file, sentinel }
//!          file text + stdin + "--name value" lines ──Loader──> Config fields
//! CONFIG GET ──> Config::get      (glob over names and aliases, Redis renderings)
//! CONFIG SET ──> Config::set_from (all-or-nothing on a clone, returns changed names)
//! CONFIG REWRITE ──> Config::rewrite (keeps comments and order, atomic replace)
//! ```

mod parse;
mod rewrite;
mod table;
mod types;
mod value;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

pub use parse::split_args;
pub use rewrite::{RewriteHooks, RewriteState};
pub use table::{expand_proc_title, Directive, DirectiveFlags, Kind, NumFormat, Special, TABLE};
pub use types::*;
pub(crate) use value::format_percentile;
pub(crate) use value::strerror;
pub use value::{memtoull, repr};

use table::lookup;

/// Declares [`Config`] once: its fields and an all-zero constructor that
/// `Default` fills from the directive table.
macro_rules! config_struct {
    ($( $(#[$doc:meta])* $field:ident : $ty:ty, )*) => {
        /// Every configuration parameter, typed. Field names are the directive names
        /// with '-' turned into '_' (`tcp-backlog` is `tcp_backlog`); aliases such as
        /// `slaveof` or `hash-max-ziplist-entries` share their directive's field.
        /// Integers are `i64` whatever Redis's C type; memory amounts are bytes.
        /// Strings that Redis keeps as NULL when unset are "" here.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Config {
            $( $(#[$doc])* pub $field: $ty, )*
            /// Per table row: whether the file or command line set it.
            pub(crate) given: Vec<bool>,
        }

        impl Config {
            fn blank() -> Self {
                Config { $( $field: Default::default(), )* given: vec![false; TABLE.len()] }
            }
        }
    };
}

config_struct! {
    // ---- network and process (used by the core server) ----
    /// `port`: TCP port, 0 for none.
    port: i64,
    /// `bind`: addresses to listen on; a leading '-' marks an optional address.
    bind: Vec<String>,
    /// `unixsocket`: path of the unix socket, "" for none.
    unixsocket: String,
    /// `unixsocketperm`: permissions of the unix socket (octal in the file).
    unixsocketperm: u32,
    /// `tcp-backlog`: listen(2) backlog.
    tcp_backlog: i64,
    /// `tcp-keepalive`: SO_KEEPALIVE interval in seconds, 0 for off.
    tcp_keepalive: i64,
    /// `timeout`: idle seconds before a client is closed, 0 for never.
    timeout: i64,
    /// `maxclients`.
    maxclients: i64,
    /// `protected-mode`.
    protected_mode: bool,
    /// `daemonize`.
    daemonize: bool,
    /// `pidfile`: "" for none (Redis then uses /var/run/redis.pid when daemonized).
    pidfile: String,
    /// `hz`: server cron frequency, kept within 1..=500.
    hz: i64,
    /// `busy-poll-us` (Viator's own): the longest the event loop polls its
    /// sockets before sleeping, while requests keep arriving that close
    /// together (see `Reactor::wait`); 0 never polls.
    busy_poll_us: i64,
    /// `loglevel`.
    loglevel: LogLevel,
    /// `logfile`: "" for standard output.
    logfile: String,
    /// `databases`.
    databases: i64,
    /// `requirepass`: the default user's password, "" for none.
    requirepass: String,
    /// `proto-max-bulk-len`: largest bulk string accepted from clients.
    proto_max_bulk_len: i64,
    /// `client-query-buffer-limit`: largest query buffer per client.
    client_query_buffer_limit: i64,
    /// `notify-keyspace-events`: bits from [`notify`].
    notify_keyspace_events: u32,
    /// `enable-debug-command`.
    enable_debug_command: ProtectedMode,
    /// `enable-protected-configs`: who may CONFIG SET protected parameters.
    enable_protected_configs: ProtectedMode,
    /// `enable-module-command`.
    enable_module_command: ProtectedMode,
    /// `always-show-logo`.
    always_show_logo: bool,
    /// `dir`: absolute working directory.
    dir: String,
    // ---- persistence ----
    /// `dbfilename`.
    dbfilename: String,
    /// `save`: (seconds, changes) snapshot points; empty disables snapshots.
    save: Vec<(i64, i64)>,
    /// `appendonly`.
    appendonly: bool,
    /// `appendfilename`.
    appendfilename: String,
    /// `appenddirname`.
    appenddirname: String,
    /// `appendfsync`.
    appendfsync: AppendFsync,
    rdbchecksum: bool,
    rdbcompression: bool,
    rdb_del_sync_files: bool,
    stop_writes_on_bgsave_error: bool,
    rdb_save_incremental_fsync: bool,
    aof_rewrite_incremental_fsync: bool,
    no_appendfsync_on_rewrite: bool,
    aof_load_truncated: bool,
    aof_use_rdb_preamble: bool,
    aof_timestamp_enabled: bool,
    aof_disable_auto_gc: bool,
    auto_aof_rewrite_percentage: i64,
    auto_aof_rewrite_min_size: i64,
    rdb_key_save_delay: i64,
    key_load_delay: i64,
    loading_process_events_interval_bytes: i64,
    // ---- memory and eviction ----
    /// `maxmemory`: bytes, 0 for no limit. Redis keeps an unsigned 64-bit value, so a
    /// value above `i64::MAX` (only reachable by asking for it) reads negative here.
    maxmemory: i64,
    maxmemory_policy: MaxmemoryPolicy,
    maxmemory_samples: i64,
    maxmemory_eviction_tenacity: i64,
    /// `maxmemory-clients`: bytes, or a negative percentage of maxmemory (-N = N%).
    maxmemory_clients: i64,
    active_expire_effort: i64,
    lazyfree_lazy_eviction: bool,
    lazyfree_lazy_expire: bool,
    lazyfree_lazy_server_del: bool,
    lazyfree_lazy_user_del: bool,
    lazyfree_lazy_user_flush: bool,
    lfu_log_factor: i64,
    lfu_decay_time: i64,
    activerehashing: bool,
    activedefrag: bool,
    active_defrag_ignore_bytes: i64,
    active_defrag_threshold_lower: i64,
    active_defrag_threshold_upper: i64,
    active_defrag_cycle_min: i64,
    active_defrag_cycle_max: i64,
    active_defrag_max_scan_fields: i64,
    jemalloc_bg_thread: bool,
    // ---- encodings ----
    hash_max_listpack_entries: i64,
    hash_max_listpack_value: i64,
    list_max_listpack_size: i64,
    list_compress_depth: i64,
    set_max_intset_entries: i64,
    zset_max_listpack_entries: i64,
    zset_max_listpack_value: i64,
    hll_sparse_max_bytes: i64,
    stream_node_max_bytes: i64,
    stream_node_max_entries: i64,
    // ---- replication ----
    /// `replicaof` / `slaveof`: the primary to follow, `None` for a primary.
    replicaof: Option<(String, u16)>,
    masterauth: String,
    masteruser: String,
    replica_serve_stale_data: bool,
    replica_read_only: bool,
    replica_lazy_flush: bool,
    replica_ignore_maxmemory: bool,
    replica_announced: bool,
    replica_priority: i64,
    replica_announce_ip: String,
    replica_announce_port: i64,
    replica_ignore_disk_write_errors: bool,
    repl_diskless_sync: bool,
    repl_diskless_sync_delay: i64,
    repl_diskless_sync_max_replicas: i64,
    repl_diskless_load: ReplDisklessLoad,
    repl_ping_replica_period: i64,
    repl_timeout: i64,
    repl_disable_tcp_nodelay: bool,
    repl_backlog_size: i64,
    repl_backlog_ttl: i64,
    min_replicas_to_write: i64,
    min_replicas_max_lag: i64,
    propagation_error_behavior: PropagationErrorBehavior,
    // ---- cluster ----
    cluster_enabled: bool,
    cluster_config_file: String,
    cluster_node_timeout: i64,
    cluster_port: i64,
    cluster_replica_validity_factor: i64,
    cluster_migration_barrier: i64,
    cluster_allow_replica_migration: bool,
    cluster_require_full_coverage: bool,
    cluster_replica_no_failover: bool,
    cluster_allow_reads_when_down: bool,
    cluster_allow_pubsubshard_when_down: bool,
    /// `cluster-slot-stats-enabled` (Redis 8.2): per-slot cpu and network
    /// counters for CLUSTER SLOT-STATS.
    cluster_slot_stats_enabled: bool,
    /// `cluster-slot-migration-handoff-max-lag-bytes` (Redis 8.4): how far
    /// behind an importer may be when the source pauses writes to hand off.
    cluster_slot_migration_handoff_max_lag_bytes: i64,
    /// `cluster-slot-migration-write-pause-timeout` (Redis 8.4, ms): how long
    /// writes wait for the importer to take the slots over.
    cluster_slot_migration_write_pause_timeout: i64,
    cluster_link_sendbuf_limit: i64,
    cluster_announce_ip: String,
    cluster_announce_hostname: String,
    cluster_announce_port: i64,
    cluster_announce_bus_port: i64,
    cluster_announce_tls_port: i64,
    cluster_preferred_endpoint_type: ClusterEndpointType,
    // ---- clients, limits and monitoring ----
    /// `client-output-buffer-limit`.
    client_output_buffer_limit: OutputBufferLimits,
    tracking_table_max_keys: i64,
    slowlog_log_slower_than: i64,
    slowlog_max_len: i64,
    latency_monitor_threshold: i64,
    latency_tracking: bool,
    /// `latency-tracking-info-percentiles`.
    latency_tracking_info_percentiles: Vec<f64>,
    busy_reply_threshold: i64,
    acllog_max_len: i64,
    aclfile: String,
    acl_pubsub_default: AclPubsubDefault,
    sanitize_dump_payload: SanitizeDumpPayload,
    // ---- process ----
    supervised: Supervised,
    set_proc_title: bool,
    proc_title_template: String,
    syslog_enabled: bool,
    syslog_ident: String,
    syslog_facility: SyslogFacility,
    crash_log_enabled: bool,
    crash_memcheck_enabled: bool,
    use_exit_on_panic: bool,
    disable_thp: bool,
    dynamic_hz: bool,
    io_threads: i64,
    io_threads_do_reads: bool,
    oom_score_adj: OomScoreAdj,
    /// `oom-score-adj-values`: for primary, replica and background child.
    oom_score_adj_values: [i64; 3],
    shutdown_timeout: i64,
    shutdown_on_sigint: ShutdownFlags,
    shutdown_on_sigterm: ShutdownFlags,
    watchdog_period: i64,
    socket_mark_id: i64,
    bind_source_addr: String,
    server_cpulist: String,
    bio_cpulist: String,
    aof_rewrite_cpulist: String,
    bgsave_cpulist: String,
    ignore_warnings: String,
    // ---- TLS ----
    tls_port: i64,
    tls_cert_file: String,
    tls_key_file: String,
    tls_key_file_pass: String,
    tls_client_cert_file: String,
    tls_client_key_file: String,
    tls_client_key_file_pass: String,
    tls_dh_params_file: String,
    tls_ca_cert_file: String,
    tls_ca_cert_dir: String,
    tls_auth_clients: TlsAuthClients,
    tls_replication: bool,
    tls_cluster: bool,
    tls_protocols: String,
    tls_ciphers: String,
    tls_ciphersuites: String,
    tls_prefer_server_ciphers: bool,
    tls_session_caching: bool,
    tls_session_cache_size: i64,
    tls_session_cache_timeout: i64,
    // ---- lines kept as given ----
    /// `rename-command old new` lines (`new` "" removes the command).
    rename_commands: Vec<(String, String)>,
    /// `user name rules...` lines, without the leading `user`.
    users: Vec<Vec<String>>,
    /// `loadmodule path args...` lines, without the leading `loadmodule`.
    loadmodules: Vec<Vec<String>>,
    /// `module.option value` lines (the last value for each name).
    module_configs: Vec<(String, String)>,
    /// `sentinel ...` lines (Sentinel mode only), without the leading `sentinel`.
    sentinel_lines: Vec<Vec<String>>,
    /// Whether the server runs as Sentinel (not a directive).
    sentinel_mode: bool,
}

impl Default for Config {
    /// Redis 7.0's built-in defaults (what `redis-server` uses with no config file),
    /// with `dir` set to the current working directory.
    fn default() -> Self {
        let mut c = Config::blank();
        for row in TABLE {
            value::apply_default(&mut c, row);
        }
        c.bind = vec!["*".to_string(), "-::*".to_string()];
        c.save = vec![(3600, 1), (300, 100), (60, 10000)];
        c.client_output_buffer_limit = OutputBufferLimits::default();
        c.oom_score_adj_values = [0, 200, 800];
        c.latency_tracking_info_percentiles = vec![50.0, 99.0, 99.9];
        c.notify_keyspace_events = 0;
        c.replicaof = None;
        c.dir = std::env::current_dir().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        c
    }
}

impl Config {
    /// Whether this configuration is a Sentinel's.
    pub fn sentinel_mode(&self) -> bool {
        self.sentinel_mode
    }

    /// The `sentinel ...` lines read at start-up, without the leading word.
    pub fn sentinel_lines(&self) -> &[Vec<String>] {
        &self.sentinel_lines
    }

    /// The defaults for a server (`sentinel` false, same as `Default`) or for a
    /// Sentinel, which listens on 26379 with protected mode off. CONFIG REWRITE still
    /// compares against the server defaults, so a Sentinel's file gets `port 26379`.
    pub fn defaults_for(sentinel: bool) -> Config {
        let mut c = Config { sentinel_mode: sentinel, ..Config::default() };
        if sentinel {
            // COMPAT: Redis's initSentinelConfig.
            c.port = 26379;
            c.protected_mode = false;
        }
        c
    }
}

/// Where a CONFIG SET comes from, for the checks that depend on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetContext {
    /// The client is local (loopback or unix socket); with `enable-protected-configs
    /// local`, only local clients may set protected parameters.
    pub local: bool,
    /// The server is loading its dataset; some parameters are refused meanwhile.
    pub loading: bool,
}

impl Config {
    /// Parses config text (as in a file, without the command line) on top of the
    /// defaults, with no process side effects: `dir` is checked but the working
    /// directory is not changed, and `logfile` is not opened. Relative `include`
    /// paths are resolved against the current directory.
    pub fn from_text(text: &[u8]) -> Result<Config, ConfigError> {
        let mut loader = parse::Loader::new(false, false);
        loader.load_text(text)?;
        Ok(loader.into_config())
    }

    /// CONFIG GET: the parameters matching any of `patterns`, each once, with their
    /// values as Redis renders them (yes/no, plain byte counts, `save` as
    /// `"3600 1 300 100 60 10000"`, ...).
    ///
    /// A pattern with no `*`, `?` or `[` is an exact, case-insensitive name or alias
    /// and is answered under the name as written; it also reaches hidden parameters.
    /// A glob matches names and aliases (so `*of` gives both `replicaof` and
    /// `slaveof`) but never hidden parameters. Order: first match first.
    pub fn get(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let mut found: Vec<(String, &'static Directive)> = Vec::new();
        let seen = |found: &Vec<(String, &Directive)>, name: &[u8]| {
            found.iter().any(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
        };
        for pattern in patterns {
            if !pattern.iter().any(|b| matches!(b, b'[' | b'*' | b'?')) {
                if seen(&found, pattern) {
                    continue;
                }
                if let Some(f) = lookup(pattern) {
                    found.push((String::from_utf8_lossy(pattern).into_owned(), f.row()));
                }
                continue;
            }
            for row in TABLE {
                if row.has(DirectiveFlags::HIDDEN) {
                    continue;
                }
                for name in std::iter::once(row.name).chain(row.alias) {
                    if !seen(&found, name.as_bytes()) && crate::util::glob::string_match(pattern, name.as_bytes(), true)
                    {
                        found.push((name.to_string(), row));
                    }
                }
            }
        }
        found.into_iter().map(|(name, row)| (name, value::render(self, row))).collect()
    }

    /// The CONFIG GET rendering of one parameter by name or alias.
    pub fn get_one(&self, name: &[u8]) -> Option<String> {
        lookup(name).map(|f| value::render(self, f.row()))
    }

    /// CONFIG SET from a client that is not local and with no dataset loading; see
    /// [`Config::set_from`].
    pub fn set(&mut self, pairs: &[(&[u8], &[u8])]) -> Result<Vec<&'static str>, String> {
        self.set_from(pairs, SetContext::default())
    }

    /// CONFIG SET with several `(name, value)` pairs, all or nothing.
    ///
    /// Every name is checked first (unknown, immutable, protected, refused while
    /// loading, given twice): the first problem is the error. Values are then applied
    /// in order to a copy; the first invalid value is the error and `self` is left
    /// untouched. On success returns the canonical names whose value changed (or
    /// that Redis re-applies even when equal, such as `bind` and `save`), in order,
    /// without repeats; the caller applies their side effects. Multi-word values
    /// (`save`, `bind`, ...) are split on single spaces. `dir` is resolved to an
    /// absolute directory but the caller performs the `chdir`.
    ///
    /// Errors are Redis's full texts without the leading '-', such as
    /// `ERR CONFIG SET failed (possibly related to argument 'x') - can't set immutable config`.
    pub fn set_from(&mut self, pairs: &[(&[u8], &[u8])], ctx: SetContext) -> Result<Vec<&'static str>, String> {
        let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        // COMPAT: error texts are Redis 7.0's configSetCommand replies.
        let failed =
            |name: &str, why: &str| format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}");
        let mut targets: Vec<table::Found> = Vec::with_capacity(pairs.len());
        for (name, _) in pairs {
            let Some(f) = lookup(name) else {
                return Err(format!("ERR Unknown option or number of arguments for CONFIG SET - '{}'", lossy(name)));
            };
            let row = f.row();
            if row.has(DirectiveFlags::IMMUTABLE) {
                return Err(failed(&lossy(name), "can't set immutable config"));
            }
            if row.has(DirectiveFlags::PROTECTED) && !self.enable_protected_configs.allows(ctx.local) {
                return Err(failed(&lossy(name), "can't set protected config"));
            }
            if ctx.loading && row.has(DirectiveFlags::DENY_LOADING) {
                return Err("LOADING Redis is loading the dataset in memory".to_string());
            }
            // The same entry twice is refused; a name and its alias are two entries.
            if targets.contains(&f) {
                return Err(failed(&lossy(name), "duplicate parameter"));
            }
            targets.push(f);
        }

        let mut next = self.clone();
        let mut changed: Vec<&'static str> = Vec::new();
        let mut ctx_set = value::SetCtx::default();
        for (f, (_, raw)) in targets.iter().zip(pairs) {
            let row = f.row();
            let args = if row.has(DirectiveFlags::MULTI_ARG) { value::split_spaces(raw) } else { vec![raw.to_vec()] };
            match value::set_directive(&mut next, row, &args, &mut ctx_set) {
                Ok(true) => {
                    if !changed.contains(&row.name) {
                        changed.push(row.name);
                    }
                }
                Ok(false) => {}
                Err(why) => return Err(failed(f.matched_name(), &why)),
            }
        }
        *self = next;
        Ok(changed)
    }

    /// CONFIG REWRITE into `path` (the config file's absolute path): existing
    /// comments, blank lines and order are kept, present directives are rewritten in
    /// place, non-default ones are appended after `# Generated by CONFIG REWRITE`,
    /// and lines of directives now at their default are dropped. `user` lines are
    /// written from [`Config::users`]. The file is replaced atomically.
    pub fn rewrite(&self, path: &Path) -> std::io::Result<()> {
        rewrite::rewrite_file(self, path, RewriteHooks::default())
    }

    /// [`Config::rewrite`] with hooks: force every directive out, supply the ACL
    /// users as the ACL module describes them, and add Sentinel's lines.
    pub fn rewrite_with(&self, path: &Path, hooks: RewriteHooks<'_>) -> std::io::Result<()> {
        rewrite::rewrite_file(self, path, hooks)
    }

    /// The text CONFIG REWRITE would produce from `old` (the current file content).
    pub fn rewrite_text(&self, old: &[u8], hooks: RewriteHooks<'_>) -> Vec<u8> {
        rewrite::rewrite_text(self, old, hooks)
    }

    /// The directives flagged `DEBUG`, one `name value` line each, as Redis lists
    /// them in a crash report.
    pub fn debug_info(&self) -> String {
        rewrite::debug_lines(self)
    }

    /// Directives given in the config file or on the command line that Viator's
    /// server does not act on yet (canonical names, table order), followed by
    /// `loadmodule` when such lines were given. The
    /// server logs each once at start-up.
    pub fn unimplemented_in_use(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = TABLE
            .iter()
            .zip(&self.given)
            .filter(|(row, given)| **given && !row.has(DirectiveFlags::IMPLEMENTED))
            .map(|(row, _)| row.name)
            .collect();
        if !self.loadmodules.is_empty() {
            out.push("loadmodule");
        }
        out
    }

    /// Whether the file or command line set this directive (name or alias).
    pub fn was_given(&self, name: &[u8]) -> bool {
        lookup(name).is_some_and(|f| self.given.get(f.index).copied().unwrap_or(false))
    }
}

/// The canonical name of a directive given by name or alias, ignoring case
/// (`SLAVEOF` gives `replicaof`).
pub fn canonical_name(name: &[u8]) -> Option<&'static str> {
    lookup(name).map(|f| f.row().name)
}

/// The table row of a directive given by name or alias.
pub fn directive(name: &[u8]) -> Option<&'static Directive> {
    lookup(name).map(|f| f.row())
}

/// Whether CONFIG SET values of this directive must be redacted from logs,
/// SLOWLOG and MONITOR (`requirepass`, `masterauth`, `masteruser`).
pub fn is_sensitive(name: &[u8]) -> bool {
    directive(name).is_some_and(|d| d.has(DirectiveFlags::SENSITIVE))
}

/// What `viator-server` was asked to do.
// Built once per process; boxing the config would only add noise at the call site.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Startup {
    /// Run a server (or a Sentinel when `sentinel`) with this configuration.
    Run {
        /// The parsed configuration.
        config: Config,
        /// Absolute path of the config file, needed by CONFIG REWRITE.
        config_file: Option<PathBuf>,
        /// Sentinel mode (`--sentinel` anywhere, or the sentinel binary).
        sentinel: bool,
    },
    /// `-v` / `--version`: print the version line and exit 0.
    Version,
    /// `-h` / `--help`: print usage and exit 1.
    Help,
    /// `--test-memory <megabytes>`: the second argument is the size.
    TestMemory,
}

/// Parses `viator-server`'s arguments (without argv[0]) the way redis-server does.
///
/// `-v`/`--version`, `-h`/`--help` and `--test-memory N` are looked for as the
/// first argument. Otherwise a first argument not starting with '-' is the config
/// file (stored as an absolute path), `-` as the first or last argument reads
/// config text from standard input, and `--name value...` options become config
/// lines appended after the file and stdin text. `--sentinel` anywhere selects
/// Sentinel mode. `--check-system` is not supported and fails as an unknown
/// directive.
///
/// Side effects as in redis-server: `dir` changes the working directory while the
/// text is read, and a `logfile` is opened (created) to check it.
pub fn parse_startup(args: &[String]) -> Result<Startup, ConfigError> {
    parse::parse_startup_as(args, false)
}

/// [`parse_startup`] for a binary started as `viator-sentinel`: Sentinel mode even
/// without `--sentinel`.
pub fn parse_startup_sentinel(args: &[String]) -> Result<Startup, ConfigError> {
    parse::parse_startup_as(args, true)
}

/// What went wrong while reading the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// A bad line or a failed check: Redis's FATAL CONFIG FILE ERROR report.
    Directive,
    /// A config file could not be read: Redis logs it at warning level.
    OpenFile,
    /// Wrong use of the command line (`--test-memory` without a size).
    Usage,
}

/// A configuration error. `Display` renders exactly what redis-server prints; the
/// server writes it to stderr (or the log, for `OpenFile`) and exits with status 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// What kind of failure.
    pub kind: ConfigErrorKind,
    /// The 1-based line in the text being read, when a line is at fault.
    pub line: Option<usize>,
    /// That line, trimmed (for `OpenFile`, the path).
    pub text: String,
    /// Why.
    pub reason: String,
}

impl ConfigError {
    fn global(reason: String) -> Self {
        ConfigError { kind: ConfigErrorKind::Directive, line: None, text: String::new(), reason }
    }

    fn open_failed(path: &str, why: &str) -> Self {
        ConfigError { kind: ConfigErrorKind::OpenFile, line: None, text: path.to_string(), reason: why.to_string() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ConfigErrorKind::Directive => {
                // COMPAT: redis-server's report, byte for byte.
                write!(f, "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n")?;
                if let Some(line) = self.line {
                    write!(f, "Reading the configuration file, at line {line}\n>>> '{}'\n", self.text)?;
                }
                writeln!(f, "{}", self.reason)
            }
            // COMPAT: the warning redis-server logs before exiting.
            ConfigErrorKind::OpenFile => {
                write!(f, "Fatal error, can't open config file '{}': {}", self.text, self.reason)
            }
            ConfigErrorKind::Usage => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for ConfigError {}
