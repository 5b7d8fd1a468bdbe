//! Layers: behaviour written once around every operation of any backend (a timeout, a circuit
//! breaker, injected faults), the way tower's layers wrap a service.

mod breaker;
mod rate;
mod timeout;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

pub use breaker::{BreakerState, CircuitBreaker, LastError};
pub use timeout::Timeout;

use crate::abilities::{CounterChanges, Leases, Listing, MemoryUsage, Publisher, VersionCounters};
use crate::backend::Backend;
use crate::batch::{Done, Step};
use crate::capabilities::Capabilities;
use crate::error::{BackendError, BackendResult};
use crate::operation::Operation;
use crate::types::{BackendInfo, KeyTtl, ScanPage, SetEntry};

/// What a layer does around each call of the backend it wraps.
pub trait Wrap: std::fmt::Debug + Send + Sync + 'static {
    /// Runs `call` of the wrapped backend, which performs `ops` (one operation, or the steps of
    /// a batch), and returns its result: a layer may time it, refuse it, delay it or replace
    /// its result.
    fn around<T: Send>(
        &self,
        ops: &[Operation],
        call: impl Future<Output = BackendResult<T>> + Send,
    ) -> impl Future<Output = BackendResult<T>> + Send;

    /// The layered backend's capabilities, given the wrapped one's (`inner`); a timeout makes
    /// it bounded, injected latency unbounded. Default: as the wrapped one.
    fn capabilities(&self, inner: Capabilities) -> Capabilities {
        inner
    }
}

/// A backend wrapped in a [`Wrap`]: every operation, the abilities' included, goes through it.
/// The abilities are those of the wrapped backend.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use strata_backend::{Backend, Layered, MemoryBackend, MemoryConfig, Timeout};
///
/// let memory = Arc::new(MemoryBackend::new(MemoryConfig::default()).unwrap());
/// let backend = Layered::new(memory, Timeout::new(Duration::from_millis(250)));
/// assert!(backend.get("strata:k").await.unwrap().is_none());
/// assert!(backend.as_leases().is_some(), "the memory backend's leases show through");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Layered<W> {
    inner: Arc<dyn Backend>,
    wrap: W,
}

impl<W: Wrap> Layered<W> {
    /// `inner` wrapped in `wrap`.
    pub fn new(inner: Arc<dyn Backend>, wrap: W) -> Self {
        Self { inner, wrap }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &Arc<dyn Backend> {
        &self.inner
    }

    /// The layer.
    pub fn wrap(&self) -> &W {
        &self.wrap
    }

    fn ability<'a, A: ?Sized>(
        &self,
        ability: Option<&'a A>,
        op: Operation,
    ) -> BackendResult<&'a A> {
        ability.ok_or_else(|| BackendError::unsupported(self.inner.name(), op.as_str()))
    }
}

/// Stacking layers on a backend: `backend.layer(Timeout::new(..)).layer(breaker)`, the first
/// layer innermost.
pub trait LayerExt {
    /// This backend wrapped in `wrap`.
    fn layer<W: Wrap>(self, wrap: W) -> Arc<dyn Backend>;
}

impl LayerExt for Arc<dyn Backend> {
    fn layer<W: Wrap>(self, wrap: W) -> Arc<dyn Backend> {
        Arc::new(Layered::new(self, wrap))
    }
}

#[async_trait]
impl<W: Wrap> Backend for Layered<W> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn namespace(&self) -> &str {
        self.inner.namespace()
    }

    fn capabilities(&self) -> Capabilities {
        self.wrap.capabilities(self.inner.capabilities())
    }

    async fn get(&self, key: &str) -> BackendResult<Option<Bytes>> {
        self.wrap
            .around(&[Operation::Get], self.inner.get(key))
            .await
    }

    async fn get_many(&self, keys: &[&str]) -> BackendResult<Vec<Option<Bytes>>> {
        let call = self.inner.get_many(keys);
        self.wrap.around(&[Operation::GetMany], call).await
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> BackendResult<()> {
        let call = self.inner.set(key, value, ttl);
        self.wrap.around(&[Operation::Set], call).await
    }

    async fn set_many(&self, entries: Vec<SetEntry>) -> BackendResult<()> {
        let call = self.inner.set_many(entries);
        self.wrap.around(&[Operation::SetMany], call).await
    }

    async fn delete(&self, key: &str) -> BackendResult<bool> {
        self.wrap
            .around(&[Operation::Delete], self.inner.delete(key))
            .await
    }

    async fn delete_many(&self, keys: &[&str]) -> BackendResult<u64> {
        let call = self.inner.delete_many(keys);
        self.wrap.around(&[Operation::DeleteMany], call).await
    }

    async fn clear(&self) -> BackendResult<u64> {
        self.wrap
            .around(&[Operation::Clear], self.inner.clear())
            .await
    }

    async fn ttl(&self, key: &str) -> BackendResult<KeyTtl> {
        self.wrap
            .around(&[Operation::Ttl], self.inner.ttl(key))
            .await
    }

    async fn ping(&self) -> BackendResult<Duration> {
        self.wrap
            .around(&[Operation::Ping], self.inner.ping())
            .await
    }

    async fn info(&self) -> BackendResult<BackendInfo> {
        self.wrap
            .around(&[Operation::Info], self.inner.info())
            .await
    }

    async fn batch(&self, steps: Vec<Step>) -> BackendResult<Vec<Done>> {
        // One step (an L2 hit, say) names its operations without a list of its own.
        if let [one] = steps.as_slice() {
            let ops = one.operations();
            return self.wrap.around(ops, self.inner.batch(steps)).await;
        }
        let ops: Vec<Operation> = steps
            .iter()
            .flat_map(|s| s.operations().iter().copied())
            .collect();
        self.wrap.around(&ops, self.inner.batch(steps)).await
    }

    fn as_leases(&self) -> Option<&dyn Leases> {
        self.inner.as_leases().map(|_| self as &dyn Leases)
    }

    fn as_version_counters(&self) -> Option<&dyn VersionCounters> {
        self.inner
            .as_version_counters()
            .map(|_| self as &dyn VersionCounters)
    }

    fn as_listing(&self) -> Option<&dyn Listing> {
        self.inner.as_listing().map(|_| self as &dyn Listing)
    }

    fn as_memory_usage(&self) -> Option<&dyn MemoryUsage> {
        self.inner
            .as_memory_usage()
            .map(|_| self as &dyn MemoryUsage)
    }

    fn as_publisher(&self) -> Option<&dyn Publisher> {
        self.inner.as_publisher().map(|_| self as &dyn Publisher)
    }
}

#[async_trait]
impl<W: Wrap> Publisher for Layered<W> {
    async fn publish(&self, channel: &str, message: &[u8]) -> BackendResult<()> {
        let op = Operation::Publish;
        let publisher = self.ability(self.inner.as_publisher(), op)?;
        self.wrap
            .around(&[op], publisher.publish(channel, message))
            .await
    }
}

#[async_trait]
impl<W: Wrap> Leases for Layered<W> {
    async fn acquire_lease(&self, key: &str, token: &str, ttl: Duration) -> BackendResult<bool> {
        let op = Operation::AcquireLease;
        let leases = self.ability(self.inner.as_leases(), op)?;
        let call = leases.acquire_lease(key, token, ttl);
        self.wrap.around(&[op], call).await
    }

    async fn set_under_lease(
        &self,
        key: &str,
        token: &str,
        value: Bytes,
        ttl: Duration,
    ) -> BackendResult<bool> {
        let op = Operation::SetUnderLease;
        let leases = self.ability(self.inner.as_leases(), op)?;
        let call = leases.set_under_lease(key, token, value, ttl);
        self.wrap.around(&[op], call).await
    }

    async fn release_lease(&self, key: &str, token: &str) -> BackendResult<()> {
        let op = Operation::ReleaseLease;
        let leases = self.ability(self.inner.as_leases(), op)?;
        self.wrap
            .around(&[op], leases.release_lease(key, token))
            .await
    }
}

#[async_trait]
impl<W: Wrap> VersionCounters for Layered<W> {
    async fn versions(
        &self,
        keys: &[&str],
        init: u64,
        ttl: Option<Duration>,
    ) -> BackendResult<Vec<u64>> {
        let op = Operation::Versions;
        let counters = self.ability(self.inner.as_version_counters(), op)?;
        self.wrap
            .around(&[op], counters.versions(keys, init, ttl))
            .await
    }

    async fn bump_version(
        &self,
        key: &str,
        at_least: u64,
        ttl: Option<Duration>,
    ) -> BackendResult<u64> {
        let op = Operation::BumpVersion;
        let counters = self.ability(self.inner.as_version_counters(), op)?;
        let call = counters.bump_version(key, at_least, ttl);
        self.wrap.around(&[op], call).await
    }

    fn local_changes(&self) -> Option<CounterChanges> {
        self.inner.as_version_counters()?.local_changes()
    }
}

#[async_trait]
impl<W: Wrap> Listing for Layered<W> {
    async fn scan(
        &self,
        prefix: &str,
        cursor: Option<String>,
        count: usize,
    ) -> BackendResult<ScanPage> {
        let op = Operation::Scan;
        let listing = self.ability(self.inner.as_listing(), op)?;
        self.wrap
            .around(&[op], listing.scan(prefix, cursor, count))
            .await
    }

    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> BackendResult<bool> {
        let op = Operation::DeleteIfEquals;
        let listing = self.ability(self.inner.as_listing(), op)?;
        let call = listing.delete_if_equals(key, expected);
        self.wrap.around(&[op], call).await
    }
}

#[async_trait]
impl<W: Wrap> MemoryUsage for Layered<W> {
    async fn memory_usage(&self, key: &str) -> BackendResult<Option<u64>> {
        let op = Operation::MemoryUsage;
        let usage = self.ability(self.inner.as_memory_usage(), op)?;
        self.wrap.around(&[op], usage.memory_usage(key)).await
    }
}
