//! The cluster bus codec: Redis 7.0's `RCmb` messages, to and from bytes.
//!
//! Owns nothing but the byte layout: a 2256-byte header of big-endian fields
//! at Redis's fixed offsets, then a body chosen by the message type (gossip
//! entries and ping extensions, a FAIL name, a PUBLISH channel and message, an
//! UPDATE slot map, a MODULE payload). It knows no cluster state and does no
//! I/O: the bus module feeds it a link's read buffer and appends the encoded
//! messages to a link's send buffer.
//!
//! Mirrors Redis 7.0's `clusterMsg` layout as built by `clusterBuildMessageHdr`,
//! `clusterSendPing`, `clusterSendPublish`, `clusterSendModule` and friends,
//! and the checks of `clusterReadHandler` (signature, minimum length) and
//! `clusterProcessPacket` (version 1, the exact length each type implies,
//! 8-byte aligned extensions that fit). `decode` is stricter where Redis would
//! read past the message: an extension must hold its own 8-byte header, and
//! declared lengths are summed without 32-bit wrap-around. Unlike Redis, which
//! buffers any announced length, it refuses a length over [`MAX_LEN`] as soon
//! as the type is known, except for PUBLISH and MODULE whose length follows
//! from the payload lengths they declare in their first bytes.

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
    /// Type 3 (Redis 7.2): the sender's shard id, 40 hex characters.
    ShardId(Name),
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

/// Length of the header, which is also the smallest valid message
/// (`CLUSTERMSG_MIN_LEN`: the offset of the data union).
pub const MIN_LEN: usize = 2256;

/// Largest `totlen` accepted for messages whose length is not implied by
/// declared payload lengths (PING/PONG/MEET can hold about 10,000 gossip
/// entries in it). PUBLISH, PUBLISHSHARD and MODULE may be longer, as in
/// Redis, provided their declared lengths add up to `totlen`.
pub const MAX_LEN: usize = 1 << 20;

/// Protocol version carried in every header (`CLUSTER_PROTO_VER`).
pub const VERSION: u16 = 1;

/// Size of one gossip entry on the wire.
pub const GOSSIP_LEN: usize = 104;

/// Size of a ping extension's own header (length, type, padding).
pub const EXT_HEADER_LEN: usize = 8;

/// Ping extension type of the announced hostname.
pub const EXT_HOSTNAME: u16 = 0;

/// Ping extension type of the shard id (Redis 7.2's `CLUSTERMSG_EXT_TYPE_SHARDID`).
pub const EXT_SHARDID: u16 = 3;

/// Byte offsets of the header fields (`clusterMsg`).
mod off {
    pub const SIG: usize = 0;
    pub const TOTLEN: usize = 4;
    pub const VER: usize = 8;
    pub const PORT: usize = 10;
    pub const TYPE: usize = 12;
    pub const COUNT: usize = 14;
    pub const DATA: usize = super::MIN_LEN;
}

/// The signature every message starts with.
const SIG: &[u8; 4] = b"RCmb";
/// Size of an IP string field (`NET_IP_STR_LEN`), NUL-padded.
const IPLEN: usize = 46;
/// Reserved bytes between `extensions` and `pport`.
const NOTUSED1_LEN: usize = 30;
/// PUBLISH body before the channel: channel_len, message_len.
const PUBLISH_FIXED: usize = 8;
/// MODULE body before the payload: module_id, len, type.
const MODULE_FIXED: usize = 13;
/// Whole length of a FAIL message.
const FAIL_LEN: usize = MIN_LEN + NAMELEN;
/// Whole length of an UPDATE message.
const UPDATE_LEN: usize = MIN_LEN + 8 + NAMELEN + 2048;

impl MsgType {
    /// The type with wire value `v`, if it is one Redis 7.0 defines.
    pub fn from_u16(v: u16) -> Option<MsgType> {
        Some(match v {
            0 => MsgType::Ping,
            1 => MsgType::Pong,
            2 => MsgType::Meet,
            3 => MsgType::Fail,
            4 => MsgType::Publish,
            5 => MsgType::FailoverAuthRequest,
            6 => MsgType::FailoverAuthAck,
            7 => MsgType::Update,
            8 => MsgType::MfStart,
            9 => MsgType::Module,
            10 => MsgType::PublishShard,
            _ => return None,
        })
    }

    /// True for the types whose body is gossip plus extensions.
    pub fn is_ping(self) -> bool {
        matches!(self, MsgType::Ping | MsgType::Pong | MsgType::Meet)
    }
}

impl Header {
    /// A header of type `mtype` from `sender` with every other field zero or
    /// empty (no slots, no master, no announced IP, no flags); callers fill
    /// in what they know.
    pub fn new(mtype: MsgType, sender: Name) -> Header {
        Header {
            mtype,
            port: 0,
            current_epoch: 0,
            config_epoch: 0,
            offset: 0,
            sender,
            myslots: Box::new([0; 2048]),
            slaveof: None,
            myip: String::new(),
            pport: 0,
            cport: 0,
            flags: 0,
            state: 0,
            mflags: [0; 3],
        }
    }
}

/// Whether `slot` is set in `bits` (slots past 16383 are never set).
pub fn slot_bit(bits: &SlotBits, slot: u16) -> bool {
    bits.get(usize::from(slot >> 3)).is_some_and(|b| b & (1 << (slot & 7)) != 0)
}

/// Sets or clears `slot` in `bits` (slots past 16383 are ignored).
pub fn set_slot_bit(bits: &mut SlotBits, slot: u16, on: bool) {
    if let Some(b) = bits.get_mut(usize::from(slot >> 3)) {
        if on {
            *b |= 1 << (slot & 7);
        } else {
            *b &= !(1 << (slot & 7));
        }
    }
}

/// A node name as text. Names are 40 hex digits; bytes from a peer that are
/// not UTF-8 are cut at the first invalid byte, so this never fails.
pub fn name_str(name: &Name) -> &str {
    match std::str::from_utf8(name) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&name[..e.valid_up_to()]).unwrap_or_default(),
    }
}

/// The wire name for `s`, if it is exactly [`NAMELEN`] bytes long.
pub fn name_from_str(s: &str) -> Option<Name> {
    s.as_bytes().try_into().ok()
}

/// Appends the wire form of `msg` to `out`. `totlen`, `count`, the extension
/// count and the `EXT_DATA` bit of `mflags[0]` are computed here (the bit is
/// set for a PING/PONG/MEET body with extensions, cleared for one without,
/// and left as given for other bodies); the header's other fields are
/// written as given. `myip` and gossip IPs longer than 45 bytes are cut, as
/// Redis keeps them NUL-terminated. At most 65535 gossip entries and
/// extensions are written (the counts are 16-bit), and a payload must fit the
/// 32-bit `totlen`: these are caller bugs, never met by Redis-sized data.
pub fn encode(msg: &Message, out: &mut Vec<u8>) {
    let h = &msg.header;
    let start = out.len();
    let (count, extensions) = match &msg.body {
        Body::Ping { gossip, exts } => (gossip.len().min(usize::from(u16::MAX)), exts.len().min(usize::from(u16::MAX))),
        _ => (0, 0),
    };
    let mut mflags = h.mflags;
    if let Body::Ping { .. } = msg.body {
        if extensions > 0 {
            mflags[0] |= mflags0::EXT_DATA;
        } else {
            mflags[0] &= !mflags0::EXT_DATA;
        }
    }
    out.reserve(MIN_LEN + body_len_hint(&msg.body));
    out.extend_from_slice(SIG);
    out.extend_from_slice(&[0; 4]); // totlen, patched below
    put16(out, VERSION);
    put16(out, h.port);
    put16(out, h.mtype as u16);
    put16(out, count as u16);
    put64(out, h.current_epoch);
    put64(out, h.config_epoch);
    put64(out, h.offset);
    out.extend_from_slice(&h.sender);
    out.extend_from_slice(&h.myslots[..]);
    out.extend_from_slice(h.slaveof.as_ref().unwrap_or(&[0; NAMELEN]));
    put_ip(out, &h.myip);
    put16(out, extensions as u16);
    out.extend_from_slice(&[0; NOTUSED1_LEN]);
    put16(out, h.pport);
    put16(out, h.cport);
    put16(out, h.flags);
    out.push(h.state);
    out.extend_from_slice(&mflags);
    debug_assert_eq!(out.len() - start, MIN_LEN);

    match &msg.body {
        Body::Ping { gossip, exts } => {
            for g in gossip.iter().take(count) {
                out.extend_from_slice(&g.name);
                put32(out, g.ping_sent);
                put32(out, g.pong_received);
                put_ip(out, &g.ip);
                put16(out, g.port);
                put16(out, g.cport);
                put16(out, g.flags);
                put16(out, g.pport);
                put16(out, 0);
            }
            for ext in exts.iter().take(extensions) {
                put_ext(out, ext);
            }
        }
        Body::Fail { name } => out.extend_from_slice(name),
        Body::Publish { channel, message } => {
            debug_assert!(u32::try_from(channel.len() + message.len() + MIN_LEN + PUBLISH_FIXED).is_ok());
            put32(out, channel.len() as u32);
            put32(out, message.len() as u32);
            out.extend_from_slice(channel);
            out.extend_from_slice(message);
        }
        Body::Update { config_epoch, name, slots } => {
            put64(out, *config_epoch);
            out.extend_from_slice(name);
            out.extend_from_slice(&slots[..]);
        }
        Body::Module { module_id, mtype, payload } => {
            debug_assert!(u32::try_from(payload.len() + MIN_LEN + MODULE_FIXED).is_ok());
            // Redis copies the id in host order (it is compared, never
            // read as a number); every platform it runs on is little-endian.
            out.extend_from_slice(&module_id.to_le_bytes());
            put32(out, payload.len() as u32);
            out.push(*mtype);
            out.extend_from_slice(payload);
        }
        Body::Empty => {}
    }
    let totlen = (out.len() - start) as u32;
    out[start + off::TOTLEN..start + off::TOTLEN + 4].copy_from_slice(&totlen.to_be_bytes());
}

/// Decodes the message at the front of `buf`, if it is complete.
///
/// Returns `Incomplete` while `buf` is a prefix of a message that may still
/// be valid, `Invalid` as soon as the bytes present rule it out (so a bad
/// peer is never buffered for long: at most [`MAX_LEN`] bytes, or what a
/// PUBLISH/MODULE declares), and `Message` with the bytes used otherwise.
/// Never panics, and allocates only copies of bytes that are present.
pub fn decode(buf: &[u8]) -> Decoded {
    match frame(buf) {
        Err(why) => Decoded::Invalid(why),
        Ok(None) => Decoded::Incomplete,
        Ok(Some((mtype, totlen))) => match buf.get(..totlen).map(|m| parse(m, mtype)) {
            Some(Ok(msg)) => Decoded::Message(msg, totlen),
            Some(Err(why)) => Decoded::Invalid(why),
            None => Decoded::Incomplete,
        },
    }
}

/// Checks what the front of `buf` already shows (signature, length, version,
/// type, the length the type implies) and returns the type and `totlen` once
/// the whole message is present.
fn frame(buf: &[u8]) -> Result<Option<(MsgType, usize)>, String> {
    let Some(totlen) = be32(buf, off::TOTLEN) else {
        return Ok(None);
    };
    let totlen = totlen as usize;
    // COMPAT: the two checks clusterReadHandler makes after 8 bytes.
    if buf.get(off::SIG..off::SIG + 4) != Some(&SIG[..]) {
        return Err("bad signature".into());
    }
    if totlen < MIN_LEN {
        return Err(format!("message length {totlen} below the header size"));
    }
    let Some(ver) = be16(buf, off::VER) else {
        return Ok(None);
    };
    if ver != VERSION {
        return Err(format!("unsupported protocol version {ver}"));
    }
    let Some(tv) = be16(buf, off::TYPE) else {
        return Ok(None);
    };
    let mtype = MsgType::from_u16(tv).ok_or_else(|| format!("unknown message type {tv}"))?;
    // The length each type implies, once the bytes it depends on are here.
    let implied: Option<u64> = match mtype {
        MsgType::Ping | MsgType::Pong | MsgType::Meet => {
            if totlen > MAX_LEN {
                return Err(format!("message length {totlen} over the limit"));
            }
            if let Some(count) = be16(buf, off::COUNT) {
                let gossip_end = MIN_LEN + usize::from(count) * GOSSIP_LEN;
                if totlen < gossip_end {
                    return Err(format!("message length {totlen} too short for {count} gossip entries"));
                }
            }
            None // extensions are walked once the whole message is here
        }
        MsgType::Fail => Some(FAIL_LEN as u64),
        MsgType::Update => Some(UPDATE_LEN as u64),
        MsgType::FailoverAuthRequest | MsgType::FailoverAuthAck | MsgType::MfStart => Some(MIN_LEN as u64),
        MsgType::Publish | MsgType::PublishShard => match (be32(buf, off::DATA), be32(buf, off::DATA + 4)) {
            (Some(c), Some(m)) => Some((MIN_LEN + PUBLISH_FIXED) as u64 + u64::from(c) + u64::from(m)),
            _ if totlen < MIN_LEN + PUBLISH_FIXED => {
                return Err(format!("message length {totlen} too short for a publish"))
            }
            _ => return Ok(None),
        },
        MsgType::Module => match be32(buf, off::DATA + 8) {
            Some(len) => Some((MIN_LEN + MODULE_FIXED) as u64 + u64::from(len)),
            None if totlen < MIN_LEN + MODULE_FIXED => {
                return Err(format!("message length {totlen} too short for a module message"))
            }
            None => return Ok(None),
        },
    };
    if let Some(explen) = implied {
        if totlen as u64 != explen {
            return Err(format!("{mtype:?} message of length {totlen}, expected {explen}"));
        }
    }
    Ok(if buf.len() >= totlen { Some((mtype, totlen)) } else { None })
}

/// Parses a whole message of type `mtype` (`msg` is exactly `totlen` bytes
/// and passed `frame`).
fn parse(msg: &[u8], mtype: MsgType) -> Result<Message, String> {
    let mut c = Cursor { buf: msg, pos: off::PORT };
    let port = c.u16()?;
    c.skip(4)?; // type and count, read by frame and below
    let current_epoch = c.u64()?;
    let config_epoch = c.u64()?;
    let offset = c.u64()?;
    let sender = c.name()?;
    let myslots: Box<SlotBits> = Box::new(c.array()?);
    let slaveof = Some(c.name()?).filter(|n| n != &[0; NAMELEN]);
    let myip = c.ip()?;
    let extensions = c.u16()?;
    c.skip(NOTUSED1_LEN)?;
    let pport = c.u16()?;
    let cport = c.u16()?;
    let flags = c.u16()?;
    let state = c.u8()?;
    let mflags: [u8; 3] = c.array()?;
    let header = Header {
        mtype,
        port,
        current_epoch,
        config_epoch,
        offset,
        sender,
        myslots,
        slaveof,
        myip,
        pport,
        cport,
        flags,
        state,
        mflags,
    };
    let body = match mtype {
        MsgType::Ping | MsgType::Pong | MsgType::Meet => {
            let count = be16(msg, off::COUNT).ok_or("short header")?;
            let mut gossip = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                let name = c.name()?;
                let ping_sent = c.u32()?;
                let pong_received = c.u32()?;
                let ip = c.ip()?;
                let port = c.u16()?;
                let cport = c.u16()?;
                let flags = c.u16()?;
                let pport = c.u16()?;
                c.skip(2)?;
                gossip.push(Gossip { name, ping_sent, pong_received, ip, port, cport, flags, pport });
            }
            let mut exts = Vec::new();
            // COMPAT: Redis reads the extensions only when EXT_DATA says so.
            if mflags[0] & mflags0::EXT_DATA != 0 {
                for _ in 0..extensions {
                    exts.push(parse_ext(&mut c)?);
                }
            }
            Body::Ping { gossip, exts }
        }
        MsgType::Fail => Body::Fail { name: c.name()? },
        MsgType::Publish | MsgType::PublishShard => {
            let channel_len = c.u32()? as usize;
            let message_len = c.u32()? as usize;
            let channel = c.take(channel_len)?.to_vec();
            let message = c.take(message_len)?.to_vec();
            Body::Publish { channel, message }
        }
        MsgType::Update => {
            let config_epoch = c.u64()?;
            let name = c.name()?;
            let slots = Box::new(c.array()?);
            Body::Update { config_epoch, name, slots }
        }
        MsgType::Module => {
            let module_id = u64::from_le_bytes(c.array()?);
            let len = c.u32()? as usize;
            let mtype = c.u8()?;
            let payload = c.take(len)?.to_vec();
            Body::Module { module_id, mtype, payload }
        }
        MsgType::FailoverAuthRequest | MsgType::FailoverAuthAck | MsgType::MfStart => Body::Empty,
    };
    if c.pos != msg.len() {
        return Err(format!("{mtype:?} message of length {}, expected {}", msg.len(), c.pos));
    }
    Ok(Message { header, body })
}

/// One ping extension at the cursor. COMPAT: its length counts its own
/// header and is a multiple of 8, as Redis requires; a length below the
/// header or beyond 16 bits (Redis keeps it in a 16-bit variable) is refused.
fn parse_ext(c: &mut Cursor) -> Result<PingExt, String> {
    let len = c.u32()? as usize;
    let etype = c.u16()?;
    c.skip(2)?;
    if !len.is_multiple_of(8) || len < EXT_HEADER_LEN || len > usize::from(u16::MAX) {
        return Err(format!("ping extension of bad length {len}"));
    }
    let payload =
        c.take(len - EXT_HEADER_LEN).map_err(|_| format!("ping extension of length {len} past the message"))?;
    Ok(match etype {
        EXT_HOSTNAME => {
            let end = payload.iter().position(|&b| b == 0).unwrap_or(payload.len());
            PingExt::Hostname(String::from_utf8_lossy(&payload[..end]).into_owned())
        }
        EXT_SHARDID if payload.len() >= NAMELEN => {
            let mut id: Name = [0; NAMELEN];
            id.copy_from_slice(&payload[..NAMELEN]);
            PingExt::ShardId(id)
        }
        other => PingExt::Unknown(other, payload.to_vec()),
    })
}

/// Appends one extension: header, payload, zero padding to 8 bytes. A
/// hostname is NUL-terminated before the padding; an unknown payload is
/// written as given and padded.
fn put_ext(out: &mut Vec<u8>, ext: &PingExt) {
    let (etype, payload, nul) = match ext {
        PingExt::Hostname(h) => (EXT_HOSTNAME, h.as_bytes(), 1),
        PingExt::ShardId(id) => (EXT_SHARDID, id.as_slice(), 0),
        PingExt::Unknown(t, p) => (*t, p.as_slice(), 0),
    };
    let padded = (payload.len() + nul).div_ceil(8) * 8;
    put32(out, (EXT_HEADER_LEN + padded) as u32);
    put16(out, etype);
    put16(out, 0);
    out.extend_from_slice(payload);
    out.resize(out.len() + padded - payload.len(), 0);
}

/// Bytes the body will take, for one reservation.
fn body_len_hint(body: &Body) -> usize {
    match body {
        Body::Ping { gossip, exts } => {
            gossip.len() * GOSSIP_LEN
                + exts
                    .iter()
                    .map(|e| match e {
                        PingExt::Hostname(h) => EXT_HEADER_LEN + h.len() + 8,
                        PingExt::ShardId(_) => EXT_HEADER_LEN + NAMELEN,
                        PingExt::Unknown(_, p) => EXT_HEADER_LEN + p.len() + 8,
                    })
                    .sum::<usize>()
        }
        Body::Fail { .. } => NAMELEN,
        Body::Publish { channel, message } => PUBLISH_FIXED + channel.len() + message.len(),
        Body::Update { .. } => UPDATE_LEN - MIN_LEN,
        Body::Module { payload, .. } => MODULE_FIXED + payload.len(),
        Body::Empty => 0,
    }
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// An IP field: the text cut to 45 bytes, then NUL padding to 46.
fn put_ip(out: &mut Vec<u8>, ip: &str) {
    let b = &ip.as_bytes()[..ip.len().min(IPLEN - 1)];
    out.extend_from_slice(b);
    out.resize(out.len() + IPLEN - b.len(), 0);
}

fn be16(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(buf.get(at..at + 2)?.try_into().ok()?))
}

fn be32(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

/// A read position in one whole message; running past its end is an error
/// (the message's lengths disagree), never a panic.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| format!("message of length {} ends inside a field", self.buf.len()))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn skip(&mut self, n: usize) -> Result<(), String> {
        self.take(n).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let s = self.take(N)?;
        s.try_into().map_err(|_| String::from("short field"))
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn name(&mut self) -> Result<Name, String> {
        self.array()
    }

    /// An IP field: the text up to its first NUL (all 46 bytes if none).
    fn ip(&mut self) -> Result<String, String> {
        let raw = self.take(IPLEN)?;
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        Ok(String::from_utf8_lossy(&raw[..end]).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;

    fn name(tag: u8) -> Name {
        let mut n = [b'0'; NAMELEN];
        n[0] = b'a' + tag % 6;
        n[NAMELEN - 1] = b'0' + tag % 10;
        n
    }

    fn header(mtype: MsgType) -> Header {
        let mut h = Header::new(mtype, name(1));
        h.port = 7001;
        h.current_epoch = 0x0102_0304_0506_0708;
        h.config_epoch = 42;
        h.offset = 123_456_789;
        set_slot_bit(&mut h.myslots, 0, true);
        set_slot_bit(&mut h.myslots, 5461, true);
        set_slot_bit(&mut h.myslots, 16383, true);
        h.slaveof = Some(name(2));
        h.myip = "10.0.0.7".into();
        h.pport = 6380;
        h.cport = 17001;
        h.flags = flags::SLAVE | flags::MYSELF;
        h.state = 1;
        h.mflags = [mflags0::PAUSED, 0, 0];
        h
    }

    fn gossip(tag: u8) -> Gossip {
        Gossip {
            name: name(tag),
            ping_sent: 1_700_000_000 + u32::from(tag),
            pong_received: 1_700_000_100,
            ip: format!("192.168.1.{tag}"),
            port: 7000 + u16::from(tag),
            cport: 17000 + u16::from(tag),
            flags: flags::MASTER | flags::PFAIL,
            pport: 0,
        }
    }

    /// One message of every type, bodies filled in.
    fn samples() -> Vec<Message> {
        let mut slots = Box::new([0u8; 2048]);
        set_slot_bit(&mut slots, 100, true);
        let mut v = vec![
            Message {
                header: header(MsgType::Ping),
                body: Body::Ping {
                    gossip: vec![gossip(3), gossip(4)],
                    exts: vec![PingExt::Hostname("host-a.example".into()), PingExt::Unknown(3, vec![7; 16])],
                },
            },
            Message { header: header(MsgType::Pong), body: Body::Ping { gossip: vec![], exts: vec![] } },
            Message {
                header: header(MsgType::Meet),
                body: Body::Ping { gossip: vec![gossip(9)], exts: vec![PingExt::Hostname(String::new())] },
            },
            Message { header: header(MsgType::Fail), body: Body::Fail { name: name(5) } },
            Message {
                header: header(MsgType::Publish),
                body: Body::Publish { channel: b"news".to_vec(), message: b"hello\0world".to_vec() },
            },
            Message {
                header: header(MsgType::PublishShard),
                body: Body::Publish { channel: b"s".to_vec(), message: Vec::new() },
            },
            Message { header: header(MsgType::FailoverAuthRequest), body: Body::Empty },
            Message { header: header(MsgType::FailoverAuthAck), body: Body::Empty },
            Message { header: header(MsgType::MfStart), body: Body::Empty },
            Message { header: header(MsgType::Update), body: Body::Update { config_epoch: 9, name: name(6), slots } },
            Message {
                header: header(MsgType::Module),
                body: Body::Module { module_id: 0xdead_beef_0000_0001, mtype: 200, payload: b"xyz".to_vec() },
            },
        ];
        // A header without a master, IP or flags.
        v.push(Message {
            header: Header::new(MsgType::Pong, name(0)),
            body: Body::Ping { gossip: vec![], exts: vec![] },
        });
        v
    }

    fn enc(m: &Message) -> Vec<u8> {
        let mut out = Vec::new();
        encode(m, &mut out);
        out
    }

    /// `m` as decode reports it: EXT_DATA set exactly when there are extensions.
    fn expected(m: &Message) -> Message {
        let mut m = m.clone();
        if let Body::Ping { exts, .. } = &m.body {
            if exts.is_empty() {
                m.header.mflags[0] &= !mflags0::EXT_DATA;
            } else {
                m.header.mflags[0] |= mflags0::EXT_DATA;
            }
        }
        m
    }

    fn be16_at(b: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    fn be32_at(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
    }

    fn invalid(buf: &[u8]) -> String {
        match decode(buf) {
            Decoded::Invalid(why) => why,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn every_type_round_trips() {
        for m in samples() {
            let bytes = enc(&m);
            match decode(&bytes) {
                Decoded::Message(got, used) => {
                    assert_eq!(used, bytes.len(), "{:?}", m.header.mtype);
                    assert_eq!(got, expected(&m));
                }
                other => panic!("{:?} did not decode: {other:?}", m.header.mtype),
            }
            // Bytes after the message are left for the next call.
            let mut two = bytes.clone();
            two.extend_from_slice(&bytes);
            match decode(&two) {
                Decoded::Message(_, used) => assert_eq!(used, bytes.len()),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn header_fields_sit_at_redis_offsets() {
        let m = &samples()[0];
        let b = enc(m);
        assert_eq!(&b[0..4], b"RCmb");
        assert_eq!(be32_at(&b, 4) as usize, b.len());
        assert_eq!(be16_at(&b, 8), 1);
        assert_eq!(be16_at(&b, 10), 7001);
        assert_eq!(be16_at(&b, 12), MsgType::Ping as u16);
        assert_eq!(be16_at(&b, 14), 2);
        assert_eq!(&b[16..24], &0x0102_0304_0506_0708u64.to_be_bytes());
        assert_eq!(&b[24..32], &42u64.to_be_bytes());
        assert_eq!(&b[32..40], &123_456_789u64.to_be_bytes());
        assert_eq!(&b[40..80], &name(1));
        assert_eq!(b[80], 1); // slot 0
        assert_eq!(b[80 + 5461 / 8], 1 << (5461 % 8));
        assert_eq!(b[80 + 2047], 0x80); // slot 16383
        assert_eq!(&b[2128..2168], &name(2));
        assert_eq!(&b[2168..2176], b"10.0.0.7");
        assert!(b[2176..2214].iter().all(|&x| x == 0));
        assert_eq!(be16_at(&b, 2214), 2); // extensions
        assert!(b[2216..2246].iter().all(|&x| x == 0));
        assert_eq!(be16_at(&b, 2246), 6380);
        assert_eq!(be16_at(&b, 2248), 17001);
        assert_eq!(be16_at(&b, 2250), flags::SLAVE | flags::MYSELF);
        assert_eq!(b[2252], 1);
        assert_eq!(&b[2253..2256], &[mflags0::PAUSED | mflags0::EXT_DATA, 0, 0]);
        // First gossip entry at the data offset.
        assert_eq!(&b[2256..2296], &name(3));
        assert_eq!(be32_at(&b, 2296), 1_700_000_003);
        assert_eq!(&b[2304..2315], b"192.168.1.3");
        assert_eq!(be16_at(&b, 2350), 7003);
        assert_eq!(be16_at(&b, 2352), 17003);
        assert_eq!(&b[2256 + 104..2256 + 104 + 40], &name(4));
        // Hostname extension after the two entries: 8 + "host-a.example\0" padded to 16.
        let e = 2256 + 2 * 104;
        assert_eq!(be32_at(&b, e), 24);
        assert_eq!(be16_at(&b, e + 4), EXT_HOSTNAME);
        assert_eq!(&b[e + 8..e + 24], b"host-a.example\0\0");
        assert_eq!(be32_at(&b, e + 24), 24);
        assert_eq!(be16_at(&b, e + 28), 3);
        assert_eq!(b.len(), e + 48);
    }

    #[test]
    fn lengths_match_what_redis_computes() {
        let s = samples();
        let len = |i: usize| enc(&s[i]).len();
        assert_eq!(len(1), 2256); // PONG, nothing after the header
        assert_eq!(len(2), 2256 + 104 + 16); // MEET, one entry, empty hostname
        assert_eq!(len(3), 2296); // FAIL
        assert_eq!(len(4), 2256 + 8 + 4 + 11); // PUBLISH: no 8-byte placeholder
        assert_eq!(len(6), 2256); // AUTH_REQUEST
        assert_eq!(len(9), 2256 + 8 + 40 + 2048); // UPDATE
        assert_eq!(len(10), 2256 + 13 + 3); // MODULE: no 3-byte placeholder
        let publish = enc(&s[4]);
        assert_eq!(be32_at(&publish, 2256), 4);
        assert_eq!(be32_at(&publish, 2260), 11);
        assert_eq!(&publish[2264..], b"newshello\0world");
        let module = enc(&s[10]);
        assert_eq!(&module[2256..2264], &0xdead_beef_0000_0001u64.to_le_bytes());
        assert_eq!(be32_at(&module, 2264), 3);
        assert_eq!(module[2268], 200);
        // No slaveof and no IP: zeros on the wire, None and "" back.
        let plain = enc(&s[11]);
        assert!(plain[2128..2214].iter().all(|&x| x == 0));
    }

    #[test]
    fn every_strict_prefix_is_incomplete() {
        for m in samples() {
            let b = enc(&m);
            for k in 0..b.len() {
                assert!(matches!(decode(&b[..k]), Decoded::Incomplete), "{:?} prefix {k}", m.header.mtype);
            }
        }
    }

    #[test]
    fn bad_signature_version_type_and_lengths_are_invalid() {
        let ping = enc(&samples()[0]);
        let fail = enc(&samples()[3]);
        let publish = enc(&samples()[4]);
        let module = enc(&samples()[10]);

        let mut b = ping.clone();
        b[3] = b'x';
        assert!(invalid(&b[..8]).contains("signature"));
        let mut b = ping.clone();
        b[8..10].copy_from_slice(&2u16.to_be_bytes());
        assert!(invalid(&b[..10]).contains("version"));
        let mut b = ping.clone();
        b[12..14].copy_from_slice(&11u16.to_be_bytes());
        assert!(invalid(&b).contains("type"));
        let mut b = ping.clone();
        b[4..8].copy_from_slice(&2255u32.to_be_bytes());
        invalid(&b[..8]);

        // Fixed-length types: any other totlen (known from 14 bytes on).
        let mut b = fail.clone();
        b.push(0);
        b[4..8].copy_from_slice(&2297u32.to_be_bytes());
        invalid(&b[..14]);
        let mut b = enc(&samples()[6]);
        b.extend_from_slice(&[0; 8]);
        b[4..8].copy_from_slice(&2264u32.to_be_bytes());
        invalid(&b);

        // PUBLISH whose lengths disagree with totlen, either way, and one
        // whose sum would wrap in 32 bits.
        let mut b = publish.clone();
        b[2256..2260].copy_from_slice(&5u32.to_be_bytes());
        invalid(&b[..2264]);
        let mut b = publish.clone();
        b[2260..2264].copy_from_slice(&10u32.to_be_bytes());
        invalid(&b);
        let mut b = publish.clone();
        b[2256..2260].copy_from_slice(&u32::MAX.to_be_bytes());
        b[2260..2264].copy_from_slice(&(16u32).to_be_bytes());
        invalid(&b);
        let mut b = publish.clone();
        b[4..8].copy_from_slice(&2260u32.to_be_bytes());
        invalid(&b[..14]);
        let mut b = module.clone();
        b[2264..2268].copy_from_slice(&4u32.to_be_bytes());
        invalid(&b[..2268]);

        // PING: count beyond totlen, trailing bytes without EXT_DATA, bad extensions.
        let mut b = ping.clone();
        b[14..16].copy_from_slice(&100u16.to_be_bytes());
        invalid(&b[..16]);
        let pong = enc(&samples()[1]);
        let mut b = pong.clone();
        b.extend_from_slice(&[0; 8]);
        b[4..8].copy_from_slice(&2264u32.to_be_bytes());
        invalid(&b);
        let e = 2256 + 2 * 104;
        for bad_len in [0u32, 4, 20, 7, 1 << 20, 24 + 32] {
            let mut b = ping.clone();
            b[e..e + 4].copy_from_slice(&bad_len.to_be_bytes());
            assert!(invalid(&b).contains("extension"), "length {bad_len}");
        }
        // More extensions announced than present.
        let mut b = ping.clone();
        b[2214..2216].copy_from_slice(&3u16.to_be_bytes());
        invalid(&b);
        // Fewer announced than present: the rest is trailing garbage.
        let mut b = ping.clone();
        b[2214..2216].copy_from_slice(&1u16.to_be_bytes());
        invalid(&b);
    }

    #[test]
    fn extensions_are_ignored_without_ext_data() {
        // As in Redis: the count means nothing unless mflags[0] says so.
        let mut b = enc(&samples()[1]);
        b[2214..2216].copy_from_slice(&5u16.to_be_bytes());
        match decode(&b) {
            Decoded::Message(m, _) => assert_eq!(m.body, Body::Ping { gossip: vec![], exts: vec![] }),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn redis_7_2_extensions_decode_as_unknown_except_the_shard_id() {
        let mut m = samples()[1].clone();
        let exts = vec![
            PingExt::Unknown(1, b"human-name\0\0\0\0\0\0".to_vec()),
            PingExt::Unknown(2, [name(7).as_slice(), &[0, 0, 0, 0, 0, 0, 1, 44]].concat()),
            PingExt::Hostname("h".into()),
            PingExt::ShardId(name(8)),
        ];
        m.body = Body::Ping { gossip: vec![gossip(1)], exts: exts.clone() };
        match decode(&enc(&m)) {
            Decoded::Message(got, _) => assert_eq!(got.body, Body::Ping { gossip: vec![gossip(1)], exts }),
            other => panic!("{other:?}"),
        }
        // The shard id takes 48 bytes, as in Redis 7.2: header, 40 characters, no NUL.
        m.body = Body::Ping { gossip: vec![], exts: vec![] };
        let bare = enc(&m).len();
        m.body = Body::Ping { gossip: vec![], exts: vec![PingExt::ShardId(name(8))] };
        let with = enc(&m);
        assert_eq!(with.len(), bare + 48);
        assert_eq!(&with[bare..bare + 8], &[0, 0, 0, 48, 0, 3, 0, 0]);
        assert_eq!(&with[bare + 8..], &name(8)[..]);
        // An unknown payload not a multiple of 8 comes back padded.
        m.body = Body::Ping { gossip: vec![], exts: vec![PingExt::Unknown(9, vec![1, 2, 3])] };
        match decode(&enc(&m)) {
            Decoded::Message(got, _) => {
                assert_eq!(
                    got.body,
                    Body::Ping { gossip: vec![], exts: vec![PingExt::Unknown(9, vec![1, 2, 3, 0, 0, 0, 0, 0])] }
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn long_messages_are_bounded_except_declared_payloads() {
        // A PING announcing more than MAX_LEN is refused from its first 14 bytes.
        let mut b = enc(&samples()[1]);
        b[4..8].copy_from_slice(&((MAX_LEN + 1) as u32).to_be_bytes());
        invalid(&b[..14]);
        let mut b = enc(&samples()[3]);
        b[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        invalid(&b[..14]);
        // A 2 MiB PUBLISH is accepted, as Redis does: its prefix stays
        // Incomplete and the whole message decodes.
        let big = vec![b'x'; 2 << 20];
        let m = Message {
            header: header(MsgType::Publish),
            body: Body::Publish { channel: b"c".to_vec(), message: big.clone() },
        };
        let b = enc(&m);
        assert_eq!(b.len(), 2256 + 8 + 1 + big.len());
        assert!(matches!(decode(&b[..2264]), Decoded::Incomplete));
        assert!(matches!(decode(&b[..b.len() - 1]), Decoded::Incomplete));
        assert!(matches!(decode(&b), Decoded::Message(ref got, n) if n == b.len() && *got == m));
        // Same for MODULE.
        let m =
            Message { header: header(MsgType::Module), body: Body::Module { module_id: 1, mtype: 0, payload: big } };
        let b = enc(&m);
        assert!(matches!(decode(&b[..2268]), Decoded::Incomplete));
        assert!(matches!(decode(&b), Decoded::Message(ref got, _) if *got == m));
    }

    #[test]
    fn long_ips_are_cut_to_stay_nul_terminated() {
        let mut m = samples()[2].clone();
        m.header.myip = "x".repeat(60);
        let b = enc(&m);
        assert_eq!(b[2168 + 45], 0);
        match decode(&b) {
            Decoded::Message(got, _) => assert_eq!(got.header.myip, "x".repeat(45)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(MsgType::from_u16(10), Some(MsgType::PublishShard));
        assert_eq!(MsgType::from_u16(11), None);
        for t in 0..11u16 {
            assert_eq!(MsgType::from_u16(t).map(|m| m as u16), Some(t));
        }
        let mut bits = [0u8; 2048];
        set_slot_bit(&mut bits, 9, true);
        assert!(slot_bit(&bits, 9) && !slot_bit(&bits, 8));
        assert_eq!(bits[1], 2);
        set_slot_bit(&mut bits, 9, false);
        assert_eq!(bits, [0u8; 2048]);
        set_slot_bit(&mut bits, 20000, true);
        assert!(!slot_bit(&bits, 20000));
        let n = name_from_str("0123456789abcdef0123456789abcdef01234567").unwrap();
        assert_eq!(name_str(&n), "0123456789abcdef0123456789abcdef01234567");
        assert_eq!(name_from_str("abc"), None);
        let mut bad = n;
        bad[3] = 0xff;
        assert_eq!(name_str(&bad), "012");
    }

    /// Decodes without panicking; anything decoded re-encodes to bytes that
    /// decode again.
    fn no_panic(buf: &[u8]) {
        if let Decoded::Message(m, used) = decode(buf) {
            assert!(used <= buf.len());
            assert!(matches!(decode(&enc(&m)), Decoded::Message(..)));
        }
    }

    #[test]
    fn fuzz_random_and_mutated_input_never_panics() {
        let mut rng = Rng::with_seed(0x5eed_c105);
        let valid: Vec<Vec<u8>> = samples().iter().map(enc).collect();
        for round in 0..4000 {
            let r = rng.next_u64();
            let mut b = match r % 4 {
                // Pure noise, sometimes behind a plausible signature.
                0 => {
                    let n = rng.below(3000) as usize;
                    let mut b: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                    if n >= 4 && rng.below(2) == 0 {
                        b[..4].copy_from_slice(b"RCmb");
                    }
                    b
                }
                // A valid message with a few random bytes changed.
                1 | 2 => {
                    let mut b = valid[rng.below(valid.len() as u64) as usize].clone();
                    for _ in 0..1 + rng.below(4) {
                        let at = rng.below(b.len() as u64) as usize;
                        b[at] = rng.next_u64() as u8;
                    }
                    b
                }
                // A header field that drives lengths set at random: totlen,
                // count, extensions, a publish/module length, an ext length.
                _ => {
                    let mut b = valid[rng.below(valid.len() as u64) as usize].clone();
                    let at = [4usize, 12, 14, 2214, 2256, 2260, 2264, 2464][rng.below(8) as usize];
                    let v = match rng.below(3) {
                        0 => rng.next_u64() as u32,
                        1 => rng.below(4096) as u32,
                        _ => b.len() as u32,
                    };
                    if at + 4 <= b.len() {
                        let bytes = if at == 12 || at == 14 || at == 2214 {
                            (v as u16).to_be_bytes().to_vec()
                        } else {
                            v.to_be_bytes().to_vec()
                        };
                        b[at..at + bytes.len()].copy_from_slice(&bytes);
                    }
                    if rng.below(2) == 0 {
                        b[2253] |= mflags0::EXT_DATA;
                    }
                    b
                }
            };
            if round % 3 == 0 && !b.is_empty() {
                b.truncate(rng.below(b.len() as u64) as usize);
            }
            no_panic(&b);
        }
    }
}
