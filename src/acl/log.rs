//! The ACL LOG: recent refusals (command, key, channel, authentication),
//! newest first, with similar events folded into one entry.
//!
//! Owns: the entries and their merging rule. Must not: decide what is
//! refused. Mirrors Redis 7.0 `acl.c` `addACLLogEntry` and the ACL LOG reply:
//! an event updates an entry among the 10 newest when reason, context,
//! object and user are equal and the entry is at most 60 s old; otherwise it
//! is added in front and the log is trimmed to `acllog-max-len`.

use std::collections::VecDeque;

/// Why something was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The command or subcommand.
    Command,
    /// A key.
    Key,
    /// A channel.
    Channel,
    /// Wrong credentials.
    Auth,
}

impl Reason {
    /// COMPAT: the `reason` field's values.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// Where the refused command ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Sent by the client.
    Toplevel,
    /// Inside MULTI / EXEC.
    Multi,
    /// From a script.
    Lua,
}

impl Context {
    /// COMPAT: the `context` field's values.
    pub fn as_str(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

/// One entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// How many similar events it stands for.
    pub count: u64,
    /// Why.
    pub reason: Reason,
    /// Where.
    pub context: Context,
    /// The command name, key, channel, or the AUTH/HELLO word.
    pub object: Vec<u8>,
    /// The user the client was authenticated as (or tried to become).
    pub username: Vec<u8>,
    /// Unix ms of the last event.
    pub at_ms: i64,
    /// CLIENT LIST line of the last client involved.
    pub client_info: String,
}

/// Events at most this far apart (ms) may fold into one entry.
const GROUPING_MAX_DELTA_MS: i64 = 60_000;
/// How many of the newest entries are compared with a new event.
const GROUPING_SCAN: usize = 10;

/// The log, newest entry first.
#[derive(Debug, Default)]
pub struct AclLog {
    entries: VecDeque<Entry>,
}

impl AclLog {
    /// Records an event (`count` is ignored: it starts at 1), keeping at most
    /// `max_len` entries.
    pub fn add(&mut self, mut e: Entry, max_len: usize) {
        let similar = |old: &Entry| {
            old.reason == e.reason
                && old.context == e.context
                && (old.at_ms - e.at_ms).abs() <= GROUPING_MAX_DELTA_MS
                && old.object == e.object
                && old.username == e.username
        };
        if let Some(i) = self.entries.iter().take(GROUPING_SCAN).position(similar) {
            if let Some(mut old) = self.entries.remove(i) {
                old.count += 1;
                old.at_ms = e.at_ms;
                old.client_info = e.client_info;
                self.entries.push_front(old);
            }
            return;
        }
        e.count = 1;
        self.entries.push_front(e);
        self.entries.truncate(max_len);
    }

    /// Forgets every entry (ACL LOG RESET).
    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// Entries, newest first.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(object: &str, at_ms: i64) -> Entry {
        Entry {
            count: 0,
            reason: Reason::Command,
            context: Context::Toplevel,
            object: object.as_bytes().to_vec(),
            username: b"u".to_vec(),
            at_ms,
            client_info: format!("at={at_ms}"),
        }
    }

    #[test]
    fn similar_events_fold_and_move_to_front() {
        let mut log = AclLog::default();
        log.add(ev("get", 0), 128);
        log.add(ev("set", 1), 128);
        log.add(ev("get", 2), 128);
        assert_eq!(log.len(), 2);
        let first = log.entries().next().unwrap();
        assert_eq!((first.object.as_slice(), first.count, first.client_info.as_str()), (&b"get"[..], 2, "at=2"));
        // Too old to fold.
        log.add(ev("get", 2 + GROUPING_MAX_DELTA_MS + 1), 128);
        assert_eq!(log.len(), 3);
    }

    #[test]
    fn trimmed_to_max_len() {
        let mut log = AclLog::default();
        for i in 0..10 {
            log.add(ev(&format!("k{i}"), i), 5);
        }
        assert_eq!(log.len(), 5);
        assert_eq!(log.entries().next().unwrap().object, b"k9");
        log.reset();
        assert!(log.is_empty());
    }
}
