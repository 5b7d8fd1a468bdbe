//! What a tier answers for a key: a value with its metadata, fresh or stale, or nothing.

use std::sync::Arc;

use strata_codec::{EntryMeta, TagVersion};

/// A value found in a tier, with its metadata (`value: None` is a cached absence).
pub(crate) struct Found<T> {
    pub(crate) value: Option<Arc<T>>,
    pub(crate) meta: EntryMeta,
    /// The tags it recorded, with their versions: what storing the value again needs. A fresh
    /// hit of an L1 probe leaves them out (it only serves the value).
    pub(crate) tags: Option<Arc<[TagVersion]>>,
}

impl<T> Clone for Found<T> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            meta: self.meta,
            tags: self.tags.clone(),
        }
    }
}

/// What a lookup found.
pub(crate) enum Lookup<T> {
    /// A value within its TTL.
    Fresh(Found<T>),
    /// Only a value past its TTL (kept for fail-safe serving).
    Stale(Found<T>),
    /// Nothing usable.
    Miss,
}

impl<T> Lookup<T> {
    /// The stale value, for a lookup that goes on to the next tier.
    pub(crate) fn into_stale(self) -> Option<Found<T>> {
        match self {
            Self::Fresh(found) | Self::Stale(found) => Some(found),
            Self::Miss => None,
        }
    }
}
