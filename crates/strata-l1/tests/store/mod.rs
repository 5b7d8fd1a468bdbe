//! The store's bounds: lifetime, byte budget, entry cap, and the eviction hook.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use strata_codec::EntryMeta;
use strata_keys::{Key, KeySpace};
use strata_l1::{EvictionHook, L1, L1Config, L1Entry};

fn key(id: u64) -> Key {
    KeySpace::new("app", "v1")
        .unwrap()
        .kind("user")
        .unwrap()
        .key(id)
        .unwrap()
}

fn entry(value: u64, bytes: usize, keep_for: Duration) -> L1Entry {
    L1Entry::new(Some(Arc::new(value)), EntryMeta::default(), bytes, keep_for)
}

#[tokio::test]
async fn an_entry_past_its_lifetime_is_a_miss_and_leaves_at_the_next_sync() {
    let l1 = L1::new(L1Config::default().with_max_lifetime(Duration::ZERO));
    l1.insert(key(1), entry(1, 40, Duration::from_secs(60)))
        .await;
    assert!(
        l1.get(&key(1)).await.is_none(),
        "the maximum lifetime bounds it"
    );

    let l1 = L1::new(L1Config::default());
    l1.insert(key(2), entry(2, 40, Duration::ZERO)).await;
    l1.insert(key(3), entry(3, 40, Duration::from_secs(60)))
        .await;
    assert!(
        l1.get(&key(2)).await.is_none(),
        "its own keep_for bounds it"
    );
    assert!(l1.get_str(key(3).as_str()).await.is_some());
    assert_eq!(l1.usage().await.entries, 1, "usage drops what expired");
}

#[tokio::test]
async fn the_byte_budget_and_the_entry_cap_hold_and_evictions_are_reported() {
    let evicted = Arc::new(AtomicU64::new(0));
    let seen = evicted.clone();
    let hook: EvictionHook = Arc::new(move |_k: &Key| {
        seen.fetch_add(1, Ordering::Relaxed);
    });
    let config = L1Config::default()
        .with_max_bytes(64 * 1024)
        .with_max_entries(100);
    let l1 = L1::with_eviction_hook(config, Some(hook));
    for id in 0..1_000 {
        l1.insert(key(id), entry(id, 100, Duration::from_secs(60)))
            .await;
    }
    let usage = l1.usage().await;
    assert!(usage.weighted_bytes <= 64 * 1024, "{usage:?}");
    assert!(usage.entries <= 100, "the entry cap holds: {usage:?}");
    assert_eq!(
        evicted.load(Ordering::Relaxed),
        1_000 - usage.entries,
        "every entry that left was reported as evicted"
    );

    // Heavy entries: the byte budget is the tighter bound.
    let l1 = L1::new(config);
    for id in 0..100 {
        l1.insert(key(id), entry(id, 4_096, Duration::from_secs(60)))
            .await;
    }
    let usage = l1.usage().await;
    assert!(usage.weighted_bytes <= 64 * 1024, "{usage:?}");
    assert!(usage.entries <= 16, "{usage:?}");
}

#[tokio::test]
async fn removals_are_not_evictions() {
    let evicted = Arc::new(AtomicU64::new(0));
    let seen = evicted.clone();
    let hook: EvictionHook = Arc::new(move |_k: &Key| {
        seen.fetch_add(1, Ordering::Relaxed);
    });
    let l1 = L1::with_eviction_hook(L1Config::default(), Some(hook));
    for id in 0..10 {
        l1.insert(key(id), entry(id, 40, Duration::from_secs(60)))
            .await;
    }
    l1.remove(&key(0)).await;
    l1.remove_str(key(1).as_str()).await;
    l1.remove_prefix(key(2).as_str());
    l1.insert(key(3), entry(33, 40, Duration::from_secs(60)))
        .await;
    assert_eq!(l1.usage().await.entries, 7);
    l1.clear();
    assert_eq!(l1.usage().await.entries, 0);
    assert_eq!(evicted.load(Ordering::Relaxed), 0);
}
