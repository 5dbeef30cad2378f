//! nodes.conf: the node table as text (the lines of CLUSTER NODES plus a
//! `vars` line), loaded at start-up and rewritten whenever the cluster
//! configuration changes.
//!
//! Saving overwrites the file in place, as Redis 7.0's clusterSaveConfig
//! does (pad with newlines up to the old length, write, fsync when asked,
//! truncate), but first writes the same text, under a checksum line, over a
//! sidecar file `<nodes.conf>.shadow`. Why not a temporary file renamed
//! over the old one: on ext4 a rename that replaces a file forces the new
//! file's data to disk and frees the old inode's blocks (with a discard on
//! `-o discard` mounts), which made every CLUSTER SETSLOT cost hundreds of
//! microseconds and a reshard several times slower than Redis. Why not in
//! place alone: a write cut short (the process killed in a multi-page
//! write, a crash before writeback) could leave a file that fails to load.
//! With the sidecar written completely before nodes.conf is touched, one of
//! the two always holds a whole configuration: start-up loads nodes.conf
//! and, only when it fails to load, the sidecar if its checksum holds.
//! A fsync'd save syncs the sidecar before nodes.conf is written and
//! nodes.conf after, so the order also holds across power loss: two syncs,
//! as many as Redis 7.2's temporary-file save (the file, then its
//! directory), where 7.0's single in-place sync can leave a torn file.
//! Saves not asked to fsync sync nothing, as in Redis (a process crash
//! still finds a whole copy; a power cut while both files of such a save
//! are being written back is the one case left open, since closing it
//! would take a sync per save). The lock
//! is taken once at start-up on nodes.conf and, since the file is never
//! replaced, stays on the file its name points to. A corrupt file stops
//! start-up with a message naming the file and the line, where Redis only
//! says "corrupted cluster config file".

use std::fs::{self, File, TryLockError};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::wire::{flags, Name};
use super::{valid_name, Cluster, Node, NodeId, SLOTS};
use crate::rdb::crc64::crc64;
use crate::server::Server;

/// Flag names in the order Redis prints them.
const FLAG_NAMES: &[(u16, &str)] = &[
    (flags::MYSELF, "myself"),
    (flags::MASTER, "master"),
    (flags::SLAVE, "slave"),
    (flags::PFAIL, "fail?"),
    (flags::FAIL, "fail"),
    (flags::HANDSHAKE, "handshake"),
    (flags::NOADDR, "noaddr"),
    (flags::NOFAILOVER, "nofailover"),
];

/// The flags field of a node line ("myself,master", "noflags").
pub fn flags_text(f: u16) -> String {
    let names: Vec<&str> = FLAG_NAMES.iter().filter(|(b, _)| f & b != 0).map(|(_, n)| *n).collect();
    if names.is_empty() {
        "noflags".to_string()
    } else {
        names.join(",")
    }
}

/// One line of CLUSTER NODES for node `id` (no newline).
pub fn node_line(cl: &Cluster, id: NodeId) -> String {
    describe_node(cl, id, false)
}

/// One node line; `aux` adds what only nodes.conf holds after the
/// hostname (`,hostname,shard-id=...`, Redis 7.2's aux fields, which it
/// does not show to clients either).
fn describe_node(cl: &Cluster, id: NodeId, aux: bool) -> String {
    let n = &cl.nodes[id];
    let mut s = String::with_capacity(128);
    s.push_str(n.name_str());
    s.push(' ');
    s.push_str(&n.ip);
    s.push_str(&format!(":{}@{}", n.port, n.cport));
    if !n.hostname.is_empty() || aux {
        s.push(',');
        s.push_str(&n.hostname);
    }
    if aux {
        s.push_str(",shard-id=");
        s.push_str(std::str::from_utf8(&n.shard_id).unwrap_or_default());
    }
    s.push(' ');
    s.push_str(&flags_text(n.flags));
    s.push(' ');
    match n.replica_of.and_then(|m| cl.nodes.get(m)) {
        Some(m) => s.push_str(m.name_str()),
        None => s.push('-'),
    }
    let linked = n.link.is_some() || n.is(flags::MYSELF);
    s.push_str(&format!(
        " {} {} {} {}",
        n.ping_sent,
        n.pong_received,
        cl.effective_epoch(id),
        if linked { "connected" } else { "disconnected" }
    ));
    for (a, b) in cl.slot_ranges(id) {
        if a == b {
            s.push_str(&format!(" {a}"));
        } else {
            s.push_str(&format!(" {a}-{b}"));
        }
    }
    if id == cl.myself {
        let marks = cl.migrating_to.iter().zip(cl.importing_from.iter()).enumerate();
        for (slot, marks) in marks.filter(|(_, (m, i))| m.is_some() || i.is_some()) {
            match marks {
                (Some(to), _) => s.push_str(&format!(" [{slot}->-{}]", cl.nodes[*to].name_str())),
                (None, Some(from)) => s.push_str(&format!(" [{slot}-<-{}]", cl.nodes[*from].name_str())),
                (None, None) => {}
            }
        }
    }
    s
}

/// Every node's line, newline-terminated. `for_file`: as nodes.conf holds
/// them, without nodes in handshake and with the aux fields.
pub fn nodes_text(cl: &Cluster, for_file: bool) -> String {
    let mut out = String::new();
    for (id, n) in cl.nodes.iter() {
        if for_file && n.is(flags::HANDSHAKE) {
            continue;
        }
        out.push_str(&describe_node(cl, id, for_file));
        out.push('\n');
    }
    out
}

/// Takes the lock on nodes.conf (creating the file if needed) so two
/// servers cannot share it.
pub fn lock(cl: &mut Cluster) -> Result<(), String> {
    let path = &cl.config_path;
    let f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| format!("Can't open {} in order to acquire a lock: {e}", path.display()))?;
    match f.try_lock() {
        Ok(()) => {
            cl.lock = Some(f);
            Ok(())
        }
        // COMPAT: clusterLockConfig's message.
        Err(TryLockError::WouldBlock) => Err(format!(
            "Sorry, the cluster configuration file {} is already used by a different Redis Cluster node. Please make sure that different nodes use different cluster configuration files.",
            path.display()
        )),
        Err(TryLockError::Error(e)) => Err(format!("Impossible to lock {}: {e}", path.display())),
    }
}

/// The sidecar that holds a checksummed copy of the last save.
pub fn shadow_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".shadow");
    path.with_file_name(name)
}

/// First line of the sidecar: a marker, the body's length and its CRC-64.
fn shadow_header(body: &[u8]) -> String {
    format!("{SHADOW_MARK} {} {:016x}\n", body.len(), crc64(0, body))
}

const SHADOW_MARK: &str = "viator-nodes-conf-shadow";

/// The body of a sidecar file if it is complete (length and checksum hold).
fn shadow_body(text: &[u8]) -> Option<&[u8]> {
    let nl = text.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&text[..nl]).ok()?;
    let mut words = header.split(' ');
    if words.next()? != SHADOW_MARK {
        return None;
    }
    let len: usize = words.next()?.parse().ok()?;
    let crc = u64::from_str_radix(words.next()?, 16).ok()?;
    let body = text.get(nl + 1..nl + 1 + len)?;
    (crc64(0, body) == crc).then_some(body)
}

/// Overwrites `f` in place with `data`: pads with newlines up to the old
/// length (blank lines load as nothing), writes, syncs when asked, then
/// trims the padding.
fn overwrite(f: &File, data: &[u8], sync: bool) -> std::io::Result<()> {
    let old_len = f.metadata()?.len() as usize;
    let written = if old_len > data.len() {
        let mut padded = Vec::with_capacity(old_len);
        padded.extend_from_slice(data);
        padded.resize(old_len, b'\n');
        f.write_all_at(&padded, 0)
    } else {
        f.write_all_at(data, 0)
    };
    written?;
    if sync {
        f.sync_data()?;
    }
    if old_len > data.len() {
        f.set_len(data.len() as u64)?;
    }
    Ok(())
}

fn open_for_overwrite(path: &Path) -> std::io::Result<File> {
    fs::OpenOptions::new().write(true).create(true).truncate(false).open(path)
}

/// Writes nodes.conf: the sidecar first, then nodes.conf itself, both in
/// place (see the module header); `fsync` syncs both, the sidecar before
/// nodes.conf is touched.
pub fn save(srv: &mut Server, fsync: bool) -> std::io::Result<()> {
    let Some(cl) = srv.cluster.as_mut() else { return Ok(()) };
    cl.todo &= !(super::todo::SAVE_CONFIG | super::todo::FSYNC_CONFIG);
    let mut text = nodes_text(cl, true);
    text.push_str(&format!("vars currentEpoch {} lastVoteEpoch {}\n", cl.current_epoch, cl.last_vote_epoch));
    let body = text.as_bytes();
    if cl.shadow.is_none() {
        cl.shadow = Some(open_for_overwrite(&shadow_path(&cl.config_path))?);
    }
    if let Some(shadow) = cl.shadow.as_ref() {
        let mut copy = shadow_header(body).into_bytes();
        copy.extend_from_slice(body);
        overwrite(shadow, &copy, fsync)?;
    }
    if cl.lock.is_none() {
        cl.lock = Some(open_for_overwrite(&cl.config_path)?);
    }
    if let Some(main) = cl.lock.as_ref() {
        overwrite(main, body, fsync)?;
    }
    Ok(())
}

/// Loads nodes.conf into `cl` (which holds a fresh `myself` to replace).
/// Returns false when there is no file or it is empty (a new node).
pub fn load(cl: &mut Cluster, now_ms: i64) -> Result<bool, String> {
    let path = cl.config_path.clone();
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        // COMPAT: clusterLoadConfig's message.
        Err(e) => return Err(format!("Loading the cluster node config from {}: {e}", path.display())),
    };
    load_text(cl, &text, &path, now_ms)
}

/// Loads the sidecar copy into `cl` (fresh, as for [`load`]); false when
/// there is no sidecar or it is incomplete.
pub fn load_shadow(cl: &mut Cluster, now_ms: i64) -> Result<bool, String> {
    let path = shadow_path(&cl.config_path);
    let Ok(text) = fs::read(&path) else { return Ok(false) };
    match shadow_body(&text) {
        Some(body) => load_text(cl, body, &path, now_ms),
        None => Ok(false),
    }
}

fn load_text(cl: &mut Cluster, text: &[u8], path: &Path, now_ms: i64) -> Result<bool, String> {
    if text.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(false);
    }
    // Start from an empty table: the file says who we are.
    let fresh = cl.myself;
    let fresh_name = cl.nodes[fresh].name;
    cl.nodes.remove(fresh);
    cl.by_name.remove(&fresh_name);
    let mut myself: Option<NodeId> = None;
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = String::from_utf8_lossy(line);
        let words: Vec<&str> = line.split_ascii_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let fail = |why: &str| {
            format!(
                "Unrecoverable error: corrupted cluster config file \"{}\" at line {}: {why}",
                path.display(),
                i + 1
            )
        };
        if words[0] == "vars" {
            if words.len() % 2 == 0 {
                return Err(fail("odd number of vars fields"));
            }
            for pair in words[1..].chunks(2) {
                let v: u64 = pair[1].parse().map_err(|_| fail("bad number in vars"))?;
                match pair[0] {
                    "currentEpoch" => cl.current_epoch = v,
                    "lastVoteEpoch" => cl.last_vote_epoch = v,
                    other => log::warn!("Skipping unknown cluster config variable '{other}'"),
                }
            }
            continue;
        }
        if words.len() < 8 {
            return Err(fail("a node line needs at least 8 fields"));
        }
        if !valid_name(words[0].as_bytes()) {
            return Err(fail("bad node name"));
        }
        let id = node_for(cl, words[0].as_bytes(), now_ms);
        let (ip, port, cport, hostname) = parse_addr(words[1]).ok_or_else(|| fail("bad address"))?;
        {
            let n = &mut cl.nodes[id];
            n.ip = ip;
            n.port = port;
            n.cport = cport;
            n.hostname = hostname;
            n.flags = 0;
        }
        for field in words[1].split(',').skip(2) {
            match field.split_once('=') {
                Some(("shard-id", v)) if valid_name(v.as_bytes()) => {
                    cl.nodes[id].shard_id.copy_from_slice(v.as_bytes());
                }
                Some(("shard-id", _)) => return Err(fail("bad shard-id")),
                // Other aux fields of Redis 7.2 (tls-port, nodename...) are ignored.
                _ => {}
            }
        }
        for f in words[2].split(',') {
            let bit = match f {
                "noflags" => 0,
                _ => FLAG_NAMES.iter().find(|(_, n)| *n == f).map(|(b, _)| *b).ok_or_else(|| fail("unknown flag"))?,
            };
            cl.nodes[id].flags |= bit;
            if bit == flags::MYSELF {
                myself = Some(id);
            }
        }
        if cl.nodes[id].is(flags::FAIL) {
            cl.nodes[id].fail_time = now_ms;
        }
        if words[3] != "-" {
            if !valid_name(words[3].as_bytes()) {
                return Err(fail("bad master name"));
            }
            let m = node_for(cl, words[3].as_bytes(), now_ms);
            cl.nodes[id].replica_of = Some(m);
            cl.add_replica(m, id);
        }
        let num = |w: &str| w.parse::<i64>().map_err(|_| fail("bad number"));
        if num(words[4])? != 0 {
            cl.nodes[id].ping_sent = now_ms;
        }
        if num(words[5])? != 0 {
            cl.nodes[id].pong_received = now_ms;
        }
        cl.nodes[id].config_epoch = words[6].parse().map_err(|_| fail("bad config epoch"))?;
        for w in &words[8..] {
            if let Some(inner) = w.strip_prefix('[') {
                let inner = inner.strip_suffix(']').ok_or_else(|| fail("bad migration mark"))?;
                let (slot, dir, other) = if let Some(p) = inner.find("->-") {
                    (&inner[..p], '>', &inner[p + 3..])
                } else if let Some(p) = inner.find("-<-") {
                    (&inner[..p], '<', &inner[p + 3..])
                } else {
                    return Err(fail("bad migration mark"));
                };
                let slot: usize = slot.parse().ok().filter(|&s| s < SLOTS).ok_or_else(|| fail("bad slot"))?;
                if !valid_name(other.as_bytes()) {
                    return Err(fail("bad node name in migration mark"));
                }
                let other = node_for(cl, other.as_bytes(), now_ms);
                if dir == '>' {
                    cl.migrating_to[slot] = Some(other);
                } else {
                    cl.importing_from[slot] = Some(other);
                }
                continue;
            }
            let (a, b) = match w.split_once('-') {
                Some((a, b)) => (a, b),
                None => (*w, *w),
            };
            let a: usize = a.parse().ok().filter(|&s| s < SLOTS).ok_or_else(|| fail("bad slot"))?;
            let b: usize = b.parse().ok().filter(|&s| s < SLOTS).ok_or_else(|| fail("bad slot"))?;
            for s in a..=b {
                cl.add_slot(id, s);
            }
        }
    }
    let Some(me) = myself else {
        return Err(format!(
            "Unrecoverable error: corrupted cluster config file \"{}\": no line has the myself flag",
            path.display()
        ));
    };
    cl.myself = me;
    // A replica is in its master's shard, whatever an older file said.
    let pairs: Vec<(NodeId, NodeId)> = cl.nodes.iter().filter_map(|(id, n)| n.replica_of.map(|m| (id, m))).collect();
    for (r, m) in pairs {
        cl.nodes[r].shard_id = cl.nodes[m].shard_id;
    }
    if cl.max_epoch() > cl.current_epoch {
        cl.current_epoch = cl.max_epoch();
    }
    // COMPAT: clusterLoadConfig's notice.
    log::info!("Node configuration loaded, I'm {}", cl.nodes[me].name_str());
    Ok(true)
}

/// The node called `name`, created (no flags, no address) if unknown.
fn node_for(cl: &mut Cluster, name: &[u8], now_ms: i64) -> NodeId {
    if let Some(id) = cl.lookup(name) {
        return id;
    }
    let mut n: Name = [0; 40];
    n.copy_from_slice(name);
    cl.add_node(Node::new(n, 0, now_ms))
}

/// `ip:port@cport[,hostname]`; the bus port defaults to port + 10000.
pub fn parse_addr(s: &str) -> Option<(String, u16, u16, String)> {
    // Redis 7.2's aux fields (`,shard-id=...`) follow the hostname.
    let (addr, hostname) = match s.split_once(',') {
        Some((a, rest)) => (a, rest.split(',').next().unwrap_or_default().to_string()),
        None => (s, String::new()),
    };
    let colon = addr.rfind(':')?;
    let ip = addr[..colon].to_string();
    let ports = &addr[colon + 1..];
    let (port, cport) = match ports.split_once('@') {
        Some((p, c)) => (p.parse::<u16>().ok()?, c.parse::<u16>().ok()?),
        None => {
            let p = ports.parse::<u16>().ok()?;
            (p, p.checked_add(10000)?)
        }
    };
    Some((ip, port, cport, hostname))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("viator-nodesconf-{}-{name}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        dir.join("nodes.conf")
    }

    const SAMPLE: &str = "\
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460 [5461-<-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@40002,host-b master - 0 1426238316232 2 connected 5461-10922 12000
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30004@40004 slave,fail? e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317741 1 disconnected
vars currentEpoch 6 lastVoteEpoch 3
";

    #[test]
    fn load_then_describe_round_trips() {
        let path = temp("rt");
        fs::write(&path, SAMPLE).unwrap();
        let mut cl = Cluster::new(path.clone(), 1000);
        assert!(load(&mut cl, 1000).unwrap());
        assert_eq!(cl.me().name_str(), "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca");
        assert_eq!(cl.nodes.len(), 3);
        assert_eq!(cl.current_epoch, 6);
        assert_eq!(cl.last_vote_epoch, 3);
        assert_eq!(cl.me().numslots, 5461);
        let b = cl.lookup(b"67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1").unwrap();
        assert_eq!(cl.nodes[b].numslots, 5462 + 1);
        assert_eq!(cl.nodes[b].hostname, "host-b");
        assert_eq!(cl.importing_from[5461], Some(b));
        let r = cl.lookup(b"292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f").unwrap();
        assert_eq!(cl.nodes[r].replica_of, Some(cl.myself));
        assert_eq!(cl.me().replicas, vec![r]);
        let line = node_line(&cl, cl.myself);
        assert_eq!(
            line,
            "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460 [5461-<-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]"
        );
        let line = node_line(&cl, r);
        assert!(
            line.starts_with("292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30004@40004 slave,fail? e7d1"),
            "{line}"
        );
        assert!(line.ends_with(" 1 disconnected"), "{line}");
        assert!(node_line(&cl, b).ends_with(" 2 disconnected 5461-10922 12000"));
    }

    #[test]
    fn corrupt_files_are_refused_with_the_line() {
        for (bad, why) in [
            ("abc 127.0.0.1:1@2 myself,master - 0 0 1 connected\n", "bad node name"),
            ("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:1@2 myself,bogus - 0 0 1 connected\n", "unknown flag"),
            (
                "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:1@2 myself,master - 0 0 1 connected 16384\n",
                "bad slot",
            ),
            ("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:1@2 master - 0 0 1 connected\n", "myself"),
            ("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1\n", "8 fields"),
        ] {
            let path = temp("bad");
            fs::write(&path, bad).unwrap();
            let mut cl = Cluster::new(path.clone(), 0);
            let e = load(&mut cl, 0).unwrap_err();
            assert!(e.contains(why) && e.contains("nodes.conf"), "{e}");
        }
    }

    #[test]
    fn random_files_never_panic() {
        let path = temp("fuzz");
        let mut rng = Rng::with_seed(0x5eed);
        for _ in 0..300 {
            let mut bytes = SAMPLE.as_bytes().to_vec();
            for _ in 0..rng.below(8) {
                let i = rng.below(bytes.len() as u64) as usize;
                bytes[i] = rng.below(256) as u8;
            }
            fs::write(&path, &bytes).unwrap();
            let mut cl = Cluster::new(path.clone(), 0);
            let _ = load(&mut cl, 0);
        }
    }

    #[test]
    fn overwrite_in_place_shrinks_and_grows() {
        let path = temp("ow");
        let f = open_for_overwrite(&path).unwrap();
        overwrite(&f, b"a long first version\n", false).unwrap();
        overwrite(&f, b"short\n", true).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"short\n");
        overwrite(&f, b"longer than the one before\n", false).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"longer than the one before\n");
    }

    #[test]
    fn shadow_checksum_catches_every_torn_copy() {
        let body = SAMPLE.as_bytes();
        let mut copy = shadow_header(body).into_bytes();
        copy.extend_from_slice(body);
        assert_eq!(shadow_body(&copy), Some(body));
        // Cut short anywhere, or an old tail left behind a new head.
        for cut in 0..copy.len() {
            assert_eq!(shadow_body(&copy[..cut]), None, "cut at {cut}");
        }
        let mut mixed = copy.clone();
        mixed[copy.len() / 2] ^= 0x20;
        assert_eq!(shadow_body(&mixed), None);
        assert_eq!(shadow_body(b"viator-nodes-conf-shadow x y\n"), None);
    }

    #[test]
    fn a_torn_nodes_conf_loads_from_the_shadow() {
        let path = temp("torn");
        let body = SAMPLE.as_bytes();
        let mut copy = shadow_header(body).into_bytes();
        copy.extend_from_slice(body);
        fs::write(shadow_path(&path), &copy).unwrap();
        // nodes.conf cut in the middle of its second line.
        fs::write(&path, &body[..200]).unwrap();
        let mut cl = Cluster::new(path.clone(), 0);
        assert!(load(&mut cl, 0).is_err());
        let mut cl = Cluster::new(path.clone(), 0);
        assert!(load_shadow(&mut cl, 0).unwrap());
        assert_eq!(cl.nodes.len(), 3);
        assert_eq!(cl.current_epoch, 6);
        // A torn shadow is never loaded.
        fs::write(shadow_path(&path), &copy[..copy.len() - 5]).unwrap();
        let mut cl = Cluster::new(path.clone(), 0);
        assert!(!load_shadow(&mut cl, 0).unwrap());
    }

    #[test]
    fn slot_ranges_match_a_bit_by_bit_scan() {
        let mut rng = Rng::with_seed(0x51075);
        for round in 0..20 {
            let mut cl = Cluster::new(temp("ranges"), 0);
            let me = cl.myself;
            let mut start = 0;
            while start < SLOTS {
                let len = 1 + rng.below(if round % 2 == 0 { 40 } else { 3000 }) as usize;
                if rng.below(2) == 0 {
                    for s in start..(start + len).min(SLOTS) {
                        cl.add_slot(me, s);
                    }
                }
                start += len;
            }
            let mut want = Vec::new();
            let mut open: Option<usize> = None;
            for s in 0..=SLOTS {
                let has = s < SLOTS && cl.nodes[me].has_slot(s);
                match (has, open) {
                    (true, None) => open = Some(s),
                    (false, Some(b)) => {
                        want.push((b, s - 1));
                        open = None;
                    }
                    _ => {}
                }
            }
            assert_eq!(cl.slot_ranges(me), want);
        }
    }

    #[test]
    fn shard_ids_are_kept_in_the_file_and_shared_by_a_shard() {
        let shard = "0123456789abcdef0123456789abcdef01234567";
        let text =
            SAMPLE.replacen("127.0.0.1:30001@40001", &format!("127.0.0.1:30001@40001,,shard-id={shard},tls-port=0"), 1);
        let path = temp("shard");
        fs::write(&path, &text).unwrap();
        let mut cl = Cluster::new(path.clone(), 0);
        assert!(load(&mut cl, 0).unwrap());
        assert_eq!(&cl.me().shard_id, shard.as_bytes());
        // The replica's line has no shard-id: it is in its master's shard.
        let r = cl.lookup(b"292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f").unwrap();
        assert_eq!(&cl.nodes[r].shard_id, shard.as_bytes());
        let b = cl.lookup(b"67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1").unwrap();
        assert_eq!(cl.nodes[b].hostname, "host-b");
        // Clients never see the aux fields; the file keeps them.
        assert!(!node_line(&cl, cl.myself).contains("shard-id"));
        let file = nodes_text(&cl, true);
        assert!(file.contains(&format!("127.0.0.1:30001@40001,,shard-id={shard} myself,master")), "{file}");
        assert!(file.contains("@40002,host-b,shard-id="), "{file}");
        let bad = SAMPLE.replacen("@40001", "@40001,,shard-id=xyz", 1);
        fs::write(&path, bad).unwrap();
        let mut cl = Cluster::new(path.clone(), 0);
        assert!(load(&mut cl, 0).unwrap_err().contains("bad shard-id"));
    }

    #[test]
    fn parse_addr_forms() {
        assert_eq!(parse_addr("1.2.3.4:7000@17000"), Some(("1.2.3.4".into(), 7000, 17000, String::new())));
        assert_eq!(parse_addr("1.2.3.4:7000"), Some(("1.2.3.4".into(), 7000, 17000, String::new())));
        assert_eq!(parse_addr(":0@0"), Some((String::new(), 0, 0, String::new())));
        assert_eq!(parse_addr("::1:7000@17000,h"), Some(("::1".into(), 7000, 17000, "h".into())));
        assert_eq!(parse_addr("nope"), None);
        assert_eq!(parse_addr("1.2.3.4:1@2,,shard-id=x").map(|a| a.3), Some(String::new()));
        assert_eq!(parse_addr("1.2.3.4:1@2,h,tls-port=0").map(|a| a.3), Some("h".to_string()));
    }
}
