//! Values passed to and returned by backends.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;

/// One entry of a [`set_many`](crate::Backend::set_many).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetEntry {
    /// The key.
    pub key: String,
    /// The bytes to store.
    pub value: Bytes,
    /// How long the backend keeps them.
    pub ttl: Duration,
}

impl SetEntry {
    /// An entry.
    pub fn new(key: impl Into<String>, value: impl Into<Bytes>, ttl: Duration) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            ttl,
        }
    }
}

/// The remaining lifetime of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTtl {
    /// No such key.
    Missing,
    /// The key exists and never expires (written by someone else; Strata always sets a TTL).
    Persistent,
    /// The key expires after this long.
    Expires(Duration),
}

/// A page of keys from [`Listing::scan`](crate::Listing::scan).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanPage {
    /// Keys found in this page (may be empty even when more pages follow).
    pub keys: Vec<String>,
    /// The cursor for the next page; `None` when the scan is complete.
    pub next: Option<String>,
}

/// What [`info`](crate::Backend::info) reports. Fields a backend cannot know are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BackendInfo {
    /// The backend's name ("memory", "redis").
    pub backend: String,
    /// Entries under this backend's namespace, when cheaply known.
    pub entries: Option<u64>,
    /// Keys in the whole server database (`DBSIZE` for Redis).
    pub server_keys: Option<u64>,
    /// Bytes in use (the memory backend's accounted bytes; Redis `used_memory`).
    pub bytes_used: Option<u64>,
    /// The byte limit (memory backend limit; Redis `maxmemory`, 0 meaning none).
    pub max_bytes: Option<u64>,
    /// The entry limit, where there is one.
    pub max_entries: Option<u64>,
    /// The eviction policy (ours, or Redis `maxmemory-policy`).
    pub eviction_policy: Option<String>,
    /// Whether writes will fail once memory is full, nothing bounding this backend's entries:
    /// Redis under `maxmemory-policy noeviction` with no per-kind quota (`None`: not known).
    pub writes_fail_when_full: Option<bool>,
    /// Entries evicted to respect limits, since start.
    pub evictions: Option<u64>,
    /// The server version, for servers.
    pub server_version: Option<String>,
    /// Anything else worth showing, by name.
    pub details: BTreeMap<String, String>,
}

impl BackendInfo {
    /// An empty report for `backend`.
    pub fn new(backend: impl Into<String>) -> Self {
        Self {
            backend: backend.into(),
            ..Self::default()
        }
    }
}
