//! The ACL file (`aclfile`): reading it into users (ACL LOAD, start-up) and
//! writing the current users to it (ACL SAVE).
//!
//! Owns: the file format (one `user <name> <rules...>` line per user, words
//! separated by single spaces, blank lines allowed, nothing else) and its
//! error texts. Must not: install users or touch clients; the caller does.
//! Mirrors Redis 7.0 `acl.c` `ACLLoadFromFile` (every line is checked and any
//! error rejects the whole file) and `ACLSaveToFile` (temporary file, then
//! rename).

use std::io::Write;

use super::selector::has_spaces;
use super::user::{merge_selector_args, User};
use super::RuleError;

/// Reads the users of ACL file `path` (named as configured in errors). All
/// or nothing: `Err` carries every problem found, worded as Redis words it.
pub fn load(path: &str, all_channels: bool) -> Result<Vec<User>, String> {
    let text = std::fs::read(path).map_err(|e| {
        // COMPAT: ACLLoadFromFile's texts.
        format!("Error loading ACLs, opening file '{path}': {}", crate::config::strerror(&e))
    })?;
    parse(&text, path, all_channels)
}

/// The users described by ACL file `text`; see [`load`].
pub fn parse(text: &[u8], path: &str, all_channels: bool) -> Result<Vec<User>, String> {
    let mut errors = String::new();
    let mut users: Vec<User> = Vec::new();
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let linenum = i + 1;
        let line = trim(raw, b" \t\r\n");
        if line.is_empty() {
            continue;
        }
        let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        // COMPAT: the texts below are Redis's, trailing space included.
        if words[0] != b"user" || words.len() < 2 {
            errors.push_str(&format!("{path}:{linenum} should start with user keyword followed by the username. "));
            continue;
        }
        let name = words[1];
        if has_spaces(name) {
            errors.push_str(&format!(
                "'{path}:{linenum}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.iter().any(|u| u.name == name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {linenum}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let mut u = User::new(name, all_channels);
        let ops = match merge_selector_args(&words[2..]) {
            Ok(ops) => ops,
            Err(_) => {
                errors.push_str(&format!("{path}:{linenum}: Unmatched parenthesis in selector definition."));
                continue;
            }
        };
        let mut syntax_error = false;
        for op in &ops {
            let op = trim(op, b"\t\r\n");
            match u.apply(op, all_channels) {
                Ok(()) => {}
                Err(RuleError::UnknownCommand) => errors.push_str(&format!(
                    "{path}:{linenum}: Error in applying operation '{}': {}. ",
                    String::from_utf8_lossy(op),
                    RuleError::UnknownCommand
                )),
                // Only the first other error of a line: later ones may be
                // consequences of it.
                Err(e) if !syntax_error => {
                    errors.push_str(&format!("{path}:{linenum}: {e}. "));
                    syntax_error = true;
                }
                Err(_) => {}
            }
        }
        users.push(u);
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str("WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
        Err(errors)
    }
}

/// Writes `lines` (one `user ...` line each) to `path` through a temporary
/// file renamed over it. Failures are logged as Redis logs them.
pub fn save(path: &str, lines: &[String]) -> std::io::Result<()> {
    let mut text = String::new();
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    let tmp = format!("{path}.tmp-{}-{}", std::process::id(), crate::util::clock::unix_ms());
    let result = std::fs::File::create(&tmp)
        .inspect_err(|e| log::warn!("Opening temp ACL file for ACL SAVE: {}", crate::config::strerror(e)))
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .inspect_err(|e| log::warn!("Writing ACL file for ACL SAVE: {}", crate::config::strerror(e)))
        .and_then(|()| std::fs::rename(&tmp, path))
        .inspect_err(|e| log::warn!("Renaming ACL file for ACL SAVE: {}", crate::config::strerror(e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn trim<'a>(s: &'a [u8], set: &[u8]) -> &'a [u8] {
    let start = s.iter().position(|b| !set.contains(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !set.contains(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_redis_test_files() {
        let users = parse(
            b"user alice on allcommands allkeys &* >alice\nuser bob on -@all +@set +acl ~set* &* >bob\n\nuser default on nopass ~* &* +@all\n",
            "user.acl",
            false,
        )
        .unwrap();
        assert_eq!(users.len(), 3);
        let sel = parse(b"user bob on (+set %W~w*) (+get %R~r*)", "s.acl", false).unwrap();
        assert_eq!(sel[0].selectors.len(), 3);
        assert_eq!(sel[0].selectors[1].keys_text(), "%W~w*");
    }

    #[test]
    fn errors_reject_the_file() {
        let e = parse(b"user alice on\nuser alice off\n", "f.acl", false).unwrap_err();
        assert!(e.contains("WARNING: Duplicate user 'alice' found on line 2. "), "{e}");
        assert!(e.ends_with("no change to the previously active ACL rules was performed"));
        let e = parse(b"# comment\n", "f.acl", false).unwrap_err();
        assert!(e.starts_with("f.acl:1 should start with user keyword"), "{e}");
        let e = parse(b"user x +nosuch bad", "f.acl", false).unwrap_err();
        assert!(e.contains("f.acl:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. "));
        assert!(e.contains("f.acl:1: Syntax error. "));
        let e = load("/nonexistent/dir/x.acl", false).unwrap_err();
        assert_eq!(e, "Error loading ACLs, opening file '/nonexistent/dir/x.acl': No such file or directory");
    }

    #[test]
    fn random_files_never_panic() {
        let mut x: u64 = 7;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"user \n()~&%RW+-@>#<!*abcon\t";
        for _ in 0..2_000 {
            let len = (next() % 80) as usize;
            let text: Vec<u8> = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            let _ = parse(&text, "fuzz.acl", next() % 2 == 0);
        }
    }
}
