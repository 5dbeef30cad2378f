//! Viator: a Redis-compatible server built around one thread and one `mio` reactor.
//!
//! ```text
//! loop {
//!     timeout = min(nearest timer, 1000/hz ms)
//!     poll(timeout)                       // reactor: readiness for every socket we own
//!     for each event: dispatch by token kind
//!         Listener  -> accept, register a Client
//!         Client    -> read, parse whole commands, call() each, append replies
//!         Signal    -> shutdown flag (checked by cron)
//!     fire due timers                     // server cron at `hz`
//!     before_sleep()                      // flush replies, free closed clients
//! }
//! ```
//!
//! Layers, low to high: `util`, `resp` -> `types` -> `db`, `client`, `config` ->
//! `server` <-> `cmd`. Only the last pair see each other: `server::call` dispatches
//! through the command table and handlers get `&mut Server`.
//!
//! Everything is public so the binaries (`viator-server`, `viator-cli`) and the
//! integration tests can use the codec and the configuration parser directly.

/// The Redis version whose behaviour Viator implements (INFO `redis_version`,
/// HELLO): clients and tools use it for feature detection.
// COMPAT: reported exactly as Redis 7.0.15 reports itself.
pub const REDIS_VERSION: &str = "7.0.15";

/// Viator's own version (INFO `viator_version`).
pub const VIATOR_VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod acl;
pub mod bio;
pub mod blocked;
pub mod client;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod crash;
pub mod db;
pub mod evict;
pub mod info;
pub mod latency;
pub mod lazyfree;
pub mod logging;
pub mod oom;
pub mod persist;
pub mod proctitle;
pub mod propagate;
pub mod rdb;
pub mod reactor;
pub mod repl;
pub mod resp;
pub mod script;
pub mod sentinel;
pub mod server;
pub mod shutdown;
pub mod slowlog;
pub mod tracking;
pub mod types;
pub mod util;
