//! The kinds in use: what a call needs about one (kind, schema), resolved once and shared.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::RwLock;
use strata_keys::KindKeys;
use strata_l1::L1;
use strata_stats::KindStats;

use strata_codec::TagVersion;

use crate::backends::BackendId;
use crate::config::KindSettings;
use crate::l2::L2;
use crate::versions::{KindGeneration, Stamp, Versions};

/// A kind's refresh settings (from `[kinds.<kind>]`) and its measured load time.
#[derive(Debug, Default)]
pub(crate) struct RefreshState {
    settings: KindSettings,
    /// An exponentially weighted mean of the kind's load times, in microseconds (0: none yet).
    delta_us: AtomicU64,
}

impl RefreshState {
    /// The state of a kind configured with `settings`.
    pub(crate) fn new(settings: Option<&KindSettings>) -> Self {
        Self {
            settings: settings.cloned().unwrap_or_default(),
            delta_us: AtomicU64::new(0),
        }
    }

    /// Records a load that took `us` microseconds (weight 1/8 against the past).
    pub(crate) fn record_load(&self, us: u64) {
        let old = self.delta_us.load(Ordering::Relaxed);
        let new = if old == 0 { us } else { (old * 7 + us) / 8 };
        self.delta_us.store(new.max(1), Ordering::Relaxed);
    }

    /// The kind's settings.
    pub(crate) fn settings(&self) -> &KindSettings {
        &self.settings
    }

    /// δ: the kind's measured load time in microseconds (0 before its first load).
    pub(crate) fn delta_us(&self) -> u64 {
        self.delta_us.load(Ordering::Relaxed)
    }
}

/// Everything about one (kind, schema) a call needs.
pub(crate) struct KindState {
    pub(crate) keys: KindKeys,
    pub(crate) ttl: Duration,
    pub(crate) stats: Arc<KindStats>,
    /// The kind's generation (shared by every schema and TTL of the kind).
    pub(crate) generation: Arc<KindGeneration>,
    /// The backend's registry of the kind's schema versions (see [`Family`]): an invalidation
    /// of one entity reaches it under every schema registered there.
    ///
    /// [`Family`]: strata_backend::batch::Family
    pub(crate) registry: String,
    /// When this instance last registered this schema (milliseconds on the cache's clock; 0:
    /// not since its last coherence reset).
    registered: Arc<AtomicU64>,
    /// The kind's refresh settings and measured load time.
    pub(crate) refresh: Arc<RefreshState>,
    /// Reads the kind's values from L2 into L1 (typed; set by the first typed handle made):
    /// what hot-set warming needs.
    pub(crate) filler: Arc<OnceLock<Arc<dyn Any + Send + Sync>>>,
    /// The kind's L1 store (its own partition, or the default pool; `None`: no L1), resolved
    /// once so the hit path finds it without a lookup.
    pub(crate) l1: Option<L1>,
    /// The kind's backend (where its entries and its generation counter live), resolved once
    /// like its L1 store.
    pub(crate) backend: BackendId,
    /// That backend's L2.
    pub(crate) l2: L2,
}

impl KindState {
    /// The kind's name.
    pub(crate) fn name(&self) -> &str {
        self.keys.kind()
    }

    /// The state of (kind, schema) for `keys`.
    pub(crate) fn new(
        (backend, l2): (BackendId, L2),
        keys: KindKeys,
        ttl: Duration,
        stats: Arc<KindStats>,
        generation: Arc<KindGeneration>,
    ) -> Self {
        let space = keys.space();
        let namespace = space.namespace();
        let kind_ns = keys.kind_namespace();
        let registry = format!("{namespace}#schemas:{}", &kind_ns[namespace.len()..]);
        Self {
            keys,
            ttl,
            stats,
            generation,
            registry,
            registered: Arc::default(),
            refresh: Arc::default(),
            filler: Arc::default(),
            l1: None,
            backend,
            l2,
        }
    }

    /// The same state with its L1 store.
    pub(crate) fn with_l1(mut self, l1: Option<L1>) -> Self {
        self.l1 = l1;
        self
    }

    /// The same state with these refresh settings.
    pub(crate) fn with_refresh(mut self, refresh: RefreshState) -> Self {
        self.refresh = Arc::new(refresh);
        self
    }

    /// The same kind with another TTL.
    pub(crate) fn with_ttl(&self, ttl: Duration) -> Self {
        Self {
            keys: self.keys.clone(),
            ttl,
            stats: self.stats.clone(),
            generation: self.generation.clone(),
            registry: self.registry.clone(),
            registered: self.registered.clone(),
            refresh: self.refresh.clone(),
            filler: self.filler.clone(),
            l1: self.l1.clone(),
            backend: self.backend,
            l2: self.l2.clone(),
        }
    }

    /// Whether an entry of this kind that recorded `recorded` (its generation and tags) is
    /// still current.
    pub(crate) async fn is_current(
        &self,
        versions: &Versions,
        recorded: (u64, Option<&[TagVersion]>),
    ) -> bool {
        versions
            .is_current(self.name(), &self.generation, recorded)
            .await
    }

    /// [`is_current`](Self::is_current) when it needs no backend read (`None` when it does).
    pub(crate) fn is_current_here(
        &self,
        versions: &Versions,
        recorded: (u64, Option<&[TagVersion]>),
    ) -> Option<bool> {
        versions.is_current_here(self.name(), &self.generation, recorded)
    }

    /// What an entry of this kind recording `tags` records if it is written now.
    pub(crate) async fn stamp(&self, versions: &Versions, tags: &[String]) -> Stamp {
        versions.stamp(self.name(), &self.generation, tags).await
    }

    /// The schema's member in the registry, when it is due at `now_ms`: the first time (until
    /// a reset), then again once `renew` has passed (the registry has a TTL in the backend).
    pub(crate) fn to_register(&self, now_ms: u64, renew: Duration) -> Option<String> {
        let renew_ms = u64::try_from(renew.as_millis()).unwrap_or(u64::MAX);
        let last = self.registered.load(Ordering::Acquire);
        let due = last == 0 || now_ms.saturating_sub(last) >= renew_ms;
        (due && self
            .registered
            .compare_exchange(last, now_ms.max(1), Ordering::AcqRel, Ordering::Acquire)
            .is_ok())
        .then(|| self.keys.schema().to_string())
    }
}

/// The (kind, schema) pairs this instance has used, by kind name (a lookup allocates nothing),
/// and the states of those with a TTL from the code ([`Cache::of`](crate::Cache::of)), made
/// once rather than per call.
#[derive(Default)]
pub(crate) struct Kinds {
    map: RwLock<HashMap<String, Vec<Variant>, foldhash::fast::RandomState>>,
    /// The state [`Cache::of`](crate::Cache::of) resolved for each type (its kind, schema
    /// and TTL are the type's constants): one lookup by type for the next call.
    by_type: RwLock<HashMap<TypeId, Arc<KindState>, foldhash::fast::RandomState>>,
    /// The states [`Cache::function_results`](crate::Cache::function_results) resolved, by
    /// value type, then prefix and code TTL (a `#[cached]` function's are constants).
    by_function: RwLock<HashMap<TypeId, Vec<FunctionKind>, foldhash::fast::RandomState>>,
}

/// The state of one `#[cached]` function's results.
struct FunctionKind {
    prefix: Box<str>,
    ttl: Option<Duration>,
    state: Arc<KindState>,
}

/// One state of a kind: its schema, and the TTL from the code it was made with (`None`: the
/// kind's own state).
struct Variant {
    schema: u32,
    ttl: Option<Duration>,
    state: Arc<KindState>,
}

impl Kinds {
    fn find(&self, kind: &str, schema: u32, ttl: Option<Duration>) -> Option<Arc<KindState>> {
        self.map
            .read()
            .get(kind)?
            .iter()
            .find(|v| v.schema == schema && v.ttl == ttl)
            .map(|v| v.state.clone())
    }

    fn insert(
        &self,
        kind: &str,
        schema: u32,
        ttl: Option<Duration>,
        state: KindState,
    ) -> Arc<KindState> {
        let mut map = self.map.write();
        let variants = map.entry(kind.to_owned()).or_default();
        if let Some(v) = variants.iter().find(|v| v.schema == schema && v.ttl == ttl) {
            return v.state.clone();
        }
        let state = Arc::new(state);
        variants.push(Variant {
            schema,
            ttl,
            state: state.clone(),
        });
        state
    }

    /// The state [`remember_type`](Self::remember_type) kept for `T`.
    #[inline]
    pub(crate) fn of_type<T: 'static>(&self) -> Option<Arc<KindState>> {
        self.by_type.read().get(&TypeId::of::<T>()).cloned()
    }

    /// Keeps `state` as `T`'s, resolved from the type's constants.
    pub(crate) fn remember_type<T: 'static>(&self, state: &Arc<KindState>) {
        self.by_type
            .write()
            .entry(TypeId::of::<T>())
            .or_insert_with(|| state.clone());
    }

    /// The state [`remember_function`](Self::remember_function) kept for results of type `T`
    /// under `prefix` with the code's `ttl`.
    #[inline]
    pub(crate) fn of_function<T: 'static>(
        &self,
        prefix: &str,
        ttl: Option<Duration>,
    ) -> Option<Arc<KindState>> {
        self.by_function
            .read()
            .get(&TypeId::of::<T>())?
            .iter()
            .find(|f| &*f.prefix == prefix && f.ttl == ttl)
            .map(|f| f.state.clone())
    }

    /// Keeps `state` as the results of type `T` under `prefix` with the code's `ttl`.
    pub(crate) fn remember_function<T: 'static>(
        &self,
        prefix: &str,
        ttl: Option<Duration>,
        state: &Arc<KindState>,
    ) {
        let mut map = self.by_function.write();
        let known = map.entry(TypeId::of::<T>()).or_default();
        if !known.iter().any(|f| &*f.prefix == prefix && f.ttl == ttl) {
            known.push(FunctionKind {
                prefix: prefix.into(),
                ttl,
                state: state.clone(),
            });
        }
    }

    /// The state of (`kind`, `schema`), if made already.
    pub(crate) fn get(&self, kind: &str, schema: u32) -> Option<Arc<KindState>> {
        self.find(kind, schema, None)
    }

    /// The state of (`kind`, `schema`), made by `make` the first time.
    pub(crate) fn get_or_insert(
        &self,
        kind: &str,
        schema: u32,
        make: impl FnOnce() -> KindState,
    ) -> Arc<KindState> {
        if let Some(state) = self.get(kind, schema) {
            return state;
        }
        self.insert(kind, schema, None, make())
    }

    /// `base` (the state of (`kind`, `schema`)) with `ttl`, made the first time: it shares
    /// everything else with `base`.
    pub(crate) fn with_ttl(
        &self,
        kind: &str,
        schema: u32,
        base: &KindState,
        ttl: Duration,
    ) -> Arc<KindState> {
        if let Some(state) = self.find(kind, schema, Some(ttl)) {
            return state;
        }
        self.insert(kind, schema, Some(ttl), base.with_ttl(ttl))
    }

    /// Every (kind, schema) state made so far.
    pub(crate) fn all(&self) -> Vec<Arc<KindState>> {
        self.bases().collect()
    }

    fn bases(&self) -> impl Iterator<Item = Arc<KindState>> {
        let map = self.map.read();
        let out: Vec<Arc<KindState>> = map
            .values()
            .flatten()
            .filter(|v| v.ttl.is_none())
            .map(|v| v.state.clone())
            .collect();
        out.into_iter()
    }

    /// Registers every schema again with the next write (the registry may have been lost with
    /// the messages a bus reset stands for).
    pub(crate) fn register_again(&self) {
        for state in self.bases() {
            state.registered.store(0, Ordering::Release);
        }
    }

    /// The schema versions of `kind` this instance has used (schema 1 if none).
    pub(crate) fn schemas_of(&self, kind: &str) -> Vec<u32> {
        let mut schemas: Vec<u32> = self
            .map
            .read()
            .get(kind)
            .map(|vs| vs.iter().map(|v| v.schema).collect())
            .unwrap_or_default();
        if schemas.is_empty() {
            schemas.push(1);
        }
        schemas.sort_unstable();
        schemas.dedup();
        schemas
    }
}
