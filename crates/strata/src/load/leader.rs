//! The leader of a flight: the miss path as four steps — look up, lease, load, settle.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};
use strata_codec::decoded_size;

use strata_keys::Key;

use super::Mode;
use super::lease::{Lease, Stored, Waited};
use super::loader::{Load, LoaderCut, run};
use crate::cacheable::CacheValue;
use crate::core::Core;
use crate::entry::{Found, Lookup};
use crate::error::Error;
use crate::flight::{ErasedValue, Flight, FlightError, FlightOutcome};
use crate::kinds::KindState;
use crate::options::LoadOptions;
use crate::read::{self, Garbage};
use crate::trace;
use crate::versions::Stamp;
use crate::write;
use strata_backend::batch::{Done, LeaseOutcome, LeaseRequest, LeaseWhen, Step};
use strata_stats::Tier;

/// How long a load lease lasts when the load has no hard timeout.
const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// One load of one key, with everything its steps share.
pub(super) struct Leader<'a> {
    pub(super) core: &'a Core,
    pub(super) kind: &'a KindState,
    pub(super) key: &'a Key,
    pub(super) options: &'a LoadOptions,
    pub(super) mode: Mode,
    pub(super) flight: &'a Flight,
}

/// What the lookup step found.
enum Looked<T> {
    /// A fresh value: the load is not needed.
    Done(Option<Arc<T>>),
    /// Load, with this stale value for fail-safe, and the lease if the lookup decided it.
    Go(Option<Found<T>>, Option<Lease>),
}

/// What the lease step ended with.
enum Leased<T> {
    /// Another instance's value arrived meanwhile.
    Found(Found<T>),
    /// Load, under this lease.
    Go(Lease),
}

fn erase<T: CacheValue>(value: Option<Arc<T>>) -> ErasedValue {
    value.map(|v| v as Arc<dyn Any + Send + Sync>)
}

/// What the loader answered, or why it was cut short.
type Loaded<T, E> = Result<Result<Option<T>, E>, LoaderCut>;

impl Leader<'_> {
    /// Runs the steps; the outcome every caller of the flight shares.
    pub(super) async fn lead<T, E>(&self, loader: impl Load<Option<T>, E>) -> FlightOutcome
    where
        T: CacheValue,
        E: Send + Sync + 'static,
    {
        let (stale, decided) = match self.look_up::<T>().await {
            Ok(Looked::Done(value)) => {
                trace::outcome("hit");
                return Ok(erase(value));
            }
            Ok(Looked::Go(stale, lease)) => (stale, lease),
            Err(e) => {
                trace::outcome("error");
                return Err(FlightError::Cache(e));
            }
        };
        let lease = match self.lease::<T>(decided).await {
            Leased::Found(found) => {
                trace::outcome("hit_after_wait");
                return Ok(erase(found.value));
            }
            Leased::Go(lease) => lease,
        };
        // The versions are read before the loader reads its source, so an invalidation of the
        // kind or a tag during the load makes the entry a miss.
        let stamp = self
            .core
            .versions
            .stamp(
                &self.core.l2,
                self.kind.name(),
                &self.kind.generation,
                &self.options.tags,
            )
            .await;
        let start = Instant::now();
        let loaded = run(self.options, stale.is_some(), loader).await;
        self.settle(loaded, start.elapsed(), stale, &stamp, lease)
            .await
    }

    /// How long this load's lease lasts.
    fn lease_ttl(&self) -> Duration {
        self.options.hard_timeout.unwrap_or(DEFAULT_LEASE) + Duration::from_millis(500)
    }

    /// Step 1: look again (another caller or process may have loaded meanwhile). With leases,
    /// one batch reads the entry, takes its lease if it is absent (or in any case when this
    /// load will run anyway) and reads the version counters not known here.
    async fn look_up<T: CacheValue>(&self) -> Result<Looked<T>, Error> {
        let (core, kind, key) = (self.core, self.kind, self.key);
        let stale = match read::recheck_l1::<T>(core, kind, key).await {
            Lookup::Fresh(found) if self.mode == Mode::Fill => {
                return Ok(Looked::Done(found.value));
            }
            other => other.into_stale(),
        };
        let looked = match core.l2.leases() {
            Some(_) => self.read_and_lease(stale).await?,
            None => match read::lookup_l2::<T>(core, kind, key, stale).await? {
                Lookup::Fresh(found) if self.mode == Mode::Fill => Looked::Done(found.value),
                other => Looked::Go(other.into_stale(), Some(Lease::Unavailable)),
            },
        };
        if self.mode == Mode::Fill && matches!(looked, Looked::Go(..)) {
            kind.stats.miss();
        }
        Ok(looked)
    }

    /// The lookup's batch: the entry with its lease, and the counters to learn.
    async fn read_and_lease<T: CacheValue>(
        &self,
        stale: Option<Found<T>>,
    ) -> Result<Looked<T>, Error> {
        let (core, kind, key) = (self.core, self.kind, self.key);
        // A stale value here, or a refresh: this load runs whatever L2 holds.
        let when = if stale.is_some() || self.mode == Mode::Refresh {
            LeaseWhen::Always
        } else {
            LeaseWhen::Absent
        };
        let token = Lease::token(core);
        let request = LeaseRequest::new(token.clone(), self.lease_ttl(), when);
        let counters =
            core.versions
                .to_read(&core.l2, kind.name(), &kind.generation, &self.options.tags);
        let mut steps = vec![Step::Read {
            key: key.to_string(),
            lease: Some(request),
        }];
        steps.extend(core.versions.read_steps(&counters));
        let epoch = core.local.flights().epoch(key);
        let start = Instant::now();
        let done = match core.l2.call(core.l2.backend().batch(steps)).await {
            Ok(done) => done,
            Err(e) => {
                let err = core.l2.failed(&kind.stats, e);
                if core.l2.strict() {
                    return Err(err);
                }
                return Ok(Looked::Go(stale, Some(Lease::Unavailable)));
            }
        };
        core.versions
            .learn(&kind.generation, &counters, done.get(1..).unwrap_or(&[]));
        let (value, outcome) = match done.into_iter().next() {
            Some(Done::Read { value, lease }) => (value, lease),
            _ => (None, LeaseOutcome::Unavailable),
        };
        let lease = Lease::from_outcome(outcome, token);
        let found = match &value {
            Some(bytes) => read::decode::<T>(core, kind, key, bytes, Garbage::Keep).await,
            None => None,
        };
        let Some(found) = found else {
            kind.stats.tier_miss(Tier::L2, start.elapsed());
            return Ok(Looked::Go(stale, lease));
        };
        let now = core.clock.now_ms();
        let len = value.as_deref().map_or(0, decoded_size);
        let keep = core.keep_for(found.meta.expires_at_ms);
        core.local
            .put_if_unchanged(key, &found, len, keep, epoch)
            .await;
        if !found.meta.is_expired(now) && self.mode == Mode::Fill {
            kind.stats
                .hit(Tier::L2, found.meta.age_ms(now), start.elapsed());
            if let Some(lease) = lease {
                lease.release(core, key).await;
            }
            return Ok(Looked::Done(found.value));
        }
        kind.stats.tier_miss(Tier::L2, start.elapsed());
        let newer = stale.filter(|s| s.meta.created_at_ms >= found.meta.created_at_ms);
        Ok(Looked::Go(Some(newer.unwrap_or(found)), lease))
    }

    /// Step 2: the key's lease (taken now unless the lookup did), and waiting for another
    /// instance's load when asked to.
    async fn lease<T: CacheValue>(&self, decided: Option<Lease>) -> Leased<T> {
        let (core, kind, key) = (self.core, self.kind, self.key);
        let ttl = self.lease_ttl();
        let mut lease = match decided {
            Some(lease) => lease,
            None => Lease::take(core, key, ttl).await,
        };
        if let (Lease::HeldElsewhere, Some(bound)) = (&lease, self.options.wait_for_other_instances)
        {
            match Lease::wait_for_other_instance(core, kind, key, bound, ttl).await {
                Waited::Value(found) => return Leased::Found(found),
                Waited::Lease(other) => lease = other,
            }
        }
        Leased::Go(lease)
    }

    /// Step 4: cache what the loader answered, or fall back to the stale value.
    async fn settle<T, E>(
        &self,
        loaded: Loaded<T, E>,
        elapsed: Duration,
        stale: Option<Found<T>>,
        stamp: &Stamp,
        lease: Lease,
    ) -> FlightOutcome
    where
        T: CacheValue,
        E: Send + Sync + 'static,
    {
        let stats = &self.kind.stats;
        let failure = match loaded {
            Ok(Ok(value)) => {
                trace::outcome("loaded");
                stats.load(true, elapsed);
                let value = value.map(Arc::new);
                self.cache_loaded(value.clone(), stamp, lease).await;
                return Ok(erase(value));
            }
            Ok(Err(e)) => FlightError::Loader(Arc::new(e)),
            Err(LoaderCut::Hard(d)) => FlightError::Timeout(d),
            Err(LoaderCut::Soft) => {
                // A stale value exists (the soft timeout applies only then): serve it.
                lease.release(self.core, self.key).await;
                stats.stale_hit();
                trace::outcome("stale_after_soft_timeout");
                return Ok(erase(stale.and_then(|s| s.value)));
            }
        };
        lease.release(self.core, self.key).await;
        stats.load(false, elapsed);
        match stale {
            Some(found) if !self.options.no_fail_safe => {
                stats.stale_hit();
                trace::outcome("stale_after_loader_failure");
                tracing::debug!(
                    kind = self.kind.name(),
                    "loader failed; serving a stale value"
                );
                Ok(erase(found.value))
            }
            _ => {
                trace::outcome("loader_failed");
                Err(failure)
            }
        }
    }

    /// Stores a loaded value (best effort: a failure leaves it uncached, the caller served)
    /// unless the key was invalidated while it loaded: in L2 through the lease (atomic), in L1
    /// only if no invalidation overtook the load.
    async fn cache_loaded<T: CacheValue>(
        &self,
        value: Option<Arc<T>>,
        stamp: &Stamp,
        lease: Lease,
    ) {
        let (core, kind, key) = (self.core, self.kind, self.key);
        let ttl = match &value {
            Some(_) => Some(self.options.ttl.unwrap_or(kind.ttl)),
            None => Some(
                self.options
                    .cache_none_for
                    .unwrap_or(core.config.negative_ttl),
            )
            .filter(|ttl| !ttl.is_zero()),
        };
        // Invalidated locally while loading (kind and full clears included, which have no
        // per-key lease to drop on every backend), or its kind cleared or a tag invalidated
        // meanwhile (its entry would be a miss anyway; storing it could only replace a newer
        // one): store nothing.
        let Some(ttl) = ttl else {
            lease.release(core, key).await;
            return;
        };
        if self.flight.is_poisoned()
            || !read::is_current(core, kind, stamp.generation, stamp.tags.as_deref()).await
        {
            lease.release(core, key).await;
            return;
        }
        let entry = match write::encode(core, kind, value, ttl, stamp) {
            Ok(entry) => entry,
            Err(e) => {
                tracing::debug!(%key, error = %e, "could not encode a loaded value");
                lease.release(core, key).await;
                return;
            }
        };
        let stored = lease.store(core, kind, key, &entry).await;
        // Only a store through our own lease proves that no invalidation of the key happened
        // during the load. Without one, an invalidation may also have been missed while the bus
        // resubscribed: then the key's epoch moved, and L1 is left alone.
        let proven = match &stored {
            Stored::Overtaken => {
                tracing::debug!(%key, "the key was invalidated during the load; not caching it");
                return;
            }
            Stored::Failed(e) => {
                tracing::debug!(%key, error = %e, "could not cache a loaded value");
                false
            }
            Stored::Proven => true,
            Stored::Unproven => false,
        };
        let flights = core.local.flights();
        let overtaken =
            || self.flight.is_poisoned() || (!proven && flights.epoch(key) != self.flight.epoch());
        let keep = core.keep_for(entry.found.meta.expires_at_ms);
        core.local
            .put_unless(key, &entry.found, entry.weight(), keep, overtaken)
            .await;
        kind.stats.sets(1);
    }
}
