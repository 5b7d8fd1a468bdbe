//! Clearing: a kind, a key, everything; other kinds and other prefixes survive.

mod common;

use std::time::Duration;

use strata::{Codec, EntryMeta, MsgPackCodec};

#[tokio::test]
async fn clear_kind_removes_that_kind_from_both_tiers_only() {
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
    // An entry created "after" the clear began (its created-at is in the future) survives.
    let late = users.key(1000).unwrap();
    let meta = EntryMeta::new(u64::MAX / 2, 60_000, 1);
    backend
        .set(
            &late,
            MsgPackCodec::default().encode(&meta, Some(&7u32)).unwrap(),
            Duration::from_secs(60),
        )
        .await
        .unwrap();

    assert_eq!(cache.clear_kind("user").await.unwrap(), 51);
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
    assert!(cache.delete_key("t:v1:user:s1:4").await.unwrap());
    assert_eq!(users.get(4).await.unwrap(), None);
    assert_eq!(
        *users.get(42).await.unwrap().unwrap(),
        42,
        "a key is not a prefix"
    );
    backend
        .set("other:1", "x".into(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(cache.clear().await.unwrap(), 1);
    assert_eq!(users.get(42).await.unwrap(), None);
    assert!(backend.get("other:1").await.unwrap().is_some());
}
