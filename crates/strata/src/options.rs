//! Per-call options of `get_or_load`.

use std::time::Duration;

/// How [`get_or_load_with`](crate::KindCache::get_or_load_with) behaves.
///
/// Defaults: the kind's TTL, absences cached for the configured `negative_ttl`, no loader
/// timeouts, fail-safe on (serve a stale value when the loader fails), refresh-ahead, XFetch
/// and background refresh as the kind's settings say (`[kinds.<kind>]`), else off.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LoadOptions {
    /// TTL of the loaded value (default: the kind's).
    pub ttl: Option<Duration>,
    /// Cache a `None` answer of an optional load for this long (negative caching); unset: the
    /// configured `negative_ttl` (default 1m); zero: do not cache absences.
    pub cache_none_for: Option<Duration>,
    /// Give up on the loader after this long: a stale value is served if there is one, else
    /// [`LoadError::Timeout`](crate::LoadError::Timeout).
    pub hard_timeout: Option<Duration>,
    /// When a stale value exists, serve it if the loader has not answered within this long.
    pub soft_timeout: Option<Duration>,
    /// Do not serve stale values when the loader fails (default false: fail-safe on).
    pub no_fail_safe: bool,
    /// Refresh ahead of expiry: once a value has lived this fraction of its TTL (e.g. 0.8), the
    /// next caller reloads it (one caller; the others keep getting the current value), or a
    /// background task does with `background_refresh` (default: the kind's `refresh_ahead`).
    pub refresh_ahead: Option<f64>,
    /// XFetch's β (at least 1): a reader refreshes early with probability
    /// `exp(−(expiry − now) / (δ·β))`, δ the kind's measured load time (default: the kind's
    /// `xfetch_beta`, else off).
    pub xfetch_beta: Option<f64>,
    /// Refresh (ahead, XFetch, or a stale value) in a background task through the kind's owned
    /// loader ([`KindCache::register_loader`](crate::KindCache::register_loader)), serving the
    /// current value meanwhile (default: the kind's `background_refresh`, else false). Without
    /// an owned loader of the kind the refresh runs inline, as without this option.
    pub background_refresh: bool,
    /// Cross-process single flight: when another instance holds the key's load lease, wait up
    /// to this long for its value (polling the backend) before loading here.
    pub wait_for_other_instances: Option<Duration>,
    /// Tags of the loaded value: [`Cache::invalidate_tag`](crate::Cache::invalidate_tag) on any
    /// of them makes it a miss (at most 64).
    pub tags: Vec<String>,
    /// A batch load ([`KindCache::get_many_or_load`](crate::KindCache::get_many_or_load)) calls
    /// its loader once every missed id is waiting for it, or at the latest this long after the
    /// first one waits (ids whose load another caller leads may join a later call). Default 1 ms.
    pub batch_window: Duration,
    /// A batch load calls its loader with at most this many ids (default 1,000; at least 1).
    pub batch_max_keys: usize,
}

/// DataLoader's defaults: a batch waits at most 1 ms, and holds at most 1,000 ids.
const BATCH_WINDOW: Duration = Duration::from_millis(1);
const BATCH_MAX_KEYS: usize = 1000;

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            ttl: None,
            cache_none_for: None,
            hard_timeout: None,
            soft_timeout: None,
            no_fail_safe: false,
            refresh_ahead: None,
            xfetch_beta: None,
            background_refresh: false,
            wait_for_other_instances: None,
            tags: Vec::new(),
            batch_window: BATCH_WINDOW,
            batch_max_keys: BATCH_MAX_KEYS,
        }
    }
}

impl LoadOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the TTL of the loaded value.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Caches `None` answers for `ttl` (zero: not at all).
    pub fn cache_none_for(mut self, ttl: Duration) -> Self {
        self.cache_none_for = Some(ttl);
        self
    }

    /// Sets the hard loader timeout.
    pub fn hard_timeout(mut self, timeout: Duration) -> Self {
        self.hard_timeout = Some(timeout);
        self
    }

    /// Sets the soft loader timeout (effective only when a stale value exists).
    pub fn soft_timeout(mut self, timeout: Duration) -> Self {
        self.soft_timeout = Some(timeout);
        self
    }

    /// Turns fail-safe stale serving off.
    pub fn no_fail_safe(mut self) -> Self {
        self.no_fail_safe = true;
        self
    }

    /// Waits up to `bound` for another instance that is already loading this key.
    pub fn wait_for_other_instances(mut self, bound: Duration) -> Self {
        self.wait_for_other_instances = Some(bound);
        self
    }

    /// Tags the loaded value (see [`Cache::invalidate_tag`](crate::Cache::invalidate_tag)).
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Refreshes early by XFetch with this β (raised to 1 if below; NaN turns it off).
    pub fn xfetch(mut self, beta: f64) -> Self {
        self.xfetch_beta = (!beta.is_nan()).then(|| beta.clamp(1.0, f64::MAX));
        self
    }

    /// Refreshes in a background task through the kind's owned loader (stale-while-revalidate).
    pub fn background_refresh(mut self) -> Self {
        self.background_refresh = true;
        self
    }

    /// Sets how long a batch load waits for more ids before calling its loader.
    pub fn batch_window(mut self, window: Duration) -> Self {
        self.batch_window = window;
        self
    }

    /// Sets the most ids one call of a batch loader takes (at least 1).
    pub fn batch_max_keys(mut self, max: usize) -> Self {
        self.batch_max_keys = max.max(1);
        self
    }

    /// Refreshes values once they have lived `fraction` (0.0–1.0) of their TTL.
    pub fn refresh_ahead(mut self, fraction: f64) -> Self {
        self.refresh_ahead = Some(fraction.clamp(0.0, 1.0));
        self
    }
}
