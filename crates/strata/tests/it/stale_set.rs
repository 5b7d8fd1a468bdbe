//! Stale-set protection: a load that began before an invalidation never installs its value
//! afterwards (L1 and L2); cross-instance single flight through the backend lease.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use strata::{Backend, Cache, CacheBuilder, LoadOptions};
use tokio::sync::Notify;

/// The classic race: the loader reads the old database value, the value changes and is
/// invalidated, then the loader finishes. The cache must not hold the old value.
async fn classic_race(cache: &Cache, backend: &Arc<dyn Backend>) {
    let users = cache.kind::<String>("user").unwrap();
    let db = Arc::new(Mutex::new("old".to_string()));
    let (read_done, resume) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let load = {
        let (users, db, read_done, resume) =
            (users.clone(), db.clone(), read_done.clone(), resume.clone());
        tokio::spawn(async move {
            users
                .get_or_load(1, || async move {
                    let value = db.lock().clone();
                    read_done.notify_one();
                    resume.notified().await;
                    Ok::<_, String>(value)
                })
                .await
                .unwrap()
        })
    };
    read_done.notified().await;
    *db.lock() = "new".to_string();
    users.delete(1).await.unwrap();
    resume.notify_one();
    assert_eq!(
        *load.await.unwrap(),
        "old",
        "the caller that started first gets what it read"
    );

    assert_eq!(
        users.get(1).await.unwrap(),
        None,
        "no tier holds the old value"
    );
    let key = users.key(1).unwrap();
    assert_eq!(backend.get(&key).await.unwrap(), None, "L2 was not written");
    let v = users
        .get_or_load(1, || async { Ok::<_, String>(db.lock().clone()) })
        .await
        .unwrap();
    assert_eq!(*v, "new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_overtaken_by_an_invalidation_is_not_cached_memory() {
    let (cache, backend) = common::memory_cache().await;
    classic_race(&cache, &backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_overtaken_by_an_invalidation_is_not_cached_redis() {
    let Some(server) = strata_testkit::redis_or_skip("stale-set protection on redis") else {
        return;
    };
    let (cache, backend) = common::redis_cache(&server, CacheBuilder::new()).await;
    classic_race(&cache, &backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_from_another_instance_also_wins() {
    let Some(server) = strata_testkit::redis_or_skip("stale-set across instances") else {
        return;
    };
    // Instance B invalidates through its own connection while A's load is in flight.
    let (a, backend) = common::redis_cache(&server, CacheBuilder::new()).await;
    let (b, _) = common::redis_cache(&server, CacheBuilder::new()).await;
    let (ua, ub) = (a.kind::<u32>("job").unwrap(), b.kind::<u32>("job").unwrap());
    let resume = Arc::new(Notify::new());
    let started = Arc::new(Notify::new());
    let load = {
        let (ua, resume, started) = (ua.clone(), resume.clone(), started.clone());
        tokio::spawn(async move {
            ua.get_or_load(5, || async move {
                started.notify_one();
                resume.notified().await;
                Ok::<_, String>(1)
            })
            .await
        })
    };
    started.notified().await;
    ub.set(5, 2).await.unwrap();
    resume.notify_one();
    load.await.unwrap().unwrap();
    let key = ua.key(5).unwrap();
    let bytes = backend.get(&key).await.unwrap().unwrap();
    let stored = strata::MsgPackCodec::default();
    let env = strata::Codec::decode::<u32>(&stored, &bytes, None).unwrap();
    assert_eq!(env.value, Some(2), "B's write survived A's older load");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_share_one_load_through_the_lease() {
    let Some(server) = strata_testkit::redis_or_skip("cross-instance single flight") else {
        return;
    };
    let calls = Arc::new(AtomicUsize::new(0));
    let opts = LoadOptions::new().wait_for_other_instances(Duration::from_secs(5));
    let mut tasks = Vec::new();
    let mut caches = Vec::new();
    for _ in 0..4 {
        let (cache, _) = common::redis_cache(&server, CacheBuilder::new()).await;
        caches.push(cache);
    }
    for cache in &caches {
        let jobs = cache.kind::<String>("job").unwrap();
        for _ in 0..250 {
            let (jobs, calls, opts) = (jobs.clone(), calls.clone(), opts.clone());
            tasks.push(tokio::spawn(async move {
                jobs.get_or_load_with(9, &opts, || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Ok::<_, String>("loaded once".to_string())
                })
                .await
                .unwrap()
            }));
        }
    }
    for t in futures::future::join_all(tasks).await {
        assert_eq!(*t.unwrap(), "loaded once");
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "4 instances x 250 callers, one load"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_lease_holder_blocks_no_one_beyond_the_lease() {
    let Some(server) = strata_testkit::redis_or_skip("crashed lease holder") else {
        return;
    };
    let (cache, backend) = common::redis_cache(&server, CacheBuilder::new()).await;
    let jobs = cache.kind::<u32>("job").unwrap();
    let key = jobs.key(3).unwrap();
    // A holder that took the lease and died: it never stores and never releases.
    assert!(
        backend
            .as_leases()
            .unwrap()
            .acquire_lease(&key, "dead-instance", Duration::from_millis(600))
            .await
            .unwrap()
    );
    let start = std::time::Instant::now();
    let opts = LoadOptions::new().wait_for_other_instances(Duration::from_secs(5));
    let v = jobs
        .get_or_load_with(3, &opts, || async { Ok::<_, String>(33) })
        .await
        .unwrap();
    assert_eq!(*v, 33);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(400),
        "it waited for the holder first: {waited:?}"
    );
    assert!(
        backend.get(&key).await.unwrap().is_some(),
        "and stored under its own lease"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_clear_during_a_load_also_wins() {
    let (cache, backend) = common::memory_cache().await;
    let jobs = cache.kind::<u32>("job").unwrap();
    let (started, resume) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let load = {
        let (jobs, started, resume) = (jobs.clone(), started.clone(), resume.clone());
        tokio::spawn(async move {
            jobs.get_or_load(4, || async move {
                started.notify_one();
                resume.notified().await;
                Ok::<_, String>(1)
            })
            .await
        })
    };
    started.notified().await;
    cache.clear_kind("job").await.unwrap();
    resume.notify_one();
    load.await.unwrap().unwrap();
    assert_eq!(jobs.get(4).await.unwrap(), None);
    assert_eq!(backend.get(&jobs.key(4).unwrap()).await.unwrap(), None);
}
