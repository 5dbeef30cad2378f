//! Reading configuration: the line tokenizer, config files with `include`, and
//! the `viator-server` command line.
//!
//! Owns: `split_args` (redis.conf quoting), the loader that walks lines and feeds
//! directives to `value::set_directive`, include files (with glob patterns), and
//! `parse_startup`. Must not: render values or touch clients. It does touch the
//! process at start-up the way redis-server does: `dir` changes the working
//! directory while the file is read (so later relative paths follow it), standard
//! input is read for `-`, and a configured `logfile` is opened once to check it.
//!
//! Mirrors Redis 7.0 `sdssplitargs`, `loadServerConfigFromString`,
//! `loadServerConfig` and the argument handling of `main()` in `server.c`.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::table::{lookup, DirectiveFlags, DEPRECATED};
use super::value::{self, SetCtx};
use super::{Config, ConfigError, ConfigErrorKind, Startup};

/// Splits one config line into words, as redis.conf and inline commands do.
///
/// Words are separated by white space. `"..."` allows `\n \r \t \b \a \\ \"` and
/// `\xHH` escapes (any other escaped byte stands for itself); `'...'` allows only
/// `\'`. A closing quote must be followed by white space or the end of the line.
/// Returns `None` for unbalanced quotes. A NUL byte ends the line, as in C.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    // A config line is a C string to Redis: it ends at the first NUL.
    crate::util::split::split_args(value::cstr(line))
}

/// A config line without surrounding spaces, tabs, CR and LF.
pub(crate) fn trim_line(raw: &[u8]) -> &[u8] {
    let is_trim = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = raw.iter().position(|b| !is_trim(b)).unwrap_or(raw.len());
    let end = raw.iter().rposition(|b| !is_trim(b)).map_or(start, |e| e + 1);
    &raw[start..end]
}

/// Includes deeper than this are refused (Redis would recurse until it crashes).
const MAX_INCLUDE_DEPTH: usize = 64;

/// Reads config text into a [`Config`].
pub(crate) struct Loader {
    pub config: Config,
    ctx: SetCtx,
    /// Open a configured `logfile` after each text, as Redis does, to fail early.
    check_logfile: bool,
    depth: usize,
}

impl Loader {
    /// A loader starting from the defaults. `live` enables the process side effects
    /// of a real start-up (`dir` changes directory, `logfile` is opened).
    pub fn new(sentinel_mode: bool, live: bool) -> Self {
        let config = Config::defaults_for(sentinel_mode);
        Loader { config, ctx: SetCtx { chdir: live, ..SetCtx::default() }, check_logfile: live, depth: 0 }
    }

    /// Parses one config text. Line numbers in errors count from its first line.
    pub fn load_text(&mut self, text: &[u8]) -> Result<(), ConfigError> {
        self.ctx.reading_file = true;
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = trim_line(raw);
            if let Err(reason) = self.load_line(line) {
                return Err(match reason {
                    LineError::Reason(reason) => ConfigError {
                        kind: ConfigErrorKind::Directive,
                        line: Some(i + 1),
                        text: String::from_utf8_lossy(line).into_owned(),
                        reason,
                    },
                    LineError::Nested(e) => e,
                });
            }
        }
        let result = self.finish_text();
        // Like Redis, a finished include ends "reading a file" for the rest of the
        // including file too, so later `save` lines there replace the list again.
        self.ctx.reading_file = false;
        result
    }

    /// Checks Redis makes after each config text.
    fn finish_text(&mut self) -> Result<(), ConfigError> {
        let c = &mut self.config;
        if self.check_logfile && !c.logfile.is_empty() {
            let opened = std::fs::OpenOptions::new().append(true).create(true).open(&c.logfile);
            if let Err(e) = opened {
                // COMPAT: Redis's message.
                return Err(ConfigError::global(format!("Can't open the log file: {}", value::strerror(&e))));
            }
        }
        if c.cluster_enabled && c.replicaof.is_some() {
            return Err(ConfigError::global("replicaof directive not allowed in cluster mode".into()));
        }
        c.hz = c.hz.clamp(1, 500);
        Ok(())
    }

    fn load_line(&mut self, line: &[u8]) -> Result<(), LineError> {
        if line.is_empty() || line[0] == b'#' || line[0] == 0 {
            return Ok(());
        }
        // COMPAT: the reasons below are Redis's.
        let argv = split_args(line).ok_or_else(|| reason("Unbalanced quotes in configuration line"))?;
        if argv.is_empty() {
            return Ok(());
        }
        let name = argv[0].to_ascii_lowercase();
        if let Some(found) = lookup(&name) {
            let row = found.row();
            let multi = row.has(DirectiveFlags::MULTI_ARG);
            if !multi && argv.len() != 2 {
                return Err(reason("wrong number of arguments"));
            }
            let resplit;
            let args: &[Vec<u8>] = if multi && argv.len() == 2 && !argv[1].is_empty() {
                // `--save "900 1 300 10"` arrives as one word: split it again.
                resplit = split_args(&argv[1]).unwrap_or_default();
                &resplit
            } else {
                &argv[1..]
            };
            value::set_directive(&mut self.config, row, args, &mut self.ctx).map_err(LineError::Reason)?;
            if let Some(slot) = self.config.given.get_mut(found.index) {
                *slot = true;
            }
            return Ok(());
        }
        let argc = argv.len();
        if DEPRECATED.iter().any(|(n, lo, hi)| n.as_bytes() == name.as_slice() && *lo <= argc && argc <= *hi) {
            return Ok(());
        }
        let word = |i: usize| String::from_utf8_lossy(&argv[i]).into_owned();
        match name.as_slice() {
            b"include" if argc == 2 => {
                let pattern = word(1);
                self.include(&pattern).map_err(LineError::Nested)?;
            }
            b"rename-command" if argc == 3 => self.config.rename_commands.push((word(1), word(2))),
            b"user" if argc >= 2 => {
                let all_channels = self.config.acl_pubsub_default == super::AclPubsubDefault::Allchannels;
                crate::acl::validate_user_directive(&argv[1..], &self.config.users, all_channels)
                    .map_err(LineError::Reason)?;
                self.config.users.push((1..argc).map(word).collect())
            }
            b"loadmodule" if argc >= 2 => self.config.loadmodules.push((1..argc).map(word).collect()),
            _ if name.contains(&b'.') => {
                if argc < 2 {
                    return Err(reason("Module config specified without value"));
                }
                let key = word(0);
                let val = (1..argc).map(word).collect::<Vec<_>>().join(" ");
                match self.config.module_configs.iter_mut().find(|(k, _)| *k == key) {
                    Some(entry) => entry.1 = val,
                    None => self.config.module_configs.push((key, val)),
                }
            }
            b"sentinel" => {
                // A bare `sentinel` (from `--sentinel`) only selects the mode.
                if argc != 1 {
                    if !self.config.sentinel_mode {
                        return Err(reason("sentinel directive while not in sentinel mode"));
                    }
                    self.config.sentinel_lines.push((1..argc).map(word).collect());
                }
            }
            _ => return Err(reason("Bad directive or wrong number of arguments")),
        }
        Ok(())
    }

    /// `include path`: one file, or every file a glob pattern matches (read as one
    /// text, in sorted order; no match is not an error).
    fn include(&mut self, pattern: &str) -> Result<(), ConfigError> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(ConfigError::open_failed(pattern, "Too many levels of nested includes"));
        }
        let files = if pattern.contains(['*', '?', '[']) { glob_paths(pattern) } else { vec![PathBuf::from(pattern)] };
        if files.is_empty() {
            return Ok(());
        }
        let mut text = Vec::new();
        for f in &files {
            text.extend(read_config_file(f)?);
        }
        self.depth += 1;
        let result = self.load_text(&text);
        self.depth -= 1;
        result
    }

    /// Records options given on the command line or in files as "given" only; the
    /// caller then takes the config.
    pub fn into_config(self) -> Config {
        self.config
    }
}

enum LineError {
    /// The reason printed under the offending line.
    Reason(String),
    /// An error already fully described (from an included file).
    Nested(ConfigError),
}

fn reason(text: &str) -> LineError {
    LineError::Reason(text.to_string())
}

/// Reads a config file as Redis does through `fgets`: a NUL byte hides the rest of
/// its line.
fn read_config_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let bytes =
        std::fs::read(path).map_err(|e| ConfigError::open_failed(&path.to_string_lossy(), &value::strerror(&e)))?;
    Ok(drop_after_nul(bytes))
}

fn drop_after_nul(bytes: Vec<u8>) -> Vec<u8> {
    if !bytes.contains(&0) {
        return bytes;
    }
    let mut out = Vec::with_capacity(bytes.len());
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(value::cstr(line));
    }
    out
}

/// Paths matching a glob pattern, component by component, sorted. Like glob(3),
/// wildcards do not match a leading '.' unless the pattern starts with one.
fn glob_paths(pattern: &str) -> Vec<PathBuf> {
    let absolute = pattern.starts_with('/');
    let mut candidates: Vec<PathBuf> = vec![if absolute { PathBuf::from("/") } else { PathBuf::new() }];
    let parts: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty()).collect();
    for part in parts {
        let wild = part.contains(['*', '?', '[']);
        let mut next = Vec::new();
        for base in &candidates {
            if !wild {
                next.push(base.join(part));
                continue;
            }
            let dir = if base.as_os_str().is_empty() { Path::new(".") } else { base.as_path() };
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') || part.starts_with('.'))
                .filter(|n| crate::util::glob::string_match(part.as_bytes(), n.as_bytes(), false))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        candidates = next;
    }
    candidates.into_iter().filter(|p| std::fs::symlink_metadata(p).is_ok()).collect()
}

/// Redis's `getAbsolutePath`: trims white space; a relative path is joined to the
/// working directory, with leading `../` parts removed against it.
fn absolute_path(name: &str) -> Option<PathBuf> {
    let rel = name.trim_matches([' ', '\r', '\n', '\t']);
    if rel.starts_with('/') {
        return Some(PathBuf::from(rel));
    }
    let mut base = std::env::current_dir().ok()?.to_string_lossy().into_owned();
    if !base.ends_with('/') {
        base.push('/');
    }
    let mut rel = rel;
    while let Some(rest) = rel.strip_prefix("../") {
        rel = rest;
        if base.len() > 1 {
            let trimmed = &base[..base.len() - 1];
            let cut = trimmed.rfind('/').map_or(0, |p| p + 1);
            base.truncate(cut);
        }
    }
    base.push_str(rel);
    Some(PathBuf::from(base))
}

/// See [`super::parse_startup`]; `sentinel_exe` forces Sentinel mode (the binary
/// was started as `viator-sentinel`).
pub(crate) fn parse_startup_as(args: &[String], sentinel_exe: bool) -> Result<Startup, ConfigError> {
    let sentinel = sentinel_exe || args.iter().any(|a| a == "--sentinel");
    let Some(first) = args.first() else {
        return Ok(Startup::Run { config: Config::defaults_for(sentinel), config_file: None, sentinel });
    };
    match first.as_str() {
        "-v" | "--version" => return Ok(Startup::Version),
        "--help" | "-h" => return Ok(Startup::Help),
        "--test-memory" => {
            if args.len() == 2 {
                return Ok(Startup::TestMemory);
            }
            // COMPAT: redis-server's message.
            return Err(ConfigError {
                kind: ConfigErrorKind::Usage,
                line: None,
                text: String::new(),
                reason: "Please specify the amount of memory to test in megabytes.\n\
                         Example: ./redis-server --test-memory 4096\n"
                    .into(),
            });
        }
        _ => {}
    }

    let mut j = 0;
    let mut config_file = None;
    if !first.starts_with('-') {
        config_file = absolute_path(first);
        j = 1;
    }
    let (options, from_stdin) = options_text(args, j);

    let mut text = Vec::new();
    if let Some(path) = &config_file {
        text.extend(read_config_file(path)?);
    }
    if from_stdin {
        let mut input = Vec::new();
        std::io::stdin().read_to_end(&mut input).map_err(|e| ConfigError::open_failed("-", &value::strerror(&e)))?;
        text.extend(drop_after_nul(input));
    }
    text.push(b'\n');
    text.extend_from_slice(options.as_bytes());

    let mut loader = Loader::new(sentinel, true);
    loader.load_text(&text)?;
    Ok(Startup::Run { config: loader.into_config(), config_file, sentinel })
}

/// Turns `--name value ...` arguments (from index `j`) into config lines, the way
/// redis-server does, and reports whether `-` asked for standard input.
///
/// Each `--name` starts a line; following words are its quoted values. An option
/// given alone takes the next argument as its value even if that starts with `--`
/// (`--logfile --my--file`), except that `--save` and `--sentinel` followed by
/// another option take no value (`--save` then means `save ""`).
pub(crate) fn options_text(args: &[String], mut j: usize) -> (String, bool) {
    let mut options = String::new();
    let mut from_stdin = false;
    let mut last_has_value = true;
    let last = args.len().saturating_sub(1);
    while j < args.len() {
        let arg = &args[j];
        let next_is_option = j != last && args[j + 1].starts_with("--");
        if arg == "-" && (j == 0 || j == last) {
            from_stdin = true;
        } else if last_has_value && arg.starts_with("--") {
            if !options.is_empty() {
                options.push('\n');
            }
            options.push_str(&arg[2..]);
            options.push(' ');
            let words = split_args(arg.as_bytes()).map_or(0, |w| w.len());
            if words == 1 {
                // Only the name so far; the next argument is its value.
                last_has_value = false;
                if arg.eq_ignore_ascii_case("--save") && (j == last || next_is_option) {
                    options.push_str("\"\"");
                    last_has_value = next_is_option || last_has_value;
                } else if arg.eq_ignore_ascii_case("--sentinel") && next_is_option {
                    last_has_value = true;
                }
            } else {
                // `"--port 6380"`: name and value in one argument.
                last_has_value = true;
            }
        } else {
            options.push_str(&value::repr(arg.as_bytes()));
            options.push(' ');
            last_has_value = true;
        }
        j += 1;
    }
    (options, from_stdin)
}
