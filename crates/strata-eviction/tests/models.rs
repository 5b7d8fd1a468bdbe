//! Each policy against a simple reference model on random traces.

use proptest::prelude::*;
use strata_eviction::{EvictionError, EvictionPolicy, Evictor, Limits};

#[derive(Debug, Clone)]
enum Op {
    Insert {
        key: u8,
        size: u64,
        ttl: Option<u64>,
    },
    Touch(u8),
    Remove(u8),
    Expire(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..24, 1u64..40, proptest::option::of(1u64..100))
            .prop_map(|(key, size, ttl)| Op::Insert { key, size, ttl }),
        3 => (0u8..24).prop_map(Op::Touch),
        1 => (0u8..24).prop_map(Op::Remove),
        1 => (0u64..20).prop_map(Op::Expire),
    ]
}

/// The obvious implementation: a vector in write (or access) order, scanned linearly.
#[derive(Default)]
struct Model {
    /// (key, size, expires_at or MAX, write order); kept in recency order for LRU.
    entries: Vec<(u8, u64, u64, u64)>,
    seq: u64,
}

impl Model {
    fn bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.1).sum()
    }
    fn remove(&mut self, key: u8) -> Option<u64> {
        let i = self.entries.iter().position(|e| e.0 == key)?;
        Some(self.entries.remove(i).1)
    }
    fn victim(&self, policy: EvictionPolicy) -> Option<u8> {
        match policy {
            EvictionPolicy::Lru => self.entries.first().map(|e| e.0),
            EvictionPolicy::Ttl => self.entries.iter().min_by_key(|e| (e.2, e.3)).map(|e| e.0),
            _ => None,
        }
    }
}

fn run_against_model(
    policy: EvictionPolicy,
    limits: Limits,
    ops: Vec<Op>,
) -> Result<(), TestCaseError> {
    let mut ev = Evictor::with_seed(policy, limits, 1);
    let mut model = Model::default();
    let mut now = 0u64;
    for op in ops {
        match op {
            Op::Insert { key, size, ttl } => {
                let expires = ttl.map(|t| now + t);
                let got = ev.insert(key, size, expires);
                if limits.max_bytes.is_some_and(|m| size > m) {
                    let too_large = matches!(got, Err(EvictionError::EntryTooLarge { .. }));
                    prop_assert!(too_large);
                    continue;
                }
                model.remove(key);
                let mut want = Vec::new();
                while !limits.admits(model.entries.len() as u64 + 1, model.bytes() + size) {
                    let v = model.victim(policy).unwrap();
                    model.remove(v);
                    want.push(v);
                }
                model.seq += 1;
                model
                    .entries
                    .push((key, size, expires.unwrap_or(u64::MAX), model.seq));
                prop_assert_eq!(got.unwrap(), want);
            }
            Op::Touch(key) => {
                let present = model.entries.iter().position(|e| e.0 == key);
                if let Some(i) = present {
                    let e = model.entries.remove(i);
                    model.entries.push(e);
                }
                prop_assert_eq!(ev.touch(&key), present.is_some());
            }
            Op::Remove(key) => prop_assert_eq!(ev.remove(&key), model.remove(key)),
            Op::Expire(step) => {
                now += step;
                let mut want: Vec<_> = model
                    .entries
                    .iter()
                    .filter(|e| e.2 <= now)
                    .map(|e| (e.2, e.3, e.0))
                    .collect();
                want.sort();
                let want: Vec<u8> = want.into_iter().map(|w| w.2).collect();
                for k in &want {
                    model.remove(*k);
                }
                prop_assert_eq!(ev.pop_expired(now, usize::MAX), want);
            }
        }
        prop_assert_eq!(ev.len(), model.entries.len());
        prop_assert_eq!(ev.bytes(), model.bytes());
        prop_assert!(limits.admits(ev.len() as u64, ev.bytes()));
    }
    Ok(())
}

fn limits() -> impl Strategy<Value = Limits> {
    (
        proptest::option::of(1u64..10),
        proptest::option::of(20u64..200),
    )
        .prop_map(|(e, b)| {
            let mut l = Limits::default();
            if let Some(e) = e {
                l = l.with_max_entries(e);
            }
            if let Some(b) = b {
                l = l.with_max_bytes(b);
            }
            l
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn lru_matches_an_exact_recency_list(limits in limits(), ops in proptest::collection::vec(op(), 1..200)) {
        run_against_model(EvictionPolicy::Lru, limits, ops)?;
    }

    #[test]
    fn ttl_matches_a_shortest_expiry_scan(limits in limits(), ops in proptest::collection::vec(op(), 1..200)) {
        run_against_model(EvictionPolicy::Ttl, limits, ops)?;
    }

    #[test]
    fn random_keeps_limits_and_accounting(limits in limits(), seed in any::<u64>(),
                                          ops in proptest::collection::vec(op(), 1..200)) {
        let mut ev = Evictor::with_seed(EvictionPolicy::Random, limits, seed);
        let mut present = std::collections::HashMap::new();
        for op in ops {
            match op {
                Op::Insert { key, size, ttl } => {
                    if let Ok(victims) = ev.insert(key, size, ttl) {
                        for v in victims {
                            prop_assert!(v != key);
                            prop_assert!(present.remove(&v).is_some(), "victim {} was not present", v);
                        }
                        present.insert(key, size);
                    }
                }
                Op::Touch(key) => prop_assert_eq!(ev.touch(&key), present.contains_key(&key)),
                Op::Remove(key) => prop_assert_eq!(ev.remove(&key), present.remove(&key)),
                Op::Expire(_) => {}
            }
            prop_assert_eq!(ev.len(), present.len());
            prop_assert_eq!(ev.bytes(), present.values().sum::<u64>());
            prop_assert!(limits.admits(ev.len() as u64, ev.bytes()));
        }
    }
}

#[test]
fn random_is_uniform() {
    const KEYS: u32 = 10;
    const TRIALS: u32 = 20_000;
    let mut counts = [0u32; KEYS as usize];
    let mut ev = Evictor::with_seed(
        EvictionPolicy::Random,
        Limits::default().with_max_entries(u64::from(KEYS)),
        42,
    );
    for k in 0..KEYS {
        ev.insert(k, 1, None).unwrap();
    }
    for _ in 0..TRIALS {
        let victims = ev.insert(KEYS, 1, None).unwrap();
        counts[victims[0] as usize] += 1;
        ev.remove(&KEYS);
        ev.insert(victims[0], 1, None).unwrap();
    }
    // Chi-square with 9 degrees of freedom: 27.9 is the 0.1 % critical value.
    let expected = f64::from(TRIALS / KEYS);
    let chi2: f64 = counts
        .iter()
        .map(|&c| (f64::from(c) - expected).powi(2) / expected)
        .sum();
    assert!(
        chi2 < 27.9,
        "victim counts {counts:?} are not uniform (chi2 {chi2:.1})"
    );
}

#[test]
fn seeded_random_is_repeatable() {
    let run = |seed| {
        let mut ev = Evictor::with_seed(
            EvictionPolicy::Random,
            Limits::default().with_max_entries(5),
            seed,
        );
        (0..100u32)
            .flat_map(|k| ev.insert(k, 1, None).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(9), run(9));
    assert_ne!(run(9), run(10));
}

#[test]
fn oversized_entries_and_zero_capacity_are_refused_without_changes() {
    let mut ev = Evictor::new(EvictionPolicy::Lru, Limits::default().with_max_bytes(100));
    ev.insert("a", 60, None).unwrap();
    let err = ev.insert("b", 101, None).unwrap_err();
    assert!(
        err.to_string()
            .contains("larger than the byte limit of 100"),
        "{err}"
    );
    assert!(ev.contains(&"a"));
    let mut zero = Evictor::new(EvictionPolicy::Ttl, Limits::default().with_max_entries(0));
    assert_eq!(zero.insert("a", 1, None), Err(EvictionError::ZeroCapacity));
}

#[test]
fn policies_parse_from_config_names() {
    assert_eq!(
        "LRU".parse::<EvictionPolicy>().unwrap(),
        EvictionPolicy::Lru
    );
    assert_eq!(
        "ttl".parse::<EvictionPolicy>().unwrap(),
        EvictionPolicy::Ttl
    );
    let err = "lfu".parse::<EvictionPolicy>().unwrap_err();
    assert!(err.to_string().contains("\"lfu\""));
}
