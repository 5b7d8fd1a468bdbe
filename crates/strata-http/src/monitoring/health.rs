//! `GET system-health/`: for load balancers; no token, no secrets.

use axum::Json;
use axum::extract::State as AxumState;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;

use super::State;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    l2: L2Health,
    l1: L1Health,
    /// Whether caching is on (the run-time switch, `POST caching/`).
    caching: bool,
    breaker: strata::BreakerState,
    /// Configuration that will hurt later, and errors counted since the previous check (they
    /// do not change the status).
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct L2Health {
    backend: &'static str,
    reachable: bool,
    /// The ping's round trip, in whole microseconds.
    latency_us: Option<u64>,
    server_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Backend errors counted since the previous health check, by kind (`timeout`,
    /// `out_of_memory`, `codec`, `circuit_open`, ...).
    errors_since_last_check: std::collections::BTreeMap<String, u64>,
    /// Invalidations made while the backend could not be reached, waiting for a replay.
    deferred_changes: strata::DeferredStats,
}

#[derive(Serialize)]
struct L1Health {
    enabled: bool,
    entries: u64,
}

pub(crate) async fn handler(AxumState(state): AxumState<State>) -> Response {
    let cache = &state.cache;
    let backend = cache.backend();
    // Through the breaker first: a recovered backend closes an open circuit here.
    let _ = tokio::time::timeout(state.config.health_timeout, cache.probe_backend()).await;
    let ping = tokio::time::timeout(state.config.health_timeout, backend.ping()).await;
    let (reachable, latency_us, error) = match ping {
        Ok(Ok(d)) => (
            true,
            Some(u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            None,
        ),
        // Only the error kind: messages could carry server addresses.
        Ok(Err(e)) => (false, None, Some(e.kind().to_string())),
        Err(_) => (false, None, Some("timeout".to_owned())),
    };
    let info = if reachable {
        cache.backend_info().await.ok()
    } else {
        None
    };
    let mut warnings = cache.warnings().to_vec();
    if !cache.enabled() {
        warnings.push("caching is off: every read goes to its loader (POST caching/ {\"enabled\": true} turns it back on)".to_owned());
    }
    if let Some(i) = &info {
        let quotas = i.details.keys().any(|k| k.starts_with("quota."));
        if i.backend == "redis" && i.eviction_policy.as_deref() == Some("noeviction") && !quotas {
            warnings.push(
                "Redis maxmemory-policy is noeviction and no kind has a quota: when memory fills, \
                 cache writes fail; set maxmemory with allkeys-lru (or volatile-ttl), or give \
                 the kinds quotas ([backend.quotas.<kind>])"
                    .to_owned(),
            );
        }
        if i.backend == "redis" && i.max_bytes == Some(0) {
            warnings.push("Redis maxmemory is 0 (unlimited): the cache can grow until the host runs out of memory".to_owned());
        }
    }
    let errors_since_last_check = errors_since_last_check(&state);
    for (kind, n) in &errors_since_last_check {
        match kind.as_str() {
            "out_of_memory" => warnings.push(format!(
                "{n} cache writes refused by a full Redis since the last check (maxmemory reached with noeviction)"
            )),
            "codec" => warnings.push(format!(
                "{n} undecodable entries since the last check (counted, deleted, reloaded)"
            )),
            "timeout" => warnings.push(format!(
                "{n} backend calls timed out since the last check"
            )),
            _ => {}
        }
    }
    let deferred_changes = cache.deferred_changes();
    if deferred_changes.queued > 0 {
        warnings.push(format!(
            "{} invalidations wait for the backend (replayed once it answers; until then other \
             instances may serve what they invalidate)",
            deferred_changes.queued
        ));
    }
    if deferred_changes.overflows > 0 {
        warnings.push(format!(
            "the deferred-invalidation queue overflowed {} times: invalidations were lost (this \
             instance flushed its L1; raise max_deferred_changes)",
            deferred_changes.overflows
        ));
    }
    let server_version = info.and_then(|i| i.server_version);
    let breaker = cache.breaker_state();
    let l1_enabled = cache.l1().is_some();
    // Reads fail open, so an unreachable backend only degrades the service (answers come from
    // the loader); only in strict mode, where backend failures reach callers, is it down.
    let status = match (reachable, breaker) {
        (true, strata::BreakerState::Closed) => "ok",
        (false, _) if cache.config().strict => "down",
        _ => "degraded",
    };
    let entries = match cache.l1() {
        Some(l1) => l1.usage().await.entries,
        None => 0,
    };
    let body = Health {
        status,
        l2: L2Health {
            backend: backend.name(),
            reachable,
            latency_us,
            server_version,
            error,
            errors_since_last_check,
            deferred_changes,
        },
        l1: L1Health {
            enabled: l1_enabled,
            entries,
        },
        caching: cache.enabled(),
        breaker,
        warnings,
    };
    let code = if status == "down" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(body)).into_response()
}

/// The L2 errors counted since the previous call, by error kind (the first call counts from
/// the router's creation).
fn errors_since_last_check(state: &State) -> std::collections::BTreeMap<String, u64> {
    let now = state.cache.stats().totals.l2.errors;
    let Ok(mut last) = state.last_errors.lock() else {
        return std::collections::BTreeMap::new();
    };
    let delta = now
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.saturating_sub(last.get(k).copied().unwrap_or(0)),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    *last = now;
    delta
}
