//! get_or_load: single-flight, fail-safe, timeouts, refresh-ahead, negative caching.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use strata::{Cache, CacheBuilder, LoadError, LoadOptions};

async fn stampede(cache: &Cache) {
    let users = cache.kind::<String>("user").unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let users = users.clone();
        let calls = calls.clone();
        tasks.push(tokio::spawn(async move {
            users
                .get_or_load(42, || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok::<_, String>("Ada".to_string())
                })
                .await
        }));
    }
    for t in futures::future::join_all(tasks).await {
        assert_eq!(*t.unwrap().unwrap(), "Ada");
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "1,000 callers on a cold key, one load"
    );
    let snap = cache.admin().stats();
    assert_eq!(snap.kinds["user"].loads, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_callers_on_a_cold_key_load_once_memory() {
    let (cache, _) = common::memory_cache().await;
    stampede(&cache).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_callers_on_a_cold_key_load_once_redis() {
    let Some(server) = strata_testkit::redis_or_skip("stampede on redis") else {
        return;
    };
    let (cache, backend) = common::redis_cache(&server, CacheBuilder::new()).await;
    stampede(&cache).await;
    assert!(
        backend.get("t:v1:user:s1:42").await.unwrap().is_some(),
        "the value reached Redis"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_waiter_gets_the_loaders_error() {
    let (cache, _) = common::memory_cache().await;
    let jobs = cache.kind::<String>("job").unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let jobs = jobs.clone();
            let calls = calls.clone();
            tokio::spawn(async move {
                jobs.get_or_load(1, || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Err::<String, _>("database down".to_string())
                })
                .await
            })
        })
        .collect();
    for t in futures::future::join_all(tasks).await {
        let err = t.unwrap().unwrap_err();
        assert_eq!(
            err.loader_error().map(String::as_str),
            Some("database down")
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Errors are not cached: the next call loads again.
    let v = jobs
        .get_or_load(1, || async { Ok::<_, String>("ok".to_string()) })
        .await
        .unwrap();
    assert_eq!(*v, "ok");
}

#[tokio::test]
async fn a_failing_loader_is_answered_with_the_stale_value() {
    let (cache, clock) = common::memory_cache_with_clock().await;
    let jobs = cache
        .kind::<String>("job")
        .unwrap()
        .with_ttl(Duration::from_millis(100));
    jobs.get_or_load(7, || async { Ok::<_, String>("v1".to_string()) })
        .await
        .unwrap();
    clock.advance(Duration::from_millis(150));
    assert!(
        jobs.get(7).await.unwrap().is_none(),
        "expired: a plain get misses"
    );
    let v = jobs
        .get_or_load(7, || async { Err::<String, _>("db down".to_string()) })
        .await
        .unwrap();
    assert_eq!(*v, "v1", "fail-safe: the stale value is served");
    assert_eq!(cache.admin().stats().kinds["job"].stale_hits, 1);
    // Without fail-safe the error comes through.
    let err = jobs
        .get_or_load_with(7, &LoadOptions::new().no_fail_safe(), || async {
            Err::<String, _>("db down".to_string())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, LoadError::Loader(_)));
}

#[tokio::test(start_paused = true)]
async fn hard_and_soft_timeouts_cut_slow_loaders() {
    let (cache, clock) = common::memory_cache_with_clock().await;
    let jobs = cache
        .kind::<String>("job")
        .unwrap()
        .with_ttl(Duration::from_millis(50));
    let slow = || async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok::<_, String>("late".to_string())
    };
    let err = jobs
        .get_or_load_with(
            1,
            &LoadOptions::new().hard_timeout(Duration::from_millis(50)),
            slow,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, LoadError::Timeout(_)), "{err}");
    jobs.set(1, "old".to_string()).await.unwrap();
    clock.advance(Duration::from_millis(80));
    let started = tokio::time::Instant::now();
    let v = jobs
        .get_or_load_with(
            1,
            &LoadOptions::new().soft_timeout(Duration::from_millis(50)),
            slow,
        )
        .await
        .unwrap();
    assert_eq!(
        *v, "old",
        "a stale value is served once the soft timeout passes"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the loader's 5 s were not waited for"
    );
}

#[tokio::test]
async fn refresh_ahead_reloads_before_expiry() {
    let (cache, clock) = common::memory_cache_with_clock().await;
    let jobs = cache
        .kind::<u32>("job")
        .unwrap()
        .with_ttl(Duration::from_secs(4));
    let opts = LoadOptions::new().refresh_ahead(0.5);
    let v = jobs
        .get_or_load_with(1, &opts, || async { Ok::<_, String>(1) })
        .await
        .unwrap();
    assert_eq!(*v, 1);
    let v = jobs
        .get_or_load_with(1, &opts, || async { Ok::<_, String>(2) })
        .await
        .unwrap();
    assert_eq!(*v, 1, "young values are served");
    clock.advance(Duration::from_millis(2100));
    let v = jobs
        .get_or_load_with(1, &opts, || async { Ok::<_, String>(3) })
        .await
        .unwrap();
    assert_eq!(*v, 3, "past half its TTL, the next caller refreshes it");
    assert_eq!(*jobs.get(1).await.unwrap().unwrap(), 3);
}

#[tokio::test]
async fn absences_are_cached_for_negative_ttl_unless_asked_not_to() {
    let (cache, _) = common::memory_cache().await;
    let users = cache.kind::<String>("user").unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let load = |calls: Arc<AtomicUsize>| async move {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok::<Option<String>, String>(None)
    };
    let never = LoadOptions::new().cache_none_for(Duration::ZERO);
    for _ in 0..2 {
        let v = users
            .get_or_load_optional(9, &never, || load(calls.clone()))
            .await
            .unwrap();
        assert!(v.is_none());
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "None is not cached with cache_none_for(0)"
    );
    let opts = LoadOptions::new().cache_none_for(Duration::from_secs(60));
    for _ in 0..3 {
        let v = users
            .get_or_load_optional(10, &opts, || load(calls.clone()))
            .await
            .unwrap();
        assert!(v.is_none());
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "with cache_none_for, one load"
    );
    for _ in 0..3 {
        let v = users
            .get_or_load_optional(11, &LoadOptions::new(), || load(calls.clone()))
            .await
            .unwrap();
        assert!(v.is_none());
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "by default, for the configured negative_ttl: one load"
    );
    let key = users.key(11).unwrap();
    let strata::KeyTtl::Expires(ttl) = cache.admin().backend().ttl(&key).await.unwrap() else {
        panic!("the absence expires")
    };
    let config = cache.admin().config();
    assert!(
        ttl <= config.negative_ttl.mul_f64(1.0 + config.jitter) + config.max_stale,
        "{ttl:?}"
    );
    // The facade's shortcut for Cacheable types does the same.
    #[derive(Clone, serde::Serialize, serde::Deserialize, strata::Cacheable)]
    #[cacheable(kind = "account")]
    struct Account(u64);
    for _ in 0..3 {
        let found = cache
            .get_or_load_optional::<Account, String>(404, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(None)
            })
            .await
            .unwrap();
        assert!(found.is_none());
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        5,
        "one load for the absent account"
    );
}

#[tokio::test]
async fn a_cached_absence_is_a_named_error_for_get_or_load() {
    let (cache, _) = common::memory_cache().await;
    let users = cache.kind::<String>("user").unwrap();
    let opts = LoadOptions::new().cache_none_for(Duration::from_secs(60));
    users
        .get_or_load_optional(5, &opts, || async { Ok::<Option<String>, String>(None) })
        .await
        .unwrap();
    let err = users
        .get_or_load(5, || async { Ok::<_, String>("x".to_string()) })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cached absence"), "{err}");
}
