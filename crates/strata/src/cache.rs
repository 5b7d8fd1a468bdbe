//! `Cache`: the handle applications hold.

use std::sync::Arc;
use std::time::Duration;

use strata_backend::{Backend, BackendInfo, BreakerState, LastError};
use strata_invalidation::Bus;
use strata_invalidation::Rules;
use strata_keys::KeySpace;
use strata_l1::L1;
use strata_stats::StatsSnapshot;

use crate::admin::Admin;
use crate::bus::BusStats;
use crate::cacheable::{CacheValue, Cacheable};
use crate::config::CacheConfig;
use crate::core::Core;
use crate::deferred::DeferredStats;
use crate::error::{Error, LoadError};
use crate::invalidate::{self, Invalidated};
use crate::kind::KindCache;
use crate::load::Load;
use crate::response_kind::ResponseKind;

/// A typed two-tier cache: an in-process tier (quick_cache, decoded values) in front of a backend
/// (Redis, or the embedded memory backend) holding MessagePack envelopes.
///
/// Cheap to clone: clones share everything. Build one with [`CacheBuilder`](crate::CacheBuilder).
#[derive(Clone)]
pub struct Cache {
    core: Arc<Core>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("config", &self.core.config)
            .field("backend", self.core.l2.raw())
            .finish_non_exhaustive()
    }
}

impl Cache {
    /// The cache of a core just built: starts its hot-set recording.
    pub(crate) fn new(core: Arc<Core>) -> Self {
        crate::hot_set::spawn_publisher(&core);
        Self { core }
    }

    /// The entries of `kind` as values of type `T` (schema version 1, the kind's configured
    /// TTL; change them with [`KindCache::with_schema`] and [`KindCache::with_ttl`]). This is
    /// the model-instance API: `cache.kind::<UserData>("user")?.set(id, data)`. Fails on an
    /// invalid kind name (empty, whitespace, longer than 64 bytes, or starting with `__`).
    pub fn kind<T: CacheValue>(&self, kind: &str) -> Result<KindCache<T>, Error> {
        Ok(KindCache::new(self.core.clone(), self.core.kind(kind, 1)?))
    }

    /// The entries of a [`Cacheable`] type: its kind and schema, and its TTL (the
    /// configured one for the kind, else `T::ttl()`, else `default_ttl`).
    ///
    /// Resolved once per type: later calls cost one lookup by type. A handle kept (a field of
    /// the service's state) costs nothing per request.
    pub fn of<T: Cacheable>(&self) -> Result<KindCache<T>, Error> {
        let kinds = &self.core.kinds;
        if let Some(state) = kinds.of_type::<T>() {
            return Ok(KindCache::new(self.core.clone(), state));
        }
        let kind = KindCache::new(self.core.clone(), self.core.kind(T::KIND, T::SCHEMA)?);
        let kind = self.with_code_ttl(kind, T::ttl());
        kinds.remember_type::<T>(&kind.kind);
        Ok(kind)
    }

    /// The response cache of one route (kind [`ResponseKind::name`], `api.<prefix>`): what
    /// the HTTP layer's response caching uses. Ids are request keys (path, sorted query, vary
    /// headers). `ttl` applies unless the kind has a configured TTL.
    pub fn responses<T: CacheValue>(&self, kind: &ResponseKind, ttl: Duration) -> KindCache<T> {
        let state = KindCache::new(self.core.clone(), self.core.kind_named(kind.kind(), 1));
        self.with_code_ttl(state, Some(ttl))
    }

    /// The results of a function (`#[cached]`): kind `prefix` without its trailing ':'. `ttl`
    /// applies unless the kind has a configured TTL.
    ///
    /// Resolved once per (type, prefix, TTL): later calls cost one lookup by type.
    pub fn function_results<T: CacheValue>(
        &self,
        prefix: &str,
        ttl: Option<Duration>,
    ) -> Result<KindCache<T>, Error> {
        let kinds = &self.core.kinds;
        if let Some(state) = kinds.of_function::<T>(prefix, ttl) {
            return Ok(KindCache::new(self.core.clone(), state));
        }
        let kind = self.kind::<T>(prefix.trim_end_matches(':'))?;
        let kind = self.with_code_ttl(kind, ttl);
        kinds.remember_function::<T>(prefix, ttl, &kind.kind);
        Ok(kind)
    }

    /// `kind` with the TTL its code gives, unless configuration sets the kind's TTL.
    fn with_code_ttl<T: CacheValue>(
        &self,
        kind: KindCache<T>,
        ttl: Option<Duration>,
    ) -> KindCache<T> {
        match self.core.code_ttl(kind.kind(), ttl) {
            Some(ttl) => kind.with_ttl(ttl),
            None => kind,
        }
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
    pub async fn get_or_load<T: Cacheable, E: Send + Sync + 'static>(
        &self,
        id: impl std::fmt::Display,
        loader: impl Load<T, E>,
    ) -> Result<Arc<T>, LoadError<E>> {
        let kind = self.of::<T>().map_err(LoadError::Cache)?;
        kind.get_or_load(id, loader).await
    }

    /// The `T` under `id`, or `None` when the loader finds nothing; absences are cached for
    /// `negative_ttl` (one loader call per absent id, not one per request). Give options with
    /// [`KindCache::get_or_load_optional`].
    pub async fn get_or_load_optional<T: Cacheable, E: Send + Sync + 'static>(
        &self,
        id: impl std::fmt::Display,
        loader: impl Load<Option<T>, E>,
    ) -> Result<Option<Arc<T>>, LoadError<E>> {
        let kind = self.of::<T>().map_err(LoadError::Cache)?;
        kind.get_or_load_optional(id, &crate::LoadOptions::new(), loader)
            .await
    }

    /// Returns once this cache is ready: its coherence channels (client tracking, the bus)
    /// are subscribed (at once without one), and its start-up warming is done or has run for `[warm] deadline` (it goes on
    /// in the background past it). Messages published before the subscription are not seen,
    /// so a test starting two instances awaits this on both before changing anything. Waits
    /// as long as the bus cannot subscribe (Redis down): [`ready_within`](Self::ready_within)
    /// bounds the whole wait.
    ///
    /// The first call starts the warming: L1 is filled from L2 for the hot set other
    /// instances recorded (`[warm]`), for every kind with a typed handle made before it
    /// (`cache.kind::<T>()`, `cache.of::<T>()`). [`Admin::warming`] says how far it got.
    pub async fn ready(&self) {
        self.core.coherence.all_subscribed().await;
        let deadline = self.core.config.warm.deadline;
        let _ = tokio::time::timeout(deadline, self.warmed()).await;
    }

    /// [`ready`](Self::ready) bounded by `deadline` (the bus wait included); true when the
    /// cache was ready within it.
    pub async fn ready_within(&self, deadline: Duration) -> bool {
        let both = async {
            self.core.coherence.all_subscribed().await;
            self.warmed().await;
        };
        tokio::time::timeout(deadline, both).await.is_ok()
    }

    /// Starts the start-up warming (once) and returns when it is done.
    async fn warmed(&self) {
        if self.core.warming.start() {
            let core = self.core.clone();
            tokio::spawn(async move { crate::hot_set::warm_on_start(&core).await });
        }
        self.core.warming.finished().await;
    }

    /// Turns caching on or off at run time (see [`CacheConfig::enabled`]): off, every read
    /// goes to its loader and no value is stored, while invalidations still apply. Affects this
    /// instance; the monitoring router's `POST caching/` calls this.
    pub fn set_enabled(&self, enabled: bool) {
        let was = self
            .core
            .enabled
            .swap(enabled, std::sync::atomic::Ordering::Relaxed);
        if was != enabled {
            tracing::warn!(enabled, "caching switched at run time");
        }
    }

    /// Whether caching is on.
    pub fn enabled(&self) -> bool {
        self.core.enabled()
    }

    // Changes that reach every instance.

    /// Removes every entry of this cache's prefix from both tiers (never other prefixes).
    pub async fn clear(&self) -> Result<u64, Error> {
        invalidate::clear(&self.core).await
    }

    /// Clears every entry of `kind` in O(1): moves its generation on in the backend (entries
    /// written under an older one become misses in both tiers, on every instance) and drops the
    /// kind from this L1; the other instances hear of it over the bus. Entries are not scanned or
    /// deleted: they leave with their TTL or the eviction policy ([`purge_kind`](Self::purge_kind)
    /// removes them physically). Returns the kind's new generation.
    pub async fn clear_kind(&self, kind: &str) -> Result<u64, Error> {
        invalidate::clear_kind(&self.core, kind).await
    }

    /// Invalidates every entry tagged `tag`, in O(1), on every instance: moves the tag's
    /// version on in the backend; entries that recorded an older one become misses. Returns
    /// the tag's new version.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use strata::{CacheBuilder, LoadOptions};
    ///
    /// let cache = CacheBuilder::new().build().await?;
    /// let pages = cache.kind::<String>("page")?;
    /// let tagged = LoadOptions::new().tags(["user:42"]);
    /// let load = || async { Ok::<_, std::io::Error>("Ada's page".to_string()) };
    /// pages.get_or_load_with("home:42", &tagged, load).await?;
    /// assert!(pages.get("home:42").await?.is_some());
    ///
    /// cache.invalidate_tag("user:42").await?;
    /// assert!(pages.get("home:42").await?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn invalidate_tag(&self, tag: &str) -> Result<u64, Error> {
        invalidate::invalidate_tag(&self.core, tag).await
    }

    /// Applies the invalidation `rules` for a `change` of the entity `id`: deletes each target
    /// key (under every schema version of its kind that any instance registered), clears each
    /// target kind and invalidates each target tag (both O(1)), in both tiers and on the other
    /// instances, in one batch with its bus messages (one round trip on Redis). When the
    /// backend cannot be reached the change is deferred (see [`Invalidated::deferred`]), not
    /// an error.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use strata::{CacheBuilder, Rules, Target};
    ///
    /// let rules = Rules::new().on("profile", |id| {
    ///     vec![Target::key("user", id), Target::key("profile", id), Target::key("session", id)]
    /// });
    /// let cache = CacheBuilder::new().build().await?;
    /// cache.kind::<String>("session")?.set(42, "Ada".into()).await?;
    /// assert_eq!(cache.invalidate(&rules, "profile", 42).await?.deleted, 1);
    /// assert!(cache.kind::<String>("session")?.get(42).await?.is_none());
    /// # Ok::<(), strata::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn invalidate(
        &self,
        rules: &Rules,
        change: &str,
        id: impl std::fmt::Display,
    ) -> Result<Invalidated, Error> {
        invalidate::invalidate(&self.core, rules, change, &id.to_string()).await
    }

    // What the cache can tell about itself, and tools: off the data path.

    /// Introspection and administration (statistics, the breaker, the bus, the backend, the
    /// configuration, purges), off the data path, as moka's `policy()`.
    pub fn admin(&self) -> Admin<'_> {
        Admin::new(&self.core)
    }

    // Deprecated: the introspection and tools moved to `Cache::admin()`.

    /// Moved to [`Admin::known_kinds`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().known_kinds(..)`")]
    pub fn known_kinds(&self) -> Vec<String> {
        self.admin().known_kinds()
    }

    /// Moved to [`Admin::warnings`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().warnings(..)`")]
    pub fn warnings(&self) -> Vec<String> {
        self.admin().warnings()
    }

    /// Moved to [`Admin::purge_kind`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().purge_kind(..)`")]
    pub async fn purge_kind(&self, kind: &str) -> Result<u64, Error> {
        self.admin().purge_kind(kind).await
    }

    /// Moved to [`Admin::delete_key`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().delete_key(..)`")]
    pub async fn delete_key(&self, key: &str) -> Result<bool, Error> {
        self.admin().delete_key(key).await
    }

    /// Moved to [`Admin::stats`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().stats(..)`")]
    pub fn stats(&self) -> StatsSnapshot {
        self.admin().stats()
    }

    /// Moved to [`Admin::deferred_changes`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().deferred_changes(..)`")]
    pub fn deferred_changes(&self) -> DeferredStats {
        self.admin().deferred_changes()
    }

    /// Moved to [`Admin::bus_stats`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().bus_stats(..)`")]
    pub fn bus_stats(&self) -> BusStats {
        self.admin().bus_stats()
    }

    /// Moved to [`Admin::bus`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().bus(..)`")]
    pub fn bus(&self) -> Option<&Arc<dyn Bus>> {
        self.admin().bus()
    }

    /// Moved to [`Admin::breaker_state`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().breaker_state(..)`")]
    pub fn breaker_state(&self) -> BreakerState {
        self.admin().breaker_state()
    }

    /// Moved to [`Admin::last_backend_error`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().last_backend_error(..)`")]
    pub fn last_backend_error(&self) -> Option<LastError> {
        self.admin().last_backend_error()
    }

    /// Moved to [`Admin::breaker_openings`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().breaker_openings(..)`")]
    pub fn breaker_openings(&self) -> u64 {
        self.admin().breaker_openings()
    }

    /// Moved to [`Admin::probe_backend`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().probe_backend(..)`")]
    pub async fn probe_backend(&self) -> Result<Duration, Error> {
        self.admin().probe_backend().await
    }

    /// Moved to [`Admin::backend`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().backend(..)`")]
    pub fn backend(&self) -> &Arc<dyn Backend> {
        self.admin().backend()
    }

    /// Moved to [`Admin::backend_info`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().backend_info(..)`")]
    pub async fn backend_info(&self) -> Result<BackendInfo, Error> {
        self.admin().backend_info().await
    }

    /// Moved to [`Admin::l1`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().l1(..)`")]
    pub fn l1(&self) -> Option<&L1> {
        self.admin().l1()
    }

    /// Moved to [`Admin::config`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().config(..)`")]
    pub fn config(&self) -> &CacheConfig {
        self.admin().config()
    }

    /// Moved to [`Admin::key_space`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().key_space(..)`")]
    pub fn key_space(&self) -> &KeySpace {
        self.admin().key_space()
    }

    /// Moved to [`Admin::clear_with_progress`].
    #[deprecated(since = "0.2.0", note = "use `cache.admin().clear_with_progress(..)`")]
    pub async fn clear_with_progress(&self, progress: impl Fn(u64)) -> Result<u64, Error> {
        self.admin().clear_with_progress(progress).await
    }

    /// Moved to [`Admin::purge_kind_with_progress`].
    #[deprecated(
        since = "0.2.0",
        note = "use `cache.admin().purge_kind_with_progress(..)`"
    )]
    pub async fn purge_kind_with_progress(
        &self,
        kind: &str,
        progress: impl Fn(u64, u64),
    ) -> Result<u64, Error> {
        self.admin().purge_kind_with_progress(kind, progress).await
    }
}
