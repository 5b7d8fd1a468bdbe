//! The leader of a flight: the miss path as four steps — look up, lease, load, settle.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_backend::batch::{Batch, Results};
use strata_keys::Key;

use super::Mode;
use super::group::LoadGroup;
use super::lease::{Lease, Waited};
use super::loader::{Load, LoaderCut, run};
use super::settling::Settling;
use crate::cacheable::CacheValue;
use crate::core::Core;
use crate::entry::{Found, Lookup};
use crate::error::Error;
use crate::flight::{ErasedValue, Flight, FlightError, FlightOutcome};
use crate::kinds::KindState;
use crate::l2_read::{self, L2Read, ReadFor, Wanted, lease_request};
use crate::options::LoadOptions;
use crate::read;
use crate::trace;
use crate::versions::Stamp;
use crate::write;

/// How long a load lease lasts when the load has no hard timeout.
const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// One load of one key, with everything its steps share.
pub(super) struct Leader<'a> {
    pub(super) core: &'a Core,
    pub(super) kind: &'a Arc<KindState>,
    pub(super) key: &'a Key,
    pub(super) options: &'a LoadOptions,
    pub(super) mode: Mode,
    pub(super) flight: &'a Arc<Flight>,
}

/// How long the lease of a load with `options` lasts.
pub(super) fn lease_ttl(options: &LoadOptions) -> Duration {
    options.hard_timeout.unwrap_or(DEFAULT_LEASE) + Duration::from_millis(500)
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
        // A load of a kind with declared relations starts a group (unless it is in one):
        // its lookup reads the related entries ahead, and the group's stores settle together.
        let joined = LoadGroup::current();
        let owned = (joined.is_none()
            && self.mode == Mode::Fill
            && self.core.relations.declared(self.kind.name()))
        .then(|| Arc::new(LoadGroup::default()));
        let group = owned.as_ref().or(joined.as_ref());
        // Boxed: loads nest (a loader's loads run inside its future).
        let outcome = Box::pin(self.steps(loader, group, owned.as_ref())).await;
        if let Some(owned) = &owned {
            // What the settle step left (a failed load: the related loads' stores).
            owned.settle(self.core, self.kind).await;
        }
        outcome
    }

    /// The four steps, in `group` (which this load settles when it `owns` it).
    async fn steps<T, E>(
        &self,
        loader: impl Load<Option<T>, E>,
        group: Option<&Arc<LoadGroup>>,
        owns: Option<&Arc<LoadGroup>>,
    ) -> FlightOutcome
    where
        T: CacheValue,
        E: Send + Sync + 'static,
    {
        let (stale, decided) = match self.look_up::<T>(group).await {
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
            Leased::Go(lease) if self.skips_refresh(&lease) => {
                trace::outcome("refreshed_elsewhere");
                return Ok(erase(stale.and_then(|s| s.value)));
            }
            Leased::Go(lease) => lease,
        };
        // The versions are read before the loader reads its source, so an invalidation of the
        // kind or a tag during the load makes the entry a miss.
        let stamp = self
            .kind
            .stamp(&self.core.versions, &self.options.tags)
            .await;
        let (start, clock_start) = (Instant::now(), self.core.clock.now_ms());
        let loaded = match owns {
            Some(group) => {
                group
                    .scope(run(self.options, stale.is_some(), loader))
                    .await
            }
            None => run(self.options, stale.is_some(), loader).await,
        };
        // δ for XFetch: real time, or the manual clock's when a test moves it during the load.
        let on_clock = self.core.clock.now_ms().saturating_sub(clock_start) * 1000;
        let us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.kind.refresh.record_load(us.max(on_clock));
        self.settle(loaded, start.elapsed(), stale, &stamp, (lease, owns))
            .await
    }

    /// A background refresh does not load when another instance holds the key's lease: that
    /// instance is refreshing it (one refresh across instances).
    fn skips_refresh(&self, lease: &Lease) -> bool {
        self.mode == Mode::Background && matches!(lease, Lease::HeldElsewhere)
    }

    /// How long this load's lease lasts.
    fn lease_ttl(&self) -> Duration {
        lease_ttl(self.options)
    }

    /// Step 1: look again (another caller or process may have loaded meanwhile): one read of
    /// L2 that takes the key's lease if the entry is absent (or in any case when this load will
    /// run anyway) and reads the version counters not known here.
    async fn look_up<T: CacheValue>(
        &self,
        group: Option<&Arc<LoadGroup>>,
    ) -> Result<Looked<T>, Error> {
        let (core, kind, key) = (self.core, self.kind, self.key);
        let stale = match read::recheck_l1::<T>(core, kind, key).await {
            Lookup::Fresh(found) if self.mode == Mode::Fill => {
                return Ok(Looked::Done(found.value));
            }
            other => other.into_stale(),
        };
        let had = stale.as_ref().map(|s| s.meta.created_at_ms);
        let (purpose, always) = match self.mode {
            Mode::Fill => (ReadFor::Fill, stale.is_some()),
            Mode::Refresh | Mode::Background => (ReadFor::Refresh, true),
        };
        let leases = kind.l2.capabilities().leases;
        let ahead = group
            .filter(|_| self.mode == Mode::Fill)
            .and_then(|g| g.take_read(key));
        let (read, token) = match ahead {
            // Read ahead by the group's lookup: no round trip of its own. A value invalidated
            // here since is not used (the lease is: the store still goes through it).
            Some(mut p) => {
                if core.local.flights().epoch(key) != p.epoch {
                    p.read.value = None;
                }
                let wanted = Wanted {
                    stale,
                    ..Wanted::key(key)
                };
                let at = (p.epoch, purpose);
                let read =
                    l2_read::answer_one(core, kind, wanted, p.read, at, Some(p.latency)).await;
                (read, p.token)
            }
            None => {
                let token = Lease::token(core);
                let wanted = Wanted {
                    key,
                    lease: leases.then(|| lease_request(token.clone(), self.lease_ttl(), always)),
                    stale,
                };
                (self.read_with_related(wanted, purpose, group).await?, token)
            }
        };
        let lease = match leases {
            true => Lease::from_outcome(read.lease, token),
            false => Some(Lease::Unavailable),
        };
        // A background refresh that finds a newer fresh value (another instance refreshed it;
        // the read put it in L1) has nothing left to do.
        let newer = self.mode == Mode::Background
            && read
                .found
                .as_ref()
                .is_some_and(|f| had.is_none_or(|had| f.meta.created_at_ms > had));
        if read.fresh && (self.mode == Mode::Fill || newer) {
            if let Some(lease) = lease {
                lease.release(&kind.l2, key).await;
            }
            return Ok(Looked::Done(read.found.and_then(|f| f.value)));
        }
        if self.mode == Mode::Fill {
            kind.stats.miss();
        }
        Ok(Looked::Go(read.found, lease))
    }

    /// The lookup's read of L2, with the related entries of the key read ahead for `group`.
    async fn read_with_related<T: CacheValue>(
        &self,
        wanted: Wanted<'_, T>,
        purpose: ReadFor,
        group: Option<&Arc<LoadGroup>>,
    ) -> Result<L2Read<T>, Error> {
        let (core, kind) = (self.core, self.kind);
        let related = match group {
            Some(_) => LoadGroup::worth_reading(core, core.relations.of(kind, self.key)).await,
            None => Vec::new(),
        };
        let read = (wanted, self.options.tags.as_slice(), purpose);
        let (Some(group), false) = (group, related.is_empty()) else {
            return l2_read::read_with(core, kind, read, |_| (), |(), _, _| ()).await;
        };
        let ttl = self.lease_ttl();
        let also = |batch: &mut Batch| group.plan(core, (related, &[]), (kind.backend, ttl), batch);
        let after = |ahead, done: Option<&Results>, start| group.keep(core, ahead, done, start);
        l2_read::read_with(core, kind, read, also, after).await
    }

    /// Step 2: the key's lease (taken now unless the lookup did), and waiting for another
    /// instance's load when asked to.
    async fn lease<T: CacheValue>(&self, decided: Option<Lease>) -> Leased<T> {
        let (core, kind, key) = (self.core, self.kind, self.key);
        let ttl = self.lease_ttl();
        let mut lease = match decided {
            Some(lease) => lease,
            None => Lease::take(core, kind, key, ttl).await,
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
        (lease, owns): (Lease, Option<&Arc<LoadGroup>>),
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
                if self.mode == Mode::Background {
                    stats.refreshed(true);
                }
                let value = value.map(Arc::new);
                self.cache_loaded(value.clone(), stamp, lease, owns).await;
                return Ok(erase(value));
            }
            Ok(Err(e)) => FlightError::Loader(Arc::new(e)),
            Err(LoaderCut::Hard(d)) => FlightError::Timeout(d),
            Err(LoaderCut::Soft) => {
                // A stale value exists (the soft timeout applies only then): serve it.
                lease.release(&self.kind.l2, self.key).await;
                stats.stale_hit();
                trace::outcome("stale_after_soft_timeout");
                return Ok(erase(stale.and_then(|s| s.value)));
            }
        };
        lease.release(&self.kind.l2, self.key).await;
        stats.load(false, elapsed);
        if self.mode == Mode::Background {
            // Never surfaced to a reader: logged and counted; the current value stays.
            stats.refreshed(false);
            tracing::warn!(
                kind = self.kind.name(),
                key = %self.key,
                "background refresh failed; the current value is kept"
            );
            trace::outcome("refresh_failed");
            return Ok(erase(stale.and_then(|s| s.value)));
        }
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
    /// only if no invalidation overtook the load. In a load group, the store waits for the
    /// group's batch (the flight stays registered meanwhile, so callers of the key share it).
    async fn cache_loaded<T: CacheValue>(
        &self,
        value: Option<Arc<T>>,
        stamp: &Stamp,
        lease: Lease,
        owns: Option<&Arc<LoadGroup>>,
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
        let Some(ttl) = ttl else {
            lease.release(&kind.l2, key).await;
            return;
        };
        let entry = match write::encode(core, kind, value, ttl, stamp) {
            Ok(entry) => entry,
            Err(e) => {
                tracing::debug!(%key, error = %e, "could not encode a loaded value");
                lease.release(&kind.l2, key).await;
                return;
            }
        };
        let mut settling = Settling {
            core: core.me.clone(),
            kind: kind.clone(),
            key: key.clone(),
            flight: self.flight.clone(),
            entry,
            stamp: stamp.clone(),
            lease: Some(lease),
            written: None,
            holds_flight: false,
            dropped: false,
        };
        match (owns, LoadGroup::current()) {
            (Some(group), _) => {
                group.defer(Box::new(settling));
                group.settle(core, kind).await;
            }
            (None, Some(group)) => {
                self.flight.hold_until_settled();
                settling.holds_flight = true;
                group.defer(Box::new(settling));
            }
            (None, None) => {
                if settling.overtaken(core).await {
                    let lease = settling.lease.take().unwrap_or(Lease::Unavailable);
                    lease.release(&kind.l2, key).await;
                    return;
                }
                settling.store_now(core).await;
            }
        }
    }
}
