//! Reading, writing and rendering one directive's value, by kind.
//!
//! Owns: the number syntaxes (strict integers, memory units, percentages, octal),
//! yes/no, enum names, the hand-written directives (`save`, `bind`, `dir`,
//! `client-output-buffer-limit`, ...), Redis's quoted rendering of strings, and how
//! each kind is written back by CONFIG REWRITE. Must not: split lines, know about
//! files or clients.
//!
//! Mirrors the per-type set/get/rewrite functions of Redis 7.0 `config.c` and the
//! helpers it relies on (`string2ll`, `memtoull`, `strtoll`, `sdscatrepr`), including
//! their quirks: `maxmemory ""` is 0, `oom-score-adj relative` reads back as `yes`,
//! the first `save` line of a file replaces the defaults while later ones append.

use super::rewrite::RewriteState;
use super::table::{Directive, Kind, NumFormat, Special};
use super::types::{notify, ShutdownFlags};
use super::Config;

/// What a set needs to know about where the value came from.
#[derive(Debug, Default)]
pub(crate) struct SetCtx {
    /// True while reading a config file (Redis's `reading_config_file`).
    pub reading_file: bool,
    /// Whether some `save` line already replaced the default save points.
    pub save_loaded: bool,
    /// Whether `dir` really changes the process's working directory.
    pub chdir: bool,
}

/// Result of a set: whether the stored value changed (Redis's 1 versus 2).
pub(crate) type SetResult = Result<bool, String>;

/// The bytes of a C string: everything before the first NUL.
pub(crate) fn cstr(s: &[u8]) -> &[u8] {
    match s.iter().position(|&b| b == 0) {
        Some(end) => &s[..end],
        None => s,
    }
}

fn lossy(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

pub(crate) use crate::util::num::string2ll;

/// C `strtoll`: skips leading white space, takes an optional sign and the longest
/// run of digits in `base` (8 or 10). Returns the value (saturated), the index where
/// parsing stopped (0 when no digits were found) and whether it overflowed.
pub(crate) fn strtoll(s: &[u8], base: u32) -> (i64, usize, bool) {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: u64 = 0;
    let mut overflow = false;
    while i < s.len() {
        let d = match (s[i] as char).to_digit(base) {
            Some(d) => d,
            None => break,
        };
        match v.checked_mul(u64::from(base)).and_then(|x| x.checked_add(u64::from(d))) {
            Some(n) => v = n,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return (0, 0, false);
    }
    let limit = if negative { i64::MAX as u64 + 1 } else { i64::MAX as u64 };
    if overflow || v > limit {
        return (if negative { i64::MIN } else { i64::MAX }, i, true);
    }
    let value = if negative { (v as i64).wrapping_neg() } else { v as i64 };
    (value, i, false)
}

/// C `isspace` in the "C" locale.
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Memory amounts: digits followed by nothing, `b`, `k` (1000), `kb` (1024), `m`,
/// `mb`, `g` or `gb`, units in any case. `None` on a sign or an unknown unit. As
/// in Redis, an empty digit run reads as 0 and overflow wraps.
pub fn memtoull(s: &[u8]) -> Option<u64> {
    let s = cstr(s);
    if s.first() == Some(&b'-') {
        return None;
    }
    let digits_end = s.iter().position(|b| !b.is_ascii_digit()).unwrap_or(s.len());
    let unit = &s[digits_end..];
    let mul: u64 = match unit.to_ascii_lowercase().as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits_end >= 128 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in &s[..digits_end] {
        // strtoull saturates on overflow and Redis does not look at errno.
        v = v.checked_mul(10).and_then(|x| x.checked_add(u64::from(b - b'0'))).unwrap_or(u64::MAX);
    }
    Some(v.wrapping_mul(mul))
}

/// Redis's `sdscatrepr`: a double-quoted string with `\\ \" \n \r \t \a \b` escapes
/// and `\xHH` for other non-printable bytes.
pub fn repr(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// Splits a CONFIG SET value of a multi-argument directive on single spaces, as
/// Redis does: "" gives no arguments and "a  b" gives an empty middle one.
pub(crate) fn split_spaces(s: &[u8]) -> Vec<Vec<u8>> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split(|&b| b == b' ').map(<[u8]>::to_vec).collect()
}

/// Bytes as `1gb`, `3mb`, `2kb` when they divide evenly, else a plain number.
pub(crate) fn format_memory(bytes: i64) -> String {
    const KB: i64 = 1024;
    const MB: i64 = 1024 * 1024;
    const GB: i64 = 1024 * 1024 * 1024;
    if bytes != 0 && bytes % GB == 0 {
        format!("{}gb", bytes / GB)
    } else if bytes != 0 && bytes % MB == 0 {
        format!("{}mb", bytes / MB)
    } else if bytes != 0 && bytes % KB == 0 {
        format!("{}kb", bytes / KB)
    } else {
        bytes.to_string()
    }
}

/// `%f` with trailing zeros (and a trailing dot) removed: 99.9 -> "99.9", 50 -> "50".
pub(crate) fn format_percentile(v: f64) -> String {
    let mut s = format!("{v:.6}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

/// Redis's `string2d`: the whole string must be a number, no leading space, no NaN,
/// no overflow to infinity and no underflow to zero.
fn string2d(s: &[u8]) -> Option<f64> {
    if s.is_empty() || is_c_space(s[0]) {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let v: f64 = text.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let written_inf = lower.contains("inf");
    if v.is_infinite() && !written_inf {
        return None; // overflow (ERANGE)
    }
    if v == 0.0 && lower.bytes().take_while(|&b| b != b'e').any(|b| (b'1'..=b'9').contains(&b)) {
        return None; // underflow (ERANGE)
    }
    Some(v)
}

// COMPAT: every error string below is Redis 7.0's.
const WRONG_ARGS: &str = "wrong number of arguments";

/// Sets a directive from its arguments (the words after the name). For rows that
/// are not `MULTI_ARG` the caller guarantees exactly one argument.
pub(crate) fn set_directive(c: &mut Config, row: &Directive, args: &[Vec<u8>], ctx: &mut SetCtx) -> SetResult {
    let volatile = row.has(super::table::DirectiveFlags::VOLATILE);
    let first = args.first().map(Vec::as_slice).unwrap_or(b"");
    match row.kind {
        Kind::Bool { get, set, .. } => {
            let v = if first.eq_ignore_ascii_case(b"yes") {
                true
            } else if first.eq_ignore_ascii_case(b"no") {
                false
            } else {
                return Err("argument must be 'yes' or 'no'".into());
            };
            if get(c) != v {
                set(c, v);
                return Ok(true);
            }
            Ok(volatile)
        }
        Kind::Str { check, get, set, .. } => {
            // COMPAT: Redis keeps passwords as binary-safe strings (its "sds"
            // configs); every other string config is a C string.
            let binary_safe = matches!(row.name, "requirepass" | "masterauth" | "masteruser");
            let v = if binary_safe { lossy(first) } else { lossy(cstr(first)) };
            if let Some(check) = check {
                check(c, &v).map_err(String::from)?;
            }
            if get(c) != v {
                set(c, v);
                return Ok(true);
            }
            Ok(volatile)
        }
        Kind::Enum { names, get, set, .. } => {
            let bitflags = row.has(super::table::DirectiveFlags::MULTI_ARG);
            let v = enum_value(names, args, bitflags).ok_or_else(|| enum_error(names))?;
            if bitflags {
                let f = ShutdownFlags(v as u32);
                if f.contains(ShutdownFlags::SAVE) && f.contains(ShutdownFlags::NOSAVE) {
                    return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
                }
            }
            if get(c) != v {
                set(c, v);
                return Ok(true);
            }
            Ok(volatile)
        }
        Kind::Num { lower, upper, unsigned, format, get, set, .. } => {
            let v = parse_number(first, format)?;
            check_bounds(v, lower, upper, unsigned, format)?;
            let v = if row.name == "hz" { v.clamp(1, 500) } else { v };
            if get(c) != v {
                set(c, v);
                return Ok(true);
            }
            Ok(volatile)
        }
        Kind::Special(which) => set_special(c, which, args, ctx),
    }
}

/// OR of the codes named by `args`; `None` if one is unknown or the count is wrong.
fn enum_value(names: &[(&str, i32)], args: &[Vec<u8>], bitflags: bool) -> Option<i32> {
    if args.is_empty() || (!bitflags && args.len() != 1) {
        return None;
    }
    let mut v = 0;
    for arg in args {
        let mut matched = false;
        for (name, code) in names {
            if name.as_bytes().eq_ignore_ascii_case(arg) {
                v |= code;
                matched = true;
            }
        }
        if !matched {
            return None;
        }
    }
    Some(v)
}

fn enum_error(names: &[(&str, i32)]) -> String {
    let list: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
    let mut msg = format!("argument(s) must be one of the following: {}", list.join(", "));
    // Redis formats into a 256-byte buffer.
    msg.truncate(255);
    msg
}

/// The name(s) for an enum value; `unknown` when nothing fits.
pub(crate) fn enum_name(names: &[(&str, i32)], value: i32, bitflags: bool) -> String {
    let mut picked: Vec<&str> = Vec::new();
    let mut unmatched = value;
    for (name, code) in names {
        if *code == value {
            return (*name).to_string();
        }
        if bitflags && *code != 0 && *code == (unmatched & code) {
            picked.push(name);
            unmatched &= !code;
        }
    }
    if picked.is_empty() || unmatched != 0 {
        "unknown".to_string()
    } else {
        picked.join(" ")
    }
}

fn parse_number(s: &[u8], format: NumFormat) -> Result<i64, String> {
    let memory = matches!(format, NumFormat::Memory | NumFormat::MemoryOrPercent);
    if memory {
        if let Some(v) = memtoull(s) {
            return Ok(v as i64);
        }
    }
    if format == NumFormat::MemoryOrPercent && s.len() > 1 && s.ends_with(b"%") {
        if let Some(p) = string2ll(&s[..s.len() - 1]) {
            if p >= 0 {
                return Ok(-p);
            }
        }
    }
    match format {
        NumFormat::Octal => {
            let s = cstr(s);
            // As with C strtoll, "" parses as 0 with nothing left over.
            let (v, end, overflow) = strtoll(s, 8);
            if !overflow && end == s.len() {
                return Ok(v);
            }
            Err("argument couldn't be parsed as an octal number".into())
        }
        NumFormat::Integer => string2ll(s).ok_or_else(|| "argument couldn't be parsed into an integer".into()),
        NumFormat::Memory => Err("argument must be a memory value".into()),
        NumFormat::MemoryOrPercent => Err("argument must be a memory or percent value".into()),
    }
}

fn check_bounds(v: i64, lower: i64, upper: i64, unsigned: bool, format: NumFormat) -> Result<(), String> {
    if unsigned {
        let (x, lo, hi) = (v as u64, lower as u64, upper as u64);
        if x > hi || x < lo {
            return Err(if format == NumFormat::Octal {
                format!("argument must be between {lo:o} and {hi:o} inclusive")
            } else {
                format!("argument must be between {lo} and {hi} inclusive")
            });
        }
        return Ok(());
    }
    if format == NumFormat::MemoryOrPercent && v < 0 {
        if v < lower {
            return Err(format!("percentage argument must be less or equal to {}", lower.unsigned_abs()));
        }
        return Ok(());
    }
    if v > upper || v < lower {
        return Err(format!("argument must be between {lower} and {upper} inclusive"));
    }
    Ok(())
}

fn set_special(c: &mut Config, which: Special, args: &[Vec<u8>], ctx: &mut SetCtx) -> SetResult {
    match which {
        Special::Dir => {
            if args.len() != 1 {
                return Err(WRONG_ARGS.into());
            }
            c.dir = change_dir(&lossy(cstr(&args[0])), ctx.chdir)?;
            Ok(true)
        }
        Special::Save => set_save(c, args, ctx),
        Special::ClientOutputBufferLimit => set_output_buffer_limits(c, args),
        Special::OomScoreAdjValues => {
            if args.len() != 3 {
                return Err(WRONG_ARGS.into());
            }
            let mut values = [0i64; 3];
            for (slot, arg) in values.iter_mut().zip(args) {
                let arg = cstr(arg);
                let (v, end, _) = strtoll(arg, 10);
                if end != arg.len() || !(-2000..=2000).contains(&v) {
                    return Err("Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into());
                }
                *slot = v;
            }
            let changed = values != c.oom_score_adj_values;
            c.oom_score_adj_values = values;
            Ok(changed)
        }
        Special::NotifyKeyspaceEvents => {
            if args.len() != 1 {
                return Err(WRONG_ARGS.into());
            }
            let flags = notify::from_str(cstr(&args[0]))
                .ok_or_else(|| String::from("Invalid event class character. Use 'Ag$lshzxeKEtmdn'."))?;
            c.notify_keyspace_events = flags;
            Ok(true)
        }
        Special::Bind => {
            if args.len() > 16 {
                return Err("Too many bind addresses specified.".into());
            }
            c.bind = if args.len() == 1 && args[0].is_empty() {
                Vec::new()
            } else {
                args.iter().map(|a| lossy(cstr(a))).collect()
            };
            Ok(true)
        }
        Special::ReplicaOf => {
            if args.len() != 2 {
                return Err(WRONG_ARGS.into());
            }
            c.replicaof = None;
            if args[0].eq_ignore_ascii_case(b"no") && args[1].eq_ignore_ascii_case(b"one") {
                return Ok(true);
            }
            let port_text = cstr(&args[1]);
            let (port, end, _) = strtoll(port_text, 10);
            if end != port_text.len() || !(0..=65535).contains(&port) {
                return Err("Invalid master port".into());
            }
            c.replicaof = Some((lossy(&args[0]), port as u16));
            Ok(true)
        }
        Special::LatencyTrackingInfoPercentiles => {
            if args.len() == 1 && args[0].is_empty() {
                c.latency_tracking_info_percentiles = Vec::new();
                return Ok(true);
            }
            let mut values = Vec::with_capacity(args.len());
            for arg in args {
                let v = string2d(arg)
                    .ok_or_else(|| String::from("Invalid latency-tracking-info-percentiles parameters"))?;
                if !(0.0..=100.0).contains(&v) {
                    return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                }
                values.push(v);
            }
            c.latency_tracking_info_percentiles = values;
            Ok(true)
        }
    }
}

/// Resolves (and with `chdir`, enters) a working directory; returns its absolute
/// form, as `getcwd` would show it afterwards.
fn change_dir(path: &str, chdir: bool) -> Result<String, String> {
    if chdir {
        std::env::set_current_dir(path).map_err(|e| strerror(&e))?;
        let cwd = std::env::current_dir().map_err(|e| strerror(&e))?;
        return Ok(cwd.to_string_lossy().into_owned());
    }
    let abs = std::fs::canonicalize(path).map_err(|e| strerror(&e))?;
    if !abs.is_dir() {
        return Err(strerror(&std::io::Error::from_raw_os_error(libc::ENOTDIR)));
    }
    Ok(abs.to_string_lossy().into_owned())
}

/// The C library's text for an I/O error, without Rust's " (os error N)" suffix.
pub(crate) fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn set_save(c: &mut Config, args: &[Vec<u8>], ctx: &mut SetCtx) -> SetResult {
    let mut args = args;
    if args.len() == 1 && args[0].is_empty() {
        // `save ""` clears every save point, even in the middle of a file.
        c.save.clear();
        args = &[];
    }
    if !args.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    let mut points = Vec::with_capacity(args.len() / 2);
    for pair in args.chunks(2) {
        let (secs, secs_end, _) = strtoll(cstr(&pair[0]), 10);
        let (changes, changes_end, _) = strtoll(cstr(&pair[1]), 10);
        if secs_end != cstr(&pair[0]).len() || changes_end != cstr(&pair[1]).len() || secs < 1 || changes < 0 {
            return Err("Invalid save parameters".into());
        }
        // Redis keeps the change count in a C int.
        points.push((secs, i64::from(changes as i32)));
    }
    if !ctx.reading_file {
        c.save.clear();
    } else if !ctx.save_loaded {
        // The first `save` line read from a file replaces the built-in defaults;
        // later ones add to it.
        ctx.save_loaded = true;
        c.save.clear();
    }
    c.save.extend(points);
    Ok(true)
}

fn set_output_buffer_limits(c: &mut Config, args: &[Vec<u8>]) -> SetResult {
    if !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut updates = Vec::new();
    for group in args.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_slice() {
            b"normal" => 0,
            b"slave" | b"replica" => 1,
            b"pubsub" => 2,
            _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
        };
        let hard = memtoull(&group[1]);
        let soft = memtoull(&group[2]);
        let secs_text = cstr(&group[3]);
        let (secs, end, _) = strtoll(secs_text, 10);
        let secs = secs as i32; // a C int in Redis
        match (hard, soft) {
            (Some(hard), Some(soft)) if secs >= 0 && end == secs_text.len() => updates.push((
                class,
                super::types::BufferLimit {
                    hard_limit_bytes: hard,
                    soft_limit_bytes: soft,
                    soft_limit_seconds: i64::from(secs),
                },
            )),
            _ => {
                return Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into());
            }
        }
    }
    for (class, limit) in updates {
        *c.client_output_buffer_limit.by_index_mut(class) = limit;
    }
    Ok(true)
}

/// CONFIG GET's rendering of a directive's value.
pub(crate) fn render(c: &Config, row: &Directive) -> String {
    match row.kind {
        Kind::Bool { get, .. } => yes_no(get(c)).to_string(),
        Kind::Str { get, .. } => get(c).to_string(),
        Kind::Enum { names, get, .. } => enum_name(names, get(c), row.has(super::table::DirectiveFlags::MULTI_ARG)),
        Kind::Num { format, get, .. } => {
            let v = get(c);
            match format {
                NumFormat::MemoryOrPercent if v < 0 => format!("{}%", v.unsigned_abs()),
                NumFormat::Memory | NumFormat::MemoryOrPercent => (v as u64).to_string(),
                NumFormat::Octal => format!("{:o}", v as u64),
                NumFormat::Integer => v.to_string(),
            }
        }
        Kind::Special(which) => render_special(c, which),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn render_special(c: &Config, which: Special) -> String {
    match which {
        Special::Dir => c.dir.clone(),
        Special::Save => c.save.iter().map(|(s, n)| format!("{s} {n}")).collect::<Vec<_>>().join(" "),
        Special::ClientOutputBufferLimit => c
            .client_output_buffer_limit
            .classes()
            .iter()
            .map(|(name, _, l)| {
                format!("{} {} {} {}", name, l.hard_limit_bytes, l.soft_limit_bytes, l.soft_limit_seconds)
            })
            .collect::<Vec<_>>()
            .join(" "),
        Special::OomScoreAdjValues => c.oom_score_adj_values.iter().map(i64::to_string).collect::<Vec<_>>().join(" "),
        Special::NotifyKeyspaceEvents => notify::to_string(c.notify_keyspace_events),
        Special::Bind => c.bind.join(" "),
        Special::ReplicaOf => match &c.replicaof {
            Some((host, port)) => format!("{host} {port}"),
            None => String::new(),
        },
        Special::LatencyTrackingInfoPercentiles => {
            c.latency_tracking_info_percentiles.iter().map(|v| format_percentile(*v)).collect::<Vec<_>>().join(" ")
        }
    }
}

/// Writes a directive into the rewrite state the way CONFIG REWRITE does: lines are
/// forced (appended when absent) only when the value differs from the default,
/// except for the few directives Redis always writes (`save`, `dir`, ...).
pub(crate) fn rewrite_directive(c: &Config, row: &Directive, state: &mut RewriteState) {
    let name = row.name;
    match row.kind {
        Kind::Bool { default, get, .. } => {
            let v = get(c);
            state.rewrite_line(name, format!("{name} {}", yes_no(v)), v != default);
        }
        Kind::Str { default, empty_is_null, get, .. } => {
            let v = get(c);
            if empty_is_null && v.is_empty() {
                state.mark_processed(name);
                return;
            }
            rewrite_string(state, name, v, default);
        }
        Kind::Enum { names, default, get, .. } => {
            let v = get(c);
            let text = enum_name(names, v, row.has(super::table::DirectiveFlags::MULTI_ARG));
            state.rewrite_line(name, format!("{name} {text}"), v != default);
        }
        Kind::Num { default, format, get, .. } => {
            let v = get(c);
            let (line, force) = match format {
                NumFormat::MemoryOrPercent if v < 0 => {
                    let pct = v.unsigned_abs() as i64;
                    (format!("{name} {pct}%"), pct != default)
                }
                NumFormat::Memory | NumFormat::MemoryOrPercent => {
                    (format!("{name} {}", format_memory(v)), v != default)
                }
                NumFormat::Octal => (format!("{name} {:o}", v as u64), v != default),
                NumFormat::Integer => (format!("{name} {v}"), v != default),
            };
            state.rewrite_line(name, line, force);
        }
        Kind::Special(which) => rewrite_special(c, which, name, state),
    }
}

fn rewrite_string(state: &mut RewriteState, name: &str, value: &str, default: Option<&str>) {
    let force = default != Some(value);
    state.rewrite_line(name, format!("{name} {}", repr(value.as_bytes())), force);
}

fn rewrite_special(c: &Config, which: Special, name: &str, state: &mut RewriteState) {
    match which {
        Special::Dir => {
            if c.dir.is_empty() {
                state.mark_processed(name);
            } else {
                rewrite_string(state, name, &c.dir, None);
            }
        }
        Special::Save => {
            if c.sentinel_mode {
                state.mark_processed(name);
                return;
            }
            if c.save.is_empty() {
                state.rewrite_line(name, "save \"\"".to_string(), true);
            }
            for (secs, changes) in &c.save {
                state.rewrite_line(name, format!("save {secs} {changes}"), true);
            }
            state.mark_processed(name);
        }
        Special::ClientOutputBufferLimit => {
            let defaults = super::types::OutputBufferLimits::default().classes();
            for ((_, written, l), (_, _, d)) in c.client_output_buffer_limit.classes().iter().zip(defaults.iter()) {
                let line = format!(
                    "{name} {written} {} {} {}",
                    format_memory(l.hard_limit_bytes as i64),
                    format_memory(l.soft_limit_bytes as i64),
                    l.soft_limit_seconds
                );
                state.rewrite_line(name, line, l != d);
            }
        }
        Special::OomScoreAdjValues => {
            let v = c.oom_score_adj_values;
            let force = v != [0, 200, 800];
            state.rewrite_line(name, format!("{name} {} {} {}", v[0], v[1], v[2]), force);
        }
        Special::NotifyKeyspaceEvents => {
            let flags = notify::to_string(c.notify_keyspace_events);
            let line = format!("{name} {}", repr(flags.as_bytes()));
            state.rewrite_line(name, line, c.notify_keyspace_events != 0);
        }
        Special::Bind => {
            if c.bind.len() == 2 && c.bind[0] == "*" && c.bind[1] == "-::*" {
                state.mark_processed(name);
                return;
            }
            let addresses = if c.bind.is_empty() { "\"\"".to_string() } else { c.bind.join(" ") };
            state.rewrite_line(name, format!("{name} {addresses}"), true);
        }
        Special::ReplicaOf => match &c.replicaof {
            Some((host, port)) if !c.cluster_enabled => {
                state.rewrite_line(name, format!("{name} {host} {port}"), true);
            }
            _ => state.mark_processed(name),
        },
        Special::LatencyTrackingInfoPercentiles => {
            let values = render_special(c, which);
            let line = if values.is_empty() { format!("{name} \"\"") } else { format!("{name} {values}") };
            state.rewrite_line(name, line, true);
        }
    }
}

/// Applies a row's default value to `c` (specials are defaulted by `Config`).
pub(crate) fn apply_default(c: &mut Config, row: &Directive) {
    match row.kind {
        Kind::Bool { default, set, .. } => set(c, default),
        Kind::Str { default, set, .. } => set(c, default.unwrap_or("").to_string()),
        Kind::Enum { default, set, .. } => set(c, default),
        Kind::Num { default, set, .. } => set(c, default),
        Kind::Special(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_integers() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-1"), Some(-1));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(string2ll(b"9223372036854775808"), None);
        for bad in [&b""[..], b"-", b"+1", b" 1", b"1 ", b"01", b"-0", b"1a", b"0x10"] {
            assert_eq!(string2ll(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn memory_units() {
        assert_eq!(memtoull(b"1"), Some(1));
        assert_eq!(memtoull(b"1b"), Some(1));
        assert_eq!(memtoull(b"1k"), Some(1000));
        assert_eq!(memtoull(b"1K"), Some(1000));
        assert_eq!(memtoull(b"1kb"), Some(1024));
        assert_eq!(memtoull(b"1kB"), Some(1024));
        assert_eq!(memtoull(b"1m"), Some(1_000_000));
        assert_eq!(memtoull(b"1mb"), Some(1024 * 1024));
        assert_eq!(memtoull(b"1g"), Some(1_000_000_000));
        assert_eq!(memtoull(b"1GB"), Some(1 << 30));
        assert_eq!(memtoull(b"700mb"), Some(734_003_200));
        assert_eq!(memtoull(b""), Some(0), "Redis quirk: no digits reads as zero");
        assert_eq!(memtoull(b"kb"), Some(0));
        assert_eq!(memtoull(b"-1"), None);
        assert_eq!(memtoull(b"+1"), None);
        assert_eq!(memtoull(b"1 kb"), None);
        assert_eq!(memtoull(b"1tb"), None);
        assert_eq!(memtoull(b"99999999999999999999"), Some(u64::MAX));
    }

    #[test]
    fn c_strtoll() {
        assert_eq!(strtoll(b"  42", 10), (42, 4, false));
        assert_eq!(strtoll(b"+7x", 10), (7, 2, false));
        assert_eq!(strtoll(b"", 10), (0, 0, false));
        assert_eq!(strtoll(b"abc", 10), (0, 0, false));
        assert_eq!(strtoll(b"777", 8), (511, 3, false));
        assert_eq!(strtoll(b"8", 8), (0, 0, false));
        assert!(strtoll(b"99999999999999999999", 10).2);
    }

    #[test]
    fn repr_escapes() {
        assert_eq!(repr(b"a b"), "\"a b\"");
        assert_eq!(repr(b"q\"\\\n\r\t\x07\x08\x01\xff"), "\"q\\\"\\\\\\n\\r\\t\\a\\b\\x01\\xff\"");
    }

    #[test]
    fn memory_and_percentile_formatting() {
        assert_eq!(format_memory(0), "0");
        assert_eq!(format_memory(1024), "1kb");
        assert_eq!(format_memory(1536), "1536");
        assert_eq!(format_memory(64 << 20), "64mb");
        assert_eq!(format_memory(2 << 30), "2gb");
        assert_eq!(format_percentile(99.9), "99.9");
        assert_eq!(format_percentile(50.0), "50");
        assert_eq!(format_percentile(0.0), "0");
        assert_eq!(string2d(b"99.9"), Some(99.9));
        assert_eq!(string2d(b" 1"), None);
        assert_eq!(string2d(b"nan"), None);
        assert_eq!(string2d(b"1e-400"), None);
        assert_eq!(string2d(b"1e400"), None);
    }

    #[test]
    fn space_split() {
        assert!(split_spaces(b"").is_empty());
        assert_eq!(split_spaces(b"a  b"), vec![b"a".to_vec(), Vec::new(), b"b".to_vec()]);
    }
}
