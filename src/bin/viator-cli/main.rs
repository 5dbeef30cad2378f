//! viator-cli: a command-line client that behaves like redis-cli 7.0.
//!
//! Owns the session: options, one blocking connection (TCP or unix socket), the modes
//! (one-shot command, `--eval`, lines from a non-terminal stdin, and the interactive
//! prompt with history) and the printing of replies. The wire codec is
//! `viator::resp::value`; nothing else of the server crate is used.
//!
//! Mirrors redis-cli 7.0's observable behaviour: its option rules, output formats
//! (human when stdout is a terminal, raw otherwise), prompt (`host:port[db](TX)> `),
//! connection set-up (AUTH, SELECT, HELLO 3), cluster redirections with `-c`, MONITOR
//! and SUBSCRIBE streaming, its messages and its exit statuses. Note that, as in
//! redis-cli, an error reply does not change the exit status unless `-e` is given.
//!
//! `--cluster <subcommand>` hands the whole run to the cluster manager (`cluster.rs`).
//!
//! Not implemented: redis-cli's special modes (`--latency*`, `--stat`,
//! `--scan`, `--bigkeys`, `--pipe`, `--rdb`, `--replica`, `--ldb`), TLS, `--csv` and
//! `--json`, command hints and completion, and Ctrl-C returning to the prompt from
//! SUBSCRIBE/MONITOR (Ctrl-C ends the program there).

mod cluster;
mod conn;
mod format;
mod opts;

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::process::exit;
use std::time::{Duration, Instant};

use viator::resp::value::Value;

use conn::{Conn, ReadError};
use format::Output;
use opts::{Config, Parsed};

/// Redirections followed for one command before giving up (redis-cli has no bound;
/// a bound keeps a misconfigured cluster from looping forever).
const MAX_REDIRECTS: usize = 64;

/// The kind of the last reply read, which decides the prompt bookkeeping after
/// SELECT, MULTI, EXEC and DISCARD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    Error,
    Nil,
    Other,
}

/// One client session: the options, the connection, and redis-cli's session flags.
struct Session {
    cfg: Config,
    conn: Option<Conn>,
    /// Text of the connection failure to print as "Error: ..." after a command failed.
    conn_error: Option<String>,
    /// The database the connection is on.
    dbnum: i32,
    in_multi: bool,
    pre_multi_dbnum: i32,
    /// Set in the read-eval-print loop (prompt or stdin lines).
    interactive: bool,
    /// A MOVED/ASK named another node: reconnect there and send the command again.
    reissue: bool,
    /// The redirection was ASK: send ASKING before the command.
    send_asking: bool,
    shutdown: bool,
    monitor: bool,
    pubsub: bool,
    last: Last,
}

fn main() {
    let stdout_tty = io::stdout().is_terminal() || std::env::var_os("FAKETTY").is_some();
    let (mut cfg, rest) = match opts::parse(std::env::args_os().skip(1).collect(), stdout_tty) {
        Parsed::Run(cfg, rest) => (*cfg, rest),
        Parsed::Exit0(text) => {
            print!("{text}");
            exit(0);
        }
        Parsed::Fail(text) => {
            eprintln!("{text}");
            exit(1);
        }
    };
    if !cfg.no_auth_warning && cfg.auth.is_some() {
        // COMPAT: redis-cli's warning, printed for -a, --pass and -u alike.
        eprintln!("Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe.");
    }
    if cfg.auth.is_none() {
        // The variable never triggers the warning: that is its point.
        if let Some(pass) = std::env::var_os("REDISCLI_AUTH") {
            cfg.auth = Some(pass.into_vec());
        }
    }
    if cfg.manager.name.is_some() {
        exit(cluster::run(&cfg));
    }
    let eval = cfg.eval.clone();
    let mut s = Session::new(cfg);
    match eval {
        None if rest.is_empty() => {
            // The prompt starts even when the server is down; every command retries.
            s.connect(false, false);
            s.repl();
        }
        Some(ref file) => {
            if !s.connect(false, false) {
                exit(1);
            }
            exit(s.eval_mode(file, &rest));
        }
        None => {
            s.connect(false, true);
            exit(s.one_shot(rest));
        }
    }
}

impl Session {
    fn new(cfg: Config) -> Session {
        Session {
            cfg,
            conn: None,
            conn_error: None,
            dbnum: 0,
            in_multi: false,
            pre_multi_dbnum: 0,
            interactive: false,
            reissue: false,
            send_asking: false,
            shutdown: false,
            monitor: false,
            pubsub: false,
            last: Last::Other,
        }
    }

    /// `host:port[db](TX)> `, or `redis <socket>...` for a unix socket.
    fn prompt(&self) -> String {
        if self.conn.is_none() {
            return "not connected> ".to_string(); // COMPAT
        }
        let mut p = match &self.cfg.socket {
            Some(path) => format!("redis {path}"),
            None if self.cfg.host.contains(':') => format!("[{}]:{}", self.cfg.host, self.cfg.port),
            None => format!("{}:{}", self.cfg.host, self.cfg.port),
        };
        if self.dbnum != 0 {
            p.push_str(&format!("[{}]", self.dbnum));
        }
        if self.in_multi {
            p.push_str("(TX)");
        }
        p.push_str("> ");
        p
    }

    /// Opens the connection (again, if `force`) and runs AUTH, SELECT and HELLO 3 as
    /// configured. `quiet` suppresses the "Could not connect" message only. Returns
    /// false on any failure; a connection whose AUTH failed stays open, as redis-cli's
    /// does, so the command that follows gets the server's own error.
    fn connect(&mut self, force: bool, quiet: bool) -> bool {
        if self.conn.is_some() && !force {
            return true;
        }
        self.conn = None;
        self.dbnum = 0;
        self.in_multi = false;
        // After a redirection the named node is reached over TCP even with -s.
        let tcp = self.cfg.socket.is_none() || (self.cfg.cluster && self.reissue);
        let attempt = match (&self.cfg.socket, tcp) {
            (Some(path), false) => Conn::unix(path),
            _ => Conn::tcp(&self.cfg.host, self.cfg.port),
        };
        match attempt {
            Ok(c) => self.conn = Some(c),
            Err(e) => {
                if !quiet {
                    match (&self.cfg.socket, tcp) {
                        // COMPAT: redis-cli's connection failure lines.
                        (Some(path), false) => {
                            eprintln!("Could not connect to Redis at {path}: {e}")
                        }
                        _ => eprintln!("Could not connect to Redis at {}:{}: {e}", self.cfg.host, self.cfg.port),
                    }
                }
                return false;
            }
        }
        if let Some(pass) = self.cfg.auth.clone() {
            let user = self.cfg.user.clone();
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &user {
                args.push(user);
            }
            args.push(&pass);
            match self.setup_call(&args) {
                None => return false,
                Some(v) => {
                    if let Some(e) = v.error_text() {
                        eprintln!("AUTH failed: {}", String::from_utf8_lossy(e)); // COMPAT
                        return false;
                    }
                }
            }
        }
        if !self.select() {
            return false;
        }
        if self.cfg.resp3 && !self.cfg.resp2 {
            match self.setup_call(&[b"HELLO", b"3"]) {
                None => return false,
                Some(v) => {
                    if let Some(e) = v.error_text() {
                        eprintln!("HELLO 3 failed: {}", String::from_utf8_lossy(e)); // COMPAT
                        return false;
                    }
                }
            }
        }
        true
    }

    /// SELECTs the configured database if the connection is on another one.
    fn select(&mut self) -> bool {
        if self.cfg.input_db == self.dbnum {
            return true;
        }
        let db = self.cfg.input_db.to_string();
        match self.setup_call(&[b"SELECT", db.as_bytes()]) {
            None => false,
            Some(v) => {
                if let Some(e) = v.error_text() {
                    eprintln!("SELECT {db} failed: {}", String::from_utf8_lossy(e)); // COMPAT
                    return false;
                }
                self.dbnum = self.cfg.input_db;
                true
            }
        }
    }

    /// A set-up command's reply; `None` (after redis-cli's "I/O error" line) when the
    /// connection failed, which also drops it.
    fn setup_call(&mut self, args: &[&[u8]]) -> Option<Value> {
        let conn = self.conn.as_mut()?;
        match conn.call(args) {
            Ok(v) => Some(v),
            Err(_) => {
                eprintln!("\nI/O error"); // COMPAT
                self.conn = None;
                None
            }
        }
    }

    /// Runs one command line (already split), connecting first when needed and
    /// following cluster redirections. True when the command was sent and its
    /// replies read, whatever they were.
    fn issue(&mut self, argv: &[Vec<u8>], repeat: i64) -> bool {
        if argv.is_empty() {
            return true;
        }
        if eq(&argv[0], "help") || eq(&argv[0], "?") {
            self.help(&argv[1..]);
            return true;
        }
        let mut redirects = 0;
        loop {
            if (self.reissue || self.conn.is_none()) && !self.connect(true, false) {
                self.reissue = false;
                return false;
            }
            self.reissue = false;
            if self.send_asking {
                self.send_asking = false;
                match self.setup_call(&[b"ASKING"]) {
                    None => return false,
                    Some(v) => {
                        if let Some(e) = v.error_text() {
                            eprintln!("ASKING failed: {}", String::from_utf8_lossy(e)); // COMPAT
                            return false;
                        }
                    }
                }
            }
            if !self.send_command(argv, repeat) {
                if let Some(text) = self.conn_error.take() {
                    eprintln!("Error: {text}"); // COMPAT
                }
                self.conn = None;
                return false;
            }
            if self.cfg.cluster && self.reissue {
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    eprintln!("Error: Too many Cluster redirections?");
                    self.reissue = false;
                    return false;
                }
                continue;
            }
            return true;
        }
    }

    /// Sends `argv` `repeat` times (forever if negative), printing each reply, and
    /// keeps the prompt's view of db and transaction state current.
    fn send_command(&mut self, argv: &[Vec<u8>], mut repeat: i64) -> bool {
        let verbatim = prints_verbatim(argv);
        let name = argv[0].to_ascii_lowercase();
        match name.as_slice() {
            b"shutdown" => self.shutdown = true,
            b"monitor" => self.monitor = true,
            b"subscribe" | b"psubscribe" | b"ssubscribe" => self.pubsub = true,
            _ => {}
        }
        let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        while repeat != 0 {
            if repeat > 0 {
                repeat -= 1;
            }
            let Some(conn) = self.conn.as_mut() else {
                return false;
            };
            if let Err(e) = conn.send(&args) {
                if self.read_failed(ReadError::Io(e)).is_err() {
                    return false;
                }
                return true;
            }
            if self.monitor {
                while self.monitor {
                    if self.read_reply(verbatim).is_err() {
                        self.die_with_conn_error();
                    }
                    // An error reply to MONITOR ends the stream.
                    if self.last == Last::Error {
                        self.monitor = false;
                    }
                }
                return true;
            }
            if self.pubsub {
                if self.cfg.output != Output::Raw {
                    self.out(b"Reading messages... (press Ctrl-C to quit)\n"); // COMPAT
                }
                while self.pubsub {
                    if self.read_reply(verbatim).is_err() {
                        self.die_with_conn_error();
                    }
                    if self.last == Last::Error {
                        self.pubsub = false;
                    }
                }
                continue;
            }
            if self.read_reply(verbatim).is_err() {
                return false;
            }
            self.track_state(argv);
            if self.reissue {
                // The command goes to another node; repeating here would only
                // collect more redirections.
                break;
            }
            if self.cfg.interval_us > 0 {
                std::thread::sleep(Duration::from_micros(self.cfg.interval_us));
            }
        }
        true
    }

    /// The prompt bookkeeping redis-cli does after a reply: the selected db, AUTH's
    /// re-SELECT, and the MULTI/EXEC/DISCARD/RESET state.
    fn track_state(&mut self, argv: &[Vec<u8>]) {
        let ok = self.last != Last::Error;
        let cmd = &argv[0];
        if eq(cmd, "select") && argv.len() == 2 && ok {
            let db = opts::atoi(&argv[1]) as i32;
            self.cfg.input_db = db;
            self.dbnum = db;
        } else if eq(cmd, "auth") && (argv.len() == 2 || argv.len() == 3) {
            self.select();
        } else if eq(cmd, "multi") && argv.len() == 1 && ok {
            self.in_multi = true;
            self.pre_multi_dbnum = self.dbnum;
        } else if eq(cmd, "exec") && argv.len() == 1 && self.in_multi {
            self.in_multi = false;
            // A failed or aborted transaction did not run its SELECT.
            if matches!(self.last, Last::Error | Last::Nil) {
                self.cfg.input_db = self.pre_multi_dbnum;
                self.dbnum = self.pre_multi_dbnum;
            }
        } else if eq(cmd, "discard") && argv.len() == 1 && ok {
            self.in_multi = false;
            self.cfg.input_db = self.pre_multi_dbnum;
            self.dbnum = self.pre_multi_dbnum;
        } else if eq(cmd, "reset") && argv.len() == 1 && ok {
            self.in_multi = false;
            self.dbnum = 0;
            self.cfg.input_db = 0;
            self.cfg.resp3 = false;
        }
    }

    /// Reads one reply and prints it (or follows it, for a cluster redirection).
    /// Pushes that arrive first are printed (if enabled) and skipped, except while
    /// subscribed, where they are the replies.
    fn read_reply(&mut self, verbatim: bool) -> Result<(), ()> {
        let v = loop {
            let Some(conn) = self.conn.as_mut() else {
                return Err(());
            };
            match conn.read() {
                Ok(v @ Value::Push(_)) if !self.pubsub => self.print_push(&v),
                Ok(v) => break v,
                Err(e) => return self.read_failed(e),
            }
        };
        self.last = match &v {
            Value::Error(_) | Value::BulkError(_) => Last::Error,
            Value::Nil | Value::NilArray => Last::Nil,
            _ => Last::Other,
        };
        if self.cfg.cluster {
            if let Some((slot, host, port, ask)) = v.error_text().and_then(redirection) {
                if self.interactive {
                    // COMPAT: redis-cli's redirection notice.
                    self.out(format!("-> Redirected to slot [{slot}] located at {host}:{port}\n").as_bytes());
                }
                self.cfg.host = host;
                self.cfg.port = port;
                self.reissue = true;
                self.send_asking = ask;
                return Ok(());
            }
        }
        if !self.interactive && self.cfg.set_errcode {
            if let Some(e) = v.error_text() {
                eprintln!("{}", String::from_utf8_lossy(e));
                exit(1);
            }
        }
        let text = format::reply(&v, self.cfg.output, verbatim, &self.cfg.mb_delim, &self.cfg.cmd_delim);
        self.out(&text);
        Ok(())
    }

    fn print_push(&mut self, v: &Value) {
        if !self.cfg.push_output {
            return;
        }
        let text = match format::invalidated_keys(v) {
            Some(keys) if self.cfg.output == Output::Standard => format::invalidate_tty(&keys),
            _ => format::reply(v, self.cfg.output, false, &self.cfg.mb_delim, &self.cfg.cmd_delim),
        };
        self.out(&text);
    }

    /// A reply could not be read. After SHUTDOWN that is success. At the prompt a
    /// dropped connection is reported by the caller and retried by the next command;
    /// anywhere else it ends the program, as in redis-cli.
    fn read_failed(&mut self, e: ReadError) -> Result<(), ()> {
        if self.shutdown {
            self.conn = None;
            return Ok(());
        }
        if self.interactive && e.is_disconnect() {
            self.conn_error = Some(e.text());
            return Err(());
        }
        eprintln!("Error: {}", e.text()); // COMPAT
        exit(1);
    }

    fn die_with_conn_error(&mut self) -> ! {
        if let Some(text) = self.conn_error.take() {
            eprintln!("Error: {text}");
        }
        exit(1);
    }

    /// Writes to stdout and flushes, so output interleaves correctly with pipes and
    /// `grep`. A closed stdout ends the program quietly.
    fn out(&self, bytes: &[u8]) {
        let mut o = io::stdout().lock();
        if o.write_all(bytes).and_then(|_| o.flush()).is_err() {
            exit(1);
        }
    }

    /// The command given on the command line (plus stdin with -x). Exit status 0
    /// unless the server could not be reached or the connection failed.
    fn one_shot(&mut self, words: Vec<Vec<u8>>) -> i32 {
        let mut argv = Vec::with_capacity(words.len() + 1);
        for w in words {
            if self.cfg.quoted_input {
                match viator::util::split::split_args(&w) {
                    Some(mut one) if one.len() == 1 => argv.push(one.remove(0)),
                    _ => {
                        self.out(b"Invalid quoted string\n"); // COMPAT
                        return 1;
                    }
                }
            } else {
                argv.push(w);
            }
        }
        if self.cfg.stdin_lastarg {
            let mut all = Vec::new();
            if let Err(e) = io::stdin().lock().read_to_end(&mut all) {
                eprintln!("Reading from standard input: {}", conn::io_text(&e));
                exit(1);
            }
            argv.push(all);
        }
        if self.issue(&argv, self.cfg.repeat) {
            0
        } else {
            1
        }
    }

    /// `--eval file key ... , arg ...`: EVAL with the file's text, the words before
    /// the first lone comma as keys and the rest as arguments.
    fn eval_mode(&mut self, file: &str, words: &[Vec<u8>]) -> i32 {
        let script = match std::fs::read(file) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("Can't open file '{file}': {}", conn::io_text(&e)); // COMPAT
                exit(1);
            }
        };
        let comma = words.iter().position(|w| w == b",");
        let (keys, args) = match comma {
            Some(at) => (&words[..at], &words[at + 1..]),
            None => (words, &[][..]),
        };
        let mut argv = vec![b"EVAL".to_vec(), script, keys.len().to_string().into_bytes()];
        argv.extend(keys.iter().cloned());
        argv.extend(args.iter().cloned());
        if self.issue(&argv, self.cfg.repeat) {
            0
        } else {
            1
        }
    }

    /// The read-eval-print loop: the prompt with history when stdin is a terminal,
    /// otherwise one command per stdin line with no prompt. Ends the program.
    fn repl(&mut self) -> ! {
        self.interactive = true;
        let mut editor = if io::stdin().is_terminal() { rustyline::DefaultEditor::new().ok() } else { None };
        let history = if editor.is_some() { history_path() } else { None };
        if let (Some(ed), Some(path)) = (editor.as_mut(), &history) {
            let _ = ed.load_history(path);
        }
        let mut stdin = io::stdin().lock();
        loop {
            let line: Vec<u8> = match editor.as_mut() {
                Some(ed) => match ed.readline(&self.prompt()) {
                    Ok(l) => l.into_bytes(),
                    // Ctrl-C and Ctrl-D at the prompt end the session, as in redis-cli.
                    Err(_) => break,
                },
                None => {
                    let mut l = Vec::new();
                    match stdin.read_until(b'\n', &mut l) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if l.last() == Some(&b'\n') {
                                l.pop();
                            }
                            l
                        }
                    }
                }
            };
            if line.is_empty() {
                continue;
            }
            let remember = |ed: &mut Option<rustyline::DefaultEditor>| {
                if let Some(ed) = ed.as_mut() {
                    let _ = ed.add_history_entry(String::from_utf8_lossy(&line).as_ref());
                    if let Some(path) = &history {
                        let _ = ed.save_history(path);
                    }
                }
            };
            let Some(argv) = viator::util::split::split_args(&line) else {
                self.out(b"Invalid argument(s)\n"); // COMPAT
                remember(&mut editor);
                continue;
            };
            if argv.is_empty() {
                continue;
            }
            // A leading number is a repeat count: "5 INCR x".
            let mut repeat = 1;
            let mut skip = 0;
            if argv.len() > 1 {
                if let Some(n) = repeat_count(&argv[0]) {
                    match n {
                        Some(n) if n > 0 => {
                            repeat = n;
                            skip = 1;
                        }
                        _ => {
                            self.out(b"Invalid redis-cli repeat command option value.\n"); // COMPAT
                            continue;
                        }
                    }
                }
            }
            if !is_sensitive(&argv[skip..]) {
                remember(&mut editor);
            }
            let first = &argv[0];
            if eq(first, "quit") || eq(first, "exit") {
                exit(0);
            } else if first.first() == Some(&b':') {
                self.set_preference(&argv);
            } else if eq(first, "restart") {
                self.out(b"Use 'restart' only in Lua debugging mode.\n"); // COMPAT
            } else if argv.len() == 3 && eq(first, "connect") {
                self.cfg.host = String::from_utf8_lossy(&argv[1]).into_owned();
                self.cfg.port = opts::atoi(&argv[2]) as i32;
                self.connect(true, false);
            } else if argv.len() == 1 && eq(first, "clear") {
                if let Some(ed) = editor.as_mut() {
                    let _ = ed.clear_screen();
                }
            } else {
                let start = Instant::now();
                self.issue(&argv[skip..], repeat);
                let elapsed = start.elapsed();
                if elapsed >= Duration::from_millis(500) && self.cfg.output == Output::Standard {
                    self.out(format!("({:.2}s)\n", elapsed.as_secs_f64()).as_bytes());
                }
            }
        }
        exit(0);
    }

    /// `:set hints` / `:set nohints` are accepted (hints are not shown by viator-cli);
    /// anything else gets redis-cli's complaint.
    fn set_preference(&mut self, argv: &[Vec<u8>]) {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let msg = if eq(&argv[0], ":set") && argv.len() >= 2 {
            if eq(&argv[1], "hints") || eq(&argv[1], "nohints") {
                return;
            }
            format!("unknown redis-cli preference '{}'\n", text(&argv[1])) // COMPAT
        } else {
            format!("unknown redis-cli internal command '{}'\n", text(&argv[0]))
            // COMPAT
        };
        self.out(msg.as_bytes());
    }

    /// `help`: the generic text; `help <command...>` or `help @<group>`: the matching
    /// entries of the server's COMMAND DOCS (name, arguments, summary, since, group).
    fn help(&mut self, topic: &[Vec<u8>]) {
        if topic.is_empty() {
            let text = format!(
                "viator-cli {}\n\
                 To get help about Redis commands type:\n      \
                 \"help @<group>\" to get a list of commands in <group>\n      \
                 \"help <command>\" for help on <command>\n      \
                 \"quit\" to exit\n\n",
                opts::version()
            );
            self.out(text.as_bytes());
            return;
        }
        if self.conn.is_none() && !self.connect(false, true) {
            self.out(b"\r\n");
            return;
        }
        let docs = match self.conn.as_mut().map(|c| c.call(&[b"COMMAND".as_slice(), b"DOCS"])) {
            Some(Ok(v)) => v,
            Some(Err(_)) => {
                self.conn = None;
                return;
            }
            None => return,
        };
        let mut entries = Vec::new();
        help_entries(&docs, None, &mut entries);
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let group = topic[0].strip_prefix(b"@").map(|g| g.to_ascii_lowercase());
        let mut text = Vec::new();
        for e in &entries {
            let show = match &group {
                Some(g) => e.group.as_bytes().eq_ignore_ascii_case(g),
                None => {
                    let words: Vec<&str> = e.name.split(' ').collect();
                    topic.len() <= words.len()
                        && topic.iter().zip(&words).all(|(t, w)| t.eq_ignore_ascii_case(w.as_bytes()))
                }
            };
            if show {
                text.extend_from_slice(
                    format!(
                        "\r\n  \x1b[1m{}\x1b[0m \x1b[90m{}\x1b[0m\r\n  \x1b[33msummary:\x1b[0m {}\r\n",
                        e.name, e.params, e.summary
                    )
                    .as_bytes(),
                );
                if !e.since.is_empty() {
                    text.extend_from_slice(format!("  \x1b[33msince:\x1b[0m {}\r\n", e.since).as_bytes());
                }
                if group.is_none() {
                    text.extend_from_slice(format!("  \x1b[33mgroup:\x1b[0m {}\r\n", e.group).as_bytes());
                }
            }
        }
        text.extend_from_slice(b"\r\n");
        self.out(&text);
    }
}

/// One command's help, from COMMAND DOCS.
struct HelpEntry {
    /// Upper case, a container and its subcommand separated by a space.
    name: String,
    params: String,
    summary: String,
    since: String,
    group: String,
}

/// Collects help entries from a COMMAND DOCS reply (a map in RESP3, a flat array of
/// name/doc pairs in RESP2), subcommands included.
fn help_entries(docs: &Value, parent: Option<&str>, out: &mut Vec<HelpEntry>) {
    for (name, doc) in pairs_of(docs) {
        let Some(name) = name.as_bytes() else {
            continue;
        };
        let name = String::from_utf8_lossy(name).to_uppercase();
        // Subcommands are reported as "container|sub".
        let name = match parent {
            Some(_) => name.replace('|', " "),
            None => name,
        };
        let field =
            |key: &str| pairs_of(doc).into_iter().find(|(k, _)| k.as_bytes() == Some(key.as_bytes())).map(|(_, v)| v);
        let text = |key: &str| {
            field(key).and_then(Value::as_bytes).map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default()
        };
        let params = field("arguments").map(arguments_text).unwrap_or_default();
        out.push(HelpEntry {
            params,
            summary: text("summary"),
            since: text("since"),
            group: text("group"),
            name: name.clone(),
        });
        if let Some(subs) = field("subcommands") {
            help_entries(subs, Some(&name), out);
        }
    }
}

/// The key/value pairs of a map, or of a flat RESP2 array read two by two.
fn pairs_of(v: &Value) -> Vec<(&Value, &Value)> {
    match v {
        Value::Map(pairs) => pairs.iter().map(|(k, v)| (k, v)).collect(),
        Value::Array(items) => items.chunks_exact(2).map(|p| (&p[0], &p[1])).collect(),
        _ => Vec::new(),
    }
}

/// The argument synopsis redis-cli builds from COMMAND DOCS: `key [EX seconds|PX ...]`.
fn arguments_text(args: &Value) -> String {
    let items: Vec<String> = match args {
        Value::Array(list) => list.iter().map(argument_text).collect(),
        _ => Vec::new(),
    };
    items.join(" ")
}

fn argument_text(arg: &Value) -> String {
    let field =
        |key: &str| pairs_of(arg).into_iter().find(|(k, _)| k.as_bytes() == Some(key.as_bytes())).map(|(_, v)| v);
    let text = |key: &str| field(key).and_then(Value::as_bytes).map(|b| String::from_utf8_lossy(b).into_owned());
    // An empty name or token shows as "" so that it stays visible.
    let or_empty = |s: String| if s.is_empty() { "\"\"".to_string() } else { s };
    let flags: Vec<String> = match field("flags") {
        Some(Value::Array(f)) | Some(Value::Set(f)) => {
            f.iter().filter_map(Value::as_bytes).map(|b| String::from_utf8_lossy(b).into_owned()).collect()
        }
        _ => Vec::new(),
    };
    let has = |f: &str| flags.iter().any(|x| x == f);
    let kind = text("type").unwrap_or_default();
    let mut token = text("token").map(or_empty).unwrap_or_default();
    let nested = |sep: &str| match field("arguments") {
        Some(Value::Array(list)) => list.iter().map(argument_text).collect::<Vec<_>>().join(sep),
        _ => String::new(),
    };
    let repeat = match kind.as_str() {
        "oneof" => nested("|"),
        "block" => nested(" "),
        "pure-token" => String::new(),
        _ => or_empty(text("name").unwrap_or_default()),
    };
    if !token.is_empty() && kind != "pure-token" {
        token.push(' ');
    }
    let mut out = format!("{token}{repeat}");
    if has("multiple") {
        let again = if has("multiple_token") { format!("{token}{repeat}") } else { repeat.clone() };
        out = format!("{out} [{again} ...]");
    }
    if has("optional") {
        out = format!("[{out}]");
    }
    out
}

/// Parses a `MOVED <slot> <host>:<port>` or `ASK ...` error into (slot, host, port,
/// is_ask). `None` for any other error, or a malformed one.
fn redirection(err: &[u8]) -> Option<(i64, String, i32, bool)> {
    let text = std::str::from_utf8(err).ok()?;
    let (ask, rest) = if let Some(r) = text.strip_prefix("MOVED ") {
        (false, r)
    } else if let Some(r) = text.strip_prefix("ASK ") {
        (true, r)
    } else {
        return None;
    };
    let (slot, addr) = rest.split_once(' ')?;
    let (host, port) = addr.rsplit_once(':')?;
    Some((opts::atoi(slot.as_bytes()), host.to_string(), opts::atoi(port.as_bytes()) as i32, ask))
}

/// A leading repeat count at the prompt: `None` if `word` is not a number at all,
/// `Some(None)` if it is one that does not fit, `Some(Some(n))` otherwise. Like C's
/// `strtol`, an empty word counts as the number 0.
fn repeat_count(word: &[u8]) -> Option<Option<i64>> {
    let t = word.iter().position(|c| !c.is_ascii_whitespace()).map_or(&word[word.len()..], |i| &word[i..]);
    let digits = t.strip_prefix(b"-").or(t.strip_prefix(b"+")).unwrap_or(t);
    if word.is_empty() {
        return Some(Some(0));
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(std::str::from_utf8(t).ok().and_then(|s| s.parse::<i64>().ok()))
}

/// Commands whose reply is a text block printed as is, in any output mode.
fn prints_verbatim(argv: &[Vec<u8>]) -> bool {
    let n = argv.len();
    let arg = |i: usize, s: &str| argv.get(i).is_some_and(|a| eq(a, s));
    let cmd = |s: &str| arg(0, s);
    cmd("info")
        || cmd("lolwut")
        || (n >= 2 && cmd("debug") && (arg(1, "htstats") || arg(1, "htstats-key") || arg(1, "client-eviction")))
        || (n >= 2 && cmd("memory") && (arg(1, "malloc-stats") || arg(1, "doctor")))
        || (n == 2 && cmd("cluster") && (arg(1, "nodes") || arg(1, "info")))
        || (n >= 2 && cmd("client") && (arg(1, "list") || arg(1, "info")))
        || (n == 3 && cmd("latency") && arg(1, "graph"))
        || (n == 2 && cmd("latency") && arg(1, "doctor"))
        || (n >= 2 && cmd("proxy") && arg(1, "info"))
}

/// Commands kept out of the history file because they carry secrets: AUTH, ACL
/// SETUSER, CONFIG SET of a password, HELLO ... AUTH, MIGRATE ... AUTH/AUTH2.
fn is_sensitive(argv: &[Vec<u8>]) -> bool {
    let n = argv.len();
    let Some(cmd) = argv.first() else {
        return false;
    };
    if eq(cmd, "auth") {
        return true;
    }
    if n > 1 && eq(cmd, "acl") && eq(&argv[1], "setuser") {
        return true;
    }
    if n > 2
        && eq(cmd, "config")
        && eq(&argv[1], "set")
        && ["masterauth", "masteruser", "requirepass"].iter().any(|p| eq(&argv[2], p))
    {
        return true;
    }
    if n > 4 && eq(cmd, "hello") {
        let mut j = 2;
        while j < n {
            let more = n - 1 - j;
            if eq(&argv[j], "auth") && more >= 2 {
                return true;
            } else if eq(&argv[j], "setname") && more > 0 {
                j += 2;
            } else {
                return false;
            }
        }
        return false;
    }
    if n > 7 && eq(cmd, "migrate") {
        for (j, word) in argv.iter().enumerate().skip(6) {
            let more = n - 1 - j;
            if (eq(word, "auth") && more > 0) || (eq(word, "auth2") && more >= 2) {
                return true;
            }
            if eq(word, "keys") && more > 0 {
                return false;
            }
        }
    }
    false
}

/// `REDISCLI_HISTFILE` if set (`/dev/null` turns history off), else
/// `~/.viatorcli_history`.
fn history_path() -> Option<std::path::PathBuf> {
    match std::env::var_os("REDISCLI_HISTFILE") {
        Some(p) if !p.is_empty() => {
            if p == "/dev/null" {
                None
            } else {
                Some(p.into())
            }
        }
        _ => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| std::path::Path::new(&h).join(".viatorcli_history")),
    }
}

fn eq(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<Vec<u8>> {
        s.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn redirections() {
        assert_eq!(redirection(b"MOVED 3999 127.0.0.1:6381"), Some((3999, "127.0.0.1".into(), 6381, false)));
        assert_eq!(redirection(b"ASK 12 ::1:7000"), Some((12, "::1".into(), 7000, true)));
        assert_eq!(redirection(b"MOVED 3999"), None);
        assert_eq!(redirection(b"ERR MOVED 1 a:2"), None);
    }

    #[test]
    fn repeat_counts() {
        assert_eq!(repeat_count(b"5"), Some(Some(5)));
        assert_eq!(repeat_count(b"-1"), Some(Some(-1)));
        assert_eq!(repeat_count(b"set"), None);
        assert_eq!(repeat_count(b"5x"), None);
        assert_eq!(repeat_count(b""), Some(Some(0)));
        assert_eq!(repeat_count(b"99999999999999999999"), Some(None));
    }

    #[test]
    fn verbatim_and_sensitive_lists() {
        assert!(prints_verbatim(&words(&["INFO"])));
        assert!(prints_verbatim(&words(&["cluster", "NODES"])));
        assert!(!prints_verbatim(&words(&["cluster", "nodes", "x"])));
        assert!(!prints_verbatim(&words(&["get", "info"])));
        assert!(is_sensitive(&words(&["auth", "x"])));
        assert!(is_sensitive(&words(&["config", "set", "requirepass", "x"])));
        assert!(is_sensitive(&words(&["hello", "3", "setname", "n", "auth", "u", "p"])));
        assert!(!is_sensitive(&words(&["hello", "3", "setname", "n"])));
        assert!(is_sensitive(&words(&["migrate", "h", "1", "", "0", "5", "auth", "p", "keys", "a"])));
        assert!(!is_sensitive(&words(&["migrate", "h", "1", "", "0", "5", "keys", "auth", "p"])));
        assert!(!is_sensitive(&words(&["get", "auth"])));
    }

    #[test]
    fn argument_synopsis() {
        let b = |s: &str| Value::Bulk(s.as_bytes().to_vec());
        let arg = |pairs: Vec<(&str, Value)>| Value::Map(pairs.into_iter().map(|(k, v)| (b(k), v)).collect());
        let args = Value::Array(vec![
            arg(vec![("name", b("key")), ("type", b("key"))]),
            arg(vec![
                ("name", b("expiration")),
                ("type", b("oneof")),
                ("flags", Value::Array(vec![Value::Simple(b"optional".to_vec())])),
                (
                    "arguments",
                    Value::Array(vec![
                        arg(vec![("name", b("seconds")), ("type", b("integer")), ("token", b("EX"))]),
                        arg(vec![("name", b("keepttl")), ("type", b("pure-token")), ("token", b("KEEPTTL"))]),
                    ]),
                ),
            ]),
            arg(vec![
                ("name", b("field")),
                ("type", b("string")),
                ("flags", Value::Array(vec![Value::Simple(b"multiple".to_vec())])),
            ]),
        ]);
        assert_eq!(arguments_text(&args), "key [EX seconds|KEEPTTL] field [field ...]");
    }
}
