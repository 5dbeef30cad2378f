//! Background I/O: the one helper thread DESIGN.md allows, for work that may
//! block on the disk for a long time and needs no server state (today the
//! AOF's `everysec` fsync and the close of an INCR file a rewrite replaced;
//! later the release of large values).
//!
//! Owns the worker thread, its job queue (a bounded `std::sync::mpsc`
//! channel, FIFO), the per-kind pending counters the reactor reads, and the
//! status of the last background fsync. It must not see the `Server`: a job
//! carries everything it needs (a `File` the caller duplicated with
//! `try_clone`), so the keyspace stays owned by the reactor alone and no lock
//! guards it. Results come back through atomics the cron reads.
//!
//! Mirrors Redis 7.0's bio.c (BIO_AOF_FSYNC, BIO_CLOSE_FILE, the pending
//! counts behind INFO `aof_pending_bio_fsync`, the fsync status behind
//! `aof_last_write_status`), with one worker for every kind instead of one
//! per kind: the jobs are rare (one fsync a second at most), and FIFO order
//! means a drain is one marker job.
//!
//! Fork: a forked child (BGSAVE, BGREWRITEAOF, full sync) holds only the
//! thread that called fork, so the worker does not exist there and the queue
//! may have been copied mid-operation; the child must never submit or drain.
//! [`Bio::submit`] runs the job in the calling thread when it finds itself in
//! another process, and [`Bio::drain`] returns at once there.
//!
//! Memory: the queue is a fixed ring allocated once with the worker, and jobs
//! own no heap memory, so nothing allocated by the reactor is freed by the
//! worker; `used_memory` (the reactor thread's jemalloc counters) stays right.

use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SendError, SyncSender};
use std::sync::Arc;

/// Slots in the job ring. At most one fsync is queued at a time and a
/// close per rewrite, so the ring never fills in practice; a full ring
/// makes `submit` wait for the worker rather than grow.
const QUEUE_SLOTS: usize = 64;

/// Work the background thread can do.
#[derive(Debug)]
pub enum Job {
    /// `fdatasync` the file; the outcome becomes [`Bio::fsync_error`].
    Fsync(File),
    /// Close the file, after an `fdatasync` (whose outcome is ignored) when
    /// `fsync` is set: the INCR file a rewrite switched away from.
    CloseFile {
        /// The file to close.
        file: File,
        /// Sync it first.
        fsync: bool,
    },
}

/// The kinds of job counted apart (Redis's bio job types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// [`Job::Fsync`].
    Fsync,
    /// [`Job::CloseFile`].
    CloseFile,
}

impl Job {
    fn kind(&self) -> JobKind {
        match self {
            Job::Fsync(_) => JobKind::Fsync,
            Job::CloseFile { .. } => JobKind::CloseFile,
        }
    }
}

enum Message {
    Job(Job),
    /// Answered once every job queued before it is done.
    Barrier,
}

/// State both threads see; only atomics, so neither ever waits on the other
/// to read it.
#[derive(Default)]
struct Shared {
    /// Queued or running jobs, by `JobKind as usize`.
    pending: [AtomicU64; 2],
    /// errno of the last background fsync, 0 when it succeeded.
    fsync_errno: AtomicI32,
    /// Set when the fsync status went from ok to failed; the cron takes it
    /// to log the failure once.
    fsync_failed_unlogged: AtomicBool,
}

struct Worker {
    jobs: SyncSender<Message>,
    barrier_done: Receiver<()>,
}

/// The reactor's handle on the background thread, started on the first job.
pub struct Bio {
    worker: Option<Worker>,
    spawn_failed: bool,
    shared: Arc<Shared>,
    /// The process that owns the worker (a forked child is another one).
    owner_pid: u32,
}

impl Default for Bio {
    fn default() -> Bio {
        Bio { worker: None, spawn_failed: false, shared: Arc::default(), owner_pid: std::process::id() }
    }
}

impl std::fmt::Debug for Bio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bio")
            .field("running", &self.worker.is_some())
            .field("pending_fsync", &self.pending(JobKind::Fsync))
            .field("pending_close", &self.pending(JobKind::CloseFile))
            .finish()
    }
}

impl Bio {
    /// Queues `job` for the worker (starting it on first use) and returns at
    /// once; the job counts as pending until it has run. Runs the job in the
    /// calling thread instead when no worker can exist: in a forked child,
    /// or after the thread could not be started (logged once).
    pub fn submit(&mut self, job: Job) {
        let kind = job.kind();
        self.shared.pending[kind as usize].fetch_add(1, Ordering::AcqRel);
        let job = match self.worker_here() {
            Some(w) => match w.jobs.send(Message::Job(job)) {
                Ok(()) => return,
                // The worker is gone (it cannot panic, but stay correct).
                Err(SendError(Message::Job(job))) => job,
                Err(SendError(Message::Barrier)) => return,
            },
            None => job,
        };
        run(&self.shared, job);
        self.shared.pending[kind as usize].fetch_sub(1, Ordering::AcqRel);
    }

    /// Jobs of `kind` queued or running (INFO `aof_pending_bio_fsync`).
    pub fn pending(&self, kind: JobKind) -> u64 {
        self.shared.pending[kind as usize].load(Ordering::Acquire)
    }

    /// Blocks until every job queued so far has run (Redis's drain of the
    /// bio queues): before SHUTDOWN exits and when the AOF is switched off,
    /// so no fsync is left behind and no late result lands on a later file.
    pub fn drain(&self) {
        if self.pending(JobKind::Fsync) + self.pending(JobKind::CloseFile) == 0 {
            return;
        }
        let Some(w) = self.worker.as_ref().filter(|_| std::process::id() == self.owner_pid) else { return };
        // FIFO: the barrier is answered after everything queued before it.
        if w.jobs.send(Message::Barrier).is_ok() {
            let _ = w.barrier_done.recv();
        }
    }

    /// The errno of the last background fsync while it failed (Redis's
    /// `aof_bio_fsync_status` and `aof_bio_fsync_errno`); a later successful
    /// fsync clears it.
    pub fn fsync_error(&self) -> Option<i32> {
        match self.shared.fsync_errno.load(Ordering::Acquire) {
            0 => None,
            e => Some(e),
        }
    }

    /// Forgets a failed background fsync (the AOF was switched on again).
    pub fn clear_fsync_error(&self) {
        self.shared.fsync_errno.store(0, Ordering::Release);
        self.shared.fsync_failed_unlogged.store(false, Ordering::Release);
    }

    /// The errno of a background fsync failure not reported yet: Some once
    /// per change from ok to failed, for the cron to log.
    pub fn take_new_fsync_failure(&self) -> Option<i32> {
        if self.shared.fsync_failed_unlogged.swap(false, Ordering::AcqRel) {
            Some(self.shared.fsync_errno.load(Ordering::Acquire)).filter(|&e| e != 0)
        } else {
            None
        }
    }

    /// The worker, started if needed; None in a forked child or when the
    /// thread cannot be started.
    fn worker_here(&mut self) -> Option<&Worker> {
        if std::process::id() != self.owner_pid {
            return None;
        }
        if self.worker.is_none() && !self.spawn_failed {
            match spawn(self.shared.clone()) {
                Ok(w) => self.worker = Some(w),
                Err(e) => {
                    self.spawn_failed = true;
                    log::warn!("Can't start the background I/O thread: {e}. Background jobs run in the main thread.");
                }
            }
        }
        self.worker.as_ref()
    }
}

fn spawn(shared: Arc<Shared>) -> std::io::Result<Worker> {
    let (jobs, queue) = sync_channel(QUEUE_SLOTS);
    let (done, barrier_done) = sync_channel(1);
    std::thread::Builder::new().name("bio".into()).spawn(move || {
        // SIGTERM and SIGINT belong to the reactor: taken here they would
        // not interrupt its poll.
        crate::reactor::signal::block_in_helper_thread();
        while let Ok(msg) = queue.recv() {
            match msg {
                Message::Job(job) => {
                    let kind = job.kind();
                    run(&shared, job);
                    shared.pending[kind as usize].fetch_sub(1, Ordering::AcqRel);
                }
                Message::Barrier => {
                    let _ = done.send(());
                }
            }
        }
    })?;
    Ok(Worker { jobs, barrier_done })
}

/// Does one job, in whichever thread calls it.
fn run(shared: &Shared, job: Job) {
    match job {
        Job::Fsync(file) => match file.sync_data() {
            // EINVAL: a special file (say /dev/null), nothing to sync.
            Err(e) if e.raw_os_error() != Some(libc::EINVAL) => {
                let errno = e.raw_os_error().unwrap_or(libc::EIO);
                if shared.fsync_errno.swap(errno, Ordering::AcqRel) == 0 {
                    shared.fsync_failed_unlogged.store(true, Ordering::Release);
                }
            }
            _ => shared.fsync_errno.store(0, Ordering::Release),
        },
        Job::CloseFile { file, fsync } => {
            if fsync {
                let _ = file.sync_data();
            }
            drop(file);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    fn temp_file(name: &str) -> (std::path::PathBuf, File) {
        let path = std::env::temp_dir().join(format!("viator-bio-{}-{name}", std::process::id()));
        let file = File::create(&path).expect("create temp file");
        (path, file)
    }

    /// A file whose fsync fails with EBADF (an O_PATH descriptor).
    fn unsyncable(path: &std::path::Path) -> File {
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_PATH).open(path).expect("open O_PATH")
    }

    #[test]
    fn a_queued_fsync_runs_on_the_worker_and_drain_waits_for_it() {
        let (path, mut file) = temp_file("run");
        let mut bio = Bio::default();
        // More jobs than the ring holds, each with new data to sync: a
        // drain that did not wait would find some still pending.
        for _ in 0..QUEUE_SLOTS * 2 {
            file.write_all(&[7u8; 4096]).unwrap();
            bio.submit(Job::Fsync(file.try_clone().unwrap()));
        }
        assert!(bio.worker.is_some(), "the worker started on the first job");
        bio.drain();
        assert_eq!(bio.pending(JobKind::Fsync), 0);
        assert_eq!(bio.fsync_error(), None);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn drain_waits_for_closes_too_and_returns_at_once_when_idle() {
        let (path, file) = temp_file("close");
        let mut bio = Bio::default();
        bio.drain();
        assert!(bio.worker.is_none(), "draining an idle queue starts nothing");
        bio.submit(Job::CloseFile { file, fsync: true });
        bio.drain();
        assert_eq!(bio.pending(JobKind::CloseFile), 0);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_failed_fsync_is_reported_once_and_a_later_success_clears_it() {
        let (path, file) = temp_file("fail");
        let mut bio = Bio::default();
        bio.submit(Job::Fsync(unsyncable(&path)));
        bio.submit(Job::Fsync(unsyncable(&path)));
        bio.drain();
        assert_eq!(bio.fsync_error(), Some(libc::EBADF));
        assert_eq!(bio.take_new_fsync_failure(), Some(libc::EBADF), "logged once");
        assert_eq!(bio.take_new_fsync_failure(), None);
        bio.submit(Job::Fsync(file));
        bio.drain();
        assert_eq!(bio.fsync_error(), None);
        bio.submit(Job::Fsync(unsyncable(&path)));
        bio.drain();
        assert_eq!(bio.take_new_fsync_failure(), Some(libc::EBADF), "a new failure is reported again");
        bio.clear_fsync_error();
        assert_eq!(bio.fsync_error(), None);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_foreign_process_runs_jobs_inline() {
        let (path, _file) = temp_file("inline");
        let mut bio = Bio { owner_pid: std::process::id().wrapping_add(1), ..Bio::default() };
        bio.submit(Job::Fsync(unsyncable(&path)));
        assert!(bio.worker.is_none(), "no worker outside the owning process");
        assert_eq!(bio.fsync_error(), Some(libc::EBADF), "ran in the calling thread");
        assert_eq!(bio.pending(JobKind::Fsync), 0);
        bio.drain();
        let _ = std::fs::remove_file(path);
    }
}
