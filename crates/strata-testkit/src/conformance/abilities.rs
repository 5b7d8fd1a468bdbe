//! Cases of the optional abilities (memory usage, leases, version counters), and ping/info.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use strata_backend::ErrorKind;

use super::{Fixture, LONG, ability};

/// `memory_usage` reports bytes for a present key and `None` for a missing one.
pub async fn memory_usage_of_keys(fx: &dyn Fixture) {
    let b = fx.backend("conf:mem:").await;
    let Some(usage) = ability(fx, "memory_usage", b.as_memory_usage()) else {
        return;
    };
    b.set("conf:mem:k", Bytes::from(vec![1u8; 1000]), LONG)
        .await
        .unwrap();
    match usage.memory_usage("conf:mem:k").await.unwrap() {
        Some(n) => assert!(n >= 1000, "{n}"),
        None => panic!("a present key has a size"),
    }
    assert_eq!(usage.memory_usage("conf:mem:missing").await.unwrap(), None);
}

/// Leases: one holder at a time; a store under the lease succeeds only while nothing
/// invalidated the key (set, delete) since the lease was taken.
pub async fn leases_guard_stores_against_invalidation(fx: &dyn Fixture) {
    let b = fx.backend("conf:lease:").await;
    let Some(leases) = ability(fx, "leases", b.as_leases()) else {
        return;
    };
    let k = "conf:lease:k";
    assert!(leases.acquire_lease(k, "a", LONG).await.unwrap());
    assert!(
        !leases.acquire_lease(k, "b", LONG).await.unwrap(),
        "one holder at a time"
    );
    assert!(
        !leases
            .set_under_lease(k, "b", "from b".into(), LONG)
            .await
            .unwrap(),
        "not b's lease"
    );
    assert!(
        leases
            .set_under_lease(k, "a", "from a".into(), LONG)
            .await
            .unwrap()
    );
    assert_eq!(b.get(k).await.unwrap().as_deref(), Some(&b"from a"[..]));
    assert!(
        !leases
            .set_under_lease(k, "a", "again".into(), LONG)
            .await
            .unwrap(),
        "the store released the lease"
    );

    // An invalidation between acquire and store wins.
    assert!(leases.acquire_lease(k, "c", LONG).await.unwrap());
    assert!(b.delete(k).await.unwrap());
    assert!(
        !leases
            .set_under_lease(k, "c", "stale".into(), LONG)
            .await
            .unwrap()
    );
    assert_eq!(b.get(k).await.unwrap(), None);
    // So does a direct write.
    assert!(leases.acquire_lease(k, "d", LONG).await.unwrap());
    b.set(k, "fresh".into(), LONG).await.unwrap();
    assert!(
        !leases
            .set_under_lease(k, "d", "stale".into(), LONG)
            .await
            .unwrap()
    );
    assert_eq!(b.get(k).await.unwrap().as_deref(), Some(&b"fresh"[..]));
    // A released lease can be taken again; someone else's release does nothing.
    assert!(leases.acquire_lease(k, "e", LONG).await.unwrap());
    leases.release_lease(k, "not-e").await.unwrap();
    assert!(!leases.acquire_lease(k, "f", LONG).await.unwrap());
    leases.release_lease(k, "e").await.unwrap();
    assert!(
        leases
            .acquire_lease(k, "f", Duration::from_millis(200))
            .await
            .unwrap()
    );
    // Leases expire.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        leases.acquire_lease(k, "g", LONG).await.unwrap(),
        "an expired lease is free"
    );
}

/// Version counters: created once with the caller's initial value (concurrent callers agree),
/// bumped to `max(current + 1, at_least)`, recreated after loss, expiring with their TTL.
pub async fn version_counters(fx: &dyn Fixture) {
    let b = fx.backend("conf:ver:").await;
    let Some(c) = ability(fx, "version_counters", b.as_version_counters()) else {
        return;
    };
    let (k1, k2) = ("conf:ver:kind", "conf:ver:tag");
    assert_eq!(
        c.versions(&[k1, k2], 1000, None).await.unwrap(),
        [1000, 1000]
    );
    // Existing counters keep their value whatever the caller's init.
    assert_eq!(c.versions(&[k2, k1], 5, None).await.unwrap(), [1000, 1000]);
    assert_eq!(c.bump_version(k1, 0, None).await.unwrap(), 1001);
    assert_eq!(c.bump_version(k1, 5000, None).await.unwrap(), 5000);
    assert_eq!(c.bump_version(k1, 10, None).await.unwrap(), 5001);
    assert_eq!(c.versions(&[k1], 1, None).await.unwrap(), [5001]);
    // A missing counter counts as 0 for a bump.
    assert_eq!(c.bump_version("conf:ver:new", 0, None).await.unwrap(), 1);
    // Concurrent creators agree on one value; concurrent bumps never lose one.
    let mut tasks = Vec::new();
    for i in 0..16u64 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            let c = b.as_version_counters().unwrap();
            let v = c.versions(&["conf:ver:race"], 100 + i, None).await.unwrap()[0];
            c.bump_version("conf:ver:bumps", 0, None).await.unwrap();
            v
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        seen.insert(t.await.unwrap());
    }
    assert_eq!(seen.len(), 1, "one initial value wins: {seen:?}");
    assert_eq!(
        c.versions(&["conf:ver:bumps"], 0, None).await.unwrap(),
        [16]
    );
    // With a TTL the counter expires and comes back with the next caller's init.
    c.bump_version("conf:ver:short", 7, Some(Duration::from_millis(200)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        c.versions(&["conf:ver:short"], 99, Some(Duration::from_secs(60)))
            .await
            .unwrap(),
        [99]
    );
    // Bad keys are refused.
    assert_eq!(
        c.bump_version("", 1, None).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

/// `ping` answers and `info` names the backend.
pub async fn ping_and_info(fx: &dyn Fixture) {
    let b = fx.backend("conf:info:").await;
    b.ping().await.unwrap();
    b.set("conf:info:k", "v".into(), LONG).await.unwrap();
    let info = b.info().await.unwrap();
    assert_eq!(info.backend, b.name());
    assert!(info.bytes_used.is_some_and(|n| n > 0), "{info:?}");
    assert_eq!(b.namespace(), "conf:info:");
}
