//! ACL selectors: one set of command, key and channel permissions. A user has
//! a root selector plus any number of `(...)` selectors; a command is allowed
//! when one selector allows all of it.
//!
//! Owns: the rule syntax that applies to a selector (`+cmd -cmd +@cat -@cat
//! +cmd|sub +cmd|firstarg allcommands nocommands ~pat %R~pat %W~pat allkeys
//! resetkeys &pat allchannels resetchannels`), the per-selector check of one
//! command line, and the description that ACL LIST / GETUSER print (the
//! greedy category fit that reproduces the command bitmap). Must not: know
//! about users, passwords or clients. Mirrors Redis 7.0 `acl.c`
//! (`ACLSetSelector`, `ACLSelectorCheckCmd`, `ACLDescribeSelector`).

use bytes::Bytes;

use super::catalog::{catalog, Catalog};
use super::keys::{self, READ, WRITE};
use super::RuleError;
use crate::cmd::spec::CmdFlags;
use crate::cmd::table::ACL_ORDER;
use crate::util::glob::string_match;

/// A key pattern with the access it grants (`READ | WRITE` for `~pat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    /// `READ` and/or `WRITE`.
    pub access: u8,
    /// Glob pattern.
    pub pattern: Vec<u8>,
}

/// One selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Bit per catalog id: the command may run.
    bits: Vec<u64>,
    /// Set by `+@all` and cleared by `-@all`: rules were built from "all
    /// commands", so commands added later are allowed (Redis's reserved bit).
    future: bool,
    /// `+@all` with no command removed since: the bitmap is not consulted.
    all_commands: bool,
    /// Allowed first arguments of otherwise denied commands (`+select|0`).
    first_args: Vec<(usize, Vec<Vec<u8>>)>,
    /// `allkeys` / `~*`.
    all_keys: bool,
    /// Key patterns, in the order given.
    keys: Vec<KeyPattern>,
    /// `allchannels` / `&*`.
    all_channels: bool,
    /// Channel patterns, in the order given.
    channels: Vec<Vec<u8>>,
}

/// Why a selector refused a command line, with the argv position of the key
/// or channel at fault. The order is Redis's: when no selector allows a
/// command, the "largest" refusal is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    /// The command (or subcommand) is not allowed.
    Command,
    /// The key at this position is not allowed.
    Key(usize),
    /// The channel at this position is not allowed.
    Channel(usize),
}

impl Denied {
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(p) => (2, p),
            Denied::Channel(p) => (4, p),
        }
    }

    /// The more relevant of two refusals (higher kind, then later position).
    pub fn most_relevant(self, other: Denied) -> Denied {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// Keys of the command line being checked, extracted once for all selectors.
#[derive(Default)]
pub struct KeyCache(Option<Vec<keys::KeyRef>>);

impl Selector {
    /// An empty selector: no commands, no keys, and channels as
    /// `acl-pubsub-default` says.
    pub fn new(all_channels: bool) -> Selector {
        Selector {
            bits: vec![0; catalog().len().div_ceil(64)],
            future: false,
            all_commands: false,
            first_args: Vec::new(),
            all_keys: false,
            keys: Vec::new(),
            all_channels,
            channels: Vec::new(),
        }
    }

    fn bit(&self, id: usize) -> bool {
        self.bits.get(id / 64).is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if let Some(w) = self.bits.get_mut(id / 64) {
            if on {
                *w |= 1 << (id % 64);
            } else {
                *w &= !(1 << (id % 64));
                self.all_commands = false;
            }
        }
    }

    /// Allows or denies a command; a container takes its subcommands along.
    fn change_perm(&mut self, cat: &Catalog, id: usize, allow: bool) {
        self.set_bit(id, allow);
        self.first_args.retain(|(c, _)| *c != id);
        for &sub in &cat.cmds[id].subs {
            self.set_bit(sub, allow);
        }
    }

    fn set_category(&mut self, cat: &Catalog, bit: u32, allow: bool) {
        for id in 0..cat.len() {
            if cat.cmds[id].categories & bit != 0 {
                self.change_perm(cat, id, allow);
            }
        }
    }

    fn set_all(&mut self, allow: bool) {
        let fill = if allow { u64::MAX } else { 0 };
        self.bits.iter_mut().for_each(|w| *w = fill);
        self.future = allow;
        self.all_commands = allow;
        self.first_args.clear();
    }

    /// Applies one rule. Errors leave the selector partly changed only in
    /// ways the caller discards (rules are applied to a copy).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let cat = catalog();
        let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
        if op.is_empty() {
            return Ok(());
        }
        if is("allkeys") || op == b"~*" {
            self.all_keys = true;
            self.keys.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.keys.clear();
        } else if is("allchannels") || op == b"&*" {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.set_all(true);
        } else if is("nocommands") || is("-@all") {
            self.set_all(false);
        } else if op[0] == b'~' || op[0] == b'%' {
            if self.all_keys {
                return Err(RuleError::KeyAfterAll);
            }
            let (access, pattern) = parse_key_rule(op)?;
            match self.keys.iter_mut().find(|k| k.pattern == pattern) {
                Some(k) => k.access |= access,
                None => self.keys.push(KeyPattern { access, pattern: pattern.to_vec() }),
            }
        } else if op[0] == b'&' {
            if self.all_channels {
                return Err(RuleError::ChannelAfterAll);
            }
            let pattern = &op[1..];
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pattern) {
                self.channels.push(pattern.to_vec());
            }
        } else if (op[0] == b'+' || op[0] == b'-') && op.get(1) == Some(&b'@') {
            let bit = super::catalog::category_bit(&op[2..]).ok_or(RuleError::UnknownCommand)?;
            self.set_category(cat, bit, op[0] == b'+');
        } else if op[0] == b'+' {
            self.allow_command(cat, &op[1..])?;
        } else if op[0] == b'-' {
            let id = cat.lookup(&op[1..]).ok_or(RuleError::UnknownCommand)?;
            self.change_perm(cat, id, false);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    /// `+name`, `+container|sub` or `+command|first-arg`.
    fn allow_command(&mut self, cat: &Catalog, name: &[u8]) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|&b| b == b'|') else {
            let id = cat.lookup(name).ok_or(RuleError::UnknownCommand)?;
            self.change_perm(cat, id, true);
            return Ok(());
        };
        let (head, sub) = (&name[..bar], &name[bar + 1..]);
        let id = cat.lookup(head).ok_or(RuleError::UnknownCommand)?;
        if cat.cmds[id].parent.is_some() {
            return Err(RuleError::SubcommandFirstArg);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if !cat.cmds[id].subs.is_empty() {
            let sub_id = cat.lookup(name).ok_or(RuleError::UnknownCommand)?;
            self.change_perm(cat, sub_id, true);
            return Ok(());
        }
        log::warn!(
            "Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the future (offender: +{})",
            String::from_utf8_lossy(name)
        );
        let lower = sub.to_ascii_lowercase();
        match self.first_args.iter_mut().find(|(c, _)| *c == id) {
            Some((_, args)) => {
                if !args.iter().any(|a| a.eq_ignore_ascii_case(&lower)) {
                    args.push(sub.to_vec());
                }
            }
            None => self.first_args.push((id, vec![sub.to_vec()])),
        }
        Ok(())
    }

    /// Whether this selector allows every channel.
    pub fn all_channels(&self) -> bool {
        self.all_channels
    }

    /// The channel patterns (meaningless with `all_channels`).
    pub fn channel_patterns(&self) -> &[Vec<u8>] {
        &self.channels
    }

    /// Whether this selector allows every command, key and channel, so
    /// checks can stop here.
    pub fn allows_everything(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    /// Checks one command line (`argv[0]` is the name) against this selector.
    pub fn check(&self, id: usize, argv: &[Bytes], cache: &mut KeyCache) -> Result<(), Denied> {
        let cat = catalog();
        let cmd = &cat.cmds[id];
        if !self.all_commands && !cmd.flags.has(CmdFlags::NO_AUTH) && !self.bit(id) {
            let at = if cmd.parent.is_some() { 2 } else { 1 };
            let allowed = argv.get(at).is_some_and(|arg| {
                self.first_args.iter().any(|(c, args)| *c == id && args.iter().any(|a| a.eq_ignore_ascii_case(arg)))
            });
            if !allowed {
                return Err(Denied::Command);
            }
        }
        if !self.all_keys && keys::has_keys(cmd) {
            let found = cache.0.get_or_insert_with(|| keys::keys(cmd, argv));
            for k in found.iter() {
                if !self.key_allowed(&argv[k.pos], k.access) {
                    return Err(Denied::Key(k.pos));
                }
            }
        }
        if !self.all_channels && keys::has_channels(cmd) {
            for ch in keys::channels(cmd, argv) {
                if !channel_in(&self.channels, &argv[ch.pos], ch.pattern) {
                    return Err(Denied::Channel(ch.pos));
                }
            }
        }
        Ok(())
    }

    fn key_allowed(&self, key: &[u8], access: u8) -> bool {
        self.all_keys || self.keys.iter().any(|p| p.access & access == access && string_match(&p.pattern, key, false))
    }

    /// Whether some pattern (or `allkeys`) grants `access` to every key.
    pub fn unrestricted_keys(&self, access: u8) -> bool {
        self.all_keys || self.keys.iter().any(|p| p.access & access == access && p.pattern == b"*")
    }

    // ----------------------------------------------------------- describe

    /// The rules text (`~pat ... resetchannels &pat ... +@all -cmd`), as
    /// ACL LIST prints a selector.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        if self.all_keys {
            out.push_str("~* ");
        } else {
            for k in &self.keys {
                out.push_str(&key_pattern_text(k));
                out.push(' ');
            }
        }
        if self.all_channels {
            out.push_str("&* ");
        } else {
            out.push_str("resetchannels ");
            for c in &self.channels {
                out.push('&');
                out.push_str(&String::from_utf8_lossy(c));
                out.push(' ');
            }
        }
        out.push_str(&self.describe_commands());
        out
    }

    /// The `keys` field of ACL GETUSER.
    pub fn keys_text(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        self.keys.iter().map(key_pattern_text).collect::<Vec<_>>().join(" ")
    }

    /// The `channels` field of ACL GETUSER.
    pub fn channels_text(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        self.channels.iter().map(|c| format!("&{}", String::from_utf8_lossy(c))).collect::<Vec<_>>().join(" ")
    }

    /// The command rules that rebuild this selector's bitmap: `+@all` or
    /// `-@all`, then the categories that fit best, then single commands.
    pub fn describe_commands(&self) -> String {
        let cat = catalog();
        let additive = !self.future;
        let mut rules: Vec<String> = vec![if additive { "-@all" } else { "+@all" }.to_string()];
        let mut fake = Selector::new(false);
        fake.set_all(!additive);
        // What is left to explain: categories are applied to it inversely.
        let mut rest = self.clone();
        let mut applied = [false; 32];
        loop {
            let mut best: Option<usize> = None;
            let (mut min_diff, mut max_same) = (usize::MAX, 0usize);
            for (j, done) in applied.iter().enumerate().take(ACL_ORDER.len()) {
                if *done {
                    continue;
                }
                let (on, off) = rest.count_category(cat, 1 << j);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                    best = Some(j);
                    min_diff = diff;
                    max_same = same;
                }
            }
            let Some(j) = best else { break };
            fake.set_category(cat, 1 << j, additive);
            rest.set_category(cat, 1 << j, !additive);
            rules.push(format!("{}@{}", if additive { '+' } else { '-' }, ACL_ORDER[j]));
            applied[j] = true;
        }
        for id in cat.top_level() {
            self.describe_single(cat, id, &mut fake, &mut rules);
        }
        rules.join(" ")
    }

    fn describe_single(&self, cat: &Catalog, id: usize, fake: &mut Selector, rules: &mut Vec<String>) {
        let mine = self.bit(id);
        if mine != fake.bit(id) {
            rules.push(format!("{}{}", if mine { '+' } else { '-' }, cat.cmds[id].fullname));
            fake.change_perm(cat, id, mine);
        }
        for &sub in &cat.cmds[id].subs {
            self.describe_single(cat, sub, fake, rules);
        }
        if !mine {
            if let Some((_, args)) = self.first_args.iter().find(|(c, _)| *c == id) {
                for a in args {
                    rules.push(format!("+{}|{}", cat.cmds[id].fullname, String::from_utf8_lossy(a)));
                }
            }
        }
    }

    /// (allowed, denied) commands of one category.
    fn count_category(&self, cat: &Catalog, bit: u32) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        for id in 0..cat.len() {
            if cat.cmds[id].categories & bit != 0 {
                if self.bit(id) {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }
}

/// `~pat`, `%R~pat` or `%W~pat`.
fn key_pattern_text(k: &KeyPattern) -> String {
    let prefix = match k.access {
        a if a == READ | WRITE => "~",
        READ => "%R~",
        _ => "%W~",
    };
    format!("{prefix}{}", String::from_utf8_lossy(&k.pattern))
}

/// Parses `~pattern` or `%<R|W...>~pattern`.
fn parse_key_rule(op: &[u8]) -> Result<(u8, &[u8]), RuleError> {
    let (access, rest) = if op[0] == b'%' {
        let tilde = op.iter().position(|&b| b == b'~').ok_or(RuleError::Syntax)?;
        let mut access = 0;
        for &b in &op[1..tilde] {
            let bit = match b.to_ascii_uppercase() {
                b'R' => READ,
                b'W' => WRITE,
                _ => return Err(RuleError::Syntax),
            };
            if access & bit != 0 {
                return Err(RuleError::Syntax);
            }
            access |= bit;
        }
        // "%~pat" grants nothing: refused rather than kept as a dead pattern.
        if access == 0 {
            return Err(RuleError::Syntax);
        }
        (access, &op[tilde + 1..])
    } else {
        (READ | WRITE, &op[1..])
    };
    if has_spaces(rest) {
        return Err(RuleError::Syntax);
    }
    Ok((access, rest))
}

/// White space or NUL: not allowed in names and patterns, so rules can be
/// written back as space-separated words.
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|&b| b == 0 || b.is_ascii_whitespace() || b == 0x0b)
}

/// Whether `channel` is allowed by `patterns`: a subscription pattern must be
/// listed literally, a plain channel may match a pattern.
pub fn channel_in(patterns: &[Vec<u8>], channel: &[u8], is_pattern: bool) -> bool {
    patterns.iter().any(|p| if is_pattern { p.as_slice() == channel } else { string_match(p, channel, false) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(rules: &[&str]) -> Selector {
        let mut s = Selector::new(false);
        for r in rules {
            s.apply(r.as_bytes()).unwrap_or_else(|e| panic!("{r}: {e:?}"));
        }
        s
    }

    fn line(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    fn check(s: &Selector, words: &[&str]) -> Result<(), Denied> {
        let argv = line(words);
        let id = catalog().resolve(&argv).expect("command");
        s.check(id, &argv, &mut KeyCache::default())
    }

    #[test]
    fn describe_categories_round_trip() {
        for cat in ACL_ORDER {
            let plus = sel(&["+@all", &format!("-@{cat}")]);
            assert_eq!(plus.describe_commands(), format!("+@all -@{cat}"));
            let minus = sel(&["-@all", &format!("+@{cat}")]);
            assert_eq!(minus.describe_commands(), format!("-@all +@{cat}"));
        }
    }

    #[test]
    fn describe_subcommands() {
        assert_eq!(sel(&["+memory|doctor"]).describe_commands(), "-@all +memory|doctor");
        assert_eq!(sel(&["+memory|doctor", "+memory"]).describe_commands(), "-@all +memory");
        assert_eq!(sel(&["+@all", "+client|id"]).describe_commands(), "+@all");
        assert_eq!(sel(&["+@all", "-client|kill"]).describe_commands(), "+@all -client|kill");
        assert_eq!(sel(&["+@all", "-memory"]).describe_commands(), "+@all -memory");
        assert_eq!(sel(&["-@all", "+acl", "+select|0"]).describe_commands(), "-@all +acl +select|0");
    }

    #[test]
    fn rule_errors() {
        let mut s = Selector::new(false);
        assert_eq!(s.apply(b"+config|get|appendonly"), Err(RuleError::SubcommandFirstArg));
        assert_eq!(s.apply(b"+config|asdf"), Err(RuleError::UnknownCommand));
        assert_eq!(s.apply(b"-get|key1|key2"), Err(RuleError::UnknownCommand));
        assert_eq!(s.apply(b"+@nosuch"), Err(RuleError::UnknownCommand));
        assert_eq!(s.apply(b"this-is-invalid"), Err(RuleError::Syntax));
        assert_eq!(s.apply(b"%X~a"), Err(RuleError::Syntax));
        assert_eq!(s.apply(b"+debug|"), Err(RuleError::Syntax));
        s.apply(b"&*").unwrap();
        assert_eq!(s.apply(b"&x"), Err(RuleError::ChannelAfterAll));
        s.apply(b"allkeys").unwrap();
        assert_eq!(s.apply(b"~x"), Err(RuleError::KeyAfterAll));
    }

    #[test]
    fn key_patterns_merge_and_print() {
        let s = sel(&["%R~foo", "%W~foo", "%RW~bar"]);
        assert_eq!(s.keys_text(), "~foo ~bar");
        let s = sel(&["%R~foo1", "%W~bar1", "~baz1"]);
        assert_eq!(s.keys_text(), "%R~foo1 %W~bar1 ~baz1");
        assert_eq!(s.describe(), "%R~foo1 %W~bar1 ~baz1 resetchannels -@all");
        // SORT BY / GET need read access to every key.
        assert!(sel(&["%R~*"]).unrestricted_keys(READ));
        assert!(!sel(&["%W~*"]).unrestricted_keys(READ));
        assert!(!sel(&["~v*"]).unrestricted_keys(READ));
        assert!(sel(&["allkeys"]).unrestricted_keys(READ | WRITE));
    }

    #[test]
    fn checks_commands_keys_and_channels() {
        let s = sel(&["+@all", "%R~read*", "%W~write*", "resetchannels", "&chan"]);
        assert_eq!(check(&s, &["get", "read"]), Ok(()));
        assert_eq!(check(&s, &["get", "write"]), Err(Denied::Key(1)));
        assert_eq!(check(&s, &["copy", "read", "write"]), Ok(()));
        assert_eq!(check(&s, &["copy", "write", "read"]), Err(Denied::Key(1)));
        assert_eq!(check(&s, &["publish", "chan", "m"]), Ok(()));
        assert_eq!(check(&s, &["publish", "other", "m"]), Err(Denied::Channel(1)));
        let none = sel(&["-@all", "+select|0"]);
        assert_eq!(check(&none, &["select", "0"]), Ok(()));
        assert_eq!(check(&none, &["select", "1"]), Err(Denied::Command));
        assert_eq!(check(&none, &["auth", "x"]), Ok(()), "no-auth commands are always allowed");
        let pat = sel(&["+@all", "allkeys", "&bar:*"]);
        assert_eq!(check(&pat, &["psubscribe", "bar:*"]), Ok(()));
        assert_eq!(check(&pat, &["psubscribe", "bar:baz"]), Err(Denied::Channel(1)));
        assert_eq!(check(&pat, &["subscribe", "bar:baz"]), Ok(()));
    }

    #[test]
    fn random_rules_never_panic() {
        let mut x: u64 = 42;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"+-@~%&|RWrw*()abcdegilmnopstx ";
        let mut s = Selector::new(false);
        for _ in 0..20_000 {
            let len = 1 + (next() % 10) as usize;
            let op: Vec<u8> = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            let _ = s.apply(&op);
        }
        let _ = s.describe();
    }
}
