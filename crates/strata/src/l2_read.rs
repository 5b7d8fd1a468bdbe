//! The one read of the second tier: every lookup past L1 (a plain read, a flight's leader, the
//! wait for another instance's load, a batch read) reads its keys here, in one batch with their
//! leases and the version counters not known here; decodes them; fills L1 with what is current
//! (unless an invalidation overtook the read); counts what it found; and applies the failure
//! policy (skip after a failure, strict mode) once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_backend::batch::{Batch, LeaseOutcome, LeaseRequest, LeaseWhen};
use strata_codec::{Codec, CodecError, TagVersion, decoded_size};
use strata_keys::Key;
use strata_stats::{MissCause, Tier};

use crate::analytics;
use crate::cacheable::CacheValue;
use crate::core::Core;
use crate::entry::Found;
use crate::error::Error;
use crate::kinds::KindState;

/// Why a key is read, which decides what is counted and what becomes of undecodable bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadFor {
    /// To serve it: a fresh value is a hit, anything else a tier miss; garbage is deleted.
    Serve,
    /// A flight's leader about to load on a miss: as `Serve`, but garbage is left for the
    /// store to replace.
    Fill,
    /// A flight's leader reloading a value due for refresh: the load runs whatever is found
    /// (a tier miss); garbage is left for the store.
    Refresh,
    /// Waiting for another instance's load: nothing counted; garbage is deleted so the lease
    /// can be taken.
    Wait,
}

impl ReadFor {
    /// Whether undecodable bytes are deleted (only if unchanged).
    fn deletes_garbage(self) -> bool {
        matches!(self, Self::Serve | Self::Wait)
    }
}

/// One key to read: its lease request, and the stale value a lower tier had (the newer of the
/// two is kept for fail-safe serving).
pub(crate) struct Wanted<'k, T> {
    pub(crate) key: &'k Key,
    pub(crate) lease: Option<LeaseRequest>,
    pub(crate) stale: Option<Found<T>>,
}

impl<'k, T> Wanted<'k, T> {
    /// `key`, with no lease and no stale value.
    pub(crate) fn key(key: &'k Key) -> Self {
        Self {
            key,
            lease: None,
            stale: None,
        }
    }
}

/// What the second tier answered for one key.
pub(crate) struct L2Read<T> {
    /// L2's value when it is current and within its TTL; otherwise the newer of L2's current
    /// value and the lower tier's stale one: what a load falls back on.
    pub(crate) found: Option<Found<T>>,
    /// Whether `found` is L2's value within its TTL.
    pub(crate) fresh: bool,
    /// The lease asked for.
    pub(crate) lease: LeaseOutcome,
    /// False when L2 could not be read (the failure is counted; the read is a miss).
    pub(crate) reached: bool,
}

/// Reads one key (see [`read_many`]).
pub(crate) async fn read<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    wanted: Wanted<'_, T>,
    tags: &[String],
    purpose: ReadFor,
) -> Result<L2Read<T>, Error> {
    let mut out = read_many(core, kind, vec![wanted], tags, purpose).await?;
    Ok(out.pop().unwrap_or_else(|| unreached(None)))
}

/// Reads `wanted` keys of `kind` in one batch, with their leases and the counters of the kind
/// and of `tags` not known here; one answer per key, in order. An L2 failure is counted and
/// answers misses (the stale values given back), or with `strict` the error.
pub(crate) async fn read_many<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    mut wanted: Vec<Wanted<'_, T>>,
    tags: &[String],
    purpose: ReadFor,
) -> Result<Vec<L2Read<T>>, Error> {
    let flights = core.local.flights();
    let epochs: Vec<_> = wanted.iter().map(|w| flights.epoch(w.key)).collect();
    let mut batch = Batch::new();
    let handles: Vec<_> = wanted
        .iter_mut()
        .map(|w| batch.read(w.key.as_str(), w.lease.take()))
        .collect();
    let counters = core
        .versions
        .read_into(&mut batch, kind.name(), &kind.generation, tags);
    let start = Instant::now();
    let done = match core.l2.run(batch).await {
        Ok(done) => done,
        Err(e) => {
            core.l2.read_failed(&kind.stats, e)?;
            return Ok(wanted.into_iter().map(|w| unreached(w.stale)).collect());
        }
    };
    core.versions.learn(&kind.generation, &counters, &done);
    let now = core.clock.now_ms();
    let per_key = start.elapsed() / u32::try_from(wanted.len()).unwrap_or(u32::MAX).max(1);
    let mut out = Vec::with_capacity(wanted.len());
    for ((w, handle), epoch) in wanted.into_iter().zip(handles).zip(epochs) {
        let answer = done.get(handle);
        let (found, seen) = match &answer.value {
            Some(bytes) => match decode::<T>(core, kind, w.key, bytes, purpose).await {
                Ok(f) => (Some((f, decoded_size(bytes))), None),
                Err(cause) => (None, Some(cause)),
            },
            None => (None, None),
        };
        if let Some((found, weight)) = &found {
            core.local
                .put_if_unchanged(w.key, found, *weight, epoch)
                .await;
            analytics::read_from_l2(core, kind, w.key, (&found.meta, *weight, now), true);
        }
        let seen = match &found {
            Some(_) if purpose == ReadFor::Refresh => Some(MissCause::Expired),
            Some((f, _)) if f.meta.is_expired(now) => Some(MissCause::Expired),
            _ => seen,
        };
        let read = settle(now, found.map(|(f, _)| f), w.stale, answer.lease);
        count(kind, &read, purpose, (now, per_key), (w.key, seen));
        out.push(read);
    }
    Ok(out)
}

impl<T> L2Read<T> {
    /// The value within its TTL, if L2 had one.
    pub(crate) fn into_fresh(self) -> Option<Found<T>> {
        self.found.filter(|_| self.fresh)
    }
}

/// The answer when L2 could not be read: nothing but the lower tier's stale value.
fn unreached<T>(stale: Option<Found<T>>) -> L2Read<T> {
    L2Read {
        found: stale,
        fresh: false,
        lease: LeaseOutcome::Unavailable,
        reached: false,
    }
}

/// L2's value if within its TTL; else, to fall back on, the newer of two stale values.
fn settle<T>(
    now: u64,
    found: Option<Found<T>>,
    stale: Option<Found<T>>,
    lease: LeaseOutcome,
) -> L2Read<T> {
    let (found, fresh) = match found {
        Some(f) if !f.meta.is_expired(now) => (Some(f), true),
        Some(f) => {
            let newer = stale.filter(|s| s.meta.created_at_ms >= f.meta.created_at_ms);
            (Some(newer.unwrap_or(f)), false)
        }
        None => (stale, false),
    };
    L2Read {
        found,
        fresh,
        lease,
        reached: true,
    }
}

/// Counts a read as its purpose says; a miss with its cause when the entry told it (`seen`).
fn count<T>(
    kind: &KindState,
    read: &L2Read<T>,
    purpose: ReadFor,
    (now, latency): (u64, Duration),
    (key, seen): (&Key, Option<MissCause>),
) {
    match (&read.found, read.fresh, purpose) {
        (_, _, ReadFor::Wait) => {}
        (Some(found), true, ReadFor::Serve | ReadFor::Fill) => {
            kind.stats.hit(Tier::L2, found.meta.age_ms(now), latency);
        }
        _ => kind
            .stats
            .tier_miss_on(Tier::L2, latency, key.as_str(), seen, now),
    }
}

/// Decodes bytes from L2: broken entries are counted (and deleted, as `purpose` says), and
/// entries written before their kind was cleared or a tag invalidated are misses; the error
/// is the cause of the miss.
async fn decode<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    key: &Key,
    bytes: &[u8],
    purpose: ReadFor,
) -> Result<Found<T>, MissCause> {
    match core.l2.codec().decode::<T>(bytes, Some(kind.keys.schema())) {
        Ok(env) => {
            let tags: Option<Arc<[TagVersion]>> = (!env.tags.is_empty()).then(|| env.tags.into());
            let recorded = (env.meta.generation, tags.as_deref());
            if !kind.is_current(&core.versions, recorded).await {
                return Err(MissCause::Invalidated);
            }
            Ok(Found {
                value: env.value.map(Arc::new),
                meta: env.meta,
                tags,
            })
        }
        // An older (or newer) shape: a plain miss; the next write replaces it.
        Err(CodecError::SchemaMismatch { .. }) => Err(MissCause::Undecodable),
        Err(e) => {
            kind.stats.error(Tier::L2, "codec");
            tracing::warn!(%key, error = %e, "undecodable entry");
            if purpose.deletes_garbage() {
                let _ = core.l2.delete_if_equals(key, bytes).await;
            }
            Err(MissCause::Undecodable)
        }
    }
}

/// A lease request under `token` for `ttl`: taken only if the entry is absent, or `always`
/// (the caller will load whatever it finds).
pub(crate) fn lease_request(token: String, ttl: Duration, always: bool) -> LeaseRequest {
    let when = if always {
        LeaseWhen::Always
    } else {
        LeaseWhen::Absent
    };
    LeaseRequest::new(token, ttl, when)
}
