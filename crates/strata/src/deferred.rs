//! Changes that could not reach the backend (an outage, a timeout, an open circuit), kept in a
//! bounded queue and replayed in order once the backend answers again, so that an invalidation
//! made during an outage still reaches the backend and every other instance.
//!
//! Until then the calling instance honours the change itself (its L1 forgot the keys before
//! the change was sent). When the queue is full the oldest changes are lost: the instance
//! flushes its L1 (so it serves nothing older than its loaders give) and says so in the log,
//! the statistics and health.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use strata_backend::batch::Step;

/// A snapshot of [`Cache::deferred_changes`](crate::Cache::deferred_changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct DeferredStats {
    /// Changes waiting for the backend now.
    pub queued: u64,
    /// Changes deferred so far.
    pub deferred: u64,
    /// Deferred changes replayed once the backend answered.
    pub replayed: u64,
    /// Times the queue overflowed (its oldest changes dropped and L1 flushed).
    pub overflows: u64,
}

/// The queue of deferred changes and its replay.
pub(crate) struct Deferred {
    queue: Mutex<VecDeque<Vec<Step>>>,
    capacity: usize,
    replaying: AtomicBool,
    deferred: AtomicU64,
    replayed: AtomicU64,
    overflows: AtomicU64,
}

impl Deferred {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            queue: Mutex::default(),
            capacity,
            replaying: AtomicBool::new(false),
            deferred: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            overflows: AtomicU64::new(0),
        }
    }

    /// Keeps `steps` for a replay: false when the queue is off (capacity 0). When it is full
    /// the oldest change is dropped and `overflowed` is called (the caller flushes L1).
    pub(crate) fn push(&self, steps: Vec<Step>, overflowed: impl FnOnce()) -> bool {
        if self.capacity == 0 {
            return false;
        }
        let over = {
            let mut queue = self.queue.lock();
            queue.push_back(steps);
            let over = queue.len() > self.capacity;
            if over {
                queue.pop_front();
            }
            over
        };
        self.deferred.fetch_add(1, Ordering::Relaxed);
        if over {
            self.overflows.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                capacity = self.capacity,
                "deferred changes overflowed: the oldest is lost; flushing this instance's L1"
            );
            overflowed();
        }
        true
    }

    /// What the queue holds and has done.
    pub(crate) fn stats(&self) -> DeferredStats {
        DeferredStats {
            queued: self.queue.lock().len() as u64,
            deferred: self.deferred.load(Ordering::Relaxed),
            replayed: self.replayed.load(Ordering::Relaxed),
            overflows: self.overflows.load(Ordering::Relaxed),
        }
    }

    /// Claims the replay (false when a replay task already runs).
    pub(crate) fn claim_replay(&self) -> bool {
        !self.replaying.swap(true, Ordering::AcqRel)
    }

    /// Gives the replay up; true when changes arrived meanwhile and it was claimed again.
    pub(crate) fn release_replay(&self) -> bool {
        self.replaying.store(false, Ordering::Release);
        !self.queue.lock().is_empty() && self.claim_replay()
    }

    /// The oldest change.
    pub(crate) fn next(&self) -> Option<Vec<Step>> {
        self.queue.lock().pop_front()
    }

    /// Puts back a change whose replay failed, first in line.
    pub(crate) fn put_back(&self, steps: Vec<Step>) {
        self.queue.lock().push_front(steps);
    }

    /// Counts a change replayed.
    pub(crate) fn count_replayed(&self) {
        self.replayed.fetch_add(1, Ordering::Relaxed);
    }
}
