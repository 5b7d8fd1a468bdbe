//! The response cache reading arbitrary bytes under a request's key: it answers (a hit, or the
//! handler's response after a counted miss) with a complete body, and never panics.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use libfuzzer_sys::fuzz_target;
use strata::{Backend, MemoryBackend, MemoryConfig, ResponseKind};
use strata_http::ResponseCacheLayer;
use tower::ServiceExt;

struct App {
    rt: tokio::runtime::Runtime,
    router: Router,
    backend: Arc<MemoryBackend>,
    key: String,
}

fn setup() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let backend = Arc::new(MemoryBackend::new(MemoryConfig::default().with_namespace("fz:")).unwrap());
        let kind = ResponseKind::new("list").unwrap();
        let (router, key) = rt.block_on(async {
            let cache = strata::CacheBuilder::new()
                .prefix("fz")
                .metrics(false)
                .l1(false)
                .backend(backend.clone())
                .build()
                .await
                .unwrap();
            let key = cache.responses::<serde_json::Value>(&kind, Duration::from_secs(60)).key("/list").unwrap();
            let layer = ResponseCacheLayer::new(cache, kind, Duration::from_secs(60));
            let router = Router::new()
                .route("/list", get(|| async { axum::Json(serde_json::json!({"ok": true})) }))
                .layer(layer);
            (router, key.to_string())
        });
        App { rt, router, backend, key }
    })
}

fuzz_target!(|data: &[u8]| {
    let app = setup();
    app.rt.block_on(async {
        app.backend
            .set(&app.key, data.to_vec().into(), Duration::from_secs(60))
            .await
            .unwrap();
        for method in [http::Method::GET, http::Method::HEAD] {
            let request = http::Request::builder().method(method).uri("/list").body(Body::empty()).unwrap();
            // Whatever the bytes say (a foreign writer may store any status), an answer.
            let response = app.router.clone().oneshot(request).await.unwrap();
            let _ = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
        }
    });
});
