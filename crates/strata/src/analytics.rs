//! Feeding the per-kind analytics of `strata_stats` (miss causes, entry sizes, the miss-ratio
//! curve) from the cache's paths: what each tier was filled with and until when, and what an
//! invalidation reached.

use strata_codec::EntryMeta;
use strata_keys::Key;
use strata_stats::{AnalyticsConfig, Stats};

use crate::config::CacheConfig;
use crate::core::Core;
use crate::kinds::KindState;

/// The statistics of a cache configured with `config`: `metrics`, `[analytics]`, and the
/// hot-key sketches of `[hot_keys]`.
pub(crate) fn stats(config: &CacheConfig) -> Stats {
    let hot = config.clone();
    let budgets = config.clone();
    Stats::with_analytics(config.metrics, self::config(config))
        .with_hot_keys(move |kind| hot.hot_keys_of(kind))
        .with_l1_budgets(move |kind| budgets.l1_budget_of(kind))
}

/// The analytics configuration of `config`: its `[analytics]`, around the default pool's L1
/// budget (a kind with a partition of its own has the curve drawn around its budget).
fn config(config: &CacheConfig) -> AnalyticsConfig {
    let a = &config.analytics;
    if !a.enabled {
        return AnalyticsConfig::disabled();
    }
    let out = AnalyticsConfig::default().with_sample(a.sample_keys, a.sample_rate);
    if config.l1.enabled {
        out.with_l1_budget(config.l1.max_bytes, config.l1.max_entries)
    } else {
        out
    }
}

/// When an entry with `meta` leaves L2: its physical expiry (logical expiry + max stale).
fn l2_until(core: &Core, meta: &EntryMeta) -> u64 {
    let stale = u64::try_from(core.config.max_stale.as_millis()).unwrap_or(u64::MAX);
    meta.expires_at_ms.saturating_add(stale)
}

/// When L1's copy of an entry with `meta` put there now leaves it (0 without L1): its
/// physical expiry or the L1's maximum lifetime, whichever is sooner.
fn l1_until(core: &Core, meta: &EntryMeta) -> u64 {
    if core.local.l1().is_none() {
        return 0;
    }
    let lifetime = u64::try_from(core.config.l1.max_lifetime.as_millis()).unwrap_or(u64::MAX);
    l2_until(core, meta).min(core.clock.now_ms().saturating_add(lifetime))
}

/// `key` was written (a set, or a load's store) with `meta`: to L1, and to L2 if `in_l2`.
pub(crate) fn stored(core: &Core, kind: &KindState, key: &Key, meta: &EntryMeta, in_l2: bool) {
    if kind.stats.analytics_enabled() {
        let l2 = if in_l2 { l2_until(core, meta) } else { 0 };
        kind.stats.filled(key.as_str(), l1_until(core, meta), l2);
    }
}

/// An entry with `meta`, `size` bytes decoded, was read from L2 under `key` at `now`; a
/// current one was put in L1.
pub(crate) fn read_from_l2(
    core: &Core,
    kind: &KindState,
    key: &Key,
    (meta, size, now): (&EntryMeta, usize, u64),
    current: bool,
) {
    if !kind.stats.analytics_enabled() {
        return;
    }
    let until = l2_until(core, meta);
    kind.stats
        .l2_entry(key.as_str(), size as u64, meta.age_ms(now), until);
    if current {
        kind.stats.filled(key.as_str(), l1_until(core, meta), 0);
    }
}
