//! `L1`: the moka cache of decoded values.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use moka::notification::RemovalCause;
use strata_keys::Key;

use crate::config::L1Config;
use crate::entry::L1Entry;

/// What an [`L1`] holds, from [`L1::usage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct L1Usage {
    /// Live entries.
    pub entries: u64,
    /// Their weight: bytes held (uncompressed envelopes), each entry at least the minimum weight.
    pub weighted_bytes: u64,
}

/// Called with the key of each entry evicted for size (not for expiry or invalidation).
pub type EvictionHook = Arc<dyn Fn(&Key) + Send + Sync>;

struct EntryExpiry {
    max_lifetime: Duration,
}

impl EntryExpiry {
    fn lifetime(&self, entry: &L1Entry) -> Duration {
        entry.keep_for.min(self.max_lifetime)
    }
}

impl Expiry<Key, L1Entry> for EntryExpiry {
    fn expire_after_create(&self, _key: &Key, value: &L1Entry, _now: Instant) -> Option<Duration> {
        Some(self.lifetime(value))
    }

    fn expire_after_update(
        &self,
        _key: &Key,
        value: &L1Entry,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.lifetime(value))
    }
}

/// The in-process tier: decoded values (`Arc<T>`) under their keys, bounded by the bytes they hold
/// and entry count, each entry dropped at its expiry or after the maximum L1 lifetime.
///
/// Cheap to clone (clones share the cache).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use strata_codec::EntryMeta;
/// use strata_keys::KeySpace;
/// use strata_l1::{L1, L1Config, L1Entry};
///
/// let l1 = L1::new(L1Config::default());
/// let key = KeySpace::new("app", "v1").unwrap().kind("user").unwrap().key(7).unwrap();
/// let entry = L1Entry::new(Some(Arc::new("Ada".to_string())), EntryMeta::default(), 40,
///                          Duration::from_secs(60));
/// l1.insert(key.clone(), entry).await;
/// let hit = l1.get(&key).await.unwrap();
/// assert_eq!(hit.downcast::<String>().unwrap().unwrap().as_str(), "Ada");
/// assert!(hit.downcast::<u64>().is_err(), "type-checked on read");
/// # });
/// ```
#[derive(Clone)]
pub struct L1 {
    /// Keys hash with foldhash, randomly seeded per tier: several times faster than SipHash on
    /// short keys, and still not predictable by whoever chooses ids.
    cache: Cache<Key, L1Entry, foldhash::fast::RandomState>,
    config: L1Config,
}

impl std::fmt::Debug for L1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1")
            .field("config", &self.config)
            .field("entries", &self.cache.entry_count())
            .field("weighted_bytes", &self.cache.weighted_size())
            .finish()
    }
}

impl L1 {
    /// An empty tier.
    pub fn new(config: L1Config) -> Self {
        Self::with_eviction_hook(config, None)
    }

    /// An empty tier that reports size evictions to `hook`.
    pub fn with_eviction_hook(config: L1Config, hook: Option<EvictionHook>) -> Self {
        let min_weight = config.min_weight();
        let mut builder = Cache::builder()
            .max_capacity(config.max_bytes)
            .support_invalidation_closures()
            .weigher(move |_k: &Key, v: &L1Entry| v.encoded_len.max(min_weight))
            .expire_after(EntryExpiry {
                max_lifetime: config.max_lifetime,
            });
        if let Some(hook) = hook {
            builder = builder.eviction_listener(move |k: Arc<Key>, _v, cause| {
                if cause == RemovalCause::Size {
                    hook(&k);
                }
            });
        }
        Self {
            cache: builder.build_with_hasher(foldhash::fast::RandomState::default()),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &L1Config {
        &self.config
    }

    /// The entry under `key`, if present and not expired.
    pub async fn get(&self, key: &Key) -> Option<L1Entry> {
        self.cache.get(key).await
    }

    /// Stores `entry` under `key`.
    pub async fn insert(&self, key: Key, entry: L1Entry) {
        self.cache.insert(key, entry).await;
    }

    /// Drops `key`.
    pub async fn remove(&self, key: &Key) {
        self.cache.invalidate(key).await;
    }

    /// Drops the entry under the key string `key`.
    pub async fn remove_str(&self, key: &str) {
        self.cache.invalidate(key).await;
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.cache.invalidate_all();
    }

    /// Drops every entry whose key starts with `prefix` (applied lazily by moka, in the
    /// background; reads stop seeing them at once).
    pub fn remove_prefix(&self, prefix: &str) {
        let prefix = prefix.to_owned();
        // invalidate_entries_if only fails when support for it was not enabled at build time.
        let _ = self
            .cache
            .invalidate_entries_if(move |k, _| k.as_str().starts_with(&prefix));
    }

    /// The number of entries and the weight they hold, exact at the time of the call: moka
    /// counts lazily (an entry inserted a moment ago is not counted until its maintenance
    /// runs), so this applies the pending maintenance first. Meant for reports, not hot paths.
    pub async fn usage(&self) -> L1Usage {
        self.cache.run_pending_tasks().await;
        L1Usage {
            entries: self.cache.entry_count(),
            weighted_bytes: self.cache.weighted_size(),
        }
    }

    /// Approximate number of entries (may lag the last writes).
    #[deprecated(
        since = "0.2.0",
        note = "use L1::usage().await.entries, which is exact"
    )]
    pub fn entry_count(&self) -> u64 {
        self.cache.entry_count()
    }

    /// moka's running weight (bytes held, each entry at least the minimum weight), without
    /// applying pending maintenance: cheap, and may lag the last writes. [`L1::usage`] is exact.
    pub fn weighted_bytes(&self) -> u64 {
        self.cache.weighted_size()
    }

    /// Applies pending maintenance (evictions, expirations) now; for tests and reports.
    pub async fn sync(&self) {
        self.cache.run_pending_tasks().await;
    }
}
