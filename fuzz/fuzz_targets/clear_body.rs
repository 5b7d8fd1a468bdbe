//! The clear-cache route on arbitrary bodies: always a JSON answer below 500.
#![no_main]

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use libfuzzer_sys::fuzz_target;
use strata_http::monitoring::{MonitoringConfig, router};
use tower::ServiceExt;

fn setup() -> &'static (tokio::runtime::Runtime, Router) {
    static APP: OnceLock<(tokio::runtime::Runtime, Router)> = OnceLock::new();
    APP.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let cache = rt.block_on(async {
            let cache = strata::CacheBuilder::new().prefix("fz").metrics(false).build().await.unwrap();
            cache.kind::<u32>("user").unwrap().set(1, 1).await.unwrap();
            cache
        });
        let config = MonitoringConfig::default().with_admin_token("fuzz").with_max_body_bytes(4096);
        (rt, router(cache, config))
    })
}

fuzz_target!(|data: &[u8]| {
    let (rt, app) = setup();
    let request = http::Request::post("/clear-cache/")
        .header("authorization", "Bearer fuzz")
        .header("content-type", "application/json")
        .body(Body::from(data.to_vec()))
        .unwrap();
    let response = rt.block_on(app.clone().oneshot(request)).unwrap();
    assert!(response.status().as_u16() < 500, "{} for {data:?}", response.status());
    let json = response
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    assert!(json, "not JSON for {data:?}");
});
