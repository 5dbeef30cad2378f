//! Wall-clock and monotonic time in the units the server uses.
//!
//! Redis caches the time once per event-loop iteration (`mstime` / `ustime`
//! snapshots) so every command in a batch sees one "now". `Clock` does the same
//! and lets tests set the time by hand instead of sleeping.

use std::time::{SystemTime, UNIX_EPOCH};

/// Current Unix time in milliseconds (not cached).
pub fn unix_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Current Unix time in microseconds (not cached).
pub fn unix_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

/// The server's time snapshot, refreshed once per loop iteration.
#[derive(Debug)]
pub struct Clock {
    /// Unix time in ms of the last refresh.
    pub now_ms: i64,
    /// Unix time in us of the last refresh.
    pub now_us: i64,
    /// When set, `refresh` keeps this time (tests).
    frozen: bool,
}

impl Clock {
    /// A clock reading the system time now.
    pub fn new() -> Clock {
        let mut c = Clock { now_ms: 0, now_us: 0, frozen: false };
        c.refresh();
        c
    }

    /// Takes a new snapshot of the time, unless frozen by `set_ms`.
    pub fn refresh(&mut self) {
        if !self.frozen {
            self.now_us = unix_us();
            self.now_ms = self.now_us / 1000;
        }
    }

    /// Freezes the clock at `ms` (tests drive time forward by hand).
    pub fn set_ms(&mut self, ms: i64) {
        self.frozen = true;
        self.now_ms = ms;
        self.now_us = ms * 1000;
    }

    /// Unix time in whole seconds.
    pub fn now_secs(&self) -> i64 {
        self.now_ms / 1000
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}
