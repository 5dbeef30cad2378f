//! Command-line options of viator-cli, parsed the way redis-cli 7.0 parses its own.
//!
//! redis-cli's rules are kept rather than a generic parser's: options come first and
//! the first word that does not start with `-` begins the command (so `SET k -1` needs
//! no `--`); `-h` is the host and is help only when it is the last word; numbers are
//! read like C's `atoi`/`atof`/`strtoll` (leading digits, else 0). The `--cluster*`
//! options are read by `cluster::parse_option`. Options redis-cli has and viator-cli
//! does not (`--latency`, `--pipe`, `--rdb`, ...) are refused with redis-cli's
//! "Unrecognized option" message.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use crate::format::Output;

/// The Redis version viator-cli speaks and reports, as redis-cli reports its own.
pub const REDIS_VERSION: &str = "7.0.15";

/// Everything the options decide.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: i32,
    /// `-s`: a unix socket path, used instead of host and port.
    pub socket: Option<String>,
    pub user: Option<Vec<u8>>,
    pub auth: Option<Vec<u8>>,
    /// `-n`: the database to SELECT after connecting.
    pub input_db: i32,
    pub cluster: bool,
    pub output: Output,
    /// `-r`: times to run the command; negative means forever.
    pub repeat: i64,
    /// `-i`: pause after each repetition, in microseconds.
    pub interval_us: u64,
    /// `-x`: append all of stdin as the last argument.
    pub stdin_lastarg: bool,
    /// `--eval`: a Lua script file to send with EVAL.
    pub eval: Option<String>,
    pub resp2: bool,
    pub resp3: bool,
    pub no_auth_warning: bool,
    /// `-e`: exit with status 1 (error text on stderr) when a command replies an error.
    pub set_errcode: bool,
    /// `-d`: separator between aggregate elements in raw output.
    pub mb_delim: Vec<u8>,
    /// `-D`: separator after each reply in raw output.
    pub cmd_delim: Vec<u8>,
    /// `--show-pushes`: print RESP3 pushes that arrive between replies.
    pub push_output: bool,
    /// `--quoted-input`: command arguments are in redis-cli's quoted form.
    pub quoted_input: bool,
    /// `--cluster <subcommand>` and the `--cluster-*` options.
    pub manager: crate::cluster::Options,
}

/// What parsing the command line asks for.
pub enum Parsed {
    /// Run with this configuration; the rest are the command words (may be empty).
    Run(Box<Config>, Vec<Vec<u8>>),
    /// Print this to stdout and exit 0 (`--help`, `-v`).
    Exit0(String),
    /// Print this to stderr and exit 1.
    Fail(String),
}

/// Parses `args` (without the program name). `stdout_is_tty` picks the default output
/// mode, as redis-cli does (the `FAKETTY` variable counts as a terminal).
pub fn parse(args: Vec<OsString>, stdout_is_tty: bool) -> Parsed {
    let args: Vec<Vec<u8>> = args.into_iter().map(OsStringExt::into_vec).collect();
    let mut c = Config {
        host: "127.0.0.1".to_string(),
        port: 6379,
        socket: None,
        user: None,
        auth: None,
        input_db: 0,
        cluster: false,
        output: if stdout_is_tty { Output::Standard } else { Output::Raw },
        repeat: 1,
        interval_us: 0,
        stdin_lastarg: false,
        eval: None,
        resp2: false,
        resp3: false,
        no_auth_warning: false,
        set_errcode: false,
        mb_delim: b"\n".to_vec(),
        cmd_delim: b"\n".to_vec(),
        push_output: stdout_is_tty,
        quoted_input: false,
        manager: Default::default(),
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut i = 0;
    while i < args.len() {
        match crate::cluster::parse_option(&args, i, &mut c.manager) {
            Some(Ok(taken)) => {
                i += taken;
                continue;
            }
            Some(Err(text)) => return Parsed::Fail(text),
            None => {}
        }
        let a = args[i].as_slice();
        let has_value = i + 1 < args.len();
        let value = args.get(i + 1).map(Vec::as_slice).unwrap_or(b"");
        let mut took = true;
        match a {
            b"-h" if has_value => c.host = text(value),
            b"-h" | b"--help" => return Parsed::Exit0(usage()),
            b"-x" => {
                c.stdin_lastarg = true;
                took = false;
            }
            b"-p" if has_value => c.port = atoi(value) as i32,
            b"-s" if has_value => c.socket = Some(text(value)),
            b"-r" if has_value => c.repeat = atoi(value),
            b"-i" if has_value => c.interval_us = (atof(value) * 1_000_000.0).max(0.0) as u64,
            b"-n" if has_value => c.input_db = atoi(value) as i32,
            b"-a" | b"--pass" if has_value => c.auth = Some(value.to_vec()),
            b"--user" if has_value => c.user = Some(value.to_vec()),
            b"-u" if has_value => {
                if let Err(e) = parse_uri(&text(value), &mut c) {
                    return Parsed::Fail(e);
                }
            }
            b"--eval" if has_value => c.eval = Some(text(value)),
            b"-d" if has_value => c.mb_delim = value.to_vec(),
            b"-D" if has_value => c.cmd_delim = value.to_vec(),
            b"--show-pushes" if has_value => {
                let v = value.first().map(u8::to_ascii_lowercase);
                match v {
                    Some(b'n') => c.push_output = false,
                    Some(b'y') => c.push_output = true,
                    // COMPAT: redis-cli's warning; parsing goes on.
                    _ => eprintln!("Unknown --show-pushes value '{}' (valid: '[y]es', '[n]o')", text(value)),
                }
            }
            _ => {
                took = false;
                match a {
                    b"--no-auth-warning" => c.no_auth_warning = true,
                    b"--raw" => c.output = Output::Raw,
                    b"--no-raw" => c.output = Output::Standard,
                    b"--quoted-input" => c.quoted_input = true,
                    b"-c" => c.cluster = true,
                    b"-e" => c.set_errcode = true,
                    b"-2" => c.resp2 = true,
                    b"-3" => c.resp3 = true,
                    b"-v" | b"--version" => return Parsed::Exit0(format!("viator-cli {}\n", version())),
                    _ if a.first() == Some(&b'-') => {
                        // COMPAT: redis-cli's message for unknown options.
                        return Parsed::Fail(format!("Unrecognized option or bad number of args for: '{}'", text(a)));
                    }
                    // The first word of the command: options end here.
                    _ => break,
                }
            }
        }
        i += if took { 2 } else { 1 };
    }
    if c.socket.is_some() && c.cluster {
        return Parsed::Fail("Options -c and -s are mutually exclusive.".into());
        // COMPAT
    }
    if c.resp2 && c.resp3 {
        return Parsed::Fail("Options -2 and -3 are mutually exclusive.".into());
        // COMPAT
    }
    let rest = args[i.min(args.len())..].to_vec();
    Parsed::Run(Box::new(c), rest)
}

/// The version line body: the Redis version spoken, then viator's own.
pub fn version() -> String {
    format!("{REDIS_VERSION} (viator {})", env!("CARGO_PKG_VERSION"))
}

/// Applies a `redis://[[user:]pass@]host[:port][/db]` URI to `c`, as redis-cli's `-u`.
fn parse_uri(uri: &str, c: &mut Config) -> Result<(), String> {
    let lower = uri.to_ascii_lowercase();
    let rest = if lower.starts_with("rediss://") {
        // COMPAT: redis-cli's text when built without TLS.
        return Err("rediss:// is only supported when viator-cli is compiled with OpenSSL".into());
    } else if lower.starts_with("redis://") {
        &uri["redis://".len()..]
    } else {
        return Err("Invalid URI scheme".into()); // COMPAT
    };
    if rest.is_empty() {
        return Ok(());
    }
    let mut rest = rest;
    if let Some(at) = rest.find('@') {
        let userinfo = &rest[..at];
        match userinfo.find(':') {
            Some(colon) => {
                c.user = Some(percent_decode(&userinfo[..colon]));
                c.auth = Some(percent_decode(&userinfo[colon + 1..]));
            }
            None => c.auth = Some(percent_decode(userinfo)),
        }
        rest = &rest[at + 1..];
    }
    if rest.is_empty() {
        return Ok(());
    }
    let (hostport, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], Some(&rest[slash + 1..])),
        None => (rest, None),
    };
    if !rest.starts_with('/') {
        match hostport.find(':') {
            Some(colon) => {
                c.port = atoi(&hostport.as_bytes()[colon + 1..]) as i32;
                c.host = hostport[..colon].to_string();
            }
            None => c.host = hostport.to_string(),
        }
    }
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        c.input_db = atoi(db.as_bytes()) as i32;
    }
    Ok(())
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// C's `atoi`/`strtoll` in base 10: optional blanks and sign, then leading digits;
/// anything else gives 0. Saturates instead of overflowing.
pub fn atoi(s: &[u8]) -> i64 {
    let s = trim_start(s);
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for &d in digits.iter().take_while(|d| d.is_ascii_digit()) {
        let d = i64::from(d - b'0');
        n = n.saturating_mul(10);
        n = if neg { n.saturating_sub(d) } else { n.saturating_add(d) };
    }
    n
}

/// C's `atof`: the longest leading prefix that is a number, else 0.
pub fn atof(s: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(trim_start(s)).into_owned();
    (1..=s.len()).rev().find_map(|n| s.get(..n).and_then(|p| p.parse::<f64>().ok())).unwrap_or(0.0)
}

fn trim_start(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(s.len());
    &s[start..]
}

/// The `--help` text. Options are redis-cli's; only those viator-cli implements appear.
pub fn usage() -> String {
    format!(
        "viator-cli {}

Usage: viator-cli [OPTIONS] [cmd [arg [arg ...]]]
  -h <hostname>      Server hostname (default: 127.0.0.1).
  -p <port>          Server port (default: 6379).
  -s <socket>        Server socket (overrides hostname and port).
  -a <password>      Password to use when connecting to the server.
                     The REDISCLI_AUTH environment variable can pass it more
                     safely (this argument wins if both are given).
  --user <username>  Used to send ACL style 'AUTH username pass'. Needs -a.
  --pass <password>  Alias of -a for consistency with the new --user option.
  -u <uri>           Server URI: redis://[[user:]password@]host[:port][/db].
  -r <repeat>        Execute specified command N times (negative: forever).
  -i <interval>      When -r is used, waits <interval> seconds per command.
                     Sub-second times like -i 0.1 work.
  -n <db>            Database number.
  -2                 Start session in RESP2 protocol mode.
  -3                 Start session in RESP3 protocol mode.
  -x                 Read last argument from STDIN.
  -d <delimiter>     Delimiter between response bulks for raw formatting (default: \\n).
  -D <delimiter>     Delimiter between responses for raw formatting (default: \\n).
  -c                 Enable cluster mode (follow -ASK and -MOVED redirections).
  -e                 Return exit error code when command execution fails.
  --raw              Use raw formatting for replies (default when STDOUT is
                     not a tty).
  --no-raw           Force formatted output even when STDOUT is not a tty.
  --quoted-input     Force input to be handled as quoted strings.
  --show-pushes <yn> Whether to print RESP3 PUSH messages. Enabled by default when
                     STDOUT is a tty but can be overridden with --show-pushes no.
  --eval <file>      Send an EVAL command using the Lua script at <file>.
  --no-auth-warning  Don't show warning message when using password on command
                     line interface.
  --help             Output this help and exit.
  --version          Output version and exit.

Examples:
  cat /etc/passwd | viator-cli -x set mypasswd
  viator-cli -r 100 lpush mylist x
  viator-cli -r 100 -i 1 info | grep used_memory_human:
  viator-cli --quoted-input set '\"null-\\x00-separated\"' value
  viator-cli --eval myscript.lua key1 key2 , arg1 arg2 arg3

  (Note: when using --eval the comma separates KEYS[] from ARGV[] items)

When no command is given, viator-cli starts in interactive mode.
Type \"help\" in interactive mode for information on available commands
and settings.

",
        version()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> (Config, Vec<String>) {
        let os = args.iter().map(OsString::from).collect();
        match parse(os, true) {
            Parsed::Run(c, rest) => (*c, rest.into_iter().map(|a| String::from_utf8(a).unwrap()).collect()),
            Parsed::Exit0(s) | Parsed::Fail(s) => panic!("unexpected exit: {s}"),
        }
    }

    #[test]
    fn options_then_command() {
        let (c, rest) = run(&["-p", "7001", "-n", "2", "-c", "--raw", "set", "k", "-1"]);
        assert_eq!(c.port, 7001);
        assert_eq!(c.input_db, 2);
        assert!(c.cluster);
        assert_eq!(c.output, Output::Raw);
        assert_eq!(rest, vec!["set", "k", "-1"]);
        let (c, rest) = run(&["-h", "10.0.0.1", "-i", "0.25", "-r", "-1"]);
        assert_eq!((c.host.as_str(), c.interval_us, c.repeat), ("10.0.0.1", 250_000, -1));
        assert!(rest.is_empty());
    }

    #[test]
    fn help_version_and_errors() {
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(matches!(parse(os(&["-h"]), true), Parsed::Exit0(_)));
        assert!(matches!(parse(os(&["--version"]), true), Parsed::Exit0(s) if s.starts_with("viator-cli 7.0.15")));
        match parse(os(&["--bogus"]), true) {
            Parsed::Fail(s) => assert_eq!(s, "Unrecognized option or bad number of args for: '--bogus'"),
            _ => panic!("accepted --bogus"),
        }
        assert!(matches!(parse(os(&["-c", "-s", "/tmp/s"]), true), Parsed::Fail(_)));
        // An option missing its value is unrecognized, as in redis-cli.
        assert!(matches!(parse(os(&["-p"]), true), Parsed::Fail(_)));
    }

    #[test]
    fn uri() {
        let (c, _) = run(&["-u", "redis://bob:p%40ss@example.com:7002/3"]);
        assert_eq!(c.host, "example.com");
        assert_eq!(c.port, 7002);
        assert_eq!(c.input_db, 3);
        assert_eq!(c.user.as_deref(), Some(&b"bob"[..]));
        assert_eq!(c.auth.as_deref(), Some(&b"p@ss"[..]));
        let (c, _) = run(&["-u", "redis://secret@h"]);
        assert_eq!((c.host.as_str(), c.port, c.auth.as_deref()), ("h", 6379, Some(&b"secret"[..])));
        let os = vec![OsString::from("-u"), OsString::from("http://x")];
        assert!(matches!(parse(os, true), Parsed::Fail(s) if s == "Invalid URI scheme"));
    }

    #[test]
    fn c_number_parsing() {
        assert_eq!(atoi(b"12ab"), 12);
        assert_eq!(atoi(b" -7"), -7);
        assert_eq!(atoi(b"x"), 0);
        assert_eq!(atof(b"0.5s"), 0.5);
        assert_eq!(atof(b"abc"), 0.0);
    }
}
