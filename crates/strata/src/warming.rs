//! The state of the start-up warming, for `Cache::ready` and the health report.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::watch;

/// Where the start-up (hot-set) warming is; [`Admin::warming`](crate::Admin::warming).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarmingState {
    /// Not started: [`Cache::ready`](crate::Cache::ready) starts it.
    NotStarted,
    /// Filling L1 from the recorded hot sets.
    Warming,
    /// Done (also when there was nothing to warm, or warming is off).
    Done,
}

/// The start-up warming: its state and how many keys it has done of how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WarmingStatus {
    /// Where it is.
    pub state: WarmingState,
    /// Keys of the hot sets read from L2 so far.
    pub done: u64,
    /// Keys of the hot sets to read (known once each kind's hot set is read).
    pub total: u64,
    /// Keys found in L2 and put in L1.
    pub filled: u64,
}

/// The shared state of the start-up warming.
pub(crate) struct Warming {
    started: AtomicBool,
    pub(crate) done: AtomicU64,
    pub(crate) total: AtomicU64,
    pub(crate) filled: AtomicU64,
    finished: watch::Sender<bool>,
}

impl Default for Warming {
    fn default() -> Self {
        Self {
            started: AtomicBool::new(false),
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            filled: AtomicU64::new(0),
            finished: watch::channel(false).0,
        }
    }
}

impl Warming {
    /// True the first time it is asked: the caller starts the warming.
    pub(crate) fn start(&self) -> bool {
        !self.started.swap(true, Ordering::AcqRel)
    }

    /// Marks the warming done.
    pub(crate) fn finish(&self) {
        self.finished.send_replace(true);
    }

    /// Returns once the warming is done.
    pub(crate) async fn finished(&self) {
        let mut rx = self.finished.subscribe();
        let _ = rx.wait_for(|done| *done).await;
    }

    /// The status now.
    pub(crate) fn status(&self) -> WarmingStatus {
        let state = if *self.finished.borrow() {
            WarmingState::Done
        } else if self.started.load(Ordering::Acquire) {
            WarmingState::Warming
        } else {
            WarmingState::NotStarted
        };
        WarmingStatus {
            state,
            done: self.done.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
            filled: self.filled.load(Ordering::Relaxed),
        }
    }
}
