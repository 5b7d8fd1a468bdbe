//! `KindCache<T>`: the typed operations on the entries of one kind.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_backend::Invalidation;
use strata_keys::Key;
use strata_stats::Tier;

use crate::cache::{Cache, KindCtx, TypeMarker, now_ms};
use crate::cacheable::CacheValue;
use crate::error::{Error, LoadError};
use crate::flight::Flight;
use crate::flight::{ErasedValue, FlightError, FlightOutcome};
use crate::options::LoadOptions;
use crate::tiers::{Found, LeaseState, Lookup, Probe};

/// The entries of one kind, as values of type `T`. Cheap to clone.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use strata::CacheBuilder;
///
/// let cache = CacheBuilder::new().build().await?;
/// let jobs = cache.kind::<String>("job")?;          // TTL from the table: 2h
/// jobs.set(7, "Build a cache".to_string()).await?;
/// assert_eq!(jobs.get(7).await?.as_deref().map(String::as_str), Some("Build a cache"));
///
/// // Loaded once, then served from the cache.
/// let title = jobs.get_or_load(8, || async { Ok::<_, std::io::Error>("Write docs".to_string()) }).await?;
/// assert_eq!(*title, "Write docs");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct KindCache<T> {
    cache: Cache,
    ctx: Arc<KindCtx>,
    _t: TypeMarker<T>,
}

impl<T> Clone for KindCache<T> {
    fn clone(&self) -> Self {
        Self {
            cache: self.cache.clone(),
            ctx: self.ctx.clone(),
            _t: std::marker::PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for KindCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindCache")
            .field("kind", &self.ctx.keys.kind())
            .field("schema", &self.ctx.keys.schema())
            .field("ttl", &self.ctx.ttl)
            .finish()
    }
}

impl<T: CacheValue> KindCache<T> {
    pub(crate) fn new(cache: Cache, ctx: Arc<KindCtx>) -> Self {
        Self {
            cache,
            ctx,
            _t: std::marker::PhantomData,
        }
    }

    /// The same kind under another schema version: entries of other versions become misses.
    pub fn with_schema(self, schema: u32) -> Self {
        match self.cache.ctx(self.ctx.keys.kind(), schema) {
            Ok(ctx) => Self::new(self.cache, ctx),
            Err(_) => self,
        }
    }

    /// The same kind with another TTL.
    pub fn with_ttl(self, ttl: Duration) -> Self {
        let ctx = Arc::new(self.ctx.with_ttl(ttl));
        Self::new(self.cache, ctx)
    }

    /// The kind.
    pub fn kind(&self) -> &str {
        self.ctx.keys.kind()
    }

    /// The TTL given to values (before jitter).
    pub fn ttl(&self) -> Duration {
        self.ctx.ttl
    }

    /// The key of `id`.
    pub fn key(&self, id: impl Display) -> Result<Key, Error> {
        Ok(self.ctx.keys.key(id)?)
    }

    /// The key of a serde id (tuples, structs: rendered as compact JSON).
    pub fn key_serde<I: serde::Serialize + ?Sized>(&self, id: &I) -> Result<Key, Error> {
        Ok(self.ctx.keys.key_serde(id)?)
    }

    /// The fresh value under `id`, if cached (`None` also for a cached absence).
    pub async fn get(&self, id: impl Display) -> Result<Option<Arc<T>>, Error> {
        let key = self.key(id)?;
        self.get_at(&key).await
    }

    /// [`get`](Self::get) by key.
    pub async fn get_at(&self, key: &Key) -> Result<Option<Arc<T>>, Error> {
        // The L1 fast path stays a small future; the L2 path is only built on a miss.
        let stale = match self.cache.l1_probe::<T>(&self.ctx, key).await {
            Probe::Fresh(found) => return Ok(found.value),
            Probe::Stale(found) => Some(found),
            Probe::Miss => None,
        };
        Ok(
            match self.cache.lookup_l2::<T>(&self.ctx, key, stale).await? {
                Lookup::Fresh(found) => found.value,
                Lookup::Stale(_) | Lookup::Miss => {
                    self.ctx.stats.miss();
                    None
                }
            },
        )
    }

    /// Caches `value` under `id` for the kind's TTL, in both tiers. A backend failure is
    /// returned (the in-process copy is written anyway).
    pub async fn set(&self, id: impl Display, value: T) -> Result<(), Error> {
        self.set_arc_tagged(id, Arc::new(value), &[]).await
    }

    /// Caches `value` under `id` with `tags` (at most 64):
    /// [`Cache::invalidate_tag`](crate::Cache::invalidate_tag) on any of them makes it a miss.
    pub async fn set_tagged(&self, id: impl Display, value: T, tags: &[&str]) -> Result<(), Error> {
        let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        self.set_arc_tagged(id, Arc::new(value), &tags).await
    }

    async fn set_arc_tagged(
        &self,
        id: impl Display,
        value: Arc<T>,
        tags: &[String],
    ) -> Result<(), Error> {
        let key = self.key(id)?;
        self.cache.inner.flights.poison(&key);
        let stamp = self.cache.stamp(&self.ctx, tags).await;
        let r = self
            .cache
            .store(&self.ctx, &key, Some(value), self.ctx.ttl, &stamp)
            .await;
        self.cache
            .announce(Invalidation::Keys(vec![key.to_string()]))
            .await;
        r
    }

    /// Caches a shared value under `id`.
    pub async fn set_arc(&self, id: impl Display, value: Arc<T>) -> Result<(), Error> {
        self.set_arc_tagged(id, value, &[]).await
    }

    /// Removes `id` from both tiers; true if the backend held it.
    pub async fn delete(&self, id: impl Display) -> Result<bool, Error> {
        let key = self.key(id)?;
        self.delete_at(&key).await
    }

    /// [`delete`](Self::delete) by key.
    pub async fn delete_at(&self, key: &Key) -> Result<bool, Error> {
        self.cache.forget_locally(key).await;
        self.ctx.stats.deletes(1);
        let deleted = self
            .cache
            .l2_call("delete", self.cache.inner.backend.delete(key))
            .await;
        self.cache.forget_locally(key).await;
        let r = match deleted {
            Some(Ok(existed)) => Ok(existed),
            Some(Err(e)) => Err(self.cache.l2_failed(&self.ctx, Some(e))),
            None => Err(self.cache.l2_failed(&self.ctx, None)),
        };
        self.cache
            .announce(Invalidation::Keys(vec![key.to_string()]))
            .await;
        r
    }

    /// The fresh values under `ids`, in order: L1 first, then one batch read of L2 for the rest.
    pub async fn get_many<I: Display>(&self, ids: &[I]) -> Result<Vec<Option<Arc<T>>>, Error> {
        let keys = ids
            .iter()
            .map(|id| self.key(id))
            .collect::<Result<Vec<_>, _>>()?;
        let now = now_ms();
        let mut out: Vec<Option<Arc<T>>> = vec![None; keys.len()];
        let mut missing = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let start = Instant::now();
            match self.cache.l1_get::<T>(&self.ctx, key).await {
                Some(f) if !f.meta.is_expired(now) => {
                    self.ctx
                        .stats
                        .hit(Tier::L1, f.meta.age_ms(now), start.elapsed());
                    out[i] = f.value;
                }
                _ => {
                    if self.cache.inner.l1.is_some() {
                        self.ctx.stats.tier_miss(Tier::L1, start.elapsed());
                    }
                    missing.push(i);
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let refs: Vec<&str> = missing.iter().map(|i| keys[*i].as_str()).collect();
        let epochs: Vec<_> = missing
            .iter()
            .map(|i| self.cache.inner.flights.epoch(&keys[*i]))
            .collect();
        let start = Instant::now();
        match self
            .cache
            .l2_call("get_many", self.cache.inner.backend.get_many(&refs))
            .await
        {
            Some(Ok(values)) => {
                let per_key =
                    start.elapsed() / u32::try_from(missing.len()).unwrap_or(u32::MAX).max(1);
                for ((i, bytes), epoch) in missing.iter().zip(values).zip(epochs) {
                    let key = &keys[*i];
                    let found = match bytes {
                        Some(b) => self
                            .cache
                            .decode_l2::<T>(&self.ctx, key, &b)
                            .await
                            .map(|f| (f, b.len())),
                        None => None,
                    };
                    match found {
                        Some((f, len)) if !f.meta.is_expired(now) => {
                            self.cache.l1_put_if_unchanged(key, &f, len, epoch).await;
                            self.ctx.stats.hit(Tier::L2, f.meta.age_ms(now), per_key);
                            out[*i] = f.value;
                        }
                        _ => {
                            self.ctx.stats.tier_miss(Tier::L2, per_key);
                            self.ctx.stats.miss();
                        }
                    }
                }
            }
            failed => {
                let err = self
                    .cache
                    .l2_failed(&self.ctx, failed.and_then(Result::err));
                if self.cache.inner.config.strict {
                    return Err(err);
                }
                for _ in &missing {
                    self.ctx.stats.miss();
                }
            }
        }
        Ok(out)
    }

    /// Caches many values at once (one batch write to the backend).
    pub async fn set_many<I: Display>(&self, items: Vec<(I, T)>) -> Result<(), Error> {
        let items = items
            .into_iter()
            .map(|(id, v)| Ok((self.key(id)?, Arc::new(v))))
            .collect::<Result<Vec<_>, Error>>()?;
        let keys: Vec<String> = items.iter().map(|(k, _)| k.to_string()).collect();
        for key in &keys {
            self.cache.inner.flights.poison(key);
        }
        let stamp = self.cache.stamp(&self.ctx, &[]).await;
        let r = self
            .cache
            .store_many(&self.ctx, items, self.ctx.ttl, &stamp)
            .await;
        self.cache.announce(Invalidation::Keys(keys)).await;
        r
    }

    /// The value under `id`; on a miss, `loader` runs once for all concurrent callers of this
    /// key in the process, and its value is cached. See [`get_or_load_with`](Self::get_or_load_with).
    pub async fn get_or_load<E, F, Fut>(
        &self,
        id: impl Display,
        loader: F,
    ) -> Result<Arc<T>, LoadError<E>>
    where
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let key = self.key(id).map_err(LoadError::Cache)?;
        self.get_or_load_at(&key, &LoadOptions::default(), loader)
            .await
    }

    /// [`get_or_load`](Self::get_or_load) with options (TTL, loader timeouts, fail-safe,
    /// refresh-ahead).
    pub async fn get_or_load_with<E, F, Fut>(
        &self,
        id: impl Display,
        options: &LoadOptions,
        loader: F,
    ) -> Result<Arc<T>, LoadError<E>>
    where
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let key = self.key(id).map_err(LoadError::Cache)?;
        self.get_or_load_at(&key, options, loader).await
    }

    /// [`get_or_load_with`](Self::get_or_load_with) by key.
    pub async fn get_or_load_at<E, F, Fut>(
        &self,
        key: &Key,
        options: &LoadOptions,
        loader: F,
    ) -> Result<Arc<T>, LoadError<E>>
    where
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let loaded = self
            .load_optional_at(key, options, || async move { loader().await.map(Some) })
            .await?;
        // Only a cached absence written through get_or_load_optional can get here.
        loaded.ok_or_else(|| {
            LoadError::Cache(Error::CachedAbsence {
                key: key.to_string(),
            })
        })
    }

    /// Like [`get_or_load_with`](Self::get_or_load_with) for loaders that may answer "absent".
    /// `None` is cached only with [`LoadOptions::cache_none_for`] (negative caching).
    pub async fn get_or_load_optional<E, F, Fut>(
        &self,
        id: impl Display,
        options: &LoadOptions,
        loader: F,
    ) -> Result<Option<Arc<T>>, LoadError<E>>
    where
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>, E>>,
    {
        let key = self.key(id).map_err(LoadError::Cache)?;
        self.load_optional_at(&key, options, loader).await
    }

    /// The core of every `get_or_load`: fast L1 path, then one flight per key.
    pub async fn load_optional_at<E, F, Fut>(
        &self,
        key: &Key,
        options: &LoadOptions,
        loader: F,
    ) -> Result<Option<Arc<T>>, LoadError<E>>
    where
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>, E>>,
    {
        let mut refresh = false;
        if let Probe::Fresh(found) = self.cache.l1_probe::<T>(&self.ctx, key).await {
            let now = now_ms();
            if !self.due_for_refresh(&found, options, now)
                || self.cache.inner.flights.in_progress(key)
            {
                return Ok(found.value);
            }
            refresh = true;
        }
        let flight = self.cache.inner.flights.join(key);
        let outcome: FlightOutcome = flight
            .cell
            .get_or_init(|| async {
                let outcome = self.lead(key, options, refresh, &flight, loader).await;
                self.cache.inner.flights.finish(key, &flight);
                outcome
            })
            .await
            .clone();
        self.cache.inner.flights.finish(key, &flight);
        match outcome {
            Ok(None) => Ok(None),
            Ok(Some(any)) => any.downcast::<T>().map(Some).map_err(|_| {
                LoadError::Cache(Error::TypeMismatch {
                    key: key.to_string(),
                    expected: std::any::type_name::<T>(),
                })
            }),
            Err(FlightError::Loader(any)) => match any.downcast::<E>() {
                Ok(e) => Err(LoadError::Loader(e)),
                Err(_) => Err(LoadError::Cache(Error::TypeMismatch {
                    key: key.to_string(),
                    expected: std::any::type_name::<E>(),
                })),
            },
            Err(FlightError::Timeout(d)) => Err(LoadError::Timeout(d)),
            Err(FlightError::Cache(e)) => Err(LoadError::Cache(e)),
        }
    }

    fn due_for_refresh(&self, found: &Found<T>, options: &LoadOptions, now: u64) -> bool {
        let Some(fraction) = options.refresh_ahead else {
            return false;
        };
        let lifetime = found
            .meta
            .expires_at_ms
            .saturating_sub(found.meta.created_at_ms);
        lifetime > 0 && found.meta.age_ms(now) as f64 >= lifetime as f64 * fraction
    }

    /// The leader of a flight: look again (another process may have loaded), then load.
    async fn lead<E, F, Fut>(
        &self,
        key: &Key,
        options: &LoadOptions,
        refresh: bool,
        flight: &Flight,
        loader: F,
    ) -> FlightOutcome
    where
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>, E>>,
    {
        let erase = |v: Option<Arc<T>>| -> ErasedValue {
            v.map(|v| v as Arc<dyn std::any::Any + Send + Sync>)
        };
        let stale = match self.cache.lookup::<T>(&self.ctx, key).await {
            Ok(Lookup::Fresh(found)) if !refresh => return Ok(erase(found.value)),
            Ok(Lookup::Fresh(found)) | Ok(Lookup::Stale(found)) => Some(found),
            Ok(Lookup::Miss) => None,
            Err(e) => return Err(FlightError::Cache(e)),
        };
        if !refresh {
            self.ctx.stats.miss();
        }
        let lease_ttl = options.hard_timeout.unwrap_or(DEFAULT_LEASE) + Duration::from_millis(500);
        let mut lease = self.cache.take_lease(key, lease_ttl).await;
        // Another instance may have stored and released between our lookup and our lease.
        if matches!(lease, LeaseState::Held(_)) && !refresh {
            if let Some(found) = self.fresh_in_l2(key).await {
                self.cache.release_lease(key, &lease).await;
                return Ok(erase(found.value));
            }
        }
        if let (LeaseState::HeldElsewhere, Some(bound)) = (&lease, options.wait_for_other_instances)
        {
            match self.wait_for_other_instance(key, bound, lease_ttl).await {
                Waited::Value(found) => return Ok(erase(found.value)),
                Waited::Lease(state) => lease = state,
            }
        }
        // What the entry records: versions read before the loader reads its source, so an
        // invalidation of the kind or a tag during the load makes the entry a miss.
        let stamp = self.cache.stamp(&self.ctx, &options.tags).await;
        let start = Instant::now();
        let result = self.run_loader(options, stale.is_some(), loader).await;
        let elapsed = start.elapsed();
        if !matches!(result, Ok(Ok(_))) {
            self.cache.release_lease(key, &lease).await;
        }
        match result {
            Ok(Ok(value)) => {
                self.ctx.stats.load(true, elapsed);
                let value = value.map(Arc::new);
                let ttl = match &value {
                    Some(_) => Some(options.ttl.unwrap_or(self.ctx.ttl)),
                    None => options.cache_none_for,
                };
                if let Some(ttl) = ttl {
                    // Best effort: a failed write leaves the value uncached, the caller served.
                    if let Err(e) = self
                        .cache
                        .store_loaded(&self.ctx, key, value.clone(), ttl, &stamp, &lease, flight)
                        .await
                    {
                        tracing::debug!(%key, error = %e, "could not cache a loaded value");
                    }
                } else {
                    self.cache.release_lease(key, &lease).await;
                }
                Ok(erase(value))
            }
            Ok(Err(e)) => {
                self.ctx.stats.load(false, elapsed);
                self.fail_safe(options, stale, FlightError::Loader(Arc::new(e)))
            }
            Err(LoaderCut::Hard(d)) => {
                self.ctx.stats.load(false, elapsed);
                self.fail_safe(options, stale, FlightError::Timeout(d))
            }
            Err(LoaderCut::Soft) => {
                // A stale value exists (the soft timeout applies only then): serve it.
                self.ctx.stats.stale_hit();
                Ok(erase(stale.and_then(|s| s.value)))
            }
        }
    }

    /// A fresh value in L2 (installed in L1 too), if there is one.
    async fn fresh_in_l2(&self, key: &Key) -> Option<Found<T>> {
        let epoch = self.cache.inner.flights.epoch(key);
        let Some(Ok(Some(bytes))) = self
            .cache
            .l2_call("get", self.cache.inner.backend.get(key))
            .await
        else {
            return None;
        };
        let found = self.cache.decode_l2::<T>(&self.ctx, key, &bytes).await?;
        if found.meta.is_expired(now_ms()) {
            return None;
        }
        self.cache
            .l1_put_if_unchanged(key, &found, bytes.len(), epoch)
            .await;
        Some(found)
    }

    /// Polls the backend for the value another instance is loading, up to `bound`; takes the
    /// lease over if the other instance gives it up (or crashed and it expired).
    async fn wait_for_other_instance(
        &self,
        key: &Key,
        bound: Duration,
        lease_ttl: Duration,
    ) -> Waited<T> {
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let Some(found) = self.fresh_in_l2(key).await {
                return Waited::Value(found);
            }
            if let state @ LeaseState::Held(_) = self.cache.take_lease(key, lease_ttl).await {
                // The holder may have stored and released between our read and our lease.
                if let Some(found) = self.fresh_in_l2(key).await {
                    self.cache.release_lease(key, &state).await;
                    return Waited::Value(found);
                }
                return Waited::Lease(state);
            }
        }
        Waited::Lease(LeaseState::HeldElsewhere)
    }

    /// Serves the stale value instead of `error`, unless fail-safe is off or there is none.
    fn fail_safe(
        &self,
        options: &LoadOptions,
        stale: Option<Found<T>>,
        error: FlightError,
    ) -> FlightOutcome {
        match stale {
            Some(found) if !options.no_fail_safe => {
                self.ctx.stats.stale_hit();
                tracing::debug!(kind = self.kind(), "loader failed; serving a stale value");
                Ok(found
                    .value
                    .map(|v| v as Arc<dyn std::any::Any + Send + Sync>))
            }
            _ => Err(error),
        }
    }

    async fn run_loader<E, F, Fut>(
        &self,
        options: &LoadOptions,
        has_stale: bool,
        loader: F,
    ) -> Result<Result<Option<T>, E>, LoaderCut>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>, E>>,
    {
        let fut = loader();
        let soft = options
            .soft_timeout
            .filter(|_| has_stale && !options.no_fail_safe);
        let limit = match (soft, options.hard_timeout) {
            (Some(s), Some(h)) if h <= s => Some((h, LoaderCut::Hard(h))),
            (Some(s), _) => Some((s, LoaderCut::Soft)),
            (None, Some(h)) => Some((h, LoaderCut::Hard(h))),
            (None, None) => None,
        };
        match limit {
            None => Ok(fut.await),
            Some((d, cut)) => tokio::time::timeout(d, fut).await.map_err(|_| cut),
        }
    }
}

/// How long a load lease lasts when the load has no hard timeout.
const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// What waiting for another instance's load ended with.
enum Waited<T> {
    /// Its value arrived.
    Value(Found<T>),
    /// It did not: load here, under this lease.
    Lease(LeaseState),
}

/// Why a loader was cut short.
enum LoaderCut {
    Soft,
    Hard(Duration),
}
