//! `FailureRate`: the share of failed calls over a sliding window, in ten slots.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

const SLOTS: usize = 10;

/// Stripes of a slot's call count: the calls of different threads count on different cache
/// lines, so that every successful call does not write a line all threads share.
const STRIPES: usize = 4;

/// A counter alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Padded(AtomicU64);

/// One slot of the window: the slot number it counts for, its calls (striped by thread) and
/// failures.
#[derive(Debug, Default)]
struct Slot {
    number: AtomicU64,
    failures: AtomicU64,
    calls: [Padded; STRIPES],
}

impl Slot {
    fn calls(&self) -> u64 {
        self.calls.iter().map(|c| c.0.load(Ordering::Acquire)).sum()
    }

    fn reset(&self) {
        self.failures.store(0, Ordering::Release);
        for c in &self.calls {
            c.0.store(0, Ordering::Release);
        }
    }
}

/// The calling thread's stripe (threads numbered in the order they first count a call).
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.try_with(|s| *s).unwrap_or(0)
}

/// Calls and failures over the last `window` (in ten slots of `window / 10`), lock-free.
/// Races between a slot's reset and a count lose at most a count: the rate is a trend.
#[derive(Debug)]
pub(crate) struct FailureRate {
    /// Open at this share of failures (0: never)…
    rate: f64,
    /// …once at least this many calls were made in the window.
    min_calls: u64,
    slot_ms: u64,
    slots: [Slot; SLOTS],
}

impl FailureRate {
    pub(crate) fn new(rate: f64, window: Duration, min_calls: u64) -> Self {
        let window_ms = u64::try_from(window.as_millis())
            .unwrap_or(u64::MAX)
            .max(SLOTS as u64);
        Self {
            rate: rate.clamp(0.0, 1.0),
            min_calls: min_calls.max(1),
            slot_ms: window_ms / SLOTS as u64,
            slots: Default::default(),
        }
    }

    /// Whether a failure rate is watched (a rate of 0 turns it off).
    pub(crate) fn enabled(&self) -> bool {
        self.rate > 0.0
    }

    /// Counts a call at `now_ms`; true when the window's failure share reached the rate.
    pub(crate) fn record(&self, now_ms: u64, failed: bool) -> bool {
        if self.rate <= 0.0 {
            return false;
        }
        let number = now_ms / self.slot_ms + 1;
        let slot = &self.slots[(number % SLOTS as u64) as usize];
        // A load first: the common case (the slot is current) writes only its call count.
        if slot.number.load(Ordering::Acquire) != number
            && slot.number.swap(number, Ordering::AcqRel) != number
        {
            slot.reset();
        }
        slot.calls[stripe()].0.fetch_add(1, Ordering::AcqRel);
        if !failed {
            // Only a failure can open the circuit: no need for the window's share.
            return false;
        }
        slot.failures.fetch_add(1, Ordering::AcqRel);
        let (mut calls, mut failures) = (0, 0);
        for s in &self.slots {
            let n = s.number.load(Ordering::Acquire);
            if n + (SLOTS as u64) > number {
                calls += s.calls();
                failures += s.failures.load(Ordering::Acquire);
            }
        }
        calls >= self.min_calls && failures as f64 >= self.rate * calls as f64
    }

    /// Forgets every count (after the circuit opened: the next window starts afresh).
    pub(crate) fn reset(&self) {
        for s in &self.slots {
            s.reset();
        }
    }
}
