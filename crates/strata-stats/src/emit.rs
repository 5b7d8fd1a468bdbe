//! `Emitters`: a kind's handles into the global `metrics` recorder.

use crate::tier::{TIERS, Tier};

/// Handles into the global `metrics` recorder, created once per kind.
#[derive(Debug)]
pub(crate) struct Emitters {
    pub(crate) hits: [metrics::Counter; 2],
    pub(crate) misses: [metrics::Counter; 2],
    pub(crate) evictions: [metrics::Counter; 2],
    pub(crate) latency: [metrics::Histogram; 2],
    pub(crate) stale_hits: metrics::Counter,
    pub(crate) loads: metrics::Counter,
    pub(crate) load_errors: metrics::Counter,
    pub(crate) load_latency: metrics::Histogram,
    pub(crate) sets: metrics::Counter,
    pub(crate) deletes: metrics::Counter,
    pub(crate) requests_missed: metrics::Counter,
}

impl Emitters {
    pub(crate) fn new(kind: &str) -> Self {
        let k = kind.to_owned();
        let tiered_counter = |name: &'static str| {
            TIERS.map(|t| metrics::counter!(name, "kind" => k.clone(), "tier" => t.as_str()))
        };
        Self {
            hits: tiered_counter("strata_cache_hits_total"),
            misses: tiered_counter("strata_cache_misses_total"),
            evictions: tiered_counter("strata_cache_evictions_total"),
            latency: TIERS.map(|t: Tier| {
                metrics::histogram!("strata_cache_latency_seconds", "kind" => k.clone(), "tier" => t.as_str())
            }),
            stale_hits: metrics::counter!("strata_cache_stale_hits_total", "kind" => k.clone()),
            loads: metrics::counter!("strata_cache_loads_total", "kind" => k.clone()),
            load_errors: metrics::counter!("strata_cache_load_errors_total", "kind" => k.clone()),
            load_latency: metrics::histogram!("strata_cache_load_seconds", "kind" => k.clone()),
            sets: metrics::counter!("strata_cache_sets_total", "kind" => k.clone()),
            deletes: metrics::counter!("strata_cache_deletes_total", "kind" => k.clone()),
            requests_missed: metrics::counter!("strata_cache_requests_missed_total", "kind" => k),
        }
    }
}
