//! Changes that could not reach the backend (an outage, a timeout, an open circuit), kept in a
//! bounded queue and replayed in order once the backend answers again, so that an invalidation
//! made during an outage still reaches the backend and every other instance.
//!
//! Until then the calling instance honours the change itself (its L1 forgot the keys before
//! the change was sent). When the queue is full the oldest changes are lost: the instance
//! flushes its L1 (so it serves nothing older than its loaders give) and says so in the log,
//! the statistics and health.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use strata_backend::Backend;
use strata_backend::batch::{Batch, Step};

/// How long the replay waits between attempts while the backend does not answer. Each attempt
/// waits up to the change timeout for its reply, so one sent while the server is paused is
/// answered the moment the server is back.
const RETRY: Duration = Duration::from_millis(50);

/// A snapshot of [`Admin::deferred_changes`](crate::Admin::deferred_changes).
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

impl DeferredStats {
    /// The two queues' figures added up.
    pub(crate) fn plus(self, other: Self) -> Self {
        Self {
            queued: self.queued + other.queued,
            deferred: self.deferred + other.deferred,
            replayed: self.replayed + other.replayed,
            overflows: self.overflows + other.overflows,
        }
    }
}

/// The queue of deferred changes and its replay task. Cheap to clone: clones share the queue.
#[derive(Clone)]
pub(crate) struct Deferred {
    queue: Arc<Queue>,
    /// The backend behind its layers, where the replay sends the changes.
    backend: Arc<dyn Backend>,
    /// How long each replay attempt waits for the backend (the change timeout).
    limit: Duration,
}

/// The changes waiting, and what the queue has done.
struct Queue {
    changes: Mutex<VecDeque<Vec<Step>>>,
    capacity: usize,
    replaying: AtomicBool,
    deferred: AtomicU64,
    replayed: AtomicU64,
    overflows: AtomicU64,
}

impl Deferred {
    pub(crate) fn new(capacity: usize, backend: Arc<dyn Backend>, limit: Duration) -> Self {
        Self {
            backend,
            limit,
            queue: Arc::new(Queue {
                changes: Mutex::default(),
                capacity,
                replaying: AtomicBool::new(false),
                deferred: AtomicU64::new(0),
                replayed: AtomicU64::new(0),
                overflows: AtomicU64::new(0),
            }),
        }
    }

    /// Keeps `steps` for a replay and starts the replay task unless one runs: false when the
    /// queue is off (capacity 0). When it is full the oldest change is dropped and `overflowed`
    /// is called (the caller flushes L1).
    pub(crate) fn push(&self, steps: Vec<Step>, overflowed: impl FnOnce()) -> bool {
        if self.queue.push(steps, overflowed) {
            self.start_replay();
            return true;
        }
        false
    }

    /// What the queue holds and has done.
    pub(crate) fn stats(&self) -> DeferredStats {
        self.queue.stats()
    }

    /// Starts the task that replays the deferred changes, unless one runs: it waits for the
    /// backend to answer, sends the changes in order, and ends when the queue is empty (or the
    /// cache is dropped).
    fn start_replay(&self) {
        if !self.queue.claim_replay() {
            return;
        }
        let queue = Arc::downgrade(&self.queue);
        let (backend, limit) = (self.backend.clone(), self.limit);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RETRY).await;
                let Some(queue) = queue.upgrade() else { return };
                let replayed = strata_backend::within_limit(limit, queue.replay(&*backend)).await;
                if replayed && !queue.release_replay() {
                    return;
                }
            }
        });
    }
}

impl Queue {
    fn push(&self, steps: Vec<Step>, overflowed: impl FnOnce()) -> bool {
        if self.capacity == 0 {
            return false;
        }
        let over = {
            let mut queue = self.changes.lock();
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

    fn stats(&self) -> DeferredStats {
        DeferredStats {
            queued: self.changes.lock().len() as u64,
            deferred: self.deferred.load(Ordering::Relaxed),
            replayed: self.replayed.load(Ordering::Relaxed),
            overflows: self.overflows.load(Ordering::Relaxed),
        }
    }

    /// Claims the replay (false when a replay task already runs).
    fn claim_replay(&self) -> bool {
        !self.replaying.swap(true, Ordering::AcqRel)
    }

    /// Gives the replay up; true when changes arrived meanwhile and it was claimed again.
    fn release_replay(&self) -> bool {
        self.replaying.store(false, Ordering::Release);
        !self.changes.lock().is_empty() && self.claim_replay()
    }

    /// Sends the deferred changes in order; true once the queue is empty, false when the
    /// backend failed again (the change stays first in line).
    async fn replay(&self, backend: &dyn Backend) -> bool {
        loop {
            let Some(steps) = self.changes.lock().pop_front() else {
                return true;
            };
            if backend.run(Batch::from_steps(steps.clone())).await.is_err() {
                self.changes.lock().push_front(steps);
                return false;
            }
            self.replayed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What a change replays: its invalidations. A write becomes the delete of its key (writing a
/// value late could replace a newer one); a store under a lease is dropped.
pub(crate) fn for_replay(steps: &[Step]) -> Vec<Step> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Write { key, .. } => Some(Step::Delete {
                keys: vec![key.clone()],
            }),
            Step::WriteUnderLease { .. } => None,
            other => Some(other.clone()),
        })
        .collect()
}
