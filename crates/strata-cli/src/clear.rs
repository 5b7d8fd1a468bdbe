//! `strata clear`: through the application's change path, so running instances hear of it.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use strata::{Backend, Key, KeyId, KindName, Listing, RedisBackend, is_internal_kind};

use crate::setup::Setup;

/// The kind of Strata's version counters (wire-format.md §2.3).
const COUNTERS: &str = "__version";

/// Clears one kind (`kind`) or everything under the prefix.
pub(crate) async fn clear(setup: &Setup, kind: Option<String>, all: bool, yes: bool) -> Result<()> {
    let backend = setup.backend().await?;
    let prefix = &setup.config.prefix;
    let version = &setup.config.app_version;
    let what = match (&kind, all) {
        (Some(k), _) => {
            // A routed kind's generation counter lives in its own backend.
            let routed = setup
                .config
                .kinds
                .get(k.as_str())
                .and_then(|s| s.backend.as_ref());
            match routed {
                Some(_) => check_kind(&setup.backend_of(k).await?, setup, k).await?,
                None => check_kind(&backend, setup, k).await?,
            }
            format!("every {k:?} entry under prefix {prefix:?} (app version {version})")
        }
        (None, true) => format!("EVERY entry under prefix {prefix:?}"),
        (None, false) => bail!("give --kind KIND or --all"),
    };
    if !yes {
        confirm(&what)?;
    }
    let cache = setup.cache().await?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    let said = match kind {
        Some(k) => {
            let removed = cache
                .admin()
                .purge_kind_with_progress(&k, |scanned, removed| {
                    bar.set_message(format!("scanned {scanned}, removed {removed}"))
                })
                .await?;
            format!("removed {removed} entries")
        }
        None => {
            let counted = count(&backend, |n| bar.set_message(format!("counted {n}"))).await?;
            bar.set_message("clearing");
            let removed = cache.clear().await?;
            let entries = removed.saturating_sub(counted.counters);
            format!(
                "removed {entries} entries (and {} version counters, the schema registries and \
                 the load leases)",
                counted.counters
            )
        }
    };
    bar.finish_and_clear();
    println!("{said}");
    Ok(())
}

fn confirm(what: &str) -> Result<()> {
    eprint!("Clear {what}? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("aborted, nothing cleared (pass --yes to clear without asking)");
    }
    Ok(())
}

/// Refuses a kind nothing knows (no entry, no generation counter, not configured), naming
/// the known ones, like the HTTP route's 404; and Strata's internal kinds.
async fn check_kind(backend: &RedisBackend, setup: &Setup, kind: &str) -> Result<()> {
    if is_internal_kind(kind) {
        bail!("{kind:?} is one of Strata's internal kinds; it cannot be cleared by itself");
    }
    KindName::new(kind).map_err(|e| anyhow!("invalid --kind: {e}"))?;
    // At once when the kind has a generation counter (every kind read or written has one).
    let counter = setup
        .space
        .keys_of(&KindName::internal(COUNTERS)?)
        .key(format!("kind:{kind}"))?;
    let has_counter = backend
        .get(counter.as_str())
        .await
        .map_err(|e| anyhow!("GET failed: {}", e.message()))?
        .is_some();
    if has_counter {
        return Ok(());
    }
    let known = known_kinds(backend, setup).await?;
    if known.contains(kind) {
        return Ok(());
    }
    let list = if known.is_empty() {
        "none (nothing is cached under this prefix and app version)".to_owned()
    } else {
        known.into_iter().collect::<Vec<_>>().join(", ")
    };
    bail!(
        "unknown kind {kind:?} under prefix {:?} (app version {}); known kinds: {list}",
        setup.config.prefix,
        setup.config.app_version
    )
}

/// The application kinds of this prefix and app version: those with entries or a generation
/// counter in Redis, and those the configuration names.
pub(crate) async fn known_kinds(backend: &RedisBackend, setup: &Setup) -> Result<BTreeSet<String>> {
    let mut kinds: BTreeSet<String> = setup
        .config
        .configured_kinds()
        .into_keys()
        .map(str::to_owned)
        .collect();
    let namespace = setup.space.versioned_namespace();
    let mut cursor = None;
    loop {
        let page = backend
            .scan(&namespace, cursor, 1000)
            .await
            .map_err(|e| anyhow!("SCAN failed: {}", e.message()))?;
        for key in &page.keys {
            let Ok(parts) = Key::parse(key) else { continue };
            match (parts.kind.as_str(), parts.id) {
                (COUNTERS, KeyId::Plain(id)) => {
                    if let Some(kind) = id.strip_prefix("kind:") {
                        kinds.insert(kind.to_owned());
                    }
                }
                (kind, _) if !is_internal_kind(kind) => {
                    kinds.insert(kind.to_owned());
                }
                _ => {}
            }
        }
        cursor = page.next;
        if cursor.is_none() {
            return Ok(kinds);
        }
    }
}

/// What a scan of the whole prefix found.
struct Counted {
    /// Version counters (not entries).
    counters: u64,
}

/// Counts the version counters under the prefix (every app version), calling `progress` with
/// the keys seen so far.
async fn count(backend: &RedisBackend, progress: impl Fn(u64)) -> Result<Counted> {
    let mut counted = Counted { counters: 0 };
    let (mut cursor, mut seen) = (None, 0u64);
    loop {
        let page = backend
            .scan(backend.namespace(), cursor, 1000)
            .await
            .map_err(|e| anyhow!("SCAN failed: {}", e.message()))?;
        seen += page.keys.len() as u64;
        counted.counters += page
            .keys
            .iter()
            .filter(|k| Key::parse(k).is_ok_and(|p| is_internal_kind(&p.kind)))
            .count() as u64;
        progress(seen);
        cursor = page.next;
        if cursor.is_none() {
            return Ok(counted);
        }
    }
}
