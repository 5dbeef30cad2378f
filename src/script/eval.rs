//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (LOAD, EXISTS, FLUSH,
//! KILL, DEBUG, HELP): the script cache keyed by SHA1 and the `#!lua`
//! shebang with its flags.
//!
//! Must not: run scripts itself (`super::run` does) or keep state outside
//! `Server::script`. Mirrors Redis 7.0's eval.c: its error texts, its
//! shebang rules, and a cache that only SCRIPT FLUSH empties.

use bytes::Bytes;

use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::server::Server;

use super::{CachedScript, Callee, Kind, ScriptFlags};

/// A fresh EVAL interpreter.
pub fn new_engine() -> mlua::Result<super::engine::Engine> {
    super::engine::Engine::new(|_, _| Ok(()))
}

/// The lowercase SHA1 hex of `body`.
pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

/// Parses the `#!lua [flags=a,b]` first line. Returns the flags (with
/// EVAL_COMPAT when there is no shebang) and the length of the line to
/// skip (its newline stays, so line numbers hold).
pub fn shebang_flags(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::EVAL_COMPAT, 0));
    }
    // COMPAT: evalExtractShebangFlags's errors.
    let Some(end) = body.iter().position(|&b| b == b'\n') else { return Err("Invalid script shebang".into()) };
    let line = &body[..end];
    let mut parts = line.split(|b| b.is_ascii_whitespace()).filter(|p| !p.is_empty());
    let Some(engine) = parts.next() else { return Err("Invalid engine in script shebang".into()) };
    if engine != b"#!lua" {
        return Err(format!("Unexpected engine in script shebang: {}", String::from_utf8_lossy(engine)));
    }
    let mut flags = ScriptFlags::default();
    for p in parts {
        let Some(list) = p.strip_prefix(b"flags=") else {
            return Err(format!("Unknown lua shebang option: {}", String::from_utf8_lossy(p)));
        };
        for name in list.split(|&b| b == b',').filter(|n| !n.is_empty()) {
            match ScriptFlags::by_name(name) {
                Some(f) => flags.set(f),
                None => return Err(format!("Unexpected flag in script shebang: {}", String::from_utf8_lossy(name))),
            }
        }
    }
    Ok((flags, end))
}

/// Adds `body` to the cache (compiling it) unless it is there; returns its
/// SHA1. Errors are the replies Redis gives (bad shebang, compile error).
pub fn create(srv: &mut Server, body: &Bytes) -> Result<String, ReplyError> {
    let sha = sha1_hex(body);
    let Ok(key) = super::ScriptKey::try_from(sha.as_bytes()) else { return Err(ReplyError::err("bad SHA1")) };
    if srv.script.scripts.contains_key(&key) {
        return Ok(sha);
    }
    let (flags, skip) = shebang_flags(body).map_err(ReplyError::err)?;
    let engine = srv.script.engine()?;
    let func = engine
        .compile(&body[skip..])
        .map_err(|e| ReplyError::err(format!("Error compiling script (new function): {e}")))?;
    srv.script.scripts_mem += body.len() + sha.len();
    srv.script.scripts.insert(key, CachedScript { sha: sha.as_str().into(), body: body.clone(), flags, func });
    Ok(sha)
}

/// EVAL script numkeys [key ...] [arg ...].
pub fn eval(srv: &mut Server, c: &mut Client) -> CmdResult {
    generic(srv, c, false, false)
}

/// EVAL_RO.
pub fn eval_ro(srv: &mut Server, c: &mut Client) -> CmdResult {
    generic(srv, c, false, true)
}

/// EVALSHA sha1 numkeys [key ...] [arg ...].
pub fn evalsha(srv: &mut Server, c: &mut Client) -> CmdResult {
    generic(srv, c, true, false)
}

/// EVALSHA_RO.
pub fn evalsha_ro(srv: &mut Server, c: &mut Client) -> CmdResult {
    generic(srv, c, true, true)
}

/// COMPAT: shared.noscripterr.
const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// Splits `numkeys key... arg...` starting at argument 2 (EVAL and FCALL
/// alike). COMPAT: evalGenericCommand's errors.
pub fn split_keys(c: &Client) -> Result<(usize, usize), ReplyError> {
    let n = crate::util::num::string2ll(c.arg(2)).ok_or(ReplyError::NotInteger)?;
    if n > (c.argc() - 3) as i64 {
        return Err(ReplyError::err("Number of keys can't be greater than number of args"));
    }
    if n < 0 {
        return Err(ReplyError::err("Number of keys can't be negative"));
    }
    Ok((3, 3 + n as usize))
}

fn generic(srv: &mut Server, c: &mut Client, by_sha: bool, ro: bool) -> CmdResult {
    super::feed_monitors_first(srv, c);
    if by_sha && c.arg(1).len() != 40 {
        return Err(ReplyError::other(NOSCRIPT));
    }
    let (first_key, first_arg) = split_keys(c)?;
    let script = if by_sha {
        let Some(script) = srv.script.cached(c.arg(1)) else { return Err(ReplyError::other(NOSCRIPT)) };
        script
    } else {
        let body = c.argv[1].clone();
        let sha = create(srv, &body)?;
        let Some(script) = srv.script.cached(sha.as_bytes()) else { return Err(ReplyError::other(NOSCRIPT)) };
        script
    };
    let callee =
        Callee { func: script.func.clone(), flags: script.flags, ro, funcname: script.sha.clone(), kind: Kind::Eval };
    super::run_on_argv(srv, c, callee, first_key, first_arg)
}

/// SCRIPT LOAD script.
pub fn script_load(srv: &mut Server, c: &mut Client) -> CmdResult {
    let body = c.argv[2].clone();
    let sha = create(srv, &body)?;
    c.reply.bulk(sha.as_bytes());
    Ok(())
}

/// SCRIPT EXISTS sha1 [sha1 ...].
pub fn script_exists(srv: &mut Server, c: &mut Client) -> CmdResult {
    c.reply.array(c.argc() - 2);
    for i in 2..c.argc() {
        c.reply.int(i64::from(srv.script.cached(c.arg(i)).is_some()));
    }
    Ok(())
}

/// Empties the script cache and starts a fresh interpreter.
pub fn flush_cache(srv: &mut Server) {
    srv.script.scripts.clear();
    srv.script.scripts_mem = 0;
    srv.script.engine = None;
}

/// SCRIPT FLUSH [ASYNC|SYNC].
pub fn script_flush(srv: &mut Server, c: &mut Client) -> CmdResult {
    let ok = c.argc() == 2
        || (c.argc() == 3 && (c.arg(2).eq_ignore_ascii_case(b"sync") || c.arg(2).eq_ignore_ascii_case(b"async")));
    if !ok {
        // COMPAT: scriptCommand's FLUSH error.
        return Err(ReplyError::err("SCRIPT FLUSH only support SYNC|ASYNC option"));
    }
    flush_cache(srv);
    c.reply.ok();
    Ok(())
}

/// SCRIPT KILL.
pub fn script_kill(srv: &mut Server, c: &mut Client) -> CmdResult {
    super::kill(srv, c, true)
}

/// SCRIPT DEBUG YES|SYNC|NO. Viator has no Lua debugger: every mode is
/// accepted and scripts keep running normally (as with the debugger off);
/// YES and SYNC are logged so an operator knows why no session starts.
pub fn script_debug(_srv: &mut Server, c: &mut Client) -> CmdResult {
    let mode = c.arg(2);
    if mode.eq_ignore_ascii_case(b"yes") || mode.eq_ignore_ascii_case(b"sync") {
        log::info!("SCRIPT DEBUG {}: no Lua debugger here, scripts run normally", String::from_utf8_lossy(mode));
    } else if !mode.eq_ignore_ascii_case(b"no") {
        // COMPAT: scriptCommand's DEBUG error.
        return Err(ReplyError::err("Use SCRIPT DEBUG YES/SYNC/NO"));
    }
    c.reply.ok();
    Ok(())
}

/// SCRIPT HELP.
pub fn script_help(_srv: &mut Server, c: &mut Client) -> CmdResult {
    // COMPAT: scriptCommand's help lines.
    crate::cmd::help_reply(
        c,
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs_are_parsed_as_redis_does() {
        assert_eq!(shebang_flags(b"return 1").unwrap(), (ScriptFlags::EVAL_COMPAT, 0));
        let (f, n) = shebang_flags(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(f.has(ScriptFlags::NO_WRITES) && f.has(ScriptFlags::ALLOW_OOM) && !f.has(ScriptFlags::EVAL_COMPAT));
        assert_eq!(n, 31);
        assert_eq!(shebang_flags(b"#!lua\nreturn 1").unwrap().0, ScriptFlags::default());
        assert_eq!(shebang_flags(b"#!lua").unwrap_err(), "Invalid script shebang");
        assert_eq!(shebang_flags(b"#!py\n").unwrap_err(), "Unexpected engine in script shebang: #!py");
        assert_eq!(shebang_flags(b"#!lua flags=bad\n").unwrap_err(), "Unexpected flag in script shebang: bad");
        assert_eq!(shebang_flags(b"#!lua x=1\n").unwrap_err(), "Unknown lua shebang option: x=1");
    }

    #[test]
    fn random_shebangs_never_panic() {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..2000 {
            let mut body = b"#!".to_vec();
            for _ in 0..(x % 40) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let alphabet = b"lua flags=,-nowrites\n \t";
                body.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            let _ = shebang_flags(&body);
        }
    }

    #[test]
    fn the_sandbox_protects_globals() {
        let e = new_engine().unwrap();
        let run = |src: &str| -> String {
            let f = e.compile(src.as_bytes()).unwrap();
            let (ok, v): (bool, mlua::Value) = e.runner.call((f, mlua::Value::Nil, mlua::Value::Nil)).unwrap();
            match v {
                mlua::Value::Table(t) if !ok => t.raw_get::<String>("err").unwrap(),
                other => format!("{ok}:{}", other.to_string().unwrap_or_default()),
            }
        };
        assert!(run("return a").contains("Script attempted to access nonexistent global variable 'a'"));
        assert!(run("a = 1").contains("Attempt to modify a readonly table"));
        assert!(run("redis.call = 1").contains("Attempt to modify a readonly table"));
        assert!(run("setmetatable(_G, {})").contains("Attempt to modify a readonly table"));
        assert!(run("local g = getmetatable(_G); g.__index = {}").contains("Attempt to modify a readonly table"));
        assert!(run("print('x')").contains("nonexistent global variable 'print'"));
        assert!(run("loadfile('x')").contains("nonexistent global variable 'loadfile'"));
        assert_eq!(run("local t = {} t.x = 1 return t.x"), "true:1");
        assert_eq!(run("return redis.sha1hex('')"), "true:da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert!(run("return redis.call('ping')").contains("can only be called inside a script invocation"));
    }
}
