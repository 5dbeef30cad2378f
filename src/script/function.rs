//! Functions: FUNCTION LOAD/DELETE/FLUSH/LIST/DUMP/RESTORE/STATS/KILL/HELP,
//! FCALL and FCALL_RO, and the library registry they share.
//!
//! Owns the function interpreter (separate from EVAL's, as in Redis) and
//! the libraries loaded into it, each kept with its full source (the
//! `#!lua name=<lib>` payload), which is what RDB (FUNCTION2 opcode), AOF
//! rewrite (FUNCTION LOAD), DUMP and replication carry.
//!
//! Must not: persist anything itself (persist/ asks for `sources()` and
//! hands loaded sources to `load_sources`). Mirrors Redis 7.0's
//! functions.c and function_lua.c: their error texts, the load-time API
//! (only `redis.register_function`, `redis.log` and the version constants
//! exist while a library's top level runs), and the 500 ms load timeout.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mlua::{Function, Lua, MultiValue, Table, Value};

use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::server::Server;

use super::engine::Watch;
use super::{Callee, Kind, ScriptFlags};

/// How long a library's top level may run (Redis's LOAD_TIMEOUT_MS).
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// One registered function.
#[derive(Debug)]
pub struct FunctionInfo {
    /// Its name (FCALL's first argument).
    pub name: String,
    /// `description` from the table form, if given.
    pub desc: Option<Bytes>,
    /// Its flags.
    pub flags: ScriptFlags,
    /// The Lua callback.
    pub func: Function,
}

/// One library.
#[derive(Debug)]
pub struct Library {
    /// Its name from `#!lua name=...`.
    pub name: String,
    /// The whole payload as loaded (shebang included).
    pub code: Bytes,
    /// Its functions, by name.
    pub functions: BTreeMap<String, FunctionInfo>,
}

/// The function interpreter and its libraries.
#[derive(Default)]
pub struct Functions {
    /// The interpreter; `None` while a function runs in it, or before the
    /// first library is loaded.
    pub engine: Option<super::engine::Engine>,
    /// Libraries by name.
    pub libraries: BTreeMap<String, Library>,
    /// Function name -> library name.
    pub index: HashMap<String, String>,
}

/// Registrations collected while a library's top level runs.
#[derive(Default)]
struct LoadCtx {
    functions: Vec<FunctionInfo>,
    error: Option<String>,
}

impl Functions {
    /// INFO's used_memory_vm_functions.
    pub fn vm_memory(&self) -> usize {
        self.engine.as_ref().map_or(0, |e| e.used_memory())
    }

    /// INFO's used_memory_functions (sources and names).
    pub fn memory(&self) -> usize {
        self.libraries.values().map(|l| l.code.len() + l.name.len() + l.functions.len() * 64).sum()
    }

    /// Number of functions.
    pub fn function_count(&self) -> usize {
        self.index.len()
    }

    /// Number of libraries.
    pub fn library_count(&self) -> usize {
        self.libraries.len()
    }

    /// Every library's source, for RDB, AOF rewrite and DUMP.
    pub fn sources(&self) -> Vec<Bytes> {
        self.libraries.values().map(|l| l.code.clone()).collect()
    }

    /// Drops every library (the interpreter is started afresh).
    pub fn flush(&mut self) {
        self.libraries.clear();
        self.index.clear();
        self.engine = None;
    }

    fn engine(&mut self) -> Result<&mut super::engine::Engine, String> {
        if self.engine.is_none() {
            self.engine = Some(new_engine().map_err(|e| super::engine::lua_error_text(&e))?);
        }
        self.engine.as_mut().ok_or_else(|| "scripting engine unavailable".to_string())
    }

    /// Compiles and runs a library's top level, collecting its functions;
    /// the registry is not changed. COMPAT: functionsCreateWithLibraryCtx's
    /// and luaEngineCreate's errors.
    pub fn compile(&mut self, code: &Bytes) -> Result<Library, String> {
        let (engine_name, name, body_start) = metadata(code)?;
        if !valid_name(&name) {
            return Err(
                "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"
                    .into(),
            );
        }
        if !engine_name.eq_ignore_ascii_case("lua") {
            return Err(format!("Engine '{engine_name}' not found"));
        }
        let engine = self.engine()?;
        let chunk = engine
            .lua
            .load(&code[body_start..])
            .set_name("@user_function")
            .into_function()
            .map_err(|e| format!("Error compiling function: {}", super::engine::lua_error_text(&e)))?;
        let lua = &engine.lua;
        lua.set_app_data(LoadCtx::default());
        let lib_api: Table = lua.named_registry_value("viator.lib_api").map_err(|e| e.to_string())?;
        let _ = engine.set_env.call::<()>(lib_api);
        engine.watch.set(Watch::Load(Instant::now() + LOAD_TIMEOUT));
        let ran = engine.runner.call::<(bool, Value)>((chunk, Value::Nil, Value::Nil));
        engine.watch.set(Watch::Idle);
        let _ = engine.set_env.call::<()>(Value::Nil);
        let ctx = lua.remove_app_data::<LoadCtx>().unwrap_or_default();
        match ran {
            Ok((true, _)) => {}
            Ok((false, Value::Table(t))) => {
                let msg = t.raw_get::<String>("err").unwrap_or_default();
                return Err(format!("Error registering functions: {msg}"));
            }
            Ok((false, _)) => return Err("Error registering functions: execution failure".into()),
            Err(e) => return Err(format!("Error registering functions: {}", super::engine::lua_error_text(&e))),
        }
        if let Some(e) = ctx.error {
            return Err(e);
        }
        if ctx.functions.is_empty() {
            return Err("No functions registered".into());
        }
        let mut functions = BTreeMap::new();
        for f in ctx.functions {
            functions.insert(f.name.clone(), f);
        }
        Ok(Library { name, code: code.clone(), functions })
    }

    /// Adds `libs` to the registry: with `replace`, a library of the same
    /// name goes; otherwise it is an error. Function names must not clash.
    /// All or nothing. COMPAT: libraryJoin's errors.
    pub fn join(&mut self, libs: Vec<Library>, replace: bool, quoted: bool) -> Result<(), String> {
        let mut removed = Vec::new();
        for lib in &libs {
            if self.libraries.contains_key(&lib.name) {
                if !replace {
                    for old in removed {
                        self.link(old);
                    }
                    return Err(if quoted {
                        format!("Library '{}' already exists", lib.name)
                    } else {
                        format!("Library {} already exists", lib.name)
                    });
                }
                if let Some(old) = self.unlink(&lib.name) {
                    removed.push(old);
                }
            }
        }
        let mut seen = HashMap::new();
        for lib in &libs {
            for f in lib.functions.keys() {
                let key = f.to_ascii_lowercase();
                if self.index.contains_key(&key) || seen.insert(key, ()).is_some() {
                    for old in removed {
                        self.link(old);
                    }
                    return Err(format!("Function {f} already exists"));
                }
            }
        }
        for lib in libs {
            self.link(lib);
        }
        Ok(())
    }

    fn link(&mut self, lib: Library) {
        for f in lib.functions.keys() {
            self.index.insert(f.to_ascii_lowercase(), lib.name.clone());
        }
        self.libraries.insert(lib.name.clone(), lib);
    }

    fn unlink(&mut self, name: &str) -> Option<Library> {
        let lib = self.libraries.remove(name)?;
        for f in lib.functions.keys() {
            self.index.remove(&f.to_ascii_lowercase());
        }
        Some(lib)
    }

    /// The function called `name`.
    pub fn function(&self, name: &str) -> Option<&FunctionInfo> {
        let lib = self.index.get(&name.to_ascii_lowercase())?;
        self.libraries.get(lib)?.functions.values().find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

/// Loads library sources read from an RDB file or a sync payload; a
/// library of the same name is replaced when `replace`, an error otherwise.
pub fn load_sources(srv: &mut Server, sources: &[Vec<u8>], replace: bool) -> Result<(), String> {
    let mut libs = Vec::new();
    for src in sources {
        let code = Bytes::copy_from_slice(src);
        libs.push(srv.script.functions.compile(&code)?);
    }
    srv.script.functions.join(libs, replace, false)
}

/// Reads `#!<engine> name=<lib>`: the engine, the library name and where
/// the code starts (its first newline, so line numbers hold).
fn metadata(code: &[u8]) -> Result<(String, String, usize), String> {
    // COMPAT: functionExtractLibMetaData's errors.
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else { return Err("Invalid library metadata".into()) };
    let words = crate::util::split::split_args(&code[..end]).ok_or_else(|| "Invalid library metadata".to_string())?;
    let mut parts = words.iter().map(|w| &w[..]);
    let Some(first) = parts.next() else { return Err("Invalid library metadata".into()) };
    let engine = String::from_utf8_lossy(&first[2..]).to_string();
    let mut name = None;
    for p in parts {
        if p.len() >= 5 && p[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err("Invalid metadata value, name argument was given multiple times".into());
            }
            name = Some(String::from_utf8_lossy(&p[5..]).to_string());
            continue;
        }
        return Err(format!("Invalid metadata value given: {}", String::from_utf8_lossy(p)));
    }
    let Some(name) = name else { return Err("Library name was not given".into()) };
    Ok((engine, name, end))
}

/// Letters, digits and underscores, at least one.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The function interpreter: the EVAL sandbox plus the load-time API
/// table (`redis.register_function`, `redis.log`, versions).
fn new_engine() -> mlua::Result<super::engine::Engine> {
    super::engine::Engine::new(|lua, globals| {
        let redis: Table = globals.raw_get("redis")?;
        let lib_redis = lua.create_table()?;
        lib_redis.raw_set("register_function", lua.create_function(register_function)?)?;
        for name in
            ["log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM"]
        {
            lib_redis.raw_set(name, redis.raw_get::<Value>(name)?)?;
        }
        let lib_api = lua.create_table()?;
        lib_api.raw_set("redis", lib_redis.clone())?;
        let missing = lua.create_function(|_, (_, k): (Value, Value)| -> mlua::Result<()> {
            let name = k.to_string().unwrap_or_default();
            Err(mlua::Error::RuntimeError(format!("Script attempted to access nonexistent global variable '{name}'")))
        })?;
        let mt = lua.create_table()?;
        mt.raw_set("__index", missing)?;
        mt.raw_set(
            "__newindex",
            lua.create_function(|_, _: MultiValue| -> mlua::Result<()> {
                Err(mlua::Error::RuntimeError("Attempt to modify a readonly table".into()))
            })?,
        )?;
        mt.raw_set("__metatable", false)?;
        lib_api.set_metatable(Some(mt.clone()));
        lib_redis.set_metatable(Some(mt));
        lua.set_named_registry_value("viator.lib_api", lib_api)?;
        Ok(())
    })
}

/// `redis.register_function(name, callback)` or
/// `redis.register_function{function_name=, callback=, flags=, description=}`.
fn register_function(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    let raise = |t: &str| Err(super::call::raise(t.as_bytes()));
    if lua.app_data_ref::<LoadCtx>().is_none() {
        // COMPAT: luaRegisterFunction's errors.
        return raise("redis.register_function can only be called on FUNCTION LOAD command");
    }
    let info = match args.len() {
        2 => {
            let Value::String(name) = &args[0] else {
                return raise("first argument to redis.register_function must be a string");
            };
            let Value::Function(f) = &args[1] else {
                return raise("second argument to redis.register_function must be a function");
            };
            FunctionInfo {
                name: name.to_string_lossy().to_string(),
                desc: None,
                flags: ScriptFlags::default(),
                func: f.clone(),
            }
        }
        1 => {
            let Value::Table(t) = &args[0] else {
                return raise("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
            };
            let (mut name, mut desc, mut func, mut flags) = (None, None, None, ScriptFlags::default());
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                let Value::String(k) = k else {
                    return raise("named argument key given to redis.register_function is not a string");
                };
                match k.to_string_lossy().to_ascii_lowercase().as_str() {
                    "function_name" => match v {
                        Value::String(s) => name = Some(s.to_string_lossy().to_string()),
                        _ => return raise("function_name argument given to redis.register_function must be a string"),
                    },
                    "description" => match v {
                        Value::String(s) => desc = Some(Bytes::copy_from_slice(&s.as_bytes())),
                        _ => return raise("description argument given to redis.register_function must be a string"),
                    },
                    "callback" => match v {
                        Value::Function(f) => func = Some(f),
                        _ => return raise("callback argument given to redis.register_function must be a function"),
                    },
                    "flags" => {
                        let Value::Table(ft) = v else {
                            return raise(
                                "flags argument to redis.register_function must be a table representing function flags",
                            );
                        };
                        for item in ft.sequence_values::<Value>() {
                            let Value::String(s) = item? else { return raise("unknown flag given") };
                            let lower = s.to_string_lossy().to_ascii_lowercase();
                            match ScriptFlags::by_name(lower.as_bytes()) {
                                Some(f) => flags.set(f),
                                None => return raise("unknown flag given"),
                            }
                        }
                    }
                    _ => return raise("unknown argument given to redis.register_function"),
                }
            }
            let Some(name) = name else { return raise("redis.register_function must get a function name argument") };
            let Some(func) = func else { return raise("redis.register_function must get a callback argument") };
            FunctionInfo { name, desc, flags, func }
        }
        _ => return raise("wrong number of arguments to redis.register_function"),
    };
    if !valid_name(&info.name) {
        // COMPAT: functionLibCreateFunction reuses the library-name text.
        return raise(
            "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        );
    }
    let Some(mut ctx) = lua.app_data_mut::<LoadCtx>() else { return Ok(()) };
    if ctx.functions.iter().any(|f| f.name.eq_ignore_ascii_case(&info.name)) {
        drop(ctx);
        return raise("Function already exists in the library");
    }
    ctx.functions.push(info);
    Ok(())
}

// ------------------------------------------------------------- commands

/// FUNCTION LOAD [REPLACE] code.
pub fn load(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut replace = false;
    let mut i = 2;
    while i < c.argc() - 1 {
        if c.arg(i).eq_ignore_ascii_case(b"replace") {
            replace = true;
            i += 1;
            continue;
        }
        // COMPAT: functionLoadCommand's errors.
        return Err(ReplyError::err(format!("Unknown option given: {}", String::from_utf8_lossy(c.arg(i)))));
    }
    if i >= c.argc() {
        return Err(ReplyError::err("Function code is missing"));
    }
    let code = c.argv[i].clone();
    let lib = srv.script.functions.compile(&code).map_err(ReplyError::err)?;
    let name = lib.name.clone();
    srv.script.functions.join(vec![lib], replace, true).map_err(ReplyError::err)?;
    srv.ks.dirty += 1;
    c.reply.bulk(name.as_bytes());
    Ok(())
}

/// FUNCTION DELETE library.
pub fn delete(srv: &mut Server, c: &mut Client) -> CmdResult {
    let name = String::from_utf8_lossy(c.arg(2)).to_string();
    if srv.script.functions.unlink(&name).is_none() {
        return Err(ReplyError::err("Library not found"));
    }
    srv.ks.dirty += 1;
    c.reply.ok();
    Ok(())
}

/// FUNCTION FLUSH [ASYNC|SYNC].
pub fn flush(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.argc() > 3 {
        return Err(ReplyError::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
            String::from_utf8_lossy(c.arg(1))
        )));
    }
    if c.argc() == 3 && !c.arg(2).eq_ignore_ascii_case(b"sync") && !c.arg(2).eq_ignore_ascii_case(b"async") {
        return Err(ReplyError::err("FUNCTION FLUSH only supports SYNC|ASYNC option"));
    }
    srv.script.functions.flush();
    srv.ks.dirty += 1;
    c.reply.ok();
    Ok(())
}

/// FUNCTION KILL.
pub fn kill(srv: &mut Server, c: &mut Client) -> CmdResult {
    super::kill(srv, c, false)
}

/// FUNCTION STATS.
pub fn stats(srv: &mut Server, c: &mut Client) -> CmdResult {
    if srv.script.run.as_ref().is_some_and(|r| r.eval) {
        return Err(ReplyError::other(super::SLOW_EVAL));
    }
    c.reply.map(2);
    c.reply.bulk(b"running_script");
    match srv.script.run.as_ref() {
        None => c.reply.null(),
        Some(run) => {
            c.reply.map(3);
            c.reply.bulk(b"name");
            c.reply.bulk(run.funcname.as_bytes());
            c.reply.bulk(b"command");
            c.reply.array(run.command.len());
            for a in &run.command {
                c.reply.bulk(a);
            }
            c.reply.bulk(b"duration_ms");
            c.reply.int(run.start.elapsed().as_millis() as i64);
        }
    }
    c.reply.bulk(b"engines");
    c.reply.map(1);
    c.reply.bulk(b"LUA");
    c.reply.map(2);
    c.reply.bulk(b"libraries_count");
    c.reply.int(srv.script.functions.library_count() as i64);
    c.reply.bulk(b"functions_count");
    c.reply.int(srv.script.functions.function_count() as i64);
    Ok(())
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
pub fn list(srv: &mut Server, c: &mut Client) -> CmdResult {
    let (mut with_code, mut pattern) = (false, None::<Bytes>);
    let mut i = 2;
    while i < c.argc() {
        // COMPAT: functionListCommand's errors.
        if !with_code && c.arg(i).eq_ignore_ascii_case(b"withcode") {
            with_code = true;
        } else if pattern.is_none() && c.arg(i).eq_ignore_ascii_case(b"libraryname") {
            if i + 1 >= c.argc() {
                return Err(ReplyError::err("library name argument was not given"));
            }
            i += 1;
            pattern = Some(c.argv[i].clone());
        } else {
            return Err(ReplyError::err(format!("Unknown argument {}", String::from_utf8_lossy(c.arg(i)))));
        }
        i += 1;
    }
    let libs: Vec<&Library> = srv
        .script
        .functions
        .libraries
        .values()
        .filter(|l| pattern.as_ref().is_none_or(|p| crate::util::glob::string_match(p, l.name.as_bytes(), true)))
        .collect();
    c.reply.array(libs.len());
    for l in libs {
        c.reply.map(if with_code { 4 } else { 3 });
        c.reply.bulk(b"library_name");
        c.reply.bulk(l.name.as_bytes());
        c.reply.bulk(b"engine");
        c.reply.bulk(b"LUA");
        c.reply.bulk(b"functions");
        c.reply.array(l.functions.len());
        for f in l.functions.values() {
            c.reply.map(3);
            c.reply.bulk(b"name");
            c.reply.bulk(f.name.as_bytes());
            c.reply.bulk(b"description");
            match &f.desc {
                Some(d) => c.reply.bulk(d),
                None => c.reply.null(),
            }
            c.reply.bulk(b"flags");
            let names = f.flags.names();
            c.reply.set(names.len());
            for n in names {
                c.reply.simple(n);
            }
        }
        if with_code {
            c.reply.bulk(b"library_code");
            c.reply.bulk(&l.code);
        }
    }
    Ok(())
}

/// FUNCTION DUMP: every library as FUNCTION2 records, then the RDB
/// version and a CRC-64, as DUMP's payloads.
pub fn dump(srv: &mut Server, c: &mut Client) -> CmdResult {
    let payload = dump_payload(&srv.script.functions.sources());
    c.reply.bulk(&payload);
    Ok(())
}

/// The FUNCTION DUMP payload of `sources`.
pub fn dump_payload(sources: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in sources {
        out.push(crate::rdb::opcodes::OP_FUNCTION2);
        crate::rdb::encode::put_string(&mut out, s, false);
    }
    crate::rdb::add_payload_footer(&mut out);
    out
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
pub fn restore(srv: &mut Server, c: &mut Client) -> CmdResult {
    if c.argc() > 4 {
        return Err(ReplyError::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
            String::from_utf8_lossy(c.arg(1))
        )));
    }
    #[derive(PartialEq)]
    enum Policy {
        Append,
        Replace,
        Flush,
    }
    let policy = match c.argv.get(3) {
        None => Policy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"append") => Policy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"replace") => Policy::Replace,
        Some(p) if p.eq_ignore_ascii_case(b"flush") => Policy::Flush,
        // COMPAT: functionRestoreCommand's errors.
        Some(_) => {
            return Err(ReplyError::err("Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."))
        }
    };
    let data = c.argv[2].clone();
    let Ok(body) = crate::rdb::verify_payload(&data, false) else {
        return Err(ReplyError::err("DUMP payload version or checksum are wrong"));
    };
    let sources = parse_payload(body).map_err(ReplyError::err)?;
    let mut libs = Vec::new();
    for s in &sources {
        libs.push(srv.script.functions.compile(s).map_err(ReplyError::err)?);
    }
    if policy == Policy::Flush {
        let old = std::mem::take(&mut srv.script.functions.libraries);
        srv.script.functions.index.clear();
        if let Err(e) = srv.script.functions.join(libs, false, false) {
            srv.script.functions.libraries.clear();
            srv.script.functions.index.clear();
            for (_, l) in old {
                srv.script.functions.link(l);
            }
            return Err(ReplyError::err(e));
        }
    } else {
        srv.script.functions.join(libs, policy == Policy::Replace, false).map_err(ReplyError::err)?;
    }
    srv.ks.dirty += 1;
    c.reply.ok();
    Ok(())
}

/// The library sources in a FUNCTION DUMP body (footer removed).
fn parse_payload(mut body: &[u8]) -> Result<Vec<Bytes>, String> {
    let mut out = Vec::new();
    while !body.is_empty() {
        // COMPAT: functionRestoreCommand's errors.
        let op = body[0];
        if op != crate::rdb::opcodes::OP_FUNCTION2 {
            return Err(if op == crate::rdb::opcodes::OP_FUNCTION {
                "Pre-release function format not supported.".into()
            } else {
                "given type is not a function".into()
            });
        }
        let mut r = crate::rdb::decode::Reader::new(&body[1..]);
        let s = r.bytes().map_err(|_| "failed loading the given functions payload".to_string())?;
        out.push(Bytes::copy_from_slice(&s));
        body = &body[1 + r.pos()..];
    }
    Ok(out)
}

/// FUNCTION HELP.
pub fn help(_srv: &mut Server, c: &mut Client) -> CmdResult {
    // COMPAT: functionHelpCommand's lines.
    crate::cmd::help_reply(
        c,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
    Ok(())
}

/// FCALL function numkeys [key ...] [arg ...].
pub fn fcall(srv: &mut Server, c: &mut Client) -> CmdResult {
    fcall_generic(srv, c, false)
}

/// FCALL_RO.
pub fn fcall_ro(srv: &mut Server, c: &mut Client) -> CmdResult {
    fcall_generic(srv, c, true)
}

fn fcall_generic(srv: &mut Server, c: &mut Client, ro: bool) -> CmdResult {
    super::feed_monitors_first(srv, c);
    let name = String::from_utf8_lossy(c.arg(1)).to_string();
    let Some(f) = srv.script.functions.function(&name) else {
        // COMPAT: fcallCommandGeneric's errors.
        return Err(ReplyError::err("Function not found"));
    };
    let (func, flags) = (f.func.clone(), f.flags);
    if crate::util::num::string2ll(c.arg(2)).is_none() {
        return Err(ReplyError::err("Bad number of keys provided"));
    }
    let (first_key, first_arg) = super::eval::split_keys(c)?;
    super::run_on_argv(
        srv,
        c,
        Callee { func, flags, ro, funcname: name.into(), kind: Kind::Function },
        first_key,
        first_arg,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_read_as_redis_reads_it() {
        assert_eq!(metadata(b"#!lua name=lib\nreturn").unwrap(), ("lua".into(), "lib".into(), 14));
        assert_eq!(metadata(b"return").unwrap_err(), "Missing library metadata");
        assert_eq!(metadata(b"#!lua name=x").unwrap_err(), "Invalid library metadata");
        assert_eq!(metadata(b"#!lua\n").unwrap_err(), "Library name was not given");
        assert_eq!(metadata(b"#!lua foo=bar\n").unwrap_err(), "Invalid metadata value given: foo=bar");
    }

    #[test]
    fn libraries_register_and_collide() {
        let mut f = Functions::default();
        let lib = f
            .compile(&Bytes::from_static(
                b"#!lua name=lib1\nredis.register_function('f1', function(keys, args) return 1 end)\nredis.register_function{function_name='f2', callback=function() return 2 end, flags={'no-writes'}}",
            ))
            .unwrap();
        assert_eq!(lib.functions.len(), 2);
        assert!(lib.functions["f2"].flags.has(ScriptFlags::NO_WRITES));
        f.join(vec![lib], false, true).unwrap();
        let again =
            f.compile(&Bytes::from_static(b"#!lua name=lib1\nredis.register_function('f1', function() end)")).unwrap();
        assert_eq!(f.join(vec![again], false, true).unwrap_err(), "Library 'lib1' already exists");
        let other =
            f.compile(&Bytes::from_static(b"#!lua name=lib2\nredis.register_function('f1', function() end)")).unwrap();
        assert_eq!(f.join(vec![other], false, true).unwrap_err(), "Function f1 already exists");
        let e = f.compile(&Bytes::from_static(b"#!lua name=lib3\nlocal x = string.len('a')")).unwrap_err();
        assert!(e.contains("nonexistent global variable 'string'"), "{e}");
        let e = f.compile(&Bytes::from_static(b"#!lua name=lib3\nlocal x = 1")).unwrap_err();
        assert_eq!(e, "No functions registered");
        let e = f.compile(&Bytes::from_static(b"#!lua name=lib3\nwhile true do end")).unwrap_err();
        assert!(e.contains("FUNCTION LOAD timeout"), "{e}");
    }

    #[test]
    fn dump_payloads_round_trip() {
        let srcs = vec![Bytes::from_static(b"#!lua name=a\n"), Bytes::from_static(b"#!lua name=b\n")];
        let p = dump_payload(&srcs);
        let body = crate::rdb::verify_payload(&p, false).unwrap();
        assert_eq!(parse_payload(body).unwrap(), srcs);
        let mut x: u64 = 88172645463325252;
        for _ in 0..2000 {
            let mut junk = vec![crate::rdb::opcodes::OP_FUNCTION2];
            for _ in 0..(x % 24) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                junk.push(x as u8);
            }
            let _ = parse_payload(&junk);
        }
    }
}
