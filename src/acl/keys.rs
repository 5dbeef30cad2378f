//! Which arguments of a command line are keys and channels, and what access
//! each key needs, as Redis's ACL check sees them.
//!
//! Owns: key extraction from the key specs with Redis 7.0's failure rules
//! (a spec that cannot be applied, or an INCOMPLETE one, discards the spec
//! result) and the per-command fallbacks Redis keeps for such commands
//! (`getkeys_proc`: SET, BITFIELD, SORT, MIGRATE, GEORADIUS, the numkeys
//! family, XREAD). Must not: look at the keyspace. Mirrors `db.c`
//! `getKeysFromCommandWithSpecs`, `getKeysUsingKeySpecs`, the `*GetKeys`
//! helpers and `getChannelsFromCommand`.

use bytes::Bytes;

use super::catalog::AclCommand;
use crate::cmd::spec::{BeginSearch, FindKeys, KeySpec};
use crate::util::num::c_strtol;

/// The key is read (`ACCESS` key-spec flag).
pub const READ: u8 = 1;
/// The key is written (`INSERT`, `DELETE` or `UPDATE`).
pub const WRITE: u8 = 2;

/// One key argument: its position in argv and the permissions it needs
/// (0 when the source gives no flags: any pattern that matches allows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRef {
    /// Index in argv.
    pub pos: usize,
    /// `READ` and/or `WRITE`.
    pub access: u8,
}

/// Whether ACL has keys to check for this command (key specs that are not
/// NOT_KEY, or a fallback extractor).
pub fn has_keys(cmd: &AclCommand) -> bool {
    has_key_spec(cmd.spec.key_specs) || fallback_kind(&cmd.fullname).is_some()
}

/// The keys of `argv` (argv[0] is the command name) for an ACL check.
pub fn keys(cmd: &AclCommand, argv: &[Bytes]) -> Vec<KeyRef> {
    let specs = cmd.spec.key_specs;
    let variable = specs.iter().any(|s| s.flags.contains(&"VARIABLE_FLAGS"));
    if has_key_spec(specs) && !variable {
        if let Some(keys) = from_specs(specs, cmd.spec.arity, argv) {
            return keys;
        }
    }
    match fallback_kind(&cmd.fullname) {
        Some(kind) => fallback(kind, argv),
        None => Vec::new(),
    }
}

/// A channel argument and whether it is a pattern (PSUBSCRIBE), which ACL
/// compares literally instead of matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelRef {
    /// Index in argv.
    pub pos: usize,
    /// The argument is a subscription pattern.
    pub pattern: bool,
}

/// The channels ACL checks: those published to or subscribed to
/// (unsubscribing is never refused).
pub fn channels(cmd: &AclCommand, argv: &[Bytes]) -> Vec<ChannelRef> {
    let (range, pattern) = match cmd.fullname.as_str() {
        "subscribe" | "ssubscribe" => (1..argv.len(), false),
        "psubscribe" => (1..argv.len(), true),
        "publish" | "spublish" => (1..argv.len().min(2), false),
        _ => return Vec::new(),
    };
    range.map(|pos| ChannelRef { pos, pattern }).collect()
}

/// Whether [`channels`] can return anything for this command.
pub fn has_channels(cmd: &AclCommand) -> bool {
    matches!(cmd.fullname.as_str(), "subscribe" | "ssubscribe" | "psubscribe" | "publish" | "spublish")
}

fn has_key_spec(specs: &[KeySpec]) -> bool {
    specs.iter().any(|s| !s.flags.contains(&"NOT_KEY"))
}

fn access_of(flags: &[&str]) -> u8 {
    let mut a = 0;
    if flags.contains(&"ACCESS") {
        a |= READ;
    }
    if flags.iter().any(|f| matches!(*f, "INSERT" | "DELETE" | "UPDATE")) {
        a |= WRITE;
    }
    a
}

/// Applies the key specs; `None` when one of them cannot be applied to this
/// argv or is INCOMPLETE (Redis then falls back to the command's extractor).
fn from_specs(specs: &[KeySpec], arity: i32, argv: &[Bytes]) -> Option<Vec<KeyRef>> {
    let argc = argv.len() as i64;
    let mut out = Vec::new();
    for spec in specs {
        if spec.flags.contains(&"NOT_KEY") {
            continue;
        }
        let first: i64 = match spec.begin {
            BeginSearch::Index(p) => p as i64,
            BeginSearch::Keyword { keyword, start_from } => {
                let sf = start_from as i64;
                let (start, end) = if sf > 0 { (sf, argc - 1) } else { (argc + sf, 1) };
                let mut found = None;
                let mut i = start;
                // The end index is exclusive, and the walk stops at the edges.
                while i != end {
                    if i >= argc || i < 1 {
                        break;
                    }
                    if argv[i as usize].eq_ignore_ascii_case(keyword.as_bytes()) {
                        found = Some(i + 1);
                        break;
                    }
                    i += if start <= end { 1 } else { -1 };
                }
                match found {
                    Some(f) => f,
                    None => continue,
                }
            }
            BeginSearch::Unknown => return None,
        };
        let (first, last, step) = match spec.find {
            FindKeys::Range { last_key, step, limit } => {
                let last_key = last_key as i64;
                let last = if last_key >= 0 {
                    first + last_key
                } else if limit == 0 {
                    argc + last_key
                } else {
                    first + ((argc - first) / limit as i64 + last_key)
                };
                (first, last, step as i64)
            }
            FindKeys::Keynum { keynum_idx, first_key, step } => {
                let at = first + keynum_idx as i64;
                if at >= argc || at < 0 {
                    return None;
                }
                let n = crate::util::num::string2ll(&argv[at as usize]).filter(|&n| n >= 0)?;
                let f = first + first_key as i64;
                (f, f.saturating_add(n) - 1, step as i64)
            }
            FindKeys::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc {
            return None;
        }
        let access = access_of(spec.flags);
        let mut i = first;
        while i <= last {
            if i >= argc {
                // Only variadic commands can get here; the command reports it.
                if arity < 0 {
                    i += step.max(1);
                    continue;
                }
                return None;
            }
            out.push(KeyRef { pos: i as usize, access });
            i += step.max(1);
        }
        if spec.flags.contains(&"INCOMPLETE") {
            return None;
        }
    }
    Some(out)
}

/// Redis's per-command key extractors.
#[derive(Debug, Clone, Copy)]
enum Fallback {
    Set,
    Bitfield,
    Sort,
    SortRo,
    Migrate,
    Georadius,
    XRead,
    /// (store key offset or 0, key count offset, first key offset).
    NumKeys(usize, usize, usize),
}

fn fallback_kind(name: &str) -> Option<Fallback> {
    Some(match name {
        "set" => Fallback::Set,
        "bitfield" => Fallback::Bitfield,
        "sort" => Fallback::Sort,
        "sort_ro" => Fallback::SortRo,
        "migrate" => Fallback::Migrate,
        "georadius" | "georadiusbymember" => Fallback::Georadius,
        "xread" | "xreadgroup" => Fallback::XRead,
        "sintercard" | "zunion" | "zinter" | "zdiff" | "zintercard" | "lmpop" | "zmpop" => Fallback::NumKeys(0, 1, 2),
        "zunionstore" | "zinterstore" | "zdiffstore" => Fallback::NumKeys(1, 2, 3),
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" | "blmpop" | "bzmpop" => {
            Fallback::NumKeys(0, 2, 3)
        }
        _ => return None,
    })
}


fn fallback(kind: Fallback, argv: &[Bytes]) -> Vec<KeyRef> {
    let argc = argv.len();
    let is = |i: usize, w: &str| argv.get(i).is_some_and(|a| a.eq_ignore_ascii_case(w.as_bytes()));
    let key = |pos: usize, access: u8| KeyRef { pos, access };
    match kind {
        Fallback::Set => {
            if argc < 2 {
                return Vec::new();
            }
            let get = (3..argc).any(|i| is(i, "get"));
            vec![key(1, if get { READ | WRITE } else { WRITE })]
        }
        Fallback::Bitfield => {
            if argc < 2 {
                return Vec::new();
            }
            let mut readonly = true;
            let mut i = 2;
            while i < argc {
                let left = argc - i - 1;
                if is(i, "get") && left >= 2 {
                    i += 3;
                } else if (is(i, "set") || is(i, "incrby")) && left >= 3 {
                    readonly = false;
                    break;
                } else if is(i, "overflow") && left >= 1 {
                    i += 2;
                } else {
                    readonly = false; // a syntax error: assume a write
                    break;
                }
            }
            vec![key(1, if readonly { READ } else { READ | WRITE })]
        }
        Fallback::SortRo => {
            if argc < 2 {
                return Vec::new();
            }
            vec![key(1, READ)]
        }
        Fallback::Sort => {
            if argc < 2 {
                return Vec::new();
            }
            let mut out = vec![key(1, READ)];
            let mut store = None;
            let mut i = 2;
            while i < argc {
                if is(i, "limit") {
                    i += 2;
                } else if is(i, "store") && i + 1 < argc {
                    // The last STORE wins, as in SORT itself.
                    store = Some(i + 1);
                } else if is(i, "get") || is(i, "by") {
                    i += 1;
                }
                i += 1;
            }
            out.extend(store.map(|p| key(p, WRITE)));
            out
        }
        Fallback::Migrate => {
            let (mut first, mut num) = (3usize, 1usize);
            if argc > 6 {
                let mut i = 6;
                while i < argc {
                    if is(i, "keys") {
                        if !argv[3].is_empty() {
                            num = 0; // the command reports the syntax error
                        } else {
                            first = i + 1;
                            num = argc - first;
                        }
                        break;
                    }
                    if is(i, "auth") {
                        i += 1;
                    } else if is(i, "auth2") {
                        i += 2;
                    }
                    i += 1;
                }
            }
            (first..first + num).filter(|&p| p < argc).map(|p| key(p, READ | WRITE)).collect()
        }
        Fallback::Georadius => {
            if argc < 2 {
                return Vec::new();
            }
            let mut stored = None;
            let mut i = 5;
            while i < argc {
                if (is(i, "store") || is(i, "storedist")) && i + 1 < argc {
                    stored = Some(i + 1);
                    i += 1;
                }
                i += 1;
            }
            let mut out = vec![key(1, 0)];
            out.extend(stored.map(|p| key(p, 0)));
            out
        }
        Fallback::XRead => {
            let mut streams = None;
            let mut i = 1;
            while i < argc {
                if is(i, "block") || is(i, "count") {
                    i += 1;
                } else if is(i, "group") {
                    i += 2;
                } else if is(i, "noack") {
                } else if is(i, "streams") {
                    streams = Some(i);
                    break;
                } else {
                    break;
                }
                i += 1;
            }
            let Some(s) = streams else { return Vec::new() };
            let num = argc - s - 1;
            if num == 0 || !num.is_multiple_of(2) {
                return Vec::new();
            }
            (s + 1..s + 1 + num / 2).map(|p| key(p, 0)).collect()
        }
        Fallback::NumKeys(store, count, first) => {
            let Some(n) = argv.get(count).map(|a| c_strtol(a).0) else { return Vec::new() };
            if n < 1 || n > (argc.saturating_sub(first)) as i64 {
                return Vec::new();
            }
            let mut out: Vec<KeyRef> = (0..n as usize).map(|i| key(first + i, 0)).collect();
            if store != 0 {
                out.push(key(store, 0));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::catalog::catalog;

    fn argv(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    fn keys_of(line: &[&str]) -> Vec<(usize, u8)> {
        let c = catalog();
        let id = c.resolve(&argv(line)).expect("known command");
        keys(&c.cmds[id], &argv(line)).into_iter().map(|k| (k.pos, k.access)).collect()
    }

    #[test]
    fn spec_keys_and_access() {
        assert_eq!(keys_of(&["get", "k"]), vec![(1, READ)]);
        assert_eq!(keys_of(&["lpush", "k", "v"]), vec![(1, WRITE)]);
        assert_eq!(keys_of(&["copy", "a", "b"]), vec![(1, READ), (2, WRITE)]);
        assert_eq!(keys_of(&["hexists", "k", "f"]), vec![(1, 0)]);
        assert_eq!(keys_of(&["mget", "a", "b"]), vec![(1, READ), (2, READ)]);
        assert_eq!(keys_of(&["memory", "usage", "k"]), vec![(2, 0)]);
    }

    #[test]
    fn variable_flags_and_fallbacks() {
        assert_eq!(keys_of(&["set", "k", "v"]), vec![(1, WRITE)]);
        assert_eq!(keys_of(&["set", "k", "v", "GET"]), vec![(1, READ | WRITE)]);
        assert_eq!(keys_of(&["set", "k", "get"]), vec![(1, WRITE)]);
        assert_eq!(keys_of(&["bitfield", "k", "get", "u4", "0"]), vec![(1, READ)]);
        assert_eq!(keys_of(&["bitfield", "k", "incrby", "u4", "0", "1"]), vec![(1, READ | WRITE)]);
        assert_eq!(keys_of(&["sort", "a", "by", "x", "store", "d"]), vec![(1, READ), (5, WRITE)]);
        assert_eq!(keys_of(&["migrate", "h", "p", "", "0", "5", "AUTH2", "u", "p", "KEYS", "a", "b"]).len(), 2);
        assert_eq!(keys_of(&["migrate", "h", "p", "k", "0", "5"]), vec![(3, READ | WRITE)]);
        assert!(keys_of(&["eval", "s", "3", "a", "b"]).is_empty());
        assert!(keys_of(&["eval", "s", "-1", "a"]).is_empty());
        assert_eq!(keys_of(&["eval", "s", "1", "a"]).len(), 1);
        assert_eq!(keys_of(&["georadius", "k", "1", "2", "3", "m", "storedist", "d"]), vec![(1, READ), (7, WRITE)]);
        assert_eq!(keys_of(&["xread", "streams", "a", "b", "0", "0"]), vec![(2, READ), (3, READ)]);
    }

    #[test]
    fn channels_of_pubsub_commands() {
        let c = catalog();
        let sub = &c.cmds[c.lookup(b"psubscribe").unwrap()];
        let ch = channels(sub, &argv(&["psubscribe", "a*", "b"]));
        assert_eq!(ch, vec![ChannelRef { pos: 1, pattern: true }, ChannelRef { pos: 2, pattern: true }]);
        let publish = &c.cmds[c.lookup(b"publish").unwrap()];
        assert_eq!(channels(publish, &argv(&["publish", "c", "m"])).len(), 1);
        let unsub = &c.cmds[c.lookup(b"unsubscribe").unwrap()];
        assert!(channels(unsub, &argv(&["unsubscribe", "c"])).is_empty());
    }

    #[test]
    fn random_argv_never_panics() {
        let c = catalog();
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let words = ["get", "keys", "store", "-1", "0", "3", "streams", "auth2", "", "limit", "by", "STOREDIST"];
        for _ in 0..20_000 {
            let id = (next() % c.len() as u64) as usize;
            let n = (next() % 9) as usize;
            let mut line = vec![Bytes::from(c.cmds[id].fullname.clone())];
            for _ in 0..n {
                line.push(Bytes::from_static(words[(next() % words.len() as u64) as usize].as_bytes()));
            }
            for k in keys(&c.cmds[id], &line) {
                assert!(k.pos < line.len());
            }
            for ch in channels(&c.cmds[id], &line) {
                assert!(ch.pos < line.len());
            }
        }
    }
}
