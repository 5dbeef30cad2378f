//! The ACL command: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT,
//! LOG, GENPASS, DRYRUN, LOAD, SAVE, HELP.
//!
//! Owns: argument parsing and reply shapes. The rules, checks, log and
//! file live in `crate::acl`. Mirrors Redis 7.0 `aclCommand`: GETUSER's map
//! (flags, passwords, commands, keys, channels, selectors), LOG entries of
//! seven fields, DRYRUN answering with a bulk string explaining a refusal.

use bytes::Bytes;

use super::args;
use crate::acl::catalog::{catalog, category_bit};
use crate::acl::selector::{has_spaces, Denied, Selector};
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::cmd::table::ACL_ORDER;
use crate::server::Server;

/// Largest ACL GENPASS size in bits.
const GENPASS_MAX_BITS: i64 = 4096;

/// COMPAT: the reply for an extra argument to a subcommand that accepts a
/// variable number of them.
fn syntax_error(c: &Client) -> ReplyError {
    ReplyError::err(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
        String::from_utf8_lossy(c.arg(1))
    ))
}

/// ACL SETUSER username [rule ...].
pub fn setuser(srv: &mut Server, c: &mut Client) -> CmdResult {
    let name = c.argv[2].clone();
    if has_spaces(&name) {
        return Err(ReplyError::err("Usernames can't contain spaces or null characters"));
    }
    let rules: Vec<Bytes> = c.argv[3..].to_vec();
    crate::acl::set_user(srv, c, &name, &rules).map_err(ReplyError::Other)?;
    c.reply.ok();
    Ok(())
}

/// ACL DELUSER username [username ...]: how many existed.
pub fn deluser(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.argv[2..].iter().any(|n| &n[..] == b"default") {
        return Err(ReplyError::err("The 'default' user cannot be removed"));
    }
    let names: Vec<Bytes> = c.argv[2..].to_vec();
    let n = crate::acl::delete_users(srv, c, &names);
    c.reply.int(n as i64);
    Ok(())
}

fn reply_selector(c: &mut Client, s: &Selector) {
    c.reply.bulk(b"commands");
    c.reply.bulk(s.describe_commands().as_bytes());
    c.reply.bulk(b"keys");
    c.reply.bulk(s.keys_text().as_bytes());
    c.reply.bulk(b"channels");
    c.reply.bulk(s.channels_text().as_bytes());
}

/// ACL GETUSER username: a map, or null for an unknown user.
pub fn getuser(srv: &mut Server, c: &mut Client) -> CmdResult {
    let Some(u) = srv.acl.lookup(c.arg(2)).and_then(|id| srv.acl.user(id)) else {
        c.reply.null();
        return Ok(());
    };
    c.reply.map(6);
    c.reply.bulk(b"flags");
    let flags = u.flags();
    c.reply.set(flags.len());
    for f in flags {
        c.reply.bulk(f.as_bytes());
    }
    c.reply.bulk(b"passwords");
    c.reply.array(u.passwords().len());
    for p in u.passwords() {
        c.reply.bulk(p.as_bytes());
    }
    reply_selector(c, u.root());
    c.reply.bulk(b"selectors");
    c.reply.array(u.selectors.len() - 1);
    for s in &u.selectors[1..] {
        c.reply.map(3);
        reply_selector(c, s);
    }
    Ok(())
}

/// ACL LIST: every user as a config line.
pub fn list(srv: &mut Server, c: &mut Client) -> CmdResult {
    let lines = srv.acl.describe_all();
    c.reply.array(lines.len());
    for l in lines {
        c.reply.bulk(format!("user {l}").as_bytes());
    }
    Ok(())
}

/// ACL USERS: the user names.
pub fn users(srv: &mut Server, c: &mut Client) -> CmdResult {
    let names: Vec<Vec<u8>> = srv.acl.users().map(|(_, u)| u.name.clone()).collect();
    c.reply.array(names.len());
    for n in names {
        c.reply.bulk(&n);
    }
    Ok(())
}

/// ACL WHOAMI.
pub fn whoami(_srv: &mut Server, c: &mut Client) -> CmdResult {
    let name = c.user.clone();
    c.reply.bulk(name.as_bytes());
    Ok(())
}

/// COMPAT: ACL LOAD / SAVE without an `aclfile`.
fn no_acl_file() -> ReplyError {
    ReplyError::err("This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.")
}

/// ACL LOAD: replace every user with the ACL file's, or change nothing.
pub fn load(srv: &mut Server, c: &mut Client) -> CmdResult {
    if srv.config.aclfile.is_empty() {
        return Err(no_acl_file());
    }
    crate::acl::load_file(srv, c).map_err(ReplyError::err)?;
    c.reply.ok();
    Ok(())
}

/// ACL SAVE: write every user to the ACL file.
pub fn save(srv: &mut Server, c: &mut Client) -> CmdResult {
    if srv.config.aclfile.is_empty() {
        return Err(no_acl_file());
    }
    let lines: Vec<String> = srv.acl.describe_all().into_iter().map(|l| format!("user {l}")).collect();
    if crate::acl::file::save(&srv.config.aclfile, &lines).is_err() {
        return Err(ReplyError::err(
            "There was an error trying to save the ACLs. Please check the server logs for more information",
        ));
    }
    c.reply.ok();
    Ok(())
}

/// ACL CAT [category]: the categories, or the commands of one.
pub fn cat(_srv: &mut Server, c: &mut Client) -> CmdResult {
    match c.argc() {
        2 => {
            c.reply.array(ACL_ORDER.len());
            for name in ACL_ORDER {
                c.reply.bulk(name.as_bytes());
            }
        }
        3 => {
            let Some(bit) = category_bit(c.arg(2)) else {
                let asked = String::from_utf8_lossy(c.arg(2));
                return Err(ReplyError::err(format!(
                    "Unknown category '{}'",
                    asked.chars().take(128).collect::<String>()
                )));
            };
            let cat = catalog();
            let names: Vec<&str> =
                cat.cmds.iter().filter(|cmd| cmd.categories & bit != 0).map(|cmd| cmd.fullname.as_str()).collect();
            c.reply.array(names.len());
            for n in names {
                c.reply.bulk(n.as_bytes());
            }
        }
        _ => return Err(syntax_error(c)),
    }
    Ok(())
}

/// ACL GENPASS [bits]: random hex, 256 bits by default.
pub fn genpass(_srv: &mut Server, c: &mut Client) -> CmdResult {
    let bits = match c.argc() {
        2 => 256,
        3 => args::int(c.arg(2))?,
        _ => return Err(syntax_error(c)),
    };
    if bits <= 0 || bits > GENPASS_MAX_BITS {
        return Err(ReplyError::err(format!(
            "ACL GENPASS argument must be the number of bits for the output password, a positive number up to {GENPASS_MAX_BITS}"
        )));
    }
    let chars = ((bits + 3) / 4) as usize;
    c.reply.bulk(crate::server::random_hex(chars).as_bytes());
    Ok(())
}

/// ACL LOG [count | RESET].
pub fn log(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut count = 10i64;
    match c.argc() {
        2 => {}
        3 if args::is(c.arg(2), "reset") => {
            srv.acl.log.reset();
            c.reply.ok();
            return Ok(());
        }
        3 => count = args::int(c.arg(2))?.max(0),
        _ => return Err(syntax_error(c)),
    }
    let now = crate::util::clock::unix_ms();
    let n = (count as usize).min(srv.acl.log.len());
    c.reply.array(n);
    for e in srv.acl.log.entries().take(n) {
        c.reply.map(7);
        c.reply.bulk(b"count");
        c.reply.int(e.count as i64);
        c.reply.bulk(b"reason");
        c.reply.bulk(e.reason.as_str().as_bytes());
        c.reply.bulk(b"context");
        c.reply.bulk(e.context.as_str().as_bytes());
        c.reply.bulk(b"object");
        c.reply.bulk(&e.object);
        c.reply.bulk(b"username");
        c.reply.bulk(&e.username);
        c.reply.bulk(b"age-seconds");
        c.reply.double((now - e.at_ms) as f64 / 1000.0);
        c.reply.bulk(b"client-info");
        c.reply.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

/// ACL DRYRUN username command [arg ...]: OK, or a bulk string saying what
/// the user may not do.
pub fn dryrun(srv: &mut Server, c: &mut Client) -> CmdResult {
    let Some(user) = srv.acl.lookup(c.arg(2)) else {
        return Err(ReplyError::err(format!("User '{}' not found", String::from_utf8_lossy(c.arg(2)))));
    };
    let line = &c.argv[3..];
    let cat = catalog();
    let Some(id) = cat.resolve(line) else {
        return Err(ReplyError::err(format!("Command '{}' not found", String::from_utf8_lossy(c.arg(3)))));
    };
    let cmd = &cat.cmds[id];
    let (arity, argc) = (cmd.spec.arity, line.len() as i32);
    if (arity > 0 && arity != argc) || argc < -arity {
        return Err(ReplyError::WrongArity(cmd.fullname.clone()));
    }
    // COMPAT: aclCommand's DRYRUN texts.
    let text = match srv.acl.check(user, id, line) {
        Ok(()) => {
            c.reply.ok();
            return Ok(());
        }
        Err(Denied::Command) => format!("This user has no permissions to run the '{}' command", cmd.fullname),
        Err(Denied::Key(p)) => {
            format!("This user has no permissions to access the '{}' key", String::from_utf8_lossy(&line[p]))
        }
        Err(Denied::Channel(p)) => {
            format!("This user has no permissions to access the '{}' channel", String::from_utf8_lossy(&line[p]))
        }
    };
    c.reply.bulk(text.as_bytes());
    Ok(())
}

/// ACL HELP.
pub fn help(_srv: &mut Server, c: &mut Client) -> CmdResult {
    super::help_reply(
        c,
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    );
    Ok(())
}
