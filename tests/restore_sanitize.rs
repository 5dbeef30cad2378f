//! RESTORE under each `sanitize-dump-payload` mode against a real
//! `viator-server`: a corrupt payload is refused with Redis's "Bad data
//! format" whatever the mode (we always validate), a valid one loads, and
//! INFO's `dump_payload_sanitizations` counts validated blobs only where
//! the mode asks for deep sanitization (`yes`; `clients` unless the user
//! has `skip-sanitize-payload`), as Redis counts them.

mod support;

use support::{q, qe, Server};

fn sanitizations(con: &mut redis::Connection) -> u64 {
    let info: String = q(con, &["INFO", "stats"]);
    info.lines()
        .find_map(|l| l.strip_prefix("dump_payload_sanitizations:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO has dump_payload_sanitizations")
}

fn restore(con: &mut redis::Connection, key: &str, payload: &[u8]) -> redis::RedisResult<String> {
    redis::cmd("RESTORE").arg(key).arg(0).arg(payload).arg("REPLACE").query(con)
}

#[test]
fn every_mode_refuses_corruption_and_counts_like_redis() {
    let srv = Server::start();
    let mut con = srv.client();
    let _: i64 = q(&mut con, &["HSET", "h", "a", "1", "b", "2"]);
    let dump: Vec<u8> = redis::cmd("DUMP").arg("h").query(&mut con).unwrap();
    // One byte of the listpack's first entry changed, trailer intact
    // (checksums are skipped so the bad structure is what gets judged).
    let _: String = q(&mut con, &["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1"]);
    let mut bad = dump.clone();
    assert_eq!(&dump[..2], b"\x10\x11", "a hash listpack of 17 bytes");
    bad[8] = 0xF5;
    let mut expected = 0;
    for (mode, counts) in [("no", false), ("yes", true), ("clients", true)] {
        let _: String = q(&mut con, &["CONFIG", "SET", "sanitize-dump-payload", mode]);
        let err = restore(&mut con, "x", &bad).unwrap_err();
        assert_eq!(err.detail(), Some("Bad data format"), "{mode}: {err}");
        assert_eq!(restore(&mut con, "x", &dump).unwrap(), "OK");
        expected += u64::from(counts);
        assert_eq!(sanitizations(&mut con), expected, "{mode}");
        let v: String = q(&mut con, &["HGET", "x", "b"]);
        assert_eq!(v, "2");
    }
    // A user that skips sanitization is not counted in `clients` mode.
    let _: String = q(&mut con, &["ACL", "SETUSER", "default", "skip-sanitize-payload"]);
    assert_eq!(restore(&mut con, "x", &dump).unwrap(), "OK");
    assert_eq!(sanitizations(&mut con), expected);
    assert!(qe(&mut con, &["CONFIG", "SET", "sanitize-dump-payload", "maybe"]).starts_with("ERR"));
}
