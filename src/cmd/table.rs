//! The command table: one entry per command and subcommand, built once at
//! start-up from the generated metadata (`specs.rs`) and the handler bindings
//! below. Lookup, arity checks, COMMAND output, ACL categories and key
//! extraction all derive from it.

use std::collections::HashMap;

use super::spec::{BeginSearch, CmdFlags, FindKeys, RawSpec};
use super::specs::SPECS;
use super::Handler;
use crate::client::reply::ReplyError;

/// Per-command statistics (INFO commandstats).
#[derive(Debug, Default, Clone)]
pub struct CommandStats {
    /// Successful or failed executions.
    pub calls: u64,
    /// Total execution time in microseconds.
    pub usec: u64,
    /// Rejected before execution (arity, auth, ...).
    pub rejected_calls: u64,
    /// Executed but replied with an error.
    pub failed_calls: u64,
}

/// One command or subcommand.
pub struct Command {
    /// Lowercase name (`get`, or `get` for `config|get`).
    pub name: &'static str,
    /// `name` or `container|name` (leaked once at start-up: the table lives
    /// as long as the process).
    pub fullname: &'static str,
    /// The generated metadata.
    pub spec: &'static RawSpec,
    /// Typed flags (including MOVABLE_KEYS when keys need parsing).
    pub flags: CmdFlags,
    /// ACL categories, explicit plus implied by flags, Redis's order.
    pub acl_categories: Vec<&'static str>,
    /// Legacy key range (COMMAND INFO positions 4-6).
    pub first_key: i32,
    /// See `first_key`.
    pub last_key: i32,
    /// See `first_key`.
    pub key_step: i32,
    /// The handler; `None` for containers.
    pub handler: Option<Handler>,
    /// Subcommands by lowercase name (containers only).
    pub subs: HashMap<&'static str, usize>,
    /// Parent container, for subcommands.
    pub parent: Option<usize>,
    /// Statistics.
    pub stats: CommandStats,
}

/// All commands the server offers.
pub struct CommandTable {
    /// Every entry; indexes are stable for the process's life.
    pub cmds: Vec<Command>,
    top: HashMap<&'static [u8], usize, crate::util::fasthash::FastBuildHasher>,
}

impl CommandTable {
    /// Builds the table from the generated specs, keeping only commands that
    /// have a handler (and containers with at least one handled subcommand).
    pub fn new(bindings: &[(&'static str, Handler)]) -> CommandTable {
        let bound: HashMap<&str, Handler> = bindings.iter().copied().collect();
        let mut t = CommandTable { cmds: Vec::new(), top: HashMap::default() };
        // Top-level first, so subcommands can find their parent.
        for spec in SPECS.iter().filter(|s| s.container.is_empty()) {
            let has_subs = SPECS.iter().any(|s| s.container == spec.name && bound.contains_key(full(s).as_str()));
            let handler = bound.get(spec.name).copied();
            if handler.is_none() && !has_subs {
                continue;
            }
            let idx = t.cmds.len();
            t.cmds.push(Command::build(spec, spec.name, handler, None));
            t.top.insert(spec.name.as_bytes(), idx);
        }
        for spec in SPECS.iter().filter(|s| !s.container.is_empty()) {
            let fullname = full(spec);
            let Some(handler) = bound.get(fullname.as_str()).copied() else { continue };
            let Some(&parent) = t.top.get(spec.container.as_bytes()) else { continue };
            let idx = t.cmds.len();
            t.cmds.push(Command::build(spec, Box::leak(fullname.into_boxed_str()), Some(handler), Some(parent)));
            t.cmds[parent].subs.insert(spec.name, idx);
        }
        t
    }

    /// Finds a top-level command by name, case-insensitively.
    pub fn lookup_top(&self, name: &[u8]) -> Option<usize> {
        let mut buf = [0u8; 32];
        let lower = crate::util::fasthash::lowercase_words(name, &mut buf)?;
        self.top.get(lower).copied()
    }

    /// Resolves `argv` to the command to run: the top-level command, or the
    /// subcommand of a container. Errors are the replies Redis gives for an
    /// unknown command or subcommand; arity is checked here too.
    pub fn resolve(&self, argv: &[bytes::Bytes]) -> Result<usize, ReplyError> {
        let Some(mut idx) = self.lookup_top(&argv[0]) else {
            return Err(unknown_command(argv));
        };
        // A container that has its own handler (bare COMMAND) runs it when no
        // subcommand is given.
        let container_runs_alone = argv.len() == 1 && self.cmds[idx].handler.is_some();
        if !self.cmds[idx].subs.is_empty() && !container_runs_alone {
            if argv.len() < 2 {
                return Err(ReplyError::WrongArity(self.cmds[idx].fullname.to_string()));
            }
            let sub = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
            match self.cmds[idx].subs.get(sub.as_str()) {
                Some(&s) => idx = s,
                None => {
                    // COMPAT: Redis's unknown-subcommand text.
                    return Err(ReplyError::Other(format!(
                        "ERR unknown subcommand '{}'. Try {} HELP.",
                        truncate(&String::from_utf8_lossy(&argv[1]), 128),
                        self.cmds[idx].name.to_ascii_uppercase()
                    )));
                }
            }
        }
        let arity = self.cmds[idx].spec.arity;
        let argc = argv.len() as i32;
        if (arity > 0 && argc != arity) || argc < -arity {
            return Err(ReplyError::WrongArity(self.cmds[idx].fullname.to_string()));
        }
        Ok(idx)
    }

    /// The command `argv` names (subcommand included) without checking arity;
    /// used to count rejected calls.
    pub fn resolve_name_only(&self, argv: &[bytes::Bytes]) -> Option<usize> {
        let idx = self.lookup_top(&argv[0])?;
        if self.cmds[idx].subs.is_empty() {
            return Some(idx);
        }
        let sub = String::from_utf8_lossy(argv.get(1)?).to_ascii_lowercase();
        self.cmds[idx].subs.get(sub.as_str()).copied()
    }

    /// `rename-command old new`: the command answers to `new` instead of
    /// `old`, or to nothing when `new` is empty. Its metadata keeps the
    /// original name (COMMAND, ACL rules), as in Redis.
    pub fn rename(&mut self, old: &str, new: &str) -> Result<(), &'static str> {
        // COMPAT: the config-file errors Redis gives.
        let idx = self.top.remove(old.to_ascii_lowercase().as_bytes()).ok_or("No such command in rename-command")?;
        if !new.is_empty() {
            let new = new.to_ascii_lowercase();
            if self.top.contains_key(new.as_bytes()) {
                return Err("Target command name already exists");
            }
            self.top.insert(Box::leak(new.into_boxed_str()).as_bytes(), idx);
        }
        Ok(())
    }

    /// Top-level commands, in table order.
    pub fn top_level(&self) -> impl Iterator<Item = &Command> {
        self.cmds.iter().filter(|c| c.parent.is_none())
    }
}

fn full(spec: &RawSpec) -> String {
    if spec.container.is_empty() {
        spec.name.to_string()
    } else {
        format!("{}|{}", spec.container, spec.name)
    }
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// COMPAT: "ERR unknown command '<name>', with args beginning with: '<a>' ...".
pub fn unknown_command(argv: &[bytes::Bytes]) -> ReplyError {
    let mut args = String::new();
    for a in argv.iter().skip(1) {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push_str(&format!("'{}' ", truncate(&String::from_utf8_lossy(a), room)));
    }
    ReplyError::Other(format!(
        "ERR unknown command '{}', with args beginning with: {}",
        truncate(&String::from_utf8_lossy(&argv[0]), 128),
        args
    ))
}

impl Command {
    fn build(
        spec: &'static RawSpec,
        fullname: &'static str,
        handler: Option<Handler>,
        parent: Option<usize>,
    ) -> Command {
        let mut flags = CmdFlags::from_names(spec.flags);
        let (first, last, step, movable) = legacy_range(spec);
        if movable {
            flags.0 |= CmdFlags::MOVABLE_KEYS.0;
        }
        Command {
            name: spec.name,
            fullname,
            spec,
            flags,
            acl_categories: acl_categories(spec, flags),
            first_key: first,
            last_key: last,
            key_step: step,
            handler,
            subs: HashMap::new(),
            parent,
            stats: CommandStats::default(),
        }
    }

    /// Positions of the keys in `argv`, from the key specs (COMMAND GETKEYS,
    /// cluster routing). Positions past the end are dropped.
    pub fn key_positions(&self, argv: &[bytes::Bytes]) -> Vec<usize> {
        self.keys_with_flags(argv).into_iter().map(|(p, _)| p).collect()
    }

    /// Key positions with the flags of the key spec that found each one
    /// (COMMAND GETKEYSANDFLAGS), sorted and deduplicated by position.
    pub fn keys_with_flags(&self, argv: &[bytes::Bytes]) -> Vec<(usize, &'static [&'static str])> {
        // Commands whose keys the specs cannot find (Redis's getkeys_proc).
        match self.fullname {
            "sort" | "sort_ro" => return super::sort::getkeys(argv, self.fullname == "sort_ro"),
            "migrate" => return super::dump::migrate_getkeys(argv),
            _ => {}
        }
        let argc = argv.len() as i64;
        let mut out: Vec<(usize, &'static [&'static str])> = Vec::new();
        for ks in self.spec.key_specs {
            let start = match ks.begin {
                BeginSearch::Index(i) => i as i64,
                BeginSearch::Keyword { keyword, start_from } => {
                    let found = if start_from >= 0 {
                        (start_from as i64..argc).find(|&i| argv[i as usize].eq_ignore_ascii_case(keyword.as_bytes()))
                    } else {
                        let from = argc + start_from as i64;
                        (1..=from.max(0))
                            .rev()
                            .find(|&i| i < argc && argv[i as usize].eq_ignore_ascii_case(keyword.as_bytes()))
                    };
                    match found {
                        Some(i) => i + 1,
                        None => continue,
                    }
                }
                BeginSearch::Unknown => continue,
            };
            match ks.find {
                FindKeys::Range { last_key, step, limit } => {
                    let last = if last_key >= 0 {
                        start + last_key as i64
                    } else if limit <= 1 {
                        argc + last_key as i64
                    } else {
                        start + (argc - start) / limit as i64 + last_key as i64
                    };
                    let mut i = start;
                    while i <= last && i < argc {
                        out.push((i as usize, ks.flags));
                        i += step.max(1) as i64;
                    }
                }
                FindKeys::Keynum { keynum_idx, first_key, step } => {
                    let ni = start + keynum_idx as i64;
                    if ni >= argc {
                        continue;
                    }
                    let Some(n) = crate::util::num::string2ll(&argv[ni as usize]) else { continue };
                    let first = start + first_key as i64;
                    let mut i = first;
                    for _ in 0..n.max(0) {
                        if i >= argc {
                            break;
                        }
                        out.push((i as usize, ks.flags));
                        i += step.max(1) as i64;
                    }
                }
                FindKeys::Unknown => {}
            }
        }
        out.sort_by_key(|(p, _)| *p);
        out.dedup_by_key(|(p, _)| *p);
        out
    }
}

/// The (first, last, step) COMMAND INFO reports, and whether keys are
/// movable, derived from the key specs as Redis 7.0 derives them: one
/// index+range spec is used as is; several are merged when they are plain
/// (step 1) and consecutive; anything else (keyword or keynum specs, gaps,
/// INCOMPLETE specs) makes the keys movable.
fn legacy_range(spec: &RawSpec) -> (i32, i32, i32, bool) {
    let specs = spec.key_specs;
    let incomplete = |ks: &super::spec::KeySpec| ks.flags.contains(&"INCOMPLETE");
    if specs.is_empty() {
        return (0, 0, 0, false);
    }
    if let [only] = specs {
        if let (BeginSearch::Index(pos), FindKeys::Range { last_key, step, .. }) = (only.begin, only.find) {
            let last = if last_key >= 0 { pos + last_key } else { last_key };
            return (pos, last, step, incomplete(only));
        }
    }
    let mut movable = false;
    let mut first = i32::MAX;
    // Compared as unsigned like Redis, so a negative (from the end) last key wins.
    let mut last: u32 = 0;
    let mut prev_last: u32 = 0;
    for ks in specs {
        let (BeginSearch::Index(pos), FindKeys::Range { last_key, step, .. }) = (ks.begin, ks.find) else {
            movable = true;
            continue;
        };
        if step != 1 || (prev_last != 0 && prev_last as i64 != pos as i64 - 1) {
            movable = true;
            continue;
        }
        movable |= incomplete(ks);
        first = first.min(pos);
        let abs = if last_key >= 0 { last_key + pos } else { last_key };
        last = last.max(abs as u32);
        prev_last = last;
    }
    if first == i32::MAX {
        return (0, 0, 0, true);
    }
    (first, last as i32, 1, movable)
}

/// ACL categories: explicit ones, then those implied by flags (Redis's
/// setImplicitACLCategories order).
pub(crate) fn acl_categories(spec: &RawSpec, flags: CmdFlags) -> Vec<&'static str> {
    let mut cats: Vec<&'static str> = Vec::new();
    let add = |c: &'static str, cats: &mut Vec<&'static str>| {
        if !cats.contains(&c) {
            cats.push(c);
        }
    };
    if flags.has(CmdFlags::WRITE) {
        add("write", &mut cats);
    }
    if flags.has(CmdFlags::READONLY) && !spec.acl.contains(&"scripting") {
        add("read", &mut cats);
    }
    for c in spec.acl {
        add(c, &mut cats);
    }
    if flags.has(CmdFlags::ADMIN) {
        add("admin", &mut cats);
        add("dangerous", &mut cats);
    }
    if flags.has(CmdFlags::PUBSUB) {
        add("pubsub", &mut cats);
    }
    if flags.has(CmdFlags::FAST) {
        add("fast", &mut cats);
    }
    if flags.has(CmdFlags::BLOCKING) {
        add("blocking", &mut cats);
    }
    if !flags.has(CmdFlags::FAST) {
        add("slow", &mut cats);
    }
    // Redis renders the category bitmask in its category table's order.
    cats.sort_by_key(|c| ACL_ORDER.iter().position(|o| o == c).unwrap_or(usize::MAX));
    cats
}

/// ACL categories in Redis's table order.
pub const ACL_ORDER: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];
