//! Seeded xorshift fuzz of RESTORE payload decoding: valid payloads of
//! every type and encoding (current and legacy) are mutated with bit flips,
//! random bytes, truncations, length-field nudges, inserted and deleted
//! bytes and duplicated spans. Decoding must never panic, and any value it
//! accepts must survive what commands do to it: full iteration both ways,
//! lookups of every element, removal of everything, stream ranges and
//! appends, and a DUMP/RESTORE round trip to an equal value.

use super::*;
use crate::rdb::legacy::tests::build_ziplist;
use crate::types::intset::IntSet;
use crate::types::stream::{IdArg, NodeLimits, Trim, TrimStrategy};

/// Object bodies (type byte + object, no trailer) of every encoding.
fn samples() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let body_of = |v: &Value, compress: bool| {
        let p = dump_payload(v, compress);
        p[..p.len() - 10].to_vec()
    };
    let items: Vec<Vec<u8>> =
        (0..30).map(|i| if i % 3 == 0 { i.to_string() } else { format!("e{i}") }.into_bytes()).collect();
    let mut mixed = items.clone();
    mixed.insert(4, vec![b'P'; 120]);
    let mut ints = Set::new_for(b"1");
    for i in 0..10 {
        ints.add((i * 1000 - 3).to_string().as_bytes(), 512);
    }
    let mut words = Set::new_for(b"x");
    for i in 0..20 {
        words.add(format!("w{i}").as_bytes(), 512);
    }
    let values = [
        sv(b"some string value"),
        sv(b"123"),
        sv(b"-70000"),
        sv(&[b'a'; 80]),
        list_of(&items, 5, 1 << 30),
        list_of(&mixed, -2, 100),
        Value::Set(Box::new(ints)),
        Value::Set(Box::new(words)),
        hash_of(4, 2),
        hash_of(150, 2),
        zset_of(4),
        zset_of(200),
        stream_with_groups(),
    ];
    for v in &values {
        out.push(body_of(v, false));
        out.push(body_of(v, true));
    }
    // Legacy encodings Redis 7.0 still loads.
    let zl = build_ziplist(&[b"x", b"127", b"-5", b"70000", &[b'y'; 70], b"a"]);
    for t in [opcodes::TYPE_LIST_ZIPLIST, opcodes::TYPE_HASH_ZIPLIST, opcodes::TYPE_ZSET_ZIPLIST] {
        let mut b = vec![t];
        let entries: &[&[u8]] = if t == opcodes::TYPE_ZSET_ZIPLIST {
            &[b"b", b"2.5", b"a", b"-1", b"c", b"7"]
        } else {
            &[b"f1", b"v1", b"f2", b"12", b"f3", b"v3"]
        };
        let blob = if t == opcodes::TYPE_LIST_ZIPLIST { zl.clone() } else { build_ziplist(entries) };
        encode::put_string(&mut b, &blob, false);
        out.push(b);
    }
    let mut b = vec![opcodes::TYPE_LIST_QUICKLIST];
    encode::put_len(&mut b, 2);
    encode::put_string(&mut b, &zl, false);
    encode::put_string(&mut b, &build_ziplist(&[b"tail", b"3"]), false);
    out.push(b);
    let mut b = vec![opcodes::TYPE_HASH_ZIPMAP];
    encode::put_string(&mut b, &[2, 1, b'a', 2, 1, b'b', b'b', 0, 1, b'c', 0, 0, 0xFF], false);
    out.push(b);
    let mut is = IntSet::new();
    for n in [-5i64, 3, 1 << 20, 1 << 40] {
        is.insert(n);
    }
    let mut b = vec![opcodes::TYPE_SET_INTSET];
    encode::put_string(&mut b, &is.to_blob(), false);
    out.push(b);
    let mut b = vec![opcodes::TYPE_ZSET];
    encode::put_len(&mut b, 2);
    encode::put_string(&mut b, b"m", false);
    b.extend_from_slice(b"\x033.5");
    encode::put_string(&mut b, b"n", false);
    b.push(254);
    out.push(b);
    out
}

/// One random mutation of `p` (never empty afterwards unless truncated).
fn mutate(p: &mut Vec<u8>, rng: &mut Rng) {
    if p.is_empty() {
        return;
    }
    let i = rng.below(p.len() as u64) as usize;
    match rng.below(8) {
        0 => p[i] ^= 1 << rng.below(8),
        1 => p[i] = rng.next_u64() as u8,
        2 => p.truncate(i),
        // Length fields and counts: small nudges either way.
        3 => p[i] = p[i].wrapping_add(1 + rng.below(3) as u8),
        4 => p[i] = p[i].wrapping_sub(1 + rng.below(3) as u8),
        5 => p.insert(i, rng.next_u64() as u8),
        6 => {
            p.remove(i);
        }
        _ => {
            let n = (1 + rng.below(8) as usize).min(p.len() - i);
            let span = p[i..i + n].to_vec();
            let at = rng.below(p.len() as u64) as usize;
            p.splice(at..at, span);
        }
    }
}

/// Uses `v` as commands would, on a copy, checking its own bookkeeping.
fn exercise(v: &Value) {
    match v {
        Value::Str(s) => {
            let _ = s.to_vec();
        }
        Value::List(l) => {
            let n = l.len();
            assert_eq!(l.iter().count(), n);
            assert_eq!(l.iter_from(-1, false).count(), n);
            for i in [0, -1, n as i64 / 2] {
                assert!(l.get(i).is_some());
            }
            let mut c = (**l).clone();
            c.set(0, b"changed", 1 << 30);
            let mut popped = 0;
            while c.pop_back().is_some() {
                popped += 1;
            }
            assert_eq!(popped, n);
        }
        Value::Hash(h) => {
            let mut fields = Vec::new();
            h.for_each(|f, _| fields.push(f.to_vec()));
            assert_eq!(fields.len(), h.len());
            let mut c = (**h).clone();
            for f in &fields {
                assert!(h.get(f).is_some());
                assert!(c.delete(f));
            }
            assert!(c.is_empty());
        }
        Value::Set(s) => {
            let members: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
            assert_eq!(members.len(), s.len());
            let mut c = (**s).clone();
            for m in &members {
                assert!(c.remove(m));
            }
            assert!(c.is_empty());
        }
        Value::ZSet(z) => {
            let members: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
            assert_eq!(members.len(), z.len());
            assert_eq!(z.iter_from(z.len() - 1, true).count(), z.len());
            let mut c = (**z).clone();
            for (m, s) in &members {
                assert_eq!(z.score(m), Some(*s));
                assert!(c.remove(m));
            }
        }
        Value::Stream(st) => {
            let e = &st.entries;
            let fwd: Vec<StreamId> = e.range(StreamId::MIN, StreamId::MAX, false).map(|x| x.id()).collect();
            let mut rev: Vec<StreamId> = e.range(StreamId::MIN, StreamId::MAX, true).map(|x| x.id()).collect();
            rev.reverse();
            assert_eq!(fwd, rev);
            assert_eq!(fwd.len() as u64, e.length);
            for x in e.range(StreamId::MIN, StreamId::MAX, false) {
                assert_eq!(x.fields().count(), x.numfields());
            }
            let _ = (e.edge_id(true, false), e.edge_id(false, true), e.last_valid_id());
            for g in st.groups.values() {
                let _ = (e.estimate_distance(g.last_id), e.group_lag(g));
                for id in g.pel.keys() {
                    let _ = e.contains(*id);
                }
            }
            let mut c = (**st).clone();
            if let Some(first) = fwd.first() {
                assert!(c.entries.xdel(*first));
            }
            let nl = NodeLimits { max_bytes: 4096, max_entries: 3 };
            let _ = c.entries.append(&[b"f", b"v"], Some(IdArg::Id(StreamId::MAX)), 0, nl);
            c.entries.trim(&Trim { strategy: TrimStrategy::MaxLen(1), approx: false, limit: 0 });
            assert!(c.entries.range(StreamId::MIN, StreamId::MAX, false).count() <= 1);
        }
    }
}

#[test]
fn fuzz_restore_payloads_never_panic() {
    let samples = samples();
    for s in &samples {
        let v = decode_value(s, &lim()).unwrap_or_else(|e| panic!("sample refused: {e}"));
        exercise(&v);
    }
    // VIATOR_FUZZ_SEED / VIATOR_FUZZ_ROUNDS widen the search by hand.
    let env = |k: &str, d: u64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let mut rng = Rng::with_seed(env("VIATOR_FUZZ_SEED", 0x5EED_0DD5));
    let mut accepted = 0;
    for round in 0..env("VIATOR_FUZZ_ROUNDS", 60_000) as usize {
        let mut p = samples[round % samples.len()].clone();
        for _ in 0..1 + rng.below(3) {
            mutate(&mut p, &mut rng);
        }
        if let Ok(v) = decode_value(&p, &lim()) {
            accepted += 1;
            exercise(&v);
            let again = restore(&dump_payload(&v, true)).expect("re-encoded value loads");
            assert_eq!(again, v);
        }
    }
    // Mutations that keep a payload valid (string bytes, scores) happen.
    assert!(accepted > 1000, "only {accepted} accepted");
}
