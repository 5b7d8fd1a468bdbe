//! The facade: L1 hits against a raw moka get of the same `Arc`, L2 hits against raw redis-rs
//! GET + decode at concurrency 1 and 64, and get_many(100) against 100 sequential gets.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use strata::{Cache, CacheBuilder, Codec, MsgPackCodec, RedisBackend, RedisBus, RedisConfig};
use strata_benches::runtime;
use strata_benches::{UserWithProfile, user};

fn l1_hit(c: &mut Criterion) {
    let rt = runtime();
    let cache = rt
        .block_on(CacheBuilder::new().prefix("bench").metrics(false).build())
        .expect("cache");
    let users = cache.kind::<UserWithProfile>("user").expect("kind");
    rt.block_on(users.set(42, user(42))).expect("set");
    let key = users.key(42).expect("key");
    let value = rt.block_on(users.get(42)).expect("get").expect("cached");
    let moka: moka::future::Cache<strata::Key, Arc<UserWithProfile>> =
        moka::future::Cache::new(10_000);
    rt.block_on(moka.insert(key.clone(), value));

    let mut g = c.benchmark_group("facade_l1_hit");
    g.bench_function("facade_get_by_id", |b| {
        b.to_async(&rt)
            .iter(|| async { users.get(black_box(42)).await.expect("get") })
    });
    g.bench_function("facade_get_at_key", |b| {
        b.to_async(&rt)
            .iter(|| async { users.get_at(black_box(&key)).await.expect("get") })
    });
    g.bench_function("raw_moka_get", |b| {
        b.to_async(&rt)
            .iter(|| async { moka.get(black_box(&key)).await })
    });
    g.finish();
}

/// Runs `op` `iters` times split over `concurrency` tasks; the wall time of the whole.
fn concurrent<F, Fut>(rt: &tokio::runtime::Runtime, iters: u64, concurrency: u64, op: F) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    rt.block_on(async {
        let per_task = iters.div_ceil(concurrency);
        let start = Instant::now();
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let op = op.clone();
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        op().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        start
            .elapsed()
            .mul_f64(iters as f64 / (per_task * concurrency) as f64)
    })
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
    let raw = rt
        .block_on(
            redis::Client::open(server.url())
                .expect("client")
                .get_multiplexed_async_connection(),
        )
        .expect("raw connection");
    let key42 = users.key(42).expect("key").to_string();

    let mut g = c.benchmark_group("facade_l2_hit");
    for concurrency in [1u64, 64] {
        let u = users.clone();
        g.bench_function(BenchmarkId::new("facade", concurrency), |b| {
            b.iter_custom(|iters| {
                let u = u.clone();
                concurrent(&rt, iters, concurrency, move || {
                    let u = u.clone();
                    async move {
                        black_box(u.get(42).await.expect("get").expect("hit"));
                    }
                })
            })
        });
        let (raw, key) = (raw.clone(), key42.clone());
        g.bench_function(
            BenchmarkId::new("raw_redis_rs_get_decode", concurrency),
            |b| {
                b.iter_custom(|iters| {
                    let (raw, key) = (raw.clone(), key.clone());
                    concurrent(&rt, iters, concurrency, move || {
                        let (mut conn, key) = (raw.clone(), key.clone());
                        async move {
                            let bytes: Vec<u8> = redis::cmd("GET")
                                .arg(&key)
                                .query_async(&mut conn)
                                .await
                                .expect("get");
                            let env = MsgPackCodec::default()
                                .decode::<UserWithProfile>(&bytes, Some(1))
                                .expect("decode");
                            black_box(Arc::new(env.value.expect("value")));
                        }
                    })
                })
            },
        );
    }
    g.finish();

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
