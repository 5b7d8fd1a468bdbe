//! The per-kind hot-key sketch on the read path: `[hot_keys]`, `[kinds.<kind>] hot_keys`,
//! `Admin::hottest`.

use crate::common;

use std::collections::HashSet;

use strata::{CacheBuilder, CacheConfig};

/// Ranks of a seeded Zipf(0.9) trace over `keys` keys (rank 0 the most asked for).
pub(crate) fn zipf(keys: usize, len: usize, seed: u64) -> Vec<u64> {
    let cdf: Vec<f64> = (1..=keys)
        .scan(0.0, |sum, r| {
            *sum += 1.0 / (r as f64).powf(0.9);
            Some(*sum)
        })
        .collect();
    let total = cdf[keys - 1];
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64 * total;
            cdf.partition_point(|c| *c < u).min(keys - 1) as u64
        })
        .collect()
}

#[tokio::test]
async fn the_sketch_finds_the_keys_asked_for_most() {
    let cache = common::from_toml("[hot_keys]\nsample_every = 1\ncapacity = 64").await;
    let users = cache.kind::<u64>("user").unwrap();
    for id in 0..500u64 {
        users.set(id, id).await.unwrap();
    }
    for id in zipf(500, 20_000, 3) {
        users.get(id).await.unwrap();
    }
    let top: HashSet<String> = cache
        .admin()
        .hottest("user", 5)
        .into_iter()
        .map(|h| h.key.to_string())
        .collect();
    let expected: HashSet<String> = (0..5)
        .map(|id| users.key(id).unwrap().to_string())
        .collect();
    assert_eq!(top, expected);
    let hottest = &cache.admin().hottest("user", 1)[0];
    assert!(hottest.count > 1_000, "{hottest:?}");
    assert!(cache.admin().hottest("order", 5).is_empty());
}

#[tokio::test]
async fn a_kind_can_turn_its_sketch_off() {
    let cache =
        common::from_toml("[hot_keys]\nsample_every = 1\n[kinds.session]\nhot_keys = false\n")
            .await;
    for kind in ["session", "user"] {
        let k = cache.kind::<u64>(kind).unwrap();
        k.set(1, 1).await.unwrap();
        k.get(1).await.unwrap();
    }
    assert!(cache.admin().hottest("session", 5).is_empty());
    assert_eq!(cache.admin().hottest("user", 5).len(), 1);
    let off = CacheBuilder::from_config(
        CacheConfig::from_toml_str("[hot_keys]\nenabled = false\n").unwrap(),
    )
    .metrics(false)
    .build()
    .await
    .unwrap();
    let k = off.kind::<u64>("user").unwrap();
    k.set(1, 1).await.unwrap();
    k.get(1).await.unwrap();
    assert!(off.admin().hottest("user", 5).is_empty());
}

#[test]
fn bad_sketch_settings_are_refused_naming_the_key() {
    for (toml, key) in [
        ("[hot_keys]\ncapacity = 0", "hot_keys.capacity"),
        ("[hot_keys]\ncapacity = 1000000", "hot_keys.capacity"),
        ("[hot_keys]\nsample_every = 0", "hot_keys.sample_every"),
    ] {
        let err = CacheConfig::from_toml_str(toml).unwrap_err().to_string();
        assert!(err.contains(key), "{toml}: {err}");
    }
}
