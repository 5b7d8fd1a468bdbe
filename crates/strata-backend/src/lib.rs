//! The Strata `Backend` trait, its error kinds, and the bounded in-memory backend.
//!
//! This crate is the small, stable boundary between the cache and its second tier: the
//! [`Backend`] trait (object safe, `Arc<dyn Backend>`) with its optional abilities ([`Leases`],
//! [`VersionCounters`], [`Listing`], [`MemoryUsage`]), the shared [`BackendError`] with
//! [`ErrorKind`] and [`is_transient`](BackendError::is_transient), the input checks every
//! backend applies, [`MemoryBackend`] (the embedded default), layers that wrap any backend
//! ([`Timeout`], [`CircuitBreaker`], your own [`Wrap`]), and the [`Clock`]. The invalidation bus
//! lives in `strata-invalidation`. Redis lives in `strata-redis`; the conformance suite every backend passes, and a
//! fault-injecting layer, live in `strata-testkit`.
//!
//! # Usage
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use strata_backend::{Backend, ErrorKind, MemoryBackend, MemoryConfig};
//! use strata_eviction::{EvictionPolicy, Limits};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let config = MemoryConfig::default()
//!     .with_namespace("shop:")
//!     .with_policy(EvictionPolicy::Lru)
//!     .with_limits(Limits::default().with_max_entries(10_000).with_max_bytes(64 << 20));
//! let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new(config)?);
//!
//! backend.set("shop:job:1", "bytes".into(), Duration::from_secs(7200)).await?;
//! assert!(backend.get("shop:job:1").await?.is_some());
//!
//! // Bad input never reaches storage, and the error names the problem.
//! let err = backend.set("shop:job:2", "x".into(), Duration::ZERO).await.unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::InvalidInput);
//! assert!(err.to_string().contains("TTL of zero"));
//! # Ok::<(), strata_backend::BackendError>(())
//! # }).unwrap();
//! ```
//!
//! # Feature flags
//!
//! None.

mod abilities;
mod backend;
pub mod batch;
mod capabilities;
mod clock;
mod error;
mod layer;
mod limit;
mod memory;
mod operation;
mod types;
mod validate;

pub use abilities::{CounterChanges, Leases, Listing, MemoryUsage, Publisher, VersionCounters};
pub use backend::Backend;
pub use capabilities::Capabilities;
pub use clock::{Clock, wall_clock_ms, wall_clock_us};
pub use error::{BackendError, BackendResult, ErrorKind};
pub use layer::{BreakerState, CircuitBreaker, LastError, LayerExt, Layered, Timeout, Wrap};
pub use limit::{limit_or, within_limit};
pub use memory::{DEFAULT_MEMORY_MAX_BYTES, MemoryBackend, MemoryConfig};
pub use operation::Operation;
pub use types::{BackendInfo, KeyTtl, ScanPage, SetEntry};
pub use validate::{
    DEFAULT_MAX_VALUE_BYTES, DEFAULT_OPERATION_TIMEOUT, MAX_KEY_LEN, NAMESPACE_SEPARATOR,
    check_key, check_key_in, check_namespace, check_set, check_set_in,
};

pub use async_trait::async_trait;
pub use bytes::Bytes;
