//! The directive table: one row per Redis 7.0 configuration parameter.
//!
//! Owns: names, aliases, flags, value kinds with bounds and defaults, and the
//! accessors that tie each row to its typed field of [`Config`]. Must not: parse
//! text or render values (that is `value.rs`); rows are pure data.
//!
//! Mirrors `static_configs[]` in Redis 7.0 `config.c` (including the TLS rows of a
//! TLS build): the same names, aliases, bounds, defaults and flags, so the config
//! file, CONFIG GET/SET and REWRITE all derive from one place. The `IMPLEMENTED`
//! flag is Viator's own: it marks parameters the core server acts on today.

use super::types::*;
use super::Config;

/// Per-directive flags. Built from the constants below with [`DirectiveFlags::with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectiveFlags(pub u16);

impl DirectiveFlags {
    /// No flag.
    pub const NONE: DirectiveFlags = DirectiveFlags(0);
    /// CONFIG SET refuses it ("can't set immutable config").
    pub const IMMUTABLE: DirectiveFlags = DirectiveFlags(1 << 0);
    /// CONFIG SET refuses it unless `enable-protected-configs` allows.
    pub const PROTECTED: DirectiveFlags = DirectiveFlags(1 << 1);
    /// Its CONFIG SET value is redacted from logs, SLOWLOG and MONITOR.
    pub const SENSITIVE: DirectiveFlags = DirectiveFlags(1 << 2);
    /// CONFIG GET shows it only when asked by exact name.
    pub const HIDDEN: DirectiveFlags = DirectiveFlags(1 << 3);
    /// Takes several arguments (`save`, `bind`, ...).
    pub const MULTI_ARG: DirectiveFlags = DirectiveFlags(1 << 4);
    /// CONFIG SET refuses it while the dataset is loading.
    pub const DENY_LOADING: DirectiveFlags = DirectiveFlags(1 << 5);
    /// Listed in the configuration dump of crash reports ([`Config::debug_info`]).
    pub const DEBUG: DirectiveFlags = DirectiveFlags(1 << 6);
    /// Setting it to the same value still counts as a change (TLS file paths).
    pub const VOLATILE: DirectiveFlags = DirectiveFlags(1 << 7);
    /// Viator's core server acts on this parameter today.
    pub const IMPLEMENTED: DirectiveFlags = DirectiveFlags(1 << 8);

    /// The union of two flag sets.
    pub const fn with(self, other: DirectiveFlags) -> DirectiveFlags {
        DirectiveFlags(self.0 | other.0)
    }

    /// Whether every flag of `other` is set.
    pub const fn has(self, other: DirectiveFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// How a numeric directive is written and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumFormat {
    /// A plain strict integer.
    Integer,
    /// Bytes, with optional `k kb m mb g gb` units.
    Memory,
    /// Bytes, or a percentage `N%` (stored as `-N`).
    MemoryOrPercent,
    /// An octal number (`unixsocketperm`).
    Octal,
}

/// The special directives whose parsing and rendering are hand written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// `dir`: the working directory.
    Dir,
    /// `save`: RDB snapshot points.
    Save,
    /// `client-output-buffer-limit`.
    ClientOutputBufferLimit,
    /// `oom-score-adj-values`.
    OomScoreAdjValues,
    /// `notify-keyspace-events`.
    NotifyKeyspaceEvents,
    /// `bind`.
    Bind,
    /// `replicaof` / `slaveof`.
    ReplicaOf,
    /// `latency-tracking-info-percentiles`.
    LatencyTrackingInfoPercentiles,
}

/// Validates a string value; the error is the reason text Redis prints.
pub type StrCheck = fn(&Config, &str) -> Result<(), &'static str>;

/// The kind of a directive's value, with its default and field accessors.
#[derive(Clone, Copy)]
pub enum Kind {
    /// `yes` / `no`.
    Bool {
        /// Default value.
        default: bool,
        /// Reads the field.
        get: fn(&Config) -> bool,
        /// Writes the field.
        set: fn(&mut Config, bool),
    },
    /// A string. `empty_is_null` strings treat "" as unset (and omit it on REWRITE).
    Str {
        /// Default value; `None` for an unset string.
        default: Option<&'static str>,
        /// Whether "" means unset.
        empty_is_null: bool,
        /// Optional validation.
        check: Option<StrCheck>,
        /// Reads the field.
        get: fn(&Config) -> &str,
        /// Writes the field.
        set: fn(&mut Config, String),
    },
    /// One name out of a list (or, for `MULTI_ARG` rows, a set of flag names).
    Enum {
        /// Accepted names and their codes, in Redis's order.
        names: &'static [(&'static str, i32)],
        /// Default code.
        default: i32,
        /// Reads the field as a code.
        get: fn(&Config) -> i32,
        /// Writes the field from a code.
        set: fn(&mut Config, i32),
    },
    /// An integer with inclusive bounds. Unsigned rows compare and print bounds as
    /// `u64` (Redis's unsigned C types); `upper: -1` there means `u64::MAX`.
    Num {
        /// Lower bound.
        lower: i64,
        /// Upper bound.
        upper: i64,
        /// Default value.
        default: i64,
        /// Whether bounds are unsigned.
        unsigned: bool,
        /// Accepted syntax.
        format: NumFormat,
        /// Reads the field.
        get: fn(&Config) -> i64,
        /// Writes the field.
        set: fn(&mut Config, i64),
    },
    /// Hand-written handling.
    Special(Special),
}

/// One row of the table.
#[derive(Clone, Copy)]
pub struct Directive {
    /// Canonical name (lowercase).
    pub name: &'static str,
    /// Old name still accepted everywhere (`slaveof` for `replicaof`).
    pub alias: Option<&'static str>,
    /// Flags.
    pub flags: DirectiveFlags,
    /// Value kind.
    pub kind: Kind,
}

impl Directive {
    /// Whether the directive has the flag.
    pub fn has(&self, flag: DirectiveFlags) -> bool {
        self.flags.has(flag)
    }
}

macro_rules! flags {
    ($($f:ident)|*) => { DirectiveFlags::NONE $(.with(DirectiveFlags::$f))* };
}

macro_rules! boolean {
    ($name:literal, $alias:expr, [$($f:ident)|*], $field:ident, $def:expr) => {
        Directive { name: $name, alias: $alias, flags: flags!($($f)|*), kind: Kind::Bool {
            default: $def, get: |c| c.$field, set: |c, v| c.$field = v } }
    };
}

macro_rules! string {
    ($name:literal, $alias:expr, [$($f:ident)|*], null_if_empty, $field:ident, $check:expr) => {
        Directive { name: $name, alias: $alias, flags: flags!($($f)|*), kind: Kind::Str {
            default: None, empty_is_null: true, check: $check,
            get: |c| c.$field.as_str(), set: |c, v| c.$field = v } }
    };
    ($name:literal, $alias:expr, [$($f:ident)|*], $field:ident, $def:literal, $check:expr) => {
        Directive { name: $name, alias: $alias, flags: flags!($($f)|*), kind: Kind::Str {
            default: Some($def), empty_is_null: false, check: $check,
            get: |c| c.$field.as_str(), set: |c, v| c.$field = v } }
    };
}

macro_rules! enumeration {
    ($name:literal, $alias:expr, [$($f:ident)|*], $ty:ident, $field:ident) => {
        Directive { name: $name, alias: $alias, flags: flags!($($f)|*), kind: Kind::Enum {
            names: $ty::NAMES, default: $ty::DEFAULT_CODE,
            get: |c| c.$field.code(), set: |c, v| c.$field = $ty::from_code(v) } }
    };
}

macro_rules! shutdown {
    ($name:literal, $field:ident) => {
        Directive {
            name: $name,
            alias: None,
            flags: flags!(MULTI_ARG | IMPLEMENTED),
            kind: Kind::Enum {
                names: ShutdownFlags::NAMES,
                default: 0,
                get: |c| c.$field.0 as i32,
                set: |c, v| c.$field = ShutdownFlags(v as u32),
            },
        }
    };
}

macro_rules! num {
    ($name:literal, $alias:expr, [$($f:ident)|*], $lo:expr, $hi:expr, $field:ident, $def:expr, $fmt:ident) => {
        num!(@row $name, $alias, [$($f)|*], $lo, $hi, false, $field, $def, $fmt)
    };
    (unsigned $name:literal, $alias:expr, [$($f:ident)|*], $lo:expr, $hi:expr, $field:ident, $def:expr, $fmt:ident) => {
        num!(@row $name, $alias, [$($f)|*], $lo, $hi, true, $field, $def, $fmt)
    };
    (@row $name:literal, $alias:expr, [$($f:ident)|*], $lo:expr, $hi:expr, $uns:expr, $field:ident, $def:expr, $fmt:ident) => {
        Directive { name: $name, alias: $alias, flags: flags!($($f)|*), kind: Kind::Num {
            lower: $lo, upper: $hi, default: $def, unsigned: $uns, format: NumFormat::$fmt,
            get: |c| c.$field, set: |c, v| c.$field = v } }
    };
}

macro_rules! special {
    ($name:literal, $alias:expr, [$($f:ident)|*], $which:ident) => {
        Directive { name: $name, alias: $alias, flags: flags!($($f)|*), kind: Kind::Special(Special::$which) }
    };
}

const INT_MAX: i64 = i32::MAX as i64;
const INT_MIN: i64 = i32::MIN as i64;
const UINT_MAX: i64 = u32::MAX as i64;
const LONG_MAX: i64 = i64::MAX;
/// `ULLONG_MAX` seen through a signed 64-bit value (unsigned rows print it as u64).
const ULLONG_MAX: i64 = -1;
const MB: i64 = 1024 * 1024;

/// Every directive Redis 7.0 knows, in Redis's table order.
// COMPAT: names, aliases, bounds and defaults are Redis 7.0.15's.
pub static TABLE: &[Directive] = &[
    // yes/no
    boolean!("rdbchecksum", None, [IMMUTABLE | IMPLEMENTED], rdbchecksum, true),
    boolean!("daemonize", None, [IMMUTABLE | IMPLEMENTED], daemonize, false),
    boolean!("io-threads-do-reads", None, [DEBUG | IMMUTABLE], io_threads_do_reads, false),
    boolean!("always-show-logo", None, [IMMUTABLE | IMPLEMENTED], always_show_logo, false),
    boolean!("protected-mode", None, [IMPLEMENTED], protected_mode, true),
    boolean!("rdbcompression", None, [IMPLEMENTED], rdbcompression, true),
    boolean!("rdb-del-sync-files", None, [], rdb_del_sync_files, false),
    boolean!("activerehashing", None, [], activerehashing, true),
    boolean!("stop-writes-on-bgsave-error", None, [IMPLEMENTED], stop_writes_on_bgsave_error, true),
    boolean!("set-proc-title", None, [IMMUTABLE | IMPLEMENTED], set_proc_title, true),
    boolean!("dynamic-hz", None, [], dynamic_hz, true),
    boolean!("lazyfree-lazy-eviction", None, [DEBUG | IMPLEMENTED], lazyfree_lazy_eviction, false),
    boolean!("lazyfree-lazy-expire", None, [DEBUG | IMPLEMENTED], lazyfree_lazy_expire, false),
    boolean!("lazyfree-lazy-server-del", None, [DEBUG | IMPLEMENTED], lazyfree_lazy_server_del, false),
    boolean!("lazyfree-lazy-user-del", None, [DEBUG | IMPLEMENTED], lazyfree_lazy_user_del, false),
    boolean!("lazyfree-lazy-user-flush", None, [DEBUG | IMPLEMENTED], lazyfree_lazy_user_flush, false),
    boolean!("repl-disable-tcp-nodelay", None, [], repl_disable_tcp_nodelay, false),
    boolean!("repl-diskless-sync", None, [DEBUG], repl_diskless_sync, true),
    boolean!("aof-rewrite-incremental-fsync", None, [IMPLEMENTED], aof_rewrite_incremental_fsync, true),
    boolean!("no-appendfsync-on-rewrite", None, [IMPLEMENTED], no_appendfsync_on_rewrite, false),
    boolean!("cluster-require-full-coverage", None, [IMPLEMENTED], cluster_require_full_coverage, true),
    boolean!("rdb-save-incremental-fsync", None, [], rdb_save_incremental_fsync, true),
    boolean!("aof-load-truncated", None, [IMPLEMENTED], aof_load_truncated, true),
    boolean!("aof-use-rdb-preamble", None, [IMPLEMENTED], aof_use_rdb_preamble, true),
    boolean!("aof-timestamp-enabled", None, [IMPLEMENTED], aof_timestamp_enabled, false),
    boolean!(
        "cluster-replica-no-failover",
        Some("cluster-slave-no-failover"),
        [IMPLEMENTED],
        cluster_replica_no_failover,
        false
    ),
    boolean!("replica-lazy-flush", Some("slave-lazy-flush"), [], replica_lazy_flush, false),
    boolean!("replica-serve-stale-data", Some("slave-serve-stale-data"), [IMPLEMENTED], replica_serve_stale_data, true),
    boolean!("replica-read-only", Some("slave-read-only"), [DEBUG | IMPLEMENTED], replica_read_only, true),
    boolean!("replica-ignore-maxmemory", Some("slave-ignore-maxmemory"), [IMPLEMENTED], replica_ignore_maxmemory, true),
    boolean!("jemalloc-bg-thread", None, [], jemalloc_bg_thread, true),
    boolean!("activedefrag", None, [DEBUG], activedefrag, false),
    boolean!("syslog-enabled", None, [IMMUTABLE], syslog_enabled, false),
    boolean!("cluster-enabled", None, [IMMUTABLE | IMPLEMENTED], cluster_enabled, false),
    boolean!("appendonly", None, [DENY_LOADING | IMPLEMENTED], appendonly, false),
    boolean!("cluster-allow-reads-when-down", None, [IMPLEMENTED], cluster_allow_reads_when_down, false),
    boolean!("cluster-allow-pubsubshard-when-down", None, [IMPLEMENTED], cluster_allow_pubsubshard_when_down, true),
    // COMPAT: Redis 8.2's directive (CLUSTER SLOT-STATS), not in 7.0.
    boolean!("cluster-slot-stats-enabled", None, [IMPLEMENTED], cluster_slot_stats_enabled, false),
    num!("cluster-slot-migration-handoff-max-lag-bytes", None, [IMPLEMENTED], 0, LONG_MAX, cluster_slot_migration_handoff_max_lag_bytes, 1024 * 1024, Memory),
    num!("cluster-slot-migration-write-pause-timeout", None, [IMPLEMENTED], 0, LONG_MAX, cluster_slot_migration_write_pause_timeout, 10000, Integer),
    boolean!("crash-log-enabled", None, [IMPLEMENTED], crash_log_enabled, true),
    boolean!("crash-memcheck-enabled", None, [], crash_memcheck_enabled, true),
    boolean!("use-exit-on-panic", None, [HIDDEN], use_exit_on_panic, false),
    boolean!("disable-thp", None, [IMMUTABLE], disable_thp, true),
    boolean!("cluster-allow-replica-migration", None, [IMPLEMENTED], cluster_allow_replica_migration, true),
    boolean!("replica-announced", None, [IMPLEMENTED], replica_announced, true),
    boolean!("latency-tracking", None, [IMPLEMENTED], latency_tracking, true),
    boolean!("aof-disable-auto-gc", None, [IMPLEMENTED], aof_disable_auto_gc, false),
    boolean!("replica-ignore-disk-write-errors", None, [], replica_ignore_disk_write_errors, false),
    // strings
    string!("aclfile", None, [IMMUTABLE], aclfile, "", None),
    string!("unixsocket", None, [IMMUTABLE | IMPLEMENTED], null_if_empty, unixsocket, None),
    string!("pidfile", None, [IMMUTABLE | IMPLEMENTED], null_if_empty, pidfile, None),
    string!("replica-announce-ip", Some("slave-announce-ip"), [IMPLEMENTED], null_if_empty, replica_announce_ip, None),
    string!("masteruser", None, [SENSITIVE | IMPLEMENTED], null_if_empty, masteruser, None),
    string!("cluster-announce-ip", None, [IMPLEMENTED], null_if_empty, cluster_announce_ip, None),
    string!("cluster-config-file", None, [IMMUTABLE | IMPLEMENTED], cluster_config_file, "nodes.conf", None),
    string!("cluster-announce-hostname", None, [IMPLEMENTED], null_if_empty, cluster_announce_hostname, Some(check_hostname)),
    string!("syslog-ident", None, [IMMUTABLE], syslog_ident, "redis", None),
    string!("dbfilename", None, [PROTECTED | IMPLEMENTED], dbfilename, "dump.rdb", Some(check_dbfilename)),
    string!("appendfilename", None, [IMMUTABLE | IMPLEMENTED], appendfilename, "appendonly.aof", Some(check_appendfilename)),
    string!("appenddirname", None, [IMMUTABLE | IMPLEMENTED], appenddirname, "appendonlydir", Some(check_appenddirname)),
    string!("server_cpulist", None, [IMMUTABLE], null_if_empty, server_cpulist, None),
    string!("bio_cpulist", None, [IMMUTABLE], null_if_empty, bio_cpulist, None),
    string!("aof_rewrite_cpulist", None, [IMMUTABLE], null_if_empty, aof_rewrite_cpulist, None),
    string!("bgsave_cpulist", None, [IMMUTABLE], null_if_empty, bgsave_cpulist, None),
    string!("ignore-warnings", None, [], ignore_warnings, "", None),
    string!(
        "proc-title-template",
        None,
        [IMPLEMENTED],
        proc_title_template,
        "{title} {listen-addr} {server-mode}",
        Some(check_proc_title_template)
    ),
    string!("bind-source-addr", None, [IMPLEMENTED], null_if_empty, bind_source_addr, None),
    string!("logfile", None, [IMMUTABLE | IMPLEMENTED], logfile, "", None),
    string!("masterauth", None, [SENSITIVE | IMPLEMENTED], null_if_empty, masterauth, None),
    string!("requirepass", None, [SENSITIVE | IMPLEMENTED], null_if_empty, requirepass, None),
    // enums
    enumeration!("supervised", None, [IMMUTABLE], Supervised, supervised),
    enumeration!("syslog-facility", None, [IMMUTABLE], SyslogFacility, syslog_facility),
    enumeration!("repl-diskless-load", None, [DEBUG | DENY_LOADING | IMPLEMENTED], ReplDisklessLoad, repl_diskless_load),
    enumeration!("loglevel", None, [IMPLEMENTED], LogLevel, loglevel),
    enumeration!("maxmemory-policy", None, [IMPLEMENTED], MaxmemoryPolicy, maxmemory_policy),
    enumeration!("appendfsync", None, [IMPLEMENTED], AppendFsync, appendfsync),
    enumeration!("oom-score-adj", None, [IMPLEMENTED], OomScoreAdj, oom_score_adj),
    enumeration!("acl-pubsub-default", None, [], AclPubsubDefault, acl_pubsub_default),
    enumeration!("sanitize-dump-payload", None, [DEBUG | IMPLEMENTED], SanitizeDumpPayload, sanitize_dump_payload),
    enumeration!("enable-protected-configs", None, [IMMUTABLE | IMPLEMENTED], ProtectedMode, enable_protected_configs),
    enumeration!("enable-debug-command", None, [IMMUTABLE | IMPLEMENTED], ProtectedMode, enable_debug_command),
    enumeration!("enable-module-command", None, [IMMUTABLE], ProtectedMode, enable_module_command),
    enumeration!("cluster-preferred-endpoint-type", None, [IMPLEMENTED], ClusterEndpointType, cluster_preferred_endpoint_type),
    enumeration!("propagation-error-behavior", None, [], PropagationErrorBehavior, propagation_error_behavior),
    shutdown!("shutdown-on-sigint", shutdown_on_sigint),
    shutdown!("shutdown-on-sigterm", shutdown_on_sigterm),
    // int
    num!("databases", None, [IMMUTABLE | IMPLEMENTED], 1, INT_MAX, databases, 16, Integer),
    num!("port", None, [IMPLEMENTED], 0, 65535, port, 6379, Integer),
    num!("io-threads", None, [DEBUG | IMMUTABLE], 1, 128, io_threads, 1, Integer),
    num!("auto-aof-rewrite-percentage", None, [IMPLEMENTED], 0, INT_MAX, auto_aof_rewrite_percentage, 100, Integer),
    num!(
        "cluster-replica-validity-factor",
        Some("cluster-slave-validity-factor"),
        [IMPLEMENTED],
        0,
        INT_MAX,
        cluster_replica_validity_factor,
        10,
        Integer
    ),
    num!(
        "list-max-listpack-size",
        Some("list-max-ziplist-size"),
        [],
        INT_MIN,
        INT_MAX,
        list_max_listpack_size,
        -2,
        Integer
    ),
    num!("tcp-keepalive", None, [IMPLEMENTED], 0, INT_MAX, tcp_keepalive, 300, Integer),
    num!("cluster-migration-barrier", None, [IMPLEMENTED], 0, INT_MAX, cluster_migration_barrier, 1, Integer),
    num!("active-defrag-cycle-min", None, [], 1, 99, active_defrag_cycle_min, 1, Integer),
    num!("active-defrag-cycle-max", None, [], 1, 99, active_defrag_cycle_max, 25, Integer),
    num!("active-defrag-threshold-lower", None, [], 0, 1000, active_defrag_threshold_lower, 10, Integer),
    num!("active-defrag-threshold-upper", None, [], 0, 1000, active_defrag_threshold_upper, 100, Integer),
    num!("lfu-log-factor", None, [IMPLEMENTED], 0, INT_MAX, lfu_log_factor, 10, Integer),
    num!("lfu-decay-time", None, [IMPLEMENTED], 0, INT_MAX, lfu_decay_time, 1, Integer),
    num!("replica-priority", Some("slave-priority"), [IMPLEMENTED], 0, INT_MAX, replica_priority, 100, Integer),
    num!("repl-diskless-sync-delay", None, [], 0, INT_MAX, repl_diskless_sync_delay, 5, Integer),
    num!("maxmemory-samples", None, [IMPLEMENTED], 1, INT_MAX, maxmemory_samples, 5, Integer),
    num!("maxmemory-eviction-tenacity", None, [IMPLEMENTED], 0, 100, maxmemory_eviction_tenacity, 10, Integer),
    num!("timeout", None, [IMPLEMENTED], 0, INT_MAX, timeout, 0, Integer),
    num!("replica-announce-port", Some("slave-announce-port"), [IMPLEMENTED], 0, 65535, replica_announce_port, 0, Integer),
    num!("tcp-backlog", None, [IMMUTABLE | IMPLEMENTED], 0, INT_MAX, tcp_backlog, 511, Integer),
    num!("cluster-port", None, [IMMUTABLE | IMPLEMENTED], 0, 65535, cluster_port, 0, Integer),
    num!("cluster-announce-bus-port", None, [IMPLEMENTED], 0, 65535, cluster_announce_bus_port, 0, Integer),
    num!("cluster-announce-port", None, [IMPLEMENTED], 0, 65535, cluster_announce_port, 0, Integer),
    num!("cluster-announce-tls-port", None, [], 0, 65535, cluster_announce_tls_port, 0, Integer),
    num!("repl-timeout", None, [IMPLEMENTED], 1, INT_MAX, repl_timeout, 60, Integer),
    num!(
        "repl-ping-replica-period",
        Some("repl-ping-slave-period"),
        [IMPLEMENTED],
        1,
        INT_MAX,
        repl_ping_replica_period,
        10,
        Integer
    ),
    num!("list-compress-depth", None, [DEBUG], 0, INT_MAX, list_compress_depth, 0, Integer),
    num!("rdb-key-save-delay", None, [HIDDEN | IMPLEMENTED], INT_MIN, INT_MAX, rdb_key_save_delay, 0, Integer),
    num!("key-load-delay", None, [HIDDEN | IMPLEMENTED], INT_MIN, INT_MAX, key_load_delay, 0, Integer),
    num!("active-expire-effort", None, [], 1, 10, active_expire_effort, 1, Integer),
    num!("hz", None, [IMPLEMENTED], 0, INT_MAX, hz, 10, Integer),
    // Viator's own (no Redis counterpart): see `Reactor::wait`.
    num!("busy-poll-us", None, [IMPLEMENTED], 0, 1000, busy_poll_us, 50, Integer),
    num!("min-replicas-to-write", Some("min-slaves-to-write"), [IMPLEMENTED], 0, INT_MAX, min_replicas_to_write, 0, Integer),
    num!("min-replicas-max-lag", Some("min-slaves-max-lag"), [IMPLEMENTED], 0, INT_MAX, min_replicas_max_lag, 10, Integer),
    num!("watchdog-period", None, [HIDDEN], 0, INT_MAX, watchdog_period, 0, Integer),
    num!("shutdown-timeout", None, [], 0, INT_MAX, shutdown_timeout, 10, Integer),
    num!("repl-diskless-sync-max-replicas", None, [], 0, INT_MAX, repl_diskless_sync_max_replicas, 0, Integer),
    // unsigned int
    num!(unsigned "maxclients", None, [IMPLEMENTED], 1, UINT_MAX, maxclients, 10000, Integer),
    Directive {
        name: "unixsocketperm",
        alias: None,
        flags: flags!(IMMUTABLE | IMPLEMENTED),
        kind: Kind::Num {
            lower: 0,
            upper: 0o777,
            default: 0,
            unsigned: true,
            format: NumFormat::Octal,
            get: |c| i64::from(c.unixsocketperm),
            set: |c, v| c.unixsocketperm = v as u32,
        },
    },
    num!(unsigned "socket-mark-id", None, [IMMUTABLE], 0, UINT_MAX, socket_mark_id, 0, Integer),
    // unsigned long (bounds checked as signed, as Redis does)
    num!("active-defrag-max-scan-fields", None, [], 1, LONG_MAX, active_defrag_max_scan_fields, 1000, Integer),
    num!("slowlog-max-len", None, [IMPLEMENTED], 0, LONG_MAX, slowlog_max_len, 128, Integer),
    num!("acllog-max-len", None, [], 0, LONG_MAX, acllog_max_len, 128, Integer),
    // long long
    num!("busy-reply-threshold", Some("lua-time-limit"), [], 0, LONG_MAX, busy_reply_threshold, 5000, Integer),
    num!("cluster-node-timeout", None, [IMPLEMENTED], 0, LONG_MAX, cluster_node_timeout, 15000, Integer),
    num!("slowlog-log-slower-than", None, [IMPLEMENTED], -1, LONG_MAX, slowlog_log_slower_than, 10000, Integer),
    num!("latency-monitor-threshold", None, [IMPLEMENTED], 0, LONG_MAX, latency_monitor_threshold, 0, Integer),
    num!("proto-max-bulk-len", None, [DEBUG | IMPLEMENTED], MB, LONG_MAX, proto_max_bulk_len, 512 * MB, Memory),
    num!("stream-node-max-entries", None, [], 0, LONG_MAX, stream_node_max_entries, 100, Integer),
    num!("repl-backlog-size", None, [IMPLEMENTED], 1, LONG_MAX, repl_backlog_size, MB, Memory),
    // unsigned long long
    num!(unsigned "maxmemory", None, [IMPLEMENTED], 0, ULLONG_MAX, maxmemory, 0, Memory),
    num!(unsigned "cluster-link-sendbuf-limit", None, [IMPLEMENTED], 0, ULLONG_MAX, cluster_link_sendbuf_limit, 0, Memory),
    // size_t
    num!(unsigned "hash-max-listpack-entries", Some("hash-max-ziplist-entries"), [], 0, LONG_MAX,
        hash_max_listpack_entries, 512, Integer),
    num!(unsigned "set-max-intset-entries", None, [], 0, LONG_MAX, set_max_intset_entries, 512, Integer),
    num!(unsigned "zset-max-listpack-entries", Some("zset-max-ziplist-entries"), [], 0, LONG_MAX,
        zset_max_listpack_entries, 128, Integer),
    num!(unsigned "active-defrag-ignore-bytes", None, [], 1, LONG_MAX, active_defrag_ignore_bytes, 100 * MB, Memory),
    num!(unsigned "hash-max-listpack-value", Some("hash-max-ziplist-value"), [], 0, LONG_MAX,
        hash_max_listpack_value, 64, Memory),
    num!(unsigned "stream-node-max-bytes", None, [], 0, LONG_MAX, stream_node_max_bytes, 4096, Memory),
    num!(unsigned "zset-max-listpack-value", Some("zset-max-ziplist-value"), [], 0, LONG_MAX,
        zset_max_listpack_value, 64, Memory),
    num!(unsigned "hll-sparse-max-bytes", None, [], 0, LONG_MAX, hll_sparse_max_bytes, 3000, Memory),
    num!(unsigned "tracking-table-max-keys", None, [], 0, LONG_MAX, tracking_table_max_keys, 1_000_000, Integer),
    num!(unsigned "client-query-buffer-limit", None, [DEBUG | IMPLEMENTED], MB, LONG_MAX, client_query_buffer_limit,
        1024 * MB, Memory),
    num!("maxmemory-clients", None, [], -100, LONG_MAX, maxmemory_clients, 0, MemoryOrPercent),
    // time_t, off_t
    num!("repl-backlog-ttl", None, [IMPLEMENTED], 0, LONG_MAX, repl_backlog_ttl, 3600, Integer),
    num!("auto-aof-rewrite-min-size", None, [IMPLEMENTED], 0, LONG_MAX, auto_aof_rewrite_min_size, 64 * MB, Memory),
    num!(
        "loading-process-events-interval-bytes",
        None,
        [HIDDEN],
        1024,
        INT_MAX,
        loading_process_events_interval_bytes,
        2 * MB,
        Integer
    ),
    // TLS (Redis built with TLS support)
    num!("tls-port", None, [], 0, 65535, tls_port, 0, Integer),
    num!("tls-session-cache-size", None, [], 0, INT_MAX, tls_session_cache_size, 20 * 1024, Integer),
    num!("tls-session-cache-timeout", None, [], 0, INT_MAX, tls_session_cache_timeout, 300, Integer),
    boolean!("tls-cluster", None, [], tls_cluster, false),
    boolean!("tls-replication", None, [], tls_replication, false),
    enumeration!("tls-auth-clients", None, [], TlsAuthClients, tls_auth_clients),
    boolean!("tls-prefer-server-ciphers", None, [], tls_prefer_server_ciphers, false),
    boolean!("tls-session-caching", None, [], tls_session_caching, true),
    string!("tls-cert-file", None, [VOLATILE], null_if_empty, tls_cert_file, None),
    string!("tls-key-file", None, [VOLATILE], null_if_empty, tls_key_file, None),
    string!("tls-key-file-pass", None, [], null_if_empty, tls_key_file_pass, None),
    string!("tls-client-cert-file", None, [VOLATILE], null_if_empty, tls_client_cert_file, None),
    string!("tls-client-key-file", None, [VOLATILE], null_if_empty, tls_client_key_file, None),
    string!("tls-client-key-file-pass", None, [], null_if_empty, tls_client_key_file_pass, None),
    string!("tls-dh-params-file", None, [VOLATILE], null_if_empty, tls_dh_params_file, None),
    string!("tls-ca-cert-file", None, [VOLATILE], null_if_empty, tls_ca_cert_file, None),
    string!("tls-ca-cert-dir", None, [VOLATILE], null_if_empty, tls_ca_cert_dir, None),
    string!("tls-protocols", None, [], null_if_empty, tls_protocols, None),
    string!("tls-ciphers", None, [], null_if_empty, tls_ciphers, None),
    string!("tls-ciphersuites", None, [], null_if_empty, tls_ciphersuites, None),
    // hand written
    special!("dir", None, [PROTECTED | DENY_LOADING | IMPLEMENTED], Dir),
    special!("save", None, [MULTI_ARG | IMPLEMENTED], Save),
    special!("client-output-buffer-limit", None, [MULTI_ARG], ClientOutputBufferLimit),
    special!("oom-score-adj-values", None, [MULTI_ARG | IMPLEMENTED], OomScoreAdjValues),
    special!("notify-keyspace-events", None, [IMPLEMENTED], NotifyKeyspaceEvents),
    special!("bind", None, [MULTI_ARG | IMPLEMENTED], Bind),
    special!("replicaof", Some("slaveof"), [IMMUTABLE | MULTI_ARG | IMPLEMENTED], ReplicaOf),
    special!("latency-tracking-info-percentiles", None, [MULTI_ARG | IMPLEMENTED], LatencyTrackingInfoPercentiles),
];

/// Directives Redis 7.0 still accepts and ignores (with exactly this many words,
/// the directive included).
// COMPAT: Redis 7.0's deprecated_configs list.
pub const DEPRECATED: &[(&str, usize, usize)] =
    &[("list-max-ziplist-entries", 2, 2), ("list-max-ziplist-value", 2, 2), ("lua-replicate-commands", 2, 2)];

/// A directive found by name: its row index and whether the alias was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// Index into [`TABLE`].
    pub index: usize,
    /// Whether the name matched the row's alias.
    pub via_alias: bool,
}

impl Found {
    /// The row.
    pub fn row(self) -> &'static Directive {
        &TABLE[self.index]
    }

    /// The name the lookup matched (the alias when `via_alias`).
    pub fn matched_name(self) -> &'static str {
        let row = self.row();
        if self.via_alias {
            row.alias.unwrap_or(row.name)
        } else {
            row.name
        }
    }
}

/// Finds a directive by name or alias, ignoring ASCII case.
pub fn lookup(name: &[u8]) -> Option<Found> {
    TABLE.iter().enumerate().find_map(|(index, row)| {
        if row.name.as_bytes().eq_ignore_ascii_case(name) {
            Some(Found { index, via_alias: false })
        } else if row.alias.is_some_and(|a| a.as_bytes().eq_ignore_ascii_case(name)) {
            Some(Found { index, via_alias: true })
        } else {
            None
        }
    })
}

fn is_basename(s: &str) -> bool {
    !s.contains('/') && !s.contains('\\')
}

// COMPAT: the validation messages below are Redis 7.0's.
fn check_dbfilename(_: &Config, v: &str) -> Result<(), &'static str> {
    if is_basename(v) {
        Ok(())
    } else {
        Err("dbfilename can't be a path, just a filename")
    }
}

fn check_appendfilename(_: &Config, v: &str) -> Result<(), &'static str> {
    if v.is_empty() {
        Err("appendfilename can't be empty")
    } else if !is_basename(v) {
        Err("appendfilename can't be a path, just a filename")
    } else {
        Ok(())
    }
}

fn check_appenddirname(_: &Config, v: &str) -> Result<(), &'static str> {
    if v.is_empty() {
        Err("appenddirname can't be empty")
    } else if !is_basename(v) {
        Err("appenddirname can't be a path, just a dirname")
    } else {
        Ok(())
    }
}

fn check_hostname(_: &Config, v: &str) -> Result<(), &'static str> {
    if v.len() >= 256 {
        return Err("Hostnames must be less than 256 characters");
    }
    if v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
        Ok(())
    } else {
        Err("Hostnames may only contain alphanumeric characters, hyphens or dots")
    }
}

/// A template is valid when every `{name}` is a known variable and the expansion
/// (with an empty title) is not blank. `{{` is a literal brace.
fn check_proc_title_template(c: &Config, v: &str) -> Result<(), &'static str> {
    expand_proc_title(c, v, "", "-").map(|_| ())
}

/// Expands a `proc-title-template` as Redis's expandProcTitleTemplate: the
/// variables `{title}` (given), `{listen-addr}`, `{server-mode}`,
/// `{config-file}` (given), `{port}`, `{tls-port}` and `{unixsocket}`; the
/// result is trimmed of spaces and must not be blank.
pub fn expand_proc_title(c: &Config, v: &str, title: &str, config_file: &str) -> Result<String, &'static str> {
    // COMPAT: Redis's CONFIG SET reason.
    const BAD: &str = "template format is invalid or contains unknown variables";
    let mut out = String::new();
    let mut rest = v;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        if after.is_empty() {
            return Err(BAD);
        }
        if let Some(stripped) = after.strip_prefix('{') {
            out.push('{');
            rest = stripped;
            continue;
        }
        let close = after.find('}').ok_or(BAD)?;
        let value = match &after[..close] {
            "title" => title.to_string(),
            "listen-addr" => {
                if c.port != 0 || c.tls_port != 0 {
                    let port = if c.port != 0 { c.port } else { c.tls_port };
                    format!("{}:{}", c.bind.first().map(String::as_str).unwrap_or("*"), port)
                } else {
                    format!("unixsocket:{}", c.unixsocket)
                }
            }
            "server-mode" => {
                if c.cluster_enabled {
                    "[cluster]".to_string()
                } else if c.sentinel_mode {
                    "[sentinel]".to_string()
                } else {
                    String::new()
                }
            }
            "config-file" => config_file.to_string(),
            "port" => c.port.to_string(),
            "tls-port" => c.tls_port.to_string(),
            "unixsocket" => c.unixsocket.clone(),
            _ => return Err(BAD),
        };
        out.push_str(&value);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    let out = out.trim_matches(' ');
    if out.is_empty() {
        Err(BAD)
    } else {
        Ok(out.to_string())
    }
}
