//! Per-kind quotas inside Redis: limits hold under concurrent writers, LRU and TTL evict the
//! same victims as the memory backend on one seeded trace, Random is uniform, expired entries
//! leave the index.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use strata_backend::{Backend, ErrorKind, MemoryBackend, MemoryConfig};
use strata_redis::{EvictionPolicy, Limits, Quota, RedisBackend, RedisConfig};
use strata_testkit::RedisServer;

const NS: &str = "q:";
const KIND: &str = "q:v1:item:";

async fn backend(server: &RedisServer, limits: Limits, policy: EvictionPolicy) -> RedisBackend {
    let config = RedisConfig::new(server.url())
        .with_namespace(NS)
        .with_quota(Quota::new(KIND, limits, policy));
    RedisBackend::connect(config).await.unwrap()
}

async fn dbsize(server: &RedisServer) -> u64 {
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("DBSIZE").query_async(&mut conn).await.unwrap()
}

async fn keys_of_kind(b: &dyn Backend) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = b
            .as_listing()
            .unwrap()
            .scan(KIND, cursor, 500)
            .await
            .unwrap();
        out.extend(page.keys);
        cursor = page.next;
        if cursor.is_none() {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kind_never_exceeds_its_quota_under_eight_concurrent_writers() {
    let Some(server) = strata_testkit::redis_or_skip("quota limits") else {
        return;
    };
    let limits = Limits::default()
        .with_max_entries(100)
        .with_max_bytes(20_000);
    let b = Arc::new(backend(&server, limits, EvictionPolicy::Lru).await);
    let done = Arc::new(AtomicBool::new(false));
    // A sampler: the server holds the quota's 4 index keys and the kind's entries, nothing else.
    let sampler = {
        let (server_url, done, b) = (server.url(), done.clone(), b.clone());
        tokio::spawn(async move {
            let client = redis::Client::open(server_url).unwrap();
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            let mut samples = 0u64;
            let mut max_seen = 0u64;
            while !done.load(Ordering::Acquire) {
                let n: u64 = redis::cmd("DBSIZE").query_async(&mut conn).await.unwrap();
                max_seen = max_seen.max(n.saturating_sub(4));
                let info = b.info().await.unwrap();
                let bytes: u64 = info.details[&format!("quota.{KIND}.bytes")]
                    .parse()
                    .unwrap();
                assert!(bytes <= 20_000, "quota bytes {bytes} over 20000");
                samples += 1;
            }
            (samples, max_seen)
        })
    };
    let mut writers = Vec::new();
    for w in 0..8u64 {
        let b = b.clone();
        writers.push(tokio::spawn(async move {
            let mut rng = SmallRng::seed_from_u64(w);
            for i in 0..400u64 {
                let size = rng.random_range(10..400);
                let key = format!("{KIND}{w}-{i}");
                b.set(
                    &key,
                    Bytes::from(vec![b'x'; size]),
                    Duration::from_secs(600),
                )
                .await
                .unwrap();
                if rng.random_bool(0.3) {
                    b.get(&format!("{KIND}{w}-{}", rng.random_range(0..=i)))
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, Ordering::Release);
    let (samples, max_seen) = sampler.await.unwrap();
    assert!(samples > 10, "the sampler ran ({samples} samples)");
    assert!(max_seen <= 100, "at most 100 entries, saw {max_seen}");
    let keys = keys_of_kind(&*b).await;
    assert!(keys.len() <= 100, "{} entries", keys.len());
    let info = b.info().await.unwrap();
    assert_eq!(
        info.details[&format!("quota.{KIND}.entries")],
        keys.len().to_string(),
        "the index matches the keys"
    );
    let evictions: u64 = info.details["quota.evictions"].parse().unwrap();
    assert!(evictions >= 3200 - 100, "{evictions} evictions");
}

/// One seeded trace of writes and reads over 60 keys, with limits that force evictions.
async fn trace_matches_memory(server: &RedisServer, policy: EvictionPolicy, seed: u64) {
    let limits = Limits::default().with_max_entries(20).with_max_bytes(3_000);
    let redis = backend(server, limits, policy).await;
    redis.clear().await.unwrap();
    let memory = MemoryBackend::new(
        MemoryConfig::default()
            .with_namespace(NS)
            .with_limits(limits)
            .with_policy(policy),
    )
    .unwrap();
    let mut rng = SmallRng::seed_from_u64(seed);
    for i in 0..1500u64 {
        let key = format!("{KIND}{}", rng.random_range(0..60));
        if rng.random_bool(0.4) {
            let value = Bytes::from(vec![b'v'; rng.random_range(10..300)]);
            // TTL buckets 5 s apart, plus i ms so equal buckets expire in write order.
            let ttl =
                Duration::from_secs(100 + 5 * rng.random_range(0..40)) + Duration::from_millis(i);
            redis.set(&key, value.clone(), ttl).await.unwrap();
            memory.set(&key, value, ttl).await.unwrap();
        } else {
            let (a, b) = (
                redis.get(&key).await.unwrap(),
                memory.get(&key).await.unwrap(),
            );
            assert_eq!(a, b, "{policy:?} op {i}: get {key}");
        }
        let (a, b) = (keys_of_kind(&redis).await, keys_of_kind(&memory).await);
        assert_eq!(a, b, "{policy:?} op {i}: the same entries survive");
    }
    let evictions = memory.info().await.unwrap().evictions.unwrap_or(0);
    assert!(
        evictions > 200,
        "the trace ran at the limits ({evictions} evictions)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lru_and_ttl_evict_the_same_victims_as_the_memory_backend() {
    let Some(server) = strata_testkit::redis_or_skip("quota vs memory") else {
        return;
    };
    trace_matches_memory(&server, EvictionPolicy::Lru, 7).await;
    trace_matches_memory(&server, EvictionPolicy::Ttl, 8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_victims_are_uniform() {
    let Some(server) = strata_testkit::redis_or_skip("random quota") else {
        return;
    };
    let b = backend(
        &server,
        Limits::default().with_max_entries(10),
        EvictionPolicy::Random,
    )
    .await;
    let mut victims: HashMap<String, u32> = HashMap::new();
    let trials = 300;
    for _ in 0..trials {
        b.clear().await.unwrap();
        for k in 0..10 {
            b.set(&format!("{KIND}{k}"), "v".into(), Duration::from_secs(60))
                .await
                .unwrap();
        }
        b.set(&format!("{KIND}new"), "v".into(), Duration::from_secs(60))
            .await
            .unwrap();
        let left = keys_of_kind(&b).await;
        assert_eq!(left.len(), 10);
        let gone: Vec<String> = (0..10)
            .map(|k| format!("{KIND}{k}"))
            .filter(|k| !left.contains(k))
            .collect();
        assert_eq!(gone.len(), 1, "one victim, never the new entry");
        *victims.entry(gone[0].clone()).or_default() += 1;
    }
    // 30 expected per key; a fair choice stays within 10..60 (p < 1e-6 per key).
    assert_eq!(victims.len(), 10, "every key was chosen: {victims:?}");
    assert!(
        victims.values().all(|n| (10..=60).contains(n)),
        "{victims:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_entries_leave_the_index_and_bad_writes_are_refused() {
    let Some(server) = strata_testkit::redis_or_skip("quota expiry") else {
        return;
    };
    let limits = Limits::default().with_max_entries(5).with_max_bytes(1_000);
    let b = backend(&server, limits, EvictionPolicy::Lru).await;
    for k in 0..5 {
        b.set(
            &format!("{KIND}{k}"),
            "v".into(),
            Duration::from_millis(100),
        )
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.set(&format!("{KIND}live"), "v".into(), Duration::from_secs(60))
        .await
        .unwrap();
    let info = b.info().await.unwrap();
    assert_eq!(info.details[&format!("quota.{KIND}.entries")], "1");
    assert_eq!(
        info.details["quota.evictions"], "0",
        "expiry is not eviction"
    );
    assert_eq!(dbsize(&server).await, 1 + 4, "one entry and the index");

    // A read of a key that expired cleans its index entry too.
    b.set(
        &format!("{KIND}short"),
        "v".into(),
        Duration::from_millis(50),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(b.get(&format!("{KIND}short")).await.unwrap(), None);
    let info = b.info().await.unwrap();
    assert_eq!(info.details[&format!("quota.{KIND}.entries")], "1");

    // Deletes keep the index right; an entry larger than the quota is refused, naming it.
    assert!(b.delete(&format!("{KIND}live")).await.unwrap());
    let info = b.info().await.unwrap();
    assert_eq!(info.details[&format!("quota.{KIND}.entries")], "0");
    assert_eq!(info.details[&format!("quota.{KIND}.bytes")], "0");
    let err = b
        .set(
            &format!("{KIND}big"),
            Bytes::from(vec![0u8; 2_000]),
            Duration::from_secs(60),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("larger than its quota"), "{err}");
    // Keys outside the quota are plain writes.
    b.set(
        "q:v1:other:1",
        Bytes::from(vec![0u8; 2_000]),
        Duration::from_secs(60),
    )
    .await
    .unwrap();

    // A misconfigured quota is refused at connect time, naming the problem.
    let bad = RedisConfig::new(server.url())
        .with_namespace(NS)
        .with_quota(Quota::new("elsewhere:", limits, EvictionPolicy::Lru));
    let err = RedisBackend::connect(bad).await.unwrap_err();
    assert!(
        err.to_string().contains("outside the backend's namespace"),
        "{err}"
    );
}
