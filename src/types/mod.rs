//! Value representations. Pure data structures: no I/O, no clock, no clients.
//! Thresholds for switching encodings are passed in by the caller.

pub mod arena;
pub mod geohash;
pub mod hash;
pub mod hll;
pub mod idtable;
pub mod intset;
pub mod list;
pub mod listpack;
pub mod pairtable;
pub mod sds;
pub mod set;
pub mod skiplist;
pub mod stream;
pub mod value;
pub mod zset;
