//! Crash reports: on SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT the server
//! writes a bug report with a stack trace to its log and then dies of the
//! same signal, as Redis's sigsegvHandler does (operators and the test
//! suite look for "crashed by signal" and "STACK TRACE").
//!
//! Must not: try to keep running. Capturing a backtrace in a signal
//! handler is not async-signal-safe (it may allocate); like Redis, we
//! accept that risk because the process is dying anyway, and the log lock
//! is only tried, never waited for.

use std::sync::atomic::{AtomicBool, Ordering};

/// `crash-log-enabled`: whether the report is written.
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Follows `crash-log-enabled`.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        _ => "signal",
    }
}

extern "C" fn on_crash(sig: libc::c_int) {
    if ENABLED.load(Ordering::Relaxed) {
        let trace = std::backtrace::Backtrace::force_capture();
        let pid = std::process::id();
        let now = crate::logging::timestamp(crate::util::clock::unix_ms());
        // COMPAT: the marker lines of Redis's bug report.
        let report = format!(
            "\n\n=== REDIS BUG REPORT START: Cut & paste starting from here ===\n\
             {pid}:M {now} # Viator {} crashed by signal: {sig} ({})\n\n\
             ------ STACK TRACE ------\n{trace}\n\n\
             === REDIS BUG REPORT END. Make sure to include from START to END. ===\n",
            env!("CARGO_PKG_VERSION"),
            signal_name(sig)
        );
        crate::logging::write_raw_if_free(&report);
    }
    // SAFETY: restoring the default action and re-raising ends the process
    // with the original signal (core dump included), which is all we do here.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Installs the crash handlers (once, at start-up).
pub fn install() {
    for sig in [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL, libc::SIGABRT] {
        // SAFETY: sigaction with a zeroed struct, an empty mask and a valid
        // handler; SA_RESETHAND makes a crash inside the handler fatal at once.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_crash as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_NODEFER | libc::SA_RESETHAND;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// DEBUG SEGFAULT: crash the way a memory error would.
pub fn segfault() -> ! {
    // SAFETY: raising SIGSEGV on ourselves runs the crash handler above,
    // which ends the process.
    unsafe {
        libc::raise(libc::SIGSEGV);
    }
    std::process::abort()
}
