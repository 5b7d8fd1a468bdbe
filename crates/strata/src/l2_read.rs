//! The one read of the second tier: every lookup past L1 (a plain read, a flight's leader, the
//! wait for another instance's load, a batch read) reads its keys here, in one batch with their
//! leases and the version counters not known here; decodes them; fills L1 with what is current
//! (unless an invalidation overtook the read); counts what it found; and applies the failure
//! policy (skip after a failure, strict mode) once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_backend::Bytes;
use strata_backend::batch::{Batch, Handle, LeaseOutcome, LeaseRequest, LeaseWhen, Read, Results};
use strata_codec::{Codec, CodecError, TagVersion, decoded_size};
use strata_keys::Key;
use strata_stats::{MissCause, Tier};

use crate::analytics;
use crate::cacheable::CacheValue;
use crate::core::Core;
use crate::entry::Found;
use crate::error::Error;
use crate::flight::Epoch;
use crate::kinds::KindState;
use crate::l2::L2Error;
use crate::versions::CounterRead;

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
    if wanted.lease.is_none()
        && tags.is_empty()
        && core.versions.known_here(kind.name(), &kind.generation)
    {
        return Box::pin(read_plain(core, kind, wanted, purpose)).await;
    }
    // Boxed: a plain read's future stays small (one of more than a kilobyte is allocated
    // outside the allocator's per-thread cache, under a lock busy threads contend for).
    Box::pin(read_with(
        core,
        kind,
        (wanted, tags, purpose),
        |_| (),
        |(), _, _| (),
    ))
    .await
}

/// One plain L2 read in this many (per thread) has its latency measured, as one L1 hit in 64:
/// the two clock reads and the histogram's shared counters cost more than the rest of the
/// read's bookkeeping.
const TIMING_SAMPLE: u32 = 64;

/// Whether this plain read is one of the timed ones (a per-thread counter: no shared state).
/// A thread's first read is timed, so a kind read at all has a latency recorded.
fn time_this_read() -> bool {
    thread_local! {
        static READS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    READS.with(|c| {
        let n = c.get();
        c.set(n.wrapping_add(1));
        n % TIMING_SAMPLE == 0
    })
}

/// [`read`] of a key that needs nothing but its bytes (no lease, no counter): one `get` of the
/// backend, without a batch to plan and answer. Its latency is measured for one read in
/// [`TIMING_SAMPLE`] (the histogram is a sample; hits and misses are all counted).
async fn read_plain<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    wanted: Wanted<'_, T>,
    purpose: ReadFor,
) -> Result<L2Read<T>, Error> {
    let epoch = core.local.flights().epoch(wanted.key);
    let start = time_this_read().then(Instant::now);
    match kind.l2.get(wanted.key.as_str()).await {
        Ok(value) => {
            let latency = start.map(|s| s.elapsed());
            let at = (epoch, purpose);
            // Boxed: two futures awaited in turn take the room of both in their caller's
            // (rust-lang/rust#62958), which would make this read's future larger than the
            // allocator's per-thread cache takes; this one is smaller than that.
            let value = (value, LeaseOutcome::NotTaken);
            Ok(Box::pin(answer_value(core, kind, wanted, value, at, latency)).await)
        }
        Err(e) => {
            kind.l2.read_failed(&kind.stats, e)?;
            Ok(unreached(wanted.stale))
        }
    }
}

/// [`read`] with more steps in its batch: `also` adds them, `after` reads their results
/// (`None` when the batch failed) with the moment the batch started.
pub(crate) async fn read_with<T: CacheValue, A>(
    core: &Core,
    kind: &KindState,
    (wanted, tags, purpose): (Wanted<'_, T>, &[String], ReadFor),
    also: impl FnOnce(&mut Batch) -> A,
    after: impl FnOnce(A, Option<&Results>, Instant),
) -> Result<L2Read<T>, Error> {
    let mut batch = Batch::new();
    let planned = plan(core, kind, vec![wanted], tags, &mut batch);
    let extra = also(&mut batch);
    let start = Instant::now();
    let done = kind.l2.run(batch).await;
    after(extra, done.as_ref().ok(), start);
    let mut out = planned.answers(core, kind, done, purpose, start).await?;
    Ok(out.pop().unwrap_or_else(|| unreached(None)))
}

/// Reads `wanted` keys of `kind` in one batch, with their leases and the counters of the kind
/// and of `tags` not known here; one answer per key, in order. An L2 failure is counted and
/// answers misses (the stale values given back), or with `strict` the error.
pub(crate) async fn read_many<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    wanted: Vec<Wanted<'_, T>>,
    tags: &[String],
    purpose: ReadFor,
) -> Result<Vec<L2Read<T>>, Error> {
    let mut batch = Batch::new();
    let planned = plan(core, kind, wanted, tags, &mut batch);
    let start = Instant::now();
    let done = kind.l2.run(batch).await;
    planned.answers(core, kind, done, purpose, start).await
}

/// Reads of one kind planned into a batch that may carry other steps (a load group's related
/// reads): what is needed to read their answers once the batch has run.
pub(crate) struct PlannedReads<'k, T> {
    wanted: Vec<Wanted<'k, T>>,
    handles: Vec<Handle<Read>>,
    /// Each key's invalidation epoch before the read: a later one keeps its value out of L1.
    epochs: Vec<Epoch>,
    counters: CounterRead,
}

/// Adds the reads of `wanted` (with their lease requests) and the counters of `kind` and
/// `tags` not known here to `batch`.
pub(crate) fn plan<'k, T>(
    core: &Core,
    kind: &KindState,
    mut wanted: Vec<Wanted<'k, T>>,
    tags: &[String],
    batch: &mut Batch,
) -> PlannedReads<'k, T> {
    let flights = core.local.flights();
    let epochs = wanted.iter().map(|w| flights.epoch(w.key)).collect();
    let handles = wanted
        .iter_mut()
        .map(|w| batch.read(w.key.as_str(), w.lease.take()))
        .collect();
    let counters = core
        .versions
        .read_into(batch, kind.name(), &kind.generation, tags);
    PlannedReads {
        wanted,
        handles,
        epochs,
        counters,
    }
}

impl<T: CacheValue> PlannedReads<'_, T> {
    /// The answers of the planned reads, from the batch's results `done` (run since `start`).
    pub(crate) async fn answers(
        self,
        core: &Core,
        kind: &KindState,
        done: Result<Results, L2Error>,
        purpose: ReadFor,
        start: Instant,
    ) -> Result<Vec<L2Read<T>>, Error> {
        let done = match done {
            Ok(done) => done,
            Err(e) => {
                kind.l2.read_failed(&kind.stats, e)?;
                return Ok(self
                    .wanted
                    .into_iter()
                    .map(|w| unreached(w.stale))
                    .collect());
            }
        };
        core.versions.learn(&kind.generation, &self.counters, &done);
        let per_key = start.elapsed() / u32::try_from(self.wanted.len()).unwrap_or(u32::MAX).max(1);
        let mut out = Vec::with_capacity(self.wanted.len());
        let answers = self.handles.into_iter().map(|h| done.get(h));
        for ((w, answer), epoch) in self.wanted.into_iter().zip(answers).zip(self.epochs) {
            out.push(answer_one(core, kind, w, answer, (epoch, purpose), Some(per_key)).await);
        }
        Ok(out)
    }
}

/// What L2 answered for one key (`answer`, read when the key's epoch was `epoch`): decoded,
/// put in L1 when current, counted as `purpose` says (with its `latency` when measured).
pub(crate) async fn answer_one<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    w: Wanted<'_, T>,
    answer: Read,
    at: (Epoch, ReadFor),
    latency: Option<Duration>,
) -> L2Read<T> {
    answer_value(core, kind, w, (answer.value, answer.lease), at, latency).await
}

/// [`answer_one`] of the bytes found (if any) and the lease's outcome.
async fn answer_value<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    w: Wanted<'_, T>,
    (value, lease): (Option<Bytes>, LeaseOutcome),
    (epoch, purpose): (Epoch, ReadFor),
    latency: Option<Duration>,
) -> L2Read<T> {
    let now = core.clock.now_ms();
    let (found, seen) = match &value {
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
    let read = settle(now, found.map(|(f, _)| f), w.stale, lease);
    count(kind, &read, purpose, (now, latency), (w.key, seen));
    read
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

/// Counts a read as its purpose says (its latency when measured); a miss with its cause when
/// the entry told it (`seen`).
fn count<T>(
    kind: &KindState,
    read: &L2Read<T>,
    purpose: ReadFor,
    (now, latency): (u64, Option<Duration>),
    (key, seen): (&Key, Option<MissCause>),
) {
    let stats = &kind.stats;
    match (&read.found, read.fresh, purpose, latency) {
        (_, _, ReadFor::Wait, _) => {}
        (Some(found), true, ReadFor::Serve | ReadFor::Fill, Some(latency)) => {
            stats.hit(Tier::L2, found.meta.age_ms(now), latency);
        }
        (Some(found), true, ReadFor::Serve | ReadFor::Fill, None) => {
            stats.hit_untimed(Tier::L2, found.meta.age_ms(now));
        }
        (_, _, _, Some(latency)) => stats.tier_miss_on(Tier::L2, latency, key.as_str(), seen, now),
        (_, _, _, None) => stats.tier_miss_untimed_on(Tier::L2, key.as_str(), seen, now),
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
    match decode_here(core, kind, key, bytes) {
        Decoded::Done(found) => found,
        // Boxed: what needs the backend (a version check, deleting garbage) would make every
        // read's future larger than the allocator's per-thread cache takes.
        Decoded::Check(found) => Box::pin(check(core, kind, found)).await,
        Decoded::Garbage => {
            if purpose.deletes_garbage() {
                let _ = Box::pin(kind.l2.delete_if_equals(key, bytes)).await;
            }
            Err(MissCause::Undecodable)
        }
    }
}

/// What [`decode_here`] found.
enum Decoded<T> {
    /// Decoded and judged.
    Done(Result<Found<T>, MissCause>),
    /// Decoded; whether it is current needs the backend.
    Check(Found<T>),
    /// Not decodable (counted and logged).
    Garbage,
}

/// Decodes and judges bytes from L2 without the backend where this instance knows enough.
fn decode_here<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    key: &Key,
    bytes: &[u8],
) -> Decoded<T> {
    match kind.l2.codec().decode::<T>(bytes, Some(kind.keys.schema())) {
        Ok(env) => {
            let tags: Option<Arc<[TagVersion]>> = (!env.tags.is_empty()).then(|| env.tags.into());
            let found = Found {
                value: env.value.map(Arc::new),
                meta: env.meta,
                tags,
            };
            let recorded = (found.meta.generation, found.tags.as_deref());
            match kind.is_current_here(&core.versions, recorded) {
                Some(true) => Decoded::Done(Ok(found)),
                Some(false) => Decoded::Done(Err(MissCause::Invalidated)),
                None => Decoded::Check(found),
            }
        }
        // An older (or newer) shape: a plain miss; the next write replaces it.
        Err(CodecError::SchemaMismatch { .. }) => Decoded::Done(Err(MissCause::Undecodable)),
        Err(e) => {
            kind.stats.error(Tier::L2, "codec");
            tracing::warn!(%key, error = %e, "undecodable entry");
            Decoded::Garbage
        }
    }
}

/// `found` if it is current (its kind's generation and its tags read from the backend).
async fn check<T>(core: &Core, kind: &KindState, found: Found<T>) -> Result<Found<T>, MissCause> {
    let recorded = (found.meta.generation, found.tags.as_deref());
    if kind.is_current(&core.versions, recorded).await {
        Ok(found)
    } else {
        Err(MissCause::Invalidated)
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
