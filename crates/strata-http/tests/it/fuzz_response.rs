//! Fuzzing response-cache entries (time-bounded like `strata_testkit::fuzz`; the
//! coverage-guided target is `fuzz/fuzz_targets/response_entry.rs`): random and mutated bytes
//! under a request's key always get a complete answer from the layer, never a panic.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use strata::{Backend, CacheBuilder, MemoryBackend, MemoryConfig, ResponseKind};
use strata_http::ResponseCacheLayer;
use strata_testkit::fuzz;
use tower::ServiceExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_response_cache_entries() {
    let backend =
        Arc::new(MemoryBackend::new(MemoryConfig::default().with_namespace("fr:")).unwrap());
    let cache = CacheBuilder::new()
        .prefix("fr")
        .metrics(false)
        .l1(false)
        .backend(backend.clone())
        .build()
        .await
        .unwrap();
    let kind = ResponseKind::new("list").unwrap();
    let key = cache
        .responses::<serde_json::Value>(&kind, Duration::from_secs(60))
        .key("/list")
        .unwrap()
        .to_string();
    let router = Router::new()
        .route(
            "/list",
            get(|| async { axum::Json(serde_json::json!({"ok": true})) }),
        )
        .layer(ResponseCacheLayer::new(
            cache,
            kind,
            Duration::from_secs(60),
        ));
    // A real entry to mutate: what the layer stores for the route.
    let first = router
        .clone()
        .oneshot(http::Request::get("/list").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(first.headers()["x-cache"], "MISS");
    let stored = backend.get(&key).await.unwrap().expect("stored").to_vec();

    let seed: u64 = rand::random();
    let mut rng = SmallRng::seed_from_u64(seed);
    let (start, budget, mut n) = (Instant::now(), fuzz::budget(), 0u64);
    while n == 0 || start.elapsed() < budget {
        let bytes = if rng.random_bool(0.2) {
            fuzz::bytes(&mut rng, 128)
        } else {
            fuzz::mutate(&mut rng, &stored)
        };
        backend
            .set(&key, bytes.clone().into(), Duration::from_secs(60))
            .await
            .unwrap();
        for method in [http::Method::GET, http::Method::HEAD] {
            let request = http::Request::builder()
                .method(method)
                .uri("/list")
                .body(Body::empty())
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            axum::body::to_bytes(response.into_body(), 1 << 24)
                .await
                .unwrap_or_else(|e| panic!("seed {seed}: body of {bytes:?}: {e}"));
        }
        n += 1;
    }
    eprintln!(
        "fuzz response-cache entries: {n} entries in {:?}",
        start.elapsed()
    );
}
