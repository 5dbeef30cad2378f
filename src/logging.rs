//! The server log in Redis's line format:
//! `<pid>:<role> <dd Mon yyyy hh:mm:ss.mmm> <level> <message>`.
//!
//! Implements the `log` facade. Redis's four levels map onto it as
//! warning = `Warn`/`Error` (`#`), notice = `Info` (`*`), verbose = `Debug`
//! (`-`), debug = `Trace` (`.`). The log goes to stdout when `logfile` is empty,
//! otherwise it is appended to the file (reopened per line, as Redis does, so
//! log rotation and the test harness writing into the same file both work).

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use crate::config::LogLevel;

static ROLE: AtomicU8 = AtomicU8::new(b'C');

/// Sets the role character printed after the pid: `M` primary, `S` replica,
/// `C` child or still starting, `X` sentinel.
pub fn set_role(c: u8) {
    ROLE.store(c, Ordering::Relaxed);
}

struct Logger {
    level: Mutex<(LogLevel, String)>,
}

static LOGGER: Logger = Logger { level: Mutex::new((LogLevel::Notice, String::new())) };

/// Installs the logger (once) and applies `loglevel` / `logfile`; may be called
/// again when CONFIG SET changes them.
pub fn configure(level: LogLevel, logfile: &str) {
    if let Ok(mut g) = LOGGER.level.lock() {
        *g = (level, logfile.to_string());
    }
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Trace);
}

fn rank(l: LogLevel) -> u8 {
    match l {
        LogLevel::Debug => 0,
        LogLevel::Verbose => 1,
        LogLevel::Notice => 2,
        LogLevel::Warning => 3,
        LogLevel::Nothing => 4,
    }
}

fn level_of(l: log::Level) -> (u8, char) {
    match l {
        log::Level::Error | log::Level::Warn => (3, '#'),
        log::Level::Info => (2, '*'),
        log::Level::Debug => (1, '-'),
        log::Level::Trace => (0, '.'),
    }
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        let min = self.level.lock().map(|g| rank(g.0)).unwrap_or(2);
        level_of(m.level()).0 >= min
    }

    fn log(&self, record: &log::Record) {
        let Ok(g) = self.level.lock() else { return };
        let (r, ch) = level_of(record.level());
        if r < rank(g.0) {
            return;
        }
        let line = format!(
            "{}:{} {} {} {}\n",
            std::process::id(),
            ROLE.load(Ordering::Relaxed) as char,
            timestamp(crate::util::clock::unix_ms()),
            ch,
            record.args()
        );
        write_line(&g.1, line.as_bytes());
    }

    fn flush(&self) {}
}

/// Writes raw text to the log destination (used for the logo too).
pub fn write_raw(text: &str) {
    let file = LOGGER.level.lock().map(|g| g.1.clone()).unwrap_or_default();
    write_line(&file, text.as_bytes());
}

/// Like [`write_raw`] from a crash handler: gives up on the destination
/// (falls back to standard error) rather than wait for the log lock.
pub fn write_raw_if_free(text: &str) {
    match LOGGER.level.try_lock() {
        Ok(g) => {
            let file = g.1.clone();
            drop(g);
            write_line(&file, text.as_bytes());
        }
        Err(_) => {
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }
}

fn write_line(file: &str, bytes: &[u8]) {
    if file.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(bytes);
        let _ = out.flush();
    } else if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(file) {
        let _ = f.write_all(bytes);
    }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `dd Mon yyyy hh:mm:ss.mmm` in UTC.
pub fn timestamp(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let ms = unix_ms.rem_euclid(1000);
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        d,
        MONTHS[(m - 1) as usize],
        y,
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60,
        ms
    )
}

/// `Www Mmm dd hh:mm:ss yyyy` in UTC (the day space-padded), the text of C's
/// ctime() without its newline, as Redis prints dates in some log lines.
pub fn ctime(unix_secs: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    let days = unix_secs.div_euclid(86400);
    let sod = unix_secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let wday = (days + 4).rem_euclid(7) as usize;
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        DAYS[wday],
        MONTHS[(m - 1) as usize],
        d,
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60,
        y
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamp_format() {
        assert_eq!(super::timestamp(0), "01 Jan 1970 00:00:00.000");
        assert_eq!(super::timestamp(1_795_316_125_123), "22 Nov 2026 02:55:25.123");
    }

    #[test]
    fn ctime_format() {
        assert_eq!(super::ctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(super::ctime(1_795_316_125), "Sun Nov 22 02:55:25 2026");
        assert_eq!(super::ctime(951_782_400), "Tue Feb 29 00:00:00 2000");
    }
}
