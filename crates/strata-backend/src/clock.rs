//! The clock the cache reads: the system's wall clock, or a manual one that tests move.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock time in milliseconds since the Unix epoch, as the cache sees it: when an entry
/// was written, when it expires, whether it is fresh, how old it is.
///
/// [`Clock::system`] (the default) reads the system clock (see [`Clock::now_ms`] for how
/// precisely); [`Clock::manual`] holds a time that
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
    ///
    /// The system clock is read as the kernel's coarse monotonic clock (one tick of
    /// resolution, 1–10 ms with the kernel's tick rate) added to the wall time the thread read
    /// last, which it reads again once a second: every cache hit reads this clock, and the
    /// coarse one costs about a fifth of the precise one (5 ns against 23 ns measured here).
    /// It stays within about one tick of [`wall_clock_ms`] (either side: it may step back by
    /// as much when the thread reads the wall clock again), and follows a step of the wall
    /// clock within a second.
    #[inline]
    pub fn now_ms(&self) -> u64 {
        match &self.manual {
            None => coarse_wall_clock_ms(),
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

/// The system clock's milliseconds since the Unix epoch, read cheaply: see [`Clock::now_ms`].
fn coarse_wall_clock_ms() -> u64 {
    /// How long a thread's reading of the wall clock serves before it reads it again.
    const ANCHOR_MS: u64 = 1_000;
    thread_local! {
        /// The coarse monotonic clock and the wall clock (ms) when this thread last read both.
        static ANCHOR: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }
    let mono = coarsetime::Instant::now_without_cache_update()
        .duration_since(coarsetime::Instant::from_u64(0))
        .as_millis();
    ANCHOR.with(|anchor| {
        let (at, wall) = anchor.get();
        match mono.checked_sub(at) {
            Some(since) if wall != 0 && since < ANCHOR_MS => wall + since,
            _ => {
                let wall = wall_clock_ms();
                anchor.set((mono, wall));
                wall
            }
        }
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Two kernel ticks at the slowest common tick rate (100 Hz), and a margin.
    const TOLERANCE_MS: u64 = 25;

    #[test]
    fn the_system_clock_stays_within_a_tick_of_the_wall_clock_across_its_reanchoring() {
        let clock = Clock::system();
        // 1.5 s in all: the thread reads the wall clock again once a second.
        for _ in 0..6 {
            for _ in 0..1_000 {
                let before = wall_clock_ms();
                let now = clock.now_ms();
                let after = wall_clock_ms();
                assert!(
                    now + TOLERANCE_MS >= before && now <= after + TOLERANCE_MS,
                    "{now} outside [{before}, {after}] ± {TOLERANCE_MS} ms"
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}
