//! Reading one kind's entries: L1 first (the hot path, which also offers the key to the kind's
//! hot-key sketch), then L2. Every L2 failure is a counted miss, unless the cache is strict.

use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_keys::{Key, KeyStr};
use strata_stats::{MissCause, Tier};

use crate::cacheable::CacheValue;
use crate::core::Core;
use crate::entry::{Found, Lookup};
use crate::error::Error;
use crate::kinds::KindState;
use crate::l2_read::{self, L2Read, ReadFor, Wanted};
use crate::trace;

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

/// What a lookup is given: a [`Key`], or a key's text rendered without allocating (by id,
/// which makes the `Key` only when it needs one).
pub(crate) trait LookupKey {
    /// The key's text (what L1 is queried with).
    fn text(&self) -> &str;
    /// The key (allocates for a [`KeyStr`]).
    fn to_key(&self) -> Key;
}

impl LookupKey for Key {
    #[inline]
    fn text(&self) -> &str {
        self.as_str()
    }
    fn to_key(&self) -> Key {
        self.clone()
    }
}

impl LookupKey for KeyStr {
    #[inline]
    fn text(&self) -> &str {
        self.as_str()
    }
    fn to_key(&self) -> Key {
        KeyStr::to_key(self)
    }
}

/// The L1 step of a lookup: a fresh hit, the stale value L1 holds, or a miss, counted.
///
/// The hot path of the cache: one clock read, no decoding, and latency timed only for one
/// hit in [`TIMING_SAMPLE`] (timing costs more than the hit).
pub(crate) async fn probe_l1<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    key: &(impl LookupKey + ?Sized),
) -> Lookup<T> {
    let text = key.text();
    if let Some(hot) = kind.stats.hot_keys() {
        hot.offer_with(text, || key.to_key());
    }
    let start = sample_this_call().then(Instant::now);
    let Some(InL1 {
        found,
        now,
        cause: seen,
        key_hash,
    }) = look_in_l1::<T>(core, kind, text, Tags::UnlessFresh).await
    else {
        return Lookup::Miss;
    };
    let elapsed = || start.map_or(Duration::ZERO, |s| s.elapsed());
    match &found {
        Lookup::Fresh(f) => {
            match start {
                Some(s) => kind.stats.hit(Tier::L1, f.meta.age_ms(now), s.elapsed()),
                None => kind.stats.hit_untimed(Tier::L1, f.meta.age_ms(now)),
            }
            match key_hash {
                Some(h) => kind.stats.l1_hit_hashed(h),
                None => kind.stats.l1_hit_on(text),
            }
        }
        _ => {
            let now = if now == 0 { core.clock.now_ms() } else { now };
            kind.stats
                .tier_miss_on(Tier::L1, elapsed(), text, seen, now);
        }
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
    look_in_l1::<T>(core, kind, key.as_str(), Tags::Always)
        .await
        .map_or(Lookup::Miss, |l| l.found)
}

/// What [`look_in_l1`] saw.
struct InL1<T> {
    found: Lookup<T>,
    /// The clock's reading (0 when L1 held nothing).
    now: u64,
    /// The cause of a miss when the entry tells it (`None`: L1 did not hold the key).
    cause: Option<MissCause>,
    /// The entry's sample hash, computed when it was stored.
    key_hash: Option<u64>,
}

impl<T> InL1<T> {
    fn miss(now: u64, cause: Option<MissCause>) -> Self {
        Self {
            found: Lookup::Miss,
            now,
            cause,
            key_hash: None,
        }
    }
}

/// Whether a look in L1 hands back the entry's tags with its value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tags {
    /// Always: the value may be stored again (a flight's leader, which may refresh it).
    Always,
    /// Only with a stale value (which the read that goes on to L2 may store again): a fresh
    /// hit serves its value and nothing else, so it does not touch the tags' reference count
    /// (a cache line of its own, cold on a hit among many keys).
    UnlessFresh,
}

/// What L1 holds under `key` for `kind` (see [`InL1`]); `None` without an L1.
async fn look_in_l1<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    key: &str,
    want: Tags,
) -> Option<InL1<T>> {
    let l1 = kind.l1.as_ref()?;
    let Some(entry) = l1.get_str(key).await else {
        return Some(InL1::miss(0, None));
    };
    let now = core.clock.now_ms();
    if !core.coherence.serves(entry.verified_at_ms(), now) {
        // Not confirmed coherent recently enough: read through L2 instead.
        return Some(InL1::miss(now, Some(MissCause::Unverified)));
    }
    let meta = entry.meta;
    let key_hash = entry.key_hash();
    let untagged = entry.tags().is_none();
    // One atomic load decides in the common case (generation known, no tags), after a second
    // one on a backend that counts its changes (a change anywhere makes it read again). A
    // tagged entry found current since the tag versions known here last moved needs no look
    // at its tags either.
    core.versions.catch_up();
    let current = match kind.generation.load() {
        (g, true) if untagged => g == meta.generation,
        (g, true) if core.versions.tags_unmoved_since(entry.tags_checked()) => g == meta.generation,
        // Boxed: the slow path may read the backend, and its future must not make the hot
        // path's future larger.
        _ => Box::pin(check_current(core, kind, &entry)).await,
    };
    if !current {
        return Some(InL1::miss(now, Some(MissCause::Invalidated)));
    }
    let expired = meta.is_expired(now);
    let tags = match want {
        Tags::UnlessFresh if !expired => None,
        _ => entry.tags().cloned(),
    };
    let (found, cause) = match entry.into_value::<T>() {
        Ok(value) if !expired => (Lookup::Fresh(Found { value, meta, tags }), None),
        Ok(value) => (
            Lookup::Stale(Found { value, meta, tags }),
            Some(MissCause::Expired),
        ),
        Err(()) => {
            tracing::warn!(%key, expected = std::any::type_name::<T>(), "L1 holds another type under this key; treating as a miss");
            (Lookup::Miss, Some(MissCause::Undecodable))
        }
    };
    Some(InL1 {
        found,
        now,
        cause,
        key_hash,
    })
}

/// Whether `entry` (of `kind`) is current, by its generation and tags; a tagged entry found
/// current is marked with the tag epoch read before the check (see
/// [`Versions::tags_unmoved_since`](crate::versions::Versions::tags_unmoved_since)).
async fn check_current(core: &Core, kind: &KindState, entry: &strata_l1::L1Entry) -> bool {
    let epoch = core.versions.tag_epoch();
    let recorded = (entry.meta.generation, entry.tags().map(|t| &t[..]));
    let current = kind.is_current(&core.versions, recorded).await;
    if current {
        entry.mark_tags_checked(epoch);
    }
    current
}

/// The L2 step of a lookup (traced), given the stale value L1 had (if any).
#[tracing::instrument(
    level = "debug",
    name = "strata.l2.get",
    skip_all,
    fields(kind = kind.name(), key = %wanted.key, tier = "l2", outcome = tracing::field::Empty)
)]
pub(crate) async fn lookup_l2<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    wanted: Wanted<'_, T>,
    purpose: ReadFor,
) -> Result<L2Read<T>, Error> {
    let read = l2_read::read(core, kind, wanted, &[], purpose).await;
    trace::outcome(match &read {
        Err(_) => "error",
        Ok(r) if !r.reached => "error",
        Ok(r) if r.fresh => "hit",
        Ok(r) if r.found.is_some() => "stale",
        Ok(_) => "miss",
    });
    read
}

/// The fresh value under `key`, if cached (`None` also for a cached absence).
pub(crate) async fn get<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    key: &(impl LookupKey + ?Sized),
) -> Result<Option<Arc<T>>, Error> {
    if !core.enabled() {
        return Ok(None);
    }
    // The L1 fast path stays a small future; the L2 path is only built on a miss.
    let stale = match probe_l1::<T>(core, kind, key).await {
        Lookup::Fresh(found) => return Ok(found.value),
        other => other.into_stale(),
    };
    Box::pin(get_from_l2(core, kind, &key.to_key(), stale)).await
}

/// The L2 step of [`get`], after L1 missed (`stale`: what L1 held past its TTL).
async fn get_from_l2<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    key: &Key,
    stale: Option<Found<T>>,
) -> Result<Option<Arc<T>>, Error> {
    let wanted = Wanted {
        stale,
        ..Wanted::key(key)
    };
    let read = lookup_l2::<T>(core, kind, wanted, ReadFor::Serve).await?;
    Ok(match read.into_fresh() {
        Some(found) => found.value,
        None => {
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
    let wanted = missing.iter().map(|i| Wanted::key(&keys[*i])).collect();
    let reads = l2_read::read_many::<T>(core, kind, wanted, &[], ReadFor::Serve).await?;
    for (i, read) in missing.into_iter().zip(reads) {
        match read.into_fresh() {
            Some(found) => out[i] = found.value,
            None => kind.stats.miss(),
        }
    }
    Ok(out)
}
