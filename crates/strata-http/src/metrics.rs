//! Prometheus: install the recorder and serve `/metrics`.

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use strata::Cache;

/// The buckets (upper bounds, in seconds) of every latency histogram: 25 µs to 10 s, so that
/// an L1 hit, a Redis round trip and a slow load each fall in buckets of their own. Histograms,
/// unlike summaries, add up across instances (`sum by (le)`).
pub const LATENCY_BUCKETS: [f64; 15] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 1.0, 10.0,
];

/// Installs a Prometheus recorder as the global `metrics` recorder (do it before building the
/// cache) and returns its handle; fails if another recorder is installed. Latencies are
/// histograms with [`LATENCY_BUCKETS`].
pub fn install_prometheus() -> Result<PrometheusHandle, String> {
    PrometheusBuilder::new()
        .set_buckets(&LATENCY_BUCKETS)
        .map_err(|e| format!("invalid latency buckets: {e}"))?
        .install_recorder()
        .map_err(|e| format!("could not install the Prometheus recorder: {e}"))
}

/// A router serving the handle's text exposition at `GET /metrics`.
pub fn metrics_router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    handle.render(),
                )
            }
        }),
    )
}

/// [`metrics_router`] that also publishes `cache`'s derived figures before each scrape: misses
/// by cause (`strata_cache_misses_by_cause_total{kind,tier,cause}`), the loader time the hits
/// saved (`strata_cache_load_time_saved_seconds{kind}`), entry sizes and ages read from L2
/// (`strata_cache_entry_mean_bytes`, `strata_cache_entries_by_size{kind,size}`,
/// `strata_cache_l2_entries_by_age{kind,age}`) and the estimated LRU hit ratio of L1
/// (`strata_cache_lru_hit_ratio_estimate{kind,size="0.25x".."4x"}`,
/// `strata_cache_mrc_sample_rate{kind}`). Bounded: no label names a key (hot keys are in the
/// JSON statistics only). The cache must emit metrics (`metrics = true`, the default).
pub fn metrics_router_for(handle: PrometheusHandle, cache: Cache) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let (handle, cache) = (handle.clone(), cache.clone());
            async move {
                // Taking a snapshot publishes the figures derived from it.
                let _ = cache.admin().stats();
                (
                    [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    handle.render(),
                )
            }
        }),
    )
}
