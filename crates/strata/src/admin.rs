//! `Admin`: what a cache can tell about itself, and the tools that act on it, off the data path.

use std::sync::Arc;
use std::time::Duration;

use strata_backend::{Backend, BackendInfo, BreakerState, LastError};
use strata_invalidation::Bus;
use strata_keys::KeySpace;
use strata_l1::L1;
use strata_stats::{HotKey, StatsSnapshot};

use crate::bus::BusStats;
use crate::config::CacheConfig;
use crate::core::Core;
use crate::deferred::DeferredStats;
use crate::error::Error;
use crate::invalidate;
use crate::warm::{WarmOptions, WarmProgress};
use crate::warming::WarmingStatus;

/// Introspection and administration of a [`Cache`](crate::Cache), from
/// [`Cache::admin`](crate::Cache::admin): statistics, the circuit breaker, the bus, the
/// deferred changes, the backend and its details, the configuration, and the tools an operator
/// runs (purges, clears with progress, deletes by full key). The data path (reads, writes,
/// invalidations) stays on `Cache`.
#[derive(Clone, Copy)]
pub struct Admin<'a> {
    core: &'a Core,
}

impl std::fmt::Debug for Admin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin").finish_non_exhaustive()
    }
}

impl<'a> Admin<'a> {
    pub(crate) fn new(core: &'a Core) -> Self {
        Self { core }
    }

    /// Every application kind this cache knows of: declared to the builder, configured, or
    /// used since it started (internal kinds left out), sorted.
    pub fn known_kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self.core.declared.iter().cloned().collect();
        kinds.extend(
            self.core
                .config
                .configured_kinds()
                .into_keys()
                .map(str::to_owned),
        );
        kinds.extend(self.core.stats.snapshot().kinds.into_keys());
        kinds.retain(|k| !strata_keys::is_internal_kind(k));
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// The `n` keys of `kind` looked up most, with their estimated lookups (hits and misses),
    /// from the kind's hot-key sketch (`[hot_keys]`), most looked up first; empty when the
    /// kind keeps no sketch or has not been used. Estimates, not exact counts: see
    /// [`HotKey`].
    pub fn hottest(&self, kind: &str, n: usize) -> Vec<HotKey> {
        if !self.core.stats.kind_names().iter().any(|k| k == kind) {
            return Vec::new();
        }
        self.core
            .stats
            .kind(kind)
            .hot_keys()
            .map_or_else(Vec::new, |h| h.hottest(n))
    }

    /// Records this instance's hot set of every kind now (as it does every `[warm]
    /// publish_every`): answers the keys recorded.
    pub async fn publish_hot_set(&self) -> Result<usize, Error> {
        crate::hot_set::publish(self.core).await
    }

    /// Warms `kind` by name for `ids` through the owned loader registered for it
    /// ([`KindCache::register_loader`](crate::KindCache::register_loader), whatever its value
    /// type): [`KindCache::warm`](crate::KindCache::warm) for callers that do not know the
    /// type (the monitoring router's `POST warm/`, `strata warm`). [`Error::NoLoader`] when
    /// the kind has none.
    pub async fn warm(
        &self,
        kind: &str,
        ids: Vec<String>,
        options: WarmOptions,
    ) -> Result<WarmProgress, Error> {
        crate::warm::warm_by_name(self.core, kind, ids, options).await
    }

    /// How far the start-up warming got (see [`Cache::ready`](crate::Cache::ready)).
    pub fn warming(&self) -> WarmingStatus {
        self.core.warming.status()
    }

    /// What the builder, the start-up check and the configuration found questionable and
    /// accepted: Redis not usable at start, a `STRATA_` variable that names no setting
    /// ([`CacheConfig::warnings`]), a configured kind no code declared and the cache has not
    /// used (a kind used through its type or its name counts as declared from then on); the
    /// monitoring health check lists these.
    pub fn warnings(&self) -> Vec<String> {
        let mut declared = self.core.declared.clone();
        declared.extend(self.core.stats.kind_names());
        let mut warnings = self.core.start_warnings.clone();
        warnings.extend(self.core.config.warnings().iter().cloned());
        warnings.extend(self.core.config.undeclared_kinds(&declared));
        warnings
    }

    /// [`Cache::clear`](crate::Cache::clear) page by page, calling `progress(removed)` after each page.
    pub async fn clear_with_progress(&self, progress: impl Fn(u64)) -> Result<u64, Error> {
        invalidate::clear_with_progress(self.core, progress).await
    }

    /// Clears `kind` ([`Cache::clear_kind`](crate::Cache::clear_kind)) and then removes its entries from the
    /// backend: walks the kind's keys with `SCAN` in pages (never `KEYS`, never blocking the
    /// server) and deletes an entry only if it still holds the bytes just read and was created
    /// before the purge started, so values written meanwhile survive. An administrative tool
    /// (the CLI's `clear --kind`) for reclaiming memory at once; requests never need it.
    pub async fn purge_kind(&self, kind: &str) -> Result<u64, Error> {
        invalidate::purge_kind(self.core, kind, |_, _| {}).await
    }

    /// [`purge_kind`](Self::purge_kind), calling `progress(scanned, removed)` after each page.
    pub async fn purge_kind_with_progress(
        &self,
        kind: &str,
        progress: impl Fn(u64, u64),
    ) -> Result<u64, Error> {
        invalidate::purge_kind(self.core, kind, progress).await
    }

    /// Removes one entry by its full key from both tiers; true if the backend held it.
    pub async fn delete_key(&self, key: &str) -> Result<bool, Error> {
        invalidate::delete_key(self.core, key).await
    }

    /// Statistics so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.core.stats.snapshot()
    }

    /// The invalidations waiting for the backend (made while it could not be reached), and
    /// what the queue has done.
    pub fn deferred_changes(&self) -> DeferredStats {
        self.core.backends.deferred_stats()
    }

    /// The cache's backends, the default one first: each one's name, kinds, circuit breaker
    /// and deferred changes (a kind routed to a named backend, `[kinds.<kind>] backend`,
    /// keeps its entries and its generation counter there).
    pub fn backends(&self) -> Vec<crate::BackendStatus> {
        self.core.backends.status()
    }

    /// The name of the backend `kind` lives in ([`DEFAULT_BACKEND`](crate::DEFAULT_BACKEND)
    /// unless it is routed to a named one).
    pub fn backend_of(&self, kind: &str) -> &'a str {
        let backends = &self.core.backends;
        backends.get(backends.of_kind(kind)).name()
    }

    /// The named backend `name` as given to the cache (for tools and tests: calls through it
    /// skip its circuit breaker); `None` if there is none by that name.
    pub fn named_backend(&self, name: &str) -> Option<&'a Arc<dyn Backend>> {
        let mut named = self.core.backends.named();
        named
            .find(|(_, b)| b.name() == name)
            .map(|(_, b)| b.l2().raw())
    }

    /// What went over the invalidation bus.
    pub fn bus_stats(&self) -> BusStats {
        self.core.bus.stats()
    }

    /// Whether this instance's L1 is confirmed coherent: the active mode (every backend's
    /// channels together) and each backend's, the heartbeats, the lapses.
    pub fn coherence(&self) -> crate::CoherenceStats {
        let mut stats = self.core.coherence.stats(self.core.clock.now_ms());
        stats.backends = self.core.backends.modes();
        stats
    }

    /// The invalidation bus, if any.
    pub fn bus(&self) -> Option<&'a Arc<dyn Bus>> {
        self.core.bus.bus()
    }

    /// The circuit breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.core.l2.breaker().state()
    }

    /// The last backend error: of the Redis check at start (a wrong password, no such
    /// database, refused, an unknown host), or of a later call through the circuit breaker.
    /// It stays after the backend recovers (compare with [`breaker_state`](Self::breaker_state)).
    pub fn last_backend_error(&self) -> Option<LastError> {
        self.core.l2.breaker().last_error()
    }

    /// How many times the circuit has opened.
    pub fn breaker_openings(&self) -> u64 {
        self.core.l2.breaker().opened_total()
    }

    /// Pings the backend through the circuit breaker: once an open circuit's cool-down has
    /// passed, a successful ping closes it, so a recovered backend is noticed without waiting
    /// for traffic (the health route calls this). [`Error::CircuitOpen`] while the circuit is
    /// cooling down.
    pub async fn probe_backend(&self) -> Result<Duration, Error> {
        Ok(self.core.l2.ping().await?)
    }

    /// The backend as given to the cache (for health checks and tools: calls through it skip
    /// the circuit breaker).
    pub fn backend(&self) -> &'a Arc<dyn Backend> {
        self.core.l2.raw()
    }

    /// Backend details (sizes, limits, server version).
    pub async fn backend_info(&self) -> Result<BackendInfo, Error> {
        Ok(self.core.l2.raw().info().await?)
    }

    /// The in-process tier's default pool (the store of every kind without an L1 budget of
    /// its own), when enabled.
    pub fn l1(&self) -> Option<&'a L1> {
        self.core.local.l1()
    }

    /// The L1 store of `kind`: its own partition (`[kinds.<kind>.l1]`), else the default pool.
    pub fn l1_of(&self, kind: &str) -> Option<&'a L1> {
        self.core.local.pools().of_kind(kind)
    }

    /// The kinds' own L1 partitions (each bounded by its kind's budget), by kind.
    pub fn l1_partitions(&self) -> impl Iterator<Item = (&'a str, &'a L1)> + 'a {
        let pools = self.core.local.pools();
        pools.partitions().iter().map(|(k, l1)| (k.as_str(), l1))
    }

    /// The configuration in force.
    pub fn config(&self) -> &'a CacheConfig {
        &self.core.config
    }

    /// The key space (prefix and app version).
    pub fn key_space(&self) -> &'a KeySpace {
        &self.core.space
    }
}
