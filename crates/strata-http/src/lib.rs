//! HTTP for Strata: the monitoring router (cache-stats, clear-cache, system-health, dashboard),
//! Prometheus metrics, and the response-caching layer.
//!
//! - [`monitoring::router`]: `cache-stats`, `clear-cache`, `system-health`, the run-time
//!   `caching` switch and a self-contained dashboard, as an axum `Router` to nest anywhere.
//! - [`metrics::install_prometheus`] and [`metrics::metrics_router`] (or
//!   [`metrics::metrics_router_for`], with the analytics): `/metrics` for Prometheus,
//!   with every cache statistic labelled by kind and tier.
//! - [`ResponseCacheLayer`]: a tower layer caching whole GET responses per URL and per user,
//!   with ETags, `X-Cache` and single flight.
//! - [`serve`]: an HTTP/1 server for the app with bounded connections, header read time and
//!   shutdown time ([`ServeLimits`]).
//!
//! # Usage
//!
//! See [`monitoring::router`], and docs/getting-started.md for a whole service.
//!
//! # Feature flags
//!
//! - `axum` (default): axum's `IntoResponse` for `strata::Error` and `strata::LoadError<E>`
//!   (it turns on `strata/axum`), so handlers return them with `?`.

mod error;
pub mod metrics;
pub mod monitoring;
mod rendered;
mod response_cache;
mod serve;

pub use rendered::{CachedJson, RenderedJson, RendersJson};
pub use response_cache::{KeyFn, ResponseCacheLayer, ResponseCacheService, X_CACHE};
pub use serve::{ServeLimits, serve};

/// docs/getting-started.md, compiled and run as doc tests so the guide stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/getting-started.md")]
pub struct GettingStartedDoctests;

/// docs/testing.md, compiled and run as doc tests so the guide stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/testing.md")]
pub struct TestingDoctests;
