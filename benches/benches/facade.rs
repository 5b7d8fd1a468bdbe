//! The facade: L1 hits (with and without the hot-key sketch, with analytics on and off: one key,
//! and 1,000 keys in turn) against a raw moka get of the same `Arc`, a raw quick_cache get (the
//! L1's store) and the `cached` crate's sharded in-memory LRU store, and get_many(100) against 100 sequential gets. L2 hits under
//! concurrency (throughput and percentiles) are in `load.rs`.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;
use std::sync::Arc;

use cached::ConcurrentCached;
use criterion::{Criterion, criterion_group, criterion_main};
use strata::{Cache, CacheBuilder, CacheConfig, RedisBackend, RedisBus, RedisConfig};
use strata_benches::runtime;
use strata_benches::{UserWithProfile, user};

/// A cache built from `config` (prefix "bench", no metrics) holding users 0..1,000 and 42.
fn variant(
    rt: &tokio::runtime::Runtime,
    config: CacheConfig,
) -> (strata::Cache, strata::KindCache<UserWithProfile>) {
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

fn l1_hit(c: &mut Criterion) {
    let rt = runtime();
    let (_cache, users) = variant(&rt, CacheConfig::default());
    // Without the hot-key sketch, and with analytics off: what each costs the hit.
    let mut config = CacheConfig::default();
    config.hot_keys.enabled = false;
    let (_no_sketch, users_no_sketch) = variant(&rt, config);
    let (_plain, plain_users) = variant(
        &rt,
        CacheConfig::from_toml_str("[analytics]\nenabled = false\n").expect("config"),
    );
    let key = users.key(42).expect("key");
    let value = rt.block_on(users.get(42)).expect("get").expect("cached");
    let moka: moka::future::Cache<strata::Key, Arc<UserWithProfile>> =
        moka::future::Cache::new(10_000);
    rt.block_on(moka.insert(key.clone(), value.clone()));
    let quick: quick_cache::sync::Cache<strata::Key, Arc<UserWithProfile>> =
        quick_cache::sync::Cache::new(10_000);
    quick.insert(key.clone(), value.clone());
    let sharded: cached::ShardedLruCache<strata::Key, Arc<UserWithProfile>> =
        cached::ShardedLruCache::builder()
            .max_size(10_000)
            .build()
            .expect("cached store");
    sharded.cache_set(key.clone(), value).expect("cached set");

    let sampled = strata::stats::mrc::sample_hash(key.as_str()) < u64::MAX / 10;
    eprintln!(
        "facade_l1_hit: key {key} is {}sampled at the initial rate 0.1",
        if sampled { "" } else { "not " }
    );

    let mut g = c.benchmark_group("facade_l1_hit");
    g.bench_function("facade_get_by_id_analytics_off", |b| {
        b.to_async(&rt)
            .iter(|| async { plain_users.get(black_box(42)).await.expect("get") })
    });
    // 1,000 keys in turn: about a tenth of them sampled, as in a real key space.
    for (name, kind) in [
        ("facade_get_1000_ids", &users),
        ("facade_get_1000_ids_analytics_off", &plain_users),
    ] {
        g.bench_function(name, |b| {
            let mut i = 0u64;
            b.to_async(&rt).iter(|| {
                i = (i + 1) % 1_000;
                let id = i;
                async move { kind.get(black_box(id)).await.expect("get") }
            })
        });
    }
    g.bench_function("facade_get_by_id", |b| {
        b.to_async(&rt)
            .iter(|| async { users.get(black_box(42)).await.expect("get") })
    });
    g.bench_function("facade_get_by_id_no_sketch", |b| {
        b.to_async(&rt)
            .iter(|| async { users_no_sketch.get(black_box(42)).await.expect("get") })
    });
    g.bench_function("facade_get_at_key", |b| {
        b.to_async(&rt)
            .iter(|| async { users.get_at(black_box(&key)).await.expect("get") })
    });
    g.bench_function("raw_moka_get", |b| {
        b.to_async(&rt)
            .iter(|| async { moka.get(black_box(&key)).await })
    });
    g.bench_function("raw_quick_cache_get", |b| {
        b.to_async(&rt)
            .iter(|| async { quick.get(black_box(&key)) })
    });
    g.bench_function("cached_crate_get", |b| {
        b.to_async(&rt)
            .iter(|| async { sharded.cache_get(black_box(&key)).expect("cached get") })
    });
    g.finish();
}

fn redis_groups(c: &mut Criterion) {
    let server = match strata_testkit::RedisServer::spawn() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("SKIPPED facade Redis benches: {e}");
            return;
        }
    };
    let rt = runtime();
    let cache: Cache = rt.block_on(async {
        let config = RedisConfig::new(server.url()).with_namespace("bench:");
        let backend = RedisBackend::connect(config.clone())
            .await
            .expect("connect");
        // As deployed with Redis: the bus keeps the kind's generation in step, so an L2 hit
        // is one round trip.
        let bus = RedisBus::new(&config).expect("bus");
        CacheBuilder::new()
            .prefix("bench")
            .metrics(false)
            .l1(false)
            .backend(Arc::new(backend))
            .bus(Arc::new(bus))
            .build()
            .await
            .expect("cache")
    });
    let users = cache.kind::<UserWithProfile>("user").expect("kind");
    rt.block_on(users.set_many((0..100u64).map(|i| (i, user(i))).collect()))
        .expect("set_many");
    let ids: Vec<u64> = (0..100).collect();
    let mut g = c.benchmark_group("facade_batch");
    g.bench_function("get_many_100", |b| {
        b.to_async(&rt)
            .iter(|| async { users.get_many(black_box(&ids)).await.expect("get_many") })
    });
    g.bench_function("sequential_get_100", |b| {
        b.to_async(&rt).iter(|| async {
            for id in &ids {
                black_box(users.get(*id).await.expect("get"));
            }
        })
    });
    g.finish();
    drop(server);
}

criterion_group!(facade, l1_hit, redis_groups);
criterion_main!(facade);
