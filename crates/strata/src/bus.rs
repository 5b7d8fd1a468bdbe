//! The invalidation bus as this instance uses it: publishing its changes, counting what went
//! over it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use strata_backend::batch::{Announce, Batch};
use strata_invalidation::{Bus, BusMessage, Invalidation};
use tokio::sync::watch;

use crate::l2::L2;

/// A snapshot of [`Admin::bus_stats`](crate::Admin::bus_stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct BusStats {
    /// Invalidations this instance published.
    pub published: u64,
    /// Publications that failed (the other instances converge through the L1 lifetime cap).
    pub publish_errors: u64,
    /// Other instances' invalidations applied to this L1.
    pub applied: u64,
    /// Full L1 flushes because messages may have been missed: at each subscription (the first
    /// included), when it drops, when this instance lagged behind.
    pub resets: u64,
    /// Whether the subscription is in place now (false without a bus).
    pub subscribed: bool,
}

/// The bus (if any), this instance's id on it, and its counters.
pub(crate) struct BusLink {
    bus: Option<Arc<dyn Bus>>,
    instance: u64,
    /// The bus's channel (the same name on every backend): a backend that publishes sends a
    /// change and its message in one round trip.
    channel: Option<String>,
    published: AtomicU64,
    publish_errors: AtomicU64,
    applied: AtomicU64,
    resets: AtomicU64,
    /// Whether the subscription is in place ([`Cache::ready`](crate::Cache::ready) waits on it).
    subscribed: watch::Sender<bool>,
}

impl BusLink {
    /// `bus`, this instance's id on it.
    pub(crate) fn new(bus: Option<Arc<dyn Bus>>, instance: u64) -> Self {
        let channel = bus.as_ref().and_then(|b| b.channel()).map(str::to_owned);
        Self {
            bus,
            instance,
            channel,
            published: AtomicU64::new(0),
            publish_errors: AtomicU64::new(0),
            applied: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            subscribed: watch::channel(false).0,
        }
    }

    /// The bus, if any.
    pub(crate) fn bus(&self) -> Option<&Arc<dyn Bus>> {
        self.bus.as_ref()
    }

    /// This instance's id (its messages carry it; it ignores its own).
    pub(crate) fn instance(&self) -> u64 {
        self.instance
    }

    /// Tells the other instances to drop `invalidation` from their L1 (no-op without a bus).
    /// Failures are counted and logged: the L1 lifetime cap still bounds staleness.
    pub(crate) async fn publish(&self, invalidation: Invalidation) {
        let Some(bus) = &self.bus else { return };
        let msg = BusMessage::new(self.instance, invalidation);
        match bus.publish(&msg).await {
            Ok(()) => {
                self.published.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.publish_errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %e, "could not publish an invalidation");
            }
        }
    }

    /// The bus's channel, when `backend` (the one a batch is for) can publish on it.
    fn through(&self, backend: &L2) -> Option<&String> {
        self.channel
            .as_ref()
            .filter(|_| backend.capabilities().publish)
    }

    /// Adds to `batch` (for `backend`) the step that publishes `invalidation` through the
    /// backend, when it publishes (then true).
    pub(crate) fn publish_into(
        &self,
        batch: &mut Batch,
        backend: &L2,
        invalidation: &Invalidation,
    ) -> bool {
        let Some(channel) = self.through(backend) else {
            return false;
        };
        let message = BusMessage::new(self.instance, invalidation.clone()).encode();
        let _ = batch.publish(channel.clone(), message.into());
        true
    }

    /// A message whose value is known only in `backend` (a counter's new value, the keys of
    /// a family), published there (when it publishes): `template` gives the message's shape.
    pub(crate) fn announce(&self, backend: &L2, template: Invalidation) -> Option<Announce> {
        let channel = self.through(backend)?;
        let (before, after) = BusMessage::split_around_value(self.instance, template)?;
        Some(Announce::new(channel.clone(), before, after))
    }

    /// Counts `n` messages the backend published with a change.
    pub(crate) fn count_published(&self, n: u64) {
        self.published.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` messages that could not go out with their change.
    pub(crate) fn count_publish_errors(&self, n: u64) {
        self.publish_errors.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts another instance's invalidation applied here.
    pub(crate) fn count_applied(&self) {
        self.applied.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a flush after the subscription dropped or lagged.
    /// A flush for messages that may have been missed; `subscribed` says whether the
    /// subscription is in place after it.
    pub(crate) fn count_reset(&self, subscribed: bool) {
        self.resets.fetch_add(1, Ordering::Relaxed);
        self.subscribed.send_replace(subscribed);
    }

    /// What went over the bus.
    pub(crate) fn stats(&self) -> BusStats {
        BusStats {
            published: self.published.load(Ordering::Relaxed),
            publish_errors: self.publish_errors.load(Ordering::Relaxed),
            applied: self.applied.load(Ordering::Relaxed),
            resets: self.resets.load(Ordering::Relaxed),
            subscribed: *self.subscribed.borrow(),
        }
    }
}
