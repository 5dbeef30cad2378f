//! The cluster bus codec: Redis 7.0's `RCmb` messages, to and from bytes.
//!
//! Owns nothing but the byte layout (big-endian fields at Redis's fixed
//! offsets, gossip sections, ping extensions). It knows no cluster state and
//! does no I/O: the bus module feeds it a link's read buffer and appends the
//! encoded messages to a link's send buffer.
//!
//! (Stub: the layout is being written; the types below are the contract.)

/// Length of a node name (40 hex characters, not NUL-terminated on the wire).
pub const NAMELEN: usize = 40;

/// A node name as sent on the wire.
pub type Name = [u8; NAMELEN];

/// A slot bitmap, 16384 bits, slot `s` in bit `s & 7` of byte `s >> 3`.
pub type SlotBits = [u8; 2048];

/// Message types, with their wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgType {
    Ping = 0,
    Pong = 1,
    Meet = 2,
    Fail = 3,
    Publish = 4,
    FailoverAuthRequest = 5,
    FailoverAuthAck = 6,
    Update = 7,
    MfStart = 8,
    Module = 9,
    PublishShard = 10,
}

/// Node flags as carried in headers and gossip entries.
pub mod flags {
    pub const MASTER: u16 = 1;
    pub const SLAVE: u16 = 2;
    pub const PFAIL: u16 = 4;
    pub const FAIL: u16 = 8;
    pub const MYSELF: u16 = 16;
    pub const HANDSHAKE: u16 = 32;
    pub const NOADDR: u16 = 64;
    pub const MEET: u16 = 128;
    pub const MIGRATE_TO: u16 = 256;
    pub const NOFAILOVER: u16 = 512;
}

/// `mflags[0]` bits.
pub mod mflags0 {
    pub const PAUSED: u8 = 1;
    pub const FORCEACK: u8 = 2;
    pub const EXT_DATA: u8 = 4;
}

/// The fixed header every message starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Message type.
    pub mtype: MsgType,
    /// Sender's client port (TLS port when TLS is on).
    pub port: u16,
    /// Sender's current epoch.
    pub current_epoch: u64,
    /// Sender's config epoch (its master's when it is a replica).
    pub config_epoch: u64,
    /// Sender's replication offset.
    pub offset: u64,
    /// Sender's node name.
    pub sender: Name,
    /// Slots the sender (or its master) serves.
    pub myslots: Box<SlotBits>,
    /// The sender's master, when it is a replica (all zero bytes on the wire otherwise).
    pub slaveof: Option<Name>,
    /// Sender's announced IP, empty when it did not set one (46 bytes, NUL-padded on the wire).
    pub myip: String,
    /// Plaintext client port when the base port is TLS, else 0.
    pub pport: u16,
    /// Sender's cluster bus port.
    pub cport: u16,
    /// Sender's node flags.
    pub flags: u16,
    /// Cluster state seen by the sender: 0 ok, 1 fail.
    pub state: u8,
    /// Message flags.
    pub mflags: [u8; 3],
}

/// One gossip entry of PING/PONG/MEET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gossip {
    pub name: Name,
    /// Seconds (Unix) of our last PING to that node.
    pub ping_sent: u32,
    /// Seconds (Unix) of its last PONG to us.
    pub pong_received: u32,
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    pub flags: u16,
    pub pport: u16,
}

/// A ping extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingExt {
    /// Type 0: the announced hostname.
    Hostname(String),
    /// Any other type, kept as its payload so it can be ignored.
    Unknown(u16, Vec<u8>),
}

/// What follows the header, by message type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// PING, PONG, MEET.
    Ping { gossip: Vec<Gossip>, exts: Vec<PingExt> },
    /// FAIL.
    Fail { name: Name },
    /// PUBLISH and PUBLISHSHARD.
    Publish { channel: Vec<u8>, message: Vec<u8> },
    /// UPDATE.
    Update { config_epoch: u64, name: Name, slots: Box<SlotBits> },
    /// MODULE (carried, never produced by Viator).
    Module { module_id: u64, mtype: u8, payload: Vec<u8> },
    /// FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK, MFSTART: header only.
    Empty,
}

/// A whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub body: Body,
}

/// Result of looking at the front of a read buffer.
#[derive(Debug)]
pub enum Decoded {
    /// Not a whole message yet: read more.
    Incomplete,
    /// One message and the number of bytes it used.
    Message(Message, usize),
    /// The bytes are not a valid message (bad signature, length, version, type
    /// or body size): the link must be closed. The text says why, for the log.
    Invalid(String),
}

/// Appends the wire form of `msg` to `out` (totlen, count and the EXT_DATA
/// flag and extension count are computed here).
pub fn encode(_msg: &Message, _out: &mut Vec<u8>) {
    unimplemented!("cluster bus codec")
}

/// Decodes the message at the front of `buf`, if it is complete.
pub fn decode(_buf: &[u8]) -> Decoded {
    Decoded::Incomplete
}
