//! The L1 hit as a plain loop, for instruction counts under callgrind (deterministic on a busy
//! machine, where criterion's timings are not):
//!
//! ```text
//! cargo build --profile bench -p strata-benches --example l1_count
//! valgrind --tool=callgrind target/release/examples/l1_count facade_get_by_id 20000
//! valgrind --tool=callgrind target/release/examples/l1_count facade_get_by_id 120000
//! ```
//!
//! The difference of the two totals over 100,000 is the instructions of one hit, the setup
//! (building the cache, filling it) subtracted; docs/benchmarks.md ("L1 hit") has the figures.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use strata::{CacheBuilder, CacheConfig, KindCache};
use strata_benches::{UserWithProfile, user};

/// Every variant `l1_count` runs, in report order.
const VARIANTS: &[&str] = &[
    "raw_moka_get",
    "raw_quick_cache_get",
    "l1_store_get",
    "facade_get_at_key",
    "facade_get_by_id",
    "facade_get_by_id_analytics_off",
    "facade_get_by_id_no_sketch",
    "facade_get_1000_ids",
    "facade_get_1000_ids_analytics_off",
];

fn kind(
    rt: &tokio::runtime::Runtime,
    config: CacheConfig,
) -> (strata::Cache, KindCache<UserWithProfile>) {
    let cache = rt
        .block_on(
            CacheBuilder::from_config(config)
                .prefix("bench")
                .metrics(false)
                .build(),
        )
        .expect("cache");
    let users = cache.kind::<UserWithProfile>("user").expect("kind");
    rt.block_on(users.set_many((0..1_000u64).map(|i| (i, user(i))).collect()))
        .expect("set_many");
    (cache, users)
}

fn config_for(variant: &str) -> CacheConfig {
    let mut config = CacheConfig::default();
    if variant.ends_with("analytics_off") {
        config = CacheConfig::from_toml_str("[analytics]\nenabled = false\n").expect("config");
    }
    if variant.ends_with("no_sketch") {
        config.hot_keys.enabled = false;
    }
    config
}

fn main() {
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_default();
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    if !VARIANTS.contains(&variant.as_str()) {
        eprintln!(
            "usage: l1_count VARIANT [ITERATIONS]; variants: {}",
            VARIANTS.join(" ")
        );
        std::process::exit(2);
    }
    // The bench's runtime, so that the loop runs as criterion's `to_async` runs it.
    let rt = strata_benches::runtime();
    let (_cache, users) = kind(&rt, config_for(&variant));
    let key = users.key(42).expect("key");
    let value: Arc<UserWithProfile> = rt.block_on(users.get(42)).expect("get").expect("cached");
    let mut found = 0u64;
    match variant.as_str() {
        "raw_moka_get" => {
            let moka: moka::future::Cache<strata::Key, Arc<UserWithProfile>> =
                moka::future::Cache::new(10_000);
            rt.block_on(async {
                moka.insert(key.clone(), value).await;
                for _ in 0..n {
                    found += u64::from(moka.get(black_box(&key)).await.is_some());
                }
            });
        }
        "raw_quick_cache_get" => {
            let qc: quick_cache::sync::Cache<strata::Key, Arc<UserWithProfile>> =
                quick_cache::sync::Cache::new(10_000);
            qc.insert(key.clone(), value);
            rt.block_on(async {
                for _ in 0..n {
                    found += u64::from(qc.get(black_box(&key)).is_some());
                }
            });
        }
        "l1_store_get" => {
            let l1 = strata_l1::L1::new(strata_l1::L1Config::default());
            let entry = strata_l1::L1Entry::new(
                Some(value),
                strata::EntryMeta::default(),
                600,
                std::time::Duration::from_secs(60),
            );
            rt.block_on(async {
                l1.insert(key.clone(), entry).await;
                for _ in 0..n {
                    let hit = l1.get(black_box(&key)).await;
                    found +=
                        u64::from(hit.is_some_and(|e| e.into_value::<UserWithProfile>().is_ok()));
                }
            });
        }
        "facade_get_at_key" => rt.block_on(async {
            for _ in 0..n {
                found += u64::from(users.get_at(black_box(&key)).await.expect("get").is_some());
            }
        }),
        v if v.contains("1000_ids") => rt.block_on(async {
            for i in 0..n {
                found += u64::from(
                    users
                        .get(black_box(i % 1_000))
                        .await
                        .expect("get")
                        .is_some(),
                );
            }
        }),
        _ => rt.block_on(async {
            for _ in 0..n {
                found += u64::from(users.get(black_box(42u64)).await.expect("get").is_some());
            }
        }),
    }
    assert_eq!(found, n, "every lookup must hit");
}
