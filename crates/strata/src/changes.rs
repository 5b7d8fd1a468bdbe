//! Changes that reach every instance: clearing everything, a kind or a tag, deleting keys,
//! applying invalidation rules.

use strata_backend::{BackendError, Invalidation, Listing};
use strata_invalidation::{Rules, Target};

use crate::core::Core;
use crate::error::Error;
use crate::write;

/// The backend's listing, or an error naming the backend.
fn listing(core: &Core) -> Result<&dyn Listing, Error> {
    core.l2
        .listing()
        .ok_or_else(|| BackendError::unsupported(core.l2.backend().name(), "scan").into())
}

/// Drops every L1 entry and marks every load and L2 read in progress as overtaken; the kind
/// and tag versions are read again.
fn forget_all(core: &Core) {
    core.versions.unsync_all();
    core.local.forget_all();
}

/// Removes every entry of this cache's prefix from both tiers.
pub(crate) async fn clear(core: &Core) -> Result<u64, Error> {
    forget_all(core);
    let removed = core.l2.call(core.l2.backend().clear()).await;
    // Reads that fetched old bytes before the backend cleared must not fill L1 after it.
    forget_all(core);
    let removed = removed?;
    core.bus.publish(Invalidation::All).await;
    Ok(removed)
}

/// [`clear`], page by page through the backend's listing, calling `progress(removed)`.
pub(crate) async fn clear_with_progress(core: &Core, progress: impl Fn(u64)) -> Result<u64, Error> {
    forget_all(core);
    let listing = listing(core)?;
    let namespace = core.l2.backend().namespace().to_owned();
    let (mut cursor, mut removed) = (None, 0);
    loop {
        let page = core.l2.call(listing.scan(&namespace, cursor, 1000)).await?;
        let refs: Vec<&str> = page.keys.iter().map(String::as_str).collect();
        if !refs.is_empty() {
            removed += core.l2.call(core.l2.backend().delete_many(&refs)).await?;
        }
        progress(removed);
        cursor = page.next;
        if cursor.is_none() {
            forget_all(core);
            core.bus.publish(Invalidation::All).await;
            return Ok(removed);
        }
    }
}

/// Clears `kind` in O(1): moves its generation on, drops it here and tells the other instances.
pub(crate) async fn clear_kind(core: &Core, kind: &str) -> Result<u64, Error> {
    let keys = core.space.kind(kind)?;
    let generation = core.versions.bump_kind(&core.l2, kind).await?;
    core.local.forget_kind(&keys);
    core.bus
        .publish(Invalidation::Kind {
            kind: kind.to_owned(),
            generation,
        })
        .await;
    Ok(generation)
}

/// Invalidates every entry tagged `tag` in O(1), on every instance.
pub(crate) async fn invalidate_tag(core: &Core, tag: &str) -> Result<u64, Error> {
    let version = core.versions.bump_tag(&core.l2, tag).await?;
    core.bus
        .publish(Invalidation::Tag {
            tag: tag.to_owned(),
            version,
        })
        .await;
    Ok(version)
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
    let plain = keys.kind_namespace();
    let tagged = keys.clone().with_hash_tag(true).kind_namespace();
    let prefixes = if tagged == plain {
        vec![plain]
    } else {
        vec![plain, tagged]
    };
    let listing = listing(core)?;
    let (mut scanned, mut removed) = (0u64, 0u64);
    for prefix in prefixes {
        let mut cursor = None;
        loop {
            let page = core.l2.call(listing.scan(&prefix, cursor, 500)).await?;
            let refs: Vec<&str> = page.keys.iter().map(String::as_str).collect();
            scanned += refs.len() as u64;
            removed += purge_page(core, listing, &refs, generation).await?;
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
async fn purge_page(
    core: &Core,
    listing: &dyn Listing,
    keys: &[&str],
    generation: u64,
) -> Result<u64, Error> {
    if keys.is_empty() {
        return Ok(0);
    }
    let values = core.l2.call(core.l2.backend().get_many(keys)).await?;
    let mut removed = 0;
    for (key, value) in keys.iter().zip(values) {
        let Some(bytes) = value else { continue };
        let old = strata_codec::peek(&bytes).map_or(true, |info| info.meta.generation < generation);
        if old && core.l2.call(listing.delete_if_equals(key, &bytes)).await? {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Applies `rules` for a `change` of the entity `id`; every target is attempted and the first
/// error returned. Answers how many keys were deleted.
pub(crate) async fn invalidate(
    core: &Core,
    rules: &Rules,
    change: &str,
    id: &str,
) -> Result<u64, Error> {
    let mut removed = 0;
    let mut first_error = None;
    for target in rules.targets(change, id)? {
        let result = match target {
            Target::Key { kind, id } => delete_every_schema(core, &kind, &id).await,
            Target::Kind(kind) => clear_kind(core, &kind).await.map(|_| 0),
            Target::Tag(tag) => invalidate_tag(core, &tag).await.map(|_| 0),
            _ => Ok(0),
        };
        match result {
            Ok(n) => removed += n,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(removed), Err)
}

/// Deletes (`kind`, `id`) under every schema version of the kind this instance has used.
async fn delete_every_schema(core: &Core, kind: &str, id: &str) -> Result<u64, Error> {
    let mut n = 0;
    let mut err = None;
    for schema in core.kinds.schemas_of(kind) {
        let deleted = match core.kind(kind, schema) {
            Ok(state) => match state.keys.key(id) {
                Ok(key) => write::delete(core, &state, &key).await,
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e),
        };
        match deleted {
            Ok(existed) => n += u64::from(existed),
            Err(e) => err = Some(e),
        }
    }
    err.map_or(Ok(n), Err)
}

/// Removes one entry by its full key from both tiers; true if the backend held it.
pub(crate) async fn delete_key(core: &Core, key: &str) -> Result<bool, Error> {
    core.local.forget(key).await;
    let existed = core.l2.call(core.l2.backend().delete(key)).await;
    core.local.forget(key).await;
    let existed = existed?;
    core.bus
        .publish(Invalidation::Keys(vec![key.to_owned()]))
        .await;
    Ok(existed)
}
