//! Entry metadata carried by every envelope.

/// Metadata stored beside each value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EntryMeta {
    /// When the value was produced, in milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// When the value stops being fresh, in milliseconds since the Unix epoch; 0 means never.
    ///
    /// This is the logical expiry: a backend may keep the entry longer (for fail-safe stale
    /// serving), and readers decide freshness from this field.
    pub expires_at_ms: u64,
    /// The schema version of the value's type when it was written.
    pub schema: u32,
    /// The generation of the value's kind when it was written (0 until the kind is first
    /// cleared): a reader that knows a newer generation treats the entry as a miss, which is how
    /// a whole kind is cleared in O(1).
    pub generation: u64,
}

impl EntryMeta {
    /// Metadata for a value created at `created_at_ms` that stays fresh for `ttl_ms`.
    pub fn new(created_at_ms: u64, ttl_ms: u64, schema: u32) -> Self {
        Self {
            created_at_ms,
            expires_at_ms: created_at_ms.saturating_add(ttl_ms),
            schema,
            generation: 0,
        }
    }

    /// The same metadata with the kind's generation.
    pub fn with_generation(mut self, generation: u64) -> Self {
        self.generation = generation;
        self
    }

    /// Whether the value is past its logical expiry at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms != 0 && now_ms >= self.expires_at_ms
    }

    /// Whether the value is past its logical expiry and `max_stale_ms` more at `now_ms`: no
    /// reader may serve it.
    pub fn is_expired_beyond(&self, now_ms: u64, max_stale_ms: u64) -> bool {
        self.expires_at_ms != 0 && now_ms >= self.expires_at_ms.saturating_add(max_stale_ms)
    }

    /// Age of the value at `now_ms`, in milliseconds (0 if the clock went backwards).
    pub fn age_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.created_at_ms)
    }

    /// An error unless the entry has the `expected` schema version (`None`: any).
    pub(crate) fn check_schema(&self, expected: Option<u32>) -> Result<(), crate::CodecError> {
        match expected {
            Some(expected) if expected != self.schema => Err(crate::CodecError::SchemaMismatch {
                found: self.schema,
                expected,
            }),
            _ => Ok(()),
        }
    }
}

/// Where a decoded entry stands at a moment ([`Codec::decode_at`](crate::Codec::decode_at)):
/// a reader matches on it, so a logically expired entry is never taken for a fresh one.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Freshness<T> {
    /// Before its logical expiry (`meta.expires_at_ms`): serve it.
    Fresh(Envelope<T>),
    /// Past its logical expiry but within the reader's `max_stale`: serve it only when the
    /// source fails (fail-safe) or while a refresh runs.
    Stale(Envelope<T>),
    /// Past its logical expiry and `max_stale`: a miss (the payload is not decoded).
    Expired(EntryMeta),
}

impl<T> Freshness<T> {
    /// The entry if it is fresh.
    pub fn fresh(self) -> Option<Envelope<T>> {
        match self {
            Self::Fresh(e) => Some(e),
            _ => None,
        }
    }

    /// The entry if it is fresh or stale (a fail-safe reader's choice).
    pub fn fresh_or_stale(self) -> Option<Envelope<T>> {
        match self {
            Self::Fresh(e) | Self::Stale(e) => Some(e),
            Self::Expired(_) => None,
        }
    }
}

/// The version a tag had when an entry was written: once the tag is invalidated (its version
/// moves on), the entry is a miss.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TagVersion {
    /// The tag, e.g. `user:42`.
    pub tag: String,
    /// Its version when the entry was written (0: never invalidated).
    pub version: u64,
}

impl TagVersion {
    /// `tag` at `version`.
    pub fn new(tag: impl Into<String>, version: u64) -> Self {
        Self {
            tag: tag.into(),
            version,
        }
    }
}

/// A decoded entry: its metadata, its tags and its value (`None` for a cached absence).
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<T> {
    /// The metadata.
    pub meta: EntryMeta,
    /// The entry's tags with the versions they had when it was written.
    pub tags: Vec<TagVersion>,
    /// The value, or `None` when the entry records an absence (negative caching).
    pub value: Option<T>,
}

/// What [`peek`](crate::peek) reads without decoding the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryInfo {
    /// The metadata.
    pub meta: EntryMeta,
    /// The header flags.
    pub flags: crate::Flags,
    /// Total size of the envelope in bytes.
    pub encoded_len: usize,
}
