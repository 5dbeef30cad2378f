//! Lua scripting: EVAL and SCRIPT (`eval`), functions (`function`), and
//! what both share: running a script against the server (`run`), the
//! commands a script calls (`call`), the interpreter (`engine`), Redis's
//! `redis.*` API (`api`), reply conversions (`convert`) and the extra
//! libraries (`libs`).
//!
//! Owns the scripting state kept on the server: the EVAL interpreter and
//! its script cache (by SHA1), the function interpreter and library
//! registry, the client scripts run their commands as, and the state of
//! the script running now (for BUSY, SCRIPT KILL and FUNCTION KILL).
//!
//! Must not: touch sockets or the propagation stream directly. Commands a
//! script runs go through `Server::call` like a client's, so statistics,
//! keyspace events and propagation (wrapped in MULTI/EXEC as one unit with
//! the rest of the script's effects) are the server's.
//!
//! Mirrors Redis 7.0's script.c (run context, flags, kill rules) with the
//! engine of script_lua.c.

pub mod api;
pub mod call;
pub mod convert;
pub mod engine;
pub mod eval;
pub mod function;
pub mod libs;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, MultiValue, Value, VmState};

use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::server::Server;

/// The id of the client scripts run their commands as.
pub const SCRIPT_CLIENT_ID: u64 = u64::MAX - 1;

/// Script flags, from an EVAL shebang or a function's registration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptFlags(u32);

impl ScriptFlags {
    /// The script never writes (implies allow-oom).
    pub const NO_WRITES: ScriptFlags = ScriptFlags(1);
    /// May run while over maxmemory.
    pub const ALLOW_OOM: ScriptFlags = ScriptFlags(2);
    /// May run on a stale replica.
    pub const ALLOW_STALE: ScriptFlags = ScriptFlags(4);
    /// Refused in cluster mode.
    pub const NO_CLUSTER: ScriptFlags = ScriptFlags(8);
    /// May touch keys of several slots.
    pub const ALLOW_CROSS_SLOT: ScriptFlags = ScriptFlags(16);
    /// An EVAL script without a shebang: Redis 6 rules.
    pub const EVAL_COMPAT: ScriptFlags = ScriptFlags(32);

    /// COMPAT: the flag names of scripts_flags_def.
    pub const NAMES: &'static [(ScriptFlags, &'static str)] = &[
        (ScriptFlags::NO_WRITES, "no-writes"),
        (ScriptFlags::ALLOW_OOM, "allow-oom"),
        (ScriptFlags::ALLOW_STALE, "allow-stale"),
        (ScriptFlags::NO_CLUSTER, "no-cluster"),
        (ScriptFlags::ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
    ];

    /// Whether every bit of `f` is set.
    pub fn has(self, f: ScriptFlags) -> bool {
        self.0 & f.0 == f.0
    }

    /// Sets `f`.
    pub fn set(&mut self, f: ScriptFlags) {
        self.0 |= f.0;
    }

    /// The flag named `name`, if Redis knows it.
    pub fn by_name(name: &[u8]) -> Option<ScriptFlags> {
        Self::NAMES.iter().find(|(_, n)| n.as_bytes() == name).map(|(f, _)| *f)
    }

    /// The names of the flags set, in Redis's order.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES.iter().filter(|(f, _)| self.has(*f)).map(|(_, n)| *n).collect()
    }
}

/// The script running now.
#[derive(Debug)]
pub struct RunState {
    /// When it started.
    pub start: Instant,
    /// EVAL (true) or FCALL (false): decides which KILL applies.
    pub eval: bool,
    /// SCRIPT/FUNCTION KILL asked for it to stop.
    pub killed: bool,
    /// It ran a write command: it can no longer be killed.
    pub write_dirty: bool,
    /// Past busy-reply-threshold: other clients get BUSY.
    pub timed_out: bool,
    /// Sent by our master or the AOF: never refused, never killable.
    pub obey: bool,
    /// Write commands are refused (no-writes, *_RO).
    pub read_only: bool,
    /// allow-oom was declared.
    pub allow_oom: bool,
    /// The server was over maxmemory when the script started.
    pub oom_at_start: bool,
    /// Keys of several slots may be touched.
    pub allow_cross_slot: bool,
    /// The slot the script's keys hash to so far (cluster mode).
    pub slot: Option<u16>,
    /// REPL_* flags from redis.set_repl.
    pub repl: i64,
    /// The name errors and logs use (the SHA1, or the function name).
    pub funcname: Rc<str>,
    /// The caller's command (FUNCTION STATS shows it).
    pub command: Vec<Bytes>,
    /// It ran a read-only command: a tracking caller remembers its keys.
    pub read_called: bool,
}

/// The key of the EVAL script cache: a SHA1 in lowercase hex.
pub type ScriptKey = [u8; 40];

/// A script in the EVAL cache.
pub struct CachedScript {
    /// Its SHA1 (lowercase hex), shared with the runs that name it.
    pub sha: Rc<str>,
    /// The source as sent.
    pub body: Bytes,
    /// Its shebang flags.
    pub flags: ScriptFlags,
    /// The compiled chunk.
    pub func: Function,
}

/// Scripting state owned by the server.
#[derive(Default)]
pub struct Scripting {
    /// The EVAL interpreter; `None` only while a script runs in it (it is
    /// taken out so its callbacks can borrow the server).
    pub engine: Option<engine::Engine>,
    /// The EVAL script cache: lowercase SHA1 hex -> script (SHA1 digests
    /// spread well under the fast hasher).
    pub scripts: HashMap<ScriptKey, CachedScript, crate::util::fasthash::FastBuildHasher>,
    /// Bytes held by the cache's bodies and names.
    pub scripts_mem: usize,
    /// The running script, if any.
    pub run: Option<RunState>,
    /// The client scripts run commands as (out while a script runs).
    pub client: Option<Box<Client>>,
    /// Functions: libraries and their interpreter.
    pub functions: function::Functions,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: `noscript` commands may run from
    /// scripts (a testing aid).
    pub disable_deny_script: bool,
}

impl Scripting {
    /// The EVAL interpreter, created on first use.
    pub fn engine(&mut self) -> Result<&mut engine::Engine, ReplyError> {
        if self.engine.is_none() {
            self.engine = Some(eval::new_engine().map_err(|e| ReplyError::err(engine::lua_error_text(&e)))?);
        }
        self.engine.as_mut().ok_or_else(|| ReplyError::err("scripting engine unavailable"))
    }

    /// The cached script whose SHA1 is `sha` (hex, any case).
    pub fn cached(&self, sha: &[u8]) -> Option<&CachedScript> {
        let mut key: ScriptKey = sha.try_into().ok()?;
        key.make_ascii_lowercase();
        self.scripts.get(&key)
    }

    /// INFO's used_memory_lua (the EVAL interpreter).
    pub fn eval_vm_memory(&self) -> usize {
        self.engine.as_ref().map_or(0, |e| e.used_memory())
    }

    /// INFO's used_memory_scripts_eval.
    pub fn eval_cache_memory(&self) -> usize {
        self.scripts_mem + self.scripts.len() * 64
    }
}

/// The BUSY refusal for a command arriving while a script is past its
/// time limit, unless the command may run then (`allow_busy`).
pub fn busy_error(srv: &Server) -> Option<ReplyError> {
    let run = srv.script.run.as_ref().filter(|r| r.timed_out)?;
    Some(ReplyError::other(if run.eval { SLOW_EVAL } else { SLOW_SCRIPT }))
}

/// Redis's evalGetCommandFlags / fcallGetCommandFlags: the flags the
/// server's pre-command checks see for EVAL*/FCALL* of a script that
/// declared flags (WRITE and DENYOOM unless no-writes / allow-oom, STALE
/// with allow-stale). `None` for other commands and for scripts without a
/// shebang (their command's own flags apply).
pub fn effective_flags(srv: &Server, argv: &[Bytes], idx: usize) -> Option<crate::cmd::spec::CmdFlags> {
    use crate::cmd::spec::CmdFlags;
    let name = srv.commands.cmds[idx].name;
    let arg = argv.get(1)?;
    let script = match name {
        "eval" | "eval_ro" => {
            let sha = eval::sha1_hex(arg);
            match srv.script.cached(sha.as_bytes()) {
                Some(s) => s.flags,
                None => eval::shebang_flags(arg).ok()?.0,
            }
        }
        "evalsha" | "evalsha_ro" if arg.len() == 40 => srv.script.cached(arg)?.flags,
        "fcall" | "fcall_ro" => srv.script.functions.function(&String::from_utf8_lossy(arg))?.flags,
        _ => return None,
    };
    if script.has(ScriptFlags::EVAL_COMPAT) {
        return None;
    }
    let base = srv.commands.cmds[idx].flags.0;
    let mut f = base & !(CmdFlags::STALE.0 | CmdFlags::DENYOOM.0 | CmdFlags::WRITE.0 | CmdFlags::MAY_REPLICATE.0);
    if !script.has(ScriptFlags::ALLOW_OOM) && !script.has(ScriptFlags::NO_WRITES) {
        f |= CmdFlags::DENYOOM.0;
    }
    if !script.has(ScriptFlags::NO_WRITES) {
        f |= CmdFlags::WRITE.0;
    }
    if script.has(ScriptFlags::ALLOW_STALE) {
        f |= CmdFlags::STALE.0;
    }
    Some(CmdFlags(f))
}

/// The BUSY refusal of command `idx`: EXEC also ends the transaction
/// (EXECABORT), as processCommand's rejectCommand does.
pub fn busy_reject(srv: &mut Server, c: &mut Client, idx: usize, e: ReplyError) -> ReplyError {
    if srv.commands.cmds[idx].name == "exec" && c.flags.multi {
        crate::cmd::multi::discard_transaction(srv, c);
        // COMPAT: rejectCommand's EXECABORT form.
        return ReplyError::other(format!("EXECABORT Transaction discarded because of: {e}"));
    }
    e
}

/// COMPAT: shared.slowevalerr.
pub const SLOW_EVAL: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// COMPAT: shared.slowscripterr.
pub const SLOW_SCRIPT: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// SCRIPT KILL (`eval`) / FUNCTION KILL: stops the running script at its
/// next instruction check, if Redis's rules allow.
pub fn kill(srv: &mut Server, c: &mut Client, eval: bool) -> CmdResult {
    let Some(run) = srv.script.run.as_mut() else {
        // COMPAT: scriptKill's replies.
        return Err(ReplyError::other("NOTBUSY No scripts in execution right now."));
    };
    if run.obey {
        return Err(ReplyError::other(
            "UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed.",
        ));
    }
    if run.write_dirty {
        return Err(ReplyError::other(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
        ));
    }
    if eval && !run.eval {
        return Err(ReplyError::other(SLOW_SCRIPT));
    }
    if !eval && run.eval {
        return Err(ReplyError::other(SLOW_EVAL));
    }
    run.killed = true;
    c.reply.ok();
    Ok(())
}

/// Which interpreter a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// EVAL / EVALSHA: KEYS and ARGV are globals.
    Eval,
    /// FCALL: the function gets (keys, args).
    Function,
}

/// What EVAL and FCALL resolved their first argument to.
pub struct Callee {
    /// The compiled chunk or registered function.
    pub func: Function,
    /// Its flags.
    pub flags: ScriptFlags,
    /// Called through a *_RO command.
    pub ro: bool,
    /// SHA1 or function name, for errors and logs.
    pub funcname: Rc<str>,
    /// Eval or function.
    pub kind: Kind,
}

/// Shows the EVAL/FCALL in `c.argv` to MONITOR clients now: the commands
/// the script runs follow it (the normal feed comes after the command).
pub fn feed_monitors_first(srv: &mut Server, c: &mut Client) {
    if !srv.monitors.is_empty() {
        if let Ok(idx) = srv.commands.resolve(&c.argv) {
            crate::cmd::client::feed_monitors_now(srv, c, idx);
        }
    }
}

/// What the callbacks of one run share: the server and the script client.
struct Ctx<'a> {
    srv: &'a mut Server,
    sc: &'a mut Client,
}

/// Runs `callee` for client `c` over its own command (the keys are
/// `c.argv[first_key..first_arg]`, the arguments the rest) and writes its
/// reply: Redis's scriptPrepareForRun checks, the call under the error
/// handler with the busy hook, then the reply conversion. The caller's
/// command is kept out of the propagation stream: the script's own
/// commands go instead. For the run, `c.argv` is held by the run state
/// (FUNCTION STATS shows it); it is back in place on return.
pub fn run_on_argv(srv: &mut Server, c: &mut Client, callee: Callee, first_key: usize, first_arg: usize) -> CmdResult {
    let Callee { func, flags, ro, funcname, kind } = callee;
    let obey = c.must_obey() || c.flags.master;
    let oom_at_start = srv.config.maxmemory != 0 && crate::evict::perform(srv) == crate::evict::Outcome::Fail;
    prepare_checks(srv, flags, ro, obey, oom_at_start)?;
    let compat = flags.has(ScriptFlags::EVAL_COMPAT);
    let engine = match kind {
        Kind::Eval => {
            srv.script.engine()?;
            srv.script.engine.take()
        }
        Kind::Function => srv.script.functions.engine.take(),
    };
    let Some(engine) = engine else { return Err(ReplyError::err("scripting engine unavailable")) };
    srv.prevent_propagation();
    let keys = first_key..first_arg;
    srv.script.run = Some(RunState {
        start: Instant::now(),
        eval: kind == Kind::Eval,
        killed: false,
        write_dirty: false,
        timed_out: false,
        obey,
        read_only: ro || (!compat && flags.has(ScriptFlags::NO_WRITES)),
        allow_oom: !compat && flags.has(ScriptFlags::ALLOW_OOM),
        oom_at_start,
        allow_cross_slot: compat || flags.has(ScriptFlags::ALLOW_CROSS_SLOT),
        // The declared keys (already checked to share a slot) fix it.
        slot: if srv.cluster.is_some() {
            c.argv.get(keys.clone()).and_then(|k| k.first()).map(|k| crate::cluster::slot::key_hash_slot(k))
        } else {
            None
        },
        repl: api::REPL_AOF | api::REPL_REPLICA,
        funcname,
        command: std::mem::take(&mut c.argv),
        read_called: false,
    });
    let mut sc = srv.script.client.take().unwrap_or_else(|| Box::new(call::script_client(srv)));
    sc.db = c.db;
    sc.reply.resp = 2;
    sc.acl_user = c.acl_user;
    sc.user.clone_from(&c.user);
    sc.flags.multi = c.flags.multi;
    sc.flags.readonly = c.flags.readonly;
    sc.flags.asking = c.flags.asking;
    let threshold_ms = srv.config.busy_reply_threshold;
    if threshold_ms > 0 {
        let start = srv.script.run.as_ref().map_or_else(Instant::now, |r| r.start);
        engine.watch.set(engine::Watch::Run(start + std::time::Duration::from_millis(threshold_ms as u64)));
    }
    let outcome = {
        let ctx = RefCell::new(Ctx { srv: &mut *srv, sc: &mut sc });
        execute(&engine, &ctx, &func, keys.clone(), kind)
    };
    engine.watch.set(engine::Watch::Idle);
    if outcome.is_err() {
        // `invoke` itself failed, so it may not have reset these.
        let _ = engine.ctx.raw_set("d", Value::Nil);
        let _ = engine.redis.raw_set("call", engine.call_outside.clone());
    }
    let script_resp = sc.reply.resp;
    sc.flags.multi = false;
    sc.argv.clear();
    srv.script.client = Some(sc);
    // Only this function sets and clears the run state: it is there.
    let (killed, read_called, timed_out, start, funcname) = match srv.script.run.take() {
        Some(run) => {
            c.argv = run.command;
            (run.killed, run.read_called, run.timed_out, run.start, run.funcname)
        }
        None => (false, false, false, Instant::now(), Rc::from("")),
    };
    if killed {
        // The kill left an every-line hook behind.
        engine.arm();
    }
    if read_called {
        // As Redis: a script that read tracks every key it declared.
        let argv = std::mem::take(&mut c.argv);
        crate::tracking::remember_script_keys(srv, c, argv.get(keys).unwrap_or_default());
        c.argv = argv;
    }
    if timed_out {
        log::warn!("Slow script detected: script finished after {} milliseconds", start.elapsed().as_millis());
    }
    let result = match outcome {
        Ok((true, v)) => match convert::lua_to_reply(&v, &mut c.reply, script_resp) {
            None => Ok(()),
            Some(e) => returned_error(srv, c, e.text, e.counted),
        },
        Ok((false, Value::Table(t))) => {
            let mut text = match t.raw_get::<Value>("err") {
                Ok(Value::String(s)) => convert::one_line(&s.as_bytes()),
                _ => "ERR unknown error".to_string(),
            };
            if let (Ok(Value::String(src)), Ok(line)) = (t.raw_get::<Value>("source"), t.raw_get::<Value>("line")) {
                let line = match line {
                    Value::Integer(n) => n.to_string(),
                    Value::Number(n) => (n as i64).to_string(),
                    _ => String::new(),
                };
                if !line.is_empty() {
                    text.push_str(&format!(" script: {}, on {}:{}.", funcname, src.to_string_lossy(), line));
                }
            }
            let counted = matches!(t.raw_get::<Value>("ignore_error_stats_update"), Ok(Value::Boolean(true)));
            returned_error(srv, c, text, counted)
        }
        Ok((false, other)) => Err(ReplyError::err(format!(
            "Error running script {}, {:.100}",
            funcname,
            other.to_string().unwrap_or_default()
        ))),
        Err(e) => {
            Err(ReplyError::err(format!("Error running script {}, {:.100}", funcname, engine::lua_error_text(&e))))
        }
    };
    match kind {
        Kind::Eval => srv.script.engine = Some(engine),
        Kind::Function => srv.script.functions.engine = Some(engine),
    }
    result
}

/// An error the script returned or raised. One that came from a command
/// the script called was counted then, so it is written without counting
/// again (the script's command still counts as failed).
fn returned_error(srv: &mut Server, c: &mut Client, text: String, counted: bool) -> CmdResult {
    if counted {
        c.reply.error(&text);
        if let Ok(idx) = srv.commands.resolve(&c.argv) {
            srv.commands.cmds[idx].stats.failed_calls += 1;
        }
        Ok(())
    } else {
        Err(ReplyError::other(text))
    }
}

/// Redis's scriptPrepareForRun refusals.
fn prepare_checks(srv: &mut Server, flags: ScriptFlags, ro: bool, obey: bool, oom: bool) -> CmdResult {
    let replica = srv.repl.replica.is_replica();
    let stale = replica
        && srv.repl.replica.state != crate::repl::replica::LinkState::Connected
        && !srv.config.replica_serve_stale_data;
    if flags.has(ScriptFlags::EVAL_COMPAT) {
        if stale {
            // COMPAT: shared.masterdownerr.
            return Err(ReplyError::other(
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            ));
        }
        return Ok(());
    }
    // COMPAT: scriptPrepareForRun's texts.
    if flags.has(ScriptFlags::NO_CLUSTER) && srv.cluster.is_some() {
        return Err(ReplyError::err("Can not run script on cluster, 'no-cluster' flag is set."));
    }
    if stale && !flags.has(ScriptFlags::ALLOW_STALE) {
        return Err(ReplyError::other("MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script."));
    }
    if !flags.has(ScriptFlags::NO_WRITES) {
        if replica && srv.config.replica_read_only && !obey {
            return Err(ReplyError::other("READONLY Can not run script with write flag on readonly replica"));
        }
        if let Some(e) = crate::persist::deny_writes_error(srv).filter(|_| !obey) {
            let text = e.to_string();
            return Err(ReplyError::other(if text.contains("RDB") {
                "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.".to_string()
            } else {
                text
            }));
        }
        if ro {
            return Err(ReplyError::err("Can not execute a script with write flag using *_ro command."));
        }
    }
    if oom && !flags.has(ScriptFlags::ALLOW_OOM) && !flags.has(ScriptFlags::NO_WRITES) {
        return Err(ReplyError::other(
            "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'",
        ));
    }
    Ok(())
}

/// The error a killed script stops with.
fn killed_error() -> mlua::Error {
    // COMPAT: luaMaskCountHook's error.
    mlua::Error::external(api::ScriptError::new(api::error_text(b"Script killed by user with SCRIPT KILL...")))
}

/// The count hook of a run past busy-reply-threshold: serves other
/// clients, and stops the script if SCRIPT/FUNCTION KILL asked for it.
pub fn on_busy(lua: &Lua) -> mlua::Result<VmState> {
    let ctx: mlua::Table = lua.named_registry_value(engine::CTX_KEY)?;
    // Between runs (or in the few instructions around one) there is no
    // dispatcher: nothing to serve.
    let Ok(Value::Function(dispatch)) = ctx.raw_get::<Value>("d") else { return Ok(VmState::Continue) };
    if !dispatch.call::<bool>((engine::marker(), OP_POLL))? {
        return Ok(VmState::Continue);
    }
    log::warn!("Lua script killed by user with SCRIPT KILL.");
    // From now on every line fails, so a pcall in the script cannot
    // swallow the kill for long.
    lua.set_hook(HookTriggers { every_line: true, ..Default::default() }, |_, _| Err(killed_error()));
    Err(killed_error())
}

/// The operations of the run's entry point: `redis.call(...)` itself, or
/// `ctx.d(marker, op, ...)` (the Lua side in `engine` uses the numbers 1-4).
const OP_CALL: i64 = 0;
const OP_PCALL: i64 = 1;
const OP_SETRESP: i64 = 2;
const OP_SET_REPL: i64 = 3;
const OP_ACL_CHECK: i64 = 4;
/// Serve other clients while the script is past busy-reply-threshold;
/// answers whether SCRIPT/FUNCTION KILL asked for the script to stop.
const OP_POLL: i64 = 5;

/// The call itself, with the run's dispatcher installed for its length;
/// `keys` are the positions of the declared keys in the caller's command
/// (held by the run state), the arguments follow them.
fn execute(
    engine: &engine::Engine,
    ctx: &RefCell<Ctx<'_>>,
    func: &Function,
    keys: std::ops::Range<usize>,
    kind: Kind,
) -> mlua::Result<(bool, Value)> {
    let lua = &engine.lua;
    lua.scope(|scope| {
        // One callback per run (each costs an allocation and a destructor):
        // redis.call, and the rest behind the marker.
        let entry = scope.create_function(|lua, mut args: MultiValue| {
            let op = if matches!(args.front(), Some(Value::LightUserData(m)) if *m == engine::marker()) {
                args.pop_front();
                match args.pop_front() {
                    Some(Value::Integer(n)) => n,
                    Some(Value::Number(n)) => n as i64,
                    _ => OP_POLL,
                }
            } else {
                OP_CALL
            };
            let Ok(mut g) = ctx.try_borrow_mut() else {
                // The poll of a hook firing inside a callback: nothing to do.
                return if op == OP_POLL { Ok(Value::Boolean(false)) } else { Err(mlua::Error::RecursiveMutCallback) };
            };
            let Ctx { srv, sc } = &mut *g;
            match op {
                OP_CALL => call::redis_call_raising(lua, srv, sc, args),
                OP_PCALL => call::redis_call(lua, srv, sc, args),
                OP_SETRESP => call::setresp(lua, sc, args),
                OP_SET_REPL => call::set_repl(lua, srv, args),
                OP_ACL_CHECK => call::acl_check_cmd(lua, srv, sc, args),
                _ => Ok(Value::Boolean(call::poll_while_busy(srv))),
            }
        })?;
        let (keys, args) = {
            let g = ctx.borrow();
            let command = g.srv.script.run.as_ref().map_or(&[][..], |r| r.command.as_slice());
            let args = command.get(keys.end..).unwrap_or_default();
            let keys = command.get(keys).unwrap_or_default();
            let table = |words: &[Bytes]| -> mlua::Result<Option<mlua::Table>> {
                if words.is_empty() {
                    return Ok(None);
                }
                lua.create_sequence_from(words.iter().map(|w| convert::lua_text(w))).map(Some)
            };
            (table(keys)?, table(args)?)
        };
        engine.invoke.call::<(bool, Value)>((func, entry, keys, args, kind == Kind::Eval))
    })
}
