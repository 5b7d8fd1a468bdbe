//! `POST warm/`: a kind warmed by name through its owned loader, over a real socket.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::StatusCode;
use serde_json::{Value, json};
use strata::CacheBuilder;
use strata_http::monitoring::{MonitoringConfig, mount, router};

const TOKEN: &str = "warm-token";

#[tokio::test]
async fn warm_loads_the_ids_not_cached_through_the_owned_loader() {
    let cache = CacheBuilder::new()
        .prefix("w")
        .metrics(false)
        .build()
        .await
        .unwrap();
    let jobs = cache.kind::<String>("job").unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let c = calls.clone();
    jobs.register_loader(move |id: String| {
        let c = c.clone();
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(Some(format!("job {id}")))
        }
    });
    jobs.set(1, "cached".into()).await.unwrap();
    let config = MonitoringConfig::default().with_admin_token(TOKEN);
    let url = common::serve(mount(
        axum::Router::new(),
        "/m",
        router(cache.clone(), config),
    ))
    .await;
    let post = |body: Value, token: Option<&str>| {
        let mut r = reqwest::Client::new()
            .post(format!("{url}/m/warm/"))
            .json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let r = post(json!({"kind": "job", "ids": [1, 2, "3", 3]}), None)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = post(json!({"kind": "job", "ids": [1, 2, "3", 3]}), Some(TOKEN))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (
            &body["total"],
            &body["cached"],
            &body["loaded"],
            &body["failed"]
        ),
        (&json!(3), &json!(1), &json!(2), &json!(0)),
        "{body}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(jobs.get(3).await.unwrap().unwrap().as_str(), "job 3");
    let r = post(json!({"kind": "user", "ids": [1]}), Some(TOKEN))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "no loader for the kind");
    let r = post(json!({"kind": "job", "ids": [[1]]}), Some(TOKEN))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}
