//! Refreshing before anyone waits: when a value read from L1 is due (refresh-ahead's fraction
//! of its TTL, or XFetch's draw), or already stale, reload it — inline by the caller that found
//! it (today's refresh-ahead), or in a background task through the kind's owned loader while
//! every caller is served the current value (stale-while-revalidate).
//!
//! XFetch (Vattani, Chierichetti, Lowenstein, VLDB 2015): a reader refreshes early when
//! `now − δ·β·ln(u) ≥ expiry`, `u` uniform in (0, 1], `δ` the kind's measured load time, `β ≥ 1`.
//! At `g` before expiry that happens with probability `exp(−g / (δ·β))`: rarely long before,
//! almost surely in the last few load times, so a hot key is refreshed before it expires and a
//! cold one is left to expire.

use crate::cacheable::CacheValue;
use crate::core::Core;
use crate::entry::Found;
use crate::kinds::KindState;
use crate::options::LoadOptions;
use crate::read::LookupKey;

/// What applies to one call: the call's options over the kind's settings.
struct Policy {
    ahead: Option<f64>,
    xfetch_beta: Option<f64>,
    background: bool,
}

fn policy(kind: &KindState, options: &LoadOptions) -> Policy {
    let s = kind.refresh.settings();
    Policy {
        ahead: options.refresh_ahead.or(s.refresh_ahead),
        xfetch_beta: options.xfetch_beta.or(s.xfetch_beta),
        background: options.background_refresh || s.background_refresh == Some(true),
    }
}

/// XFetch's test: whether a reader at `now_ms` refreshes a value expiring at `expires_at_ms`,
/// given δ (`delta_us`), β and a draw `u` in (0, 1]. A value that never expires (0) or a kind
/// with no measured load is never refreshed early.
pub(crate) fn xfetch_due(
    now_ms: u64,
    expires_at_ms: u64,
    delta_us: u64,
    beta: f64,
    u: f64,
) -> bool {
    if expires_at_ms == 0 || delta_us == 0 {
        return false;
    }
    let gap_ms = expires_at_ms.saturating_sub(now_ms) as f64;
    let early_ms = delta_us as f64 / 1000.0 * beta * -u.ln();
    early_ms >= gap_ms
}

/// Whether a fresh value has lived `fraction` of its TTL.
fn due_by_fraction<T>(found: &Found<T>, fraction: f64, now_ms: u64) -> bool {
    let lifetime = found
        .meta
        .expires_at_ms
        .saturating_sub(found.meta.created_at_ms);
    lifetime > 0 && found.meta.age_ms(now_ms) as f64 >= lifetime as f64 * fraction
}

/// What to do with a fresh value found in L1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnFresh {
    /// Serve it (not due, already being refreshed, or refreshed in the background now).
    Serve,
    /// Reload it inline, this caller leading (refresh-ahead without a background loader).
    Inline,
}

/// Decides for a fresh value found in L1; starts the background refresh when that is the way.
pub(crate) fn on_fresh<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    key: &(impl LookupKey + ?Sized),
    options: &LoadOptions,
    found: &Found<T>,
) -> OnFresh {
    let p = policy(kind, options);
    if p.ahead.is_none() && p.xfetch_beta.is_none() {
        return OnFresh::Serve;
    }
    let key = &key.to_key();
    let now = core.clock.now_ms();
    let due = p.ahead.is_some_and(|f| due_by_fraction(found, f, now))
        || p.xfetch_beta.is_some_and(|beta| {
            let u = 1.0 - rand::random::<f64>();
            xfetch_due(
                now,
                found.meta.expires_at_ms,
                kind.refresh.delta_us(),
                beta,
                u,
            )
        });
    if !due || core.local.flights().in_progress(key) {
        return OnFresh::Serve;
    }
    if p.background && super::refresh_in_background::<T>(core, kind, key, options) {
        return OnFresh::Serve;
    }
    OnFresh::Inline
}

/// For a stale value found in L1: whether it is served while a background refresh runs
/// (stale-while-revalidate, with background refresh on and an owned loader registered).
pub(crate) fn serve_stale<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    key: &(impl LookupKey + ?Sized),
    options: &LoadOptions,
) -> bool {
    policy(kind, options).background
        && !options.no_fail_safe
        && super::refresh_in_background::<T>(core, kind, &key.to_key(), options)
}

#[cfg(test)]
mod tests;
