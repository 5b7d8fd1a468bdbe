//! Writing one kind's entries: encoding (jitter, metadata, tags), then both tiers; every change
//! goes out on the bus.

use std::sync::Arc;
use std::time::Duration;
use strata_codec::decoded_size;

use strata_backend::Bytes;
use strata_codec::{Codec, EntryMeta};
use strata_keys::Key;

use crate::cacheable::CacheValue;
use crate::change::{Applied, Change};
use crate::core::Core;
use crate::entry::Found;
use crate::error::Error;
use crate::kinds::KindState;
use crate::l2::L2Error;
use crate::versions::Stamp;

/// An entry ready to write: its envelope, what L1 keeps of it, and its backend TTL.
pub(crate) struct Encoded<T> {
    pub(crate) bytes: Bytes,
    pub(crate) found: Found<T>,
    /// The logical TTL (jittered) plus the fail-safe window.
    pub(crate) physical_ttl: Duration,
}

impl<T> Encoded<T> {
    /// The entry's weight in L1: what its decoded value holds, at least the envelope with
    /// its payload uncompressed.
    pub(crate) fn weight(&self) -> usize {
        decoded_size(&self.bytes)
    }
}

/// Encodes `value` (`None`: an absence) as an entry of `kind` written now for `ttl` (jittered),
/// recording `stamp`.
pub(crate) fn encode<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    value: Option<Arc<T>>,
    ttl: Duration,
    stamp: &Stamp,
) -> Result<Encoded<T>, Error> {
    let ttl = core.jittered(ttl);
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    let meta = EntryMeta::new(core.clock.now_ms(), ttl_ms, kind.keys.schema())
        .with_generation(stamp.generation);
    let tags = stamp.tags.as_deref().unwrap_or(&[]);
    let bytes = kind
        .l2
        .codec()
        .encode_tagged(&meta, tags, value.as_deref())?;
    Ok(Encoded {
        bytes,
        found: Found {
            value,
            meta,
            tags: stamp.tags.clone(),
        },
        physical_ttl: ttl + core.config.max_stale,
    })
}

/// Caches `value` under `key` with `tags`, in both tiers (the in-process copy is written even
/// when the backend fails; that failure is an error only with `strict`), and tells the other
/// instances: one batch.
#[tracing::instrument(
    level = "debug",
    name = "strata.set",
    skip_all,
    fields(kind = kind.name(), key = %key)
)]
pub(crate) async fn store<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    key: &Key,
    value: Arc<T>,
    tags: &[String],
) -> Result<(), Error> {
    if !core.enabled() {
        return forget_all(core, kind, vec![key.clone()]).await;
    }
    let flights = core.local.flights();
    flights.poison(key);
    let stamp = kind.stamp(&core.versions, tags).await;
    let entry = encode(core, kind, Some(value), kind.ttl, &stamp)?;
    let mut change = Change::new(core);
    let _ = change.write(kind.backend, key, entry.bytes.clone(), entry.physical_ttl);
    change.register(kind);
    change.announce_keys(kind.backend, vec![key.to_string()]);
    let l2 = change.apply().await;
    // A read that fetched the previous bytes must not fill L1 after this write.
    flights.poison(key);
    core.local.put(key, &entry.found, entry.weight()).await;
    let in_l2 = matches!(l2, Ok(Applied::Done(_)));
    crate::analytics::stored(core, kind, key, &entry.found.meta, in_l2);
    kind.stats.sets(1);
    outcome(kind, l2)
}

/// Caches many values of one kind: one batch to L2 (with one bus message), then L1.
pub(crate) async fn store_many<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    items: Vec<(Key, Arc<T>)>,
) -> Result<(), Error> {
    if !core.enabled() {
        return forget_all(core, kind, items.into_iter().map(|(k, _)| k).collect()).await;
    }
    let flights = core.local.flights();
    for (key, _) in &items {
        flights.poison(key);
    }
    let stamp = kind.stamp(&core.versions, &[]).await;
    let mut change = Change::new(core);
    let mut written = Vec::with_capacity(items.len());
    for (key, value) in items {
        let entry = encode(core, kind, Some(value), kind.ttl, &stamp)?;
        let _ = change.write(kind.backend, &key, entry.bytes.clone(), entry.physical_ttl);
        written.push((key, entry));
    }
    change.register(kind);
    change.announce_keys(
        kind.backend,
        written.iter().map(|(k, _)| k.to_string()).collect(),
    );
    let l2 = change.apply().await;
    let in_l2 = matches!(l2, Ok(Applied::Done(_)));
    for (key, entry) in &written {
        flights.poison(key);
        core.local.put(key, &entry.found, entry.weight()).await;
        crate::analytics::stored(core, kind, key, &entry.found.meta, in_l2);
    }
    kind.stats.sets(written.len() as u64);
    outcome(kind, l2)
}

/// Removes `key` from both tiers and tells the other instances (one batch); true if the
/// backend held it.
#[tracing::instrument(
    level = "debug",
    name = "strata.delete",
    skip_all,
    fields(kind = kind.name(), key = %key)
)]
pub(crate) async fn delete(core: &Core, kind: &KindState, key: &Key) -> Result<bool, Error> {
    kind.stats.deletes(1);
    Ok(remove(core, kind, vec![key.clone()]).await? > 0)
}

/// Caching is off: a write stores nothing but removes what `keys` held, in both tiers and on
/// every instance, so no older value is served once caching is back on.
async fn forget_all(core: &Core, kind: &KindState, keys: Vec<Key>) -> Result<(), Error> {
    remove(core, kind, keys).await.map(|_| ())
}

/// Removes `keys` from both tiers and tells the other instances, in one batch; how many the
/// backend held (0 when the backend could not be reached: the delete is deferred).
async fn remove(core: &Core, kind: &KindState, keys: Vec<Key>) -> Result<u64, Error> {
    let names: Vec<String> = keys.iter().map(ToString::to_string).collect();
    for key in &keys {
        core.local.forget(key).await;
    }
    let mut change = Change::new(core);
    let deleted = change.delete(kind.backend, names.clone());
    change.announce_keys(kind.backend, names);
    let done = change.apply().await;
    for key in &keys {
        core.local.forget(key).await;
    }
    match done {
        Ok(Applied::Done(done)) => Ok(done.get(deleted)),
        // The delete reaches the backend once it answers again.
        Ok(Applied::Deferred(e)) => {
            kind.l2.failed(&kind.stats, e);
            Ok(0)
        }
        Err(e) => kind.l2.write_failed(Some(&kind.stats), e).map(|()| 0),
    }
}

/// A write's outcome: the value is in the backend, or it is not (also when the write was
/// deferred: its invalidation waits for a replay, but the value is not stored), which is an
/// error only with `strict`.
fn outcome(kind: &KindState, l2: Result<Applied, L2Error>) -> Result<(), Error> {
    match l2 {
        Ok(Applied::Done(_)) => Ok(()),
        Ok(Applied::Deferred(e)) | Err(e) => kind.l2.write_failed(Some(&kind.stats), e),
    }
}
