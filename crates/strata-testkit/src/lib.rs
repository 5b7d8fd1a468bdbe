//! Test doubles for Strata: the backend conformance suite, a fault-injecting backend, and
//! `redis-server` spawners.
//!
//! - [`conformance`]: one suite every [`Backend`](strata_backend::Backend) passes; expand
//!   [`backend_conformance!`] with your [`Fixture`](conformance::Fixture) to run it on yours.
//! - [`FaultyBackend`]: any backend wrapped in [`Faults`], which inject errors of a chosen kind,
//!   or latency, into chosen operations (leases and version counters included).
//! - [`RedisServer`]: a private `redis-server` on a free loopback port with a temporary
//!   directory and no persistence, killed on drop; stop, restart, pause and resume it to test
//!   faults. [`redis_or_skip`] reports a test as skipped when the binary is missing, and fails
//!   instead when `STRATA_REQUIRE_REDIS=1`.
//! - [`RoundTripProxy`]: a loopback TCP proxy in front of a server that counts client round
//!   trips (a burst of requests before any reply is one) and can add latency to each.
//! - [`RedisCluster`]: a private Redis Cluster (primaries with replicas) of such servers, made
//!   with `redis-cli --cluster create`; kill a primary to test failover.
//!
//! # Usage
//!
//! ```
//! use std::sync::Arc;
//! use strata_backend::{Backend, MemoryBackend, MemoryConfig};
//! use strata_testkit::conformance::Fixture;
//!
//! struct Memory;
//!
//! #[strata_backend::async_trait]
//! impl Fixture for Memory {
//!     async fn backend(&self, namespace: &str) -> Arc<dyn Backend> {
//!         Arc::new(MemoryBackend::new(MemoryConfig::default().with_namespace(namespace)).unwrap())
//!     }
//! }
//!
//! async fn fixture() -> Option<Memory> {
//!     Some(Memory)
//! }
//!
//! // In a test file: one #[tokio::test] per case.
//! strata_testkit::backend_conformance!(fixture);
//! # fn main() {}
//! ```
//!
//! # Feature flags
//!
//! None.

pub mod conformance;
mod faults;
pub mod fuzz;
mod own_process;
mod proxy;
mod redis_cluster;
mod redis_server;

pub use faults::{Faults, FaultyBackend};
pub use own_process::in_own_process;
pub use proxy::RoundTripProxy;
pub use redis_cluster::{RedisCluster, redis_cluster_or_skip};
pub use redis_server::{
    REQUIRE_REDIS_ENV, RedisServer, find_redis_server, redis_or_skip, redis_required,
    redis_with_args_or_skip,
};
pub use strata_backend::Operation;

/// The README's examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
