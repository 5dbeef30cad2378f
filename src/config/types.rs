//! Typed values of the configuration: the enums behind enum directives, the
//! keyspace-event and shutdown flag sets, and the output-buffer limit triple.
//!
//! Owns: the Rust types and, for each enum, the table of names that the config
//! file, CONFIG GET/SET and REWRITE use. Must not: parse lines or know the
//! directive table (that is `table.rs`).
//!
//! Mirrors the `configEnum` tables of Redis 7.0 `config.c`: every accepted name, in
//! Redis's order, because that order decides which name CONFIG GET shows when two
//! names share a value (`oom-score-adj yes` and `relative`) and the order of names in
//! the "must be one of" error.

/// Declares a config enum: the Rust enum, its default, and the ordered name table.
/// Codes are the variant's position; names may repeat a variant (aliases).
macro_rules! config_enum {
    (
        $(#[$meta:meta])*
        $name:ident default $default:ident {
            $( $(#[$vmeta:meta])* $variant:ident ),* $(,)?
        }
        names [ $( ($text:literal, $nv:ident) ),* $(,)? ]
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        }

        impl $name {
            /// The default's code, for the directive table.
            pub(crate) const DEFAULT_CODE: i32 = $name::$default as i32;

            /// Accepted names in Redis's order, with the variant code each selects.
            // COMPAT: names and their order are Redis 7.0's.
            pub const NAMES: &'static [(&'static str, i32)] = &[ $( ($text, $name::$nv as i32) ),* ];

            /// The variant with this code, or the default for an unknown code.
            pub fn from_code(code: i32) -> Self {
                const ALL: &[$name] = &[ $( $name::$variant ),* ];
                usize::try_from(code).ok().and_then(|i| ALL.get(i).copied()).unwrap_or($name::$default)
            }

            /// The code stored in the directive table.
            pub fn code(self) -> i32 {
                self as i32
            }

            /// The name CONFIG GET shows for this value (the first name listed for it).
            pub fn name(self) -> &'static str {
                Self::NAMES.iter().find(|(_, c)| *c == self as i32).map(|(n, _)| *n).unwrap_or("unknown")
            }

            /// Parses a name, ignoring ASCII case.
            pub fn parse(s: &str) -> Option<Self> {
                Self::NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)).map(|(_, c)| Self::from_code(*c))
            }
        }
    };
}

config_enum! {
    /// `loglevel`. `Nothing` exists for the logger's sake; Redis 7.0 does not accept
    /// the name `nothing`, so neither does the config parser.
    LogLevel default Notice {
        /// Everything.
        Debug,
        /// Much, rarely useful.
        Verbose,
        /// The production default.
        Notice,
        /// Only very important messages.
        Warning,
        /// Log nothing.
        Nothing,
    }
    names [("debug", Debug), ("verbose", Verbose), ("notice", Notice), ("warning", Warning)]
}

config_enum! {
    /// `enable-debug-command`, `enable-module-command`, `enable-protected-configs`:
    /// whether a protected action is allowed, never, always or for local clients.
    ProtectedMode default No {
        /// Never allowed.
        No,
        /// Always allowed.
        Yes,
        /// Allowed for clients connected over loopback or a unix socket.
        Local,
    }
    names [("no", No), ("yes", Yes), ("local", Local)]
}

impl ProtectedMode {
    /// Whether a client (local or not) may perform the protected action.
    pub fn allows(self, local: bool) -> bool {
        match self {
            ProtectedMode::No => false,
            ProtectedMode::Yes => true,
            ProtectedMode::Local => local,
        }
    }
}

config_enum! {
    /// `supervised`.
    Supervised default No {
        /// Upstart signalling.
        Upstart,
        /// systemd notify.
        Systemd,
        /// Detect from the environment.
        Auto,
        /// Not supervised.
        No,
    }
    names [("upstart", Upstart), ("systemd", Systemd), ("auto", Auto), ("no", No)]
}

config_enum! {
    /// `syslog-facility`.
    SyslogFacility default Local0 {
        /// LOG_USER.
        User,
        /// LOG_LOCAL0.
        Local0,
        /// LOG_LOCAL1.
        Local1,
        /// LOG_LOCAL2.
        Local2,
        /// LOG_LOCAL3.
        Local3,
        /// LOG_LOCAL4.
        Local4,
        /// LOG_LOCAL5.
        Local5,
        /// LOG_LOCAL6.
        Local6,
        /// LOG_LOCAL7.
        Local7,
    }
    names [("user", User), ("local0", Local0), ("local1", Local1), ("local2", Local2), ("local3", Local3),
           ("local4", Local4), ("local5", Local5), ("local6", Local6), ("local7", Local7)]
}

config_enum! {
    /// `repl-diskless-load`.
    ReplDisklessLoad default Disabled {
        /// Always load the RDB from disk.
        Disabled,
        /// Load from the socket when the dataset is empty.
        OnEmptyDb,
        /// Load from the socket into a side copy of the dataset.
        Swapdb,
    }
    names [("disabled", Disabled), ("on-empty-db", OnEmptyDb), ("swapdb", Swapdb)]
}

config_enum! {
    /// `maxmemory-policy`.
    MaxmemoryPolicy default Noeviction {
        /// LRU among keys with an expire.
        VolatileLru,
        /// LFU among keys with an expire.
        VolatileLfu,
        /// Random among keys with an expire.
        VolatileRandom,
        /// Nearest expire first.
        VolatileTtl,
        /// LRU among all keys.
        AllkeysLru,
        /// LFU among all keys.
        AllkeysLfu,
        /// Random among all keys.
        AllkeysRandom,
        /// Refuse writes that need memory.
        Noeviction,
    }
    names [("volatile-lru", VolatileLru), ("volatile-lfu", VolatileLfu), ("volatile-random", VolatileRandom),
           ("volatile-ttl", VolatileTtl), ("allkeys-lru", AllkeysLru), ("allkeys-lfu", AllkeysLfu),
           ("allkeys-random", AllkeysRandom), ("noeviction", Noeviction)]
}

config_enum! {
    /// `appendfsync`.
    AppendFsync default Everysec {
        /// fsync once a second.
        Everysec,
        /// fsync after every write.
        Always,
        /// Leave it to the OS.
        No,
    }
    names [("everysec", Everysec), ("always", Always), ("no", No)]
}

config_enum! {
    /// `oom-score-adj`. Both `yes` and `relative` select `Relative`; CONFIG GET shows `yes`.
    OomScoreAdj default No {
        /// Leave oom_score_adj alone.
        No,
        /// Values are relative to the initial score.
        Relative,
        /// Values are written as they are.
        Absolute,
    }
    names [("no", No), ("yes", Relative), ("relative", Relative), ("absolute", Absolute)]
}

config_enum! {
    /// `acl-pubsub-default`.
    AclPubsubDefault default Resetchannels {
        /// New users may use every channel.
        Allchannels,
        /// New users start with no channels.
        Resetchannels,
    }
    names [("allchannels", Allchannels), ("resetchannels", Resetchannels)]
}

config_enum! {
    /// `sanitize-dump-payload`.
    SanitizeDumpPayload default No {
        /// No deep sanitization.
        No,
        /// Always sanitize RESTORE payloads and RDB loads.
        Yes,
        /// Sanitize only for user connections.
        Clients,
    }
    names [("no", No), ("yes", Yes), ("clients", Clients)]
}

config_enum! {
    /// `cluster-preferred-endpoint-type`.
    ClusterEndpointType default Ip {
        /// Announce IP addresses.
        Ip,
        /// Announce hostnames.
        Hostname,
        /// Announce "?" and let clients reuse the address they used.
        UnknownEndpoint,
    }
    names [("ip", Ip), ("hostname", Hostname), ("unknown-endpoint", UnknownEndpoint)]
}

config_enum! {
    /// `propagation-error-behavior`.
    PropagationErrorBehavior default Ignore {
        /// Ignore errors in replicated/AOF commands.
        Ignore,
        /// Panic.
        Panic,
        /// Panic only on replicas.
        PanicOnReplicas,
    }
    names [("ignore", Ignore), ("panic", Panic), ("panic-on-replicas", PanicOnReplicas)]
}

config_enum! {
    /// `tls-auth-clients`.
    TlsAuthClients default Yes {
        /// No client certificate needed.
        No,
        /// A client certificate is required.
        Yes,
        /// A client certificate is checked if presented.
        Optional,
    }
    names [("no", No), ("yes", Yes), ("optional", Optional)]
}

/// `shutdown-on-sigint` / `shutdown-on-sigterm`: a set of SHUTDOWN modifiers.
/// The empty set is shown as `default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ShutdownFlags(pub u32);

impl ShutdownFlags {
    /// No modifier: behave as SHUTDOWN with no arguments.
    pub const DEFAULT: ShutdownFlags = ShutdownFlags(0);
    /// SAVE.
    pub const SAVE: ShutdownFlags = ShutdownFlags(1);
    /// NOSAVE.
    pub const NOSAVE: ShutdownFlags = ShutdownFlags(2);
    /// NOW.
    pub const NOW: ShutdownFlags = ShutdownFlags(4);
    /// FORCE.
    pub const FORCE: ShutdownFlags = ShutdownFlags(8);

    /// Names in Redis's order with their bits (several may be combined).
    // COMPAT: Redis 7.0's shutdown_on_sig_enum.
    pub const NAMES: &'static [(&'static str, i32)] =
        &[("default", 0), ("save", 1), ("nosave", 2), ("now", 4), ("force", 8)];

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: ShutdownFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Keyspace notification classes (`notify-keyspace-events`), as bits of a `u32`.
pub mod notify {
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: u32 = 1 << 0;
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: u32 = 1 << 1;
    /// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
    pub const GENERIC: u32 = 1 << 2;
    /// `$`: string commands.
    pub const STRING: u32 = 1 << 3;
    /// `l`: list commands.
    pub const LIST: u32 = 1 << 4;
    /// `s`: set commands.
    pub const SET: u32 = 1 << 5;
    /// `h`: hash commands.
    pub const HASH: u32 = 1 << 6;
    /// `z`: sorted set commands.
    pub const ZSET: u32 = 1 << 7;
    /// `x`: expired events.
    pub const EXPIRED: u32 = 1 << 8;
    /// `e`: evicted events.
    pub const EVICTED: u32 = 1 << 9;
    /// `t`: stream commands.
    pub const STREAM: u32 = 1 << 10;
    /// `m`: key misses (not part of `A`).
    pub const KEY_MISS: u32 = 1 << 11;
    /// Module-only "key loaded" events (no letter).
    pub const LOADED: u32 = 1 << 12;
    /// `d`: module key type events.
    pub const MODULE: u32 = 1 << 13;
    /// `n`: new key events (not part of `A`).
    pub const NEW: u32 = 1 << 14;
    /// `A`: alias for `g$lshzxetd`.
    pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

    /// Parses a class string such as `KEA`; `None` on an unknown character.
    pub fn from_str(classes: &[u8]) -> Option<u32> {
        let mut flags = 0;
        for &c in classes {
            flags |= match c {
                b'A' => ALL,
                b'g' => GENERIC,
                b'$' => STRING,
                b'l' => LIST,
                b's' => SET,
                b'h' => HASH,
                b'z' => ZSET,
                b'x' => EXPIRED,
                b'e' => EVICTED,
                b'K' => KEYSPACE,
                b'E' => KEYEVENT,
                b't' => STREAM,
                b'm' => KEY_MISS,
                b'd' => MODULE,
                b'n' => NEW,
                _ => return None,
            };
        }
        Some(flags)
    }

    /// Renders flags as Redis does: `A` when every class in `A` is set, else the
    /// class letters in a fixed order, then `K`, `E`, `m`. So `KEA` reads back `AKE`.
    pub fn to_string(flags: u32) -> String {
        let mut out = String::new();
        if flags & ALL == ALL {
            out.push('A');
        } else {
            for (bit, letter) in [
                (GENERIC, 'g'),
                (STRING, '$'),
                (LIST, 'l'),
                (SET, 's'),
                (HASH, 'h'),
                (ZSET, 'z'),
                (EXPIRED, 'x'),
                (EVICTED, 'e'),
                (STREAM, 't'),
                (MODULE, 'd'),
                (NEW, 'n'),
            ] {
                if flags & bit != 0 {
                    out.push(letter);
                }
            }
        }
        for (bit, letter) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
            if flags & bit != 0 {
                out.push(letter);
            }
        }
        out
    }
}

/// One class of `client-output-buffer-limit`: a hard limit, and a soft limit that
/// must be exceeded for `soft_limit_seconds` before the client is closed. Zero
/// means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BufferLimit {
    /// Bytes of pending output that close the client at once.
    pub hard_limit_bytes: u64,
    /// Bytes of pending output tolerated for `soft_limit_seconds`.
    pub soft_limit_bytes: u64,
    /// How long the soft limit may be exceeded.
    pub soft_limit_seconds: i64,
}

/// The three classes of `client-output-buffer-limit`, in Redis's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBufferLimits {
    /// Normal clients (`normal`).
    pub normal: BufferLimit,
    /// Replicas (`replica`, also written `slave`).
    pub replica: BufferLimit,
    /// Pub/Sub subscribers (`pubsub`).
    pub pubsub: BufferLimit,
}

impl Default for OutputBufferLimits {
    fn default() -> Self {
        const MB: u64 = 1024 * 1024;
        OutputBufferLimits {
            normal: BufferLimit::default(),
            replica: BufferLimit { hard_limit_bytes: 256 * MB, soft_limit_bytes: 64 * MB, soft_limit_seconds: 60 },
            pubsub: BufferLimit { hard_limit_bytes: 32 * MB, soft_limit_bytes: 8 * MB, soft_limit_seconds: 60 },
        }
    }
}

impl OutputBufferLimits {
    /// The classes with the names CONFIG GET uses (`slave`) and REWRITE uses (`replica`).
    pub(crate) fn classes(&self) -> [(&'static str, &'static str, BufferLimit); 3] {
        [("normal", "normal", self.normal), ("slave", "replica", self.replica), ("pubsub", "pubsub", self.pubsub)]
    }

    /// The limit for class index 0 (normal), 1 (replica) or 2 (pubsub).
    pub(crate) fn by_index_mut(&mut self, index: usize) -> &mut BufferLimit {
        match index {
            0 => &mut self.normal,
            1 => &mut self.replica,
            _ => &mut self.pubsub,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_and_codes() {
        assert_eq!(LogLevel::parse("NOTICE"), Some(LogLevel::Notice));
        assert_eq!(LogLevel::parse("nothing"), None);
        assert_eq!(LogLevel::default(), LogLevel::Notice);
        assert_eq!(OomScoreAdj::parse("relative").map(OomScoreAdj::name), Some("yes"));
        assert_eq!(TlsAuthClients::default(), TlsAuthClients::Yes);
        assert_eq!(MaxmemoryPolicy::from_code(MaxmemoryPolicy::AllkeysLru.code()), MaxmemoryPolicy::AllkeysLru);
        assert_eq!(SyslogFacility::from_code(99), SyslogFacility::Local0);
        assert!(ProtectedMode::Local.allows(true));
        assert!(!ProtectedMode::Local.allows(false));
    }

    #[test]
    fn notify_round_trip() {
        let f = notify::from_str(b"KEA").unwrap_or(0);
        assert_eq!(notify::to_string(f), "AKE");
        assert_eq!(notify::to_string(notify::from_str(b"Egx$").unwrap_or(0)), "g$xE");
        assert_eq!(notify::from_str(b"KEq"), None);
        assert_eq!(notify::to_string(0), "");
        assert_eq!(notify::to_string(notify::from_str(b"nmKA").unwrap_or(0)), "AKm");
    }
}
