//! A load group: loads that share their round trips. The lookup that starts the group also
//! reads (and leases) the entries its loads will need — a kind's declared relations, or every
//! key of a batch load — and the group's stores are settled together, in one batch, at the end.
//! Each load keeps its own flight, lease and stale-set check; only their round trips are shared.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use parking_lot::Mutex;
use strata_backend::batch::{Batch, Handle, Read, Results};
use strata_keys::Key;

use super::lease::Lease;
use crate::backends::BackendId;
use crate::core::Core;
use crate::flight::Epoch;
use crate::kinds::KindState;
use crate::l2::{L2, L2Error};
use crate::l2_read::lease_request;
use crate::versions::CounterRead;

tokio::task_local! {
    /// The group the loads of this task's loader belong to.
    static GROUP: Arc<LoadGroup>;
}

/// The reads done ahead for the group's loads, and the stores they left to settle.
#[derive(Default)]
pub(crate) struct LoadGroup {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    reads: HashMap<Key, Prefetched>,
    stores: Vec<Box<dyn DeferredStore>>,
}

/// What L2 answered for a key read ahead of its load, and the lease token it asked with.
pub(super) struct Prefetched {
    pub(super) read: Read,
    /// The backend read (where the lease, if taken, is held).
    pub(super) l2: L2,
    pub(super) token: String,
    pub(super) epoch: Epoch,
    pub(super) latency: Duration,
}

/// A loaded value whose store waits for its group's batch.
pub(super) trait DeferredStore: Send {
    /// The backend it is stored in.
    fn backend(&self) -> BackendId;
    /// Adds its steps (the write through its lease, a schema registration) to `batch`.
    fn add<'a>(&'a mut self, core: &'a Core, batch: &'a mut Batch) -> BoxFuture<'a, ()>;
    /// Reads its outcome from the batch's results (`None`: the batch failed) and fills L1.
    fn finish<'a>(self: Box<Self>, core: &'a Core, done: Option<&'a Results>) -> BoxFuture<'a, ()>;
}

/// One key read ahead: the backend read (where its lease is held), the key, the lease token,
/// the read's handle, and the key's epoch before the read.
struct AheadRead {
    l2: L2,
    key: Key,
    token: String,
    handle: Handle<Read>,
    epoch: Epoch,
}

/// Reads planned ahead into a lookup's batch (see [`LoadGroup::plan`]).
pub(super) struct PlannedAhead {
    reads: Vec<AheadRead>,
    counters: Vec<(Arc<KindState>, CounterRead)>,
}

impl LoadGroup {
    /// The group this task's loads belong to, if any.
    pub(super) fn current() -> Option<Arc<Self>> {
        GROUP.try_with(Arc::clone).ok()
    }

    /// Runs `fut` (a loader) with its loads in this group.
    pub(super) async fn scope<F: Future>(self: &Arc<Self>, fut: F) -> F::Output {
        GROUP.scope(self.clone(), fut).await
    }

    /// Adds reads of `related` (each with its load lease if absent, and the counters of its
    /// kind and of `tags` not known here) to `batch`, bound for backend `on`; keys already
    /// read ahead or being loaded here are skipped, and so are those of kinds in another
    /// backend (their loads look them up themselves).
    pub(super) fn plan(
        &self,
        core: &Core,
        (related, tags): (Vec<(Arc<KindState>, Key)>, &[String]),
        (on, lease_ttl): (BackendId, Duration),
        batch: &mut Batch,
    ) -> PlannedAhead {
        let flights = core.local.flights();
        let mut ahead = PlannedAhead {
            reads: Vec::new(),
            counters: Vec::new(),
        };
        let leases = core.backends.get(on).l2().capabilities().leases;
        let state = self.state.lock();
        for (kind, key) in related {
            if kind.backend != on || state.reads.contains_key(&key) || flights.in_progress(&key) {
                continue;
            }
            let token = Lease::token(core);
            let lease = leases.then(|| lease_request(token.clone(), lease_ttl, false));
            let epoch = flights.epoch(&key);
            let handle = batch.read(key.as_str(), lease);
            ahead.reads.push(AheadRead {
                l2: kind.l2.clone(),
                key,
                token,
                handle,
                epoch,
            });
            if !ahead.counters.iter().any(|(k, _)| k.name() == kind.name()) {
                let counters = core
                    .versions
                    .read_into(batch, kind.name(), &kind.generation, tags);
                ahead.counters.push((kind, counters));
            }
        }
        ahead
    }

    /// The entries of `related` worth reading ahead: those L1 does not serve fresh (a load of
    /// those finds them there).
    pub(super) async fn worth_reading(
        core: &Core,
        related: Vec<(Arc<KindState>, Key)>,
    ) -> Vec<(Arc<KindState>, Key)> {
        let Some(l1) = core.local.l1() else {
            return related;
        };
        let mut out = Vec::with_capacity(related.len());
        for (kind, key) in related {
            let now = core.clock.now_ms();
            let fresh = l1.get(&key).await.is_some_and(|e| {
                !e.meta.is_expired(now) && core.coherence.serves(e.verified_at_ms(), now)
            });
            if !fresh {
                out.push((kind, key));
            }
        }
        out
    }

    /// Keeps what the batch answered for the reads planned ahead (nothing when it failed:
    /// the loads then look up themselves).
    pub(super) fn keep(
        &self,
        core: &Core,
        ahead: PlannedAhead,
        done: Option<&Results>,
        start: Instant,
    ) {
        let Some(done) = done else { return };
        for (kind, counters) in &ahead.counters {
            core.versions.learn(&kind.generation, counters, done);
        }
        let latency = start.elapsed();
        let mut state = self.state.lock();
        for AheadRead {
            l2,
            key,
            token,
            handle,
            epoch,
        } in ahead.reads
        {
            let read = done.get(handle);
            state.reads.insert(
                key,
                Prefetched {
                    read,
                    l2,
                    token,
                    epoch,
                    latency,
                },
            );
        }
    }

    /// The read of `key` done ahead, taken (a load uses it once).
    pub(super) fn take_read(&self, key: &Key) -> Option<Prefetched> {
        self.state.lock().reads.remove(key)
    }

    /// Leaves `store` for the group's batch.
    pub(super) fn defer(&self, store: Box<dyn DeferredStore>) {
        self.state.lock().stores.push(store);
    }

    /// Settles the group: its deferred stores in one batch per backend, concurrently (a
    /// failure counted for `kind`, the group's first), and the leases taken ahead for loads
    /// that never ran, released.
    pub(super) async fn settle(&self, core: &Core, kind: &KindState) {
        let (stores, reads) = {
            let mut state = self.state.lock();
            (
                std::mem::take(&mut state.stores),
                std::mem::take(&mut state.reads),
            )
        };
        let mut by_backend: Vec<(BackendId, Vec<Box<dyn DeferredStore>>)> = Vec::new();
        for store in stores {
            let on = store.backend();
            match by_backend.iter_mut().find(|(b, _)| *b == on) {
                Some((_, list)) => list.push(store),
                None => by_backend.push((on, vec![store])),
            }
        }
        futures::future::join_all(
            by_backend
                .into_iter()
                .map(|(on, stores)| settle_in(core, kind, on, stores)),
        )
        .await;
        let unused = reads.into_iter().filter_map(|(key, p)| {
            let lease = Lease::from_outcome(p.read.lease, p.token)?;
            lease.is_held().then_some((key, p.l2, lease))
        });
        futures::future::join_all(unused.map(|(key, l2, lease)| async move {
            lease.release(&l2, &key).await;
        }))
        .await;
    }
}

/// Stores `stores` in backend `on`, in one batch (a failure counted for `kind`).
async fn settle_in(
    core: &Core,
    kind: &KindState,
    on: BackendId,
    mut stores: Vec<Box<dyn DeferredStore>>,
) {
    let l2 = core.backends.get(on).l2();
    let mut batch = Batch::new();
    for store in &mut stores {
        store.add(core, &mut batch).await;
    }
    let done = match batch.is_empty() {
        true => None,
        false => match l2.run(batch).await {
            Ok(done) => Some(done),
            Err(e) => {
                if !matches!(e, L2Error::Skipped) {
                    let _ = l2.failed(&kind.stats, e);
                }
                None
            }
        },
    };
    for store in stores {
        store.finish(core, done.as_ref()).await;
    }
}
