//! The `Backend` trait: the second tier's byte store.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::abilities::{Leases, Listing, MemoryUsage, Publisher, VersionCounters};
use crate::batch::{Batch, Done, Results, Step};
use crate::capabilities::Capabilities;
use crate::error::BackendResult;
use crate::types::{BackendInfo, KeyTtl, SetEntry};

/// A store of bytes under string keys with per-entry TTLs: the cache's second tier.
///
/// Object safe, `Send + Sync`, usable as `Arc<dyn Backend>`. Implementations validate input
/// (see [`check_set`](crate::check_set)) before any I/O, and scope [`clear`](Self::clear) to
/// their own [`namespace`](Self::namespace). Every implementation must pass
/// `strata_testkit::conformance`.
///
/// The required operations are few; the batch operations have default implementations in terms
/// of the single ones, which backends override with real batching (MGET, pipelines). What a
/// backend can do beyond them is an *ability*, a trait of its own that the backend exposes
/// through an `as_*` method ([`as_leases`](Self::as_leases), ...): callers ask, and a backend
/// without the ability answers `None`.
#[async_trait]
pub trait Backend: Debug + Send + Sync + 'static {
    /// A short name ("memory", "redis").
    fn name(&self) -> &'static str;

    /// The key prefix this backend owns; `clear` removes exactly the keys that start with it.
    fn namespace(&self) -> &str;

    /// What the backend can do beyond reading and writing entries: its abilities (each reached
    /// through its `as_*` method) and whether it bounds its own operations in time. The default
    /// derives the abilities from the `as_*` methods and says unbounded.
    fn capabilities(&self) -> Capabilities {
        Capabilities::of(self)
    }

    /// The bytes under `key`, or `None` when absent or expired.
    async fn get(&self, key: &str) -> BackendResult<Option<Bytes>>;

    /// The bytes under each key, in order.
    async fn get_many(&self, keys: &[&str]) -> BackendResult<Vec<Option<Bytes>>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.get(key).await?);
        }
        Ok(out)
    }

    /// Stores `value` under `key` for `ttl` (at least 1 ms), replacing any previous value.
    ///
    /// With [`Leases`], a write also drops the key's load lease: it supersedes any load in
    /// flight.
    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> BackendResult<()>;

    /// Stores several entries. On error some entries may have been written.
    async fn set_many(&self, entries: Vec<SetEntry>) -> BackendResult<()> {
        for e in entries {
            self.set(&e.key, e.value, e.ttl).await?;
        }
        Ok(())
    }

    /// Removes `key` (and, with [`Leases`], its load lease); true if it existed.
    async fn delete(&self, key: &str) -> BackendResult<bool>;

    /// Removes several keys; returns how many existed.
    async fn delete_many(&self, keys: &[&str]) -> BackendResult<u64> {
        let mut n = 0;
        for key in keys {
            n += u64::from(self.delete(key).await?);
        }
        Ok(n)
    }

    /// Runs `steps` and answers one [`Done`] per step, in order (see [`crate::batch`]). The
    /// default runs them one by one through this trait and the abilities; backends behind a
    /// network override it to send them in one round trip. A step that needs an ability the
    /// backend lacks fails the batch with [`ErrorKind::Unsupported`](crate::ErrorKind).
    async fn batch(&self, steps: Vec<Step>) -> BackendResult<Vec<Done>> {
        crate::batch::run_one_by_one(self, steps).await
    }

    /// Runs a typed [`Batch`] (through [`batch`](Self::batch)); each step's result is read from
    /// the [`Results`] with the handle the batch answered when the step was added.
    async fn run(&self, batch: Batch) -> BackendResult<Results> {
        let steps = batch.into_steps();
        let n = steps.len();
        if n == 0 {
            return Ok(Results::default());
        }
        Results::checked(n, self.batch(steps).await?)
    }

    /// Removes every key in this backend's namespace, and nothing else; returns how many.
    ///
    /// Never flushes the whole server and never blocks it (Redis: SCAN + UNLINK in batches).
    async fn clear(&self) -> BackendResult<u64>;

    /// The remaining lifetime of `key`.
    async fn ttl(&self, key: &str) -> BackendResult<KeyTtl>;

    /// Checks that the backend answers; returns the round-trip time.
    async fn ping(&self) -> BackendResult<Duration>;

    /// Sizes, limits and server details.
    async fn info(&self) -> BackendResult<BackendInfo>;

    /// Load leases (stale-set protection, cross-process single flight), if the backend has them.
    fn as_leases(&self) -> Option<&dyn Leases> {
        None
    }

    /// Version counters (O(1) invalidation of kinds and tags), if the backend has them.
    fn as_version_counters(&self) -> Option<&dyn VersionCounters> {
        None
    }

    /// Walking keys by prefix and compare-and-delete, if the backend can.
    fn as_listing(&self) -> Option<&dyn Listing> {
        None
    }

    /// What the server spends on a key, if the backend can tell.
    fn as_memory_usage(&self) -> Option<&dyn MemoryUsage> {
        None
    }

    /// Publishing on the server's pub/sub channels, if the backend can.
    fn as_publisher(&self) -> Option<&dyn Publisher> {
        None
    }
}
