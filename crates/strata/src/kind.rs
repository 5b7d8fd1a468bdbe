//! `KindCache<T>`: the typed operations on the entries of one kind.

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use strata_keys::Key;

use crate::cacheable::CacheValue;
use crate::core::Core;
use crate::error::{Error, LoadError};
use crate::kinds::KindState;
use crate::load::{self, Load};
use crate::options::LoadOptions;
use crate::read::LookupKey;
use crate::{read, write};

/// The entries of one kind, as values of type `T`. Cheap to clone.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use strata::CacheBuilder;
///
/// let cache = CacheBuilder::new().build().await?;
/// let jobs = cache.kind::<String>("job")?;          // TTL from the table: 2h
/// jobs.set(7, "Build a cache".to_string()).await?;
/// assert_eq!(jobs.get(7).await?.as_deref().map(String::as_str), Some("Build a cache"));
///
/// // Loaded once, then served from the cache.
/// let title = jobs.get_or_load(8, || async { Ok::<_, std::io::Error>("Write docs".to_string()) }).await?;
/// assert_eq!(*title, "Write docs");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct KindCache<T> {
    pub(crate) core: Arc<Core>,
    pub(crate) kind: Arc<KindState>,
    /// `KindCache<T>` is `Send + Sync` whatever `T`'s auto traits.
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for KindCache<T> {
    fn clone(&self) -> Self {
        Self {
            core: self.core.clone(),
            kind: self.kind.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for KindCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindCache")
            .field("kind", &self.kind.keys.kind())
            .field("schema", &self.kind.keys.schema())
            .field("ttl", &self.kind.ttl)
            .finish()
    }
}

impl<T: CacheValue> KindCache<T> {
    pub(crate) fn new(core: Arc<Core>, kind: Arc<KindState>) -> Self {
        if kind.filler.get().is_none() {
            // The first typed handle tells hot-set warming how to read the kind.
            let _ = kind.filler.set(crate::hot_set::filler::<T>());
        }
        Self {
            core,
            kind,
            _t: PhantomData,
        }
    }

    /// The same kind under another schema version: entries of other versions become misses.
    pub fn with_schema(self, schema: u32) -> Self {
        match self.core.kind(self.kind.name(), schema) {
            Ok(kind) => Self::new(self.core, kind),
            Err(_) => self,
        }
    }

    /// The same kind with another TTL (its state made once per TTL, then shared).
    pub fn with_ttl(self, ttl: Duration) -> Self {
        if self.kind.ttl == ttl {
            return self;
        }
        let (name, schema) = (self.kind.name(), self.kind.keys.schema());
        let kind = self.core.kinds.with_ttl(name, schema, &self.kind, ttl);
        Self::new(self.core, kind)
    }

    /// The kind.
    pub fn kind(&self) -> &str {
        self.kind.name()
    }

    /// The TTL given to values (before jitter).
    pub fn ttl(&self) -> Duration {
        self.kind.ttl
    }

    /// The key of `id`.
    pub fn key(&self, id: impl Display) -> Result<Key, Error> {
        Ok(self.kind.keys.key(id)?)
    }

    /// The key of a serde id (tuples, structs: rendered as compact JSON).
    pub fn key_serde<I: serde::Serialize + ?Sized>(&self, id: &I) -> Result<Key, Error> {
        Ok(self.kind.keys.key_serde(id)?)
    }

    /// Declares that a miss of this kind will also need the entry of `other`'s kind with the
    /// same id (a relation: `whoami:U` needs `user:U` and `profile:U`). A load of this kind
    /// then reads those entries (and takes their load leases) in its own lookup's round trip,
    /// and the loads its loader makes inside it (`get_or_load` of the related kinds, or of any
    /// other) store their values together with it, in one batch once its loader returns:
    /// a composite miss costs two round trips instead of two per entry. Every entry keeps its
    /// own single flight, lease and stale-set check. Declaring twice is a no-op.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use strata::CacheBuilder;
    ///
    /// let cache = CacheBuilder::new().build().await?;
    /// let users = cache.kind::<String>("user")?;
    /// let whoami = cache.kind::<String>("whoami")?;
    /// whoami.needs(&users);
    /// let me = whoami
    ///     .get_or_load(7, || async {
    ///         let user = users.get_or_load(7, || async { Ok::<_, std::io::Error>("Ada".to_string()) }).await?;
    ///         Ok::<_, strata::LoadError<std::io::Error>>(format!("I am {user}"))
    ///     })
    ///     .await?;
    /// assert_eq!(*me, "I am Ada");
    /// assert!(users.get(7).await?.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn needs<U>(&self, other: &KindCache<U>) -> &Self {
        self.core
            .relations
            .add(self.kind.name(), other.kind.clone());
        self
    }

    /// The fresh value under `id`, if cached (`None` also for a cached absence).
    pub async fn get(&self, id: impl Display) -> Result<Option<Arc<T>>, Error> {
        // Rendered into a reused buffer: a hit by id allocates nothing.
        let key = self.kind.keys.key_str(id)?;
        read::get(&self.core, &self.kind, &key).await
    }

    /// [`get`](Self::get) by key.
    pub async fn get_at(&self, key: &Key) -> Result<Option<Arc<T>>, Error> {
        read::get(&self.core, &self.kind, key).await
    }

    /// Caches `value` under `id` for the kind's TTL, in both tiers. A backend failure is
    /// returned (the in-process copy is written anyway).
    pub async fn set(&self, id: impl Display, value: T) -> Result<(), Error> {
        self.set_arc(id, Arc::new(value)).await
    }

    /// Caches a shared value under `id`.
    pub async fn set_arc(&self, id: impl Display, value: Arc<T>) -> Result<(), Error> {
        let key = self.key(id)?;
        write::store(&self.core, &self.kind, &key, value, &[]).await
    }

    /// Caches `value` under `id` with `tags` (at most 64):
    /// [`Cache::invalidate_tag`](crate::Cache::invalidate_tag) on any of them makes it a miss.
    pub async fn set_tagged(&self, id: impl Display, value: T, tags: &[&str]) -> Result<(), Error> {
        let key = self.key(id)?;
        let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        write::store(&self.core, &self.kind, &key, Arc::new(value), &tags).await
    }

    /// Removes `id` from both tiers; true if the backend held it.
    pub async fn delete(&self, id: impl Display) -> Result<bool, Error> {
        let key = self.key(id)?;
        self.delete_at(&key).await
    }

    /// [`delete`](Self::delete) by key.
    pub async fn delete_at(&self, key: &Key) -> Result<bool, Error> {
        write::delete(&self.core, &self.kind, key).await
    }

    /// The fresh values under `ids`, in order: L1 first, then one batch read of L2 for the rest.
    pub async fn get_many<I: Display>(&self, ids: &[I]) -> Result<Vec<Option<Arc<T>>>, Error> {
        let keys = ids
            .iter()
            .map(|id| self.key(id))
            .collect::<Result<Vec<_>, _>>()?;
        read::get_many(&self.core, &self.kind, &keys).await
    }

    /// The values under `ids`, in order; the misses loaded by one call of `loader` with every
    /// missed id (a batch loader, like DataLoader's): it answers the values it found, by id;
    /// an id it leaves out is absent (`None`, cached for `negative_ttl` like
    /// [`get_or_load_optional`](Self::get_or_load_optional)'s). [`get_many_or_load_with`](Self::get_many_or_load_with)
    /// has the options.
    ///
    /// Each id keeps `get_or_load`'s guarantees: one load at a time per key in the process
    /// (an id another caller is loading joins that load), the key's load lease, and no store
    /// of a key invalidated during the batch. The lookups of the missed ids share one round
    /// trip, and so do their stores. The loader is called once when this call leads every
    /// missed id; an id whose load another caller leads and hands over (it was cancelled) joins
    /// a later call, made within `batch_window` (1 ms) of it; a call takes at most
    /// `batch_max_keys` (1,000) ids. A loader error fails the ids of its call (a stale value is
    /// served instead where there is one) and is returned.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::collections::HashMap;
    /// use strata::CacheBuilder;
    ///
    /// let cache = CacheBuilder::new().build().await?;
    /// let jobs = cache.kind::<String>("job")?;
    /// jobs.set(1, "cached".to_string()).await?;
    /// let found = jobs
    ///     .get_many_or_load(&[1, 2, 3], |ids: Vec<i32>| async move {
    ///         assert_eq!(ids, [2, 3]); // one call for the misses
    ///         Ok::<_, std::io::Error>(HashMap::from([(2, "loaded".to_string())]))
    ///     })
    ///     .await?;
    /// let found: Vec<_> = found.iter().map(|v| v.as_deref().map(String::as_str)).collect();
    /// assert_eq!(found, [Some("cached"), Some("loaded"), None]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn get_many_or_load<I, E, F, Fut>(
        &self,
        ids: &[I],
        loader: F,
    ) -> Result<Vec<Option<Arc<T>>>, LoadError<E>>
    where
        I: Display + Clone + Eq + Hash + Send + Sync,
        E: Send + Sync + 'static,
        F: Fn(Vec<I>) -> Fut,
        Fut: Future<Output = Result<HashMap<I, T>, E>>,
    {
        self.get_many_or_load_with(ids, &LoadOptions::default(), loader)
            .await
    }

    /// [`get_many_or_load`](Self::get_many_or_load) with options (TTL, tags, loader timeouts,
    /// the batch window and size).
    pub async fn get_many_or_load_with<I, E, F, Fut>(
        &self,
        ids: &[I],
        options: &LoadOptions,
        loader: F,
    ) -> Result<Vec<Option<Arc<T>>>, LoadError<E>>
    where
        I: Display + Clone + Eq + Hash + Send + Sync,
        E: Send + Sync + 'static,
        F: Fn(Vec<I>) -> Fut,
        Fut: Future<Output = Result<HashMap<I, T>, E>>,
    {
        let items = ids
            .iter()
            .map(|id| Ok((self.key(id)?, id.clone())))
            .collect::<Result<Vec<_>, Error>>()?;
        let load = load::load_many(&self.core, &self.kind, items, options, loader);
        crate::l2::operation(load).await
    }

    /// Caches many values at once (one batch write to the backend).
    pub async fn set_many<I: Display>(&self, items: Vec<(I, T)>) -> Result<(), Error> {
        let items = items
            .into_iter()
            .map(|(id, v)| Ok((self.key(id)?, Arc::new(v))))
            .collect::<Result<Vec<_>, Error>>()?;
        write::store_many(&self.core, &self.kind, items).await
    }

    /// The value under `id`; on a miss, `loader` runs once for all concurrent callers of this
    /// key in the process, and its value is cached. See [`get_or_load_with`](Self::get_or_load_with).
    pub async fn get_or_load<E: Send + Sync + 'static>(
        &self,
        id: impl Display,
        loader: impl Load<T, E>,
    ) -> Result<Arc<T>, LoadError<E>> {
        self.get_or_load_with(id, &LoadOptions::default(), loader)
            .await
    }

    /// [`get_or_load`](Self::get_or_load) with options (TTL, loader timeouts, fail-safe,
    /// refresh-ahead, tags).
    pub async fn get_or_load_with<E: Send + Sync + 'static>(
        &self,
        id: impl Display,
        options: &LoadOptions,
        loader: impl Load<T, E>,
    ) -> Result<Arc<T>, LoadError<E>> {
        // Rendered into a reused buffer: an L1 hit by id allocates no key.
        let key = self
            .kind
            .keys
            .key_str(id)
            .map_err(|e| LoadError::Cache(e.into()))?;
        self.load_present(&key, options, loader).await
    }

    /// [`get_or_load_with`](Self::get_or_load_with) by key.
    pub async fn get_or_load_at<E: Send + Sync + 'static>(
        &self,
        key: &Key,
        options: &LoadOptions,
        loader: impl Load<T, E>,
    ) -> Result<Arc<T>, LoadError<E>> {
        self.load_present(key, options, loader).await
    }

    /// The value under `key`, loaded by a loader that always answers one.
    async fn load_present<E: Send + Sync + 'static>(
        &self,
        key: &(impl LookupKey + ?Sized),
        options: &LoadOptions,
        loader: impl Load<T, E>,
    ) -> Result<Arc<T>, LoadError<E>> {
        let present = move || async move { loader.load().await.map(Some) };
        // Only a cached absence written through get_or_load_optional can be `None` here.
        load::load(&self.core, &self.kind, key, options, present)
            .await?
            .ok_or_else(|| {
                LoadError::Cache(Error::CachedAbsence {
                    key: key.text().to_owned(),
                })
            })
    }

    /// Like [`get_or_load_with`](Self::get_or_load_with) for loaders that may answer "absent".
    /// `None` is cached (negative caching) for [`LoadOptions::cache_none_for`], by default the
    /// configured `negative_ttl`; an invalidation of the id drops it like a value.
    pub async fn get_or_load_optional<E: Send + Sync + 'static>(
        &self,
        id: impl Display,
        options: &LoadOptions,
        loader: impl Load<Option<T>, E>,
    ) -> Result<Option<Arc<T>>, LoadError<E>> {
        let key = self
            .kind
            .keys
            .key_str(id)
            .map_err(|e| LoadError::Cache(e.into()))?;
        load::load(&self.core, &self.kind, &key, options, loader).await
    }

    /// [`get_or_load_optional`](Self::get_or_load_optional) by key: the core of every
    /// `get_or_load`.
    pub async fn load_optional_at<E: Send + Sync + 'static>(
        &self,
        key: &Key,
        options: &LoadOptions,
        loader: impl Load<Option<T>, E>,
    ) -> Result<Option<Arc<T>>, LoadError<E>> {
        load::load(&self.core, &self.kind, key, options, loader).await
    }
}
