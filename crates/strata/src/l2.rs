//! The second tier as the facade sees it: the backend wrapped in its layers (a timeout unless
//! it bounds itself, then the circuit breaker), the codec and strict mode.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use strata_backend::{
    Backend, BackendError, BackendResult, CircuitBreaker, ErrorKind, Layered, Leases, Listing,
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
    /// The backend failed or timed out.
    Backend(BackendError),
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
            L2Error::Backend(e) => Error::from(e),
        }
    }
}

impl L2Error {
    /// The statistics label of the failure.
    fn label(&self) -> &'static str {
        match self {
            Self::CircuitOpen => "circuit_open",
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
        let timed: Arc<dyn Backend> = if raw.bounded() {
            raw.clone()
        } else {
            Arc::new(Layered::new(raw.clone(), Timeout::new(operation_timeout)))
        };
        Self {
            raw,
            layered: Arc::new(Layered::new(timed, breaker.clone())),
            breaker,
            codec,
            strict,
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

    /// Runs one call of the layered backend.
    pub(crate) async fn call<R>(
        &self,
        call: impl Future<Output = BackendResult<R>>,
    ) -> Result<R, L2Error> {
        call.await.map_err(L2Error::from)
    }

    /// Counts a failure against `stats` and logs it; the error to surface (strict mode, writes).
    pub(crate) fn failed(&self, stats: &KindStats, e: L2Error) -> Error {
        stats.error(Tier::L2, e.label());
        if let L2Error::Backend(e) = &e {
            tracing::debug!(kind = stats.kind(), error = %e, "backend failed; treating as a miss");
        }
        Error::from(e)
    }
}
