//! The `axum` feature: handlers return `strata::Error` and `strata::LoadError<E>` with `?`;
//! `mount` takes a router with state; monitoring routes answer with and without a trailing
//! slash.

use crate::common;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use strata::{Cache, CacheBuilder, ErrorKind, MemoryBackend, MemoryConfig};
use strata_http::monitoring::{MonitoringConfig, mount, router};
use strata_testkit::Faults;

/// An application's own error type.
#[derive(Debug, Clone)]
struct NotFound(u64);

impl IntoResponse for NotFound {
    fn into_response(self) -> Response {
        (StatusCode::NOT_FOUND, format!("no product {}", self.0)).into_response()
    }
}

async fn product(
    State(cache): State<Cache>,
    Path(id): Path<u64>,
) -> Result<Json<u64>, strata::LoadError<NotFound>> {
    let products = cache.kind::<u64>("product")?;
    let value = products
        .get_or_load(id, || async move {
            if id < 100 {
                Ok(id * 2)
            } else {
                Err(NotFound(id))
            }
        })
        .await?;
    Ok(Json(*value))
}

async fn peek(
    State(cache): State<Cache>,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Json<Option<u64>>, strata::Error> {
    let value = cache.kind::<u64>(&kind)?.get(id).await?;
    Ok(Json(value.map(|v| *v)))
}

async fn app(strict: bool) -> (String, Faults) {
    let inner = MemoryBackend::new(MemoryConfig::default().with_namespace("glue:")).unwrap();
    let (faulty, faults) = Faults::wrap(inner);
    let cache = CacheBuilder::new()
        .prefix("glue")
        .metrics(false)
        .strict(strict)
        .l1(false)
        .breaker(0, std::time::Duration::from_secs(1))
        .backend(Arc::new(faulty))
        .build()
        .await
        .unwrap();
    // A router with state of its own: mount takes any state.
    let app: Router<Cache> = Router::new()
        .route("/products/{id}", get(product))
        .route("/peek/{kind}/{id}", get(peek));
    let app = mount(
        app,
        "/ops",
        router(cache.clone(), MonitoringConfig::default()),
    );
    (common::serve(app.with_state(cache)).await, faults)
}

async fn problem(url: &str) -> (StatusCode, Option<String>, Value) {
    let r = reqwest::get(url).await.unwrap();
    let status = r.status();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = r.text().await.unwrap();
    (
        status,
        content_type,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn errors_answer_as_problem_documents() {
    let (base, faults) = app(true).await;
    let (status, _, body) = problem(&format!("{base}/products/21")).await;
    assert_eq!((status, body), (StatusCode::OK, Value::from(42)));

    // The loader's error answers as the loader's type says.
    let (status, _, body) = problem(&format!("{base}/products/500")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, "no product 500");

    // A kind no key can be made of is the client's mistake.
    let (status, content_type, body) = problem(&format!("{base}/peek/bad%20kind/1")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert_eq!(body["status"], 400);

    // A failing backend in strict mode is unavailability, and says no more than its kind.
    faults.fail_always(ErrorKind::Connection);
    for path in ["/products/22", "/peek/product/22"] {
        let (status, content_type, body) = problem(&format!("{base}{path}")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert_eq!(content_type.as_deref(), Some("application/problem+json"));
        assert_eq!(body["title"], "Service Unavailable");
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains("connection") && !detail.contains("127.0.0.1"),
            "{detail}"
        );
    }
}

#[tokio::test]
async fn fail_open_reads_never_reach_the_handler_as_errors() {
    let (base, faults) = app(false).await;
    faults.fail_always(ErrorKind::Connection);
    let (status, _, body) = problem(&format!("{base}/products/7")).await;
    assert_eq!((status, body), (StatusCode::OK, Value::from(14)));
}

#[tokio::test]
async fn monitoring_routes_answer_with_and_without_the_trailing_slash() {
    let (base, _) = app(false).await;
    for path in ["/ops", "/ops/", "/ops/system-health", "/ops/system-health/"] {
        let r = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    let client = reqwest::Client::new();
    for path in ["/ops/cache-stats", "/ops/cache-stats/"] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "{path}: the route, not a 404"
        );
    }
    for path in ["/ops/clear-cache", "/ops/clear-cache/"] {
        let r = client
            .post(format!("{base}{path}"))
            .json(&serde_json::json!({"all": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "{path}: the route, not a 404"
        );
    }
}
