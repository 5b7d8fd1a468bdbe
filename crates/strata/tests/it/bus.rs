//! The invalidation bus: writes and invalidations reach other instances' L1; miss-fills are not
//! published; own messages are ignored; a dropped subscription flushes L1.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use strata::invalidation::InProcessBus;
use strata::{Backend, Cache, CacheBuilder, CacheConfig, MemoryBackend, MemoryConfig};

async fn pair_in_process() -> (Cache, Cache) {
    let backend: Arc<dyn Backend> =
        Arc::new(MemoryBackend::new(MemoryConfig::default().with_namespace("b:")).unwrap());
    let bus = Arc::new(InProcessBus::new());
    let make = || {
        CacheBuilder::new()
            .prefix("b")
            .metrics(false)
            .backend(backend.clone())
            .bus(bus.clone())
            .build()
    };
    (make().await.unwrap(), make().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_deletes_reach_the_other_l1() {
    let (a, b) = pair_in_process().await;
    let (ua, ub) = (
        a.kind::<String>("user").unwrap(),
        b.kind::<String>("user").unwrap(),
    );
    ua.set(1, "v1".into()).await.unwrap();
    assert_eq!(
        ub.get(1).await.unwrap().as_deref().map(String::as_str),
        Some("v1")
    );
    assert_eq!(
        ub.get(1).await.unwrap().as_deref().map(String::as_str),
        Some("v1"),
        "now in B's L1"
    );

    ua.set(1, "v2".into()).await.unwrap();
    common::eventually("B sees v2", async || {
        ub.get(1).await.unwrap().as_deref().map(String::as_str) == Some("v2")
    })
    .await;

    ua.delete(1).await.unwrap();
    common::eventually("B sees the delete", async || {
        ub.get(1).await.unwrap().is_none()
    })
    .await;

    ub.set(2, "x".into()).await.unwrap();
    ua.get(2).await.unwrap();
    b.clear_kind("user").await.unwrap();
    common::eventually("A drops the cleared kind", async || {
        ua.get(2).await.unwrap().is_none()
    })
    .await;
    // The write and the kind clear (one message for the whole kind).
    common::eventually("A applied B's two invalidations", async || {
        a.admin().bus_stats().applied >= 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miss_fills_publish_nothing_and_own_messages_are_ignored() {
    let (a, b) = pair_in_process().await;
    let ua = a.kind::<u32>("job").unwrap();
    for i in 0..50u32 {
        ua.get_or_load(i, || async move { Ok::<_, String>(i) })
            .await
            .unwrap();
    }
    assert_eq!(
        a.admin().bus_stats().published,
        0,
        "loading is not an invalidation"
    );
    ua.set(1, 100).await.unwrap();
    assert_eq!(a.admin().bus_stats().published, 1);
    common::eventually("B applies the write", async || {
        b.admin().bus_stats().applied == 1
    })
    .await;
    assert_eq!(
        a.admin().bus_stats().applied,
        0,
        "an instance ignores its own messages"
    );
    assert_eq!(
        *ua.get(1).await.unwrap().unwrap(),
        100,
        "own L1 keeps the fresh value"
    );
}

async fn redis_cache(url: &str) -> Cache {
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"rb\"\ncoherence = \"bus\"\nmetrics = false\noperation_timeout = \"500ms\"\n[backend]\nurl = \"{url}\"\n"
    ))
    .unwrap();
    CacheBuilder::from_config(config).build().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_bus_syncs_instances_and_flushes_when_dropped() {
    let Some(server) = strata_testkit::redis_or_skip("redis bus") else {
        return;
    };
    let (a, b) = (
        redis_cache(&server.url()).await,
        redis_cache(&server.url()).await,
    );
    assert_eq!(a.admin().bus().map(|b| b.name()), Some("redis"));
    let (ua, ub) = (
        a.kind::<String>("user").unwrap(),
        b.kind::<String>("user").unwrap(),
    );
    // Give the subscriptions a moment to be established.
    tokio::time::sleep(Duration::from_millis(300)).await;
    ua.set(7, "old".into()).await.unwrap();
    common::eventually("B reads old", async || {
        ub.get(7).await.unwrap().as_deref().map(String::as_str) == Some("old")
    })
    .await;

    let start = Instant::now();
    ua.set(7, "new".into()).await.unwrap();
    common::eventually("B sees new", async || {
        ub.get(7).await.unwrap().as_deref().map(String::as_str) == Some("new")
    })
    .await;
    let took = start.elapsed();
    assert!(b.admin().bus_stats().applied >= 1);

    // Change the value behind the caches' backs, then kill the pub/sub connections: B may
    // have missed messages, so it flushes its L1 and reads the backend again.
    let key = ub.key(7).unwrap();
    let raw = ua.key(7).unwrap();
    let bytes = a.admin().backend().get(&raw).await.unwrap().unwrap();
    ub.get(7).await.unwrap();
    a.admin()
        .backend()
        .set(&key, bytes.clone(), Duration::from_secs(60))
        .await
        .unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(killed >= 2, "both subscriptions were killed ({killed})");
    common::eventually("B flushes its L1", async || {
        b.admin().bus_stats().resets >= 1
    })
    .await;
    // And it resubscribes: invalidations flow again.
    ua.set(8, "one".into()).await.unwrap();
    ub.get(8).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    ua.set(8, "two".into()).await.unwrap();
    common::eventually("B sees two after resubscribing", async || {
        ub.get(8).await.unwrap().as_deref().map(String::as_str) == Some("two")
    })
    .await;
    eprintln!("bus propagation took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_returns_once_the_bus_is_subscribed() {
    let Some(server) = strata_testkit::redis_or_skip("ready") else {
        return;
    };
    let config = strata::CacheConfig::from_toml_str(&format!(
        "prefix = \"ready\"\ncoherence = \"bus\"\nmetrics = false\n[backend]\nurl = \"{}\"",
        server.url()
    ))
    .unwrap();
    let (a, b) = (
        strata::CacheBuilder::from_config(config.clone())
            .build()
            .await
            .unwrap(),
        strata::CacheBuilder::from_config(config)
            .build()
            .await
            .unwrap(),
    );
    common::ready(&[&a, &b]).await;
    assert!(a.admin().bus_stats().subscribed && b.admin().bus_stats().subscribed);
    // Once both are ready, a change on one reaches the other's L1 at once.
    let (ua, ub) = (
        a.kind::<u32>("user").unwrap(),
        b.kind::<u32>("user").unwrap(),
    );
    ua.set(1, 1).await.unwrap();
    assert_eq!(
        ub.get(1).await.unwrap().as_deref(),
        Some(&1),
        "B's L1 holds it now"
    );
    ua.set(1, 2).await.unwrap();
    common::eventually("B hears of the change", async || {
        ub.get(1).await.unwrap().as_deref() == Some(&2)
    })
    .await;

    // Without a bus, ready at once; with a bus that cannot subscribe, not ready.
    let alone = strata::CacheBuilder::new()
        .metrics(false)
        .build()
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_millis(100), alone.ready())
        .await
        .unwrap();
    assert!(!alone.admin().bus_stats().subscribed);
    // A loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = strata::CacheBuilder::new()
        .metrics(false)
        .redis_url(format!("redis://127.0.0.1:{port}"))
        .build()
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), nowhere.ready())
            .await
            .is_err(),
        "no Redis, no subscription"
    );
}
