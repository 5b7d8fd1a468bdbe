//! Configuration of the in-process tier.

use std::time::Duration;

/// Bounds of the in-process tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct L1Config {
    /// Budget in bytes held: each value weighs its envelope with the payload uncompressed (what the decoded value holds at least, not its compressed size); default 64 MiB.
    pub max_bytes: u64,
    /// Most entries held, default 100,000.
    pub max_entries: u64,
    /// Longest time an entry stays in L1, default 60 s: bounds how stale one instance can be
    /// after another changed the data, even without the invalidation bus.
    pub max_lifetime: Duration,
}

impl Default for L1Config {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            max_entries: 100_000,
            max_lifetime: Duration::from_secs(60),
        }
    }
}

impl L1Config {
    /// Sets the byte budget.
    pub fn with_max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Sets the entry cap.
    pub fn with_max_entries(mut self, entries: u64) -> Self {
        self.max_entries = entries;
        self
    }

    /// Sets the longest lifetime of an entry.
    pub fn with_max_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_lifetime = lifetime;
        self
    }

    /// The smallest weight an entry is given, so that `max_bytes / min_weight <= max_entries`:
    /// one weigher enforces both bounds.
    pub(crate) fn min_weight(&self) -> u32 {
        u32::try_from(self.max_bytes.div_ceil(self.max_entries.max(1))).unwrap_or(u32::MAX)
    }
}
