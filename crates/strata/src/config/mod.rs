//! Configuration: an optional `strata.toml` plus `STRATA_*` and `REDIS_URL` environment overrides.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::coherence::CoherenceMode;
use crate::error::{ConfigError, ConfigProblem, Error};

mod analytics;
mod backend;
mod check;
mod distance;
mod env;
mod hot;
mod kinds;
mod serde_with;
mod warm;

pub use analytics::AnalyticsSettings;
pub use backend::{BackendSettings, QuotaSettings};
pub use env::TOOL_VARIABLES;
pub use hot::HotKeySettings;
pub use kinds::{KindSettings, L1Budget};
pub use warm::WarmSettings;

/// The top-level keys of [`CacheConfig`]; `STRATA_*` variables are read only under these.
pub(crate) const TOP_LEVEL_KEYS: &[&str] = &[
    "enabled",
    "prefix",
    "app_version",
    "default_ttl",
    "ttl",
    "kinds",
    "jitter",
    "max_stale",
    "negative_ttl",
    "operation_timeout",
    "strict",
    "metrics",
    "l1",
    "backend",
    "backends",
    "breaker",
    "admin_token",
    "bus",
    "coherence",
    "max_deferred_changes",
    "change_timeout",
    "hot_keys",
    "warm",
    "analytics",
];

/// Everything a [`Cache`](crate::Cache) is configured with.
///
/// Written in `strata.toml` (all keys optional), overridden by environment variables
/// `STRATA_<KEY>` (nested keys with `__`, e.g. `STRATA_L1__MAX_ENTRIES=5000`,
/// `STRATA_KINDS__USER__TTL=12h`) and `REDIS_URL`. Durations are written like `"24h"`, `"15m"`,
/// `"250ms"`. Unknown keys and bad values are errors naming the key and the file.
/// `Debug` hides the Redis password and the admin token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CacheConfig {
    /// Serve from the cache (default true). When false every read goes to its loader (`get`
    /// answers `None`) and no value is stored, while invalidations still apply, so nothing is
    /// stale when caching is turned back on. Switched at run time with
    /// [`Cache::set_enabled`](crate::Cache::set_enabled) (the monitoring router's
    /// `POST caching/`).
    pub enabled: bool,
    /// Key prefix: the namespace of this application's entries (default "strata").
    pub prefix: String,
    /// Application version: bump it to abandon every entry at once (default "v1").
    pub app_version: String,
    /// TTL of a kind that has none, in the configuration or in code (default 1h).
    #[serde(with = "humantime_serde")]
    pub default_ttl: Duration,
    /// TTL per kind, a shorthand for `[kinds.<kind>] ttl` (default: empty). A kind may not
    /// have its TTL in both.
    #[serde(with = "crate::config::serde_with::duration_map")]
    pub ttl: BTreeMap<String, Duration>,
    /// Settings per kind, `[kinds.<kind>]` (default: empty). Kinds named here and in `ttl`
    /// must be declared to the builder ([`CacheBuilder::declare`](crate::CacheBuilder::declare)):
    /// an undeclared one is an error with `strict`, else a warning (log and system health).
    pub kinds: BTreeMap<String, KindSettings>,
    /// Each TTL is multiplied by a random factor in `[1 - jitter, 1 + jitter]` so entries written
    /// together do not expire together (default 0.1; 0 turns it off; at most 0.5).
    pub jitter: f64,
    /// How long after its logical expiry a value is kept for fail-safe serving (default 5m).
    #[serde(with = "humantime_serde")]
    pub max_stale: Duration,
    /// TTL of cached absences (negative caching), default 1m.
    #[serde(with = "humantime_serde")]
    pub negative_ttl: Duration,
    /// Limit on each backend operation (default 250ms); a slower backend counts as a miss.
    #[serde(with = "humantime_serde")]
    pub operation_timeout: Duration,
    /// How long a change (a write, a delete, an invalidation) waits for the backend before it
    /// is deferred for a replay (default 1s; at least `operation_timeout`). Longer than a read
    /// waits, so that a server that blocks writes for a moment delays the change rather than
    /// leaving other instances serving what it replaces.
    #[serde(with = "humantime_serde")]
    pub change_timeout: Duration,
    /// Surface backend errors instead of treating them as misses (default false).
    pub strict: bool,
    /// Publish every statistic through the `metrics` crate (default true).
    pub metrics: bool,
    /// The in-process tier.
    pub l1: L1Settings,
    /// The backend tier.
    pub backend: BackendSettings,
    /// More backends, by name (`[backends.<name>]`, the same settings as `[backend]`): a kind
    /// routed to one (`[kinds.<kind>] backend = "<name>"`) keeps its entries there.
    pub backends: BTreeMap<String, BackendSettings>,
    /// The circuit breaker in front of the backend.
    pub breaker: BreakerSettings,
    /// The monitoring admin token (used by the HTTP layer; `STRATA_ADMIN_TOKEN`).
    pub admin_token: Option<String>,
    /// How the in-process tiers of instances sharing Redis stay coherent: "tracking" (the
    /// default: Redis client tracking pushes an invalidation for every key written under the
    /// prefix, by anyone), "bus" (instances publish their changes over pub/sub), "both" or
    /// "off". Only with a Redis backend.
    pub coherence: CoherenceMode,
    /// Deprecated: `bus = true` is `coherence = "bus"`, `bus = false` is `coherence = "off"`
    /// (accepted for one release, with a warning).
    pub bus: Option<bool>,
    /// Invalidations kept for a replay while the backend cannot be reached (default 10,000;
    /// 0: none, a failed invalidation is an error). Beyond it the oldest are lost and the
    /// instance flushes its L1.
    pub max_deferred_changes: usize,
    /// The per-kind hot-key sketches.
    pub hot_keys: HotKeySettings,
    /// Hot-set warming.
    pub warm: WarmSettings,
    /// Misses by cause, entry sizes and the miss-ratio curve (`[analytics]`).
    pub analytics: AnalyticsSettings,
    /// What loading found questionable and accepted (a `STRATA_` variable that names no
    /// setting); see [`warnings`](Self::warnings).
    #[serde(skip)]
    warnings: Vec<String>,
}

/// The default of [`L1Settings::verified_within`].
pub(crate) const DEFAULT_VERIFIED_WITHIN: Duration = Duration::from_millis(200);

/// Settings of the in-process tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct L1Settings {
    /// Whether the in-process tier is used (default true).
    pub enabled: bool,
    /// Budget in bytes held by decoded values (each weighs its envelope with the payload uncompressed; default 64 MiB).
    pub max_bytes: u64,
    /// Most entries (default 100,000).
    pub max_entries: u64,
    /// Longest life of an entry in L1 (default 60s).
    #[serde(with = "humantime_serde")]
    pub max_lifetime: Duration,
    /// An L1 entry is served only while the coherence channels (tracking, bus) confirmed,
    /// this recently, that no invalidation was missed — or while the entry itself was read or
    /// written this recently (default 200ms; heartbeats go out four times as often). A paused
    /// server, a half-dead connection or a paused instance thus stops L1 from serving within
    /// this bound; it reads through L2 instead until confirmed again.
    #[serde(with = "humantime_serde")]
    pub verified_within: Duration,
    /// How long L1 entries may still be served, unverified, after a coherence channel is lost
    /// (default 0: L1 is flushed at once). While Redis is unreachable this keeps serving from
    /// L1 instead of sending every request to the loaders; the price is staleness up to this
    /// bound. L1 is flushed when the channel is back.
    #[serde(with = "humantime_serde")]
    pub unverified_for: Duration,
}

impl Default for L1Settings {
    fn default() -> Self {
        let d = strata_l1::L1Config::default();
        Self {
            enabled: true,
            max_bytes: d.max_bytes,
            max_entries: d.max_entries,
            max_lifetime: d.max_lifetime,
            verified_within: DEFAULT_VERIFIED_WITHIN,
            unverified_for: Duration::ZERO,
        }
    }
}

/// Settings of the circuit breaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct BreakerSettings {
    /// Consecutive backend failures that open the circuit (default 5; 0 disables it).
    pub failures: u32,
    /// How long an open circuit skips the backend before probing it (default 5s).
    #[serde(with = "humantime_serde")]
    pub cooldown: Duration,
    /// Also open when this share of the calls over `window` failed (default 0.5; 0 turns it
    /// off): an intermittently failing backend rarely fails `failures` times in a row.
    pub failure_rate: f64,
    /// The sliding window of `failure_rate` (default 10s).
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// The fewest calls in the window before `failure_rate` applies (default 20).
    pub min_calls: u64,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failures: 5,
            cooldown: Duration::from_secs(5),
            failure_rate: 0.5,
            window: Duration::from_secs(10),
            min_calls: 20,
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            prefix: "strata".into(),
            app_version: "v1".into(),
            default_ttl: Duration::from_secs(3600),
            ttl: BTreeMap::new(),
            kinds: BTreeMap::new(),
            jitter: 0.1,
            max_stale: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(60),
            operation_timeout: strata_backend::DEFAULT_OPERATION_TIMEOUT,
            change_timeout: Duration::from_secs(1),
            strict: false,
            metrics: true,
            l1: L1Settings::default(),
            backend: BackendSettings::default(),
            backends: BTreeMap::new(),
            breaker: BreakerSettings::default(),
            admin_token: None,
            coherence: CoherenceMode::default(),
            bus: None,
            max_deferred_changes: 10_000,
            hot_keys: HotKeySettings::default(),
            warm: WarmSettings::default(),
            analytics: AnalyticsSettings::default(),
            warnings: Vec::new(),
        }
    }
}

impl std::fmt::Debug for CacheConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheConfig")
            .field("enabled", &self.enabled)
            .field("prefix", &self.prefix)
            .field("app_version", &self.app_version)
            .field("default_ttl", &self.default_ttl)
            .field("ttl", &self.ttl)
            .field("kinds", &self.kinds)
            .field("jitter", &self.jitter)
            .field("max_stale", &self.max_stale)
            .field("negative_ttl", &self.negative_ttl)
            .field("operation_timeout", &self.operation_timeout)
            .field("change_timeout", &self.change_timeout)
            .field("strict", &self.strict)
            .field("metrics", &self.metrics)
            .field("l1", &self.l1)
            .field("backend", &self.backend)
            .field("backends", &self.backends)
            .field("breaker", &self.breaker)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("coherence", &self.coherence)
            .field("bus", &self.bus)
            .field("max_deferred_changes", &self.max_deferred_changes)
            .field("hot_keys", &self.hot_keys)
            .field("warm", &self.warm)
            .field("analytics", &self.analytics)
            .field("warnings", &self.warnings)
            .finish()
    }
}

impl CacheConfig {
    /// Defaults, then `strata.toml` in the working directory if it exists, then the environment.
    pub fn load() -> Result<Self, Error> {
        Self::load_from(Path::new("strata.toml"), false)
    }

    /// Defaults, then the TOML file at `path` (an error if `required` and it is missing), then
    /// the process environment (`STRATA_*`, `REDIS_URL`).
    pub fn load_from(path: &Path, required: bool) -> Result<Self, Error> {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Self::load_from_vars(path, required, vars)
    }

    /// [`load_from`](Self::load_from) with the environment given as `vars` (name, value) instead
    /// of the process's: tests and embedders pass theirs explicitly.
    ///
    /// `STRATA_<KEY>` variables set keys (nested keys joined with `__`), `REDIS_URL` sets
    /// `backend.url`. A `STRATA_` variable whose first key is no setting (`STRATA_JITER`,
    /// `STRATA_L1_MAX_ENTRIES`) is ignored with a warning naming the closest setting
    /// ([`warnings`](Self::warnings)), an error with `strict`; Strata's own tool switches
    /// ([`TOOL_VARIABLES`]) are ignored silently. Unknown keys below a known one
    /// (`STRATA_L1__MAX_ENTRYS`) are errors naming the variable.
    pub fn load_from_vars<I, K, V>(path: &Path, required: bool, vars: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        if required && !path.exists() {
            return Err(Error::config(format!(
                "configuration file {} does not exist",
                path.display()
            )));
        }
        let env = env::EnvSource::new(vars);
        let figment = Figment::from(Serialized::defaults(CacheConfig::default()))
            .merge(Toml::file(path))
            .merge(env.clone());
        let mut config = Self::extract(&figment)?;
        config.warnings = env.unknown().to_vec();
        if config.strict && !config.warnings.is_empty() {
            return Err(Error::config(format!(
                "{} (strict refuses what it would otherwise warn about)",
                config.warnings.join("; ")
            )));
        }
        Ok(config)
    }

    /// Defaults, then the TOML text `toml` (no file, no environment); for tests and embedding.
    pub fn from_toml_str(toml: &str) -> Result<Self, Error> {
        let figment =
            Figment::from(Serialized::defaults(CacheConfig::default())).merge(Toml::string(toml));
        Self::extract(&figment)
    }

    /// How long a change waits for the backend: `change_timeout`, at least `operation_timeout`.
    pub(crate) fn change_limit(&self) -> Duration {
        self.change_timeout.max(self.operation_timeout)
    }

    /// The coherence mode in effect: `coherence`, or what the deprecated `bus` says when set.
    pub fn coherence_mode(&self) -> CoherenceMode {
        match self.bus {
            Some(true) => CoherenceMode::Bus,
            Some(false) => CoherenceMode::Off,
            None => self.coherence,
        }
    }

    /// What loading accepted with a warning (a `STRATA_` variable that names no setting, with
    /// the closest setting); the builder adds these to [`Cache::warnings`](crate::Cache::warnings).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn extract(figment: &Figment) -> Result<Self, Error> {
        let config: CacheConfig = figment.extract().map_err(|e| {
            // Every error found, each naming the key as its source spells it.
            let problems = e.into_iter().map(|e| check::problem(&e)).collect();
            Error::Config(ConfigError { problems })
        })?;
        config.check().map_err(|invalid| {
            let message = format!(
                "invalid value for {}: {}",
                check::key_as_written(figment, &invalid.key),
                invalid.problem
            );
            Error::Config(ConfigProblem::new(Some(invalid.key), message).into())
        })?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codec_and_the_backends_agree_on_the_largest_value() {
        assert_eq!(
            strata_codec::DEFAULT_MAX_VALUE_BYTES,
            strata_backend::DEFAULT_MAX_VALUE_BYTES
        );
    }

    #[test]
    fn the_environment_filter_knows_every_top_level_key() {
        let value = serde_json::to_value(CacheConfig::default()).unwrap();
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut known = TOP_LEVEL_KEYS.to_vec();
        known.sort_unstable();
        assert_eq!(keys, known);
    }
}
