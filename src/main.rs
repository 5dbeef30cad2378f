//! viator-server: parses the command line and config file exactly as
//! redis-server does, sets up logging, daemonizes if asked, opens the
//! listeners and runs the reactor until shutdown.

use std::io::Write;

use viator::config::{self, Startup};
use viator::server::Server;

// jemalloc: the allocator Redis uses, so memory per key and fragmentation
// behave alike, and INFO's `used_memory` comes from its statistics.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    // Like redis-server, run as the RDB checker when started under that name.
    let argv: Vec<String> = std::env::args().collect();
    if argv.first().and_then(|a| a.rsplit('/').next()).is_some_and(|n| n.contains("check-rdb")) {
        std::process::exit(viator::rdb::check::main(&argv));
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Before any thread starts: the title area takes over the environment.
    viator::proctitle::init();
    // Like redis-server, run as Sentinel when started under a sentinel name.
    let as_sentinel = argv.first().and_then(|a| a.rsplit('/').next()).is_some_and(|n| n.contains("sentinel"));
    let parsed = if as_sentinel { config::parse_startup_sentinel(&args) } else { config::parse_startup(&args) };
    let startup = match parsed {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e}");
            std::process::exit(1);
        }
    };
    let (cfg, config_file, sentinel) = match startup {
        Startup::Version => {
            println!(
                "Redis server v={} sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=viator-{}",
                viator::REDIS_VERSION,
                viator::VIATOR_VERSION
            );
            return;
        }
        Startup::Help => {
            print_usage();
            return;
        }
        Startup::TestMemory => {
            eprintln!("--test-memory is not supported by Viator; use a dedicated memory tester such as memtester.");
            std::process::exit(1);
        }
        Startup::Run { config, config_file, sentinel } => (config, config_file, sentinel),
    };
    viator::logging::configure(cfg.loglevel, &cfg.logfile);
    if sentinel {
        if let Err(e) = viator::sentinel::check_config_file(config_file.as_deref()) {
            log::warn!("{e}");
            std::process::exit(1);
        }
    }
    if cfg.daemonize {
        daemonize();
    }
    let pid = std::process::id();
    log::warn!("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo");
    log::warn!(
        "Redis version={}, bits=64, commit=00000000, modified=0, pid={pid}, just started (Viator {})",
        viator::REDIS_VERSION,
        viator::VIATOR_VERSION
    );
    match &config_file {
        Some(_) => log::warn!("Configuration loaded"),
        None => log::warn!(
            "Warning: no config file specified, using the default config. In order to specify a config file use {} /path/to/redis.conf",
            viator::proctitle::program_name()
        ),
    }
    viator::reactor::signal::install();
    viator::crash::install();
    viator::crash::set_enabled(cfg.crash_log_enabled);
    let mut cfg = cfg;
    adjust_open_files_limit(&mut cfg);
    let show_logo = cfg.always_show_logo;
    let mut srv = match Server::new(cfg, config_file) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("{e}");
            std::process::exit(1);
        }
    };
    viator::logging::set_role(if sentinel { b'X' } else { b'M' });
    if show_logo {
        viator::logging::write_raw(&logo(&srv, pid));
    } else {
        log::info!("Running mode={}, port={}.", mode_name(&srv), srv.tcp_port);
    }
    if let Err(e) = viator::cluster::init(&mut srv) {
        log::warn!("{e}");
        std::process::exit(1);
    }
    if viator::cluster::myself_is_replica(&srv) {
        // A replica by nodes.conf: what it loads waits for its master's DELs.
        srv.ks.expire_deletes = false;
    }
    if sentinel {
        if let Err(e) = viator::sentinel::init(&mut srv) {
            log::warn!("{e}");
            std::process::exit(1);
        }
    }
    srv.note_unimplemented();
    if srv.config.daemonize || !srv.config.pidfile.is_empty() {
        let path =
            if srv.config.pidfile.is_empty() { "/var/run/redis.pid".to_string() } else { srv.config.pidfile.clone() };
        if let Err(e) = std::fs::write(&path, format!("{pid}\n")) {
            log::warn!("Failed to write PID file: {e}");
        }
    }
    log::warn!("Server initialized");
    // A Sentinel holds no data: nothing to load.
    let loaded = if sentinel { Ok(()) } else { viator::persist::aof::load_at_startup(&mut srv) };
    if let Err(e) = loaded {
        for line in e.lines() {
            log::warn!("{line}");
        }
        std::process::exit(1);
    }
    viator::cluster::verify_with_data(&mut srv);
    srv.set_proc_title();
    log::info!("Ready to accept connections");
    let code = srv.run();
    std::process::exit(code);
}

/// `cluster`, `sentinel` or `standalone`, as the banner and log name the mode.
fn mode_name(srv: &Server) -> &'static str {
    if srv.config.cluster_enabled {
        "cluster"
    } else if srv.sentinel_mode {
        "sentinel"
    } else {
        "standalone"
    }
}

/// The start-up banner. The test harness and operators look for ` PID: `.
fn logo(srv: &Server, pid: u32) -> String {
    let mode = mode_name(srv);
    format!(
        "\n                  Viator {} (Redis {} compatible) 64 bit\n                  Running in {mode} mode\n                  Port: {}\n                  PID: {pid}\n\n",
        viator::VIATOR_VERSION,
        viator::REDIS_VERSION,
        srv.tcp_port,
    )
}

fn print_usage() {
    eprintln!(
        "Usage: ./viator-server [/path/to/redis.conf] [options] [-]\n       ./viator-server - (read config from stdin)\n       ./viator-server -v or --version\n       ./viator-server -h or --help\n\nExamples:\n       ./viator-server (run the server with default conf)\n       ./viator-server /etc/redis/6379.conf\n       ./viator-server --port 7777\n       ./viator-server --port 7777 --replicaof 127.0.0.1 8888\n       ./viator-server /etc/myredis.conf --loglevel verbose -\n       ./viator-server /etc/myredis.conf --loglevel verbose"
    );
}

/// Descriptors Redis reserves beyond maxclients (listeners, logs, children).
const RESERVED_FDS: u64 = 32;

/// Raises RLIMIT_NOFILE to fit `maxclients`, or lowers `maxclients` to fit the
/// limit, logging as Redis does.
fn adjust_open_files_limit(cfg: &mut viator::config::Config) {
    let wanted = cfg.maxclients as u64 + RESERVED_FDS;
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the rlimit struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        log::warn!(
            "Unable to obtain the current NOFILE limit ({}), assuming 1024 and setting the max clients configuration accordingly.",
            std::io::Error::last_os_error()
        );
        cfg.maxclients = 1024 - RESERVED_FDS as i64;
        return;
    }
    let old = lim.rlim_cur;
    if old >= wanted {
        return;
    }
    // Try the wanted value, then step down as Redis does until one is accepted.
    let mut best = wanted;
    let mut err = None;
    while best > old {
        let new = libc::rlimit { rlim_cur: best, rlim_max: lim.rlim_max.max(best) };
        // SAFETY: setrlimit reads the struct we pass; failure leaves the limit unchanged.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } == 0 {
            break;
        }
        err = Some(std::io::Error::last_os_error());
        best = best.saturating_sub(16);
    }
    if best <= old {
        best = old;
    }
    if best < wanted {
        let reduced = best.saturating_sub(RESERVED_FDS).max(1);
        log::warn!("You requested maxclients of {} requiring at least {wanted} max file descriptors.", cfg.maxclients);
        if let Some(e) = err {
            log::warn!("Server can't set maximum open files to {wanted} because of OS error: {e}.");
        }
        log::warn!(
            "Current maximum open files is {best}. maxclients has been reduced to {reduced} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."
        );
        cfg.maxclients = reduced as i64;
    } else {
        log::info!("Increased maximum number of open files to {wanted} (it was originally set to {old}).");
    }
}

/// Detaches from the terminal as redis-server's `daemonize yes` does.
fn daemonize() {
    // SAFETY: called before any thread or reactor exists, so fork() leaves the
    // child with the only thread; the parent exits immediately without running
    // destructors that could touch shared state.
    unsafe {
        match libc::fork() {
            -1 => {
                log::warn!("fork() failed while daemonizing");
                std::process::exit(1);
            }
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
    }
    if let Ok(devnull) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        let fd = devnull.as_raw_fd();
        // SAFETY: dup2 onto the standard descriptors with a valid open fd.
        unsafe {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
        }
    }
}
