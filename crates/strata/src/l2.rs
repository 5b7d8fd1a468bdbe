//! The second tier as the facade sees it: the backend wrapped in its layers (a timeout unless
//! it bounds itself, then the circuit breaker), the codec and strict mode; every call of the
//! backend goes through it (the one read of its entries is `l2_read`).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use strata_backend::batch::{Batch, Results};
use strata_backend::{
    Backend, BackendError, BackendResult, Capabilities, CircuitBreaker, ErrorKind, LayerExt,
    Operation, ScanPage, Timeout, Wrap,
};
use strata_codec::MsgPackCodec;
use strata_stats::{KindStats, Tier};

use crate::error::Error;

/// Why an L2 call produced nothing.
#[derive(Debug)]
pub(crate) enum L2Error {
    /// The circuit breaker is open: the backend was not asked.
    CircuitOpen,
    /// An earlier L2 call of the same operation failed: the backend was not asked again.
    Skipped,
    /// The backend failed or timed out.
    Backend(BackendError),
}

tokio::task_local! {
    /// The operation the current task runs (see [`operation`]).
    static OPERATION: Arc<AtomicBool>;
}

/// Runs `fut` as one operation: once one of its L2 calls fails (times out, loses its
/// connection, finds the circuit open), its other L2 calls are skipped, so an outage costs an
/// operation one timeout. Nested operations (a loader that loads) share the outer one.
pub(crate) async fn operation<F: Future>(fut: F) -> F::Output {
    if OPERATION.try_with(|_| ()).is_ok() {
        fut.await
    } else {
        OPERATION.scope(Arc::new(AtomicBool::new(false)), fut).await
    }
}

impl From<BackendError> for L2Error {
    fn from(e: BackendError) -> Self {
        match e.kind() {
            ErrorKind::CircuitOpen => Self::CircuitOpen,
            _ => Self::Backend(e),
        }
    }
}

impl From<L2Error> for Error {
    fn from(e: L2Error) -> Self {
        match e {
            L2Error::CircuitOpen => Error::CircuitOpen,
            L2Error::Skipped => Error::from(BackendError::new(
                ErrorKind::Connection,
                "skipped: an earlier backend call of this operation failed",
            )),
            L2Error::Backend(e) => Error::from(e),
        }
    }
}

impl L2Error {
    /// Whether the backend could not be reached (as opposed to refusing the call).
    pub(crate) fn is_unreachable(&self) -> bool {
        match self {
            Self::CircuitOpen | Self::Skipped => true,
            Self::Backend(e) => e.is_transient(),
        }
    }

    /// The statistics label of the failure.
    fn label(&self) -> &'static str {
        match self {
            Self::CircuitOpen => "circuit_open",
            Self::Skipped => "skipped",
            Self::Backend(e) => e.kind().as_str(),
        }
    }
}

/// The backend behind its layers, and how its answers are read. Cheap to clone: clones share
/// the backend, the breaker and the failure log.
#[derive(Clone)]
pub(crate) struct L2 {
    /// The backend as given (for tools: no breaker, no extra timer).
    raw: Arc<dyn Backend>,
    /// The backend behind the timeout (unless it bounds itself), without the breaker: a hit's
    /// `get` applies the breaker itself (one boxed future less per hit).
    timed: Arc<dyn Backend>,
    /// The backend behind the timeout (unless it bounds itself) and the breaker.
    layered: Arc<dyn Backend>,
    breaker: CircuitBreaker,
    capabilities: Capabilities,
    codec: MsgPackCodec,
    strict: bool,
    /// When a failed write was last logged (writes fail open, logged at most once a second).
    write_warned: Arc<parking_lot::Mutex<Option<std::time::Instant>>>,
}

impl L2 {
    /// `raw` behind a timeout of `operation_timeout` (unless it bounds its own operations) and
    /// `breaker`.
    pub(crate) fn new(
        raw: Arc<dyn Backend>,
        operation_timeout: Duration,
        breaker: CircuitBreaker,
        codec: MsgPackCodec,
        strict: bool,
    ) -> Self {
        let timed = if raw.capabilities().bounded {
            raw.clone()
        } else {
            raw.clone().layer(Timeout::new(operation_timeout))
        };
        let layered = timed.clone().layer(breaker.clone());
        Self {
            capabilities: layered.capabilities(),
            raw,
            timed,
            layered,
            breaker,
            codec,
            strict,
            write_warned: Arc::default(),
        }
    }

    /// The backend as given.
    pub(crate) fn raw(&self) -> &Arc<dyn Backend> {
        &self.raw
    }

    /// The backend behind its layers, for a task that runs outside any operation (the replay
    /// of deferred changes).
    pub(crate) fn backend(&self) -> Arc<dyn Backend> {
        self.layered.clone()
    }

    /// What the backend can do.
    pub(crate) fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    /// The backend's name.
    pub(crate) fn name(&self) -> &'static str {
        self.layered.name()
    }

    /// The key prefix the backend owns.
    pub(crate) fn namespace(&self) -> &str {
        self.layered.namespace()
    }

    /// The circuit breaker.
    pub(crate) fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// The envelope codec.
    pub(crate) fn codec(&self) -> &MsgPackCodec {
        &self.codec
    }

    /// Runs `batch` (one round trip on a networked backend).
    pub(crate) async fn run(&self, batch: Batch) -> Result<Results, L2Error> {
        self.call(self.layered.run(batch)).await
    }

    /// Reads one entry (a hit's one call: no batch to plan), through the breaker as every
    /// call (applied here rather than by the layered backend: the same checks and reports,
    /// without a second boxed future per hit).
    pub(crate) async fn get(&self, key: &str) -> Result<Option<strata_backend::Bytes>, L2Error> {
        let call = self.breaker.around(&[Operation::Get], self.timed.get(key));
        self.call(call).await
    }

    /// The values of version counters, missing ones created at `init` with `ttl`.
    pub(crate) async fn versions(
        &self,
        keys: Vec<String>,
        init: u64,
        ttl: Option<Duration>,
    ) -> Result<Vec<u64>, L2Error> {
        let mut batch = Batch::new();
        let values = batch.versions(keys, init, ttl);
        Ok(self.run(batch).await?.get(values))
    }

    /// Takes the load lease of `key` under `token`; `None` without leases.
    pub(crate) async fn acquire_lease(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> Option<Result<bool, L2Error>> {
        let leases = self.layered.as_leases()?;
        Some(self.call(leases.acquire_lease(key, token, ttl)).await)
    }

    /// Gives the lease of `key` up if `token` holds it (best effort: it expires anyway).
    pub(crate) async fn release_lease(&self, key: &str, token: &str) {
        if let Some(leases) = self.layered.as_leases() {
            let _ = self.call(leases.release_lease(key, token)).await;
        }
    }

    /// Removes `key` if it still holds exactly `bytes` (best effort; a no-op without listing).
    pub(crate) async fn delete_if_equals(&self, key: &str, bytes: &[u8]) -> Result<bool, L2Error> {
        match self.layered.as_listing() {
            Some(listing) => self.call(listing.delete_if_equals(key, bytes)).await,
            None => Ok(false),
        }
    }

    /// One page of the keys under `prefix`; an unsupported error without listing.
    pub(crate) async fn scan(
        &self,
        prefix: &str,
        cursor: Option<String>,
        count: usize,
    ) -> Result<ScanPage, L2Error> {
        let Some(listing) = self.layered.as_listing() else {
            return Err(L2Error::Backend(BackendError::unsupported(
                self.name(),
                "scan",
            )));
        };
        self.call(listing.scan(prefix, cursor, count)).await
    }

    /// Removes every key in the backend's namespace; how many.
    pub(crate) async fn clear(&self) -> Result<u64, L2Error> {
        self.call(self.layered.clear()).await
    }

    /// Checks that the backend answers; the round-trip time.
    pub(crate) async fn ping(&self) -> Result<Duration, L2Error> {
        self.call(self.layered.ping()).await
    }

    /// Runs one call of the layered backend (unless an earlier call of the current
    /// [`operation`] failed).
    async fn call<R>(&self, call: impl Future<Output = BackendResult<R>>) -> Result<R, L2Error> {
        if OPERATION
            .try_with(|failed| failed.load(Ordering::Acquire))
            .unwrap_or(false)
        {
            return Err(L2Error::Skipped);
        }
        let result = call.await.map_err(L2Error::from);
        let failed = match &result {
            Err(L2Error::Backend(e)) => e.is_transient(),
            Err(_) => true,
            Ok(_) => false,
        };
        if failed {
            let _ = OPERATION.try_with(|f| f.store(true, Ordering::Release));
        }
        result
    }

    /// A write (set, delete, invalidation) the backend refused: counted against `stats` (when
    /// it concerns a kind); with `strict` the error, else logged (at most once a second) and
    /// swallowed, since the caller's own work succeeded and this instance's L1 already reflects
    /// the write (fail-open).
    pub(crate) fn write_failed(&self, stats: Option<&KindStats>, e: L2Error) -> Result<(), Error> {
        let kind = stats.map_or("", |s| s.kind());
        let error = match stats {
            Some(stats) => self.failed(stats, e),
            None => Error::from(e),
        };
        if self.strict {
            return Err(error);
        }
        let now = std::time::Instant::now();
        let mut last = self.write_warned.lock();
        if last.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1)) {
            *last = Some(now);
            tracing::warn!(
                kind,
                %error,
                "cache write failed (counted in the statistics; fail-open: the caller goes on, \
                 strict = true surfaces it)"
            );
        }
        Ok(())
    }

    /// A read that failed: counted against `stats` and logged; the error only with `strict`
    /// (else the read is a miss).
    pub(crate) fn read_failed(&self, stats: &KindStats, e: L2Error) -> Result<(), Error> {
        let error = self.failed(stats, e);
        if self.strict {
            return Err(error);
        }
        Ok(())
    }

    /// Counts a failure against `stats` and logs it; the error to surface (strict mode, writes).
    pub(crate) fn failed(&self, stats: &KindStats, e: L2Error) -> Error {
        // A skipped call is not a failure of its own: the one that failed was counted.
        if !matches!(e, L2Error::Skipped) {
            stats.error(Tier::L2, e.label());
        }
        if let L2Error::Backend(e) = &e {
            tracing::debug!(kind = stats.kind(), error = %e, "backend failed; treating as a miss");
        }
        Error::from(e)
    }
}
