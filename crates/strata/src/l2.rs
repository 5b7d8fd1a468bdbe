//! The second tier as the facade sees it: the backend wrapped in its layers (a timeout unless
//! it bounds itself, then the circuit breaker), the codec and strict mode.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use strata_backend::{
    Backend, BackendError, BackendResult, CircuitBreaker, ErrorKind, LayerExt, Leases, Listing,
    Timeout, VersionCounters,
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
    /// The statistics label of the failure.
    fn label(&self) -> &'static str {
        match self {
            Self::CircuitOpen => "circuit_open",
            Self::Skipped => "skipped",
            Self::Backend(e) => e.kind().as_str(),
        }
    }
}

/// The backend behind its layers, and how its answers are read.
pub(crate) struct L2 {
    /// The backend as given (for tools: no breaker, no extra timer).
    raw: Arc<dyn Backend>,
    /// The backend behind the timeout (unless it bounds itself) and the breaker.
    layered: Arc<dyn Backend>,
    breaker: CircuitBreaker,
    codec: MsgPackCodec,
    strict: bool,
    /// When a failed write was last logged (writes fail open, logged at most once a second).
    write_warned: parking_lot::Mutex<Option<std::time::Instant>>,
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
        Self {
            raw,
            layered: timed.layer(breaker.clone()),
            breaker,
            codec,
            strict,
            write_warned: parking_lot::Mutex::new(None),
        }
    }

    /// The backend as given.
    pub(crate) fn raw(&self) -> &Arc<dyn Backend> {
        &self.raw
    }

    /// The backend behind its layers.
    pub(crate) fn backend(&self) -> &dyn Backend {
        &*self.layered
    }

    /// The circuit breaker.
    pub(crate) fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// The envelope codec.
    pub(crate) fn codec(&self) -> &MsgPackCodec {
        &self.codec
    }

    /// Whether L2 failures reach callers of reads.
    pub(crate) fn strict(&self) -> bool {
        self.strict
    }

    /// The backend's load leases, if it has them.
    pub(crate) fn leases(&self) -> Option<&dyn Leases> {
        self.layered.as_leases()
    }

    /// The backend's version counters, if it has them.
    pub(crate) fn counters(&self) -> Option<&dyn VersionCounters> {
        self.layered.as_version_counters()
    }

    /// The backend's listing, if it has one.
    pub(crate) fn listing(&self) -> Option<&dyn Listing> {
        self.layered.as_listing()
    }

    /// Runs one call of the layered backend (unless an earlier call of the current
    /// [`operation`] failed).
    pub(crate) async fn call<R>(
        &self,
        call: impl Future<Output = BackendResult<R>>,
    ) -> Result<R, L2Error> {
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
