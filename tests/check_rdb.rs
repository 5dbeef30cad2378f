//! viator-check-rdb as operators run it: a file written by `write_rdb` is
//! reported OK with redis-check-rdb's progress lines and exit status 0; a
//! copy with a flipped byte or cut short gets the error block and exit 1.

use std::path::PathBuf;
use std::process::Command;

use viator::db::Keyspace;
use viator::rdb::{write_rdb, SaveOptions};
use viator::types::value::{Str, Value};

/// A scratch directory for this test binary.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("viator-check-rdb-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the checker on `path`: (exit code, stdout).
fn check(path: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_viator-check-rdb")).arg(path).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn sample_file() -> Vec<u8> {
    let mut ks = Keyspace::new(16);
    ks.now_ms = 1_000;
    ks.set(0, b"s", Value::Str(Str::from_bytes(b"hello")), false);
    ks.set(0, b"t", Value::Str(Str::from_bytes(&[b'x'; 300])), false);
    ks.set_expire(0, b"t", 2_000);
    ks.set(5, b"n", Value::Str(Str::from_bytes(b"12345")), false);
    let aux = [("redis-ver", "7.0.15".to_string()), ("redis-bits", "64".to_string())];
    let mut file = Vec::new();
    write_rdb(&mut file, &ks, &aux, SaveOptions::default()).unwrap();
    file
}

#[test]
fn a_good_file_is_reported_ok() {
    let dir = scratch("ok");
    let path = dir.join("dump.rdb");
    std::fs::write(&path, sample_file()).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("[offset 0] Checking RDB file {}", path.display()));
    assert_eq!(lines[1], "[offset 27] AUX FIELD redis-ver = '7.0.15'");
    assert_eq!(lines[2], "[offset 41] AUX FIELD redis-bits = '64'");
    assert!(lines[3].ends_with("] Selecting DB ID 0"), "{out}");
    assert!(lines[4].ends_with("] Selecting DB ID 5"), "{out}");
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(lines[5], format!("[offset {size}] Checksum OK"));
    assert_eq!(lines[6], format!("[offset {size}] \\o/ RDB looks OK! \\o/"));
    assert_eq!(&lines[7..], ["[info] 3 keys read", "[info] 1 expires", "[info] 1 already expired"]);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn corrupt_and_short_files_are_reported_with_exit_1() {
    let dir = scratch("bad");
    let good = sample_file();

    // A flipped byte inside the first value's data: only the checksum sees it.
    let mut flipped = good.clone();
    let at = good.windows(5).position(|w| w == b"hello").unwrap();
    flipped[at] ^= 0x20;
    let path = dir.join("flipped.rdb");
    std::fs::write(&path, &flipped).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--- RDB ERROR DETECTED ---\n"), "{out}");
    assert!(out.contains("] RDB CRC error\n[additional info] While doing: check-sum\n"), "{out}");
    assert!(!out.contains("RDB looks OK"), "{out}");

    // Cut inside the long string: a short read while reading key "t".
    let cut = good.windows(3).position(|w| w == b"\x00\x01t").unwrap() + 8;
    let path = dir.join("short.rdb");
    std::fs::write(&path, &good[..cut]).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("] Unexpected EOF reading RDB file\n"), "{out}");
    assert!(out.contains("[additional info] While doing: read-object-value\n"), "{out}");
    assert!(out.contains("[additional info] Reading key 't'\n"), "{out}");
    assert!(out.contains("[additional info] Reading type 0 (string)\n"), "{out}");
    // The failing key counts as read ("s" may or may not come before it).
    let read = ["[info] 1 keys read\n[info] 0 expires\n", "[info] 2 keys read\n[info] 0 expires\n"];
    assert!(read.iter().any(|r| out.ends_with(&format!("{r}[info] 0 already expired\n"))), "{out}");

    // Not an RDB file at all.
    let path = dir.join("junk.rdb");
    std::fs::write(&path, b"hello world, not rdb").unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 1);
    assert!(out.contains("[offset 9] Wrong signature trying to load DB from file\n"), "{out}");

    // A missing file: only the first line, as Redis.
    let (code, out) = check(&dir.join("missing.rdb"));
    assert_eq!((code, out.lines().count()), (1, 1), "{out}");
    std::fs::remove_dir_all(dir).ok();
}
