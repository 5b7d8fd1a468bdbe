//! `FaultyBackend`: any backend wrapped in a layer that injects errors and latency on command.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use strata_backend::{
    Backend, BackendError, BackendResult, Capabilities, ErrorKind, Layered, Operation, Wrap,
};

/// A backend whose operations (every one, the abilities' included: leases, version counters,
/// listing, memory usage) fail or slow down as its [`Faults`] say.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use strata_backend::{Backend, ErrorKind, MemoryBackend, MemoryConfig};
/// use strata_testkit::Faults;
///
/// let (backend, faults) = Faults::wrap(MemoryBackend::new(MemoryConfig::default()).unwrap());
/// faults.fail_next(1, ErrorKind::Timeout);
/// let err = backend.get("strata:k").await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Timeout);
/// assert!(backend.get("strata:k").await.is_ok());
/// # });
/// ```
pub type FaultyBackend = Layered<Faults>;

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

/// The controls of a [`FaultyBackend`], and the layer itself; clones control the same backend.
#[derive(Debug, Clone)]
pub struct Faults {
    plan: Arc<Mutex<Plan>>,
    calls: Arc<AtomicU64>,
    injected: Arc<AtomicU64>,
}

impl Faults {
    /// Wraps `inner`; returns the wrapper and its controls.
    pub fn wrap(inner: impl Backend) -> (FaultyBackend, Faults) {
        Self::wrap_seeded(inner, 0)
    }

    /// Wraps `inner` with a seed for [`Faults::fail_rate`].
    pub fn wrap_seeded(inner: impl Backend, seed: u64) -> (FaultyBackend, Faults) {
        let faults = Faults {
            plan: Arc::new(Mutex::new(Plan::new(seed))),
            calls: Arc::new(AtomicU64::new(0)),
            injected: Arc::new(AtomicU64::new(0)),
        };
        (Layered::new(Arc::new(inner), faults.clone()), faults)
    }

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

    async fn before(&self, ops: &[Operation]) -> BackendResult<()> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let (latency, fail) = {
            let mut p = self.plan.lock();
            // A batch is hit when any of its steps' operations is.
            if p.only
                .as_ref()
                .is_some_and(|targets| !ops.iter().any(|op| targets.contains(op)))
            {
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
                let names: Vec<&str> = ops.iter().map(|o| o.as_str()).collect();
                Err(BackendError::new(
                    kind,
                    format!("injected fault in {}", names.join(", ")),
                ))
            }
            None => Ok(()),
        }
    }
}

impl Wrap for Faults {
    async fn around<T: Send>(
        &self,
        ops: &[Operation],
        call: impl Future<Output = BackendResult<T>> + Send,
    ) -> BackendResult<T> {
        self.before(ops).await?;
        call.await
    }

    fn capabilities(&self, inner: Capabilities) -> Capabilities {
        // Injected latency is not bounded by the inner backend's timeouts.
        inner.with_bounded(false)
    }
}
