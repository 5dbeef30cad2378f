//! DEBUG: the subcommands operators and the Redis test suite use for what
//! exists so far (SLEEP, OBJECT, SET-ACTIVE-EXPIRE, DIGEST, DIGEST-VALUE, LOG,
//! HTSTATS, HTSTATS-KEY, LISTPACK, QUICKLIST, MALLCTL, MALLCTL-STR,
//! STRINGMATCH-TEST, CHANGE-REPL-ID, REPLICATE, JMAP, POPULATE, PAUSE-CRON
//! stand-ins).
//! Gated by `enable-debug-command` in `server::execute`'s caller (see `gate`).
//!
//! MALLCTL reads and writes jemalloc controls through the safe accessors of
//! `tikv_jemalloc_ctl`: integers of 64, 32 bits or booleans, strings only for
//! the names jemalloc documents as strings. Void controls (such as
//! `thread.tcache.flush`) need a raw call and are refused.
//!
//! DIGEST and DIGEST-VALUE compute exactly Redis's digest (SHA1 steps that
//! xor where order does not matter and chain where it does), so a Viator
//! and a Redis server holding the same data report the same digest, and an
//! empty dataset reports 40 zeros.

use super::args;
use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::config::ProtectedMode;
use crate::server::Server;
use crate::types::value::{Str, Value};

/// Refuses DEBUG unless `enable-debug-command` allows it for this client.
fn gate(srv: &Server, c: &Client) -> CmdResult {
    let allowed = match srv.config.enable_debug_command {
        ProtectedMode::Yes => true,
        ProtectedMode::Local => c.stream.is_local(),
        ProtectedMode::No => false,
    };
    if allowed {
        Ok(())
    } else {
        // COMPAT: Redis's rejection text.
        Err(ReplyError::err(
            "DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        ))
    }
}

/// DEBUG <subcommand> [args].
pub fn debug(srv: &mut Server, c: &mut Client) -> CmdResult {
    gate(srv, c)?;
    let sub = String::from_utf8_lossy(c.arg(1)).to_lowercase();
    match (sub.as_str(), c.argc()) {
        ("help", _) => {
            super::help_reply(
                c,
                "DEBUG",
                &[
                    "DIGEST",
                    "    Output a hex signature representing the current DB content.",
                    "DIGEST-VALUE <key> [<key> ...]",
                    "    Output a hex signature of the values of all the specified keys.",
                    "CHANGE-REPL-ID",
                    "    Change the replication IDs of the instance.",
                    "    Dangerous: should be used only for testing the replication subsystem.",
                    "HTSTATS <dbid>",
                    "    Return hash table statistics of the specified Redis database.",
                    "HTSTATS-KEY <key>",
                    "    Like HTSTATS but for the hash table stored at <key>'s value.",
                    "LISTPACK <key>",
                    "    Show low level info about the listpack encoding of <key>.",
                    "LOG <message>",
                    "    Write <message> to the server log.",
                    "MALLCTL <key> [<val>]",
                    "    Get or set a malloc tuning integer.",
                    "MALLCTL-STR <key> [<val>]",
                    "    Get or set a malloc tuning string.",
                    "OBJECT <key>",
                    "    Show low level info about the <key> and associated value.",
                    "POPULATE <count> [<prefix>] [<size>]",
                    "    Create <count> string keys named key:<num>.",
                    "REPLICATE <string>",
                    "    Replicates the provided string to replicas, allowing data divergence.",
                    "QUICKLIST <key> [<0|1>]",
                    "    Show low level info about the quicklist encoding of <key>.",
                    "    The optional argument (0 by default) sets the level of detail",
                    "SET-ACTIVE-EXPIRE <0|1>",
                    "    Setting it to 0 disables expiring keys in background when they are not accessed.",
                    "SLEEP <seconds>",
                    "    Stop the server for <seconds>. Decimals allowed.",
                    "STRINGMATCH-TEST",
                    "    Run a fuzz tester against the stringmatchlen() function.",
                ],
            );
        }
        ("sleep", 3) => {
            let secs = std::str::from_utf8(c.arg(2)).ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
            if secs > 0.0 {
                std::thread::sleep(std::time::Duration::from_secs_f64(secs));
            }
            c.reply.ok();
        }
        ("reload", _) => return crate::persist::rdb::debug_reload(srv, c),
        ("loadaof", 2) => return crate::persist::aof::debug_loadaof(srv, c),
        ("aof-flush-sleep", 3) => {
            srv.persist.aof.flush_sleep_us = args::int(c.arg(2)).unwrap_or(0).max(0) as u64;
            c.reply.ok();
        }
        ("set-skip-checksum-validation", 3) => {
            crate::rdb::set_skip_checksum_validation(args::int(c.arg(2)).unwrap_or(0) != 0);
            c.reply.ok();
        }
        ("set-disable-deny-scripts", 3) => {
            srv.script.disable_deny_script = args::int(c.arg(2)).unwrap_or(0) != 0;
            c.reply.ok();
        }
        ("set-active-expire", 3) => {
            srv.active_expire_enabled = args::int(c.arg(2)).unwrap_or(0) != 0;
            c.reply.ok();
        }
        ("log", 3) => {
            log::warn!("DEBUG LOG: {}", String::from_utf8_lossy(c.arg(2)));
            c.reply.ok();
        }
        ("object", 3) => {
            let key = c.argv[2].clone();
            let Some(obj) = srv.ks.dbs[c.db].dict.get(&key) else { return Err(ReplyError::NoSuchKey) };
            let idle_secs = obj.idle_ms(srv.ks.now_ms) / 1000;
            let lru = obj.lru;
            let v = &obj.value;
            let ser = match v {
                Value::Str(s) => s.len(),
                Value::Set(s) => s.len(),
                Value::ZSet(z) => z.len(),
                Value::Stream(st) => st.entries.heap_bytes(),
                Value::List(l) => l.byte_size(),
                Value::Hash(h) => match h.listpack() {
                    Some(lp) => lp.bytes(),
                    None => {
                        let mut n = 0;
                        h.for_each(|f, v| n += f.text_len() + v.text_len() + 2);
                        n
                    }
                },
            };
            // COMPAT: quicklists append their node statistics, as Redis does.
            let extra = match v {
                Value::List(l) => format!(
                    " ql_nodes:{} ql_avg_node:{:.2} ql_listpack_max:{} ql_compressed:{} ql_uncompressed_size:{}",
                    l.node_count(),
                    l.len() as f64 / l.node_count().max(1) as f64,
                    l.fill(),
                    (l.compress_depth() != 0) as u8,
                    l.byte_size()
                ),
                _ => String::new(),
            };
            let line = format!(
                "Value at:{:p} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}{}",
                v as *const Value,
                v.encoding(),
                ser,
                lru,
                idle_secs,
                extra
            );
            c.reply.simple(&line);
        }
        ("digest", 2) => {
            let d = dataset_digest(srv);
            c.reply.simple(&hex(&d));
        }
        ("digest-value", _) => {
            c.reply.array(c.argc() - 2);
            for i in 2..c.argc() {
                let mut d = [0u8; 20];
                let key = c.argv[i].clone();
                if let Some(v) = srv.ks.dbs[c.db].dict.get(&key) {
                    d = value_digest(&v.value, srv.ks.dbs[c.db].expires.get(&key[..]).is_some());
                }
                c.reply.simple(&hex(&d));
            }
        }
        ("protocol", 3) => protocol(c)?,
        ("htstats", 3) => {
            let dbid = args::int(c.arg(2))?;
            if dbid < 0 || dbid as usize >= srv.ks.dbs.len() {
                // COMPAT: Redis's text.
                return Err(ReplyError::err("Out of range database"));
            }
            let db = &srv.ks.dbs[dbid as usize];
            let text = format!("[Dictionary HT]\n{}[Expires HT]\n{}", db.dict.stats(), db.expires.stats());
            c.reply.verbatim(text.as_bytes(), "txt");
        }
        ("htstats-key", 3) => {
            let key = c.argv[2].clone();
            let Some(obj) = srv.ks.peek(c.db, &key) else { return Err(ReplyError::NoSuchKey) };
            match table_stats(&obj.value) {
                Some(text) => c.reply.verbatim(text.as_bytes(), "txt"),
                // COMPAT: Redis's text.
                None => {
                    return Err(ReplyError::err(
                        "The value stored at the specified key is not represented using an hash table",
                    ))
                }
            }
        }
        ("listpack", 3) => {
            let key = c.argv[2].clone();
            let Some(obj) = srv.ks.peek(c.db, &key) else { return Err(ReplyError::NoSuchKey) };
            if obj.value.encoding() != "listpack" {
                // COMPAT: Redis's text.
                return Err(ReplyError::err("Not a listpack encoded object."));
            }
            println!("{}", listpack_repr(&obj.value));
            c.reply.simple("Listpack structure printed on stdout");
        }
        ("quicklist", 3 | 4) => {
            let key = c.argv[2].clone();
            let Some(obj) = srv.ks.peek(c.db, &key) else { return Err(ReplyError::NoSuchKey) };
            let Value::List(l) = &obj.value else {
                // COMPAT: Redis's text.
                return Err(ReplyError::err("Not a quicklist encoded object."));
            };
            println!(
                "{{quicklist}} count: {} nodes: {} fill: {} compress: {}",
                l.len(),
                l.node_count(),
                l.fill(),
                l.compress_depth()
            );
            for (i, (entries, bytes, plain)) in l.node_shapes().into_iter().enumerate() {
                println!(
                    "{{node {i}}} entries: {entries} bytes: {bytes} container: {}",
                    if plain { "PLAIN" } else { "PACKED" }
                );
            }
            c.reply.simple("Quicklist structure printed on stdout");
        }
        ("stringmatch-test", 2) => {
            stringmatch_fuzz();
            c.reply.simple("Apparently Redis did not crash: test passed");
        }
        ("change-repl-id", 2) => {
            // A new history with no previous one: no replica can continue
            // partially from before this point.
            log::warn!("Changing replication IDs after receiving DEBUG change-repl-id");
            srv.repl.replid = crate::server::random_hex(40);
            srv.repl.replid2 = "0".repeat(40);
            srv.repl.second_offset = -1;
            c.reply.ok();
        }
        ("replicate", n) if n >= 3 => {
            // Sent to the replicas only, never run here: a way to make
            // them diverge (or fail) on purpose.
            let argv = c.argv[2..].to_vec();
            srv.replicate_only(c.db, &argv);
            c.reply.ok();
        }
        ("mallctl", 3 | 4) => mallctl_int(c)?,
        ("mallctl-str", 3 | 4) => mallctl_str(c)?,
        ("quicklist-packed-threshold", 3) => {
            match crate::config::memtoull(c.arg(2)) {
                Some(sz) if super::list::set_packed_threshold(sz) => c.reply.ok(),
                // COMPAT: Redis's rejection text.
                _ => return Err(ReplyError::err("argument must be a memory value bigger than 1 and smaller than 4gb")),
            }
        }
        ("replybuffer", _) => crate::client::mem::debug_replybuffer(srv, c)?,
        ("config-rewrite-force-all", 2) => {
            let hooks = crate::config::RewriteHooks { force_all: true, ..Default::default() };
            let path = srv.config_file.clone().unwrap_or_default();
            if let Err(e) = srv.config.rewrite_with(&path, hooks) {
                // COMPAT: Redis's text.
                return Err(ReplyError::err(format!("CONFIG-REWRITE-FORCE-ALL failed: {e}")));
            }
            c.reply.ok();
        }
        ("drop-cluster-packet-filter", 3) | ("clusterlink", 5) => return crate::cluster::cmd::debug(srv, c),
        ("segfault", 2) => crate::crash::segfault(),
        ("pause-cron", 3) => {
            srv.cron_paused = args::int(c.arg(2))? != 0;
            c.reply.ok();
        }
        ("jmap", 2) => {
            c.reply.ok();
        }
        ("populate", 3..=5) => {
            let count = args::int(c.arg(2))?;
            let prefix = if c.argc() >= 4 { c.arg(3).to_vec() } else { b"key".to_vec() };
            let size = if c.argc() == 5 { Some(args::int(c.arg(4))?.max(0) as usize) } else { None };
            let db = c.db;
            for i in 0..count.max(0) {
                let mut key = prefix.clone();
                key.push(b':');
                key.extend_from_slice(i.to_string().as_bytes());
                if srv.ks.dbs[db].dict.contains_key(&key) {
                    continue;
                }
                let mut val = format!("value:{i}").into_bytes();
                if let Some(sz) = size {
                    val.resize(sz, 0);
                }
                srv.ks.set(db, &key, Value::Str(Str::from_bytes(&val)), false);
            }
            c.reply.ok();
        }
        _ => {
            return Err(ReplyError::Other(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
                String::from_utf8_lossy(c.arg(1))
            )))
        }
    }
    Ok(())
}

/// DEBUG PROTOCOL <type>: one sample reply of each RESP type.
// COMPAT: 3.141 is the sample double Redis sends, not an approximation of PI.
#[allow(clippy::approx_constant)]
fn protocol(c: &mut Client) -> CmdResult {
    let name = String::from_utf8_lossy(c.arg(2)).to_lowercase();
    let r = &mut c.reply;
    match name.as_str() {
        "string" => r.bulk(b"Hello World"),
        "integer" => r.int(12345),
        "double" => r.double(3.141),
        "bignum" => r.big_number(b"1234567999999999999999999999999999999"),
        "null" => r.null(),
        "array" | "set" => {
            if name == "set" {
                r.set(3)
            } else {
                r.array(3)
            };
            for j in 0..3 {
                r.int(j);
            }
        }
        "map" => {
            r.map(3);
            for j in 0..3 {
                r.int(j);
                r.boolean(j == 1);
            }
        }
        "attrib" => {
            if r.resp >= 3 {
                r.attribute(1);
                r.bulk(b"key-popularity");
                r.array(2);
                r.bulk(b"key:123");
                r.int(90);
            }
            r.bulk(b"Some real reply following the attribute");
        }
        "push" => {
            if r.resp < 3 {
                return Err(ReplyError::err("RESP2 is not supported by this command"));
            }
            r.push(2);
            r.bulk(b"server-cpu-usage");
            r.int(42);
            r.bulk(b"Some real reply following the push reply");
        }
        "true" => r.boolean(true),
        "false" => r.boolean(false),
        "verbatim" => r.verbatim(b"This is a verbatim\nstring", "txt"),
        _ => return Err(ReplyError::err("Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")),
    }
    Ok(())
}

/// The DEBUG HTSTATS text of a value stored in a hash table (a hashtable
/// set or hash, a skiplist sorted set's member table); None otherwise.
fn table_stats(v: &Value) -> Option<String> {
    match v {
        Value::Set(s) => match &**s {
            crate::types::set::Set::Hash(d) => Some(d.stats()),
            crate::types::set::Set::Int(_) => None,
        },
        Value::Hash(h) => h.table().map(|d| d.stats()),
        Value::ZSet(z) => z.table().map(|d| d.stats()),
        Value::Str(_) | Value::List(_) | Value::Stream(_) => None,
    }
}

/// A readable dump of a listpack-encoded hash or sorted set (DEBUG LISTPACK).
fn listpack_repr(v: &Value) -> String {
    let mut out = String::new();
    let mut n = 0usize;
    let mut entry = |b: &[u8]| {
        out.push_str(&format!("{{entry {n}}} {}\n", String::from_utf8_lossy(b)));
        n += 1;
    };
    match v {
        Value::Hash(h) => h.for_each(|f, v| {
            f.with_bytes(&mut entry);
            v.with_bytes(&mut entry);
        }),
        Value::ZSet(z) => {
            for (m, s) in z.iter() {
                entry(m);
                entry(&crate::util::num::format_double(s));
            }
        }
        _ => {}
    }
    format!("{{total entries}} {n}\n{out}")
}

/// Matches random patterns against random strings (DEBUG STRINGMATCH-TEST):
/// the glob matcher must not panic or run away on any input.
fn stringmatch_fuzz() {
    let mut rng = crate::util::rand::Rng::from_entropy();
    const ALPHABET: &[u8] = b"*?[]^-\\ab";
    let bytes = |rng: &mut crate::util::rand::Rng| -> Vec<u8> {
        let n = rng.below(32) as usize;
        (0..n).map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize]).collect()
    };
    for _ in 0..100_000 {
        let (p, s) = (bytes(&mut rng), bytes(&mut rng));
        let _ = crate::util::glob::string_match(&p, &s, rng.below(2) == 0);
    }
}

/// DEBUG MALLCTL <name> [<value>]: reads (or writes, replying with the old
/// value) a jemalloc integer control, trying 64 bits, then 32, then a bool,
/// as Redis tries the widest size first.
fn mallctl_int(c: &mut Client) -> CmdResult {
    use tikv_jemalloc_ctl::{Access, AsName};
    let new = if c.argc() == 4 { Some(args::int(c.arg(3))?) } else { None };
    let mut buf = c.arg(2).to_vec();
    buf.push(0);
    let name = buf.as_slice().name();
    let res = match new {
        None => Access::<u64>::read(name)
            .map(|v| v as i64)
            .or_else(|_| Access::<u32>::read(name).map(i64::from))
            .or_else(|_| Access::<bool>::read(name).map(i64::from)),
        Some(v) => Access::<u64>::update(name, v as u64)
            .map(|old| old as i64)
            .or_else(|_| Access::<u32>::update(name, v as u32).map(i64::from))
            .or_else(|_| Access::<bool>::update(name, v != 0).map(i64::from)),
    };
    match res {
        Ok(v) => c.reply.int(v),
        Err(e) => return Err(ReplyError::err(e)),
    }
    Ok(())
}

/// DEBUG MALLCTL-STR <name> [<value>]: reads a jemalloc string control;
/// writing one, or running a void control (`VOID`), is refused: it needs a
/// raw mallctl call, which Viator does not make.
fn mallctl_str(c: &mut Client) -> CmdResult {
    use tikv_jemalloc_ctl::{Access, AsName};
    let mut buf = c.arg(2).to_vec();
    buf.push(0);
    let name = buf.as_slice().name();
    if c.argc() == 4 || !name.value_type_str() {
        return Err(ReplyError::err("Operation not permitted"));
    }
    match Access::<&'static [u8]>::read(name) {
        Ok(v) => c.reply.bulk(v),
        Err(e) => return Err(ReplyError::err(e)),
    }
    Ok(())
}

fn hex(d: &[u8; 20]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h = sha1_smol::Sha1::new();
    h.update(data);
    h.digest().bytes()
}

fn xor_into(acc: &mut [u8; 20], d: &[u8; 20]) {
    for (a, b) in acc.iter_mut().zip(d) {
        *a ^= b;
    }
}

/// Order-independent step: `acc ^= SHA1(data)`.
fn xor_digest(acc: &mut [u8; 20], data: &[u8]) {
    xor_into(acc, &sha1(data));
}

/// Order-dependent step: `acc = SHA1(acc ^ SHA1(data))`.
fn mix_digest(acc: &mut [u8; 20], data: &[u8]) {
    xor_digest(acc, data);
    *acc = sha1(&acc[..]);
}

/// Folds value `v` (with or without a TTL) into `acc` exactly as Redis's
/// xorObjectDigest does, so both servers give one dataset the same digest:
/// the type code, then the elements (mixed where order matters, xored
/// where it does not), then a marker if the key has an expire time.
fn object_digest(acc: &mut [u8; 20], v: &Value, has_expire: bool) {
    use crate::util::num::IntBuf;
    // COMPAT: Redis's OBJ_* type codes, mixed in as big-endian u32.
    let code: u32 = match v {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    };
    mix_digest(acc, &code.to_be_bytes());
    match v {
        Value::Str(s) => {
            let mut scratch = Vec::new();
            mix_digest(acc, s.as_bytes(&mut scratch));
        }
        Value::List(l) => {
            for e in l.iter() {
                e.with_bytes(|b| mix_digest(acc, b));
            }
        }
        Value::Set(set) => {
            for m in set.iter() {
                xor_digest(acc, &m.to_vec());
            }
        }
        Value::ZSet(z) => {
            for (m, score) in z.iter() {
                let mut ele = [0u8; 20];
                mix_digest(&mut ele, m);
                mix_digest(&mut ele, &crate::util::num::format_double(score));
                xor_digest(acc, &ele);
            }
        }
        Value::Hash(hash) => {
            hash.for_each(|f, val| {
                let mut ele = [0u8; 20];
                f.with_bytes(|b| mix_digest(&mut ele, b));
                val.with_bytes(|b| mix_digest(&mut ele, b));
                xor_digest(acc, &ele);
            });
        }
        Value::Stream(st) => {
            // Entries only (consumer groups are not part of Redis's digest).
            use crate::types::stream::StreamId;
            for e in st.entries.range(StreamId::MIN, StreamId::MAX, false) {
                let id = e.id();
                mix_digest(acc, format!("{}.{}", id.ms, id.seq).as_bytes());
                for (f, val) in e.fields() {
                    let (mut a, mut b) = (IntBuf::new(0), IntBuf::new(0));
                    mix_digest(acc, f.as_bytes(&mut a));
                    mix_digest(acc, val.as_bytes(&mut b));
                }
            }
        }
    }
    if has_expire {
        // COMPAT: the marker Redis mixes in for keys with a TTL.
        xor_digest(acc, b"!!expire!!");
    }
}

/// The digest of one value (DEBUG DIGEST-VALUE).
fn value_digest(v: &Value, has_expire: bool) -> [u8; 20] {
    let mut d = [0u8; 20];
    object_digest(&mut d, v, has_expire);
    d
}

/// Redis's computeDatasetDigest: per non-empty db, the db number is mixed
/// into the result, then every key's (key, value) digest is xored in, so
/// key order does not matter; all zeros for an empty dataset.
fn dataset_digest(srv: &Server) -> [u8; 20] {
    let mut out = [0u8; 20];
    for (dbi, db) in srv.ks.dbs.iter().enumerate() {
        if db.dict.is_empty() {
            continue;
        }
        mix_digest(&mut out, &(dbi as u32).to_be_bytes());
        for (k, v) in db.dict.iter() {
            let mut d = [0u8; 20];
            mix_digest(&mut d, k);
            object_digest(&mut d, &v.value, db.expires.get(k).is_some());
            xor_digest(&mut out, &d);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::hash::{Hash, HashLimits};
    use crate::types::set::Set;

    #[test]
    fn htstats_only_for_hash_tables() {
        let mut small = Set::new_for(b"1");
        small.add(b"2", 512);
        assert_eq!(table_stats(&Value::Set(Box::new(small))), None);
        let mut big = Set::new_for(b"a");
        big.add(b"a", 512);
        big.add(b"b", 512);
        let text = table_stats(&Value::Set(Box::new(big))).expect("a hashtable set has stats");
        assert!(text.starts_with("Hash table 0 stats (main hash table):\n table size: "), "{text}");
        assert!(text.contains(" number of elements: 2\n"), "{text}");
        assert_eq!(table_stats(&Value::Str(Str::from_bytes(b"x"))), None);
    }

    #[test]
    fn listpack_repr_lists_every_entry() {
        let mut h = Hash::new();
        h.set(b"f", b"v", HashLimits { max_entries: 128, max_value: 64 });
        let text = listpack_repr(&Value::Hash(Box::new(h)));
        assert_eq!(text, "{total entries} 2\n{entry 0} f\n{entry 1} v\n");
    }

    #[test]
    fn stringmatch_fuzz_survives() {
        stringmatch_fuzz();
    }
}
