//! ACL users: flags, password hashes and selectors, and the user-level rules
//! (`on off nopass resetpass >pass <pass #hash !hash (selector)
//! clearselectors reset`); every other rule goes to the root selector.
//!
//! Owns: one user's state and its description. Must not: know about
//! clients or the set of users. Mirrors Redis 7.0 `acl.c` `ACLSetUser`,
//! `ACLDescribeUser`, `ACLCheckUserCredentials`, `ACLMergeSelectorArguments`.

use super::selector::Selector;
use super::sha256::hex_digest;
use super::RuleError;

/// One user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The name (no spaces or NUL).
    pub name: Vec<u8>,
    /// `on` (may authenticate) or `off`.
    enabled: bool,
    /// Any password authenticates.
    nopass: bool,
    /// `sanitize-payload` (Some(true)) / `skip-sanitize-payload` (Some(false)).
    sanitize: Option<bool>,
    /// SHA-256 hex digests, in the order added.
    passwords: Vec<String>,
    /// The root selector first, then `(...)` selectors in the order added.
    pub selectors: Vec<Selector>,
}

impl User {
    /// A new user as ACL SETUSER creates it: off, no passwords, no commands,
    /// no keys, channels as `acl-pubsub-default` says.
    pub fn new(name: &[u8], all_channels: bool) -> User {
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            selectors: vec![Selector::new(all_channels)],
        }
    }

    /// The built-in `default` user: on, nopass, every command, key and channel.
    pub fn new_default() -> User {
        let mut u = User::new(b"default", false);
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            // These rules are valid by construction.
            let _ = u.apply(op.as_bytes(), false);
        }
        u
    }

    /// Whether the user may authenticate.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether any password authenticates.
    pub fn nopass(&self) -> bool {
        self.nopass
    }

    /// The password hashes.
    pub fn passwords(&self) -> &[String] {
        &self.passwords
    }

    /// The root selector.
    pub fn root(&self) -> &Selector {
        &self.selectors[0]
    }

    /// Applies one rule; `all_channels` is `acl-pubsub-default` (for new
    /// selectors and `reset`).
    pub fn apply(&mut self, op: &[u8], all_channels: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
        if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize = Some(false);
        } else if is("sanitize-payload") {
            self.sanitize = Some(true);
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' { hex_digest(&op[1..]) } else { checked_hash(&op[1..])? };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' { hex_digest(&op[1..]) } else { checked_hash(&op[1..])? };
            let at = self.passwords.iter().position(|p| *p == hash).ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(at);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut s = Selector::new(all_channels);
            // Unbalanced quotes leave an empty selector, as in Redis.
            let words = crate::util::split::split_args(&op[1..op.len() - 1]).unwrap_or_default();
            for w in &words {
                s.apply(w)?;
            }
            self.selectors.push(s);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            self.nopass = false;
            self.passwords.clear();
            let root = &mut self.selectors[0];
            for op in ["resetkeys", "resetchannels", "-@all"] {
                root.apply(op.as_bytes())?;
            }
            if all_channels {
                root.apply(b"allchannels")?;
            }
            self.enabled = false;
            self.sanitize = Some(true);
            self.selectors.truncate(1);
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }

    /// Whether `password` authenticates this user (enabled state aside).
    pub fn password_ok(&self, password: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let hash = hex_digest(password);
        // Compare every stored hash in full: the time taken does not depend
        // on where a guess first differs.
        self.passwords.iter().fold(false, |found, p| {
            let diff = p.bytes().zip(hash.bytes()).fold(0u8, |d, (a, b)| d | (a ^ b));
            found | (diff == 0 && p.len() == hash.len())
        })
    }

    /// The flag words, in Redis's order.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        match self.sanitize {
            Some(false) => f.push("skip-sanitize-payload"),
            Some(true) => f.push("sanitize-payload"),
            None => {}
        }
        f
    }

    /// The rules that recreate this user, as ACL LIST prints them after
    /// `user <name> `.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for f in self.flags() {
            out.push_str(f);
            out.push(' ');
        }
        for p in &self.passwords {
            out.push('#');
            out.push_str(p);
            out.push(' ');
        }
        out.push_str(&self.selectors[0].describe());
        for s in &self.selectors[1..] {
            out.push_str(" (");
            out.push_str(&s.describe());
            out.push(')');
        }
        out
    }
}

/// A `#hash` / `!hash` argument: exactly 64 lowercase hex characters.
fn checked_hash(h: &[u8]) -> Result<String, RuleError> {
    if h.len() != 64 || !h.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)) {
        return Err(RuleError::BadHash);
    }
    Ok(String::from_utf8_lossy(h).into_owned())
}

/// Joins selector rules spread over several arguments (`(+get` `~k)`) into
/// one argument each. `Err(i)` names the argument whose `(` is never closed.
pub fn merge_selector_args<A: AsRef<[u8]>>(args: &[A]) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::with_capacity(args.len());
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, a) in args.iter().enumerate() {
        let a = a.as_ref();
        if let Some((start, mut buf)) = open.take() {
            buf.push(b' ');
            buf.extend_from_slice(a);
            if a.last() == Some(&b')') {
                out.push(buf);
            } else {
                open = Some((start, buf));
            }
            continue;
        }
        if a.first() == Some(&b'(') && a.last() != Some(&b')') {
            open = Some((i, a.to_vec()));
            continue;
        }
        out.push(a.to_vec());
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(rules: &[&str]) -> Result<User, RuleError> {
        let mut u = User::new(b"u", false);
        for r in merge_selector_args(rules).map_err(|_| RuleError::Syntax)? {
            u.apply(&r, false)?;
        }
        Ok(u)
    }

    #[test]
    fn passwords() {
        let u = user(&["on", ">passwd1", ">passwd2", "<passwd1"]).unwrap();
        assert!(u.password_ok(b"passwd2"));
        assert!(!u.password_ok(b"passwd1"));
        assert_eq!(user(&["<nope"]), Err(RuleError::NoSuchPassword));
        assert_eq!(
            user(&["#34344e4d60c2b6d639b7bd22e18f2b0b91bc34bf0ac5f9952744435093cfb4e"]),
            Err(RuleError::BadHash)
        );
        let u = user(&["#34344e4d60c2b6d639b7bd22e18f2b0b91bc34bf0ac5f9952744435093cfb4e6"]).unwrap();
        assert!(u.password_ok(b"passwd4"));
        assert!(user(&["nopass"]).unwrap().password_ok(b"anything"));
    }

    #[test]
    fn describe_matches_redis() {
        let u = user(&["on", "nopass", "resetchannels", "&foo", "+@all"]).unwrap();
        assert_eq!(u.describe(), "on nopass resetchannels &foo +@all");
        let u = user(&["off", "-@all", "+get", "(+set", "~k)"]).unwrap();
        assert_eq!(u.describe(), "off resetchannels -@all +get (~k resetchannels -@all +set)");
        assert_eq!(User::new_default().describe(), "on nopass ~* &* +@all");
        let u = user(&["reset"]).unwrap();
        assert_eq!(u.flags(), vec!["off", "sanitize-payload"]);
    }

    #[test]
    fn selector_merging() {
        assert_eq!(merge_selector_args(&["(~key1", "+get", ")"]).unwrap(), vec![b"(~key1 +get )".to_vec()]);
        assert_eq!(merge_selector_args(&["("]), Err(0));
        assert_eq!(merge_selector_args(&["on", "(a"]), Err(1));
        assert_eq!(merge_selector_args(&[")"]).unwrap(), vec![b")".to_vec()]);
        assert_eq!(user(&[" () "]), Err(RuleError::Syntax));
        assert_eq!(user(&["(this-is-invalid)"]), Err(RuleError::Syntax));
        assert_eq!(user(&["(&* &fail)"]), Err(RuleError::ChannelAfterAll));
        assert_eq!(user(&["()"]).unwrap().selectors.len(), 2);
    }
}
