//! The numbers of the RDB format (version 10, Redis 7.0): object type
//! bytes, file opcodes, length and string encoding markers.
//!
//! Owns nothing but these constants, so the writer and the reader cannot
//! disagree about them.

/// The RDB version written in file headers and DUMP trailers.
pub const RDB_VERSION: u16 = 10;

/// A string (any of the string encodings).
pub const TYPE_STRING: u8 = 0;
/// A list as a plain sequence of strings (old files).
pub const TYPE_LIST: u8 = 1;
/// A set as a sequence of strings.
pub const TYPE_SET: u8 = 2;
/// A sorted set with scores as text (old files).
pub const TYPE_ZSET: u8 = 3;
/// A hash as field/value strings.
pub const TYPE_HASH: u8 = 4;
/// A sorted set with binary double scores.
pub const TYPE_ZSET_2: u8 = 5;
/// Module values (not loadable here).
pub const TYPE_MODULE: u8 = 6;
/// Module values with annotations (not loadable here).
pub const TYPE_MODULE_2: u8 = 7;
/// A hash as a zipmap blob (Redis 2.x).
pub const TYPE_HASH_ZIPMAP: u8 = 9;
/// A list as one ziplist blob.
pub const TYPE_LIST_ZIPLIST: u8 = 10;
/// A set as an intset blob.
pub const TYPE_SET_INTSET: u8 = 11;
/// A sorted set as a ziplist blob.
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
/// A hash as a ziplist blob.
pub const TYPE_HASH_ZIPLIST: u8 = 13;
/// A list as quicklist nodes of ziplists.
pub const TYPE_LIST_QUICKLIST: u8 = 14;
/// A stream (Redis 5 layout).
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
/// A hash as a listpack blob.
pub const TYPE_HASH_LISTPACK: u8 = 16;
/// A sorted set as a listpack blob.
pub const TYPE_ZSET_LISTPACK: u8 = 17;
/// A list as quicklist nodes (packed listpacks or plain elements).
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
/// A stream with 7.0's first-ID, tombstone and read-counter metadata.
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;

/// Quicklist node container: one plain element.
pub const QUICKLIST_PLAIN: u64 = 1;
/// Quicklist node container: a listpack.
pub const QUICKLIST_PACKED: u64 = 2;

/// File opcode: function library (7.0 final).
pub const OP_FUNCTION2: u8 = 245;
/// File opcode: function library (7.0 release candidates).
pub const OP_FUNCTION: u8 = 246;
/// File opcode: module auxiliary data.
pub const OP_MODULE_AUX: u8 = 247;
/// File opcode: LRU idle seconds of the next key.
pub const OP_IDLE: u8 = 248;
/// File opcode: LFU counter of the next key.
pub const OP_FREQ: u8 = 249;
/// File opcode: an auxiliary field.
pub const OP_AUX: u8 = 250;
/// File opcode: table size hints for the selected db.
pub const OP_RESIZEDB: u8 = 251;
/// File opcode: expire time (ms) of the next key.
pub const OP_EXPIRETIME_MS: u8 = 252;
/// File opcode: expire time (s) of the next key (old files).
pub const OP_EXPIRETIME: u8 = 253;
/// File opcode: the db the following keys belong to.
pub const OP_SELECTDB: u8 = 254;
/// File opcode: end of data (the checksum follows).
pub const OP_EOF: u8 = 255;

/// Length marker: a 32-bit big-endian length follows.
pub const LEN_32BIT: u8 = 0x80;
/// Length marker: a 64-bit big-endian length follows.
pub const LEN_64BIT: u8 = 0x81;
/// String encoding: 8-bit signed integer.
pub const ENC_INT8: u8 = 0xC0;
/// String encoding: 16-bit little-endian signed integer.
pub const ENC_INT16: u8 = 0xC1;
/// String encoding: 32-bit little-endian signed integer.
pub const ENC_INT32: u8 = 0xC2;
/// String encoding: LZF compressed (compressed and plain lengths follow).
pub const ENC_LZF: u8 = 0xC3;

/// True for the object type bytes Redis 7.0 accepts (rdbIsObjectType).
pub fn is_object_type(t: u8) -> bool {
    t <= 7 || (9..=19).contains(&t)
}
