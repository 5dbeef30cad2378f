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
use std::time::{Duration, Instant};

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
    /// How long [`Reactor::wait`] polls before it sleeps (see there).
    spin: Duration,
    /// Until when [`Reactor::wait`] does not poll: set when polling was
    /// preempted, i.e. another process wanted this CPU.
    no_spin_until: Option<Instant>,
    /// The gap between two polls of one window taken as preemption
    /// ([`PREEMPTED`]; tests of the window itself switch it off).
    preempted: Duration,
}

/// A gap this long between two polls of one window means the thread was
/// descheduled in between (one non-blocking `epoll_wait` takes microseconds).
const PREEMPTED: Duration = Duration::from_micros(500);
/// How long polling stays off after it was preempted.
const BACK_OFF: Duration = Duration::from_millis(100);

impl Reactor {
    /// A new poller with room for 1024 events per wake-up.
    pub fn new() -> io::Result<Reactor> {
        Ok(Reactor {
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            spin: Duration::ZERO,
            no_spin_until: None,
            preempted: PREEMPTED,
        })
    }

    /// Waits for readiness for at most `timeout`, first polling without
    /// sleeping for a window of at most `max_spin`.
    ///
    /// A thread asleep in `epoll_wait` is woken by whoever makes its socket
    /// ready, and that peer pays for it: a wake-up on another CPU is an
    /// inter-processor interrupt, and on a virtual machine whose idle CPUs halt,
    /// an exit to the host. When requests arrive a few microseconds apart, a
    /// server that sleeps between them makes its clients slower. So the window
    /// adapts to the gaps the way the kernel's haltpoll idle governor adapts
    /// its own: after a wait that ended within `max_spin` the window doubles
    /// (from a quarter of `max_spin`), after a longer one it halves and then
    /// closes. An idle or lightly used loop never polls; a busy one spends at
    /// most `max_spin` per gap, and only while gaps that short keep coming.
    /// Polling takes a CPU that only this loop wants: when a poll finds it
    /// was descheduled since the last one (another process was runnable
    /// here, say a replica on the same cores), the window closes and stays
    /// shut for [`BACK_OFF`].
    /// A zero `timeout` is a plain poll and leaves the window alone.
    pub fn wait(&mut self, timeout: Duration, max_spin: Duration) -> io::Result<()> {
        if timeout.is_zero() {
            return self.poll(timeout);
        }
        let start = Instant::now();
        if self.no_spin_until.is_some_and(|t| start < t) {
            self.spin = Duration::ZERO;
        }
        let window = self.spin.min(max_spin).min(timeout);
        if !window.is_zero() {
            let mut last = start;
            loop {
                self.poll(Duration::ZERO)?;
                let now = Instant::now();
                if now - last >= self.preempted {
                    self.spin = Duration::ZERO;
                    self.no_spin_until = Some(now + BACK_OFF);
                }
                if !self.events.is_empty() {
                    return Ok(());
                }
                if now - start >= window || self.spin.is_zero() {
                    break;
                }
                last = now;
            }
        }
        self.poll(timeout.saturating_sub(start.elapsed()))?;
        if self.no_spin_until.is_none_or(|t| Instant::now() >= t) {
            self.no_spin_until = None;
            self.spin = next_spin(self.spin, start.elapsed(), max_spin);
        }
        Ok(())
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

/// The polling window after a wait that had to sleep and lasted `waited` in
/// all: grown when polling that long would have caught the wake-up, shrunk
/// (to zero below a quarter of `max`) when not.
fn next_spin(window: Duration, waited: Duration, max: Duration) -> Duration {
    let floor = max / 4;
    if max.is_zero() {
        Duration::ZERO
    } else if waited <= max {
        (window * 2).clamp(floor, max)
    } else if window / 2 < floor {
        Duration::ZERO
    } else {
        window / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_micros(20);

    #[test]
    fn short_gaps_open_the_window_up_to_the_limit() {
        let mut w = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..5 {
            w = next_spin(w, Duration::from_micros(12), MAX);
            seen.push(w.as_micros());
        }
        assert_eq!(seen, [5, 10, 20, 20, 20]);
    }

    #[test]
    fn long_waits_close_it() {
        let mut w = MAX;
        let mut seen = Vec::new();
        for _ in 0..3 {
            w = next_spin(w, Duration::from_millis(100), MAX);
            seen.push(w.as_micros());
        }
        assert_eq!(seen, [10, 5, 0]);
        assert_eq!(next_spin(Duration::ZERO, Duration::from_millis(1), MAX), Duration::ZERO);
        assert_eq!(next_spin(MAX, Duration::from_micros(1), Duration::ZERO), Duration::ZERO);
    }

    /// A reactor whose polling is never cut short by a slow test machine.
    fn unpreempted() -> Reactor {
        let mut r = Reactor::new().unwrap();
        r.preempted = Duration::MAX;
        r
    }

    #[test]
    fn an_idle_reactor_sleeps_without_polling() {
        let mut r = unpreempted();
        r.spin = MAX;
        // The first empty wait, which polls and then sleeps for a millisecond,
        // is longer than the limit: the window halves; two more close it.
        for expect in [10, 5, 0] {
            r.wait(Duration::from_millis(1), MAX).unwrap();
            assert!(r.events.is_empty());
            assert_eq!(r.spin.as_micros(), expect);
        }
    }

    #[test]
    fn a_preempted_window_stays_shut_for_the_back_off() {
        let mut r = Reactor::new().unwrap();
        // Every gap between polls counts as preemption: the first poll of the
        // window shuts it and starts the back-off.
        r.preempted = Duration::ZERO;
        r.spin = MAX;
        r.wait(Duration::from_millis(1), MAX).unwrap();
        assert_eq!((r.spin, r.no_spin_until.is_some()), (Duration::ZERO, true));
        // Short waits would open the window; during the back-off they don't.
        r.preempted = Duration::MAX;
        r.wait(Duration::from_millis(1), Duration::from_millis(50)).unwrap();
        assert_eq!((r.spin, r.no_spin_until.is_some()), (Duration::ZERO, true));
        r.no_spin_until = Some(Instant::now());
        r.wait(Duration::from_millis(1), Duration::from_millis(50)).unwrap();
        assert_eq!(r.no_spin_until, None);
        assert_eq!(r.spin, Duration::from_micros(12500));
    }

    #[test]
    fn a_ready_socket_is_caught_while_polling() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let mut server = mio::net::TcpStream::from_std(server);
        let mut r = unpreempted();
        r.register(&mut server, Token(7), Interest::READABLE).unwrap();
        std::io::Write::write_all(&mut client, b"x").unwrap();
        r.spin = MAX / 4;
        // The byte is there before the wait: the first poll sees it and the
        // window stays as it was (a wait that reached the sleeping poll would
        // have doubled it, having ended within the limit).
        r.wait(Duration::from_secs(1), MAX).unwrap();
        assert_eq!(r.events.iter().map(|e| e.token()).collect::<Vec<_>>(), [Token(7)]);
        assert_eq!(r.spin, MAX / 4);
        // With polling off the same readiness comes from the sleeping poll.
        r.spin = MAX / 4;
        std::io::Write::write_all(&mut client, b"y").unwrap();
        r.wait(Duration::from_secs(1), Duration::ZERO).unwrap();
        assert_eq!(r.events.iter().map(|e| e.token()).collect::<Vec<_>>(), [Token(7)]);
        assert_eq!(r.spin, Duration::ZERO);
    }
}
