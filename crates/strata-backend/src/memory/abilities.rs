//! The memory backend's abilities: leases, version counters, listing, memory usage.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::MemoryBackend;
use crate::abilities::{CounterChanges, Leases, Listing, MemoryUsage, VersionCounters};
use crate::error::BackendResult;
use crate::types::ScanPage;
use crate::validate::{check_key_in, check_set_in};

#[async_trait]
impl Leases for MemoryBackend {
    async fn acquire_lease(&self, key: &str, token: &str, ttl: Duration) -> BackendResult<bool> {
        check_set_in(&self.shared.config.namespace, key, 0, ttl, usize::MAX)?;
        let now = self.now_ms();
        let mut state = self.shared.state.lock();
        if state.leases.get(key).is_some_and(|(_, until)| *until > now) {
            return Ok(false);
        }
        let until = now.saturating_add(Self::ttl_ms(ttl));
        state
            .leases
            .insert(key.to_owned(), (token.to_owned(), until));
        Ok(true)
    }

    async fn set_under_lease(
        &self,
        key: &str,
        token: &str,
        value: Bytes,
        ttl: Duration,
    ) -> BackendResult<bool> {
        check_set_in(
            &self.shared.config.namespace,
            key,
            value.len(),
            ttl,
            self.shared.config.max_value_bytes,
        )?;
        let now = self.now_ms();
        let mut state = self.shared.state.lock();
        let held = state
            .leases
            .get(key)
            .is_some_and(|(t, until)| t == token && *until > now);
        if !held {
            return Ok(false);
        }
        state.leases.remove(key);
        Self::purge_expired(&mut state, now);
        self.insert(&mut state, key, value, ttl, now)?;
        Ok(true)
    }

    async fn release_lease(&self, key: &str, token: &str) -> BackendResult<()> {
        check_key_in(&self.shared.config.namespace, key)?;
        let mut state = self.shared.state.lock();
        if state.leases.get(key).is_some_and(|(t, _)| t == token) {
            state.leases.remove(key);
        }
        Ok(())
    }
}

#[async_trait]
impl VersionCounters for MemoryBackend {
    async fn versions(
        &self,
        keys: &[&str],
        init: u64,
        ttl: Option<Duration>,
    ) -> BackendResult<Vec<u64>> {
        for key in keys {
            check_key_in(&self.shared.config.namespace, key)?;
        }
        let now = self.now_ms();
        let until = ttl.map_or(u64::MAX, |t| now.saturating_add(Self::ttl_ms(t)));
        let mut state = self.shared.state.lock();
        Ok(keys
            .iter()
            .map(|key| match state.version(key, now) {
                Some(v) => v,
                None => {
                    state.set_version(key, init, until, now);
                    init
                }
            })
            .collect())
    }

    async fn bump_version(
        &self,
        key: &str,
        at_least: u64,
        ttl: Option<Duration>,
    ) -> BackendResult<u64> {
        check_key_in(&self.shared.config.namespace, key)?;
        let now = self.now_ms();
        let until = ttl.map_or(u64::MAX, |t| now.saturating_add(Self::ttl_ms(t)));
        let mut state = self.shared.state.lock();
        let next = state
            .version(key, now)
            .unwrap_or(0)
            .saturating_add(1)
            .max(at_least);
        state.set_version(key, next, until, now);
        Ok(next)
    }

    /// Every change is made here, under the state's lock, by whoever holds a clone.
    fn local_changes(&self) -> Option<CounterChanges> {
        Some(self.shared.state.lock().version_changes.clone())
    }
}

#[async_trait]
impl Listing for MemoryBackend {
    async fn scan(
        &self,
        prefix: &str,
        cursor: Option<String>,
        count: usize,
    ) -> BackendResult<ScanPage> {
        // Keys are returned in sorted order after the cursor (the last key of the previous page).
        let now = self.now_ms();
        let state = self.shared.state.lock();
        let mut keys: Vec<&Arc<str>> = state
            .map
            .iter()
            .filter(|(k, s)| {
                k.starts_with(prefix)
                    && s.expires_at_ms > now
                    && cursor.as_deref().is_none_or(|c| &***k > c)
            })
            .map(|(k, _)| k)
            .collect();
        keys.sort_unstable();
        let count = count.max(1);
        let more = keys.len() > count;
        keys.truncate(count);
        let keys: Vec<String> = keys.into_iter().map(|k| k.to_string()).collect();
        let next = if more { keys.last().cloned() } else { None };
        Ok(ScanPage { keys, next })
    }

    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> BackendResult<bool> {
        check_key_in(&self.shared.config.namespace, key)?;
        let now = self.now_ms();
        let mut state = self.shared.state.lock();
        if state.live(key, now).is_some_and(|s| s.value == expected) {
            state.remove(key);
            return Ok(true);
        }
        Ok(false)
    }
}

#[async_trait]
impl MemoryUsage for MemoryBackend {
    async fn memory_usage(&self, key: &str) -> BackendResult<Option<u64>> {
        check_key_in(&self.shared.config.namespace, key)?;
        let now = self.now_ms();
        let mut state = self.shared.state.lock();
        // The accounted weight: key plus value bytes.
        Ok(state
            .live(key, now)
            .map(|s| (key.len() + s.value.len()) as u64))
    }
}
