//! (stub: filled in by the landing that owns this module)
pub mod dict;
