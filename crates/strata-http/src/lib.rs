//! HTTP for Strata: the monitoring router (cache-stats, clear-cache, system-health, dashboard),
//! Prometheus metrics, and the response-caching layer.
//!
//! - [`monitoring::router`]: the original layer's `/core/monitoring/...` endpoints and a
//!   self-contained dashboard, as an axum `Router` to nest anywhere.
//! - [`metrics::install_prometheus`] and [`metrics::metrics_router`]: `/metrics` for Prometheus,
//!   with every cache statistic labelled by kind and tier.
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
