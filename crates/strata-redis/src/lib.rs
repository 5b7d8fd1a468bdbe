//! RedisBackend: the Strata backend on redis-rs, with automatic reconnect, timeouts and
//! prefix-scoped clears.
//!
//! [`RedisBackend`] implements [`strata_backend::Backend`] and its abilities (leases, version
//! counters, listing, memory usage) on a redis-rs `ConnectionManager` (one multiplexed
//! connection, reconnected with exponential backoff) or a Redis Cluster connection. On one
//! server reached by TCP or a Unix socket, single-key reads (`get`, the cache's L2 hits) take
//! a pipelined connection of their own, the read line: `GET`, or one `MGET` for the reads
//! issued together ([`RedisConfig::coalesce_reads`]), their replies parsed in place. Every
//! operation is bounded by a timeout; reads of many keys use `MGET`, writes of many keys one
//! pipeline (one per slot on a cluster); `clear` uses `SCAN` + `UNLINK` restricted to the
//! namespace. The Lua scripts are files under `lua/`, each with its KEYS and ARGV documented. URLs: `redis://`, `rediss://` (TLS, with the
//! `tls` feature), user and password in the URL or in [`RedisConfig::with_credentials`].
//!
//! # Usage
//!
//! ```no_run
//! use std::time::Duration;
//! use strata_backend::Backend;
//! use strata_redis::{RedisBackend, RedisConfig};
//!
//! # async fn demo() -> Result<(), strata_backend::BackendError> {
//! let config = RedisConfig::new("redis://127.0.0.1:6379/0")
//!     .with_namespace("shop:")
//!     .with_operation_timeout(Duration::from_millis(250));
//! let redis = RedisBackend::connect(config).await?;
//! redis.set("shop:v1:job:s1:7", "bytes".into(), Duration::from_secs(7200)).await?;
//! # Ok(()) }
//! ```
//!
//! # Feature flags
//!
//! - `tls`: `rediss://` URLs through rustls.
//! - `cluster`: Redis Cluster ([`RedisConfig::with_cluster`]) through redis-rs's async cluster
//!   connection.

mod abilities;
mod backend;
mod batch;
mod bus;
mod check;
mod coalesce;
mod config;
mod conn;
mod connect;
mod entries;
mod errors;
mod info;
mod push;
mod quota;
mod scripts;
mod server;
mod topology;
mod tracking;
mod usage;
mod wire;

pub use backend::RedisBackend;
pub use bus::RedisBus;
pub use config::{DEFAULT_REGISTRY_TTL, RedisConfig, redact_url};
pub use conn::RedisConnection;
pub use quota::{EvictionPolicy, Limits, Quota};
pub use server::server_policy;
pub use tracking::RedisTracker;
