//! Reading one kind's entries: L1 first (the hot path), then L2. Every L2 failure is a counted
//! miss, unless the cache is strict.

use std::sync::Arc;
use std::time::{Duration, Instant};
use strata_codec::decoded_size;

use crate::trace;

use strata_codec::{Codec, CodecError, TagVersion};
use strata_keys::Key;
use strata_stats::Tier;

use crate::cacheable::CacheValue;
use crate::core::Core;
use crate::entry::{Found, Lookup};
use crate::error::Error;
use crate::kinds::KindState;

/// One L1 hit in this many has its latency measured.
const TIMING_SAMPLE: u32 = 64;

/// Whether this call is one of the sampled ones (a per-thread counter: no shared state).
fn sample_this_call() -> bool {
    thread_local! {
        static CALLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    CALLS.with(|c| {
        let n = c.get().wrapping_add(1);
        c.set(n);
        n % TIMING_SAMPLE == 0
    })
}

/// The L1 step of a lookup: a fresh hit, the stale value L1 holds, or a miss, counted.
///
/// The hot path of the cache: one clock read, no decoding, and latency timed only for one
/// hit in [`TIMING_SAMPLE`] (timing costs more than the hit).
pub(crate) async fn probe_l1<T: CacheValue>(core: &Core, kind: &KindState, key: &Key) -> Lookup<T> {
    let start = sample_this_call().then(Instant::now);
    let Some((found, now)) = look_in_l1::<T>(core, kind, key).await else {
        return Lookup::Miss;
    };
    let elapsed = || start.map_or(Duration::ZERO, |s| s.elapsed());
    match &found {
        Lookup::Fresh(f) => match start {
            Some(s) => kind.stats.hit(Tier::L1, f.meta.age_ms(now), s.elapsed()),
            None => kind.stats.hit_untimed(Tier::L1, f.meta.age_ms(now)),
        },
        _ => kind.stats.tier_miss(Tier::L1, elapsed()),
    }
    found
}

/// [`probe_l1`] without counting: a second look by the same request (a flight's leader
/// checking whether another caller filled L1 meanwhile).
pub(crate) async fn recheck_l1<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    key: &Key,
) -> Lookup<T> {
    look_in_l1::<T>(core, kind, key)
        .await
        .map_or(Lookup::Miss, |(found, _)| found)
}

/// What L1 holds under `key` for `kind`, and the clock's reading; `None` without an L1.
async fn look_in_l1<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    key: &Key,
) -> Option<(Lookup<T>, u64)> {
    let l1 = core.local.l1()?;
    let Some(entry) = l1.get(key).await else {
        return Some((Lookup::Miss, 0));
    };
    let now = core.clock.now_ms();
    let meta = entry.meta;
    let tags = entry.tags().cloned();
    // One atomic load decides in the common case (generation known, no tags).
    let current = match kind.generation.load() {
        (g, true) if tags.is_none() => g == meta.generation,
        // Boxed: the slow path may read the backend, and its future must not make the hot
        // path's future larger.
        _ => Box::pin(is_current(core, kind, meta.generation, tags.as_deref())).await,
    };
    if !current {
        return Some((Lookup::Miss, now));
    }
    let found = match entry.into_value::<T>() {
        Ok(value) if !meta.is_expired(now) => Lookup::Fresh(Found { value, meta, tags }),
        Ok(value) => Lookup::Stale(Found { value, meta, tags }),
        Err(()) => {
            tracing::warn!(%key, expected = std::any::type_name::<T>(), "L1 holds another type under this key; treating as a miss");
            Lookup::Miss
        }
    };
    Some((found, now))
}

/// Whether an entry of `kind` that recorded `generation` and `tags` is still current.
pub(crate) async fn is_current(
    core: &Core,
    kind: &KindState,
    generation: u64,
    tags: Option<&[TagVersion]>,
) -> bool {
    core.versions
        .is_current(&core.l2, kind.name(), &kind.generation, (generation, tags))
        .await
}

/// The L2 step of a lookup, given the stale value L1 had (if any). The value read fills L1.
#[tracing::instrument(
    level = "debug",
    name = "strata.l2.get",
    skip_all,
    fields(kind = kind.name(), key = %key, tier = "l2", outcome = tracing::field::Empty)
)]
pub(crate) async fn lookup_l2<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    key: &Key,
    mut stale: Option<Found<T>>,
) -> Result<Lookup<T>, Error> {
    let now = core.clock.now_ms();
    let epoch = core.local.flights().epoch(key);
    let start = Instant::now();
    match core.l2.call(core.l2.backend().get(key)).await {
        Ok(Some(bytes)) => {
            if let Some(found) = decode::<T>(core, kind, key, &bytes, Garbage::Delete).await {
                let keep = core.keep_for(found.meta.expires_at_ms);
                core.local
                    .put_if_unchanged(key, &found, decoded_size(&bytes), keep, epoch)
                    .await;
                if !found.meta.is_expired(now) {
                    kind.stats
                        .hit(Tier::L2, found.meta.age_ms(now), start.elapsed());
                    trace::outcome("hit");
                    return Ok(Lookup::Fresh(found));
                }
                if stale
                    .as_ref()
                    .is_none_or(|s| s.meta.created_at_ms < found.meta.created_at_ms)
                {
                    stale = Some(found);
                }
            }
            kind.stats.tier_miss(Tier::L2, start.elapsed());
        }
        Ok(None) => kind.stats.tier_miss(Tier::L2, start.elapsed()),
        Err(e) => {
            trace::outcome("error");
            let err = core.l2.failed(&kind.stats, e);
            if core.l2.strict() {
                return Err(err);
            }
        }
    }
    Ok(match stale {
        Some(s) => {
            trace::outcome("stale");
            Lookup::Stale(s)
        }
        None => {
            trace::outcome("miss");
            Lookup::Miss
        }
    })
}

/// What to do with bytes under our key that do not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Garbage {
    /// Delete them (only if unchanged).
    Delete,
    /// Leave them: a store is about to replace them.
    Keep,
}

/// Decodes bytes from L2: broken entries are counted (and deleted, by `garbage`), and entries
/// written before their kind was cleared or a tag invalidated are misses.
pub(crate) async fn decode<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    key: &Key,
    bytes: &[u8],
    garbage: Garbage,
) -> Option<Found<T>> {
    match core.l2.codec().decode::<T>(bytes, Some(kind.keys.schema())) {
        Ok(env) => {
            let tags: Option<Arc<[TagVersion]>> = (!env.tags.is_empty()).then(|| env.tags.into());
            if !is_current(core, kind, env.meta.generation, tags.as_deref()).await {
                return None;
            }
            Some(Found {
                value: env.value.map(Arc::new),
                meta: env.meta,
                tags,
            })
        }
        // An older (or newer) shape: a plain miss; the next write replaces it.
        Err(CodecError::SchemaMismatch { .. }) => None,
        Err(e) => {
            kind.stats.error(Tier::L2, "codec");
            tracing::warn!(%key, error = %e, "undecodable entry");
            if let (Garbage::Delete, Some(listing)) = (garbage, core.l2.listing()) {
                let _ = core.l2.call(listing.delete_if_equals(key, bytes)).await;
            }
            None
        }
    }
}

/// The fresh value under `key`, if cached (`None` also for a cached absence).
pub(crate) async fn get<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    key: &Key,
) -> Result<Option<Arc<T>>, Error> {
    if !core.enabled() {
        return Ok(None);
    }
    // The L1 fast path stays a small future; the L2 path is only built on a miss.
    let stale = match probe_l1::<T>(core, kind, key).await {
        Lookup::Fresh(found) => return Ok(found.value),
        other => other.into_stale(),
    };
    Ok(match lookup_l2::<T>(core, kind, key, stale).await? {
        Lookup::Fresh(found) => found.value,
        Lookup::Stale(_) | Lookup::Miss => {
            kind.stats.miss();
            None
        }
    })
}

/// The fresh values under `keys`, in order: L1 first, then one batch read of L2 for the rest.
pub(crate) async fn get_many<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    keys: &[Key],
) -> Result<Vec<Option<Arc<T>>>, Error> {
    let mut out: Vec<Option<Arc<T>>> = vec![None; keys.len()];
    if !core.enabled() {
        return Ok(out);
    }
    let mut missing = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        match probe_l1::<T>(core, kind, key).await {
            Lookup::Fresh(found) => out[i] = found.value,
            _ => missing.push(i),
        }
    }
    if missing.is_empty() {
        return Ok(out);
    }
    let refs: Vec<&str> = missing.iter().map(|i| keys[*i].as_str()).collect();
    let flights = core.local.flights();
    let epochs: Vec<_> = missing.iter().map(|i| flights.epoch(&keys[*i])).collect();
    let start = Instant::now();
    let values = match core.l2.call(core.l2.backend().get_many(&refs)).await {
        Ok(values) => values,
        Err(e) => {
            let err = core.l2.failed(&kind.stats, e);
            if core.l2.strict() {
                return Err(err);
            }
            missing.iter().for_each(|_| kind.stats.miss());
            return Ok(out);
        }
    };
    let per_key = start.elapsed() / u32::try_from(missing.len()).unwrap_or(u32::MAX).max(1);
    let now = core.clock.now_ms();
    for ((i, bytes), epoch) in missing.iter().zip(values).zip(epochs) {
        let key = &keys[*i];
        let found = match bytes {
            Some(b) => decode::<T>(core, kind, key, &b, Garbage::Delete)
                .await
                .map(|f| (f, decoded_size(&b))),
            None => None,
        };
        match found {
            Some((f, len)) if !f.meta.is_expired(now) => {
                let keep = core.keep_for(f.meta.expires_at_ms);
                core.local.put_if_unchanged(key, &f, len, keep, epoch).await;
                kind.stats.hit(Tier::L2, f.meta.age_ms(now), per_key);
                out[*i] = f.value;
            }
            _ => {
                kind.stats.tier_miss(Tier::L2, per_key);
                kind.stats.miss();
            }
        }
    }
    Ok(out)
}
