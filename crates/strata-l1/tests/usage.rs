//! `L1::usage` counts what the tier holds at the time of the call, not what a lazy
//! bookkeeping has caught up with.

mod store;

use std::sync::Arc;
use std::time::Duration;

use strata_codec::EntryMeta;
use strata_keys::{Key, KeySpace};
use strata_l1::{L1, L1Config, L1Entry};

fn key(kind: &str, id: u64) -> Key {
    KeySpace::new("app", "v1")
        .unwrap()
        .kind(kind)
        .unwrap()
        .key(id)
        .unwrap()
}

fn entry(value: u64) -> L1Entry {
    L1Entry::new(
        Some(Arc::new(value)),
        EntryMeta::default(),
        40,
        Duration::from_secs(60),
    )
}

#[tokio::test]
async fn usage_is_exact_right_after_writes() {
    let l1 = L1::new(L1Config::default());
    for id in 0..3 {
        l1.insert(key("user", id), entry(id)).await;
    }
    l1.insert(key("job", 1), entry(1)).await;
    assert_eq!(l1.usage().await.entries, 4, "counted without waiting");
    assert!(l1.usage().await.weighted_bytes >= 4 * 40);

    l1.insert(key("user", 0), entry(9)).await;
    assert_eq!(l1.usage().await.entries, 4, "a replaced entry is one entry");

    l1.remove(&key("user", 1)).await;
    assert_eq!(l1.usage().await.entries, 3);

    l1.remove_prefix(key("user", 0).as_str().trim_end_matches('0'));
    assert_eq!(l1.usage().await.entries, 1, "only the job is left");

    l1.clear();
    assert_eq!(l1.usage().await.entries, 0);
}

#[tokio::test]
#[allow(deprecated)]
async fn the_deprecated_entry_count_still_counts() {
    let l1 = L1::new(L1Config::default());
    for id in 0..3 {
        l1.insert(key("user", id), entry(id)).await;
    }
    l1.sync().await;
    assert_eq!(l1.entry_count(), 3);
    assert_eq!(l1.entry_count(), l1.usage().await.entries);
}
