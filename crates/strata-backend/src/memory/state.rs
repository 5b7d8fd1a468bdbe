//! What the memory backend holds, behind its one mutex.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use strata_eviction::Evictor;

use crate::abilities::CounterChanges;

#[derive(Debug)]
pub(super) struct Stored {
    pub(super) value: Bytes,
    pub(super) expires_at_ms: u64,
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) map: HashMap<Arc<str>, Stored>,
    pub(super) evictor: Evictor<Arc<str>>,
    pub(super) evictions: u64,
    pub(super) expirations: u64,
    /// Load leases: key -> (token, expiry in ms). Not counted against the limits.
    pub(super) leases: HashMap<String, (String, u64)>,
    /// Version counters: key -> (value, expiry in ms). Not counted against the limits.
    pub(super) versions: HashMap<String, (u64, u64)>,
    /// Counts every change to `versions` (see [`CounterChanges`]), made under the same lock.
    pub(super) version_changes: CounterChanges,
    /// Family registries (see `batch::Family`): set key -> members.
    pub(super) registries: HashMap<String, std::collections::BTreeSet<String>>,
}

impl State {
    pub(super) fn remove(&mut self, key: &str) -> Option<Stored> {
        let (k, stored) = self.map.remove_entry(key)?;
        self.evictor.remove(&k);
        Some(stored)
    }

    /// The value under `key` for a read: recorded as an access, or dropped if expired.
    pub(super) fn read(&mut self, key: &str, now_ms: u64) -> Option<Bytes> {
        let (k, stored) = self.map.get_key_value(key)?;
        if stored.expires_at_ms <= now_ms {
            self.remove(key);
            self.expirations += 1;
            return None;
        }
        let (k, value) = (k.clone(), stored.value.clone());
        self.evictor.touch(&k);
        Some(value)
    }

    /// The live version counter under `key`.
    pub(super) fn version(&mut self, key: &str, now_ms: u64) -> Option<u64> {
        match self.versions.get(key) {
            Some((v, until)) if *until > now_ms => Some(*v),
            Some(_) => {
                self.versions.remove(key);
                self.version_changes.record();
                None
            }
            None => None,
        }
    }

    /// Sets a version counter; drops expired counters once there are many.
    pub(super) fn set_version(&mut self, key: &str, value: u64, until: u64, now_ms: u64) {
        if self.versions.len() >= 4096 && !self.versions.contains_key(key) {
            self.versions.retain(|_, (_, u)| *u > now_ms);
        }
        self.versions.insert(key.to_owned(), (value, until));
        self.version_changes.record();
    }

    /// Removes the counters whose key starts with `prefix`.
    pub(super) fn remove_versions(&mut self, prefix: &str) {
        self.versions.retain(|k, _| !k.starts_with(prefix));
        self.version_changes.record();
    }

    /// The live entry under `key`, dropping it first if it has expired.
    pub(super) fn live(&mut self, key: &str, now_ms: u64) -> Option<&Stored> {
        if self.map.get(key).is_some_and(|s| s.expires_at_ms <= now_ms) {
            self.remove(key);
            self.expirations += 1;
            return None;
        }
        self.map.get(key)
    }
}
