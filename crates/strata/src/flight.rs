//! Single-flight: one load per key at a time inside the process; others wait for its outcome.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use strata_keys::Key;
use tokio::sync::OnceCell;

use crate::error::Error;

/// A loaded value, type-erased (`None`: the loader answered "absent").
pub(crate) type ErasedValue = Option<Arc<dyn Any + Send + Sync>>;

/// How a load ended, shared by every waiter.
#[derive(Clone)]
pub(crate) enum FlightError {
    Loader(Arc<dyn Any + Send + Sync>),
    Timeout(Duration),
    Cache(Error),
}

pub(crate) type FlightOutcome = Result<ErasedValue, FlightError>;

/// One load in progress. If its leader is cancelled, the next waiter takes over (OnceCell).
pub(crate) struct Flight {
    pub(crate) cell: OnceCell<FlightOutcome>,
    /// Set when the key is invalidated during the load: its value must not be installed.
    poisoned: AtomicBool,
    /// The key's invalidation epoch when the flight began.
    epoch: Epoch,
    /// Set when its value is loaded but stored later, with its load group: the flight stays
    /// registered (joiners get its value) until that store settles.
    settling: AtomicBool,
}

impl Flight {
    /// The key's invalidation epoch when the flight began: a load not proven fresh by its own
    /// lease fills L1 only if the epoch has not moved since.
    pub(crate) fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// Whether the key was invalidated since this load began.
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Keeps the flight registered after its leader returns, until
    /// [`Flights::finish`] (its store is settled with its load group).
    pub(crate) fn hold_until_settled(&self) {
        self.settling.store(true, Ordering::Release);
    }

    fn poison(&self) {
        self.poisoned.store(true, Ordering::Release);
    }
}

/// Stripes of the per-key invalidation epochs.
const STRIPES: usize = 1024;

/// The loads in progress, by key, and invalidation epochs: a read of L2 that started before an
/// invalidation of its key must not fill L1 after it.
pub(crate) struct Flights {
    map: Mutex<HashMap<Key, Arc<Flight>>>,
    stripes: Box<[AtomicU64]>,
    global: AtomicU64,
}

impl Default for Flights {
    fn default() -> Self {
        Self {
            map: Mutex::default(),
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            global: AtomicU64::new(0),
        }
    }
}

/// The invalidation epoch of a key at some moment: compare two to know whether the key (or
/// everything, or a prefix) was invalidated in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Epoch(u64, u64);

impl Flights {
    /// The flight for `key`, joined or started.
    pub(crate) fn join(&self, key: &Key) -> Arc<Flight> {
        let epoch = self.epoch(key);
        self.map
            .lock()
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(Flight {
                    cell: OnceCell::new(),
                    poisoned: AtomicBool::new(false),
                    epoch,
                    settling: AtomicBool::new(false),
                })
            })
            .clone()
    }

    /// A new flight for `key`, or `None` when one is in progress (a background refresh starts
    /// only its own).
    pub(crate) fn join_new(&self, key: &Key) -> Option<Arc<Flight>> {
        let epoch = self.epoch(key);
        let mut map = self.map.lock();
        if map.contains_key(key) {
            return None;
        }
        let flight = Arc::new(Flight {
            cell: OnceCell::new(),
            poisoned: AtomicBool::new(false),
            epoch,
            settling: AtomicBool::new(false),
        });
        map.insert(key.clone(), flight.clone());
        Some(flight)
    }

    /// Whether a load of `key` is in progress.
    pub(crate) fn in_progress(&self, key: &Key) -> bool {
        self.map.lock().contains_key(key)
    }

    fn stripe(&self, key: &str) -> &AtomicU64 {
        // FNV-1a: a stripe shared by two keys only makes an L1 fill give way needlessly, so a
        // cheap hash does (SipHash cost more than the rest of the epoch).
        let h = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        &self.stripes[(h as usize) % STRIPES]
    }

    /// The current invalidation epoch of `key`.
    pub(crate) fn epoch(&self, key: &str) -> Epoch {
        Epoch(
            self.stripe(key).load(Ordering::Acquire),
            self.global.load(Ordering::Acquire),
        )
    }

    /// Marks the load of `key` (if any) as overtaken by an invalidation, and lets later callers
    /// start a fresh load instead of joining it.
    pub(crate) fn poison(&self, key: &str) {
        self.stripe(key).fetch_add(1, Ordering::AcqRel);
        if let Some(f) = self.map.lock().remove(key) {
            f.poison();
        }
    }

    /// [`poison`](Self::poison) for every key starting with `prefix`.
    pub(crate) fn poison_prefix(&self, prefix: &str) {
        self.global.fetch_add(1, Ordering::AcqRel);
        self.map.lock().retain(|k, f| {
            let hit = k.as_str().starts_with(prefix);
            if hit {
                f.poison();
            }
            !hit
        });
    }

    /// [`poison`](Self::poison) for every key.
    pub(crate) fn poison_all(&self) {
        self.global.fetch_add(1, Ordering::AcqRel);
        for (_, f) in self.map.lock().drain() {
            f.poison();
        }
    }

    /// After messages may have been missed: drops the L1 fills of every L2 read in progress.
    /// Loads in flight go on: their leases guard their stores (poisoning them here would make
    /// every instance that just subscribed load again).
    pub(crate) fn forget_reads(&self) {
        self.global.fetch_add(1, Ordering::AcqRel);
    }

    /// Forgets `flight` (only if it is still the one registered for `key`).
    pub(crate) fn finish(&self, key: &Key, flight: &Arc<Flight>) {
        let mut map = self.map.lock();
        if map.get(key).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            map.remove(key);
        }
    }

    /// Forgets `flight` when the returned guard drops (only if it is still the one registered
    /// for `key`): when its leader finishes, and also when the leader is cancelled, so that a
    /// key is never left "in progress" by a load that nobody runs.
    pub(crate) fn finish_on_drop<'a>(
        &'a self,
        key: &'a Key,
        flight: &'a Arc<Flight>,
    ) -> Finish<'a> {
        Finish {
            flights: self,
            key,
            flight,
        }
    }
}

/// Forgets a flight when dropped (see [`Flights::finish_on_drop`]).
pub(crate) struct Finish<'a> {
    flights: &'a Flights,
    key: &'a Key,
    flight: &'a Arc<Flight>,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        if !self.flight.settling.load(Ordering::Acquire) {
            self.flights.finish(self.key, self.flight);
        }
    }
}
