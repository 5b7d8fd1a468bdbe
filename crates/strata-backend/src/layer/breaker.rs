//! `CircuitBreaker`: skips a failing backend for a cool-down, then probes it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::Wrap;
use super::rate::FailureRate;
use crate::error::{BackendError, BackendResult, ErrorKind};
use crate::operation::Operation;

/// The breaker's state, as reported by health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BreakerState {
    /// Requests go to the backend.
    Closed,
    /// The backend is skipped until the cool-down ends.
    Open,
    /// The cool-down ended; one probe request is let through.
    HalfOpen,
}

/// The last error a call through a [`CircuitBreaker`] answered, for logs and health checks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LastError {
    /// Its kind (`timeout`, `connection`, `config` for rejected credentials, ...).
    pub kind: ErrorKind,
    /// Its message with its source (a Redis URL in it has its password redacted).
    pub message: String,
}

impl LastError {
    /// The kind and the message of `e`, its source included.
    pub fn of(e: &BackendError) -> Self {
        let message = match std::error::Error::source(e) {
            Some(source) => format!("{}: {source}", e.message()),
            None => e.message().to_owned(),
        };
        Self {
            kind: e.kind(),
            message,
        }
    }
}

/// Opens after `threshold` consecutive transient failures (timeouts, lost connections), or
/// when failures reach a share of the calls over a sliding window
/// ([`with_failure_rate`](Self::with_failure_rate)), skips the backend for `cooldown` (calls
/// fail at once with
/// [`ErrorKind::CircuitOpen`](crate::ErrorKind::CircuitOpen)), then lets one probe through:
/// success closes it, failure opens it again. Lock-free; clones share the state; tokio's clock.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    threshold: u32,
    cooldown: Duration,
    origin: Instant,
    failures: AtomicU32,
    /// Milliseconds since `origin` when the circuit may be probed; 0 when closed.
    open_until_ms: AtomicU64,
    /// Whether a probe is in flight (only one at a time).
    probing: AtomicBool,
    opened_total: AtomicU64,
    rate: FailureRate,
    /// The last error answered (an open circuit's own refusals are not recorded).
    last_error: std::sync::Mutex<Option<LastError>>,
}

impl CircuitBreaker {
    /// A breaker opening after `threshold` consecutive failures (0: never) for `cooldown`.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            state: Arc::new(State {
                threshold,
                cooldown,
                origin: Instant::now(),
                failures: AtomicU32::new(0),
                open_until_ms: AtomicU64::new(0),
                probing: AtomicBool::new(false),
                opened_total: AtomicU64::new(0),
                rate: FailureRate::new(0.0, Duration::from_secs(10), 1),
                last_error: std::sync::Mutex::new(None),
            }),
        }
    }

    /// Also opens when, over the last `window`, at least `min_calls` calls were made and
    /// `rate` of them (0.0–1.0; 0 turns it off) failed: an intermittently failing backend
    /// never gives `threshold` failures in a row.
    pub fn with_failure_rate(self, rate: f64, window: Duration, min_calls: u64) -> Self {
        let s = &self.state;
        Self {
            state: Arc::new(State {
                threshold: s.threshold,
                cooldown: s.cooldown,
                origin: s.origin,
                failures: AtomicU32::new(0),
                open_until_ms: AtomicU64::new(0),
                probing: AtomicBool::new(false),
                opened_total: AtomicU64::new(0),
                rate: FailureRate::new(rate, window, min_calls),
                last_error: std::sync::Mutex::new(None),
            }),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.state.origin.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Whether a request may go to the backend now. When half-open, only the first caller gets
    /// `true` (the probe) until it reports back.
    pub fn allow(&self) -> bool {
        let until = self.state.open_until_ms.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        if self.now_ms() < until {
            return false;
        }
        self.state
            .probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Reports a call that the backend answered.
    pub fn success(&self) {
        let s = &self.state;
        if s.rate.enabled() {
            s.rate.record(self.now_ms(), false);
        }
        // Closed, no failure counted, no probe: nothing to reset. Loads only, so that the
        // calls of every thread do not write the breaker's shared state.
        if s.failures.load(Ordering::Acquire) == 0
            && s.open_until_ms.load(Ordering::Acquire) == 0
            && !s.probing.load(Ordering::Acquire)
        {
            return;
        }
        s.failures.store(0, Ordering::Release);
        if s.open_until_ms.swap(0, Ordering::AcqRel) != 0 {
            tracing::info!("backend recovered: circuit closed");
        }
        s.probing.store(false, Ordering::Release);
    }

    /// Records `e` as the last error (shown by [`last_error`](Self::last_error) and in the
    /// "circuit opened" log line); an open circuit's own refusal is not recorded.
    pub fn record_error(&self, e: &BackendError) {
        if e.kind() == ErrorKind::CircuitOpen {
            return;
        }
        if let Ok(mut last) = self.state.last_error.lock() {
            *last = Some(LastError::of(e));
        }
    }

    /// The last error a call answered, if any (it stays after the backend recovers: compare
    /// with [`state`](Self::state)).
    pub fn last_error(&self) -> Option<LastError> {
        self.state.last_error.lock().ok().and_then(|l| l.clone())
    }

    /// Reports a call that timed out or lost its connection.
    pub fn failure(&self) {
        let s = &self.state;
        if s.threshold == 0 {
            return;
        }
        let n = s.failures.fetch_add(1, Ordering::AcqRel) + 1;
        let was_probe = s.probing.swap(false, Ordering::AcqRel);
        let rate_reached = s.rate.record(self.now_ms(), true);
        if n >= s.threshold || was_probe || rate_reached {
            s.rate.reset();
            let until = self.now_ms() + u64::try_from(s.cooldown.as_millis()).unwrap_or(u64::MAX);
            if s.open_until_ms.swap(until, Ordering::AcqRel) == 0 || was_probe {
                s.opened_total.fetch_add(1, Ordering::Relaxed);
                let last = self.last_error();
                tracing::warn!(
                    failures = n,
                    cooldown = ?s.cooldown,
                    error.kind = last.as_ref().map_or("unknown", |l| l.kind.as_str()),
                    error = last.as_ref().map_or("", |l| l.message.as_str()),
                    "backend failing: circuit opened"
                );
            }
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        let until = self.state.open_until_ms.load(Ordering::Acquire);
        if until == 0 {
            BreakerState::Closed
        } else if self.now_ms() < until {
            BreakerState::Open
        } else {
            BreakerState::HalfOpen
        }
    }

    /// How many times the circuit has opened.
    pub fn opened_total(&self) -> u64 {
        self.state.opened_total.load(Ordering::Relaxed)
    }
}

/// Frees the probe slot of a call dropped before it reported (a cancelled probe must not keep
/// the circuit from ever closing).
struct Report<'a> {
    breaker: &'a CircuitBreaker,
    done: bool,
}

impl Drop for Report<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.state.probing.store(false, Ordering::Release);
        }
    }
}

impl Wrap for CircuitBreaker {
    async fn around<T: Send>(
        &self,
        ops: &[Operation],
        call: impl Future<Output = BackendResult<T>> + Send,
    ) -> BackendResult<T> {
        if !self.allow() {
            return Err(BackendError::circuit_open(&super::timeout::describe(ops)));
        }
        let mut report = Report {
            breaker: self,
            done: false,
        };
        let result = call.await;
        report.done = true;
        if let Err(e) = &result {
            self.record_error(e);
        }
        match &result {
            Err(e) if e.is_transient() => self.failure(),
            _ => self.success(),
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_threshold_then_probes_once() {
        let b = CircuitBreaker::new(3, Duration::from_millis(30));
        for _ in 0..2 {
            b.failure();
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow());
        tokio::time::advance(Duration::from_millis(40)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.allow(), "one probe");
        assert!(!b.allow(), "only one probe");
        b.failure();
        assert_eq!(b.state(), BreakerState::Open, "a failed probe reopens");
        tokio::time::advance(Duration::from_millis(40)).await;
        assert!(b.allow());
        b.success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allow() && b.allow());
        assert_eq!(b.opened_total(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn an_intermittent_failure_rate_opens_it() {
        let b = CircuitBreaker::new(5, Duration::from_secs(1)).with_failure_rate(
            0.5,
            Duration::from_secs(10),
            10,
        );
        // Never 5 failures in a row, but half of the calls.
        for _ in 0..4 {
            b.failure();
            b.success();
            tokio::time::advance(Duration::from_millis(100)).await;
        }
        assert_eq!(
            b.state(),
            BreakerState::Closed,
            "8 calls: below the minimum"
        );
        b.failure();
        b.success();
        b.failure();
        assert_eq!(b.state(), BreakerState::Open, "6 failures in 11 calls");
        // Old failures leave the window.
        let c = CircuitBreaker::new(100, Duration::from_secs(1)).with_failure_rate(
            0.5,
            Duration::from_secs(1),
            4,
        );
        c.failure();
        c.failure();
        tokio::time::advance(Duration::from_secs(2)).await;
        c.success();
        c.success();
        c.failure();
        assert_eq!(
            c.state(),
            BreakerState::Closed,
            "1 failure in the last 3 calls"
        );
    }

    #[tokio::test]
    async fn the_last_error_is_kept_with_its_kind() {
        let b = CircuitBreaker::new(1, Duration::from_secs(60));
        assert_eq!(b.last_error(), None);
        let refused = BackendError::new(ErrorKind::Connection, "connection refused by h:1");
        let _ = b
            .around(&[Operation::Ping], async { Err::<(), _>(refused) })
            .await;
        assert_eq!(b.state(), BreakerState::Open);
        let last = b.last_error().unwrap();
        assert_eq!(last.kind, ErrorKind::Connection);
        assert_eq!(last.message, "connection refused by h:1");
        // The open circuit's own refusals do not hide the cause.
        let skipped = b.around(&[Operation::Ping], async { Ok(()) }).await;
        assert_eq!(skipped.unwrap_err().kind(), ErrorKind::CircuitOpen);
        assert_eq!(b.last_error().unwrap().kind, ErrorKind::Connection);
        // Errors that do not open the circuit are recorded too (rejected credentials).
        let c = CircuitBreaker::new(5, Duration::from_secs(60));
        let auth = BackendError::new(ErrorKind::Config, "authentication failed");
        let _ = c
            .around(&[Operation::Ping], async { Err::<(), _>(auth) })
            .await;
        assert_eq!(c.last_error().unwrap().kind, ErrorKind::Config);
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = CircuitBreaker::new(2, Duration::from_secs(60));
        b.failure();
        b.success();
        b.failure();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_probe_frees_the_probe_slot() {
        let b = CircuitBreaker::new(1, Duration::from_millis(10));
        b.failure();
        tokio::time::advance(Duration::from_millis(20)).await;
        let probe = b.around(
            &[Operation::Ping],
            std::future::pending::<BackendResult<()>>(),
        );
        let cancelled = tokio::time::timeout(Duration::from_millis(5), probe).await;
        assert!(cancelled.is_err());
        assert!(b.allow(), "the next call may probe");
    }
}
