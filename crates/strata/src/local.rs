//! What this process holds: the in-process tier (L1) and the loads in flight, kept in step so
//! that an invalidation wins over a read or a load that started before it.

use std::time::Duration;

use strata_backend::Clock;
use strata_keys::{Key, KindKeys};
use strata_l1::{L1, L1Entry};

use crate::pools::L1Pools;

use crate::entry::Found;
use crate::flight::{Epoch, Flights};
use crate::forget::{ForgetHook, Forgot};

/// The L1 tier (when enabled: its default pool and the kinds' partitions) and the
/// single-flight table with its invalidation epochs.
pub(crate) struct Local {
    l1: L1Pools,
    flights: Flights,
    clock: Clock,
    /// How long past its logical expiry an entry may still be served stale (fail-safe).
    max_stale: Duration,
    /// Told of each invalidation (the analytics' miss causes).
    on_forget: Option<ForgetHook>,
}

impl Local {
    pub(crate) fn new(l1: L1Pools, clock: Clock, max_stale: Duration) -> Self {
        Self {
            l1,
            flights: Flights::default(),
            clock,
            max_stale,
            on_forget: None,
        }
    }

    /// Tells `hook` of each invalidation.
    pub(crate) fn with_forget_hook(mut self, hook: Option<ForgetHook>) -> Self {
        self.on_forget = hook;
        self
    }

    fn told(&self, what: Forgot<'_>) {
        if let Some(hook) = &self.on_forget {
            hook(what);
        }
    }

    /// How long L1 may keep an entry that expires logically at `expires_at_ms`: until its
    /// physical expiry (logical expiry + max stale), from now.
    fn keep_for(&self, expires_at_ms: u64) -> Duration {
        let stale_ms = u64::try_from(self.max_stale.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(
            expires_at_ms
                .saturating_add(stale_ms)
                .saturating_sub(self.clock.now_ms()),
        )
    }

    /// The in-process tier's default pool, when enabled.
    pub(crate) fn l1(&self) -> Option<&L1> {
        self.l1.default_pool()
    }

    /// The in-process tier's stores: the default pool and the kinds' partitions.
    pub(crate) fn pools(&self) -> &L1Pools {
        &self.l1
    }

    /// The loads in flight and the invalidation epochs.
    pub(crate) fn flights(&self) -> &Flights {
        &self.flights
    }

    /// Puts a value in L1 until its physical expiry (a memory bound; freshness is decided on
    /// read), charged `weight` bytes: what the decoded value holds
    /// (`strata_codec::decoded_size`), not its compressed envelope.
    pub(crate) async fn put<T: Send + Sync + 'static>(
        &self,
        key: &Key,
        found: &Found<T>,
        weight: usize,
    ) {
        let Some(l1) = self.l1.of_key(key) else {
            return;
        };
        let keep_for = self.keep_for(found.meta.expires_at_ms);
        if keep_for.is_zero() {
            return;
        }
        let entry = L1Entry::new(found.value.clone(), found.meta, weight, keep_for)
            .with_tags(found.tags.clone())
            .with_verified_at(self.clock.now_ms())
            .with_key_hash(strata_stats::mrc::sample_hash(key.as_str()));
        l1.insert(key.clone(), entry).await;
    }

    /// [`put`](Self::put) unless `overtaken()` says the key was invalidated since the value was
    /// read; asked again after the insert, so an invalidation racing the insert still wins.
    pub(crate) async fn put_unless<T: Send + Sync + 'static>(
        &self,
        key: &Key,
        found: &Found<T>,
        weight: usize,
        overtaken: impl Fn() -> bool,
    ) {
        if overtaken() {
            return;
        }
        self.put(key, found, weight).await;
        if overtaken() {
            self.remove(key).await;
        }
    }

    /// [`put`](Self::put) unless the key was invalidated since `epoch` (taken before the read).
    pub(crate) async fn put_if_unchanged<T: Send + Sync + 'static>(
        &self,
        key: &Key,
        found: &Found<T>,
        weight: usize,
        epoch: Epoch,
    ) {
        if self.l1.of_key(key).is_none() {
            return;
        }
        let overtaken = || self.flights.epoch(key) != epoch;
        self.put_unless(key, found, weight, overtaken).await;
    }

    /// Drops `key` from L1 (only L1: loads in flight go on).
    pub(crate) async fn remove(&self, key: &Key) {
        if let Some(l1) = self.l1.of_key(key) {
            l1.remove(key).await;
        }
    }

    /// Drops `key` from L1 and marks its load and L2 reads in progress as overtaken.
    ///
    /// Every local change runs it twice: before the backend change (so no caller joins a load
    /// that is about to be stale) and after it (so a read that fetched the old bytes between
    /// the two cannot fill L1 with them once the first pass is over).
    pub(crate) async fn forget(&self, key: &str) {
        self.told(Forgot::Key(key));
        self.flights.poison(key);
        if let Some(l1) = self.l1.of_key(key) {
            l1.remove_str(key).await;
        }
    }

    /// [`forget`](Self::forget) for every key starting with `prefix`.
    pub(crate) fn forget_prefix(&self, prefix: &str) {
        self.told(Forgot::All);
        self.flights.poison_prefix(prefix);
        for l1 in self.l1.all() {
            l1.remove_prefix(prefix);
        }
    }

    /// Forgets the keys under `prefix`, all of `kind`: only the kind's store is swept.
    fn forget_under(&self, kind: &str, prefix: &str) {
        self.flights.poison_prefix(prefix);
        if let Some(l1) = self.l1.of_kind(kind) {
            l1.remove_prefix(prefix);
        }
    }

    /// [`forget`](Self::forget) for every key of a kind (its plain and hash-tagged names).
    pub(crate) fn forget_kind(&self, keys: &KindKeys) {
        let plain = keys.kind_namespace();
        let tagged = keys.clone().with_hash_tag(true).kind_namespace();
        self.told(Forgot::Kind(keys.kind()));
        self.forget_under(keys.kind(), &plain);
        if tagged != plain {
            self.forget_under(keys.kind(), &tagged);
        }
    }

    /// [`forget`](Self::forget) for every key.
    pub(crate) fn forget_all(&self) {
        self.told(Forgot::All);
        self.flights.poison_all();
        for l1 in self.l1.all() {
            l1.clear();
        }
    }

    /// After messages may have been missed: drops L1 and the L1 fills of every L2 read in
    /// progress (loads in flight go on: their leases guard their stores).
    pub(crate) fn forget_reads(&self) {
        self.told(Forgot::L1);
        self.flights.forget_reads();
        for l1 in self.l1.all() {
            l1.clear();
        }
    }
}
