//! Notification and client-reconfiguration scripts.
//!
//! Owns the script queue: scripts are started in the background (at most 16
//! at once), killed after `script-max-runtime`, and retried up to 10 times
//! with a growing delay when they exit with status 1, as Redis's
//! sentinelRunPendingScripts / CollectTerminatedScripts do. Must not block
//! the reactor: children are polled with `try_wait` from the timer.

use std::process::{Child, Command, Stdio};

use super::{Addr, Sentinel};

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
pub fn run(s: &mut Sentinel, now: i64) {
    let max_runtime = s.timing.script_max_runtime;
    let retry_delay = s.timing.script_retry_delay;
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
                log::warn!("-script-error {} {e}", j.argv[0]);
                j.retry = MAX_RETRY;
            }
        }
    }
    sc.jobs.retain_mut(|j| {
        let Some(child) = j.child.as_mut() else { return j.retry < MAX_RETRY };
        match child.try_wait() {
            Ok(Some(st)) => {
                j.child = None;
                let code = st.code().unwrap_or(-1);
                if code == 1 && j.retry < MAX_RETRY {
                    // Retry later, waiting longer each time.
                    j.start_time = now + retry_delay * (1i64 << (j.retry.min(10) - 1));
                    true
                } else {
                    if code != 0 {
                        log::warn!("-script-error {} {code}", j.argv[0]);
                    }
                    false
                }
            }
            Ok(None) => {
                if now - j.start_time > max_runtime {
                    log::warn!("-script-timeout {}", j.argv[0]);
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
                true
            }
            Err(_) => false,
        }
    });
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
