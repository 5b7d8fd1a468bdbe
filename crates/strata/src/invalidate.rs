//! Invalidations that reach every instance: clearing everything, a kind or a tag, deleting
//! keys, applying invalidation rules; each one [`Change`](crate::change::Change).

use strata_backend::batch::Batch;
use strata_backend::batch::{Family, FamilyDeleted};
use strata_invalidation::{Invalidation, Rules, Target};

use crate::backends::BackendId;
use crate::change::{Answer, Applied, Change, Done};
use crate::core::Core;
use crate::error::Error;
use crate::l2::L2;

/// Drops every L1 entry and marks every load and L2 read in progress as overtaken; the kind
/// and tag versions are read again.
fn forget_all(core: &Core) {
    core.versions.unsync_all();
    core.local.forget_all();
}

/// Removes every entry of this cache's prefix from both tiers (from every backend,
/// concurrently).
pub(crate) async fn clear(core: &Core) -> Result<u64, Error> {
    forget_all(core);
    let clears = core.backends.all().map(|(_, b)| b.l2().clear());
    let results = futures::future::join_all(clears).await;
    // Reads that fetched old bytes before the backend cleared must not fill L1 after it.
    forget_all(core);
    let mut removed = 0;
    for r in results {
        removed += r?;
    }
    core.bus.publish(Invalidation::All).await;
    Ok(removed)
}

/// [`clear`], page by page through the backend's listing, calling `progress(removed)`.
pub(crate) async fn clear_with_progress(core: &Core, progress: impl Fn(u64)) -> Result<u64, Error> {
    forget_all(core);
    let mut removed = 0;
    for (_, backend) in core.backends.all() {
        let l2 = backend.l2();
        let namespace = l2.namespace().to_owned();
        let mut cursor = None;
        loop {
            let page = l2.scan(&namespace, cursor, 1000).await?;
            if !page.keys.is_empty() {
                let mut batch = Batch::new();
                let deleted = batch.delete(page.keys);
                removed += l2.run(batch).await?.get(deleted);
            }
            progress(removed);
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
    }
    forget_all(core);
    core.bus.publish(Invalidation::All).await;
    Ok(removed)
}

/// What one invalidation target asks of the change.
enum Planned {
    /// Entries of (kind, id) under every schema.
    Family(Answer<FamilyDeleted>),
    /// A kind's generation bump from its floor (its new value is learned, the kind dropped
    /// here); no bump without counters in the backend.
    Kind(String, u64, Option<Answer<u64>>),
    /// A tag's version bump from its floor.
    Tag(String, u64, Option<Answer<u64>>),
}

/// Adds a kind clear to `change` (in the kind's backend, where its generation lives).
fn plan_kind(core: &Core, change: &mut Change<'_>, kind: &str) -> Result<Planned, Error> {
    let (key, floor) = core.versions.kind_bump(kind)?;
    core.local.forget_kind(&core.space.kind(kind)?);
    let on = core.backends.of_kind(kind);
    let bumped = if core.versions.shared_kind(kind) {
        Some(change.bump_kind(on, kind, key, floor))
    } else {
        change.announce_fixed(
            on,
            Invalidation::Kind {
                kind: kind.to_owned(),
                generation: floor,
            },
        );
        None
    };
    Ok(Planned::Kind(kind.to_owned(), floor, bumped))
}

/// Adds a tag invalidation to `change` (in the default backend, where tag counters live).
fn plan_tag(core: &Core, change: &mut Change<'_>, tag: &str) -> Result<Planned, Error> {
    let (key, floor, ttl) = core.versions.tag_bump(tag)?;
    let bumped = if core.versions.shared() {
        Some(change.bump_tag(tag, key, floor, ttl))
    } else {
        change.announce_fixed(
            BackendId::DEFAULT,
            Invalidation::Tag {
                tag: tag.to_owned(),
                version: floor,
            },
        );
        None
    };
    Ok(Planned::Tag(tag.to_owned(), floor, bumped))
}

/// Adds the deletes of (`kind`, `id`) under every schema version any instance registered.
fn plan_key(core: &Core, change: &mut Change<'_>, kind: &str, id: &str) -> Result<Planned, Error> {
    let state = core.kind(kind, 1)?;
    let (before, after) = state.keys.around_schema(id)?;
    let known: Vec<String> = core
        .kinds
        .schemas_of(kind)
        .iter()
        .map(u32::to_string)
        .collect();
    let family = Family::new(state.registry.clone(), before, after, known);
    Ok(Planned::Family(change.delete_family(state.backend, family)))
}

/// Takes what the batch answered (`done`, none when it did not run) for the planned targets:
/// counters learned (their floors when the batch did not run), keys deleted (and forgotten here
/// once more, so a read racing the batch cannot refill L1).
async fn settle(core: &Core, planned: Vec<Planned>, done: Option<&Done>) -> (u64, Vec<u64>) {
    let mut removed = 0;
    let mut values = Vec::new();
    for p in planned {
        match p {
            Planned::Family(handle) => {
                let Some(done) = done else { continue };
                let family = done.get(handle);
                removed += family.deleted;
                for k in &family.keys {
                    core.local.forget(k).await;
                }
            }
            Planned::Kind(kind, floor, bumped) => {
                let v = bumped.zip(done).map_or(floor, |(h, d)| d.get(h));
                core.versions.learn_kind(&kind, v);
                values.push(v);
            }
            Planned::Tag(tag, floor, bumped) => {
                let v = bumped.zip(done).map_or(floor, |(h, d)| d.get(h));
                core.versions.learn_tag(&tag, v);
                values.push(v);
            }
        }
    }
    (removed, values)
}

/// Clears `kind` in O(1): moves its generation on, drops it here and tells the other
/// instances, in one batch.
#[tracing::instrument(level = "debug", name = "strata.clear_kind", skip(core))]
pub(crate) async fn clear_kind(core: &Core, kind: &str) -> Result<u64, Error> {
    let (_, values) = apply_targets(core, vec![Target::Kind(kind.to_owned())]).await?;
    Ok(values.first().copied().unwrap_or(0))
}

/// Invalidates every entry tagged `tag` in O(1), on every instance, in one batch.
#[tracing::instrument(level = "debug", name = "strata.invalidate_tag", skip(core))]
pub(crate) async fn invalidate_tag(core: &Core, tag: &str) -> Result<u64, Error> {
    let (_, values) = apply_targets(core, vec![Target::Tag(tag.to_owned())]).await?;
    Ok(values.first().copied().unwrap_or(0))
}

/// What [`Cache::invalidate`](crate::Cache::invalidate) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Invalidated {
    /// Entries deleted from the backend (every schema version of each target key).
    pub deleted: u64,
    /// The backend could not be reached: the change waits in this instance's deferred queue
    /// and reaches the backend and the other instances once it answers again (this instance's
    /// L1 honours it already). See [`Admin::deferred_changes`](crate::Admin::deferred_changes).
    pub deferred: bool,
    /// The backend answered but refused the change (out of memory, a permission): it is not
    /// replayed, the other instances converge through the L1 lifetime cap, and the failure is
    /// counted and logged. Only without `strict`, which returns the error instead.
    pub failed: bool,
}

/// Applies `targets` in one batch per backend they touch, concurrently: what it did, and the new counter values of kinds and tags
/// (their floors when deferred).
async fn apply_targets(
    core: &Core,
    targets: Vec<Target>,
) -> Result<(Invalidated, Vec<u64>), Error> {
    let mut change = Change::new(core);
    let mut planned = Vec::with_capacity(targets.len());
    // A refused change is counted against the kind of its first target (if any).
    let failure_kind = targets.iter().find_map(|t| match t {
        Target::Key { kind, .. } | Target::Kind(kind) => Some(kind.clone()),
        _ => None,
    });
    for target in targets {
        planned.push(match target {
            Target::Key { kind, id } => {
                forget_every_schema(core, &kind, &id).await;
                plan_key(core, &mut change, &kind, &id)?
            }
            Target::Kind(kind) => plan_kind(core, &mut change, &kind)?,
            Target::Tag(tag) => plan_tag(core, &mut change, &tag)?,
            _ => continue,
        });
    }
    let applied = change.apply().await;
    let mut outcome = Invalidated::default();
    let done = match applied {
        Ok(Applied::Done(done)) => Some(done),
        Ok(Applied::Deferred(e)) => {
            tracing::debug!(error = ?e, "the backend is unreachable: the invalidation is deferred");
            outcome.deferred = true;
            None
        }
        Err(e) => {
            let stats = failure_kind.map(|kind| core.stats.kind(&kind));
            core.l2.write_failed(stats.as_deref(), e)?;
            outcome.failed = true;
            None
        }
    };
    let (deleted, values) = settle(core, planned, done.as_ref()).await;
    outcome.deleted = deleted;
    Ok((outcome, values))
}

/// Drops (`kind`, `id`) from L1 under every schema this instance uses, before the change.
async fn forget_every_schema(core: &Core, kind: &str, id: &str) {
    for schema in core.kinds.schemas_of(kind) {
        if let Ok(key) = core.kind(kind, schema).and_then(|s| Ok(s.keys.key(id)?)) {
            core.local.forget(&key).await;
        }
    }
}

/// Clears `kind`, then removes its entries written before the clear from the backend, page by
/// page, calling `progress(scanned, removed)`.
pub(crate) async fn purge_kind(
    core: &Core,
    kind: &str,
    progress: impl Fn(u64, u64),
) -> Result<u64, Error> {
    let generation = clear_kind(core, kind).await?;
    let keys = core.space.kind(kind)?;
    let l2 = core.backends.get(core.backends.of_kind(kind)).l2();
    let plain = keys.kind_namespace();
    let tagged = keys.clone().with_hash_tag(true).kind_namespace();
    let prefixes = if tagged == plain {
        vec![plain]
    } else {
        vec![plain, tagged]
    };
    let (mut scanned, mut removed) = (0u64, 0u64);
    for prefix in prefixes {
        let mut cursor = None;
        loop {
            let page = l2.scan(&prefix, cursor, 500).await?;
            scanned += page.keys.len() as u64;
            removed += purge_page(l2, &page.keys, generation).await?;
            progress(scanned, removed);
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
    }
    core.stats.kind(kind).deletes(removed);
    Ok(removed)
}

/// Deletes the entries of `keys` written under a generation older than `generation`, each only
/// if it still holds the bytes just read (values written meanwhile survive).
async fn purge_page(l2: &L2, keys: &[String], generation: u64) -> Result<u64, Error> {
    if keys.is_empty() {
        return Ok(0);
    }
    let mut batch = Batch::new();
    let reads: Vec<_> = keys.iter().map(|k| batch.read(k.as_str(), None)).collect();
    let done = l2.run(batch).await?;
    let mut removed = 0;
    for (key, read) in keys.iter().zip(reads) {
        let Some(bytes) = done.get(read).value else {
            continue;
        };
        let old = strata_codec::peek(&bytes).map_or(true, |info| info.meta.generation < generation);
        if old && l2.delete_if_equals(key, &bytes).await? {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Applies `rules` for a `change` of the entity `id`, every target in one batch. Answers how
/// many entries were deleted.
#[tracing::instrument(level = "debug", name = "strata.invalidate", skip(core, rules))]
pub(crate) async fn invalidate(
    core: &Core,
    rules: &Rules,
    change: &str,
    id: &str,
) -> Result<Invalidated, Error> {
    let targets = rules.targets(change, id)?;
    let (outcome, _) = apply_targets(core, targets).await?;
    Ok(outcome)
}

/// Removes one entry by its full key from both tiers (one batch, in the backend of the key's
/// kind); true if the backend held it.
pub(crate) async fn delete_key(core: &Core, key: &str) -> Result<bool, Error> {
    core.local.forget(key).await;
    let on = strata_keys::Key::parse(key).map_or(BackendId::DEFAULT, |parts| {
        core.backends.of_kind(&parts.kind)
    });
    let mut change = Change::new(core);
    let deleted = change.delete(on, vec![key.to_owned()]);
    change.announce_keys(on, vec![key.to_owned()]);
    let done = change.apply().await;
    core.local.forget(key).await;
    Ok(match done? {
        Applied::Done(done) => done.get(deleted) > 0,
        Applied::Deferred(_) => false,
    })
}
