//! The slow log: the most recent commands that ran for at least
//! `slowlog-log-slower-than` microseconds (negative disables it, 0 logs
//! everything), newest first, at most `slowlog-max-len` of them.
//!
//! Owns the entries and the id counter (which SLOWLOG RESET does not
//! rewind). Each entry copies what Redis 7.0 keeps: at most 32 arguments,
//! the last one replaced by `... (N more arguments)` when there were more,
//! strings longer than 128 bytes cut with `... (N more bytes)`, the client's
//! address and name. Secrets never reach it: the arguments Redis redacts
//! (AUTH, HELLO AUTH, ACL SETUSER, MIGRATE AUTH/AUTH2, CONFIG SET of a
//! sensitive directive) are stored as `(redacted)`.
//!
//! It must not time commands or decide which ones are logged: `latency`
//! calls [`SlowLog::push_if_needed`] for every finished command that is not
//! flagged `skip_slowlog`.

use std::collections::VecDeque;

use bytes::Bytes;

/// Arguments kept per entry.
const MAX_ARGS: usize = 32;
/// Bytes kept per argument.
const MAX_ARG_LEN: usize = 128;
/// What a redacted argument becomes.
// COMPAT: Redis's placeholder for redacted arguments.
const REDACTED: &[u8] = b"(redacted)";

/// One logged command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Unique, increasing id.
    pub id: u64,
    /// Unix time (seconds) when it was logged.
    pub time: i64,
    /// How long it ran, in microseconds.
    pub duration_us: u64,
    /// The arguments, trimmed and redacted.
    pub argv: Vec<Bytes>,
    /// The client's address (`ip:port`).
    pub peer: String,
    /// The client's name, empty if none.
    pub name: Bytes,
}

/// The slow log itself.
#[derive(Debug, Default)]
pub struct SlowLog {
    /// Newest first.
    entries: VecDeque<Entry>,
    next_id: u64,
}

impl SlowLog {
    /// Logs a command of `duration_us` if it reaches `threshold_us`
    /// (negative: never), then trims the log to `max_len` entries.
    /// `fullname` is the command's table name (`config|set`), used to find
    /// the arguments to redact.
    #[allow(clippy::too_many_arguments)]
    pub fn push_if_needed(
        &mut self,
        threshold_us: i64,
        max_len: usize,
        fullname: &str,
        argv: &[Bytes],
        duration_us: u64,
        peer: &str,
        name: Option<&[u8]>,
    ) {
        if threshold_us < 0 {
            return;
        }
        if duration_us >= threshold_us as u64 {
            let entry = Entry {
                id: self.next_id,
                time: crate::util::clock::unix_ms() / 1000,
                duration_us,
                argv: trim_args(argv, &redacted_positions(fullname, argv)),
                peer: peer.to_string(),
                name: name.map(Bytes::copy_from_slice).unwrap_or_default(),
            };
            self.next_id += 1;
            self.entries.push_front(entry);
        }
        self.entries.truncate(max_len);
    }

    /// The newest `count` entries (all when `None`), newest first.
    pub fn newest(&self, count: Option<usize>) -> impl Iterator<Item = &Entry> {
        self.entries.iter().take(count.unwrap_or(usize::MAX))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops every entry (ids keep counting).
    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

/// The stored form of `argv`: redacted positions replaced, long strings cut,
/// and at most 32 arguments, the last of which then says how many more
/// there were.
pub fn trim_args(argv: &[Bytes], redact: &[usize]) -> Vec<Bytes> {
    let kept = argv.len().min(MAX_ARGS);
    let mut out = Vec::with_capacity(kept);
    for (j, arg) in argv.iter().take(kept).enumerate() {
        if kept != argv.len() && j == kept - 1 {
            // COMPAT: the marker for dropped arguments.
            out.push(Bytes::from(format!("... ({} more arguments)", argv.len() - kept + 1)));
        } else if redact.contains(&j) {
            out.push(Bytes::from_static(REDACTED));
        } else if arg.len() > MAX_ARG_LEN {
            let mut s = arg[..MAX_ARG_LEN].to_vec();
            // COMPAT: the marker for a cut argument.
            s.extend_from_slice(format!("... ({} more bytes)", arg.len() - MAX_ARG_LEN).as_bytes());
            out.push(Bytes::from(s));
        } else {
            out.push(arg.clone());
        }
    }
    out
}

/// Positions of `argv` that carry secrets for command `fullname`, as the
/// commands themselves mark them in Redis 7.0.
pub fn redacted_positions(fullname: &str, argv: &[Bytes]) -> Vec<usize> {
    let is = |i: usize, w: &str| argv.get(i).is_some_and(|a| a.eq_ignore_ascii_case(w.as_bytes()));
    match fullname {
        "auth" => (1..argv.len()).collect(),
        "acl|setuser" => (2..argv.len()).collect(),
        "hello" => {
            // HELLO protover [AUTH user pass] [SETNAME name]
            let mut out = Vec::new();
            let mut j = 2;
            while j < argv.len() {
                if is(j, "auth") && j + 2 < argv.len() {
                    out.extend([j + 1, j + 2]);
                    j += 3;
                } else if is(j, "setname") {
                    j += 2;
                } else {
                    break;
                }
            }
            out
        }
        "migrate" => {
            // MIGRATE host port key db timeout [COPY] [REPLACE] [AUTH pass |
            // AUTH2 user pass] [KEYS key ...]
            let mut out = Vec::new();
            let mut j = 6;
            while j < argv.len() {
                if is(j, "auth") {
                    out.push(j + 1);
                    j += 2;
                } else if is(j, "auth2") {
                    out.extend([j + 1, j + 2]);
                    j += 3;
                } else if is(j, "keys") {
                    break;
                } else {
                    j += 1;
                }
            }
            out.retain(|&p| p < argv.len());
            out
        }
        "config|set" => (2..argv.len())
            .step_by(2)
            .filter(|&i| i + 1 < argv.len() && crate::config::is_sensitive(&argv[i]))
            .map(|i| i + 1)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    fn text(v: &[Bytes]) -> String {
        v.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn threshold_length_and_ids() {
        let mut log = SlowLog::default();
        log.push_if_needed(-1, 10, "ping", &args(&["ping"]), 5_000_000, "1.2.3.4:5", None);
        assert!(log.is_empty());
        log.push_if_needed(100, 10, "ping", &args(&["ping"]), 99, "a:1", None);
        assert!(log.is_empty());
        for i in 0..5 {
            log.push_if_needed(0, 3, "ping", &args(&["ping"]), i, "a:1", Some(b"me"));
        }
        assert_eq!(log.len(), 3);
        let ids: Vec<u64> = log.newest(None).map(|e| e.id).collect();
        assert_eq!(ids, vec![4, 3, 2]);
        assert_eq!(log.newest(Some(1)).next().unwrap().name, Bytes::from_static(b"me"));
        log.reset();
        assert_eq!(log.len(), 0);
        log.push_if_needed(0, 3, "ping", &args(&["ping"]), 0, "a:1", None);
        assert_eq!(log.newest(None).next().unwrap().id, 5);
        // A smaller max-len applies at the next push.
        log.push_if_needed(0, 0, "ping", &args(&["ping"]), 0, "a:1", None);
        assert!(log.is_empty());
    }

    #[test]
    fn trims_like_redis() {
        let mut many = vec!["sadd".to_string(), "set".to_string()];
        many.extend((3..=33).map(|i| i.to_string()));
        let many: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
        let t = trim_args(&args(&many), &[]);
        assert_eq!(t.len(), 32);
        assert_eq!(&t[31][..], b"... (2 more arguments)");
        assert_eq!(&t[30][..], b"31");
        let long = "A".repeat(129);
        let t = trim_args(&args(&["sadd", "set", "foo", &long]), &[]);
        assert_eq!(t[3], Bytes::from(format!("{}... (1 more bytes)", "A".repeat(128))));
        let t = trim_args(&args(&["x"; 32]), &[]);
        assert_eq!(t, args(&["x"; 32]));
    }

    #[test]
    fn redacts_secrets() {
        let r = |cmd: &str, words: &[&str]| text(&trim_args(&args(words), &redacted_positions(cmd, &args(words))));
        assert_eq!(r("auth", &["auth", "u", "p"]), "auth (redacted) (redacted)");
        assert_eq!(
            r("acl|setuser", &["acl", "setuser", "bob", "+get", "+set"]),
            "acl setuser (redacted) (redacted) (redacted)"
        );
        assert_eq!(
            r("hello", &["hello", "3", "AUTH", "u", "p", "SETNAME", "n"]),
            "hello 3 AUTH (redacted) (redacted) SETNAME n"
        );
        assert_eq!(r("migrate", &["migrate", "h", "1", "key", "9", "5000"]), "migrate h 1 key 9 5000");
        assert_eq!(
            r("migrate", &["migrate", "h", "1", "key", "9", "5000", "AUTH", "user"]),
            "migrate h 1 key 9 5000 AUTH (redacted)"
        );
        assert_eq!(
            r("migrate", &["migrate", "h", "1", "", "9", "5000", "COPY", "AUTH2", "u", "p", "KEYS", "AUTH"]),
            "migrate h 1  9 5000 COPY AUTH2 (redacted) (redacted) KEYS AUTH"
        );
        assert_eq!(r("migrate", &["migrate", "h", "1", "k", "9", "5000", "AUTH"]), "migrate h 1 k 9 5000 AUTH");
        assert_eq!(
            r("config|set", &["config", "set", "masterauth", "", "maxmemory", "1"]),
            "config set masterauth (redacted) maxmemory 1"
        );
        assert_eq!(r("get", &["get", "k"]), "get k");
    }

    #[test]
    fn random_argv_never_panics() {
        let mut rng = Rng::with_seed(0x510e_1009);
        let names = ["auth", "hello", "migrate", "config|set", "acl|setuser", "get"];
        let words = ["auth", "AUTH2", "keys", "setname", "masterauth", "x", ""];
        let mut log = SlowLog::default();
        for _ in 0..5_000 {
            let n = rng.below(40) as usize;
            let argv: Vec<Bytes> = (0..n)
                .map(|_| {
                    if rng.below(3) == 0 {
                        Bytes::copy_from_slice(words[rng.below(words.len() as u64) as usize].as_bytes())
                    } else {
                        let len = rng.below(200) as usize;
                        Bytes::from((0..len).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>())
                    }
                })
                .collect();
            let name = names[rng.below(names.len() as u64) as usize];
            log.push_if_needed(0, 16, name, &argv, rng.below(10), "p:1", None);
            let e = log.newest(Some(1)).next().unwrap();
            assert!(e.argv.len() <= MAX_ARGS);
            assert!(e.argv.iter().all(|a| a.len() <= MAX_ARG_LEN + 32));
        }
        assert_eq!(log.len(), 16);
    }
}
