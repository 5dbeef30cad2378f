//! The reactor: one `mio::Poll`, typed tokens, a timer heap and signal flags.
//!
//! It knows nothing about Redis. It owns the poller and the clock-ordered
//! timers; the server owns every connection and decides what an event means.
//! The loop itself lives in `server`, which calls `poll`, dispatches the
//! events by token kind, fires due timers and then runs its before-sleep
//! checklist, like Redis's ae loop with its before-sleep hook.

pub mod net;
pub mod signal;
pub mod timer;

use std::io;
use std::time::Duration;

use mio::event::Source;
use mio::{Events, Interest, Poll, Token};

/// What a token refers to. The kind sits in the high 32 bits of the token and
/// an index (slab key, listener number) in the low 32, so one `match` routes
/// every event to its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A listening socket for clients (index into the listener list).
    Listener,
    /// A client connection (slab key).
    Client,
    /// The cluster bus listener (later).
    BusListener,
    /// An outbound or inbound server-to-server link (slab key; later).
    Link,
    /// The pipe a diskless replication child writes its snapshot into.
    ReplPipe,
    /// A cluster bus link (slab key in the bus's link table).
    BusLink,
    /// A Sentinel's link to a monitored instance (slab key in its connection table).
    SentinelLink,
}

impl TokenKind {
    fn code(self) -> u64 {
        match self {
            TokenKind::Listener => 1,
            TokenKind::Client => 2,
            TokenKind::BusListener => 3,
            TokenKind::Link => 4,
            TokenKind::ReplPipe => 5,
            TokenKind::BusLink => 6,
            TokenKind::SentinelLink => 7,
        }
    }

    /// Builds the token for `index` of this kind.
    pub fn token(self, index: usize) -> Token {
        Token(((self.code() << 32) | (index as u64 & 0xffff_ffff)) as usize)
    }

    /// Splits a token back into its kind and index.
    pub fn decode(t: Token) -> Option<(TokenKind, usize)> {
        let v = t.0 as u64;
        let kind = match v >> 32 {
            1 => TokenKind::Listener,
            2 => TokenKind::Client,
            3 => TokenKind::BusListener,
            4 => TokenKind::Link,
            5 => TokenKind::ReplPipe,
            6 => TokenKind::BusLink,
            7 => TokenKind::SentinelLink,
            _ => return None,
        };
        Some((kind, (v & 0xffff_ffff) as usize))
    }
}

/// The poller plus its event buffer.
pub struct Reactor {
    poll: Poll,
    /// Events of the last `poll`.
    pub events: Events,
}

impl Reactor {
    /// A new poller with room for 1024 events per wake-up.
    pub fn new() -> io::Result<Reactor> {
        Ok(Reactor { poll: Poll::new()?, events: Events::with_capacity(1024) })
    }

    /// Starts watching `src` for `interest` under `token`.
    pub fn register(&self, src: &mut impl Source, token: Token, interest: Interest) -> io::Result<()> {
        self.poll.registry().register(src, token, interest)
    }

    /// Changes the interest of an already registered source.
    pub fn reregister(&self, src: &mut impl Source, token: Token, interest: Interest) -> io::Result<()> {
        self.poll.registry().reregister(src, token, interest)
    }

    /// Stops watching `src`.
    pub fn deregister(&self, src: &mut impl Source) -> io::Result<()> {
        self.poll.registry().deregister(src)
    }

    /// Waits for readiness for at most `timeout`. An interrupted wait (a
    /// signal arrived) is a normal, empty wake-up.
    pub fn poll(&mut self, timeout: Duration) -> io::Result<()> {
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                self.events.clear();
                Ok(())
            }
            other => other,
        }
    }
}
