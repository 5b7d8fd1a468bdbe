//! `BatchLoader`: a kind's batch loader shared by concurrent callers, whose misses within a
//! short window are loaded by one call (DataLoader's batching across requests).

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::cacheable::CacheValue;
use crate::error::{Error, LoadError};
use crate::kind::KindCache;
use crate::load::{self, Answer, Rounds, Waiter};
use crate::options::LoadOptions;

/// The loader a [`BatchLoader`] calls: the values found among many ids, by id.
type ManyLoader<I, T, E> =
    dyn Fn(Vec<I>) -> BoxFuture<'static, Result<HashMap<I, T>, E>> + Send + Sync;

/// A kind's batch loader, shared by every caller that holds a clone: the ids they miss within
/// [`LoadOptions::batch_window`] of one another (or once
/// [`batch_max_keys`](LoadOptions::batch_max_keys) wait) are loaded by one call, each id with
/// `get_or_load`'s single flight, lease and stale-set protection. Made by
/// [`KindCache::batch_loader`]; cheap to clone.
pub struct BatchLoader<T, I, E> {
    kind: KindCache<T>,
    options: Arc<LoadOptions>,
    window: Arc<Window<I, T, E>>,
}

impl<T, I, E> Clone for BatchLoader<T, I, E> {
    fn clone(&self) -> Self {
        Self {
            kind: self.kind.clone(),
            options: self.options.clone(),
            window: self.window.clone(),
        }
    }
}

impl<T, I, E> std::fmt::Debug for BatchLoader<T, I, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchLoader")
            .field("kind", &self.kind.kind.name())
            .field("window", &self.window.window)
            .field("max_keys", &self.window.max_keys)
            .finish()
    }
}

impl<T: CacheValue> KindCache<T> {
    /// A batch loader of this kind shared by concurrent callers (clone it into each): misses
    /// of any of them within `options.batch_window` (default 1 ms) are loaded by one call of
    /// `loader`, which answers the values it found by id (an id left out is absent). Each
    /// caller's own lookups take one round trip and its stores another. For the ids of one
    /// call, [`get_many_or_load`](Self::get_many_or_load) needs no shared loader.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::collections::HashMap;
    /// use strata::{CacheBuilder, LoadOptions};
    ///
    /// let cache = CacheBuilder::new().build().await?;
    /// let names = cache.kind::<String>("name")?.batch_loader(LoadOptions::new(), |ids: Vec<u32>| async move {
    ///     Ok::<_, std::io::Error>(ids.into_iter().map(|id| (id, format!("name {id}"))).collect::<HashMap<_, _>>())
    /// });
    /// // Two callers at once: one loader call for both ids.
    /// let (a, b) = tokio::join!(names.get(1), names.get(2));
    /// assert_eq!(a?.as_deref().map(String::as_str), Some("name 1"));
    /// assert_eq!(b?.as_deref().map(String::as_str), Some("name 2"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn batch_loader<I, E, F, Fut>(
        &self,
        options: LoadOptions,
        loader: F,
    ) -> BatchLoader<T, I, E>
    where
        I: Display + Clone + Eq + Hash + Send + Sync + 'static,
        E: Send + Sync + 'static,
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<HashMap<I, T>, E>> + Send + 'static,
    {
        let loader: Arc<ManyLoader<I, T, E>> = Arc::new(move |ids| Box::pin(loader(ids)));
        let window = Arc::new_cyclic(|me| Window {
            me: me.clone(),
            waiting: Mutex::default(),
            loader,
            window: options.batch_window,
            max_keys: options.batch_max_keys.max(1),
        });
        BatchLoader {
            kind: self.clone(),
            options: Arc::new(options),
            window,
        }
    }
}

impl<T, I, E> BatchLoader<T, I, E>
where
    T: CacheValue,
    I: Display + Clone + Eq + Hash + Send + Sync + 'static,
    E: Send + Sync + 'static,
{
    /// The value under `id` (`None`: absent), loaded with the other callers' misses.
    pub async fn get(&self, id: I) -> Result<Option<Arc<T>>, LoadError<E>> {
        let mut found = self.get_many(std::slice::from_ref(&id)).await?;
        Ok(found.pop().flatten())
    }

    /// The values under `ids`, in order, loaded with the other callers' misses.
    pub async fn get_many(&self, ids: &[I]) -> Result<Vec<Option<Arc<T>>>, LoadError<E>> {
        let items = ids
            .iter()
            .map(|id| Ok((self.kind.key(id)?, id.clone())))
            .collect::<Result<Vec<_>, Error>>()?;
        let (core, kind) = (&self.kind.core, &self.kind.kind);
        let rounds = Shared(&self.window);
        let load = load::load_through(core, kind, items, &self.options, &rounds);
        crate::l2::operation(load).await
    }
}

/// The ids waiting for the shared loader's next call.
struct Window<I, T, E> {
    me: Weak<Self>,
    waiting: Mutex<Vec<Waiter<I, T, E>>>,
    loader: Arc<ManyLoader<I, T, E>>,
    window: Duration,
    max_keys: usize,
}

impl<I, T, E> Window<I, T, E>
where
    I: Clone + Eq + Hash + Send + Sync + 'static,
    T: Send + 'static,
    E: Send + Sync + 'static,
{
    /// Waits for `id`'s answer: the first id of a round starts its timer; the one that fills
    /// it calls the loader at once.
    async fn enqueue(&self, id: I) -> Answer<T, E> {
        let (tx, rx) = oneshot::channel();
        let waiting = {
            let mut waiting = self.waiting.lock();
            waiting.push((id, tx));
            waiting.len()
        };
        if let Some(me) = self.me.upgrade() {
            if waiting >= self.max_keys {
                tokio::spawn(me.call());
            } else if waiting == 1 {
                tokio::spawn(async move {
                    tokio::time::sleep(me.window).await;
                    me.call().await;
                });
            }
        }
        rx.await.unwrap_or(Err(None))
    }

    /// One loader call for the ids waiting (up to `max_keys`; the rest start a new round).
    fn call(self: Arc<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move { self.call_now().await })
    }

    async fn call_now(&self) {
        let (batch, rest) = {
            let mut waiting = self.waiting.lock();
            let n = waiting.len().min(self.max_keys);
            let batch: Vec<_> = waiting.drain(..n).collect();
            (batch, waiting.len())
        };
        if rest > 0
            && let Some(me) = self.me.upgrade()
        {
            tokio::spawn(me.call());
        }
        if batch.is_empty() {
            return;
        }
        let ids = batch.iter().map(|(id, _)| id.clone()).collect();
        load::answer(batch, (self.loader)(ids).await);
    }
}

/// The shared window as a batch load's rounds: its calls are made by the window's own tasks.
struct Shared<'w, I, T, E>(&'w Arc<Window<I, T, E>>);

impl<I, T, E> Rounds<I, T, E> for Shared<'_, I, T, E>
where
    I: Clone + Eq + Hash + Send + Sync + 'static,
    T: Send + 'static,
    E: Send + Sync + 'static,
{
    fn expect(&self, _keys: usize) {}

    fn wait(&self, id: I) -> impl Future<Output = Answer<T, E>> {
        self.0.enqueue(id)
    }

    fn decided(&self) {}

    async fn drive(&self) {}
}
