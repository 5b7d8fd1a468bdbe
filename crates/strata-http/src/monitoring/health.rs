//! `GET system-health/`: for load balancers; no token, no secrets.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State as AxumState;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;
use strata::{BackendInfo, BreakerState, Cache, WarmingState};

use super::State;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    l2: L2Health,
    l1: L1Health,
    /// Whether caching is on (the run-time switch, `POST caching/`).
    caching: bool,
    breaker: BreakerState,
    /// Whether this instance's L1 is confirmed coherent with the others (the mode, its
    /// channels' subscriptions and heartbeats).
    coherence: strata::CoherenceStats,
    /// The start-up warming (hot set): `not_started`, `warming` or `done`, and its counts.
    warming: WarmingBody,
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
    /// The kind of the ping's error (`timeout`, `connection`, `config` for rejected
    /// credentials or a missing database, ...), when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The last backend error seen (the check at start, or a later call), with its cause;
    /// it stays after a recovery.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<LastErrorBody>,
    /// Backend errors counted since the previous health check, by kind (`timeout`,
    /// `out_of_memory`, `codec`, `circuit_open`, ...).
    errors_since_last_check: BTreeMap<String, u64>,
    /// Invalidations made while the backend could not be reached, waiting for a replay.
    deferred_changes: strata::DeferredStats,
}

#[derive(Serialize)]
struct LastErrorBody {
    kind: &'static str,
    /// The cause; a Redis URL in it has its password redacted.
    message: String,
}

#[derive(Serialize)]
struct WarmingBody {
    state: &'static str,
    done: u64,
    total: u64,
    filled: u64,
}

fn warming(cache: &Cache) -> WarmingBody {
    let w = cache.admin().warming();
    WarmingBody {
        state: match w.state {
            WarmingState::NotStarted => "not_started",
            WarmingState::Warming => "warming",
            _ => "done",
        },
        done: w.done,
        total: w.total,
        filled: w.filled,
    }
}

#[derive(Serialize)]
struct L1Health {
    enabled: bool,
    entries: u64,
}

/// The ping's answer.
struct Ping {
    latency_us: Option<u64>,
    error: Option<String>,
}

pub(crate) async fn handler(AxumState(state): AxumState<State>) -> Response {
    let cache = &state.cache;
    let ping = ping(&state).await;
    let reachable = ping.error.is_none();
    let info = if reachable {
        cache.admin().backend_info().await.ok()
    } else {
        None
    };
    let errors_since_last_check = errors_since_last_check(&state);
    let mut warnings = cache.admin().warnings().to_vec();
    if !cache.enabled() {
        warnings.push("caching is off: every read goes to its loader (POST caching/ {\"enabled\": true} turns it back on)".to_owned());
    }
    warnings.extend(info.as_ref().map(backend_warnings).unwrap_or_default());
    warnings.extend(error_warnings(&errors_since_last_check));
    let deferred_changes = cache.admin().deferred_changes();
    warnings.extend(deferred_warnings(&deferred_changes));
    let coherence = cache.admin().coherence();
    if !coherence.subscribed || !coherence.verified {
        warnings.push(format!(
            "L1 coherence ({}) is not confirmed: {}; L1 entries are served only while recently read, the rest goes to L2",
            coherence.mode.as_str(),
            if coherence.subscribed { "heartbeats are not answered in time" } else { "a channel is not subscribed" }
        ));
    }
    let named_down = named_warnings(&state).await;
    let named_reachable = named_down.is_empty();
    warnings.extend(named_down);
    let breaker = cache.admin().breaker_state();
    let status = status(cache, reachable && named_reachable, breaker);
    let body = Health {
        status,
        l2: L2Health {
            backend: cache.admin().backend().name(),
            reachable,
            latency_us: ping.latency_us,
            server_version: info.and_then(|i| i.server_version),
            error: ping.error,
            last_error: cache.admin().last_backend_error().map(|e| LastErrorBody {
                kind: e.kind.as_str(),
                message: e.message,
            }),
            errors_since_last_check,
            deferred_changes,
        },
        l1: L1Health {
            enabled: cache.admin().l1().is_some(),
            entries: l1_entries(cache).await,
        },
        caching: cache.enabled(),
        breaker,
        coherence,
        warming: warming(cache),
        warnings,
    };
    let code = if status == "down" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(body)).into_response()
}

/// Pings the backend, through the breaker first (a recovered backend closes an open circuit
/// here), then directly for the round trip.
async fn ping(state: &State) -> Ping {
    let cache = &state.cache;
    let limit = state.config.health_timeout;
    let _ = tokio::time::timeout(limit, cache.admin().probe_backend()).await;
    match tokio::time::timeout(limit, cache.admin().backend().ping()).await {
        Ok(Ok(d)) => Ping {
            latency_us: Some(u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            error: None,
        },
        Ok(Err(e)) => Ping {
            latency_us: None,
            error: Some(e.kind().to_string()),
        },
        Err(_) => Ping {
            latency_us: None,
            error: Some("timeout".to_owned()),
        },
    }
}

/// One warning per named backend (`[backends.<name>]`, a routed kind's) that does not answer
/// a ping within the health timeout or whose circuit is not closed: its kinds then come from
/// their loaders, which degrades the service as the default backend's failure does.
async fn named_warnings(state: &State) -> Vec<String> {
    let admin = state.cache.admin();
    let mut out = Vec::new();
    for status in admin.backends().into_iter().skip(1) {
        let Some(backend) = admin.named_backend(&status.name) else {
            continue;
        };
        let ping = tokio::time::timeout(state.config.health_timeout, backend.ping()).await;
        let problem = match ping {
            Ok(Ok(_)) if status.breaker == BreakerState::Closed => continue,
            Ok(Ok(_)) => format!("its circuit is {:?}", status.breaker).to_lowercase(),
            Ok(Err(e)) => format!("it does not answer ({})", e.kind()),
            Err(_) => "it does not answer (timeout)".to_owned(),
        };
        out.push(format!(
            "backend `{}` (kinds: {}): {problem}; its kinds are served by their loaders",
            status.name,
            status.kinds.join(", ")
        ));
    }
    out
}

/// Reads fail open, so an unreachable backend only degrades the service (answers come from
/// the loader); only in strict mode, where backend failures reach callers, is it down.
/// `ok`, `warming` (as ok, while the start-up warming fills L1: still 200), `degraded` or
/// `down`.
fn status(cache: &Cache, reachable: bool, breaker: BreakerState) -> &'static str {
    match (reachable, breaker) {
        (true, BreakerState::Closed) if cache.admin().warming().state == WarmingState::Warming => {
            "warming"
        }
        (true, BreakerState::Closed) => "ok",
        (false, _) if cache.admin().config().strict => "down",
        _ => "degraded",
    }
}

/// What the backend's typed facts say will hurt later.
fn backend_warnings(info: &BackendInfo) -> Vec<String> {
    let mut warnings = Vec::new();
    if info.writes_fail_when_full == Some(true) {
        warnings.push(
            "Redis maxmemory-policy is noeviction and no kind has a quota: when memory fills, \
             cache writes fail; set maxmemory with allkeys-lru (or volatile-ttl), or give \
             the kinds quotas ([backend.quotas.<kind>])"
                .to_owned(),
        );
    }
    // Only a server reports 0, meaning no limit.
    if info.max_bytes == Some(0) {
        warnings.push("Redis maxmemory is 0 (unlimited): the cache can grow until the host runs out of memory".to_owned());
    }
    warnings
}

/// The errors counted since the previous check that deserve a sentence.
fn error_warnings(errors: &BTreeMap<String, u64>) -> Vec<String> {
    errors
        .iter()
        .filter_map(|(kind, n)| match kind.as_str() {
            "out_of_memory" => Some(format!(
                "{n} cache writes refused by a full Redis since the last check (maxmemory reached with noeviction)"
            )),
            "codec" => Some(format!(
                "{n} undecodable entries since the last check (counted, deleted, reloaded)"
            )),
            "timeout" => Some(format!("{n} backend calls timed out since the last check")),
            _ => None,
        })
        .collect()
}

/// What the deferred-invalidation queue holds or lost.
fn deferred_warnings(deferred: &strata::DeferredStats) -> Vec<String> {
    let mut warnings = Vec::new();
    if deferred.queued > 0 {
        warnings.push(format!(
            "{} invalidations wait for the backend (replayed once it answers; until then other \
             instances may serve what they invalidate)",
            deferred.queued
        ));
    }
    if deferred.overflows > 0 {
        warnings.push(format!(
            "the deferred-invalidation queue overflowed {} times: invalidations were lost (this \
             instance flushed its L1; raise max_deferred_changes)",
            deferred.overflows
        ));
    }
    warnings
}

/// The L2 errors counted since the previous call, by error kind (the first call counts from
/// the router's creation).
fn errors_since_last_check(state: &State) -> BTreeMap<String, u64> {
    let now = state.cache.admin().stats().totals.l2.errors;
    let Ok(mut last) = state.last_errors.lock() else {
        return BTreeMap::new();
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

/// The entries of every L1 store: the default pool and the kinds' partitions.
async fn l1_entries(cache: &Cache) -> u64 {
    let mut entries = match cache.admin().l1() {
        Some(l1) => l1.usage().await.entries,
        None => 0,
    };
    for (_, l1) in cache.admin().l1_partitions() {
        entries += l1.usage().await.entries;
    }
    entries
}
