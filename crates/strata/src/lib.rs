//! A typed two-tier cache for Rust web services: an in-process tier in front of Redis, MessagePack,
//! versioned keys, per-kind TTLs, single-flight loads, fail-safe serving.
//!
//! [`Cache`] keeps decoded values (`Arc<T>`) in an in-process tier and MessagePack envelopes in
//! a backend (Redis, or the embedded memory backend when no Redis is configured). Reads fail
//! open: a slow, failing or garbled backend is a counted miss, never an error (unless strict);
//! a circuit breaker skips a failing backend and probes it to recover.
//!
//! Three ways to cache:
//!
//! - **model instances**: `cache.kind::<T>("user")?.set(id, data)`, `.get(id)`, `.delete(id)`,
//!   or the typed shortcuts `cache.get::<User>(id)` for [`Cacheable`] types;
//! - **function results**: `#[strata::cached(ttl = "24h", prefix = "industry:")]` on an async fn
//!   whose first argument is the `&Cache`;
//! - **API responses**: [`Cache::responses`], the hook of the HTTP layer's response cache.
//!
//! # Usage
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use strata::{CacheBuilder, Cacheable};
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize, Cacheable)]
//! #[cacheable(kind = "user", schema = 2)]
//! struct User { id: u64, name: String }
//!
//! let cache = CacheBuilder::new().prefix("shop").build().await?;
//! let user = cache
//!     .get_or_load(42, || async { Ok::<_, std::io::Error>(User { id: 42, name: "Ada".into() }) })
//!     .await?;
//! assert_eq!(user.name, "Ada");
//! assert!(cache.get::<User>(42).await?.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Feature flags
//!
//! - `redis` (default): the Redis backend, chosen when `REDIS_URL` or `[backend] url` is set.
//! - `macros` (default): `#[derive(Cacheable)]` and `#[cached]`.
//! - `tls`: `rediss://` URLs, through rustls.
//! - `cluster`: Redis Cluster (`[backend] cluster = true`; on by default in strata-redis, so
//!   the `redis` feature brings it).
//! - `axum`: axum's `IntoResponse` for [`Error`] and [`LoadError`] (problem+json bodies; a
//!   loader's error answers as its own `IntoResponse`), so handlers return them with `?`.

mod admin;
mod analytics;
mod backends;
mod batch_loader;
mod builder;
mod bus;
mod cache;
mod cacheable;
mod change;
mod coherence;
mod config;
mod core;
mod deferred;
mod entry;
mod error;
mod flight;
mod forget;
mod generation;
mod hot_set;
#[cfg(feature = "axum")]
mod into_response;
mod invalidate;
mod kind;
mod kinds;
mod l2;
mod l2_read;
mod listener;
mod load;
mod local;
mod open;
mod options;
mod owned;
mod pools;
mod read;
mod relations;
mod response_kind;
mod tag_table;
mod trace;
mod versions;
mod warm;
mod warming;
mod write;

pub use admin::Admin;
pub use backends::{BackendStatus, DEFAULT_BACKEND};
pub use batch_loader::BatchLoader;
pub use builder::CacheBuilder;
pub use bus::BusStats;
pub use cache::Cache;
pub use cacheable::{CacheKind, CacheValue, Cacheable};
pub use coherence::{CoherenceMode, CoherenceStats};
pub use config::{
    AnalyticsSettings, BackendSettings, BreakerSettings, CacheConfig, HotKeySettings, KindSettings,
    L1Budget, L1Settings, QuotaSettings, TOOL_VARIABLES, WarmSettings,
};
pub use deferred::DeferredStats;
pub use error::{ConfigError, ConfigProblem, Error, LoadError};
pub use invalidate::Invalidated;
pub use kind::KindCache;
pub use load::Load;
pub use options::LoadOptions;
pub use response_kind::ResponseKind;
pub use warm::{WarmOptions, WarmProgress};
pub use warming::{WarmingState, WarmingStatus};

// The names a cache user needs, at the root.
pub use strata_backend::{
    Backend, BackendError, BackendInfo, BreakerState, Clock, ErrorKind, KeyTtl, LastError, Listing,
    MemoryBackend, MemoryConfig, Operation,
};
pub use strata_codec::{Codec, EntryMeta, MsgPackCodec};
pub use strata_eviction::{EvictionPolicy, Limits};
pub use strata_invalidation::{Rules, Target, UnknownChange};
pub use strata_keys::{Key, KeyId, KeySpace, KindName, is_internal_kind};
pub use strata_l1::{L1, L1Usage};
#[cfg(feature = "macros")]
pub use strata_macros::{Cacheable, cached};
#[cfg(feature = "redis")]
pub use strata_redis::{RedisBackend, RedisBus, RedisConfig, RedisTracker, redact_url};
pub use strata_stats::{HOT_KEYS_REPORTED, HotKey, KindSnapshot, StatsSnapshot, Tier};

/// The layers, whole: the second tier's trait, its abilities, layers and batches
/// (`strata::backend::batch::Batch`), the envelope codec, key building, eviction policies,
/// invalidation rules and the bus, and the statistics.
pub mod layers {
    pub use strata_backend as backend;
    pub use strata_codec as codec;
    pub use strata_eviction as eviction;
    pub use strata_invalidation as invalidation;
    pub use strata_keys as keys;
    #[cfg(feature = "redis")]
    pub use strata_redis as redis;
    pub use strata_stats as stats;
}
#[cfg(feature = "redis")]
pub use layers::redis;
pub use layers::{backend, codec, eviction, invalidation, keys, stats};

#[doc(hidden)]
pub mod __private {
    //! Used by the macros' generated code; not a public API.
    pub use serde;
}
