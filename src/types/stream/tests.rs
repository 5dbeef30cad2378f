//! Stream storage tests: ID parsing, node splitting, trimming and ranges
//! checked against a naive sorted-vector model driven by a seeded RNG.

use super::*;

const LIMITS: NodeLimits = NodeLimits { max_bytes: 4096, max_entries: 100 };

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId::new(ms, seq)
}

fn add(e: &mut Entries, ms: u64, seq: u64, pairs: &[&[u8]]) -> Result<StreamId, AddError> {
    e.append(pairs, Some(IdArg::Id(id(ms, seq))), 0, LIMITS)
}

fn ids(r: Range<'_>) -> Vec<StreamId> {
    r.map(|e| e.id()).collect()
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn id_parsing_follows_redis() {
    assert_eq!(parse_id(b"-", 0, false, false), Some(IdArg::Id(StreamId::MIN)));
    assert_eq!(parse_id(b"+", 0, false, false), Some(IdArg::Id(StreamId::MAX)));
    assert_eq!(parse_id(b"-", 0, true, false), None);
    assert_eq!(parse_id(b"5", 7, false, false), Some(IdArg::Id(id(5, 7))));
    assert_eq!(parse_id(b"5-3", 7, false, false), Some(IdArg::Id(id(5, 3))));
    assert_eq!(parse_id(b"5-*", 0, true, true), Some(IdArg::MsOnly(5)));
    assert_eq!(parse_id(b"5-*", 0, true, false), None);
    assert_eq!(parse_id(b"18446744073709551615-18446744073709551615", 0, true, false), Some(IdArg::Id(StreamId::MAX)));
    assert_eq!(parse_id(b"18446744073709551616", 0, true, false), None);
    assert_eq!(parse_id(b"1-2-3", 0, true, false), None);
    assert_eq!(parse_id(b"abc", 0, true, false), None);
    assert_eq!(parse_id(b"", 0, true, false), None);
    assert_eq!(parse_id(&[b'1'; 200], 0, true, false), None);
    assert_eq!(StreamId::MAX.incr(), None);
    assert_eq!(StreamId::MIN.decr(), None);
    assert_eq!(id(1, u64::MAX).incr(), Some(id(2, 0)));
    assert_eq!(id(2, 0).decr(), Some(id(1, u64::MAX)));
    assert_eq!(id(12, 34).to_string(), "12-34");
}

#[test]
fn id_parser_survives_random_bytes() {
    let mut r = Rng(0x1234_5678_9ABC_DEF1);
    for _ in 0..5000 {
        let n = r.below(24) as usize;
        let s: Vec<u8> = (0..n).map(|_| b"0123456789-+* \0x"[r.below(16) as usize]).collect();
        let _ = parse_id(&s, r.next(), r.below(2) == 0, r.below(2) == 0);
    }
}

#[test]
fn generated_ids_follow_last_id() {
    let mut e = Entries::default();
    let a = e.append(&[b"f", b"v"], None, 100, LIMITS).unwrap();
    assert_eq!(a, id(100, 0));
    // Clock went backward: the sequence grows instead.
    let b = e.append(&[b"f", b"v"], None, 50, LIMITS).unwrap();
    assert_eq!(b, id(100, 1));
    assert_eq!(e.append(&[b"f", b"v"], Some(IdArg::MsOnly(100)), 0, LIMITS), Ok(id(100, 2)));
    assert_eq!(e.append(&[b"f", b"v"], Some(IdArg::MsOnly(99)), 0, LIMITS), Err(AddError::NotGreater));
    assert_eq!(e.append(&[b"f", b"v"], Some(IdArg::MsOnly(200)), 0, LIMITS), Ok(id(200, 0)));
    assert_eq!(add(&mut e, 200, 0, &[b"f", b"v"]), Err(AddError::NotGreater));
    add(&mut e, 300, u64::MAX, &[b"f", b"v"]).unwrap();
    assert_eq!(e.append(&[b"f", b"v"], Some(IdArg::MsOnly(300)), 0, LIMITS), Err(AddError::NotGreater));
    add(&mut e, u64::MAX, u64::MAX, &[b"f", b"v"]).unwrap();
    assert_eq!(e.append(&[b"f", b"v"], None, 5, LIMITS), Err(AddError::NotGreater));
    assert_eq!(e.length, 6);
    assert_eq!(e.entries_added, 6);
    assert_eq!(e.first_id, id(100, 0));
}

#[test]
fn nodes_split_on_entries_and_bytes() {
    let mut e = Entries::default();
    for i in 0..250 {
        add(&mut e, i + 1, 0, &[b"item", b"x"]).unwrap();
    }
    assert_eq!(e.node_count(), 3);
    // Tombstones still count toward a node's entries.
    let mut e = Entries::default();
    let lim = NodeLimits { max_bytes: 4096, max_entries: 2 };
    e.append(&[b"a", b"1"], Some(IdArg::Id(id(1, 0))), 0, lim).unwrap();
    e.append(&[b"a", b"1"], Some(IdArg::Id(id(2, 0))), 0, lim).unwrap();
    assert!(e.xdel(id(2, 0)));
    e.append(&[b"a", b"1"], Some(IdArg::Id(id(3, 0))), 0, lim).unwrap();
    assert_eq!(e.node_count(), 2);
    // Large values fill a node by bytes.
    let mut e = Entries::default();
    let big = vec![b'v'; 1000];
    for i in 0..10 {
        add(&mut e, i + 1, 0, &[b"f", &big]).unwrap();
    }
    assert_eq!(e.node_count(), 3);
    assert_eq!(ids(e.range(StreamId::MIN, StreamId::MAX, false)).len(), 10);
}

#[test]
fn xdel_bookkeeping_and_node_removal() {
    let mut e = Entries::default();
    for i in 1..=5 {
        add(&mut e, i, 0, &[b"data", b"a"]).unwrap();
    }
    assert!(e.xdel(id(2, 0)));
    assert!(!e.xdel(id(2, 0)));
    assert_eq!(e.first_id, id(1, 0));
    assert!(e.xdel(id(1, 0)));
    assert_eq!(e.first_id, id(3, 0));
    assert_eq!(e.max_deleted_entry_id, id(2, 0));
    assert_eq!(e.length, 3);
    for i in 3..=5 {
        assert!(e.xdel(id(i, 0)));
    }
    assert_eq!(e.node_count(), 0);
    assert_eq!(e.first_id, StreamId::MIN);
    assert_eq!(e.last_id, id(5, 0));
    assert_eq!(e.last_valid_id(), None);
}

#[test]
fn trimming_matches_redis_examples() {
    // MAXLEN ~ with 100-entry nodes keeps whole nodes: 1000 -> 600 for 555.
    let mut e = Entries::default();
    for i in 0..1000 {
        add(&mut e, i + 1, 0, &[b"xitem", b"1"]).unwrap();
    }
    let n = e.trim(&Trim { strategy: TrimStrategy::MaxLen(555), approx: true, limit: 10_000 });
    assert_eq!(n, 400);
    assert_eq!(e.length, 600);
    // Exact MAXLEN.
    e.trim(&Trim { strategy: TrimStrategy::MaxLen(555), approx: false, limit: 0 });
    assert_eq!(e.length, 555);
    assert_eq!(e.first_id, id(446, 0));
    // MINID exact.
    e.trim(&Trim { strategy: TrimStrategy::MinId(id(900, 0)), approx: false, limit: 0 });
    assert_eq!(e.first_id, id(900, 0));
    assert_eq!(e.length, 101);
    // LIMIT stops before a node that would exceed it.
    let mut e = Entries::default();
    for i in 0..100 {
        e.append(&[b"x", b"v"], Some(IdArg::Id(id(i + 1, 0))), 0, NodeLimits { max_bytes: 4096, max_entries: 10 })
            .unwrap();
    }
    e.trim(&Trim { strategy: TrimStrategy::MaxLen(55), approx: true, limit: 30 });
    assert_eq!(e.length, 70);
}

#[test]
fn lag_and_distance_follow_tombstones() {
    let mut e = Entries::default();
    for i in 1..=5 {
        add(&mut e, i, 0, &[b"data", b"a"]).unwrap();
    }
    let mut g = Group::new(StreamId::MIN, group::ENTRIES_READ_INVALID);
    assert_eq!(e.group_lag(&g), Some(5));
    e.advance_group(&mut g, id(1, 0));
    assert_eq!(g.entries_read, 1);
    assert_eq!(e.group_lag(&g), Some(4));
    e.xdel(id(3, 0));
    let mut g2 = Group::new(StreamId::MIN, group::ENTRIES_READ_INVALID);
    assert_eq!(e.group_lag(&g2), None);
    e.advance_group(&mut g2, id(1, 0));
    assert_eq!(g2.entries_read, -1);
    e.advance_group(&mut g2, id(5, 0));
    assert_eq!(g2.entries_read, 5);
    assert_eq!(e.group_lag(&g2), Some(0));
}

/// Random appends, deletes and trims against a sorted vector; ranges in both
/// directions must agree after every step.
#[test]
fn ranges_match_a_naive_model() {
    for seed in 1..=6u64 {
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let lim = NodeLimits { max_bytes: 200 + r.below(600), max_entries: 1 + r.below(12) as i64 };
        let mut e = Entries::default();
        let mut model: Vec<(StreamId, Vec<u8>)> = Vec::new();
        let mut ms = 1u64;
        for step in 0..1500 {
            match r.below(10) {
                0..=5 => {
                    ms += r.below(3);
                    let seq = if model.last().is_some_and(|(l, _)| l.ms == ms) { None } else { Some(r.below(5)) };
                    let arg = match seq {
                        Some(s) => IdArg::Id(id(ms, s)),
                        None => IdArg::MsOnly(ms),
                    };
                    let val = format!("v{step}").into_bytes();
                    let f: &[u8] = if r.below(4) == 0 { b"other" } else { b"f" };
                    let last = e.last_id;
                    match e.append(&[f, &val], Some(arg), 0, lim) {
                        Ok(new) => {
                            assert!(new > last);
                            model.push((new, val));
                        }
                        Err(err) => {
                            assert_eq!(err, AddError::NotGreater);
                            assert!(matches!(arg, IdArg::Id(x) if x <= last));
                        }
                    }
                }
                6 | 7 if !model.is_empty() => {
                    let i = r.below(model.len() as u64) as usize;
                    let (victim, _) = model.remove(i);
                    assert!(e.xdel(victim));
                }
                8 if !model.is_empty() => {
                    let keep = r.below(model.len() as u64 + 2);
                    let approx = r.below(2) == 0;
                    e.trim(&Trim { strategy: TrimStrategy::MaxLen(keep), approx, limit: 0 });
                    // Whatever got trimmed came from the head.
                    let live = ids(e.range(StreamId::MIN, StreamId::MAX, false));
                    let cut = model.len() - live.len();
                    model.drain(..cut);
                    if !approx {
                        assert!(model.len() as u64 <= keep);
                    }
                }
                _ => {}
            }
            assert_eq!(e.length as usize, model.len());
            if step % 25 == 0 || step > 1450 {
                let a = id(r.below(ms + 2), r.below(6));
                let b = id(r.below(ms + 2), r.below(6));
                let expect: Vec<StreamId> = model.iter().map(|(x, _)| *x).filter(|x| *x >= a && *x <= b).collect();
                assert_eq!(ids(e.range(a, b, false)), expect, "seed {seed} step {step} {a}..{b}");
                let mut rev = expect.clone();
                rev.reverse();
                assert_eq!(ids(e.range(a, b, true)), rev);
                let all: Vec<StreamId> = model.iter().map(|(x, _)| *x).collect();
                assert_eq!(ids(e.range(StreamId::MIN, StreamId::MAX, false)), all);
                assert_eq!(e.first_id, model.first().map_or(StreamId::MIN, |(x, _)| *x));
                // Values survive.
                for (entry, (mid, val)) in e.range(StreamId::MIN, StreamId::MAX, false).zip(&model) {
                    assert_eq!(entry.id(), *mid);
                    let (_, v) = entry.fields().next().unwrap();
                    assert!(v.eq_bytes(val));
                }
            }
        }
    }
}
