//! LATENCY LATEST / HISTORY / RESET / GRAPH / DOCTOR / HISTOGRAM / HELP:
//! replies over `crate::latency` in Redis 7.0's shapes.

use crate::client::reply::{CmdResult, ReplyError};
use crate::client::Client;
use crate::server::Server;

fn now_secs() -> i64 {
    crate::util::clock::unix_ms() / 1000
}

/// LATENCY LATEST: `[event, time, latest ms, all-time max ms]` per event.
pub fn latest(srv: &mut Server, c: &mut Client) -> CmdResult {
    c.reply.array(srv.latency.monitor.len());
    for (event, s) in srv.latency.monitor.iter() {
        let last = s.latest();
        c.reply.array(4);
        c.reply.bulk(event.as_bytes());
        c.reply.int(last.time);
        c.reply.int(last.ms as i64);
        c.reply.int(s.max as i64);
    }
    Ok(())
}

/// LATENCY HISTORY event: `[time, ms]` pairs, oldest first (empty for an
/// unknown event).
pub fn history(srv: &mut Server, c: &mut Client) -> CmdResult {
    let samples: Vec<_> = srv.latency.monitor.get(c.arg(2)).map(|s| s.samples().collect()).unwrap_or_default();
    c.reply.array(samples.len());
    for s in samples {
        c.reply.array(2);
        c.reply.int(s.time);
        c.reply.int(s.ms as i64);
    }
    Ok(())
}

/// LATENCY RESET [event ...]: how many event series were dropped.
pub fn reset(srv: &mut Server, c: &mut Client) -> CmdResult {
    let n = if c.argc() == 2 {
        srv.latency.monitor.reset(None)
    } else {
        (2..c.argc()).map(|i| srv.latency.monitor.reset(Some(c.arg(i)))).sum()
    };
    c.reply.int(n as i64);
    Ok(())
}

/// LATENCY GRAPH event: an ASCII graph of the event's samples.
pub fn graph(srv: &mut Server, c: &mut Client) -> CmdResult {
    let Some(s) = srv.latency.monitor.get(c.arg(2)) else {
        // COMPAT: Redis's error for an event without samples.
        return Err(ReplyError::err(format!("No samples available for event '{}'", String::from_utf8_lossy(c.arg(2)))));
    };
    let text = crate::latency::graph(&String::from_utf8_lossy(c.arg(2)), s, now_secs());
    c.reply.verbatim(text.as_bytes(), "txt");
    Ok(())
}

/// LATENCY DOCTOR: the human-readable report.
pub fn doctor(srv: &mut Server, c: &mut Client) -> CmdResult {
    let text = crate::latency::doctor(srv, now_secs());
    c.reply.verbatim(text.as_bytes(), "txt");
    Ok(())
}

/// LATENCY HISTOGRAM [command ...]: for each command (all of them without
/// arguments; a container name stands for its subcommands too) that has a
/// histogram, `{calls, histogram_usec: {bucket_us: cumulative count}}`.
/// Unknown names are skipped.
pub fn histogram(srv: &mut Server, c: &mut Client) -> CmdResult {
    let mut wanted: Vec<usize> = Vec::new();
    if c.argc() == 2 {
        wanted = crate::info::table_order(&srv.commands);
    } else {
        for i in 2..c.argc() {
            let Some(idx) = lookup_fullname(srv, c.arg(i)) else { continue };
            wanted.push(idx);
            let mut subs: Vec<(&str, usize)> = srv.commands.cmds[idx].subs.iter().map(|(n, &s)| (*n, s)).collect();
            subs.sort_unstable();
            wanted.extend(subs.into_iter().map(|(_, s)| s));
        }
    }
    let with_data: Vec<usize> = wanted.into_iter().filter(|&i| srv.latency.histogram(i).is_some()).collect();
    c.reply.map(with_data.len());
    for idx in with_data {
        let Some(h) = srv.latency.histogram(idx) else { continue };
        let cdf = h.cdf();
        c.reply.bulk(srv.commands.cmds[idx].fullname.as_bytes());
        c.reply.map(2);
        c.reply.bulk(b"calls");
        c.reply.int(h.total() as i64);
        c.reply.bulk(b"histogram_usec");
        c.reply.map(cdf.len());
        for (us, n) in cdf {
            c.reply.int(us as i64);
            c.reply.int(n as i64);
        }
    }
    Ok(())
}

/// A command by its full name (`get`, `config|set`), case-insensitively.
fn lookup_fullname(srv: &Server, name: &[u8]) -> Option<usize> {
    let mut parts = name.splitn(3, |&b| b == b'|');
    let top = srv.commands.lookup_top(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(top),
        (Some(sub), None) => {
            let sub = String::from_utf8_lossy(sub).to_ascii_lowercase();
            srv.commands.cmds[top].subs.get(sub.as_str()).copied()
        }
        _ => None,
    }
}

/// LATENCY HELP.
pub fn help(_srv: &mut Server, c: &mut Client) -> CmdResult {
    super::help_reply(
        c,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}
