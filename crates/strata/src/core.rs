//! `Core`: the components one cache is made of, composed once and shared by its handles.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use rand::RngExt;
use strata_backend::{Backend, CircuitBreaker, Clock};
use strata_codec::MsgPackCodec;
use strata_invalidation::{Bus, Tracker};
use strata_keys::{KeySpace, KindName};
use strata_stats::Stats;

use crate::backends::Backends;
use crate::bus::BusLink;
use crate::coherence::{Channels, Coherence, CoherenceMode};
use crate::config::CacheConfig;
use crate::deferred::Deferred;
use crate::error::Error;
use crate::kinds::RefreshState;
use crate::kinds::{KindState, Kinds};
use crate::l2::L2;
use crate::local::Local;
use crate::owned::Loaders;
use crate::pools::L1Pools;
use crate::relations::Relations;
use crate::versions::Versions;
use crate::warming::Warming;

/// The components of a cache. Each owns its state; this struct only holds them together.
pub(crate) struct Core {
    pub(crate) config: CacheConfig,
    /// The kinds declared to the builder.
    pub(crate) declared: BTreeSet<String>,
    /// What the builder found wrong at start without refusing it (Redis could not be used).
    pub(crate) start_warnings: Vec<String>,
    /// Whether caching is on (the run-time switch; see `CacheConfig::enabled`).
    pub(crate) enabled: AtomicBool,
    pub(crate) space: KeySpace,
    pub(crate) clock: Clock,
    pub(crate) stats: Stats,
    pub(crate) local: Local,
    /// The default backend's L2 (`[backend]`: tag counters, the unrouted kinds).
    pub(crate) l2: L2,
    /// Every backend (the default one and the named ones kinds are routed to).
    pub(crate) backends: Backends,
    pub(crate) versions: Versions,
    pub(crate) kinds: Kinds,
    pub(crate) bus: BusLink,
    /// The server's client tracking, when used.
    pub(crate) tracker: Option<Arc<dyn Tracker>>,
    /// Whether L1 may be trusted (the channels' heartbeats).
    pub(crate) coherence: Coherence,
    /// The coherence channels of the named backends, in their order (one tracker or bus
    /// subscription per backend).
    pub(crate) named_channels: Vec<Channels>,
    /// The owned loaders kinds registered (background refresh, warming).
    pub(crate) loaders: Loaders,
    /// The start-up warming's state.
    pub(crate) warming: Warming,
    /// The relations kinds declared (what a miss of each will also need).
    pub(crate) relations: Relations,
    /// This core, for the tasks it spawns (a background refresh owns its `Arc`).
    pub(crate) me: Weak<Core>,
}

/// What a cache is built from (see [`CacheBuilder`](crate::CacheBuilder)).
pub(crate) struct Parts {
    pub(crate) config: CacheConfig,
    pub(crate) declared: BTreeSet<String>,
    pub(crate) start_warnings: Vec<String>,
    pub(crate) backend: Arc<dyn Backend>,
    /// The named backends kinds are routed to, with their coherence channels.
    pub(crate) named: Vec<(String, Arc<dyn Backend>, Channels)>,
    pub(crate) l1: L1Pools,
    pub(crate) stats: Stats,
    pub(crate) bus: Option<Arc<dyn Bus>>,
    pub(crate) tracker: Option<Arc<dyn Tracker>>,
    pub(crate) clock: Clock,
}

impl Core {
    /// The core made of `parts`, shared.
    pub(crate) fn shared(parts: Parts) -> Result<Arc<Self>, Error> {
        let Parts {
            config,
            declared,
            start_warnings,
            backend,
            named,
            l1,
            stats,
            bus,
            tracker,
            clock,
        } = parts;
        let space = KeySpace::new(&config.prefix, &config.app_version)?;
        let codec = MsgPackCodec::default().with_max_value_bytes(config.backend.max_value_bytes);
        let b = &config.breaker;
        let new_breaker = || {
            CircuitBreaker::new(b.failures, b.cooldown).with_failure_rate(
                b.failure_rate,
                b.window,
                b.min_calls,
            )
        };
        let layered = |backend, breaker| {
            L2::new(
                backend,
                config.operation_timeout,
                breaker,
                codec.clone(),
                config.strict,
            )
        };
        let l2 = layered(backend, new_breaker());
        let mut named_l2 = Vec::with_capacity(named.len());
        let mut named_channels = Vec::with_capacity(named.len());
        for (name, backend, channels) in named {
            // Each backend has a breaker of its own: one failing does not open the others.
            named_l2.push((name, layered(backend, new_breaker())));
            named_channels.push(channels);
        }
        let default_mode = CoherenceMode::of(tracker.is_some(), bus.is_some());
        let (mode, modes) = coherence_modes(default_mode, &named_channels);
        let backends = backends(&config, l2.clone(), named_l2).with_modes(modes);
        let versions = Versions::new(
            &space,
            tag_version_ttl(&config),
            bus.is_some() || tracker.is_some(),
            l2.clone(),
        )?
        .with_routes(backends.routed());
        let coherence = Coherence::new(mode, config.l1.verified_within, config.l1.unverified_for);
        let local = Local::new(l1, clock.clone(), config.max_stale)
            .with_forget_hook(crate::forget::forget_hook(&config, &stats));
        Ok(Arc::new_cyclic(|me| Self {
            me: me.clone(),
            loaders: Loaders::default(),
            warming: Warming::default(),
            relations: Relations::default(),
            start_warnings,
            space,
            clock,
            stats,
            local,
            l2,
            backends,
            named_channels,
            versions,
            kinds: Kinds::default(),
            bus: BusLink::new(bus, rand::rng().random()),
            tracker,
            coherence,
            enabled: AtomicBool::new(config.enabled),
            config,
            declared,
        }))
    }

    /// Whether caching is on.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// The state of (`kind`, `schema`), resolved once; `kind` must be a valid application
    /// kind name.
    pub(crate) fn kind(&self, kind: &str, schema: u32) -> Result<Arc<KindState>, Error> {
        if let Some(state) = self.kinds.get(kind, schema) {
            return Ok(state);
        }
        Ok(self.kind_named(&KindName::new(kind)?, schema))
    }

    /// The state of (`kind`, `schema`), resolved once.
    pub(crate) fn kind_named(&self, kind: &KindName, schema: u32) -> Arc<KindState> {
        let name = kind.as_str();
        self.kinds.get_or_insert(name, schema, || {
            let backend = self.backends.of_kind(name);
            KindState::new(
                (backend, self.backends.get(backend).l2().clone()),
                self.space.keys_of(kind).with_schema(schema),
                self.config.ttl_of(name),
                self.stats.kind(name),
                self.versions.kind(name),
            )
            .with_refresh(RefreshState::new(self.config.kinds.get(name)))
            .with_l1(self.local.pools().of_kind(name).cloned())
        })
    }

    /// The TTL of `kind` given `code_ttl` from the code: the configuration's, else the
    /// code's; `None` when the kind's state already has the right one.
    pub(crate) fn code_ttl(&self, kind: &str, code_ttl: Option<Duration>) -> Option<Duration> {
        code_ttl.filter(|_| self.config.configured_ttl(kind).is_none())
    }

    /// The schema of `kind` to register with the next write, when due: the registry lives
    /// [`registry_ttl`] in the backend, renewed at half of it.
    pub(crate) fn to_register(&self, kind: &KindState) -> Option<String> {
        kind.to_register(self.clock.now_ms(), registry_ttl(&self.config) / 2)
    }

    /// `ttl` stretched or shrunk by the configured jitter.
    pub(crate) fn jittered(&self, ttl: Duration) -> Duration {
        let j = self.config.jitter;
        if j <= 0.0 {
            return ttl;
        }
        let factor = 1.0 + rand::rng().random_range(-j..=j);
        ttl.mul_f64(factor).max(Duration::from_millis(1))
    }
}

/// Each backend's coherence mode, what its channels provide (`default`'s, then the `named`
/// ones'), and the cache's: all of them together.
fn coherence_modes(
    default: CoherenceMode,
    named: &[Channels],
) -> (CoherenceMode, Vec<CoherenceMode>) {
    let modes: Vec<CoherenceMode> = std::iter::once(default)
        .chain(named.iter().map(Channels::mode))
        .collect();
    let mode = modes.iter().copied().fold(default, CoherenceMode::with);
    (mode, modes)
}

/// The cache's backends: the default one's `l2` and the `named` ones, with the routes of the
/// kinds and a queue of deferred changes each.
fn backends(config: &CacheConfig, l2: L2, named: Vec<(String, L2)>) -> Backends {
    let routes = config
        .kinds
        .iter()
        .filter_map(|(kind, s)| Some((kind.clone(), s.backend.clone()?)));
    Backends::new(l2, named, routes, |backend| {
        Deferred::new(config.max_deferred_changes, backend, config.change_limit())
    })
}

/// How long a tag's version counter lives after its last invalidation: twice the longest time
/// an entry can live (TTL + max stale), at least an hour. An entry cannot outlive the counter it
/// recorded, and a counter that expires anyway comes back higher than any recorded value.
/// How long a kind's schema registry lives in the backend after its last registration: as
/// long as a tag counter (it must outlive every entry of the kind), at least an hour.
pub(crate) fn registry_ttl(config: &CacheConfig) -> Duration {
    tag_version_ttl(config).unwrap_or(Duration::from_secs(3600))
}

fn tag_version_ttl(config: &CacheConfig) -> Option<Duration> {
    let longest = config
        .ttl
        .values()
        .copied()
        .chain(config.kinds.values().filter_map(|k| k.ttl))
        .chain([config.default_ttl, config.negative_ttl])
        .max()
        .unwrap_or_default();
    if longest.is_zero() {
        return None;
    }
    Some(
        (longest + config.max_stale)
            .saturating_mul(2)
            .max(Duration::from_secs(3600)),
    )
}
