//! What L1 holds per key.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use strata_codec::{EntryMeta, TagVersion};

/// A decoded value with its metadata. Cheap to clone (the value is shared).
#[derive(Clone)]
pub struct L1Entry {
    /// The value, type-erased; `None` records a cached absence.
    pub(crate) value: Option<Arc<dyn Any + Send + Sync>>,
    /// Metadata from the envelope (created-at, logical expiry, schema, generation).
    pub meta: EntryMeta,
    /// The tags the entry recorded, with their versions.
    tags: Option<Arc<[TagVersion]>>,
    /// Size of the value's envelope in bytes (the weight).
    pub encoded_len: u32,
    /// When L1 must drop the entry (the backend's physical expiry, or sooner).
    pub(crate) expires_at: Instant,
    /// The logical expiry on the monotonic clock (one clock read decides freshness on a hit).
    fresh_until: Option<Instant>,
    /// The creation time on the monotonic clock, for ages.
    born: Instant,
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
    /// An entry holding `value` (`None`: a cached absence) until `expires_at`.
    pub fn new<T: Send + Sync + 'static>(
        value: Option<Arc<T>>,
        meta: EntryMeta,
        encoded_len: usize,
        expires_at: Instant,
    ) -> Self {
        let now = Instant::now();
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let fresh_until = (meta.expires_at_ms != 0)
            .then(|| now + Duration::from_millis(meta.expires_at_ms.saturating_sub(wall_ms)));
        let born = now
            .checked_sub(Duration::from_millis(
                wall_ms.saturating_sub(meta.created_at_ms),
            ))
            .unwrap_or(now);
        Self {
            value: value.map(|v| v as Arc<dyn Any + Send + Sync>),
            meta,
            tags: None,
            encoded_len: u32::try_from(encoded_len).unwrap_or(u32::MAX),
            expires_at,
            fresh_until,
            born,
        }
    }

    /// The same entry with the tags it recorded.
    pub fn with_tags(mut self, tags: Option<Arc<[TagVersion]>>) -> Self {
        self.tags = tags;
        self
    }

    /// The tags the entry recorded, with their versions.
    pub fn tags(&self) -> Option<&Arc<[TagVersion]>> {
        self.tags.as_ref()
    }

    /// Whether the value is within its logical TTL at `now`.
    pub fn is_fresh(&self, now: Instant) -> bool {
        self.fresh_until.is_none_or(|t| now < t)
    }

    /// The value's age at `now`, in milliseconds.
    pub fn age_ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.born).as_millis()).unwrap_or(u64::MAX)
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
