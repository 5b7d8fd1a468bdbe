//! `FaultyBackend`: wraps any backend and injects errors and latency on command.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use strata_backend::{
    Backend, BackendError, BackendInfo, BackendResult, Capabilities, ErrorKind, KeyTtl, ScanPage,
    SetEntry,
};

/// The backend operations, for choosing which ones a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Operation {
    Get,
    GetMany,
    Set,
    SetMany,
    Delete,
    DeleteMany,
    DeleteIfEquals,
    Clear,
    Scan,
    Ttl,
    Ping,
    Info,
    /// `versions` and `bump_version`.
    Versions,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 13] = [
        Self::Get,
        Self::GetMany,
        Self::Set,
        Self::SetMany,
        Self::Delete,
        Self::DeleteMany,
        Self::DeleteIfEquals,
        Self::Clear,
        Self::Scan,
        Self::Ttl,
        Self::Ping,
        Self::Info,
        Self::Versions,
    ];

    /// Whether the operation only reads.
    pub fn is_read(self) -> bool {
        matches!(
            self,
            Self::Get | Self::GetMany | Self::Scan | Self::Ttl | Self::Ping | Self::Info
        )
    }
}

#[derive(Debug)]
struct Plan {
    /// Fail this many upcoming matching calls.
    fail_next: u64,
    /// Fail every matching call.
    fail_always: bool,
    /// Fail matching calls with this probability.
    fail_rate: f64,
    kind: ErrorKind,
    latency: Duration,
    only: Option<Vec<Operation>>,
    rng: SmallRng,
}

impl Plan {
    fn new(seed: u64) -> Self {
        Self {
            fail_next: 0,
            fail_always: false,
            fail_rate: 0.0,
            kind: ErrorKind::Connection,
            latency: Duration::ZERO,
            only: None,
            rng: SmallRng::seed_from_u64(seed),
        }
    }
}

/// The controls of a [`FaultyBackend`]; clones control the same backend.
#[derive(Debug, Clone)]
pub struct Faults {
    plan: Arc<Mutex<Plan>>,
    calls: Arc<AtomicU64>,
    injected: Arc<AtomicU64>,
}

impl Faults {
    /// Fails the next `n` matching calls with `kind`.
    pub fn fail_next(&self, n: u64, kind: ErrorKind) -> &Self {
        let mut p = self.plan.lock();
        p.fail_next = n;
        p.kind = kind;
        self
    }

    /// Fails every matching call with `kind` until [`heal`](Self::heal).
    pub fn fail_always(&self, kind: ErrorKind) -> &Self {
        let mut p = self.plan.lock();
        p.fail_always = true;
        p.kind = kind;
        self
    }

    /// Fails each matching call with probability `rate` (seeded, repeatable).
    pub fn fail_rate(&self, rate: f64, kind: ErrorKind) -> &Self {
        let mut p = self.plan.lock();
        p.fail_rate = rate.clamp(0.0, 1.0);
        p.kind = kind;
        self
    }

    /// Delays every matching call by `latency` before it runs (or fails).
    pub fn latency(&self, latency: Duration) -> &Self {
        self.plan.lock().latency = latency;
        self
    }

    /// Restricts faults and latency to these operations (default: all).
    pub fn only(&self, ops: &[Operation]) -> &Self {
        self.plan.lock().only = Some(ops.to_vec());
        self
    }

    /// Removes every fault and delay.
    pub fn heal(&self) -> &Self {
        let mut p = self.plan.lock();
        p.fail_next = 0;
        p.fail_always = false;
        p.fail_rate = 0.0;
        p.latency = Duration::ZERO;
        p.only = None;
        self
    }

    /// Calls made through the wrapper so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Faults injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    async fn before(&self, op: Operation) -> BackendResult<()> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let (latency, fail) = {
            let mut p = self.plan.lock();
            if p.only.as_ref().is_some_and(|ops| !ops.contains(&op)) {
                return Ok(());
            }
            let fail = if p.fail_next > 0 {
                p.fail_next -= 1;
                true
            } else {
                let rate = p.fail_rate;
                p.fail_always || (rate > 0.0 && p.rng.random_bool(rate))
            };
            (p.latency, fail.then_some(p.kind))
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match fail {
            Some(kind) => {
                self.injected.fetch_add(1, Ordering::Relaxed);
                Err(BackendError::new(kind, format!("injected fault in {op:?}")))
            }
            None => Ok(()),
        }
    }
}

/// Wraps a backend and injects errors and latency as its [`Faults`] handle says.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use strata_backend::{Backend, ErrorKind, MemoryBackend, MemoryConfig};
/// use strata_testkit::FaultyBackend;
///
/// let (backend, faults) = FaultyBackend::new(MemoryBackend::new(MemoryConfig::default()).unwrap());
/// faults.fail_next(1, ErrorKind::Timeout);
/// let err = backend.get("strata:k").await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Timeout);
/// assert!(backend.get("strata:k").await.is_ok());
/// # });
/// ```
#[derive(Debug)]
pub struct FaultyBackend<B> {
    inner: B,
    faults: Faults,
}

impl<B: Backend> FaultyBackend<B> {
    /// Wraps `inner`; returns the wrapper and its controls.
    pub fn new(inner: B) -> (Self, Faults) {
        Self::with_seed(inner, 0)
    }

    /// Wraps `inner` with a seed for [`Faults::fail_rate`].
    pub fn with_seed(inner: B, seed: u64) -> (Self, Faults) {
        let faults = Faults {
            plan: Arc::new(Mutex::new(Plan::new(seed))),
            calls: Arc::new(AtomicU64::new(0)),
            injected: Arc::new(AtomicU64::new(0)),
        };
        (
            Self {
                inner,
                faults: faults.clone(),
            },
            faults,
        )
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }
}

#[async_trait]
impl<B: Backend> Backend for FaultyBackend<B> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn namespace(&self) -> &str {
        self.inner.namespace()
    }

    fn capabilities(&self) -> Capabilities {
        // Injected latency is not bounded by the inner backend's timeouts.
        self.inner.capabilities().with_bounded(false)
    }

    async fn get(&self, key: &str) -> BackendResult<Option<Bytes>> {
        self.faults.before(Operation::Get).await?;
        self.inner.get(key).await
    }

    async fn get_many(&self, keys: &[&str]) -> BackendResult<Vec<Option<Bytes>>> {
        self.faults.before(Operation::GetMany).await?;
        self.inner.get_many(keys).await
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> BackendResult<()> {
        self.faults.before(Operation::Set).await?;
        self.inner.set(key, value, ttl).await
    }

    async fn set_many(&self, entries: Vec<SetEntry>) -> BackendResult<()> {
        self.faults.before(Operation::SetMany).await?;
        self.inner.set_many(entries).await
    }

    async fn delete(&self, key: &str) -> BackendResult<bool> {
        self.faults.before(Operation::Delete).await?;
        self.inner.delete(key).await
    }

    async fn delete_many(&self, keys: &[&str]) -> BackendResult<u64> {
        self.faults.before(Operation::DeleteMany).await?;
        self.inner.delete_many(keys).await
    }

    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> BackendResult<bool> {
        self.faults.before(Operation::DeleteIfEquals).await?;
        self.inner.delete_if_equals(key, expected).await
    }

    async fn versions(
        &self,
        keys: &[&str],
        init: u64,
        ttl: Option<Duration>,
    ) -> BackendResult<Vec<u64>> {
        self.faults.before(Operation::Versions).await?;
        self.inner.versions(keys, init, ttl).await
    }

    async fn bump_version(
        &self,
        key: &str,
        at_least: u64,
        ttl: Option<Duration>,
    ) -> BackendResult<u64> {
        self.faults.before(Operation::Versions).await?;
        self.inner.bump_version(key, at_least, ttl).await
    }

    async fn clear(&self) -> BackendResult<u64> {
        self.faults.before(Operation::Clear).await?;
        self.inner.clear().await
    }

    async fn scan(
        &self,
        prefix: &str,
        cursor: Option<String>,
        count: usize,
    ) -> BackendResult<ScanPage> {
        self.faults.before(Operation::Scan).await?;
        self.inner.scan(prefix, cursor, count).await
    }

    async fn acquire_lease(&self, key: &str, token: &str, ttl: Duration) -> BackendResult<bool> {
        self.faults.before(Operation::Set).await?;
        self.inner.acquire_lease(key, token, ttl).await
    }

    async fn set_under_lease(
        &self,
        key: &str,
        token: &str,
        value: Bytes,
        ttl: Duration,
    ) -> BackendResult<bool> {
        self.faults.before(Operation::Set).await?;
        self.inner.set_under_lease(key, token, value, ttl).await
    }

    async fn release_lease(&self, key: &str, token: &str) -> BackendResult<()> {
        self.faults.before(Operation::Delete).await?;
        self.inner.release_lease(key, token).await
    }

    async fn memory_usage(&self, key: &str) -> BackendResult<Option<u64>> {
        self.faults.before(Operation::Info).await?;
        self.inner.memory_usage(key).await
    }

    async fn ttl(&self, key: &str) -> BackendResult<KeyTtl> {
        self.faults.before(Operation::Ttl).await?;
        self.inner.ttl(key).await
    }

    async fn ping(&self) -> BackendResult<Duration> {
        self.faults.before(Operation::Ping).await?;
        self.inner.ping().await
    }

    async fn info(&self) -> BackendResult<BackendInfo> {
        self.faults.before(Operation::Info).await?;
        self.inner.info().await
    }
}
