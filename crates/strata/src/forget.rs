//! What an invalidation reached, told to the analytics (their miss causes) by
//! [`Local`](crate::local::Local).

use std::sync::Arc;

use strata_keys::Key;
use strata_stats::Stats;

use crate::config::CacheConfig;

/// What an invalidation reached.
pub(crate) enum Forgot<'a> {
    /// One key, in both tiers.
    Key(&'a str),
    /// Every key of a kind, in both tiers.
    Kind(&'a str),
    /// Every key, in L1 only (messages may have been missed).
    L1,
    /// Every key (or every key under a prefix), in both tiers.
    All,
}

/// Told of each invalidation by [`Local`](crate::local::Local).
pub(crate) type ForgetHook = Arc<dyn Fn(Forgot<'_>) + Send + Sync>;

/// The hook that tells `stats` of invalidations (none with analytics off).
pub(crate) fn forget_hook(config: &CacheConfig, stats: &Stats) -> Option<ForgetHook> {
    if !config.analytics.enabled {
        return None;
    }
    let stats = stats.clone();
    Some(Arc::new(move |what: Forgot<'_>| match what {
        Forgot::Key(key) => {
            if let Some(kind) = Key::parse(key).ok().and_then(|p| stats.existing(&p.kind)) {
                kind.forgotten(key);
            }
        }
        Forgot::Kind(kind) => {
            if let Some(kind) = stats.existing(kind) {
                kind.forgotten_all(true);
            }
        }
        Forgot::L1 => stats.forgotten_everything(false),
        Forgot::All => stats.forgotten_everything(true),
    }))
}
