//! Backends: MemoryBackend against a plain mutex-guarded map, and RedisBackend against raw
//! redis-rs on the same spawned server in the same run.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use strata_backend::{Backend, MemoryBackend, MemoryConfig};
use strata_benches::runtime;
use strata_benches::user;
use strata_codec::{Codec, EntryMeta, MsgPackCodec};
use strata_redis::{EvictionPolicy, Limits, Quota, RedisBackend, RedisConfig};
use tokio::runtime::Runtime;

const HOUR: Duration = Duration::from_secs(3600);

fn value() -> Bytes {
    MsgPackCodec::default()
        .encode(&EntryMeta::new(0, 60_000, 1), Some(&user(42)))
        .expect("encode")
}

fn memory(c: &mut Criterion) {
    let rt = runtime();
    let backend =
        MemoryBackend::new(MemoryConfig::default().with_namespace("bench:")).expect("memory");
    let peer: Arc<parking_lot::Mutex<HashMap<String, Bytes>>> = Arc::default();
    let v = value();
    for i in 0..10_000 {
        let k = format!("bench:user:{i}");
        rt.block_on(backend.set(&k, v.clone(), HOUR)).expect("set");
        peer.lock().insert(k, v.clone());
    }
    let keys: Vec<String> = (0..10_000).map(|i| format!("bench:user:{i}")).collect();

    let mut g = c.benchmark_group("backend_memory");
    let mut i = 0usize;
    g.bench_function("get/memory_backend", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 7919) % keys.len();
            let k = &keys[i];
            async { backend.get(black_box(k)).await.expect("get") }
        })
    });
    g.bench_function("get/mutex_hashmap", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            peer.lock().get(black_box(&keys[i])).cloned()
        })
    });
    g.bench_function("set/memory_backend", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 7919) % keys.len();
            let k = &keys[i];
            let v = v.clone();
            let backend = &backend;
            async move { backend.set(black_box(k), v, HOUR).await.expect("set") }
        })
    });
    g.bench_function("set/mutex_hashmap", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            peer.lock().insert(keys[i].clone(), v.clone())
        })
    });
    g.finish();
}

fn redis(c: &mut Criterion) {
    let server = match strata_testkit::RedisServer::spawn() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("SKIPPED backend_redis benches: {e}");
            return;
        }
    };
    let rt = runtime();
    let mut g = c.benchmark_group("backend_redis");
    standalone(&mut g, &rt, &server.url());
    // A local 3-primary cluster on the same machine: the price of slot routing.
    match strata_testkit::RedisCluster::spawn(3, 0) {
        Ok(cluster) => {
            on_cluster(&mut g, &rt, &cluster.url());
            g.finish();
            drop(cluster);
        }
        Err(e) => {
            eprintln!("SKIPPED backend_redis cluster benches: {e}");
            g.finish();
        }
    }
    drop(server);
}

/// One server: RedisBackend against raw redis-rs, and with an LRU quota.
fn standalone(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, url: &str) {
    let backend = rt
        .block_on(RedisBackend::connect(
            RedisConfig::new(url).with_namespace("bench:"),
        ))
        .expect("connect");
    // The same server, with an LRU quota on kind `q` (reads record their access).
    let quota = Quota::new(
        "bench:q:",
        Limits::default().with_max_entries(100_000),
        EvictionPolicy::Lru,
    );
    let with_quota = rt
        .block_on(RedisBackend::connect(
            RedisConfig::new(url)
                .with_namespace("bench:")
                .with_quota(quota),
        ))
        .expect("connect");
    let client = redis::Client::open(url).expect("client");
    let raw = rt
        .block_on(client.get_multiplexed_async_connection())
        .expect("raw connection");
    let v = value();
    rt.block_on(backend.set("bench:user:42", v.clone(), HOUR))
        .expect("set");
    rt.block_on(with_quota.set("bench:q:42", v.clone(), HOUR))
        .expect("set");

    g.bench_function("get/redis_backend", |b| {
        b.to_async(rt)
            .iter(|| async { backend.get(black_box("bench:user:42")).await.expect("get") })
    });
    g.bench_function("get/raw_redis_rs", |b| {
        b.to_async(rt).iter(|| {
            let mut conn = raw.clone();
            async move {
                let v: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(black_box("bench:user:42"))
                    .query_async(&mut conn)
                    .await
                    .expect("get");
                v
            }
        })
    });
    g.bench_function("get/lru_quota", |b| {
        b.to_async(rt)
            .iter(|| async { with_quota.get(black_box("bench:q:42")).await.expect("get") })
    });
    g.bench_function("set/lru_quota", |b| {
        b.to_async(rt).iter(|| async {
            with_quota
                .set(black_box("bench:q:42"), v.clone(), HOUR)
                .await
                .expect("set")
        })
    });
    g.bench_function("set/redis_backend", |b| {
        b.to_async(rt).iter(|| async {
            backend
                .set(black_box("bench:user:42"), v.clone(), HOUR)
                .await
                .expect("set")
        })
    });
}

/// RedisBackend on a cluster.
fn on_cluster(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, url: &str) {
    let v = value();
    let on_cluster = rt
        .block_on(RedisBackend::connect(
            RedisConfig::new(url)
                .with_cluster(true)
                .with_namespace("bench:"),
        ))
        .expect("connect to the cluster");
    rt.block_on(on_cluster.set("bench:user:42", v.clone(), HOUR))
        .expect("set");
    g.bench_function("get/cluster", |b| {
        b.to_async(rt).iter(|| async {
            on_cluster
                .get(black_box("bench:user:42"))
                .await
                .expect("get")
        })
    });
    g.bench_function("set/cluster", |b| {
        b.to_async(rt).iter(|| async {
            on_cluster
                .set(black_box("bench:user:42"), v.clone(), HOUR)
                .await
                .expect("set")
        })
    });
}

criterion_group!(backend, memory, redis);
criterion_main!(backend);
