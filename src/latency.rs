//! Latency measurement: the latency monitor (LATENCY LATEST/HISTORY/GRAPH/
//! DOCTOR/RESET) and per-command latency tracking (LATENCY HISTOGRAM, INFO
//! latencystats).
//!
//! Owns two things. The monitor keeps, per named event ("command",
//! "fast-command", "expire-cycle", ...), the worst latency of each second in
//! a ring of 160 samples plus the all-time maximum, but only for events that
//! took at least `latency-monitor-threshold` milliseconds (0 disables it), as
//! Redis 7.0's latency monitor does. Tracking keeps one log-linear histogram
//! per command (created on first use while `latency-tracking` is on), with
//! the bucket layout of an HdrHistogram of two significant digits over 1 ns
//! to 1 s, so percentiles and CDF buckets come out as Redis reports them.
//!
//! It must not decide what a command is or reply to clients: `server::call`
//! hands it measurements through [`after_call`], and `cmd::latency` renders.

use std::fmt::Write as _;

use crate::client::Client;
use crate::cmd::spec::CmdFlags;
use crate::server::Server;

// ------------------------------------------------------------- histogram

/// Values below this are stored exactly, one bucket each; above it every
/// power of two is split into `HALF` buckets (a relative error under 1%).
const LINEAR: u64 = 256;
/// Sub-buckets per power of two above `LINEAR`.
const HALF: u64 = 128;
/// Smallest recordable value (ns); smaller ones are raised to it.
const MIN_NS: u64 = 1;
/// Largest recordable value (ns, one second); larger ones are clamped.
const MAX_NS: u64 = 1_000_000_000;
/// First reporting boundary of LATENCY HISTOGRAM (ns); each next one doubles.
const CDF_FIRST_NS: u64 = 1024;

/// Bucket index of `v` (ns, within `MIN_NS..=MAX_NS`).
fn bucket_of(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    // Shift that brings v into [HALF, LINEAR).
    let shift = 63 - u64::from(v.leading_zeros()) - 7;
    (LINEAR + (shift - 1) * HALF + ((v >> shift) - HALF)) as usize
}

/// The lowest and highest value bucket `i` stands for.
fn bucket_range(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < LINEAR {
        return (i, i);
    }
    let shift = (i - LINEAR) / HALF + 1;
    let low = ((i - LINEAR) % HALF + HALF) << shift;
    (low, low + (1 << shift) - 1)
}

/// A latency histogram in nanoseconds: exact below 256 ns, then within 1%.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; bucket_of(MAX_NS) + 1].into_boxed_slice(), total: 0 }
    }
}

impl Histogram {
    /// Records one value (ns), clamped to 1 ns ..= 1 s.
    pub fn record(&mut self, ns: u64) {
        let v = ns.clamp(MIN_NS, MAX_NS);
        self.counts[bucket_of(v)] += 1;
        self.total += 1;
    }

    /// How many values were recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The value (ns) at or below which `p` percent of the recordings fall:
    /// the top of the bucket holding that rank (the bottom for p = 0), or 0
    /// when nothing was recorded.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) };
        let rank = ((p / 100.0) * self.total as f64 + 0.5) as u64;
        let rank = rank.clamp(1, self.total);
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let (low, high) = bucket_range(i);
                return if p == 0.0 { low } else { high };
            }
        }
        MAX_NS
    }

    /// The cumulative distribution LATENCY HISTOGRAM reports: for boundaries
    /// 1024 ns, 2048 ns, ... (each taken at the top of its bucket), the
    /// boundary in microseconds and how many values lie at or below it.
    /// Boundaries that add nothing to the previous one are left out; the
    /// walk ends at the first boundary that covers every value.
    pub fn cdf(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        if self.total == 0 {
            return out;
        }
        let (mut bound, mut i, mut seen, mut prev) = (CDF_FIRST_NS, 0usize, 0u64, 0u64);
        loop {
            let top = bucket_range(bucket_of(bound.min(MAX_NS))).1;
            while i < self.counts.len() && bucket_range(i).1 <= top {
                seen += self.counts[i];
                i += 1;
            }
            if seen > prev {
                out.push((top / 1000, seen));
            }
            prev = seen;
            if seen >= self.total || bound >= MAX_NS {
                return out;
            }
            bound *= 2;
        }
    }
}

// --------------------------------------------------------------- monitor

/// Samples kept per event (one per second at most).
pub const HISTORY_LEN: usize = 160;

/// One second's worst latency of an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// Unix time in seconds; 0 marks an unused slot.
    pub time: i64,
    /// Latency in milliseconds.
    pub ms: u64,
}

/// The recent history of one event.
#[derive(Debug, Clone)]
pub struct Series {
    /// Ring of samples; `next` is the slot written next.
    samples: [Sample; HISTORY_LEN],
    next: usize,
    /// Worst latency since the series was created.
    pub max: u64,
}

impl Series {
    fn new() -> Series {
        Series { samples: [Sample::default(); HISTORY_LEN], next: 0, max: 0 }
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..HISTORY_LEN).map(move |j| self.samples[(self.next + j) % HISTORY_LEN]).filter(|s| s.time != 0)
    }

    /// The newest sample.
    pub fn latest(&self) -> Sample {
        self.samples[(self.next + HISTORY_LEN - 1) % HISTORY_LEN]
    }

    fn add(&mut self, now: i64, ms: u64) {
        self.max = self.max.max(ms);
        let last = (self.next + HISTORY_LEN - 1) % HISTORY_LEN;
        if self.samples[last].time == now {
            // Same second: keep its worst value.
            self.samples[last].ms = self.samples[last].ms.max(ms);
            return;
        }
        self.samples[self.next] = Sample { time: now, ms };
        self.next = (self.next + 1) % HISTORY_LEN;
    }
}

/// Latency events by name, in the order they first occurred.
#[derive(Debug, Default)]
pub struct Monitor {
    events: Vec<(String, Box<Series>)>,
}

impl Monitor {
    /// Adds a sample of `ms` milliseconds at Unix second `now` to `event`,
    /// creating the series on first use.
    pub fn add(&mut self, event: &str, ms: u64, now: i64) {
        let i = match self.events.iter().position(|(e, _)| e == event) {
            Some(i) => i,
            None => {
                self.events.push((event.to_string(), Box::new(Series::new())));
                self.events.len() - 1
            }
        };
        self.events[i].1.add(now, ms);
    }

    /// The series of `event` (exact name), if it ever fired.
    pub fn get(&self, event: &[u8]) -> Option<&Series> {
        self.events.iter().find(|(e, _)| e.as_bytes() == event).map(|(_, s)| &**s)
    }

    /// Every event with its series.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Series)> {
        self.events.iter().map(|(e, s)| (e.as_str(), &**s))
    }

    /// Forgets `event` (case-insensitively), or every event when `None`.
    /// Returns how many series were dropped.
    pub fn reset(&mut self, event: Option<&[u8]>) -> usize {
        let before = self.events.len();
        match event {
            None => self.events.clear(),
            Some(name) => self.events.retain(|(e, _)| !e.as_bytes().eq_ignore_ascii_case(name)),
        }
        before - self.events.len()
    }

    /// Number of events with a series.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event fired since the last reset.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

// ------------------------------------------------------------ the state

/// Everything the server keeps for latency reporting.
#[derive(Debug, Default)]
pub struct Latency {
    /// The latency monitor's events.
    pub monitor: Monitor,
    /// One histogram per command-table index, created on first use.
    histograms: Vec<Option<Box<Histogram>>>,
}

impl Latency {
    /// The histogram of command `idx`, if it recorded anything since the
    /// last CONFIG RESETSTAT.
    pub fn histogram(&self, idx: usize) -> Option<&Histogram> {
        self.histograms.get(idx).and_then(|h| h.as_deref())
    }

    /// Records a run of command `idx` lasting `us` microseconds.
    pub fn record(&mut self, idx: usize, us: u64) {
        if self.histograms.len() <= idx {
            self.histograms.resize_with(idx + 1, || None);
        }
        self.histograms[idx].get_or_insert_with(Box::default).record(us.saturating_mul(1000));
    }

    /// Drops every command histogram (CONFIG RESETSTAT).
    pub fn reset_histograms(&mut self) {
        self.histograms.clear();
    }
}

/// Adds a monitor sample for `event` if `ms` reaches the configured
/// threshold (a zero threshold disables the monitor).
pub fn sample_if_needed(srv: &mut Server, event: &str, ms: u64) {
    let threshold = srv.config.latency_monitor_threshold;
    if threshold > 0 && ms >= threshold as u64 {
        let now = crate::util::clock::unix_ms() / 1000;
        srv.latency.monitor.add(event, ms, now);
    }
}

/// The cron's active expiry cycle took `took`: counted in INFO
/// `expire_cycle_cpu_milliseconds` and sampled as the "expire-cycle" event.
pub fn expire_cycle_done(srv: &mut Server, took: std::time::Duration) {
    srv.stats.expire_cycle_us += took.as_micros() as u64;
    // COMPAT: the monitor's event name for active expiry.
    sample_if_needed(srv, "expire-cycle", took.as_millis() as u64);
}

/// What `Server::call` records once command `idx` ran for `us` microseconds
/// for client `c`: the monitor's "command"/"fast-command" event, and, unless
/// the command blocked (it is measured again when served), its latency
/// histogram and the slow log.
pub fn after_call(srv: &mut Server, c: &Client, idx: usize, us: u64) {
    let flags = srv.commands.cmds[idx].flags;
    // COMPAT: the monitor's event names for command execution.
    let event = if flags.has(CmdFlags::FAST) { "fast-command" } else { "command" };
    sample_if_needed(srv, event, us / 1000);
    if c.blocked.is_some() {
        return;
    }
    finished(srv, c, idx, us);
}

/// A blocked client's wait ended with an error (CLIENT UNBLOCK ... ERROR):
/// its command counts as failed and is measured as if it ran instantly.
pub fn unblocked_with_error(srv: &mut Server, c: &Client) {
    if c.argv.is_empty() {
        return;
    }
    let Ok(idx) = srv.commands.resolve(&c.argv) else { return };
    srv.commands.cmds[idx].stats.failed_calls += 1;
    finished(srv, c, idx, 0);
}

/// Histogram and slow log for a command that is done.
fn finished(srv: &mut Server, c: &Client, idx: usize, us: u64) {
    if srv.config.latency_tracking {
        srv.latency.record(idx, us);
    }
    let cmd = &srv.commands.cmds[idx];
    if !cmd.flags.has(CmdFlags::SKIP_SLOWLOG) {
        let threshold = srv.config.slowlog_log_slower_than;
        let max_len = srv.config.slowlog_max_len.max(0) as usize;
        srv.slowlog.push_if_needed(threshold, max_len, cmd.fullname, &c.argv, us, &c.addr, c.name.as_deref());
    }
}

// ------------------------------------------------------------- reports

/// Percentile label as INFO prints it (`50`, `99.9`): fixed six decimals
/// with trailing zeros and a trailing dot removed.
pub fn percentile_label(p: f64) -> String {
    crate::config::format_percentile(p)
}

/// The INFO latencystats line body for one histogram:
/// `p50=1.003,p99=2.007,...` in microseconds with three decimals.
pub fn percentiles_line(h: &Histogram, percentiles: &[f64]) -> String {
    let mut out = String::new();
    for (i, &p) in percentiles.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "p{}={:.3}", percentile_label(p), h.percentile(p) as f64 / 1000.0);
    }
    out
}

/// Columns of one LATENCY GRAPH band.
const GRAPH_COLS: usize = 80;
/// Rows of the graph's bars.
const GRAPH_ROWS: usize = 4;
/// Characters for a partial cell, lowest first; a full cell below the top
/// of a bar is drawn with `|`.
const GRAPH_LEVELS: &[u8] = b"_o#";

/// LATENCY GRAPH: a header line, a ruler, then the samples as vertical bars
/// scaled between their minimum and maximum, each labelled below with its
/// age (`12s`, `3m`, `2h`, `1d`), in bands of 80 columns.
pub fn graph(event: &str, s: &Series, now: i64) -> String {
    let samples: Vec<Sample> = s.samples().collect();
    let low = samples.iter().map(|x| x.ms).min().unwrap_or(0);
    let high = samples.iter().map(|x| x.ms).max().unwrap_or(0);
    // COMPAT: LATENCY GRAPH's header line.
    let mut out = format!("{event} - high {high} ms, low {low} ms (all time high {} ms)\n", s.max);
    out.push_str(&"-".repeat(GRAPH_COLS));
    out.push('\n');
    let labels: Vec<String> = samples.iter().map(|x| age_label(now - x.time)).collect();
    let span = if high > low { (high - low) as f64 } else { 1.0 };
    let steps = GRAPH_LEVELS.len() * GRAPH_ROWS;
    for (band, chunk) in samples.chunks(GRAPH_COLS).enumerate() {
        if band > 0 {
            out.push('\n');
        }
        let first = band * GRAPH_COLS;
        let level = |x: &Sample| (((x.ms - low) as f64 * steps as f64 / span) as usize).min(steps - 1);
        for row in 0..GRAPH_ROWS {
            let line: String = chunk
                .iter()
                .map(|x| {
                    let l = level(x) as isize - ((GRAPH_ROWS - row - 1) * GRAPH_LEVELS.len()) as isize;
                    match usize::try_from(l) {
                        Ok(l) if l < GRAPH_LEVELS.len() => GRAPH_LEVELS[l] as char,
                        Ok(_) => '|',
                        Err(_) => ' ',
                    }
                })
                .collect();
            out.push_str(&line);
            out.push('\n');
        }
        // One blank row, then the labels written downwards.
        let band_labels = &labels[first..first + chunk.len()];
        let tallest = band_labels.iter().map(|l| l.len()).max().unwrap_or(0);
        if tallest > 0 {
            out.push_str(&" ".repeat(chunk.len()));
            out.push('\n');
        }
        for k in 0..tallest {
            let line: String = band_labels.iter().map(|l| l.as_bytes().get(k).map_or(' ', |&b| b as char)).collect();
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// How long ago, in the largest whole unit.
fn age_label(secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m", secs / 60)
    } else if secs < 86400 {
        format!("{}h", secs / 3600)
    } else {
        format!("{}d", secs / 86400)
    }
}

/// Summary of one event's samples for the doctor.
struct Summary {
    samples: u64,
    avg: u64,
    mad: u64,
    period: i64,
}

fn summarize(s: &Series, now: i64) -> Summary {
    let v: Vec<Sample> = s.samples().collect();
    if v.is_empty() {
        return Summary { samples: 0, avg: 0, mad: 0, period: 0 };
    }
    let n = v.len() as u64;
    let avg = v.iter().map(|x| x.ms).sum::<u64>() / n;
    let mad = v.iter().map(|x| x.ms.abs_diff(avg)).sum::<u64>() / n;
    let oldest = v.iter().map(|x| x.time).min().unwrap_or(now);
    Summary { samples: n, avg, mad, period: (now - oldest).max(1) }
}

/// Bytes of anonymous huge pages mapped by this process (transparent huge
/// pages make fork and memory release slow).
fn anon_huge_pages() -> u64 {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup")
        .or_else(|_| std::fs::read_to_string("/proc/self/smaps"))
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("AnonHugePages:"))
        .filter_map(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .sum::<u64>()
        * 1024
}

/// LATENCY DOCTOR: a human-readable report on the events seen and advice
/// for the ones Viator can produce, in Redis's words.
pub fn doctor(srv: &Server, now: i64) -> String {
    let threshold = srv.config.latency_monitor_threshold;
    let mon = &srv.latency.monitor;
    if mon.is_empty() && threshold == 0 {
        // COMPAT: the doctor's reply while the monitor is off.
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_string();
    }
    let mut out = String::new();
    let (mut slowlog_enable, mut slowlog_tune, mut slowlog_inspect) = (false, false, false);
    let (mut scheduler, mut hz, mut large_objects, mut mass_eviction) = (false, false, false, false);
    let mut advices = 0;
    for (n, (event, s)) in mon.iter().enumerate() {
        if n == 0 {
            // COMPAT: the doctor's wording from here on.
            out.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let sum = summarize(s, now);
        let per = if sum.samples > 0 { sum.period as f64 / sum.samples as f64 } else { 0.0 };
        let _ = write!(
            out,
            "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
            n + 1,
            event,
            sum.samples,
            sum.avg,
            sum.mad,
            per,
            s.max
        );
        match event.to_ascii_lowercase().as_str() {
            "command" => {
                let slower = srv.config.slowlog_log_slower_than;
                if slower < 0 {
                    slowlog_enable = true;
                    advices += 1;
                } else if slower / 1000 > threshold {
                    slowlog_tune = true;
                    advices += 1;
                }
                slowlog_inspect = true;
                large_objects = true;
                advices += 2;
            }
            "fast-command" => {
                scheduler = true;
                advices += 1;
            }
            "expire-cycle" => {
                hz = true;
                large_objects = true;
                advices += 2;
            }
            "eviction-del" => {
                large_objects = true;
                advices += 1;
            }
            "eviction-cycle" => {
                mass_eviction = true;
                advices += 1;
            }
            _ => {}
        }
        out.push('\n');
    }
    let thp = anon_huge_pages() > 0;
    if thp {
        advices += 1;
    }
    if mon.is_empty() && advices == 0 {
        out.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
        return out;
    }
    if advices == 0 {
        out.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
        return out;
    }
    out.push_str("\nI have a few advices for you:\n\n");
    let want = threshold.max(0) as u64 * 1000;
    if slowlog_enable {
        let _ = writeln!(out, "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {want}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.");
    }
    if slowlog_tune {
        let _ = writeln!(out, "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {want}'.");
    }
    if slowlog_inspect {
        out.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
    }
    if scheduler {
        out.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
    }
    if hz && srv.config.hz < 100 {
        out.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
    }
    if large_objects {
        out.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
    }
    if mass_eviction {
        out.push_str("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n");
    }
    if thp {
        out.push_str("- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious latency events in different conditions, especially when Redis is persisting on disk. To disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if you have already disabled THP, you still need to restart the Redis process to get rid of the huge pages already created.\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;

    #[test]
    fn buckets_cover_values_in_order() {
        let mut prev_high = None;
        for i in 0..=bucket_of(MAX_NS) {
            let (low, high) = bucket_range(i);
            assert!(low <= high);
            if let Some(p) = prev_high {
                assert_eq!(low, p + 1, "bucket {i} leaves a gap");
            }
            assert_eq!(bucket_of(low), i);
            assert_eq!(bucket_of(high), i);
            prev_high = Some(high);
        }
        // Two significant digits: every bucket is within 1% of its value.
        for v in [300u64, 1024, 99_999, 123_456_789, MAX_NS] {
            let (low, high) = bucket_range(bucket_of(v));
            assert!((high - low) as f64 <= v as f64 / 100.0, "{v}: {low}..{high}");
        }
    }

    #[test]
    fn percentiles_pick_the_right_rank() {
        let mut h = Histogram::default();
        assert_eq!(h.percentile(50.0), 0);
        for us in 1..=100u64 {
            h.record(us * 1000);
        }
        assert_eq!(h.total(), 100);
        let p50 = h.percentile(50.0);
        assert!((50_000..=50_400).contains(&p50), "{p50}");
        let p99 = h.percentile(99.0);
        assert!((99_000..=99_600).contains(&p99), "{p99}");
        assert!(h.percentile(100.0) >= 100_000);
        assert!(h.percentile(0.0) <= 1000);
        // Out-of-range values are clamped, not lost.
        h.record(0);
        h.record(u64::MAX);
        assert_eq!(h.total(), 102);
        assert!(h.percentile(100.0) >= MAX_NS);
    }

    #[test]
    fn cdf_is_cumulative_and_complete() {
        let mut h = Histogram::default();
        h.record(500); // below the first boundary: lands in the 1 us bucket
        h.record(3_000);
        h.record(3_100);
        h.record(70_000);
        let cdf = h.cdf();
        assert_eq!(cdf.first(), Some(&(1, 1)));
        assert_eq!(cdf.last().map(|x| x.1), Some(4));
        assert!(cdf.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
        assert_eq!(cdf.iter().map(|x| x.0).collect::<Vec<_>>(), vec![1, 4, 132]);
        assert!(Histogram::default().cdf().is_empty());
    }

    #[test]
    fn monitor_keeps_the_worst_per_second_and_a_ring() {
        let mut m = Monitor::default();
        m.add("command", 5, 100);
        m.add("command", 9, 100);
        m.add("command", 3, 100);
        let s = m.get(b"command").unwrap();
        assert_eq!(s.samples().collect::<Vec<_>>(), vec![Sample { time: 100, ms: 9 }]);
        for t in 0..200 {
            m.add("command", t as u64, 1000 + t);
        }
        let s = m.get(b"command").unwrap();
        assert_eq!(s.samples().count(), HISTORY_LEN);
        assert_eq!(s.samples().next().unwrap().time, 1040);
        assert_eq!(s.latest(), Sample { time: 1199, ms: 199 });
        assert_eq!(s.max, 199);
        m.add("fast-command", 1, 5);
        assert_eq!(m.reset(Some(b"COMMAND")), 1);
        assert_eq!(m.reset(Some(b"nope")), 0);
        assert_eq!(m.len(), 1);
        assert_eq!(m.reset(None), 1);
        assert!(m.is_empty());
    }

    #[test]
    fn graph_draws_bars_and_labels() {
        let mut m = Monitor::default();
        m.add("command", 10, 100);
        m.add("command", 20, 101);
        let g = graph("command", m.get(b"command").unwrap(), 103);
        let lines: Vec<&str> = g.lines().collect();
        assert_eq!(lines[0], "command - high 20 ms, low 10 ms (all time high 20 ms)");
        assert_eq!(lines[1].len(), 80);
        assert_eq!(lines[2], " #");
        assert_eq!(lines[5], "_|");
        assert_eq!(lines[7], "32");
        assert_eq!(lines[8], "ss");
    }

    #[test]
    fn random_values_never_panic() {
        let mut rng = Rng::with_seed(0x5eed_1a7e);
        let mut h = Histogram::default();
        for _ in 0..20_000 {
            let v = rng.next_u64() >> rng.below(64);
            h.record(v);
            let _ = bucket_range(bucket_of(v.clamp(MIN_NS, MAX_NS)));
        }
        for _ in 0..200 {
            let p = rng.next_f64() * 120.0 - 10.0;
            let _ = h.percentile(p);
        }
        let _ = h.percentile(f64::NAN);
        let cdf = h.cdf();
        assert_eq!(cdf.last().map(|x| x.1), Some(20_000));
    }
}
