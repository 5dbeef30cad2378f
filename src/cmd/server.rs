//! Server commands: INFO, TIME, LASTSAVE, SHUTDOWN, CONFIG, COMMAND and DEBUG.
//!
//! CONFIG delegates parsing and validation to `config` and applies the side
//! effects here (hz, logging, notification classes). COMMAND renders the
//! table exactly in Redis 7.0's reply shapes so cluster clients can route.

use super::args;
use super::spec::{BeginSearch, CmdFlags, FindKeys};
use super::table::Command;
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::config::ShutdownFlags;
use crate::server::Server;

/// INFO [section ...].
pub fn info(srv: &mut Server, c: &mut Client) -> CmdResult {
    let sections: Vec<String> = c.argv[1..].iter().map(|a| String::from_utf8_lossy(a).to_lowercase()).collect();
    let text = crate::info::render(srv, c, &sections);
    c.reply.verbatim(text.as_bytes(), "txt");
    Ok(())
}

/// TIME: [unix seconds, microseconds].
pub fn time(_srv: &mut Server, c: &mut Client) -> CmdResult {
    let us = crate::util::clock::unix_us();
    c.reply.array(2);
    c.reply.bulk(format!("{}", us / 1_000_000).as_bytes());
    c.reply.bulk(format!("{}", us % 1_000_000).as_bytes());
    Ok(())
}

/// LASTSAVE.
pub fn lastsave(srv: &mut Server, c: &mut Client) -> CmdResult {
    c.reply.int(srv.lastsave_secs);
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT].
pub fn shutdown(srv: &mut Server, c: &mut Client) -> CmdResult {
    let (mut nosave, mut save, mut abort) = (false, false, false);
    let mut flags = ShutdownFlags::DEFAULT;
    for i in 1..c.argc() {
        let a = c.arg(i);
        if args::is(a, "nosave") {
            nosave = true;
            flags.0 |= ShutdownFlags::NOSAVE.0;
        } else if args::is(a, "save") {
            save = true;
            flags.0 |= ShutdownFlags::SAVE.0;
        } else if args::is(a, "now") {
            flags.0 |= ShutdownFlags::NOW.0;
        } else if args::is(a, "force") {
            flags.0 |= ShutdownFlags::FORCE.0;
        } else if args::is(a, "abort") {
            abort = true;
        } else {
            return Err(ReplyError::Syntax);
        }
    }
    if (abort && c.argc() != 2) || (nosave && save) {
        return Err(ReplyError::Syntax);
    }
    if abort {
        if crate::shutdown::abort(srv) {
            c.reply.ok();
            return Ok(());
        }
        return Err(ReplyError::err("No shutdown in progress."));
    }
    if !nosave {
        // A timed-out script: only SHUTDOWN NOSAVE may end the server.
        if let Some(e) = crate::script::busy_error(srv) {
            return Err(e);
        }
    }
    // The caller waits (blocked) while the shutdown waits for replicas.
    crate::shutdown::block_caller(srv, c);
    match crate::shutdown::prepare(srv, flags) {
        crate::shutdown::Outcome::Exit => {
            srv.unblock_client(c);
            srv.exit_code = Some(0);
            // The caller gets no reply: the connection just closes, as in Redis.
            c.flags.close_asap = true;
            Ok(())
        }
        crate::shutdown::Outcome::Waiting => Ok(()),
        crate::shutdown::Outcome::Failed => {
            srv.unblock_client(c);
            Err(ReplyError::err("Errors trying to SHUTDOWN. Check logs."))
        }
    }
}

// ------------------------------------------------------------------ CONFIG

/// CONFIG GET parameter [parameter ...].
pub fn config_get(srv: &mut Server, c: &mut Client) -> CmdResult {
    let pats: Vec<&[u8]> = c.argv[2..].iter().map(|a| &a[..]).collect();
    let pairs = srv.config.get(&pats);
    c.reply.map(pairs.len());
    for (k, v) in pairs {
        c.reply.bulk(k.as_bytes());
        c.reply.bulk(v.as_bytes());
    }
    Ok(())
}

/// CONFIG SET parameter value [parameter value ...]: all or nothing.
pub fn config_set(srv: &mut Server, c: &mut Client) -> CmdResult {
    if !c.argc().is_multiple_of(2) {
        return Err(ReplyError::WrongArity("config|set".into()));
    }
    let pairs: Vec<(&[u8], &[u8])> = c.argv[2..].chunks(2).map(|p| (&p[0][..], &p[1][..])).collect();
    let before = srv.config.clone();
    let loading = srv.persist.loading || crate::repl::replica::async_loading(srv);
    let ctx = crate::config::SetContext { local: c.stream.is_local(), loading };
    let changed = srv.config.set_from(&pairs, ctx).map_err(ReplyError::Other)?;
    if let Err(e) = apply_config(srv, &changed) {
        srv.config = before;
        let _ = apply_config(srv, &changed);
        return Err(e);
    }
    c.reply.ok();
    Ok(())
}

/// Applies side effects of changed parameters.
fn apply_config(srv: &mut Server, changed: &[&'static str]) -> CmdResult {
    for name in changed {
        match *name {
            "loglevel" | "logfile" => crate::logging::configure(srv.config.loglevel, &srv.config.logfile),
            "notify-keyspace-events" => srv.ks.notify_flags = srv.config.notify_keyspace_events,
            "requirepass" => crate::acl::requirepass_changed(srv),
            "crash-log-enabled" => crate::crash::set_enabled(srv.config.crash_log_enabled),
            "proc-title-template" => srv.set_proc_title(),
            "maxmemory"
            | "maxmemory-policy"
            | "lfu-log-factor"
            | "lfu-decay-time"
            | "lazyfree-lazy-expire"
            | "lazyfree-lazy-server-del" => crate::evict::apply_config(srv, name),
            "appendonly" | "aof-disable-auto-gc" => crate::persist::aof::config_changed(srv, name)?,
            "oom-score-adj" | "oom-score-adj-values" => {
                srv.apply_oom_score().map_err(|why| {
                    ReplyError::err(format!("CONFIG SET failed (possibly related to argument '{name}') - {why}"))
                })?
            }
            "port" | "bind" => {
                if let Err(e) = srv.rebind_tcp() {
                    log::warn!("Failed to rebind: {e}");
                    // COMPAT: Redis's CONFIG SET texts for these two.
                    let why = if *name == "port" {
                        "Unable to listen on this port. Check server logs."
                    } else {
                        "Failed to bind to specified addresses."
                    };
                    return Err(ReplyError::err(format!(
                        "CONFIG SET failed (possibly related to argument '{name}') - {why}"
                    )));
                }
            }
            n if n.starts_with("cluster-") => crate::cluster::config_changed(srv, n),
            "repl-backlog-size" => {
                let size = srv.config.repl_backlog_size.max(16 * 1024) as usize;
                if let Some(b) = srv.repl.backlog.as_mut() {
                    b.resize(size);
                }
            }
            "dir" => {
                if let Err(e) = std::env::set_current_dir(&srv.config.dir) {
                    return Err(ReplyError::err(format!(
                        "CONFIG SET failed (possibly related to argument 'dir') - {}",
                        e.to_string().split(" (os error").next().unwrap_or("")
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// CONFIG REWRITE.
pub fn config_rewrite(srv: &mut Server, c: &mut Client) -> CmdResult {
    let Some(path) = srv.config_file.clone() else {
        return Err(ReplyError::err("The server is running without a config file"));
    };
    let users = srv.acl.describe_all();
    let hooks = crate::config::RewriteHooks { users: Some(&users), ..Default::default() };
    match srv.config.rewrite_with(&path, hooks) {
        Ok(()) => {
            log::info!("CONFIG REWRITE executed with success.");
            c.reply.ok();
            Ok(())
        }
        Err(e) => {
            log::warn!("CONFIG REWRITE failed: {e}");
            Err(ReplyError::err(format!("Rewriting config file: {e}")))
        }
    }
}

/// CONFIG RESETSTAT.
pub fn config_resetstat(srv: &mut Server, c: &mut Client) -> CmdResult {
    crate::info::reset_stats(srv);
    srv.evict.reset_stats();
    srv.ks.lazyfree.reset_stats();
    c.reply.ok();
    Ok(())
}

/// CONFIG HELP.
pub fn config_help(_srv: &mut Server, c: &mut Client) -> CmdResult {
    super::help_reply(
        c,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

// ----------------------------------------------------------------- COMMAND

fn reply_command_info(c: &mut Client, srv: &Server, cmd: &Command) {
    c.reply.array(10);
    c.reply.bulk(cmd.fullname.as_bytes());
    c.reply.int(cmd.spec.arity as i64);
    let flags: Vec<&str> = CmdFlags::NAMES.iter().filter(|(f, _)| cmd.flags.has(*f)).map(|(_, n)| *n).collect();
    c.reply.set(flags.len());
    for f in flags {
        c.reply.simple(f);
    }
    c.reply.int(cmd.first_key as i64);
    c.reply.int(cmd.last_key as i64);
    c.reply.int(cmd.key_step as i64);
    c.reply.set(cmd.acl_categories.len());
    for cat in &cmd.acl_categories {
        c.reply.simple(&format!("@{cat}"));
    }
    // Tips are not tracked yet.
    c.reply.set(0);
    c.reply.array(cmd.spec.key_specs.len());
    for ks in cmd.spec.key_specs {
        c.reply.map(3);
        c.reply.bulk(b"flags");
        let names = super::spec::key_flag_names(ks.flags);
        c.reply.set(names.len());
        for f in names {
            c.reply.simple(f);
        }
        c.reply.bulk(b"begin_search");
        c.reply.map(2);
        match ks.begin {
            BeginSearch::Index(i) => {
                c.reply.bulk(b"type");
                c.reply.bulk(b"index");
                c.reply.bulk(b"spec");
                c.reply.map(1);
                c.reply.bulk(b"index");
                c.reply.int(i as i64);
            }
            BeginSearch::Keyword { keyword, start_from } => {
                c.reply.bulk(b"type");
                c.reply.bulk(b"keyword");
                c.reply.bulk(b"spec");
                c.reply.map(2);
                c.reply.bulk(b"keyword");
                c.reply.bulk(keyword.as_bytes());
                c.reply.bulk(b"startfrom");
                c.reply.int(start_from as i64);
            }
            BeginSearch::Unknown => {
                c.reply.bulk(b"type");
                c.reply.bulk(b"unknown");
                c.reply.bulk(b"spec");
                c.reply.map(0);
            }
        }
        c.reply.bulk(b"find_keys");
        c.reply.map(2);
        match ks.find {
            FindKeys::Range { last_key, step, limit } => {
                c.reply.bulk(b"type");
                c.reply.bulk(b"range");
                c.reply.bulk(b"spec");
                c.reply.map(3);
                c.reply.bulk(b"lastkey");
                c.reply.int(last_key as i64);
                c.reply.bulk(b"keystep");
                c.reply.int(step as i64);
                c.reply.bulk(b"limit");
                c.reply.int(limit as i64);
            }
            FindKeys::Keynum { keynum_idx, first_key, step } => {
                c.reply.bulk(b"type");
                c.reply.bulk(b"keynum");
                c.reply.bulk(b"spec");
                c.reply.map(3);
                c.reply.bulk(b"keynumidx");
                c.reply.int(keynum_idx as i64);
                c.reply.bulk(b"firstkey");
                c.reply.int(first_key as i64);
                c.reply.bulk(b"keystep");
                c.reply.int(step as i64);
            }
            FindKeys::Unknown => {
                c.reply.bulk(b"type");
                c.reply.bulk(b"unknown");
                c.reply.bulk(b"spec");
                c.reply.map(0);
            }
        }
    }
    let mut subs: Vec<usize> = cmd.subs.values().copied().collect();
    subs.sort_unstable();
    c.reply.array(subs.len());
    for s in subs {
        reply_command_info(c, srv, &srv.commands.cmds[s]);
    }
}

/// COMMAND: info on every command.
pub fn command(srv: &mut Server, c: &mut Client) -> CmdResult {
    let top: Vec<usize> = (0..srv.commands.cmds.len()).filter(|&i| srv.commands.cmds[i].parent.is_none()).collect();
    c.reply.array(top.len());
    for i in top {
        reply_command_info(c, srv, &srv.commands.cmds[i]);
    }
    Ok(())
}

/// COMMAND COUNT.
pub fn command_count(srv: &mut Server, c: &mut Client) -> CmdResult {
    c.reply.int(srv.commands.top_level().count() as i64);
    Ok(())
}

/// COMMAND INFO [name ...]: null for unknown names.
pub fn command_info(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.argc() == 2 {
        return command(srv, c);
    }
    c.reply.array(c.argc() - 2);
    for i in 2..c.argc() {
        let name = String::from_utf8_lossy(c.arg(i)).to_lowercase();
        match find_by_fullname(srv, &name) {
            Some(idx) => reply_command_info(c, srv, &srv.commands.cmds[idx]),
            None => c.reply.null_array(),
        }
    }
    Ok(())
}

fn find_by_fullname(srv: &Server, name: &str) -> Option<usize> {
    match name.split_once('|') {
        None => srv.commands.lookup_top(name.as_bytes()),
        Some((parent, sub)) => {
            let p = srv.commands.lookup_top(parent.as_bytes())?;
            srv.commands.cmds[p].subs.get(sub).copied()
        }
    }
}

/// COMMAND LIST [FILTERBY MODULE m | ACLCAT c | PATTERN p].
pub fn command_list(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut filter: Option<(String, Vec<u8>)> = None;
    if c.argc() == 5 && args::is(c.arg(2), "filterby") {
        filter = Some((String::from_utf8_lossy(c.arg(3)).to_lowercase(), c.arg(4).to_vec()));
    } else if c.argc() != 2 {
        return Err(ReplyError::Syntax);
    }
    let mut names: Vec<String> = Vec::new();
    for cmd in &srv.commands.cmds {
        let keep = match &filter {
            None => true,
            Some((kind, v)) => match kind.as_str() {
                "module" => false,
                "aclcat" => cmd.acl_categories.iter().any(|cat| cat.as_bytes().eq_ignore_ascii_case(v)),
                "pattern" => crate::util::glob::string_match(v, cmd.fullname.as_bytes(), true),
                _ => return Err(ReplyError::Syntax),
            },
        };
        if keep {
            names.push(cmd.fullname.to_string());
        }
    }
    c.reply.array(names.len());
    for n in names {
        c.reply.bulk(n.as_bytes());
    }
    Ok(())
}

/// COMMAND DOCS [name ...]: group and since per command (summaries are not
/// carried yet).
pub fn command_docs(srv: &mut Server, c: &mut Client) -> CmdResult {
    let idxs: Vec<usize> = if c.argc() == 2 {
        (0..srv.commands.cmds.len()).filter(|&i| srv.commands.cmds[i].parent.is_none()).collect()
    } else {
        c.argv[2..].iter().filter_map(|a| find_by_fullname(srv, &String::from_utf8_lossy(a).to_lowercase())).collect()
    };
    c.reply.map(idxs.len());
    for i in idxs {
        let cmd = &srv.commands.cmds[i];
        c.reply.bulk(cmd.fullname.as_bytes());
        c.reply.map(2);
        c.reply.bulk(b"since");
        c.reply.bulk(cmd.spec.since.as_bytes());
        c.reply.bulk(b"group");
        c.reply.bulk(cmd.spec.group.as_bytes());
    }
    Ok(())
}

/// The keys of the command in `c.argv[2..]`, with Redis's GETKEYS errors.
fn getkeys_generic(srv: &Server, c: &Client) -> Result<Vec<(usize, &'static [&'static str])>, ReplyError> {
    let argv = &c.argv[2..];
    let idx = match srv.commands.resolve(argv) {
        Ok(i) => i,
        Err(ReplyError::WrongArity(_)) => {
            return Err(ReplyError::err("Invalid number of arguments specified for command"))
        }
        Err(_) => return Err(ReplyError::err("Invalid command specified")),
    };
    let keys = srv.commands.cmds[idx].keys_with_flags(argv);
    if keys.is_empty() && !srv.commands.cmds[idx].flags.has(CmdFlags::NO_MANDATORY_KEYS) {
        return Err(ReplyError::err("The command has no key arguments"));
    }
    Ok(keys)
}

/// COMMAND GETKEYS command [arg ...].
pub fn command_getkeys(srv: &mut Server, c: &mut Client) -> CmdResult {
    let keys = getkeys_generic(srv, c)?;
    c.reply.array(keys.len());
    for (p, _) in keys {
        let k = c.argv[2 + p].clone();
        c.reply.bulk(&k);
    }
    Ok(())
}

/// COMMAND GETKEYSANDFLAGS command [arg ...]: [[key, [flags...]], ...].
pub fn command_getkeysandflags(srv: &mut Server, c: &mut Client) -> CmdResult {
    let keys = getkeys_generic(srv, c)?;
    // SET's key is only read (RW + ACCESS) when GET is given; otherwise it is
    // overwritten, as Redis's SET key-extraction refines it.
    let set_without_get =
        c.argv[2].eq_ignore_ascii_case(b"set") && !c.argv[3..].iter().any(|a| a.eq_ignore_ascii_case(b"get"));
    c.reply.array(keys.len());
    for (p, flags) in keys {
        let k = c.argv[2 + p].clone();
        let names = if set_without_get { vec!["OW", "update"] } else { super::spec::key_flag_names(flags) };
        c.reply.array(2);
        c.reply.bulk(&k);
        c.reply.set(names.len());
        for f in names {
            c.reply.simple(f);
        }
    }
    Ok(())
}

/// COMMAND HELP.
pub fn command_help(_srv: &mut Server, c: &mut Client) -> CmdResult {
    super::help_reply(
        c,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
        ],
    );
    Ok(())
}
