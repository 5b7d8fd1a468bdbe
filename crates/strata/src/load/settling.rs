//! A loaded value on its way into both tiers: its store through the load's lease (alone, or in
//! its load group's batch), then L1 unless an invalidation overtook the load.

use std::sync::{Arc, Weak};

use futures::future::BoxFuture;
use strata_backend::batch::{Batch, Handle, Results};
use strata_keys::Key;

use super::group::DeferredStore;
use super::lease::{Lease, Stored};
use crate::backends::BackendId;
use crate::cacheable::CacheValue;
use crate::core::Core;
use crate::flight::Flight;
use crate::kinds::KindState;
use crate::versions::Stamp;
use crate::write::Encoded;

/// A loaded value to store, with the lease and flight of its load.
pub(super) struct Settling<T> {
    pub(super) core: Weak<Core>,
    pub(super) kind: Arc<KindState>,
    pub(super) key: Key,
    pub(super) flight: Arc<Flight>,
    pub(super) entry: Encoded<T>,
    pub(super) stamp: Stamp,
    /// `None` once settled.
    pub(super) lease: Option<Lease>,
    pub(super) written: Option<Handle<bool>>,
    /// Whether the flight stays registered until this store settles (a deferred store).
    pub(super) holds_flight: bool,
    /// Found overtaken when its group's batch was built: not stored.
    pub(super) dropped: bool,
}

impl<T: CacheValue> Settling<T> {
    /// Stores it now, in a batch of its own.
    pub(super) async fn store_now(mut self, core: &Core) {
        let lease = self.lease.take().unwrap_or(Lease::Unavailable);
        let stored = lease.store(core, &self.kind, &self.key, &self.entry).await;
        self.finish_with(core, stored).await;
    }

    /// Whether the load was overtaken since it began: invalidated locally (kind and full
    /// clears included), or its kind cleared or a tag invalidated (its entry would be a miss
    /// anyway; storing it could only replace a newer one).
    pub(super) async fn overtaken(&self, core: &Core) -> bool {
        let recorded = (self.stamp.generation, self.stamp.tags.as_deref());
        self.flight.is_poisoned() || !self.kind.is_current(&core.versions, recorded).await
    }

    /// Fills L1 as `stored` allows. Only a store through our own lease proves that no
    /// invalidation of the key happened during the load. Without one, an invalidation may also
    /// have been missed while the bus resubscribed: then the key's epoch moved, and L1 is left
    /// alone. A value the backend does not hold (another instance stores, or the store failed)
    /// stays out of L1 where only client tracking would tell of the key's next change: the
    /// server pushes nothing when an absent key is deleted.
    async fn finish_with(mut self, core: &Core, stored: Stored) {
        let key = &self.key;
        let mode = core.backends.get(self.kind.backend).coherence();
        let heard =
            mode.hears_absent_keys() || !matches!(stored, Stored::Elsewhere | Stored::Failed);
        let proven = match &stored {
            Stored::Overtaken => {
                tracing::debug!(%key, "the key was invalidated during the load; not caching it");
                self.release_flight(core);
                return;
            }
            Stored::Failed => {
                tracing::debug!(%key, "could not cache a loaded value");
                false
            }
            Stored::Proven => true,
            Stored::Unproven | Stored::Elsewhere => false,
        };
        let flights = core.local.flights();
        let flight = &self.flight;
        let overtaken =
            || flight.is_poisoned() || (!proven && flights.epoch(key) != flight.epoch());
        let entry = &self.entry;
        if heard {
            core.local
                .put_unless(key, &entry.found, entry.weight(), overtaken)
                .await;
        }
        let in_l2 = !matches!(stored, Stored::Failed);
        crate::analytics::stored(core, &self.kind, key, &entry.found.meta, in_l2);
        self.kind.stats.sets(1);
        self.release_flight(core);
    }

    /// Lets later callers start their own load of the key (a deferred store held its flight).
    fn release_flight(&mut self, core: &Core) {
        if std::mem::take(&mut self.holds_flight) {
            core.local.flights().finish(&self.key, &self.flight);
        }
    }
}

impl<T: CacheValue> DeferredStore for Settling<T> {
    fn backend(&self) -> BackendId {
        self.kind.backend
    }

    fn add<'a>(&'a mut self, core: &'a Core, batch: &'a mut Batch) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if self.overtaken(core).await {
                self.dropped = true;
                return;
            }
            if let Some(lease) = &self.lease {
                self.written = lease.plan_store(core, &self.kind, &self.key, &self.entry, batch);
            }
        })
    }

    fn finish<'a>(
        mut self: Box<Self>,
        core: &'a Core,
        done: Option<&'a Results>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let lease = self.lease.take().unwrap_or(Lease::Unavailable);
            if self.dropped {
                // Overtaken before the batch: nothing stored; the lease goes back.
                lease.release(&self.kind.l2, &self.key).await;
                self.release_flight(core);
                return;
            }
            let stored = lease.stored(self.written, done);
            self.finish_with(core, stored).await;
        })
    }
}

impl<T> Drop for Settling<T> {
    fn drop(&mut self) {
        // Dropped unsettled (its group's owner was cancelled): its key must not stay "in
        // progress" with a value nobody stored.
        if self.holds_flight
            && let Some(core) = self.core.upgrade()
        {
            core.local.flights().finish(&self.key, &self.flight);
        }
    }
}
