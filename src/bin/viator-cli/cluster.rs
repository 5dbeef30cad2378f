//! `--cluster <subcommand>`: viator-cli's cluster manager, as redis-cli 7.0 has it.
//!
//! Owns the `--cluster*` options, the subcommand table (names, arities, `help`), the
//! manager's output helpers (redis-cli's colours when `TERM` names an xterm, the
//! `(type 'yes' to accept)` prompts) and the dispatch to the subcommands. The node
//! model lives in `cluster/node.rs`, the shared cluster operations in
//! `cluster/manager.rs`, the repairs of `fix` in `cluster/fix.rs`, and the
//! subcommands in `cluster/commands.rs`. It must not touch the interactive session:
//! the manager opens its own connections, one per node, with the session's
//! credentials. Messages, their order and the exit statuses are redis-cli's, because
//! operators' scripts read them; texts that name redis-cli keep that name.

mod commands;
mod fix;
mod manager;
mod node;

use std::io::{self, BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::opts::{atof, atoi, Config};

/// Milliseconds MIGRATE may take, unless `--cluster-timeout` says otherwise.
const DEFAULT_TIMEOUT: i32 = 60000;
/// Keys per GETKEYSINSLOT/MIGRATE batch, unless `--cluster-pipeline` says otherwise.
const DEFAULT_PIPELINE: i32 = 10;
/// Rebalance threshold in percent, unless `--cluster-threshold` says otherwise.
const DEFAULT_THRESHOLD: f32 = 2.0;

/// The cluster manager command and its `--cluster-*` options.
#[derive(Debug, Clone)]
pub struct Options {
    /// The subcommand; `None` when `--cluster` was not given.
    pub name: Option<String>,
    /// The subcommand's arguments.
    pub args: Vec<Vec<u8>>,
    pub replicas: i32,
    pub master_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub from_user: Option<Vec<u8>>,
    pub from_pass: Option<Vec<u8>>,
    pub from_askpass: bool,
    /// `--cluster-weight` words (`id=weight`).
    pub weights: Option<Vec<String>>,
    pub slots: i32,
    pub timeout: i32,
    pub pipeline: i32,
    pub threshold: f32,
    pub yes: bool,
    pub simulate: bool,
    pub replace: bool,
    pub copy: bool,
    /// `--cluster-slave`: add-node adds a replica.
    pub as_replica: bool,
    pub use_empty_masters: bool,
    pub search_multiple_owners: bool,
    pub fix_with_unreachable_masters: bool,
    pub only_masters: bool,
    pub only_replicas: bool,
    /// Set by `fix`: `check` repairs what it finds.
    pub fix: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            name: None,
            args: Vec::new(),
            replicas: 0,
            master_id: None,
            from: None,
            to: None,
            from_user: None,
            from_pass: None,
            from_askpass: false,
            weights: None,
            slots: 0,
            timeout: DEFAULT_TIMEOUT,
            pipeline: DEFAULT_PIPELINE,
            threshold: DEFAULT_THRESHOLD,
            yes: false,
            simulate: false,
            replace: false,
            copy: false,
            as_replica: false,
            use_empty_masters: false,
            search_multiple_owners: false,
            fix_with_unreachable_masters: false,
            only_masters: false,
            only_replicas: false,
            fix: false,
        }
    }
}

/// The credentials every node connection (and MIGRATE) uses.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    pub user: Option<Vec<u8>>,
    pub pass: Option<Vec<u8>>,
}

/// Reads the `--cluster*` option (or, once `--cluster` was seen, the free word) at
/// `args[i]`. `None` when the word is none of them; otherwise the number of words
/// taken, or the text to print before exiting with status 1.
pub fn parse_option(args: &[Vec<u8>], i: usize, o: &mut Options) -> Option<Result<usize, String>> {
    let a = args[i].as_slice();
    let has_value = i + 1 < args.len();
    let value = || String::from_utf8_lossy(&args[i + 1]).into_owned();
    let is_dash = |w: &Vec<u8>| w.first() == Some(&b'-');
    let flag = |f: &mut bool| {
        *f = true;
        Some(Ok(1))
    };
    match a {
        b"--cluster" if !has_value || o.name.is_some() => Some(Err(crate::opts::usage())),
        b"--cluster" => {
            // The subcommand, then its arguments up to the next word with a dash.
            let cmd = i + 1;
            let mut end = cmd;
            while end < args.len() && !is_dash(&args[end]) {
                end += 1;
            }
            let last = if end > cmd { end - 1 } else { end };
            o.name = Some(String::from_utf8_lossy(&args[cmd]).into_owned());
            o.args = args[cmd + 1..(last + 1).max(cmd + 1)].to_vec();
            Some(Ok(last + 1 - i))
        }
        b"--cluster-only-masters" => flag(&mut o.only_masters),
        b"--cluster-only-replicas" => flag(&mut o.only_replicas),
        b"--cluster-yes" => flag(&mut o.yes),
        b"--cluster-simulate" => flag(&mut o.simulate),
        b"--cluster-replace" => flag(&mut o.replace),
        b"--cluster-copy" => flag(&mut o.copy),
        b"--cluster-slave" => flag(&mut o.as_replica),
        b"--cluster-use-empty-masters" => flag(&mut o.use_empty_masters),
        b"--cluster-search-multiple-owners" => flag(&mut o.search_multiple_owners),
        b"--cluster-fix-with-unreachable-masters" => flag(&mut o.fix_with_unreachable_masters),
        b"--cluster-from-askpass" => flag(&mut o.from_askpass),
        b"--cluster-weight" if has_value => {
            if o.weights.is_some() {
                // COMPAT: redis-cli's complaint.
                return Some(Err("WARNING: you cannot use --cluster-weight more than once.\n\
                                 You can set more weights by adding them as a space-separated list, ie:\n\
                                 --cluster-weight n1=w n2=w"
                    .into()));
            }
            let words: Vec<String> = args[i + 1..]
                .iter()
                .take_while(|w| !w.starts_with(b"--") && w.contains(&b'='))
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            let n = words.len();
            if n > 0 {
                o.weights = Some(words);
            }
            Some(Ok(1 + n))
        }
        _ if has_value && a.starts_with(b"--cluster-") => {
            match a {
                b"--cluster-replicas" => o.replicas = atoi(&args[i + 1]) as i32,
                b"--cluster-master-id" => o.master_id = Some(value()),
                b"--cluster-from" => o.from = Some(value()),
                b"--cluster-to" => o.to = Some(value()),
                b"--cluster-from-user" => o.from_user = Some(args[i + 1].clone()),
                b"--cluster-from-pass" => o.from_pass = Some(args[i + 1].clone()),
                b"--cluster-slots" => o.slots = atoi(&args[i + 1]) as i32,
                b"--cluster-timeout" => o.timeout = atoi(&args[i + 1]) as i32,
                b"--cluster-pipeline" => o.pipeline = atoi(&args[i + 1]) as i32,
                b"--cluster-threshold" => o.threshold = atof(&args[i + 1]) as f32,
                _ => return None,
            }
            Some(Ok(2))
        }
        _ if o.name.is_some() && !is_dash(&args[i]) => {
            // A free word: the subcommand's arguments when it has none yet.
            if !o.args.is_empty() {
                return Some(Ok(1));
            }
            let end = (i..args.len()).find(|&j| is_dash(&args[j])).unwrap_or(args.len());
            o.args = args[i..end].to_vec();
            Some(Ok(end - i))
        }
        _ => None,
    }
}

/// One subcommand: name, arity (negative: at least), argument synopsis, options.
struct Def {
    name: &'static str,
    arity: i32,
    args: &'static str,
    options: &'static [&'static str],
}

/// The subcommands in redis-cli's order (its `--cluster help` lists them so).
const HOST_ARG: &str = "<host:port> or <host> <port> - separated by either colon or space";
const COMMANDS: &[Def] = &[
    Def { name: "create", arity: -2, args: "host1:port1 ... hostN:portN", options: &["replicas <arg>"] },
    Def { name: "check", arity: -1, args: HOST_ARG, options: &["search-multiple-owners"] },
    Def { name: "info", arity: -1, args: HOST_ARG, options: &[] },
    Def {
        name: "fix",
        arity: -1,
        args: HOST_ARG,
        options: &["search-multiple-owners", "fix-with-unreachable-masters"],
    },
    Def {
        name: "reshard",
        arity: -1,
        args: HOST_ARG,
        options: &["from <arg>", "to <arg>", "slots <arg>", "yes", "timeout <arg>", "pipeline <arg>", "replace"],
    },
    Def {
        name: "rebalance",
        arity: -1,
        args: HOST_ARG,
        options: &[
            "weight <node1=w1...nodeN=wN>",
            "use-empty-masters",
            "timeout <arg>",
            "simulate",
            "pipeline <arg>",
            "threshold <arg>",
            "replace",
        ],
    },
    Def {
        name: "add-node",
        arity: 2,
        args: "new_host:new_port existing_host:existing_port",
        options: &["slave", "master-id <arg>"],
    },
    Def { name: "del-node", arity: 2, args: "host:port node_id", options: &[] },
    Def {
        name: "call",
        arity: -2,
        args: "host:port command arg arg .. arg",
        options: &["only-masters", "only-replicas"],
    },
    Def { name: "set-timeout", arity: 2, args: "host:port milliseconds", options: &[] },
    Def {
        name: "import",
        arity: 1,
        args: "host:port",
        options: &["from <arg>", "from-user <arg>", "from-pass <arg>", "from-askpass", "copy", "replace"],
    },
    Def { name: "backup", arity: 2, args: "host:port backup_directory", options: &[] },
    Def { name: "help", arity: 0, args: "", options: &[] },
];

/// Runs the `--cluster` subcommand `cfg` names; the process exit status.
pub fn run(cfg: &Config) -> i32 {
    let mut opt = cfg.manager.clone();
    if std::env::var("REDISCLI_CLUSTER_YES").is_ok_and(|v| v == "1") {
        opt.yes = true;
    }
    COLOR.store(std::env::var("TERM").is_ok_and(|t| t.contains("xterm")), Ordering::Relaxed);
    if cfg.stdin_lastarg {
        // -x: all of stdin is the subcommand's last argument (e.g. call's value).
        let mut all = Vec::new();
        let _ = io::Read::read_to_end(&mut io::stdin().lock(), &mut all);
        opt.args.push(all);
    }
    let name = opt.name.clone().unwrap_or_default();
    let argc = opt.args.len() as i32;
    let Some(def) = COMMANDS.iter().find(|d| d.name == name) else {
        eprintln!("Unknown --cluster subcommand"); // COMPAT
        return 1;
    };
    if (def.arity > 0 && argc != def.arity) || (def.arity < 0 && argc < -def.arity) {
        eprintln!("[ERR] Wrong number of arguments for specified --cluster sub command"); // COMPAT
        return 1;
    }
    if opt.from_askpass {
        out("Please input import source node password: "); // COMPAT
        opt.from_pass = read_line().map(String::into_bytes);
    }
    let args: Vec<String> = opt.args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    let auth = Auth { user: cfg.user.clone(), pass: cfg.auth.clone() };
    let mut m = manager::Manager::new(opt, auth);
    let ok = match def.name {
        "create" => m.create(&args),
        "check" => m.check(&args),
        "info" => m.info(&args),
        "fix" => {
            m.opt.fix = true;
            m.check(&args)
        }
        "reshard" => m.reshard(&args),
        "rebalance" => m.rebalance(&args),
        "add-node" => m.add_node(&args),
        "del-node" => m.del_node(&args),
        "call" => m.call(&args, &cfg.mb_delim),
        "set-timeout" => m.set_timeout(&args),
        "import" => m.import(&args),
        "backup" => m.backup(&args),
        // As in redis-cli, help "fails": its exit status is 1.
        _ => {
            out(&help());
            false
        }
    };
    if ok {
        0
    } else {
        1
    }
}

/// `--cluster help`'s text.
fn help() -> String {
    const PAD: usize = 15;
    let mut s = String::from("Cluster Manager Commands:\n");
    for d in COMMANDS {
        s.push_str(&format!("  {:<PAD$}{}\n", d.name, d.args));
        for o in d.options {
            s.push_str(&format!("{}  --cluster-{o}\n", " ".repeat(PAD)));
        }
    }
    s.push_str(
        "\nFor check, fix, reshard, del-node, set-timeout, info, rebalance, call, import, backup you \
         can specify the host and port of any working node in the cluster.\n",
    );
    s.push_str("\nCluster Manager Options:\n");
    s.push_str(&format!("  {:<PAD$}{}\n", "--cluster-yes", "Automatic yes to cluster commands prompts"));
    s.push('\n');
    s
}

/// Whether the manager's messages are coloured (redis-cli: `TERM` contains "xterm").
static COLOR: AtomicBool = AtomicBool::new(false);

fn log(color: &str, text: &str) {
    if COLOR.load(Ordering::Relaxed) {
        out(&format!("\x1b[{color}{text}\x1b[0m"));
    } else {
        out(text);
    }
}

/// A `>>>` step (bold when coloured).
pub fn log_info(text: &str) {
    log("29;1m", text);
}

/// A warning (yellow when coloured).
pub fn log_warn(text: &str) {
    log("33;1m", text);
}

/// An error (red when coloured). Like redis-cli, the manager reports on stdout.
pub fn log_err(text: &str) {
    log("31;1m", text);
}

/// A success (green when coloured).
pub fn log_ok(text: &str) {
    log("32;1m", text);
}

/// Writes to stdout and flushes, so progress dots appear as they happen.
pub fn out(text: &str) {
    let mut o = io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

/// One line from stdin without its newline; `None` at end of input.
pub fn read_line() -> Option<String> {
    let mut line = String::new();
    match io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            while line.ends_with('\n') || line.ends_with('\r') {
                line.pop();
            }
            Some(line)
        }
    }
}

/// Asks `msg (type 'yes' to accept): `. `--cluster-yes` answers for the user unless
/// `ignore_yes_option` (the repairs of `fix` always ask). Like redis-cli, only the
/// first three characters of the answer count.
pub fn confirm(opt: &Options, msg: &str, ignore_yes_option: bool) -> bool {
    if !ignore_yes_option && opt.yes {
        return true;
    }
    out(&format!("{msg} (type 'yes' to accept): "));
    read_line().is_some_and(|l| l.get(..3).unwrap_or(&l) == "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<Vec<u8>> {
        s.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    /// Applies `parse_option` over `args` as the option loop does, skipping words it
    /// does not take.
    fn parse(args: &[&str]) -> Result<Options, String> {
        let args = words(args);
        let mut o = Options::default();
        let mut i = 0;
        while i < args.len() {
            match parse_option(&args, i, &mut o) {
                Some(Ok(n)) => i += n,
                Some(Err(e)) => return Err(e),
                None => i += 1,
            }
        }
        Ok(o)
    }

    #[test]
    fn subcommand_and_options() {
        let o =
            parse(&["--cluster", "create", "h:1", "h:2", "h:3", "--cluster-replicas", "1", "--cluster-yes"]).unwrap();
        assert_eq!(o.name.as_deref(), Some("create"));
        assert_eq!(o.args, words(&["h:1", "h:2", "h:3"]));
        assert_eq!((o.replicas, o.yes), (1, true));
        let o = parse(&["--cluster-yes", "--cluster", "reshard", "--cluster-slots", "10", "h:1"]).unwrap();
        assert_eq!(o.name.as_deref(), Some("reshard"));
        assert_eq!(o.args, words(&["h:1"]), "free words after options are the arguments");
        assert_eq!(o.slots, 10);
        let o =
            parse(&["--cluster", "rebalance", "h:1", "--cluster-weight", "a=1", "b=2", "--cluster-simulate"]).unwrap();
        assert_eq!(o.weights, Some(vec!["a=1".to_string(), "b=2".to_string()]));
        assert!(o.simulate);
        assert_eq!((o.timeout, o.pipeline, o.threshold), (DEFAULT_TIMEOUT, DEFAULT_PIPELINE, DEFAULT_THRESHOLD));
        assert!(parse(&["--cluster-weight", "a=1", "--cluster-weight", "b=1"]).is_err());
        assert!(parse(&["--cluster", "info", "--cluster", "check"]).is_err());
        let o = parse(&["--cluster", "help"]).unwrap();
        assert!(o.args.is_empty());
    }

    #[test]
    fn help_lists_every_subcommand() {
        let h = help();
        assert!(h.starts_with("Cluster Manager Commands:\n  create         host1:port1 ... hostN:portN\n"));
        assert!(h.contains("                 --cluster-replicas <arg>\n"));
        for d in COMMANDS {
            assert!(h.contains(&format!("  {}", d.name)), "{}", d.name);
        }
        assert!(h.ends_with("  --cluster-yes  Automatic yes to cluster commands prompts\n\n"));
    }

    #[test]
    fn random_words_never_panic() {
        let mut rng = viator::util::rand::Rng::with_seed(11);
        let pool =
            ["--cluster", "create", "--cluster-weight", "a=1", "-x", "h:1", "", "--cluster-from", "--cluster-yes"];
        for _ in 0..3000 {
            let n = rng.below(8) as usize;
            let args: Vec<&str> = (0..n).map(|_| pool[rng.below(pool.len() as u64) as usize]).collect();
            let _ = parse(&args);
        }
    }
}
