//! `L1`: the quick_cache store of decoded values.

use std::sync::Arc;
use std::time::Duration;

use quick_cache::Lifecycle;
use quick_cache::sync::Cache;
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

/// An entry as stored: the entry and the instant its L1 lifetime ends.
#[derive(Clone)]
struct Stored {
    entry: L1Entry,
    until: Instant,
}

/// The kernel's coarse monotonic clock (`CLOCK_MONOTONIC_COARSE` on Linux): one tick of
/// resolution (1–10 ms with the kernel's tick rate), which an L1 lifetime (a memory bound of
/// seconds) does not notice, read in about a fifth of the precise clock's time (5 ns against
/// 23 ns measured here). Every hit reads it.
type Instant = coarsetime::Instant;

#[inline]
fn now() -> Instant {
    // Not `Instant::now`, which also writes the crate's shared "recent" instant: one cache line
    // every thread would write on every hit.
    Instant::now_without_cache_update()
}

/// The longest lifetime the coarse clock adds without overflowing (68 years).
const LONGEST: Duration = Duration::from_secs(1 << 31);

/// Each entry weighs its bytes, at least the minimum weight (so the byte budget bounds the
/// entry count too), and never 0 (quick_cache never evicts weightless entries).
#[derive(Clone)]
struct Weight {
    min: u64,
}

impl quick_cache::Weighter<Key, Stored> for Weight {
    fn weight(&self, _key: &Key, value: &Stored) -> u64 {
        u64::from(value.entry.encoded_len).max(self.min)
    }
}

/// Collects the keys evicted by one insert, so that the hook runs after the store's lock is
/// released (and the evicted values are dropped there too).
#[derive(Clone)]
struct Evictions;

impl Lifecycle<Key, Stored> for Evictions {
    type RequestState = Vec<(Key, Stored)>;

    fn on_evict(&self, state: &mut Self::RequestState, key: Key, val: Stored) {
        state.push((key, val));
    }
}

type Store = Cache<Key, Stored, Weight, foldhash::fast::RandomState, Evictions>;

/// The in-process tier: decoded values (`Arc<T>`) under their keys, bounded by the bytes they hold
/// and entry count, each entry dropped at its expiry or after the maximum L1 lifetime.
///
/// The store is quick_cache (S3-FIFO eviction: a small queue for new entries, a main one for
/// entries read again, a ghost list of recent evictions): a hit takes one shard's read lock and
/// reads the monotonic clock once. An entry past its lifetime is a miss at once and leaves at
/// the next eviction or [`usage`](L1::usage)/[`sync`](L1::sync); until then it counts in the
/// budget, so memory stays within it.
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
    cache: Arc<Store>,
    hook: Option<EvictionHook>,
    config: L1Config,
}

impl std::fmt::Debug for L1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1")
            .field("config", &self.config)
            .field("entries", &self.cache.len())
            .field("weighted_bytes", &self.cache.weight())
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
        let min = u64::from(config.min_weight()).max(1);
        let items = usize::try_from(config.max_entries.min(config.max_bytes / min).max(1))
            .unwrap_or(usize::MAX);
        let cache = Cache::with(
            items,
            config.max_bytes.max(1),
            Weight { min },
            foldhash::fast::RandomState::default(),
            Evictions,
        );
        Self {
            cache: Arc::new(cache),
            hook,
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &L1Config {
        &self.config
    }

    /// The entry under `key`, if present and not expired.
    pub async fn get(&self, key: &Key) -> Option<L1Entry> {
        self.get_str(key.as_str()).await
    }

    /// The entry under the key string `key` (a key rendered without allocating, such as a
    /// `strata_keys::KeyStr`), if present and not expired.
    pub async fn get_str(&self, key: &str) -> Option<L1Entry> {
        self.lookup(key)
    }

    #[inline]
    fn lookup(&self, key: &str) -> Option<L1Entry> {
        let stored = self.cache.get(key)?;
        (now() < stored.until).then_some(stored.entry)
    }

    /// Stores `entry` under `key`.
    pub async fn insert(&self, key: Key, entry: L1Entry) {
        let lifetime = entry.keep_for.min(self.config.max_lifetime);
        let until = now() + coarsetime::Duration::from(lifetime.min(LONGEST));
        let mut evicted = Vec::new();
        let Some(hook) = &self.hook else {
            self.cache
                .insert_with_lifecycle(key, Stored { entry, until }, &mut evicted);
            return;
        };
        self.cache
            .insert_with_lifecycle(key.clone(), Stored { entry, until }, &mut evicted);
        for (gone, _) in &evicted {
            // The store reports the value a write replaced like an eviction: only a write
            // refused for its size (the key is not held) is one.
            if *gone != key || !self.cache.contains_key(key.as_str()) {
                hook(gone);
            }
        }
    }

    /// Drops `key`.
    pub async fn remove(&self, key: &Key) {
        self.cache.remove(key.as_str());
    }

    /// Drops the entry under the key string `key`.
    pub async fn remove_str(&self, key: &str) {
        self.cache.remove(key);
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.cache.clear();
    }

    /// Drops every entry whose key starts with `prefix` (at once: one pass over the entries).
    pub fn remove_prefix(&self, prefix: &str) {
        self.cache.retain(|k, _| !k.as_str().starts_with(prefix));
    }

    /// Drops the entries past their lifetime.
    fn drop_expired(&self) {
        let now = now();
        self.cache.retain(|_, v| now < v.until);
    }

    /// The number of entries and the weight they hold, exact at the time of the call (entries
    /// past their lifetime are dropped first). Meant for reports, not hot paths.
    pub async fn usage(&self) -> L1Usage {
        self.drop_expired();
        L1Usage {
            entries: self.cache.len() as u64,
            weighted_bytes: self.cache.weight(),
        }
    }

    /// Approximate number of entries (may count entries past their lifetime).
    #[deprecated(
        since = "0.2.0",
        note = "use L1::usage().await.entries, which is exact"
    )]
    pub fn entry_count(&self) -> u64 {
        self.cache.len() as u64
    }

    /// The running weight (bytes held, each entry at least the minimum weight), entries past
    /// their lifetime included until they leave: cheap. [`L1::usage`] is exact.
    pub fn weighted_bytes(&self) -> u64 {
        self.cache.weight()
    }

    /// Drops the entries past their lifetime now; for tests and reports.
    pub async fn sync(&self) {
        self.drop_expired();
    }
}
