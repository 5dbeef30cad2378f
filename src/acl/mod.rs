//! Access control lists (Redis 7.0 ACL): users, their passwords and
//! selectors, the permission check every command passes, the ACL LOG, the
//! ACL file, and the start-up loading of users from redis.conf.
//!
//! Owns: the set of users ([`Acl`]) and the decisions "may this client run
//! this command line" and "do these credentials authenticate". Must not:
//! parse ACL subcommands (that is `cmd::acl`) or reach sockets: clients that
//! lose their user are closed through the server's deferred close.
//!
//! Mirrors Redis 7.0 `acl.c`: rules are applied to a copy of a user and
//! committed only if all succeed; a deleted user's clients are closed; a
//! user whose channel permissions shrink loses its subscribers that are no
//! longer allowed; ACL LOAD replaces every user at once (closing clients of
//! the replaced users) or changes nothing. The command universe is Redis's
//! full command table ([`catalog`]), independent of which commands Viator
//! implements or renames.
//!
//! ```text
//! check_command(server, client, cmd)      server::check_command, EXEC re-check
//!   └─ Acl::check(user, catalog id, argv)  first selector that allows wins,
//!        └─ Selector::check                  else the most relevant refusal
//! authenticate(server, client, user, pass)  AUTH, HELLO ... AUTH
//! set_user / delete_users / load_file       ACL SETUSER / DELUSER / LOAD
//! ```

pub mod catalog;
pub mod file;
pub mod keys;
pub mod log;
pub mod selector;
pub mod sha256;
pub mod user;

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;

use crate::client::reply::ReplyError;
use crate::client::Client;
use crate::cmd::table::CommandTable;
use crate::config::AclPubsubDefault;
use crate::server::Server;
use catalog::catalog;
use log::{Context, Entry, Reason};
use selector::{Denied, KeyCache};
use user::User;

/// A handle on a user, stable while the user exists. Clients keep one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(pub usize);

/// The `default` user, which always exists.
pub const DEFAULT_USER: UserId = UserId(0);

/// Why an ACL rule was refused (Redis's errno codes in `ACLSetUser`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// Not a rule, or a bad pattern (EINVAL).
    Syntax,
    /// Unknown command or category (ENOENT).
    UnknownCommand,
    /// A key pattern after `allkeys` (EEXIST).
    KeyAfterAll,
    /// A channel pattern after `allchannels` (EISDIR).
    ChannelAfterAll,
    /// `<pass` / `!hash` of a password the user does not have (ENODEV).
    NoSuchPassword,
    /// `#hash` / `!hash` that is not 64 lowercase hex characters (EBADMSG).
    BadHash,
    /// The same user twice in the config file (EALREADY).
    DuplicateUser,
    /// `+container|sub|arg` (ECHILD).
    SubcommandFirstArg,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // COMPAT: ACLSetUserStringError's texts.
        f.write_str(match self {
            RuleError::Syntax => "Syntax error",
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::KeyAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::DuplicateUser => "Duplicate user found. A user can only be defined once in config files",
            RuleError::SubcommandFirstArg => "Allowing first-arg of a subcommand is not supported",
        })
    }
}

/// Every user, and the log of refusals.
pub struct Acl {
    /// Users by id; `None` for a deleted user's free slot.
    users: Vec<Option<User>>,
    /// Names to ids, in byte order (ACL LIST / USERS / SAVE order).
    names: BTreeMap<Vec<u8>, UserId>,
    /// ACL LOG.
    pub log: log::AclLog,
    /// Command table index to catalog id (`usize::MAX`: not in the catalog).
    table_ids: Vec<usize>,
}

impl Acl {
    /// Only the `default` user (on, nopass, everything allowed).
    pub fn new(table: &CommandTable) -> Acl {
        let cat = catalog();
        let table_ids = table.cmds.iter().map(|c| cat.lookup(c.fullname.as_bytes()).unwrap_or(usize::MAX)).collect();
        let mut names = BTreeMap::new();
        names.insert(b"default".to_vec(), DEFAULT_USER);
        Acl { users: vec![Some(User::new_default())], names, log: Default::default(), table_ids }
    }

    /// The user behind `id`.
    pub fn user(&self, id: UserId) -> Option<&User> {
        self.users.get(id.0).and_then(|u| u.as_ref())
    }

    /// The user named `name`.
    pub fn lookup(&self, name: &[u8]) -> Option<UserId> {
        self.names.get(name).copied()
    }

    /// Users in name order.
    pub fn users(&self) -> impl Iterator<Item = (UserId, &User)> {
        self.names.values().filter_map(|&id| self.user(id).map(|u| (id, u)))
    }

    fn default_user(&self) -> &User {
        // The default user is never removed; a fresh one stands in otherwise.
        self.users.first().and_then(|u| u.as_ref()).expect("the default user always exists")
    }

    /// Whether clients must authenticate before running commands: the
    /// default user has passwords or is off.
    pub fn auth_required(&self) -> bool {
        let d = self.default_user();
        !d.nopass() || !d.enabled()
    }

    /// The user `name` if `password` authenticates it and it is on.
    pub fn check_credentials(&self, name: &[u8], password: &[u8]) -> Option<UserId> {
        let id = self.lookup(name)?;
        let u = self.user(id)?;
        (u.enabled() && u.password_ok(password)).then_some(id)
    }

    /// The catalog id of command-table entry `table_idx`.
    pub fn catalog_id(&self, table_idx: usize) -> Option<usize> {
        self.table_ids.get(table_idx).copied().filter(|&i| i != usize::MAX)
    }

    /// Whether user `id` may run catalog command `cmd` with `argv`: the
    /// first selector that allows it wins; otherwise the most relevant
    /// refusal (a key or channel over the command, the later argument over
    /// an earlier one). A missing user may run nothing.
    pub fn check(&self, id: UserId, cmd: usize, argv: &[Bytes]) -> Result<(), Denied> {
        let Some(u) = self.user(id) else { return Err(Denied::Command) };
        let mut cache = KeyCache::default();
        let mut worst = Denied::Command;
        for s in &u.selectors {
            match s.check(cmd, argv, &mut cache) {
                Ok(()) => return Ok(()),
                Err(d) => worst = worst.most_relevant(d),
            }
        }
        Err(worst)
    }

    /// Adds a user, or replaces the one with the same name (keeping its id).
    pub fn install(&mut self, user: User) -> UserId {
        if let Some(id) = self.lookup(&user.name) {
            self.users[id.0] = Some(user);
            return id;
        }
        let slot = match self.users.iter().skip(1).position(|u| u.is_none()) {
            Some(i) => i + 1,
            None => {
                self.users.push(None);
                self.users.len() - 1
            }
        };
        self.names.insert(user.name.clone(), UserId(slot));
        self.users[slot] = Some(user);
        UserId(slot)
    }

    /// Removes a user (never `default`); its id becomes free.
    pub fn remove(&mut self, name: &[u8]) -> Option<UserId> {
        if name == b"default" {
            return None;
        }
        let id = self.names.remove(name)?;
        self.users[id.0] = None;
        Some(id)
    }

    /// Replaces every user (ACL LOAD). The default user keeps its id and
    /// takes the rules of the `default` in `users`, or the built-in ones.
    pub fn replace_all(&mut self, users: Vec<User>) {
        let mut default = User::new_default();
        let mut others = Vec::new();
        for u in users {
            if u.name == b"default" {
                default = u;
            } else {
                others.push(u);
            }
        }
        self.users = vec![Some(default)];
        self.names.clear();
        self.names.insert(b"default".to_vec(), DEFAULT_USER);
        for u in others {
            self.install(u);
        }
    }

    /// `requirepass`: the default user gets exactly this password, or
    /// `nopass` when it is empty.
    pub fn set_default_password(&mut self, password: &[u8]) {
        if let Some(Some(d)) = self.users.first_mut() {
            let _ = d.apply(b"resetpass", false);
            if password.is_empty() {
                let _ = d.apply(b"nopass", false);
            } else {
                let mut op = b">".to_vec();
                op.extend_from_slice(password);
                let _ = d.apply(&op, false);
            }
        }
    }

    /// `<name> <rules>` for every user, in name order: ACL LIST, ACL SAVE
    /// and CONFIG REWRITE print each after `user `.
    pub fn describe_all(&self) -> Vec<String> {
        self.users().map(|(_, u)| format!("{} {}", String::from_utf8_lossy(&u.name), u.describe())).collect()
    }

    /// Whether the default user needs no password (AUTH with one argument
    /// is then an error, and protected mode applies).
    pub fn default_nopass(&self) -> bool {
        self.default_user().nopass()
    }
}

/// `acl-pubsub-default` as "new selectors allow every channel".
pub fn pubsub_all(srv: &Server) -> bool {
    srv.config.acl_pubsub_default == AclPubsubDefault::Allchannels
}

// ------------------------------------------------------------ the check

/// The permission check of `server::check_command`: may `c` run table
/// command `idx` with its argv? Refusals are logged (ACL LOG) and returned
/// as Redis's NOPERM errors.
pub fn check_command(srv: &mut Server, c: &Client, idx: usize) -> Result<(), ReplyError> {
    // Fast path: a user whose root selector allows everything (the default
    // user out of the box) needs no key extraction.
    if srv.acl.user(c.acl_user).is_some_and(|u| u.root().allows_everything()) {
        return Ok(());
    }
    let Some(id) = srv.acl.catalog_id(idx) else { return Ok(()) };
    let ctx = if c.id == crate::script::SCRIPT_CLIENT_ID {
        Context::Lua
    } else if c.flags.multi {
        Context::Multi
    } else {
        Context::Toplevel
    };
    match srv.acl.check(c.acl_user, id, &c.argv) {
        Ok(()) => Ok(()),
        Err(d) => {
            log_denial(srv, c, id, d, ctx);
            // COMPAT: processCommand's NOPERM texts.
            Err(ReplyError::other(match d {
                Denied::Command => {
                    format!("NOPERM this user has no permissions to run the '{}' command", catalog().cmds[id].fullname)
                }
                Denied::Key(_) => {
                    "NOPERM this user has no permissions to access one of the keys used as arguments".into()
                }
                Denied::Channel(_) => {
                    "NOPERM this user has no permissions to access one of the channels used as arguments".into()
                }
            }))
        }
    }
}

/// The check EXEC repeats for each queued command, in case the rules
/// changed since it was queued.
pub fn check_queued(srv: &mut Server, c: &Client, idx: usize) -> Result<(), ReplyError> {
    if srv.acl.user(c.acl_user).is_some_and(|u| u.root().allows_everything()) {
        return Ok(());
    }
    let Some(id) = srv.acl.catalog_id(idx) else { return Ok(()) };
    match srv.acl.check(c.acl_user, id, &c.argv) {
        Ok(()) => Ok(()),
        Err(d) => {
            log_denial(srv, c, id, d, Context::Multi);
            // COMPAT: execCommand's texts.
            let why = match d {
                Denied::Command => "no permission to execute the command or subcommand",
                Denied::Key(_) => "no permission to touch the specified keys",
                Denied::Channel(_) => "no permission to access one of the channels used as arguments",
            };
            Err(ReplyError::other(format!(
                "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {why}"
            )))
        }
    }
}

/// Whether `c` may run the command in its argv and also has `access`
/// (`keys::READ` / `keys::WRITE`) to every key through the same selector.
/// SORT asks this before following BY / GET patterns, which name keys the
/// permission check could not see.
pub fn unrestricted_key_access(srv: &Server, c: &Client, access: u8) -> bool {
    let Some(u) = srv.acl.user(c.acl_user) else { return false };
    let Some(id) = catalog().resolve(&c.argv) else { return false };
    let mut cache = KeyCache::default();
    u.selectors.iter().any(|s| s.check(id, &c.argv, &mut cache).is_ok() && s.unrestricted_keys(access))
}

fn log_denial(srv: &mut Server, c: &Client, id: usize, d: Denied, ctx: Context) {
    let (reason, object) = match d {
        Denied::Command => (Reason::Command, catalog().cmds[id].fullname.clone().into_bytes()),
        Denied::Key(p) => (Reason::Key, c.argv.get(p).map(|a| a.to_vec()).unwrap_or_default()),
        Denied::Channel(p) => (Reason::Channel, c.argv.get(p).map(|a| a.to_vec()).unwrap_or_default()),
    };
    let username = c.user.clone().into_bytes();
    add_log(srv, c, reason, ctx, object, username);
}

fn add_log(srv: &mut Server, c: &Client, reason: Reason, context: Context, object: Vec<u8>, username: Vec<u8>) {
    let entry = Entry {
        count: 1,
        reason,
        context,
        object,
        username,
        at_ms: crate::util::clock::unix_ms(),
        client_info: crate::client::mem::info_line(c, srv.clock.now_ms),
    };
    let max = srv.config.acllog_max_len.max(0) as usize;
    srv.acl.log.add(entry, max);
}

// ------------------------------------------------------- authentication

/// Authenticates `c` as `name` with `password` (AUTH, HELLO ... AUTH).
/// A failure is logged with `argv[0]` as the object and gives WRONGPASS.
pub fn authenticate(srv: &mut Server, c: &mut Client, name: &[u8], password: &[u8]) -> Result<(), ReplyError> {
    match srv.acl.check_credentials(name, password) {
        Some(id) => {
            set_client_user(c, id, name);
            c.authenticated = true;
            Ok(())
        }
        None => {
            let ctx = if c.flags.multi { Context::Multi } else { Context::Toplevel };
            let object = c.argv.first().map(|a| a.to_vec()).unwrap_or_default();
            add_log(srv, c, Reason::Auth, ctx, object, name.to_vec());
            Err(ReplyError::WrongPass)
        }
    }
}

/// Back to the default user, authenticated only if it needs no password
/// (new connections, RESET).
pub fn reset_client_user(srv: &Server, c: &mut Client) {
    set_client_user(c, DEFAULT_USER, b"default");
    c.authenticated = !srv.acl.auth_required();
}

fn set_client_user(c: &mut Client, id: UserId, name: &[u8]) {
    c.acl_user = id;
    c.user = String::from_utf8_lossy(name).into_owned();
}

/// Closes every client `doomed` picks (the current one after its reply),
/// first moving it to the unauthenticated default user so it can do
/// nothing meanwhile.
fn close_clients(srv: &mut Server, current: &mut Client, doomed: impl Fn(&Client) -> bool) {
    let mut victims = Vec::new();
    for (key, slot) in srv.clients.iter_mut() {
        if let Some(other) = slot {
            if doomed(other) {
                set_client_user(other, DEFAULT_USER, b"default");
                other.authenticated = false;
                victims.push(key);
            }
        }
    }
    for key in victims {
        srv.kill_client(key);
    }
    if doomed(current) {
        set_client_user(current, DEFAULT_USER, b"default");
        current.authenticated = false;
        current.flags.close_after_reply = true;
    }
}

// ----------------------------------------------------- user management

/// ACL SETUSER: applies `rules` to user `name` (created if missing), all or
/// nothing. Subscribers of that user whose channels are no longer allowed
/// are closed. Errors are the full reply texts.
pub fn set_user(srv: &mut Server, current: &mut Client, name: &[u8], rules: &[Bytes]) -> Result<(), String> {
    let merged = user::merge_selector_args(rules).map_err(|i| {
        // COMPAT: ACLStringSetUser's text.
        format!("ERR Unmatched parenthesis in acl selector starting at '{}'.", String::from_utf8_lossy(&rules[i]))
    })?;
    let all = pubsub_all(srv);
    let existing = srv.acl.lookup(name);
    let mut next = match existing.and_then(|id| srv.acl.user(id)) {
        Some(u) => u.clone(),
        None => User::new(name, all),
    };
    for op in &merged {
        next.apply(op, all)
            .map_err(|e| format!("ERR Error in ACL SETUSER modifier '{}': {e}", String::from_utf8_lossy(op)))?;
    }
    if let Some(id) = existing {
        if let Some(old) = srv.acl.user(id) {
            if let Some(allowed) = shrunk_channels(old, &next) {
                close_clients(srv, current, |c| c.acl_user == id && c.subs.count() > 0 && !subs_allowed(c, &allowed));
            }
        }
    }
    srv.acl.install(next);
    Ok(())
}

/// The channel patterns of `new` when they no longer cover those of `old`
/// (so subscribers must be re-checked), `None` when nothing was taken away.
fn shrunk_channels(old: &User, new: &User) -> Option<Vec<Vec<u8>>> {
    if new.selectors.iter().any(|s| s.all_channels()) {
        return None;
    }
    let upcoming: Vec<Vec<u8>> = new.selectors.iter().flat_map(|s| s.channel_patterns().iter().cloned()).collect();
    let covered =
        old.selectors.iter().all(|s| !s.all_channels() && s.channel_patterns().iter().all(|p| upcoming.contains(p)));
    (!covered).then_some(upcoming)
}

fn subs_allowed(c: &Client, allowed: &[Vec<u8>]) -> bool {
    c.subs.patterns.iter().all(|p| selector::channel_in(allowed, p, true))
        && c.subs.channels.iter().all(|ch| selector::channel_in(allowed, ch, false))
        && c.subs.shard.iter().all(|ch| selector::channel_in(allowed, ch, false))
}

/// ACL DELUSER: removes the named users and closes their clients. Returns
/// how many existed. `default` cannot be removed (checked by the caller).
pub fn delete_users(srv: &mut Server, current: &mut Client, names: &[Bytes]) -> usize {
    let mut deleted = 0;
    for name in names {
        if let Some(id) = srv.acl.remove(name) {
            deleted += 1;
            close_clients(srv, current, |c| c.acl_user == id);
        }
    }
    deleted
}

/// ACL LOAD: reads the ACL file and, if it is valid, replaces every user;
/// clients of the replaced (non-default) users are closed.
pub fn load_file(srv: &mut Server, current: &mut Client) -> Result<(), String> {
    let users = file::load(&srv.config.aclfile, pubsub_all(srv))?;
    srv.acl.replace_all(users);
    close_clients(srv, current, |c| c.acl_user != DEFAULT_USER);
    Ok(())
}

/// `requirepass` changed (CONFIG SET): the default user's password follows.
pub fn requirepass_changed(srv: &mut Server) {
    let pass = srv.config.requirepass.clone();
    srv.acl.set_default_password(pass.as_bytes());
}

// --------------------------------------------------------------- startup

/// Start-up: `requirepass`, then the `user` lines of the configuration or
/// the ACL file (not both). Errors are fatal and already worded for the log.
pub fn load_at_startup(srv: &mut Server) -> Result<(), String> {
    requirepass_changed(srv);
    let all = pubsub_all(srv);
    if !srv.config.aclfile.is_empty() && !srv.config.users.is_empty() {
        // COMPAT: ACLLoadUsersAtStartup's text.
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
    }
    for words in srv.config.users.clone() {
        let Some((name, rules)) = words.split_first() else { continue };
        let critical = || "Critical error while loading ACLs. Exiting.".to_string();
        if selector::has_spaces(name.as_bytes()) {
            ::log::warn!("Spaces not allowed in ACL usernames");
            return Err(critical());
        }
        let mut u = match srv.acl.lookup(name.as_bytes()).and_then(|id| srv.acl.user(id)) {
            Some(existing) => {
                let mut d = existing.clone();
                let _ = d.apply(b"reset", all);
                d
            }
            None => User::new(name.as_bytes(), all),
        };
        let merged = user::merge_selector_args(rules).map_err(|_| critical())?;
        for op in &merged {
            if let Err(e) = u.apply(op, all) {
                ::log::warn!(
                    "Error loading ACL rule '{}' for the user named '{name}': {e}",
                    String::from_utf8_lossy(op)
                );
                return Err(critical());
            }
        }
        if !u.enabled() {
            ::log::info!("The user '{name}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error.");
        }
        srv.acl.install(u);
    }
    if !srv.config.aclfile.is_empty() {
        let users = file::load(&srv.config.aclfile, all)
            .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
        srv.acl.replace_all(users);
    }
    Ok(())
}

/// Checks a `user` directive while the config file is read, as Redis
/// does: a name given twice, or rules with syntax errors, stop start-up
/// (unknown commands are reported later, when users are loaded). `args` is
/// the name then the rules; `earlier` the `user` lines read so far.
pub fn validate_user_directive(args: &[Vec<u8>], earlier: &[Vec<String>], all_channels: bool) -> Result<(), String> {
    let Some((name, rules)) = args.split_first() else { return Ok(()) };
    // COMPAT: Redis names the offending word by its index among the rules
    // but reads it from the whole line (so `user` or the name may appear).
    let line: Vec<&[u8]> = std::iter::once(&b"user"[..]).chain(args.iter().map(|a| a.as_slice())).collect();
    let fail = |i: usize, e: RuleError| {
        let word = line.get(i).map(|w| String::from_utf8_lossy(w).into_owned()).unwrap_or_default();
        format!("Error in user declaration '{word}': {e}")
    };
    if earlier.iter().any(|u| u.first().is_some_and(|n| n.as_bytes() == name.as_slice())) {
        return Err(fail(1, RuleError::DuplicateUser));
    }
    let merged = user::merge_selector_args(rules).map_err(|i| fail(i, RuleError::Syntax))?;
    let mut fake = User::new(name, all_channels);
    for (j, op) in merged.iter().enumerate() {
        match fake.apply(op, all_channels) {
            Ok(()) | Err(RuleError::UnknownCommand) => {}
            Err(e) => return Err(fail(j, e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::BINDINGS;

    fn argv(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    fn acl_with(rules: &[&str]) -> (Acl, UserId) {
        let mut acl = Acl::new(&CommandTable::new(BINDINGS));
        let mut u = User::new(b"u", false);
        for r in user::merge_selector_args(rules).unwrap() {
            u.apply(&r, false).unwrap();
        }
        let id = acl.install(u);
        (acl, id)
    }

    fn check(acl: &Acl, id: UserId, words: &[&str]) -> Result<(), Denied> {
        let line = argv(words);
        acl.check(id, catalog().resolve(&line).unwrap(), &line)
    }

    #[test]
    fn selectors_pick_the_most_relevant_refusal() {
        let (acl, id) = acl_with(&["+mget", "~key", "(+mget", "~key", "~otherkey)"]);
        assert_eq!(check(&acl, id, &["get", "key"]), Err(Denied::Command));
        assert_eq!(check(&acl, id, &["mget", "otherkey", "someotherkey"]), Err(Denied::Key(2)));
        assert_eq!(check(&acl, id, &["mget", "key", "otherkey", "someotherkey"]), Err(Denied::Key(3)));
        assert_eq!(check(&acl, id, &["mget", "key", "otherkey"]), Ok(()));
    }

    #[test]
    fn credentials_and_default_user() {
        let (mut acl, id) = acl_with(&[">pw"]);
        assert_eq!(acl.check_credentials(b"u", b"pw"), None, "new users are off");
        assert!(!acl.auth_required());
        acl.set_default_password(b"secret");
        assert!(acl.auth_required());
        assert_eq!(acl.check_credentials(b"default", b"secret"), Some(DEFAULT_USER));
        assert_eq!(acl.remove(b"default"), None);
        assert_eq!(acl.remove(b"u"), Some(id));
        assert_eq!(acl.lookup(b"u"), None);
        // A freed slot is reused.
        let again = acl.install(User::new(b"v", false));
        assert_eq!(again, id);
        acl.replace_all(vec![User::new(b"z", false)]);
        assert_eq!(
            acl.users().map(|(_, u)| u.name.clone()).collect::<Vec<_>>(),
            vec![b"default".to_vec(), b"z".to_vec()]
        );
        assert!(!acl.auth_required(), "a file without default gets the built-in one");
    }

    #[test]
    fn config_user_directives() {
        let w = |s: &[&str]| s.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
        assert!(validate_user_directive(&w(&["foo", "on", "+nosuchcmd"]), &[], false).is_ok());
        let dup = validate_user_directive(&w(&["foo"]), &[vec!["foo".into()]], false).unwrap_err();
        assert_eq!(
            dup,
            "Error in user declaration 'foo': Duplicate user found. A user can only be defined once in config files"
        );
        assert!(validate_user_directive(&w(&["foo", "bad"]), &[], false).unwrap_err().contains("Syntax error"));
    }
}
