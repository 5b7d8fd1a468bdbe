//! The tier behaviours again on a spawned Redis: L1 after an L2 write, schema bumps, garbage
//! entries, fail-safe serving.

use crate::common;

use std::time::Duration;

use strata::CacheBuilder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l1_serves_after_a_redis_read_and_schema_bumps_miss() {
    let Some(server) = strata_testkit::redis_or_skip("l1 after redis read") else {
        return;
    };
    let (writer, _) = common::redis_cache(&server, CacheBuilder::new()).await;
    writer
        .kind::<String>("user")
        .unwrap()
        .set(1, "Ada".to_string())
        .await
        .unwrap();

    let (reader, _) = common::redis_cache(&server, CacheBuilder::new()).await;
    let users = reader.kind::<String>("user").unwrap();
    assert_eq!(
        users.get(1).await.unwrap().as_deref().map(String::as_str),
        Some("Ada")
    );
    assert_eq!(
        users.get(1).await.unwrap().as_deref().map(String::as_str),
        Some("Ada")
    );
    let s = &reader.admin().stats().kinds["user"];
    assert_eq!((s.l2.hits, s.l1.hits), (1, 1), "{s:?}");

    let (bumped, _) = common::redis_cache(&server, CacheBuilder::new()).await;
    assert_eq!(
        bumped
            .kind::<u64>("user")
            .unwrap()
            .with_schema(2)
            .get(1)
            .await
            .unwrap(),
        None
    );
    assert_eq!(bumped.admin().stats().kinds["user"].errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_in_redis_is_a_counted_miss_and_is_deleted() {
    let Some(server) = strata_testkit::redis_or_skip("garbage in redis") else {
        return;
    };
    let (cache, backend) = common::redis_cache(&server, CacheBuilder::new()).await;
    let users = cache.kind::<String>("user").unwrap();
    let key = users.key(3).unwrap();
    backend
        .set(
            &key,
            vec![0xC1, b'S', 9, 0, 1, 2].into(),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(users.get(3).await.unwrap(), None);
    assert_eq!(
        cache.admin().stats().kinds["user"].l2.errors.get("codec"),
        Some(&1)
    );
    assert_eq!(backend.get(&key).await.unwrap(), None, "deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_values_in_redis_are_served_when_the_loader_fails() {
    let Some(server) = strata_testkit::redis_or_skip("fail-safe on redis") else {
        return;
    };
    let clock = strata::Clock::manual();
    let (cache, _) =
        common::redis_cache(&server, CacheBuilder::new().l1(false).clock(clock.clone())).await;
    let jobs = cache
        .kind::<String>("job")
        .unwrap()
        .with_ttl(Duration::from_millis(100));
    jobs.set(7, "v1".to_string()).await.unwrap();
    // Logically expired; still in Redis for fail-safe (its TTL there adds max_stale).
    clock.advance(Duration::from_millis(200));
    let v = jobs
        .get_or_load(7, || async { Err::<String, _>("db down") })
        .await
        .unwrap();
    assert_eq!(*v, "v1");
    assert_eq!(cache.admin().stats().kinds["job"].stale_hits, 1);
}
