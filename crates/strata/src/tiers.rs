//! Reading and writing the two tiers for one kind: lookups that fail open, and stores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_backend::{BackendError, SetEntry};
use strata_codec::{Codec, CodecError, EntryMeta, TagVersion};
use strata_keys::Key;
use strata_l1::L1Entry;
use strata_stats::Tier;

use crate::cache::{Cache, KindCtx, now_ms};
use crate::cacheable::CacheValue;
use crate::error::Error;
use crate::versions::Stamp;

/// A value found in a tier, with its metadata (`None`: a cached absence).
pub(crate) struct Found<T> {
    pub(crate) value: Option<Arc<T>>,
    pub(crate) meta: EntryMeta,
    pub(crate) tags: Option<Arc<[TagVersion]>>,
}

impl<T> Clone for Found<T> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            meta: self.meta,
            tags: self.tags.clone(),
        }
    }
}

/// What L1 had.
pub(crate) enum Probe<T> {
    Fresh(Found<T>),
    Stale(Found<T>),
    Miss,
}

/// One L1 hit in this many has its latency measured.
pub(crate) const TIMING_SAMPLE: u32 = 64;

/// Whether this call is one of the sampled ones (a per-thread counter: no shared state).
fn sample_this_call() -> bool {
    thread_local! {
        static CALLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    CALLS.with(|c| {
        let n = c.get().wrapping_add(1);
        c.set(n);
        n % TIMING_SAMPLE == 0
    })
}

/// What a lookup found.
pub(crate) enum Lookup<T> {
    /// A value within its TTL.
    Fresh(Found<T>),
    /// Only a value past its TTL (kept for fail-safe serving).
    Stale(Found<T>),
    /// Nothing usable.
    Miss,
}

impl Cache {
    /// The L1 entry under `key` as a `T`, if present.
    pub(crate) async fn l1_get<T: CacheValue>(&self, ctx: &KindCtx, key: &Key) -> Option<Found<T>> {
        let l1 = self.inner.l1.as_ref()?;
        let entry = l1.get(key).await?;
        let tags = entry.tags().cloned();
        if !self
            .is_current(ctx, entry.meta.generation, tags.as_deref())
            .await
        {
            return None;
        }
        match entry.downcast::<T>() {
            Ok(value) => Some(Found {
                value,
                meta: entry.meta,
                tags,
            }),
            Err(()) => {
                tracing::warn!(%key, expected = std::any::type_name::<T>(), "L1 holds another type under this key; treating as a miss");
                None
            }
        }
    }

    /// Puts a decoded value in L1 until its physical expiry (logical expiry + max stale).
    pub(crate) async fn l1_put<T: CacheValue>(
        &self,
        key: &Key,
        found: &Found<T>,
        encoded_len: usize,
    ) {
        let Some(l1) = &self.inner.l1 else { return };
        let keep_ms = found
            .meta
            .expires_at_ms
            .saturating_add(
                u64::try_from(self.inner.config.max_stale.as_millis()).unwrap_or(u64::MAX),
            )
            .saturating_sub(now_ms());
        if keep_ms == 0 {
            return;
        }
        let entry = L1Entry::new(
            found.value.clone(),
            found.meta,
            encoded_len,
            Instant::now() + Duration::from_millis(keep_ms),
        )
        .with_tags(found.tags.clone());
        l1.insert(key.clone(), entry).await;
    }

    /// Puts a value read from L2 into L1 unless its key was invalidated since `epoch` (taken
    /// before the read); checked again after the insert, so a racing invalidation still wins.
    pub(crate) async fn l1_put_if_unchanged<T: CacheValue>(
        &self,
        key: &Key,
        found: &Found<T>,
        encoded_len: usize,
        epoch: crate::flight::Epoch,
    ) {
        let flights = &self.inner.flights;
        if flights.epoch(key) != epoch {
            return;
        }
        self.l1_put(key, found, encoded_len).await;
        if flights.epoch(key) != epoch {
            if let Some(l1) = &self.inner.l1 {
                l1.remove(key).await;
            }
        }
    }

    /// Runs a backend call unless the circuit is open, under the operation timeout, and feeds
    /// the breaker. `None` when the circuit is open.
    pub(crate) async fn l2_call<R>(
        &self,
        op: &str,
        fut: impl std::future::Future<Output = Result<R, BackendError>>,
    ) -> Option<Result<R, BackendError>> {
        if !self.inner.breaker.allow() {
            return None;
        }
        let timeout = self.inner.config.operation_timeout;
        // Backends that bound their own operations (Redis, memory) skip a second timer.
        let r = if self.inner.bounded {
            fut.await
        } else {
            match tokio::time::timeout(timeout, fut).await {
                Ok(r) => r,
                Err(_) => Err(BackendError::timeout(op, timeout)),
            }
        };
        match &r {
            Err(e) if e.is_transient() => self.inner.breaker.failure(),
            _ => self.inner.breaker.success(),
        }
        Some(r)
    }

    /// Counts an L2 failure; the error to surface in strict mode.
    pub(crate) fn l2_failed(&self, ctx: &KindCtx, outcome: Option<BackendError>) -> Error {
        match outcome {
            Some(e) => {
                ctx.stats.error(Tier::L2, e.kind().as_str());
                tracing::debug!(kind = ctx.keys.kind(), error = %e, "backend failed; treating as a miss");
                Error::from(e)
            }
            None => {
                ctx.stats.error(Tier::L2, "circuit_open");
                Error::CircuitOpen
            }
        }
    }

    /// Decodes bytes from L2; broken entries are counted and deleted (only if unchanged).
    pub(crate) async fn decode_l2<T: CacheValue>(
        &self,
        ctx: &KindCtx,
        key: &Key,
        bytes: &[u8],
    ) -> Option<Found<T>> {
        match self.inner.codec.decode::<T>(bytes, Some(ctx.keys.schema())) {
            Ok(env) => {
                let tags: Option<Arc<[TagVersion]>> =
                    (!env.tags.is_empty()).then(|| env.tags.into());
                // Written before its kind was cleared or one of its tags invalidated: a miss.
                if !self
                    .is_current(ctx, env.meta.generation, tags.as_deref())
                    .await
                {
                    return None;
                }
                Some(Found {
                    value: env.value.map(Arc::new),
                    meta: env.meta,
                    tags,
                })
            }
            // An older (or newer) shape: a plain miss; the next write replaces it.
            Err(CodecError::SchemaMismatch { .. }) => None,
            Err(e) => {
                ctx.stats.error(Tier::L2, "codec");
                tracing::warn!(%key, error = %e, "undecodable entry; deleting it");
                if let Some(listing) = self.inner.backend.as_listing() {
                    let _ = self
                        .l2_call("delete_if_equals", listing.delete_if_equals(key, bytes))
                        .await;
                }
                None
            }
        }
    }

    /// The L1 step of a lookup: a fresh hit, or the stale value L1 holds (if any).
    ///
    /// The hot path of the cache: one clock read, no decoding, and latency timed only for one
    /// hit in [`TIMING_SAMPLE`] (timing costs more than the hit).
    pub(crate) async fn l1_probe<T: CacheValue>(&self, ctx: &KindCtx, key: &Key) -> Probe<T> {
        let Some(l1) = &self.inner.l1 else {
            return Probe::Miss;
        };
        let timed = sample_this_call();
        let start = timed.then(Instant::now);
        let entry = l1.get(key).await;
        let now = Instant::now();
        let Some(entry) = entry else {
            ctx.stats
                .tier_miss(Tier::L1, start.map_or(Duration::ZERO, |s| now - s));
            return Probe::Miss;
        };
        let fresh = entry.is_fresh(now);
        let age = entry.age_ms(now);
        let meta = entry.meta;
        let tags = entry.tags().cloned();
        // One atomic load decides in the common case (generation known, no tags).
        let current = match ctx.generation.load() {
            (g, true) if tags.is_none() => g == meta.generation,
            // Boxed: the slow path may read the backend, and its future must not make the
            // hot path's future larger.
            _ => Box::pin(self.is_current(ctx, meta.generation, tags.as_deref())).await,
        };
        if !current {
            ctx.stats
                .tier_miss(Tier::L1, start.map_or(Duration::ZERO, |s| now - s));
            return Probe::Miss;
        }
        match entry.into_value::<T>() {
            Ok(value) if fresh => {
                match start {
                    Some(s) => ctx.stats.hit(Tier::L1, age, now - s),
                    None => ctx.stats.hit_untimed(Tier::L1, age),
                }
                Probe::Fresh(Found { value, meta, tags })
            }
            Ok(value) => {
                ctx.stats
                    .tier_miss(Tier::L1, start.map_or(Duration::ZERO, |s| now - s));
                Probe::Stale(Found { value, meta, tags })
            }
            Err(()) => {
                tracing::warn!(%key, expected = std::any::type_name::<T>(), "L1 holds another type under this key; treating as a miss");
                ctx.stats.tier_miss(Tier::L1, Duration::ZERO);
                Probe::Miss
            }
        }
    }

    /// Looks `key` up in L1 then L2. Backend failures are misses unless strict.
    pub(crate) async fn lookup<T: CacheValue>(
        &self,
        ctx: &KindCtx,
        key: &Key,
    ) -> Result<Lookup<T>, Error> {
        match self.l1_probe::<T>(ctx, key).await {
            Probe::Fresh(found) => Ok(Lookup::Fresh(found)),
            Probe::Stale(found) => self.lookup_l2(ctx, key, Some(found)).await,
            Probe::Miss => self.lookup_l2(ctx, key, None).await,
        }
    }

    /// The L2 step of a lookup, given what L1 had.
    pub(crate) async fn lookup_l2<T: CacheValue>(
        &self,
        ctx: &KindCtx,
        key: &Key,
        mut stale: Option<Found<T>>,
    ) -> Result<Lookup<T>, Error> {
        let now = now_ms();
        let epoch = self.inner.flights.epoch(key);
        let start = Instant::now();
        match self.l2_call("get", self.inner.backend.get(key)).await {
            Some(Ok(Some(bytes))) => {
                if let Some(found) = self.decode_l2::<T>(ctx, key, &bytes).await {
                    self.l1_put_if_unchanged(key, &found, bytes.len(), epoch)
                        .await;
                    if !found.meta.is_expired(now) {
                        ctx.stats
                            .hit(Tier::L2, found.meta.age_ms(now), start.elapsed());
                        return Ok(Lookup::Fresh(found));
                    }
                    if stale
                        .as_ref()
                        .is_none_or(|s: &Found<T>| s.meta.created_at_ms < found.meta.created_at_ms)
                    {
                        stale = Some(found);
                    }
                }
                ctx.stats.tier_miss(Tier::L2, start.elapsed());
            }
            Some(Ok(None)) => ctx.stats.tier_miss(Tier::L2, start.elapsed()),
            Some(Err(e)) => {
                let err = self.l2_failed(ctx, Some(e));
                if self.inner.config.strict {
                    return Err(err);
                }
            }
            None => {
                let err = self.l2_failed(ctx, None);
                if self.inner.config.strict {
                    return Err(err);
                }
            }
        }
        Ok(match stale {
            Some(s) => Lookup::Stale(s),
            None => Lookup::Miss,
        })
    }

    /// Encodes and writes one value (or absence) to both tiers. The L1 copy is written even
    /// when L2 fails (that error is returned).
    pub(crate) async fn store<T: CacheValue>(
        &self,
        ctx: &KindCtx,
        key: &Key,
        value: Option<Arc<T>>,
        ttl: Duration,
        stamp: &Stamp,
    ) -> Result<(), Error> {
        let ttl = self.jittered(ttl);
        let meta = self.meta(ctx, ttl, stamp);
        let bytes = self.encode(&meta, stamp, value.as_deref())?;
        let len = bytes.len();
        let physical = ttl + self.inner.config.max_stale;
        let l2 = self
            .l2_call("set", self.inner.backend.set(key, bytes, physical))
            .await;
        // A read that fetched the previous bytes must not fill L1 after this write.
        self.inner.flights.poison(key);
        let tags = stamp.tags.clone();
        self.l1_put(key, &Found { value, meta, tags }, len).await;
        ctx.stats.sets(1);
        match l2 {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(self.l2_failed(ctx, Some(e))),
            None => Err(self.l2_failed(ctx, None)),
        }
    }

    /// Writes many values of one kind: one batch to L2, then L1.
    pub(crate) async fn store_many<T: CacheValue>(
        &self,
        ctx: &KindCtx,
        items: Vec<(Key, Arc<T>)>,
        ttl: Duration,
        stamp: &Stamp,
    ) -> Result<(), Error> {
        let mut entries = Vec::with_capacity(items.len());
        let mut found = Vec::with_capacity(items.len());
        for (key, value) in items {
            let ttl = self.jittered(ttl);
            let meta = self.meta(ctx, ttl, stamp);
            let bytes = self.encode(&meta, stamp, Some(&*value))?;
            found.push((
                key.clone(),
                Found {
                    value: Some(value),
                    meta,
                    tags: stamp.tags.clone(),
                },
                bytes.len(),
            ));
            entries.push(SetEntry::new(
                key.as_str(),
                bytes,
                ttl + self.inner.config.max_stale,
            ));
        }
        let n = entries.len() as u64;
        let l2 = self
            .l2_call("set_many", self.inner.backend.set_many(entries))
            .await;
        for (key, f, len) in &found {
            self.inner.flights.poison(key);
            self.l1_put(key, f, *len).await;
        }
        ctx.stats.sets(n);
        match l2 {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(self.l2_failed(ctx, Some(e))),
            None => Err(self.l2_failed(ctx, None)),
        }
    }
}

impl Cache {
    /// The metadata of an entry of `ctx`'s kind written now for `ttl`.
    fn meta(&self, ctx: &KindCtx, ttl: Duration, stamp: &Stamp) -> EntryMeta {
        EntryMeta::new(
            now_ms(),
            u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            ctx.keys.schema(),
        )
        .with_generation(stamp.generation)
    }

    /// Encodes an entry with the tags of its stamp.
    fn encode<T: CacheValue>(
        &self,
        meta: &EntryMeta,
        stamp: &Stamp,
        value: Option<&T>,
    ) -> Result<strata_backend::Bytes, Error> {
        let tags = stamp.tags.as_deref().unwrap_or(&[]);
        Ok(self.inner.codec.encode_tagged(meta, tags, value)?)
    }
}

/// The load lease a flight leader holds (or why it holds none).
pub(crate) enum LeaseState {
    /// We hold it: store through `set_under_lease`.
    Held(String),
    /// Another instance holds it: it will store; we only fill our L1.
    HeldElsewhere,
    /// The backend has no leases, or could not be asked: store plainly (best effort).
    Unavailable,
}

impl Cache {
    /// Takes the load lease of `key` for a load bounded by `ttl`.
    pub(crate) async fn take_lease(&self, key: &Key, ttl: Duration) -> LeaseState {
        let Some(leases) = self.inner.backend.as_leases() else {
            return LeaseState::Unavailable;
        };
        let token = format!("{:016x}{:016x}", self.inner.instance, rand::random::<u64>());
        match self
            .l2_call("acquire_lease", leases.acquire_lease(key, &token, ttl))
            .await
        {
            Some(Ok(true)) => LeaseState::Held(token),
            Some(Ok(false)) => LeaseState::HeldElsewhere,
            _ => LeaseState::Unavailable,
        }
    }

    /// Gives a lease back after a failed load (best effort: it expires anyway).
    pub(crate) async fn release_lease(&self, key: &Key, lease: &LeaseState) {
        if let (LeaseState::Held(token), Some(leases)) = (lease, self.inner.backend.as_leases()) {
            let _ = self
                .l2_call("release_lease", leases.release_lease(key, token))
                .await;
        }
    }

    /// Stores a loaded value unless the key was invalidated while it loaded: in L2 through the
    /// lease (atomic), in L1 only if the flight was not poisoned (checked before and after the
    /// insert, so an invalidation racing the insert still wins).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn store_loaded<T: CacheValue>(
        &self,
        ctx: &KindCtx,
        key: &Key,
        value: Option<Arc<T>>,
        ttl: Duration,
        stamp: &Stamp,
        lease: &LeaseState,
        flight: &crate::flight::Flight,
    ) -> Result<(), Error> {
        // Invalidated locally while loading (this covers kind and full clears too, which have no
        // per-key lease to drop on every backend): store nothing.
        // So was a load whose kind was cleared or whose tag was invalidated meanwhile (its
        // entry would be a miss anyway; storing it could only replace a newer one).
        if flight.is_poisoned()
            || !self
                .is_current(ctx, stamp.generation, stamp.tags.as_deref())
                .await
        {
            self.release_lease(key, lease).await;
            return Ok(());
        }
        let ttl = self.jittered(ttl);
        let meta = self.meta(ctx, ttl, stamp);
        let bytes = self.encode(&meta, stamp, value.as_deref())?;
        let len = bytes.len();
        let physical = ttl + self.inner.config.max_stale;
        let mut failure = None;
        match lease {
            LeaseState::Held(token) => {
                let Some(leases) = self.inner.backend.as_leases() else {
                    return Ok(());
                };
                match self
                    .l2_call(
                        "set_under_lease",
                        leases.set_under_lease(key, token, bytes, physical),
                    )
                    .await
                {
                    Some(Ok(true)) => {}
                    Some(Ok(false)) => {
                        tracing::debug!(%key, "the key was invalidated during the load; not caching it");
                        return Ok(());
                    }
                    Some(Err(e)) => failure = Some(self.l2_failed(ctx, Some(e))),
                    None => failure = Some(self.l2_failed(ctx, None)),
                }
            }
            LeaseState::HeldElsewhere => {}
            LeaseState::Unavailable => match self
                .l2_call("set", self.inner.backend.set(key, bytes, physical))
                .await
            {
                Some(Ok(())) => {}
                Some(Err(e)) => failure = Some(self.l2_failed(ctx, Some(e))),
                None => failure = Some(self.l2_failed(ctx, None)),
            },
        }
        // Only a store through our own lease proves that no invalidation of the key happened
        // during the load. Without one, an invalidation may also have been missed while the bus
        // resubscribed: then the key's epoch moved, and L1 is left alone.
        let proven = matches!(lease, LeaseState::Held(_)) && failure.is_none();
        let overtaken =
            || flight.is_poisoned() || (!proven && self.inner.flights.epoch(key) != flight.epoch());
        if !overtaken() {
            let tags = stamp.tags.clone();
            self.l1_put(key, &Found { value, meta, tags }, len).await;
            if overtaken() {
                if let Some(l1) = &self.inner.l1 {
                    l1.remove(key).await;
                }
            }
        }
        ctx.stats.sets(1);
        failure.map_or(Ok(()), Err)
    }
}
