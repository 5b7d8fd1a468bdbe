//! The clock the cache reads: the system's wall clock, or a manual one that tests move.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock time in milliseconds since the Unix epoch, as the cache sees it: when an entry
/// was written, when it expires, whether it is fresh, how old it is.
///
/// [`Clock::system`] (the default) reads the system clock; [`Clock::manual`] holds a time that
/// only [`advance`](Clock::advance) and [`set_ms`](Clock::set_ms) move, so a test sees an
/// entry expire, become due for refresh or go stale without sleeping. Clones share the time.
///
/// Physical lifetimes (a backend's TTL, the in-process tier's memory bound) stay on real time:
/// a manual clock moved past an entry's TTL makes it *stale*, and it is still there to be served
/// by fail-safe until its physical expiry.
///
/// ```
/// use std::time::Duration;
/// use strata_backend::Clock;
///
/// let clock = Clock::manual_at(1_000);
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(clock.now_ms(), 3_000);
/// assert!(Clock::system().now_ms() > 1_700_000_000_000);
/// ```
#[derive(Clone, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicU64>>,
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.manual {
            None => f.write_str("Clock::System"),
            Some(ms) => write!(f, "Clock::Manual({} ms)", ms.load(Ordering::Acquire)),
        }
    }
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// A manual clock starting at the system's current time.
    pub fn manual() -> Self {
        Self::manual_at(wall_clock_ms())
    }

    /// A manual clock starting at `ms` milliseconds since the Unix epoch.
    pub fn manual_at(ms: u64) -> Self {
        Self {
            manual: Some(Arc::new(AtomicU64::new(ms))),
        }
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// Milliseconds since the Unix epoch.
    #[inline]
    pub fn now_ms(&self) -> u64 {
        match &self.manual {
            None => wall_clock_ms(),
            Some(ms) => ms.load(Ordering::Acquire),
        }
    }

    /// Moves a manual clock on by `by` (a system clock cannot be moved: this does nothing).
    pub fn advance(&self, by: Duration) {
        if let Some(ms) = &self.manual {
            ms.fetch_add(
                u64::try_from(by.as_millis()).unwrap_or(u64::MAX),
                Ordering::AcqRel,
            );
        }
    }

    /// Sets a manual clock to `ms` milliseconds since the Unix epoch (a system clock: nothing).
    pub fn set_ms(&self, ms: u64) {
        if let Some(now) = &self.manual {
            now.store(ms, Ordering::Release);
        }
    }
}

/// Milliseconds since the Unix epoch on the system clock, whatever clock a cache was given:
/// for values that must agree across processes.
pub fn wall_clock_ms() -> u64 {
    since_epoch().as_millis().try_into().unwrap_or(u64::MAX)
}

/// Microseconds since the Unix epoch on the system clock (the floor of version counters, which
/// must agree across processes; never a manual clock).
pub fn wall_clock_us() -> u64 {
    since_epoch()
        .as_micros()
        .try_into()
        .unwrap_or(u64::MAX >> 1)
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}
