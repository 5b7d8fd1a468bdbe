//! The monitoring router: cache-stats, clear-cache, system-health and the dashboard.

mod auth;
mod body;
mod clear;
mod dashboard;
mod health;
mod stats;
mod switch;
mod warm;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use strata::Cache;

/// Settings of the monitoring routes. `Debug` hides the token.
#[derive(Clone)]
#[non_exhaustive]
pub struct MonitoringConfig {
    /// The admin token for cache-stats, clear-cache and the dashboard's data; `None` makes
    /// those routes answer 403.
    pub admin_token: Option<String>,
    /// Largest request body accepted (default 16 KiB); larger is 413.
    pub max_body_bytes: usize,
    /// Keys sampled to estimate per-kind backend bytes (default 100; bounded work).
    pub sample_keys: usize,
    /// Limit on the health check's backend ping (default 1 s).
    pub health_timeout: Duration,
}

impl std::fmt::Debug for MonitoringConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitoringConfig")
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .field("sample_keys", &self.sample_keys)
            .field("health_timeout", &self.health_timeout)
            .finish()
    }
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        Self {
            admin_token: None,
            max_body_bytes: 16 * 1024,
            sample_keys: 100,
            health_timeout: Duration::from_secs(1),
        }
    }
}

impl MonitoringConfig {
    /// The cache's configured admin token (`admin_token`, or `STRATA_ADMIN_TOKEN`).
    pub fn from_cache(cache: &Cache) -> Self {
        Self {
            admin_token: cache.admin().config().admin_token.clone(),
            ..Self::default()
        }
    }

    /// Sets the admin token.
    pub fn with_admin_token(mut self, token: impl Into<String>) -> Self {
        self.admin_token = Some(token.into());
        self
    }

    /// Sets the request body limit.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }
}

#[derive(Clone)]
pub(crate) struct State {
    pub(crate) cache: Cache,
    pub(crate) config: Arc<MonitoringConfig>,
    /// L2 error counts by error kind at the previous health check.
    pub(crate) last_errors: Arc<std::sync::Mutex<std::collections::BTreeMap<String, u64>>>,
}

/// The monitoring routes, to nest where the application likes (for example at
/// `/core/monitoring`):
///
/// - `GET  /` — the dashboard page (self-contained; asks for the token);
/// - `GET  /cache-stats/` — statistics, memory, age distribution, uptime (token);
/// - `POST /clear-cache/` — `{"kind": "user"}`, `{"key": "..."}` or `{"all": true}` (token);
/// - `GET  /system-health/` — `ok` / `warming` / `degraded` (200) or `down` (503); no token, no secrets;
/// - `GET  /caching/`, `POST /caching/` `{"enabled": false}` — the run-time switch that turns
///   caching off (loaders answer every read) and on again, on this instance (token);
/// - `POST /warm/` `{"kind": "job", "ids": [1, 2]}` — warms a kind through its owned loader
///   (`KindCache::register_loader`), answers the counts (token).
///
/// Every route answers with and without its trailing slash. Mount it with [`mount`] so the
/// dashboard also answers at the mount path with a trailing slash.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use strata_http::monitoring::{mount, router, MonitoringConfig};
///
/// let cache = strata::CacheBuilder::new().build().await.unwrap();
/// let app: axum::Router = mount(
///     axum::Router::new(),
///     "/core/monitoring",
///     router(cache.clone(), MonitoringConfig::from_cache(&cache)),
/// );
/// # });
/// ```
pub fn router(cache: Cache, config: MonitoringConfig) -> Router {
    let last_errors = Arc::new(std::sync::Mutex::new(
        cache.admin().stats().totals.l2.errors,
    ));
    let state = State {
        cache,
        config: Arc::new(config),
        last_errors,
    };
    let mut routes = Router::new().route("/", get(dashboard::page));
    for (path, route) in [
        ("/cache-stats", get(stats::handler)),
        ("/clear-cache", post(clear::handler)),
        ("/system-health", get(health::handler)),
        ("/caching", get(switch::show).post(switch::set)),
        ("/warm", post(warm::handler)),
    ] {
        routes = routes
            .route(path, route.clone())
            .route(&format!("{path}/"), route);
    }
    routes.fallback(dashboard::fallback).with_state(state)
}

/// Nests `monitoring` at `path` (e.g. `/core/monitoring`) in `app`, whatever `app`'s state
/// type, and serves the dashboard at both `path` and `path/` (axum's nesting matches only the
/// former).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use axum::{Router, extract::State, routing::get};
/// use strata_http::monitoring::{mount, router, MonitoringConfig};
///
/// #[derive(Clone)]
/// struct AppState { greeting: &'static str }
///
/// let cache = strata::CacheBuilder::new().build().await.unwrap();
/// let app: Router<AppState> = Router::new()
///     .route("/", get(|State(s): State<AppState>| async move { s.greeting }));
/// let app: Router = mount(app, "/ops", router(cache, MonitoringConfig::default()))
///     .with_state(AppState { greeting: "hello" });
/// # });
/// ```
pub fn mount<S>(app: Router<S>, path: &str, monitoring: Router) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let path = path.trim_end_matches('/');
    app.nest(path, monitoring.with_state(()))
        .route(&format!("{path}/"), get(dashboard::page))
}
