//! Response-cache isolation: with 50 users hitting the same URLs concurrently, no response is
//! ever served to a user other than the one it was computed for.

use crate::common;

use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use strata::CacheBuilder;
use strata_http::ResponseCacheLayer;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_users_never_see_each_others_responses() {
    let cache = CacheBuilder::new()
        .prefix("iso")
        .metrics(false)
        .build()
        .await
        .unwrap();
    let handler = |headers: HeaderMap| async move {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        let cookie = headers
            .get("cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        format!("private data of [{auth}] [{cookie}]")
    };
    let app = Router::new()
        .route("/me", get(handler))
        .route("/dashboard", get(handler))
        .layer(
            ResponseCacheLayer::new(
                cache,
                strata::ResponseKind::new("iso:").unwrap(),
                Duration::from_secs(60),
            )
            .content_types(["text/plain"]),
        );
    let base = common::serve(app).await;
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for round in 0..4 {
        for user in 0..50 {
            let (client, base) = (client.clone(), base.clone());
            tasks.push(tokio::spawn(async move {
                let path = if (user + round) % 2 == 0 {
                    "/me"
                } else {
                    "/dashboard"
                };
                // Half the users authenticate by bearer token, half by session cookie.
                let req = client.get(format!("{base}{path}"));
                let (req, expect) = if user % 2 == 0 {
                    (
                        req.bearer_auth(format!("token-{user}")),
                        format!("[Bearer token-{user}] [-]"),
                    )
                } else {
                    (
                        req.header("cookie", format!("session=s{user}")),
                        format!("[-] [session=s{user}]"),
                    )
                };
                let resp = req.send().await.unwrap();
                let x_cache = resp
                    .headers()
                    .get("x-cache")
                    .map(|v| v.to_str().unwrap().to_owned());
                let body = resp.text().await.unwrap();
                assert!(
                    body.ends_with(&expect),
                    "user {user} got someone else's response ({x_cache:?}): {body}"
                );
                x_cache
            }));
        }
    }
    let mut hits = 0;
    for t in futures::future::join_all(tasks).await {
        hits += usize::from(t.unwrap().as_deref() == Some("HIT"));
    }
    assert!(hits > 0, "responses were cached and reused per user");
}
