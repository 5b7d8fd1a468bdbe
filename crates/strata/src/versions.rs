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
use std::time::Duration;

use parking_lot::RwLock;
use strata_backend::{CounterChanges, wall_clock_us};
use strata_codec::TagVersion;
use strata_keys::{KeySpace, KindKeys};

use strata_backend::batch::{Batch, Handle, Results};

use crate::backends::CounterRoute;
use crate::error::Error;
pub(crate) use crate::generation::{KindGeneration, Stamp};
use crate::l2::L2;
use crate::tag_table::TagTable;

mod current;

/// The internal kind holding version counters (kinds' generations, tags' versions).
pub(crate) const VERSION_KIND: &str = "__version";

/// Tag versions known locally before the table is emptied (and refilled from the backend).
const MAX_KNOWN_TAGS: usize = 100_000;

/// Version counters read along with an entry, in its batch: what to take from the results.
#[derive(Debug, Default)]
pub(crate) struct CounterRead {
    /// The kind's generation counter, when not known here.
    kind: Option<Handle<Vec<u64>>>,
    /// The tags not known here, and their counters' values.
    tags: Option<(Vec<String>, Handle<Vec<u64>>)>,
    /// The backend's count of changes before the batch ran (see [`Versions::changes`]).
    at: Option<u64>,
}

/// The version counters this instance knows, and how they are read and moved in the backend.
pub(crate) struct Versions {
    kinds: RwLock<HashMap<String, Arc<KindGeneration>>>,
    tags: TagTable,
    /// How long a tag counter lives in the backend after its last invalidation.
    tag_ttl: Option<Duration>,
    /// A channel (the bus, client tracking) keeps the local values in step. Without one, and
    /// without [`changes`](Self::changes), every check of an entry reads the counters again.
    trust_local: bool,
    /// The backend's own count of changes to its counters, when every change is made in this
    /// process (the embedded memory backend, [`CounterChanges`]): the local values are trusted
    /// while it has not moved, and all forgotten when it has. Values read from the backend are
    /// kept only if the count did not move between the read and the keeping.
    changes: Option<CounterChanges>,
    /// The count when the local values were last forgotten: they hold no value older.
    forgot_at: AtomicU64,
    /// Where the counters live: the internal kind [`VERSION_KIND`].
    counters: KindKeys,
    /// The default backend's tier, where the tag counters and the unrouted kinds' generations
    /// are read and moved.
    l2: L2,
    /// The tiers of the kinds routed to a named backend: each one's generation lives there,
    /// beside its entries (read in the same round trip; moved in the same batch as its
    /// deletes). Their entries' tag counters stay in the default backend.
    routes: HashMap<String, CounterRoute>,
}

impl Versions {
    pub(crate) fn new(
        space: &KeySpace,
        tag_ttl: Option<Duration>,
        trust_local: bool,
        l2: L2,
    ) -> Result<Self, Error> {
        let changes = l2
            .backend()
            .as_version_counters()
            .and_then(|c| c.local_changes());
        Ok(Self {
            l2,
            changes,
            kinds: RwLock::default(),
            tags: TagTable::default(),
            tag_ttl,
            trust_local,
            forgot_at: AtomicU64::new(0),
            counters: space.keys_of(&strata_keys::KindName::internal(VERSION_KIND)?),
            routes: HashMap::new(),
        })
    }

    /// The same, with the tiers of the kinds routed to a named backend.
    pub(crate) fn with_routes(mut self, routes: HashMap<String, CounterRoute>) -> Self {
        self.routes = routes;
        self
    }

    /// The tier holding the generation of `kind`.
    fn l2_of(&self, kind: &str) -> &L2 {
        if self.routes.is_empty() {
            return &self.l2;
        }
        self.routes.get(kind).map_or(&self.l2, |r| &r.l2)
    }

    /// Whether the backend of `kind` keeps its generation counter (else each instance's own
    /// count is the truth: a bump takes its floor).
    pub(crate) fn shared_kind(&self, kind: &str) -> bool {
        self.l2_of(kind).capabilities().version_counters
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

    /// Whether the local values may be trusted: a channel keeps them in step, or the backend
    /// counts its changes (then they were just brought up to date: [`catch_up`](Self::catch_up)).
    fn trusted(&self) -> bool {
        self.catch_up();
        self.trust_local || self.changes.is_some()
    }

    /// [`trusted`](Self::trusted) for the generation of `kind`. A kind routed to another
    /// backend is covered by that server's own channel only: neither the default backend's
    /// channels nor its count of changes hear of its counter.
    fn trusted_kind(&self, kind: &str) -> bool {
        self.routes
            .get(kind)
            .map_or_else(|| self.trusted(), |route| route.channel)
    }

    /// With a backend that counts its changes: forgets every local value once the count moved
    /// (someone, anywhere in this process, changed a counter). One atomic load otherwise.
    #[inline]
    pub(crate) fn catch_up(&self) {
        if let Some(changes) = &self.changes {
            let now = changes.count();
            if self.forgot_at.load(Ordering::Acquire) != now {
                self.forget_before(now);
            }
        }
    }

    #[cold]
    fn forget_before(&self, now: u64) {
        // Under the tags' write lock, so that no value read before `now` is kept after it.
        let mut tags = self.tags.write();
        if self.forgot_at.load(Ordering::Acquire) < now {
            for g in self.kinds.read().values() {
                g.unsync();
            }
            self.tags.clear_held(&mut tags);
            self.forgot_at.store(now, Ordering::Release);
        }
    }

    /// The backend's count of changes before a read, for [`keeps`](Self::keeps).
    fn count(&self) -> Option<u64> {
        self.changes.as_ref().map(CounterChanges::count)
    }

    /// Whether a value read after the count was `at` may be kept as known: always without a
    /// count; with one, only if nothing was forgotten since, and nothing changed (call it
    /// under the tags' lock).
    fn keeps(&self, at: Option<u64>) -> bool {
        match (at, &self.changes) {
            (Some(at), Some(changes)) => {
                self.forgot_at.load(Ordering::Acquire) == at && changes.count() == at
            }
            _ => true,
        }
    }

    /// Takes a version of `tag` read from the backend after the count was `at`.
    fn raise_tag_read(&self, tag: &str, version: u64, at: Option<u64>) {
        let mut tags = self.tags.write();
        if !self.keeps(at) {
            return;
        }
        if tags.len() >= MAX_KNOWN_TAGS && !tags.contains_key(tag) {
            self.tags.clear_held(&mut tags);
        }
        self.tags.raise(&mut tags, tag, version);
    }

    /// Takes a version of `tag` some change produced (a message, this instance's own bump).
    /// With a backend that counts its changes, only a value already known is raised: the count
    /// moved with the change, so every value is read again anyway.
    fn raise_tag(&self, tag: &str, version: u64) {
        if self.changes.is_none() {
            return self.raise_tag_read(tag, version, None);
        }
        self.tags.raise_known(tag, version);
    }

    /// Takes a generation of `known` read from the backend after the count was `at`.
    fn raise_kind_read(&self, known: &KindGeneration, generation: u64, at: Option<u64>) {
        let _tags = self.tags.read();
        if self.keeps(at) {
            known.raise(generation);
        } else {
            known.raise_unsynced(generation);
        }
    }

    /// Takes a generation some change produced (see [`raise_tag`](Self::raise_tag)).
    fn raise_kind(&self, known: &KindGeneration, generation: u64) {
        if self.changes.is_none() {
            known.raise(generation);
        } else {
            known.raise_unsynced(generation);
        }
    }

    /// After messages may have been missed: everything is read from the backend again.
    pub(crate) fn unsync_all(&self) {
        for g in self.kinds.read().values() {
            g.unsync();
        }
        self.tags.clear();
    }

    /// A kind's counter changed on the server (client tracking): read it again before trusting
    /// anything of the kind.
    pub(crate) fn unsync_kind(&self, kind: &str) {
        if let Some(g) = self.kinds.read().get(kind) {
            g.unsync();
        }
    }

    /// A tag's counter changed on the server (client tracking): read it again.
    pub(crate) fn unsync_tag(&self, tag: &str) {
        self.tags.remove(tag);
    }

    /// Applies another instance's kind clear.
    pub(crate) fn apply_kind(&self, kind: &str, generation: u64) {
        self.raise_kind(&self.kind(kind), generation);
    }

    /// Applies another instance's tag invalidation.
    pub(crate) fn apply_tag(&self, tag: &str, version: u64) {
        self.raise_tag(tag, version);
    }

    fn key(&self, what: &str, name: &str) -> Result<String, Error> {
        Ok(self
            .counters
            .key(format_args!("{what}:{name}"))?
            .to_string())
    }

    /// The current generation of `kind` (read from the backend once, then kept in step by the
    /// bus). When the backend cannot answer, the last known value.
    pub(crate) async fn generation(&self, kind: &str, known: &KindGeneration) -> u64 {
        let trusted = self.trusted_kind(kind);
        match known.load() {
            (g, true) if trusted => g,
            (g, _) => self.sync_generation(kind, known).await.unwrap_or(g),
        }
    }

    async fn sync_generation(&self, kind: &str, known: &KindGeneration) -> Option<u64> {
        let key = self.key("kind", kind).ok()?;
        if !self.shared_kind(kind) {
            // A backend without counters: this instance's own count is the truth.
            known.raise(0);
            return Some(known.load().0);
        }
        let at = self.count();
        let v = self
            .l2_of(kind)
            .versions(vec![key], wall_clock_us(), None)
            .await
            .ok()?;
        let v = v.first().copied().unwrap_or(0);
        self.raise_kind_read(known, v, at);
        Some(known.load().0)
    }

    /// The current versions of `tags`, in order; `None` when some could not be read.
    pub(crate) async fn tag_versions(&self, tags: &[String]) -> Option<Vec<TagVersion>> {
        let mut out = Vec::with_capacity(tags.len());
        let mut missing = Vec::new();
        let trusted = self.trusted();
        {
            let known = self.tags.read();
            for (i, t) in tags.iter().enumerate() {
                match known.get(t) {
                    Some(v) if trusted => out.push(TagVersion::new(t.clone(), *v)),
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
            .map(|i| self.key("tag", &tags[*i]))
            .collect::<Result<Vec<_>, _>>()
            .ok()?;
        let at = self.count();
        let found = if self.shared() {
            let init = wall_clock_us();
            self.l2.versions(keys, init, self.tag_ttl).await.ok()?
        } else {
            // A backend without counters: this instance's own versions are the truth.
            vec![0; missing.len()]
        };
        for (i, v) in missing.iter().zip(found) {
            self.raise_tag_read(&tags[*i], v, at);
            if at.is_some() {
                // A backend that counts its changes answered under its lock: `v` was the
                // version at the read, even if it is not kept (creating the counter moved
                // the count).
                out[*i].version = v;
            }
        }
        // Elsewhere a version not known any more (forgotten since the read) stays 0, unknown:
        // an entry recording it is a miss, never a stale hit.
        let known = self.tags.read();
        for t in &mut out {
            t.version = known.get(&t.tag).copied().unwrap_or(t.version);
        }
        Some(out)
    }

    /// What an entry of `kind` with `tags` records if it is written now.
    pub(crate) async fn stamp(&self, kind: &str, known: &KindGeneration, tags: &[String]) -> Stamp {
        let generation = self.generation(kind, known).await;
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

    /// Where the generation of `kind` lives and the least value its next bump takes (never
    /// below the wall clock, never below what this instance knows).
    pub(crate) fn kind_bump(&self, kind: &str) -> Result<(String, u64), Error> {
        let key = self.key("kind", kind)?;
        let floor = wall_clock_us().max(self.kind(kind).load().0 + 1);
        Ok((key, floor))
    }

    /// Where the version of `tag` lives, the least value of its next bump, and its TTL.
    pub(crate) fn tag_bump(&self, tag: &str) -> Result<(String, u64, Option<Duration>), Error> {
        let key = self.key("tag", tag)?;
        let known = self.tags.read().get(tag).copied().unwrap_or(0);
        Ok((key, wall_clock_us().max(known + 1), self.tag_ttl))
    }

    /// Adds to `batch` (bound for `kind`'s backend) the reads of the counters an entry of
    /// `kind` recording `tags` needs: none when they are all known here (kept in step by the
    /// bus), none without counters in the backend. New counters start at the wall clock.
    ///
    /// The tag counters live in the default backend: for a kind routed to another one they
    /// are not read here, and an entry recording a tag not known here costs one round trip to
    /// the default backend when it is checked (see [`is_current`](Self::is_current)).
    pub(crate) fn read_into(
        &self,
        batch: &mut Batch,
        kind: &str,
        known: &KindGeneration,
        tags: &[String],
    ) -> CounterRead {
        let trusted = self.trusted();
        let kind_trusted = self.trusted_kind(kind);
        let at = self.count();
        let routed = !self.routes.is_empty() && self.routes.contains_key(kind);
        let kind = match known.load() {
            _ if !self.shared_kind(kind) => None,
            (_, true) if kind_trusted => None,
            _ => self.key("kind", kind).ok(),
        };
        let kind = kind.map(|key| batch.versions(vec![key], wall_clock_us(), None));
        if routed || !self.shared() || tags.is_empty() {
            // No tag counter to read; without a tag the tags' lock is not taken either (an
            // untagged hit writes no shared state).
            return CounterRead {
                kind,
                tags: None,
                at,
            };
        }
        let local = self.tags.read();
        let (names, keys): (Vec<String>, Vec<String>) = tags
            .iter()
            .filter(|t| !(trusted && local.contains_key(*t)))
            .filter_map(|t| Some((t.clone(), self.key("tag", t).ok()?)))
            .unzip();
        let tags = (!names.is_empty())
            .then(|| (names, batch.versions(keys, wall_clock_us(), self.tag_ttl)));
        CounterRead { kind, tags, at }
    }

    /// Takes the values the counters of `read` answered in `done`.
    pub(crate) fn learn(&self, known: &KindGeneration, read: &CounterRead, done: &Results) {
        if let Some(kind) = read.kind {
            self.raise_kind_read(known, done.get(kind).first().copied().unwrap_or(0), read.at);
        }
        if let Some((names, values)) = &read.tags {
            for (tag, v) in names.iter().zip(done.get(*values)) {
                self.raise_tag_read(tag, v, read.at);
            }
        }
    }

    /// Whether the backend keeps version counters (else each instance's own count is the truth:
    /// a bump takes its floor).
    pub(crate) fn shared(&self) -> bool {
        self.l2.capabilities().version_counters
    }

    /// Takes a kind generation the backend answered.
    pub(crate) fn learn_kind(&self, kind: &str, generation: u64) {
        self.raise_kind(&self.kind(kind), generation);
    }

    /// Takes a tag version the backend answered.
    pub(crate) fn learn_tag(&self, tag: &str, version: u64) {
        self.raise_tag(tag, version);
    }
}
