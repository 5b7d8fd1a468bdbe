//! HTTP for Strata: the monitoring router (cache-stats, clear-cache, system-health, dashboard),
//! Prometheus metrics, and the response-caching layer.
//!
//! - [`monitoring::router`]: the original layer's `/core/monitoring/...` endpoints and a
//!   self-contained dashboard, as an axum `Router` to nest anywhere.
//! - [`metrics::install_prometheus`] and [`metrics::metrics_router`]: `/metrics` for Prometheus,
//!   with every cache statistic labelled by kind and tier.
//! - [`ResponseCacheLayer`]: the original `cache_api_response(timeout, key_prefix)` as a tower
//!   layer: GET responses cached per URL and per user, ETags, `X-Cache`, single flight.
//!
//! # Usage
//!
//! See [`monitoring::router`].
//!
//! # Feature flags
//!
//! None.

mod error;
pub mod metrics;
pub mod monitoring;
mod response_cache;

pub use response_cache::{KeyFn, ResponseCacheLayer, ResponseCacheService, X_CACHE};
