//! The backend tier's settings: `[backend]`, and the named backends of `[backends.<name>]`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use strata_eviction::EvictionPolicy;

/// Settings of the backend tier: Redis when a URL is given, else the embedded memory backend.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct BackendSettings {
    /// `redis://...` or `rediss://...`; unset means the embedded memory backend. `REDIS_URL`
    /// overrides it. With `cluster`, one or more comma-separated seed nodes.
    pub url: Option<String>,
    /// Redis: talk to a Redis Cluster through the seed node(s) of `url` (default false; needs
    /// the `cluster` feature, on by default).
    pub cluster: bool,
    /// Limit on connecting to Redis (default 2s).
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Largest value accepted (default 8 MiB).
    pub max_value_bytes: usize,
    /// Memory backend: byte budget (default 256 MiB).
    pub max_bytes: u64,
    /// Memory backend: entry cap (default none).
    pub max_entries: Option<u64>,
    /// Memory backend: eviction policy, "lru", "random" or "ttl" (default "lru").
    #[serde(with = "crate::config::serde_with::policy")]
    pub policy: EvictionPolicy,
    /// Redis backend: per-kind budgets enforced on the server (`[backend.quotas.user]
    /// max_entries = 100000, max_bytes = 50000000, policy = "lru"`); default none.
    pub quotas: BTreeMap<String, QuotaSettings>,
    /// Redis backend: L2 hits issued together (by concurrent requests) share one `MGET`, one
    /// per hash slot on a cluster (default true; see `strata_redis::RedisConfig::coalesce_reads`).
    pub coalesce_reads: bool,
}

/// One kind's budget on the Redis backend (see `strata_redis::Quota`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct QuotaSettings {
    /// Most entries of the kind (default: unlimited).
    #[serde(default)]
    pub max_entries: Option<u64>,
    /// Most bytes (key + value) of the kind (default: unlimited).
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// Which entry goes first: "lru", "random" or "ttl" (default "lru").
    #[serde(default, with = "crate::config::serde_with::policy")]
    pub policy: EvictionPolicy,
}

impl Default for BackendSettings {
    fn default() -> Self {
        Self {
            url: None,
            cluster: false,
            connect_timeout: Duration::from_secs(2),
            max_value_bytes: strata_codec::DEFAULT_MAX_VALUE_BYTES,
            max_bytes: strata_backend::DEFAULT_MEMORY_MAX_BYTES,
            max_entries: None,
            policy: EvictionPolicy::Lru,
            quotas: BTreeMap::new(),
            coalesce_reads: true,
        }
    }
}

impl std::fmt::Debug for BackendSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendSettings")
            .field("url", &self.url.as_deref().map(redact))
            .field("cluster", &self.cluster)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_value_bytes", &self.max_value_bytes)
            .field("max_bytes", &self.max_bytes)
            .field("max_entries", &self.max_entries)
            .field("policy", &self.policy)
            .field("quotas", &self.quotas)
            .field("coalesce_reads", &self.coalesce_reads)
            .finish()
    }
}

fn redact(url: &str) -> String {
    #[cfg(feature = "redis")]
    {
        strata_redis::redact_url(url)
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = url;
        "<redacted>".to_owned()
    }
}
