//! MEMORY: USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE, HELP.
//!
//! Sizes come from jemalloc's statistics (the allocator Redis uses too) and,
//! for MEMORY USAGE, from each value's own estimate plus the per-key entry
//! overhead of the keyspace table.

use super::args;
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::server::Server;

/// Bytes a key costs in the table besides its value: the chained entry (key,
/// value header, next pointer) and its bucket slot.
const ENTRY_OVERHEAD: usize = 64 + 8;

/// MEMORY USAGE key [SAMPLES count].
pub fn usage(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut samples = 5usize;
    match c.argc() {
        3 => {}
        5 if args::is(c.arg(3), "samples") => {
            let n = args::int(c.arg(4))?;
            if n < 0 {
                return Err(ReplyError::Syntax);
            }
            samples = n as usize;
        }
        _ => return Err(ReplyError::Syntax),
    }
    let key = c.argv[2].clone();
    let db = c.db;
    if !srv.ks.exists(db, &key) {
        c.reply.null();
        return Ok(());
    }
    let Some((k, v)) = srv.ks.dbs[db].dict.get_key_value(&key) else {
        c.reply.null();
        return Ok(());
    };
    let n = ENTRY_OVERHEAD + k.heap_size() + v.value.mem_usage(samples);
    c.reply.int(n as i64);
    Ok(())
}

/// MEMORY STATS: the main figures as a map.
pub fn stats(srv: &mut Server, c: &mut Client) -> CmdResult {
    let used = crate::info::used_memory();
    let rss = crate::info::rss_bytes();
    let keys: usize = srv.ks.dbs.iter().map(|d| d.dict.len()).sum();
    c.reply.map(7);
    c.reply.bulk(b"peak.allocated");
    c.reply.int(used as i64);
    c.reply.bulk(b"total.allocated");
    c.reply.int(used as i64);
    c.reply.bulk(b"startup.allocated");
    c.reply.int(0);
    c.reply.bulk(b"clients.normal");
    c.reply.int(srv.clients.len() as i64 * 1024);
    c.reply.bulk(b"keys.count");
    c.reply.int(keys as i64);
    c.reply.bulk(b"keys.bytes-per-key");
    c.reply.int((used as usize).checked_div(keys).unwrap_or(0) as i64);
    c.reply.bulk(b"fragmentation");
    c.reply.double(if used > 0 { rss as f64 / used as f64 } else { 0.0 });
    Ok(())
}

/// MEMORY DOCTOR.
pub fn doctor(_srv: &mut Server, c: &mut Client) -> CmdResult {
    c.reply.verbatim(
        b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.",
        "txt",
    );
    Ok(())
}

/// MEMORY MALLOC-STATS.
pub fn malloc_stats(_srv: &mut Server, c: &mut Client) -> CmdResult {
    let used = crate::info::used_memory();
    c.reply.verbatim(format!("jemalloc allocated: {used}\n").as_bytes(), "txt");
    Ok(())
}

/// MEMORY PURGE.
pub fn purge(_srv: &mut Server, c: &mut Client) -> CmdResult {
    c.reply.ok();
    Ok(())
}

/// MEMORY HELP.
pub fn help(_srv: &mut Server, c: &mut Client) -> CmdResult {
    super::help_reply(
        c,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}
