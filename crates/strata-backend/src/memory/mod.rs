//! `MemoryBackend`: the embedded, bounded, in-process backend.

mod abilities;
mod batch;
mod config;
mod state;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use strata_eviction::{EvictionError, Evictor};
use tokio::time::Instant;

pub use config::{DEFAULT_MEMORY_MAX_BYTES, MemoryConfig};

use crate::abilities::{CounterChanges, Leases, Listing, MemoryUsage, VersionCounters};
use crate::backend::Backend;
use crate::batch::{Done, Step};
use crate::capabilities::Capabilities;
use crate::error::{BackendError, BackendResult, ErrorKind};
use crate::types::{BackendInfo, KeyTtl, SetEntry};
use crate::validate::{check_key_in, check_namespace, check_set_in};
use state::{State, Stored};

/// Expired entries removed per write, so expiry costs are spread over time.
const EXPIRE_PER_WRITE: usize = 32;

/// A thread-safe in-process backend bounded by [`strata_eviction`] limits.
///
/// The embedded default when no Redis is configured, and the backend to use in tests. Clones
/// share the same entries. TTLs are honoured on every read, and expired entries are purged a
/// few at a time on writes. Uses tokio's clock, so tests may pause time.
///
/// ```
/// # tokio_test_block_on(async {
/// use std::time::Duration;
/// use strata_backend::{Backend, MemoryBackend, MemoryConfig};
///
/// let backend = MemoryBackend::new(MemoryConfig::default().with_namespace("app:"))?;
/// backend.set("app:user:1", "ada".into(), Duration::from_secs(60)).await?;
/// assert_eq!(backend.get("app:user:1").await?.as_deref(), Some(&b"ada"[..]));
/// # Ok::<(), strata_backend::BackendError>(())
/// # }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MemoryBackend {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: MemoryConfig,
    origin: Instant,
    state: Mutex<State>,
}

impl MemoryBackend {
    /// A backend with `config`; fails on an empty namespace.
    pub fn new(config: MemoryConfig) -> BackendResult<Self> {
        check_namespace(&config.namespace)?;
        let evictor = match config.seed {
            Some(seed) => Evictor::with_seed(config.policy, config.limits, seed),
            None => Evictor::new(config.policy, config.limits),
        };
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                origin: Instant::now(),
                state: Mutex::new(State {
                    map: HashMap::new(),
                    evictor,
                    evictions: 0,
                    expirations: 0,
                    leases: HashMap::new(),
                    versions: HashMap::new(),
                    version_changes: CounterChanges::new(),
                    registries: HashMap::new(),
                }),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MemoryConfig {
        &self.shared.config
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.shared.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn ttl_ms(ttl: Duration) -> u64 {
        // check_set guarantees at least 1 ms; round up so an entry never outlives less than asked.
        u64::try_from(ttl.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
    }

    fn insert(
        &self,
        state: &mut State,
        key: &str,
        value: Bytes,
        ttl: Duration,
        now_ms: u64,
    ) -> BackendResult<()> {
        let expires_at_ms = now_ms.saturating_add(Self::ttl_ms(ttl));
        let key: Arc<str> = match state.map.get_key_value(key) {
            Some((k, _)) => k.clone(),
            None => Arc::from(key),
        };
        let size = (key.len() + value.len()) as u64;
        let victims = state
            .evictor
            .insert(key.clone(), size, Some(expires_at_ms))
            .map_err(|e| match e {
                EvictionError::EntryTooLarge { .. } => BackendError::invalid_input(format!(
                    "entry {key:?} cannot be stored in the memory backend: {e}"
                )),
                other => BackendError::new(ErrorKind::Config, format!("memory backend: {other}")),
            })?;
        for v in victims {
            state.map.remove(&v);
            state.evictions += 1;
        }
        state.map.insert(
            key,
            Stored {
                value,
                expires_at_ms,
            },
        );
        Ok(())
    }

    fn purge_expired(state: &mut State, now_ms: u64) {
        for k in state.evictor.pop_expired(now_ms, EXPIRE_PER_WRITE) {
            state.map.remove(&k);
            state.expirations += 1;
        }
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn namespace(&self) -> &str {
        &self.shared.config.namespace
    }

    fn capabilities(&self) -> Capabilities {
        // No I/O: every operation ends at once.
        Capabilities::of(self).with_bounded(true)
    }

    async fn batch(&self, steps: Vec<Step>) -> BackendResult<Vec<Done>> {
        self.run_batch(steps).await
    }

    async fn get(&self, key: &str) -> BackendResult<Option<Bytes>> {
        check_key_in(&self.shared.config.namespace, key)?;
        let now = self.now_ms();
        let mut state = self.shared.state.lock();
        Ok(state.read(key, now))
    }

    async fn get_many(&self, keys: &[&str]) -> BackendResult<Vec<Option<Bytes>>> {
        keys.iter()
            .try_for_each(|k| check_key_in(&self.shared.config.namespace, k))?;
        let now = self.now_ms();
        let mut state = self.shared.state.lock();
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(state.read(key, now));
        }
        Ok(out)
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> BackendResult<()> {
        check_set_in(
            &self.shared.config.namespace,
            key,
            value.len(),
            ttl,
            self.shared.config.max_value_bytes,
        )?;
        let now = self.now_ms();
        let mut state = self.shared.state.lock();
        Self::purge_expired(&mut state, now);
        state.leases.remove(key);
        self.insert(&mut state, key, value, ttl, now)
    }

    async fn set_many(&self, entries: Vec<SetEntry>) -> BackendResult<()> {
        // Validate everything first, so a bad entry means nothing was written.
        for e in &entries {
            check_set_in(
                &self.shared.config.namespace,
                &e.key,
                e.value.len(),
                e.ttl,
                self.shared.config.max_value_bytes,
            )?;
        }
        let now = self.now_ms();
        let mut state = self.shared.state.lock();
        Self::purge_expired(&mut state, now);
        for e in entries {
            state.leases.remove(&e.key);
            self.insert(&mut state, &e.key, e.value, e.ttl, now)?;
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> BackendResult<bool> {
        check_key_in(&self.shared.config.namespace, key)?;
        let now = self.now_ms();
        let mut state = self.shared.state.lock();
        let existed = state.live(key, now).is_some();
        state.remove(key);
        state.leases.remove(key);
        Ok(existed)
    }

    async fn delete_many(&self, keys: &[&str]) -> BackendResult<u64> {
        keys.iter()
            .try_for_each(|k| check_key_in(&self.shared.config.namespace, k))?;
        let now = self.now_ms();
        let mut state = self.shared.state.lock();
        let mut n = 0;
        for key in keys {
            n += u64::from(state.live(key, now).is_some());
            state.remove(key);
            state.leases.remove(*key);
        }
        Ok(n)
    }

    async fn clear(&self) -> BackendResult<u64> {
        let ns = self.namespace();
        let mut state = self.shared.state.lock();
        let doomed: Vec<Arc<str>> = state
            .map
            .keys()
            .filter(|k| k.starts_with(ns))
            .cloned()
            .collect();
        for k in &doomed {
            state.remove(k);
        }
        state.leases.retain(|k, _| !k.starts_with(ns));
        state.remove_versions(ns);
        state.registries.retain(|k, _| !k.starts_with(ns));
        Ok(doomed.len() as u64)
    }

    async fn ttl(&self, key: &str) -> BackendResult<KeyTtl> {
        check_key_in(&self.shared.config.namespace, key)?;
        let now = self.now_ms();
        let mut state = self.shared.state.lock();
        Ok(match state.live(key, now) {
            Some(s) => KeyTtl::Expires(Duration::from_millis(s.expires_at_ms - now)),
            None => KeyTtl::Missing,
        })
    }

    async fn ping(&self) -> BackendResult<Duration> {
        let start = std::time::Instant::now();
        drop(self.shared.state.lock());
        Ok(start.elapsed())
    }

    async fn info(&self) -> BackendResult<BackendInfo> {
        let state = self.shared.state.lock();
        let mut info = BackendInfo::new("memory");
        let limits = state.evictor.limits();
        info.entries = Some(state.map.len() as u64);
        info.bytes_used = Some(state.evictor.bytes());
        info.max_bytes = limits.max_bytes;
        info.max_entries = limits.max_entries;
        info.eviction_policy = Some(state.evictor.policy().to_string());
        info.writes_fail_when_full = Some(false);
        info.evictions = Some(state.evictions);
        info.details
            .insert("expirations".into(), state.expirations.to_string());
        Ok(info)
    }

    fn as_leases(&self) -> Option<&dyn Leases> {
        Some(self)
    }

    fn as_version_counters(&self) -> Option<&dyn VersionCounters> {
        Some(self)
    }

    fn as_listing(&self) -> Option<&dyn Listing> {
        Some(self)
    }

    fn as_memory_usage(&self) -> Option<&dyn MemoryUsage> {
        Some(self)
    }
}
