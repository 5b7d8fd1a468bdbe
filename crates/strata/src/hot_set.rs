//! Hot-set warming. Each instance records its hottest keys per kind (from the kind's hot-key
//! sketch) in the backend under `{prefix}:#hot:{kind}`, outside the entries' prefix
//! `{prefix}:{app_version}:` so that recording it invalidates nothing; a starting instance
//! reads those sets in [`Cache::ready`](crate::Cache::ready) and fills its L1 from L2 for
//! them with batched reads. Wire format: docs/wire-format.md §3.
//!
//! L1 keeps decoded values, so filling it needs each kind's value type: a kind is warmed when
//! a typed handle of it (`cache.kind::<T>()`, `cache.of::<T>()`, a `#[cached]` function's) was
//! made before `ready()`.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use strata_backend::Bytes;
use strata_backend::batch::Batch;
use strata_keys::{Key, KeyId};

use crate::cacheable::CacheValue;
use crate::core::Core;
use crate::error::Error;
use crate::kinds::KindState;
use crate::l2_read::{self, ReadFor, Wanted};

/// The first line of a recorded hot set: the format and its version.
pub(crate) const HEADER: &str = "strata-hot-set 1";

/// Keys read from L2 in one batch while warming.
const FILL_BATCH: usize = 100;

/// Reads `keys` of a kind from L2 into L1 (typed: L1 holds decoded values); answers how many
/// were found fresh.
type FillFn =
    for<'a> fn(&'a Core, &'a KindState, Vec<Key>) -> Pin<Box<dyn Future<Output = u64> + Send + 'a>>;

/// The filler of values of type `T`, type-erased for [`KindState`].
pub(crate) fn filler<T: CacheValue>() -> Arc<dyn Any + Send + Sync> {
    Arc::new(fill::<T> as FillFn)
}

fn fill<'a, T: CacheValue>(
    core: &'a Core,
    kind: &'a KindState,
    keys: Vec<Key>,
) -> Pin<Box<dyn Future<Output = u64> + Send + 'a>> {
    Box::pin(async move {
        let wanted = keys.iter().map(Wanted::<T>::key).collect();
        match l2_read::read_many::<T>(core, kind, wanted, &[], ReadFor::Wait).await {
            Ok(reads) => reads.iter().filter(|r| r.fresh).count() as u64,
            Err(_) => 0,
        }
    })
}

/// Where `kind`'s hot set is recorded.
pub(crate) fn record_key(prefix: &str, kind: &str) -> String {
    format!("{prefix}:#hot:{kind}")
}

/// A hot set as recorded: the header, then one `count<TAB>key suffix` line per key, hottest
/// first (the suffix is the key after `{prefix}:{app_version}:`).
pub(crate) fn encode(entries: &[(String, u64)]) -> Bytes {
    let mut out = String::from(HEADER);
    for (suffix, count) in entries {
        out.push('\n');
        out.push_str(&count.to_string());
        out.push('\t');
        out.push_str(suffix);
    }
    Bytes::from(out)
}

/// The entries of a recorded hot set; nothing when the header is not this format's, and
/// malformed lines are skipped.
pub(crate) fn decode(bytes: &[u8]) -> Vec<(String, u64)> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Vec::new();
    };
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Vec::new();
    }
    lines
        .filter_map(|line| {
            let (count, suffix) = line.split_once('\t')?;
            Some((suffix.to_owned(), count.parse().ok()?))
        })
        .filter(|(suffix, _)| !suffix.is_empty())
        .collect()
}

/// Records every kind's hot set (this instance's hottest keys merged with the recorded set,
/// whose counts are halved first so that old heat fades); answers the keys recorded. Each
/// kind's sketch is halved after its record.
pub(crate) async fn publish(core: &Core) -> Result<usize, Error> {
    let size = core.config.warm.hot_set_size;
    let ns = core.space.versioned_namespace();
    let mut written = 0;
    for kind in core.stats.kind_names() {
        if strata_keys::is_internal_kind(&kind) {
            continue;
        }
        let stats = core.stats.kind(&kind);
        let Some(hot) = stats.hot_keys() else {
            continue;
        };
        let own = hot.hottest(size);
        if own.is_empty() {
            continue;
        }
        let key = record_key(&core.config.prefix, &kind);
        let mut merged: HashMap<String, u64> = read(core, &key)
            .await?
            .into_iter()
            .map(|(suffix, count)| (suffix, count / 2))
            .collect();
        for h in own {
            if let Some(suffix) = h.key.as_str().strip_prefix(&ns) {
                *merged.entry(suffix.to_owned()).or_default() += h.count;
            }
        }
        let mut list: Vec<(String, u64)> = merged.into_iter().filter(|(_, c)| *c > 0).collect();
        list.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        list.truncate(size);
        let mut batch = Batch::new();
        let _ = batch.write(key, encode(&list), core.config.warm.hot_set_ttl);
        if let Err(e) = core.l2.run(batch).await {
            core.l2.write_failed(None, e)?;
            continue;
        }
        hot.decay();
        written += list.len();
    }
    Ok(written)
}

/// The recorded hot set under `key` (empty when there is none or it cannot be read).
async fn read(core: &Core, key: &str) -> Result<Vec<(String, u64)>, Error> {
    let mut batch = Batch::new();
    let handle = batch.read(key, None);
    match core.l2.run(batch).await {
        Ok(results) => Ok(results
            .get(handle)
            .value
            .map_or_else(Vec::new, |b| decode(&b))),
        Err(e) => {
            core.l2.write_failed(None, e)?;
            Ok(Vec::new())
        }
    }
}

/// Fills L1 from L2 for the recorded hot set of every kind with a typed handle, in batches,
/// counting into `core.warming`; marks the warming done at the end.
pub(crate) async fn warm_on_start(core: &Core) {
    let warming = &core.warming;
    if core.config.warm.hot_set && core.local.l1().is_some() && core.enabled() {
        let mut plans = Vec::new();
        for state in core.kinds.all() {
            let Some(fill) = state.filler.get().and_then(|f| f.downcast_ref::<FillFn>()) else {
                continue;
            };
            let key = record_key(&core.config.prefix, state.name());
            let recorded = read(core, &key).await.unwrap_or_default();
            let keys = keys_of(core, &state, recorded);
            warming
                .total
                .fetch_add(keys.len() as u64, Ordering::Relaxed);
            plans.push((state.clone(), *fill, keys));
        }
        for (state, fill, keys) in plans {
            for chunk in keys.chunks(FILL_BATCH) {
                let found = fill(core, &state, chunk.to_vec()).await;
                warming.filled.fetch_add(found, Ordering::Relaxed);
                warming
                    .done
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
        }
    }
    warming.finish();
}

/// The keys of `state` (this schema) among a recorded hot set, hottest first.
fn keys_of(core: &Core, state: &KindState, recorded: Vec<(String, u64)>) -> Vec<Key> {
    let ns = core.space.versioned_namespace();
    recorded
        .into_iter()
        .filter_map(|(suffix, _)| {
            let parts = Key::parse(&format!("{ns}{suffix}")).ok()?;
            if parts.kind != state.name() || parts.schema != state.keys.schema() {
                return None;
            }
            match parts.id {
                KeyId::Plain(id) => state.keys.key(id).ok(),
                _ => None,
            }
        })
        .collect()
}

/// Records the hot sets every `[warm] publish_every` while the cache lives.
pub(crate) fn spawn_publisher(core: &Arc<Core>) {
    if !core.config.warm.hot_set || !core.config.hot_keys.enabled {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak: Weak<Core> = Arc::downgrade(core);
    let every = core.config.warm.publish_every;
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(core) = weak.upgrade() else { return };
            if let Err(e) = publish(&core).await {
                tracing::debug!(error = %e, "could not record the hot set");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hot_set_round_trips_and_foreign_bytes_are_empty() {
        let entries = vec![("user:s1:42".to_owned(), 900), ("user:s1:7".to_owned(), 3)];
        assert_eq!(decode(&encode(&entries)), entries);
        assert!(decode(b"something else\n1\tuser:s1:1").is_empty());
        assert_eq!(
            decode(b"strata-hot-set 1\nx\tuser:s1:1\n2\tuser:s1:2"),
            [("user:s1:2".to_owned(), 2)]
        );
    }
}
