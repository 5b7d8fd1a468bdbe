//! Entry-count and byte limits.

/// The bounds an [`Evictor`](crate::Evictor) keeps its entries within. `None` means unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Limits {
    /// The most entries held at once.
    pub max_entries: Option<u64>,
    /// The most bytes (sum of entry sizes) held at once.
    pub max_bytes: Option<u64>,
}

impl Limits {
    /// No bound at all.
    pub fn unbounded() -> Self {
        Self::default()
    }

    /// Bounds the number of entries.
    pub fn with_max_entries(mut self, max: u64) -> Self {
        self.max_entries = Some(max);
        self
    }

    /// Bounds the total size in bytes.
    pub fn with_max_bytes(mut self, max: u64) -> Self {
        self.max_bytes = Some(max);
        self
    }

    /// Whether `entries` entries totalling `bytes` bytes fit.
    pub fn admits(&self, entries: u64, bytes: u64) -> bool {
        self.max_entries.is_none_or(|m| entries <= m) && self.max_bytes.is_none_or(|m| bytes <= m)
    }
}
