//! Batch loads: the misses among many ids of one kind loaded by one call of a loader that takes
//! many ids (DataLoader's batching), each id keeping its own flight, lease and stale-set check;
//! their lookups share one round trip and their stores another (a load group).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use strata_backend::batch::Batch;
use strata_keys::Key;
use tokio::sync::{Notify, oneshot};

use super::group::LoadGroup;
use super::leader::lease_ttl;
use crate::cacheable::CacheValue;
use crate::core::Core;
use crate::entry::Lookup;
use crate::error::{Error, LoadError};
use crate::kinds::KindState;
use crate::options::LoadOptions;
use crate::read;

/// One id's answer from a batch call: its value (`None`: absent), or the batch's error (`None`:
/// the batch was abandoned).
pub(crate) type Answer<T, E> = Result<Option<T>, Option<Arc<E>>>;

/// The values of `items` (keys and their ids), in order; the misses loaded by `loader` in as
/// few calls as the flights allow (one when this call leads every missed key).
pub(crate) async fn load_many<T, I, E, F, Fut>(
    core: &Core,
    kind: &Arc<KindState>,
    items: Vec<(Key, I)>,
    options: &LoadOptions,
    loader: F,
) -> Result<Vec<Option<Arc<T>>>, LoadError<E>>
where
    T: CacheValue,
    I: Clone + Eq + Hash + Send + Sync,
    E: Send + Sync + 'static,
    F: Fn(Vec<I>) -> Fut,
    Fut: Future<Output = Result<HashMap<I, T>, E>>,
{
    if !core.enabled() {
        return uncached(items, loader).await;
    }
    load_through(core, kind, items, options, &Round::new(options, &loader)).await
}

/// Where the ids of a batch load wait for a loader call.
pub(crate) trait Rounds<I, T, E> {
    /// This many keys will each wait or decide not to.
    fn expect(&self, keys: usize);
    /// Waits for `id`'s answer from a loader call.
    fn wait(&self, id: I) -> impl Future<Output = Answer<T, E>>;
    /// A key was answered without waiting.
    fn decided(&self);
    /// Makes the loader calls of this load (nothing when another task makes them).
    fn drive(&self) -> impl Future<Output = ()>;
}

/// [`load_many`] with the loader calls made by `rounds`.
pub(crate) async fn load_through<T, I, E, R>(
    core: &Core,
    kind: &Arc<KindState>,
    items: Vec<(Key, I)>,
    options: &LoadOptions,
    rounds: &R,
) -> Result<Vec<Option<Arc<T>>>, LoadError<E>>
where
    T: CacheValue,
    I: Clone + Eq + Hash + Send + Sync,
    E: Send + Sync + 'static,
    R: Rounds<I, T, E>,
{
    let mut out: Vec<Option<Arc<T>>> = vec![None; items.len()];
    // The misses, each key once, with the positions it answers.
    let mut missing: Vec<(Key, I, Vec<usize>)> = Vec::new();
    let mut at: HashMap<Key, usize> = HashMap::new();
    for (i, (key, id)) in items.into_iter().enumerate() {
        if let Some(&m) = at.get(&key) {
            missing[m].2.push(i);
            continue;
        }
        match read::probe_l1::<T>(core, kind, &key).await {
            Lookup::Fresh(found) => out[i] = found.value,
            _ => {
                at.insert(key.clone(), missing.len());
                missing.push((key, id, vec![i]));
            }
        }
    }
    if missing.is_empty() {
        return Ok(out);
    }
    let group = Arc::new(LoadGroup::default());
    read_ahead(core, kind, &group, &missing, options).await;
    rounds.expect(missing.len());
    let loads = missing.iter().map(|(key, id, _)| {
        let called = AtomicBool::new(false);
        async move {
            let load = || {
                called.store(true, Ordering::Release);
                rounds.wait(id.clone())
            };
            let result = super::load::<T, Option<Arc<E>>>(core, kind, key, options, load).await;
            if !called.load(Ordering::Acquire) {
                rounds.decided();
            }
            result
        }
    });
    let (results, ()) = group
        .scope(futures::future::join(
            futures::future::join_all(loads),
            rounds.drive(),
        ))
        .await;
    group.settle(core, kind).await;
    let mut first_error = None;
    for ((_, _, positions), result) in missing.into_iter().zip(results) {
        match result {
            Ok(value) => positions.into_iter().for_each(|i| out[i] = value.clone()),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(unshared(e)),
        None => Ok(out),
    }
}

/// Reads every missed key (with its load lease) in one batch, for the loads to use.
async fn read_ahead<I>(
    core: &Core,
    kind: &Arc<KindState>,
    group: &LoadGroup,
    missing: &[(Key, I, Vec<usize>)],
    options: &LoadOptions,
) {
    let keys = missing
        .iter()
        .map(|(k, _, _)| (kind.clone(), k.clone()))
        .collect();
    let mut batch = Batch::new();
    let planned = (kind.backend, lease_ttl(options));
    let ahead = group.plan(core, (keys, &options.tags), planned, &mut batch);
    if batch.is_empty() {
        return;
    }
    let start = Instant::now();
    let done = kind.l2.run(batch).await;
    if let Err(e) = &done {
        tracing::debug!(kind = kind.name(), error = ?e, "batch load: the lookups failed");
    }
    group.keep(core, ahead, done.as_ref().ok(), start);
}

/// A batch load's error as the caller's type.
fn unshared<E>(e: LoadError<Option<Arc<E>>>) -> LoadError<E> {
    match e {
        LoadError::Loader(shared) => match &*shared {
            Some(e) => LoadError::Loader(e.clone()),
            None => LoadError::Cache(Error::config("the batch load was abandoned")),
        },
        LoadError::Timeout(d) => LoadError::Timeout(d),
        LoadError::Cache(e) => LoadError::Cache(e),
    }
}

/// Caching is off: the loader answers every id, nothing is stored.
async fn uncached<T, I, E, F, Fut>(
    items: Vec<(Key, I)>,
    loader: F,
) -> Result<Vec<Option<Arc<T>>>, LoadError<E>>
where
    I: Clone + Eq + Hash,
    F: Fn(Vec<I>) -> Fut,
    Fut: Future<Output = Result<HashMap<I, T>, E>>,
{
    let ids: Vec<I> = items.iter().map(|(_, id)| id.clone()).collect();
    let mut found = loader(ids)
        .await
        .map_err(|e| LoadError::Loader(Arc::new(e)))?;
    let mut shared: HashMap<I, Arc<T>> = HashMap::new();
    Ok(items
        .into_iter()
        .map(|(_, id)| match found.remove(&id) {
            Some(v) => Some(shared.entry(id).or_insert_with(|| Arc::new(v)).clone()),
            None => shared.get(&id).cloned(),
        })
        .collect())
}

/// The ids of one batch load waiting for its loader, and how many keys have not yet said
/// whether they will.
struct Round<'l, I, T, E, F> {
    loader: &'l F,
    state: Mutex<RoundState<I, T, E>>,
    /// Keys neither waiting nor done.
    undecided: AtomicUsize,
    changed: Notify,
    window: std::time::Duration,
    max_keys: usize,
}

struct RoundState<I, T, E> {
    waiting: Vec<Waiter<I, T, E>>,
    /// When the first id of the current round arrived.
    since: Option<Instant>,
}

impl<'l, I, T, E, F, Fut> Round<'l, I, T, E, F>
where
    I: Clone + Eq + Hash,
    F: Fn(Vec<I>) -> Fut,
    Fut: Future<Output = Result<HashMap<I, T>, E>>,
{
    fn new(options: &LoadOptions, loader: &'l F) -> Self {
        Self {
            loader,
            state: Mutex::new(RoundState {
                waiting: Vec::new(),
                since: None,
            }),
            undecided: AtomicUsize::new(0),
            changed: Notify::new(),
            window: options.batch_window,
            max_keys: options.batch_max_keys.max(1),
        }
    }

    /// A key's loader: waits for its id's answer from the next loader call.
    async fn enqueue(&self, id: I) -> Answer<T, E> {
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.state.lock();
            state.since.get_or_insert_with(Instant::now);
            state.waiting.push((id, tx));
        }
        self.decide();
        rx.await.unwrap_or(Err(None))
    }

    /// A key decided: it waits for the loader, or it was answered without it.
    fn decide(&self) {
        self.undecided.fetch_sub(1, Ordering::AcqRel);
        self.changed.notify_one();
    }

    /// Calls `loader` for the waiting ids — once every key has decided, when the window has
    /// passed since the first one waited, or when `max_keys` wait — until every key decided.
    async fn run_calls(&self) {
        loop {
            let changed = self.changed.notified();
            let undecided = self.undecided.load(Ordering::Acquire);
            let (waiting, since) = {
                let state = self.state.lock();
                (state.waiting.len(), state.since)
            };
            let due = since.map(|s| s + self.window);
            let ready = waiting > 0
                && (undecided == 0
                    || waiting >= self.max_keys
                    || due.is_some_and(|d| Instant::now() >= d));
            if ready {
                self.call().await;
                continue;
            }
            if undecided == 0 && waiting == 0 {
                return;
            }
            match due {
                Some(due) => {
                    let _ = tokio::time::timeout_at(due.into(), changed).await;
                }
                None => changed.await,
            }
        }
    }

    /// One loader call for up to `max_keys` waiting ids.
    async fn call(&self) {
        let batch: Vec<_> = {
            let mut state = self.state.lock();
            let n = state.waiting.len().min(self.max_keys);
            let batch = state.waiting.drain(..n).collect();
            state.since = (!state.waiting.is_empty()).then(Instant::now);
            batch
        };
        let ids = batch.iter().map(|(id, _)| id.clone()).collect();
        answer(batch, (self.loader)(ids).await);
    }
}

/// An id waiting for a loader call, and where its answer goes.
pub(crate) type Waiter<I, T, E> = (I, oneshot::Sender<Answer<T, E>>);

/// Gives each of `waiters` its answer from one loader call's `result`.
pub(crate) fn answer<I: Eq + Hash, T, E>(
    waiters: Vec<Waiter<I, T, E>>,
    result: Result<HashMap<I, T>, E>,
) {
    match result {
        Ok(mut found) => {
            for (id, tx) in waiters {
                let _ = tx.send(Ok(found.remove(&id)));
            }
        }
        Err(e) => {
            let e = Arc::new(e);
            for (_, tx) in waiters {
                let _ = tx.send(Err(Some(e.clone())));
            }
        }
    }
}

impl<I, T, E, F, Fut> Rounds<I, T, E> for Round<'_, I, T, E, F>
where
    I: Clone + Eq + Hash,
    F: Fn(Vec<I>) -> Fut,
    Fut: Future<Output = Result<HashMap<I, T>, E>>,
{
    fn expect(&self, keys: usize) {
        self.undecided.store(keys, Ordering::Release);
    }

    fn wait(&self, id: I) -> impl Future<Output = Answer<T, E>> {
        self.enqueue(id)
    }

    fn decided(&self) {
        self.decide();
    }

    fn drive(&self) -> impl Future<Output = ()> {
        self.run_calls()
    }
}
