//! The ACL command catalog: every Redis 7.0 command and subcommand, with the
//! id that indexes a selector's command bitmap and its ACL categories.
//!
//! Owns: the immutable list derived once from the generated metadata
//! (`cmd::specs`), built lazily and shared. Must not: depend on which
//! commands Viator binds handlers to. Mirrors Redis's `orig_commands` table:
//! rules such as `+eval` or `ACL CAT scripting` are about Redis's whole
//! command set, so they behave the same whatever subset is implemented, and
//! `rename-command` does not affect them.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::cmd::spec::{CmdFlags, RawSpec};
use crate::cmd::specs::SPECS;
use crate::cmd::table::{acl_categories, ACL_ORDER};

/// One command or subcommand as ACL rules see it.
#[derive(Debug)]
pub struct AclCommand {
    /// `name` or `container|name`, lowercase.
    pub fullname: String,
    /// The container, for subcommands (an index into [`Catalog::cmds`]).
    pub parent: Option<usize>,
    /// Subcommands of a container.
    pub subs: Vec<usize>,
    /// Category bits: bit `i` is `ACL_ORDER[i]`.
    pub categories: u32,
    /// The generated metadata (key specs, arity).
    pub spec: &'static RawSpec,
    /// Typed command flags.
    pub flags: CmdFlags,
}

/// All commands, in metadata order; top-level commands precede nothing in
/// particular, subcommands know their container.
#[derive(Debug)]
pub struct Catalog {
    /// Every command; the index is the ACL id.
    pub cmds: Vec<AclCommand>,
    /// Lowercase full name to id.
    by_name: HashMap<String, usize>,
}

/// The shared catalog.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::build)
}

/// The bit of category `name` (case-insensitive), if it exists.
pub fn category_bit(name: &[u8]) -> Option<u32> {
    ACL_ORDER.iter().position(|c| c.as_bytes().eq_ignore_ascii_case(name)).map(|i| 1 << i)
}

impl Catalog {
    fn build() -> Catalog {
        let mut cat = Catalog { cmds: Vec::new(), by_name: HashMap::new() };
        let only_sentinel = |s: &RawSpec| CmdFlags::from_names(s.flags).has(CmdFlags::ONLY_SENTINEL);
        for spec in SPECS.iter().filter(|s| s.container.is_empty() && !only_sentinel(s)) {
            cat.add(spec, spec.name.to_string(), None);
        }
        for spec in SPECS.iter().filter(|s| !s.container.is_empty()) {
            let Some(&parent) = cat.by_name.get(spec.container) else { continue };
            let id = cat.add(spec, format!("{}|{}", spec.container, spec.name), Some(parent));
            cat.cmds[parent].subs.push(id);
        }
        cat
    }

    fn add(&mut self, spec: &'static RawSpec, fullname: String, parent: Option<usize>) -> usize {
        let flags = CmdFlags::from_names(spec.flags);
        let mut categories = 0u32;
        for c in acl_categories(spec, flags) {
            if let Some(bit) = category_bit(c.as_bytes()) {
                categories |= bit;
            }
        }
        let id = self.cmds.len();
        self.by_name.insert(fullname.clone(), id);
        self.cmds.push(AclCommand { fullname, parent, subs: Vec::new(), categories, spec, flags });
        id
    }

    /// The command named `name` (`get`, `config|get`), case-insensitively.
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        let lower = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
        self.by_name.get(&lower).copied()
    }

    /// Resolves a command line as the server would (container then
    /// subcommand), without checking arity. Used by ACL DRYRUN.
    pub fn resolve(&self, argv: &[bytes::Bytes]) -> Option<usize> {
        let top = self.lookup(argv.first()?)?;
        if self.cmds[top].subs.is_empty() {
            return Some(top);
        }
        // A container alone names itself (DRYRUN then checks its arity).
        let Some(sub) = argv.get(1) else { return Some(top) };
        let mut full = self.cmds[top].fullname.clone().into_bytes();
        full.push(b'|');
        full.extend_from_slice(sub);
        self.lookup(&full)
    }

    /// Ids of top-level commands, in catalog order.
    pub fn top_level(&self) -> impl Iterator<Item = usize> + '_ {
        self.cmds.iter().enumerate().filter(|(_, c)| c.parent.is_none()).map(|(i, _)| i)
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// Never true: the generated metadata is not empty.
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_unbound_and_sub_commands() {
        let c = catalog();
        let eval = c.lookup(b"EVAL").expect("eval is a Redis command");
        assert!(c.cmds[eval].categories & category_bit(b"scripting").unwrap() != 0);
        let sub = c.lookup(b"config|get").expect("config|get");
        assert_eq!(c.cmds[sub].parent, c.lookup(b"config"));
        assert!(c.lookup(b"sentinel").is_none(), "only-sentinel commands are not in a server's table");
        let argv = vec![bytes::Bytes::from_static(b"CONFIG"), bytes::Bytes::from_static(b"Get")];
        assert_eq!(c.resolve(&argv), Some(sub));
        assert!(category_bit(b"nosuch").is_none());
        assert!(!c.is_empty() && c.len() > 200);
    }
}
