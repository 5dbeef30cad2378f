//! (temporary: replaced by the configuration module landing in parallel)
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel { Debug, Verbose, Notice, Warning, Nothing }
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtectedMode { No, Yes, Local }

#[derive(Debug, Clone)]
pub struct Config {
    pub port: i64, pub bind: Vec<String>, pub unixsocket: String, pub unixsocketperm: u32,
    pub tcp_backlog: i64, pub tcp_keepalive: i64, pub timeout: i64, pub maxclients: i64,
    pub protected_mode: bool, pub daemonize: bool, pub pidfile: String, pub hz: i64,
    pub loglevel: LogLevel, pub logfile: String, pub databases: i64, pub requirepass: String,
    pub proto_max_bulk_len: i64, pub client_query_buffer_limit: i64, pub notify_keyspace_events: u32,
    pub enable_debug_command: ProtectedMode, pub always_show_logo: bool, pub dir: String,
    pub active_expire_effort: i64, pub save: Vec<(i64, i64)>, pub appendonly: bool,
    pub cluster_enabled: bool, pub maxmemory: i64,
}
impl Default for Config {
    fn default() -> Self {
        Config { port: 6379, bind: vec!["*".into(), "-::*".into()], unixsocket: String::new(), unixsocketperm: 0,
            tcp_backlog: 511, tcp_keepalive: 300, timeout: 0, maxclients: 10000, protected_mode: true,
            daemonize: false, pidfile: String::new(), hz: 10, loglevel: LogLevel::Notice, logfile: String::new(),
            databases: 16, requirepass: String::new(), proto_max_bulk_len: 512 << 20,
            client_query_buffer_limit: 1 << 30, notify_keyspace_events: 0, enable_debug_command: ProtectedMode::No,
            always_show_logo: false, dir: "./".into(), active_expire_effort: 1, save: vec![], appendonly: false,
            cluster_enabled: false, maxmemory: 0 }
    }
}
pub enum Startup { Run { config: Config, config_file: Option<PathBuf>, sentinel: bool }, Version, Help, TestMemory }
#[derive(Debug)]
pub struct ConfigError(pub String);
impl std::fmt::Display for ConfigError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(&self.0) } }
pub fn parse_startup(args: &[String]) -> Result<Startup, ConfigError> {
    let mut c = Config::default();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--port" { c.port = args[i+1].parse().unwrap_or(6379); i += 1; }
        if args[i] == "--enable-debug-command" { c.enable_debug_command = ProtectedMode::Yes; i += 1; }
        i += 1;
    }
    Ok(Startup::Run { config: c, config_file: None, sentinel: false })
}
impl Config {
    pub fn get(&self, _p: &[&[u8]]) -> Vec<(String, String)> { vec![] }
    pub fn set(&mut self, _p: &[(&[u8], &[u8])]) -> Result<Vec<&'static str>, String> { Err("ERR nope".into()) }
    pub fn rewrite(&self, _p: &std::path::Path) -> std::io::Result<()> { Ok(()) }
    pub fn unimplemented_in_use(&self) -> Vec<&'static str> { vec![] }
}
