//! A cache on a backend that counts the changes to its counters (the embedded memory backend)
//! trusts the versions it knows without a coherence channel: its tagged L1 hits read nothing
//! from the backend. A change by anyone else sharing that backend (another cache, no bus) is
//! still seen at the next read.

use crate::common;

use std::sync::Arc;

use strata::{Backend, CacheBuilder, MemoryBackend, MemoryConfig};
use strata_testkit::Faults;

#[tokio::test]
async fn tagged_l1_hits_read_nothing_yet_every_foreign_change_is_seen() {
    let memory = MemoryBackend::new(MemoryConfig::default().with_namespace("t:")).unwrap();
    assert!(
        memory
            .as_version_counters()
            .and_then(|c| c.local_changes())
            .is_some(),
        "the memory backend counts its changes"
    );
    let (counted, faults) = Faults::wrap(memory.clone());
    let a = CacheBuilder::new()
        .prefix("t")
        .jitter(0.0)
        .metrics(false)
        .backend(Arc::new(counted))
        .build()
        .await
        .unwrap();
    // Another cache on the same backend, with no bus between them.
    let b = common::l1_less_reader("t", Arc::new(memory.clone())).await;
    let pages = a.kind::<String>("page").unwrap();
    pages.set_tagged(1, "v1".into(), &["user:1"]).await.unwrap();
    pages.set(2, "untagged".into()).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            pages.get(1).await.unwrap().as_deref().map(String::as_str),
            Some("v1")
        );
        assert!(pages.get(2).await.unwrap().is_some());
    }

    let before = faults.calls();
    for _ in 0..20 {
        assert_eq!(
            pages.get(1).await.unwrap().as_deref().map(String::as_str),
            Some("v1")
        );
        assert!(pages.get(2).await.unwrap().is_some());
    }
    assert_eq!(
        faults.calls(),
        before,
        "L1 hits, tagged or not, read nothing"
    );

    // The other cache invalidates the tag: the next read here misses.
    b.invalidate_tag("user:1").await.unwrap();
    assert_eq!(
        pages.get(1).await.unwrap(),
        None,
        "a foreign tag invalidation"
    );
    assert!(pages.get(2).await.unwrap().is_some(), "untagged survives");

    // It clears the kind: every entry of it misses here.
    pages.set_tagged(1, "v2".into(), &["user:1"]).await.unwrap();
    assert!(pages.get(1).await.unwrap().is_some());
    b.clear_kind("page").await.unwrap();
    assert_eq!(
        pages.get(1).await.unwrap(),
        None,
        "a foreign kind clear (tagged)"
    );
    assert_eq!(
        pages.get(2).await.unwrap(),
        None,
        "a foreign kind clear (untagged)"
    );

    // And back to trusting: hits read nothing again once the new values are known.
    pages.set_tagged(1, "v3".into(), &["user:1"]).await.unwrap();
    for _ in 0..2 {
        assert!(pages.get(1).await.unwrap().is_some());
    }
    let before = faults.calls();
    assert!(pages.get(1).await.unwrap().is_some());
    assert_eq!(faults.calls(), before);
}
