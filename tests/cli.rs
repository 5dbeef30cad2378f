//! Tests of the `viator-cli` binary against a real `viator-server`.
//!
//! Owns the command-line client's observable contract: arguments, output
//! modes (raw when stdout is not a terminal, `--no-raw` forcing the readable
//! form), `-n` database selection, `-x`, `-e`, and one command per stdin line
//! when no command is given. Mirrors redis-cli 7.0's behaviour for each.

mod support;

use std::time::Duration;

use support::{CliRun, Server};

/// Runs viator-cli with `args` and `stdin`; a hung client fails after 10 s.
fn cli(args: &[&str], stdin: Option<&[u8]>) -> CliRun {
    support::run_cli(args, stdin, Duration::from_secs(10))
}

#[test]
fn one_shot_commands_print_raw_when_piped() {
    let srv = Server::start();
    let p = srv.port().to_string();
    let r = cli(&["-p", &p, "set", "a", "b"], None);
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "OK\n"), "stderr: {}", r.stderr);
    let r = cli(&["-p", &p, "get", "a"], None);
    assert_eq!(r.stdout, "b\n");
    let r = cli(&["-p", &p, "incr", "n"], None);
    assert_eq!(r.stdout, "1\n");
    // Nil prints nothing but the separator.
    let r = cli(&["-p", &p, "get", "missing"], None);
    assert_eq!(r.stdout, "\n");
    // Arrays: one element per line.
    let r = cli(&["-p", &p, "mget", "a", "missing", "n"], None);
    assert_eq!(r.stdout, "b\n\n1\n");
    // Words after the command are not options, even with a leading dash.
    let r = cli(&["-p", &p, "set", "neg", "-1"], None);
    assert_eq!(r.stdout, "OK\n");
    let mut c = srv.client();
    let v: String = redis::cmd("GET").arg("neg").query(&mut c).unwrap();
    assert_eq!(v, "-1");
}

#[test]
fn no_raw_forces_readable_output() {
    let srv = Server::start();
    let p = srv.port().to_string();
    cli(&["-p", &p, "set", "a", "b"], None);
    assert_eq!(cli(&["-p", &p, "--no-raw", "get", "a"], None).stdout, "\"b\"\n");
    assert_eq!(cli(&["-p", &p, "--no-raw", "get", "missing"], None).stdout, "(nil)\n");
    assert_eq!(cli(&["-p", &p, "--no-raw", "incr", "n"], None).stdout, "(integer) 1\n");
    assert_eq!(cli(&["-p", &p, "--no-raw", "mget", "a", "n"], None).stdout, "1) \"b\"\n2) \"1\"\n");
}

#[test]
fn select_database_with_n() {
    let srv = Server::start();
    let p = srv.port().to_string();
    assert_eq!(cli(&["-p", &p, "-n", "1", "set", "x", "y"], None).stdout, "OK\n");
    assert_eq!(cli(&["-p", &p, "-n", "1", "get", "x"], None).stdout, "y\n");
    assert_eq!(cli(&["-p", &p, "get", "x"], None).stdout, "\n", "db 0 must not see db 1's key");
    assert_eq!(cli(&["-p", &p, "-n", "1", "dbsize"], None).stdout, "1\n");
}

#[test]
fn stdin_lines_are_commands() {
    let srv = Server::start();
    let p = srv.port().to_string();
    let r = cli(&["-p", &p], Some(b"set a 1\nincr a\nget a\nset s \"x y\"\nget s\n"));
    assert_eq!(r.stdout, "OK\n2\n2\nOK\nx y\n", "stderr: {}", r.stderr);
    assert_eq!(r.code, Some(0));
}

#[test]
fn stdin_as_last_argument_with_x() {
    let srv = Server::start();
    let p = srv.port().to_string();
    let r = cli(&["-p", &p, "-x", "set", "k"], Some(b"hello\nworld"));
    assert_eq!(r.stdout, "OK\n", "stderr: {}", r.stderr);
    assert_eq!(cli(&["-p", &p, "strlen", "k"], None).stdout, "11\n");
}

#[test]
fn errors_and_exit_codes() {
    let srv = Server::start();
    let p = srv.port().to_string();
    cli(&["-p", &p, "set", "s", "abc"], None);
    let r = cli(&["-p", &p, "incr", "s"], None);
    assert!(r.stdout.starts_with("ERR value is not an integer or out of range\n"), "{:?}", r.stdout);
    let r = cli(&["-p", &p, "-e", "incr", "s"], None);
    assert_eq!(r.code, Some(1), "-e must exit 1 on an error reply");
    assert_eq!(r.stderr, "ERR value is not an integer or out of range\n");
    // Nothing listens on a fresh free port.
    let dead = support::free_port().to_string();
    let r = cli(&["-p", &dead, "ping"], None);
    assert_ne!(r.code, Some(0));
    let msg = format!("Could not connect to Redis at 127.0.0.1:{dead}: Connection refused");
    assert!(r.stderr.contains(&msg) || r.stdout.contains(&msg), "stdout {:?} stderr {:?}", r.stdout, r.stderr);
}
