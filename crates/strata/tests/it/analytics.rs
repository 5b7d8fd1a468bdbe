//! Analytics on a seeded workload: each tier's misses by cause add up to its misses, with
//! "unknown" at most 1 %, and the L2 entry sample and the miss-ratio curve are filled.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use strata::stats::MissCause;
use strata::{CacheBuilder, CacheConfig, Clock, Limits, MemoryBackend, MemoryConfig};

/// Keys of the workload, requests, and the Zipf exponent of their popularity.
const KEYS: u64 = 3_000;
const REQUESTS: usize = 30_000;

/// Zipf(0.9) ranks over `0..KEYS` by inverse CDF.
fn zipf_cdf() -> Vec<f64> {
    let mut total = 0.0;
    (1..=KEYS)
        .map(|r| {
            total += 1.0 / (r as f64).powf(0.9);
            total
        })
        .collect()
}

/// Runs the workload on a cache sampling `rate` of the keys; returns the kind's snapshot.
async fn run(rate: f64) -> strata::KindSnapshot {
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"an\"\nmetrics = false\njitter = 0.0\ndefault_ttl = \"60s\"\n\
         [l1]\nmax_entries = 300\nmax_bytes = 300000\n\
         [analytics]\nsample_rate = {rate}\nsample_keys = 8192\n"
    ))
    .unwrap();
    // The backend holds half the keys: it evicts, as a quota would.
    let backend = MemoryBackend::new(
        MemoryConfig::default()
            .with_namespace("an:")
            .with_limits(Limits::default().with_max_entries(1_500)),
    )
    .unwrap();
    let clock = Clock::manual();
    let cache = CacheBuilder::from_config(config)
        .backend(Arc::new(backend))
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    let items = cache.kind::<u64>("item").unwrap();
    let cdf = zipf_cdf();
    let total = *cdf.last().unwrap();
    let mut rng = SmallRng::seed_from_u64(26);
    for i in 0..REQUESTS {
        let u = rng.random::<f64>() * total;
        let k = cdf.partition_point(|c| *c < u) as u64;
        // Some keys' loads fail: nothing is stored for them.
        let _ = items
            .get_or_load(k, || async move {
                if k % 50 == 7 {
                    Err("the source failed".to_string())
                } else {
                    Ok(k)
                }
            })
            .await;
        if i % 97 == 0 {
            items.delete(rng.random_range(0..100u64)).await.unwrap();
        }
        if i % 1_000 == 999 {
            clock.advance(Duration::from_secs(20));
        }
        if i % 12_000 == 11_999 {
            cache.clear_kind("item").await.unwrap();
        }
    }
    cache.admin().stats().kinds["item"].clone()
}

fn check_sums(k: &strata::KindSnapshot) {
    for (tier, misses, causes) in [
        ("l1", k.l1.misses, &k.misses_by_cause.l1),
        ("l2", k.l2.misses, &k.misses_by_cause.l2),
    ] {
        assert!(misses > 1_000, "{tier}: a workload that misses: {misses}");
        let sum: u64 = causes.causes.iter().map(|(_, n)| n).sum();
        assert_eq!(
            sum, misses,
            "{tier}: the causes add up to the misses: {causes:?}"
        );
        assert_eq!(causes.total, misses);
        let unknown = causes.of(MissCause::Unknown);
        assert!(
            unknown * 100 <= misses,
            "{tier}: unknown {unknown} of {misses} misses: {causes:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_miss_has_a_cause_when_every_key_is_sampled() {
    let k = run(1.0).await;
    check_sums(&k);
    let (l1, l2) = (&k.misses_by_cause.l1, &k.misses_by_cause.l2);
    assert_eq!(
        l1.estimated + l2.estimated,
        0,
        "every key sampled: nothing estimated"
    );
    for cause in [
        MissCause::Cold,
        MissCause::EvictedL1,
        MissCause::Expired,
        MissCause::Invalidated,
        MissCause::Absent,
    ] {
        assert!(l1.of(cause) > 0, "L1 sees {cause:?}: {l1:?}");
    }
    for cause in [
        MissCause::Cold,
        MissCause::EvictedQuota,
        MissCause::Expired,
        MissCause::Invalidated,
        MissCause::Absent,
    ] {
        assert!(l2.of(cause) > 0, "L2 sees {cause:?}: {l2:?}");
    }
    assert_eq!(l1.of(MissCause::EvictedQuota), 0, "L1 has no quota");
    assert_eq!(l2.of(MissCause::EvictedL1), 0);
    // The L2 sample, the loader time saved and the curve.
    assert_eq!(
        k.entries.entries,
        k.l2.hits + l2.of(MissCause::Expired),
        "{:?}",
        k.entries
    );
    assert!(k.entries.age_in_l2.iter().map(|b| b.entries).sum::<u64>() == k.entries.entries);
    let curve = k.mrc.as_ref().expect("a curve with L1 on");
    assert_eq!(curve.estimate, "lru");
    assert_eq!(curve.points.len(), 5);
    let ratios: Vec<f64> = curve.points.iter().map(|p| p.hit_ratio.unwrap()).collect();
    assert!(ratios.windows(2).all(|w| w[0] <= w[1]), "{ratios:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_causes_add_up_with_the_default_sample() {
    let k = run(0.1).await;
    check_sums(&k);
    assert!(
        k.misses_by_cause.l1.estimated > 0,
        "keys outside the sample are shared out"
    );
}
