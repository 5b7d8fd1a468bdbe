//! `CacheBuilder`: configuration in, a ready `Cache` out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use strata_backend::{Backend, Clock};
use strata_invalidation::{Bus, Tracker};
use strata_l1::{L1, L1Config};
use strata_stats::Stats;

use crate::cache::Cache;
use crate::cacheable::CacheKind;
use crate::coherence::Channels;
use crate::config::{CacheConfig, L1Budget};
use crate::core::{Core, Parts};
use crate::error::{ConfigError, ConfigProblem, Error};
use crate::listener::Listener;
use crate::open::{channels, open_backend};
use crate::pools::L1Pools;

/// Builds a [`Cache`] from a [`CacheConfig`] (defaults, a `strata.toml`, the environment) and
/// optional overrides.
///
/// Kinds are declared here ([`declare`](Self::declare), [`declare_kind`](Self::declare_kind),
/// or by giving them a TTL): a configured kind (`[kinds.<kind>]`, `[ttl]`) that no code declared
/// is most likely a typo, reported at build (an error with `strict`, else a warning in the log
/// and in [`Admin::warnings`](crate::Admin::warnings), withdrawn from the latter once the code uses the kind). So are
/// the configuration's own warnings ([`CacheConfig::warnings`]: a `STRATA_` variable that names
/// no setting).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use strata::{CacheBuilder, CacheConfig, Cacheable};
///
/// #[derive(serde::Serialize, serde::Deserialize, Cacheable)]
/// #[cacheable(kind = "product")]
/// struct Product { id: u64 }
///
/// let config = CacheConfig::from_toml_str("[ttl]\nproducts = \"90s\"\n")?;
/// let cache = CacheBuilder::from_config(config)
///     .prefix("shop")
///     .declare::<Product>()
///     .ttl("session", Duration::from_secs(600))
///     .build()
///     .await?;
/// assert_eq!(cache.admin().config().ttl_of("session"), Duration::from_secs(600));
/// assert!(cache.admin().warnings()[0].contains("did you mean `product`?"));
/// # Ok::<(), strata::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct CacheBuilder {
    config: CacheConfig,
    declared: BTreeSet<String>,
    backend: Option<Arc<dyn Backend>>,
    /// Named backends given in code, by name (over `[backends.<name>]`).
    named: BTreeMap<String, Arc<dyn Backend>>,
    /// Buses given in code for named backends (see [`named_bus`](Self::named_bus)).
    named_buses: BTreeMap<String, Arc<dyn Bus>>,
    bus: Option<Arc<dyn Bus>>,
    tracker: Option<Arc<dyn Tracker>>,
    clock: Clock,
}

impl Default for CacheBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl CacheBuilder {
    /// The defaults (no file, no environment): embedded memory backend, L1 on.
    pub fn new() -> Self {
        Self::from_config(CacheConfig::default())
    }

    /// From a configuration.
    pub fn from_config(config: CacheConfig) -> Self {
        Self {
            config,
            declared: BTreeSet::new(),
            backend: None,
            named: BTreeMap::new(),
            named_buses: BTreeMap::new(),
            bus: None,
            tracker: None,
            clock: Clock::system(),
        }
    }

    /// From `strata.toml` in the working directory (if present) and the environment.
    pub fn from_env() -> Result<Self, Error> {
        Ok(Self::from_config(CacheConfig::load()?))
    }

    /// From the TOML file at `path` (required) and the environment.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        Ok(Self::from_config(CacheConfig::load_from(
            path.as_ref(),
            true,
        )?))
    }

    /// Uses Redis at `url` (`redis://`, `rediss://`; comma-separated seeds for a cluster), as
    /// `[backend] url` or `REDIS_URL` would.
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.config.backend.url = Some(url.into());
        self
    }

    /// Uses this backend instead of the configured one (tests swap backends this way). Its
    /// namespace must be the cache's, `"{prefix}:"`, or [`build`](Self::build) refuses it.
    pub fn backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Uses `backend` as the named backend `name` (instead of opening `[backends.<name>]`;
    /// tests and embedded backends name theirs this way): the kinds routed to `name` (with
    /// [`route`](Self::route) or `[kinds.<kind>] backend`) keep their entries and their
    /// generation counter there. Its namespace must be the cache's, as for
    /// [`backend`](Self::backend). No coherence channel is opened for it (give one with
    /// [`named_bus`](Self::named_bus)): an embedded backend is this instance's own.
    pub fn named_backend(mut self, name: impl Into<String>, backend: Arc<dyn Backend>) -> Self {
        let name = name.into();
        self.config.backends.entry(name.clone()).or_default();
        self.named.insert(name, backend);
        self
    }

    /// Uses `bus` as the coherence channel of the named backend `name` given with
    /// [`named_backend`](Self::named_backend) (as [`bus`](Self::bus) does for the default one):
    /// the changes made on that backend reach the other instances through it, and the routed
    /// kinds' generation counters are kept in step by it. Without a channel, a backend given
    /// in code has its counters read from its server on every L2 read and write. A bus for a
    /// name no backend is given for makes [`build`](Self::build) fail, naming it.
    pub fn named_bus(mut self, name: impl Into<String>, bus: Arc<dyn Bus>) -> Self {
        self.named_buses.insert(name.into(), bus);
        self
    }

    /// Routes `kind` to the named backend `name` (over `[kinds.<kind>] backend`), and declares
    /// the kind. `name` must be a `[backends.<name>]` table or given with
    /// [`named_backend`](Self::named_backend), or [`build`](Self::build) refuses it.
    pub fn route(mut self, kind: impl Into<String>, name: impl Into<String>) -> Self {
        let kind = kind.into();
        self.config.kinds.entry(kind.clone()).or_default().backend = Some(name.into());
        self.declared.insert(kind);
        self
    }

    /// Keeps this instance's L1 in sync with others through `bus` (the Redis bus is opened
    /// automatically for a configured Redis URL; this overrides it).
    pub fn bus(mut self, bus: Arc<dyn Bus>) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Keeps this instance's L1 in step with the server through `tracker` (client tracking:
    /// every write under the cache's prefix, by anyone). Opened automatically for a configured
    /// Redis URL when `coherence` is "tracking" or "both"; this overrides it.
    pub fn tracker(mut self, tracker: Arc<dyn Tracker>) -> Self {
        self.tracker = Some(tracker);
        self
    }

    /// Reads time from `clock` (default: the system clock). With [`Clock::manual`] a test sees
    /// entries expire, become due for refresh or go stale without sleeping; backend TTLs and
    /// version counters stay on real time.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the key prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.prefix = prefix.into();
        self
    }

    /// Sets the app version.
    pub fn app_version(mut self, version: impl Into<String>) -> Self {
        self.config.app_version = version.into();
        self
    }

    /// Sets the TTL of one kind (over the configuration's), and declares the kind.
    pub fn ttl(mut self, kind: impl Into<String>, ttl: Duration) -> Self {
        let kind = kind.into();
        self.config.ttl.remove(&kind);
        self.config.kinds.entry(kind.clone()).or_default().ttl = Some(ttl);
        self.declared.insert(kind);
        self
    }

    /// Sets the TTL of `T`'s kind (over the configuration's), and declares it.
    pub fn ttl_of<T: CacheKind + ?Sized>(self, ttl: Duration) -> Self {
        self.ttl(T::KIND, ttl)
    }

    /// Declares `T`'s kind: configuration may name it (see the type's documentation).
    pub fn declare<T: CacheKind + ?Sized>(self) -> Self {
        self.declare_kind(T::KIND)
    }

    /// Declares the kind `kind` by name: for kinds without a type of their own (a
    /// `#[cached]` function's prefix, a response cache's [`ResponseKind`](crate::ResponseKind)).
    pub fn declare_kind(mut self, kind: impl AsRef<str>) -> Self {
        self.declared.insert(kind.as_ref().to_owned());
        self
    }

    /// Sets the TTL jitter fraction (0 turns it off).
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.config.jitter = jitter;
        self
    }

    /// Turns the in-process tier on or off.
    pub fn l1(mut self, enabled: bool) -> Self {
        self.config.l1.enabled = enabled;
        self
    }

    /// Gives `kind` an L1 partition of its own with `budget` (over the configuration's
    /// `[kinds.<kind>.l1]`), and declares the kind: its entries are then evicted only by its
    /// own, never by a flood of another kind.
    pub fn l1_budget(mut self, kind: impl Into<String>, budget: L1Budget) -> Self {
        let kind = kind.into();
        self.config.kinds.entry(kind.clone()).or_default().l1 = Some(budget);
        self.declared.insert(kind);
        self
    }

    /// Sets the longest life of an L1 entry.
    pub fn l1_max_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.l1.max_lifetime = lifetime;
        self
    }

    /// Sets how long values are kept past expiry for fail-safe serving.
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.config.max_stale = max_stale;
        self
    }

    /// Sets the backend operation timeout.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.config.operation_timeout = timeout;
        self
    }

    /// How long a change waits for the backend before it is deferred (see
    /// [`CacheConfig::change_timeout`]).
    pub fn change_timeout(mut self, timeout: Duration) -> Self {
        self.config.change_timeout = timeout;
        self
    }

    /// Sets the circuit breaker (0 failures disables it).
    pub fn breaker(mut self, failures: u32, cooldown: Duration) -> Self {
        self.config.breaker.failures = failures;
        self.config.breaker.cooldown = cooldown;
        self
    }

    /// Surfaces backend errors on reads (default: they are counted misses).
    pub fn strict(mut self, strict: bool) -> Self {
        self.config.strict = strict;
        self
    }

    /// Sets the monitoring admin token.
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.config.admin_token = Some(token.into());
        self
    }

    /// Publishes statistics through the `metrics` crate (default true).
    pub fn metrics(mut self, enabled: bool) -> Self {
        self.config.metrics = enabled;
        self
    }

    /// The configuration so far.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Validates the configuration, opens the backend and returns the cache.
    ///
    /// With a Redis URL, Redis is checked once (connect, authenticate, select the database,
    /// within `backend.connect_timeout`; a refused port answers at once). A failure is logged
    /// with its cause (a wrong password, no such database, refused, an unknown host) and kept in
    /// [`Admin::warnings`](crate::Admin::warnings) and [`Admin::last_backend_error`](crate::Admin::last_backend_error); the cache starts anyway and works
    /// from its loaders until Redis answers (the connection is made lazily), unless `strict`,
    /// where the build fails with that error.
    pub async fn build(self) -> Result<Cache, Error> {
        self.config.validate().map_err(Error::config)?;
        for kind in &self.declared {
            strata_keys::KindName::new(kind)?;
        }
        let mut warnings = self.config.warnings().to_vec();
        warnings.extend(self.config.undeclared_kinds(&self.declared));
        if self.config.strict && !warnings.is_empty() {
            return Err(Error::Config(ConfigError {
                problems: warnings
                    .into_iter()
                    .map(|w| ConfigProblem::new(None, w))
                    .collect(),
            }));
        }
        if let Some(bus) = self.config.bus {
            warnings.push(format!(
                "`bus = {bus}` is deprecated: write `coherence = \"{}\"` instead",
                self.config.coherence_mode().as_str()
            ));
        }
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        let namespace = format!(
            "{}:",
            strata_keys::KeySpace::new(&self.config.prefix, &self.config.app_version)?.prefix()
        );
        for backend in self.backend.iter().chain(self.named.values()) {
            check_namespace(backend, &namespace, &self.config.prefix)?;
        }
        let opened_here = self.backend.is_none();
        let (backend, start_error) = match self.backend {
            Some(b) => (b, None),
            None => open_backend(&self.config, &self.config.backend, &namespace).await?,
        };
        let given = Channels {
            bus: self.bus,
            tracker: self.tracker,
        };
        let opened = opened_here.then_some(start_error.is_none());
        let settings = (&self.config, &self.config.backend);
        let Channels { bus, tracker } =
            channels(settings, &namespace, given, &backend, opened).await?;
        let mut named_errors = Vec::new();
        if let Some(name) = (self.named_buses.keys()).find(|n| !self.named.contains_key(*n)) {
            return Err(Error::config(format!(
                "named_bus(\"{name}\"): no backend named \"{name}\" was given with named_backend"
            )));
        }
        let given = (self.named, self.named_buses);
        let named = open_named(&self.config, given, &namespace, &mut named_errors).await?;
        let start_warnings = (start_error.iter().chain(&named_errors))
            .map(|e| e.message().to_owned())
            .collect();
        let stats = crate::analytics::stats(&self.config);
        let l1 = l1_for(&self.config, &stats);
        let core = Core::shared(Parts {
            config: self.config,
            declared: self.declared,
            start_warnings,
            backend,
            named,
            l1,
            stats,
            bus,
            tracker,
            clock: self.clock,
        })?;
        if let Some(e) = &start_error {
            core.l2.breaker().record_error(e);
        }
        tracing::info!(
            coherence = core.coherence.mode().as_str(),
            "L1 coherence: {}",
            core.coherence.mode().as_str()
        );
        Listener::spawn_all(&core);
        Ok(Cache::new(core))
    }
}

/// Refuses a backend whose namespace is not the cache's.
fn check_namespace(backend: &Arc<dyn Backend>, namespace: &str, prefix: &str) -> Result<(), Error> {
    if backend.namespace() == namespace {
        return Ok(());
    }
    Err(Error::config(format!(
        "the backend's namespace {:?} does not match the cache's prefix {prefix:?}: \
             entries would be written outside what clear() and the scans reach; \
             give the backend the namespace {namespace:?} \
             (MemoryConfig::with_namespace, RedisConfig::with_namespace)",
        backend.namespace(),
    )))
}

/// The named backends and their buses given in code, by name.
type GivenNamed = (
    BTreeMap<String, Arc<dyn Backend>>,
    BTreeMap<String, Arc<dyn Bus>>,
);

/// The named backends (`[backends.<name>]`, or `given` in code) with their coherence channels:
/// for one opened from the configuration, those the coherence mode asks for (a tracker or a
/// bus subscription of its own). Their start errors are added to `errors`.
async fn open_named(
    config: &CacheConfig,
    (mut given, mut buses): GivenNamed,
    namespace: &str,
    errors: &mut Vec<strata_backend::BackendError>,
) -> Result<Vec<(String, Arc<dyn Backend>, Channels)>, Error> {
    let mut out = Vec::with_capacity(config.backends.len());
    for (name, settings) in &config.backends {
        let none = Channels {
            bus: buses.remove(name),
            tracker: None,
        };
        let (backend, opened) = match given.remove(name) {
            Some(b) => (b, None),
            None => {
                let (backend, error) = open_backend(config, settings, namespace).await?;
                let answered = error.is_none();
                errors.extend(error);
                (backend, Some(answered))
            }
        };
        let channels = channels((config, settings), namespace, none, &backend, opened).await?;
        out.push((name.clone(), backend, channels));
    }
    Ok(out)
}

/// The in-process tier the configuration asks for (the default pool and one partition per
/// kind with a budget of its own), its evictions counted per kind.
fn l1_for(config: &CacheConfig, stats: &Stats) -> L1Pools {
    if !config.l1.enabled {
        return L1Pools::default();
    }
    let stats = stats.clone();
    let hook: strata_l1::EvictionHook = Arc::new(move |key| {
        if let Ok(parts) = strata_keys::Key::parse(key) {
            stats.kind(&parts.kind).l1_evicted(key.as_str());
        }
    });
    let store = |max_bytes, max_entries| {
        L1::with_eviction_hook(
            L1Config::default()
                .with_max_bytes(max_bytes)
                .with_max_entries(max_entries)
                .with_max_lifetime(config.l1.max_lifetime),
            Some(hook.clone()),
        )
    };
    let partitions = config
        .kinds
        .keys()
        .filter_map(|kind| {
            let (bytes, entries) = config.l1_budget_of(kind)?;
            Some((kind.clone(), store(bytes, entries)))
        })
        .collect();
    L1Pools::new(
        Some(store(config.l1.max_bytes, config.l1.max_entries)),
        partitions,
    )
}
