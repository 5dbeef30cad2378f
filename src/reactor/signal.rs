//! SIGTERM / SIGINT as flags the server cron polls, as Redis's handlers only
//! set `shutdown_asap`. A signal also interrupts `epoll_wait`, so the loop
//! wakes at once. A second SIGINT while a shutdown is already under way
//! (say, stuck in the final save) exits at once after removing the
//! foreground save's temp file, as Redis's "You insist... exiting now".

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::OnceLock;

static PENDING: AtomicI32 = AtomicI32::new(0);
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);
/// `temp-<pid>.rdb`, prepared before the handler can run (it must not
/// allocate).
static TEMP_RDB: OnceLock<CString> = OnceLock::new();

extern "C" fn on_signal(sig: libc::c_int) {
    let insist = sig == libc::SIGINT && (SHUTTING_DOWN.load(Ordering::SeqCst) || PENDING.load(Ordering::SeqCst) != 0);
    if insist {
        if let Some(name) = TEMP_RDB.get() {
            // SAFETY: unlink and _exit are async-signal-safe; `name` is a
            // NUL-terminated string initialised before the handler was installed.
            unsafe { libc::unlink(name.as_ptr()) };
        }
        // SAFETY: see above.
        unsafe { libc::_exit(1) };
    }
    // Only atomic operations otherwise: async-signal-safe.
    PENDING.store(sig, Ordering::SeqCst);
}

/// Tells the handler whether a shutdown is under way (a repeated SIGINT
/// then means "exit now").
pub fn set_shutting_down(on: bool) {
    SHUTTING_DOWN.store(on, Ordering::SeqCst);
}

/// Installs the handlers for SIGTERM and SIGINT and ignores SIGPIPE (a closed
/// peer must surface as EPIPE on write, not kill the process).
pub fn install() {
    let _ = TEMP_RDB.set(CString::new(format!("temp-{}.rdb", std::process::id())).unwrap_or_default());
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

/// Blocks SIGTERM and SIGINT in the calling helper thread (`crate::bio`),
/// so they are always delivered to the reactor's thread, whose poll they
/// interrupt.
pub fn block_in_helper_thread() {
    // SAFETY: sigemptyset/sigaddset fill a zeroed sigset_t we own, and
    // pthread_sigmask only changes the calling thread's mask; a null old-set
    // pointer is allowed.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Takes the last signal received since the previous call (0: none).
pub fn take() -> i32 {
    PENDING.swap(0, Ordering::SeqCst)
}
