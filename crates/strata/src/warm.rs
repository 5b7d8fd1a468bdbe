//! Warming: filling the cache ahead of the requests, from a list of ids through the kind's
//! owned loader, with bounded concurrency and progress.

use std::collections::HashSet;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::StreamExt;
use strata_keys::Key;

use crate::cacheable::CacheValue;
use crate::core::Core;
use crate::error::Error;
use crate::kind::KindCache;
use crate::load::{self, OwnedCall};
use crate::options::LoadOptions;
use crate::owned::OwnedLoader;
use crate::read;

/// A kind's warm-up by name: what [`Admin::warm`](crate::Admin::warm) runs.
type Warmer = Arc<
    dyn Fn(
            Vec<String>,
            WarmOptions,
        ) -> Pin<Box<dyn Future<Output = Result<WarmProgress, Error>> + Send>>
        + Send
        + Sync,
>;

/// Warms `kind` by name for `ids` through its owned loader (any type).
pub(crate) async fn warm_by_name(
    core: &Core,
    kind: &str,
    ids: Vec<String>,
    options: WarmOptions,
) -> Result<WarmProgress, Error> {
    let warmer = core
        .loaders
        .warmer(kind)
        .and_then(|w| w.downcast_ref::<Warmer>().cloned())
        .ok_or_else(|| Error::NoLoader {
            kind: kind.to_owned(),
            expected: "any",
        })?;
    warmer(ids, options).await
}

/// How [`KindCache::warm`] runs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WarmOptions {
    /// Loads running at once (default 8; 0 is taken as 1).
    pub concurrency: usize,
    /// Ids looked up in L2 in one batch before loading the missing ones (default 100).
    pub batch: usize,
    /// Options of each load (TTL, timeouts, tags).
    pub load: LoadOptions,
}

impl Default for WarmOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            batch: 100,
            load: LoadOptions::default(),
        }
    }
}

impl WarmOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how many loads run at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Sets the options of each load.
    pub fn load_options(mut self, options: LoadOptions) -> Self {
        self.load = options;
        self
    }
}

/// How far a warm-up got; passed to the progress callback after each id, and returned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct WarmProgress {
    /// Distinct ids to warm.
    pub total: u64,
    /// Ids done (the sum of the three below).
    pub done: u64,
    /// Ids already cached (found in L1 or L2; an L2 find fills L1).
    pub cached: u64,
    /// Ids loaded through the loader and cached (an absence counts when negative caching
    /// stores it).
    pub loaded: u64,
    /// Ids whose load failed (logged; the warm-up goes on).
    pub failed: u64,
}

impl<T: CacheValue> KindCache<T> {
    /// Registers the kind's owned loader: `loader(id)` answers the value of the id (as the key
    /// holds it: the `Display` of the id given to `get`, `set`, `get_or_load`), `None` when
    /// absent. The cache runs it on its own — for background refreshes
    /// (`[kinds.<kind>] background_refresh`, `LoadOptions::background_refresh`) and for
    /// [`warm`](Self::warm) — so it owns what it needs (`Send + 'static`: clone an `Arc` of
    /// the application's state into it). One per kind; registering again replaces it.
    pub fn register_loader<F, Fut, E>(&self, loader: F)
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<T>, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        self.core
            .loaders
            .register(self.kind(), OwnedLoader::new(loader));
        // The warm-up by name (Admin::warm) holds the core weakly: the core holds it.
        let (core, kind) = (Arc::downgrade(&self.core), self.kind.clone());
        let warmer: Warmer = Arc::new(move |ids, options| {
            let (core, kind) = (core.clone(), kind.clone());
            Box::pin(async move {
                let core = core
                    .upgrade()
                    .ok_or_else(|| Error::config("the cache is gone"))?;
                let handle = KindCache::<T>::new(core, kind);
                handle.warm(ids, &options, |_| {}).await
            })
        });
        self.core
            .loaders
            .register_warmer(self.kind(), Arc::new(warmer));
    }

    /// Warms the kind for `ids`: each id not cached yet is loaded once through the kind's owned
    /// loader ([`register_loader`](Self::register_loader)), at most
    /// [`WarmOptions::concurrency`] at a time, with the same single flight, lease and
    /// stale-set protection as `get_or_load`; `progress` is called after each id. Ids already
    /// cached are read from L2 in batches (which fills L1). A failed load is counted and
    /// logged, not an error. Errors: no owned loader of type `T`, an id that makes no key.
    pub async fn warm<I: Display>(
        &self,
        ids: impl IntoIterator<Item = I>,
        options: &WarmOptions,
        mut progress: impl FnMut(WarmProgress),
    ) -> Result<WarmProgress, Error> {
        let loader = self.owned_loader()?;
        let mut seen = HashSet::new();
        let mut keys: Vec<(Key, String)> = Vec::new();
        for id in ids {
            let id = id.to_string();
            let key = self.key(&id)?;
            if seen.insert(key.clone()) {
                keys.push((key, id));
            }
        }
        let mut p = WarmProgress {
            total: keys.len() as u64,
            ..WarmProgress::default()
        };
        for chunk in keys.chunks(options.batch.max(1)) {
            let batch: Vec<Key> = chunk.iter().map(|(k, _)| k.clone()).collect();
            let found = read::get_many::<T>(&self.core, &self.kind, &batch).await?;
            let missing: Vec<&(Key, String)> = chunk
                .iter()
                .zip(&found)
                .filter_map(|(item, v)| v.is_none().then_some(item))
                .collect();
            for _ in 0..chunk.len() - missing.len() {
                p.cached += 1;
                p.done += 1;
                progress(p);
            }
            // Collected first: a stream mapping with a closure over references makes the
            // warm-up's future fail the `Send` check `Admin::warm` needs.
            let mut calls = Vec::with_capacity(missing.len());
            for (key, id) in missing {
                let call = OwnedCall::new(loader.clone(), id.clone());
                calls.push(load::load(&self.core, &self.kind, key, &options.load, call));
            }
            let mut loads =
                futures::stream::iter(calls).buffer_unordered(options.concurrency.max(1));
            while let Some(result) = loads.next().await {
                match result {
                    Ok(_) => p.loaded += 1,
                    Err(e) => {
                        tracing::warn!(kind = self.kind(), error = %e, "warming: a load failed");
                        p.failed += 1;
                    }
                }
                p.done += 1;
                progress(p);
            }
        }
        Ok(p)
    }

    /// The kind's owned loader.
    fn owned_loader(&self) -> Result<Arc<OwnedLoader<T>>, Error> {
        self.core
            .loaders
            .get::<T>(self.kind())
            .ok_or_else(|| Error::NoLoader {
                kind: self.kind().to_owned(),
                expected: std::any::type_name::<T>(),
            })
    }
}
