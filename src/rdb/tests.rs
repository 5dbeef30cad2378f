//! Round trips of every type and encoding through DUMP payloads and whole
//! files, known payloads produced by real Redis servers, and a seeded fuzz
//! of the decoder.

use super::*;
use crate::db::Keyspace;
use crate::types::hash::Hash;
use crate::types::list::List;
use crate::types::set::Set;
use crate::types::stream::{NodeLimits, Stream, StreamId, Trim, TrimStrategy};
use crate::types::value::Str;
use crate::types::zset::{AddFlags, ZSet};
use crate::util::rand::Rng;

fn lim() -> LoadLimits {
    LoadLimits::default()
}

fn restore(payload: &[u8]) -> Result<Value, RdbError> {
    let body = verify_payload(payload, false).expect("trailer");
    decode_value(body, &lim())
}

fn round_trip(v: &Value) -> Value {
    for compress in [false, true] {
        let p = dump_payload(v, compress);
        let back = restore(&p).unwrap_or_else(|e| panic!("{e} for {v:?}"));
        assert_eq!(&back, v, "compress={compress}");
        assert_eq!(back.encoding(), v.encoding(), "compress={compress}");
    }
    restore(&dump_payload(v, true)).unwrap()
}

fn sv(s: &[u8]) -> Value {
    Value::Str(Str::from_bytes(s))
}

fn list_of(items: &[Vec<u8>], fill: i64, thresh: usize) -> Value {
    let mut l = List::new(fill, 0);
    for it in items {
        l.push_back(it, thresh);
    }
    Value::List(Box::new(l))
}

fn hash_of(n: usize, vlen: usize) -> Value {
    let mut h = Hash::new();
    for i in 0..n {
        h.set(format!("f{i}").as_bytes(), &vec![b'v'; vlen], lim().hash);
    }
    Value::Hash(Box::new(h))
}

fn zset_of(n: usize) -> Value {
    let mut z = ZSet::new_for(lim().zset, 1);
    for i in 0..n {
        z.add(format!("m{i}").as_bytes(), i as f64 * 1.5 - 3.0, AddFlags::default(), lim().zset).unwrap();
    }
    Value::ZSet(Box::new(z))
}

fn stream_with_groups() -> Value {
    let mut st = Stream::new();
    let nl = NodeLimits { max_bytes: 4096, max_entries: 3 };
    for i in 1..=10u64 {
        let v = i.to_string();
        let pairs: Vec<&[u8]> = if i % 4 == 0 { vec![b"other", v.as_bytes()] } else { vec![b"item", v.as_bytes()] };
        st.entries.append(&pairs, Some(crate::types::stream::IdArg::Id(StreamId::new(i, 0))), 0, nl).unwrap();
    }
    st.entries.xdel(StreamId::new(5, 0));
    st.entries.trim(&Trim { strategy: TrimStrategy::MaxLen(8), approx: false, limit: 0 });
    let mut g = crate::types::stream::Group::new(StreamId::new(7, 0), 6);
    g.create_consumer(b"alice", 1000);
    g.create_consumer(b"bob", 2000);
    g.create_consumer(b"idle", 3000);
    g.deliver(StreamId::new(6, 0), b"alice", 1100);
    g.deliver(StreamId::new(7, 0), b"bob", 2100);
    st.groups.insert("g1".into(), g);
    st.groups.insert("123".into(), crate::types::stream::Group::new(StreamId::MIN, -1));
    Value::Stream(Box::new(st))
}

#[test]
fn crc_of_a_payload_from_the_redis_documentation() {
    // DUMP of the integer 10 by an RDB 9 server.
    let p = b"\x00\xC0\x0A\x09\x00\xBE\x6D\x06\x89\x5A\x28\x00\x0A";
    assert_eq!(restore(p).unwrap(), sv(b"10"));
    let mut bad = p.to_vec();
    bad[12] ^= 1;
    assert_eq!(verify_payload(&bad, false), Err(BadPayload));
    assert!(verify_payload(&bad, true).is_ok());
    // A newer version than ours is refused whatever the checksum.
    let mut newer = dump_payload(&sv(b"x"), false);
    let n = newer.len();
    newer[n - 10] = 11;
    assert_eq!(verify_payload(&newer, true), Err(BadPayload));
    assert_eq!(verify_payload(b"short", true), Err(BadPayload));
}

#[test]
fn strings_round_trip_in_every_form() {
    for s in [&b"bar"[..], b"", b"12", b"-129", b"70000", b"9223372036854775807", b"012", &[b'a'; 100], &[7u8; 5000]] {
        round_trip(&sv(s));
    }
    let mut raw = Str::from_bytes(b"abc");
    raw.make_raw().extend_from_slice(&[b'z'; 60]);
    let expect = raw.to_vec();
    let back = restore(&dump_payload(&Value::Str(raw), true)).unwrap();
    assert_eq!(back.encoding(), "raw");
    assert!(matches!(back, Value::Str(s) if s.to_vec() == expect));
    assert_eq!(dump_payload(&sv(b"bar"), true)[..5], *b"\x00\x03bar");
}

#[test]
fn lists_keep_their_nodes() {
    let small: Vec<Vec<u8>> = (0..10).map(|i| format!("{i}").into_bytes()).collect();
    round_trip(&list_of(&small, -2, 1 << 30));
    let many: Vec<Vec<u8>> = (0..2000).map(|i| format!("item {i}").into_bytes()).collect();
    let v = list_of(&many, -2, 1 << 30);
    let back = round_trip(&v);
    let (Value::List(a), Value::List(b)) = (&v, &back) else { panic!() };
    assert_eq!(a.node_shapes(), b.node_shapes());
    // Plain nodes for big elements.
    let mixed = vec![b"a".to_vec(), vec![b'P'; 300], b"b".to_vec()];
    let v = list_of(&mixed, -2, 100);
    let back = round_trip(&v);
    let Value::List(b) = &back else { panic!() };
    assert_eq!(b.node_shapes().iter().filter(|s| s.2).count(), 1);
}

#[test]
fn sets_hashes_and_zsets_in_both_encodings() {
    let mut ints = Set::new_for(b"1");
    for i in [5i64, -3, 70000, 1 << 40] {
        ints.add(i.to_string().as_bytes(), 512);
    }
    assert_eq!(round_trip(&Value::Set(Box::new(ints))).encoding(), "intset");
    let mut words = Set::new_for(b"x");
    for i in 0..50 {
        words.add(format!("w{i}").as_bytes(), 512);
    }
    words.add(b"17", 512);
    assert_eq!(round_trip(&Value::Set(Box::new(words))).encoding(), "hashtable");
    assert_eq!(round_trip(&hash_of(5, 3)).encoding(), "listpack");
    assert_eq!(round_trip(&hash_of(200, 3)).encoding(), "hashtable");
    assert_eq!(round_trip(&hash_of(3, 100)).encoding(), "hashtable");
    assert_eq!(round_trip(&zset_of(10)).encoding(), "listpack");
    assert_eq!(round_trip(&zset_of(300)).encoding(), "skiplist");
    let mut z = ZSet::new_for(lim().zset, 1);
    for (m, s) in [("inf", f64::INFINITY), ("ninf", f64::NEG_INFINITY), ("frac", 0.1), ("neg0", -0.0), ("big", 1e300)] {
        z.add(m.as_bytes(), s, AddFlags::default(), lim().zset).unwrap();
    }
    round_trip(&Value::ZSet(Box::new(z)));
}

#[test]
fn loading_applies_the_configured_thresholds() {
    let p = dump_payload(&hash_of(10, 3), true);
    let mut small = lim();
    small.hash.max_entries = 4;
    let v = decode_value(verify_payload(&p, false).unwrap(), &small).unwrap();
    assert_eq!(v.encoding(), "hashtable");
    let p = dump_payload(&zset_of(10), true);
    small.zset.max_entries = 4;
    assert_eq!(decode_value(verify_payload(&p, false).unwrap(), &small).unwrap().encoding(), "skiplist");
    let mut ints = Set::new_for(b"1");
    for i in 0..20 {
        ints.add(i.to_string().as_bytes(), 512);
    }
    let p = dump_payload(&Value::Set(Box::new(ints)), true);
    small.set_max_intset_entries = 5;
    assert_eq!(decode_value(verify_payload(&p, false).unwrap(), &small).unwrap().encoding(), "hashtable");
}

#[test]
fn streams_keep_groups_consumers_and_counters() {
    let v = stream_with_groups();
    let back = round_trip(&v);
    let Value::Stream(st) = back else { panic!() };
    assert_eq!(st.entries.length, 8);
    assert_eq!(st.entries.max_deleted_entry_id, StreamId::new(5, 0));
    assert_eq!(st.groups[&b"g1"[..]].consumers.len(), 3);
    assert_eq!(st.groups[&b"123"[..]].entries_read, -1);
    assert_eq!(st.groups[&b"g1"[..]].pel[&StreamId::new(7, 0)].consumer.as_bytes(), b"bob");
    round_trip(&Value::Stream(Box::new(Stream::new())));
}

#[test]
fn stream_counters_no_command_can_produce_are_refused() {
    let Value::Stream(mut st) = stream_with_groups() else { panic!() };
    st.entries.entries_added = st.entries.length - 1;
    let e = restore(&dump_payload(&Value::Stream(st.clone()), false)).unwrap_err();
    assert!(e.reason.contains("entries_added"), "{e}");
    st.entries.entries_added = st.entries.length;
    assert!(restore(&dump_payload(&Value::Stream(st.clone()), false)).is_ok());
    st.groups.get_mut(&b"g1"[..]).unwrap().entries_read = -2;
    let e = restore(&dump_payload(&Value::Stream(st), false)).unwrap_err();
    assert!(e.reason.contains("entries_read"), "{e}");
}

#[test]
fn legacy_stream_payload_from_redis_5_loads() {
    // From unit/type/stream-cgroups: a v5 DUMP (RDB 9, STREAM_LISTPACKS).
    let p = b"\x0F\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\xC3\x40\x4A\x40\x57\x16\x57\x00\x00\x00\x23\x00\x02\x01\x04\x01\x01\x01\x84\x64\x61\x74\x61\x05\x00\x01\x03\x01\x00\x20\x01\x03\x81\x61\x02\x04\x20\x0A\x00\x01\x40\x0A\x00\x62\x60\x0A\x00\x02\x40\x0A\x00\x63\x60\x0A\x40\x22\x01\x81\x64\x20\x0A\x40\x39\x20\x0A\x00\x65\x60\x0A\x00\x05\x40\x0A\x00\x66\x20\x0A\x00\xFF\x02\x06\x00\x02\x02\x67\x31\x05\x00\x04\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x3E\xF7\x83\x43\x7A\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x3E\xF7\x83\x43\x7A\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x3E\xF7\x83\x43\x7A\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x3E\xF7\x83\x43\x7A\x01\x00\x00\x01\x01\x03\x63\x31\x31\x3E\xF7\x83\x43\x7A\x01\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x02\x67\x32\x00\x00\x00\x00\x09\x00\x3D\x52\xEF\x68\x67\x52\x1D\xFA";
    let Value::Stream(st) = restore(p).unwrap() else { panic!() };
    assert_eq!(st.entries.length, 2);
    assert_eq!(st.entries.entries_added, 2);
    assert_eq!(st.entries.first_id, StreamId::new(5, 0));
    assert_eq!(st.groups[&b"g1"[..]].pel.len(), 4);
    assert_eq!(st.groups[&b"g2"[..]].entries_read, 0);
}

#[test]
fn legacy_encodings_from_redis_test_suite_load() {
    // Hash ziplist a->b? No: "a","b","c","d" as two pairs (valid CRC).
    let bad_entry = b"\x0D\x1B\x1B\x00\x00\x00\x16\x00\x00\x00\x04\x00\x00\x02\x61\x00\x04\x02\x62\x00\x04\x14\x63\x00\x04\x02\x64\x00\xFF\x09\x00\xD9\x10\x54\x92\x15\xF5\x5F\x52";
    let e = restore(bad_entry).unwrap_err();
    assert!(e.reason.contains("integrity check failed"), "{e}");
    let dups = b"\x0D\x1B\x1B\x00\x00\x00\x16\x00\x00\x00\x04\x00\x00\x02\x61\x00\x04\x02\x62\x00\x04\x02\x61\x00\x04\x02\x64\x00\xFF\x09\x00\xA1\x98\x36\x78\xCC\x8E\x93\x2E";
    assert!(restore(dups).is_err());
    // The same ziplist with distinct fields is a fine two-field hash.
    let mut zl = crate::rdb::legacy::tests::build_ziplist(&[b"a", b"b", b"c", b"d"]);
    let mut body = vec![opcodes::TYPE_HASH_ZIPLIST];
    encode::put_string(&mut body, &zl, false);
    let Value::Hash(h) = decode_value(&body, &lim()).unwrap() else { panic!() };
    assert_eq!(h.get(b"c").map(|v| v.to_vec()), Some(b"d".to_vec()));
    // Quicklist v1 of one ziplist, and a plain ziplist list.
    zl = crate::rdb::legacy::tests::build_ziplist(&[b"x", b"127", b"-5", &[b'y'; 70]]);
    for t in [opcodes::TYPE_LIST_QUICKLIST, opcodes::TYPE_LIST_ZIPLIST] {
        let mut body = vec![t];
        if t == opcodes::TYPE_LIST_QUICKLIST {
            encode::put_len(&mut body, 1);
        }
        encode::put_string(&mut body, &zl, true);
        let Value::List(l) = decode_value(&body, &lim()).unwrap() else { panic!() };
        assert_eq!(l.to_vecs(), vec![b"x".to_vec(), b"127".to_vec(), b"-5".to_vec(), vec![b'y'; 70]]);
    }
    // Zset ziplist with text scores, stored out of order.
    zl = crate::rdb::legacy::tests::build_ziplist(&[b"b", b"2.5", b"a", b"-1"]);
    let mut body = vec![opcodes::TYPE_ZSET_ZIPLIST];
    encode::put_string(&mut body, &zl, false);
    let Value::ZSet(z) = decode_value(&body, &lim()).unwrap() else { panic!() };
    assert_eq!(
        z.iter().map(|(m, s)| (m.to_vec(), s)).collect::<Vec<_>>(),
        vec![(b"a".to_vec(), -1.0), (b"b".to_vec(), 2.5)]
    );
    // Old ZSET with text scores (inf and a decimal).
    let mut body = vec![opcodes::TYPE_ZSET];
    encode::put_len(&mut body, 2);
    encode::put_string(&mut body, b"m", false);
    body.extend_from_slice(b"\x033.5");
    encode::put_string(&mut body, b"n", false);
    body.push(254);
    let Value::ZSet(z) = decode_value(&body, &lim()).unwrap() else { panic!() };
    assert_eq!(z.score(b"n"), Some(f64::INFINITY));
    // Zipmap hash.
    let mut body = vec![opcodes::TYPE_HASH_ZIPMAP];
    encode::put_string(&mut body, &[2, 1, b'a', 2, 1, b'b', b'b', 0, 1, b'c', 0, 0, 0xFF], false);
    let Value::Hash(h) = decode_value(&body, &lim()).unwrap() else { panic!() };
    assert_eq!(h.len(), 2);
}

#[test]
fn corrupt_payloads_from_the_redis_suite_are_refused() {
    let cases: &[&[u8]] = &[
        // #7445: quicklist of a ziplist with bad entries.
        b"\x0E\x01\x1D\x1D\x00\x00\x00\x16\x00\x00\x00\x03\x00\x00\x04\x43\x43\x43\x43\x06\x04\x42\x42\x42\x42\x06\x3F\x41\x41\x41\x41\xFF\x09\x00\x88\xA5\xCA\xA8\xC5\x41\xF4\x35",
        // Quicklist v2 with an encoded length of 0.
        b"\x12\x01\x01\x00\x0a\x00\x8f\xc6\xc0\x57\x1c\x0a\xb3\x3c",
        // Listpack entry starting with EOF.
        b"\x12\x01\x02\x0b\x0b\x00\x00\x00\x01\x00\x81\x61\x02\xff\xff\x0a\x00\x7e\xd8\xde\x5b\x0d\xd7\x70\xb8",
        // Stream with duplicate consumers.
        b"\x0F\x00\x00\x00\x00\x01\x07\x6D\x79\x67\x72\x6F\x75\x70\x00\x00\x00\x02\x04\x6E\x61\x6D\x65\x2A\x4C\xAA\x9A\x7D\x01\x00\x00\x00\x04\x6E\x61\x6D\x65\x2B\x4C\xAA\x9A\x7D\x01\x00\x00\x00\x0A\x00\xCC\xED\x8C\xA7\x62\xEE\xC7\xC8",
    ];
    for p in cases {
        assert!(restore(p).is_err(), "accepted {p:?}");
    }
}

#[test]
fn whole_files_round_trip() {
    let mut ks = Keyspace::new(4);
    ks.now_ms = 1_000_000;
    ks.set(0, b"s", sv(b"hello"), false);
    ks.set(0, b"n", sv(b"42"), false);
    ks.set_expire(0, b"n", 5_000_000);
    ks.set(0, b"old", sv(b"gone"), false);
    ks.set_expire(0, b"old", 500);
    ks.set(2, b"h", hash_of(200, 5), false);
    ks.set(2, b"z", zset_of(5), false);
    ks.set(3, b"st", stream_with_groups(), false);
    let items: Vec<Vec<u8>> = (0..100).map(|i| format!("{i}").into_bytes()).collect();
    ks.set(3, b"l", list_of(&items, -2, 1 << 30), false);
    let mut file = Vec::new();
    let aux = [("redis-ver", "7.0.15".to_string()), ("redis-bits", "64".to_string())];
    write_rdb(&mut file, &ks, &aux, SaveOptions::default()).unwrap();
    assert_eq!(&file[..9], b"REDIS0010");
    let opts = LoadOptions { databases: 4, skip_expired_before_ms: Some(1_000_000), verify_checksum: true };
    // With LRU information, the idle time comes back.
    let mut with_idle = Vec::new();
    ks.now_ms += 7_000;
    write_rdb(&mut with_idle, &ks, &aux, SaveOptions { lru_now_ms: Some(ks.now_ms), ..SaveOptions::default() })
        .unwrap();
    read_rdb(&mut &with_idle[..], &lim(), LoadOptions { skip_expired_before_ms: None, ..opts }, |k| {
        assert_eq!(k.idle_secs, Some(7));
        Ok(())
    })
    .unwrap();
    let mut got = Vec::new();
    let info = read_rdb(&mut &file[..], &lim(), opts, |k| {
        got.push(k);
        Ok(())
    })
    .unwrap();
    assert_eq!(info.keys_loaded, 6);
    assert_eq!(info.keys_expired, 1);
    assert_eq!(info.aux[1], (b"redis-bits".to_vec(), b"64".to_vec()));
    for k in &got {
        let orig = ks.dbs[k.db].dict.get(&k.key[..]).expect("key exists");
        assert_eq!(orig.value, k.value);
        assert_eq!(ks.dbs[k.db].expires.get(&k.key[..]).copied(), k.expire_at_ms);
    }
    // A flipped byte is caught by the checksum (or the decoder).
    let mut bad = file.clone();
    bad[30] ^= 0x40;
    assert!(read_rdb(&mut &bad[..], &lim(), opts, |_| Ok(())).is_err());
    // Too few databases configured.
    let few = LoadOptions { databases: 2, ..opts };
    assert!(read_rdb(&mut &file[..], &lim(), few, |_| Ok(())).is_err());
}

/// A file saved by a real Redis 7.0.15 (strings in every form, an LZF
/// string, lists, intset and hashtable sets, listpack and hashtable hashes,
/// listpack and skiplist zsets, a stream with a group, a TTL, a second db).
/// Set VIATOR_RDB_OUT to a path to also get our rewrite of it, for checking
/// with redis-check-rdb or by loading it into redis-server.
#[test]
fn loads_a_file_written_by_redis_7() {
    let data = include_bytes!("testdata/redis-7.0.15.rdb");
    let opts = LoadOptions { databases: 16, skip_expired_before_ms: None, verify_checksum: true };
    let mut ks = Keyspace::new(16);
    let info = read_rdb(&mut &data[..], &lim(), opts, |k| {
        ks.set(k.db, &k.key, k.value, false);
        if let Some(at) = k.expire_at_ms {
            ks.set_expire(k.db, &k.key, at);
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(info.keys_loaded, 15);
    assert!(info.checksummed);
    assert!(info.aux.iter().any(|(k, v)| k == b"redis-ver" && v == b"7.0.15"));
    let get = |ks: &mut Keyspace, db: usize, k: &[u8]| ks.get(db, k).cloned().unwrap();
    assert_eq!(get(&mut ks, 0, b"str"), sv(b"hello"));
    assert_eq!(get(&mut ks, 0, b"big"), sv(b"9223372036854775807"));
    assert_eq!(get(&mut ks, 0, b"long"), sv(&[b'a'; 200]));
    assert_eq!(get(&mut ks, 3, b"db3"), sv(b"yes"));
    assert!(ks.expire_at(0, b"ttl").is_some());
    for (k, enc) in [
        (&b"iset"[..], "intset"),
        (b"hset", "hashtable"),
        (b"h", "listpack"),
        // Saved big, but small enough for the default limits: Redis converts too.
        (b"hbig", "listpack"),
        (b"z", "listpack"),
        (b"zbig", "listpack"),
        (b"list", "quicklist"),
        (b"s", "stream"),
    ] {
        assert_eq!(get(&mut ks, 0, k).encoding(), enc, "{}", String::from_utf8_lossy(k));
    }
    let Value::List(l) = get(&mut ks, 0, b"biglist") else { panic!() };
    assert_eq!(l.len(), 50);
    let Value::ZSet(z) = get(&mut ks, 0, b"z") else { panic!() };
    assert_eq!(z.score(b"b"), Some(2.5));
    let Value::Stream(st) = get(&mut ks, 0, b"s") else { panic!() };
    assert_eq!(st.entries.length, 2);
    assert_eq!(st.groups[&b"g"[..]].consumers[&b"alice"[..]].pel.len(), 1);
    if let Ok(path) = std::env::var("VIATOR_RDB_OUT") {
        let mut f = std::fs::File::create(path).unwrap();
        let aux = [("redis-ver", "7.0.15".to_string()), ("redis-bits", "64".to_string())];
        write_rdb(&mut f, &ks, &aux, SaveOptions::default()).unwrap();
    }
}

mod fuzz;
