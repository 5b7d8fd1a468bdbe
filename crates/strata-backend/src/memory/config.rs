//! Configuration of the memory backend.

use strata_eviction::{EvictionPolicy, Limits};

use crate::validate::DEFAULT_MAX_VALUE_BYTES;

/// Default byte budget of the memory backend: 256 MiB of keys and values.
pub const DEFAULT_MEMORY_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// How a [`MemoryBackend`](crate::MemoryBackend) is bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryConfig {
    /// Keys owned by this backend start with it (default `"strata:"`).
    pub namespace: String,
    /// Entry and byte limits; an entry weighs its key length plus its value length.
    pub limits: Limits,
    /// Which entry leaves first when a limit is reached.
    pub policy: EvictionPolicy,
    /// Seed for [`EvictionPolicy::Random`], for repeatable runs (`None`: from the OS).
    pub seed: Option<u64>,
    /// The largest value accepted (default 8 MiB).
    pub max_value_bytes: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            namespace: "strata:".into(),
            limits: Limits::default().with_max_bytes(DEFAULT_MEMORY_MAX_BYTES),
            policy: EvictionPolicy::Lru,
            seed: None,
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
        }
    }
}

impl MemoryConfig {
    /// Sets the namespace.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Sets the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the eviction policy.
    pub fn with_policy(mut self, policy: EvictionPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Seeds the random policy.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets the largest accepted value.
    pub fn with_max_value_bytes(mut self, bytes: usize) -> Self {
        self.max_value_bytes = bytes;
        self
    }
}
