//! Commands: the table (`table`, generated metadata in `specs`) and one module
//! per command family. Handlers are plain functions over `&mut Server` and
//! the calling `&mut Client`; they parse their arguments, do the work through
//! the keyspace, and write replies. They never touch sockets, the AOF or
//! replicas: `server::execute` does everything around them.

pub mod args;
pub mod bitops;
pub mod conn;
pub mod debug;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod keys;
pub mod list;
pub mod memory;
pub mod multi;
pub mod pubsub;
pub mod server;
pub mod set;
pub mod spec;
#[rustfmt::skip]
pub mod specs;
pub mod stream;
pub mod string;
pub mod table;
pub mod zset;

use crate::client::reply::CmdResult;
use crate::client::Client;

/// A command handler.
pub type Handler = fn(&mut crate::server::Server, &mut Client) -> CmdResult;

/// Which handler runs which command (`container|sub` for subcommands). Only
/// commands listed here are offered; the rest of the metadata waits for them.
pub static BINDINGS: &[(&str, Handler)] = &[
    // connection
    ("ping", conn::ping),
    ("echo", conn::echo),
    ("quit", conn::quit),
    ("reset", conn::reset),
    ("auth", conn::auth),
    ("hello", conn::hello),
    ("select", keys::select),
    ("client|id", conn::client_id),
    ("client|setname", conn::client_setname),
    ("client|getname", conn::client_getname),
    ("client|info", conn::client_info),
    ("client|list", conn::client_list),
    ("client|kill", conn::client_kill),
    ("client|pause", conn::client_pause),
    ("client|unpause", conn::client_unpause),
    ("client|reply", conn::client_reply),
    ("client|no-evict", conn::client_no_evict),
    ("client|unblock", conn::client_unblock),
    ("client|help", conn::client_help),
    ("client|tracking", crate::tracking::client_tracking),
    ("client|caching", crate::tracking::client_caching),
    ("client|getredir", crate::tracking::client_getredir),
    ("client|trackinginfo", crate::tracking::client_trackinginfo),
    // keyspace
    ("del", keys::del),
    ("unlink", keys::unlink),
    ("exists", keys::exists),
    ("touch", keys::touch),
    ("type", keys::type_),
    ("rename", keys::rename),
    ("renamenx", keys::renamenx),
    ("move", keys::move_),
    ("copy", keys::copy),
    ("keys", keys::keys),
    ("scan", keys::scan),
    ("randomkey", keys::randomkey),
    ("dbsize", keys::dbsize),
    ("swapdb", keys::swapdb),
    ("flushdb", keys::flushdb),
    ("flushall", keys::flushall),
    ("expire", keys::expire),
    ("pexpire", keys::pexpire),
    ("expireat", keys::expireat),
    ("pexpireat", keys::pexpireat),
    ("ttl", keys::ttl),
    ("pttl", keys::pttl),
    ("expiretime", keys::expiretime),
    ("pexpiretime", keys::pexpiretime),
    ("persist", keys::persist),
    ("object|encoding", keys::object_encoding),
    ("object|refcount", keys::object_refcount),
    ("object|idletime", keys::object_idletime),
    ("object|freq", keys::object_freq),
    ("object|help", keys::object_help),
    // strings
    ("get", string::get),
    ("set", string::set),
    ("setnx", string::setnx),
    ("setex", string::setex),
    ("psetex", string::psetex),
    ("getex", string::getex),
    ("getdel", string::getdel),
    ("getset", string::getset),
    ("mget", string::mget),
    ("mset", string::mset),
    ("msetnx", string::msetnx),
    ("incr", string::incr),
    ("decr", string::decr),
    ("incrby", string::incrby),
    ("decrby", string::decrby),
    ("incrbyfloat", string::incrbyfloat),
    ("append", string::append),
    ("strlen", string::strlen),
    ("getrange", string::getrange),
    ("substr", string::getrange),
    ("setrange", string::setrange),
    ("lcs", string::lcs),
    // bitmaps
    ("setbit", bitops::setbit),
    ("getbit", bitops::getbit),
    ("bitcount", bitops::bitcount),
    ("bitpos", bitops::bitpos),
    ("bitop", bitops::bitop),
    ("bitfield", bitops::bitfield),
    ("bitfield_ro", bitops::bitfield_ro),
    // geo
    ("geoadd", geo::geoadd),
    ("geopos", geo::geopos),
    ("geodist", geo::geodist),
    ("geohash", geo::geohash),
    ("georadius", geo::georadius),
    ("georadius_ro", geo::georadius_ro),
    ("georadiusbymember", geo::georadiusbymember),
    ("georadiusbymember_ro", geo::georadiusbymember_ro),
    ("geosearch", geo::geosearch),
    ("geosearchstore", geo::geosearchstore),
    // hyperloglog
    ("pfadd", hll::pfadd),
    ("pfcount", hll::pfcount),
    ("pfmerge", hll::pfmerge),
    ("pfdebug", hll::pfdebug),
    ("pfselftest", hll::pfselftest),
    // transactions
    ("multi", multi::multi),
    ("exec", multi::exec),
    ("discard", multi::discard),
    ("watch", multi::watch),
    ("unwatch", multi::unwatch),
    // pub/sub
    ("subscribe", pubsub::subscribe),
    ("unsubscribe", pubsub::unsubscribe),
    ("psubscribe", pubsub::psubscribe),
    ("punsubscribe", pubsub::punsubscribe),
    ("publish", pubsub::publish),
    ("ssubscribe", pubsub::ssubscribe),
    ("sunsubscribe", pubsub::sunsubscribe),
    ("spublish", pubsub::spublish),
    ("pubsub|shardchannels", pubsub::pubsub_shardchannels),
    ("pubsub|shardnumsub", pubsub::pubsub_shardnumsub),
    ("pubsub|channels", pubsub::pubsub_channels),
    ("pubsub|numsub", pubsub::pubsub_numsub),
    ("pubsub|numpat", pubsub::pubsub_numpat),
    ("pubsub|help", pubsub::pubsub_help),
    // sets
    ("sadd", set::sadd),
    ("srem", set::srem),
    ("scard", set::scard),
    ("sismember", set::sismember),
    ("smismember", set::smismember),
    ("smembers", set::smembers),
    ("srandmember", set::srandmember),
    ("spop", set::spop),
    ("smove", set::smove),
    ("sinter", set::sinter),
    ("sintercard", set::sintercard),
    ("sinterstore", set::sinterstore),
    ("sunion", set::sunion),
    ("sunionstore", set::sunionstore),
    ("sdiff", set::sdiff),
    ("sdiffstore", set::sdiffstore),
    ("sscan", set::sscan),
    // sorted sets
    ("zadd", zset::zadd),
    ("zincrby", zset::zincrby),
    ("zrem", zset::zrem),
    ("zcard", zset::zcard),
    ("zscore", zset::zscore),
    ("zmscore", zset::zmscore),
    ("zrank", zset::zrank),
    ("zrevrank", zset::zrevrank),
    ("zcount", zset::zcount),
    ("zlexcount", zset::zlexcount),
    ("zrange", zset::zrange),
    ("zrangestore", zset::zrangestore),
    ("zrevrange", zset::zrevrange),
    ("zrangebyscore", zset::zrangebyscore),
    ("zrevrangebyscore", zset::zrevrangebyscore),
    ("zrangebylex", zset::zrangebylex),
    ("zrevrangebylex", zset::zrevrangebylex),
    ("zremrangebyrank", zset::zremrangebyrank),
    ("zremrangebyscore", zset::zremrangebyscore),
    ("zremrangebylex", zset::zremrangebylex),
    ("zunion", zset::zunion),
    ("zinter", zset::zinter),
    ("zdiff", zset::zdiff),
    ("zintercard", zset::zintercard),
    ("zunionstore", zset::zunionstore),
    ("zinterstore", zset::zinterstore),
    ("zdiffstore", zset::zdiffstore),
    ("zrandmember", zset::zrandmember),
    ("zpopmin", zset::zpopmin),
    ("zpopmax", zset::zpopmax),
    ("bzpopmin", zset::bzpopmin),
    ("bzpopmax", zset::bzpopmax),
    ("zmpop", zset::zmpop),
    ("bzmpop", zset::bzmpop),
    ("zscan", zset::zscan),
    // lists
    ("lpush", list::lpush),
    ("rpush", list::rpush),
    ("lpushx", list::lpushx),
    ("rpushx", list::rpushx),
    ("linsert", list::linsert),
    ("llen", list::llen),
    ("lindex", list::lindex),
    ("lrange", list::lrange),
    ("lpos", list::lpos),
    ("lset", list::lset),
    ("ltrim", list::ltrim),
    ("lrem", list::lrem),
    ("lpop", list::lpop),
    ("rpop", list::rpop),
    ("lmpop", list::lmpop),
    ("lmove", list::lmove),
    ("rpoplpush", list::rpoplpush),
    ("blpop", list::blpop),
    ("brpop", list::brpop),
    ("blmpop", list::blmpop),
    ("blmove", list::blmove),
    ("brpoplpush", list::brpoplpush),
    // hashes
    ("hset", hash::hset),
    ("hmset", hash::hmset),
    ("hsetnx", hash::hsetnx),
    ("hdel", hash::hdel),
    ("hincrby", hash::hincrby),
    ("hincrbyfloat", hash::hincrbyfloat),
    ("hget", hash::hget),
    ("hmget", hash::hmget),
    ("hlen", hash::hlen),
    ("hstrlen", hash::hstrlen),
    ("hexists", hash::hexists),
    ("hkeys", hash::hkeys),
    ("hvals", hash::hvals),
    ("hgetall", hash::hgetall),
    ("hrandfield", hash::hrandfield),
    ("hscan", hash::hscan),
    // streams
    ("xadd", stream::xadd),
    ("xtrim", stream::xtrim),
    ("xrange", stream::xrange),
    ("xrevrange", stream::xrevrange),
    ("xlen", stream::xlen),
    ("xdel", stream::xdel),
    ("xsetid", stream::xsetid),
    ("xread", stream::xread),
    ("xreadgroup", stream::xreadgroup),
    ("xgroup|create", stream::xgroup),
    ("xgroup|setid", stream::xgroup),
    ("xgroup|destroy", stream::xgroup),
    ("xgroup|createconsumer", stream::xgroup),
    ("xgroup|delconsumer", stream::xgroup),
    ("xgroup|help", stream::xgroup_help),
    ("xack", stream::xack),
    ("xpending", stream::xpending),
    ("xclaim", stream::xclaim),
    ("xautoclaim", stream::xautoclaim),
    ("xinfo|stream", stream::xinfo_stream),
    ("xinfo|groups", stream::xinfo_groups),
    ("xinfo|consumers", stream::xinfo_consumers),
    ("xinfo|help", stream::xinfo_help),
    // server
    ("info", server::info),
    ("time", server::time),
    ("lastsave", server::lastsave),
    ("shutdown", server::shutdown),
    ("config|get", server::config_get),
    ("config|set", server::config_set),
    ("config|rewrite", server::config_rewrite),
    ("config|resetstat", server::config_resetstat),
    ("config|help", server::config_help),
    ("command", server::command),
    ("command|count", server::command_count),
    ("command|info", server::command_info),
    ("command|list", server::command_list),
    ("command|docs", server::command_docs),
    ("command|getkeys", server::command_getkeys),
    ("command|getkeysandflags", server::command_getkeysandflags),
    ("command|help", server::command_help),
    ("debug", debug::debug),
    ("memory|usage", memory::usage),
    ("memory|stats", memory::stats),
    ("memory|doctor", memory::doctor),
    ("memory|malloc-stats", memory::malloc_stats),
    ("memory|purge", memory::purge),
    ("memory|help", memory::help),
];

/// Replies to `<CMD> HELP` in Redis's layout: a header line, the given lines,
/// then the HELP entry, all as status replies.
pub fn help_reply(c: &mut Client, cmd: &str, lines: &[&str]) {
    c.reply.array(lines.len() + 3);
    c.reply.simple(&format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    for l in lines {
        c.reply.simple(l);
    }
    c.reply.simple("HELP");
    c.reply.simple("    Print this help.");
}
