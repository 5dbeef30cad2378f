//! The process title (`set-proc-title`, `proc-title-template`): what `ps`
//! and /proc/<pid>/cmdline show for the server, as Redis's redisSetProcTitle.
//!
//! Owns the memory the kernel shows as the command line: the argument
//! strings and, right after them, the environment strings the process
//! started with. `init` (first thing in main, while the process has one
//! thread) remembers the program name, moves the environment to memory the
//! C library allocates, and claims that area; `set` then writes titles into
//! it. Linux reads a command line whose last argument byte is no longer NUL
//! on into the environment area, so a title may be longer than the
//! original arguments.
//!
//! Must not: be used for anything but the title. After `init`,
//! `std::env::args()` sees the title rather than the arguments; callers
//! read the arguments before (main does) or use `program_name`.

use std::sync::{Mutex, OnceLock};

/// The claimed area: its address and length (the last byte stays NUL).
static AREA: Mutex<Option<(usize, usize)>> = Mutex::new(None);

/// argv[0] as the process was started.
static PROGRAM: OnceLock<String> = OnceLock::new();

/// Remembers the program name and claims the argument and environment
/// area for titles. Call once, before any other thread starts: it replaces
/// the environment. Does nothing where /proc/self/stat is unreadable.
pub fn init() {
    let program = std::env::args().next().unwrap_or_default();
    let _ = PROGRAM.set(program);
    let Some((start, end)) = command_line_area() else { return };
    let vars: Vec<_> = std::env::vars_os().collect();
    // SAFETY: clearenv only drops the C library's environment array (it
    // never frees the strings the kernel placed on the stack); the process
    // has a single thread here, so no getenv runs concurrently.
    if unsafe { libc::clearenv() } != 0 {
        return;
    }
    for (k, v) in vars {
        // Names setenv cannot take (empty, or holding '=' or NUL: the
        // kernel passes any string) are left out rather than aborting
        // start-up; `set_var` would panic on them.
        let name = k.as_encoded_bytes();
        if name.is_empty() || name.contains(&b'=') || name.contains(&0) || v.as_encoded_bytes().contains(&0) {
            continue;
        }
        // setenv copies each pair into memory the C library owns, so no
        // pointer into the area survives in `environ`.
        std::env::set_var(k, v);
    }
    if let Ok(mut area) = AREA.lock() {
        *area = Some((start, end - start));
    }
}

/// The program name the process was started with (argv[0]).
pub fn program_name() -> String {
    PROGRAM.get().cloned().unwrap_or_else(|| std::env::args().next().unwrap_or_default())
}

/// Expands `template` for this server and shows it as the process title.
/// `config_file` is the absolute config path ("" when none).
pub fn set(cfg: &crate::config::Config, template: &str, config_file: &str) {
    if !cfg.set_proc_title {
        return;
    }
    let Ok(title) = crate::config::expand_proc_title(cfg, template, &program_name(), config_file) else { return };
    write_title(title.as_bytes());
}

fn write_title(title: &[u8]) {
    let Ok(guard) = AREA.lock() else { return };
    let Some((start, len)) = *guard else { return };
    // SAFETY: [start, start + len) is the process's own argument and
    // environment strings, mapped writable for its whole life. After
    // `init` nothing holds a reference into it: std keeps only the argv
    // pointers (read into fresh Strings on demand) and the environment was
    // moved out. The lock makes this the only writer. Every string an old
    // argv pointer names stays NUL-terminated inside the area, because its
    // last byte is never written with anything but NUL.
    let area = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, len) };
    let n = title.len().min(len - 1);
    area[..n].copy_from_slice(&title[..n]);
    area[n..].fill(0);
}

/// The area from the first argument byte to the end of the environment
/// strings (or of the arguments, if the environment does not follow them
/// directly), from fields 48-51 of /proc/self/stat.
fn command_line_area() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces; the first of them is field 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<usize> = rest.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
    let field = |n: usize| fields.get(n - 3).copied().filter(|&v| v != 0);
    let (arg_start, arg_end) = (field(48)?, field(49)?);
    let end = match (field(50), field(51)) {
        (Some(env_start), Some(env_end)) if env_start == arg_end && env_end > env_start => env_end,
        _ => arg_end,
    };
    (end > arg_start + 1).then_some((arg_start, end))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_area_is_found_in_proc_stat() {
        let (start, end) = super::command_line_area().expect("/proc/self/stat");
        assert!(end > start);
    }
}
