//! What L1 holds per key.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use strata_codec::{EntryMeta, TagVersion};

/// The tags of an entry, and the caller's mark of when they were last found current.
#[derive(Debug)]
struct Tagged {
    versions: Arc<[TagVersion]>,
    checked: AtomicU64,
}

/// A decoded value with its metadata. Cheap to clone (the value is shared).
#[derive(Clone)]
pub struct L1Entry {
    /// The value, type-erased; `None` records a cached absence.
    pub(crate) value: Option<Arc<dyn Any + Send + Sync>>,
    /// Metadata from the envelope (created-at, logical expiry, schema, generation).
    pub meta: EntryMeta,
    /// The tags the entry recorded, with their versions, and the caller's mark.
    tags: Option<Arc<Tagged>>,
    /// Size of the value's envelope in bytes (the weight).
    pub encoded_len: u32,
    /// How long L1 may keep the entry from its insertion (the backend's physical expiry, or
    /// sooner): a memory bound on the monotonic clock. Freshness is the caller's to decide, on
    /// its own clock, from [`meta`](Self::meta).
    pub(crate) keep_for: Duration,
    /// When the value was last known to be current (milliseconds on the caller's clock; 0:
    /// never said): see [`verified_at_ms`](Self::verified_at_ms).
    verified_ms: u64,
    /// A hash of the key, computed by the caller at insert: see [`key_hash`](Self::key_hash).
    key_hash: Option<u64>,
}

impl std::fmt::Debug for L1Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1Entry")
            .field("absent", &self.value.is_none())
            .field("meta", &self.meta)
            .field("encoded_len", &self.encoded_len)
            .finish_non_exhaustive()
    }
}

impl L1Entry {
    /// An entry holding `value` (`None`: a cached absence), kept for at most `keep_for` after
    /// its insertion (and at most the tier's maximum lifetime).
    pub fn new<T: Send + Sync + 'static>(
        value: Option<Arc<T>>,
        meta: EntryMeta,
        encoded_len: usize,
        keep_for: Duration,
    ) -> Self {
        Self {
            value: value.map(|v| v as Arc<dyn Any + Send + Sync>),
            meta,
            tags: None,
            encoded_len: u32::try_from(encoded_len).unwrap_or(u32::MAX),
            keep_for,
            verified_ms: 0,
            key_hash: None,
        }
    }

    /// The same entry carrying `hash`, a hash of its key the caller computed (for sampling,
    /// say), handed back with every hit so that a hit need not hash the key again.
    pub fn with_key_hash(mut self, hash: u64) -> Self {
        self.key_hash = Some(hash);
        self
    }

    /// The hash given to [`with_key_hash`](Self::with_key_hash), if any.
    #[inline]
    pub fn key_hash(&self) -> Option<u64> {
        self.key_hash
    }

    /// The same entry, known to be current at `ms` (milliseconds on the caller's clock: when
    /// it was read from the second tier or written).
    pub fn with_verified_at(mut self, ms: u64) -> Self {
        self.verified_ms = ms;
        self
    }

    /// When the value was last known to be current (0 when never said). A cache that confirms
    /// its coherence with other instances serves an entry only while this, or its last
    /// confirmation, is recent enough.
    pub fn verified_at_ms(&self) -> u64 {
        self.verified_ms
    }

    /// The same entry with the tags it recorded.
    pub fn with_tags(mut self, tags: Option<Arc<[TagVersion]>>) -> Self {
        self.tags = tags.map(|versions| {
            Arc::new(Tagged {
                versions,
                checked: AtomicU64::new(0),
            })
        });
        self
    }

    /// The tags the entry recorded, with their versions.
    pub fn tags(&self) -> Option<&Arc<[TagVersion]>> {
        self.tags.as_ref().map(|t| &t.versions)
    }

    /// The mark [`mark_tags_checked`](Self::mark_tags_checked) last left on the entry (shared
    /// by every copy of it in the tier); 0 when none was, or the entry has no tags.
    #[inline]
    pub fn tags_checked(&self) -> u64 {
        self.tags
            .as_ref()
            .map_or(0, |t| t.checked.load(Ordering::Relaxed))
    }

    /// Leaves `mark` on a tagged entry (and every copy of it the tier holds): the caller's
    /// note of when its tags were last found current (an epoch of the caller's own, such as
    /// a count of changes to the tag versions it knows), so that a later hit at the same
    /// mark need not check them again. No-op on an entry without tags.
    #[inline]
    pub fn mark_tags_checked(&self, mark: u64) {
        if let Some(t) = &self.tags {
            t.checked.store(mark, Ordering::Relaxed);
        }
    }

    /// Whether the value is within its logical TTL at `now_ms` (milliseconds since the Unix
    /// epoch, on the caller's clock).
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        !self.meta.is_expired(now_ms)
    }

    /// The value as `T`, consuming the entry (no extra reference count traffic): `Ok(None)` for
    /// an absence, `Err(())` when it holds another type.
    #[allow(clippy::result_unit_err)]
    pub fn into_value<T: Send + Sync + 'static>(self) -> Result<Option<Arc<T>>, ()> {
        match self.value {
            None => Ok(None),
            Some(v) => v.downcast::<T>().map(Some).map_err(|_| ()),
        }
    }

    /// Whether the entry records an absence.
    pub fn is_absent(&self) -> bool {
        self.value.is_none()
    }

    /// The value as `T`: `Ok(None)` for an absence, `Err(())` when it holds another type.
    #[allow(clippy::result_unit_err)]
    pub fn downcast<T: Send + Sync + 'static>(&self) -> Result<Option<Arc<T>>, ()> {
        match &self.value {
            None => Ok(None),
            Some(v) => v.clone().downcast::<T>().map(Some).map_err(|_| ()),
        }
    }
}
