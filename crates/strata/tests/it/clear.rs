//! Clearing: a kind (O(1)), a kind physically (purge), a key, everything; other kinds and other
//! prefixes survive.

use crate::common;

use std::time::Duration;

use strata::{Codec, EntryMeta, MsgPackCodec};

#[tokio::test]
async fn clear_kind_makes_every_entry_of_that_kind_a_miss_in_o1() {
    let (cache, backend) = common::memory_cache().await;
    let users = cache.kind::<u32>("user").unwrap();
    let jobs = cache.kind::<u32>("job").unwrap();
    users
        .set_many((0..50u32).map(|i| (i, i)).collect())
        .await
        .unwrap();
    users.clone().with_schema(2).set(99, 99).await.unwrap();
    jobs.set(1, 1).await.unwrap();
    let before = backend.info().await.unwrap().entries;

    let g1 = cache.clear_kind("user").await.unwrap();
    assert_eq!(
        backend.info().await.unwrap().entries,
        before,
        "nothing scanned or deleted"
    );
    for i in 0..50u32 {
        assert_eq!(users.get(i).await.unwrap(), None, "user {i} is a miss");
    }
    assert_eq!(users.clone().with_schema(2).get(99).await.unwrap(), None);
    assert_eq!(
        *jobs.get(1).await.unwrap().unwrap(),
        1,
        "other kinds survive"
    );

    // Written after the clear: a hit, here and through an L1-less reader of the same backend.
    users.set(7, 70).await.unwrap();
    assert_eq!(*users.get(7).await.unwrap().unwrap(), 70);
    let other = common::l1_less_reader("t", backend.clone()).await;
    let other_users = other.kind::<u32>("user").unwrap();
    assert_eq!(*other_users.get(7).await.unwrap().unwrap(), 70);
    assert_eq!(other_users.get(8).await.unwrap(), None);

    // Generations only move forward.
    let g2 = cache.clear_kind("user").await.unwrap();
    assert!(g2 > g1, "{g2} > {g1}");
    assert_eq!(users.get(7).await.unwrap(), None);
}

#[tokio::test]
async fn purge_kind_removes_that_kind_from_both_tiers_only() {
    let (cache, backend) = common::memory_cache().await;
    let users = cache.kind::<u32>("user").unwrap();
    let jobs = cache.kind::<u32>("job").unwrap();
    users
        .set_many((0..50u32).map(|i| (i, i)).collect())
        .await
        .unwrap();
    jobs.set_many((0..5u32).map(|i| (i, i)).collect())
        .await
        .unwrap();
    users.clone().with_schema(2).set(99, 99).await.unwrap();
    // An entry written under a newer generation than the purge's survives it.
    let late = users.key(1000).unwrap();
    let meta = EntryMeta::new(1, 60_000, 1).with_generation(u64::MAX / 4);
    backend
        .set(
            &late,
            MsgPackCodec::default().encode(&meta, Some(&7u32)).unwrap(),
            Duration::from_secs(60),
        )
        .await
        .unwrap();

    assert_eq!(cache.admin().purge_kind("user").await.unwrap(), 51);
    assert_eq!(users.get(3).await.unwrap(), None, "gone from L1 too");
    assert!(
        backend.get(&late).await.unwrap().is_some(),
        "written after the clear began"
    );
    assert_eq!(
        *jobs.get(3).await.unwrap().unwrap(),
        3,
        "other kinds survive"
    );
}

#[tokio::test]
async fn delete_key_and_clear() {
    let (cache, backend) = common::memory_cache().await;
    let users = cache.kind::<u32>("user").unwrap();
    users.set(4, 4).await.unwrap();
    users.set(42, 42).await.unwrap();
    assert!(cache.admin().delete_key("t:v1:user:s1:4").await.unwrap());
    assert_eq!(users.get(4).await.unwrap(), None);
    assert_eq!(
        *users.get(42).await.unwrap().unwrap(),
        42,
        "a key is not a prefix"
    );
    // A key outside the namespace, which clear() would miss, cannot even be written.
    let outside = backend
        .set("other:1", "x".into(), Duration::from_secs(60))
        .await
        .unwrap_err();
    assert_eq!(outside.kind(), strata::ErrorKind::InvalidInput, "{outside}");
    assert_eq!(cache.clear().await.unwrap(), 1);
    assert_eq!(users.get(42).await.unwrap(), None);
    assert!(backend.get("other:1").await.is_err());
}
