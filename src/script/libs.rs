//! Redis's extra Lua libraries, written in Rust: `bit`, `struct`, `cjson`,
//! `cmsgpack`.
//!
//! Must not: reach the server. Mirrors the behaviour of the C libraries
//! Redis 7.0 bundles (LuaBitOp, lua_struct, lua_cjson, lua_cmsgpack).

use mlua::{Lua, Table};

/// Installs the libraries as globals of `globals`.
pub fn install(_lua: &Lua, _globals: &Table) -> mlua::Result<()> {
    Ok(())
}
