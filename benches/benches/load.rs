//! Throughput and latency percentiles under concurrency, which criterion's mean-time model does
//! not give: L2 hits through the facade (its reads coalesced, the default, and not), raw
//! redis-rs (one `MultiplexedConnection`, GET + decode) and the `cached` crate's
//! `AsyncRedisCache` at concurrency 1, 16 and 64; `redis-benchmark`'s own GET figures against the
//! same server (the ceiling of one server); and a stampede of 1,000 concurrent cold requests with
//! and without single flight. Writes target/strata-bench/load.json.
//!
//! `STRATA_BENCH_SECONDS` sets each measurement's length (default 5), `STRATA_BENCH_ROUNDS` the
//! alternating rounds of the facade and raw redis-rs per concurrency (default 3, at most 20),
//! `STRATA_BENCH_WORKERS` the runtime's worker threads (default 2); `cargo bench
//! --bench load -- l2` or `-- stampede` runs one group.
#![allow(missing_docs)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "shared/facade_users.rs"]
mod facade_users;
use facade_users::{facade_users, raw_get_user};

use cached::{AsyncRedisCache, ConcurrentCachedAsync};
use serde_json::{Value, json};
use strata::{CacheBuilder, Codec, LoadOptions, MsgPackCodec};
use strata_benches::{UserWithProfile, runtime, user};

/// Keys read in turn (all present).
const KEYS: u64 = 100;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--") && a.parse::<f64>().is_err())
        .collect();
    let wants = |group: &str| args.is_empty() || args.iter().any(|a| group.contains(a.as_str()));
    if !wants("l2") && !wants("stampede") {
        return;
    }
    let seconds: f64 = strata_benches::env_setting(
        "STRATA_BENCH_SECONDS",
        5.0,
        |s| *s > 0.0 && *s <= 600.0,
        "seconds above 0, at most 600",
    );
    let length = Duration::from_secs_f64(seconds);
    let rt = runtime();
    let mut out = serde_json::Map::new();
    if wants("l2") {
        match strata_testkit::RedisServer::spawn() {
            Ok(server) => {
                out.insert("l2".into(), rt.block_on(l2(&server, length)));
                out.insert("redis_benchmark".into(), redis_benchmark(&server, seconds));
            }
            Err(e) => eprintln!("SKIPPED l2: {e}"),
        }
    }
    if wants("stampede") {
        out.insert("stampede".into(), rt.block_on(stampede()));
    }
    let dir = strata_benches::report_dir();
    let text = serde_json::to_string_pretty(&Value::Object(out)).expect("json");
    println!("{text}");
    std::fs::write(dir.join("load.json"), text).expect("write load.json");
}

/// Runs `op` from `concurrency` tasks for `length`; ops per second and latency percentiles.
async fn measure<F, Fut>(concurrency: usize, length: Duration, op: F) -> Value
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    // Warm-up: connections, caches, branch predictors.
    let warm = Instant::now() + length / 5;
    let start = Instant::now() + length / 5;
    let end = start + length;
    let tasks: Vec<_> = (0..concurrency)
        .map(|t| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(1 << 16);
                let mut i = t as u64;
                while Instant::now() < warm {
                    op(i % KEYS).await;
                    i += 1;
                }
                loop {
                    let t0 = Instant::now();
                    if t0 >= end {
                        break;
                    }
                    op(i % KEYS).await;
                    lat.push(u32::try_from(t0.elapsed().as_nanos()).unwrap_or(u32::MAX));
                    i += 1;
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let elapsed = end.saturating_duration_since(start).as_secs_f64();
    all.sort_unstable();
    let pct = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |n| f64::from(*n) / 1000.0)
    };
    json!({
        "concurrency": concurrency,
        "ops": all.len(),
        "ops_per_sec": all.len() as f64 / elapsed,
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
    })
}

async fn l2(server: &strata_testkit::RedisServer, length: Duration) -> Value {
    let coalesced = facade_users(server, true, KEYS).await;
    let direct = facade_users(server, false, KEYS).await;
    let users = coalesced.1.clone();
    let keys: Arc<Vec<String>> = Arc::new(
        (0..KEYS)
            .map(|i| users.key(i).expect("key").to_string())
            .collect(),
    );
    let raw = redis::Client::open(server.url())
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("raw connection");
    let peer = cached_crate_users(server).await;

    let mut rows = Vec::new();
    for concurrency in [1usize, 16, 64] {
        eprintln!("l2: concurrency {concurrency}");
        // The facade (coalesced and not) and raw redis-rs in alternating rounds: each ratio
        // is taken within a round, so a drift of a shared machine's speed between rounds
        // moves both sides of it; the median round is reported.
        let mut rounds: Vec<[Value; 3]> = Vec::new();
        for _ in 0..rounds_per_concurrency() {
            let mut round = Vec::with_capacity(3);
            for (peer, (cache, users)) in [("facade", &coalesced), ("facade_direct", &direct)] {
                let u = users.clone();
                let mut r = measure(concurrency, length, move |i| {
                    let u = u.clone();
                    async move {
                        // A miss is an L2 failure (a timeout on a loaded machine): counted below.
                        std::hint::black_box(u.get(i).await.expect("get"));
                    }
                })
                .await;
                let errors = cache.admin().stats().kinds["user"].l2.errors.clone();
                if !errors.is_empty() {
                    eprintln!("l2: {peer} at c={concurrency}: L2 errors so far {errors:?}");
                }
                r["peer"] = peer.into();
                r["l2_errors"] = errors.values().sum::<u64>().into();
                round.push(r);
            }
            let (conn, keys) = (raw.clone(), keys.clone());
            let mut r = measure(concurrency, length, move |i| {
                let (mut conn, keys) = (conn.clone(), keys.clone());
                async move { raw_get_user(&mut conn, &keys[i as usize]).await }
            })
            .await;
            r["peer"] = "raw_redis_rs".into();
            round.push(r);
            rounds.push(round.try_into().expect("three peers per round"));
        }
        rows.extend(median_rounds(rounds));
        let p = peer.clone();
        let mut r = measure(concurrency, length, move |i| {
            let p = p.clone();
            async move {
                std::hint::black_box(p.cache_get(&i).await.expect("get").expect("hit"));
            }
        })
        .await;
        r["peer"] = "cached_crate".into();
        rows.push(r);
    }
    Value::Array(rows)
}

/// Rounds of the facade against raw redis-rs per concurrency: `STRATA_BENCH_ROUNDS`, default 3.
fn rounds_per_concurrency() -> usize {
    strata_benches::env_count("STRATA_BENCH_ROUNDS", 3, 20)
}

fn ops(r: &Value) -> f64 {
    r["ops_per_sec"].as_f64().unwrap_or(0.0)
}

/// Each peer's row of the round with its median throughput, with every round's throughput
/// (`rounds_ops`); the facade's rows also with each round's ratio to raw redis-rs in the same
/// round (`to_raw_rounds`) and their median (`to_raw`), which the goals take.
fn median_rounds(rounds: Vec<[Value; 3]>) -> Vec<Value> {
    let raw: Vec<f64> = rounds.iter().map(|r| ops(&r[2])).collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (0..3)
        .map(|peer| {
            let mut runs: Vec<Value> = rounds.iter().map(|r| r[peer].clone()).collect();
            let all: Vec<f64> = runs.iter().map(ops).collect();
            let ratios: Vec<f64> = all.iter().zip(&raw).map(|(o, r)| o / r).collect();
            runs.sort_by(|a, b| ops(a).total_cmp(&ops(b)));
            let mut row = runs.swap_remove(runs.len() / 2);
            row["rounds_ops"] = json!(all);
            if peer < 2 {
                row["to_raw"] = json!(median(ratios.clone()));
                row["to_raw_rounds"] = json!(ratios);
            }
            row
        })
        .collect()
}

/// The `cached` crate's Redis store on the same server, filled with the same users.
async fn cached_crate_users(
    server: &strata_testkit::RedisServer,
) -> Arc<AsyncRedisCache<u64, UserWithProfile>> {
    let peer: Arc<AsyncRedisCache<u64, UserWithProfile>> = Arc::new(
        AsyncRedisCache::new("user", Duration::from_secs(3600))
            .namespace("cachedcrate")
            .connection_string(&server.url())
            .build()
            .await
            .expect("cached crate store"),
    );
    for i in 0..KEYS {
        peer.cache_set(i, user(i)).await.expect("cached set");
    }
    peer
}

/// `redis-benchmark` GETs of a value the size of the user payload at -c 64, without and with
/// pipelining (16), when the binary is present.
fn redis_benchmark(server: &strata_testkit::RedisServer, seconds: f64) -> Value {
    let size = MsgPackCodec::default()
        .encode(&strata::EntryMeta::new(1, 1, 1), Some(&user(1)))
        .map_or(530, |b| b.len());
    let requests = ((seconds * 60_000.0) as u64).max(20_000);
    let mut rows = Vec::new();
    for pipeline in [1u32, 16] {
        let n = requests * u64::from(pipeline);
        eprintln!("redis-benchmark: -c 64 -P {pipeline} -n {n}");
        let out = std::process::Command::new("redis-benchmark")
            .args(["-h", "127.0.0.1", "-p", &server.port().to_string()])
            .args(["-t", "get", "-c", "64", "--csv"])
            .args(["-n", &n.to_string(), "-d", &size.to_string()])
            .args(["-P", &pipeline.to_string()])
            .output();
        let Ok(out) = out else {
            eprintln!("SKIPPED redis-benchmark: not on PATH");
            return Value::Array(rows);
        };
        // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",
        // "p99_latency_ms","max_latency_ms"
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(line) = text.lines().find(|l| l.starts_with("\"GET\"")) else {
            eprintln!("redis-benchmark printed no GET line: {text}");
            continue;
        };
        let f: Vec<f64> = line
            .split(',')
            .skip(1)
            .filter_map(|v| v.trim_matches('"').parse().ok())
            .collect();
        if f.len() >= 6 {
            rows.push(json!({
                "concurrency": 64,
                "pipeline": pipeline,
                "ops_per_sec": f[0],
                "p50_us": f[3] * 1000.0,
                "p99_us": f[5] * 1000.0,
            }));
        }
    }
    Value::Array(rows)
}

/// 1,000 concurrent requests for one cold key, with the facade's single flight and with the
/// cache-aside pattern (get, load on a miss, set); the loader takes 20 ms.
async fn stampede() -> Value {
    let mut rows = Vec::new();
    for single_flight in [true, false] {
        let cache = CacheBuilder::new()
            .prefix("stampede")
            .metrics(false)
            .build()
            .await
            .expect("cache");
        let users = cache.kind::<UserWithProfile>("user").expect("kind");
        let calls = Arc::new(AtomicU64::new(0));
        let barrier = Arc::new(tokio::sync::Barrier::new(1000));
        let start = Instant::now();
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let (users, calls, barrier) = (users.clone(), calls.clone(), barrier.clone());
                tokio::spawn(async move {
                    let load = async || {
                        calls.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, std::io::Error>(user(7))
                    };
                    barrier.wait().await;
                    if single_flight {
                        users
                            .get_or_load_with(7, &LoadOptions::default(), load)
                            .await
                            .expect("load");
                    } else if users.get(7).await.expect("get").is_none() {
                        let v = load().await.expect("load");
                        users.set(7, v).await.expect("set");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        rows.push(json!({
            "mode": if single_flight { "single_flight" } else { "cache_aside" },
            "requests": 1000,
            "loader_calls": calls.load(Ordering::Relaxed),
            "wall_ms": start.elapsed().as_secs_f64() * 1000.0,
        }));
    }
    Value::Array(rows)
}
