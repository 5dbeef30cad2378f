//! The Lua 5.1 interpreter scripts run in, and its sandbox.
//!
//! Owns one `mlua::Lua` state set up as Redis 7.0 sets up its scripting
//! engine: the base library without `print`, `dofile`, `loadfile`; `table`,
//! `string`, `math`, `coroutine`; the `redis` table; Redis's extra libraries
//! (`bit`, `struct`, `cjson`, `cmsgpack`, see `libs`); globals that cannot be
//! written ("Attempt to modify a readonly table") and whose missing names are
//! an error ("Script attempted to access nonexistent global variable"); and
//! an error handler that turns every error into Redis's error table
//! (`err`, `source`, `line`).
//!
//! Stock Lua 5.1 has no read-only tables (Redis patches its copy), so the
//! protection is built from proxies: every library table the script sees is
//! an empty table whose metatable reads through to the real one and refuses
//! writes; `setmetatable` and `rawset` refuse the proxies too, and the
//! thread's globals are the proxy of the real globals table.
//!
//! Must not: run Redis commands or know the server. `redis.call` and the
//! other per-run functions reach the server through the dispatcher `run`
//! installs for the length of one call.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};

/// How many Lua instructions run between two looks at the clock.
const HOOK_INSTRUCTIONS: u32 = 100_000;

/// What the interpreter's count hook watches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// Nothing runs, or nothing is timed.
    Idle,
    /// A script runs; past this instant it is busy (other clients are
    /// served, SCRIPT/FUNCTION KILL may stop it).
    Run(Instant),
    /// A library's top level runs (FUNCTION LOAD); past this instant it
    /// fails.
    Load(Instant),
}

/// The setup chunk, run once with the real globals table, the error
/// handler, the table where per-run hooks are stored, the error text
/// helper, the marker and `redis.call` between runs. It returns the runner
/// `run(f, keys, args)`, `set_env(t)` and the script entry
/// `invoke(f, d, keys, args, eval)`.
const SETUP: &str = r#"
local G, handler, ctx, errtext, marker, call_outside = ...
local error, type, rawget, rawset, setmetatable, getmetatable, xpcall, tostring =
      error, type, rawget, rawset, setmetatable, getmetatable, xpcall, tostring
local readonly = setmetatable({}, {__mode = "k"})
local function refuse() error("Attempt to modify a readonly table", 3) end
local proxy_index
local function protect(t)
    local mt = {__index = t, __newindex = function() refuse() end}
    proxy_index = mt
    local shown = setmetatable({}, {__index = mt, __newindex = function() refuse() end, __metatable = false})
    readonly[shown] = true
    mt.__metatable = shown
    local p = setmetatable({}, mt)
    readonly[p] = true
    return p
end
G.setmetatable = function(t, m)
    if readonly[t] then refuse() end
    return setmetatable(t, m)
end
G.rawset = function(t, k, v)
    if readonly[t] then refuse() end
    return rawset(t, k, v)
end
local loadstring, load = G.loadstring, G.load
-- Binary chunks are refused (precompiled code can break the VM).
G.loadstring = function(s, ...)
    if type(s) == "string" and s:byte(1) == 27 then return nil, "binary chunks are not allowed" end
    return loadstring(s, ...)
end
G.load = function(f, ...)
    if type(f) == "string" and f:byte(1) == 27 then return nil, "binary chunks are not allowed" end
    return load(f, ...)
end
local redis = G.redis
local pcall, select, unpack = pcall, select, unpack
local function pcall_result(ok, ...)
    if ok then return ok, ... end
    local e = ...
    if type(e) == "table" and type(rawget(e, "err")) == "string" then
        e = rawget(e, "err")
    elseif type(e) == "userdata" then
        e = errtext(e)
    end
    return false, e
end
G.pcall = function(f, ...) return pcall_result(pcall(f, ...)) end
-- ctx.d is the run's entry point into the server (set for the length of
-- one run; it is redis.call too): d(marker, op, ...) with op 1 = pcall,
-- 2 = setresp, 3 = set_repl, 4 = acl_check_cmd. Scripts never see the
-- marker, so their own redis.call(...) cannot pass for one of these.
local function dispatcher(name)
    local d = ctx.d
    if d == nil then
        error({err = "ERR " .. name .. " can only be called inside a script invocation"})
    end
    return d
end
local function raise_err(r)
    if type(r) == "table" and rawget(r, "err") ~= nil then error(r) end
    return r
end
-- redis.call itself is a Rust function set for each run: a Lua wrapper
-- would be dropped from the stack by the script's `return redis.call(...)`
-- (a tail call), and with it the script line its errors name.
redis.pcall = function(...) return dispatcher("redis.call/pcall")(marker, 1, ...) end
for op, name in ipairs({"setresp", "set_repl", "acl_check_cmd"}) do
    local label = "redis." .. name
    redis[name] = function(...) return raise_err(dispatcher(label)(marker, op + 1, ...)) end
end
for _, lib in ipairs({"redis", "string", "table", "math", "coroutine", "bit", "struct", "cjson", "cmsgpack"}) do
    if G[lib] ~= nil then G[lib] = protect(G[lib]) end
end
local proxy = protect(G)

local gmt = getmetatable(G) or {}
gmt.__index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
setmetatable(G, gmt)
G._G = proxy
setfenv(0, proxy)
local run = function(f, keys, args)
    if keys == nil then return xpcall(f, handler) end
    return xpcall(function() return f(keys, args) end, handler)
end
-- One run: its entry point d becomes ctx.d and redis.call for its length
-- (table writes are cheapest made here, not from Rust). No keys or no
-- arguments come as nil: an empty table is cheapest made here too. An EVAL
-- script finds KEYS and ARGV as globals (G has no __newindex: plain
-- assignments are raw), a function gets them as its arguments. What
-- follows xpcall stays on its line: after SCRIPT KILL every new line
-- raises, and that must not happen out here.
local invoke = function(f, d, keys, args, eval)
    ctx.d = d
    redis.call = d
    local ok, v
    keys = keys or {}
    args = args or {}
    if eval then
        G.KEYS = keys
        G.ARGV = args
        ok, v = xpcall(f, handler); ctx.d = nil; redis.call = call_outside; return ok, v
    end
    ok, v = xpcall(function() return f(keys, args) end, handler); ctx.d = nil; redis.call = call_outside; return ok, v
end
return run, function(t) proxy_index.__index = t or G end, invoke
"#;

/// The registry name of the engine's `ctx` table (the busy hook finds the
/// run's dispatcher there).
pub const CTX_KEY: &str = "viator.ctx";

/// What the Lua side passes first when it calls the run's entry point for
/// something other than `redis.call` (a value no script can obtain).
pub fn marker() -> mlua::LightUserData {
    static MARKER: u8 = 0;
    mlua::LightUserData(std::ptr::addr_of!(MARKER) as *mut std::ffi::c_void)
}

/// The interpreter and the handles the rest of `script` needs.
pub struct Engine {
    /// The Lua state.
    pub lua: Lua,
    /// `run(f, keys, args)`: calls `f` under the error handler; returns
    /// `true, result` or `false, error table`.
    pub runner: Function,
    /// Where the run's dispatcher is stored (`d`: `redis.pcall`,
    /// `setresp`, `set_repl` and `acl_check_cmd` go through it).
    pub ctx: Table,
    /// What the count hook watches for; set around each run.
    pub watch: Rc<Cell<Watch>>,
    /// The real `redis` table (`redis.call` is set in it for each run).
    pub redis: Table,
    /// `redis.call` between runs: raises "can only be called inside a
    /// script invocation".
    pub call_outside: Function,
    /// `set_env(t)`: what unknown globals read through to (`t`, or the real
    /// globals when nil); FUNCTION LOAD narrows it to the load-time API.
    pub set_env: Function,
    /// `invoke(f, d, keys, args, eval)`: one script run with `d` as
    /// `redis.call` and the dispatcher for its length (both reset after),
    /// KEYS and ARGV (nil for an empty table) set as globals when `eval`,
    /// passed to `f` otherwise; returns as `runner`.
    pub invoke: Function,
}

impl Engine {
    /// A fresh interpreter with Redis's libraries and protections.
    /// `extra` installs further globals (the `redis` API pieces that differ
    /// between EVAL and functions) before the globals are locked.
    pub fn new(extra: impl FnOnce(&Lua, &Table) -> mlua::Result<()>) -> mlua::Result<Engine> {
        let lua = Lua::new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH, LuaOptions::default())?;
        let globals = lua.globals();
        for name in ["print", "dofile", "loadfile", "module", "require", "package", "debug", "os", "io"] {
            globals.raw_set(name, Value::Nil)?;
        }
        let redis = lua.create_table()?;
        super::api::install(&lua, &redis)?;
        globals.raw_set("redis", redis.clone())?;
        super::libs::install(&lua, &globals)?;
        extra(&lua, &globals)?;
        let handler = lua.create_function(error_handler)?;
        let ctx = lua.create_table()?;
        lua.set_named_registry_value(CTX_KEY, ctx.clone())?;
        let errtext = lua.create_function(|_, e: Value| {
            Ok(match &e {
                Value::Error(e) => match script_error(e) {
                    Some(se) => String::from_utf8_lossy(&se.text).to_string(),
                    None => format!("ERR {}", lua_error_text(e)),
                },
                other => other.to_string().unwrap_or_default(),
            })
        })?;
        let call_outside = lua.create_function(|_, _: mlua::MultiValue| -> mlua::Result<()> {
            // COMPAT: luaRedisGenericCommand outside a run.
            Err(super::call::raise(b"redis.call/pcall can only be called inside a script invocation"))
        })?;
        redis.raw_set("call", call_outside.clone())?;
        let (runner, set_env, invoke): (Function, Function, Function) = lua
            .load(SETUP)
            .set_name("=viator_setup")
            .call((globals.clone(), handler, ctx.clone(), errtext, marker(), call_outside.clone()))?;
        let watch = Rc::new(Cell::new(Watch::Idle));
        let engine = Engine { lua, runner, set_env, invoke, ctx, redis, call_outside, watch };
        engine.arm();
        Ok(engine)
    }

    /// Installs the count hook (at creation, and again after a killed
    /// script's every-line hook). It is set once rather than per run: a run
    /// only moves `watch`.
    pub fn arm(&self) {
        let watch = self.watch.clone();
        let every = HookTriggers { every_nth_instruction: Some(HOOK_INSTRUCTIONS), ..Default::default() };
        self.lua.set_hook(every, move |lua, _| match watch.get() {
            Watch::Run(deadline) if Instant::now() >= deadline => super::on_busy(lua),
            // COMPAT: luaEngineLoadHook's error.
            Watch::Load(deadline) if Instant::now() >= deadline => Err(super::call::raise(b"FUNCTION LOAD timeout")),
            _ => Ok(VmState::Continue),
        });
    }

    /// Compiles `body` as a script chunk named `@user_script`. The error
    /// text is Lua's (`user_script:1: ...`).
    pub fn compile(&self, body: &[u8]) -> Result<Function, String> {
        self.lua.load(body).set_name("@user_script").into_function().map_err(|e| lua_error_text(&e))
    }

    /// Memory the interpreter holds (INFO's used_memory_lua).
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }
}

/// The text of an mlua error as Lua itself would print it (no traceback).
pub fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

/// The Redis error a Rust callback raised, if `e` carries one.
pub fn script_error(e: &mlua::Error) -> Option<&super::api::ScriptError> {
    match e {
        mlua::Error::CallbackError { cause, .. } => script_error(cause),
        mlua::Error::ExternalError(x) => x.downcast_ref::<super::api::ScriptError>(),
        mlua::Error::WithContext { cause, .. } => script_error(cause),
        _ => None,
    }
}

/// The error handler: any error becomes a table `{err=...}`, with `source`
/// and `line` of the innermost user-script frame added (Redis reports the
/// caller of a failing C function, which is the script line at fault).
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Table> {
    let t = match err {
        Value::Table(t) => t,
        other => {
            let text = match &other {
                Value::String(s) => s.to_string_lossy().to_string(),
                Value::Error(e) => lua_error_text(e),
                Value::Nil => "nil".to_string(),
                v => v.to_string().unwrap_or_else(|_| "execution failure".into()),
            };
            let t = lua.create_table()?;
            // An error raised by a hook or a Rust callback already carries
            // its code (`ERR Script killed...`) and whether it was counted.
            match &other {
                Value::Error(e) if script_error(e).is_some() => {
                    let se = script_error(e).map(|se| (se.text.clone(), se.counted)).unwrap_or_default();
                    t.raw_set("err", lua.create_string(&se.0)?)?;
                    if se.1 {
                        t.raw_set("ignore_error_stats_update", true)?;
                    }
                }
                _ => t.raw_set("err", format!("ERR {text}"))?,
            }
            t
        }
    };
    for level in 1..12 {
        let Some(dbg) = lua.inspect_stack(level) else { break };
        let src = dbg.source();
        if let Some(name @ ("@user_script" | "@user_function")) = src.source.as_deref() {
            t.raw_set("source", name)?;
            t.raw_set("line", dbg.curr_line())?;
            break;
        }
    }
    Ok(t)
}
