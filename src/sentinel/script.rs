//! Notification and client-reconfiguration scripts.
//!
//! Owns the script queue: scripts are started in the background (at most 16
//! at once), killed after `script-max-runtime`, and retried up to 10 times
//! with a growing delay when they exit with status 1, as Redis's
//! sentinelRunPendingScripts / CollectTerminatedScripts do. Must not block
//! the reactor: children are polled with `try_wait` from the timer.

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};

use super::{Addr, Level, Sentinel};

/// Most scripts running at once.
const MAX_RUNNING: usize = 16;
/// Most scripts queued.
const MAX_QUEUE: usize = 256;
/// Most retries of a failing script.
const MAX_RETRY: u32 = 10;

/// One queued or running script.
#[derive(Debug)]
pub struct Job {
    /// Path and arguments.
    pub argv: Vec<String>,
    /// Retries so far.
    pub retry: u32,
    /// Start time (running) or earliest start time (queued).
    pub start_time: i64,
    /// The child, while running.
    pub child: Option<Child>,
}

/// The queue.
#[derive(Debug, Default)]
pub struct Scripts {
    /// Queued and running jobs, oldest first.
    pub jobs: Vec<Job>,
}

impl Scripts {
    /// Queues `path` with `args`; the oldest queued (not running) job is dropped
    /// when the queue is full.
    pub fn schedule(&mut self, path: &str, args: Vec<String>) {
        let mut argv = vec![path.to_string()];
        argv.extend(args);
        self.jobs.push(Job { argv, retry: 0, start_time: 0, child: None });
        if self.jobs.len() > MAX_QUEUE {
            if let Some(i) = self.jobs.iter().position(|j| j.child.is_none()) {
                self.jobs.remove(i);
            }
        }
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.jobs.iter().filter(|j| j.child.is_some()).count()
    }
}

/// Starts due scripts, collects finished ones and kills those over time.
/// Failures are published as Redis does: `-script-error <path> <signal>
/// <exit-code>` (a script that could not be started counts as exit code 2,
/// the status of a child whose exec failed) and `-script-timeout <path> <pid>`.
pub fn run(s: &mut Sentinel, now: i64) {
    let max_runtime = s.timing.script_max_runtime;
    let retry_delay = s.timing.script_retry_delay;
    let mut events: Vec<(&str, String)> = Vec::new();
    let sc = &mut s.scripts;
    let mut running = sc.running();
    for j in sc.jobs.iter_mut() {
        if running >= MAX_RUNNING {
            break;
        }
        if j.child.is_some() || j.start_time > now {
            continue;
        }
        j.retry += 1;
        j.start_time = now;
        match Command::new(&j.argv[0]).args(&j.argv[1..]).stdin(Stdio::null()).spawn() {
            Ok(c) => {
                j.child = Some(c);
                running += 1;
            }
            Err(e) => {
                log::debug!("cannot run {}: {e}", j.argv[0]);
                events.push(("-script-error", format!("{} 0 2", j.argv[0])));
                j.retry = MAX_RETRY;
            }
        }
    }
    sc.jobs.retain_mut(|j| {
        let Some(child) = j.child.as_mut() else { return j.retry < MAX_RETRY };
        match child.try_wait() {
            Ok(Some(st)) => {
                j.child = None;
                let signal = st.signal().unwrap_or(0);
                let code = st.code().unwrap_or(0);
                if signal == 0 && code == 1 && j.retry < MAX_RETRY {
                    // Retry later, waiting longer each time.
                    j.start_time = now + retry_delay * (1i64 << (j.retry.min(10) - 1));
                    true
                } else {
                    if signal != 0 || code != 0 {
                        events.push(("-script-error", format!("{} {signal} {code}", j.argv[0])));
                    }
                    false
                }
            }
            Ok(None) => {
                if now - j.start_time > max_runtime {
                    events.push(("-script-timeout", format!("{} {}", j.argv[0], child.id())));
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
                true
            }
            Err(_) => false,
        }
    });
    for (kind, msg) in events {
        s.event_plain(Level::Warning, kind, None, msg);
    }
}

/// Queues the master's client-reconfig-script with Redis's arguments:
/// `<master-name> <role> <state> <from-ip> <from-port> <to-ip> <to-port>`.
pub fn client_reconfig(s: &mut Sentinel, mi: usize, role: &str, state: &str, from: &Addr, to: &Addr) {
    let Some(path) = s.masters[mi].client_reconfig_script.clone() else { return };
    let args = vec![
        s.masters[mi].ri.name.clone(),
        role.to_string(),
        state.to_string(),
        s.announce(from).to_string(),
        from.port.to_string(),
        s.announce(to).to_string(),
        to.port.to_string(),
    ];
    s.scripts.schedule(&path, args);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Finishes the running jobs (waiting at most `ms`) and returns the events.
    fn settle(s: &mut Sentinel, ms: i64) -> Vec<String> {
        for t in 0..ms / 20 {
            run(s, 1 + t * 20);
            if s.scripts.jobs.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        s.events.iter().map(|e| format!("{} {}", e.kind, e.msg)).collect()
    }

    #[test]
    fn failures_are_published() {
        let mut s = Sentinel::new(26379, 0);
        s.scripts.schedule("/bin/sh", vec!["-c".into(), "exit 3".into()]);
        s.scripts.schedule("/nonexistent/script.sh", vec![]);
        let ev = settle(&mut s, 5000);
        assert!(ev.contains(&"-script-error /bin/sh 0 3".to_string()), "{ev:?}");
        assert!(ev.contains(&"-script-error /nonexistent/script.sh 0 2".to_string()), "{ev:?}");

        let mut s = Sentinel::new(26379, 0);
        s.scripts.schedule("/bin/sh", vec!["-c".into(), "kill -9 $$".into()]);
        let ev = settle(&mut s, 5000);
        assert_eq!(ev, vec!["-script-error /bin/sh 9 0".to_string()]);

        let mut s = Sentinel::new(26379, 0);
        s.timing.script_max_runtime = 10;
        s.scripts.schedule("/bin/sleep", vec!["5".into()]);
        run(&mut s, 1);
        let pid = s.scripts.jobs[0].child.as_ref().map(|c| c.id()).unwrap_or(0);
        run(&mut s, 100);
        let ev: Vec<String> = s.events.iter().map(|e| format!("{} {}", e.kind, e.msg)).collect();
        assert_eq!(ev, vec![format!("-script-timeout /bin/sleep {pid}")]);
        assert!(s.scripts.jobs.is_empty());
    }

    #[test]
    fn queue_is_bounded_and_runs() {
        let mut s = Sentinel::new(26379, 0);
        for _ in 0..300 {
            s.scripts.schedule("/bin/sleep", vec!["5".into()]);
        }
        assert_eq!(s.scripts.jobs.len(), MAX_QUEUE);
        run(&mut s, 1);
        assert_eq!(s.scripts.running(), MAX_RUNNING);
        for j in &mut s.scripts.jobs {
            if let Some(c) = j.child.as_mut() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}
