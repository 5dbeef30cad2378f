//! One cluster node as the cluster manager sees it: its connection, and what its
//! `CLUSTER NODES` line says (id, address, flags, master, epoch, slots, open slots).
//!
//! Owns the parsing of `CLUSTER NODES` text and of `INFO` fields, the node's own
//! command calls (with redis-cli's error printing), and the text forms redis-cli shows
//! for a node (`M: <id> host:port`, `slots:[0-5460] (5461 slots) master`, ...). It
//! knows nothing about other nodes: the manager owns the node list. Mirrors redis-cli
//! 7.0's `clusterManagerNode` helpers; parsing never panics on a malformed reply.

use viator::resp::value::Value;

use super::{log_err, Auth};
use crate::conn::Conn;
use crate::opts::atoi;

/// Hash slots in a cluster.
pub const SLOTS: usize = 16384;
/// Bus port = client port + this, unless a node says otherwise.
pub const PORT_INCR: i32 = 10000;

/// Flags read from `CLUSTER NODES` that the manager acts upon.
pub const MYSELF: u32 = 1;
pub const REPLICA: u32 = 1 << 1;
pub const FRIEND: u32 = 1 << 2;
pub const NOADDR: u32 = 1 << 3;
pub const DISCONNECTED: u32 = 1 << 4;
pub const FAIL: u32 = 1 << 5;

/// A node of the cluster being managed.
pub struct Node {
    conn: Option<Conn>,
    /// The 40-character node id; empty until `CLUSTER NODES` was read.
    pub name: String,
    pub ip: String,
    pub port: i32,
    pub bus_port: i32,
    /// The node's config epoch as `CLUSTER NODES` reports it.
    pub current_epoch: u64,
    pub flags: u32,
    /// The flag words as reported (`myself`, `master`, `slave`, ...).
    pub flag_words: Vec<String>,
    /// The master's id, for a replica (or a node planned to become one).
    pub replicate: Option<String>,
    /// Planned configuration (slots, master) not yet sent to the node.
    pub dirty: bool,
    pub slots: Vec<bool>,
    pub slots_count: usize,
    pub replicas_count: usize,
    /// (slot, destination id) for slots this node is migrating.
    pub migrating: Vec<(String, String)>,
    /// (slot, source id) for slots this node is importing.
    pub importing: Vec<(String, String)>,
    /// Rebalance weight.
    pub weight: f32,
    /// Rebalance: slots to give (positive) or to receive (negative).
    pub balance: i32,
}

/// The fields of one `CLUSTER NODES` line that the manager reads.
#[derive(Debug, Default, PartialEq)]
pub struct NodesLine<'a> {
    pub name: &'a str,
    pub ip: &'a str,
    pub port: i32,
    pub bus_port: i32,
    pub flags: Vec<&'a str>,
    pub master_id: &'a str,
    pub ping_sent: i64,
    pub ping_recv: i64,
    pub config_epoch: u64,
    /// The slot words after the link state (`0-5460`, `7`, `[12->-id]`, `[12-<-id]`).
    pub slots: Vec<&'a str>,
}

/// Splits `ip:port[@bus_port[,hostname]]` as redis-cli does: the bus port after the
/// last `@`, the port after the last `:` before it. `None` without a `:`.
pub fn parse_address(addr: &str) -> Option<(&str, i32, i32)> {
    let (hostport, bus) = match addr.rfind('@') {
        Some(at) => (&addr[..at], atoi(&addr.as_bytes()[at + 1..]) as i32),
        None => (addr, 0),
    };
    let colon = hostport.rfind(':')?;
    Some((&hostport[..colon], atoi(&hostport.as_bytes()[colon + 1..]) as i32, bus))
}

/// Parses one `CLUSTER NODES` line. `Ok(None)` for a line too short to have flags;
/// `Err(())` when the address cannot be parsed (redis-cli's "invalid CLUSTER NODES
/// reply").
pub fn parse_nodes_line(line: &str) -> Result<Option<NodesLine<'_>>, ()> {
    let words: Vec<&str> = line.splitn(9, ' ').collect();
    // Fields 0..=6 must be followed by a space to count, as redis-cli reads them.
    if words.len() < 4 {
        return Ok(None);
    }
    let (ip, port, bus_port) = parse_address(words[1]).ok_or(())?;
    let num = |i: usize| words.get(i).map_or(0, |w| atoi(w.as_bytes()));
    let slots = match words.get(8) {
        Some(rest) => rest.split(' ').collect(),
        None => Vec::new(),
    };
    Ok(Some(NodesLine {
        name: words[0],
        ip,
        port,
        bus_port,
        flags: words[2].split(',').filter(|f| !f.is_empty()).collect(),
        master_id: words[3],
        ping_sent: num(4),
        ping_recv: num(5),
        config_epoch: num(6).max(0) as u64,
        slots,
    }))
}

/// One slot word of a `CLUSTER NODES` line.
#[derive(Debug, PartialEq)]
pub enum SlotWord<'a> {
    Range(usize, usize),
    Migrating(&'a str, &'a str),
    Importing(&'a str, &'a str),
    Unknown,
}

/// Reads a slot word: `a-b`, `n`, `[n->-id]` or `[n-<-id]`. Out-of-range numbers give
/// `Unknown`.
pub fn parse_slot_word(w: &str) -> SlotWord<'_> {
    if let Some(inner) = w.strip_prefix('[') {
        let inner = inner.strip_suffix(']').unwrap_or(inner);
        if let Some((slot, dst)) = inner.split_once("->-") {
            return SlotWord::Migrating(slot, dst);
        }
        if let Some((slot, src)) = inner.split_once("-<-") {
            return SlotWord::Importing(slot, src);
        }
        return SlotWord::Unknown;
    }
    let (a, b) = match w.split_once('-') {
        Some((a, b)) => (atoi(a.as_bytes()), atoi(b.as_bytes())),
        None if !w.is_empty() => (atoi(w.as_bytes()), atoi(w.as_bytes())),
        None => return SlotWord::Unknown,
    };
    if a < 0 || b < a || b >= SLOTS as i64 {
        return SlotWord::Unknown;
    }
    SlotWord::Range(a as usize, b as usize)
}

/// The integer value of `field` in an `INFO` text (`field:value`), or 0 when absent.
pub fn info_field(info: &[u8], field: &str) -> i64 {
    let text = String::from_utf8_lossy(info);
    let key = format!("{field}:");
    match text.find(&key) {
        Some(at) => {
            let rest = &text[at + key.len()..];
            let end = rest.find(['\r', '\n', ',']).unwrap_or(rest.len());
            atoi(&rest.as_bytes()[..end])
        }
        None => 0,
    }
}

/// The signature of a node's view of slot ownership: for every node owning slots,
/// `id:range,range...` with ranges sorted as text, the entries sorted and joined by
/// `|`. Open-slot words are ignored. `None` when no node owns any slot.
pub fn config_signature(nodes_text: &str) -> Option<String> {
    let mut entries = Vec::new();
    for line in nodes_text.split('\n') {
        let words: Vec<&str> = line.splitn(9, ' ').collect();
        if words.len() < 9 || words[8].is_empty() {
            continue;
        }
        let mut ranges: Vec<&str> = words[8].split(' ').filter(|w| !w.starts_with('[')).collect();
        if ranges.is_empty() {
            continue;
        }
        ranges.sort_unstable();
        entries.push(format!("{}:{}", words[0], ranges.join(",")));
    }
    if entries.is_empty() {
        return None;
    }
    entries.sort_unstable();
    Some(entries.join("|"))
}

/// The nodes a `CLUSTER NODES` text reports as disconnected or in handshake, other
/// than the reporting node itself: their addresses as written.
pub fn disconnected_links(nodes_text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in nodes_text.split('\n') {
        let words: Vec<&str> = line.splitn(9, ' ').collect();
        if words.len() < 8 {
            continue;
        }
        let (addr, flags, link) = (words[1], words[2], words[7]);
        if flags.contains("myself") {
            continue;
        }
        if flags.contains("disconnected") || link.contains("disconnected") || flags.contains("handshake") {
            out.push(addr.to_string());
        }
    }
    out
}

/// `[0-5460],[5462],...`: the slots of `slots` as redis-cli lists them.
pub fn slots_string(slots: &[bool]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < slots.len() {
        if !slots[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i + 1 < slots.len() && slots[i + 1] {
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == i {
            out.push_str(&format!("[{start}]"));
        } else {
            out.push_str(&format!("[{start}-{i}]"));
        }
        i += 1;
    }
    out
}

impl Node {
    /// A node not yet connected nor loaded. A zero `bus_port` means port + 10000.
    pub fn new(ip: &str, port: i32, bus_port: i32) -> Node {
        Node {
            conn: None,
            name: String::new(),
            ip: ip.to_string(),
            port,
            bus_port: if bus_port != 0 { bus_port } else { port + PORT_INCR },
            current_epoch: 0,
            flags: 0,
            flag_words: Vec::new(),
            replicate: None,
            dirty: false,
            slots: vec![false; SLOTS],
            slots_count: 0,
            replicas_count: 0,
            migrating: Vec::new(),
            importing: Vec::new(),
            weight: 1.0,
            balance: 0,
        }
    }

    pub fn is_replica(&self) -> bool {
        self.flags & REPLICA != 0
    }

    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Connects and authenticates (`AUTH [user] pass` when a password is configured).
    /// Prints redis-cli's "Could not connect" line, or the AUTH error, on failure.
    pub fn connect(&mut self, auth: &Auth) -> bool {
        self.conn = None;
        match Conn::tcp(&self.ip, self.port) {
            Ok(c) => self.conn = Some(c),
            Err(e) => {
                // COMPAT: redis-cli's connection failure line.
                eprintln!("Could not connect to Redis at {}:{}: {e}", self.ip, self.port);
                return false;
            }
        }
        if let Some(pass) = &auth.pass {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &auth.user {
                args.push(user);
            }
            args.push(pass);
            let reply = self.call(&args);
            if !self.reply_ok(&reply) {
                return false;
            }
        }
        true
    }

    /// Sends one command and reads its reply; `None` (and the connection dropped)
    /// when the connection failed, as hiredis returns NULL.
    pub fn call(&mut self, args: &[&[u8]]) -> Option<Value> {
        let conn = self.conn.as_mut()?;
        match conn.call(args) {
            Ok(v) => Some(v),
            Err(_) => {
                self.conn = None;
                None
            }
        }
    }

    /// `call` with text arguments.
    pub fn cmd(&mut self, args: &[&str]) -> Option<Value> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.call(&args)
    }

    /// True for a reply that is neither missing nor an error; an error reply is
    /// printed as "Node host:port replied with error:".
    pub fn reply_ok(&self, reply: &Option<Value>) -> bool {
        match reply {
            None => false,
            Some(v) => match v.error_text() {
                Some(e) => {
                    self.print_error(&String::from_utf8_lossy(e));
                    false
                }
                None => true,
            },
        }
    }

    /// redis-cli's report of an error reply from this node.
    pub fn print_error(&self, err: &str) {
        log_err(&format!("Node {}:{} replied with error:\n{err}\n", self.ip, self.port));
    }

    /// `INFO`'s text, or the error reply's text.
    pub fn info(&mut self) -> Result<Vec<u8>, Option<String>> {
        match self.cmd(&["INFO"]) {
            None => Err(None),
            Some(v) => match (v.error_text(), v.as_bytes()) {
                (Some(e), _) => Err(Some(String::from_utf8_lossy(e).into_owned())),
                (None, Some(b)) => Ok(b.to_vec()),
                (None, None) => Ok(Vec::new()),
            },
        }
    }

    /// Whether `INFO` says `cluster_enabled:1`.
    pub fn is_cluster(&mut self) -> Result<bool, Option<String>> {
        self.info().map(|i| info_field(&i, "cluster_enabled") != 0)
    }

    /// Whether the node holds no key in db 0 and knows no other node.
    pub fn is_empty(&mut self) -> Result<bool, Option<String>> {
        let info = self.info()?;
        if String::from_utf8_lossy(&info).contains("db0:") {
            return Ok(false);
        }
        match self.cmd(&["CLUSTER", "INFO"]) {
            None => Ok(false),
            Some(v) => match (v.error_text(), v.as_bytes()) {
                (Some(e), _) => Err(Some(String::from_utf8_lossy(e).into_owned())),
                (None, b) => Ok(info_field(b.unwrap_or(b""), "cluster_known_nodes") == 1),
            },
        }
    }

    /// Reads `CLUSTER NODES` and loads this node's own line into it. With
    /// `friends`, also returns a new node for every other line. `Err(Some(text))` for an
    /// error reply, `Err(None)` for a failed connection or an unreadable reply.
    pub fn load_info(&mut self, friends: bool) -> Result<Vec<Node>, Option<String>> {
        let text = match self.cmd(&["CLUSTER", "NODES"]) {
            None => return Err(None),
            Some(v) => match (v.error_text(), v.as_bytes()) {
                (Some(e), _) => return Err(Some(String::from_utf8_lossy(e).into_owned())),
                (None, Some(b)) => String::from_utf8_lossy(b).into_owned(),
                (None, None) => return Err(None),
            },
        };
        let mut others = Vec::new();
        for line in text.split('\n').filter(|l| !l.is_empty()) {
            let parsed = match parse_nodes_line(line) {
                Ok(Some(p)) => p,
                Ok(None) => return Err(None),
                Err(()) => {
                    eprintln!("Error: invalid CLUSTER NODES reply"); // COMPAT
                    return Err(None);
                }
            };
            let myself = parsed.flags.contains(&"myself");
            if myself {
                self.bus_port = parsed.bus_port;
                self.flags |= MYSELF;
                self.load_slots(&parsed.slots);
                self.dirty = false;
                self.apply_line(&parsed);
                if !friends {
                    break;
                }
            } else if friends {
                let mut f = Node::new(parsed.ip, parsed.port, parsed.bus_port);
                f.flags |= FRIEND;
                f.apply_line(&parsed);
                others.push(f);
            }
        }
        Ok(others)
    }

    fn load_slots(&mut self, words: &[&str]) {
        self.slots.iter_mut().for_each(|s| *s = false);
        self.slots_count = 0;
        self.migrating.clear();
        self.importing.clear();
        for w in words {
            match parse_slot_word(w) {
                SlotWord::Range(a, b) => {
                    for s in a..=b {
                        if !self.slots[s] {
                            self.slots[s] = true;
                            self.slots_count += 1;
                        }
                    }
                }
                SlotWord::Migrating(slot, dst) => self.migrating.push((slot.into(), dst.into())),
                SlotWord::Importing(slot, src) => self.importing.push((slot.into(), src.into())),
                SlotWord::Unknown => {}
            }
        }
    }

    fn apply_line(&mut self, l: &NodesLine) {
        self.name = l.name.to_string();
        self.flag_words = l.flags.iter().map(|f| f.to_string()).collect();
        for f in &l.flags {
            match *f {
                "noaddr" => self.flags |= NOADDR,
                "disconnected" => self.flags |= DISCONNECTED,
                "fail" => self.flags |= FAIL,
                "slave" => {
                    self.flags |= REPLICA;
                    self.replicate = Some(l.master_id.to_string());
                }
                _ => {}
            }
        }
        self.current_epoch = l.config_epoch;
    }

    /// The flag words, without `myself`, joined by commas.
    pub fn flags_string(&self) -> String {
        let words: Vec<&str> = self.flag_words.iter().map(String::as_str).filter(|f| *f != "myself").collect();
        words.join(",")
    }

    /// The node as redis-cli's check and create show it, indented by `indent`.
    pub fn describe(&self, indent: usize) -> String {
        let spaces = " ".repeat(indent);
        let mut s = spaces.clone();
        if self.dirty && self.replicate.is_some() {
            s.push_str(&format!("S: {} {}:{}", self.name, self.ip, self.port));
        } else {
            let role = if self.is_replica() { "S" } else { "M" };
            s.push_str(&format!(
                "{role}: {} {}:{}\n{spaces}   slots:{} ({} slots) {}",
                self.name,
                self.ip,
                self.port,
                slots_string(&self.slots),
                self.slots_count,
                self.flags_string()
            ));
        }
        if let Some(master) = &self.replicate {
            s.push_str(&format!("\n{spaces}   replicates {master}"));
        } else if self.replicas_count > 0 {
            s.push_str(&format!("\n{spaces}   {} additional replica(s)", self.replicas_count));
        }
        s
    }

    /// `CLUSTER SETSLOT slot status id`. `Err(Some(text))` for an error reply,
    /// `Err(None)` when no reply came.
    pub fn set_slot(&mut self, slot: usize, status: &str, id: &str) -> Result<(), Option<String>> {
        let slot = slot.to_string();
        match self.cmd(&["CLUSTER", "SETSLOT", &slot, status, id]) {
            None => Err(None),
            Some(v) => match v.error_text() {
                Some(e) => Err(Some(String::from_utf8_lossy(e).into_owned())),
                None => Ok(()),
            },
        }
    }

    /// `CLUSTER SETSLOT slot STABLE`, errors printed.
    pub fn clear_slot_status(&mut self, slot: usize) -> bool {
        let r = self.cmd(&["CLUSTER", "SETSLOT", &slot.to_string(), "STABLE"]);
        self.reply_ok(&r)
    }

    /// `CLUSTER COUNTKEYSINSLOT`, or -1 on any failure (errors printed).
    pub fn count_keys_in_slot(&mut self, slot: usize) -> i64 {
        let r = self.cmd(&["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]);
        if !self.reply_ok(&r) {
            return -1;
        }
        match r {
            Some(Value::Int(n)) => n,
            _ => -1,
        }
    }

    /// `CLUSTER GETKEYSINSLOT slot count`: the keys, or the error text.
    pub fn keys_in_slot(&mut self, slot: usize, count: i32) -> Result<Vec<Vec<u8>>, Option<String>> {
        match self.cmd(&["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), &count.to_string()]) {
            None => Err(None),
            Some(Value::Array(items)) => {
                Ok(items.into_iter().filter_map(|k| k.as_bytes().map(<[u8]>::to_vec)).collect())
            }
            Some(v) => Err(Some(v.error_text().map(|e| String::from_utf8_lossy(e).into_owned()).unwrap_or_default())),
        }
    }

    /// `CLUSTER ADDSLOTS` of every slot planned for this node. False (with the error
    /// text, if any) when it has none or the node refused.
    pub fn add_planned_slots(&mut self) -> Result<(), Option<String>> {
        let planned: Vec<String> = (0..SLOTS).filter(|&s| self.slots[s]).map(|s| s.to_string()).collect();
        if planned.is_empty() {
            return Err(None);
        }
        let mut args: Vec<&[u8]> = vec![b"CLUSTER", b"ADDSLOTS"];
        args.extend(planned.iter().map(|s| s.as_bytes()));
        match self.call(&args) {
            None => Err(None),
            Some(v) => match v.error_text() {
                Some(e) => Err(Some(String::from_utf8_lossy(e).into_owned())),
                None => Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host1 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003 master - 0 1426238318243 3 connected 10923-16383 [77->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 [93-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]
";

    #[test]
    fn nodes_lines() {
        let l = parse_nodes_line(NODES.lines().next().unwrap()).unwrap().unwrap();
        assert_eq!((l.ip, l.port, l.bus_port), ("127.0.0.1", 30004, 31004));
        assert_eq!(l.flags, vec!["slave"]);
        assert_eq!(l.master_id, "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca");
        assert_eq!(l.config_epoch, 4);
        assert!(l.slots.is_empty());
        let l = parse_nodes_line(NODES.lines().nth(2).unwrap()).unwrap().unwrap();
        assert_eq!(l.slots, vec!["10923-16383", "[77->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]"]);
        assert_eq!(parse_slot_word("10923-16383"), SlotWord::Range(10923, 16383));
        assert_eq!(parse_slot_word("7"), SlotWord::Range(7, 7));
        assert_eq!(parse_slot_word("[77->-abc]"), SlotWord::Migrating("77", "abc"));
        assert_eq!(parse_slot_word("[93-<-def]"), SlotWord::Importing("93", "def"));
        assert_eq!(parse_slot_word("99999"), SlotWord::Unknown);
        assert!(parse_nodes_line("abc nocolon master -").is_err());
        assert_eq!(parse_nodes_line("abc"), Ok(None));
        assert_eq!(parse_address(":0@0"), Some(("", 0, 0)));
    }

    #[test]
    fn signature_ignores_open_slots_and_order() {
        let sig = config_signature(NODES).unwrap();
        assert_eq!(
            sig,
            "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f:10923-16383|\
             67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1:5461-10922|\
             e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca:0-5460"
        );
        let reordered: String = NODES.lines().rev().map(|l| format!("{l}\n")).collect();
        assert_eq!(config_signature(&reordered).unwrap(), sig);
        assert_eq!(config_signature("a 1.2.3.4:1@2 myself,master - 0 0 0 connected\n"), None);
    }

    #[test]
    fn slot_lists_and_info_fields() {
        let mut s = vec![false; SLOTS];
        assert_eq!(slots_string(&s), "");
        s[0] = true;
        s[1] = true;
        s[5] = true;
        s[SLOTS - 1] = true;
        assert_eq!(slots_string(&s), "[0-1],[5],[16383]");
        assert_eq!(info_field(b"# Cluster\r\ncluster_enabled:1\r\n", "cluster_enabled"), 1);
        assert_eq!(info_field(b"cluster_known_nodes:6\r\n", "cluster_known_nodes"), 6);
        assert_eq!(info_field(b"", "cluster_enabled"), 0);
        let links = "a 1.1.1.1:1@2 master,disconnected - 0 0 0 disconnected\n\
                     b 1.1.1.2:1@2 myself,master - 0 0 0 connected\n\
                     c 1.1.1.3:1@2 handshake - 0 0 0 connected 0-10\n";
        assert_eq!(disconnected_links(links), vec!["1.1.1.1:1@2", "1.1.1.3:1@2"]);
    }

    #[test]
    fn random_replies_never_panic() {
        let mut rng = viator::util::rand::Rng::with_seed(7);
        let alphabet = b" -<>[]:@,0123456789abcdef\nmyselfslave";
        for _ in 0..5000 {
            let len = rng.below(120) as usize;
            let text: String = (0..len).map(|_| alphabet[rng.below(alphabet.len() as u64) as usize] as char).collect();
            for line in text.split('\n') {
                if let Ok(Some(l)) = parse_nodes_line(line) {
                    for w in &l.slots {
                        let _ = parse_slot_word(w);
                    }
                }
            }
            let _ = config_signature(&text);
            let _ = disconnected_links(&text);
            let _ = info_field(text.as_bytes(), "cluster_enabled");
        }
    }
}
