//! SIGTERM / SIGINT as flags the server cron polls, as Redis's handlers only
//! set `shutdown_asap`. A signal also interrupts `epoll_wait`, so the loop
//! wakes at once.

use std::sync::atomic::{AtomicI32, Ordering};

static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    PENDING.store(sig, Ordering::SeqCst);
}

/// Installs the handlers for SIGTERM and SIGINT and ignores SIGPIPE (a closed
/// peer must surface as EPIPE on write, not kill the process).
pub fn install() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: sigaction with a zeroed struct, an empty mask and a handler
        // that only performs an atomic store is sound; the struct outlives the
        // call and no other thread races on signal dispositions at start-up.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = 0;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
    // SAFETY: setting SIGPIPE to SIG_IGN has no memory-safety requirements.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Takes the last signal received since the previous call (0: none).
pub fn take() -> i32 {
    PENDING.swap(0, Ordering::SeqCst)
}
