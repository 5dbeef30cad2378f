//! Sentinel: monitoring of masters and replicas, agreement on failure,
//! leader election and automatic failover, and address discovery for clients.
//!
//! Owns the Sentinel state (`Sentinel`: monitored masters with their replicas
//! and the other Sentinels watching them), the periodic timer run from the
//! server cron, and the event queue that becomes pub/sub messages and log
//! lines. It runs inside the server's reactor: its links to instances are
//! ordinary non-blocking client connections (see `link`).
//!
//! Must not: touch the keyspace or replication internals; a Sentinel serves
//! no data. Mirrors Redis 7.0's sentinel.c in behaviour (periods, flags,
//! event names and formats, reply shapes, config lines), not in code.
//!
//! Files: `conf` (directives and config rewrite), `link` (connections and
//! replies), `monitor` (periodic commands, INFO, hello, SDOWN/ODOWN, TILT),
//! `failover` (votes, leader, the failover state machine), `cmd` (SENTINEL,
//! INFO, ROLE, PUBLISH in Sentinel mode), `script` (notification and client
//! reconfiguration scripts).

pub mod cmd;
pub mod conf;
pub mod failover;
pub mod link;
pub mod monitor;
pub mod script;

use crate::client::Client;
use crate::server::Server;

/// Instance flags, as Redis's `SRI_*` (only the ones Sentinel shows or tests).
pub mod flags {
    /// Subjectively down.
    pub const S_DOWN: u32 = 1 << 3;
    /// Objectively down (quorum agreed).
    pub const O_DOWN: u32 = 1 << 4;
    /// A Sentinel that told us the master is down.
    pub const MASTER_DOWN: u32 = 1 << 5;
    /// Failover in progress for this master.
    pub const FAILOVER_IN_PROGRESS: u32 = 1 << 6;
    /// The replica chosen for promotion.
    pub const PROMOTED: u32 = 1 << 7;
    /// REPLICAOF new-master sent.
    pub const RECONF_SENT: u32 = 1 << 8;
    /// The replica is syncing with the new master.
    pub const RECONF_INPROG: u32 = 1 << 9;
    /// The replica finished syncing with the new master.
    pub const RECONF_DONE: u32 = 1 << 10;
    /// SENTINEL FAILOVER: no election needed.
    pub const FORCE_FAILOVER: u32 = 1 << 11;
    /// SCRIPT KILL sent after a -BUSY reply.
    pub const SCRIPT_KILL_SENT: u32 = 1 << 12;
    /// The master restarted (new run id) and is still within its reboot period.
    pub const MASTER_REBOOT: u32 = 1 << 13;
}

/// What kind of instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A monitored master.
    Master,
    /// A replica of a monitored master.
    Replica,
    /// Another Sentinel watching the same master.
    Sentinel,
}

impl Role {
    /// The word Redis uses in events (`master`, `slave`, `sentinel`).
    pub fn word(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Replica => "slave",
            Role::Sentinel => "sentinel",
        }
    }
}

/// Failover states, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailoverState {
    /// No failover.
    None,
    /// Waiting to be elected leader.
    WaitStart,
    /// Choosing the replica.
    SelectSlave,
    /// Sending REPLICAOF NO ONE.
    SendSlaveofNoone,
    /// Waiting for the replica to report the master role.
    WaitPromotion,
    /// Pointing the other replicas at the promoted one.
    ReconfSlaves,
    /// Done; switch the monitored address.
    UpdateConfig,
}

impl FailoverState {
    /// The name SENTINEL MASTER shows.
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::None => "none",
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoone => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
            FailoverState::UpdateConfig => "update_config",
        }
    }
}

/// A host and port; `host` is what the user gave (or was announced), `ip` the
/// resolved address used to connect (equal to `host` when it is an IP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addr {
    /// As configured or announced.
    pub host: String,
    /// Resolved address.
    pub ip: String,
    /// TCP port.
    pub port: u16,
}

impl Addr {
    /// An address kept as given: `ip` is `host` (a name is resolved when connecting).
    pub fn new(host: &str, port: u16) -> Addr {
        Addr { host: host.to_string(), ip: host.to_string(), port }
    }

    /// An address with `host` resolved now (`resolve-hostnames yes`); a name that
    /// does not resolve keeps the name as its IP.
    pub fn resolved(host: &str, port: u16) -> Addr {
        let ip = if host.parse::<std::net::IpAddr>().is_ok() {
            host.to_string()
        } else {
            std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
                .ok()
                .and_then(|mut a| a.next())
                .map(|a| a.ip().to_string())
                .unwrap_or_else(|| host.to_string())
        };
        Addr { host: host.to_string(), ip, port }
    }

    /// Whether `host` names this address (by name or by IP).
    pub fn is_host(&self, host: &str) -> bool {
        self.host.eq_ignore_ascii_case(host) || self.ip.eq_ignore_ascii_case(host)
    }

    /// Same instance (host or IP, and port).
    pub fn same(&self, o: &Addr) -> bool {
        self.port == o.port && (self.is_host(&o.host) || self.is_host(&o.ip))
    }
}

/// One connection pair's bookkeeping (Redis's instanceLink).
#[derive(Debug, Clone, Default)]
pub struct LinkState {
    /// Command connection (slab key in `Sentinel::conns`).
    pub cc: Option<usize>,
    /// Pub/sub connection (masters and replicas only).
    pub pc: Option<usize>,
    /// Commands sent and not yet answered.
    pub pending_commands: i64,
    /// When the command connection was opened.
    pub cc_conn_time: i64,
    /// When the pub/sub connection was opened.
    pub pc_conn_time: i64,
    /// Last message seen on the pub/sub connection.
    pub pc_last_activity: i64,
    /// Last valid PING reply.
    pub last_avail_time: i64,
    /// When the oldest unanswered PING was sent (0: none pending).
    pub act_ping_time: i64,
    /// Last PING sent.
    pub last_ping_time: i64,
    /// Last PING reply of any kind.
    pub last_pong_time: i64,
    /// Last reconnection attempt.
    pub last_reconn_time: i64,
}

/// A master, replica or Sentinel as seen by this Sentinel.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Kind.
    pub role: Role,
    /// Master name; `ip:port` for replicas; run id for Sentinels.
    pub name: String,
    /// Address.
    pub addr: Addr,
    /// Run id once known.
    pub runid: Option<String>,
    /// `flags::*`.
    pub flags: u32,
    /// Connections.
    pub link: LinkState,
    /// Whether both needed connections are up.
    pub disconnected: bool,
    /// SDOWN after this many ms without a valid reply.
    pub down_after: i64,
    /// When SDOWN started.
    pub s_down_since: i64,
    /// When ODOWN started.
    pub o_down_since: i64,
    /// Last hello we published through this instance.
    pub last_pub_time: i64,
    /// Last hello received from this Sentinel.
    pub last_hello_time: i64,
    /// Last IS-MASTER-DOWN-BY-ADDR reply from this Sentinel.
    pub last_master_down_reply_time: i64,
    /// Last INFO text.
    pub info: Option<String>,
    /// When INFO was last parsed (0: never).
    pub info_refresh: i64,
    /// Role INFO reported.
    pub role_reported: Role,
    /// When that role was first reported.
    pub role_reported_time: i64,
    /// When the replica's master address last changed.
    pub slave_conf_change_time: i64,
    /// `master_link_down_since_seconds` in ms.
    pub master_link_down_time: i64,
    /// Replica's `master_host`.
    pub slave_master_host: Option<String>,
    /// Replica's `master_port`.
    pub slave_master_port: u16,
    /// Replica's `master_link_status` is up.
    pub slave_master_link_up: bool,
    /// Replica's `slave_priority`.
    pub slave_priority: i64,
    /// Replica's `slave_repl_offset`.
    pub slave_repl_offset: u64,
    /// Replica's `replica_announced`.
    pub replica_announced: bool,
    /// When REPLICAOF was sent during a failover.
    pub slave_reconf_sent_time: i64,
    /// Leader this Sentinel voted for (masters: our own vote).
    pub leader: Option<String>,
    /// Epoch of that vote.
    pub leader_epoch: u64,
    /// When a reboot was noticed (MASTER_REBOOT).
    pub master_reboot_since: i64,
}

impl Instance {
    fn new(role: Role, name: String, addr: Addr, down_after: i64, now: i64) -> Instance {
        Instance {
            role,
            name,
            addr,
            runid: None,
            flags: 0,
            link: LinkState { last_avail_time: now, last_pong_time: now, ..Default::default() },
            disconnected: true,
            down_after,
            s_down_since: 0,
            o_down_since: 0,
            last_pub_time: now,
            last_hello_time: now,
            last_master_down_reply_time: now,
            info: None,
            info_refresh: 0,
            role_reported: role,
            role_reported_time: now,
            slave_conf_change_time: now,
            master_link_down_time: 0,
            slave_master_host: None,
            slave_master_port: 0,
            slave_master_link_up: false,
            slave_priority: 100,
            slave_repl_offset: 0,
            replica_announced: true,
            slave_reconf_sent_time: 0,
            leader: None,
            leader_epoch: 0,
            master_reboot_since: 0,
        }
    }
}

/// A monitored master with everything attached to it.
#[derive(Debug, Clone)]
pub struct Master {
    /// The master itself.
    pub ri: Instance,
    /// Replicas, discovered from INFO or the config.
    pub replicas: Vec<Instance>,
    /// Other Sentinels, discovered from hello messages or the config.
    pub sentinels: Vec<Instance>,
    /// Sentinels needed to agree on ODOWN.
    pub quorum: u32,
    /// Replicas reconfigured at once after a failover.
    pub parallel_syncs: i64,
    /// Failover timeout, ms.
    pub failover_timeout: i64,
    /// Epoch of the configuration in force.
    pub config_epoch: u64,
    /// Epoch of the failover under way.
    pub failover_epoch: u64,
    /// Failover state.
    pub failover_state: FailoverState,
    /// When the state last changed.
    pub failover_state_change_time: i64,
    /// When the last failover attempt started (or will start).
    pub failover_start_time: i64,
    /// Which start time the "Next failover delay" line was logged for.
    pub failover_delay_logged: i64,
    /// Name of the promoted replica during a failover.
    pub promoted: Option<String>,
    /// `auth-pass`.
    pub auth_pass: Option<String>,
    /// `auth-user`.
    pub auth_user: Option<String>,
    /// `notification-script`.
    pub notification_script: Option<String>,
    /// `client-reconfig-script`.
    pub client_reconfig_script: Option<String>,
    /// `master-reboot-down-after-period`, ms.
    pub master_reboot_down_after: i64,
    /// `rename-command` pairs (original, new), in order given.
    pub renamed: Vec<(String, String)>,
}

/// Which instance of a master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The master.
    Master,
    /// Replica at this index.
    Replica(usize),
    /// Sentinel at this index.
    Sentinel(usize),
}

impl Master {
    fn new(name: &str, addr: Addr, quorum: u32, t: &Timing, now: i64) -> Master {
        Master {
            ri: Instance::new(Role::Master, name.to_string(), addr, t.default_down_after, now),
            replicas: Vec::new(),
            sentinels: Vec::new(),
            quorum,
            parallel_syncs: 1,
            failover_timeout: t.default_failover_timeout,
            config_epoch: 0,
            failover_epoch: 0,
            failover_state: FailoverState::None,
            failover_state_change_time: 0,
            failover_start_time: 0,
            failover_delay_logged: 0,
            promoted: None,
            auth_pass: None,
            auth_user: None,
            notification_script: None,
            client_reconfig_script: None,
            master_reboot_down_after: 0,
            renamed: Vec::new(),
        }
    }

    /// The instance `w`. Panics only on an index this module computed itself.
    pub fn get(&self, w: Which) -> &Instance {
        match w {
            Which::Master => &self.ri,
            Which::Replica(i) => &self.replicas[i],
            Which::Sentinel(i) => &self.sentinels[i],
        }
    }

    /// Mutable [`Master::get`].
    pub fn get_mut(&mut self, w: Which) -> &mut Instance {
        match w {
            Which::Master => &mut self.ri,
            Which::Replica(i) => &mut self.replicas[i],
            Which::Sentinel(i) => &mut self.sentinels[i],
        }
    }

    /// Finds an instance by role and name.
    pub fn find(&self, role: Role, name: &str) -> Option<Which> {
        match role {
            Role::Master => (self.ri.name == name).then_some(Which::Master),
            Role::Replica => self.replicas.iter().position(|r| r.name == name).map(Which::Replica),
            Role::Sentinel => self.sentinels.iter().position(|r| r.name == name).map(Which::Sentinel),
        }
    }

    /// The promoted replica's index, during a failover.
    pub fn promoted_idx(&self) -> Option<usize> {
        let name = self.promoted.as_deref()?;
        self.replicas.iter().position(|r| r.name == name)
    }

    /// The address clients should use: the promoted replica's once the failover
    /// reached the reconfiguration of replicas, else the master's.
    pub fn current_addr(&self) -> &Addr {
        if self.ri.flags & flags::FAILOVER_IN_PROGRESS != 0 && self.failover_state >= FailoverState::ReconfSlaves {
            if let Some(i) = self.promoted_idx() {
                return &self.replicas[i].addr;
            }
        }
        &self.ri.addr
    }

    /// The command name to send for `cmd` (honouring `rename-command`).
    pub fn map_command<'a>(&'a self, cmd: &'a str) -> &'a str {
        self.renamed.iter().find(|(o, _)| o.eq_ignore_ascii_case(cmd)).map_or(cmd, |(_, n)| n.as_str())
    }
}

/// Periods and timeouts, changeable with SENTINEL DEBUG (Redis's defaults).
#[derive(Debug, Clone)]
pub struct Timing {
    /// INFO period.
    pub info_period: i64,
    /// PING period.
    pub ping_period: i64,
    /// IS-MASTER-DOWN-BY-ADDR period.
    pub ask_period: i64,
    /// Hello period.
    pub publish_period: i64,
    /// Default down-after-milliseconds.
    pub default_down_after: i64,
    /// Timer gap that enters TILT.
    pub tilt_trigger: i64,
    /// TILT duration.
    pub tilt_period: i64,
    /// Replica reconfiguration timeout.
    pub slave_reconf_timeout: i64,
    /// Minimum age of a link before it may be dropped as unresponsive.
    pub min_link_reconnect_period: i64,
    /// Default failover-timeout.
    pub default_failover_timeout: i64,
    /// Election timeout.
    pub election_timeout: i64,
    /// Script maximum run time.
    pub script_max_runtime: i64,
    /// Delay between script retries.
    pub script_retry_delay: i64,
}

impl Default for Timing {
    fn default() -> Self {
        // COMPAT: sentinel.c's defaults.
        Timing {
            info_period: 10_000,
            ping_period: 1000,
            ask_period: 1000,
            publish_period: 2000,
            default_down_after: 30_000,
            tilt_trigger: 2000,
            tilt_period: 30_000,
            slave_reconf_timeout: 10_000,
            min_link_reconnect_period: 15_000,
            default_failover_timeout: 180_000,
            election_timeout: 10_000,
            script_max_runtime: 60_000,
            script_retry_delay: 30_000,
        }
    }
}

/// Log level of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Not published, logged at debug.
    Debug,
    /// Logged at verbose.
    Verbose,
    /// Logged at notice.
    Notice,
    /// Logged at warning; runs the notification script.
    Warning,
}

/// An event waiting to be published and logged.
#[derive(Debug, Clone)]
pub struct Event {
    /// Level.
    pub level: Level,
    /// Channel / type (`+sdown`).
    pub kind: String,
    /// Message.
    pub msg: String,
    /// The master's notification script, for warnings.
    pub script: Option<String>,
}

/// The whole Sentinel state.
pub struct Sentinel {
    /// This Sentinel's 40-char id.
    pub myid: String,
    /// Highest epoch seen.
    pub current_epoch: u64,
    /// Monitored masters, in creation order.
    pub masters: Vec<Master>,
    /// TILT mode.
    pub tilt: bool,
    /// When TILT started.
    pub tilt_start_time: i64,
    /// Previous timer run.
    pub previous_time: i64,
    /// `announce-ip`.
    pub announce_ip: Option<String>,
    /// `announce-port` (0: none).
    pub announce_port: u16,
    /// `deny-scripts-reconfig`.
    pub deny_scripts_reconfig: bool,
    /// `resolve-hostnames`.
    pub resolve_hostnames: bool,
    /// `announce-hostnames`.
    pub announce_hostnames: bool,
    /// `sentinel-user`.
    pub sentinel_user: Option<String>,
    /// `sentinel-pass`.
    pub sentinel_pass: Option<String>,
    /// SENTINEL SIMULATE-FAILURE flags (1: after election, 2: after promotion).
    pub simfailure: u32,
    /// Periods.
    pub timing: Timing,
    /// Open connections to instances.
    pub conns: slab::Slab<link::Conn>,
    /// Events to publish.
    pub events: Vec<Event>,
    /// Scripts queued or running.
    pub scripts: script::Scripts,
    /// The config must be written at the end of this step.
    pub flush_needed: bool,
    /// This server's port (hello messages).
    pub port: u16,
    /// This server's `requirepass`, used with other Sentinels when `sentinel-pass` is unset.
    pub requirepass: Option<String>,
    /// The server cron rate while in Sentinel mode, redrawn in 10..20 on every
    /// tick so that Sentinels do not act in lockstep (Redis changes server.hz).
    pub hz: u32,
    /// Randomness for the cron rate and failover start jitter.
    pub rng: crate::util::rand::Rng,
}

/// SIMULATE-FAILURE: crash after being elected.
pub const SIM_CRASH_AFTER_ELECTION: u32 = 1;
/// SIMULATE-FAILURE: crash after promoting the replica.
pub const SIM_CRASH_AFTER_PROMOTION: u32 = 2;

impl Sentinel {
    /// An empty Sentinel for a server on `port`.
    pub fn new(port: u16, now: i64) -> Sentinel {
        Sentinel {
            myid: String::new(),
            current_epoch: 0,
            masters: Vec::new(),
            tilt: false,
            tilt_start_time: 0,
            previous_time: now,
            announce_ip: None,
            announce_port: 0,
            deny_scripts_reconfig: true,
            resolve_hostnames: false,
            announce_hostnames: false,
            sentinel_user: None,
            sentinel_pass: None,
            simfailure: 0,
            timing: Timing::default(),
            conns: slab::Slab::new(),
            events: Vec::new(),
            scripts: Default::default(),
            flush_needed: false,
            port,
            requirepass: None,
            hz: DEFAULT_HZ,
            rng: crate::util::rand::Rng::from_entropy(),
        }
    }

    /// Index of the master called `name`.
    pub fn master_idx(&self, name: &str) -> Option<usize> {
        self.masters.iter().position(|m| m.ri.name == name)
    }

    /// The address as announced: the hostname with `announce-hostnames`, else the IP.
    pub fn announce<'a>(&self, a: &'a Addr) -> &'a str {
        if self.announce_hostnames {
            &a.host
        } else {
            &a.ip
        }
    }

    /// Adds a master; errors are Redis's messages.
    pub fn add_master(&mut self, name: &str, host: &str, port: i64, quorum: u32, now: i64) -> Result<usize, String> {
        let port = valid_port(port)?;
        if self.master_idx(name).is_some() {
            // COMPAT: sentinelCheckCreateInstanceErrors.
            return Err("Duplicate master name.".into());
        }
        let addr = self.make_addr(host, port);
        self.masters.push(Master::new(name, addr, quorum, &self.timing, now));
        Ok(self.masters.len() - 1)
    }

    /// A replica of master `mi` at `host:port`; `None` if it already exists.
    pub fn add_replica(&mut self, mi: usize, host: &str, port: i64, now: i64) -> Result<usize, String> {
        let port = valid_port(port)?;
        let addr = self.make_addr(host, port);
        let name = format!("{}:{}", fmt_host(self.announce(&addr)), port);
        let m = &mut self.masters[mi];
        if m.replicas.iter().any(|r| r.name == name) {
            return Err("Duplicate hostname and port for replica.".into());
        }
        m.replicas.push(Instance::new(Role::Replica, name, addr, m.ri.down_after, now));
        Ok(m.replicas.len() - 1)
    }

    /// A Sentinel of master `mi` with run id `runid`.
    pub fn add_sentinel(&mut self, mi: usize, runid: &str, host: &str, port: i64, now: i64) -> Result<usize, String> {
        let port = valid_port(port)?;
        let addr = self.make_addr(host, port);
        let m = &mut self.masters[mi];
        if m.sentinels.iter().any(|r| r.name == runid) {
            return Err("Duplicate runid for sentinel.".into());
        }
        let mut si = Instance::new(Role::Sentinel, runid.to_string(), addr, m.ri.down_after, now);
        si.runid = Some(runid.to_string());
        m.sentinels.push(si);
        Ok(m.sentinels.len() - 1)
    }

    fn make_addr(&self, host: &str, port: u16) -> Addr {
        if self.resolve_hostnames {
            Addr::resolved(host, port)
        } else {
            Addr::new(host, port)
        }
    }

    /// Queues an event. `who` (master index and instance) gives the `%@` prefix
    /// (`<role> <name> <ip> <port>[ @ <master> <ip> <port>]`) when set.
    pub fn event(&mut self, level: Level, kind: &str, who: Option<(usize, Which)>, rest: &str) {
        let mut msg = String::new();
        let mut script = None;
        if let Some((mi, w)) = who {
            msg = self.describe(mi, w);
            if !rest.is_empty() {
                msg.push(' ');
            }
            script = self.masters[mi].notification_script.clone();
        }
        msg.push_str(rest);
        self.events.push(Event { level, kind: kind.to_string(), msg, script });
    }

    /// An event with no instance prefix (`+tilt`), or a master-scoped event whose
    /// text is given whole (`+new-epoch`, `+switch-master`).
    pub fn event_plain(&mut self, level: Level, kind: &str, mi: Option<usize>, msg: String) {
        let script = mi.and_then(|i| self.masters[i].notification_script.clone());
        self.events.push(Event { level, kind: kind.to_string(), msg, script });
    }

    /// `%@` for an instance.
    pub fn describe(&self, mi: usize, w: Which) -> String {
        let m = &self.masters[mi];
        let ri = m.get(w);
        let base = format!("{} {} {} {}", ri.role.word(), ri.name, self.announce(&ri.addr), ri.addr.port);
        if w == Which::Master {
            base
        } else {
            format!("{base} @ {} {} {}", m.ri.name, self.announce(&m.ri.addr), m.ri.addr.port)
        }
    }
}

/// Checks a port number as Redis does.
fn valid_port(port: i64) -> Result<u16, String> {
    if !(0..=65535).contains(&port) {
        // COMPAT: sentinelCheckCreateInstanceErrors.
        return Err("Invalid port number.".into());
    }
    Ok(port as u16)
}

/// IPv6 addresses get brackets in `ip:port` names, as Redis's announceSentinelAddrAndPort.
fn fmt_host(h: &str) -> String {
    if h.contains(':') {
        format!("[{h}]")
    } else {
        h.to_string()
    }
}

/// The command table rows for Sentinel mode: every server command flagged
/// `sentinel`, with INFO, ROLE and PUBLISH replaced by their Sentinel versions,
/// plus the SENTINEL subcommands.
pub fn bindings() -> Vec<(&'static str, crate::cmd::Handler)> {
    let allowed = |full: &str| {
        let (container, name) = full.split_once('|').unwrap_or(("", full));
        crate::cmd::specs::SPECS
            .iter()
            .find(|s| s.container == container && s.name == name)
            .is_some_and(|s| s.flags.contains(&"sentinel"))
    };
    let mut out: Vec<(&'static str, crate::cmd::Handler)> = Vec::new();
    for &(name, h) in crate::cmd::BINDINGS {
        if !allowed(name) {
            continue;
        }
        let h: crate::cmd::Handler = match name {
            "info" => cmd::info,
            "role" => cmd::role,
            "publish" => cmd::publish,
            _ => h,
        };
        out.push((name, h));
    }
    out.extend_from_slice(cmd::BINDINGS);
    out
}

/// Start-up in Sentinel mode, after the server is built: reads the `sentinel`
/// config lines, makes sure an id exists (saving the config when it was just
/// generated) and announces the monitored masters. Errors are worded for the
/// log, as Redis's fatal config errors.
pub fn init(srv: &mut Server) -> Result<(), String> {
    let now = srv.clock.now_ms;
    let mut s = Sentinel::new(srv.tcp_port, now);
    let pass = srv.config.get_one(b"requirepass").unwrap_or_default();
    s.requirepass = (!pass.is_empty()).then_some(pass);
    // Redis applies global options first, then `monitor`, then per-master
    // options, so their order in the file does not matter.
    let lines = srv.config.sentinel_lines();
    let phase = |l: &Vec<String>| match l.first().map(|w| w.to_ascii_lowercase()) {
        Some(w) if w == "monitor" => 1,
        Some(w) if conf::PRE_MONITOR.contains(&w.as_str()) => 0,
        _ => 2,
    };
    let ordered = (0..3).flat_map(|p| lines.iter().filter(move |l| phase(l) == p));
    for line in ordered {
        let words: Vec<&str> = line.iter().map(String::as_str).collect();
        if let Err(e) = conf::apply(&mut s, &words, now) {
            // COMPAT: Redis's report for a bad `sentinel` line.
            return Err(format!(
                "\n*** FATAL CONFIG FILE ERROR (Redis {}) ***\n>>> 'sentinel {}'\n{e}",
                crate::REDIS_VERSION,
                line.join(" ")
            ));
        }
    }
    let fresh = s.myid.is_empty();
    if fresh {
        s.myid = crate::server::random_hex(40);
    }
    srv.sentinel = Some(Box::new(s));
    if fresh {
        flush_config(srv);
    }
    if let Some(s) = srv.sentinel.as_mut() {
        log::warn!("Sentinel ID is {}", s.myid);
        for mi in 0..s.masters.len() {
            let q = s.masters[mi].quorum;
            s.event(Level::Warning, "+monitor", Some((mi, Which::Master)), &format!("quorum {q}"));
        }
    }
    drain_events(srv, None);
    Ok(())
}

/// Redis's default `hz`, the base of Sentinel's randomised cron rate.
const DEFAULT_HZ: u32 = 10;

/// The Sentinel timer, run from every server cron tick.
pub fn timer(srv: &mut Server) {
    let Some(mut s) = srv.sentinel.take() else { return };
    let now = srv.clock.now_ms;
    monitor::timer(&mut s, &srv.reactor, now);
    script::run(&mut s, now);
    s.hz = DEFAULT_HZ + s.rng.below(u64::from(DEFAULT_HZ)) as u32;
    srv.sentinel = Some(s);
    drain_events(srv, None);
}

/// The cron rate: Sentinel's randomised one in Sentinel mode, else `hz`.
pub fn cron_hz(srv: &Server) -> i64 {
    srv.sentinel.as_ref().map_or(srv.config.hz, |s| i64::from(s.hz))
}

/// Runs `f` with the Sentinel taken out of the server, then publishes the
/// events it queued and saves the config if it changed. `current` is the
/// client running a command (out of the slab meanwhile).
pub fn with<R>(
    srv: &mut Server,
    current: Option<&mut Client>,
    f: impl FnOnce(&mut Sentinel, &crate::reactor::Reactor, i64) -> R,
) -> Option<R> {
    let mut s = srv.sentinel.take()?;
    let now = crate::util::clock::unix_ms();
    let r = f(&mut s, &srv.reactor, now);
    srv.sentinel = Some(s);
    drain_events(srv, current);
    Some(r)
}

/// Publishes and logs queued events, queues scripts, and writes the config
/// when something asked for it.
pub fn drain_events(srv: &mut Server, mut current: Option<&mut Client>) {
    let Some(s) = srv.sentinel.as_mut() else { return };
    let events = std::mem::take(&mut s.events);
    let flush = std::mem::take(&mut s.flush_needed);
    for ev in &events {
        let line = format!("{} {}", ev.kind, ev.msg);
        match ev.level {
            Level::Debug => log::debug!("{line}"),
            Level::Verbose => log::debug!("{line}"),
            Level::Notice => log::info!("{line}"),
            Level::Warning => log::warn!("{line}"),
        }
        if ev.level == Level::Warning {
            if let (Some(path), Some(s)) = (&ev.script, srv.sentinel.as_mut()) {
                s.scripts.schedule(path, vec![ev.kind.clone(), ev.msg.clone()]);
            }
        }
        if ev.level != Level::Debug {
            crate::cmd::pubsub::publish_message(srv, current.as_deref_mut(), ev.kind.as_bytes(), ev.msg.as_bytes());
        }
    }
    if flush {
        flush_config(srv);
    }
}

/// Writes the config file with the Sentinel state (Redis's sentinelFlushConfig).
/// Returns false (and logs) on failure.
pub fn flush_config(srv: &mut Server) -> bool {
    let Some(path) = srv.config_file.clone() else { return false };
    let Some(s) = srv.sentinel.take() else { return false };
    let users = srv.acl.describe_all();
    let mut extra = |st: &mut crate::config::RewriteState| conf::rewrite(&s, st);
    let hooks = crate::config::RewriteHooks { users: Some(&users), extra: Some(&mut extra), ..Default::default() };
    let r = srv.config.rewrite_with(&path, hooks);
    srv.sentinel = Some(s);
    match r {
        Ok(()) => {
            log::info!("Sentinel new configuration saved on disk");
            true
        }
        Err(e) => {
            // COMPAT: sentinelFlushConfig's warning.
            log::warn!("WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}");
            false
        }
    }
}

/// Checks the config file a Sentinel needs before start-up: `Err` carries
/// Redis's message for a missing or unwritable file.
pub fn check_config_file(path: Option<&std::path::Path>) -> Result<(), String> {
    let Some(path) = path else {
        // COMPAT: sentinelCheckConfigFile.
        return Err("Sentinel needs config file on disk to save state. Exiting...".into());
    };
    // Opening for append checks writability as access(W_OK) does, without unsafe.
    match std::fs::OpenOptions::new().append(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) => Err(format!(
            "Sentinel config file {} is not writable: {}. Exiting...",
            path.display(),
            crate::config::strerror(&e)
        )),
    }
}
