//! The `Backend` trait: the second tier's byte store.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::{BackendError, BackendResult};
use crate::types::{BackendInfo, Capabilities, KeyTtl, ScanPage, SetEntry};

/// A store of bytes under string keys with per-entry TTLs: the cache's second tier.
///
/// Object safe, `Send + Sync`, usable as `Arc<dyn Backend>`. Implementations validate input
/// (see [`check_set`](crate::check_set)) before any I/O, and scope [`clear`](Self::clear) to
/// their own [`namespace`](Self::namespace). Every implementation must pass
/// `strata_testkit::conformance`.
///
/// The batch operations have default implementations in terms of the single ones; backends
/// override them with real batching (MGET, pipelines).
#[async_trait]
pub trait Backend: Debug + Send + Sync + 'static {
    /// A short name ("memory", "redis").
    fn name(&self) -> &'static str;

    /// The key prefix this backend owns; `clear` removes exactly the keys that start with it.
    fn namespace(&self) -> &str;

    /// What this backend supports beyond the required operations.
    fn capabilities(&self) -> Capabilities;

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
    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> BackendResult<()>;

    /// Stores several entries. On error some entries may have been written.
    async fn set_many(&self, entries: Vec<SetEntry>) -> BackendResult<()> {
        for e in entries {
            self.set(&e.key, e.value, e.ttl).await?;
        }
        Ok(())
    }

    /// Removes `key`; true if it existed.
    async fn delete(&self, key: &str) -> BackendResult<bool>;

    /// Removes several keys; returns how many existed.
    async fn delete_many(&self, keys: &[&str]) -> BackendResult<u64> {
        let mut n = 0;
        for key in keys {
            n += u64::from(self.delete(key).await?);
        }
        Ok(n)
    }

    /// Removes `key` only if it still holds exactly `expected` (atomically); true if removed.
    ///
    /// Used to drop an undecodable entry without racing a writer that replaced it.
    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> BackendResult<bool> {
        let _ = (key, expected);
        Err(BackendError::unsupported(self.name(), "delete_if_equals"))
    }

    /// Takes the load lease of `key` for `ttl` if nobody holds it; true if taken.
    ///
    /// Leases make loads safe against concurrent invalidation: `set`, `set_many`, `delete` and
    /// `delete_many` of a key also drop its lease, so a load that began before an invalidation
    /// cannot store its (older) value afterwards through [`set_under_lease`](Self::set_under_lease).
    /// Other processes seeing a held lease can wait for the holder's value (cross-process single
    /// flight). The lease lives under [`lease_key`](crate::lease_key)`(key)`.
    async fn acquire_lease(&self, key: &str, token: &str, ttl: Duration) -> BackendResult<bool> {
        let _ = (key, token, ttl);
        Err(BackendError::unsupported(self.name(), "acquire_lease"))
    }

    /// Stores `value` only if `token` still holds the lease of `key` (nothing invalidated the
    /// key since it was acquired), and releases the lease; true if stored. Atomic.
    async fn set_under_lease(
        &self,
        key: &str,
        token: &str,
        value: Bytes,
        ttl: Duration,
    ) -> BackendResult<bool> {
        let _ = (key, token, value, ttl);
        Err(BackendError::unsupported(self.name(), "set_under_lease"))
    }

    /// Gives the lease of `key` up if `token` holds it (after a failed load).
    async fn release_lease(&self, key: &str, token: &str) -> BackendResult<()> {
        let _ = (key, token);
        Err(BackendError::unsupported(self.name(), "release_lease"))
    }

    /// The current values of the version counters under `keys`, in order. A missing counter
    /// is created with the value `init` (atomically: concurrent callers agree on one value) and
    /// `ttl` (`None`: no expiry).
    ///
    /// Version counters back O(1) invalidation of kinds and tags: entries record the versions
    /// they were written under and become misses once a version moves on. Callers pass a
    /// clock-based `init` so a counter that was lost (evicted, expired, cleared) comes back
    /// with a value no entry recorded.
    async fn versions(
        &self,
        keys: &[&str],
        init: u64,
        ttl: Option<Duration>,
    ) -> BackendResult<Vec<u64>> {
        let _ = (keys, init, ttl);
        Err(BackendError::unsupported(self.name(), "versions"))
    }

    /// Moves the version counter under `key` on to `max(current + 1, at_least)` (a missing
    /// counter counts as 0), sets its `ttl` (`None`: no expiry) and returns the new value.
    /// Atomic.
    async fn bump_version(
        &self,
        key: &str,
        at_least: u64,
        ttl: Option<Duration>,
    ) -> BackendResult<u64> {
        let _ = (key, at_least, ttl);
        Err(BackendError::unsupported(self.name(), "bump_version"))
    }

    /// Removes every key in this backend's namespace, and nothing else; returns how many.
    ///
    /// Never flushes the whole server and never blocks it (Redis: SCAN + UNLINK in batches).
    async fn clear(&self) -> BackendResult<u64>;

    /// One page of the keys that start with `prefix`. Start with `cursor = None` and pass each
    /// page's `next` until it is `None`. Keys written during a scan may or may not appear.
    async fn scan(
        &self,
        prefix: &str,
        cursor: Option<String>,
        count: usize,
    ) -> BackendResult<ScanPage> {
        let _ = (prefix, cursor, count);
        Err(BackendError::unsupported(self.name(), "scan"))
    }

    /// Bytes the server spends on `key` (Redis `MEMORY USAGE`), `None` when absent. Optional:
    /// backends that cannot tell answer [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported).
    async fn memory_usage(&self, key: &str) -> BackendResult<Option<u64>> {
        let _ = key;
        Err(BackendError::unsupported(self.name(), "memory_usage"))
    }

    /// The remaining lifetime of `key`.
    async fn ttl(&self, key: &str) -> BackendResult<KeyTtl>;

    /// Checks that the backend answers; returns the round-trip time.
    async fn ping(&self) -> BackendResult<Duration>;

    /// Sizes, limits and server details.
    async fn info(&self) -> BackendResult<BackendInfo>;
}
