//! `Cache`: the handle applications hold, and the shared state behind it.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;
use rand::Rng;
use std::sync::atomic::{AtomicU64, Ordering};

use strata_backend::{Backend, BackendInfo, Bus, BusEvent, BusMessage, Invalidation};
use strata_codec::MsgPackCodec;
use strata_keys::{KeySpace, KindKeys};
use strata_l1::L1;
use strata_stats::{KindStats, Stats, StatsSnapshot};

use crate::breaker::{Breaker, BreakerState};
use crate::cacheable::{CacheValue, Cacheable};
use crate::config::CacheConfig;
use crate::error::Error;
use crate::flight::Flights;
use crate::kind::KindCache;
use crate::versions::{KindGeneration, Versions};
use strata_invalidation::{Rules, Target};

/// A typed two-tier cache: an in-process tier (moka, decoded values) in front of a backend
/// (Redis, or the embedded memory backend) holding MessagePack envelopes.
///
/// Cheap to clone: clones share everything. Build one with [`CacheBuilder`](crate::CacheBuilder).
#[derive(Clone)]
pub struct Cache {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("config", &self.inner.config)
            .field("backend", &self.inner.backend)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) config: CacheConfig,
    pub(crate) space: KeySpace,
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) l1: Option<L1>,
    pub(crate) codec: MsgPackCodec,
    pub(crate) stats: Stats,
    pub(crate) breaker: Breaker,
    /// The backend bounds its own operations (see `Capabilities::bounded`).
    pub(crate) bounded: bool,
    pub(crate) flights: Flights,
    pub(crate) versions: Versions,
    kinds: RwLock<HashMap<(String, u32), Arc<KindCtx>>>,
    /// The invalidation bus, and this instance's id on it.
    pub(crate) bus: Option<Arc<dyn Bus>>,
    pub(crate) instance: u64,
    pub(crate) bus_counters: BusCounters,
}

/// What went over the invalidation bus, for monitoring and tests.
#[derive(Debug, Default)]
pub(crate) struct BusCounters {
    pub(crate) published: AtomicU64,
    pub(crate) publish_errors: AtomicU64,
    pub(crate) applied: AtomicU64,
    pub(crate) resets: AtomicU64,
}

/// A snapshot of [`Cache::bus_stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct BusStats {
    /// Invalidations this instance published.
    pub published: u64,
    /// Publications that failed (the other instances converge through the L1 lifetime cap).
    pub publish_errors: u64,
    /// Other instances' invalidations applied to this L1.
    pub applied: u64,
    /// Full L1 flushes because the subscription dropped or lagged.
    pub resets: u64,
}

/// Everything about one (kind, schema) a call needs, resolved once.
pub(crate) struct KindCtx {
    pub(crate) keys: KindKeys,
    pub(crate) ttl: Duration,
    pub(crate) stats: Arc<KindStats>,
    /// The kind's generation (shared by every schema and TTL of the kind).
    pub(crate) generation: Arc<KindGeneration>,
}

impl KindCtx {
    /// The same kind with another TTL.
    pub(crate) fn with_ttl(&self, ttl: Duration) -> Self {
        Self {
            keys: self.keys.clone(),
            ttl,
            stats: self.stats.clone(),
            generation: self.generation.clone(),
        }
    }
}

/// Milliseconds since the Unix epoch (the envelope's clock, shared across processes).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Cache {
    pub(crate) fn from_parts(
        config: CacheConfig,
        backend: Arc<dyn Backend>,
        l1: Option<L1>,
        stats: Stats,
        bus: Option<Arc<dyn Bus>>,
    ) -> Result<Self, Error> {
        let space = KeySpace::new(&config.prefix, &config.app_version)?;
        let codec = MsgPackCodec::default().with_max_value_bytes(config.backend.max_value_bytes);
        let breaker = Breaker::new(config.breaker.failures, config.breaker.cooldown);
        let versions = Versions::new(tag_version_ttl(&config), bus.is_some());
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                space,
                bounded: backend.bounded(),
                backend,
                l1,
                codec,
                stats,
                breaker,
                flights: Flights::default(),
                versions,
                kinds: RwLock::new(HashMap::new()),
                bus,
                instance: rand::rng().random(),
                bus_counters: BusCounters::default(),
            }),
        })
    }

    /// Tells the other instances to drop `invalidation` from their L1 (no-op without a bus).
    /// Failures are counted and logged: the L1 lifetime cap still bounds staleness.
    pub(crate) async fn announce(&self, invalidation: Invalidation) {
        let Some(bus) = &self.inner.bus else { return };
        let msg = BusMessage::new(self.inner.instance, invalidation);
        match bus.publish(&msg).await {
            Ok(()) => {
                self.inner
                    .bus_counters
                    .published
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.inner
                    .bus_counters
                    .publish_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %e, "could not publish an invalidation");
            }
        }
    }

    /// Applies other instances' invalidations to this L1 until the cache is dropped.
    pub(crate) fn start_bus_listener(&self) {
        let Some(bus) = &self.inner.bus else { return };
        let mut events = bus.subscribe();
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let Some(inner) = weak.upgrade() else { return };
                // Without an L1 there is nothing to drop, but kind and tag versions are kept.
                let l1 = inner.l1.as_ref();
                match event {
                    BusEvent::Message(m) if m.origin == inner.instance => {}
                    BusEvent::Message(m) => {
                        match m.invalidation {
                            Invalidation::Keys(keys) => {
                                for k in keys {
                                    inner.flights.poison(&k);
                                    if let Some(l1) = l1 {
                                        l1.remove_str(&k).await;
                                    }
                                }
                            }
                            Invalidation::Prefix(p) => {
                                inner.flights.poison_prefix(&p);
                                if let Some(l1) = l1 {
                                    l1.remove_prefix(&p);
                                }
                            }
                            Invalidation::Kind { kind, generation } => {
                                inner.versions.apply_kind(&kind, generation);
                                if let Ok(keys) = inner.space.kind(&kind) {
                                    Cache {
                                        inner: inner.clone(),
                                    }
                                    .forget_kind_locally(&keys);
                                }
                            }
                            Invalidation::Tag { tag, version } => {
                                inner.versions.apply_tag(&tag, version);
                            }
                            _ => {
                                inner.versions.unsync_all();
                                inner.flights.poison_all();
                                if let Some(l1) = l1 {
                                    l1.clear();
                                }
                            }
                        }
                        inner.bus_counters.applied.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        // Messages may have been missed: drop L1 and the L2 reads racing this
                        // flush, and read the kind and tag versions again.
                        inner.versions.unsync_all();
                        inner.flights.forget_reads();
                        if let Some(l1) = l1 {
                            l1.clear();
                        }
                        inner.bus_counters.resets.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }

    /// What went over the invalidation bus.
    pub fn bus_stats(&self) -> BusStats {
        let c = &self.inner.bus_counters;
        BusStats {
            published: c.published.load(Ordering::Relaxed),
            publish_errors: c.publish_errors.load(Ordering::Relaxed),
            applied: c.applied.load(Ordering::Relaxed),
            resets: c.resets.load(Ordering::Relaxed),
        }
    }

    /// The invalidation bus, if any.
    pub fn bus(&self) -> Option<&Arc<dyn Bus>> {
        self.inner.bus.as_ref()
    }

    /// The entries of `kind` as values of type `T` (schema version 1, the kind's TTL; change
    /// them with [`KindCache::with_schema`] and [`KindCache::with_ttl`]). This is the original
    /// layer's model-instance API: `cache.kind::<UserData>("user")?.set(id, data)`.
    pub fn kind<T: CacheValue>(&self, kind: &str) -> Result<KindCache<T>, Error> {
        Ok(KindCache::new(self.clone(), self.ctx(kind, 1)?))
    }

    /// The entries of a [`Cacheable`] type.
    pub fn of<T: Cacheable>(&self) -> Result<KindCache<T>, Error> {
        let mut ctx = self.ctx(T::KIND, T::SCHEMA)?;
        if let Some(ttl) = T::ttl() {
            ctx = Arc::new(ctx.with_ttl(ttl));
        }
        Ok(KindCache::new(self.clone(), ctx))
    }

    /// The response cache of one route prefix (kind `api`): what the HTTP layer's response
    /// caching uses. Ids are request keys (path, sorted query, vary headers).
    pub fn responses<T: CacheValue>(
        &self,
        route_prefix: &str,
        ttl: Duration,
    ) -> Result<KindCache<T>, Error> {
        let kind = format!("api.{}", route_prefix.trim_end_matches(':'));
        Ok(self.kind::<T>(&kind)?.with_ttl(ttl))
    }

    /// The results of a function (`#[cached]`): kind `prefix` without its trailing ':'.
    pub fn function_results<T: CacheValue>(
        &self,
        prefix: &str,
        ttl: Option<Duration>,
    ) -> Result<KindCache<T>, Error> {
        let kind = self.kind::<T>(prefix.trim_end_matches(':'))?;
        Ok(match ttl {
            Some(ttl) => kind.with_ttl(ttl),
            None => kind,
        })
    }

    pub(crate) fn ctx(&self, kind: &str, schema: u32) -> Result<Arc<KindCtx>, Error> {
        if let Some(ctx) = self.inner.kinds.read().get(&(kind.to_owned(), schema)) {
            return Ok(ctx.clone());
        }
        let keys = self.inner.space.kind(kind)?.with_schema(schema);
        let ctx = Arc::new(KindCtx {
            keys,
            ttl: self.inner.config.ttl_of(kind),
            stats: self.inner.stats.kind(kind),
            generation: self.inner.versions.kind(kind),
        });
        Ok(self
            .inner
            .kinds
            .write()
            .entry((kind.to_owned(), schema))
            .or_insert(ctx)
            .clone())
    }

    // Shortcuts for Cacheable types.

    /// The value of type `T` under `id`, fresh, if cached.
    pub async fn get<T: Cacheable>(
        &self,
        id: impl std::fmt::Display,
    ) -> Result<Option<Arc<T>>, Error> {
        self.of::<T>()?.get(id).await
    }

    /// Caches `value` under `id` with its kind's TTL.
    pub async fn set<T: Cacheable>(
        &self,
        id: impl std::fmt::Display,
        value: T,
    ) -> Result<(), Error> {
        self.of::<T>()?.set(id, value).await
    }

    /// Removes the `T` under `id` from both tiers.
    pub async fn delete<T: Cacheable>(&self, id: impl std::fmt::Display) -> Result<bool, Error> {
        self.of::<T>()?.delete(id).await
    }

    /// The `T` under `id`, loading (once per key across concurrent callers) on a miss.
    pub async fn get_or_load<T, E, F, Fut>(
        &self,
        id: impl std::fmt::Display,
        loader: F,
    ) -> Result<Arc<T>, crate::LoadError<E>>
    where
        T: Cacheable,
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        self.of::<T>()
            .map_err(crate::LoadError::Cache)?
            .get_or_load(id, loader)
            .await
    }

    /// [`clear`](Self::clear) page by page, calling `progress(removed)` after each page.
    pub async fn clear_with_progress(&self, progress: impl Fn(u64)) -> Result<u64, Error> {
        self.forget_all_locally();
        let backend = &self.inner.backend;
        let listing = listing(&**backend)?;
        let namespace = backend.namespace().to_owned();
        let (mut cursor, mut removed) = (None, 0);
        loop {
            let page = listing.scan(&namespace, cursor, 1000).await?;
            let refs: Vec<&str> = page.keys.iter().map(String::as_str).collect();
            if !refs.is_empty() {
                removed += backend.delete_many(&refs).await?;
            }
            progress(removed);
            cursor = page.next;
            if cursor.is_none() {
                self.forget_all_locally();
                self.announce(Invalidation::All).await;
                return Ok(removed);
            }
        }
    }

    /// Drops every L1 entry and marks every load and L2 read in progress as overtaken.
    fn forget_all_locally(&self) {
        self.inner.versions.unsync_all();
        self.inner.flights.poison_all();
        if let Some(l1) = &self.inner.l1 {
            l1.clear();
        }
    }

    /// Drops `key` from L1 and marks its load and L2 reads in progress as overtaken.
    ///
    /// Every local change runs it twice: before the backend change (so no caller joins a load
    /// that is about to be stale) and after it (so a read that fetched the old bytes between
    /// the two cannot fill L1 with them once the first pass is over).
    pub(crate) async fn forget_locally(&self, key: &str) {
        self.inner.flights.poison(key);
        if let Some(l1) = &self.inner.l1 {
            l1.remove_str(key).await;
        }
    }

    /// Removes every entry of this cache's prefix from both tiers (never other prefixes).
    pub async fn clear(&self) -> Result<u64, Error> {
        self.forget_all_locally();
        let removed = self.inner.backend.clear().await;
        // Reads that fetched old bytes before the backend cleared must not fill L1 after it.
        self.forget_all_locally();
        let removed = removed?;
        self.announce(Invalidation::All).await;
        Ok(removed)
    }

    /// Clears `kind` ([`clear_kind`](Self::clear_kind)) and then removes its entries from the
    /// backend: walks the kind's keys with `SCAN` in pages (never `KEYS`, never blocking the
    /// server) and deletes an entry only if it still holds the bytes just read and was created
    /// before the purge started, so values written meanwhile survive. An administrative tool
    /// (the CLI's `clear --kind`) for reclaiming memory at once; requests never need it.
    pub async fn purge_kind(&self, kind: &str) -> Result<u64, Error> {
        self.purge_kind_with_progress(kind, |_, _| {}).await
    }

    /// [`purge_kind`](Self::purge_kind), calling `progress(scanned, removed)` after each page.
    pub async fn purge_kind_with_progress(
        &self,
        kind: &str,
        progress: impl Fn(u64, u64),
    ) -> Result<u64, Error> {
        let generation = self.clear_kind(kind).await?;
        let keys = self.inner.space.kind(kind)?;
        let mut prefixes = vec![keys.kind_namespace()];
        let tagged = keys.clone().with_hash_tag(true).kind_namespace();
        if !prefixes.contains(&tagged) {
            prefixes.push(tagged);
        }
        let (mut scanned, mut removed) = (0u64, 0u64);
        let listing = listing(&*self.inner.backend)?;
        for prefix in prefixes {
            let mut cursor = None;
            loop {
                let page = listing.scan(&prefix, cursor, 500).await?;
                let refs: Vec<&str> = page.keys.iter().map(String::as_str).collect();
                let values = if refs.is_empty() {
                    Vec::new()
                } else {
                    self.inner.backend.get_many(&refs).await?
                };
                scanned += refs.len() as u64;
                for (key, value) in refs.iter().zip(values) {
                    let Some(bytes) = value else { continue };
                    // Entries written after the clear (under the new generation) stay.
                    let old = strata_codec::peek(&bytes)
                        .map_or(true, |info| info.meta.generation < generation);
                    if old && listing.delete_if_equals(key, &bytes).await? {
                        removed += 1;
                    }
                }
                progress(scanned, removed);
                cursor = page.next;
                if cursor.is_none() {
                    break;
                }
            }
        }
        self.inner.stats.kind(kind).deletes(removed);
        Ok(removed)
    }

    /// Applies the invalidation `rules` for a `change` of the entity `id`: deletes each target
    /// key (every schema version of its kind this instance uses), clears each target kind and
    /// invalidates each target tag (both O(1)), in both tiers and on the other instances. Every
    /// target is attempted; the first error is returned. Answers how many keys were deleted.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use strata::{CacheBuilder, Rules, Target};
    ///
    /// let rules = Rules::new().on("profile", |id| {
    ///     vec![Target::key("user", id), Target::key("profile", id), Target::key("whoami", id)]
    /// });
    /// let cache = CacheBuilder::new().build().await?;
    /// cache.kind::<String>("whoami")?.set(42, "Ada".into()).await?;
    /// assert_eq!(cache.invalidate(&rules, "profile", 42).await?, 1);
    /// assert!(cache.kind::<String>("whoami")?.get(42).await?.is_none());
    /// # Ok::<(), strata::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn invalidate(
        &self,
        rules: &Rules,
        change: &str,
        id: impl std::fmt::Display,
    ) -> Result<u64, Error> {
        let targets = rules.targets(change, &id.to_string())?;
        let mut removed = 0;
        let mut first_error = None;
        for target in targets {
            let result = match target {
                Target::Key { kind, id } => {
                    let mut n = 0;
                    let mut err = None;
                    for schema in self.schemas_of(&kind) {
                        match self.ctx(&kind, schema) {
                            Ok(ctx) => {
                                match KindCache::<()>::new(self.clone(), ctx).delete(&id).await {
                                    Ok(existed) => n += u64::from(existed),
                                    Err(e) => err = Some(e),
                                }
                            }
                            Err(e) => err = Some(e),
                        }
                    }
                    err.map_or(Ok(n), Err)
                }
                Target::Kind(kind) => self.clear_kind(&kind).await.map(|_| 0),
                Target::Tag(tag) => self.invalidate_tag(&tag).await.map(|_| 0),
                _ => Ok(0),
            };
            match result {
                Ok(n) => removed += n,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(removed), Err)
    }

    /// The schema versions of `kind` this instance has used (schema 1 if none).
    fn schemas_of(&self, kind: &str) -> Vec<u32> {
        let mut schemas: Vec<u32> = self
            .inner
            .kinds
            .read()
            .keys()
            .filter(|(k, _)| k == kind)
            .map(|(_, s)| *s)
            .collect();
        if schemas.is_empty() {
            schemas.push(1);
        }
        schemas.sort_unstable();
        schemas.dedup();
        schemas
    }

    /// Removes one entry by its full key from both tiers; true if the backend held it.
    pub async fn delete_key(&self, key: &str) -> Result<bool, Error> {
        self.forget_locally(key).await;
        let existed = self.inner.backend.delete(key).await;
        self.forget_locally(key).await;
        let existed = existed?;
        self.announce(Invalidation::Keys(vec![key.to_owned()]))
            .await;
        Ok(existed)
    }

    /// Statistics so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// The circuit breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    /// Pings the backend through the circuit breaker: once an open circuit's cool-down has
    /// passed, a successful ping closes it, so a recovered backend is noticed without waiting
    /// for traffic (the health route calls this). `None` while the circuit is cooling down.
    pub async fn probe_backend(&self) -> Option<Result<Duration, Error>> {
        self.l2_call("ping", self.inner.backend.ping())
            .await
            .map(|r| r.map_err(Error::from))
    }

    /// How many times the circuit has opened.
    pub fn breaker_openings(&self) -> u64 {
        self.inner.breaker.opened_total()
    }

    /// The backend (for health checks and tools).
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    /// Backend details (sizes, limits, server version).
    pub async fn backend_info(&self) -> Result<BackendInfo, Error> {
        Ok(self.inner.backend.info().await?)
    }

    /// The in-process tier, when enabled.
    pub fn l1(&self) -> Option<&L1> {
        self.inner.l1.as_ref()
    }

    /// The configuration in force.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// The key space (prefix and app version).
    pub fn key_space(&self) -> &KeySpace {
        &self.inner.space
    }

    /// `ttl` stretched or shrunk by the configured jitter.
    pub(crate) fn jittered(&self, ttl: Duration) -> Duration {
        let j = self.inner.config.jitter;
        if j <= 0.0 {
            return ttl;
        }
        let factor = 1.0 + rand::rng().random_range(-j..=j);
        ttl.mul_f64(factor).max(Duration::from_millis(1))
    }
}

/// The backend's listing ability, or an error naming the backend.
fn listing(backend: &dyn Backend) -> Result<&dyn strata_backend::Listing, Error> {
    backend
        .as_listing()
        .ok_or_else(|| strata_backend::BackendError::unsupported(backend.name(), "scan").into())
}

/// Marker so `KindCache<T>` is `Send + Sync` whatever `T`'s auto traits.
pub(crate) type TypeMarker<T> = PhantomData<fn() -> T>;

/// How long a tag's version counter lives after its last invalidation: twice the longest time
/// an entry can live (TTL + max stale), at least an hour. An entry cannot outlive the counter it
/// recorded, and a counter that expires anyway comes back higher than any recorded value.
fn tag_version_ttl(config: &CacheConfig) -> Option<Duration> {
    let longest = config
        .ttl
        .values()
        .copied()
        .chain([config.default_ttl, config.negative_ttl])
        .max()
        .unwrap_or_default();
    if longest.is_zero() {
        return None;
    }
    Some(
        (longest + config.max_stale)
            .saturating_mul(2)
            .max(Duration::from_secs(3600)),
    )
}
