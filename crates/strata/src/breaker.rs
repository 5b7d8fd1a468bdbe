//! The circuit breaker in front of the backend.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

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

/// Opens after `threshold` consecutive failures, skips the backend for `cooldown`, then lets
/// one probe through: success closes it, failure opens it again. Lock-free.
#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    origin: Instant,
    failures: AtomicU32,
    /// Milliseconds since `origin` when the circuit may be probed; 0 when closed.
    open_until_ms: AtomicU64,
    /// Whether a probe is in flight (only one at a time).
    probing: AtomicU32,
    opened_total: AtomicU64,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold,
            cooldown,
            origin: Instant::now(),
            failures: AtomicU32::new(0),
            open_until_ms: AtomicU64::new(0),
            probing: AtomicU32::new(0),
            opened_total: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Whether a request may go to the backend now. When half-open, only the first caller gets
    /// `true` (the probe) until it reports back.
    pub(crate) fn allow(&self) -> bool {
        let until = self.open_until_ms.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        if self.now_ms() < until {
            return false;
        }
        self.probing
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub(crate) fn success(&self) {
        self.failures.store(0, Ordering::Release);
        if self.open_until_ms.swap(0, Ordering::AcqRel) != 0 {
            tracing::info!("backend recovered: circuit closed");
        }
        self.probing.store(0, Ordering::Release);
    }

    pub(crate) fn failure(&self) {
        if self.threshold == 0 {
            return;
        }
        let n = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        let was_probe = self.probing.swap(0, Ordering::AcqRel) == 1;
        if n >= self.threshold || was_probe {
            let until =
                self.now_ms() + u64::try_from(self.cooldown.as_millis()).unwrap_or(u64::MAX);
            if self.open_until_ms.swap(until, Ordering::AcqRel) == 0 || was_probe {
                self.opened_total.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(failures = n, cooldown = ?self.cooldown, "backend failing: circuit opened");
            }
        }
    }

    pub(crate) fn state(&self) -> BreakerState {
        let until = self.open_until_ms.load(Ordering::Acquire);
        if until == 0 {
            BreakerState::Closed
        } else if self.now_ms() < until {
            BreakerState::Open
        } else {
            BreakerState::HalfOpen
        }
    }

    pub(crate) fn opened_total(&self) -> u64 {
        self.opened_total.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_probes_once() {
        let b = Breaker::new(3, Duration::from_millis(30));
        for _ in 0..2 {
            b.failure();
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.allow(), "one probe");
        assert!(!b.allow(), "only one probe");
        b.failure();
        assert_eq!(b.state(), BreakerState::Open, "a failed probe reopens");
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.allow());
        b.success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allow() && b.allow());
        assert_eq!(b.opened_total(), 2);
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = Breaker::new(2, Duration::from_secs(60));
        b.failure();
        b.success();
        b.failure();
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
