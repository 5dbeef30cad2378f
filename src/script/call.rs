//! What a running script does to the server: `redis.call`/`redis.pcall`
//! (Redis's scriptCall checks, then the command through `Server::call` as
//! the script client), `redis.setresp`, `redis.set_repl`,
//! `redis.acl_check_cmd`, and serving other clients while a script is past
//! busy-reply-threshold.
//!
//! Must not: keep state between runs other than the script client. The
//! refusals carry Redis's texts ("This Redis command is not allowed from
//! script", "Write commands are not allowed from read-only scripts." ...).

use bytes::Bytes;
use mlua::{Lua, MultiValue, Value};

use crate::client::reply::ReplyError;
use crate::client::Client;
use crate::cmd::spec::CmdFlags;
use crate::server::Server;

use super::api::{error_table, ScriptError};

/// The client scripts run their commands as: no socket anyone can reach,
/// never blocks (`in_exec`), shown as `lua` in MONITOR.
pub fn script_client(srv: &Server) -> Client {
    let stream = match mio::net::UnixStream::pair() {
        Ok((a, _)) => crate::reactor::net::Stream::Unix(a),
        Err(e) => {
            // Without a socket pair (fd exhaustion) no script can run.
            log::warn!("Can't create the scripting client: {e}");
            std::process::exit(1);
        }
    };
    let mut c = Client::new(super::SCRIPT_CLIENT_ID, usize::MAX, stream, srv.clock.now_ms, "");
    c.authenticated = true;
    c.in_exec = true;
    c.flags.unix_socket = false;
    // COMPAT: MONITOR shows script commands as coming from "lua".
    c.addr = "lua".to_string();
    c
}

/// Fills `argv` (empty, its allocation reused from call to call) with the
/// words of a `redis.call`: strings as they are, numbers as `%.17g`.
/// False when an argument is of another type.
fn argv_of(args: &MultiValue, argv: &mut Vec<Bytes>) -> bool {
    for v in args.iter() {
        argv.push(match v {
            Value::String(s) => Bytes::copy_from_slice(&s.as_bytes()),
            Value::Number(n) => Bytes::from(crate::util::num::format_double(*n)),
            Value::Integer(n) => Bytes::from(n.to_string()),
            _ => {
                argv.clear();
                return false;
            }
        });
    }
    true
}

/// What one `redis.call`/`redis.pcall` got.
enum Outcome {
    /// A plain reply (integer, status, bulk string), already a Lua value.
    Lua(Value),
    /// The command's reply (an error reply included).
    Reply(crate::resp::value::Value),
    /// The call itself was malformed: the text of Redis's error.
    BadCall(&'static [u8]),
}

/// Runs the command a script asked for and takes its reply: the common
/// plain replies straight to Lua, the rest parsed.
fn call_command(lua: &Lua, srv: &mut Server, sc: &mut Client, args: &MultiValue) -> mlua::Result<Outcome> {
    if args.is_empty() {
        // COMPAT: luaArgsToRedisArgv's errors.
        return Ok(Outcome::BadCall(b"Please specify at least one argument for this redis lib call"));
    }
    sc.argv.clear();
    if !argv_of(args, &mut sc.argv) {
        return Ok(Outcome::BadCall(b"Lua redis lib command arguments must be strings or integers"));
    }
    run_command(srv, sc);
    sc.argv.clear();
    let pending = sc.reply.pending();
    let n = pending.len();
    let out = match super::convert::plain_reply_to_lua(lua, pending) {
        Ok(Some(v)) => Ok(Outcome::Lua(v)),
        Ok(None) => match crate::resp::value::parse(pending) {
            Ok(Some((v, _))) => Ok(Outcome::Reply(v)),
            // A command that replied nothing (cannot happen for real commands).
            _ => Ok(Outcome::Reply(crate::resp::value::Value::Nil)),
        },
        Err(e) => Err(e),
    };
    sc.reply.consume(n);
    out
}

/// `redis.pcall`: runs the command and returns its reply as Lua, an error
/// as Redis's error table (marked as already counted).
pub fn redis_call(lua: &Lua, srv: &mut Server, sc: &mut Client, args: MultiValue) -> mlua::Result<Value> {
    match call_command(lua, srv, sc, &args)? {
        Outcome::BadCall(text) => Ok(Value::Table(error_table(lua, text)?)),
        Outcome::Lua(v) => Ok(v),
        Outcome::Reply(v) => {
            let out = super::convert::reply_to_lua(lua, &v, sc.reply.resp)?;
            if v.is_error() {
                if let Value::Table(t) = &out {
                    t.raw_set("ignore_error_stats_update", true)?;
                }
            }
            Ok(out)
        }
    }
}

/// Redis's scriptCall: the refusals, then `Server::call`. Every outcome is
/// a reply in the script client's buffer; refusals are counted as rejected
/// calls and in the error statistics.
fn run_command(srv: &mut Server, sc: &mut Client) {
    let idx = match srv.commands.resolve(&sc.argv) {
        Ok(i) => i,
        Err(_) => {
            // COMPAT: scriptVerifyCommandArity.
            let text = if srv.commands.resolve_name_only(&sc.argv).is_some() {
                "Wrong number of args calling Redis command from script"
            } else {
                "Unknown Redis command called from script"
            };
            srv.reply_error(sc, &ReplyError::err(text));
            return;
        }
    };
    if let Err(e) = check(srv, sc, idx) {
        srv.commands.cmds[idx].stats.rejected_calls += 1;
        srv.reply_error(sc, &e);
        return;
    }
    let flags = srv.commands.cmds[idx].flags;
    if let Some(run) = srv.script.run.as_mut() {
        run.write_dirty |= flags.has(CmdFlags::WRITE);
        run.read_called |= flags.has(CmdFlags::READONLY);
    }
    let repl = srv.script.run.as_ref().map_or(3, |r| r.repl);
    let mut skip = 0;
    if repl & super::api::REPL_AOF == 0 {
        skip |= crate::propagate::SKIP_AOF;
    }
    if repl & super::api::REPL_REPLICA == 0 {
        skip |= crate::propagate::SKIP_REPL;
    }
    srv.prop_set_script_skip(skip);
    srv.call(sc, idx);
    srv.prop_set_script_skip(0);
}

/// The checks Redis applies to a command called from a script, in its
/// order (NOSCRIPT, stale, ACL, writes, OOM, cluster).
fn check(srv: &mut Server, sc: &mut Client, idx: usize) -> Result<(), ReplyError> {
    let flags = srv.commands.cmds[idx].flags;
    // COMPAT: scriptCall's and its helpers' texts.
    if flags.has(CmdFlags::NOSCRIPT) && !srv.script.disable_deny_script {
        return Err(ReplyError::err("This Redis command is not allowed from script"));
    }
    let Some(run) = srv.script.run.as_ref() else { return Ok(()) };
    let (read_only, write_dirty, obey, allow_oom, oom_at_start) =
        (run.read_only, run.write_dirty, run.obey, run.allow_oom, run.oom_at_start);
    let r = &srv.repl.replica;
    if r.is_replica()
        && r.state != crate::repl::replica::LinkState::Connected
        && !srv.config.replica_serve_stale_data
        && !flags.has(CmdFlags::STALE)
    {
        return Err(ReplyError::err("Can not execute the command on a stale replica"));
    }
    if let Err(e) = crate::acl::check_command(srv, sc, idx) {
        let text = e.to_string();
        let why = if text.contains("keys") {
            "can't access at least one of the keys mentioned in the command"
        } else if text.contains("channels") {
            "can't publish to the channel mentioned in the command"
        } else {
            "can't run this command or subcommand"
        };
        return Err(ReplyError::err(format!("The user executing the script {why}")));
    }
    if read_only && (flags.has(CmdFlags::WRITE) || flags.has(CmdFlags::MAY_REPLICATE)) {
        return Err(ReplyError::err("Write commands are not allowed from read-only scripts."));
    }
    if flags.has(CmdFlags::WRITE) && !write_dirty {
        if srv.repl.replica.is_replica() && srv.config.replica_read_only && !obey {
            // COMPAT: shared.roslaveerr.
            return Err(ReplyError::other("READONLY You can't write against a read only replica."));
        }
        if let Some(e) = crate::persist::deny_writes_error(srv) {
            return Err(e);
        }
        if let Some(e) = crate::repl::acks::deny_without_good_replicas(srv, sc, idx) {
            return Err(e);
        }
    }
    if !allow_oom && srv.config.maxmemory != 0 && !obey && !write_dirty && oom_at_start && flags.has(CmdFlags::DENYOOM)
    {
        return Err(ReplyError::other(crate::evict::OOM_ERR));
    }
    if srv.cluster.is_some() && !obey {
        if let Some(e) = crate::cluster::route::check(srv, sc, idx) {
            let text = e.to_string();
            return Err(ReplyError::err(if text.starts_with("CLUSTERDOWN") {
                if text.contains("read") {
                    "Script attempted to execute a write command while the cluster is down and readonly"
                } else {
                    "Script attempted to execute a command while the cluster is down"
                }
            } else {
                "Script attempted to access a non local key in a cluster node"
            }));
        }
        // Keys not declared must still share one slot, unless the script
        // says allow-cross-slot-keys.
        let keys = srv.commands.cmds[idx].key_positions(&sc.argv);
        if let Some(&first) = keys.first() {
            let slot = crate::cluster::slot::key_hash_slot(&sc.argv[first]);
            if let Some(run) = srv.script.run.as_mut().filter(|r| !r.allow_cross_slot) {
                match run.slot {
                    None => run.slot = Some(slot),
                    Some(s) if s != slot => {
                        return Err(ReplyError::err(
                            "Script attempted to access keys that do not hash to the same slot",
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
    }
    Ok(())
}

/// `redis.setresp(2|3)`.
pub fn setresp(lua: &Lua, sc: &mut Client, args: MultiValue) -> mlua::Result<Value> {
    if args.len() != 1 {
        // COMPAT: luaSetResp's errors.
        return Ok(Value::Table(error_table(lua, b"redis.setresp() requires one argument.")?));
    }
    let v = match &args[0] {
        Value::Number(n) => *n as i64,
        Value::Integer(n) => *n as i64,
        _ => 0,
    };
    if v != 2 && v != 3 {
        return Ok(Value::Table(error_table(lua, b"RESP version must be 2 or 3.")?));
    }
    sc.reply.resp = v as u8;
    Ok(Value::Nil)
}

/// `redis.set_repl(flags)`: which sinks (AOF, replicas) the script's next
/// commands reach.
pub fn set_repl(lua: &Lua, srv: &mut Server, args: MultiValue) -> mlua::Result<Value> {
    if args.len() != 1 {
        // COMPAT: luaRedisSetReplCommand's errors.
        return Ok(Value::Table(error_table(lua, b"redis.set_repl() requires two arguments.")?));
    }
    let v = match &args[0] {
        Value::Number(n) => *n as i64,
        Value::Integer(n) => *n as i64,
        _ => -1,
    };
    if v & !(super::api::REPL_AOF | super::api::REPL_REPLICA) != 0 {
        return Ok(Value::Table(error_table(
            lua,
            b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        )?));
    }
    if let Some(run) = srv.script.run.as_mut() {
        run.repl = v;
    }
    Ok(Value::Nil)
}

/// `redis.acl_check_cmd(cmd, args...)`: whether the script's user may run
/// that command with those arguments.
pub fn acl_check_cmd(lua: &Lua, srv: &mut Server, sc: &mut Client, args: MultiValue) -> mlua::Result<Value> {
    if args.is_empty() {
        return Ok(Value::Table(error_table(lua, b"Please specify at least one argument for this redis lib call")?));
    }
    let mut argv = Vec::with_capacity(args.len());
    if !argv_of(&args, &mut argv) {
        return Ok(Value::Table(error_table(lua, b"Lua redis lib command arguments must be strings or integers")?));
    }
    let Ok(idx) = srv.commands.resolve(&argv) else {
        // COMPAT: luaRedisAclCheckCmdPermissionsCommand.
        return Ok(Value::Table(error_table(lua, b"Invalid command passed to redis.acl_check_cmd()")?));
    };
    let Some(id) = srv.acl.catalog_id(idx) else { return Ok(Value::Boolean(true)) };
    Ok(Value::Boolean(srv.acl.check(sc.acl_user, id, &argv).is_ok()))
}

/// Called from the instruction hook once the script is past
/// busy-reply-threshold: serves other clients (they get BUSY unless their
/// command may run then) and says whether a KILL arrived.
pub fn poll_while_busy(srv: &mut Server) -> bool {
    let first = srv.script.run.as_mut().is_some_and(|r| !std::mem::replace(&mut r.timed_out, true));
    if first {
        if let Some(run) = srv.script.run.as_ref() {
            // COMPAT: Redis's slow script warning.
            log::warn!(
                "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {} command. Script name is: {}.",
                run.start.elapsed().as_millis(),
                if run.eval { "SCRIPT KILL" } else { "FUNCTION KILL" },
                run.funcname
            );
        }
    }
    srv.serve_clients_while_busy();
    if let Some(code) = srv.exit_code {
        // SHUTDOWN NOSAVE arrived: it has done its part, the script ends
        // with the process.
        std::process::exit(code);
    }
    srv.script.run.as_ref().is_some_and(|r| r.killed)
}

/// `redis.call`: as `redis_call`, but a failed command raises its error
/// (counted already, so the script's failure does not count it again).
pub fn redis_call_raising(lua: &Lua, srv: &mut Server, sc: &mut Client, args: MultiValue) -> mlua::Result<Value> {
    use crate::resp::value::Value as Resp;
    match call_command(lua, srv, sc, &args)? {
        Outcome::BadCall(text) => Err(raise(text)),
        Outcome::Lua(v) => Ok(v),
        Outcome::Reply(Resp::Error(e) | Resp::BulkError(e)) => {
            let text = super::api::error_text(&[b"-".as_slice(), &e].concat());
            Err(mlua::Error::external(ScriptError { text, counted: true }))
        }
        Outcome::Reply(v) => super::convert::reply_to_lua(lua, &v, sc.reply.resp),
    }
}

/// An error a Rust callback raises (rather than returns) with Redis's text.
pub fn raise(text: &[u8]) -> mlua::Error {
    mlua::Error::external(ScriptError::new(super::api::error_text(text)))
}
