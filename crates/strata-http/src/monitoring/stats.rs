//! `GET cache-stats/`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State as AxumState;
use http::HeaderMap;
use serde::Serialize;
use strata::{Backend, BackendInfo, Key, StatsSnapshot};

use super::{State, auth};
use crate::error::ApiError;

#[derive(Serialize)]
struct StatsResponse {
    /// Whether caching is on (the run-time switch, `POST caching/`).
    caching: bool,
    #[serde(flatten)]
    stats: StatsSnapshot,
    memory: Memory,
    breaker: Breaker,
    bus: Option<BusInfo>,
    /// Invalidations made while the backend could not be reached (see
    /// `Admin::deferred_changes`).
    deferred_changes: strata::DeferredStats,
    /// Whether L1 is confirmed coherent (see `Admin::coherence`).
    coherence: strata::CoherenceStats,
    /// The backends, the default one first: each one's kinds (the kinds routed to it,
    /// `[kinds.<kind>] backend`), breaker and deferred changes (see `Admin::backends`).
    backends: Vec<strata::BackendStatus>,
}

#[derive(Serialize)]
struct BusInfo {
    kind: &'static str,
    #[serde(flatten)]
    stats: strata::BusStats,
}

#[derive(Serialize)]
struct Breaker {
    state: strata::BreakerState,
    openings: u64,
}

#[derive(Serialize)]
struct Memory {
    /// The default pool: the L1 store of every kind without a budget of its own.
    l1: Option<L1Memory>,
    /// The kinds' own L1 partitions (`[kinds.<kind>.l1]`), by kind: each one's budget and use.
    l1_partitions: BTreeMap<String, L1Memory>,
    /// The default backend's memory (`[backend]`).
    l2: L2Memory,
    /// Each named backend's (`[backends.<name>]`, where routed kinds live), by name.
    l2_backends: BTreeMap<String, L2Memory>,
}

#[derive(Serialize)]
struct L1Memory {
    entries: u64,
    weighted_bytes: u64,
    max_bytes: u64,
    max_entries: u64,
}

#[derive(Serialize)]
struct L2Memory {
    backend: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    bytes_used: Option<u64>,
    max_bytes: Option<u64>,
    eviction_policy: Option<String>,
    entries: Option<u64>,
    server_keys: Option<u64>,
    server_version: Option<String>,
    evictions: Option<u64>,
    /// Bytes per kind (Redis `MEMORY USAGE`) over a bounded sample of this cache's keys.
    sample: Sample,
}

#[derive(Serialize, Default)]
struct Sample {
    keys_sampled: usize,
    per_kind: BTreeMap<String, KindSample>,
}

#[derive(Serialize, Default)]
struct KindSample {
    keys: u64,
    bytes: u64,
}

pub(crate) async fn handler(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth::check(&headers, state.config.admin_token.as_deref())?;
    let cache = &state.cache;
    let l1 = match cache.admin().l1() {
        Some(l1) => Some(l1_memory(l1).await),
        None => None,
    };
    let mut l1_partitions = BTreeMap::new();
    for (kind, l1) in cache.admin().l1_partitions() {
        l1_partitions.insert(kind.to_owned(), l1_memory(l1).await);
    }
    let limit = state.config.sample_keys;
    let l2 = l2_memory(cache.admin().backend(), limit).await;
    let mut l2_backends = BTreeMap::new();
    for status in cache.admin().backends().into_iter().skip(1) {
        if let Some(backend) = cache.admin().named_backend(&status.name) {
            l2_backends.insert(status.name, l2_memory(backend, limit).await);
        }
    }
    let resp = StatsResponse {
        caching: cache.enabled(),
        stats: cache.admin().stats(),
        memory: Memory {
            l1,
            l1_partitions,
            l2,
            l2_backends,
        },
        breaker: Breaker {
            state: cache.admin().breaker_state(),
            openings: cache.admin().breaker_openings(),
        },
        bus: cache.admin().bus().map(|b| BusInfo {
            kind: b.name(),
            stats: cache.admin().bus_stats(),
        }),
        deferred_changes: cache.admin().deferred_changes(),
        coherence: cache.admin().coherence(),
        backends: cache.admin().backends(),
    };
    serde_json::to_value(resp).map(Json).map_err(|e| {
        ApiError::new(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not serialize statistics: {e}"),
        )
    })
}

/// The budget and use of one L1 store.
async fn l1_memory(l1: &strata::L1) -> L1Memory {
    let usage = l1.usage().await;
    L1Memory {
        entries: usage.entries,
        weighted_bytes: usage.weighted_bytes,
        max_bytes: l1.config().max_bytes,
        max_entries: l1.config().max_entries,
    }
}

/// The memory of `backend`: what it reports (sizes, limits, policy) and a sample of its keys.
async fn l2_memory(backend: &Arc<dyn Backend>, limit: usize) -> L2Memory {
    let (i, error) = match backend.info().await {
        Ok(i) => (i, None),
        Err(e) => (BackendInfo::default(), Some(e.to_string())),
    };
    L2Memory {
        backend: backend.name().to_owned(),
        error,
        bytes_used: i.bytes_used,
        max_bytes: i.max_bytes,
        eviction_policy: i.eviction_policy,
        entries: i.entries,
        server_keys: i.server_keys,
        server_version: i.server_version,
        evictions: i.evictions,
        sample: sample(backend, limit).await,
    }
}

/// Reads at most `limit` of this cache's keys in `backend` (SCAN pages) and sums their sizes by kind.
async fn sample(backend: &Arc<dyn Backend>, limit: usize) -> Sample {
    let mut out = Sample::default();
    let Some(listing) = backend.as_listing().filter(|_| limit > 0) else {
        return out;
    };
    let prefix = backend.namespace().to_owned();
    let mut cursor = None;
    // Bounded work: a few SCAN steps at most, even on a huge keyspace.
    for _ in 0..20 {
        let Ok(page) = listing.scan(&prefix, cursor, 200).await else {
            break;
        };
        let take: Vec<&str> = page
            .keys
            .iter()
            .take(limit - out.keys_sampled)
            .map(String::as_str)
            .collect();
        for k in &take {
            let kind = match Key::parse(k) {
                // Strata's own bookkeeping (version counters) is not a kind of the application.
                Ok(p) if strata::is_internal_kind(&p.kind) => continue,
                Ok(p) => p.kind,
                Err(_) => "(foreign)".into(),
            };
            // MEMORY USAGE where the backend has it (server bytes), else the value's length.
            let usage = match backend.as_memory_usage() {
                Some(usage) => usage.memory_usage(k).await,
                None => Err(strata::BackendError::unsupported(
                    backend.name(),
                    "memory_usage",
                )),
            };
            let bytes = match usage {
                Ok(n) => n.unwrap_or(0),
                Err(_) => backend
                    .get(k)
                    .await
                    .ok()
                    .flatten()
                    .map_or(0, |b| b.len() as u64),
            };
            let s = out.per_kind.entry(kind).or_default();
            s.keys += 1;
            s.bytes += bytes;
        }
        out.keys_sampled += take.len();
        cursor = page.next;
        if cursor.is_none() || out.keys_sampled >= limit {
            break;
        }
    }
    out
}
