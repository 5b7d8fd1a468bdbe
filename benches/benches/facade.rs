//! The facade: L1 hits (with and without the hot-key sketch) against a raw moka get of the same
//! `Arc` and the `cached` crate's sharded in-memory LRU store, and get_many(100) against 100
//! sequential gets. L2 hits under concurrency (throughput and percentiles) are in `load.rs`.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;
use std::sync::Arc;

use cached::ConcurrentCached;
use criterion::{Criterion, criterion_group, criterion_main};
use strata::{Cache, CacheBuilder, RedisBackend, RedisBus, RedisConfig};
use strata_benches::runtime;
use strata_benches::{UserWithProfile, user};

fn l1_hit(c: &mut Criterion) {
    let rt = runtime();
    let cache = rt
        .block_on(CacheBuilder::new().prefix("bench").metrics(false).build())
        .expect("cache");
    let users = cache.kind::<UserWithProfile>("user").expect("kind");
    rt.block_on(users.set(42, user(42))).expect("set");
    // The same cache without the hot-key sketch: what sampling it costs the hit.
    let mut config = cache.admin().config().clone();
    config.hot_keys.enabled = false;
    let no_sketch = rt
        .block_on(CacheBuilder::from_config(config).metrics(false).build())
        .expect("cache");
    let users_no_sketch = no_sketch.kind::<UserWithProfile>("user").expect("kind");
    rt.block_on(users_no_sketch.set(42, user(42))).expect("set");
    let key = users.key(42).expect("key");
    let value = rt.block_on(users.get(42)).expect("get").expect("cached");
    let moka: moka::future::Cache<strata::Key, Arc<UserWithProfile>> =
        moka::future::Cache::new(10_000);
    rt.block_on(moka.insert(key.clone(), value.clone()));
    let sharded: cached::ShardedLruCache<strata::Key, Arc<UserWithProfile>> =
        cached::ShardedLruCache::builder()
            .max_size(10_000)
            .build()
            .expect("cached store");
    sharded.cache_set(key.clone(), value).expect("cached set");

    let mut g = c.benchmark_group("facade_l1_hit");
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
