//! The process title (`set-proc-title`, `proc-title-template`): what `ps`
//! and /proc/<pid>/cmdline show for the server, as Redis's redisSetProcTitle.
//!
//! Owns one buffer that lives for the whole process, and points the
//! kernel's view of the command line at it with prctl(PR_SET_MM_ARG_START /
//! PR_SET_MM_ARG_END). That needs CAP_SYS_RESOURCE; without it the title
//! stays as the process was started (logged once at verbose level), which
//! changes nothing else. The original argument memory is never written.

use std::sync::Mutex;

/// Room for a title, NUL included.
const TITLE_MAX: usize = 1024;

/// The buffer the kernel reads the command line from once a title is set.
static BUFFER: Mutex<Option<&'static mut [u8]>> = Mutex::new(None);

/// Expands `template` for this server and installs it as the process
/// title. `config_file` is the absolute config path ("" when none).
pub fn set(cfg: &crate::config::Config, template: &str, config_file: &str) {
    if !cfg.set_proc_title {
        return;
    }
    let argv0 = std::env::args().next().unwrap_or_default();
    let Ok(title) = crate::config::expand_proc_title(cfg, template, &argv0, config_file) else { return };
    if let Err(e) = install(title.as_bytes()) {
        log::debug!("Can't set the process title: {e}");
    }
}

fn install(title: &[u8]) -> std::io::Result<()> {
    let mut guard = BUFFER.lock().map_err(|_| std::io::Error::other("title lock poisoned"))?;
    // Leaked once on purpose: the kernel keeps reading it for the life of
    // the process.
    let buf = guard.get_or_insert_with(|| Box::leak(vec![0u8; TITLE_MAX].into_boxed_slice()));
    let n = title.len().min(TITLE_MAX - 1);
    buf[..n].copy_from_slice(&title[..n]);
    buf[n..].fill(0);
    let start = buf.as_ptr() as libc::c_ulong;
    let end = start + n as libc::c_ulong + 1;
    // The kernel checks start <= end after each single change, so the order
    // depends on where the buffer lies relative to the current range.
    let set = |what: libc::c_int, addr: libc::c_ulong| -> std::io::Result<()> {
        // SAFETY: prctl(PR_SET_MM, ...) only records addresses; the buffer
        // they name is leaked (never freed), so the kernel never reads freed
        // memory through them.
        let r = unsafe { libc::prctl(libc::PR_SET_MM, what as libc::c_ulong, addr, 0 as libc::c_ulong, 0 as libc::c_ulong) };
        if r == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
    };
    if set(libc::PR_SET_MM_ARG_END, end).and_then(|_| set(libc::PR_SET_MM_ARG_START, start)).is_ok() {
        return Ok(());
    }
    set(libc::PR_SET_MM_ARG_START, start)?;
    set(libc::PR_SET_MM_ARG_END, end)
}
