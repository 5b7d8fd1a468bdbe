//! O(1) invalidation of whole kinds and of tags: version counters in the backend, known
//! locally, kept in step by the bus.
//!
//! Every entry records the generation of its kind and the versions of its tags when it was
//! written (in the envelope). Clearing a kind or invalidating a tag moves one counter on in the
//! backend (atomically, never below the wall clock in microseconds, so a counter that was lost
//! comes back higher than any value an entry recorded) and tells the other instances over the
//! bus. An entry whose recorded versions are not the current ones is a miss, in both tiers; no
//! key is scanned or deleted. Old entries leave with their TTL or the eviction policy.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;
use strata_backend::Invalidation;
use strata_codec::TagVersion;

use crate::cache::{Cache, KindCtx};
use crate::error::Error;

/// Set on a kind's generation until it has been read from the backend.
const UNSYNCED: u64 = 1 << 63;

/// Tag versions known locally before the table is emptied (and refilled from the backend).
const MAX_KNOWN_TAGS: usize = 100_000;

/// The generation of one kind as this instance knows it.
#[derive(Debug, Default)]
pub(crate) struct KindGeneration(AtomicU64);

impl KindGeneration {
    fn new() -> Self {
        Self(AtomicU64::new(UNSYNCED))
    }

    /// The generation, and whether it has been read from the backend since the last reset.
    pub(crate) fn load(&self) -> (u64, bool) {
        let v = self.0.load(Ordering::Acquire);
        (v & !UNSYNCED, v & UNSYNCED == 0)
    }

    /// Takes `generation` if it is newer, and marks the value as read from the backend.
    fn raise(&self, generation: u64) {
        let g = generation & !UNSYNCED;
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                Some((cur & !UNSYNCED).max(g))
            });
    }

    /// Marks the value as possibly behind (messages may have been missed).
    fn unsync(&self) {
        self.0.fetch_or(UNSYNCED, Ordering::AcqRel);
    }
}

/// What every entry of a kind records when it is written: the kind's generation and the
/// versions of its tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) generation: u64,
    pub(crate) tags: Option<Arc<[TagVersion]>>,
}

/// The version counters this instance knows.
pub(crate) struct Versions {
    kinds: RwLock<HashMap<String, Arc<KindGeneration>>>,
    tags: RwLock<HashMap<String, u64>>,
    /// How long a tag counter lives in the backend after its last invalidation.
    tag_ttl: Option<Duration>,
    /// A bus keeps the local values in step. Without one, every check of an entry read from
    /// the backend reads the counters again (L1 entries use the local values, like everything
    /// else in L1 without a bus: bounded by the L1 lifetime cap).
    trust_local: bool,
}

impl Versions {
    pub(crate) fn new(tag_ttl: Option<Duration>, trust_local: bool) -> Self {
        Self {
            kinds: RwLock::default(),
            tags: RwLock::default(),
            tag_ttl,
            trust_local,
        }
    }

    /// The shared generation of `kind`.
    pub(crate) fn kind(&self, kind: &str) -> Arc<KindGeneration> {
        if let Some(g) = self.kinds.read().get(kind) {
            return g.clone();
        }
        self.kinds
            .write()
            .entry(kind.to_owned())
            .or_insert_with(|| Arc::new(KindGeneration::new()))
            .clone()
    }

    fn raise_tag(&self, tag: &str, version: u64) {
        let mut tags = self.tags.write();
        if tags.len() >= MAX_KNOWN_TAGS && !tags.contains_key(tag) {
            tags.clear();
        }
        let v = tags.entry(tag.to_owned()).or_insert(0);
        *v = (*v).max(version);
    }

    /// After messages may have been missed: everything is read from the backend again.
    pub(crate) fn unsync_all(&self) {
        for g in self.kinds.read().values() {
            g.unsync();
        }
        self.tags.write().clear();
    }

    /// Applies another instance's kind clear.
    pub(crate) fn apply_kind(&self, kind: &str, generation: u64) {
        self.kind(kind).raise(generation);
    }

    /// Applies another instance's tag invalidation.
    pub(crate) fn apply_tag(&self, tag: &str, version: u64) {
        self.raise_tag(tag, version);
    }
}

/// Microseconds since the Unix epoch: the floor of every new counter value.
fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX >> 1))
        .unwrap_or(1)
}

impl Cache {
    fn version_key(&self, what: &str, name: &str) -> Result<String, Error> {
        Ok(self
            .inner
            .space
            .kind("__version")?
            .key(format_args!("{what}:{name}"))?
            .to_string())
    }

    /// The current generation of the kind of `ctx` (read from the backend once, then kept in
    /// step by the bus). When the backend cannot answer, the last known value.
    pub(crate) async fn generation(&self, ctx: &KindCtx) -> u64 {
        match ctx.generation.load() {
            (g, true) if self.inner.versions.trust_local => g,
            (g, _) => self.sync_generation(ctx).await.unwrap_or(g),
        }
    }

    async fn sync_generation(&self, ctx: &KindCtx) -> Option<u64> {
        let key = self.version_key("kind", ctx.keys.kind()).ok()?;
        let Some(counters) = self.inner.backend.as_version_counters() else {
            // A backend without counters: this instance's own count is the truth.
            ctx.generation.raise(0);
            return Some(ctx.generation.load().0);
        };
        match self
            .l2_call("versions", counters.versions(&[&key], now_us(), None))
            .await
        {
            Some(Ok(v)) => ctx.generation.raise(v.first().copied().unwrap_or(0)),
            _ => return None,
        }
        Some(ctx.generation.load().0)
    }

    /// The current versions of `tags`, in order; `None` when some could not be read.
    pub(crate) async fn tag_versions(&self, tags: &[String]) -> Option<Vec<TagVersion>> {
        let versions = &self.inner.versions;
        let mut out = Vec::with_capacity(tags.len());
        let mut missing = Vec::new();
        {
            let known = versions.tags.read();
            for (i, t) in tags.iter().enumerate() {
                match known.get(t) {
                    Some(v) if versions.trust_local => out.push(TagVersion::new(t.clone(), *v)),
                    _ => {
                        out.push(TagVersion::new(t.clone(), 0));
                        missing.push(i);
                    }
                }
            }
        }
        if missing.is_empty() {
            return Some(out);
        }
        let keys = missing
            .iter()
            .map(|i| self.version_key("tag", &tags[*i]))
            .collect::<Result<Vec<_>, _>>()
            .ok()?;
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let found = match self.inner.backend.as_version_counters() {
            Some(counters) => match self
                .l2_call(
                    "versions",
                    counters.versions(&refs, now_us(), versions.tag_ttl),
                )
                .await
            {
                Some(Ok(found)) => found,
                _ => return None,
            },
            // A backend without counters: this instance's own versions are the truth.
            None => vec![0; missing.len()],
        };
        for (i, v) in missing.iter().zip(found) {
            versions.raise_tag(&tags[*i], v);
        }
        let known = versions.tags.read();
        for t in &mut out {
            t.version = known.get(&t.tag).copied().unwrap_or(t.version);
        }
        Some(out)
    }

    /// What an entry of `ctx`'s kind with `tags` records if it is written now.
    pub(crate) async fn stamp(&self, ctx: &KindCtx, tags: &[String]) -> Stamp {
        let generation = self.generation(ctx).await;
        let tags = if tags.is_empty() {
            None
        } else {
            // Unknown versions are recorded as 0: the entry is a miss for every instance that
            // knows better, never a stale hit.
            let versions = self
                .tag_versions(tags)
                .await
                .unwrap_or_else(|| tags.iter().map(|t| TagVersion::new(t.clone(), 0)).collect());
            Some(versions.into())
        };
        Stamp { generation, tags }
    }

    /// Whether an entry that recorded `generation` and `tags` is still current.
    pub(crate) async fn is_current(
        &self,
        ctx: &KindCtx,
        generation: u64,
        tags: Option<&[TagVersion]>,
    ) -> bool {
        if generation != self.generation(ctx).await {
            return false;
        }
        let Some(tags) = tags else { return true };
        if self.inner.versions.trust_local {
            let known = self.inner.versions.tags.read();
            let mut all_known = true;
            for t in tags {
                match known.get(&t.tag) {
                    Some(v) if *v != t.version => return false,
                    Some(_) => {}
                    None => all_known = false,
                }
            }
            if all_known {
                return true;
            }
        }
        let names: Vec<String> = tags.iter().map(|t| t.tag.clone()).collect();
        match self.tag_versions(&names).await {
            Some(now) => now.iter().zip(tags).all(|(a, b)| a.version == b.version),
            None => false,
        }
    }

    /// Clears every entry of `kind` in O(1): moves its generation on in the backend (entries
    /// written under an older one become misses in both tiers, on every instance) and drops the
    /// kind from this L1; the other instances hear of it over the bus. Entries are not scanned or
    /// deleted: they leave with their TTL or the eviction policy ([`purge_kind`](Self::purge_kind)
    /// removes them physically). Returns the kind's new generation.
    pub async fn clear_kind(&self, kind: &str) -> Result<u64, Error> {
        let keys = self.inner.space.kind(kind)?;
        let key = self.version_key("kind", kind)?;
        let generation = self.inner.versions.kind(kind);
        let floor = now_us().max(generation.load().0 + 1);
        let next = match self.inner.backend.as_version_counters() {
            Some(counters) => counters.bump_version(&key, floor, None).await?,
            None => floor,
        };
        generation.raise(next);
        self.forget_kind_locally(&keys);
        self.announce(Invalidation::Kind {
            kind: kind.to_owned(),
            generation: next,
        })
        .await;
        Ok(next)
    }

    /// Invalidates every entry tagged `tag`, in O(1), on every instance: moves the tag's
    /// version on in the backend; entries that recorded an older one become misses. Returns
    /// the tag's new version.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use strata::{CacheBuilder, LoadOptions};
    ///
    /// let cache = CacheBuilder::new().build().await?;
    /// let pages = cache.kind::<String>("page")?;
    /// let tagged = LoadOptions::new().tags(["user:42"]);
    /// let load = || async { Ok::<_, std::io::Error>("Ada's page".to_string()) };
    /// pages.get_or_load_with("home:42", &tagged, load).await?;
    /// assert!(pages.get("home:42").await?.is_some());
    ///
    /// cache.invalidate_tag("user:42").await?;
    /// assert!(pages.get("home:42").await?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn invalidate_tag(&self, tag: &str) -> Result<u64, Error> {
        let key = self.version_key("tag", tag)?;
        let versions = &self.inner.versions;
        let known = versions.tags.read().get(tag).copied().unwrap_or(0);
        let floor = now_us().max(known + 1);
        let next = match self.inner.backend.as_version_counters() {
            Some(counters) => counters.bump_version(&key, floor, versions.tag_ttl).await?,
            None => floor,
        };
        versions.raise_tag(tag, next);
        self.announce(Invalidation::Tag {
            tag: tag.to_owned(),
            version: next,
        })
        .await;
        Ok(next)
    }

    /// Drops a kind's entries from L1 and marks its loads in progress as overtaken.
    pub(crate) fn forget_kind_locally(&self, keys: &strata_keys::KindKeys) {
        let mut prefixes = vec![keys.kind_namespace()];
        let tagged = keys.clone().with_hash_tag(true).kind_namespace();
        if !prefixes.contains(&tagged) {
            prefixes.push(tagged);
        }
        for p in prefixes {
            self.inner.flights.poison_prefix(&p);
            if let Some(l1) = &self.inner.l1 {
                l1.remove_prefix(&p);
            }
        }
    }
}
