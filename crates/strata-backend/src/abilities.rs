//! Abilities a backend may have beyond the core operations, each a trait of its own that the
//! backend exposes through an `as_*` method of [`Backend`](crate::Backend).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::BackendResult;
use crate::types::ScanPage;

/// Load leases: stale-set protection and cross-process single flight.
///
/// A lease makes a load safe against concurrent invalidation: `set`, `set_many`, `delete` and
/// `delete_many` of a key also drop its lease, so a load that began before an invalidation
/// cannot store its (older) value afterwards through [`set_under_lease`](Self::set_under_lease).
/// Other processes seeing a held lease can wait for the holder's value. Where the lease lives is
/// the backend's choice (Redis: beside the entries, outside their prefix).
#[async_trait]
pub trait Leases: Send + Sync {
    /// Takes the load lease of `key` for `ttl` if nobody holds it; true if taken.
    async fn acquire_lease(&self, key: &str, token: &str, ttl: Duration) -> BackendResult<bool>;

    /// Stores `value` only if `token` still holds the lease of `key` (nothing invalidated the
    /// key since it was acquired), and releases the lease; true if stored. Atomic.
    async fn set_under_lease(
        &self,
        key: &str,
        token: &str,
        value: Bytes,
        ttl: Duration,
    ) -> BackendResult<bool>;

    /// Gives the lease of `key` up if `token` holds it (after a failed load).
    async fn release_lease(&self, key: &str, token: &str) -> BackendResult<()>;
}

/// Version counters: O(1) invalidation of kinds and tags.
///
/// Entries record the versions they were written under and become misses once a version moves
/// on. Callers pass a clock-based initial value so that a counter that was lost (evicted,
/// expired, cleared) comes back with a value no entry recorded.
#[async_trait]
pub trait VersionCounters: Send + Sync {
    /// The current values of the counters under `keys`, in order. A missing counter is created
    /// with the value `init` (atomically: concurrent callers agree on one value) and `ttl`
    /// (`None`: no expiry).
    async fn versions(
        &self,
        keys: &[&str],
        init: u64,
        ttl: Option<Duration>,
    ) -> BackendResult<Vec<u64>>;

    /// Moves the counter under `key` on to `max(current + 1, at_least)` (a missing counter
    /// counts as 0), sets its `ttl` (`None`: no expiry) and returns the new value. Atomic.
    async fn bump_version(
        &self,
        key: &str,
        at_least: u64,
        ttl: Option<Duration>,
    ) -> BackendResult<u64>;

    /// The backend's own count of changes to its counters, when every change is made through
    /// this process and counted before it is visible ([`CounterChanges`]): a cache may then
    /// trust the counter values it read while the count has not moved, without a coherence
    /// channel. `None` (the default) for a backend another process can write to (a server), or
    /// one that does not count.
    fn local_changes(&self) -> Option<CounterChanges> {
        None
    }
}

/// A count that moves on with every change to a backend's version counters: a bump, a counter
/// created, expired or removed, by any writer (every handle and every cache sharing the
/// backend). Shared by clones; reading it is one atomic load.
///
/// Only a backend whose every change is made in this process can keep one
/// ([`VersionCounters::local_changes`]): the embedded [`MemoryBackend`](crate::MemoryBackend).
#[derive(Debug, Clone, Default)]
pub struct CounterChanges(Arc<AtomicU64>);

impl CounterChanges {
    /// A count at 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The changes counted so far.
    #[inline]
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Counts one change; call it before the change can be seen (under the lock that makes it).
    pub fn record(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// Walking the keys under a prefix, and removing what was seen only if it is unchanged.
#[async_trait]
pub trait Listing: Send + Sync {
    /// One page of the keys that start with `prefix`. Start with `cursor = None` and pass each
    /// page's `next` until it is `None`. Keys written during a scan may or may not appear.
    async fn scan(
        &self,
        prefix: &str,
        cursor: Option<String>,
        count: usize,
    ) -> BackendResult<ScanPage>;

    /// Removes `key` only if it still holds exactly `expected` (atomically); true if removed.
    ///
    /// Used to drop an undecodable entry, or one a purge read, without racing a writer that
    /// replaced it.
    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> BackendResult<bool>;
}

/// What the server spends on a key.
#[async_trait]
pub trait MemoryUsage: Send + Sync {
    /// Bytes the server spends on `key` (Redis `MEMORY USAGE`), `None` when absent.
    async fn memory_usage(&self, key: &str) -> BackendResult<Option<u64>>;
}

/// Publishing on a pub/sub channel of the backend's server (the invalidation bus's channel),
/// so that a change and its bus message travel together.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes `message` on `channel`.
    async fn publish(&self, channel: &str, message: &[u8]) -> BackendResult<()>;
}
