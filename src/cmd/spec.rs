//! The shapes of command metadata (see `specs.rs` for the data) and the typed
//! flags derived from it.

/// Where the search for keys begins (Redis 7.0 key specs).
#[derive(Debug, Clone, Copy)]
pub enum BeginSearch {
    /// At a fixed argument index.
    Index(i32),
    /// After a keyword, searching from `start_from` (negative: from the end).
    Keyword {
        /// The keyword.
        keyword: &'static str,
        /// Index to start searching at.
        start_from: i32,
    },
    /// Not describable.
    Unknown,
}

/// How keys are found once the search began.
#[derive(Debug, Clone, Copy)]
pub enum FindKeys {
    /// A range: last key relative to the begin (negative: from the end).
    Range {
        /// Last key index relative to the begin (-1: the last argument).
        last_key: i32,
        /// Step between keys.
        step: i32,
        /// With `last_key == -1`: a divisor limiting the range.
        limit: i32,
    },
    /// An argument gives the number of keys.
    Keynum {
        /// Index of the count, relative to the begin.
        keynum_idx: i32,
        /// First key, relative to the begin.
        first_key: i32,
        /// Step between keys.
        step: i32,
    },
    /// Not describable.
    Unknown,
}

/// Key-spec flags in Redis's bit order, with the names COMMAND replies use
/// (the access-type flags upper case, the rest lower case).
const KEY_FLAG_NAMES: &[(&str, &str)] = &[
    ("RO", "RO"),
    ("RW", "RW"),
    ("OW", "OW"),
    ("RM", "RM"),
    ("ACCESS", "access"),
    ("UPDATE", "update"),
    ("INSERT", "insert"),
    ("DELETE", "delete"),
    ("NOT_KEY", "not_key"),
    ("INCOMPLETE", "incomplete"),
    ("VARIABLE_FLAGS", "variable_flags"),
];

/// `flags` (as generated) renamed and ordered as Redis replies them.
pub fn key_flag_names(flags: &[&str]) -> Vec<&'static str> {
    KEY_FLAG_NAMES.iter().filter(|(k, _)| flags.contains(k)).map(|(_, n)| *n).collect()
}

/// One key spec.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// Flags such as RO, RW, OW, RM, ACCESS, UPDATE, INSERT, DELETE.
    pub flags: &'static [&'static str],
    /// Begin-search step.
    pub begin: BeginSearch,
    /// Find-keys step.
    pub find: FindKeys,
}

/// A command's metadata as generated.
#[derive(Debug)]
pub struct RawSpec {
    /// Container command for subcommands (`config` for `config|get`), else "".
    pub container: &'static str,
    /// Lowercase name.
    pub name: &'static str,
    /// Command group (COMMAND DOCS).
    pub group: &'static str,
    /// Version that introduced it.
    pub since: &'static str,
    /// Redis arity: positive = exact argc, negative = at least -arity.
    pub arity: i32,
    /// Command flags in lowercase (`write`, `readonly`, `fast`...).
    pub flags: &'static [&'static str],
    /// Explicit ACL categories in lowercase.
    pub acl: &'static [&'static str],
    /// Key specs.
    pub key_specs: &'static [KeySpec],
}

/// Command flags as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CmdFlags(pub u32);

impl CmdFlags {
    /// May modify the dataset.
    pub const WRITE: CmdFlags = CmdFlags(1 << 0);
    /// Only reads the dataset.
    pub const READONLY: CmdFlags = CmdFlags(1 << 1);
    /// May grow memory use (refused under OOM).
    pub const DENYOOM: CmdFlags = CmdFlags(1 << 2);
    /// Administrative.
    pub const ADMIN: CmdFlags = CmdFlags(1 << 3);
    /// Pub/Sub related.
    pub const PUBSUB: CmdFlags = CmdFlags(1 << 4);
    /// Not allowed from scripts.
    pub const NOSCRIPT: CmdFlags = CmdFlags(1 << 5);
    /// May block the client.
    pub const BLOCKING: CmdFlags = CmdFlags(1 << 6);
    /// Allowed while loading.
    pub const LOADING: CmdFlags = CmdFlags(1 << 7);
    /// Allowed on a stale replica.
    pub const STALE: CmdFlags = CmdFlags(1 << 8);
    /// Not shown to MONITOR.
    pub const SKIP_MONITOR: CmdFlags = CmdFlags(1 << 9);
    /// Not logged in the slow log.
    pub const SKIP_SLOWLOG: CmdFlags = CmdFlags(1 << 10);
    /// Allowed on an importing slot after ASKING.
    pub const ASKING: CmdFlags = CmdFlags(1 << 11);
    /// O(1) or O(log N).
    pub const FAST: CmdFlags = CmdFlags(1 << 12);
    /// Allowed before authentication.
    pub const NO_AUTH: CmdFlags = CmdFlags(1 << 13);
    /// May replicate even though not a write (PUBLISH...).
    pub const MAY_REPLICATE: CmdFlags = CmdFlags(1 << 14);
    /// Available in sentinel mode.
    pub const SENTINEL: CmdFlags = CmdFlags(1 << 15);
    /// Available only in sentinel mode.
    pub const ONLY_SENTINEL: CmdFlags = CmdFlags(1 << 16);
    /// Keys are optional.
    pub const NO_MANDATORY_KEYS: CmdFlags = CmdFlags(1 << 17);
    /// Not allowed during async loading.
    pub const NO_ASYNC_LOADING: CmdFlags = CmdFlags(1 << 18);
    /// Not allowed inside MULTI.
    pub const NO_MULTI: CmdFlags = CmdFlags(1 << 19);
    /// Keys found by parsing arguments.
    pub const MOVABLE_KEYS: CmdFlags = CmdFlags(1 << 20);
    /// Allowed while a script is busy.
    pub const ALLOW_BUSY: CmdFlags = CmdFlags(1 << 21);

    /// The flags in COMMAND INFO order with their reply names.
    pub const NAMES: &'static [(CmdFlags, &'static str)] = &[
        (CmdFlags::WRITE, "write"),
        (CmdFlags::READONLY, "readonly"),
        (CmdFlags::DENYOOM, "denyoom"),
        (CmdFlags::ADMIN, "admin"),
        (CmdFlags::PUBSUB, "pubsub"),
        (CmdFlags::NOSCRIPT, "noscript"),
        (CmdFlags::BLOCKING, "blocking"),
        (CmdFlags::LOADING, "loading"),
        (CmdFlags::STALE, "stale"),
        (CmdFlags::SKIP_MONITOR, "skip_monitor"),
        (CmdFlags::SKIP_SLOWLOG, "skip_slowlog"),
        (CmdFlags::ASKING, "asking"),
        (CmdFlags::FAST, "fast"),
        (CmdFlags::NO_AUTH, "no_auth"),
        (CmdFlags::MAY_REPLICATE, "may_replicate"),
        (CmdFlags::SENTINEL, "sentinel"),
        (CmdFlags::ONLY_SENTINEL, "only_sentinel"),
        (CmdFlags::NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (CmdFlags::NO_ASYNC_LOADING, "no_async_loading"),
        (CmdFlags::NO_MULTI, "no_multi"),
        (CmdFlags::MOVABLE_KEYS, "movablekeys"),
        (CmdFlags::ALLOW_BUSY, "allow_busy"),
    ];

    /// True if every bit of `other` is set.
    pub fn has(self, other: CmdFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Parses the generated flag names.
    pub fn from_names(names: &[&str]) -> CmdFlags {
        let mut f = CmdFlags::default();
        for n in names {
            if let Some((bit, _)) = CmdFlags::NAMES.iter().find(|(_, name)| name == n) {
                f.0 |= bit.0;
            }
        }
        f
    }
}
