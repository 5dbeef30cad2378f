//! Per-connection state: the socket, the query buffer and parser state, the
//! current argument vector, the reply buffer, and the flags commands consult
//! (selected db, protocol version, name, auth, reply mode).
//!
//! A client never reads or writes the keyspace; commands do that through the
//! server. Mirrors the fields Redis keeps per client and prints in CLIENT LIST.

pub mod mem;
pub mod reply;

use bytes::{Bytes, BytesMut};

use crate::reactor::net::Stream;
use crate::resp::parse::RequestParser;
use reply::Reply;

/// CLIENT REPLY mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    /// Normal replies.
    On,
    /// Replies are discarded until `CLIENT REPLY ON`.
    Off,
    /// The next command's reply is discarded.
    SkipNext,
    /// The current command's reply is being discarded (after SKIP).
    Skip,
}

/// Client flags as typed booleans.
#[derive(Debug, Default, Clone, Copy)]
pub struct Flags {
    /// Close as soon as the pending reply is written (QUIT, protocol error).
    pub close_after_reply: bool,
    /// Close now, whatever is pending (CLIENT KILL, errors).
    pub close_asap: bool,
    /// Exempt from client eviction (CLIENT NO-EVICT).
    pub no_evict: bool,
    /// Connected through the Unix socket.
    pub unix_socket: bool,
    /// In a MULTI block.
    pub multi: bool,
    /// A replica receiving the replication stream.
    pub replica: bool,
    /// Receives the MONITOR feed.
    pub monitor: bool,
    /// The link to our master: its commands run with replies muted.
    pub master: bool,
    /// ASKING was sent: the next command may touch an importing slot.
    pub asking: bool,
    /// READONLY (cluster): reads may be served by this replica.
    pub readonly: bool,
    /// Our link to a slot migration's source: applies its stream with
    /// replies muted and no slot routing (CLIENT LIST `o`).
    pub slot_import: bool,
    /// A slot migration's importer: its connection carries the stream
    /// (CLIENT LIST `g`).
    pub slot_migrate: bool,
}

/// The id of the client that replays the AOF (Redis's CLIENT_ID_AOF).
pub const AOF_CLIENT_ID: u64 = u64::MAX;

/// One connection.
pub struct Client {
    /// Unique, increasing id (CLIENT ID).
    pub id: u64,
    /// Slab key, which is also the index in the connection's token.
    pub key: usize,
    /// The socket.
    pub stream: Stream,
    /// Bytes read but not yet parsed.
    pub query: BytesMut,
    /// Peak of `query` since the last cron check (query buffer shrinking).
    pub query_peak: usize,
    /// Resumable parse state.
    pub parser: RequestParser,
    /// Arguments of the command being run (or being parsed, until
    /// `command_ready`).
    pub argv: Vec<Bytes>,
    /// `argv` holds a whole command not yet run (it waits out a pause).
    pub command_ready: bool,
    /// Bytes of the request in `argv` as it arrived (CLUSTER SLOT-STATS'
    /// network-bytes-in).
    pub req_bytes: usize,
    /// Output.
    pub reply: Reply,
    /// Selected database.
    pub db: usize,
    /// CLIENT SETNAME.
    pub name: Option<Bytes>,
    /// Authenticated as a user.
    pub authenticated: bool,
    /// The name of the ACL user (CLIENT LIST `user=`).
    pub user: String,
    /// The ACL user the client runs as.
    pub acl_user: crate::acl::UserId,
    /// Flags.
    pub flags: Flags,
    /// CLIENT REPLY state.
    pub reply_mode: ReplyMode,
    /// Unix ms of creation.
    pub created_ms: i64,
    /// Unix ms of the last command or read (idle time, `timeout`).
    pub last_interaction_ms: i64,
    /// Peer address as CLIENT LIST prints it.
    pub addr: String,
    /// Local address as CLIENT LIST prints it.
    pub laddr: String,
    /// Name of the last command run (`cmd=` in CLIENT LIST).
    pub last_cmd: &'static str,
    /// Library name/version (CLIENT SETINFO arrives in 7.2; kept empty).
    pub lib_name: Option<Bytes>,
    /// True while registered for WRITABLE interest.
    pub want_write: bool,
    /// True while queued for the before-sleep flush.
    pub queued_write: bool,
    /// Commands processed on this connection.
    pub commands_processed: u64,
    /// Commands queued by MULTI: (command table index, argv).
    pub multi_queue: Vec<(usize, Vec<Bytes>)>,
    /// The flags of the queued commands taken together (for EVAL/FCALL of
    /// a script that declared flags, the script's), as Redis's
    /// `mstate.cmd_flags`: EXEC is refused for what its queue would do.
    pub multi_flags: crate::cmd::spec::CmdFlags,
    /// The flags at least one queued command lacks (`mstate.cmd_inv_flags`).
    pub multi_flags_missing: crate::cmd::spec::CmdFlags,
    /// A command was rejected while queueing: EXEC must abort (EXECABORT).
    pub multi_error: bool,
    /// A WATCHed key changed: EXEC must fail with a null array.
    pub cas_dirty: bool,
    /// Set while blocked by a blocking command.
    pub blocked: Option<crate::blocked::Blocked>,
    /// While a served blocked command re-runs: its original deadline, kept
    /// if it has to block again.
    pub reblock_deadline: Option<Option<i64>>,
    /// The replication offset right after this client's last command (WAIT
    /// waits for replicas to acknowledge it).
    pub woff: i64,
    /// True while EXEC replays the queue (blocking commands must not block).
    pub in_exec: bool,
    /// Pub/Sub subscriptions.
    pub subs: crate::cmd::pubsub::Subscriptions,
    /// Keys this client WATCHes: (db, key, key was already expired when watched).
    pub watched: Vec<(usize, crate::types::sds::Sds, bool)>,
    /// Memory accounting (see `mem`).
    pub mem: mem::ClientMem,
    /// CLIENT TRACKING state.
    pub tracking: crate::tracking::ClientTracking,
}

impl Client {
    /// A fresh client on `stream`.
    pub fn new(id: u64, key: usize, stream: Stream, now_ms: i64, unix_path: &str) -> Client {
        let addr = stream.peer_name(unix_path);
        let laddr = stream.local_name(unix_path);
        let unix = matches!(stream, Stream::Unix(_));
        Client {
            id,
            key,
            stream,
            query: BytesMut::with_capacity(16 * 1024),
            query_peak: 0,
            parser: RequestParser::default(),
            argv: Vec::new(),
            command_ready: false,
            req_bytes: 0,
            reply: Reply::new(),
            db: 0,
            name: None,
            authenticated: false,
            user: "default".to_string(),
            acl_user: crate::acl::DEFAULT_USER,
            flags: Flags { unix_socket: unix, ..Flags::default() },
            reply_mode: ReplyMode::On,
            created_ms: now_ms,
            last_interaction_ms: now_ms,
            addr,
            laddr,
            last_cmd: "NULL",
            lib_name: None,
            want_write: false,
            queued_write: false,
            commands_processed: 0,
            multi_queue: Vec::new(),
            multi_flags: crate::cmd::spec::CmdFlags(0),
            multi_flags_missing: crate::cmd::spec::CmdFlags(0),
            multi_error: false,
            cas_dirty: false,
            watched: Vec::new(),
            subs: Default::default(),
            blocked: None,
            reblock_deadline: None,
            woff: 0,
            in_exec: false,
            mem: Default::default(),
            tracking: Default::default(),
        }
    }

    /// The argument at `i` (the caller checked arity).
    pub fn arg(&self, i: usize) -> &[u8] {
        &self.argv[i]
    }

    /// Number of arguments including the command name.
    pub fn argc(&self) -> usize {
        self.argv.len()
    }

    /// Redis's mustObeyClient: commands from the AOF (and, later, the
    /// primary) are applied as written, never refused for option rules.
    pub fn must_obey(&self) -> bool {
        self.id == AOF_CLIENT_ID
    }

    /// True when replies are currently being discarded (CLIENT REPLY OFF/SKIP).
    pub fn replies_muted(&self) -> bool {
        matches!(self.reply_mode, ReplyMode::Off | ReplyMode::Skip)
            || self.flags.master
            || self.flags.slot_import
            || self.flags.slot_migrate
    }
}
