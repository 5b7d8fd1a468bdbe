//! The two tiers: L1 after L2 writes, schema bumps, broken entries, fail-open reads, the breaker.

use crate::common;

use std::time::Duration;

use strata::{BreakerState, CacheBuilder, Cacheable};
use strata_testkit::Faults;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Cacheable)]
#[cacheable(kind = "user", schema = 1)]
struct UserV1 {
    id: u64,
    name: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Cacheable)]
#[cacheable(kind = "user", schema = 2)]
struct UserV2 {
    id: u64,
    full_name: String,
}

#[tokio::test]
async fn a_value_written_to_l2_is_then_served_from_l1() {
    let (a, backend) = common::memory_cache().await;
    a.set(
        1,
        UserV1 {
            id: 1,
            name: "Ada".into(),
        },
    )
    .await
    .unwrap();
    // A second instance sharing the backend: first read from L2, then from its own L1.
    let b = CacheBuilder::new()
        .prefix("t")
        .metrics(false)
        .backend(backend)
        .build()
        .await
        .unwrap();
    assert_eq!(b.get::<UserV1>(1).await.unwrap().unwrap().name, "Ada");
    assert_eq!(b.get::<UserV1>(1).await.unwrap().unwrap().name, "Ada");
    let s = &b.admin().stats().kinds["user"];
    assert_eq!((s.l2.hits, s.l1.hits, s.l1.misses), (1, 1, 1), "{s:?}");
}

#[tokio::test]
async fn a_schema_bump_turns_old_entries_into_misses() {
    let (cache, _) = common::memory_cache().await;
    cache
        .set(
            5,
            UserV1 {
                id: 5,
                name: "Ada".into(),
            },
        )
        .await
        .unwrap();
    // Another instance, deployed with the new schema (no shared L1).
    let fresh = CacheBuilder::new()
        .prefix("t")
        .metrics(false)
        .backend(cache.admin().backend().clone())
        .build()
        .await
        .unwrap();
    assert_eq!(
        fresh.get::<UserV2>(5).await.unwrap(),
        None,
        "a miss, never a decode error"
    );
    assert_eq!(
        fresh.admin().stats().kinds["user"].errors,
        0,
        "a schema change is not an error"
    );
    let v2 = fresh
        .get_or_load(5, || async {
            Ok::<_, String>(UserV2 {
                id: 5,
                full_name: "Ada Lovelace".into(),
            })
        })
        .await
        .unwrap();
    assert_eq!(v2.full_name, "Ada Lovelace");
    // The old schema's readers keep their own entries.
    assert_eq!(cache.get::<UserV1>(5).await.unwrap().unwrap().name, "Ada");
}

#[tokio::test]
async fn garbage_under_a_key_is_a_counted_miss_and_is_deleted() {
    let (cache, backend) = common::memory_cache().await;
    let users = cache.kind::<String>("user").unwrap();
    let key = users.key(3).unwrap();
    backend
        .set(&key, "not an envelope".into(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(users.get(3).await.unwrap(), None);
    assert_eq!(
        cache.admin().stats().kinds["user"].l2.errors.get("codec"),
        Some(&1)
    );
    assert_eq!(
        backend.get(&key).await.unwrap(),
        None,
        "the broken entry was deleted"
    );
    let v = users
        .get_or_load(3, || async { Ok::<_, String>("fixed".to_string()) })
        .await
        .unwrap();
    assert_eq!(*v, "fixed");
}

#[tokio::test(start_paused = true)]
async fn backend_failures_are_misses_and_open_the_circuit() {
    let inner =
        strata::MemoryBackend::new(strata::MemoryConfig::default().with_namespace("t:")).unwrap();
    let (faulty, faults) = Faults::wrap(inner);
    let cache = CacheBuilder::new()
        .prefix("t")
        .metrics(false)
        .l1(false)
        .breaker(3, Duration::from_millis(200))
        .backend(std::sync::Arc::new(faulty))
        .build()
        .await
        .unwrap();
    let jobs = cache.kind::<u32>("job").unwrap();
    faults.fail_always(strata::ErrorKind::Connection);
    for i in 0..5 {
        let v = jobs
            .get_or_load(i, || async move { Ok::<_, String>(i) })
            .await
            .unwrap();
        assert_eq!(*v, i, "the loader answers while the backend fails");
    }
    assert_eq!(cache.admin().breaker_state(), BreakerState::Open);
    let calls_when_open = faults.calls();
    jobs.get_or_load(9, || async { Ok::<_, String>(9) })
        .await
        .unwrap();
    assert_eq!(
        faults.calls(),
        calls_when_open,
        "an open circuit skips the backend"
    );
    assert!(
        cache.admin().stats().kinds["job"]
            .l2
            .errors
            .contains_key("circuit_open")
    );
    faults.heal();
    tokio::time::advance(Duration::from_millis(250)).await;
    jobs.get_or_load(10, || async { Ok::<_, String>(10) })
        .await
        .unwrap();
    assert_eq!(
        cache.admin().breaker_state(),
        BreakerState::Closed,
        "a successful probe closes it"
    );
}

#[tokio::test]
async fn strict_mode_surfaces_backend_errors() {
    let inner =
        strata::MemoryBackend::new(strata::MemoryConfig::default().with_namespace("t:")).unwrap();
    let (faulty, faults) = Faults::wrap(inner);
    let cache = CacheBuilder::new()
        .prefix("t")
        .metrics(false)
        .strict(true)
        .backend(std::sync::Arc::new(faulty))
        .build()
        .await
        .unwrap();
    faults.fail_next(1, strata::ErrorKind::Timeout);
    let err = cache.kind::<u32>("job").unwrap().get(1).await.unwrap_err();
    assert_eq!(err.backend_kind(), Some(strata::ErrorKind::Timeout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_test_then_restarted() {
    let Some(mut server) = strata_testkit::redis_or_skip("redis stopped mid-test") else {
        return;
    };
    let (cache, _) = common::redis_cache(
        &server,
        CacheBuilder::new()
            .l1(false)
            .breaker(3, Duration::from_millis(300)),
    )
    .await;
    let jobs = cache.kind::<u32>("job").unwrap();
    assert_eq!(
        *jobs
            .get_or_load(1, || async { Ok::<_, String>(1) })
            .await
            .unwrap(),
        1
    );
    assert_eq!(cache.admin().stats().kinds["job"].l2.errors.len(), 0);

    server.stop();
    for i in 2..8 {
        let v = jobs
            .get_or_load(i, || async move { Ok::<_, String>(i) })
            .await
            .unwrap();
        assert_eq!(*v, i, "answers from the loader while Redis is down");
    }
    assert_eq!(cache.admin().breaker_state(), BreakerState::Open);

    server.restart().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while cache.admin().breaker_state() != BreakerState::Closed {
        assert!(
            std::time::Instant::now() < deadline,
            "the circuit never closed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = jobs
            .get_or_load(100, || async { Ok::<_, String>(100) })
            .await;
    }
    jobs.set(50, 50).await.unwrap();
    assert!(
        cache
            .admin()
            .backend()
            .get("t:v1:job:s1:50")
            .await
            .unwrap()
            .is_some(),
        "writes reach Redis again"
    );
}

#[tokio::test]
async fn get_many_reads_l1_then_one_l2_batch() {
    let (cache, backend) = common::memory_cache().await;
    let jobs = cache.kind::<u32>("job").unwrap();
    jobs.set_many((0..10u32).map(|i| (i, i * 10)).collect())
        .await
        .unwrap();
    let other = CacheBuilder::new()
        .prefix("t")
        .metrics(false)
        .backend(backend)
        .build()
        .await
        .unwrap();
    let other_jobs = other.kind::<u32>("job").unwrap();
    other_jobs.get(3).await.unwrap();
    let got = other_jobs.get_many(&[3, 4, 99, 5]).await.unwrap();
    let got: Vec<Option<u32>> = got.iter().map(|v| v.as_deref().copied()).collect();
    assert_eq!(got, [Some(30), Some(40), None, Some(50)]);
    let s = &other.admin().stats().kinds["job"];
    assert_eq!(s.l1.hits, 1, "3 came from L1");
    assert_eq!(s.l2.hits, 3, "3 (first get), 4 and 5 from L2");
}

#[tokio::test]
async fn delete_removes_from_both_tiers() {
    let (cache, backend) = common::memory_cache().await;
    cache
        .set(
            1,
            UserV1 {
                id: 1,
                name: "Ada".into(),
            },
        )
        .await
        .unwrap();
    assert!(cache.delete::<UserV1>(1).await.unwrap());
    assert_eq!(cache.get::<UserV1>(1).await.unwrap(), None);
    assert_eq!(backend.get("t:v1:user:s1:1").await.unwrap(), None);
}

#[tokio::test]
async fn oversized_values_are_refused_before_the_backend() {
    let (cache, backend) = common::memory_cache().await;
    let big = "x".repeat(9 * 1024 * 1024);
    let err = cache
        .kind::<String>("job")
        .unwrap()
        .set(1, big)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("exceeds the maximum"), "{err}");
    assert_eq!(backend.info().await.unwrap().entries, Some(0));
}
